#include "fuzz/harness/mmio_reference.h"

#include <string.h>

#include "driver/spec/mmio_layout.h"
#include "driver/spec/net_layout.h"
#include "driver/spec/virtio_constants.h"
#include "fuzz/harness/findings.h"

namespace vnet::fuzz {

namespace {

namespace reg = spec::mmio;

// The configuration window a correct driver makes of the caller's window:
// the window less the register file, capped at 64 KiB (offsets are 32-bit).
constexpr uint64_t kConfigCap = 0x10000;

uint64_t config_length(uint64_t window) {
  if (window <= reg::kConfig) return 0;
  const uint64_t n = window - reg::kConfig;
  return n > kConfigCap ? kConfigCap : n;
}

int identity_slot(uint32_t offset) {
  switch (offset) {
    case reg::kMagicValue:
      return 0;
    case reg::kVersion:
      return 1;
    case reg::kDeviceId:
      return 2;
    case reg::kVendorId:
      return 3;
    default:
      return -1;
  }
}

// 4.2.2: who may read or write each register; which version has it.
enum Access : uint8_t { kRead = 1, kWrite = 2, kBoth = 3 };
struct Register {
  uint32_t offset;
  uint8_t access;
  uint8_t versions;  // bit 0: version 1, bit 1: version 2
  const char* name;
};
constexpr Register kRegisters[] = {
    {reg::kMagicValue, kRead, 3, "MagicValue"},
    {reg::kVersion, kRead, 3, "Version"},
    {reg::kDeviceId, kRead, 3, "DeviceID"},
    {reg::kVendorId, kRead, 3, "VendorID"},
    {reg::kDeviceFeatures, kRead, 3, "DeviceFeatures"},
    {reg::kDeviceFeaturesSel, kWrite, 3, "DeviceFeaturesSel"},
    {reg::kDriverFeatures, kWrite, 3, "DriverFeatures"},
    {reg::kDriverFeaturesSel, kWrite, 3, "DriverFeaturesSel"},
    {reg::kGuestPageSize, kWrite, 1, "GuestPageSize"},
    {reg::kQueueSel, kWrite, 3, "QueueSel"},
    {reg::kQueueNumMax, kRead, 3, "QueueNumMax"},
    {reg::kQueueNum, kWrite, 3, "QueueNum"},
    {reg::kQueueAlign, kWrite, 1, "QueueAlign"},
    {reg::kQueuePfn, kBoth, 1, "QueuePFN"},
    {reg::kQueueReady, kBoth, 2, "QueueReady"},
    {reg::kQueueNotify, kWrite, 3, "QueueNotify"},
    {reg::kInterruptStatus, kRead, 3, "InterruptStatus"},
    {reg::kInterruptAck, kWrite, 3, "InterruptACK"},
    {reg::kStatus, kBoth, 3, "Status"},
    {reg::kQueueDescLow, kWrite, 2, "QueueDescLow"},
    {reg::kQueueDescHigh, kWrite, 2, "QueueDescHigh"},
    {reg::kQueueDriverLow, kWrite, 2, "QueueDriverLow"},
    {reg::kQueueDriverHigh, kWrite, 2, "QueueDriverHigh"},
    {reg::kQueueDeviceLow, kWrite, 2, "QueueDeviceLow"},
    {reg::kQueueDeviceHigh, kWrite, 2, "QueueDeviceHigh"},
    {reg::kConfigGeneration, kRead, 2, "ConfigGeneration"},
};

const Register* find_register(uint32_t offset) {
  for (const Register& r : kRegisters)
    if (r.offset == offset) return &r;
  return nullptr;
}

}  // namespace

void MmioReference::begin_input() {
  window_ = MmioWindow{};
  probing_ = false;
  version_ = 0;
  status_undefined_ = isr_undefined_ = 0;
  isr_reads_ = last_isr_ = unacked_ = 0;
  queue_state_reset();
}

void MmioReference::queue_state_reset() {
  queue_select_ = 0;
  memset(num_max_read_, 0, sizeof num_max_read_);
  memset(in_use_, 0, sizeof in_use_);
  memset(ready_written_, 0, sizeof ready_written_);
  memset(enabled_, 0, sizeof enabled_);
}

void MmioReference::begin_probe(const MmioWindow& window) {
  window_ = window;
  probing_ = true;
  accessed_in_probe_ = false;
  after_device_id_ = false;
  accessed_after_placeholder_ = false;
  memset(answered_, 0, sizeof answered_);
  memset(offer_answered_, 0, sizeof offer_answered_);
  feature_select_ = 0;
}

void MmioReference::check_access(uint32_t offset, uint8_t width, bool write, uint32_t value) const {
  (void)value;
  if (probing_) {
    // 4.2.3.1.1: a placeholder's DeviceID read is the last access.
    if (after_device_id_)
      finding(Oracle::kProtocol,
              "%s of MMIO offset 0x%x after DeviceID read 0 (4.2.3.1.1: a placeholder slot; no "
              "other register may be accessed)",
              write ? "write" : "read", offset);
    if (window_.size < reg::kConfig)
      finding(Oracle::kWindow,
              "%s of MMIO offset 0x%x in a window of 0x%llx bytes, smaller than the register "
              "file: the probe must refuse it untouched",
              write ? "write" : "read", offset, static_cast<unsigned long long>(window_.size));
  }
  if (version_ == 0 || offset >= reg::kConfig || width != 4) return;
  const Register* r = find_register(offset);
  const char* why = nullptr;
  if (r == nullptr)
    why = "is no register";
  else if ((r->versions & (1u << (version_ - 1))) == 0)
    why = version_ == 1 ? "is a version 2 register" : "is a version 1 (legacy) register";
  else if (write && (r->access & kWrite) == 0)
    why = "is read-only";
  else if (!write && (r->access & kRead) == 0)
    why = "is write-only";
  if (why != nullptr)
    finding(Oracle::kWindow, "%s of MMIO offset 0x%x (%s), which %s on this version %u device",
            write ? "write" : "read", offset, r != nullptr ? r->name : "?", why, version_);
}

void MmioReference::on_access(uint32_t offset, uint8_t width, bool write, uint32_t value) {
  if (probing_) {
    accessed_in_probe_ = true;
    if (width != 4) return;
    if (!write) {
      const int slot = identity_slot(offset);
      if (slot >= 0) {
        if (answered_[slot] == 0) {
          answer_[slot] = value;
          answered_[slot] = 1;
        } else if (answer_[slot] != value) {
          answered_[slot] = 2;
        }
        if (offset == reg::kDeviceId && value == reg::kDeviceIdPlaceholder) after_device_id_ = true;
      }
      if (offset == reg::kDeviceFeatures && feature_select_ < 2) {
        uint8_t& a = offer_answered_[feature_select_];
        if (a == 0) {
          offer_[feature_select_] = value;
          a = 1;
        } else if (offer_[feature_select_] != value) {
          a = 2;
        }
      }
    } else if (offset == reg::kDeviceFeaturesSel) {
      feature_select_ = value;
    }
    return;
  }
  if (version_ == 0 || width != 4 || offset >= reg::kConfig) return;
  const uint32_t q = queue_select_;
  const bool q_ok = q < kQueues;
  const uint32_t ready_reg = version_ == 1 ? reg::kQueuePfn : reg::kQueueReady;
  if (!write) {
    if (offset == reg::kStatus && (value & ~0xFFu) != 0) ++status_undefined_;
    if (offset == reg::kInterruptStatus) {
      if (unacked_ != 0)
        finding(Oracle::kProtocol,
                "InterruptStatus read again with bits 0x%x of the last read never acknowledged "
                "(4.2.3.4: the driver acknowledges what it handles with InterruptACK)",
                unacked_);
      ++isr_reads_;
      last_isr_ = value;
      unacked_ = value & reg::kInterruptDefined;
      if ((value & ~reg::kInterruptDefined) != 0) ++isr_undefined_;
    }
    if (offset == reg::kQueueNumMax && q_ok) {
      num_max_[q] = value;
      num_max_read_[q] = true;
    }
    if (offset == ready_reg && q_ok) {
      if (!ready_written_[q]) {
        in_use_[q] = value != 0;
      } else {
        enabled_[q] = value == ready_value_[q] && value != 0;
      }
    }
    return;
  }
  switch (offset) {
    case reg::kStatus:
      // A reset starts the queues over (the device forgets them, 4.2.2).
      if (value == 0) queue_state_reset();
      break;
    case reg::kQueueSel:
      queue_select_ = value;
      break;
    case reg::kQueueNum:
      if (!q_ok) break;
      if (in_use_[q])
        finding(Oracle::kProtocol,
                "QueueNum of queue %u written although %s read back %s before setup: the queue "
                "is in use (4.2.3.2: check that it is not)",
                q, version_ == 1 ? "QueuePFN" : "QueueReady", "nonzero");
      if (num_max_read_[q] && value > num_max_[q])
        finding(Oracle::kProtocol,
                "QueueNum %u of queue %u above the QueueNumMax %u last read (4.2.3.2)", value, q,
                num_max_[q]);
      break;
    case reg::kQueueReady:
    case reg::kQueuePfn:
      if (!q_ok || offset != ready_reg) break;
      if (in_use_[q] && value != 0)
        finding(Oracle::kProtocol, "queue %u set up (0x%x to 0x%x) although it read back in use", q,
                value, offset);
      ready_written_[q] = value != 0;
      ready_value_[q] = value;
      // Version 2 reads QueueReady back (it must stick); version 1 has no
      // ready bit to confirm: the frame written is the queue's.
      enabled_[q] = version_ == 1 && value != 0;
      break;
    case reg::kQueueNotify:
      if (value >= kQueues || !enabled_[value])
        finding(Oracle::kWindow, "QueueNotify %u: a queue not set up since the last reset (%s)",
                value, version_ == 1 ? "no QueuePFN written" : "QueueReady never read back 1");
      break;
    case reg::kInterruptAck:
      if (value == 0 || value != unacked_)
        finding(Oracle::kProtocol,
                "InterruptACK 0x%x; the last InterruptStatus read 0x%x, whose unacknowledged "
                "defined bits are 0x%x (4.2.2.2: acknowledge exactly those, never an undefined "
                "bit, never nothing)",
                value, last_isr_, unacked_);
      unacked_ = 0;
      break;
    default:
      break;
  }
}

void MmioReference::check_probe(const MmioWindow& window, const MmioProbeResult& r) {
  probing_ = false;
  // What a correct probe of these answers decides; kOk with the version.
  MmioProbeError want;
  uint32_t version = 0;
  bool determined = true;
  auto answer = [&](int slot, uint32_t* out) {
    if (answered_[slot] != 1) {
      determined = false;
      return false;
    }
    *out = answer_[slot];
    return true;
  };
  uint32_t magic = 0, ver = 0, id = 0;
  uint64_t offer = 0;
  bool offer_known = false;
  if (window.size < reg::kConfig) {
    want = MmioProbeError::kWindowTooSmall;
    if (accessed_in_probe_)
      finding(Oracle::kWindow, "the probe of a 0x%llx-byte window accessed it",
              static_cast<unsigned long long>(window.size));
  } else if (!answer(0, &magic)) {
    want = MmioProbeError::kBadMagic;
  } else if (magic != reg::kMagic) {
    want = MmioProbeError::kBadMagic;
  } else if (!answer(1, &ver)) {
    want = MmioProbeError::kBadVersion;
  } else if (ver != reg::kVersionLegacy && ver != reg::kVersionModern) {
    want = MmioProbeError::kBadVersion;
  } else if (!answer(2, &id)) {
    want = MmioProbeError::kNotNet;
  } else if (id == reg::kDeviceIdPlaceholder) {
    want = MmioProbeError::kNoDevice;
  } else if (id != spec::kVirtioIdNet) {
    want = MmioProbeError::kNotNet;
  } else {
    version = ver;
    // The offer: version 1 shows word 0 only (4.2.4).
    if (offer_answered_[0] != 1 || (ver == 2 && offer_answered_[1] != 1)) {
      determined = false;
      want = MmioProbeError::kOk;
    } else {
      offer = offer_[0] | (ver == 2 ? uint64_t{offer_[1]} << 32 : 0);
      offer_known = true;
      if (ver == 2 && (offer & spec::feature_mask(spec::Feature::kVersion1)) == 0)
        want = MmioProbeError::kNoVersion1;
      else if (config_length(window.size) < spec::config_bytes_needed(offer))
        want = MmioProbeError::kDeviceCfgTooShort;
      else
        want = MmioProbeError::kOk;
    }
  }
  if (determined && want != r.error)
    finding(Oracle::kDecision,
            "the MMIO probe of a 0x%llx-byte window (magic 0x%x, version %u, device %u) decided "
            "\"%s\"; the reference decides \"%s\"",
            static_cast<unsigned long long>(window.size), magic, ver, id,
            mmio_probe_error_name(r.error), mmio_probe_error_name(want));
  if (r.error != MmioProbeError::kOk) return;
  // The offer it reports is the device's: a version 1 device offers 32 bits.
  if (determined && offer_known && r.device_features != offer)
    finding(Oracle::kDecision,
            "the MMIO probe of a version %u device reports the offer 0x%llx; the device offered "
            "0x%llx",
            ver, static_cast<unsigned long long>(r.device_features),
            static_cast<unsigned long long>(offer));
  if (determined && version != 0 && r.transport != nullptr &&
      r.transport->is_legacy() != (version == 1))
    finding(Oracle::kDecision, "a version %u device probed as %s", version, r.transport->name());
  // A fresh transport: its counters start over.
  version_ = r.transport != nullptr && r.transport->is_legacy() ? 1 : 2;
  status_undefined_ = isr_undefined_ = 0;
  unacked_ = 0;
  queue_state_reset();
}

void MmioReference::check_ack() const {
  if (unacked_ != 0)
    finding(Oracle::kProtocol,
            "the handler read InterruptStatus 0x%x and did not acknowledge bits 0x%x: the level "
            "line stays asserted (4.2.3.4)",
            last_isr_, unacked_);
}

void MmioReference::check_counters(const MmioCounters& c) const {
  if (version_ == 0) return;
  if (c.status_undefined != status_undefined_ || c.isr_undefined != isr_undefined_)
    finding(Oracle::kDecision,
            "the MMIO transport counted %llu Status and %llu InterruptStatus reads with "
            "undefined bits; the device answered %llu and %llu",
            static_cast<unsigned long long>(c.status_undefined),
            static_cast<unsigned long long>(c.isr_undefined),
            static_cast<unsigned long long>(status_undefined_),
            static_cast<unsigned long long>(isr_undefined_));
}

}  // namespace vnet::fuzz
