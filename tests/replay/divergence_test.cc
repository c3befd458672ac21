// A driver that behaves differently from the trace is caught at the event
// where it first differs. The change is simulated by editing the trace's
// expectation (what the recorded driver did) and replaying the unchanged
// driver against it.
#include <gtest/gtest.h>

#include "replay/report.h"
#include "tests/replay/replay_test_util.h"

namespace vnet::replay {
namespace {

using testing::find_line;
using testing::join_lines;
using testing::record;
using testing::replay_text;
using testing::split_lines;

TEST(Divergence, EditedRegisterWriteIsReportedAtThatEvent) {
  auto lines = split_lines(record("modern", "traffic"));
  // The write of DRIVER_OK (status 15 = ACK|DRIVER|FEATURES_OK|DRIVER_OK).
  const size_t i = find_line(lines, {R"("ev":"reg_write")", R"("w":1,"val":15})"});
  ASSERT_NE(i, std::string::npos);
  const std::string original = lines[i];
  lines[i].replace(lines[i].find(R"("val":15)"), 8, R"("val":11)");
  Trace t;
  ReplayResult r = replay_text(join_lines(lines), &t);
  ASSERT_FALSE(r.passed);
  ASSERT_TRUE(r.divergence.has_value());
  EXPECT_EQ(t.event_line[r.divergence->event_index], i + 1) << "the edited line";
  EXPECT_EQ(r.divergence->expected, lines[i]);
  EXPECT_NE(r.divergence->actual.find(R"("val":15)"), std::string::npos) << r.divergence->actual;
  EXPECT_EQ(r.divergence->reason, "reg_write: value differs");
  EXPECT_EQ(r.events_consumed, r.divergence->event_index) << "stopped there";
  (void)original;
}

TEST(Divergence, TwoRegisterWritesInAnotherOrderAreCaught) {
  auto lines = split_lines(record("legacy", "bringup"));
  // Status ACKNOWLEDGE then DRIVER: the trace says the other order.
  const size_t a = find_line(lines, {R"("ev":"reg_write")", R"("off":18,"w":1,"val":1})"});
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(lines[a + 1].find(R"("off":18,"w":1,"val":3})"), std::string::npos) << lines[a + 1];
  std::swap(lines[a], lines[a + 1]);
  Trace t;
  ReplayResult r = replay_text(join_lines(lines), &t);
  ASSERT_TRUE(r.divergence.has_value());
  EXPECT_EQ(t.event_line[r.divergence->event_index], a + 1);
  TraceOutcome o = replay_loaded(t, 3);
  const std::string report = format_outcome(o);
  EXPECT_NE(report.find("first divergence at event " + std::to_string(a) + " (line " +
                        std::to_string(a + 1) + ")"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("expected: " + lines[a]), std::string::npos) << report;
  EXPECT_EQ(o.before.size(), 3u);
  EXPECT_EQ(o.before.back().line, a);
}

TEST(Divergence, DifferentTransmittedBytesAreCaught) {
  auto lines = split_lines(record("modern", "traffic"));
  const size_t i = find_line(lines, {R"("ev":"publish","q":1)"});
  ASSERT_NE(i, std::string::npos);
  // Change the last byte of the frame the driver published.
  const size_t end = lines[i].rfind("\"}");
  ASSERT_NE(end, std::string::npos);
  lines[i][end - 1] = lines[i][end - 1] == '0' ? '1' : '0';
  Trace t;
  ReplayResult r = replay_text(join_lines(lines), &t);
  ASSERT_TRUE(r.divergence.has_value());
  EXPECT_EQ(t.event_line[r.divergence->event_index], i + 1);
  EXPECT_EQ(r.divergence->reason, "publish: the bytes the driver published differ");
}

TEST(Divergence, DriverDoingLessThanTheTraceIsCaught) {
  auto lines = split_lines(record("modern", "bringup"));
  // An extra barrier the driver never makes, just before a ret.
  const size_t i = find_line(lines, {R"("ev":"ret","fn":"attach")"});
  ASSERT_NE(i, std::string::npos);
  lines.insert(lines.begin() + static_cast<ptrdiff_t>(i), R"({"ev":"barrier","kind":"full"})");
  // Keep the end count right so that the trace loads.
  auto& end = lines.back();
  const size_t n = std::stoul(end.substr(end.find(":", 6) + 1));
  end = R"({"ev":"end","events":)" + std::to_string(n + 1) + "}";
  Trace t;
  ReplayResult r = replay_text(join_lines(lines), &t);
  ASSERT_TRUE(r.divergence.has_value());
  EXPECT_EQ(t.event_line[r.divergence->event_index], i + 1);
  EXPECT_NE(r.divergence->reason.find("returned from attach where the trace expects barrier"),
            std::string::npos)
      << r.divergence->reason;
}

TEST(Divergence, DifferentReturnValueIsCaught) {
  auto lines = split_lines(record("legacy", "traffic"));
  const size_t i = find_line(lines, {R"("ev":"ret","fn":"rx_burst","val":7)"});
  ASSERT_NE(i, std::string::npos);
  lines[i].replace(lines[i].find(R"("val":7)"), 7, R"("val":6)");
  Trace t;
  ReplayResult r = replay_text(join_lines(lines), &t);
  ASSERT_TRUE(r.divergence.has_value());
  EXPECT_EQ(t.event_line[r.divergence->event_index], i + 1);
  EXPECT_EQ(r.divergence->reason, "ret: return value differs");
}

TEST(Divergence, CommandLineExitsOneAndNamesTheEvent) {
  auto lines = split_lines(record("modern", "traffic"));
  const size_t i = find_line(lines, {R"("ev":"reg_write")", R"("w":1,"val":15})"});
  ASSERT_NE(i, std::string::npos);
  lines[i].replace(lines[i].find(R"("val":15)"), 8, R"("val":11)");
  testing::TempFile f(join_lines(lines));
  testing::TempFile report("", ".json");
  auto run = testing::run_replay_cli(f.path() + " --report " + report.path());
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("DIVERGED"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("event " + std::to_string(i) + " (line " + std::to_string(i + 1) + ")"),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("expected: " + lines[i]), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("events before it:"), std::string::npos) << run.output;
  std::ifstream in(report.path());
  auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["summary"]["diverged"], 1);
  EXPECT_EQ(j["traces"][0]["divergence"]["line"], i + 1);
}

TEST(Divergence, CommandLinePassesTheRecordedTraceAndWritesJUnit) {
  testing::TempFile f(record("transitional", "link_flap"));
  testing::TempFile junit("", ".xml");
  auto run = testing::run_replay_cli("--summary " + f.path() + " --junit " + junit.path());
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("PASS"), std::string::npos) << run.output;
  std::ifstream in(junit.path());
  std::stringstream xml;
  xml << in.rdbuf();
  EXPECT_NE(xml.str().find(R"(tests="1" failures="0" errors="0")"), std::string::npos) << xml.str();
}

}  // namespace
}  // namespace vnet::replay
