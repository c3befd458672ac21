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

}  // namespace vnet::fuzz
