#include "fuzz/harness/world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iterator>
#include <string>
#include <string_view>

#include "driver/spec/mmio_layout.h"
#include "driver/spec/pci_layout.h"
#include "driver/spec/split_ring_layout.h"
#include "fuzz/harness/findings.h"
#include "fuzz/harness/interrupt_reference.h"
#include "replay/record/recorder.h"
#include "replay/record/trace_events.h"
#include "replay/record/trace_writer.h"
#include "surface/surface_hook.h"

extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));
extern "C" void __asan_set_error_report_callback(void (*callback)(const char*))
    __attribute__((weak));

namespace vnet::fuzz {

// Crash to trace: the replay recorder around the device shim and the pool.
class Recording {
 public:
  Recording(const char* path, const char* target, Platform& inner, BufferPool& pool)
      : path_(path),
        target_(target),
        writer_(trace::ByteSink{append, &body_}),
        platform_(inner, writer_),
        pool_(std::make_unique<trace::RecordingPool>(pool, writer_)),
        tap_(writer_) {}

  Platform& platform() { return platform_; }
  BufferPool& pool() { return *pool_; }
  trace::SessionTap* tap() { return &tap_; }

  // Header (what the run turned out to be), body, a last log line when
  // the run ended in a finding, and the trailer.
  void write(const trace::Session* session, const char* last_words) {
    if (written_) return;
    written_ = true;
    if (last_words != nullptr) trace::write_log(writer_, LogLevel::kError, last_words);
    trace::write_end(writer_);
    writer_.flush();
    std::string header;
    trace::TraceWriter hw(trace::ByteSink{append, &header});
    trace::TraceHeader h;
    h.driver_version = VNET_VERSION;
    const ProbeResult* probe = session != nullptr ? &session->probe_result() : nullptr;
    h.transport =
        probe != nullptr && probe->transport != nullptr ? probe->transport->name() : nullptr;
    h.pool_buffer_size = World::kBufferSize;
    h.pool_buffers = World::kPoolBuffers;
    h.recorded_where = "fuzz";
    h.recorded_when = "";
    h.recorded_by = target_.c_str();
    trace::write_header(hw, h);
    hw.flush();
    FILE* f = fopen(path_.c_str(), "wb");
    if (f == nullptr) {
      fprintf(stderr, "vnet-fuzz: cannot write the trace to %s\n", path_.c_str());
      return;
    }
    fwrite(header.data(), 1, header.size(), f);
    fwrite(body_.data(), 1, body_.size(), f);
    fclose(f);
    fprintf(stderr, "vnet-fuzz: trace written to %s (%llu events); replay: vnet-replay %s\n",
            path_.c_str(), static_cast<unsigned long long>(writer_.events()), path_.c_str());
  }

 private:
  static void append(void* context, const char* data, size_t len) {
    static_cast<std::string*>(context)->append(data, len);
  }

