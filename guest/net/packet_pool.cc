#include "guest/net/packet_pool.h"

#include "guest/kernel/page_alloc.h"

namespace guest::net {

bool PacketPool::init(uint32_t count, uint32_t capacity) {
  PhysAllocator& phys = phys_allocator();
  uint64_t descs = phys.alloc(uint64_t{count} * sizeof(vnet::PacketBuffer), 64);
  uint64_t stack = phys.alloc(uint64_t{count} * sizeof(uint32_t), 64);
  uint64_t owned = phys.alloc(count, 64);
  uint64_t memory = phys.alloc(uint64_t{count} * capacity, 4096);
  if (descs == 0 || stack == 0 || owned == 0 || memory == 0) return false;
  buffers_ = reinterpret_cast<vnet::PacketBuffer*>(static_cast<uintptr_t>(descs));
  free_stack_ = reinterpret_cast<uint32_t*>(static_cast<uintptr_t>(stack));
  owned_ = reinterpret_cast<bool*>(static_cast<uintptr_t>(owned));
  count_ = count;
  capacity_ = capacity;
  for (uint32_t i = 0; i < count; ++i) {
    vnet::PacketBuffer& b = buffers_[i];
    uint64_t addr = memory + uint64_t{i} * capacity;
    b.base = reinterpret_cast<uint8_t*>(static_cast<uintptr_t>(addr));
    b.device_addr = addr;
    b.capacity = capacity;
    b.offset = 0;
    b.len = 0;
    b.pool_cookie = reinterpret_cast<void*>(static_cast<uintptr_t>(i));
    owned_[i] = false;
    free_stack_[i] = count - 1 - i;
  }
  free_top_ = count;
  return true;
}

vnet::PacketBuffer* PacketPool::alloc() {
  if (free_top_ == 0) {
    ++empty_allocs_;
    return nullptr;
  }
  uint32_t i = free_stack_[--free_top_];
  owned_[i] = true;
  vnet::PacketBuffer* b = &buffers_[i];
  b->offset = 0;
  b->len = 0;
  // A buffer that was a received frame carries the driver's rx offload
  // report; as a tx buffer it asks for nothing unless the caller says so
  // (packet_buffer.h: "a caller that reuses buffers for tx resets it").
  b->next = nullptr;
  b->offload = vnet::PacketOffload{};
  return b;
}

void PacketPool::free(vnet::PacketBuffer* buffer) {
  if (buffer == nullptr || buffer < buffers_ || buffer >= buffers_ + count_) {
    ++bad_frees_;
    return;
  }
  uint32_t i = static_cast<uint32_t>(buffer - buffers_);
  if (!owned_[i] || buffer->pool_cookie != reinterpret_cast<void*>(static_cast<uintptr_t>(i))) {
    ++bad_frees_;
    return;
  }
  owned_[i] = false;
  free_stack_[free_top_++] = i;
}

}  // namespace guest::net
