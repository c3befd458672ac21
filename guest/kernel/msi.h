// Message-signalled interrupts on x86: the message a device writes to
// raise a vector, and the PCI capabilities (MSI 0x05, MSI-X 0x11) that
// hold it, found and checked through the guest's own config access
// (pci.h).
//
//   message address  0xfee00000 | destination APIC id << 12
//                    (bit 3 redirection hint 0, bit 2 destination mode 0:
//                    physical)
//   message data     vector (7:0), delivery mode fixed (10:8 = 0),
//                    trigger edge (bit 15 = 0)
//
//   MSI-X capability (PCI 3.0, 6.8.2)       table entry i (16 bytes, in a
//   +0x02 message control                   memory BAR, at table offset)
//         10:0 table size - 1               +0x0 address low
//         14 function mask, 15 enable       +0x4 address high
//   +0x04 table offset | BIR (2:0)          +0x8 data
//   +0x08 PBA offset | BIR (2:0)            +0xc vector control, bit 0 mask
//   pending bit array: bit i of qword i / 64 at PBA offset
//
//   MSI capability (6.8.1): +0x02 control (bit 0 enable, bit 7 64-bit
//   address), +0x04 address low, +0x08 address high (64-bit) or data,
//   then data.
//
// Everything read from a device here is checked before use (the driver's
// rule: the device is untrusted): the capability walk is bounded and stays
// in 0x40..0xff, a table or PBA must lie in a present memory BAR, a table
// has 1..2048 entries.
//
// Protocol, MSI-X (what a transport does through the platform): probe()
// the function; enable with the function mask set (set_msix(enable,
// masked)); write each entry it uses with its message, masked, then
// unmask it; clear the function mask. A masked entry's interrupt is held
// as a pending bit and delivered at unmask. Interrupts are edge messages:
// the handler has nothing to lower, idt.h sends the EOI. While MSI or
// MSI-X is enabled the function does not use INTx (PCI 3.0, 6.8).
// Entries are accessed with 32-bit MMIO, which the BAR must allow: it is
// identity-mapped uncached by GuestPlatform::bind() (or map_table()).
//
// Threading: call with IF = 0 outside handlers; a handler may mask_entry()
// its own vector. Ordering: the entry is masked before its address and
// data change and unmasked after (PCI 3.0, 6.8.3.5), and the function is
// enabled before entries are unmasked; uncached MMIO keeps program order.
#pragma once

#include <stdint.h>

#include "guest/kernel/pci.h"

namespace guest::msi {

inline constexpr uint64_t kAddressBase = 0xfee00000;
inline constexpr uint8_t kCapMsi = 0x05;
inline constexpr uint8_t kCapMsix = 0x11;
inline constexpr uint16_t kMaxTableSize = 2048;

struct Message {
  uint64_t address = 0;
  uint32_t data = 0;
};

// The message that delivers vector to the local APIC with id apic_id:
// fixed delivery, physical destination, edge.
constexpr Message compose(uint8_t vector, uint8_t apic_id) {
  return Message{kAddressBase | (uint64_t{apic_id} << 12), uint32_t{vector}};
}

// Offset of the first capability with this id in f's config space, 0
// when it has none (or no capability list: status bit 4 clear). At most
// 48 capabilities are followed; a pointer outside 0x40..0xfc ends the walk.
uint8_t find_capability(pci::Address a, uint8_t id);

struct MsixInfo {
  uint8_t cap = 0;  // config offset of the capability
  uint16_t table_size = 0;
  uint8_t table_bar = 0;
  uint32_t table_offset = 0;
  uint8_t pba_bar = 0;
  uint32_t pba_offset = 0;
  uint64_t table_address = 0;  // BAR base + table offset
  uint64_t pba_address = 0;
};

// Finds and checks the MSI-X capability of a decoded function (BARs from
// pci::decode_bars). False with *error set when it has none ("none") or
// the capability is unusable.
bool probe_msix(const pci::Function& f, MsixInfo* out, const char** error);
// Identity-maps the table and PBA uncached (needed only when the BAR is
// not mapped already). False when the page tables cannot.
bool map_table(const MsixInfo& info);

// Message control: enable and function mask.
void set_msix(pci::Address a, const MsixInfo& info, bool enable, bool function_masked);
bool msix_enabled(pci::Address a, const MsixInfo& info);

// Table entry i (< table_size): message written with the entry masked;
// left masked when masked is true.
bool write_entry(const MsixInfo& info, uint16_t i, const Message& m, bool masked);
bool mask_entry(const MsixInfo& info, uint16_t i, bool masked);
Message read_entry(const MsixInfo& info, uint16_t i, bool* masked);
bool pending(const MsixInfo& info, uint16_t i);

// Plain MSI (single message): program the message and enable or disable.
// False when the function has no MSI capability.
bool program_msi(pci::Address a, const Message& m);
bool set_msi(pci::Address a, bool enable);

}  // namespace guest::msi
