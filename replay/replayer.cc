#include "replay/replayer.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "driver/spec/virtio_constants.h"
#include "replay/record/session.h"
#include "replay/record/trace_events.h"
#include "replay/replay_util.h"
#include "surface/surface_hook.h"

namespace vnet::replay {

namespace {

using detail::allocate;
using detail::Memory;
using detail::render;
using trace::TraceWriter;

// The position in the trace, and the divergence once there is one.
class Cursor {
 public:
  explicit Cursor(const Trace& t) : t_(t), events_(t.events.data()) {}

  bool diverged() const { return diverged_; }
  const Event& peek() const { return events_[pos_]; }
  // The next event for a call the driver makes (platform, pool, or the
  // return of an API call). An interrupt recorded at this point of the
  // driver's progress -- a handle_interrupt call line between two of the
  // driver's own events, as a platform that delivers interrupts at once
  // writes it -- is delivered first, one at a time (an interrupt handler
  // is never interrupted), so that the driver meets it where it was taken.
  const Event& at() {
    while (!diverged_ && !in_interrupt_ && deliver_ != nullptr) {
      const Event& e = events_[pos_];
      if (e.kind != EventKind::kCall || e.r8 != static_cast<uint8_t>(ApiFn::kHandleInterrupt))
        break;
      const CallArgs& a = t_.calls[e.u32];
      in_interrupt_ = true;
      deliver_(deliver_context_, a.irq);
      in_interrupt_ = false;
      ++nested_interrupts_;
    }
    return events_[pos_];
  }
  using Deliver = void (*)(void* context, IrqSource source);
  void set_deliver(Deliver deliver, void* context) {
    deliver_ = deliver;
    deliver_context_ = context;
  }
  // Around a handle_interrupt call made by the replay loop itself.
  void set_in_interrupt(bool on) { in_interrupt_ = on; }
  uint64_t nested_interrupts() const { return nested_interrupts_; }
  // A repeated event (format version 2) stays at the front until it has
  // been consumed as many times as it happened.
  void advance() {
    if (done_ + 1 < event_times(events_[pos_])) {
      ++done_;
      return;
    }
    done_ = 0;
    ++pos_;
  }
  size_t pos() const { return pos_; }
  const Trace& trace() const { return t_; }

  // Records the first divergence at the current position.
  void diverge(std::string actual, std::string reason) {
    if (diverged_) return;
    diverged_ = true;
    div_.event_index = pos_;
    div_.expected = std::string(t_.line(t_.event_line[pos_]));
    div_.actual = std::move(actual);
    div_.reason = std::move(reason);
  }
  // Adds to the reason of the divergence (an explanation found after it).
  void explain(const std::string& more) {
    if (diverged_) div_.reason += more;
  }
  // A benign answer after the divergence.
  void benign() { ++benign_; }

  const Divergence& divergence() const { return div_; }
  uint64_t benign_calls() const { return benign_; }

