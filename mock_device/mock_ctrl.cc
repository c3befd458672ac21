// MockDevice's control plane (virtio 1.2, 5.1.6.5): the control virtqueue,
// its commands and what they program (the receive filter, the enabled queue
// pairs, RSS and hash reporting; rx_filter.h), and the conformance checks
// of the driver's control-queue requirements.
//
// A command is one chain: class and command, then the command's data, in
// device-readable descriptors (any split among them), then the ack in the
// first device-writable byte. The device carries it out as QEMU 7.2's
// virtio_net_handle_ctrl_iov() does, writes VIRTIO_NET_OK or VIRTIO_NET_ERR
// and completes the chain with used.len = 1. A chain without the two
// header bytes or without a writable byte is what QEMU calls "virtio-net
// ctrl missing headers" (virtio_error): the device stops using the queue.
//
// What QEMU acknowledges, and so the mock (features checked by QEMU are
// marked; the others are conformance violations the device still carries
// out, as QEMU does):
//   RX      PROMISC..NOBCAST: one byte of data, 0 off / nonzero on; another
//           command: ERR.
//   MAC     TABLE_SET: le32 n + n unicast addresses (n * 6 bytes must be
//           there), le32 m + exactly m multicast addresses; more than the
//           table's 64 entries sets that kind's overflow flag. ADDR_SET:
//           exactly 6 bytes; the device MAC (config mac) changes until the
//           next reset.
//   VLAN    ADD/DEL: le16 vid below 4096.
//   ANNOUNCE ACK: OK when status has ANNOUNCE (which it clears), else ERR.
//   MQ      any MQ command first disables RSS. VQ_PAIRS_SET (MQ checked):
//           1 .. the device's queue pairs. RSS_CONFIG (RSS checked) and
//           HASH_CONFIG (HASH_REPORT checked): the layouts of
//           net_ctrl_layout.h; a table length (mask + 1) a power of two up
//           to 128, a key up to 40 bytes (the device's own limits, whatever
//           config space says), unclassified_queue and max_tx_vq within the
//           device's pairs, every table entry below max_tx_vq (QEMU does
//           not check the entries; the mock refuses what it could not
//           steer to). Key length 0 with hash types 0 disables RSS (OK).
//           RSS_CONFIG enables max_tx_vq pairs. HASH_CONFIG only turns the
//           hash report on (no steering).
//   GUEST_OFFLOADS  SET (CTRL_GUEST_OFFLOADS checked): exactly one le64 of
//           receive offloads, each a negotiated GUEST_CSUM/TSO4/TSO6/ECN/
//           UFO/USO4/USO6 bit (any other bit: ERR); the device then uses
//           only those on receive (guest_offloads()). After a reset every
//           negotiated one is enabled again at FEATURES_OK (5.1.6.5.8.1).
//           A device offering no offload at all answers ERR (QEMU: a
//           backend without a vnet header, as user networking).
//   anything else: ERR.
#include <algorithm>
#include <cstring>
#include <string>

#include "driver/spec/net_ctrl_layout.h"
#include "driver/spec/virtio_constants.h"
#include "mock_device/mock_device.h"
#include "mock_device/offload.h"

