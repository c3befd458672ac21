// fuzz_packed_ring: the mock device with packed virtqueues (virtio 1.2,
// 2.8) on every queue, well-behaved except where the input makes it lie
// about the used descriptors it writes -- their buffer id, length, ring
// position and AVAIL/USED flags (a wrap counter that stops flipping, a
// pattern no side writes) -- and where it moves its device event
// suppression structure (ENABLE, DISABLE, DESC at any position),
// interleaved with the driver's rx/tx calls, resets and recovery.
//
//   input = flavour:u8  rx_cap:u8  tx_cap:u8  qsize:u8   (setups.h)
//           op args  op args ...                         (mock_script.h)
//
//   e.g.  00 07 07 03 | 00 03 40 00    rx: 4 frames of 64 bytes
//                     | 0c 00 02 00 00 flags_edit rx: the previous lap's pattern
//                     | 00 00 40 00    rx: one frame (the driver breaks the
//                                      queue; poll_device() recovers)
//
// Per input: a fresh device and driver (World::begin_mock), probe, attach
// with NetOptions::accept_ring_packed, the script, stop; every oracle
// throughout, packed rings judged by PackedReference (oracle g).
#include <stddef.h>
#include <stdint.h>

#include "fuzz/harness/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return vnet::fuzz::run_fuzz_packed_ring(data, size);
}
