// Findings: how a fuzz oracle reports a bug. Every finding names its
// oracle, prints one line to stderr and aborts, so that libFuzzer saves the
// input as a crash:
//
//   vnet-fuzz: FINDING ownership (b): descriptor 3 of queue 0 published while the device owns it
//
// Oracles (DESIGN.md, "The four worlds", fuzz/; docs/fuzzing.md):
//   (a) frame-bounds   a frame handed to the stack (or announced with
//                      frame_in_place) lies inside a buffer the driver posted
//                      and the device legitimately completed, within the
//                      length the device reported
//   (b) ownership      no descriptor published while the device owns it, no
//                      buffer returned (or unmapped) twice, foreign or while
//                      device-owned -- owned until completed or until a reset
//                      the device acknowledged (status 0 written, 0 read back
//                      from the transport's status register) -- and every
//                      buffer back and every DMA region freed after stop()
//
// tests/fuzz/oracle_fire_test.cc shows each oracle firing on its bugs.
//   (c) double-fetch   no location of device memory fetched twice in one
//                      driver operation unless marked as a re-check
//   (d) work-budget    every driver call finishes within a bounded number of
//                      shim calls
//   (e) conformance    with well-behaved device input the mock device's
//                      spec-conformance checker records no violation; the
//                      rules no device behaviour can excuse (feature
//                      dependencies, what the driver writes into its own
//                      chains and headers, registers it must not write) on
//                      every input
//   (f) window         every register the driver touches lies inside a
//                      window the device advertised (a virtio capability
//                      within its BAR's size, or the legacy BAR)
//   (g) protocol       what the driver tells the device follows from what
//                      the device said: features written only from the
//                      offer read, DRIVER_OK only after FEATURES_OK read
//                      back set, each accepted completion the used element
//                      the device published at that slot, below used.idx,
//                      and none once used.idx ran past the chains in flight
//   (h) decision       the driver decided as the reference does
//                      (decision_reference.h): attach result, MTU, queue
//                      sizes; each rx completion delivered or dropped, and
//                      counted under the right reason
//
// A hook runs before the abort (crash-to-trace uses it to finish the trace
// it is writing, with the finding as its last line).
#pragma once

namespace vnet::fuzz {

enum class Oracle : unsigned char {
  kFrameBounds,
  kOwnership,
  kDoubleFetch,
  kWorkBudget,
  kConformance,
  kWindow,
  kProtocol,
  kDecision,
  kControl,  // (k) the control plane: ctrl_script.h
};
const char* oracle_name(Oracle oracle);

// Called with the full finding line before the process aborts.
using FindingHook = void (*)(const char* line);
void set_finding_hook(FindingHook hook);

// True once finding() reported (the process is on its way down).
bool finding_reported();

[[noreturn]] void finding(Oracle oracle, const char* format, ...)
    __attribute__((format(printf, 2, 3)));

// "function file:line" of a code address, when a sanitizer runtime can
// symbolise it; the hex address otherwise.
void describe_pc(const void* pc, char* out, unsigned long size);

}  // namespace vnet::fuzz
