// vnet-replay TRACE...: replays recorded traces against this build of the
// driver (docs/trace-format.md).
//
//   exit 0  every trace passed
//   exit 1  at least one trace diverged (and none was unreadable)
//   exit 2  at least one trace was unreadable (malformed, truncated, not a
//           trace, missing, not replayable in the asked mode), or the
//           command line was wrong
//
// --mode strict (default; a trace's header may ask for device mode with
// "replay":"device") checks every expectation; --mode device drives the
// mock device with a converted capture's device side and judges what our
// driver delivers (docs/trace-format.md, "Replay modes").
//
// A directory argument stands for every *.jsonl file below it, sorted.
//
// Every trace that replays gets a verdict beside its status (replay/report.h:
// pass, safe-reject, recovered, wedged from the driver's counters; the
// finding of a fuzz crash trace; oracle:divergence), in the text, --report
// and --junit output; with several traces or --summary a tally follows.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "replay/pcap_export.h"
#include "replay/report.h"
#include "replay/trace.h"

namespace {

namespace fs = std::filesystem;
using vnet::replay::Status;
using vnet::replay::TraceOutcome;

std::vector<std::string> expand(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  for (const std::string& a : args) {
    std::error_code ec;
    if (fs::is_directory(a, ec)) {
      std::vector<std::string> found;
      for (const auto& e : fs::recursive_directory_iterator(a, ec))
        if (e.is_regular_file() && e.path().extension() == ".jsonl")
          found.push_back(e.path().string());
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(a);  // a missing file is reported as unreadable
    }
  }
  return files;
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Replays vnetkit traces against the driver and reports the first divergence."};
  std::vector<std::string> inputs;
  bool summary = false, quiet = false, progress = false, no_progress = false;
  std::string report_path, junit_path, pcap_path;
  size_t context = 5;
  std::string mode_name;
  app.add_option("TRACE", inputs, "trace files (.jsonl) or directories of them")->required();
  app.add_flag("-s,--summary", summary, "one summary line per trace (events, size, timings)");
  app.add_flag("-q,--quiet", quiet, "print only traces that do not pass");
  app.add_option("--report", report_path, "write a JSON report to this file");
  app.add_option("--junit", junit_path, "write a JUnit XML report to this file");
  app.add_option("--pcap", pcap_path,
                 "write the frames of the trace (rx delivered, tx published) to this pcap file; "
                 "one trace only");
  app.add_option("--mode", mode_name,
                 "strict: every expectation must match (recordings, and captures of our own "
                 "guest); device: a capture's device side drives the mock device and the driver "
                 "is judged by conformance and the frames it delivers. Default: strict, or what "
                 "the trace's header asks for")
      ->check(CLI::IsMember({"strict", "device"}));
  app.add_option("--context", context, "events shown before a divergence")->capture_default_str();
  app.add_flag("--progress", progress, "show progress on stderr (default: on a terminal)");
  app.add_flag("--no-progress", no_progress, "never show progress");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  std::optional<vnet::replay::ReplayMode> mode;
  if (!mode_name.empty()) {
    vnet::replay::ReplayMode m;
    vnet::replay::parse_replay_mode(mode_name, &m);
    mode = m;
  }
  const std::vector<std::string> files = expand(inputs);
  if (files.empty()) {
    std::cerr << "vnet-replay: no traces found\n";
    return 2;
  }
  if (!pcap_path.empty() && files.size() != 1) {
    std::cerr << "vnet-replay: --pcap takes exactly one trace (" << files.size() << " given)\n";
    return 2;
  }
  const bool show_progress =
      !no_progress && (progress || (files.size() > 1 && isatty(STDERR_FILENO) != 0));

  std::vector<TraceOutcome> outcomes;
  size_t pass = 0, diverged = 0, unreadable = 0;
  uint64_t events = 0;
  double replay_seconds = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    if (show_progress)
      std::fprintf(stderr, "\r[%zu/%zu] %s\033[K", i + 1, files.size(), files[i].c_str());
    TraceOutcome o = vnet::replay::run_trace_file(files[i], context, mode);
    if (show_progress) std::fprintf(stderr, "\r\033[K");
    switch (o.status) {
      case Status::kPass:
        ++pass;
        break;
      case Status::kDiverged:
        ++diverged;
        break;
      case Status::kUnreadable:
        ++unreadable;
        break;
    }
    events += o.result.events_consumed;
    replay_seconds += o.replay_seconds;
    if (summary) std::cout << vnet::replay::summary_line(o) << "\n";
    if (o.status != Status::kPass || (!quiet && !summary))
      std::cout << vnet::replay::format_outcome(o);
    if (!pcap_path.empty() && o.status != Status::kUnreadable) {
      vnet::replay::PcapStats st;
      std::string err;
      // Loaded again: the outcome does not keep the trace in memory.
      vnet::replay::Trace t = vnet::replay::load_trace_file(files[i]);
      if (!vnet::replay::export_pcap(t, pcap_path, &st, &err)) {
        std::cerr << "vnet-replay: " << err << "\n";
        return 2;
      }
      std::cout << "pcap " << pcap_path << ": " << st.rx_frames << " rx and " << st.tx_frames
                << " tx frames\n";
    }
    outcomes.push_back(std::move(o));
  }
  if (files.size() > 1 || summary) {
    std::printf("%zu traces: %zu passed, %zu diverged, %zu unreadable; %llu events replayed",
                files.size(), pass, diverged, unreadable, static_cast<unsigned long long>(events));
    if (replay_seconds > 0) std::printf(" (%.2f Mevents/s)", double(events) / replay_seconds / 1e6);
    std::printf("\n");
    std::map<std::string, size_t> tally;
    for (const TraceOutcome& o : outcomes)
      if (o.graded) ++tally[o.verdict.name()];
    std::string line;
    for (const auto& [name, n] : tally)
      line += (line.empty() ? "" : ", ") + std::to_string(n) + " " + name;
    if (!line.empty()) std::printf("verdicts: %s\n", line.c_str());
  }
  if (!report_path.empty() &&
      !write_file(report_path, vnet::replay::to_json(outcomes).dump(2) + "\n")) {
    std::cerr << "vnet-replay: cannot write " << report_path << "\n";
    return 2;
  }
  if (!junit_path.empty() && !write_file(junit_path, vnet::replay::to_junit(outcomes))) {
    std::cerr << "vnet-replay: cannot write " << junit_path << "\n";
    return 2;
  }
  if (unreadable != 0) return 2;
  if (diverged != 0) return 1;
  return 0;
}
