#include "guest/kernel/msi.h"

#include "guest/kernel/paging.h"

namespace guest::msi {
namespace {

constexpr uint32_t kStatus = 0x06;
constexpr uint32_t kStatusCapList = 1u << 4;
constexpr uint32_t kCapPointer = 0x34;
constexpr unsigned kMaxCaps = 48;

constexpr uint32_t kMsixControl = 0x02;
constexpr uint32_t kMsixTable = 0x04;
constexpr uint32_t kMsixPba = 0x08;
constexpr uint16_t kMsixEnable = 1u << 15;
constexpr uint16_t kMsixFunctionMask = 1u << 14;
constexpr uint32_t kEntrySize = 16;
constexpr uint32_t kVectorMasked = 1u;

constexpr uint32_t kMsiControl = 0x02;
constexpr uint16_t kMsiEnable = 1u << 0;
constexpr uint16_t kMsi64 = 1u << 7;
constexpr uint16_t kMsiMultipleEnable = 7u << 4;

volatile uint32_t* entry_word(const MsixInfo& info, uint16_t i, unsigned word) {
  return reinterpret_cast<volatile uint32_t*>(
      static_cast<uintptr_t>(info.table_address + uint64_t{i} * kEntrySize + 4u * word));
}

// A structure of len bytes at offset in BAR bir must lie in that BAR,
// which must be a present memory BAR.
bool in_bar(const pci::Function& f, uint8_t bir, uint32_t offset, uint64_t len) {
  if (bir > 5) return false;
  const pci::Bar& b = f.bars[bir];
  if (!b.present || b.is_io || b.base == 0) return false;
  return uint64_t{offset} + len <= b.size;
}

}  // namespace

uint8_t find_capability(pci::Address a, uint8_t id) {
  if (!(pci::config_read(a, kStatus, 2) & kStatusCapList)) return 0;
  uint32_t at = pci::config_read(a, kCapPointer, 1) & 0xfc;
  for (unsigned n = 0; n < kMaxCaps; ++n) {
    if (at < 0x40 || at > 0xfc) return 0;
    const uint32_t header = pci::config_read(a, at, 2);
    if ((header & 0xff) == id) return static_cast<uint8_t>(at);
    at = (header >> 8) & 0xfc;
  }
  return 0;
}

bool probe_msix(const pci::Function& f, MsixInfo* out, const char** error) {
  *out = MsixInfo{};
  const uint8_t cap = find_capability(f.addr, kCapMsix);
  if (cap == 0) {
    *error = "none";
    return false;
  }
  MsixInfo info;
  info.cap = cap;
  info.table_size =
      static_cast<uint16_t>((pci::config_read(f.addr, cap + kMsixControl, 2) & 0x7ff) + 1);
  const uint32_t table = pci::config_read(f.addr, cap + kMsixTable, 4);
  const uint32_t pba = pci::config_read(f.addr, cap + kMsixPba, 4);
  info.table_bar = static_cast<uint8_t>(table & 7);
  info.table_offset = table & ~7u;
  info.pba_bar = static_cast<uint8_t>(pba & 7);
  info.pba_offset = pba & ~7u;
  const uint64_t pba_len = (uint64_t{info.table_size} + 63) / 64 * 8;
  if (!in_bar(f, info.table_bar, info.table_offset, uint64_t{info.table_size} * kEntrySize)) {
    *error = "table outside a present memory BAR";
    return false;
  }
  if (!in_bar(f, info.pba_bar, info.pba_offset, pba_len)) {
    *error = "PBA outside a present memory BAR";
    return false;
  }
  info.table_address = f.bars[info.table_bar].base + info.table_offset;
  info.pba_address = f.bars[info.pba_bar].base + info.pba_offset;
  *out = info;
  *error = nullptr;
  return true;
}

bool map_table(const MsixInfo& info) {
  const uint64_t pba_len = (uint64_t{info.table_size} + 63) / 64 * 8;
  return paging::map_identity(info.table_address, uint64_t{info.table_size} * kEntrySize, true) &&
         paging::map_identity(info.pba_address, pba_len, true);
}

void set_msix(pci::Address a, const MsixInfo& info, bool enable, bool function_masked) {
  uint16_t control = static_cast<uint16_t>(pci::config_read(a, info.cap + kMsixControl, 2));
  control = static_cast<uint16_t>(control & ~(kMsixEnable | kMsixFunctionMask));
  if (enable) control |= kMsixEnable;
  if (function_masked) control |= kMsixFunctionMask;
  pci::config_write(a, info.cap + kMsixControl, 2, control);
}

bool msix_enabled(pci::Address a, const MsixInfo& info) {
  return (pci::config_read(a, info.cap + kMsixControl, 2) & kMsixEnable) != 0;
}

bool write_entry(const MsixInfo& info, uint16_t i, const Message& m, bool masked) {
  if (info.table_address == 0 || i >= info.table_size) return false;
  volatile uint32_t* control = entry_word(info, i, 3);
  *control = *control | kVectorMasked;
  *entry_word(info, i, 0) = static_cast<uint32_t>(m.address);
  *entry_word(info, i, 1) = static_cast<uint32_t>(m.address >> 32);
  *entry_word(info, i, 2) = m.data;
  if (!masked) *control = *control & ~kVectorMasked;
  return true;
}

bool mask_entry(const MsixInfo& info, uint16_t i, bool masked) {
  if (info.table_address == 0 || i >= info.table_size) return false;
  volatile uint32_t* control = entry_word(info, i, 3);
  *control = masked ? (*control | kVectorMasked) : (*control & ~kVectorMasked);
  return true;
}

Message read_entry(const MsixInfo& info, uint16_t i, bool* masked) {
  Message m;
  *masked = true;
  if (info.table_address == 0 || i >= info.table_size) return m;
  m.address = *entry_word(info, i, 0) | (uint64_t{*entry_word(info, i, 1)} << 32);
  m.data = *entry_word(info, i, 2);
  *masked = (*entry_word(info, i, 3) & kVectorMasked) != 0;
  return m;
}

bool pending(const MsixInfo& info, uint16_t i) {
  if (info.pba_address == 0 || i >= info.table_size) return false;
  const volatile uint32_t* word = reinterpret_cast<const volatile uint32_t*>(
      static_cast<uintptr_t>(info.pba_address + uint64_t{i} / 32 * 4));
  return (*word >> (i % 32)) & 1u;
}

bool program_msi(pci::Address a, const Message& m) {
  const uint8_t cap = find_capability(a, kCapMsi);
  if (cap == 0) return false;
  const uint16_t control = static_cast<uint16_t>(pci::config_read(a, cap + kMsiControl, 2));
  pci::config_write(a, cap + kMsiControl, 2, control & ~(kMsiEnable | kMsiMultipleEnable));
  pci::config_write(a, cap + 0x04, 4, static_cast<uint32_t>(m.address));
  if (control & kMsi64) {
    pci::config_write(a, cap + 0x08, 4, static_cast<uint32_t>(m.address >> 32));
    pci::config_write(a, cap + 0x0c, 2, m.data);
  } else {
    pci::config_write(a, cap + 0x08, 2, m.data);
  }
  if (control & kMsiEnable)
    pci::config_write(a, cap + kMsiControl, 2, control & ~kMsiMultipleEnable);
  return true;
}

bool set_msi(pci::Address a, bool enable) {
  const uint8_t cap = find_capability(a, kCapMsi);
  if (cap == 0) return false;
  uint16_t control = static_cast<uint16_t>(pci::config_read(a, cap + kMsiControl, 2));
  control = static_cast<uint16_t>(enable ? (control | kMsiEnable) : (control & ~kMsiEnable));
  pci::config_write(a, cap + kMsiControl, 2, control);
  return true;
}

}  // namespace guest::msi
