// VIRTIO_F_IN_ORDER end to end (issue 14 item 4): VirtioNet with
// NetOptions::accept_in_order over the mock device's split ring, which
// completes transmit chains in batches of DeviceConfig::in_order_batch with
// one used entry each (and a mergeable receive frame's buffers as one
// batch). Negotiation, rx and tx traffic byte-exact, a lying batch entry
// detected, counted and recovered from, and a device reset while a batch
// is outstanding. The same over the packed ring (2.8.9): one used
// descriptor per batch at the batch's first position, naming its last.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "tests/integration/mock_world.h"

namespace vnet {
namespace {

using mock::DeviceConfig;
using mock::MockDevice;
using mock::TransportKind;
using mock::UsedEntry;
using spec::Feature;
using testing::make_frame;
using testing::MockWorld;
using testing::violations;

struct InOrderKind {
  TransportKind device;
  const char* name;
};
constexpr InOrderKind kKinds[] = {
    {TransportKind::kModern, "modern"},
    {TransportKind::kTransitional, "transitional"},
    {TransportKind::kMmioV2, "mmio_v2"},
};

NetOptions packed_options_without_in_order(uint16_t cap = 32) {
  NetOptions o;
  o.accept_ring_packed = true;
  o.rx_ring_cap = cap;
  o.tx_ring_cap = cap;
  return o;
}

NetOptions in_order_options(uint16_t cap = 64) {
  NetOptions o;
  o.accept_in_order = true;
  o.rx_ring_cap = cap;
  o.tx_ring_cap = cap;
  return o;
}

class InOrder : public ::testing::TestWithParam<InOrderKind> {
 protected:
  DeviceConfig config(uint16_t batch, uint16_t queue_size = 64) const {
    DeviceConfig c;
    c.transport = GetParam().device;
    c.offer_in_order = true;
    c.in_order_batch = batch;
    c.queue_sizes = {queue_size, queue_size, 64};
    return c;
  }
  static bool negotiated(MockWorld& w) {
    return spec::has_feature(w.net().negotiated_features(), Feature::kInOrder);
  }
  static void expect_clean_stop(MockWorld& w) {
    w.net().stop();
    EXPECT_EQ(w.net().state(), NetState::kDown);
    EXPECT_TRUE(w.pool().all_returned()) << w.pool().outstanding() << " buffers lost";
    EXPECT_EQ(w.pool().double_frees(), 0u);
    EXPECT_EQ(w.platform().dma_live(), 0u);
  }
  // frames each way in bursts; every frame byte-exact, each direction.
  static void echo(MockWorld& w, uint32_t frames, uint32_t burst) {
    auto size_of = [](uint32_t i) { return 60 + (i * 37) % (1514 - 60 + 1); };
    uint32_t tx_seen = 0;
    bool tx_ok = true;
    w.device().set_tx_handler([&](std::span<const uint8_t> frame) {
      const auto want = make_frame(size_of(tx_seen), tx_seen);
      tx_ok = tx_ok && std::equal(frame.begin(), frame.end(), want.begin(), want.end());
      ++tx_seen;
    });
    uint32_t sent = 0, injected = 0, received = 0;
    for (int rounds = 0; sent < frames || received < frames; ++rounds) {
      ASSERT_LT(rounds, 100000) << "no progress";
      std::vector<std::vector<uint8_t>> batch;
      for (uint32_t i = 0; i < burst && sent + i < frames; ++i)
        batch.push_back(make_frame(size_of(sent + i), sent + i));
      sent += static_cast<uint32_t>(w.send(batch));
      for (uint32_t i = 0; i < burst && injected < frames; ++i, ++injected)
        if (!w.device().inject_rx(make_frame(size_of(injected), injected + 7))) break;
      for (auto& f : w.receive()) {
        ASSERT_EQ(f, make_frame(size_of(received), received + 7)) << "rx frame " << received;
        ++received;
      }
      ASSERT_EQ(w.net().state(), NetState::kRunning) << "after " << sent << " frames";
    }
    w.net().tx_reclaim();
    w.device().set_tx_handler(nullptr);
    EXPECT_TRUE(tx_ok);
    EXPECT_EQ(tx_seen, frames);
  }
};

TEST_P(InOrder, NegotiatedOnlyWhenAskedFor) {
  {
    MockWorld w(config(4));
    ASSERT_EQ(w.attach(NetOptions{}), AttachError::kOk);
    EXPECT_FALSE(negotiated(w)) << "off by default";
    EXPECT_EQ(w.device().ring(MockDevice::kTxQueue).split().in_order_batch(), 1);
    w.net().stop();
  }
  {
    MockWorld w(config(4));
    NetOptions o = in_order_options();
    o.feature_mask &= ~spec::feature_mask(Feature::kInOrder);
    ASSERT_EQ(w.attach(o), AttachError::kOk);
    EXPECT_FALSE(negotiated(w)) << "feature_mask forbids it";
    w.net().stop();
  }
  {
    MockWorld w(config(4));
    ASSERT_EQ(w.attach(in_order_options()), AttachError::kOk);
    EXPECT_TRUE(negotiated(w));
    EXPECT_EQ(w.device().ring(MockDevice::kTxQueue).split().in_order_batch(), 4);
    w.net().stop();
  }
}

// A legacy interface cannot carry bit 35: never negotiated there.
TEST(InOrderLegacy, NeverOnALegacyInterface) {
  for (auto [device, mode] : {std::pair{TransportKind::kLegacy, PciMode::kAuto},
                              std::pair{TransportKind::kTransitional, PciMode::kLegacy},
                              std::pair{TransportKind::kMmioV1, PciMode::kAuto}}) {
    DeviceConfig c;
    c.transport = device;
    c.offer_in_order = true;
    c.in_order_batch = 4;
    MockWorld w(c, mode);
    ASSERT_EQ(w.attach(in_order_options()), AttachError::kOk);
    EXPECT_FALSE(spec::has_feature(w.net().negotiated_features(), Feature::kInOrder));
    w.net().stop();
  }
}

// Traffic both ways with transmit batches of 1, 3, 8 and 64 chains per used
// entry: every frame arrives byte-exact, every tx buffer comes back once,
// nothing is counted as a lie, and the device saw no rule broken.
TEST_P(InOrder, EchoWithBatchedCompletions) {
  for (uint16_t batch : {1, 3, 8, 64}) {
    SCOPED_TRACE(batch);
    MockWorld w(config(batch, 32));
    ASSERT_EQ(w.attach(in_order_options(32)), AttachError::kOk);
    ASSERT_TRUE(negotiated(w));
    echo(w, 400, 11);
    const NetCounters& c = w.net().counters();
    EXPECT_EQ(c.tx_completed, 400u);
    if (batch == 1)
      EXPECT_EQ(c.tx_implied_completions, 0u);
    else
      EXPECT_GT(c.tx_implied_completions, 100u) << "batches were taken whole";
    EXPECT_EQ(c.rx_implied_completions, 0u) << "each rx frame has its own entry";
    EXPECT_EQ(c.queue_broken_used_order + c.queue_broken_used_unpub + c.queue_broken_used_stale,
              0u);
    EXPECT_TRUE(w.device().conformance().empty()) << violations(w.device());
    expect_clean_stop(w);
  }
}

// A mergeable frame spread over two buffers comes as ONE used entry (the
// first buffer implied, used completely: 5.1.6.4.2); VirtioNet drops the
// two-buffer frame as it always does and skips its tail.
TEST_P(InOrder, MergeableFrameAsOneBatchIsDroppedAndSkipped) {
  DeviceConfig c = config(8, 32);
  c.rx_mergeable = true;
  MockWorld w(c);
  ASSERT_EQ(w.attach(in_order_options(32)), AttachError::kOk);
  ASSERT_TRUE(negotiated(w));
  ASSERT_TRUE(w.device().inject_rx(make_frame(100, 1)));
  ASSERT_TRUE(w.device().inject_rx(make_frame(3000, 2)));  // two buffers, one entry
  ASSERT_TRUE(w.device().inject_rx(make_frame(200, 3)));
  const auto got = w.receive();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], make_frame(100, 1));
  EXPECT_EQ(got[1], make_frame(200, 3));
  EXPECT_EQ(w.net().counters().rx_implied_completions, 1u);
  EXPECT_EQ(w.net().counters().rx_drop_num_buffers, 1u);
  EXPECT_EQ(w.net().state(), NetState::kRunning);
  echo(w, 50, 5);
  EXPECT_TRUE(w.device().conformance().empty()) << violations(w.device());
  expect_clean_stop(w);
}

