// Probe: identify a virtio-net PCI function and choose its transport once.
//
//   vendor 0x1AF4, device 0x1041            -> modern (must have its caps)
//   vendor 0x1AF4, device 0x1000, subsys 1  -> transitional: modern when its
//                                              capabilities are usable, else
//                                              legacy through I/O BAR0
//
// "Usable" includes what the offer says: the probe reads the modern
// interface's device features (a read of the common configuration, no
// status change) and refuses the modern interface when VERSION_1 is not
// offered (6.1: a modern device offers it; without it the device would
// expect legacy semantics) or when the device configuration window is
// shorter than the fields of the offered features (5.1.4). A transitional
// device then falls back to its legacy interface; the reason is in
// ProbeResult::modern_error either way.
//
// The caller may force one flavour (kLegacy / kModern) to test both on a
// transitional device.
//
// A probe that fails leaves the modern transport untouched; one that
// succeeds re-initialises the transport it returns. Probing again while a
// VirtioNet uses a transport of this object is the caller's error: stop()
// it first (or use another PciTransports).
#pragma once

#include "driver/transport/pci_legacy.h"
#include "driver/transport/pci_modern.h"

namespace vnet {

enum class PciMode : uint8_t { kAuto, kLegacy, kModern };

enum class ProbeError : uint8_t {
  kOk,
  kNotVirtio,       // vendor is not 0x1AF4
  kNotNet,          // not a network device
  kModernUnusable,  // modern required or forced, capabilities unusable
  kLegacyUnusable,  // legacy forced or needed, no usable I/O BAR0
};
const char* probe_error_name(ProbeError e);

struct ProbeResult {
  ProbeError error = ProbeError::kNotVirtio;
  Transport* transport = nullptr;  // points into the PciTransports object
  ModernProbeError modern_error = ModernProbeError::kOk;
  ModernProbeReport modern_report{};
  uint16_t device_id = 0;
};

// Holds both transports; probe() initialises and returns one of them.
class PciTransports {
 public:
  ProbeResult probe(Platform& platform, PciMode mode = PciMode::kAuto);

 private:
  PciLegacyTransport legacy_;
  PciModernTransport modern_;
};

}  // namespace vnet
