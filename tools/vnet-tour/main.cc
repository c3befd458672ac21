// vnet-tour: the mock world at a glance. For every transport flavour (PCI
// legacy, modern, transitional; virtio-mmio versions 1 and 2) the
// driver is brought up against the mock device, frames go both ways and are
// checked byte for byte, and a few device lies are told to show that the
// driver counts them, stops, resets and carries on. Prints a summary table;
// exit 0 when every row passed.
//
//   vnet-tour [--frames N]
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "driver/spec/virtio_constants.h"
#include "tests/integration/mock_world.h"

namespace {

using namespace vnet;
using testing::make_frame;
using testing::MockWorld;

std::string feature_list(uint64_t f) {
  std::string s;
  for (unsigned bit = 0; bit < 64; ++bit)
    if (f & (uint64_t{1} << bit)) {
      const char* name = spec::feature_name(bit);
      if (!s.empty()) s += ' ';
      s += name ? name : ("bit" + std::to_string(bit));
    }
  return s.empty() ? "-" : s;
}

struct TrafficRow {
  std::string world, transport, features;
  uint64_t tx = 0, rx = 0, violations = 0;
  double seconds = 0;
  bool pass = false;
};

TrafficRow traffic(const testing::WorldKind& kind, uint32_t frames) {
  TrafficRow row{"mock", kind.name, "", 0, 0, 0, 0, false};
  mock::DeviceConfig cfg;
  cfg.transport = kind.device;
  auto w = std::make_unique<MockWorld>(cfg, kind.mode);
  if (w->attach() != AttachError::kOk) return row;
  row.transport = std::string(kind.name) + " (" + w->net().transport()->name() + ")";
  row.features = feature_list(w->net().negotiated_features());
  uint32_t tx_seen = 0;
  bool tx_ok = true;
  auto size_of = [](uint32_t i) { return 60 + (i * 37) % 1455; };
  w->device().set_tx_handler([&](std::span<const uint8_t> f) {
    auto want = make_frame(size_of(tx_seen), tx_seen);
    tx_ok = tx_ok && std::equal(f.begin(), f.end(), want.begin(), want.end());
    ++tx_seen;
  });
  bool rx_ok = true;
  uint32_t sent = 0, injected = 0, received = 0;
  auto start = std::chrono::steady_clock::now();
  for (int guard = 0; (sent < frames || received < frames) && guard < 1'000'000; ++guard) {
    std::vector<std::vector<uint8_t>> batch;
    for (uint32_t i = 0; i < 32 && sent + i < frames; ++i)
      batch.push_back(make_frame(size_of(sent + i), sent + i));
    sent += static_cast<uint32_t>(w->send(batch));
    while (injected < frames && w->device().inject_rx(make_frame(size_of(injected), ~injected)))
      ++injected;
    for (auto& f : w->receive()) {
      rx_ok = rx_ok && f == make_frame(size_of(received), ~received);
      ++received;
    }
    if (w->net().state() != NetState::kRunning) break;
  }
  w->net().tx_reclaim();
  row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  row.tx = tx_seen;
  row.rx = received;
  row.violations = w->device().conformance().total();
  w->net().stop();
  row.pass = tx_ok && rx_ok && tx_seen == frames && received == frames && row.violations == 0 &&
             w->pool().all_returned();
  return row;
}

struct LieRow {
  std::string lie, detected_by, outcome;
  bool pass = false;
};

LieRow lie(const char* name, mock::FaultKind kind, uint16_t queue) {
  LieRow row{name, "-", "-", false};
  mock::DeviceConfig cfg;
  cfg.transport = mock::TransportKind::kModern;
  auto w = std::make_unique<MockWorld>(cfg);
  if (w->attach() != AttachError::kOk) return row;
  mock::Fault f;
  f.kind = kind;
  f.queue = queue;
  f.value = 1;
  w->device().arm(f);
  w->send({make_frame(100, 1)});
  w->device().inject_rx(make_frame(100, 2));
  w->receive();
  w->send({make_frame(100, 3)});
  std::string detected;
  w->net().counters().for_each([&](const char* counter, uint64_t v) {
    std::string n = counter;
    bool data = n == "rx_packets" || n == "rx_bytes" || n == "tx_packets" || n == "tx_bytes" ||
                n == "tx_completed";
    if (!data && v != 0) detected += (detected.empty() ? "" : ",") + n;
  });
  row.detected_by = detected.empty() ? "NOT DETECTED" : detected;
  const bool broken = w->net().state() == NetState::kBroken;
  w->net().poll_device();
  w->device().inject_rx(make_frame(80, 4));
  const bool works = w->receive().size() == 1;
  row.outcome = std::string(broken ? "queue broken -> reset -> " : "frame dropped -> ") +
                (works ? "traffic flows" : "traffic STOPPED");
  w->net().stop();
  row.pass = !detected.empty() && works && w->pool().all_returned();
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vnet-tour: the driver against the mock device, with a summary table"};
  uint32_t frames = 10000;
  app.add_option("--frames", frames, "frames each way per transport")
      ->check(CLI::Range(1u, 10'000'000u));
  CLI11_PARSE(app, argc, argv);

  std::printf("== Mock world: %u frames each way per transport, checked byte for byte\n\n", frames);
  std::printf("%-40s %8s %8s %10s %5s  %-6s %s\n", "transport", "tx", "rx", "frames/s", "viol",
              "result", "negotiated features");
  bool all = true;
  for (const auto& kind : testing::kAllKinds) {
    TrafficRow r = traffic(kind, frames);
    all = all && r.pass;
    double fps = r.seconds > 0 ? (r.tx + r.rx) / r.seconds : 0;
    std::printf("%-40s %8llu %8llu %10.3g %5llu  %-6s %s\n", r.transport.c_str(),
                static_cast<unsigned long long>(r.tx), static_cast<unsigned long long>(r.rx), fps,
                static_cast<unsigned long long>(r.violations), r.pass ? "PASS" : "FAIL",
                r.features.c_str());
  }

  std::printf("\n== Mock world: the device lies (modern transport)\n\n");
  std::printf("%-28s %-32s %-44s %s\n", "lie", "detected by", "outcome", "result");
  const struct {
    const char* name;
    mock::FaultKind kind;
    uint16_t queue;
  } lies[] = {
      {"rx used id out of range", mock::FaultKind::kUsedIdOutOfRange, 0},
      {"tx used id not in flight", mock::FaultKind::kUsedIdNotInFlight, 1},
      {"rx chain completed twice", mock::FaultKind::kUsedDoubleComplete, 0},
      {"rx used len above posted", mock::FaultKind::kUsedLenOver, 0},
      {"rx used len below header", mock::FaultKind::kUsedLenShort, 0},
      {"tx used index jump", mock::FaultKind::kUsedIdxJump, 1},
      {"rx header gso_type", mock::FaultKind::kRxGsoType, 0},
  };
  for (const auto& l : lies) {
    LieRow r = lie(l.name, l.kind, l.queue);
    all = all && r.pass;
    std::printf("%-28s %-32s %-44s %s\n", r.lie.c_str(), r.detected_by.c_str(), r.outcome.c_str(),
                r.pass ? "PASS" : "FAIL");
  }
  std::printf("\nmock world: %s\n", all ? "PASS" : "FAIL");
  return all ? 0 : 1;
}
