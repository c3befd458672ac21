// DRIVER ONLY: frames per second through VirtioNet with the cheapest honest
// device peer, one thread (issue 17, point 4: single-thread figures).
//
// The mock-device rows (net_throughput_bench, ring_kind_bench) spend about
// half their time in the device model and its conformance checks. Here the
// device side is a minimal in-process ring peer instead, so the figure is
// the driver's own cost plus a trivial peer:
//
//   PeerPlatform   the Platform shim a bare-metal guest would have
//                  (guest/shim): identity DMA addresses, fetch() as
//                  natural-width volatile loads, barriers as on x86
//                  (an mfence for the full kinds, compiler barriers for
//                  the others); the announcement hooks (published,
//                  completed, frame_in_place, op_begin/op_end) are the
//                  shim's no-op defaults -- still a virtual call each.
//   PeerTransport  a modern-like transport without registers: status,
//                  features (VERSION_1, EVENT_IDX, MRG_RXBUF, MAC, STATUS,
//                  MTU -- what the driver negotiates with the mock device
//                  by default, less the control queue), queue setup
//                  recording the three ring addresses, notify() counted.
//   Peer           the device's half of two split rings, written the way a
//                  polling back end (vhost, a DPDK PMD peer) would: tx --
//                  every available chain consumed (its descriptors walked
//                  for the byte count) and completed with used.len 0; rx --
//                  a 12-byte header (num_buffers 1) and the frame copied
//                  into the next posted buffer, used.len = 12 + frame.
//                  Used index stored once per pass with release order,
//                  avail_event updated (EVENT_IDX: "kick me when you
//                  publish past what I have seen"). No conformance checks.
//   PackedPeer     the same device half for two packed rings (the
//                  *Packed* rows: VIRTIO_F_RING_PACKED offered and
//                  accepted): at its position, a descriptor whose AVAIL
//                  bit is its wrap counter and USED bit the inverse is
//                  available; the chain is walked (NEXT), and one used
//                  descriptor {id of the chain's last descriptor, len,
//                  AVAIL = USED = wrap} written over its head, the flags
//                  last with release order (2.8.6, 2.8.21). The device
//                  event structure stays ENABLE (zeroed), so the driver
//                  notifies once per burst, as with the split peer's
//                  avail_event. No conformance checks.
//   PeerPool       a LIFO array of PacketBuffers (2 KiB each).
//
// Nothing in the driver is bypassed: every device value still enters
// through fetch() and is validated as against any device.
//
// Rows (bursts of 32, as in net_throughput_bench):
//   BM_DriverOnlyTx/<size>   tx_burst() then one peer pass that completes
//                            the burst (harvested by the next tx_burst)
//   BM_DriverOnlyRx/<size>   one peer pass that fills 32 posted buffers,
//                            then rx_burst() (which refills the ring)
//   BM_DriverOnlyPackedTx/<size>, BM_DriverOnlyPackedRx/<size>
//                            the same over packed rings (PackedPeer)
// items_per_second (and Mpps) is frames per second of the whole loop:
// driver, peer, and the caller's pool alloc/free. One iteration in eight is
// timed phase by phase: drv_ns / peer_ns are the medians of those samples
// in ns per frame (the driver phase includes the shim calls it makes).
//
//   bench/driver_only_bench --benchmark_repetitions=5 \
//       --benchmark_enable_random_interleaving=true
//
// Exit status 1 when a row failed its checks (frames lost or not
// completed, a driver counter of trouble, the driver not running).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "bench/phase_samples.h"
#include "driver/net/virtio_net.h"
#include "driver/platform/platform.h"
#include "driver/spec/net_layout.h"
#include "driver/spec/packed_ring_layout.h"
#include "driver/spec/split_ring_layout.h"
#include "driver/spec/virtio_constants.h"
#include "driver/transport/transport.h"