 private:
  const Trace& t_;
  const Event* events_;
  size_t pos_ = 0;
  uint64_t done_ = 0;  // repeats of events_[pos_] already consumed
  Deliver deliver_ = nullptr;
  void* deliver_context_ = nullptr;
  bool in_interrupt_ = false;
  uint64_t nested_interrupts_ = 0;
  bool diverged_ = false;
  Divergence div_;
  uint64_t benign_ = 0;
};

// The recorded result of the call at event call_pos: the first "ret" of
// its function after it (the calls of interrupts nested in it have their
// own), or nullptr when the next top-level call comes first.
const RetValues* recorded_ret(const Trace& t, size_t call_pos, ApiFn fn) {
  for (size_t i = call_pos + 1; i < t.events.size(); ++i) {
    const Event& e = t.events[i];
    if (e.kind == EventKind::kRet && t.rets[e.u32].fn == fn) return &t.rets[e.u32];
    if (e.kind == EventKind::kCall && t.calls[e.u32].fn != ApiFn::kHandleInterrupt) break;
  }
  return nullptr;
}

// Why an attach (or recover) that diverged at a register write did:
// the driver wrote other features than the trace's driver negotiated.
// Names each differing bit, and the ring kind when RING_PACKED is one of
// them (issue 14: a packed trace replayed by a driver that keeps split
// rings, or the other way round). Empty when the features agree.
std::string feature_difference(uint64_t recorded, uint64_t driver) {
  const uint64_t diff = recorded ^ driver;
  if (diff == 0) return "";
  char hex[2][24];
  std::snprintf(hex[0], sizeof hex[0], "0x%llx", static_cast<unsigned long long>(driver));
  std::snprintf(hex[1], sizeof hex[1], "0x%llx", static_cast<unsigned long long>(recorded));
  std::string s = std::string("; the driver negotiates features ") + hex[0] +
                  ", the trace's driver negotiated " + hex[1] + ":";
  for (unsigned bit = 0; bit < 64; ++bit) {
    if ((diff >> bit & 1) == 0) continue;
    const char* name = spec::feature_name(bit);
    s += std::string(" ") + (name != nullptr ? name : "bit") + " (" + std::to_string(bit) + ") " +
         ((driver >> bit & 1) != 0 ? "on here, off in the trace" : "off here, on in the trace") +
         ",";
  }
  s.pop_back();
  const uint64_t packed = spec::feature_mask(spec::Feature::kRingPacked);
  if ((diff & packed) != 0)
    s += (recorded & packed) != 0 ? " -- the trace ran packed rings, this driver keeps split rings "
                                    "(NetOptions::accept_ring_packed, or its negotiation)"
                                  : " -- the trace ran split rings, this driver takes packed rings "
                                    "(NetOptions::accept_ring_packed, or its negotiation)";
  const uint64_t ctrl = spec::feature_mask(spec::Feature::kNetCtrlVq);
  if ((diff & ctrl) != 0)
    s += (recorded & ctrl) != 0
             ? " -- the trace's driver ran a control queue, this one has none "
               "(NetOptions::accept_ctrl_vq, the attach option \"accept_ctrl_vq\")"
             : " -- this driver takes a control queue, the trace's driver had none "
               "(NetOptions::accept_ctrl_vq)";
  return s;
}

// Control commands (5.1.6.5) in words, for divergence reports.
const char* ctrl_class_name(uint8_t cls) {
  static constexpr const char* kNames[] = {"RX", "MAC", "VLAN", "ANNOUNCE", "MQ", "GUEST_OFFLOADS"};
  return cls < sizeof(kNames) / sizeof(kNames[0]) ? kNames[cls] : nullptr;
}
const char* ctrl_command_name(uint8_t cls, uint8_t cmd) {
  static constexpr const char* kRx[] = {"PROMISC", "ALLMULTI", "ALLUNI",
                                        "NOMULTI", "NOUNI",    "NOBCAST"};
  static constexpr const char* kMac[] = {"TABLE_SET", "ADDR_SET"};
  static constexpr const char* kVlan[] = {"ADD", "DEL"};
  static constexpr const char* kMq[] = {"VQ_PAIRS_SET", "RSS_CONFIG", "HASH_CONFIG"};
  switch (cls) {
    case 0:
      return cmd < 6 ? kRx[cmd] : nullptr;
    case 1:
      return cmd < 2 ? kMac[cmd] : nullptr;
    case 2:
      return cmd < 2 ? kVlan[cmd] : nullptr;
    case 3:
      return cmd == 0 ? "ACK" : nullptr;
    case 4:
      return cmd < 3 ? kMq[cmd] : nullptr;
    case 5:
      return cmd == 0 ? "SET" : nullptr;
    default:
      return nullptr;
  }
}

// "class RX (0) command PROMISC (0) data 01" from the readable bytes of a
// control chain: the 2-byte header, then the data parts.
std::string describe_ctrl_command(const std::vector<std::pair<const uint8_t*, uint32_t>>& parts) {
  if (parts.empty() || parts[0].second != 2 || parts[0].first == nullptr) return "(no header)";
  const uint8_t cls = parts[0].first[0], cmd = parts[0].first[1];
  const char* cn = ctrl_class_name(cls);
  const char* mn = ctrl_command_name(cls, cmd);
  std::string s = std::string("class ") + (cn != nullptr ? cn : "?") + " (" + std::to_string(cls) +
                  ") command " + (mn != nullptr ? mn : "?") + " (" + std::to_string(cmd) + ")";
  std::string data;
  for (size_t i = 1; i < parts.size(); ++i) {
    for (uint32_t k = 0; k < parts[i].second && parts[i].first != nullptr; ++k) {
      char h[3];
      std::snprintf(h, sizeof h, "%02x", parts[i].first[k]);
      data += h;
    }
    if (i + 1 < parts.size()) data += " ";
  }
  return s + " data " + (data.empty() ? std::string("(none)") : data);
}

std::string mismatch(const Event& e, EventKind want) {
  if (e.kind != want)
    return std::string("the trace expects ") + trace::event_name(e.kind) + ", the driver called " +
           trace::event_name(want);
  return std::string(trace::event_name(want)) + " differs";
}

class ReplayPlatform final : public Platform {
 public:
  explicit ReplayPlatform(Cursor& c) : c_(c) {}

  uint32_t reg_read(Region region, uint32_t offset, uint8_t width) override {
    if (c_.diverged()) return benign_u32();
    const Event& e = c_.at();
    if (e.kind == EventKind::kRegRead && e.r8 == static_cast<uint8_t>(region) && e.u32 == offset &&
        e.w8 == width) {
      c_.advance();
      return static_cast<uint32_t>(e.u64);
    }
    c_.diverge(render([&](TraceWriter& w) {
                 w.begin("reg_read");
                 w.str("region", trace::region_name(region));
                 w.u64("off", offset);
                 w.u64("w", width);
                 w.end();
               }),
               mismatch(e, EventKind::kRegRead) + " (region, offset or width)");
    return 0;
  }

  void reg_write(Region region, uint32_t offset, uint8_t width, uint32_t value) override {
    if (c_.diverged()) return c_.benign();
    const Event& e = c_.at();
    const char* why = nullptr;
    if (e.kind != EventKind::kRegWrite || e.r8 != static_cast<uint8_t>(region) || e.u32 != offset ||
        e.w8 != width) {
      why = "register differs";
    } else if (e.addr) {
      uint32_t want;
      if (!address_value(e, &want))
        why = "the trace names a DMA region the driver has not allocated";
      else if (want != value)
        why = "value differs from the replay's address of the named DMA region";
    } else if (static_cast<uint32_t>(e.u64) != value) {
      why = "value differs";
    }
    if (why == nullptr) {
      c_.advance();
      return;
    }
    c_.diverge(render([&](TraceWriter& w) {
                 trace::write_reg_write(w, region, offset, width, value, nullptr);
               }),
               e.kind == EventKind::kRegWrite ? std::string("reg_write: ") + why
                                              : mismatch(e, EventKind::kRegWrite));
  }

  BarInfo bar_info(uint8_t bar) override {
    if (c_.diverged()) {
      c_.benign();
      return BarInfo{};
    }
    const Event& e = c_.at();
    if (e.kind == EventKind::kBarInfo && e.a16 == bar) {
      c_.advance();
      return BarInfo{e.b8 != 0, e.c8 != 0, e.u64};
    }
    c_.diverge(render([&](TraceWriter& w) {
                 w.begin("bar_info");
                 w.u64("bar", bar);
                 w.end();
               }),
               mismatch(e, EventKind::kBarInfo));
    return BarInfo{};
  }

