// The packed virtqueue as it sits in memory (virtio 1.2, 2.8).
//
//   descriptor ring (driver AND device write)   16 bytes x N, align 16
//   +------------+--------+--------+--------+
//   | le64 addr  | le32   | le16   | le16   |
//   |            | len    | id     | flags  |
//   +------------+--------+--------+--------+
//
//   driver event suppression (driver writes)   align 4
//   | le16 off_wrap | le16 flags |
//
//   device event suppression (DEVICE writes)   align 4
//   | le16 off_wrap | le16 flags |
//
// One ring carries both directions. The driver makes a descriptor available
// by writing it with AVAIL (flags bit 7) equal to its avail wrap counter and
// USED (bit 15) the inverse; the device marks a buffer used by writing one
// descriptor, at its next used position, with AVAIL == USED == its used wrap
// counter, the buffer id the driver gave and (for writable buffers) the
// bytes written. Both wrap counters start at 1 and flip each time their
// position passes the end of the ring (2.8.1). A chain (NEXT, bit 0) of n
// descriptors is completed by one used descriptor and the device then skips
// n positions (2.8.6); its id is the one of the chain's last descriptor.
//
// Event suppression (2.8.10): off_wrap bits 0-14 a ring position, bit 15 a
// wrap counter; flags 0 ENABLE, 1 DISABLE, 2 DESC (only with
// VIRTIO_F_EVENT_IDX: an event when the position off_wrap names is
// made available / used). N need not be a power of two; at most 32768.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "driver/spec/byte_order.h"
// NEXT (1), WRITE (2) and INDIRECT (4) keep the split ring's values (2.8,
// "Element Address, Length, ID and Flags"): kDescFlag* from there.
#include "driver/spec/split_ring_layout.h"

namespace vnet::spec {

inline constexpr uint16_t kPackedDescFlagAvail = uint16_t{1} << 7;
inline constexpr uint16_t kPackedDescFlagUsed = uint16_t{1} << 15;

inline constexpr uint16_t kPackedEventEnable = 0;
inline constexpr uint16_t kPackedEventDisable = 1;
inline constexpr uint16_t kPackedEventDesc = 2;
inline constexpr uint16_t kPackedEventFlagsMask = 3;
inline constexpr uint16_t kPackedEventWrapBit = uint16_t{1} << 15;

inline constexpr uint32_t kMaxQueueSizePacked = 32768;

struct PackedDesc {
  Le64 addr;
  Le32 len;
  Le16 id;
  Le16 flags;
};
static_assert(sizeof(PackedDesc) == 16);
static_assert(offsetof(PackedDesc, len) == 8 && offsetof(PackedDesc, id) == 12 &&
              offsetof(PackedDesc, flags) == 14);

struct PackedEventSuppress {
  Le16 off_wrap;
  Le16 flags;
};
static_assert(sizeof(PackedEventSuppress) == 4);
static_assert(offsetof(PackedEventSuppress, flags) == 2);

constexpr size_t packed_desc_bytes(uint32_t n) {
  return sizeof(PackedDesc) * size_t{n};
}

}  // namespace vnet::spec
