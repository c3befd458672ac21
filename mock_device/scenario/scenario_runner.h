// The scenario runner: the real driver (vnet::PciTransports or, for the
// virtio-mmio flavours, vnet::MmioTransports + vnet::VirtioNet)
// against the mock device, through the mock platform, following a Scenario.
//
//   Scenario --> MockDevice (config, faults) <-- MockPlatform <-- PciTransports::probe
//                                                              <-- VirtioNet::attach / bursts
//   steps:  rx       device.inject_rx(frame) each; the driver is pumped
//                    (rx_burst until empty, tx_reclaim) and, with echo,
//                    every frame it delivers is sent back with tx_burst
//           tx       frames copied into pool buffers and given to tx_burst
//           link, device_reset   the event, then poll_device() (unless poll: false)
//           expect   checked against the driver, the device and the pool
//   end:     stop() (unless end.stop is false), then the end expectation,
//            which by default requires no conformance violation and every
//            pool buffer back. Double or foreign frees, and fetches outside
//            guest memory, always fail a run.
//   verdict: every run is graded (verdict/verdict.h) from the driver's
//            counters and state after each step, probe/attach refusals and
//            the run's findings: a fetch outside guest memory is
//            memory-error; double, foreign or bad DMA frees
//            oracle:ownership; a conformance violation the end expectation
//            does not list oracle:conformance; a pump that never goes idle
//            exhausts the work budget (wedged). end.verdict, when given,
//            must equal it.
//
// The runner never throws for driver behaviour: everything that went wrong
// is a failure line in the result, naming the scenario line.
#pragma once

#include <stdint.h>

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "driver/net/net_counters.h"
#include "mock_device/conformance.h"
#include "mock_device/mock_device.h"
#include "mock_device/mock_platform.h"
#include "mock_device/scenario/scenario.h"
#include "verdict/verdict.h"

namespace vnet::scenario {

struct RunOptions {
  bool echo_driver_log = false;  // print driver log lines as they come
  // Run on this device flavour whatever the scenario's device.transport
  // says (vnet-mock --transport): the same script on PCI and virtio-mmio.
  std::optional<mock::TransportKind> transport;
};

struct RunResult {
  bool passed = false;
  std::vector<std::string> failures;  // "line N: what"
  std::vector<std::string> events;    // a narrative of the run, one line per step
  std::string probe_result;           // probe_error_key
  std::string transport_name;         // the transport the driver chose
  std::string attach_result;          // attach_error_key
  std::string modern_error;           // modern_error_key (the modern probe's detail)
  NetState final_state = NetState::kDown;
  // Frames.
  uint64_t frames_injected = 0;      // written into rx buffers by the device
  uint64_t frames_not_injected = 0;  // the device had no rx buffer for them
  uint64_t frames_delivered = 0;     // handed to the stack by rx_burst
  uint64_t frames_offered = 0;       // given to tx_burst
  uint64_t frames_taken = 0;         // accepted by tx_burst
  uint64_t frames_out = 0;           // received by the device
  // Snapshots at the end.
  NetCounters driver_counters{};
  mock::DeviceCounters device_counters{};
  std::vector<mock::Violation> violations;
  std::vector<mock::LogLine> driver_log;
  // The most shim calls one call of each driver operation made (reg_reads,
  // reg_writes, fetches, shim_calls; see kShimMetrics).
  std::map<std::string, std::array<uint64_t, 4>> shim_max;
  // What the run observed, and the verdict graded from it.
  verdict::Observation observed;
  verdict::Graded verdict;
};

RunResult run_scenario(const Scenario& scenario, const RunOptions& options = {});

}  // namespace vnet::scenario
