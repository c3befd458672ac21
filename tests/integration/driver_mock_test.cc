// The driver against the mock device, on every PCI transport flavour:
// bring-up, traffic both ways byte for byte, link changes, resets, and
// every device misbehaviour the driver must survive.
#include <gtest/gtest.h>

#include <string>

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
using testing::WorldKind;

class DriverMock : public ::testing::TestWithParam<WorldKind> {
 protected:
  std::unique_ptr<MockWorld> make(DeviceConfig cfg = {}, size_t pool = 1024) {
    cfg.transport = GetParam().device;
    return std::make_unique<MockWorld>(cfg, GetParam().mode, pool);
  }
  bool legacy() const {
    return GetParam().device == TransportKind::kLegacy ||
           GetParam().device == TransportKind::kMmioV1 || GetParam().mode == PciMode::kLegacy;
  }
  // Every buffer back, every DMA allocation freed, the spec kept.
  void expect_clean_stop(MockWorld& w) {
    w.net().stop();
    EXPECT_EQ(w.net().state(), NetState::kDown);
    EXPECT_TRUE(w.pool().all_returned()) << w.pool().outstanding() << " buffers lost";
    EXPECT_EQ(w.pool().double_frees(), 0u);
    EXPECT_EQ(w.pool().foreign_frees(), 0u);
    EXPECT_EQ(w.platform().dma_live(), 0u);
  }
};

TEST_P(DriverMock, BringsTheDeviceUp) {
  auto w = make();
  ASSERT_EQ(w->attach(), AttachError::kOk);
  VirtioNet& net = w->net();
  EXPECT_EQ(net.state(), NetState::kRunning);
  EXPECT_EQ(net.transport()->is_legacy(), legacy());
  EXPECT_TRUE(net.mac_from_device());
  EXPECT_EQ(net.mac()[5], 0x56);
  EXPECT_TRUE(net.link_up());
  EXPECT_EQ(net.mtu(), 1500);
  // 12 bytes with VERSION_1 or MRG_RXBUF (the mock offers MRG_RXBUF).
  EXPECT_TRUE(spec::has_feature(net.negotiated_features(), Feature::kNetMrgRxbuf));
  EXPECT_EQ(net.net_header_size(), 12u);
  EXPECT_EQ(spec::has_feature(net.negotiated_features(), Feature::kVersion1), !legacy());
  EXPECT_EQ(net.negotiated_features() & ~net.device_features(), 0u) << "only what was offered";
  EXPECT_TRUE(w->device().status() & spec::status::kDriverOk);
  EXPECT_GT(w->device().rx_available(), 0);
  EXPECT_TRUE(w->device().conformance().empty()) << violations(w->device());
  expect_clean_stop(*w);
}

TEST_P(DriverMock, TenThousandFramesEachWayByteExact) {
  auto w = make();
  ASSERT_EQ(w->attach(), AttachError::kOk);
  constexpr uint32_t kFrames = 10000;
  // Sizes sweep 60..1514 and back; contents depend on the sequence number.
  auto size_of = [](uint32_t i) { return 60 + (i * 37) % (1514 - 60 + 1); };

  uint32_t tx_seen = 0;
  bool tx_ok = true;
  w->device().set_tx_handler([&](std::span<const uint8_t> frame) {
    auto want = make_frame(size_of(tx_seen), tx_seen);
    tx_ok = tx_ok && frame.size() == want.size() &&
            std::equal(frame.begin(), frame.end(), want.begin());
    ++tx_seen;
  });
  uint32_t sent = 0, injected = 0, received = 0;
  while (sent < kFrames || received < kFrames) {
    std::vector<std::vector<uint8_t>> batch;
    for (uint32_t i = 0; i < 32 && sent + i < kFrames; ++i)
      batch.push_back(make_frame(size_of(sent + i), sent + i));
    sent += static_cast<uint32_t>(w->send(batch));
    while (injected < kFrames && w->device().inject_rx(make_frame(size_of(injected), injected + 7)))
      ++injected;
    for (auto& f : w->receive()) {
      auto want = make_frame(size_of(received), received + 7);
      ASSERT_EQ(f, want) << "rx frame " << received;
      ++received;
    }
    ASSERT_EQ(w->net().state(), NetState::kRunning);
  }
  w->net().tx_reclaim();
  EXPECT_TRUE(tx_ok);
  EXPECT_EQ(tx_seen, kFrames);
  const NetCounters& c = w->net().counters();
  EXPECT_EQ(c.tx_packets, kFrames);
  EXPECT_EQ(c.rx_packets, kFrames);
  EXPECT_EQ(c.tx_completed, kFrames);
  EXPECT_TRUE(w->device().conformance().empty()) << violations(w->device());
  expect_clean_stop(*w);
}