  bool dma_alloc(size_t size, size_t align, DmaRegion* out) override {
    if (c_.diverged()) {
      c_.benign();
      return false;
    }
    const Event& e = c_.at();
    if (e.kind != EventKind::kDmaAlloc || e.u64 != size || e.aux != align) {
      c_.diverge(render([&](TraceWriter& w) {
                   w.begin("dma_alloc");
                   w.u64("size", size);
                   w.u64("align", align);
                   w.end();
                 }),
                 mismatch(e, EventKind::kDmaAlloc) + " (size or alignment)");
      return false;
    }
    c_.advance();
    if (!e.b8) return false;
    if (align == 0 || (align & (align - 1)) != 0 || align > (1u << 20) || size > (1u << 30)) {
      // The driver asked for something no platform gives; the recording
      // platform granted it, the replay cannot.
      c_.diverge("(dma_alloc the replayer cannot satisfy)", "dma_alloc: unreasonable request");
      return false;
    }
    const uint64_t page_align = align < 4096 ? 4096 : align;
    next_addr_ = (next_addr_ + page_align - 1) / page_align * page_align;
    Dma d{e.u32, next_addr_, size, allocate(size, align)};
    next_addr_ += size;
    *out = DmaRegion{d.mem.get(), d.addr, size};
    dma_.push_back(std::move(d));
    return true;
  }

  void dma_free(const DmaRegion& region) override {
    uint32_t id = kNoId;
    for (size_t i = 0; i < dma_.size(); ++i) {
      if (dma_[i].addr == region.device_addr && dma_[i].mem.get() == region.cpu) {
        id = dma_[i].id;
        dma_.erase(dma_.begin() + static_cast<ptrdiff_t>(i));
        break;
      }
    }
    if (c_.diverged()) return c_.benign();
    const Event& e = c_.at();
    if (e.kind == EventKind::kDmaFree && e.u32 == id && id != kNoId) {
      c_.advance();
      return;
    }
    c_.diverge(render([&](TraceWriter& w) {
                 trace::write_dma_free(w, id == kNoId ? trace::kUnknownId : id);
               }),
               id == kNoId ? "dma_free of memory the replayer never allocated"
                           : mismatch(e, EventKind::kDmaFree) + " (region)");
  }

  void fetch(const DeviceMemRef& what, const volatile void* src, void* dst, size_t len) override {
    (void)src;
    if (!c_.diverged()) {
      const Event& e = c_.at();
      if (e.kind == EventKind::kFetch && e.a16 == what.queue &&
          e.r8 == static_cast<uint8_t>(what.part) && e.b16 == what.index &&
          (e.c8 != 0) == what.recheck && e.data.len == len) {
        c_.advance();
        std::memcpy(dst, c_.trace().data(e.data), len);
        return;
      }
      c_.diverge(render([&](TraceWriter& w) {
                   w.begin("fetch");
                   w.u64("q", what.queue);
                   w.str("part", trace::mem_part_name(what.part));
                   w.u64("idx", what.index);
                   if (what.recheck) w.boolean("recheck", true);
                   w.u64("len", len);
                   w.end();
                 }),
                 fetch_reason(e, what));
    } else {
      c_.benign();
    }
    std::memset(dst, 0, len);
  }

  // Why a fetch diverged; a control queue's ack read (issue 15) in words.
  std::string fetch_reason(const Event& e, const DeviceMemRef& what) const {
    const uint8_t ack = static_cast<uint8_t>(MemPart::kCtrlAck);
    const bool trace_ack = e.kind == EventKind::kFetch && e.r8 == ack;
    const bool driver_ack = what.part == MemPart::kCtrlAck;
    std::string r = mismatch(e, EventKind::kFetch) + " (queue, part, index, recheck or length)";
    if (trace_ack && driver_ack)
      r += " -- the control command's ack read differs: the trace reads the ack of the chain at "
           "head " +
           std::to_string(e.b16) + " on queue " + std::to_string(e.a16) +
           ", the driver the ack of head " + std::to_string(what.index) + " on queue " +
           std::to_string(what.queue);
    else if (trace_ack)
      r += " -- the trace reads a control command's ack (head " + std::to_string(e.b16) +
           " on queue " + std::to_string(e.a16) + ") here, the driver reads " +
           trace::mem_part_name(what.part);
    else if (driver_ack)
      r += " -- the driver reads a control command's ack (head " + std::to_string(what.index) +
           " on queue " + std::to_string(what.queue) + ") where the trace has none";
    return r;
  }

  void frame_in_place(uint16_t queue, uint16_t desc, void* data, uint32_t len) override {
    if (c_.diverged()) return c_.benign();
    const Event& e = c_.at();
    if (e.kind == EventKind::kFrame && e.a16 == queue && e.b16 == desc && e.data.len == len) {
      c_.advance();
      std::memcpy(data, c_.trace().data(e.data), len);
      return;
    }
    c_.diverge(render([&](TraceWriter& w) {
                 w.begin("frame");
                 w.u64("q", queue);
                 w.u64("desc", desc);
                 w.u64("len", len);
                 w.end();
               }),
               mismatch(e, EventKind::kFrame) + " (queue, descriptor or length)");
  }

  void published(const PublishedChain& chain) override {
    if (c_.diverged()) return c_.benign();
    const Event& e = c_.at();
    const char* why = publish_differs(e, chain);
    if (why == nullptr) {
      c_.advance();
      return;
    }
    trace::AddrRef table;
    const bool named = chain.indirect && table_ref(chain.table_addr, &table);
    std::string reason = e.kind == EventKind::kPublish ? std::string("publish: ") + why
                                                       : mismatch(e, EventKind::kPublish);
    // A control command (issue 15): say which command each side sent.
    const bool trace_ctrl = e.kind == EventKind::kPublish && is_ctrl_chain(e);
    const bool driver_ctrl = is_ctrl_chain(chain);
    if (trace_ctrl || driver_ctrl) {
      reason += trace_ctrl && driver_ctrl ? " -- the control command differs: the trace's is "
                                          : " -- a control command: the trace's chain is ";
      reason +=
          trace_ctrl ? describe_ctrl_command(ctrl_parts(e)) : std::string("no control command");
      reason += ", the driver's is ";
      reason += driver_ctrl ? describe_ctrl_command(ctrl_parts(chain))
                            : std::string("no control command");
    }
    c_.diverge(
        render([&](TraceWriter& w) { trace::write_publish(w, chain, named ? &table : nullptr); }),
        reason);
  }

