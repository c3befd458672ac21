#include "driver/transport/pci_legacy.h"

#include "driver/spec/pci_layout.h"
#include "driver/spec/split_ring_layout.h"
#include "driver/spec/virtio_constants.h"

namespace vnet {

namespace reg = spec::pci::legacy;

void PciLegacyTransport::init(Platform& platform, uint64_t bar0_size) {
  platform_ = &platform;
  // This driver never enables MSI-X, so device config starts at 0x14
  // (4.1.4.8). The window is whatever the BAR decodes beyond that.
  uint64_t window = bar0_size > reg::kConfigNoMsix ? bar0_size - reg::kConfigNoMsix : 0;
  config_size_ = window > 0x10000 ? 0x10000u : static_cast<uint32_t>(window);
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
  if (offset > config_size_ || width > config_size_ - offset) return false;
  *value = platform_->reg_read(Region::kBar0, reg::kConfigNoMsix + offset, width);
  return true;
}

}  // namespace vnet
