#include "mock_device/scenario/scenario_runner.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "driver/net/virtio_net.h"
#include "driver/spec/virtio_constants.h"
#include "driver/transport/pci_probe.h"
#include "mock_device/guest_memory.h"
#include "mock_device/mock_buffer_pool.h"
#include "mock_device/mock_device.h"
#include "mock_device/mock_platform.h"
#include "mock_device/scenario/device_step.h"
#include "surface/surface_hook.h"

namespace vnet::scenario {
namespace {

constexpr uint16_t kMaxBurst = 256;
constexpr int kMaxPumpRounds = 4096;

std::string range_text(const Range& r) {
  if (r.min == r.max) return std::to_string(r.min);
  std::string s = "[" + std::to_string(r.min) + ", ";
  s += r.max == UINT64_MAX ? "inf" : std::to_string(r.max);
  return s + "]";
}

// Feature bits by name where they have one ("ACCESS_PLATFORM"), else "bit N".
std::string hex(uint64_t features) {
  std::string s;
  for (unsigned bit = 0; bit < 64; ++bit) {
    if (((features >> bit) & 1) == 0) continue;
    const char* n = spec::feature_name(bit);
    s += (s.empty() ? "" : " ") + (n ? std::string(n) : "bit " + std::to_string(bit));
  }
  return s;
}

bool in_range(uint64_t v, const Range& r) {
  return v >= r.min && v <= r.max;
}

class Runner {
 public:
  Runner(const Scenario& s, const RunOptions& o, RunResult* r)
      : s_(s),
        r_(*r),
        memory_(s.memory_mib << 20),
        device_(memory_, s.device),
        platform_(device_, memory_),
        pool_(memory_, s.pool_buffers, s.buffer_size) {
    platform_.set_log_echo(o.echo_driver_log, LogLevel::kDebug);
    platform_.set_iommu(s.iommu);
    if (s.clock_step_ns) {
      const uint64_t step = *s.clock_step_ns;
      platform_.set_clock([this, step] { return now_ += step; });
    }
    platform_.set_dma_budget(s.dma_alloc_budget);
    platform_.set_map_budget(s.dma_map_budget);
    platform_.set_map_lie(s.map_lie);
    pool_.set_alloc_budget(s.pool_alloc_budget);
    // Interrupts: the driver's entry point is the platform's handler; what
    // it asks for is done after the delivery (a configuration change:
    // poll_device), as an interrupt-driven caller would.
    platform_.set_msi_vectors(s.msi_vectors);
    platform_.set_line(s.line);
    platform_.set_interrupt_handler(
        [this](IrqSource source) {
          ++irq_handled_;
          if (net_.handle_interrupt(source).control) control_due_ = true;
        },
        s.synchronous_interrupts);
  }

