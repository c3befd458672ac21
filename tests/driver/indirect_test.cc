// Unit tests of indirect descriptors (VIRTIO_F_INDIRECT_DESC) on both ring
// kinds, through the Virtqueue interface the net layer drives: the table's
// contents, the one ring descriptor and its flags (split 2.7.5.3.1, packed
// 2.8.19/2.8.20), the order of the stores (the table before the index or
// flags that publish it), a table the driver never reads back, completion
// lengths against the writable bytes posted, drain, and the table memory's
// lifetime.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "driver/virtqueue/virtqueue.h"
#include "tests/driver/ring_platform.h"

namespace vnet {
namespace {

using testing::kDeviceAddrOffset;
using testing::RingPlatform;

uint8_t* cpu(uint64_t device_addr) {
  return reinterpret_cast<uint8_t*>(device_addr - kDeviceAddrOffset);
}
void* cookie(int c) {
  return reinterpret_cast<void*>(static_cast<intptr_t>(c));
}

// n segments: readable ones, then `writable` writable ones of 100 bytes.
std::vector<Segment> segments(uint16_t n, uint16_t writable = 0) {
  std::vector<Segment> s;
  for (uint16_t i = 0; i < n; ++i)
    s.push_back(Segment{0x9000u + i * 0x1000u, 100u + i, i >= n - writable, nullptr});
  for (uint16_t i = static_cast<uint16_t>(n - writable); i < n; ++i) s[i].len = 100;
  return s;
}

class IndirectTest : public ::testing::TestWithParam<RingKind> {
 protected:
  static constexpr uint16_t kSize = 8;
  void SetUp() override { allocate(kSize); }
  void TearDown() override {
    q->drain([](void*, uint16_t) {});
    q->release();
    EXPECT_EQ(platform.live_allocations, 0);
  }
  void allocate(uint16_t size, uint16_t direct_max = 1) {
    ASSERT_TRUE(q->allocate(platform, GetParam(), 1, size, RingLayout::kSeparate));
    ASSERT_TRUE(q->enable_indirect(direct_max));
  }
  bool packed() const { return GetParam() == RingKind::kPacked; }

  // Ring descriptor d (split: index; packed: position): addr, len, flags.
  struct RingDesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next_or_id;
  };
  RingDesc ring_desc(uint16_t d) {
    if (packed()) {
      auto* r = reinterpret_cast<spec::PackedDesc*>(cpu(q->addresses().desc));
      return {r[d].addr.get(), r[d].len.get(), r[d].flags.get(), r[d].id.get()};
    }
    auto* r = reinterpret_cast<spec::VringDesc*>(cpu(q->addresses().desc));
    return {r[d].addr.get(), r[d].len.get(), r[d].flags.get(), r[d].next.get()};
  }
  // Table entry i of the table at device address table.
  RingDesc table_entry(uint64_t table, uint16_t i) {
    if (packed()) {
      auto* t = reinterpret_cast<spec::PackedDesc*>(cpu(table));
      return {t[i].addr.get(), t[i].len.get(), t[i].flags.get(), t[i].id.get()};
    }
    auto* t = reinterpret_cast<spec::VringDesc*>(cpu(table));
    return {t[i].addr.get(), t[i].len.get(), t[i].flags.get(), t[i].next.get()};
  }
  // Where the device looks for the ring descriptor of the chain announced
  // as c: split: the head descriptor; packed: the ring position.
  uint16_t ring_slot(const PublishedChain& c) { return packed() ? c.avail_idx : c.head; }

  // What the device published so far (split: avail.idx; packed: the head
  // flags' avail bit of position pos for wrap counter 1).
  uint16_t split_avail_idx() { return spec::load_le16(cpu(q->addresses().driver) + 2); }
  bool packed_available(uint16_t pos) {
    return (ring_desc(pos).flags & spec::kPackedDescFlagAvail) != 0;
  }

