// The few atomics the driver needs, on the compiler's builtins (the driver
// is freestanding: no <atomic>). Only what the threading contract of
// virtio_net.h uses: a value loaded and stored atomically with an explicit
// order, an atomic OR/AND on flag bits, add and exchange.
#pragma once

#include <stdint.h>

namespace vnet {

enum class MemOrder : int {
  kRelaxed = __ATOMIC_RELAXED,
  kAcquire = __ATOMIC_ACQUIRE,
  kRelease = __ATOMIC_RELEASE,
  kAcqRel = __ATOMIC_ACQ_REL,
  kSeqCst = __ATOMIC_SEQ_CST,
};

// T: an integral or enum type of 1, 2, 4 or 8 bytes (lock-free on every
// target the driver runs on). fetch_or/fetch_and: integral types only.
template <typename T>
class Atomic {
 public:
  constexpr Atomic() : v_{} {}
  constexpr explicit Atomic(T v) : v_(v) {}
  Atomic(const Atomic&) = delete;
  Atomic& operator=(const Atomic&) = delete;

  T load(MemOrder o = MemOrder::kSeqCst) const {
    T r;
    __atomic_load(&v_, &r, int(o));
    return r;
  }
  void store(T v, MemOrder o = MemOrder::kSeqCst) { __atomic_store(&v_, &v, int(o)); }
  // Stores desired if the value is expected; true when it did.
  bool compare_exchange(T expected, T desired, MemOrder o = MemOrder::kSeqCst) {
    return __atomic_compare_exchange(&v_, &expected, &desired, false, int(o), int(o));
  }
  T fetch_or(T bits, MemOrder o = MemOrder::kSeqCst) {
    return __atomic_fetch_or(&v_, bits, int(o));
  }
  T fetch_and(T bits, MemOrder o = MemOrder::kSeqCst) {
    return __atomic_fetch_and(&v_, bits, int(o));
  }
  T fetch_add(T n, MemOrder o = MemOrder::kSeqCst) { return __atomic_fetch_add(&v_, n, int(o)); }
  // Stores v and returns the value it replaced.
  T exchange(T v, MemOrder o = MemOrder::kSeqCst) {
    T r;
    __atomic_exchange(&v_, &v, &r, int(o));
    return r;
  }

 private:
  T v_;
};

}  // namespace vnet
