#include "tools/vnet-vhost-device/link_peer.h"

#include <cstring>

namespace vnet::tools {
namespace {

constexpr size_t kEth = 14;
constexpr uint16_t kEtherArp = 0x0806;
constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kIdent = 0x7678;  // "vx": our echo requests' identifier
constexpr uint16_t kDhcpServerPort = 67;
constexpr uint16_t kDhcpClientPort = 68;
constexpr size_t kBootpFixed = 236;  // BOOTP's fixed part, before the options
constexpr uint8_t kDhcpMagic[4] = {99, 130, 83, 99};

uint16_t be16(const uint8_t* p) {
  return uint16_t(p[0] << 8 | p[1]);
}
void put16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}

uint16_t checksum(const uint8_t* p, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += be16(p + i);
  if (len & 1) sum += uint32_t(p[len - 1]) << 8;
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return uint16_t(~sum);
}

void ethernet(uint8_t* f, const uint8_t* dst, const uint8_t* src, uint16_t type) {
  std::memcpy(f, dst, 6);
  std::memcpy(f + 6, src, 6);
  put16(f + 12, type);
}

// An IPv4 header of 20 bytes carrying protocol proto (ICMP by default),
// total length total.
void ipv4(uint8_t* ip, const uint8_t* src, const uint8_t* dst, uint16_t total, uint8_t proto = 1) {
  ip[0] = 0x45;
  ip[1] = 0;
  put16(ip + 2, total);
  put16(ip + 4, 0);
  put16(ip + 6, 0x4000);  // DF
  ip[8] = 64;
  ip[9] = proto;
  put16(ip + 10, 0);
  std::memcpy(ip + 12, src, 4);
  std::memcpy(ip + 16, dst, 4);
  put16(ip + 10, checksum(ip, 20));
}

// An ARP frame (op 1 request, 2 reply) from our MAC to dst.
std::vector<uint8_t> arp(uint16_t op, const uint8_t* dst, const uint8_t* sender_mac,
                         const uint8_t* sender_ip, const uint8_t* target_mac,
                         const uint8_t* target_ip) {
  std::vector<uint8_t> r(kEth + 28, 0);
  ethernet(r.data(), dst, sender_mac, kEtherArp);
  uint8_t* o = r.data() + kEth;
  put16(o, 1);  // Ethernet
  put16(o + 2, kEtherIpv4);
  o[4] = 6;
  o[5] = 4;
  put16(o + 6, op);
  std::memcpy(o + 8, sender_mac, 6);
  std::memcpy(o + 14, sender_ip, 4);
  std::memcpy(o + 18, target_mac, 6);
  std::memcpy(o + 24, target_ip, 4);
  return r;
}

uint8_t payload_byte(uint16_t seq, size_t i) {
  return uint8_t(seq * 31 + i);
}

}  // namespace

LinkPeer::LinkPeer() = default;

void LinkPeer::queue(Frame f) {
  if (outbox_.size() >= kMaxOutbox) {
    outbox_.pop_front();
    ++counters_.outbox_dropped;
  }
  outbox_.push_back(std::move(f));
}

void LinkPeer::on_guest_frame(std::span<const uint8_t> frame) {
  ++counters_.guest_frames;
  if (frame.size() < kEth) {
    ++counters_.malformed;
    return;
  }
  const uint16_t type = be16(frame.data() + 12);
  if (type == kEtherArp) return on_arp(frame);
  if (type == kEtherIpv4) return on_ipv4(frame);
  ++counters_.other_frames;
}

