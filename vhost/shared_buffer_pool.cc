#include "vhost/shared_buffer_pool.h"

namespace vnet::vhost {

bool SharedBufferPool::init(SharedMemory& memory, size_t count, uint32_t buffer_size) {
  uint8_t* block = static_cast<uint8_t*>(memory.alloc(count * size_t{buffer_size}, 4096));
  if (block == nullptr) return false;
  buffers_.assign(count, PacketBuffer{});
  free_.clear();
  free_.reserve(count);
  lent_.assign(count, 0);
  for (size_t i = 0; i < count; ++i) {
    PacketBuffer& b = buffers_[i];
    b.base = block + i * buffer_size;
    b.device_addr = reinterpret_cast<uint64_t>(b.base);
    b.capacity = buffer_size;
  }
  for (size_t i = count; i-- > 0;) free_.push_back(&buffers_[i]);
  return true;
}

void SharedBufferPool::free(PacketBuffer* b) {
  if (b < buffers_.data() || b >= buffers_.data() + buffers_.size() ||
      lent_[static_cast<size_t>(b - buffers_.data())] == 0) {
    ++bad_frees_;
    return;
  }
  lent_[static_cast<size_t>(b - buffers_.data())] = 0;
  b->next = nullptr;
  b->offset = 0;
  b->len = 0;
  free_.push_back(b);
}

}  // namespace vnet::vhost
