// TCP/UDP frames for the offload scenarios; see offload_frames.h.
#include "replay/offload_frames.h"

#include <span>

#include "mock_device/offload.h"

namespace vnet::replay {

namespace {

namespace mo = mock::offload;

void put16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  put16(p, v >> 16);
  put16(p + 2, v & 0xFFFF);
}

size_t l4_of(const L4FrameSpec& s) {
  return 14 + (s.ipv6 ? 40 : 20);
}

}  // namespace

size_t l4_headers(const L4FrameSpec& s) {
  return l4_of(s) + (s.udp ? 8 : 20);
}

std::vector<uint8_t> l4_frame(const L4FrameSpec& s, L4Checksum csum) {
  const size_t l4 = l4_of(s);
  std::vector<uint8_t> f(l4_headers(s) + s.payload, 0);
  for (size_t i = 0; i < 6; ++i) f[i] = s.dst[i];
  const uint8_t src[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
  for (size_t i = 0; i < 6; ++i) f[6 + i] = src[i];
  put16(&f[12], s.ipv6 ? 0x86DD : 0x0800);
  uint8_t* ip = &f[14];
  const uint8_t proto = s.udp ? mo::kProtoUdp : mo::kProtoTcp;
  if (s.ipv6) {
    ip[0] = 0x60;
    put16(ip + 4, static_cast<uint32_t>(f.size() - l4));
    ip[6] = proto;
    ip[7] = 64;
    for (int i = 0; i < 16; ++i) {
      ip[8 + i] = static_cast<uint8_t>(0x20 + i);
      ip[24 + i] = static_cast<uint8_t>(0x40 + i);
    }
  } else {
    ip[0] = 0x45;
    put16(ip + 2, static_cast<uint32_t>(f.size() - 14));
    put16(ip + 4, s.seq & 0xFFFF);
    put16(ip + 6, 0x4000);  // DF
    ip[8] = 64;
    ip[9] = proto;
    const uint8_t a[8] = {10, 0, 2, 15, 10, 0, 2, 2};
    for (size_t i = 0; i < 8; ++i) ip[12 + i] = a[i];
    put16(ip + 10, mo::ipv4_header_checksum(ip));
  }
  uint8_t* th = &f[l4];
  put16(th, 40000);
  put16(th + 2, 7);
  if (s.udp) {
    put16(th + 4, static_cast<uint32_t>(f.size() - l4));
  } else {
    put32(th + 4, s.seq);
    put32(th + 8, 1);
    th[12] = 5 << 4;
    th[13] = mo::kTcpAck | mo::kTcpPsh;
    put16(th + 14, 65535);
  }
  for (size_t i = l4_headers(s); i < f.size(); ++i)
    f[i] = static_cast<uint8_t>(s.seq * 7 + i * 13 + (i >> 9));
  const mo::Layout layout = mo::parse(std::span<const uint8_t>(f));
  if (csum == L4Checksum::kFull) {
    mo::set_l4_checksum(f.data(), f.size(), layout);
  } else {
    mo::Header h;
    mo::partial(f.data(), f.size(), layout, &h);
  }
  return f;
}

PacketOffload tx_offload_request(const L4FrameSpec& s, uint16_t gso_size) {
  PacketOffload o;
  o.csum = CsumState::kPartial;
  o.csum_start = static_cast<uint16_t>(l4_of(s));
  o.csum_offset = s.udp ? mo::kUdpCsumOffset : mo::kTcpCsumOffset;
  if (gso_size != 0) {
    o.gso = s.udp ? GsoKind::kUdp : s.ipv6 ? GsoKind::kTcp6 : GsoKind::kTcp4;
    o.gso_size = gso_size;
  }
  return o;
}

std::vector<std::vector<uint8_t>> tcp_segments(const L4FrameSpec& s, size_t total, size_t mss) {
  std::vector<std::vector<uint8_t>> out;
  for (size_t at = 0; at < total; at += mss) {
    L4FrameSpec seg = s;
    seg.udp = false;
    seg.payload = total - at < mss ? total - at : mss;
    seg.seq = static_cast<uint32_t>(s.seq + at);
    std::vector<uint8_t> f = l4_frame(seg, L4Checksum::kFull);
    if (at + mss < total) {
      // PSH only on the last segment, as a sender sets it (and GRO wants).
      const size_t l4 = l4_headers(seg) - 20;
      f[l4 + 13] = mo::kTcpAck;
      mo::set_l4_checksum(f.data(), f.size(), mo::parse(std::span<const uint8_t>(f)));
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace vnet::replay
