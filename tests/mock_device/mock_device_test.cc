// The mock device answered by a hand-written register-level driver: register
// semantics of each transport, the rings, and the conformance checker.
#include "mock_device/mock_device.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "mock_test_driver.h"

namespace vnet::mock {
namespace {

using testing::fmask;
using testing::test_frame;
using testing::TestDriver;
namespace st = spec::status;
namespace pc = spec::pci::common;
namespace lg = spec::pci::legacy;
namespace pci = spec::pci;
using F = spec::Feature;

constexpr uint64_t kModernFeatures = (uint64_t{1} << 32) | (1u << 5) | (1u << 16);  // V1|MAC|STATUS

struct Fixture : ::testing::Test {
  GuestMemory mem{8 << 20};
  std::unique_ptr<MockDevice> dev;
  std::unique_ptr<TestDriver> drv;
  std::vector<std::vector<uint8_t>> sent;

  void make(DeviceConfig cfg = {}) {
    dev = std::make_unique<MockDevice>(mem, cfg);
    drv = std::make_unique<TestDriver>(mem, *dev);
    dev->set_tx_handler(
        [this](std::span<const uint8_t> f) { sent.emplace_back(f.begin(), f.end()); });
  }
  DeviceConfig modern_cfg() {
    DeviceConfig c;
    c.transport = TransportKind::kModern;
    return c;
  }
  DeviceConfig legacy_cfg() {
    DeviceConfig c;
    c.transport = TransportKind::kLegacy;
    c.features = fmask(F::kNetMac) | fmask(F::kNetStatus);
    return c;
  }
  std::vector<std::string> sections() const {
    std::vector<std::string> out;
    for (const auto& v : dev->conformance().violations()) out.push_back(v.section);
    return out;
  }
};

// Walks the capability list like a driver would; returns {type -> cap offset}.
std::map<uint8_t, uint32_t> caps_of(MockDevice& d) {
  std::map<uint8_t, uint32_t> out;
  uint32_t p = d.pci_config_read(pci::kCapabilitiesPtr, 1);
  for (int i = 0; p && i < 48; ++i) {
    if (d.pci_config_read(p + pci::kCapVndr, 1) == pci::kCapIdVendor)
      out.emplace(uint8_t(d.pci_config_read(p + pci::kCapCfgType, 1)), p);
    p = d.pci_config_read(p + pci::kCapNext, 1);
  }
  return out;
}

// ---- PCI identity and capabilities ---------------------------------------

TEST_F(Fixture, PciIdentityPerTransport) {
  make(legacy_cfg());
  EXPECT_EQ(dev->pci_config_read(pci::kDeviceId, 2), 0x1000u);
  EXPECT_EQ(dev->pci_config_read(pci::kSubsystemId, 2), 1u);
  EXPECT_EQ(dev->pci_config_read(pci::kRevisionId, 1), 0u);
  EXPECT_EQ(dev->pci_config_read(pci::kStatus, 2) & pci::kStatusCapList, 0u);
  EXPECT_TRUE(dev->bar_info(0).is_io);
  EXPECT_FALSE(dev->bar_info(4).present);

  make(modern_cfg());
  EXPECT_EQ(dev->pci_config_read(pci::kDeviceId, 2), 0x1041u);
  EXPECT_GE(dev->pci_config_read(pci::kRevisionId, 1), 1u);
  EXPECT_FALSE(dev->bar_info(0).present);
  EXPECT_EQ(dev->bar_info(4).size, MockDevice::kModernBarSize);

  make();  // transitional
  EXPECT_EQ(dev->pci_config_read(pci::kDeviceId, 2), 0x1000u);
  EXPECT_TRUE(dev->bar_info(0).present && dev->bar_info(4).present);
  EXPECT_NE(dev->pci_config_read(pci::kStatus, 2) & pci::kStatusCapList, 0u);
}

TEST_F(Fixture, CapabilitiesLocateFourWindowsInsideTheBar) {
  make(modern_cfg());
  auto caps = caps_of(*dev);
  for (uint8_t t :
       {pci::kCfgTypeCommon, pci::kCfgTypeNotify, pci::kCfgTypeIsr, pci::kCfgTypeDevice}) {
    ASSERT_TRUE(caps.count(t)) << int(t);
    const uint32_t c = caps[t];
    EXPECT_EQ(dev->pci_config_read(c + pci::kCapBar, 1), 4u);
    const uint32_t off = dev->pci_config_read(c + pci::kCapOffset, 4);
    const uint32_t len = dev->pci_config_read(c + pci::kCapLength, 4);
    EXPECT_LE(uint64_t(off) + len, MockDevice::kModernBarSize);
  }
  EXPECT_EQ(dev->pci_config_read(caps[pci::kCfgTypeNotify] + pci::kCapNotifyMultiplier, 4), 4u);
}

TEST_F(Fixture, CapabilityFaultsBreakTheGeometry) {
  make(modern_cfg());
  dev->arm(Fault{FaultKind::kCapOutsideBar, -1, 0, 1, pci::kCfgTypeNotify});
  dev->arm(Fault{FaultKind::kCapOutsideBar, -1, 0, 1, 0});  // 0: COMMON, at offset 0
  dev->arm(Fault{FaultKind::kCapMissingBar, -1, 0, 1, pci::kCfgTypeIsr});
  auto caps = caps_of(*dev);
  const uint32_t n = caps[pci::kCfgTypeNotify];
  EXPECT_GT(uint64_t(dev->pci_config_read(n + pci::kCapOffset, 4)) +
                dev->pci_config_read(n + pci::kCapLength, 4),
            MockDevice::kModernBarSize);
  const uint32_t c = caps[pci::kCfgTypeCommon];
  EXPECT_GT(uint64_t(dev->pci_config_read(c + pci::kCapOffset, 4)) +
                dev->pci_config_read(c + pci::kCapLength, 4),
            MockDevice::kModernBarSize);
  const uint32_t bar = dev->pci_config_read(caps[pci::kCfgTypeIsr] + pci::kCapBar, 1);
  EXPECT_FALSE(dev->bar_info(uint8_t(bar)).present);
}

// ---- Modern registers ------------------------------------------------------

TEST_F(Fixture, ModernInitIsCleanAndConfigIsLittleEndian) {
  make(modern_cfg());
  // As QEMU does, the modern interface hides the legacy-only bits.
  const uint64_t legacy_only = spec::feature_mask(spec::Feature::kNetGso) |
                               spec::feature_mask(spec::Feature::kNotifyOnEmpty) |
                               spec::feature_mask(spec::Feature::kAnyLayout) | (uint64_t{1} << 30);
  EXPECT_EQ(drv->device_features(), dev->config().features & ~legacy_only);
  ASSERT_TRUE(drv->init_modern(kModernFeatures));
  EXPECT_EQ(drv->status(), st::kAcknowledge | st::kDriver | st::kFeaturesOk | st::kDriverOk);
  EXPECT_TRUE(dev->conformance().empty()) << dev->conformance().violations()[0].message;
  EXPECT_EQ(dev->net_header_size(), 12u);
  EXPECT_EQ(drv->cr(pc::kNumQueues, 2), 3u);
  const uint32_t cfg = MockDevice::kDeviceCfgOffset;
  EXPECT_EQ(drv->cr(cfg + 0, 1), 0x52u);
  EXPECT_EQ(drv->cr(cfg + spec::net_cfg::kStatus, 2), 1u);
  EXPECT_EQ(drv->cr(cfg + spec::net_cfg::kMtu, 2), 1500u);
  EXPECT_EQ(drv->cr(cfg + spec::net_cfg::kMaxVirtqueuePairs, 2), 1u);
  drv->cw(pc::kQueueSelect, 2, 1);
  EXPECT_EQ(drv->cr(pc::kQueueEnable, 2), 1u);
  EXPECT_EQ(drv->cr(pc::kQueueNotifyOff, 2), 1u);
  EXPECT_EQ(drv->cr(pc::kQueueMsixVector, 2), 0xFFFFu);
}

TEST_F(Fixture, FeaturesOkRefusedForUnofferedFeature) {
  make(modern_cfg());
  EXPECT_FALSE(drv->init_modern(kModernFeatures | fmask(F::kNetCsum)));
  EXPECT_EQ(drv->status() & st::kFeaturesOk, 0);
  EXPECT_TRUE(dev->conformance().has("2.2.1"));
  EXPECT_EQ(dev->counters().features_refused, 1u);
  // Going on to DRIVER_OK anyway is a second violation.
  drv->set_status(st::kAcknowledge | st::kDriver | st::kDriverOk);
  EXPECT_TRUE(dev->conformance().has("3.1.1"));
}

TEST_F(Fixture, FeaturesOkRefusedForMissingDependencyAndMissingVersion1) {
  DeviceConfig c = modern_cfg();
  c.features |= fmask(F::kNetCtrlVq) | fmask(F::kNetCtrlRx);
  make(c);
  EXPECT_FALSE(drv->init_modern(kModernFeatures | fmask(F::kNetCtrlRx)));
  EXPECT_TRUE(dev->conformance().has("2.2.1"));
  make(modern_cfg());
  EXPECT_FALSE(drv->init_modern(fmask(F::kNetMac)));
  EXPECT_TRUE(dev->conformance().has("6.1"));
}

TEST_F(Fixture, InitOrderViolationsAreRecordedWithTheirSection) {
  make(modern_cfg());
  drv->set_status(0);
  drv->set_status(st::kDriver);  // DRIVER without ACKNOWLEDGE
  EXPECT_TRUE(dev->conformance().has("3.1.1"));
  dev->conformance().clear();

  drv->set_status(0);
  drv->set_status(st::kAcknowledge);
  drv->set_status(st::kAcknowledge | st::kDriver);
  auto r = drv->alloc_ring(16);
  drv->setup_modern_queue(0, r);  // before FEATURES_OK
  EXPECT_TRUE(dev->conformance().has("3.1.1"));
  dev->conformance().clear();

  drv->set_status(st::kAcknowledge);  // clears DRIVER
  EXPECT_TRUE(dev->conformance().has("2.1.1"));
}

TEST_F(Fixture, DriverOkBeforeQueuesAndEarlyNotify) {
  make(modern_cfg());
  drv->set_status(0);
  drv->notify_modern(1);  // before DRIVER_OK
  EXPECT_EQ(dev->conformance().count("3.1.1"), 1u);
  drv->set_status(st::kAcknowledge);
  drv->set_status(st::kAcknowledge | st::kDriver);
  drv->write_features(kModernFeatures);
  drv->set_status(st::kAcknowledge | st::kDriver | st::kFeaturesOk);
  drv->set_status(st::kAcknowledge | st::kDriver | st::kFeaturesOk | st::kDriverOk);
  EXPECT_EQ(dev->conformance().count("5.1.5"), 2u);  // receiveq1 and transmitq1
  drv->notify_modern(0);
  EXPECT_TRUE(dev->conformance().has("4.1.5.2"));  // queue not set up
}

TEST_F(Fixture, QueueRegisterRules) {
  make(modern_cfg());
  drv->set_status(st::kAcknowledge);
  drv->set_status(st::kAcknowledge | st::kDriver);
  drv->write_features(kModernFeatures);
  drv->set_status(st::kAcknowledge | st::kDriver | st::kFeaturesOk);
  drv->cw(pc::kQueueSelect, 2, 0);
  EXPECT_EQ(drv->cr(pc::kQueueSize, 2), 256u);
  drv->cw(pc::kQueueSize, 2, 100);  // not a power of two
  EXPECT_EQ(dev->conformance().count("4.1.4.3.2"), 1u);
  drv->cw(pc::kQueueSize, 2, 512);  // above the maximum
  EXPECT_EQ(dev->conformance().count("4.1.4.3.2"), 2u);
  drv->cw(pc::kQueueEnable, 2, 0);  // MUST NOT write 0
  EXPECT_EQ(dev->conformance().count("4.1.4.3.2"), 3u);
  drv->cw(pc::kNumQueues, 2, 7);  // read-only
  EXPECT_EQ(dev->conformance().count("4.1.4.3.2"), 4u);
  drv->cw(pc::kQueueSize, 2, 64);  // fine
  EXPECT_EQ(dev->conformance().count("4.1.4.3.2"), 4u);
  EXPECT_EQ(drv->cr(pc::kQueueSize, 2), 64u);
  drv->cr(pc::kDeviceStatus, 4);  // 32-bit read of an 8-bit field
  EXPECT_TRUE(dev->conformance().has("4.1.3.1"));
  drv->cw(pc::kQueueSelect, 2, 9);
  EXPECT_EQ(drv->cr(pc::kQueueSize, 2), 0u);  // no such queue
}

TEST_F(Fixture, MisalignedOrOutsideRingIsRefused) {
  make(modern_cfg());
  drv->set_status(st::kAcknowledge);
  drv->set_status(st::kAcknowledge | st::kDriver);
  drv->write_features(kModernFeatures);
  drv->set_status(st::kAcknowledge | st::kDriver | st::kFeaturesOk);
  auto r = drv->alloc_ring(16);
  r.desc_addr += 8;  // misaligned
  drv->setup_modern_queue(0, r);
  EXPECT_TRUE(dev->conformance().has("2.7.1"));
  EXPECT_FALSE(dev->queue_ready(0));
  auto r2 = drv->alloc_ring(16);
  r2.used_addr = 0x1000;  // a CPU-like address, not guest memory
  drv->setup_modern_queue(1, r2);
  EXPECT_TRUE(dev->conformance().has("2.7"));
  EXPECT_FALSE(dev->queue_ready(1));
}

// ---- Transmit ----------------------------------------------------------------

TEST_F(Fixture, ModernTransmitHeaderAndFrameInOneDescriptor) {
  make(modern_cfg());
  ASSERT_TRUE(drv->init_modern(kModernFeatures));
  const auto frame = test_frame(64);
  drv->send(frame, 12, 3);
  drv->notify_modern(1);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0], frame);
  EXPECT_EQ(drv->tx.used_idx(), 1);
  EXPECT_EQ(drv->tx.used_id(0), 3u);
  EXPECT_EQ(drv->tx.used_len(0), 0u);
  EXPECT_EQ(dev->isr_peek() & 1, 1);
  EXPECT_EQ(drv->cr(MockDevice::kIsrOffset, 1), 1u);  // read clears
  EXPECT_EQ(dev->isr_peek(), 0);
  EXPECT_TRUE(dev->conformance().empty());
  EXPECT_EQ(dev->counters().tx_frames, 1u);
}

