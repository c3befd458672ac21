// The worlds the surface map is measured in, and the runs that make up each
// (DESIGN.md, "The four worlds"):
//
//   mock            vnet-mock on every mock_device/scenarios/*.json
//   replay          vnet-replay on the whole trace corpus, corpus/traces/
//   qemu            what QEMU's device did: the traces recorded by the guest
//                   under QEMU (corpus/traces/qemu) and the converted QEMU
//                   captures (tests/replay/captures), strict and device mode
//   fuzz_<target>   each libFuzzer target once over its corpus: every
//                   directory corpus/fuzz/fuzz_* names a target, whose
//                   binary must be in the same directory as vnet-mock
//
// Every run gets VNET_SURFACE=<work>/<world>; its dumps are read from there.
#pragma once

#include <string>
#include <vector>

#include "tools/vnet-surface/process.h"

namespace vnet::surface_tool {

struct WorldPlan {
  std::string name;
  bool fuzz = false;
  std::vector<Command> runs;  // without the VNET_SURFACE environment (run_world adds it)
  std::string missing;        // why the world cannot run (a binary not built), else empty
  // Fuzz worlds: the target and its corpus files (run by run_fuzz_inputs).
  std::string fuzz_binary;
  std::vector<std::string> inputs;
};

struct FuzzRun {
  int processes = 0;
  std::vector<std::string> crashed;  // inputs that ended their process (a finding)
};

// Runs the target once over every input, kChunk files per process (libFuzzer
// runs file arguments one after the other). A finding ends the process; the
// counts of the inputs before it are on disk already (surface_hook.h) and
// the chunk goes on in a new process from the input after the one that
// crashed. env: added to each process; artifacts (crash files) go to
// artifact_dir; logs to log_prefix.N.
FuzzRun run_fuzz_inputs(const WorldPlan& plan, const std::vector<std::string>& env,
                        const std::string& artifact_dir, const std::string& log_prefix);

// The worlds in table order; only those named in `only` when it is not empty.
std::vector<WorldPlan> plan_worlds(const std::string& source_root, const std::string& bin_dir,
                                   const std::vector<std::string>& only);

}  // namespace vnet::surface_tool
