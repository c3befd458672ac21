#include "guest/kernel/sleep.h"

#include "guest/kernel/clock.h"
#include "guest/kernel/cpu.h"
#include "guest/kernel/idt.h"
#include "guest/kernel/lapic.h"

namespace guest::sleep {
namespace {

uint8_t g_vector = 0;
Stats g_stats;

void on_timer(void*, uint8_t) {
  ++g_stats.timer_interrupts;
}

}  // namespace

bool init() {
  if (g_vector != 0) return true;
  if (!lapic::present() || !lapic::calibrate_timer()) return false;
  const uint8_t v = idt::allocate(&on_timer, nullptr);
  if (v == 0) return false;
  lapic::set_timer_vector(v);
  g_vector = v;
  return true;
}

bool ready() {
  return g_vector != 0;
}
uint8_t timer_vector() {
  return g_vector;
}

bool idle_until(uint64_t deadline_ns) {
  uint64_t now = clock::now_ns();
  if (now >= deadline_ns) return true;
  if (g_vector == 0) {
    ++g_stats.spins;
    while (clock::now_ns() < deadline_ns) cpu::pause();
    return true;
  }
  uint64_t wait = deadline_ns - now;
  const uint64_t max = lapic::max_timer_ns();
  if (wait > max) wait = max;
  lapic::arm_timer_ns(wait);
  ++g_stats.halts;
  cpu::wait_for_interrupt();
  return clock::now_ns() >= deadline_ns;
}

void sleep_until(uint64_t deadline_ns) {
  while (!idle_until(deadline_ns)) {
  }
}

void sleep_ns(uint64_t ns) {
  sleep_until(clock::now_ns() + ns);
}

Stats stats() {
  return g_stats;
}

}  // namespace guest::sleep