TEST_F(Fixture, NoInterruptSuppressesTheQueueInterrupt) {
  make(modern_cfg());
  ASSERT_TRUE(drv->init_modern(kModernFeatures));
  drv->tx.set_avail_flags(spec::kAvailFlagNoInterrupt);
  drv->send(test_frame(60), 12);
  drv->notify_modern(1);
  EXPECT_EQ(sent.size(), 1u);
  EXPECT_EQ(dev->isr_peek(), 0);
  EXPECT_EQ(dev->counters().interrupts_suppressed, 1u);
}

TEST_F(Fixture, TransmitHeaderRulesOf5_1_6_2_1) {
  make(modern_cfg());
  ASSERT_TRUE(drv->init_modern(kModernFeatures));
  uint8_t hdr[12] = {};
  hdr[10] = 1;  // num_buffers 1
  drv->send(test_frame(60), 12, 0, hdr);
  drv->notify_modern(1);
  EXPECT_EQ(dev->conformance().count("5.1.6.2.1"), 1u);
  uint8_t gso[12] = {};
  gso[1] = spec::net_hdr::kGsoTcpV4;  // no HOST_TSO4
  drv->send(test_frame(60), 12, 1, gso);
  drv->notify_modern(1);
  EXPECT_EQ(dev->conformance().count("5.1.6.2.1"), 2u);
  EXPECT_EQ(sent.size(), 2u);  // still delivered: the check is an observation
}

