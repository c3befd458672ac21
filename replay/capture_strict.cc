// Strict replay of a converted QEMU capture of our own guest
// (docs/qemu-capture.md, "Replaying a capture strictly").
//
// A capture has no call lines and sees nothing of the driver's private
// side (allocations, fetches, barriers, pool). Inputs and expectations come
// from two places:
//
//   capture events after "mark driver_start"
//     reg_read / reg_write  ---- strict, in order -------> the driver's
//                                                          register calls
//     dev_pop/fill/flush/frame -- a synthetic device ----> fetch(used_idx,
//                                 (SyntheticRings)         used_elem,
//                                                          used_flags,
//                                                          avail_event,
//                                                          rx_header),
//                                                          frame_in_place,
//                                                          published (tx)
//
// Timing: device facts take effect when the register cursor passes them.
// The used index the driver reads for queue q is that of the last
// dev_flush of q before the next register event not yet consumed, so
// completions become visible exactly between the register accesses where
// QEMU made them visible.
//
// Used entries by avail position: QEMU names no head ids. A dev_fill
// {q, avail:K, len} is the used entry for the chain the driver placed in
// avail slot K; the replayer remembers the head of every avail slot from
// the driver's own published() calls and hands the driver {head[K], len}.
//
// Notification suppression: the driver reads used.flags (or, with
// EVENT_IDX, avail_event) before a kick. The synthetic device answers
// "notify" exactly when the next register event of the capture is a
// notification of that queue (NO_NOTIFY clear; avail_event one behind the
// driver's avail index), and "do not" otherwise (NO_NOTIFY; avail_event
// at its index), so the driver kicks where our guest kicked.
//
// The caller: the replayer drives the driver as our guest does, choosing
// the next API call from the capture (see drive()): probe(auto),
// attach(defaults); tx_burst of the captured tx frames when their pops
// are due; poll_device when the next register event is a read; stop at
// the device reset; rx_burst/tx_reclaim in between.
//
// Packed rings (VIRTIO_F_RING_PACKED in the capture's negotiated
// features; the driver attaches with accept_ring_packed to negotiate it
// again). The capture's avail K is the K-th chain the driver made
// available since the reset (a packed ring's chains are popped in ring
// order), so published() numbers the driver's chains itself and keeps each
// chain's id and ring position. A dev_flush (derived by trace2json: QEMU
// 7.2 logs no packed flush) writes the batch's used descriptors into the
// replay's own ring memory, as QEMU's virtqueue_packed_flush does: fill i
// of the batch at the device's used position + i (QEMU 7.2 adds the fill
// index, not the descriptors of the chains before it: the same position
// whenever the batch's chains are one descriptor each, as virtio-net's
// multi-fill batches -- merged rx buffers -- are), id = the chain's id,
// len = the fill's, AVAIL = USED = the device's used wrap counter; then
// the position moves by the batch's descriptors (each chain's length from
// the ring: NEXT links from its head, 1 for an INDIRECT head) and the wrap
// counter flips at the end of the ring. The ring's size is the queue size
// the driver wrote; its memory, the DMA region its descriptor-ring address
// names. The driver's fetches of packed descriptors read that memory;
// the device event structure answers ENABLE when the next register event
// is a notification of the queue and DISABLE otherwise, as used.flags does
// on a split ring.
//
// Interrupts: a capture whose device delivered interrupts (dev_msi:
// MSI-X, dev_intx: the line) was made with the guest in that interrupt
// mode, and the driver must ask for it at attach to make the same
// register accesses (the MSI-X capability, table and vector registers).
// The platform offers what the capture shows: msi_messages() answers the
// messages the capture's driver wrote into the table (found ahead in the
// register stream: entry i at offset 16i, an address 0xfeeXXXXX, its high
// half and data after it in the same region), line_interrupt() says yes
// when the line moved. Interrupts are delivered as the guest took them:
// an MSI-X message when the cursor passes its dev_msi (the handler makes
// no register access), a line interrupt when the next register event is
// an ISR read (the handler's acknowledgement). Which rung the capture's
// driver asked for is not in a capture: without MSI-X, INTx is tried
// first, then MSI-X (which falls to INTx after probing), then polling (a
// polling guest's device still moves the line), and the first attempt
// that passes, or else the one that gets furthest, is reported.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "replay/record/session.h"
#include "replay/record/trace_events.h"
#include "replay/replay_util.h"
#include "replay/replayer.h"
#include "surface/surface_hook.h"

namespace vnet::replay::detail {

namespace {

using trace::TraceWriter;

constexpr uint32_t kNone = 0xFFFF'FFFFu;
constexpr uint16_t kUsedFlagNoNotify = 1;
constexpr uint64_t kFeatureRingPacked = 1ull << 34;
constexpr uint64_t kFeatureIndirectDesc = 1ull << 28;
constexpr uint64_t kFeatureCtrlVq = 1ull << 17;
constexpr uint16_t kDescFlagNext = 1, kDescFlagIndirect = 4;
constexpr uint16_t kPackedAvailUsed = (1u << 7) | (1u << 15);
constexpr uint16_t kPackedEventEnable = 0, kPackedEventDisable = 1;
constexpr uint16_t kMaxQueues = 64;
constexpr uint16_t kBurst = 32;

// Where a capture's transport has its notify and status registers (QEMU's
// layouts: legacy I/O BAR0; modern common config at 0 and notify at
// 0x3000 + 4q of the memory BAR).
struct RegisterMap {
  bool legacy = true;
  bool modern = true;