  // The shape of a control command's chain (control_queue.h): a readable
  // 2-byte header first, the 1-byte writable ack last; data parts between.
  bool is_ctrl_chain(const Event& e) const {
    if (e.w8 < 2 || e.c8 != 0) return false;
    const Segment& first = c_.trace().segments[e.aux];
    const Segment& last = c_.trace().segments[e.aux + e.w8 - 1];
    return !first.writable && first.len == 2 && last.writable && last.len == 1;
  }
  static bool is_ctrl_chain(const PublishedChain& ch) {
    if (ch.num_segments < 2 || ch.indirect || ch.num_segments > kMaxChainSegments) return false;
    const ChainSegment& first = ch.segments[0];
    const ChainSegment& last = ch.segments[ch.num_segments - 1];
    return !first.device_writable && first.len == 2 && last.device_writable && last.len == 1;
  }
  std::vector<std::pair<const uint8_t*, uint32_t>> ctrl_parts(const Event& e) const {
    std::vector<std::pair<const uint8_t*, uint32_t>> v;
    for (uint8_t i = 0; i < e.w8; ++i) {
      const Segment& sg = c_.trace().segments[e.aux + i];
      if (!sg.writable) v.emplace_back(c_.trace().data(sg.data), sg.len);
    }
    return v;
  }
  static std::vector<std::pair<const uint8_t*, uint32_t>> ctrl_parts(const PublishedChain& ch) {
    std::vector<std::pair<const uint8_t*, uint32_t>> v;
    for (uint16_t i = 0; i < ch.num_segments; ++i)
      if (!ch.segments[i].device_writable)
        v.emplace_back(static_cast<const uint8_t*>(ch.segments[i].data), ch.segments[i].len);
    return v;
  }

  void completed(uint16_t queue, uint16_t head, uint32_t len) override {
    if (c_.diverged()) return c_.benign();
    const Event& e = c_.at();
    if (e.kind == EventKind::kComplete && e.a16 == queue && e.b16 == head && e.u32 == len) {
      c_.advance();
      return;
    }
    c_.diverge(render([&](TraceWriter& w) { trace::write_complete(w, queue, head, len); }),
               mismatch(e, EventKind::kComplete));
  }

  void barrier(Barrier kind) override {
    if (c_.diverged()) return c_.benign();
    const Event& e = c_.at();
    if (e.kind == EventKind::kBarrier && e.r8 == static_cast<uint8_t>(kind)) {
      c_.advance();
      return;
    }
    c_.diverge(render([&](TraceWriter& w) { trace::write_barrier(w, kind); }),
               mismatch(e, EventKind::kBarrier));
  }

  bool wait_interrupt(uint64_t timeout_ns) override {
    if (c_.diverged()) {
      c_.benign();
      return false;
    }
    const Event& e = c_.at();
    if (e.kind == EventKind::kWaitIrq && e.u64 == timeout_ns) {
      c_.advance();
      return e.b8 != 0;
    }
    c_.diverge(render([&](TraceWriter& w) {
                 w.begin("wait_irq");
                 w.u64("timeout", timeout_ns);
                 w.end();
               }),
               mismatch(e, EventKind::kWaitIrq));
    return false;
  }

  uint64_t now_ns() override {
    if (c_.diverged()) {
      c_.benign();
      // The clock jumps a second per read after the divergence, so that a
      // wait bounded only by a deadline (a control command's completion,
      // issue 15) ends instead of spinning on benign answers forever.
      benign_clock_ += kBenignClockStep;
      return benign_clock_;
    }
    const Event& e = c_.at();
    if (e.kind == EventKind::kNow) {
      c_.advance();
      benign_clock_ = e.u64;
      return e.u64;
    }
    c_.diverge(render([&](TraceWriter& w) {
                 w.begin("now");
                 w.end();
               }),
               mismatch(e, EventKind::kNow));
    return 0;
  }

  void log(LogLevel level, const char* message) override {
    if (c_.diverged()) return c_.benign();
    const Event& e = c_.at();
    const size_t n = std::strlen(message);
    if (e.kind == EventKind::kLog && e.r8 == static_cast<uint8_t>(level) && e.data.len == n &&
        std::memcmp(c_.trace().data(e.data), message, n) == 0) {
      c_.advance();
      return;
    }
    c_.diverge(render([&](TraceWriter& w) { trace::write_log(w, level, message); }),
               mismatch(e, EventKind::kLog));
  }

  void op_begin(DriverOp op) override { op_event(true, op); }
  void op_end(DriverOp op) override { op_event(false, op); }

  uint16_t msi_messages(uint16_t max, MsiMessage* out) override {
    if (c_.diverged()) {
      c_.benign();
      return 0;
    }
    const Event& e = c_.at();
    if (e.kind == EventKind::kMsiMessages && e.a16 == max) {
      c_.advance();
      // count <= max: the loader refuses more.
      const uint16_t n = static_cast<uint16_t>(e.u32);
      for (uint16_t i = 0; i < n; ++i) out[i] = msi_message(c_.trace(), e, i);
      return n;
    }
    c_.diverge(render([&](TraceWriter& w) {
                 w.begin("msi_messages");
                 w.u64("max", max);
                 w.end();
               }),
               mismatch(e, EventKind::kMsiMessages) + " (max)");
    return 0;
  }

