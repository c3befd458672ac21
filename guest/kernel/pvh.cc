#include "guest/kernel/pvh.h"

namespace guest {
namespace {

constexpr uint32_t kStartInfoMagic = 0x336ec578;
constexpr uint32_t kMemTypeRam = 1;

struct StartInfo {
  uint32_t magic;
  uint32_t version;
  uint32_t flags;
  uint32_t nr_modules;
  uint64_t modlist_paddr;
  uint64_t cmdline_paddr;
  uint64_t rsdp_paddr;
  uint64_t memmap_paddr;
  uint32_t memmap_entries;
  uint32_t reserved;
};
static_assert(sizeof(StartInfo) == 56);

struct MemmapEntry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;
  uint32_t reserved;
};
static_assert(sizeof(MemmapEntry) == 24);

constexpr size_t kMaxMemmapEntries = 128;

}  // namespace

BootInfo parse_start_info(uint32_t start_info) {
  BootInfo info;
  if (start_info == 0) return info;
  const auto* si = reinterpret_cast<const StartInfo*>(static_cast<uintptr_t>(start_info));
  if (si->magic != kStartInfoMagic) return info;
  info.valid = true;
  info.version = si->version;
  if (si->cmdline_paddr != 0 && si->cmdline_paddr < (uint64_t{1} << 32))
    info.cmdline = reinterpret_cast<const char*>(static_cast<uintptr_t>(si->cmdline_paddr));
  info.rsdp = si->rsdp_paddr;
  if (si->version >= 1 && si->memmap_paddr != 0 && si->memmap_paddr < (uint64_t{1} << 32)) {
    const auto* map =
        reinterpret_cast<const MemmapEntry*>(static_cast<uintptr_t>(si->memmap_paddr));
    uint32_t n = si->memmap_entries < kMaxMemmapEntries ? si->memmap_entries : kMaxMemmapEntries;
    for (uint32_t i = 0; i < n && info.ram_count < BootInfo::kMaxRam; ++i) {
      if (map[i].type != kMemTypeRam || map[i].size == 0) continue;
      info.ram[info.ram_count++] = {map[i].addr, map[i].size};
      info.ram_total += map[i].size;
    }
  }
  return info;
}

bool parse_number_prefix(const char** p, const char* end, uint64_t* out) {
  const char* s = *p;
  unsigned base = 10;
  if (end - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s += 2;
  }
  uint64_t v = 0;
  const char* digits = s;
  for (; s < end; ++s) {
    unsigned d;
    if (*s >= '0' && *s <= '9')
      d = static_cast<unsigned>(*s - '0');
    else if (base == 16 && *s >= 'a' && *s <= 'f')
      d = static_cast<unsigned>(*s - 'a' + 10);
    else if (base == 16 && *s >= 'A' && *s <= 'F')
      d = static_cast<unsigned>(*s - 'A' + 10);
    else
      break;
    if (v > (~uint64_t{0} - d) / base) return false;
    v = v * base + d;
  }
  if (s == digits) return false;
  *p = s;
  *out = v;
  return true;
}

bool parse_number(const char* s, uint64_t* out) {
  const char* end = s + __builtin_strlen(s);
  return parse_number_prefix(&s, end, out) && s == end;
}

bool cmdline_get(const char* cmdline, const char* key, char* out, size_t cap) {
  const char* p = cmdline;
  while (*p != '\0') {
    while (*p == ' ') ++p;
    const char* k = key;
    const char* q = p;
    while (*k != '\0' && *q == *k) {
      ++q;
      ++k;
    }
    if (*k == '\0' && *q == '=') {
      ++q;
      size_t n = 0;
      while (q[n] != '\0' && q[n] != ' ' && n + 1 < cap) {
        out[n] = q[n];
        ++n;
      }
      if (cap > 0) out[n] = '\0';
      return true;
    }
    while (*p != '\0' && *p != ' ') ++p;
  }
  return false;
}

uint64_t cmdline_number(const char* cmdline, const char* key, uint64_t fallback) {
  char buf[32];
  uint64_t v;
  if (!cmdline_get(cmdline, key, buf, sizeof(buf)) || !parse_number(buf, &v)) return fallback;
  return v;
}

}  // namespace guest
