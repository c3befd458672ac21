// Where the virtio-mmio devices are: windows (base, size) and their
// interrupt lines, on a machine without PCI (QEMU's microvm).
//
// A virtio-mmio device is a window of registers (virtio 1.2, 4.2.2) that
// nothing enumerates: the platform says where it is. Two ways, in order:
//
//  1. The kernel command line. QEMU's microvm appends, for every slot with
//     a device behind it, Linux's parameter
//
//        virtio_mmio.device=<size>@<base>:<irq>[:<id>]
//        e.g. " virtio_mmio.device=512@0xfeb00e00:12"
//
//     (hw/i386/microvm.c, microvm_fix_kernel_cmdline) -- but only when the
//     machine has no ACPI (acpi=off) and auto-kernel-cmdline is on (its
//     default); with ACPI the same facts are in the DSDT, which this guest
//     does not read. The PVH start info carries the command line as QEMU
//     completed it (pvh.h). <size> takes Linux's K/M/G suffixes; <base>
//     and <irq> are numbers (0x hex or decimal); <id> is ignored.
//
//  2. Probing QEMU's fixed slots: 512 bytes apart from 0xfeb00000, each
//     answering MagicValue 0x74726976 whether or not a device is behind it
//     (DeviceID 0 = an empty slot, 4.2.3.1.1). Only on a machine without
//     PCI (a PCI machine may have BARs in that range) and without command
//     line entries, or when asked (mmio=probe). How many slots and which
//     GSI each line arrives at follows QEMU's wiring (microvm_devices_init):
//
//        machine                 slots   slot i's line   I/O APIC
//        acpi=off                 8      GSI 5 + i       the first (0xfec00000)
//        ACPI, ioapic2 (default) 24      GSI 24 + i      the second (0xfec10000)
//        ACPI, ioapic2=off        8      GSI 16 + i      the first
//
//     The guest tells them apart by the PVH start info's RSDP (set only
//     with ACPI) and by whether a second I/O APIC answers at 0xfec10000.
//
// Interrupts: QEMU raises a virtio-mmio line while InterruptStatus is not
// 0 and lowers it when the driver acknowledges (virtio_mmio_update_irq:
// the level is isr != 0), and its ACPI tables describe the lines as
// level-triggered, active-high: so the I/O APIC entry is programmed
// level/active-high, as for PCI INTx on QEMU (pci_intx.h). Edge would lose
// an interrupt whenever a new event arrives between the driver's read of
// InterruptStatus and its acknowledgement (the line never drops, so no
// new edge comes).
//
// Every value read from a window here (magic, version, device id, vendor)
// only identifies it; the driver's probe reads and checks them again.
//
// Threading: boot-time only, before interrupts are enabled.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace guest::virtio_mmio {

inline constexpr uint64_t kSlotBase = 0xfeb00000;
inline constexpr uint64_t kSlotSize = 512;
inline constexpr uint32_t kMaxSlots = 24;
inline constexpr uint32_t kMagic = 0x74726976;  // "virt"
inline constexpr uint32_t kDeviceNet = 1;
// The register file ends at 0x100, where device configuration begins.
inline constexpr uint64_t kMinWindow = 0x100;
// Larger windows than this are refused (QEMU's are 512 bytes; Linux
// accepts anything, this guest maps what it is told).
inline constexpr uint64_t kMaxWindow = uint64_t{1} << 20;
inline constexpr uint32_t kNoIrq = 0xffffffff;

enum class Source : uint8_t { kCmdline, kProbe };
const char* source_name(Source s);

struct Window {
  uint64_t base = 0;
  uint64_t size = 0;
  uint32_t irq = kNoIrq;  // GSI of its line (kNoIrq: none known)
  Source source = Source::kCmdline;
};

// The identifying registers of a window (4.2.2), read in the order of
// 4.2.3.1.1: MagicValue; Version only with the right magic; DeviceID only
// with version 1 or 2; VendorID only when DeviceID is not 0 (a placeholder
// slot: no other register is touched). What was not read stays 0.
struct Identity {
  uint32_t magic = 0;
  uint32_t version = 0;
  uint32_t device_id = 0;
  uint32_t vendor_id = 0;
  bool is_virtio() const { return magic == kMagic && (version == 1 || version == 2); }
  bool is_net() const { return is_virtio() && device_id == kDeviceNet; }
};

// Reads a 32-bit register at a physical address (the guest: a volatile
// load from the identity-mapped window; tests: a model).
using Read32 = uint32_t (*)(void* context, uint64_t address);

Identity identify(const Window& w, Read32 read, void* context);

// ---- 1. the command line ------------------------------------------------

// Why an entry was not taken.
enum class EntryError : uint8_t {
  kOk,
  kSyntax,     // not <size>@<base>:<irq>[:<id>]
  kSize,       // below 0x100 or above kMaxWindow
  kAlignment,  // base not 4-byte aligned (every register is 32 bits)
  kRange,      // base + size beyond 48 bits, or wrapping
  kTooMany,    // more entries than the caller has room for
};
const char* entry_error_name(EntryError e);

struct CmdlineReport {
  size_t entries = 0;   // virtio_mmio.device= seen
  size_t rejected = 0;  // of which not taken
  EntryError first_error = EntryError::kOk;
  char first_rejected[48] = {};  // the first rejected value, cut
};

// Fills out[0, n) with the windows of every valid entry, in command-line
// order, and returns n (<= max).
size_t parse_cmdline(const char* cmdline, Window* out, size_t max, CmdlineReport* report);

// One entry's value ("512@0xfeb00e00:12"); exposed for tests.
EntryError parse_entry(const char* value, size_t len, Window* out);

// ---- 2. probing QEMU's slots -------------------------------------------

struct SlotLayout {
  uint32_t slots = 8;
  uint32_t gsi_base = 5;
  const char* name = "acpi=off";
};
// QEMU's wiring (table above): acpi from the RSDP, ioapic2 from a second
// I/O APIC answering.
SlotLayout slot_layout(bool acpi, bool ioapic2);

// Identifies each slot of layout (the caller maps [kSlotBase, kSlotBase +
// slots * kSlotSize) first) and fills out[0, n) with the slots that have a
// device (magic right, version 1 or 2, DeviceID not 0), each with its GSI;
// returns n (<= max). *empty counts the placeholder slots.
size_t probe_slots(const SlotLayout& layout, Read32 read, void* context, Window* out, size_t max,
                   uint32_t* empty);

}  // namespace guest::virtio_mmio
