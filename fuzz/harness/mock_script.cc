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
  // Bytes of hdr written over the device's header: all 12, or 10 (rx_l4
  // without its num_buffers lie: the device's own count stays).
  uint8_t hdr_bytes = 12;
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
    uint32_t write = hdr_size < h.rx.hdr_bytes ? hdr_size : h.rx.hdr_bytes;
    if (write > room) write = room;
    if (area != nullptr) memcpy(area, h.rx.hdr, write);
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

// rx_l4's frames: Ethernet [802.1Q] IPv4|IPv6 TCP|UDP, correct lengths,
// a payload pattern. kind bit 0 IPv6, bit 1 UDP, bit 2 a VLAN tag, bit 3
// TCP CWR (ECN). Returns the frame's length (at most kMaxL4Frame).
constexpr uint32_t kMaxL4Frame = 65550;
uint8_t g_l4_frame[kMaxL4Frame];
uint32_t make_l4_frame(uint8_t* f, uint8_t kind, uint32_t payload, uint32_t max = kMaxL4Frame) {
  const bool v6 = (kind & 1) != 0, udp = (kind & 2) != 0, vlan = (kind & 4) != 0;
  const uint32_t l3 = vlan ? 18 : 14, ip = v6 ? 40 : 20, l4 = udp ? 8 : 20;
  if (payload > max - l3 - ip - l4) payload = max - l3 - ip - l4;
  const uint32_t size = l3 + ip + l4 + payload;
  static const uint8_t kMacs[12] = {0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x02, 0, 0, 0, 0, 2};
  memcpy(f, kMacs, sizeof kMacs);
  if (vlan) {
    f[12] = 0x81, f[13] = 0x00, f[14] = 0x00, f[15] = 0x07;
  }
  f[l3 - 2] = v6 ? 0x86 : 0x08;
  f[l3 - 1] = v6 ? 0xDD : 0x00;
  uint8_t* h = f + l3;
  memset(h, 0, ip + l4);
  const uint8_t proto = udp ? 17 : 6;
  if (v6) {
    const uint32_t plen = l4 + payload;
    h[0] = 0x60, h[4] = uint8_t(plen >> 8), h[5] = uint8_t(plen), h[6] = proto, h[7] = 64;
    h[23] = 1, h[39] = 2;
  } else {
    const uint32_t total = (ip + l4 + payload) > 0xFFFF ? 0xFFFF : ip + l4 + payload;
    h[0] = 0x45, h[2] = uint8_t(total >> 8), h[3] = uint8_t(total), h[6] = 0x40, h[8] = 64;
    h[9] = proto, h[12] = 10, h[15] = 2, h[16] = 10, h[19] = 15;
  }
  uint8_t* t = h + ip;
  t[0] = 0x30, t[1] = 0x39, t[2] = 0x00, t[3] = 0x07;
  if (udp) {
    const uint32_t ulen = (l4 + payload) > 0xFFFF ? 0 : l4 + payload;
    t[4] = uint8_t(ulen >> 8), t[5] = uint8_t(ulen);
  } else {
    t[7] = 1, t[12] = 0x50, t[13] = uint8_t(0x10 | ((kind & 8) != 0 ? 0x80 : 0)), t[14] = 0xFF;
  }
  for (uint32_t k = l3 + ip + l4; k < size; ++k) f[k] = static_cast<uint8_t>(k * 13);
  return size;
}

