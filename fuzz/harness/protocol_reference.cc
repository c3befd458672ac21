#include "fuzz/harness/protocol_reference.h"

#include <stdio.h>
#include <string.h>

#include "fuzz/harness/barrier_classes.h"
#include "fuzz/harness/findings.h"

namespace vnet::fuzz {

namespace {

// Written from the specification, not taken from the driver's headers, so
// that a wrong constant there cannot hide here.
constexpr uint8_t kCapVendor = 0x09;          // 4.1.4: virtio capabilities
constexpr uint8_t kCapMsix = 0x11;            // PCI: the MSI-X capability
constexpr uint32_t kMsixCapBytes = 12;        // id, next, control, table, PBA
constexpr uint32_t kCapMinBytes = 16;         // struct virtio_pci_cap
constexpr uint32_t kPciStatus = 0x06;         // PCI status register
constexpr uint8_t kPciStatusCapList = 0x10;   // ... bit 4: a capability list exists
constexpr uint32_t kStatusLegacy = 0x12;      // 4.1.4.8: legacy device_status
constexpr uint32_t kStatusCommon = 0x14;      // 4.1.4.3: common cfg device_status
constexpr uint32_t kConfigGeneration = 0x15;  // common configuration
constexpr uint32_t kCommonLength = 0x38;
constexpr uint32_t kDeviceFeatureSel = 0x00;  // common configuration
constexpr uint32_t kDeviceFeature = 0x04;
constexpr uint32_t kDriverFeatureSel = 0x08;
constexpr uint32_t kDriverFeature = 0x0C;
constexpr uint32_t kLegacyHostFeatures = 0x00;  // legacy BAR 0
constexpr uint32_t kLegacyGuestFeatures = 0x04;
constexpr uint8_t kFeaturesOk = 0x08;
constexpr uint8_t kDriverOk = 0x04;
constexpr uint8_t kFailed = 0x80;
constexpr uint32_t kQueueSelectCommon = 0x16;  // 4.1.4.3 common configuration
constexpr uint32_t kQueueSizeCommon = 0x18;
constexpr uint32_t kQueueDriverLo = 0x28;
constexpr uint32_t kQueueDriverHi = 0x2C;
constexpr uint32_t kQueueAddressLegacy = 0x08;  // 4.1.4.8: PFN, 4096-byte pages
constexpr uint32_t kQueueSizeLegacy = 0x0C;
constexpr uint32_t kQueueSelectLegacy = 0x0E;
constexpr uint16_t kAvailNoInterrupt = 1;
constexpr uint32_t kOrderPlatformBit = 36 - 32;  // VIRTIO_F_ORDER_PLATFORM, in word 1
constexpr uint32_t kEventIdxBit = 29;            // VIRTIO_F_EVENT_IDX, in word 0
constexpr uint32_t kRingPackedBit = 34 - 32;     // VIRTIO_F_RING_PACKED, in word 1
constexpr uint32_t kInOrderBit = 35 - 32;        // VIRTIO_F_IN_ORDER, in word 1
// virtio-mmio registers (4.2.2; version 1: 4.2.4).
constexpr uint32_t kMmioDeviceFeatures = 0x010;
constexpr uint32_t kMmioDeviceFeaturesSel = 0x014;
constexpr uint32_t kMmioDriverFeatures = 0x020;
constexpr uint32_t kMmioDriverFeaturesSel = 0x024;
constexpr uint32_t kMmioGuestPageSize = 0x028;
constexpr uint32_t kMmioQueueSel = 0x030;
constexpr uint32_t kMmioQueueNum = 0x038;
constexpr uint32_t kMmioQueuePfn = 0x040;
constexpr uint32_t kMmioStatus = 0x070;
constexpr uint32_t kMmioQueueDriverLow = 0x090;
constexpr uint32_t kMmioQueueDriverHigh = 0x094;
constexpr uint32_t kMmioConfigGeneration = 0x0FC;
constexpr uint32_t kMmioConfig = 0x100;

const char* region_name(Region r) {
  switch (r) {
    case Region::kPciConfig:
      return "PCI config";
    case Region::kBar0:
      return "BAR0";
    case Region::kBar1:
      return "BAR1";
    case Region::kBar2:
      return "BAR2";
    case Region::kBar3:
      return "BAR3";
    case Region::kBar4:
      return "BAR4";
    case Region::kBar5:
      return "BAR5";
    case Region::kMmio:
      return "MMIO";
  }
  return "?";
}

}  // namespace

void ProtocolReference::begin_input() {
  for (DmaRegion& d : dma_) d = DmaRegion{};
  memset(cfg_known_, 0, sizeof cfg_known_);
  memset(bar_known_, 0, sizeof bar_known_);
  legacy_size_ = 0;
  num_windows_ = 0;
  transport_known_ = false;
  mmio_present_ = false;
  mmio_window_ = 0;
  mmio_version_ = 0;
  device_reset();
}

void ProtocolReference::device_reset() {
  // The driver sets its rings up again after a reset.
  for (Ring& r : rings_) r = Ring{};
  order_platform_ = false;
  event_idx_ = false;
  packed_ = false;
  in_order_ = false;
  packed_ref_.reset();
  packed_ref_.set_in_order(false);
  offer_known_[0] = offer_known_[1] = false;
  status_written_ = 0;
  gen_known_ = cfg_read_open_ = snapshot_done_ = snapshot_torn_ = false;
  features_ok_written_ = features_ok_read_ = features_ok_set_ = false;
  for (uint16_t q = 0; q < kMaxQueues; ++q) {
    inflight_[q] = 0;
    last_used_[q] = 0;
    used_idx_[q] = 0;
    jump_[q] = false;
    fifo_head_[q] = fifo_tail_[q] = 0;
    posted_head_[q] = posted_tail_[q] = 0;
    bad_element_[q] = lied_[q] = false;
  }
}

bool ProtocolReference::cfg_le16(uint32_t offset, uint16_t* out) const {
  uint8_t lo, hi;
  if (!cfg_byte(offset, &lo) || !cfg_byte(offset + 1, &hi)) return false;
  *out = static_cast<uint16_t>(lo | hi << 8);
  return true;
}

void ProtocolReference::set_status_register(Region region, uint32_t offset) {
  // The driver decided to drive this device: it must be a virtio network
  // device by what its configuration space answered (4.1.2: vendor 0x1AF4,
  // device 0x1041, or transitional 0x1000 with subsystem device id 1).
  uint16_t vendor = 0, device = 0, subsystem = 0;
  if (!cfg_le16(0x00, &vendor) || !cfg_le16(0x02, &device))
    finding(Oracle::kProtocol, "the driver drives a device whose PCI identity it never read");
  const bool net =
      vendor == 0x1AF4 &&
      (device == 0x1041 || (device == 0x1000 && cfg_le16(0x2E, &subsystem) && subsystem == 1));
  if (!net)
    finding(Oracle::kProtocol,
            "the driver drives PCI device %04x:%04x (subsystem %04x), which is no virtio network "
            "device (4.1.2)",
            vendor, device, subsystem);
  transport_known_ = true;
  mmio_version_ = 0;
  status_region_ = region;
  legacy_ = region == Region::kBar0 && offset == kStatusLegacy && bar_known_[0] && bars_[0].is_io;
  common_base_ = legacy_ ? 0 : offset - kStatusCommon;
}

void ProtocolReference::on_bar_info(uint8_t bar, const BarInfo& info) {
  if (bar >= kNumBars) return;
  bars_[bar] = info;
  // The legacy window accumulates like the capability windows: a later
  // probe's answer does not take back what the transport was told.
  if (bar == 0 && info.present && info.is_io && info.size > legacy_size_) legacy_size_ = info.size;
  bar_known_[bar] = true;
  rebuild_windows();
}

bool ProtocolReference::cfg_byte(uint32_t offset, uint8_t* out) const {
  if (offset >= sizeof cfg_ || !cfg_known_[offset]) return false;
  *out = cfg_[offset];
  return true;
}

bool ProtocolReference::cfg_le32(uint32_t offset, uint32_t* out) const {
  uint32_t v = 0;
  for (uint32_t i = 0; i < 4; ++i) {
    uint8_t b;
    if (!cfg_byte(offset + i, &b)) return false;
    v |= uint32_t{b} << (8 * i);
  }
  *out = v;
  return true;
}

void ProtocolReference::rebuild_windows() {
  consider_caps(0x40, sizeof cfg_);
}

void ProtocolReference::consider_caps(uint32_t lo, uint32_t hi) {
  // Every 4-byte aligned position after the header that holds a virtio
  // capability the driver read in full (vendor id, cap_len, BAR, offset,
  // length) is a window, if it fits its BAR. Positions, not the list walk:
  // a device may answer overlapping capabilities (one byte read once for
  // each), so the image at any moment need not form a list, and the walk
  // is the driver's business. Windows accumulate over the input: a device
  // that rewrites its configuration space (a lie, or the next probe's
  // view) does not take back what a transport probed earlier was told.
  // (Over-approximating the windows can only hide a finding, never make one.)
  // No capability list without the PCI status bit that says there is one:
  // a device that clears it advertises no window, whatever bytes it
  // answers at 0x40 and up.
  uint8_t pci_status;
  if (!cfg_byte(kPciStatus, &pci_status) || (pci_status & kPciStatusCapList) == 0) return;
  // (An MSI-X capability is 12 bytes, a virtio one at least 16.)
  for (uint32_t at = lo < 0x40 ? 0x40 : lo & ~3u; at < hi && at + kMsixCapBytes <= sizeof cfg_;
       at += 4) {
    uint8_t id, cap_len, bar;
    uint32_t offset, length;
    if (cfg_byte(at, &id) && id == kCapMsix) {
      consider_msix(at);
      continue;
    }
    if (at + kCapMinBytes > sizeof cfg_) continue;
    if (!cfg_byte(at, &id) || id != kCapVendor || !cfg_byte(at + 2, &cap_len) ||
        !cfg_byte(at + 4, &bar) || !cfg_le32(at + 8, &offset) || !cfg_le32(at + 12, &length))
      continue;
    if (cap_len < kCapMinBytes || bar >= kNumBars || !bar_known_[bar] || !bars_[bar].present)
      continue;
    if (uint64_t{offset} + length > bars_[bar].size) continue;
    bool known = false;
    for (int i = 0; i < num_windows_; ++i)
      known |=
          windows_[i].bar == bar && windows_[i].offset == offset && windows_[i].length == length;
    if (!known && num_windows_ < kMaxWindows)
      windows_[num_windows_++] = Window{bar, offset, length, false};
  }
}

void ProtocolReference::consider_msix(uint32_t at) {
  // PCI Local Bus 3.0, 6.8.2: message control (table size - 1 in bits
  // 10:0) at +2, table offset/BIR at +4, PBA offset/BIR at +8; the table
  // has 16 bytes per entry, the PBA one bit per entry in 64-bit words.
  uint16_t control;
  uint32_t table, pba;
  if (!cfg_le16(at + 2, &control) || !cfg_le32(at + 4, &table) || !cfg_le32(at + 8, &pba)) return;
  const uint32_t entries = (control & 0x7FFu) + 1;
  add_msix_window(static_cast<uint8_t>(table & 7), table & ~7u, uint64_t{entries} * 16);
  add_msix_window(static_cast<uint8_t>(pba & 7), pba & ~7u, uint64_t{(entries + 63) / 64} * 8);
}

void ProtocolReference::add_msix_window(uint8_t bar, uint64_t offset, uint64_t length) {
  // PCI 6.8.2: the table and the PBA are mapped by a memory BAR.
  if (bar >= kNumBars || !bar_known_[bar] || !bars_[bar].present || bars_[bar].is_io ||
      offset + length > bars_[bar].size)
    return;
  for (int i = 0; i < num_windows_; ++i)
    if (windows_[i].bar == bar && windows_[i].offset == offset && windows_[i].length == length)
      return;
  if (num_windows_ < kMaxWindows) windows_[num_windows_++] = Window{bar, offset, length, true};
}

bool ProtocolReference::in_msix_window(uint8_t bar, uint32_t offset, uint8_t width) const {
  const uint64_t end = uint64_t{offset} + width;
  for (int i = 0; i < num_windows_; ++i) {
    const Window& w = windows_[i];
    if (w.msix && w.bar == bar && offset >= w.offset && end <= w.offset + w.length) return true;
  }
  return false;
}

bool ProtocolReference::in_window(uint8_t bar, uint32_t offset, uint8_t width) {
  const uint64_t end = uint64_t{offset} + width;
  // The legacy interface: all of I/O BAR 0 (registers, then device config).
  if (bar == 0 && end <= legacy_size_) return true;
  for (int i = 0; i < num_windows_; ++i) {
    const Window& w = windows_[i];
    if (w.bar == bar && offset >= w.offset && end <= w.offset + w.length) return true;
  }
  return false;
}

void ProtocolReference::check_access(Region region, uint32_t offset, uint8_t width, bool write,
                                     const void* pc) {
  if (region == Region::kMmio) {
    // virtio-mmio (4.2.2): the window the caller gave, nothing past it; the
    // control registers (below 0x100) only as aligned 32-bit accesses
    // (4.2.2.2); device configuration aligned to the access's width.
    const char* why = nullptr;
    if (!mmio_present_)
      why = "with no virtio-mmio window";
    else if (uint64_t{offset} + width > mmio_window_)
      why = "past the end of the virtio-mmio window";
    else if (offset < kMmioConfig && (width != 4 || offset % 4 != 0))
      why = "to a control register, not an aligned 32-bit access (4.2.2.2)";
    else if (offset >= kMmioConfig &&
             ((width != 1 && width != 2 && width != 4) || offset % width != 0))
      why = "to device configuration, not an aligned 1, 2 or 4-byte access";
    if (why != nullptr) {
      char where[256];
      describe_pc(pc, where, sizeof where);
      finding(Oracle::kWindow, "%s of %u bytes at MMIO offset 0x%x %s (window 0x%llx) at %s",
              write ? "write" : "read", width, offset, why,
              static_cast<unsigned long long>(mmio_window_), where);
    }
    return;
  }
  if (region == Region::kPciConfig) {
    if (uint64_t{offset} + width > sizeof cfg_)
      finding(Oracle::kWindow, "%s of %u bytes at PCI configuration offset 0x%x, past the header",
              write ? "write" : "read", width, offset);
    return;
  }
  const uint8_t bar = static_cast<uint8_t>(static_cast<uint8_t>(region) - 1);
  if (in_window(bar, offset, width)) return;
  char where[256];
  describe_pc(pc, where, sizeof where);
  char windows[256] = "";
  size_t used = 0;
  for (int i = 0; i < num_windows_ && used + 48 < sizeof windows; ++i)
    used += static_cast<size_t>(snprintf(windows + used, sizeof windows - used,
                                         " BAR%u[0x%llx,+0x%llx)", windows_[i].bar,
                                         static_cast<unsigned long long>(windows_[i].offset),
                                         static_cast<unsigned long long>(windows_[i].length)));
  finding(Oracle::kWindow,
          "%s of %u bytes at %s offset 0x%x, outside every window the device advertised "
          "(capability windows:%s; BAR size %s%llu) at %s",
          write ? "write" : "read", width, region_name(region), offset,
          num_windows_ != 0 ? windows : " none", bar_known_[bar] ? "" : "never asked, ",
          static_cast<unsigned long long>(bar_known_[bar] ? bars_[bar].size : 0), where);
}

bool ProtocolReference::common_register(Region region, uint32_t offset, uint32_t* reg) const {
  if (!transport_known_ || region != status_region_ || offset < common_base_) return false;
  *reg = offset - common_base_;
  return true;
}

void ProtocolReference::on_read(Region region, uint32_t offset, uint8_t width, uint32_t value) {
  if (region == Region::kPciConfig) {
    // A probe starts with the vendor id: until the harness names the
    // transport it chose, only the window rule applies (the registers of
    // the transport probed before are not this probe's).
    if (offset == 0) transport_known_ = false;
    for (uint32_t i = 0; i < width && offset + i < sizeof cfg_; ++i) {
      cfg_[offset + i] = static_cast<uint8_t>(value >> (8 * i));
      cfg_known_[offset + i] = true;
    }
    // Looked at after every answer: a device whose capabilities overlap
    // answers one byte differently for each, and each answer counts for
    // the capability it was read for. Only the positions whose 16 bytes
    // hold an answered byte can have changed.
    consider_caps(offset >= kCapMinBytes ? offset - (kCapMinBytes - 1) : 0, offset + width);
    // The status bit read (again) with the list announced: every
    // capability already answered counts.
    if (offset <= kPciStatus && offset + width > kPciStatus) rebuild_windows();
    return;
  }
  if (region == Region::kMmio) return on_mmio_read(offset, width, value);
  uint32_t reg;
  const bool in_common = common_register(region, offset, &reg) && (legacy_ || reg < kCommonLength);
  if (transport_known_ && !legacy_ && !in_common && region != Region::kPciConfig && gen_known_)
    cfg_read_open_ = true;
  if (!in_common) return;
  if (!legacy_ && reg == kConfigGeneration && width == 1) {
    if (cfg_read_open_) {
      snapshot_done_ = true;
      snapshot_torn_ = static_cast<uint8_t>(value) != last_gen_;
      cfg_read_open_ = false;
    }
    gen_known_ = true;
    last_gen_ = static_cast<uint8_t>(value);
  }
  if (legacy_) {
    if (reg == kLegacyHostFeatures && width == 4) {
      offer_[0] = value;
      offer_known_[0] = true;
    }
    if (reg == kQueueSizeLegacy && width == 2 && queue_select_ < kMaxQueues)
      rings_[queue_select_].size = static_cast<uint16_t>(value);
    return;
  }
  if (reg == kDeviceFeature && width == 4 && device_select_ < 2) {
    offer_[device_select_] = value;
    offer_known_[device_select_] = true;
  }
  if (reg == kStatusCommon && width == 1 && features_ok_written_) {
    features_ok_read_ = true;
    features_ok_set_ = (value & kFeaturesOk) != 0;
  }
}

void ProtocolReference::on_write(Region region, uint32_t offset, uint8_t width, uint32_t value) {
  if (region == Region::kMmio) return on_mmio_write(offset, width, value);
  uint32_t reg;
  if (!common_register(region, offset, &reg)) return;
  uint32_t select = 0;
  bool driver_features = false;
  if (legacy_) {
    driver_features = reg == kLegacyGuestFeatures && width == 4;
    if (reg == kQueueSelectLegacy && width == 2) queue_select_ = static_cast<uint16_t>(value);
    if (reg == kQueueAddressLegacy && width == 4 && queue_select_ < kMaxQueues) {
      // 4.1.4.8 / 2.7.2 (legacy layout): the available ring follows the
      // descriptor table.
      Ring& r = rings_[queue_select_];
      r.desc = uint64_t{value} << 12;
      r.avail = r.desc + 16u * r.size;
      if (value != 0) locate(queue_select_);
    }
  } else {
    if (reg == kQueueSelectCommon && width == 2) queue_select_ = static_cast<uint16_t>(value);
    if (reg == kQueueSizeCommon && width == 2 && queue_select_ < kMaxQueues) {
      rings_[queue_select_].size = static_cast<uint16_t>(value);
      packed_ref_.set_size(queue_select_, static_cast<uint16_t>(value));
      locate(queue_select_);
    }
    if ((reg == kQueueDriverLo || reg == kQueueDriverHi) && width == 4 &&
        queue_select_ < kMaxQueues) {
      Ring& r = rings_[queue_select_];
      r.avail = reg == kQueueDriverLo ? (r.avail & ~0xFFFFFFFFull) | value
                                      : (r.avail & 0xFFFFFFFFull) | (uint64_t{value} << 32);
      locate(queue_select_);
    }
    if (reg == kDeviceFeatureSel && width == 4) device_select_ = value;
    if (reg == kDriverFeatureSel && width == 4) driver_select_ = value;
    driver_features = reg == kDriverFeature && width == 4;
    select = driver_select_;
  }
  if (driver_features) features_written(select, value);
  const uint32_t status_reg = legacy_ ? kStatusLegacy : kStatusCommon;
  if (reg == status_reg && width == 1) status_written(static_cast<uint8_t>(value));
}

void ProtocolReference::features_written(uint32_t select, uint32_t value) {
  if (select == 1) {
    order_platform_ = ((value >> kOrderPlatformBit) & 1) != 0;
    packed_ = ((value >> kRingPackedBit) & 1) != 0;
    in_order_ = ((value >> kInOrderBit) & 1) != 0;
    packed_ref_.set_in_order(in_order_);
    for (uint16_t q = 0; q < kMaxQueues; ++q) locate(q);
  }
  if (select == 0) {
    event_idx_ = ((value >> kEventIdxBit) & 1) != 0;
    for (uint16_t q = 0; q < kMaxQueues; ++q) locate(q);
  }
  // 2.5.1: config values read while the generation changed are not values
  // at all. If the last snapshot before the features were chosen was torn,
  // no feature whose field came from it (MAC, MTU, STATUS) may be accepted.
  constexpr uint32_t kConfigFeatures = (1u << 5) | (1u << 3) | (1u << 16);
  if (select == 0 && snapshot_done_ && snapshot_torn_ && (value & kConfigFeatures) != 0)
    finding(Oracle::kProtocol,
            "driver accepted config-field features 0x%x although its last config read saw "
            "config_generation change (2.5.1: the values may be torn)",
            value & kConfigFeatures);
  if (value != 0) {
    if (select >= 2) {
      finding(Oracle::kProtocol, "driver features word %u written (only 64 feature bits exist)",
              select);
      return;  // (a finding ends the run; never index the offer with it)
    }
    if (!offer_known_[select])
      finding(Oracle::kProtocol,
              "driver features word %u (0x%08x) written without reading the device's offer "
              "since the last reset",
              select, value);
    if (const uint32_t extra = value & ~offer_[select])
      finding(Oracle::kProtocol,
              "driver accepted feature bits 0x%08x of word %u that the device did not offer "
              "(offer 0x%08x)",
              extra, select, offer_[select]);
  }
}

void ProtocolReference::status_written(uint8_t status) {
  const uint8_t added = static_cast<uint8_t>(status & ~status_written_);
  status_written_ = status;
  if (status == 0) {
    features_ok_written_ = features_ok_read_ = features_ok_set_ = false;
    return;
  }
  if (legacy_) return;
  if ((added & kFeaturesOk) != 0) {
    features_ok_written_ = true;
    features_ok_read_ = features_ok_set_ = false;
  }
  // DRIVER_OK newly set to go live; with FAILED it is the driver giving up.
  if ((added & kDriverOk) != 0 && (status & kFailed) == 0) {
    if (!features_ok_written_)
      finding(Oracle::kProtocol, "DRIVER_OK (status 0x%02x) written without FEATURES_OK", status);
    if (!features_ok_read_)
      finding(Oracle::kProtocol,
              "DRIVER_OK (status 0x%02x) written without reading FEATURES_OK back (3.1.1 step 6)",
              status);
    if (!features_ok_set_)
      finding(Oracle::kProtocol,
              "DRIVER_OK (status 0x%02x) written although the device read back FEATURES_OK "
              "clear: it refused the features (3.1.1 step 6)",
              status);
  }
}

void ProtocolReference::set_mmio_transport(uint32_t version, uint64_t window) {
  mmio_present_ = true;
  mmio_window_ = window;
  mmio_version_ = version;
  transport_known_ = version == 1 || version == 2;
  legacy_ = version == 1;  // 4.2.4: legacy semantics, 32 feature bits, no FEATURES_OK
  status_region_ = Region::kMmio;
  common_base_ = 0;
  mmio_page_size_ = 0;
}

void ProtocolReference::on_mmio_read(uint32_t offset, uint8_t width, uint32_t value) {
  if (mmio_version_ == 0 || width != 4) return;
  if (offset >= kMmioConfig) {
    if (mmio_version_ == 2 && gen_known_) cfg_read_open_ = true;
    return;
  }
  switch (offset) {
    case kMmioConfigGeneration:
      if (mmio_version_ != 2) break;
      if (cfg_read_open_) {
        snapshot_done_ = true;
        snapshot_torn_ = static_cast<uint8_t>(value) != last_gen_;
        cfg_read_open_ = false;
      }
      gen_known_ = true;
      last_gen_ = static_cast<uint8_t>(value);
      break;
    case kMmioDeviceFeatures:
      // Version 1 shows 32 feature bits: only word 0 is an offer.
      if (device_select_ < (mmio_version_ == 1 ? 1u : 2u)) {
        offer_[device_select_] = value;
        offer_known_[device_select_] = true;
      }
      break;
    case kMmioStatus:
      if (mmio_version_ == 2 && features_ok_written_) {
        features_ok_read_ = true;
        features_ok_set_ = (value & kFeaturesOk) != 0;
      }
      break;
    default:
      break;
  }
}

void ProtocolReference::on_mmio_write(uint32_t offset, uint8_t width, uint32_t value) {
  if (mmio_version_ == 0 || width != 4 || offset >= kMmioConfig) return;
  Ring* r = queue_select_ < kMaxQueues ? &rings_[queue_select_] : nullptr;
  switch (offset) {
    case kMmioDeviceFeaturesSel:
      device_select_ = value;
      break;
    case kMmioDriverFeaturesSel:
      driver_select_ = value;
      break;
    case kMmioDriverFeatures:
      // Version 1: a word other than 0 holds no feature there is.
      if (mmio_version_ == 1 && driver_select_ != 0 && value != 0)
        finding(Oracle::kProtocol,
                "driver features word %u (0x%08x) written to a version 1 device (4.2.4: 32 "
                "feature bits)",
                driver_select_, value);
      features_written(driver_select_, value);
      break;
    case kMmioQueueSel:
      queue_select_ = static_cast<uint16_t>(value < 0xFFFF ? value : 0xFFFF);
      break;
    case kMmioQueueNum:
      if (r != nullptr) {
        r->size = static_cast<uint16_t>(value);
        packed_ref_.set_size(queue_select_, static_cast<uint16_t>(value));
        locate(queue_select_);
      }
      break;
    case kMmioGuestPageSize:
      mmio_page_size_ = value;
      break;
    case kMmioQueuePfn:
      // 4.2.4: the descriptor table at QueuePFN * GuestPageSize, the
      // available ring right after it (the legacy layout, 2.7.2).
      if (r != nullptr && mmio_version_ == 1 && mmio_page_size_ != 0) {
        r->desc = uint64_t{value} * mmio_page_size_;
        r->avail = r->desc + 16u * r->size;
        if (value != 0) locate(queue_select_);
      }
      break;
    case kMmioQueueDriverLow:
    case kMmioQueueDriverHigh:
      if (r != nullptr && mmio_version_ == 2) {
        r->avail = offset == kMmioQueueDriverLow
                       ? (r->avail & ~0xFFFFFFFFull) | value
                       : (r->avail & 0xFFFFFFFFull) | (uint64_t{value} << 32);
        locate(queue_select_);
      }
      break;
    case kMmioStatus:
      if ((value & ~0xFFu) != 0)
        finding(Oracle::kProtocol,
                "Status written with 0x%08x: only bits 0-7 are device status (2.1, 4.2.2)", value);
      status_written(static_cast<uint8_t>(value));
      break;
    default:
      break;
  }
}

void ProtocolReference::on_published(const PublishedChain& chain) {
  const uint16_t queue = chain.queue;
  if (queue >= kMaxQueues) return;
  if (packed_) packed_ref_.on_published(chain);
  if (posted_tail_[queue] - posted_head_[queue] < kMaxPosted)
    posted_[queue][posted_tail_[queue]++ % kMaxPosted] = chain.head;
  ++inflight_[queue];
  ++rings_[queue].published;
  rings_[queue].pending_publish = true;
  rings_[queue].write_barrier = false;
}

void ProtocolReference::on_dma_alloc(const DmaRegion& region) {
  for (DmaRegion& d : dma_)
    if (d.cpu == nullptr) {
      d = region;
      return;
    }
}

void ProtocolReference::on_dma_free(const DmaRegion& region) {
  for (DmaRegion& d : dma_)
    if (d.cpu == region.cpu) d = DmaRegion{};
  for (Ring& r : rings_) {
    const uintptr_t p = reinterpret_cast<uintptr_t>(r.avail_cpu);
    const uintptr_t lo = reinterpret_cast<uintptr_t>(region.cpu);
    if (p >= lo && p < lo + region.size) r.avail_cpu = nullptr;
  }
}

void ProtocolReference::locate(uint16_t queue) {
  Ring& r = rings_[queue];
  r.avail_cpu = nullptr;
  r.used_event_cpu = nullptr;
  // A packed ring has no avail ring: queue_driver is its driver event
  // structure, judged by PackedReference.
  if (packed_) {
    const volatile uint8_t* event = nullptr;
    for (const DmaRegion& d : dma_)
      if (d.cpu != nullptr && r.avail >= d.device_addr && r.avail + 4 <= d.device_addr + d.size)
        event = static_cast<const volatile uint8_t*>(d.cpu) + (r.avail - d.device_addr);
    packed_ref_.set_driver_event(queue, event);
    return;
  }
  for (const DmaRegion& d : dma_)
    if (d.cpu != nullptr && r.avail >= d.device_addr && r.avail + 4 <= d.device_addr + d.size) {
      r.avail_cpu = static_cast<const volatile uint8_t*>(d.cpu) + (r.avail - d.device_addr);
      const volatile uint16_t* a = reinterpret_cast<const volatile uint16_t*>(r.avail_cpu);
      r.last_flags = a[0];
      r.last_idx = a[1];
      // used_event follows the ring of size entries (2.7.6), when the
      // driver's allocation holds it.
      const uint64_t ue = r.avail + 4 + 2 * uint64_t{r.size};
      r.used_event_cpu = nullptr;
      if (event_idx_ && r.size != 0 && ue + 2 <= d.device_addr + d.size) {
        r.used_event_cpu = static_cast<const volatile uint8_t*>(d.cpu) + (ue - d.device_addr);
        r.last_used_event = *reinterpret_cast<const volatile uint16_t*>(r.used_event_cpu);
      }
      return;
    }
}

void ProtocolReference::observe_rings() {
  if (packed_) packed_ref_.observe(device_writes_, device_writes_context_);
  for (uint16_t q = 0; q < kMaxQueues; ++q) {
    Ring& r = rings_[q];
    if (r.avail_cpu == nullptr) continue;
    const volatile uint16_t* a = reinterpret_cast<const volatile uint16_t*>(r.avail_cpu);
    const uint16_t idx = a[1];
    const uint16_t flags = a[0];
    if (idx != r.last_idx) {
      // Only the driver's own store is judged: it makes available exactly
      // the chains published since its last one, at a place the device
      // does not write. A legacy device that changed its queue size
      // between the driver's read and the queue address write lays its
      // used ring over the driver's avail ring and writes avail.idx itself.
      const bool device_wrote =
          device_writes_ != nullptr && device_writes_(device_writes_context_, a + 1, 2);
      const bool drivers_store =
          !device_wrote && idx == static_cast<uint16_t>(r.last_idx + r.published);
      if (drivers_store && r.pending_publish && !r.write_barrier)
        finding(Oracle::kProtocol,
                "queue %u: avail.idx stored (%u -> %u) with no write barrier after the chains it "
                "makes available were written (2.7.13.2)",
                q, r.last_idx, idx);
      r.last_idx = idx;
      r.published = 0;
      r.pending_publish = false;
      r.stored = drivers_store;
    }
    if (flags != r.last_flags) {
      if ((r.last_flags & kAvailNoInterrupt) != 0 && (flags & kAvailNoInterrupt) == 0)
        r.irq_enabled = true;
      r.last_flags = flags;
    }
    if (r.used_event_cpu != nullptr) {
      // EVENT_IDX: a used_event that asks for an interrupt at the next
      // completion; a re-check of used.idx after it needs the same full
      // barrier as after clearing NO_INTERRUPT.
      const uint16_t ue = *reinterpret_cast<const volatile uint16_t*>(r.used_event_cpu);
      if (ue != r.last_used_event) {
        const bool device_wrote = device_writes_ != nullptr &&
                                  device_writes_(device_writes_context_, r.used_event_cpu, 2);
        // Naming the next completion is what enables (2.7.10.2); another
        // value (last_used - 1, far behind) is the driver disabling them.
        if (!device_wrote && ue == last_used_[q]) r.irq_enabled = true;
        r.last_used_event = ue;
      }
    }
  }
}

void ProtocolReference::on_barrier(Barrier kind) {
  packed_ref_.on_barrier(kind);
  if (order_platform_ && !dma_class(kind))
    finding(Oracle::kProtocol,
            "SMP-strength barrier (kind %u) after VIRTIO_F_ORDER_PLATFORM was accepted: the "
            "device may be real DMA hardware (6.1)",
            static_cast<unsigned>(kind));
  for (Ring& r : rings_) {
    if (write_class(kind)) r.write_barrier = true;
    if (read_class(kind)) r.read_barrier = true;
    if (full_class(kind)) r.stored = r.irq_enabled = false;
  }
}

void ProtocolReference::on_used_idx(uint16_t queue, uint16_t idx, bool attaching) {
  if (queue >= kMaxQueues) return;
  Ring& r = rings_[queue];
  if (r.irq_enabled)
    finding(Oracle::kProtocol,
            "queue %u: used.idx re-read after interrupts were enabled (avail.flags or used_event "
            "stored) with no full barrier between: a completion racing the store is missed",
            queue);
  r.read_barrier = false;
  if (bad_element_[queue]) lied_[queue] = true;
  used_idx_[queue] = idx;
  const uint16_t ahead = static_cast<uint16_t>(idx - last_used_[queue]);
  // The device can have used only what was made available: chains
  // announced, and (once the ring is located) covered by the avail.idx the
  // driver stored.
  uint32_t available = inflight_[queue];
  if (r.avail_cpu != nullptr) {
    const uint16_t stored = static_cast<uint16_t>(r.last_idx - last_used_[queue]);
    if (stored < available) available = stored;
  }
  jump_[queue] = ahead > available;
  // At attach nothing was made available yet: a used index that moved is a
  // lie the driver must catch there (the queue is broken, the next
  // poll_device() resets).
  if (attaching && ahead != 0) bad_element_[queue] = true;
  // IN_ORDER: an element naming a batch stays until its chain completes (a
  // batch larger than one harvest is finished by the next without fetching
  // it again).
  if (!in_order_) fifo_head_[queue] = fifo_tail_[queue] = 0;
}

void ProtocolReference::on_used_flags(uint16_t queue) {
  if (queue < kMaxQueues && rings_[queue].stored)
    finding(Oracle::kProtocol,
            "queue %u: used.flags read to decide on a notification with no full barrier after "
            "the avail.idx store (2.7.13.3)",
            queue);
}

void ProtocolReference::on_avail_event(uint16_t queue, uint16_t event, bool notifications_seen) {
  if (queue >= kMaxQueues) return;
  Ring& r = rings_[queue];
  if (r.stored)
    finding(Oracle::kProtocol,
            "queue %u: avail_event read to decide on a notification with no full barrier after "
            "the avail.idx store (2.7.13.4.1)",
            queue);
  check_kick_made(queue);
  if (!event_idx_ || r.avail_cpu == nullptr) return;
  const uint16_t now = r.last_idx;
  const uint16_t old = r.kick_old;
  r.kick_old = now;
  if (!notifications_seen) return;
  // 2.7.10.2, vring_need_event(): the device asked to be notified once the
  // index passes avail_event.
  r.kick_expected = static_cast<uint16_t>(now - event - 1) < static_cast<uint16_t>(now - old);
  r.kick_open = true;
  r.kick_event = event;
  r.kick_new = now;
}

void ProtocolReference::on_device_event(uint16_t queue, uint16_t off_wrap, uint16_t flags,
                                        bool notifications_seen) {
  if (queue >= kMaxQueues) return;
  Ring& r = rings_[queue];
  check_kick_made(queue);
  const PackedReference::Kick kick =
      packed_ref_.on_device_event(queue, off_wrap, flags, event_idx_);
  if (!notifications_seen || kick == PackedReference::Kick::kEither) return;
  r.kick_expected = kick == PackedReference::Kick::kMust;
  r.kick_open = true;
  r.kick_event = off_wrap;
  r.kick_new = packed_ref_.published_pos(queue);
}

void ProtocolReference::on_notify(uint16_t queue) {
  if (queue >= kMaxQueues) return;
  Ring& r = rings_[queue];
  if (r.kick_open && !r.kick_expected)
    finding(Oracle::kProtocol,
            "queue %u: notification although avail.idx %u did not cross avail_event %u since "
            "the last decision (2.7.10.1: SHOULD NOT)",
            queue, r.kick_new, r.kick_event);
  r.kick_open = false;
}

void ProtocolReference::check_kick_made(uint16_t queue) {
  Ring& r = rings_[queue];
  if (r.kick_open && r.kick_expected)
    finding(Oracle::kProtocol,
            "queue %u: no notification after avail.idx %u crossed avail_event %u (2.7.10.1: MUST "
            "notify)",
            queue, r.kick_new, r.kick_event);
  r.kick_open = false;
}

void ProtocolReference::end_op() {
  for (uint16_t q = 0; q < kMaxQueues; ++q) check_kick_made(q);
}

void ProtocolReference::check_used_event(uint16_t queue) {
  if (packed_) {
    if (event_idx_ && queue < kMaxQueues && !lied_[queue] && !bad_element_[queue])
      packed_ref_.check_driver_event(queue);
    return;
  }
  if (!event_idx_ || queue >= kMaxQueues || lied_[queue] || bad_element_[queue]) return;
  const Ring& r = rings_[queue];
  if (r.used_event_cpu == nullptr) return;
  const uint16_t ue = *reinterpret_cast<const volatile uint16_t*>(r.used_event_cpu);
  if (ue != last_used_[queue])
    finding(Oracle::kProtocol,
            "queue %u: interrupts wanted, but used_event is %u after %u completions taken: the "
            "device will not interrupt for the next one (2.7.10.2)",
            queue, ue, last_used_[queue]);
}

void ProtocolReference::on_used_elems(uint16_t queue, const void* elems, size_t len) {
  if (queue >= kMaxQueues) return;
  if (!rings_[queue].read_barrier)
    finding(Oracle::kProtocol,
            "queue %u: used elements fetched after used.idx with no read barrier between "
            "(2.7.13)",
            queue);
  const uint8_t* p = static_cast<const uint8_t*>(elems);
  for (size_t i = 0; i + 8 <= len; i += 8) {
    Elem e;
    e.id = uint32_t{p[i]} | uint32_t{p[i + 1]} << 8 | uint32_t{p[i + 2]} << 16 |
           uint32_t{p[i + 3]} << 24;
    e.len = uint32_t{p[i + 4]} | uint32_t{p[i + 5]} << 8 | uint32_t{p[i + 6]} << 16 |
            uint32_t{p[i + 7]} << 24;
    fifo_[queue][fifo_tail_[queue]++ & (kFifo - 1)] = e;
  }
}

void ProtocolReference::on_completed(uint16_t queue, uint16_t head, uint32_t len) {
  if (queue >= kMaxQueues) return;
  if (packed_) {
    packed_ref_.on_completed(queue, head, len);
    if (inflight_[queue] > 0) --inflight_[queue];
    return;
  }
  const uint16_t ahead = static_cast<uint16_t>(used_idx_[queue] - last_used_[queue]);
  if (jump_[queue])
    finding(Oracle::kProtocol,
            "queue %u: completion of chain %u accepted although used.idx %u was %u entries "
            "ahead with only %u chains in flight (2.7.13: the index cannot be trusted)",
            queue, head, used_idx_[queue], ahead, inflight_[queue]);
  if (ahead == 0)
    finding(Oracle::kProtocol,
            "queue %u: completion of chain %u accepted beyond the used index %u the device "
            "published",
            queue, head, used_idx_[queue]);
  if (lied_[queue])
    finding(Oracle::kProtocol,
            "queue %u: completion of chain %u accepted after the device published a used "
            "element no driver may accept there, without a reset since: the queue is broken",
            queue, head);
  if (fifo_head_[queue] == fifo_tail_[queue])
    finding(Oracle::kProtocol,
            "queue %u: completion of chain %u (len %u) accepted without fetching its used "
            "element",
            queue, head, len);
  const Elem e = fifo_[queue][fifo_head_[queue] & (kFifo - 1)];
  if (in_order_) {
    // 2.7.9: chains complete in the order they were made available; one
    // element may stand for a batch, naming its last chain, and implies
    // every chain before it (used.idx moves by the batch's size).
    const uint32_t posted = posted_tail_[queue] - posted_head_[queue];
    if (posted == 0 || posted_[queue][posted_head_[queue] % kMaxPosted] != head)
      finding(Oracle::kProtocol,
              "queue %u: completion of chain %u accepted out of the order chains were made "
              "available (IN_ORDER, 2.7.9: the oldest outstanding is %u)",
              queue, head,
              posted != 0 ? posted_[queue][posted_head_[queue] % kMaxPosted] : 0xFFFFu);
    if (e.id != head) {
      bool later = false;
      for (uint32_t i = posted_head_[queue] + 1; i != posted_tail_[queue] && !later; ++i)
        later = posted_[queue][i % kMaxPosted] == e.id;
      if (!later)
        finding(Oracle::kProtocol,
                "queue %u: completion of chain %u accepted as implied by a used element for "
                "id %u, which is no later chain in flight (IN_ORDER, 2.7.9)",
                queue, head, e.id);
    } else {
      ++fifo_head_[queue];
      if (e.len != len)
        finding(Oracle::kProtocol,
                "queue %u: completion accepted as chain %u len %u, but the used element the "
                "device published there says id %u len %u",
                queue, head, len, e.id, e.len);
    }
    if (posted != 0) ++posted_head_[queue];
  } else {
    ++fifo_head_[queue];
    if (e.id != head || e.len != len)
      finding(Oracle::kProtocol,
              "queue %u: completion accepted as chain %u len %u, but the used element the device "
              "published there says id %u len %u",
              queue, head, len, e.id, e.len);
  }
  ++last_used_[queue];
  if (inflight_[queue] > 0) --inflight_[queue];
}

}  // namespace vnet::fuzz
