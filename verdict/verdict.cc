#include "verdict/verdict.h"

#include <cstring>

namespace vnet::verdict {

const char* const kRejectCounters[] = {
    "rx_drop_len_over",
    "rx_drop_len_short",
    "rx_drop_len_mtu",
    "rx_drop_map_failed",
    "rx_drop_hdr_gso",
    "rx_drop_hdr_flags",
    "rx_drop_num_buffers",
    "rx_drop_buffer_small",
    "tx_drop_len",
    "tx_drop_headroom",
    "tx_bad_used_len",
    "queue_broken_used_idx",
    "queue_broken_used_id",
    "queue_broken_used_stale",
    "queue_broken_used_early",
    "queue_broken_used_flags",
    "queue_broken_used_wrap",
    "queue_broken_used_order",
    "queue_broken_used_unpub",
    "tx_drop_sg_fragments",
    "tx_drop_sg_bounds",
    "tx_drop_sg_segments",
    "config_invalid_mac",
    "config_invalid_mtu",
    "config_invalid_status",
    "config_unstable",
    "irq_storms",
    nullptr,
};

const char* const kTroubleCounters[] = {
    "queue_broken_used_idx",
    "queue_broken_used_id",
    "queue_broken_used_stale",
    "queue_broken_used_early",
    "queue_broken_used_flags",
    "queue_broken_used_wrap",
    "queue_broken_used_order",
    "queue_broken_used_unpub",
    "device_needs_reset",
    "tx_watchdog_timeouts",
    "reset_timeouts",
    "recoveries",
    nullptr,
};

namespace {

uint64_t counter(const NetCounters& c, const char* name) {
  uint64_t value = 0;
  c.for_each([&](const char* n, uint64_t v) {
    if (std::strcmp(n, name) == 0) value = v;
  });
  return value;
}

bool bad_end_state(NetState s) {
  return s == NetState::kBroken || s == NetState::kFailed;
}

}  // namespace

std::string oracle_of_finding_line(std::string_view line) {
  constexpr std::string_view kPrefix = "vnet-fuzz: FINDING ";
  if (line.substr(0, kPrefix.size()) != kPrefix) return {};
  line.remove_prefix(kPrefix.size());
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return {};
  return oracle_short_name(line.substr(0, colon));
}

std::string Graded::name() const {
  if (verdict == Verdict::kOracle) return "oracle:" + oracle;
  return verdict_kind_name(verdict);
}

bool parse_verdict(std::string_view text, Verdict* verdict, std::string* oracle) {
  constexpr std::string_view kOraclePrefix = "oracle:";
  if (text.substr(0, kOraclePrefix.size()) == kOraclePrefix) {
    const std::string_view name = text.substr(kOraclePrefix.size());
    if (name.empty()) return false;
    for (char c : name)
      if (c == ' ' || c == ':' || static_cast<unsigned char>(c) < 0x21) return false;
    *verdict = Verdict::kOracle;
    *oracle = std::string(name);
    return true;
  }
  for (Verdict v : {Verdict::kPass, Verdict::kSafeReject, Verdict::kRecovered, Verdict::kWedged,
                    Verdict::kMemoryError}) {
    if (text == verdict_kind_name(v)) {
      *verdict = v;
      oracle->clear();
      return true;
    }
  }
  return false;
}

void Observation::observe(const NetCounters& now, NetState state) {
  const NetCounters& prev = have_last_ ? last_ : before;
  bool trouble_now = false;
  if (was_running) {
    for (const char* const* n = kTroubleCounters; *n != nullptr; ++n) {
      if (counter(now, *n) <= counter(prev, *n)) continue;
      trouble_now = true;
      if (trouble_what.find(*n) == std::string::npos)
        trouble_what += (trouble_what.empty() ? "" : ", ") + std::string(*n);
    }
  }
  if (trouble_now) {
    troubled = true;
    resumed = false;
  } else if (troubled &&
             (now.rx_packets > prev.rx_packets || now.tx_completed > prev.tx_completed)) {
    resumed = true;
  }
  if (state == NetState::kRunning) was_running = true;
  end_state = state;
  last_ = now;
  have_last_ = true;
  after = now;
}

void Observation::refuse(std::string what) {
  refused = true;
  refused_what += (refused_what.empty() ? "" : "; ") + what;
}

void Observation::observe_probe(const ProbeResult& probe) {
  // caps_seen counts virtio (vendor-specific) capabilities: a legacy device
  // with only MSI-X or power management capabilities has none.
  const bool modern_refused =
      probe.modern_report.caps_rejected != 0 ||
      (probe.modern_error != ModernProbeError::kOk && probe.modern_report.caps_seen != 0);
  std::string modern;
  if (modern_refused) {
    modern = std::string("modern interface: ") + modern_probe_error_name(probe.modern_error);
    if (probe.modern_report.caps_rejected != 0)
      modern += ", " + std::to_string(probe.modern_report.caps_rejected) + " capabilities rejected";
  }
  if (probe.error != ProbeError::kOk) {
    refuse(std::string("probe: ") + probe_error_name(probe.error) +
           (modern.empty() ? "" : " (" + modern + ")"));
  } else if (modern_refused) {
    refuse(modern + "; using " +
           (probe.transport != nullptr ? probe.transport->name() : "another transport"));
  }
}

void Observation::observe_interrupts(const InterruptSetup& setup) {
  switch (setup.msix_fallback) {
    case MsixFallback::kNone:
    case MsixFallback::kNoPlatformVectors:
    case MsixFallback::kNoCapability:
      return;
    default:
      refuse(std::string("interrupts: MSI-X not used (") + msix_fallback_name(setup.msix_fallback) +
             "), " + interrupt_mode_name(setup.mode) + " instead");
  }
}

void Observation::observe_attach(AttachError error) {
  if (error != AttachError::kOk) refuse(std::string("attach: ") + attach_error_name(error));
}

void Observation::finish(const NetCounters& now, bool still_quarantined) {
  after = now;
  quarantined = still_quarantined;
}

Graded grade(const Observation& o) {
  Graded g;
  auto set = [&](Verdict v, std::string reason) {
    g.verdict = v;
    g.severity = default_severity(v);
    g.reason = std::move(reason);
    return g;
  };
  if (o.memory_error) return set(Verdict::kMemoryError, o.memory_error_what);
  if (!o.oracle.empty()) {
    g.oracle = o.oracle;
    return set(Verdict::kOracle, o.oracle_what);
  }
  if (o.budget_exhausted) return set(Verdict::kWedged, "work budget ran out: " + o.budget_what);
  if (o.quarantined)
    return set(Verdict::kWedged,
               "buffers still quarantined at the end (the device never acknowledged a reset)");
  if (o.was_running && bad_end_state(o.end_state))
    return set(Verdict::kWedged, std::string("the driver ended ") + net_state_name(o.end_state) +
                                     " after running" +
                                     (o.trouble_what.empty() ? "" : " (" + o.trouble_what + ")"));
  if (o.was_running && o.troubled) {
    set(Verdict::kRecovered, o.trouble_what + ", then the driver came back (" +
                                 net_state_name(o.end_state) + "); " +
                                 (o.resumed ? "traffic resumed" : "no traffic seen after it"));
    if (!o.resumed) g.severity = Severity::kMedium;
    return g;
  }
  std::string rejected;
  for (const char* const* n = kRejectCounters; *n != nullptr; ++n) {
    const uint64_t a = counter(o.after, *n), b = counter(o.before, *n);
    if (a > b)
      rejected += (rejected.empty() ? "" : ", ") + std::string(*n) + " +" + std::to_string(a - b);
  }
  if (o.refused || !rejected.empty()) {
    std::string reason = o.refused ? "refused: " + o.refused_what : "";
    if (!rejected.empty()) reason += (reason.empty() ? "" : "; ") + rejected;
    return set(Verdict::kSafeReject, reason);
  }
  return set(Verdict::kPass, "nothing refused");
}

std::string describe(const Graded& g) {
  std::string s = g.name() + " (severity " + severity_name(g.severity) + ")";
  if (!g.reason.empty()) s += ": " + g.reason;
  return s;
}

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t')
          out += ' ';
        else
          out += c;
    }
  }
  return out;
}

std::string junit_properties(const Graded& g, const std::string& indent) {
  std::string s = indent + "<properties>\n";
  s += indent + "  <property name=\"verdict\" value=\"" + xml_escape(g.name()) + "\"/>\n";
  s += indent + "  <property name=\"severity\" value=\"" + severity_name(g.severity) + "\"/>\n";
  s += indent + "  <property name=\"verdict_reason\" value=\"" + xml_escape(g.reason) + "\"/>\n";
  s += indent + "</properties>\n";
  return s;
}

}  // namespace vnet::verdict
