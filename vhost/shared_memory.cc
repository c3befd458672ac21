#include "vhost/shared_memory.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

namespace vnet::vhost {

namespace {
constexpr size_t kGranule = size_t{2} << 20;
}

SharedMemory::~SharedMemory() {
  if (base_ != 0) munmap(reinterpret_cast<void*>(base_), size_);
  if (fd_ >= 0) close(fd_);
}

bool SharedMemory::create(size_t size) {
  if (base_ != 0) {
    error_ = "shared memory already created";
    return false;
  }
  size = (size + kGranule - 1) / kGranule * kGranule;
  if (size == 0) size = kGranule;
  fd_ = memfd_create("vnet-vhost", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd_ < 0) {
    error_ = std::string("memfd_create: ") + strerror(errno);
    return false;
  }
  if (ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    error_ = std::string("ftruncate: ") + strerror(errno);
    return false;
  }
  // Sealed at its size, as QEMU's memfd backend is: a back end that maps it
  // may rely on that size (ours refuses a memfd that could still shrink).
  if (fcntl(fd_, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0) {
    error_ = std::string("sealing the memfd: ") + strerror(errno);
    return false;
  }
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, 0);
  if (p == MAP_FAILED) {
    error_ = std::string("mmap: ") + strerror(errno);
    return false;
  }
  base_ = reinterpret_cast<uintptr_t>(p);
  size_ = size;
  free_.clear();
  free_[0] = size;
  return true;
}

void* SharedMemory::alloc(size_t size, size_t align) {
  if (size == 0 || base_ == 0) return nullptr;
  if (align == 0 || (align & (align - 1)) != 0) align = 64;
  if (align < 64) align = 64;  // a cache line: rings and buffers never share one
  size = (size + 63) / 64 * 64;
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    const size_t start = it->first, len = it->second;
    const size_t aligned = (base_ + start + align - 1) / align * align - base_;
    const size_t pad = aligned - start;
    if (pad > len || len - pad < size) continue;
    free_.erase(it);
    if (pad != 0) free_[start] = pad;
    if (len - pad > size) free_[aligned + size] = len - pad - size;
    used_[aligned] = size;
    in_use_ += size;
    void* p = reinterpret_cast<void*>(base_ + aligned);
    memset(p, 0, size);
    return p;
  }
  return nullptr;
}

void SharedMemory::free(void* p) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  if (a < base_) return;
  auto u = used_.find(a - base_);
  if (u == used_.end()) return;
  size_t start = u->first, len = u->second;
  used_.erase(u);
  in_use_ -= len;
  auto next = free_.lower_bound(start);
  if (next != free_.end() && start + len == next->first) {
    len += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == start) {
      prev->second += len;
      return;
    }
  }
  free_[start] = len;
}

}  // namespace vnet::vhost