// The device's entry names the second chain in flight while used.idx moves
// by one: neither the oldest chain nor a batch the index covers. Broken,
// counted, nothing delivered twice, recovered by poll_device().
TEST_P(InOrder, EntryPastTheUsedIndexBreaksCountsAndRecovers) {
  DeviceConfig c = config(1, 32);
  c.auto_process_tx = false;
  MockWorld w(c);
  ASSERT_EQ(w.attach(in_order_options(32)), AttachError::kOk);
  ASSERT_TRUE(negotiated(w));
  ASSERT_EQ(w.send({make_frame(100, 1), make_frame(101, 2), make_frame(102, 3)}), 3u);
  bool lied = false;
  w.device().set_used_hook([&](UsedEntry& e) {
    if (e.queue == MockDevice::kTxQueue && !lied) {
      e.id += 1;  // descriptors in ring order: the next chain's head
      lied = true;
    }
  });
  EXPECT_EQ(w.device().process_tx(1), 1u);
  w.device().set_used_hook(nullptr);
  w.net().tx_reclaim();
  EXPECT_EQ(w.net().counters().queue_broken_used_order, 1u);
  EXPECT_EQ(w.net().counters().tx_completed, 0u) << "nothing of the lying batch was returned";
  EXPECT_EQ(w.net().state(), NetState::kBroken);
  EXPECT_TRUE(w.net().poll_device().recovered);
  ASSERT_EQ(w.net().state(), NetState::kRunning);
  EXPECT_TRUE(negotiated(w));
  w.device().set_tx_handler(nullptr);
  ASSERT_EQ(w.send({make_frame(100, 4)}), 1u);
  EXPECT_EQ(w.device().process_tx(), 1u);
  EXPECT_EQ(w.net().tx_reclaim(), 1u);
  expect_clean_stop(w);
}

