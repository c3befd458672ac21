// The virtio-mmio register file (virtio 1.2, 4.2.2; the legacy layout of
// 4.2.4), offsets from the start of the device's window:
//
//   0x000 MagicValue        R   0x74726976 ("virt", little-endian)
//   0x004 Version           R   2 (1: the legacy interface of 4.2.4)
//   0x008 DeviceID          R   virtio device type; 0: a placeholder slot
//   0x00C VendorID          R
//   0x010 DeviceFeatures    R   32 bits of the offer, the word ...
//   0x014 DeviceFeaturesSel W   ... this selects
//   0x020 DriverFeatures    W   32 bits of the accepted subset, the word ...
//   0x024 DriverFeaturesSel W   ... this selects
//   0x028 GuestPageSize     W   v1 only: page size for QueuePFN
//   0x030 QueueSel          W   the queue the Queue* registers address
//   0x034 QueueNumMax       R   largest size of the selected queue (0: none)
//   0x038 QueueNum          W   the size the driver chose
//   0x03C QueueAlign        W   v1 only: used ring alignment in bytes
//   0x040 QueuePFN          RW  v1 only: ring page frame number (0: unused)
//   0x044 QueueReady        RW  v2 only: 1 = the queue is live
//   0x050 QueueNotify       W   the index of the queue with new buffers
//   0x060 InterruptStatus   R   bit 0 used buffer, bit 1 config change
//   0x064 InterruptACK      W   the bits of InterruptStatus handled
//   0x070 Status            RW  device status (2.1); 0 resets
//   0x080 QueueDescLow/High        v2 only: 64-bit ring addresses
//   0x090 QueueDriverLow/High      (descriptor table, driver area,
//   0x0A0 QueueDeviceLow/High      device area)
//   0x0FC ConfigGeneration  R   v2 only
//   0x100 device-specific configuration (5.1.4 for a network device)
//
// Every register is 32 bits wide and accessed only with aligned 32-bit
// accesses (4.2.2.2); device configuration with the natural width of its
// fields. Little-endian in version 2; "guest-endian" in version 1, which is
// little on every platform this driver runs on.
#pragma once

#include <stdint.h>

namespace vnet::spec::mmio {

inline constexpr uint32_t kMagicValue = 0x000;
inline constexpr uint32_t kVersion = 0x004;
inline constexpr uint32_t kDeviceId = 0x008;
inline constexpr uint32_t kVendorId = 0x00C;
inline constexpr uint32_t kDeviceFeatures = 0x010;
inline constexpr uint32_t kDeviceFeaturesSel = 0x014;
inline constexpr uint32_t kDriverFeatures = 0x020;
inline constexpr uint32_t kDriverFeaturesSel = 0x024;
inline constexpr uint32_t kGuestPageSize = 0x028;  // v1
inline constexpr uint32_t kQueueSel = 0x030;
inline constexpr uint32_t kQueueNumMax = 0x034;
inline constexpr uint32_t kQueueNum = 0x038;
inline constexpr uint32_t kQueueAlign = 0x03C;  // v1
inline constexpr uint32_t kQueuePfn = 0x040;    // v1
inline constexpr uint32_t kQueueReady = 0x044;  // v2
inline constexpr uint32_t kQueueNotify = 0x050;
inline constexpr uint32_t kInterruptStatus = 0x060;
inline constexpr uint32_t kInterruptAck = 0x064;
inline constexpr uint32_t kStatus = 0x070;
inline constexpr uint32_t kQueueDescLow = 0x080;  // v2 from here to 0x0FC
inline constexpr uint32_t kQueueDescHigh = 0x084;
inline constexpr uint32_t kQueueDriverLow = 0x090;
inline constexpr uint32_t kQueueDriverHigh = 0x094;
inline constexpr uint32_t kQueueDeviceLow = 0x0A0;
inline constexpr uint32_t kQueueDeviceHigh = 0x0A4;
inline constexpr uint32_t kConfigGeneration = 0x0FC;
inline constexpr uint32_t kConfig = 0x100;  // device-specific configuration

inline constexpr uint32_t kMagic = 0x74726976;  // "virt"
inline constexpr uint32_t kVersionLegacy = 1;
inline constexpr uint32_t kVersionModern = 2;
inline constexpr uint32_t kDeviceIdPlaceholder = 0;  // 4.2.3.1.1: ignore silently

// InterruptStatus / InterruptACK: only these bits are defined (4.2.2).
inline constexpr uint32_t kInterruptDefined = 0x3;

// The page size this driver tells a version 1 device (GuestPageSize), and
// the used ring alignment (QueueAlign): both 4096, the legacy ring layout
// of the split queue (split_ring_layout.h, kLegacyQueueAlign).
inline constexpr uint32_t kLegacyPageSize = 4096;
inline constexpr uint32_t kLegacyPfnShift = 12;
static_assert((uint32_t{1} << kLegacyPfnShift) == kLegacyPageSize);

// QEMU's windows are 0x200 bytes (registers + 256 bytes of configuration).
inline constexpr uint32_t kQemuWindowSize = 0x200;

}  // namespace vnet::spec::mmio
