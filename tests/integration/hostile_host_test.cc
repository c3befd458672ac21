// The driver on a hostile host (issue "ready for a hostile host"): the
// device lies in the ways an independent tester found, and the platform is
// that of a confidential guest (ACCESS_PLATFORM through an IOMMU, a bounce
// area). Each test names the defect it covers; each failed on the driver
// before the fix.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "driver/platform/bounce_platform.h"
#include "driver/spec/virtio_constants.h"
#include "tests/integration/mock_world.h"

namespace vnet {
namespace {

using mock::DeviceConfig;
using mock::Fault;
using mock::FaultKind;
using mock::TransportKind;
using spec::Feature;
using spec::feature_mask;
using testing::make_frame;
using testing::MockWorld;
using testing::violations;

std::unique_ptr<MockWorld> world(TransportKind kind, DeviceConfig cfg = {},
                                 PciMode mode = PciMode::kAuto) {
  cfg.transport = kind;
  return std::make_unique<MockWorld>(cfg, mode);
}

void arm(MockWorld& w, FaultKind kind, uint64_t value = 0, int32_t queue = -1) {
  Fault f;
  f.kind = kind;
  f.value = value;
  f.queue = queue;
  w.device().arm(f);
}

void expect_clean_stop(MockWorld& w) {
  w.net().stop();
  EXPECT_EQ(w.net().state(), NetState::kDown);
  EXPECT_TRUE(w.pool().all_returned()) << w.pool().outstanding() << " buffers lost";
  EXPECT_EQ(w.pool().double_frees(), 0u);
  EXPECT_EQ(w.pool().foreign_frees(), 0u);
  EXPECT_EQ(w.platform().dma_live(), 0u);
  EXPECT_EQ(w.platform().dma_maps_live(), 0) << "every mapping unmapped";
  EXPECT_EQ(w.platform().bad_dma_unmaps(), 0u);
}

// A fake clock that advances step_ns on every read.
std::function<uint64_t()> stepping_clock(uint64_t step_ns) {
  auto t = std::make_shared<uint64_t>(0);
  return [t, step_ns] { return *t += step_ns; };
}

class Hostile : public ::testing::TestWithParam<TransportKind> {};

// ---- defect: a stale tx completion while tx is idle -------------------------

TEST_P(Hostile, StaleTxCompletionPublishedWhileIdleIsCaughtBeforeAnIdIsReused) {
  DeviceConfig cfg;
  cfg.auto_process_tx = false;
  auto w = world(GetParam(), cfg);
  ASSERT_EQ(w->attach(), AttachError::kOk);
  ASSERT_EQ(w->send({make_frame(100, 1)}), 1u);
  ASSERT_EQ(w->device().process_tx(), 1u);
  EXPECT_EQ(w->net().tx_reclaim(), 1u);
  ASSERT_EQ(w->net().tx_queue().in_flight(), 0u);
  // The device completes the same chain again while nothing is in flight.
  ASSERT_TRUE(w->device().republish_last_used(mock::MockDevice::kTxQueue));
  // The next frame would reuse that head: the lie must be seen first, and
  // the frame's buffer must never go back to the pool unread.
  PacketBuffer* b = w->pool().alloc_tx(make_frame(110, 2));
  ASSERT_NE(b, nullptr);
  const uint16_t taken = w->net().tx_burst(&b, 1);
  w->net().tx_reclaim();
  EXPECT_EQ(w->net().counters().queue_broken_used_idx, 1u);
  EXPECT_EQ(w->net().state(), NetState::kBroken);
  EXPECT_EQ(w->net().counters().tx_completed, 1u) << "the stale entry completed nothing";
  if (taken == 0) w->pool().free(b);
  EXPECT_TRUE(w->net().poll_device().recovered);
  EXPECT_EQ(w->net().state(), NetState::kRunning);
  expect_clean_stop(*w);
}

// ---- defect: a used entry published before DRIVER_OK -------------------------

TEST_P(Hostile, UsedEntryPublishedBeforeDriverOkIsNeverDelivered) {
  auto w = world(GetParam());
  arm(*w, FaultKind::kUsedBeforeDriverOk, 0, 0);
  ASSERT_EQ(w->attach(), AttachError::kOk);
  EXPECT_EQ(w->device().counters().used_published, 1u) << "the device did lie";
  EXPECT_TRUE(w->receive().empty()) << "nothing the driver never offered is a frame";
  EXPECT_EQ(w->net().counters().rx_packets, 0u);
  EXPECT_EQ(w->net().counters().queue_broken_used_early, 1u);
  EXPECT_EQ(w->net().state(), NetState::kBroken);
  expect_clean_stop(*w);
}

// ---- defect: DATA_VALID dropped every frame ---------------------------------

TEST_P(Hostile, DataValidIsIgnoredNeedsCsumStillDropped) {
  auto w = world(GetParam());
  ASSERT_EQ(w->attach(), AttachError::kOk);
  arm(*w, FaultKind::kRxFlags, spec::net_hdr::kFlagDataValid, 0);
  ASSERT_TRUE(w->device().inject_rx(make_frame(80, 1)));
  auto got = w->receive();
  ASSERT_EQ(got.size(), 1u) << "DATA_VALID is legal without GUEST_CSUM (2024 errata)";
  EXPECT_EQ(got[0], make_frame(80, 1));
  arm(*w, FaultKind::kRxFlags, spec::net_hdr::kFlagNeedsCsum, 0);
  ASSERT_TRUE(w->device().inject_rx(make_frame(81, 2)));
  EXPECT_TRUE(w->receive().empty());
  EXPECT_EQ(w->net().counters().rx_drop_hdr_flags, 1u);
  expect_clean_stop(*w);
}

// ---- defect: frames bounded by the buffer, not the MTU -----------------------

TEST_P(Hostile, ReceivedFrameAboveTheMtuIsDropped) {
  auto w = world(GetParam());
  ASSERT_EQ(w->attach(), AttachError::kOk);
  ASSERT_EQ(w->net().mtu(), 1500);
  // 2036 bytes fit a 2048-byte buffer after the 12-byte header, but no peer
  // on a 1500-byte link can send them.
  ASSERT_TRUE(w->device().inject_rx(make_frame(2036, 1)));
  ASSERT_TRUE(w->device().inject_rx(make_frame(1519, 2)));
  ASSERT_TRUE(w->device().inject_rx(make_frame(1518, 3)));  // one VLAN tag
  auto got = w->receive();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], make_frame(1518, 3));
  EXPECT_EQ(w->net().counters().rx_drop_len_mtu, 2u);
  expect_clean_stop(*w);
}

