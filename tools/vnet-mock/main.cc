// vnet-mock: run one scenario (docs/scenarios.md) of the real virtio-net
// driver against the mock device and report what happened.
//
//   vnet-mock SCENARIO.json [--events] [--all-counters] [--driver-log] [--quiet]
//
// Exit status: 0 the scenario's expectations held, 1 they did not,
// 2 the scenario file (or the command line) is bad.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "driver/spec/virtio_constants.h"
#include "mock_device/scenario/scenario.h"
#include "mock_device/scenario/scenario_runner.h"

namespace {

using vnet::scenario::RunResult;
using vnet::scenario::Scenario;

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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Run a vnetkit mock-device scenario against the virtio-net driver"};
  std::string path;
  bool events = false, all_counters = false, driver_log = false, quiet = false;
  app.add_option("scenario", path, "scenario file (JSON, see docs/scenarios.md)")->required();
  app.add_flag("-e,--events", events, "print what happened at each step");
  app.add_flag("-a,--all-counters", all_counters, "print counters that are zero too");
  app.add_flag("-l,--driver-log", driver_log, "echo the driver's log lines to stderr");
  app.add_flag("-q,--quiet", quiet, "print only the result and failures");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  Scenario scenario;
  try {
    scenario = vnet::scenario::load_scenario_file(path);
  } catch (const vnet::scenario::ScenarioError& e) {
    std::fprintf(stderr, "vnet-mock: bad scenario: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vnet-mock: bad scenario: %s: %s\n", path.c_str(), e.what());
    return 2;
  }

  vnet::scenario::RunOptions options;
  options.echo_driver_log = driver_log;
  RunResult result;
  try {
    result = vnet::scenario::run_scenario(scenario, options);
  } catch (const std::exception& e) {
    // Device construction refuses impossible configurations (e.g. the guest
    // memory too small for the pool): the scenario is at fault.
    std::fprintf(stderr, "vnet-mock: bad scenario: %s: %s\n", path.c_str(), e.what());
    return 2;
  }
  if (quiet) {
    std::printf("%s: %s, verdict %s (severity %s)\n", scenario.name.c_str(),
                result.passed ? "PASS" : "FAIL", result.verdict.name().c_str(),
                vnet::verdict::severity_name(result.verdict.severity));
    for (const auto& f : result.failures) std::printf("  %s\n", f.c_str());
  } else {
    print_report(scenario, result, events, all_counters);
  }
  return result.passed ? 0 : 1;
}
