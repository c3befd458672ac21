// x86-64 CPU primitives for the bare-metal guest: port I/O, the TSC,
// MSRs, fences, the interrupt flag and halting. Everything here is a
// single instruction, or a fixed sequence of a few.
//
// Interrupt model (guest/kernel/idt.h): the guest runs with interrupts
// disabled (IF = 0) everywhere except inside wait_for_interrupt() and
// poll_interrupts(). Interrupt handlers therefore only ever run at those
// two points, never in the middle of other guest code, which is the whole
// of the guest's concurrency story on its one CPU.
#pragma once

#include <stdint.h>

namespace guest::cpu {

inline uint8_t inb(uint16_t port) {
  uint8_t v;
  asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
  return v;
}
inline uint16_t inw(uint16_t port) {
  uint16_t v;
  asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
  return v;
}
inline uint32_t inl(uint16_t port) {
  uint32_t v;
  asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
  return v;
}
inline void outb(uint16_t port, uint8_t v) {
  asm volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}
inline void outw(uint16_t port, uint16_t v) {
  asm volatile("outw %0, %1" : : "a"(v), "Nd"(port) : "memory");
}
inline void outl(uint16_t port, uint32_t v) {
  asm volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

inline uint64_t rdtsc() {
  uint32_t lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (uint64_t{hi} << 32) | lo;
}

// On x86 (TSO) loads are not reordered with loads nor stores with stores
// on write-back memory; only the compiler must be stopped. Stores may pass
// later loads, which mfence forbids.
inline void compiler_barrier() {
  asm volatile("" ::: "memory");
}
inline void mfence() {
  asm volatile("mfence" ::: "memory");
}
inline void pause() {
  asm volatile("pause");
}

inline uint64_t read_cr2() {
  uint64_t v;
  asm volatile("mov %%cr2, %0" : "=r"(v));
  return v;
}
inline void invlpg(uint64_t addr) {
  asm volatile("invlpg (%0)" : : "r"(addr) : "memory");
}
inline void reload_cr3() {
  uint64_t v;
  asm volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(v) : : "memory");
}

inline uint64_t rdmsr(uint32_t msr) {
  uint32_t lo, hi;
  asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return (uint64_t{hi} << 32) | lo;
}
inline void wrmsr(uint32_t msr, uint64_t v) {
  asm volatile("wrmsr"
               :
               : "c"(msr), "a"(static_cast<uint32_t>(v)), "d"(static_cast<uint32_t>(v >> 32))
               : "memory");
}

inline bool interrupts_enabled() {
  uint64_t flags;
  asm volatile("pushfq; popq %0" : "=r"(flags) : : "memory");
  return (flags & 0x200) != 0;
}
inline void disable_interrupts() {
  asm volatile("cli" ::: "memory");
}

// Sleeps until the next interrupt, with no lost-wakeup window: the caller
// runs with IF = 0, checks its condition (or arms a timer), then calls
// this. STI enables interrupts only after the instruction that follows it
// (the STI interrupt shadow, SDM vol. 2B "STI"), so an interrupt that
// became pending after the check, or is pending already, is taken while
// HLT halts and wakes it at once; it cannot slip in between STI and HLT.
// The handler runs before this returns; on return IF = 0 again.
inline void wait_for_interrupt() {
  asm volatile("sti; hlt; cli" ::: "memory");
}

// Lets interrupts that are already pending run their handlers, without
// halting: STI; NOP (the shadow covers the NOP) opens a one-instruction
// window before CLI.
inline void poll_interrupts() {
  asm volatile("sti; nop; cli" ::: "memory");
}

[[noreturn]] inline void halt_forever() {
  for (;;) asm volatile("cli; hlt");
}

}  // namespace guest::cpu
