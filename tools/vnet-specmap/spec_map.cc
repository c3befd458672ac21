#include "tools/vnet-specmap/spec_map.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

namespace vnet::specmap {
namespace {

using nlohmann::json;

const std::set<std::string> kLevels = {"MUST", "MUST NOT", "SHOULD", "SHOULD NOT", "DEF"};
const std::set<std::string> kFields = {"id",   "section",      "heading",  "level",
                                       "text", "applies",      "checker",  "gap",
                                       "note", "unobservable", "unchecked"};

bool starts_with(const std::string& s, const char* p) {
  return s.rfind(p, 0) == 0;
}

std::string topic_of(const std::string& applies) {
  std::string t = applies.substr(std::string("later: ").size());
  const size_t paren = t.find(" (");
  if (paren != std::string::npos) t.resize(paren);
  return t;
}

std::string status_of(const Row& r) {
  std::string s;
  if (!r.checker.empty()) {
    s = "checked by";
    for (const auto& c : r.checker) s += " " + c;
    if (!r.gap.empty()) s += " (gap)";
  } else if (!r.unobservable.empty()) {
    s = "unobservable";
  } else if (!r.unchecked.empty()) {
    s = "NOT CHECKED (observable)";
  }
  return s;
}

}  // namespace

SpecMapReport check_spec_map(const json& table, std::span<const mock::SpecRule> rules) {
  SpecMapReport r;
  auto err = [&](std::string m) { r.errors.push_back(std::move(m)); };
  r.rules = rules.size();
  if (!table.is_object() || !table.contains("requirements") || !table["requirements"].is_array()) {
    err("the table is not an object with a \"requirements\" array");
    return r;
  }
  if (table.contains("spec") && table["spec"].is_string()) r.spec = table["spec"];
  const std::regex id_re(R"(^(drv|def)-([0-9]+(\.[0-9]+)*)-([0-9]+)$)");
  std::set<std::string> ids;
  std::set<std::string> rule_ids;
  for (const auto& rule : rules) rule_ids.insert(std::string(rule.id));
  std::map<std::string, const Row*> by_id;

  size_t index = 0;
  for (const json& j : table["requirements"]) {
    const std::string where = "row " + std::to_string(index++);
    if (!j.is_object()) {
      err(where + ": not an object");
      continue;
    }
    auto str = [&](const char* k) -> std::string {
      if (!j.contains(k)) return {};
      if (!j[k].is_string()) {
        err(where + ": " + k + " is not a string");
        return {};
      }
      return j[k].get<std::string>();
    };
    Row row;
    row.id = str("id");
    const std::string at = row.id.empty() ? where : row.id;
    for (const auto& [k, v] : j.items())
      if (!kFields.count(k)) err(at + ": unknown field \"" + k + "\"");
    row.section = str("section");
    row.level = str("level");
    row.text = str("text");
    row.applies = str("applies");
    row.gap = str("gap");
    row.unobservable = str("unobservable");
    row.unchecked = str("unchecked");
    if (j.contains("checker")) {
      if (!j["checker"].is_array() || j["checker"].empty()) {
        err(at + ": checker is not a non-empty array of rule ids");
      } else {
        for (const auto& c : j["checker"]) {
          if (!c.is_string()) {
            err(at + ": checker holds a non-string");
            continue;
          }
          row.checker.push_back(c.get<std::string>());
        }
      }
    }
    const size_t errors_before = r.errors.size();
    std::smatch m;
    if (!std::regex_match(row.id, m, id_re)) {
      err(at + ": id is not drv-<section>-<n> or def-<section>-<n>");
    } else if (m[2].str() != row.section) {
      err(at + ": section \"" + row.section + "\" is not the id's section " + m[2].str());
    }
    if (!ids.insert(row.id).second) err(at + ": duplicate id");
    const bool def = starts_with(row.id, "def-");
    if (!kLevels.count(row.level))
      err(at + ": level \"" + row.level + "\" is not MUST, MUST NOT, SHOULD, SHOULD NOT or DEF");
    else if (def != (row.level == "DEF"))
      err(at + ": level DEF goes with def- ids and only with them");
    if (row.text.empty()) err(at + ": no text");
    const bool yes = row.applies == "yes";
    const bool later = starts_with(row.applies, "later: ") && row.applies.size() > 7;
    const bool no = starts_with(row.applies, "no: ") && row.applies.size() > 4;
    if (!yes && !later && !no)
      err(at + ": applies \"" + row.applies + "\" is not yes, \"later: <topic>\" or \"no: <why>\"");
    for (const auto& c : row.checker)
      if (!rule_ids.count(c))
        err(at + ": names checker " + c + ", which is not a rule of the mock (spec_rules.h)");
    const int reasons =
        int(!row.checker.empty()) + int(!row.unobservable.empty()) + int(!row.unchecked.empty());
    if (yes && reasons == 0)
      err(at + ": applies now but has neither a checker nor a reason (unobservable / unchecked)");
    if (reasons > 1) err(at + ": give one of checker, unobservable and unchecked, not several");
    if (!row.gap.empty() && row.checker.empty()) err(at + ": a gap without a checker");
    if (r.errors.size() != errors_before) continue;

    r.rows.push_back(row);
    if (def) {
      ++r.definitions;
      continue;
    }
    ++r.requirements;
    const bool must = row.level == "MUST" || row.level == "MUST NOT";
    if (yes) {
      ++r.applicable;
      r.applicable_must += must;
      if (!row.checker.empty()) {
        ++r.checked;
        r.checked_must += must;
        r.checked_with_gap += !row.gap.empty();
      } else if (!row.unobservable.empty()) {
        ++r.unobservable;
      } else {
        ++r.unchecked;
      }
    } else if (later) {
      ++r.later;
      r.later_checked += !row.checker.empty();
      ++r.later_by_topic[topic_of(row.applies)];
    } else {
      ++r.not_applicable;
    }
  }
  for (const auto& row : r.rows) by_id[row.id] = &row;
  for (const auto& rule : rules) {
    const std::string id(rule.id);
    auto it = by_id.find(id);
    if (it == by_id.end()) {
      if (!ids.count(id)) err("rule " + id + " (spec_rules.h) is not a row of the table");
      continue;
    }
    const auto& c = it->second->checker;
    if (std::find(c.begin(), c.end(), id) == c.end())
      err("rule " + id + " (spec_rules.h): its row does not name it as a checker");
  }
  return r;
}

std::string summary_text(const SpecMapReport& r) {
  char buf[4096];
  std::string s;
  auto line = [&](const char* fmt, auto... args) {
    std::snprintf(buf, sizeof buf, fmt, args...);
    s += buf;
  };
  line("spec map: %s, %zu rows: %zu driver requirements, %zu definitions the mock enforces\n",
       r.spec.c_str(), r.requirements + r.definitions, r.requirements, r.definitions);
  line("  applicable now                 %4zu  (MUST/MUST NOT %zu)\n", r.applicable,
       r.applicable_must);
  line("    checked by a mock rule       %4zu  (MUST/MUST NOT %zu; %zu with a stated gap)\n",
       r.checked, r.checked_must, r.checked_with_gap);
  line("    unobservable, with reason    %4zu\n", r.unobservable);
  line("    observable, not checked yet  %4zu\n", r.unchecked);
  line("  later                          %4zu  (%zu already checked by the mock)\n", r.later,
       r.later_checked);
  for (const auto& [topic, n] : r.later_by_topic) line("    %-32s %4zu\n", topic.c_str(), n);
  line("  not applicable                 %4zu\n", r.not_applicable);
  line("  mock rules (spec_rules.h)      %4zu\n", r.rules);
  return s;
}

std::string list_text(const SpecMapReport& r) {
  std::string s;
  for (const auto& row : r.rows) {
    std::string status = row.applies == "yes" ? status_of(row) : row.applies;
    if (row.applies != "yes" && !row.checker.empty()) status += "; " + status_of(row);
    s += row.id + "  " + row.level + "  " + status + "\n";
  }
  return s;
}

std::string unchecked_text(const SpecMapReport& r) {
  std::string s;
  for (const auto& row : r.rows)
    if (row.applies == "yes" && row.checker.empty() && row.unobservable.empty())
      s += "  " + row.id + "  " + row.level + ": " + row.text + "\n      could: " + row.unchecked +
           "\n";
  return s;
}

}  // namespace vnet::specmap
