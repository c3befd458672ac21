// The I/O APIC: global system interrupts (GSIs, one per input pin) to
// local APIC vectors. The guest uses it for PCI INTx lines (pci_intx.h)
// and for the lines of virtio-mmio devices (virtio_mmio.h).
//
//   base + 0x00  IOREGSEL (register index)   base + 0x10  IOWIN (data)
//   register 0x01  version: 23:16 = last redirection entry (QEMU: 23)
//   register 0x10 + 2n / 0x11 + 2n   redirection entry n, low / high:
//     7:0 vector   10:8 delivery mode (0 fixed)   11 destination mode (0
//     physical)   12 delivery status (RO)   13 polarity (1 active low)
//     14 remote IRR (RO)   15 trigger (1 level)   16 mask
//     63:56 destination APIC id
//
// No ACPI here: the I/O APIC is taken at QEMU's fixed 0xfec00000 with GSI
// base 0 (one I/O APIC, 24 pins, on pc, q35 and microvm), which is what
// QEMU's MADT says too. microvm with ACPI (its default) adds a second one
// at 0xfec10000 for GSIs 24..47, where its 24 virtio-mmio slots' lines
// arrive (hw/i386/microvm.c, ioapic2); add() takes it when a line there is
// wanted (virtio_mmio.h).
//
// Presence: a window answers as an I/O APIC when its version register
// has a version byte other than 0x00 and 0xff and more than one entry
// (unassigned memory reads all zeros or all ones on QEMU).
//
// Protocol. init() maps the window uncached and masks every pin. route()
// writes an entry masked (low word with the mask bit, then the high word,
// so that no half-written entry is ever live); unmask() clears the mask
// bit alone. A level-triggered entry delivers its vector while the line is
// asserted and then waits for the EOI (remote IRR): the handler must make
// the device lower the line before idt.h sends that EOI, or the interrupt
// comes straight back (and a line nobody lowers is an interrupt storm).
// Masking a level entry with the line asserted holds the interrupt back;
// unmasking delivers it.
//
// Threading. One CPU; every call here is made with IF = 0 outside
// handlers, except mask(), which a handler may call to silence a line it
// cannot quieten at the device. The index/data pair is not reentrant, and
// handlers never run inside these calls (IF = 0), so it needs no lock.
//
// Ordering. Uncached MMIO with volatile accesses, in program order; the
// IOREGSEL write always immediately precedes its IOWIN access.
#pragma once

#include <stdint.h>

namespace guest::ioapic {

inline constexpr uint64_t kDefaultBase = 0xfec00000;
// QEMU's second I/O APIC (microvm with ACPI): IO_APIC_SECONDARY_ADDRESS
// and IO_APIC_SECONDARY_IRQBASE.
inline constexpr uint64_t kSecondaryBase = 0xfec10000;
inline constexpr uint32_t kSecondaryGsiBase = 24;
inline constexpr uint32_t kMaxChips = 2;

enum class Trigger : uint8_t { kEdge, kLevel };
enum class Polarity : uint8_t { kActiveHigh, kActiveLow };

struct Redirection {
  uint8_t vector = 0;
  uint8_t destination = 0;  // local APIC id (lapic::id())
  Trigger trigger = Trigger::kLevel;
  Polarity polarity = Polarity::kActiveHigh;
};

// Maps the I/O APIC (GSIs from 0) and masks all its pins. False when
// nothing answers there (see "Presence").
bool init(uint64_t base = kDefaultBase);
// One more I/O APIC, its first pin at gsi_base (after the pins of those
// taken before; at most kMaxChips in all): mapped, every pin masked. False
// when nothing answers there, or its GSIs would overlap.
bool add(uint64_t base, uint32_t gsi_base);
bool present();
// Pins of the first I/O APIC; covers(gsi): some I/O APIC has that pin.
uint32_t pins();
bool covers(uint32_t gsi);

// Programs pin gsi, masked. False for a pin no I/O APIC has or a vector
// below 0x10.
bool route(uint32_t gsi, const Redirection& r);
bool mask(uint32_t gsi);
bool unmask(uint32_t gsi);
// The raw 64-bit entry (diagnostics); 0 for a pin that does not exist.
uint64_t entry(uint32_t gsi);

}  // namespace guest::ioapic
