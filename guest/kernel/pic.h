// The legacy 8259A interrupt controllers (master 0x20/0x21, slave
// 0xA0/0xA1), put out of the way for the local APIC.
//
// Protocol. The firmware (SeaBIOS, which runs before QEMU's PVH option ROM
// enters the guest) leaves the PICs initialised in real-mode layout
// (vectors 0x08 and 0x70) with the PIT's IRQ 0 unmasked and LINT0 of the
// local APIC in virtual-wire (ExtINT) mode: the first STI would deliver
// the PIT tick as vector 8, a double fault. disable() therefore
//   1. re-initialises both (ICW1..ICW4) with vector bases 0x20 and 0x28,
//      idt::kPicBase, so that anything they still raise lands on vectors
//      the IDT counts as spurious, not on exceptions;
//   2. masks all 16 lines (OCW1 = 0xff on both).
// lapic::init() also masks LINT0, so even an unmasked 8259 line no longer
// reaches the CPU. Interrupts then come only from the local APIC (timer),
// the I/O APIC (ioapic.h) and MSI (msi.h).
//
// Threading and ordering: call once, with IF = 0, before lapic::init().
#pragma once

namespace guest::pic {

void disable();

}  // namespace guest::pic