namespace vnet {
namespace {

constexpr uint16_t kBurst = 32;
constexpr uint64_t kSampleEvery = 8;
constexpr size_t kPoolBuffers = 2048;
constexpr uint32_t kBufferSize = 2048;
constexpr uint16_t kQueueSize = 256;

bool g_failed = false;

void fail(benchmark::State& state, const char* why) {
  g_failed = true;
  state.SkipWithError(why);
}

// ---- DMA memory: one arena, identity addresses ---------------------------

class Arena {
 public:
  explicit Arena(size_t bytes) : size_(bytes) {
    base_ = static_cast<uint8_t*>(std::aligned_alloc(4096, bytes));
    if (base_ != nullptr) std::memset(base_, 0, bytes);
  }
  ~Arena() { std::free(base_); }
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  // Bump allocation; nothing is freed until the arena goes (a benchmark
  // attaches once).
  void* take(size_t bytes, size_t align) {
    size_t at = (used_ + align - 1) & ~(align - 1);
    if (base_ == nullptr || at + bytes > size_) return nullptr;
    used_ = at + bytes;
    return base_ + at;
  }

 private:
  uint8_t* base_ = nullptr;
  size_t size_ = 0;
  size_t used_ = 0;
};

inline uint64_t addr_of(const void* p) {
  return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p));
}
template <typename T>
inline T* ptr_of(uint64_t a) {
  return reinterpret_cast<T*>(static_cast<uintptr_t>(a));
}

// ---- the shim ------------------------------------------------------------

class PeerPlatform final : public Platform {
 public:
  explicit PeerPlatform(Arena& arena) : arena_(arena) {}

  // No registers: the transport below never calls these.
  uint32_t reg_read(Region, uint32_t, uint8_t) override { return 0; }
  void reg_write(Region, uint32_t, uint8_t, uint32_t) override {}
  BarInfo bar_info(uint8_t) override { return BarInfo{}; }

  bool dma_alloc(size_t size, size_t align, DmaRegion* out) override {
    void* p = arena_.take(size, align < 64 ? 64 : align);
    if (p == nullptr) return false;
    std::memset(p, 0, size);
    *out = DmaRegion{p, addr_of(p), size};
    return true;
  }
  void dma_free(const DmaRegion&) override {}

  // As the bare-metal guest's shim: widest naturally aligned loads, so a
  // le16 index or a le32 field is read in one load as the device wrote it.
  void fetch(const DeviceMemRef&, const volatile void* src, void* dst, size_t len) override {
    const uintptr_t s = reinterpret_cast<uintptr_t>(src);
    auto* d = static_cast<uint8_t*>(dst);
    if ((s & 3) == 0 && (len & 3) == 0) {
      for (size_t i = 0; i < len; i += 4) {
        const uint32_t v = *reinterpret_cast<const volatile uint32_t*>(s + i);
        std::memcpy(d + i, &v, 4);
      }
    } else if ((s & 1) == 0 && (len & 1) == 0) {
      for (size_t i = 0; i < len; i += 2) {
        const uint16_t v = *reinterpret_cast<const volatile uint16_t*>(s + i);
        std::memcpy(d + i, &v, 2);
      }
    } else {
      for (size_t i = 0; i < len; ++i) d[i] = *reinterpret_cast<const volatile uint8_t*>(s + i);
    }
  }

  // x86 (TSO): only store->load needs a fence (guest/shim, docs/porting.md).
  void barrier(Barrier kind) override {
    if (kind == Barrier::kFull || kind == Barrier::kDmaFull)
      std::atomic_thread_fence(std::memory_order_seq_cst);
    else
      std::atomic_signal_fence(std::memory_order_seq_cst);
  }
  bool wait_interrupt(uint64_t) override { return false; }
  uint64_t now_ns() override {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
  }
  void log(LogLevel level, const char* message) override {
    if (level <= LogLevel::kWarn) std::fprintf(stderr, "driver: %s\n", message);
  }

 private:
  Arena& arena_;
};

// ---- the device's half of the rings --------------------------------------

struct PeerRing {
  spec::VringDesc* desc = nullptr;
  uint8_t* avail = nullptr;
  uint8_t* used = nullptr;
  uint16_t size = 0;
  uint16_t last_avail = 0;
  uint16_t used_idx = 0;

  uint16_t avail_idx() const {
    return __atomic_load_n(reinterpret_cast<const uint16_t*>(avail + spec::kAvailIdxOffset),
                           __ATOMIC_ACQUIRE);
  }
  uint16_t avail_head(uint16_t i) const {
    uint16_t h;
    std::memcpy(&h, avail + spec::kAvailRingOffset + 2 * (i & (size - 1)), 2);
    return h;
  }
  void put_used(uint16_t id, uint32_t len) {
    spec::VringUsedElem e;
    e.id.set(id);
    e.len.set(len);
    std::memcpy(used + spec::used_elem_offset(used_idx & (size - 1)), &e, sizeof(e));
    ++used_idx;
  }
  // One used index store per pass (release: the elements first), and
  // avail_event = the next index to look at (EVENT_IDX, 2.7.10).
  void finish_pass() {
    __atomic_store_n(reinterpret_cast<uint16_t*>(used + spec::kUsedIdxOffset), used_idx,
                     __ATOMIC_RELEASE);
    __atomic_store_n(reinterpret_cast<uint16_t*>(used + spec::used_avail_event_offset(size)),
                     last_avail, __ATOMIC_RELAXED);
  }
};

