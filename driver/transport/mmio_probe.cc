#include "driver/transport/mmio_probe.h"

#include "driver/spec/mmio_layout.h"
#include "driver/spec/net_layout.h"
#include "driver/spec/virtio_constants.h"

namespace vnet {

namespace reg = spec::mmio;

const char* mmio_probe_error_name(MmioProbeError e) {
  switch (e) {
    case MmioProbeError::kOk:
      return "ok";
    case MmioProbeError::kNoDevice:
      return "no device (placeholder slot, DeviceID 0)";
    case MmioProbeError::kWindowTooSmall:
      return "window smaller than the register file";
    case MmioProbeError::kBadMagic:
      return "bad magic value";
    case MmioProbeError::kBadVersion:
      return "unsupported virtio-mmio version";
    case MmioProbeError::kNotNet:
      return "not a virtio network device";
    case MmioProbeError::kNoVersion1:
      return "version 2 device offers no VERSION_1";
    case MmioProbeError::kDeviceCfgTooShort:
      return "device configuration window shorter than the offered fields";
  }
  return "?";
}

MmioProbeResult MmioTransports::probe(Platform& platform, const MmioWindow& window) {
  MmioProbeResult r;
  if (window.size < reg::kConfig) {
    r.error = MmioProbeError::kWindowTooSmall;
    return r;
  }
  // 4.2.3.1.1: MagicValue and Version first; the driver MUST ignore a
  // device whose magic is not "virt" (4.2.2.2).
  r.magic = platform.reg_read(Region::kMmio, reg::kMagicValue, 4);
  if (r.magic != reg::kMagic) {
    r.error = MmioProbeError::kBadMagic;
    return r;
  }
  r.version = platform.reg_read(Region::kMmio, reg::kVersion, 4);
  if (r.version != reg::kVersionLegacy && r.version != reg::kVersionModern) {
    r.error = MmioProbeError::kBadVersion;
    return r;
  }
  r.device_id = platform.reg_read(Region::kMmio, reg::kDeviceId, 4);
  if (r.device_id == reg::kDeviceIdPlaceholder) {
    // 4.2.3.1.1: "If DeviceID is zero, the driver MUST abort initialization
    // and MUST NOT access any other register." Not an error either.
    r.error = MmioProbeError::kNoDevice;
    return r;
  }
  if (r.device_id != spec::kVirtioIdNet) {
    r.error = MmioProbeError::kNotNet;
    return r;
  }
  r.vendor_id = platform.reg_read(Region::kMmio, reg::kVendorId, 4);

  // A candidate, taken only when every check passed (pci_probe.h).
  MmioTransport candidate;
  candidate.init(platform, r.version, window.size, window.irq >= 0);
  r.device_features = candidate.device_features();
  r.device_cfg_length = candidate.config_window_size();
  r.device_cfg_needed = spec::config_bytes_needed(r.device_features);
  if (r.version == reg::kVersionModern &&
      !spec::has_feature(r.device_features, spec::Feature::kVersion1)) {
    r.error = MmioProbeError::kNoVersion1;
    return r;
  }
  if (r.device_cfg_length < r.device_cfg_needed) {
    r.error = MmioProbeError::kDeviceCfgTooShort;
    return r;
  }
  mmio_ = candidate;
  r.error = MmioProbeError::kOk;
  r.transport = &mmio_;
  return r;
}

}  // namespace vnet
