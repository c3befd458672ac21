// Which pairs of accesses a Barrier kind orders, as the ring oracles judge
// them (protocol_reference.h, packed_reference.h): a full barrier is both
// a read and a write barrier; the DMA kinds (VIRTIO_F_ORDER_PLATFORM, 6.1)
// order what their SMP counterparts order, and more.
#pragma once

#include "driver/platform/platform.h"

namespace vnet::fuzz {

inline bool read_class(Barrier k) {
  return k == Barrier::kRead || k == Barrier::kFull || k == Barrier::kDmaRead ||
         k == Barrier::kDmaFull;
}
inline bool write_class(Barrier k) {
  return k == Barrier::kWrite || k == Barrier::kFull || k == Barrier::kDmaWrite ||
         k == Barrier::kDmaFull;
}
inline bool full_class(Barrier k) {
  return k == Barrier::kFull || k == Barrier::kDmaFull;
}
inline bool dma_class(Barrier k) {
  return k == Barrier::kDmaRead || k == Barrier::kDmaWrite || k == Barrier::kDmaFull;
}

}  // namespace vnet::fuzz
