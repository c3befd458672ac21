// Probe and capability validation of the PCI transports against a fake
// configuration space: every capability is device data and may lie.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <functional>

#include "driver/spec/byte_order.h"
#include "driver/spec/net_layout.h"
#include "driver/spec/pci_layout.h"
#include "driver/spec/virtio_constants.h"
#include "driver/transport/pci_probe.h"
#include "tests/driver/ring_platform.h"

namespace vnet {
namespace {

namespace pci = spec::pci;

struct FakePciDevice {
  std::array<uint8_t, 256> cfg{};
  uint8_t next_cap = 0x40;
  uint8_t* last_next = &cfg[pci::kCapabilitiesPtr];

  FakePciDevice(uint16_t device_id, uint16_t subsys) {
    spec::store_le16(&cfg[pci::kVendorId], spec::kPciVendorVirtio);
    spec::store_le16(&cfg[pci::kDeviceId], device_id);
    spec::store_le16(&cfg[pci::kSubsystemId], subsys);
    spec::store_le16(&cfg[pci::kStatus], pci::kStatusCapList);
  }
  void add_cap(uint8_t type, uint8_t bar, uint32_t offset, uint32_t length, uint32_t mult = 4) {
    uint8_t at = next_cap;
    uint8_t len = type == pci::kCfgTypeNotify ? 20 : 16;
    cfg[at + pci::kCapVndr] = pci::kCapIdVendor;
    cfg[at + pci::kCapLen] = len;
    cfg[at + pci::kCapCfgType] = type;
    cfg[at + pci::kCapBar] = bar;
    spec::store_le32(&cfg[at + pci::kCapOffset], offset);
    spec::store_le32(&cfg[at + pci::kCapLength], length);
    if (type == pci::kCfgTypeNotify) spec::store_le32(&cfg[at + pci::kCapNotifyMultiplier], mult);
    *last_next = at;
    last_next = &cfg[at + pci::kCapNext];
    next_cap = static_cast<uint8_t>(at + len);
  }
  void add_standard_caps() {
    add_cap(pci::kCfgTypeCommon, 4, 0x0000, 0x1000);
    add_cap(pci::kCfgTypeIsr, 4, 0x1000, 0x1000);
    add_cap(pci::kCfgTypeDevice, 4, 0x2000, 0x1000);
    add_cap(pci::kCfgTypeNotify, 4, 0x3000, 0x1000);
  }
  // What device_feature reads (both selects): bit 0 of the high word is
  // VERSION_1, which a modern interface must offer to be used.
  uint32_t feature_word = 1;
  void attach(testing::RingPlatform& p) {
    p.on_read = [this](Region r, uint32_t off, uint8_t w) -> uint32_t {
      if (r == bar_region(4) && off == pci::common::kDeviceFeature) return feature_word;
      if (r != Region::kPciConfig || off + w > cfg.size()) return 0xFFFFFFFF;
      uint32_t v = 0;
      std::memcpy(&v, &cfg[off], w);
      return v;
    };
    p.bars[0] = BarInfo{true, true, 64};
    p.bars[4] = BarInfo{true, false, 0x4000};
  }
};

TEST(PciProbe, ModernDeviceGetsTheModernTransport) {
  testing::RingPlatform p;
  FakePciDevice dev(spec::kPciDeviceNetModern, 0x1100);
  dev.add_standard_caps();
  dev.attach(p);
  PciTransports t;
  ProbeResult r = t.probe(p);
  ASSERT_EQ(r.error, ProbeError::kOk);
  EXPECT_FALSE(r.transport->is_legacy());
  EXPECT_EQ(r.modern_report.caps_seen, 4);
  EXPECT_EQ(r.modern_report.caps_rejected, 0);
}

TEST(PciProbe, CapabilityOutsideItsBarIsIgnored) {
  testing::RingPlatform p;
  FakePciDevice dev(spec::kPciDeviceNetModern, 0x1100);
  dev.add_cap(pci::kCfgTypeCommon, 4, 0x3F00, 0x200);  // ends past 0x4000
  dev.add_standard_caps();                             // a good one follows
  dev.attach(p);
  PciTransports t;
  ProbeResult r = t.probe(p);
  ASSERT_EQ(r.error, ProbeError::kOk);
  EXPECT_EQ(r.modern_report.caps_rejected, 1);
  auto* modern = static_cast<PciModernTransport*>(r.transport);
  EXPECT_EQ(modern->common_window().offset, 0u);
}

TEST(PciProbe, OnlyCapabilitiesOutsideTheBarMeansNoModernTransport) {
  testing::RingPlatform p;
  FakePciDevice dev(spec::kPciDeviceNetModern, 0x1100);
  dev.add_cap(pci::kCfgTypeCommon, 4, 0xFFFFFFF0u, 0x100);  // offset+length wraps 32 bits
  dev.add_cap(pci::kCfgTypeIsr, 4, 0x1000, 0x1000);
  dev.add_cap(pci::kCfgTypeDevice, 4, 0x2000, 0x1000);
  dev.add_cap(pci::kCfgTypeNotify, 4, 0x3000, 0x1000);
  dev.attach(p);
  PciTransports t;
  ProbeResult r = t.probe(p);
  EXPECT_EQ(r.error, ProbeError::kModernUnusable);
  EXPECT_EQ(r.modern_error, ModernProbeError::kNoCommonCfg);
}

TEST(PciProbe, CapabilityOnAMissingBarIsIgnored) {
  testing::RingPlatform p;
  FakePciDevice dev(spec::kPciDeviceNetModern, 0x1100);
  dev.add_cap(pci::kCfgTypeCommon, 2, 0, 0x100);  // BAR2 absent
  dev.add_cap(pci::kCfgTypeCommon, 7, 0, 0x100);  // no such BAR
  dev.add_standard_caps();
  dev.attach(p);
  PciTransports t;
  ProbeResult r = t.probe(p);
  ASSERT_EQ(r.error, ProbeError::kOk);
  EXPECT_EQ(r.modern_report.caps_rejected, 2);
}

TEST(PciProbe, NotifyMultiplierMustBeZeroOrAnEvenPowerOfTwo) {
  testing::RingPlatform p;
  FakePciDevice dev(spec::kPciDeviceNetModern, 0x1100);
  dev.add_cap(pci::kCfgTypeCommon, 4, 0x0000, 0x1000);
  dev.add_cap(pci::kCfgTypeIsr, 4, 0x1000, 0x1000);
  dev.add_cap(pci::kCfgTypeDevice, 4, 0x2000, 0x1000);
  dev.add_cap(pci::kCfgTypeNotify, 4, 0x3000, 0x1000, 3);
  dev.attach(p);
  PciTransports t;
  EXPECT_EQ(t.probe(p).modern_error, ModernProbeError::kNoNotifyCfg);
}

TEST(PciProbe, CapabilityLoopIsBounded) {
  testing::RingPlatform p;
  FakePciDevice dev(spec::kPciDeviceNetModern, 0x1100);
  dev.add_cap(pci::kCfgTypeIsr, 4, 0x1000, 0x1000);
  dev.cfg[0x40 + pci::kCapNext] = 0x40;  // points at itself
  dev.attach(p);
  PciTransports t;
  int reads = 0;
  auto inner = p.on_read;
  p.on_read = [&](Region r, uint32_t off, uint8_t w) {
    ++reads;
    return inner(r, off, w);
  };
  EXPECT_EQ(t.probe(p).error, ProbeError::kModernUnusable);
  EXPECT_LT(reads, 500);
}

TEST(PciProbe, TransitionalWithoutUsableCapsFallsBackToLegacy) {
  testing::RingPlatform p;
  FakePciDevice dev(spec::kPciDeviceNetTransitional, spec::kVirtioIdNet);
  dev.attach(p);
  PciTransports t;
  ProbeResult r = t.probe(p);
  ASSERT_EQ(r.error, ProbeError::kOk);
  EXPECT_TRUE(r.transport->is_legacy());
}

TEST(PciProbe, ForcedModesAreHonoured) {
  testing::RingPlatform p;
  FakePciDevice dev(spec::kPciDeviceNetTransitional, spec::kVirtioIdNet);
  dev.add_standard_caps();
  dev.attach(p);
  PciTransports t;
  EXPECT_FALSE(t.probe(p, PciMode::kAuto).transport->is_legacy());
  EXPECT_TRUE(t.probe(p, PciMode::kLegacy).transport->is_legacy());
  FakePciDevice modern_only(spec::kPciDeviceNetModern, 0x1100);
  modern_only.add_standard_caps();
  modern_only.attach(p);
  EXPECT_EQ(t.probe(p, PciMode::kLegacy).error, ProbeError::kLegacyUnusable);
}

TEST(PciProbe, OtherDevicesAreNotOurs) {
  testing::RingPlatform p;
  FakePciDevice blk(spec::kPciDeviceNetTransitional + 1, 2);
  blk.attach(p);
  PciTransports t;
  EXPECT_EQ(t.probe(p).error, ProbeError::kNotNet);
  spec::store_le16(&blk.cfg[pci::kVendorId], 0x8086);
  EXPECT_EQ(t.probe(p).error, ProbeError::kNotVirtio);
}

// Register offsets are 32 bits: a window that ends beyond 4 GiB (on a BAR
// that large) would wrap every access to the start of the BAR.
TEST(PciProbe, CapabilityWindowEndingBeyond4GiBIsIgnored) {
  testing::RingPlatform p;
  FakePciDevice dev(spec::kPciDeviceNetModern, 0x1100);
  dev.add_cap(pci::kCfgTypeCommon, 4, 0xFFFFF000u, 0x2000);  // ends at 4 GiB + 4 KiB
  dev.add_standard_caps();
  dev.attach(p);
  p.bars[4] = BarInfo{true, false, uint64_t{8} << 30};  // an 8 GiB BAR
  PciTransports t;
  ProbeResult r = t.probe(p);
  ASSERT_EQ(r.error, ProbeError::kOk);
  EXPECT_EQ(r.modern_report.caps_rejected, 1);
  auto* modern = static_cast<const PciModernTransport*>(r.transport);
  EXPECT_EQ(modern->common_window().offset, 0u) << "the second, sane capability is used";
}

TEST(PciProbe, MisalignedCapabilityOffsetsAreIgnored) {
  testing::RingPlatform p;
  FakePciDevice dev(spec::kPciDeviceNetModern, 0x1100);
  dev.add_cap(pci::kCfgTypeCommon, 4, 0x0002, 0x1000);  // common: 4-byte aligned
  dev.add_cap(pci::kCfgTypeNotify, 4, 0x3001, 0x100);   // notify: 2-byte aligned
  dev.add_cap(pci::kCfgTypeDevice, 4, 0x2002, 0x100);   // device: 4-byte aligned
  dev.add_standard_caps();
  dev.attach(p);
  PciTransports t;
  ProbeResult r = t.probe(p);
  ASSERT_EQ(r.error, ProbeError::kOk);
  EXPECT_EQ(r.modern_report.caps_rejected, 3);
}

TEST(PciModern, ConfigReadsOutsideTheWindowFail) {
  testing::RingPlatform p;
  FakePciDevice dev(spec::kPciDeviceNetModern, 0x1100);
  dev.add_cap(pci::kCfgTypeCommon, 4, 0x0000, 0x1000);
  dev.add_cap(pci::kCfgTypeIsr, 4, 0x1000, 0x1000);
  dev.add_cap(pci::kCfgTypeDevice, 4, 0x2000, 8);
  dev.add_cap(pci::kCfgTypeNotify, 4, 0x3000, 0x1000);
  dev.attach(p);
  PciTransports t;
  Transport* tr = t.probe(p).transport;
  ASSERT_NE(tr, nullptr);
  uint32_t v;
  EXPECT_TRUE(tr->config_read(6, 2, &v));
  EXPECT_FALSE(tr->config_read(8, 2, &v)) << "past the 8-byte window";
  EXPECT_FALSE(tr->config_read(7, 2, &v)) << "misaligned";
  EXPECT_FALSE(tr->config_read(0, 3, &v)) << "odd width";
}

}  // namespace
}  // namespace vnet

