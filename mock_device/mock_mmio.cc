// The virtio-mmio register file of MockDevice (virtio 1.2, 4.2; legacy
// 4.2.4), and the MMIO driver rules of the conformance checker. Same device
// model as PCI: status, features, queues and interrupts are the shared
// state of mock_device.cc; only the registers that reach them differ.
//
// What the checker sees here (ids in spec_rules.h):
//   drv-4.2.2.2-1   an offset the register table of this version does not
//                   describe (gaps; v1-only registers on v2), configuration
//                   beyond the network device's fields, beyond the window
//   def-4.2.4-1     a version 2 register on a version 1 device
//   drv-4.2.2.2-2/3 a write to a read-only / read of a write-only register
//   drv-4.2.2.2-4   a register access that is not 32 bits wide and aligned
//   drv-4.2.2.2-5   (v2) a configuration access that is not one field at
//                   its natural width
//   drv-4.2.2.2-6/7, drv-4.2.3.1.1-3
//                   any further access after the driver read a bad magic, a
//                   version other than 1 or 2, or DeviceID 0
//   drv-4.2.3.1.1-1/2 a register other than the identity ones accessed
//                   before MagicValue and Version / DeviceID were read
//   drv-4.2.3.1.1-4 a shared memory register
//   drv-4.2.2.2-10/11 DeviceFeatures read / DriverFeatures written without
//                   a selector write since the reset
//   drv-4.2.2.2-12  QueueNum above QueueNumMax
//   drv-4.2.2.2-13  (v2) QueueNum or a ring address written while QueueReady
//   def-4.2.3.2-1   (v2) QueueReady = 1 before QueueNum and all six address
//                   halves were written
//   def-4.2.4-2     (v1) QueuePFN before GuestPageSize, QueueNum or QueueAlign
//   drv-4.2.2.2-17  InterruptACK of a bit the driver did not read set in
//                   InterruptStatus (its last read)
//   drv-4.2.2.2-18  InterruptACK with bits other than 0-1
#include <cstdio>
#include <string>

#include "driver/spec/mmio_layout.h"
#include "driver/spec/net_layout.h"
#include "driver/spec/split_ring_layout.h"
#include "mock_device/mock_device.h"

