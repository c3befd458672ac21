#include "tools/vnet-surface/worlds.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace vnet::surface_tool {
namespace fs = std::filesystem;

namespace {

std::vector<std::string> files_with(const fs::path& dir, const std::string& ext) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().extension() == ext) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

bool executable(const std::string& path) {
  return access(path.c_str(), X_OK) == 0;
}

}  // namespace

std::vector<WorldPlan> plan_worlds(const std::string& source_root, const std::string& bin_dir,
                                   const std::vector<std::string>& only) {
  const fs::path src(source_root);
  const std::string mock = bin_dir + "/vnet-mock";
  const std::string replay = bin_dir + "/vnet-replay";
  std::vector<WorldPlan> worlds;

  WorldPlan m{"mock", false, {}, {}, {}, {}};
  if (!executable(mock)) m.missing = mock + " not built";
  for (const std::string& s : files_with(src / "mock_device" / "scenarios", ".json"))
    m.runs.push_back(Command{{mock, "--quiet", s}, {}, "", "", ""});
  worlds.push_back(std::move(m));

  WorldPlan r{"replay", false, {}, {}, {}, {}};
  if (!executable(replay)) r.missing = replay + " not built";
  r.runs.push_back(Command{
      {replay, "--quiet", "--no-progress", (src / "corpus" / "traces").string()}, {}, "", "", ""});
  worlds.push_back(std::move(r));

  WorldPlan q{"qemu", false, {}, {}, {}, {}};
  if (!executable(replay)) q.missing = replay + " not built";
  const std::string captures = (src / "tests" / "replay" / "captures").string();
  q.runs.push_back(Command{
      {replay, "--quiet", "--no-progress", (src / "corpus" / "traces" / "qemu").string(), captures},
      {},
      "",
      "",
      ""});
  q.runs.push_back(
      Command{{replay, "--quiet", "--no-progress", "--mode", "device", captures}, {}, "", "", ""});
  worlds.push_back(std::move(q));

  std::vector<std::string> targets;
  std::error_code dir_ec;
  for (const auto& e : fs::directory_iterator(src / "corpus" / "fuzz", dir_ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory() && name.rfind("fuzz_", 0) == 0) targets.push_back(name);
  }
  std::sort(targets.begin(), targets.end());
  for (const std::string& t : targets) {
    WorldPlan f{t, true, {}, {}, {}, {}};
    f.fuzz_binary = bin_dir + "/" + t;
    if (!executable(f.fuzz_binary)) f.missing = f.fuzz_binary + " not built (fuzz preset)";
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(src / "corpus" / "fuzz" / t, ec))
      if (e.is_regular_file()) f.inputs.push_back(e.path().string());
    std::sort(f.inputs.begin(), f.inputs.end());
    if (f.inputs.empty() && f.missing.empty())
      f.missing = "no corpus in corpus/fuzz/" + std::string(t);
    worlds.push_back(std::move(f));
  }

  if (!only.empty()) {
    std::vector<WorldPlan> kept;
    for (WorldPlan& w : worlds) {
      const bool wanted = std::any_of(only.begin(), only.end(), [&](const std::string& o) {
        return o == w.name || (o == "fuzz" && w.fuzz);
      });
      if (wanted) kept.push_back(std::move(w));
    }
    worlds = std::move(kept);
  }
  return worlds;
}

FuzzRun run_fuzz_inputs(const WorldPlan& plan, const std::vector<std::string>& env,
                        const std::string& artifact_dir, const std::string& log_prefix) {
  constexpr size_t kChunk = 64;
  FuzzRun result;
  size_t next = 0;
  while (next < plan.inputs.size()) {
    const size_t end = std::min(plan.inputs.size(), next + kChunk);
    Command c;
    c.argv = {plan.fuzz_binary, "-timeout=10", "-artifact_prefix=" + artifact_dir + "/"};
    c.argv.insert(c.argv.end(), plan.inputs.begin() + static_cast<long>(next),
                  plan.inputs.begin() + static_cast<long>(end));
    c.env = env;
    c.stdout_path = log_prefix + "." + std::to_string(result.processes++);
    if (run(c) == 0) {
      next = end;
      continue;
    }
    // The last input the process started is the one that ended it.
    std::ifstream log(c.stdout_path);
    std::string line, last;
    while (std::getline(log, line))
      if (line.rfind("Running: ", 0) == 0) last = line.substr(9);
    const auto it = std::find(plan.inputs.begin() + static_cast<long>(next),
                              plan.inputs.begin() + static_cast<long>(end), last);
    if (it == plan.inputs.begin() + static_cast<long>(end)) {
      // Died before any input (or the log is not libFuzzer's): skip the chunk.
      result.crashed.push_back("(the process of inputs " + std::to_string(next) + ".." +
                               std::to_string(end - 1) + " died before running one)");
      next = end;
      continue;
    }
    result.crashed.push_back(*it);
    next = static_cast<size_t>(it - plan.inputs.begin()) + 1;
  }
  return result;
}

}  // namespace vnet::surface_tool
