#include "guest/kernel/clock.h"

#include "guest/kernel/cpu.h"

namespace guest::clock {
namespace {

constexpr uint32_t kPitHz = 1193182;
constexpr uint32_t kCalibrateMs = 10;
constexpr uint32_t kCalibrateCounts = kPitHz * kCalibrateMs / 1000;  // 11931
constexpr uint64_t kFallbackHz = 1000000000;
// A running PIT counter changes every 0.84 us: one that stood still this
// long (8 ms at 12 GHz, 10 s at the 10 MHz floor) is not there.
constexpr uint64_t kStuckTicks = uint64_t{100} * 1000 * 1000;
constexpr int kSampleTries = 8;

uint64_t g_tsc0 = 0;
uint64_t g_hz = kFallbackHz;
uint64_t g_mult = uint64_t{1} << 32;
bool g_from_pit = false;
const char* g_source = "assumed";

struct Sample {
  uint64_t tsc = 0;      // midpoint of the bracket
  uint64_t bracket = 0;  // TSC ticks the latch took
  uint16_t count = 0;
};

// Latches the channel's counter between two TSC reads. The bracket is how
// far the TSC moved meanwhile: small unless the host descheduled the vCPU
// right there (the machine this runs on is often busy).
Sample sample(uint8_t channel) {
  Sample s;
  const uint64_t a = cpu::rdtsc();
  cpu::outb(0x43, static_cast<uint8_t>(channel << 6));  // counter latch
  const uint64_t b = cpu::rdtsc();
  const uint16_t port = static_cast<uint16_t>(0x40 + channel);
  const uint8_t lo = cpu::inb(port);
  const uint8_t hi = cpu::inb(port);
  s.tsc = a + (b - a) / 2;
  s.bracket = b - a;
  s.count = static_cast<uint16_t>(lo | (hi << 8));
  return s;
}

// The sample with the narrowest bracket of a few.
Sample best_sample(uint8_t channel) {
  Sample best = sample(channel);
  for (int i = 1; i < kSampleTries; ++i) {
    const Sample s = sample(channel);
    if (s.bracket < best.bracket) best = s;
  }
  return best;
}

// Programs the channel in mode 0 with the full count (55 ms), samples its
// counter at the start and again once kCalibrateCounts have passed, and
// returns the TSC rate from the two samples; 0 when the counter does not
// count. Sampling the counter (instead of timing the output's rise from
// the count write) keeps a descheduled vCPU between the write and the
// first TSC read out of the result.
uint64_t rate_from(uint8_t channel) {
  cpu::outb(0x43, static_cast<uint8_t>((channel << 6) | 0x30));  // lobyte/hibyte, mode 0
  const uint16_t port = static_cast<uint16_t>(0x40 + channel);
  cpu::outb(port, 0xff);
  cpu::outb(port, 0xff);
  const Sample first = best_sample(channel);
  uint16_t last = first.count;
  uint64_t changed_at = cpu::rdtsc();
  for (;;) {
    const Sample s = sample(channel);
    if (s.count != last) {
      last = s.count;
      changed_at = s.tsc;
    } else if (s.tsc - changed_at > kStuckTicks) {
      return 0;
    }
    // Mode 0 counts down from 0xffff; wrapping takes 55 ms, far beyond.
    if (s.count <= first.count && first.count - s.count >= kCalibrateCounts) break;
  }
  const Sample end = best_sample(channel);
  const uint32_t counts = first.count - end.count;
  if (end.count > first.count || counts == 0 || end.tsc <= first.tsc) return 0;
  return (end.tsc - first.tsc) * kPitHz / counts;
}

}  // namespace

void calibrate() {
  uint64_t hz = 0;
  const uint8_t speaker = cpu::inb(0x61);
  if (speaker != 0xff) {  // port 0x61 present: channel 2, gated on, speaker off
    cpu::outb(0x61, static_cast<uint8_t>((speaker & ~0x02) | 0x01));
    hz = rate_from(2);
    cpu::outb(0x61, speaker);
    g_source = "pit ch2";
  }
  if (hz < 10000000) {  // no port 0x61 (microvm), or implausible (< 10 MHz)
    hz = rate_from(0);
    g_source = "pit ch0";
  }
  g_from_pit = hz >= 10000000;
  if (!g_from_pit) {
    hz = kFallbackHz;
    g_source = "assumed";
  }
  g_hz = hz;
  g_mult = (uint64_t{1000000000} << 32) / hz;
  g_tsc0 = cpu::rdtsc();
}

const char* calibration_source() {
  return g_source;
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