  std::string path_;
  std::string target_;
  std::string body_;
  trace::TraceWriter writer_;
  trace::RecordingPlatform platform_;
  std::unique_ptr<trace::RecordingPool> pool_;
  trace::TraceTap tap_;
  bool written_ = false;
};

namespace {

World* g_world = nullptr;

}  // namespace

World& World::get() {
  if (g_world == nullptr) {
    g_world = new World();
    ShimBase::set_verbose(getenv("VNET_FUZZ_VERBOSE") != nullptr);
  }
  return *g_world;
}

World::World()
    : memory_(size_t{16} << 20), pool_(memory_, kPoolBuffers, kBufferSize), oracle_(pool_) {
  // Every range the device translates: a suspect buffer it reaches inside
  // a DeviceDma scope is unpoisoned for it (FuzzPool::device_reach).
  memory_.set_observer([](void* pool, uint8_t* host,
                          uint64_t len) { static_cast<FuzzPool*>(pool)->device_reach(host, len); },
                       &pool_);
}

namespace {

Recording* g_recording = nullptr;
const trace::Session* g_session = nullptr;

void finish_trace_on_finding(const char* line) {
  if (g_recording != nullptr) g_recording->write(g_session, line);
}

// The sanitizer's death callback: a memory error (or UB) in the driver. An
// oracle's finding has printed its own verdict and aborted already.
void on_sanitizer_death() {
  static bool said = false;  // the ASan report callback, then the death callback
  if (finding_reported() || said) return;
  said = true;
  fprintf(stderr, "vnet-fuzz: VERDICT memory-error severity critical\n");
  if (g_recording != nullptr)
    g_recording->write(g_session, "vnet-fuzz: the run crashed here (sanitizer report)");
}

}  // namespace

void World::begin_common(Platform& device_side, const char* target) {
  rx_irq_wanted_ = false;
  mmio_ = false;
  storm_.clear();
  if (!have_baseline_) {
    baseline_allocations_ = memory_.live_allocations();
    have_baseline_ = true;
  }
  misbehaved_ = false;
  probe_failed_ = false;
  descriptors_rewritten_ = false;
  decision_.begin_input();
  watchdog_.reset();
  pool_.reset();
  Platform* inner = &device_side;
  BufferPool* pool = &pool_;
  trace::SessionTap* tap = nullptr;
  recording_.reset();
  if (const char* path = getenv("VNET_FUZZ_TRACE"); path != nullptr && *path != '\0') {
    recording_ = std::make_unique<Recording>(path, target, device_side, pool_);
    inner = &recording_->platform();
    pool = &recording_->pool();
    tap = recording_->tap();
    g_recording = recording_.get();
    set_finding_hook(finish_trace_on_finding);
  }
  // A memory error (or UB) in the driver ends the process: its verdict
  // line, and the trace when recording. ASan reports come through ASan's
  // report callback, which leaves the death callback to libFuzzer: that is
  // what writes the crash-* input of a fuzzing run. Only when recording a
  // trace (one input reproduced, no artifact to write) does the harness
  // take the death callback, so that UBSan's deaths end the trace too.
  static bool death_callback = false;
  if (!death_callback) {
    if (__asan_set_error_report_callback != nullptr)
      __asan_set_error_report_callback([](const char*) { on_sanitizer_death(); });
    if (recording_ && __sanitizer_set_death_callback != nullptr)
      __sanitizer_set_death_callback(on_sanitizer_death);
    death_callback = true;
  }
  static surface::SurfaceHook surface;  // VNET_SURFACE: the attack-surface counter
  inner = &surface.wrap(*inner);
  oracle_.begin_input(*inner);
  session_.emplace(oracle_, *pool, tap);
  g_session = &*session_;
}

namespace {

bool same_config(const mock::DeviceConfig& a, const mock::DeviceConfig& b) {
  return a.transport == b.transport && a.features == b.features && a.mac == b.mac &&
         a.status == b.status && a.max_virtqueue_pairs == b.max_virtqueue_pairs && a.mtu == b.mtu &&
         a.queue_sizes == b.queue_sizes && a.notify_off_multiplier == b.notify_off_multiplier &&
         a.modern_bar == b.modern_bar && a.auto_process_tx == b.auto_process_tx &&
         a.tx_capture_limit == b.tx_capture_limit && a.second_notify_cap == b.second_notify_cap &&
         a.legacy_bar_size == b.legacy_bar_size && a.msix_vectors == b.msix_vectors &&
         a.msix_bar == b.msix_bar && a.interrupt_pin == b.interrupt_pin &&
         // Every field a target sets, so that no cached device is reused
         // with a ring kind, an offer or a limit of another input's (the
         // ring and control-plane fields were missing: a device cached with
         // IN_ORDER or RSS limits of one input served the next).
         a.require_access_platform == b.require_access_platform &&
         a.mmio_window_size == b.mmio_window_size && a.mmio_device_id == b.mmio_device_id &&
         a.mmio_vendor_id == b.mmio_vendor_id && a.offer_ring_packed == b.offer_ring_packed &&
         a.packed_device_event == b.packed_device_event && a.rx_mergeable == b.rx_mergeable &&
         a.offer_in_order == b.offer_in_order && a.in_order_batch == b.in_order_batch &&
         a.offer_ctrl_vq == b.offer_ctrl_vq && a.offer_ctrl_rx == b.offer_ctrl_rx &&
         a.offer_ctrl_vlan == b.offer_ctrl_vlan && a.offer_ctrl_rx_extra == b.offer_ctrl_rx_extra &&
         a.offer_guest_announce == b.offer_guest_announce && a.offer_mq == b.offer_mq &&
         a.offer_ctrl_mac_addr == b.offer_ctrl_mac_addr &&
         a.offer_hash_report == b.offer_hash_report && a.offer_rss == b.offer_rss &&
         a.rss_max_key_size == b.rss_max_key_size &&
         a.rss_max_indirection_table_length == b.rss_max_indirection_table_length &&
         a.supported_hash_types == b.supported_hash_types && a.offer_offloads == b.offer_offloads &&
         a.rx_csum_mode == b.rx_csum_mode;
}

// Back to the state of a freshly constructed device with this config.
void reset_device(mock::MockDevice& d, const mock::DeviceConfig& c) {
  d.set_used_hook(nullptr);
  d.set_tx_sink(nullptr, nullptr);
  d.clear_faults();
  d.clear_captured_tx();
  // Device reset through the status register of its interface (both for
  // a transitional device: whichever it runs in).
  if (mock::is_mmio(c.transport)) {
    d.mmio_write(spec::mmio::kStatus, 4, 0);
  } else {
    const uint8_t bar = c.transport == mock::TransportKind::kLegacy ? 0 : c.modern_bar;
    const uint32_t off = c.transport == mock::TransportKind::kLegacy
                             ? spec::pci::legacy::kDeviceStatus
                             : mock::MockDevice::kCommonOffset + spec::pci::common::kDeviceStatus;
    d.bar_write(bar, off, 1, 0);
  }
  if (d.config().mac != c.mac) d.set_mac(c.mac);
  if (d.config().status != c.status) d.set_config_status(c.status);
  if (d.config().max_virtqueue_pairs != c.max_virtqueue_pairs)
    d.set_max_virtqueue_pairs(c.max_virtqueue_pairs);
  if (d.config().mtu != c.mtu) d.set_mtu(c.mtu);
  for (int q = 0; q < 3; ++q)
    if (d.config().queue_sizes[q] != c.queue_sizes[q]) d.set_queue_max_size(q, c.queue_sizes[q]);
  d.conformance().clear();
}

}  // namespace

namespace {

uint64_t config_key(const mock::DeviceConfig& c) {
  // FNV-1a over exactly the fields same_config() compares: a field added
  // there must be added here (a missing one only merges configurations in
  // the "seen lately" test, it never makes two devices equal).
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint64_t v) {
    for (int i = 0; i < 8; ++i, v >>= 8) h = (h ^ (v & 0xFF)) * 1099511628211ull;
  };
  mix(static_cast<uint64_t>(c.transport));
  mix(c.features);
  for (uint8_t b : c.mac) mix(b);
  mix(c.status);
  mix(c.max_virtqueue_pairs);
  mix(c.mtu);
  for (uint16_t q : c.queue_sizes) mix(q);
  mix(c.notify_off_multiplier);
  mix(c.modern_bar);
  mix(c.auto_process_tx);
  mix(c.tx_capture_limit);
  mix(c.second_notify_cap);
  mix(c.legacy_bar_size);
  mix(c.msix_vectors);
  mix(c.msix_bar);
  mix(c.interrupt_pin);
  mix(c.require_access_platform);
  mix(c.mmio_window_size);
  mix(c.mmio_device_id);
  mix(c.mmio_vendor_id);
  mix(c.offer_ring_packed);
  mix(static_cast<uint64_t>(c.packed_device_event));
  mix(c.rx_mergeable);
  mix(c.offer_in_order);
  mix(c.in_order_batch);
  for (const std::optional<bool>* o : {&c.offer_ctrl_vq, &c.offer_ctrl_rx, &c.offer_ctrl_vlan,
                                       &c.offer_ctrl_rx_extra, &c.offer_guest_announce, &c.offer_mq,
                                       &c.offer_ctrl_mac_addr, &c.offer_hash_report, &c.offer_rss})
    mix(o->has_value() ? (**o ? 2u : 1u) : 0u);
  mix(c.rss_max_key_size);
  mix(c.rss_max_indirection_table_length);
  mix(c.supported_hash_types);
  mix(c.offer_offloads);
  mix(static_cast<uint64_t>(c.rx_csum_mode));
  return h | 1;  // never 0 (an empty slot)
}

}  // namespace