// The device's half of a packed ring. The device completes in order, so
// its used position is always its read position.
struct PackedPeer {
  spec::PackedDesc* desc = nullptr;
  uint16_t size = 0;
  uint16_t pos = 0;
  bool wrap = true;

  uint16_t flags_at(uint16_t p) const {
    return __atomic_load_n(reinterpret_cast<const uint16_t*>(&desc[p].flags), __ATOMIC_ACQUIRE);
  }
  bool available(uint16_t p, bool w) const {
    const uint16_t f = flags_at(p);
    return ((f & spec::kPackedDescFlagAvail) != 0) == w &&
           ((f & spec::kPackedDescFlagUsed) != 0) != w;
  }
  // The used descriptor over the chain's head at pos; then skips k.
  void put_used(uint16_t id, uint32_t len, uint16_t k) {
    spec::PackedDesc& d = desc[pos];
    d.len.set(len);
    d.id.set(id);
    const uint16_t f = wrap ? spec::kPackedDescFlagAvail | spec::kPackedDescFlagUsed : 0;
    __atomic_store_n(reinterpret_cast<uint16_t*>(&d.flags), f, __ATOMIC_RELEASE);
    advance(k);
  }
  void advance(uint16_t k) {
    pos = static_cast<uint16_t>(pos + k);
    if (pos >= size) {
      pos = static_cast<uint16_t>(pos - size);
      wrap = !wrap;
    }
  }
};

class PeerTransport final : public Transport {
 public:
  explicit PeerTransport(bool packed = false) : packed_(packed) {}
  static constexpr uint64_t kOffer =
      spec::feature_mask(spec::Feature::kVersion1) | spec::feature_mask(spec::Feature::kEventIdx) |
      spec::feature_mask(spec::Feature::kNetMrgRxbuf) | spec::feature_mask(spec::Feature::kNetMac) |
      spec::feature_mask(spec::Feature::kNetStatus) | spec::feature_mask(spec::Feature::kNetMtu);

  const char* name() const override { return "driver-only peer"; }
  bool is_legacy() const override { return false; }
  RingLayout ring_layout() const override { return RingLayout::kSeparate; }
  bool queue_size_writable() const override { return true; }
  bool reset(uint64_t) override {
    status_ = 0;
    rings_[0] = rings_[1] = PeerRing{};
    packed_rings_[0] = packed_rings_[1] = PackedPeer{};
    return true;
  }
  uint8_t status() override { return status_; }
  void set_status(uint8_t status) override { status_ = status; }
  uint64_t device_features() override {
    return packed_ ? kOffer | spec::feature_mask(spec::Feature::kRingPacked) : kOffer;
  }
  void set_driver_features(uint64_t f) override { driver_features_ = f; }
  uint32_t queue_max_size(uint16_t q) override { return q < 2 ? kQueueSize : 0; }
  bool setup_queue(uint16_t q, uint16_t size, const QueueAddresses& a) override {
    if (q >= 2) return false;
    if (packed_) {
      PackedPeer& pr = packed_rings_[q];
      pr = PackedPeer{};
      pr.desc = ptr_of<spec::PackedDesc>(a.desc);
      pr.size = size;
      return true;
    }
    PeerRing& r = rings_[q];
    r = PeerRing{};
    r.desc = ptr_of<spec::VringDesc>(a.desc);
    r.avail = ptr_of<uint8_t>(a.driver);
    r.used = ptr_of<uint8_t>(a.device);
    r.size = size;
    return true;
  }
  void notify(uint16_t q) override { ++notifies_[q & 1]; }
  uint8_t read_isr() override { return 0; }
  bool config_read(uint32_t offset, uint8_t width, uint32_t* value) override {
    static constexpr uint8_t kConfig[12] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // mac
                                            1,    0,                             // status LINK_UP
                                            1,    0,                             // max pairs
                                            0xDC, 0x05};                         // mtu 1500
    if (offset + width > sizeof(kConfig) || (offset & (width - 1)) != 0) return false;
    uint32_t v = 0;
    for (uint8_t i = 0; i < width; ++i) v |= uint32_t{kConfig[offset + i]} << (8 * i);
    *value = v;
    return true;
  }
  uint32_t config_generation() override { return 0; }
  uint32_t config_window_size() const override { return 12; }
  bool has_config_generation() const override { return true; }

  PeerRing& ring(uint16_t q) { return rings_[q]; }
  PackedPeer& packed_ring(uint16_t q) { return packed_rings_[q]; }
  uint64_t notifies(uint16_t q) const { return notifies_[q & 1]; }
  uint64_t driver_features() const { return driver_features_; }

 private:
  uint8_t status_ = 0;
  uint64_t driver_features_ = 0;
  bool packed_ = false;
  PeerRing rings_[2];
  PackedPeer packed_rings_[2];
  uint64_t notifies_[2] = {0, 0};
};