  void run() {
    for (const auto& f : s_.device_faults) device_.arm(f);
    for (const auto& l : s_.device_register_lies) device_.lie_about_register(l);
    for (const auto& p : s_.pci_pokes) device_.poke_pci_config(p.offset, p.width, p.value);
    for (const auto& b : s_.bar_lies) device_.lie_about_bar(b);
    for (const auto& h : s_.device_hooks) arm_hook(h);
    // VNET_SURFACE: the attack-surface counter around the mock's platform.
    Platform& platform = surface_.wrap(platform_);
    std::optional<Meter> meter(std::in_place, *this, "probe");
    ProbeResult probe;
    if (mock::is_mmio(s_.device.transport)) {
      // virtio-mmio: the window as a microvm's kernel command line names it
      // (the mock answers Region::kMmio at offset 0), its line when the
      // device has one. Reported in the probe's own words.
      const MmioWindow window{0xFEB02E00, s_.device.mmio_window_size,
                              s_.device.interrupt_pin != 0 ? 12 : -1};
      const MmioProbeResult m = mmio_.probe(platform, window);
      meter.reset();
      r_.probe_result = mmio_probe_error_key(m.error);
      r_.modern_error = "ok";
      probe.error = m.error == MmioProbeError::kOk ? ProbeError::kOk
                    : m.error == MmioProbeError::kNotNet || m.error == MmioProbeError::kNoDevice
                        ? ProbeError::kNotNet
                        : ProbeError::kNotVirtio;
      probe.transport = m.transport;
      if (m.error != MmioProbeError::kOk)
        obs_.refuse(std::string("probe: ") + mmio_probe_error_name(m.error));
    } else {
      probe = transports_.probe(platform, s_.mode);
      meter.reset();
      r_.probe_result = probe_error_key(probe.error);
      r_.modern_error = modern_error_key(probe.modern_error);
      obs_.observe_probe(probe);
    }
    if (r_.probe_result != s_.expect_probe)
      failure(1, "probe returned " + r_.probe_result + ", expected " + s_.expect_probe);
    if (!s_.expect_modern_error.empty() && r_.modern_error != s_.expect_modern_error)
      failure(1,
              "modern probe returned " + r_.modern_error + ", expected " + s_.expect_modern_error);
    if (probe.error == ProbeError::kOk) {
      r_.transport_name = probe.transport->name();
      meter.emplace(*this, "attach");
      const AttachError e = net_.attach(platform, *probe.transport, pool_, s_.options);
      meter.reset();
      r_.attach_result = attach_error_key(e);
      obs_.observe_attach(e);
      obs_.observe_interrupts(net_.interrupts());
      attached_ = true;
      event(0, std::string("probe ok (") + r_.transport_name + "), attach " + r_.attach_result +
                   ", state " + net_state_name(net_.state()));
    } else {
      r_.attach_result = "not attempted";
      event(0, "probe " + r_.probe_result + "; the driver was not attached");
    }
    if (r_.attach_result != s_.expect_attach && probe.error == ProbeError::kOk)
      failure(1, "attach returned " + r_.attach_result + ", expected " + s_.expect_attach);

    obs_.observe(net_.counters(), net_.state());
    for (const Step& step : s_.steps) {
      do_step(step);
      service_interrupts(step.line);
      obs_.observe(net_.counters(), net_.state());
    }

    if (s_.stop_at_end && attached_) {
      meter.emplace(*this, "stop");
      net_.stop();
      meter.reset();
      event(s_.end.line, "stop: state " + std::string(net_state_name(net_.state())));
    }
    check(s_.end, s_.end.line);
    if (pool_.double_frees() || pool_.foreign_frees())
      failure(s_.end.line,
              "the driver freed buffers twice (" + std::to_string(pool_.double_frees()) +
                  ") or freed foreign buffers (" + std::to_string(pool_.foreign_frees()) + ")");
    if (platform_.fetches_outside())
      failure(s_.end.line, std::to_string(platform_.fetches_outside()) +
                               " fetches of memory outside guest memory");
    if (platform_.bad_dma_frees())
      failure(s_.end.line, std::to_string(platform_.bad_dma_frees()) + " bad dma_free calls");

    r_.final_state = net_.state();
    r_.driver_counters = net_.counters();
    r_.device_counters = device_.counters();
    r_.frames_out = device_.counters().tx_frames;
    r_.violations = device_.conformance().violations();
    r_.driver_log = platform_.log_lines();
    r_.shim_max = shim_max_;
    grade_run();
    r_.passed = r_.failures.empty();
  }

 private:
  // Shim calls one driver operation makes: the most any call made so far is
  // kept per operation and metric (kShimMetrics order).
  using Snap = std::array<uint64_t, 4>;
  Snap snap() const {
    return {platform_.reg_reads(), platform_.reg_writes(), platform_.fetches(),
            platform_.shim_calls()};
  }
  struct Meter {
    Meter(Runner& r, const char* op) : r_(r), op_(op), before_(r.snap()) {}
    ~Meter() {
      const Snap after = r_.snap();
      Snap& m = r_.shim_max_[op_];
      for (size_t i = 0; i < m.size(); ++i) m[i] = std::max(m[i], after[i] - before_[i]);
    }
    Meter(const Meter&) = delete;
    Meter& operator=(const Meter&) = delete;
    Runner& r_;
    const char* op_;
    Snap before_;
  };

  void arm_hook(const HookSpec& h) {
    mock::MockDevice::Hook hook;
    hook.point = h.point;
    hook.status_bit = h.status_bit;
    hook.queue = h.queue;
    hook.before = h.before;
    hook.skip = h.skip;
    hook.count = h.count;
    const HookSpec* spec = &h;  // lives in the scenario, which outlives the run
    hook.action = [this, spec](mock::MockDevice&) {
      for (const Step& a : spec->actions) event(a.line, "hook: " + device_action(a));
    };
    device_.add_hook(std::move(hook));
  }

  static std::string qname(uint16_t q) {
    return q == 0 ? "rx" : q == 1 ? "tx" : q == 2 ? "ctrl" : "queue " + std::to_string(q);
  }

