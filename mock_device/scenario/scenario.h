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
#include "driver/transport/mmio_probe.h"
#include "driver/transport/pci_probe.h"
#include "mock_device/fault.h"
#include "mock_device/mock_device.h"
#include "mock_device/mock_platform.h"

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
  // The interrupt mode in force (VirtioNet::interrupt_mode()): "poll",
  // "intx", "msix"; and why MSI-X was not used ("none", msix_fallback_key).
  std::optional<std::string> interrupt_mode;
  std::optional<std::string> msix_fallback;
  // DMA memory the driver holds through the platform.
  std::optional<Range> dma_regions;    // dma_alloc regions live
  std::optional<Range> dma_bytes;      // bytes of them
  std::optional<Range> dma_maps_live;  // dma_map calls not yet unmapped
  // Shim-call bounds per driver operation: operation ("rx_burst", ...) ->
  // metric ("reg_reads", "reg_writes", "fetches", "shim_calls") -> the
  // range the largest count one call of it made so far must lie in.
  std::map<std::string, std::map<std::string, Range>> shim_bounds;
  // Completions the device holds back, by queue (0 rx, 1 tx, 2 ctrl).
  std::map<uint16_t, Range> held;
  // End only: the run's verdict (verdict/verdict.h), as Graded::name()
  // spells it ("safe-reject", "oracle:conformance", ...).
  std::optional<std::string> verdict;
  int verdict_line = 0;
};

// Driver operations and metrics shim_bounds knows.
inline constexpr const char* kShimOps[] = {"probe",      "attach",      "rx_burst", "tx_burst",
                                           "tx_reclaim", "poll_device", "recover",  "stop"};
inline constexpr const char* kShimMetrics[] = {"reg_reads", "reg_writes", "fetches", "shim_calls"};

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
  kRewriteDescriptor,  // the device rewrites descriptor fields of a queue's table now
  kWriteUsedIdx,       // the device stores an arbitrary used.idx now
  kHold,               // the device holds completions back (a slow device)
  kRelease,            // ... and publishes them now, in some order
  kHook,               // arm a hook: a device action at a point of the init sequence
  kPciConfig,          // rewrite PCI configuration space bytes
  kBar,                // a lie about a BAR
  kConfig,             // change device config values now (config interrupt once DRIVER_OK)
  kConfigInterrupt,    // a configuration change interrupt, nothing changed
  kProcessTx,          // the device consumes up to count tx chains (auto_process_tx false)
  kAdvanceClock,       // the platform clock advances by ns
  kBudget,             // platform / pool allocation budgets from now on
};
const char* step_kind_name(StepKind kind);

struct PciPoke {
  uint32_t offset = 0;
  uint8_t width = 1;
  uint32_t value = 0;
};

struct Step;

// A device action at a point of the initialisation sequence (or of any
// re-initialisation): see MockDevice::Hook.
struct HookSpec {
  int line = 0;
  mock::MockDevice::HookPoint point = mock::MockDevice::HookPoint::kStatusWrite;
  uint8_t status_bit = 0;
  int32_t queue = -1;
  bool before = false;
  uint32_t skip = 0;
  uint32_t count = 1;
  std::vector<Step> actions;  // device-side steps only
};

struct Step {
  StepKind kind = StepKind::kPump;
  int line = 0;
  std::vector<Frame> frames;  // rx, tx, expect_tx
  bool link = true;           // link
  uint32_t count = 1;         // poll_device, pump
  uint16_t queue = 0;         // republish_used, publish_used, rewrite_descriptor, ...
  uint32_t used_id = 0;       // publish_used
  uint32_t used_len = 0;      // publish_used
  bool used_next = false;     // publish_used "id": "next": complete the next available chain
  bool used_len_given = false;
  // rewrite_descriptor: index and the fields to overwrite
  uint16_t desc_index = 0;
  std::vector<std::pair<mock::DeviceQueue::DescField, uint64_t>> desc_fields;
  // write_used_idx: value (absolute) or advance (relative)
  uint16_t used_idx = 0;
  bool used_idx_relative = false;
  // hold / release
  uint32_t hold_delay = 0;
  mock::MockDevice::ReleaseOrder order = mock::MockDevice::ReleaseOrder::kFifo;
  uint64_t seed = 1;
  std::vector<HookSpec> hook;  // hook (one element)
  PciPoke poke{};              // pci_config
  mock::BarLie bar{};          // bar
  // config
  std::optional<uint16_t> cfg_mtu, cfg_status, cfg_max_pairs;
  std::optional<std::array<uint8_t, 6>> cfg_mac;
  uint64_t ns = 0;  // advance_clock
  // budget: -1 unlimited; nullopt: unchanged
  std::optional<int64_t> dma_alloc_budget, dma_map_budget, pool_alloc_budget;
  mock::RegisterLie lie{};  // register
  bool poll = true;         // link/device_reset: call poll_device afterwards
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
  std::vector<HookSpec> device_hooks;                   // armed before probe
  std::vector<PciPoke> pci_pokes;                       // applied before probe
  std::vector<mock::BarLie> bar_lies;                   // armed before probe
  // Platform.
  std::optional<uint64_t> clock_step_ns;  // a fake clock: each read advances this much
  int64_t dma_alloc_budget = -1;          // MockPlatform::set_dma_budget
  int64_t dma_map_budget = -1;            // MockPlatform::set_map_budget
  mock::MockPlatform::MapLie map_lie = mock::MockPlatform::MapLie::kNone;
  // Interrupts the platform offers (MockPlatform::set_msi_vectors/set_line)
  // and how it delivers them: queued (to the runner, which hands them to
  // VirtioNet::handle_interrupt between steps and pump rounds) or at once,
  // inside the device access that raised them.
  uint16_t msi_vectors = 0;
  bool line = false;
  bool synchronous_interrupts = false;
  // Driver.
  PciMode mode = PciMode::kAuto;
  NetOptions options{};
  size_t pool_buffers = 1024;
  uint32_t buffer_size = 2048;
  bool echo = false;                 // the stack sends every received frame back
  std::string expect_probe = "ok";   // probe error name (MMIO: mmio_probe_error_key)
  std::string expect_attach = "ok";  // attach error name
  std::string expect_modern_error;   // modern probe detail (empty: not checked)
  int64_t pool_alloc_budget = -1;    // MockBufferPool::set_alloc_budget
  uint16_t burst = 32;               // frames per rx_burst / tx_burst call of the runner
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
// The MMIO probe's (a device.transport mmio-v1/mmio-v2): "ok", "no_device",
// "window_too_small", "bad_magic", "bad_version", "not_net",
// "no_version1", "device_cfg_too_short".
const char* mmio_probe_error_key(MmioProbeError e);
const char* attach_error_key(AttachError e);
const char* modern_error_key(ModernProbeError e);
const char* msix_fallback_key(MsixFallback f);  // "none", "no_platform_vectors", ...

}  // namespace vnet::scenario
