// vnet-surface: the attack-surface map (docs/attack-surface.md). Enumerates
// every place in driver/ that takes a value from the device (sites.h), runs
// each world's binaries over its inputs with VNET_SURFACE set (worlds.h;
// surface/ counts what the driver read, by call stack), symbolises the
// stacks and reports per site and world how often the site was reached and
// with how many distinct values.
//
//   vnet-surface [--world W]... [--require-fuzz] [--markdown F] [--update-doc F]
//
// Exit status: 0 the map is complete (and with --require-fuzz every site is
// reached by at least one fuzz target); 1 it is not: a site no fuzz target
// reaches, a driver read that maps to no enumerated site, a world whose runs
// left no counts, a fuzz target not built; 2 usage or tool errors.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "tools/vnet-surface/process.h"
#include "tools/vnet-surface/report.h"
#include "tools/vnet-surface/sites.h"
#include "tools/vnet-surface/surface_map.h"
#include "tools/vnet-surface/symbolize.h"
#include "tools/vnet-surface/worlds.h"

namespace {

namespace fs = std::filesystem;
using namespace vnet::surface_tool;

std::string self_dir() {
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) return ".";
  exe[n] = '\0';
  return fs::path(exe).parent_path().string();
}

bool write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

// Replaces what lies between the begin and end markers of the document.
bool update_doc(const std::string& path, const std::string& table) {
  static const std::string begin = "<!-- vnet-surface:begin -->";
  static const std::string end = "<!-- vnet-surface:end -->";
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string doc = ss.str();
  const size_t b = doc.find(begin);
  const size_t e = doc.find(end);
  if (b == std::string::npos || e == std::string::npos || e < b) return false;
  doc = doc.substr(0, b + begin.size()) + "\n" + table + doc.substr(e);
  return write_text(path, doc);
}