// tx_l4's frames: an rx_l4 frame completed as a stack hands it to a
// driver for checksum offload -- the IPv4 header checksum set, the L4
// checksum field holding the pseudo-header sum (over the frame's L4
// length, as Linux leaves it for GSO too).
uint32_t fold_sum(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return sum;
}
uint32_t sum_bytes(const uint8_t* p, uint32_t n, uint32_t sum = 0) {
  for (uint32_t i = 0; i + 1 < n; i += 2) sum += uint32_t{p[i]} << 8 | p[i + 1];
  if (n & 1) sum += uint32_t{p[n - 1]} << 8;
  return sum;
}
void finish_tx_l4_frame(uint8_t* f, uint8_t kind, uint32_t size) {
  const bool v6 = (kind & 1) != 0, udp = (kind & 2) != 0;
  const uint32_t l3 = (kind & 4) != 0 ? 18 : 14, ip = v6 ? 40 : 20;
  const uint32_t l4_len = size - l3 - ip;
  uint8_t* h = f + l3;
  uint32_t sum = 0;
  if (v6) {
    sum = sum_bytes(h + 8, 32);
  } else {
    h[10] = h[11] = 0;
    const uint16_t c = static_cast<uint16_t>(~fold_sum(sum_bytes(h, 20)));
    h[10] = uint8_t(c >> 8), h[11] = uint8_t(c);
    sum = sum_bytes(h + 12, 8);
  }
  sum += (udp ? 17u : 6u) + (l4_len & 0xFFFF) + (l4_len >> 16);
  const uint16_t pseudo = static_cast<uint16_t>(fold_sum(sum));
  uint8_t* field = h + ip + (udp ? 6 : 16);
  field[0] = uint8_t(pseudo >> 8), field[1] = uint8_t(pseudo);
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
        rx.hdr_bytes = 12;
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
      case Op::kRxL4: {
        // A TCP or UDP frame over IPv4/IPv6 that the offload rules can
        // parse, with the input's header (flags, gso_type, hdr_len,
        // gso_size, csum_start, csum_offset; num_buffers the device's own
        // unless len_mode bit 2 says lie), one byte poked, and a used.len
        // per len_mode (as rx_raw). A frame longer than a buffer is spread
        // over several with MRG_RXBUF (DeviceConfig::rx_mergeable).
        RxEdit& rx = g_hook.rx;
        in.bytes(rx.hdr, sizeof rx.hdr);
        const uint8_t kind = in.u8();
        const uint32_t payload = in.u16();
        const uint8_t poke_at = in.u8();
        const uint8_t poke = in.u8();
        rx.len_mode = in.u8();
        rx.len_value = in.u16();
        rx.hdr_bytes = (rx.len_mode & 4) != 0 ? 12 : 10;
        rx.armed = true;
        const uint32_t size = make_l4_frame(g_l4_frame, kind, payload);
        if (poke != 0) g_l4_frame[poke_at % size] ^= poke;
        w.note_misbehaviour();
        {
          World::DeviceDma dma(w);
          if (!dev.inject_rx(std::span<const uint8_t>(g_l4_frame, size))) rx.armed = false;
        }
        w.rx_burst(16);
        break;
      }
      case Op::kTxL4: {
        // A TCP or UDP frame (rx_l4's kinds) with its IPv4 header checksum
        // and the L4 pseudo-header sum in place (what a stack leaves for
        // checksum offload), one byte poked, handed to tx_burst with the
        // input's offload request, in one or two buffers.
        const uint8_t kind = in.u8();
        const uint32_t payload = in.u16();
        const uint8_t req_bits = in.u8();
        PacketOffload req;
        req.csum = static_cast<CsumState>(req_bits & 3);
        req.gso = static_cast<GsoKind>((req_bits >> 2) & 3);
        req.ecn = (req_bits & 0x10) != 0;
        req.csum_start = in.u16();
        req.csum_offset = in.u16();
        req.gso_size = in.u16();
        const uint8_t poke_at = in.u8();
        const uint8_t poke = in.u8();
        // At most two pool buffers' worth (World::tx_offload).
        const uint32_t size = make_l4_frame(g_l4_frame, kind, payload, 2 * World::kMaxTxFrame);
        finish_tx_l4_frame(g_l4_frame, kind, size);
        // A poke may break the checksums the caller owes the device
        // (drv-5.1.6.2.1-6/-7: the caller's data, which the driver never
        // reads): such input is outside oracle (e)'s promise.
        if (poke != 0) {
          g_l4_frame[poke_at % size] ^= poke;
          w.note_misbehaviour();
        }
        w.tx_offload(g_l4_frame, size, (req_bits & 0x20) != 0 ? 2 : 1, req);
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
