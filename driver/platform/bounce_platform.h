// BouncePlatform: the swiotlb idea for confidential guests, as a decorator
// around any other Platform.
//
//   private memory (encrypted,               shared bounce area (the only
//   the host cannot read or write it)        packet memory the device sees)
//   +--------------------------+   map(tx)   +------+------+------+------+
//   | PacketBuffer (pool)      | ----copy--> | slot | slot | slot | .... |
//   |   header + frame         | <--copy---- |  0   |  1   |  2   |      |
//   +--------------------------+ unmap(rx)   +------+------+------+------+
//                                             one inner.dma_alloc() region
//
// dma_map() takes a free slot, and for a transmit copies the buffer into it
// (the frame the device reads is the one the driver validated and built;
// the host may scribble on the slot but never on the private buffer).
// dma_unmap() of a receive copies at most the device_len bytes the driver
// accepted out of the slot into the private buffer, then frees the slot:
// the driver and the stack only ever read the private copy, so the host
// cannot change a frame after the driver validated it. Rings stay in
// dma_alloc() memory (shared, as in any confidential guest).
//
// Everything else is forwarded to the inner platform unchanged. Bookkeeping
// (which slot is in use, its length) is private; a slot is identified by
// DmaMapping::handle, and a handle that is out of range or not in use (a
// driver bug) is counted and ignored, never trusted.
//
// Threading: dma_map/dma_unmap may be called from the rx and tx contexts
// at once (see virtio_net.h); the slot stack is guarded by a spin lock
// built on compiler atomics (freestanding). All other calls go straight to
// the inner platform, which keeps its own rules.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "driver/platform/platform.h"

namespace vnet {

class BouncePlatform final : public Platform {
 public:
  static constexpr uint32_t kMaxSlots = 4096;

  explicit BouncePlatform(Platform& inner) : inner_(inner) {}

  // Allocates the shared area (slots x slot_size bytes) from the inner
  // platform. slot_size must hold the largest mapping (header + frame);
  // slots should cover every buffer that can be in flight at once (rx ring
  // cap + tx ring cap). Returns false on bad sizes or no DMA memory.
  bool init(uint32_t slot_size, uint32_t slots);
  // Frees the area. Only when no mapping is live (the device was reset).
  void shutdown();

  const DmaRegion& area() const { return area_; }
  uint32_t slot_size() const { return slot_size_; }
  uint32_t slots() const { return slots_; }
  uint32_t slots_in_use() const { return slots_ - free_top_; }
  uint64_t maps() const { return maps_; }
  uint64_t map_failures() const { return map_failures_; }
  uint64_t bad_unmaps() const { return bad_unmaps_; }
  uint64_t bytes_to_device() const { return bytes_to_device_; }
  uint64_t bytes_from_device() const { return bytes_from_device_; }
  // True when [addr, addr + len) lies inside the bounce area.
  bool in_area(uint64_t addr, uint64_t len) const;

  // ---- Platform ----
  uint32_t reg_read(Region region, uint32_t offset, uint8_t width) override {
    return inner_.reg_read(region, offset, width);
  }
  void reg_write(Region region, uint32_t offset, uint8_t width, uint32_t value) override {
    inner_.reg_write(region, offset, width, value);
  }
  BarInfo bar_info(uint8_t bar) override { return inner_.bar_info(bar); }
  bool dma_alloc(size_t size, size_t align, DmaRegion* out) override {
    return inner_.dma_alloc(size, align, out);
  }
  void dma_free(const DmaRegion& region) override { inner_.dma_free(region); }
  bool dma_map(uint8_t* cpu, uint64_t phys, uint32_t len, DmaDirection dir,
               DmaMapping* out) override;
  void dma_unmap(const DmaMapping& m, uint8_t* cpu, uint32_t device_len, DmaDirection dir) override;
  void fetch(const DeviceMemRef& what, const volatile void* src, void* dst, size_t len) override {
    inner_.fetch(what, src, dst, len);
  }
  void frame_in_place(uint16_t queue, uint16_t desc, void* data, uint32_t len) override {
    inner_.frame_in_place(queue, desc, data, len);
  }
  void published(const PublishedChain& chain) override { inner_.published(chain); }
  void completed(uint16_t queue, uint16_t head, uint32_t len) override {
    inner_.completed(queue, head, len);
  }
  void barrier(Barrier kind) override { inner_.barrier(kind); }
  bool wait_interrupt(uint64_t timeout_ns) override { return inner_.wait_interrupt(timeout_ns); }
  uint64_t now_ns() override { return inner_.now_ns(); }
  void log(LogLevel level, const char* message) override { inner_.log(level, message); }
  uint16_t msi_messages(uint16_t max, MsiMessage* out) override {
    return inner_.msi_messages(max, out);
  }
  bool line_interrupt() override { return inner_.line_interrupt(); }
  void arm_interrupts(InterruptMode mode, uint16_t vectors) override {
    inner_.arm_interrupts(mode, vectors);
  }
  void op_begin(DriverOp op) override { inner_.op_begin(op); }
  void op_end(DriverOp op) override { inner_.op_end(op); }

 private:
  void lock();
  void unlock();

  Platform& inner_;
  DmaRegion area_{};
  uint32_t slot_size_ = 0;
  uint32_t slots_ = 0;
  uint32_t free_top_ = 0;  // free_[0, free_top_) are free slot numbers
  int lock_ = 0;
  uint64_t maps_ = 0;
  uint64_t map_failures_ = 0;
  uint64_t bad_unmaps_ = 0;
  uint64_t bytes_to_device_ = 0;
  uint64_t bytes_from_device_ = 0;
  uint16_t free_[kMaxSlots] = {};
  uint32_t mapped_len_[kMaxSlots] = {};  // 0: slot free
};

}  // namespace vnet
