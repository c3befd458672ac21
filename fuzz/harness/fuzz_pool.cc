#include "fuzz/harness/fuzz_pool.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz/harness/findings.h"

namespace vnet::fuzz {

FuzzPool::FuzzPool(mock::GuestMemory& memory, uint32_t count, uint32_t buffer_size)
    : count_(count), buffer_size_(buffer_size) {
  if (!memory.allocate(size_t{count} * buffer_size, 64, &block_)) abort();
  host_ = block_.host;
  buffers_.resize(count);
  lent_.assign(count, 0);
  dirty_.assign(count, 0);
  device_owned_.assign(count, 0);
  free_.reserve(count);
  reset();
}

void FuzzPool::reset(int32_t alloc_budget) {
  budget_ = alloc_budget;
  free_.clear();
  for (uint32_t i = count_; i-- > 0;) {
    if (dirty_[i]) memset(host_ + size_t{i} * buffer_size_, 0, buffer_size_);
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
  }
}

void FuzzPool::clear_device_owned() {
  memset(device_owned_.data(), 0, device_owned_.size());
}

PacketBuffer* FuzzPool::alloc() {
  if (free_.empty() || budget_ == 0) return nullptr;
  if (budget_ > 0) --budget_;
  const uint32_t i = free_.back();
  free_.pop_back();
  lent_[i] = 1;
  dirty_[i] = 1;
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
}

}  // namespace vnet::fuzz
