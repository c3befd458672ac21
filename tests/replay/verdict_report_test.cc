// Verdicts in replay reports (replay/report.h): a trace that replays is
// graded from what the driver did; a fuzz crash trace carries its finding
// (oracle:<name>, memory-error), reproduced or not; any other divergence is
// oracle:divergence; an unreadable trace has no verdict. Text, JSON, JUnit
// and the command line.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "replay/report.h"
#include "tests/replay/replay_test_util.h"

namespace vnet::replay {
namespace {

using testing::find_line;
using testing::join_lines;
using testing::record;
using testing::split_lines;

TraceOutcome replay_text(const std::string& text, const std::string& name = "t") {
  return replay_loaded(load_trace(text, name), 3);
}

// The last line before "end" becomes `log` (a driver log line, as
// crash-to-trace writes it), with the end count kept right.
std::string with_last_log(const std::string& text, const std::string& log) {
  auto lines = split_lines(text);
  auto& end = lines.back();
  const size_t n = std::stoul(end.substr(end.find(":", 6) + 1));
  end = R"({"ev":"end","events":)" + std::to_string(n + 1) + "}";
  lines.insert(lines.end() - 1, R"({"ev":"log","level":"error","msg":")" + log + "\"}");
  return join_lines(lines);
}

// The DRIVER_OK write edited: the driver no longer does what the trace says.
std::string edited_driver_ok(const std::string& text) {
  auto lines = split_lines(text);
  const size_t i = find_line(lines, {R"("ev":"reg_write")", R"("w":1,"val":15})"});
  EXPECT_NE(i, std::string::npos);
  lines[i].replace(lines[i].find(R"("val":15)"), 8, R"("val":11)");
  return join_lines(lines);
}

constexpr const char* kFinding =
    "vnet-fuzz: FINDING ownership (b): descriptor 3 of queue 0 published while the device "
    "owns it";

TEST(ReplayVerdict, PassingReplaysAreGradedFromTheDriver) {
  struct Case {
    const char* kind;
    const char* scenario;
    const char* verdict;
    const char* reason_part;
  } cases[] = {
      {"modern", "traffic", "pass", "nothing refused"},
      {"legacy", "used_len_over", "safe-reject", "rx_drop_len_over +"},
      {"modern", "queue_size_zero", "safe-reject", "refused: attach: queue size 0"},
      {"modern", "reset_recover", "recovered", "traffic resumed"},
      {"legacy", "used_id_out_of_range", "recovered", "queue_broken_used_id"},
  };
  for (const Case& c : cases) {
    const TraceOutcome o = replay_text(record(c.kind, c.scenario));
    ASSERT_EQ(o.status, Status::kPass) << c.scenario << "\n" << format_outcome(o);
    ASSERT_TRUE(o.graded);
    EXPECT_EQ(o.verdict.name(), c.verdict) << c.scenario << ": " << o.verdict.reason;
    EXPECT_NE(o.verdict.reason.find(c.reason_part), std::string::npos)
        << c.scenario << ": " << o.verdict.reason;
    EXPECT_EQ(o.finding_event, 0u);
    EXPECT_NE(format_outcome(o).find("  verdict:  " + verdict::describe(o.verdict)),
              std::string::npos)
        << format_outcome(o);
  }
}

TEST(ReplayVerdict, AFuzzFindingLineIsTheOracleItNames) {
  const std::string text = with_last_log(record("modern", "traffic"), kFinding);
  Trace t = load_trace(text, "crash");
  const TraceOutcome o = replay_loaded(t, 3);
  ASSERT_EQ(o.status, Status::kDiverged);
  EXPECT_EQ(o.verdict.name(), "oracle:ownership");
  EXPECT_EQ(o.verdict.severity, verdict::Severity::kCritical);
  EXPECT_EQ(o.finding_event, t.events.size() - 1) << "the event before end, 1-based";
  EXPECT_TRUE(o.finding_reproduced);
  EXPECT_EQ(o.divergence_event, o.finding_event);
  EXPECT_NE(o.verdict.reason.find(kFinding), std::string::npos) << o.verdict.reason;
  EXPECT_NE(o.verdict.reason.find("reproduced, the replay reached it"), std::string::npos)
      << o.verdict.reason;
}

TEST(ReplayVerdict, AFindingTheReplayDoesNotReachIsStillTheFindingNotReproduced) {
  const std::string text = with_last_log(edited_driver_ok(record("modern", "traffic")), kFinding);
  const TraceOutcome o = replay_text(text);
  ASSERT_EQ(o.status, Status::kDiverged);
  EXPECT_EQ(o.verdict.name(), "oracle:ownership");
  EXPECT_FALSE(o.finding_reproduced);
  EXPECT_LT(o.divergence_event, o.finding_event);
  EXPECT_NE(o.verdict.reason.find("not reproduced, the replay diverged at event " +
                                  std::to_string(o.divergence_event)),
            std::string::npos)
      << o.verdict.reason;
}

TEST(ReplayVerdict, ASanitizerCrashLineIsAMemoryError) {
  const TraceOutcome o =
      replay_text(with_last_log(record("legacy", "traffic"), std::string(verdict::kCrashLine)));
  ASSERT_EQ(o.status, Status::kDiverged);
  EXPECT_EQ(o.verdict.name(), "memory-error");
  EXPECT_EQ(o.verdict.severity, verdict::Severity::kCritical);
  EXPECT_TRUE(o.finding_reproduced);
}

TEST(ReplayVerdict, AnOrdinaryLogLineIsNoFinding) {
  // A log line the driver does not write diverges, but names no oracle.
  const TraceOutcome o =
      replay_text(with_last_log(record("modern", "traffic"), "driver: something else"));
  ASSERT_EQ(o.status, Status::kDiverged);
  EXPECT_EQ(o.verdict.name(), "oracle:divergence");
  EXPECT_EQ(o.finding_event, 0u);
}

TEST(ReplayVerdict, AnyOtherDivergenceIsOracleDivergence) {
  const TraceOutcome o = replay_text(edited_driver_ok(record("modern", "traffic")));
  ASSERT_EQ(o.status, Status::kDiverged);
  EXPECT_EQ(o.verdict.name(), "oracle:divergence");
  EXPECT_EQ(o.verdict.severity, verdict::Severity::kCritical);
  EXPECT_NE(o.verdict.reason.find("at event " + std::to_string(o.divergence_event) +
                                  ": reg_write: value differs"),
            std::string::npos)
      << o.verdict.reason;
  EXPECT_NE(format_outcome(o).find("  verdict:  oracle:divergence (severity critical)"),
            std::string::npos)
      << format_outcome(o);
  EXPECT_NE(summary_line(o).find(", verdict oracle:divergence (critical)"), std::string::npos)
      << summary_line(o);
}

TEST(ReplayVerdict, JsonAndJUnitCarryTheVerdicts) {
  std::vector<TraceOutcome> outcomes;
  outcomes.push_back(replay_text(record("legacy", "used_len_over"), "reject.jsonl"));
  outcomes.push_back(
      replay_text(with_last_log(record("modern", "traffic"), kFinding), "crash.jsonl"));
  outcomes.push_back(run_trace_file("/nonexistent/vnet-trace.jsonl", 3));
  ASSERT_EQ(outcomes[2].status, Status::kUnreadable);
  EXPECT_FALSE(outcomes[2].graded);

  const nlohmann::json j = to_json(outcomes);
  EXPECT_EQ(j["traces"][0]["verdict"], "safe-reject");
  EXPECT_EQ(j["traces"][0]["severity"], "low");
  EXPECT_TRUE(j["traces"][0]["verdict_reason"].get<std::string>().find("rx_drop_len_over") !=
              std::string::npos);
  EXPECT_FALSE(j["traces"][0].contains("finding"));
  EXPECT_EQ(j["traces"][1]["verdict"], "oracle:ownership");
  EXPECT_EQ(j["traces"][1]["severity"], "critical");
  EXPECT_EQ(j["traces"][1]["finding"]["reproduced"], true);
  EXPECT_EQ(j["traces"][1]["finding"]["event"], outcomes[1].finding_event);
  EXPECT_TRUE(j["traces"][2]["verdict"].is_null());
  EXPECT_EQ(j["summary"]["verdicts"]["safe-reject"], 1);
  EXPECT_EQ(j["summary"]["verdicts"]["oracle:ownership"], 1);
  EXPECT_EQ(j["summary"]["verdicts"].size(), 2u);

  const std::string x = to_junit(outcomes);
  EXPECT_NE(x.find(R"(tests="3" failures="1" errors="1")"), std::string::npos) << x;
  // The passing trace is a testcase with properties and no failure.
  const size_t reject = x.find(R"(name="reject.jsonl")");
  const size_t crash = x.find(R"(name="crash.jsonl")");
  ASSERT_NE(reject, std::string::npos) << x;
  ASSERT_NE(crash, std::string::npos) << x;
  const std::string first = x.substr(reject, crash - reject);
  EXPECT_NE(first.find(R"(<property name="verdict" value="safe-reject"/>)"), std::string::npos)
      << first;
  EXPECT_EQ(first.find("<failure"), std::string::npos) << first;
  const std::string second = x.substr(crash);
  EXPECT_NE(second.find(R"(<property name="verdict" value="oracle:ownership"/>)"),
            std::string::npos)
      << second;
  EXPECT_NE(second.find(R"(<property name="severity" value="critical"/>)"), std::string::npos)
      << second;
  EXPECT_NE(second.find("<failure message="), std::string::npos) << second;
}

TEST(ReplayVerdict, CommandLinePrintsVerdictsAndTheirTally) {
  testing::TempFile a(record("legacy", "used_len_over"));
  testing::TempFile b(with_last_log(record("modern", "traffic"), kFinding));
  testing::TempFile report("", ".json");
  auto run = testing::run_replay_cli(a.path() + " " + b.path() + " --report " + report.path());
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("  verdict:  safe-reject (severity low): rx_drop_len_over +"),
            std::string::npos)
      << run.output;
  EXPECT_NE(
      run.output.find("  verdict:  oracle:ownership (severity critical): " + std::string(kFinding)),
      std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("verdicts: 1 oracle:ownership, 1 safe-reject"), std::string::npos)
      << run.output;
  std::ifstream in(report.path());
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["traces"][1]["verdict"], "oracle:ownership");
}

}  // namespace
}  // namespace vnet::replay
