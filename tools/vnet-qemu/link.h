// How the runner's datagrams reach the guest's UDP services (echo on port
// 7, control on 7070). Two links, both confined to 127.0.0.1:
//
//  UserLink   (--net user)    QEMU user networking, restrict=on, with
//                             hostfwd=tcp:127.0.0.1:PORT-:7 (the echo),
//                             hostfwd=udp:127.0.0.1:PORT-:7 and :7070.
//                             TCP works both ways: a host-forwarded
//                             connection has a slirp socket, and libslirp
//                             applies restrict=on only to segments without
//                             one. UDP works one way only: libslirp (4.7,
//                             QEMU 7.2) drops every UDP datagram a guest
//                             sends while restrict=on, hostfwd replies
//                             included. So the runner echoes over TCP,
//                             sends control requests (exit) over UDP
//                             without expecting an answer, and reads the
//                             guest's counters from its console.
//
//  FrameLink  (--net socket)  QEMU's socket netdev carries raw Ethernet
//                             frames as UDP datagrams between 127.0.0.1
//                             ports. The runner plays the gateway
//                             10.0.2.2 (MAC 52:55:0a:00:02:02): it builds
//                             Ethernet/IPv4/UDP frames, and checks the
//                             guest's frames (IPv4 and UDP checksums,
//                             addresses, ports) before comparing payloads.
//                             Nothing is routed anywhere: there is no
//                             network behind the runner. The runner may
//                             address a frame to any MAC and tag it
//                             (send_to), which is how --ctrl-check sees
//                             the device's receive filter.
//
//  TapLink    (--net tap)     QEMU's tap netdev on a tap device inside a
//                             network namespace the runner created for the
//                             run (netns.h): the runner's sockets, in that
//                             namespace, reach the guest at 10.0.2.15
//                             through the kernel's stack (10.0.2.2/24 on
//                             the tap). UDP both ways, from several source
//                             ports (flows) round-robin, and TCP.
#pragma once

#include <stdint.h>

#include <memory>
#include <string>
#include <vector>

#include "tools/vnet-qemu/echo_client.h"

namespace vnetqemu {

// The Ethernet facts of a reply a frame link accepted.
struct ReplyInfo {
  uint8_t src_mac[6] = {};
  bool tagged = false;  // 802.1Q
  uint16_t tci = 0;
};

class Link {
 public:
  virtual ~Link() = default;
  // Binds the host side; fills the -netdev argument for QEMU.
  virtual bool open(std::string* netdev_arg, std::string* error) = 0;
  // Learns the guest's MAC from its ready line (frame links need it).
  virtual void set_guest_mac(const uint8_t mac[6]) { (void)mac; }
  virtual bool send(uint16_t guest_port, const std::vector<uint8_t>& payload) = 0;
  // Non-blocking: one datagram from guest_port's service, if any arrived.
  // Frames that are not a valid reply are counted in rejected().
  virtual bool receive(uint16_t guest_port, std::vector<uint8_t>* payload) = 0;
  // The descriptor to poll while waiting for guest_port's replies.
  virtual int fd(uint16_t guest_port) const = 0;
  // Sends a raw Ethernet frame (frame links only; false elsewhere).
  virtual bool send_frame(const std::vector<uint8_t>& frame) {
    (void)frame;
    return false;
  }
  // A UDP datagram to guest_port, in a frame addressed to dst_mac (any
  // MAC, not only the guest's) and, with tci >= 0, 802.1Q-tagged with it
  // (frame links only; false elsewhere).
  virtual bool send_to(const uint8_t dst_mac[6], int tci, uint16_t guest_port,
                       const std::vector<uint8_t>& payload) {
    (void)dst_mac, (void)tci, (void)guest_port, (void)payload;
    return false;
  }
  virtual bool replies_possible() const = 0;
  // The port forwarded to the guest's TCP echo (0: none), and where it is.
  virtual uint16_t tcp_echo_port() const { return 0; }
  virtual Peer tcp_echo_peer() const { return Peer::kLoopback; }
  uint64_t rejected() const { return rejected_; }
  // Frame links: the last reply receive() returned.
  const ReplyInfo& last_reply() const { return last_reply_; }
  // Frame links: gratuitous ARP requests from the guest (sender and target
  // IP 10.0.2.15), and the MAC the last one announced.
  uint64_t gratuitous_arps() const { return gratuitous_arps_; }
  const uint8_t* announced_mac() const { return announced_mac_; }

 protected:
  uint64_t rejected_ = 0;
  ReplyInfo last_reply_;
  uint64_t gratuitous_arps_ = 0;
  uint8_t announced_mac_[6] = {};
};

std::unique_ptr<Link> make_user_link(uint16_t echo_port, uint16_t control_port,
                                     uint16_t tcp_echo_port);
std::unique_ptr<Link> make_frame_link();
// ifname: the tap device (in the namespace the runner is in now);
// queues: QEMU's tap queues (multi_queue when > 1); udp_flows: source
// ports the UDP echo rotates over; vnet_hdr: the netdev's vnet_hdr=.
std::unique_ptr<Link> make_tap_link(const std::string& ifname, uint32_t queues, uint32_t udp_flows,
                                    bool vnet_hdr);

}  // namespace vnetqemu
