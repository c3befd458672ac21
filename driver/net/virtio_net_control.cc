// VirtioNet's control plane (virtio 1.2, 5.1.6.5): what each command
// means, its preconditions and its payload; the channel that carries one
// command and validates the device's answer is control_queue.h.
//
// Rules (all in the control context):
//  * A command is sent only with the feature it needs negotiated
//    (kUnsupported), and only with arguments the spec allows (kInvalid):
//    nothing is sent otherwise. The driver never negotiates a command
//    feature without CTRL_VQ (close_under_dependencies, 5.1.3.1).
//  * The device's answer is an ack: OK, ERR, or a lie. A lie (bad used.len,
//    an ack that is neither, a broken queue) or no answer by the deadline
//    takes the device out of kRunning; poll_device() resets and re-attaches
//    it, and the remembered state is sent again (restore_control_state).
//  * State is remembered only once the device acknowledged it (kOk), so a
//    re-attach repeats exactly what the device had agreed to.
//  * Device limits (max_virtqueue_pairs, rss_max_key_size,
//    rss_max_indirection_table_length, supported_hash_types) are read once,
//    consistently, at attach and validated: a value the spec forbids drops
//    the feature (counted), it is never used as a size.
#include "driver/net/op_scope.h"
#include "driver/net/virtio_net.h"
#include "driver/spec/byte_order.h"
#include "driver/spec/net_ctrl_layout.h"
#include "driver/spec/net_layout.h"
#include "driver/spec/split_ring_layout.h"
#include "driver/spec/virtio_constants.h"

