// World: what every fuzz target runs the driver in, one input at a time.
//
//   persistent (allocated once per process, reused by every input)
//     GuestMemory arena, FuzzPool, OraclePlatform (large tables)
//   per input (constructed at begin_*(), destroyed at end())
//     MockDevice + FuzzMockPlatform  (device targets; the MockDevice object
//                                     of an identical configuration is
//                                     reused when no state fault was armed
//                                     on it: reset through its status
//                                     register, configuration restored,
//                                     faults, hook and conformance record
//                                     cleared -- constructing one costs a
//                                     64 KiB allocation)   or
//     BoundaryPlatform               (fuzz_boundary)
//     Session (the caller: VirtioNet, PCI transports)
//     crash-to-trace, when VNET_FUZZ_TRACE names a file (repro below)
//
//   Session --> VirtioNet --> OraclePlatform --> [RecordingPlatform] --> device shim
//          \--> [RecordingPool] --> FuzzPool
//
// Every input starts from a fresh device and a fresh driver: begin_*()
// builds both, probe+attach run first; end() stops the driver and checks
// that every buffer and DMA region came back (oracle b) and, for
// well-behaved input on the mock device, that the conformance checker
// stayed silent (oracle e).
//
// Crash to trace: with VNET_FUZZ_TRACE=<file> in the environment, the run
// is recorded through the replay recorder (replay/record/) and written to
// <file> at the end of the input -- or at a finding or sanitizer crash,
// with the finding as the trace's last event. vnet-replay <file> then
// replays the same device answers against the driver without the fuzzer.
#pragma once

#include <stdint.h>

#include <memory>
#include <optional>
#include <string>

#include "driver/net/virtio_net.h"
#include "fuzz/harness/decision_reference.h"
#include "fuzz/harness/device_shims.h"
#include "fuzz/harness/fuzz_pool.h"
#include "fuzz/harness/input.h"
#include "fuzz/harness/interrupt_reference.h"
#include "fuzz/harness/oracle_platform.h"
#include "fuzz/harness/watchdog_reference.h"
#include "mock_device/guest_memory.h"
#include "mock_device/mock_device.h"
#include "replay/record/session.h"

namespace vnet::fuzz {

class Recording;

class World {
 public:
  static constexpr uint32_t kPoolBuffers = 192;
  static constexpr uint32_t kBufferSize = 2048;
  static constexpr uint32_t kMaxTxFrame = kBufferSize - kTxHeadroom;

  // The process-wide world (built on first use).
  static World& get();

  // Starts an input with the mock device (built from config) as the device.
  void begin_mock(const mock::DeviceConfig& config, const char* target);
  // The device may not be reused by a later input (a state fault changed
  // what it reports in ways that cannot be undone).
  void taint_device() { device_tainted_ = true; }
  // Starts an input whose device answers come from values.
  void begin_boundary(Input& values, const char* target);
  // ... or from device_side, a shim the caller owns and keeps alive until
  // the next begin_*() (fuzz_boundary_typed: typed_streams.h).
  void begin_boundary(Platform& device_side, const char* target);
  // probe(mode) then attach(options). True when the driver runs.
  bool bring_up(PciMode mode, const NetOptions& options);
  // The same on a virtio-mmio window (the input's): probe_mmio(window),
  // then attach. restart() probes that window again.
  bool bring_up_mmio(const MmioWindow& window, const NetOptions& options);

  // ---- the caller's side, each call checked by the oracles ----
  uint16_t rx_burst(uint16_t max);
  // count frames of size bytes (cut to a pool buffer); content from seed.
  uint16_t tx_burst(uint16_t count, uint32_t size, uint8_t seed);
  // One frame with an offload request (issue 16), in frags (1 or 2)
  // buffers; oracle (h) checks the driver's verdict on it.
  uint16_t tx_offload(const uint8_t* frame, uint32_t len, uint8_t frags, const PacketOffload& req);
  void tx_reclaim() { session().tx_reclaim(); }
  // poll_device() and recover() may re-initialise the device (bring_up):
  // oracle (h) then checks the attach decisions again.
  DeviceEvents poll_device();
  // Interrupts (issue 12): source handed to VirtioNet::handle_interrupt
  // (through the Session, so crash-to-trace records it), then the contexts
  // it asks for are run as a caller would: poll_device for control, rx_burst
  // and set_rx_interrupts(true) for rx, tx_reclaim for tx.
  void interrupt(IrqSource source);
  // What the mock device sent and the platform would deliver (at most max);
  // none in the boundary world.
  uint32_t deliver_interrupts(uint32_t max);
  bool recover();
  // Oracle (g): with EVENT_IDX, used_event names the next completion while
  // rx interrupts are wanted (checked here and after every rx_burst).
  void set_rx_interrupts(bool on);
  void check_rx_interrupts();
  // stop(), then probe and attach again with the same mode and options
  // (while the driver holds quarantined buffers: attach again without a
  // probe, which it must refuse).
  void restart();
  // The options of the next attach (restart).
  const NetOptions& options() const { return options_; }
  void set_options(const NetOptions& o) { options_ = o; }