namespace vnet::mock {

namespace st = spec::status;
namespace mm = spec::mmio;
using spec::Feature;
using spec::has_feature;

namespace {

uint32_t width_mask(uint8_t width) {
  return width >= 4 ? 0xFFFF'FFFFu : (uint32_t{1} << (8 * width)) - 1;
}

// The register table: 4.2.2 (version 2) and 4.2.4 (version 1).
enum Access : uint8_t { kR = 1, kW = 2, kRW = 3 };
enum Versions : uint8_t { kV1 = 1, kV2 = 2, kBoth = 3, kShm = 4 };
struct Reg {
  uint32_t offset;
  const char* name;
  uint8_t access;
  uint8_t versions;
};
constexpr Reg kRegs[] = {
    {mm::kMagicValue, "MagicValue", kR, kBoth},
    {mm::kVersion, "Version", kR, kBoth},
    {mm::kDeviceId, "DeviceID", kR, kBoth},
    {mm::kVendorId, "VendorID", kR, kBoth},
    {mm::kDeviceFeatures, "DeviceFeatures", kR, kBoth},
    {mm::kDeviceFeaturesSel, "DeviceFeaturesSel", kW, kBoth},
    {mm::kDriverFeatures, "DriverFeatures", kW, kBoth},
    {mm::kDriverFeaturesSel, "DriverFeaturesSel", kW, kBoth},
    {mm::kGuestPageSize, "GuestPageSize", kW, kV1},
    {mm::kQueueSel, "QueueSel", kW, kBoth},
    {mm::kQueueNumMax, "QueueNumMax", kR, kBoth},
    {mm::kQueueNum, "QueueNum", kW, kBoth},
    {mm::kQueueAlign, "QueueAlign", kW, kV1},
    {mm::kQueuePfn, "QueuePFN", kRW, kV1},
    {mm::kQueueReady, "QueueReady", kRW, kV2},
    {mm::kQueueNotify, "QueueNotify", kW, kBoth},
    {mm::kInterruptStatus, "InterruptStatus", kR, kBoth},
    {mm::kInterruptAck, "InterruptACK", kW, kBoth},
    {mm::kStatus, "Status", kRW, kBoth},
    {mm::kQueueDescLow, "QueueDescLow", kW, kV2},
    {mm::kQueueDescHigh, "QueueDescHigh", kW, kV2},
    {mm::kQueueDriverLow, "QueueDriverLow", kW, kV2},
    {mm::kQueueDriverHigh, "QueueDriverHigh", kW, kV2},
    {mm::kQueueDeviceLow, "QueueDeviceLow", kW, kV2},
    {mm::kQueueDeviceHigh, "QueueDeviceHigh", kW, kV2},
    {0x0AC, "SHMSel", kW, kShm},
    {0x0B0, "SHMLenLow", kR, kShm},
    {0x0B4, "SHMLenHigh", kR, kShm},
    {0x0B8, "SHMBaseLow", kR, kShm},
    {0x0BC, "SHMBaseHigh", kR, kShm},
    {0x0C0, "QueueReset", kRW, kV2},
    {mm::kConfigGeneration, "ConfigGeneration", kR, kV2},
};

const Reg* reg_at(uint32_t offset) {
  for (const Reg& r : kRegs)
    if (r.offset == offset) return &r;
  return nullptr;
}

bool identity_register(uint32_t offset) {
  return offset == mm::kMagicValue || offset == mm::kVersion || offset == mm::kDeviceId ||
         offset == mm::kVendorId;
}

// QueueRegs::written bits.
constexpr uint8_t kWroteNum = 1;
constexpr uint8_t kWroteAlign = 2;
constexpr uint8_t kWroteDescLo = 4;
constexpr uint8_t kWroteDescHi = 8;
constexpr uint8_t kWroteDriverLo = 16;
constexpr uint8_t kWroteDriverHi = 32;
constexpr uint8_t kWroteDeviceLo = 64;
constexpr uint8_t kWroteDeviceHi = 128;
constexpr uint8_t kWroteAllV2 = kWroteNum | kWroteDescLo | kWroteDescHi | kWroteDriverLo |
                                kWroteDriverHi | kWroteDeviceLo | kWroteDeviceHi;

// Fields of the network device's configuration (5.1.4): offset, width. The
// MAC is an array of bytes: each is an 8-bit field.
struct CfgField {
  uint8_t offset;
  uint8_t width;
};
constexpr CfgField kNetCfgFields[] = {
    {0, 1},  {1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1},  // mac
    {6, 2},                                           // status
    {8, 2},                                           // max_virtqueue_pairs
    {10, 2},                                          // mtu
    {12, 4},                                          // speed
    {16, 1},                                          // duplex
    {17, 1},                                          // rss_max_key_size
    {18, 2},                                          // rss_max_indirection_table_length
    {20, 4},                                          // supported_hash_types
};

}  // namespace

bool MockDevice::mmio_ignored(uint32_t offset) {
  if (identity_register(offset)) return false;
  // 4.2.3.1.1: initialisation starts by reading and checking MagicValue
  // and Version, then DeviceID.
  if (!mmio_magic_read_ || !mmio_version_read_)
    conformance_.report("drv-4.2.3.1.1-1", "register " + hex(offset) +
                                               " accessed before MagicValue and Version were read");
  else if (!mmio_device_id_read_)
    conformance_.report("drv-4.2.3.1.1-2",
                        "register " + hex(offset) + " accessed before DeviceID was read");
  if (mmio_placeholder_) {
    conformance_.report("drv-4.2.3.1.1-3", "register " + hex(offset) +
                                               " accessed after DeviceID read 0 (a placeholder)");
    return true;
  }
  if (mmio_bad_magic_) {
    conformance_.report("drv-4.2.2.2-6",
                        "register " + hex(offset) + " accessed after MagicValue read wrong");
    return true;
  }
  if (mmio_bad_version_) {
    conformance_.report("drv-4.2.2.2-7", "register " + hex(offset) +
                                             " accessed after Version read other than 1 or 2");
    return true;
  }
  return false;
}

void MockDevice::mmio_note_identity(uint32_t offset, uint32_t value) {
  switch (offset) {
    case mm::kMagicValue:
      mmio_magic_read_ = true;
      mmio_bad_magic_ = value != mm::kMagic;
      break;
    case mm::kVersion:
      mmio_version_read_ = true;
      mmio_bad_version_ = value != mm::kVersionLegacy && value != mm::kVersionModern;
      break;
    case mm::kDeviceId:
      mmio_device_id_read_ = true;
      mmio_placeholder_ = value == mm::kDeviceIdPlaceholder;
      break;
    case mm::kInterruptStatus:
      last_isr_read_ = value;
      break;
    default:
      break;
  }
}

bool MockDevice::mmio_check_access(uint32_t offset, uint8_t width, bool write) {
  const Reg* r = reg_at(offset & ~3u);
  const uint8_t version = uint8_t(mmio_version());
  const std::string verb = write ? "write" : "read";
  if (r == nullptr) {
    conformance_.report("drv-4.2.2.2-1",
                        verb + " of " + hex(offset) + ", not a register of the virtio-mmio layout");
    return false;
  }
  if (r->versions == kShm) {
    conformance_.report("drv-4.2.3.1.1-4",
                        verb + " of " + r->name + ": this device has no shared memory regions");
    return false;
  }
  if ((r->versions & version) == 0) {
    if (version == 2)
      conformance_.report("drv-4.2.2.2-1", verb + " of " + r->name +
                                               ", a version 1 register, on a version 2 device");
    else
      conformance_.report(
          "def-4.2.4-1", verb + " of " + r->name + ", a version 2 register, on a version 1 device");
    return false;
  }
  if (width != 4 || (offset & 3) != 0) {
    conformance_.report("drv-4.2.2.2-4", verb + " of " + std::to_string(width) + " bytes at " +
                                             hex(offset) + " (" + r->name +
                                             "): registers take aligned 32-bit accesses");
    return false;
  }
  if (write && (r->access & kW) == 0) {
    conformance_.report("drv-4.2.2.2-2", std::string("write to read-only ") + r->name);
    return false;
  }
  if (!write && (r->access & kR) == 0) {
    conformance_.report("drv-4.2.2.2-3", std::string("read of write-only ") + r->name);
    return false;
  }
  return true;
}

uint32_t MockDevice::mmio_read(uint32_t offset, uint8_t width) {
  if (!is_mmio_device() || width == 0 || width > 4) return width_mask(width);
  uint32_t v = 0;
  if (offset >= config_.mmio_window_size || width > config_.mmio_window_size - offset) {
    conformance_.report("drv-4.2.2.2-1", "read of " + hex(offset) + " beyond the " +
                                             hex(config_.mmio_window_size) + "-byte window");
    v = width_mask(width);
  } else if (offset >= mm::kConfig) {
    mmio_ignored(offset);
    v = mmio_config_read(offset - mm::kConfig, width);
  } else {
    mmio_ignored(offset);
    if (mmio_check_access(offset, width, false)) v = mmio_register_read(offset);
  }
  if (!register_lies_.empty()) v = apply_register_lies(Region::kMmio, offset, width, v);
  v &= width_mask(width);
  if (offset < mm::kConfig && width == 4) mmio_note_identity(offset, v);
  return v;
}

void MockDevice::mmio_write(uint32_t offset, uint8_t width, uint32_t value) {
  if (!is_mmio_device() || width == 0 || width > 4) return;
  value &= width_mask(width);
  if (offset >= config_.mmio_window_size || width > config_.mmio_window_size - offset) {
    conformance_.report("drv-4.2.2.2-1", "write of " + hex(offset) + " beyond the " +
                                             hex(config_.mmio_window_size) + "-byte window");
    return;
  }
  mmio_ignored(offset);
  if (offset >= mm::kConfig) return mmio_config_write(offset - mm::kConfig, width, value);
  if (mmio_check_access(offset, width, true)) mmio_register_write(offset, value);
}

uint32_t MockDevice::mmio_config_read(uint32_t offset, uint8_t width) {
  if (offset >= spec::net_cfg::kSize || width > spec::net_cfg::kSize - offset) {
    conformance_.report("drv-4.2.2.2-1", "configuration read of " + std::to_string(width) +
                                             " bytes at " + hex(offset) +
                                             ", past the network device's fields");
    return 0;
  }
  if (mmio_version() == 2) {
    // 4.2.2.2: fields at their natural width (the MAC byte by byte).
    bool ok = false;
    for (const CfgField& f : kNetCfgFields) ok = ok || (f.offset == offset && f.width == width);
    if (!ok)
      conformance_.report("drv-4.2.2.2-5", "configuration read of " + std::to_string(width) +
                                               " bytes at " + hex(offset) +
                                               ": not one field at its natural width");
  }
  return config_bytes_read(offset, width);
}

void MockDevice::mmio_config_write(uint32_t offset, uint8_t width, uint32_t value) {
  if (mmio_version() == 2) {
    conformance_.report("def-5.1.4-1", "5.1.4.2",
                        "driver wrote device configuration at " + hex(offset));
    return;
  }
  // Legacy drivers may write the MAC (5.1.4.3).
  for (uint8_t i = 0; i < width && offset + i < 6; ++i)
    config_.mac[offset + i] = uint8_t(value >> (8 * i));
}

uint32_t MockDevice::mmio_register_read(uint32_t offset) {
  const bool valid = queue_select_ < num_queues();
  const QueueRegs& r = qregs_[valid ? queue_select_ : 0];
  switch (offset) {
    case mm::kMagicValue:
      return mm::kMagic;
    case mm::kVersion:
      return mmio_version();
    case mm::kDeviceId:
      return config_.mmio_device_id;
    case mm::kVendorId:
      return config_.mmio_vendor_id;
    case mm::kDeviceFeatures:
      if (!device_features_sel_written_)
        conformance_.report("drv-4.2.2.2-10",
                            "DeviceFeatures read without writing DeviceFeaturesSel first");
      if (mmio_version() == 1)  // the legacy offer: 32 bits, QEMU answers 0 for word 1
        return device_feature_select_ == 0 ? uint32_t(config_.features) : 0;
      return device_feature_select_ < 2 ? uint32_t((config_.features & ~kLegacyOnlyFeatures) >>
                                                   (32 * device_feature_select_))
                                        : 0;
    case mm::kQueueNumMax:
      return valid ? r.max_size : 0;
    case mm::kQueuePfn:
      return valid && r.enabled ? r.pfn : 0;
    case mm::kQueueReady:
      return valid && r.enabled ? 1 : 0;
    case mm::kInterruptStatus:
      ++counters_.isr_reads;  // a read does not clear (InterruptACK does)
      return isr_;
    case mm::kStatus:
      return read_status();
    case mm::kConfigGeneration:
      if (generation_flips_left_ > 0) {  // config_generation_unstable
        --generation_flips_left_;
        ++counters_.faults_applied;
        bump_generation();
      }
      return generation_;
    default:
      return 0;  // QueueReset: no ring reset here
  }
}

void MockDevice::mmio_register_write(uint32_t offset, uint32_t value) {
  const bool valid = queue_select_ < num_queues();
  QueueRegs& r = qregs_[valid ? queue_select_ : 0];
  const bool v1 = mmio_version() == 1;
  // A queue register of v2 while the queue is live (4.2.2.2).
  auto queue_field = [&](const char* name, uint8_t bit) {
    note_queue_setup(name);
    if (!v1 && valid && r.enabled) {
      conformance_.report("drv-4.2.2.2-13", std::string(name) + " of queue " +
                                                std::to_string(queue_select_) +
                                                " written while QueueReady is set");
      return false;
    }
    if (valid) r.written |= bit;
    return valid;
  };
  auto set_lo = [](uint64_t& a, uint32_t v) { a = (a & ~uint64_t{0xFFFF'FFFF}) | v; };
  auto set_hi = [](uint64_t& a, uint32_t v) { a = (a & 0xFFFF'FFFF) | (uint64_t(v) << 32); };
  switch (offset) {
    case mm::kDeviceFeaturesSel:
      device_feature_select_ = value;
      device_features_sel_written_ = true;
      return;
    case mm::kDriverFeaturesSel:
      driver_feature_select_ = value;
      driver_features_sel_written_ = true;
      return;
    case mm::kDriverFeatures:
      if (!hooks_.empty()) fire_hooks(HookPoint::kFeaturesWrite, 0, 0, -1, true);
      if (!driver_features_sel_written_)
        conformance_.report("drv-4.2.2.2-11",
                            "DriverFeatures written without writing DriverFeaturesSel first");
      if (!lost_state_ && !(status_ & st::kDriver))
        conformance_.report(v1 ? SpecRuleId("drv-3.1.2-1") : SpecRuleId("drv-3.1.1-1"), "3.1.1",
                            "driver features written before DRIVER");
      if (!lost_state_ && !v1 && (status_ & st::kFeaturesOk))
        conformance_.report("drv-3.1.1-3", "driver features written after FEATURES_OK");
      if (!lost_state_ && v1 && (status_ & st::kDriverOk))
        conformance_.report("drv-3.1.2-1", "3.1.1", "driver features written after DRIVER_OK");
      if (driver_feature_select_ == 0)
        driver_features_ = (driver_features_ & ~uint64_t{0xFFFF'FFFF}) | value;
      else if (driver_feature_select_ == 1 && !v1)
        driver_features_ = (driver_features_ & 0xFFFF'FFFF) | (uint64_t(value) << 32);
      else if (value != 0)
        conformance_.report("drv-2.2.1-1", "driver accepted feature bits in word " +
                                               std::to_string(driver_feature_select_) +
                                               ", which the device never offered");
      features_written_ = true;
      ctrl_features_set();
      if (!hooks_.empty()) fire_hooks(HookPoint::kFeaturesWrite, 0, 0, -1, false);
      return;
    case mm::kGuestPageSize:
      guest_page_size_ = value;
      return;
    case mm::kQueueSel:
      queue_select_ = uint16_t(value > 0xFFFF ? 0xFFFF : value);
      return;
    case mm::kQueueNum:
      if (!queue_field("QueueNum", kWroteNum)) return;
      if (value > r.max_size)
        conformance_.report("drv-4.2.2.2-12", "QueueNum " + std::to_string(value) + " of queue " +
                                                  std::to_string(queue_select_) +
                                                  " above QueueNumMax " +
                                                  std::to_string(r.max_size));
      r.size = uint16_t(value > 0xFFFF ? 0 : value);
      return;
    case mm::kQueueAlign:
      if (valid) {
        r.align = value;
        r.written |= kWroteAlign;
      }
      return;
    case mm::kQueuePfn:
      return mmio_queue_pfn(value);
    case mm::kQueueReady:
      return mmio_queue_ready(value);
    case mm::kQueueNotify:
      notify(uint16_t(value > 0xFFFF ? 0xFFFF : value));
      return;
    case mm::kInterruptAck:
      return mmio_interrupt_ack(value);
    case mm::kStatus:
      return write_status(uint8_t(value), v1);
    case mm::kQueueDescLow:
      if (queue_field("QueueDescLow", kWroteDescLo)) set_lo(r.addrs.desc, value);
      return;
    case mm::kQueueDescHigh:
      if (queue_field("QueueDescHigh", kWroteDescHi)) set_hi(r.addrs.desc, value);
      return;
    case mm::kQueueDriverLow:
      if (queue_field("QueueDriverLow", kWroteDriverLo)) set_lo(r.addrs.driver, value);
      return;
    case mm::kQueueDriverHigh:
      if (queue_field("QueueDriverHigh", kWroteDriverHi)) set_hi(r.addrs.driver, value);
      return;
    case mm::kQueueDeviceLow:
      if (queue_field("QueueDeviceLow", kWroteDeviceLo)) set_lo(r.addrs.device, value);
      return;
    case mm::kQueueDeviceHigh:
      if (queue_field("QueueDeviceHigh", kWroteDeviceHi)) set_hi(r.addrs.device, value);
      return;
    default:
      return;  // QueueReset: no ring reset here
  }
}

void MockDevice::mmio_queue_ready(uint32_t value) {
  if (queue_select_ >= num_queues()) return;
  const uint16_t q = queue_select_;
  QueueRegs& r = qregs_[q];
  if ((value & 1) == 0) {
    // 4.2.2.2: the driver stops using a queue by writing 0 (and reading
    // back); the device forgets it.
    r.enabled = false;
    r.written = 0;
    queues_[q].reset();
    return;
  }
  note_queue_setup("QueueReady");
  if (r.enabled) return;
  if ((r.written & kWroteAllV2) != kWroteAllV2)
    conformance_.report("def-4.2.3.2-1",
                        "QueueReady set on queue " + std::to_string(q) +
                            " before QueueNum and every QueueDesc/Driver/Device half were written");
  if (r.size == 0 || r.size > r.max_size) {
    conformance_.report("drv-4.2.2.2-12", "queue " + std::to_string(q) + " made ready with size " +
                                              std::to_string(r.size) + " (QueueNumMax " +
                                              std::to_string(r.max_size) + ")");
    return;  // not taken: QueueReady reads back 0
  }
  enable_queue(q);
}

void MockDevice::mmio_queue_pfn(uint32_t value) {
  if (queue_select_ >= num_queues()) return;
  const uint16_t q = queue_select_;
  QueueRegs& r = qregs_[q];
  if (value == 0) {  // a legacy driver releases a queue by writing 0
    r.enabled = false;
    r.pfn = 0;
    r.written = 0;
    queues_[q].reset();
    return;
  }
  note_queue_setup("QueuePFN");
  // 4.2.4: GuestPageSize "before any queues are used"; the virtqueue
  // configuration writes QueueNum and QueueAlign before QueuePFN.
  if (guest_page_size_ == 0)
    conformance_.report("def-4.2.4-2",
                        "QueuePFN of queue " + std::to_string(q) + " written before GuestPageSize");
  if ((r.written & kWroteNum) == 0)
    conformance_.report("def-4.2.4-2",
                        "QueuePFN of queue " + std::to_string(q) + " written before QueueNum");
  if ((r.written & kWroteAlign) == 0)
    conformance_.report("def-4.2.4-2",
                        "QueuePFN of queue " + std::to_string(q) + " written before QueueAlign");
  if (r.size == 0 || r.size > r.max_size) {
    conformance_.report("drv-4.2.2.2-12", "queue " + std::to_string(q) + " given a ring of size " +
                                              std::to_string(r.size) + " (QueueNumMax " +
                                              std::to_string(r.max_size) + ")");
    return;  // not taken: QueuePFN reads back 0
  }
  // As QEMU: the page shift is that of GuestPageSize (0 when never written),
  // the used ring at the next QueueAlign boundary (4096 by default).
  const unsigned shift = guest_page_size_ != 0 ? unsigned(__builtin_ctz(guest_page_size_)) : 0;
  const uint64_t align = r.align != 0 && spec::is_power_of_two(r.align) ? r.align : 4096;
  const uint64_t base = uint64_t(value) << shift;
  r.pfn = value;
  r.addrs.desc = base;
  r.addrs.driver = base + spec::desc_bytes(r.size);
  r.addrs.device = spec::align_up(r.addrs.driver + spec::avail_bytes(r.size), align);
  r.enabled = false;
  enable_queue(q);
}

void MockDevice::mmio_interrupt_ack(uint32_t value) {
  ++counters_.mmio_acks;
  if ((value & ~mm::kInterruptDefined) != 0)
    conformance_.report("drv-4.2.2.2-18", "InterruptACK " + hex(value) +
                                              " sets bits InterruptStatus does not define");
  const uint32_t unread = value & mm::kInterruptDefined & ~last_isr_read_;
  if (unread != 0)
    conformance_.report("drv-4.2.2.2-17", "InterruptACK of " + hex(unread) +
                                              ", which the driver's last InterruptStatus read (" +
                                              hex(last_isr_read_) + ") did not report");
  last_isr_read_ &= ~value;
  if (!stuck_isr_) isr_ = uint8_t(isr_ & ~value);
  update_line();
  // interrupt_storm on the line: the device signals again at once.
  if (storm_left_ > 0 && !in_storm_) {
    --storm_left_;
    ++counters_.spurious_sent;
    signal(spec::interrupt::kConfig, -1);
  }
}

}  // namespace vnet::mock
