// virtio-mmio transport (virtio 1.2, 4.2), version 2 and the legacy
// version 1 (4.2.4), in one class: the Version register read at probe
// (mmio_probe.h) chooses the protocol once.
//
// The device is a window of 32-bit registers (driver/spec/mmio_layout.h)
// reached through Platform::reg_read/reg_write(Region::kMmio, offset): the
// offset is from the window's base, which the platform maps. No PCI, no
// capabilities, no BARs: the window's size is the caller's (a device tree,
// the kernel command line, a fixed slot), never the device's.
//
//   version 2 (modern)                     version 1 (legacy, 4.2.4)
//   64 feature bits, two selected words    32 feature bits (word 0)
//   FEATURES_OK, read back (net layer)     no FEATURES_OK (is_legacy())
//   QueueNum <= QueueNumMax                QueueNum <= QueueNumMax
//   QueueDesc/Driver/Device Low/High       GuestPageSize, QueueAlign 4096,
//   QueueReady 1, read back                QueuePFN (one contiguous ring)
//   ConfigGeneration                       config read twice and compared
//
// Queue setup (4.2.3.2; legacy 4.2.4): QueueSel; the queue must not be in
// use (v2: QueueReady reads 0; v1: QueuePFN reads 0); QueueNumMax read
// again and the size must not exceed it; QueueNum; the addresses; v2:
// QueueReady = 1, which must read back 1; v1: GuestPageSize and QueueAlign
// before QueuePFN (not read back: no ready bit, and the echo would be an
// address, which traces name only on writes).
//
// Every value read here is the untrusted device's and checked before use:
//   Status            only the low 8 bits are device status (others counted)
//   QueueNumMax       returned as read; the net layer takes 0 as "no queue"
//                     and refuses sizes that are not powers of two or above
//                     32768, as on PCI; setup re-reads it (a device that
//                     changed its mind is refused, never overrun)
//   QueueReady/PFN    must read 0 before setup; QueueReady 1 after
//   InterruptStatus   only bits 0-1 mean anything (4.2.2.2: "MUST ignore
//                     undefined bits"): others are counted and neither
//                     returned nor acknowledged; InterruptACK gets exactly
//                     the defined bits that were read (never an undefined
//                     one, never one that was not set; nothing when none)
//   configuration     reads inside [0x100, window end), aligned, 1/2/4
//                     bytes; the window end is the caller's
//   ConfigGeneration  v2 only; an unstable one ends in read_config_snapshot's
//                     bounded retries
// The reset handshake is transport.h's wait_for_reset (a deadline).
//
// Interrupts: one line, level-triggered, raised while InterruptStatus is
// not 0 -- the same path as PCI INTx. The platform's line_interrupt() says
// whether it reaches the CPU; the window's irq (mmio_probe.h) says whether
// the device has one at all. There is no MSI-X, so the ladder is
// line -> polling, and no register is touched to set it up. Taking an
// interrupt (VirtioNet::handle_interrupt -> read_isr) reads InterruptStatus
// once and acknowledges what it read in the same call (Linux's vm_interrupt
// order: the device may raise new events while the driver works).
//
// Threading: read_isr() is called from the interrupt context, everything
// else from the control context (virtio_net.h). read_isr touches only
// InterruptStatus, InterruptACK and its own counter; no selector register,
// so it cannot disturb a QueueSel/DeviceFeaturesSel sequence it interrupts.
//
// Ordering: reg_write orders earlier stores (platform.h); the ring
// addresses are written before QueueReady/QueuePFN, and QueueReady is read
// back before the queue is used, so no extra barrier is needed.
#pragma once

#include "driver/transport/transport.h"

namespace vnet {

struct MmioCounters {
  uint64_t isr_undefined = 0;     // InterruptStatus reads with bits above bit 1 (ignored)
  uint64_t status_undefined = 0;  // Status reads with bits above bit 7 (ignored)
};

class MmioTransport final : public Transport {
 public:
  // version: 1 or 2, as the probe read it. window_size: bytes of the window
  // (registers and device configuration; at least 0x100).
  void init(Platform& platform, uint32_t version, uint64_t window_size, bool has_line);

  const char* name() const override { return version_ == 1 ? "mmio-v1" : "mmio-v2"; }
  bool is_legacy() const override { return version_ == 1; }
  RingLayout ring_layout() const override {
    return version_ == 1 ? RingLayout::kLegacyContiguous : RingLayout::kSeparate;
  }
  // Both versions have a writable QueueNum.
  bool queue_size_writable() const override { return true; }
  bool reset(uint64_t timeout_ns) override;
  uint8_t status() override;
  void set_status(uint8_t status) override;
  uint64_t device_features() override;
  void set_driver_features(uint64_t features) override;
  uint32_t queue_max_size(uint16_t q) override;
  bool setup_queue(uint16_t q, uint16_t size, const QueueAddresses& addrs) override;
  void notify(uint16_t q) override;
  // Reads InterruptStatus, acknowledges the defined bits it found, returns them.
  uint8_t read_isr() override;
  bool config_read(uint32_t offset, uint8_t width, uint32_t* value) override;
  bool has_config_generation() const override { return version_ == 2; }
  uint32_t config_generation() override;
  uint32_t config_window_size() const override { return config_size_; }
  // Line or polling (MSI-X is asked for: kNoCapability, then the line).
  InterruptSetup setup_interrupts(const InterruptRequest& request) override;

  uint32_t version() const { return version_; }
  const MmioCounters& counters() const { return counters_; }

  // Queues this transport sets up and notifies; a higher index is refused.
  static constexpr uint16_t kMaxQueues = 64;

 private:
  // The window's 32-bit registers (a generic accessor for vnet-surface,
  // which names a read by the accessor's caller: neither inlined nor
  // tail-called, so that caller keeps its frame on the stack).
  [[clang::not_tail_called, gnu::noinline]] uint32_t mmio_read(uint32_t offset);
  void wr(uint32_t offset, uint32_t value);
  bool setup_queue_v1(uint16_t size, const QueueAddresses& addrs);
  bool setup_queue_v2(uint16_t size, const QueueAddresses& addrs);

  Platform* platform_ = nullptr;
  uint32_t version_ = 2;
  uint32_t config_size_ = 0;
  bool has_line_ = false;
  MmioCounters counters_{};
};

}  // namespace vnet
