// DmaMappings: the mock's IOMMU, for devices that negotiate
// VIRTIO_F_ACCESS_PLATFORM (virtio 1.2, 6.1: the device accesses memory
// through the platform's translation, not by guest-physical address).
//
//   driver                       MockPlatform                MockDevice
//   dma_alloc (rings)  ------->  add_coherent(phys, len)     (identity)
//   dma_map (buffers)  ------->  map(phys, len) -> IOVA      translate(IOVA)
//   dma_unmap          ------->  unmap(IOVA, len)            -> phys, or a
//                                                            violation
//
// IOVAs come from a bump allocator above kIovaBase and are never reused,
// so the device can tell an address that was never mapped from one that
// was mapped and has since been unmapped (a use after unmap). Coherent
// regions (the rings) are identity-mapped while allocated.
//
// Threading: none (the mock runs on the caller's thread).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mock_device/flat_map.h"
#include "mock_device/guest_memory.h"

namespace vnet::mock {

class DmaMappings {
 public:
  static constexpr uint64_t kIovaBase = 0x10'0000'0000;  // far from any guest-physical address

  enum class Lookup : uint8_t { kOk, kNeverMapped, kUnmapped };

  // Whether the platform has this IOMMU at all (MockPlatform::set_iommu);
  // without one, ACCESS_PLATFORM addresses are guest-physical.
  void set_enabled(bool on) { enabled_ = on; }
  bool enabled() const { return enabled_; }

  // Driver side (through MockPlatform).
  uint64_t map(uint64_t phys, uint64_t len);
  // False when [iova, iova + len) is not exactly a live mapping.
  bool unmap(uint64_t iova, uint64_t len);
  void add_coherent(uint64_t phys, uint64_t len) { coherent_[phys] = len; }
  void remove_coherent(uint64_t phys) { coherent_.erase(phys); }

  // Device side: the guest-physical address of [addr, addr + len), which
  // must lie inside one live mapping or coherent region.
  Lookup translate(uint64_t addr, uint64_t len, uint64_t* phys) const;
  static const char* lookup_name(Lookup l);

  size_t live() const { return live_.size(); }
  uint64_t maps() const { return maps_; }
  uint64_t bad_unmaps() const { return bad_unmaps_; }

 private:
  struct Mapping {
    uint64_t phys;
    uint64_t len;
  };
  bool enabled_ = false;
  uint64_t next_iova_ = kIovaBase;
  FlatMap<uint64_t, Mapping> live_{64};       // by IOVA
  FlatMap<uint64_t, uint64_t> coherent_{16};  // phys -> len
  uint64_t maps_ = 0;
  uint64_t bad_unmaps_ = 0;
};

// What a device reaches at a driver-given address: translated through the
// IOMMU first when there is one (ACCESS_PLATFORM negotiated), then to a host
// pointer in guest memory. nullptr with *why saying which step refused.
// Every ring kind's device side reaches buffers and tables this one way.
uint8_t* device_reach(GuestMemory& mem, const DmaMappings* iommu, uint64_t addr, uint64_t len,
                      const char** why);

}  // namespace vnet::mock
