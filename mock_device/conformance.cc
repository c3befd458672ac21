#include "mock_device/conformance.h"

#include <cstdio>

namespace vnet::mock {

void Conformance::report(SpecRuleId rule, std::string message) {
  report(rule, rule.section(), std::move(message));
}

void Conformance::report(SpecRuleId rule, std::string_view section, std::string message) {
  ++total_;
  ++fired_[rule.index()];
  const std::string_view id = rule.id();
  for (auto& v : violations_) {
    if (v.id == id && v.section == section && v.message == message) {
      ++v.count;
      return;
    }
  }
  if (violations_.size() >= kMaxDistinct) {
    ++dropped_;
    return;
  }
  violations_.push_back(Violation{std::string(section), std::move(message), 1, std::string(id)});
}

bool Conformance::has(std::string_view section_or_id) const {
  return count(section_or_id) != 0;
}

uint64_t Conformance::count(std::string_view section_or_id) const {
  uint64_t n = 0;
  for (const auto& v : violations_)
    if (v.section == section_or_id || v.id == section_or_id) n += v.count;
  return n;
}

void Conformance::clear() {
  violations_.clear();
  total_ = 0;
  dropped_ = 0;
  for (auto& f : fired_) f = 0;
}

std::string hex(uint64_t v) {
  char buf[24];
  snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string qname(uint16_t index) {
  return "queue " + std::to_string(index) + ": ";
}

}  // namespace vnet::mock
