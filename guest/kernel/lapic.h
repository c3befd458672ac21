// The local APIC (xAPIC, memory-mapped): enable, EOI, the APIC id, and a
// one-shot timer calibrated against the TSC clock (clock.h).
//
//   IA32_APIC_BASE (MSR 0x1b)   base address (QEMU: 0xfee00000), bit 11
//                               global enable; bit 10 (x2APIC) must be off
//   +0x020 ID (31:24)           +0x0b0 EOI (write 0)
//   +0x080 TPR = 0              +0x0f0 SVR: bit 8 enable, 7:0 spurious vector
//   +0x320 LVT timer            vector 7:0, bit 16 mask, 18:17 mode (0 one-shot)
//   +0x350 LVT LINT0 (masked)   +0x370 LVT error (masked)
//   +0x380 initial count        +0x390 current count
//   +0x3e0 divide configuration (3 = divide by 16)
//
// Protocol. init() maps the page uncached (paging.h), clears TPR, masks
// LINT0 (the 8259's virtual wire: pic.h) and the error LVT, and enables
// the APIC with idt::kSpuriousVector. calibrate_timer() runs the timer
// masked from 0xffffffff and reads (clock, count) pairs 10 ms of
// clock::now_ns() apart, each pair within 20 us (retried otherwise, so a
// descheduled vCPU does not skew it), and takes the rate (divide by 16;
// QEMU's timer counts 1 GHz / 16 = 62.5 MHz). arm_timer_ns() then programs one one-shot countdown:
// when it reaches zero the timer vector is delivered once (edge: nothing
// to acknowledge but the EOI, which idt.h sends). Arming again replaces
// the previous countdown; an interval longer than the counter holds
// (max_timer_ns()) is cut to that, so waiters loop (sleep.h).
//
// Threading. One CPU. eoi() is called by the interrupt dispatcher with
// IF = 0; everything else is called with IF = 0 by the code that owns the
// timer (sleep.h), never from a handler.
//
// Ordering. The registers are uncached MMIO accessed with volatile loads
// and stores, which x86 keeps in program order with each other. Writing
// the initial count is what starts the countdown, so the LVT (vector,
// unmasked) is written first.
#pragma once

#include <stdint.h>

namespace guest::lapic {

// False (and nothing changed) when the CPU has no APIC or it is in x2APIC
// mode; the reason is printed.
bool init();
bool present();
uint64_t base();
uint32_t id();
void eoi();

// Calibrates the timer against clock::now_ns(); false when it did not
// count. The rate in Hz (after the divider) is timer_hz().
bool calibrate_timer();
uint64_t timer_hz();

// The vector the timer delivers (installed by the caller, idt.h).
void set_timer_vector(uint8_t vector);
// One-shot: the timer vector fires once, ns from now (at least one tick,
// at most max_timer_ns()). Replaces a countdown in progress.
void arm_timer_ns(uint64_t ns);
void cancel_timer();
uint64_t max_timer_ns();

}  // namespace guest::lapic
