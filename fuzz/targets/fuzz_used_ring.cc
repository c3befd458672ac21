// fuzz_used_ring: a well-behaved mock device, except that the input decides
// the used-ring entries (id, len) and where the used index moves, on the rx
// and tx queues, interleaved with the driver's rx/tx calls.
//
//   input = flavour:u8  rx_cap:u8  tx_cap:u8  queue_size:u8   (setups.h)
//           op args  op args ...                              (mock_script.h)
//
//   e.g.  01 07 07 02 | 00 03 40 00    rx: 4 frames of 64 bytes
//                     | 0b 00 00 09 00 00 00    used_edit rx: id = 9
//                     | 00 00 40 00    rx: one frame (its entry says id 9)
//
// Per input: a fresh device and driver (World::begin_mock), probe, attach,
// the script, stop; oracles (a)-(e) throughout (findings.h).
#include <stddef.h>
#include <stdint.h>

#include "fuzz/harness/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return vnet::fuzz::run_fuzz_used_ring(data, size);
}
