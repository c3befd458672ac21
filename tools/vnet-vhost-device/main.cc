// vnet-vhost-device: vnetkit's mock device served as a vhost-user back end
// (docs/vhost-device.md). QEMU's virtio-net hands it a real guest's rings;
// the guest's own driver -- Linux, iPXE, our guest -- meets the mock's
// conformance checker and the lies of a scenario file.
//
//   vnet-vhost-device --socket PATH [--scenario FILE] [--json OUT]
//                     [--packed] [--in-order] [--ping-ms N] [--warmup-ms N]
//                     [--step-ms N] [--timeout S] [--quiet]
//
// One connection is served (QEMU connects to PATH as a client: -chardev
// socket,path=PATH) until QEMU closes it, a signal, or the timeout. Then
// the report: what was negotiated, the traffic both ways (link_peer.h:
// the device is the host 10.0.2.2 and pings the guest at 10.0.2.15), what
// the scenario did, and the conformance report -- the guest driver's
// violations by spec-map id.
//
// The event loop (one thread, vhost/backend/backend_loop.h) polls the
// vhost-user socket and the rings' kick eventfds, gives the device its
// time and sweeps transmit chains no kick announced (sweep_frames); around
// it, every --ping-ms a probe, and once the rings run and --warmup-ms has
// passed, one scenario step every --step-ms. Frames for the guest wait in the peer's outbox until a
// receive buffer is there.
//
// Scenario files are those of the mock world (docs/scenarios.md): the
// device section (offer, configuration, faults armed from the start) and
// the device steps of the timeline (faults, lies, link and configuration
// changes, frames). Driver steps (tx, pump, expect, ...) are skipped and
// listed: the guest's driver runs on its own.
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "driver/spec/virtio_constants.h"
#include "mock_device/scenario/device_step.h"
#include "mock_device/scenario/scenario.h"
#include "tools/vnet-vhost-device/link_peer.h"
#include "vhost/backend/backend_loop.h"
#include "vhost/backend/backend_session.h"
#include "vhost/backend/mock_device_backend.h"

