// MockBufferPool: the caller's BufferPool (driver/net/packet_buffer.h) for
// tests and benchmarks, over GuestMemory.
//
// N fixed-size buffers (2048 bytes by default) carved from one guest-memory
// allocation, so the device can reach every one. Ownership is tracked per
// buffer (in the pool or lent out), which turns the driver's ownership
// contract into something a test can assert:
//
//   alloc()  -> lent (nullptr when empty or the alloc budget is spent)
//   free(b)  -> back; a buffer already in the pool is a double free, a
//               pointer the pool never lent is a foreign free: both are
//               counted and otherwise ignored
//   all_returned()  every buffer is back (after stop(): no leak)
//
// alloc() and free() are O(1) and do not allocate (a stack of indices).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <span>
#include <vector>

#include "driver/net/packet_buffer.h"
#include "mock_device/guest_memory.h"

namespace vnet::mock {

class MockBufferPool final : public BufferPool {
 public:
  static constexpr uint32_t kDefaultBufferSize = 2048;

  MockBufferPool(GuestMemory& memory, size_t count, uint32_t buffer_size = kDefaultBufferSize);
  ~MockBufferPool();
  MockBufferPool(const MockBufferPool&) = delete;
  MockBufferPool& operator=(const MockBufferPool&) = delete;

  PacketBuffer* alloc() override;
  void free(PacketBuffer* buffer) override;

  // A buffer holding frame at offset kTxHeadroom, ready for tx_burst();
  // nullptr when the pool is empty or the frame does not fit.
  PacketBuffer* alloc_tx(std::span<const uint8_t> frame);

  // Further alloc() calls that may succeed (-1: unlimited). Simulates an
  // exhausted network stack.
  void set_alloc_budget(int64_t budget) { budget_ = budget; }

  size_t capacity() const { return buffers_.size(); }
  size_t available() const { return free_.size(); }
  size_t outstanding() const { return buffers_.size() - free_.size(); }
  bool all_returned() const { return free_.size() == buffers_.size(); }
  uint32_t buffer_size() const { return buffer_size_; }
  uint64_t double_frees() const { return double_frees_; }
  uint64_t foreign_frees() const { return foreign_frees_; }
  uint64_t alloc_failures() const { return alloc_failures_; }
  // Indices of the buffers currently lent out.
  std::vector<size_t> lent() const;
  bool is_lent(const PacketBuffer* buffer) const;

 private:
  bool index_of(const PacketBuffer* buffer, size_t* index) const;

  GuestMemory& memory_;
  GuestMemory::Allocation block_{};
  uint32_t buffer_size_;
  std::vector<PacketBuffer> buffers_;
  std::vector<uint8_t> lent_;
  std::vector<uint32_t> free_;
  int64_t budget_ = -1;
  uint64_t double_frees_ = 0;
  uint64_t foreign_frees_ = 0;
  uint64_t alloc_failures_ = 0;
};

}  // namespace vnet::mock
