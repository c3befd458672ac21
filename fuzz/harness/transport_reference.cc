#include "fuzz/harness/transport_reference.h"

#include <string.h>

#include "driver/transport/pci_modern.h"
#include "fuzz/harness/findings.h"

namespace vnet::fuzz {

namespace {

// Written from the specification, not taken from the driver's headers, so
// that a wrong constant there cannot hide here.
constexpr uint16_t kVendorVirtio = 0x1AF4;     // 4.1.2
constexpr uint16_t kDeviceNetModern = 0x1041;  // 0x1040 + 1
constexpr uint16_t kDeviceNetTransitional = 0x1000;
constexpr uint16_t kVirtioIdNet = 1;     // 5.1
constexpr uint32_t kSubsystemId = 0x2E;  // PCI header type 0
constexpr uint32_t kPciStatus = 0x06;
constexpr uint16_t kStatusCapList = 0x10;
constexpr uint32_t kCapPointer = 0x34;
constexpr uint8_t kCapVendor = 0x09;
constexpr int kMaxCaps = 48;                      // (256 - 64) / 4
constexpr uint64_t kBelow4G = uint64_t{1} << 32;  // 32-bit register offsets
constexpr uint32_t kLegacyRegisters = 0x14;       // 4.1.4.8, without MSI-X
constexpr uint32_t kLegacyRegistersMsix = 0x18;   // ... with MSI-X enabled
constexpr uint8_t kCapMsix = 0x11;                // PCI: the MSI-X capability
constexpr uint8_t kNumBars = 6;
// Common configuration (4.1.4.3).
constexpr uint32_t kDeviceFeatureSelect = 0x00;
constexpr uint32_t kDeviceFeature = 0x04;
constexpr uint32_t kDriverFeatureSelect = 0x08;
constexpr uint32_t kDriverFeature = 0x0C;
constexpr uint32_t kDeviceStatus = 0x14;
constexpr uint32_t kConfigGeneration = 0x15;
constexpr uint32_t kConfigMsixVector = 0x10;
constexpr uint32_t kQueueSelect = 0x16;
constexpr uint32_t kQueueMsixVector = 0x1A;
constexpr uint32_t kQueueEnable = 0x1C;
constexpr uint32_t kQueueNotifyOff = 0x1E;
// Legacy registers (4.1.4.8).
constexpr uint32_t kLegacyGuestFeatures = 0x04;
constexpr uint32_t kLegacyQueueAddress = 0x08;
constexpr uint32_t kLegacyQueueSelect = 0x0E;
constexpr uint32_t kLegacyQueueNotify = 0x10;
constexpr uint32_t kLegacyStatus = 0x12;
constexpr uint32_t kLegacyIsr = 0x13;
constexpr uint32_t kLegacyConfigVector = 0x14;  // with MSI-X enabled
constexpr uint32_t kLegacyQueueVector = 0x16;
constexpr uint16_t kNoVector = 0xFFFF;
constexpr uint32_t kNetStatusField = 6;  // 5.1.4: status, 2 bytes
constexpr uint16_t kLinkUp = 1;

uint32_t min_length(int kind) {
  // common, notify, ISR, device
  static constexpr uint32_t kMin[] = {0x38, 2, 1, 0};
  return kMin[kind];
}
uint32_t alignment(int kind) {
  static constexpr uint32_t kAlign[] = {4, 2, 1, 4};
  return kAlign[kind];
}

// 5.1.4: the bytes of the device configuration the offered fields need
// (those this driver's policy can use: MAC, STATUS, MQ, MTU).
uint32_t net_config_needed(uint64_t offer) {
  auto has = [offer](unsigned bit) { return ((offer >> bit) & 1) != 0; };
  if (has(3)) return 12;   // VIRTIO_NET_F_MTU: mtu at 10
  if (has(22)) return 10;  // VIRTIO_NET_F_MQ: max_virtqueue_pairs at 8
  if (has(16)) return 8;   // VIRTIO_NET_F_STATUS: status at 6
  if (has(5)) return 6;    // VIRTIO_NET_F_MAC: mac at 0
  return 0;
}

// The offered features whose field would lie beyond a device configuration
// window of `window` bytes.
uint64_t fields_beyond(uint64_t features, uint32_t window) {
  uint64_t beyond = 0;
  static constexpr struct {
    unsigned bit;
    uint32_t end;
  } kFields[] = {{5, 6}, {16, 8}, {22, 10}, {3, 12}};  // MAC, STATUS, MQ, MTU
  for (const auto& f : kFields)
    if (((features >> f.bit) & 1) != 0 && window < f.end) beyond |= uint64_t{1} << f.bit;
  return beyond;
}

const char* kind_name(int kind) {
  static constexpr const char* kNames[] = {"common", "notify", "ISR", "device"};
  return kNames[kind];
}

}  // namespace

void TransportReference::begin_input() {
  probing_ = false;
  msix_enabled_ = msix_enable_refused_ = false;
  memset(cfg_state_, 0, sizeof cfg_state_);
  memset(mem_bar_size_, 0, sizeof mem_bar_size_);
  chosen_ = Outcome::kUndetermined;
  for (Window& w : windows_) w = Window{};
  multiplier_ = legacy_size_ = 0;
  num_bar_answers_ = num_log_ = 0;
  log_overflow_ = false;
  select_ = 0;
  driver_select_ = 0;
  memset(notify_off_known_, 0, sizeof notify_off_known_);
  memset(enable_written_, 0, sizeof enable_written_);
  memset(enabled_, 0, sizeof enabled_);
}

void TransportReference::on_cfg_read(uint32_t offset, uint8_t width, uint32_t value) {
  if (offset == 0) {
    // A probe starts with the vendor id: its answers start over.
    probing_ = true;
    msix_enabled_ = msix_enable_refused_ = false;
    memset(cfg_state_, 0, sizeof cfg_state_);
    num_bar_answers_ = num_log_ = 0;
    log_overflow_ = false;
    memset(bar_answer_used_, 0, sizeof bar_answer_used_);
    memset(mem_bar_size_, 0, sizeof mem_bar_size_);
  }
  // MSI-X message control read back after the driver set enable: a clear
  // enable bit means the function did not take MSI-X (PCI 6.8.2.3).
  if (msix_enabled_ && width == 2 && offset >= 2 && offset < sizeof cfg_ &&
      cfg_state_[offset - 2] == 1 && cfg_[offset - 2] == kCapMsix && (value & 0x8000) == 0)
    msix_enable_refused_ = true;
  // Kept after the probe too (the MSI-X capability is read at attach).
  for (uint32_t i = 0; i < width && offset + i < sizeof cfg_; ++i) {
    const uint8_t b = static_cast<uint8_t>(value >> (8 * i));
    uint8_t& state = cfg_state_[offset + i];
    if (state == 0) {
      cfg_[offset + i] = b;
      state = 1;
    } else if (cfg_[offset + i] != b) {
      state = 2;
    }
  }
}

void TransportReference::on_cfg_write(uint32_t offset, uint8_t width, uint32_t value) {
  // MSI-X message control (PCI 6.8.2: at +2 of capability 0x11), bit 15
  // enable: legacy device configuration moves from 0x14 to 0x18 (4.1.4.8).
  if (width == 2 && offset >= 2 && offset < sizeof cfg_ && cfg_state_[offset - 2] == 1 &&
      cfg_[offset - 2] == kCapMsix) {
    const bool enable = (value & 0x8000) != 0;
    // An attempt starts with enable and the function mask set together
    // (pci_msix.h: the function is unmasked only once the table is
    // written): what earlier reads of message control said is history.
    const bool attempt = (value & 0xC000) == 0xC000;
    if (enable && (!msix_enabled_ || attempt)) check_msix_enable(offset - 2);
    if (attempt) msix_enable_refused_ = false;
    msix_enabled_ = enable;
  }
}

void TransportReference::check_msix_enable(uint32_t cap) const {
  // (h), the interrupt set-up: MSI-X may be enabled only with a table and
  // a PBA a driver can use (PCI 6.8.2; pci_msix.h): in a memory BAR that
  // holds them, ending at or below 4 GiB (register offsets are 32 bits),
  // clear of every structure of the transport in use -- or message writes
  // land on virtio registers. The capability as the driver read it; a BAR
  // usable if any answer bar_info gave since the probe says so (a device
  // may answer differently each time: only a layout that no answer allows
  // is judged).
  if (chosen_ != Outcome::kModern && chosen_ != Outcome::kLegacy) return;
  uint32_t control, table, pba;
  if (!cfg(cap + 2, 2, &control) || !cfg(cap + 4, 4, &table) || !cfg(cap + 8, 4, &pba)) return;
  const uint32_t entries = (control & 0x7FFu) + 1;
  struct Part {
    const char* name;
    uint32_t reg;
    uint64_t length;
  } const parts[] = {{"table", table, uint64_t{entries} * 16},
                     {"PBA", pba, uint64_t{(entries + 63) / 64} * 8}};
  for (const Part& part : parts) {
    const uint8_t bar = static_cast<uint8_t>(part.reg & 7);
    const uint64_t offset = part.reg & ~7u;
    const uint64_t end = offset + part.length;
    const char* why = nullptr;
    if (bar >= kNumBars)
      why = "names no BAR";
    else if (end > kBelow4G)
      why = "ends above 4 GiB";
    else if (end > mem_bar_size_[bar])
      why = "is in no memory BAR that holds it";
    else if (chosen_ == Outcome::kLegacy && bar == 0 && offset < legacy_size_)
      why = "lies over the legacy registers (I/O BAR 0)";
    for (int k = 0; why == nullptr && k < kKinds; ++k) {
      const Window& w = windows_[k];
      if (chosen_ == Outcome::kModern && w.valid && w.bar == bar && offset < w.offset + w.length &&
          w.offset < end) {
        static const char* const kOver[] = {"lies over the common configuration",
                                            "lies over the notification area", "lies over the ISR",
                                            "lies over the device configuration"};
        why = kOver[k];
      }
    }
    if (why != nullptr)
      finding(Oracle::kDecision,
              "MSI-X enabled (capability at 0x%x) with a %s that %s: BAR%u+0x%llx, %llu bytes", cap,
              part.name, why, bar, static_cast<unsigned long long>(offset),
              static_cast<unsigned long long>(part.length));
  }
}

uint32_t TransportReference::legacy_config() const {
  return msix_enabled_ ? kLegacyRegistersMsix : kLegacyRegisters;
}

void TransportReference::on_bar_info(uint8_t bar, const BarInfo& info) {
  if (bar < kNumBars && info.present && !info.is_io && info.size > mem_bar_size_[bar])
    mem_bar_size_[bar] = info.size;
  if (!probing_ || num_bar_answers_ == kMaxBarAnswers) return;
  bar_answers_[num_bar_answers_] = info;
  bar_answer_bar_[num_bar_answers_] = bar;
  bar_answer_used_[num_bar_answers_] = false;
  ++num_bar_answers_;
}

bool TransportReference::cfg(uint32_t offset, uint8_t width, uint32_t* out) const {
  uint32_t v = 0;
  for (uint32_t i = 0; i < width; ++i) {
    if (offset + i >= sizeof cfg_ || cfg_state_[offset + i] != 1) return false;
    v |= uint32_t{cfg_[offset + i]} << (8 * i);
  }
  *out = v;
  return true;
}

bool TransportReference::next_bar_info(uint8_t bar, BarInfo* out) {
  for (int i = 0; i < num_bar_answers_; ++i)
    if (!bar_answer_used_[i] && bar_answer_bar_[i] == bar) {
      bar_answer_used_[i] = true;
      *out = bar_answers_[i];
      return true;
    }
  return false;
}

bool TransportReference::offer(const Window& common, uint64_t* out) const {
  if (log_overflow_) return false;
  uint32_t select = ~0u;
  uint32_t word[2] = {};
  bool known[2] = {};
  for (int i = 0; i < num_log_; ++i) {
    const Access& a = log_[i];
    if (a.bar != common.bar || a.width != 4 || a.offset < common.offset) continue;
    const uint32_t reg = a.offset - common.offset;
    if (a.write && reg == kDeviceFeatureSelect) select = a.value;
    if (!a.write && reg == kDeviceFeature && select < 2) {
      if (known[select] && word[select] != a.value) return false;  // answered two ways
      word[select] = a.value;
      known[select] = true;
    }
  }
  if (!known[0] || !known[1]) return false;
  *out = word[0] | uint64_t{word[1]} << 32;
  return true;
}

TransportReference::Outcome TransportReference::walk_modern(Window* windows, uint32_t* multiplier) {
  uint32_t status, ptr;
  if (!cfg(kPciStatus, 2, &status)) return Outcome::kUndetermined;
  if ((status & kStatusCapList) == 0) return Outcome::kModernUnusable;
  if (!cfg(kCapPointer, 1, &ptr)) return Outcome::kUndetermined;
  ptr &= 0xFC;
  for (int n = 0; n < kMaxCaps && ptr != 0; ++n) {
    if (ptr < 0x40 || ptr + 16 > 256) break;
    uint32_t id, next;
    if (!cfg(ptr, 1, &id) || !cfg(ptr + 1, 1, &next)) return Outcome::kUndetermined;
    if (id == kCapVendor) {
      uint32_t cap_len, type, bar, offset, length;
      if (!cfg(ptr + 2, 1, &cap_len) || !cfg(ptr + 3, 1, &type) || !cfg(ptr + 4, 1, &bar) ||
          !cfg(ptr + 8, 4, &offset) || !cfg(ptr + 12, 4, &length))
        return Outcome::kUndetermined;
      // cfg_type 1..4: common, notify, ISR, device (4.1.4); others unused.
      const int kind = type >= 1 && type <= 4 ? static_cast<int>(type) - 1 : -1;
      if (kind >= 0 && !windows[kind].valid) {
        bool ok =
            cap_len >= 16 && bar < 6 && length >= min_length(kind) && offset % alignment(kind) == 0;
        uint32_t m = 0;
        if (ok && kind == kNotify) {
          ok = cap_len >= 20 && ptr + 20 <= 256;
          if (ok && !cfg(ptr + 16, 4, &m)) return Outcome::kUndetermined;
          ok = ok && (m == 0 || (m >= 2 && (m & (m - 1)) == 0));
        }
        if (ok) {
          BarInfo info;
          if (!next_bar_info(static_cast<uint8_t>(bar), &info)) return Outcome::kUndetermined;
          const uint64_t end = uint64_t{offset} + length;
          ok = info.present && end <= info.size && end <= kBelow4G;
        }
        if (ok) {
          windows[kind] = Window{true, static_cast<uint8_t>(bar), offset, length};
          if (kind == kNotify) *multiplier = m;
        }
      }
    }
    ptr = next & 0xFC;
  }
  for (int k = 0; k < kKinds; ++k)
    if (!windows[k].valid) return Outcome::kModernUnusable;
  uint64_t offered;
  if (!offer(windows[kCommon], &offered)) return Outcome::kUndetermined;
  if (((offered >> 32) & 1) == 0) return Outcome::kModernUnusable;  // 6.1: VERSION_1
  if (windows[kDevice].length < net_config_needed(offered)) return Outcome::kModernUnusable;
  return Outcome::kModern;
}

TransportReference::Outcome TransportReference::walk(PciMode mode, Window* windows,
                                                     uint32_t* multiplier, uint64_t* legacy_size) {
  uint32_t vendor, device, subsystem = 0;
  if (!cfg(0, 2, &vendor) || !cfg(2, 2, &device)) return Outcome::kUndetermined;
  if (vendor != kVendorVirtio) return Outcome::kNotVirtio;
  const bool modern_only = device == kDeviceNetModern;
  bool transitional = false;
  if (device == kDeviceNetTransitional) {
    if (!cfg(kSubsystemId, 2, &subsystem)) return Outcome::kUndetermined;
    transitional = subsystem == kVirtioIdNet;
  }
  if (!modern_only && !transitional) return Outcome::kNotNet;
  if (mode != PciMode::kLegacy) {
    const Outcome o = walk_modern(windows, multiplier);
    if (o != Outcome::kModernUnusable) return o;
    if (mode == PciMode::kModern || modern_only) return o;
  }
  if (!transitional) return Outcome::kLegacyUnusable;
  BarInfo bar0;
  if (!next_bar_info(0, &bar0)) return Outcome::kUndetermined;
  if (!bar0.present || !bar0.is_io || bar0.size < kLegacyRegisters) return Outcome::kLegacyUnusable;
  *legacy_size = bar0.size;
  return Outcome::kLegacy;
}

void TransportReference::check_probe(PciMode mode, const ProbeResult& r) {
  if (!probing_) return;  // the harness probed without reading anything
  probing_ = false;
  memset(bar_answer_used_, 0, sizeof bar_answer_used_);
  Window windows[kKinds] = {};
  uint32_t multiplier = 0;
  uint64_t legacy_size = 0;
  const Outcome expected = walk(mode, windows, &multiplier, &legacy_size);
  if (expected == Outcome::kUndetermined) {
    // A transport the reference cannot follow is in use (or the old one
    // is still, after a refusal): nothing is enforced until the next probe.
    if (r.error == ProbeError::kOk) chosen_ = Outcome::kUndetermined;
    return;
  }
  Outcome got = Outcome::kUndetermined;
  switch (r.error) {
    case ProbeError::kOk:
      got =
          r.transport != nullptr && r.transport->is_legacy() ? Outcome::kLegacy : Outcome::kModern;
      break;
    case ProbeError::kNotVirtio:
      got = Outcome::kNotVirtio;
      break;
    case ProbeError::kNotNet:
      got = Outcome::kNotNet;
      break;
    case ProbeError::kModernUnusable:
      got = Outcome::kModernUnusable;
      break;
    case ProbeError::kLegacyUnusable:
      got = Outcome::kLegacyUnusable;
      break;
  }
  static constexpr const char* kOutcome[] = {
      "?",      "not virtio",     "not a network device", "modern", "modern unusable",
      "legacy", "legacy unusable"};
  if (got != expected)
    finding(Oracle::kDecision,
            "probe (mode %d) chose \"%s\" (%s; modern: %s), a correct probe of what the device "
            "answered chooses \"%s\" (4.1.2, 4.1.4, 6.1)",
            static_cast<int>(mode), kOutcome[static_cast<int>(got)], probe_error_name(r.error),
            modern_probe_error_name(r.modern_error), kOutcome[static_cast<int>(expected)]);
  if (expected == Outcome::kModern) {
    const auto* t = static_cast<const PciModernTransport*>(r.transport);
    const PciWindow* have[kKinds] = {&t->common_window(), &t->notify_window(), &t->isr_window(),
                                     &t->device_window()};
    for (int k = 0; k < kKinds; ++k)
      if (!have[k]->valid || have[k]->bar != windows[k].bar ||
          have[k]->offset != windows[k].offset || have[k]->length != windows[k].length)
        finding(Oracle::kDecision,
                "probe took the %s structure at BAR%u [0x%x, +0x%x); the first usable %s "
                "capability (4.1.4.1) is at BAR%u [0x%x, +0x%x)",
                kind_name(k), have[k]->bar, have[k]->offset, have[k]->length, kind_name(k),
                windows[k].bar, windows[k].offset, windows[k].length);
    if (t->notify_multiplier() != multiplier)
      finding(Oracle::kDecision,
              "probe took notify_off_multiplier %u; the chosen notify capability says %u",
              t->notify_multiplier(), multiplier);
  }
  if (expected != Outcome::kModern && expected != Outcome::kLegacy) return;
  chosen_ = expected;
  for (int k = 0; k < kKinds; ++k) windows_[k] = windows[k];
  multiplier_ = multiplier;
  legacy_size_ = legacy_size;
  select_ = 0;
  driver_select_ = 0;
  memset(notify_off_known_, 0, sizeof notify_off_known_);
  memset(enable_written_, 0, sizeof enable_written_);
  memset(enabled_, 0, sizeof enabled_);
}

bool TransportReference::inside(const Window& w, uint8_t bar, uint32_t offset,
                                uint8_t width) const {
  return w.valid && w.bar == bar && offset >= w.offset &&
         uint64_t{offset} + width <= uint64_t{w.offset} + w.length;
}

void TransportReference::on_bar_access(uint8_t bar, uint32_t offset, uint8_t width, bool write,
                                       uint32_t value) {
  if (probing_) {
    if (num_log_ == kMaxLog) {
      log_overflow_ = true;
      return;
    }
    log_[num_log_++] = Access{bar, write, width, offset, value};
    return;
  }
  if (chosen_ == Outcome::kLegacy) {
    if (bar != 0) return;
    if (!write && offset == kLegacyIsr && width == 1) {
      ++isr_reads_;
      last_isr_ = static_cast<uint8_t>(value);
    }
    if (write && offset == kLegacyQueueSelect && width == 2) select_ = static_cast<uint16_t>(value);
    // 4.1.5.1.1.1 (legacy): writing the queue's page frame number enables
    // it; 0 disables it.
    if (write && offset == kLegacyQueueAddress && width == 4 && select_ < kMaxQueues)
      enabled_[select_] = value != 0;
    if (write && offset == kLegacyStatus && width == 1 && (value & 0xFF) == 0) {
      memset(enabled_, 0, sizeof enabled_);
      vector_refused_ = vector_pending_[0] = vector_pending_[1] = false;
    }
    if (msix_enabled_ && width == 2 &&
        (offset == kLegacyConfigVector || offset == kLegacyQueueVector))
      vector_access(offset == kLegacyConfigVector ? 0 : 1, write, value);
    if (write && offset == kLegacyGuestFeatures && width == 4)
      accepted(value, legacy_size_ > legacy_config() + 0xFFFFu
                          ? 0xFFFFu
                          : static_cast<uint32_t>(legacy_size_ > legacy_config()
                                                      ? legacy_size_ - legacy_config()
                                                      : 0));
    if (!write && offset == legacy_config() + kNetStatusField && width == 2) {
      // No generation counter: a value counts when two reads in a row of
      // one snapshot attempt agree (the driver reads the field twice).
      if ((status_reads_++ & 1) == 0) {
        status_value_ = value & 0xFFFF;
      } else if (!consistent_ && (value & 0xFFFF) == status_value_) {
        consistent_ = true;
        consistent_value_ = status_value_;
      }
    }
    return;
  }
  if (chosen_ != Outcome::kModern) return;
  if (!write && inside(windows_[kIsr], bar, offset, width) &&
      !inside(windows_[kCommon], bar, offset, width) &&
      !inside(windows_[kDevice], bar, offset, width) &&
      !inside(windows_[kNotify], bar, offset, width)) {
    ++isr_reads_;
    last_isr_ = static_cast<uint8_t>(value);
  }
  if (!write && width == 2 && inside(windows_[kDevice], bar, offset, width) &&
      offset - windows_[kDevice].offset == kNetStatusField) {
    status_pending_ = true;
    status_value_ = value & 0xFFFF;
  }
  if (!inside(windows_[kCommon], bar, offset, width)) return;
  const uint32_t reg = offset - windows_[kCommon].offset;
  if (!write && reg == kConfigGeneration && width == 1) {
    const uint8_t g = static_cast<uint8_t>(value);
    if (status_pending_ && gen_valid_ && g == gen_ && !consistent_) {
      consistent_ = true;
      consistent_value_ = status_value_;
    }
    status_pending_ = false;
    gen_valid_ = true;
    gen_ = g;
  }
  if (write && reg == kQueueSelect && width == 2) select_ = static_cast<uint16_t>(value);
  if (write && reg == kDriverFeatureSelect && width == 4) driver_select_ = value;
  if (write && reg == kDriverFeature && width == 4 && driver_select_ == 0)
    accepted(value, windows_[kDevice].length);
  if (write && reg == kDeviceStatus && width == 1 && (value & 0xFF) == 0) {
    // A reset disables every queue (2.4).
    memset(enable_written_, 0, sizeof enable_written_);
    memset(enabled_, 0, sizeof enabled_);
    vector_refused_ = vector_pending_[0] = vector_pending_[1] = false;
  }
  if (width == 2 && (reg == kConfigMsixVector || reg == kQueueMsixVector))
    vector_access(reg == kConfigMsixVector ? 0 : 1, write, value);
  if (select_ >= kMaxQueues) return;
  if (!write && reg == kQueueNotifyOff && width == 2) {
    notify_off_[select_] = value & 0xFFFF;
    notify_off_known_[select_] = true;
  }
  if (write && reg == kQueueEnable && width == 2) enable_written_[select_] = (value & 0xFFFF) == 1;
  // 4.1.4.3.2: the driver enables a queue and may use it only once the
  // device shows it enabled.
  if (!write && reg == kQueueEnable && width == 2)
    enabled_[select_] = enable_written_[select_] && (value & 0xFFFF) == 1;
}

void TransportReference::vector_access(int which, bool write, uint32_t value) {
  value &= 0xFFFF;
  if (write) {
    vector_written_[which] = value;
    vector_pending_[which] = value != kNoVector;
    return;
  }
  if (vector_pending_[which] && value != vector_written_[which]) {
    vector_refused_ = true;
    refused_value_ = static_cast<uint16_t>(value);
  }
  vector_pending_[which] = false;
}

void TransportReference::check_interrupt_mode(InterruptMode mode) const {
  if (msix_enable_refused_ && mode == InterruptMode::kMsix)
    finding(Oracle::kDecision,
            "the driver runs on MSI-X although the MSI-X enable bit it set read back clear (PCI "
            "6.8.2.3: the function sends no MSI-X messages)");
  if (vector_refused_ && mode == InterruptMode::kMsix)
    finding(Oracle::kDecision,
            "the driver runs on MSI-X although a vector it wrote read back as 0x%04x since the "
            "last reset (4.1.5.1.2.2: the device will not send those interrupts)",
            refused_value_);
}

void TransportReference::mark_link() {
  gen_valid_ = status_pending_ = consistent_ = false;
  status_reads_ = 0;
}

void TransportReference::check_link(bool link_before, bool link_after) {
  if (chosen_ != Outcome::kModern && chosen_ != Outcome::kLegacy) return;
  if (consistent_) {
    const bool up = (consistent_value_ & kLinkUp) != 0;
    if (link_after != up)
      finding(Oracle::kProtocol,
              "link %s after poll_device; the first consistent read of the status field said "
              "0x%x (5.1.4)",
              link_after ? "up" : "down", consistent_value_);
    return;
  }
  if (link_after != link_before)
    finding(Oracle::kProtocol,
            "link went %s in poll_device without a consistent read of the status field (2.4.1: "
            "config_generation changed around every read, or legacy reads disagreed)",
            link_after ? "up" : "down");
}

void TransportReference::accepted(uint32_t features_lo, uint32_t window) {
  // 5.1.4 / 2.5: a feature's field is read from the device configuration;
  // a field the window does not hold cannot have been read, and the feature
  // cannot be used as offered (the driver fails the attach or leaves the
  // feature out, never accepts it on a value it made up).
  if (const uint64_t beyond = fields_beyond(features_lo, window))
    finding(Oracle::kProtocol,
            "driver accepted features 0x%llx whose configuration fields lie beyond the %u-byte "
            "device configuration window (5.1.4)",
            static_cast<unsigned long long>(beyond), window);
}

void TransportReference::notification(uint8_t bar, uint32_t offset, uint8_t width, uint32_t value,
                                      const void* pc) {
  char where[256];
  const uint16_t q = static_cast<uint16_t>(value);
  if (width != 2 || q >= kMaxQueues || !enabled_[q]) {
    describe_pc(pc, where, sizeof where);
    finding(Oracle::kWindow,
            "notification (%u bytes, value %u) at BAR%u offset 0x%x for a queue the device did "
            "not show enabled since the last reset (4.1.4.3.2, 4.1.5.2) at %s",
            width, value, bar, offset, where);
  }
  if (chosen_ != Outcome::kModern) return;
  // 4.1.4.4: cap.offset + queue_notify_off * notify_off_multiplier.
  if (multiplier_ != 0 && !notify_off_known_[q]) {
    describe_pc(pc, where, sizeof where);
    finding(Oracle::kWindow,
            "notification of queue %u at BAR%u offset 0x%x without reading its queue_notify_off "
            "at %s",
            q, bar, offset, where);
  }
  const uint64_t expected =
      uint64_t{windows_[kNotify].offset} + uint64_t{notify_off_[q]} * multiplier_;
  if (expected != offset) {
    describe_pc(pc, where, sizeof where);
    finding(Oracle::kWindow,
            "notification of queue %u at BAR%u offset 0x%x; its notify address is 0x%llx "
            "(4.1.4.4) at %s",
            q, bar, offset, static_cast<unsigned long long>(expected), where);
  }
}

bool TransportReference::sees_notifications() const {
  if (probing_) return false;
  if (chosen_ == Outcome::kLegacy) return true;
  if (chosen_ != Outcome::kModern) return false;
  const Window& n = windows_[kNotify];
  for (int k = 0; k < kKinds; ++k) {
    const Window& w = windows_[k];
    if (k != kNotify && w.bar == n.bar && uint64_t{w.offset} < uint64_t{n.offset} + n.length &&
        uint64_t{n.offset} < uint64_t{w.offset} + w.length)
      return false;
  }
  return true;
}

bool TransportReference::isr_visible() const {
  if (chosen_ == Outcome::kLegacy) return true;
  if (chosen_ != Outcome::kModern) return false;
  const Window& isr = windows_[kIsr];
  for (int k = 0; k < kKinds; ++k) {
    const Window& w = windows_[k];
    if (k != kIsr && w.valid && isr.valid && w.bar == isr.bar &&
        uint64_t{w.offset} < uint64_t{isr.offset} + isr.length &&
        uint64_t{isr.offset} < uint64_t{w.offset} + w.length)
      return false;
  }
  return true;
}

int TransportReference::notified_queue(uint8_t bar, uint32_t offset, uint8_t width,
                                       uint32_t value) const {
  if (probing_ || width != 2) return -1;
  if (chosen_ == Outcome::kLegacy)
    return bar == 0 && offset == kLegacyQueueNotify ? static_cast<int>(value & 0xFFFF) : -1;
  if (chosen_ != Outcome::kModern || !inside(windows_[kNotify], bar, offset, width) ||
      inside(windows_[kCommon], bar, offset, width) || inside(windows_[kIsr], bar, offset, width) ||
      inside(windows_[kDevice], bar, offset, width))
    return -1;
  return static_cast<int>(value & 0xFFFF);
}

void TransportReference::check_access(uint8_t bar, uint32_t offset, uint8_t width, bool write,
                                      uint32_t value, bool msix, const void* pc) {
  if (probing_ || chosen_ == Outcome::kUndetermined) return;
  if (chosen_ == Outcome::kLegacy) {
    if (write && bar == 0 && offset == kLegacyQueueNotify)
      notification(bar, offset, width, value, pc);
    return;  // the window is I/O BAR 0 as a whole: ProtocolReference's rule
  }
  bool in[kKinds];
  bool any = false;
  for (int k = 0; k < kKinds; ++k) any |= in[k] = inside(windows_[k], bar, offset, width);
  if (!any && !msix) {
    char where[256];
    describe_pc(pc, where, sizeof where);
    finding(Oracle::kWindow,
            "%s of %u bytes at BAR%u offset 0x%x, outside the four structures a correct probe "
            "chose (common BAR%u+0x%x, notify BAR%u+0x%x, ISR BAR%u+0x%x, device BAR%u+0x%x) "
            "at %s",
            write ? "write" : "read", width, bar, offset, windows_[kCommon].bar,
            windows_[kCommon].offset, windows_[kNotify].bar, windows_[kNotify].offset,
            windows_[kIsr].bar, windows_[kIsr].offset, windows_[kDevice].bar,
            windows_[kDevice].offset, where);
  }
  // Overlapping structures (a device may lay one over another) make an
  // access ambiguous: only a write that can be nothing but a notification
  // is judged as one.
  if (write && in[kNotify] && !in[kCommon] && !in[kIsr] && !in[kDevice])
    notification(bar, offset, width, value, pc);
}

}  // namespace vnet::fuzz
