// VhostUserPlatform: the platform shim of the vhost-user world (the fifth
// world; docs/vhost-user.md). The driver runs unchanged above it, over the
// virtio-mmio transport, against a real back end in another process:
//
//   reg_read / reg_write (Region::kMmio)  -> VhostUserDevice (the window)
//   dma_alloc / dma_free                  -> SharedMemory (the memfd the
//                                            back end maps; device address
//                                            == our pointer)
//   fetch                                 -> natural-width loads from the
//                                            shared memory, bounds-checked
//   barrier                               -> SMP barriers (the back end is
//                                            another CPU, never DMA hardware)
//   wait_interrupt                        -> poll() on the call eventfds
//
// Memory ordering: the back end polls the rings from another core, so
// kWrite/kRead are compiler barriers and kFull an mfence on x86 (as in the
// mock world); reg_write of QueueNotify is an eventfd write(), a system
// call, which orders everything before it.
//
// Threading: as the Platform contract says (platform.h); the window's
// registers are touched by the control path only, QueueNotify excepted.
#pragma once

#include <stdint.h>

#include "driver/platform/platform.h"
#include "vhost/shared_memory.h"
#include "vhost/vhost_user_device.h"

namespace vnet::vhost {

class VhostUserPlatform final : public Platform {
 public:
  VhostUserPlatform(VhostUserDevice& device, SharedMemory& memory)
      : device_(device), memory_(memory) {}

  uint32_t reg_read(Region region, uint32_t offset, uint8_t width) override;
  void reg_write(Region region, uint32_t offset, uint8_t width, uint32_t value) override;
  BarInfo bar_info(uint8_t bar) override {
    (void)bar;
    return BarInfo{};
  }
  bool dma_alloc(size_t size, size_t align, DmaRegion* out) override;
  void dma_free(const DmaRegion& region) override;
  void fetch(const DeviceMemRef& what, const volatile void* src, void* dst, size_t len) override;
  void barrier(Barrier kind) override;
  bool wait_interrupt(uint64_t timeout_ns) override;
  uint64_t now_ns() override;
  void log(LogLevel level, const char* message) override;

  // Messages at this level and more severe go to stderr (default kWarn).
  void set_log_level(LogLevel level) { log_level_ = level; }
  uint64_t fetches_outside() const { return fetches_outside_; }

 private:
  VhostUserDevice& device_;
  SharedMemory& memory_;
  LogLevel log_level_ = LogLevel::kWarn;
  uint64_t fetches_outside_ = 0;
};

}  // namespace vnet::vhost
