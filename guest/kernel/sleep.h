// Sleeping with HLT until an interrupt or a deadline, on the local APIC's
// one-shot timer (lapic.h).
//
//   idle_until(deadline)                      sleep_until(deadline)
//   --------------------                      ---------------------
//   deadline passed? return true              loop: idle_until(deadline)
//   arm the timer for deadline - now            until it returns true
//   cpu::wait_for_interrupt()  (sti; hlt; cli)
//   return whether the deadline passed
//
// Protocol. init() calibrates the timer and takes a vector for it
// (idt::allocate); its handler only counts. A wait ends at the first
// interrupt of any source: the timer's (the deadline, or the longest
// countdown the timer holds, max_timer_ns(), for deadlines further out),
// or a device's. idle_until() is the primitive an interrupt-driven loop
// wants (poll the device, then idle until its interrupt or the next
// timeout); sleep_until() is a plain sleep that rides out other
// interrupts. Deadlines are in clock::now_ns() time; a wait never ends
// early by that clock. A countdown left armed when another interrupt
// ended the wait fires later as one extra, harmless wake-up.
//
// Without a usable local APIC (init() false) both spin on the clock with
// PAUSE instead: correct, but the CPU stays busy.
//
// Threading. Call with IF = 0 (the guest's normal state, cpu.h), never
// from an interrupt handler: handlers run inside the wait, before it
// returns. The no-lost-wakeup argument is cpu::wait_for_interrupt()'s:
// whatever became pending after the caller's last check is taken inside
// the HLT.
#pragma once

#include <stdint.h>

namespace guest::sleep {

// Calibrates the local APIC timer and installs its vector. False when
// there is no local APIC or the timer does not count (the spinning
// fallback is used then).
bool init();
bool ready();
uint8_t timer_vector();

// One wait: until any interrupt or the deadline. True when the deadline
// has passed on return.
bool idle_until(uint64_t deadline_ns);
// Until the deadline has passed.
void sleep_until(uint64_t deadline_ns);
void sleep_ns(uint64_t ns);

struct Stats {
  uint64_t timer_interrupts = 0;  // deliveries of the timer vector
  uint64_t halts = 0;             // HLTs executed (one per wait)
  uint64_t spins = 0;             // waits served by spinning (no timer)
};
Stats stats();

}  // namespace guest::sleep
