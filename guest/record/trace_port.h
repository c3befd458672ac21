// The trace port: COM2 (16550 UART at 0x2f8) as a raw byte stream to the
// host, used only for recording (docs/qemu.md, "Recording").
//
//   guest                                  host
//   TraceWriter --ByteSink--> COM2 THR ---> QEMU -serial file:F -> F
//
// The port carries nothing but the trace (JSON Lines, no "\r" added): the
// console stays on COM1, untouched. Every 16 bytes wait (bounded) for the
// transmitter holding register to be empty (with the FIFO on: the 16-byte
// FIFO is empty), so the FIFO never overflows. QEMU 7.2 drains the FIFO
// at once, one write(2) per byte into the file: about 0.3-0.5 MB/s under
// TCG. A burst whose wait times out is still written (a wedged UART must
// not hang the guest) and counted.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace guest::trace_port {

// Detects and initialises COM2 (115200 8N1, FIFO on, no interrupts).
// Returns false, and leaves the port alone, when no UART answers there.
bool open();
bool is_open();
void write(const char* data, size_t len);

uint64_t bytes_written();
uint64_t slow_writes();  // bytes written after a timed-out wait

}  // namespace guest::trace_port
