// fuzz_trace: the trace loader and the replayer facing malformed trace
// files. The input is the text of a trace (JSON Lines,
// docs/trace-format.md); seeds are the recorded traces of corpus/traces/.
//
//   input --load_trace()--> Trace --replay()--> ReplayResult
//           |  malformed: TraceError (expected; the input is rejected)
//           v
//         anything else escaping, a sanitizer report, or a hang is a finding
//
// A trace that loads is replayed against the real driver: the replayer
// must survive any well-formed but inconsistent trace (wrong values, events
// out of order, ids that do not exist) by reporting a divergence.
#include <stddef.h>
#include <stdint.h>

#include <string>

#include "replay/replayer.h"
#include "replay/trace.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  vnet::replay::Trace trace;
  try {
    trace = vnet::replay::load_trace(std::move(text), "fuzz-input");
  } catch (const vnet::replay::TraceError&) {
    return -1;  // rejected: not worth keeping in the corpus
  }
  vnet::replay::replay(trace);
  return 0;
}