TEST_P(Hostile, ReceivedFramesFollowANegotiatedSmallerMtu) {
  DeviceConfig cfg;
  cfg.features |= feature_mask(Feature::kNetMtu);
  cfg.mtu = 1400;
  auto w = world(GetParam(), cfg);
  ASSERT_EQ(w->attach(), AttachError::kOk);
  ASSERT_EQ(w->net().mtu(), 1400);
  ASSERT_TRUE(w->device().inject_rx(make_frame(1500, 1)));
  ASSERT_TRUE(w->device().inject_rx(make_frame(1414, 2)));
  auto got = w->receive();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], make_frame(1414, 2));
  EXPECT_EQ(w->net().counters().rx_drop_len_mtu, 1u);
  expect_clean_stop(*w);
}

// ---- defect: the reset wait was a count of reads -----------------------------

TEST_P(Hostile, SlowResetIsWaitedForAgainstTheClock) {
  auto w = world(GetParam());
  w->platform().set_clock(stepping_clock(1000));  // 1 us per clock read
  ASSERT_EQ(w->attach(), AttachError::kOk);
  // 5,000 status reads (~10 ms of clock here): beyond the old fixed 1,000.
  arm(*w, FaultKind::kResetLatency, 5000);
  EXPECT_TRUE(w->net().recover());
  w->net().stop();
  EXPECT_FALSE(w->net().quarantined());
  EXPECT_EQ(w->net().counters().reset_timeouts, 0u);
  expect_clean_stop(*w);
}