namespace vnet::mock {

namespace st = spec::status;
namespace ctl = spec::ctrl;
using spec::Feature;
using spec::has_feature;

namespace {

constexpr size_t kMaxCommandBytes = 256 * 1024;  // the largest RSS_CONFIG is ~128 KiB
constexpr uint16_t kDeviceMaxKey = 40;           // QEMU's VIRTIO_NET_RSS_MAX_KEY_SIZE
constexpr uint16_t kDeviceMaxTable = 128;        // QEMU's VIRTIO_NET_RSS_MAX_TABLE_LEN

uint16_t le16(std::span<const uint8_t> d, size_t at) {
  return uint16_t(d[at] | d[at + 1] << 8);
}
uint32_t le32(std::span<const uint8_t> d, size_t at) {
  return uint32_t(d[at]) | uint32_t(d[at + 1]) << 8 | uint32_t(d[at + 2]) << 16 |
         uint32_t(d[at + 3]) << 24;
}
bool power_of_two(uint32_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}
std::string cmd_name(uint8_t cls, uint8_t cmd) {
  return "class " + std::to_string(cls) + " command " + std::to_string(cmd);
}

// The fields of an RSS_CONFIG (rss) or HASH_CONFIG command, as far as the
// data holds them (ok false: too short).
struct RssFields {
  bool ok = false;
  uint32_t hash_types = 0;
  uint16_t mask = 0;
  uint16_t unclassified = 0;
  std::span<const uint8_t> table;  // le16 entries
  uint16_t max_tx_vq = 0;
  uint8_t key_len = 0;
  std::span<const uint8_t> key;
};

RssFields parse_rss(std::span<const uint8_t> d, bool rss) {
  RssFields f;
  if (d.size() < ctl::kRssConfigFixed) return f;
  f.hash_types = le32(d, 0);
  const size_t entries = rss ? size_t(le16(d, 4)) + 1 : 1;
  f.mask = rss ? le16(d, 4) : 0;
  f.unclassified = rss ? le16(d, 6) : 0;
  size_t at = ctl::kRssConfigFixed;
  if (d.size() < at + 2 * entries + ctl::kRssConfigTail) return f;
  f.table = d.subspan(at, 2 * entries);
  at += 2 * entries;
  f.max_tx_vq = le16(d, at);
  f.key_len = d[at + 2];
  at += ctl::kRssConfigTail;
  if (d.size() < at + f.key_len) return f;
  f.key = d.subspan(at, f.key_len);
  f.ok = true;
  return f;
}

}  // namespace

void MockDevice::reset_control_plane() {
  // virtio_net_reset(): promiscuous, no modes, empty tables, one pair.
  filter_.reset(true);
  rss_ = RssState{};
  active_pairs_ = 1;
  pairs_set_ = false;
  config_.status &= uint16_t(~spec::net_status::kAnnounce);
  if (mac_set_by_ctrl_) config_.mac = base_mac_;
  mac_set_by_ctrl_ = false;
  populate_hash_ = false;
  guest_offloads_ = 0;
}

void MockDevice::ctrl_features_set() {
  // virtio_net_set_features(): with CTRL_VLAN every VLAN is filtered until
  // added, without it every VLAN passes.
  const uint64_t neg = driver_features_ & config_.features;
  filter_.set_vlan_filtering(has_feature(neg, Feature::kNetCtrlVlan));
  // 5.1.6.5.8.1: upon feature negotiation every receive offload is enabled.
  guest_offloads_ = neg & offload::kGuestOffloads;
  refresh_queue_sizes();
}

uint8_t MockDevice::ctrl_guest_offloads(uint8_t cmd, std::span<const uint8_t> d) {
  // QEMU's virtio_net_handle_offloads.
  const uint64_t neg = driver_features_ & config_.features;
  if (!has_feature(neg, Feature::kNetCtrlGuestOffloads)) return ctl::kAckErr;
  if (cmd != ctl::kGuestOffloadsSet || d.size() != 8) return ctl::kAckErr;
  if (!(config_.features & offload::kOffloadOffer)) return ctl::kAckErr;  // no vnet header
  uint64_t offloads = 0;
  for (size_t i = 0; i < 8; ++i) offloads |= uint64_t(d[i]) << (8 * i);
  if (offloads & ~(neg & offload::kGuestOffloads)) return ctl::kAckErr;
  guest_offloads_ = offloads;
  ++counters_.ctrl_offloads_set;
  return ctl::kAckOk;
}

bool MockDevice::hash_reporting() const {
  return populate_hash_ && rss_.enabled;
}

void MockDevice::write_hash(uint8_t* hdr, std::span<const uint8_t> frame) const {
  if (!populate_hash_) return;
  RssResult r;
  if (rss_.enabled) r = rss_hash(frame, rss_.hash_types, rss_.key);
  spec::store_le32(hdr + ctl::kHashValueOffset, r.hash);
  spec::store_le16(hdr + ctl::kHashReportOffset, uint16_t(r.report));
}

uint16_t MockDevice::steer(std::span<const uint8_t> frame) const {
  if (!rss_.enabled || !rss_.redirect || rss_.table.empty()) return 0;
  const RssResult r = rss_hash(frame, rss_.hash_types, rss_.key);
  if (r.report == HashReport::kNone) return rss_.unclassified;
  return rss_.table[r.hash & (rss_.table.size() - 1)];
}

void MockDevice::request_announce() {
  config_.status |= spec::net_status::kAnnounce;
  bump_generation();
  if (status_ & st::kDriverOk) raise_config_interrupt();
}

size_t MockDevice::process_ctrl() {
  const int32_t index = ctrl_queue_index();
  if (index < 0 || index >= kMaxQueues) return 0;
  const uint16_t cq = uint16_t(index);
  DeviceRing& q = queues_[cq];
  if (!(status_ & st::kDriverOk) || (status_ & st::kDeviceNeedsReset) || !q.usable()) return 0;
  const uint64_t neg = driver_features_ & config_.features;
  size_t done = 0;
  uint16_t n = q.available();
  while (n > 0) {
    const uint16_t token = q.pop();
    --n;
    Chain& c = chain_;
    q.walk(token, &c);
    const uint16_t head = c.head;  // split: the token; packed: the buffer id
    if (!c.ok) {
      ++counters_.ctrl_chains_bad;
      q.halt();
      ++counters_.queue_halts;
      break;
    }
    ++counters_.ctrl_commands;
    if (!has_feature(neg, Feature::kNetCtrlVq) && !lost_state_)
      conformance_.report("def-5.1.2-1", "a command on controlq (queue " + std::to_string(cq) +
                                             ") without VIRTIO_NET_F_CTRL_VQ negotiated");
    if (c.readable_bytes < sizeof(ctl::Header) || c.writable_bytes < 1) {
      // QEMU: "virtio-net ctrl missing headers" -- virtio_error, no completion.
      if (!lost_state_)
        conformance_.report("def-5.1.6.5-1", "control command at head " + std::to_string(head) +
                                                 " with " + std::to_string(c.readable_bytes) +
                                                 " device-readable and " +
                                                 std::to_string(c.writable_bytes) +
                                                 " device-writable bytes: class and command "
                                                 "readable, then a writable ack byte");
      ++counters_.ctrl_chains_bad;
      q.halt();
      ++counters_.queue_halts;
      break;
    }
    // Gather the readable part (header and data, however it is split);
    // the ack is the first writable byte.
    ctrl_data_.clear();
    uint8_t* ack = nullptr;
    bool too_long = c.readable_bytes > kMaxCommandBytes;
    for (uint16_t s = 0; s < c.num_segments; ++s) {
      const ChainSegment& seg = c.segments[s];
      if (seg.writable) {
        if (ack == nullptr && seg.len > 0) ack = seg.data;
      } else if (!too_long) {
        ctrl_data_.insert(ctrl_data_.end(), seg.data, seg.data + seg.len);
      }
    }
    const uint8_t cls = too_long ? 0xFF : ctrl_data_[0];
    const uint8_t cmd = too_long ? 0xFF : ctrl_data_[1];
    const std::span<const uint8_t> data =
        too_long ? std::span<const uint8_t>() : std::span<const uint8_t>(ctrl_data_).subspan(2);
    Fault f;
    if (!ctrl_faults_.empty() && take_fault(ctrl_faults_, FaultKind::kCtrlNoCompletion, cq, &f)) {
      ++counters_.ctrl_unanswered;  // consumed, never carried out or completed
      continue;
    }
    if (!lost_state_ && !too_long) check_ctrl_command(cls, cmd, data);
    const uint8_t status = too_long ? ctl::kAckErr : ctrl_command(cls, cmd, data);
    ++(status == ctl::kAckOk ? counters_.ctrl_ok : counters_.ctrl_err);
    uint8_t written = status;
    uint32_t len = 1;
    uint32_t id = head;
    bool write_ack = true;
    if (!ctrl_faults_.empty()) {
      if (take_fault(ctrl_faults_, FaultKind::kCtrlAckValue, cq, &f)) written = uint8_t(f.value);
      if (take_fault(ctrl_faults_, FaultKind::kCtrlAckUnwritten, cq, &f)) write_ack = false;
      if (take_fault(ctrl_faults_, FaultKind::kCtrlUsedLen, cq, &f)) len = uint32_t(f.value);
      if (take_fault(ctrl_faults_, FaultKind::kCtrlUsedIdOther, cq, &f))
        id = q.size() ? uint32_t((head + 1u) % q.size()) : head + 1u;
      if (take_fault(ctrl_faults_, FaultKind::kCtrlUsedIdUnknown, cq, &f))
        id = uint32_t(q.size() + f.value);
    }
    if (write_ack) *ack = written;
    if (id == head) {
      complete(cq, head, len, c.writable_bytes);
    } else {
      // A completion naming another buffer: the entry says id, the chain
      // really used is head.
      q.push(q.next_used(cq, id, len), head);
      ++counters_.used_published;
    }
    ++done;
  }
  finish(cq);
  return done;
}

uint8_t MockDevice::ctrl_command(uint8_t cls, uint8_t cmd, std::span<const uint8_t> d) {
  switch (cls) {
    case ctl::kClassRx: {
      if (d.empty() || cmd > ctl::kRxNoBcast) return ctl::kAckErr;
      const bool on = d[0] != 0;
      bool* modes[] = {&filter_.promisc, &filter_.allmulti, &filter_.alluni,
                       &filter_.nomulti, &filter_.nouni,    &filter_.nobcast};
      *modes[cmd] = on;
      return ctl::kAckOk;
    }
    case ctl::kClassMac: {
      if (cmd == ctl::kMacAddrSet) {
        if (d.size() != ctl::kMacLen) return ctl::kAckErr;
        std::copy(d.begin(), d.end(), config_.mac.begin());
        mac_set_by_ctrl_ = true;
        return ctl::kAckOk;
      }
      if (cmd != ctl::kMacTableSet) return ctl::kAckErr;
      std::vector<MacAddress> macs;
      size_t at = 0;
      bool overflow[2] = {false, false};
      size_t first_multi = 0;
      for (int kind = 0; kind < 2; ++kind) {
        if (d.size() - at < ctl::kMacTableHeader) return ctl::kAckErr;
        const uint64_t entries = le32(d, at);
        at += ctl::kMacTableHeader;
        const uint64_t bytes = entries * ctl::kMacLen;
        // Unicast: the entries must be there; multicast: exactly the rest.
        if (kind == 0 ? bytes > d.size() - at : bytes != d.size() - at) return ctl::kAckErr;
        if (entries <= RxFilter::kMacTableEntries - macs.size()) {
          for (uint64_t e = 0; e < entries; ++e) {
            MacAddress m;
            std::copy_n(d.begin() + ptrdiff_t(at + e * ctl::kMacLen), ctl::kMacLen, m.begin());
            macs.push_back(m);
          }
        } else {
          overflow[kind] = true;
        }
        at += size_t(bytes);
        if (kind == 0) first_multi = macs.size();
      }
      filter_.macs = std::move(macs);
      filter_.first_multi = first_multi;
      filter_.uni_overflow = overflow[0];
      filter_.multi_overflow = overflow[1];
      return ctl::kAckOk;
    }
    case ctl::kClassVlan: {
      if (d.size() < 2) return ctl::kAckErr;
      const uint16_t vid = le16(d, 0);
      if (vid >= RxFilter::kMaxVlan) return ctl::kAckErr;
      uint32_t& word = filter_.vlans[vid >> 5];
      if (cmd == ctl::kVlanAdd)
        word |= 1u << (vid & 31);
      else if (cmd == ctl::kVlanDel)
        word &= ~(1u << (vid & 31));
      else
        return ctl::kAckErr;
      return ctl::kAckOk;
    }
    case ctl::kClassAnnounce:
      if (cmd == ctl::kAnnounceAck && (config_.status & spec::net_status::kAnnounce)) {
        config_.status &= uint16_t(~spec::net_status::kAnnounce);
        return ctl::kAckOk;
      }
      return ctl::kAckErr;
    case ctl::kClassMq:
      return ctrl_mq(cmd, d);
    case ctl::kClassGuestOffloads:
      return ctrl_guest_offloads(cmd, d);
    default:
      return ctl::kAckErr;
  }
}

uint8_t MockDevice::ctrl_mq(uint8_t cmd, std::span<const uint8_t> d) {
  const uint64_t neg = driver_features_ & config_.features;
  rss_.enabled = false;  // virtio_net_handle_mq: every MQ command first disables RSS
  uint32_t pairs = 0;
  if (cmd == ctl::kMqHashConfig) return ctrl_rss(d, false) ? ctl::kAckOk : ctl::kAckErr;
  if (cmd == ctl::kMqRssConfig) {
    pairs = ctrl_rss(d, true);
  } else if (cmd == ctl::kMqVqPairsSet) {
    if (!has_feature(neg, Feature::kNetMq) || d.size() < 2) return ctl::kAckErr;
    pairs = le16(d, 0);
  } else {
    return ctl::kAckErr;
  }
  if (pairs < ctl::kMinVqPairs || pairs > ctl::kMaxVqPairs || pairs > pairs_ || !multiqueue())
    return ctl::kAckErr;
  active_pairs_ = uint16_t(pairs);
  pairs_set_ = true;
  return ctl::kAckOk;
}

uint32_t MockDevice::ctrl_rss(std::span<const uint8_t> d, bool rss) {
  // Returns the queue pairs the command asks for (0: refused).
  const uint64_t neg = driver_features_ & config_.features;
  if (rss ? !has_feature(neg, Feature::kNetRss) : !has_feature(neg, Feature::kNetHashReport))
    return 0;
  const RssFields f = parse_rss(d, rss);
  if (!f.ok) return 0;
  const uint32_t entries = uint32_t(f.mask) + 1;
  if (!power_of_two(entries) || entries > kDeviceMaxTable) return 0;
  if (f.unclassified >= pairs_) return 0;
  const uint32_t pairs = rss ? f.max_tx_vq : active_pairs_;
  if (pairs == 0 || pairs > pairs_) return 0;
  if (f.key_len > kDeviceMaxKey) return 0;
  if (f.key_len == 0 && f.hash_types != 0) return 0;
  RssState next;
  next.hash_types = f.hash_types;
  next.unclassified = f.unclassified;
  for (uint32_t i = 0; i < entries; ++i) {
    const uint16_t e = le16(f.table, 2 * i);
    if (rss && e >= pairs) return 0;  // the mock cannot steer there
    next.table.push_back(rss ? e : 0);
  }
  if (f.key_len == 0) {  // no key, no hash types: RSS off
    rss_ = RssState{};
    return pairs;
  }
  next.key.assign(f.key.begin(), f.key.end());
  next.enabled = true;
  next.redirect = rss;
  rss_ = std::move(next);
  return pairs;
}

void MockDevice::check_ctrl_command(uint8_t cls, uint8_t cmd, std::span<const uint8_t> d) {
  const uint64_t neg = driver_features_ & config_.features;
  auto has = [&](Feature f) { return has_feature(neg, f); };
  const std::string what = cmd_name(cls, cmd);
  auto layout = [&](const std::string& why) {
    conformance_.report("def-5.1.6.5-2", what + ": " + why);
  };
  switch (cls) {
    case ctl::kClassRx:
      if (cmd <= ctl::kRxAllMulti && !has(Feature::kNetCtrlRx))
        conformance_.report("drv-5.1.6.5.1.2-1",
                            what + " (PROMISC/ALLMULTI) without VIRTIO_NET_F_CTRL_RX negotiated");
      if (cmd > ctl::kRxAllMulti && cmd <= ctl::kRxNoBcast && !has(Feature::kNetCtrlRxExtra))
        conformance_.report("drv-5.1.6.5.1.2-2", what +
                                                     " (ALLUNI/NOMULTI/NOUNI/NOBCAST) without "
                                                     "VIRTIO_NET_F_CTRL_RX_EXTRA negotiated");
      if (cmd > ctl::kRxNoBcast)
        layout("no such RX command");
      else if (d.size() != 1)
        layout(std::to_string(d.size()) + " bytes of data, not the u8 on");
      return;
    case ctl::kClassMac: {
      if (!has(Feature::kNetCtrlRx))
        conformance_.report("drv-5.1.6.5.2.2-1",
                            what + ": a MAC class command without VIRTIO_NET_F_CTRL_RX negotiated");
      if (cmd == ctl::kMacAddrSet) {
        if (!has(Feature::kNetCtrlMacAddr))
          conformance_.report(
              "def-5.1.6.5.2-1",
              what + ": MAC_ADDR_SET without VIRTIO_NET_F_CTRL_MAC_ADDR negotiated");
        if (d.size() != ctl::kMacLen)
          layout(std::to_string(d.size()) + " bytes of data, not the 6-byte address");
        return;
      }
      if (cmd != ctl::kMacTableSet) return layout("no such MAC command");
      // le32 n, n unicast addresses, le32 m, m multicast addresses, nothing else.
      bool ok = d.size() >= 4;
      size_t at = 0;
      for (int kind = 0; kind < 2 && ok; ++kind) {
        ok = d.size() - at >= 4;
        if (!ok) break;
        const uint64_t bytes = uint64_t(le32(d, at)) * ctl::kMacLen;
        at += 4;
        ok = bytes <= d.size() - at;
        at += ok ? size_t(bytes) : 0;
      }
      if (!ok || at != d.size())
        conformance_.report("drv-5.1.6.5.2.2-3",
                            what + ": MAC_TABLE_SET data of " + std::to_string(d.size()) +
                                " bytes is not le32 n, n addresses, le32 m, m addresses");
      return;
    }
    case ctl::kClassVlan:
      if (!has(Feature::kNetCtrlVlan))
        conformance_.report("def-5.1.6.5.3-1",
                            what + ": a VLAN command without VIRTIO_NET_F_CTRL_VLAN negotiated");
      if (cmd > ctl::kVlanDel)
        layout("no such VLAN command");
      else if (d.size() != 2 || le16(d, 0) > ctl::kVlanMax)
        layout("data is not one le16 VLAN id of 0..4095");
      return;
    case ctl::kClassAnnounce:
      if (!has(Feature::kNetGuestAnnounce))
        conformance_.report("def-5.1.6.5.4-1",
                            what + ": ANNOUNCE without VIRTIO_NET_F_GUEST_ANNOUNCE negotiated");
      if (cmd != ctl::kAnnounceAck) layout("no such ANNOUNCE command");
      return;
    case ctl::kClassMq:
      break;
    case ctl::kClassGuestOffloads: {
      if (!has(Feature::kNetCtrlGuestOffloads))
        conformance_.report("def-5.1.6.5.8-1", what +
                                                   ": a GUEST_OFFLOADS command without "
                                                   "VIRTIO_NET_F_CTRL_GUEST_OFFLOADS negotiated");
      if (cmd != ctl::kGuestOffloadsSet || d.size() != 8)
        return layout("data is not one le64 offloads word");
      uint64_t offloads = 0;
      for (size_t i = 0; i < 8; ++i) offloads |= uint64_t(d[i]) << (8 * i);
      const uint64_t allowed =
          has(Feature::kNetCtrlGuestOffloads) ? neg & offload::kGuestOffloads : 0;
      if (const uint64_t bad = offloads & ~allowed)
        conformance_.report("drv-5.1.6.5.8.2-1",
                            what + ": GUEST_OFFLOADS_SET enables " + hex(bad) +
                                ", not negotiated receive offloads (GUEST_CSUM, GUEST_TSO4/"
                                "TSO6/ECN/UFO/USO4/USO6)");
      return;
    }
    default:
      return layout("no such class");
  }
  // MQ.
  if (cmd == ctl::kMqVqPairsSet) {
    if (!has(Feature::kNetMq))
      conformance_.report("def-5.1.6.5.6-1",
                          what + ": VQ_PAIRS_SET without VIRTIO_NET_F_MQ negotiated");
    if (d.size() != 2) return layout("data is not one le16 virtqueue_pairs");
    const uint16_t n = le16(d, 0);
    if (n == 0 || n > config_.max_virtqueue_pairs)
      conformance_.report("drv-5.1.6.5.6.1-2", what + ": virtqueue_pairs " + std::to_string(n) +
                                                   " outside 1..max_virtqueue_pairs (" +
                                                   std::to_string(config_.max_virtqueue_pairs) +
                                                   ")");
    for (uint32_t q = 0; q < 2u * n && q < kMaxQueues; ++q)
      if (!qregs_[q].enabled) {
        conformance_.report("drv-5.1.6.5.6.1-1", what + ": VQ_PAIRS_SET " + std::to_string(n) +
                                                     " with queue " + std::to_string(q) +
                                                     " not configured");
        break;
      }
    return;
  }
  if (cmd != ctl::kMqRssConfig && cmd != ctl::kMqHashConfig) return layout("no such MQ command");
  const bool rss = cmd == ctl::kMqRssConfig;
  if (rss && !has(Feature::kNetRss))
    conformance_.report("drv-5.1.6.5.7.2-1",
                        what + ": RSS_CONFIG without VIRTIO_NET_F_RSS negotiated");
  if (!rss && !has(Feature::kNetHashReport))
    conformance_.report("def-5.1.6.5.6.4-1",
                        what + ": HASH_CONFIG without VIRTIO_NET_F_HASH_REPORT negotiated");
  const RssFields f = parse_rss(d, rss);
  if (!f.ok) return layout("data shorter than its own table and key lengths say");
  const size_t expect = ctl::kRssConfigFixed + f.table.size() + ctl::kRssConfigTail + f.key_len;
  if (d.size() != expect)
    layout(std::to_string(d.size()) + " bytes of data, the fields say " + std::to_string(expect));
  if (const uint32_t bad = f.hash_types & ~config_.supported_hash_types)
    conformance_.report(rss ? SpecRuleId("drv-5.1.6.5.7.2-5") : SpecRuleId("def-5.1.6.5.6.4-1"),
                        what + ": hash types " + hex(bad) + " not in supported_hash_types " +
                            hex(config_.supported_hash_types));
  if (f.key_len > config_.rss_max_key_size)
    conformance_.report(rss ? SpecRuleId("def-5.1.6.5.7.1-1") : SpecRuleId("def-5.1.6.5.6.4-1"),
                        what + ": hash_key_length " + std::to_string(f.key_len) +
                            " above rss_max_key_size " + std::to_string(config_.rss_max_key_size));
  if (!rss) return;
  const uint32_t entries = uint32_t(f.mask) + 1;
  if (!power_of_two(entries))
    conformance_.report("drv-5.1.6.5.7.2-3", what + ": indirection table of " +
                                                 std::to_string(entries) +
                                                 " entries (mask + 1) is not a power of two");
  if (f.mask >= config_.rss_max_indirection_table_length)
    conformance_.report("drv-5.1.6.5.7.2-4",
                        what + ": indirection_table_mask " + std::to_string(f.mask) +
                            " not below rss_max_indirection_table_length " +
                            std::to_string(config_.rss_max_indirection_table_length));
  for (uint32_t i = 0; i < entries; ++i) {
    const uint16_t e = le16(f.table, 2 * i);
    if (e >= f.max_tx_vq) {
      conformance_.report("drv-5.1.6.5.7.2-2", what + ": indirection_table[" + std::to_string(i) +
                                                   "] = " + std::to_string(e) +
                                                   ", not an enabled queue (max_tx_vq " +
                                                   std::to_string(f.max_tx_vq) + ")");
      break;
    }
  }
  if (f.max_tx_vq == 0 || f.max_tx_vq > config_.max_virtqueue_pairs ||
      f.unclassified >= f.max_tx_vq)
    conformance_.report("def-5.1.6.5.7.1-1",
                        what + ": max_tx_vq " + std::to_string(f.max_tx_vq) +
                            " / unclassified_queue " + std::to_string(f.unclassified) +
                            " outside the enabled queues (1..max_virtqueue_pairs " +
                            std::to_string(config_.max_virtqueue_pairs) + ")");
}

}  // namespace vnet::mock
