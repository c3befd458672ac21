// A minimal Platform for unit tests of the ring and transport layers: DMA
// memory from the heap (device address = CPU address + a fixed offset, so
// a mix-up shows), registers answered by a test-supplied register file, and
// counters of what the driver did through the shim.
#pragma once

#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "driver/platform/platform.h"

namespace vnet::testing {

inline constexpr uint64_t kDeviceAddrOffset = 0x1000'0000'0000ull;

class RingPlatform : public Platform {
 public:
  std::function<uint32_t(Region, uint32_t, uint8_t)> on_read = [](Region, uint32_t, uint8_t) {
    return 0u;
  };
  std::function<void(Region, uint32_t, uint8_t, uint32_t)> on_write = [](Region, uint32_t, uint8_t,
                                                                         uint32_t) {};
  std::map<uint8_t, BarInfo> bars;
  int fetches = 0;
  std::vector<std::pair<DeviceMemRef, size_t>> fetch_log;
  int published_chains = 0;
  int live_allocations = 0;
  std::vector<std::pair<Region, uint32_t>> writes;

  uint32_t reg_read(Region r, uint32_t off, uint8_t w) override { return on_read(r, off, w); }
  void reg_write(Region r, uint32_t off, uint8_t w, uint32_t v) override {
    writes.emplace_back(r, off);
    on_write(r, off, w, v);
  }
  BarInfo bar_info(uint8_t bar) override {
    auto it = bars.find(bar);
    return it == bars.end() ? BarInfo{} : it->second;
  }
  bool dma_alloc(size_t size, size_t align, DmaRegion* out) override {
    void* p = std::aligned_alloc(align, (size + align - 1) / align * align);
    if (!p) return false;
    std::memset(p, 0xA5, size);  // the driver must initialise what it uses
    *out = DmaRegion{p, reinterpret_cast<uint64_t>(p) + kDeviceAddrOffset, size};
    ++live_allocations;
    return true;
  }
  void dma_free(const DmaRegion& r) override {
    std::free(r.cpu);
    --live_allocations;
  }
  // Every fetch and barrier in order ("fetch used_idx", "barrier 2", ...),
  // and a hook that sees ring memory at the moment of each barrier.
  std::vector<std::string> events;
  std::function<void(Barrier)> on_barrier = [](Barrier) {};

  void fetch(const DeviceMemRef& what, const volatile void* src, void* dst, size_t len) override {
    ++fetches;
    static const char* const kParts[] = {"used_flags",  "used_idx", "used_elem",   "rx_header",
                                         "avail_event", "ctrl_ack", "packed_desc", "device_event"};
    events.push_back(std::string("fetch ") + kParts[static_cast<int>(what.part) % 8]);
    fetch_log.emplace_back(what, len);
    std::memcpy(dst, const_cast<const void*>(src), len);
  }
  // Every announcement, in order (indirect chains included).
  std::vector<PublishedChain> chains;
  void published(const PublishedChain& c) override {
    ++published_chains;
    chains.push_back(c);
  }
  void barrier(Barrier kind) override {
    events.push_back("barrier " + std::to_string(static_cast<int>(kind)));
    on_barrier(kind);
  }
  uint64_t now_ns() override { return 12345; }
  void log(LogLevel, const char*) override {}
};

}  // namespace vnet::testing
