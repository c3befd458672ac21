// The virtio-mmio transport and its probe against a fake register file:
// every register read is device data and may lie, and the exact register
// sequence of each version is the protocol (4.2.3, 4.2.4).
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "driver/spec/mmio_layout.h"
#include "driver/spec/net_layout.h"
#include "driver/spec/virtio_constants.h"
#include "driver/transport/mmio_probe.h"
#include "tests/driver/ring_platform.h"

namespace vnet {
namespace {

namespace mm = spec::mmio;

struct Access {
  bool write;
  uint32_t offset;
  uint8_t width;
  uint32_t value;
};

// A register file: reads answer regs[offset] (unless a hook says
// otherwise), writes are stored; every access is logged with its width.
struct FakeMmio {
  std::map<uint32_t, uint32_t> regs;
  std::vector<Access> log;
  bool line = true;
  std::function<bool(uint32_t, uint32_t*)> read_hook;

  explicit FakeMmio(uint32_t version, uint64_t features = (uint64_t{1} << 32) | (1u << 5)) {
    regs[mm::kMagicValue] = mm::kMagic;
    regs[mm::kVersion] = version;
    regs[mm::kDeviceId] = 1;
    regs[mm::kVendorId] = 0x554D4551;
    features_ = features;
    regs[mm::kQueueNumMax] = 256;
  }
  uint64_t features_;
  void attach(testing::RingPlatform& p) {
    p.on_read = [this](Region r, uint32_t off, uint8_t w) -> uint32_t {
      EXPECT_EQ(r, Region::kMmio);
      uint32_t v = 0;
      if (read_hook && read_hook(off, &v)) {
      } else if (off == mm::kDeviceFeatures) {
        v = regs[mm::kDeviceFeaturesSel] == 0 ? uint32_t(features_) : uint32_t(features_ >> 32);
      } else {
        v = regs[off];
      }
      log.push_back({false, off, w, v});
      return v;
    };
    p.on_write = [this](Region r, uint32_t off, uint8_t w, uint32_t v) {
      EXPECT_EQ(r, Region::kMmio);
      log.push_back({true, off, w, v});
      if (off == mm::kQueueReady || off == mm::kQueuePfn || off == mm::kStatus) regs[off] = v;
      if (off == mm::kDeviceFeaturesSel) regs[off] = v;
    };
  }
  size_t count(bool write, uint32_t off) const {
    size_t n = 0;
    for (const Access& a : log) n += a.write == write && a.offset == off;
    return n;
  }
  // The position of the first access to off (log size when none).
  size_t first(bool write, uint32_t off) const {
    for (size_t i = 0; i < log.size(); ++i)
      if (log[i].write == write && log[i].offset == off) return i;
    return log.size();
  }
};

// A platform with a routed line (or not) and a clock that may advance.
struct LinePlatform : testing::RingPlatform {
  bool line_routed = false;
  bool clock_runs = false;
  uint64_t clock = 0;
  bool line_interrupt() override { return line_routed; }
  uint64_t now_ns() override { return clock_runs ? (clock += 1'000'000) : 12345; }
};

struct Probed {
  LinePlatform p;
  FakeMmio dev;
  MmioTransports t;
  MmioProbeResult r;
  explicit Probed(uint32_t version, uint64_t size = 0x200, int32_t irq = 5) : dev(version) {
    dev.attach(p);
    r = t.probe(p, MmioWindow{0xFEB02E00, size, irq});
  }
  MmioTransport& mmio() { return t.transport(); }
};

// ---- the probe -----------------------------------------------------------

TEST(MmioProbe, BothVersionsProbe) {
  for (uint32_t v : {1u, 2u}) {
    Probed w(v);
    ASSERT_EQ(w.r.error, MmioProbeError::kOk) << v;
    ASSERT_NE(w.r.transport, nullptr);
    EXPECT_EQ(w.r.transport->is_legacy(), v == 1);
    EXPECT_EQ(w.r.version, v);
    EXPECT_STREQ(w.r.transport->name(), v == 1 ? "mmio-v1" : "mmio-v2");
    EXPECT_EQ(w.r.transport->ring_layout(),
              v == 1 ? RingLayout::kLegacyContiguous : RingLayout::kSeparate);
    EXPECT_EQ(w.r.transport->has_config_generation(), v == 2);
    EXPECT_EQ(w.r.transport->config_window_size(), 0x100u);
    // No status written at probe: the device is untouched until attach.
    EXPECT_EQ(w.dev.count(true, mm::kStatus), 0u);
  }
}

TEST(MmioProbe, BadMagicStopsAfterTheMagic) {
  Probed w(2);
  w.dev.regs[mm::kMagicValue] = 0x74726977;
  w.dev.log.clear();
  w.r = w.t.probe(w.p, MmioWindow{0, 0x200, -1});
  EXPECT_EQ(w.r.error, MmioProbeError::kBadMagic);
  EXPECT_EQ(w.r.transport, nullptr);
  ASSERT_EQ(w.dev.log.size(), 1u);  // only the magic was read
}

TEST(MmioProbe, VersionsOtherThanOneAndTwoAreRefused) {
  for (uint32_t v : {0u, 3u, 0xFFFFFFFFu}) {
    Probed w(v);
    EXPECT_EQ(w.r.error, MmioProbeError::kBadVersion) << v;
    EXPECT_EQ(w.dev.log.size(), 2u);
  }
}

TEST(MmioProbe, PlaceholderSlotIsNoDeviceAndNothingElseIsRead) {
  testing::RingPlatform p;
  FakeMmio dev(2);
  dev.regs[mm::kDeviceId] = 0;
  dev.attach(p);
  MmioTransports t;
  const MmioProbeResult r = t.probe(p, MmioWindow{0, 0x200, -1});
  EXPECT_EQ(r.error, MmioProbeError::kNoDevice);
  EXPECT_STRNE(mmio_probe_error_name(r.error), mmio_probe_error_name(MmioProbeError::kNotNet));
  // 4.2.3.1.1: magic, version, device id -- and no other register.
  ASSERT_EQ(dev.log.size(), 3u);
  EXPECT_EQ(dev.log[2].offset, mm::kDeviceId);
}

TEST(MmioProbe, AnotherDeviceTypeIsNotNet) {
  testing::RingPlatform p;
  FakeMmio dev(2);
  dev.regs[mm::kDeviceId] = 2;  // a block device
  dev.attach(p);
  MmioTransports t;
  EXPECT_EQ(t.probe(p, MmioWindow{0, 0x200, -1}).error, MmioProbeError::kNotNet);
}

TEST(MmioProbe, WindowTooSmallIsRefusedBeforeAnyRead) {
  testing::RingPlatform p;
  FakeMmio dev(2);
  dev.attach(p);
  MmioTransports t;
  EXPECT_EQ(t.probe(p, MmioWindow{0, 0xFC, -1}).error, MmioProbeError::kWindowTooSmall);
  EXPECT_TRUE(dev.log.empty());
}

TEST(MmioProbe, Version2WithoutVersion1IsRefused) {
  testing::RingPlatform p;
  FakeMmio dev(2, 1u << 5);  // MAC only
  dev.attach(p);
  MmioTransports t;
  EXPECT_EQ(t.probe(p, MmioWindow{0, 0x200, -1}).error, MmioProbeError::kNoVersion1);
  // Version 1 devices have no VERSION_1 to offer.
  testing::RingPlatform p1;
  FakeMmio dev1(1, 1u << 5);
  dev1.attach(p1);
  EXPECT_EQ(t.probe(p1, MmioWindow{0, 0x200, -1}).error, MmioProbeError::kOk);
}

TEST(MmioProbe, ConfigurationWindowMustHoldTheOfferedFields) {
  // MTU offered: 12 bytes of configuration needed; a window of 0x108 has 8.
  testing::RingPlatform p;
  FakeMmio dev(2, (uint64_t{1} << 32) | (1u << 3) | (1u << 5));
  dev.attach(p);
  MmioTransports t;
  const MmioProbeResult r = t.probe(p, MmioWindow{0, 0x108, -1});
  EXPECT_EQ(r.error, MmioProbeError::kDeviceCfgTooShort);
  EXPECT_EQ(r.device_cfg_needed, spec::net_cfg::kMtu + 2);
}

TEST(MmioProbe, AFailedProbeLeavesTheTransportAsItWas) {
  Probed w(2);
  ASSERT_EQ(w.r.error, MmioProbeError::kOk);
  w.dev.regs[mm::kVersion] = 1;
  w.dev.features_ = 1u << 5;
  w.dev.regs[mm::kMagicValue] = 0;
  EXPECT_EQ(w.t.probe(w.p, MmioWindow{0, 0x200, -1}).error, MmioProbeError::kBadMagic);
  EXPECT_EQ(w.mmio().version(), 2u);
}

// ---- registers -------------------------------------------------------------

TEST(MmioTransport, EveryRegisterAccessIs32BitsWide) {
  for (uint32_t v : {1u, 2u}) {
    Probed w(v);
    MmioTransport& t = w.mmio();
    (void)t.reset(1000);
    t.set_status(1);
    (void)t.device_features();
    t.set_driver_features(0x21);
    (void)t.queue_max_size(0);
    (void)t.read_isr();
    (void)t.config_generation();
    for (const Access& a : w.dev.log) EXPECT_EQ(a.width, 4) << "offset " << a.offset;
  }
}

TEST(MmioTransport, FeatureSelectorsAreWrittenFirst) {
  Probed w(2);
  w.dev.log.clear();
  EXPECT_EQ(w.mmio().device_features(), w.dev.features_);
  ASSERT_GE(w.dev.log.size(), 4u);
  EXPECT_TRUE(w.dev.log[0].write && w.dev.log[0].offset == mm::kDeviceFeaturesSel);
  w.dev.log.clear();
  w.mmio().set_driver_features(0x1'0000'0020ull);
  ASSERT_EQ(w.dev.log.size(), 4u);
  EXPECT_EQ(w.dev.log[0].offset, mm::kDriverFeaturesSel);
  EXPECT_EQ(w.dev.log[1].value, 0x20u);
  EXPECT_EQ(w.dev.log[3].value, 1u);
}

TEST(MmioTransport, Version1HasThirtyTwoFeatureBits) {
  testing::RingPlatform p;
  FakeMmio dev(1, 0xFFFF'FFFF'0000'0020ull);  // a device that claims a word 1
  dev.attach(p);
  MmioTransports t;
  ASSERT_EQ(t.probe(p, MmioWindow{0, 0x200, -1}).error, MmioProbeError::kOk);
  EXPECT_EQ(t.transport().device_features(), 0x20u);
  dev.log.clear();
  t.transport().set_driver_features(0xFFFF'FFFF'0000'0020ull);
  ASSERT_EQ(dev.log.size(), 2u);  // select word 0, write it: nothing of word 1
  EXPECT_EQ(dev.log[1].value, 0x20u);
}

TEST(MmioTransport, StatusBitsAboveSevenAreCountedAndIgnored) {
  Probed w(2);
  w.dev.regs[mm::kStatus] = 0x100 | 0x0F;
  EXPECT_EQ(w.mmio().status(), 0x0F);
  EXPECT_EQ(w.mmio().counters().status_undefined, 1u);
}

TEST(MmioTransport, ResetWaitsForZeroAndIsBounded) {
  Probed w(2);
  int reads = 0;
  w.dev.read_hook = [&](uint32_t off, uint32_t* v) {
    if (off != mm::kStatus) return false;
    *v = ++reads < 3 ? 1 : 0;
    return true;
  };
  EXPECT_TRUE(w.mmio().reset(1'000'000));
  EXPECT_EQ(reads, 3);
  // A device that never reads back 0: the deadline ends the wait.
  w.p.clock_runs = true;
  w.dev.read_hook = [](uint32_t off, uint32_t* v) {
    if (off != mm::kStatus) return false;
    *v = 1;
    return true;
  };
  EXPECT_FALSE(w.mmio().reset(1'000'000));
}

// ---- queues ------------------------------------------------------------------

QueueAddresses addrs(uint64_t base) {
  return QueueAddresses{base, base + 0x1000, base + 0x2000};
}

TEST(MmioQueue, Version2SequenceAndReadyReadBack) {
  Probed w(2);
  w.dev.log.clear();
  ASSERT_TRUE(w.mmio().setup_queue(1, 128, addrs(0x1'2345'6000)));
  // QueueSel, QueueReady (0), QueueNumMax, QueueNum, six address halves,
  // QueueReady = 1, QueueReady read back.
  std::vector<uint32_t> offsets;
  for (const Access& a : w.dev.log) offsets.push_back(a.offset);
  const std::vector<uint32_t> want = {
      mm::kQueueSel,       mm::kQueueReady,      mm::kQueueNumMax,    mm::kQueueNum,
      mm::kQueueDescLow,   mm::kQueueDescHigh,   mm::kQueueDriverLow, mm::kQueueDriverHigh,
      mm::kQueueDeviceLow, mm::kQueueDeviceHigh, mm::kQueueReady,     mm::kQueueReady};
  EXPECT_EQ(offsets, want);
  EXPECT_EQ(w.dev.log[3].value, 128u);
  EXPECT_EQ(w.dev.log[5].value, 1u);  // desc high half
  // No version 1 register on version 2.
  EXPECT_EQ(w.dev.count(true, mm::kGuestPageSize) + w.dev.count(true, mm::kQueuePfn), 0u);
}

TEST(MmioQueue, Version2QueueAlreadyReadyIsRefused) {
  Probed w(2);
  w.dev.regs[mm::kQueueReady] = 1;
  EXPECT_FALSE(w.mmio().setup_queue(0, 64, addrs(0x10000)));
  EXPECT_EQ(w.dev.count(true, mm::kQueueNum), 0u);
}

TEST(MmioQueue, Version2ReadyThatDoesNotStickIsRefused) {
  Probed w(2);
  int ready_reads = 0;
  w.dev.read_hook = [&](uint32_t off, uint32_t* v) {
    if (off != mm::kQueueReady) return false;
    ++ready_reads;
    *v = 0;  // before: 0 (good); after: 0 (did not stick)
    return true;
  };
  EXPECT_FALSE(w.mmio().setup_queue(0, 64, addrs(0x10000)));
  EXPECT_EQ(ready_reads, 2);
  // Any other value read back is no better than 0.
  w.dev.read_hook = [&](uint32_t off, uint32_t* v) {
    if (off != mm::kQueueReady) return false;
    *v = w.dev.regs[mm::kQueueReady] == 1 ? 3 : 0;
    return true;
  };
  w.dev.regs[mm::kQueueReady] = 0;
  EXPECT_FALSE(w.mmio().setup_queue(0, 64, addrs(0x10000)));
}

TEST(MmioQueue, SizeAboveTheMaximumReadAgainIsRefused) {
  for (uint32_t v : {1u, 2u}) {
    Probed w(v);
    EXPECT_EQ(w.mmio().queue_max_size(0), 256u);
    w.dev.regs[mm::kQueueNumMax] = 64;  // changed its mind
    EXPECT_FALSE(w.mmio().setup_queue(0, 128, addrs(0x10000))) << v;
    EXPECT_EQ(w.dev.count(true, mm::kQueueNum), 0u);
  }
}

TEST(MmioQueue, QueueIndexIsBounded) {
  Probed w(2);
  w.dev.log.clear();
  EXPECT_EQ(w.mmio().queue_max_size(MmioTransport::kMaxQueues), 0u);
  EXPECT_FALSE(w.mmio().setup_queue(MmioTransport::kMaxQueues, 64, addrs(0x10000)));
  w.mmio().notify(MmioTransport::kMaxQueues);
  EXPECT_TRUE(w.dev.log.empty());
  w.mmio().notify(1);
  ASSERT_EQ(w.dev.log.size(), 1u);
  EXPECT_EQ(w.dev.log[0].offset, mm::kQueueNotify);
  EXPECT_EQ(w.dev.log[0].value, 1u);
}

TEST(MmioQueue, Version1PageSizeAndAlignBeforeThePfn) {
  Probed w(1);
  w.dev.log.clear();
  ASSERT_TRUE(w.mmio().setup_queue(0, 256, addrs(0x123000)));
  const size_t pfn = w.dev.first(true, mm::kQueuePfn);
  ASSERT_LT(pfn, w.dev.log.size());
  EXPECT_LT(w.dev.first(true, mm::kGuestPageSize), pfn);
  EXPECT_LT(w.dev.first(true, mm::kQueueAlign), pfn);
  EXPECT_LT(w.dev.first(true, mm::kQueueNum), pfn);
  EXPECT_EQ(w.dev.log[pfn].value, 0x123u);
  EXPECT_EQ(w.dev.log[w.dev.first(true, mm::kGuestPageSize)].value, 4096u);
  EXPECT_EQ(w.dev.log[w.dev.first(true, mm::kQueueAlign)].value, 4096u);
  // No version 2 register on version 1.
  EXPECT_EQ(w.dev.count(true, mm::kQueueReady) + w.dev.count(false, mm::kQueueReady) +
                w.dev.count(true, mm::kQueueDescLow),
            0u);
}

TEST(MmioQueue, Version1PfnInUseIsRefusedAndNotReadBack) {
  Probed w(1);
  w.dev.regs[mm::kQueuePfn] = 7;  // in use
  EXPECT_FALSE(w.mmio().setup_queue(0, 256, addrs(0x123000)));
  EXPECT_EQ(w.dev.count(true, mm::kQueueNum), 0u);
  // Free: set up, and the frame is read once -- before, never after the
  // write (an echoed address would not replay from a trace).
  w.dev.regs[mm::kQueuePfn] = 0;
  w.dev.log.clear();
  EXPECT_TRUE(w.mmio().setup_queue(0, 256, addrs(0x123000)));
  EXPECT_EQ(w.dev.count(false, mm::kQueuePfn), 1u);
  EXPECT_LT(w.dev.first(false, mm::kQueuePfn), w.dev.first(true, mm::kQueuePfn));
}

TEST(MmioQueue, Version1RingMustBePageAlignedAndBelow16TiB) {
  Probed w(1);
  EXPECT_FALSE(w.mmio().setup_queue(0, 256, addrs(0x123800)));
  EXPECT_FALSE(w.mmio().setup_queue(0, 256, addrs(uint64_t{1} << 44)));
  EXPECT_EQ(w.dev.count(true, mm::kQueuePfn), 0u);
}

// ---- configuration -------------------------------------------------------------

TEST(MmioConfig, ReadsStayInsideTheWindowAtNaturalWidths) {
  Probed w(2, 0x118);  // 0x18 bytes of configuration
  uint32_t v = 0;
  w.dev.log.clear();
  EXPECT_TRUE(w.mmio().config_read(0, 1, &v));
  EXPECT_TRUE(w.mmio().config_read(0x14, 4, &v));
  EXPECT_FALSE(w.mmio().config_read(0x16, 4, &v));  // misaligned
  EXPECT_FALSE(w.mmio().config_read(0x18, 1, &v));  // past the window
  EXPECT_FALSE(w.mmio().config_read(0x4, 8, &v));   // no such width
  EXPECT_FALSE(w.mmio().config_read(0xFFFFFFFC, 4, &v));
  ASSERT_EQ(w.dev.log.size(), 2u);
  EXPECT_EQ(w.dev.log[0].offset, mm::kConfig);
  EXPECT_EQ(w.dev.log[0].width, 1);
  EXPECT_EQ(w.dev.log[1].offset, mm::kConfig + 0x14);
}

TEST(MmioConfig, AHugeWindowIsCappedSoNoOffsetWraps) {
  Probed w(2, uint64_t{1} << 40);
  EXPECT_EQ(w.mmio().config_window_size(), 0x10000u);
}

TEST(MmioConfig, GenerationOnlyOnVersion2) {
  Probed w1(1);
  w1.dev.regs[mm::kConfigGeneration] = 5;
  EXPECT_EQ(w1.mmio().config_generation(), 0u);
  EXPECT_EQ(w1.dev.count(false, mm::kConfigGeneration), 0u);
  Probed w2(2);
  w2.dev.regs[mm::kConfigGeneration] = 5;
  EXPECT_EQ(w2.mmio().config_generation(), 5u);
}

// ---- interrupts ----------------------------------------------------------------

TEST(MmioInterrupts, StatusIsAcknowledgedWithExactlyTheBitsRead) {
  Probed w(2);
  for (uint32_t isr : {1u, 2u, 3u}) {
    w.dev.regs[mm::kInterruptStatus] = isr;
    w.dev.log.clear();
    EXPECT_EQ(w.mmio().read_isr(), isr);
    ASSERT_EQ(w.dev.log.size(), 2u);
    EXPECT_TRUE(w.dev.log[1].write);
    EXPECT_EQ(w.dev.log[1].offset, mm::kInterruptAck);
    EXPECT_EQ(w.dev.log[1].value, isr);
  }
}

TEST(MmioInterrupts, NothingReadNothingAcknowledged) {
  Probed w(2);
  w.dev.regs[mm::kInterruptStatus] = 0;
  w.dev.log.clear();
  EXPECT_EQ(w.mmio().read_isr(), 0);
  EXPECT_EQ(w.dev.count(true, mm::kInterruptAck), 0u);
}

TEST(MmioInterrupts, UndefinedBitsAreCountedNeverReturnedNorAcknowledged) {
  Probed w(1);
  w.dev.regs[mm::kInterruptStatus] = 0xFFFF'FFFD;  // bit 0 and every undefined bit
  w.dev.log.clear();
  EXPECT_EQ(w.mmio().read_isr(), 1);
  EXPECT_EQ(w.mmio().counters().isr_undefined, 1u);
  ASSERT_EQ(w.dev.count(true, mm::kInterruptAck), 1u);
  EXPECT_EQ(w.dev.log[w.dev.first(true, mm::kInterruptAck)].value, 1u);
  // Only undefined bits: nothing of ours, nothing acknowledged.
  w.dev.regs[mm::kInterruptStatus] = 0x80;
  w.dev.log.clear();
  EXPECT_EQ(w.mmio().read_isr(), 0);
  EXPECT_EQ(w.dev.count(true, mm::kInterruptAck), 0u);
  EXPECT_EQ(w.mmio().counters().isr_undefined, 2u);
}

TEST(MmioInterrupts, LadderIsLineThenPolling) {
  InterruptRequest req;
  req.num_queues = 2;
  for (InterruptMode asked : {InterruptMode::kMsix, InterruptMode::kIntx}) {
    req.mode = asked;
    Probed with_line(2, 0x200, 12);
    with_line.p.line_routed = true;
    with_line.dev.log.clear();
    InterruptSetup s = with_line.mmio().setup_interrupts(req);
    EXPECT_EQ(s.mode, InterruptMode::kIntx);
    EXPECT_EQ(s.msix_fallback,
              asked == InterruptMode::kMsix ? MsixFallback::kNoCapability : MsixFallback::kNone);
    EXPECT_TRUE(with_line.dev.log.empty());  // nothing to program
    // The window has no line, or the platform does not deliver it: poll.
    Probed no_irq(2, 0x200, -1);
    no_irq.p.line_routed = true;
    EXPECT_EQ(no_irq.mmio().setup_interrupts(req).mode, InterruptMode::kPolling);
    Probed unrouted(2, 0x200, 12);
    unrouted.p.line_routed = false;
    EXPECT_EQ(unrouted.mmio().setup_interrupts(req).mode, InterruptMode::kPolling);
  }
}

}  // namespace
}  // namespace vnet