bool World::seen_recently(uint64_t key) {
  for (uint64_t k : recent_)
    if (k == key) return true;
  recent_[recent_next_] = key;
  recent_next_ = (recent_next_ + 1) % kRecentConfigs;
  return false;
}

void World::begin_mock(const mock::DeviceConfig& config, const char* target) {
  session_.reset();
  boundary_.reset();
  mock_shim_.reset();
  transient_.reset();  // end() destroyed it already, unless an input was cut short
  if (device_tainted_ && device_slot_ != nullptr) device_slot_->device.reset();
  device_tainted_ = false;
  device_ = nullptr;
  device_slot_ = nullptr;
  for (CachedDevice& c : cache_)
    if (c.device && same_config(c.config, config)) {
      device_slot_ = &c;
      reset_device(*c.device, config);
      break;
    }
  if (device_slot_ == nullptr && seen_recently(config_key(config))) {
    device_slot_ = &cache_[cache_next_];
    cache_next_ = (cache_next_ + 1) % kDeviceCache;
    device_slot_->config = config;
    device_slot_->device = std::make_unique<mock::MockDevice>(memory_, config);
  }
  if (device_slot_ != nullptr) {
    device_ = device_slot_->device.get();
  } else {
    transient_ = std::make_unique<mock::MockDevice>(memory_, config);
    device_ = transient_.get();
  }
  mock_shim_.emplace(*device_, memory_);
  begin_common(*mock_shim_, target);
  oracle_.set_device_writes(
      [](void* world, const volatile void* p, size_t len) {
        return static_cast<const World*>(world)->device_may_write(p, len);
      },
      this);
  oracle_.set_device_consumed(
      [](void* world, uint16_t queue, uint16_t avail_idx) {
        const mock::MockDevice* d = static_cast<const World*>(world)->device_;
        if (d == nullptr || queue >= mock::MockDevice::kNumQueues) return true;
        return static_cast<int16_t>(d->queue(queue).last_avail() - avail_idx) > 0;
      },
      this);
}

