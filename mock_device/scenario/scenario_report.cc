#include "mock_device/scenario/scenario_report.h"

#include <chrono>
#include <exception>

#include "verdict/verdict.h"

namespace vnet::scenario {

ScenarioOutcome run_scenario_file(const std::string& path, const RunOptions& options) {
  ScenarioOutcome o;
  o.file = path;
  const auto t0 = std::chrono::steady_clock::now();
  try {
    o.scenario = load_scenario_file(path);
    o.name = o.scenario.name;
    if (o.scenario.end.verdict) o.expected_verdict = *o.scenario.end.verdict;
    o.result = run_scenario(o.scenario, options);
    o.ran = true;
  } catch (const ScenarioError& e) {
    o.error = e.what();
  } catch (const std::exception& e) {
    // Device construction refuses impossible configurations (e.g. the guest
    // memory too small for the pool): the scenario is at fault.
    o.error = path + ": " + e.what();
  }
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return o;
}

const char* outcome_result(const ScenarioOutcome& o) {
  if (!o.ran) return "ERROR";
  return o.result.passed ? "PASS" : "FAIL";
}

nlohmann::json to_json(const std::vector<ScenarioOutcome>& outcomes) {
  nlohmann::json list = nlohmann::json::array();
  size_t pass = 0, fail = 0, error = 0;
  nlohmann::json verdicts = nlohmann::json::object();
  for (const ScenarioOutcome& o : outcomes) {
    nlohmann::json j = {{"file", o.file}, {"result", outcome_result(o)}, {"seconds", o.seconds}};
    if (!o.ran) {
      ++error;
      j["error"] = o.error;
      list.push_back(std::move(j));
      continue;
    }
    const RunResult& r = o.result;
    r.passed ? ++pass : ++fail;
    const std::string name = r.verdict.name();
    verdicts[name] = verdicts.value(name, 0) + 1;
    j["name"] = o.name;
    j["verdict"] = name;
    j["severity"] = verdict::severity_name(r.verdict.severity);
    j["verdict_reason"] = r.verdict.reason;
    if (!o.expected_verdict.empty()) j["expected_verdict"] = o.expected_verdict;
    j["failures"] = r.failures;
    j["probe"] = r.probe_result;
    j["transport"] = r.transport_name;
    j["attach"] = r.attach_result;
    j["final_state"] = net_state_name(r.final_state);
    nlohmann::json counters = nlohmann::json::object();
    r.driver_counters.for_each([&](const char* n, uint64_t v) {
      if (v != 0) counters[n] = v;
    });
    j["counters"] = counters;
    nlohmann::json violations = nlohmann::json::array();
    for (const auto& v : r.violations)
      violations.push_back(
          {{"section", v.section}, {"id", v.id}, {"message", v.message}, {"count", v.count}});
    j["violations"] = violations;
    list.push_back(std::move(j));
  }
  return {{"scenarios", list},
          {"summary",
           {{"total", outcomes.size()},
            {"pass", pass},
            {"fail", fail},
            {"error", error},
            {"verdicts", verdicts}}}};
}

std::string to_junit(const std::vector<ScenarioOutcome>& outcomes) {
  using verdict::xml_escape;
  size_t failures = 0, errors = 0;
  double total = 0;
  for (const ScenarioOutcome& o : outcomes) {
    failures += o.ran && !o.result.passed;
    errors += !o.ran;
    total += o.seconds;
  }
  std::string s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  s += "<testsuite name=\"vnet-mock\" tests=\"" + std::to_string(outcomes.size()) +
       "\" failures=\"" + std::to_string(failures) + "\" errors=\"" + std::to_string(errors) +
       "\" time=\"" + std::to_string(total) + "\">\n";
  for (const ScenarioOutcome& o : outcomes) {
    s += "  <testcase classname=\"scenario\" name=\"" + xml_escape(o.file) + "\" time=\"" +
         std::to_string(o.seconds) + "\">\n";
    if (!o.ran) {
      s += "    <error message=\"" + xml_escape(o.error) + "\">" + xml_escape(o.error) +
           "</error>\n";
      s += "  </testcase>\n";
      continue;
    }
    s += verdict::junit_properties(o.result.verdict, "    ");
    if (!o.result.passed) {
      std::string body = o.name + "\n";
      for (const std::string& f : o.result.failures) body += "  " + f + "\n";
      s += "    <failure message=\"" +
           xml_escape(o.result.failures.empty() ? "failed" : o.result.failures.front()) + "\">" +
           xml_escape(body) + "</failure>\n";
    }
    s += "  </testcase>\n";
  }
  s += "</testsuite>\n";
  return s;
}

}  // namespace vnet::scenario
