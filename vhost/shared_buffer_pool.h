// SharedBufferPool: the caller's BufferPool (driver/net/packet_buffer.h)
// for the vhost-user world: count buffers of buffer_size bytes carved from
// the SharedMemory, so the back end can reach every one, with device_addr
// the buffer's own address (shared_memory.h).
//
// alloc() and free() are O(1) and never allocate (a stack of pointers).
// One thread at a time, like the driver's rx and tx paths of one pair that
// the caller serialises. A buffer freed twice, or one the pool never lent,
// is counted and otherwise ignored.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <vector>

#include "driver/net/packet_buffer.h"
#include "vhost/shared_memory.h"

namespace vnet::vhost {

class SharedBufferPool final : public BufferPool {
 public:
  // False when the shared memory cannot hold count buffers.
  bool init(SharedMemory& memory, size_t count, uint32_t buffer_size);

  PacketBuffer* alloc() override {
    if (free_.empty()) {
      ++alloc_failures_;
      return nullptr;
    }
    PacketBuffer* b = free_.back();
    free_.pop_back();
    lent_[static_cast<size_t>(b - buffers_.data())] = 1;
    return b;
  }
  void free(PacketBuffer* b) override;

  size_t capacity() const { return buffers_.size(); }
  size_t available() const { return free_.size(); }
  bool all_returned() const { return free_.size() == buffers_.size(); }
  uint64_t bad_frees() const { return bad_frees_; }
  uint64_t alloc_failures() const { return alloc_failures_; }

 private:
  std::vector<PacketBuffer> buffers_;
  std::vector<PacketBuffer*> free_;
  std::vector<uint8_t> lent_;
  uint64_t bad_frees_ = 0;
  uint64_t alloc_failures_ = 0;
};

}  // namespace vnet::vhost
