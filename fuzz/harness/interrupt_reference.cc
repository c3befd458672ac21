#include "fuzz/harness/interrupt_reference.h"

#include "fuzz/harness/findings.h"

namespace vnet::fuzz {

namespace {

constexpr uint8_t kIsrQueue = 1;   // 4.1.4.5: bit 0, a queue interrupt
constexpr uint8_t kIsrConfig = 2;  // bit 1, a configuration change

const char* source_name(const IrqSource& s) {
  return s.kind == IrqSource::Kind::kLine ? "the line" : "a vector";
}

}  // namespace

void check_interrupt(const InterruptFacts& f, const IrqWork& work, const NetCounters& before,
                     const NetCounters& after) {
  if (after.irq_storms != before.irq_storms) return;  // the guard polls everything once
  IrqWork want;
  enum { kStray, kNotOurs, kLine, kVector } counted = kStray;
  bool isr_allowed = false;
  if (f.mode == InterruptMode::kPolling) {
    counted = kStray;
  } else if (f.source.kind == IrqSource::Kind::kLine) {
    if (f.mode == InterruptMode::kIntx) {
      isr_allowed = true;
      if (f.isr_reads != 1) {
        finding(Oracle::kDecision,
                "an INTx interrupt read the ISR %u times; once acknowledges it (4.1.4.5)",
                f.isr_reads);
      }
      if (f.isr == 0) {
        counted = kNotOurs;
      } else {
        counted = kLine;
        want.control = (f.isr & kIsrConfig) != 0;
        want.rx = want.tx = (f.isr & kIsrQueue) != 0;
      }
    }
  } else if (f.mode == InterruptMode::kMsix && f.source.vector < f.setup.vectors) {
    counted = kVector;
    const uint16_t v = f.source.vector;
    want.control = v == f.setup.config_vector;
    want.rx = v == f.setup.queue_vector[VirtioNet::kRxQueue];
    want.tx = v == f.setup.queue_vector[VirtioNet::kTxQueue];
  }
  if (!isr_allowed && f.isr_reads != 0)
    finding(Oracle::kDecision,
            "an interrupt from %s in mode %u read the ISR (4.1.4.5.2: only an INTx handler "
            "reads it)",
            source_name(f.source), static_cast<unsigned>(f.mode));
  if (counted == kLine || counted == kVector) {
    if (f.state != NetState::kRunning) {
      want.rx = want.tx = false;
      want.control = want.control || f.state == NetState::kBroken;
    }
  }
  const uint64_t stray = after.irq_stray - before.irq_stray;
  const uint64_t not_ours = after.irq_not_ours - before.irq_not_ours;
  const uint64_t line = after.irq_line - before.irq_line;
  const uint64_t vector = after.irq_vector - before.irq_vector;
  if (stray != (counted == kStray ? 1u : 0u) || not_ours != (counted == kNotOurs ? 1u : 0u) ||
      line != (counted == kLine ? 1u : 0u) || vector != (counted == kVector ? 1u : 0u))
    finding(Oracle::kDecision,
            "an interrupt from %s (vector %u, mode %u, ISR 0x%02x) counted stray %llu, not ours "
            "%llu, line %llu, vector %llu; the reference counts it as %s",
            source_name(f.source), f.source.vector, static_cast<unsigned>(f.mode), f.isr,
            static_cast<unsigned long long>(stray), static_cast<unsigned long long>(not_ours),
            static_cast<unsigned long long>(line), static_cast<unsigned long long>(vector),
            counted == kStray     ? "stray"
            : counted == kNotOurs ? "not ours"
            : counted == kLine    ? "the device's line"
                                  : "a vector of ours");
  if (work.rx != want.rx || work.tx != want.tx || work.control != want.control)
    finding(Oracle::kDecision,
            "an interrupt from %s (vector %u, mode %u, ISR 0x%02x) asked for rx %d tx %d "
            "control %d; the reference asks for rx %d tx %d control %d",
            source_name(f.source), f.source.vector, static_cast<unsigned>(f.mode), f.isr, work.rx,
            work.tx, work.control, want.rx, want.tx, want.control);
}

bool guard_counts(const InterruptFacts& f) {
  if (f.source.kind == IrqSource::Kind::kLine)
    return f.mode == InterruptMode::kIntx && f.isr_reads == 1 && f.isr != 0;
  return f.mode == InterruptMode::kMsix && f.source.vector < f.setup.vectors;
}

void StormWatch::check(bool counted, uint64_t now, bool stormed, uint32_t limit,
                       uint64_t window_ns) {
  if (stormed || limit == 0 || 2 * uint64_t{limit} + 1 > kMaxHistory) {
    n_ = 0;
    return;
  }
  if (!counted) return;
  if (n_ != 0 && now < t_[n_ - 1]) n_ = 0;  // the clock went back: start over
  const uint32_t need = 2 * limit + 1;
  if (n_ == need) {
    for (uint32_t i = 1; i < n_; ++i) t_[i - 1] = t_[i];
    --n_;
  }
  t_[n_++] = now;
  if (n_ == need && now - t_[0] < window_ns) {
    finding(Oracle::kDecision,
            "%u interrupts the storm guard counts within %llu ns (limit %u per %llu ns) and no "
            "storm declared: a device that never stops interrupting keeps the CPU in the handler",
            need, static_cast<unsigned long long>(now - t_[0]), limit,
            static_cast<unsigned long long>(window_ns));
    n_ = 0;
  }
}

}  // namespace vnet::fuzz
