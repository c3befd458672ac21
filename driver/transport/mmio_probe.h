// Probe: identify a virtio-net device in a virtio-mmio window and set up
// its transport (mmio.h) once. The MMIO counterpart of pci_probe.h.
//
// The caller names the window -- from a device tree, the kernel command
// line QEMU's microvm appends (virtio_mmio.device=512@0xfeb02e00:12), or a
// scan of fixed slots -- and maps it so that Platform::reg_read(
// Region::kMmio, offset) reaches base + offset. The probe reads, in the
// order 4.2.3.1.1 prescribes, and stops at the first value it refuses:
//
//   MagicValue  must be 0x74726976             else kBadMagic
//   Version     must be 1 (legacy) or 2        else kBadVersion
//   DeviceID    0: a placeholder slot          kNoDevice -- not an error
//               (4.2.2.2: ignore it and report no error; 4.2.3.1.1: no
//               other register is accessed after reading it)
//               otherwise must be 1 (network)  else kNotNet
//   DeviceFeatures (Sel written first):
//               version 2 must offer VERSION_1 else kNoVersion1 (6.1: a
//               modern device does; without it the device would expect
//               legacy semantics over a modern register file)
//               and the configuration window must hold the fields the
//               offered features need (5.1.4)  else kDeviceCfgTooShort
//
// No status is written: the device is untouched until VirtioNet::attach
// resets it. A window smaller than the register file (0x100 bytes) is
// refused before any read (kWindowTooSmall).
//
// A probe that fails leaves the transport as it was (a driver may still be
// resetting through it); one that succeeds re-initialises it. Probing
// again while a VirtioNet uses the transport is the caller's error: stop()
// it first.
#pragma once

#include "driver/transport/mmio.h"

namespace vnet {

struct MmioWindow {
  uint64_t base = 0;  // physical address (the platform's to map; reported only)
  uint64_t size = 0;  // bytes: registers (0x100) and device configuration
  int32_t irq = -1;   // the device's interrupt line (GSI); -1: none, poll
};

enum class MmioProbeError : uint8_t {
  kOk,
  kNoDevice,           // DeviceID 0: an empty slot (not an error; 4.2.2.2)
  kWindowTooSmall,     // the window cannot hold the register file
  kBadMagic,           // MagicValue is not "virt"
  kBadVersion,         // Version is neither 1 nor 2
  kNotNet,             // a virtio device, but not a network device
  kNoVersion1,         // version 2 without VERSION_1 in the offer
  kDeviceCfgTooShort,  // the window's configuration cannot hold the offered fields
};
const char* mmio_probe_error_name(MmioProbeError e);

struct MmioProbeResult {
  MmioProbeError error = MmioProbeError::kBadMagic;
  Transport* transport = nullptr;  // points into the MmioTransports object
  uint32_t magic = 0;
  uint32_t version = 0;
  uint32_t device_id = 0;
  uint32_t vendor_id = 0;
  uint64_t device_features = 0;  // the offer, read at probe
  uint32_t device_cfg_length = 0;
  uint32_t device_cfg_needed = 0;
};

class MmioTransports {
 public:
  MmioProbeResult probe(Platform& platform, const MmioWindow& window);
  MmioTransport& transport() { return mmio_; }

 private:
  MmioTransport mmio_;
};

}  // namespace vnet
