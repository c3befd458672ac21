// Types shared by every ring kind behind the Virtqueue interface
// (driver/virtqueue/virtqueue.h): what the caller hands in (segments of a
// chain), what it gets back (completions), and why a queue broke.
#pragma once

#include <stdint.h>

namespace vnet {

struct Segment {
  uint64_t addr = 0;
  uint32_t len = 0;
  bool device_writable = false;
  const void* cpu = nullptr;  // CPU view, announced to the shim
};

// Plain data: harvest() fills every field; callers keep arrays of these on
// the stack, which must not cost a memset per call.
struct Completion {
  void* cookie;
  uint16_t head;
  uint32_t len;       // as the device reported it (validated below)
  uint32_t writable;  // writable bytes the driver posted in this chain
  bool len_over;      // len > writable: the caller must drop the buffer
  // VIRTIO_F_IN_ORDER: the chain was completed implicitly, by a used entry
  // (split) / used descriptor (packed) that named a later chain of the same
  // batch (2.7.9, 2.8.9). No length was written for it: "assumed to have
  // been used (read or written) by the device completely", so len is the
  // writable bytes posted (0 on a transmit chain). Always false without
  // IN_ORDER.
  bool implied;
};

enum class QueueFault : uint8_t {
  kNone,
  kUsedIdxJump,  // used.idx advanced past the number of chains in flight
                 // (packed: a used descriptor with nothing published outstanding)
  kUsedIdRange,  // used.id >= queue size
  kUsedIdStale,  // used.id not the head of an in-flight chain
  kUsedEarly,    // used.idx moved before the driver made any buffer available
                 // (packed: a used descriptor before any was available)
  kUsedFlags,    // packed: a used descriptor's AVAIL/USED bits in a pattern
                 // neither side writes in this lap (2.8.1)
  kUsedWrap,     // packed: a used descriptor marked with the previous lap's
                 // wrap counter (the device stopped flipping it, 2.8.1)
  // VIRTIO_F_IN_ORDER (2.7.9, 2.8.9): the one used entry of a batch names
  // its last chain, and every outstanding chain posted before it is
  // completed with it.
  kUsedOrder,        // split: the used id names an in-flight chain that is neither
                     // the oldest outstanding one nor the end of a batch the used
                     // index covers (the batch would run past used.idx)
  kUsedUnpublished,  // the batch the used id closes reaches a chain that was
                     // added but never made available (publish())
};
const char* queue_fault_name(QueueFault f);

}  // namespace vnet
