// Known bug classes: one input per class of real-world virtio-net hardening
// bug the driver must survive (issue 5, item 5), for the fuzz target that
// reaches it, with a check of how the driver handled it.
//
//   name           target            what the device does
//   used_id_range  fuzz_used_ring    rx used.id beyond the queue size
//   ...            (the table in bug_classes.cc)
//
// The seed generator turns each into a regression input
// (corpus/fuzz/<target>/bug-<name>) and a replayable trace
// (corpus/traces/bugs/<name>.jsonl); tests/fuzz/bug_classes_test.cc runs
// each input and checks that the driver counted, dropped, failed or
// recovered as the check says.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "driver/net/virtio_net.h"

namespace vnet::fuzz {

struct BugClass {
  const char* name;
  const char* what;
  const char* target;  // fuzz_<name>
  int (*run)(const uint8_t* data, size_t size);
  std::vector<uint8_t> input;
  // Empty when the driver's state and counters after the run show the
  // expected handling; else what is missing.
  std::string (*check)(const VirtioNet& net);
};

std::vector<BugClass> bug_classes();

}  // namespace vnet::fuzz