void LinkPeer::on_arp(std::span<const uint8_t> frame) {
  if (frame.size() < kEth + 28) {
    ++counters_.malformed;
    return;
  }
  const uint8_t* a = frame.data() + kEth;
  if (be16(a) != 1 || be16(a + 2) != kEtherIpv4 || a[4] != 6 || a[5] != 4) {
    ++counters_.malformed;
    return;
  }
  const uint16_t op = be16(a + 6);
  const uint8_t* sender_mac = a + 8;
  const uint8_t* sender_ip = a + 14;
  const uint8_t* target_ip = a + 24;
  if (std::memcmp(sender_ip, guest_ip_.data(), 4) == 0) {
    std::memcpy(guest_mac_.data(), sender_mac, 6);
    guest_mac_known_ = true;
  }
  if (op != 1 || std::memcmp(target_ip, our_ip_.data(), 4) != 0) {
    if (op != 2) ++counters_.other_frames;
    return;
  }
  Frame r = arp(2, sender_mac, our_mac_.data(), our_ip_.data(), sender_mac, sender_ip);
  ++counters_.arp_requests_answered;
  queue(std::move(r));
}

void LinkPeer::on_ipv4(std::span<const uint8_t> frame) {
  const uint8_t* ip = frame.data() + kEth;
  const size_t avail = frame.size() - kEth;
  if (avail < 20 || (ip[0] >> 4) != 4) {
    ++counters_.malformed;
    return;
  }
  const size_t ihl = size_t(ip[0] & 0xF) * 4;
  const size_t total = be16(ip + 2);
  if (ihl < 20 || total < ihl || total > avail || checksum(ip, ihl) != 0) {
    ++counters_.malformed;
    return;
  }
  if (ip[9] == 17 && (be16(ip + 6) & 0x3FFF) == 0) return on_udp(frame, ip, ihl, total);
  if (ip[9] != 1 || std::memcmp(ip + 16, our_ip_.data(), 4) != 0 || (be16(ip + 6) & 0x3FFF)) {
    ++counters_.other_frames;
    return;
  }
  const uint8_t* icmp = ip + ihl;
  const size_t icmp_len = total - ihl;
  if (icmp_len < 8 || checksum(icmp, icmp_len) != 0) {
    ++counters_.malformed;
    return;
  }
  if (icmp[0] == 0 && be16(icmp + 4) == kIdent) {
    // An echo reply to one of our probes: its payload must be ours.
    const uint16_t seq = be16(icmp + 6);
    bool same = icmp_len == 8 + kPingPayload;
    for (size_t i = 0; same && i < kPingPayload; ++i) same = icmp[8 + i] == payload_byte(seq, i);
    ++(same ? counters_.ping_replies : counters_.ping_reply_bad);
    return;
  }
  if (icmp[0] != 8) {
    ++counters_.other_frames;
    return;
  }
  Frame r(kEth + 20 + icmp_len, 0);
  ethernet(r.data(), frame.data() + 6, our_mac_.data(), kEtherIpv4);
  ipv4(r.data() + kEth, our_ip_.data(), ip + 12, uint16_t(20 + icmp_len));
  uint8_t* o = r.data() + kEth + 20;
  std::memcpy(o, icmp, icmp_len);
  o[0] = 0;
  put16(o + 2, 0);
  put16(o + 2, checksum(o, icmp_len));
  ++counters_.guest_pings_answered;
  queue(std::move(r));
}