TEST_P(Hostile, ResetDeadlineIsTheOptionsAndBoundsADeadDevice) {
  auto w = world(GetParam());
  w->platform().set_clock(stepping_clock(1000));
  NetOptions o;
  o.reset_timeout_ns = 1'000'000;  // 1 ms: too short for this device
  ASSERT_EQ(w->attach(o), AttachError::kOk);
  arm(*w, FaultKind::kResetLatency, 5000);
  w->net().stop();
  EXPECT_TRUE(w->net().quarantined());
  EXPECT_EQ(w->net().counters().reset_timeouts, 1u);
  // Every further stop() waits another 1 ms: the slow reset completes.
  for (int i = 0; i < 10 && w->net().quarantined(); ++i) w->net().stop();
  EXPECT_FALSE(w->net().quarantined());
  expect_clean_stop(*w);
}

TEST_P(Hostile, DeviceThatNeverResetsIsGivenUpOnAtTheDeadline) {
  auto w = world(GetParam());
  ASSERT_EQ(w->attach(), AttachError::kOk);
  w->platform().set_clock(stepping_clock(1'000'000));  // 1 ms per read
  w->device().set_ignore_reset(true);
  w->net().stop();
  EXPECT_TRUE(w->net().quarantined());
  EXPECT_EQ(w->net().counters().reset_timeouts, 1u);
  w->device().set_ignore_reset(false);
  expect_clean_stop(*w);
}

// Giving up on a device whose reset never completes: FAILED is added to
// the status it still holds, never written over it (2.1.2).
TEST_P(Hostile, FailedIsAddedToTheStatusOfADeviceThatNeverReset) {
  auto w = world(GetParam());
  NetOptions o;
  o.reset_timeout_ns = 1'000'000;
  ASSERT_EQ(w->attach(o), AttachError::kOk);
  const uint8_t before = w->device().status();
  w->device().set_ignore_reset(true);
  EXPECT_FALSE(w->net().recover());
  EXPECT_EQ(w->net().state(), NetState::kFailed);
  EXPECT_EQ(w->device().status(), before | spec::status::kFailed);
  EXPECT_FALSE(w->device().conformance().has("2.1.1")) << violations(w->device());
  w->device().set_ignore_reset(false);
  w->net().stop();
  EXPECT_TRUE(w->pool().all_returned());
}

// ---- defect: the tx path had no watchdog --------------------------------------

TEST_P(Hostile, TxWatchdogResetsADeviceThatStopsCompleting) {
  DeviceConfig cfg;
  cfg.auto_process_tx = false;  // the device never completes
  auto w = world(GetParam(), cfg);
  auto now = std::make_shared<uint64_t>(0);
  w->platform().set_clock([now] { return *now; });
  ASSERT_EQ(w->attach(), AttachError::kOk);
  ASSERT_EQ(w->send({make_frame(100, 1), make_frame(100, 2)}), 2u);
  EXPECT_FALSE(w->net().poll_device().tx_timeout);  // arms the watchdog
  *now += 4'000'000'000;
  EXPECT_FALSE(w->net().poll_device().tx_timeout) << "4 s: not yet";
  *now += 2'000'000'000;
  DeviceEvents ev = w->net().poll_device();
  EXPECT_TRUE(ev.tx_timeout);
  EXPECT_TRUE(ev.recovered);
  EXPECT_EQ(w->net().counters().tx_watchdog_timeouts, 1u);
  EXPECT_EQ(w->net().state(), NetState::kRunning);
  EXPECT_EQ(w->pool().outstanding(), w->net().rx_queue().in_flight())
      << "the stuck tx buffers came back with the reset";
  expect_clean_stop(*w);
}

