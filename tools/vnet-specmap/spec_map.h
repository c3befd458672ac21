// The spec map check: docs/spec-map.json (every driver requirement of
// virtio 1.2 that binds this driver, see docs/spec-map.md) against the mock
// device's conformance rules (mock_device/spec_rules.h).
//
// check_spec_map() validates the table's schema, cross-checks it with the
// rules in both directions and counts. A table is consistent when errors is
// empty:
//   - every row has a well-formed id whose section part is its section, a
//     known level, text, and applies = "yes" | "later: <topic>" | "no: <why>";
//   - ids are unique;
//   - every checker a row names is a rule of kSpecRules;
//   - every rule is the id of a row, and that row names it as a checker;
//   - every applicable row ("yes") has exactly one of checker, unobservable
//     (why the device cannot see it) or unchecked (how it could: future work).
#pragma once

#include <stddef.h>

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>
#include <vector>

#include "mock_device/spec_rules.h"

namespace vnet::specmap {

struct Row {
  std::string id, section, level, text, applies;
  std::vector<std::string> checker;
  std::string gap, unobservable, unchecked;
};

struct SpecMapReport {
  std::vector<std::string> errors;
  std::vector<Row> rows;  // as read (valid rows only)
  std::string spec;

  size_t requirements = 0;  // drv- rows
  size_t definitions = 0;   // def- rows
  size_t applicable = 0;    // applies "yes" (drv- rows)
  size_t checked = 0;       // applicable with a checker
  size_t checked_with_gap = 0;
  size_t unobservable = 0;
  size_t unchecked = 0;  // observable, no checker yet
  size_t later = 0;
  size_t later_checked = 0;  // later rows the mock already checks
  size_t not_applicable = 0;
  size_t applicable_must = 0, checked_must = 0;  // MUST / MUST NOT among the above
  size_t rules = 0;
  std::map<std::string, size_t> later_by_topic;  // topic without its parenthesis
};

SpecMapReport check_spec_map(const nlohmann::json& table,
                             std::span<const mock::SpecRule> rules = mock::kSpecRules);

// The summary vnet-specmap prints (and CI shows).
std::string summary_text(const SpecMapReport& r);
// One line per row: id, level, status.
std::string list_text(const SpecMapReport& r);
// The applicable rows without a checker that the device could observe.
std::string unchecked_text(const SpecMapReport& r);

}  // namespace vnet::specmap
