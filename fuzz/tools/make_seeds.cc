// vnet-fuzz-seeds: writes the seed corpora and the bug-class traces,
// reproducibly (same sources, same driver: same bytes).
//
//   vnet-fuzz-seeds --root <project root>
//
//   mock_device/scenarios/*.json  --> corpus/fuzz/fuzz_used_ring/scenario-<name>
//                                     corpus/fuzz/fuzz_rx/scenario-<name>
//                                     corpus/fuzz/fuzz_config/scenario-<name>
//        (each step becomes an op of the target's script, mock_script.h)
//   corpus/traces/mock/*.jsonl    --> corpus/fuzz/fuzz_boundary/trace-<name>
//   corpus/traces/qemu/*packed*   --> corpus/fuzz/fuzz_boundary/qemu-<name> (cut to max_len)
//        (calls become the op list, the trace's device answers -- register
//         reads, bar_info, fetches, frames -- become the value stream)
//                                 --> corpus/fuzz/fuzz_trace/<name>.jsonl
//                                     (the smaller traces, as they are)
//   transport features            --> corpus/fuzz/fuzz_config/feature-<name>
//        (ACCESS_PLATFORM, ORDER_PLATFORM offered: traffic, recover)
//   (written here)                --> corpus/fuzz/fuzz_packed_ring/echo-*, lie-*
//   (written here)                --> corpus/fuzz/fuzz_ctrl/cmd-*, lie-*, cfg-*
//   bug classes (bug_classes.h)   --> corpus/fuzz/<target>/bug-<name>
//                                     corpus/traces/bugs/<name>.jsonl
//        (the input, and its run recorded with crash-to-trace)
//   corpus/fuzz/fuzz_boundary/*   --> corpus/fuzz/fuzz_boundary_typed/flat-<name>
//        (the same device answers, each in its stream; --typed-only does
//         just this)
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "driver/spec/mmio_layout.h"
#include "driver/spec/virtio_constants.h"
#include "fuzz/harness/bug_classes.h"
#include "fuzz/harness/setups.h"
#include "fuzz/harness/typed_streams.h"
#include "fuzz/harness/world.h"
#include "mock_device/scenario/scenario.h"
#include "replay/trace.h"

namespace fs = std::filesystem;
using namespace vnet;
using namespace vnet::fuzz;

namespace {

void write_file(const fs::path& path, const void* data, size_t size) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) {
    std::cerr << "vnet-fuzz-seeds: cannot write " << path << "\n";
    exit(1);
  }
}

void clean(const fs::path& dir, const std::string& prefix) {
  if (!fs::exists(dir)) return;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind(prefix, 0) == 0) fs::remove(e.path());
}

uint8_t flavour_of(const scenario::Scenario& s) {
  switch (s.device.transport) {
    case mock::TransportKind::kLegacy:
      return 0;
    case mock::TransportKind::kModern:
      return 1;
    case mock::TransportKind::kTransitional:
      return s.mode == PciMode::kLegacy ? 3 : 2;
    case mock::TransportKind::kMmioV1:
    case mock::TransportKind::kMmioV2:
      break;  // fuzz_config only (mmio_bits_of)
  }
  return 1;
}

// fuzz_config's virtio-mmio choice (targets.cc): tx_cap bits 5-6 the
// version, notify_multiplier the window (bits 0-1 its kind, 2-7 a size,
// bit 31 no interrupt line).
void mmio_bits_of(const scenario::Scenario& s, ConfigPrefix* p) {
  if (!mock::is_mmio(s.device.transport)) return;
  p->tx_cap =
      static_cast<uint8_t>(15 | (s.device.transport == mock::TransportKind::kMmioV1 ? 1 : 2) << 5);
  const uint32_t size = s.device.mmio_window_size;
  uint32_t kind = 0, n = 0;
  if (size < spec::mmio::kConfig) {
    kind = 2;
    n = size;
  } else if (size < spec::mmio::kConfig + 64) {
    kind = 1;
    n = size - spec::mmio::kConfig;
  }
  p->notify_multiplier = kind | (n & 0x3F) << 2 | (s.device.interrupt_pin == 0 ? 1u << 31 : 0);
}

// The interrupt bits of fuzz_used_ring's and fuzz_rx's flavour (targets.cc,
// irq_choice): 1 INTx, 2 MSI-X, 3 MSI-X on a one-vector device.
uint8_t irq_bits_of(const scenario::Scenario& s) {
  switch (s.options.interrupts) {
    case InterruptMode::kIntx:
      return 1;
    case InterruptMode::kMsix:
      return s.device.msix_vectors == 1 ? 3 : 2;
    case InterruptMode::kPolling:
      break;
  }
  return 0;
}

bool has(OpTable t, Op op) {
  for (uint8_t i = 0; i < t.size; ++i)
    if (t.ops[i] == op) return true;
  return false;
}

void reg_lie(ScriptWriter& w, const mock::RegisterLie& lie) {
  w.op(Op::kRegLie)
      .u8(static_cast<uint8_t>(lie.region))
      .u16(static_cast<uint16_t>(lie.offset))
      .u8(lie.width == 4 ? 3 : lie.width)
      .u32(lie.value)
      .u8(static_cast<uint8_t>(lie.skip))
      .u8(static_cast<uint8_t>(lie.count));
}

// The steps of a scenario as ops of table (ops the table lacks are left out).
void steps(ScriptWriter& w, OpTable t, const scenario::Scenario& s) {
  // Lies armed before the probe: armed after the first attach, then the
  // driver probes and attaches again.
  if (has(t, Op::kRegLie) && !s.device_register_lies.empty()) {
    for (const mock::RegisterLie& lie : s.device_register_lies) reg_lie(w, lie);
    w.op(Op::kRestart);
  }
  for (const scenario::Step& st : s.steps) {
    switch (st.kind) {
      case scenario::StepKind::kRx:
        for (size_t i = 0; i < st.frames.size(); i += 16) {
          const size_t n = std::min<size_t>(16, st.frames.size() - i);
          if (has(t, Op::kRx))
            w.op(Op::kRx)
                .u8(static_cast<uint8_t>(n - 1))
                .u16(static_cast<uint16_t>(st.frames[i].size()));
        }
        break;
      case scenario::StepKind::kTx:
        for (size_t i = 0; i < st.frames.size(); i += 16) {
          const size_t n = std::min<size_t>(16, st.frames.size() - i);
          if (has(t, Op::kTx))
            w.op(Op::kTx)
                .u8(static_cast<uint8_t>(n - 1))
                .u16(static_cast<uint16_t>(st.frames[i].size()))
                .u8(static_cast<uint8_t>(i));
        }
        break;
      case scenario::StepKind::kLink:
        if (has(t, Op::kLink)) w.op(Op::kLink).u8(st.link ? 1 : 0);
        break;
      case scenario::StepKind::kDeviceReset:
        if (has(t, Op::kDevReset)) w.op(Op::kDevReset);
        break;
      case scenario::StepKind::kRecover:
        if (has(t, Op::kRecover)) w.op(Op::kRecover);
        break;
      case scenario::StepKind::kStop:
        if (has(t, Op::kRestart)) w.op(Op::kRestart);
        break;
      case scenario::StepKind::kPollDevice:
        for (uint32_t i = 0; i < std::min<uint32_t>(st.count, 4); ++i)
          if (has(t, Op::kPoll)) w.op(Op::kPoll);
        break;
      case scenario::StepKind::kRepublishUsed:
        if (has(t, Op::kRepublish)) w.op(Op::kRepublish).u8(static_cast<uint8_t>(st.queue & 1));
        break;
      case scenario::StepKind::kRegister:
        if (has(t, Op::kRegLie)) reg_lie(w, st.lie);
        break;
      case scenario::StepKind::kPump:
        if (has(t, Op::kRxBurst)) w.op(Op::kRxBurst).u8(64);
        if (has(t, Op::kTxReclaim)) w.op(Op::kTxReclaim);
        break;
      case scenario::StepKind::kFault: {
        const int idx = event_fault_index(st.fault.kind);
        if (idx >= 0 && has(t, Op::kFault)) {
          w.op(Op::kFault)
              .u8(static_cast<uint8_t>(idx))
              .u8(st.fault.queue < 0 ? 2 : static_cast<uint8_t>(st.fault.queue));
          w.u8(static_cast<uint8_t>(st.fault.skip))
              .u8(static_cast<uint8_t>(st.fault.count))
              .u32(static_cast<uint32_t>(st.fault.value));
        }
        if (has(t, Op::kRxRaw) && (st.fault.kind == mock::FaultKind::kRxNumBuffers ||
                                   st.fault.kind == mock::FaultKind::kRxGsoType ||
                                   st.fault.kind == mock::FaultKind::kRxFlags)) {
          uint8_t hdr[12] = {};
          hdr[10] = 1;
          if (st.fault.kind == mock::FaultKind::kRxNumBuffers)
            hdr[10] = static_cast<uint8_t>(st.fault.value);
          if (st.fault.kind == mock::FaultKind::kRxGsoType)
            hdr[1] = static_cast<uint8_t>(st.fault.value);
          if (st.fault.kind == mock::FaultKind::kRxFlags)
            hdr[0] = static_cast<uint8_t>(st.fault.value);
          w.op(Op::kRxRaw).raw(hdr, 12).u16(64).u8(1).u8(0).u16(0);
        }
        break;
      }
      default:
        break;
    }
  }
}

