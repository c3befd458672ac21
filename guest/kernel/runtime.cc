// The few C and C++ runtime functions a freestanding image needs.
//
// The driver archive references exactly memcpy, memmove, memset and memcmp;
// the C++ ABI wants __cxa_pure_virtual for abstract classes' vtables.
// clang may turn loops in this file back into calls to these very
// functions, so the file is built with -fno-builtin and the loops are
// written to be unrecognisable (volatile-free but with an asm barrier).
#include <stddef.h>
#include <stdint.h>

#include "guest/kernel/console.h"
#include "guest/kernel/exit.h"

extern "C" {

void* memcpy(void* dst, const void* src, size_t n) {
  auto* d = static_cast<uint8_t*>(dst);
  const auto* s = static_cast<const uint8_t*>(src);
  asm volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
  return dst;
}

void* memmove(void* dst, const void* src, size_t n) {
  auto* d = static_cast<uint8_t*>(dst);
  const auto* s = static_cast<const uint8_t*>(src);
  if (d == s || n == 0) return dst;
  if (d < s || d >= s + n) return memcpy(dst, src, n);
  // Overlapping with dst above src: copy backwards.
  d += n - 1;
  s += n - 1;
  asm volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
  return dst;
}

void* memset(void* dst, int c, size_t n) {
  auto* d = static_cast<uint8_t*>(dst);
  asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
  return dst;
}

int memcmp(const void* a, const void* b, size_t n) {
  const auto* x = static_cast<const uint8_t*>(a);
  const auto* y = static_cast<const uint8_t*>(b);
  for (size_t i = 0; i < n; ++i) {
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    asm volatile("" ::: "memory");
  }
  return 0;
}

size_t strlen(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') {
    ++n;
    asm volatile("" ::: "memory");
  }
  return n;
}

void __cxa_pure_virtual() {
  guest::panic("pure virtual function called");
}

}  // extern "C"
