// Interrupts: the ladder MSI-X -> INTx -> polling on every PCI transport,
// the vector read-back rule, and every lie the device can tell about them
// (capability, table, PBA, vectors, ISR), against the mock device.
//
// Each lie test checks three things: what the driver chose
// (VirtioNet::interrupts()), that it never hung or broke (it still moves
// frames), and what the device saw (its conformance record stays clean:
// MSI-X disabled and every vector unmapped again after a fallback).
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "driver/spec/pci_layout.h"
#include "tests/integration/mock_world.h"

namespace vnet::testing {
namespace {

using mock::DeviceConfig;
using mock::Fault;
using mock::FaultKind;
using mock::MockDevice;
using mock::TransportKind;

constexpr uint16_t kNoVec = 0xFFFF;
constexpr uint32_t kCap = MockDevice::kMsixCap;

DeviceConfig config_of(TransportKind kind, uint16_t msix_vectors = 4) {
  DeviceConfig c;
  c.transport = kind;
  c.msix_vectors = msix_vectors;
  return c;
}

NetOptions with_irq(InterruptMode mode) {
  NetOptions o;
  o.interrupts = mode;
  return o;
}

// A mock world whose platform offers MSI and a line, with the driver's
// interrupt entry point as the platform's handler. Work is accumulated.
struct IrqWorld {
  MockWorld w;
  IrqWork work;
  uint64_t handled = 0;

