// Device mode: a converted capture of any guest driver (Linux's, ours, ...)
// becomes a regression test for our driver (docs/qemu-capture.md,
// "Replaying a capture in device mode").
//
//   capture header + reg_reads     ->  DeviceConfig of the mock device:
//     device.kind                       transport (legacy/modern/transitional)
//     features.offered                  the feature offer
//     device-config reads               MAC, status, max pairs, MTU
//                                       (bytes never read: the mock's defaults;
//                                       capture.guest_mac when the MAC was
//                                       not read)
//     queue_sizes                       maximum queue sizes
//   dev_frame rx (capture order)   ->  inject_rx(): each frame offered once
//   dev_frame tx (capture order)   ->  tx_burst() of our driver
//   dev_msi / dev_intx             ->  the device's interrupt offer: an
//                                      MSI-X table of as many entries as
//                                      the capture's driver wrote (and the
//                                      line), or the line; our driver asks
//                                      for MSI-X or INTx accordingly and
//                                      takes the mock's interrupts through
//                                      handle_interrupt between steps
//
// The capture's register sequence is not ours to match: the driver runs
// its own probe and attach against the mock, then receives and transmits.
// Verdict: the driver reached running, the mock's conformance checker saw
// no violation, every captured rx frame reached rx_burst exactly once,
// byte-exact and in order, and every tx frame the driver took reached the
// device unchanged.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "driver/spec/mmio_layout.h"
#include "mock_device/guest_memory.h"
#include "mock_device/mock_buffer_pool.h"
#include "mock_device/mock_device.h"
#include "mock_device/mock_platform.h"
#include "replay/record/session.h"
#include "replay/replayer.h"
#include "surface/surface_hook.h"