// Transmit: every available chain, its descriptors walked (bounded by the
// ring size) for the bytes the device would send; completed with len 0.
uint16_t peer_tx_pass(PeerRing& r, uint64_t* bytes) {
  const uint16_t end = r.avail_idx();
  uint16_t n = 0;
  while (r.last_avail != end && n < r.size) {
    const uint16_t head = r.avail_head(r.last_avail);
    uint16_t d = head;
    for (uint16_t k = 0; k < r.size; ++k) {
      const spec::VringDesc& e = r.desc[d & (r.size - 1)];
      *bytes += e.len.get();
      if ((e.flags.get() & spec::kDescFlagNext) == 0) break;
      d = e.next.get();
    }
    r.put_used(head, 0);
    ++r.last_avail;
    ++n;
  }
  r.finish_pass();
  return n;
}

// Receive: up to max frames, each into the next posted buffer (one
// descriptor: VERSION_1, so no separate header descriptor).
uint16_t peer_rx_pass(PeerRing& r, const uint8_t* frame, uint32_t size, uint16_t max) {
  const uint16_t end = r.avail_idx();
  uint16_t n = 0;
  spec::NetHdr hdr{};
  hdr.num_buffers.set(1);
  while (r.last_avail != end && n < max) {
    const uint16_t head = r.avail_head(r.last_avail);
    const spec::VringDesc& e = r.desc[head & (r.size - 1)];
    if (e.len.get() < sizeof(hdr) + size) break;  // not our driver's buffer
    uint8_t* buf = ptr_of<uint8_t>(e.addr.get());
    std::memcpy(buf, &hdr, sizeof(hdr));
    std::memcpy(buf + sizeof(hdr), frame, size);
    r.put_used(head, static_cast<uint32_t>(sizeof(hdr) + size));
    ++r.last_avail;
    ++n;
  }
  r.finish_pass();
  return n;
}

// Packed transmit: every available chain, its descriptors walked (NEXT,
// bounded by the ring size) for the bytes; completed with len 0.
uint16_t peer_tx_pass(PackedPeer& r, uint64_t* bytes) {
  uint16_t n = 0;
  while (n < r.size && r.available(r.pos, r.wrap)) {
    uint16_t p = r.pos, k = 0, id = 0;
    bool w = r.wrap;
    while (k < r.size) {
      if (k != 0 && !r.available(p, w)) return n;  // a chain not yet whole
      const spec::PackedDesc& e = r.desc[p];
      *bytes += e.len.get();
      id = e.id.get();
      ++k;
      const bool next = (e.flags.get() & spec::kDescFlagNext) != 0;
      if (++p == r.size) {
        p = 0;
        w = !w;
      }
      if (!next) break;
    }
    r.put_used(id, 0, k);
    ++n;
  }
  return n;
}

// Packed receive: up to max frames, each into the next posted buffer (one
// descriptor).
uint16_t peer_rx_pass(PackedPeer& r, const uint8_t* frame, uint32_t size, uint16_t max) {
  uint16_t n = 0;
  spec::NetHdr hdr{};
  hdr.num_buffers.set(1);
  while (n < max && r.available(r.pos, r.wrap)) {
    const spec::PackedDesc& e = r.desc[r.pos];
    if (e.len.get() < sizeof(hdr) + size) break;  // not our driver's buffer
    uint8_t* buf = ptr_of<uint8_t>(e.addr.get());
    std::memcpy(buf, &hdr, sizeof(hdr));
    std::memcpy(buf + sizeof(hdr), frame, size);
    r.put_used(e.id.get(), static_cast<uint32_t>(sizeof(hdr) + size), 1);
    ++n;
  }
  return n;
}

