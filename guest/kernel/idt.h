// The interrupt descriptor table: 256 gates, CPU exceptions, and a
// registry of handlers for interrupt vectors.
//
//   vector    use
//   0..31     CPU exceptions: a report (vector, name, error code, RIP, RSP,
//             CR2) on the console, then exit with the panic status (41)
//   32..47    the legacy 8259 PICs, remapped here and masked (pic.h); only
//             their spurious IRQ 7/15 can still arrive: counted, no EOI
//   48..254   device and timer vectors: install() a handler
//   255       the local APIC's spurious vector (lapic.h): counted, no EOI
//
// Protocol. Each gate is a 64-bit interrupt gate (IF = 0 on entry) whose
// stub (boot/interrupts.S) saves the caller-saved registers and the SSE
// state and calls the dispatcher, which
//   1. counts the delivery (count(vector)),
//   2. calls the handler installed for the vector, if any (one without a
//      handler is counted as unhandled()),
//   3. sends the local APIC its EOI (lapic::eoi()) for vectors 48..254.
// A level-triggered source (I/O APIC, INTx) must be quietened by its
// handler (device acknowledge) before that EOI, or it is delivered again
// at once. MSI and the timer are edge-triggered: nothing to quieten.
//
// Threading. The guest has one CPU and runs with IF = 0 except inside
// cpu::wait_for_interrupt() and cpu::poll_interrupts() (cpu.h), so a
// handler only ever runs at those points, with IF = 0, never nested, and
// never concurrently with install()/uninstall(). A handler must be short
// and bounded, must not wait for interrupts itself, and should leave the
// work to the code that waited (set a flag, count, acknowledge). State it
// shares with that code is written here and read there after the wait
// returns: the "memory" clobber of the wait orders it, no atomics needed.
//
// Ordering. install() writes the handler before the vector can be raised
// by anything the caller programs afterwards (I/O APIC entry, MSI
// message, timer), so program the source after install(), and uninstall()
// after masking the source.
#pragma once

#include <stdint.h>

namespace guest::idt {

using Handler = void (*)(void* context, uint8_t vector);

inline constexpr uint8_t kPicBase = 0x20;  // 8259 master; slave at 0x28
inline constexpr uint8_t kFirstDeviceVector = 0x30;
inline constexpr uint8_t kLastDeviceVector = 0xfe;
inline constexpr uint8_t kSpuriousVector = 0xff;  // the local APIC's

// Builds all 256 gates and loads the IDT. Called once by boot.S before
// guest_main (as idt_init), with IF = 0.
void init();

// Registers handler(context, vector) for a device vector (48..254).
// False when the vector is outside that range or already taken.
bool install(uint8_t vector, Handler handler, void* context);
// Frees a vector; its deliveries are counted as unhandled from then on.
void uninstall(uint8_t vector);
// A free device vector, installed with handler; 0 when none is left.
uint8_t allocate(Handler handler, void* context);

// Deliveries of a vector since boot (exceptions excepted: they do not
// return).
uint64_t count(uint8_t vector);
// Deliveries of device vectors with no handler installed.
uint64_t unhandled();
// The local APIC's spurious vector and the 8259s' spurious IRQ 7/15.
uint64_t spurious();

}  // namespace guest::idt