namespace vnet::replay::detail {

namespace {

constexpr uint16_t kBurst = 32;
constexpr uint64_t kMaxMsixEntries = 128;  // the mock's table (MockDevice::kMaxMsixVectors)
constexpr size_t kPoolBuffers = 1024;
// QEMU's layouts: modern device config at 0x2000 of the memory BAR, legacy
// device config at 0x14 of the I/O BAR (0x18 while MSI-X is enabled).
constexpr uint32_t kModernDeviceCfg = 0x2000, kLegacyDeviceCfg = 0x14, kLegacyDeviceCfgMsix = 0x18,
                   kCfgBytes = 0x100;

std::string hex_prefix(const uint8_t* p, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s;
  const size_t shown = n < 32 ? n : 32;
  for (size_t i = 0; i < shown; ++i) {
    s += kDigits[p[i] >> 4];
    s += kDigits[p[i] & 15];
  }
  if (shown < n) s += "...";
  return s;
}

std::string hex64(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

struct ConfigRead {
  uint8_t bytes[kCfgBytes] = {};
  bool known[kCfgBytes] = {};
  bool all(uint32_t off, uint32_t n) const {
    for (uint32_t i = off; i < off + n; ++i)
      if (i >= kCfgBytes || !known[i]) return false;
    return true;
  }
  uint16_t le16(uint32_t off) const {
    return static_cast<uint16_t>(bytes[off] | bytes[off + 1] << 8);
  }
};

// Whether the capture's driver had MSI-X enabled, followed through its
// configuration-space accesses: the capability list as read (id 0x11 from
// the pointer at 0x34), and the enable bit (message control bit 15) as
// last written or read. The legacy interface's device configuration
// starts at 0x18 instead of 0x14 while it is (4.1.4.8).
class MsixTracker {
 public:
  void see(const Event& e) {
    if ((e.kind != EventKind::kRegRead && e.kind != EventKind::kRegWrite) ||
        e.r8 != static_cast<uint8_t>(Region::kPciConfig) || e.addr != kAddrNone)
      return;
    for (uint32_t k = 0; k < e.w8 && e.u32 + k < sizeof cfg_; ++k) {
      cfg_[e.u32 + k] = static_cast<uint8_t>(e.u64 >> (8 * k));
      known_[e.u32 + k] = true;
    }
  }
  bool enabled() const {
    if (!known_[0x34]) return false;
    uint32_t at = cfg_[0x34] & 0xFCu;
    for (int steps = 0; at >= 0x40 && at + 3 < sizeof cfg_ && steps < 48; ++steps) {
      if (!known_[at] || !known_[at + 1]) return false;
      if (cfg_[at] == 0x11) return known_[at + 3] && (cfg_[at + 3] & 0x80) != 0;
      at = cfg_[at + 1] & 0xFCu;
    }
    return false;
  }

 private:
  uint8_t cfg_[256] = {};
  bool known_[256] = {};
};

// The device-config bytes the capture's driver read.
ConfigRead config_reads(const Trace& t) {
  ConfigRead c;
  const bool legacy = t.header.transport == "pci-legacy";
  const bool mmio = t.header.transport.rfind("mmio", 0) == 0;
  MsixTracker msix;
  for (const Event& e : t.events) {
    msix.see(e);
    if (e.kind != EventKind::kRegRead || e.r8 == static_cast<uint8_t>(Region::kPciConfig)) continue;
    uint32_t off;
    if (mmio) {
      // virtio-mmio: device configuration at 0x100 of the window.
      if (e.r8 != static_cast<uint8_t>(Region::kMmio) || e.u32 < spec::mmio::kConfig ||
          e.u32 >= spec::mmio::kConfig + kCfgBytes)
        continue;
      off = e.u32 - spec::mmio::kConfig;
    } else if (legacy) {
      const uint32_t base = msix.enabled() ? kLegacyDeviceCfgMsix : kLegacyDeviceCfg;
      if (e.r8 != static_cast<uint8_t>(Region::kBar0) || e.u32 < base) continue;
      off = e.u32 - base;
    } else {
      if (e.u32 < kModernDeviceCfg || e.u32 >= kModernDeviceCfg + kCfgBytes) continue;
      off = e.u32 - kModernDeviceCfg;
    }
    for (uint32_t k = 0; k < e.w8 && off + k < kCfgBytes; ++k) {
      c.bytes[off + k] = static_cast<uint8_t>(e.u64 >> (8 * k));
      c.known[off + k] = true;
    }
  }
  return c;
}

// A capture of a virtio-mmio device (trace2json: transport "mmio-v1",
// "mmio-v2", or "mmio" when the log never showed the Version read), or a
// recording of one (device kind mmio-v1/mmio-v2).
bool is_mmio_capture(const Trace& t) {
  return t.header.transport.rfind("mmio", 0) == 0 || t.header.device_kind.rfind("mmio", 0) == 0;
}
// Its version: the header's, else version 1 when the capture's driver
// wrote QueuePFN (0x040, version 1 only), else 2.
uint32_t mmio_version(const Trace& t) {
  if (t.header.transport == "mmio-v1" || t.header.device_kind == "mmio-v1") return 1;
  if (t.header.transport == "mmio-v2" || t.header.device_kind == "mmio-v2") return 2;
  for (const Event& e : t.events)
    if (e.kind == EventKind::kRegWrite && e.r8 == static_cast<uint8_t>(Region::kMmio) &&
        e.u32 == spec::mmio::kQueuePfn)
      return 1;
  return 2;
}

class DeviceReplay {
 public:
  explicit DeviceReplay(const Trace& t) : t_(t) {}
  ReplayResult run();

 private:
  mock::DeviceConfig configure(std::string* note, PciMode* probe_mode) const;
  // What the capture's device delivered: the interrupt mode our driver
  // asks for, and the MSI-X table size the mock offers (0: none).
  InterruptMode interrupt_offer(uint16_t* msix_entries) const;
  void receive(trace::Session& s) { s.rx_burst(kBurst, &DeviceReplay::on_frame, this); }
  static void on_frame(void* context, const uint8_t* frame, uint32_t len) {
    static_cast<DeviceReplay*>(context)->delivered_.emplace_back(frame, frame + len);
  }
  void fail(size_t event_index, std::string actual, std::string reason) {
    if (failed_) return;
    failed_ = true;
    div_.event_index = event_index;
    div_.expected = std::string(t_.line(t_.event_line[event_index]));
    div_.actual = std::move(actual);
    div_.reason = std::move(reason);
  }

  const Trace& t_;
  std::vector<std::vector<uint8_t>> delivered_;
  bool failed_ = false;
  Divergence div_;
};

mock::DeviceConfig DeviceReplay::configure(std::string* note, PciMode* probe_mode) const {
  mock::DeviceConfig c;
  const std::string& kind = t_.header.device_kind;
  if (kind == "legacy")
    c.transport = mock::TransportKind::kLegacy;
  else if (kind == "modern")
    c.transport = mock::TransportKind::kModern;
  else if (kind == "transitional")
    c.transport = mock::TransportKind::kTransitional;
  else if (t_.header.transport == "pci-legacy")
    c.transport = mock::TransportKind::kLegacy;
  else if (t_.header.transport == "pci-modern")
    c.transport = mock::TransportKind::kModern;
  if (is_mmio_capture(t_)) {
    c.transport =
        mmio_version(t_) == 1 ? mock::TransportKind::kMmioV1 : mock::TransportKind::kMmioV2;
    if (t_.header.mmio_window >= spec::mmio::kConfig) c.mmio_window_size = t_.header.mmio_window;
  }
  if (t_.header.has_features) c.features = t_.header.offered;
  // Each interface's offer as the capture's driver read it ("offers"):
  // the mock shows the low 32 bits of its features on the legacy
  // interface and the features without the legacy-only bits on the
  // modern one, so the union of the two offers rebuilds both.
  const TraceHeaderInfo& h = t_.header;
  std::string why_legacy;
  *probe_mode = PciMode::kAuto;
  if (c.transport == mock::TransportKind::kTransitional) {
    if (h.has_legacy_offer && h.has_modern_offer) {
      c.features = h.modern_offer | h.legacy_offer;
    } else if (h.has_legacy_offer) {
      // The guest drove the legacy interface and never read the modern
      // offer: our driver drives the same interface, against the offer
      // the capture shows, instead of a modern one nobody saw.
      c.features = h.legacy_offer;
      *probe_mode = PciMode::kLegacy;
      why_legacy = " (the capture's driver used the legacy interface only: probing legacy)";
    } else if (h.has_modern_offer) {
      c.features = h.modern_offer;
    }
  } else if (c.transport == mock::TransportKind::kLegacy && h.has_legacy_offer) {
    c.features = h.legacy_offer;
  } else if (c.transport == mock::TransportKind::kModern && h.has_modern_offer) {
    c.features = h.modern_offer;
  } else if (mock::is_mmio(c.transport) && h.has_mmio_offer) {
    c.features = h.mmio_offer;
  }
  const ConfigRead cfg = config_reads(t_);
  if (cfg.all(0, 6)) {
    std::copy(cfg.bytes, cfg.bytes + 6, c.mac.begin());
  } else if (t_.header.has_guest_mac) {
    std::copy(t_.header.guest_mac, t_.header.guest_mac + 6, c.mac.begin());
  }
  if (cfg.all(6, 2)) c.status = cfg.le16(6);
  if (cfg.all(8, 2)) c.max_virtqueue_pairs = cfg.le16(8);
  if (cfg.all(10, 2)) c.mtu = cfg.le16(10);
  for (size_t q = 0; q < t_.header.queue_sizes.size() && q < c.queue_sizes.size(); ++q)
    if (t_.header.queue_sizes[q] != 0) c.queue_sizes[q] = t_.header.queue_sizes[q];
  c.tx_capture_limit = SIZE_MAX;
  char mac[20];
  std::snprintf(mac, sizeof mac, "%02x%02x%02x%02x%02x%02x", c.mac[0], c.mac[1], c.mac[2], c.mac[3],
                c.mac[4], c.mac[5]);
  *note = std::string("device: ") + mock::transport_kind_name(c.transport) + ", offers " +
          hex64(c.features) + ", mac " + mac + ", status " + std::to_string(c.status) +
          ", queues " + std::to_string(c.queue_sizes[0]) + "/" + std::to_string(c.queue_sizes[1]) +
          why_legacy;
  return c;
}

InterruptMode DeviceReplay::interrupt_offer(uint16_t* msix_entries) const {
  bool intx = false;
  uint32_t entries = 0;
  for (const Event& e : t_.events) {
    if (e.kind == EventKind::kDevMsi && e.a16 + 1u > entries) entries = e.a16 + 1u;
    intx = intx || e.kind == EventKind::kDevIntx;
  }
  // The entries the capture's driver wrote (trace2json's count), at least
  // those that were delivered.
  const nlohmann::json& h = t_.header.json;
  if (entries != 0 && h.contains("capture") && h["capture"].is_object() &&
      h["capture"].contains("interrupts") && h["capture"]["interrupts"].is_object()) {
    const nlohmann::json& n = h["capture"]["interrupts"]["msix_entries"];
    if (n.is_number_unsigned() && n.get<uint64_t>() > entries)
      entries = static_cast<uint32_t>(std::min<uint64_t>(n.get<uint64_t>(), kMaxMsixEntries));
  }
  *msix_entries = static_cast<uint16_t>(entries);
  if (entries != 0) return InterruptMode::kMsix;
  return intx ? InterruptMode::kIntx : InterruptMode::kPolling;
}

ReplayResult DeviceReplay::run() {
  ReplayResult r;
  const size_t begin = t_.driver_start == SIZE_MAX ? 0 : t_.driver_start + 1;
  const size_t end = t_.events.size() - 1;
  std::vector<size_t> rx, tx;
  for (size_t i = begin; i < end; ++i) {
    const Event& e = t_.events[i];
    if (e.kind != EventKind::kDevFrame) continue;
    (e.r8 == static_cast<uint8_t>(FrameDir::kRx) ? rx : tx).push_back(i);
  }
  if (rx.empty() && tx.empty()) {
    r.unusable = true;
    r.error =
        "device mode needs the capture's frames: no dev_frame events (convert the capture "
        "with --pcap)";
    return r;
  }
  std::string device_note;
  PciMode probe_mode = PciMode::kAuto;
  mock::DeviceConfig config = configure(&device_note, &probe_mode);
  uint16_t msix_entries = 0;
  const InterruptMode irq = interrupt_offer(&msix_entries);
  config.msix_vectors = msix_entries;
  r.notes.push_back(device_note);

  mock::GuestMemory memory;
  mock::MockDevice device(memory, config);
  mock::MockPlatform platform(device, memory);
  const uint32_t buffer_size = std::max<uint32_t>(t_.header.pool_buffer_size, 2048);
  mock::MockBufferPool pool(memory, kPoolBuffers, buffer_size);
  uint64_t not_offered = 0, tx_refused = 0, tx_sent = 0, interrupts = 0;
  bool running = false;
  {
    surface::SurfaceHook surface;  // VNET_SURFACE: the attack-surface counter
    trace::Session s(surface.wrap(platform), pool, nullptr);
    // Interrupts as the capture's device delivered them: the mock's are
    // queued and taken between steps (take_interrupts), as a guest that
    // halts takes them.
    IrqWork work;
    if (irq != InterruptMode::kPolling) {
      platform.set_msi_vectors(irq == InterruptMode::kMsix ? kMaxMsiVectors : 0);
      platform.set_line(true);
      platform.set_interrupt_handler([&s, &work, &interrupts](IrqSource source) {
        const IrqWork k = s.handle_interrupt(source);
        ++interrupts;
        work.rx = work.rx || k.rx;
        work.tx = work.tx || k.tx;
        work.control = work.control || k.control;
      });
    }
    auto take_interrupts = [&] {
      if (irq == InterruptMode::kPolling) return;
      platform.deliver_interrupts();
      const IrqWork k = work;
      work = IrqWork{};
      if (k.control) s.poll_device();
      if (k.tx) s.tx_reclaim();
    };
    NetOptions options;
    options.interrupts = irq;
    ProbeError pe;
    if (mock::is_mmio(config.transport)) {
      // The window as a microvm's command line names it; its line when the
      // capture's device delivered interrupts on it.
      const MmioWindow window{0xFEB02E00, config.mmio_window_size,
                              irq != InterruptMode::kPolling ? 12 : -1};
      s.probe_mmio(window);
      pe = s.probe_result().error;
    } else {
      pe = s.probe(probe_mode);
    }
    const AttachError ae = pe == ProbeError::kOk ? s.attach(options) : AttachError::kOk;
    r.observed_driver = true;
    r.observed.observe_probe(s.probe_result());
    r.observed.observe_attach(ae);
    r.observed.observe(s.net().counters(), s.net().state());
    running =
        pe == ProbeError::kOk && ae == AttachError::kOk && s.net().state() == NetState::kRunning;
    if (!running) {
      fail(begin < end ? begin : end,
           std::string("(probe ") + probe_error_name(pe) +
               (pe == ProbeError::kOk ? std::string(", attach ") + attach_error_name(ae)
                                      : std::string(", attach not tried")) +
               ", state " + net_state_name(s.net().state()) + ")",
           "the driver did not reach running against the capture's device");
    } else {
      r.notes.push_back("driver: negotiated " + hex64(s.net().negotiated_features()) + ", header " +
                        std::to_string(s.net().net_header_size()) + " bytes, mtu " +
                        std::to_string(s.net().mtu()));
      if (irq != InterruptMode::kPolling) {
        if (s.net().interrupt_mode() != irq)
          fail(begin,
               std::string("(interrupts ") + interrupt_mode_name(s.net().interrupt_mode()) + ")",
               std::string("the capture's device delivered ") + interrupt_mode_name(irq) +
                   " interrupts; our driver did not take them against the same offer");
        s.set_rx_interrupts(true);
        s.set_tx_interrupts(true);
      }
      // The capture's frames in capture order: rx offered into the posted
      // buffers (rx_burst makes room when there is none), tx submitted.
      for (size_t i = begin; i < end; ++i) {
        const Event& e = t_.events[i];
        if (e.kind != EventKind::kDevFrame) continue;
        const std::span<const uint8_t> frame(t_.data(e.data), e.data.len);
        if (e.r8 == static_cast<uint8_t>(FrameDir::kRx)) {
          bool ok = device.inject_rx(frame);
          for (int tries = 0; !ok && tries < 4 && device.counters().rx_no_buffer != 0; ++tries) {
            receive(s);
            s.tx_reclaim();
            ok = device.inject_rx(frame);
          }
          if (!ok) ++not_offered;
          take_interrupts();
          receive(s);
        } else {
          const trace::TxFrame f{frame.data(), static_cast<uint32_t>(frame.size())};
          const uint16_t taken = s.tx_burst(&f, 1);
          if (taken == 1)
            ++tx_sent;
          else
            ++tx_refused;
          take_interrupts();
          s.tx_reclaim();
        }
      }
      for (int i = 0; i < 1000; ++i) {
        const size_t before = delivered_.size();
        receive(s);
        s.tx_reclaim();
        if (delivered_.size() == before) break;
      }
      running = s.net().state() == NetState::kRunning;
      if (!running) fail(end, "(driver state not running)", "the driver left running");
      r.observed.observe(s.net().counters(), s.net().state());
      s.stop();
      take_interrupts();
      if (irq != InterruptMode::kPolling) {
        r.notes.push_back(
            std::string("interrupts: the capture's device delivered ") + interrupt_mode_name(irq) +
            (irq == InterruptMode::kMsix ? " (" + std::to_string(msix_entries) + " table entries)"
                                         : std::string()) +
            "; our driver took " + std::to_string(interrupts) + " from the mock");
        if (interrupts == 0 && !rx.empty())
          fail(end, "(no interrupt taken)",
               "the capture's device delivered interrupts; the mock delivered none to our driver");
      }
    }
    platform.set_interrupt_handler(nullptr);
    r.observed.finish(s.net().counters(), s.net().quarantined());
  }

  // Frames: every captured rx frame exactly once, byte-exact, in order.
  size_t same = 0;
  for (; same < rx.size() && same < delivered_.size(); ++same) {
    const Event& e = t_.events[rx[same]];
    const std::vector<uint8_t>& got = delivered_[same];
    if (got.size() != e.data.len || std::memcmp(got.data(), t_.data(e.data), got.size()) != 0)
      break;
  }
  if (same < rx.size()) {
    const Event& e = t_.events[rx[same]];
    if (same < delivered_.size()) {
      const std::vector<uint8_t>& got = delivered_[same];
      fail(rx[same],
           "(delivered " + std::to_string(got.size()) +
               " bytes: " + hex_prefix(got.data(), got.size()) + ")",
           "rx frame " + std::to_string(same + 1) + " of " + std::to_string(rx.size()) +
               " differs: the driver delivered another frame in its place (" +
               std::to_string(got.size()) + " bytes, captured " + std::to_string(e.data.len) + ")");
    } else {
      fail(rx[same],
           "(not delivered; the driver delivered " + std::to_string(delivered_.size()) + " of " +
               std::to_string(rx.size()) + " frames)",
           "rx frame " + std::to_string(same + 1) + " of " + std::to_string(rx.size()) +
               " missing: the driver never delivered it" +
               (not_offered != 0 ? " (" + std::to_string(not_offered) +
                                       " frames did not fit the driver's rx buffers)"
                                 : std::string()));
    }
  } else if (delivered_.size() > rx.size()) {
    const std::vector<uint8_t>& got = delivered_[rx.size()];
    fail(end,
         "(extra frame, " + std::to_string(got.size()) +
             " bytes: " + hex_prefix(got.data(), got.size()) + ")",
         "the driver delivered " + std::to_string(delivered_.size()) + " frames, the capture has " +
             std::to_string(rx.size()));
  }
  // Tx: what the driver took reached the device unchanged.
  const auto& sent = device.captured_tx();
  size_t tx_same = 0, k = 0;
  for (size_t i = 0; i < tx.size() && k < sent.size(); ++i) {
    const Event& e = t_.events[tx[i]];
    if (sent[k].size() == e.data.len &&
        std::memcmp(sent[k].data(), t_.data(e.data), e.data.len) == 0) {
      ++tx_same;
      ++k;
    }
  }
  if (tx_same != tx_sent && !failed_)
    fail(end,
         "(" + std::to_string(sent.size()) + " frames reached the device, " +
             std::to_string(tx_same) + " of them as captured)",
         "tx frames the driver took did not reach the device unchanged");
  // Conformance.
  const auto& violations = device.conformance().violations();
  for (const mock::Violation& v : violations)
    r.notes.push_back("conformance violation " + v.section + ": " + v.message + " (x" +
                      std::to_string(v.count) + ")");
  if (!violations.empty())
    fail(end, "(" + std::to_string(device.conformance().total()) + " conformance violations)",
         "spec conformance: " + violations.front().section + " " + violations.front().message);

  r.notes.push_back("rx: " + std::to_string(rx.size()) + " frames captured, " +
                    std::to_string(same) + " delivered byte-exact in order" +
                    (delivered_.size() > same
                         ? ", " + std::to_string(delivered_.size() - same) + " other"
                         : std::string()));
  r.notes.push_back(
      "tx: " + std::to_string(tx.size()) + " frames captured, " + std::to_string(tx_sent) +
      " taken by the driver, " + std::to_string(tx_same) + " reached the device unchanged" +
      (tx_refused != 0 ? ", " + std::to_string(tx_refused) + " refused" : std::string()));
  r.notes.push_back("conformance: " + std::to_string(violations.size()) + " violations");
  r.events_consumed = t_.events.size();
  if (failed_)
    r.divergence = div_;
  else
    r.passed = true;
  return r;
}

}  // namespace

ReplayResult replay_capture_device(const Trace& trace) {
  if (trace.events.empty() || trace.events.back().kind != EventKind::kEnd) return {};
  DeviceReplay d(trace);
  return d.run();
}

}  // namespace vnet::replay::detail
