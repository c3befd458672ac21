#include "replay/report.h"

#include <chrono>
#include <cstdio>
#include <string_view>

namespace vnet::replay {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

using verdict::xml_escape;

// The last event before "end" when it is a driver log line: its text.
std::string_view last_log(const Trace& trace, size_t* index) {
  if (trace.events.size() < 2) return {};
  const size_t i = trace.events.size() - 2;
  const Event& e = trace.events[i];
  if (e.kind != EventKind::kLog) return {};
  *index = i;
  return std::string_view(reinterpret_cast<const char*>(trace.data(e.data)), e.data.len);
}

}  // namespace

const char* status_name(Status s) {
  switch (s) {
    case Status::kPass:
      return "PASS";
    case Status::kDiverged:
      return "DIVERGED";
    case Status::kUnreadable:
      return "UNREADABLE";
  }
  return "?";
}

ReplayMode effective_mode(const Trace& trace, const std::optional<ReplayMode>& asked) {
  if (asked) return *asked;
  ReplayMode m = ReplayMode::kStrict;
  if (!trace.header.default_mode.empty()) parse_replay_mode(trace.header.default_mode, &m);
  return m;
}

void grade_outcome(const Trace& trace, TraceOutcome* o) {
  if (o->status == Status::kUnreadable) return;
  o->graded = true;
  verdict::Observation seen = o->result.observed;
  size_t index = 0;
  const std::string_view log = last_log(trace, &index);
  const std::string oracle = verdict::oracle_of_finding_line(log);
  const bool crash = !log.empty() && log == verdict::kCrashLine;
  if (!oracle.empty() || crash) {
    o->finding_event = Trace::event_number(index);
    o->finding_reproduced = o->status == Status::kDiverged && o->result.divergence &&
                            o->result.divergence->event_index == index;
    std::string where = " (event " + std::to_string(o->finding_event) + ": ";
    if (o->finding_reproduced)
      where += "reproduced, the replay reached it)";
    else if (o->status == Status::kDiverged)
      where += "not reproduced, the replay diverged at event " +
               std::to_string(o->divergence_event) + ")";
    else
      where += "not reproduced, the replay passed)";
    if (crash) {
      seen.memory_error = true;
      seen.memory_error_what = std::string(log) + where;
    } else {
      seen.oracle = oracle;
      seen.oracle_what = std::string(log) + where;
    }
  } else if (o->status == Status::kDiverged) {
    seen.oracle = "divergence";
    seen.oracle_what = "the driver no longer does what the trace recorded, at event " +
                       std::to_string(o->divergence_event) + ": " + o->divergence.reason;
  }
  o->verdict = verdict::grade(seen);
}

TraceOutcome replay_loaded(const Trace& trace, size_t context, std::optional<ReplayMode> mode) {
  TraceOutcome o;
  o.file = trace.name;
  o.events = trace.events.size();
  o.bytes = trace.source_bytes;
  o.mode = effective_mode(trace, mode);
  const auto t0 = std::chrono::steady_clock::now();
  o.result = replay(trace, o.mode);
  o.replay_seconds = seconds_since(t0);
  if (o.result.unusable) {
    o.status = Status::kUnreadable;
    o.error = std::string(replay_mode_name(o.mode)) + " mode: " + o.result.error;
    return o;
  }
  if (o.result.passed) {
    o.status = Status::kPass;
    grade_outcome(trace, &o);
    return o;
  }
  o.status = Status::kDiverged;
  if (o.result.divergence) {
    o.divergence = *o.result.divergence;
  } else {
    o.divergence.reason = "the trace ended before the replay did";
  }
  const size_t idx = o.divergence.event_index;
  o.divergence_event = Trace::event_number(idx);
  o.divergence_line = idx < trace.event_line.size() ? trace.event_line[idx] : 0;
  const size_t first = idx > context ? idx - context : 0;
  for (size_t i = first; i < idx && i < trace.event_line.size(); ++i)
    o.before.push_back(
        ContextLine{trace.event_line[i], std::string(trace.line(trace.event_line[i]))});
  grade_outcome(trace, &o);
  return o;
}

TraceOutcome run_trace_file(const std::string& path, size_t context,
                            std::optional<ReplayMode> mode) {
  const auto t0 = std::chrono::steady_clock::now();
  Trace trace;
  try {
    // The text is not kept: a divergence's lines are read back from the file.
    LoadOptions lean;
    lean.keep_text = false;
    trace = load_trace_file(path, lean);
  } catch (const TraceError& e) {
    TraceOutcome o;
    o.file = path;
    o.status = Status::kUnreadable;
    o.error = e.what();
    o.error_line = e.line();
    o.load_seconds = seconds_since(t0);
    return o;
  }
  const double load = seconds_since(t0);
  TraceOutcome o = replay_loaded(trace, context, mode);
  o.file = path;
  o.load_seconds = load;
  return o;
}

