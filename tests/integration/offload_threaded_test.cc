// Offloads under threads (issue 16; ctest labels mock and threads, the
// `tsan` preset runs it under ThreadSanitizer), against the mock device
// through ThreadedWorld (threaded_world.h) offering what a vnet-header tap
// offers (DeviceConfig::offer_offloads, MRG_RXBUF):
//
//  * rx: an rx thread in rx_burst() takes coalesced TCP frames (GSO TCPv4
//    and TCPv6 of 2-9 KB) as receive chains of 2 KiB buffers, and plain
//    frames, while the control thread runs poll_device() and switches the
//    receive offloads with set_guest_offloads() -- all, all but GUEST_TSO4,
//    GUEST_CSUM alone -- over and over. The driver's offloads_active_ is an
//    atomic the rx context reads per frame and the control context writes on
//    the device's acknowledgement. Every frame the device wrote is delivered
//    byte for byte with its offload result, in order, or dropped under
//    rx_drop_hdr_gso (a GSO frame harvested while its offload was off in the
//    driver: written before a switch-off, or after a switch-on the driver had
//    not yet seen acknowledged) -- never anything else, and no buffer is
//    lost.
//  * tx: a tx thread in tx_burst() sends frames asking for checksum offload,
//    TSO4/TSO6 from one buffer and from indirect fragment chains, plain
//    frames and two kinds of requests the driver refuses, while the control
//    thread runs poll_device() (the tx watchdog looks at the tx queue). The
//    device segments and completes; every wire frame is checked against the
//    frame it came from (checksums, payload bytes, sequence numbers), every
//    taken frame arrives whole (refused ones not at all), and the driver's
//    and the device's offload counters add up to what was sent.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/threaded_world.h"
#include "tests/mock_device/offload_frames.h"

namespace vnet {
namespace {

namespace ft = vnet::mock::testing;
using namespace std::chrono_literals;
using F = spec::Feature;
using ft::FrameSpec;
using spec::feature_mask;
using testing::ThreadedWorld;
using testing::Watchdog;
using Clock = std::chrono::steady_clock;

constexpr auto kPhaseTimeout = 60s;
constexpr auto kWatchdogTimeout = 240s;

// Waits (bounded) until done(); false, with a failure naming what, on timeout.
bool wait_until(const char* what, const std::function<bool()>& done,
                const std::function<std::string()>& state) {
  const auto deadline = Clock::now() + kPhaseTimeout;
  while (!done()) {
    if (Clock::now() > deadline) {
      ADD_FAILURE() << "timed out waiting for " << what << " (" << state() << ")";
      return false;
    }
    std::this_thread::sleep_for(200us);
  }
  return true;
}

constexpr uint64_t kGuestGso = feature_mask(F::kNetGuestTso4) | feature_mask(F::kNetGuestTso6) |
                               feature_mask(F::kNetGuestEcn) | feature_mask(F::kNetGuestUso4) |
                               feature_mask(F::kNetGuestUso6);
constexpr uint64_t kAllRx = feature_mask(F::kNetGuestCsum) | kGuestGso;
constexpr uint64_t kNoTso4 =
    kAllRx & ~(feature_mask(F::kNetGuestTso4) | feature_mask(F::kNetGuestEcn));
constexpr uint64_t kCsumOnly = feature_mask(F::kNetGuestCsum);

// QEMU's offer over a vnet-header tap, MRG_RXBUF; polling.
mock::DeviceConfig offload_device(bool packed) {
  mock::DeviceConfig c;
  c.transport = mock::TransportKind::kModern;
  c.offer_offloads = true;
  c.rx_mergeable = true;
  c.offer_ring_packed = packed;
  return c;
}

NetOptions all_on(bool packed) {
  NetOptions o;
  o.accept_tx_csum = true;
  o.accept_tso = true;
  o.accept_rx_csum = true;
  o.accept_rx_gso = true;
  o.rx_chains = true;
  o.accept_ctrl_vq = true;
  o.accept_indirect_desc = true;
  o.accept_ring_packed = packed;
  return o;
}

// The frame with its L4 checksum field holding the pseudo-header sum (what
// a device hands over for NEEDS_CSUM, and a driver for checksum offload).
std::vector<uint8_t> partial_of(const FrameSpec& s) {
  std::vector<uint8_t> f = ft::make_frame(s);
  ft::to_partial(f, s);
  return f;
}

struct Ring {
  bool packed;
  const char* name;
};
const Ring kRings[] = {{false, "split"}, {true, "packed"}};

class OffloadThreaded : public ::testing::TestWithParam<Ring> {};

// ---- rx: GSO chains while the receive offloads switch -----------------------

// Frame n of the rx stream: kind n % 4 -- 0: a GSO TCPv4 frame, 1: GSO
// TCPv6, 2: a plain TCPv4 frame (full checksums, one buffer), 3: GSO TCPv4
// again. The TCP ack field carries n.
enum class RxKind { kGso4, kGso6, kPlain };
RxKind rx_kind(uint32_t n) {
  switch (n % 4) {
    case 1:
      return RxKind::kGso6;
    case 2:
      return RxKind::kPlain;
    default:
      return RxKind::kGso4;
  }
}
FrameSpec rx_spec(uint32_t n) {
  FrameSpec s;
  s.ipv6 = rx_kind(n) == RxKind::kGso6;
  s.payload = rx_kind(n) == RxKind::kPlain ? 60 + (n * 37u) % 1400 : 2000 + (n * 977u) % 7000;
  s.ack = n;
  s.payload_seed = static_cast<uint8_t>(n);
  return s;
}
constexpr uint16_t kRxMss = 1400;

// The device side of rx, under the bus mutex on the rx thread (the rx
// source), and after the threads are joined.
struct RxDevice {
  mock::MockDevice* device = nullptr;
  uint32_t next = 0;                 // next frame number to offer
  std::deque<uint32_t> written;      // written into buffers, not yet delivered or dropped
  uint64_t written_total = 0;        // frames the device wrote
  uint64_t written_gso = 0;          // ... of them GSO frames
  uint64_t refused = 0;              // GSO frames the device refused (offload off)
  std::atomic<bool> stop{false};     // no more frames
  std::atomic<uint64_t> offered{0};  // frame numbers used (written or refused)

