// SharedMemory: the one memory region a vhost-user front end shares with
// its back end -- rings, control-queue buffers and packet buffers all come
// from it. An anonymous memfd, mapped shared here and handed to the back
// end once with SET_MEM_TABLE; the back end maps it too.
//
//   front end VA  [base, base+size)  == the "guest physical" addresses of the
//   memory table  (guest_phys_addr = userspace_addr = base, mmap_offset 0)
//
// So every device address the driver writes into a descriptor is simply
// the front end's own pointer, as in DPDK's virtio-user: no translation on
// the hot path, and contains() is the one bounds check.
//
// Allocation: first fit over a free list, coalescing on free, so a driver
// that is stopped and attached again reuses its ring memory. Not thread
// safe: the driver allocates from its control path only.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <map>
#include <string>

namespace vnet::vhost {

class SharedMemory {
 public:
  SharedMemory() = default;
  ~SharedMemory();
  SharedMemory(const SharedMemory&) = delete;
  SharedMemory& operator=(const SharedMemory&) = delete;

  // Creates and maps size bytes (rounded up to 2 MiB). False, with error(),
  // when memfd_create, ftruncate or mmap fail.
  bool create(size_t size);

  // Aligned block of at least size bytes, zeroed; nullptr when full.
  void* alloc(size_t size, size_t align);
  void free(void* p);

  bool contains(const void* p, size_t len) const {
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    return a >= base_ && len <= size_ && a - base_ <= size_ - len;
  }
  int fd() const { return fd_; }
  uint8_t* base() const { return reinterpret_cast<uint8_t*>(base_); }
  size_t size() const { return size_; }
  size_t bytes_in_use() const { return in_use_; }
  const std::string& error() const { return error_; }

 private:
  int fd_ = -1;
  uintptr_t base_ = 0;
  size_t size_ = 0;
  size_t in_use_ = 0;
  std::map<size_t, size_t> free_;  // offset -> length, disjoint, coalesced
  std::map<size_t, size_t> used_;  // block offset -> length (for free)
  std::string error_;
};

}  // namespace vnet::vhost
