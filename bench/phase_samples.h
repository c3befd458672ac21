// PhaseSamples: per-frame times of the two phases of a sampled benchmark
// iteration -- the driver's, and its device peer's (the mock device, or a
// minimal ring peer) -- reported as medians, not means: on a shared machine
// one preemption inside a sampled phase would outweigh thousands of clean
// samples. At most 65536 samples are kept; later ones are dropped.
#pragma once

#include <benchmark/benchmark.h>
#include <stdint.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace vnet::bench {

using Clock = std::chrono::steady_clock;

struct PhaseSamples {
  std::vector<float> drv, peer;

  PhaseSamples() {
    drv.reserve(1 << 16);
    peer.reserve(1 << 16);
  }
  void add(Clock::duration d, Clock::duration p, uint16_t frames) {
    if (frames == 0 || drv.size() == drv.capacity()) return;
    drv.push_back(std::chrono::duration<float, std::nano>(d).count() / frames);
    peer.push_back(std::chrono::duration<float, std::nano>(p).count() / frames);
  }
  static double median(std::vector<float>& v) {
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  }
  // Sets the counters drv_ns and peer_counter to the medians (and *d, *p);
  // false when nothing was sampled.
  bool report_medians(benchmark::State& state, const char* peer_counter, double* d = nullptr,
                      double* p = nullptr) {
    if (drv.empty()) return false;
    const double dm = median(drv), pm = median(peer);
    state.counters["drv_ns"] = dm;
    state.counters[peer_counter] = pm;
    if (d != nullptr) *d = dm;
    if (p != nullptr) *p = pm;
    return true;
  }
};

}  // namespace vnet::bench
