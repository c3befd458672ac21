// PCI configuration space and the two virtio-pci register layouts.
//
// Legacy (virtio 1.2, 4.1.4.8): one I/O BAR (BAR0) with the registers below,
// followed by the device-specific configuration at 0x14 (0x18 when MSI-X is
// enabled). Guest-endian, 32 feature bits, no FEATURES_OK.
//
// Modern (4.1.4): vendor-specific PCI capabilities (id 0x09) point into
// memory BARs:
//
//   PCI config space                 BAR n (memory)
//   +-----------------+              +------------------------+
//   | cap list ptr 34 |--+           | common cfg  (COMMON 1) |
//   +-----------------+  |  cap ---> | notify      (NOTIFY 2) |
//   | cap: cfg_type,  |<-+           | isr         (ISR 3)    |
//   |  bar, offset,   |-- ...        | device cfg  (DEVICE 4) |
//   |  length, next   |              +------------------------+
//   +-----------------+
//
// Every capability is device-supplied data: its BAR, offset and length are
// validated against the BAR's size before anything is mapped through it.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace vnet::spec::pci {

// Standard configuration header (type 0).
inline constexpr uint32_t kVendorId = 0x00;
inline constexpr uint32_t kDeviceId = 0x02;
inline constexpr uint32_t kCommand = 0x04;
inline constexpr uint32_t kStatus = 0x06;
inline constexpr uint32_t kRevisionId = 0x08;
inline constexpr uint32_t kHeaderType = 0x0E;
inline constexpr uint32_t kBar0 = 0x10;
inline constexpr uint32_t kSubsystemVendorId = 0x2C;
inline constexpr uint32_t kSubsystemId = 0x2E;
inline constexpr uint32_t kCapabilitiesPtr = 0x34;
inline constexpr uint32_t kConfigSpaceSize = 256;

inline constexpr uint16_t kCommandIo = 0x1;
inline constexpr uint16_t kCommandMemory = 0x2;
inline constexpr uint16_t kCommandBusMaster = 0x4;
inline constexpr uint16_t kStatusCapList = 0x10;

inline constexpr uint8_t kCapIdMsix = 0x11;
inline constexpr uint8_t kCapIdVendor = 0x09;

// virtio_pci_cap (4.1.4): u8 cap_vndr, cap_next, cap_len, cfg_type, bar,
// id, pad[2]; le32 offset; le32 length. The notify capability appends
// le32 notify_off_multiplier.
inline constexpr uint32_t kCapVndr = 0;
inline constexpr uint32_t kCapNext = 1;
inline constexpr uint32_t kCapLen = 2;
inline constexpr uint32_t kCapCfgType = 3;
inline constexpr uint32_t kCapBar = 4;
inline constexpr uint32_t kCapOffset = 8;
inline constexpr uint32_t kCapLength = 12;
inline constexpr uint32_t kCapNotifyMultiplier = 16;
inline constexpr uint8_t kCapMinLen = 16;
inline constexpr uint8_t kNotifyCapMinLen = 20;

inline constexpr uint8_t kCfgTypeCommon = 1;
inline constexpr uint8_t kCfgTypeNotify = 2;
inline constexpr uint8_t kCfgTypeIsr = 3;
inline constexpr uint8_t kCfgTypeDevice = 4;
inline constexpr uint8_t kCfgTypePci = 5;

// Common configuration structure (4.1.4.3), offsets in the COMMON window.
namespace common {
inline constexpr uint32_t kDeviceFeatureSelect = 0x00;
inline constexpr uint32_t kDeviceFeature = 0x04;
inline constexpr uint32_t kDriverFeatureSelect = 0x08;
inline constexpr uint32_t kDriverFeature = 0x0C;
inline constexpr uint32_t kConfigMsixVector = 0x10;
inline constexpr uint32_t kNumQueues = 0x12;
inline constexpr uint32_t kDeviceStatus = 0x14;
inline constexpr uint32_t kConfigGeneration = 0x15;
inline constexpr uint32_t kQueueSelect = 0x16;
inline constexpr uint32_t kQueueSize = 0x18;
inline constexpr uint32_t kQueueMsixVector = 0x1A;
inline constexpr uint32_t kQueueEnable = 0x1C;
inline constexpr uint32_t kQueueNotifyOff = 0x1E;
inline constexpr uint32_t kQueueDescLo = 0x20;
inline constexpr uint32_t kQueueDescHi = 0x24;
inline constexpr uint32_t kQueueDriverLo = 0x28;
inline constexpr uint32_t kQueueDriverHi = 0x2C;
inline constexpr uint32_t kQueueDeviceLo = 0x30;
inline constexpr uint32_t kQueueDeviceHi = 0x34;
inline constexpr uint32_t kSize = 0x38;  // virtio 1.0 structure length
}  // namespace common

// Legacy I/O BAR registers (4.1.4.8).
namespace legacy {
inline constexpr uint32_t kDeviceFeatures = 0x00;
inline constexpr uint32_t kDriverFeatures = 0x04;
inline constexpr uint32_t kQueueAddress = 0x08;
inline constexpr uint32_t kQueueSize = 0x0C;
inline constexpr uint32_t kQueueSelect = 0x0E;
inline constexpr uint32_t kQueueNotify = 0x10;
inline constexpr uint32_t kDeviceStatus = 0x12;
inline constexpr uint32_t kIsrStatus = 0x13;
inline constexpr uint32_t kConfigNoMsix = 0x14;
inline constexpr uint32_t kConfigMsix = 0x18;
// Only while MSI-X is enabled (they take the first four bytes that device
// configuration has without it).
inline constexpr uint32_t kConfigMsixVector = 0x14;
inline constexpr uint32_t kQueueMsixVector = 0x16;
inline constexpr uint32_t kQueueAddressShift = 12;
}  // namespace legacy

inline constexpr uint16_t kMsixNoVector = 0xFFFF;
inline constexpr uint16_t kCommandIntxDisable = 1u << 10;

// MSI-X capability (PCI 3.0, 6.8.2) and table entries.
namespace msix {
inline constexpr uint32_t kControl = 0x02;  // le16 message control
inline constexpr uint32_t kTable = 0x04;    // le32 table offset | BIR
inline constexpr uint32_t kPba = 0x08;      // le32 PBA offset | BIR
inline constexpr uint32_t kCapLen = 12;
inline constexpr uint16_t kTableSizeMask = 0x7FF;  // table size - 1
inline constexpr uint16_t kFunctionMask = 1u << 14;
inline constexpr uint16_t kEnable = 1u << 15;
inline constexpr uint32_t kBirMask = 0x7;
inline constexpr uint32_t kEntrySize = 16;
inline constexpr uint32_t kEntryAddrLo = 0x0;
inline constexpr uint32_t kEntryAddrHi = 0x4;
inline constexpr uint32_t kEntryData = 0x8;
inline constexpr uint32_t kEntryControl = 0xC;
inline constexpr uint32_t kEntryMasked = 1u;
inline constexpr uint16_t kMaxTableSize = 2048;
// Bytes of the pending bit array of a table of n entries.
constexpr uint64_t pba_bytes(uint32_t n) {
  return (uint64_t{n} + 63) / 64 * 8;
}
}  // namespace msix

}  // namespace vnet::spec::pci
