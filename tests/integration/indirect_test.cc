// Indirect descriptors (VIRTIO_F_INDIRECT_DESC) in the mock world, split
// ring:
//  * the mock device's split queue reading indirect tables (2.7.5.3), and
//    each conformance rule of the driver's side of 2.7.5.3.1 firing on a
//    hand-made ring (DeviceQueue driven directly);
//  * VirtioNet's tx scatter-gather over the mock device, with INDIRECT_DESC
//    negotiated and without it: frames byte-exact, the indirect policy,
//    the refusals (never a truncation), and every fragment back to the pool
//    exactly once on completion, drop and reset.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <numeric>
#include <vector>

#include "driver/spec/split_ring_layout.h"
#include "mock_device/device_queue.h"
#include "tests/integration/mock_world.h"

namespace vnet {
namespace {

using F = spec::Feature;
using testing::MockWorld;
using testing::violations;

// ---- the device side: DeviceQueue::walk over indirect tables -------------

class DeviceIndirect : public ::testing::Test {
 protected:
  static constexpr uint16_t kSize = 8;
  void SetUp() override { configure(true); }
  void configure(bool indirect) {
    base = mem.base();
    mock::DeviceQueue::Addresses a{base, base + 0x1000, base + 0x2000};
    ASSERT_TRUE(q.configure(mem, conf, 1, kSize, a, false, indirect));
  }
  uint8_t* at(uint64_t addr) { return mem.translate(addr, 16); }
  void desc(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
            uint16_t next) {
    uint8_t* d = at(table + 16 * i);
    std::memcpy(d, &addr, 8);
    std::memcpy(d + 8, &len, 4);
    std::memcpy(d + 12, &flags, 2);
    std::memcpy(d + 14, &next, 2);
  }
  // Makes head available and walks it.
  mock::Chain walk(uint16_t head) {
    uint8_t* avail = at(base + 0x1000);
    const uint16_t idx = static_cast<uint16_t>(avail_idx_ + 1);
    std::memcpy(avail + 4 + 2 * (avail_idx_ % kSize), &head, 2);
    std::memcpy(avail + 2, &idx, 2);
    avail_idx_ = idx;
    mock::Chain c;
    EXPECT_EQ(q.available(), 1);
    q.walk(q.pop(), &c);
    return c;
  }
  uint64_t table() const { return base + 0x3000; }
  uint64_t buf(int i) const { return base + 0x10000 + 0x1000 * static_cast<uint64_t>(i); }
  bool fired(std::string_view id) const { return conf.has(id); }
  std::string violations_text() const {
    std::string s;
    for (const auto& v : conf.violations()) s += v.id + ": " + v.message + "\n";
    return s;
  }