TEST_P(Hostile, TxWatchdogSparesASlowButProgressingDeviceAndAnIdleCaller) {
  DeviceConfig cfg;
  cfg.auto_process_tx = false;
  auto w = world(GetParam(), cfg);
  auto now = std::make_shared<uint64_t>(0);
  w->platform().set_clock([now] { return *now; });
  ASSERT_EQ(w->attach(), AttachError::kOk);
  for (uint32_t i = 0; i < 6; ++i) {
    ASSERT_EQ(w->send({make_frame(100, 2 * i), make_frame(100, 2 * i + 1)}), 2u);
    w->net().poll_device();
    *now += 3'000'000'000;
    ASSERT_EQ(w->device().process_tx(1), 1u);  // one completion every 3 s
    EXPECT_FALSE(w->net().poll_device().tx_timeout) << "round " << i;
  }
  // The device completes everything; the caller never transmits again, so
  // the driver never harvests: that is not the device's fault.
  w->device().process_tx();
  for (int i = 0; i < 3; ++i) {
    *now += 10'000'000'000;
    EXPECT_FALSE(w->net().poll_device().tx_timeout);
  }
  EXPECT_EQ(w->net().counters().tx_watchdog_timeouts, 0u);
  expect_clean_stop(*w);
}

INSTANTIATE_TEST_SUITE_P(AllTransports, Hostile,
                         ::testing::Values(TransportKind::kLegacy, TransportKind::kModern,
                                           TransportKind::kTransitional),
                         [](const auto& info) {
                           return std::string(mock::transport_kind_name(info.param));
                         });

// ---- defect: a short device-config capability ---------------------------------

TEST(HostileProbe, ShortDeviceConfigWindowRefusesTheModernInterface) {
  auto w = world(TransportKind::kModern);
  arm(*w, FaultKind::kDeviceCfgLength, 5);  // MAC alone needs 6
  EXPECT_NE(w->attach(), AttachError::kOk);
  EXPECT_EQ(w->probe().error, ProbeError::kModernUnusable);
  EXPECT_EQ(w->probe().modern_error, ModernProbeError::kDeviceCfgTooShort);
  EXPECT_EQ(w->probe().modern_report.device_cfg_length, 5u);
  EXPECT_GE(w->probe().modern_report.device_cfg_needed, 6u);
}

TEST(HostileProbe, ShortDeviceConfigWindowOnATransitionalDeviceFallsBackToLegacy) {
  for (uint64_t length : {0u, 5u, 7u}) {
    auto w = world(TransportKind::kTransitional);
    arm(*w, FaultKind::kDeviceCfgLength, length);
    ASSERT_EQ(w->attach(), AttachError::kOk) << length;
    EXPECT_EQ(w->probe().modern_error, ModernProbeError::kDeviceCfgTooShort);
    EXPECT_TRUE(w->net().transport()->is_legacy());
    EXPECT_TRUE(w->net().mac_from_device()) << "the MAC is the device's, not a local one";
    EXPECT_EQ(w->net().mac()[5], 0x56);
    expect_clean_stop(*w);
  }
}

// A legacy config window (BAR0 beyond 0x14) too short for the offered
// fields: the attach fails and says why, instead of running with a local
// MAC and the link assumed up.
TEST(HostileProbe, LegacyConfigWindowTooShortFailsAttachWithAReason) {
  DeviceConfig cfg;
  cfg.legacy_bar_size = 0x14 + 4;  // MAC needs 6 bytes
  auto w = world(TransportKind::kLegacy, cfg);
  EXPECT_EQ(w->attach(), AttachError::kConfigUnreadable);
  EXPECT_TRUE(w->device().status() & spec::status::kFailed);
  EXPECT_EQ(w->platform().dma_live(), 0u);
  EXPECT_TRUE(w->pool().all_returned());
}

// ---- defect: no VERSION_1 on a modern interface ---------------------------------

TEST(HostileProbe, TransitionalDeviceWithoutVersion1FallsBackToLegacy) {
  DeviceConfig cfg;
  cfg.features &= ~feature_mask(Feature::kVersion1);
  auto w = world(TransportKind::kTransitional, cfg);
  ASSERT_EQ(w->attach(), AttachError::kOk);
  EXPECT_EQ(w->probe().modern_error, ModernProbeError::kNoVersion1);
  EXPECT_TRUE(w->net().transport()->is_legacy());
  ASSERT_TRUE(w->device().inject_rx(make_frame(70, 1)));
  EXPECT_EQ(w->receive().size(), 1u);
  expect_clean_stop(*w);
}