// ---- the caller's pool ---------------------------------------------------

class PeerPool final : public BufferPool {
 public:
  PeerPool(Arena& arena, size_t count) : bufs_(count), free_(count) {
    for (size_t i = 0; i < count; ++i) {
      auto* mem = static_cast<uint8_t*>(arena.take(kBufferSize, 64));
      PacketBuffer& b = bufs_[i];
      b.base = mem;
      b.device_addr = addr_of(mem);
      b.capacity = mem != nullptr ? kBufferSize : 0;
      b.pool_cookie = this;
      free_[count - 1 - i] = &b;
    }
    top_ = count;
  }
  PacketBuffer* alloc() override {
    if (top_ == 0) return nullptr;
    PacketBuffer* b = free_[--top_];
    b->offset = 0;
    b->len = 0;
    return b;
  }
  void free(PacketBuffer* b) override { free_[top_++] = b; }
  size_t available() const { return top_; }

 private:
  std::vector<PacketBuffer> bufs_;
  std::vector<PacketBuffer*> free_;
  size_t top_ = 0;
};

// ---- one world -----------------------------------------------------------

struct World {
  explicit World(bool packed_rings = false) : packed(packed_rings), transport(packed_rings) {}
  bool packed;
  Arena arena{kPoolBuffers * kBufferSize + (1u << 20)};
  PeerPlatform platform{arena};
  PeerTransport transport;
  PeerPool pool{arena, kPoolBuffers};
  VirtioNet net;

  bool attach(benchmark::State& state) {
    NetOptions o;
    o.accept_ring_packed = packed;
    if (net.attach(platform, transport, pool, o) != AttachError::kOk ||
        net.state() != NetState::kRunning ||
        ((transport.driver_features() & spec::feature_mask(spec::Feature::kRingPacked)) != 0) !=
            packed) {
      fail(state, "attach failed");
      return false;
    }
    return true;
  }
  bool trouble() const {
    const NetCounters& c = net.counters();
    return net.state() != NetState::kRunning ||
           c.rx_drop_len_over + c.rx_drop_len_short + c.rx_drop_len_mtu + c.rx_drop_num_buffers +
                   c.tx_drop_len + c.tx_drop_headroom + c.tx_ring_full + c.tx_bad_used_len !=
               0;
  }
};

using bench::Clock;

struct Phases : bench::PhaseSamples {
  void report(benchmark::State& state, uint64_t frames, uint32_t size) {
    state.SetItemsProcessed(static_cast<int64_t>(frames));
    state.SetBytesProcessed(static_cast<int64_t>(frames * size));
    state.counters["Mpps"] =
        benchmark::Counter(static_cast<double>(frames) / 1e6, benchmark::Counter::kIsRate);
    report_medians(state, "peer_ns");
  }
};