  bool is_notify(const Event& e, uint16_t* queue) const {
    if (e.kind != EventKind::kRegWrite || e.addr != kAddrNone ||
        e.r8 == static_cast<uint8_t>(Region::kPciConfig))
      return false;
    const bool legacy_notify =
        legacy && e.r8 == static_cast<uint8_t>(Region::kBar0) && e.u32 == 0x10 && e.w8 == 2;
    const bool modern_notify = modern && e.u32 >= 0x3000 && e.u32 < 0x4000;
    if (!legacy_notify && !modern_notify) return false;
    *queue = static_cast<uint16_t>(e.u64);
    return true;
  }
  bool is_reset(const Event& e) const {
    if (e.kind != EventKind::kRegWrite || e.addr != kAddrNone || e.u64 != 0 || e.w8 != 1 ||
        e.r8 == static_cast<uint8_t>(Region::kPciConfig))
      return false;
    return (legacy && e.r8 == static_cast<uint8_t>(Region::kBar0) && e.u32 == 0x12) ||
           (modern && e.u32 == 0x14);
  }
};

// One queue of the synthetic device. Arrays are indexed by free-running
// 16-bit positions (avail slot, used index) and allocated on first use.
struct QueueState {
  std::vector<uint32_t> head_at;      // avail slot -> head the driver put there
  std::vector<uint16_t> avail_of;     // head -> avail slot of its latest publish
  std::vector<uint32_t> fill_at;      // used index -> event index of the dev_fill
  std::vector<uint32_t> rx_frame_at;  // avail slot -> event index of the rx dev_frame
  std::vector<uint32_t> pending;      // fills not yet flushed (event indices)
  uint16_t visible_used = 0;          // used.idx as the driver may read it now
  uint16_t handed = 0;                // next used index the driver fetches
  uint64_t published = 0;
  uint16_t avail_next = 0;  // the driver's avail.idx after its last publish
  // Packed ring: ring position of the K-th chain made available, chains
  // published since the reset, the device's used position and wrap
  // counter, the queue size the driver wrote.
  std::vector<uint16_t> pos_at;
  uint16_t chains = 0;
  uint16_t used_pos = 0;
  bool used_wrap = true;
  uint16_t size = 0;

  void ensure() {
    if (!head_at.empty()) return;
    pos_at.assign(65536, 0);
    head_at.assign(65536, kNone);
    avail_of.assign(65536, 0);
    fill_at.assign(65536, kNone);
    rx_frame_at.assign(65536, kNone);
  }
  void reset() {
    if (!head_at.empty()) {
      std::fill(head_at.begin(), head_at.end(), kNone);
      std::fill(fill_at.begin(), fill_at.end(), kNone);
      std::fill(rx_frame_at.begin(), rx_frame_at.end(), kNone);
    }
    pending.clear();
    visible_used = 0;
    handed = 0;
    avail_next = 0;
    chains = 0;
    used_pos = 0;
    used_wrap = true;
  }
};

class CaptureReplay final : public Platform, public BufferPool {
 public:
  CaptureReplay(const Trace& t, InterruptMode irq) : t_(t), ev_(t.events), irq_(irq) {
    const std::string& tr = t.header.transport;
    if (tr == "pci-legacy") map_.modern = false;
    if (tr == "pci-modern") map_.legacy = false;
    begin_ = t.driver_start == SIZE_MAX ? 0 : t.driver_start + 1;
    end_ = ev_.size() - 1;  // the end line
    size_bars();
    for (size_t i = begin_; i < end_; ++i)
      if (ev_[i].kind == EventKind::kDevFrame && ev_[i].r8 == static_cast<uint8_t>(FrameDir::kTx))
        tx_frames_.push_back(i);
    hdr_ = t.header.net_header != 0 ? t.header.net_header : 12;
    packed_ = t.header.has_features && (t.header.negotiated & kFeatureRingPacked) != 0;
    indirect_ = t.header.has_features && (t.header.negotiated & kFeatureIndirectDesc) != 0;
    ctrl_ = t.header.has_features && (t.header.negotiated & kFeatureCtrlVq) != 0;
    mmio_ = tr.rfind("mmio", 0) == 0;
    for (size_t i = begin_; i < end_; ++i)
      has_intx_ = has_intx_ || ev_[i].kind == EventKind::kDevIntx;
    find_msix_messages();
    pos_ = begin_;
    advance();
  }

  // The interrupt modes a capture can have been made in, the likeliest
  // first (see the header comment).
  static std::vector<InterruptMode> modes_of(const Trace& t) {
    bool msi = false, intx = false;
    for (const Event& e : t.events) {
      msi = msi || e.kind == EventKind::kDevMsi;
      intx = intx || e.kind == EventKind::kDevIntx;
    }
    if (msi) return {InterruptMode::kMsix};
    // The line moves whenever the device signals, whether the guest took
    // it or polled (its pin masked at the I/O APIC): polling is a
    // candidate too.
    if (intx) return {InterruptMode::kIntx, InterruptMode::kMsix, InterruptMode::kPolling};
    return {InterruptMode::kPolling};
  }
  uint64_t registers_matched() const { return registers_; }

  ReplayResult run();

  // ---- Platform: registers, strict ----
  uint32_t reg_read(Region region, uint32_t offset, uint8_t width) override {
    if (diverged_) return 0;
    if (reg_ < end_) {
      const Event& e = ev_[reg_];
      if (e.kind == EventKind::kRegRead && e.r8 == static_cast<uint8_t>(region) &&
          e.u32 == offset && e.w8 == width) {
        consume();
        return static_cast<uint32_t>(e.u64);
      }
    }
    diverge(reg_, render([&](TraceWriter& w) {
              w.begin("reg_read");
              w.str("region", trace::region_name(region));
              w.u64("off", offset);
              w.u64("w", width);
              w.end();
            }),
            reg_ < end_ ? expected_kind(EventKind::kRegRead) + " (region, offset or width)"
                        : "the capture has no further register access, the driver reads one");
    return 0;
  }

  void reg_write(Region region, uint32_t offset, uint8_t width, uint32_t value) override {
    if (diverged_) return;
    std::string why;
    if (reg_ >= end_) {
      why = "the capture has no further register access, the driver writes one";
    } else {
      const Event& e = ev_[reg_];
      if (e.kind != EventKind::kRegWrite)
        why = expected_kind(EventKind::kRegWrite);
      else if (e.r8 != static_cast<uint8_t>(region) || e.u32 != offset || e.w8 != width)
        why = "reg_write: register differs";
      else if (e.addr == kAddrRing)
        why = ring_address(e, value);
      else if (e.addr == kAddrNone && static_cast<uint32_t>(e.u64) != value)
        why = "reg_write: value differs";
      else if (e.addr == kAddrDma)
        why = "reg_write: a DMA-named address in a capture";
    }
    if (why.empty()) {
      const bool reset = map_.is_reset(ev_[reg_]);
      track_queue_size(ev_[reg_]);
      consume();
      if (reset) device_reset();
      return;
    }
    diverge(reg_, render([&](TraceWriter& w) {
              trace::write_reg_write(w, region, offset, width, value, nullptr);
            }),
            why);
  }