bool World::device_may_write(const volatile void* p, size_t len) const {
  if (device_ == nullptr) return false;
  if (descriptors_rewritten_) return true;
  const uint8_t* lo = const_cast<const uint8_t*>(static_cast<const volatile uint8_t*>(p));
  for (uint16_t q = 0; q < mock::MockDevice::kNumQueues; ++q) {
    const mock::DeviceQueue& dq = device_->queue(q);
    const uint8_t* used = dq.used_ring();
    if (used != nullptr && lo + len > used && lo < used + spec::used_bytes(dq.size())) return true;
  }
  return false;
}

void World::begin_boundary(Input& values, const char* target) {
  oracle_.set_device_writes(nullptr, nullptr);
  oracle_.set_device_consumed(nullptr, nullptr);
  session_.reset();
  mock_shim_.reset();
  device_ = nullptr;
  boundary_.reset();
  boundary_.emplace(values, memory_);
  begin_common(*boundary_, target);
}

void World::begin_boundary(Platform& device_side, const char* target) {
  oracle_.set_device_writes(nullptr, nullptr);
  oracle_.set_device_consumed(nullptr, nullptr);
  session_.reset();
  mock_shim_.reset();
  device_ = nullptr;
  boundary_.reset();
  begin_common(device_side, target);
}

namespace {

// Oracle (b) ties the device's ownership to a reset acknowledged through
// the device-status register of the transport the probe chose.
void tell_status_register(OraclePlatform& oracle, const ProbeResult& probe) {
  if (probe.transport == nullptr) return;
  if (probe.transport->is_legacy()) {
    oracle.set_status_register(bar_region(0), spec::pci::legacy::kDeviceStatus);
    return;
  }
  const PciWindow& common =
      static_cast<const PciModernTransport*>(probe.transport)->common_window();
  oracle.set_status_register(bar_region(common.bar),
                             common.offset + spec::pci::common::kDeviceStatus);
}

}  // namespace

bool World::bring_up(PciMode mode, const NetOptions& options) {
  mode_ = mode;
  mmio_ = false;
  options_ = options;
  if (!probe_again()) return false;
  const AttachError e = attach();
  check_attach(e);
  return e == AttachError::kOk;
}

bool World::bring_up_mmio(const MmioWindow& window, const NetOptions& options) {
  mmio_ = true;
  mmio_window_ = window;
  options_ = options;
  if (!probe_again()) return false;
  const AttachError e = attach();
  check_attach(e);
  return e == AttachError::kOk;
}

bool World::probe_again() {
  if (mmio_) {
    oracle_.begin_mmio_probe(mmio_window_);
    const MmioProbeError e = session_->probe_mmio(mmio_window_);
    oracle_.check_mmio_probe(mmio_window_, session_->mmio_probe_result());
    probe_failed_ = e != MmioProbeError::kOk;
    return !probe_failed_;
  }
  const ProbeError probed = session_->probe(mode_);
  oracle_.check_probe(mode_, session_->probe_result());
  probe_failed_ = probed != ProbeError::kOk;
  if (probe_failed_) return false;
  tell_status_register(oracle_, session_->probe_result());
  return true;
}

AttachError World::attach() {
  attached_options_ = options_;
  const uint64_t before = net().counters().config_invalid_status;
  const AttachError e = session_->attach(options_);
  // 5.1.4: status bits the spec does not define are counted once per
  // negotiation (a device whose answers follow its configuration).
  if (device_ != nullptr && e == AttachError::kOk && decision_.predictable()) {
    const bool status = (device_->driver_features() >> 16) & 1;  // VIRTIO_NET_F_STATUS
    const uint64_t expected = status && (device_->config().status & ~3u) != 0 ? 1 : 0;
    if (net().counters().config_invalid_status - before != expected)
      finding(Oracle::kDecision,
              "attach counted %llu undefined link status values; the device's status 0x%x "
              "(STATUS %s) calls for %llu",
              static_cast<unsigned long long>(net().counters().config_invalid_status - before),
              device_->config().status, status ? "negotiated" : "not negotiated",
              static_cast<unsigned long long>(expected));
  }
  return e;
}

