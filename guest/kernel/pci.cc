#include "guest/kernel/pci.h"

#include "guest/kernel/cpu.h"

namespace guest::pci {
namespace {

constexpr uint16_t kAddrPort = 0xcf8;
constexpr uint16_t kDataPort = 0xcfc;
constexpr uint32_t kCommand = 0x04;
constexpr uint16_t kCmdIo = 0x1, kCmdMem = 0x2, kCmdMaster = 0x4;
constexpr uint32_t kBar0 = 0x10;

uint32_t address_of(Address a, uint32_t offset) {
  return 0x80000000u | (uint32_t{a.bus} << 16) | (uint32_t{a.dev} << 11) | (uint32_t{a.fn} << 8) |
         (offset & 0xfc);
}

void read_identity(Function& f) {
  uint32_t id = config_read(f.addr, 0x00, 4);
  f.vendor = static_cast<uint16_t>(id);
  f.device = static_cast<uint16_t>(id >> 16);
  uint32_t cls = config_read(f.addr, 0x08, 4);
  f.revision = static_cast<uint8_t>(cls);
  f.prog_if = static_cast<uint8_t>(cls >> 8);
  f.subclass = static_cast<uint8_t>(cls >> 16);
  f.class_code = static_cast<uint8_t>(cls >> 24);
  f.header_type = static_cast<uint8_t>(config_read(f.addr, 0x0e, 1) & 0x7f);
  if (f.header_type == 0) {
    uint32_t sub = config_read(f.addr, 0x2c, 4);
    f.subsys_vendor = static_cast<uint16_t>(sub);
    f.subsys_id = static_cast<uint16_t>(sub >> 16);
  }
}

}  // namespace

uint32_t config_read(Address a, uint32_t offset, uint8_t width) {
  if (offset >= kConfigSize || offset + width > kConfigSize) return 0xffffffff;
  cpu::outl(kAddrPort, address_of(a, offset));
  uint16_t port = static_cast<uint16_t>(kDataPort + (offset & 3));
  switch (width) {
    case 1:
      return cpu::inb(port);
    case 2:
      return (offset & 1) ? 0xffff : cpu::inw(port);
    case 4:
      return (offset & 3) ? 0xffffffff : cpu::inl(port);
    default:
      return 0xffffffff;
  }
}

void config_write(Address a, uint32_t offset, uint8_t width, uint32_t value) {
  if (offset >= kConfigSize || offset + width > kConfigSize) return;
  cpu::outl(kAddrPort, address_of(a, offset));
  uint16_t port = static_cast<uint16_t>(kDataPort + (offset & 3));
  switch (width) {
    case 1:
      cpu::outb(port, static_cast<uint8_t>(value));
      break;
    case 2:
      if (!(offset & 1)) cpu::outw(port, static_cast<uint16_t>(value));
      break;
    case 4:
      if (!(offset & 3)) cpu::outl(port, value);
      break;
    default:
      break;
  }
}

size_t enumerate(Function* out, size_t max) {
  size_t found = 0;
  for (unsigned bus = 0; bus < 256; ++bus) {
    for (uint8_t dev = 0; dev < 32; ++dev) {
      Address a{static_cast<uint8_t>(bus), dev, 0};
      if ((config_read(a, 0x00, 2) & 0xffff) == 0xffff) continue;
      bool multi = (config_read(a, 0x0e, 1) & 0x80) != 0;
      for (uint8_t fn = 0; fn < (multi ? 8 : 1); ++fn) {
        a.fn = fn;
        if ((config_read(a, 0x00, 2) & 0xffff) == 0xffff) continue;
        if (found < max) {
          Function& f = out[found];
          f = Function{};
          f.addr = a;
          read_identity(f);
        }
        ++found;
      }
    }
  }
  return found;
}

void decode_bars(Function& f) {
  for (Bar& b : f.bars) b = Bar{};
  unsigned nbars = f.header_type == 0 ? 6 : f.header_type == 1 ? 2 : 0;
  uint32_t cmd = config_read(f.addr, kCommand, 2);
  config_write(f.addr, kCommand, 2, cmd & ~uint32_t{kCmdIo | kCmdMem});
  for (unsigned i = 0; i < nbars; ++i) {
    uint32_t off = kBar0 + 4 * i;
    uint32_t orig = config_read(f.addr, off, 4);
    config_write(f.addr, off, 4, 0xffffffff);
    uint32_t probe = config_read(f.addr, off, 4);
    config_write(f.addr, off, 4, orig);
    Bar& b = f.bars[i];
    if (orig & 1) {
      uint32_t mask = probe & ~uint32_t{3};
      if (mask == 0) continue;
      if ((mask & 0xffff0000) == 0) mask |= 0xffff0000;  // 16-bit I/O decoder
      b.present = true;
      b.is_io = true;
      b.base = orig & ~uint32_t{3};
      b.size = uint32_t(~mask + 1);
      continue;
    }
    uint32_t type = (orig >> 1) & 3;
    b.prefetchable = (orig & 8) != 0;
    uint64_t base = orig & ~uint32_t{0xf};
    uint64_t mask = probe & ~uint32_t{0xf};
    if (type == 2 && i + 1 < nbars) {
      uint32_t off_hi = off + 4;
      uint32_t orig_hi = config_read(f.addr, off_hi, 4);
      config_write(f.addr, off_hi, 4, 0xffffffff);
      uint32_t probe_hi = config_read(f.addr, off_hi, 4);
      config_write(f.addr, off_hi, 4, orig_hi);
      base |= uint64_t{orig_hi} << 32;
      mask |= uint64_t{probe_hi} << 32;
      b.is_64 = true;
      ++i;  // the upper half is not a BAR of its own
    } else {
      mask |= 0xffffffff00000000ull;
    }
    if ((mask & 0xffffffffull) == 0 && !b.is_64) continue;
    if (mask == 0) continue;
    b.present = true;
    b.base = base;
    b.size = ~mask + 1;
  }
  config_write(f.addr, kCommand, 2, cmd);
}

void enable(const Function& f) {
  uint32_t cmd = config_read(f.addr, kCommand, 2);
  config_write(f.addr, kCommand, 2, cmd | kCmdIo | kCmdMem | kCmdMaster);
}

}  // namespace guest::pci
