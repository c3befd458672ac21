#include "driver/platform/bounce_platform.h"

namespace vnet {

void BouncePlatform::lock() {
  while (__atomic_exchange_n(&lock_, 1, __ATOMIC_ACQUIRE) != 0)
    while (__atomic_load_n(&lock_, __ATOMIC_RELAXED) != 0) {
    }
}

void BouncePlatform::unlock() {
  __atomic_store_n(&lock_, 0, __ATOMIC_RELEASE);
}

bool BouncePlatform::init(uint32_t slot_size, uint32_t slots) {
  if (area_.cpu != nullptr || slot_size == 0 || slots == 0 || slots > kMaxSlots) return false;
  // Slots aligned to 64 bytes: no two transfers share a cache line.
  slot_size = (slot_size + 63u) & ~63u;
  if (!inner_.dma_alloc(size_t{slot_size} * slots, 4096, &area_)) {
    area_ = DmaRegion{};
    return false;
  }
  slot_size_ = slot_size;
  slots_ = slots;
  for (uint32_t i = 0; i < slots; ++i) {
    free_[i] = static_cast<uint16_t>(slots - 1 - i);
    mapped_len_[i] = 0;
  }
  free_top_ = slots;
  return true;
}

void BouncePlatform::shutdown() {
  if (area_.cpu == nullptr) return;
  inner_.dma_free(area_);
  area_ = DmaRegion{};
  slots_ = free_top_ = 0;
}

bool BouncePlatform::in_area(uint64_t addr, uint64_t len) const {
  const uint64_t off = addr - area_.device_addr;
  return area_.cpu != nullptr && off <= area_.size && len <= area_.size - off;
}

bool BouncePlatform::dma_map(uint8_t* cpu, uint64_t phys, uint32_t len, DmaDirection dir,
                             DmaMapping* out) {
  (void)phys;  // the device never learns where the private buffer is
  if (len == 0 || len > slot_size_) {
    __atomic_fetch_add(&map_failures_, 1, __ATOMIC_RELAXED);
    return false;
  }
  lock();
  if (free_top_ == 0) {
    unlock();
    __atomic_fetch_add(&map_failures_, 1, __ATOMIC_RELAXED);
    return false;
  }
  const uint32_t slot = free_[--free_top_];
  mapped_len_[slot] = len;
  unlock();
  uint8_t* view = static_cast<uint8_t*>(area_.cpu) + size_t{slot} * slot_size_;
  if (dir == DmaDirection::kToDevice) {
    __builtin_memcpy(view, cpu, len);
    __atomic_fetch_add(&bytes_to_device_, len, __ATOMIC_RELAXED);
  }
  __atomic_fetch_add(&maps_, 1, __ATOMIC_RELAXED);
  *out = DmaMapping{area_.device_addr + uint64_t{slot} * slot_size_, view, len, slot};
  return true;
}

void BouncePlatform::dma_unmap(const DmaMapping& m, uint8_t* cpu, uint32_t device_len,
                               DmaDirection dir) {
  const uint32_t slot = m.handle;
  lock();
  const bool live = slot < slots_ && mapped_len_[slot] != 0;
  const uint32_t mapped = live ? mapped_len_[slot] : 0;
  unlock();
  if (!live) {
    __atomic_fetch_add(&bad_unmaps_, 1, __ATOMIC_RELAXED);
    return;
  }
  if (dir == DmaDirection::kFromDevice && device_len != 0) {
    // The length is the driver's (validated) view, bounded again by what
    // this slot mapped: never copy past the slot.
    const uint32_t n = device_len < mapped ? device_len : mapped;
    const uint8_t* view = static_cast<const uint8_t*>(area_.cpu) + size_t{slot} * slot_size_;
    __builtin_memcpy(cpu, view, n);
    __atomic_fetch_add(&bytes_from_device_, n, __ATOMIC_RELAXED);
  }
  lock();
  mapped_len_[slot] = 0;
  free_[free_top_++] = static_cast<uint16_t>(slot);
  unlock();
}

}  // namespace vnet