template <bool kPacked>
void driver_only_tx(benchmark::State& state) {
  const uint32_t size = static_cast<uint32_t>(state.range(0));
  auto w = std::make_unique<World>(kPacked);
  if (!w->attach(state)) return;
  state.SetLabel("driver only");
  // Every pool buffer carries the frame at kTxHeadroom once; frames are
  // then recycled unchanged, as a stack reusing its buffers would.
  std::vector<uint8_t> frame(size);
  for (uint32_t i = 0; i < size; ++i) frame[i] = static_cast<uint8_t>(i * 7 + 1);
  std::vector<PacketBuffer*> all;
  while (PacketBuffer* b = w->pool.alloc()) all.push_back(b);
  for (PacketBuffer* b : all) {
    std::memcpy(b->base + kTxHeadroom, frame.data(), size);
    w->pool.free(b);
  }
  auto& ring = [&]() -> auto& {
    if constexpr (kPacked)
      return w->transport.packed_ring(1);
    else
      return w->transport.ring(1);
  }
  ();
  PacketBuffer* burst[kBurst];
  uint64_t frames = 0, iter = 0, peer_frames = 0, peer_bytes = 0;
  Phases ph;
  for (auto _ : state) {
    for (uint16_t i = 0; i < kBurst; ++i) {
      PacketBuffer* b = w->pool.alloc();
      b->offset = kTxHeadroom;
      b->len = size;
      burst[i] = b;
    }
    const bool sample = iter++ % kSampleEvery == 0;
    Clock::time_point t0, t1;
    if (sample) t0 = Clock::now();
    const uint16_t taken = w->net.tx_burst(burst, kBurst);
    if (sample) t1 = Clock::now();
    peer_frames += peer_tx_pass(ring, &peer_bytes);
    if (sample) ph.add(t1 - t0, Clock::now() - t1, taken);
    for (uint16_t i = taken; i < kBurst; ++i) w->pool.free(burst[i]);
    frames += taken;
  }
  ph.report(state, frames, size);
  w->net.tx_reclaim();  // the last pass's completions
  const NetCounters& c = w->net.counters();
  if (frames != uint64_t{kBurst} * state.iterations()) fail(state, "tx_burst took fewer frames");
  if (peer_frames != frames || peer_bytes != frames * (size + spec::kNetHdrSize))
    fail(state, "the peer saw other frames than the driver took");
  if (c.tx_completed != frames) fail(state, "tx frames not completed");
  // Every tx buffer back; the posted rx buffers (rx_ring_cap) still out.
  if (w->pool.available() != kPoolBuffers - NetOptions{}.rx_ring_cap)
    fail(state, "pool buffers missing");
  if (w->trouble()) fail(state, "driver counted trouble or left kRunning");
}

template <bool kPacked>
void driver_only_rx(benchmark::State& state) {
  const uint32_t size = static_cast<uint32_t>(state.range(0));
  auto w = std::make_unique<World>(kPacked);
  if (!w->attach(state)) return;
  state.SetLabel("driver only");
  std::vector<uint8_t> frame(size);
  const uint8_t eth[14] = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x88, 0xB5};
  for (uint32_t i = 0; i < size; ++i) frame[i] = i < 14 ? eth[i] : static_cast<uint8_t>(i * 7);
  auto& ring = [&]() -> auto& {
    if constexpr (kPacked)
      return w->transport.packed_ring(0);
    else
      return w->transport.ring(0);
  }
  ();
  PacketBuffer* burst[kBurst];
  uint64_t frames = 0, iter = 0, bytes = 0;
  bool short_pass = false;
  Phases ph;
  for (auto _ : state) {
    const bool sample = iter++ % kSampleEvery == 0;
    Clock::time_point t0, t1;
    if (sample) t0 = Clock::now();
    if (peer_rx_pass(ring, frame.data(), size, kBurst) != kBurst) short_pass = true;
    if (sample) t1 = Clock::now();
    const uint16_t n = w->net.rx_burst(burst, kBurst);
    if (sample) ph.add(Clock::now() - t1, t1 - t0, n);
    for (uint16_t i = 0; i < n; ++i) {
      bytes += burst[i]->len;
      w->pool.free(burst[i]);
    }
    frames += n;
  }
  ph.report(state, frames, size);
  if (short_pass) fail(state, "the peer found fewer than 32 posted buffers");
  if (frames != uint64_t{kBurst} * state.iterations() || bytes != frames * size)
    fail(state, "frames lost on rx");
  if (w->net.counters().rx_packets != frames) fail(state, "rx_packets differs");
  if (w->trouble()) fail(state, "driver counted trouble or left kRunning");
}

void BM_DriverOnlyTx(benchmark::State& state) {
  driver_only_tx<false>(state);
}
void BM_DriverOnlyRx(benchmark::State& state) {
  driver_only_rx<false>(state);
}
void BM_DriverOnlyPackedTx(benchmark::State& state) {
  driver_only_tx<true>(state);
}
void BM_DriverOnlyPackedRx(benchmark::State& state) {
  driver_only_rx<true>(state);
}

BENCHMARK(BM_DriverOnlyTx)->Arg(64)->Arg(1514);
BENCHMARK(BM_DriverOnlyRx)->Arg(64)->Arg(1514);
BENCHMARK(BM_DriverOnlyPackedTx)->Arg(64)->Arg(1514);
BENCHMARK(BM_DriverOnlyPackedRx)->Arg(64)->Arg(1514);

}  // namespace
}  // namespace vnet

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (vnet::g_failed) std::fprintf(stderr, "driver_only_bench: a row failed its checks\n");
  return vnet::g_failed ? 1 : 0;
}
