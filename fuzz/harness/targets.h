// The fuzz targets' bodies, callable without libFuzzer: the targets in
// fuzz/targets/ are one-line LLVMFuzzerTestOneInput wrappers around these,
// and the seed generator and the bug-class regression test run inputs
// through the very same code. Input formats: the comment at the top of
// each fuzz/targets/<name>.cc.
//
// Each returns 0; after it returns, World::get() still holds the stopped
// driver (its counters say how it handled the input).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace vnet::fuzz {

int run_fuzz_used_ring(const uint8_t* data, size_t size);
int run_fuzz_rx(const uint8_t* data, size_t size);
int run_fuzz_config(const uint8_t* data, size_t size);
int run_fuzz_boundary(const uint8_t* data, size_t size);

}  // namespace vnet::fuzz
