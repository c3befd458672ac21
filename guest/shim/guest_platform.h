// The guest's vnet::Platform: the driver's shim on real (emulated) hardware.
//
//   driver call                 what happens here
//   -------------------------   -------------------------------------------
//   reg_read/write(kPciConfig)  configuration mechanism #1 on the bound
//                               function (0xCF8/0xCFC), first 256 bytes
//   reg_read/write(kBarN)       I/O BAR: in/out at base + offset
//                               memory BAR: volatile load/store, mapped
//                               uncached at bind()
//   bar_info(n)                 decoded and sized by pci::decode_bars()
//   dma_alloc/free              PhysAllocator; identity mapped, so the CPU
//                               address is the device address
//   fetch()                     naturally aligned volatile loads (a 16-bit
//                               index is read in one access), into dst
//   barrier()                   x86 TSO: compiler barrier for kRead and
//                               kWrite on write-back memory, mfence for kFull
//   now_ns()                    TSC calibrated against the PIT
//   log()                       the serial console
//
// Accesses outside a BAR or outside config space are refused (reads give
// all ones) and counted: the driver validated them already, so a count
// above zero is a driver bug worth reporting.
#pragma once

#include <stdint.h>

#include "driver/platform/platform.h"
#include "guest/kernel/pci.h"

namespace guest {

class GuestPlatform final : public vnet::Platform {
 public:
  // Binds the shim to one decoded PCI function and maps its memory BARs.
  // Returns false when a memory BAR cannot be mapped.
  bool bind(const pci::Function& function);
  void set_log_level(vnet::LogLevel level) { log_level_ = level; }

  uint32_t reg_read(vnet::Region region, uint32_t offset, uint8_t width) override;
  void reg_write(vnet::Region region, uint32_t offset, uint8_t width, uint32_t value) override;
  vnet::BarInfo bar_info(uint8_t bar) override;
  bool dma_alloc(size_t size, size_t align, vnet::DmaRegion* out) override;
  void dma_free(const vnet::DmaRegion& region) override;
  void fetch(const vnet::DeviceMemRef& what, const volatile void* src, void* dst,
             size_t len) override;
  void barrier(vnet::Barrier kind) override;
  uint64_t now_ns() override;
  void log(vnet::LogLevel level, const char* message) override;

  uint64_t refused_accesses() const { return refused_; }
  uint64_t dma_bytes_in_use() const { return dma_in_use_; }

 private:
  bool bar_window(vnet::Region region, uint32_t offset, uint8_t width, const pci::Bar** bar);

  pci::Function function_{};
  bool bound_ = false;
  vnet::LogLevel log_level_ = vnet::LogLevel::kInfo;
  uint64_t refused_ = 0;
  uint64_t dma_in_use_ = 0;
};

}  // namespace guest
