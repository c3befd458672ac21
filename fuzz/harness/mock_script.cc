#include "fuzz/harness/mock_script.h"

#include "fuzz/harness/ctrl_script.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz/harness/findings.h"
#include "mock_device/fault.h"

namespace vnet::fuzz {

namespace {

struct UsedEdit {
  UsedEditKind kind;
  uint32_t value;
};

struct FlagsEdit {
  uint8_t mode;
  uint16_t value;
};

struct RxEdit {
  bool armed = false;
  uint8_t hdr[12] = {};
  uint8_t len_mode = 0;
  uint16_t len_value = 0;
};

// Per input: pending rewrites of the device's next used entries.
struct HookState {
  static constexpr int kDepth = 16;
  World* world = nullptr;
  UsedEdit edits[2][kDepth] = {};
  int head[2] = {0, 0};
  int count[2] = {0, 0};
  FlagsEdit flags[2][kDepth] = {};
  int flags_head[2] = {0, 0};
  int flags_count[2] = {0, 0};
  RxEdit rx;
};

// 2.8.1: a used descriptor's AVAIL (bit 7) and USED (bit 15).
constexpr uint16_t kPackedAvail = uint16_t{1} << 7;
constexpr uint16_t kPackedUsed = uint16_t{1} << 15;

// On a packed ring the device's used descriptors share the ring with the
// driver's available ones: a lie about where or with which flags it writes
// one rewrites a descriptor the driver wrote, and the device may later read
// its own garbage back as an available chain (a readable receive buffer, a
// tx chain of no bytes). Chain rules are then no longer the driver's alone.
void note_packed_ring_written(World& w) {
  if (w.device().ring_packed()) w.note_descriptors_rewritten();
}

void edit_flags(HookState& h, mock::UsedEntry& e) {
  if (!e.packed || e.queue > 1 || h.flags_count[e.queue] == 0) return;
  const FlagsEdit ed = h.flags[e.queue][h.flags_head[e.queue]];
  h.flags_head[e.queue] = (h.flags_head[e.queue] + 1) % HookState::kDepth;
  --h.flags_count[e.queue];
  const uint16_t both = kPackedAvail | kPackedUsed;
  switch (ed.mode % 4) {
    case 0:
      e.flags = ed.value;
      break;
    case 1:
      e.flags ^= ed.value;
      break;
    case 2:  // the previous lap's used pattern
      e.flags = static_cast<uint16_t>((e.flags & ~both) | (e.used_wrap ? 0 : both));
      break;
    case 3:  // "still available" in this lap
      e.flags =
          static_cast<uint16_t>((e.flags & ~both) | (e.used_wrap ? kPackedAvail : kPackedUsed));
      break;
  }
}

HookState g_hook;

void on_used(mock::UsedEntry& e) {
  HookState& h = g_hook;
  World& w = *h.world;
  if (e.queue == 0 && h.rx.armed) {
    h.rx.armed = false;
    uint32_t room = 0;
    uint8_t* area = w.oracle().writable_area(0, static_cast<uint16_t>(e.id), &room);
    const uint32_t hdr_size = w.device().net_header_size();
    if (area != nullptr) memcpy(area, h.rx.hdr, hdr_size < room ? hdr_size : room);
    switch (h.rx.len_mode & 3) {
      case 0:
        break;
      case 1:
        e.len = h.rx.len_value;
        break;
      case 2:
        e.len += h.rx.len_value;
        break;
      case 3:
        e.len -= h.rx.len_value;
        break;
    }
  }
  edit_flags(h, e);
  if (e.queue > 1 || h.count[e.queue] == 0) return;
  const UsedEdit ed = h.edits[e.queue][h.head[e.queue]];
  h.head[e.queue] = (h.head[e.queue] + 1) % HookState::kDepth;
  --h.count[e.queue];
  switch (ed.kind) {
    case UsedEditKind::kSetId:
      e.id = ed.value;
      break;
    case UsedEditKind::kAddId:
      e.id += ed.value;
      break;
    case UsedEditKind::kSetLen:
      e.len = ed.value;
      break;
    case UsedEditKind::kAddLen:
      e.len += ed.value;
      break;
    case UsedEditKind::kSubLen:
      e.len -= ed.value;
      break;
    case UsedEditKind::kSkipIdx:
      e.used_idx = static_cast<uint16_t>(e.used_idx + ed.value);
      break;
    case UsedEditKind::kBackIdx:
      e.used_idx = static_cast<uint16_t>(e.used_idx - ed.value);
      break;
    case UsedEditKind::kCount:
      break;
  }
}

constexpr uint32_t kMaxRxFrame = 4096;
uint8_t g_frame[kMaxRxFrame];

// Frames the device receives: an Ethernet header for the driver's MAC
// neighbourhood, a sequence byte, then a fixed pattern (written once: the
// driver never looks at frame bytes, so varying them buys nothing).
void make_frame(uint8_t* f, uint32_t size, uint32_t seq) {
  static bool ready = false;
  if (!ready) {
    static const uint8_t kHdr[14] = {0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x02,
                                     0,    0,    0, 0,    2,    0x88, 0xB5};
    memcpy(g_frame, kHdr, sizeof kHdr);
    for (uint32_t k = sizeof kHdr; k < kMaxRxFrame; ++k) g_frame[k] = static_cast<uint8_t>(k * 7);
    ready = true;
  }
  if (size > 14) f[14] = static_cast<uint8_t>(seq);
}

const mock::FaultKind kEventFaults[] = {
    mock::FaultKind::kUsedIdOutOfRange,
    mock::FaultKind::kUsedIdNotInFlight,
    mock::FaultKind::kUsedDoubleComplete,
    mock::FaultKind::kUsedLenOver,
    mock::FaultKind::kUsedLenShort,
    mock::FaultKind::kUsedIdxJump,
    mock::FaultKind::kRxNumBuffers,
    mock::FaultKind::kRxGsoType,
    mock::FaultKind::kRxFlags,
};

}  // namespace

void install_used_hook(World& world) {
  g_hook = HookState{};
  g_hook.world = &world;
  world.device().set_used_hook(on_used);
}

int event_fault_index(mock::FaultKind k) {
  for (size_t i = 0; i < sizeof kEventFaults / sizeof kEventFaults[0]; ++i)
    if (kEventFaults[i] == k) return static_cast<int>(i);
  return -1;
}

void run_mock_script(World& w, Input& in, OpTable table) {
  mock::MockDevice& dev = w.device();
  int reinits = 0;
  for (int n = 0; n < kMaxOps && !in.exhausted(); ++n) {
    const Op op = table.ops[in.u8() % table.size];
    if (op == Op::kRecover || op == Op::kRestart || op == Op::kDevReset)
      if (++reinits > kMaxReinits) continue;
    switch (op) {
      case Op::kCtrl:
        run_ctrl_op(w, in, CtrlOp::kCtrl);
        break;
      case Op::kCtrlFault:
        run_ctrl_op(w, in, CtrlOp::kCtrlFault);
        break;
      case Op::kRxFlows:
        run_ctrl_op(w, in, CtrlOp::kRxFlows);
        break;
      case Op::kTxPair:
        run_ctrl_op(w, in, CtrlOp::kTxPair);
        break;
      case Op::kRx: {
        // Up to 64 frames: more than one run of used elements (32) is then
        // pending when the driver harvests.
        const uint32_t count = 1 + in.u8() % 64;
        uint32_t size = in.u16();
        if (size > kMaxRxFrame) size = kMaxRxFrame;
        for (uint32_t i = 0; i < count; ++i) {
          make_frame(g_frame, size, i);
          World::DeviceDma dma(w);
          dev.inject_rx(std::span<const uint8_t>(g_frame, size));
        }
        w.rx_burst(static_cast<uint16_t>(count));
        break;
      }
      case Op::kRxBurst:
        w.rx_burst(in.u8());
        break;
      case Op::kTx: {
        const uint16_t count = static_cast<uint16_t>(1 + in.u8() % 16);
        const uint16_t size = in.u16();
        w.tx_burst(count, size, in.u8());
        break;
      }
      case Op::kTxReclaim:
        w.tx_reclaim();
        break;
      case Op::kProcessTx: {
        World::DeviceDma dma(w);
        dev.process_tx(in.u8());
        break;
      }
      case Op::kPoll:
        // A caller woken by the device's interrupts handles them first.
        w.deliver_interrupts(8);
        w.poll_device();
        break;
      case Op::kRxIrq: {
        // bit 0: rx interrupts on/off; bit 1: deliver what the device sent;
        // bit 2: a spurious interrupt (bits 3-5: the line, or vector 0..6 --
        // beyond the three a device here can have).
        const uint8_t b = in.u8();
        w.set_rx_interrupts((b & 1) != 0);
        if (b & 2) w.deliver_interrupts(8);
        if (b & 4) {
          const uint8_t s = (b >> 3) & 7;
          w.interrupt(s == 0 ? IrqSource::line() : IrqSource::msi(static_cast<uint16_t>(s - 1)));
        }
        break;
      }
      case Op::kRecover:
        w.recover();
        break;
      case Op::kRestart:
        w.restart();
        break;
      case Op::kLink:
        dev.set_link((in.u8() & 1) != 0);
        w.poll_device();
        break;
      case Op::kDevReset:
        dev.device_reset();
        w.poll_device();
        break;
      case Op::kUsedEdit: {
        const uint8_t q = in.u8() & 1;
        const auto kind =
            static_cast<UsedEditKind>(in.u8() % static_cast<uint8_t>(UsedEditKind::kCount));
        const uint32_t value = in.u32();
        if (g_hook.count[q] < HookState::kDepth) {
          const int at = (g_hook.head[q] + g_hook.count[q]) % HookState::kDepth;
          g_hook.edits[q][at] = UsedEdit{kind, value};
          ++g_hook.count[q];
        }
        w.note_misbehaviour();
        note_packed_ring_written(w);
        break;
      }
      case Op::kFault: {
        mock::Fault f;
        f.kind = kEventFaults[in.u8() % (sizeof kEventFaults / sizeof kEventFaults[0])];
        const uint8_t q = in.u8();
        f.queue = q >= 2 ? -1 : q;
        f.skip = in.u8() % 8;
        f.count = in.u8() % 4;
        f.value = in.u32();
        dev.arm(f);
        w.note_misbehaviour();
        if (f.kind != mock::FaultKind::kRxNumBuffers && f.kind != mock::FaultKind::kRxGsoType &&
            f.kind != mock::FaultKind::kRxFlags)
          note_packed_ring_written(w);
        break;
      }
      case Op::kRxRaw: {
        RxEdit& rx = g_hook.rx;
        in.bytes(rx.hdr, sizeof rx.hdr);
        uint32_t size = in.u16();
        if (size > kMaxRxFrame) size = kMaxRxFrame;
        const uint8_t fill = in.u8();
        rx.len_mode = in.u8();
        rx.len_value = in.u16();
        rx.armed = true;
        uint8_t canonical[12] = {};
        canonical[10] = 1;
        if (memcmp(rx.hdr, canonical, w.device().net_header_size()) != 0 || (rx.len_mode & 3) != 0)
          w.note_misbehaviour();
        make_frame(g_frame, size, fill);
        {
          World::DeviceDma dma(w);
          if (!dev.inject_rx(std::span<const uint8_t>(g_frame, size))) rx.armed = false;
        }
        w.rx_burst(16);
        break;
      }
      case Op::kCfgMtu:
        dev.set_mtu(in.u16());
        w.note_misbehaviour();
        w.poll_device();
        break;
      case Op::kCfgMac: {
        std::array<uint8_t, 6> mac;
        in.bytes(mac.data(), mac.size());
        dev.set_mac(mac);
        w.poll_device();
        break;
      }
      case Op::kCfgStatus:
        dev.set_config_status(in.u16());
        w.poll_device();
        break;
      case Op::kCfgPairs:
        dev.set_max_virtqueue_pairs(in.u16());
        w.note_misbehaviour();
        w.poll_device();
        break;
      case Op::kQueueSize: {
        const uint8_t q = in.u8();
        dev.set_queue_max_size(q >= 3 ? -1 : q, in.u16());
        w.note_misbehaviour();
        break;
      }
      case Op::kPciPatch: {
        PciPatch p;
        p.offset = in.u8();
        p.value = in.u8();
        w.mock_shim().add_patch(p);
        w.note_misbehaviour();
        w.note_unpredictable();
        break;
      }
      case Op::kCfgChurn:
        w.mock_shim().churn_generation(in.u8());
        dev.set_config_status(dev.config().status);
        w.note_misbehaviour();
        w.note_unpredictable();
        w.poll_device();
        break;
      case Op::kFlagsEdit: {
        const uint16_t q = in.u8() & 1;
        const uint8_t mode = in.u8();
        const uint16_t value = in.u16();
        HookState& h = g_hook;
        if (h.flags_count[q] < HookState::kDepth) {
          h.flags[q][(h.flags_head[q] + h.flags_count[q]) % HookState::kDepth] =
              FlagsEdit{mode, value};
          ++h.flags_count[q];
        }
        w.note_misbehaviour();
        note_packed_ring_written(w);
        break;
      }
      case Op::kDeviceEvent: {
        const uint16_t q = in.u8() & 1;
        const uint8_t mode = in.u8();
        const uint16_t off_wrap = in.u16();
        // Any of these is the device's right (2.8.10): no lie, at most a
        // missing or extra notification, the device's own loss.
        dev.set_packed_device_event(q, static_cast<mock::PackedEventMode>(mode % 3),
                                    (mode & 0x80) != 0 ? int32_t{off_wrap} : -1);
        break;
      }
      case Op::kRepublish:
        dev.republish_last_used(in.u8() & 1);
        w.note_misbehaviour();
        note_packed_ring_written(w);
        break;
      case Op::kDescEdit: {
        const uint16_t q = in.u8() & 1;
        const uint16_t index = in.u16();
        const auto field = static_cast<mock::DeviceQueue::DescField>(in.u8() % 4);
        const uint32_t value = in.u32();
        dev.rewrite_descriptor(q, index, field, value);
        w.note_misbehaviour();
        w.note_descriptors_rewritten();
        break;
      }
      case Op::kPlatformBudget: {
        const uint8_t alloc = in.u8();
        const uint8_t map = in.u8();
        w.mock_shim().set_budgets(alloc == 255 ? -1 : alloc, map == 255 ? -1 : map);
        break;
      }
      case Op::kOptions: {
        NetOptions o = w.options();
        o.feature_mask &= ~in.u64();
        in.bytes(o.fallback_mac, sizeof o.fallback_mac);
        w.set_options(o);
        break;
      }
      case Op::kRegLie: {
        const uint8_t region = in.u8();
        mock::RegisterLie lie;
        lie.region = static_cast<Region>(region % 8);
        lie.offset = in.u16();
        const uint8_t how = in.u8();
        lie.width = how % 4 == 3 ? 4 : how % 4;
        lie.value = in.u32();
        lie.skip = in.u8();
        lie.count = in.u8();
        if ((region & 0xC0) == 0xC0) {
          // A lie about BAR (region % 8) % 6 (what bar_info reports) instead.
          mock::BarLie bar;
          bar.bar = static_cast<uint8_t>(region % 8 % 6);
          if (how & 0x04) bar.present = (how & 0x08) ? 1 : 0;
          if (how & 0x10) bar.is_io = (how & 0x20) ? 1 : 0;
          if (how & 0x40) bar.size = int64_t{1} << (lie.value % 63);
          dev.lie_about_bar(bar);
        } else {
          dev.lie_about_register(lie);
        }
        // Lies stay armed on the device object: it is not reused.
        w.taint_device();
        w.note_misbehaviour();
        w.note_unpredictable();
        break;
      }
      case Op::kPoolBudget: {
        const uint8_t b = in.u8();
        w.pool().set_alloc_budget(b == 255 ? -1 : b);
        break;
      }
    }
  }
}

ScriptWriter& ScriptWriter::op(Op op) {
  for (uint8_t i = 0; i < table_.size; ++i)
    if (table_.ops[i] == op) return u8(i);
  abort();
}

}  // namespace vnet::fuzz
