// Unit tests of VIRTIO_F_IN_ORDER on both ring kinds (split 2.7.9, packed
// 2.8.9): descriptors in ring order, batches of 1..N completed by one used
// entry, batches across the ring's end (and the packed wrap counter across
// a batch), batches larger than one harvest, every lie about a batch
// (broken and typed), and drain after and in the middle of a batch. The
// device is played by hand: this file writes used entries and used
// descriptors straight into ring memory.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "driver/virtqueue/packed_queue.h"
#include "driver/virtqueue/split_queue.h"
#include "driver/virtqueue/virtqueue.h"
#include "tests/driver/ring_platform.h"

namespace vnet {
namespace {

using testing::kDeviceAddrOffset;
using testing::RingPlatform;

void* cookie(int i) {
  return reinterpret_cast<void*>(static_cast<intptr_t>(i));
}
int cookie_of(const Completion& c) {
  return static_cast<int>(reinterpret_cast<intptr_t>(c.cookie));
}

int used_elem_fetches(const RingPlatform& p) {
  int n = 0;
  for (const auto& [ref, len] : p.fetch_log)
    if (ref.part == MemPart::kUsedElem) ++n;
  return n;
}

// ---- split ring -----------------------------------------------------------

class SplitInOrderTest : public ::testing::Test {
 protected:
  static constexpr uint16_t kSize = 8;
  void SetUp() override {
    ASSERT_TRUE(q->allocate(platform, 1, kSize, RingLayout::kSeparate));
    q->set_in_order(true);
  }
  void TearDown() override {
    q->drain([](void*, uint16_t) {});
    q->release();
    EXPECT_EQ(platform.live_allocations, 0);
  }

  uint8_t* cpu(uint64_t device_addr) {
    return reinterpret_cast<uint8_t*>(device_addr - kDeviceAddrOffset);
  }
  uint8_t* used() { return cpu(q->addresses().device); }
  spec::VringDesc* desc() { return reinterpret_cast<spec::VringDesc*>(cpu(q->addresses().desc)); }

  // A chain of nsegs segments (writable bytes each, 0 = a transmit chain);
  // returns its head.
  uint16_t add(int c, uint16_t nsegs = 1, uint32_t writable = 100) {
    Segment s[4];
    for (uint16_t i = 0; i < nsegs; ++i)
      s[i] = Segment{0x9000u + i * 0x100u, writable ? writable : 60u, writable != 0, nullptr};
    uint16_t head = 0xFFFF;
    EXPECT_TRUE(q->add_chain(s, nsegs, cookie(c), &head));
    return head;
  }
  // The device's one entry for a batch: at the used slot of the batch's
  // first chain, the head of its last, and used.idx moved on by the batch.
  void device_batch(uint16_t first_used_idx, uint16_t batch, uint32_t id, uint32_t len) {
    uint8_t* e = used() + spec::used_elem_offset(first_used_idx % kSize);
    spec::store_le32(e, id);
    spec::store_le32(e + 4, len);
    used_idx_ = static_cast<uint16_t>(first_used_idx + batch);
    spec::store_le16(used() + spec::kUsedIdxOffset, used_idx_);
  }

