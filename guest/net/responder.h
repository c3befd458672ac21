// The guest's network responder: the smallest IPv4 host that proves a
// driver moves frames both ways, byte for byte.
//
//   Ethernet ---- ARP request for our address      -> ARP reply
//            \--- IPv4 -- ICMP echo request        -> echo reply
//                     \-- UDP dst port 7 (echo)    -> same payload back,
//                     |                               whatever the frame's
//                     |                               destination MAC
//                     \-- UDP dst port 7070        -> control request
//                     |                               (the caller answers)
//                     \-- TCP (checksum verified)  -> TcpEcho (tcp_echo.h):
//                                                     echo server on port 7
//
// Addressing is QEMU user networking's default: the guest is 10.0.2.15/24;
// replies go back to the sender's MAC and IP, so no ARP table is needed.
//
// Frames for a destination MAC that is neither ours nor broadcast are
// ignored, except UDP echo requests (port 7) for our IP: those are echoed
// from our MAC whatever MAC they were sent to, and counted in
// foreign_mac_echoes, so that what the device's receive filter (promiscuous
// mode, the MAC filter table, a MAC change) lets through can be seen from
// the peer. set_mac() changes our MAC (after the device's MAC changed).
//
// No reply is larger than the link MTU (set_mtu(), the driver's negotiated
// VirtioNet::mtu(); 1500 until then) plus the Ethernet header: the driver
// drops longer frames (virtio 1.2, 5.1.4.2). A UDP or ICMP echo whose reply
// would exceed it is dropped and counted (reply_over_mtu; there is no IPv4
// fragmentation here), control replies must fit (max_udp_payload()), and
// the TCP echo sizes its segments by the same MTU (tcp_echo.h).
//
// Offloads (issue 16): handle() may be told what the device said about a
// frame's checksum (the driver's validated PacketOffload): kVerified
// (DATA_VALID), or kPartial (NEEDS_CSUM) with csum_start / csum_offset
// naming exactly the frame's TCP or UDP checksum field, and the TCP or UDP
// checksum is then not verified again (counted in csum_trusted) -- as a
// stack does with CHECKSUM_UNNECESSARY / CHECKSUM_PARTIAL. Anything else,
// ICMP and the IPv4 header checksum are always verified. A reply the TCP
// echo wrote for offloads says so in the SegmentOffload handle() fills.
//
// Frames are untrusted input: every length and field is checked before
// use (Ethernet, ARP geometry, IPv4 version, IHL, total length, header
// checksum, fragments, ICMP and UDP lengths and checksums). What fails a
// check is counted as malformed and dropped; what is valid but not for us
// is counted as ignored. handle() never reads outside [frame, frame+len)
// and never writes outside [out, out+out_cap).
//
// The responder is freestanding and allocation-free; the host unit tests
// (tests/qemu/responder_test.cc) run the same code against hostile frames.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "driver/net/packet_buffer.h"
#include "guest/net/tcp_echo.h"

namespace guest::net {

#define VNET_RESPONDER_COUNTERS(X)                                   \
  X(frames_in)                                                       \
  X(malformed)    /* failed a length, version or field check */      \
  X(bad_checksum) /* IPv4, ICMP or UDP checksum wrong (malformed) */ \
  X(ignored)      /* valid, but not addressed to a service here */   \
  X(fragments)    /* IPv4 fragments (ignored) */                     \
  X(arp_replies)                                                     \
  X(icmp_echo_replies)                                               \
  X(udp_echo_replies)                                                \
  X(foreign_mac_echoes) /* of those, sent to a MAC not ours */       \
  X(control_requests)                                                \
  X(reply_too_big)  /* the reply did not fit the tx buffer */        \
  X(reply_over_mtu) /* the echo reply would exceed the link MTU */   \
  X(tcp_segments)   /* valid TCP segments handed to the TCP echo */  \
  X(csum_trusted)   /* TCP/UDP checksum vouched for by the device */

struct ResponderCounters {
#define VNET_DECLARE_COUNTER(name) uint64_t name = 0;
  VNET_RESPONDER_COUNTERS(VNET_DECLARE_COUNTER)
#undef VNET_DECLARE_COUNTER
  template <typename F>
  void for_each(F&& f) const {
#define VNET_VISIT_COUNTER(name) f(#name, name);
    VNET_RESPONDER_COUNTERS(VNET_VISIT_COUNTER)
#undef VNET_VISIT_COUNTER
  }
};

enum class Verdict : uint8_t {
  kDrop,     // nothing to send (counted)
  kReply,    // out[0 .. *out_len) is the reply frame
  kControl,  // a control request; answer with build_udp_reply()
};

struct ControlRequest {
  const uint8_t* payload = nullptr;  // inside the received frame
  uint32_t len = 0;
};

inline constexpr uint32_t kEthHeader = 14;
inline constexpr uint32_t kIpv4Header = 20;
inline constexpr uint32_t kUdpHeader = 8;

class Responder {
 public:
  static constexpr uint16_t kEchoPort = 7;
  static constexpr uint16_t kControlPort = 7070;
  static constexpr uint32_t kDefaultIp = 0x0a00020f;  // 10.0.2.15