// The same lie on the receive queue: the entry for the first rx buffer
// names the third (published, in flight) while used.idx moves by one.
TEST_P(InOrder, RxEntryPastTheUsedIndexBreaksCountsAndRecovers) {
  DeviceConfig c = config(4, 32);
  MockWorld w(c);
  ASSERT_EQ(w.attach(in_order_options(32)), AttachError::kOk);
  // rx descriptors in ring order, one per buffer: head + 2 is the third.
  w.device().set_used_hook([&](UsedEntry& e) {
    if (e.queue == MockDevice::kRxQueue) e.id = (e.id + 2) % 32;
  });
  ASSERT_TRUE(w.device().inject_rx(make_frame(100, 1)));
  w.device().set_used_hook(nullptr);
  EXPECT_TRUE(w.receive().empty());
  EXPECT_EQ(w.net().counters().queue_broken_used_order, 1u);
  EXPECT_TRUE(w.net().poll_device().recovered);
  ASSERT_TRUE(w.device().inject_rx(make_frame(100, 2)));
  const auto got = w.receive();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], make_frame(100, 2));
  expect_clean_stop(w);
}

// A device reset while a batch is published and not yet harvested: every
// buffer goes back to the pool once, and the ring starts over in order.
TEST_P(InOrder, DeviceResetWithABatchOutstanding) {
  DeviceConfig c = config(8, 32);
  MockWorld w(c);
  ASSERT_EQ(w.attach(in_order_options(32)), AttachError::kOk);
  std::vector<std::vector<uint8_t>> frames;
  for (uint32_t i = 0; i < 6; ++i) frames.push_back(make_frame(80 + i, i));
  ASSERT_EQ(w.send(frames), 6u);  // completed by the device as one entry, not harvested
  EXPECT_EQ(w.device().ring(MockDevice::kTxQueue).used_idx(), 6);
  ASSERT_TRUE(w.device().inject_rx(make_frame(70, 1)));  // published, not harvested
  w.device().device_reset();
  EXPECT_TRUE(w.net().poll_device().recovered);
  ASSERT_EQ(w.net().state(), NetState::kRunning);
  EXPECT_TRUE(negotiated(w));
  EXPECT_EQ(w.pool().double_frees(), 0u);
  echo(w, 60, 7);
  EXPECT_GT(w.net().counters().tx_implied_completions, 0u);
  expect_clean_stop(w);
}