  bool line_interrupt() override {
    if (c_.diverged()) {
      c_.benign();
      return false;
    }
    const Event& e = c_.at();
    if (e.kind == EventKind::kLineInterrupt) {
      c_.advance();
      return e.b8 != 0;
    }
    c_.diverge(render([&](TraceWriter& w) {
                 w.begin("line_interrupt");
                 w.end();
               }),
               mismatch(e, EventKind::kLineInterrupt));
    return false;
  }

  void arm_interrupts(InterruptMode mode, uint16_t vectors) override {
    if (c_.diverged()) return c_.benign();
    const Event& e = c_.at();
    if (e.kind == EventKind::kArmInterrupts && e.r8 == static_cast<uint8_t>(mode) &&
        e.a16 == vectors) {
      c_.advance();
      return;
    }
    c_.diverge(render([&](TraceWriter& w) { trace::write_arm_interrupts(w, mode, vectors); }),
               e.kind == EventKind::kArmInterrupts ? "arm_interrupts: mode or vectors differ"
                                                   : mismatch(e, EventKind::kArmInterrupts));
  }

 private:
  struct Dma {
    uint32_t id;
    uint64_t addr;
    size_t size;
    Memory mem;
  };

  uint32_t benign_u32() {
    c_.benign();
    return 0;
  }

  bool address_value(const Event& e, uint32_t* out) const {
    for (const Dma& d : dma_) {
      if (d.id != e.u64) continue;
      const uint64_t a = d.addr + e.aux;
      switch (static_cast<AddrForm>(e.f8)) {
        case AddrForm::kLo32:
          *out = static_cast<uint32_t>(a);
          return true;
        case AddrForm::kHi32:
          *out = static_cast<uint32_t>(a >> 32);
          return true;
        case AddrForm::kPfn:
          *out = static_cast<uint32_t>(a >> 12);
          return true;
      }
    }
    return false;
  }

  const char* publish_differs(const Event& e, const PublishedChain& chain) const {
    if (e.kind != EventKind::kPublish) return "event";
    if (e.a16 != chain.queue) return "queue differs";
    if (e.b16 != chain.avail_idx) return "avail index differs";
    if (e.u32 != chain.head) return "head differs";
    // Indirect chains (issue 14): the kind of chain first, then (below)
    // where its table is.
    if ((e.c8 != 0) != chain.indirect)
      return e.c8 != 0 ? "the trace's chain is indirect (a table of descriptors), the driver "
                         "published a direct chain"
                       : "the trace's chain is direct, the driver published an indirect chain "
                         "(a table of descriptors)";
    if (e.w8 != chain.num_segments)
      return chain.indirect ? "number of segments (entries of the indirect table) differs"
                            : "number of segments differs";
    if (chain.indirect && static_cast<uint32_t>(e.u64 >> 32) != kNoId) {
      trace::AddrRef got;
      if (!table_ref(chain.table_addr, &got))
        return "the driver's indirect table lies in no DMA region it allocated";
      if (got.dma_id != static_cast<uint32_t>(e.u64 >> 32) ||
          got.offset != static_cast<uint32_t>(e.u64))
        return "the indirect table is at another place (DMA region or offset) than the trace's";
    }
    const Trace& t = c_.trace();
    for (uint16_t i = 0; i < chain.num_segments && i < kMaxPublishedSegments; ++i) {
      const Segment& want = t.segments[e.aux + i];
      const ChainSegment& got = chain.segments[i];
      if (want.desc != got.desc) return "a segment's descriptor differs";
      if (want.len != got.len) return "a segment's length differs";
      if (want.writable != got.device_writable) return "a segment's direction differs";
      if (!want.writable &&
          (got.data == nullptr || std::memcmp(t.data(want.data), got.data, want.len) != 0))
        return chain.indirect ? "the bytes the driver published differ (an indirect table entry)"
                              : "the bytes the driver published differ";
    }
    return nullptr;
  }

  // The DMA region (id and offset) a device address lies in.
  bool table_ref(uint64_t addr, trace::AddrRef* out) const {
    for (const Dma& d : dma_) {
      if (addr >= d.addr && addr - d.addr < d.size) {
        *out = trace::AddrRef{d.id, addr - d.addr, AddrForm::kLo32};
        return true;
      }
    }
    return false;
  }

  void op_event(bool begin, DriverOp op) {
    if (c_.diverged()) return c_.benign();
    const Event& e = c_.at();
    const EventKind want = begin ? EventKind::kOpBegin : EventKind::kOpEnd;
    if (e.kind == want && e.r8 == static_cast<uint8_t>(op)) {
      c_.advance();
      return;
    }
    c_.diverge(render([&](TraceWriter& w) { trace::write_op(w, begin, op); }), mismatch(e, want));
  }

  static constexpr uint64_t kBenignClockStep = 1'000'000'000;
  uint64_t benign_clock_ = 0;  // the last time answered (see now_ns)
  Cursor& c_;
  std::vector<Dma> dma_;
  uint64_t next_addr_ = kDmaBase;
};

class ReplayPool final : public BufferPool {
 public:
  ReplayPool(Cursor& c, uint32_t buffer_size) : c_(c), size_(buffer_size) {}

