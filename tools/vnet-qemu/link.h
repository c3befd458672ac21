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
//                             network behind the runner.
#pragma once

#include <stdint.h>

#include <memory>
#include <string>
#include <vector>

#include "tools/vnet-qemu/echo_client.h"

namespace vnetqemu {

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
  virtual bool replies_possible() const = 0;
  // The 127.0.0.1 port forwarded to the guest's TCP echo (0: none).
  virtual uint16_t tcp_echo_port() const { return 0; }
  uint64_t rejected() const { return rejected_; }

 protected:
  uint64_t rejected_ = 0;
};

std::unique_ptr<Link> make_user_link(uint16_t echo_port, uint16_t control_port,
                                     uint16_t tcp_echo_port);
std::unique_ptr<Link> make_frame_link();

}  // namespace vnetqemu