std::string format_outcome(const TraceOutcome& o) {
  std::string s;
  switch (o.status) {
    case Status::kPass:
      s = "PASS " + o.file + " (" + std::to_string(o.events) + " events";
      if (!o.result.notes.empty()) s += std::string(", ") + replay_mode_name(o.mode) + " mode";
      s += ")\n";
      for (const std::string& n : o.result.notes) s += "  " + n + "\n";
      if (o.graded) s += "  verdict:  " + verdict::describe(o.verdict) + "\n";
      break;
    case Status::kUnreadable:
      s = "UNREADABLE " + o.file + ": " + o.error + "\n";
      break;
    case Status::kDiverged: {
      s = "DIVERGED " + o.file + ": first divergence at event " +
          std::to_string(o.divergence_event) + " (line " + std::to_string(o.divergence_line) +
          ")\n";
      s += "  reason:   " + o.divergence.reason + "\n";
      s += "  expected: " + o.divergence.expected + "\n";
      s += "  actual:   " + o.divergence.actual + "\n";
      if (o.graded) s += "  verdict:  " + verdict::describe(o.verdict) + "\n";
      if (!o.result.notes.empty()) {
        s += std::string("  ") + replay_mode_name(o.mode) + " mode:\n";
        for (const std::string& n : o.result.notes) s += "    " + n + "\n";
      }
      if (!o.before.empty()) {
        s += "  events before it:\n";
        for (const ContextLine& c : o.before)
          s += "    line " + std::to_string(c.line) + ": " + c.text + "\n";
      }
      break;
    }
  }
  return s;
}

std::string summary_line(const TraceOutcome& o) {
  char buf[256];
  const double rate =
      o.replay_seconds > 0 ? double(o.result.events_consumed) / o.replay_seconds : 0;
  std::snprintf(buf, sizeof buf,
                "%-10s %s: %zu events, %zu bytes, load %.3f ms, replay %.3f ms (%.2f Mevents/s)",
                status_name(o.status), o.file.c_str(), o.events, o.bytes, o.load_seconds * 1e3,
                o.replay_seconds * 1e3, rate / 1e6);
  std::string s = buf;
  if (o.status == Status::kDiverged)
    s += ", diverged at event " + std::to_string(o.divergence_event);
  if (o.status == Status::kUnreadable) s += ", line " + std::to_string(o.error_line);
  if (o.graded)
    s += ", verdict " + o.verdict.name() + " (" + verdict::severity_name(o.verdict.severity) + ")";
  return s;
}

nlohmann::json to_json(const std::vector<TraceOutcome>& outcomes) {
  nlohmann::json traces = nlohmann::json::array();
  size_t pass = 0, diverged = 0, unreadable = 0;
  nlohmann::json verdicts = nlohmann::json::object();
  for (const TraceOutcome& o : outcomes) {
    nlohmann::json j = {{"file", o.file},
                        {"status", status_name(o.status)},
                        {"events", o.events},
                        {"bytes", o.bytes},
                        {"load_seconds", o.load_seconds},
                        {"replay_seconds", o.replay_seconds},
                        {"mode", replay_mode_name(o.mode)}};
    if (!o.result.notes.empty()) j["notes"] = o.result.notes;
    if (o.graded) {
      const std::string name = o.verdict.name();
      verdicts[name] = verdicts.value(name, 0) + 1;
      j["verdict"] = name;
      j["severity"] = verdict::severity_name(o.verdict.severity);
      j["verdict_reason"] = o.verdict.reason;
      if (o.finding_event != 0)
        j["finding"] = {{"event", o.finding_event}, {"reproduced", o.finding_reproduced}};
    } else {
      j["verdict"] = nullptr;
    }
    if (o.status == Status::kUnreadable) {
      ++unreadable;
      j["error"] = o.error;
      j["line"] = o.error_line;
    } else if (o.status == Status::kDiverged) {
      ++diverged;
      nlohmann::json before = nlohmann::json::array();
      for (const ContextLine& c : o.before) before.push_back({{"line", c.line}, {"text", c.text}});
      j["divergence"] = {{"event", o.divergence_event},   {"line", o.divergence_line},
                         {"reason", o.divergence.reason}, {"expected", o.divergence.expected},
                         {"actual", o.divergence.actual}, {"before", before}};
    } else {
      ++pass;
    }
    traces.push_back(std::move(j));
  }
  return {{"traces", traces},
          {"summary",
           {{"total", outcomes.size()},
            {"pass", pass},
            {"diverged", diverged},
            {"unreadable", unreadable},
            {"verdicts", verdicts}}}};
}

std::string to_junit(const std::vector<TraceOutcome>& outcomes) {
  size_t failures = 0, errors = 0;
  double total = 0;
  for (const TraceOutcome& o : outcomes) {
    failures += o.status == Status::kDiverged;
    errors += o.status == Status::kUnreadable;
    total += o.load_seconds + o.replay_seconds;
  }
  std::string s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  s += "<testsuite name=\"vnet-replay\" tests=\"" + std::to_string(outcomes.size()) +
       "\" failures=\"" + std::to_string(failures) + "\" errors=\"" + std::to_string(errors) +
       "\" time=\"" + std::to_string(total) + "\">\n";
  for (const TraceOutcome& o : outcomes) {
    s += "  <testcase classname=\"replay\" name=\"" + xml_escape(o.file) + "\" time=\"" +
         std::to_string(o.load_seconds + o.replay_seconds) + "\"";
    if (o.status == Status::kPass && !o.graded) {
      s += "/>\n";
      continue;
    }
    s += ">\n";
    if (o.graded) s += verdict::junit_properties(o.verdict, "    ");
    if (o.status == Status::kPass) {
      s += "  </testcase>\n";
      continue;
    }
    const std::string body = xml_escape(format_outcome(o));
    if (o.status == Status::kDiverged)
      s += "    <failure message=\"" + xml_escape(o.divergence.reason) + "\">" + body +
           "</failure>\n";
    else
      s += "    <error message=\"" + xml_escape(o.error) + "\">" + body + "</error>\n";
    s += "  </testcase>\n";
  }
  s += "</testsuite>\n";
  return s;
}

}  // namespace vnet::replay