  PacketBuffer* alloc() override {
    if (c_.diverged()) {
      c_.benign();
      return nullptr;
    }
    const Event& e = c_.at();
    if (e.kind != EventKind::kPoolAlloc) {
      c_.diverge(render([&](TraceWriter& w) {
                   w.begin("pool_alloc");
                   w.end();
                 }),
                 mismatch(e, EventKind::kPoolAlloc));
      return nullptr;
    }
    if (!e.b8) {
      c_.advance();
      return nullptr;
    }
    const uint32_t id = e.u32;
    if (id == kNoId || id >= kMaxBuffers) {
      c_.diverge("(pool_alloc)", "the trace hands out a buffer without a usable id");
      return nullptr;
    }
    if (id >= bufs_.size()) bufs_.resize(id + 1);
    if (!bufs_[id]) {
      auto b = std::make_unique<Buf>();
      b->mem = allocate(size_, 64);
      b->pb.base = b->mem.get();
      b->pb.device_addr = kPoolBase + uint64_t{id} * size_;
      b->pb.capacity = size_;
      b->pb.pool_cookie = reinterpret_cast<void*>(static_cast<uintptr_t>(id));
      bufs_[id] = std::move(b);
    }
    Buf& b = *bufs_[id];
    if (b.lent) {
      c_.diverge("(pool_alloc of buffer " + std::to_string(id) + ", still lent to the driver)",
                 "the trace hands out a buffer the driver still holds");
      return nullptr;
    }
    c_.advance();
    b.lent = true;
    b.pb.offset = 0;
    b.pb.len = 0;
    return &b.pb;
  }

  void free(PacketBuffer* buffer) override {
    const uint32_t id = id_of(buffer);
    if (id != kNoId) bufs_[id]->lent = false;
    if (c_.diverged()) return c_.benign();
    const Event& e = c_.at();
    if (e.kind == EventKind::kPoolFree && e.u32 == id && id != kNoId) {
      c_.advance();
      return;
    }
    c_.diverge(render([&](TraceWriter& w) {
                 trace::write_pool_free(w, id == kNoId ? trace::kUnknownId : id);
               }),
               id == kNoId ? "the driver freed a buffer the pool never lent"
                           : mismatch(e, EventKind::kPoolFree) + " (buffer)");
  }

  static constexpr uint32_t kMaxBuffers = 1u << 20;

 private:
  struct Buf {
    PacketBuffer pb;
    Memory mem;
    bool lent = false;
  };

  uint32_t id_of(const PacketBuffer* b) const {
    if (b == nullptr) return kNoId;
    // pool_cookie is the pool's own (packet_buffer.h); the driver only hands
    // back pointers it was given, and the cookie is trusted only when the
    // buffer with that id is this very object.
    const uintptr_t id = reinterpret_cast<uintptr_t>(b->pool_cookie);
    if (id < bufs_.size() && bufs_[id] && &bufs_[id]->pb == b) return static_cast<uint32_t>(id);
    return kNoId;
  }

  Cursor& c_;
  uint32_t size_;
  std::vector<std::unique_ptr<Buf>> bufs_;
};

class ReplayTap final : public trace::SessionTap {
 public:
  explicit ReplayTap(Cursor& c) : c_(c) {}

  void on_call(const trace::ApiCall& call) override {
    if (c_.diverged()) return;
    const Event& e = c_.peek();
    if (e.kind == EventKind::kCall && e.r8 == static_cast<uint8_t>(call.fn)) {
      c_.advance();
      return;
    }
    c_.diverge(render([&](TraceWriter& w) { trace::write_call(w, call); }),
               mismatch(e, EventKind::kCall));
  }

  void on_return(const trace::ApiResult& r) override {
    if (c_.diverged()) return;
    const Event& e = c_.at();
    std::string frames_why;
    const char* why = ret_differs(e, r);
    if (why == nullptr && e.kind == EventKind::kRet && r.fn == ApiFn::kRxBurst) {
      // What the driver delivered (issue 16): buffers and offload results.
      frames_why = delivered_differs(c_.trace().rets[e.u32], r);
      if (!frames_why.empty()) why = "the delivered frames differ";
    }
    if (why == nullptr) {
      c_.advance();
      return;
    }
    std::string reason = why;
    if (!frames_why.empty()) reason += ": " + frames_why;
    if (e.kind == EventKind::kRet && trace::is_control_fn(r.fn) &&
        std::strcmp(why, "return value differs") == 0) {
      const RetValues& want = c_.trace().rets[e.u32];
      reason = std::string("the control command's result differs: the trace's ") +
               trace::api_fn_name(r.fn) + " returned " +
               trace::ctrl_result_trace_name(static_cast<CtrlResult>(want.value)) +
               ", the driver's " + trace::ctrl_result_trace_name(static_cast<CtrlResult>(r.value));
      // The ack the trace's device wrote for this command, when it read one.
      const Trace& t = c_.trace();
      for (size_t i = c_.pos(); i-- > 0;) {
        const Event& f = t.events[i];
        if (f.kind == EventKind::kCall) break;
        if (f.kind == EventKind::kFetch && f.r8 == static_cast<uint8_t>(MemPart::kCtrlAck) &&
            f.data.len == 1) {
          const uint8_t ack = t.data(f.data)[0];
          char hex[8];
          std::snprintf(hex, sizeof hex, "%02x", ack);
          reason += std::string(" (the command's ack in the trace, line ") +
                    std::to_string(t.event_line[i]) + ": " + hex +
                    (ack == 0   ? " = OK"
                     : ack == 1 ? " = ERR"
                                : " = neither OK nor ERR") +
                    ")";
          break;
        }
      }
    }
    c_.diverge(render([&](TraceWriter& w) { trace::write_ret(w, r); }),
               e.kind == EventKind::kRet
                   ? std::string("ret: ") + reason
                   : std::string("the driver returned from ") + trace::api_fn_name(r.fn) +
                         " where the trace expects " + trace::event_name(e.kind));
  }