  // The steps that only touch the device or the platform (allowed in hooks).
  std::string device_action(const Step& step) {
    if (std::optional<std::string> done = apply_device_step(device_, step)) return *done;
    switch (step.kind) {
      case StepKind::kAdvanceClock:
        now_ += step.ns;
        return "clock advanced by " + std::to_string(step.ns) + " ns";
      case StepKind::kBudget:
        if (step.dma_alloc_budget) platform_.set_dma_budget(*step.dma_alloc_budget);
        if (step.dma_map_budget) platform_.set_map_budget(*step.dma_map_budget);
        if (step.pool_alloc_budget) pool_.set_alloc_budget(*step.pool_alloc_budget);
        return "budgets changed";
      default:
        return "?";
    }
  }

  // The verdict: findings of this world, then grade(); the end
  // expectation's verdict checked.
  void grade_run() {
    obs_.finish(net_.counters(), net_.quarantined());
    if (platform_.fetches_outside()) {
      obs_.memory_error = true;
      obs_.memory_error_what =
          std::to_string(platform_.fetches_outside()) + " fetches of memory outside guest memory";
    }
    if (pool_.double_frees() || pool_.foreign_frees() || platform_.bad_dma_frees()) {
      obs_.oracle = "ownership";
      obs_.oracle_what = std::to_string(pool_.double_frees()) + " double frees, " +
                         std::to_string(pool_.foreign_frees()) + " foreign frees, " +
                         std::to_string(platform_.bad_dma_frees()) + " bad dma_free calls";
    }
    if (obs_.oracle.empty()) {
      const std::vector<std::string> none;
      const std::vector<std::string>& listed = s_.end.violations ? *s_.end.violations : none;
      for (const auto& v : r_.violations) {
        if (std::find(listed.begin(), listed.end(), v.section) != listed.end()) continue;
        obs_.oracle = "conformance";
        obs_.oracle_what = v.section + " " + v.id + ": " + v.message;
        break;
      }
    }
    r_.observed = obs_;
    r_.verdict = verdict::grade(obs_);
    if (s_.end.verdict && *s_.end.verdict != r_.verdict.name())
      failure(s_.end.verdict_line ? s_.end.verdict_line : s_.end.line,
              "verdict is " + verdict::describe(r_.verdict) + ", expected " + *s_.end.verdict);
  }

  void failure(int line, const std::string& what) {
    r_.failures.push_back("line " + std::to_string(line) + ": " + what);
  }
  void event(int line, const std::string& what) {
    r_.events.push_back((line ? "line " + std::to_string(line) + ": " : std::string()) + what);
  }

  // Interrupts that waited (queued delivery), handed to the driver; a
  // configuration interrupt then has poll_device run. Bounded per call.
  void service_interrupts(int line) {
    if (!attached_) return;
    const uint64_t before = irq_handled_;
    platform_.deliver_interrupts(kMaxInterruptsPerService);
    if (irq_handled_ != before && !s_.synchronous_interrupts)
      event(line, "interrupts: " + std::to_string(irq_handled_ - before) + " handled");
    if (control_due_) {
      control_due_ = false;
      poll(line, 1);
    }
  }

  // Harvest rx (echoing if asked) and reclaim tx until nothing moves.
  void pump() {
    device_.tick();  // time passes for completions the device holds back
    if (!attached_) return;
    service_interrupts(0);
    PacketBuffer* got[kMaxBurst];
    for (int round = 0; round < kMaxPumpRounds; ++round) {
      uint16_t n;
      {
        Meter m(*this, "rx_burst");
        n = net_.rx_burst(got, s_.burst);
      }
      std::vector<PacketBuffer*> echo;
      for (uint16_t i = 0; i < n; ++i) {
        ++r_.frames_delivered;
        if (s_.echo) {
          PacketBuffer* b = pool_.alloc_tx(std::span<const uint8_t>(got[i]->data(), got[i]->len));
          if (b) echo.push_back(b);
        }
        pool_.free(got[i]);
      }
      if (!echo.empty()) transmit(echo);
      const uint16_t reclaimed = reclaim();
      if (n == 0 && reclaimed == 0) {
        // Idle: an interrupt-driven caller asks for rx interrupts before it
        // waits (virtio_net.h); what raced in is taken at the next pump.
        if (net_.interrupt_mode() != InterruptMode::kPolling) net_.set_rx_interrupts(true);
        return;
      }
    }
    if (!obs_.budget_exhausted) {
      obs_.budget_exhausted = true;
      obs_.budget_what = "the driver still delivered or reclaimed after " +
                         std::to_string(kMaxPumpRounds) + " rx_burst/tx_reclaim rounds of one pump";
    }
  }

