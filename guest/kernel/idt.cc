#include "guest/kernel/idt.h"

#include "guest/kernel/console.h"
#include "guest/kernel/cpu.h"
#include "guest/kernel/exit.h"
#include "guest/kernel/lapic.h"

extern "C" char isr_stubs[];
extern "C" char isr_stubs_end[];

namespace guest::idt {
namespace {

constexpr uint16_t kCodeSelector = 0x08;     // boot.S's 64-bit code segment
constexpr uint16_t kInterruptGate = 0x8e00;  // present, DPL 0, 64-bit interrupt gate
constexpr uint64_t kStubSize = 16;           // boot/interrupts.S
constexpr unsigned kVectors = 256;

struct Gate {
  uint16_t offset_low;
  uint16_t selector;
  uint16_t flags;
  uint16_t offset_mid;
  uint32_t offset_high;
  uint32_t reserved;
};
static_assert(sizeof(Gate) == 16);

struct [[gnu::packed]] Pointer {
  uint16_t limit;
  uint64_t base;
};

struct Slot {
  Handler handler;
  void* context;
};

alignas(16) Gate g_idt[kVectors];
Slot g_slots[kVectors];
uint64_t g_counts[kVectors];
uint64_t g_unhandled = 0;
uint64_t g_spurious = 0;

bool is_device_vector(unsigned v) {
  return v >= kFirstDeviceVector && v <= kLastDeviceVector;
}

}  // namespace

void init() {
  const uint64_t base = reinterpret_cast<uintptr_t>(isr_stubs);
  if (reinterpret_cast<uintptr_t>(isr_stubs_end) - base != kVectors * kStubSize)
    panic("interrupt stubs are not %llu bytes apart", static_cast<unsigned long long>(kStubSize));
  for (unsigned v = 0; v < kVectors; ++v) {
    const uint64_t at = base + v * kStubSize;
    Gate& g = g_idt[v];
    g.offset_low = static_cast<uint16_t>(at);
    g.selector = kCodeSelector;
    g.flags = kInterruptGate;
    g.offset_mid = static_cast<uint16_t>(at >> 16);
    g.offset_high = static_cast<uint32_t>(at >> 32);
    g.reserved = 0;
  }
  Pointer p{static_cast<uint16_t>(sizeof(g_idt) - 1), reinterpret_cast<uintptr_t>(g_idt)};
  asm volatile("lidt %0" : : "m"(p) : "memory");
}

bool install(uint8_t vector, Handler handler, void* context) {
  if (!is_device_vector(vector) || handler == nullptr || g_slots[vector].handler != nullptr)
    return false;
  g_slots[vector].context = context;
  g_slots[vector].handler = handler;
  cpu::compiler_barrier();
  return true;
}

void uninstall(uint8_t vector) {
  g_slots[vector].handler = nullptr;
  g_slots[vector].context = nullptr;
  cpu::compiler_barrier();
}

uint8_t allocate(Handler handler, void* context) {
  for (unsigned v = kFirstDeviceVector; v <= kLastDeviceVector; ++v)
    if (install(static_cast<uint8_t>(v), handler, context)) return static_cast<uint8_t>(v);
  return 0;
}

uint64_t count(uint8_t vector) {
  return g_counts[vector];
}
uint64_t unhandled() {
  return g_unhandled;
}
uint64_t spurious() {
  return g_spurious;
}

}  // namespace guest::idt

// ---- entry points from boot/interrupts.S ----

extern "C" void guest_interrupt(uint64_t vector) {
  using namespace guest::idt;
  const unsigned v = static_cast<unsigned>(vector & 0xff);
  ++g_counts[v];
  if (v == kSpuriousVector || v < kFirstDeviceVector) {
    // The local APIC's spurious vector, or a spurious IRQ 7/15 from a
    // masked 8259: neither is in service anywhere, so no EOI.
    ++g_spurious;
    return;
  }
  const Slot slot = g_slots[v];
  if (slot.handler != nullptr)
    slot.handler(slot.context, static_cast<uint8_t>(v));
  else
    ++g_unhandled;
  guest::lapic::eoi();
}

namespace {
struct ExceptionFrame {
  uint64_t vector, error, rip, cs, rflags, rsp, ss;
};
}  // namespace

extern "C" [[noreturn]] void guest_exception(const ExceptionFrame* f) {
  static const char* const kNames[] = {"#DE divide error",
                                       "#DB debug",
                                       "NMI",
                                       "#BP breakpoint",
                                       "#OF overflow",
                                       "#BR bound",
                                       "#UD invalid opcode",
                                       "#NM no math",
                                       "#DF double fault",
                                       "coprocessor",
                                       "#TS invalid TSS",
                                       "#NP segment not present",
                                       "#SS stack fault",
                                       "#GP general protection",
                                       "#PF page fault",
                                       "reserved",
                                       "#MF x87",
                                       "#AC alignment",
                                       "#MC machine check",
                                       "#XM SIMD",
                                       "#VE virtualisation",
                                       "#CP control protection"};
  const char* name = f->vector < sizeof(kNames) / sizeof(kNames[0]) ? kNames[f->vector] : "?";
  guest::panic("exception %lu (%s) error=0x%lx rip=0x%lx rsp=0x%lx cr2=0x%lx", f->vector, name,
               f->error, f->rip, f->rsp, guest::cpu::read_cr2());
}

extern "C" void idt_init() {
  guest::idt::init();
}
