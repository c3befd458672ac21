// Interrupts in traces (issue 12): handle_interrupt and set_tx_interrupts
// as API calls, msi_messages / line_interrupt / arm_interrupts as platform
// events, the attach option "interrupts". Recorded in the mock world (MSI-X
// delivered at once, inside other calls; INTx delivered between calls),
// replayed, and edited to prove each part is checked; malformed lines are
// refused with the line and the reason.
#include <gtest/gtest.h>

#include "replay/replayer.h"
#include "tests/replay/replay_test_util.h"

namespace vnet::replay {
namespace {

using testing::find_line;
using testing::join_lines;
using testing::record;
using testing::replay_text;
using testing::run_replay_cli;
using testing::split_lines;
using testing::TempFile;

size_t count_lines(const std::vector<std::string>& lines, const std::string& needle) {
  size_t n = 0;
  for (const auto& l : lines) n += l.find(needle) != std::string::npos;
  return n;
}

// The end line's count after inserting or removing lines.
void fix_end(std::vector<std::string>& lines) {
  lines.back() = R"({"ev":"end","events":)" + std::to_string(lines.size() - 2) + "}";
}

struct Case {
  const char* kind;
  const char* scenario;
};

class InterruptRecording : public ::testing::TestWithParam<Case> {};

TEST_P(InterruptRecording, ReplaysAndHoldsEveryInterrupt) {
  const Case c = GetParam();
  const std::string text = record(c.kind, c.scenario);
  const auto lines = split_lines(text);
  const bool msix = std::string(c.scenario) == "irq_msix";
  EXPECT_NE(find_line(lines, {R"("fn":"attach")", R"("interrupts":"msix")"}), std::string::npos);
  // Without an MSI-X capability the transport never asks for messages.
  EXPECT_EQ(find_line(lines, {R"("ev":"msi_messages")"}) != std::string::npos, msix);
  EXPECT_NE(find_line(lines, {R"("ev":"arm_interrupts","mode":")", msix ? "msix" : "intx"}),
            std::string::npos);
  EXPECT_NE(find_line(lines, {R"("ev":"arm_interrupts","mode":"poll")"}), std::string::npos)
      << "stop() masks everything";
  if (!msix)
    EXPECT_NE(find_line(lines, {R"("ev":"line_interrupt","ret":true)"}), std::string::npos);
  // rx, tx (three rounds each), two config changes, the spurious one, the
  // traffic after it: each a call with its ret.
  const size_t calls = count_lines(lines, R"("ev":"call","fn":"handle_interrupt")");
  EXPECT_GE(calls, 9u);
  EXPECT_EQ(count_lines(lines, R"("ev":"ret","fn":"handle_interrupt")"), calls);
  EXPECT_GE(count_lines(lines, R"("fn":"set_tx_interrupts")"), 6u);
  EXPECT_NE(find_line(lines, {R"("fn":"handle_interrupt")", R"("control":true)"}),
            std::string::npos);
  EXPECT_NE(find_line(lines, {R"("fn":"handle_interrupt")",
                              msix ? R"("src":"vector")" : R"("src":"line")"}),
            std::string::npos);
  if (msix) {
    // Taken inside tx_burst, at the notify that raised it.
    const size_t burst = find_line(lines, {R"("ev":"call","fn":"tx_burst")"});
    const size_t begin = find_line(lines, {R"("ev":"op_begin","op":"tx_burst")"}, burst);
    const size_t irq = find_line(lines, {R"("call","fn":"handle_interrupt")"}, begin);
    const size_t end = find_line(lines, {R"("ev":"op_end","op":"tx_burst")"}, begin);
    ASSERT_NE(begin, std::string::npos);
    EXPECT_LT(irq, end) << "an interrupt nested in tx_burst";
  } else {
    // Another function's pulse of the shared line: ISR 0, nothing to do.
    EXPECT_NE(find_line(lines, {R"("ret","fn":"handle_interrupt","val":0)"}), std::string::npos);
  }
  Trace t;
  const ReplayResult r = replay_text(text, &t);
  EXPECT_TRUE(r.passed) << (r.divergence ? r.divergence->reason + "\n" + r.divergence->expected +
                                               "\n" + r.divergence->actual
                                         : r.error);
  EXPECT_EQ(r.events_consumed, t.events.size());
}

INSTANTIATE_TEST_SUITE_P(Mock, InterruptRecording,
                         ::testing::Values(Case{"legacy", "irq_msix"}, Case{"modern", "irq_msix"},
                                           Case{"transitional", "irq_msix"},
                                           Case{"transitional_as_legacy", "irq_msix"},
                                           Case{"legacy", "irq_intx"}, Case{"modern", "irq_intx"}),
                         [](const auto& info) {
                           return std::string(info.param.kind) + "_" + info.param.scenario;
                         });

TEST(InterruptReplay, ArmedModeIsAnExpectation) {
  auto lines = split_lines(record("modern", "irq_msix"));
  const size_t i = find_line(lines, {R"("ev":"arm_interrupts","mode":"msix","vectors":3)"});
  ASSERT_NE(i, std::string::npos);
  lines[i] = R"({"ev":"arm_interrupts","mode":"msix","vectors":2})";
  Trace t;
  const ReplayResult r = replay_text(join_lines(lines), &t);
  ASSERT_TRUE(r.divergence.has_value());
  EXPECT_EQ(t.event_line[r.divergence->event_index], i + 1);
  EXPECT_EQ(r.divergence->reason, "arm_interrupts: mode or vectors differ");
  EXPECT_EQ(r.divergence->actual, R"({"ev":"arm_interrupts","mode":"msix","vectors":3})");
}

TEST(InterruptReplay, MsiMessagesAreAnsweredFromTheTrace) {
  // The driver copies the platform's messages into the MSI-X table: a
  // message edited in the trace is what the replayed driver writes, and
  // the recorded table write then differs.
  auto lines = split_lines(record("modern", "irq_msix"));
  const size_t i = find_line(lines, {R"("ev":"msi_messages")", R"("data":16449)"});
  ASSERT_NE(i, std::string::npos);
  lines[i].replace(lines[i].find(R"("data":16449)"), 12, R"("data":16500)");
  Trace t;
  const ReplayResult r = replay_text(join_lines(lines), &t);
  ASSERT_TRUE(r.divergence.has_value());
  EXPECT_GT(t.event_line[r.divergence->event_index], i + 1);
  EXPECT_EQ(r.divergence->reason, "reg_write: value differs");
  EXPECT_NE(r.divergence->actual.find(R"("val":16500)"), std::string::npos) << r.divergence->actual;
}

TEST(InterruptReplay, FewerVectorsOfferedMakeTheDriverChooseOtherwise) {
  // A platform that offered no vector: the replayed driver falls to the
  // line and asks line_interrupt(), where the recording wrote MSI-X setup.
  auto lines = split_lines(record("modern", "irq_msix"));
  const size_t i = find_line(lines, {R"("ev":"msi_messages")"});
  ASSERT_NE(i, std::string::npos);
  lines[i] = R"({"ev":"msi_messages","max":3,"msgs":[]})";
  const ReplayResult r = replay_text(join_lines(lines));
  ASSERT_TRUE(r.divergence.has_value());
  EXPECT_FALSE(r.passed);
}

TEST(InterruptReplay, InterruptResultIsChecked) {
  auto lines = split_lines(record("legacy", "irq_intx"));
  // INTx: ISR bit 0 does not say which queue, so rx and tx (val 3).
  const size_t i = find_line(lines, {R"("ret","fn":"handle_interrupt","val":3)"});
  ASSERT_NE(i, std::string::npos);
  lines[i] = R"({"ev":"ret","fn":"handle_interrupt","val":7,"state":"running","rx":true,)"
             R"("tx":true,"control":true})";
  Trace t;
  const ReplayResult r = replay_text(join_lines(lines), &t);
  ASSERT_TRUE(r.divergence.has_value());
  EXPECT_EQ(t.event_line[r.divergence->event_index], i + 1);
  EXPECT_EQ(r.divergence->reason, "ret: return value differs");
}

TEST(InterruptReplay, WhatTheDriverDidInAnInterruptIsChecked) {
  // The interrupt's call line gone, what the driver did in it stays: the
  // replay never delivers it, and the handler's events are left over.
  auto lines = split_lines(record("legacy", "irq_intx"));
  const size_t call = find_line(lines, {R"("call","fn":"handle_interrupt","src":"line")"});
  ASSERT_NE(call, std::string::npos);
  ASSERT_NE(lines[call + 1].find(R"("op_begin","op":"interrupt")"), std::string::npos);
  lines.erase(lines.begin() + static_cast<ptrdiff_t>(call));
  fix_end(lines);
  Trace t;
  const ReplayResult r = replay_text(join_lines(lines), &t);
  ASSERT_TRUE(r.divergence.has_value());
  EXPECT_EQ(t.event_line[r.divergence->event_index], call + 1);
  EXPECT_NE(r.divergence->reason.find("op_begin"), std::string::npos) << r.divergence->reason;
}

TEST(InterruptReplay, AnInterruptTheDriverHandlesDifferentlyIsCaught) {
  // The ISR the device answered in an interrupt: 0 (not ours) where it
  // said 1. The driver then does less in the handler (it counts the
  // interrupt as another function's) and returns no work: caught between
  // the ISR read and the ret.
  auto lines = split_lines(record("legacy", "irq_intx"));
  const size_t call = find_line(lines, {R"("call","fn":"handle_interrupt","src":"line")"});
  const size_t isr = find_line(lines, {R"("ev":"reg_read")", R"("val":1})"}, call);
  const size_t ret = find_line(lines, {R"("ret","fn":"handle_interrupt","val":3)"}, call);
  ASSERT_NE(ret, std::string::npos);
  ASSERT_LT(isr, ret);
  lines[isr].replace(lines[isr].find(R"("val":1})"), 8, R"("val":0})");
  Trace t;
  const ReplayResult r = replay_text(join_lines(lines), &t);
  ASSERT_TRUE(r.divergence.has_value());
  const size_t at = t.event_line[r.divergence->event_index];
  EXPECT_GT(at, isr + 1);
  EXPECT_LE(at, ret + 1);
}

TEST(InterruptReplay, AnInterruptMovedIntoAnotherCallIsDeliveredThere) {
  // A top-level interrupt (INTx, delivered between calls) moved inside the
  // next rx_burst, after its op_begin: the replayer delivers it there, so
  // the driver meets it at that point. The trace's ISR read then comes
  // before the rx_burst's own reads, as it would have on the device.
  auto lines = split_lines(record("modern", "irq_intx"));
  const size_t call = find_line(lines, {R"("call","fn":"handle_interrupt","src":"line")"});
  const size_t ret = find_line(lines, {R"("ret","fn":"handle_interrupt")"}, call);
  ASSERT_NE(ret, std::string::npos);
  ASSERT_NE(lines[ret + 1].find(R"("call","fn":"rx_burst")"), std::string::npos) << lines[ret + 1];
  ASSERT_NE(lines[ret + 2].find(R"("op_begin","op":"rx_burst")"), std::string::npos);
  std::vector<std::string> irq(lines.begin() + static_cast<ptrdiff_t>(call),
                               lines.begin() + static_cast<ptrdiff_t>(ret + 1));
  std::vector<std::string> moved(lines.begin(), lines.begin() + static_cast<ptrdiff_t>(call));
  moved.push_back(lines[ret + 1]);
  moved.push_back(lines[ret + 2]);
  moved.insert(moved.end(), irq.begin(), irq.end());
  moved.insert(moved.end(), lines.begin() + static_cast<ptrdiff_t>(ret + 3), lines.end());
  const ReplayResult r = replay_text(join_lines(moved));
  EXPECT_TRUE(r.passed) << (r.divergence ? r.divergence->reason + "\n" + r.divergence->expected
                                         : r.error);
}

void expect_unreadable(const std::string& text, size_t line, const std::string& what) {
  try {
    (void)load_trace(text, "bad");
    ADD_FAILURE() << "loaded: " << what;
  } catch (const TraceError& e) {
    EXPECT_EQ(e.line(), line) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
  // The fast path declines what the slow path refuses: same error.
  try {
    (void)load_trace(text, "bad", LoadOptions{false, true});
    ADD_FAILURE() << "loaded (slow path): " << what;
  } catch (const TraceError& e) {
    EXPECT_EQ(e.line(), line) << e.what();
  }
}

std::string with_line(const std::string& base, size_t at, const std::string& line) {
  auto lines = split_lines(base);
  lines[at] = line;
  return join_lines(lines);
}

TEST(InterruptTraceLoad, MalformedInterruptLinesAreRefused) {
  const std::string base = record("modern", "irq_msix");
  const auto lines = split_lines(base);
  const size_t msi = find_line(lines, {R"("ev":"msi_messages")"});
  const size_t arm = find_line(lines, {R"("ev":"arm_interrupts")"});
  const size_t call = find_line(lines, {R"("call","fn":"handle_interrupt")"});
  const size_t ret = find_line(lines, {R"("ret","fn":"handle_interrupt")"});
  ASSERT_NE(ret, std::string::npos);
  expect_unreadable(
      with_line(base, msi,
                R"({"ev":"msi_messages","max":1,"msgs":[{"addr":"0xfee00000","data":1},)"
                R"({"addr":"0xfee00000","data":2}]})"),
      msi + 1, "more than the driver asked for");
  expect_unreadable(
      with_line(base, msi,
                R"({"ev":"msi_messages","max":3,"msgs":[{"addr":4276092928,"data":1}]})"),
      msi + 1, "\"addr\"");
  expect_unreadable(
      with_line(base, msi, R"({"ev":"msi_messages","max":3,"msgs":[{"addr":"0x1","data":-1}]})"),
      msi + 1, "\"data\"");
  expect_unreadable(with_line(base, msi, R"({"ev":"msi_messages","max":3,"msgs":{}})"), msi + 1,
                    "\"msgs\" must be an array");
  expect_unreadable(with_line(base, arm, R"({"ev":"arm_interrupts","mode":"msi","vectors":3})"),
                    arm + 1, "field \"mode\" has unknown value \"msi\"");
  expect_unreadable(
      with_line(base, arm, R"({"ev":"arm_interrupts","mode":"msix","vectors":65536})"), arm + 1,
      "\"vectors\"");
  expect_unreadable(with_line(base, call, R"({"ev":"call","fn":"handle_interrupt","src":"pin"})"),
                    call + 1, "field \"src\" has unknown value \"pin\"");
  expect_unreadable(
      with_line(base, call, R"({"ev":"call","fn":"handle_interrupt","src":"vector"})"), call + 1,
      "missing field \"vector\"");
  expect_unreadable(
      with_line(base, ret,
                R"({"ev":"ret","fn":"handle_interrupt","val":1,"state":"running","rx":false,)"
                R"("tx":true,"control":false})"),
      ret + 1, "disagrees with");
  expect_unreadable(
      with_line(base, ret, R"({"ev":"ret","fn":"handle_interrupt","val":1,"state":"running"})"),
      ret + 1, "missing field \"rx\"");
  expect_unreadable(with_line(base, 3, R"({"ev":"line_interrupt","ret":1})"), 4,
                    "field \"ret\" must be true or false");
}

TEST(InterruptTraceLoad, AttachOptionsWithoutInterruptsMeanPolling) {
  // A trace recorded before interrupts existed (or of a polling run): no
  // interrupt options on the attach line.
  const Trace old = load_trace(record("modern", "bringup"), "old");
  bool seen = false;
  for (const CallArgs& c : old.calls) {
    if (c.fn != ApiFn::kAttach) continue;
    seen = true;
    EXPECT_EQ(c.options.interrupts, InterruptMode::kPolling);
    EXPECT_EQ(c.options.irq_storm_limit, NetOptions{}.irq_storm_limit);
  }
  EXPECT_TRUE(seen);
  auto lines = split_lines(record("modern", "irq_intx"));
  const size_t i = find_line(lines, {R"("fn":"attach")"});
  ASSERT_NE(i, std::string::npos);
  lines[i].replace(lines[i].find(R"("interrupts":"msix")"), 19, R"("interrupts":"intx")");
  lines[i].replace(lines[i].find(R"("irq_storm_limit":1000)"), 22, R"("irq_storm_limit":7)");
  const Trace t = load_trace(join_lines(lines), "edited");
  for (const CallArgs& c : t.calls) {
    if (c.fn != ApiFn::kAttach) continue;
    EXPECT_EQ(c.options.interrupts, InterruptMode::kIntx);
    EXPECT_EQ(c.options.irq_storm_limit, 7u);
  }
  lines[i].replace(lines[i].find(R"("interrupts":"intx")"), 19, R"("interrupts":"msi!")");
  expect_unreadable(join_lines(lines), i + 1, "field \"interrupts\" has unknown value");
}

// Fast and slow loading agree on these traces too: TraceLoad.
// FastPathAgreesOnEveryCommittedTrace covers the corpus's irq_* recordings,
// and FastPathMutated mutates one of them.

TEST(InterruptReplay, CommandLinePassesBothRecordings) {
  TempFile msix(record("modern", "irq_msix"));
  TempFile intx(record("legacy", "irq_intx"));
  const auto run = run_replay_cli(msix.path() + " " + intx.path());
  EXPECT_EQ(run.exit_code, 0) << run.output;
}

}  // namespace
}  // namespace vnet::replay
