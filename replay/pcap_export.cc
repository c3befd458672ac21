#include "replay/pcap_export.h"

#include <pcap/pcap.h>

#include <memory>
#include <vector>

namespace vnet::replay {

namespace {

constexpr int kSnapLen = 65535;
constexpr uint32_t kDefaultHeader = 12;

struct PcapCloser {
  void operator()(pcap_t* p) const { pcap_close(p); }
};
struct DumperCloser {
  void operator()(pcap_dumper_t* d) const { pcap_dump_close(d); }
};

}  // namespace

bool export_pcap(const Trace& trace, const std::string& path, PcapStats* stats,
                 std::string* error) {
  std::unique_ptr<pcap_t, PcapCloser> pcap(pcap_open_dead(DLT_EN10MB, kSnapLen));
  if (!pcap) {
    *error = "libpcap: cannot create a capture handle";
    return false;
  }
  std::unique_ptr<pcap_dumper_t, DumperCloser> out(pcap_dump_open(pcap.get(), path.c_str()));
  if (!out) {
    *error = std::string("libpcap: ") + pcap_geterr(pcap.get());
    return false;
  }
  PcapStats s;
  uint32_t hdr = kDefaultHeader;
  std::vector<uint8_t> frame;
  auto dump = [&](size_t index, const uint8_t* data, size_t len) {
    pcap_pkthdr h{};
    h.ts.tv_sec = static_cast<time_t>(index / 1000000);
    h.ts.tv_usec = static_cast<suseconds_t>(index % 1000000);
    h.len = static_cast<bpf_u_int32>(len);
    h.caplen = static_cast<bpf_u_int32>(len < kSnapLen ? len : kSnapLen);
    pcap_dump(reinterpret_cast<u_char*>(out.get()), &h, data);
  };
  for (size_t i = 0; i < trace.events.size(); ++i) {
    const Event& e = trace.events[i];
    if (e.kind == EventKind::kRet) {
      const RetValues& r = trace.rets[e.u32];
      if (r.has_negotiated && r.hdr_size != 0) hdr = r.hdr_size;
    } else if (e.kind == EventKind::kFrame) {
      dump(i + 1, trace.data(e.data), e.data.len);
      ++s.rx_frames;
    } else if (e.kind == EventKind::kPublish) {
      frame.clear();
      bool readable = true;
      for (uint8_t k = 0; k < e.w8; ++k) {
        const Segment& seg = trace.segments[e.aux + k];
        if (seg.writable) readable = false;
        const uint8_t* p = trace.data(seg.data);
        frame.insert(frame.end(), p, p + seg.data.len);
      }
      if (!readable || frame.size() <= hdr) continue;  // rx buffers carry no frame yet
      dump(i + 1, frame.data() + hdr, frame.size() - hdr);
      ++s.tx_frames;
    }
  }
  pcap_dump_flush(out.get());
  if (stats != nullptr) *stats = s;
  return true;
}

}  // namespace vnet::replay
