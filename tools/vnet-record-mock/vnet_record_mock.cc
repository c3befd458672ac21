// vnet-record-mock: records the mock scenarios (replay/mock_recording.h)
// on each transport into a corpus directory, or checks that the files
// there are exactly what this build records.
//
//   vnet-record-mock --out corpus/traces/mock            regenerate
//   vnet-record-mock --check corpus/traces/mock          compare (exit 1 on a difference)
//   vnet-record-mock --list                              scenarios and kinds
//
// The header's recorded.when is the only field that may differ between
// two recordings; --check ignores it.
#include <CLI/CLI.hpp>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "replay/mock_recording.h"

namespace {

namespace fs = std::filesystem;

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The trace without its header's recorded.when.
std::string comparable(const std::string& text) {
  const size_t nl = text.find('\n');
  if (nl == std::string::npos) return text;
  nlohmann::json h = nlohmann::json::parse(text.substr(0, nl), nullptr, false);
  if (h.is_discarded()) return text;
  if (h.contains("recorded") && h["recorded"].is_object()) h["recorded"].erase("when");
  return h.dump() + text.substr(nl);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Records the mock trace corpus, or checks it against this build."};
  std::string out_dir, check_dir, only_scenario, only_kind, when;
  bool list = false;
  auto* out = app.add_option("--out", out_dir, "directory to write the traces to");
  auto* check = app.add_option("--check", check_dir, "directory whose traces must match");
  out->excludes(check);
  app.add_option("--scenario", only_scenario, "record only this scenario");
  app.add_option("--kind", only_kind, "record only this transport kind");
  app.add_option("--when", when, "the header's recorded.when (default: now, UTC)");
  app.add_flag("--list", list, "list scenarios and transport kinds");
  CLI11_PARSE(app, argc, argv);

  using vnet::replay::kMockKinds;
  using vnet::replay::mock_scenarios;
  if (list) {
    for (const auto& s : mock_scenarios())
      std::cout << s.name
                << (s.kinds == vnet::replay::ScenarioKinds::kAll            ? ""
                    : s.kinds == vnet::replay::ScenarioKinds::kLegacyModern ? " (legacy, modern)"
                                                                            : " (modern)")
                << ": " << s.what << "\n";
    for (const auto& k : kMockKinds) std::cout << "kind " << k.name << "\n";
    return 0;
  }
  if (out_dir.empty() && check_dir.empty()) {
    std::cerr << "vnet-record-mock: give --out DIR or --check DIR\n";
    return 2;
  }
  if (when.empty()) when = utc_now();
  if (!out_dir.empty()) fs::create_directories(out_dir);

  int differences = 0, written = 0;
  size_t bytes = 0;
  for (const auto& s : mock_scenarios()) {
    if (!only_scenario.empty() && only_scenario != s.name) continue;
    for (const auto& k : kMockKinds) {
      if (!only_kind.empty() && only_kind != k.name) continue;
      if (!vnet::replay::scenario_applies(s, k)) continue;
      const std::string text = vnet::replay::record_scenario(s, k, when);
      const std::string name = vnet::replay::corpus_file_name(s, k);
      bytes += text.size();
      if (!out_dir.empty()) {
        std::ofstream f(fs::path(out_dir) / name, std::ios::binary);
        f << text;
        if (!f) {
          std::cerr << "vnet-record-mock: cannot write " << name << "\n";
          return 2;
        }
        ++written;
        continue;
      }
      std::ifstream f(fs::path(check_dir) / name, std::ios::binary);
      std::stringstream have;
      have << f.rdbuf();
      if (!f || comparable(have.str()) != comparable(text)) {
        std::cout << "DIFFERS " << name
                  << ": this build records something else; regenerate with --out\n";
        ++differences;
      }
    }
  }
  if (!out_dir.empty())
    std::cout << written << " traces, " << bytes << " bytes written to " << out_dir << "\n";
  else if (differences == 0)
    std::cout << "corpus matches this build (" << bytes << " bytes)\n";
  return differences == 0 ? 0 : 1;
}
