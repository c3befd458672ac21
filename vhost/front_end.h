// FrontEnd: the vhost-user session one level above the Channel: what to
// say to a back end, in which order, and what its answers may be.
//
//   connect()        GET_FEATURES, [GET_PROTOCOL_FEATURES,
//                    SET_PROTOCOL_FEATURES], SET_OWNER, [GET_QUEUE_NUM]
//   set_features()   SET_FEATURES (+ PROTOCOL_FEATURES when offered)
//   set_mem_table()  SET_MEM_TABLE with the memfd
//   start_vring()    SET_VRING_NUM, _BASE, _ADDR, _CALL, _KICK
//   enable_vring()   SET_VRING_ENABLE
//   stop_vring()     GET_VRING_BASE (the back end stops the ring)
//
// With REPLY_ACK negotiated every SET_* asks for an ack, so a refusal is
// seen where it happens, not as silence later.
//
// Device input, validated here: the queue count (GET_QUEUE_NUM: 1 ..
// kMaxQueuePairs, and only with the MQ protocol feature); GET_VRING_BASE's
// ring index (must be the ring asked about). Protocol features are only
// ever the intersection of what both sides know. The offered virtio
// features are passed up unfiltered: which of them a driver may see is the
// device window's decision (vhost_user_device.h).
#pragma once

#include <stdint.h>

#include <string>

#include "vhost/channel.h"

namespace vnet::vhost {

class SharedMemory;

// The protocol features this front end can use.
inline constexpr uint64_t kFrontEndProtocolFeatures = protocol::kMq | protocol::kReplyAck;
// Queue pairs a back end may report (GET_QUEUE_NUM); more is a lie.
inline constexpr uint64_t kMaxQueuePairs = 0x8000;

struct BackendOffer {
  uint64_t features = 0;           // GET_FEATURES, as sent
  uint64_t protocol_features = 0;  // GET_PROTOCOL_FEATURES (0 without PROTOCOL_FEATURES)
  uint64_t negotiated_protocol = 0;
  uint16_t queue_pairs = 1;  // GET_QUEUE_NUM (1 without MQ)
};

struct VringSetup {
  uint16_t index = 0;
  uint16_t num = 0;
  uint32_t base = 0;  // SET_VRING_BASE's num (protocol.h: kPackedFreshBase)
  uint64_t desc = 0, avail = 0, used = 0;
  int kick_fd = -1, call_fd = -1;
};

class FrontEnd {
 public:
  Channel& channel() { return channel_; }
  const BackendOffer& offer() const { return offer_; }
  bool acked() const { return (offer_.negotiated_protocol & protocol::kReplyAck) != 0; }

  // Connects (connect_unix) and runs the handshake; or, with connect(fd),
  // over an already connected socket.
  bool connect(const std::string& socket_path, int timeout_ms);
  bool connect_fd(int fd);
  bool set_features(uint64_t virtio_features);
  bool set_mem_table(const SharedMemory& memory);
  bool start_vring(const VringSetup& v);
  bool enable_vring(uint16_t index, bool enable);
  bool stop_vring(uint16_t index, uint32_t* base);

  const std::string& error() const { return error_.empty() ? channel_.error() : error_; }

 private:
  bool handshake();
  bool set(Request r, const void* payload, uint32_t size, const int* fd = nullptr);
  bool fail(std::string why);

  Channel channel_;
  BackendOffer offer_;
  std::string error_;
};

}  // namespace vnet::vhost
