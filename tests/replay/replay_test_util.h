// Helpers shared by the replay tests: recording a mock scenario into
// memory, writing, editing and replaying trace text, and running
// vnet-replay.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "replay/mock_recording.h"
#include "replay/record/trace_writer.h"
#include "replay/replayer.h"
#include "replay/trace.h"

namespace vnet::replay::testing {

inline const MockScenario& scenario(const std::string& name) {
  for (const auto& s : mock_scenarios())
    if (name == s.name) return s;
  throw std::runtime_error("no scenario " + name);
}

inline const MockKind& kind(const std::string& name) {
  for (const auto& k : kMockKinds)
    if (name == k.name) return k;
  throw std::runtime_error("no kind " + name);
}

inline std::string record(const std::string& kind_name, const std::string& scenario_name) {
  return record_scenario(scenario(scenario_name), kind(kind_name), "test");
}

inline std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

inline std::string join_lines(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

// Index (0-based line) of the first line containing all of needles.
inline size_t find_line(const std::vector<std::string>& lines,
                        const std::vector<std::string>& needles, size_t from = 0) {
  for (size_t i = from; i < lines.size(); ++i) {
    bool all = true;
    for (const auto& n : needles) all = all && lines[i].find(n) != std::string::npos;
    if (all) return i;
  }
  return std::string::npos;
}

// Load edited trace text and replay it (out: the loaded trace).
inline ReplayResult replay_text(const std::string& text, Trace* out = nullptr) {
  Trace t = load_trace(text, "edited");
  ReplayResult r = replay(t);
  if (out != nullptr) *out = std::move(t);
  return r;
}

// Replace the first occurrence of from in line (which must hold it).
inline void edit(std::string& line, const std::string& from, const std::string& to) {
  const size_t at = line.find(from);
  ASSERT_NE(at, std::string::npos) << from << " not in " << line;
  line.replace(at, from.size(), to);
}

// A trace written by body between a header (64 pool buffers of 2 KiB) and
// its end line.
inline std::string writer_text(void (*body)(trace::TraceWriter&)) {
  std::string text;
  trace::TraceWriter w(trace::ByteSink{
      [](void* c, const char* d, size_t n) { static_cast<std::string*>(c)->append(d, n); }, &text});
  trace::TraceHeader h;
  h.pool_buffer_size = 2048;
  h.pool_buffers = 64;
  trace::write_header(w, h);
  body(w);
  trace::write_end(w);
  w.flush();
  return text;
}

class TempFile {
 public:
  explicit TempFile(const std::string& text, const std::string& suffix = ".jsonl") {
    static int counter = 0;
    path_ = (std::filesystem::temp_directory_path() /
             ("vnet-replay-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) +
              suffix))
                .string();
    std::ofstream(path_, std::ios::binary) << text;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

inline RunResult run_replay_cli(const std::string& args) {
  RunResult r;
  const std::string cmd = std::string(VNET_REPLAY_BIN) + " --no-progress " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace vnet::replay::testing