namespace vnet {

using spec::Feature;
using spec::feature_mask;
using spec::has_feature;
namespace ctl = spec::ctrl;

namespace {

bool is_multicast(const MacAddr& m) {
  return (m.b[0] & 1u) != 0;
}

// The control-plane config fields, read as one consistent snapshot.
struct ControlConfig {
  uint32_t max_pairs;
  uint32_t rss_key;
  uint32_t rss_table;
  uint32_t hash_types;
};
static_assert(sizeof(ControlConfig) == 16);

}  // namespace

const char* ctrl_result_name(CtrlResult r) {
  switch (r) {
    case CtrlResult::kOk:
      return "ok";
    case CtrlResult::kRejected:
      return "rejected";
    case CtrlResult::kUnsupported:
      return "unsupported";
    case CtrlResult::kInvalid:
      return "invalid";
    case CtrlResult::kNotRunning:
      return "not-running";
    case CtrlResult::kTimeout:
      return "timeout";
    case CtrlResult::kDeviceFault:
      return "device-fault";
  }
  return "?";
}

// ---- attach ----------------------------------------------------------------

uint64_t VirtioNet::control_features_wanted() const {
  if (!options_.accept_ctrl_vq) return 0;
  uint64_t f = feature_mask(Feature::kNetCtrlVq) | feature_mask(Feature::kNetCtrlRx) |
               feature_mask(Feature::kNetCtrlRxExtra) | feature_mask(Feature::kNetCtrlVlan) |
               feature_mask(Feature::kNetCtrlMacAddr);
  // GUEST_ANNOUNCE is acknowledged from poll_device(), which reads status.
  f |= feature_mask(Feature::kNetGuestAnnounce);
  if (options_.max_queue_pairs > 1) f |= feature_mask(Feature::kNetMq);
  if (options_.accept_rss && !transport_->is_legacy()) f |= feature_mask(Feature::kNetRss);
  if (options_.accept_hash_report && !transport_->is_legacy())
    f |= feature_mask(Feature::kNetHashReport);
  return f;
}

bool VirtioNet::negotiate_control_config(uint64_t* want_io) {
  uint64_t want = *want_io;
  dev_max_pairs_ = 1;
  rss_max_key_ = 0;
  rss_max_table_ = 0;
  rss_types_ = 0;
  const uint64_t need_pairs = feature_mask(Feature::kNetMq) | feature_mask(Feature::kNetRss);
  const uint64_t need_rss = feature_mask(Feature::kNetRss) | feature_mask(Feature::kNetHashReport);
  // HASH_REPORT is configured by HASH_CONFIG / RSS_CONFIG: without a
  // control queue it is of no use (Linux refuses it too).
  if (!has_feature(want, Feature::kNetCtrlVq)) want &= ~feature_mask(Feature::kNetHashReport);
  *want_io = want;
  if ((want & (need_pairs | need_rss)) == 0) return true;
  Transport& t = *transport_;
  const bool read_rss = (want & need_rss) != 0;
  ControlConfig cfg{};
  const Transport::ConfigRead read = t.read_config_snapshot(&cfg, [&](ControlConfig& c) {
    if (!t.config_read(spec::net_cfg::kMaxVirtqueuePairs, 2, &c.max_pairs)) return false;
    if (!read_rss) return true;
    return t.config_read(ctl::kCfgRssMaxKeySize, 1, &c.rss_key) &&
           t.config_read(ctl::kCfgRssMaxIndirectionTableLen, 2, &c.rss_table) &&
           t.config_read(ctl::kCfgSupportedHashTypes, 4, &c.hash_types);
  });
  if (read != Transport::ConfigRead::kOk) {
    // Fields we cannot read consistently (or at all) are not used: the
    // features that need them are not negotiated.
    ++counters_.config_unstable;
    platform_->log(LogLevel::kWarn,
                   "virtio-net: control-plane config unreadable or unstable: no MQ, RSS, hash");
    *want_io = want & ~(need_pairs | need_rss);
    return true;
  }
  // 5.1.4: max_virtqueue_pairs 1..0x8000. Anything else: no MQ, no RSS.
  if (cfg.max_pairs < ctl::kMinVqPairs || cfg.max_pairs > ctl::kMaxVqPairs) {
    ++counters_.config_invalid_max_pairs;
    platform_->log(LogLevel::kWarn, "virtio-net: max_virtqueue_pairs invalid: no MQ, RSS, hash");
    want &= ~(need_pairs | need_rss);
    *want_io = want;
    return true;
  }
  dev_max_pairs_ = static_cast<uint16_t>(cfg.max_pairs);
  if (read_rss) {
    // 5.1.4.2: rss_max_key_size at least 40 (a larger one is legal: the
    // driver sends its own 40-byte key, never more); with RSS a usable
    // indirection table (at least one entry; the driver uses the largest
    // power of two within it and within kMaxRssTable); some hash type the
    // spec defines. A device that breaks these gets neither feature.
    const bool rss = has_feature(want, Feature::kNetRss);
    const uint32_t types = cfg.hash_types & ctl::kHashAll;
    if (cfg.rss_key < ctl::kRssKeySize || types == 0 || (rss && cfg.rss_table == 0)) {
      ++counters_.config_invalid_rss;
      platform_->log(LogLevel::kWarn, "virtio-net: RSS limits invalid: no RSS, hash reports");
      want &= ~need_rss;
    } else {
      rss_max_key_ = ctl::kRssKeySize;
      uint32_t table = rss ? cfg.rss_table : 0;
      if (table > kMaxRssTable) table = kMaxRssTable;
      while (table != 0 && !spec::is_power_of_two(table))
        table &= table - 1;  // largest power of two
      rss_max_table_ = static_cast<uint16_t>(table);
      rss_types_ = types;
    }
  }
  *want_io = want;
  return true;
}

void VirtioNet::setup_control_queue(RingKind ring, bool dma_order) {
  ctrl_on_ = false;
  if (!has_feature(features_, Feature::kNetCtrlVq)) return;
  // 5.1.2: the control queue follows every queue pair the device has.
  // 5.1.2: N = max_virtqueue_pairs with MQ or RSS, else 1.
  const bool multi =
      has_feature(features_, Feature::kNetMq) || has_feature(features_, Feature::kNetRss);
  const uint32_t index = 2u * (multi ? dev_max_pairs_ : 1u);
  // max_virtqueue_pairs 0x8000 is legal (5.1.4) and puts the control queue
  // at 0x10000, which no 16-bit queue index can name.
  if (index > 0xFFFF) {
    ++counters_.ctrl_queue_unusable;
    platform_->log(LogLevel::kWarn, "virtio-net: control queue beyond queue index 0xFFFF");
    return;
  }
  ctrl_index_ = static_cast<uint16_t>(index);
  // One command at a time, of at most four descriptors. A device that
  // negotiated CTRL_VQ without a usable control queue keeps running
  // without one: every command then returns kUnsupported.
  if (setup_queue(ctrl_, ring, ctrl_index_, 4) != AttachError::kOk || ctrl_.size() < 4 ||
      !ctrl_chan_.allocate(*platform_)) {
    ++counters_.ctrl_queue_unusable;
    platform_->log(LogLevel::kWarn, "virtio-net: control queue unusable; no control commands");
    return;
  }
  ctrl_.set_dma_barriers(dma_order);
  ctrl_.set_event_idx(has_feature(features_, Feature::kEventIdx));
  ctrl_.set_in_order(has_feature(features_, Feature::kInOrder));
  ctrl_.set_interrupts(false);  // polled by send_command: no interrupt wanted
  ctrl_on_ = true;
}

void VirtioNet::reset_control_state() {
  rx_modes_ = 0;
  for (uint32_t& w : vlans_) w = 0;
  mac_filter_uc_ = mac_filter_mc_ = 0;
  mac_chosen_ = false;
  rss_chosen_ = false;
  pairs_wanted_ = kMaxQueuePairs;  // every pair attach sets up
  offloads_chosen_ = false;
}

void VirtioNet::restore_control_state() {
  // After DRIVER_OK (5.1.6.5: commands only to a live device), in a fixed
  // order: the address, the filter, the VLANs, then the pairs. QEMU starts
  // promiscuous after a reset, so the modes are always sent; everything
  // else only when it differs from the device's reset state. Each command
  // stops the restore once the device stops running (a lie, a timeout).
  if (!ctrl_on_) return;
  // The address first, so that the filter knows it before promiscuous mode
  // goes off: the one set_mac_address() chose, or (5.1.6.5.2.2: SHOULD) the
  // one the driver made up because the device offered none it could use.
  bool mac_known = mac_from_device_ && !mac_chosen_;
  if (!mac_known) {
    uint8_t mac[6];
    __builtin_memcpy(mac, mac_chosen_ ? mac_override_ : mac_, 6);
    if (has_feature(features_, Feature::kNetCtrlMacAddr) &&
        has_feature(features_, Feature::kNetCtrlRx))
      mac_known = mac_address_command(mac) == CtrlResult::kOk;
    if (state() != NetState::kRunning) return;
  }
  // A MAC the device could not be told: its filter would drop every frame
  // for it once promiscuous mode is off, so promiscuous mode stays on.
  uint8_t modes = rx_modes_;
  if (!mac_known)
    modes = static_cast<uint8_t>(modes | 1u << static_cast<uint8_t>(RxMode::kPromiscuous));
  const bool rx = has_feature(features_, Feature::kNetCtrlRx);
  const bool extra = has_feature(features_, Feature::kNetCtrlRxExtra);
  rx_modes_ = 0;
  for (uint8_t m = 0; m < kNumRxModes; ++m) {
    const bool on = ((modes >> m) & 1u) != 0;
    const bool base_mode = m <= static_cast<uint8_t>(RxMode::kAllMulticast);
    if ((base_mode && rx) || (on && extra)) rx_mode_command(static_cast<RxMode>(m), on);
    if (state() != NetState::kRunning) return;
  }
  if (rx && (mac_filter_uc_ | mac_filter_mc_) != 0) {
    MacAddr copy[kMaxMacFilter];
    const uint16_t uc = mac_filter_uc_, mc = mac_filter_mc_;
    for (uint16_t i = 0; i < uc + mc; ++i) copy[i] = mac_filter_[i];
    mac_filter_command(copy, uc, copy + uc, mc);
    if (state() != NetState::kRunning) return;
  }
  if (has_feature(features_, Feature::kNetCtrlVlan)) {
    for (uint16_t vid = 0; vid <= ctl::kVlanMax; ++vid) {
      if (!vlan_allowed(vid)) continue;
      vlans_[vid >> 5] &= ~(1u << (vid & 31));
      vlan_command(vid, true);
      if (state() != NetState::kRunning) return;
    }
  }
  // Guest offloads: the device starts with every negotiated one enabled
  // (5.1.6.5.6.1); what set_guest_offloads() chose is sent again.
  if (offloads_chosen_ && has_feature(features_, Feature::kNetCtrlGuestOffloads)) {
    const uint64_t wanted = offloads_wanted_ & features_;
    if (wanted != (features_ & kGuestOffloadBits)) offloads_command(wanted);
    if (state() != NetState::kRunning) return;
  }
  // Multiqueue: the device starts on one pair (5.1.6.5.5); every pair set
  // up is put to use unless set_queue_pairs() asked for fewer.
  const uint16_t n = pairs_wanted_ < pairs_ ? pairs_wanted_ : pairs_;
  if (rss_chosen_ && has_feature(features_, Feature::kNetRss)) {
    const RssSettings copy = rss_;
    rss_command(copy, n);
  } else if (n > 1) {
    pairs_command(n);
  }
}

void VirtioNet::acknowledge_announce(DeviceEvents* ev, uint32_t status) {
  // 5.1.6.5.4: the device set ANNOUNCE; the driver announces itself (the
  // caller: ev->announce) and acknowledges, which clears the bit.
  if ((status & spec::net_status::kAnnounce) == 0 ||
      !has_feature(features_, Feature::kNetGuestAnnounce) || !ctrl_on_)
    return;
  if (send_command(ctl::kClassAnnounce, ctl::kAnnounceAck, nullptr, 0) == CtrlResult::kOk) {
    ++counters_.announces;
    ev->announce = true;
  }
}

// ---- the channel -------------------------------------------------------------

CtrlResult VirtioNet::send_command(uint8_t cls, uint8_t cmd, const ControlQueue::Part* parts,
                                   uint8_t num_parts) {
  if (!ctrl_on_) return CtrlResult::kUnsupported;
  if (state() != NetState::kRunning || ctrl_chan_.busy()) return CtrlResult::kNotRunning;
  // Each command is an operation of its own (DriverOp::kControl), also
  // when attach or poll_device sends it (nested in theirs).
  OpScope scope(*platform_, DriverOp::kControl);
  ++counters_.ctrl_commands;
  uint8_t ack = ctl::kAckErr;
  const ControlQueue::Outcome o = ctrl_chan_.execute(
      *platform_, *transport_, ctrl_, cls, cmd, parts, num_parts, options_.ctrl_timeout_ns, &ack);
  const char* why = nullptr;
  switch (o) {
    case ControlQueue::Outcome::kAck:
      if (ack == ctl::kAckOk) return CtrlResult::kOk;
      ++counters_.ctrl_rejected;
      return CtrlResult::kRejected;
    case ControlQueue::Outcome::kNoRoom:
      // The queue was checked at attach to hold a whole command and one
      // is in flight at a time: only a payload above kMaxData gets here.
      return CtrlResult::kInvalid;
    case ControlQueue::Outcome::kQueueFault:
      note_queue_fault(ctrl_);
      return CtrlResult::kDeviceFault;
    case ControlQueue::Outcome::kTimeout:
      ++counters_.ctrl_timeouts;
      why = "virtio-net: control command not completed in time, device will be reset";
      break;
    case ControlQueue::Outcome::kBadLen:
      ++counters_.ctrl_bad_len;
      why = "virtio-net: control completion with a bad length, device will be reset";
      break;
    case ControlQueue::Outcome::kBadAck:
      ++counters_.ctrl_bad_ack;
      why = "virtio-net: control ack neither OK nor ERR, device will be reset";
      break;
  }
  if (state_.compare_exchange(NetState::kRunning, NetState::kBroken))
    platform_->log(LogLevel::kError, why);
  return o == ControlQueue::Outcome::kTimeout ? CtrlResult::kTimeout : CtrlResult::kDeviceFault;
}

// ---- commands ------------------------------------------------------------------

uint16_t VirtioNet::shrink_pairs(uint16_t n) {
  // 5.1.6.5.5.2: once a command that lowers the pairs is in the available
  // ring, the driver MUST NOT queue on the pairs it disables. So first no
  // new tx_burst takes them (pairs_active_), then the running ones finish
  // (bounded, as in stop()); the caller restores the old count if the
  // device does not acknowledge.
  const uint16_t before = pairs_active_.load(MemOrder::kRelaxed);
  if (n >= before) return before;
  pairs_active_.store(n, MemOrder::kSeqCst);
  uint8_t leaving = 0;
  for (uint16_t k = n; k < before; ++k) leaving = static_cast<uint8_t>(leaving | busy_tx(k));
  while ((busy_.load(MemOrder::kSeqCst) & leaving) != 0) {
  }
  return before;
}

CtrlResult VirtioNet::rx_mode_command(RxMode mode, bool on) {
  const uint8_t m = static_cast<uint8_t>(mode);
  if (m >= kNumRxModes) return CtrlResult::kInvalid;
  const Feature need = m <= static_cast<uint8_t>(RxMode::kAllMulticast) ? Feature::kNetCtrlRx
                                                                        : Feature::kNetCtrlRxExtra;
  if (!has_feature(features_, need)) return CtrlResult::kUnsupported;
  const uint8_t value = on ? 1 : 0;
  const ControlQueue::Part part{&value, 1};
  const CtrlResult r = send_command(ctl::kClassRx, m, &part, 1);
  if (r == CtrlResult::kOk) {
    if (on)
      rx_modes_ = static_cast<uint8_t>(rx_modes_ | (1u << m));
    else
      rx_modes_ = static_cast<uint8_t>(rx_modes_ & ~(1u << m));
  }
  return r;
}

CtrlResult VirtioNet::mac_filter_command(const MacAddr* unicast, uint16_t n_unicast,
                                         const MacAddr* multicast, uint16_t n_multicast) {
  if (!has_feature(features_, Feature::kNetCtrlRx)) return CtrlResult::kUnsupported;
  if (uint32_t{n_unicast} + n_multicast > kMaxMacFilter || (n_unicast != 0 && unicast == nullptr) ||
      (n_multicast != 0 && multicast == nullptr))
    return CtrlResult::kInvalid;
  for (uint16_t i = 0; i < n_unicast; ++i)
    if (is_multicast(unicast[i])) return CtrlResult::kInvalid;
  for (uint16_t i = 0; i < n_multicast; ++i)
    if (!is_multicast(multicast[i])) return CtrlResult::kInvalid;
  // Two tables, each le32 entries + entries x 6 bytes, in a part each.
  uint8_t uc[ctl::kMacTableHeader + kMaxMacFilter * ctl::kMacLen];
  uint8_t mc[ctl::kMacTableHeader + kMaxMacFilter * ctl::kMacLen];
  spec::store_le32(uc, n_unicast);
  spec::store_le32(mc, n_multicast);
  for (uint16_t i = 0; i < n_unicast; ++i)
    __builtin_memcpy(uc + ctl::kMacTableHeader + i * ctl::kMacLen, unicast[i].b, 6);
  for (uint16_t i = 0; i < n_multicast; ++i)
    __builtin_memcpy(mc + ctl::kMacTableHeader + i * ctl::kMacLen, multicast[i].b, 6);
  const ControlQueue::Part parts[2] = {
      {uc, static_cast<uint32_t>(ctl::kMacTableHeader + n_unicast * ctl::kMacLen)},
      {mc, static_cast<uint32_t>(ctl::kMacTableHeader + n_multicast * ctl::kMacLen)}};
  const CtrlResult r = send_command(ctl::kClassMac, ctl::kMacTableSet, parts, 2);
  if (r == CtrlResult::kOk) {
    for (uint16_t i = 0; i < n_unicast; ++i) mac_filter_[i] = unicast[i];
    for (uint16_t i = 0; i < n_multicast; ++i) mac_filter_[n_unicast + i] = multicast[i];
    mac_filter_uc_ = n_unicast;
    mac_filter_mc_ = n_multicast;
  }
  return r;
}

CtrlResult VirtioNet::mac_address_command(const uint8_t mac[6]) {
  if (mac == nullptr || !spec::is_valid_unicast_mac(mac)) return CtrlResult::kInvalid;
  // The legacy alternative (writing the mac config field, 5.1.6.5.2.2 for
  // devices without CTRL_MAC_ADDR) needs a config write the transports do
  // not offer yet: such devices answer kUnsupported.
  // 5.1.6.5.2.2: no MAC class command at all without CTRL_RX -- MAC_ADDR_SET
  // included, whatever CTRL_MAC_ADDR says.
  if (!has_feature(features_, Feature::kNetCtrlMacAddr) ||
      !has_feature(features_, Feature::kNetCtrlRx))
    return CtrlResult::kUnsupported;
  uint8_t copy[6];
  __builtin_memcpy(copy, mac, 6);
  const ControlQueue::Part part{copy, 6};
  const CtrlResult r = send_command(ctl::kClassMac, ctl::kMacAddrSet, &part, 1);
  if (r == CtrlResult::kOk) {
    __builtin_memcpy(mac_, copy, 6);
    __builtin_memcpy(mac_override_, copy, 6);
    mac_chosen_ = true;
  }
  return r;
}

CtrlResult VirtioNet::vlan_command(uint16_t vid, bool add) {
  if (!has_feature(features_, Feature::kNetCtrlVlan)) return CtrlResult::kUnsupported;
  if (vid > ctl::kVlanMax) return CtrlResult::kInvalid;
  uint8_t data[2];
  spec::store_le16(data, vid);
  const ControlQueue::Part part{data, 2};
  const CtrlResult r = send_command(ctl::kClassVlan, add ? ctl::kVlanAdd : ctl::kVlanDel, &part, 1);
  if (r == CtrlResult::kOk) {
    if (add)
      vlans_[vid >> 5] |= 1u << (vid & 31);
    else
      vlans_[vid >> 5] &= ~(1u << (vid & 31));
  }
  return r;
}

CtrlResult VirtioNet::pairs_command(uint16_t n) {
  if (!has_feature(features_, Feature::kNetMq) && !has_feature(features_, Feature::kNetRss))
    return CtrlResult::kUnsupported;
  if (n < 1 || n > pairs_) return CtrlResult::kInvalid;
  // With RSS the pair count travels in RSS_CONFIG (max_tx_vq), with the
  // table spread over the pairs unless the caller chose one.
  if (has_feature(features_, Feature::kNetRss)) {
    RssSettings r = rss_;
    if (!rss_chosen_) {
      r.hash_types = rss_types_;
      r.table_len = rss_max_table_;
      r.unclassified_pair = 0;
      r.key_len = ctl::kRssKeySize;
      // A fixed key (the driver has no entropy source of its own).
      for (uint8_t i = 0; i < ctl::kRssKeySize; ++i)
        r.key[i] = static_cast<uint8_t>(0x6d + 0x5a * i);
    }
    for (uint16_t i = 0; i < r.table_len; ++i) r.table[i] = static_cast<uint16_t>(i % n);
    if (r.unclassified_pair >= n) r.unclassified_pair = 0;
    return rss_command(r, n);
  }
  uint8_t data[2];
  spec::store_le16(data, n);
  const ControlQueue::Part part{data, 2};
  const uint16_t before = shrink_pairs(n);
  const CtrlResult r = send_command(ctl::kClassMq, ctl::kMqVqPairsSet, &part, 1);
  pairs_active_.store(r == CtrlResult::kOk ? n : before, MemOrder::kRelaxed);
  return r;
}

CtrlResult VirtioNet::rss_command(const RssSettings& rss, uint16_t pairs) {
  if (!has_feature(features_, Feature::kNetRss)) return CtrlResult::kUnsupported;
  // Validated against the device's limits before anything is sent
  // (5.1.6.5.7.1): a power-of-two table within the device's length, hash
  // types it supports, a key no longer than it takes, queues it has.
  if (pairs < 1 || pairs > pairs_ || !spec::is_power_of_two(rss.table_len) ||
      rss.table_len > rss_max_table_ || (rss.hash_types & ~rss_types_) != 0 || rss.key_len == 0 ||
      rss.key_len > rss_max_key_ || rss.unclassified_pair >= pairs)
    return CtrlResult::kInvalid;
  for (uint16_t i = 0; i < rss.table_len; ++i)
    if (rss.table[i] >= pairs) return CtrlResult::kInvalid;
  uint8_t data[ctl::kRssConfigFixed + 2 * kMaxRssTable + ctl::kRssConfigTail + ctl::kRssKeySize];
  spec::store_le32(data, rss.hash_types);
  spec::store_le16(data + 4, static_cast<uint16_t>(rss.table_len - 1));
  // Queue numbers on the wire are receive virtqueue indices / 2: the pair.
  spec::store_le16(data + 6, rss.unclassified_pair);
  uint32_t off = ctl::kRssConfigFixed;
  for (uint16_t i = 0; i < rss.table_len; ++i, off += 2) spec::store_le16(data + off, rss.table[i]);
  spec::store_le16(data + off, pairs);  // max_tx_vq
  data[off + 2] = rss.key_len;
  off += ctl::kRssConfigTail;
  __builtin_memcpy(data + off, rss.key, rss.key_len);
  off += rss.key_len;
  const ControlQueue::Part part{data, off};
  const uint16_t before = shrink_pairs(pairs);
  const CtrlResult r = send_command(ctl::kClassMq, ctl::kMqRssConfig, &part, 1);
  pairs_active_.store(r == CtrlResult::kOk ? pairs : before, MemOrder::kRelaxed);
  if (r == CtrlResult::kOk && &rss != &rss_) rss_ = rss;
  return r;
}

CtrlResult VirtioNet::offloads_command(uint64_t offloads) {
  if (!has_feature(features_, Feature::kNetCtrlGuestOffloads)) return CtrlResult::kUnsupported;
  // 5.1.6.5.6.2: only offloads whose features were negotiated, and (as
  // 5.1.3.1 has it for the features) none without what it depends on.
  const uint64_t guest = features_ & kGuestOffloadBits;
  if ((offloads & ~guest) != 0 || spec::close_under_dependencies(offloads) != offloads)
    return CtrlResult::kInvalid;
  uint8_t data[8];
  spec::store_le32(data, static_cast<uint32_t>(offloads));
  spec::store_le32(data + 4, static_cast<uint32_t>(offloads >> 32));
  const ControlQueue::Part part{data, 8};
  // While the command is in flight the device may use either set (it
  // switches when it carries the command out, before the driver reads the
  // acknowledgement): the receive path accepts both until then. From the
  // acknowledgement on, only the new set: a frame written before a switch
  // off and harvested after it is dropped, counted (rx_drop_hdr_gso,
  // rx_drop_hdr_flags).
  const uint8_t before = offloads_active_.load(MemOrder::kRelaxed);
  const uint8_t next = guest_offloads_from_features(offloads);
  offloads_active_.store(static_cast<uint8_t>(before | next), MemOrder::kRelaxed);
  const CtrlResult r = send_command(ctl::kClassGuestOffloads, ctl::kGuestOffloadsSet, &part, 1);
  offloads_active_.store(r == CtrlResult::kOk ? next : before, MemOrder::kRelaxed);
  return r;
}

// ---- public entry points --------------------------------------------------------

CtrlResult VirtioNet::set_rx_mode(RxMode mode, bool on) {
  if (platform_ == nullptr) return CtrlResult::kNotRunning;
  return rx_mode_command(mode, on);
}

CtrlResult VirtioNet::set_mac_filter(const MacAddr* unicast, uint16_t n_unicast,
                                     const MacAddr* multicast, uint16_t n_multicast) {
  if (platform_ == nullptr) return CtrlResult::kNotRunning;
  return mac_filter_command(unicast, n_unicast, multicast, n_multicast);
}

CtrlResult VirtioNet::set_mac_address(const uint8_t mac[6]) {
  if (platform_ == nullptr) return CtrlResult::kNotRunning;
  return mac_address_command(mac);
}

CtrlResult VirtioNet::add_vlan(uint16_t vid) {
  if (platform_ == nullptr) return CtrlResult::kNotRunning;
  return vlan_command(vid, true);
}

CtrlResult VirtioNet::remove_vlan(uint16_t vid) {
  if (platform_ == nullptr) return CtrlResult::kNotRunning;
  return vlan_command(vid, false);
}

CtrlResult VirtioNet::set_queue_pairs(uint16_t n) {
  if (platform_ == nullptr) return CtrlResult::kNotRunning;
  const CtrlResult r = pairs_command(n);
  if (r == CtrlResult::kOk) pairs_wanted_ = n;
  return r;
}

CtrlResult VirtioNet::set_rss(const RssSettings& rss) {
  if (platform_ == nullptr) return CtrlResult::kNotRunning;
  const CtrlResult r = rss_command(rss, queue_pairs());
  if (r == CtrlResult::kOk) rss_chosen_ = true;
  return r;
}

CtrlResult VirtioNet::set_guest_offloads(uint64_t offloads) {
  if (platform_ == nullptr) return CtrlResult::kNotRunning;
  const CtrlResult r = offloads_command(offloads);
  if (r == CtrlResult::kOk) {
    offloads_chosen_ = true;
    offloads_wanted_ = offloads;
  }
  return r;
}

}  // namespace vnet
