// fuzz_ctrl's control-plane ops and oracle (k); formats and rules atop
// ctrl_script.h. The reference below decides what a call may return from
// what the world knows -- the arguments, the negotiated features, the
// device's configuration as the mock holds it -- never from the driver's
// own bookkeeping of the same (except the pairs attach set up, which the
// configuration rule checks on its own).
#include "fuzz/harness/ctrl_script.h"

#include <string.h>

#include "driver/spec/net_ctrl_layout.h"
#include "driver/spec/split_ring_layout.h"
#include "driver/spec/virtio_constants.h"
#include "fuzz/harness/findings.h"
#include "mock_device/fault.h"

namespace vnet::fuzz {

using spec::Feature;
using spec::has_feature;

namespace {

// Why a call may be refused without being sent (a set: the driver may
// name any of the reasons that apply).
struct Refusal {
  bool unsupported = false;
  bool invalid = false;
  bool not_running = false;
  bool any() const { return unsupported || invalid || not_running; }
  bool allows(CtrlResult r) const {
    return (unsupported && r == CtrlResult::kUnsupported) ||
           (invalid && r == CtrlResult::kInvalid) || (not_running && r == CtrlResult::kNotRunning);
  }
};

struct PendingLie {
  bool armed = false;
  uint8_t kind = 0;  // % 6, as documented
  uint8_t value = 0;
};
PendingLie g_lie;

constexpr mock::FaultKind kLies[] = {
    mock::FaultKind::kCtrlNoCompletion, mock::FaultKind::kCtrlAckUnwritten,
    mock::FaultKind::kCtrlAckValue,     mock::FaultKind::kCtrlUsedLen,
    mock::FaultKind::kCtrlUsedIdOther,  mock::FaultKind::kCtrlUsedIdUnknown,
};

MacAddr mac_of(uint8_t x, uint8_t b3, uint8_t b4) {
  return MacAddr{{x, 0x54, 0x00, b3, b4, x}};
}

// The device-side reasons and the common ones, for a command needing feature.
Refusal base_refusal(World& w, Feature need) {
  Refusal r;
  VirtioNet& net = w.net();
  if (!has_feature(net.negotiated_features(), need) || !net.has_control_queue())
    r.unsupported = true;
  if (net.state() != NetState::kRunning) r.not_running = true;
  return r;
}

// The lie a command met, if it reached the device: the result it must have.
// 0: none (or an honest-looking one: OK/ERR acks, used.len 1).
bool lie_breaks(const PendingLie& lie) {
  switch (lie.kind % 6) {
    case 2:
      return lie.value > 1;  // ack neither OK nor ERR
    case 3:
      return lie.value != 1;  // used.len other than the ack byte
    default:
      return true;
  }
}

// Checks a control call's outcome against the reference. sent: whether a
// command reached the device.
void judge(World& w, const char* what, const Refusal& refusal, CtrlResult r,
           uint64_t commands_before, uint64_t clock_before, bool lied, bool honest_lie) {
  VirtioNet& net = w.net();
  const bool sent = net.counters().ctrl_commands != commands_before;
  const uint64_t waited = w.mock_shim().clock() - clock_before;
  if (waited > kFuzzCtrlTimeoutNs + 16'000)
    finding(Oracle::kControl, "%s waited %llu ns of platform time, the deadline is %llu", what,
            static_cast<unsigned long long>(waited),
            static_cast<unsigned long long>(kFuzzCtrlTimeoutNs));
  if (refusal.any()) {
    if (sent || !refusal.allows(r))
      finding(Oracle::kControl, "%s: the call is ruled out (%s%s%s) but returned %s%s", what,
              refusal.unsupported ? "unsupported " : "", refusal.invalid ? "invalid " : "",
              refusal.not_running ? "not-running" : "", ctrl_result_name(r),
              sent ? " after sending it" : "");
    return;
  }
  if (!sent)
    finding(Oracle::kControl, "%s: nothing rules the call out, yet nothing was sent (%s)", what,
            ctrl_result_name(r));
  if (lied && !honest_lie) {
    if ((r != CtrlResult::kTimeout && r != CtrlResult::kDeviceFault) ||
        net.state() == NetState::kRunning)
      finding(Oracle::kControl, "%s met a lying control queue and returned %s (state %s)", what,
              ctrl_result_name(r), net_state_name(net.state()));
    return;
  }
  if (r != CtrlResult::kOk && r != CtrlResult::kRejected)
    finding(Oracle::kControl, "%s: an honest answer, yet %s", what, ctrl_result_name(r));
  if (net.state() != NetState::kRunning)
    finding(Oracle::kControl, "%s: an honest answer took the device out of kRunning (%s)", what,
            net_state_name(net.state()));
}

// Arms the pending lie for the command about to be sent.
bool arm_lie(World& w) {
  if (!g_lie.armed) return false;
  g_lie.armed = false;
  mock::Fault f;
  f.kind = kLies[g_lie.kind % 6];
  f.queue = -1;
  f.count = 1;
  f.value = g_lie.value;
  w.device().arm(f);
  w.note_misbehaviour();
  return true;
}

void ctrl_call(World& w, Input& in) {
  VirtioNet& net = w.net();
  mock::MockDevice& dev = w.device();
  const uint8_t cmd = in.u8() % 9;
  const uint64_t features = net.negotiated_features();
  const uint64_t before = net.counters().ctrl_commands;
  if (cmd == 7) {
    // Announce: the device asks, the driver acknowledges from poll_device.
    // (The mock's conformance checker judges ANNOUNCE_ACK without
    // GUEST_ANNOUNCE; a recovery inside poll_device sends commands too.)
    const bool lied = arm_lie(w);
    const uint64_t announces = net.counters().announces;
    const uint64_t clock = w.mock_shim().clock();
    dev.request_announce();
    const DeviceEvents ev = w.poll_device();
    const bool sent = net.counters().ctrl_commands != before;
    if (lied && !sent) dev.clear_faults();  // no command met it
    if (w.mock_shim().clock() - clock > kFuzzCtrlTimeoutNs + 64'000)
      finding(Oracle::kControl, "announce: poll_device waited past the control deadline");
    if (ev.announce && (!has_feature(features, Feature::kNetGuestAnnounce) ||
                        net.counters().announces != announces + 1 || (lied && lie_breaks(g_lie))))
      finding(Oracle::kControl, "DeviceEvents::announce without an acknowledged ANNOUNCE_ACK");
    return;
  }
  const PendingLie lie = g_lie;
  Refusal refusal;
  CtrlResult r = CtrlResult::kOk;
  const char* what = "?";
  bool lied = false;
  uint64_t clock = 0;
  // Each case: decode, predict, arm the lie, call.
  auto start = [&](const Refusal& ref) {
    refusal = ref;
    if (!ref.any()) lied = arm_lie(w);
    clock = w.mock_shim().clock();
  };
  bool applied_check = false;  // the device must hold what kOk says
  bool want_on = false;
  uint8_t mode = 0;
  uint16_t vid = 0;
  uint16_t pairs = 0;
  uint64_t offloads = 0;
  switch (cmd) {
    case 0: {
      what = "set_rx_mode";
      mode = in.u8() % 8;
      want_on = (in.u8() & 1) != 0;
      Refusal ref = base_refusal(w, mode <= 1 ? Feature::kNetCtrlRx : Feature::kNetCtrlRxExtra);
      if (mode >= kNumRxModes) ref.invalid = true;
      start(ref);
      r = net.set_rx_mode(static_cast<RxMode>(mode), want_on);
      applied_check = true;
      break;
    }
    case 1: {
      what = "set_mac_filter";
      const uint16_t n_uc = in.u8() % 80, n_mc = in.u8() % 80;
      static MacAddr macs[160];
      bool uc_ok = true, mc_ok = true;
      for (uint16_t i = 0; i < n_uc + n_mc; ++i) {
        macs[i] = mac_of(in.u8(), 0x12, 0x34);
        const bool multicast = (macs[i].b[0] & 1) != 0;
        if (i < n_uc && multicast) uc_ok = false;
        if (i >= n_uc && !multicast) mc_ok = false;
      }
      Refusal ref = base_refusal(w, Feature::kNetCtrlRx);
      if (n_uc + n_mc > kMaxMacFilter || !uc_ok || !mc_ok) ref.invalid = true;
      start(ref);
      r = net.set_mac_filter(macs, n_uc, macs + n_uc, n_mc);
      break;
    }
    case 2: {
      what = "set_mac_address";
      const MacAddr m = mac_of(in.u8(), 0xab, 0xcd);
      Refusal ref = base_refusal(w, Feature::kNetCtrlMacAddr);
      // 5.1.6.5.2.2: MAC class commands need CTRL_RX too.
      if (!has_feature(features, Feature::kNetCtrlRx)) ref.unsupported = true;
      if ((m.b[0] & 1) != 0) ref.invalid = true;
      start(ref);
      r = net.set_mac_address(m.b);
      if (r == CtrlResult::kOk && memcmp(net.mac(), m.b, 6) != 0)
        finding(Oracle::kControl, "set_mac_address: kOk but mac() is not the new address");
      break;
    }
    case 3:
    case 4: {
      what = cmd == 3 ? "add_vlan" : "remove_vlan";
      vid = in.u16();
      want_on = cmd == 3;
      Refusal ref = base_refusal(w, Feature::kNetCtrlVlan);
      if (vid > spec::ctrl::kVlanMax) ref.invalid = true;
      start(ref);
      r = cmd == 3 ? net.add_vlan(vid) : net.remove_vlan(vid);
      applied_check = true;
      break;
    }
    case 5: {
      what = "set_queue_pairs";
      pairs = in.u8() % 8;
      Refusal ref = base_refusal(w, Feature::kNetMq);
      if (has_feature(features, Feature::kNetRss) && net.has_control_queue())
        ref.unsupported = false;
      if (pairs < 1 || pairs > net.max_queue_pairs()) ref.invalid = true;
      start(ref);
      r = net.set_queue_pairs(pairs);
      applied_check = true;
      break;
    }
    case 6: {
      what = "set_rss";
      static RssSettings s;
      s.hash_types = in.u16();
      const uint8_t len = in.u8();
      s.table_len = (len & 0x80) != 0 ? static_cast<uint16_t>(len & 0x7F)
                                      : static_cast<uint16_t>(1u << (len % 9));
      if (s.table_len > kMaxRssTable) s.table_len = kMaxRssTable;
      const uint8_t seed = in.u8();
      const uint8_t modulus = static_cast<uint8_t>(1 + in.u8() % 8);
      for (uint16_t i = 0; i < s.table_len; ++i)
        s.table[i] = static_cast<uint16_t>((seed + i) % modulus);
      s.unclassified_pair = in.u8() % 8;
      s.key_len = in.u8() % 64;
      for (uint8_t i = 0; i < sizeof s.key; ++i) s.key[i] = static_cast<uint8_t>(seed * 7 + i);
      // The device's limits as the mock holds them (5.1.4), capped as the
      // driver documents (kMaxRssTable; a 40-byte key at most).
      const mock::DeviceConfig& c = dev.config();
      uint32_t table_max = c.rss_max_indirection_table_length;
      if (table_max > kMaxRssTable) table_max = kMaxRssTable;
      const uint32_t key_max = c.rss_max_key_size < 40 ? c.rss_max_key_size : 40;
      const uint16_t active = net.queue_pairs();
      Refusal ref = base_refusal(w, Feature::kNetRss);
      bool entries_ok = true;
      for (uint16_t i = 0; i < s.table_len; ++i)
        if (s.table[i] >= active) entries_ok = false;
      if (!spec::is_power_of_two(s.table_len) || s.table_len > table_max ||
          (s.hash_types & ~c.supported_hash_types) != 0 || (s.hash_types & ~0x1FFu) != 0 ||
          s.key_len == 0 || s.key_len > key_max || s.unclassified_pair >= active || !entries_ok)
        ref.invalid = true;
      start(ref);
      r = net.set_rss(s);
      break;
    }
    case 8: {
      // CTRL_GUEST_OFFLOADS (5.1.6.5.6): bits 0-6 the GUEST_* offloads
      // (CSUM, TSO4, TSO6, ECN, UFO, USO4, USO6), bit 7 a bit that is no
      // receive offload (HOST_TSO4).
      what = "set_guest_offloads";
      static constexpr Feature kBits[8] = {Feature::kNetGuestCsum, Feature::kNetGuestTso4,
                                           Feature::kNetGuestTso6, Feature::kNetGuestEcn,
                                           Feature::kNetGuestUfo,  Feature::kNetGuestUso4,
                                           Feature::kNetGuestUso6, Feature::kNetHostTso4};
      const uint8_t bits = in.u8();
      offloads = 0;
      for (unsigned i = 0; i < 8; ++i)
        if ((bits >> i) & 1u) offloads |= spec::feature_mask(kBits[i]);
      Refusal ref = base_refusal(w, Feature::kNetCtrlGuestOffloads);
      // Only negotiated receive offloads (5.1.6.5.6.2), each with what it
      // needs (5.1.3.1, as the driver's feature table has it: ECN with
      // TSO4, the rest with GUEST_CSUM).
      uint64_t guest = 0;
      for (unsigned i = 0; i < 7; ++i) guest |= spec::feature_mask(kBits[i]);
      const bool csum = has_feature(offloads, Feature::kNetGuestCsum);
      const bool needs_csum = (offloads & (guest & ~spec::feature_mask(Feature::kNetGuestCsum) &
                                           ~spec::feature_mask(Feature::kNetGuestEcn))) != 0;
      if ((offloads & ~(features & guest)) != 0 || (needs_csum && !csum) ||
          (has_feature(offloads, Feature::kNetGuestEcn) &&
           !has_feature(offloads, Feature::kNetGuestTso4)))
        ref.invalid = true;
      start(ref);
      r = net.set_guest_offloads(offloads);
      applied_check = true;
      break;
    }
  }
  if (lied && net.counters().ctrl_commands == before) dev.clear_faults();  // no command met it
  judge(w, what, refusal, r, before, clock, lied, lied && !lie_breaks(lie));
  if (r != CtrlResult::kOk || !applied_check || lied) return;
  // kOk from an honest device: it holds what was asked.
  const mock::RxFilter& f = dev.rx_filter();
  if (cmd == 0) {
    const bool flags[kNumRxModes] = {f.promisc, f.allmulti, f.alluni,
                                     f.nomulti, f.nouni,    f.nobcast};
    if (flags[mode] != want_on)
      finding(Oracle::kControl, "set_rx_mode(%u, %d) kOk but the device's mode is %d", mode,
              want_on, flags[mode]);
  } else if (cmd == 3 || cmd == 4) {
    if (f.vlan_added(vid) != want_on)
      finding(Oracle::kControl, "%s(%u) kOk but the device's VLAN filter disagrees", what, vid);
  } else if (cmd == 5) {
    if (dev.active_pairs() != pairs || net.queue_pairs() != pairs)
      finding(Oracle::kControl, "set_queue_pairs(%u) kOk: device %u, driver %u", pairs,
              dev.active_pairs(), net.queue_pairs());
  } else if (cmd == 8) {
    if (dev.guest_offloads() != offloads || net.guest_offloads() != offloads)
      finding(Oracle::kControl, "set_guest_offloads(0x%llx) kOk: device 0x%llx, driver 0x%llx",
              static_cast<unsigned long long>(offloads),
              static_cast<unsigned long long>(dev.guest_offloads()),
              static_cast<unsigned long long>(net.guest_offloads()));
  }
}

// TCP/IPv4 frames of distinct flows (the device's RSS steers them).
void rx_flows(World& w, Input& in) {
  mock::MockDevice& dev = w.device();
  VirtioNet& net = w.net();
  const uint8_t count = static_cast<uint8_t>(1 + in.u8() % 32);
  const uint8_t seed = in.u8();
  uint8_t frame[74] = {};
  memcpy(frame, net.mac(), 6);
  const uint8_t src[6] = {0x52, 0x55, 0x0a, 0, 2, 2};
  memcpy(frame + 6, src, 6);
  frame[12] = 0x08;
  frame[14] = 0x45;
  frame[17] = 60;
  frame[22] = 64;
  frame[23] = 6;  // TCP
  for (uint8_t i = 0; i < count; ++i) {
    frame[26] = 10;
    frame[29] = static_cast<uint8_t>(seed + i);
    frame[30] = 10;
    frame[33] = 15;
    frame[34] = static_cast<uint8_t>(0x80 + i);  // source port
    frame[35] = seed;
    frame[37] = 7;
    frame[46] = 0x50;
    World::DeviceDma dma(w);
    dev.inject_rx(std::span<const uint8_t>(frame, sizeof frame));
  }
  // Pair 0 through the world (oracle (h) judges receiveq1's deliveries),
  // the other pairs directly.
  w.rx_burst(64);
  PacketBuffer* out[64];
  for (uint16_t k = 1; k < net.max_queue_pairs(); ++k) {
    const uint16_t n = net.rx_burst(k, out, 64);
    for (uint16_t i = 0; i < n; ++i) {
      if (out[i]->hash_report > spec::ctrl::kReportMax)
        finding(Oracle::kControl, "a delivered hash report type %u (above 9)", out[i]->hash_report);
      w.pool().free(out[i]);
    }
  }
}

void tx_pair(World& w, Input& in) {
  VirtioNet& net = w.net();
  const uint16_t pair = in.u8() % 4;
  const uint8_t count = static_cast<uint8_t>(1 + in.u8() % 8);
  PacketBuffer* frames[8];
  uint16_t n = 0;
  for (; n < count; ++n) {
    PacketBuffer* b = w.pool().alloc();
    if (b == nullptr) break;
    b->offset = kTxHeadroom;
    b->len = 60;
    b->next = nullptr;
    memset(b->data(), 0, 60);
    memcpy(b->data(), net.mac(), 6);
    frames[n] = b;
  }
  const uint16_t active = net.queue_pairs();
  const uint16_t taken = net.tx_burst(pair, frames, n);
  if (pair >= active && taken != 0)
    finding(Oracle::kControl, "tx_burst on pair %u took %u frames; the device uses %u pairs", pair,
            taken, active);
  for (uint16_t i = taken; i < n; ++i) w.pool().free(frames[i]);
  World::DeviceDma dma(w);
  w.device().process_tx_pair(pair, 64);
}

}  // namespace

void reset_ctrl_script() {
  g_lie = PendingLie{};
}

void run_ctrl_op(World& w, Input& in, CtrlOp op) {
  switch (op) {
    case CtrlOp::kCtrl:
      ctrl_call(w, in);
      break;
    case CtrlOp::kCtrlFault:
      g_lie.armed = true;
      g_lie.kind = in.u8();
      g_lie.value = in.u8();
      break;
    case CtrlOp::kRxFlows:
      rx_flows(w, in);
      break;
    case CtrlOp::kTxPair:
      tx_pair(w, in);
      break;
  }
  check_ctrl_config(w);
}

void check_ctrl_config(World& w) {
  VirtioNet& net = w.net();
  if (net.state() == NetState::kDown) return;
  const uint64_t f = net.negotiated_features();
  const mock::DeviceConfig& c = w.device().config();
  const bool mq = has_feature(f, Feature::kNetMq), rss = has_feature(f, Feature::kNetRss);
  const bool hash = has_feature(f, Feature::kNetHashReport);
  if ((mq || rss) && (c.max_virtqueue_pairs < 1 || c.max_virtqueue_pairs > 0x8000))
    finding(Oracle::kControl, "MQ/RSS negotiated with max_virtqueue_pairs %u",
            c.max_virtqueue_pairs);
  if ((rss || hash) && (c.rss_max_key_size < 40 || (c.supported_hash_types & 0x1FF) == 0))
    finding(Oracle::kControl, "RSS/HASH_REPORT negotiated with rss_max_key_size %u, hash types %#x",
            c.rss_max_key_size, c.supported_hash_types);
  if (rss && c.rss_max_indirection_table_length == 0)
    finding(Oracle::kControl, "RSS negotiated with an indirection table of 0 entries");
  uint32_t limit = (mq || rss) ? c.max_virtqueue_pairs : 1;
  if (limit > kMaxQueuePairs) limit = kMaxQueuePairs;
  if (limit > w.options().max_queue_pairs) limit = w.options().max_queue_pairs;
  if (limit < 1) limit = 1;
  if (net.max_queue_pairs() > limit || net.queue_pairs() > net.max_queue_pairs())
    finding(Oracle::kControl, "%u pairs set up, %u in use; at most %u allowed",
            net.max_queue_pairs(), net.queue_pairs(), limit);
}

}  // namespace vnet::fuzz
