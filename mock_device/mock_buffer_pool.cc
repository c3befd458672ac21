#include "mock_device/mock_buffer_pool.h"

#include <cstring>
#include <new>

namespace vnet::mock {

MockBufferPool::MockBufferPool(GuestMemory& memory, size_t count, uint32_t buffer_size)
    : memory_(memory), buffer_size_(buffer_size) {
  if (count == 0 || buffer_size == 0) throw std::bad_alloc();
  const size_t stride = (size_t(buffer_size) + 63) & ~size_t{63};
  if (!memory_.allocate(stride * count, 64, &block_)) throw std::bad_alloc();
  buffers_.resize(count);
  lent_.assign(count, 0);
  free_.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    PacketBuffer& b = buffers_[i];
    b.base = block_.host + i * stride;
    b.device_addr = block_.device_addr + i * stride;
    b.capacity = buffer_size;
    b.pool_cookie = this;
  }
  for (size_t i = count; i-- > 0;) free_.push_back(uint32_t(i));
}

MockBufferPool::~MockBufferPool() {
  memory_.free(block_.device_addr);
}

bool MockBufferPool::index_of(const PacketBuffer* buffer, size_t* index) const {
  if (buffers_.empty() || buffer < buffers_.data() || buffer >= buffers_.data() + buffers_.size())
    return false;
  *index = size_t(buffer - buffers_.data());
  return true;
}

PacketBuffer* MockBufferPool::alloc() {
  if (free_.empty() || budget_ == 0) {
    ++alloc_failures_;
    return nullptr;
  }
  if (budget_ > 0) --budget_;
  const uint32_t i = free_.back();
  free_.pop_back();
  lent_[i] = 1;
  PacketBuffer& b = buffers_[i];
  b.offset = 0;
  b.len = 0;
  return &b;
}

void MockBufferPool::free(PacketBuffer* buffer) {
  size_t i;
  if (!index_of(buffer, &i)) {
    ++foreign_frees_;
    return;
  }
  if (!lent_[i]) {
    ++double_frees_;
    return;
  }
  lent_[i] = 0;
  free_.push_back(uint32_t(i));
}

PacketBuffer* MockBufferPool::alloc_tx(std::span<const uint8_t> frame) {
  if (frame.size() + kTxHeadroom > buffer_size_) return nullptr;
  PacketBuffer* b = alloc();
  if (!b) return nullptr;
  b->offset = kTxHeadroom;
  b->len = uint32_t(frame.size());
  if (!frame.empty()) std::memcpy(b->base + kTxHeadroom, frame.data(), frame.size());
  return b;
}

std::vector<size_t> MockBufferPool::lent() const {
  std::vector<size_t> out;
  for (size_t i = 0; i < lent_.size(); ++i)
    if (lent_[i]) out.push_back(i);
  return out;
}

bool MockBufferPool::is_lent(const PacketBuffer* buffer) const {
  size_t i;
  return index_of(buffer, &i) && lent_[i];
}

}  // namespace vnet::mock