TEST_F(Fixture, ScatteredTransmitIsGathered) {
  make(modern_cfg());
  ASSERT_TRUE(drv->init_modern(kModernFeatures));
  const auto frame = test_frame(300);
  auto h = drv->buffer(12);
  auto a = drv->buffer(100);
  auto b = drv->buffer(200);
  std::memcpy(a.host, frame.data(), 100);
  std::memcpy(b.host, frame.data() + 100, 200);
  drv->tx.set_desc(5, h.device_addr, 12, spec::kDescFlagNext, 6);
  drv->tx.set_desc(6, a.device_addr, 100, spec::kDescFlagNext, 7);
  drv->tx.set_desc(7, b.device_addr, 200, 0, 0);
  drv->tx.offer(5);
  drv->notify_modern(1);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0], frame);
}

TEST_F(Fixture, LegacyTransmitWithSeparateHeaderAndPfnLayout) {
  make(legacy_cfg());
  drv->init_legacy(uint32_t(fmask(F::kNetMac)));
  EXPECT_TRUE(dev->conformance().empty()) << dev->conformance().violations()[0].message;
  EXPECT_TRUE(dev->legacy_mode());
  EXPECT_EQ(dev->net_header_size(), 10u);
  EXPECT_EQ(drv->lr(lg::kConfigNoMsix, 1), 0x52u);
  const auto frame = test_frame(80);
  auto h = drv->buffer(10);
  auto f = drv->buffer(frame.size());
  std::memcpy(f.host, frame.data(), frame.size());
  drv->tx.set_desc(0, h.device_addr, 10, spec::kDescFlagNext, 1);
  drv->tx.set_desc(1, f.device_addr, uint32_t(frame.size()), 0, 0);
  drv->tx.offer(0);
  drv->lw(lg::kQueueNotify, 2, 1);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0], frame);
  EXPECT_EQ(drv->tx.used_idx(), 1);
  EXPECT_EQ(drv->lr(lg::kIsrStatus, 1), 1u);
  EXPECT_EQ(drv->lr(lg::kIsrStatus, 1), 0u);
  // Without ANY_LAYOUT, header and frame in one descriptor breaks legacy framing.
  drv->send(frame, 10, 2);
  drv->lw(lg::kQueueNotify, 2, 1);
  EXPECT_TRUE(dev->conformance().has("5.1.6"));
}