  BarInfo bar_info(uint8_t bar) override { return bar < 6 ? bars_[bar] : BarInfo{}; }

  bool dma_alloc(size_t size, size_t align, DmaRegion* out) override {
    if (diverged_ || align == 0 || (align & (align - 1)) != 0 || align > (1u << 20) ||
        size > (1u << 30))
      return false;
    const uint64_t page_align = align < 4096 ? 4096 : align;
    next_addr_ = (next_addr_ + page_align - 1) / page_align * page_align;
    Dma d{next_addr_, size, allocate(size, align)};
    next_addr_ += size;
    *out = DmaRegion{d.mem.get(), d.addr, size};
    dma_.push_back(std::move(d));
    return true;
  }
  void dma_free(const DmaRegion& region) override {
    for (size_t i = 0; i < dma_.size(); ++i)
      if (dma_[i].addr == region.device_addr) {
        dma_.erase(dma_.begin() + static_cast<ptrdiff_t>(i));
        return;
      }
  }

  // ---- Platform: the driver's view of the rings, from device facts ----
  void fetch(const DeviceMemRef& what, const volatile void* src, void* dst, size_t len) override;
  void frame_in_place(uint16_t queue, uint16_t desc, void* data, uint32_t len) override;
  void published(const PublishedChain& chain) override;
  void completed(uint16_t, uint16_t, uint32_t) override {}
  void barrier(Barrier) override {}
  bool wait_interrupt(uint64_t) override { return false; }
  uint16_t msi_messages(uint16_t max, MsiMessage* out) override {
    uint16_t n = 0;
    while (n < max && n < msix_.size() && msix_[n].found) {
      out[n] = msix_[n].msg;
      ++n;
    }
    return n;
  }
  bool line_interrupt() override { return has_intx_; }
  uint64_t now_ns() override { return clock_ += 1000; }
  void log(LogLevel, const char*) override {}
  void op_begin(DriverOp) override {}
  void op_end(DriverOp) override {}

  // ---- BufferPool: buffers of the header's size, ids not checked ----
  PacketBuffer* alloc() override {
    if (free_.empty()) {
      if (bufs_.size() >= kMaxBuffers) return nullptr;
      auto b = std::make_unique<Buf>();
      b->mem = allocate(t_.header.pool_buffer_size, 64);
      b->pb.base = b->mem.get();
      b->pb.device_addr = kPoolBase + uint64_t{bufs_.size()} * t_.header.pool_buffer_size;
      b->pb.capacity = t_.header.pool_buffer_size;
      free_.push_back(&b->pb);
      bufs_.push_back(std::move(b));
    }
    PacketBuffer* p = free_.back();
    free_.pop_back();
    p->offset = 0;
    p->len = 0;
    return p;
  }
  void free(PacketBuffer* buffer) override {
    if (buffer != nullptr) free_.push_back(buffer);
  }

 private:
  static constexpr size_t kMaxBuffers = 1u << 16;
  struct Dma {
    uint64_t addr;
    size_t size;
    Memory mem;
  };
  struct Buf {
    PacketBuffer pb;
    Memory mem;
  };

  std::string expected_kind(EventKind got) const {
    const Event& e = ev_[reg_];
    if (e.kind == got) return std::string(trace::event_name(got)) + " differs";
    return std::string("the capture expects ") + trace::event_name(e.kind) +
           ", the driver called " + trace::event_name(got);
  }

  void diverge(size_t index, std::string actual, std::string reason) {
    if (diverged_) return;
    diverged_ = true;
    div_.event_index = index < ev_.size() ? index : ev_.size() - 1;
    div_.expected = std::string(t_.line(t_.event_line[div_.event_index]));
    div_.actual = std::move(actual);
    div_.reason = std::move(reason);
  }

  QueueState& queue(uint16_t q) {
    if (q >= queues_.size()) queues_.resize(q + 1u);
    QueueState& s = queues_[q];
    s.ensure();
    return s;
  }

  // The register event at reg_ was matched: apply the device facts up to
  // the next register event.
  void consume() {
    ++registers_;
    if (reg_done_ + 1 < event_times(ev_[reg_])) {  // a repeated access: again
      ++reg_done_;
      return;
    }
    reg_done_ = 0;
    pos_ = reg_ + 1;
    advance();
  }

  // Applies device facts from pos_ until the next register event (reg_).
  void advance() {
    while (pos_ < end_ && !diverged_) {
      const Event& e = ev_[pos_];
      switch (e.kind) {
        case EventKind::kRegRead:
        case EventKind::kRegWrite:
          reg_ = pos_;
          return;
        case EventKind::kDevFill:
          if (e.a16 < kMaxQueues) queue(e.a16).pending.push_back(static_cast<uint32_t>(pos_));
          break;
        case EventKind::kDevFlush: {
          if (e.a16 >= kMaxQueues) break;
          QueueState& s = queue(e.a16);
          if (e.u32 > s.pending.size()) {
            diverge(pos_,
                    "(" + std::to_string(s.pending.size()) + " fills pending on queue " +
                        std::to_string(e.a16) + ")",
                    "dev_flush commits more fills than the capture made since the last flush");
            return;
          }
          // The last `count` fills, at used indices used_idx - count .. used_idx - 1.
          const size_t first = s.pending.size() - e.u32;
          for (uint32_t i = 0; i < e.u32; ++i)
            s.fill_at[static_cast<uint16_t>(e.b16 - e.u32 + i)] = s.pending[first + i];
          if (packed_) write_used_packed(e.a16, s, first);
          s.pending.resize(first);
          s.visible_used = e.b16;
          break;
        }
        case EventKind::kDevFrame:
          if (e.r8 == static_cast<uint8_t>(FrameDir::kRx) && e.a16 < kMaxQueues)
            queue(e.a16).rx_frame_at[e.b16] = static_cast<uint32_t>(pos_);
          break;
        case EventKind::kDevMsi:
          if (irq_ == InterruptMode::kMsix) pending_msi_.push_back(e.a16);
          break;
        case EventKind::kDevPop:
        case EventKind::kDevIrq:
        case EventKind::kDevIntx:
        case EventKind::kMark:
          break;
        default:
          diverge(pos_, "(a capture replay)",
                  std::string("a capture holds register and device events only, not ") +
                      trace::event_name(e.kind));
          return;
      }
      ++pos_;
    }
    reg_ = end_;
  }

