// Multiqueue under threads (issue 15; ctest labels mock and threads, so
// the `tsan` preset runs it under ThreadSanitizer): two queue pairs, each
// driven by a thread of its own (that pair's rx and tx contexts: rx_burst,
// tx_burst, tx_reclaim on pair k only), and a control thread running
// poll_device() and control commands (set_rss, set_rx_mode, add_vlan /
// remove_vlan, set_queue_pairs with the same count) between them, on split
// and packed rings.
//
//   TwoPairThreadsAndAControlThread: a device that behaves.
//   TwoPairThreadsAndAControlThreadSurviveResetsAndLies: the test plays a
//     device that resets now and then and lies in its answer to a control
//     command, so poll_device() re-attaches while the pair threads keep
//     calling their bursts (which must then see only the state word and
//     busy_, never the pair count a re-attach writes).
//   MqThreadedShrink.NoTransmitOnAPairBeingDisabled: VQ_PAIRS_SET lowering
//     the pairs while that pair's tx context runs: no notify of a transmitq
//     the device was told to stop serving (5.1.6.5.5.2).
//
// The device model is not thread-safe; the arrangement is the one of
// threaded_world.h (ThreadedWorld: every platform call under one bus
// mutex, the pool behind its own). The device side of a queue runs only on
// the thread that owns that queue in the driver: pair k's frames are
// injected inside pair k's rx_burst, on its thread (BusPlatform's
// rx_pair_source, under the bus mutex; never from outside the burst, where
// a re-attach by the control context may be writing that ring), pair k's
// transmit chains are consumed inside its own notify
// (auto_process_tx), and the control queue's commands inside the control
// thread's notify. Device events that touch no ring (device_reset, arm)
// come from the test thread under the bus mutex.
//
// At the end: each pair delivered only frames injected on that pair, intact
// and in order; the device received on each pair only that pair's frames,
// intact and in order; every control command was acknowledged (or, with
// resets and lies, every reset and lie was recovered from with both pairs
// in use again); no buffer leaked; no conformance violation; and (the
// point of the tsan preset) no ThreadSanitizer report.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <ostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "driver/spec/net_ctrl_layout.h"
#include "driver/spec/virtio_constants.h"
#include "tests/integration/mock_world.h"
#include "tests/integration/threaded_world.h"

