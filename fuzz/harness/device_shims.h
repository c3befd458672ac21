// The two device sides of the fuzz targets, under OraclePlatform:
//
//   FuzzMockPlatform   the mock device model (mock_device/) plays the device:
//                      registers go to MockDevice, fetches copy what it
//                      wrote into GuestMemory. PCI configuration bytes can be
//                      patched by the input (fuzz_config's capabilities).
//   BoundaryPlatform   the input plays the device: every register read,
//                      bar_info, fetch and frame_in_place is answered with
//                      the next input bytes, afresh on every call.
//
// BoundaryPlatform's answers, consumed from the value stream in call order:
//
//   reg_read(width w)      w bytes, little-endian
//   bar_info               1 byte: bit 0 present, bit 1 I/O, bits 2..7 = k,
//                          size = 1 << k (k = 0: size 0)
//   fetch(len)             len bytes
//   frame_in_place(len)    1 byte n, then min(n * 8, len) bytes; the rest of
//                          the frame reads zero
//   wait_interrupt         1 byte: bit 0 = an interrupt arrived
//   (end of input)         zeros from then on: status reads 0, rings look
//                          empty, so the driver winds down
//
// Both allocate DMA memory from the same GuestMemory as the pool, so
// descriptors carry device addresses and pointers can be checked.
#pragma once

#include <stdint.h>

#include "driver/platform/platform.h"
#include "fuzz/harness/input.h"
#include "mock_device/guest_memory.h"
#include "mock_device/mock_device.h"

namespace vnet::fuzz {

// DMA memory, the clock and the log, shared by both shims. dma_map() and
// dma_unmap() are the Platform defaults (identity: the device is told the
// buffer's own address) unless a shim says otherwise.
class ShimBase : public Platform {
 public:
  explicit ShimBase(mock::GuestMemory& memory) : memory_(memory) {}
  bool dma_alloc(size_t size, size_t align, DmaRegion* out) override;
  void dma_free(const DmaRegion& region) override;
  void barrier(Barrier kind) override { (void)kind; }
  // 1 us per call, from 0 for every input: deterministic, so a trace of
  // the run replays. The driver's deadlines are scaled to it
  // (fuzz_net_options(), setups.h).
  uint64_t now_ns() override { return clock_ += 1000; }
  uint64_t clock() const { return clock_; }
  void log(LogLevel level, const char* message) override;
  // Echo driver log lines to stderr (VNET_FUZZ_VERBOSE).
  static void set_verbose(bool verbose);
  // A platform short of memory: at most alloc more dma_alloc() calls and
  // map more dma_map() calls succeed (-1: no limit).
  void set_budgets(int alloc, int map) {
    alloc_budget_ = alloc;
    map_budget_ = map;
  }

 protected:
  // Takes one from a budget; false when it is spent.
  static bool take(int& budget) {
    if (budget == 0) return false;
    if (budget > 0) --budget;
    return true;
  }
  mock::GuestMemory& memory_;
  uint64_t clock_ = 0;
  int alloc_budget_ = -1;
  int map_budget_ = -1;
};

struct PciPatch {
  uint8_t offset;
  uint8_t value;
};

class FuzzMockPlatform final : public ShimBase {
 public:
  static constexpr int kMaxPatches = 8;

  // The platform has an IOMMU (MockPlatform::set_iommu): a device that
  // negotiated ACCESS_PLATFORM translates every address through it.
  FuzzMockPlatform(mock::MockDevice& device, mock::GuestMemory& memory)
      : ShimBase(memory), device_(device) {
    device_.dma_mappings().set_enabled(true);
  }

  // DMA regions (rings) are registered with the device's IOMMU as
  // coherent; a buffer mapped while the device has ACCESS_PLATFORM
  // negotiated gets an IOVA from it (identity otherwise: the device then
  // uses physical addresses), so that the device reaches only what the
  // driver mapped, and nothing after it was unmapped.
  bool dma_alloc(size_t size, size_t align, DmaRegion* out) override;
  void dma_free(const DmaRegion& region) override;
  bool dma_map(uint8_t* cpu, uint64_t phys, uint32_t len, DmaDirection dir,
               DmaMapping* out) override;
  void dma_unmap(const DmaMapping& m, uint8_t* cpu, uint32_t device_len, DmaDirection dir) override;

  uint32_t reg_read(Region region, uint32_t offset, uint8_t width) override;
  void reg_write(Region region, uint32_t offset, uint8_t width, uint32_t value) override;
  BarInfo bar_info(uint8_t bar) override { return device_.bar_info(bar); }
  void fetch(const DeviceMemRef& what, const volatile void* src, void* dst, size_t len) override;
  bool wait_interrupt(uint64_t) override { return device_.interrupt_pending(); }

  // Interrupts (issue 12): a platform that can deliver `vectors` MSI-X
  // messages and/or a routed INTx line (offer_interrupts; default neither,
  // a polling platform). What the device sends is kept until the harness
  // delivers it (take_interrupt): an MSI whose message is one handed out
  // and armed becomes its vector; the level line is pending while the
  // device holds it; anything else is counted and dropped, as an interrupt
  // controller would.
  static constexpr uint32_t kMsiDataBase = 0x4040;
  static constexpr int kMaxPending = 32;
  void offer_interrupts(uint16_t vectors, bool line);
  uint16_t msi_messages(uint16_t max, MsiMessage* out) override;
  bool line_interrupt() override { return line_; }
  void arm_interrupts(InterruptMode mode, uint16_t vectors) override;
  // The next interrupt to deliver, if any.
  bool take_interrupt(IrqSource* out);
  InterruptMode armed_mode() const { return armed_; }

  // PCI configuration bytes the input overrides (at most kMaxPatches).
  bool add_patch(PciPatch p);
  int patches() const { return num_patches_; }
  // The next n reads of config_generation (modern common configuration)
  // each return a new value: the device config keeps changing under the
  // driver's reads.
  void churn_generation(uint32_t n) { churn_ = n; }

 private:
  void on_device_interrupt(const mock::InterruptRecord& r);

  mock::MockDevice& device_;
  PciPatch patches_[kMaxPatches] = {};
  int num_patches_ = 0;
  uint32_t churn_ = 0;
  uint16_t msi_vectors_ = 0;
  bool line_ = false;
  InterruptMode armed_ = InterruptMode::kPolling;
  uint16_t armed_vectors_ = 0;
  IrqSource pending_[kMaxPending] = {};
  int num_pending_ = 0;
};

// bar_info's answer byte (above), shared with TypedBoundaryPlatform.
BarInfo bar_info_from_byte(uint8_t b);

class BoundaryPlatform final : public ShimBase {
 public:
  BoundaryPlatform(Input& values, mock::GuestMemory& memory) : ShimBase(memory), in_(values) {}

  uint32_t reg_read(Region region, uint32_t offset, uint8_t width) override;
  void reg_write(Region, uint32_t, uint8_t, uint32_t) override {}
  BarInfo bar_info(uint8_t bar) override;
  void fetch(const DeviceMemRef& what, const volatile void* src, void* dst, size_t len) override;
  void frame_in_place(uint16_t queue, uint16_t desc, void* data, uint32_t len) override;
  bool wait_interrupt(uint64_t) override { return (in_.u8() & 1) != 0; }
  // The platform's interrupt resources, from the input as well (0..3
  // messages; a routed line or not).
  uint16_t msi_messages(uint16_t max, MsiMessage* out) override;
  bool line_interrupt() override { return (in_.u8() & 1) != 0; }

 private:
  Input& in_;
};

}  // namespace vnet::fuzz
