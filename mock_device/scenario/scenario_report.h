// Reports on scenario runs for machines: what vnet-mock writes with --json
// and --junit. Each scenario run carries two answers (docs/scenarios.md,
// "Verdicts"):
//
//   result   PASS / FAIL: did the scenario's expectations hold (ERROR: the
//            scenario file is bad and did not run)
//   verdict  how the driver handled what the device did, graded
//            (verdict/verdict.h), with its severity and reason
//
// JSON: {"scenarios": [{file, name, result, verdict, severity,
//        verdict_reason, expected_verdict?, failures, probe, transport,
//        attach, final_state, counters (non-zero), violations, seconds}],
//        "summary": {total, pass, fail, error, verdicts: {name: count}}}
// JUnit: one <testsuite name="vnet-mock">, one <testcase> per scenario
//        (classname "scenario", name the file), the verdict, severity and
//        reason as <properties>; <failure> when expectations failed,
//        <error> for a bad scenario file.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mock_device/scenario/scenario.h"
#include "mock_device/scenario/scenario_runner.h"

namespace vnet::scenario {

struct ScenarioOutcome {
  std::string file;
  std::string name;              // the scenario's name (empty when it did not load)
  bool ran = false;              // false: the scenario is bad (error says why)
  std::string error;             // a bad scenario: the loader's message
  std::string expected_verdict;  // end.verdict, when the scenario states one
  Scenario scenario;             // as loaded (ran true)
  RunResult result;
  double seconds = 0;
};

// Loads and runs one scenario file; never throws (a bad scenario is an
// outcome with ran false).
ScenarioOutcome run_scenario_file(const std::string& path, const RunOptions& options = {});

// "PASS", "FAIL" or "ERROR".
const char* outcome_result(const ScenarioOutcome& o);

nlohmann::json to_json(const std::vector<ScenarioOutcome>& outcomes);
std::string to_junit(const std::vector<ScenarioOutcome>& outcomes);

}  // namespace vnet::scenario
