// fuzz_boundary: the widest reach. Every value the device gives the driver
// -- register reads (PCI configuration space, BARs), bar_info, fetched
// shared memory (used flags, index and elements, rx headers), rx frame
// bytes -- comes from the input, through probe, negotiation, queue setup
// and traffic. Nothing is modelled: the input is the device.
//
//   input = mode:u8  rx_cap:u8  tx_cap:u8  nops:u8  op[nops]   (the script)
//           values...                     (device answers, device_shims.h)
//
//   op byte: low 3 bits the call, high 5 bits its argument a
//     0 rx_burst(a + 1)   1 tx_burst(a % 8 + 1 frames)   2 tx_reclaim
//     3 poll_device       4 recover     5 set_rx_interrupts(a & 1)
//     6 stop + probe + attach           7 rx_burst(64)
//
//   mode: bits 0-1 the PCI mode, 2-3 interrupts, bit 4 a storm guard,
//     bit 5 a virtio-mmio window (bits 6-7 its kind); rx_cap bit 7:
//     accept a packed ring (2.8) if the device offers one (targets.cc).
//
// The script runs after probe(mode % 3) and attach; the value stream is
// shared by all of them in call order, exactly as a trace would list the
// answers (corpus seeds are made from the recorded traces that way).
#include <stddef.h>
#include <stdint.h>

#include "fuzz/harness/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return vnet::fuzz::run_fuzz_boundary(data, size);
}
