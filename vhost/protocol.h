// The vhost-user protocol as the front end speaks it (QEMU's
// docs/interop/vhost-user.rst, "Message specification"): the message
// header, the request codes this front end sends, their payloads, and the
// protocol feature bits.
//
//   front end (vnetkit)                        back end (DPDK vhost, ...)
//   ------------------                         --------------------------
//   GET_FEATURES            ---------------->  u64 virtio + vhost feature bits
//   GET_PROTOCOL_FEATURES   ---------------->  u64 protocol feature bits
//   SET_PROTOCOL_FEATURES, SET_OWNER, GET_QUEUE_NUM
//   SET_FEATURES            (at FEATURES_OK)
//   SET_MEM_TABLE + memfd   (at DRIVER_OK, then per ring:)
//   SET_VRING_NUM / _BASE / _ADDR / _KICK + eventfd / _CALL + eventfd
//   SET_VRING_ENABLE        (rings start disabled with PROTOCOL_FEATURES)
//   GET_VRING_BASE          (reset: stops the ring)
//
// Every message is a 12-byte header {request, flags, size} and `size`
// bytes of payload; file descriptors travel as SCM_RIGHTS ancillary data
// of the same sendmsg(). A reply carries the request's code, version 1 and
// the REPLY flag. With REPLY_ACK negotiated, a request that has no reply of
// its own may ask for one (NEED_REPLY) and gets a u64: 0 success, else
// failure.
//
// Everything a back end sends is device input: channel.cc checks each
// reply's header, size and file descriptors before a field is used.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace vnet::vhost {

enum class Request : uint32_t {
  kGetFeatures = 1,
  kSetFeatures = 2,
  kSetOwner = 3,
  kResetOwner = 4,
  kSetMemTable = 5,
  kSetVringNum = 8,
  kSetVringAddr = 9,
  kSetVringBase = 10,
  kGetVringBase = 11,
  kSetVringKick = 12,
  kSetVringCall = 13,
  kGetProtocolFeatures = 15,
  kSetProtocolFeatures = 16,
  kGetQueueNum = 17,
  kSetVringEnable = 18,
  kGetConfig = 24,
  // Requests only a front end sends to a back end that this front end never
  // sends: the back end (backend/) knows them.
  kSetLogBase = 6,
  kSetLogFd = 7,
  kSetVringErr = 14,
  kSendRarp = 19,
  kNetSetMtu = 20,
  kSetBackendReqFd = 21,
  kSetConfig = 25,
  kGetMaxMemSlots = 36,
};
const char* request_name(Request r);

// Header flags.
inline constexpr uint32_t kVersionMask = 0x3;
inline constexpr uint32_t kVersion = 0x1;
inline constexpr uint32_t kFlagReply = 1u << 2;
inline constexpr uint32_t kFlagNeedReply = 1u << 3;

struct MessageHeader {
  uint32_t request;
  uint32_t flags;
  uint32_t size;  // payload bytes that follow
};
static_assert(sizeof(MessageHeader) == 12);

// Payloads.
struct VringState {
  uint32_t index;
  uint32_t num;
};
struct VringAddr {
  uint32_t index;
  uint32_t flags;  // bit 0: VHOST_VRING_F_LOG (never set here)
  uint64_t desc_user_addr;
  uint64_t used_user_addr;
  uint64_t avail_user_addr;
  uint64_t log_guest_addr;
};
static_assert(sizeof(VringAddr) == 40);
struct MemoryRegion {
  uint64_t guest_phys_addr;
  uint64_t memory_size;
  uint64_t userspace_addr;
  uint64_t mmap_offset;
};
inline constexpr uint32_t kMaxMemoryRegions = 8;  // VHOST_MEMORY_BASELINE_NREGIONS
struct MemoryTable {
  uint32_t num_regions;
  uint32_t padding;
  MemoryRegion regions[kMaxMemoryRegions];
};
// SET_VRING_KICK / SET_VRING_CALL: bits 0-7 the ring, bit 8 "no fd".
inline constexpr uint64_t kVringIndexMask = 0xFF;
inline constexpr uint64_t kVringNoFd = 1u << 8;

// The largest payload this front end accepts in a reply (GET_CONFIG's
// header plus 256 bytes of configuration is the largest it asks for).
inline constexpr uint32_t kMaxReplyPayload = 12 + 256;

// Feature bits that are vhost-user's, not virtio's: never shown to the
// driver as device features.
inline constexpr uint64_t kFeatureProtocolFeatures = uint64_t{1} << 30;  // VHOST_USER_F_...
inline constexpr uint64_t kFeatureLogAll = uint64_t{1} << 26;            // VHOST_F_LOG_ALL

// Protocol feature bits (GET/SET_PROTOCOL_FEATURES).
namespace protocol {
inline constexpr uint64_t kMq = uint64_t{1} << 0;
inline constexpr uint64_t kReplyAck = uint64_t{1} << 3;
inline constexpr uint64_t kConfig = uint64_t{1} << 9;
}  // namespace protocol

// GET_CONFIG / SET_CONFIG payload: offset and size into the device
// configuration space, flags, then size bytes of it (at most 256).
struct ConfigHeader {
  uint32_t offset;
  uint32_t size;
  uint32_t flags;
};
static_assert(sizeof(ConfigHeader) == 12);
inline constexpr uint32_t kMaxConfigSize = 256;

// Packed rings (vhost-user.rst, "Vring descriptor indices for packed
// virtqueues"): SET_VRING_BASE's num carries the next avail index in bits
// 0-14 with its wrap counter in bit 15, and the used index and its wrap
// counter in bits 16-31. A fresh ring: both indices 0, both counters 1.
inline constexpr uint32_t kPackedFreshBase = 0x80008000u;

}  // namespace vnet::vhost