  void inject_some() {
    if (stop.load(std::memory_order_relaxed)) return;
    for (int k = 0; k < 3; ++k) {
      const uint32_t n = next;
      const FrameSpec s = rx_spec(n);
      const std::vector<uint8_t> f = ft::make_frame(s);
      const uint64_t refused_before = device->counters().rx_gso_refused;
      const bool ok =
          rx_kind(n) == RxKind::kPlain ? device->inject_rx(f) : device->inject_rx_gso(f, kRxMss);
      if (!ok && device->counters().rx_gso_refused == refused_before) break;  // no buffers: again
      ++next;
      offered.fetch_add(1, std::memory_order_relaxed);
      if (!ok) {
        ++refused;
        continue;
      }
      written.push_back(n);
      ++written_total;
      written_gso += rx_kind(n) != RxKind::kPlain;
    }
  }
};

TEST_P(OffloadThreaded, RxGsoChainsWhileGuestOffloadsSwitch) {
  const bool packed = GetParam().packed;
  ThreadedWorld w(offload_device(packed), PciMode::kAuto, 1024);
  VirtioNet& net = w.net();
  ASSERT_EQ(w.attach(all_on(packed)), AttachError::kOk);
  ASSERT_EQ(net.state(), NetState::kRunning);
  ASSERT_EQ(net.guest_offloads(), kAllRx);

  RxDevice dev;
  dev.device = &w.device();
  // The device's turn: at the used index fetch of a split ring's rx burst,
  // at the first fetch of a packed ring's (which has no used index).
  if (packed)
    w.bus().set_rx_pair_source([&dev](uint16_t) { dev.inject_some(); });
  else
    w.bus().set_rx_source([&dev] { dev.inject_some(); });

  std::atomic<bool> stop_control{false}, stop_rx{false};
  // rx_drop_hdr_gso as the rx thread last read it (its own counter).
  std::atomic<uint64_t> delivered_n{0}, drops_n{0}, switches{0}, switch_failures{0}, polls{0};
  std::atomic<const char*> phase{"start"};
  auto state = [&] {
    std::ostringstream os;
    os << "phase " << phase.load() << ", state " << net_state_name(net.state()) << ", delivered "
       << delivered_n.load() << ", dropped " << drops_n.load() << ", offered " << dev.offered.load()
       << ", switches " << switches.load() << ", polls " << polls.load();
    return os.str();
  };
  Watchdog dog(std::chrono::duration_cast<std::chrono::seconds>(kWatchdogTimeout), state);

  // ---- rx context: checks each frame against the device's written list ----
  uint64_t rx_bad = 0, delivered_gso = 0, delivered_chains = 0, max_bufs = 0;
  std::string rx_first_error;
  std::vector<uint32_t> dropped;  // frame numbers written and never delivered
  std::thread rx([&] {
    PacketBuffer* bufs[32];
    auto fail = [&](const std::string& why) {
      if (rx_bad++ == 0) rx_first_error = why;
    };
    while (!stop_rx.load(std::memory_order_relaxed)) {
      const uint16_t n = net.rx_burst(bufs, 32);
      for (uint16_t i = 0; i < n; ++i) {
        std::vector<uint8_t> bytes;
        uint64_t count = 0;
        const PacketOffload off = bufs[i]->offload;
        for (PacketBuffer* b = bufs[i]; b != nullptr; ++count) {
          bytes.insert(bytes.end(), b->data(), b->data() + b->len);
          PacketBuffer* next = b->next;
          b->next = nullptr;
          w.locked_pool().free(b);
          b = next;
        }
        max_bufs = std::max(max_bufs, count);
        delivered_chains += count > 1;
        // The frame number, from the TCP ack (IPv4 or IPv6 by ethertype).
        if (bytes.size() < 74) {
          fail("a frame of " + std::to_string(bytes.size()) + " bytes");
          continue;
        }
        const bool v6 = ft::rd16(&bytes[12]) == 0x86DD;
        const uint32_t num = ft::rd32(&bytes[(v6 ? 54 : 34) + 8]);
        // The device writes in order: frames before it were dropped.
        while (!dev.written.empty() && dev.written.front() != num) {
          // (read without the bus mutex: only this thread's rx source writes it)
          dropped.push_back(dev.written.front());
          dev.written.pop_front();
        }
        if (dev.written.empty()) {
          fail("frame " + std::to_string(num) + " delivered but never written (or twice)");
          continue;
        }
        dev.written.pop_front();
        const FrameSpec s = rx_spec(num);
        const bool gso = rx_kind(num) != RxKind::kPlain;
        if (bytes != (gso ? partial_of(s) : ft::make_frame(s))) {
          fail("frame " + std::to_string(num) + " not intact (" + std::to_string(bytes.size()) +
               " bytes in " + std::to_string(count) + " buffers)");
          continue;
        }
        if (gso) {
          ++delivered_gso;
          const GsoKind want = s.ipv6 ? GsoKind::kTcp6 : GsoKind::kTcp4;
          if (off.gso != want || off.gso_size != kRxMss || off.csum != CsumState::kPartial ||
              off.csum_start != ft::l4_of(s) || off.csum_offset != 16 ||
              off.hdr_len != ft::headers_of(s))
            fail("frame " + std::to_string(num) + ": offload result gso " +
                 std::to_string(int(off.gso)) + " size " + std::to_string(off.gso_size) + " csum " +
                 std::to_string(int(off.csum)) + " start " + std::to_string(off.csum_start) +
                 " hdr_len " + std::to_string(off.hdr_len));
        } else if (off.gso != GsoKind::kNone || off.csum != CsumState::kNone) {
          fail("plain frame " + std::to_string(num) + " with an offload result");
        }
      }
      delivered_n.fetch_add(n, std::memory_order_relaxed);
      drops_n.store(net.counters().rx_drop_hdr_gso, std::memory_order_relaxed);
      if (n == 0) std::this_thread::yield();
    }
  });

  // ---- control context: poll_device, and the receive offloads switched ----
  const uint64_t cycle[] = {kNoTso4, kAllRx, kCsumOnly, kAllRx};
  std::thread control([&] {
    for (uint32_t i = 0; !stop_control.load(std::memory_order_relaxed); ++i) {
      (void)net.poll_device();
      polls.fetch_add(1, std::memory_order_relaxed);
      if (i % 4 == 3) {
        const CtrlResult r = net.set_guest_offloads(cycle[(i / 4) % 4]);
        (r == CtrlResult::kOk ? switches : switch_failures).fetch_add(1);
      }
      std::this_thread::sleep_for(100us);
    }
    // Leave everything on.
    if (net.set_guest_offloads(kAllRx) != CtrlResult::kOk) switch_failures.fetch_add(1);
  });

  phase = "traffic and switches";
  bool ok = wait_until(
      "1500 frames delivered and 24 switches",
      [&] { return delivered_n.load() >= 1500 && switches.load() >= 24; }, state);
  phase = "stop switching";
  stop_control = true;
  control.join();
  const uint64_t final_offloads = net.guest_offloads();
  // No more frames; the rx thread harvests what the device wrote.
  dev.stop = true;
  const uint64_t offered_final = w.bus().locked([&] { return dev.written_total; });
  phase = "drain";
  ok = ok && wait_until(
                 "every written frame delivered or dropped",
                 [&] { return delivered_n.load() + drops_n.load() >= offered_final; }, state);
  stop_rx = true;
  rx.join();
  phase = "stop";
  net.stop();
  phase = "checks";

  // ---- every thread joined: plain reads from here on ----
  EXPECT_TRUE(ok);
  EXPECT_EQ(rx_bad, 0u) << rx_first_error;
  EXPECT_EQ(switch_failures.load(), 0u);
  EXPECT_EQ(final_offloads, kAllRx);
  const NetCounters& c = net.counters();
  // Every frame the device wrote: delivered, or dropped under rx_drop_hdr_gso.
  EXPECT_EQ(delivered_n.load() + c.rx_drop_hdr_gso, dev.written_total);
  EXPECT_EQ(dropped.size() + dev.written.size(), c.rx_drop_hdr_gso)
      << "the frames skipped over in order are the drops";
  for (uint32_t n : dropped) EXPECT_NE(rx_kind(n), RxKind::kPlain) << "plain frame " << n;
  for (uint32_t n : dev.written) EXPECT_NE(rx_kind(n), RxKind::kPlain) << "plain frame " << n;
  // Nothing else dropped; the driver's counters say what was delivered.
  uint64_t other_drops = 0;
  std::string other;
  c.for_each([&](const char* name, uint64_t v) {
    const std::string s(name);
    if (s.rfind("rx_drop", 0) == 0 && s != "rx_drop_hdr_gso" && v != 0) {
      other_drops += v;
      other += s + "=" + std::to_string(v) + " ";
    }
  });
  EXPECT_EQ(other_drops, 0u) << other;
  EXPECT_EQ(c.rx_packets, delivered_n.load());
  EXPECT_EQ(c.rx_gso_packets, delivered_gso);
  EXPECT_EQ(c.rx_chain_packets, delivered_chains);
  EXPECT_EQ(c.rx_gso_packets + c.rx_drop_hdr_gso, dev.written_gso);
  EXPECT_GT(delivered_chains, 0u);
  EXPECT_GE(max_bufs, 4u) << "a 9 KB frame over 2 KiB buffers";
  EXPECT_GT(dev.refused, 0u) << "the device refused GSO frames while an offload was off";
  EXPECT_EQ(w.device().counters().ctrl_offloads_set, switches.load() + 1);
  EXPECT_EQ(c.recoveries, 0u);
  // Buffers: every one back, none freed twice or foreign; rings freed.
  EXPECT_TRUE(w.pool().all_returned()) << w.pool().outstanding() << " buffers not returned";
  EXPECT_EQ(w.pool().double_frees(), 0u);
  EXPECT_EQ(w.pool().foreign_frees(), 0u);
  EXPECT_EQ(w.platform().dma_live(), 0u);
  EXPECT_EQ(w.bus().ring_ops_during_burst(), 0u);
  std::string violations;
  for (const auto& v : w.device().conformance().violations())
    violations += v.section + ": " + v.message + "\n";
  EXPECT_TRUE(w.device().conformance().empty()) << violations;

  std::printf(
      "[%s] rx: %llu frames written (%llu GSO), %llu delivered (%llu GSO, %llu chains of up to "
      "%llu buffers), %llu dropped under rx_drop_hdr_gso, %llu refused by the device; %llu "
      "offload switches, %llu polls\n",
      GetParam().name, static_cast<unsigned long long>(dev.written_total),
      static_cast<unsigned long long>(dev.written_gso),
      static_cast<unsigned long long>(delivered_n.load()),
      static_cast<unsigned long long>(delivered_gso),
      static_cast<unsigned long long>(delivered_chains), static_cast<unsigned long long>(max_bufs),
      static_cast<unsigned long long>(c.rx_drop_hdr_gso),
      static_cast<unsigned long long>(dev.refused),
      static_cast<unsigned long long>(switches.load()),
      static_cast<unsigned long long>(polls.load()));
}

// ---- tx: offload requests while poll_device runs ---------------------------

// Frame n of the tx stream: kind n % 8.
enum class TxKind {
  kCsum4,       // TCPv4, checksum offload, one buffer
  kCsum6Udp,    // UDPv6, checksum offload, one buffer
  kTso4Chain,   // TSO4, a fragment chain (indirect), 2-12 KB
  kTso6Chain,   // TSO6, a fragment chain
  kPlain,       // TCPv4 with its checksums, no request
  kTso4One,     // TSO4 in one buffer, gso_size 700
  kRefusedGso,  // TSO4 with gso_size 0: tx_drop_offload_gso
  kRefusedCsum  // csum_offset beyond the frame: tx_drop_offload_csum
};
TxKind tx_kind(uint32_t n) {
  return static_cast<TxKind>(n % 8);
}
FrameSpec tx_spec(uint32_t n) {
  FrameSpec s;
  const TxKind k = tx_kind(n);
  s.ipv6 = k == TxKind::kCsum6Udp || k == TxKind::kTso6Chain;
  s.udp = k == TxKind::kCsum6Udp;
  switch (k) {
    case TxKind::kTso4Chain:
    case TxKind::kTso6Chain:
      s.payload = 2000 + (n * 977u) % 10000;
      break;
    case TxKind::kTso4One:
      s.payload = 1500 + n % 400;
      break;
    default:
      s.payload = 20 + (n * 37u) % 1400;
  }
  s.ack = n;
  s.payload_seed = static_cast<uint8_t>(n);
  return s;
}
uint16_t tx_mss(uint32_t n) {
  switch (tx_kind(n)) {
    case TxKind::kTso4Chain:
    case TxKind::kTso6Chain:
      return 1400;
    case TxKind::kTso4One:
      return 700;
    default:
      return 0;
  }
}
bool tx_refused(uint32_t n) {
  return tx_kind(n) == TxKind::kRefusedGso || tx_kind(n) == TxKind::kRefusedCsum;
}
// The frame as the caller hands it over, and its request. UDP frames carry
// n in their first four payload bytes, big-endian (TCP frames in the ack
// field).
std::vector<uint8_t> tx_frame(uint32_t n, PacketOffload* req) {
  const FrameSpec s = tx_spec(n);
  std::vector<uint8_t> f = ft::make_frame(s);
  if (s.udp) {
    ft::wr32(&f[ft::headers_of(s)], n);
    ft::set_checksums(f, s);
  }
  *req = PacketOffload{};
  if (tx_kind(n) == TxKind::kPlain) return f;
  ft::to_partial(f, s);
  req->csum = CsumState::kPartial;
  req->csum_start = static_cast<uint16_t>(ft::l4_of(s));
  req->csum_offset = ft::csum_offset_of(s);
  switch (tx_kind(n)) {
    case TxKind::kTso4Chain:
    case TxKind::kTso4One:
    case TxKind::kRefusedGso:
      req->gso = GsoKind::kTcp4;
      req->gso_size = tx_mss(n);
      break;
    case TxKind::kTso6Chain:
      req->gso = GsoKind::kTcp6;
      req->gso_size = tx_mss(n);
      break;
    case TxKind::kRefusedCsum:
      req->csum_offset = static_cast<uint16_t>(f.size() - req->csum_start - 1);
      break;
    default:
      break;
  }
  return f;
}
size_t tx_segments(uint32_t n) {
  if (tx_refused(n)) return 0;
  const uint16_t mss = tx_mss(n);
  const size_t payload = tx_spec(n).payload;
  return mss == 0 ? 1 : (payload + mss - 1) / mss;
}

// What the device received of each frame (by number), under the bus mutex.
struct TxDevice {
  struct Got {
    size_t payload = 0;   // payload bytes, in order
    size_t segments = 0;  // wire frames
  };
  std::vector<Got> got;
  int64_t last = -1;  // the last frame number seen
  uint64_t bad = 0;
  std::string first_error;
  std::atomic<uint64_t> wire_frames{0};

