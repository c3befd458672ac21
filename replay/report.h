// Running traces and reporting on them: what vnet-replay prints, as text
// for people and as JSON / JUnit XML for machines.
//
//   path --load_trace_file()--> Trace --replay()--> ReplayResult
//     |  unreadable: TraceError (file, line, what)       |
//     v                                                  v
//   TraceOutcome {status, error | divergence + the lines before it, timings}
//     -> format_outcome() / summary_line() / to_json() / to_junit()
//
// Status: pass, diverged (the driver did something else than the trace
// says), unreadable (the trace is malformed, truncated or not a trace).
//
// Verdict (verdict/verdict.h) of every trace that replayed, beside its
// status:
//   a fuzz crash trace (its last event the harness's log line
//     "vnet-fuzz: FINDING <oracle>: ..."): oracle:<oracle>
//   a sanitizer crash trace ("vnet-fuzz: the run crashed here (sanitizer
//     report)"): memory-error
//     -- both whether or not the replay reached that line (reproduced)
//   any other divergence: oracle:divergence (the driver no longer does
//     what the trace recorded)
//   a trace that replayed: graded from the driver's counters and states
//     during the replay (ReplayResult::observed): pass, safe-reject,
//     recovered, wedged
// An unreadable trace did not run and has no verdict.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "replay/replayer.h"
#include "replay/trace.h"
#include "verdict/verdict.h"

namespace vnet::replay {

enum class Status : uint8_t { kPass, kDiverged, kUnreadable };
const char* status_name(Status s);

struct ContextLine {
  size_t line = 0;
  std::string text;
};

struct TraceOutcome {
  std::string file;
  Status status = Status::kUnreadable;
  // kUnreadable
  std::string error;
  size_t error_line = 0;
  // kDiverged
  Divergence divergence;
  size_t divergence_event = 0;      // 1-based event number
  size_t divergence_line = 0;       // 1-based line in the file
  std::vector<ContextLine> before;  // the events just before it
  // always
  ReplayMode mode = ReplayMode::kStrict;
  ReplayResult result;
  // Every status but kUnreadable: the verdict.
  bool graded = false;
  verdict::Graded verdict;
  // A crash trace: the 1-based event number of its finding line, and
  // whether the replay reached it (diverged exactly there).
  size_t finding_event = 0;
  bool finding_reproduced = false;
  size_t events = 0;
  size_t bytes = 0;
  double load_seconds = 0;
  double replay_seconds = 0;
};

// The mode a trace is replayed in: the one asked for, else the one the
// trace's header asks for ("replay":"device"), else strict.
ReplayMode effective_mode(const Trace& trace, const std::optional<ReplayMode>& asked);

// The verdict of a replayed outcome (sets graded, verdict, finding_*);
// replay_loaded() calls it.
void grade_outcome(const Trace& trace, TraceOutcome* o);

// Replays a loaded trace and fills an outcome (context: lines before a
// divergence to keep).
TraceOutcome replay_loaded(const Trace& trace, size_t context,
                           std::optional<ReplayMode> mode = std::nullopt);
// Loads and replays a file; never throws for trace content.
TraceOutcome run_trace_file(const std::string& path, size_t context,
                            std::optional<ReplayMode> mode = std::nullopt);

// Multi-line report: PASS line, or the divergence with expected, actual
// and the events before it, or the load error.
std::string format_outcome(const TraceOutcome& o);
// One line: status, file, events, timings.
std::string summary_line(const TraceOutcome& o);
nlohmann::json to_json(const std::vector<TraceOutcome>& outcomes);
std::string to_junit(const std::vector<TraceOutcome>& outcomes);

}  // namespace vnet::replay