namespace vnet {
namespace {

// A modern device whose config_generation the test controls.
struct GenerationDevice {
  FakePciDevice pci{spec::kPciDeviceNetModern, 0x1100};
  int generation_reads = 0;
  std::function<uint8_t(int)> generation = [](int) { return 0; };
  uint16_t mtu = 1500;

  explicit GenerationDevice(testing::RingPlatform& p) {
    pci.add_standard_caps();
    pci.attach(p);
    auto cfg = p.on_read;
    p.on_read = [this, cfg](Region r, uint32_t off, uint8_t w) -> uint32_t {
      if (r == Region::kPciConfig) return cfg(r, off, w);
      if (off == pci::common::kDeviceFeature) return pci.feature_word;
      if (off == pci::common::kConfigGeneration) return generation(generation_reads++);
      if (off == 0x2000 + spec::net_cfg::kMtu) return mtu;
      return 0;
    };
  }
};

TEST(PciModern, ConfigReadRetriesWhileTheGenerationChanges) {
  testing::RingPlatform p;
  GenerationDevice dev(p);
  // Generation reads: 0, 1 (changed: retry), 1, 1 (stable).
  dev.generation = [](int n) { return static_cast<uint8_t>(n == 0 ? 0 : 1); };
  PciTransports t;
  Transport* tr = t.probe(p).transport;
  ASSERT_NE(tr, nullptr);
  int field_reads = 0;
  uint32_t mtu = 0;
  EXPECT_EQ(tr->read_config_snapshot(&mtu,
                                     [&](uint32_t& v) {
                                       ++field_reads;
                                       return tr->config_read(spec::net_cfg::kMtu, 2, &v);
                                     }),
            Transport::ConfigRead::kOk);
  EXPECT_EQ(field_reads, 2);
  EXPECT_EQ(mtu, 1500u);
}

TEST(PciModern, ConfigThatNeverSettlesIsGivenUpOnBounded) {
  testing::RingPlatform p;
  GenerationDevice dev(p);
  dev.generation = [](int n) { return static_cast<uint8_t>(n); };  // changes on every read
  PciTransports t;
  Transport* tr = t.probe(p).transport;
  ASSERT_NE(tr, nullptr);
  int field_reads = 0;
  uint32_t unused = 0;
  EXPECT_EQ(tr->read_config_snapshot(&unused,
                                     [&](uint32_t&) {
                                       ++field_reads;
                                       return true;
                                     }),
            Transport::ConfigRead::kUnstable);
  EXPECT_EQ(field_reads, Transport::kConfigRetries);
}

}  // namespace
}  // namespace vnet
