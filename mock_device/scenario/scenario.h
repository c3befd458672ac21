// Scenarios: a JSON script for the mock world (documented in
// docs/scenarios.md). A scenario says what the device offers, how the
// driver is configured, a timeline of steps (frames arriving and leaving,
// link changes, device resets, misbehaviour switched on, expectations) and
// what must hold at the end.
//
// Loading turns the JSON into the plain structs below; frames given as a
// size/pattern/count are generated here, so running a scenario does no
// parsing. Every error -- JSON syntax or meaning -- is a ScenarioError that
// names the file, the line, and what is wrong. Lines of values are tracked
// with a SAX pass over the same text (nlohmann's DOM keeps no positions).
#pragma once

#include <stdint.h>

#include <array>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "driver/net/virtio_net.h"
#include "driver/transport/pci_probe.h"
#include "mock_device/fault.h"
#include "mock_device/mock_device.h"

namespace vnet::scenario {

class ScenarioError : public std::runtime_error {
 public:
  ScenarioError(std::string file, int line, const std::string& message)
      : std::runtime_error(file + ":" + std::to_string(line) + ": " + message),
        file_(std::move(file)),
        line_(line) {}
  const std::string& file() const { return file_; }
  int line() const { return line_; }

 private:
  std::string file_;
  int line_;
};

using Frame = std::vector<uint8_t>;

// A counter expectation: exact (min == max) or a range.
struct Range {
  uint64_t min = 0;
  uint64_t max = UINT64_MAX;
};

struct Expectation {
  int line = 0;
  std::optional<NetState> driver_state;
  std::optional<bool> link_up;
  std::map<std::string, Range> counters;         // NetCounters names
  std::map<std::string, Range> device_counters;  // DeviceCounters names
  std::optional<Range> rx_frames;                // frames the driver delivered to the stack, so far
  std::optional<Range> tx_frames;  // frames the device received from the driver, so far
  // Exactly this set of spec sections among the recorded violations.
  std::optional<std::vector<std::string>> violations;
  std::optional<bool> pool_all_returned;  // end only
  // What the driver made of the device.
  uint64_t negotiated = 0;      // feature bits that must be negotiated
  uint64_t not_negotiated = 0;  // feature bits that must not be
  std::optional<std::array<uint8_t, 6>> mac;
  std::optional<uint16_t> mtu;
  std::optional<std::string> transport;  // "pci-legacy" | "pci-modern"
};

enum class StepKind : uint8_t {
  kRx,           // frames arrive at the device (inject_rx), then the driver is pumped
  kTx,           // the stack sends frames through the driver
  kExpectTx,     // the next frames the device received must be exactly these
  kLink,         // link up / down
  kDeviceReset,  // the device resets itself
  kRecover,      // VirtioNet::recover()
  kStop,         // VirtioNet::stop()
  kPollDevice,   // VirtioNet::poll_device() count times
  kPump,         // rx_burst + tx_reclaim until idle, count times
  kFault,        // arm a misbehaviour
  kClearFaults,
  kExpect,
  kRepublishUsed,  // the device publishes its last used entry of a queue again (a stale completion)
  kIgnoreReset,    // the device stops (true) or resumes (false) acknowledging resets
  kRegister,       // a lie about a register read from now on
  kPublishUsed,    // the device publishes an arbitrary used entry now
};
const char* step_kind_name(StepKind kind);

struct Step {
  StepKind kind = StepKind::kPump;
  int line = 0;
  std::vector<Frame> frames;  // rx, tx, expect_tx
  bool link = true;           // link
  uint32_t count = 1;         // poll_device, pump
  uint16_t queue = 0;         // republish_used, publish_used
  uint32_t used_id = 0;       // publish_used
  uint32_t used_len = 0;      // publish_used
  mock::RegisterLie lie{};    // register
  bool poll = true;           // link/device_reset: call poll_device afterwards
  mock::Fault fault{};
  Expectation expect{};
};

struct Scenario {
  std::string file;
  std::string name;
  std::string description;
  // Device.
  mock::DeviceConfig device{};
  size_t memory_mib = 64;
  bool iommu = false;  // the platform maps buffers through an IOMMU (MockPlatform::set_iommu)
  std::vector<mock::Fault> device_faults;               // armed before probe
  std::vector<mock::RegisterLie> device_register_lies;  // armed before probe
  // Driver.
  PciMode mode = PciMode::kAuto;
  NetOptions options{};
  size_t pool_buffers = 1024;
  uint32_t buffer_size = 2048;
  bool echo = false;                 // the stack sends every received frame back
  std::string expect_probe = "ok";   // probe error name
  std::string expect_attach = "ok";  // attach error name
  // Timeline and end.
  std::vector<Step> steps;
  Expectation end{};
  bool stop_at_end = true;
};

// Parses scenario text; file names the source in errors.
Scenario parse_scenario(std::string_view text, const std::string& file);
// Reads and parses a file (an unreadable file is a ScenarioError at line 0).
Scenario load_scenario_file(const std::string& path);

// Names used by scenarios (and by the runner's report).
const char* probe_error_key(ProbeError e);
const char* attach_error_key(AttachError e);

}  // namespace vnet::scenario