  // The device completes the chain announced as c with len.
  void device_complete(const PublishedChain& c, uint32_t len, uint16_t used_pos) {
    if (packed()) {
      auto* r = reinterpret_cast<spec::PackedDesc*>(cpu(q->addresses().desc));
      const uint16_t pos = static_cast<uint16_t>(used_pos % kSize);
      const bool wrap = (used_pos / kSize) % 2 == 0;
      r[pos].id.set(c.head);
      r[pos].len.set(len);
      r[pos].flags.set(wrap ? (spec::kPackedDescFlagAvail | spec::kPackedDescFlagUsed) : 0);
      return;
    }
    uint8_t* used = cpu(q->addresses().device);
    uint8_t* e = used + spec::used_elem_offset(used_pos % kSize);
    spec::store_le32(e, c.head);
    spec::store_le32(e + 4, len);
    spec::store_le16(used + 2, static_cast<uint16_t>(used_pos + 1));
  }

  RingPlatform platform;
  std::unique_ptr<Virtqueue> q = std::make_unique<Virtqueue>();
};

TEST_P(IndirectTest, TableAndTheOneRingDescriptor) {
  const auto s = segments(5, 2);
  uint16_t head = 99;
  ASSERT_TRUE(q->add_chain(s.data(), 5, cookie(1), &head));
  q->publish();
  EXPECT_EQ(q->free_count(), kSize - 1);  // one ring descriptor, not five
  EXPECT_EQ(q->indirect_chains(), 1u);
  ASSERT_EQ(platform.chains.size(), 1u);
  const PublishedChain& c = platform.chains[0];
  EXPECT_TRUE(c.indirect);
  EXPECT_EQ(c.head, head);
  EXPECT_EQ(c.num_segments, 5);
  EXPECT_NE(c.table_addr, 0u);
  EXPECT_EQ(c.table_addr % 16, 0u);
  // The ring descriptor: the table, 16 bytes per entry, INDIRECT only
  // (never NEXT, never WRITE; packed: plus the avail bits of the lap).
  const RingDesc r = ring_desc(ring_slot(c));
  EXPECT_EQ(r.addr, c.table_addr);
  EXPECT_EQ(r.len, 5u * 16);
  if (packed()) {
    EXPECT_EQ(r.flags, spec::kDescFlagIndirect | spec::kPackedDescFlagAvail);
    EXPECT_EQ(r.next_or_id, head);  // the buffer id in the ring descriptor (2.8.20)
  } else {
    EXPECT_EQ(r.flags, spec::kDescFlagIndirect);
    EXPECT_EQ(r.next_or_id, 0);
    const uint8_t* avail = cpu(q->addresses().driver);
    EXPECT_EQ(spec::load_le16(avail + 4), head);
  }
  for (uint16_t i = 0; i < 5; ++i) {
    SCOPED_TRACE(i);
    const RingDesc e = table_entry(c.table_addr, i);
    EXPECT_EQ(e.addr, s[i].addr);
    EXPECT_EQ(e.len, s[i].len);
    EXPECT_EQ(c.segments[i].desc, i);
    EXPECT_EQ(c.segments[i].len, s[i].len);
    EXPECT_EQ(c.segments[i].device_writable, s[i].device_writable);
    const uint16_t write = s[i].device_writable ? spec::kDescFlagWrite : 0;
    if (packed()) {
      // 2.8.19: WRITE is the only flag of a table entry; the id is reserved.
      EXPECT_EQ(e.flags, write);
      EXPECT_EQ(e.next_or_id, 0);
    } else {
      // 2.7.5.3: chained by next within the table, from 0; never INDIRECT.
      const bool last = i == 4;
      EXPECT_EQ(e.flags, write | (last ? 0 : spec::kDescFlagNext));
      EXPECT_EQ(e.next_or_id, last ? 0 : i + 1);
    }
  }
}

TEST_P(IndirectTest, ChainsUpToDirectMaxStayDirect) {
  const auto s = segments(1);
  ASSERT_TRUE(q->add_chain(s.data(), 1, cookie(1)));
  q->publish();
  ASSERT_EQ(platform.chains.size(), 1u);
  EXPECT_FALSE(platform.chains[0].indirect);
  EXPECT_EQ(q->indirect_chains(), 0u);
  EXPECT_EQ(ring_desc(ring_slot(platform.chains[0])).flags & spec::kDescFlagIndirect, 0);
  EXPECT_FALSE(q->uses_indirect(1));
  EXPECT_TRUE(q->uses_indirect(2));
}

TEST_P(IndirectTest, OneFreeDescriptorTakesAnIndirectChain) {
  const auto one = segments(1);
  for (int i = 0; i < kSize - 1; ++i) ASSERT_TRUE(q->add_chain(one.data(), 1, cookie(i + 1)));
  const auto s = segments(kSize);
  EXPECT_TRUE(q->can_add(kSize));
  EXPECT_TRUE(q->add_chain(s.data(), kSize, cookie(100)));
  EXPECT_EQ(q->free_count(), 0);
}

TEST_P(IndirectTest, NoChainLongerThanTheQueueOrTheTable) {
  // 2.7.5.3.1 / 2.8.20: a queue of 8 takes chains of at most 8 segments.
  EXPECT_EQ(q->max_segments(), kSize);
  const auto s = segments(kMaxIndirectSegments + 1);
  EXPECT_FALSE(q->add_chain(s.data(), kSize + 1, cookie(1)));
  EXPECT_TRUE(q->add_chain(s.data(), kSize, cookie(2)));
  q->drain([](void*, uint16_t) {});
  q->release();
  // A larger queue: at most a table (kMaxIndirectSegments).
  allocate(64);
  EXPECT_EQ(q->max_segments(), kMaxIndirectSegments);
  EXPECT_FALSE(q->add_chain(s.data(), kMaxIndirectSegments + 1, cookie(3)));
  EXPECT_EQ(q->in_flight(), 0);
  EXPECT_TRUE(q->add_chain(s.data(), kMaxIndirectSegments, cookie(4)));
  EXPECT_EQ(q->in_flight(), 1);
}

TEST_P(IndirectTest, WithoutTablesTheDirectLimitHolds) {
  q->drain([](void*, uint16_t) {});
  q->release();
  ASSERT_TRUE(q->allocate(platform, GetParam(), 1, 16, RingLayout::kSeparate));
  EXPECT_FALSE(q->indirect());
  EXPECT_EQ(q->max_segments(), kMaxChainSegments);
  const auto s = segments(kMaxChainSegments + 1);
  EXPECT_FALSE(q->add_chain(s.data(), kMaxChainSegments + 1, cookie(1)));
  EXPECT_TRUE(q->add_chain(s.data(), kMaxChainSegments, cookie(2)));
  EXPECT_FALSE(platform.chains.back().indirect);
  EXPECT_EQ(q->free_count(), 16 - kMaxChainSegments);
}

TEST_P(IndirectTest, TheTableIsWrittenBeforeThePublishingStoreAndItsBarrier) {
  for (bool dma : {false, true}) {
    SCOPED_TRACE(dma);
    q->set_dma_barriers(dma);
    const auto s = segments(3);
    const size_t before_chains = platform.chains.size();
    ASSERT_TRUE(q->add_chain(s.data(), 3, cookie(7)));
    const PublishedChain& c = platform.chains[before_chains];
    const uint16_t slot = ring_slot(c);
    const uint16_t idx_before = packed() ? 0 : split_avail_idx();
    int barriers = 0;
    platform.on_barrier = [&](Barrier k) {
      const Barrier want = dma ? dma_strength(Barrier::kWrite) : Barrier::kWrite;
      if (k != want) return;
      ++barriers;
      // At the write barrier: the table and the ring descriptor are
      // complete, and the store that publishes them has not happened.
      for (uint16_t i = 0; i < 3; ++i) {
        EXPECT_EQ(table_entry(c.table_addr, i).addr, s[i].addr);
        EXPECT_EQ(table_entry(c.table_addr, i).len, s[i].len);
      }
      EXPECT_EQ(ring_desc(slot).addr, c.table_addr);
      if (packed())
        EXPECT_FALSE(packed_available(slot) && (ring_desc(slot).flags & spec::kDescFlagIndirect));
      else
        EXPECT_EQ(split_avail_idx(), idx_before);
    };
    q->publish();
    platform.on_barrier = [](Barrier) {};
    EXPECT_EQ(barriers, 1);
    if (packed())
      EXPECT_EQ(ring_desc(slot).flags, spec::kDescFlagIndirect | spec::kPackedDescFlagAvail);
    else
      EXPECT_EQ(split_avail_idx(), idx_before + 1);
    // Completed, so the next round starts clean.
    device_complete(c, 0, static_cast<uint16_t>(dma ? 1 : 0));
    Completion out[2];
    ASSERT_EQ(q->harvest(out, 2), 1);
  }
}

TEST_P(IndirectTest, TheTableIsNeverReadBack) {
  // Two writable segments of 100 bytes: 200 posted. The device then
  // scribbles over the table (it may: it is device-accessible memory);
  // the completion is judged by what the driver posted, not by the table.
  const auto s = segments(4, 2);
  ASSERT_TRUE(q->add_chain(s.data(), 4, cookie(5)));
  q->publish();
  const PublishedChain c = platform.chains.back();
  std::memset(cpu(c.table_addr), 0xFF, 16u * 4);
  const int fetches_before = platform.fetches;
  device_complete(c, 200, 0);
  Completion out[2];
  ASSERT_EQ(q->harvest(out, 2), 1);
  EXPECT_EQ(out[0].cookie, cookie(5));
  EXPECT_EQ(out[0].head, c.head);
  EXPECT_EQ(out[0].writable, 200u);
  EXPECT_FALSE(out[0].len_over);
  EXPECT_EQ(q->free_count(), kSize);
  EXPECT_FALSE(q->broken());
  // Only ring parts were fetched (no table memory passes through the shim).
  for (size_t i = 0; i < platform.fetch_log.size(); ++i)
    if (static_cast<int>(i) >= fetches_before)
      EXPECT_TRUE(platform.fetch_log[i].first.part == MemPart::kUsedIdx ||
                  platform.fetch_log[i].first.part == MemPart::kUsedElem ||
                  platform.fetch_log[i].first.part == MemPart::kPackedDesc);
}

TEST_P(IndirectTest, CompletionLengthIsCheckedAgainstTheWritableBytesPosted) {
  // Readable segments count for nothing: 3 x ~100 readable, 1 x 100
  // writable. A device that claims the readable bytes too is lying.
  const auto s = segments(4, 1);
  ASSERT_TRUE(q->add_chain(s.data(), 4, cookie(1)));
  q->publish();
  device_complete(platform.chains.back(), 101, 0);
  Completion out[2];
  ASSERT_EQ(q->harvest(out, 2), 1);
  EXPECT_TRUE(out[0].len_over);
  EXPECT_EQ(out[0].writable, 100u);
  EXPECT_EQ(q->len_over_count(), 1u);
  // A read-only (tx) indirect chain: any length is over.
  const auto tx = segments(3);
  ASSERT_TRUE(q->add_chain(tx.data(), 3, cookie(2)));
  q->publish();
  device_complete(platform.chains.back(), 1, 1);
  ASSERT_EQ(q->harvest(out, 2), 1);
  EXPECT_TRUE(out[0].len_over);
  EXPECT_EQ(out[0].writable, 0u);
}

TEST_P(IndirectTest, ForgedIdsOfIndirectChainsBreakTheQueue) {
  const auto s = segments(3);
  ASSERT_TRUE(q->add_chain(s.data(), 3, cookie(1)));
  q->publish();
  PublishedChain c = platform.chains.back();
  c.head = static_cast<uint16_t>(c.head + 1);  // not in flight
  device_complete(c, 0, 0);
  Completion out[2];
  EXPECT_EQ(q->harvest(out, 2), 0);
  EXPECT_TRUE(q->broken());
  EXPECT_EQ(q->fault(), QueueFault::kUsedIdStale);
}

TEST_P(IndirectTest, DrainReturnsEveryChainOnceAndReleaseFreesTheTables) {
  EXPECT_EQ(platform.live_allocations, 2);  // the ring and the tables
  const auto one = segments(1);
  const auto many = segments(6, 1);
  std::vector<int> seen(8, 0);
  for (int i = 0; i < 6; ++i) {
    const bool indirect = i % 2 == 0;
    ASSERT_TRUE(indirect ? q->add_chain(many.data(), 6, cookie(i))
                         : q->add_chain(one.data(), 1, cookie(i)));
  }
  q->publish();
  EXPECT_EQ(q->indirect_chains(), 3u);
  EXPECT_EQ(q->free_count(), kSize - 6);
  q->drain(
      [&](void* ck, uint16_t) { ++seen[static_cast<size_t>(reinterpret_cast<intptr_t>(ck))]; });
  for (int i = 0; i < 6; ++i) EXPECT_EQ(seen[static_cast<size_t>(i)], 1) << i;
  EXPECT_EQ(q->free_count(), kSize);
  EXPECT_EQ(q->in_flight(), 0);
  // The tables outlive drain (a reset keeps them), and go with release().
  EXPECT_TRUE(q->indirect());
  EXPECT_EQ(platform.live_allocations, 2);
  ASSERT_TRUE(q->add_chain(many.data(), 6, cookie(7)));
  EXPECT_TRUE(platform.chains.back().indirect);
  q->drain([](void*, uint16_t) {});
  q->release();
  EXPECT_EQ(platform.live_allocations, 0);
  EXPECT_FALSE(q->indirect());
}

TEST_P(IndirectTest, EveryIdHasATableOfItsOwnAcrossLaps) {
  // Fill the ring with indirect chains, complete them all, twice: each
  // chain's table is its own (no two in-flight chains share one), and the
  // packed ring's wrap counter crosses with one-descriptor chains.
  uint16_t used_pos = 0;
  for (int lap = 0; lap < 3; ++lap) {
    const size_t first = platform.chains.size();
    for (int i = 0; i < kSize; ++i) {
      auto s = segments(2);
      s[0].addr = 0x100000u * static_cast<uint32_t>(lap + 1) + static_cast<uint32_t>(i);
      ASSERT_TRUE(q->add_chain(s.data(), 2, cookie(i + 1)));
    }
    q->publish();
    std::vector<uint64_t> tables;
    for (size_t k = first; k < platform.chains.size(); ++k) {
      const PublishedChain& c = platform.chains[k];
      EXPECT_EQ(table_entry(c.table_addr, 0).addr,
                0x100000u * static_cast<uint32_t>(lap + 1) + static_cast<uint32_t>(k - first));
      for (uint64_t t : tables) EXPECT_NE(t, c.table_addr);
      tables.push_back(c.table_addr);
    }
    for (size_t k = first; k < platform.chains.size(); ++k)
      device_complete(platform.chains[k], 0, used_pos++);
    Completion out[kSize];
    ASSERT_EQ(q->harvest(out, kSize), kSize) << "lap " << lap;
    EXPECT_FALSE(q->broken());
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, IndirectTest,
                         ::testing::Values(RingKind::kSplit, RingKind::kPacked),
                         [](const ::testing::TestParamInfo<RingKind>& i) {
                           return std::string(ring_kind_name(i.param));
                         });

}  // namespace
}  // namespace vnet