ConfigPrefix config_prefix(const scenario::Scenario& s) {
  ConfigPrefix p;
  p.flavour = flavour_of(s);
  // fuzz_config: flavour bit 6 interrupts, rx_cap bit 7 INTx rather than MSI-X.
  if (s.options.interrupts != InterruptMode::kPolling) p.flavour |= 0x40;
  p.features = s.device.features;
  for (int i = 0; i < 6; ++i) p.mac[i] = s.device.mac[i];
  p.status = s.device.status;
  p.max_pairs = s.device.max_virtqueue_pairs;
  p.mtu = s.device.mtu;
  for (int i = 0; i < 3; ++i) p.queue_sizes[i] = s.device.queue_sizes[i];
  p.notify_multiplier = s.device.notify_off_multiplier;
  p.modern_bar = static_cast<uint8_t>(s.device.transport == mock::TransportKind::kModern
                                          ? s.device.modern_bar
                                          : s.device.modern_bar - 1);
  for (const mock::Fault& f : s.device_faults) {
    if (p.num_faults == 4) break;
    for (uint8_t k = 0; k < sizeof kConfigStateFaults / sizeof kConfigStateFaults[0]; ++k)
      if (kConfigStateFaults[k] == f.kind) {
        p.fault_kind[p.num_faults] = k;
        p.fault_value[p.num_faults] = static_cast<uint16_t>(f.value);
        ++p.num_faults;
      }
  }
  for (const scenario::Step& st : s.steps)
    if (st.kind == scenario::StepKind::kFault && p.num_faults < 4)
      for (uint8_t k = 0; k < sizeof kConfigStateFaults / sizeof kConfigStateFaults[0]; ++k)
        if (kConfigStateFaults[k] == st.fault.kind) {
          p.fault_kind[p.num_faults] = k;
          p.fault_value[p.num_faults] = static_cast<uint16_t>(st.fault.value);
          ++p.num_faults;
        }
  p.rx_cap = s.options.interrupts == InterruptMode::kIntx ? 15 | 0x80 : 15;
  p.tx_cap = 15;
  mmio_bits_of(s, &p);
  return p;
}

void scenario_seeds(const fs::path& root) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(root / "mock_device/scenarios"))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const char* t : {"fuzz_used_ring", "fuzz_rx", "fuzz_config"})
    clean(root / "corpus/fuzz" / t, "scenario-");
  for (const fs::path& f : files) {
    const scenario::Scenario s = scenario::load_scenario_file(f.string());
    const std::string name = "scenario-" + f.stem().string();
    // fuzz_used_ring and fuzz_rx drive PCI devices only.
    if (!mock::is_mmio(s.device.transport)) {
      ScriptWriter w(kUsedRingTable);
      w.u8(static_cast<uint8_t>(flavour_of(s) | irq_bits_of(s) << 5)).u8(15).u8(15).u8(3);
      steps(w, kUsedRingTable, s);
      write_file(root / "corpus/fuzz/fuzz_used_ring" / name, w.bytes().data(), w.bytes().size());
    }
    if (!mock::is_mmio(s.device.transport)) {
      ScriptWriter w(kRxTable);
      w.u8(static_cast<uint8_t>(flavour_of(s) | irq_bits_of(s) << 5)).u8(15).u8(0);
      steps(w, kRxTable, s);
      write_file(root / "corpus/fuzz/fuzz_rx" / name, w.bytes().data(), w.bytes().size());
    }
    {
      ScriptWriter w(kConfigTable);
      write_config_prefix(w, config_prefix(s));
      steps(w, kConfigTable, s);
      write_file(root / "corpus/fuzz/fuzz_config" / name, w.bytes().data(), w.bytes().size());
    }
  }
  std::cout << files.size() << " scenarios -> fuzz_used_ring, fuzz_rx, fuzz_config seeds\n";
}

// A recorded trace as a fuzz_boundary input (see fuzz/targets/fuzz_boundary.cc).
std::vector<uint8_t> boundary_input(const replay::Trace& t) {
  std::vector<uint8_t> ops, values;
  uint8_t mode = 0, rx_cap = 15, tx_cap = 15, mmio_size = 0;
  auto put = [&](uint64_t v, unsigned n) {
    for (unsigned i = 0; i < n; ++i) values.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  for (const replay::Event& e : t.events) {
    switch (e.kind) {
      case replay::EventKind::kCall: {
        const replay::CallArgs& a = t.calls[e.u32];
        switch (a.fn) {
          case replay::ApiFn::kProbe:
            mode = static_cast<uint8_t>(a.mode);
            break;
          case replay::ApiFn::kProbeMmio:
            // targets.cc: mode bit 5, bits 6-7 the window's kind (0: QEMU's
            // 0x200 bytes; 1: 0x100 + tx_cap bits 4-7), bit 0 no line.
            mode = static_cast<uint8_t>(0x20 | (a.window.irq < 0 ? 1 : 0));
            if (a.window.size > spec::mmio::kConfig && a.window.size < spec::mmio::kConfig + 16) {
              mode |= 1 << 6;
              mmio_size = static_cast<uint8_t>(a.window.size - spec::mmio::kConfig);
            }
            break;
          case replay::ApiFn::kAttach:
            rx_cap = static_cast<uint8_t>((a.options.rx_ring_cap - 1) % 32 |
                                          (a.options.accept_ring_packed ? 0x80 : 0));
            tx_cap = static_cast<uint8_t>((a.options.tx_ring_cap - 1) % 16);
            break;
          case replay::ApiFn::kRxBurst:
            ops.push_back(a.max >= 1 && a.max <= 32 ? static_cast<uint8_t>((a.max - 1) << 3) : 7);
            break;
          case replay::ApiFn::kTxBurst:
            ops.push_back(static_cast<uint8_t>(1 | (((a.frames.size() + 7) % 8) << 3)));
            break;
          case replay::ApiFn::kTxReclaim:
            ops.push_back(2);
            break;
          case replay::ApiFn::kPollDevice:
            ops.push_back(3);
            break;
          case replay::ApiFn::kRecover:
            ops.push_back(4);
            break;
          case replay::ApiFn::kSetRxInterrupts:
            ops.push_back(static_cast<uint8_t>(5 | ((a.enabled ? 1 : 0) << 3)));
            break;
          case replay::ApiFn::kStop:
          // fuzz_boundary's script has no op for these (its interrupts
          // come from the input's bytes): left out of the seed.
          case replay::ApiFn::kSetTxInterrupts:
          case replay::ApiFn::kHandleInterrupt:
          // Nor for control commands (fuzz_ctrl's domain): a trace with
          // them gives a seed whose values run ahead of its script.
          case replay::ApiFn::kSetRxMode:
          case replay::ApiFn::kSetMacFilter:
          case replay::ApiFn::kSetMacAddress:
          case replay::ApiFn::kAddVlan:
          case replay::ApiFn::kRemoveVlan:
          case replay::ApiFn::kSetQueuePairs:
          case replay::ApiFn::kSetRss:
          case replay::ApiFn::kSetGuestOffloads:
            break;
        }
        break;
      }
      case replay::EventKind::kRegRead:
        put(e.u64, e.w8 > 4 ? 4 : e.w8);
        break;
      case replay::EventKind::kBarInfo: {
        unsigned k = 0;
        while (k < 63 && (uint64_t{1} << k) < e.u64) ++k;
        values.push_back(
            static_cast<uint8_t>((e.b8 ? 1 : 0) | (e.c8 ? 2 : 0) | (e.u64 == 0 ? 0 : k << 2)));
        break;
      }
      case replay::EventKind::kFetch:
        values.insert(values.end(), t.data(e.data), t.data(e.data) + e.data.len);
        break;
      case replay::EventKind::kFrame: {
        const uint32_t n = std::min<uint32_t>(255, (e.data.len + 7) / 8);
        values.push_back(static_cast<uint8_t>(n));
        for (uint32_t i = 0; i < n * 8; ++i)
          values.push_back(i < e.data.len ? t.data(e.data)[i] : 0);
        break;
      }
      case replay::EventKind::kWaitIrq:
        values.push_back(e.b8 ? 1 : 0);
        break;
      default:
        break;
    }
  }
  if (ops.size() > 64) ops.resize(64);
  std::vector<uint8_t> in = {mode, rx_cap, static_cast<uint8_t>(tx_cap | mmio_size << 4),
                             static_cast<uint8_t>(ops.size())};
  in.insert(in.end(), ops.begin(), ops.end());
  in.insert(in.end(), values.begin(), values.end());
  return in;
}

void trace_seeds(const fs::path& root) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(root / "corpus/traces/mock"))
    if (e.path().extension() == ".jsonl") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  clean(root / "corpus/fuzz/fuzz_boundary", "trace-");
  clean(root / "corpus/fuzz/fuzz_trace", "");
  size_t n = 0;
  for (const fs::path& f : files) {
    const replay::Trace t = replay::load_trace_file(f.string());
    const std::vector<uint8_t> in = boundary_input(t);
    write_file(root / "corpus/fuzz/fuzz_boundary" / ("trace-" + f.stem().string()), in.data(),
               in.size());
    // The trace target gets the traces small enough to mutate quickly.
    if (fs::file_size(f) <= 24 * 1024) {
      write_file(root / "corpus/fuzz/fuzz_trace" / f.filename(), t.text.data(), t.text.size());
      ++n;
    }
  }
  // The packed rings of the QEMU corpus (issue 14): what a real device
  // answered once the driver negotiated VIRTIO_F_RING_PACKED, cut to the
  // target's max_len (the ops and the answers of the first exchanges).
  clean(root / "corpus/fuzz/fuzz_boundary", "qemu-");
  size_t packed = 0;
  for (const auto& e : fs::directory_iterator(root / "corpus/traces/qemu")) {
    const fs::path& f = e.path();
    if (f.extension() != ".jsonl" || f.stem().string().find("packed") == std::string::npos)
      continue;
    std::vector<uint8_t> in = boundary_input(replay::load_trace_file(f.string()));
    if (in.size() > 16384) in.resize(16384);  // fuzz/options/fuzz_boundary.options
    write_file(root / "corpus/fuzz/fuzz_boundary" / ("qemu-" + f.stem().string()), in.data(),
               in.size());
    ++packed;
  }
  std::cout << files.size() << " traces -> fuzz_boundary seeds; " << n << " -> fuzz_trace seeds; "
            << packed << " packed QEMU traces -> fuzz_boundary seeds\n";
}

