// BackendSession: one vhost-user connection as the back end sees it (QEMU's
// docs/interop/vhost-user.rst, the other side of vhost/front_end.h).
//
//   front end                                   this session
//   ---------                                   ------------
//   GET_FEATURES                            ->  device offer | PROTOCOL_FEATURES
//   GET/SET_PROTOCOL_FEATURES               ->  REPLY_ACK, CONFIG offered
//   SET_OWNER, RESET_OWNER                  ->  (nothing to do / every ring stops)
//   SET_FEATURES                            ->  BackendDevice::set_features
//   SET_MEM_TABLE + fds                     ->  GuestMapping (checked), set_memory
//   SET_VRING_NUM / BASE / ADDR             ->  kept for the ring
//   SET_VRING_KICK + fd                     ->  ring starts (start_ring), its
//                                               kick eventfd is polled
//   SET_VRING_CALL + fd                     ->  the device's interrupts for the
//                                               ring are writes to it
//   SET_VRING_ERR + fd                      ->  kept (never written)
//   SET_VRING_ENABLE                        ->  set_ring_enabled
//   GET_VRING_BASE                          ->  ring stops, its base returned
//   GET_CONFIG / SET_CONFIG                 ->  read_config / write_config
//   GET_QUEUE_NUM                           ->  1 (one queue pair)
//   SEND_RARP, NET_SET_MTU                  ->  accepted
//   anything else                           ->  refused (REPLY_ACK nonzero when
//                                               asked; the session goes on)
//
// Input checks: every message is read whole or the session ends -- the
// header's version must be 1 and its REPLY flag clear, the payload no
// larger than the largest request and exactly the size its request
// defines, file descriptors only with the requests that take them (others
// are closed at once), ring indices below kMaxRings, ring sizes 1..32768
// (split: a power of two), ring addresses inside one mapped region each
// (GuestMapping), config offsets and sizes within 256 bytes. A request
// refused for its values is answered with a nonzero REPLY_ACK when the
// front end asked; a message that cannot be framed ends the session
// (error() says why): a stream cannot be resynchronised.
//
// Ordering: a ring starts at its kick fd (SET_VRING_KICK) once its size
// and addresses are known and the memory table is mapped, and before then
// nothing is handed to the device; the device is told about a ring's
// enable state after it starts. The protocol allows a ring to start
// without SET_VRING_ENABLE when PROTOCOL_FEATURES is not negotiated; then
// it is enabled at once.
//
// Threading: one thread runs handle_message(), on_kick() and the device
// (the owner's event loop polls fd() and kick_fds()).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <array>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "vhost/backend/backend_device.h"
#include "vhost/backend/guest_mapping.h"
#include "vhost/protocol.h"

namespace vnet::vhost {

class BackendSession {
 public:
  static constexpr uint16_t kMaxRings = 32;
  static constexpr uint32_t kMaxPayload = 4096;
  // Protocol features this back end offers.
  static constexpr uint64_t kProtocolFeatures = protocol::kReplyAck | protocol::kConfig;

  // Takes a connected stream socket (closed by the destructor).
  BackendSession(int fd, BackendDevice& device);
  ~BackendSession();
  BackendSession(const BackendSession&) = delete;
  BackendSession& operator=(const BackendSession&) = delete;

  int fd() const { return fd_; }
  // Handles the next message (the socket is readable). False when the
  // session is over: the peer closed (error() empty) or broke the framing.
  bool handle_message();
  // The kick eventfds of started rings, with their ring index.
  std::vector<std::pair<int, uint16_t>> kick_fds() const;
  // A kick eventfd became readable: drains it and kicks the device.
  void on_kick(uint16_t index);

  const std::string& error() const { return error_; }
  uint64_t acked_features() const { return acked_features_; }
  uint64_t acked_protocol_features() const { return protocol_features_; }
  bool ring_running(uint16_t index) const {
    return index < kMaxRings && rings_[index].started && rings_[index].enabled;
  }
  // Requests seen, by name; refusals (each with its reason) in order.
  const std::map<std::string, uint64_t>& message_counts() const { return counts_; }
  const std::vector<std::string>& refusals() const { return refusals_; }
  uint64_t calls_signalled() const { return calls_; }
  uint64_t calls_without_fd() const { return calls_without_fd_; }
  uint64_t kicks() const { return kicks_; }

 private:
  struct Ring {
    uint16_t num = 0;
    uint32_t base = 0;
    bool has_num = false;
    bool has_addr = false;
    VringAddr addr{};
    int kick_fd = -1;
    int call_fd = -1;
    int err_fd = -1;
    bool started = false;
    bool enabled = false;
  };

  bool read_message(MessageHeader* h, std::vector<uint8_t>* payload, std::vector<int>* fds);
  bool send_reply(const MessageHeader& request, const void* payload, uint32_t size);
  // Handles one framed request; returns the REPLY_ACK value (0 success)
  // for requests without a reply of their own, and sends replies itself.
  uint64_t dispatch(const MessageHeader& h, const std::vector<uint8_t>& payload,
                    std::vector<int>& fds, bool* replied);
  uint64_t refuse(const MessageHeader& h, std::string why);
  uint64_t set_vring_fd(const MessageHeader& h, const std::vector<uint8_t>& payload,
                        std::vector<int>& fds);
  bool try_start(uint16_t index, std::string* why);
  void stop(uint16_t index);
  void signal_call(uint16_t index);
  bool fail(std::string why);

  int fd_ = -1;
  BackendDevice& device_;
  GuestMapping mapping_;
  bool memory_mapped_ = false;
  uint64_t acked_features_ = 0;
  uint64_t protocol_features_ = 0;
  std::array<Ring, kMaxRings> rings_{};
  std::string error_;
  std::map<std::string, uint64_t> counts_;
  std::vector<std::string> refusals_;
  uint64_t calls_ = 0;
  uint64_t calls_without_fd_ = 0;
  uint64_t kicks_ = 0;
};

}  // namespace vnet::vhost
