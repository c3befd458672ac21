#include "tools/trace2json/pcap_frames.h"

#include <pcap/pcap.h>
#include <string.h>

namespace trace2json {

FrameCursor::~FrameCursor() {
  if (p_ != nullptr) pcap_close(p_);
}

bool FrameCursor::open(const std::string& path, Direction dir, std::string* error) {
  char err[PCAP_ERRBUF_SIZE] = {};
  p_ = pcap_open_offline(path.c_str(), err);
  if (p_ == nullptr) {
    *error = path + ": " + err;
    return false;
  }
  if (pcap_datalink(p_) != DLT_EN10MB) {
    *error = path + ": link type " + std::to_string(pcap_datalink(p_)) + ", expected Ethernet";
    pcap_close(p_);
    p_ = nullptr;
    return false;
  }
  dir_ = dir;
  return true;
}

void FrameCursor::set_guest_mac(const uint8_t mac[6]) {
  memcpy(mac_, mac, 6);
  has_mac_ = true;
}

bool FrameCursor::next(std::vector<uint8_t>* frame) {
  if (p_ == nullptr || !has_mac_) return false;
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  for (;;) {
    int rc = pcap_next_ex(p_, &h, &data);
    if (rc != 1) return false;  // end of file or a cut record
    if (h->caplen < 12) continue;
    const bool from_guest = memcmp(data + 6, mac_, 6) == 0;
    if (from_guest != (dir_ == Direction::kFromGuest)) continue;
    if (h->caplen < h->len) ++truncated_;
    frame->assign(data, data + h->caplen);
    ++read_;
    return true;
  }
}

}  // namespace trace2json
