// vnet-mock: run one scenario (docs/scenarios.md) of the real virtio-net
// driver against the mock device and report what happened.
//
//   vnet-mock SCENARIO.json... [--events] [--all-counters] [--driver-log] [--quiet]
//             [--json FILE] [--junit FILE]
//
// Every run prints its verdict (verdict/verdict.h) beside its result;
// --json and --junit write both for every scenario
// (mock_device/scenario/scenario_report.h).
//
// Exit status: 0 every scenario's expectations held, 1 some did not,
// 2 a scenario file (or the command line) is bad.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "driver/spec/virtio_constants.h"
#include "mock_device/scenario/scenario.h"
#include "mock_device/scenario/scenario_report.h"
#include "mock_device/scenario/scenario_runner.h"
#include "verdict/verdict.h"

namespace {

using vnet::scenario::RunResult;
using vnet::scenario::Scenario;
using vnet::scenario::ScenarioOutcome;

std::string features_text(uint64_t set) {
  std::string out;
  for (unsigned bit = 0; bit < 64; ++bit) {
    if (!(set >> bit & 1)) continue;
    const char* name = vnet::spec::feature_name(bit);
    out += (out.empty() ? "" : ",") + (name ? std::string(name) : "bit" + std::to_string(bit));
  }
  return out.empty() ? "none" : out;
}

void print_report(const Scenario& s, const RunResult& r, bool events, bool all_counters) {
  std::printf("scenario: %s (%s)\n", s.name.c_str(), s.file.c_str());
  if (!s.description.empty()) std::printf("  %s\n", s.description.c_str());
  std::printf("device:   %s, features %s\n", vnet::mock::transport_kind_name(s.device.transport),
              features_text(s.device.features).c_str());
  std::printf("driver:   probe %s%s%s, attach %s, final state %s\n", r.probe_result.c_str(),
              r.transport_name.empty() ? "" : " -> ", r.transport_name.c_str(),
              r.attach_result.c_str(), vnet::net_state_name(r.final_state));
  if (events) {
    std::printf("events:\n");
    for (const auto& e : r.events) std::printf("  %s\n", e.c_str());
  }
  std::printf(
      "frames:   device -> driver: %llu injected (%llu without rx buffer), %llu delivered "
      "to the stack\n",
      (unsigned long long)r.frames_injected, (unsigned long long)r.frames_not_injected,
      (unsigned long long)r.frames_delivered);
  std::printf(
      "          driver -> device: %llu offered, %llu taken by tx_burst, %llu received "
      "by the device\n",
      (unsigned long long)r.frames_offered, (unsigned long long)r.frames_taken,
      (unsigned long long)r.frames_out);
  std::printf("driver counters:\n");
  r.driver_counters.for_each([&](const char* name, uint64_t v) {
    if (v || all_counters) std::printf("  %-26s %llu\n", name, (unsigned long long)v);
  });
  std::printf("device counters:\n");
  r.device_counters.for_each([&](const char* name, uint64_t v) {
    if (v || all_counters) std::printf("  %-26s %llu\n", name, (unsigned long long)v);
  });
  if (r.violations.empty()) {
    std::printf("conformance violations: none\n");
  } else {
    std::printf("conformance violations:\n");
    for (const auto& v : r.violations)
      std::printf("  [%s %s] %s%s\n", v.section.c_str(), v.id.c_str(), v.message.c_str(),
                  v.count > 1 ? (" (x" + std::to_string(v.count) + ")").c_str() : "");
  }
  std::printf("verdict:  %s\n", vnet::verdict::describe(r.verdict).c_str());
  if (r.passed) {
    std::printf("result: PASS\n");
  } else {
    std::printf("result: FAIL\n");
    for (const auto& f : r.failures) std::printf("  %s\n", f.c_str());
  }
}

bool write_file(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Run vnetkit mock-device scenarios against the virtio-net driver"};
  std::vector<std::string> paths;
  std::string json_path, junit_path;
  bool events = false, all_counters = false, driver_log = false, quiet = false;
  app.add_option("scenario", paths, "scenario files (JSON, see docs/scenarios.md)")->required();
  app.add_flag("-e,--events", events, "print what happened at each step");
  app.add_flag("-a,--all-counters", all_counters, "print counters that are zero too");
  app.add_flag("-l,--driver-log", driver_log, "echo the driver's log lines to stderr");
  app.add_flag("-q,--quiet", quiet, "print only the result, the verdict and failures");
  app.add_option("--json", json_path, "write a JSON report (results and verdicts) to this file");
  app.add_option("--junit", junit_path, "write a JUnit XML report to this file");
  std::string transport;
  app.add_option("--transport", transport,
                 "run every scenario on this device flavour instead of its device.transport: "
                 "legacy, modern, transitional, mmio-v1 or mmio-v2")
      ->check(CLI::IsMember({"legacy", "modern", "transitional", "mmio-v1", "mmio-v2"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  vnet::scenario::RunOptions options;
  options.echo_driver_log = driver_log;
  if (!transport.empty()) {
    using vnet::mock::TransportKind;
    options.transport = transport == "legacy"         ? TransportKind::kLegacy
                        : transport == "modern"       ? TransportKind::kModern
                        : transport == "transitional" ? TransportKind::kTransitional
                        : transport == "mmio-v1"      ? TransportKind::kMmioV1
                                                      : TransportKind::kMmioV2;
  }
  std::vector<ScenarioOutcome> outcomes;
  bool any_bad = false, any_failed = false;
  for (const std::string& path : paths) {
    ScenarioOutcome o = vnet::scenario::run_scenario_file(path, options);
    if (!o.ran) {
      std::fprintf(stderr, "vnet-mock: bad scenario: %s\n", o.error.c_str());
      any_bad = true;
    } else if (quiet) {
      std::printf("%s: %s, verdict %s (severity %s)\n", o.name.c_str(),
                  o.result.passed ? "PASS" : "FAIL", o.result.verdict.name().c_str(),
                  vnet::verdict::severity_name(o.result.verdict.severity));
      for (const auto& f : o.result.failures) std::printf("  %s\n", f.c_str());
    } else {
      if (outcomes.size() > 0) std::printf("\n");
      print_report(o.scenario, o.result, events, all_counters);
    }
    any_failed = any_failed || (o.ran && !o.result.passed);
    // The report needs the result, not the scenario's generated frames.
    o.scenario = Scenario{};
    outcomes.push_back(std::move(o));
  }
  if (!json_path.empty() &&
      !write_file(json_path, vnet::scenario::to_json(outcomes).dump(2) + "\n")) {
    std::fprintf(stderr, "vnet-mock: cannot write %s\n", json_path.c_str());
    return 2;
  }
  if (!junit_path.empty() && !write_file(junit_path, vnet::scenario::to_junit(outcomes))) {
    std::fprintf(stderr, "vnet-mock: cannot write %s\n", junit_path.c_str());
    return 2;
  }
  if (any_bad) return 2;
  return any_failed ? 1 : 0;
}