// Seeds for paths no scenario or trace starts on: the transport features
// of a confidential guest's host (fuzz_config; the fuzz mock shim maps
// through the device's IOMMU when ACCESS_PLATFORM is negotiated).
void feature_seeds(const fs::path& root) {
  clean(root / "corpus/fuzz/fuzz_config", "feature-");
  const uint64_t ap = spec::feature_mask(spec::Feature::kAccessPlatform);
  const uint64_t op = spec::feature_mask(spec::Feature::kOrderPlatform);
  struct Seed {
    const char* name;
    uint8_t flavour;
    uint64_t features;
  };
  const Seed seeds[] = {
      {"access_platform", 1, ap},
      {"order_platform", 1, op},
      {"access_order_platform", 1, ap | op},
      {"access_order_platform_transitional", 2, ap | op},
  };
  for (const Seed& sd : seeds) {
    ConfigPrefix p;
    p.flavour = sd.flavour;
    p.features |= sd.features;
    ScriptWriter w(kConfigTable);
    write_config_prefix(w, p);
    w.op(Op::kRx).u8(3).u16(590);
    w.op(Op::kTx).u8(3).u16(342).u8(1);
    w.op(Op::kTxReclaim).op(Op::kPoll);
    w.op(Op::kRecover);
    w.op(Op::kRx).u8(1).u16(1514);
    w.op(Op::kTx).u8(1).u16(1514).u8(2);
    write_file(root / "corpus/fuzz/fuzz_config" / (std::string("feature-") + sd.name),
               w.bytes().data(), w.bytes().size());
  }
  std::cout << sizeof seeds / sizeof seeds[0] << " feature seeds -> fuzz_config\n";
}

// Lies the hardening checks of the probe and attach exist for, each a
// seed, so that the fuzzers start next to them: FEATURES_OK read back clear
// (the n-th status read after arming), queue_notify_off far outside the
// notify window, a common configuration capability shorter than the
// structure, a device that rewrites a descriptor of the table it was given.
void lie_seeds(const fs::path& root) {
  clean(root / "corpus/fuzz/fuzz_config", "lie-");
  clean(root / "corpus/fuzz/fuzz_used_ring", "lie-");
  int n = 0;
  auto traffic = [](ScriptWriter& w) {
    w.op(Op::kRx).u8(3).u16(590);
    w.op(Op::kTx).u8(3).u16(342).u8(1);
    w.op(Op::kTxReclaim).op(Op::kPoll);
  };
  // A fuzz_config seed: the prefix, the lie (body), a restart so that the
  // next probe and attach meet it, then traffic.
  auto prefix_seed = [&](const std::string& name, const ConfigPrefix& p, auto&& body) {
    ScriptWriter w(kConfigTable);
    write_config_prefix(w, p);
    body(w);
    w.op(Op::kRestart);
    traffic(w);
    write_file(root / "corpus/fuzz/fuzz_config" / ("lie-" + name), w.bytes().data(),
               w.bytes().size());
    ++n;
  };
  auto config_seed = [&](const std::string& name, uint8_t flavour, auto&& body) {
    ConfigPrefix p;
    p.flavour = flavour;
    prefix_seed(name, p, body);
  };
  const uint8_t bar4 = static_cast<uint8_t>(Region::kBar4);
  for (uint8_t skip = 0; skip < 4; ++skip)
    config_seed("features_ok_refused_" + std::to_string(skip), 1, [&](ScriptWriter& w) {
      w.op(Op::kRegLie).u8(bar4).u16(0x14).u8(1).u32(0x03).u8(skip).u8(1);
    });
  // Two notification capabilities (as QEMU's modern-pio-notify): the
  // driver must take the first.
  config_seed("second_notify_cap_modern", 1 | 4, [](ScriptWriter&) {});
  config_seed("second_notify_cap_transitional", 2 | 4, [](ScriptWriter&) {});
  // Legacy BAR 0 with room for 0, 4, 6 and 8 bytes of device
  // configuration: the MAC (6) and the status (8) fit or do not.
  for (uint8_t b : {1, 3, 4, 5, 6})
    config_seed("legacy_bar0_config_" + std::to_string(2 * (b - 1)) + "_bytes",
                static_cast<uint8_t>(b << 3), [](ScriptWriter&) {});
  // MSI-X (flavour bit 6) with the config vector (common 0x10) or a queue
  // vector (0x1A) read back as NO_VECTOR: the driver must fall back.
  for (const uint16_t reg : {0x10, 0x1A})
    config_seed(std::string("msix_vector_refused_") + (reg == 0x10 ? "config" : "queue"), 1 | 0x40,
                [&](ScriptWriter& w) {
                  w.op(Op::kRegLie).u8(bar4).u16(reg).u8(2).u32(0xFFFF).u8(0).u8(0);
                });
  // MSI-X (flavour bit 6; the table in BAR 1) whose capability, read anew
  // at the next attach, puts the table over the common configuration of
  // BAR 4, or ends it above 4 GiB of a BAR 1 that claims 8 GiB: the driver
  // must refuse the table and take INTx.
  const uint32_t table_reg = mock::MockDevice::kMsixCap + 4;
  config_seed("msix_table_over_common", 1 | 0x40, [&](ScriptWriter& w) {
    w.op(Op::kRegLie)
        .u8(0)
        .u16(table_reg)
        .u8(3)
        .u32(mock::MockDevice::kCommonOffset | 4)
        .u8(0)
        .u8(0);
  });
  // The PBA past the end of BAR 1 (4 KiB), and an MSI-X enable bit that
  // reads back clear (message control at +2: table size 3, nothing set,
  // after the read that sized the table): MSI-X refused, INTx taken.
  config_seed("msix_pba_beyond_bar", 1 | 0x40, [&](ScriptWriter& w) {
    w.op(Op::kRegLie).u8(0).u16(table_reg + 4).u8(3).u32(0x1000u | 1).u8(0).u8(0);
  });
  config_seed("msix_enable_refused", 1 | 0x40, [&](ScriptWriter& w) {
    w.op(Op::kRegLie).u8(0).u16(mock::MockDevice::kMsixCap + 2).u8(2).u32(2).u8(1).u8(0);
  });
  config_seed("msix_table_above_4g", 1 | 0x40, [&](ScriptWriter& w) {
    w.op(Op::kRegLie).u8(0xC0 | 1).u16(0).u8(0x04 | 0x08 | 0x40).u32(33).u8(0).u8(0);
    w.op(Op::kRegLie).u8(0).u16(table_reg).u8(3).u32(0xFFFFFFF0u | 1).u8(0).u8(0);
  });
  // virtio-mmio (tx_cap bits 5-6: the version; notify_multiplier: the
  // window) whose lies a probe or attach check exists for.
  auto mmio_seed = [&](const std::string& name, unsigned version, uint32_t window,
                       uint64_t features, auto&& body) {
    ConfigPrefix p;
    p.flavour = 1;
    p.tx_cap = static_cast<uint8_t>(15 | version << 5);
    p.notify_multiplier = window;
    p.features = features;
    prefix_seed(name, p, body);
  };
  const uint64_t offer = ConfigPrefix{}.features;
  const uint64_t mtu = spec::feature_mask(spec::Feature::kNetMtu);
  for (unsigned v : {1u, 2u}) {
    const std::string ver = v == 1 ? "v1" : "v2";
    // A window of 4 GiB + 0x100 (kind 3): the configuration window is
    // capped at 64 KiB, never wrapped to 0.
    mmio_seed("mmio_" + ver + "_window_4g", v, 3, offer, [](ScriptWriter&) {});
    // Eight bytes of configuration (kind 1, n = 8: MAC and status), an
    // offer without MTU at the probe and with it at attach (the probe's
    // two reads of DeviceFeatures, version 1's one, pass): the MTU field
    // lies past the window, the configuration cannot be read as offered.
    const uint8_t probe_reads = v == 1 ? 1 : 2;
    // QueueNumMax 256 when queue_max_size asks, 8 when setup asks again
    // (below the 16 entries the rx cap wants): the queue must be refused.
    mmio_seed("mmio_" + ver + "_queue_num_max_shrinks", v, 0, offer, [&](ScriptWriter& w) {
      w.op(Op::kRegLie).u8(7).u16(spec::mmio::kQueueNumMax).u8(3).u32(8).u8(1).u8(1);
    });
    mmio_seed("mmio_" + ver + "_offer_grows_past_window", v, 1 | 8 << 2, offer & ~mtu,
              [&](ScriptWriter& w) {
                w.op(Op::kRegLie)
                    .u8(7)
                    .u16(spec::mmio::kDeviceFeatures)
                    .u8(3)
                    .u32(static_cast<uint32_t>((offer & ~mtu) | mtu))
                    .u8(probe_reads)
                    .u8(1);
              });
  }
  config_seed("notify_off_outside_window", 1, [&](ScriptWriter& w) {
    w.op(Op::kRegLie).u8(bar4).u16(0x1E).u8(2).u32(0xFFFF).u8(0).u8(0);
  });
  config_seed("config_mtu_changes_between_reads", 1, [&](ScriptWriter& w) {
    w.op(Op::kRegLie).u8(bar4).u16(0x2000 + 10).u8(2).u32(9000).u8(1).u8(1);
  });
  // The mock's common configuration capability is the first, at 0x40: its
  // length (le32 at +12) becomes 0x30, eight bytes short of the structure.
  config_seed("common_cap_short", 1, [&](ScriptWriter& w) {
    w.op(Op::kPciPatch).u8(0x4C).u8(0x30);
    w.op(Op::kPciPatch).u8(0x4D).u8(0x00);
  });
  for (uint8_t field = 0; field < 4; ++field) {
    ScriptWriter w(kUsedRingTable);
    w.u8(1).u8(15).u8(15).u8(3);
    w.op(Op::kRx).u8(3).u16(200);
    w.op(Op::kDescEdit).u8(0).u16(field).u8(field).u32(field == 3 ? 1 : 0x1000);
    w.op(Op::kDescEdit).u8(1).u16(0).u8(field).u32(field == 3 ? 1 : 0x1000);
    w.op(Op::kRx).u8(7).u16(300);
    w.op(Op::kTx).u8(7).u16(342).u8(1);
    w.op(Op::kProcessTx).u8(16).op(Op::kTxReclaim);
    w.op(Op::kRx).u8(15).u16(400);
    w.op(Op::kTx).u8(15).u16(342).u8(2);
    write_file(root / "corpus/fuzz/fuzz_used_ring" / ("lie-desc_edit_" + std::to_string(field)),
               w.bytes().data(), w.bytes().size());
    ++n;
  }
  // Legacy without ANY_LAYOUT (fuzz_config, which chooses the offer):
  // header and frame in two descriptors, so a chain has a next link the
  // device can rewrite while it owns the chain.
  for (uint8_t q = 0; q < 2; ++q) {
    ConfigPrefix p;
    p.flavour = 0;
    p.features &= ~spec::feature_mask(spec::Feature::kAnyLayout);
    ScriptWriter w(kConfigTable);
    write_config_prefix(w, p);
    w.op(Op::kRx).u8(3).u16(200);
    w.op(Op::kTx).u8(3).u16(342).u8(1);
    for (uint16_t d = 0; d < 16; d += 2) w.op(Op::kDescEdit).u8(q).u16(d).u8(3).u32(d + 5u);
    w.op(Op::kRx).u8(15).u16(300);
    w.op(Op::kTxReclaim).op(Op::kPoll);
    w.op(Op::kTx).u8(15).u16(342).u8(2);
    w.op(Op::kRx).u8(15).u16(400);
    w.op(Op::kTx).u8(15).u16(342).u8(3);
    write_file(root / "corpus/fuzz/fuzz_config" /
                   ("lie-desc_next_legacy_" + std::string(q == 0 ? "rx" : "tx")),
               w.bytes().data(), w.bytes().size());
    ++n;
  }
  // A device that never stops interrupting: MSI-X (flavour bits 5-6 = 2),
  // a storm guard of kFuzzStormLimit (bit 2), and a dozen interrupts on the
  // rx vector (rx_irq bit 2, vector 1) with little else between them.
  {
    ScriptWriter w(kUsedRingTable);
    w.u8(1 | 4 | (2 << 5)).u8(15).u8(15).u8(3);
    w.op(Op::kRx).u8(3).u16(200);
    for (int i = 0; i < 12; ++i) w.op(Op::kRxIrq).u8(1 | 4 | (2 << 3));
    w.op(Op::kRx).u8(3).u16(300);
    write_file(root / "corpus/fuzz/fuzz_used_ring" / "lie-irq_storm", w.bytes().data(),
               w.bytes().size());
    ++n;
  }
  // Spurious line interrupts (rx_irq bit 2, line): under INTx with the
  // ISR reading 0 (another function's: not ours), and under MSI-X (the
  // line is not the device's then).
  for (const uint8_t irq : {1, 2}) {
    ScriptWriter w(kUsedRingTable);
    w.u8(static_cast<uint8_t>(1 | irq << 5)).u8(15).u8(15).u8(3);
    w.op(Op::kRx).u8(3).u16(200);
    for (int i = 0; i < 3; ++i) w.op(Op::kRxIrq).u8(1 | 4);
    w.op(Op::kRx).u8(3).u16(300);
    write_file(root / "corpus/fuzz/fuzz_used_ring" /
                   (irq == 1 ? "lie-irq_line_not_ours" : "lie-irq_line_under_msix"),
               w.bytes().data(), w.bytes().size());
    ++n;
  }
  // More completions pending than one run of used elements holds (32): 48
  // frames arrive before the driver harvests, on a 64-entry rx ring.
  {
    ScriptWriter w(kUsedRingTable);
    w.u8(1).u8(63).u8(15).u8(3);
    w.op(Op::kRx).u8(47).u16(100);
    w.op(Op::kRx).u8(63).u16(200);
    write_file(root / "corpus/fuzz/fuzz_used_ring" / "lie-many_completions", w.bytes().data(),
               w.bytes().size());
    ++n;
  }
  std::cout << n << " lie seeds -> fuzz_config, fuzz_used_ring\n";
}