  mock::GuestMemory mem{1 << 20};
  mock::Conformance conf;
  mock::DeviceQueue q;
  uint64_t base = 0;
  uint16_t avail_idx_ = 0;
};

TEST_F(DeviceIndirect, ReadsATableAndDirectDescriptorsBeforeIt) {
  // 2.7.5.3.2: zero or more direct descriptors, then one INDIRECT (whose
  // WRITE flag the device ignores); the table chains from entry 0.
  desc(base, 0, buf(0), 10, spec::kDescFlagNext, 5);
  desc(base, 5, table(), 48, spec::kDescFlagIndirect | spec::kDescFlagWrite, 0);
  desc(table(), 0, buf(1), 20, spec::kDescFlagNext, 2);
  desc(table(), 2, buf(2), 30, spec::kDescFlagNext | spec::kDescFlagWrite, 1);
  desc(table(), 1, buf(3), 40, spec::kDescFlagWrite, 0);
  const mock::Chain c = walk(0);
  EXPECT_TRUE(c.ok) << violations_text();
  EXPECT_TRUE(conf.empty()) << violations_text();
  ASSERT_EQ(c.num_segments, 4);
  EXPECT_EQ(c.segments[0].len, 10u);
  EXPECT_EQ(c.segments[1].len, 20u);
  EXPECT_EQ(c.segments[2].len, 30u);
  EXPECT_EQ(c.segments[3].len, 40u);
  EXPECT_EQ(c.readable_bytes, 30u);
  EXPECT_EQ(c.writable_bytes, 70u);
  EXPECT_EQ(c.segments[1].data, mem.translate(buf(1), 20));
}

TEST_F(DeviceIndirect, IndirectWithoutTheFeature) {
  configure(false);
  desc(base, 0, table(), 16, spec::kDescFlagIndirect, 0);
  desc(table(), 0, buf(0), 20, 0, 0);
  EXPECT_FALSE(walk(0).ok);
  EXPECT_TRUE(fired("drv-2.7.5.3.1-1"));
}

TEST_F(DeviceIndirect, IndirectTogetherWithNext) {
  desc(base, 0, table(), 16, spec::kDescFlagIndirect | spec::kDescFlagNext, 1);
  desc(base, 1, buf(0), 20, 0, 0);
  desc(table(), 0, buf(1), 20, 0, 0);
  EXPECT_FALSE(walk(0).ok);
  EXPECT_TRUE(fired("drv-2.7.5.3.1-4"));
}

TEST_F(DeviceIndirect, IndirectInsideATable) {
  desc(base, 0, table(), 32, spec::kDescFlagIndirect, 0);
  desc(table(), 0, buf(0), 20, spec::kDescFlagNext, 1);
  desc(table(), 1, table(), 32, spec::kDescFlagIndirect, 0);
  EXPECT_FALSE(walk(0).ok);
  EXPECT_TRUE(fired("drv-2.7.5.3.1-2"));
}

TEST_F(DeviceIndirect, TableLengthNotANonzeroMultipleOf16) {
  desc(table(), 0, buf(0), 20, 0, 0);
  for (uint32_t len : {0u, 24u}) {
    SCOPED_TRACE(len);
    conf.clear();
    desc(base, 0, table(), len, spec::kDescFlagIndirect, 0);
    EXPECT_FALSE(walk(0).ok);
    EXPECT_TRUE(fired("def-2.7.5.3-1"));
  }
}

TEST_F(DeviceIndirect, TableNextOutsideTheTable) {
  desc(base, 0, table(), 32, spec::kDescFlagIndirect, 0);
  desc(table(), 0, buf(0), 20, spec::kDescFlagNext, 2);  // a table of 2 entries
  desc(table(), 1, buf(1), 20, 0, 0);
  EXPECT_FALSE(walk(0).ok);
  EXPECT_TRUE(fired("def-2.7.5.3-1"));
}

TEST_F(DeviceIndirect, TableLongerThanTheQueue) {
  desc(base, 0, table(), 16 * (kSize + 1), spec::kDescFlagIndirect, 0);
  for (uint16_t i = 0; i <= kSize; ++i)
    desc(table(), i, buf(i), 20, i < kSize ? spec::kDescFlagNext : 0, static_cast<uint16_t>(i + 1));
  EXPECT_FALSE(walk(0).ok);
  EXPECT_TRUE(fired("drv-2.7.5.3.1-3"));
}

TEST_F(DeviceIndirect, TableLoop) {
  desc(base, 0, table(), 32, spec::kDescFlagIndirect, 0);
  desc(table(), 0, buf(0), 20, spec::kDescFlagNext, 1);
  desc(table(), 1, buf(1), 20, spec::kDescFlagNext, 0);
  EXPECT_FALSE(walk(0).ok);
  EXPECT_TRUE(fired("drv-2.7.5.2-1"));
}

TEST_F(DeviceIndirect, ReadableAfterWritableAcrossTheTable) {
  desc(base, 0, buf(0), 10, spec::kDescFlagNext | spec::kDescFlagWrite, 1);
  desc(base, 1, table(), 16, spec::kDescFlagIndirect, 0);
  desc(table(), 0, buf(1), 20, 0, 0);
  EXPECT_FALSE(walk(0).ok);
  EXPECT_TRUE(fired("drv-2.7.4.2-1"));
}

// ---- VirtioNet tx scatter-gather over the mock device --------------------

struct SgCase {
  mock::TransportKind kind;
  bool indirect;
  bool any_layout;  // legacy only: false puts the header in its own descriptor
  const char* name;
};

class NetSg : public ::testing::TestWithParam<SgCase> {
 protected:
  void SetUp() override {
    mock::DeviceConfig c;
    c.transport = GetParam().kind;
    c.tx_capture_limit = 1 << 20;
    if (!GetParam().any_layout) c.features &= ~spec::feature_mask(F::kAnyLayout);
    w = std::make_unique<MockWorld>(c);
    NetOptions o;
    o.accept_indirect_desc = GetParam().indirect;
    ASSERT_EQ(w->attach(o), AttachError::kOk);
    ASSERT_EQ(w->net().state(), NetState::kRunning);
  }
  void TearDown() override {
    w->net().stop();
    EXPECT_TRUE(w->pool().all_returned()) << w->pool().outstanding() << " buffers lent";
    EXPECT_EQ(w->pool().double_frees(), 0u);
    EXPECT_EQ(w->pool().foreign_frees(), 0u);
    EXPECT_EQ(w->platform().dma_live(), 0u);
    EXPECT_EQ(w->platform().dma_maps_live(), 0);
    EXPECT_TRUE(w->device().conformance().empty()) << violations(w->device());
  }
  bool indirect() const { return GetParam().indirect; }
  uint16_t header_segments() const { return GetParam().any_layout ? 0 : 1; }