TEST(HostileProbe, ModernOnlyDeviceWithoutVersion1IsRefusedAtProbe) {
  DeviceConfig cfg;
  cfg.features &= ~feature_mask(Feature::kVersion1);
  auto w = world(TransportKind::kModern, cfg);
  EXPECT_NE(w->attach(), AttachError::kOk);
  EXPECT_EQ(w->probe().error, ProbeError::kModernUnusable);
  EXPECT_EQ(w->probe().modern_error, ModernProbeError::kNoVersion1);
}

// ---- defect: legacy config read once ---------------------------------------------

TEST(HostileConfig, LegacyConfigIsReadUntilTwoReadsAgree) {
  auto w = world(TransportKind::kLegacy);
  arm(*w, FaultKind::kConfigMacUnstable, 3);  // the MAC changes three times under us
  ASSERT_EQ(w->attach(), AttachError::kOk);
  EXPECT_EQ(w->net().mac()[5], 0x56 + 3) << "the settled MAC, not a torn one";
  EXPECT_EQ(w->device().config().mac[5], 0x56 + 3);
  expect_clean_stop(*w);
}

TEST(HostileConfig, LegacyConfigThatNeverSettlesIsNotUsed) {
  auto w = world(TransportKind::kLegacy);
  arm(*w, FaultKind::kConfigMacUnstable, 1000);
  ASSERT_EQ(w->attach(), AttachError::kOk);
  EXPECT_FALSE(w->net().mac_from_device());
  EXPECT_EQ(w->net().counters().config_unstable, 1u);
  expect_clean_stop(*w);
}

// ---- defect: re-attach while quarantined ---------------------------------------

TEST(HostileReattach, AttachingElsewhereNeverResetsTheWrongDeviceOrMixesPools) {
  auto a = world(TransportKind::kModern);
  auto b = world(TransportKind::kModern);
  ASSERT_EQ(a->attach(), AttachError::kOk);
  const size_t held = a->pool().outstanding();
  a->device().set_ignore_reset(true);
  a->net().stop();
  ASSERT_TRUE(a->net().quarantined());
  PciTransports tb;
  ProbeResult pb = tb.probe(b->platform());
  ASSERT_EQ(pb.error, ProbeError::kOk);
  // Device A still may write into its buffers: the driver refuses to take
  // up device B rather than free A's buffers into B's pool.
  EXPECT_EQ(a->net().attach(b->platform(), *pb.transport, b->pool(), {}),
            AttachError::kQuarantined);
  EXPECT_EQ(b->device().counters().driver_resets, 0u) << "device B untouched";
  EXPECT_EQ(b->pool().foreign_frees(), 0u);
  EXPECT_EQ(a->pool().outstanding(), held);
  // A acknowledges at last: its buffers go back to A's pool, then B is used.
  a->device().set_ignore_reset(false);
  ASSERT_EQ(a->net().attach(b->platform(), *pb.transport, b->pool(), {}), AttachError::kOk);
  EXPECT_TRUE(a->pool().all_returned());
  EXPECT_EQ(a->platform().dma_live(), 0u);
  EXPECT_EQ(b->pool().foreign_frees(), 0u);
  ASSERT_TRUE(b->device().inject_rx(make_frame(64, 1)));
  PacketBuffer* got[4];
  ASSERT_EQ(a->net().rx_burst(got, 4), 1u);
  EXPECT_TRUE(b->pool().is_lent(got[0]));
  b->pool().free(got[0]);
  a->net().stop();
  EXPECT_TRUE(b->pool().all_returned());
  EXPECT_EQ(b->pool().foreign_frees(), 0u);
}

// ---- ACCESS_PLATFORM, ORDER_PLATFORM ---------------------------------------------

DeviceConfig access_platform_device(TransportKind kind) {
  DeviceConfig cfg;
  cfg.transport = kind;
  cfg.features |= feature_mask(Feature::kAccessPlatform);
  return cfg;
}

