// fuzz_ctrl: the control plane (virtio 1.2, 5.1.6.5) against the mock
// device -- the control queue's answers (no completion, an ack never
// written, an ack neither OK nor ERR, used.len other than 1, a wrong used
// id), the control-plane configuration (max_virtqueue_pairs,
// rss_max_key_size, rss_max_indirection_table_length,
// supported_hash_types, features offered without CTRL_VQ) and the commands
// themselves (rx modes, MAC filter, MAC address, VLANs, queue pairs, RSS,
// announce), with traffic over every queue pair, resets and recovery.
//
//   input = flavour:u8  withdraw:u16  max_pairs:u16  rss_key:u8
//           rss_table:u16  hash_types:u16                      (prefix)
//           op args  op args ...   (mock_script.h; the control ops:
//                                   ctrl_script.h)
//
//   flavour: bits 0-1 the device (modern PCI, transitional PCI, virtio-mmio
//   version 2, legacy PCI); bit 2 packed rings accepted; bit 3 EVENT_IDX
//   masked; bit 4 RSS and bit 5 HASH_REPORT accepted; bit 6 one queue pair
//   (else up to kMaxQueuePairs); bit 7 the device processes tx only on
//   process_tx ops. withdraw: bit i withdraws one control-plane feature
//   from the offer (run_fuzz_ctrl, fuzz/harness/targets.cc).
//
// Per input: a fresh device and driver, probe, attach with
// NetOptions::accept_ctrl_vq, the script, stop; every oracle throughout,
// the control plane judged by oracle (k) (ctrl_script.h).
#include <stddef.h>
#include <stdint.h>

#include "fuzz/harness/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return vnet::fuzz::run_fuzz_ctrl(data, size);
}
