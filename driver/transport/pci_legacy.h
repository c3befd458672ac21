// virtio-pci legacy transport (virtio 1.2, 4.1.4.8): registers in I/O
// BAR0, guest-endian, 32 feature bits, fixed queue sizes, the ring given as
// a page frame number, device config at 0x14 -- or at 0x18 while MSI-X is
// enabled, when 0x14 and 0x16 are the config and queue MSI-X vectors
// (4.1.4.8, 4.1.4.10). The config window follows the enable bit this
// transport wrote (pci_msix.h).
#pragma once

#include "driver/transport/pci_msix.h"
#include "driver/transport/transport.h"

namespace vnet {

class PciLegacyTransport final : public Transport {
 public:
  // bar0_size bounds the device-config window.
  void init(Platform& platform, uint64_t bar0_size);

  const char* name() const override { return "pci-legacy"; }
  bool is_legacy() const override { return true; }
  RingLayout ring_layout() const override { return RingLayout::kLegacyContiguous; }
  bool queue_size_writable() const override { return false; }
  bool reset(uint64_t timeout_ns) override;
  uint8_t status() override;
  void set_status(uint8_t status) override;
  uint64_t device_features() override;
  void set_driver_features(uint64_t features) override;
  uint32_t queue_max_size(uint16_t q) override;
  bool setup_queue(uint16_t q, uint16_t size, const QueueAddresses& addrs) override;
  void notify(uint16_t q) override;
  uint8_t read_isr() override;
  bool config_read(uint32_t offset, uint8_t width, uint32_t* value) override;
  // No generation counter: read_config_snapshot() reads twice and compares.
  bool has_config_generation() const override { return false; }
  uint32_t config_generation() override { return 0; }
  uint32_t config_window_size() const override;
  // MSI-X vectors at 0x14 / 0x16 (after queue select), each read back; a
  // BAR0 too short for them and the device configuration refuses MSI-X.
  InterruptSetup setup_interrupts(const InterruptRequest& request) override;
  void teardown_interrupts() override { irq_.teardown(); }
  bool msix_enabled() const { return irq_.msix_enabled(); }
  // Where device configuration starts now: 0x14, or 0x18 with MSI-X.
  uint32_t config_offset() const;

 private:
  Platform* platform_ = nullptr;
  uint64_t bar0_size_ = 0;
  PciInterrupts irq_;
};

}  // namespace vnet
