// InterruptReference: oracle (h) for VirtioNet::handle_interrupt. Given the
// mode in force, the vectors attach set up (InterruptSetup), the ISR the
// driver read in the handler (seen at the boundary by the transport
// reference) and the driver's state, which contexts must the handler ask
// for, under which counter -- written from the specification and the
// documented policy (virtio_net.h), not from the handler's code:
//
//   mode polling (not armed, stopped, after a storm)  -> stray, nothing
//   the line, mode not INTx                           -> stray, no ISR read
//                                                        (4.1.4.5.2)
//   the line, INTx: exactly one ISR read              -> 0: not ours, nothing;
//                                                        else ours: bit 1 control,
//                                                        bit 0 rx and tx (4.1.4.5)
//   vector v, MSI-X: v below the vectors in use       -> the sources mapped to
//                                                        v (4.1.5.4.2); else stray
//   not running                                       -> no ring work (early);
//                                                        broken: control
// A handler call that tripped the storm guard (irq_storms moved) is not
// judged: the guard polls everything once.
//
// The storm guard itself (StormWatch): the driver masks its interrupts
// after more than irq_storm_limit of them within irq_storm_window_ns
// (NetOptions). Its windows start at the first interrupt after the last
// one expired, so any 2 * limit + 1 interrupts the guard counted (the
// line with a nonzero ISR in INTx mode, a vector in use in MSI-X mode)
// whose timestamps span less than one window fall into at most two
// windows: one of them holds more than limit, and a storm must have been
// declared. That is the rule checked -- a necessary condition, never one
// the documented policy could meet without a storm. Timestamps are the
// platform clock's last answer after the handler (the guard's own read);
// a clock that goes backwards starts the count over.
//
// Threading: one input at a time, one thread (the fuzz harness).
#pragma once

#include <stdint.h>

#include "driver/net/virtio_net.h"

namespace vnet::fuzz {

struct InterruptFacts {
  IrqSource source;
  InterruptMode mode;    // interrupt_mode() before the call
  InterruptSetup setup;  // interrupts() before the call
  NetState state;        // before the call
  uint32_t isr_reads;    // ISR reads the handler made
  uint8_t isr;           // the last one's value
};

void check_interrupt(const InterruptFacts& facts, const IrqWork& work, const NetCounters& before,
                     const NetCounters& after);

// Whether the storm guard counts this interrupt (see above).
bool guard_counts(const InterruptFacts& facts);

class StormWatch {
 public:
  void clear() { n_ = 0; }
  // After a handler call: counted as guard_counts() says, at platform time
  // now; stormed: irq_storms moved.
  void check(bool counted, uint64_t now, bool stormed, uint32_t limit, uint64_t window_ns);

 private:
  static constexpr uint32_t kMaxHistory = 64;  // 2 * limit + 1 at most
  uint64_t t_[kMaxHistory] = {};
  uint32_t n_ = 0;
};

}  // namespace vnet::fuzz
