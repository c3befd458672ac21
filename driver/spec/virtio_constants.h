// One table for every virtio constant the driver uses: device status bits,
// feature bits (transport and net), their dependencies, and the net header's
// flag and GSO values. Section numbers are those of virtio 1.2.
//
// Feature bits are bit *numbers* (0..63). feature_mask(bit) turns one into a
// mask; nothing else in the driver writes "1ull << n" by hand, so bit numbers
// and masks cannot be mixed up. The compile-time checks at the bottom make
// a duplicated bit number or a dependency on an unknown bit a build error.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace vnet::spec {

// ---- Device status field (2.1) -------------------------------------------
namespace status {
inline constexpr uint8_t kAcknowledge = 1;
inline constexpr uint8_t kDriver = 2;
inline constexpr uint8_t kDriverOk = 4;
inline constexpr uint8_t kFeaturesOk = 8;
inline constexpr uint8_t kDeviceNeedsReset = 64;
inline constexpr uint8_t kFailed = 128;
}  // namespace status

// ---- Interrupt status bits (PCI ISR 4.1.4.5, MMIO InterruptStatus 4.2.2) ----
namespace interrupt {
inline constexpr uint8_t kQueue = 1;   // a used buffer notification
inline constexpr uint8_t kConfig = 2;  // a configuration change notification
}  // namespace interrupt

// ---- Feature bits (6, 5.1.3) ----------------------------------------------
enum class Feature : uint8_t {
  // virtio-net (5.1.3)
  kNetCsum = 0,
  kNetGuestCsum = 1,
  kNetCtrlGuestOffloads = 2,
  kNetMtu = 3,
  kNetMac = 5,
  kNetGso = 6,  // legacy only
  kNetGuestTso4 = 7,
  kNetGuestTso6 = 8,
  kNetGuestEcn = 9,
  kNetGuestUfo = 10,
  kNetHostTso4 = 11,
  kNetHostTso6 = 12,
  kNetHostEcn = 13,
  kNetHostUfo = 14,
  kNetMrgRxbuf = 15,
  kNetStatus = 16,
  kNetCtrlVq = 17,
  kNetCtrlRx = 18,
  kNetCtrlVlan = 19,
  kNetCtrlRxExtra = 20,
  kNetGuestAnnounce = 21,
  kNetMq = 22,
  kNetCtrlMacAddr = 23,
  kNetGuestUso4 = 54,
  kNetGuestUso6 = 55,
  kNetHostUso = 56,
  kNetHashReport = 57,
  kNetGuestHdrLen = 59,
  kNetRss = 60,
  kNetRscExt = 61,
  kNetStandby = 62,
  kNetSpeedDuplex = 63,
  // transport (6)
  kNotifyOnEmpty = 24,  // legacy
  kAnyLayout = 27,      // legacy
  kIndirectDesc = 28,
  kEventIdx = 29,
  kVersion1 = 32,
  kAccessPlatform = 33,
  kRingPacked = 34,
  kInOrder = 35,
  kOrderPlatform = 36,
  kSrIov = 37,
  kNotificationData = 38,
  kNotifConfigData = 39,
  kRingReset = 40,
};

constexpr uint64_t feature_mask(Feature f) {
  return uint64_t{1} << static_cast<uint8_t>(f);
}
constexpr bool has_feature(uint64_t set, Feature f) {
  return (set & feature_mask(f)) != 0;
}

struct FeatureInfo {
  Feature bit;
  const char* name;
  Feature requires_bit;  // == bit when it has no dependency
};