class AccessPlatform : public ::testing::TestWithParam<TransportKind> {};

TEST_P(AccessPlatform, AcceptedAndEveryBufferReachedThroughItsMapping) {
  MockWorld w(access_platform_device(GetParam()));
  w.platform().set_iommu(true);
  ASSERT_EQ(w.attach(), AttachError::kOk);
  ASSERT_TRUE(spec::has_feature(w.net().negotiated_features(), Feature::kAccessPlatform));
  uint32_t tx_seen = 0;
  bool tx_ok = true;
  w.device().set_tx_handler([&](std::span<const uint8_t> f) {
    tx_ok &= std::vector<uint8_t>(f.begin(), f.end()) == make_frame(60 + tx_seen % 1400, tx_seen);
    ++tx_seen;
  });
  uint32_t rx_seen = 0;
  for (uint32_t i = 0; i < 2000; ++i) {
    ASSERT_EQ(w.send({make_frame(60 + i % 1400, i)}), 1u);
    ASSERT_TRUE(w.device().inject_rx(make_frame(60 + i % 1454, i)));
    for (auto& f : w.receive()) {
      EXPECT_EQ(f, make_frame(60 + rx_seen % 1454, rx_seen));
      ++rx_seen;
    }
  }
  EXPECT_EQ(rx_seen, 2000u);
  EXPECT_EQ(tx_seen, 2000u);
  EXPECT_TRUE(tx_ok);
  EXPECT_TRUE(w.device().conformance().empty()) << violations(w.device());
  EXPECT_GT(w.device().dma_mappings().maps(), 4000u);
  expect_clean_stop(w);
  EXPECT_EQ(w.device().dma_mappings().live(), 0u);
  EXPECT_EQ(w.device().dma_mappings().bad_unmaps(), 0u);
}

TEST_P(AccessPlatform, DeviceRefusesADriverThatDoesNotAcceptIt) {
  MockWorld w(access_platform_device(GetParam()));
  NetOptions o;
  o.accept_access_platform = false;
  EXPECT_EQ(w.attach(o), AttachError::kFeaturesRejected);
}

TEST_P(AccessPlatform, OrderPlatformSwitchesToDmaBarriers) {
  DeviceConfig cfg = access_platform_device(GetParam());
  cfg.features |= feature_mask(Feature::kOrderPlatform);
  MockWorld w(cfg);
  ASSERT_EQ(w.attach(), AttachError::kOk);
  ASSERT_TRUE(spec::has_feature(w.net().negotiated_features(), Feature::kOrderPlatform))
      << std::hex << w.net().device_features() << " " << w.net().negotiated_features();
  ASSERT_TRUE(w.device().inject_rx(make_frame(64, 1)));
  EXPECT_EQ(w.receive().size(), 1u);
  EXPECT_EQ(w.send({make_frame(64, 2)}), 1u);
  auto& p = w.platform();
  EXPECT_GT(p.barriers(Barrier::kDmaWrite), 0u);
  EXPECT_GT(p.barriers(Barrier::kDmaRead), 0u);
  EXPECT_GT(p.barriers(Barrier::kDmaFull), 0u);
  EXPECT_EQ(p.barriers(Barrier::kRead) + p.barriers(Barrier::kWrite) + p.barriers(Barrier::kFull),
            0u);
  expect_clean_stop(w);
}

INSTANTIATE_TEST_SUITE_P(ModernInterfaces, AccessPlatform,
                         ::testing::Values(TransportKind::kModern, TransportKind::kTransitional),
                         [](const auto& info) {
                           return std::string(mock::transport_kind_name(info.param));
                         });

