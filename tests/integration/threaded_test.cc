// The driver's three contexts on three threads against the mock device
// (ctest labels mock and threads; the `tsan` preset runs it under
// ThreadSanitizer): an rx thread in rx_burst(), a tx thread in tx_burst(),
// a control thread in poll_device() every ~100 us, while the test plays a
// device that now and then resets, flaps its link and lies on a ring.
//
// At the end: every frame delivered was one the device injected, byte for
// byte and in order; every frame the device received was one the driver was
// given, byte for byte and in order; no buffer leaked or was freed twice;
// every reset the device caused was recovered from; the driver was running
// again after the last one; and no thread hung (each wait is bounded, and a
// watchdog aborts the process instead of letting ctest hang).
//
// The threading model around the (not thread-safe) mock is in
// threaded_world.h.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/mock_world.h"
#include "tests/integration/threaded_world.h"

namespace vnet {
namespace {

using namespace std::chrono_literals;
using mock::Fault;
using mock::FaultKind;
using testing::check_frame;
using testing::fill_frame;
using testing::frame_size;
using testing::kDirRx;
using testing::kDirTx;
using testing::ThreadedWorld;
using testing::Watchdog;
using testing::WorldKind;
using Clock = std::chrono::steady_clock;

// Rounds of device events (reset, link flap, rx lie, tx lie, in turn), and
// the traffic each way that must flow before each of them.
constexpr int kRounds = 40;
constexpr uint64_t kFramesPerPhase = 256;
// Longest any one wait may take (ThreadSanitizer on a loaded 2-core CI
// machine is slow, but not this slow), and the whole test.
constexpr auto kPhaseTimeout = 20s;
constexpr auto kWatchdogTimeout = 180s;

// The device side, under the bus mutex: rx frames injected on the rx
// thread, tx frames checked on the tx thread.
struct DeviceSide {
  mock::MockDevice* device = nullptr;
  uint32_t next_rx = 0;            // next rx sequence number to inject
  std::vector<uint32_t> injected;  // rx sequence numbers the device wrote into buffers
  std::vector<uint8_t> scratch = std::vector<uint8_t>(1514);
  int64_t last_tx = -1;  // last tx sequence number received
  uint64_t tx_bad = 0;   // frames not intact, or out of order / repeated
  std::string tx_first_error;
  std::atomic<uint64_t> rx_injected{0};
  std::atomic<uint64_t> tx_received{0};

  void inject_some() {
    // A few frames per harvest, as a NIC would complete them between polls;
    // a frame with no buffer to go to is retried (not lost) next time.
    for (int k = 0; k < 4; ++k) {
      const uint32_t seq = next_rx;
      fill_frame(scratch.data(), seq, kDirRx);
      if (!device->inject_rx(std::span<const uint8_t>(scratch.data(), frame_size(seq)))) break;
      injected.push_back(seq);
      ++next_rx;
      rx_injected.fetch_add(1, std::memory_order_relaxed);
    }
  }