// fuzz_packed_ring: traffic on every flavour (interrupt modes, EVENT_IDX
// masked, the device polling, a queue of odd maximum size), then one seed
// per lie about a used descriptor and per device event mode, each followed
// by traffic so that the driver's handling (break, reset, recover) runs.
void packed_seeds(const fs::path& root) {
  const fs::path dir = root / "corpus/fuzz/fuzz_packed_ring";
  fs::create_directories(dir);
  clean(dir, "echo-");
  clean(dir, "lie-");
  int n = 0;
  auto traffic = [](ScriptWriter& w) {
    w.op(Op::kRx).u8(3).u16(64);
    w.op(Op::kTx).u8(2).u16(100).u8(1);
    w.op(Op::kTxReclaim);
    w.op(Op::kRx).u8(20).u16(300);  // laps of an 8-entry ring
    w.op(Op::kTx).u8(9).u16(60).u8(2);
    w.op(Op::kPoll);
    w.op(Op::kRx).u8(1).u16(1500);
  };
  struct Echo {
    const char* name;
    uint8_t flavour, qsize;
  };
  static constexpr Echo kEchoes[] = {
      {"modern", 0, 2},         {"transitional", 1, 2},    {"mmio_v2", 2, 2},
      {"modern_msix", 0x40, 2}, {"modern_intx", 0x20, 2},  {"mmio_v2_line", 0x22, 2},
      {"no_event_idx", 8, 2},   {"device_polls", 0x90, 2}, {"odd_max_size", 0, 0x80 | 50},
      {"ring_of_2", 0, 0},      {"ring_of_256", 0x40, 7},
  };
  // Receive chains over the packed ring (tx_cap bit 5): jumbo frames of
  // two and three buffers, on a ring of 8 and one of 64.
  for (uint8_t q : {uint8_t{2}, uint8_t{5}}) {
    ScriptWriter w(kPackedRingTable);
    w.u8(0).u8(31).u8(7 | 0x20).u8(q);
    w.op(Op::kRx).u8(3).u16(3000);
    w.op(Op::kRx).u8(2).u16(4000);
    w.op(Op::kRx).u8(4).u16(100);
    w.op(Op::kDevReset);
    w.op(Op::kRx).u8(2).u16(2500);
    write_file(dir / (std::string("echo-chains_q") + std::to_string(q)), w.bytes().data(),
               w.bytes().size());
    ++n;
  }
  for (const Echo& e : kEchoes) {
    ScriptWriter w(kPackedRingTable);
    w.u8(e.flavour).u8(7).u8(7).u8(e.qsize);
    traffic(w);
    if (e.flavour & 0x80) w.op(Op::kProcessTx).u8(16).op(Op::kTxReclaim);
    w.op(Op::kDevReset);
    traffic(w);
    write_file(dir / (std::string("echo-") + e.name), w.bytes().data(), w.bytes().size());
    ++n;
  }
  struct Lie {
    const char* name;
    Op op;
    std::vector<uint8_t> args;  // after the op byte
  };
  const std::vector<Lie> lies = {
      {"used_id_range_rx", Op::kUsedEdit, {0, uint8_t(UsedEditKind::kSetId), 0x40, 0, 0, 0}},
      {"used_id_range_tx", Op::kUsedEdit, {1, uint8_t(UsedEditKind::kSetId), 0xFF, 0xFF, 0, 0}},
      {"used_id_stale_rx", Op::kUsedEdit, {0, uint8_t(UsedEditKind::kAddId), 1, 0, 0, 0}},
      {"used_len_over_rx", Op::kUsedEdit, {0, uint8_t(UsedEditKind::kAddLen), 0, 0x10, 0, 0}},
      {"used_len_over_tx", Op::kUsedEdit, {1, uint8_t(UsedEditKind::kSetLen), 0, 0, 1, 0}},
      {"used_position_skips", Op::kUsedEdit, {0, uint8_t(UsedEditKind::kSkipIdx), 1, 0, 0, 0}},
      {"used_position_back", Op::kUsedEdit, {1, uint8_t(UsedEditKind::kBackIdx), 1, 0, 0, 0}},
      {"flags_stale_wrap_rx", Op::kFlagsEdit, {0, 2, 0, 0}},
      {"flags_stale_wrap_tx", Op::kFlagsEdit, {1, 2, 0, 0}},
      {"flags_still_available", Op::kFlagsEdit, {0, 3, 0, 0}},
      {"flags_avail_not_used", Op::kFlagsEdit, {0, 1, 0x00, 0x80}},
      {"flags_zero", Op::kFlagsEdit, {1, 0, 0, 0}},
      {"republish_tx", Op::kRepublish, {1}},
      {"device_event_disable_tx", Op::kDeviceEvent, {1, 1, 0, 0}},
      {"device_event_desc_tx", Op::kDeviceEvent, {1, 2, 0, 0}},
      {"device_event_desc_far", Op::kDeviceEvent, {1, 0x82, 5, 0x80}},
      {"device_event_desc_other_lap", Op::kDeviceEvent, {1, 0x82, 0, 0}},
  };
  for (const Lie& l : lies) {
    ScriptWriter w(kPackedRingTable);
    w.u8(0x40).u8(7).u8(7).u8(2);  // modern, MSI-X, 8-entry rings
    w.op(Op::kRx).u8(3).u16(64);
    w.op(Op::kTx).u8(1).u16(100).u8(1);
    w.op(l.op).raw(l.args.data(), l.args.size());
    traffic(w);
    w.op(Op::kPoll);
    traffic(w);
    write_file(dir / (std::string("lie-") + l.name), w.bytes().data(), w.bytes().size());
    ++n;
  }
  // Indirect descriptors (qsize bit 3) with scatter-gather frames (tx seed
  // bits 5-7: 2..7 fragments), and a lie on top.
  for (const uint8_t frags : {2, 4, 7}) {
    ScriptWriter w(kPackedRingTable);
    w.u8(0x40).u8(7).u8(7).u8(0x08 | 3);  // MSI-X, 16-entry rings, indirect
    w.op(Op::kRx).u8(3).u16(64);
    w.op(Op::kTx).u8(5).u16(1400).u8(static_cast<uint8_t>(frags << 5));
    w.op(Op::kTxReclaim);
    w.op(Op::kUsedEdit).u8(1).u8(uint8_t(UsedEditKind::kAddLen)).u32(1);
    w.op(Op::kTx).u8(3).u16(200).u8(static_cast<uint8_t>(frags << 5 | 1));
    w.op(Op::kPoll);
    traffic(w);
    write_file(dir / ("echo-indirect_frags_" + std::to_string(frags)), w.bytes().data(),
               w.bytes().size());
    ++n;
  }
  // IN_ORDER (qsize bit 4): batches of 4 under one used descriptor, honest
  // and with lies about the batch's id and position.
  struct InOrder {
    const char* name;
    int lie;  // -1 none, else a UsedEditKind on tx
    uint32_t value;
  };
  static constexpr InOrder kInOrder[] = {
      {"in_order", -1, 0},
      {"in_order_batch_id_ahead", int(UsedEditKind::kAddId), 2},
      {"in_order_batch_id_range", int(UsedEditKind::kSetId), 0x300},
      {"in_order_position_skips", int(UsedEditKind::kSkipIdx), 1},
      {"in_order_batch_len", int(UsedEditKind::kAddLen), 7},
  };
  for (const InOrder& e : kInOrder) {
    ScriptWriter w(kPackedRingTable);
    w.u8(0x80).u8(7).u8(15).u8(0x10 | 3);  // deferred tx, 16-entry rings, IN_ORDER
    w.op(Op::kRx).u8(3).u16(64);
    w.op(Op::kTx).u8(8).u16(300).u8(1);
    w.op(Op::kProcessTx).u8(16).op(Op::kTxReclaim);
    if (e.lie >= 0) w.op(Op::kUsedEdit).u8(1).u8(static_cast<uint8_t>(e.lie)).u32(e.value);
    w.op(Op::kTx).u8(9).u16(100).u8(2);
    w.op(Op::kProcessTx).u8(16).op(Op::kTxReclaim).op(Op::kPoll);
    w.op(Op::kTx).u8(5).u16(1400).u8(3);
    w.op(Op::kProcessTx).u8(16).op(Op::kTxReclaim);
    write_file(dir / (std::string("echo-") + e.name), w.bytes().data(), w.bytes().size());
    ++n;
  }
  std::cout << n << " seeds -> fuzz_packed_ring\n";

  // fuzz_used_ring (split): IN_ORDER with tx batches of 4 (flavour bit 3)
  // and indirect descriptors (bit 4), honest and with lies about the batch.
  const fs::path used = root / "corpus/fuzz/fuzz_used_ring";
  clean(used, "feature-");
  int m = 0;
  struct Split {
    const char* name;
    uint8_t flavour;
    uint8_t tx_seed;
    int lie;  // -1 none, else a UsedEditKind on tx
    uint32_t value;
  };
  static constexpr Split kSplit[] = {
      {"in_order", 1 | 8, 0, -1, 0},
      {"in_order_batch_names_unposted", 1 | 8, 0, int(UsedEditKind::kAddId), 3},
      {"in_order_batch_id_back", 1 | 8, 0, int(UsedEditKind::kSetId), 0},
      {"in_order_index_skips", 1 | 8, 0, int(UsedEditKind::kSkipIdx), 2},
      {"indirect_frags_3", 1 | 0x10, 3 << 5, -1, 0},
      {"indirect_frags_7_len_over", 1 | 0x10, 7 << 5, int(UsedEditKind::kAddLen), 9},
      {"direct_frags_4", 1, 4 << 5, -1, 0},
      {"direct_frags_7_dropped", 1, 7 << 5, -1, 0},
      {"in_order_indirect_legacy", 0 | 8 | 0x10, 2 << 5, -1, 0},
  };
  for (const Split& e : kSplit) {
    ScriptWriter w(kUsedRingTable);
    w.u8(static_cast<uint8_t>(e.flavour | 0x80)).u8(15).u8(15).u8(1);  // deferred tx, 16 entries
    w.op(Op::kRx).u8(3).u16(64);
    w.op(Op::kTx).u8(6).u16(300).u8(e.tx_seed);
    w.op(Op::kProcessTx).u8(16).op(Op::kTxReclaim);
    if (e.lie >= 0) w.op(Op::kUsedEdit).u8(1).u8(static_cast<uint8_t>(e.lie)).u32(e.value);
    w.op(Op::kTx).u8(9).u16(100).u8(static_cast<uint8_t>(e.tx_seed | 1));
    w.op(Op::kProcessTx).u8(16).op(Op::kTxReclaim).op(Op::kPoll);
    w.op(Op::kTx).u8(4).u16(1400).u8(static_cast<uint8_t>(e.tx_seed | 2));
    w.op(Op::kProcessTx).u8(16).op(Op::kTxReclaim);
    write_file(used / (std::string("feature-") + e.name), w.bytes().data(), w.bytes().size());
    ++m;
  }
  std::cout << m << " IN_ORDER / indirect seeds -> fuzz_used_ring\n";
}