// The split ring's indices are 16 bits and free-running (2.7.6, 2.7.8):
// 70,000 frames each way carry both queues' avail and used indices across
// 65535 -> 0, in bursts that straddle the wrap.
TEST_P(DriverMock, IndicesCrossTheSixteenBitWrapBothWays) {
  auto w = make();
  ASSERT_EQ(w->attach(), AttachError::kOk);
  constexpr uint32_t kFrames = 70000;
  uint32_t tx_seen = 0;
  bool tx_ok = true;
  w->device().set_tx_handler([&](std::span<const uint8_t> frame) {
    auto want = make_frame(60 + tx_seen % 64, tx_seen);
    tx_ok = tx_ok && std::equal(frame.begin(), frame.end(), want.begin(), want.end());
    ++tx_seen;
  });
  uint32_t sent = 0, injected = 0, received = 0;
  while (sent < kFrames || received < kFrames) {
    std::vector<std::vector<uint8_t>> batch;
    for (uint32_t i = 0; i < 29 && sent + i < kFrames; ++i)
      batch.push_back(make_frame(60 + (sent + i) % 64, sent + i));
    sent += static_cast<uint32_t>(w->send(batch));
    for (uint32_t i = 0; i < 29 && injected < kFrames; ++i, ++injected)
      if (!w->device().inject_rx(make_frame(60 + injected % 64, injected + 3))) break;
    for (auto& f : w->receive()) {
      ASSERT_EQ(f, make_frame(60 + received % 64, received + 3)) << "rx frame " << received;
      ++received;
    }
    ASSERT_EQ(w->net().state(), NetState::kRunning) << "after " << sent << " frames";
  }
  w->net().tx_reclaim();
  EXPECT_TRUE(tx_ok);
  EXPECT_EQ(tx_seen, kFrames);
  // Past the wrap: the device's 16-bit used indices are the counts mod 2^16.
  EXPECT_EQ(w->device().queue(mock::MockDevice::kTxQueue).used_idx(), uint16_t(kFrames));
  EXPECT_EQ(w->device().queue(mock::MockDevice::kRxQueue).used_idx(), uint16_t(kFrames));
  EXPECT_EQ(w->net().counters().rx_packets, kFrames);
  EXPECT_EQ(w->net().counters().tx_completed, kFrames);
  EXPECT_TRUE(w->device().conformance().empty()) << violations(w->device());
  expect_clean_stop(*w);
}

TEST_P(DriverMock, LinkDownAndUpAreSeen) {
  auto w = make();
  ASSERT_EQ(w->attach(), AttachError::kOk);
  w->device().set_link(false);
  DeviceEvents ev = w->net().poll_device();
  EXPECT_TRUE(ev.config_changed);
  EXPECT_TRUE(ev.link_changed);
  EXPECT_FALSE(w->net().link_up());
  w->device().set_link(true);
  ev = w->net().poll_device();
  EXPECT_TRUE(ev.link_changed);
  EXPECT_TRUE(w->net().link_up());
  EXPECT_EQ(w->net().counters().link_changes, 2u);
  EXPECT_TRUE(w->device().conformance().empty()) << violations(w->device());
  expect_clean_stop(*w);
}

