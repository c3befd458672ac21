// Verdicts: the one graded outcome of every run -- a mock scenario, a
// replayed trace, a fuzz finding -- in words a user can act on, with a
// severity. The test result (did the expectations hold?) is reported beside
// it: a scenario that expects the driver to refuse a lying device and sees
// it do so PASSes as a test, and its verdict is safe-reject.
//
//   verdict        severity         meaning
//   pass           none             well-behaved input, nothing refused
//   safe-reject    low              the driver refused or dropped input and counted it
//   recovered      low | medium     trouble (a queue broken, a reset, the watchdog),
//                                   then the driver came back: low when traffic moved
//                                   afterwards, medium when none was seen after it
//   wedged         high             the driver is stuck: no progress, no crash
//   memory-error   critical         a sanitizer (or the mock's memory check) reported
//   oracle:<name>  critical         an oracle found a bug (fuzz oracles by name:
//                                   ownership, frame-bounds, ...; conformance; a
//                                   replay divergence is oracle:divergence)
//
// grade(Observation) applies these rules, first match wins (precedence:
// finding > wedged > recovered > safe-reject > pass):
//
//   1. memory-error   observation.memory_error
//   2. oracle:<name>  observation.oracle is not empty
//   3. wedged         observation.budget_exhausted (a driver call or the
//                     harness's work budget / timeout ran out), or
//                     observation.quarantined (at the end of the run the
//                     driver still holds buffers back from a device that
//                     never acknowledged a reset), or the driver had been
//                     running (was_running) and its last state -- before
//                     the harness's own final stop() -- is broken or failed
//   4. recovered      the driver had been running and afterwards one of the
//                     trouble counters (kTroubleCounters: queue_broken_*,
//                     device_needs_reset, tx_watchdog_timeouts,
//                     reset_timeouts, recoveries) went up; the run did not
//                     end wedged (rule 3), so the driver came back. Severity
//                     low when traffic moved (rx_packets or tx_completed
//                     went up) after the last trouble, medium otherwise
//   5. safe-reject    any rejection counter (kRejectCounters: rx_drop_*,
//                     tx_drop_*, tx_bad_used_len, queue_broken_*,
//                     config_invalid_*, config_unstable) is higher after the
//                     run than before it, or the probe or attach refused
//                     (observation.refused: any probe or attach error, the
//                     device's or the caller's, or a modern interface turned
//                     down in favour of the legacy one; observe_probe())
//   6. pass           none of the above
//
// Trouble before the driver ever ran (a reset timeout inside a refused
// attach) is a refusal, not something recovered from. Back-pressure
// counters (rx_refill_pool_empty, tx_ring_full, tx_map_failed) and legal
// device values (queue_size_capped, config_changes, link_changes) grade
// nothing.
//
// How a run feeds an Observation: observe() after every step or API call
// (counters and state), refuse() when probe or attach fails, finish() with
// the counters and quarantine after the harness's final stop(); findings
// are set directly.
#pragma once

#include <stdint.h>

#include <string>
#include <string_view>

#include "driver/net/net_counters.h"
#include "driver/net/virtio_net.h"
#include "driver/transport/pci_probe.h"

