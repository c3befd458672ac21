// Ring kinds side by side (issue 14): frames per second through VirtioNet
// and the mock device in one thread for split and packed rings, IN_ORDER
// (split, tx completions batched by the device) and indirect descriptors
// (tx frames as fragment chains), 64- and 1514-byte frames, rx and tx, all
// in one binary run so that their ratios come from the same machine state.
//
//   bench/ring_kind_bench --benchmark_repetitions=5 \
//       --benchmark_enable_random_interleaving=true \
//       --benchmark_out=ring_kind.json --benchmark_out_format=json
//   python3 bench/ring_kind_ratios.py ring_kind.json  # the ratio table
//
// Rows (name: <dir>/<size>/<kind>[/frags:N]):
//   split, packed                      single-buffer frames, the default fast path
//   split+in_order                     IN_ORDER negotiated, the device folds the
//                                      32 tx completions of a burst into one used
//                                      entry (DeviceConfig::in_order_batch = 32)
//   split+in_order_b1                  IN_ORDER negotiated, one used entry per chain
//                                      (ring-order descriptors without batching)
//   packed+in_order_b1                 IN_ORDER on a packed ring: the mock device
//                                      completes packed rings one by one (it batches
//                                      split rings only), so this is unbatched
//   split|packed /frags:N              tx only: every frame as N fragments, direct
//                                      descriptor chains (no INDIRECT_DESC)
//   split|packed+indirect /frags:N     tx: the same N-fragment frames through one
//                                      indirect table each; rx: INDIRECT_DESC
//                                      negotiated but unused (rx buffers are one
//                                      descriptor), a control row
//
// The device does not run on its own: tx chains are consumed by an explicit
// MockDevice::process_tx() after each tx_burst() (auto_process_tx off), and
// rx frames are written by inject_rx() before each rx_burst(). So each
// iteration has a driver phase and a mock phase, and one iteration in
// kSampleEvery is timed phase by phase (steady_clock): drv_ns and mock_ns
// are the medians over those samples of nanoseconds per frame in the
// driver (plus the mock shim's fetches and DMA calls, which it makes) and
// in the device model; mock_frac is mock_ns / (drv_ns + mock_ns). The
// rest (pool alloc/free, building the fragment chains) is the caller's and
// appears only in items_per_second.
//
// items_per_second is frames per second, bytes_per_second frame bytes
// (Ethernet, no virtio-net header). Exit status 1 when any row failed its
// checks (negotiation, indirect use, batching, conformance, lost frames).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench/phase_samples.h"
#include "tests/integration/mock_world.h"