TEST_P(DriverMock, DeviceResetIsDetectedAndRecoveredWithoutLosingBuffers) {
  auto w = make();
  ASSERT_EQ(w->attach(), AttachError::kOk);
  ASSERT_EQ(w->send({make_frame(100, 1), make_frame(200, 2)}), 2u);
  ASSERT_TRUE(w->device().inject_rx(make_frame(300, 3)));
  w->device().device_reset();
  DeviceEvents ev = w->net().poll_device();
  EXPECT_TRUE(ev.reset_detected);
  EXPECT_TRUE(ev.recovered);
  EXPECT_EQ(w->net().state(), NetState::kRunning);
  EXPECT_EQ(w->net().counters().recoveries, 1u);
  // Only the rx ring's buffers are out again; nothing from before is lost.
  EXPECT_EQ(w->pool().outstanding(), w->device().rx_available());
  ASSERT_TRUE(w->device().inject_rx(make_frame(400, 4)));
  auto got = w->receive();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], make_frame(400, 4));
  expect_clean_stop(*w);
}

TEST_P(DriverMock, DriverInitiatedRecoverReturnsEveryBuffer) {
  auto w = make();
  ASSERT_EQ(w->attach(), AttachError::kOk);
  for (int round = 0; round < 20; ++round) {
    ASSERT_TRUE(w->device().inject_rx(make_frame(64, round)));
    ASSERT_TRUE(w->net().recover());
    EXPECT_EQ(w->pool().outstanding(), w->device().rx_available());
  }
  EXPECT_TRUE(w->device().conformance().empty()) << violations(w->device());
  expect_clean_stop(*w);
}

// ---- misbehaviour on the rings -------------------------------------------

struct RingLie {
  FaultKind kind;
  uint16_t queue;
  uint64_t value;
  uint64_t NetCounters::*counter;
  bool breaks_queue;
  // A second counter that also proves detection: a chain completed twice in
  // one batch shows first as a used index beyond what is in flight.
  uint64_t NetCounters::*alt_counter = nullptr;
};

class DriverMockRingLies : public DriverMock {
 protected:
  void run(const RingLie& lie) {
    auto w = make();
    ASSERT_EQ(w->attach(), AttachError::kOk);
    Fault f;
    f.kind = lie.kind;
    f.queue = lie.queue;
    f.value = lie.value;
    w->device().arm(f);
    // Traffic both ways; the lie hits the first used entry of its queue.
    w->send({make_frame(100, 1), make_frame(120, 2)});
    w->device().inject_rx(make_frame(90, 3));
    w->device().inject_rx(make_frame(91, 4));
    auto got = w->receive();
    w->send({make_frame(130, 5)});
    const NetCounters& c = w->net().counters();
    EXPECT_GE(c.*lie.counter + (lie.alt_counter ? c.*lie.alt_counter : 0), 1u);
    for (auto& f : got)
      EXPECT_TRUE(f == make_frame(90, 3) || f == make_frame(91, 4)) << "only genuine frames";
    if (lie.breaks_queue) {
      EXPECT_EQ(w->net().state(), NetState::kBroken);
      DeviceEvents ev = w->net().poll_device();
      EXPECT_TRUE(ev.recovered);
      EXPECT_EQ(w->net().state(), NetState::kRunning);
      ASSERT_TRUE(w->device().inject_rx(make_frame(99, 9)));
      auto after = w->receive();
      ASSERT_EQ(after.size(), 1u) << "works again after the reset";
    } else {
      EXPECT_EQ(w->net().state(), NetState::kRunning);
    }
    expect_clean_stop(*w);
  }
};

