// The replayer: a loaded trace plays the device (and the caller's pool)
// while the driver runs for real, and every call the driver makes is
// checked against the trace (DESIGN.md, "Traces").
//
//   replay(trace)
//     for each "call" line: Session::<fn>(args from the line)
//        |                                   ^ ReplayTap checks "ret"
//        v                                   |
//     VirtioNet / transports / SplitQueue  (the driver under test)
//        |  Platform calls             |  BufferPool calls
//        v                             v
//     ReplayPlatform               ReplayPool
//        \_____ Cursor: the next event of the trace ____/
//
// Interrupts are API calls too (handle_interrupt, the platform's handler
// calling the driver): at the top level between calls, as a guest that
// takes interrupts only while it waits records them, or between two of the
// driver's own events inside another call, where a platform that delivers
// at once took it; the replayer delivers each where the trace has it
// (Cursor::at), one at a time.
//
// Each call is matched against the next event. Inputs (reg_read value,
// fetch and frame bytes, bar_info, dma_alloc's ok, now, wait_irq,
// pool_alloc's buffer) are answered from it; expectations (everything the
// driver says: register writes, published chains with their bytes,
// completions, barriers, op scopes, logs, frees, results) must equal it.
//
// The first mismatch is a divergence: event index, the trace line, what
// the driver did (in trace notation) and why. From then on every call gets
// a benign answer (reads 0, fetches zero bytes, allocations fail, frees are
// honoured) without consuming the trace, so the driver returns; the replay
// stops at the next API boundary.
//
// Memory: the replayer owns real memory for DMA regions and pool buffers
// (the driver writes rings and headers into it), at device addresses of its
// own choosing (from kDmaBase / kPoolBase): a register value the trace
// names as {"dma":id,...} is checked against the replay's address of that
// region.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <optional>
#include <string>
#include <vector>

#include "replay/trace.h"
#include "verdict/verdict.h"

namespace vnet::replay {

inline constexpr uint64_t kDmaBase = 0x1'0000'0000ull;  // above 4 GiB: hi32 != 0
inline constexpr uint64_t kPoolBase = 0x2'0000'0000ull;

struct Divergence {
  size_t event_index = 0;  // index in Trace::events of the expected event
  std::string expected;    // the trace line
  std::string actual;      // what the driver did, in trace notation
  std::string reason;      // which field differs, in words
};

// How a trace is replayed (docs/trace-format.md, "Replay modes").
//   kStrict  every expectation must match: a recording replays call by
//            call; a converted capture of our own guest replays its
//            register sequence strictly, with the driver's view of the
//            rings answered from the capture's device facts
//            (capture_strict.cc)
//   kDevice  a converted capture of any guest configures and drives the
//            mock device; the driver runs its own course and is judged by
//            the conformance checker and the frames it delivers
//            (device_mode.cc)
enum class ReplayMode : uint8_t { kStrict, kDevice };
const char* replay_mode_name(ReplayMode mode);
// Parses "strict" / "device".
bool parse_replay_mode(const std::string& name, ReplayMode* out);

struct ReplayResult {
  bool passed = false;
  // The trace cannot be replayed in the asked mode at all (a recording in
  // device mode, a capture without the facts the mode needs): reported
  // like an unreadable trace.
  bool unusable = false;
  std::string error;
  // What the replay checked, one line each (capture replays).
  std::vector<std::string> notes;
  std::optional<Divergence> divergence;
  uint64_t events_consumed = 0;
  uint64_t api_calls = 0;  // nested interrupts included
  // Benign answers given after the divergence (the driver winding down).
  uint64_t benign_calls = 0;
  // What the driver did, for the run's verdict (report.h): a recording
  // replay observes counters and state after every API call (a stop() call
  // with the state it found) and probe/attach refusals; the capture replays
  // observe the driver once, at the end. False when no driver ran.
  bool observed_driver = false;
  verdict::Observation observed;
};

// Replays a loaded trace against the driver. Never throws for trace
// content (load_trace() validated it); allocation failure aside.
ReplayResult replay(const Trace& trace, ReplayMode mode = ReplayMode::kStrict);

namespace detail {
ReplayResult replay_recording(const Trace& trace);
ReplayResult replay_capture_strict(const Trace& trace);
ReplayResult replay_capture_device(const Trace& trace);
}  // namespace detail

}  // namespace vnet::replay
