// fuzz_boundary_typed: fuzz_boundary with one input stream per kind of
// device read (the Hoedur idea) instead of one flat value stream. The same
// driver, World and oracles; the same device answers, only taken from
// where their kind lives in the input.
//
//   input = mode:u8  rx_cap:u8  tx_cap:u8  nops:u8  op[nops]   (the script,
//                                          as fuzz_boundary.cc)
//           { MARKER tag:u8  bytes }*      (the stream table)
//
// MARKER is F7 5E 0A B3; the bytes after it belong to stream tag % 12
// (tag FF: MARKER itself is data of the current stream). The streams --
// PCI config, bar_info, common cfg, device cfg, ISR/status, used.idx,
// used ids, used lens, rx headers, frame bytes, interrupts, other fetches --
// and why a separator scheme: fuzz/harness/typed_streams.h. Seeds: every
// fuzz_boundary corpus input converted (vnet-fuzz-seeds), answering alike.
#include <stddef.h>
#include <stdint.h>

#include "fuzz/harness/typed_streams.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return vnet::fuzz::run_fuzz_boundary_typed(data, size);
}