 private:
  // rx_burst: the frames the driver delivered against the trace's
  // "delivered" (absent: each one buffer without an offload result), in
  // words; empty when they agree. The count is the return value, checked
  // before.
  static std::string delivered_differs(const RetValues& want, const trace::ApiResult& r) {
    if (r.delivered == nullptr) return "";
    for (uint32_t i = 0; i < r.value; ++i) {
      const PacketBuffer* b = r.delivered[i];
      if (b == nullptr) continue;
      const std::string which =
          "frame " + std::to_string(i + 1) + " of " + std::to_string(r.value) + ": ";
      std::vector<uint32_t> have;
      for (const PacketBuffer* x = b; x != nullptr && have.size() <= 0xFFFF; x = x->next)
        have.push_back(x->len);
      static const DeliveredFrame kPlain{};
      const DeliveredFrame& w =
          want.has_delivered && i < want.delivered.size() ? want.delivered[i] : kPlain;
      const bool plain = !want.has_delivered;
      auto lens = [](const std::vector<uint32_t>& v) {
        std::string s;
        for (uint32_t x : v) s += (s.empty() ? "" : "+") + std::to_string(x);
        return s;
      };
      if (plain ? have.size() != 1 : have != w.bufs) {
        if (plain)
          return which + "the trace's was one buffer (no \"delivered\": no receive chains), " +
                 "the driver delivered " + std::to_string(have.size()) + " buffers (" + lens(have) +
                 ")";
        if (have.size() != w.bufs.size())
          return which + "the trace's was " + std::to_string(w.bufs.size()) + " buffers (" +
                 lens(w.bufs) + "), the driver delivered " + std::to_string(have.size()) + " (" +
                 lens(have) + ")";
        return which + "buffer lengths differ: the trace's " + lens(w.bufs) + ", the driver's " +
               lens(have);
      }
      const std::string off = offload_difference(w.offload, b->offload);
      if (!off.empty())
        return which + "the offload result differs: " + off +
               (plain ? " (no \"delivered\" in the trace: no offload results)" : "");
    }
    return "";
  }

  // The first field of two PacketOffloads that differs, as "field: the
  // trace's X, the driver's Y"; empty when they are equal.
  static std::string offload_difference(const PacketOffload& a, const PacketOffload& b) {
    auto num = [](const char* f, uint32_t x, uint32_t y) {
      return std::string(f) + ": the trace's " + std::to_string(x) + ", the driver's " +
             std::to_string(y);
    };
    if (a.csum != b.csum)
      return std::string("csum: the trace's ") + trace::csum_state_name(a.csum) +
             ", the driver's " + trace::csum_state_name(b.csum);
    if (a.csum_start != b.csum_start) return num("csum_start", a.csum_start, b.csum_start);
    if (a.csum_offset != b.csum_offset) return num("csum_offset", a.csum_offset, b.csum_offset);
    if (a.gso != b.gso)
      return std::string("gso: the trace's ") + trace::gso_kind_name(a.gso) + ", the driver's " +
             trace::gso_kind_name(b.gso);
    if (a.gso_size != b.gso_size) return num("gso_size", a.gso_size, b.gso_size);
    if (a.hdr_len != b.hdr_len) return num("hdr_len", a.hdr_len, b.hdr_len);
    if (a.ecn != b.ecn) return num("ecn", a.ecn, b.ecn);
    return "";
  }

  const char* ret_differs(const Event& e, const trace::ApiResult& r) const {
    if (e.kind != EventKind::kRet) return "event";
    const RetValues& want = c_.trace().rets[e.u32];
    if (want.fn != r.fn) return "function differs";
    if (want.value != r.value) return "return value differs";
    if (want.state != r.state) return "driver state differs";
    if (r.fn == ApiFn::kProbe || r.fn == ApiFn::kProbeMmio) {
      if (want.has_transport != (r.transport != nullptr)) return "transport differs";
      if (want.has_transport && want.transport != r.transport) return "transport differs";
    }
    if (want.has_negotiated) {
      if (want.features != r.features) return "negotiated features differ";
      if (want.hdr_size != r.hdr_size) return "header size differs";
      if (want.mtu != r.mtu) return "mtu differs";
      if (std::memcmp(want.mac, r.mac, 6) != 0) return "mac differs";
    }
    if (want.has_link && want.link_up != r.link_up) return "link state differs";
    if (want.has_events) {
      const DeviceEvents& a = want.events;
      const DeviceEvents& b = r.events;
      if (a.config_changed != b.config_changed || a.link_changed != b.link_changed ||
          a.reset_detected != b.reset_detected || a.tx_timeout != b.tx_timeout ||
          a.reset_deferred != b.reset_deferred || a.recovered != b.recovered ||
          a.announce != b.announce)
        return "device events differ";
    }
    return nullptr;
  }