// ---- Receive -----------------------------------------------------------------

TEST_F(Fixture, InjectWritesHeaderAndFrame) {
  make(modern_cfg());
  ASSERT_TRUE(drv->init_modern(kModernFeatures));
  const auto frame = test_frame(64);
  EXPECT_FALSE(dev->inject_rx(frame));  // no rx buffer yet
  EXPECT_EQ(dev->counters().rx_no_buffer, 1u);
  auto b = drv->buffer(2048);
  std::memset(b.host, 0xEE, 2048);
  drv->rx.set_desc(2, b.device_addr, 2048, spec::kDescFlagWrite, 0);
  drv->rx.offer(2);
  EXPECT_EQ(dev->rx_available(), 1);
  ASSERT_TRUE(dev->inject_rx(frame));
  EXPECT_EQ(drv->rx.used_idx(), 1);
  EXPECT_EQ(drv->rx.used_id(0), 2u);
  EXPECT_EQ(drv->rx.used_len(0), 12u + 64u);
  EXPECT_EQ(b.host[0], 0);                     // flags
  EXPECT_EQ(spec::load_le16(b.host + 10), 1);  // num_buffers
  EXPECT_EQ(std::vector<uint8_t>(b.host + 12, b.host + 76), frame);
  EXPECT_EQ(dev->isr_peek() & 1, 1);
}

TEST_F(Fixture, InjectRefusesFramesThatDoNotFit) {
  make(modern_cfg());
  ASSERT_TRUE(drv->init_modern(kModernFeatures));
  auto b = drv->buffer(64);
  drv->rx.set_desc(0, b.device_addr, 64, spec::kDescFlagWrite, 0);
  drv->rx.offer(0);
  EXPECT_FALSE(dev->inject_rx(test_frame(60)));  // 12 + 60 > 64
  EXPECT_EQ(dev->counters().rx_too_big, 1u);
  EXPECT_TRUE(dev->inject_rx(test_frame(52)));  // exactly fits
}

TEST_F(Fixture, RxHeaderFaults) {
  make(modern_cfg());
  ASSERT_TRUE(drv->init_modern(kModernFeatures));
  auto b = drv->buffer(2048);
  drv->rx.set_desc(0, b.device_addr, 2048, spec::kDescFlagWrite, 0);
  drv->rx.offer(0);
  dev->arm(Fault{FaultKind::kRxNumBuffers, -1, 0, 1, 3});
  dev->arm(Fault{FaultKind::kRxGsoType, -1, 0, 1, spec::net_hdr::kGsoTcpV4});
  ASSERT_TRUE(dev->inject_rx(test_frame(60)));
  EXPECT_EQ(spec::load_le16(b.host + 10), 3);
  EXPECT_EQ(b.host[1], spec::net_hdr::kGsoTcpV4);
  EXPECT_EQ(dev->armed_faults(), 0u);
}

// ---- Ring violations -------------------------------------------------------

TEST_F(Fixture, DescriptorLoopIsBoundedAndHaltsTheQueue) {
  make(modern_cfg());
  ASSERT_TRUE(drv->init_modern(kModernFeatures));
  auto b = drv->buffer(64);
  drv->tx.set_desc(0, b.device_addr, 32, spec::kDescFlagNext, 1);
  drv->tx.set_desc(1, b.device_addr, 32, spec::kDescFlagNext, 0);  // back to 0
  drv->tx.offer(0);
  drv->notify_modern(1);
  EXPECT_TRUE(dev->conformance().has("2.7.5.2"));
  EXPECT_TRUE(dev->queue(1).halted());
  EXPECT_TRUE(sent.empty());
}

TEST_F(Fixture, WritableBeforeReadableAndOutsideAddresses) {
  make(modern_cfg());
  ASSERT_TRUE(drv->init_modern(kModernFeatures));
  auto b = drv->buffer(64);
  drv->rx.set_desc(0, b.device_addr, 32, spec::kDescFlagWrite | spec::kDescFlagNext, 1);
  drv->rx.set_desc(1, b.device_addr + 32, 32, 0, 0);
  drv->rx.offer(0);
  EXPECT_FALSE(dev->inject_rx(test_frame(10)));
  EXPECT_TRUE(dev->conformance().has("2.7.4.2"));

  make(modern_cfg());
  ASSERT_TRUE(drv->init_modern(kModernFeatures));
  uint8_t cpu_buffer[64] = {};
  drv->tx.set_desc(0, reinterpret_cast<uintptr_t>(cpu_buffer), 64, 0, 0);  // CPU pointer
  drv->tx.offer(0);
  drv->notify_modern(1);
  EXPECT_TRUE(dev->conformance().has("2.7.13.1"));
  EXPECT_TRUE(sent.empty());
}

