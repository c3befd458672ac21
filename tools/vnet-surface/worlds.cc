#include "tools/vnet-surface/worlds.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

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

  WorldPlan m{"mock", false, {}, {}};
  if (!executable(mock)) m.missing = mock + " not built";
  for (const std::string& s : files_with(src / "mock_device" / "scenarios", ".json"))
    m.runs.push_back(Command{{mock, "--quiet", s}, {}, "", "", ""});
  worlds.push_back(std::move(m));

  WorldPlan r{"replay", false, {}, {}};
  if (!executable(replay)) r.missing = replay + " not built";
  r.runs.push_back(Command{
      {replay, "--quiet", "--no-progress", (src / "corpus" / "traces").string()}, {}, "", "", ""});
  worlds.push_back(std::move(r));

  WorldPlan q{"qemu", false, {}, {}};
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

  for (const char* t : kFuzzTargets) {
    WorldPlan f{t, true, {}, {}};
    const std::string bin = bin_dir + "/" + t;
    if (!executable(bin)) f.missing = bin + " not built (fuzz preset)";
    f.runs.push_back(Command{
        {bin, "-runs=0", "-timeout=10", (src / "corpus" / "fuzz" / t).string()}, {}, "", "", ""});
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

}  // namespace vnet::surface_tool