void World::check_attach(AttachError result) {
  watchdog_.reset();  // every attach disarms the driver's watchdog
  if (result == AttachError::kOk && !mmio_) oracle_.check_interrupt_mode(net().interrupts().mode);
  // virtio-mmio: a window without an interrupt line has nothing to take
  // interrupts from, whatever line the platform routes (mmio_probe.h).
  if (result == AttachError::kOk && mmio_ && mmio_window_.irq < 0 &&
      net().interrupts().mode != InterruptMode::kPolling)
    finding(Oracle::kDecision,
            "a virtio-mmio window without an interrupt line attached in interrupt mode %u",
            static_cast<unsigned>(net().interrupts().mode));
  // The options the driver attached with: a re-initialisation inside
  // poll_device() or recover() keeps them, whatever set_options() said since.
  if (device_ != nullptr) {
    oracle_.set_rx_header_size(device_->net_header_size());
    decision_.check_attach(*device_, net(), attached_options_, result);
  }
}

void World::check_reinit(uint64_t epoch_before) {
  // bring_up() resets the device first: a changed reset epoch means the
  // driver attached again.
  if (oracle_.reset_epoch() != epoch_before) check_attach(net().last_error());
}

DeviceEvents World::poll_device() {
  const uint64_t epoch = oracle_.reset_epoch();
  const uint64_t invalid_before = net().counters().config_invalid_status;
  const bool running = net().state() == NetState::kRunning;
  const bool link_before = net().link_up();
  oracle_.mark_link();
  const DeviceEvents ev = session().poll_device();
  // Oracle (g): a link change only from a consistent status read -- unless
  // the device was reset and attached again (attach reads it anew).
  if (running && !ev.reset_detected && !ev.tx_timeout && !ev.recovered && !ev.reset_deferred &&
      oracle_.reset_epoch() == epoch)
    oracle_.check_link(link_before, net().link_up());
  // Oracle (h), the tx watchdog: from the boundary facts alone, so in
  // every world (WatchdogReference).
  if (running && !ev.reset_detected)
    watchdog_.check(oracle_.watchdog_poll(), attached_options_.tx_timeout_ns, ev.tx_timeout);
  if (device_ != nullptr && decision_.predictable() && ev.config_changed && !ev.recovered &&
      oracle_.reset_epoch() == epoch) {
    // A config change read the link status once (5.1.4).
    const bool status = (device_->driver_features() >> 16) & 1;
    const uint64_t expected = status && (device_->config().status & ~3u) != 0 ? 1 : 0;
    if (net().counters().config_invalid_status - invalid_before != expected)
      finding(
          Oracle::kDecision,
          "a config change counted %llu undefined link status values; the device's status "
          "0x%x calls for %llu",
          static_cast<unsigned long long>(net().counters().config_invalid_status - invalid_before),
          device_->config().status, static_cast<unsigned long long>(expected));
  }
  check_reinit(epoch);
  return ev;
}

void World::interrupt(IrqSource source) {
  // Oracle (h): the handler's decision (interrupt_reference.h).
  InterruptFacts facts{source, net().interrupt_mode(), net().interrupts(), net().state(), 0, 0};
  const NetCounters before = net().counters();
  oracle_.mark_interrupt();
  oracle_.mark_mmio_interrupt();
  const IrqWork work = session().handle_interrupt(source);
  const TransportReference& t = oracle_.transport_reference();
  const MmioReference& m = oracle_.mmio_reference();
  if (mmio_) m.check_ack();
  if (mmio_ ? m.in_use() : t.isr_visible()) {
    facts.isr_reads = mmio_ ? m.isr_reads() : t.isr_reads();
    facts.isr = mmio_ ? m.last_isr() : t.last_isr();
    check_interrupt(facts, work, before, net().counters());
    storm_.check(guard_counts(facts), oracle_.last_now(),
                 net().counters().irq_storms != before.irq_storms,
                 attached_options_.irq_storm_limit, attached_options_.irq_storm_window_ns);
  }
  if (work.control) poll_device();
  if (work.rx) {
    rx_burst(64);
    set_rx_interrupts(true);
  }
  if (work.tx) tx_reclaim();
}

uint32_t World::deliver_interrupts(uint32_t max) {
  if (!mock_shim_) return 0;
  uint32_t n = 0;
  IrqSource source;
  while (n < max && mock_shim_->take_interrupt(&source)) {
    interrupt(source);
    ++n;
  }
  return n;
}

bool World::recover() {
  // A caller whose last probe failed has no device: the failed probe
  // re-initialised the transport object the driver still points at
  // (trace::Session owns one), so recover() would attach through a
  // transport in that probe's state, with registers no reference tracks.
  if (probe_failed_) return false;
  const uint64_t epoch = oracle_.reset_epoch();
  const bool ok = session().recover();
  check_reinit(epoch);
  return ok;
}