  Cursor& c_;
};

}  // namespace

const char* replay_mode_name(ReplayMode mode) {
  return mode == ReplayMode::kDevice ? "device" : "strict";
}

bool parse_replay_mode(const std::string& name, ReplayMode* out) {
  if (name == "strict") {
    *out = ReplayMode::kStrict;
    return true;
  }
  if (name == "device") {
    *out = ReplayMode::kDevice;
    return true;
  }
  return false;
}

ReplayResult replay(const Trace& t, ReplayMode mode) {
  if (mode == ReplayMode::kDevice) {
    if (t.kind != TraceKind::kCapture) {
      ReplayResult r;
      r.unusable = true;
      // Say why this trace is not a capture, from what decided it.
      std::string why;
      if (t.kind_line != 0) {
        why = "line " + std::to_string(t.kind_line) +
              " is a call line or names a DMA address, which only recordings have: it is a "
              "recording, replay it in strict mode";
      } else if (t.header.capture) {
        why =
            "its header says it was converted from a capture, but it has no capture event "
            "(no mark, dev_pop/dev_fill/dev_flush/dev_irq/dev_frame, or ring-named address): "
            "the conversion found nothing of the NIC's device side (trace2json reports it, "
            "and writes such a trace only with --accept-incomplete)";
      } else {
        why =
            "it has neither a \"capture\" header nor any capture event, and no call line "
            "either: nothing in it drives a replay";
      }
      r.error =
          "device mode replays converted captures (trace2json output: dev_frame events, a "
          "\"capture\" header); this trace is not one: " +
          why;
      return r;
    }
    return detail::replay_capture_device(t);
  }
  if (t.kind == TraceKind::kCapture) return detail::replay_capture_strict(t);
  return detail::replay_recording(t);
}

ReplayResult detail::replay_recording(const Trace& t) {
  ReplayResult result;
  if (t.events.empty() || t.events.back().kind != EventKind::kEnd) return result;
  Cursor c(t);
  ReplayPlatform platform(c);
  ReplayPool pool(c, t.header.pool_buffer_size);
  ReplayTap tap(c);
  surface::SurfaceHook surface;  // VNET_SURFACE: the attack-surface counter
  auto session = std::make_unique<trace::Session>(surface.wrap(platform), pool, &tap);
  std::vector<trace::TxFrame> frames;
  bool finished = false;
  verdict::Observation& seen = result.observed;
  result.observed_driver = true;
  c.set_deliver(
      [](void* s, IrqSource source) { static_cast<trace::Session*>(s)->handle_interrupt(source); },
      session.get());
  while (!c.diverged()) {
    const Event& e = c.peek();
    if (e.kind == EventKind::kEnd) {
      c.advance();
      finished = true;
      break;
    }
    if (e.kind != EventKind::kCall) {
      c.diverge("(the caller's next API call: the driver made no further platform call)",
                std::string("the trace expects ") + trace::event_name(e.kind) +
                    " before the next API call");
      break;
    }
    const CallArgs& a = t.calls[e.u32];
    const size_t call_pos = c.pos();
    ++result.api_calls;
    // The verdict sees a stop() with the state it found the driver in.
    const NetState state_before = session->net().state();
    switch (a.fn) {
      case ApiFn::kProbe:
        session->probe(a.mode);
        seen.observe_probe(session->probe_result());
        break;
      case ApiFn::kProbeMmio:
        session->probe_mmio(a.window);
        seen.observe_probe(session->probe_result());
        break;
      case ApiFn::kAttach:
        seen.observe_attach(session->attach(a.options));
        break;
      case ApiFn::kRxBurst:
        session->rx_burst_on(a.pair, a.max);
        break;
      case ApiFn::kTxBurst:
        frames.clear();
        for (size_t k = 0; k < a.frames.size(); ++k) {
          const Bytes& b = a.frames[k];
          trace::TxFrame f{t.data(b), b.len};
          if (k < a.frags.size() && a.frags[k].size() > 1) {
            f.frag_lens = a.frags[k].data();
            f.num_frags = static_cast<uint16_t>(a.frags[k].size());
          }
          frames.push_back(f);
        }
        // Offload requests (issue 16) as recorded: into each frame's first
        // buffer, as the recording caller put them.
        session->tx_burst_offload_on(
            a.pair, frames.data(), a.offloads.size() == frames.size() ? a.offloads.data() : nullptr,
            static_cast<uint16_t>(frames.size()));
        break;
      case ApiFn::kTxReclaim:
        session->tx_reclaim_on(a.pair);
        break;
      case ApiFn::kPollDevice:
        session->poll_device();
        break;
      case ApiFn::kRecover:
        session->recover();
        break;
      case ApiFn::kStop:
        session->stop();
        break;
      case ApiFn::kSetRxInterrupts:
        session->set_rx_interrupts(a.pair, a.enabled);
        break;
      case ApiFn::kSetTxInterrupts:
        session->set_tx_interrupts(a.pair, a.enabled);
        break;
      case ApiFn::kSetRxMode:
        session->set_rx_mode(a.rx_mode, a.enabled);
        break;
      case ApiFn::kSetMacFilter:
        session->set_mac_filter(a.unicast.data(), static_cast<uint16_t>(a.unicast.size()),
                                a.multicast.data(), static_cast<uint16_t>(a.multicast.size()));
        break;
      case ApiFn::kSetMacAddress:
        session->set_mac_address(a.mac);
        break;
      case ApiFn::kAddVlan:
        session->add_vlan(a.vid);
        break;
      case ApiFn::kRemoveVlan:
        session->remove_vlan(a.vid);
        break;
      case ApiFn::kSetQueuePairs:
        session->set_queue_pairs(a.pairs);
        break;
      case ApiFn::kSetRss:
        if (a.rss != nullptr) session->set_rss(*a.rss);
        break;
      case ApiFn::kSetGuestOffloads:
        session->set_guest_offloads(a.guest_offloads);
        break;
      case ApiFn::kHandleInterrupt:
        c.set_in_interrupt(true);
        session->handle_interrupt(a.irq);
        c.set_in_interrupt(false);
        break;
    }
    // An attach or recover that diverged at a register write: say so when
    // the driver negotiated other features than the trace's driver (the
    // feature write itself is then the divergence).
    if ((a.fn == ApiFn::kAttach || a.fn == ApiFn::kRecover) && c.diverged() &&
        c.divergence().event_index >= call_pos &&
        t.events[c.divergence().event_index].kind == EventKind::kRegWrite) {
      const RetValues* want = recorded_ret(t, call_pos, a.fn);
      const uint64_t have = session->net().negotiated_features();
      if (want != nullptr && want->has_negotiated && have != 0)
        c.explain(feature_difference(want->features, have));
    }
    seen.observe(session->net().counters(),
                 a.fn == ApiFn::kStop ? state_before : session->net().state());
  }
  seen.finish(session->net().counters(), session->net().quarantined());
  session.reset();
  result.api_calls += c.nested_interrupts();
  result.events_consumed = c.pos();
  result.benign_calls = c.benign_calls();
  if (c.diverged())
    result.divergence = c.divergence();
  else
    result.passed = finished;
  return result;
}

}  // namespace vnet::replay