  // tx_burst with one retry after a pump; frees what the driver refused.
  void transmit(std::vector<PacketBuffer*>& bufs) {
    r_.frames_offered += bufs.size();
    size_t done = 0;
    for (int attempt = 0; attempt < 2 && done < bufs.size(); ++attempt) {
      {
        Meter m(*this, "tx_burst");
        done += net_.tx_burst(bufs.data() + done,
                              uint16_t(std::min<size_t>(bufs.size() - done, 0xFFFF)));
      }
      if (done < bufs.size()) reclaim();
    }
    r_.frames_taken += done;
    for (size_t i = done; i < bufs.size(); ++i) pool_.free(bufs[i]);
  }

  uint16_t reclaim() {
    Meter m(*this, "tx_reclaim");
    return net_.tx_reclaim();
  }

  void do_rx(const Step& step) {
    uint64_t injected = 0, missed = 0;
    const uint64_t delivered_before = r_.frames_delivered;
    for (size_t i = 0; i < step.frames.size(); ++i) {
      bool ok = device_.inject_rx(step.frames[i]);
      if (!ok && attached_) {
        pump();
        ok = device_.inject_rx(step.frames[i]);
      }
      ok ? ++injected : ++missed;
      if ((i + 1) % s_.burst == 0) pump();
    }
    pump();
    r_.frames_injected += injected;
    r_.frames_not_injected += missed;
    event(step.line, "rx " + std::to_string(step.frames.size()) +
                         " frames: " + std::to_string(injected) + " injected, " +
                         std::to_string(missed) + " without rx buffer; driver delivered " +
                         std::to_string(r_.frames_delivered - delivered_before));
  }

  void do_tx(const Step& step) {
    if (!attached_) {
      event(step.line, "tx skipped: driver not attached");
      return;
    }
    const uint64_t taken_before = r_.frames_taken;
    const uint64_t out_before = device_.counters().tx_frames;
    for (size_t i = 0; i < step.frames.size(); i += s_.burst) {
      std::vector<PacketBuffer*> bufs;
      for (size_t k = i; k < std::min(step.frames.size(), i + s_.burst); ++k) {
        PacketBuffer* b = pool_.alloc_tx(step.frames[k]);
        if (!b) {
          pump();
          b = pool_.alloc_tx(step.frames[k]);
        }
        if (b) bufs.push_back(b);
      }
      transmit(bufs);
      pump();
    }
    event(step.line, "tx " + std::to_string(step.frames.size()) + " frames: driver took " +
                         std::to_string(r_.frames_taken - taken_before) + ", device received " +
                         std::to_string(device_.counters().tx_frames - out_before));
  }

  void do_expect_tx(const Step& step) {
    const auto& got = device_.captured_tx();
    size_t matched = 0;
    for (const Frame& want : step.frames) {
      if (tx_cursor_ >= got.size()) {
        failure(step.line, "expected " + std::to_string(step.frames.size() - matched) +
                               " more transmitted frames; the device received no more");
        break;
      }
      const auto& have = got[tx_cursor_];
      if (have != want) {
        size_t at = 0;
        while (at < have.size() && at < want.size() && have[at] == want[at]) ++at;
        failure(step.line, "transmitted frame " + std::to_string(tx_cursor_) +
                               " differs: " + std::to_string(have.size()) + " bytes, expected " +
                               std::to_string(want.size()) + ", first difference at byte " +
                               std::to_string(at));
      }
      ++tx_cursor_;
      ++matched;
    }
    event(step.line, "expect_tx: " + std::to_string(matched) + " frames compared");
  }

  void poll(int line, uint32_t count) {
    if (!attached_) return;
    for (uint32_t i = 0; i < count; ++i) {
      DeviceEvents ev;
      {
        Meter m(*this, "poll_device");
        ev = net_.poll_device();
      }
      std::string what = "poll_device:";
      if (ev.config_changed) what += " config changed";
      if (ev.link_changed) what += std::string(" link ") + (net_.link_up() ? "up" : "down");
      if (ev.reset_detected) what += " reset detected";
      if (ev.recovered) what += " recovered";
      if (what == "poll_device:") what += " nothing";
      event(line, what + "; state " + net_state_name(net_.state()));
    }
  }