  void device_reset() {
    for (QueueState& s : queues_) s.reset();
  }

  // Queue sizes the driver writes (modern common configuration: select
  // 0x16, size 0x18; virtio-mmio: QueueSel 0x30, QueueNum 0x38): a packed
  // ring's positions wrap at its size.
  void track_queue_size(const Event& e) {
    if (!packed_ || e.addr != kAddrNone || e.r8 == static_cast<uint8_t>(Region::kPciConfig)) return;
    const uint32_t sel = mmio_ ? 0x30 : 0x16, num = mmio_ ? 0x38 : 0x18;
    if (e.u32 == sel)
      select_ = static_cast<uint16_t>(e.u64);
    else if (e.u32 == num && select_ < kMaxQueues)
      queue(select_).size = static_cast<uint16_t>(e.u64);
  }

  // The replay's CPU view of queue q's descriptor ring (size entries of
  // 16 bytes), from the DMA region its descriptor-ring address named.
  uint8_t* packed_ring(uint16_t q, uint16_t size) {
    const size_t i = size_t{q} * 4 + static_cast<size_t>(RingPart::kDesc);
    if (i >= bindings_.size() || !bindings_[i].bound) return nullptr;
    const uint64_t addr = bindings_[i].addr;
    for (Dma& d : dma_)
      if (addr >= d.addr && addr + uint64_t{size} * 16 <= d.addr + d.size)
        return static_cast<uint8_t*>(d.mem.get()) + (addr - d.addr);
    return nullptr;
  }

  // A packed dev_flush: QEMU's virtqueue_packed_flush over the fills from
  // s.pending[first] on (see the header comment).
  void write_used_packed(uint16_t q, QueueState& s, size_t first) {
    uint8_t* ring = s.size == 0 ? nullptr : packed_ring(q, s.size);
    if (ring == nullptr) {
      diverge(pos_, "(queue " + std::to_string(q) + ": no packed ring of a known size and address)",
              "dev_flush on a packed queue whose size or descriptor-ring address the driver "
              "never wrote");
      return;
    }
    auto flags_at = [&](uint16_t p) {
      return static_cast<uint16_t>(ring[16 * size_t{p} + 14] | ring[16 * size_t{p} + 15] << 8);
    };
    struct Used {
      uint32_t id;
      uint32_t len;
      uint16_t ndescs;
    };
    std::vector<Used> used;
    for (size_t i = first; i < s.pending.size(); ++i) {
      const Event& fill = ev_[s.pending[i]];
      const uint32_t id = s.head_at[fill.b16];
      if (id == kNone) {
        diverge(s.pending[i],
                "(no chain published as chain " + std::to_string(fill.b16) + " of queue " +
                    std::to_string(q) + ")",
                "dev_fill for an avail slot the driver never published");
        return;
      }
      // The chain's descriptors in the ring, as QEMU counted them when it
      // popped it: an INDIRECT head is one, else the NEXT links (bounded
      // by the ring).
      uint16_t p = s.pos_at[fill.b16] % s.size, n = 1;
      if ((flags_at(p) & kDescFlagIndirect) == 0)
        while ((flags_at(p) & kDescFlagNext) != 0 && n < s.size) {
          p = static_cast<uint16_t>(p + 1 == s.size ? 0 : p + 1);
          ++n;
        }
      used.push_back(Used{id, fill.u32, n});
    }
    uint32_t advance_by = 0;
    for (size_t i = 0; i < used.size(); ++i) {
      uint32_t p = s.used_pos + static_cast<uint32_t>(i);
      bool wrap = s.used_wrap;
      if (p >= s.size) {
        p -= s.size;
        wrap = !wrap;
      }
      if (p >= s.size) break;  // a batch longer than the ring: QEMU refuses it earlier
      uint8_t* d = ring + 16 * size_t{p};
      for (int k = 0; k < 4; ++k) d[8 + k] = static_cast<uint8_t>(used[i].len >> (8 * k));
      d[12] = static_cast<uint8_t>(used[i].id);
      d[13] = static_cast<uint8_t>(used[i].id >> 8);
      const uint16_t flags = wrap ? kPackedAvailUsed : 0;
      d[14] = static_cast<uint8_t>(flags);
      d[15] = static_cast<uint8_t>(flags >> 8);
      advance_by += used[i].ndescs;
    }
    uint32_t next = s.used_pos + advance_by;
    while (next >= s.size) {
      next -= s.size;
      s.used_wrap = !s.used_wrap;
    }
    s.used_pos = static_cast<uint16_t>(next);
  }

