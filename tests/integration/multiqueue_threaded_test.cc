// Multiqueue under threads (issue 15; ctest labels mock and threads, so
// the `tsan` preset runs it under ThreadSanitizer): two queue pairs, each
// driven by a thread of its own (that pair's rx and tx contexts: rx_burst,
// tx_burst, tx_reclaim on pair k only), and a control thread running
// poll_device() and control commands (set_rss, set_rx_mode, add_vlan /
// remove_vlan, set_queue_pairs with the same count) between them.
//
// The device model is not thread-safe; the arrangement is the one of
// threaded_world.h (ThreadedWorld: every platform call under one bus
// mutex, the pool behind its own). The device side of a queue runs only on
// the thread that owns that queue in the driver: pair k's frames are
// injected by pair k's thread (under the bus mutex, just before its
// rx_burst), pair k's transmit chains are consumed inside its own notify
// (auto_process_tx), and the control queue's commands inside the control
// thread's notify.
//
// At the end: each pair delivered only frames injected on that pair, intact
// and in order; the device received on each pair only that pair's frames,
// intact and in order; every control command was acknowledged, both pairs
// stayed in use; no buffer leaked; no conformance violation; and (the
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
using testing::ThreadedWorld;
using testing::WorldKind;
using Clock = std::chrono::steady_clock;
namespace ctl = spec::ctrl;

constexpr uint16_t kPairs = 2;
// Phases, and the traffic each way on each pair each must see.
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

class Watchdog {
 public:
  Watchdog(std::chrono::seconds timeout, std::function<std::string()> describe)
      : describe_(std::move(describe)), thread_([this, timeout] { run(timeout); }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void run(std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, timeout, [this] { return done_; })) return;
    std::fprintf(stderr, "WATCHDOG: test still running after %lld s (deadlock?): %s\n",
                 static_cast<long long>(timeout.count()), describe_().c_str());
    std::fflush(stderr);
    std::abort();
  }
  std::function<std::string()> describe_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// The device side of one pair. rx: written by that pair's thread under the
// bus mutex; tx: written by the sink, under the bus mutex, on whichever
// thread notified (pair k's, since only pair k's thread notifies its
// transmitq). Read by the test thread after every thread is joined.
struct PairSide {
  uint32_t next_rx = 0;
  std::vector<uint32_t> injected;
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

class MqThreaded : public ::testing::TestWithParam<MqThreadKind> {};

TEST_P(MqThreaded, TwoPairThreadsAndAControlThread) {
  const MqThreadKind& kind = GetParam();
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
    PairSide& side = dev.pairs[k];
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
      // The device completes a few receive buffers of pair k (only pair
      // k's thread touches pair k's receive ring), then the rx context.
      w.bus().locked([&] {
        for (int i = 0; i < 4; ++i) {
          fill(frame.data(), k, side.next_rx, kDirRx);
          if (!w.device().inject_rx_pair(k, {frame.data(), frame_len(k, side.next_rx)})) break;
          side.injected.push_back(side.next_rx++);
        }
      });
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

  bool ok = true;
  for (int round = 0; ok && round < kRounds; ++round) {
    // Each phase: traffic both ways on both pairs, and control commands
    // acknowledged meanwhile.
    phase = "traffic";
    const uint64_t c0 = ctrl_ok.load();
    ok =
        traffic_flows() && wait_until("control commands", [&] { return ctrl_ok.load() >= c0 + 4; });
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
  // Nothing went wrong: no reset, no recovery, every command acknowledged.
  EXPECT_EQ(c.recoveries, 0u);
  EXPECT_EQ(recoveries_seen.load(), 0u);
  EXPECT_EQ(ctrl_failed.load(), 0u);
  EXPECT_EQ(c.ctrl_rejected + c.ctrl_bad_ack + c.ctrl_bad_len + c.ctrl_timeouts, 0u);
  EXPECT_GE(ctrl_ok.load(), uint64_t{4} * kRounds);
  std::string violations;
  for (const auto& v : w.device().conformance().violations())
    violations += v.section + ": " + v.message + "\n";
  EXPECT_TRUE(w.device().conformance().empty()) << violations;

  std::printf(
      "[%s] rx %zu/%zu, device tx %llu/%llu, polls %llu, control ok %llu failed %llu, "
      "recoveries %llu\n",
      kind.name, results[0].delivered.size(), results[1].delivered.size(),
      static_cast<unsigned long long>(dev.pairs[0].tx_received.load()),
      static_cast<unsigned long long>(dev.pairs[1].tx_received.load()),
      static_cast<unsigned long long>(polls.load()),
      static_cast<unsigned long long>(ctrl_ok.load()),
      static_cast<unsigned long long>(ctrl_failed.load()),
      static_cast<unsigned long long>(c.recoveries));
}

std::string kind_name(const ::testing::TestParamInfo<MqThreadKind>& info) {
  return info.param.name;
}
INSTANTIATE_TEST_SUITE_P(Transports, MqThreaded, ::testing::ValuesIn(kKinds), kind_name);

}  // namespace
}  // namespace vnet
