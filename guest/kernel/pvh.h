// The PVH start info (Xen's hvm_start_info, arch-x86/hvm/start_info.h) as
// QEMU's PVH option ROM fills it: magic, version (>= 1 carries a memory
// map), command line and the E820-style memory map.
//
//   hvm_start_info                      memmap (version >= 1)
//   +0  u32 magic 0x336ec578            { u64 addr; u64 size;
//   +4  u32 version                       u32 type (1 = RAM); u32 rsvd }
//   +8  u32 flags                       x memmap_entries
//   +12 u32 nr_modules
//   +16 u64 modlist_paddr
//   +24 u64 cmdline_paddr  -> "key=value key=value" (QEMU -append)
//   +32 u64 rsdp_paddr     -> ACPI RSDP; 0 without ACPI (QEMU's PVH ROM
//                             fills it from the tables its firmware loaded)
//   +40 u64 memmap_paddr
//   +48 u32 memmap_entries
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace guest {

struct MemRange {
  uint64_t addr;
  uint64_t size;
};

struct BootInfo {
  bool valid = false;
  uint32_t version = 0;
  const char* cmdline = "";
  uint64_t rsdp = 0;  // 0: the machine has no ACPI tables
  static constexpr size_t kMaxRam = 32;
  MemRange ram[kMaxRam];  // type-1 ranges, as reported
  size_t ram_count = 0;
  uint64_t ram_total = 0;
};

// Parses the start info at physical address start_info (identity mapped).
BootInfo parse_start_info(uint32_t start_info);

// Command line lookup: the value of key (up to the next space) copied into
// out; false when the key is absent.
bool cmdline_get(const char* cmdline, const char* key, char* out, size_t cap);
// Numeric value (decimal or 0x-prefixed hex) or fallback.
uint64_t cmdline_number(const char* cmdline, const char* key, uint64_t fallback);
// Parses a decimal or 0x-prefixed hexadecimal number; false on junk or
// on a value that does not fit 64 bits.
bool parse_number(const char* s, uint64_t* out);
// The number at [*p, end) (the same forms, at least one digit, no
// overflow), advancing *p past it; what follows is the caller's.
bool parse_number_prefix(const char** p, const char* end, uint64_t* out);

}  // namespace guest
