// Replay throughput (events/s on a trace already in memory) and load speed
// (MB/s of JSON Lines parsed), side by side. The trace is a long
// steady-state run recorded in the mock world at start-up.
#include <benchmark/benchmark.h>

#include <string>

#include "replay/mock_recording.h"
#include "replay/replayer.h"
#include "replay/trace.h"

namespace {

using vnet::replay::kMockKinds;

constexpr size_t kEvents = 1'000'000;

const std::string& trace_text(int kind) {
  static std::string texts[2];
  if (texts[kind].empty())
    texts[kind] = vnet::replay::record_long_traffic(kMockKinds[kind == 0 ? 1 : 0], kEvents);
  return texts[kind];
}

const vnet::replay::Trace& loaded(int kind) {
  static vnet::replay::Trace traces[2];
  if (traces[kind].events.empty())
    traces[kind] = vnet::replay::load_trace(trace_text(kind), "bench");
  return traces[kind];
}

// Arg 0: modern, 1: legacy.
void BM_Replay(benchmark::State& state) {
  const auto& t = loaded(static_cast<int>(state.range(0)));
  uint64_t events = 0;
  for (auto _ : state) {
    auto r = vnet::replay::replay(t);
    if (!r.passed) state.SkipWithError("replay diverged");
    events += r.events_consumed;
  }
  state.counters["events/s"] = benchmark::Counter(double(events), benchmark::Counter::kIsRate);
  state.counters["events"] = double(t.events.size());
}
BENCHMARK(BM_Replay)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Load(benchmark::State& state) {
  const std::string& text = trace_text(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto t = vnet::replay::load_trace(text, "bench");
    benchmark::DoNotOptimize(t.events.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
  state.counters["MB"] = double(text.size()) / 1e6;
}
BENCHMARK(BM_Load)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
