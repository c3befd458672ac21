#include "driver/transport/pci_modern.h"

#include "driver/spec/pci_layout.h"
#include "driver/spec/virtio_constants.h"

namespace vnet {

namespace pci = spec::pci;
namespace common = spec::pci::common;

namespace {

// A capability list longer than this is a loop or a lie: a 256-byte config
// space holds at most 48 capabilities after the 64-byte header.
constexpr int kMaxCapabilities = 48;

uint8_t cfg8(Platform& p, uint32_t off) {
  return static_cast<uint8_t>(p.reg_read(Region::kPciConfig, off, 1));
}
uint16_t cfg16(Platform& p, uint32_t off) {
  return static_cast<uint16_t>(p.reg_read(Region::kPciConfig, off, 2));
}
uint32_t cfg32(Platform& p, uint32_t off) {
  return p.reg_read(Region::kPciConfig, off, 4);
}

uint32_t min_length(uint8_t cfg_type) {
  switch (cfg_type) {
    case pci::kCfgTypeCommon:
      return common::kSize;
    case pci::kCfgTypeNotify:
      return 2;
    case pci::kCfgTypeIsr:
      return 1;
    default:
      return 0;
  }
}

// 4.1.4.3, 4.1.4.4, 4.1.4.6: the common and device configuration
// structures are 4-byte aligned in their BAR, the notify structure 2-byte.
uint32_t required_alignment(uint8_t cfg_type) {
  switch (cfg_type) {
    case pci::kCfgTypeCommon:
    case pci::kCfgTypeDevice:
      return 4;
    case pci::kCfgTypeNotify:
      return 2;
    default:
      return 1;
  }
}

// Register offsets are 32 bits: a window must end at or below 4 GiB.
constexpr uint64_t kOffsetLimit = uint64_t{1} << 32;

bool valid_multiplier(uint32_t m) {
  // 4.1.4.4: "either present notify_off_multiplier as an even power of 2,
  // or present notify_off_multiplier as 0".
  return m == 0 || (m >= 2 && (m & (m - 1)) == 0);
}

}  // namespace

const char* modern_probe_error_name(ModernProbeError e) {
  switch (e) {
    case ModernProbeError::kOk:
      return "ok";
    case ModernProbeError::kNoCapabilityList:
      return "no capability list";
    case ModernProbeError::kNoCommonCfg:
      return "no usable common configuration capability";
    case ModernProbeError::kNoNotifyCfg:
      return "no usable notification capability";
    case ModernProbeError::kNoIsrCfg:
      return "no usable ISR capability";
    case ModernProbeError::kNoDeviceCfg:
      return "no usable device configuration capability";
    case ModernProbeError::kNoVersion1:
      return "device offers no VERSION_1";
    case ModernProbeError::kDeviceCfgTooShort:
      return "device configuration window shorter than the offered fields";
  }
  return "?";
}

ModernProbeError PciModernTransport::init(Platform& platform, ModernProbeReport* report) {
  // Transactional: a probe that fails leaves this transport as it was, so a
  // failed re-probe cannot redirect the resets of a driver still using it
  // (e.g. one whose buffers are quarantined).
  PciModernTransport fresh;
  const ModernProbeError e = fresh.scan(platform, report);
  if (e == ModernProbeError::kOk) *this = fresh;
  return e;
}

ModernProbeError PciModernTransport::scan(Platform& platform, ModernProbeReport* report) {
  platform_ = &platform;
  irq_.init(platform);
  common_ = notify_ = isr_ = device_ = PciWindow{};
  notify_multiplier_ = 0;
  for (auto& v : notify_valid_) v = false;
  ModernProbeReport local{};
  ModernProbeReport& rep = report ? *report : local;
  rep = ModernProbeReport{};

  if ((cfg16(platform, pci::kStatus) & pci::kStatusCapList) == 0)
    return ModernProbeError::kNoCapabilityList;

  uint32_t ptr = cfg8(platform, pci::kCapabilitiesPtr) & 0xFCu;
  for (int n = 0; n < kMaxCapabilities && ptr != 0; ++n) {
    // Capabilities live after the standard header and must fit in config space.
    if (ptr < 0x40 || ptr + pci::kCapMinLen > pci::kConfigSpaceSize) break;
    uint8_t id = cfg8(platform, ptr + pci::kCapVndr);
    uint32_t next = cfg8(platform, ptr + pci::kCapNext) & 0xFCu;
    if (id == pci::kCapIdVendor) {
      ++rep.caps_seen;
      uint8_t cap_len = cfg8(platform, ptr + pci::kCapLen);
      uint8_t type = cfg8(platform, ptr + pci::kCapCfgType);
      uint8_t bar = cfg8(platform, ptr + pci::kCapBar);
      uint32_t offset = cfg32(platform, ptr + pci::kCapOffset);
      uint32_t length = cfg32(platform, ptr + pci::kCapLength);
      PciWindow* slot = nullptr;
      switch (type) {
        case pci::kCfgTypeCommon:
          slot = &common_;
          break;
        case pci::kCfgTypeNotify:
          slot = &notify_;
          break;
        case pci::kCfgTypeIsr:
          slot = &isr_;
          break;
        case pci::kCfgTypeDevice:
          slot = &device_;
          break;
        default:
          break;  // PCI_CFG, shared memory, vendor: not used
      }
      if (slot != nullptr && !slot->valid) {
        // 4.1.4.1: the driver MUST ignore a capability whose BAR is reserved,
        // and use the first one of each type it can use.
        bool ok = cap_len >= pci::kCapMinLen && bar < kNumBars && length >= min_length(type) &&
                  (offset & (required_alignment(type) - 1)) == 0;
        uint32_t multiplier = 0;
        if (ok && type == pci::kCfgTypeNotify) {
          // The multiplier follows the common fields: the longer capability
          // must still end inside configuration space (a capability at 0xF0
          // would put it at 0x100).
          ok = cap_len >= pci::kNotifyCapMinLen &&
               ptr + pci::kNotifyCapMinLen <= pci::kConfigSpaceSize;
          if (ok) multiplier = cfg32(platform, ptr + pci::kCapNotifyMultiplier);
          ok = ok && valid_multiplier(multiplier);
        }
        if (ok) {
          BarInfo info = platform.bar_info(bar);
          const uint64_t end = uint64_t{offset} + length;  // 64 bits: cannot wrap
          ok = info.present && end <= info.size && end <= kOffsetLimit;
        }
        if (ok) {
          *slot = PciWindow{true, bar, offset, length};
          if (type == pci::kCfgTypeNotify) notify_multiplier_ = multiplier;
        } else {
          ++rep.caps_rejected;
        }
      }
    }
    ptr = next;
  }

  if (!common_.valid) return ModernProbeError::kNoCommonCfg;
  if (!notify_.valid) return ModernProbeError::kNoNotifyCfg;
  if (!isr_.valid) return ModernProbeError::kNoIsrCfg;
  if (!device_.valid) return ModernProbeError::kNoDeviceCfg;
  return ModernProbeError::kOk;
}

uint32_t PciModernTransport::common_read(uint32_t off, uint8_t width) {
  return platform_->reg_read(bar_region(common_.bar), common_.offset + off, width);
}

void PciModernTransport::common_write(uint32_t off, uint8_t width, uint32_t value) {
  platform_->reg_write(bar_region(common_.bar), common_.offset + off, width, value);
}

bool PciModernTransport::reset(uint64_t timeout_ns) {
  // 4.1.4.3.2: after writing 0 the driver MUST wait for a read of
  // device_status to return 0 before reinitialising the device.
  common_write(common::kDeviceStatus, 1, 0);
  return wait_for_reset(*platform_, timeout_ns, [this] { return status(); });
}

uint8_t PciModernTransport::status() {
  return static_cast<uint8_t>(common_read(common::kDeviceStatus, 1));
}

void PciModernTransport::set_status(uint8_t value) {
  common_write(common::kDeviceStatus, 1, value);
}

uint64_t PciModernTransport::device_features() {
  common_write(common::kDeviceFeatureSelect, 4, 0);
  uint64_t lo = common_read(common::kDeviceFeature, 4);
  common_write(common::kDeviceFeatureSelect, 4, 1);
  uint64_t hi = common_read(common::kDeviceFeature, 4);
  return lo | (hi << 32);
}

void PciModernTransport::set_driver_features(uint64_t features) {
  common_write(common::kDriverFeatureSelect, 4, 0);
  common_write(common::kDriverFeature, 4, static_cast<uint32_t>(features));
  common_write(common::kDriverFeatureSelect, 4, 1);
  common_write(common::kDriverFeature, 4, static_cast<uint32_t>(features >> 32));
}

uint32_t PciModernTransport::queue_max_size(uint16_t q) {
  common_write(common::kQueueSelect, 2, q);
  return common_read(common::kQueueSize, 2) & 0xFFFF;
}

bool PciModernTransport::setup_queue(uint16_t q, uint16_t size, const QueueAddresses& addrs) {
  if (q >= kMaxQueues) return false;
  common_write(common::kQueueSelect, 2, q);
  common_write(common::kQueueSize, 2, size);
  common_write(common::kQueueDescLo, 4, static_cast<uint32_t>(addrs.desc));
  common_write(common::kQueueDescHi, 4, static_cast<uint32_t>(addrs.desc >> 32));
  common_write(common::kQueueDriverLo, 4, static_cast<uint32_t>(addrs.driver));
  common_write(common::kQueueDriverHi, 4, static_cast<uint32_t>(addrs.driver >> 32));
  common_write(common::kQueueDeviceLo, 4, static_cast<uint32_t>(addrs.device));
  common_write(common::kQueueDeviceHi, 4, static_cast<uint32_t>(addrs.device >> 32));
  // The notify address must lie inside the notify window (4.1.4.4); a device
  // pointing elsewhere would have us write to arbitrary BAR offsets.
  // 64-bit arithmetic; the window ends below 4 GiB (checked at init), so
  // the sum fits the platform's 32-bit register offset.
  uint64_t off = uint64_t{common_read(common::kQueueNotifyOff, 2) & 0xFFFFu} * notify_multiplier_;
  if (off + 2 > notify_.length) return false;
  notify_offset_[q] = static_cast<uint32_t>(uint64_t{notify_.offset} + off);
  common_write(common::kQueueEnable, 2, 1);
  if ((common_read(common::kQueueEnable, 2) & 0xFFFF) != 1) return false;
  notify_valid_[q] = true;
  return true;
}

void PciModernTransport::notify(uint16_t q) {
  if (q >= kMaxQueues || !notify_valid_[q]) return;
  platform_->reg_write(bar_region(notify_.bar), notify_offset_[q], 2, q);
}

uint8_t PciModernTransport::read_isr() {
  return static_cast<uint8_t>(platform_->reg_read(bar_region(isr_.bar), isr_.offset, 1));
}

bool PciModernTransport::config_read(uint32_t offset, uint8_t width, uint32_t* value) {
  if ((width != 1 && width != 2 && width != 4) || (offset & (width - 1u)) != 0) return false;
  if (offset > device_.length || width > device_.length - offset) return false;
  *value = platform_->reg_read(bar_region(device_.bar),
                               static_cast<uint32_t>(uint64_t{device_.offset} + offset), width);
  return true;
}

uint32_t PciModernTransport::config_generation() {
  return common_read(common::kConfigGeneration, 1) & 0xFF;
}

InterruptSetup PciModernTransport::setup_interrupts(const InterruptRequest& request) {
  struct Regs final : MsixVectorRegs {
    PciModernTransport& t;
    explicit Regs(PciModernTransport& transport) : t(transport) {}
    uint16_t set_config_vector(uint16_t v) override {
      t.common_write(common::kConfigMsixVector, 2, v);
      return static_cast<uint16_t>(t.common_read(common::kConfigMsixVector, 2));
    }
    uint16_t set_queue_vector(uint16_t q, uint16_t v) override {
      t.common_write(common::kQueueSelect, 2, q);
      t.common_write(common::kQueueMsixVector, 2, v);
      return static_cast<uint16_t>(t.common_read(common::kQueueMsixVector, 2));
    }
  } regs(*this);
  // The table and PBA must stay clear of the four virtio structures.
  const BarRange own[] = {
      {common_.bar, common_.offset, common_.length},
      {notify_.bar, notify_.offset, notify_.length},
      {isr_.bar, isr_.offset, isr_.length},
      {device_.bar, device_.offset, device_.length},
  };
  return irq_.setup(request, regs, own, 4, MsixFallback::kNone);
}

}  // namespace vnet