// The caller's and the platform's side, so that the paths behind them are
// reached from the start: DMA memory that runs out (rings, then mappings),
// a caller that masks VERSION_1 or gives a fallback MAC for a device whose
// MAC is zero, and a caller that attaches again while the device still holds
// quarantined buffers.
// fuzz_rx (issue 16): offloaded frames the rules accept -- TCP over IPv4
// and IPv6, UDP (USO), a VLAN tag, ECN, partial and verified checksums,
// coalesced frames over several mergeable buffers, jumbo frames -- each
// then with one header field (or the frame, or a buffer's used.len) made
// to lie, so that the fuzzer starts past the first check of each rule.
void offload_seeds(const fs::path& root) {
  const fs::path dir = root / "corpus/fuzz/fuzz_rx";
  clean(dir, "offload-");
  int n = 0;
  struct Hdr {
    uint8_t flags = 1, gso = 1;
    uint16_t hdr_len = 54, gso_size = 1448, start = 34, offset = 16, num_buffers = 1;
  };
  auto put_hdr = [](ScriptWriter& w, const Hdr& h) {
    w.u8(h.flags)
        .u8(h.gso)
        .u16(h.hdr_len)
        .u16(h.gso_size)
        .u16(h.start)
        .u16(h.offset)
        .u16(h.num_buffers);
  };
  // rx_l4: hdr, kind, payload, poke_at, poke, len_mode, len_value.
  auto l4 = [&](ScriptWriter& w, const Hdr& h, uint8_t kind, uint16_t payload, uint8_t poke_at = 0,
                uint8_t poke = 0, uint8_t len_mode = 0, uint16_t len_value = 0) {
    w.op(Op::kRxL4);
    put_hdr(w, h);
    w.u8(kind).u16(payload).u8(poke_at).u8(poke).u8(len_mode).u16(len_value);
  };
  struct Good {
    const char* name;
    uint8_t kind;
    Hdr hdr;
  };
  Hdr tcp4, tcp6, udp4, udp6, vlan4, ecn4;
  tcp6.gso = 4, tcp6.start = 54, tcp6.hdr_len = 74, tcp6.gso_size = 1428;
  udp4.gso = 5, udp4.offset = 6, udp4.hdr_len = 42, udp4.gso_size = 1400;
  udp6.gso = 5, udp6.start = 54, udp6.offset = 6, udp6.hdr_len = 62, udp6.gso_size = 1400;
  vlan4.start = 38, vlan4.hdr_len = 58;
  ecn4.gso = 0x81;
  const Good goods[] = {{"tcp4", 0, tcp4}, {"tcp6", 1, tcp6},  {"udp4", 2, udp4},
                        {"udp6", 3, udp6}, {"vlan", 4, vlan4}, {"ecn", 8, ecn4}};
  auto seed = [&](const std::string& name, uint8_t features, uint8_t flavour,
                  const std::function<void(ScriptWriter&)>& body) {
    ScriptWriter w(kRxTable);
    w.u8(flavour).u8(31).u8(features);
    body(w);
    write_file(dir / ("offload-" + name), w.bytes().data(), w.bytes().size());
    ++n;
  };
  for (const Good& g : goods) {
    // Valid: one frame in a buffer, then one of three buffers (coalesced).
    seed(g.name, 4, 1, [&](ScriptWriter& w) {
      l4(w, g.hdr, g.kind, 1000);
      l4(w, g.hdr, g.kind, 5000);
    });
    // Each field lying, between two good frames.
    struct Lie {
      const char* name;
      void (*apply)(Hdr&);
    };
    const Lie lies[] = {
        {"flags_rsc", [](Hdr& h) { h.flags |= 4; }},
        {"flags_undefined", [](Hdr& h) { h.flags |= 0x40; }},
        {"gso_undefined", [](Hdr& h) { h.gso = 2; }},
        {"gso_ufo", [](Hdr& h) { h.gso = 3; }},
        {"gso_ecn_udp", [](Hdr& h) { h.gso |= 0x80; }},
        {"no_needs_csum", [](Hdr& h) { h.flags = 2; }},
        {"csum_start_beyond", [](Hdr& h) { h.start = 0xFFF0; }},
        {"csum_offset_beyond", [](Hdr& h) { h.offset = 0xFFF0; }},
        {"csum_start_not_l4", [](Hdr& h) { h.start = static_cast<uint16_t>(h.start - 4); }},
        {"csum_offset_not_l4", [](Hdr& h) { h.offset = h.offset == 16 ? 6 : 16; }},
        {"hdr_len_beyond", [](Hdr& h) { h.hdr_len = 0xFFFF; }},
        {"gso_size_zero", [](Hdr& h) { h.gso_size = 0; }},
        {"gso_size_beyond_mtu", [](Hdr& h) { h.gso_size = 1500; }},
        {"gso_wrong_ip", [](Hdr& h) { h.gso = h.gso == 1   ? 4
                                              : h.gso == 4 ? 1
                                                           : h.gso; }},
        {"gso_wrong_l4", [](Hdr& h) { h.gso = h.gso == 5 ? 1 : 5; }},
    };
    for (const Lie& l : lies) {
      Hdr bad = g.hdr;
      l.apply(bad);
      seed(std::string(g.name) + "-" + l.name, 4, 1, [&](ScriptWriter& w) {
        l4(w, g.hdr, g.kind, 1000);
        l4(w, bad, g.kind, 5000);
        l4(w, g.hdr, g.kind, 1000);
      });
    }
    // The frame not what the header says: IP version byte, a fragment,
    // the L4 protocol, a TCP data offset below 5.
    const uint32_t l3 = (g.kind & 4) ? 18 : 14, ip = (g.kind & 1) ? 40 : 20;
    struct Poke {
      const char* name;
      uint32_t at;
      uint8_t x;
    };
    const Poke pokes[] = {{"frame_ip_version", l3, 0x30},
                          {"frame_fragment", l3 + 6, 0x20},
                          {"frame_l4_proto", l3 + ((g.kind & 1) ? 6u : 9u), 0x01},
                          {"frame_tcp_doff", l3 + ip + 12, 0x40}};
    for (const Poke& p : pokes)
      seed(std::string(g.name) + "-" + p.name, 4, 1, [&](ScriptWriter& w) {
        l4(w, g.hdr, g.kind, 5000, static_cast<uint8_t>(p.at), p.x);
        l4(w, g.hdr, g.kind, 1000);
      });
    // num_buffers lying (len_mode bit 2: the input's count is written):
    // zero, more than posted, one while three are used.
    for (uint16_t nb : {uint16_t{0}, uint16_t{0x40}, uint16_t{1}, uint16_t{2}}) {
      Hdr h = g.hdr;
      h.num_buffers = nb;
      seed(std::string(g.name) + "-num_buffers_" + std::to_string(nb), 4, 1, [&](ScriptWriter& w) {
        l4(w, h, g.kind, 5000, 0, 0, 4);
        l4(w, g.hdr, g.kind, 1000);
      });
    }
    // A further buffer's used.len: zero, above the buffer (the second used
    // entry of a three-buffer frame rewritten).
    // fault: kind (kEventFaults index: 3 used.len over, 4 short) queue 0,
    // skip 1 (the frame's second used entry), count 1, value.
    for (uint8_t kind : {uint8_t{3}, uint8_t{4}}) {
      seed(std::string(g.name) + (kind == 4 ? "-chain_len_short" : "-chain_len_over"), 4, 1,
           [&](ScriptWriter& w) {
             w.op(Op::kFault).u8(kind).u8(0).u8(1).u8(1).u32(kind == 4 ? 0xFFFF : 4096);
             l4(w, g.hdr, g.kind, 5000);
             l4(w, g.hdr, g.kind, 1000);
           });
    }
  }
  // Transmit: tx_l4 kind payload req start offset gso_size poke_at poke.
  // req bits 0-1 csum (1 partial), 2-3 gso (1 tcp4, 2 tcp6, 3 udp), 4 ecn,
  // 5 two buffers.
  auto tx = [](ScriptWriter& w, uint8_t kind, uint16_t payload, uint8_t req, uint16_t start,
               uint16_t offset, uint16_t gso_size, uint8_t poke_at = 0, uint8_t poke = 0) {
    w.op(Op::kTxL4).u8(kind).u16(payload).u8(req).u16(start).u16(offset).u16(gso_size);
    w.u8(poke_at).u8(poke);
  };
  struct TxGood {
    const char* name;
    uint8_t kind, gso;
    uint16_t start, offset;
  };
  const TxGood txs[] = {{"tcp4", 0, 1, 34, 16},
                        {"tcp6", 1, 2, 54, 16},
                        {"udp4", 2, 3, 34, 6},
                        {"udp6", 3, 3, 54, 6},
                        {"vlan", 4, 1, 38, 16},
                        {"cwr", 8, 1, 34, 16},
                        {"two_buffers", 0, 1 | 8, 34, 16}};
  for (const TxGood& t : txs) {
    const uint8_t gso = t.gso & 3, two = (t.gso & 8) ? 0x20 : 0;
    const uint8_t req = static_cast<uint8_t>(1 | gso << 2 | two);
    seed("tx-" + std::string(t.name), 4, 1, [&](ScriptWriter& w) {
      tx(w, t.kind, 1800, 1 | two, t.start, t.offset, 0);  // checksum only
      tx(w, t.kind, 1800, req, t.start, t.offset, 500);    // segmented
      w.op(Op::kPoll);
    });
    struct TxLie {
      const char* name;
      uint8_t req;
      uint16_t start, offset, gso_size;
      uint8_t poke_at, poke;
    };
    const uint32_t l3 = (t.kind & 4) ? 18 : 14;
    const TxLie lies[] = {
        {"csum_beyond", 1, 0xFFF0, t.offset, 0, 0, 0},
        {"csum_verified", 2, t.start, t.offset, 0, 0, 0},
        {"gso_without_csum", static_cast<uint8_t>(gso << 2), t.start, t.offset, 500, 0, 0},
        {"gso_size_zero", req, t.start, t.offset, 0, 0, 0},
        {"gso_size_beyond_mtu", req, t.start, t.offset, 1500, 0, 0},
        {"gso_start_not_l4", req, static_cast<uint16_t>(t.start + 2), t.offset, 500, 0, 0},
        {"gso_offset_not_l4", req, t.start, static_cast<uint16_t>(t.offset == 16 ? 6 : 16), 500, 0,
         0},
        {"gso_wrong_kind", static_cast<uint8_t>(1 | ((gso == 1 ? 2 : 1) << 2)), t.start, t.offset,
         500, 0, 0},
        {"ecn_on_udp", static_cast<uint8_t>(req | 0x10), t.start, t.offset, 500, 0, 0},
        {"frame_not_ip", req, t.start, t.offset, 500, static_cast<uint8_t>(l3 - 2), 0x01},
        {"frame_ip_version", req, t.start, t.offset, 500, static_cast<uint8_t>(l3), 0x30},
        {"frame_cwr", req, t.start, t.offset, 500,
         static_cast<uint8_t>(l3 + ((t.kind & 1) ? 40 : 20) + 13), 0x80},
    };
    for (const TxLie& l : lies)
      seed("tx-" + std::string(t.name) + "-" + l.name, 4, 1, [&](ScriptWriter& w) {
        tx(w, t.kind, 1800, l.req, l.start, l.offset, l.gso_size, l.poke_at, l.poke);
        tx(w, t.kind, 1800, req, t.start, t.offset, 500);
        w.op(Op::kPoll);
      });
  }
  // The claimed L4 protocol with its own checksum offset on a frame of the
  // other: only the protocol check tells them apart (rx and tx).
  {
    Hdr h = udp4;  // a UDP frame claimed TCPV4, offset 16
    h.gso = 1, h.offset = 16;
    seed("udp4-claimed_tcp4", 4, 1, [&](ScriptWriter& w) {
      l4(w, h, 2, 5000);
      l4(w, udp4, 2, 1000);
    });
    Hdr t = tcp4;  // a TCP frame claimed UDP_L4, offset 6
    t.gso = 5, t.offset = 6;
    seed("tcp4-claimed_udp", 4, 1, [&](ScriptWriter& w) {
      l4(w, t, 0, 5000);
      l4(w, tcp4, 0, 1000);
    });
    seed("tx-udp4-claimed_tcp4", 4, 1, [&](ScriptWriter& w) {
      tx(w, 2, 1800, 1 | 1 << 2, 34, 16, 500);
      tx(w, 0, 1800, 1 | 1 << 2, 34, 16, 500);
    });
    seed("tx-tcp4-claimed_udp", 4, 1, [&](ScriptWriter& w) {
      tx(w, 0, 1800, 1 | 3 << 2, 34, 6, 500);
      tx(w, 2, 1800, 1 | 3 << 2, 34, 6, 500);
    });
  }
  // A partial offer (features bit 7: no GUEST_ECN, HOST_ECN, GUEST_USO4):
  // an ECN bit, CWR to segment, USO over IPv4 -- each meets its missing
  // feature.
  seed("partial_offer-ecn", 4 | 0x80, 1, [&](ScriptWriter& w) {
    l4(w, ecn4, 8, 5000);
    l4(w, tcp4, 0, 1000);
  });
  seed("partial_offer-uso4", 4 | 0x80, 1, [&](ScriptWriter& w) {
    l4(w, udp4, 2, 5000);
    l4(w, udp6, 3, 5000);
  });
  seed("tx-partial_offer-cwr", 4 | 0x80, 1, [&](ScriptWriter& w) {
    tx(w, 8, 1800, 1 | 1 << 2, 34, 16, 500);
    tx(w, 0, 1800, 1 | 1 << 2, 34, 16, 500);
  });
  // A chain above 64 KiB: 64 buffers posted, num_buffers 40 on a frame
  // that fills 33 (the next frame's buffers taken in), each buffer's
  // used.len honest.
  {
    Hdr h = tcp4;
    h.num_buffers = 40;
    ScriptWriter w(kRxTable);
    w.u8(1).u8(63).u8(4);
    l4(w, h, 0, 62000, 0, 0, 4);
    l4(w, tcp4, 0, 20000);
    l4(w, tcp4, 0, 1000);
    write_file(dir / "offload-chain_above_64k", w.bytes().data(), w.bytes().size());
    ++n;
  }
  // Offloads asked for while none was negotiated.
  seed("tx-not_negotiated", 0, 1, [&](ScriptWriter& w) {
    tx(w, 0, 1000, 1, 34, 16, 0);
    tx(w, 0, 1000, 1 | 4, 34, 16, 500);
  });

  // Plain frames with checksum results: partial (NEEDS_CSUM), verified
  // (DATA_VALID), and both without GUEST_CSUM.
  Hdr partial;
  partial.gso = 0, partial.gso_size = 0;
  Hdr valid;
  valid.flags = 2, valid.gso = 0, valid.gso_size = 0, valid.start = 0, valid.offset = 0;
  seed("csum_partial", 4 | 16, 1, [&](ScriptWriter& w) {
    l4(w, partial, 0, 200);
    Hdr beyond = partial;
    beyond.start = 300;
    l4(w, beyond, 0, 200);
  });
  seed("csum_verified", 4 | 16 | 32, 1, [&](ScriptWriter& w) { l4(w, valid, 0, 200); });
  seed("csum_partial_device_mode", 4 | 64, 1,
       [&](ScriptWriter& w) { w.op(Op::kRx).u8(4).u16(1200); });
  seed("csum_without_guest_csum", 0, 1, [&](ScriptWriter& w) {
    l4(w, partial, 0, 200);
    l4(w, valid, 0, 200);
  });
  seed("gso_without_guest_tso", 4 | 16, 1, [&](ScriptWriter& w) { l4(w, tcp4, 0, 5000); });
  // Jumbo frames over mergeable buffers (receive chains, a 9000-byte MTU).
  seed("jumbo", 8, 1, [&](ScriptWriter& w) {
    w.op(Op::kRx).u8(4).u16(4000);
    w.op(Op::kRx).u8(2).u16(1000);
  });
  // A transitional device driven through its legacy interface.
  seed("legacy-tcp4", 4, 3, [&](ScriptWriter& w) {
    l4(w, tcp4, 0, 5000);
    l4(w, tcp6, 1, 5000);
  });
  std::cout << n << " offload seeds -> fuzz_rx\n";
}

