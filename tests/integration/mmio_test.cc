// The driver on virtio-mmio, versions 1 and 2, against the mock device:
// traffic both ways, the line interrupt (InterruptStatus read once,
// InterruptACK with exactly those bits), and a refusal for every register
// lie -- magic, version, device id, QueueNumMax, QueueReady / QueuePFN,
// InterruptStatus, ConfigGeneration, Status and the configuration window.
// Every test also checks what the device saw: no MMIO rule broken.
#include <gtest/gtest.h>

#include <string>

#include "driver/spec/mmio_layout.h"
#include "driver/transport/mmio.h"
#include "tests/integration/mock_world.h"

namespace vnet::testing {
namespace {

namespace mm = spec::mmio;
using mock::DeviceConfig;
using mock::Fault;
using mock::FaultKind;
using mock::RegisterLie;
using mock::TransportKind;

class Mmio : public ::testing::TestWithParam<TransportKind> {
 protected:
  DeviceConfig config() const {
    DeviceConfig c;
    c.transport = GetParam();
    return c;
  }
  bool v1() const { return GetParam() == TransportKind::kMmioV1; }
  static RegisterLie lie(uint32_t offset, uint32_t value, uint32_t count = 0, uint32_t skip = 0) {
    RegisterLie l;
    l.region = Region::kMmio;
    l.offset = offset;
    l.width = 4;
    l.value = value;
    l.count = count;
    l.skip = skip;
    return l;
  }
  static void echo(MockWorld& w, int frames) {
    for (int i = 0; i < frames; ++i) {
      const auto f = make_frame(60 + i, uint32_t(i));
      ASSERT_TRUE(w.device().inject_rx(f));
      auto got = w.receive();
      ASSERT_EQ(got.size(), 1u) << "frame " << i;
      EXPECT_EQ(got[0], f);
      EXPECT_EQ(w.send({f}), 1u);
    }
  }
  static const MmioTransport& transport(MockWorld& w) {
    return *static_cast<const MmioTransport*>(w.mmio_probe().transport);
  }
};

TEST_P(Mmio, EchoesAndStopsCleanly) {
  MockWorld w(config());
  ASSERT_EQ(w.attach(), AttachError::kOk);
  EXPECT_EQ(w.mmio_probe().version, v1() ? 1u : 2u);
  EXPECT_EQ(w.net().transport()->is_legacy(), v1());
  EXPECT_EQ(spec::has_feature(w.net().negotiated_features(), spec::Feature::kVersion1), !v1());
  echo(w, 8);
  EXPECT_EQ(w.device().counters().tx_frames, 8u);
  w.net().stop();
  EXPECT_TRUE(w.pool().all_returned());
  EXPECT_EQ(w.platform().dma_live(), 0u);
  EXPECT_TRUE(w.device().conformance().empty()) << violations(w.device());
}

TEST_P(Mmio, DeviceResetIsRecovered) {
  MockWorld w(config());
  ASSERT_EQ(w.attach(), AttachError::kOk);
  echo(w, 2);
  w.device().device_reset();
  const DeviceEvents ev = w.net().poll_device();
  EXPECT_TRUE(ev.reset_detected || ev.recovered);
  if (!ev.recovered) EXPECT_TRUE(w.net().poll_device().recovered);
  EXPECT_EQ(w.net().state(), NetState::kRunning);
  echo(w, 2);
  EXPECT_TRUE(w.device().conformance().empty()) << violations(w.device());
}

// ---- interrupts: one level line, acknowledged through InterruptACK ---------------

struct LineWorld {
  MockWorld w;
  IrqWork work;
  uint64_t handled = 0;
  explicit LineWorld(const DeviceConfig& c, bool routed = true) : w(c) {
    w.platform().set_line(routed);
    w.platform().set_msi_vectors(8);  // offered, and useless on MMIO
    w.platform().set_interrupt_handler([this](IrqSource s) {
      ++handled;
      const IrqWork k = w.net().handle_interrupt(s);
      work.rx = work.rx || k.rx;
      work.tx = work.tx || k.tx;
      work.control = work.control || k.control;
    });
  }
};

TEST_P(Mmio, MsixAskedFallsToTheLine) {
  LineWorld lw(config());
  NetOptions o;
  o.interrupts = InterruptMode::kMsix;
  ASSERT_EQ(lw.w.attach(o), AttachError::kOk);
  EXPECT_EQ(lw.w.net().interrupts().mode, InterruptMode::kIntx);
  EXPECT_EQ(lw.w.net().interrupts().msix_fallback, MsixFallback::kNoCapability);
  EXPECT_EQ(lw.w.net().counters().irq_msix_fallbacks, 1u);
  EXPECT_EQ(lw.w.platform().armed_mode(), InterruptMode::kIntx);
}

TEST_P(Mmio, NoLineMeansPolling) {
  DeviceConfig c = config();
  c.interrupt_pin = 0;  // the window has no interrupt (MmioWindow::irq -1)
  LineWorld lw(c);
  NetOptions o;
  o.interrupts = InterruptMode::kIntx;
  ASSERT_EQ(lw.w.attach(o), AttachError::kOk);
  EXPECT_EQ(lw.w.net().interrupts().mode, InterruptMode::kPolling);
  LineWorld unrouted(config(), /*routed=*/false);
  ASSERT_EQ(unrouted.w.attach(o), AttachError::kOk);
  EXPECT_EQ(unrouted.w.net().interrupts().mode, InterruptMode::kPolling);
  echo(unrouted.w, 2);
}

TEST_P(Mmio, LineInterruptsAreReadOnceAndAcknowledged) {
  LineWorld lw(config());
  NetOptions o;
  o.interrupts = InterruptMode::kIntx;
  ASSERT_EQ(lw.w.attach(o), AttachError::kOk);
  lw.w.net().set_rx_interrupts(true);
  for (int i = 0; i < 4; ++i) {
    const auto f = make_frame(64 + i, uint32_t(i));
    const uint64_t reads = lw.w.device().counters().isr_reads;
    const uint64_t acks = lw.w.device().counters().mmio_acks;
    ASSERT_TRUE(lw.w.device().inject_rx(f));
    EXPECT_TRUE(lw.w.device().line_asserted());
    lw.w.platform().deliver_interrupts();
    EXPECT_TRUE(lw.work.rx) << i;
    lw.work = IrqWork{};
    // One InterruptStatus read, one InterruptACK, and the line is down.
    EXPECT_EQ(lw.w.device().counters().isr_reads, reads + 1);
    EXPECT_EQ(lw.w.device().counters().mmio_acks, acks + 1);
    EXPECT_FALSE(lw.w.device().line_asserted());
    EXPECT_EQ(lw.w.device().isr_peek(), 0);
    auto got = lw.w.receive();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f);
  }
  EXPECT_EQ(lw.w.net().counters().irq_line, 4u);
  // A configuration change is latched for poll_device.
  lw.w.device().set_link(false);
  lw.w.platform().deliver_interrupts();
  EXPECT_TRUE(lw.work.control);
  EXPECT_TRUE(lw.w.net().poll_device().link_changed);
  EXPECT_TRUE(lw.w.device().conformance().empty()) << violations(lw.w.device());
}

TEST_P(Mmio, SpuriousLineIsNotOursAndNothingIsAcknowledged) {
  LineWorld lw(config());
  NetOptions o;
  o.interrupts = InterruptMode::kIntx;
  ASSERT_EQ(lw.w.attach(o), AttachError::kOk);
  const uint64_t acks = lw.w.device().counters().mmio_acks;
  lw.w.device().arm(Fault{FaultKind::kSpuriousInterrupt, -1, 0, 0, 1});
  lw.w.device().tick();
  lw.w.platform().deliver_interrupts();
  EXPECT_EQ(lw.w.net().counters().irq_not_ours, 1u);
  EXPECT_EQ(lw.w.device().counters().mmio_acks, acks);
  EXPECT_TRUE(lw.w.device().conformance().empty()) << violations(lw.w.device());
}

TEST_P(Mmio, UndefinedInterruptStatusBitsAreIgnoredAndNeverAcknowledged) {
  LineWorld lw(config());
  NetOptions o;
  o.interrupts = InterruptMode::kIntx;
  ASSERT_EQ(lw.w.attach(o), AttachError::kOk);
  lw.w.net().set_rx_interrupts(true);
  // Every read of InterruptStatus carries undefined bits on top of the truth.
  RegisterLie l = lie(mm::kInterruptStatus, 0xFFFF'FFFC);
  l.mask = 0xFFFF'FFFC;
  lw.w.device().lie_about_register(l);
  const auto f = make_frame(80, 1);
  ASSERT_TRUE(lw.w.device().inject_rx(f));
  lw.w.platform().deliver_interrupts();
  EXPECT_TRUE(lw.work.rx);
  EXPECT_GE(transport(lw.w).counters().isr_undefined, 1u);
  EXPECT_FALSE(lw.w.device().line_asserted());
  ASSERT_EQ(lw.w.receive().size(), 1u);
  // drv-4.2.2.2-18 would fire on an ACK with an undefined bit.
  EXPECT_TRUE(lw.w.device().conformance().empty()) << violations(lw.w.device());
}

TEST_P(Mmio, StuckInterruptStatusEndsInPolling) {
  LineWorld lw(config());
  NetOptions o;
  o.interrupts = InterruptMode::kIntx;
  o.irq_storm_limit = 50;
  ASSERT_EQ(lw.w.attach(o), AttachError::kOk);
  lw.w.device().arm(Fault{FaultKind::kStuckIsr, -1, 0, 0, 0});
  lw.w.device().raise_config_change();
  for (int i = 0; i < 200 && lw.w.net().interrupt_mode() != InterruptMode::kPolling; ++i)
    lw.w.platform().deliver_interrupts(1);
  EXPECT_EQ(lw.w.net().interrupt_mode(), InterruptMode::kPolling);
  EXPECT_EQ(lw.w.net().counters().irq_storms, 1u);
  echo(lw.w, 2);
}

// ---- the probe's refusals, one per lie ----------------------------------------------

TEST_P(Mmio, BadMagicIsIgnored) {
  MockWorld w(config());
  w.device().lie_about_register(lie(mm::kMagicValue, 0x76697274));  // byte-swapped "virt"
  EXPECT_NE(w.attach(), AttachError::kOk);
  EXPECT_EQ(w.mmio_probe().error, MmioProbeError::kBadMagic);
  EXPECT_EQ(w.device().counters().driver_resets, 0u);
  EXPECT_TRUE(w.device().conformance().empty()) << violations(w.device());
}

TEST_P(Mmio, UnknownVersionsAreIgnored) {
  for (uint32_t version : {0u, 3u, 0x100u}) {
    MockWorld w(config());
    w.device().lie_about_register(lie(mm::kVersion, version));
    EXPECT_NE(w.attach(), AttachError::kOk);
    EXPECT_EQ(w.mmio_probe().error, MmioProbeError::kBadVersion) << version;
    EXPECT_TRUE(w.device().conformance().empty()) << violations(w.device());
  }
}

TEST_P(Mmio, PlaceholderDeviceIdIsNoDeviceAndUntouched) {
  MockWorld w(config());
  w.device().lie_about_register(lie(mm::kDeviceId, 0));
  EXPECT_NE(w.attach(), AttachError::kOk);
  EXPECT_EQ(w.mmio_probe().error, MmioProbeError::kNoDevice);
  // 4.2.3.1.1: no register after DeviceID (drv-4.2.3.1.1-3 would fire).
  EXPECT_TRUE(w.device().conformance().empty()) << violations(w.device());
  EXPECT_EQ(w.platform().reg_reads(), 3u);
  EXPECT_EQ(w.platform().reg_writes(), 0u);
}

TEST_P(Mmio, OtherDeviceIdsAreNotNet) {
  MockWorld w(config());
  w.device().lie_about_register(lie(mm::kDeviceId, 2));
  EXPECT_NE(w.attach(), AttachError::kOk);
  EXPECT_EQ(w.mmio_probe().error, MmioProbeError::kNotNet);
}

TEST_P(Mmio, ZeroQueueNumMaxIsNoQueue) {
  MockWorld w(config());
  w.device().lie_about_register(lie(mm::kQueueNumMax, 0));
  EXPECT_EQ(w.attach(), AttachError::kQueueUnavailable);
  EXPECT_TRUE(w.device().status() & spec::status::kFailed);
  EXPECT_EQ(w.platform().dma_live(), 0u);
}

TEST_P(Mmio, QueueNumMaxOutOfBoundsIsRefused) {
  for (uint32_t max : {100u, 65536u, 0xFFFF'FFFFu}) {
    MockWorld w(config());
    w.device().lie_about_register(lie(mm::kQueueNumMax, max));
    EXPECT_EQ(w.attach(), AttachError::kQueueSizeInvalid) << max;
    EXPECT_EQ(w.platform().dma_live(), 0u);
    EXPECT_TRUE(w.pool().all_returned());
  }
}

TEST_P(Mmio, QueueNumMaxShrinkingBeforeSetupIsRefused) {
  MockWorld w(config());
  // The first read (queue_max_size) says 256, the one at setup 16.
  w.device().lie_about_register(lie(mm::kQueueNumMax, 16, 1, 1));
  EXPECT_EQ(w.attach(), AttachError::kQueueSetupRefused);
  EXPECT_EQ(w.platform().dma_live(), 0u);
  EXPECT_TRUE(w.device().conformance().empty()) << violations(w.device());
}

TEST_P(Mmio, QueueAlreadyInUseIsRefused) {
  MockWorld w(config());
  w.device().lie_about_register(lie(v1() ? mm::kQueuePfn : mm::kQueueReady, 1, 1));
  EXPECT_EQ(w.attach(), AttachError::kQueueSetupRefused);
  EXPECT_EQ(w.platform().dma_live(), 0u);
}

TEST_P(Mmio, QueueReadyThatDoesNotStickIsRefused) {
  if (v1()) GTEST_SKIP() << "version 1 has no QueueReady (QueuePFN is not read back)";
  MockWorld w(config());
  // The read before setup is honest (0); the read-back after is 0 too.
  w.device().lie_about_register(lie(mm::kQueueReady, 0, 1, 1));
  EXPECT_EQ(w.attach(), AttachError::kQueueSetupRefused);
  EXPECT_EQ(w.platform().dma_live(), 0u);
  EXPECT_TRUE(w.pool().all_returned());
}

TEST_P(Mmio, UnstableConfigurationIsRefused) {
  MockWorld w(config());
  if (v1()) {
    // No generation on version 1: reads are compared, and a MAC that keeps
    // changing never agrees.
    w.device().arm(Fault{FaultKind::kConfigMacUnstable, -1, 0, 0, 1000});
  } else {
    w.device().arm(Fault{FaultKind::kConfigGenerationUnstable, -1, 0, 0, 1000});
  }
  const AttachError e = w.attach();
  EXPECT_TRUE(e == AttachError::kConfigUnreadable || e == AttachError::kOk) << int(e);
  EXPECT_GE(w.net().counters().config_unstable, 1u);
  EXPECT_TRUE(w.device().conformance().empty()) << violations(w.device());
}

TEST_P(Mmio, GenerationLieIsOnlyReadOnVersion2) {
  MockWorld w(config());
  w.device().lie_about_register(lie(mm::kConfigGeneration, 7));
  ASSERT_EQ(w.attach(), AttachError::kOk);
  // A constant generation is consistent; version 1 never reads it (def-4.2.4-1).
  EXPECT_TRUE(w.device().conformance().empty()) << violations(w.device());
  EXPECT_EQ(w.device().counters().faults_applied > 0, !v1());
}

TEST_P(Mmio, StatusHighBitsAreIgnored) {
  MockWorld w(config());
  RegisterLie l = lie(mm::kStatus, 0xABCD'0000);
  l.mask = 0xFFFF'FF00;
  w.device().lie_about_register(l);
  ASSERT_EQ(w.attach(), AttachError::kOk);
  EXPECT_GE(transport(w).counters().status_undefined, 1u);
  echo(w, 1);
}

TEST_P(Mmio, StatusNeverReadingZeroTimesOut) {
  MockWorld w(config());
  w.device().lie_about_register(lie(mm::kStatus, 1));
  NetOptions o;
  o.reset_timeout_ns = 1'000'000;
  EXPECT_EQ(w.attach(o), AttachError::kResetTimeout);
  EXPECT_GE(w.net().counters().reset_timeouts, 1u);
}

TEST_P(Mmio, ShortConfigurationWindowIsRefused) {
  DeviceConfig c = config();
  c.mmio_window_size = 0x104;  // MTU offered: 12 bytes needed, 4 there
  MockWorld w(c);
  EXPECT_NE(w.attach(), AttachError::kOk);
  EXPECT_EQ(w.mmio_probe().error, MmioProbeError::kDeviceCfgTooShort);
}

TEST_P(Mmio, ConfigurationBytesLieLikeOnPci) {
  MockWorld w(config());
  // The MTU field (config 10..11) reads 20: below 68, refused and counted.
  RegisterLie l;
  l.region = Region::kMmio;
  l.offset = mm::kConfig + 10;
  l.width = 2;
  l.value = 20;
  w.device().lie_about_register(l);
  ASSERT_EQ(w.attach(), AttachError::kOk);
  EXPECT_GE(w.net().counters().config_invalid_mtu, 1u);
  echo(w, 1);
}

INSTANTIATE_TEST_SUITE_P(Versions, Mmio,
                         ::testing::Values(TransportKind::kMmioV1, TransportKind::kMmioV2),
                         [](const ::testing::TestParamInfo<TransportKind>& info) {
                           return std::string(info.param == TransportKind::kMmioV1 ? "v1" : "v2");
                         });

TEST(MmioOnly, Version2WithoutVersion1OfferIsRefused) {
  DeviceConfig c;
  c.transport = TransportKind::kMmioV2;
  c.features &= ~spec::feature_mask(spec::Feature::kVersion1);
  MockWorld w(c);
  EXPECT_NE(w.attach(), AttachError::kOk);
  EXPECT_EQ(w.mmio_probe().error, MmioProbeError::kNoVersion1);
}

}  // namespace
}  // namespace vnet::testing