namespace vnet::verdict {

enum class Verdict : uint8_t { kPass, kSafeReject, kRecovered, kWedged, kMemoryError, kOracle };
enum class Severity : uint8_t { kNone, kLow, kMedium, kHigh, kCritical };

// "pass", "safe-reject", "recovered", "wedged", "memory-error", "oracle"
// (the bare kind: a graded oracle verdict is named "oracle:<name>").
inline const char* verdict_kind_name(Verdict v) {
  switch (v) {
    case Verdict::kPass:
      return "pass";
    case Verdict::kSafeReject:
      return "safe-reject";
    case Verdict::kRecovered:
      return "recovered";
    case Verdict::kWedged:
      return "wedged";
    case Verdict::kMemoryError:
      return "memory-error";
    case Verdict::kOracle:
      return "oracle";
  }
  return "?";
}

inline const char* severity_name(Severity s) {
  switch (s) {
    case Severity::kNone:
      return "none";
    case Severity::kLow:
      return "low";
    case Severity::kMedium:
      return "medium";
    case Severity::kHigh:
      return "high";
    case Severity::kCritical:
      return "critical";
  }
  return "?";
}

// The severity of a verdict kind; recovered is low here (grade() makes it
// medium when no traffic was seen after the trouble).
inline Severity default_severity(Verdict v) {
  switch (v) {
    case Verdict::kPass:
      return Severity::kNone;
    case Verdict::kSafeReject:
    case Verdict::kRecovered:
      return Severity::kLow;
    case Verdict::kWedged:
      return Severity::kHigh;
    case Verdict::kMemoryError:
    case Verdict::kOracle:
      return Severity::kCritical;
  }
  return Severity::kCritical;
}

// An oracle's short name from the fuzz harness's spelling: "ownership (b)"
// -> "ownership" (the letter in parentheses dropped, spaces made '-').
// Inline: the fuzz harness's finding line uses it without linking this
// library.
inline std::string oracle_short_name(std::string_view oracle) {
  const size_t paren = oracle.find(" (");
  if (paren != std::string_view::npos) oracle = oracle.substr(0, paren);
  std::string out;
  for (char c : oracle) out += c == ' ' ? '-' : c;
  return out;
}

// "vnet-fuzz: FINDING ownership (b): descriptor 3 ..." -> "ownership";
// empty when the line is not a finding line.
std::string oracle_of_finding_line(std::string_view line);
// The log line crash-to-trace writes at a sanitizer crash.
inline constexpr std::string_view kCrashLine = "vnet-fuzz: the run crashed here (sanitizer report)";

struct Graded {
  Verdict verdict = Verdict::kPass;
  Severity severity = Severity::kNone;
  std::string oracle;  // kOracle: the oracle's name
  std::string reason;  // one line: what the verdict rests on

  // "pass", ..., "oracle:<name>".
  std::string name() const;
  bool operator==(const Graded&) const = default;
};

// Parses a verdict name as name() spells it ("oracle:" needs a name after
// the colon). False for anything else.
bool parse_verdict(std::string_view text, Verdict* verdict, std::string* oracle);

struct Observation {
  // Findings.
  bool memory_error = false;
  std::string memory_error_what;
  std::string oracle;  // an oracle fired: its short name
  std::string oracle_what;
  // A work budget or timeout ran out.
  bool budget_exhausted = false;
  std::string budget_what;
  // The probe or attach refused ("attach queue_unavailable").
  bool refused = false;
  std::string refused_what;
  // The driver's counters when the run began and when it ended (after the
  // harness's final stop()).
  NetCounters before{};
  NetCounters after{};
  // The driver reached kRunning at some point.
  bool was_running = false;
  // The driver's state at the last observe() (before the final stop()).
  NetState end_state = NetState::kDown;
  // Buffers still quarantined when the run ended.
  bool quarantined = false;
  // Trouble counters went up after the driver had been running; the first
  // of them by name, and whether traffic moved after the last trouble.
  bool troubled = false;
  std::string trouble_what;
  bool resumed = false;

  // After each step / API call: counters and state as they are now.
  void observe(const NetCounters& now, NetState state);
  void refuse(std::string what);
  // The probe's result: refused when it failed, and when it succeeded but
  // turned down the device's modern interface for what the device said:
  // a virtio capability rejected, or virtio capabilities present and the
  // modern probe failed anyway (no VERSION_1, a device config window too
  // short, a structure missing) -- a legacy device without virtio
  // capabilities is not a refusal.
  void observe_probe(const ProbeResult& probe);
  // attach()'s result: any error is a refusal.
  void observe_attach(AttachError error);
  // What attach made of the interrupts: MSI-X turned down for what the
  // device said (a table or PBA outside its BAR, an enable bit or a vector
  // that did not read back as written) is a refusal; a platform or device
  // without MSI-X is not.
  void observe_interrupts(const InterruptSetup& setup);
  // At the very end (after the harness's final stop(), if any): the last
  // counters and whether buffers are still quarantined. The state is not
  // taken: end_state is the state before that stop().
  void finish(const NetCounters& now, bool still_quarantined);

 private:
  bool have_last_ = false;
  NetCounters last_{};
};

// Counters whose increase means the driver rejected something, and those
// that mean trouble (see the rules above). Null-terminated lists of names.
extern const char* const kRejectCounters[];
extern const char* const kTroubleCounters[];

Graded grade(const Observation& o);

// "safe-reject (severity low): rx_drop_len_over +2"
std::string describe(const Graded& g);

// A JUnit <properties> element naming the verdict, its severity and reason
// (each line starts with indent), for a <testcase>.
std::string junit_properties(const Graded& g, const std::string& indent);
// Escapes text for XML attribute values and character data.
std::string xml_escape(std::string_view text);

}  // namespace vnet::verdict
