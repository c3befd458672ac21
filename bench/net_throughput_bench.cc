// Frames per second through the driver and the mock device in one thread:
// the driver's per-frame cost plus an in-process device's, with no VM exits.
// tx and rx separately, 64- and 1514-byte frames, bursts of 32; each with
// the identity DMA mapping (second argument 0) and through a BouncePlatform
// (1: every frame copied through the shared bounce area, as in a
// confidential guest), side by side in one run.
//
//   bench/net_throughput_bench --benchmark_counters_tabular=true
//
// items_per_second is frames per second.
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "driver/platform/bounce_platform.h"
#include "tests/integration/mock_world.h"

namespace vnet {
namespace {

constexpr uint16_t kBurst = 32;

// The mock world, attached directly or through a bounce platform.
struct BenchWorld {
  std::unique_ptr<testing::MockWorld> world;
  std::unique_ptr<BouncePlatform> bounce;
  testing::MockWorld* operator->() { return world.get(); }
};

BenchWorld make_world(benchmark::State& state) {
  mock::DeviceConfig cfg;
  cfg.transport = mock::TransportKind::kModern;
  BenchWorld w;
  w.world = std::make_unique<testing::MockWorld>(cfg, PciMode::kAuto, 2048);
  AttachError e;
  if (state.range(1) != 0) {
    w.bounce = std::make_unique<BouncePlatform>(w.world->platform());
    if (!w.bounce->init(2048, 600)) state.SkipWithError("no bounce area");
    e = w.world->attach_via(*w.bounce);
  } else {
    e = w.world->attach();
  }
  if (e != AttachError::kOk) state.SkipWithError("attach failed");
  state.SetLabel(state.range(1) != 0 ? "bounce" : "direct");
  return w;
}

void BM_Tx(benchmark::State& state) {
  const uint32_t size = static_cast<uint32_t>(state.range(0));
  auto w = make_world(state);
  uint64_t sunk = 0;
  w->device().set_tx_sink(
      [](void* ctx, std::span<const uint8_t> f) { *static_cast<uint64_t*>(ctx) += f.size(); },
      &sunk);
  // Fill every pool buffer once; the frames are then recycled unchanged, as
  // a stack that reuses its buffers would.
  std::vector<PacketBuffer*> all;
  while (PacketBuffer* b = w->pool().alloc()) all.push_back(b);
  for (PacketBuffer* b : all) {
    auto f = testing::make_frame(size, 1);
    std::copy(f.begin(), f.end(), b->base + kTxHeadroom);
    w->pool().free(b);
  }
  PacketBuffer* burst[kBurst];
  uint64_t frames = 0;
  for (auto _ : state) {
    for (uint16_t i = 0; i < kBurst; ++i) {
      burst[i] = w->pool().alloc();
      burst[i]->offset = kTxHeadroom;
      burst[i]->len = size;
    }
    uint16_t taken = w->net().tx_burst(burst, kBurst);
    for (uint16_t i = taken; i < kBurst; ++i) w->pool().free(burst[i]);
    frames += taken;
  }
  state.SetItemsProcessed(static_cast<int64_t>(frames));
  state.SetBytesProcessed(static_cast<int64_t>(frames * size));
  state.counters["Mpps"] =
      benchmark::Counter(static_cast<double>(frames) / 1e6, benchmark::Counter::kIsRate);
  if (w->device().counters().tx_frames != frames) state.SkipWithError("device saw fewer frames");
  if (!w->device().conformance().empty()) state.SkipWithError("conformance violation");
}

void BM_Rx(benchmark::State& state) {
  const uint32_t size = static_cast<uint32_t>(state.range(0));
  auto w = make_world(state);
  const auto frame = testing::make_frame(size, 2);
  PacketBuffer* burst[kBurst];
  uint64_t frames = 0;
  for (auto _ : state) {
    for (uint16_t i = 0; i < kBurst; ++i) w->device().inject_rx(frame);
    uint16_t n = w->net().rx_burst(burst, kBurst);
    for (uint16_t i = 0; i < n; ++i) w->pool().free(burst[i]);
    frames += n;
  }
  state.SetItemsProcessed(static_cast<int64_t>(frames));
  state.SetBytesProcessed(static_cast<int64_t>(frames * size));
  state.counters["Mpps"] =
      benchmark::Counter(static_cast<double>(frames) / 1e6, benchmark::Counter::kIsRate);
  if (w->device().counters().rx_no_buffer != 0) state.SkipWithError("device ran out of rx buffers");
  if (!w->device().conformance().empty()) state.SkipWithError("conformance violation");
}

BENCHMARK(BM_Tx)->ArgsProduct({{64, 1514}, {0, 1}});
BENCHMARK(BM_Rx)->ArgsProduct({{64, 1514}, {0, 1}});

}  // namespace
}  // namespace vnet

BENCHMARK_MAIN();
