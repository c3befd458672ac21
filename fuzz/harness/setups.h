// The input prefixes of the device targets: how the first bytes of an
// input choose the device and the driver options. Shared by the targets
// and by the seed generator (fuzz/tools/make_seeds.cc), so that both
// agree byte for byte.
#pragma once

#include <stdint.h>

#include "driver/net/virtio_net.h"
#include "driver/transport/pci_probe.h"
#include "fuzz/harness/input.h"
#include "fuzz/harness/mock_script.h"
#include "mock_device/mock_device.h"

namespace vnet::fuzz {

// Driver timing in every fuzz world. The shims' clock advances 1 us per
// now_ns() call (device_shims.h), so a deadline of N us is N clock reads.
// With the driver's defaults a device that never reads back status 0 would
// cost 100,000 status reads per reset (100 ms; beyond the work budget of
// oracle d) and the tx watchdog (5 s) would be out of reach. Scaled down,
// both run the same code and make the same decisions:
//  * the reset wait gives up after 64 status reads (the old fixed count
//    was 1000), so a device that ignores resets is still quarantined;
//  * the tx watchdog fires on the third poll_device() that sees tx chains
//    in flight and no used-index progress (it arms on the first).
//  * an input may ask for an interrupt storm guard of kFuzzStormLimit
//    interrupts per window (the default 1000 per 10 ms = 10,000 clock reads
//    is out of reach of a few dozen ops), so that a device that never stops
//    interrupting trips it (oracle h, StormWatch).
inline constexpr uint64_t kFuzzResetTimeoutNs = 64'000;
inline constexpr uint64_t kFuzzTxTimeoutNs = 2'000;
inline constexpr uint32_t kFuzzStormLimit = 4;
// NetOptions defaults with the fuzz timing; targets then set ring caps etc.
inline NetOptions fuzz_net_options() {
  NetOptions o;
  o.reset_timeout_ns = kFuzzResetTimeoutNs;
  o.tx_timeout_ns = kFuzzTxTimeoutNs;
  o.ctrl_timeout_ns = 200'000;  // kFuzzCtrlTimeoutNs (ctrl_script.h): 200 clock reads
  return o;
}

// Device flavour and the transport the driver is asked for (the four mock
// worlds of tests/integration).
struct Flavour {
  mock::TransportKind device;
  PciMode mode;
};
inline constexpr Flavour kFlavours[4] = {
    {mock::TransportKind::kLegacy, PciMode::kAuto},
    {mock::TransportKind::kModern, PciMode::kAuto},
    {mock::TransportKind::kTransitional, PciMode::kAuto},
    {mock::TransportKind::kTransitional, PciMode::kLegacy},
};

// fuzz_used_ring:  flavour:u8 (bits 0-1 kFlavours; bit 2: storm guard of
// kFuzzStormLimit; bit 3: IN_ORDER, tx completed in batches of 4; bit 4:
// indirect descriptors accepted; bits 5-6: interrupts; bit 7: the device
// processes tx only on process_tx ops)  rx_cap:u8  tx_cap:u8  queue_size:u8 (1 << (3 + v % 6))
// (kRepublish and then kDescEdit took the places of a third and a second
// kUsedEdit: the table keeps its size, so inputs of the corpus keep their
// meaning but for those ops.)
inline constexpr Op kUsedRingOps[] = {
    Op::kRx,       Op::kRxBurst,   Op::kTx,      Op::kTxReclaim,  Op::kProcessTx, Op::kPoll,
    Op::kRxIrq,    Op::kRecover,   Op::kRestart, Op::kLink,       Op::kDevReset,  Op::kUsedEdit,
    Op::kDescEdit, Op::kRepublish, Op::kFault,   Op::kPoolBudget,
};
inline constexpr OpTable kUsedRingTable{kUsedRingOps, sizeof kUsedRingOps / sizeof kUsedRingOps[0]};

// fuzz_packed_ring:  flavour:u8 (bits 0-1 the device: modern PCI,
// transitional PCI, virtio-mmio version 2, modern PCI; bit 2 storm guard;
// bit 3 EVENT_IDX masked; bit 4 the device event says DISABLE; bits 5-6
// interrupts; bit 7 the device processes tx only on process_tx)  rx_cap:u8
// tx_cap:u8 (bit 5: receive chains, mergeable buffers, a 9000-byte device
// MTU)  qsize:u8 (bits 0-2: 2 << n, bit 3: indirect descriptors
// accepted, bit 4: IN_ORDER with batches of 4; bit 7 instead: a maximum of
// 1 + 2 (n & 0x7F))
// -- always RING_PACKED offered and accepted.
inline constexpr Op kPackedRingOps[] = {
    Op::kRx,       Op::kRxBurst,    Op::kTx,        Op::kTxReclaim,   Op::kProcessTx,
    Op::kPoll,     Op::kRxIrq,      Op::kRecover,   Op::kRestart,     Op::kLink,
    Op::kDevReset, Op::kUsedEdit,   Op::kFlagsEdit, Op::kDeviceEvent, Op::kRepublish,
    Op::kFault,    Op::kPoolBudget, Op::kFlagsEdit, Op::kUsedEdit,
};
inline constexpr OpTable kPackedRingTable{kPackedRingOps,
                                          sizeof kPackedRingOps / sizeof kPackedRingOps[0]};

// fuzz_ctrl: see fuzz/targets/fuzz_ctrl.cc; the control ops (ctrl_script.h)
// twice, among the ops that reset, recover and carry traffic.
inline constexpr Op kCtrlOps[] = {
    Op::kCtrl,    Op::kCtrl,      Op::kCtrlFault, Op::kRxFlows, Op::kTxPair, Op::kPoll,
    Op::kRecover, Op::kRestart,   Op::kDevReset,  Op::kTx,      Op::kRx,     Op::kCtrlFault,
    Op::kLink,    Op::kProcessTx, Op::kUsedEdit,  Op::kCtrl,
};
inline constexpr OpTable kCtrlTable{kCtrlOps, sizeof kCtrlOps / sizeof kCtrlOps[0]};

// fuzz_rx:  flavour:u8 (as fuzz_used_ring's, bit 7 unused)  rx_cap:u8  features:u8 (bit 0: mask
// MRG_RXBUF, bit 1: mask ANY_LAYOUT, bit 2: offloads -- the device offers
// them and spreads frames over mergeable buffers, the driver accepts every
// offload and receive chains; bit 3: receive chains alone with a 9000-byte
// device MTU (jumbo frames over MRG_RXBUF); bit 4: with bit 2, GUEST_CSUM
// but no GUEST_TSO/USO; bits 5-6: the device's rx checksum mode (none,
// DATA_VALID, NEEDS_CSUM partial); bit 7: no GUEST_ECN, HOST_ECN or
// GUEST_USO4 (a partial offer)); rx_cap: 1 + v % 64 buffers
inline constexpr Op kRxOps[] = {
    Op::kRxRaw, Op::kRxRaw,   Op::kTxL4,  Op::kRxL4, Op::kRx,    Op::kRxBurst,
    Op::kPoll,  Op::kRecover, Op::kFault, Op::kTx,   Op::kRxIrq, Op::kPoolBudget,
};
inline constexpr OpTable kRxTable{kRxOps, sizeof kRxOps / sizeof kRxOps[0]};

// fuzz_config: see ConfigPrefix below.
inline constexpr Op kConfigOps[] = {
    Op::kRx,        Op::kTx,       Op::kTxReclaim, Op::kPoll,   Op::kRecover,        Op::kRestart,
    Op::kLink,      Op::kDevReset, Op::kCfgMtu,    Op::kCfgMac, Op::kCfgStatus,      Op::kCfgPairs,
    Op::kQueueSize, Op::kPciPatch, Op::kCfgChurn,  Op::kRegLie, Op::kPlatformBudget, Op::kOptions,
    Op::kDescEdit,
};
inline constexpr OpTable kConfigTable{kConfigOps, sizeof kConfigOps / sizeof kConfigOps[0]};

// fuzz_config prefix, in input order:
//   flavour:u8 (bits 0-1 the flavour; bit 2: a second notify capability,
//               DeviceConfig::second_notify_cap; bits 3-5, b != 0: a legacy
//               BAR 0 of 0x14 + 2 (b - 1) bytes, room for 0..10 bytes of
//               device configuration; bit 7: the device raises a config
//               interrupt before the driver is attached, and the caller
//               polls before attach)  features:u64  mac:6  status:u16  max_pairs:u16  mtu:u16
//   queue_size[3]:u16  notify_multiplier:u32  modern_bar:u8 (bits 0-6 the
//               BAR; bit 7: the caller accepts the control plane -- CTRL_VQ,
//               MQ with 4 pairs, RSS, HASH_REPORT -- so max_pairs and the RSS
//               fields are read, and oracle (k)'s configuration rules apply)
//   state_faults:u8 (count, at most 4) then per fault kind:u8 value:u16
//               (the last three kinds set rss_max_key_size,
//               rss_max_indirection_table_length, supported_hash_types)
//   rx_cap:u8  tx_cap:u8  max_frame:u16 (1514 + v % 600)
//   fallback_mtu:u16 (68 + v % 1500)
struct ConfigPrefix {
  uint8_t flavour = 1;
  uint64_t features = mock::default_device_features();
  uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  uint16_t status = 1;
  uint16_t max_pairs = 1;
  uint16_t mtu = 1500;
  uint16_t queue_sizes[3] = {256, 256, 64};
  uint32_t notify_multiplier = 4;
  uint8_t modern_bar = 4;
  uint8_t num_faults = 0;
  uint8_t fault_kind[4] = {};
  uint16_t fault_value[4] = {};
  uint8_t rx_cap = 15;
  uint8_t tx_cap = 15;
  uint16_t max_frame = 0;        // 1514 + v % 600
  uint16_t fallback_mtu = 1432;  // 68 + v % 1500 = 1500
};
inline constexpr mock::FaultKind kConfigStateFaults[] = {
    mock::FaultKind::kQueueSize,
    mock::FaultKind::kConfigMtu,
    mock::FaultKind::kConfigMacMulticast,
    mock::FaultKind::kConfigMacZero,
    mock::FaultKind::kConfigMaxPairs,
    mock::FaultKind::kConfigStatus,
    mock::FaultKind::kCapOutsideBar,
    mock::FaultKind::kCapMissingBar,
    // Issue 9: a short device-config window, used entries before
    // DRIVER_OK, a MAC changing under legacy reads, a slow reset.
    mock::FaultKind::kDeviceCfgLength,
    mock::FaultKind::kUsedBeforeDriverOk,
    mock::FaultKind::kConfigMacUnstable,
    mock::FaultKind::kResetLatency,
    // Issue 15: the control plane's config fields (5.1.4), as values of the
    // device's configuration (run_fuzz_config sets them before the device
    // exists, so oracle (h) knows them); read when modern_bar bit 7 makes
    // the caller accept the control plane.
    mock::FaultKind::kConfigRssMaxKeySize,
    mock::FaultKind::kConfigRssMaxTableLen,
    mock::FaultKind::kConfigSupportedHashTypes,
};
// The fault_kind byte of a ConfigPrefix that arms state fault k (its index
// in kConfigStateFaults), or -1 when the table has no such fault.
int config_fault_index(mock::FaultKind k);
ConfigPrefix read_config_prefix(Input& in);
void write_config_prefix(ScriptWriter& w, const ConfigPrefix& p);

}  // namespace vnet::fuzz