namespace {

void check_frame(void* context, const uint8_t* frame, uint32_t len) {
  static_cast<OraclePlatform*>(context)->check_delivered(frame, len);
}

struct RxCheck {
  OraclePlatform* oracle;
  DecisionReference::Delivered frames[DecisionReference::kMaxDelivered];
  uint32_t n;
};

void check_and_note_frame(void* context, const PacketBuffer& first) {
  RxCheck* c = static_cast<RxCheck*>(context);
  // Every buffer of the frame (a receive chain: each one the device
  // completed and the driver announced), bounded by what a chain can hold.
  uint32_t total = 0, buffers = 0;
  for (const PacketBuffer* b = &first; b != nullptr && buffers <= 256; b = b->next) {
    c->oracle->check_delivered(b->data(), b->len);
    total += b->len;
    ++buffers;
  }
  if (c->n < DecisionReference::kMaxDelivered)
    c->frames[c->n] = {first.data(), first.len, total, buffers, first.offload};
  ++c->n;
}

}  // namespace

void World::set_rx_interrupts(bool on) {
  session().set_rx_interrupts(on);
  rx_irq_wanted_ = on && net().state() == NetState::kRunning;
  rx_irq_epoch_ = oracle_.reset_epoch();
  if (rx_irq_wanted_) oracle_.check_used_event(0);
}

void World::check_rx_interrupts() {
  if (!rx_irq_wanted_) return;
  if (oracle_.reset_epoch() != rx_irq_epoch_ || net().state() != NetState::kRunning) {
    rx_irq_wanted_ = false;  // attach starts with interrupts off
    return;
  }
  oracle_.check_used_event(0);
}

uint16_t World::rx_burst(uint16_t max) {
  if (device_ == nullptr) {
    const uint16_t n = session_->rx_burst(max, check_frame, &oracle_);
    check_rx_interrupts();
    return n;
  }
  // Oracle (h): what the driver did with each completion it accepted.
  static RxCheck check;
  check.oracle = &oracle_;
  check.n = 0;
  const NetCounters before = net().counters();
  oracle_.clear_rx_log();
  const uint16_t n = session_->rx_burst_buffers_on(0, max, check_and_note_frame, &check);
  if (check.n <= DecisionReference::kMaxDelivered)
    decision_.check_rx(oracle_, check.frames, check.n, before, net().counters());
  check_rx_interrupts();
  return n;
}

uint16_t World::tx_burst(uint16_t count, uint32_t size, uint8_t seed) {
  // A unicast Ethernet header, then a fixed pattern; the byte after the
  // header says which frame of which burst it is.
  static uint8_t frames[16][kMaxTxFrame];
  static bool ready = false;
  if (!ready) {
    static const uint8_t kHdr[14] = {0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x02,
                                     0,    0,    0, 0,    1,    0x88, 0xB5};
    for (auto& f : frames) {
      memcpy(f, kHdr, sizeof kHdr);
      for (uint32_t k = sizeof kHdr; k < kMaxTxFrame; ++k) f[k] = static_cast<uint8_t>(k * 3);
    }
    ready = true;
  }
  trace::TxFrame tx[16];
  if (count > 16) count = 16;
  if (size > kMaxTxFrame) size = kMaxTxFrame;
  // seed bits 5-7: frames of that many fragments (2..7; 0 and 1: one
  // buffer), scatter-gather through PacketBuffer::next -- indirect chains
  // where INDIRECT_DESC is negotiated, direct ones (or a drop) otherwise.
  static uint32_t frag_lens[16][8];
  const uint16_t frags = seed >> 5;
  for (uint16_t i = 0; i < count; ++i) {
    frames[i][14] = static_cast<uint8_t>(seed + i);
    tx[i] = trace::TxFrame{frames[i], size};
    if (frags >= 2) {
      uint32_t left = size;
      for (uint16_t k = 0; k < frags; ++k) {
        const uint32_t part = k + 1 == frags ? left : size / frags;
        frag_lens[i][k] = part;
        left -= part;
      }
      tx[i].frag_lens = frag_lens[i];
      tx[i].num_frags = frags;
    }
  }
  return session_->tx_burst(tx, count);
}