TEST_F(Fixture, AvailIndexTooFarAheadOrBackwards) {
  make(modern_cfg());
  ASSERT_TRUE(drv->init_modern(kModernFeatures, 16));
  drv->tx.set_avail_idx(17);  // more than 16 ahead of used 0
  drv->notify_modern(1);
  EXPECT_TRUE(dev->conformance().has("2.7.13"));
  EXPECT_TRUE(dev->queue(1).halted());

  make(modern_cfg());
  ASSERT_TRUE(drv->init_modern(kModernFeatures, 16));
  drv->send(test_frame(60), 12);
  drv->notify_modern(1);
  drv->tx.set_avail_idx(0);  // decremented
  drv->notify_modern(1);
  EXPECT_TRUE(dev->conformance().has("2.7.6.1"));
}

TEST_F(Fixture, HeadOutOfRangeInAvailRing) {
  make(modern_cfg());
  ASSERT_TRUE(drv->init_modern(kModernFeatures, 16));
  drv->tx.offer(40);
  drv->notify_modern(1);
  EXPECT_TRUE(dev->conformance().has("2.7.13.2"));
}

// ---- Used-ring faults --------------------------------------------------------

struct UsedFaults : Fixture {
  void SetUp() override {
    make(modern_cfg());
    ASSERT_TRUE(drv->init_modern(kModernFeatures, 16));
  }
  void send_one(uint16_t d = 0) {
    drv->send(test_frame(60), 12, d);
    drv->notify_modern(1);
  }
};

TEST_F(UsedFaults, IdOutOfRange) {
  dev->arm(Fault{FaultKind::kUsedIdOutOfRange, 1, 0, 1, 0});
  send_one(4);
  EXPECT_EQ(drv->tx.used_id(0), 16u);
  send_one(5);
  EXPECT_EQ(drv->tx.used_id(1), 5u);  // one-shot
}

TEST_F(UsedFaults, SkipThenApplyOnlyOnItsQueue) {
  dev->arm(Fault{FaultKind::kUsedLenOver, 1, 1, 1, 0});
  dev->arm(Fault{FaultKind::kUsedLenShort, 0, 0, 0, 2});  // rx only
  send_one(0);
  send_one(1);
  EXPECT_EQ(drv->tx.used_len(0), 0u);
  EXPECT_EQ(drv->tx.used_len(1), 1u);  // posted writable 0 + 1
}

TEST_F(UsedFaults, NotInFlightDoubleCompleteAndIdxJump) {
  dev->arm(Fault{FaultKind::kUsedIdNotInFlight, 1, 0, 1, 0});
  send_one(3);
  EXPECT_NE(drv->tx.used_id(0), 3u);
  EXPECT_LT(drv->tx.used_id(0), 16u);
  dev->arm(Fault{FaultKind::kUsedDoubleComplete, 1, 0, 1, 0});
  send_one(4);
  EXPECT_EQ(drv->tx.used_idx(), 3);
  EXPECT_EQ(drv->tx.used_id(1), 4u);
  EXPECT_EQ(drv->tx.used_id(2), 4u);
  dev->arm(Fault{FaultKind::kUsedIdxJump, 1, 0, 1, 0});
  send_one(5);
  EXPECT_EQ(drv->tx.used_idx(), 3 + 1 + 17);
}

TEST_F(UsedFaults, HookRewritesEntryAndIndex) {
  dev->set_used_hook([](UsedEntry& e) {
    e.id = 9;
    e.len = 1234;
    e.used_idx = uint16_t(e.used_idx + 2);
  });
  send_one(1);
  EXPECT_EQ(drv->tx.used_idx(), 3);
  EXPECT_EQ(drv->tx.used_id(2), 9u);
  EXPECT_EQ(drv->tx.used_len(2), 1234u);
}

// ---- State faults, link and reset --------------------------------------------

TEST_F(Fixture, QueueSizeAndConfigFaults) {
  make(modern_cfg());
  dev->arm(Fault{FaultKind::kQueueSize, 0, 0, 1, 100});
  dev->arm(Fault{FaultKind::kConfigMtu, -1, 0, 1, 60});
  dev->arm(Fault{FaultKind::kConfigMacMulticast});
  dev->arm(Fault{FaultKind::kConfigMaxPairs, -1, 0, 1, 0x8001});
  dev->arm(Fault{FaultKind::kConfigStatus, -1, 0, 1, 0x8001});
  drv->cw(pc::kQueueSelect, 2, 0);
  EXPECT_EQ(drv->cr(pc::kQueueSize, 2), 100u);
  drv->cw(pc::kQueueSelect, 2, 1);
  EXPECT_EQ(drv->cr(pc::kQueueSize, 2), 256u);
  const uint32_t cfg = MockDevice::kDeviceCfgOffset;
  EXPECT_EQ(drv->cr(cfg + spec::net_cfg::kMtu, 2), 60u);
  EXPECT_EQ(drv->cr(cfg, 1) & 1, 1u);  // multicast bit
  EXPECT_EQ(drv->cr(cfg + spec::net_cfg::kMaxVirtqueuePairs, 2), 0x8001u);
  EXPECT_EQ(drv->cr(cfg + spec::net_cfg::kStatus, 2), 0x8001u);
  EXPECT_GE(dev->config_generation(), 4);
}

