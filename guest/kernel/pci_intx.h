// Where a PCI function's INTx line arrives: its I/O APIC input (GSI),
// trigger and polarity, without ACPI.
//
// A PCI function raises INTA#..INTD# (config 0x3d: 1..4, 0 = none). The
// chipset's interrupt router turns (slot, pin) into a PIRQ line and the
// PIRQ line into an I/O APIC input. ACPI's _PRT (AML, which this guest
// does not interpret) describes that mapping; these are the rules it
// encodes on QEMU's two PC machines, read from QEMU 7.2's sources and
// verified by taking interrupts on both (action=irqtest, edu devices in
// four consecutive slots):
//
//   pc (i440FX host 8086:1237, PIIX3 ISA bridge 8086:7000 at 00:01.0)
//     PIRQ = (slot - 1 + pin - 1) mod 4          (A..D)
//     GSI  = PIIX3 config 0x60 + PIRQ, bits 3:0  (the ISA IRQ the router
//            sends the PIRQ to; bit 7 set = routing disabled). SeaBIOS
//            programs 10, 10, 11, 11 and writes the same number into
//            every function's config 0x3c. The ISA IRQ is the GSI: QEMU's
//            MADT overrides IRQs 5, 9, 10, 11 only in their flags.
//   q35 (Q35 MCH 8086:29c0, ICH9 LPC 8086:2918 at 00:1f.0), bus 0,
//       slots 0..24
//     PIRQ = 4 + (slot + pin - 1) mod 4          (E..H)
//     GSI  = 16 + PIRQ                           (20..23)
//            ICH9 wires PIRQ A..H to I/O APIC inputs 16..23 permanently
//            (QEMU: ich9_lpc_set_irq -> ich9_pirq_to_gsi); the PIRQx_ROUT
//            registers (LPC 0x60..0x63, 0x68..0x6b) only add a second path
//            to the 8259 / ISA IRQ, which SeaBIOS sets to 10 or 11 and
//            writes into config 0x3c. So on q35 config 0x3c is NOT the
//            GSI to program; 16 + PIRQ is.
//
// Trigger and polarity: level, active-high on both machines. That is what
// QEMU's ACPI says (_PRS/_CRS of LNKA..LNKD and GSIA..GSIH: Level,
// ActiveHigh, Shared; MADT flags for ISA IRQs 5/9/10/11: level, active
// high): QEMU models an asserted INTx as a high input. Real chipsets wire
// PCI INTx# active-low; a guest that programs active-low on QEMU works
// under TCG only because the emulated I/O APIC ignores the polarity bit
// (KVM's in-kernel one honours it).
//
// Not covered (route_of() says so): functions behind a PCI bridge (the
// swizzle through the bridge is not implemented), the chipset's own
// functions (pc slot 1: PIIX3/PIIX4, whose ACPI function has its SCI
// wired to IRQ 9 whatever its pin says; q35 slots 25..31, routed by the
// D25IR..D31IR registers). Other chipsets get the firmware's config 0x3c
// taken as an ISA IRQ = GSI, level, active-low (the PCI convention): a
// guess, marked as such by chipset == kUnknown.
//
// Threading: config space reads only; call with IF = 0 outside handlers.
#pragma once

#include <stdint.h>

#include "guest/kernel/ioapic.h"
#include "guest/kernel/pci.h"

namespace guest::pci_intx {

enum class Chipset : uint8_t { kUnknown, kI440fx, kQ35 };

struct Route {
  Chipset chipset = Chipset::kUnknown;
  uint8_t pin = 0;      // config 0x3d: 1 = INTA .. 4 = INTD, 0 = none
  uint8_t line = 0xff;  // config 0x3c as the firmware left it
  uint8_t pirq = 0xff;  // 0 = PIRQA .. 7 = PIRQH
  uint32_t gsi = 0;     // I/O APIC input
  ioapic::Trigger trigger = ioapic::Trigger::kLevel;
  ioapic::Polarity polarity = ioapic::Polarity::kActiveHigh;
  const char* error = nullptr;  // why there is no route (route_of() false)
};

Chipset detect();
const char* chipset_name(Chipset c);

// The route of f's INTx line. False (out->error says why) when f has no
// interrupt pin or its route is not known (see above).
bool route_of(const pci::Function& f, Route* out);

// Command register bit 10 (Interrupt Disable): a function with it set
// does not assert INTx (MSI and MSI-X are unaffected). Clear it to use
// INTx, set it when using MSI-X or polling.
void set_disabled(pci::Address a, bool disabled);
// Status register bit 3 (Interrupt Status): the function asserts its
// INTx line (or would, were it not disabled). On a shared line this says
// whether the interrupt can be this function's.
bool asserted(pci::Address a);

}  // namespace guest::pci_intx
