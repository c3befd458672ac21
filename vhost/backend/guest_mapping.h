// GuestMapping: a front end's memory table (SET_MEM_TABLE), mapped into the
// back end.
//
// Each region arrives as {guest_phys_addr, memory_size, userspace_addr,
// mmap_offset} plus a file descriptor; the back end maps memory_size bytes
// of the file at mmap_offset. Two address spaces then name the same bytes:
// guest-physical addresses (what descriptors carry) and the front end's own
// virtual addresses (what SET_VRING_ADDR carries); to_guest_physical()
// turns the second into the first.
//
// The front end is a peer, not a friend: a region is refused when it is
// empty, wraps either address space, overlaps another region in either, or
// asks for bytes beyond the end of its file (a mapping past EOF would
// fault the back end at the first touch: SIGBUS) -- and its file must be a
// memfd sealed against shrinking (F_SEAL_SHRINK), or the front end could
// make the end move afterwards, with the same SIGBUS. Every translation is
// bounded by one region: a range that straddles two is refused.
//
// A new table replaces the regions the device sees, but earlier mappings
// stay mapped until clear() (or destruction): a ring set up before the
// change may still point into them, and with the same file they hold the
// same bytes. At most kMaxGenerations tables are kept; a further one is
// refused.
//
// Threading: one thread (the session's).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <span>
#include <string>
#include <vector>

#include "mock_device/guest_memory.h"
#include "vhost/protocol.h"

namespace vnet::vhost {

class GuestMapping {
 public:
  static constexpr size_t kMaxGenerations = 32;

  GuestMapping() = default;
  ~GuestMapping();
  GuestMapping(const GuestMapping&) = delete;
  GuestMapping& operator=(const GuestMapping&) = delete;

  // Maps the table's num_regions regions, region i from fds[i]. The fds are
  // not closed here. False, with *why, when any region is refused (then
  // nothing changes).
  bool map(const MemoryTable& table, std::span<const int> fds, std::string* why);
  void clear();

  // The current table, as the device's guest memory regions.
  std::span<const mock::GuestMemory::Region> regions() const { return device_view_; }
  // [va, va + len) of the front end's address space, inside one region:
  // its guest-physical address. False otherwise.
  bool to_guest_physical(uint64_t va, uint64_t len, uint64_t* gpa) const;

 private:
  struct Mapping {
    void* base = nullptr;
    size_t length = 0;
  };
  struct Current {
    uint64_t gpa = 0;
    uint64_t size = 0;
    uint64_t uaddr = 0;
  };
  std::vector<Mapping> mappings_;
  std::vector<Current> current_;
  std::vector<mock::GuestMemory::Region> device_view_;
  size_t generations_ = 0;
};

}  // namespace vnet::vhost