  void do_step(const Step& step) {
    switch (step.kind) {
      case StepKind::kRx:
        return do_rx(step);
      case StepKind::kTx:
        return do_tx(step);
      case StepKind::kExpectTx:
        return do_expect_tx(step);
      case StepKind::kLink:
      case StepKind::kDeviceReset:
        event(step.line, device_action(step));
        if (step.poll) poll(step.line, 1);
        return;
      case StepKind::kHook:
        for (const HookSpec& h : step.hook) arm_hook(h);
        event(step.line, "hook armed");
        return;
      case StepKind::kRecover:
        if (attached_) {
          bool ok;
          {
            Meter m(*this, "recover");
            ok = net_.recover();
          }
          event(step.line, std::string("recover: ") + (ok ? "ok" : "failed") + ", state " +
                               net_state_name(net_.state()));
        }
        return;
      case StepKind::kStop:
        if (attached_) {
          Meter m(*this, "stop");
          net_.stop();
        }
        event(step.line, "stop");
        return;
      case StepKind::kPollDevice:
        return poll(step.line, step.count);
      case StepKind::kPump:
        for (uint32_t i = 0; i < step.count; ++i) pump();
        event(step.line, "pump");
        return;
      case StepKind::kExpect:
        check(step.expect, step.line);
        event(step.line, "expect checked");
        return;
      default:
        event(step.line, device_action(step));
        return;
    }
  }