uint16_t World::tx_offload(const uint8_t* frame, uint32_t len, uint8_t frags,
                           const PacketOffload& req) {
  if (len > kMaxTxFrame * 2) len = kMaxTxFrame * 2;
  uint32_t frag_lens[2] = {len, 0};
  trace::TxFrame tx{frame, len};
  if (frags >= 2 || len > kMaxTxFrame) {
    frag_lens[0] = len > kMaxTxFrame ? kMaxTxFrame : (len + 1) / 2;
    frag_lens[1] = len - frag_lens[0];
    if (frag_lens[1] != 0) {
      tx.frag_lens = frag_lens;
      tx.num_frags = 2;
    }
  }
  const NetCounters before = net().counters();
  const uint16_t taken = session_->tx_burst_offload_on(0, &tx, &req, 1);
  if (device_ != nullptr)
    decision_.check_tx_offload(frame, len, frag_lens[0], req, taken, before, net().counters());
  return taken;
}

void World::restart() {
  session_->stop();
  // A driver that holds quarantined buffers keeps resetting the device
  // through the transport it was attached on (attach() refuses until a
  // reset succeeds). Probing again would re-initialise that very transport
  // object (trace::Session owns one PciTransports), so the driver's next
  // stop() would write its reset to whatever register the new probe found
  // and hand the buffers back on a read of 0 from there -- oracle (b)
  // reports exactly that. So no probe while quarantined.
  if (session_->net().quarantined()) {
    // A caller that attaches again anyway, on the same transport: the
    // driver retries the reset and, still unacknowledged, refuses -- with
    // kQuarantined, before it touches anything of the new attachment
    // (oracle h: a driver that went on would hand the held buffers to
    // whatever transport and pool it was given this time).
    // (No reset acknowledged during the call: the quarantine never lifted.
    // One that lifted it may end in a new quarantine when the attach fails.)
    const uint64_t epoch = oracle_.reset_epoch();
    const AttachError e = attach();
    // (Session::attach calls the driver only with a transport from the
    // last probe: after a failed one it answers kBadOptions itself.)
    const bool called = session_->probe_result().transport != nullptr;
    if (called && oracle_.reset_epoch() == epoch && e != AttachError::kQuarantined)
      finding(Oracle::kDecision,
              "attach() on a driver whose buffers stay quarantined (no reset acknowledged) "
              "returned %s, not kQuarantined: it went on with the new attachment",
              attach_error_name(e));
    if (e == AttachError::kQuarantined && !session_->net().quarantined())
      finding(Oracle::kDecision,
              "attach() returned kQuarantined but the driver holds no quarantined buffers");
    check_attach(e);
    return;
  }
  if (probe_again()) check_attach(attach());
}

namespace {

// Conformance rules (spec map ids, mock_device/spec_rules.h) that hold
// whatever the device does: feature dependencies, ring alignment, and what
// the driver writes into its own chains and headers. (DRIVER_OK after a refused
// FEATURES_OK is oracle g's, at the register boundary: the mock's own rule
// also fires when a device that ignored a reset still holds a refusal and
// the driver gives up with FAILED on top of what it last wrote.)
constexpr std::string_view kAlwaysRules[] = {
    "drv-2.2.1-2",  // feature dependencies
    "drv-2.7.1-1",  // ring alignment
};
// ... unless the device rewrote the descriptor table (then it walks its
// own inventions), or completed a chain it had not taken and the driver,
// rightly, reused it (OraclePlatform::stale_chains).
constexpr std::string_view kChainRules[] = {
    "drv-2.7.4.2-1",
    "def-5.1.6.2-1",
    "def-5.1.6.3-1",
    "drv-5.1.6.2.1-1",
    "drv-5.1.6.2.1-2",
    "drv-5.1.6.2.1-3",
    "drv-5.1.6.2.1-14",
    // Offload headers (issue 16): what the driver checks before it asks
    // (ECN and CWR, csum offsets, GSO needs and hdr_len, the frame being
    // what gso_type says). Not -6 and -7: the IPv4 header checksum and the
    // pseudo-header sum are the caller's data, which the driver never
    // reads (packet_buffer.h), and tx_l4 pokes them.
    "drv-5.1.6.2.1-5",
    "drv-5.1.6.2.1-8",
    "drv-5.1.6.2.1-10",
    "drv-5.1.6.2.1-12",
    "def-5.1.6.2-2",
};
// ... and these when the device's answers followed its configuration
// (no register lies, patches or churn): with a lie the driver may rightly
// act on what it was told -- and a patched capability can lay one window
// over another, so that a notification (2 bytes, the queue's index) lands
// on the ISR, a read-only or a differently sized common field,
// queue_enable, or the device configuration.
constexpr std::string_view kPredictableRules[] = {
    "drv-2.2.1-1",      // features the device did not offer
    "drv-4.1.4.3.2-3",  // queue size not a power of two / above the maximum
    "drv-6.1-1",        // VERSION_1 not accepted on the modern interface
    "drv-4.1.3.1-1",    // common configuration access widths
    "drv-4.1.4.3.2-1",  // writes to read-only common fields
    "drv-4.1.4.3.2-6",  // queue_enable = 0
    "def-4.1.4.5-1",    // ISR written
    "def-5.1.4-1",      // device configuration written
};

bool listed(std::string_view id, const std::string_view* list, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (list[i] == id) return true;
  return false;
}

}  // namespace

