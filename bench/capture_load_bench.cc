// Loading and replaying a multi-million-event capture (issue 11): the
// committed iPXE capture corpus/traces/firmware/ipxe-efi-modern.jsonl with
// every repeat count multiplied by kScale, so that its ISR polling loop
// makes about five million register reads, in two forms:
//
//   expanded  format version 1, one line per access (what trace2json wrote
//             before compaction, and writes with --no-compact): ~290 MB
//   compact   format version 2, one line per run of identical accesses
//
// Figures: load MB/s (JSON Lines parsed into a Trace, from a string),
// bytes of memory per loaded event (the Trace's heap: event arrays at
// their capacity, byte arena, kept text), and replay time in device mode
// on the loaded trace.
//
//   capture_load_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "replay/replayer.h"
#include "replay/trace.h"

namespace {

constexpr uint64_t kScale = 5;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (ss.str().empty()) throw std::runtime_error("cannot read " + path);
  return ss.str();
}

// The capture with its repeat counts scaled; expanded (version 1) or not.
std::string scaled_capture(bool expanded) {
  const std::string src =
      read_file(std::string(VNET_SOURCE_DIR) + "/corpus/traces/firmware/ipxe-efi-modern.jsonl");
  std::string out;
  uint64_t lines = 0;
  size_t pos = 0;
  bool first = true;
  while (pos < src.size()) {
    size_t nl = src.find('\n', pos);
    if (nl == std::string::npos) nl = src.size();
    std::string line = src.substr(pos, nl - pos);
    pos = nl + 1;
    if (first) {
      first = false;
      if (expanded) line.replace(line.find("\"version\":2"), 11, "\"version\":1");
      out += line + "\n";
      continue;
    }
    if (line.rfind("{\"ev\":\"end\"", 0) == 0) break;
    const size_t at = line.find(",\"rep\":");
    uint64_t rep = 1;
    if (at != std::string::npos) {
      rep = std::stoull(line.substr(at + 7)) * kScale;
      line = line.substr(0, at) + "}";
    }
    if (expanded) {
      for (uint64_t k = 0; k < rep; ++k) out += line + "\n";
      lines += rep;
    } else {
      out += rep > 1 ? line.substr(0, line.size() - 1) + ",\"rep\":" + std::to_string(rep) + "}\n"
                     : line + "\n";
      ++lines;
    }
  }
  out += "{\"ev\":\"end\",\"events\":" + std::to_string(lines) + "}\n";
  return out;
}

const std::string& text(int expanded) {
  static std::string texts[2];
  if (texts[expanded].empty()) texts[expanded] = scaled_capture(expanded != 0);
  return texts[expanded];
}

template <typename T>
size_t heap(const std::vector<T>& v) {
  return v.capacity() * sizeof(T);
}

// Heap bytes a loaded trace holds (the Event arrays at capacity, the byte
// arena, side tables, the text when kept).
size_t trace_bytes(const vnet::replay::Trace& t) {
  return sizeof(t) + t.text.capacity() + heap(t.events) + heap(t.event_line) + heap(t.line_offset) +
         heap(t.bytes) + heap(t.segments) + heap(t.calls) + heap(t.rets);
}

// Arg: 1 expanded (version 1), 0 compact (version 2).
void BM_LoadCapture(benchmark::State& state) {
  const std::string& s = text(static_cast<int>(state.range(0)));
  size_t bytes = 0;
  uint64_t events = 0;
  for (auto _ : state) {
    vnet::replay::Trace t = vnet::replay::load_trace(s, "bench");
    bytes = trace_bytes(t);
    events = t.logical_events;
    benchmark::DoNotOptimize(t.events.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(s.size()));
  state.counters["MB"] = double(s.size()) / 1e6;
  state.counters["events"] = double(events);
  state.counters["bytes/event"] = double(bytes) / double(events);
}
BENCHMARK(BM_LoadCapture)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();

// As vnet-replay loads a file to replay it: read, parsed, the text dropped
// (lines a report quotes are read back from the file).
void BM_LoadCaptureFile(benchmark::State& state) {
  const std::string& s = text(static_cast<int>(state.range(0)));
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("capture_load_bench_" + std::to_string(getpid()) + ".jsonl"))
                               .string();
  std::ofstream(path, std::ios::binary) << s;
  vnet::replay::LoadOptions lean;
  lean.keep_text = false;
  size_t bytes = 0;
  uint64_t events = 0;
  for (auto _ : state) {
    vnet::replay::Trace t = vnet::replay::load_trace_file(path, lean);
    bytes = trace_bytes(t);
    events = t.logical_events;
    benchmark::DoNotOptimize(t.events.data());
  }
  std::filesystem::remove(path);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(s.size()));
  state.counters["MB"] = double(s.size()) / 1e6;
  state.counters["events"] = double(events);
  state.counters["bytes/event"] = double(bytes) / double(events);
}
BENCHMARK(BM_LoadCaptureFile)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();

// Device mode on the loaded trace (the corpus's replay of this capture).
void BM_ReplayCapture(benchmark::State& state) {
  const vnet::replay::Trace t =
      vnet::replay::load_trace(text(static_cast<int>(state.range(0))), "bench");
  for (auto _ : state) {
    auto r = vnet::replay::replay(t, vnet::replay::ReplayMode::kDevice);
    if (!r.passed) state.SkipWithError("replay failed");
    benchmark::DoNotOptimize(r.events_consumed);
  }
  state.counters["events"] = double(t.logical_events);
}
BENCHMARK(BM_ReplayCapture)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