  // A frame of `frags` fragments, `each` bytes each (the first one also
  // carries the Ethernet header), as a fragment chain of pool buffers.
  PacketBuffer* chain(uint16_t frags, uint32_t each, std::vector<uint8_t>* bytes, uint8_t seed) {
    bytes->clear();
    PacketBuffer* first = nullptr;
    PacketBuffer* last = nullptr;
    for (uint16_t i = 0; i < frags; ++i) {
      std::vector<uint8_t> part(i == 0 ? each + 14 : each);
      for (size_t k = 0; k < part.size(); ++k) part[k] = static_cast<uint8_t>(seed + i * 31 + k);
      if (i == 0) std::memset(part.data(), 0xFF, 6);
      PacketBuffer* b = w->pool().alloc_tx(part);
      EXPECT_NE(b, nullptr);
      bytes->insert(bytes->end(), part.begin(), part.end());
      if (first == nullptr) first = b;
      if (last != nullptr) last->next = b;
      last = b;
    }
    return first;
  }
  // Frees a chain the driver did not take.
  void give_back(PacketBuffer* b) {
    while (b != nullptr) {
      PacketBuffer* n = b->next;
      b->next = nullptr;
      w->pool().free(b);
      b = n;
    }
  }
  const NetCounters& counters() { return w->net().counters(); }

