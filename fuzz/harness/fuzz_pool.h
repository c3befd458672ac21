// FuzzPool: the caller's BufferPool for the fuzz targets, with the
// ownership oracle (b) built in.
//
//   GuestMemory block (allocated once per process, reused by every input)
//   +----------+----------+----------+-- ... --+----------+
//   | buffer 0 | buffer 1 | buffer 2 |         | buffer N-1|   buffer_size each
//   +----------+----------+----------+-- ... --+----------+
//   state per buffer:  in pool | lent to the driver (or the stack)
//                      device-owned (set by OraclePlatform while a chain
//                      that points into the buffer is published)
//
// Under ASan every buffer in the pool is poisoned (manual poisoning,
// sanitizer/asan_interface.h) and unpoisoned when alloc() lends it: a
// driver that touches a buffer after giving it back -- or one it never got
// -- is reported by ASan as a use-after-poison at the guilty access.
//
// free() of a buffer that is already in the pool (returned twice), of a
// pointer the pool never lent (foreign), or of a buffer the device still
// owns is a finding, reported at the guilty call. reset() starts every input
// from the same state: all buffers back, in the same order, and every buffer
// lent during the previous input zeroed, so that no bytes carry over from
// one input to the next.
#pragma once

#include <stdint.h>

#include <vector>

#include "driver/net/packet_buffer.h"
#include "mock_device/guest_memory.h"

namespace vnet::fuzz {

class FuzzPool final : public BufferPool {
 public:
  FuzzPool(mock::GuestMemory& memory, uint32_t count, uint32_t buffer_size);
  FuzzPool(const FuzzPool&) = delete;
  FuzzPool& operator=(const FuzzPool&) = delete;

  // Start of an input: every buffer in the pool, canonical order, clean.
  // alloc_budget: further alloc() calls that may succeed (-1: unlimited).
  void reset(int32_t alloc_budget = -1);

  PacketBuffer* alloc() override;
  void free(PacketBuffer* buffer) override;

  // Index of the buffer whose memory holds p.
  bool index_of(const void* p, uint32_t* index) const {
    const uintptr_t off = reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(host_);
    if (off >= uintptr_t{count_} * buffer_size_) return false;
    *index = static_cast<uint32_t>(off / buffer_size_);
    return true;
  }
  // True when [p, p + len) lies inside one buffer (its index in *index).
  bool span_of(const void* p, size_t len, uint32_t* index) const {
    if (!index_of(p, index)) return false;
    const uintptr_t off = reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(host_);
    return len <= uintptr_t{*index + 1} * buffer_size_ - off;
  }
  void set_device_owned(uint32_t index, bool owned) { device_owned_[index] = owned ? 1 : 0; }
  bool device_owned(uint32_t index) const { return device_owned_[index] != 0; }
  // Buffers lent to the device (a scatter-gather frame lends several).
  uint32_t device_owned_count() const {
    uint32_t n = 0;
    for (uint8_t o : device_owned_) n += o;
    return n;
  }
  void clear_device_owned();

  uint32_t capacity() const { return count_; }
  uint32_t buffer_size() const { return buffer_size_; }
  uint32_t outstanding() const { return count_ - static_cast<uint32_t>(free_.size()); }
  void set_alloc_budget(int32_t budget) { budget_ = budget; }
  // The device model runs (a DMA of the mock device, not the driver): a
  // device that lied about a completion may still write into or read from
  // a buffer the driver legitimately took back. Buffers returned since the
  // device began to lie (set_device_lies) and since its last acknowledged
  // reset (clear_device_owned) are suspects: between device_dma_begin()
  // and device_dma_end() (World::DeviceDma) a suspect the device reaches
  // (device_reach, called for every range the device translates) is
  // unpoisoned, and poisoned again at the end if still in the pool. Every
  // other returned buffer stays poisoned.
  void set_device_lies() { device_lies_ = true; }
  // The device rewrote descriptors: it may point them at any buffer of the
  // pool, so every buffer in the pool is unpoisoned while it runs (until
  // reset()).
  void set_device_reaches_all() { device_reaches_all_ = true; }
  void device_dma_begin() { ++dma_depth_; }
  void device_dma_end();
  void device_reach(const uint8_t* p, uint64_t len);
  // True when returned buffers are poisoned (an ASan build).
  // ASan manual poisoning of any memory (no-ops without ASan).
  static void poison_bytes(void* p, size_t len);
  static void unpoison_bytes(void* p, size_t len);
  static bool poisoning();
  // True when the byte at p is poisoned (always false without ASan).
  static bool poisoned(const void* p);

 private:
  mock::GuestMemory::Allocation block_{};
  uint8_t* host_ = nullptr;
  uint32_t count_;
  uint32_t buffer_size_;
  int32_t budget_ = -1;
  std::vector<PacketBuffer> buffers_;
  std::vector<uint8_t> lent_;
  std::vector<uint8_t> dirty_;
  std::vector<uint8_t> device_owned_;
  std::vector<uint32_t> free_;
  bool device_lies_ = false;
  bool device_reaches_all_ = false;
  std::vector<uint8_t> suspect_;
  std::vector<uint32_t> suspects_;
  bool primed_ = false;  // every buffer poisoned once (the first reset)
  uint32_t dma_depth_ = 0;
  std::vector<uint8_t> opened_;  // unpoisoned for the device in this scope
  std::vector<uint32_t> opened_list_;
};

}  // namespace vnet::fuzz
