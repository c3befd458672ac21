// MockPlatform: the driver's platform shim (driver/platform/platform.h) on
// top of a MockDevice and its GuestMemory.
//
//   VirtioNet / transports (driver)
//        | reg_read/reg_write(region, offset, width)    dma_alloc/dma_free
//        v                                               |
//   MockPlatform --- kPciConfig -> device.pci_config_*   +-> GuestMemory
//                --- kBar0..5   -> device.bar_*               allocate/free
//                --- kMmio      -> device.mmio_* (an MMIO flavour; others read all ones)
//        fetch(): a volatile-safe copy out of guest memory (the driver's one
//                 door for device-written memory); a source outside the
//                 arena is a driver bug and is counted
//        barrier(): std::atomic_thread_fence
//        wait_interrupt(): true when the device has an ISR bit pending, or
//                 an interrupt waits for delivery
//        msi_messages(), line_interrupt(), arm_interrupts(): off by default
//                 (a polling platform); set_msi_vectors() / set_line() offer
//                 them. The device's interrupts (MockDevice::InterruptRecord)
//                 arrive here: an MSI whose address/data is one of the
//                 messages handed out becomes vector i, one that is not is
//                 counted (bad_msis: the driver wrote a wrong table entry);
//                 INTx is level: delivered while the device holds its line.
//                 Delivered to the handler (set_interrupt_handler) either at
//                 once, inside whatever device access raised it (as hardware
//                 would), or queued until deliver_interrupts().
//        now_ns(): steady_clock, or an injected fake clock
//        log(): lines collected (bounded), optionally echoed to stderr
//
// The device runs synchronously inside reg_write (a notify processes the
// transmit queue before the write returns), so one thread drives both sides.
#pragma once

#include <stdint.h>

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "driver/platform/platform.h"
#include "mock_device/guest_memory.h"
#include "mock_device/mock_device.h"

namespace vnet::mock {

struct LogLine {
  LogLevel level;
  std::string text;
};

class MockPlatform final : public Platform {
 public:
  static constexpr size_t kMaxLogLines = 4096;

  MockPlatform(MockDevice& device, GuestMemory& memory);

  uint32_t reg_read(Region region, uint32_t offset, uint8_t width) override;
  void reg_write(Region region, uint32_t offset, uint8_t width, uint32_t value) override;
  BarInfo bar_info(uint8_t bar) override {
    ++shim_calls_;
    return device_.bar_info(bar);
  }

  bool dma_alloc(size_t size, size_t align, DmaRegion* out) override;
  void dma_free(const DmaRegion& region) override;
  bool dma_map(uint8_t* cpu, uint64_t phys, uint32_t len, DmaDirection dir,
               DmaMapping* out) override;
  void dma_unmap(const DmaMapping& m, uint8_t* cpu, uint32_t device_len, DmaDirection dir) override;

  void fetch(const DeviceMemRef& what, const volatile void* src, void* dst, size_t len) override;
  void frame_in_place(uint16_t queue, uint16_t desc, void* data, uint32_t len) override;
  void published(const PublishedChain& chain) override;
  void completed(uint16_t queue, uint16_t head, uint32_t len) override;

  void barrier(Barrier kind) override;
  bool wait_interrupt(uint64_t timeout_ns) override;
  uint64_t now_ns() override;
  void log(LogLevel level, const char* message) override;

  // ---- interrupts ----
  uint16_t msi_messages(uint16_t max, MsiMessage* out) override;
  bool line_interrupt() override;
  void arm_interrupts(InterruptMode mode, uint16_t vectors) override;
  // What the platform offers: n MSI vectors (messages 0xFEE00000 /
  // kMsiDataBase + i) and whether the line is routed. Default: neither.
  static constexpr uint32_t kMsiDataBase = 0x4040;
  void set_msi_vectors(uint16_t n) { msi_vectors_ = n < kMaxMsiVectors ? n : kMaxMsiVectors; }
  void set_line(bool routed) { line_routed_ = routed; }
  using InterruptHandler = std::function<void(IrqSource)>;
  // synchronous: the handler runs inside the device access that raised the
  // interrupt (a line: again while the device keeps it asserted, at most
  // kMaxLineRepeats times); otherwise interrupts queue for
  // deliver_interrupts().
  static constexpr uint32_t kMaxLineRepeats = 10000;  // QEMU's I/O APIC gives up there too
  void set_interrupt_handler(InterruptHandler handler, bool synchronous = false);
  // Delivers up to max queued interrupts (MSI vectors in arrival order,
  // foreign line pulses, then the line while the device asserts it);
  // returns how many.
  size_t deliver_interrupts(size_t max = 256);
  bool interrupt_waiting() const;
  InterruptMode armed_mode() const { return armed_mode_; }
  uint16_t armed_vectors() const { return armed_vectors_; }
  uint64_t arm_calls() const { return arm_calls_; }
  uint64_t delivered() const { return delivered_; }
  uint64_t bad_msis() const { return bad_msis_; }        // no such message handed out
  uint64_t unarmed_msis() const { return unarmed_; }     // a vector not armed (masked)
  uint64_t msi_queue_drops() const { return dropped_; }  // queue full