// fuzz_ctrl: every command on every device kind and ring kind, each lie of
// the control queue, and each control-plane configuration lie.
void ctrl_seeds(const fs::path& root) {
  const fs::path dir = root / "corpus/fuzz/fuzz_ctrl";
  fs::create_directories(dir);
  clean(dir, "cmd-");
  clean(dir, "lie-");
  clean(dir, "cfg-");
  int n = 0;
  struct Prefix {
    uint8_t flavour = 0x30;  // modern, RSS and HASH_REPORT accepted, 4 pairs
    uint16_t withdraw = 0;
    uint16_t pairs = 4;
    uint8_t key = 40;
    uint16_t table = 128;
    uint16_t types = 0x1FF;
  };
  auto begin = [](ScriptWriter& w, const Prefix& p) {
    w.u8(p.flavour).u16(p.withdraw).u16(p.pairs).u8(p.key).u16(p.table).u16(p.types);
  };
  auto commands = [](ScriptWriter& w) {
    w.op(Op::kCtrl).u8(0).u8(0).u8(1);                             // promiscuous on
    w.op(Op::kCtrl).u8(0).u8(2).u8(1);                             // all-unicast on
    w.op(Op::kCtrl).u8(1).u8(2).u8(1).u8(0x20).u8(0x22).u8(0x33);  // MAC filter
    w.op(Op::kCtrl).u8(2).u8(0x06);                                // MAC address
    w.op(Op::kCtrl).u8(3).u16(100);                                // VLAN 100 added
    w.op(Op::kRxFlows).u8(8).u8(1);
    w.op(Op::kCtrl).u8(5).u8(2);  // two pairs
    w.op(Op::kTxPair).u8(1).u8(4);
    w.op(Op::kCtrl).u8(6).u16(0x3F).u8(3).u8(0).u8(1).u8(0).u8(40);  // RSS, 8 entries on 2 pairs
    w.op(Op::kRxFlows).u8(16).u8(9);
    w.op(Op::kCtrl).u8(4).u16(100);  // VLAN 100 removed
    w.op(Op::kCtrl).u8(7);           // announce
    w.op(Op::kDevReset);             // re-attach: the state restored
    w.op(Op::kRxFlows).u8(8).u8(3);
  };
  struct Kind {
    const char* name;
    uint8_t flavour;
  };
  static constexpr Kind kKinds[] = {
      {"modern", 0x30}, {"transitional", 0x31}, {"mmio_v2", 0x32},
      {"legacy", 0x33}, {"packed", 0x34},       {"one_pair", 0x70},
      {"no_rss", 0x00}, {"no_event_idx", 0x38}, {"device_polls", 0xB0},
  };
  for (const Kind& k : kKinds) {
    ScriptWriter w(kCtrlTable);
    Prefix p;
    p.flavour = k.flavour;
    begin(w, p);
    commands(w);
    write_file(dir / (std::string("cmd-") + k.name), w.bytes().data(), w.bytes().size());
    ++n;
  }
  // CTRL_GUEST_OFFLOADS (issue 16; withdraw bit 9: the offloads offered
  // and accepted): valid sets, each rule broken, a lie, and the restore
  // after a reset.
  {
    clean(dir, "offloads-");
    struct Set {
      const char* name;
      uint8_t bits;  // ctrl_script.h: 0 CSUM, 1 TSO4, 2 TSO6, 3 ECN, 4 UFO, 5 USO4, 6 USO6, 7 HOST
    };
    static constexpr Set kSets[] = {
        {"none", 0x00},
        {"csum", 0x01},
        {"tso4", 0x03},
        {"all_negotiated", 0x6F},
        {"ufo", 0x11},
        {"tso_without_csum", 0x02},
        {"ecn_without_tso4", 0x09},
        {"host_bit", 0x81},
        {"uso6_only", 0x41},
    };
    for (const Set& set : kSets) {
      ScriptWriter w(kCtrlTable);
      Prefix p;
      p.withdraw = 1u << 9;
      begin(w, p);
      w.op(Op::kCtrl).u8(8).u8(set.bits);
      w.op(Op::kRxFlows).u8(4).u8(1);
      w.op(Op::kDevReset);  // re-attach: what was chosen is sent again
      w.op(Op::kRxFlows).u8(4).u8(2);
      w.op(Op::kCtrl).u8(8).u8(0x6F);
      write_file(dir / (std::string("offloads-") + set.name), w.bytes().data(), w.bytes().size());
      ++n;
    }
    ScriptWriter w(kCtrlTable);
    Prefix p;
    p.withdraw = 1u << 9;
    begin(w, p);
    w.op(Op::kCtrlFault).u8(2).u8(2);
    w.op(Op::kCtrl).u8(8).u8(0x01);  // lied to: ack 2
    w.op(Op::kPoll);
    w.op(Op::kCtrl).u8(8).u8(0x03);
    write_file(dir / "offloads-lie_ack", w.bytes().data(), w.bytes().size());
    ++n;
    ScriptWriter v(kCtrlTable);
    Prefix q;
    q.withdraw = 1u << 9 | 1u;  // offloads, but no CTRL_VQ
    begin(v, q);
    v.op(Op::kCtrl).u8(8).u8(0x01);
    write_file(dir / "offloads-no_ctrl_vq", v.bytes().data(), v.bytes().size());
    ++n;
  }
  // Each lie of the control queue, on a command and on the restore after
  // the reset it causes.
  struct Lie {
    const char* name;
    uint8_t kind, value;
  };
  static constexpr Lie kLies[] = {
      {"no_completion", 0, 0}, {"ack_unwritten", 1, 0}, {"ack_2", 2, 2},
      {"ack_ff", 2, 0xFF},     {"ack_ok_forced", 2, 0}, {"used_len_0", 3, 0},
      {"used_len_2", 3, 2},    {"used_id_other", 4, 0}, {"used_id_unknown", 5, 3},
  };
  for (const Lie& l : kLies) {
    for (int packed = 0; packed < 2; ++packed) {
      ScriptWriter w(kCtrlTable);
      Prefix p;
      p.flavour = packed ? 0x34 : 0x30;
      begin(w, p);
      w.op(Op::kCtrlFault).u8(l.kind).u8(l.value);
      w.op(Op::kCtrl).u8(0).u8(0).u8(1);  // promiscuous on, lied to
      w.op(Op::kPoll);                    // the device is reset and comes back
      w.op(Op::kCtrlFault).u8(l.kind).u8(l.value);
      w.op(Op::kCtrl).u8(5).u8(3);  // three pairs, lied to
      w.op(Op::kPoll);
      w.op(Op::kRxFlows).u8(4).u8(7);
      w.op(Op::kCtrlFault).u8(l.kind).u8(l.value);
      w.op(Op::kCtrl).u8(7);  // announce, lied to
      w.op(Op::kPoll);
      write_file(dir / (std::string("lie-") + l.name + (packed ? "-packed" : "")), w.bytes().data(),
                 w.bytes().size());
      ++n;
    }
  }
  // The configuration lies (5.1.4), each then used.
  struct Cfg {
    const char* name;
    uint16_t withdraw, pairs;
    uint8_t key;
    uint16_t table, types;
  };
  static constexpr Cfg kCfgs[] = {
      {"pairs_0", 0, 0, 40, 128, 0x1FF},
      {"pairs_8001", 0, 0x8001, 40, 128, 0x1FF},
      {"pairs_ffff", 0, 0xFFFF, 40, 128, 0x1FF},
      {"pairs_8000", 0, 0x8000, 40, 128, 0x1FF},
      {"pairs_20", 0, 20, 40, 128, 0x1FF},
      {"key_39", 0, 4, 39, 128, 0x1FF},
      {"key_41", 0, 4, 41, 128, 0x1FF},
      {"key_255", 0, 4, 255, 128, 0x1FF},
      {"table_0", 0, 4, 40, 0, 0x1FF},
      {"table_100", 0, 4, 40, 100, 0x1FF},
      {"table_ffff", 0, 4, 40, 0xFFFF, 0x1FF},
      {"no_hash_types", 0, 4, 40, 128, 0},
      {"mq_without_ctrl_vq", 1, 4, 40, 128, 0x1FF},
      {"rx_without_ctrl_vq", 1, 1, 40, 128, 0x1FF},
      {"no_ctrl_rx", 2, 4, 40, 128, 0x1FF},
      {"no_announce", 0x10, 4, 40, 128, 0x1FF},
      {"no_rx_extra", 8, 4, 40, 128, 0x1FF},
      {"no_vlan", 4, 4, 40, 128, 0x1FF},
      {"no_mac_addr", 0x40, 4, 40, 128, 0x1FF},
      {"no_mq", 0x20, 4, 40, 128, 0x1FF},
  };
  for (const Cfg& c : kCfgs) {
    ScriptWriter w(kCtrlTable);
    Prefix p;
    p.withdraw = c.withdraw;
    p.pairs = c.pairs;
    p.key = c.key;
    p.table = c.table;
    p.types = c.types;
    begin(w, p);
    commands(w);
    // Arguments at and beyond the limits.
    w.op(Op::kCtrl).u8(6).u16(0x1FF).u8(0x80 | 100).u8(0).u8(1).u8(0).u8(41);
    w.op(Op::kCtrl).u8(6).u16(0x3F).u8(7).u8(0).u8(1).u8(0).u8(40);
    w.op(Op::kCtrl).u8(1).u8(70).u8(0);
    for (int i = 0; i < 70; ++i) w.u8(static_cast<uint8_t>(2 * i));
    w.op(Op::kCtrl).u8(3).u16(4096);
    w.op(Op::kCtrl).u8(5).u8(7);
    write_file(dir / (std::string("cfg-") + c.name), w.bytes().data(), w.bytes().size());
    ++n;
  }
  std::cout << n << " seeds -> fuzz_ctrl\n";
}

