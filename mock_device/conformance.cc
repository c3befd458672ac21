#include "mock_device/conformance.h"

namespace vnet::mock {

void Conformance::report(std::string_view section, std::string message) {
  ++total_;
  for (auto& v : violations_) {
    if (v.section == section && v.message == message) {
      ++v.count;
      return;
    }
  }
  if (violations_.size() >= kMaxDistinct) {
    ++dropped_;
    return;
  }
  violations_.push_back(Violation{std::string(section), std::move(message), 1});
}

bool Conformance::has(std::string_view section) const {
  return count(section) != 0;
}

uint64_t Conformance::count(std::string_view section) const {
  uint64_t n = 0;
  for (const auto& v : violations_)
    if (v.section == section) n += v.count;
  return n;
}

void Conformance::clear() {
  violations_.clear();
  total_ = 0;
  dropped_ = 0;
}

}  // namespace vnet::mock