  RingPlatform platform;
  std::unique_ptr<SplitQueue> q = std::make_unique<SplitQueue>();
  Completion out[kSize];
  uint16_t used_idx_ = 0;
};

// 2.7.5 / 2.7.5.2: descriptors in ring order from offset 0, a descriptor
// with NEXT at x names x + 1, the last of the table names 0 -- across
// completions (no free-list reordering) and across the end of the table.
TEST_F(SplitInOrderTest, DescriptorsAreTakenInRingOrderWithNextXPlusOne) {
  uint16_t expect = 0;
  uint16_t used = 0;
  for (int round = 0; round < 6; ++round) {
    const uint16_t a = add(1, 3);
    const uint16_t b = add(2, 2);
    EXPECT_EQ(a, expect);
    EXPECT_EQ(b, (expect + 3) % kSize);
    for (uint16_t d = a, i = 0; i < 2; ++i, d = (d + 1) % kSize) {
      EXPECT_NE(desc()[d].flags.get() & spec::kDescFlagNext, 0);
      EXPECT_EQ(desc()[d].next.get(), (d + 1) % kSize) << "round " << round << " desc " << d;
    }
    EXPECT_EQ(desc()[(a + 2) % kSize].flags.get() & spec::kDescFlagNext, 0);
    EXPECT_EQ(desc()[b].next.get(), (b + 1) % kSize);
    q->publish();
    // Completed one by one, the later first in the used ring would be a
    // batch: here each its own entry, in order.
    device_batch(used, 1, a, 10);
    ASSERT_EQ(q->harvest(out, kSize), 1);
    device_batch(static_cast<uint16_t>(used + 1), 1, b, 10);
    ASSERT_EQ(q->harvest(out, kSize), 1);
    used = static_cast<uint16_t>(used + 2);
    expect = static_cast<uint16_t>((expect + 5) % kSize);
    ASSERT_EQ(q->free_count(), kSize);
  }
}

// Batches of every size 1..8, one entry each, at ever-moving ring
// positions (the used slots and the descriptors wrap many times).
TEST_F(SplitInOrderTest, BatchesOfOneToNCompleteEveryChainInPostedOrder) {
  uint16_t used = 0;
  int next_cookie = 0;
  for (int lap = 0; lap < 3; ++lap) {
    for (uint16_t n = 1; n <= kSize; ++n) {
      std::vector<uint16_t> heads;
      const int first = next_cookie;
      for (uint16_t i = 0; i < n; ++i) heads.push_back(add(next_cookie++, 1, i % 2 ? 0 : 100));
      q->publish();
      device_batch(used, n, heads.back(), 42);
      ASSERT_EQ(q->harvest(out, kSize), n) << "batch " << n;
      for (uint16_t i = 0; i < n; ++i) {
        EXPECT_EQ(cookie_of(out[i]), first + i);
        EXPECT_EQ(out[i].head, heads[i]);
        const bool last = i + 1 == n;
        EXPECT_EQ(out[i].implied, !last);
        // Implied: used completely (the writable bytes posted; 0 on tx).
        EXPECT_EQ(out[i].len, last ? 42u : out[i].writable);
        EXPECT_FALSE(out[i].len_over && !last);
      }
      used = static_cast<uint16_t>(used + n);
      EXPECT_EQ(q->in_flight(), 0);
      EXPECT_EQ(q->free_count(), kSize);
      EXPECT_FALSE(q->broken());
    }
  }
  EXPECT_EQ(q->implied_count(), 3u * (kSize * (kSize + 1) / 2 - kSize));
}

// A batch whose chains straddle the end of the used ring and of the
// descriptor table, and two batches published together.
TEST_F(SplitInOrderTest, BatchAcrossTheRingWrapAndTwoBatchesAtOnce) {
  for (int i = 0; i < 6; ++i) add(i);
  q->publish();
  device_batch(0, 6, 5, 1);
  ASSERT_EQ(q->harvest(out, kSize), 6);
  // Slots 6, 7, 0, 1: batch of 4 across the wrap; then 2 more (slots 2, 3).
  uint16_t h[6];
  for (int i = 0; i < 6; ++i) h[i] = add(10 + i, 1);
  EXPECT_EQ(h[0], 6);
  EXPECT_EQ(h[2], 0);
  q->publish();
  device_batch(6, 4, h[3], 7);
  device_batch(10, 2, h[5], 9);  // used.idx now 12: both batches visible
  ASSERT_EQ(q->harvest(out, kSize), 6);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(cookie_of(out[i]), 10 + i);
  EXPECT_EQ(out[3].len, 7u);
  EXPECT_FALSE(out[3].implied);
  EXPECT_EQ(out[5].len, 9u);
  EXPECT_TRUE(out[4].implied);
  EXPECT_EQ(used_elem_fetches(platform), 3) << "one entry per batch, each fetched once";
}

// A batch larger than one harvest is finished by the next ones from
// private state: the entry is fetched once, the rest is not re-read.
TEST_F(SplitInOrderTest, BatchLargerThanOneHarvestIsFinishedWithoutRefetch) {
  uint16_t last = 0;
  for (int i = 0; i < 5; ++i) last = add(i);
  q->publish();
  device_batch(0, 5, last, 33);
  EXPECT_EQ(q->harvest(out, 2), 2);
  EXPECT_TRUE(q->has_pending());
  // The device's used ring is garbage from here on: nothing more is read.
  spec::store_le32(used() + spec::used_elem_offset(2), 0xDEAD);
  EXPECT_EQ(q->harvest(out, 2), 2);
  EXPECT_TRUE(out[1].implied);
  ASSERT_EQ(q->harvest(out, 2), 1);
  EXPECT_EQ(cookie_of(out[0]), 4);
  EXPECT_EQ(out[0].len, 33u);
  EXPECT_FALSE(out[0].implied);
  EXPECT_EQ(used_elem_fetches(platform), 1);
  EXPECT_FALSE(q->has_pending());
  EXPECT_FALSE(q->broken());
}

// EVENT_IDX: after a partial batch the next interrupt is asked for past the
// batch still being returned (its entry is already published).
TEST_F(SplitInOrderTest, UsedEventAfterAPartialBatchLiesPastIt) {
  q->set_event_idx(true);
  q->set_interrupts(true);
  uint16_t last = 0;
  for (int i = 0; i < 5; ++i) last = add(i);
  q->publish();
  device_batch(0, 5, last, 1);
  ASSERT_EQ(q->harvest(out, 2), 2);
  const uint8_t* avail = cpu(q->addresses().driver);
  EXPECT_EQ(spec::load_le16(avail + spec::avail_used_event_offset(kSize)), 5);
}

// ---- lies ----

TEST_F(SplitInOrderTest, UsedIdOutOfRangeBreaksTheQueue) {
  add(0);
  q->publish();
  device_batch(0, 1, kSize, 1);
  EXPECT_EQ(q->harvest(out, kSize), 0);
  EXPECT_EQ(q->fault(), QueueFault::kUsedIdRange);
  EXPECT_FALSE(q->can_add(1));
}

TEST_F(SplitInOrderTest, UsedIdAlreadyCompletedBreaksTheQueue) {
  const uint16_t a = add(0);
  add(1);
  q->publish();
  device_batch(0, 1, a, 1);
  ASSERT_EQ(q->harvest(out, kSize), 1);
  device_batch(1, 1, a, 1);  // a again
  EXPECT_EQ(q->harvest(out, kSize), 0);
  EXPECT_EQ(q->fault(), QueueFault::kUsedIdStale);
  EXPECT_EQ(q->in_flight(), 1);
}

TEST_F(SplitInOrderTest, UsedIdInsideAChainBreaksTheQueue) {
  const uint16_t a = add(0, 3);
  q->publish();
  device_batch(0, 1, a + 1, 1);  // in range, never a head
  EXPECT_EQ(q->harvest(out, kSize), 0);
  EXPECT_EQ(q->fault(), QueueFault::kUsedIdStale);
}

// The used id names an in-flight chain after the oldest, but used.idx moved
// by one: neither the oldest chain nor a batch the index covers.
TEST_F(SplitInOrderTest, UsedIdPastWhatTheUsedIndexCoversBreaksTheQueue) {
  add(0);
  const uint16_t b = add(1);
  add(2);
  q->publish();
  device_batch(0, 1, b, 1);
  EXPECT_EQ(q->harvest(out, kSize), 0);
  EXPECT_EQ(q->fault(), QueueFault::kUsedOrder);
  EXPECT_EQ(q->in_flight(), 3) << "nothing of the lying batch was returned";
  // After a genuine batch, the same lie on the next one.
  SplitQueue& r = *q;
  r.drain([](void*, uint16_t) {});
  add(0);
  add(1);
  const uint16_t c = add(2);
  const uint16_t d = add(3);
  q->publish();
  device_batch(0, 3, c, 1);
  used_idx_ = 4;  // one more: its entry names d, a batch of one -- fine
  spec::store_le32(used() + spec::used_elem_offset(3), d);
  spec::store_le16(used() + spec::kUsedIdxOffset, used_idx_);
  EXPECT_EQ(q->harvest(out, kSize), 4);
  EXPECT_FALSE(q->broken());
}

// A batch that would reach a chain added but never published.
TEST_F(SplitInOrderTest, BatchReachingAnUnpublishedChainBreaksTheQueue) {
  add(0);
  add(1);
  q->publish();
  const uint16_t c = add(2);  // not published
  device_batch(0, 3, c, 1);
  EXPECT_EQ(q->harvest(out, kSize), 0);
  EXPECT_EQ(q->fault(), QueueFault::kUsedUnpublished);
  EXPECT_EQ(q->in_flight(), 3);
}

// used.idx beyond the chains in flight is caught before any entry is read.
TEST_F(SplitInOrderTest, UsedIndexBeyondTheChainsInFlightBreaksTheQueue) {
  const uint16_t a = add(0);
  q->publish();
  device_batch(0, 2, a, 1);
  EXPECT_EQ(q->harvest(out, kSize), 0);
  EXPECT_EQ(q->fault(), QueueFault::kUsedIdxJump);
  EXPECT_EQ(used_elem_fetches(platform), 0);
}

// ---- drain ----

TEST_F(SplitInOrderTest, DrainAfterAndInTheMiddleOfABatch) {
  uint16_t last = 0;
  for (int i = 0; i < 6; ++i) last = add(i, 1, 0);
  q->publish();
  device_batch(0, 6, last, 0);
  ASSERT_EQ(q->harvest(out, 4), 4);  // two of the batch still pending
  std::vector<int> drained;
  q->drain([&](void* c, uint16_t) {
    drained.push_back(static_cast<int>(reinterpret_cast<intptr_t>(c)));
  });
  EXPECT_EQ(drained, (std::vector<int>{4, 5}));
  EXPECT_FALSE(q->has_pending());
  EXPECT_EQ(q->free_count(), kSize);
  EXPECT_TRUE(q->in_order());
  // Ring order starts again at offset 0; the old batch is forgotten.
  EXPECT_EQ(add(10), 0);
  q->publish();
  used_idx_ = 0;
  device_batch(0, 1, 0, 5);
  ASSERT_EQ(q->harvest(out, kSize), 1);
  EXPECT_EQ(cookie_of(out[0]), 10);
  EXPECT_EQ(out[0].len, 5u);
}

// ---- packed ring ----------------------------------------------------------

constexpr uint16_t kAvail = spec::kPackedDescFlagAvail;
constexpr uint16_t kUsed = spec::kPackedDescFlagUsed;

class PackedInOrderTest : public ::testing::Test {
 protected:
  static constexpr uint16_t kSize = 8;
  void SetUp() override {
    ASSERT_TRUE(q->allocate(platform, 1, kSize, RingLayout::kSeparate));
    q->set_in_order(true);
  }
  void TearDown() override {
    q->drain([](void*, uint16_t) {});
    q->release();
    EXPECT_EQ(platform.live_allocations, 0);
  }
  spec::PackedDesc* desc() {
    return reinterpret_cast<spec::PackedDesc*>(q->addresses().desc - kDeviceAddrOffset);
  }
  uint16_t add(int c, uint16_t nsegs = 1, uint32_t writable = 100) {
    Segment s[4];
    for (uint16_t i = 0; i < nsegs; ++i)
      s[i] = Segment{0x9000u + i * 0x100u, writable ? writable : 60u, writable != 0, nullptr};
    uint16_t id = 0xFFFF;
    EXPECT_TRUE(q->add_chain(s, nsegs, cookie(c), &id));
    return id;
  }
  // The device's one used descriptor for a batch: over the batch's first
  // available descriptor (the driver's last_used), the last chain's id.
  void device_used(uint16_t pos, uint16_t id, uint32_t len, bool wrap) {
    desc()[pos].id.set(id);
    desc()[pos].len.set(len);
    desc()[pos].flags.set(static_cast<uint16_t>(wrap ? (kAvail | kUsed) : 0));
  }