  // A ring-named address: bind (queue, part) to the replay's DMA region
  // holding the written address, or check a later write against the bound
  // one (docs/trace-format.md, "Addresses named by ring").
  std::string ring_address(const Event& e, uint32_t value) {
    const uint16_t q = static_cast<uint16_t>(e.u64);
    const RingPart part = static_cast<RingPart>(e.aux);
    const AddrForm form = static_cast<AddrForm>(e.f8);
    Binding& b = binding(q, part);
    uint64_t addr = 0;
    switch (form) {
      case AddrForm::kPfn:
        addr = uint64_t{value} << 12;
        break;
      case AddrForm::kLo32:
        addr = kNoAddr;
        for (const Dma& d : dma_) {
          const uint64_t a = (d.addr & ~0xFFFF'FFFFull) | value;
          if (a >= d.addr && a < d.addr + d.size) addr = a;
        }
        if (addr == kNoAddr)
          return "reg_write: the value is not the low half of an address in a live DMA region "
                 "(ring " +
                 std::to_string(q) + ", part " + ring_part_name(part) + ")";
        b.low_written = true;
        b.addr = addr;
        b.bound = true;
        return {};
      case AddrForm::kHi32:
        if (!b.low_written)
          return "reg_write: a high half of ring " + std::to_string(q) + " part " +
                 ring_part_name(part) + " before its low half";
        if (static_cast<uint32_t>(b.addr >> 32) != value)
          return "reg_write: the high half differs from the address the low half named";
        return {};
    }
    const Dma* in = nullptr;
    for (const Dma& d : dma_)
      if (addr >= d.addr && addr < d.addr + d.size) in = &d;
    if (in == nullptr)
      return "reg_write: the value is not the page frame of a live DMA region (ring " +
             std::to_string(q) + ")";
    if (b.bound && b.region != in->addr)
      return "reg_write: ring " + std::to_string(q) + " part " + ring_part_name(part) +
             " now points into another DMA region";
    b.bound = true;
    b.region = in->addr;
    b.addr = addr;
    return {};
  }
  struct Binding {
    bool bound = false;
    bool low_written = false;
    uint64_t region = 0;
    uint64_t addr = 0;
  };
  static constexpr uint64_t kNoAddr = ~0ull;
  Binding& binding(uint16_t q, RingPart part) {
    const size_t i = size_t{q} * 4 + static_cast<size_t>(part);
    if (i >= bindings_.size()) bindings_.resize(i + 1);
    return bindings_[i];
  }

  // BARs as the firmware sized them before the driver started: a write of
  // all ones to a BAR register and the mask read back.
  void size_bars() {
    uint32_t raw[6] = {}, mask[6] = {};
    bool sizing[6] = {}, sized[6] = {}, seen[6] = {};
    for (size_t i = 0; i < begin_; ++i) {
      const Event& e = ev_[i];
      if ((e.kind != EventKind::kRegRead && e.kind != EventKind::kRegWrite) ||
          e.r8 != static_cast<uint8_t>(Region::kPciConfig) || e.w8 != 4 || e.u32 < 0x10 ||
          e.u32 >= 0x28 || e.u32 % 4 != 0 || e.addr != kAddrNone)
        continue;
      const size_t b = (e.u32 - 0x10) / 4;
      const uint32_t v = static_cast<uint32_t>(e.u64);
      if (e.kind == EventKind::kRegWrite) {
        sizing[b] = v == 0xFFFF'FFFFu;
        if (!sizing[b]) {
          raw[b] = v;
          seen[b] = true;
        }
      } else if (sizing[b]) {
        mask[b] = v;
        sized[b] = true;
        sizing[b] = false;
      } else if (!seen[b]) {
        raw[b] = v;
        seen[b] = true;
      }
    }
    bool any = false;
    for (size_t b = 0; b < 6; ++b) {
      if (!sized[b] || mask[b] == 0) continue;
      if (b > 0 && sized[b - 1] && (mask[b - 1] & 1) == 0 && ((mask[b - 1] >> 1) & 3) == 2)
        continue;  // high half of a 64-bit BAR
      const bool io = (mask[b] & 1) != 0;
      const uint32_t m = io ? (mask[b] & ~0x3u) : (mask[b] & ~0xFu);
      uint64_t size = m == 0 ? 0 : uint64_t{~m} + 1;
      if (io) size &= 0xFFFF'FFFFull;
      bars_[b] = BarInfo{true, io, size & 0xFFFF'FFFFull};
      any = true;
      (void)raw;
    }
    if (any) return;
    // No sizing in the log (it started late): QEMU's layouts.
    if (map_.legacy) bars_[0] = BarInfo{true, true, 0x20};
    if (map_.modern) bars_[4] = BarInfo{true, false, 0x4000};
  }

  // Tx frames whose dev_pop lies in [from, to) and were not submitted yet.
  size_t due_tx(size_t to) const {
    size_t n = 0;
    while (next_tx_ + n < tx_frames_.size() && tx_frames_[next_tx_ + n] < to) ++n;
    return n;
  }
  // The next notification of a transmit queue after event i. QEMU pops
  // the chains of a kick in a bottom half, which may run after further
  // register accesses of the vCPU (a poll's reads), so a kick's frames are
  // those popped before the next tx kick.
  size_t next_tx_kick_after(size_t i) const {
    uint16_t q = 0;
    for (size_t k = i + 1; k < end_; ++k)
      if (map_.is_notify(ev_[k], &q) && q % 2 == 1) return k;
    return end_;
  }

  void drain(trace::Session& s) {
    for (int i = 0; i < 100000 && !diverged_; ++i) {
      const uint16_t rx = s.rx_burst(kBurst);
      const uint16_t tx = s.tx_reclaim();
      if (rx == 0 && tx == 0) break;
    }
  }
  // The capture driver's MSI-X messages, by table entry (see the header
  // comment): a write of an address 0xfeeXXXXX at offset 16i of a BAR,
  // followed in the same region by the writes at 16i + 4 and 16i + 8.
  void find_msix_messages() {
    for (size_t i = begin_; i < end_; ++i) {
      const Event& lo = ev_[i];
      if (lo.kind != EventKind::kRegWrite || lo.addr != kAddrNone || lo.w8 != 4 ||
          lo.r8 == static_cast<uint8_t>(Region::kPciConfig) || lo.u32 % 16 != 0 ||
          (lo.u64 >> 20) != 0xfee)
        continue;
      const uint32_t entry = lo.u32 / 16;
      if (entry >= kMaxMsiVectors || (entry < msix_.size() && msix_[entry].found)) continue;
      bool hi = false, data = false;
      MsiMessage m;
      m.address = lo.u64;
      for (size_t k = i + 1; k < end_ && k < i + 16 && !(hi && data); ++k) {
        const Event& e = ev_[k];
        if (e.kind != EventKind::kRegWrite || e.r8 != lo.r8 || e.addr != kAddrNone) continue;
        if (e.u32 == lo.u32 + 4 && !hi) {
          m.address |= e.u64 << 32;
          hi = true;
        } else if (e.u32 == lo.u32 + 8 && !data) {
          m.data = static_cast<uint32_t>(e.u64);
          data = true;
        }
      }
      if (!hi || !data) continue;
      if (msix_.size() <= entry) msix_.resize(entry + 1u);
      msix_[entry] = MsixFound{true, m};
    }
  }
  bool is_isr_read(const Event& e) const {
    if (e.kind != EventKind::kRegRead || e.addr != kAddrNone || e.w8 != 1) return false;
    return (map_.legacy && e.r8 == static_cast<uint8_t>(Region::kBar0) && e.u32 == 0x13) ||
           (map_.modern && e.r8 != static_cast<uint8_t>(Region::kPciConfig) && e.u32 == 0x1000);
  }
  // A run of configuration-space accesses from register event i on that
  // ends in a device reset (stop() turning interrupts off first).
  bool reset_after_config(size_t i) const {
    if (irq_ == InterruptMode::kPolling) return false;
    for (size_t k = i, n = 0; k < end_ && n < 8; ++k) {
      const Event& e = ev_[k];
      if (e.kind != EventKind::kRegRead && e.kind != EventKind::kRegWrite) continue;
      if (map_.is_reset(e)) return k != i;
      if (e.r8 != static_cast<uint8_t>(Region::kPciConfig)) return false;
      ++n;
    }
    return false;
  }
  void deliver_msi(trace::Session& s) {
    for (size_t i = 0; i < pending_msi_.size() && !diverged_; ++i)
      s.handle_interrupt(IrqSource::msi(pending_msi_[i]));
    interrupts_ += pending_msi_.size();
    pending_msi_.clear();
  }

  void send(trace::Session& s, size_t n);
  void drive(trace::Session& s);
  void check_end();

  const Trace& t_;
  const std::vector<Event>& ev_;
  RegisterMap map_;
  bool packed_ = false;    // the capture negotiated VIRTIO_F_RING_PACKED
  bool indirect_ = false;  // the capture negotiated VIRTIO_F_INDIRECT_DESC
  bool ctrl_ = false;      // the capture negotiated VIRTIO_NET_F_CTRL_VQ
  bool mmio_ = false;
  uint16_t select_ = 0;  // queue select, as the driver last wrote it
  size_t begin_ = 0, end_ = 0;
  size_t pos_ = 0;  // next event whose device facts are not applied
  size_t reg_ = 0;  // next register event not consumed (end_: none left)
  bool diverged_ = false;
  Divergence div_;
  BarInfo bars_[6] = {};
  std::vector<Dma> dma_;
  uint64_t next_addr_ = kDmaBase;
  std::vector<Binding> bindings_;
  std::vector<QueueState> queues_;
  std::vector<size_t> tx_frames_;  // event indices of tx dev_frames, capture order
  size_t next_tx_ = 0;             // first tx frame not submitted
  size_t tx_checked_ = 0;          // tx frames the driver published, compared
  std::vector<size_t> tx_by_publish_;
  uint32_t hdr_ = 12;
  uint64_t clock_ = 1'000'000'000;
  uint64_t registers_ = 0, rx_delivered_ = 0, used_handed_ = 0;
  uint64_t reg_done_ = 0;  // repeats of the register event at reg_ already consumed
  std::vector<std::unique_ptr<Buf>> bufs_;
  std::vector<PacketBuffer*> free_;
  // Interrupts (see the header comment).
  InterruptMode irq_ = InterruptMode::kPolling;
  bool has_intx_ = false;
  struct MsixFound {
    bool found = false;
    MsiMessage msg;
  };
  std::vector<MsixFound> msix_;
  std::vector<uint16_t> pending_msi_;  // dev_msi entries passed, not yet delivered
  uint64_t interrupts_ = 0;
};

void CaptureReplay::fetch(const DeviceMemRef& what, const volatile void* src, void* dst,
                          size_t len) {
  (void)src;
  std::memset(dst, 0, len);
  if (diverged_ || what.queue >= kMaxQueues) return;
  QueueState& s = queue(what.queue);
  auto* out = static_cast<uint8_t*>(dst);
  switch (what.part) {
    case MemPart::kUsedIdx:
      if (len >= 2) {
        out[0] = static_cast<uint8_t>(s.visible_used);
        out[1] = static_cast<uint8_t>(s.visible_used >> 8);
      }
      return;
    case MemPart::kUsedFlags: {
      uint16_t q = 0;
      const bool kick = reg_ < end_ && map_.is_notify(ev_[reg_], &q) && q == what.queue;
      if (!kick && len >= 1) out[0] = kUsedFlagNoNotify;
      return;
    }
    case MemPart::kUsedElem: {
      const size_t n = len / 8;
      for (size_t i = 0; i < n; ++i) {
        const uint16_t u = static_cast<uint16_t>(s.handed + i);
        const uint16_t ahead = static_cast<uint16_t>(s.visible_used - s.handed);
        if (i >= ahead || s.fill_at[u] == kNone) {
          diverge(reg_, render([&](TraceWriter& w) {
                    w.begin("fetch");
                    w.u64("q", what.queue);
                    w.str("part", "used_elem");
                    w.u64("idx", what.index);
                    w.u64("len", len);
                    w.end();
                  }),
                  "the driver reads used entry " + std::to_string(u) + " of queue " +
                      std::to_string(what.queue) + ", which the device has not published");
          return;
        }
        const Event& fill = ev_[s.fill_at[u]];
        const uint32_t head = s.head_at[fill.b16];
        if (head == kNone) {
          diverge(s.fill_at[u],
                  "(no chain published in avail slot " + std::to_string(fill.b16) + " of queue " +
                      std::to_string(what.queue) + ")",
                  "dev_fill for an avail slot the driver never published");
          return;
        }
        const uint32_t l = fill.u32;
        for (int k = 0; k < 4; ++k) {
          out[8 * i + k] = static_cast<uint8_t>(head >> (8 * k));
          out[8 * i + 4 + k] = static_cast<uint8_t>(l >> (8 * k));
        }
      }
      s.handed = static_cast<uint16_t>(s.handed + n);
      used_handed_ += n;
      return;
    }
    case MemPart::kRxHeader: {
      const uint16_t k = s.avail_of[what.index];
      const uint32_t f = s.rx_frame_at[k];
      if (f == kNone) {
        diverge(reg_, "(rx header of the chain at avail slot " + std::to_string(k) + ")",
                "the capture has no rx frame for avail slot " + std::to_string(k) + " of queue " +
                    std::to_string(what.queue) + " (convert the capture with --pcap)");
        return;
      }
      // flags 0, gso none, num_buffers (le16 at byte 10) = the frame's buffers.
      if (len >= 12) {
        out[10] = static_cast<uint8_t>(ev_[f].u32);
        out[11] = static_cast<uint8_t>(ev_[f].u32 >> 8);
      }
      return;
    }
    case MemPart::kAvailEvent: {
      // EVENT_IDX: the capture says whether a notification came next; an
      // avail_event one behind the driver's index asks for one (anything
      // published since its last decision crosses it), its index itself
      // for none (2.7.10.2).
      uint16_t q = 0;
      const bool kick = reg_ < end_ && map_.is_notify(ev_[reg_], &q) && q == what.queue;
      const uint16_t event = kick ? static_cast<uint16_t>(s.avail_next - 1) : s.avail_next;
      if (len >= 2) {
        out[0] = static_cast<uint8_t>(event);
        out[1] = static_cast<uint8_t>(event >> 8);
      }
      return;
    }
    case MemPart::kCtrlAck:
      return;
    case MemPart::kPackedDesc:
      // The ring memory itself: what the driver made available there, or
      // the used descriptor a dev_flush wrote over it.
      if (!packed_) return;
      std::memcpy(dst, const_cast<const void*>(src), len);
      if (len > 2) ++used_handed_;  // a used descriptor's len and id: one completion
      return;
    case MemPart::kDeviceEvent: {
      // {le16 off_wrap, le16 flags}: ENABLE when the capture's next
      // register event notifies this queue, DISABLE otherwise.
      uint16_t q = 0;
      const bool kick = reg_ < end_ && map_.is_notify(ev_[reg_], &q) && q == what.queue;
      const uint16_t flags = kick ? kPackedEventEnable : kPackedEventDisable;
      if (len >= 4) {
        out[2] = static_cast<uint8_t>(flags);
        out[3] = static_cast<uint8_t>(flags >> 8);
      }
      return;
    }
  }
}

void CaptureReplay::frame_in_place(uint16_t queue_index, uint16_t desc, void* data, uint32_t len) {
  if (diverged_ || queue_index >= kMaxQueues) return;
  QueueState& s = queue(queue_index);
  const uint16_t k = s.avail_of[desc];
  const uint32_t f = s.rx_frame_at[k];
  if (f == kNone) {
    diverge(reg_, "(frame of the chain at avail slot " + std::to_string(k) + ")",
            "the capture has no rx frame for avail slot " + std::to_string(k));
    return;
  }
  const Event& e = ev_[f];
  if (e.data.len != len) {
    diverge(f, render([&](TraceWriter& w) {
              w.begin("frame");
              w.u64("q", queue_index);
              w.u64("desc", desc);
              w.u64("len", len);
              w.end();
            }),
            "rx frame: the driver announces " + std::to_string(len) +
                " bytes, the device delivered " + std::to_string(e.data.len));
    return;
  }
  std::memcpy(data, t_.data(e.data), len);
  ++rx_delivered_;
}

void CaptureReplay::published(const PublishedChain& chain) {
  if (diverged_ || chain.queue >= kMaxQueues) return;
  QueueState& s = queue(chain.queue);
  // The capture's avail K: the avail index on a split ring, the K-th chain
  // made available on a packed ring (chain.avail_idx is its position).
  uint16_t slot = chain.avail_idx;
  if (packed_) {
    slot = s.chains++;
    s.pos_at[slot] = chain.avail_idx;
  }
  s.head_at[slot] = chain.head;
  s.avail_of[chain.head] = slot;
  s.avail_next = static_cast<uint16_t>(slot + 1);
  ++s.published;
  bool readable_only = true;
  for (uint16_t i = 0; i < chain.num_segments && i < kMaxPublishedSegments; ++i)
    if (chain.segments[i].device_writable) readable_only = false;
  if (!readable_only) return;
  // A transmitted frame: the next captured tx frame, at the same avail slot.
  if (tx_checked_ >= tx_frames_.size()) {
    diverge(reg_, render([&](TraceWriter& w) { trace::write_publish(w, chain); }),
            "the driver transmits a frame the capture does not have");
    return;
  }
  const size_t fi = tx_frames_[tx_checked_++];
  const Event& f = ev_[fi];
  std::vector<uint8_t> bytes;
  for (uint16_t i = 0; i < chain.num_segments && i < kMaxPublishedSegments; ++i) {
    const auto* p = static_cast<const uint8_t*>(chain.segments[i].data);
    if (p != nullptr) bytes.insert(bytes.end(), p, p + chain.segments[i].len);
  }
  const char* why = nullptr;
  if (f.a16 != chain.queue)
    why = "tx frame: queue differs";
  else if (f.b16 != slot)
    why = "tx frame: avail slot differs";
  else if (bytes.size() < hdr_ || bytes.size() - hdr_ != f.data.len ||
           std::memcmp(bytes.data() + hdr_, t_.data(f.data), f.data.len) != 0)
    why = "tx frame: the bytes the driver transmits differ from the captured frame";
  if (why != nullptr)
    diverge(fi, render([&](TraceWriter& w) { trace::write_publish(w, chain); }), why);
}

void CaptureReplay::send(trace::Session& s, size_t n) {
  std::vector<trace::TxFrame> frames;
  for (size_t i = 0; i < n; ++i) {
    const Event& f = ev_[tx_frames_[next_tx_ + i]];
    frames.push_back(trace::TxFrame{t_.data(f.data), f.data.len});
  }
  const uint16_t taken = s.tx_burst(frames.data(), static_cast<uint16_t>(frames.size()));
  if (taken != n && !diverged_)
    diverge(tx_frames_[next_tx_ + taken],
            "(tx_burst took " + std::to_string(taken) + " of " + std::to_string(n) + " frames)",
            "the driver refused a captured tx frame");
  next_tx_ += n;
}

// The caller's side: one API call per step, chosen by the next register
// event R of the capture and the tx frames that are due.
void CaptureReplay::drive(trace::Session& s) {
  const ProbeError pe = s.probe(PciMode::kAuto);
  if (pe != ProbeError::kOk && !diverged_) {
    diverge(reg_, std::string("(probe failed: ") + probe_error_name(pe) + ")",
            "probe found no device where the capture has one");
    return;
  }
  NetOptions options;
  options.interrupts = irq_;
  // A capture of a packed-ring run: our guest accepted the packed ring.
  options.accept_ring_packed = packed_;
  // And INDIRECT_DESC, which our guest accepts by default (issue 14). The
  // captured tx frames are handed over whole (a capture does not say how
  // the guest cut them into fragments), so the replay's driver publishes
  // direct chains where the guest's were indirect: the bytes, the avail
  // slots and the used entries are what the capture checks, and they agree.
  options.accept_indirect_desc = indirect_;
  // And the control queue (issue 15; the guest's ctrl=1): its commands at
  // attach (PROMISC off, ALLMULTI off, ...) are the guest's too, so the
  // register accesses (the control queue's setup and notifications) and
  // the used entries of the control queue (dev_pop/dev_fill/dev_flush)
  // match. QEMU's log has no ack byte: the driver's ack fetch reads 0 (OK),
  // which is what the capture's completion of one byte stands for.
  options.accept_ctrl_vq = ctrl_;
  const AttachError ae = s.attach(options);
  if (ae != AttachError::kOk && !diverged_) {
    diverge(reg_, std::string("(attach failed: ") + attach_error_name(ae) + ")",
            "attach failed where our guest's attach succeeded");
    return;
  }
  for (size_t step = 0; !diverged_; ++step) {
    const size_t before_tx = next_tx_;
    const uint64_t before_reg = registers_;  // register accesses consumed (repeats too)
    const uint64_t before_used = used_handed_;
    if (reg_ >= end_) {
      // No register event left: frames already popped go out, then the
      // completions that are visible are harvested.
      if (const size_t n = due_tx(end_); n != 0) send(s, n);
      drain(s);
      if (next_tx_ == before_tx && used_handed_ == before_used) break;
      continue;
    }
    deliver_msi(s);
    const Event& r = ev_[reg_];
    uint16_t q = 0;
    if (irq_ != InterruptMode::kPolling && s.net().interrupt_mode() == InterruptMode::kIntx &&
        is_isr_read(r)) {
      // The guest's handler acknowledging a line interrupt.
      drain(s);
      if (registers_ == before_reg) {
        s.handle_interrupt(IrqSource::line());
        ++interrupts_;
      }
    } else if (const size_t n = due_tx(reg_); n != 0) {
      // Popped before R without a kick of their own (suppressed): the
      // driver published them earlier.
      drain(s);
      send(s, n);
    } else if (map_.is_notify(r, &q) && q % 2 == 1) {
      drain(s);
      const size_t k = due_tx(next_tx_kick_after(reg_));
      if (k != 0) send(s, k);
    } else if (map_.is_reset(r) || reset_after_config(reg_)) {
      // stop(): with interrupts it first turns them off in configuration
      // space (MSI-X enable), then resets.
      drain(s);
      if (registers_ == before_reg) s.stop();
    } else if (r.kind == EventKind::kRegRead) {
      drain(s);
      if (registers_ == before_reg) s.poll_device();
    } else {
      // An rx kick (after a refill) or nothing the caller starts: the
      // driver's own rx_burst / tx_reclaim.
      drain(s);
    }
    if (!diverged_ && registers_ == before_reg && next_tx_ == before_tx &&
        used_handed_ == before_used) {
      diverge(reg_,
              "(no further register access: rx_burst, tx_reclaim, tx_burst, "
              "poll_device and stop make none that matches)",
              "the driver does not make the capture's next register access");
    }
    if (step > 16 * t_.logical_events + 1024) {
      diverge(reg_, "(the replay makes no progress)", "the replay makes no progress");
    }
  }
}

void CaptureReplay::check_end() {
  if (diverged_) return;
  if (next_tx_ < tx_frames_.size())
    diverge(tx_frames_[next_tx_], "(not transmitted)",
            "a captured tx frame the driver never transmitted");
  else if (tx_checked_ < tx_frames_.size())
    diverge(tx_frames_[tx_checked_], "(not published)",
            "a captured tx frame the driver did not publish");
}

ReplayResult CaptureReplay::run() {
  ReplayResult result;
  {
    surface::SurfaceHook surface;  // VNET_SURFACE: the attack-surface counter
    trace::Session session(surface.wrap(*this), *this, nullptr);
    drive(session);
    check_end();
    result.observed_driver = true;
    result.observed.observe(session.net().counters(), session.net().state());
    result.observed.finish(session.net().counters(), session.net().quarantined());
  }
  result.events_consumed = diverged_ ? div_.event_index : ev_.size();
  result.api_calls = 0;
  if (diverged_) {
    result.divergence = div_;
  } else {
    result.passed = true;
  }
  result.notes.push_back("strict capture replay: " + std::to_string(registers_) +
                         " register accesses matched, " + std::to_string(rx_delivered_) +
                         " rx frames delivered, " + std::to_string(tx_checked_) + " of " +
                         std::to_string(tx_frames_.size()) + " tx frames transmitted byte-exact");
  if (irq_ != InterruptMode::kPolling)
    result.notes.push_back(std::string("interrupts: attached asking for ") +
                           interrupt_mode_name(irq_) + ", " + std::to_string(interrupts_) +
                           " delivered (" +
                           (irq_ == InterruptMode::kMsix ? "MSI-X messages at their dev_msi"
                                                         : "the line, at its ISR reads") +
                           ")");
  return result;
}

}  // namespace

ReplayResult replay_capture_strict(const Trace& trace) {
  if (trace.events.empty() || trace.events.back().kind != EventKind::kEnd) return {};
  // One attempt per interrupt mode the capture may have been made in; the
  // first that passes, or the one that matched the most register accesses.
  ReplayResult best;
  uint64_t best_registers = 0;
  bool have = false;
  for (const InterruptMode mode : CaptureReplay::modes_of(trace)) {
    auto r = std::make_unique<CaptureReplay>(trace, mode);
    ReplayResult result = r->run();
    if (result.passed) return result;
    if (!have || r->registers_matched() > best_registers) {
      best = std::move(result);
      best_registers = r->registers_matched();
      have = true;
    }
  }
  return best;
}

}  // namespace vnet::replay::detail