// tools/vnet-surface/unfuzzed-sites.txt: driver file -> why no fuzz world
// reaches it yet. A missing file lists nothing.
std::map<std::string, std::string> read_unfuzzed(const std::string& path) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.find_first_of(" \t");
    if (space == std::string::npos) continue;
    const size_t reason = line.find_first_not_of(" \t", space);
    out[line.substr(0, space)] = reason == std::string::npos ? "" : line.substr(reason);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Maps every device read site of the driver and measures its reach per world"};
  std::string source = VNET_SOURCE_DIR, bin = self_dir(), work, symbolizer_path;
  std::vector<std::string> only;
  std::string markdown_path, doc_path, json_path;
  bool require_fuzz = false, list = false, no_run = false;
  app.add_option("--source", source, "source tree (driver/, corpora, scenarios)")
      ->capture_default_str();
  app.add_option("--bin", bin, "directory of vnet-mock, vnet-replay and fuzz_* binaries")
      ->capture_default_str();
  app.add_option("--work", work,
                 "scratch directory for counts and logs (default: <bin>/../surface)");
  app.add_option("--world", only,
                 "worlds to run: mock, replay, qemu, fuzz (all targets) or fuzz_<target>; "
                 "default all");
  app.add_option("--symbolizer", symbolizer_path, "llvm-symbolizer to use");
  app.add_option("--markdown", markdown_path, "write the Markdown table to this file");
  app.add_option("--update-doc", doc_path,
                 "replace the table between the vnet-surface markers of this document");
  app.add_option("--json", json_path,
                 "write the merged JSON map here (default <work>/surface.json)");
  app.add_flag("--require-fuzz", require_fuzz,
               "fail unless every site is reached by at least one fuzz target");
  app.add_flag("--list", list, "list the enumerated sites and exit");
  app.add_flag("--no-run", no_run, "do not run the worlds; map the counts already in --work");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  source = fs::weakly_canonical(source).string();
  if (work.empty()) work = (fs::path(bin).parent_path() / "surface").string();
  fs::create_directories(work);

  std::vector<Site> sites;
  try {
    sites = enumerate_sites(source);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vnet-surface: %s\n", e.what());
    return 2;
  }
  if (list) {
    for (const Site& s : sites)
      std::printf("%s:%d  %-36s %-9s %-14s %s\n", s.file.c_str(), s.line, s.function.c_str(),
                  s.kind.c_str(), s.via.c_str(), s.field.c_str());
    std::printf("%zu sites\n", sites.size());
    return 0;
  }

  if (symbolizer_path.empty())
    symbolizer_path = find_program({"llvm-symbolizer-14", "llvm-symbolizer"});
  if (symbolizer_path.empty()) {
    std::fprintf(stderr, "vnet-surface: no llvm-symbolizer on PATH (Debian: llvm-14)\n");
    return 2;
  }
  Symbolizer symbolizer(symbolizer_path, work);
  MapBuilder builder(sites, source, symbolizer);

  auto newest_driver_source = fs::file_time_type::min();
  for (const auto& e : fs::recursive_directory_iterator(fs::path(source) / "driver"))
    if (e.is_regular_file())
      newest_driver_source = std::max(newest_driver_source, e.last_write_time());

  bool complete = true;
  std::vector<WorldMap> maps;
  std::vector<bool> is_fuzz;
  for (WorldPlan& plan : plan_worlds(source, bin, only)) {
    WorldMap map;
    map.name = plan.name;
    map.sites.resize(sites.size());
    const std::string dir = work + "/" + plan.name;
    if (!plan.missing.empty()) {
      map.notes.push_back("not run: " + plan.missing);
      std::fprintf(stderr, "vnet-surface: world %s not run: %s\n", plan.name.c_str(),
                   plan.missing.c_str());
      if (require_fuzz && plan.fuzz) complete = false;
      maps.push_back(std::move(map));
      is_fuzz.push_back(plan.fuzz);
      continue;
    }
    {
      // Line numbers come from the binary's debug info, sites from the
      // source: a binary older than the driver's source may not match.
      const std::string binary = plan.fuzz ? plan.fuzz_binary : plan.runs.front().argv.front();
      std::error_code ec;
      const auto built = fs::last_write_time(binary, ec);
      if (!ec && built < newest_driver_source) {
        map.notes.push_back(binary +
                            " is older than driver/: rebuild it (line numbers may not match)");
        std::fprintf(stderr, "vnet-surface: %s is older than driver/ sources: rebuild it\n",
                     binary.c_str());
      }
    }
    const auto t0 = std::chrono::steady_clock::now();
    if (!no_run && plan.fuzz) {
      fs::remove_all(dir);
      fs::create_directories(dir);
      const FuzzRun fr =
          run_fuzz_inputs(plan, {"VNET_SURFACE=" + dir}, work, work + "/" + plan.name + ".log");
      map.runs = fr.processes;
      map.nonzero_exits = static_cast<int>(fr.crashed.size());
      map.notes.push_back(std::to_string(plan.inputs.size()) + " corpus inputs in " +
                          std::to_string(fr.processes) + " processes");
      for (const std::string& c : fr.crashed)
        map.notes.push_back("input ended its process (a finding; its own counts are lost): " + c);
    } else if (!no_run) {
      fs::remove_all(dir);
      fs::create_directories(dir);
      int n = 0;
      for (Command& c : plan.runs) {
        c.env.push_back("VNET_SURFACE=" + dir);
        c.stdout_path = work + "/" + plan.name + ".log." + std::to_string(n++);
        ++map.runs;
        const int rc = run(c);
        if (rc != 0) ++map.nonzero_exits;
        if (rc < 0 || rc == 126 || rc == 127) map.notes.push_back("could not start " + c.argv[0]);
      }
    }
    std::vector<fs::path> dumps;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.path().extension() == ".json") dumps.push_back(e.path());
    std::sort(dumps.begin(), dumps.end());
    for (const fs::path& d : dumps) {
      try {
        std::ifstream in(d);
        builder.add_dump(map, nlohmann::json::parse(in));
      } catch (const std::exception& e) {
        map.notes.push_back("unreadable counts " + d.filename().string() + ": " + e.what());
      }
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr,
                 "vnet-surface: world %-15s %3d runs (%d exited non-zero), %3d dumps, %.1f s\n",
                 plan.name.c_str(), map.runs, map.nonzero_exits, map.dumps, secs);
    if (map.dumps == 0) {
      map.notes.push_back("no counts were written: is VNET_SURFACE honoured by this build?");
      complete = false;
    }
    if (!map.unlisted.empty()) complete = false;
    write_text(work + "/" + plan.name + ".json", world_json(sites, map).dump(1) + "\n");
    maps.push_back(std::move(map));
    is_fuzz.push_back(plan.fuzz);
  }

  std::printf("Attack surface: %zu device read sites in driver/\n\n", sites.size());
  std::printf("%s\n", text_table(sites, maps, is_fuzz).c_str());
  for (const WorldMap& m : maps) {
    for (const std::string& n : m.notes) std::printf("%s: %s\n", m.name.c_str(), n.c_str());
    for (const auto& [where, hits] : m.unlisted)
      std::printf("%s: UNLISTED driver read at %s (%llu hits): the site enumerator missed it\n",
                  m.name.c_str(), where.c_str(), static_cast<unsigned long long>(hits));
    if (m.outside_driver)
      std::printf("%s: %llu reads with no driver/ frame (harness or tool reads)\n", m.name.c_str(),
                  static_cast<unsigned long long>(m.outside_driver));
  }
  bool any_fuzz = false;
  for (bool f : is_fuzz) any_fuzz = any_fuzz || f;
  size_t unreached_by_fuzz = 0, not_fuzzed_yet = 0;
  if (any_fuzz) {
    const std::map<std::string, std::string> unfuzzed =
        read_unfuzzed(source + "/tools/vnet-surface/unfuzzed-sites.txt");
    for (size_t i = 0; i < sites.size(); ++i) {
      if (fuzz_reach(maps, is_fuzz, i) > 0) continue;
      const std::string id = sites[i].id();
      const auto debt = unfuzzed.find(id.substr(0, id.rfind(':')));
      if (debt != unfuzzed.end()) {
        ++not_fuzzed_yet;
        std::printf("not fuzzed yet: %s %s (%s): %s\n", id.c_str(), sites[i].field.c_str(),
                    sites[i].function.c_str(), debt->second.c_str());
        continue;
      }
      ++unreached_by_fuzz;
      std::printf("no fuzz target reaches %s %s (%s)\n", id.c_str(), sites[i].field.c_str(),
                  sites[i].function.c_str());
    }
    std::printf(
        "sites reached by at least one fuzz target: %zu of %zu (%zu not fuzzed yet, listed in "
        "tools/vnet-surface/unfuzzed-sites.txt)\n",
        sites.size() - unreached_by_fuzz - not_fuzzed_yet, sites.size(), not_fuzzed_yet);
    // Reached is not exercised: a site whose value no fuzz target ever
    // varied cannot drive the check behind it.
    for (size_t i = 0; i < sites.size(); ++i) {
      const ValueSet v = fuzz_values(maps, is_fuzz, i);
      if (v.hits == 0 || v.more || v.values.size() != 1) continue;
      std::printf("fuzzing reaches %s %s with one value only (0x%llx)\n", sites[i].id().c_str(),
                  sites[i].field.c_str(), static_cast<unsigned long long>(*v.values.begin()));
    }
    // The same per net-layer use of a transport or ring read.
    for (size_t i = 0; i < sites.size(); ++i) {
      std::map<std::string, ValueSet> uses;
      for (size_t w = 0; w < maps.size(); ++w)
        if (is_fuzz[w])
          for (const auto& [use, v] : maps[w].sites[i].uses) uses[use].merge(v);
      for (const auto& [use, v] : uses)
        if (!v.more && v.values.size() == 1)
          std::printf("fuzzing reaches %s %s from %s with one value only (0x%llx)\n",
                      sites[i].id().c_str(), sites[i].field.c_str(), use.c_str(),
                      static_cast<unsigned long long>(*v.values.begin()));
    }
  }
  if (require_fuzz && (!any_fuzz || unreached_by_fuzz > 0)) complete = false;

  const std::string md = markdown_table(sites, maps, is_fuzz);
  const std::string uses =
      "Transport and ring reads by the net-layer call that reached them (hits/distinct values "
      "per world):\n\n" +
      markdown_uses(sites, maps);
  if (!markdown_path.empty() && !write_text(markdown_path, md + "\n" + uses)) {
    std::fprintf(stderr, "vnet-surface: cannot write %s\n", markdown_path.c_str());
    return 2;
  }
  if (!doc_path.empty() && !update_doc(doc_path, md + "\n" + uses)) {
    std::fprintf(stderr, "vnet-surface: %s has no vnet-surface markers\n", doc_path.c_str());
    return 2;
  }
  if (json_path.empty()) json_path = work + "/surface.json";
  write_text(json_path, merged_json(sites, maps, is_fuzz).dump(1) + "\n");
  std::printf("%s\n", complete ? "surface map: complete" : "surface map: INCOMPLETE");
  return complete ? 0 : 1;
}