  RingPlatform platform;
  std::unique_ptr<PackedQueue> q = std::make_unique<PackedQueue>();
  Completion out[kSize];
};

// Batches of 1..8 chains of mixed lengths: one used descriptor each, at the
// driver's used position, which then moves on by the whole batch; the used
// wrap counter flips wherever a batch passes the end of the ring.
TEST_F(PackedInOrderTest, BatchesOfOneToNWithTheWrapCounterAcrossBatches) {
  int next_cookie = 0;
  int flips = 0;
  for (int lap = 0; lap < 4; ++lap) {
    for (uint16_t n = 1; n <= kSize; ++n) {
      // Chains of 1 or 2 descriptors, as many as fit.
      std::vector<uint16_t> ids;
      uint16_t descs = 0;
      const int first = next_cookie;
      for (uint16_t i = 0; i < n; ++i) {
        const uint16_t segs = (i + lap) % 2 ? 2 : 1;
        if (descs + segs > kSize) break;
        descs = static_cast<uint16_t>(descs + segs);
        ids.push_back(add(next_cookie++, segs, i == 0 ? 0 : 80));
      }
      q->publish();
      const uint16_t pos = q->last_used();
      const bool w = q->used_wrap();
      device_used(pos, ids.back(), 17, w);
      const uint16_t k = static_cast<uint16_t>(ids.size());
      ASSERT_EQ(q->harvest(out, kSize), k) << "lap " << lap << " batch " << n;
      for (uint16_t i = 0; i < k; ++i) {
        EXPECT_EQ(cookie_of(out[i]), first + i);
        EXPECT_EQ(out[i].head, ids[i]);
        EXPECT_EQ(out[i].implied, i + 1 != k);
        EXPECT_EQ(out[i].len, i + 1 == k ? 17u : out[i].writable);
      }
      EXPECT_EQ(q->last_used(), (pos + descs) % kSize);
      if (pos + descs >= kSize) {
        EXPECT_NE(q->used_wrap(), w) << "the batch passed the end of the ring";
        ++flips;
      } else {
        EXPECT_EQ(q->used_wrap(), w);
      }
      EXPECT_EQ(q->in_flight(), 0);
      EXPECT_EQ(q->free_count(), kSize);
      EXPECT_FALSE(q->broken());
    }
  }
  EXPECT_GT(flips, 4);
}

// After a batch that wrapped, the next used descriptor must carry the new
// wrap counter: the old one is the stale-wrap lie (kUsedWrap).
TEST_F(PackedInOrderTest, UsedDescriptorAfterAWrappingBatchNeedsTheFlippedWrap) {
  for (int i = 0; i < 6; ++i) add(i);
  q->publish();
  device_used(0, 5, 1, true);  // ids 0..5, ids come from a free list: the last added is 5
  ASSERT_EQ(q->harvest(out, kSize), 6);
  uint16_t ids[4];
  for (int i = 0; i < 4; ++i) ids[i] = add(10 + i, 1);  // positions 6, 7, 0, 1
  q->publish();
  device_used(6, ids[2], 3, true);  // batch of 3: positions 6, 7, 0
  ASSERT_EQ(q->harvest(out, kSize), 3);
  EXPECT_EQ(q->last_used(), 1);
  EXPECT_FALSE(q->used_wrap());
  device_used(1, ids[3], 4, true);  // the previous lap's pattern
  EXPECT_EQ(q->harvest(out, kSize), 0);
  EXPECT_EQ(q->fault(), QueueFault::kUsedWrap);
}

TEST_F(PackedInOrderTest, BatchLargerThanOneHarvestIsFinishedWithoutRefetch) {
  uint16_t last = 0;
  for (int i = 0; i < 5; ++i) last = add(i);
  q->publish();
  device_used(0, last, 9, true);
  const uint16_t marker = q->published_idx();
  ASSERT_EQ(q->harvest(out, 2), 2);
  EXPECT_TRUE(q->has_pending());
  EXPECT_EQ(q->peek_used_idx(), marker) << "mid-batch: the device owes nothing";
  const size_t fetches = platform.fetch_log.size();
  ASSERT_EQ(q->harvest(out, 2), 2);
  ASSERT_EQ(q->harvest(out, 2), 1);
  EXPECT_EQ(out[0].len, 9u);
  EXPECT_FALSE(out[0].implied);
  // Finishing the batch fetched nothing but the flags at the new position
  // (to see whether another used descriptor follows).
  for (size_t i = fetches; i < platform.fetch_log.size(); ++i)
    EXPECT_EQ(platform.fetch_log[i].second, 2u) << "only flag fetches after the batch's descriptor";
  EXPECT_FALSE(q->broken());
}

TEST_F(PackedInOrderTest, BatchReachingAnUnpublishedChainBreaksTheQueue) {
  add(0);
  q->publish();
  const uint16_t b = add(1);  // added, never published
  device_used(0, b, 1, true);
  EXPECT_EQ(q->harvest(out, kSize), 0);
  EXPECT_EQ(q->fault(), QueueFault::kUsedUnpublished);
  EXPECT_EQ(q->in_flight(), 2);
}

TEST_F(PackedInOrderTest, UsedIdAlreadyCompletedBreaksTheQueue) {
  const uint16_t a = add(0);
  const uint16_t b = add(1);
  q->publish();
  device_used(0, a, 1, true);
  ASSERT_EQ(q->harvest(out, kSize), 1);
  (void)b;
  device_used(1, a, 1, true);
  EXPECT_EQ(q->harvest(out, kSize), 0);
  EXPECT_EQ(q->fault(), QueueFault::kUsedIdStale);
}

TEST_F(PackedInOrderTest, UsedIdOutOfRangeBreaksTheQueue) {
  add(0);
  q->publish();
  device_used(0, kSize, 1, true);
  EXPECT_EQ(q->harvest(out, kSize), 0);
  EXPECT_EQ(q->fault(), QueueFault::kUsedIdRange);
}

TEST_F(PackedInOrderTest, DrainInTheMiddleOfABatch) {
  uint16_t last = 0;
  for (int i = 0; i < 4; ++i) last = add(i, 2, 0);
  q->publish();
  device_used(0, last, 0, true);
  ASSERT_EQ(q->harvest(out, 1), 1);
  std::vector<int> drained;
  q->drain([&](void* c, uint16_t) {
    drained.push_back(static_cast<int>(reinterpret_cast<intptr_t>(c)));
  });
  EXPECT_EQ(drained.size(), 3u);
  EXPECT_FALSE(q->has_pending());
  EXPECT_EQ(q->last_used(), 0);
  EXPECT_TRUE(q->used_wrap());
  const uint16_t id = add(7);
  q->publish();
  device_used(0, id, 2, true);
  ASSERT_EQ(q->harvest(out, kSize), 1);
  EXPECT_EQ(cookie_of(out[0]), 7);
}

// ---- without IN_ORDER nothing changes ----

TEST(InOrderOff, ALaterIdCompletesOnlyItselfAndNothingIsImplied) {
  RingPlatform platform;
  auto q = std::make_unique<Virtqueue>();
  ASSERT_TRUE(q->allocate(platform, RingKind::kSplit, 1, 8, RingLayout::kSeparate));
  EXPECT_FALSE(q->in_order());
  Segment s{0x9000, 100, true, nullptr};
  uint16_t h[3];
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(q->add_chain(&s, 1, cookie(i), &h[i]));
  q->publish();
  uint8_t* used = reinterpret_cast<uint8_t*>(q->addresses().device - kDeviceAddrOffset);
  spec::store_le32(used + spec::used_elem_offset(0), h[2]);
  spec::store_le32(used + spec::used_elem_offset(0) + 4, 5);
  spec::store_le16(used + spec::kUsedIdxOffset, 1);
  Completion out[4];
  ASSERT_EQ(q->harvest(out, 4), 1);
  EXPECT_EQ(out[0].head, h[2]);
  EXPECT_FALSE(out[0].implied);
  EXPECT_EQ(q->in_flight(), 2);
  EXPECT_EQ(q->implied_count(), 0u);
  q->drain([](void*, uint16_t) {});
  q->release();
}

}  // namespace
}  // namespace vnet