// The mock's ACCESS_PLATFORM checks fire: a platform that leaks the
// physical address, and one that revokes a mapping while it is in use.
class LeakyMapping final : public Platform {
 public:
  enum class Lie { kPhysicalAddress, kUnmapAtOnce };
  LeakyMapping(mock::MockPlatform& inner, Lie lie) : inner_(inner), lie_(lie) {}
  uint32_t reg_read(Region r, uint32_t o, uint8_t w) override { return inner_.reg_read(r, o, w); }
  void reg_write(Region r, uint32_t o, uint8_t w, uint32_t v) override {
    inner_.reg_write(r, o, w, v);
  }
  BarInfo bar_info(uint8_t bar) override { return inner_.bar_info(bar); }
  bool dma_alloc(size_t s, size_t a, DmaRegion* out) override {
    return inner_.dma_alloc(s, a, out);
  }
  void dma_free(const DmaRegion& r) override { inner_.dma_free(r); }
  bool dma_map(uint8_t* cpu, uint64_t phys, uint32_t len, DmaDirection dir,
               DmaMapping* out) override {
    if (!inner_.dma_map(cpu, phys, len, dir, out)) return false;
    if (lie_ == Lie::kPhysicalAddress) {
      inner_.dma_unmap(*out, cpu, 0, dir);
      out->device_addr = phys;
    } else {
      inner_.dma_unmap(*out, cpu, 0, dir);  // revoked at once, address still handed out
    }
    return true;
  }
  void dma_unmap(const DmaMapping&, uint8_t*, uint32_t, DmaDirection) override {}
  void fetch(const DeviceMemRef& w, const volatile void* s, void* d, size_t l) override {
    inner_.fetch(w, s, d, l);
  }
  void barrier(Barrier k) override { inner_.barrier(k); }
  uint64_t now_ns() override { return inner_.now_ns(); }
  void log(LogLevel l, const char* m) override { inner_.log(l, m); }

 private:
  mock::MockPlatform& inner_;
  Lie lie_;
};

TEST(AccessPlatformChecks, UnmappedAndRevokedAddressesAreViolations) {
  for (auto lie : {LeakyMapping::Lie::kPhysicalAddress, LeakyMapping::Lie::kUnmapAtOnce}) {
    mock::GuestMemory mem;
    mock::MockDevice dev(mem, access_platform_device(TransportKind::kModern));
    mock::MockPlatform inner(dev, mem);
    inner.set_iommu(true);
    LeakyMapping p(inner, lie);
    mock::MockBufferPool pool(mem, 512);
    PciTransports t;
    ProbeResult r = t.probe(p);
    ASSERT_EQ(r.error, ProbeError::kOk);
    VirtioNet net;
    ASSERT_EQ(net.attach(p, *r.transport, pool, {}), AttachError::kOk);
    EXPECT_FALSE(dev.inject_rx(make_frame(64, 1)));
    ASSERT_TRUE(dev.conformance().has("6.1")) << violations(dev);
    const std::string v = violations(dev);
    EXPECT_NE(v.find(lie == LeakyMapping::Lie::kPhysicalAddress ? "never mapped"
                                                                : "after the driver unmapped"),
              std::string::npos)
        << v;
    net.device_gone();
  }
}

// ---- bounce mode: the device sees only the shared bounce area ---------------------

