#include "guest/kernel/paging.h"

#include "guest/kernel/cpu.h"

extern "C" uint64_t boot_pml4[512];

namespace guest::paging {
namespace {

constexpr uint64_t kPresent = 0x1, kWrite = 0x2, kPwt = 0x8, kPcd = 0x10, kHuge = 0x80;
constexpr uint64_t kAddrMask = 0x000ffffffffff000ull;
constexpr uint64_t kPage2M = uint64_t{1} << 21;
constexpr uint64_t kMaxAddr = uint64_t{1} << 48;
constexpr int kPoolPages = 16;

alignas(4096) uint64_t g_pool[kPoolPages][512];
int g_pool_used = 0;

uint64_t* table_at(uint64_t entry) {
  return reinterpret_cast<uint64_t*>(static_cast<uintptr_t>(entry & kAddrMask));
}

uint64_t* next_table(uint64_t* table, unsigned index) {
  if (!(table[index] & kPresent)) {
    if (g_pool_used == kPoolPages) return nullptr;
    uint64_t* fresh = g_pool[g_pool_used++];
    for (int i = 0; i < 512; ++i) fresh[i] = 0;
    table[index] = reinterpret_cast<uintptr_t>(fresh) | kPresent | kWrite;
  }
  return table_at(table[index]);
}

}  // namespace

bool map_identity(uint64_t addr, uint64_t size, bool uncached) {
  if (size == 0) return true;
  uint64_t first = addr & ~(kPage2M - 1);
  uint64_t end = addr + size;
  if (end < addr || end > kMaxAddr) return false;
  for (uint64_t page = first; page < end; page += kPage2M) {
    uint64_t* pdpt = next_table(boot_pml4, static_cast<unsigned>((page >> 39) & 511));
    if (pdpt == nullptr) return false;
    uint64_t* pd = next_table(pdpt, static_cast<unsigned>((page >> 30) & 511));
    if (pd == nullptr) return false;
    uint64_t entry = page | kPresent | kWrite | kHuge | (uncached ? (kPcd | kPwt) : 0);
    uint64_t& slot = pd[(page >> 21) & 511];
    if (slot != entry) {
      slot = entry;
      cpu::invlpg(page);
    }
  }
  return true;
}

}  // namespace guest::paging