namespace vnet {
namespace {

constexpr uint16_t kBurst = 32;
constexpr uint64_t kSampleEvery = 8;
constexpr size_t kPoolBuffers = 2048;

bool g_failed = false;

void fail(benchmark::State& state, const std::string& why) {
  g_failed = true;
  state.SkipWithError(why.c_str());
}

enum class Dir : uint8_t { kTx, kRx };

struct Kind {
  const char* name;
  bool packed = false;
  bool in_order = false;
  uint16_t in_order_batch = 1;
  bool indirect = false;
};

constexpr Kind kSplit{"split"};
constexpr Kind kPacked{"packed", true};
constexpr Kind kSplitInOrder{"split+in_order", false, true, kBurst};
constexpr Kind kSplitInOrderB1{"split+in_order_b1", false, true, 1};
constexpr Kind kPackedInOrderB1{"packed+in_order_b1", true, true, 1};
constexpr Kind kSplitIndirect{"split+indirect", false, false, 1, true};
constexpr Kind kPackedIndirect{"packed+indirect", true, false, 1, true};

struct Row {
  Dir dir;
  uint32_t size;
  Kind kind;
  uint16_t frags;  // tx: fragments per frame (1: a single buffer)
};

std::unique_ptr<testing::MockWorld> make_world(benchmark::State& state, const Row& row) {
  mock::DeviceConfig cfg;
  cfg.transport = mock::TransportKind::kModern;
  cfg.auto_process_tx = false;
  cfg.offer_ring_packed = row.kind.packed;
  cfg.offer_in_order = row.kind.in_order;
  cfg.in_order_batch = row.kind.in_order_batch;
  auto w = std::make_unique<testing::MockWorld>(cfg, PciMode::kAuto, kPoolBuffers);
  NetOptions o;
  o.accept_ring_packed = row.kind.packed;
  o.accept_in_order = row.kind.in_order;
  o.accept_indirect_desc = row.kind.indirect;
  if (w->attach(o) != AttachError::kOk) {
    fail(state, "attach failed");
    return w;
  }
  const uint64_t neg = w->net().negotiated_features();
  if (spec::has_feature(neg, spec::Feature::kRingPacked) != row.kind.packed ||
      spec::has_feature(neg, spec::Feature::kInOrder) != row.kind.in_order ||
      spec::has_feature(neg, spec::Feature::kIndirectDesc) != row.kind.indirect)
    fail(state, "negotiated features differ from the row's kind");
  return w;
}

using bench::Clock;

// Phase times of the sampled iterations, nanoseconds per frame: the
// driver's and the mock device's (bench/phase_samples.h).
struct Phases : bench::PhaseSamples {
  void report(benchmark::State& state, uint64_t frames, uint32_t size) {
    state.SetItemsProcessed(static_cast<int64_t>(frames));
    state.SetBytesProcessed(static_cast<int64_t>(frames * size));
    double d = 0, m = 0;
    if (!report_medians(state, "mock_ns", &d, &m)) return;
    state.counters["mock_frac"] = d + m > 0 ? m / (d + m) : 0;
  }
};

void check_world(benchmark::State& state, testing::MockWorld& w) {
  if (!w.device().conformance().empty())
    fail(state, "conformance: " + testing::violations(w.device()));
  if (w.net().state() != NetState::kRunning) fail(state, "driver left kRunning");
}

void run_tx(benchmark::State& state, const Row& row) {
  auto w = make_world(state, row);
  if (state.error_occurred()) {
    for (auto _ : state) {
    }
    return;
  }
  uint64_t sunk = 0;
  w->device().set_tx_sink(
      [](void* ctx, std::span<const uint8_t> f) { *static_cast<uint64_t*>(ctx) += f.size(); },
      &sunk);
  // Every pool buffer carries the frame at kTxHeadroom once; frames and
  // fragments are then recycled unchanged, as a stack reusing its buffers
  // would. A fragmented frame is the same bytes cut into frags pieces
  // (each fragment at kTxHeadroom of its own buffer; the mock checks the
  // header and length, not the payload).
  std::vector<PacketBuffer*> all;
  while (PacketBuffer* b = w->pool().alloc()) all.push_back(b);
  const auto frame = testing::make_frame(row.size, 1);
  for (PacketBuffer* b : all) {
    std::copy(frame.begin(), frame.end(), b->base + kTxHeadroom);
    w->pool().free(b);
  }
  uint32_t piece[kMaxTxFragments];
  for (uint16_t f = 0; f < row.frags; ++f)
    piece[f] = row.size / row.frags + (f < row.size % row.frags ? 1 : 0);

  PacketBuffer* burst[kBurst];
  uint64_t frames = 0, iter = 0;
  Phases ph;
  for (auto _ : state) {
    for (uint16_t i = 0; i < kBurst; ++i) {
      PacketBuffer* head = nullptr;
      PacketBuffer** link = &head;
      for (uint16_t f = 0; f < row.frags; ++f) {
        PacketBuffer* b = w->pool().alloc();
        b->offset = kTxHeadroom;
        b->len = piece[f];
        b->next = nullptr;
        *link = b;
        link = &b->next;
      }
      burst[i] = head;
    }
    const bool sample = iter++ % kSampleEvery == 0;
    Clock::time_point t0, t1;
    if (sample) t0 = Clock::now();
    const uint16_t taken = w->net().tx_burst(burst, kBurst);
    if (sample) t1 = Clock::now();
    w->device().process_tx();
    if (sample) {
      ph.add(t1 - t0, Clock::now() - t1, taken);
    }
    for (uint16_t i = taken; i < kBurst; ++i) {
      for (PacketBuffer* b = burst[i]; b != nullptr;) {
        PacketBuffer* next = b->next;
        b->next = nullptr;
        w->pool().free(b);
        b = next;
      }
    }
    frames += taken;
  }
  ph.report(state, frames, row.size);
  w->net().tx_reclaim();  // the last burst's completions
  const NetCounters& c = w->net().counters();
  if (w->device().counters().tx_frames != frames || sunk != frames * row.size)
    fail(state, "the device saw other frames than the driver took");
  if (frames != uint64_t{kBurst} * state.iterations()) fail(state, "tx_burst took fewer frames");
  if (c.tx_drop_sg_segments + c.tx_drop_sg_bounds + c.tx_drop_sg_fragments != 0)
    fail(state, "fragment chains dropped");
  const bool want_indirect = row.kind.indirect && row.frags > 1;
  if (want_indirect ? c.tx_indirect_chains != frames : c.tx_indirect_chains != 0)
    fail(state, "indirect tables used other than the row says");
  if ((row.kind.in_order_batch > 1) != (c.tx_implied_completions != 0))
    fail(state, "IN_ORDER batching other than the row says");
  if (c.tx_completed != frames) fail(state, "tx frames not completed");
  check_world(state, *w);
}

void run_rx(benchmark::State& state, const Row& row) {
  auto w = make_world(state, row);
  if (state.error_occurred()) {
    for (auto _ : state) {
    }
    return;
  }
  const auto frame = testing::make_frame(row.size, 2);
  PacketBuffer* burst[kBurst];
  uint64_t frames = 0, iter = 0;
  Phases ph;
  for (auto _ : state) {
    const bool sample = iter++ % kSampleEvery == 0;
    Clock::time_point t0, t1;
    if (sample) t0 = Clock::now();
    for (uint16_t i = 0; i < kBurst; ++i) w->device().inject_rx(frame);
    if (sample) t1 = Clock::now();
    const uint16_t n = w->net().rx_burst(burst, kBurst);
    if (sample) {
      ph.add(Clock::now() - t1, t1 - t0, n);
    }
    for (uint16_t i = 0; i < n; ++i) w->pool().free(burst[i]);
    frames += n;
  }
  ph.report(state, frames, row.size);
  if (w->device().counters().rx_no_buffer != 0) fail(state, "the device ran out of rx buffers");
  if (frames != uint64_t{kBurst} * state.iterations()) fail(state, "frames lost on rx");
  check_world(state, *w);
}

std::string row_name(const Row& r) {
  std::string n = r.dir == Dir::kTx ? "tx/" : "rx/";
  n += std::to_string(r.size) + "/" + r.kind.name;
  if (r.frags > 1) n += "/frags:" + std::to_string(r.frags);
  return n;
}

std::vector<Row> rows() {
  std::vector<Row> out;
  for (uint32_t size : {64u, 1514u}) {
    for (const Kind& k : {kSplit, kPacked, kSplitInOrder, kSplitInOrderB1, kPackedInOrderB1})
      out.push_back({Dir::kTx, size, k, 1});
    for (uint16_t frags : {2, 4}) {
      out.push_back({Dir::kTx, size, kSplit, frags});
      out.push_back({Dir::kTx, size, kSplitIndirect, frags});
      out.push_back({Dir::kTx, size, kPacked, frags});
      out.push_back({Dir::kTx, size, kPackedIndirect, frags});
    }
  }
  for (uint32_t size : {64u, 1514u})
    for (const Kind& k : {kSplit, kPacked, kSplitInOrder, kSplitInOrderB1, kPackedInOrderB1,
                          kSplitIndirect, kPackedIndirect})
      out.push_back({Dir::kRx, size, k, 1});
  return out;
}

}  // namespace
}  // namespace vnet

int main(int argc, char** argv) {
  using namespace vnet;
  for (const Row& r : rows()) {
    benchmark::RegisterBenchmark(row_name(r).c_str(), [r](benchmark::State& s) {
      if (r.dir == Dir::kTx)
        run_tx(s, r);
      else
        run_rx(s, r);
    });
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (g_failed) std::fprintf(stderr, "ring_kind_bench: a row failed its checks (see above)\n");
  return g_failed ? 1 : 0;
}
