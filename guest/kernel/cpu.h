// x86-64 CPU primitives for the bare-metal guest: port I/O, the TSC,
// fences and halting. Everything here is a single instruction.
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

[[noreturn]] inline void halt_forever() {
  for (;;) asm volatile("cli; hlt");
}

}  // namespace guest::cpu