TEST_F(Fixture, LinkChangeBumpsGenerationAndRaisesConfigInterrupt) {
  make(modern_cfg());
  ASSERT_TRUE(drv->init_modern(kModernFeatures));
  const uint32_t gen = drv->cr(pc::kConfigGeneration, 1);
  dev->set_link(false);
  EXPECT_NE(drv->cr(pc::kConfigGeneration, 1), gen);
  EXPECT_EQ(drv->cr(MockDevice::kDeviceCfgOffset + spec::net_cfg::kStatus, 2) & 1, 0u);
  EXPECT_EQ(drv->cr(MockDevice::kIsrOffset, 1), 2u);
  dev->set_link(true);
  EXPECT_TRUE(dev->link_up());
}

TEST_F(Fixture, ModernDeviceResetNeedsReset) {
  make(modern_cfg());
  ASSERT_TRUE(drv->init_modern(kModernFeatures));
  dev->device_reset();
  EXPECT_NE(drv->status() & st::kDeviceNeedsReset, 0);
  EXPECT_EQ(dev->isr_peek() & 2, 2);
  drv->send(test_frame(60), 12);
  drv->notify_modern(1);
  EXPECT_TRUE(sent.empty());  // the device stopped
  EXPECT_TRUE(drv->init_modern(kModernFeatures));
  EXPECT_EQ(drv->status() & st::kDeviceNeedsReset, 0);
  EXPECT_TRUE(dev->conformance().empty());
}

TEST_F(Fixture, LegacyDeviceResetLosesState) {
  make(legacy_cfg());
  drv->init_legacy(uint32_t(fmask(F::kNetMac)));
  dev->device_reset();
  EXPECT_EQ(drv->lr(lg::kDeviceStatus, 1), 0u);
  EXPECT_FALSE(dev->queue_ready(1));
  drv->lw(lg::kQueueNotify, 2, 1);  // the driver does not know yet: not its fault
  EXPECT_TRUE(dev->conformance().empty());
}

TEST_F(Fixture, TransitionalDeviceRunsInTheModeTheDriverChose) {
  make();
  drv->init_legacy(uint32_t(fmask(F::kNetMac) | fmask(F::kAnyLayout)));
  EXPECT_TRUE(dev->legacy_mode());
  EXPECT_EQ(dev->net_header_size(), 10u);
  EXPECT_TRUE(dev->conformance().empty());
  ASSERT_TRUE(drv->init_modern(kModernFeatures));
  EXPECT_FALSE(dev->legacy_mode());
  EXPECT_EQ(dev->net_header_size(), 12u);
  EXPECT_TRUE(dev->conformance().empty()) << dev->conformance().violations()[0].message;
}

// ---- Lies from issue 10: every one observable at the register or ring level ----

uint64_t desc_addr(const testing::TestRing& r, uint16_t i) {
  uint64_t v;
  std::memcpy(&v, r.desc + 16 * size_t(i), 8);
  return v;
}
uint16_t desc_u16(const testing::TestRing& r, uint16_t i, size_t off) {
  uint16_t v;
  std::memcpy(&v, r.desc + 16 * size_t(i) + off, 2);
  return v;
}

TEST_F(Fixture, PciConfigRewritesSurviveRebuildsAndBarLiesChangeOnlyWhatIsTold) {
  make(modern_cfg());
  ASSERT_TRUE(dev->poke_pci_config(0x41, 1, 0x40));  // COMMON's next -> itself
  EXPECT_FALSE(dev->poke_pci_config(0xFF, 2, 0));    // past the end
  EXPECT_EQ(dev->pci_config_read(0x41, 1), 0x40u);
  EXPECT_EQ(dev->pci_config_read(0x40, 4) >> 8 & 0xFF, 0x40u) << "any read width sees it";
  dev->arm(Fault{FaultKind::kDeviceCfgLength, -1, 0, 1, 8});  // rebuilds config space
  EXPECT_EQ(dev->pci_config_read(0x41, 1), 0x40u);
  EXPECT_EQ(dev->pci_config_read(0x100, 4), 0xFFFFFFFFu) << "past the 256 bytes";
  RegisterLie ext;
  ext.region = Region::kPciConfig;
  ext.offset = 0x100;
  ext.value = 4;
  dev->lie_about_register(ext);
  EXPECT_EQ(dev->pci_config_read(0x100, 4), 4u) << "extended config space lies too";
  dev->lie_about_bar(BarLie{4, -1, 1, -1});  // BAR 4 claims to be I/O
  const BarInfo b = dev->bar_info(4);
  EXPECT_TRUE(b.present);
  EXPECT_TRUE(b.is_io);
  EXPECT_EQ(b.size, MockDevice::kModernBarSize);
  dev->lie_about_bar(BarLie{4, 0, -1, 4096});
  EXPECT_FALSE(dev->bar_info(4).present);
  EXPECT_EQ(dev->bar_info(4).size, 4096u);
  EXPECT_FALSE(dev->bar_info(1).present);
}

TEST_F(Fixture, RegisterLieWithAMaskChangesOnlyThoseBits) {
  make(modern_cfg());
  RegisterLie l;
  l.region = Region::kBar4;
  l.offset = pc::kQueueSize;
  l.width = 2;
  l.mask = 0x1;
  l.value = 0xFFFF;
  l.skip = 1;
  l.count = 1;
  dev->lie_about_register(l);
  drv->cw(pc::kQueueSelect, 2, 0);
  EXPECT_EQ(drv->cr(pc::kQueueSize, 2), 256u) << "skipped";
  EXPECT_EQ(drv->cr(pc::kQueueSize, 2), 257u) << "bit 0 lies, the rest is true";
  EXPECT_EQ(drv->cr(pc::kQueueSize, 2), 256u) << "count 1: spent";
  EXPECT_EQ(dev->counters().faults_applied, 1u);
}

