#include "guest/kernel/clock.h"

#include "guest/kernel/cpu.h"

namespace guest::clock {
namespace {

constexpr uint32_t kPitHz = 1193182;
constexpr uint32_t kCalibrateMs = 10;
constexpr uint64_t kFallbackHz = 1000000000;
constexpr uint64_t kSpinLimitTicks = uint64_t{20} * 1000 * 1000 * 1000;  // ~ seconds, any CPU

uint64_t g_tsc0 = 0;
uint64_t g_hz = kFallbackHz;
uint64_t g_mult = uint64_t{1} << 32;
bool g_from_pit = false;

}  // namespace

void calibrate() {
  const uint16_t latch = kPitHz * kCalibrateMs / 1000;
  uint8_t gate = cpu::inb(0x61);
  cpu::outb(0x61, static_cast<uint8_t>((gate & ~0x02) & ~0x01));  // gate low, speaker off
  cpu::outb(0x43, 0xb0);  // channel 2, lobyte/hibyte, mode 0, binary
  cpu::outb(0x42, static_cast<uint8_t>(latch & 0xff));
  cpu::outb(0x42, static_cast<uint8_t>(latch >> 8));
  cpu::outb(0x61, static_cast<uint8_t>((gate & ~0x02) | 0x01));  // gate high: count
  uint64_t t0 = cpu::rdtsc();
  uint64_t t1 = t0;
  bool done = false;
  while (t1 - t0 < kSpinLimitTicks) {
    if (cpu::inb(0x61) & 0x20) {
      done = true;
      break;
    }
    t1 = cpu::rdtsc();
  }
  cpu::outb(0x61, gate);
  uint64_t hz = done ? (t1 - t0) * 1000 / kCalibrateMs : 0;
  if (hz < 10000000) {  // implausible (< 10 MHz): keep the fallback
    hz = kFallbackHz;
    done = false;
  }
  g_hz = hz;
  g_from_pit = done;
  g_mult = (uint64_t{1000000000} << 32) / hz;
  g_tsc0 = cpu::rdtsc();
}

uint64_t tsc_hz() {
  return g_hz;
}
bool calibrated_from_pit() {
  return g_from_pit;
}

uint64_t now_ns() {
  unsigned __int128 ticks = cpu::rdtsc() - g_tsc0;
  return static_cast<uint64_t>((ticks * g_mult) >> 32);
}

void delay_us(uint64_t us) {
  uint64_t end = now_ns() + us * 1000;
  while (now_ns() < end) cpu::pause();
}

}  // namespace guest::clock