  void fail(const std::string& why) {
    if (bad++ == 0) first_error = why;
  }

  static void sink(void* context, std::span<const uint8_t> frame) {
    static_cast<TxDevice*>(context)->check(std::vector<uint8_t>(frame.begin(), frame.end()));
  }

  void check(const std::vector<uint8_t>& g) {
    wire_frames.fetch_add(1, std::memory_order_relaxed);
    if (g.size() < 54 || g.size() > 1514)
      return fail("a wire frame of " + std::to_string(g.size()));
    FrameSpec s;
    s.ipv6 = ft::rd16(&g[12]) == 0x86DD;
    const uint8_t proto = s.ipv6 ? g[20] : g[23];
    s.udp = proto == 17;
    const size_t l4 = ft::l4_of(s), hdrs = ft::headers_of(s);
    if (g.size() < hdrs + (s.udp ? 4 : 0))
      return fail("a wire frame of " + std::to_string(g.size()));
    const uint32_t n = s.udp ? ft::rd32(&g[hdrs]) : ft::rd32(&g[l4 + 8]);
    const std::string what = "frame " + std::to_string(n);
    if (!ft::verify_l4(g, s)) return fail(what + ": L4 checksum wrong");
    if (!s.ipv6 && !ft::verify_ipv4_header(g)) return fail(what + ": IPv4 header checksum wrong");
    if (int64_t{n} < last) return fail(what + " after frame " + std::to_string(last));
    if (tx_refused(n)) return fail(what + ": refused by the driver, yet on the wire");
    last = n;
    if (got.size() <= n) got.resize(n + 1);
    Got& r = got[n];
    // Where this segment's payload starts in the frame's payload.
    const size_t at = s.udp ? 0 : ft::rd32(&g[l4 + 4]) - FrameSpec{}.seq;
    if (at != r.payload)
      return fail(what + ": payload at " + std::to_string(at) + ", expected " +
                  std::to_string(r.payload));
    const uint8_t seed = static_cast<uint8_t>(n);
    for (size_t i = hdrs; i < g.size(); ++i) {
      const size_t k = at + i - hdrs;
      if (s.udp && k < 4) continue;
      if (g[i] != static_cast<uint8_t>(seed + k))
        return fail(what + ": payload byte " + std::to_string(k));
    }
    r.payload += g.size() - hdrs;
    ++r.segments;
  }
};

TEST_P(OffloadThreaded, TxOffloadRequestsWhilePollDeviceRuns) {
  const bool packed = GetParam().packed;
  ThreadedWorld w(offload_device(packed), PciMode::kAuto, 1024);
  VirtioNet& net = w.net();
  NetOptions o = all_on(packed);
  ASSERT_EQ(w.attach(o), AttachError::kOk);
  ASSERT_EQ(net.state(), NetState::kRunning);
  ASSERT_TRUE(net.indirect_tx());

  TxDevice dev;
  w.device().set_tx_sink(&TxDevice::sink, &dev);

  std::atomic<bool> stop_control{false}, stop_tx{false};
  std::atomic<uint64_t> taken_n{0}, polls{0}, resets{0};
  std::atomic<const char*> phase{"start"};
  auto state = [&] {
    std::ostringstream os;
    os << "phase " << phase.load() << ", state " << net_state_name(net.state()) << ", taken "
       << taken_n.load() << ", wire frames " << dev.wire_frames.load() << ", polls "
       << polls.load();
    return os.str();
  };
  Watchdog dog(std::chrono::duration_cast<std::chrono::seconds>(kWatchdogTimeout), state);

  // ---- tx context ----
  uint64_t alloc_failures = 0;
  std::thread tx([&] {
    std::deque<PacketBuffer*> pending;  // ours: not yet taken (frame heads, in order)
    uint32_t next = 0;
    for (uint32_t iter = 0; !stop_tx.load(std::memory_order_relaxed); ++iter) {
      if (iter % 32 == 0) net.tx_reclaim();
      while (pending.size() < 16) {
        PacketOffload req;
        const std::vector<uint8_t> f = tx_frame(next, &req);
        const bool chain =
            tx_kind(next) == TxKind::kTso4Chain || tx_kind(next) == TxKind::kTso6Chain;
        // A chain: the headers and 146 bytes, then 1800 bytes a fragment.
        PacketBuffer* head = nullptr;
        PacketBuffer* tail = nullptr;
        bool whole = true;
        for (size_t at = 0; at < f.size();) {
          const size_t len =
              !chain ? f.size() : std::min(f.size() - at, at == 0 ? size_t{200} : size_t{1800});
          PacketBuffer* b = w.locked_pool().alloc_tx(std::span<const uint8_t>(f.data() + at, len));
          if (b == nullptr) {
            whole = false;
            break;
          }
          (head == nullptr ? head : tail->next) = b;
          tail = b;
          at += len;
        }
        if (!whole) {
          ++alloc_failures;
          for (PacketBuffer* b = head; b != nullptr;) {
            PacketBuffer* nb = b->next;
            b->next = nullptr;
            w.locked_pool().free(b);
            b = nb;
          }
          break;
        }
        head->offload = req;
        pending.push_back(head);
        ++next;
      }
      std::vector<PacketBuffer*> batch(pending.begin(), pending.end());
      const uint16_t taken =
          batch.empty() ? 0 : net.tx_burst(batch.data(), static_cast<uint16_t>(batch.size()));
      pending.erase(pending.begin(), pending.begin() + taken);
      taken_n.fetch_add(taken, std::memory_order_relaxed);
      if (taken == 0) std::this_thread::yield();
    }
    for (PacketBuffer* head : pending)
      for (PacketBuffer* b = head; b != nullptr;) {
        PacketBuffer* nb = b->next;
        b->next = nullptr;
        w.locked_pool().free(b);
        b = nb;
      }
  });

  // ---- control context: poll_device (the tx watchdog) ----
  std::thread control([&] {
    while (!stop_control.load(std::memory_order_relaxed)) {
      const DeviceEvents ev = net.poll_device();
      if (ev.reset_detected || ev.recovered) resets.fetch_add(1);
      polls.fetch_add(1, std::memory_order_relaxed);
      std::this_thread::sleep_for(100us);
    }
  });

  phase = "traffic";
  const bool ok = wait_until(
      "3000 frames taken and 200 polls",
      [&] { return taken_n.load() >= 3000 && polls.load() >= 200; }, state);
  phase = "stop";
  stop_tx = true;
  tx.join();
  stop_control = true;
  control.join();
  // Anything published and not yet consumed (the device consumes on notify).
  w.bus().locked([&] { w.device().process_tx(); });
  const uint64_t taken = taken_n.load();
  const NetCounters before_stop = net.counters();
  net.stop();
  phase = "checks";

  // ---- every thread joined ----
  EXPECT_TRUE(ok);
  EXPECT_EQ(resets.load(), 0u);
  EXPECT_EQ(dev.bad, 0u) << dev.first_error;
  uint64_t csum = 0, gso = 0, gso_segments = 0, refused_gso = 0, refused_csum = 0, segments = 0;
  for (uint32_t n = 0; n < taken; ++n) {
    const TxDevice::Got g = n < dev.got.size() ? dev.got[n] : TxDevice::Got{};
    const size_t want_payload = tx_refused(n) ? 0 : tx_spec(n).payload;
    if (g.payload != want_payload || g.segments != tx_segments(n)) {
      ADD_FAILURE() << "frame " << n << " (kind " << n % 8 << "): " << g.payload
                    << " payload bytes in " << g.segments << " wire frames, expected "
                    << want_payload << " in " << tx_segments(n);
      break;
    }
    segments += g.segments;
    const TxKind k = tx_kind(n);
    refused_gso += k == TxKind::kRefusedGso;
    refused_csum += k == TxKind::kRefusedCsum;
    if (!tx_refused(n) && k != TxKind::kPlain) ++csum;
    if (tx_mss(n) != 0) {
      ++gso;
      gso_segments += g.segments;
    }
  }
  for (uint32_t n = static_cast<uint32_t>(taken); n < dev.got.size(); ++n)
    EXPECT_EQ(dev.got[n].segments, 0u) << "frame " << n << " never taken, yet on the wire";
  const NetCounters& c = before_stop;
  EXPECT_EQ(c.tx_csum_offloaded, csum);
  EXPECT_EQ(c.tx_gso_packets, gso);
  EXPECT_EQ(c.tx_drop_offload_gso, refused_gso);
  EXPECT_EQ(c.tx_drop_offload_csum, refused_csum);
  EXPECT_EQ(c.tx_drop_offload_feature, 0u);
  EXPECT_EQ(c.tx_packets, taken - refused_gso - refused_csum);
  const mock::DeviceCounters& d = w.device().counters();
  EXPECT_EQ(d.tx_gso_frames, gso);
  EXPECT_EQ(d.tx_gso_segments, gso_segments);
  EXPECT_EQ(d.tx_offload_bad, 0u);
  EXPECT_EQ(d.tx_chains_bad, 0u);
  EXPECT_EQ(dev.wire_frames.load(), segments);
  EXPECT_GT(c.tx_indirect_chains, 0u);
  // Buffers: every one back, none freed twice or foreign; rings freed.
  EXPECT_TRUE(w.pool().all_returned()) << w.pool().outstanding() << " buffers not returned";
  EXPECT_EQ(w.pool().double_frees(), 0u);
  EXPECT_EQ(w.pool().foreign_frees(), 0u);
  EXPECT_EQ(w.platform().dma_live(), 0u);
  EXPECT_EQ(w.bus().ring_ops_during_burst(), 0u);
  std::string violations;
  for (const auto& v : w.device().conformance().violations())
    violations += v.section + ": " + v.message + "\n";
  EXPECT_TRUE(w.device().conformance().empty()) << violations;

  std::printf(
      "[%s] tx: %llu frames taken (%llu checksum offloads, %llu TSO into %llu segments, %llu + "
      "%llu refused), %llu wire frames, %llu indirect chains, %llu polls, %llu allocation "
      "stalls\n",
      GetParam().name, static_cast<unsigned long long>(taken),
      static_cast<unsigned long long>(csum), static_cast<unsigned long long>(gso),
      static_cast<unsigned long long>(gso_segments), static_cast<unsigned long long>(refused_gso),
      static_cast<unsigned long long>(refused_csum),
      static_cast<unsigned long long>(dev.wire_frames.load()),
      static_cast<unsigned long long>(c.tx_indirect_chains),
      static_cast<unsigned long long>(polls.load()),
      static_cast<unsigned long long>(alloc_failures));
}

INSTANTIATE_TEST_SUITE_P(Rings, OffloadThreaded, ::testing::ValuesIn(kRings),
                         [](const ::testing::TestParamInfo<Ring>& i) {
                           return std::string(i.param.name);
                         });

}  // namespace
}  // namespace vnet