namespace {

using Clock = std::chrono::steady_clock;
using vnet::tools::LinkPeer;

volatile sig_atomic_t g_signal = 0;
void on_signal(int sig) {
  g_signal = sig;
}

struct Options {
  std::string socket;
  std::string scenario;
  std::string json;
  unsigned ping_ms = 200;
  unsigned warmup_ms = 2000;
  unsigned step_ms = 1000;
  double timeout_s = 300;
  bool quiet = false;
  bool packed = false;
  bool in_order = false;
};

std::string hex(uint64_t v) {
  char buf[24];
  snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::vector<std::string> feature_names(uint64_t set) {
  std::vector<std::string> out;
  for (unsigned bit = 0; bit < 64; ++bit) {
    if (!(set >> bit & 1)) continue;
    const char* n = vnet::spec::feature_name(bit);
    out.push_back(n ? n : "bit" + std::to_string(bit));
  }
  return out;
}

int listen_on(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    fprintf(stderr, "vnet-vhost-device: socket path too long (%zu bytes)\n", path.size());
    return -1;
  }
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      fprintf(stderr, "vnet-vhost-device: %s exists and is not a socket\n", path.c_str());
      return -1;
    }
    unlink(path.c_str());  // a stale socket of an earlier run
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(fd, 1) != 0) {
    fprintf(stderr, "vnet-vhost-device: cannot listen on %s: %s\n", path.c_str(), strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

// The device the scenario describes (the mock's default without one), with
// the ring kinds the command line adds to its offer.
vnet::mock::DeviceConfig device_config(const Options& o, const vnet::scenario::Scenario* scenario) {
  vnet::mock::DeviceConfig c = scenario ? scenario->device : vnet::mock::DeviceConfig{};
  if (o.packed) c.offer_ring_packed = true;
  if (o.in_order) c.offer_in_order = true;
  return c;
}

class Server {
 public:
  Server(const Options& o, const vnet::scenario::Scenario* scenario)
      : o_(o), scenario_(scenario), backend_(device_config(o, scenario)) {
    auto& dev = backend_.device();
    if (scenario_ != nullptr)
      for (const auto& f : scenario_->device_faults) dev.arm(f);
    dev.set_tx_handler([this](std::span<const uint8_t> frame) { peer_.on_guest_frame(frame); });
  }

  // Serves one connection; returns the exit status.
  int serve(int listen_fd) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(int64_t(o_.timeout_s * 1000));
    int conn = -1;
    while (conn < 0) {
      if (g_signal) return finish("signal before a front end connected", 1);
      if (Clock::now() >= deadline) return finish("timeout before a front end connected", 1);
      pollfd p{listen_fd, POLLIN, 0};
      if (poll(&p, 1, 100) > 0) conn = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    }
    connected_ = true;
    if (!o_.quiet) fprintf(stderr, "vnet-vhost-device: front end connected\n");
    vnet::vhost::BackendSession session(conn, backend_);
    vnet::vhost::BackendLoop loop(session, backend_);
    auto next_probe = Clock::now();
    std::string end;
    int status = 0;
    while (end.empty()) {
      if (g_signal) {
        end = std::string("signal ") + std::to_string(int(g_signal));
        break;
      }
      if (Clock::now() >= deadline) {
        end = "timeout";
        break;
      }
      if (!loop.run_once(vnet::vhost::BackendLoop::kSweepMs)) {
        end = loop.end();
        status = loop.failed() ? 1 : 0;
        break;
      }
      if (!backend_.running()) continue;
      if (!running_since_) {
        running_since_ = Clock::now();
        if (!o_.quiet)
          fprintf(stderr, "vnet-vhost-device: rings running, features %s\n",
                  hex(backend_.negotiated()).c_str());
      }
      const auto t = Clock::now();
      if (o_.ping_ms != 0 && t >= next_probe &&
          t >= *running_since_ + std::chrono::milliseconds(500)) {
        peer_.probe();
        next_probe = t + std::chrono::milliseconds(o_.ping_ms);
      }
      run_steps(t);
      flush();
    }
    sweep_frames_ = loop.sweep_frames();
    messages_ = session.message_counts();
    refusals_ = session.refusals();
    calls_ = session.calls_signalled();
    kicks_ = session.kicks();
    protocol_features_ = session.acked_protocol_features();
    acked_ = session.acked_features();
    return finish(end, status);
  }

 private:
  void flush() {
    auto& box = peer_.outbox();
    while (!box.empty()) {
      const uint64_t before = backend_.device().counters().rx_no_buffer;
      if (!backend_.device().inject_rx(box.front())) {
        if (backend_.device().counters().rx_no_buffer != before) return;  // wait for buffers
        ++rx_refused_;  // filtered, too big, not ready: not retried
      }
      box.pop_front();
    }
  }

  void run_steps(Clock::time_point t) {
    if (scenario_ == nullptr || next_step_ >= scenario_->steps.size()) return;
    const auto first = *running_since_ + std::chrono::milliseconds(o_.warmup_ms);
    const auto due = first + std::chrono::milliseconds(uint64_t(o_.step_ms) * steps_done_);
    if (t < due) return;
    const auto& step = scenario_->steps[next_step_++];
    ++steps_done_;
    const double at = std::chrono::duration<double>(t - *running_since_).count();
    std::string what;
    if (step.kind == vnet::scenario::StepKind::kRx) {
      for (const auto& f : step.frames) peer_.outbox().push_back(f);
      what = std::to_string(step.frames.size()) + " frame(s) for the guest";
    } else if (auto done = vnet::scenario::apply_device_step(backend_.device(), step)) {
      what = *done;
    } else {
      what = std::string("skipped: ") + vnet::scenario::step_kind_name(step.kind) +
             " is a driver step (the guest's driver runs on its own)";
      --steps_done_;  // skipped steps take no time
    }
    char buf[32];
    snprintf(buf, sizeof buf, "t=%.1fs", at);
    const auto& pc = peer_.counters();
    steps_.push_back({{"t", at},
                      {"line", step.line},
                      {"what", what},
                      {"pings_sent", pc.pings_sent},
                      {"ping_replies", pc.ping_replies}});
    if (!o_.quiet)
      fprintf(stderr, "vnet-vhost-device: %s line %d: %s\n", buf, step.line, what.c_str());
  }

  int finish(const std::string& end, int status) {
    using nlohmann::json;
    const auto& dev = backend_.device();
    json j;
    j["end"] = end;
    j["connected"] = connected_;
    j["scenario"] = scenario_ ? json(scenario_->file) : json(nullptr);
    j["offered_features"] = hex(backend_.offered_features());
    j["acked_features"] = hex(acked_);
    j["negotiated_features"] = hex(backend_.negotiated());
    j["negotiated_feature_names"] = feature_names(backend_.negotiated());
    j["protocol_features"] = hex(protocol_features_);
    j["rings_ran"] = bool(running_since_);
    j["ring_kind"] = dev.ring_packed() ? "packed" : "split";
    for (uint16_t q = 0; q < 2; ++q) j["ring_sizes"].push_back(dev.ring(q).size());
    j["messages"] = messages_;
    j["refusals"] = refusals_;
    json traffic;
    peer_.counters().for_each([&](const char* name, uint64_t v) { traffic[name] = v; });
    traffic["rx_injected"] = dev.counters().rx_injected;
    traffic["guest_tx_frames"] = dev.counters().tx_frames;
    traffic["sweep_frames"] = sweep_frames_;
    traffic["rx_refused"] = rx_refused_;
    traffic["kicks"] = kicks_;
    traffic["calls"] = calls_;
    traffic["config_changes_undelivered"] = backend_.config_changes_undelivered();
    j["traffic"] = traffic;
    json counters = json::object();
    dev.counters().for_each([&](const char* name, uint64_t v) {
      if (v) counters[name] = v;
    });
    j["device_counters"] = counters;
    j["steps"] = steps_;
    json violations = json::array();
    for (const auto& v : dev.conformance().violations())
      violations.push_back(
          {{"id", v.id}, {"section", v.section}, {"count", v.count}, {"message", v.message}});
    j["conformance"] = {{"total", dev.conformance().total()}, {"violations", violations}};
    print_report(j);
    if (!o_.json.empty()) {
      std::ofstream out(o_.json);
      out << j.dump(2) << "\n";
      if (!out) {
        fprintf(stderr, "vnet-vhost-device: cannot write %s\n", o_.json.c_str());
        return 1;
      }
    }
    if (!connected_) return 1;
    // Served means the guest's rings ran: a front end that went away before
    // (QEMU failing at start) served nothing.
    if (!running_since_) return 1;
    return status;
  }

  void print_report(const nlohmann::json& j) {
    printf("vnet-vhost-device report\n");
    printf("  end: %s\n", j["end"].get<std::string>().c_str());
    printf("  scenario: %s\n", scenario_ ? scenario_->file.c_str() : "(none)");
    printf(
        "  features offered %s, negotiated %s:", j["offered_features"].get<std::string>().c_str(),
        j["negotiated_features"].get<std::string>().c_str());
    for (const auto& n : j["negotiated_feature_names"]) printf(" %s", n.get<std::string>().c_str());
    printf("\n  protocol features %s; rings %s, sizes %u/%u\n",
           j["protocol_features"].get<std::string>().c_str(),
           j["ring_kind"].get<std::string>().c_str(), j["ring_sizes"][0].get<unsigned>(),
           j["ring_sizes"][1].get<unsigned>());
    printf("  messages:");
    for (const auto& [name, count] : j["messages"].items())
      printf(" %s=%llu", name.c_str(), static_cast<unsigned long long>(count.get<uint64_t>()));
    printf("\n");
    for (const auto& r : j["refusals"]) printf("  refused: %s\n", r.get<std::string>().c_str());
    printf("  traffic:");
    for (const auto& [name, v] : j["traffic"].items())
      printf(" %s=%llu", name.c_str(), static_cast<unsigned long long>(v.get<uint64_t>()));
    printf("\n  device counters:");
    for (const auto& [name, v] : j["device_counters"].items())
      printf(" %s=%llu", name.c_str(), static_cast<unsigned long long>(v.get<uint64_t>()));
    printf("\n");
    for (const auto& s : j["steps"])
      printf("  step t=%.1fs line %d: %s (ping replies so far %llu of %llu)\n",
             s["t"].get<double>(), s["line"].get<int>(), s["what"].get<std::string>().c_str(),
             static_cast<unsigned long long>(s["ping_replies"].get<uint64_t>()),
             static_cast<unsigned long long>(s["pings_sent"].get<uint64_t>()));
    const auto& c = j["conformance"];
    printf("conformance report: %llu violation(s) of the virtio 1.2 driver requirements\n",
           static_cast<unsigned long long>(c["total"].get<uint64_t>()));
    if (c["violations"].empty())
      printf("  (none: no driver requirement the device checks was broken)\n");
    for (const auto& v : c["violations"])
      printf("  %s (%s) x%llu: %s\n", v["id"].get<std::string>().c_str(),
             v["section"].get<std::string>().c_str(),
             static_cast<unsigned long long>(v["count"].get<uint64_t>()),
             v["message"].get<std::string>().c_str());
    fflush(stdout);
  }

  const Options& o_;
  const vnet::scenario::Scenario* scenario_;
  vnet::vhost::MockDeviceBackend backend_;
  LinkPeer peer_;
  bool connected_ = false;
  std::optional<Clock::time_point> running_since_;
  uint64_t acked_ = 0;
  uint64_t protocol_features_ = 0;
  size_t next_step_ = 0;
  uint64_t steps_done_ = 0;
  nlohmann::json steps_ = nlohmann::json::array();
  uint64_t sweep_frames_ = 0;
  uint64_t rx_refused_ = 0;
  uint64_t calls_ = 0;
  uint64_t kicks_ = 0;
  std::map<std::string, uint64_t> messages_;
  std::vector<std::string> refusals_;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"vnet-vhost-device: the mock device as a vhost-user back end"};
  app.add_option("--socket", o.socket, "unix socket to listen on (QEMU connects to it)")
      ->required();
  app.add_option("--scenario", o.scenario, "scenario file (docs/scenarios.md)");
  app.add_option("--json", o.json, "write the report as JSON to this file");
  app.add_option("--ping-ms", o.ping_ms, "ms between probes of the guest (0: none)")
      ->capture_default_str();
  app.add_option("--warmup-ms", o.warmup_ms, "ms of traffic before the first scenario step")
      ->capture_default_str();
  app.add_option("--step-ms", o.step_ms, "ms between scenario steps")->capture_default_str();
  app.add_option("--timeout", o.timeout_s, "seconds to serve at most")->capture_default_str();
  app.add_flag("--packed", o.packed, "offer VIRTIO_F_RING_PACKED (QEMU: packed=on on the NIC)");
  app.add_flag("--in-order", o.in_order, "offer VIRTIO_F_IN_ORDER");
  app.add_flag("-q,--quiet", o.quiet, "no progress lines on stderr");
  CLI11_PARSE(app, argc, argv);

  std::optional<vnet::scenario::Scenario> scenario;
  if (!o.scenario.empty()) {
    try {
      scenario = vnet::scenario::load_scenario_file(o.scenario);
    } catch (const vnet::scenario::ScenarioError& e) {
      fprintf(stderr, "vnet-vhost-device: %s\n", e.what());
      return 2;
    }
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  const int listen_fd = listen_on(o.socket);
  if (listen_fd < 0) return 1;
  fprintf(stderr, "vnet-vhost-device: listening on %s\n", o.socket.c_str());
  int status;
  {
    Server server(o, scenario ? &*scenario : nullptr);
    status = server.serve(listen_fd);
  }
  close(listen_fd);
  unlink(o.socket.c_str());
  return status;
}
