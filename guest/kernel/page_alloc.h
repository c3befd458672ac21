// Physical memory allocator over the PVH memory map.
//
// Free memory is a sorted list of [addr, addr + size) ranges (first fit,
// coalescing on free), at a 64-byte granule so that small DMA objects
// (virtio-net headers, rings) do not each cost a page. Memory is identity
// mapped: the physical address is the CPU pointer, which is also the
// device address (no IOMMU on these machines).
//
// What is never handed out: the first MiB (BIOS data, the PVH start info,
// option ROM areas) and the image itself (__image_start..__image_end).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "guest/kernel/pvh.h"

namespace guest {

class PhysAllocator {
 public:
  static constexpr uint64_t kGranule = 64;
  static constexpr size_t kMaxRanges = 64;

  // Adds the boot info's RAM (minus the reserved areas) to the free list.
  void init(const BootInfo& boot);
  // Zeroed memory, or 0 when nothing fits. align is rounded up to kGranule.
  uint64_t alloc(uint64_t size, uint64_t align);
  void free(uint64_t addr, uint64_t size);
  uint64_t free_bytes() const;
  uint64_t largest_free() const;

 private:
  void add(uint64_t addr, uint64_t size);
  void remove_at(size_t i);
  bool insert_at(size_t i, MemRange r);

  MemRange ranges_[kMaxRanges];
  size_t count_ = 0;
};

PhysAllocator& phys_allocator();

}  // namespace guest