// rx_burst(max = 1) takes a two-buffer batch across two harvests: the
// implied head (num_buffers 2: dropped) in the first, the tail (skipped)
// from private state in the second; then a clean stop.
TEST_P(InOrder, RxBurstOfOneTakesABatchAcrossHarvests) {
  DeviceConfig c = config(8, 32);
  c.rx_mergeable = true;
  MockWorld w(c);
  ASSERT_EQ(w.attach(in_order_options(32)), AttachError::kOk);
  ASSERT_TRUE(w.device().inject_rx(make_frame(3000, 1)));  // one batch of two buffers
  std::vector<PacketBuffer*> bufs(1);
  EXPECT_EQ(w.net().rx_burst(bufs.data(), 1), 0u);
  EXPECT_EQ(w.net().counters().rx_implied_completions, 1u);
  EXPECT_EQ(w.net().counters().rx_drop_num_buffers, 1u);
  EXPECT_EQ(w.net().state(), NetState::kRunning);
  ASSERT_TRUE(w.device().inject_rx(make_frame(64, 2)));
  ASSERT_EQ(w.receive().size(), 1u);
  expect_clean_stop(w);
}

INSTANTIATE_TEST_SUITE_P(Transports, InOrder, ::testing::ValuesIn(kKinds),
                         [](const ::testing::TestParamInfo<InOrderKind>& info) {
                           return std::string(info.param.name);
                         });

// ---- packed rings (2.8.9) ----
// The same worlds with VIRTIO_F_RING_PACKED as well: the mock writes ONE
// used descriptor per batch, at the used position of the batch's first
// chain, carrying the buffer id of its last, and skips the descriptors of
// the whole batch (PackedDeviceQueue::set_in_order).
class PackedInOrder : public InOrder {
 protected:
  DeviceConfig packed_config(uint16_t batch, uint16_t queue_size = 32) const {
    DeviceConfig c = config(batch, queue_size);
    c.offer_ring_packed = true;
    return c;
  }
  static NetOptions packed_in_order_options(uint16_t cap = 32) {
    NetOptions o = in_order_options(cap);
    o.accept_ring_packed = true;
    return o;
  }
  static bool packed_negotiated(MockWorld& w) {
    return spec::has_feature(w.net().negotiated_features(), Feature::kRingPacked) &&
           w.device().ring(MockDevice::kTxQueue).packed() &&
           w.device().ring(MockDevice::kRxQueue).packed();
  }
  static const mock::PackedDeviceQueue& tx_ring(MockWorld& w) {
    return w.device().ring(MockDevice::kTxQueue).packed_ring();
  }
  static uint16_t desc_flags(const mock::PackedDeviceQueue& q, uint16_t pos) {
    uint16_t f;
    std::memcpy(&f, q.ring() + 16 * size_t(pos) + 14, 2);
    return f;
  }
  static uint16_t desc_id(const mock::PackedDeviceQueue& q, uint16_t pos) {
    uint16_t id;
    std::memcpy(&id, q.ring() + 16 * size_t(pos) + 12, 2);
    return id;
  }
};

TEST_P(PackedInOrder, NegotiatedWithThePackedRing) {
  {
    MockWorld w(packed_config(4));
    ASSERT_EQ(w.attach(packed_in_order_options()), AttachError::kOk);
    EXPECT_TRUE(packed_negotiated(w));
    EXPECT_TRUE(negotiated(w));
    EXPECT_EQ(tx_ring(w).in_order_batch(), 4);
    EXPECT_EQ(w.device().ring(MockDevice::kRxQueue).packed_ring().in_order_batch(), 4);
    w.net().stop();
  }
  {
    MockWorld w(packed_config(4));
    NetOptions o = packed_options_without_in_order();
    ASSERT_EQ(w.attach(o), AttachError::kOk);
    EXPECT_TRUE(packed_negotiated(w));
    EXPECT_FALSE(negotiated(w));
    EXPECT_EQ(tx_ring(w).in_order_batch(), 1) << "no batches without IN_ORDER";
    w.net().stop();
  }
}

