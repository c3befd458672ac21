// vnet-replay on unreadable traces: exit 2 with the file, the line and
// what is wrong; never a crash. Also: a mix of good and bad traces.
#include <gtest/gtest.h>

#include "tests/replay/replay_test_util.h"

namespace vnet::replay {
namespace {

using testing::join_lines;
using testing::record;
using testing::run_replay_cli;
using testing::split_lines;
using testing::TempFile;

void expect_unreadable(const std::string& text, size_t line, const std::string& what) {
  TempFile f(text);
  auto run = run_replay_cli(f.path());
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("UNREADABLE " + f.path() + ": line " + std::to_string(line) + ": "),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find(what), std::string::npos) << run.output;
}

TEST(MalformedTrace, TruncatedLine) {
  const std::string text = record("modern", "bringup");
  auto lines = split_lines(text);
  // Cut in the middle of line 20: what a crashed recorder leaves.
  std::string cut;
  for (size_t i = 0; i < 19; ++i) cut += lines[i] + "\n";
  cut += lines[19].substr(0, lines[19].size() / 2);
  expect_unreadable(cut, 20, "truncated line");
}

TEST(MalformedTrace, TruncatedAtALineBoundary) {
  auto lines = split_lines(record("modern", "bringup"));
  lines.resize(40);
  expect_unreadable(join_lines(lines), 40, "without an \"end\" event");
}

TEST(MalformedTrace, WrongTypes) {
  auto lines = split_lines(record("legacy", "bringup"));
  const size_t i = testing::find_line(lines, {R"("ev":"reg_read")", R"("off":2,)"});
  ASSERT_NE(i, std::string::npos);
  lines[i].replace(lines[i].find(R"("off":2,)"), 8, R"("off":"2",)");
  expect_unreadable(join_lines(lines), i + 1,
                    "reg_read: field \"off\" must be an unsigned integer, got string");
}

TEST(MalformedTrace, UnknownEvent) {
  auto lines = split_lines(record("legacy", "bringup"));
  lines[5].replace(lines[5].find(R"("ev":")"), 6, R"("ev":"x_)");
  expect_unreadable(join_lines(lines), 6, "unknown event \"x_");
}

TEST(MalformedTrace, NumberBeyondDouble) {
  // Found by fuzz_trace: nlohmann throws out_of_range even when asked not
  // to throw; the loader must turn it into an ordinary "unreadable".
  expect_unreadable("{\"format\":\"vnetkit-trace\",\"version\":1e999}\n", 1, "invalid JSON");
  auto lines = split_lines(record("legacy", "bringup"));
  lines[3] = R"({"ev":"reg_read","region":"pci_config","off":1e999,"w":2,"val":0})";
  expect_unreadable(join_lines(lines), 4, "invalid JSON");
}

TEST(MalformedTrace, MissingHeader) {
  auto lines = split_lines(record("legacy", "bringup"));
  lines.erase(lines.begin());
  expect_unreadable(join_lines(lines), 1, "missing header");
}

TEST(MalformedTrace, MissingFileAndBinaryJunk) {
  auto run = run_replay_cli("no-such-trace.jsonl");
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("UNREADABLE no-such-trace.jsonl: cannot open the file"),
            std::string::npos)
      << run.output;
  std::string junk;
  for (int i = 0; i < 5000; ++i) junk += static_cast<char>((i * 7919) & 0xFF);
  expect_unreadable(junk, 1, "JSON");
}

TEST(MalformedTrace, UnreadableWinsOverDivergedAndPassed) {
  TempFile good(record("modern", "bringup"));
  auto lines = split_lines(record("modern", "bringup"));
  const size_t i = testing::find_line(lines, {R"("ev":"barrier","kind":"write")"});
  ASSERT_NE(i, std::string::npos);
  lines[i] = R"({"ev":"barrier","kind":"read"})";
  TempFile diverged(join_lines(lines));
  TempFile bad("{\"format\":\"vnetkit-trace\"\n");
  auto run = run_replay_cli("--summary " + good.path() + " " + diverged.path() + " " + bad.path());
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("3 traces: 1 passed, 1 diverged, 1 unreadable"), std::string::npos)
      << run.output;
  auto without_bad = run_replay_cli(good.path() + " " + diverged.path());
  EXPECT_EQ(without_bad.exit_code, 1) << without_bad.output;
}

}  // namespace
}  // namespace vnet::replay