TEST_P(DriverMockRingLies, RxUsedIdOutOfRange) {
  run({FaultKind::kUsedIdOutOfRange, 0, 0, &NetCounters::queue_broken_used_id, true});
}
TEST_P(DriverMockRingLies, TxUsedIdOutOfRange) {
  run({FaultKind::kUsedIdOutOfRange, 1, 5, &NetCounters::queue_broken_used_id, true});
}
TEST_P(DriverMockRingLies, RxUsedIdNotInFlight) {
  run({FaultKind::kUsedIdNotInFlight, 0, 0, &NetCounters::queue_broken_used_stale, true});
}
TEST_P(DriverMockRingLies, TxUsedIdNotInFlight) {
  run({FaultKind::kUsedIdNotInFlight, 1, 0, &NetCounters::queue_broken_used_stale, true});
}
TEST_P(DriverMockRingLies, RxChainCompletedTwice) {
  run({FaultKind::kUsedDoubleComplete, 0, 0, &NetCounters::queue_broken_used_stale, true,
       &NetCounters::queue_broken_used_idx});
}
TEST_P(DriverMockRingLies, TxChainCompletedTwice) {
  run({FaultKind::kUsedDoubleComplete, 1, 0, &NetCounters::queue_broken_used_stale, true,
       &NetCounters::queue_broken_used_idx});
}
TEST_P(DriverMockRingLies, RxUsedIndexJump) {
  run({FaultKind::kUsedIdxJump, 0, 0, &NetCounters::queue_broken_used_idx, true});
}
TEST_P(DriverMockRingLies, TxUsedIndexJump) {
  run({FaultKind::kUsedIdxJump, 1, 0, &NetCounters::queue_broken_used_idx, true});
}
TEST_P(DriverMockRingLies, RxUsedLengthAbovePosted) {
  run({FaultKind::kUsedLenOver, 0, 1, &NetCounters::rx_drop_len_over, false});
}
TEST_P(DriverMockRingLies, TxUsedLengthOnReadOnlyChain) {
  run({FaultKind::kUsedLenOver, 1, 1, &NetCounters::tx_bad_used_len, false});
}
TEST_P(DriverMockRingLies, RxUsedLengthBelowHeader) {
  run({FaultKind::kUsedLenShort, 0, 4, &NetCounters::rx_drop_len_short, false});
}
TEST_P(DriverMockRingLies, RxHeaderGsoTypeNotNegotiated) {
  run({FaultKind::kRxGsoType, 0, 1, &NetCounters::rx_drop_hdr_gso, false});
}
TEST_P(DriverMockRingLies, RxNumBuffersZero) {
  run({FaultKind::kRxNumBuffers, 0, 0, &NetCounters::rx_drop_num_buffers, false});
}
TEST_P(DriverMockRingLies, RxNumBuffersTwo) {
  run({FaultKind::kRxNumBuffers, 0, 2, &NetCounters::rx_drop_num_buffers, false});
}
TEST_P(DriverMockRingLies, RxNumBuffersBeyondWhatIsPosted) {
  run({FaultKind::kRxNumBuffers, 0, 60000, &NetCounters::rx_drop_num_buffers, false});
}
TEST_P(DriverMockRingLies, RxHeaderFlagsNotNegotiated) {
  run({FaultKind::kRxFlags, 0, 1, &NetCounters::rx_drop_hdr_flags, false});
}

// ---- misbehaviour at setup -------------------------------------------------

TEST_P(DriverMock, QueueSizeZeroFailsAttachCleanly) {
  auto w = make();
  w->device().arm(Fault{FaultKind::kQueueSize, 0, 0, 0, 0});
  EXPECT_EQ(w->attach(), AttachError::kQueueUnavailable);
  EXPECT_EQ(w->net().state(), NetState::kFailed);
  EXPECT_TRUE(w->device().status() & spec::status::kFailed);
  EXPECT_TRUE(w->pool().all_returned());
  EXPECT_EQ(w->platform().dma_live(), 0u);
}

TEST_P(DriverMock, QueueSizeNotAPowerOfTwoFailsAttach) {
  auto w = make();
  w->device().arm(Fault{FaultKind::kQueueSize, 1, 0, 0, 100});
  EXPECT_EQ(w->attach(), AttachError::kQueueSizeInvalid);
  EXPECT_TRUE(w->pool().all_returned());
  EXPECT_EQ(w->platform().dma_live(), 0u);
}

TEST_P(DriverMock, QueueSizeAboveTheSpecMaximumFailsAttach) {
  auto w = make();
  w->device().arm(Fault{FaultKind::kQueueSize, -1, 0, 0, 65535});
  EXPECT_EQ(w->attach(), AttachError::kQueueSizeInvalid);
  EXPECT_EQ(w->platform().dma_live(), 0u);
}

