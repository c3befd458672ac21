// Monotonic time from the TSC, calibrated once against the PIT (8254).
//
//   PIT mode 0 from 0xffff at 1.193182 MHz; the counter is latched (port
//   0x43) between two TSC reads at the start and again 11931 counts (10 ms)
//   later, the narrowest of 8 brackets each time: the rate is TSC ticks
//   over PIT counts between the two, unaffected by a vCPU descheduled
//   around the count write.
//   pc, q35    channel 2, gated on through port 0x61 bit 0 (the PC speaker
//              port; the channel firmware leaves alone)
//   microvm    no port 0x61 (it reads 0xff: no speaker/NMI-status device),
//              so channel 2 cannot be gated. Channel 0 instead: its gate is
//              always high. Its output drives IRQ 0, which is masked at the
//              8259s and the I/O APIC; it rises 55 ms later, once.
//   Bounded: a counter that stands still (no PIT: microvm,pit=off) ends
//   the calibration, and 1 GHz is assumed.
//
// now_ns() = (rdtsc() - tsc0) * mult >> 32, mult = 10^9 * 2^32 / tsc_hz.
#pragma once

#include <stdint.h>

namespace guest::clock {

void calibrate();
uint64_t tsc_hz();
bool calibrated_from_pit();
// "pit ch2", "pit ch0" or "assumed".
const char* calibration_source();
uint64_t now_ns();
void delay_us(uint64_t us);

}  // namespace guest::clock
