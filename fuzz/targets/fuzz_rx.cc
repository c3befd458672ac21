// fuzz_rx: what the device writes into receive buffers. The mock device
// plays the ring honestly; the input decides each received frame's virtio
// net header (flags, gso_type, hdr_len, gso_size, csum_start, csum_offset,
// num_buffers), the frame's length and bytes, and the used length the
// device reports for it.
//
//   input = flavour:u8  rx_cap:u8  features:u8                 (setups.h)
//           op args  op args ...     mostly rx_raw:           (mock_script.h)
//
//   rx_raw:  hdr[12]                    size:u16  fill:u8  len_mode:u8  len_value:u16
//            flags gso hdr_len gso_size csum_start csum_off num_buffers
//            +--+--+-----+-----+-----+-----+-----+
//            |u8|u8|le16 |le16 |le16 |le16 |le16 |  (10 bytes without MRG_RXBUF
//            +--+--+-----+-----+-----+-----+-----+   or VERSION_1)
#include <stddef.h>
#include <stdint.h>

#include "fuzz/harness/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return vnet::fuzz::run_fuzz_rx(data, size);
}
