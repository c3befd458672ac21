// PCI through configuration mechanism #1 (ports 0xCF8 address, 0xCFC data).
//
//   0xCF8 <- 0x80000000 | bus << 16 | dev << 11 | fn << 8 | (offset & 0xFC)
//   0xCFC + (offset & 3) -> data, byte/word/dword
//
// enumerate() scans every bus/device/function (multi-function devices by
// header type bit 7). decode_bars() sizes each BAR of a type-0 function by
// the write-all-ones method with I/O and memory decoding switched off
// meanwhile, and combines 64-bit memory BAR pairs:
//
//   BAR bit 0 = 1: I/O,  base = bits 31:2
//   BAR bit 0 = 0: memory, bits 2:1 = type (0: 32-bit, 2: 64-bit, the next
//                  BAR holds bits 63:32), bit 3 = prefetchable
//
// Only the first 256 bytes of config space are reachable this way; the
// virtio capabilities live there.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace guest::pci {

struct Address {
  uint8_t bus = 0;
  uint8_t dev = 0;
  uint8_t fn = 0;
};

struct Bar {
  bool present = false;
  bool is_io = false;
  bool is_64 = false;  // this BAR and the next form one 64-bit BAR
  bool prefetchable = false;
  uint64_t base = 0;
  uint64_t size = 0;
};

struct Function {
  Address addr;
  uint16_t vendor = 0;
  uint16_t device = 0;
  uint16_t subsys_vendor = 0;
  uint16_t subsys_id = 0;
  uint8_t class_code = 0;
  uint8_t subclass = 0;
  uint8_t prog_if = 0;
  uint8_t revision = 0;
  uint8_t header_type = 0;  // without the multi-function bit
  Bar bars[6];
};

inline constexpr uint32_t kConfigSize = 256;

uint32_t config_read(Address a, uint32_t offset, uint8_t width);
void config_write(Address a, uint32_t offset, uint8_t width, uint32_t value);

// Fills out[0..max) with the functions found; returns how many exist (may
// exceed max).
size_t enumerate(Function* out, size_t max);
void decode_bars(Function& f);
// Command register: I/O space, memory space and bus mastering on.
void enable(const Function& f);

}  // namespace guest::pci
