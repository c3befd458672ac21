// fuzz_config: the input decides what the device offers and reports --
// feature bits, queue sizes, the PCI capabilities (BAR, notify multiplier,
// capability geometry faults and raw configuration-space patches) and the
// device configuration space (MAC, status, max_virtqueue_pairs, MTU) -- at
// probe, and as configuration changes at run time.
//
//   input = ConfigPrefix (setups.h: flavour, features, mac, status, pairs,
//           mtu, queue sizes, notify multiplier, modern BAR, state faults,
//           driver options)
//           op args  op args ...                  (mock_script.h)
#include <stddef.h>
#include <stdint.h>

#include "fuzz/harness/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return vnet::fuzz::run_fuzz_config(data, size);
}
