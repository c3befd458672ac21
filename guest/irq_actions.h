// Guest actions that exercise the interrupt infrastructure on QEMU
// (guest/kernel/idt.h, lapic.h, ioapic.h, pci_intx.h, msi.h, sleep.h),
// before and independently of the driver's use of it.
//
// action=irqtest [count=N] [interval_us=U] [edu=K]
//   1. timer: a 1 ms one-shot, waited for by spinning (a timer that never
//      fires fails here, with IF opened by cpu::poll_interrupts()); then
//      N sleeps of U microseconds (default 20 x 10 ms) with HLT on
//      the local APIC one-shot timer. Passes when every sleep lasted at
//      least U by the TSC clock, the timer vector was delivered at least N
//      times and at most 4N (no storm), the whole run took at most
//      2 N U + 1 s, and no interrupt arrived unhandled.
//   2. INTx, for every QEMU "edu" test device (1234:11e8; vnet-qemu --edu
//      adds them): its route from pci_intx::route_of(), an I/O APIC entry
//      (level, the route's polarity) to a fresh vector, then three times:
//      raise the line (edu register 0x60), halt until the interrupt, whose
//      handler lowers it (0x64) before the EOI; exactly one delivery each.
//      Then masked: raise, 20 ms without a delivery while the function's
//      status says it asserts, unmask, exactly one delivery.
//   3. MSI, on the first edu device: msi::compose() for a fresh vector and
//      this CPU's APIC id, programmed into its MSI capability; raise, one
//      delivery.
//   4. Report (no pass/fail) the virtio-net function's interrupt pin,
//      route and MSI-X capability (msi::probe_msix), as a transport would
//      see them.
//   With edu=K (K > 0) exactly K edu devices must be found. Every wait is
//   bounded by the timer, so a missing interrupt fails the test; should
//   the timer stop after its first check, the guest stays halted and the
//   runner's timeout fails the run.
//   Exit: ExitCode::kOk when all passed, kTestFailed otherwise; each check
//   prints one "vnet-guest: irqtest ..." line.
//
// action=idle [seconds=S] [tick_ms=T]
//   Sleeps S seconds (default 10) with HLT: one sleep_until() per T ms
//   (default 0: a single sleep, waking only when the timer's longest
//   countdown runs out), then exits with kOk. For measuring what an idle
//   guest costs its host (bench/qemu_idle_cpu.sh).
#pragma once

#include <stddef.h>

#include "guest/kernel/pci.h"

namespace guest {

[[noreturn]] void run_irqtest(const char* cmdline, const pci::Function* functions, size_t count);
[[noreturn]] void run_idle(const char* cmdline);

}  // namespace guest
