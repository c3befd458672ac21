#include "tools/vnet-surface/report.h"

#include <cstdio>
#include <map>
#include <set>
#include <sstream>

namespace vnet::surface_tool {
namespace {

std::string compact(uint64_t n) {
  char buf[32];
  if (n < 10000) {
    std::snprintf(buf, sizeof(buf), "%llu", static_cast<unsigned long long>(n));
  } else if (n < 10000000) {
    std::snprintf(buf, sizeof(buf), "%lluk", static_cast<unsigned long long>(n / 1000));
  } else {
    std::snprintf(buf, sizeof(buf), "%lluM", static_cast<unsigned long long>(n / 1000000));
  }
  return buf;
}

std::string short_file(const std::string& f) {
  return f.rfind("driver/", 0) == 0 ? f.substr(7) : f;
}

std::string short_world(const std::string& w) {
  return w.rfind("fuzz_", 0) == 0 ? "f." + w.substr(5) : w;
}

std::string pad(const std::string& s, size_t w) {
  return s.size() >= w ? s : s + std::string(w - s.size(), ' ');
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

int fuzz_reach(const std::vector<WorldMap>& worlds, const std::vector<bool>& is_fuzz, size_t i) {
  int n = 0;
  for (size_t w = 0; w < worlds.size(); ++w)
    if (is_fuzz[w] && worlds[w].sites.size() > i && worlds[w].sites[i].hits > 0) ++n;
  return n;
}

ValueSet fuzz_values(const std::vector<WorldMap>& worlds, const std::vector<bool>& is_fuzz,
                     size_t i) {
  ValueSet v;
  for (size_t w = 0; w < worlds.size(); ++w)
    if (is_fuzz[w] && worlds[w].sites.size() > i) v.merge(worlds[w].sites[i]);
  return v;
}

std::string text_table(const std::vector<Site>& sites, const std::vector<WorldMap>& worlds,
                       const std::vector<bool>& is_fuzz) {
  size_t site_w = 4, field_w = 5;
  for (const Site& s : sites) {
    site_w = std::max(site_w, short_file(s.file).size() + 1 + std::to_string(s.line).size());
    field_w = std::max(field_w, s.field.size());
  }
  const size_t cell = 11;
  bool any_fuzz = false;
  for (bool f : is_fuzz) any_fuzz = any_fuzz || f;
  std::ostringstream o;
  o << pad("site", site_w) << "  " << pad("kind", 8) << "  " << pad("field", field_w);
  for (const WorldMap& w : worlds) o << "  " << pad(short_world(w.name), cell);
  o << (any_fuzz ? "  fuzz" : "") << "\n";
  for (size_t i = 0; i < sites.size(); ++i) {
    const Site& s = sites[i];
    o << pad(short_file(s.file) + ":" + std::to_string(s.line), site_w) << "  " << pad(s.kind, 8)
      << "  " << pad(s.field, field_w);
    for (const WorldMap& w : worlds) {
      const SiteStats& st = w.sites.size() > i ? w.sites[i] : SiteStats{};
      o << "  " << pad(st.hits ? compact(st.hits) + "/" + st.distinct_text() : "-", cell);
    }
    const int reach = fuzz_reach(worlds, is_fuzz, i);
    if (!any_fuzz) {
      o << "\n";
      continue;
    }
    o << "  "
      << pad(std::to_string(reach) + "/" + fuzz_values(worlds, is_fuzz, i).distinct_text(), 7)
      << (reach == 0 && any_fuzz ? "  <-- no fuzz target" : "") << "\n";
  }
  o << "(cells: hits/distinct values; '-': not reached";
  if (any_fuzz) o << "; fuzz: fuzz targets that reach the site / distinct values they gave it";
  o << ")\n";
  return o.str();
}

std::string markdown_table(const std::vector<Site>& sites, const std::vector<WorldMap>& worlds,
                           const std::vector<bool>& is_fuzz) {
  std::ostringstream o;
  o << "| # | site | function | kind | field |";
  for (const WorldMap& w : worlds) o << " " << w.name << " |";
  o << " fuzz targets | fuzz values |\n|---:|---|---|---|---|";
  for (size_t w = 0; w < worlds.size(); ++w) o << "---:|";
  o << "---:|---:|\n";
  size_t fuzz_worlds = 0;
  for (bool f : is_fuzz) fuzz_worlds += f;
  for (size_t i = 0; i < sites.size(); ++i) {
    const Site& s = sites[i];
    o << "| " << i + 1 << " | `" << short_file(s.file) << ":" << s.line << "` | `" << s.function
      << "` | " << s.kind << (s.via.empty() ? "" : " (" + s.via + ")") << " | `" << s.field
      << "` |";
    for (const WorldMap& w : worlds) {
      const SiteStats& st = w.sites.size() > i ? w.sites[i] : SiteStats{};
      if (st.hits)
        o << " " << st.hits << " / " << st.distinct_text() << " |";
      else
        o << " **0** |";
    }
    const int reach = fuzz_reach(worlds, is_fuzz, i);
    const ValueSet fv = fuzz_values(worlds, is_fuzz, i);
    o << " " << (reach ? "" : "**") << reach << "/" << fuzz_worlds << (reach ? "" : "**") << " | "
      << (fv.values.size() == 1 && !fv.more ? "*1*" : fv.distinct_text()) << " |\n";
  }
  return o.str();
}

std::string markdown_uses(const std::vector<Site>& sites, const std::vector<WorldMap>& worlds) {
  std::ostringstream o;
  for (size_t i = 0; i < sites.size(); ++i) {
    // use -> world -> hits and values
    std::map<std::string, std::map<std::string, ValueSet>> uses;
    for (const WorldMap& w : worlds)
      if (w.sites.size() > i)
        for (const auto& [use, v] : w.sites[i].uses) uses[use][w.name].merge(v);
    if (uses.empty()) continue;
    o << "- `" << short_file(sites[i].file) << ":" << sites[i].line << "` `" << sites[i].field
      << "`\n";
    for (const auto& [use, per_world] : uses) {
      const size_t space = use.find(' ');
      o << "  - from `" << short_file(use.substr(0, space)) << "`"
        << (space == std::string::npos ? "" : " " + use.substr(space + 1)) << ":";
      bool first = true;
      for (const WorldMap& w : worlds) {
        const auto it = per_world.find(w.name);
        if (it == per_world.end()) continue;
        o << (first ? " " : ", ") << w.name << " " << it->second.hits << "/"
          << it->second.distinct_text();
        first = false;
      }
      o << "\n";
    }
  }
  return o.str();
}

nlohmann::json world_json(const std::vector<Site>& sites, const WorldMap& world) {
  nlohmann::json j;
  j["world"] = world.name;
  j["runs"] = world.runs;
  j["nonzero_exits"] = world.nonzero_exits;
  j["dumps"] = world.dumps;
  j["outside_driver_hits"] = world.outside_driver;
  j["unlisted"] = world.unlisted;
  j["notes"] = world.notes;
  nlohmann::json arr = nlohmann::json::array();
  for (size_t i = 0; i < sites.size(); ++i) {
    const SiteStats& st = world.sites.size() > i ? world.sites[i] : SiteStats{};
    nlohmann::json s;
    s["site"] = sites[i].id();
    s["hits"] = st.hits;
    s["distinct"] = st.values.size();
    s["more"] = st.more;
    std::vector<std::string> values;
    for (uint64_t v : st.values) values.push_back(hex(v));
    s["values"] = values;
    nlohmann::json uses = nlohmann::json::object();
    for (const auto& [use, v] : st.uses)
      uses[use] = {{"hits", v.hits}, {"distinct", v.values.size()}, {"more", v.more}};
    s["uses"] = uses;
    arr.push_back(s);
  }
  j["sites"] = arr;
  return j;
}

nlohmann::json merged_json(const std::vector<Site>& sites, const std::vector<WorldMap>& worlds,
                           const std::vector<bool>& is_fuzz) {
  nlohmann::json j;
  j["version"] = 1;
  nlohmann::json arr = nlohmann::json::array();
  for (size_t i = 0; i < sites.size(); ++i) {
    const Site& s = sites[i];
    nlohmann::json e;
    e["site"] = s.id();
    e["file"] = s.file;
    e["line"] = s.line;
    e["function"] = s.function;
    e["kind"] = s.kind;
    e["accessor"] = s.via;
    e["field"] = s.field;
    e["fuzz_targets"] = fuzz_reach(worlds, is_fuzz, i);
    const ValueSet fv = fuzz_values(worlds, is_fuzz, i);
    e["fuzz_distinct"] = fv.values.size();
    e["fuzz_more"] = fv.more;
    nlohmann::json per;
    for (const WorldMap& w : worlds) {
      const SiteStats& st = w.sites.size() > i ? w.sites[i] : SiteStats{};
      per[w.name] = {{"hits", st.hits}, {"distinct", st.values.size()}, {"more", st.more}};
    }
    e["worlds"] = per;
    arr.push_back(e);
  }
  j["sites"] = arr;
  nlohmann::json ws = nlohmann::json::array();
  for (size_t w = 0; w < worlds.size(); ++w)
    ws.push_back({{"world", worlds[w].name},
                  {"fuzz", static_cast<bool>(is_fuzz[w])},
                  {"runs", worlds[w].runs},
                  {"nonzero_exits", worlds[w].nonzero_exits},
                  {"dumps", worlds[w].dumps},
                  {"outside_driver_hits", worlds[w].outside_driver},
                  {"unlisted", worlds[w].unlisted},
                  {"notes", worlds[w].notes}});
  j["worlds"] = ws;
  return j;
}

}  // namespace vnet::surface_tool
