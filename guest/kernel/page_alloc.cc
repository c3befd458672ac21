#include "guest/kernel/page_alloc.h"

#include "guest/kernel/mem.h"

#include "guest/kernel/paging.h"

extern "C" char __image_start[], __image_end[];

namespace guest {
namespace {

constexpr uint64_t kLowReserved = 0x100000;
constexpr uint64_t k4G = uint64_t{1} << 32;

uint64_t round_up(uint64_t v, uint64_t a) {
  return (v + a - 1) & ~(a - 1);
}

PhysAllocator g_allocator;

}  // namespace

PhysAllocator& phys_allocator() {
  return g_allocator;
}

void PhysAllocator::init(const BootInfo& boot) {
  const uint64_t image_start = reinterpret_cast<uintptr_t>(__image_start);
  const uint64_t image_end = reinterpret_cast<uintptr_t>(__image_end);
  for (size_t i = 0; i < boot.ram_count; ++i) {
    uint64_t start = round_up(boot.ram[i].addr, kGranule);
    uint64_t end = (boot.ram[i].addr + boot.ram[i].size) & ~(kGranule - 1);
    if (start < kLowReserved) start = kLowReserved;
    if (end <= start) continue;
    // RAM above 4 GiB is not in the boot map: map it before use.
    if (end > k4G) {
      uint64_t hi = start > k4G ? start : k4G;
      if (!paging::map_identity(hi, end - hi, false)) end = hi;
    }
    // Cut the image out.
    if (start < image_end && end > image_start) {
      if (start < image_start) add(start, image_start - start);
      if (end > image_end) add(image_end, end - image_end);
    } else if (end > start) {
      add(start, end - start);
    }
  }
}

void PhysAllocator::remove_at(size_t i) {
  for (size_t j = i + 1; j < count_; ++j) ranges_[j - 1] = ranges_[j];
  --count_;
}

bool PhysAllocator::insert_at(size_t i, MemRange r) {
  if (count_ == kMaxRanges) return false;
  for (size_t j = count_; j > i; --j) ranges_[j] = ranges_[j - 1];
  ranges_[i] = r;
  ++count_;
  return true;
}

void PhysAllocator::add(uint64_t addr, uint64_t size) {
  if (size == 0) return;
  size_t i = 0;
  while (i < count_ && ranges_[i].addr < addr) ++i;
  // Coalesce with the neighbours.
  bool joined_prev = i > 0 && ranges_[i - 1].addr + ranges_[i - 1].size == addr;
  bool joins_next = i < count_ && addr + size == ranges_[i].addr;
  if (joined_prev && joins_next) {
    ranges_[i - 1].size += size + ranges_[i].size;
    remove_at(i);
  } else if (joined_prev) {
    ranges_[i - 1].size += size;
  } else if (joins_next) {
    ranges_[i].addr = addr;
    ranges_[i].size += size;
  } else {
    insert_at(i, {addr, size});  // a full list leaks this piece: bounded, never corrupt
  }
}

uint64_t PhysAllocator::alloc(uint64_t size, uint64_t align) {
  if (size == 0) return 0;
  size = round_up(size, kGranule);
  if (align < kGranule) align = kGranule;
  if (align & (align - 1)) return 0;
  for (size_t i = 0; i < count_; ++i) {
    MemRange r = ranges_[i];
    uint64_t start = round_up(r.addr, align);
    if (start < r.addr || start + size > r.addr + r.size) continue;
    uint64_t head = start - r.addr;
    uint64_t tail = r.addr + r.size - (start + size);
    if (head == 0 && tail == 0) {
      remove_at(i);
    } else if (head == 0) {
      ranges_[i] = {start + size, tail};
    } else if (tail == 0) {
      ranges_[i].size = head;
    } else {
      if (!insert_at(i + 1, {start + size, tail})) continue;
      ranges_[i].size = head;
    }
    memset(reinterpret_cast<void*>(static_cast<uintptr_t>(start)), 0, size);
    return start;
  }
  return 0;
}

void PhysAllocator::free(uint64_t addr, uint64_t size) {
  if (addr == 0 || size == 0) return;
  add(addr, round_up(size, kGranule));
}

uint64_t PhysAllocator::free_bytes() const {
  uint64_t total = 0;
  for (size_t i = 0; i < count_; ++i) total += ranges_[i].size;
  return total;
}

uint64_t PhysAllocator::largest_free() const {
  uint64_t best = 0;
  for (size_t i = 0; i < count_; ++i)
    if (ranges_[i].size > best) best = ranges_[i].size;
  return best;
}

}  // namespace guest
