// vnet-specmap: checks the spec map (docs/spec-map.json) against the mock
// device's conformance rules (mock_device/spec_rules.h) and prints how many
// of the driver requirements of virtio 1.2 that bind this driver are
// checked. Exit status 1 when the table and the rules disagree (see
// spec_map.h for what is checked), 2 when the table cannot be read.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tools/vnet-specmap/spec_map.h"

int main(int argc, char** argv) {
  CLI::App app{"Checks the virtio spec map against the mock device's conformance rules"};
  std::string table_path = VNET_SPEC_MAP_DEFAULT;
  bool list = false, unchecked = false, rules = false;
  app.add_option("--table", table_path, "the spec map (default: the source tree's)");
  app.add_flag("--list", list, "one line per row: id, level, how it is covered");
  app.add_flag("--unchecked", unchecked,
               "the applicable requirements the device could observe but no rule checks yet");
  app.add_flag("--rules", rules, "the mock's rules and what each observes");
  CLI11_PARSE(app, argc, argv);

  std::ifstream in(table_path);
  if (!in) {
    std::fprintf(stderr, "vnet-specmap: cannot open %s\n", table_path.c_str());
    return 2;
  }
  nlohmann::json table;
  try {
    table = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vnet-specmap: %s: %s\n", table_path.c_str(), e.what());
    return 2;
  }
  const vnet::specmap::SpecMapReport r = vnet::specmap::check_spec_map(table);
  std::fputs(vnet::specmap::summary_text(r).c_str(), stdout);
  if (list) std::fputs(vnet::specmap::list_text(r).c_str(), stdout);
  if (rules)
    for (const auto& rule : vnet::mock::kSpecRules)
      std::printf("%-18s %.*s\n", std::string(rule.id).c_str(), int(rule.what.size()),
                  rule.what.data());
  if (unchecked) {
    std::printf("observable but not checked yet (%zu):\n", r.unchecked);
    std::fputs(vnet::specmap::unchecked_text(r).c_str(), stdout);
  }
  if (!r.errors.empty()) {
    std::printf("spec map FAILED: %zu problem(s)\n", r.errors.size());
    for (const auto& e : r.errors) std::printf("  %s\n", e.c_str());
    return 1;
  }
  std::printf("spec map consistent with the mock's rules\n");
  return 0;
}
