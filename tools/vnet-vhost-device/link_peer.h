// LinkPeer: the host on the other end of the guest's link, as
// vnet-vhost-device plays it -- the smallest IPv4 host that shows traffic
// flowing both ways through a driver vnetkit did not write.
//
//   guest frame -> on_guest_frame()
//     ARP request for our address           -> ARP reply queued
//     ARP reply from the guest              -> guest MAC learnt
//     ICMP echo request to our address      -> echo reply queued
//     ICMP echo reply to one of our probes  -> counted (ping_replies)
//     DHCP DISCOVER / REQUEST (UDP 68 -> 67) -> OFFER / ACK of 10.0.2.15/24,
//                                              router 10.0.2.2 (a firmware
//                                              such as iPXE configures itself)
//     anything else                         -> counted (other_frames)
//   probe() -> an ARP request for the guest's address until its MAC is
//              known, then an ICMP echo request to it (pings_sent)
//
// Addresses are QEMU user networking's: we are 10.0.2.2 with QEMU's gateway
// MAC 52:55:0a:00:02:02, the guest 10.0.2.15. Replies go to the sender's
// MAC and IP as the frame gave them.
//
// Guest frames are untrusted: every length is checked before a field is
// read, and what does not parse is counted as malformed. Replies wait in
// outbox() for the device to deliver them (the caller drains it).
//
// Threading: one thread.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <array>
#include <deque>
#include <span>
#include <vector>

namespace vnet::tools {

#define VNET_LINK_PEER_COUNTERS(X)                                        \
  X(guest_frames) /* frames the guest transmitted */                      \
  X(arp_requests_answered)                                                \
  X(guest_pings_answered) /* the guest's echo requests to us, answered */ \
  X(arp_requests_sent)                                                    \
  X(pings_sent)                                                           \
  X(ping_replies)   /* the guest's echo replies to our probes */          \
  X(ping_reply_bad) /* echo replies whose payload is not what we sent */  \
  X(dhcp_offers)                                                          \
  X(dhcp_acks)                                                            \
  X(other_frames)                                                         \
  X(malformed)                                                            \
  X(outbox_dropped) /* replies dropped: outbox full */

struct LinkPeerCounters {
#define VNET_PEER_DECLARE(name) uint64_t name = 0;
  VNET_LINK_PEER_COUNTERS(VNET_PEER_DECLARE)
#undef VNET_PEER_DECLARE
  template <typename F>
  void for_each(F&& f) const {
#define VNET_PEER_VISIT(name) f(#name, name);
    VNET_LINK_PEER_COUNTERS(VNET_PEER_VISIT)
#undef VNET_PEER_VISIT
  }
};

class LinkPeer {
 public:
  using Mac = std::array<uint8_t, 6>;
  using Frame = std::vector<uint8_t>;
  static constexpr size_t kMaxOutbox = 512;
  static constexpr size_t kPingPayload = 56;

  LinkPeer();
  void on_guest_frame(std::span<const uint8_t> frame);
  void probe();
  std::deque<Frame>& outbox() { return outbox_; }
  const LinkPeerCounters& counters() const { return counters_; }
  bool guest_mac_known() const { return guest_mac_known_; }

 private:
  void queue(Frame f);
  void on_arp(std::span<const uint8_t> frame);
  void on_ipv4(std::span<const uint8_t> frame);
  void on_udp(std::span<const uint8_t> frame, const uint8_t* ip, size_t ihl, size_t total);

  Mac our_mac_{0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
  std::array<uint8_t, 4> our_ip_{10, 0, 2, 2};
  std::array<uint8_t, 4> guest_ip_{10, 0, 2, 15};
  Mac guest_mac_{};
  bool guest_mac_known_ = false;
  uint16_t ping_seq_ = 0;
  std::deque<Frame> outbox_;
  LinkPeerCounters counters_;
};

}  // namespace vnet::tools