  Responder(const uint8_t mac[6], uint32_t ip);

  // rx: the device's checksum report of the frame (nullptr: none, verify
  // everything); tx_offload: how a TCP reply is to be sent (nullptr:
  // complete segments within the MTU).
  Verdict handle(const uint8_t* frame, uint32_t len, uint8_t* out, uint32_t out_cap,
                 uint32_t* out_len, ControlRequest* control,
                 const vnet::PacketOffload* rx = nullptr, SegmentOffload* tx_offload = nullptr);

  // A UDP reply to request (a frame handle() classified as kControl or a
  // UDP echo), carrying payload. Returns the frame length, 0 if it does
  // not fit out_cap or the MTU (payload_len > max_udp_payload()).
  uint32_t build_udp_reply(const uint8_t* request, const uint8_t* payload, uint32_t payload_len,
                           uint8_t* out, uint32_t out_cap);
  // TCP segments go to tcp (which keeps its own counters), or are ignored
  // when none is set. tcp must outlive the responder.
  void set_tcp(TcpEcho* tcp);
  // The link MTU (IPv4 bytes per frame), also handed to the TCP echo.
  // Clamped to [TcpEcho::kMinMtu, TcpEcho::kMaxMtu].
  void set_mtu(uint32_t mtu);
  uint32_t mtu() const { return mtu_; }
  // The largest UDP payload a reply can carry within the MTU.
  uint32_t max_udp_payload() const { return mtu_ - kIpv4Header - kUdpHeader; }
  // The time handle() passes to the TCP echo (its retransmission timer).
  void set_now_ns(uint64_t now_ns) { now_ns_ = now_ns; }
  // Our MAC from now on (replies, ARP, the TCP echo's segments).
  void set_mac(const uint8_t mac[6]);
  const uint8_t* mac() const { return mac_; }
  // Gratuitous ARP announcing our address (so the gateway learns our MAC).
  uint32_t build_gratuitous_arp(uint8_t* out, uint32_t out_cap);

  const ResponderCounters& counters() const { return counters_; }
  uint32_t ip() const { return ip_; }

  // RFC 1071 ones'-complement sum, folded, not inverted.
  static uint32_t checksum_add(uint32_t sum, const uint8_t* data, uint32_t len);
  static uint16_t checksum_fold(uint32_t sum);

 private:
  Verdict handle_arp(const uint8_t* frame, uint32_t len, uint8_t* out, uint32_t out_cap,
                     uint32_t* out_len);
  Verdict handle_ipv4(const uint8_t* frame, uint32_t len, uint8_t* out, uint32_t out_cap,
                      uint32_t* out_len, ControlRequest* control, bool foreign_mac,
                      const vnet::PacketOffload* rx, SegmentOffload* tx_offload);
  bool l4_csum_trusted(const vnet::PacketOffload* rx, uint32_t l4_start, uint8_t proto);
  Verdict malformed();
  uint32_t write_ipv4(uint8_t* out, const uint8_t* request, uint8_t protocol, uint32_t payload_len);

  uint8_t mac_[6];
  uint32_t ip_;
  uint32_t mtu_ = TcpEcho::kDefaultMtu;
  uint16_t ip_id_ = 1;
  uint64_t now_ns_ = 0;
  TcpEcho* tcp_ = nullptr;
  ResponderCounters counters_{};
};

}  // namespace guest::net
