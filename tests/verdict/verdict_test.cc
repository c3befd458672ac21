// grade(): every rule of verdict/verdict.h and their precedence, the
// observation's bookkeeping (trouble, resumed traffic, the state before the
// final stop), the probe refusals, and the names.
#include "verdict/verdict.h"

#include <gtest/gtest.h>

#include <string>

namespace vnet::verdict {
namespace {

uint64_t* counter(NetCounters& c, const std::string& name) {
#define VNET_COUNTER_BY_NAME(n) \
  if (name == #n) return &c.n;
  VNET_NET_COUNTERS(VNET_COUNTER_BY_NAME)
#undef VNET_COUNTER_BY_NAME
  ADD_FAILURE() << "no counter " << name;
  static uint64_t dummy;
  return &dummy;
}

// A driver that attached (running), then did what `after` says.
Observation running_then(const NetCounters& after, NetState end = NetState::kRunning) {
  Observation o;
  o.observe(NetCounters{}, NetState::kRunning);
  o.observe(after, end);
  o.finish(after, false);
  return o;
}

TEST(Grade, NothingHappenedIsPass) {
  Observation o;
  o.observe(NetCounters{}, NetState::kRunning);
  o.finish(NetCounters{}, false);
  const Graded g = grade(o);
  EXPECT_EQ(g.verdict, Verdict::kPass);
  EXPECT_EQ(g.severity, Severity::kNone);
  EXPECT_EQ(g.name(), "pass");
}

TEST(Grade, EveryRejectCounterIsSafeReject) {
  int n = 0;
  for (const char* const* name = kRejectCounters; *name != nullptr; ++name, ++n) {
    NetCounters c;
    *counter(c, *name) = 2;
    Observation o;
    o.observe(NetCounters{}, NetState::kDown);  // never running: no trouble, no wedge
    o.observe(c, NetState::kDown);
    o.finish(c, false);
    const Graded g = grade(o);
    EXPECT_EQ(g.name(), "safe-reject") << *name;
    EXPECT_EQ(g.severity, Severity::kLow) << *name;
    EXPECT_NE(g.reason.find(std::string(*name) + " +2"), std::string::npos) << g.reason;
  }
  EXPECT_EQ(n, 27);  // + IN_ORDER batch lies, scatter-gather drops (issue 14)
}

TEST(Grade, MsixTurnedDownForWhatTheDeviceSaidIsARefusal) {
  InterruptSetup s;
  s.mode = InterruptMode::kIntx;
  for (MsixFallback f :
       {MsixFallback::kNone, MsixFallback::kNoPlatformVectors, MsixFallback::kNoCapability}) {
    s.msix_fallback = f;
    Observation o;
    o.observe_interrupts(s);
    EXPECT_FALSE(o.refused) << msix_fallback_name(f);
  }
  for (MsixFallback f : {MsixFallback::kBadTable, MsixFallback::kBadPba,
                         MsixFallback::kLegacyWindow, MsixFallback::kEnableRefused,
                         MsixFallback::kConfigVectorRefused, MsixFallback::kConfigVectorWrong,
                         MsixFallback::kQueueVectorRefused, MsixFallback::kQueueVectorWrong}) {
    s.msix_fallback = f;
    Observation o;
    o.observe_interrupts(s);
    EXPECT_TRUE(o.refused) << msix_fallback_name(f);
    EXPECT_NE(o.refused_what.find(msix_fallback_name(f)), std::string::npos) << o.refused_what;
    o.observe(NetCounters{}, NetState::kRunning);
    o.finish(NetCounters{}, false);
    EXPECT_EQ(grade(o).name(), "safe-reject");
  }
}

TEST(Grade, RejectCountedBeforeTheRunIsNotThisRunsReject) {
  Observation o;
  *counter(o.before, "rx_drop_len_over") = 5;
  o.observe(o.before, NetState::kRunning);
  o.finish(o.before, false);
  EXPECT_EQ(grade(o).name(), "pass");
  NetCounters more = o.before;
  more.rx_drop_len_over = 6;
  o.observe(more, NetState::kRunning);
  o.finish(more, false);
  EXPECT_EQ(grade(o).reason, "rx_drop_len_over +1");
}

TEST(Grade, BackPressureAndLegalValuesGradeNothing) {
  for (const char* name : {"rx_refill_pool_empty", "tx_ring_full", "tx_map_failed",
                           "queue_size_capped", "config_changes", "link_changes", "rx_packets",
                           "tx_packets", "tx_completed", "interrupts"}) {
    NetCounters c;
    *counter(c, name) = 3;
    EXPECT_EQ(grade(running_then(c)).name(), "pass") << name;
  }
}

TEST(Grade, RefusalIsSafeReject) {
  Observation o;
  o.refuse("attach: queue size 0 (queue unavailable)");
  o.observe(NetCounters{}, NetState::kFailed);
  o.finish(NetCounters{}, false);
  const Graded g = grade(o);
  EXPECT_EQ(g.name(), "safe-reject");
  EXPECT_EQ(g.reason, "refused: attach: queue size 0 (queue unavailable)");
}

TEST(Grade, EveryTroubleCounterThenTrafficIsRecoveredLow) {
  for (const char* const* name = kTroubleCounters; *name != nullptr; ++name) {
    Observation o;
    o.observe(NetCounters{}, NetState::kRunning);
    NetCounters c;
    *counter(c, *name) = 1;
    o.observe(c, NetState::kRunning);
    c.rx_packets = 4;
    o.observe(c, NetState::kRunning);
    o.finish(c, false);
    const Graded g = grade(o);
    EXPECT_EQ(g.name(), "recovered") << *name;
    EXPECT_EQ(g.severity, Severity::kLow) << *name;
    EXPECT_NE(g.reason.find(*name), std::string::npos) << g.reason;
    EXPECT_NE(g.reason.find("traffic resumed"), std::string::npos) << g.reason;
  }
}

TEST(Grade, RecoveredWithoutTrafficAfterItIsMedium) {
  NetCounters c;
  c.rx_packets = 10;  // traffic before the trouble does not count
  Observation o;
  o.observe(NetCounters{}, NetState::kRunning);
  o.observe(c, NetState::kRunning);
  c.recoveries = 1;
  o.observe(c, NetState::kRunning);
  o.finish(c, false);
  const Graded g = grade(o);
  EXPECT_EQ(g.name(), "recovered");
  EXPECT_EQ(g.severity, Severity::kMedium);
  EXPECT_NE(g.reason.find("no traffic seen after it"), std::string::npos) << g.reason;
}

TEST(Grade, TrafficInTheSameStepAsTheTroubleIsNotResumed) {
  NetCounters c;
  c.queue_broken_used_id = 1;
  c.recoveries = 1;
  c.rx_packets = 3;
  Observation o = running_then(c);
  EXPECT_TRUE(o.troubled);
  EXPECT_FALSE(o.resumed);
  EXPECT_EQ(grade(o).severity, Severity::kMedium);
}

TEST(Grade, SecondTroubleAfterTrafficNeedsTrafficAgain) {
  Observation o;
  NetCounters c;
  o.observe(c, NetState::kRunning);
  c.device_needs_reset = 1;
  o.observe(c, NetState::kRunning);
  c.tx_completed = 2;
  o.observe(c, NetState::kRunning);
  EXPECT_TRUE(o.resumed);
  c.tx_watchdog_timeouts = 1;
  o.observe(c, NetState::kRunning);
  EXPECT_FALSE(o.resumed);
  o.finish(c, false);
  EXPECT_EQ(grade(o).severity, Severity::kMedium);
  EXPECT_NE(grade(o).reason.find("device_needs_reset, tx_watchdog_timeouts"), std::string::npos)
      << grade(o).reason;
}

TEST(Grade, TroubleBeforeTheDriverEverRanIsARefusalNotARecovery) {
  // A reset timeout inside a refused attach.
  NetCounters c;
  c.reset_timeouts = 1;
  Observation o;
  o.refuse("attach: device did not complete reset");
  o.observe(c, NetState::kFailed);
  o.finish(c, false);
  EXPECT_FALSE(o.troubled);
  EXPECT_EQ(grade(o).name(), "safe-reject");
}

TEST(Grade, EndingBrokenOrFailedAfterRunningIsWedged) {
  for (NetState s : {NetState::kBroken, NetState::kFailed}) {
    NetCounters c;
    c.queue_broken_used_idx = 1;
    const Graded g = grade(running_then(c, s));
    EXPECT_EQ(g.name(), "wedged") << net_state_name(s);
    EXPECT_EQ(g.severity, Severity::kHigh);
    EXPECT_NE(g.reason.find(std::string("ended ") + net_state_name(s)), std::string::npos)
        << g.reason;
  }
  // Failed without ever running: a refused attach, not a wedge.
  Observation o;
  o.refuse("attach: x");
  o.observe(NetCounters{}, NetState::kFailed);
  o.finish(NetCounters{}, false);
  EXPECT_EQ(grade(o).name(), "safe-reject");
}

TEST(Grade, TheHarnessesFinalStopDoesNotHideAWedge) {
  // end_state is the state of the last observe(); finish() (after the
  // harness's stop) does not change it.
  Observation o;
  o.observe(NetCounters{}, NetState::kRunning);
  o.observe(NetCounters{}, NetState::kBroken);
  o.finish(NetCounters{}, false);
  EXPECT_EQ(o.end_state, NetState::kBroken);
  EXPECT_EQ(grade(o).name(), "wedged");
}

TEST(Grade, QuarantinedAtTheEndIsWedged) {
  NetCounters c;
  c.reset_timeouts = 1;
  Observation o;
  o.observe(NetCounters{}, NetState::kRunning);
  o.observe(c, NetState::kRunning);
  o.finish(c, true);
  const Graded g = grade(o);
  EXPECT_EQ(g.name(), "wedged");
  EXPECT_NE(g.reason.find("quarantined"), std::string::npos) << g.reason;
  // Quarantine is a wedge even if the driver never ran.
  Observation never;
  never.refuse("attach: x");
  never.finish(c, true);
  EXPECT_EQ(grade(never).name(), "wedged");
}

TEST(Grade, ABudgetThatRanOutIsWedged) {
  Observation o = running_then(NetCounters{});
  o.budget_exhausted = true;
  o.budget_what = "pump never idle";
  EXPECT_EQ(grade(o).name(), "wedged");
  EXPECT_EQ(grade(o).reason, "work budget ran out: pump never idle");
}

TEST(Grade, FindingsAreCritical) {
  Observation o = running_then(NetCounters{});
  o.oracle = "ownership";
  o.oracle_what = "descriptor 3 published twice";
  Graded g = grade(o);
  EXPECT_EQ(g.verdict, Verdict::kOracle);
  EXPECT_EQ(g.name(), "oracle:ownership");
  EXPECT_EQ(g.severity, Severity::kCritical);
  EXPECT_EQ(g.reason, "descriptor 3 published twice");
  o.memory_error = true;
  o.memory_error_what = "heap-buffer-overflow";
  g = grade(o);
  EXPECT_EQ(g.name(), "memory-error");
  EXPECT_EQ(g.severity, Severity::kCritical);
}

// finding > wedged > recovered > safe-reject > pass, peeled one at a time.
TEST(Grade, Precedence) {
  NetCounters c;
  c.rx_drop_len_over = 1;  // safe-reject
  c.recoveries = 1;        // recovered
  Observation o;
  o.observe(NetCounters{}, NetState::kRunning);
  o.observe(c, NetState::kRunning);
  o.finish(c, true);  // wedged (quarantined)
  o.refuse("attach: x");
  o.oracle = "window";
  o.memory_error = true;
  EXPECT_EQ(grade(o).name(), "memory-error");
  o.memory_error = false;
  EXPECT_EQ(grade(o).name(), "oracle:window");
  o.oracle.clear();
  EXPECT_EQ(grade(o).name(), "wedged");
  o.quarantined = false;
  EXPECT_EQ(grade(o).name(), "recovered");
  o.troubled = false;
  EXPECT_EQ(grade(o).name(), "safe-reject");
  o.refused = false;
  o.after.rx_drop_len_over = 0;
  EXPECT_EQ(grade(o).name(), "pass");
}

TEST(Names, VerdictsAndSeverities) {
  EXPECT_STREQ(verdict_kind_name(Verdict::kSafeReject), "safe-reject");
  EXPECT_STREQ(verdict_kind_name(Verdict::kMemoryError), "memory-error");
  EXPECT_STREQ(severity_name(Severity::kMedium), "medium");
  EXPECT_EQ(default_severity(Verdict::kPass), Severity::kNone);
  EXPECT_EQ(default_severity(Verdict::kWedged), Severity::kHigh);
  EXPECT_EQ(default_severity(Verdict::kOracle), Severity::kCritical);
  for (const char* name : {"pass", "safe-reject", "recovered", "wedged", "memory-error"}) {
    Verdict v;
    std::string oracle = "stale";
    ASSERT_TRUE(parse_verdict(name, &v, &oracle)) << name;
    EXPECT_STREQ(verdict_kind_name(v), name);
    EXPECT_TRUE(oracle.empty());
  }
  Verdict v;
  std::string oracle;
  ASSERT_TRUE(parse_verdict("oracle:frame-bounds", &v, &oracle));
  EXPECT_EQ(v, Verdict::kOracle);
  EXPECT_EQ(oracle, "frame-bounds");
  for (const char* bad : {"", "oracle", "oracle:", "oracle:a b", "Pass", "safe_reject", "fail"})
    EXPECT_FALSE(parse_verdict(bad, &v, &oracle)) << bad;
}

TEST(Names, OracleNamesFromTheFuzzHarness) {
  EXPECT_EQ(oracle_short_name("ownership (b)"), "ownership");
  EXPECT_EQ(oracle_short_name("frame-bounds (a)"), "frame-bounds");
  EXPECT_EQ(oracle_short_name("work budget"), "work-budget");
  EXPECT_EQ(oracle_of_finding_line(
                "vnet-fuzz: FINDING double-fetch (c): used.idx of queue 0 fetched twice"),
            "double-fetch");
  EXPECT_EQ(oracle_of_finding_line("vnet-fuzz: FINDING decision (h): rx: x"), "decision");
  EXPECT_EQ(oracle_of_finding_line("driver: queue 0 broken"), "");
  EXPECT_EQ(oracle_of_finding_line(kCrashLine), "");
  EXPECT_EQ(oracle_of_finding_line("vnet-fuzz: FINDING no colon"), "");
}

TEST(Names, DescribeAndJUnitProperties) {
  Graded g;
  g.verdict = Verdict::kSafeReject;
  g.severity = Severity::kLow;
  g.reason = "refused: <\"a\" & b>";
  EXPECT_EQ(describe(g), "safe-reject (severity low): refused: <\"a\" & b>");
  const std::string p = junit_properties(g, "  ");
  EXPECT_NE(p.find(R"(  <property name="verdict" value="safe-reject"/>)"), std::string::npos) << p;
  EXPECT_NE(p.find(R"(<property name="severity" value="low"/>)"), std::string::npos) << p;
  EXPECT_NE(p.find("value=\"refused: &lt;&quot;a&quot; &amp; b&gt;\""), std::string::npos) << p;
}

TEST(Probe, RefusalsOfTheModernInterface) {
  ProbeResult p;
  p.error = ProbeError::kOk;
  // A legacy device without virtio capabilities: nothing refused.
  p.modern_error = ModernProbeError::kNoCommonCfg;
  p.modern_report.caps_seen = 0;
  Observation plain;
  plain.observe_probe(p);
  EXPECT_FALSE(plain.refused);
  // Virtio capabilities present, the modern interface turned down anyway.
  p.modern_report.caps_seen = 3;
  Observation fell_back;
  fell_back.observe_probe(p);
  EXPECT_TRUE(fell_back.refused);
  EXPECT_NE(fell_back.refused_what.find("modern interface"), std::string::npos)
      << fell_back.refused_what;
  // A capability rejected, though the modern interface works.
  p.modern_error = ModernProbeError::kOk;
  p.modern_report.caps_rejected = 1;
  Observation rejected;
  rejected.observe_probe(p);
  EXPECT_TRUE(rejected.refused);
  EXPECT_NE(rejected.refused_what.find("1 capabilities rejected"), std::string::npos)
      << rejected.refused_what;
  // The probe failed.
  ProbeResult none;
  none.error = ProbeError::kNotVirtio;
  Observation failed;
  failed.observe_probe(none);
  EXPECT_TRUE(failed.refused);
  EXPECT_EQ(failed.refused_what, "probe: not a virtio device");
  Observation attach;
  attach.observe_attach(AttachError::kOk);
  EXPECT_FALSE(attach.refused);
  attach.observe_attach(AttachError::kQueueUnavailable);
  EXPECT_TRUE(attach.refused);
}

}  // namespace
}  // namespace vnet::verdict