void platform_seeds(const fs::path& root) {
  clean(root / "corpus/fuzz/fuzz_config", "platform-");
  int n = 0;
  auto seed = [&](const std::string& name, const ConfigPrefix& p, auto&& body) {
    ScriptWriter w(kConfigTable);
    write_config_prefix(w, p);
    body(w);
    w.op(Op::kRx).u8(3).u16(590);
    w.op(Op::kTx).u8(3).u16(342).u8(1);
    w.op(Op::kTxReclaim).op(Op::kPoll);
    write_file(root / "corpus/fuzz/fuzz_config" / ("platform-" + name), w.bytes().data(),
               w.bytes().size());
    ++n;
  };
  const ConfigPrefix modern;
  for (uint8_t alloc : {uint8_t{0}, uint8_t{1}})
    seed("dma_alloc_budget_" + std::to_string(alloc), modern,
         [&](ScriptWriter& w) { w.op(Op::kPlatformBudget).u8(alloc).u8(255).op(Op::kRestart); });
  seed("dma_map_budget_3", modern, [&](ScriptWriter& w) {
    w.op(Op::kPlatformBudget).u8(255).u8(3).op(Op::kRestart);
    w.op(Op::kTx).u8(7).u16(342).u8(2);
  });
  seed("mask_version_1", modern, [&](ScriptWriter& w) {
    w.op(Op::kOptions).u64(uint64_t{1} << 32).raw("\0\0\0\0\0\0", 6).op(Op::kRestart);
  });
  ConfigPrefix zero_mac;
  for (uint8_t& b : zero_mac.mac) b = 0;
  seed("fallback_mac", zero_mac, [&](ScriptWriter& w) {
    const uint8_t mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
    w.op(Op::kOptions).u64(0).raw(mac, 6).op(Op::kRestart);
  });
  ConfigPrefix slow_reset;
  slow_reset.num_faults = 1;
  slow_reset.fault_kind[0] =
      static_cast<uint8_t>(config_fault_index(mock::FaultKind::kResetLatency));
  slow_reset.fault_value[0] = 65535;
  seed("attach_while_quarantined", slow_reset,
       [&](ScriptWriter& w) { w.op(Op::kRestart).op(Op::kRestart); });
  ConfigPrefix slow_reset_legacy = slow_reset;
  slow_reset_legacy.flavour = 0;
  seed("attach_while_quarantined_legacy", slow_reset_legacy,
       [&](ScriptWriter& w) { w.op(Op::kRestart).op(Op::kRestart); });
  std::cout << n << " platform seeds -> fuzz_config\n";
}