  // Ends the input: stop(), oracles (b) and, unless the device misbehaved,
  // (e); writes the trace when recording.
  void end();

  // The input made the device lie (oracle e does not apply).
  void note_misbehaviour() {
    misbehaved_ = true;
    pool_.set_device_lies();
  }
  // Scope of a device-model action that may touch guest memory (rx
  // delivery, tx processing, a register write the device acts on): once
  // the device lied, it may reach buffers the driver legitimately took
  // back, so the poisoning of such buffers is lifted for the device while
  // it runs (FuzzPool::device_dma_begin; the driver's accesses stay
  // checked).
  class DeviceDma {
   public:
    explicit DeviceDma(World& w) : pool_(w.misbehaved_ ? &w.pool_ : nullptr) {
      if (pool_ != nullptr) pool_->device_dma_begin();
    }
    ~DeviceDma() {
      if (pool_ != nullptr) pool_->device_dma_end();
    }
    DeviceDma(const DeviceDma&) = delete;
    DeviceDma& operator=(const DeviceDma&) = delete;

   private:
    FuzzPool* pool_;
  };
  bool misbehaved() const { return misbehaved_; }
  // Oracle (h): the device's answers no longer follow its configuration
  // (register lies, PCI patches, generation churn, state faults that bend
  // the probe or the reset), so attach decisions cannot be predicted.
  void note_unpredictable() { decision_.set_unpredictable(); }
  // The device rewrote descriptors of a table it was given: what it reads
  // there afterwards is its own doing (oracle e's chain rules are off).
  void note_descriptors_rewritten() {
    descriptors_rewritten_ = true;
    pool_.set_device_reaches_all();
  }
  // Oracle (h) on the attach that just ran (bring_up, restart and the
  // re-initialising calls do this themselves).
  void check_attach(AttachError result);

  trace::Session& session() { return *session_; }
  VirtioNet& net() { return session_->net(); }
  mock::MockDevice& device() { return *device_; }
  FuzzMockPlatform& mock_shim() { return *mock_shim_; }
  OraclePlatform& oracle() { return oracle_; }
  FuzzPool& pool() { return pool_; }
  mock::GuestMemory& memory() { return memory_; }

 private:
  World();
  void begin_common(Platform& device_side, const char* target);

  mock::GuestMemory memory_;
  FuzzPool pool_;
  OraclePlatform oracle_;
  DecisionReference decision_;
  WatchdogReference watchdog_;
  struct CachedDevice {
    mock::DeviceConfig config;
    std::unique_ptr<mock::MockDevice> device;
  };
  static constexpr size_t kDeviceCache = 64;
  CachedDevice cache_[kDeviceCache];
  size_t cache_next_ = 0;
  // A configuration asked for only once lately (fuzz_config makes a new
  // one from nearly every input) gets a device of its own input: built at
  // begin_mock(), destroyed at end(). Every input then frees what it
  // allocated, and libFuzzer does not re-run it to look for a leak (it
  // does so for every input that ends with more mallocs than frees).
  // A configuration seen again within the last kRecentConfigs inputs is
  // cached.
  std::unique_ptr<mock::MockDevice> transient_;
  static constexpr size_t kRecentConfigs = 256;
  uint64_t recent_[kRecentConfigs] = {};
  size_t recent_next_ = 0;
  bool seen_recently(uint64_t key);
  mock::MockDevice* device_ = nullptr;
  bool rx_irq_wanted_ = false;
  uint64_t rx_irq_epoch_ = 0;
  CachedDevice* device_slot_ = nullptr;
  bool device_tainted_ = false;
  std::optional<FuzzMockPlatform> mock_shim_;
  std::optional<BoundaryPlatform> boundary_;
  void check_reinit(uint64_t epoch_before);
  // The mock device may write [p, p + len): its used ring covers it, or it
  // rewrote descriptors (oracle g's ordering rule then does not judge it).
  bool device_may_write(const volatile void* p, size_t len) const;
  void check_unconditional_rules();
  std::optional<trace::Session> session_;
  std::unique_ptr<Recording> recording_;
  PciMode mode_ = PciMode::kAuto;
  bool mmio_ = false;  // this input's device is a virtio-mmio window
  MmioWindow mmio_window_{};
  // Probes again as this input did (PCI mode, or the MMIO window), with
  // the oracles' checks; true when a transport was found.
  bool probe_again();
  NetOptions options_{};
  NetOptions attached_options_{};  // what the driver attached with last
  StormWatch storm_;               // oracle (h): the interrupt storm guard
  AttachError attach();
  bool misbehaved_ = false;
  bool descriptors_rewritten_ = false;
  bool probe_failed_ = false;  // the last probe of this input failed
  bool have_baseline_ = false;
  size_t baseline_allocations_ = 0;
};

}  // namespace vnet::fuzz