TEST_F(Fixture, DescriptorFaultsRewriteTheChainJustConsumed) {
  make(modern_cfg());
  ASSERT_TRUE(drv->init_modern(kModernFeatures));
  const auto frame = test_frame(100);
  auto h = drv->buffer(12);
  auto a = drv->buffer(100);
  std::memcpy(a.host, frame.data(), 100);
  drv->tx.set_desc(2, h.device_addr, 12, spec::kDescFlagNext, 7);
  drv->tx.set_desc(7, a.device_addr, 100, 0, 0);
  dev->arm(Fault{FaultKind::kDescNext, 1, 0, 1, 9});
  dev->arm(Fault{FaultKind::kDescAddr, 1, 0, 1, 0x1234});
  dev->arm(Fault{FaultKind::kDescLen, 0, 0, 1, 5});  // rx only: not applied here
  drv->tx.offer(2);
  drv->notify_modern(1);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0], frame) << "read before the rewrite";
  EXPECT_EQ(drv->tx.used_id(0), 2u);
  EXPECT_EQ(desc_u16(drv->tx, 2, 14), 9u);
  EXPECT_EQ(desc_u16(drv->tx, 7, 14), 9u) << "the whole chain, as the driver linked it";
  EXPECT_EQ(desc_addr(drv->tx, 2), 0x1234u);
  EXPECT_EQ(desc_addr(drv->tx, 7), 0x1234u);
  EXPECT_EQ(dev->counters().descriptors_rewritten, 4u);
  EXPECT_EQ(dev->armed_faults(), 1u);  // the rx one is left
  EXPECT_TRUE(dev->rewrite_descriptor(1, 3, DeviceQueue::DescField::kFlags, 0xFFFF));
  EXPECT_EQ(desc_u16(drv->tx, 3, 12), 0xFFFFu);
  EXPECT_FALSE(dev->rewrite_descriptor(1, 16, DeviceQueue::DescField::kFlags, 0));
}

TEST_F(UsedFaults, AnyIdAnIndexThatSkipsAndAWrittenIndex) {
  dev->arm(Fault{FaultKind::kUsedIdSet, 1, 0, 1, 200});
  send_one(1);
  EXPECT_EQ(drv->tx.used_id(0), 200u);
  EXPECT_EQ(drv->tx.used_idx(), 1);
  dev->arm(Fault{FaultKind::kUsedIdxSkip, 1, 0, 1, 2});
  send_one(2);
  EXPECT_EQ(drv->tx.used_idx(), 4) << "one entry, three slots";
  EXPECT_EQ(drv->tx.used_id(3), 2u);
  EXPECT_TRUE(dev->write_used_idx(1, 100));
  EXPECT_EQ(drv->tx.used_idx(), 100);
  EXPECT_EQ(dev->queue(1).used_idx(), 100) << "the device's own index follows";
  EXPECT_FALSE(dev->write_used_idx(2, 1)) << "ctrl queue not set up";
}

TEST_F(UsedFaults, HeldCompletionsAreReleasedInTheOrderAsked) {
  dev->hold_completions(1, 0, 0);
  for (uint16_t d = 0; d < 3; ++d) send_one(d);
  EXPECT_EQ(sent.size(), 3u) << "the frames left; only the completions wait";
  EXPECT_EQ(drv->tx.used_idx(), 0);
  EXPECT_EQ(dev->held(1), 3u);
  EXPECT_EQ(dev->counters().interrupts_suppressed, 0u) << "nothing published, nothing counted";
  EXPECT_EQ(dev->release_held(1, MockDevice::ReleaseOrder::kReverse), 3u);
  EXPECT_EQ(drv->tx.used_idx(), 3);
  EXPECT_EQ(drv->tx.used_id(0), 2u);
  EXPECT_EQ(drv->tx.used_id(1), 1u);
  EXPECT_EQ(drv->tx.used_id(2), 0u);
  send_one(3);
  EXPECT_EQ(drv->tx.used_idx(), 4) << "released: no longer holding";
  EXPECT_EQ(dev->counters().completions_held, 3u);
}

TEST_F(UsedFaults, DelayedCompletionsComeBackAfterTheirTicks) {
  dev->hold_completions(1, 2, 2);  // the next 2 completions, 2 ticks each
  send_one(0);
  dev->tick();
  send_one(1);
  send_one(2);  // beyond the count: published at once
  EXPECT_EQ(drv->tx.used_idx(), 1);
  EXPECT_EQ(drv->tx.used_id(0), 2u);
  dev->tick();  // 0 is due
  EXPECT_EQ(drv->tx.used_idx(), 2);
  EXPECT_EQ(drv->tx.used_id(1), 0u);
  dev->tick();  // 1 is due
  EXPECT_EQ(drv->tx.used_idx(), 3);
  EXPECT_EQ(drv->tx.used_id(2), 1u);
  EXPECT_EQ(dev->held(1), 0u);
}

TEST_F(UsedFaults, HeldCompletionsDieWithTheRings) {
  dev->hold_completions(1, 0, 0);
  send_one(0);
  ASSERT_EQ(dev->held(1), 1u);
  drv->set_status(0);
  EXPECT_EQ(dev->held(1), 0u);
}