TEST_P(DriverMock, QueueSize32768IsCappedOrRefused) {
  auto w = make();
  w->device().arm(Fault{FaultKind::kQueueSize, -1, 0, 0, 32768});
  if (legacy() && GetParam().device != TransportKind::kMmioV1) {
    // A legacy PCI device dictates its ring size; the driver cannot hold
    // 32768 (virtio-mmio's QueueNum is the driver's, in both versions).
    EXPECT_EQ(w->attach(), AttachError::kQueueSizeInvalid);
    EXPECT_EQ(w->platform().dma_live(), 0u);
  } else {
    ASSERT_EQ(w->attach(), AttachError::kOk);
    EXPECT_GE(w->net().counters().queue_size_capped, 1u);
    EXPECT_LE(w->net().rx_queue().size(), SplitQueue::kMaxSize);
    expect_clean_stop(*w);
  }
}

TEST_P(DriverMock, MtuBelow68IsRejected) {
  auto w = make();
  w->device().arm(Fault{FaultKind::kConfigMtu, -1, 0, 0, 67});
  ASSERT_EQ(w->attach(), AttachError::kOk);
  EXPECT_EQ(w->net().counters().config_invalid_mtu, 1u);
  EXPECT_FALSE(spec::has_feature(w->net().negotiated_features(), Feature::kNetMtu));
  EXPECT_EQ(w->net().mtu(), 1500);
  expect_clean_stop(*w);
}

TEST_P(DriverMock, MtuLargerThanTheBuffersIsNotAccepted) {
  auto w = make();
  w->device().arm(Fault{FaultKind::kConfigMtu, -1, 0, 0, 9000});
  ASSERT_EQ(w->attach(), AttachError::kOk);
  EXPECT_FALSE(spec::has_feature(w->net().negotiated_features(), Feature::kNetMtu));
  EXPECT_EQ(w->net().mtu(), 1500);
  expect_clean_stop(*w);
}

TEST_P(DriverMock, MulticastOrZeroMacIsReplacedByALocalOne) {
  for (FaultKind k : {FaultKind::kConfigMacMulticast, FaultKind::kConfigMacZero}) {
    auto w = make();
    w->device().arm(Fault{k, -1, 0, 0, 0});
    ASSERT_EQ(w->attach(), AttachError::kOk);
    EXPECT_EQ(w->net().counters().config_invalid_mac, 1u);
    EXPECT_FALSE(w->net().mac_from_device());
    EXPECT_EQ(w->net().mac()[0] & 0x03, 0x02) << "locally administered unicast";
    expect_clean_stop(*w);
  }
}

TEST_P(DriverMock, StatusWithUndefinedBitsIsCounted) {
  auto w = make();
  w->device().arm(Fault{FaultKind::kConfigStatus, -1, 0, 0, 0xFF01});
  ASSERT_EQ(w->attach(), AttachError::kOk);
  EXPECT_EQ(w->net().counters().config_invalid_status, 1u);
  EXPECT_TRUE(w->net().link_up());
  expect_clean_stop(*w);
}

TEST_P(DriverMock, MaxQueuePairsOutOfRangeIsNeverTrustedWithoutMq) {
  // The driver does not negotiate MQ, so max_virtqueue_pairs is not read:
  // a lying value must not change anything.
  for (uint64_t v : {0ull, 0x8001ull}) {
    auto w = make();
    w->device().arm(Fault{FaultKind::kConfigMaxPairs, -1, 0, 0, v});
    ASSERT_EQ(w->attach(), AttachError::kOk);
    EXPECT_FALSE(spec::has_feature(w->net().negotiated_features(), Feature::kNetMq));
    expect_clean_stop(*w);
  }
}