void World::check_unconditional_rules() {
  for (const mock::Violation& v : device_->conformance().violations()) {
    const bool always =
        listed(v.id, kAlwaysRules, std::size(kAlwaysRules)) ||
        (!descriptors_rewritten_ && !oracle_.stale_chains() &&
         listed(v.id, kChainRules, std::size(kChainRules))) ||
        (decision_.predictable() && listed(v.id, kPredictableRules, std::size(kPredictableRules)));
    if (always)
      finding(Oracle::kConformance, "%s (%s) broken -- no device behaviour excuses it: %s",
              v.id.c_str(), v.section.c_str(), v.message.c_str());
  }
}

void World::end() {
  session_->stop();
  const VirtioNet& net = session_->net();
  uint32_t held_buffers = 0, held_regions = 0;
  if (net.quarantined()) {
    // Every buffer of every chain still lent (a scatter-gather tx frame is
    // one chain of several pool buffers): what the oracle saw published
    // and never completed or released by an acknowledged reset.
    held_buffers = pool_.device_owned_count();
    // Every ring of every pair, the control queue's, and its command area.
    for (uint16_t k = 0; k < kMaxQueuePairs; ++k)
      held_regions +=
          (net.rx_queue(k).allocated() ? 1u : 0u) + (net.tx_queue(k).allocated() ? 1u : 0u);
    held_regions +=
        (net.control_queue().allocated() ? 1u : 0u) + (net.control_area_allocated() ? 1u : 0u);
  }
  oracle_.check_all_returned("after stop()", held_buffers, held_regions);
  if (memory_.live_allocations() != baseline_allocations_ + held_regions)
    finding(Oracle::kOwnership, "%zu guest-memory allocations leaked by the input",
            memory_.live_allocations() - baseline_allocations_ - held_regions);
  // The device model is reset before the next input: what the driver held
  // in quarantine can go now, so that inputs do not leak into each other.
  if (net.quarantined()) {
    oracle_.device_gone();
    session_->net().device_gone();
  }
  if (device_ != nullptr) check_unconditional_rules();
  if (mmio_ && net.transport() != nullptr && oracle_.mmio_reference().in_use())
    oracle_.mmio_reference().check_counters(
        static_cast<const MmioTransport*>(net.transport())->counters());
  if (net.counters().tx_bad_used_len != oracle_.tx_len_over())
    finding(Oracle::kDecision,
            "tx_bad_used_len is %llu; the device claimed writes into %llu read-only tx chains "
            "the driver accepted",
            static_cast<unsigned long long>(net.counters().tx_bad_used_len),
            static_cast<unsigned long long>(oracle_.tx_len_over()));
  // A well-behaved device never gives the driver a reason to break a queue
  // (a driver that misreads an honest ring -- a still-available
  // descriptor, a batch, a wrap -- and resets it is wrong, however safely).
  if (device_ != nullptr && !misbehaved_)
    net.counters().for_each([](const char* name, uint64_t value) {
      if (value != 0 && strncmp(name, "queue_broken", 12) == 0)
        finding(Oracle::kDecision,
                "%s is %llu on a well-behaved device: the driver broke a queue no lie broke", name,
                static_cast<unsigned long long>(value));
    });
  if (device_ != nullptr && !misbehaved_ && !device_->conformance().empty()) {
    const mock::Violation& v = device_->conformance().violations().front();
    finding(Oracle::kConformance, "%llu spec violation(s) on well-behaved input; first: %s %s",
            static_cast<unsigned long long>(device_->conformance().total()), v.section.c_str(),
            v.message.c_str());
  }
  if (recording_) {
    recording_->write(&*session_, nullptr);
    g_recording = nullptr;
    set_finding_hook(nullptr);
  }
  // Whatever this input built for itself goes with it (libFuzzer's
  // malloc/free balance, see transient_). The stopped driver stays for
  // its counters; it no longer reaches the device.
  // A cached device a state fault changed is built anew for its slot now
  // (allocation and free in the same input).
  if (transient_ != nullptr || (device_tainted_ && device_slot_ != nullptr)) {
    mock_shim_.reset();
    if (device_slot_ != nullptr)
      device_slot_->device = std::make_unique<mock::MockDevice>(memory_, device_slot_->config);
    transient_.reset();
    device_ = nullptr;
    device_slot_ = nullptr;
    device_tainted_ = false;
  }
}

}  // namespace vnet::fuzz
