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
