// Unit tests of the packed ring (2.8): publish and harvest against a device
// played by hand (this file writes used descriptors and the device event
// structure straight into ring memory), wrap crossings, event suppression,
// every validation of a used descriptor, and the barriers of the contract.
#include "driver/virtqueue/packed_queue.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/driver/ring_platform.h"

namespace vnet {
namespace {

using testing::kDeviceAddrOffset;
using testing::RingPlatform;

constexpr uint16_t kAvail = spec::kPackedDescFlagAvail;
constexpr uint16_t kUsed = spec::kPackedDescFlagUsed;

class PackedQueueTest : public ::testing::Test {
 protected:
  static constexpr uint16_t kSize = 8;
  void SetUp() override { ASSERT_TRUE(q->allocate(platform, 0, kSize, RingLayout::kSeparate)); }
  void TearDown() override {
    q->drain([](void*, uint16_t) {});
    q->release();
    EXPECT_EQ(platform.live_allocations, 0);
  }

  uint8_t* cpu(uint64_t device_addr) {
    return reinterpret_cast<uint8_t*>(device_addr - kDeviceAddrOffset);
  }
  spec::PackedDesc* desc() { return reinterpret_cast<spec::PackedDesc*>(cpu(q->addresses().desc)); }
  spec::PackedEventSuppress* driver_event() {
    return reinterpret_cast<spec::PackedEventSuppress*>(cpu(q->addresses().driver));
  }
  spec::PackedEventSuppress* device_event() {
    return reinterpret_cast<spec::PackedEventSuppress*>(cpu(q->addresses().device));
  }
  uint16_t flags_at(uint16_t pos) { return desc()[pos].flags.get(); }

  // The device writes a used descriptor at pos with the given wrap bits.
  void device_used(uint16_t pos, uint16_t id, uint32_t len, bool wrap) {
    device_raw(pos, id, len, static_cast<uint16_t>(wrap ? (kAvail | kUsed) : 0));
  }
  void device_raw(uint16_t pos, uint16_t id, uint32_t len, uint16_t flags) {
    desc()[pos].id.set(id);
    desc()[pos].len.set(len);
    desc()[pos].flags.set(flags);
  }

  bool add(int cookie, uint16_t nsegs = 1, uint32_t len = 100, uint16_t* id = nullptr) {
    Segment s[4];
    for (uint16_t i = 0; i < nsegs; ++i)
      s[i] = Segment{0x9000u + i * 0x100u, len, len != 0, nullptr};
    return q->add_chain(s, nsegs, reinterpret_cast<void*>(static_cast<intptr_t>(cookie)), id);
  }