TEST_F(Fixture, HooksActBeforeOrAfterTheirEvent) {
  make(modern_cfg());
  std::vector<std::string> seen;
  auto hook = [&](MockDevice::HookPoint p, uint8_t bit, bool before, const char* tag,
                  uint32_t skip = 0, uint32_t count = 1, int32_t q = -1) {
    MockDevice::Hook h;
    h.point = p;
    h.status_bit = bit;
    h.before = before;
    h.skip = skip;
    h.count = count;
    h.queue = q;
    h.action = [&seen, tag](MockDevice& d) {
      seen.push_back(std::string(tag) + ":" + std::to_string(d.status()));
    };
    dev->add_hook(std::move(h));
  };
  using HP = MockDevice::HookPoint;
  hook(HP::kStatusWrite, st::kFeaturesOk, true, "before_fok");
  hook(HP::kStatusWrite, st::kFeaturesOk, false, "after_fok");
  hook(HP::kStatusWrite, 0, false, "reset", 0, 0);    // every reset
  hook(HP::kFeaturesWrite, 0, false, "features", 1);  // the second write (high half)
  hook(HP::kQueueEnable, 0, false, "q1", 0, 1, 1);
  ASSERT_TRUE(drv->init_modern(kModernFeatures));
  drv->set_status(0);
  const std::vector<std::string> want = {"reset:0",      "features:3", "before_fok:3",
                                         "after_fok:11", "q1:11",      "reset:0"};
  EXPECT_EQ(seen, want);
  EXPECT_EQ(dev->counters().hooks_fired, 6u);
}

TEST_F(Fixture, AHookCanRefuseFeaturesOkOrPublishBeforeDriverOk) {
  make(modern_cfg());
  MockDevice::Hook h;
  h.point = MockDevice::HookPoint::kStatusWrite;
  h.status_bit = st::kFeaturesOk;
  h.before = true;
  h.action = [](MockDevice& d) { d.arm(Fault{FaultKind::kFeaturesOkRefuse, -1, 0, 1, 1}); };
  dev->add_hook(std::move(h));
  EXPECT_FALSE(drv->init_modern(kModernFeatures)) << "refused although the features are fine";
  EXPECT_EQ(dev->counters().features_refused, 1u);
  EXPECT_TRUE(drv->init_modern(kModernFeatures)) << "one refusal only";
  EXPECT_TRUE(dev->conformance().empty());

  make(modern_cfg());
  MockDevice::Hook early;
  early.point = MockDevice::HookPoint::kQueueEnable;
  early.queue = 0;
  early.action = [](MockDevice& d) { d.publish_used(0, 0, 100); };
  dev->add_hook(std::move(early));
  ASSERT_TRUE(drv->init_modern(kModernFeatures));
  EXPECT_EQ(drv->rx.used_idx(), 1);
  EXPECT_EQ(drv->rx.used_len(0), 100u);
}

TEST_F(Fixture, FeaturesOkRefusedEveryTimeWithValueZero) {
  make(modern_cfg());
  dev->arm(Fault{FaultKind::kFeaturesOkRefuse, -1, 0, 1, 0});
  EXPECT_FALSE(drv->init_modern(kModernFeatures));
  EXPECT_FALSE(drv->init_modern(kModernFeatures));
  EXPECT_EQ(dev->counters().features_refused, 2u);
}

TEST_F(Fixture, ConfigGenerationThatNeverSettles) {
  make(modern_cfg());
  dev->arm(Fault{FaultKind::kConfigGenerationUnstable, -1, 0, 1, 2});
  const uint32_t a = drv->cr(pc::kConfigGeneration, 1);
  const uint32_t b = drv->cr(pc::kConfigGeneration, 1);
  const uint32_t c = drv->cr(pc::kConfigGeneration, 1);
  EXPECT_NE(a, b);
  EXPECT_EQ(b, c) << "two changes only";
  EXPECT_EQ(dev->counters().faults_applied, 2u);
}

TEST_F(Fixture, RxCompletedWithoutAByteWritten) {
  make(modern_cfg());
  ASSERT_TRUE(drv->init_modern(kModernFeatures));
  auto b = drv->buffer(2048);
  std::memset(b.host, 0xEE, 2048);
  drv->rx.set_desc(0, b.device_addr, 2048, spec::kDescFlagWrite, 0);
  drv->rx.offer(0);
  auto c = drv->buffer(512);
  std::memset(c.host, 0xDD, 512);
  drv->rx.set_desc(1, c.device_addr, 512, spec::kDescFlagWrite, 0);
  drv->rx.offer(1);
  dev->arm(Fault{FaultKind::kRxNoWrite, -1, 0, 1, 0});
  ASSERT_TRUE(dev->inject_rx(test_frame(64)));
  EXPECT_EQ(drv->rx.used_id(0), 0u);
  EXPECT_EQ(drv->rx.used_len(0), 12u + 64u) << "the length a real frame would have had";
  EXPECT_EQ(b.host[0], 0xEE);
  EXPECT_EQ(b.host[75], 0xEE) << "not a byte written";
  ASSERT_TRUE(dev->complete_unwritten(0));
  EXPECT_EQ(drv->rx.used_id(1), 1u);
  EXPECT_EQ(drv->rx.used_len(1), 512u) << "the whole buffer";
  EXPECT_EQ(c.host[0], 0xDD);
  EXPECT_FALSE(dev->complete_unwritten(0)) << "nothing left";
}

TEST_F(Fixture, CaptureListIsBounded) {
  DeviceConfig c = modern_cfg();
  c.tx_capture_limit = 2;
  make(c);
  ASSERT_TRUE(drv->init_modern(kModernFeatures));
  for (uint16_t i = 0; i < 3; ++i) drv->send(test_frame(60, uint8_t(i)), 12, i);
  drv->notify_modern(1);
  EXPECT_EQ(dev->captured_tx().size(), 2u);
  EXPECT_EQ(dev->counters().tx_capture_dropped, 1u);
  EXPECT_EQ(dev->captured_tx()[1], test_frame(60, 1));
}

}  // namespace
}  // namespace vnet::mock
