// GuestMemory: the simulated guest-physical memory the mock device works in.
//
//   device address   base_                                  base_ + size_
//                    |<------------------ arena ------------------>|
//   host pointer     host_                                  host_ + size_
//
// Everything the driver shares with the device (rings, packet buffers,
// headers) must be allocated here: dma_alloc() of the mock platform and the
// mock buffer pool both draw from this arena. Device addresses start at a
// nonzero base (0x4000'0000 by default), so a driver that hands the device a
// CPU pointer instead of a device address is caught: translate() of such a
// pointer fails, and the device records a conformance violation instead of
// touching memory outside the arena. The device never dereferences anything
// it did not obtain from translate().
//
// translate(addr, len) is the device's only way into guest memory: one
// subtraction and two compares, cheap enough for the per-frame path.
//
// The allocator is a first-fit free list (allocation is not on the hot path).
// Memory comes from an anonymous mapping, so a large arena costs nothing
// until it is touched, and it reads as zero.
//
// Adopted memory (set_regions): instead of its own arena, the device works
// in memory someone else owns and maps -- a real guest's RAM, shared over
// vhost-user as several regions of guest-physical address space. The
// largest region takes the fast path above; a translate() that misses it
// tries the others (out of line), and a range that straddles two regions
// is refused like any other range outside memory. Adopted memory has no
// allocator (allocate() fails) and is not unmapped here.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mock_device/flat_map.h"

namespace vnet::mock {

class GuestMemory {
 public:
  static constexpr uint64_t kDefaultBase = 0x4000'0000;
  static constexpr size_t kDefaultSize = size_t{64} << 20;
  static constexpr size_t kPageSize = 4096;

  struct Allocation {
    uint8_t* host = nullptr;
    uint64_t device_addr = 0;
    size_t size = 0;
  };

  // size is rounded up to a whole page; base must be page aligned and nonzero.
  explicit GuestMemory(size_t size = kDefaultSize, uint64_t base = kDefaultBase);
  ~GuestMemory();
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  uint64_t base() const { return base_; }
  size_t size() const { return size_; }

  // Host view of [addr, addr + len), or nullptr when any byte of it lies
  // outside the arena.
  uint8_t* translate(uint64_t addr, uint64_t len) {
    const uint64_t off = addr - base_;
    if (off > size_ || len > size_ - off)
      return others_ == 0 ? nullptr : translate_other(addr, len);
    if (observer_ != nullptr) observer_(observer_context_, host_ + off, len);
    return host_ + off;
  }
  // An observer of translate(): told the host view of every range handed
  // out, before the device touches it (the fuzz harness lifts its ASan
  // poisoning of returned buffers only where a lying device reaches).
  // nullptr: none.
  using Observer = void (*)(void* context, uint8_t* host, uint64_t len);
  void set_observer(Observer observer, void* context) {
    observer_ = observer;
    observer_context_ = context;
  }
  const uint8_t* translate(uint64_t addr, uint64_t len) const {
    return const_cast<GuestMemory*>(this)->translate(addr, len);
  }
  // True when [p, p + len) is inside the arena.
  bool contains(const void* p, size_t len) const {
    const uintptr_t off = reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(host_);
    return off <= size_ && len <= size_ - off;
  }
  // Device address of a host pointer inside the arena (0 when outside).
  uint64_t device_addr(const void* p) const {
    return contains(p, 0) ? base_ + (static_cast<const uint8_t*>(p) - host_) : 0;
  }

  // Allocates size bytes aligned to align (a power of two; at least 16) and
  // zeroes them. Returns false when the arena has no such hole.
  bool allocate(size_t size, size_t align, Allocation* out);
  // Frees an allocation by its device address. Returns false (and changes
  // nothing) when addr is not the start of a live allocation: a double free
  // or a foreign address.
  bool free(uint64_t device_addr);

  // One region of adopted memory: guest-physical [gpa, gpa + size) is host
  // [host, host + size).
  struct Region {
    uint64_t gpa = 0;
    uint8_t* host = nullptr;
    uint64_t size = 0;
  };
  static constexpr size_t kMaxRegions = 8;
  // An empty device view (no region: every translate() fails), to be given
  // regions by set_regions().
  struct Adopted {};
  explicit GuestMemory(Adopted);
  // Replaces the adopted regions (at most kMaxRegions, each nonempty, none
  // overlapping another in guest-physical space). False, and nothing
  // changed, when they break those rules or this memory has its own arena.
  bool set_regions(const Region* regions, size_t count);
  bool adopted() const { return adopted_; }

  size_t bytes_in_use() const { return in_use_; }
  size_t live_allocations() const { return live_.size(); }
  uint64_t bad_frees() const { return bad_frees_; }

 private:
  uint8_t* translate_other(uint64_t addr, uint64_t len);

  uint8_t* host_ = nullptr;
  uint64_t base_ = 0;
  bool adopted_ = false;
  size_t others_ = 0;  // adopted regions besides the fast one
  Region other_[kMaxRegions];
  size_t size_ = 0;
  size_t in_use_ = 0;
  uint64_t bad_frees_ = 0;
  Observer observer_ = nullptr;
  void* observer_context_ = nullptr;
  FlatMap<size_t, size_t> free_{64};  // offset -> length, coalesced
  FlatMap<size_t, size_t> live_{64};  // offset -> length
};

}  // namespace vnet::mock
