#include "surface/surface_platform.h"

#include <cstring>

#include "driver/spec/split_ring_layout.h"

namespace vnet::surface {

uint32_t SurfacePlatform::reg_read(Region region, uint32_t offset, uint8_t width) {
  const uint32_t v = inner_.reg_read(region, offset, width);
  const uint64_t value = v;
  counts_.add(ReadKind::kRegRead, SiteCounts::capture(), &value, 1);
  return v;
}

BarInfo SurfacePlatform::bar_info(uint8_t bar) {
  const BarInfo info = inner_.bar_info(bar);
  const uint64_t value = (info.size & ((uint64_t{1} << 62) - 1)) | (uint64_t{info.is_io} << 62) |
                         (uint64_t{info.present} << 63);
  counts_.add(ReadKind::kBarInfo, SiteCounts::capture(), &value, 1);
  return info;
}

void SurfacePlatform::fetch(const DeviceMemRef& what, const volatile void* src, void* dst,
                            size_t len) {
  inner_.fetch(what, src, dst, len);
  // A run of used elements: one value per element ({id, len}, 8 bytes).
  constexpr size_t kElem = sizeof(spec::VringUsedElem);
  static_assert(kElem == 8);
  uint64_t values[SiteCounts::kMaxValues];
  size_t n = 0;
  if (what.part == MemPart::kUsedElem && len % kElem == 0 && len > 0) {
    for (size_t off = 0; off < len && n < SiteCounts::kMaxValues; off += kElem)
      std::memcpy(&values[n++], static_cast<const uint8_t*>(dst) + off, kElem);
  } else if (len <= sizeof(uint64_t)) {
    values[0] = 0;
    std::memcpy(&values[0], dst, len);
    n = 1;
  } else {
    values[0] = hash_bytes(dst, len);
    n = 1;
  }
  counts_.add(ReadKind::kFetch, SiteCounts::capture(), values, n);
}

}  // namespace vnet::surface
