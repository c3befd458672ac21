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

#include "driver/net/virtio_net.h"
#include "driver/transport/mmio_probe.h"
#include "driver/transport/pci_probe.h"

namespace vnet::fuzz {

class World;

int run_fuzz_used_ring(const uint8_t* data, size_t size);
int run_fuzz_rx(const uint8_t* data, size_t size);
int run_fuzz_packed_ring(const uint8_t* data, size_t size);
int run_fuzz_config(const uint8_t* data, size_t size);
int run_fuzz_boundary(const uint8_t* data, size_t size);
int run_fuzz_ctrl(const uint8_t* data, size_t size);

// fuzz_boundary's script prefix (fuzz/targets/fuzz_boundary.cc), shared with
// fuzz_boundary_typed: read_boundary_script() returns the bytes it took (at
// most size); run_boundary_script() brings the driver up, runs the ops and
// ends the input (World::begin_boundary() first).
struct BoundaryScript {
  PciMode mode = PciMode::kAuto;
  bool mmio = false;    // a virtio-mmio window instead of a PCI function
  MmioWindow window{};  // ... this one
  NetOptions options{};
  uint8_t nops = 0;
  uint8_t ops[64] = {};
};
size_t read_boundary_script(const uint8_t* data, size_t size, BoundaryScript* out);
void run_boundary_script(World& w, const BoundaryScript& s);

}  // namespace vnet::fuzz
