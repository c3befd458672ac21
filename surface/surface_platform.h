// SurfacePlatform: a Platform decorator that counts every device value the
// driver takes (reg_read, bar_info, fetch) in SiteCounts, by the call stack
// that took it, and forwards everything to the platform it wraps unchanged.
//
//   driver --> [OraclePlatform, RecordingPlatform, ...] --> SurfacePlatform --> device side
//
// Because a site is found from the whole stack (site_counts.h), the
// decorator may sit anywhere between the driver and the device side; the
// hook (surface_hook.h) puts it wherever each world's code is simplest.
#pragma once

#include "driver/platform/platform.h"
#include "surface/site_counts.h"

namespace vnet::surface {

class SurfacePlatform final : public Platform {
 public:
  explicit SurfacePlatform(Platform& inner, SiteCounts& counts = SiteCounts::instance())
      : inner_(inner), counts_(counts) {}

  uint32_t reg_read(Region region, uint32_t offset, uint8_t width) override;
  void reg_write(Region region, uint32_t offset, uint8_t width, uint32_t value) override {
    inner_.reg_write(region, offset, width, value);
  }
  BarInfo bar_info(uint8_t bar) override;
  bool dma_alloc(size_t size, size_t align, DmaRegion* out) override {
    return inner_.dma_alloc(size, align, out);
  }
  void dma_free(const DmaRegion& region) override { inner_.dma_free(region); }
  bool dma_map(uint8_t* cpu, uint64_t phys, uint32_t len, DmaDirection dir,
               DmaMapping* out) override {
    return inner_.dma_map(cpu, phys, len, dir, out);
  }
  void dma_unmap(const DmaMapping& m, uint8_t* cpu, uint32_t device_len,
                 DmaDirection dir) override {
    inner_.dma_unmap(m, cpu, device_len, dir);
  }
  void fetch(const DeviceMemRef& what, const volatile void* src, void* dst, size_t len) override;
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
  Platform& inner_;
  SiteCounts& counts_;
};

}  // namespace vnet::surface
