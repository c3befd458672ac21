// Offload throughput in the mock world (issue 16): the same TCP payload
// moved through the driver and the mock device with offloads and without,
// side by side in one run, one thread.
//
//   transmit  BM_TxTso   64 KiB TCP/IPv4 frames (65536 bytes, 65482 of
//                        payload) with a partial checksum and HOST_TSO4
//                        (gso_size 1460): the device completes and
//                        segments, 45 wire frames each
//             BM_TxMtu   the same payload as MTU-sized frames (1514 bytes,
//                        1460 of payload; 45 per 64 KiB), checksums already
//                        in the frames, no offloads
//             BM_TxMtuSwCsum  the same, the caller computing each frame's
//                        TCP checksum in software before handing it over,
//                        as a stack without CSUM must
//   receive   BM_RxGso   the device delivers coalesced 64 KiB TCP/IPv4
//                        frames (GUEST_TSO4, NEEDS_CSUM) over MRG_RXBUF:
//                        each a receive chain of 33 buffers of 2 KiB
//             BM_RxMtu   the same payload as MTU-sized frames, one buffer
//                        each, no offloads
//
//   bench/offload_throughput_bench --benchmark_counters_tabular=true
//
// bytes_per_second counts TCP payload (what a socket would see), equal per
// iteration in each pair, so the ratio of two rows' bytes_per_second is the
// offload's gain. frames/s: frames through the driver's API (tx_burst
// frames taken, rx_burst frames delivered); wire/s: the wire frames those
// are (tx: segments the device sent; rx: MSS-sized segments a GSO frame
// stands for). In the mock world the device's work is in the figures: on
// transmit its segmentation and every segment's checksum (which, without
// the offload, the caller's stack would have computed -- here the frames
// carry them ready-made, so BM_TxMtu is the baseline most favourable to
// no offloads); on receive its copy of each frame into guest buffers.
#include <benchmark/benchmark.h>

#include <memory>
#include <span>
#include <vector>

#include "driver/net/virtio_net.h"
#include "driver/transport/pci_probe.h"
#include "mock_device/guest_memory.h"
#include "mock_device/mock_buffer_pool.h"
#include "mock_device/mock_device.h"
#include "mock_device/mock_platform.h"
#include "mock_device/offload.h"
#include "replay/offload_frames.h"

namespace vnet {
namespace {

constexpr size_t kFrame64k = 65536;        // a TSO/GSO frame: 64 KiB
constexpr uint16_t kMss = 1460;            // MTU 1500 less IPv4 and TCP headers
constexpr size_t kHeaders = 14 + 20 + 20;  // Ethernet, IPv4, TCP
constexpr size_t kPayload64k = kFrame64k - kHeaders;
constexpr size_t kSegments = (kPayload64k + kMss - 1) / kMss;  // 45
constexpr uint16_t kFramesPerIteration = 4;                    // 64 KiB frames (or their MTU split)

// The driver over the mock device with a pool of its own buffer size.
struct World {
  mock::GuestMemory memory;
  mock::MockDevice device;
  mock::MockPlatform platform;
  mock::MockBufferPool pool;
  PciTransports transports;
  VirtioNet net;

  World(const mock::DeviceConfig& c, size_t buffers, uint32_t buffer_size)
      : device(memory, c), platform(device, memory), pool(memory, buffers, buffer_size) {}
};

std::unique_ptr<World> make_world(benchmark::State& state, bool offloads, uint32_t buffer_size,
                                  size_t buffers, const NetOptions& options) {
  mock::DeviceConfig cfg;
  cfg.transport = mock::TransportKind::kModern;
  cfg.offer_offloads = true;  // offered in both rows; the options decide
  cfg.rx_mergeable = true;
  auto w = std::make_unique<World>(cfg, buffers, buffer_size);
  const ProbeResult p = w->transports.probe(w->platform, PciMode::kAuto);
  if (p.error != ProbeError::kOk ||
      w->net.attach(w->platform, *p.transport, w->pool, options) != AttachError::kOk) {
    state.SkipWithError("attach failed");
    return w;
  }
  state.SetLabel(offloads ? "offloads" : "no offloads");
  return w;
}

void counters(benchmark::State& state, uint64_t frames, uint64_t wire, uint64_t payload) {
  state.SetBytesProcessed(static_cast<int64_t>(payload));
  state.SetItemsProcessed(static_cast<int64_t>(frames));
  state.counters["frames/s"] =
      benchmark::Counter(static_cast<double>(frames), benchmark::Counter::kIsRate);
  state.counters["wire/s"] =
      benchmark::Counter(static_cast<double>(wire), benchmark::Counter::kIsRate);
}

// ---- transmit

struct Sink {
  uint64_t frames = 0, bytes = 0;
};

enum class TxMode : uint8_t { kTso, kMtu, kMtuSoftwareChecksum };

void tx_run(benchmark::State& state, TxMode mode) {
  const bool tso = mode == TxMode::kTso;
  NetOptions o;
  o.rx_ring_cap = 16;
  o.tx_ring_cap = 256;
  o.accept_tx_csum = tso;
  o.accept_tso = tso;
  // TSO frames sit in one buffer of 64 KiB and the headroom.
  const uint32_t size = tso ? 66 * 1024 : 2048;
  auto w = make_world(state, tso, size, tso ? 320 : 1024, o);
  if (state.error_occurred()) return;
  Sink sink;
  w->device.set_tx_sink(
      [](void* ctx, std::span<const uint8_t> f) {
        auto* s = static_cast<Sink*>(ctx);
        ++s->frames;
        s->bytes += f.size();
      },
      &sink);
  // The frames: ready once, recycled unchanged (a stack reusing buffers).
  replay::L4FrameSpec spec;
  std::vector<std::vector<uint8_t>> frames;
  if (tso) {
    spec.payload = kPayload64k;
    frames.push_back(replay::l4_frame(spec, replay::L4Checksum::kPartial));
  } else {
    for (size_t i = 0; i < kSegments; ++i) {
      spec.payload = i + 1 < kSegments ? kMss : kPayload64k - (kSegments - 1) * kMss;
      spec.seq = static_cast<uint32_t>(i * kMss);
      frames.push_back(replay::l4_frame(spec, replay::L4Checksum::kFull));
    }
  }
  const PacketOffload req = tso ? replay::tx_offload_request(spec, kMss) : PacketOffload{};
  const mock::offload::Layout layout =
      mock::offload::parse(std::span<const uint8_t>(frames.front()));
  const size_t per_iteration = frames.size() * kFramesPerIteration;
  std::vector<PacketBuffer*> burst(per_iteration);
  uint64_t taken_total = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < per_iteration; ++i) {
      PacketBuffer* b = w->pool.alloc();
      if (b == nullptr) {
        state.SkipWithError("pool empty");
        return;
      }
      const auto& f = frames[i % frames.size()];
      std::copy(f.begin(), f.end(), b->base + kTxHeadroom);
      if (mode == TxMode::kMtuSoftwareChecksum)
        mock::offload::set_l4_checksum(b->base + kTxHeadroom, f.size(), layout);
      b->offset = kTxHeadroom;
      b->len = static_cast<uint32_t>(f.size());
      b->offload = req;
      burst[i] = b;
    }
    size_t done = 0;
    while (done < per_iteration) {
      const uint16_t n = static_cast<uint16_t>(std::min<size_t>(per_iteration - done, 64));
      const uint16_t taken = w->net.tx_burst(burst.data() + done, n);
      for (uint16_t i = taken; i < n; ++i) w->pool.free(burst[done + i]);
      taken_total += taken;
      done += n;
    }
  }
  w->net.tx_reclaim(0);
  counters(state, taken_total, sink.frames,
           (tso ? taken_total : taken_total / kSegments) * kPayload64k);
  if (taken_total != per_iteration * state.iterations()) state.SkipWithError("frames not taken");
  if (sink.frames != taken_total * (tso ? kSegments : 1))
    state.SkipWithError("the device sent another number of wire frames");
  if (!w->device.conformance().empty()) state.SkipWithError("conformance violation");
}

