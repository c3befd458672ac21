// Record in the mock world, replay against the same driver: every scenario
// on every transport replays to the end, and the trace names no address.
#include <gtest/gtest.h>

#include "mock_device/guest_memory.h"
#include "replay/replayer.h"
#include "tests/replay/replay_test_util.h"

namespace vnet::replay {
namespace {

using testing::record;

struct Case {
  std::string kind;
  std::string scenario;
};

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (const auto& s : mock_scenarios())
    for (const auto& k : kMockKinds)
      if (scenario_applies(s, k)) cases.push_back({k.name, s.name});
  return cases;
}

class RoundTrip : public ::testing::TestWithParam<Case> {};

TEST_P(RoundTrip, ReplaysToTheEnd) {
  const std::string text = record(GetParam().kind, GetParam().scenario);
  Trace t = load_trace(text, GetParam().kind + "-" + GetParam().scenario);
  ReplayResult r = replay(t);
  ASSERT_TRUE(r.passed) << (r.divergence
                                ? r.divergence->reason + "\n  expected: " + r.divergence->expected +
                                      "\n  actual:   " + r.divergence->actual
                                : "no divergence");
  EXPECT_EQ(r.events_consumed, t.events.size()) << "every event, including end";
  EXPECT_EQ(r.benign_calls, 0u);
  EXPECT_GT(r.api_calls, 2u);
}

TEST_P(RoundTrip, RecordingIsDeterministic) {
  EXPECT_EQ(record(GetParam().kind, GetParam().scenario),
            record(GetParam().kind, GetParam().scenario));
}

TEST_P(RoundTrip, NoRegisterWriteCarriesAnAddress) {
  Trace t = load_trace(record(GetParam().kind, GetParam().scenario), "t");
  const uint64_t lo = mock::GuestMemory::kDefaultBase;
  const uint64_t hi = lo + mock::GuestMemory::kDefaultSize;
  size_t named = 0;
  for (size_t i = 0; i < t.events.size(); ++i) {
    const Event& e = t.events[i];
    if (e.kind != EventKind::kRegWrite) continue;
    if (e.addr) {
      ++named;
      continue;
    }
    EXPECT_FALSE(e.u64 >= lo && e.u64 < hi)
        << "line " << t.event_line[i] << ": " << t.line(t.event_line[i]);
    EXPECT_FALSE((e.u64 << 12) >= lo && (e.u64 << 12) < hi && e.u64 != 0)
        << "a page frame number: line " << t.event_line[i];
  }
  const bool attached = t.text.find(R"("fn":"attach","val":0,)") != std::string::npos;
  if (attached) EXPECT_GE(named, 2u) << "ring addresses are named by DMA region";
}

// Compact recordings (format version 2): the recorder writes repeated
// identical register accesses once with a count; the trace replays to the
// end, and expanded it is the plain recording, line for line.
std::string expand(const std::string& compact) {
  std::string out;
  size_t lines = 0;
  for (const std::string& l : testing::split_lines(compact)) {
    ++lines;
    if (lines == 1) {
      std::string h = l;
      h.replace(h.find("\"version\":2"), 11, "\"version\":1");
      out += h + "\n";
      continue;
    }
    const size_t at = l.find(",\"rep\":");
    if (at == std::string::npos || l.rfind("{\"ev\":\"end\"", 0) == 0) {
      out += l + "\n";
      continue;
    }
    const std::string plain = l.substr(0, at) + "}";
    const unsigned long n = std::stoul(l.substr(at + 7));
    for (unsigned long k = 0; k < n; ++k) out += plain + "\n";
  }
  return out;
}

TEST_P(RoundTrip, CompactRecordingReplaysAndExpandsToThePlainOne) {
  const MockScenario* sc = nullptr;
  for (const auto& s : mock_scenarios())
    if (GetParam().scenario == s.name) sc = &s;
  ASSERT_NE(sc, nullptr);
  const std::string compact =
      record_scenario(*sc, testing::kind(GetParam().kind), "test", /*compact=*/true);
  const std::string plain = record(GetParam().kind, GetParam().scenario);
  ASSERT_EQ(compact.rfind("{\"format\":\"vnetkit-trace\",\"version\":2,", 0), 0u);
  Trace t = load_trace(compact, "compact");
  const Trace p = load_trace(plain, "plain");
  EXPECT_EQ(t.logical_events, p.logical_events);
  EXPECT_LE(t.events.size(), p.events.size());
  ReplayResult r = replay(t);
  ASSERT_TRUE(r.passed) << (r.divergence
                                ? r.divergence->reason + "\n  expected: " + r.divergence->expected
                                : "no divergence");
  EXPECT_EQ(r.events_consumed, t.events.size());
  // Expanded, it is the plain recording but for the end line's count.
  std::string expanded = expand(compact);
  const size_t end_at = expanded.rfind("{\"ev\":\"end\"");
  const size_t plain_end = plain.rfind("{\"ev\":\"end\"");
  EXPECT_EQ(expanded.substr(0, end_at), plain.substr(0, plain_end));
}

TEST(RoundTripCompact, SomeRecordingsDoRepeat) {
  size_t with_repeats = 0, lines_plain = 0, lines_compact = 0;
  for (const auto& s : mock_scenarios())
    for (const auto& k : kMockKinds) {
      if (!scenario_applies(s, k)) continue;
      const std::string c = record_scenario(s, k, "test", true);
      with_repeats += c.find(",\"rep\":") != std::string::npos;
      lines_compact += testing::split_lines(c).size();
      lines_plain += testing::split_lines(record_scenario(s, k, "test")).size();
    }
  EXPECT_GT(with_repeats, 0u);
  EXPECT_LT(lines_compact, lines_plain);
  std::printf("compact recordings: %zu with repeats, %zu lines instead of %zu\n", with_repeats,
              lines_compact, lines_plain);
}

INSTANTIATE_TEST_SUITE_P(Mock, RoundTrip, ::testing::ValuesIn(all_cases()), [](const auto& info) {
  return info.param.kind + "_" + info.param.scenario;
});

TEST(RoundTripHeader, SaysWhatWasRecorded) {
  Trace t = load_trace(record("modern", "traffic"), "t");
  EXPECT_EQ(t.header.transport, "pci-modern");
  EXPECT_EQ(t.header.scenario, "modern/traffic");
  EXPECT_TRUE(t.header.has_features);
  EXPECT_NE(t.header.negotiated & (uint64_t{1} << 32), 0u) << "VERSION_1";
  EXPECT_EQ(t.header.json["device"]["vendor"], 0x1AF4);
  EXPECT_EQ(t.header.json["queue_sizes"].size(), 2u);
  Trace legacy = load_trace(record("transitional_as_legacy", "traffic"), "t");
  EXPECT_EQ(legacy.header.transport, "pci-legacy");
  EXPECT_EQ(legacy.header.json["device"]["kind"], "transitional");
}

}  // namespace
}  // namespace vnet::replay
