// The mock device's packed ring (PackedDeviceQueue behind DeviceRing), driven
// by the hand-written register-level driver of mock_test_driver.h: what the
// device reads and writes (used descriptors, wrap counters, chains, indirect
// tables, both event suppression structures), and each driver rule of 2.8 it
// checks, planted as raw descriptors in guest memory and seen to fire with
// its spec map id. A correct raw driver produces no report at all.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "mock_device/mock_device.h"
#include "mock_test_driver.h"

namespace vnet::mock {
namespace {

using testing::fmask;
using testing::test_frame;
using testing::TestDriver;
using testing::TestPackedRing;
using F = spec::Feature;
using Seg = TestPackedRing::Seg;
namespace pc = spec::pci::common;
namespace st = spec::status;

constexpr uint64_t kBase = (uint64_t{1} << 32) | (1u << 5) | (1u << 16);  // V1|MAC|STATUS
constexpr uint64_t kPacked = kBase | (uint64_t{1} << 34);
constexpr uint16_t kAvailBit = spec::kPackedDescFlagAvail;
constexpr uint16_t kUsedBit = spec::kPackedDescFlagUsed;
constexpr uint16_t kWrite = spec::kDescFlagWrite;
constexpr uint16_t kNext = spec::kDescFlagNext;
constexpr uint16_t kIndirect = spec::kDescFlagIndirect;

std::string reports(const MockDevice& d) {
  std::string s;
  for (const auto& v : d.conformance().violations())
    s += "[" + v.section + " " + v.id + "] " + v.message + "\n";
  return s;
}

struct PackedWorld {
  GuestMemory mem{16 << 20};
  std::unique_ptr<MockDevice> dev;
  std::unique_ptr<TestDriver> drv;
  explicit PackedWorld(uint64_t extra_offer = 0, uint16_t max_size = 256,
                       TransportKind kind = TransportKind::kModern) {
    DeviceConfig c;
    c.transport = kind;
    c.features =
        kBase | fmask(F::kNetMtu) | fmask(F::kEventIdx) | fmask(F::kIndirectDesc) | extra_offer;
    c.offer_ring_packed = true;
    c.queue_sizes = {max_size, max_size, 64};
    dev = std::make_unique<MockDevice>(mem, c);
    drv = std::make_unique<TestDriver>(mem, *dev);
  }
  TestPackedRing& tx() { return drv->ptx; }
  TestPackedRing& rx() { return drv->prx; }
  void notify_tx() { drv->notify_modern(1); }
  bool fired(std::string_view id) const { return dev->conformance().has(id); }
};

// ---- offer and set-up ----------------------------------------------------------

TEST(PackedDevice, OfferedOnlyOnModernInterfacesAndOnlyWhenAsked) {
  for (TransportKind k :
       {TransportKind::kLegacy, TransportKind::kModern, TransportKind::kTransitional,
        TransportKind::kMmioV1, TransportKind::kMmioV2}) {
    GuestMemory mem{1 << 20};
    DeviceConfig c;
    c.transport = k;
    const bool modern_side = k != TransportKind::kLegacy && k != TransportKind::kMmioV1;
    EXPECT_FALSE(spec::has_feature(MockDevice(mem, c).config().features, F::kRingPacked));
    c.offer_ring_packed = true;
    EXPECT_EQ(spec::has_feature(MockDevice(mem, c).config().features, F::kRingPacked), modern_side)
        << transport_kind_name(k);
    c.offer_ring_packed = false;
    c.features |= fmask(F::kRingPacked);  // even when put in the offer by hand
    EXPECT_EQ(spec::has_feature(MockDevice(mem, c).config().features, F::kRingPacked), modern_side)
        << transport_kind_name(k);
  }
}

TEST(PackedDevice, QueueSizeNeedsNoPowerOfTwoButNeverZero) {
  PackedWorld w(0, 128);
  ASSERT_TRUE(w.drv->init_modern_packed(kPacked, 100));
  EXPECT_TRUE(w.dev->ring(0).packed());
  EXPECT_EQ(w.dev->ring(0).size(), 100);
  EXPECT_TRUE(w.dev->conformance().empty()) << reports(*w.dev);

  PackedWorld z;
  ASSERT_TRUE(z.drv->init_modern_packed(kPacked, 0));
  EXPECT_TRUE(z.fired("drv-4.1.4.3.2-2")) << reports(*z.dev);
  EXPECT_FALSE(z.dev->queue_ready(0));
}

TEST(PackedDevice, RingPartsMisalignedOrOutsideMemory) {
  {
    PackedWorld w;
    w.drv->set_status(0);
    w.drv->set_status(st::kAcknowledge);
    w.drv->set_status(st::kAcknowledge | st::kDriver);
    w.drv->write_features(kPacked);
    w.drv->set_status(st::kAcknowledge | st::kDriver | st::kFeaturesOk);
    auto r = w.drv->alloc_packed_ring(16);
    r.driver_addr += 2;  // event structures are aligned to 4
    w.drv->setup_modern_packed_queue(0, r);
    EXPECT_TRUE(w.fired("drv-2.8.11-1")) << reports(*w.dev);
    EXPECT_FALSE(w.dev->queue_ready(0));
  }
  {
    PackedWorld w;
    w.drv->set_status(0);
    w.drv->set_status(st::kAcknowledge);
    w.drv->set_status(st::kAcknowledge | st::kDriver);
    w.drv->write_features(kPacked);
    w.drv->set_status(st::kAcknowledge | st::kDriver | st::kFeaturesOk);
    auto r = w.drv->alloc_packed_ring(16);
    r.desc_addr = 0x7FFF'0000'0000;
    w.drv->setup_modern_packed_queue(0, r);
    EXPECT_TRUE(w.fired("drv-6.1-4")) << reports(*w.dev);
    EXPECT_TRUE(w.dev->conformance().has("2.8"));
  }
}

// ---- what the device reads and writes --------------------------------------------

// Transmit over many laps with chains of 1..3 descriptors (straddling the
// end of the ring), checking every used descriptor the device writes.
TEST(PackedDevice, TransmitUsedDescriptorsOverManyLaps) {
  PackedWorld w;
  ASSERT_TRUE(w.drv->init_modern_packed(kPacked, 16));
  std::vector<std::vector<uint8_t>> got;
  w.dev->set_tx_capture_limit(1000);
  for (uint16_t i = 0; i < 200; ++i) {
    const uint16_t n = uint16_t(1 + i % 3);
    const auto frame = test_frame(60 + i, uint8_t(i));
    auto b = w.drv->buffer(12 + frame.size());
    std::memset(b.host, 0, 12);
    std::memcpy(b.host + 12, frame.data(), frame.size());
    std::vector<Seg> segs;
    const uint32_t total = uint32_t(12 + frame.size());
    for (uint16_t k = 0, off = 0; k < n; ++k) {
      const uint32_t len = k + 1 < n ? total / n : total - off;
      segs.push_back(Seg{b.device_addr + off, len, false});
      off = uint16_t(off + len);
    }
    const uint16_t used_pos = w.tx().last_used;
    const bool wrap = w.tx().used_wrap;
    w.tx().offer(segs, uint16_t(i % 7));
    w.notify_tx();
    uint16_t id;
    uint32_t len;
    ASSERT_TRUE(w.tx().take_used(n, &id, &len)) << "chain " << i;
    EXPECT_EQ(id, i % 7);
    EXPECT_EQ(len, 0u);
    // AVAIL = USED = the used wrap counter, no WRITE (nothing written).
    EXPECT_EQ(w.tx().flags_at(used_pos), wrap ? kAvailBit | kUsedBit : 0) << "chain " << i;
    EXPECT_EQ(w.dev->captured_tx().back(), frame);
  }
  EXPECT_EQ(w.dev->counters().tx_frames, 200u);
  EXPECT_TRUE(w.dev->conformance().empty()) << reports(*w.dev);
}

TEST(PackedDevice, ReceiveWritesHeaderAndFrameAndSetsWrite) {
  PackedWorld w;
  ASSERT_TRUE(w.drv->init_modern_packed(kPacked, 8));
  for (uint16_t i = 0; i < 30; ++i) {
    auto b = w.drv->buffer(2048);
    // Two writable descriptors: 12 bytes of header room, then the rest.
    w.rx().offer({{b.device_addr, 12, true}, {b.device_addr + 12, 2036, true}}, uint16_t(100 + i));
    const uint16_t used_pos = w.rx().last_used;
    const bool wrap = w.rx().used_wrap;
    const auto frame = test_frame(64 + i, uint8_t(i));
    ASSERT_TRUE(w.dev->inject_rx(frame)) << i;
    uint16_t id;
    uint32_t len;
    ASSERT_TRUE(w.rx().take_used(2, &id, &len)) << i;
    EXPECT_EQ(id, 100 + i);
    EXPECT_EQ(len, 12 + frame.size());
    EXPECT_EQ(w.rx().flags_at(used_pos), (wrap ? kAvailBit | kUsedBit : 0) | kWrite);
    EXPECT_EQ(spec::load_le16(b.host + 10), 1) << "num_buffers";
    EXPECT_TRUE(std::equal(frame.begin(), frame.end(), b.host + 12));
  }
  EXPECT_EQ(w.dev->rx_available(), 0);
  EXPECT_TRUE(w.dev->conformance().empty()) << reports(*w.dev);
}

TEST(PackedDevice, IndirectTablesOnTransmitAndReceive) {
  PackedWorld w;
  ASSERT_TRUE(w.drv->init_modern_packed(kPacked | fmask(F::kIndirectDesc), 8));
  // tx: header and frame in three table entries.
  const auto frame = test_frame(300, 9);
  auto b = w.drv->buffer(12 + frame.size());
  std::memset(b.host, 0, 12);
  std::memcpy(b.host + 12, frame.data(), frame.size());
  auto table = w.drv->buffer(3 * 16);
  TestPackedRing t;
  t.desc = table.host;
  t.put(0, b.device_addr, 12, 0, 0);
  t.put(1, b.device_addr + 12, 100, 0, 0);
  t.put(2, b.device_addr + 112, uint32_t(frame.size() - 100), 0, 0);
  w.dev->set_tx_capture_limit(4);
  w.tx().offer({{table.device_addr, 48, false}}, 3, kIndirect);
  w.notify_tx();
  ASSERT_EQ(w.dev->captured_tx().size(), 1u);
  EXPECT_EQ(w.dev->captured_tx()[0], frame);
  uint16_t id;
  uint32_t len;
  ASSERT_TRUE(w.tx().take_used(1, &id, &len));  // one ring descriptor
  EXPECT_EQ(id, 3);
  // rx: two writable entries.
  auto rb = w.drv->buffer(2048);
  auto rt = w.drv->buffer(2 * 16);
  t.desc = rt.host;
  t.put(0, rb.device_addr, 20, 0, kWrite);
  t.put(1, rb.device_addr + 20, 2028, 0, kWrite);
  w.rx().offer({{rt.device_addr, 32, false}}, 5, kIndirect);
  ASSERT_TRUE(w.dev->inject_rx(frame));
  ASSERT_TRUE(w.rx().take_used(1, &id, &len));
  EXPECT_EQ(id, 5);
  EXPECT_EQ(len, 12 + frame.size());
  EXPECT_TRUE(std::equal(frame.begin(), frame.end(), rb.host + 12));
  EXPECT_TRUE(w.dev->conformance().empty()) << reports(*w.dev);
}

// ---- event suppression --------------------------------------------------------

TEST(PackedDevice, DriverEventDecidesInterrupts) {
  PackedWorld w;
  ASSERT_TRUE(w.drv->init_modern_packed(kPacked | fmask(F::kEventIdx), 8));
  auto rx_one = [&](uint16_t id) {
    auto b = w.drv->buffer(2048);
    w.rx().offer({{b.device_addr, 2048, true}}, id);
    EXPECT_TRUE(w.dev->inject_rx(test_frame(64)));
    uint16_t i;
    uint32_t l;
    EXPECT_TRUE(w.rx().take_used(1, &i, &l));
  };
  uint64_t irq = w.dev->counters().interrupts;
  rx_one(0);  // ENABLE (a zeroed structure)
  EXPECT_EQ(w.dev->counters().interrupts, ++irq);
  w.rx().set_driver_event(spec::kPackedEventDisable);
  rx_one(1);
  EXPECT_EQ(w.dev->counters().interrupts, irq);
  // DESC at position 4 of this lap: the used descriptors at 2 and 3 do not
  // interrupt, the one at 4 does.
  w.rx().set_driver_event(spec::kPackedEventDesc, 4 | 0x8000);
  rx_one(2);
  rx_one(3);
  EXPECT_EQ(w.dev->counters().interrupts, irq);
  rx_one(4);
  EXPECT_EQ(w.dev->counters().interrupts, ++irq);
  rx_one(5);
  EXPECT_EQ(w.dev->counters().interrupts, irq);
  // The next lap's position 1 (wrap 0): 6, 7, then 0 of lap 2 stay quiet.
  w.rx().set_driver_event(spec::kPackedEventDesc, 1);
  rx_one(6);
  rx_one(7);
  rx_one(0);
  EXPECT_EQ(w.dev->counters().interrupts, irq);
  rx_one(1);
  EXPECT_EQ(w.dev->counters().interrupts, ++irq);
  EXPECT_TRUE(w.dev->conformance().empty()) << reports(*w.dev);
}

TEST(PackedDevice, DeviceEventStructureFollowsTheMode) {
  PackedWorld w;
  ASSERT_TRUE(w.drv->init_modern_packed(kPacked | fmask(F::kEventIdx), 8));
  EXPECT_EQ(w.tx().device_event_flags(), spec::kPackedEventEnable);
  ASSERT_TRUE(w.dev->set_packed_device_event(1, PackedEventMode::kDisable));
  EXPECT_EQ(w.tx().device_event_flags(), spec::kPackedEventDisable);
  ASSERT_TRUE(w.dev->set_packed_device_event(1, PackedEventMode::kDesc));
  EXPECT_EQ(w.tx().device_event_flags(), spec::kPackedEventDesc);
  EXPECT_EQ(w.tx().device_event_off_wrap(), 0x8000);  // position 0, wrap 1
  for (uint16_t i = 0; i < 9; ++i) {
    w.drv->send_packed(test_frame(60), i % 4);
    w.notify_tx();
    uint16_t id;
    uint32_t len;
    ASSERT_TRUE(w.tx().take_used(1, &id, &len));
  }
  // Nine consumed: the next avail position is 1 of lap 2 (wrap 0).
  EXPECT_EQ(w.tx().device_event_off_wrap(), 1);
  ASSERT_TRUE(w.dev->set_packed_device_event(1, PackedEventMode::kDesc, 5 | 0x8000));
  EXPECT_EQ(w.tx().device_event_off_wrap(), 5 | 0x8000);
  EXPECT_FALSE(w.dev->set_packed_device_event(2, PackedEventMode::kDesc)) << "not set up";
  EXPECT_TRUE(w.dev->conformance().empty()) << reports(*w.dev);
}

// ---- each driver rule, planted ----------------------------------------------------

TEST(PackedDeviceRules, HeadWithAvailAndUsedBothSet) {
  PackedWorld w;
  ASSERT_TRUE(w.drv->init_modern_packed(kPacked));
  auto b = w.drv->buffer(72);
  w.tx().put(0, b.device_addr, 72, 0, kAvailBit | kUsedBit);  // (1, 1) in lap 1
  w.notify_tx();
  EXPECT_TRUE(w.fired("def-2.8.1-1")) << reports(*w.dev);
  EXPECT_EQ(w.dev->counters().tx_frames, 0u);
}

TEST(PackedDeviceRules, ChainMemberNotAvailable) {
  PackedWorld w;
  ASSERT_TRUE(w.drv->init_modern_packed(kPacked));
  auto b = w.drv->buffer(72);
  w.tx().put(1, b.device_addr + 12, 60, 0, kUsedBit);  // lap 0's pattern: not available
  w.tx().put(0, b.device_addr, 12, 0, kAvailBit | kNext);
  w.notify_tx();
  EXPECT_TRUE(w.fired("drv-2.8.17-6")) << reports(*w.dev);
  EXPECT_TRUE(w.dev->ring(1).halted());
}

TEST(PackedDeviceRules, ChainLongerThanTheQueue) {
  PackedWorld w;
  ASSERT_TRUE(w.drv->init_modern_packed(kPacked, 8));
  auto b = w.drv->buffer(8 * 16);
  std::vector<Seg> segs;
  for (int i = 0; i < 8; ++i) segs.push_back(Seg{b.device_addr + 16u * i, 16, false});
  w.tx().offer(segs, 0);
  // The last one links on too: the chain runs past the whole ring.
  w.tx().put(7, b.device_addr + 112, 16, 0, kAvailBit | kNext);
  w.notify_tx();
  EXPECT_TRUE(w.fired("drv-2.8.17-2")) << reports(*w.dev);
}

TEST(PackedDeviceRules, ReadableAfterWritable) {
  PackedWorld w;
  ASSERT_TRUE(w.drv->init_modern_packed(kPacked));
  auto b = w.drv->buffer(2048);
  w.rx().offer({{b.device_addr, 1024, true}, {b.device_addr + 1024, 1024, false}}, 0);
  w.dev->inject_rx(test_frame(60));
  EXPECT_TRUE(w.fired("drv-2.8.17-3")) << reports(*w.dev);
}

TEST(PackedDeviceRules, ReadableAfterWritableInsideAnIndirectTable) {
  PackedWorld w;
  ASSERT_TRUE(w.drv->init_modern_packed(kPacked | fmask(F::kIndirectDesc)));
  auto b = w.drv->buffer(2048);
  auto t = w.drv->buffer(32);
  TestPackedRing table;
  table.desc = t.host;
  table.put(0, b.device_addr, 1024, 0, kWrite);
  table.put(1, b.device_addr + 1024, 1024, 0, 0);
  w.rx().offer({{t.device_addr, 32, false}}, 0, kIndirect);
  w.dev->inject_rx(test_frame(60));
  EXPECT_TRUE(w.fired("drv-2.8.17-3")) << reports(*w.dev);
}

TEST(PackedDeviceRules, BufferIdReusedWhileInFlight) {
  PackedWorld w;
  ASSERT_TRUE(w.drv->init_modern_packed(kPacked));
  w.dev->hold_completions(1, 0, 0);  // consumed, never completed
  w.drv->send_packed(test_frame(60), 5);
  w.notify_tx();
  EXPECT_TRUE(w.dev->ring(1).packed_ring().in_flight(5));
  EXPECT_TRUE(w.dev->conformance().empty()) << reports(*w.dev);
  w.drv->send_packed(test_frame(61), 5);  // id 5 again
  w.notify_tx();
  EXPECT_TRUE(w.fired("def-2.8.13-1")) << reports(*w.dev);
  // The same on the receive path (walk before pop).
  PackedWorld r;
  ASSERT_TRUE(r.drv->init_modern_packed(kPacked));
  r.dev->hold_completions(0, 0, 0);
  auto b1 = r.drv->buffer(2048), b2 = r.drv->buffer(2048);
  r.rx().offer({{b1.device_addr, 2048, true}}, 9);
  r.rx().offer({{b2.device_addr, 2048, true}}, 9);
  EXPECT_TRUE(r.dev->inject_rx(test_frame(60)));
  EXPECT_FALSE(r.dev->inject_rx(test_frame(60)));
  EXPECT_TRUE(r.fired("def-2.8.13-1")) << reports(*r.dev);
}

TEST(PackedDeviceRules, DescriptorMadeAvailableBeforeTheDeviceUsedIt) {
  PackedWorld w;
  ASSERT_TRUE(w.drv->init_modern_packed(kPacked, 8));
  w.dev->set_tx_capture_limit(0);
  w.dev->hold_completions(1, 0, 0);
  for (uint16_t i = 0; i < 3; ++i) w.drv->send_packed(test_frame(60), i);
  w.notify_tx();  // three positions the device holds
  EXPECT_TRUE(w.dev->conformance().empty()) << reports(*w.dev);
  // Five free positions (3..7); a sixth chain lands on position 0, which
  // the device has not used.
  for (uint16_t i = 3; i < 9; ++i) w.drv->send_packed(test_frame(60), i);
  w.notify_tx();
  EXPECT_TRUE(w.fired("drv-2.8.16-1")) << reports(*w.dev);
}

TEST(PackedDeviceRules, IndirectWithoutTheFeature) {
  PackedWorld w;
  ASSERT_TRUE(w.drv->init_modern_packed(kPacked));  // INDIRECT_DESC offered, not accepted
  auto t = w.drv->buffer(16);
  w.tx().offer({{t.device_addr, 16, false}}, 0, kIndirect);
  w.notify_tx();
  EXPECT_TRUE(w.fired("drv-2.8.19-1")) << reports(*w.dev);
}

TEST(PackedDeviceRules, IndirectTableEntryWithNextOrIndirect) {
  for (uint16_t bad : {kNext, kIndirect, kAvailBit}) {
    PackedWorld w;
    ASSERT_TRUE(w.drv->init_modern_packed(kPacked | fmask(F::kIndirectDesc)));
    auto b = w.drv->buffer(72);
    auto t = w.drv->buffer(32);
    TestPackedRing table;
    table.desc = t.host;
    table.put(0, b.device_addr, 12, 0, bad);
    table.put(1, b.device_addr + 12, 60, 0, 0);
    w.tx().offer({{t.device_addr, 32, false}}, 0, kIndirect);
    w.notify_tx();
    EXPECT_TRUE(w.fired("drv-2.8.19-2")) << bad << "\n" << reports(*w.dev);
  }
}

TEST(PackedDeviceRules, IndirectTableLongerThanTheQueue) {
  PackedWorld w;
  ASSERT_TRUE(w.drv->init_modern_packed(kPacked | fmask(F::kIndirectDesc), 8));
  auto b = w.drv->buffer(9 * 16);
  auto t = w.drv->buffer(9 * 16);
  TestPackedRing table;
  table.desc = t.host;
  for (uint16_t i = 0; i < 9; ++i) table.put(i, b.device_addr + 16u * i, 16, 0, 0);
  w.tx().offer({{t.device_addr, 9 * 16, false}}, 0, kIndirect);
  w.notify_tx();
  EXPECT_TRUE(w.fired("drv-2.8.19-3")) << reports(*w.dev);
}

TEST(PackedDeviceRules, IndirectInANextLinkedList) {
  {
    PackedWorld w;  // INDIRECT | NEXT on the head
    ASSERT_TRUE(w.drv->init_modern_packed(kPacked | fmask(F::kIndirectDesc)));
    auto t = w.drv->buffer(16);
    auto b = w.drv->buffer(72);
    w.tx().offer({{t.device_addr, 16, false}, {b.device_addr, 72, false}}, 0, kIndirect);
    w.notify_tx();
    EXPECT_TRUE(w.fired("drv-2.8.19-4")) << reports(*w.dev);
  }
  {
    PackedWorld w;  // INDIRECT on the second descriptor of a list
    ASSERT_TRUE(w.drv->init_modern_packed(kPacked | fmask(F::kIndirectDesc)));
    auto t = w.drv->buffer(16);
    auto b = w.drv->buffer(72);
    w.tx().put(1, t.device_addr, 16, 0, kAvailBit | kIndirect);
    w.tx().put(0, b.device_addr, 12, 0, kAvailBit | kNext);
    w.notify_tx();
    EXPECT_TRUE(w.fired("drv-2.8.19-4")) << reports(*w.dev);
  }
}

TEST(PackedDeviceRules, IndirectTableLengthZeroOrNotAMultipleOf16) {
  for (uint32_t len : {0u, 20u}) {
    PackedWorld w;
    ASSERT_TRUE(w.drv->init_modern_packed(kPacked | fmask(F::kIndirectDesc)));
    auto t = w.drv->buffer(32);
    w.tx().offer({{t.device_addr, len, false}}, 0, kIndirect);
    w.notify_tx();
    EXPECT_TRUE(w.fired("def-2.8.7-1")) << len << "\n" << reports(*w.dev);
  }
}

TEST(PackedDeviceRules, BufferOutsideGuestMemory) {
  PackedWorld w;
  ASSERT_TRUE(w.drv->init_modern_packed(kPacked));
  w.tx().offer({{0x7FFF'0000'0000, 72, false}}, 0);
  w.notify_tx();
  EXPECT_TRUE(w.fired("drv-6.1-4")) << reports(*w.dev);
  EXPECT_TRUE(w.dev->conformance().has("2.8"));
}

TEST(PackedDeviceRules, BufferOutsideEveryIommuMapping) {
  PackedWorld w(fmask(F::kAccessPlatform));
  w.dev->dma_mappings().set_enabled(true);
  // The rings are coherent; the buffer's address was never mapped.
  w.dev->dma_mappings().add_coherent(w.mem.base(), 16 << 20);
  ASSERT_TRUE(w.drv->init_modern_packed(kPacked | fmask(F::kAccessPlatform)));
  w.dev->dma_mappings().remove_coherent(w.mem.base());
  w.tx().offer({{DmaMappings::kIovaBase + 0x1000, 72, false}}, 0);
  w.notify_tx();
  EXPECT_TRUE(w.fired("drv-6.1-3")) << reports(*w.dev);
}

TEST(PackedDeviceRules, DriverEventFlagsReservedOrDescWithoutEventIdx) {
  {
    PackedWorld w;
    ASSERT_TRUE(w.drv->init_modern_packed(kPacked | fmask(F::kEventIdx)));
    w.tx().set_driver_event(3);
    w.drv->send_packed(test_frame(60), 0);
    w.notify_tx();
    EXPECT_TRUE(w.fired("def-2.8.14-1")) << reports(*w.dev);
  }
  {
    PackedWorld w;
    ASSERT_TRUE(w.drv->init_modern_packed(kPacked));  // no EVENT_IDX
    w.tx().set_driver_event(spec::kPackedEventDesc, 0x8001);
    w.drv->send_packed(test_frame(60), 0);
    w.notify_tx();
    EXPECT_TRUE(w.fired("def-2.8.14-1")) << reports(*w.dev);
  }
}

// ---- virtio-mmio version 2 ------------------------------------------------------

TEST(PackedDevice, MmioV2RegistersNameTheThreeParts) {
  PackedWorld w(0, 256, TransportKind::kMmioV2);
  namespace mm = spec::mmio;
  auto& d = *w.drv;
  d.mmio_identity();
  d.mmio_status(0);
  d.mmio_status(st::kAcknowledge);
  d.mmio_status(st::kAcknowledge | st::kDriver);
  d.mw(mm::kDeviceFeaturesSel, 1);
  EXPECT_TRUE(d.mr(mm::kDeviceFeatures) & (1u << 2)) << "RING_PACKED (bit 34) offered";
  d.mmio_write_features(kPacked, false);
  d.mmio_status(st::kAcknowledge | st::kDriver | st::kFeaturesOk);
  TestPackedRing rings[2] = {d.alloc_packed_ring(50), d.alloc_packed_ring(50)};
  for (uint16_t q = 0; q < 2; ++q) {
    TestPackedRing& r = rings[q];
    d.mw(mm::kQueueSel, q);
    d.mw(mm::kQueueNum, r.size);
    d.mw(mm::kQueueDescLow, uint32_t(r.desc_addr));
    d.mw(mm::kQueueDescHigh, uint32_t(r.desc_addr >> 32));
    d.mw(mm::kQueueDriverLow, uint32_t(r.driver_addr));
    d.mw(mm::kQueueDriverHigh, uint32_t(r.driver_addr >> 32));
    d.mw(mm::kQueueDeviceLow, uint32_t(r.device_addr));
    d.mw(mm::kQueueDeviceHigh, uint32_t(r.device_addr >> 32));
    d.mw(mm::kQueueReady, 1);
  }
  d.mmio_status(st::kAcknowledge | st::kDriver | st::kFeaturesOk | st::kDriverOk);
  ASSERT_TRUE(w.dev->ring(1).packed());
  EXPECT_EQ(w.dev->ring(1).packed_ring().addresses().driver, rings[1].driver_addr);
  EXPECT_EQ(w.dev->ring(1).packed_ring().addresses().device, rings[1].device_addr);
  w.dev->set_tx_capture_limit(4);
  auto b = d.buffer(72);
  std::memset(b.host, 0, 12);
  rings[1].offer({{b.device_addr, 72, false}}, 7);
  d.mw(mm::kQueueNotify, 1);
  uint16_t id;
  uint32_t len;
  ASSERT_TRUE(rings[1].take_used(1, &id, &len));
  EXPECT_EQ(id, 7);
  EXPECT_EQ(w.dev->captured_tx().size(), 1u);
  EXPECT_TRUE(w.dev->conformance().empty()) << reports(*w.dev);
}

}  // namespace
}  // namespace vnet::mock