TEST_P(DriverMock, CapabilityOutsideItsBarIsNotUsed) {
  auto w = make();
  w->device().arm(Fault{FaultKind::kCapOutsideBar, -1, 0, 0, 0});
  AttachError e = w->attach();
  switch (GetParam().device) {
    case TransportKind::kModern:
      EXPECT_EQ(w->probe().error, ProbeError::kModernUnusable);
      EXPECT_EQ(w->probe().modern_error, ModernProbeError::kNoCommonCfg);
      break;
    case TransportKind::kTransitional:
      // The legacy interface is still there and is used instead.
      ASSERT_EQ(e, AttachError::kOk);
      EXPECT_TRUE(w->net().transport()->is_legacy());
      if (GetParam().mode == PciMode::kAuto) EXPECT_GE(w->probe().modern_report.caps_rejected, 1);
      expect_clean_stop(*w);
      break;
    case TransportKind::kLegacy:
    case TransportKind::kMmioV1:
    case TransportKind::kMmioV2:
      ASSERT_EQ(e, AttachError::kOk);  // no capabilities at all
      expect_clean_stop(*w);
      break;
  }
}

TEST_P(DriverMock, CapabilityOnAMissingBarIsNotUsed) {
  auto w = make();
  w->device().arm(Fault{FaultKind::kCapMissingBar, -1, 0, 0, 0});
  w->attach();
  if (GetParam().device == TransportKind::kModern)
    EXPECT_EQ(w->probe().error, ProbeError::kModernUnusable);
  if (GetParam().device == TransportKind::kTransitional && GetParam().mode == PciMode::kAuto)
    EXPECT_TRUE(w->net().transport()->is_legacy());
  EXPECT_EQ(w->platform().dma_live() == 0 || w->net().state() == NetState::kRunning, true);
}

TEST_P(DriverMock, ModernTransportNeedsVersion1) {
  auto w = make();
  NetOptions o;
  o.feature_mask = ~feature_mask(Feature::kVersion1);
  AttachError e = w->attach(o);
  if (legacy()) {
    EXPECT_EQ(e, AttachError::kOk);
    expect_clean_stop(*w);
  } else {
    EXPECT_EQ(e, AttachError::kNoVersion1);
    EXPECT_TRUE(w->device().status() & spec::status::kFailed);
    EXPECT_EQ(w->platform().dma_live(), 0u);
  }
}

TEST_P(DriverMock, WithoutMergeableBuffersNumBuffersIsNotRead) {
  // QEMU leaves num_buffers unwritten without MRG_RXBUF: it must not matter.
  auto w = make();
  NetOptions o;
  o.feature_mask = ~feature_mask(Feature::kNetMrgRxbuf);
  ASSERT_EQ(w->attach(o), AttachError::kOk);
  EXPECT_EQ(w->net().net_header_size(), legacy() ? 10u : 12u);
  w->device().arm(Fault{FaultKind::kRxNumBuffers, 0, 0, 0, 7});
  ASSERT_TRUE(w->device().inject_rx(make_frame(70, 1)));
  auto got = w->receive();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(w->net().counters().rx_drop_num_buffers, 0u);
  expect_clean_stop(*w);
}

TEST_P(DriverMock, EmptyPoolFailsAttachAndRecoversLater) {
  auto w = make();
  w->pool().set_alloc_budget(0);
  EXPECT_EQ(w->attach(), AttachError::kNoRxBuffers);
  EXPECT_GE(w->net().counters().rx_refill_pool_empty, 1u);
  EXPECT_EQ(w->platform().dma_live(), 0u);
  w->pool().set_alloc_budget(-1);
  EXPECT_EQ(w->attach(), AttachError::kOk);
  expect_clean_stop(*w);
}

TEST_P(DriverMock, TxFramesTheDriverCannotSendAreDroppedAndCounted) {
  auto w = make();
  ASSERT_EQ(w->attach(), AttachError::kOk);
  EXPECT_EQ(w->send({make_frame(10, 1), make_frame(1600, 2)}), 2u);
  EXPECT_EQ(w->net().counters().tx_drop_len, 2u);
  PacketBuffer* b = w->pool().alloc_tx(make_frame(100, 3));
  b->offset = 4;  // no room for the header
  EXPECT_EQ(w->net().tx_burst(&b, 1), 1);
  EXPECT_EQ(w->net().counters().tx_drop_headroom, 1u);
  EXPECT_EQ(w->device().counters().tx_frames, 0u);
  expect_clean_stop(*w);
}

