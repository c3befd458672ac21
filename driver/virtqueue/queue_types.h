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
};
const char* queue_fault_name(QueueFault f);

}  // namespace vnet