// Three transmit chains completed as one batch, before the driver looks:
// one used descriptor at the first chain's position naming the third
// chain's buffer id, the second and third chains' descriptors untouched
// (still available), the used position past all three.
TEST_P(PackedInOrder, OneUsedDescriptorAtTheBatchStartNamingItsLast) {
  MockWorld w(packed_config(3));
  ASSERT_EQ(w.attach(packed_in_order_options()), AttachError::kOk);
  ASSERT_TRUE(packed_negotiated(w));
  ASSERT_TRUE(negotiated(w));
  const auto& q = tx_ring(w);
  const uint16_t start = q.used_pos();
  const uint16_t written = q.used_count();
  ASSERT_EQ(w.send({make_frame(100, 1), make_frame(101, 2), make_frame(102, 3)}), 3u);
  EXPECT_EQ(q.used_count(), uint16_t(written + 1)) << "one used descriptor for the batch";
  const uint16_t end = q.used_pos();
  ASSERT_GT(end, start + 2) << "the used position skipped three chains";
  constexpr uint16_t kBoth = spec::kPackedDescFlagAvail | spec::kPackedDescFlagUsed;
  EXPECT_EQ(desc_flags(q, start) & kBoth, kBoth) << "used, wrap counter 1";
  EXPECT_EQ(desc_id(q, start), desc_id(q, uint16_t(end - 1))) << "names the last chain";
  for (uint16_t pos = start + 1; pos < end; ++pos)
    EXPECT_EQ(desc_flags(q, pos) & kBoth, spec::kPackedDescFlagAvail) << "position " << pos;
  EXPECT_EQ(w.net().tx_reclaim(), 3u);
  EXPECT_EQ(w.net().counters().tx_implied_completions, 2u);
  EXPECT_TRUE(w.device().conformance().empty()) << violations(w.device());
  expect_clean_stop(w);
}

// Traffic both ways with transmit batches of 1, 3 and 8 over a 32-entry
// ring (batches straddle the end of the ring): byte-exact, each tx chain
// back once, one used descriptor per batch, nothing counted as a lie, no
// rule broken.
TEST_P(PackedInOrder, EchoWithBatchedCompletions) {
  for (uint16_t batch : {1, 3, 8}) {
    SCOPED_TRACE(batch);
    MockWorld w(packed_config(batch));
    ASSERT_EQ(w.attach(packed_in_order_options()), AttachError::kOk);
    ASSERT_TRUE(packed_negotiated(w));
    ASSERT_TRUE(negotiated(w));
    echo(w, 400, 11);
    const NetCounters& c = w.net().counters();
    EXPECT_EQ(c.tx_completed, 400u);
    if (batch == 1)
      EXPECT_EQ(c.tx_implied_completions, 0u);
    else
      EXPECT_GT(c.tx_implied_completions, 100u) << "batches were taken whole";
    EXPECT_EQ(uint64_t(tx_ring(w).used_count()), 400u - c.tx_implied_completions)
        << "one used descriptor per batch";
    EXPECT_EQ(c.rx_implied_completions, 0u) << "each rx frame has its own descriptor";
    EXPECT_EQ(c.queue_broken_used_order + c.queue_broken_used_unpub + c.queue_broken_used_stale,
              0u);
    EXPECT_EQ(w.net().state(), NetState::kRunning);
    EXPECT_TRUE(w.device().conformance().empty()) << violations(w.device());
    expect_clean_stop(w);
  }
}

// A mergeable frame over two rx buffers: one used descriptor, the first
// buffer implied; dropped and skipped as on the split ring.
TEST_P(PackedInOrder, MergeableFrameAsOneBatchIsDroppedAndSkipped) {
  DeviceConfig c = packed_config(8);
  c.rx_mergeable = true;
  MockWorld w(c);
  ASSERT_EQ(w.attach(packed_in_order_options()), AttachError::kOk);
  ASSERT_TRUE(packed_negotiated(w));
  ASSERT_TRUE(w.device().inject_rx(make_frame(100, 1)));
  ASSERT_TRUE(w.device().inject_rx(make_frame(3000, 2)));  // two buffers, one descriptor
  ASSERT_TRUE(w.device().inject_rx(make_frame(200, 3)));
  const auto got = w.receive();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], make_frame(100, 1));
  EXPECT_EQ(got[1], make_frame(200, 3));
  EXPECT_EQ(w.net().counters().rx_implied_completions, 1u);
  EXPECT_EQ(w.net().counters().rx_drop_num_buffers, 1u);
  EXPECT_EQ(w.net().state(), NetState::kRunning);
  echo(w, 50, 5);
  EXPECT_TRUE(w.device().conformance().empty()) << violations(w.device());
  expect_clean_stop(w);
}

