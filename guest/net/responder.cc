#include "guest/net/responder.h"
#include "guest/net/byte_order.h"

namespace guest::net {
namespace {

constexpr uint16_t kEtherArp = 0x0806;
constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint32_t kTcpHeader = 20;
constexpr uint32_t kArpBody = 28;
constexpr uint32_t kIcmpHeader = 8;

void copy(uint8_t* dst, const uint8_t* src, uint32_t n) {
  __builtin_memmove(dst, src, n);
}

bool is_broadcast(const uint8_t* mac) {
  for (int i = 0; i < 6; ++i)
    if (mac[i] != 0xff) return false;
  return true;
}

}  // namespace

Responder::Responder(const uint8_t mac[6], uint32_t ip) : ip_(ip) {
  copy(mac_, mac, 6);
}

void Responder::set_tcp(TcpEcho* tcp) {
  tcp_ = tcp;
  if (tcp_ != nullptr) {
    tcp_->configure(mac_, ip_);
    tcp_->set_mtu(mtu_);
  }
}

void Responder::set_mac(const uint8_t mac[6]) {
  copy(mac_, mac, 6);
  if (tcp_ != nullptr) tcp_->configure(mac_, ip_);
}

void Responder::set_mtu(uint32_t mtu) {
  mtu_ = mtu < TcpEcho::kMinMtu   ? TcpEcho::kMinMtu
         : mtu > TcpEcho::kMaxMtu ? TcpEcho::kMaxMtu
                                  : mtu;
  if (tcp_ != nullptr) tcp_->set_mtu(mtu_);
}

uint32_t Responder::checksum_add(uint32_t sum, const uint8_t* data, uint32_t len) {
  uint64_t s = sum;
  uint32_t i = 0;
  for (; i + 1 < len; i += 2) s += be16(data + i);
  if (i < len) s += uint32_t{data[i]} << 8;
  while (s >> 32) s = (s & 0xffffffff) + (s >> 32);
  return static_cast<uint32_t>(s);
}

uint16_t Responder::checksum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

Verdict Responder::malformed() {
  ++counters_.malformed;
  return Verdict::kDrop;
}

Verdict Responder::handle(const uint8_t* frame, uint32_t len, uint8_t* out, uint32_t out_cap,
                          uint32_t* out_len, ControlRequest* control, const vnet::PacketOffload* rx,
                          SegmentOffload* tx_offload) {
  ++counters_.frames_in;
  *out_len = 0;
  if (tx_offload != nullptr) *tx_offload = SegmentOffload{};
  if (frame == nullptr || len < kEthHeader) return malformed();
  const uint8_t* dst = frame;
  // Not ours: only a UDP echo request is answered (handle_ipv4).
  const bool foreign = !is_broadcast(dst) && __builtin_memcmp(dst, mac_, 6) != 0;
  switch (be16(frame + 12)) {
    case kEtherArp:
      if (foreign) break;
      return handle_arp(frame, len, out, out_cap, out_len);
    case kEtherIpv4:
      return handle_ipv4(frame, len, out, out_cap, out_len, control, foreign, rx, tx_offload);
    default:
      break;
  }
  ++counters_.ignored;
  return Verdict::kDrop;
}

Verdict Responder::handle_arp(const uint8_t* frame, uint32_t len, uint8_t* out, uint32_t out_cap,
                              uint32_t* out_len) {
  if (len < kEthHeader + kArpBody) return malformed();
  const uint8_t* arp = frame + kEthHeader;
  if (be16(arp) != 1 || be16(arp + 2) != kEtherIpv4 || arp[4] != 6 || arp[5] != 4)
    return malformed();
  uint16_t op = be16(arp + 6);
  if (op != 1 && op != 2) return malformed();
  if (op != 1 || be32(arp + 24) != ip_) {
    ++counters_.ignored;
    return Verdict::kDrop;
  }
  const uint32_t reply_len = kEthHeader + kArpBody;
  if (out_cap < reply_len) {
    ++counters_.reply_too_big;
    return Verdict::kDrop;
  }
  copy(out, frame + 6, 6);  // to the requester
  copy(out + 6, mac_, 6);
  put16(out + 12, kEtherArp);
  uint8_t* r = out + kEthHeader;
  put16(r, 1);
  put16(r + 2, kEtherIpv4);
  r[4] = 6;
  r[5] = 4;
  put16(r + 6, 2);
  copy(r + 8, mac_, 6);  // sender: us
  put32(r + 14, ip_);
  copy(r + 18, arp + 8, 6);  // target: the requester
  copy(r + 24, arp + 14, 4);
  *out_len = reply_len;
  ++counters_.arp_replies;
  return Verdict::kReply;
}

// The device vouched for the frame's TCP/UDP checksum: verified, or left
// partial with the offsets naming exactly that checksum field.
bool Responder::l4_csum_trusted(const vnet::PacketOffload* rx, uint32_t l4_start, uint8_t proto) {
  if (rx == nullptr || (proto != kProtoTcp && proto != kProtoUdp)) return false;
  bool trusted = rx->csum == vnet::CsumState::kVerified;
  if (rx->csum == vnet::CsumState::kPartial)
    trusted = rx->csum_start == l4_start && rx->csum_offset == (proto == kProtoTcp ? 16 : 6);
  if (trusted) ++counters_.csum_trusted;
  return trusted;
}

Verdict Responder::handle_ipv4(const uint8_t* frame, uint32_t len, uint8_t* out, uint32_t out_cap,
                               uint32_t* out_len, ControlRequest* control, bool foreign_mac,
                               const vnet::PacketOffload* rx, SegmentOffload* tx_offload) {
  if (len < kEthHeader + kIpv4Header) return malformed();
  const uint8_t* ip = frame + kEthHeader;
  if ((ip[0] >> 4) != 4) return malformed();
  uint32_t ihl = uint32_t{ip[0] & 0x0fu} * 4;
  uint32_t total = be16(ip + 2);
  if (ihl < kIpv4Header || total < ihl || total > len - kEthHeader) return malformed();
  if (checksum_fold(checksum_add(0, ip, ihl)) != 0xffff) {
    ++counters_.bad_checksum;
    return malformed();
  }
  if (be32(ip + 16) != ip_) {
    ++counters_.ignored;
    return Verdict::kDrop;
  }
  uint16_t frag = be16(ip + 6);
  if ((frag & 0x2000) != 0 || (frag & 0x1fff) != 0) {  // MF or a fragment offset
    ++counters_.fragments;
    ++counters_.ignored;
    return Verdict::kDrop;
  }
  const uint8_t* l4 = ip + ihl;
  uint32_t l4_len = total - ihl;
  if (foreign_mac && ip[9] != kProtoUdp) {
    ++counters_.ignored;
    return Verdict::kDrop;
  }

  if (ip[9] == kProtoIcmp) {
    if (l4_len < kIcmpHeader) return malformed();
    if (checksum_fold(checksum_add(0, l4, l4_len)) != 0xffff) {
      ++counters_.bad_checksum;
      return malformed();
    }
    if (l4[0] != 8 || l4[1] != 0) {
      ++counters_.ignored;
      return Verdict::kDrop;
    }
    uint32_t reply_len = kEthHeader + kIpv4Header + l4_len;
    if (kIpv4Header + l4_len > mtu_) {
      ++counters_.reply_over_mtu;
      return Verdict::kDrop;
    }
    if (reply_len > out_cap) {
      ++counters_.reply_too_big;
      return Verdict::kDrop;
    }
    uint8_t* icmp = out + write_ipv4(out, frame, kProtoIcmp, l4_len);
    copy(icmp, l4, l4_len);
    icmp[0] = 0;  // echo reply
    icmp[2] = icmp[3] = 0;
    put16(icmp + 2, static_cast<uint16_t>(~checksum_fold(checksum_add(0, icmp, l4_len))));
    *out_len = reply_len;
    ++counters_.icmp_echo_replies;
    return Verdict::kReply;
  }

  if (ip[9] == kProtoTcp) {
    if (l4_len < kTcpHeader) return malformed();
    uint32_t doff = (uint32_t{l4[12]} >> 4) * 4;
    if (doff < kTcpHeader || doff > l4_len || l4_len > 0xffff) return malformed();
    uint8_t pseudo[12];
    copy(pseudo, ip + 12, 8);
    pseudo[8] = 0;
    pseudo[9] = kProtoTcp;
    put16(pseudo + 10, static_cast<uint16_t>(l4_len));
    if (!l4_csum_trusted(rx, kEthHeader + ihl, kProtoTcp) &&
        checksum_fold(checksum_add(checksum_add(0, pseudo, 12), l4, l4_len)) != 0xffff) {
      ++counters_.bad_checksum;
      return malformed();
    }
    if (tcp_ == nullptr) {
      ++counters_.ignored;
      return Verdict::kDrop;
    }
    TcpSegment seg;
    seg.peer_mac = frame + 6;
    seg.peer_ip = be32(ip + 12);
    seg.tcp = l4;
    seg.len = l4_len;
    TcpVerdict v = tcp_->input(seg, now_ns_, out, out_cap, out_len, tx_offload);
    if (v == TcpVerdict::kMalformed) return malformed();
    ++counters_.tcp_segments;
    return v == TcpVerdict::kReply ? Verdict::kReply : Verdict::kDrop;
  }

  if (ip[9] == kProtoUdp) {
    if (l4_len < kUdpHeader) return malformed();
    uint32_t udp_len = be16(l4 + 4);
    if (udp_len < kUdpHeader || udp_len > l4_len) return malformed();
    // Checksum present: verify with the pseudo header (unless the device did).
    if (be16(l4 + 6) != 0 && !l4_csum_trusted(rx, kEthHeader + ihl, kProtoUdp)) {
      uint8_t pseudo[12];
      copy(pseudo, ip + 12, 8);
      pseudo[8] = 0;
      pseudo[9] = kProtoUdp;
      put16(pseudo + 10, static_cast<uint16_t>(udp_len));
      uint32_t sum = checksum_add(checksum_add(0, pseudo, 12), l4, udp_len);
      if (checksum_fold(sum) != 0xffff) {
        ++counters_.bad_checksum;
        return malformed();
      }
    }
    uint16_t port = be16(l4 + 2);
    const uint8_t* payload = l4 + kUdpHeader;
    uint32_t payload_len = udp_len - kUdpHeader;
    if (port == kEchoPort) {
      if (payload_len > max_udp_payload()) {
        ++counters_.reply_over_mtu;
        return Verdict::kDrop;
      }
      uint32_t n = build_udp_reply(frame, payload, payload_len, out, out_cap);
      if (n == 0) {
        ++counters_.reply_too_big;
        return Verdict::kDrop;
      }
      *out_len = n;
      ++counters_.udp_echo_replies;
      if (foreign_mac) ++counters_.foreign_mac_echoes;
      return Verdict::kReply;
    }
    if (port == kControlPort && control != nullptr && !foreign_mac) {
      control->payload = payload;
      control->len = payload_len;
      ++counters_.control_requests;
      return Verdict::kControl;
    }
  }
  ++counters_.ignored;
  return Verdict::kDrop;
}

uint32_t Responder::write_ipv4(uint8_t* out, const uint8_t* request, uint8_t protocol,
                               uint32_t payload_len) {
  copy(out, request + 6, 6);
  copy(out + 6, mac_, 6);
  put16(out + 12, kEtherIpv4);
  uint8_t* ip = out + kEthHeader;
  ip[0] = 0x45;
  ip[1] = 0;
  put16(ip + 2, static_cast<uint16_t>(kIpv4Header + payload_len));
  put16(ip + 4, ip_id_++);
  put16(ip + 6, 0);
  ip[8] = 64;
  ip[9] = protocol;
  put16(ip + 10, 0);
  put32(ip + 12, ip_);
  copy(ip + 16, request + kEthHeader + 12, 4);  // back to the sender
  put16(ip + 10, static_cast<uint16_t>(~checksum_fold(checksum_add(0, ip, kIpv4Header))));
  return kEthHeader + kIpv4Header;
}

uint32_t Responder::build_udp_reply(const uint8_t* request, const uint8_t* payload,
                                    uint32_t payload_len, uint8_t* out, uint32_t out_cap) {
  const uint32_t total = kEthHeader + kIpv4Header + kUdpHeader + payload_len;
  if (payload_len > max_udp_payload() || total > out_cap) return 0;
  const uint8_t* req_ip = request + kEthHeader;
  const uint8_t* req_udp = req_ip + uint32_t{req_ip[0] & 0x0fu} * 4;
  uint8_t* udp = out + write_ipv4(out, request, kProtoUdp, kUdpHeader + payload_len);
  put16(udp, be16(req_udp + 2));  // from the port asked
  put16(udp + 2, be16(req_udp));  // to the sender's port
  put16(udp + 4, static_cast<uint16_t>(kUdpHeader + payload_len));
  put16(udp + 6, 0);
  copy(udp + kUdpHeader, payload, payload_len);
  uint8_t pseudo[12];
  copy(pseudo, out + kEthHeader + 12, 8);
  pseudo[8] = 0;
  pseudo[9] = kProtoUdp;
  put16(pseudo + 10, static_cast<uint16_t>(kUdpHeader + payload_len));
  uint32_t sum = checksum_add(checksum_add(0, pseudo, 12), udp, kUdpHeader + payload_len);
  uint16_t csum = static_cast<uint16_t>(~checksum_fold(sum));
  put16(udp + 6, csum == 0 ? 0xffff : csum);
  return total;
}

uint32_t Responder::build_gratuitous_arp(uint8_t* out, uint32_t out_cap) {
  const uint32_t len = kEthHeader + kArpBody;
  if (out_cap < len) return 0;
  for (int i = 0; i < 6; ++i) out[i] = 0xff;
  copy(out + 6, mac_, 6);
  put16(out + 12, kEtherArp);
  uint8_t* r = out + kEthHeader;
  put16(r, 1);
  put16(r + 2, kEtherIpv4);
  r[4] = 6;
  r[5] = 4;
  put16(r + 6, 1);  // a request for our own address
  copy(r + 8, mac_, 6);
  put32(r + 14, ip_);
  for (int i = 0; i < 6; ++i) r[18 + i] = 0;
  put32(r + 24, ip_);
  return len;
}

}  // namespace guest::net
