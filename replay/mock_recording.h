// Recording traces in the mock world: the mock device, its platform and
// pool, wrapped by the recorder, driven through a Session. The corpus
// generator (vnet-record-mock), the replay tests and the benchmark all
// record through here, so a scenario means the same thing everywhere.
//
//   Session --> RecordingPlatform --> MockPlatform --> MockDevice
//          \--> RecordingPool     --> MockBufferPool      |
//                    \________ TraceWriter ________/       GuestMemory
//                               | body (std::string)
//   finish(): header line (now that the run is known) + body + "end"
//
// Deterministic: the mock platform's clock is a counter, the mock device
// and pool are deterministic, so the same scenario on the same driver gives
// the same trace byte for byte (except the header's recorded.when).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <memory>
#include <string>
#include <vector>

#include "mock_device/guest_memory.h"
#include "mock_device/mock_buffer_pool.h"
#include "mock_device/mock_device.h"
#include "mock_device/mock_platform.h"
#include "replay/record/recorder.h"
#include "replay/record/session.h"

namespace vnet::replay {

struct MockKind {
  mock::TransportKind device;
  PciMode mode;
  const char* name;
};

inline constexpr MockKind kMockKinds[] = {
    {mock::TransportKind::kLegacy, PciMode::kAuto, "legacy"},
    {mock::TransportKind::kModern, PciMode::kAuto, "modern"},
    {mock::TransportKind::kTransitional, PciMode::kAuto, "transitional"},
    {mock::TransportKind::kTransitional, PciMode::kLegacy, "transitional_as_legacy"},
    {mock::TransportKind::kMmioV1, PciMode::kAuto, "mmio_v1"},
    {mock::TransportKind::kMmioV2, PciMode::kAuto, "mmio_v2"},
};

// The window a virtio-mmio kind is probed at: QEMU microvm's first slot as
// its kernel command line names it, the line when the device has one.
inline MmioWindow mock_mmio_window(const mock::DeviceConfig& c) {
  return MmioWindow{0xFEB02E00, c.mmio_window_size, c.interrupt_pin != 0 ? 12 : -1};
}

class RecordingWorld {
 public:
  static constexpr size_t kPoolBuffers = 512;

  RecordingWorld(const MockKind& kind, mock::DeviceConfig config = {});
  RecordingWorld(const RecordingWorld&) = delete;
  RecordingWorld& operator=(const RecordingWorld&) = delete;

  trace::Session& session() { return *session_; }
  mock::MockDevice& device() { return device_; }
  mock::MockPlatform& platform() { return platform_; }
  mock::MockBufferPool& pool() { return pool_; }
  const MockKind& kind() const { return kind_; }
  uint64_t events() const { return writer_.events(); }
  // Compact recording (format version 2): repeated identical register
  // accesses are written once with a count. Call before anything is
  // recorded.
  void set_compact(bool on) { writer_.set_compact(on); }

  // Probe with the kind's mode (virtio-mmio: the window), then attach.
  AttachError bring_up(const NetOptions& options);
  // n frames of assorted sizes each way: tx_burst, inject into rx,
  // rx_burst, tx_reclaim. seq numbers the frames.
  void traffic(uint32_t n, uint32_t* seq);

  // Ends the trace and returns it: header line, events, "end" line.
  std::string finish(const std::string& scenario, const std::string& when);

 private:
  static void append(void* context, const char* data, size_t len);

  MockKind kind_;
  mock::DeviceConfig config_;
  std::string body_;
  trace::TraceWriter writer_;
  mock::GuestMemory memory_;
  mock::MockDevice device_;
  mock::MockPlatform platform_;
  mock::MockBufferPool pool_;
  uint64_t clock_ = 0;
  trace::RecordingPlatform recording_platform_;
  std::unique_ptr<trace::RecordingPool> recording_pool_;  // large: on the heap
  trace::TraceTap tap_;
  std::unique_ptr<trace::Session> session_;
};

// A frame of size bytes whose content depends on seq, with an Ethernet
// header (unicast destination, locally administered source).
std::vector<uint8_t> mock_frame(size_t size, uint32_t seq);

// Small ring caps: corpus traces stay small.
NetOptions corpus_options();

// The transport kinds a scenario is recorded on.
// The virtio-mmio kinds take the kAll scenarios that do not need MSI-X, and
// those a scenario names as MMIO-worthy (MockScenario::mmio).
enum class ScenarioKinds : uint8_t {
  kAll,           // all four PCI kinds
  kLegacyModern,  // legacy and modern (misbehaviour: one of each interface)
  kModern,        // modern only (features above bit 31)
};

struct MockScenario {
  const char* name;
  const char* what;
  ScenarioKinds kinds;
  void (*run)(RecordingWorld& world);
  // Device configuration changes before the world is built (may be null).
  void (*configure)(mock::DeviceConfig& config);
  // Also recorded on the virtio-mmio kinds.
  bool mmio = false;
};

const std::vector<MockScenario>& mock_scenarios();
bool scenario_applies(const MockScenario& s, const MockKind& k);

// The corpus file name of a scenario on a kind: "<kind>-<scenario>.jsonl".
std::string corpus_file_name(const MockScenario& s, const MockKind& k);
std::string record_scenario(const MockScenario& s, const MockKind& k, const std::string& when,
                            bool compact = false);

// A long steady-state run (for the benchmark): bring-up, then rounds of
// burst traffic of small frames until about `events` events are recorded.
std::string record_long_traffic(const MockKind& k, size_t events);

}  // namespace vnet::replay