namespace vnet {
namespace {

using namespace std::chrono_literals;
using mock::Fault;
using mock::FaultKind;
using testing::ThreadedWorld;
using testing::Watchdog;
using testing::WorldKind;
using Clock = std::chrono::steady_clock;
namespace ctl = spec::ctrl;

constexpr uint16_t kPairs = 2;
// Phases (each ended by a device event when the device misbehaves), and
// the traffic each way on each pair each must see.
constexpr int kRounds = 12;
constexpr uint64_t kFramesPerPhase = 256;
constexpr auto kPhaseTimeout = 30s;
constexpr auto kWatchdogTimeout = 240s;

struct MqThreadKind {
  WorldKind world;
  bool packed;
  const char* name;
};
void PrintTo(const MqThreadKind& k, std::ostream* os) {
  *os << k.name;
}

const MqThreadKind kKinds[] = {
    {testing::kAllKinds[0], false, "legacy"},
    {testing::kAllKinds[1], false, "modern"},
    {testing::kAllKinds[3], false, "transitional_as_legacy"},
    {testing::kAllKinds[4], false, "mmio_v1"},
    {testing::kAllKinds[5], false, "mmio_v2"},
    {testing::kAllKinds[1], true, "modern_packed"},
    {testing::kAllKinds[5], true, "mmio_v2_packed"},
};

constexpr uint8_t kOwn[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
constexpr uint8_t kDirRx = 0x52;
constexpr uint8_t kDirTx = 0x54;

uint32_t frame_len(uint16_t pair, uint32_t seq) {
  return 60 + (seq * 37u + pair * 11u) % (1514 - 60 + 1);
}
uint8_t frame_byte(uint16_t pair, uint32_t seq, uint8_t dir, size_t i) {
  return static_cast<uint8_t>(seq * 131u + dir * 29u + pair * 53u + i * 7u + (i >> 8));
}
// To the driver's MAC (promiscuous mode is off after attach), 0x88B5,
// direction, pair, le32 seq, pattern.
void fill(uint8_t* out, uint16_t pair, uint32_t seq, uint8_t dir) {
  const uint32_t n = frame_len(pair, seq);
  for (size_t i = 0; i < 6; ++i) out[i] = kOwn[i];
  const uint8_t src[6] = {0x02, 0, 0, 0, 0, 2};
  for (size_t i = 0; i < 6; ++i) out[6 + i] = src[i];
  out[12] = 0x88, out[13] = 0xB5;
  out[14] = dir;
  out[15] = static_cast<uint8_t>(pair);
  for (size_t i = 0; i < 4; ++i) out[16 + i] = static_cast<uint8_t>(seq >> (8 * i));
  for (size_t i = 20; i < n; ++i) out[i] = frame_byte(pair, seq, dir, i);
}
// True when frame is exactly what fill() writes for the pair and sequence
// number it carries (returned).
bool check(std::span<const uint8_t> f, uint8_t dir, uint16_t* pair, uint32_t* seq) {
  if (f.size() < 60 || f[14] != dir) return false;
  *pair = f[15];
  uint32_t s = 0;
  for (size_t i = 0; i < 4; ++i) s |= uint32_t{f[16 + i]} << (8 * i);
  *seq = s;
  if (f.size() != frame_len(*pair, s)) return false;
  for (size_t i = 0; i < 6; ++i)
    if (f[i] != kOwn[i]) return false;
  for (size_t i = 20; i < f.size(); ++i)
    if (f[i] != frame_byte(*pair, s, dir, i)) return false;
  return true;
}

// The device side of one pair. rx: written by that pair's thread under the
// bus mutex; tx: written by the sink, under the bus mutex, on whichever
// thread notified (pair k's, since only pair k's thread notifies its
// transmitq). Read by the test thread after every thread is joined.
struct PairSide {
  uint32_t next_rx = 0;
  std::vector<uint32_t> injected;
  std::vector<uint8_t> rx_frame = std::vector<uint8_t>(1514);  // scratch of the rx source
  int64_t last_tx = -1;
  std::atomic<uint64_t> tx_received{0};
};

struct DeviceSide {
  std::array<PairSide, kPairs> pairs;
  uint64_t tx_bad = 0;  // not intact, out of order, repeated, or a pair we never use
  std::string tx_first_error;

  static void sink(void* context, std::span<const uint8_t> frame) {
    auto* self = static_cast<DeviceSide*>(context);
    uint16_t pair = 0;
    uint32_t seq = 0;
    const bool intact = check(frame, kDirTx, &pair, &seq);
    if (!intact || pair >= kPairs || int64_t{seq} <= self->pairs[pair].last_tx) {
      if (self->tx_bad++ == 0) {
        std::ostringstream os;
        os << "tx frame of " << frame.size() << " bytes, pair " << pair << ", seq " << seq
           << (intact ? " out of order or on no pair of ours" : " not intact");
        self->tx_first_error = os.str();
      }
      return;
    }
    self->pairs[pair].last_tx = seq;
    self->pairs[pair].tx_received.fetch_add(1, std::memory_order_relaxed);
  }
};

// What the device does between phases of traffic.
enum class DeviceEventsMode {
  kNone,           // nothing: every command is acknowledged, no recovery
  kResetsAndLies,  // a device reset and a lying control ack, in turn
};

void run_two_pairs(const MqThreadKind& kind, DeviceEventsMode events) {
  mock::DeviceConfig cfg;
  cfg.transport = kind.world.device;
  cfg.offer_ctrl_vq = true;
  cfg.offer_mq = true;
  cfg.offer_rss = true;
  cfg.offer_hash_report = true;
  cfg.max_virtqueue_pairs = 4;  // the device has more pairs than the driver takes
  cfg.offer_ring_packed = kind.packed;
  ThreadedWorld w(cfg, kind.world.mode, 1024);
  VirtioNet& net = w.net();
  NetOptions options;
  options.accept_ctrl_vq = true;
  options.max_queue_pairs = kPairs;
  options.accept_rss = true;
  options.accept_hash_report = true;
  options.accept_ring_packed = kind.packed;
  options.rx_ring_cap = 64;
  options.tx_ring_cap = 64;
  ASSERT_EQ(w.attach(options), AttachError::kOk);
  ASSERT_EQ(net.state(), NetState::kRunning);
  ASSERT_EQ(net.max_queue_pairs(), kPairs);
  ASSERT_EQ(net.queue_pairs(), kPairs);
  ASSERT_EQ(w.device().active_pairs(), kPairs);
  const bool rss = spec::has_feature(net.negotiated_features(), spec::Feature::kNetRss);

  DeviceSide dev;
  w.device().set_tx_sink(&DeviceSide::sink, &dev);
  // The device completes a few receive buffers of pair k inside pair k's
  // rx bursts, on pair k's thread: only the thread that owns a receive ring
  // in the driver (never the control context re-attaching meanwhile)
  // touches it.
  w.bus().set_rx_pair_source([&w, &dev](uint16_t k) {
    if (k >= kPairs) return;
    PairSide& side = dev.pairs[k];
    for (int i = 0; i < 4; ++i) {
      fill(side.rx_frame.data(), k, side.next_rx, kDirRx);
      if (!w.device().inject_rx_pair(k, {side.rx_frame.data(), frame_len(k, side.next_rx)})) break;
      side.injected.push_back(side.next_rx++);
    }
  });

  std::atomic<bool> stop_control{false}, stop_data{false};
  std::array<std::atomic<uint64_t>, kPairs> rx_delivered{}, tx_taken{};
  std::atomic<uint64_t> recoveries_seen{0}, polls{0}, ctrl_ok{0}, ctrl_failed{0};
  std::atomic<const char*> phase{"start"};

  Watchdog dog(std::chrono::duration_cast<std::chrono::seconds>(kWatchdogTimeout), [&] {
    std::ostringstream os;
    os << "phase " << phase.load() << ", state " << net_state_name(net.state()) << ", rx "
       << rx_delivered[0].load() << "/" << rx_delivered[1].load() << ", tx " << tx_taken[0].load()
       << "/" << tx_taken[1].load() << ", polls " << polls.load() << ", recoveries "
       << recoveries_seen.load();
    return os.str();
  });

  // ---- one thread per pair: that pair's rx and tx contexts ----
  struct PairResult {
    std::vector<uint32_t> delivered;
    uint64_t rx_bad = 0;
    std::string rx_first_error;
  };
  std::array<PairResult, kPairs> results;
  auto pair_thread = [&](uint16_t k) {
    PairResult& res = results[k];
    std::vector<uint8_t> frame(1514);
    std::vector<PacketBuffer*> pending;
    uint32_t next_tx = 0;
    int64_t last_rx = -1;
    PacketBuffer* bufs[32];
    for (uint32_t iter = 0; !stop_data.load(std::memory_order_relaxed); ++iter) {
      // tx context of pair k.
      if (iter % 16 == 0) net.tx_reclaim(k);
      while (pending.size() < 8) {
        fill(frame.data(), k, next_tx, kDirTx);
        PacketBuffer* b = w.locked_pool().alloc_tx({frame.data(), frame_len(k, next_tx)});
        if (b == nullptr) break;
        pending.push_back(b);
        ++next_tx;
      }
      const uint16_t taken =
          pending.empty() ? 0 : net.tx_burst(k, pending.data(), uint16_t(pending.size()));
      pending.erase(pending.begin(), pending.begin() + taken);
      tx_taken[k].fetch_add(taken, std::memory_order_relaxed);
      // The rx context; the device completes a few receive buffers of pair
      // k inside it (rx_pair_source below).
      const uint16_t n = net.rx_burst(k, bufs, 32);
      for (uint16_t i = 0; i < n; ++i) {
        uint16_t pair = 0;
        uint32_t seq = 0;
        const bool intact = check({bufs[i]->data(), bufs[i]->len}, kDirRx, &pair, &seq);
        if (!intact || pair != k || int64_t{seq} <= last_rx) {
          if (res.rx_bad++ == 0)
            res.rx_first_error = "pair " + std::to_string(k) + " delivered a frame of " +
                                 std::to_string(bufs[i]->len) + " bytes, pair " +
                                 std::to_string(pair) + ", seq " + std::to_string(seq) +
                                 (intact ? " (wrong pair or out of order)" : " (not intact)");
        } else {
          last_rx = seq;
        }
        res.delivered.push_back(seq);
        w.locked_pool().free(bufs[i]);
      }
      rx_delivered[k].fetch_add(n, std::memory_order_relaxed);
      if (n == 0 && taken == 0) std::this_thread::yield();
    }
    for (PacketBuffer* b : pending) w.locked_pool().free(b);
  };
  std::thread p0(pair_thread, uint16_t{0});
  std::thread p1(pair_thread, uint16_t{1});

  // ---- control context: poll_device() and control commands ----
  std::thread control([&] {
    RssSettings r{};
    r.hash_types = ctl::kHashIpv4 | ctl::kHashTcpv4;
    r.key_len = 40;
    for (uint8_t i = 0; i < 40; ++i) r.key[i] = static_cast<uint8_t>(i * 29 + 7);
    for (uint32_t i = 0; !stop_control.load(std::memory_order_relaxed); ++i) {
      const DeviceEvents ev = net.poll_device();
      polls.fetch_add(1, std::memory_order_relaxed);
      if (ev.recovered) recoveries_seen.fetch_add(1);
      CtrlResult c = CtrlResult::kOk;
      switch (i % 8) {
        case 0:
        case 1:
          if (!rss) continue;
          r.table_len = net.rss_max_table_len();
          for (uint16_t e = 0; e < r.table_len; ++e)
            r.table[e] = i % 8 == 0 ? 1 : static_cast<uint16_t>(e % kPairs);
          c = net.set_rss(r);
          break;
        case 2:
          c = net.set_rx_mode(RxMode::kAllMulticast, true);
          break;
        case 3:
          c = net.set_rx_mode(RxMode::kAllMulticast, false);
          break;
        case 4:
          c = net.add_vlan(5);
          break;
        case 5:
          c = net.remove_vlan(5);
          break;
        case 6:
          c = net.set_queue_pairs(kPairs);
          break;
        default:
          break;
      }
      (c == CtrlResult::kOk ? ctrl_ok : ctrl_failed).fetch_add(1, std::memory_order_relaxed);
      std::this_thread::sleep_for(200us);
    }
  });

  // ---- the device: events between phases of traffic ----
  auto wait_until = [&](const char* what, const std::function<bool()>& done) {
    const auto deadline = Clock::now() + kPhaseTimeout;
    while (!done()) {
      if (Clock::now() > deadline) {
        ADD_FAILURE() << "timed out waiting for " << what << " (state "
                      << net_state_name(net.state()) << ", rx " << rx_delivered[0].load() << "/"
                      << rx_delivered[1].load() << ", device tx " << dev.pairs[0].tx_received.load()
                      << "/" << dev.pairs[1].tx_received.load() << ", recoveries "
                      << recoveries_seen.load() << ")";
        return false;
      }
      std::this_thread::sleep_for(200us);
    }
    return true;
  };
  auto traffic_flows = [&] {
    std::array<uint64_t, kPairs> rx0{}, tx0{};
    for (uint16_t k = 0; k < kPairs; ++k) {
      rx0[k] = rx_delivered[k].load();
      tx0[k] = dev.pairs[k].tx_received.load();
    }
    return wait_until("traffic both ways on both pairs", [&] {
      for (uint16_t k = 0; k < kPairs; ++k)
        if (rx_delivered[k].load() < rx0[k] + kFramesPerPhase ||
            dev.pairs[k].tx_received.load() < tx0[k] + kFramesPerPhase)
          return false;
      return true;
    });
  };

  auto recovered_since = [&](uint64_t before) {
    return wait_until("recovery", [&] {
      return recoveries_seen.load() > before && net.state() == NetState::kRunning;
    });
  };

  uint64_t resets_caused = 0, lies_told = 0;
  bool ok = true;
  for (int round = 0; ok && round < kRounds; ++round) {
    if (events == DeviceEventsMode::kNone) {
      // Each phase: traffic both ways on both pairs, and control commands
      // acknowledged meanwhile.
      phase = "traffic";
      const uint64_t c0 = ctrl_ok.load();
      ok = traffic_flows() &&
           wait_until("control commands", [&] { return ctrl_ok.load() >= c0 + 4; });
      continue;
    }
    // Each phase: traffic both ways on both pairs, then a device event the
    // driver must recover from while the pair threads keep bursting.
    phase = "traffic";
    if (!(ok = traffic_flows())) break;
    const uint64_t r0 = recoveries_seen.load();
    if (round % 2 == 0) {
      phase = "device reset";
      w.bus().locked([&] { w.device().device_reset(); });
    } else {
      // The next control command's ack is garbage.
      phase = "lying control ack";
      w.bus().locked([&] { w.device().arm(Fault{FaultKind::kCtrlAckValue, -1, 0, 1, 0xFF}); });
      ++lies_told;
    }
    ++resets_caused;
    ok = recovered_since(r0);
  }
  if (ok && events != DeviceEventsMode::kNone) {
    phase = "traffic after the last recovery";
    ok = traffic_flows();
  }
  const NetState final_state = net.state();
  const uint16_t final_pairs = net.queue_pairs();
  const uint16_t device_pairs = w.bus().locked([&] { return w.device().active_pairs(); });

  phase = "stop";
  stop_control = true;
  control.join();
  net.stop();  // the control context is this thread now
  const NetState stopped_state = net.state();
  stop_data = true;
  p0.join();
  p1.join();
  phase = "checks";

  // ---- every thread joined: plain reads from here on ----
  EXPECT_TRUE(ok);
  EXPECT_EQ(final_state, NetState::kRunning) << net_state_name(final_state);
  EXPECT_EQ(stopped_state, NetState::kDown) << net_state_name(stopped_state);
  EXPECT_EQ(final_pairs, kPairs);
  EXPECT_EQ(device_pairs, kPairs);
  for (uint16_t k = 0; k < kPairs; ++k) {
    SCOPED_TRACE("pair " + std::to_string(k));
    const PairResult& res = results[k];
    EXPECT_EQ(res.rx_bad, 0u) << res.rx_first_error;
    EXPECT_GT(res.delivered.size(), 0u);
    size_t j = 0;
    const std::vector<uint32_t>& injected = dev.pairs[k].injected;
    for (uint32_t seq : res.delivered) {
      while (j < injected.size() && injected[j] != seq) ++j;
      if (j == injected.size()) {
        ADD_FAILURE() << "rx seq " << seq << " delivered but never injected (or out of order)";
        break;
      }
      ++j;
    }
    EXPECT_GT(dev.pairs[k].tx_received.load(), 0u);
    EXPECT_LE(dev.pairs[k].tx_received.load(), tx_taken[k].load());
  }
  EXPECT_EQ(dev.tx_bad, 0u) << dev.tx_first_error;
  EXPECT_EQ(w.device().tx_sent(2) + w.device().tx_sent(3), 0u);

  EXPECT_TRUE(w.pool().all_returned()) << w.pool().outstanding() << " buffers not returned";
  EXPECT_EQ(w.pool().double_frees(), 0u);
  EXPECT_EQ(w.pool().foreign_frees(), 0u);
  EXPECT_EQ(w.platform().dma_live(), 0u);
  EXPECT_EQ(w.bus().ring_ops_during_burst(), 0u);

  const NetCounters c = net.total_counters();
  if (events == DeviceEventsMode::kNone) {
    // Nothing went wrong: no reset, no recovery, every command acknowledged.
    EXPECT_EQ(c.recoveries, 0u);
    EXPECT_EQ(recoveries_seen.load(), 0u);
    EXPECT_EQ(ctrl_failed.load(), 0u);
    EXPECT_EQ(c.ctrl_rejected + c.ctrl_bad_ack + c.ctrl_bad_len + c.ctrl_timeouts, 0u);
    EXPECT_GE(ctrl_ok.load(), uint64_t{4} * kRounds);
  } else {
    // Every reset and every lie recovered from; every lie seen as one.
    EXPECT_GE(c.recoveries, resets_caused);
    EXPECT_EQ(c.recoveries, recoveries_seen.load());
    EXPECT_EQ(w.device().counters().faults_applied, lies_told);
    EXPECT_EQ(w.device().armed_faults(), 0u);
    EXPECT_GE(c.ctrl_bad_ack, lies_told);
    EXPECT_GT(ctrl_ok.load(), 0u);
  }
  std::string violations;
  for (const auto& v : w.device().conformance().violations())
    violations += v.section + ": " + v.message + "\n";
  EXPECT_TRUE(w.device().conformance().empty()) << violations;

  std::printf(
      "[%s] rx %zu/%zu, device tx %llu/%llu, polls %llu, control ok %llu failed %llu, "
      "resets caused %llu, recoveries %llu\n",
      kind.name, results[0].delivered.size(), results[1].delivered.size(),
      static_cast<unsigned long long>(dev.pairs[0].tx_received.load()),
      static_cast<unsigned long long>(dev.pairs[1].tx_received.load()),
      static_cast<unsigned long long>(polls.load()),
      static_cast<unsigned long long>(ctrl_ok.load()),
      static_cast<unsigned long long>(ctrl_failed.load()),
      static_cast<unsigned long long>(resets_caused),
      static_cast<unsigned long long>(c.recoveries));
}

class MqThreaded : public ::testing::TestWithParam<MqThreadKind> {};

TEST_P(MqThreaded, TwoPairThreadsAndAControlThread) {
  run_two_pairs(GetParam(), DeviceEventsMode::kNone);
}

// A re-attach (poll_device after a reset or a lie) rewrites the pairs set
// up while the pair threads keep calling rx_burst/tx_burst/tx_reclaim: a
// burst may read that count only inside the data-path handshake. On packed
// rings the tx watchdog's peek must not read the slot the tx context is
// publishing into.
TEST_P(MqThreaded, TwoPairThreadsAndAControlThreadSurviveResetsAndLies) {
  run_two_pairs(GetParam(), DeviceEventsMode::kResetsAndLies);
}

std::string kind_name(const ::testing::TestParamInfo<MqThreadKind>& info) {
  return info.param.name;
}
INSTANTIATE_TEST_SUITE_P(Transports, MqThreaded, ::testing::ValuesIn(kKinds), kind_name);

// Shrinking the queue pairs while pair 1's tx context runs (5.1.6.5.5.2:
// "The driver MUST NOT queue packets on transmit queues greater than
// virtqueue_pairs once it has placed the VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET
// command in the available ring"). The control context (this thread)
// lowers the pairs to 1 and raises them to 2 again, over and over; the
// mock's conformance checker reports a notify of transmitq2 while only one
// pair is enabled (drv-5.1.6.5.6.1-4).
class MqThreadedShrink : public ::testing::TestWithParam<MqThreadKind> {};

TEST_P(MqThreadedShrink, NoTransmitOnAPairBeingDisabled) {
  const MqThreadKind& kind = GetParam();
  mock::DeviceConfig cfg;
  cfg.transport = kind.world.device;
  cfg.offer_ctrl_vq = true;
  cfg.offer_mq = true;
  cfg.max_virtqueue_pairs = 2;
  cfg.offer_ring_packed = kind.packed;
  ThreadedWorld w(cfg, kind.world.mode, 1024);
  VirtioNet& net = w.net();
  NetOptions options;
  options.accept_ctrl_vq = true;
  options.max_queue_pairs = 2;
  options.accept_ring_packed = kind.packed;
  options.rx_ring_cap = 64;
  options.tx_ring_cap = 64;
  ASSERT_EQ(w.attach(options), AttachError::kOk);
  ASSERT_EQ(w.device().active_pairs(), 2);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> taken_total{0};
  Watchdog dog(std::chrono::duration_cast<std::chrono::seconds>(kWatchdogTimeout), [&] {
    return "shrink: state " + std::string(net_state_name(net.state())) + ", tx taken " +
           std::to_string(taken_total.load());
  });
  // The tx context of pair 1, and nothing else on the data path.
  std::thread tx([&] {
    std::vector<uint8_t> frame(1514);
    for (uint32_t seq = 0; !stop.load(std::memory_order_relaxed);) {
      fill(frame.data(), 1, seq, kDirTx);
      PacketBuffer* b = w.locked_pool().alloc_tx({frame.data(), frame_len(1, seq)});
      if (b == nullptr) {
        net.tx_reclaim(1);
        continue;
      }
      const uint16_t taken = net.tx_burst(1, &b, 1);
      if (taken == 0) w.locked_pool().free(b);
      seq += taken;
      taken_total.fetch_add(taken, std::memory_order_relaxed);
    }
  });
  uint64_t shrinks = 0, grows = 0;
  for (int i = 0; i < 400; ++i) {
    if (net.set_queue_pairs(1) == CtrlResult::kOk) ++shrinks;
    std::this_thread::sleep_for(50us);
    if (net.set_queue_pairs(2) == CtrlResult::kOk) ++grows;
    (void)net.poll_device();
    std::this_thread::sleep_for(50us);
  }
  stop = true;
  tx.join();
  const NetState final_state = net.state();
  const uint16_t final_pairs = net.queue_pairs();
  net.stop();
  EXPECT_EQ(final_state, NetState::kRunning) << net_state_name(final_state);
  EXPECT_EQ(final_pairs, 2);
  EXPECT_EQ(shrinks, 400u);
  EXPECT_EQ(grows, 400u);
  EXPECT_GT(taken_total.load(), 0u);
  EXPECT_GT(w.device().tx_sent(1), 0u);
  const NetCounters c = net.total_counters();
  EXPECT_EQ(c.recoveries, 0u);
  EXPECT_EQ(c.tx_watchdog_timeouts, 0u);
  std::string violations;
  for (const auto& v : w.device().conformance().violations())
    violations += v.id + " " + v.section + ": " + v.message + "\n";
  EXPECT_TRUE(w.device().conformance().empty()) << violations;
  EXPECT_TRUE(w.pool().all_returned()) << w.pool().outstanding() << " buffers not returned";
  EXPECT_EQ(w.platform().dma_live(), 0u);
  std::printf("[%s] shrinks %llu, tx taken on pair 1 %llu, device tx on pair 1 %llu\n", kind.name,
              static_cast<unsigned long long>(shrinks),
              static_cast<unsigned long long>(taken_total.load()),
              static_cast<unsigned long long>(w.device().tx_sent(1)));
}

const MqThreadKind kShrinkKinds[] = {
    {testing::kAllKinds[1], false, "modern"},
    {testing::kAllKinds[5], false, "mmio_v2"},
    {testing::kAllKinds[1], true, "modern_packed"},
};
INSTANTIATE_TEST_SUITE_P(Transports, MqThreadedShrink, ::testing::ValuesIn(kShrinkKinds),
                         kind_name);

}  // namespace
}  // namespace vnet
