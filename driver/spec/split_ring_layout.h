// The split virtqueue as it sits in memory (virtio 1.2, 2.7).
//
//   descriptor table (driver writes)      16 bytes x N, align 16
//   +------------+--------+--------+--------+
//   | le64 addr  | le32   | le16   | le16   |
//   |            | len    | flags  | next   |
//   +------------+--------+--------+--------+
//
//   available ring (driver writes)        align 2
//   | le16 flags | le16 idx | le16 ring[N] | le16 used_event |
//
//   used ring (DEVICE writes)             align 4
//   | le16 flags | le16 idx | {le32 id, le32 len} ring[N] | le16 avail_event |
//
// Indices are free-running 16-bit counters; slot = idx % N. N is a power of
// two, 1..32768. used.id names the head descriptor of a completed chain and
// used.len the bytes the device wrote into the chain's writable part.
//
// Legacy devices (4.1.5.1.1.1, "Legacy Interfaces: A Note on Virtqueue
// Layout") take the three parts in one physically contiguous area: the
// descriptor table, the available ring, padding to the next 4096-byte
// boundary, then the used ring; its page frame number goes to the queue
// address register. Modern devices take three separate addresses.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "driver/spec/byte_order.h"

namespace vnet::spec {

inline constexpr uint16_t kDescFlagNext = 1;
inline constexpr uint16_t kDescFlagWrite = 2;
inline constexpr uint16_t kDescFlagIndirect = 4;
inline constexpr uint16_t kAvailFlagNoInterrupt = 1;
inline constexpr uint16_t kUsedFlagNoNotify = 1;
inline constexpr uint32_t kMaxQueueSizeSplit = 32768;
inline constexpr size_t kLegacyQueueAlign = 4096;

struct VringDesc {
  Le64 addr;
  Le32 len;
  Le16 flags;
  Le16 next;
};
static_assert(sizeof(VringDesc) == 16);
static_assert(offsetof(VringDesc, len) == 8 && offsetof(VringDesc, flags) == 12 &&
              offsetof(VringDesc, next) == 14);

struct VringUsedElem {
  Le32 id;
  Le32 len;
};
static_assert(sizeof(VringUsedElem) == 8);

// Offsets within the available ring area.
inline constexpr size_t kAvailFlagsOffset = 0;
inline constexpr size_t kAvailIdxOffset = 2;
inline constexpr size_t kAvailRingOffset = 4;
constexpr size_t avail_used_event_offset(uint32_t n) {
  return kAvailRingOffset + 2 * size_t{n};
}
constexpr size_t avail_bytes(uint32_t n) {
  return avail_used_event_offset(n) + 2;
}

// Offsets within the used ring area.
inline constexpr size_t kUsedFlagsOffset = 0;
inline constexpr size_t kUsedIdxOffset = 2;
inline constexpr size_t kUsedRingOffset = 4;
constexpr size_t used_elem_offset(uint32_t slot) {
  return kUsedRingOffset + 8 * size_t{slot};
}
constexpr size_t used_avail_event_offset(uint32_t n) {
  return used_elem_offset(n);
}
constexpr size_t used_bytes(uint32_t n) {
  return used_avail_event_offset(n) + 2;
}

constexpr size_t desc_bytes(uint32_t n) {
  return sizeof(VringDesc) * size_t{n};
}

constexpr size_t align_up(size_t v, size_t a) {
  return (v + a - 1) & ~(a - 1);
}

// Legacy contiguous layout: offset of the used ring and total size.
constexpr size_t legacy_used_offset(uint32_t n) {
  return align_up(desc_bytes(n) + avail_bytes(n), kLegacyQueueAlign);
}
constexpr size_t legacy_ring_bytes(uint32_t n) {
  return legacy_used_offset(n) + align_up(used_bytes(n), kLegacyQueueAlign);
}
static_assert(legacy_used_offset(256) == 8192 && legacy_ring_bytes(256) == 12288,
              "QEMU's legacy 256-entry ring: desc 4096 + avail 518 -> used at 8192");

constexpr bool is_power_of_two(uint32_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

}  // namespace vnet::spec
