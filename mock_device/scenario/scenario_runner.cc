#include "mock_device/scenario/scenario_runner.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <sstream>

#include "driver/net/virtio_net.h"
#include "driver/spec/virtio_constants.h"
#include "driver/transport/pci_probe.h"
#include "mock_device/guest_memory.h"
#include "mock_device/mock_buffer_pool.h"
#include "mock_device/mock_device.h"
#include "mock_device/mock_platform.h"
#include "surface/surface_hook.h"

namespace vnet::scenario {
namespace {

constexpr uint16_t kBurst = 32;
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
  }

  void run() {
    for (const auto& f : s_.device_faults) device_.arm(f);
    for (const auto& l : s_.device_register_lies) device_.lie_about_register(l);
    // VNET_SURFACE: the attack-surface counter around the mock's platform.
    Platform& platform = surface_.wrap(platform_);
    const ProbeResult probe = transports_.probe(platform, s_.mode);
    r_.probe_result = probe_error_key(probe.error);
    if (r_.probe_result != s_.expect_probe)
      failure(1, "probe returned " + r_.probe_result + ", expected " + s_.expect_probe);
    if (probe.error == ProbeError::kOk) {
      r_.transport_name = probe.transport->name();
      const AttachError e = net_.attach(platform, *probe.transport, pool_, s_.options);
      r_.attach_result = attach_error_key(e);
      attached_ = true;
      event(0, std::string("probe ok (") + r_.transport_name + "), attach " + r_.attach_result +
                   ", state " + net_state_name(net_.state()));
    } else {
      r_.attach_result = "not attempted";
      event(0, "probe " + r_.probe_result + "; the driver was not attached");
    }
    if (r_.attach_result != s_.expect_attach && probe.error == ProbeError::kOk)
      failure(1, "attach returned " + r_.attach_result + ", expected " + s_.expect_attach);

    for (const Step& step : s_.steps) do_step(step);

    if (s_.stop_at_end && attached_) {
      net_.stop();
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
    r_.passed = r_.failures.empty();
  }

 private:
  void failure(int line, const std::string& what) {
    r_.failures.push_back("line " + std::to_string(line) + ": " + what);
  }
  void event(int line, const std::string& what) {
    r_.events.push_back((line ? "line " + std::to_string(line) + ": " : std::string()) + what);
  }

  // Harvest rx (echoing if asked) and reclaim tx until nothing moves.
  void pump() {
    if (!attached_) return;
    PacketBuffer* got[kBurst];
    for (int round = 0; round < kMaxPumpRounds; ++round) {
      const uint16_t n = net_.rx_burst(got, kBurst);
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
      const uint16_t reclaimed = net_.tx_reclaim();
      if (n == 0 && reclaimed == 0) return;
    }
  }

  // tx_burst with one retry after a pump; frees what the driver refused.
  void transmit(std::vector<PacketBuffer*>& bufs) {
    r_.frames_offered += bufs.size();
    size_t done = 0;
    for (int attempt = 0; attempt < 2 && done < bufs.size(); ++attempt) {
      done +=
          net_.tx_burst(bufs.data() + done, uint16_t(std::min<size_t>(bufs.size() - done, 0xFFFF)));
      if (done < bufs.size()) net_.tx_reclaim();
    }
    r_.frames_taken += done;
    for (size_t i = done; i < bufs.size(); ++i) pool_.free(bufs[i]);
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
      if ((i + 1) % kBurst == 0) pump();
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
    for (size_t i = 0; i < step.frames.size(); i += kBurst) {
      std::vector<PacketBuffer*> bufs;
      for (size_t k = i; k < std::min(step.frames.size(), i + kBurst); ++k) {
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
      const DeviceEvents ev = net_.poll_device();
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
        device_.set_link(step.link);
        event(step.line, std::string("link ") + (step.link ? "up" : "down"));
        if (step.poll) poll(step.line, 1);
        return;
      case StepKind::kDeviceReset:
        device_.device_reset();
        event(step.line, "device reset itself");
        if (step.poll) poll(step.line, 1);
        return;
      case StepKind::kRegister:
        device_.lie_about_register(step.lie);
        event(step.line, "register lie armed");
        return;
      case StepKind::kPublishUsed: {
        const bool ok = device_.publish_used(step.queue, step.used_id, step.used_len);
        event(step.line, "device published used {id " + std::to_string(step.used_id) + ", len " +
                             std::to_string(step.used_len) + "}" +
                             (ok ? "" : " (queue not usable)"));
        return;
      }
      case StepKind::kIgnoreReset:
        device_.set_ignore_reset(step.link);
        event(step.line,
              step.link ? "device ignores resets from now on" : "device acknowledges resets again");
        return;
      case StepKind::kRepublishUsed: {
        const bool lied = device_.republish_last_used(step.queue);
        event(step.line, std::string("device republished its last used entry of queue ") +
                             (step.queue == 0 ? "rx" : "tx") +
                             (lied ? "" : " (nothing to republish)"));
        return;
      }
      case StepKind::kRecover:
        if (attached_) {
          const bool ok = net_.recover();
          event(step.line, std::string("recover: ") + (ok ? "ok" : "failed") + ", state " +
                               net_state_name(net_.state()));
        }
        return;
      case StepKind::kStop:
        if (attached_) net_.stop();
        event(step.line, "stop");
        return;
      case StepKind::kPollDevice:
        return poll(step.line, step.count);
      case StepKind::kPump:
        for (uint32_t i = 0; i < step.count; ++i) pump();
        event(step.line, "pump");
        return;
      case StepKind::kFault:
        device_.arm(step.fault);
        event(step.line, std::string("fault armed: ") + mock::fault_kind_name(step.fault.kind));
        return;
      case StepKind::kClearFaults:
        device_.clear_faults();
        event(step.line, "faults cleared");
        return;
      case StepKind::kExpect:
        check(step.expect, step.line);
        event(step.line, "expect checked");
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
          if (!want.count(v.section)) msg += "; " + v.section + ": " + v.message;
        failure(line, msg);
      }
    }
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
  VirtioNet net_;
  bool attached_ = false;
  size_t tx_cursor_ = 0;
};

}  // namespace

RunResult run_scenario(const Scenario& scenario, const RunOptions& options) {
  RunResult result;
  auto runner = std::make_unique<Runner>(scenario, options, &result);
  runner->run();
  return result;
}

}  // namespace vnet::scenario
