#include "guest/kernel/lapic.h"

#include "guest/kernel/clock.h"
#include "guest/kernel/console.h"
#include "guest/kernel/cpu.h"
#include "guest/kernel/idt.h"
#include "guest/kernel/paging.h"

namespace guest::lapic {
namespace {

constexpr uint32_t kMsrApicBase = 0x1b;
constexpr uint64_t kBaseEnable = uint64_t{1} << 11;
constexpr uint64_t kBaseX2apic = uint64_t{1} << 10;
constexpr uint64_t kBaseMask = 0x000ffffffffff000ull;

constexpr uint32_t kId = 0x020;
constexpr uint32_t kTpr = 0x080;
constexpr uint32_t kEoi = 0x0b0;
constexpr uint32_t kSvr = 0x0f0;
constexpr uint32_t kEsr = 0x280;
constexpr uint32_t kLvtTimer = 0x320;
constexpr uint32_t kLvtLint0 = 0x350;
constexpr uint32_t kLvtError = 0x370;
constexpr uint32_t kInitialCount = 0x380;
constexpr uint32_t kCurrentCount = 0x390;
constexpr uint32_t kDivide = 0x3e0;

constexpr uint32_t kSvrEnable = 1u << 8;
constexpr uint32_t kLvtMasked = 1u << 16;
constexpr uint32_t kDivideBy16 = 0x3;
constexpr uint64_t kCalibrateNs = 10 * 1000 * 1000;
constexpr uint64_t kSampleSlackNs = 20 * 1000;
constexpr int kSampleAttempts = 100;

volatile uint32_t* g_regs = nullptr;
uint64_t g_base = 0;
uint64_t g_timer_hz = 0;
uint64_t g_ticks_per_ns_32 = 0;  // timer ticks per ns, << 32
uint8_t g_timer_vector = 0;

uint32_t read(uint32_t reg) {
  return g_regs[reg / 4];
}
void write(uint32_t reg, uint32_t v) {
  g_regs[reg / 4] = v;
}

bool cpu_has_apic() {
  uint32_t a, b, c, d;
  asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
  return (d & (1u << 9)) != 0;
}

}  // namespace

bool init() {
  if (!cpu_has_apic()) {
    kprintf("vnet-guest: no local APIC (CPUID.1:EDX.APIC = 0)\n");
    return false;
  }
  uint64_t msr = cpu::rdmsr(kMsrApicBase);
  if (msr & kBaseX2apic) {
    kprintf("vnet-guest: local APIC in x2APIC mode, not supported\n");
    return false;
  }
  if (!(msr & kBaseEnable)) cpu::wrmsr(kMsrApicBase, msr | kBaseEnable);
  const uint64_t base = msr & kBaseMask;
  if (!paging::map_identity(base, 4096, true)) {
    kprintf("vnet-guest: cannot map the local APIC at 0x%llx\n",
            static_cast<unsigned long long>(base));
    return false;
  }
  g_base = base;
  g_regs = reinterpret_cast<volatile uint32_t*>(static_cast<uintptr_t>(base));
  write(kTpr, 0);
  write(kLvtLint0, kLvtMasked);
  write(kLvtError, kLvtMasked);
  write(kLvtTimer, kLvtMasked);
  write(kInitialCount, 0);
  write(kEsr, 0);  // the ESR is updated by a write, then read
  write(kEsr, 0);
  write(kSvr, kSvrEnable | idt::kSpuriousVector);
  write(kEoi, 0);  // nothing should be in service; harmless if nothing is
  return true;
}

bool present() {
  return g_regs != nullptr;
}
uint64_t base() {
  return g_base;
}

uint32_t id() {
  return g_regs != nullptr ? read(kId) >> 24 : 0;
}

void eoi() {
  if (g_regs != nullptr) write(kEoi, 0);
}

namespace {

// One (clock, count) pair read close together: a sample whose clock
// reads are more than kSampleSlackNs apart (the vCPU was descheduled, or
// an SMI) is taken again, so the pair describes one instant.
bool sample(uint64_t* ns, uint32_t* count) {
  for (int attempt = 0; attempt < kSampleAttempts; ++attempt) {
    const uint64_t a = clock::now_ns();
    const uint32_t c = read(kCurrentCount);
    const uint64_t b = clock::now_ns();
    if (b - a <= kSampleSlackNs) {
      *ns = a + (b - a) / 2;
      *count = c;
      return true;
    }
  }
  return false;
}

}  // namespace

bool calibrate_timer() {
  if (g_regs == nullptr) return false;
  write(kDivide, kDivideBy16);
  write(kLvtTimer, kLvtMasked);  // one-shot, masked: counts, delivers nothing
  write(kInitialCount, 0xffffffffu);
  // Both clocks keep running while the guest is descheduled, so only the
  // two end points need to be exact (sample()), not the time in between.
  uint64_t t0, t1;
  uint32_t c0, c1;
  const bool ok0 = sample(&t0, &c0);
  while (clock::now_ns() - t0 < kCalibrateNs) cpu::pause();
  const bool ok1 = sample(&t1, &c1);
  write(kInitialCount, 0);
  if (!ok0 || !ok1 || c1 >= c0 || t1 <= t0) return false;
  // ticks < 2^32 and 10^9 < 2^30: the product fits 64 bits (no 128-bit
  // division in a freestanding image).
  const uint64_t ticks = c0 - c1;
  g_timer_hz = ticks * 1000000000u / (t1 - t0);
  if (g_timer_hz == 0 || g_timer_hz > (uint64_t{1} << 32)) {
    g_timer_hz = 0;
    return false;
  }
  g_ticks_per_ns_32 = (g_timer_hz << 32) / 1000000000u;
  return true;
}

uint64_t timer_hz() {
  return g_timer_hz;
}

void set_timer_vector(uint8_t vector) {
  g_timer_vector = vector;
  if (g_regs != nullptr) write(kLvtTimer, kLvtMasked | vector);
}

uint64_t max_timer_ns() {
  if (g_timer_hz == 0) return 0;
  return uint64_t{0xffffffffu} * 1000000000u / g_timer_hz;
}

void arm_timer_ns(uint64_t ns) {
  if (g_regs == nullptr || g_timer_hz == 0) return;
  unsigned __int128 ticks = (static_cast<unsigned __int128>(ns) * g_ticks_per_ns_32) >> 32;
  if (ticks == 0) ticks = 1;
  if (ticks > 0xffffffffu) ticks = 0xffffffffu;
  write(kDivide, kDivideBy16);
  write(kLvtTimer, g_timer_vector);  // one-shot, unmasked
  write(kInitialCount, static_cast<uint32_t>(ticks));
}

void cancel_timer() {
  if (g_regs == nullptr) return;
  write(kLvtTimer, kLvtMasked | g_timer_vector);
  write(kInitialCount, 0);
}

}  // namespace guest::lapic
