#include "mock_device/guest_memory.h"

#include <sys/mman.h>

#include <cstring>
#include <new>
#include <stdexcept>

namespace vnet::mock {

GuestMemory::GuestMemory(size_t size, uint64_t base) : base_(base) {
  if (base == 0 || base % kPageSize != 0)
    throw std::invalid_argument("guest memory base must be nonzero and page aligned");
  if (size == 0) throw std::invalid_argument("guest memory size must be nonzero");
  size_ = (size + kPageSize - 1) & ~(kPageSize - 1);
  void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  host_ = static_cast<uint8_t*>(p);
  free_.emplace(0, size_);
}

GuestMemory::GuestMemory(Adopted) : adopted_(true) {}

GuestMemory::~GuestMemory() {
  if (!adopted_) munmap(host_, size_);
}

bool GuestMemory::set_regions(const Region* regions, size_t count) {
  if (!adopted_ || count > kMaxRegions) return false;
  size_t largest = 0;
  for (size_t i = 0; i < count; ++i) {
    const Region& r = regions[i];
    if (r.size == 0 || r.host == nullptr || r.gpa + r.size < r.gpa) return false;
    for (size_t j = 0; j < i; ++j) {
      const Region& o = regions[j];
      if (r.gpa < o.gpa + o.size && o.gpa < r.gpa + r.size) return false;
    }
    if (r.size > regions[largest].size) largest = i;
  }
  host_ = nullptr;
  base_ = 0;
  size_ = 0;
  others_ = 0;
  for (size_t i = 0; i < count; ++i) {
    if (i == largest) {
      host_ = regions[i].host;
      base_ = regions[i].gpa;
      size_ = size_t(regions[i].size);
    } else {
      other_[others_++] = regions[i];
    }
  }
  return true;
}

uint8_t* GuestMemory::translate_other(uint64_t addr, uint64_t len) {
  for (size_t i = 0; i < others_; ++i) {
    const Region& r = other_[i];
    const uint64_t off = addr - r.gpa;
    if (off > r.size || len > r.size - off) continue;
    if (observer_ != nullptr) observer_(observer_context_, r.host + off, len);
    return r.host + off;
  }
  return nullptr;
}

bool GuestMemory::allocate(size_t size, size_t align, Allocation* out) {
  if (adopted_ || size == 0 || align == 0 || (align & (align - 1)) != 0) return false;
  if (align < 16) align = 16;
  size = (size + 15) & ~size_t{15};
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    const size_t start = it->first;
    const size_t len = it->second;
    // Alignment is of the device address; base_ is page aligned, so offsets
    // aligned to <= a page are too. Larger alignments are taken relative to 0.
    const uint64_t dev = base_ + start;
    const uint64_t aligned = (dev + align - 1) & ~uint64_t(align - 1);
    const size_t pad = size_t(aligned - dev);
    if (pad > len || size > len - pad) continue;
    free_.erase(it);
    if (pad) free_.emplace(start, pad);
    const size_t tail = len - pad - size;
    if (tail) free_.emplace(start + pad + size, tail);
    const size_t off = start + pad;
    live_.emplace(off, size);
    in_use_ += size;
    std::memset(host_ + off, 0, size);
    *out = Allocation{host_ + off, base_ + off, size};
    return true;
  }
  return false;
}

bool GuestMemory::free(uint64_t device_addr) {
  const uint64_t off64 = device_addr - base_;
  auto it = off64 < size_ ? live_.find(size_t(off64)) : live_.end();
  if (it == live_.end()) {
    ++bad_frees_;
    return false;
  }
  size_t off = it->first;
  size_t len = it->second;
  live_.erase(it);
  in_use_ -= len;
  // Coalesce with the neighbours.
  auto next = free_.lower_bound(off);
  if (next != free_.end() && off + len == next->first) {
    len += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == off) {
      prev->second += len;
      return true;
    }
  }
  free_.emplace(off, len);
  return true;
}

}  // namespace vnet::mock
