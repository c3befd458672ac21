#include "guest/irq_actions.h"

#include <stdarg.h>

#include "guest/kernel/clock.h"
#include "guest/kernel/console.h"
#include "guest/kernel/cpu.h"
#include "guest/kernel/exit.h"
#include "guest/kernel/idt.h"
#include "guest/kernel/ioapic.h"
#include "guest/kernel/lapic.h"
#include "guest/kernel/mem.h"
#include "guest/kernel/msi.h"
#include "guest/kernel/paging.h"
#include "guest/kernel/pci_intx.h"
#include "guest/kernel/pvh.h"
#include "guest/kernel/sleep.h"

namespace guest {
namespace {

constexpr uint16_t kEduVendor = 0x1234;
constexpr uint16_t kEduDevice = 0x11e8;
constexpr uint32_t kEduIrqStatus = 0x24;
constexpr uint32_t kEduIrqRaise = 0x60;
constexpr uint32_t kEduIrqAck = 0x64;
constexpr uint16_t kVirtioVendor = 0x1af4;
constexpr uint64_t kIrqWaitNs = 200 * 1000 * 1000;   // for an interrupt that must come
constexpr uint64_t kQuietWaitNs = 20 * 1000 * 1000;  // for one that must not
constexpr unsigned kIntxRounds = 3;

unsigned g_failures = 0;
// Experiments (irqtest options): program config 0x3c as the GSI instead
// of pci_intx's rule, and force a polarity.
bool g_route_by_line = false;
int g_polarity = -1;  // -1: the route's; 0: active-high; 1: active-low

void check(bool ok, const char* what, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
void check(bool ok, const char* what, const char* fmt, ...) {
  kprintf("vnet-guest: irqtest %s %s: ", ok ? "ok  " : "FAIL", what);
  va_list ap;
  va_start(ap, fmt);
  kvprintf(fmt, ap);
  va_end(ap);
  kprintf("\n");
  if (!ok) ++g_failures;
}

char pin_name(uint8_t pin) {
  return pin >= 1 && pin <= 4 ? static_cast<char>('A' + pin - 1) : '-';
}

// ---- 1. the local APIC timer -------------------------------------------

bool test_timer(uint64_t count, uint64_t interval_ns) {
  if (!sleep::ready()) {
    check(false, "timer", "no local APIC timer (see the interrupts line above)");
    return false;
  }
  // First without halting, so that a timer that never fires fails here
  // instead of leaving the guest halted for good: arm 1 ms, spin up to
  // 500 ms letting pending interrupts in.
  {
    const uint64_t before = sleep::stats().timer_interrupts;
    const uint64_t t0 = clock::now_ns();
    lapic::arm_timer_ns(1000000);
    while (sleep::stats().timer_interrupts == before && clock::now_ns() - t0 < 500000000ull)
      cpu::poll_interrupts();
    const uint64_t us = (clock::now_ns() - t0) / 1000;
    const bool fired = sleep::stats().timer_interrupts > before;
    check(fired, "timer.fires", "1 ms one-shot %s after %llu us",
          fired ? "delivered" : "NOT delivered", static_cast<unsigned long long>(us));
    if (!fired) return false;
  }
  const sleep::Stats s0 = sleep::stats();
  const uint64_t vector_before = idt::count(sleep::timer_vector());
  const uint64_t unhandled_before = idt::unhandled();
  const uint64_t t0 = clock::now_ns();
  uint64_t max_late = 0;
  bool early = false;
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t target = clock::now_ns() + interval_ns;
    sleep::sleep_until(target);
    const uint64_t now = clock::now_ns();
    if (now < target) early = true;
    if (now - target > max_late) max_late = now - target;
  }
  const uint64_t elapsed = clock::now_ns() - t0;
  const sleep::Stats s1 = sleep::stats();
  const uint64_t irqs = s1.timer_interrupts - s0.timer_interrupts;
  const uint64_t halts = s1.halts - s0.halts;
  const uint64_t delivered = idt::count(sleep::timer_vector()) - vector_before;
  const uint64_t want = count * interval_ns;
  check(!early, "timer.no_early_wakeup", "%llu sleeps of %llu us",
        static_cast<unsigned long long>(count),
        static_cast<unsigned long long>(interval_ns / 1000));
  check(irqs >= count && irqs <= 4 * count && delivered == irqs, "timer.interrupts",
        "%llu timer interrupts (vector 0x%x delivered %llu) for %llu sleeps, %llu halts",
        static_cast<unsigned long long>(irqs), sleep::timer_vector(),
        static_cast<unsigned long long>(delivered), static_cast<unsigned long long>(count),
        static_cast<unsigned long long>(halts));
  check(s1.spins == s0.spins, "timer.halted", "%llu waits spun instead of halting",
        static_cast<unsigned long long>(s1.spins - s0.spins));
  check(elapsed >= want && elapsed <= 2 * want + 1000000000ull, "timer.elapsed",
        "%llu us for %llu us of sleep (bounds %llu..%llu us), latest wake-up %llu us late",
        static_cast<unsigned long long>(elapsed / 1000),
        static_cast<unsigned long long>(want / 1000), static_cast<unsigned long long>(want / 1000),
        static_cast<unsigned long long>((2 * want + 1000000000ull) / 1000),
        static_cast<unsigned long long>(max_late / 1000));
  check(idt::unhandled() == unhandled_before, "timer.no_unhandled", "%llu unhandled interrupts",
        static_cast<unsigned long long>(idt::unhandled() - unhandled_before));
  return true;
}

// ---- 2./3. INTx and MSI on the edu test device -------------------------

struct Edu {
  volatile uint32_t* regs = nullptr;
  uint64_t hits = 0;
  uint32_t last_status = 0;
};

uint32_t edu_read(const Edu& e, uint32_t off) {
  return e.regs[off / 4];
}
void edu_write(Edu& e, uint32_t off, uint32_t v) {
  e.regs[off / 4] = v;
}

// The device's handler: acknowledge (which lowers a level line) before
// the dispatcher's EOI.
void on_edu(void* context, uint8_t) {
  Edu& e = *static_cast<Edu*>(context);
  e.last_status = edu_read(e, kEduIrqStatus);
  edu_write(e, kEduIrqAck, e.last_status);
  ++e.hits;
}

// Halts until e.hits reaches want or the wait runs out; returns the hits.
uint64_t wait_hits(const Edu& e, uint64_t want, uint64_t timeout_ns) {
  const uint64_t deadline = clock::now_ns() + timeout_ns;
  while (e.hits < want && !sleep::idle_until(deadline)) {
  }
  return e.hits;
}

void test_edu(const pci::Function& f, bool first, char* name) {
  const pci::Bar& bar = f.bars[0];
  if (!bar.present || bar.is_io || !paging::map_identity(bar.base, bar.size, true)) {
    check(false, "edu.bar", "%s: BAR 0 not a mappable memory BAR", name);
    return;
  }
  pci::enable(f);
  static Edu edus[8];
  static unsigned used = 0;
  if (used == 8) {
    check(false, "edu.count", "more than 8 edu devices");
    return;
  }
  Edu& e = edus[used++];
  e.regs = reinterpret_cast<volatile uint32_t*>(static_cast<uintptr_t>(bar.base));
  e.hits = 0;

  pci_intx::Route route;
  if (!pci_intx::route_of(f, &route)) {
    check(false, "intx.route", "%s: %s", name, route.error);
    return;
  }
  kprintf(
      "vnet-guest: irqtest %s: pin INT%c, config 0x3c line %u, PIRQ%c -> GSI %u (%s, %s)\n", name,
      pin_name(route.pin), route.line, route.pirq < 8 ? static_cast<char>('A' + route.pirq) : '?',
      route.gsi, pci_intx::chipset_name(route.chipset),
      route.polarity == ioapic::Polarity::kActiveHigh ? "level, active-high" : "level, active-low");
  if (g_route_by_line) {
    route.gsi = route.line;
    kprintf("vnet-guest: irqtest %s: intx_route=line: programming GSI %u instead\n", name,
            route.gsi);
  }
  if (g_polarity >= 0)
    route.polarity = g_polarity == 0 ? ioapic::Polarity::kActiveHigh : ioapic::Polarity::kActiveLow;
  const uint8_t vector = idt::allocate(&on_edu, &e);
  if (vector == 0) {
    check(false, "intx.vector", "no free vector");
    return;
  }
  ioapic::Redirection r;
  r.vector = vector;
  r.destination = static_cast<uint8_t>(lapic::id());
  r.trigger = route.trigger;
  r.polarity = route.polarity;
  msi::set_msi(f.addr, false);
  pci_intx::set_disabled(f.addr, false);
  check(ioapic::route(route.gsi, r) && ioapic::unmask(route.gsi), "intx.program",
        "%s: GSI %u -> vector 0x%x, entry 0x%llx", name, route.gsi, vector,
        static_cast<unsigned long long>(ioapic::entry(route.gsi)));
  // Nothing may arrive before the device raises its line.
  check(wait_hits(e, 1, kQuietWaitNs) == 0, "intx.quiet", "%s: %llu deliveries before raising",
        name, static_cast<unsigned long long>(e.hits));
  for (unsigned round = 0; round < kIntxRounds; ++round) {
    e.hits = 0;
    const uint64_t t0 = clock::now_ns();
    edu_write(e, kEduIrqRaise, 1);
    const uint64_t hits = wait_hits(e, 1, kIrqWaitNs);
    const uint64_t us = (clock::now_ns() - t0) / 1000;
    // Level-triggered: had the handler not lowered the line, it would be
    // delivered again at once after the EOI; give it the chance.
    wait_hits(e, 2, kQuietWaitNs / 4);
    check(hits == 1 && e.hits == 1 && e.last_status == 1, "intx.deliver",
          "%s round %u: %llu deliveries on vector 0x%x (status 0x%x) after %llu us", name, round,
          static_cast<unsigned long long>(e.hits), vector, e.last_status,
          static_cast<unsigned long long>(us));
  }
  // Masked at the I/O APIC: held back while the line stays asserted.
  e.hits = 0;
  ioapic::mask(route.gsi);
  edu_write(e, kEduIrqRaise, 1);
  const uint64_t while_masked = wait_hits(e, 1, kQuietWaitNs);
  const bool line_up = pci_intx::asserted(f.addr);
  ioapic::unmask(route.gsi);
  const uint64_t after_unmask = wait_hits(e, 1, kIrqWaitNs);
  check(while_masked == 0 && line_up && after_unmask == 1, "intx.mask",
        "%s: %llu deliveries while masked (status says %s), %llu after unmask", name,
        static_cast<unsigned long long>(while_masked), line_up ? "asserted" : "not asserted",
        static_cast<unsigned long long>(after_unmask));
  ioapic::mask(route.gsi);
  pci_intx::set_disabled(f.addr, true);
  idt::uninstall(vector);

  if (!first) return;
  // MSI: an edge message straight to the local APIC, no I/O APIC.
  const uint8_t msi_vector = idt::allocate(&on_edu, &e);
  const msi::Message m = msi::compose(msi_vector, static_cast<uint8_t>(lapic::id()));
  const bool programmed =
      msi_vector != 0 && msi::program_msi(f.addr, m) && msi::set_msi(f.addr, true);
  e.hits = 0;
  if (programmed) edu_write(e, kEduIrqRaise, 1);
  const uint64_t hits = programmed ? wait_hits(e, 1, kIrqWaitNs) : 0;
  wait_hits(e, 2, kQuietWaitNs / 4);
  check(programmed && hits == 1 && e.hits == 1, "msi.deliver",
        "%s: address 0x%llx data 0x%x (vector 0x%x, APIC id %u): %llu deliveries", name,
        static_cast<unsigned long long>(m.address), m.data, msi_vector, lapic::id(),
        static_cast<unsigned long long>(e.hits));
  msi::set_msi(f.addr, false);
  idt::uninstall(msi_vector);
}

// ---- 4. what a virtio-net transport would find --------------------------

void report_virtio(const pci::Function& f) {
  pci_intx::Route route;
  const bool routed = pci_intx::route_of(f, &route);
  kprintf("vnet-guest: irqtest virtio %02x:%02x.%u: pin INT%c, config 0x3c line %u, ", f.addr.bus,
          f.addr.dev, f.addr.fn, pin_name(route.pin), route.line);
  if (routed)
    kprintf("GSI %u\n", route.gsi);
  else
    kprintf("no route (%s)\n", route.error);
  msi::MsixInfo info;
  const char* error = nullptr;
  if (msi::probe_msix(f, &info, &error))
    kprintf(
        "vnet-guest: irqtest virtio msix: cap 0x%x, %u vectors, table bar %u + 0x%x, "
        "pba bar %u + 0x%x\n",
        info.cap, info.table_size, info.table_bar, info.table_offset, info.pba_bar,
        info.pba_offset);
  else
    kprintf("vnet-guest: irqtest virtio msix: %s\n", error);
}

}  // namespace

void run_irqtest(const char* cmdline, const pci::Function* functions, size_t count) {
  const uint64_t sleeps = cmdline_number(cmdline, "count", 20);
  const uint64_t interval_us = cmdline_number(cmdline, "interval_us", 10000);
  const uint64_t want_edu = cmdline_number(cmdline, "edu", 0);
  char option[8];
  if (cmdline_get(cmdline, "intx_route", option, sizeof(option)))
    g_route_by_line = memcmp(option, "line", 5) == 0;
  if (cmdline_get(cmdline, "intx_polarity", option, sizeof(option)))
    g_polarity = memcmp(option, "low", 4) == 0 ? 1 : 0;
  kprintf("vnet-guest: irqtest: lapic id %u, timer %llu kHz, ioapic %u pins, chipset %s\n",
          lapic::id(), static_cast<unsigned long long>(lapic::timer_hz() / 1000), ioapic::pins(),
          pci_intx::chipset_name(pci_intx::detect()));

  // Every later wait is bounded by the timer: without it, stop here.
  if (!test_timer(sleeps, interval_us * 1000)) {
    kprintf("vnet-guest: irqtest FAILED (no timer: INTx and MSI not tested)\n");
    exit_qemu(ExitCode::kTestFailed);
  }

  unsigned edus = 0;
  for (size_t i = 0; i < count; ++i) {
    const pci::Function& f = functions[i];
    if (f.vendor != kEduVendor || f.device != kEduDevice) continue;
    char name[24];
    format(name, sizeof(name), "edu %02x:%02x.%u", f.addr.bus, f.addr.dev, f.addr.fn);
    test_edu(f, edus == 0, name);
    ++edus;
  }
  if (want_edu != 0)
    check(edus == want_edu, "edu.count", "%u edu devices found, %llu expected", edus,
          static_cast<unsigned long long>(want_edu));
  else if (edus == 0)
    kprintf("vnet-guest: irqtest: no edu device, INTx and MSI not tested\n");

  for (size_t i = 0; i < count; ++i)
    if (functions[i].vendor == kVirtioVendor) report_virtio(functions[i]);

  check(idt::unhandled() == 0 && idt::spurious() == 0, "no_stray_interrupts",
        "%llu unhandled, %llu spurious", static_cast<unsigned long long>(idt::unhandled()),
        static_cast<unsigned long long>(idt::spurious()));
  kprintf("vnet-guest: irqtest %s (%u failed)\n", g_failures == 0 ? "passed" : "FAILED",
          g_failures);
  exit_qemu(g_failures == 0 ? ExitCode::kOk : ExitCode::kTestFailed);
}

void run_idle(const char* cmdline) {
  const uint64_t seconds = cmdline_number(cmdline, "seconds", 10);
  const uint64_t tick_ms = cmdline_number(cmdline, "tick_ms", 0);
  if (!sleep::ready()) {
    kprintf("vnet-guest: idle: no local APIC timer, cannot halt\n");
    exit_qemu(ExitCode::kTestFailed);
  }
  kprintf("vnet-guest: idle for %llu s with hlt (tick %llu ms)\n",
          static_cast<unsigned long long>(seconds), static_cast<unsigned long long>(tick_ms));
  const sleep::Stats s0 = sleep::stats();
  const uint64_t t0 = clock::now_ns();
  const uint64_t end = t0 + seconds * 1000000000ull;
  if (tick_ms == 0) {
    sleep::sleep_until(end);
  } else {
    for (uint64_t t = clock::now_ns(); t < end; t = clock::now_ns()) {
      const uint64_t next = t + tick_ms * 1000000ull;
      sleep::sleep_until(next < end ? next : end);
    }
  }
  const sleep::Stats s1 = sleep::stats();
  kprintf("vnet-guest: idle done after %llu ms: %llu halts, %llu timer interrupts\n",
          static_cast<unsigned long long>((clock::now_ns() - t0) / 1000000),
          static_cast<unsigned long long>(s1.halts - s0.halts),
          static_cast<unsigned long long>(s1.timer_interrupts - s0.timer_interrupts));
  exit_qemu(ExitCode::kOk);
}

}  // namespace guest