  static void tx_sink(void* context, std::span<const uint8_t> frame) {
    auto* self = static_cast<DeviceSide*>(context);
    uint32_t seq = 0;
    const bool intact = check_frame(frame, kDirTx, &seq);
    if (!intact || int64_t{seq} <= self->last_tx) {
      if (self->tx_bad++ == 0) {
        std::ostringstream os;
        os << "tx frame of " << frame.size() << " bytes, seq " << seq
           << (intact ? " out of order (last " + std::to_string(self->last_tx) + ")"
                      : " not intact");
        self->tx_first_error = os.str();
      }
    }
    if (intact && int64_t{seq} > self->last_tx) self->last_tx = seq;
    self->tx_received.fetch_add(1, std::memory_order_relaxed);
  }
};

class Threaded : public ::testing::TestWithParam<WorldKind> {};

TEST_P(Threaded, RxTxAndControlThreadsSurviveResetsLinkFlapsAndLies) {
  mock::DeviceConfig cfg;
  cfg.transport = GetParam().device;
  const bool mmio = mock::is_mmio(cfg.transport);
  cfg.msix_vectors = mmio ? 0 : 4;  // virtio-mmio has none
  ThreadedWorld w(cfg, GetParam().mode, 1024);
  VirtioNet& net = w.net();
  // Interrupts: MSI-X, and INTx (the line) on the legacy-only and MMIO devices, with a fourth
  // thread in the interrupt context (below). No storm guard: that thread
  // interrupts far faster than any device would.
  w.platform().set_msi_vectors(8);
  w.platform().set_line(true);
  NetOptions options;
  options.interrupts = GetParam().device == mock::TransportKind::kLegacy || mmio
                           ? InterruptMode::kIntx
                           : InterruptMode::kMsix;
  options.irq_storm_limit = 0;
  ASSERT_EQ(w.attach(options), AttachError::kOk);
  ASSERT_EQ(net.state(), NetState::kRunning);
  ASSERT_EQ(net.interrupt_mode(), options.interrupts);

  DeviceSide dev;
  dev.device = &w.device();
  w.device().set_tx_sink(&DeviceSide::tx_sink, &dev);
  w.bus().set_rx_source([&dev] { dev.inject_some(); });

  // ---- shared between the threads: atomics only ----
  std::atomic<bool> stop_control{false}, stop_data{false};
  std::atomic<uint64_t> rx_delivered{0}, tx_taken{0};
  std::atomic<uint64_t> recoveries_seen{0}, link_changes_seen{0}, resets_detected{0},
      resets_deferred{0}, polls{0};
  std::atomic<bool> link_up_seen{true};
  std::atomic<const char*> phase{"start"};

  Watchdog dog(std::chrono::duration_cast<std::chrono::seconds>(kWatchdogTimeout), [&] {
    std::ostringstream os;
    os << "phase " << phase.load() << ", state " << net_state_name(net.state()) << ", rx delivered "
       << rx_delivered.load() << ", tx taken " << tx_taken.load() << ", polls " << polls.load()
       << ", recoveries " << recoveries_seen.load();
    return os.str();
  });

  // ---- rx context ----
  std::vector<uint32_t> delivered;  // rx thread only until joined
  uint64_t rx_bad = 0;
  std::string rx_first_error;
  std::thread rx([&] {
    PacketBuffer* bufs[64];
    int64_t last = -1;
    for (uint32_t iter = 0; !stop_data.load(std::memory_order_relaxed); ++iter) {
      // Now and then the other rx-context call: interrupts on for a while
      // (the device then raises ISR bit 0, which poll_device() reads).
      if (iter % 64 == 0) net.set_rx_interrupts(iter % 128 == 0);
      const uint16_t n = net.rx_burst(bufs, 64);
      for (uint16_t i = 0; i < n; ++i) {
        uint32_t seq = 0;
        const bool intact = check_frame({bufs[i]->data(), bufs[i]->len}, kDirRx, &seq);
        if (!intact || int64_t{seq} <= last) {
          if (rx_bad++ == 0)
            rx_first_error = "rx frame of " + std::to_string(bufs[i]->len) + " bytes, seq " +
                             std::to_string(seq) + (intact ? " out of order" : " not intact");
        } else {
          last = seq;
        }
        delivered.push_back(seq);
        w.locked_pool().free(bufs[i]);
      }
      rx_delivered.fetch_add(n, std::memory_order_relaxed);
      if (n == 0) std::this_thread::yield();
    }
  });

  // ---- tx context ----
  std::thread tx([&] {
    std::vector<PacketBuffer*> pending;  // ours: not yet taken by the driver
    std::vector<uint8_t> frame(1514);
    uint32_t next = 0;
    for (uint32_t iter = 0; !stop_data.load(std::memory_order_relaxed); ++iter) {
      // Now and then the other tx-context call.
      if (iter % 32 == 0) net.tx_reclaim();
      while (pending.size() < 16) {
        fill_frame(frame.data(), next, kDirTx);
        PacketBuffer* b = w.locked_pool().alloc_tx({frame.data(), frame_size(next)});
        if (b == nullptr) break;
        pending.push_back(b);
        ++next;
      }
      const uint16_t taken =
          pending.empty() ? 0 : net.tx_burst(pending.data(), static_cast<uint16_t>(pending.size()));
      pending.erase(pending.begin(), pending.begin() + taken);
      tx_taken.fetch_add(taken, std::memory_order_relaxed);
      if (taken == 0) std::this_thread::yield();
    }
    for (PacketBuffer* b : pending) w.locked_pool().free(b);
  });

  // ---- control context ----
  std::thread control([&] {
    while (!stop_control.load(std::memory_order_relaxed)) {
      const DeviceEvents ev = net.poll_device();
      polls.fetch_add(1, std::memory_order_relaxed);
      if (ev.reset_detected) resets_detected.fetch_add(1);
      if (ev.reset_deferred) resets_deferred.fetch_add(1);
      if (ev.link_changed) {
        link_up_seen.store(net.link_up());  // link_up() belongs to this context
        link_changes_seen.fetch_add(1);
      }
      if (ev.recovered) recoveries_seen.fetch_add(1);
      std::this_thread::sleep_for(100us);
    }
  });

  // ---- interrupt context: the platform's handler, at any moment ----
  // Every source in turn (vectors of the driver's mapping, one it never set
  // up, the line), whatever the other contexts do, through resets and
  // stop(). INTx reads the ISR; with MSI-X only atomics are touched.
  std::atomic<bool> stop_irq{false};
  std::atomic<uint64_t> irq_calls{0};
  std::thread irq([&] {
    for (uint16_t i = 0; !stop_irq.load(std::memory_order_relaxed); ++i) {
      const IrqSource s = i % 5 == 4 ? IrqSource::line() : IrqSource::msi(uint16_t(i % 5));
      (void)net.handle_interrupt(s);
      irq_calls.fetch_add(1, std::memory_order_relaxed);
      std::this_thread::sleep_for(50us);
    }
  });

  // ---- the device: events between bursts of traffic ----
  auto wait_until = [&](const char* what, const std::function<bool()>& done) {
    const auto deadline = Clock::now() + kPhaseTimeout;
    while (!done()) {
      if (Clock::now() > deadline) {
        ADD_FAILURE() << "timed out waiting for " << what << " (state "
                      << net_state_name(net.state()) << ", rx delivered " << rx_delivered.load()
                      << ", device tx received " << dev.tx_received.load() << ", recoveries "
                      << recoveries_seen.load() << ", resets detected " << resets_detected.load()
                      << ", deferred " << resets_deferred.load() << ")";
        return false;
      }
      std::this_thread::sleep_for(200us);
    }
    return true;
  };
  auto traffic_flows = [&] {
    const uint64_t rx0 = rx_delivered.load(), tx0 = dev.tx_received.load();
    return wait_until("traffic both ways", [&] {
      return rx_delivered.load() >= rx0 + kFramesPerPhase &&
             dev.tx_received.load() >= tx0 + kFramesPerPhase;
    });
  };
  auto recovered_since = [&](uint64_t before) {
    return wait_until("recovery", [&] {
      return recoveries_seen.load() > before && net.state() == NetState::kRunning;
    });
  };

  uint64_t resets_caused = 0, faults_armed = 0, link_flaps = 0;
  bool ok = true;
  for (int round = 0; ok && round < kRounds; ++round) {
    phase = "traffic";
    if (!(ok = traffic_flows())) break;
    const uint64_t r0 = recoveries_seen.load();
    switch (round % 4) {
      case 0:
        phase = "device reset";
        w.bus().locked([&] { w.device().device_reset(); });
        ++resets_caused;
        ok = recovered_since(r0);
        break;
      case 1: {
        phase = "link flap";
        const uint64_t l0 = link_changes_seen.load();
        w.bus().locked([&] { w.device().set_link(false); });
        ok = wait_until("link down seen",
                        [&] { return link_changes_seen.load() > l0 && !link_up_seen.load(); });
        w.bus().locked([&] { w.device().set_link(true); });
        ok = ok && wait_until("link up seen", [&] {
               return link_changes_seen.load() > l0 + 1 && link_up_seen.load();
             });
        ++link_flaps;
        break;
      }
      case 2:
        // The next rx used entry names a descriptor beyond the ring.
        phase = "rx used id out of range";
        w.bus().locked([&] { w.device().arm(Fault{FaultKind::kUsedIdOutOfRange, 0, 0, 1, 3}); });
        ++faults_armed;
        ++resets_caused;
        ok = recovered_since(r0);
        break;
      case 3:
        // The next tx used index jumps past everything in flight.
        phase = "tx used idx jump";
        w.bus().locked([&] { w.device().arm(Fault{FaultKind::kUsedIdxJump, 1, 0, 1, 0}); });
        ++faults_armed;
        ++resets_caused;
        ok = recovered_since(r0);
        break;
    }
  }
  phase = "traffic after the last recovery";
  if (ok) ok = traffic_flows();
  const NetState final_state = net.state();

  // ---- shutdown: control first; then stop() while bursts still run ----
  phase = "stop";
  stop_control = true;
  control.join();
  net.stop();  // the control context is this thread now
  const NetState stopped_state = net.state();
  stop_data = true;
  rx.join();
  tx.join();
  stop_irq = true;
  irq.join();
  phase = "checks";

  // ---- every thread joined: plain reads from here on ----
  EXPECT_TRUE(ok);
  EXPECT_EQ(final_state, NetState::kRunning) << net_state_name(final_state);
  EXPECT_EQ(stopped_state, NetState::kDown) << net_state_name(stopped_state);

  // Receive: intact, in order, and each one injected by the device.
  EXPECT_EQ(rx_bad, 0u) << rx_first_error;
  EXPECT_GT(delivered.size(), 0u);
  size_t j = 0;
  for (uint32_t seq : delivered) {
    while (j < dev.injected.size() && dev.injected[j] != seq) ++j;
    if (j == dev.injected.size()) {
      ADD_FAILURE() << "rx seq " << seq << " delivered but never injected (or out of order)";
      break;
    }
    ++j;
  }
  // Transmit: intact, in order (no frame twice).
  EXPECT_EQ(dev.tx_bad, 0u) << dev.tx_first_error;
  EXPECT_GT(dev.tx_received.load(), 0u);
  EXPECT_LE(dev.tx_received.load(), tx_taken.load());

  // Buffers: every one back, none freed twice or foreign; rings freed.
  EXPECT_TRUE(w.pool().all_returned()) << w.pool().outstanding() << " buffers not returned";
  EXPECT_EQ(w.pool().double_frees(), 0u);
  EXPECT_EQ(w.pool().foreign_frees(), 0u);
  EXPECT_EQ(w.platform().dma_live(), 0u);
  EXPECT_EQ(w.bus().ring_ops_during_burst(), 0u);

  // Recovery: at least one per reset the device caused, every fault fired.
  const NetCounters& c = net.counters();
  EXPECT_GE(c.recoveries, resets_caused);
  EXPECT_EQ(c.recoveries, recoveries_seen.load());
  EXPECT_EQ(w.device().counters().faults_applied, faults_armed);
  EXPECT_EQ(w.device().armed_faults(), 0u);
  EXPECT_GE(c.queue_broken_used_id, faults_armed / 2);
  EXPECT_GE(c.queue_broken_used_idx, faults_armed / 2);
  EXPECT_GE(c.link_changes, 2 * link_flaps);
  // The interrupt context ran throughout and counted what it saw.
  EXPECT_GT(irq_calls.load(), 0u);
  if (options.interrupts == InterruptMode::kMsix)
    EXPECT_GT(c.irq_vector, 0u);
  else
    EXPECT_GT(c.irq_line + c.irq_not_ours, 0u);
  EXPECT_GT(c.irq_stray, 0u);
  std::string violations;
  for (const auto& v : w.device().conformance().violations())
    violations += v.section + ": " + v.message + "\n";
  EXPECT_TRUE(w.device().conformance().empty()) << violations;

  std::printf(
      "[%s] rx delivered %zu of %llu injected, tx received %llu of %llu taken, polls %llu, "
      "resets caused %llu, recoveries %llu, deferred %llu, link changes %llu\n",
      GetParam().name, delivered.size(), static_cast<unsigned long long>(dev.rx_injected.load()),
      static_cast<unsigned long long>(dev.tx_received.load()),
      static_cast<unsigned long long>(tx_taken.load()),
      static_cast<unsigned long long>(polls.load()), static_cast<unsigned long long>(resets_caused),
      static_cast<unsigned long long>(c.recoveries),
      static_cast<unsigned long long>(resets_deferred.load()),
      static_cast<unsigned long long>(c.link_changes));
}

std::string kind_name(const ::testing::TestParamInfo<WorldKind>& info) {
  return info.param.name;
}
INSTANTIATE_TEST_SUITE_P(Transports, Threaded, ::testing::ValuesIn(testing::kAllKinds), kind_name);

}  // namespace
}  // namespace vnet
