// Unit tests of the split ring: publish and harvest against a device
// simulated by writing the used ring directly, and every used-ring lie.
#include "driver/virtqueue/split_queue.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <set>

#include "tests/driver/ring_platform.h"

namespace vnet {
namespace {

using testing::kDeviceAddrOffset;
using testing::RingPlatform;

class SplitQueueTest : public ::testing::TestWithParam<RingLayout> {
 protected:
  void SetUp() override { ASSERT_TRUE(q->allocate(platform, 0, 8, GetParam())); }
  void TearDown() override {
    q->drain([](void*, uint16_t) {});
    q->release();
    EXPECT_EQ(platform.live_allocations, 0);
  }

  uint8_t* ring_cpu(uint64_t device_addr) {
    return reinterpret_cast<uint8_t*>(device_addr - kDeviceAddrOffset);
  }
  uint8_t* used() { return ring_cpu(q->addresses().device); }
  uint8_t* avail() { return ring_cpu(q->addresses().driver); }
  spec::VringDesc* desc() {
    return reinterpret_cast<spec::VringDesc*>(ring_cpu(q->addresses().desc));
  }
  uint16_t avail_idx() { return spec::load_le16(avail() + 2); }
  uint16_t avail_entry(uint16_t i) { return spec::load_le16(avail() + 4 + 2 * (i % 8)); }

  // The device completes head with len at used index position used_pos.
  void device_complete(uint16_t used_pos, uint32_t id, uint32_t len) {
    uint8_t* e = used() + spec::used_elem_offset(used_pos % 8);
    spec::store_le32(e, id);
    spec::store_le32(e + 4, len);
  }
  void device_set_used_idx(uint16_t idx) { spec::store_le16(used() + 2, idx); }

  bool add(int cookie, uint32_t writable_len = 100, uint16_t nsegs = 1) {
    Segment s[2];
    for (uint16_t i = 0; i < nsegs; ++i)
      s[i] = Segment{0x9000u + i * 0x100u, writable_len, writable_len != 0, nullptr};
    return q->add_chain(s, nsegs, reinterpret_cast<void*>(static_cast<intptr_t>(cookie)));
  }