void BM_TxTso(benchmark::State& state) {
  tx_run(state, TxMode::kTso);
}
void BM_TxMtu(benchmark::State& state) {
  tx_run(state, TxMode::kMtu);
}
void BM_TxMtuSwCsum(benchmark::State& state) {
  tx_run(state, TxMode::kMtuSoftwareChecksum);
}

// ---- receive

void rx_run(benchmark::State& state, bool gso) {
  NetOptions o;
  o.rx_ring_cap = 256;
  o.tx_ring_cap = 16;
  o.accept_rx_csum = gso;
  o.accept_rx_gso = gso;
  o.rx_chains = gso;
  auto w = make_world(state, gso, 2048, 1024, o);
  if (state.error_occurred()) return;
  replay::L4FrameSpec spec;
  std::vector<std::vector<uint8_t>> frames;
  if (gso) {
    spec.payload = kPayload64k;
    frames.push_back(replay::l4_frame(spec, replay::L4Checksum::kFull));
  } else {
    for (size_t i = 0; i < kSegments; ++i) {
      spec.payload = i + 1 < kSegments ? kMss : kPayload64k - (kSegments - 1) * kMss;
      spec.seq = static_cast<uint32_t>(i * kMss);
      frames.push_back(replay::l4_frame(spec, replay::L4Checksum::kFull));
    }
  }
  std::vector<PacketBuffer*> out(256);
  uint64_t delivered = 0, payload = 0;
  for (auto _ : state) {
    for (uint16_t k = 0; k < kFramesPerIteration; ++k) {
      for (const auto& f : frames) {
        const bool ok = gso ? w->device.inject_rx_gso(f, kMss) : w->device.inject_rx(f);
        if (!ok) {
          state.SkipWithError("the device did not deliver");
          return;
        }
      }
      // Harvest after each 64 KiB of payload: at most 45 buffers posted.
      for (;;) {
        const uint16_t n = w->net.rx_burst(out.data(), static_cast<uint16_t>(out.size()));
        for (uint16_t i = 0; i < n; ++i) {
          for (PacketBuffer* b = out[i]; b != nullptr;) {
            PacketBuffer* next = b->next;
            payload += b == out[i] ? b->len - kHeaders : b->len;
            b->next = nullptr;
            w->pool.free(b);
            b = next;
          }
        }
        delivered += n;
        if (n == 0) break;
      }
    }
  }
  counters(state, delivered, gso ? delivered * kSegments : delivered, payload);
  if (payload != kPayload64k * kFramesPerIteration * state.iterations())
    state.SkipWithError("payload lost");
  if (w->device.counters().rx_no_buffer != 0) state.SkipWithError("device ran out of rx buffers");
  if (!w->device.conformance().empty()) state.SkipWithError("conformance violation");
}

void BM_RxGso(benchmark::State& state) {
  rx_run(state, true);
}
void BM_RxMtu(benchmark::State& state) {
  rx_run(state, false);
}

BENCHMARK(BM_TxTso);
BENCHMARK(BM_TxMtu);
BENCHMARK(BM_TxMtuSwCsum);
BENCHMARK(BM_RxGso);
BENCHMARK(BM_RxMtu);

}  // namespace
}  // namespace vnet

BENCHMARK_MAIN();