  // A fake clock: now_ns() returns clock(). Pass nullptr for steady_clock.
  void set_clock(std::function<uint64_t()> clock) { clock_ = std::move(clock); }
  // Echo log lines at or above level to stderr.
  void set_log_echo(bool echo, LogLevel max_level = LogLevel::kInfo) {
    echo_ = echo;
    echo_level_ = max_level;
  }
  // Fail dma_alloc() after this many more successful calls (-1: never).
  void set_dma_budget(int64_t budget) { dma_budget_ = budget; }
  // IOMMU mode: dma_map() hands out IOVAs from the device's DmaMappings
  // (never the buffer's physical address) and dma_alloc() regions are
  // registered as coherent; a device that negotiated ACCESS_PLATFORM then
  // reaches memory only through live mappings. Off: identity mappings.
  void set_iommu(bool on) {
    iommu_ = on;
    device_.dma_mappings().set_enabled(on);
  }
  // Fail dma_map() after this many more successful calls (-1: never).
  void set_map_budget(int64_t budget) { map_budget_ = budget; }
  // A lying platform (IOMMU mode only): every mapping is revoked as soon as
  // it is made, and the driver is handed the buffer's physical address
  // (kLeakPhysical: an address never mapped) or the revoked IOVA
  // (kUnmapAtOnce). The device must report every such access (6.1).
  enum class MapLie : uint8_t { kNone, kLeakPhysical, kUnmapAtOnce };
  void set_map_lie(MapLie lie) { map_lie_ = lie; }

  const std::vector<LogLine>& log_lines() const { return log_; }
  void clear_log() { log_.clear(); }
  size_t dma_live() const { return dma_live_; }
  uint64_t dma_live_bytes() const { return dma_live_bytes_; }
  // Shim calls the driver made, all kinds together, and register accesses.
  uint64_t shim_calls() const { return shim_calls_; }
  uint64_t reg_reads() const { return reg_reads_; }
  uint64_t reg_writes() const { return reg_writes_; }
  uint64_t fetches() const { return fetches_; }
  uint64_t fetches_outside() const { return fetches_outside_; }
  uint64_t frames_in_place() const { return frames_in_place_; }
  uint64_t chains_published() const { return published_; }
  uint64_t completions() const { return completed_; }
  uint64_t bad_dma_frees() const { return bad_dma_frees_; }
  // Barriers issued, by kind (ORDER_PLATFORM switches to the DMA kinds).
  uint64_t barriers(Barrier kind) const { return barriers_[static_cast<uint8_t>(kind)]; }
  uint64_t dma_maps() const { return dma_maps_; }
  uint64_t dma_unmaps() const { return dma_unmaps_; }
  // Mappings made and not yet unmapped (0 after stop(): nothing leaked).
  int64_t dma_maps_live() const { return int64_t(dma_maps_) - int64_t(dma_unmaps_); }
  uint64_t bad_dma_unmaps() const { return bad_dma_unmaps_; }

 private:
  MockDevice& device_;
  GuestMemory& memory_;
  std::function<uint64_t()> clock_;
  std::vector<LogLine> log_;
  bool echo_ = false;
  LogLevel echo_level_ = LogLevel::kInfo;
  int64_t dma_budget_ = -1;
  size_t dma_live_ = 0;
  uint64_t dma_live_bytes_ = 0;
  uint64_t shim_calls_ = 0;
  uint64_t reg_reads_ = 0;
  uint64_t reg_writes_ = 0;
  MapLie map_lie_ = MapLie::kNone;
  uint64_t fetches_ = 0;
  uint64_t fetches_outside_ = 0;
  uint64_t frames_in_place_ = 0;
  uint64_t published_ = 0;
  uint64_t completed_ = 0;
  uint64_t bad_dma_frees_ = 0;
  bool iommu_ = false;
  uint64_t barriers_[kNumBarrierKinds] = {};
  int64_t map_budget_ = -1;
  uint64_t dma_maps_ = 0;
  uint64_t dma_unmaps_ = 0;
  uint64_t bad_dma_unmaps_ = 0;
  // Interrupts.
  void on_device_interrupt(const InterruptRecord& r);
  void run_handler(IrqSource source);
  static constexpr size_t kMaxQueued = 1 << 16;
  uint16_t msi_vectors_ = 0;
  bool line_routed_ = false;
  InterruptMode armed_mode_ = InterruptMode::kPolling;
  uint16_t armed_vectors_ = 0;
  uint64_t arm_calls_ = 0;
  InterruptHandler handler_;
  bool synchronous_ = false;
  bool in_handler_ = false;
  std::deque<IrqSource> queued_;
  uint64_t delivered_ = 0;
  uint64_t bad_msis_ = 0;
  uint64_t unarmed_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace vnet::mock