std::string kind_name(const ::testing::TestParamInfo<WorldKind>& info) {
  return info.param.name;
}
INSTANTIATE_TEST_SUITE_P(Transports, DriverMock, ::testing::ValuesIn(testing::kAllKinds),
                         kind_name);
INSTANTIATE_TEST_SUITE_P(Transports, DriverMockRingLies, ::testing::ValuesIn(testing::kAllKinds),
                         kind_name);

}  // namespace
}  // namespace vnet

namespace vnet {
namespace {

// A device that stops acknowledging resets: whatever it may still write
// into stays with the driver until a reset is acknowledged again.
TEST(DriverMockQuarantine, BuffersOfADeviceThatNeverResetsAreHeldBack) {
  mock::DeviceConfig cfg;
  cfg.transport = mock::TransportKind::kModern;
  auto w = std::make_unique<testing::MockWorld>(cfg);
  ASSERT_EQ(w->attach(), AttachError::kOk);
  const size_t posted = w->pool().outstanding();
  ASSERT_GT(posted, 0u);
  w->device().set_ignore_reset(true);
  w->net().stop();
  EXPECT_TRUE(w->net().quarantined());
  EXPECT_EQ(w->net().state(), NetState::kFailed);
  EXPECT_GE(w->net().counters().reset_timeouts, 1u);
  EXPECT_EQ(w->pool().outstanding(), posted) << "nothing handed back while the device may write";
  EXPECT_GT(w->platform().dma_live(), 0u) << "rings kept too";
  EXPECT_EQ(w->pool().outstanding(),
            w->net().rx_queue().in_flight() + w->net().tx_queue().in_flight());
  // The device comes back to its senses: the next stop() reclaims everything.
  w->device().set_ignore_reset(false);
  w->net().stop();
  EXPECT_FALSE(w->net().quarantined());
  EXPECT_EQ(w->net().state(), NetState::kDown);
  EXPECT_TRUE(w->pool().all_returned());
  EXPECT_EQ(w->platform().dma_live(), 0u);
}

TEST(DriverMockQuarantine, RecoverAfterQuarantineReattaches) {
  mock::DeviceConfig cfg;
  cfg.transport = mock::TransportKind::kLegacy;
  auto w = std::make_unique<testing::MockWorld>(cfg);
  ASSERT_EQ(w->attach(), AttachError::kOk);
  w->device().set_ignore_reset(true);
  EXPECT_FALSE(w->net().recover());
  EXPECT_TRUE(w->net().quarantined());
  w->device().set_ignore_reset(false);
  EXPECT_TRUE(w->net().recover());
  EXPECT_FALSE(w->net().quarantined());
  ASSERT_TRUE(w->device().inject_rx(testing::make_frame(80, 1)));
  EXPECT_EQ(w->receive().size(), 1u);
  w->net().stop();
  EXPECT_TRUE(w->pool().all_returned());
  EXPECT_EQ(w->platform().dma_live(), 0u);
}

}  // namespace
}  // namespace vnet

namespace vnet {
namespace {

TEST(DriverMockQuarantine, DeviceGoneReclaimsQuarantinedBuffers) {
  mock::DeviceConfig cfg;
  auto w = std::make_unique<testing::MockWorld>(cfg);
  ASSERT_EQ(w->attach(), AttachError::kOk);
  w->device().set_ignore_reset(true);
  w->net().stop();
  ASSERT_TRUE(w->net().quarantined());
  w->net().device_gone();
  EXPECT_FALSE(w->net().quarantined());
  EXPECT_EQ(w->net().state(), NetState::kDown);
  EXPECT_TRUE(w->pool().all_returned());
  EXPECT_EQ(w->platform().dma_live(), 0u);
}

}  // namespace
}  // namespace vnet