void LinkPeer::on_udp(std::span<const uint8_t> frame, const uint8_t* ip, size_t ihl, size_t total) {
  const uint8_t* udp = ip + ihl;
  const size_t udp_len = total - ihl;
  if (udp_len < 8 || be16(udp + 4) < 8 || be16(udp + 4) > udp_len) {
    ++counters_.malformed;
    return;
  }
  if (be16(udp) != kDhcpClientPort || be16(udp + 2) != kDhcpServerPort) {
    ++counters_.other_frames;
    return;
  }
  // BOOTP (RFC 951) with DHCP options (RFC 2131, 2132): op 1, Ethernet
  // addresses, the magic cookie, then options up to END; only message
  // types DISCOVER (1) and REQUEST (3) are answered.
  const uint8_t* b = udp + 8;
  const size_t blen = be16(udp + 4) - 8;
  if (blen < kBootpFixed + 4 || b[0] != 1 || b[1] != 1 || b[2] != 6 ||
      std::memcmp(b + kBootpFixed, kDhcpMagic, 4) != 0) {
    ++counters_.malformed;
    return;
  }
  int type = -1;
  for (size_t i = kBootpFixed + 4; i < blen;) {
    const uint8_t code = b[i];
    if (code == 255) break;
    if (code == 0) {
      ++i;
      continue;
    }
    if (i + 2 > blen || i + 2 + size_t(b[i + 1]) > blen) {
      ++counters_.malformed;
      return;
    }
    if (code == 53 && b[i + 1] == 1) type = b[i + 2];
    i += 2 + size_t(b[i + 1]);
  }
  if (type != 1 && type != 3) {
    ++counters_.other_frames;
    return;
  }
  const uint8_t reply_type = type == 1 ? 2 : 5;  // OFFER / ACK
  static const uint8_t kBroadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  static const uint8_t kAll[4] = {255, 255, 255, 255};
  const uint8_t options[] = {
      53,         1,          reply_type, 54,         4,   our_ip_[0], our_ip_[1], our_ip_[2],
      our_ip_[3], 51,         4,          0,          1,   0x51,       0x80,  // lease: 86400 s
      1,          4,          255,        255,        255, 0,          3,          4,
      our_ip_[0], our_ip_[1], our_ip_[2], our_ip_[3], 255};
  const size_t bootp_len = kBootpFixed + 4 + sizeof options;
  Frame r(kEth + 20 + 8 + bootp_len, 0);
  ethernet(r.data(), kBroadcast, our_mac_.data(), kEtherIpv4);
  uint8_t* rip = r.data() + kEth;
  ipv4(rip, our_ip_.data(), kAll, uint16_t(20 + 8 + bootp_len), 17);
  uint8_t* rudp = rip + 20;
  put16(rudp, kDhcpServerPort);
  put16(rudp + 2, kDhcpClientPort);
  put16(rudp + 4, uint16_t(8 + bootp_len));  // checksum 0: none (IPv4)
  uint8_t* o = rudp + 8;
  o[0] = 2;  // BOOTREPLY
  o[1] = 1;
  o[2] = 6;
  std::memcpy(o + 4, b + 4, 4);              // xid
  std::memcpy(o + 16, guest_ip_.data(), 4);  // yiaddr
  std::memcpy(o + 20, our_ip_.data(), 4);    // siaddr
  std::memcpy(o + 28, b + 28, 16);           // chaddr
  std::memcpy(o + kBootpFixed, kDhcpMagic, 4);
  std::memcpy(o + kBootpFixed + 4, options, sizeof options);
  std::memcpy(guest_mac_.data(), b + 28, 6);  // the client's MAC, for the probes
  guest_mac_known_ = true;
  ++(type == 1 ? counters_.dhcp_offers : counters_.dhcp_acks);
  queue(std::move(r));
}

void LinkPeer::probe() {
  static const uint8_t kBroadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  if (!guest_mac_known_) {
    static const uint8_t kUnknown[6] = {};
    Frame r = arp(1, kBroadcast, our_mac_.data(), our_ip_.data(), kUnknown, guest_ip_.data());
    ++counters_.arp_requests_sent;
    queue(std::move(r));
    return;
  }
  const uint16_t seq = ++ping_seq_;
  const size_t icmp_len = 8 + kPingPayload;
  Frame r(kEth + 20 + icmp_len, 0);
  ethernet(r.data(), guest_mac_.data(), our_mac_.data(), kEtherIpv4);
  ipv4(r.data() + kEth, our_ip_.data(), guest_ip_.data(), uint16_t(20 + icmp_len));
  uint8_t* o = r.data() + kEth + 20;
  o[0] = 8;
  put16(o + 4, kIdent);
  put16(o + 6, seq);
  for (size_t i = 0; i < kPingPayload; ++i) o[8 + i] = payload_byte(seq, i);
  put16(o + 2, checksum(o, icmp_len));
  ++counters_.pings_sent;
  queue(std::move(r));
}

}  // namespace vnet::tools
