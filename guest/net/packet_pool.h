// A fixed pool of packet buffers over the physical allocator: the
// vnet::BufferPool the driver borrows rx and tx buffers from.
//
//   descriptors (PacketBuffer[count])   buffer memory (count x capacity)
//   pool_cookie = this pool's index     one physically contiguous block,
//   owned[] = who holds each buffer     identity mapped: device_addr = base
//
// alloc() and free() are O(1) through a free stack. free() of a buffer that
// is not from this pool or not currently allocated is refused and counted
// (a driver bug, reported at exit), never a corruption of the free stack.
#pragma once

#include <stdint.h>

#include "driver/net/packet_buffer.h"

namespace guest::net {

class PacketPool final : public vnet::BufferPool {
 public:
  // Allocates descriptors and buffer memory; false when memory is short.
  bool init(uint32_t count, uint32_t capacity);

  vnet::PacketBuffer* alloc() override;
  void free(vnet::PacketBuffer* buffer) override;

  uint32_t count() const { return count_; }
  uint32_t available() const { return free_top_; }
  uint32_t capacity() const { return capacity_; }
  uint64_t bad_frees() const { return bad_frees_; }
  uint64_t empty_allocs() const { return empty_allocs_; }

 private:
  vnet::PacketBuffer* buffers_ = nullptr;
  uint32_t* free_stack_ = nullptr;
  bool* owned_ = nullptr;  // true while handed out
  uint32_t count_ = 0;
  uint32_t capacity_ = 0;
  uint32_t free_top_ = 0;
  uint64_t bad_frees_ = 0;
  uint64_t empty_allocs_ = 0;
};

}  // namespace guest::net