  std::unique_ptr<MockWorld> w;
};

TEST_P(NetSg, IndirectIsNegotiatedOnlyWhenAskedFor) {
  EXPECT_EQ(spec::has_feature(w->net().negotiated_features(), F::kIndirectDesc), indirect());
  EXPECT_EQ(w->net().indirect_tx(), indirect());
  EXPECT_TRUE(spec::has_feature(w->net().device_features(), F::kIndirectDesc))
      << "the mock offers INDIRECT_DESC (as QEMU does)";
}

TEST_P(NetSg, FramesOfEveryFragmentCountArriveByteExact) {
  const size_t slots = w->net().tx_frag_maps_free();
  std::vector<std::vector<uint8_t>> want;
  uint64_t expected_indirect = 0, expected_dropped = 0;
  for (uint16_t frags = 1; frags <= kMaxTxFragments; ++frags) {
    std::vector<uint8_t> bytes;
    PacketBuffer* b = chain(frags, 60, &bytes, static_cast<uint8_t>(frags));
    const uint16_t segments = static_cast<uint16_t>(frags + header_segments());
    const bool sent = indirect() || segments <= kMaxChainSegments;
    if (sent) want.push_back(bytes);
    if (!sent) ++expected_dropped;
    // The policy: more segments than a single-buffer frame takes -> a table.
    if (indirect() && frags > 1) ++expected_indirect;
    EXPECT_EQ(w->net().tx_burst(&b, 1), 1) << frags;
  }
  w->net().tx_reclaim();
  EXPECT_EQ(w->device().captured_tx(), want);
  EXPECT_EQ(counters().tx_indirect_chains, expected_indirect);
  EXPECT_EQ(counters().tx_drop_sg_segments, expected_dropped);
  EXPECT_EQ(counters().tx_packets, want.size());
  EXPECT_EQ(counters().tx_sg_packets, want.size() - 1);
  EXPECT_EQ(counters().tx_completed, want.size());
  EXPECT_EQ(w->net().tx_queue().indirect_chains(), expected_indirect);
  EXPECT_EQ(w->net().tx_frag_maps_free(), slots);
  EXPECT_EQ(w->net().tx_queue().in_flight(), 0);
}

TEST_P(NetSg, ABurstMixesSingleBuffersAndChains) {
  std::vector<PacketBuffer*> frames;
  std::vector<std::vector<uint8_t>> want;
  for (int i = 0; i < 64; ++i) {
    std::vector<uint8_t> bytes;
    const uint16_t frags = static_cast<uint16_t>(1 + i % 3);  // up to 3 + a header: direct too
    frames.push_back(chain(frags, 100, &bytes, static_cast<uint8_t>(i)));
    want.push_back(bytes);
  }
  EXPECT_EQ(w->net().tx_burst(frames.data(), 64), 64);
  w->net().tx_reclaim();
  EXPECT_EQ(w->device().captured_tx(), want);
  EXPECT_EQ(counters().tx_drop_sg_segments, 0u);
}

TEST_P(NetSg, ChainsBeyondTheLimitsAreDroppedWholeNeverTruncated) {
  std::vector<uint8_t> bytes;
  // 17 fragments: above kMaxTxFragments.
  PacketBuffer* b = chain(kMaxTxFragments + 1, 20, &bytes, 1);
  EXPECT_EQ(w->net().tx_burst(&b, 1), 1);
  EXPECT_EQ(counters().tx_drop_sg_fragments, 1u);
  // A fragment out of its buffer's bounds, and one of length 0.
  b = chain(3, 20, &bytes, 2);
  b->next->len = b->next->capacity;  // offset kTxHeadroom + capacity > capacity
  EXPECT_EQ(w->net().tx_burst(&b, 1), 1);
  b = chain(3, 20, &bytes, 3);
  b->next->next->len = 0;
  EXPECT_EQ(w->net().tx_burst(&b, 1), 1);
  EXPECT_EQ(counters().tx_drop_sg_bounds, 2u);
  // A frame above mtu + 14 in total, though every fragment is small.
  b = chain(4, 400, &bytes, 4);
  EXPECT_EQ(w->net().tx_burst(&b, 1), 1);
  EXPECT_EQ(counters().tx_drop_len, 1u);
  // No headroom for the header in the first fragment.
  b = chain(2, 20, &bytes, 5);
  b->offset = 0;
  EXPECT_EQ(w->net().tx_burst(&b, 1), 1);
  EXPECT_EQ(counters().tx_drop_headroom, 1u);
  w->net().tx_reclaim();
  EXPECT_TRUE(w->device().captured_tx().empty());
  EXPECT_EQ(counters().tx_packets, 0u);
  // Every fragment of every dropped chain is back (only rx buffers lent).
  EXPECT_EQ(w->pool().outstanding(), w->net().rx_queue().in_flight());
}

TEST_P(NetSg, AResetReturnsEveryFragmentOfFramesInFlightOnce) {
  // The device holds on to what it was given: the frames stay in flight
  // until stop() resets the device and drains the ring.
  w->device().hold_completions(VirtioNet::kTxQueue, 1000, 1000000);
  std::vector<PacketBuffer*> frames;
  std::vector<uint8_t> bytes;
  for (int i = 0; i < 20; ++i)
    frames.push_back(chain(static_cast<uint16_t>(1 + i % 4), 50, &bytes, 9));
  const uint16_t taken = w->net().tx_burst(frames.data(), 20);
  EXPECT_EQ(taken, 20);
  EXPECT_GT(w->net().tx_queue().in_flight(), 0);
  // TearDown stops the device: all_returned and no double free.
}

TEST_P(NetSg, AFailedMappingLeavesTheChainWithTheCaller) {
  std::vector<uint8_t> bytes;
  PacketBuffer* b = chain(3, 50, &bytes, 7);  // direct everywhere (a header apart: 4)
  const size_t slots = w->net().tx_frag_maps_free();
  const int64_t maps_before = w->platform().dma_maps_live();
  w->platform().set_map_budget(2);  // the header fragment and one more map
  EXPECT_EQ(w->net().tx_burst(&b, 1), 0);
  EXPECT_EQ(counters().tx_map_failed, 1u);
  EXPECT_EQ(w->platform().dma_maps_live(), maps_before);
  EXPECT_EQ(w->net().tx_frag_maps_free(), slots);
  w->platform().set_map_budget(-1);
  EXPECT_EQ(w->net().tx_burst(&b, 1), 1);
  w->net().tx_reclaim();
  ASSERT_EQ(w->device().captured_tx().size(), 1u);
  EXPECT_EQ(w->device().captured_tx()[0], bytes);
}

INSTANTIATE_TEST_SUITE_P(
    Worlds, NetSg,
    ::testing::Values(
        SgCase{mock::TransportKind::kModern, true, true, "modern_indirect"},
        SgCase{mock::TransportKind::kModern, false, true, "modern_direct"},
        SgCase{mock::TransportKind::kLegacy, true, true, "legacy_indirect"},
        SgCase{mock::TransportKind::kLegacy, false, true, "legacy_direct"},
        SgCase{mock::TransportKind::kLegacy, true, false, "legacy_header_apart_indirect"},
        SgCase{mock::TransportKind::kLegacy, false, false, "legacy_header_apart_direct"}),
    [](const ::testing::TestParamInfo<SgCase>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace vnet
