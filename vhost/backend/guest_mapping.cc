#include "vhost/backend/guest_mapping.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace vnet::vhost {
namespace {

bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) {
  return a < b + blen && b < a + alen;
}

std::string hex(uint64_t v) {
  char buf[24];
  snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

GuestMapping::~GuestMapping() {
  clear();
}

void GuestMapping::clear() {
  for (const Mapping& m : mappings_) munmap(m.base, m.length);
  mappings_.clear();
  current_.clear();
  device_view_.clear();
  generations_ = 0;
}

bool GuestMapping::map(const MemoryTable& table, std::span<const int> fds, std::string* why) {
  const uint32_t n = table.num_regions;
  if (n == 0 || n > kMaxMemoryRegions) {
    *why = "memory table with " + std::to_string(n) + " regions (1.." +
           std::to_string(kMaxMemoryRegions) + ")";
    return false;
  }
  if (fds.size() != n) {
    *why = "memory table with " + std::to_string(n) + " regions but " + std::to_string(fds.size()) +
           " file descriptors";
    return false;
  }
  if (generations_ >= kMaxGenerations) {
    *why = "more than " + std::to_string(kMaxGenerations) + " memory tables in one session";
    return false;
  }
  const uint64_t page = uint64_t(sysconf(_SC_PAGESIZE));
  for (uint32_t i = 0; i < n; ++i) {
    const MemoryRegion& r = table.regions[i];
    const std::string name = "memory region " + std::to_string(i) + " ";
    if (r.memory_size == 0) {
      *why = name + "is empty";
      return false;
    }
    if (r.guest_phys_addr + r.memory_size < r.guest_phys_addr ||
        r.userspace_addr + r.memory_size < r.userspace_addr ||
        r.mmap_offset + r.memory_size < r.mmap_offset) {
      *why = name + "wraps an address space (size " + hex(r.memory_size) + ")";
      return false;
    }
    for (uint32_t j = 0; j < i; ++j) {
      const MemoryRegion& o = table.regions[j];
      if (overlaps(r.guest_phys_addr, r.memory_size, o.guest_phys_addr, o.memory_size) ||
          overlaps(r.userspace_addr, r.memory_size, o.userspace_addr, o.memory_size)) {
        *why = name + "overlaps region " + std::to_string(j);
        return false;
      }
    }
    // The size checked below must stay true: a file the front end can
    // still shrink would fault the back end (SIGBUS) at the next touch of
    // a ring in it. Only a memfd sealed against shrinking is taken (QEMU's
    // memory-backend-memfd seals by default).
    const int seals = fcntl(fds[i], F_GET_SEALS);
    if (seals < 0 || (seals & F_SEAL_SHRINK) == 0) {
      *why = name + "is a file the front end can still shrink (" +
             (seals < 0 ? std::string("not a memfd") : std::string("no F_SEAL_SHRINK")) +
             "): a shrink would fault the back end at its next access";
      return false;
    }
    struct stat st {};
    if (fstat(fds[i], &st) != 0) {
      *why = name + "comes with a file descriptor that cannot be examined";
      return false;
    }
    if (uint64_t(st.st_size) < r.mmap_offset + r.memory_size) {
      *why = name + "ends at file offset " + hex(r.mmap_offset + r.memory_size) +
             ", beyond the file's " + hex(uint64_t(st.st_size)) + " bytes";
      return false;
    }
  }
  std::vector<Mapping> made;
  std::vector<mock::GuestMemory::Region> view;
  std::vector<Current> current;
  for (uint32_t i = 0; i < n; ++i) {
    const MemoryRegion& r = table.regions[i];
    const uint64_t aligned = r.mmap_offset & ~(page - 1);
    const size_t length = size_t(r.memory_size + (r.mmap_offset - aligned));
    void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i], off_t(aligned));
    if (p == MAP_FAILED) {
      for (const Mapping& m : made) munmap(m.base, m.length);
      *why = "memory region " + std::to_string(i) + " could not be mapped";
      return false;
    }
    made.push_back(Mapping{p, length});
    view.push_back(mock::GuestMemory::Region{
        r.guest_phys_addr, static_cast<uint8_t*>(p) + (r.mmap_offset - aligned), r.memory_size});
    current.push_back(Current{r.guest_phys_addr, r.memory_size, r.userspace_addr});
  }
  mappings_.insert(mappings_.end(), made.begin(), made.end());
  device_view_ = std::move(view);
  current_ = std::move(current);
  ++generations_;
  return true;
}

bool GuestMapping::to_guest_physical(uint64_t va, uint64_t len, uint64_t* gpa) const {
  for (const Current& c : current_) {
    const uint64_t off = va - c.uaddr;
    if (off > c.size || len > c.size - off) continue;
    *gpa = c.gpa + off;
    return true;
  }
  return false;
}

}  // namespace vnet::vhost