// A device reset while a batch is published and not yet harvested (and
// one while a batch is still open on the device): every buffer back to the
// pool once, the ring starts over, and batches resume.
TEST_P(PackedInOrder, DeviceResetWithABatchOutstanding) {
  MockWorld w(packed_config(8));
  ASSERT_EQ(w.attach(packed_in_order_options()), AttachError::kOk);
  ASSERT_TRUE(packed_negotiated(w));
  std::vector<std::vector<uint8_t>> frames;
  for (uint32_t i = 0; i < 6; ++i) frames.push_back(make_frame(80 + i, i));
  const uint16_t written = tx_ring(w).used_count();
  ASSERT_EQ(w.send(frames), 6u);  // one used descriptor, not harvested
  EXPECT_EQ(tx_ring(w).used_count(), uint16_t(written + 1));
  ASSERT_TRUE(w.device().inject_rx(make_frame(70, 1)));  // published, not harvested
  w.device().device_reset();
  EXPECT_TRUE(w.net().poll_device().recovered);
  ASSERT_EQ(w.net().state(), NetState::kRunning);
  EXPECT_TRUE(packed_negotiated(w));
  EXPECT_TRUE(negotiated(w));
  EXPECT_EQ(tx_ring(w).in_order_batch(), 8) << "batching again after the reset";
  EXPECT_EQ(w.pool().double_frees(), 0u);
  echo(w, 60, 7);
  EXPECT_GT(w.net().counters().tx_implied_completions, 0u);
  EXPECT_TRUE(w.device().conformance().empty()) << violations(w.device());
  expect_clean_stop(w);
}

// A completion that is not the next chain in order (the third chain's
// entry moved one position on by a lie, past descriptors the device has
// consumed) is not folded into the open batch: it is written on its own
// where the lie put it. The driver takes the honest batch of the first
// two and waits at the third chain's untouched position; a device reset
// recovers and batches resume.
TEST_P(PackedInOrder, AMovedEntryIsNotFolded) {
  DeviceConfig c = packed_config(8);
  c.auto_process_tx = false;
  MockWorld w(c);
  ASSERT_EQ(w.attach(packed_in_order_options()), AttachError::kOk);
  ASSERT_TRUE(packed_negotiated(w));
  ASSERT_EQ(w.send({make_frame(100, 1), make_frame(101, 2), make_frame(102, 3)}), 3u);
  const uint16_t written = tx_ring(w).used_count();
  int n = 0;
  w.device().set_used_hook([&](UsedEntry& e) {
    if (e.queue == MockDevice::kTxQueue && ++n == 3) e.used_idx = uint16_t(e.used_idx + 1);
  });
  EXPECT_EQ(w.device().process_tx(), 3u);
  w.device().set_used_hook(nullptr);
  EXPECT_EQ(tx_ring(w).used_count(), uint16_t(written + 2))
      << "the batch of the first two, then the moved entry on its own";
  EXPECT_EQ(w.net().tx_reclaim(), 2u) << "the honest batch only";
  EXPECT_EQ(w.net().counters().tx_implied_completions, 1u);
  w.device().device_reset();
  EXPECT_TRUE(w.net().poll_device().recovered);
  ASSERT_EQ(w.net().state(), NetState::kRunning);
  const uint64_t implied = w.net().counters().tx_implied_completions;
  ASSERT_EQ(w.send({make_frame(100, 4), make_frame(100, 5)}), 2u);
  EXPECT_EQ(w.device().process_tx(), 2u);
  EXPECT_EQ(w.net().tx_reclaim(), 2u);
  EXPECT_EQ(w.net().counters().tx_implied_completions, implied + 1);
  expect_clean_stop(w);
}

INSTANTIATE_TEST_SUITE_P(Transports, PackedInOrder, ::testing::ValuesIn(kKinds),
                         [](const ::testing::TestParamInfo<InOrderKind>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace vnet