  RingPlatform platform;
  std::unique_ptr<SplitQueue> q = std::make_unique<SplitQueue>();
};

// ---- ordering (2.7.13): each barrier of the ring code where the contract
// puts it, observed through the shim: the memory as it is at the barrier,
// and the order of barriers and fetches. Removing any one barrier of
// split_queue.cc fails one of these. Both strengths: SMP, and DMA once
// ORDER_PLATFORM is negotiated.

// Index of the first event equal to what at or after from (-1: none).
int find_event(const std::vector<std::string>& ev, const std::string& what, size_t from = 0) {
  for (size_t i = from; i < ev.size(); ++i)
    if (ev[i] == what) return static_cast<int>(i);
  return -1;
}
std::string barrier_event(Barrier kind, bool dma) {
  return "barrier " + std::to_string(static_cast<int>(dma ? dma_strength(kind) : kind));
}

TEST_P(SplitQueueTest, WriteBarrierComesAfterTheEntriesAndBeforeTheAvailIndex) {
  for (bool dma : {false, true}) {
    q->set_dma_barriers(dma);
    ASSERT_TRUE(add(1));
    const uint16_t before = avail_idx();
    int seen = 0;
    platform.on_barrier = [&](Barrier k) {
      if (k != (dma ? Barrier::kDmaWrite : Barrier::kWrite)) return;
      ++seen;
      EXPECT_EQ(avail_idx(), before) << "the index must not be visible before the barrier";
    };
    q->publish();
    EXPECT_EQ(seen, 1) << (dma ? "dma" : "smp");
    EXPECT_EQ(avail_idx(), uint16_t(before + 1));
    platform.on_barrier = [](Barrier) {};
    device_complete(before, avail_entry(before), 0);
    device_set_used_idx(uint16_t(before + 1));
    Completion c[1];
    ASSERT_EQ(q->harvest(c, 1), 1);
  }
}

TEST_P(SplitQueueTest, FullBarrierSeparatesTheIndexStoreFromTheNotifyCheck) {
  for (bool dma : {false, true}) {
    q->set_dma_barriers(dma);
    ASSERT_TRUE(add(1));
    q->publish();
    const uint16_t published = avail_idx();
    int seen = 0;
    platform.on_barrier = [&](Barrier k) {
      if (k != (dma ? Barrier::kDmaFull : Barrier::kFull)) return;
      ++seen;
      EXPECT_EQ(avail_idx(), published);
    };
    platform.events.clear();
    q->kick_needed();
    const int b = find_event(platform.events, barrier_event(Barrier::kFull, dma));
    const int f = find_event(platform.events, "fetch used_flags");
    EXPECT_EQ(seen, 1);
    ASSERT_GE(b, 0) << "no full barrier before reading used.flags";
    EXPECT_LT(b, f) << "used.flags read before the barrier";
    platform.on_barrier = [](Barrier) {};
    device_complete(uint16_t(published - 1), avail_entry(uint16_t(published - 1)), 0);
    device_set_used_idx(published);
    Completion c[1];
    ASSERT_EQ(q->harvest(c, 1), 1);
  }
}

TEST_P(SplitQueueTest, ReadBarrierSeparatesTheUsedIndexFromTheEntries) {
  for (bool dma : {false, true}) {
    q->set_dma_barriers(dma);
    ASSERT_TRUE(add(1));
    q->publish();
    const uint16_t pos = uint16_t(avail_idx() - 1);
    device_complete(pos, avail_entry(pos), 0);
    device_set_used_idx(avail_idx());
    platform.events.clear();
    Completion c[1];
    ASSERT_EQ(q->harvest(c, 1), 1);
    const int i = find_event(platform.events, "fetch used_idx");
    const int b = find_event(platform.events, barrier_event(Barrier::kRead, dma), i < 0 ? 0 : i);
    const int e = find_event(platform.events, "fetch used_elem");
    ASSERT_GE(i, 0);
    ASSERT_GE(b, 0) << "no read barrier after used.idx";
    EXPECT_LT(b, e) << "entries read before the barrier that orders them after the index";
  }
}

TEST_P(SplitQueueTest, FullBarrierBetweenReenablingInterruptsAndTheRecheck) {
  for (bool dma : {false, true}) {
    q->set_dma_barriers(dma);
    q->set_interrupts(false);
    int seen = 0;
    platform.on_barrier = [&](Barrier k) {
      if (k != (dma ? Barrier::kDmaFull : Barrier::kFull)) return;
      ++seen;
      EXPECT_EQ(spec::load_le16(avail()), 0) << "flags store visible before the barrier";
    };
    platform.events.clear();
    q->set_interrupts(true);
    q->has_pending();
    EXPECT_EQ(seen, 1);
    const int b = find_event(platform.events, barrier_event(Barrier::kFull, dma));
    const int f = find_event(platform.events, "fetch used_idx");
    ASSERT_GE(b, 0);
    EXPECT_LT(b, f);
    platform.on_barrier = [](Barrier) {};
  }
}

TEST_P(SplitQueueTest, PublishesChainsAndHarvestsCompletions) {
  ASSERT_TRUE(add(1));
  ASSERT_TRUE(add(2, 64, 2));
  EXPECT_EQ(avail_idx(), 0) << "index published only by publish()";
  q->publish();
  EXPECT_EQ(avail_idx(), 2);
  EXPECT_EQ(q->in_flight(), 2);
  EXPECT_EQ(q->free_count(), 5);
  const uint16_t h2 = avail_entry(1);
  EXPECT_EQ(desc()[h2].flags.get(), spec::kDescFlagNext | spec::kDescFlagWrite);
  EXPECT_EQ(desc()[desc()[h2].next.get()].flags.get(), spec::kDescFlagWrite);

  device_complete(0, h2, 128);
  device_set_used_idx(1);
  Completion c[4];
  ASSERT_EQ(q->harvest(c, 4), 1);
  EXPECT_EQ(c[0].cookie, reinterpret_cast<void*>(2));
  EXPECT_EQ(c[0].len, 128u);
  EXPECT_EQ(c[0].writable, 128u);
  EXPECT_FALSE(c[0].len_over);
  EXPECT_EQ(q->free_count(), 7);
  EXPECT_EQ(q->harvest(c, 4), 0) << "nothing new";
  EXPECT_FALSE(q->broken());
}

TEST_P(SplitQueueTest, FreeListSurvivesManyCyclesOutOfOrder) {
  Completion c[8];
  uint16_t used_idx = 0;
  for (int round = 0; round < 200; ++round) {
    std::set<uint16_t> heads;
    const uint16_t base = avail_idx();
    int added = 0;
    while (q->can_add(round % 2 + 1)) {
      ASSERT_TRUE(add(round * 100 + added, 10, static_cast<uint16_t>(round % 2 + 1)));
      ++added;
    }
    q->publish();
    // Complete in reverse order.
    for (int i = added - 1; i >= 0; --i)
      device_complete(used_idx++, avail_entry(static_cast<uint16_t>(base + i)), 10);
    device_set_used_idx(used_idx);
    int got = 0;
    while (uint16_t n = q->harvest(c, 3)) {
      for (uint16_t i = 0; i < n; ++i) heads.insert(c[i].head);
      got += n;
    }
    ASSERT_EQ(got, added);
    ASSERT_EQ(heads.size(), static_cast<size_t>(added));
    ASSERT_EQ(q->free_count(), 8);
  }
}

// room(n) is what a burst checks once instead of can_add(n) per chain: it
// counts down by exactly one per chain of n added, reaches 0 exactly when
// can_add(n) turns false, and is 0 on a broken queue.
TEST_P(SplitQueueTest, RoomCountsTheChainsCanAddWouldTake) {
  for (uint16_t n : {1, 2}) {
    EXPECT_EQ(q->room(n), 8 / n);
    uint16_t room = q->room(n);
    int added = 0;
    while (q->can_add(n)) {
      ASSERT_EQ(q->room(n), room) << "n " << n << " after " << added << " chains";
      ASSERT_NE(room, 0);
      ASSERT_TRUE(add(added, 10, n));
      --room;
      ++added;
    }
    EXPECT_EQ(room, 0) << "n " << n;
    EXPECT_EQ(q->room(n), 0) << "n " << n;
    q->drain([](void*, uint16_t) {});
  }
  EXPECT_EQ(q->room(0), 0);
  ASSERT_TRUE(add(1));
  q->publish();
  device_complete(0, 8, 10);  // out of range: the queue breaks
  device_set_used_idx(1);
  Completion c[2];
  EXPECT_EQ(q->harvest(c, 2), 0);
  EXPECT_EQ(q->room(1), 0) << "a broken queue has no room";
}

TEST_P(SplitQueueTest, UsedIdOutOfRangeBreaksTheQueue) {
  ASSERT_TRUE(add(1));
  q->publish();
  device_complete(0, 8, 10);
  device_set_used_idx(1);
  Completion c[2];
  EXPECT_EQ(q->harvest(c, 2), 0);
  EXPECT_EQ(q->fault(), QueueFault::kUsedIdRange);
  EXPECT_FALSE(q->can_add(1)) << "a broken queue accepts nothing";
}

TEST_P(SplitQueueTest, UsedIdNotInFlightBreaksTheQueue) {
  ASSERT_TRUE(add(1, 10, 2));
  q->publish();
  const uint16_t head = avail_entry(0);
  const uint16_t second = desc()[head].next.get();  // in range, but not a head
  device_complete(0, second, 10);
  device_set_used_idx(1);
  Completion c[2];
  EXPECT_EQ(q->harvest(c, 2), 0);
  EXPECT_EQ(q->fault(), QueueFault::kUsedIdStale);
}

TEST_P(SplitQueueTest, ChainCompletedTwiceBreaksTheQueue) {
  ASSERT_TRUE(add(1));
  ASSERT_TRUE(add(2));
  q->publish();
  device_complete(0, avail_entry(0), 10);
  device_complete(1, avail_entry(0), 10);
  device_set_used_idx(2);
  Completion c[2];
  EXPECT_EQ(q->harvest(c, 2), 1) << "the first completion is genuine";
  EXPECT_EQ(q->fault(), QueueFault::kUsedIdStale);
}

TEST_P(SplitQueueTest, UsedIndexJumpBreaksTheQueue) {
  ASSERT_TRUE(add(1));
  q->publish();
  device_set_used_idx(2);  // two completions, one chain in flight
  Completion c[2];
  EXPECT_EQ(q->harvest(c, 2), 0);
  EXPECT_EQ(q->fault(), QueueFault::kUsedIdxJump);
}

TEST_P(SplitQueueTest, UsedIndexFarBeyondRingSizeBreaksTheQueue) {
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(add(i));
  q->publish();
  device_set_used_idx(9);
  Completion c[8];
  EXPECT_EQ(q->harvest(c, 8), 0);
  EXPECT_EQ(q->fault(), QueueFault::kUsedIdxJump);
}

TEST_P(SplitQueueTest, LengthAbovePostedIsReportedNotTrusted) {
  ASSERT_TRUE(add(1, 100));
  q->publish();
  device_complete(0, avail_entry(0), 101);
  device_set_used_idx(1);
  Completion c[1];
  ASSERT_EQ(q->harvest(c, 1), 1);
  EXPECT_TRUE(c[0].len_over);
  EXPECT_EQ(q->len_over_count(), 1u);
  EXPECT_FALSE(q->broken());
}

TEST_P(SplitQueueTest, DrainReturnsEveryInFlightCookieOnce) {
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(add(i));
  q->publish();
  device_complete(0, avail_entry(2), 1);
  device_set_used_idx(1);
  Completion c[1];
  ASSERT_EQ(q->harvest(c, 1), 1);
  std::multiset<intptr_t> back;
  q->drain([&](void* cookie, uint16_t) { back.insert(reinterpret_cast<intptr_t>(cookie)); });
  EXPECT_EQ(back, (std::multiset<intptr_t>{1, 2, 4, 5}));
  EXPECT_EQ(q->in_flight(), 0);
  EXPECT_EQ(q->free_count(), 8);
  EXPECT_EQ(avail_idx(), 0) << "ring memory reinitialised";
}

TEST_P(SplitQueueTest, UsedEntriesAreFetchedThroughTheShimOnce) {
  ASSERT_TRUE(add(1));
  ASSERT_TRUE(add(2));
  q->publish();
  device_complete(0, avail_entry(0), 1);
  device_complete(1, avail_entry(1), 1);
  device_set_used_idx(2);
  platform.fetch_log.clear();
  Completion c[2];
  ASSERT_EQ(q->harvest(c, 2), 2);
  ASSERT_EQ(platform.fetch_log.size(), 2u) << "used.idx once, then one run of elements";
  EXPECT_EQ(platform.fetch_log[0].first.part, MemPart::kUsedIdx);
  EXPECT_EQ(platform.fetch_log[1].first.part, MemPart::kUsedElem);
  EXPECT_EQ(platform.fetch_log[1].first.index, 0);
  EXPECT_EQ(platform.fetch_log[1].second, 16u);
}

TEST_P(SplitQueueTest, ElementRunsSplitAtTheRingEnd) {
  Completion c[8];
  // Move the used index to slot 6 first.
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(add(i));
  q->publish();
  for (uint16_t i = 0; i < 6; ++i) device_complete(i, avail_entry(i), 1);
  device_set_used_idx(6);
  ASSERT_EQ(q->harvest(c, 8), 6);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(add(10 + i));
  q->publish();
  for (uint16_t i = 0; i < 4; ++i) device_complete(6 + i, avail_entry(6 + i), 1);
  device_set_used_idx(10);
  platform.fetch_log.clear();
  ASSERT_EQ(q->harvest(c, 8), 4);
  ASSERT_EQ(platform.fetch_log.size(), 3u);
  EXPECT_EQ(platform.fetch_log[1].first.index, 6);
  EXPECT_EQ(platform.fetch_log[1].second, 16u) << "slots 6 and 7";
  EXPECT_EQ(platform.fetch_log[2].first.index, 0);
  EXPECT_EQ(platform.fetch_log[2].second, 16u) << "slots 0 and 1";
  for (int i = 0; i < 4; ++i) EXPECT_EQ(c[i].cookie, reinterpret_cast<void*>(10 + i));
}

TEST_P(SplitQueueTest, NoInterruptFlagFollowsRequests) {
  q->set_interrupts(false);
  EXPECT_EQ(spec::load_le16(avail()), spec::kAvailFlagNoInterrupt);
  q->set_interrupts(true);
  EXPECT_EQ(spec::load_le16(avail()), 0);
}

TEST_P(SplitQueueTest, KickFollowsNoNotify) {
  EXPECT_TRUE(q->kick_needed());
  spec::store_le16(used(), spec::kUsedFlagNoNotify);
  EXPECT_FALSE(q->kick_needed());
}

TEST(SplitQueueLayout, RejectsSizesTheDriverCannotHold) {
  RingPlatform platform;
  auto q = std::make_unique<SplitQueue>();
  EXPECT_FALSE(q->allocate(platform, 0, 0, RingLayout::kSeparate));
  EXPECT_FALSE(q->allocate(platform, 0, 12, RingLayout::kSeparate));
  EXPECT_FALSE(q->allocate(platform, 0, 2048, RingLayout::kSeparate));
  EXPECT_EQ(platform.live_allocations, 0);
}

TEST(SplitQueueLayout, LegacyLayoutPutsUsedOnThePageBoundary) {
  RingPlatform platform;
  auto q = std::make_unique<SplitQueue>();
  ASSERT_TRUE(q->allocate(platform, 0, 256, RingLayout::kLegacyContiguous));
  QueueAddresses a = q->addresses();
  EXPECT_EQ(a.desc % 4096, 0u);
  EXPECT_EQ(a.driver - a.desc, 4096u);
  EXPECT_EQ(a.device - a.desc, 8192u);
  q->release();
}

INSTANTIATE_TEST_SUITE_P(Layouts, SplitQueueTest,
                         ::testing::Values(RingLayout::kSeparate, RingLayout::kLegacyContiguous),
                         [](const auto& info) {
                           return info.param == RingLayout::kSeparate ? "separate" : "legacy";
                         });

}  // namespace
}  // namespace vnet
