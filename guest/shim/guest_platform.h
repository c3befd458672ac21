// The guest's vnet::Platform: the driver's shim on real (emulated) hardware.
//
//   driver call                 what happens here
//   -------------------------   -------------------------------------------
//   reg_read/write(kPciConfig)  configuration mechanism #1 on the bound
//                               function (0xCF8/0xCFC), first 256 bytes
//   reg_read/write(kBarN)       I/O BAR: in/out at base + offset
//                               memory BAR: volatile load/store, mapped
//                               uncached at bind()
//   reg_read/write(kMmio)       a virtio-mmio window (bind_mmio()):
//                               volatile load/store at base + offset,
//                               mapped uncached
//   bar_info(n)                 decoded and sized by pci::decode_bars();
//                               none on a virtio-mmio window
//   dma_alloc/free              PhysAllocator; identity mapped, so the CPU
//                               address is the device address
//   fetch()                     naturally aligned volatile loads (a 16-bit
//                               index is read in one access), into dst
//   barrier()                   x86 TSO: compiler barrier for kRead and
//                               kWrite on write-back memory, mfence for kFull
//   now_ns()                    TSC calibrated against the PIT
//   log()                       the serial console
//   msi_messages()              IDT vectors allocated once (idt.h), each
//                               composed into an MSI message for this CPU's
//                               local APIC (msi.h); the driver writes them
//                               into the NIC's MSI-X table
//   line_interrupt()            the NIC's INTx route (pci_intx.h), or its
//                               virtio-mmio line (virtio_mmio.h), programmed
//                               into the I/O APIC, masked, on a vector of
//                               its own; false without a known route
//   arm_interrupts()            unmasks the I/O APIC pin (kIntx), or masks
//                               it; vectors beyond those armed are ignored
//
// Interrupts reach the driver through the handler given to
// set_interrupt_handler(): the IDT dispatcher calls it with the source
// (vector i, or the line) and sends the EOI after it returns, so a level
// line is acknowledged at the device (ISR read) before the EOI. Handlers
// run only inside cpu::wait_for_interrupt() / poll_interrupts() (IF = 0
// elsewhere), never in the middle of a driver call: the driver's interrupt
// context never overlaps its other contexts here.
//
// The shim is bound to one device: a PCI function (bind()) or a
// virtio-mmio window (bind_mmio()); the other kind's regions are refused.
// Accesses outside a BAR, the window or config space are refused (reads
// give all ones) and counted: the driver validated them already, so a count
// above zero is a driver bug worth reporting.
#pragma once

#include <stdint.h>

#include "driver/platform/platform.h"
#include "guest/kernel/pci.h"
#include "guest/kernel/pci_intx.h"

namespace guest {

class GuestPlatform final : public vnet::Platform {
 public:
  // Binds the shim to one decoded PCI function and maps its memory BARs.
  // Returns false when a memory BAR cannot be mapped.
  bool bind(const pci::Function& function);
  // Binds the shim to a virtio-mmio window [base, base + size) and maps it
  // uncached. Its line, if it has one, comes through set_line_route().
  // Returns false when the window cannot be mapped.
  bool bind_mmio(uint64_t base, uint64_t size);
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

  // ---- interrupts ----
  // Which interrupts this platform may offer (the guest's irq= option):
  // MSI messages only with msi, the line only with line.
  void allow_interrupts(bool msi, bool line) {
    allow_msi_ = msi;
    allow_line_ = line;
  }
  // The NIC's INTx route, worked out by the caller before the driver
  // starts (before the PCI command-register write): line_interrupt() then
  // reads nothing of configuration space itself, so that every access
  // after the driver's start in a QEMU capture is the driver's
  // (docs/qemu-capture.md, "driver_start"). Without it, line_interrupt()
  // reads the route (interrupt pin and line) when first asked. A
  // virtio-mmio window's line is known only this way (its GSI, level,
  // active-high: virtio_mmio.h).
  void set_line_route(const pci_intx::Route& route) {
    line_route_ = route;
    line_route_known_ = true;
  }
  using IrqHandler = void (*)(void* context, vnet::IrqSource source);
  void set_interrupt_handler(IrqHandler handler, void* context) {
    handler_ = handler;
    handler_context_ = context;
  }
  uint16_t msi_messages(uint16_t max, vnet::MsiMessage* out) override;
  bool line_interrupt() override;
  void arm_interrupts(vnet::InterruptMode mode, uint16_t vectors) override;
  vnet::InterruptMode armed_mode() const { return armed_mode_; }
  uint32_t line_gsi() const { return line_gsi_; }
  uint8_t line_vector() const { return line_vector_; }
  // Deliveries of the NIC's vectors and line, and those that came while
  // not armed (ignored).
  uint64_t irq_delivered() const { return irq_delivered_; }
  uint64_t irq_unarmed() const { return irq_unarmed_; }

  uint64_t refused_accesses() const { return refused_; }
  uint64_t dma_bytes_in_use() const { return dma_in_use_; }

 private:
  enum class Bound : uint8_t { kNone, kPci, kMmio };
  bool bar_window(vnet::Region region, uint32_t offset, uint8_t width, const pci::Bar** bar);
  bool mmio_window(vnet::Region region, uint32_t offset, uint8_t width, uintptr_t* addr);
  static void on_vector(void* context, uint8_t vector);
  void dispatch(vnet::IrqSource source);

  struct VectorSlot {
    GuestPlatform* platform = nullptr;
    uint16_t index = 0;  // the driver's vector number; 0xFFFF: the line
  };

  pci::Function function_{};
  Bound bound_ = Bound::kNone;
  uint64_t mmio_base_ = 0;
  uint64_t mmio_size_ = 0;
  vnet::LogLevel log_level_ = vnet::LogLevel::kInfo;
  uint64_t refused_ = 0;
  uint64_t dma_in_use_ = 0;
  // Interrupts.
  bool allow_msi_ = false;
  bool allow_line_ = false;
  IrqHandler handler_ = nullptr;
  void* handler_context_ = nullptr;
  VectorSlot msi_slots_[vnet::kMaxMsiVectors] = {};
  uint8_t msi_idt_[vnet::kMaxMsiVectors] = {};  // IDT vector of each driver vector
  uint16_t msi_count_ = 0;                      // allocated so far
  VectorSlot line_slot_{};
  bool line_routed_ = false;
  pci_intx::Route line_route_{};
  bool line_route_known_ = false;
  uint32_t line_gsi_ = 0;
  uint8_t line_vector_ = 0;
  vnet::InterruptMode armed_mode_ = vnet::InterruptMode::kPolling;
  uint16_t armed_vectors_ = 0;
  uint64_t irq_delivered_ = 0;
  uint64_t irq_unarmed_ = 0;
};

}  // namespace guest