  void check(const Expectation& e, int line) {
    if (e.driver_state && net_.state() != *e.driver_state)
      failure(line, std::string("driver state is ") + net_state_name(net_.state()) + ", expected " +
                        net_state_name(*e.driver_state));
    if (e.link_up && net_.link_up() != *e.link_up)
      failure(line, std::string("driver link is ") + (net_.link_up() ? "up" : "down") +
                        ", expected " + (*e.link_up ? "up" : "down"));
    if (attached_) {
      const uint64_t neg = net_.negotiated_features();
      if ((neg & e.negotiated) != e.negotiated)
        failure(line, "features not negotiated: " + hex(e.negotiated & ~neg));
      if ((neg & e.not_negotiated) != 0)
        failure(line, "features negotiated that must not be: " + hex(neg & e.not_negotiated));
      if (e.mac && std::memcmp(net_.mac(), e.mac->data(), 6) != 0)
        failure(line, "driver MAC differs from the expected one");
      if (e.mtu && net_.mtu() != *e.mtu)
        failure(line, "driver MTU is " + std::to_string(net_.mtu()) + ", expected " +
                          std::to_string(*e.mtu));
      if (e.transport && (net_.transport() == nullptr || *e.transport != net_.transport()->name()))
        failure(line, std::string("driver transport is ") +
                          (net_.transport() ? net_.transport()->name() : "none") + ", expected " +
                          *e.transport);
      if (e.interrupt_mode && *e.interrupt_mode != interrupt_mode_name(net_.interrupt_mode()))
        failure(line, std::string("driver interrupt mode is ") +
                          interrupt_mode_name(net_.interrupt_mode()) + ", expected " +
                          *e.interrupt_mode);
      if (e.msix_fallback && *e.msix_fallback != msix_fallback_key(net_.interrupts().msix_fallback))
        failure(line, std::string("MSI-X fallback is ") +
                          msix_fallback_key(net_.interrupts().msix_fallback) + ", expected " +
                          *e.msix_fallback);
    }
    const NetCounters& nc = net_.counters();
    for (const auto& kv : e.counters) {
      const std::string& name = kv.first;
      const Range& want = kv.second;
      nc.for_each([&](const char* n, uint64_t v) {
        if (name == n && !in_range(v, want))
          failure(line, "driver counter " + name + " is " + std::to_string(v) + ", expected " +
                            range_text(want));
      });
    }
    const mock::DeviceCounters& dc = device_.counters();
    for (const auto& kv : e.device_counters) {
      const std::string& name = kv.first;
      const Range& want = kv.second;
      dc.for_each([&](const char* n, uint64_t v) {
        if (name == n && !in_range(v, want))
          failure(line, "device counter " + name + " is " + std::to_string(v) + ", expected " +
                            range_text(want));
      });
    }
    if (e.rx_frames && !in_range(r_.frames_delivered, *e.rx_frames))
      failure(line, "driver delivered " + std::to_string(r_.frames_delivered) +
                        " frames, expected " + range_text(*e.rx_frames));
    if (e.tx_frames && !in_range(dc.tx_frames, *e.tx_frames))
      failure(line, "device received " + std::to_string(dc.tx_frames) + " frames, expected " +
                        range_text(*e.tx_frames));
    if (e.violations) {
      std::set<std::string> want(e.violations->begin(), e.violations->end());
      std::set<std::string> have;
      for (const auto& v : device_.conformance().violations()) have.insert(v.section);
      if (want != have) {
        std::string msg = "conformance violations [";
        for (const auto& h : have) msg += (msg.back() == '[' ? "" : ", ") + h;
        msg += "], expected [";
        for (const auto& w : want) msg += (msg.back() == '[' ? "" : ", ") + w;
        msg += "]";
        for (const auto& v : device_.conformance().violations())
          if (!want.count(v.section)) msg += "; " + v.section + " " + v.id + ": " + v.message;
        failure(line, msg);
      }
    }
    if (e.dma_regions && !in_range(platform_.dma_live(), *e.dma_regions))
      failure(line, "the driver holds " + std::to_string(platform_.dma_live()) +
                        " DMA regions, expected " + range_text(*e.dma_regions));
    if (e.dma_bytes && !in_range(platform_.dma_live_bytes(), *e.dma_bytes))
      failure(line, "the driver holds " + std::to_string(platform_.dma_live_bytes()) +
                        " bytes of DMA memory, expected " + range_text(*e.dma_bytes));
    if (e.dma_maps_live) {
      const int64_t live = platform_.dma_maps_live();
      if (live < 0 || !in_range(uint64_t(live), *e.dma_maps_live))
        failure(line, std::to_string(live) + " DMA mappings live, expected " +
                          range_text(*e.dma_maps_live));
    }
    for (const auto& [op, metrics] : e.shim_bounds) {
      const auto it = shim_max_.find(op);
      for (const auto& [metric, want] : metrics) {
        size_t k = 0;
        while (k < std::size(kShimMetrics) && metric != kShimMetrics[k]) ++k;
        const uint64_t have = it == shim_max_.end() ? 0 : it->second[k];
        if (!in_range(have, want))
          failure(line, "one " + op + " call made " + std::to_string(have) + " " + metric +
                            (it == shim_max_.end() ? " (never called)" : "") + ", expected " +
                            range_text(want));
      }
    }
    for (const auto& [q, want] : e.held)
      if (!in_range(device_.held(q), want))
        failure(line, "the device holds " + std::to_string(device_.held(q)) + " " + qname(q) +
                          " completions back, expected " + range_text(want));
    if (e.pool_all_returned && pool_.all_returned() != *e.pool_all_returned)
      failure(line, std::to_string(pool_.outstanding()) + " pool buffers not returned" +
                        (*e.pool_all_returned ? "" : " (expected some outstanding)"));
  }

  const Scenario& s_;
  RunResult& r_;
  mock::GuestMemory memory_;
  mock::MockDevice device_;
  mock::MockPlatform platform_;
  surface::SurfaceHook surface_;
  mock::MockBufferPool pool_;
  PciTransports transports_;
  MmioTransports mmio_;
  VirtioNet net_;
  bool attached_ = false;
  size_t tx_cursor_ = 0;
  static constexpr size_t kMaxInterruptsPerService = 100000;
  uint64_t irq_handled_ = 0;
  bool control_due_ = false;
  uint64_t now_ = 0;  // the fake clock (platform.clock)
  std::map<std::string, Snap> shim_max_;
  verdict::Observation obs_;
};

}  // namespace

RunResult run_scenario(const Scenario& scenario, const RunOptions& options) {
  RunResult result;
  if (options.transport && *options.transport != scenario.device.transport) {
    Scenario other = scenario;
    other.device.transport = *options.transport;
    // virtio-mmio has no MSI-X: the script's table is dropped (its driver
    // then walks down the ladder to the line).
    if (mock::is_mmio(other.device.transport)) other.device.msix_vectors = 0;
    auto runner = std::make_unique<Runner>(other, options, &result);
    runner->run();
    return result;
  }
  auto runner = std::make_unique<Runner>(scenario, options, &result);
  runner->run();
  return result;
}

}  // namespace vnet::scenario
