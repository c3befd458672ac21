#include "tools/vnet-qemu/tap_capture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace vnetqemu {
namespace {

uint16_t be16(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

uint32_t sum16(uint32_t sum, const uint8_t* p, uint32_t n) {
  for (uint32_t i = 0; i + 1 < n; i += 2) sum += be16(p + i);
  if (n & 1) sum += uint32_t{p[n - 1]} << 8;
  return sum;
}

uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

void put32le(FILE* f, uint32_t v) {
  uint8_t b[4] = {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8),
                  static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 24)};
  fwrite(b, 1, 4, f);
}

}  // namespace

bool TapCapture::start(const std::string& ifname, uint32_t mtu, const std::string& pcap_path,
                       std::string* error) {
  mtu_ = mtu;
  fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd_ < 0) {
    *error = std::string("tap capture: socket(AF_PACKET): ") + strerror(errno) +
             " (needs CAP_NET_RAW: root)";
    return false;
  }
  int on = 1;
  setsockopt(fd_, SOL_PACKET, PACKET_AUXDATA, &on, sizeof(on));
  int rcvbuf = 8 << 20;
  setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (sll.sll_ifindex == 0 || bind(fd_, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) != 0) {
    *error = "tap capture: cannot bind to " + ifname + ": " + strerror(errno);
    close(fd_);
    fd_ = -1;
    return false;
  }
  if (!pcap_path.empty()) {
    pcap_ = fopen(pcap_path.c_str(), "wb");
    if (pcap_ == nullptr) {
      *error = "tap capture: cannot write " + pcap_path + ": " + strerror(errno);
      close(fd_);
      fd_ = -1;
      return false;
    }
    put32le(pcap_, 0xa1b2c3d4);  // microseconds
    put32le(pcap_, 0x00040002);  // version 2.4 (minor, major little-endian halves)
    put32le(pcap_, 0);
    put32le(pcap_, 0);
    put32le(pcap_, kSnapLen);
    put32le(pcap_, 1);  // LINKTYPE_ETHERNET
  }
  stop_ = false;
  thread_ = std::thread([this] { run(); });
  return true;
}

void TapCapture::stop() {
  if (thread_.joinable()) {
    stop_ = true;
    thread_.join();
  }
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  if (pcap_ != nullptr) fclose(pcap_);
  pcap_ = nullptr;
}

TapCaptureStats TapCapture::stats() {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void TapCapture::run() {
  uint8_t buf[kSnapLen];
  alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(tpacket_auxdata))];
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    for (;;) {
      sockaddr_ll from{};
      iovec iov{buf, sizeof(buf)};
      msghdr msg{};
      msg.msg_name = &from;
      msg.msg_namelen = sizeof(from);
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      ssize_t n = recvmsg(fd_, &msg, MSG_TRUNC | MSG_DONTWAIT);
      if (n < 0) break;
      uint32_t status = 0;
      uint32_t len = static_cast<uint32_t>(n);
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA) continue;
        tpacket_auxdata aux;
        memcpy(&aux, CMSG_DATA(c), sizeof(aux));
        status = aux.tp_status;
        len = aux.tp_len;
      }
      const uint32_t caplen = len < kSnapLen ? len : kSnapLen;
      count(buf, caplen, len, from.sll_pkttype == PACKET_OUTGOING, status);
      if (pcap_ != nullptr) {
        timeval tv{};
        gettimeofday(&tv, nullptr);
        put32le(pcap_, static_cast<uint32_t>(tv.tv_sec));
        put32le(pcap_, static_cast<uint32_t>(tv.tv_usec));
        put32le(pcap_, caplen);
        put32le(pcap_, len);
        fwrite(buf, 1, caplen, pcap_);
      }
    }
  }
}

void TapCapture::count(const uint8_t* f, uint32_t caplen, uint32_t len, bool outgoing,
                       uint32_t status) {
  std::lock_guard<std::mutex> lock(mutex_);
  const bool over = len > mtu_ + 14;
  if (outgoing) {
    ++stats_.to_guest;
    if (over) ++stats_.to_guest_over_mtu;
    if (len > stats_.to_guest_max) stats_.to_guest_max = len;
    return;
  }
  ++stats_.from_guest;
  if (over) ++stats_.from_guest_over_mtu;
  if (len > stats_.from_guest_max) stats_.from_guest_max = len;
  if (!(status & TP_STATUS_CSUMNOTREADY)) return;
  ++stats_.csum_not_ready;
  // IPv4/TCP: the field must hold the pseudo-header sum (addresses,
  // protocol, TCP length from the IPv4 total length), folded.
  if (caplen < 14 + 20 || be16(f + 12) != 0x0800 || (f[14] >> 4) != 4 || f[14 + 9] != 6) return;
  const uint32_t ihl = uint32_t{f[14] & 0x0fu} * 4;
  const uint32_t total = be16(f + 16);
  if (ihl < 20 || total < ihl + 20 || caplen < 14 + ihl + 18) return;
  uint8_t pseudo[12];
  memcpy(pseudo, f + 14 + 12, 8);
  pseudo[8] = 0;
  pseudo[9] = 6;
  pseudo[10] = static_cast<uint8_t>((total - ihl) >> 8);
  pseudo[11] = static_cast<uint8_t>(total - ihl);
  const uint16_t want = fold(sum16(0, pseudo, 12));
  const uint16_t field = be16(f + 14 + ihl + 16);
  // Ones' complement: 0x0000 and 0xffff are the same sum.
  if (field == want || (want == 0xffff && field == 0) || (want == 0 && field == 0xffff))
    ++stats_.csum_partial_ok;
  else
    ++stats_.csum_partial_bad;
}

}  // namespace vnetqemu
