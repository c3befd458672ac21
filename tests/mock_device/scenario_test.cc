// Scenario loading (errors name the line) and the runner's verdicts, plus
// the vnet-mock command line's exit codes.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "mock_device/scenario/scenario.h"
#include "mock_device/scenario/scenario_runner.h"

namespace vnet::scenario {
namespace {

int error_line(const std::string& text) {
  try {
    parse_scenario(text, "t.json");
  } catch (const ScenarioError& e) {
    EXPECT_EQ(e.file(), "t.json");
    EXPECT_NE(std::string(e.what()).find("t.json:" + std::to_string(e.line()) + ": "),
              std::string::npos)
        << e.what();
    return e.line();
  }
  ADD_FAILURE() << "no error for: " << text;
  return -1;
}

std::string error_text(const std::string& text) {
  try {
    parse_scenario(text, "t.json");
  } catch (const ScenarioError& e) {
    return e.what();
  }
  return "";
}

TEST(ScenarioParse, SyntaxErrorNamesTheLine) {
  EXPECT_EQ(error_line("{\n  \"name\": \"x\",\n  \"steps\": [\n    { \"rx\": { \"size\": 64 } }\n  "
                       "  { \"pump\": 1 }\n  ]\n}\n"),
            5);
  EXPECT_NE(error_text("{\n\"name\": \"x\",,\n}").find("JSON syntax error"), std::string::npos);
}

TEST(ScenarioParse, MeaningErrorsNameTheLineOfTheValue) {
  const std::string bad_feature =
      "{\n"
      "  \"name\": \"x\",\n"
      "  \"device\": {\n"
      "    \"features\": [\"MAC\",\n"
      "                 \"NOT_A_FEATURE\"]\n"
      "  }\n"
      "}\n";
  EXPECT_EQ(error_line(bad_feature), 5);
  EXPECT_NE(error_text(bad_feature).find("unknown feature 'NOT_A_FEATURE'"), std::string::npos);

  const std::string bad_key =
      "{\n  \"name\": \"x\",\n  \"driver\": {\n    \"ecko\": true\n  }\n}\n";
  EXPECT_EQ(error_line(bad_key), 4);
  EXPECT_NE(error_text(bad_key).find("unknown key 'ecko'"), std::string::npos);

  const std::string bad_counter =
      "{\"name\": \"x\",\n \"steps\": [\n  {\"pump\": 1},\n  {\"expect\": {\"counters\":\n"
      "     {\"rx_pakets\": 1}}}]}\n";
  EXPECT_EQ(error_line(bad_counter), 5);
  EXPECT_NE(error_text(bad_counter).find("unknown driver counter 'rx_pakets'"), std::string::npos);

  EXPECT_EQ(error_line("{\"name\": \"x\",\n\"steps\": [{\"link\": \"sideways\"}]}"), 2);
  EXPECT_EQ(error_line("{\"name\": \"x\",\n\"steps\": [\n{\"rx\": {\"hex\": \"abc\"}}]}"), 3);
  EXPECT_EQ(error_line("{\"name\": \"x\",\n\"device\": {\"mac\":\n \"52:54\"}}"), 3);
  EXPECT_EQ(error_line("{\"name\": \"x\",\n\"steps\": [{\"fault\": {\"kind\": \"lie\"}}]}"), 2);
  EXPECT_EQ(error_line("{\n\"steps\": []}"), 1);  // no name
  EXPECT_EQ(
      error_line(
          "{\"name\": \"x\", \"steps\": [\n{\"rx\": {\"size\": 64}, \"tx\": {\"size\": 64}}]}"),
      2);
}

TEST(ScenarioParse, GeneratesFrames) {
  const Scenario s = parse_scenario(
      R"({"name": "g", "steps": [{"rx": [{"size": 64, "count": 3}, {"hex": "01 02:03"}]}]})", "g");
  ASSERT_EQ(s.steps.size(), 1u);
  ASSERT_EQ(s.steps[0].frames.size(), 4u);
  EXPECT_EQ(s.steps[0].frames[0].size(), 64u);
  EXPECT_NE(s.steps[0].frames[0], s.steps[0].frames[1]);  // sequence numbers differ
  EXPECT_EQ(s.steps[0].frames[3], (Frame{1, 2, 3}));
  EXPECT_TRUE(s.end.violations && s.end.violations->empty());  // default: none allowed
}

TEST(ScenarioRun, PassesAndFailsOnExpectations) {
  const char* good = R"({
    "name": "echo", "device": {"transport": "modern"}, "driver": {"echo": true},
    "steps": [{"rx": {"size": 64, "count": 4}}, {"expect_tx": {"size": 64, "count": 4}},
              {"expect": {"rx_frames": 4, "counters": {"rx_packets": 4}}}]})";
  RunResult r = run_scenario(parse_scenario(good, "good"));
  EXPECT_TRUE(r.passed) << (r.failures.empty() ? "" : r.failures[0]);
  EXPECT_EQ(r.frames_out, 4u);

  const char* bad = R"({
    "name": "wrong", "device": {"transport": "legacy", "features": ["MAC"]},
    "steps": [{"rx": {"size": 64, "count": 2}},
              {"expect": {"rx_frames": 3, "driver_state": "broken"}},
              {"expect_tx": {"size": 64}}]})";
  r = run_scenario(parse_scenario(bad, "bad"));
  EXPECT_FALSE(r.passed);
  ASSERT_EQ(r.failures.size(), 3u);
  EXPECT_NE(r.failures[0].find("line 4"), std::string::npos) << r.failures[0];
  EXPECT_NE(r.failures[2].find("line 5"), std::string::npos) << r.failures[2];
}

TEST(ScenarioRun, ExpectedAttachFailure) {
  const char* s = R"({"name": "q", "device": {"transport": "modern", "queue_sizes": [0, 256]},
                      "driver": {"expect_attach": "queue_unavailable"}})";
  RunResult r = run_scenario(parse_scenario(s, "q"));
  EXPECT_TRUE(r.passed) << (r.failures.empty() ? "" : r.failures[0]);
  EXPECT_EQ(r.attach_result, "queue_unavailable");
}

// The command line: exit 2 and file:line for a bad file, 1 for a failing
// scenario, 0 for a passing one.
struct Cli : ::testing::Test {
  int run(const std::string& body, std::string* out) {
    const std::string path = ::testing::TempDir() + "vnet_mock_cli_test.json";
    std::ofstream(path) << body;
    const std::string cmd = std::string(VNET_MOCK_BINARY) + " -q " + path + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    char buf[512];
    while (fgets(buf, sizeof buf, p)) *out += buf;
    const int status = pclose(p);
    *out = path + "|" + *out;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
};

TEST_F(Cli, ExitCodes) {
  std::string out;
  EXPECT_EQ(run("{\"name\": \"ok\", \"device\": {\"transport\": \"modern\"}}", &out), 0) << out;
  out.clear();
  EXPECT_EQ(
      run("{\"name\": \"no\", \"steps\": [{\"expect\": {\"driver_state\": \"failed\"}}]}", &out), 1)
      << out;
  out.clear();
  EXPECT_EQ(run("{\"name\": \"bad\",\n \"device\": {\n  \"mtu\": -5}}", &out), 2) << out;
  EXPECT_NE(out.find("vnet_mock_cli_test.json:3: "), std::string::npos) << out;
  EXPECT_NE(out.find("non-negative"), std::string::npos) << out;
}

}  // namespace
}  // namespace vnet::scenario
