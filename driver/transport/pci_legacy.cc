#include "driver/transport/pci_legacy.h"

#include "driver/spec/pci_layout.h"
#include "driver/spec/split_ring_layout.h"
#include "driver/spec/virtio_constants.h"

namespace vnet {

namespace reg = spec::pci::legacy;

void PciLegacyTransport::init(Platform& platform, uint64_t bar0_size) {
  platform_ = &platform;
  bar0_size_ = bar0_size;
  irq_.init(platform);
}

uint32_t PciLegacyTransport::config_offset() const {
  // 4.1.4.8: device configuration follows the common header, which is four
  // bytes longer (the two vector registers) while MSI-X is enabled.
  return irq_.msix_enabled() ? reg::kConfigMsix : reg::kConfigNoMsix;
}

uint32_t PciLegacyTransport::config_window_size() const {
  // Whatever the BAR decodes beyond the header, capped at 64 KiB.
  const uint64_t start = config_offset();
  const uint64_t window = bar0_size_ > start ? bar0_size_ - start : 0;
  return window > 0x10000 ? 0x10000u : static_cast<uint32_t>(window);
}

InterruptSetup PciLegacyTransport::setup_interrupts(const InterruptRequest& request) {
  struct Regs final : MsixVectorRegs {
    Platform& p;
    explicit Regs(Platform& platform) : p(platform) {}
    uint16_t set_config_vector(uint16_t v) override {
      p.reg_write(Region::kBar0, reg::kConfigMsixVector, 2, v);
      return static_cast<uint16_t>(p.reg_read(Region::kBar0, reg::kConfigMsixVector, 2));
    }
    uint16_t set_queue_vector(uint16_t q, uint16_t v) override {
      p.reg_write(Region::kBar0, reg::kQueueSelect, 2, q);
      p.reg_write(Region::kBar0, reg::kQueueMsixVector, 2, v);
      return static_cast<uint16_t>(p.reg_read(Region::kBar0, reg::kQueueMsixVector, 2));
    }
  } regs(*platform_);
  // With MSI-X enabled the vector registers take 0x14..0x17 and the device
  // configuration the driver needs moves behind them: both must fit BAR0.
  const MsixFallback precheck =
      bar0_size_ < uint64_t{reg::kConfigMsix} + request.config_bytes_needed
          ? MsixFallback::kLegacyWindow
          : MsixFallback::kNone;
  // BAR0 was I/O space at probe, where no MSI-X table can be; but a device
  // may answer bar_info(0) otherwise when asked again, and a table laid
  // over the legacy registers would turn message writes into queue
  // notifications and status writes. BAR0, as probed, is ours.
  const BarRange own{0, 0, bar0_size_};
  return irq_.setup(request, regs, &own, 1, precheck);
}

bool PciLegacyTransport::reset(uint64_t timeout_ns) {
  platform_->reg_write(Region::kBar0, reg::kDeviceStatus, 1, 0);
  return wait_for_reset(*platform_, timeout_ns, [this] { return status(); });
}

uint8_t PciLegacyTransport::status() {
  return static_cast<uint8_t>(platform_->reg_read(Region::kBar0, reg::kDeviceStatus, 1));
}

void PciLegacyTransport::set_status(uint8_t value) {
  platform_->reg_write(Region::kBar0, reg::kDeviceStatus, 1, value);
}

uint64_t PciLegacyTransport::device_features() {
  return platform_->reg_read(Region::kBar0, reg::kDeviceFeatures, 4);
}

void PciLegacyTransport::set_driver_features(uint64_t features) {
  // Legacy devices have 32 feature bits; anything above was never offered.
  platform_->reg_write(Region::kBar0, reg::kDriverFeatures, 4, static_cast<uint32_t>(features));
}

uint32_t PciLegacyTransport::queue_max_size(uint16_t q) {
  platform_->reg_write(Region::kBar0, reg::kQueueSelect, 2, q);
  return platform_->reg_read(Region::kBar0, reg::kQueueSize, 2) & 0xFFFF;
}

bool PciLegacyTransport::setup_queue(uint16_t q, uint16_t size, const QueueAddresses& addrs) {
  // Legacy rings are one contiguous area, page aligned, addressed by a
  // 32-bit page frame number (4.1.5.1.1.1 legacy note).
  if ((addrs.desc & (spec::kLegacyQueueAlign - 1)) != 0) return false;
  uint64_t pfn = addrs.desc >> reg::kQueueAddressShift;
  if (pfn == 0 || pfn > 0xFFFFFFFFull) return false;
  platform_->reg_write(Region::kBar0, reg::kQueueSelect, 2, q);
  // The size is the device's; re-read it so a device that changed its mind
  // between probe and setup is refused rather than overrun.
  if ((platform_->reg_read(Region::kBar0, reg::kQueueSize, 2) & 0xFFFF) != size) return false;
  platform_->reg_write(Region::kBar0, reg::kQueueAddress, 4, static_cast<uint32_t>(pfn));
  return true;
}

void PciLegacyTransport::notify(uint16_t q) {
  platform_->reg_write(Region::kBar0, reg::kQueueNotify, 2, q);
}

uint8_t PciLegacyTransport::read_isr() {
  return static_cast<uint8_t>(platform_->reg_read(Region::kBar0, reg::kIsrStatus, 1));
}

bool PciLegacyTransport::config_read(uint32_t offset, uint8_t width, uint32_t* value) {
  if ((width != 1 && width != 2 && width != 4) || (offset & (width - 1u)) != 0) return false;
  const uint32_t size = config_window_size();
  if (offset > size || width > size - offset) return false;
  *value = platform_->reg_read(Region::kBar0, config_offset() + offset, width);
  return true;
}

}  // namespace vnet