  explicit IrqWorld(const DeviceConfig& c, PciMode mode = PciMode::kAuto, uint16_t msi = 8,
                    bool line = true, bool synchronous = false)
      : w(c, mode) {
    w.platform().set_msi_vectors(msi);
    w.platform().set_line(line);
    w.platform().set_interrupt_handler(
        [this](IrqSource s) {
          ++handled;
          const IrqWork k = w.net().handle_interrupt(s);
          work.rx = work.rx || k.rx;
          work.tx = work.tx || k.tx;
          work.control = work.control || k.control;
        },
        synchronous);
  }
  IrqWork take() {
    IrqWork k = work;
    work = IrqWork{};
    return k;
  }
  size_t deliver() { return w.platform().deliver_interrupts(); }
  // Frames both ways, byte for byte, taken when the interrupts say so.
  void echo_check(int frames) {
    // Interrupts are asked for per queue (the driver attaches with them off).
    w.net().set_rx_interrupts(true);
    for (int i = 0; i < frames; ++i) {
      const auto f = make_frame(64 + i, uint32_t(i));
      ASSERT_TRUE(w.device().inject_rx(f));
      deliver();
      const IrqWork k = take();
      if (w.net().interrupt_mode() != InterruptMode::kPolling) {
        EXPECT_TRUE(k.rx) << "frame " << i << ": no rx interrupt";
      }
      auto got = w.receive();
      ASSERT_EQ(got.size(), 1u) << "frame " << i;
      EXPECT_EQ(got[0], f);
      EXPECT_EQ(w.send({f}), 1u);
    }
    EXPECT_EQ(w.device().counters().tx_frames, uint64_t(frames));
  }
};

std::string conformance_of(const MockDevice& d) {
  return violations(d);
}

// ---- the ladder on every transport -------------------------------------------

class Ladder : public ::testing::TestWithParam<WorldKind> {};

TEST_P(Ladder, MsixTakesOneVectorPerSource) {
  const WorldKind k = GetParam();
  IrqWorld iw(config_of(k.device), k.mode);
  ASSERT_EQ(iw.w.attach(with_irq(InterruptMode::kMsix)), AttachError::kOk);
  const InterruptSetup& s = iw.w.net().interrupts();
  ASSERT_EQ(s.mode, InterruptMode::kMsix) << msix_fallback_name(s.msix_fallback);
  EXPECT_EQ(s.vectors, 3);
  EXPECT_EQ(s.table_size, 4);
  EXPECT_EQ(s.config_vector, 0);
  EXPECT_EQ(s.queue_vector[0], 1);
  EXPECT_EQ(s.queue_vector[1], 2);
  // The device has what the driver wrote and read back.
  EXPECT_TRUE(iw.w.device().msix_enabled());
  EXPECT_FALSE(iw.w.device().msix_function_masked());
  EXPECT_EQ(iw.w.device().config_vector(), 0);
  EXPECT_EQ(iw.w.device().queue_vector(0), 1);
  EXPECT_EQ(iw.w.device().queue_vector(1), 2);
  for (uint16_t i = 0; i < 3; ++i) {
    uint64_t addr;
    uint32_t data;
    bool masked;
    ASSERT_TRUE(iw.w.device().msix_entry(i, &addr, &data, &masked));
    EXPECT_EQ(addr, 0xFEE00000u);
    EXPECT_EQ(data, mock::MockPlatform::kMsiDataBase + i);
    EXPECT_FALSE(masked);
  }
  EXPECT_EQ(iw.w.platform().armed_mode(), InterruptMode::kMsix);
  EXPECT_EQ(iw.w.platform().armed_vectors(), 3);
  EXPECT_EQ(iw.w.net().counters().irq_msix_fallbacks, 0u);
  iw.echo_check(8);
  EXPECT_EQ(iw.w.platform().bad_msis(), 0u);
  EXPECT_GE(iw.w.net().counters().irq_vector, 8u);
  // A configuration change arrives on the config vector only; the legacy
  // device configuration is read at 0x18 now (the link would read wrong
  // otherwise: 0x14/0x15 are the config vector 0x0000).
  iw.w.device().set_link(false);
  iw.deliver();
  const IrqWork cfg = iw.take();
  EXPECT_TRUE(cfg.control);
  EXPECT_FALSE(cfg.rx);
  EXPECT_TRUE(iw.w.net().poll_device().link_changed);
  EXPECT_FALSE(iw.w.net().link_up());
  // The driver never read the ISR with MSI-X on (4.1.4.5.2).
  EXPECT_EQ(iw.w.device().counters().isr_reads, 0u);
  iw.w.net().stop();
  EXPECT_FALSE(iw.w.device().msix_enabled());
  EXPECT_EQ(iw.w.platform().armed_mode(), InterruptMode::kPolling);
  EXPECT_TRUE(iw.w.device().conformance().empty()) << conformance_of(iw.w.device());
}

TEST_P(Ladder, IntxReadsTheIsrToAcknowledge) {
  const WorldKind k = GetParam();
  IrqWorld iw(config_of(k.device), k.mode);
  ASSERT_EQ(iw.w.attach(with_irq(InterruptMode::kIntx)), AttachError::kOk);
  EXPECT_EQ(iw.w.net().interrupts().mode, InterruptMode::kIntx);
  EXPECT_EQ(iw.w.platform().armed_mode(), InterruptMode::kIntx);
  EXPECT_FALSE(iw.w.device().msix_enabled());
  iw.echo_check(8);
  EXPECT_FALSE(iw.w.device().line_asserted()) << "the ISR read lowers the line";
  EXPECT_GE(iw.w.net().counters().irq_line, 8u);
  EXPECT_EQ(iw.w.net().counters().irq_not_ours, 0u);
  EXPECT_EQ(iw.w.device().counters().msix_sent, 0u);
  // Both ISR bits at once (4.1.5.4.2): config and queue work from one read.
  iw.w.device().set_link(false);
  ASSERT_TRUE(iw.w.device().inject_rx(make_frame(60, 1)));
  iw.deliver();
  const IrqWork both = iw.take();
  EXPECT_TRUE(both.control && both.rx && both.tx);
  EXPECT_TRUE(iw.w.net().poll_device().link_changed);
  EXPECT_EQ(iw.w.receive().size(), 1u);
  EXPECT_TRUE(iw.w.device().conformance().empty()) << conformance_of(iw.w.device());
}

TEST_P(Ladder, PollingTouchesNoInterruptMachinery) {
  const WorldKind k = GetParam();
  IrqWorld iw(config_of(k.device), k.mode);
  ASSERT_EQ(iw.w.attach(with_irq(InterruptMode::kPolling)), AttachError::kOk);
  EXPECT_EQ(iw.w.net().interrupts().mode, InterruptMode::kPolling);
  EXPECT_EQ(iw.w.platform().arm_calls(), 0u);
  EXPECT_FALSE(iw.w.device().msix_enabled());
  iw.echo_check(4);
  EXPECT_EQ(iw.handled, 0u);
  iw.w.net().stop();
  EXPECT_EQ(iw.w.platform().arm_calls(), 0u);
  EXPECT_TRUE(iw.w.device().conformance().empty()) << conformance_of(iw.w.device());
}

TEST_P(Ladder, NoMessagesFromThePlatformMeansIntx) {
  const WorldKind k = GetParam();
  IrqWorld iw(config_of(k.device), k.mode, /*msi=*/0);
  ASSERT_EQ(iw.w.attach(with_irq(InterruptMode::kMsix)), AttachError::kOk);
  EXPECT_EQ(iw.w.net().interrupts().mode, InterruptMode::kIntx);
  EXPECT_EQ(iw.w.net().interrupts().msix_fallback, MsixFallback::kNoPlatformVectors);
  EXPECT_EQ(iw.w.net().counters().irq_msix_fallbacks, 1u);
  EXPECT_FALSE(iw.w.device().msix_enabled());
  iw.echo_check(2);
}

TEST_P(Ladder, NoLineEitherMeansPolling) {
  const WorldKind k = GetParam();
  IrqWorld iw(config_of(k.device, 0), k.mode, /*msi=*/8, /*line=*/false);
  ASSERT_EQ(iw.w.attach(with_irq(InterruptMode::kMsix)), AttachError::kOk);
  EXPECT_EQ(iw.w.net().interrupts().mode, InterruptMode::kPolling);
  EXPECT_EQ(iw.w.net().interrupts().msix_fallback, MsixFallback::kNoCapability);
  iw.echo_check(2);
}

TEST_P(Ladder, RecoveryMapsTheVectorsAgain) {
  const WorldKind k = GetParam();
  IrqWorld iw(config_of(k.device), k.mode);
  ASSERT_EQ(iw.w.attach(with_irq(InterruptMode::kMsix)), AttachError::kOk);
  iw.w.device().device_reset();  // modern: NEEDS_RESET + config; legacy: forgets
  iw.deliver();
  const DeviceEvents ev = iw.w.net().poll_device();
  EXPECT_TRUE(ev.reset_detected);
  EXPECT_TRUE(ev.recovered);
  EXPECT_EQ(iw.w.net().interrupts().mode, InterruptMode::kMsix);
  EXPECT_EQ(iw.w.device().config_vector(), 0);
  EXPECT_EQ(iw.w.device().queue_vector(0), 1);
  iw.echo_check(3);
  EXPECT_TRUE(iw.w.device().conformance().empty()) << conformance_of(iw.w.device());
}

INSTANTIATE_TEST_SUITE_P(Transports, Ladder,
                         ::testing::ValuesIn(kPciKinds, kPciKinds + kNumPciKinds),
                         [](const ::testing::TestParamInfo<WorldKind>& info) {
                           return std::string(info.param.name);
                         });

// ---- table sizes -----------------------------------------------------------------

TEST(MsixTableSize, OneEntrySharesItForEverything) {
  IrqWorld iw(config_of(TransportKind::kModern, 1));
  ASSERT_EQ(iw.w.attach(with_irq(InterruptMode::kMsix)), AttachError::kOk);
  const InterruptSetup& s = iw.w.net().interrupts();
  ASSERT_EQ(s.mode, InterruptMode::kMsix);
  EXPECT_EQ(s.vectors, 1);
  EXPECT_EQ(s.queue_vector[0], 0);
  EXPECT_EQ(s.queue_vector[1], 0);
  // 4.1.5.4.2: one interrupt for config and queues alike.
  iw.w.device().set_link(false);
  iw.deliver();
  const IrqWork k = iw.take();
  EXPECT_TRUE(k.control && k.rx && k.tx);
  iw.echo_check(3);
}

TEST(MsixTableSize, TwoEntriesConfigAndSharedQueues) {
  IrqWorld iw(config_of(TransportKind::kModern, 2));
  ASSERT_EQ(iw.w.attach(with_irq(InterruptMode::kMsix)), AttachError::kOk);
  const InterruptSetup& s = iw.w.net().interrupts();
  EXPECT_EQ(s.vectors, 2);
  EXPECT_EQ(s.config_vector, 0);
  EXPECT_EQ(s.queue_vector[0], 1);
  EXPECT_EQ(s.queue_vector[1], 1);
  iw.echo_check(3);
}

TEST(MsixTableSize, FewerPlatformVectorsThanTheTable) {
  IrqWorld iw(config_of(TransportKind::kModern, 8), PciMode::kAuto, /*msi=*/2);
  ASSERT_EQ(iw.w.attach(with_irq(InterruptMode::kMsix)), AttachError::kOk);
  EXPECT_EQ(iw.w.net().interrupts().vectors, 2);
  iw.echo_check(2);
}

TEST(MsixTableSize, TheLargestTableAFittingBarCanHold) {
  // 2048 entries (32 KiB) in a BAR that says it decodes 64 KiB: accepted,
  // only the three vectors used are written.
  IrqWorld iw(config_of(TransportKind::kModern, 4));
  iw.w.device().poke_pci_config(kCap + 2, 2, 0x07FF);
  iw.w.device().poke_pci_config(kCap + 8, 4, 0x8000 | 1);  // PBA after the table
  iw.w.device().lie_about_bar(mock::BarLie{1, -1, -1, 0x10000});
  ASSERT_EQ(iw.w.attach(with_irq(InterruptMode::kMsix)), AttachError::kOk);
  EXPECT_EQ(iw.w.net().interrupts().mode, InterruptMode::kMsix);
  EXPECT_EQ(iw.w.net().interrupts().table_size, 2048);
  EXPECT_EQ(iw.w.net().interrupts().vectors, 3);
}

// ---- lies about the capability, the table and the PBA ---------------------------

struct CapLie {
  const char* name;
  TransportKind kind;
  std::function<void(MockDevice&)> lie;
  MsixFallback expect;
};

void PrintTo(const CapLie& l, std::ostream* os) {
  *os << l.name;
}

class MsixCapabilityLie : public ::testing::TestWithParam<CapLie> {};

TEST_P(MsixCapabilityLie, FallsBackToIntxAndStillWorks) {
  const CapLie& l = GetParam();
  IrqWorld iw(config_of(l.kind));
  l.lie(iw.w.device());
  ASSERT_EQ(iw.w.attach(with_irq(InterruptMode::kMsix)), AttachError::kOk);
  EXPECT_EQ(iw.w.net().interrupts().msix_fallback, l.expect)
      << msix_fallback_name(iw.w.net().interrupts().msix_fallback);
  EXPECT_EQ(iw.w.net().interrupts().mode, InterruptMode::kIntx);
  EXPECT_FALSE(iw.w.device().msix_enabled());
  EXPECT_EQ(iw.w.device().config_vector(), kNoVec);
  EXPECT_EQ(iw.w.device().queue_vector(0), kNoVec);
  EXPECT_EQ(iw.w.device().queue_vector(1), kNoVec);
  iw.echo_check(3);
  EXPECT_TRUE(iw.w.device().conformance().empty()) << conformance_of(iw.w.device());
}

const CapLie kCapLies[] = {
    {"table_size_beyond_bar", TransportKind::kModern,
     [](MockDevice& d) { d.poke_pci_config(kCap + 2, 2, 0x07FF); },  // 2048 x 16 > 4 KiB
     MsixFallback::kBadTable},
    {"table_bir_7", TransportKind::kModern,
     [](MockDevice& d) { d.poke_pci_config(kCap + 4, 4, 7); }, MsixFallback::kBadTable},
    {"table_bir_absent_bar", TransportKind::kModern,
     [](MockDevice& d) { d.poke_pci_config(kCap + 4, 4, 2); }, MsixFallback::kBadTable},
    {"table_in_io_bar", TransportKind::kTransitional,
     [](MockDevice& d) { d.poke_pci_config(kCap + 4, 4, 0); }, MsixFallback::kBadTable},
    {"table_over_common_cfg", TransportKind::kModern,
     [](MockDevice& d) { d.poke_pci_config(kCap + 4, 4, 4); },  // BAR 4 offset 0
     MsixFallback::kBadTable},
    {"table_offset_past_bar", TransportKind::kModern,
     [](MockDevice& d) { d.poke_pci_config(kCap + 4, 4, 0x0FF8 | 1); }, MsixFallback::kBadTable},
    {"table_offset_wraps", TransportKind::kModern,
     [](MockDevice& d) {
       d.poke_pci_config(kCap + 4, 4, 0xFFFFFFF8u | 1);
       d.lie_about_bar(mock::BarLie{1, -1, -1, int64_t{1} << 33});
     },
     MsixFallback::kBadTable},
    {"pba_bir_7", TransportKind::kModern,
     [](MockDevice& d) { d.poke_pci_config(kCap + 8, 4, 0x800 | 7); }, MsixFallback::kBadPba},
    {"pba_past_bar", TransportKind::kModern,
     [](MockDevice& d) { d.poke_pci_config(kCap + 8, 4, 0x1000 | 1); }, MsixFallback::kBadPba},
    {"pba_over_isr", TransportKind::kModern,
     [](MockDevice& d) { d.poke_pci_config(kCap + 8, 4, MockDevice::kIsrOffset | 4); },
     MsixFallback::kBadPba},
    {"bar_claims_io", TransportKind::kModern,
     [](MockDevice& d) {
       d.lie_about_bar(mock::BarLie{1, -1, 1, -1});
     },
     MsixFallback::kBadTable},
    {"capability_loop", TransportKind::kLegacy,
     [](MockDevice& d) {
       d.poke_pci_config(kCap, 2, 0xB005);  // an MSI capability (0x05) pointing at itself
     },
     MsixFallback::kNoCapability},
    // The capability pointer names 0x2C, inside the standard header, where
    // the bytes are made to look like an MSI-X capability (id 0x11; the
    // subsystem id 1 reads as its message control). The walk must not
    // start below 0x40: no MSI-X, not "a table in the I/O BAR".
    {"capability_pointer_into_header", TransportKind::kLegacy,
     [](MockDevice& d) {
       d.poke_pci_config(0x34, 1, 0x2C);
       d.poke_pci_config(0x2C, 2, 0x0011);
     },
     MsixFallback::kNoCapability},
    {"no_capability_list_bit", TransportKind::kLegacy,
     [](MockDevice& d) { d.poke_pci_config(6, 2, 0); }, MsixFallback::kNoCapability},
    {"enable_does_not_stick", TransportKind::kModern,
     [](MockDevice& d) {
       d.lie_about_register(mock::RegisterLie{Region::kPciConfig, kCap + 2, 2, 0, 0, 0, 0x8000});
     },
     MsixFallback::kEnableRefused},
    {"config_vector_refused", TransportKind::kModern,
     [](MockDevice& d) {
       d.arm(Fault{FaultKind::kMsixVectorLie, -1, 0, 1, 0xFFFF});
     },
     MsixFallback::kConfigVectorRefused},
    {"config_vector_wrong", TransportKind::kModern,
     [](MockDevice& d) {
       d.arm(Fault{FaultKind::kMsixVectorLie, -1, 0, 1, 2});
     },
     MsixFallback::kConfigVectorWrong},
    {"rx_vector_refused", TransportKind::kModern,
     [](MockDevice& d) {
       d.arm(Fault{FaultKind::kMsixVectorLie, 0, 0, 1, 0xFFFF});
     },
     MsixFallback::kQueueVectorRefused},
    {"tx_vector_wrong", TransportKind::kModern,
     [](MockDevice& d) {
       d.arm(Fault{FaultKind::kMsixVectorLie, 1, 0, 1, 0});
     },
     MsixFallback::kQueueVectorWrong},
    {"legacy_config_vector_refused", TransportKind::kLegacy,
     [](MockDevice& d) {
       d.arm(Fault{FaultKind::kMsixVectorLie, -1, 0, 1, 0xFFFF});
     },
     MsixFallback::kConfigVectorRefused},
    {"legacy_tx_vector_wrong", TransportKind::kLegacy,
     [](MockDevice& d) {
       d.arm(Fault{FaultKind::kMsixVectorLie, 1, 0, 1, 7});
     },
     MsixFallback::kQueueVectorWrong},
};

INSTANTIATE_TEST_SUITE_P(Lies, MsixCapabilityLie, ::testing::ValuesIn(kCapLies),
                         [](const ::testing::TestParamInfo<CapLie>& info) {
                           return std::string(info.param.name);
                         });

TEST(MsixLie, VectorRefusedReportsWhatWasRead) {
  IrqWorld iw(config_of(TransportKind::kModern));
  iw.w.device().arm(Fault{FaultKind::kMsixVectorLie, 1, 0, 1, 0xFFFF});
  ASSERT_EQ(iw.w.attach(with_irq(InterruptMode::kMsix)), AttachError::kOk);
  const InterruptSetup& s = iw.w.net().interrupts();
  EXPECT_EQ(s.msix_fallback, MsixFallback::kQueueVectorRefused);
  EXPECT_EQ(s.failed_queue, 1);
  EXPECT_EQ(s.read_back, kNoVec);
  EXPECT_EQ(iw.w.net().counters().irq_msix_fallbacks, 1u);
  bool logged = false;
  for (const auto& l : iw.w.platform().log_lines())
    logged = logged || l.text.find("queue_msix_vector read back NO_VECTOR") != std::string::npos;
  EXPECT_TRUE(logged);
}

TEST(MsixLie, RefusedWithoutALineMeansPolling) {
  IrqWorld iw(config_of(TransportKind::kModern), PciMode::kAuto, 8, /*line=*/false);
  iw.w.device().arm(Fault{FaultKind::kMsixVectorLie, -1, 0, 1, 0xFFFF});
  ASSERT_EQ(iw.w.attach(with_irq(InterruptMode::kMsix)), AttachError::kOk);
  EXPECT_EQ(iw.w.net().interrupts().mode, InterruptMode::kPolling);
  EXPECT_EQ(iw.w.platform().armed_mode(), InterruptMode::kPolling);
  iw.echo_check(2);
}

TEST(MsixLie, LegacyBarTooShortForVectorsAndConfig) {
  DeviceConfig c = config_of(TransportKind::kLegacy);
  c.legacy_bar_size = 0x20;  // 0x18 + 8: MAC and status fit, MTU (offset 10) does not
  IrqWorld iw(c);
  ASSERT_EQ(iw.w.attach(with_irq(InterruptMode::kMsix)), AttachError::kOk);
  EXPECT_EQ(iw.w.net().interrupts().msix_fallback, MsixFallback::kLegacyWindow);
  EXPECT_EQ(iw.w.net().interrupts().mode, InterruptMode::kIntx);
}

// ---- interrupts the device should not have sent ----------------------------------

TEST(Interrupts, SharedLineNotOursConsumesNothing) {
  IrqWorld iw(config_of(TransportKind::kTransitional));
  ASSERT_EQ(iw.w.attach(with_irq(InterruptMode::kIntx)), AttachError::kOk);
  iw.w.device().arm(Fault{FaultKind::kSpuriousInterrupt, -1, 0, 1, 1});
  iw.w.device().tick();
  const uint64_t reads = iw.w.device().counters().isr_reads;
  EXPECT_EQ(iw.deliver(), 1u);
  EXPECT_FALSE(iw.take().any());
  EXPECT_EQ(iw.w.net().counters().irq_not_ours, 1u);
  EXPECT_EQ(iw.w.net().counters().irq_line, 0u);
  EXPECT_EQ(iw.w.device().counters().isr_reads, reads + 1);
  iw.echo_check(2);
}

TEST(Interrupts, SpuriousVectorFindsNothingAndBreaksNothing) {
  IrqWorld iw(config_of(TransportKind::kModern));
  ASSERT_EQ(iw.w.attach(with_irq(InterruptMode::kMsix)), AttachError::kOk);
  iw.w.device().arm(Fault{FaultKind::kSpuriousInterrupt, -1, 0, 1, 3});
  for (int i = 0; i < 3; ++i) iw.w.device().tick();
  EXPECT_EQ(iw.deliver(), 3u);
  EXPECT_TRUE(iw.take().rx);
  EXPECT_TRUE(iw.w.receive().empty());
  EXPECT_EQ(iw.w.net().state(), NetState::kRunning);
  iw.echo_check(2);
}

TEST(Interrupts, StrayVectorsAndLinesAreCounted) {
  IrqWorld iw(config_of(TransportKind::kModern));
  ASSERT_EQ(iw.w.attach(with_irq(InterruptMode::kMsix)), AttachError::kOk);
  EXPECT_FALSE(iw.w.net().handle_interrupt(IrqSource::msi(3)).any());  // not set up
  EXPECT_FALSE(iw.w.net().handle_interrupt(IrqSource::msi(0xFFFF)).any());
  EXPECT_FALSE(iw.w.net().handle_interrupt(IrqSource::line()).any());  // MSI-X mode
  EXPECT_EQ(iw.w.net().counters().irq_stray, 3u);
  EXPECT_EQ(iw.w.device().counters().isr_reads, 0u);
  VirtioNet never_attached;
  EXPECT_FALSE(never_attached.handle_interrupt(IrqSource::line()).any());
}

TEST(Interrupts, BeforeDriverOkIsEarlyAndHarmless) {
  for (InterruptMode mode : {InterruptMode::kMsix, InterruptMode::kIntx}) {
    IrqWorld iw(config_of(TransportKind::kModern), PciMode::kAuto, 8, true, /*synchronous=*/true);
    iw.w.device().arm(Fault{FaultKind::kInterruptBeforeDriverOk, -1, 0, 1, 0});
    ASSERT_EQ(iw.w.attach(with_irq(mode)), AttachError::kOk);
    EXPECT_GE(iw.w.net().counters().irq_early, 1u) << interrupt_mode_name(mode);
    EXPECT_EQ(iw.w.net().state(), NetState::kRunning);
    EXPECT_FALSE(iw.w.device().line_asserted());
    // The config interrupt is latched for poll_device: nothing changed.
    EXPECT_FALSE(iw.w.net().poll_device().link_changed);
    iw.echo_check(2);
    EXPECT_TRUE(iw.w.device().conformance().empty()) << conformance_of(iw.w.device());
  }
}

TEST(Interrupts, StuckIsrIsAStormAndTheDriverPollsInstead) {
  IrqWorld iw(config_of(TransportKind::kTransitional), PciMode::kAuto, 8, true,
              /*synchronous=*/true);
  NetOptions o = with_irq(InterruptMode::kIntx);
  o.irq_storm_limit = 100;
  ASSERT_EQ(iw.w.attach(o), AttachError::kOk);
  iw.w.device().arm(Fault{FaultKind::kStuckIsr, -1, 0, 1, 0});
  iw.w.net().set_rx_interrupts(true);
  ASSERT_TRUE(iw.w.device().inject_rx(make_frame(60, 0)));  // raises the line, for good
  EXPECT_EQ(iw.w.net().counters().irq_storms, 1u);
  EXPECT_EQ(iw.handled, 101u);  // the guard trips at limit + 1, then the line is masked
  EXPECT_EQ(iw.w.net().interrupt_mode(), InterruptMode::kPolling);
  EXPECT_EQ(iw.w.platform().armed_mode(), InterruptMode::kPolling);
  EXPECT_EQ(iw.w.receive().size(), 1u);  // polling still works
  iw.w.net().poll_device();              // and reads the ISR again, as polling does
  EXPECT_EQ(iw.w.net().state(), NetState::kRunning);
}

TEST(Interrupts, MsixStormIsCutOffToo) {
  IrqWorld iw(config_of(TransportKind::kModern));
  NetOptions o = with_irq(InterruptMode::kMsix);
  o.irq_storm_limit = 500;
  ASSERT_EQ(iw.w.attach(o), AttachError::kOk);
  iw.w.device().arm(Fault{FaultKind::kInterruptStorm, -1, 0, 1, 2000});
  iw.w.device().tick();
  iw.w.platform().deliver_interrupts(100000);
  EXPECT_EQ(iw.w.net().counters().irq_storms, 1u);
  EXPECT_EQ(iw.handled, 501u);
  EXPECT_EQ(iw.w.net().interrupt_mode(), InterruptMode::kPolling);
  iw.echo_check(2);
}

TEST(Interrupts, IntxStormIsCutOff) {
  IrqWorld iw(config_of(TransportKind::kLegacy));
  NetOptions o = with_irq(InterruptMode::kIntx);
  o.irq_storm_limit = 500;
  ASSERT_EQ(iw.w.attach(o), AttachError::kOk);
  iw.w.device().arm(Fault{FaultKind::kInterruptStorm, -1, 0, 1, 2000});
  iw.w.device().tick();
  iw.w.platform().deliver_interrupts(100000);
  EXPECT_EQ(iw.w.net().counters().irq_storms, 1u);
  EXPECT_EQ(iw.handled, 501u);
}

TEST(Interrupts, AStormWindowEndsInTime) {
  // Interrupts spread out in time are no storm, however many.
  IrqWorld iw(config_of(TransportKind::kModern));
  uint64_t now = 0;
  iw.w.platform().set_clock([&now] { return now; });
  NetOptions o = with_irq(InterruptMode::kMsix);
  o.irq_storm_limit = 10;
  o.irq_storm_window_ns = 1000;
  ASSERT_EQ(iw.w.attach(o), AttachError::kOk);
  for (int i = 0; i < 100; ++i) {
    now += 200;  // 5 per window
    iw.w.net().handle_interrupt(IrqSource::msi(1));
  }
  EXPECT_EQ(iw.w.net().counters().irq_storms, 0u);
}

TEST(Interrupts, TxInterruptsCanBeAskedFor) {
  DeviceConfig c = config_of(TransportKind::kModern);
  c.auto_process_tx = false;
  IrqWorld iw(c);
  ASSERT_EQ(iw.w.attach(with_irq(InterruptMode::kMsix)), AttachError::kOk);
  ASSERT_EQ(iw.w.send({make_frame(60, 0)}), 1u);
  EXPECT_FALSE(iw.w.net().set_tx_interrupts(true));  // nothing completed yet
  iw.w.device().process_tx();
  iw.deliver();
  EXPECT_TRUE(iw.take().tx);
  EXPECT_EQ(iw.w.net().tx_reclaim(), 1u);
  // Off: the device is asked not to interrupt for tx (2.7.7, a hint).
  EXPECT_FALSE(iw.w.net().set_tx_interrupts(false));
  ASSERT_EQ(iw.w.send({make_frame(60, 1)}), 1u);
  iw.w.device().process_tx();
  iw.deliver();
  EXPECT_FALSE(iw.take().tx);
  // Re-enabling sees the completion that came meanwhile.
  EXPECT_TRUE(iw.w.net().set_tx_interrupts(true));
}

TEST(Interrupts, InterruptDrivenEchoLoop) {
  // The caller's loop of virtio_net.h: interrupts off while polling, on
  // before waiting; a pending answer means poll again instead of waiting.
  for (InterruptMode mode : {InterruptMode::kMsix, InterruptMode::kIntx}) {
    IrqWorld iw(config_of(TransportKind::kTransitional));
    ASSERT_EQ(iw.w.attach(with_irq(mode)), AttachError::kOk);
    VirtioNet& net = iw.w.net();
    int echoed = 0;
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(iw.w.device().inject_rx(make_frame(100, uint32_t(i))));
      // wait: only what an interrupt says
      for (int spin = 0; spin < 4; ++spin) {
        if (net.set_rx_interrupts(true)) break;  // raced in: poll now
        if (iw.deliver() == 0) break;
        if (iw.take().rx) break;
      }
      net.set_rx_interrupts(false);
      for (auto& f : iw.w.receive()) echoed += int(iw.w.send({f}));
    }
    EXPECT_EQ(echoed, 50) << interrupt_mode_name(mode);
    EXPECT_EQ(iw.w.net().state(), NetState::kRunning);
    EXPECT_TRUE(iw.w.device().conformance().empty()) << conformance_of(iw.w.device());
  }
}

TEST(Interrupts, ReattachWithAnotherModeSwitchesMsixOff) {
  IrqWorld iw(config_of(TransportKind::kLegacy));
  ASSERT_EQ(iw.w.attach(with_irq(InterruptMode::kMsix)), AttachError::kOk);
  EXPECT_TRUE(iw.w.device().msix_enabled());
  iw.w.net().stop();
  EXPECT_FALSE(iw.w.device().msix_enabled());
  ASSERT_EQ(iw.w.attach(with_irq(InterruptMode::kIntx)), AttachError::kOk);
  EXPECT_EQ(iw.w.net().interrupts().mode, InterruptMode::kIntx);
  // Device configuration back at 0x14: the MAC reads right.
  EXPECT_TRUE(iw.w.net().mac_from_device());
  EXPECT_EQ(iw.w.net().mac()[0], 0x52);
  iw.echo_check(2);
}

TEST(Interrupts, DeviceGoneDisarmsThePlatform) {
  IrqWorld iw(config_of(TransportKind::kModern));
  ASSERT_EQ(iw.w.attach(with_irq(InterruptMode::kMsix)), AttachError::kOk);
  const uint64_t writes = iw.w.platform().reg_writes();
  iw.w.net().device_gone();
  EXPECT_EQ(iw.w.platform().armed_mode(), InterruptMode::kPolling);
  EXPECT_EQ(iw.w.platform().reg_writes(), writes);  // the device is not touched
}

}  // namespace
}  // namespace vnet::testing
