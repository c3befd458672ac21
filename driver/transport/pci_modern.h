// virtio-pci modern transport (virtio 1.2, 4.1.4): the vendor capabilities
// in PCI config space locate four windows in memory (or I/O) BARs: common
// configuration, notifications, ISR status and device configuration.
//
// init() walks the capability list (bounded: at most 48 entries, pointers
// inside config space and dword aligned), takes the first usable capability
// of each type whose BAR exists and whose [offset, offset+length) lies
// inside the BAR, and checks minimum lengths (common >= 0x38, ISR >= 1,
// notify multiplier sane) and offset alignment (common and device config 4,
// notify 2). Every window must also end below 4 GiB inside its BAR: the
// platform's register offsets are 32 bits wide, and all window arithmetic
// is done in 64 bits against that bound, so no offset can wrap. Notify
// addresses are checked against the notify window on every queue setup.
#pragma once

#include "driver/transport/pci_msix.h"
#include "driver/transport/transport.h"

namespace vnet {

struct PciWindow {
  bool valid = false;
  uint8_t bar = 0;
  uint32_t offset = 0;
  uint32_t length = 0;
};

enum class ModernProbeError : uint8_t {
  kOk,
  kNoCapabilityList,
  kNoCommonCfg,
  kNoNotifyCfg,
  kNoIsrCfg,
  kNoDeviceCfg,
  kNoVersion1,         // the device offers no VERSION_1: not a modern device (6.1)
  kDeviceCfgTooShort,  // the device config window cannot hold the offered fields
};
const char* modern_probe_error_name(ModernProbeError e);

struct ModernProbeReport {
  uint16_t caps_seen = 0;
  uint16_t caps_rejected = 0;      // outside their BAR, too short, misaligned, bad BAR, ...
  uint64_t device_features = 0;    // the offer, read at probe (see pci_probe.h)
  uint32_t device_cfg_length = 0;  // the device config window's length
  uint32_t device_cfg_needed = 0;  // what the offered fields need
};

class PciModernTransport final : public Transport {
 public:
  ModernProbeError init(Platform& platform, ModernProbeReport* report = nullptr);

  const char* name() const override { return "pci-modern"; }
  bool is_legacy() const override { return false; }
  RingLayout ring_layout() const override { return RingLayout::kSeparate; }
  bool queue_size_writable() const override { return true; }
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
  bool has_config_generation() const override { return true; }
  uint32_t config_generation() override;
  uint32_t config_window_size() const override { return device_.length; }
  // MSI-X vectors in common configuration (config_msix_vector 0x10,
  // queue_msix_vector 0x1A after queue_select), each read back.
  InterruptSetup setup_interrupts(const InterruptRequest& request) override;
  void teardown_interrupts() override { irq_.teardown(); }
  bool msix_enabled() const { return irq_.msix_enabled(); }

  const PciWindow& common_window() const { return common_; }
  const PciWindow& notify_window() const { return notify_; }
  const PciWindow& isr_window() const { return isr_; }
  const PciWindow& device_window() const { return device_; }
  uint32_t notify_multiplier() const { return notify_multiplier_; }

  // Queues whose notify address this transport caches (validated once, at
  // setup); a queue index at or above it is refused.
  static constexpr uint16_t kMaxQueues = 64;

 private:
  ModernProbeError scan(Platform& platform, ModernProbeReport* report);
  uint32_t common_read(uint32_t off, uint8_t width);
  void common_write(uint32_t off, uint8_t width, uint32_t value);

  Platform* platform_ = nullptr;
  PciWindow common_{}, notify_{}, isr_{}, device_{};
  uint32_t notify_multiplier_ = 0;
  uint32_t notify_offset_[kMaxQueues] = {};  // validated per queue at setup
  bool notify_valid_[kMaxQueues] = {};
  PciInterrupts irq_;
};

}  // namespace vnet
