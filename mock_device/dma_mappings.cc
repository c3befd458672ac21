#include "mock_device/dma_mappings.h"

namespace vnet::mock {

namespace {

template <typename Map, typename Len>
bool inside(const Map& m, uint64_t addr, uint64_t len, Len&& length_of, uint64_t* start) {
  auto it = m.upper_bound(addr);
  if (it == m.begin()) return false;
  --it;
  const uint64_t off = addr - it->first;
  const uint64_t l = length_of(it->second);
  if (off > l || len > l - off) return false;
  *start = it->first;
  return true;
}

}  // namespace

uint64_t DmaMappings::map(uint64_t phys, uint64_t len) {
  const uint64_t iova = next_iova_;
  // A guard page between mappings: an overrun of one is never inside the next.
  next_iova_ += (len + 4095 + 4096) & ~uint64_t{4095};
  live_[iova] = Mapping{phys, len};
  ++maps_;
  return iova;
}

bool DmaMappings::unmap(uint64_t iova, uint64_t len) {
  auto it = live_.find(iova);
  if (it == live_.end() || it->second.len != len) {
    ++bad_unmaps_;
    return false;
  }
  live_.erase(it);
  return true;
}

DmaMappings::Lookup DmaMappings::translate(uint64_t addr, uint64_t len, uint64_t* phys) const {
  uint64_t start = 0;
  if (inside(
          live_, addr, len, [](const Mapping& m) { return m.len; }, &start)) {
    *phys = live_.find(start)->second.phys + (addr - start);
    return Lookup::kOk;
  }
  if (inside(
          coherent_, addr, len, [](uint64_t l) { return l; }, &start)) {
    *phys = addr;
    return Lookup::kOk;
  }
  return addr >= kIovaBase && addr < next_iova_ ? Lookup::kUnmapped : Lookup::kNeverMapped;
}

const char* DmaMappings::lookup_name(Lookup l) {
  switch (l) {
    case Lookup::kOk:
      return "mapped";
    case Lookup::kNeverMapped:
      return "never mapped by the driver";
    case Lookup::kUnmapped:
      return "used after the driver unmapped it";
  }
  return "?";
}

uint8_t* device_reach(GuestMemory& mem, const DmaMappings* iommu, uint64_t addr, uint64_t len,
                      const char** why) {
  uint64_t phys = addr;
  if (iommu != nullptr) {
    const DmaMappings::Lookup l = iommu->translate(addr, len, &phys);
    if (l != DmaMappings::Lookup::kOk) {
      *why = DmaMappings::lookup_name(l);
      return nullptr;
    }
  }
  uint8_t* p = mem.translate(phys, len);
  if (p == nullptr) *why = "outside guest memory";
  return p;
}

}  // namespace vnet::mock
