// vnet-vhost: the driver as a vhost-user front end, attached to a back
// end's socket (DPDK's testpmd with a net_vhost port, or any other), in
// one of four modes:
//
//   fwd    receive, rewrite the MAC addresses (--fwd mac | macswap | io),
//          send the same buffers back: testpmd's forwarding modes
//   gen    send stamped frames (traffic.h) of --size bytes, --frames of them
//          or for --seconds
//   sink   receive and count; with --verify check every stamped frame byte
//          for byte, and with --expect N succeed once N distinct good ones
//          arrived
//   echo   fwd with macswap
//
// Every second it prints the rates; at the end the totals and every nonzero
// driver counter (--json FILE: the same, machine-readable). --record FILE
// records the run as a trace (docs/vhost-user.md) that vnet-replay replays
// on the host.
//
// Exit status: 0 success; 1 the run failed (attach, a verification, too
// few frames); 2 bad options.
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "driver/spec/mmio_layout.h"
#include "driver/spec/virtio_constants.h"
#include "replay/record/recorder.h"
#include "replay/record/session.h"
#include "replay/record/trace_events.h"
#include "replay/record/trace_writer.h"
#include "tools/vnet-vhost/traffic.h"
#include "vhost/vhost_user_port.h"

namespace {

using vnet::PacketBuffer;
using namespace vnet::vhost_tool;
namespace spec = vnet::spec;

volatile sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

bool parse_mac(const std::string& s, uint8_t out[6]) {
  unsigned v[6];
  if (sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
    return false;
  for (int i = 0; i < 6; ++i) {
    if (v[i] > 255) return false;
    out[i] = static_cast<uint8_t>(v[i]);
  }
  return true;
}

std::string features_text(uint64_t f) {
  std::string s;
  for (const auto& info : spec::kFeatureTable)
    if (spec::has_feature(f, info.bit)) s += (s.empty() ? "" : ",") + std::string(info.name);
  return s;
}

struct Options {
  std::string socket, mode = "fwd", fwd = "mac", record, json;
  uint32_t size = 64, max_size = 0;
  uint16_t burst = 32, frags = 1;
  uint64_t pps = 0;
  uint32_t idle_sleep_us = 0;
  uint32_t max_frame = 1514;
  double seconds = 0;
  uint64_t frames = 0, expect = 0;
  uint16_t queues = 1, ring = 1024;
  bool packed = false, in_order = false, indirect = false, no_mrg = false, no_event_idx = false;
  bool verify = false, quiet = false;
  std::string mac = "02:00:00:76:6e:01", peer = "02:00:00:76:6e:02";
  std::vector<std::string> expect_features;
  size_t pool_buffers = 0;
};

struct Totals {
  uint64_t rx = 0, tx = 0, tx_refused = 0, good = 0, bad_size = 0, bad_bytes = 0, foreign = 0;
  uint64_t distinct = 0;
  static constexpr uint16_t kPairs = 8;
  uint64_t pair_rx[kPairs] = {};
};

class Runner {
 public:
  Runner(const Options& o, vnet::vhost::VhostUserPort& port) : o_(o), port_(port) {
    parse_mac(o.mac, mac_);
    parse_mac(o.peer, peer_);
    if (o.expect != 0) seen_.assign(o.expect, 0);
    // Decided once: the loop below runs millions of times a second.
    gen_ = o.mode == "gen";
    forwarding_ = o.mode == "fwd" || o.mode == "echo";
    fwd_mac_ = o.mode == "fwd" && o.fwd == "mac";
    fwd_swap_ = o.mode == "echo" || o.fwd == "macswap";
  }

  // The data-path loop; returns when done (frames, seconds, signal).
  void run() {
    vnet::VirtioNet& net = port_.net();
    const uint16_t pairs = net.queue_pairs();
    const uint64_t start = now_ns();
    gen_start_ = start;
    const uint64_t end = o_.seconds > 0 ? start + static_cast<uint64_t>(o_.seconds * 1e9) : 0;
    uint64_t next_report = start + 1000000000u, last_rx = 0, last_tx = 0, last_t = start;
    uint64_t gen_done_at = 0;
    std::vector<PacketBuffer*> burst(o_.burst);
    for (uint64_t iter = 0; !g_stop; ++iter) {
      const uint64_t moved = t_.rx + t_.tx;
      for (uint16_t p = 0; p < pairs; ++p) {
        if (gen_) {
          if (o_.frames == 0 || t_.tx < o_.frames) generate(p, burst.data());
        }
        const uint16_t n = net.rx_burst(p, burst.data(), o_.burst);
        if (n == 0) {
          if (gen_) net.tx_reclaim(p);
          continue;
        }
        t_.rx += n;
        if (p < Totals::kPairs) t_.pair_rx[p] += n;
        if (forwarding_) {
          forward(p, burst.data(), n);
        } else {
          for (uint16_t i = 0; i < n; ++i) {
            if (o_.verify) verify(burst[i]);
            free_chain(burst[i]);
          }
        }
      }
      if (o_.idle_sleep_us != 0 && t_.rx + t_.tx == moved) {
        // Nothing moved: give the core away for a moment (tests that run
        // several pollers on few cores; never in a race).
        const timespec ts{0, static_cast<long>(o_.idle_sleep_us) * 1000};
        nanosleep(&ts, nullptr);
      } else if ((iter & 63) != 0) {
        continue;  // the clock is read every 64 busy rounds
      }
      const uint64_t t = now_ns();
      if (t >= next_report) {
        // Once a second: is the back end still there? (The driver sees a
        // hang-up as DEVICE_NEEDS_RESET only when it reads the status.)
        if (!port_.front_end().channel().check_peer()) {
          back_end_gone_ = true;
          break;
        }
        if (!o_.quiet) {
          const double dt = static_cast<double>(t - last_t) / 1e9;
          printf("[%5.1f s] rx %.3f Mpps  tx %.3f Mpps  rx total %llu  tx total %llu\n",
                 static_cast<double>(t - start) / 1e9,
                 static_cast<double>(t_.rx - last_rx) / dt / 1e6,
                 static_cast<double>(t_.tx - last_tx) / dt / 1e6,
                 static_cast<unsigned long long>(t_.rx), static_cast<unsigned long long>(t_.tx));
          fflush(stdout);
        }
        last_rx = t_.rx, last_tx = t_.tx, last_t = t;
        next_report += 1000000000u;
      }
      if (end != 0 && t >= end) break;
      if (o_.expect != 0 && t_.distinct >= o_.expect) break;
      if (gen_ && o_.frames != 0 && t_.tx >= o_.frames) {
        // Let the last frames complete, then stop.
        if (gen_done_at == 0) gen_done_at = t;
        if (t - gen_done_at > 200000000u) break;
      }
    }
    elapsed_ns_ = now_ns() - start;
  }

  const Totals& totals() const { return t_; }
  bool back_end_gone() const { return back_end_gone_; }
  uint64_t elapsed_ns() const { return elapsed_ns_; }

 private:
  void free_chain(PacketBuffer* b) {
    while (b != nullptr) {
      PacketBuffer* next = b->next;
      b->next = nullptr;
      port_.pool().free(b);
      b = next;
    }
  }

  // The size of frame seq: --size, or spread over [--size, --max-size].
  uint32_t frame_size(uint64_t seq) const {
    if (o_.max_size <= o_.size) return o_.size;
    return o_.size + static_cast<uint32_t>((seq * 7919) % (o_.max_size - o_.size + 1));
  }

  void generate(uint16_t pair, PacketBuffer** burst) {
    uint16_t want = o_.burst;
    if (o_.pps != 0) {  // pacing: no further ahead than the rate allows
      const uint64_t allowed = (now_ns() - gen_start_) * o_.pps / 1000000000u + 1;
      if (t_.tx >= allowed) return;
      if (allowed - t_.tx < want) want = static_cast<uint16_t>(allowed - t_.tx);
    }
    uint16_t n = 0;
    uint8_t frame[1514];
    for (; n < want; ++n) {
      if (o_.frames != 0 && t_.tx + n >= o_.frames) break;
      const uint32_t size = frame_size(seq_ + n);
      build_frame(frame, size, seq_ + n, pair, peer_, mac_);
      // --frags: the frame in that many buffers (tx scatter-gather).
      PacketBuffer* head = nullptr;
      PacketBuffer** link = &head;
      uint32_t done = 0;
      bool ok = true;
      for (uint16_t f = 0; f < o_.frags && ok; ++f) {
        PacketBuffer* b = port_.pool().alloc();
        if (b == nullptr) {
          ok = false;
          break;
        }
        const uint32_t len = f + 1 == o_.frags ? size - done : size / o_.frags;
        b->offset = f == 0 ? vnet::kTxHeadroom : 0;
        b->len = len;
        b->offload = vnet::PacketOffload{};
        b->next = nullptr;
        memcpy(b->base + b->offset, frame + done, len);
        done += len;
        *link = b;
        link = &b->next;
      }
      if (!ok) {
        free_chain(head);
        break;
      }
      burst[n] = head;
    }
    const uint16_t taken = port_.net().tx_burst(pair, burst, n);
    for (uint16_t i = taken; i < n; ++i) free_chain(burst[i]);
    seq_ += taken;
    t_.tx += taken;
  }

  void forward(uint16_t pair, PacketBuffer** burst, uint16_t n) {
    for (uint16_t i = 0; i < n; ++i) {
      uint8_t* f = burst[i]->base + burst[i]->offset;
      burst[i]->offload = vnet::PacketOffload{};
      if (fwd_mac_) {
        memcpy(f, peer_, 6);
        memcpy(f + 6, mac_, 6);
      } else if (fwd_swap_) {
        uint8_t tmp[6];
        memcpy(tmp, f, 6);
        memcpy(f, f + 6, 6);
        memcpy(f + 6, tmp, 6);
      }
    }
    const uint16_t taken = port_.net().tx_burst(pair, burst, n);
    t_.tx += taken;
    t_.tx_refused += n - taken;
    for (uint16_t i = taken; i < n; ++i) free_chain(burst[i]);
  }

  void verify(const PacketBuffer* b) {
    if (b->next != nullptr) {
      ++t_.bad_size;  // the tool never sends frames that need a chain
      return;
    }
    uint64_t seq = 0;
    switch (check_frame(b->base + b->offset, b->len, &seq)) {
      case FrameCheck::kOk:
        ++t_.good;
        if (seq < seen_.size() && !seen_[seq]) {
          seen_[seq] = 1;
          ++t_.distinct;
        } else if (seen_.empty()) {
          ++t_.distinct;
        }
        break;
      case FrameCheck::kForeign:
        ++t_.foreign;
        break;
      case FrameCheck::kBadSize:
        ++t_.bad_size;
        break;
      case FrameCheck::kBadBytes:
        ++t_.bad_bytes;
        break;
    }
  }

  const Options& o_;
  vnet::vhost::VhostUserPort& port_;
  uint8_t mac_[6] = {}, peer_[6] = {};
  bool gen_ = false, forwarding_ = false, fwd_mac_ = false, fwd_swap_ = false;
  uint64_t seq_ = 0;
  uint64_t gen_start_ = 0;
  Totals t_;
  std::vector<uint8_t> seen_;
  uint64_t elapsed_ns_ = 0;
  bool back_end_gone_ = false;
};

vnet::NetOptions net_options(const Options& o) {
  vnet::NetOptions n;
  n.max_frame = o.max_frame;
  // No MTU feature from a vhost-user back end: the MTU assumed is the one
  // that frame size implies.
  n.fallback_mtu = static_cast<uint16_t>(o.max_frame - 14);
  n.rx_ring_cap = o.ring;
  n.tx_ring_cap = o.ring;
  n.accept_ring_packed = o.packed;
  n.accept_in_order = o.in_order;
  n.accept_indirect_desc = o.indirect;
  n.accept_access_platform = false;
  if (o.queues > 1) {
    n.accept_ctrl_vq = true;
    n.max_queue_pairs = o.queues;
  }
  if (o.no_mrg) n.feature_mask &= ~spec::feature_mask(spec::Feature::kNetMrgRxbuf);
  if (o.no_event_idx) n.feature_mask &= ~spec::feature_mask(spec::Feature::kEventIdx);
  return n;
}

// ---- --record: the same run through a trace::Session -----------------------

void append(void* ctx, const char* data, size_t len) {
  static_cast<std::ofstream*>(ctx)->write(data, static_cast<std::streamsize>(len));
}

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// A recorded run: gen sends --frames stamped frames, sink and fwd receive
// (fwd sends each frame back). The trace is written to body (events) and
// the header last, then joined, as vnet-record-mock does.
int record(const Options& o, vnet::vhost::VhostUserPort& port) {
  const std::string body_path = o.record + ".body";
  std::ofstream body(body_path, std::ios::binary);
  if (!body) {
    std::cerr << "vnet-vhost: cannot write " << body_path << "\n";
    return 1;
  }
  namespace trace = vnet::trace;
  trace::TraceWriter writer(trace::ByteSink{append, &body});
  trace::RecordingPlatform rec(port.platform(), writer);
  auto rec_pool = std::make_unique<trace::RecordingPool>(port.pool(), writer);
  trace::TraceTap tap(writer);
  auto session = std::make_unique<trace::Session>(rec, *rec_pool, &tap);
  if (session->probe_mmio(vnet::vhost::vhost_mmio_window()) != vnet::MmioProbeError::kOk) {
    std::cerr << "vnet-vhost: probe failed\n";
    return 1;
  }
  const vnet::AttachError e = session->attach(net_options(o));
  if (e != vnet::AttachError::kOk) {
    std::cerr << "vnet-vhost: attach failed: " << vnet::attach_error_name(e) << " "
              << port.device().error() << "\n";
    return 1;
  }
  std::cout << "attached: recording to " << o.record << ", features "
            << features_text(session->net().negotiated_features()) << std::endl;
  uint8_t mac[6], peer[6];
  parse_mac(o.mac, mac);
  parse_mac(o.peer, peer);
  const uint64_t frames = o.frames != 0 ? o.frames : 64;
  uint64_t sent = 0, received = 0, seq = 0;
  const uint64_t deadline = now_ns() + static_cast<uint64_t>((o.seconds > 0 ? o.seconds : 5) * 1e9);
  std::vector<std::vector<uint8_t>> out;
  struct Ctx {
    std::vector<std::vector<uint8_t>>* out;
    bool keep;
  } ctx{&out, o.mode == "fwd" || o.mode == "echo"};
  while (!g_stop && now_ns() < deadline) {
    if (o.mode == "gen" && sent < frames) {
      std::vector<std::vector<uint8_t>> f;
      std::vector<trace::TxFrame> tx;
      const uint64_t n = std::min<uint64_t>(o.burst, frames - sent);
      for (uint64_t i = 0; i < n; ++i) {
        f.emplace_back(o.size);
        build_frame(f.back().data(), o.size, seq++, 0, peer, mac);
      }
      for (auto& x : f) tx.push_back(trace::TxFrame{x.data(), static_cast<uint32_t>(x.size())});
      const uint16_t taken = session->tx_burst(tx.data(), static_cast<uint16_t>(tx.size()));
      sent += taken;
      seq -= n - taken;
    }
    out.clear();
    const uint16_t n = session->rx_burst(
        o.burst,
        [](void* c, const uint8_t* frame, uint32_t len) {
          auto* x = static_cast<Ctx*>(c);
          if (x->keep) x->out->emplace_back(frame, frame + len);
        },
        &ctx);
    received += n;
    if (!out.empty()) {
      std::vector<trace::TxFrame> tx;
      for (auto& x : out) {
        if (x.size() >= 12) {
          std::swap_ranges(x.begin(), x.begin() + 6, x.begin() + 6);
        }
        tx.push_back(trace::TxFrame{x.data(), static_cast<uint32_t>(x.size())});
      }
      sent += session->tx_burst(tx.data(), static_cast<uint16_t>(tx.size()));
    }
    session->tx_reclaim();
    if (n == 0) {
      // Idle: a short sleep keeps the trace from filling with empty polls.
      const timespec ts{0, 1000000};
      nanosleep(&ts, nullptr);
    }
    if (o.mode == "gen" && sent >= frames) {
      // Until every frame completed, so the trace ends with nothing in flight.
      for (int i = 0; i < 100 && session->net().counters().tx_completed < sent; ++i) {
        const timespec ts{0, 1000000};
        nanosleep(&ts, nullptr);
        session->tx_reclaim();
      }
      break;
    }
    if (o.mode != "gen" && received >= frames) break;
  }
  session->stop();
  trace::write_end(writer);
  writer.flush();
  body.close();
  // Header, then the body.
  std::ofstream file(o.record, std::ios::binary);
  trace::TraceWriter hw(trace::ByteSink{append, &file});
  trace::TraceHeader h;
  h.driver_version = VNET_VERSION;
  const vnet::ProbeResult& probe = session->probe_result();
  h.transport = probe.transport != nullptr ? probe.transport->name() : nullptr;
  h.has_device = true;
  h.device_kind = "mmio-v2";
  h.is_mmio = true;
  h.mmio_version = 2;
  h.mmio_device_id = 1;
  h.mmio_vendor_id = port.device().read(spec::mmio::kVendorId, 4);
  h.mmio_window = vnet::vhost::VhostUserDevice::kWindowSize;
  h.has_features = true;
  h.offered = port.device().offer();
  h.negotiated = session->net().negotiated_features();
  const uint16_t pairs = session->net().max_queue_pairs();
  const bool ctrl = spec::has_feature(h.negotiated, spec::Feature::kNetCtrlVq);
  h.num_queues = static_cast<uint16_t>(2 * pairs + (ctrl ? 1 : 0));
  for (uint16_t i = 0; i < 2 * pairs; ++i) h.queue_sizes[i] = o.ring;
  if (ctrl) h.queue_sizes[2 * pairs] = vnet::vhost::VhostUserDevice::kCtrlQueueSize;
  h.pool_buffer_size = 2048;
  h.pool_buffers = static_cast<uint32_t>(port.pool().capacity());
  h.recorded_where = "vhost-user";
  const std::string when = utc_now();
  h.recorded_when = when.c_str();
  h.recorded_by = "vnet-vhost";
  const std::string scenario = "vhost-user " + o.mode + " " + std::to_string(o.size);
  h.scenario = scenario.c_str();
  trace::write_header(hw, h);
  hw.flush();
  std::ifstream in(body_path, std::ios::binary);
  file << in.rdbuf();
  in.close();
  std::remove(body_path.c_str());
  if (!file) {
    std::cerr << "vnet-vhost: cannot write " << o.record << "\n";
    return 1;
  }
  std::cout << "recorded " << o.record << ": " << writer.events() << " events, sent " << sent
            << ", received " << received << "\n";
  return (o.mode == "gen" ? sent >= frames : received >= frames) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The vnetkit driver as a vhost-user front end: forward, generate, sink."};
  Options o;
  app.add_option("--socket", o.socket, "the back end's vhost-user socket")->required();
  app.add_option("--mode", o.mode, "fwd | gen | sink | echo")
      ->check(CLI::IsMember({"fwd", "gen", "sink", "echo"}));
  app.add_option("--fwd", o.fwd, "fwd: mac (dst = --peer, src = --mac) | macswap | io")
      ->check(CLI::IsMember({"mac", "macswap", "io"}));
  app.add_option("--size", o.size, "gen: frame bytes (60..1514)")->check(CLI::Range(60, 1514));
  app.add_option("--max-size", o.max_size, "gen: spread frame sizes over [--size, --max-size]")
      ->check(CLI::Range(60, 1514));
  app.add_option("--frags", o.frags, "gen: buffers per frame (tx scatter-gather)")
      ->check(CLI::Range(1, 16));
  app.add_option("--pps", o.pps, "gen: at most this many frames per second (0: no limit)");
  app.add_option("--burst", o.burst, "frames per rx_burst / tx_burst")->check(CLI::Range(1, 256));
  app.add_option("--seconds", o.seconds, "stop after this long (0: frames, expect, or a signal)");
  app.add_option("--frames", o.frames, "gen: send this many, then stop; record: frames to move");
  app.add_option("--expect", o.expect, "sink --verify: succeed once this many distinct arrived");
  app.add_option("--queues", o.queues, "queue pairs (multiqueue over the emulated control queue)")
      ->check(CLI::Range(1, 8));
  app.add_option("--ring", o.ring, "ring size (power of two)")->check(CLI::Range(16, 4096));
  app.add_flag("--packed", o.packed, "accept VIRTIO_F_RING_PACKED");
  app.add_flag("--in-order", o.in_order, "accept VIRTIO_F_IN_ORDER");
  app.add_flag("--indirect", o.indirect, "accept VIRTIO_F_INDIRECT_DESC");
  app.add_flag("--no-mrg-rxbuf", o.no_mrg, "refuse VIRTIO_NET_F_MRG_RXBUF");
  app.add_flag("--no-event-idx", o.no_event_idx, "refuse VIRTIO_F_EVENT_IDX");
  app.add_flag("--verify", o.verify, "sink: check every stamped frame byte for byte");
  app.add_option("--mac", o.mac, "this port's MAC address");
  app.add_option("--peer", o.peer, "the destination MAC address (gen, fwd mac)");
  app.add_option("--expect-features", o.expect_features,
                 "feature names that must be negotiated (e.g. RING_PACKED,IN_ORDER)")
      ->delimiter(',');
  app.add_option("--record", o.record, "record the run as a trace to this file");
  app.add_option("--json", o.json, "write the totals and counters as JSON to this file");
  app.add_option("--pool", o.pool_buffers, "packet buffers in the shared memory (default: enough)");
  app.add_flag("--quiet", o.quiet, "no per-second lines");
  app.add_option("--max-frame", o.max_frame,
                 "the largest frame taken either way (NetOptions::max_frame; DPDK's default "
                 "max-pkt-len is 1518)")
      ->check(CLI::Range(1514, 1526));
  app.add_option("--idle-sleep-us", o.idle_sleep_us,
                 "sleep this long after a round that moved nothing (0: busy-poll)");
  CLI11_PARSE(app, argc, argv);
  if ((o.ring & (o.ring - 1)) != 0) {
    std::cerr << "vnet-vhost: --ring must be a power of two\n";
    return 2;
  }
  for (const std::string& f : o.expect_features) {
    bool known = false;
    for (const auto& info : spec::kFeatureTable) known |= strcasecmp(info.name, f.c_str()) == 0;
    if (!known) {
      std::cerr << "vnet-vhost: --expect-features " << f << ": no such feature\n";
      return 2;
    }
  }
  uint8_t mac[6];
  if (!parse_mac(o.mac, mac) || !parse_mac(o.peer, mac)) {
    std::cerr << "vnet-vhost: a MAC address is aa:bb:cc:dd:ee:ff\n";
    return 2;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);

  vnet::vhost::PortOptions po;
  po.socket = o.socket;
  parse_mac(o.mac, po.device.mac);
  po.device.queue_size = o.ring;
  po.device.max_queue_pairs = o.queues;
  // rx rings full, tx rings full, bursts in hand, per pair; and a margin.
  po.pool_buffers = o.pool_buffers != 0
                        ? o.pool_buffers
                        : static_cast<size_t>(o.queues) * (2u * o.ring + 4u * o.burst) + 256;
  po.memory_bytes = po.pool_buffers * 2048 + (size_t{8} << 20);
  // On the heap: the driver object alone is close to 1 MiB.
  auto port_owner = std::make_unique<vnet::vhost::VhostUserPort>();
  vnet::vhost::VhostUserPort& port = *port_owner;
  if (!port.open(po)) {
    std::cerr << "vnet-vhost: " << port.error() << "\n";
    return 1;
  }
  const auto& offer = port.front_end().offer();
  std::cout << "connected to " << o.socket << ": back end offers 0x" << std::hex << offer.features
            << ", protocol 0x" << offer.protocol_features << std::dec << ", " << offer.queue_pairs
            << " queue pair(s)" << std::endl;
  if (!o.record.empty()) return record(o, port);

  const vnet::AttachError e = port.attach(net_options(o));
  if (e != vnet::AttachError::kOk) {
    std::cerr << "vnet-vhost: " << port.error() << "\n";
    return 1;
  }
  vnet::VirtioNet& net = port.net();
  const uint64_t neg = net.negotiated_features();
  std::cout << "attached: " << net.queue_pairs() << " pair(s), ring " << o.ring << ", features "
            << features_text(neg) << std::endl;
  int status = 0;
  for (const std::string& f : o.expect_features) {
    bool have = false;
    for (const auto& info : spec::kFeatureTable)
      if (strcasecmp(info.name, f.c_str()) == 0) have = spec::has_feature(neg, info.bit);
    if (!have) {
      std::cerr << "vnet-vhost: --expect-features: " << f << " not negotiated\n";
      status = 1;
    }
  }
  if (status != 0) {
    port.stop();
    return status;
  }

  Runner r(o, port);
  r.run();
  const Totals& t = r.totals();
  const double secs = static_cast<double>(r.elapsed_ns()) / 1e9;
  const auto& c = net.counters();
  std::cout << "done: " << secs << " s, rx " << t.rx << " (" << t.rx / secs / 1e6 << " Mpps), tx "
            << t.tx << " (" << t.tx / secs / 1e6 << " Mpps), tx refused " << t.tx_refused
            << ", kicks " << port.device().kicks() << "\n";
  if (o.verify)
    std::cout << "verify: good " << t.good << ", distinct " << t.distinct << ", bad size "
              << t.bad_size << ", bad bytes " << t.bad_bytes << ", foreign " << t.foreign << "\n";
  nlohmann::json counters = nlohmann::json::object();
  c.for_each([&](const char* name, uint64_t v) {
    if (v != 0) counters[name] = v;
  });
  std::cout << "counters: " << counters.dump() << "\n";
  nlohmann::json pair_rx = nlohmann::json::array();
  for (uint16_t p = 0; p < net.queue_pairs() && p < Totals::kPairs; ++p)
    pair_rx.push_back(t.pair_rx[p]);
  std::cout << "rx per pair: " << pair_rx.dump() << "\n";
  if (!port.device().error().empty()) std::cout << "device: " << port.device().error() << "\n";
  if (o.verify && (t.bad_size != 0 || t.bad_bytes != 0)) status = 1;
  if (r.back_end_gone()) {
    std::cerr << "vnet-vhost: the back end closed the connection: "
              << port.front_end().channel().error() << "\n";
    status = 1;
  }
  if (o.expect != 0 && t.distinct < o.expect) {
    std::cerr << "vnet-vhost: expected " << o.expect << " distinct frames, got " << t.distinct
              << "\n";
    status = 1;
  }
  if (o.mode == "gen" && o.frames != 0 && t.tx < o.frames) status = 1;
  port.stop();
  if (!port.pool().all_returned()) {
    std::cerr << "vnet-vhost: " << port.pool().capacity() - port.pool().available()
              << " buffer(s) not returned after stop\n";
    status = 1;
  }
  if (!o.json.empty()) {
    nlohmann::json j{{"mode", o.mode},
                     {"seconds", secs},
                     {"rx", t.rx},
                     {"tx", t.tx},
                     {"rx_mpps", t.rx / secs / 1e6},
                     {"tx_mpps", t.tx / secs / 1e6},
                     {"good", t.good},
                     {"distinct", t.distinct},
                     {"bad_size", t.bad_size},
                     {"bad_bytes", t.bad_bytes},
                     {"negotiated", features_text(neg)},
                     {"kicks", port.device().kicks()},
                     {"pair_rx", pair_rx},
                     {"pairs", net.queue_pairs()},
                     {"ctrl_commands", port.device().ctrl_commands()},
                     {"counters", counters},
                     {"status", status}};
    std::ofstream(o.json) << j.dump(2) << "\n";
  }
  return status;
}
