#include "driver/transport/pci_probe.h"

#include "driver/spec/net_layout.h"
#include "driver/spec/pci_layout.h"
#include "driver/spec/virtio_constants.h"

namespace vnet {

const char* probe_error_name(ProbeError e) {
  switch (e) {
    case ProbeError::kOk:
      return "ok";
    case ProbeError::kNotVirtio:
      return "not a virtio device";
    case ProbeError::kNotNet:
      return "not a virtio network device";
    case ProbeError::kModernUnusable:
      return "modern interface unusable";
    case ProbeError::kLegacyUnusable:
      return "legacy interface unusable";
  }
  return "?";
}

ProbeResult PciTransports::probe(Platform& platform, PciMode mode) {
  ProbeResult r;
  uint16_t vendor =
      static_cast<uint16_t>(platform.reg_read(Region::kPciConfig, spec::pci::kVendorId, 2));
  r.device_id =
      static_cast<uint16_t>(platform.reg_read(Region::kPciConfig, spec::pci::kDeviceId, 2));
  if (vendor != spec::kPciVendorVirtio) {
    r.error = ProbeError::kNotVirtio;
    return r;
  }
  bool modern_only = r.device_id == spec::kPciDeviceNetModern;
  bool transitional = false;
  if (r.device_id == spec::kPciDeviceNetTransitional) {
    // 4.1.2.3: a transitional device's subsystem device id is its virtio type.
    uint16_t subsys =
        static_cast<uint16_t>(platform.reg_read(Region::kPciConfig, spec::pci::kSubsystemId, 2));
    transitional = subsys == spec::kVirtioIdNet;
  }
  if (!modern_only && !transitional) {
    r.error = ProbeError::kNotNet;
    return r;
  }

  if (mode != PciMode::kLegacy) {
    // Probed into a candidate, taken only when every check passed: a
    // re-probe that fails (here or in init()) leaves the transport a driver
    // may still be resetting through as it was.
    PciModernTransport candidate;
    r.modern_error = candidate.init(platform, &r.modern_report);
    if (r.modern_error == ModernProbeError::kOk) {
      const uint64_t offer = candidate.device_features();
      r.modern_report.device_features = offer;
      r.modern_report.device_cfg_length = candidate.config_window_size();
      r.modern_report.device_cfg_needed = spec::config_bytes_needed(offer);
      if (!spec::has_feature(offer, spec::Feature::kVersion1))
        r.modern_error = ModernProbeError::kNoVersion1;
      else if (r.modern_report.device_cfg_length < r.modern_report.device_cfg_needed)
        r.modern_error = ModernProbeError::kDeviceCfgTooShort;
    }
    if (r.modern_error == ModernProbeError::kOk) {
      modern_ = candidate;
      r.error = ProbeError::kOk;
      r.transport = &modern_;
      return r;
    }
    if (mode == PciMode::kModern || modern_only) {
      r.error = ProbeError::kModernUnusable;
      return r;
    }
  }
  if (!transitional) {
    r.error = ProbeError::kLegacyUnusable;
    return r;
  }
  BarInfo bar0 = platform.bar_info(0);
  if (!bar0.present || !bar0.is_io || bar0.size < spec::pci::legacy::kConfigNoMsix) {
    r.error = ProbeError::kLegacyUnusable;
    return r;
  }
  legacy_.init(platform, bar0.size);
  r.error = ProbeError::kOk;
  r.transport = &legacy_;
  return r;
}

}  // namespace vnet