TEST(BounceMode, DeviceSeesOnlyTheBounceAreaAndTheStackOnlyPrivateMemory) {
  for (TransportKind kind : {TransportKind::kLegacy, TransportKind::kModern}) {
    mock::GuestMemory shared;  // what the host can see
    // Private memory: another arena the device cannot translate at all.
    mock::GuestMemory private_mem(size_t{16} << 20, 0x2'0000'0000);
    DeviceConfig cfg;
    cfg.transport = kind;
    if (kind != TransportKind::kLegacy) cfg.features |= feature_mask(Feature::kAccessPlatform);
    mock::MockDevice dev(shared, cfg);
    mock::MockPlatform inner(dev, shared);
    BouncePlatform bounce(inner);
    ASSERT_TRUE(bounce.init(2048, 512 + 256));
    uint64_t outside = 0, walked = 0;
    dev.set_descriptor_audit([&](uint16_t, uint64_t addr, uint32_t len) {
      ++walked;
      if (!bounce.in_area(addr, len)) ++outside;
    });
    mock::MockBufferPool pool(private_mem, 1024);
    PciTransports t;
    ProbeResult r = t.probe(bounce);
    ASSERT_EQ(r.error, ProbeError::kOk);
    VirtioNet net;
    NetOptions o;
    o.rx_ring_cap = 256;
    o.tx_ring_cap = 256;
    ASSERT_EQ(net.attach(bounce, *r.transport, pool, o), AttachError::kOk);
    uint32_t tx_seen = 0;
    bool tx_ok = true;
    dev.set_tx_handler([&](std::span<const uint8_t> f) {
      tx_ok &= std::vector<uint8_t>(f.begin(), f.end()) == make_frame(60 + tx_seen % 1400, tx_seen);
      ++tx_seen;
    });
    uint32_t rx_seen = 0;
    for (uint32_t i = 0; i < 1000; ++i) {
      PacketBuffer* b = pool.alloc_tx(make_frame(60 + i % 1400, i));
      ASSERT_NE(b, nullptr);
      ASSERT_EQ(net.tx_burst(&b, 1), 1u);
      ASSERT_TRUE(dev.inject_rx(make_frame(60 + i % 1454, i)));
      PacketBuffer* got[8];
      const uint16_t n = net.rx_burst(got, 8);
      for (uint16_t k = 0; k < n; ++k) {
        EXPECT_TRUE(private_mem.contains(got[k]->base, got[k]->capacity));
        EXPECT_FALSE(shared.contains(got[k]->data(), got[k]->len))
            << "delivered from shared memory";
        EXPECT_EQ(std::vector<uint8_t>(got[k]->data(), got[k]->data() + got[k]->len),
                  make_frame(60 + rx_seen % 1454, rx_seen));
        ++rx_seen;
        pool.free(got[k]);
      }
    }
    EXPECT_EQ(rx_seen, 1000u);
    EXPECT_EQ(tx_seen, 1000u);
    EXPECT_TRUE(tx_ok);
    EXPECT_GE(walked, 2000u);
    EXPECT_EQ(outside, 0u) << "no address outside the bounce area reached the device";
    EXPECT_TRUE(dev.conformance().empty()) << violations(dev);
    EXPECT_EQ(bounce.map_failures(), 0u);
    net.stop();
    EXPECT_EQ(bounce.slots_in_use(), 0u);
    EXPECT_EQ(bounce.bad_unmaps(), 0u);
    EXPECT_TRUE(pool.all_returned());
    bounce.shutdown();
    EXPECT_EQ(inner.dma_live(), 0u);
  }
}

TEST(BounceMode, FullBounceAreaKeepsBuffersOutOfTheRingInsteadOfLosingThem) {
  mock::GuestMemory shared;
  mock::GuestMemory private_mem(size_t{16} << 20, 0x2'0000'0000);
  DeviceConfig cfg;
  cfg.transport = TransportKind::kModern;
  cfg.auto_process_tx = false;
  mock::MockDevice dev(shared, cfg);
  mock::MockPlatform inner(dev, shared);
  BouncePlatform bounce(inner);
  ASSERT_TRUE(bounce.init(2048, 40));  // fewer slots than the rings want
  mock::MockBufferPool pool(private_mem, 256);
  PciTransports t;
  ProbeResult r = t.probe(bounce);
  VirtioNet net;
  NetOptions o;
  o.rx_ring_cap = 32;
  o.tx_ring_cap = 32;
  ASSERT_EQ(net.attach(bounce, *r.transport, pool, o), AttachError::kOk);
  EXPECT_EQ(net.rx_queue().in_flight(), 32u);
  std::vector<PacketBuffer*> frames;
  for (uint32_t i = 0; i < 16; ++i) frames.push_back(pool.alloc_tx(make_frame(100, i)));
  const uint16_t taken = net.tx_burst(frames.data(), 16);
  EXPECT_EQ(taken, 8u) << "8 slots left after 32 rx buffers";
  EXPECT_EQ(net.counters().tx_map_failed, 1u);
  for (uint16_t i = taken; i < 16; ++i) pool.free(frames[i]);
  net.stop();
  EXPECT_TRUE(pool.all_returned());
  EXPECT_EQ(bounce.slots_in_use(), 0u);
  bounce.shutdown();
}

}  // namespace
}  // namespace vnet