void bug_seeds(const fs::path& root) {
  clean(root / "corpus/traces/bugs", "");
  for (const BugClass& b : bug_classes()) {
    write_file(root / "corpus/fuzz" / b.target / (std::string("bug-") + b.name), b.input.data(),
               b.input.size());
    const fs::path trace = root / "corpus/traces/bugs" / (std::string(b.name) + ".jsonl");
    fs::create_directories(trace.parent_path());
    setenv("VNET_FUZZ_TRACE", trace.c_str(), 1);
    b.run(b.input.data(), b.input.size());
    unsetenv("VNET_FUZZ_TRACE");
    const std::string problem = b.check(World::get().net());
    if (!problem.empty()) {
      std::cerr << "vnet-fuzz-seeds: bug class " << b.name << ": " << problem << "\n";
      exit(1);
    }
  }
  std::cout << bug_classes().size() << " bug classes -> corpus/traces/bugs and bug- seeds\n";
}

// fuzz_boundary_typed: every fuzz_boundary corpus input (trace seeds,
// bug seeds, regressions, merged finds) converted to the typed form by
// running it once and recording which stream each answer came from; the
// converted input is run too, and must give the same answers.
void typed_seeds(const fs::path& root) {
  const fs::path from = root / "corpus/fuzz/fuzz_boundary";
  const fs::path to = root / "corpus/fuzz/fuzz_boundary_typed";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(from))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  clean(to, "flat-");
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::vector<uint8_t> flat((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
    uint64_t want = 0;
    const std::vector<uint8_t> typed = typed_from_flat(flat.data(), flat.size(), &want);
    run_fuzz_boundary_typed(typed.data(), typed.size());
    if (typed_answer_digest() != want) {
      std::cerr << "vnet-fuzz-seeds: " << f.filename() << ": the typed form answers differently\n";
      exit(1);
    }
    write_file(to / ("flat-" + f.filename().string()), typed.data(), typed.size());
  }
  std::cout << files.size() << " fuzz_boundary inputs -> fuzz_boundary_typed seeds\n";
}

}  // namespace

int main(int argc, char** argv) {
  const bool typed_only = argc == 4 && std::string(argv[3]) == "--typed-only";
  if ((argc != 3 && !typed_only) || std::string(argv[1]) != "--root") {
    std::cerr << "usage: vnet-fuzz-seeds --root <project root> [--typed-only]\n";
    return 2;
  }
  const fs::path root = argv[2];
  try {
    if (typed_only) {
      typed_seeds(root);
      return 0;
    }
    scenario_seeds(root);
    trace_seeds(root);
    feature_seeds(root);
    lie_seeds(root);
    packed_seeds(root);
    ctrl_seeds(root);
    offload_seeds(root);
    platform_seeds(root);
    bug_seeds(root);
    typed_seeds(root);
  } catch (const std::exception& e) {
    std::cerr << "vnet-fuzz-seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