  RingPlatform platform;
  std::unique_ptr<PackedQueue> q = std::make_unique<PackedQueue>();
  Completion out[kSize];
};

TEST_F(PackedQueueTest, RefusesBadSizesAndTheLegacyLayout) {
  PackedQueue other;
  EXPECT_FALSE(other.allocate(platform, 1, 0, RingLayout::kSeparate));
  EXPECT_FALSE(other.allocate(platform, 1, PackedQueue::kMaxSize + 1, RingLayout::kSeparate));
  EXPECT_FALSE(other.allocate(platform, 1, 8, RingLayout::kLegacyContiguous));
  ASSERT_TRUE(other.allocate(platform, 1, 6, RingLayout::kSeparate));  // no power of two needed
  EXPECT_EQ(other.free_count(), 6);
  other.release();
}

TEST_F(PackedQueueTest, ChainIsInvisibleUntilPublishThenHeadFlagsCarryTheAvailWrap) {
  uint16_t id = 99;
  ASSERT_TRUE(add(1, 3, 64, &id));
  EXPECT_LT(id, kSize);
  // Head not yet available; the rest of the chain written (NEXT on all but the last).
  EXPECT_EQ(flags_at(0), 0);
  EXPECT_EQ(flags_at(1), kAvail | spec::kDescFlagNext | spec::kDescFlagWrite);
  EXPECT_EQ(flags_at(2), kAvail | spec::kDescFlagWrite);
  EXPECT_EQ(desc()[2].id.get(), id);  // 2.8.6: the last descriptor carries the id
  EXPECT_EQ(q->free_count(), kSize - 3);
  q->publish();
  EXPECT_EQ(flags_at(0), kAvail | spec::kDescFlagNext | spec::kDescFlagWrite);
  EXPECT_EQ(q->published_idx(), 1);
  EXPECT_EQ(q->next_avail(), 3);
}

TEST_F(PackedQueueTest, HarvestTakesAUsedDescriptorAndSkipsTheChain) {
  uint16_t a, b;
  ASSERT_TRUE(add(1, 2, 50, &a));
  ASSERT_TRUE(add(2, 1, 50, &b));
  q->publish();
  EXPECT_EQ(q->harvest(out, kSize), 0);  // still available
  EXPECT_FALSE(q->broken());
  device_used(0, a, 70, true);
  ASSERT_EQ(q->harvest(out, kSize), 1);
  EXPECT_EQ(out[0].cookie, reinterpret_cast<void*>(1));
  EXPECT_EQ(out[0].head, a);
  EXPECT_EQ(out[0].len, 70u);
  EXPECT_EQ(out[0].writable, 100u);
  EXPECT_FALSE(out[0].len_over);
  EXPECT_EQ(q->last_used(), 2);
  EXPECT_EQ(q->free_count(), kSize - 1);
  device_used(2, b, 10, true);
  ASSERT_EQ(q->harvest(out, kSize), 1);
  EXPECT_EQ(out[0].head, b);
  EXPECT_EQ(q->in_flight(), 0);
  EXPECT_EQ(q->peek_used_idx(), q->published_idx());
}

// The tx watchdog's marker (peek_used_idx) is the device's progress, not
// the harvest's: it stays still while the device holds the oldest chain,
// and says "nothing owed" once the device used it, harvested or not.
TEST_F(PackedQueueTest, ProgressMarkerFollowsTheDeviceNotTheHarvest) {
  uint16_t a, b;
  EXPECT_EQ(q->peek_used_idx(), q->published_idx());  // nothing published
  ASSERT_TRUE(add(1, 2, 100, &a));
  ASSERT_TRUE(add(2, 1, 100, &b));
  q->publish();
  EXPECT_EQ(q->published_idx(), 2);
  EXPECT_EQ(q->peek_used_idx(), 0);  // the device holds both chains
  device_used(0, a, 10, true);
  device_used(2, b, 10, true);
  // Completed but not harvested: nothing is owed by the device.
  EXPECT_EQ(q->peek_used_idx(), q->published_idx());
  ASSERT_EQ(q->harvest(out, 1), 1);
  EXPECT_EQ(q->peek_used_idx(), q->published_idx());
  ASSERT_EQ(q->harvest(out, kSize), 1);
  EXPECT_EQ(q->peek_used_idx(), q->published_idx());
  // A second lap position: the next chain is available again, not used.
  uint16_t c;
  ASSERT_TRUE(add(3, 1, 100, &c));
  q->publish();
  EXPECT_EQ(q->peek_used_idx(), 2);
  EXPECT_NE(q->peek_used_idx(), q->published_idx());
}

// A device that used the first chain and stalls on the second: the marker
// moves with the harvest and then stands still, so the watchdog fires.
TEST_F(PackedQueueTest, ProgressMarkerStandsStillBehindAStalledChain) {
  uint16_t a, b;
  ASSERT_TRUE(add(1, 1, 100, &a));
  ASSERT_TRUE(add(2, 1, 100, &b));
  q->publish();
  device_used(0, a, 10, true);
  ASSERT_EQ(q->harvest(out, kSize), 1);
  EXPECT_EQ(q->peek_used_idx(), 1);
  EXPECT_EQ(q->peek_used_idx(), 1);
  EXPECT_NE(q->peek_used_idx(), q->published_idx());
}

TEST_F(PackedQueueTest, OutOfOrderCompletionsAreTakenByIdAtTheUsedPosition) {
  uint16_t a, b;
  ASSERT_TRUE(add(1, 1, 50, &a));
  ASSERT_TRUE(add(2, 3, 50, &b));
  q->publish();
  device_used(0, b, 1, true);  // the 3-descriptor chain first: skip 3
  ASSERT_EQ(q->harvest(out, kSize), 1);
  EXPECT_EQ(out[0].head, b);
  EXPECT_EQ(q->last_used(), 3);
  device_used(3, a, 1, true);
  ASSERT_EQ(q->harvest(out, kSize), 1);
  EXPECT_EQ(out[0].head, a);
  EXPECT_EQ(q->last_used(), 4);
}

TEST_F(PackedQueueTest, WrapCountersFlipAcrossManyLapsWithStraddlingChains) {
  // 3-descriptor chains on an 8-entry ring straddle the end every lap.
  bool dev_wrap = true;
  uint16_t dev_pos = 0;
  for (int round = 0; round < 40; ++round) {
    uint16_t id;
    ASSERT_TRUE(add(round + 1, 3, 64, &id)) << round;
    const uint16_t head = static_cast<uint16_t>((q->next_avail() + kSize - 3) % kSize);
    q->publish();
    // Every descriptor of the chain carries its own lap's AVAIL/USED pair.
    for (uint16_t k = 0; k < 3; ++k) {
      const uint16_t pos = static_cast<uint16_t>((head + k) % kSize);
      const bool lap = (pos >= head) ? dev_wrap : !dev_wrap;
      EXPECT_EQ(flags_at(pos) & (kAvail | kUsed), lap ? kAvail : kUsed) << round << " " << pos;
    }
    device_used(dev_pos, id, 10, dev_wrap);
    ASSERT_EQ(q->harvest(out, kSize), 1) << round;
    ASSERT_EQ(out[0].cookie, reinterpret_cast<void*>(static_cast<intptr_t>(round + 1)));
    dev_pos = static_cast<uint16_t>(dev_pos + 3);
    if (dev_pos >= kSize) {
      dev_pos = static_cast<uint16_t>(dev_pos - kSize);
      dev_wrap = !dev_wrap;
    }
    ASSERT_EQ(q->last_used(), dev_pos);
    ASSERT_EQ(q->used_wrap(), dev_wrap);
    ASSERT_EQ(q->avail_wrap(), dev_wrap);
  }
  EXPECT_FALSE(q->broken());
  EXPECT_EQ(q->free_count(), kSize);
}

TEST_F(PackedQueueTest, FullRingThenRefill) {
  std::vector<uint16_t> ids;
  for (int i = 0; i < kSize; ++i) {
    uint16_t id;
    ASSERT_TRUE(add(i + 1, 1, 10, &id));
    ids.push_back(id);
  }
  EXPECT_FALSE(add(100));
  q->publish();
  std::set<uint16_t> distinct(ids.begin(), ids.end());
  EXPECT_EQ(distinct.size(), size_t{kSize});
  for (uint16_t i = 0; i < kSize; ++i) device_used(i, ids[kSize - 1 - i], 1, true);
  ASSERT_EQ(q->harvest(out, kSize), kSize);
  EXPECT_TRUE(q->used_wrap() == false && q->last_used() == 0);
  uint16_t id;
  ASSERT_TRUE(add(200, 1, 10, &id));
  q->publish();
  EXPECT_EQ(flags_at(0) & (kAvail | kUsed), kUsed);  // second lap: AVAIL 0, USED 1
  EXPECT_EQ(q->harvest(out, kSize), 0);
  device_used(0, id, 1, false);
  ASSERT_EQ(q->harvest(out, kSize), 1);
  EXPECT_EQ(out[0].cookie, reinterpret_cast<void*>(200));
}

// ---- every validation of a used descriptor: detected, counted, broken.

// room(n), as on the split ring: one less per chain of n added, 0 exactly
// when can_add(n) turns false, 0 on a broken queue.
TEST_F(PackedQueueTest, RoomCountsTheChainsCanAddWouldTake) {
  for (uint16_t n : {1, 2, 3}) {
    EXPECT_EQ(q->room(n), kSize / n);
    uint16_t room = q->room(n);
    int added = 0;
    while (q->can_add(n)) {
      ASSERT_EQ(q->room(n), room) << "n " << n << " after " << added << " chains";
      ASSERT_NE(room, 0);
      ASSERT_TRUE(add(added, n));
      --room;
      ++added;
    }
    EXPECT_EQ(room, 0) << "n " << n;
    EXPECT_EQ(q->room(n), 0) << "n " << n;
    q->drain([](void*, uint16_t) {});
  }
  ASSERT_TRUE(add(1));
  q->publish();
  device_used(0, kSize, 1, true);  // id out of range: the queue breaks
  EXPECT_EQ(q->harvest(out, kSize), 0);
  EXPECT_EQ(q->room(1), 0) << "a broken queue has no room";
}

TEST_F(PackedQueueTest, IdOutOfRangeBreaksTheQueue) {
  ASSERT_TRUE(add(1));
  q->publish();
  device_used(0, kSize, 1, true);
  EXPECT_EQ(q->harvest(out, kSize), 0);
  EXPECT_EQ(q->fault(), QueueFault::kUsedIdRange);
  EXPECT_FALSE(q->can_add(1));
  EXPECT_EQ(q->harvest(out, kSize), 0);
}

TEST_F(PackedQueueTest, IdNotInFlightBreaksTheQueue) {
  uint16_t a;
  ASSERT_TRUE(add(1, 1, 100, &a));
  q->publish();
  device_used(0, static_cast<uint16_t>((a + 1) % kSize), 1, true);
  EXPECT_EQ(q->harvest(out, kSize), 0);
  EXPECT_EQ(q->fault(), QueueFault::kUsedIdStale);
}

TEST_F(PackedQueueTest, IdOfAnUnpublishedChainBreaksTheQueue) {
  uint16_t a, b;
  ASSERT_TRUE(add(1, 1, 100, &a));
  q->publish();
  ASSERT_TRUE(add(2, 1, 100, &b));  // in flight, not yet published
  device_used(0, b, 1, true);
  EXPECT_EQ(q->harvest(out, kSize), 0);
  EXPECT_EQ(q->fault(), QueueFault::kUsedIdStale);
}

TEST_F(PackedQueueTest, IdCompletedTwiceBreaksTheQueue) {
  uint16_t a, b;
  ASSERT_TRUE(add(1, 1, 100, &a));
  ASSERT_TRUE(add(2, 1, 100, &b));
  q->publish();
  device_used(0, a, 1, true);
  device_used(1, a, 1, true);
  EXPECT_EQ(q->harvest(out, kSize), 1);
  EXPECT_EQ(q->fault(), QueueFault::kUsedIdStale);
}

TEST_F(PackedQueueTest, LengthAbovePostedIsReportedAndCounted) {
  uint16_t a;
  ASSERT_TRUE(add(1, 1, 100, &a));
  q->publish();
  device_used(0, a, 101, true);
  ASSERT_EQ(q->harvest(out, kSize), 1);
  EXPECT_TRUE(out[0].len_over);
  EXPECT_EQ(q->len_over_count(), 1u);
  EXPECT_FALSE(q->broken());  // as on a split ring: the caller drops the buffer
}

TEST_F(PackedQueueTest, UsedPatternContradictingTheWrapCounterBreaksTheQueue) {
  uint16_t a;
  ASSERT_TRUE(add(1, 1, 100, &a));
  q->publish();
  device_raw(0, a, 1, kUsed);  // AVAIL 0, USED 1: nobody writes that in lap 1
  EXPECT_EQ(q->harvest(out, kSize), 0);
  EXPECT_EQ(q->fault(), QueueFault::kUsedFlags);
}

TEST_F(PackedQueueTest, DeviceThatStopsFlippingItsWrapCounterBreaksTheQueue) {
  // A full lap done properly, then the device marks used with lap 1's bits.
  for (int lap = 0; lap < 2; ++lap) {
    uint16_t ids[kSize];
    for (uint16_t i = 0; i < kSize; ++i) ASSERT_TRUE(add(i + 1, 1, 10, &ids[i]));
    q->publish();
    for (uint16_t i = 0; i < kSize; ++i) device_used(i, ids[i], 1, /*wrap=*/true);
    if (lap == 0) {
      ASSERT_EQ(q->harvest(out, kSize), kSize);
    } else {
      EXPECT_EQ(q->harvest(out, kSize), 0);
      EXPECT_EQ(q->fault(), QueueFault::kUsedWrap);
    }
  }
}

TEST_F(PackedQueueTest, UsedDescriptorWithNothingPublishedBreaksTheQueue) {
  device_used(0, 0, 1, true);
  EXPECT_EQ(q->harvest(out, kSize), 0);
  EXPECT_EQ(q->fault(), QueueFault::kUsedIdxJump);
}

TEST_F(PackedQueueTest, UsedBeforeAnythingWasAvailableIsCaughtAtAttach) {
  EXPECT_TRUE(q->check_used_untouched());
  device_used(0, 0, 1, true);
  EXPECT_FALSE(q->check_used_untouched());
  EXPECT_EQ(q->fault(), QueueFault::kUsedEarly);
}

TEST_F(PackedQueueTest, DrainReturnsEveryChainAndReinitialises) {
  ASSERT_TRUE(add(1, 2));
  ASSERT_TRUE(add(2, 1));
  q->publish();
  device_raw(0, 77, 1, kUsed);
  EXPECT_EQ(q->harvest(out, kSize), 0);
  ASSERT_TRUE(q->broken());
  std::set<intptr_t> back;
  q->drain([&](void* c, uint16_t) { back.insert(reinterpret_cast<intptr_t>(c)); });
  EXPECT_EQ(back, (std::set<intptr_t>{1, 2}));
  EXPECT_FALSE(q->broken());
  EXPECT_EQ(q->free_count(), kSize);
  EXPECT_TRUE(q->used_wrap() && q->avail_wrap() && q->next_avail() == 0);
  EXPECT_EQ(flags_at(0), 0);
}

// ---- event suppression (2.8.10).

TEST_F(PackedQueueTest, DriverEventFlagsFollowSetInterrupts) {
  q->set_interrupts(false);
  EXPECT_EQ(driver_event()->flags.get(), spec::kPackedEventDisable);
  q->set_interrupts(true);
  EXPECT_EQ(driver_event()->flags.get(), spec::kPackedEventEnable);
  q->set_event_idx(true);
  q->set_interrupts(true);
  EXPECT_EQ(driver_event()->flags.get(), spec::kPackedEventDesc);
  EXPECT_EQ(driver_event()->off_wrap.get(), spec::kPackedEventWrapBit | 0);
  uint16_t a;
  ASSERT_TRUE(add(1, 2, 100, &a));
  q->publish();
  device_used(0, a, 1, true);
  ASSERT_EQ(q->harvest(out, kSize), 1);
  // The next used descriptor (position 2, wrap 1) interrupts.
  EXPECT_EQ(driver_event()->off_wrap.get(), spec::kPackedEventWrapBit | 2);
  q->set_interrupts(false);
  EXPECT_EQ(driver_event()->flags.get(), spec::kPackedEventDisable);
}

TEST_F(PackedQueueTest, KickFollowsTheDeviceEventFlags) {
  ASSERT_TRUE(add(1));
  q->publish();
  device_event()->flags.set(spec::kPackedEventDisable);
  EXPECT_FALSE(q->kick_needed());
  ASSERT_TRUE(add(2));
  q->publish();
  device_event()->flags.set(spec::kPackedEventEnable);
  EXPECT_TRUE(q->kick_needed());
}

TEST_F(PackedQueueTest, KickWithEventIdxOnlyWhenTheEventPositionWasCrossed) {
  q->set_event_idx(true);
  device_event()->flags.set(spec::kPackedEventDesc);
  // Event at position 1 (wrap 1): publishing positions 0..1 crosses it.
  device_event()->off_wrap.set(spec::kPackedEventWrapBit | 1);
  ASSERT_TRUE(add(1));
  q->publish();
  EXPECT_FALSE(q->kick_needed());  // positions [0, 1): not yet
  ASSERT_TRUE(add(2));
  q->publish();
  EXPECT_TRUE(q->kick_needed());  // [1, 2) holds the event
  ASSERT_TRUE(add(3));
  q->publish();
  EXPECT_FALSE(q->kick_needed());  // [2, 3): already past
}

TEST_F(PackedQueueTest, KickWithEventIdxCountsOnlyWhatWasPublished) {
  // A chain added after publish() is not available yet: its position must
  // not count as crossed by the decision that follows.
  q->set_event_idx(true);
  device_event()->flags.set(spec::kPackedEventDesc);
  device_event()->off_wrap.set(spec::kPackedEventWrapBit | 1);
  ASSERT_TRUE(add(1));
  q->publish();
  ASSERT_TRUE(add(2));  // position 1, not published
  EXPECT_FALSE(q->kick_needed());
  q->publish();
  EXPECT_TRUE(q->kick_needed());
}

TEST_F(PackedQueueTest, KickWithEventIdxAcrossTheWrap) {
  q->set_event_idx(true);
  device_event()->flags.set(spec::kPackedEventDesc);
  uint16_t ids[6];
  for (auto& id : ids) ASSERT_TRUE(add(1, 1, 10, &id));
  q->publish();
  for (uint16_t i = 0; i < 6; ++i) device_used(i, ids[i], 1, true);
  ASSERT_EQ(q->harvest(out, kSize), 6);
  (void)q->kick_needed();
  // Event at position 7 of lap 1 (wrap 1); the driver publishes 6..9,
  // i.e. positions 6, 7 (lap 1) and 0, 1 (lap 2).
  device_event()->off_wrap.set(spec::kPackedEventWrapBit | 7);
  ASSERT_TRUE(add(1, 4, 10));
  q->publish();
  EXPECT_FALSE(q->avail_wrap());
  EXPECT_TRUE(q->kick_needed());
  // Lap 2 (wrap 0): position 2 is published next; an event at 1 was passed.
  device_event()->off_wrap.set(1);
  ASSERT_TRUE(add(2, 1, 10));
  q->publish();
  EXPECT_FALSE(q->kick_needed());
  device_event()->off_wrap.set(3);
  ASSERT_TRUE(add(3, 1, 10));
  q->publish();
  EXPECT_TRUE(q->kick_needed());
}

// ---- ordering: the barrier before the head flags, the read barrier between
// the used flags and the id/len, the full barrier before the device event.

TEST_F(PackedQueueTest, HeadFlagsAreStoredOnlyAfterTheWriteBarrier) {
  for (bool dma : {false, true}) {
    q->set_dma_barriers(dma);
    uint16_t id;
    ASSERT_TRUE(add(1, 2, 10, &id));
    const uint16_t head = static_cast<uint16_t>((q->next_avail() + kSize - 2) % kSize);
    const uint16_t before = flags_at(head);
    int seen = 0;
    platform.on_barrier = [&](Barrier k) {
      if (k != (dma ? Barrier::kDmaWrite : Barrier::kWrite)) return;
      ++seen;
      EXPECT_EQ(flags_at(head), before);  // the head is not yet available
      EXPECT_NE(flags_at(static_cast<uint16_t>((head + 1) % kSize)) & kAvail, 0);  // body is
    };
    q->publish();
    EXPECT_EQ(seen, 1);
    EXPECT_NE(flags_at(head), before);
    platform.on_barrier = [](Barrier) {};
    q->drain([](void*, uint16_t) {});
  }
}

TEST_F(PackedQueueTest, UsedIdAndLenAreFetchedOnlyAfterTheFlagsAndAReadBarrier) {
  for (bool dma : {false, true}) {
    q->set_dma_barriers(dma);
    uint16_t id;
    ASSERT_TRUE(add(1, 1, 10, &id));
    q->publish();
    device_used(0, id, 1, true);
    platform.fetch_log.clear();
    platform.events.clear();
    ASSERT_EQ(q->harvest(out, 1), 1);
    ASSERT_GE(platform.fetch_log.size(), 2u);
    EXPECT_EQ(platform.fetch_log[0].second, 2u);  // the flags alone first
    EXPECT_EQ(platform.fetch_log[1].second, 6u);  // then len and id
    const auto& ev = platform.events;
    const std::string rb =
        "barrier " + std::to_string(static_cast<int>(dma ? Barrier::kDmaRead : Barrier::kRead));
    ASSERT_GE(ev.size(), 3u);
    EXPECT_EQ(ev[1], rb);
    q->drain([](void*, uint16_t) {});
  }
}

TEST_F(PackedQueueTest, KickDecisionFetchesTheDeviceEventAfterAFullBarrier) {
  ASSERT_TRUE(add(1));
  q->publish();
  platform.events.clear();
  (void)q->kick_needed();
  ASSERT_EQ(platform.events.size(), 2u);
  EXPECT_EQ(platform.events[0], "barrier " + std::to_string(static_cast<int>(Barrier::kFull)));
  EXPECT_EQ(platform.events[1], "fetch device_event");
}

TEST_F(PackedQueueTest, EnablingEventIdxInterruptsOrdersOffWrapBeforeFlags) {
  q->set_event_idx(true);
  q->set_interrupts(false);
  int writes = 0;
  platform.on_barrier = [&](Barrier k) {
    if (k != Barrier::kWrite) return;
    ++writes;
    EXPECT_EQ(driver_event()->flags.get(), spec::kPackedEventDisable);  // not DESC yet
    EXPECT_EQ(driver_event()->off_wrap.get(), spec::kPackedEventWrapBit | 0);
  };
  platform.events.clear();
  q->set_interrupts(true);
  EXPECT_EQ(writes, 1);
  EXPECT_EQ(platform.events.back(), "barrier " + std::to_string(static_cast<int>(Barrier::kFull)));
  platform.on_barrier = [](Barrier) {};
}

TEST_F(PackedQueueTest, HarvestWithEventIdxPublishesTheNewOffWrapBeforeAFullBarrier) {
  q->set_event_idx(true);
  q->set_interrupts(true);
  uint16_t id;
  ASSERT_TRUE(add(1, 1, 10, &id));
  q->publish();
  device_used(0, id, 1, true);
  int full = 0;
  platform.on_barrier = [&](Barrier k) {
    if (k != Barrier::kFull) return;
    ++full;
    EXPECT_EQ(driver_event()->off_wrap.get(), spec::kPackedEventWrapBit | 1);
  };
  ASSERT_EQ(q->harvest(out, kSize), 1);
  EXPECT_EQ(full, 1);
  platform.on_barrier = [](Barrier) {};
}

}  // namespace
}  // namespace vnet
