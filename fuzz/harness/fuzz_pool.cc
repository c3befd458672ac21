#include "fuzz/harness/fuzz_pool.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz/harness/findings.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VNET_FUZZ_POOL_POISON 1
#endif
#endif
#if !defined(VNET_FUZZ_POOL_POISON) && defined(__SANITIZE_ADDRESS__)
#define VNET_FUZZ_POOL_POISON 1
#endif
#ifdef VNET_FUZZ_POOL_POISON
#include <sanitizer/asan_interface.h>
#endif

namespace vnet::fuzz {

namespace {

// A buffer in the pool is poisoned (ASan manual poisoning): a driver that
// reads or writes a buffer after giving it back is a memory error at the
// guilty access. Unpoisoned when lent again.
void poison(uint8_t* p, size_t len) {
#ifdef VNET_FUZZ_POOL_POISON
  __asan_poison_memory_region(p, len);
#else
  (void)p;
  (void)len;
#endif
}

void unpoison(uint8_t* p, size_t len) {
#ifdef VNET_FUZZ_POOL_POISON
  __asan_unpoison_memory_region(p, len);
#else
  (void)p;
  (void)len;
#endif
}

}  // namespace

void FuzzPool::poison_bytes(void* p, size_t len) {
  poison(static_cast<uint8_t*>(p), len);
}

void FuzzPool::unpoison_bytes(void* p, size_t len) {
  unpoison(static_cast<uint8_t*>(p), len);
}

bool FuzzPool::poisoning() {
#ifdef VNET_FUZZ_POOL_POISON
  return true;
#else
  return false;
#endif
}

bool FuzzPool::poisoned(const void* p) {
#ifdef VNET_FUZZ_POOL_POISON
  return __asan_address_is_poisoned(p) != 0;
#else
  (void)p;
  return false;
#endif
}

FuzzPool::FuzzPool(mock::GuestMemory& memory, uint32_t count, uint32_t buffer_size)
    : count_(count), buffer_size_(buffer_size) {
  if (!memory.allocate(size_t{count} * buffer_size, 64, &block_)) abort();
  host_ = block_.host;
  buffers_.resize(count);
  lent_.assign(count, 0);
  dirty_.assign(count, 0);
  device_owned_.assign(count, 0);
  suspect_.assign(count, 0);
  suspects_.reserve(count);
  opened_.assign(count, 0);
  opened_list_.reserve(count);
  free_.reserve(count);
  reset();
}

void FuzzPool::reset(int32_t alloc_budget) {
  budget_ = alloc_budget;
  device_lies_ = false;
  device_reaches_all_ = false;
  for (uint32_t i : suspects_) suspect_[i] = 0;
  suspects_.clear();
  for (uint32_t i : opened_list_) opened_[i] = 0;
  opened_list_.clear();
  dma_depth_ = 0;
  free_.clear();
  for (uint32_t i = count_; i-- > 0;) {
    uint8_t* mem = host_ + size_t{i} * buffer_size_;
    // A buffer lent during the last input is cleaned and poisoned again;
    // every other one is still poisoned (construction, free(), the end of
    // each DeviceDma scope), so it is not touched at all.
    const bool dirty = dirty_[i] != 0 || !primed_;
    if (dirty_[i]) {
      unpoison(mem, buffer_size_);
      memset(mem, 0, buffer_size_);
    }
    dirty_[i] = 0;
    lent_[i] = 0;
    device_owned_[i] = 0;
    buffers_[i] = PacketBuffer{host_ + size_t{i} * buffer_size_,
                               block_.device_addr + uint64_t{i} * buffer_size_,
                               buffer_size_,
                               0,
                               0,
                               nullptr};
    free_.push_back(i);  // buffer 0 is handed out first
    if (dirty) poison(mem, buffer_size_);
  }
  primed_ = true;
}

void FuzzPool::clear_device_owned() {
  memset(device_owned_.data(), 0, device_owned_.size());
  // Reset acknowledged: the device holds no stale chain any more.
  for (uint32_t i : suspects_) suspect_[i] = 0;
  suspects_.clear();
}

void FuzzPool::device_reach(const uint8_t* p, uint64_t len) {
  if (dma_depth_ == 0 || (!device_reaches_all_ && suspects_.empty())) return;
  const uintptr_t off = reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(host_);
  const uint64_t end = uint64_t{count_} * buffer_size_;
  if (off >= end) return;
  const uint64_t last = (len > end - off ? end : off + (len == 0 ? 1 : len)) - 1;
  for (uint64_t i = off / buffer_size_; i <= last / buffer_size_; ++i) {
    if (lent_[i] || opened_[i] || (!device_reaches_all_ && !suspect_[i])) continue;
    unpoison(host_ + size_t{i} * buffer_size_, buffer_size_);
    opened_[i] = 1;
    opened_list_.push_back(static_cast<uint32_t>(i));
  }
}

void FuzzPool::device_dma_end() {
  if (dma_depth_ == 0 || --dma_depth_ != 0) return;
  for (uint32_t i : opened_list_) {
    if (!lent_[i]) poison(host_ + size_t{i} * buffer_size_, buffer_size_);
    opened_[i] = 0;
  }
  opened_list_.clear();
}

PacketBuffer* FuzzPool::alloc() {
  if (free_.empty() || budget_ == 0) return nullptr;
  if (budget_ > 0) --budget_;
  const uint32_t i = free_.back();
  free_.pop_back();
  lent_[i] = 1;
  dirty_[i] = 1;
  unpoison(host_ + size_t{i} * buffer_size_, buffer_size_);
  PacketBuffer& b = buffers_[i];
  b.offset = 0;
  b.len = 0;
  return &b;
}

void FuzzPool::free(PacketBuffer* buffer) {
  const uintptr_t off =
      reinterpret_cast<uintptr_t>(buffer) - reinterpret_cast<uintptr_t>(buffers_.data());
  if (buffer == nullptr || off >= uintptr_t{count_} * sizeof(PacketBuffer) ||
      off % sizeof(PacketBuffer) != 0)
    finding(Oracle::kOwnership, "free() of a buffer the pool never lent (%p)",
            static_cast<void*>(buffer));
  const uint32_t i = static_cast<uint32_t>(off / sizeof(PacketBuffer));
  if (!lent_[i]) finding(Oracle::kOwnership, "buffer %u returned to the pool twice", i);
  if (device_owned_[i])
    finding(Oracle::kOwnership,
            "buffer %u returned to the pool while the device still owns it (posted, not "
            "completed, no reset since)",
            i);
  lent_[i] = 0;
  free_.push_back(i);
  if (device_lies_ && !suspect_[i]) {
    suspect_[i] = 1;
    suspects_.push_back(i);
  }
  poison(host_ + size_t{i} * buffer_size_, buffer_size_);
}

}  // namespace vnet::fuzz