// Every feature with its dependency from 5.1.3.1 ("The driver MUST NOT
// negotiate ... unless ... is also negotiated"). Each has at most one
// prerequisite in the spec, except the ECN features (TSO4 or TSO6), which
// are listed against TSO4 here: close_under_dependencies() is therefore
// stricter than the spec for them (ECN with TSO6 alone is dropped). The
// mock device's conformance check accepts either, as the spec does.
inline constexpr FeatureInfo kFeatureTable[] = {
    {Feature::kNetCsum, "CSUM", Feature::kNetCsum},
    {Feature::kNetGuestCsum, "GUEST_CSUM", Feature::kNetGuestCsum},
    {Feature::kNetCtrlGuestOffloads, "CTRL_GUEST_OFFLOADS", Feature::kNetCtrlVq},
    {Feature::kNetMtu, "MTU", Feature::kNetMtu},
    {Feature::kNetMac, "MAC", Feature::kNetMac},
    {Feature::kNetGso, "GSO", Feature::kNetGso},
    {Feature::kNetGuestTso4, "GUEST_TSO4", Feature::kNetGuestCsum},
    {Feature::kNetGuestTso6, "GUEST_TSO6", Feature::kNetGuestCsum},
    {Feature::kNetGuestEcn, "GUEST_ECN", Feature::kNetGuestTso4},
    {Feature::kNetGuestUfo, "GUEST_UFO", Feature::kNetGuestCsum},
    {Feature::kNetHostTso4, "HOST_TSO4", Feature::kNetCsum},
    {Feature::kNetHostTso6, "HOST_TSO6", Feature::kNetCsum},
    {Feature::kNetHostEcn, "HOST_ECN", Feature::kNetHostTso4},
    {Feature::kNetHostUfo, "HOST_UFO", Feature::kNetCsum},
    {Feature::kNetMrgRxbuf, "MRG_RXBUF", Feature::kNetMrgRxbuf},
    {Feature::kNetStatus, "STATUS", Feature::kNetStatus},
    {Feature::kNetCtrlVq, "CTRL_VQ", Feature::kNetCtrlVq},
    {Feature::kNetCtrlRx, "CTRL_RX", Feature::kNetCtrlVq},
    {Feature::kNetCtrlVlan, "CTRL_VLAN", Feature::kNetCtrlVq},
    {Feature::kNetCtrlRxExtra, "CTRL_RX_EXTRA", Feature::kNetCtrlRx},
    {Feature::kNetGuestAnnounce, "GUEST_ANNOUNCE", Feature::kNetCtrlVq},
    {Feature::kNetMq, "MQ", Feature::kNetCtrlVq},
    {Feature::kNetCtrlMacAddr, "CTRL_MAC_ADDR", Feature::kNetCtrlVq},
    {Feature::kNetGuestUso4, "GUEST_USO4", Feature::kNetGuestCsum},
    {Feature::kNetGuestUso6, "GUEST_USO6", Feature::kNetGuestCsum},
    {Feature::kNetHostUso, "HOST_USO", Feature::kNetCsum},
    {Feature::kNetHashReport, "HASH_REPORT", Feature::kNetHashReport},
    {Feature::kNetGuestHdrLen, "GUEST_HDRLEN", Feature::kNetGuestHdrLen},
    {Feature::kNetRss, "RSS", Feature::kNetCtrlVq},
    {Feature::kNetRscExt, "RSC_EXT", Feature::kNetHostTso4},
    {Feature::kNetStandby, "STANDBY", Feature::kNetStandby},
    {Feature::kNetSpeedDuplex, "SPEED_DUPLEX", Feature::kNetSpeedDuplex},
    {Feature::kNotifyOnEmpty, "NOTIFY_ON_EMPTY", Feature::kNotifyOnEmpty},
    {Feature::kAnyLayout, "ANY_LAYOUT", Feature::kAnyLayout},
    {Feature::kIndirectDesc, "INDIRECT_DESC", Feature::kIndirectDesc},
    {Feature::kEventIdx, "EVENT_IDX", Feature::kEventIdx},
    {Feature::kVersion1, "VERSION_1", Feature::kVersion1},
    {Feature::kAccessPlatform, "ACCESS_PLATFORM", Feature::kAccessPlatform},
    {Feature::kRingPacked, "RING_PACKED", Feature::kRingPacked},
    {Feature::kInOrder, "IN_ORDER", Feature::kInOrder},
    {Feature::kOrderPlatform, "ORDER_PLATFORM", Feature::kOrderPlatform},
    {Feature::kSrIov, "SR_IOV", Feature::kSrIov},
    {Feature::kNotificationData, "NOTIFICATION_DATA", Feature::kNotificationData},
    {Feature::kNotifConfigData, "NOTIF_CONFIG_DATA", Feature::kNotifConfigData},
    {Feature::kRingReset, "RING_RESET", Feature::kRingReset},
};

// Name of a feature bit number, or nullptr when the table has none.
constexpr const char* feature_name(unsigned bit) {
  for (const auto& f : kFeatureTable)
    if (static_cast<unsigned>(f.bit) == bit) return f.name;
  return nullptr;
}

// Clears every feature whose prerequisite is absent, repeatedly, until the
// set is closed under the dependency table (chains such as
// CTRL_RX_EXTRA -> CTRL_RX -> CTRL_VQ need more than one pass).
constexpr uint64_t close_under_dependencies(uint64_t set) {
  for (size_t pass = 0; pass < sizeof(kFeatureTable) / sizeof(kFeatureTable[0]); ++pass) {
    uint64_t before = set;
    for (const auto& f : kFeatureTable)
      if (has_feature(set, f.bit) && !has_feature(set, f.requires_bit)) set &= ~feature_mask(f.bit);
    if (set == before) break;
  }
  return set;
}

namespace detail {
constexpr bool feature_bits_unique() {
  uint64_t seen = 0;
  for (const auto& f : kFeatureTable) {
    if (static_cast<unsigned>(f.bit) > 63) return false;
    if (has_feature(seen, f.bit)) return false;
    seen |= feature_mask(f.bit);
  }
  return true;
}
constexpr bool dependencies_known() {
  for (const auto& f : kFeatureTable)
    if (feature_name(static_cast<unsigned>(f.requires_bit)) == nullptr) return false;
  return true;
}
}  // namespace detail
static_assert(detail::feature_bits_unique(), "two features share a bit number");
static_assert(detail::dependencies_known(), "a feature depends on a bit not in the table");
static_assert(close_under_dependencies(feature_mask(Feature::kNetCtrlRxExtra) |
                                       feature_mask(Feature::kNetCtrlRx)) == 0,
              "dependency closure must follow chains");

// ---- virtio-net header (5.1.6) ---------------------------------------------
namespace net_hdr {
inline constexpr uint8_t kFlagNeedsCsum = 1;
inline constexpr uint8_t kFlagDataValid = 2;
inline constexpr uint8_t kFlagRscInfo = 4;
inline constexpr uint8_t kGsoNone = 0;
inline constexpr uint8_t kGsoTcpV4 = 1;
inline constexpr uint8_t kGsoUdp = 3;
inline constexpr uint8_t kGsoTcpV6 = 4;
inline constexpr uint8_t kGsoUdpL4 = 5;
inline constexpr uint8_t kGsoEcn = 0x80;
}  // namespace net_hdr

// ---- virtio-net config status field (5.1.4) --------------------------------
namespace net_status {
inline constexpr uint16_t kLinkUp = 1;
inline constexpr uint16_t kAnnounce = 2;
}  // namespace net_status

// ---- Device and vendor ids (4.1.2) -----------------------------------------
inline constexpr uint16_t kPciVendorVirtio = 0x1AF4;
inline constexpr uint16_t kPciDeviceNetTransitional = 0x1000;
inline constexpr uint16_t kPciDeviceNetModern = 0x1041;
inline constexpr uint16_t kVirtioIdNet = 1;

}  // namespace vnet::spec
