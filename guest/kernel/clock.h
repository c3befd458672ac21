// Monotonic time from the TSC, calibrated once against PIT channel 2.
//
//   port 0x61 bit 0 = channel 2 gate, bit 5 = channel 2 output
//   PIT mode 0, count 11932 at 1.193182 MHz = 10 ms; count TSC ticks
//   until OUT2 rises. Bounded: a machine without a PIT gets 1 GHz assumed.
//
// now_ns() = (rdtsc() - tsc0) * mult >> 32, mult = 10^9 * 2^32 / tsc_hz.
#pragma once

#include <stdint.h>

namespace guest::clock {

void calibrate();
uint64_t tsc_hz();
bool calibrated_from_pit();
uint64_t now_ns();
void delay_us(uint64_t us);

}  // namespace guest::clock
