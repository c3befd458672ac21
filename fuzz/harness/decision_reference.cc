#include "fuzz/harness/decision_reference.h"

#include <string.h>

#include "driver/spec/virtio_constants.h"

#include "fuzz/harness/findings.h"

namespace vnet::fuzz {

namespace {

// From the specification (written here, not taken from the driver).
constexpr uint32_t kEthHeader = 14;
constexpr uint32_t kVlanTag = 4;
constexpr uint32_t kMinMtu = 68;            // 5.1.4.1
constexpr uint32_t kMaxSplitQueue = 32768;  // 2.7
constexpr uint8_t kGsoNone = 0;
constexpr uint8_t kFlagDataValid = 2;  // 5.1.6: VIRTIO_NET_HDR_F_DATA_VALID
constexpr unsigned kBitMac = 5, kBitMtu = 3, kBitMrg = 15, kBitVersion1 = 32, kBitAnyLayout = 27;

bool bit(uint64_t f, unsigned b) {
  return ((f >> b) & 1) != 0;
}
bool pow2(uint32_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

const char* attach_key(AttachError e) {
  return attach_error_name(e);
}

// Offloads (5.1.3, 5.1.6), from the specification and the driver's
// documented policy (packet_buffer.h "Offloads", offload.h). Feature bits:
constexpr unsigned kBitCsum = 0, kBitGuestCsum = 1, kBitCtrlGuestOffloads = 2, kBitGuestTso4 = 7,
                   kBitGuestTso6 = 8, kBitGuestEcn = 9, kBitHostTso4 = 11, kBitHostTso6 = 12,
                   kBitHostEcn = 13, kBitCtrlVq = 17, kBitGuestUso4 = 54, kBitGuestUso6 = 55,
                   kBitHostUso = 56;
constexpr uint32_t kGsoFrameMax = 65550;  // 5.1.6.3: 65562-byte buffers less a 12-byte header
constexpr uint8_t kFlagNeedsCsum = 1;
constexpr uint8_t kGsoTcp4 = 1, kGsoTcp6 = 4, kGsoUdpL4 = 5, kGsoEcnBit = 0x80;

// The frame's headers as an offload acts on them, parsed here on their own
// (not with the driver's parser): Ethernet with at most one 802.1Q tag,
// IPv4 (IHL >= 5, not a fragment) or IPv6 (TCP/UDP right after the fixed
// header), TCP (data offset >= 5) or UDP, all within n bytes.
struct RefHeaders {
  uint32_t l4 = 0, end = 0;
  int ip = 0;     // 4 or 6
  int proto = 0;  // 6 TCP, 17 UDP
  bool tagged = false;
};
bool ref_parse(const uint8_t* f, uint32_t n, RefHeaders* h) {
  uint32_t at = 12;
  if (n < 14) return false;
  uint32_t type = uint32_t{f[at]} << 8 | f[at + 1];
  at = 14;
  if (type == 0x8100) {
    if (n < 18) return false;
    type = uint32_t{f[16]} << 8 | f[17];
    at = 18;
    h->tagged = true;
  }
  if (type == 0x0800) {
    if (n < at + 20 || f[at] >> 4 != 4 || (f[at] & 15) < 5) return false;
    const uint32_t ihl = (f[at] & 15u) << 2;
    if (n < at + ihl || ((f[at + 6] & 0x3F) | f[at + 7]) != 0) return false;
    h->ip = 4;
    h->proto = f[at + 9];
    h->l4 = at + ihl;
  } else if (type == 0x86DD) {
    if (n < at + 40 || f[at] >> 4 != 6) return false;
    h->ip = 6;
    h->proto = f[at + 6];
    h->l4 = at + 40;
  } else {
    return false;
  }
  if (h->proto == 6) {
    if (n < h->l4 + 20 || f[h->l4 + 12] >> 4 < 5 || n < h->l4 + (f[h->l4 + 12] >> 4) * 4u)
      return false;
    h->end = h->l4 + (f[h->l4 + 12] >> 4) * 4u;
    return true;
  }
  if (h->proto == 17) {
    if (n < h->l4 + 8) return false;
    h->end = h->l4 + 8;
    return true;
  }
  return false;
}

}  // namespace

// The receive verdict of one whole frame that passed the header-field rules
// (offload.h's second step): a drop counter, or delivery with its offload
// report. head/head_len: the frame's first bytes in its first buffer.
DecisionReference::FrameVerdict DecisionReference::judge_frame(const uint8_t* hdr,
                                                               const uint8_t* head,
                                                               uint32_t head_len,
                                                               uint32_t frame_len) const {
  FrameVerdict v;
  const uint8_t flags = hdr[0];
  const uint8_t gso = static_cast<uint8_t>(hdr[1] & ~kGsoEcnBit);
  const bool ecn = (hdr[1] & kGsoEcnBit) != 0;
  const uint32_t hdr_len = hdr[2] | hdr[3] << 8;
  const uint32_t gso_size = hdr[4] | hdr[5] << 8;
  const uint32_t start = hdr[6] | hdr[7] << 8;
  const uint32_t offset = hdr[8] | hdr[9] << 8;
  const bool partial = (flags & kFlagNeedsCsum) != 0;
  if (partial && start + offset + 2 > frame_len) return v.drop(&NetCounters::rx_drop_csum_bounds);
  if (partial) {
    v.offload.csum = CsumState::kPartial;
    v.offload.csum_start = static_cast<uint16_t>(start);
    v.offload.csum_offset = static_cast<uint16_t>(offset);
  } else if ((flags & kFlagDataValid) != 0 && bit(guest_, kBitGuestCsum)) {
    v.offload.csum = CsumState::kVerified;
  }
  if (gso != kGsoNone) {
    if (!partial) return v.drop(&NetCounters::rx_drop_gso_no_csum);
    if (hdr_len > frame_len) return v.drop(&NetCounters::rx_drop_hdr_len);
    if (gso_size == 0) return v.drop(&NetCounters::rx_drop_gso_size);
    RefHeaders h;
    if (!ref_parse(head, head_len, &h)) return v.drop(&NetCounters::rx_drop_gso_proto);
    const bool tcp = gso != kGsoUdpL4;
    if (h.proto != (tcp ? 6 : 17) || (gso == kGsoTcp4 && h.ip != 4) ||
        (gso == kGsoTcp6 && h.ip != 6))
      return v.drop(&NetCounters::rx_drop_gso_proto);
    if (!tcp && !bit(guest_, h.ip == 4 ? kBitGuestUso4 : kBitGuestUso6))
      return v.drop(&NetCounters::rx_drop_hdr_gso);
    if (start != h.l4 || offset != (tcp ? 16u : 6u)) return v.drop(&NetCounters::rx_drop_gso_proto);
    if (h.end + gso_size > frame_max_ - kVlanTag + (h.tagged ? kVlanTag : 0) || frame_len <= h.end)
      return v.drop(&NetCounters::rx_drop_gso_size);
    v.offload.gso = gso == kGsoTcp4   ? GsoKind::kTcp4
                    : gso == kGsoTcp6 ? GsoKind::kTcp6
                                      : GsoKind::kUdp;
    v.offload.ecn = ecn;
    v.offload.gso_size = static_cast<uint16_t>(gso_size);
    v.offload.hdr_len = static_cast<uint16_t>(h.end);
  }
  if (frame_len > (gso != kGsoNone ? kGsoFrameMax : frame_max_))
    return v.drop(&NetCounters::rx_drop_len_mtu);
  v.deliver = true;
  return v;
}

// The header fields alone (offload.h's first step): gso_type, then flags.
uint64_t NetCounters::*DecisionReference::judge_fields(const uint8_t* hdr) const {
  const uint8_t flags = hdr[0];
  const uint8_t gso = static_cast<uint8_t>(hdr[1] & ~kGsoEcnBit);
  const bool ecn = (hdr[1] & kGsoEcnBit) != 0;
  bool known = false;
  switch (gso) {
    case kGsoNone:
      known = !ecn;
      break;
    case kGsoTcp4:
      known = bit(guest_, kBitGuestTso4);
      break;
    case kGsoTcp6:
      known = bit(guest_, kBitGuestTso6);
      break;
    case kGsoUdpL4:
      known = !ecn && (bit(guest_, kBitGuestUso4) || bit(guest_, kBitGuestUso6));
      break;
    default:
      break;
  }
  if (!known || (ecn && !bit(guest_, kBitGuestEcn))) return &NetCounters::rx_drop_hdr_gso;
  if ((flags & ~(kFlagNeedsCsum | kFlagDataValid)) != 0 ||
      ((flags & kFlagNeedsCsum) != 0 && !bit(guest_, kBitGuestCsum)))
    return &NetCounters::rx_drop_hdr_flags;
  return nullptr;
}

void DecisionReference::begin_input() {
  predictable_ = true;
  facts_ = false;
  mtu_known_ = false;
  skip_ = 0;
  reset_epoch_ = 0;
}

void DecisionReference::check_attach(const mock::MockDevice& device, const VirtioNet& net,
                                     const NetOptions& options, AttachError result) {
  facts_ = false;
  mtu_known_ = false;
  skip_ = 0;
  if (result != AttachError::kOk) {
    // The facts below hold for an attach that got as far as the queues.
    if (!predictable_) return;
  }
  const bool legacy = device.legacy_mode();
  const mock::DeviceConfig& cfg = device.config();
  const uint64_t negotiated = device.driver_features();
  const bool split_header = !bit(negotiated, kBitVersion1) && !bit(negotiated, kBitAnyLayout);
  hdr_size_ = bit(negotiated, kBitVersion1) || bit(negotiated, kBitMrg) ? 12 : 10;
  if (bit(negotiated, 57)) hdr_size_ = 20;  // HASH_REPORT: hash_value, hash_report (5.1.6)
  mrg_ = bit(negotiated, kBitMrg);
  if (!predictable_) {
    facts_ = result == AttachError::kOk;
    return;
  }

  // The queue rules, receiveq1 then transmitq1 (2.7: a power of two, at
  // most 32768; 0 means unavailable; a legacy ring the driver cannot hold
  // is refused, a modern one is made smaller).
  AttachError expected = AttachError::kOk;
  int failing_queue = -1;
  uint32_t size[2] = {};
  const uint16_t caps[2] = {options.rx_ring_cap, options.tx_ring_cap};
  for (int q = 0; q < 2 && expected == AttachError::kOk; ++q) {
    const uint32_t max = cfg.queue_sizes[q];
    if (max == 0) {
      expected = AttachError::kQueueUnavailable;
    } else if (!pow2(max) || max > kMaxSplitQueue) {
      expected = AttachError::kQueueSizeInvalid;
    } else if (legacy && !mock::is_mmio(cfg.transport)) {
      // (virtio-mmio version 1 is legacy too, but its QueueNum is written.)
      if (max > SplitQueue::kMaxSize) expected = AttachError::kQueueSizeInvalid;
      size[q] = max;
    } else {
      uint32_t wanted = 1;
      const uint32_t need = uint32_t{caps[q]} * (split_header ? 2u : 1u);
      while (wanted < need && wanted < SplitQueue::kMaxSize) wanted <<= 1;
      size[q] = wanted < max ? wanted : max;
    }
    if (expected != AttachError::kOk) failing_queue = q;
  }
  const bool queue_error =
      result == AttachError::kQueueUnavailable || result == AttachError::kQueueSizeInvalid;
  if (expected != AttachError::kOk || queue_error) {
    // Only when the attach got as far as the queues.
    const bool reached =
        result == AttachError::kOk || queue_error || result == AttachError::kNoDmaMemory ||
        result == AttachError::kQueueSetupRefused || result == AttachError::kNoRxBuffers;
    // receiveq1 is set up (allocated, told to the device) before
    // transmitq1's size is looked at: a platform that runs out of memory
    // or a device that refuses the first queue ends the attach first.
    const bool earlier_failure = failing_queue == 1 && (result == AttachError::kNoDmaMemory ||
                                                        result == AttachError::kQueueSetupRefused);
    if (reached && result != expected && !earlier_failure)
      finding(Oracle::kDecision,
              "attach returned '%s' but the device's queue sizes (rx max %u, tx max %u, %s) "
              "call for '%s'",
              attach_key(result), cfg.queue_sizes[0], cfg.queue_sizes[1],
              legacy ? "legacy" : "modern", attach_key(expected));
    return;
  }
  if (result != AttachError::kOk) return;
  for (int q = 0; q < 2; ++q)
    if (device.ring(static_cast<uint16_t>(q)).size() != size[q])
      finding(Oracle::kDecision,
              "queue %d set up with %u entries; the device allows %u and the driver's cap of %u "
              "asks for %u",
              q, device.ring(static_cast<uint16_t>(q)).size(), cfg.queue_sizes[q], caps[q],
              size[q]);

  // The features: the offer (the legacy interface shows 32 bits) that the
  // driver implements and the caller allows, less what the configuration
  // makes unusable.
  const uint64_t offered = legacy ? (cfg.features & 0xFFFFFFFFull) : cfg.features;
  uint64_t mask = options.feature_mask;
  if (!options.accept_access_platform) mask &= ~(uint64_t{1} << 33);  // VIRTIO_F_ACCESS_PLATFORM
  if (!options.accept_order_platform) mask &= ~(uint64_t{1} << 36);   // VIRTIO_F_ORDER_PLATFORM
  uint64_t want = offered & VirtioNet::supported_features(legacy) & mask;
  // VIRTIO_F_RING_PACKED (2.8): only when the caller accepts packed rings,
  // and never on a legacy interface (no bit 34 there).
  if (options.accept_ring_packed && !legacy) want |= offered & mask & (uint64_t{1} << 34);
  // VIRTIO_F_INDIRECT_DESC (2.7.5.3) and VIRTIO_F_IN_ORDER (2.7.9, modern
  // only): likewise only on the caller's request.
  if (options.accept_indirect_desc) want |= offered & mask & (uint64_t{1} << 28);
  if (options.accept_in_order && !legacy) want |= offered & mask & (uint64_t{1} << 35);
  // The MAC the device offered at negotiation: a MAC_ADDR_SET the driver
  // sent since (a made-up address, told to the device) changed cfg.mac.
  const auto& mac = device.reset_mac();
  const bool mac_zero = (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0;
  if (mac_zero || (mac[0] & 1) != 0) want &= ~(uint64_t{1} << kBitMac);
  // Offloads, on the caller's request only (off by default); GUEST_TSO/USO
  // only with a place for a 64 KiB frame: receive chains over MRG_RXBUF,
  // or big buffers (max_frame >= 65550). Closed under 5.1.3.1 below.
  // (Not on a legacy device without ANY_LAYOUT: a buffer is two
  // descriptors there, the header's and the frame's.)
  const bool chains = options.rx_chains && bit(want, kBitMrg) &&
                      (bit(want, kBitVersion1) || bit(want, kBitAnyLayout));
  {
    uint64_t off = 0;
    if (options.accept_tx_csum) off |= uint64_t{1} << kBitCsum;
    if (options.accept_tso)
      off |= uint64_t{1} << kBitHostTso4 | uint64_t{1} << kBitHostTso6 |
             uint64_t{1} << kBitHostEcn | uint64_t{1} << kBitHostUso;
    if (options.accept_rx_csum) off |= uint64_t{1} << kBitGuestCsum;
    if (options.accept_rx_gso && (chains || options.max_frame >= kGsoFrameMax))
      off |= uint64_t{1} << kBitGuestTso4 | uint64_t{1} << kBitGuestTso6 |
             uint64_t{1} << kBitGuestEcn | uint64_t{1} << kBitGuestUso4 |
             uint64_t{1} << kBitGuestUso6;
    if (options.accept_ctrl_vq && (options.accept_rx_csum || options.accept_rx_gso))
      off |= uint64_t{1} << kBitCtrlGuestOffloads;
    want |= offered & mask & off;
  }
  const uint32_t mtu = cfg.mtu;
  // A frame must fit one buffer -- or, with receive chains over MRG_RXBUF,
  // may take several.
  const bool mtu_ok = mtu >= kMinMtu && (mtu + kEthHeader <= options.max_frame || chains);
  if (!mtu_ok) want &= ~(uint64_t{1} << kBitMtu);
  // The control plane (NetOptions::accept_ctrl_vq): CTRL_VQ and the command
  // features, MQ when more than one pair is allowed, RSS and HASH_REPORT on
  // request (modern only); none without CTRL_VQ (5.1.3.1); MQ/RSS only
  // with max_virtqueue_pairs 1..0x8000, RSS/HASH_REPORT only with a key
  // size of at least 40, a hash type, and (RSS) an indirection table.
  if (options.accept_ctrl_vq) {
    using spec::Feature;
    using spec::feature_mask;
    uint64_t ctrl = feature_mask(Feature::kNetCtrlVq) | feature_mask(Feature::kNetCtrlRx) |
                    feature_mask(Feature::kNetCtrlRxExtra) | feature_mask(Feature::kNetCtrlVlan) |
                    feature_mask(Feature::kNetCtrlMacAddr) |
                    feature_mask(Feature::kNetGuestAnnounce);
    if (options.max_queue_pairs > 1) ctrl |= feature_mask(Feature::kNetMq);
    if (options.accept_rss && !legacy) ctrl |= feature_mask(Feature::kNetRss);
    if (options.accept_hash_report && !legacy) ctrl |= feature_mask(Feature::kNetHashReport);
    want = spec::close_under_dependencies(want | (offered & mask & ctrl));
    if (!bit(want, 17)) want &= ~feature_mask(Feature::kNetHashReport);  // not without CTRL_VQ
    const uint64_t pairs = feature_mask(Feature::kNetMq) | feature_mask(Feature::kNetRss);
    const uint64_t hashing = feature_mask(Feature::kNetRss) | feature_mask(Feature::kNetHashReport);
    // Fields outside the device's configuration window (as the probe found
    // it) cannot be read: the features that need them are not taken.
    const uint32_t window = net.transport() != nullptr ? net.transport()->config_window_size() : 0;
    const bool pairs_readable = window >= 10;  // max_virtqueue_pairs: 8..9
    const bool rss_readable = window >= 24;    // ... supported_hash_types: 20..23
    if ((want & (pairs | hashing)) != 0 &&
        (!pairs_readable || ((want & hashing) != 0 && !rss_readable) ||
         cfg.max_virtqueue_pairs < 1 || cfg.max_virtqueue_pairs > 0x8000))
      want &= ~(pairs | hashing);
    else if ((want & hashing) != 0 &&
             (cfg.rss_max_key_size < 40 || (cfg.supported_hash_types & 0x1FF) == 0 ||
              (bit(want, 60) && cfg.rss_max_indirection_table_length == 0)))
      want &= ~hashing;
  }
  want = spec::close_under_dependencies(want);
  // CTRL_GUEST_OFFLOADS with no guest offload to switch: not taken.
  constexpr uint64_t kGuestBits = uint64_t{1} << kBitGuestCsum | uint64_t{1} << kBitGuestTso4 |
                                  uint64_t{1} << kBitGuestTso6 | uint64_t{1} << kBitGuestEcn |
                                  uint64_t{1} << 10 | uint64_t{1} << kBitGuestUso4 |
                                  uint64_t{1} << kBitGuestUso6;
  if ((want & kGuestBits) == 0 || !bit(want, kBitCtrlVq))
    want &= ~(uint64_t{1} << kBitCtrlGuestOffloads);
  if (negotiated != want)
    finding(Oracle::kDecision,
            "driver accepted features 0x%llx; the offer 0x%llx (MAC %s, MTU %u, max_frame %u) "
            "calls for 0x%llx",
            static_cast<unsigned long long>(negotiated), static_cast<unsigned long long>(offered),
            mac_zero || (mac[0] & 1) ? "unusable" : "valid", mtu, options.max_frame,
            static_cast<unsigned long long>(want));
  const uint32_t expected_mtu = bit(want, kBitMtu) ? mtu : options.fallback_mtu;
  if (net.mtu() != expected_mtu)
    finding(Oracle::kDecision, "driver runs with MTU %u; the device's MTU %u (%s) calls for %u",
            net.mtu(), mtu, bit(want, kBitMtu) ? "negotiated" : "not usable", expected_mtu);
  facts_ = true;
  mtu_known_ = true;
  frame_max_ = expected_mtu + kEthHeader + kVlanTag;
  guest_ = want & kGuestBits;
  host_ =
      want & (uint64_t{1} << kBitCsum | uint64_t{1} << kBitHostTso4 | uint64_t{1} << kBitHostTso6 |
              uint64_t{1} << kBitHostEcn | uint64_t{1} << kBitHostUso);
  chains_ = chains;
  const uint32_t buffer_min = hdr_size_ + options.max_frame;
  chain_max_ = (hdr_size_ + kGsoFrameMax + buffer_min - 1) / buffer_min;
  chain_ = Chain{};
}

void DecisionReference::check_rx(const OraclePlatform& oracle, const Delivered* delivered,
                                 uint32_t n, const NetCounters& before, const NetCounters& after) {
  if (oracle.reset_epoch() != reset_epoch_) {
    reset_epoch_ = oracle.reset_epoch();
    skip_ = 0;
    chain_ = Chain{};
  }
  if (!facts_) return;
  NetCounters expect{};
  uint32_t delivered_expected = 0;
  bool mtu_open = false;  // a frame whose fate depends on an unknown MTU
  // A frame the reference delivers: the next frame handed up must be it.
  auto expect_delivery = [&](const uint8_t* first_data, uint32_t first_len, uint32_t total,
                             uint32_t buffers, const PacketOffload& off, uint32_t i,
                             uint16_t head) {
    const Delivered* d = delivered_expected < n ? &delivered[delivered_expected] : nullptr;
    if (d == nullptr || d->data != first_data || d->len != first_len || d->total != total ||
        d->buffers != buffers)
      finding(Oracle::kDecision,
              "rx completion %u (chain %u) must be delivered as a frame of %u bytes in %u "
              "buffer(s), the first %u bytes long; the driver delivered %s",
              i, head, total, buffers, first_len, d == nullptr ? "nothing there" : "another frame");
    const PacketOffload& o = d->offload;
    if (o.csum != off.csum || o.gso != off.gso || o.ecn != off.ecn ||
        (off.csum == CsumState::kPartial &&
         (o.csum_start != off.csum_start || o.csum_offset != off.csum_offset)) ||
        (off.gso != GsoKind::kNone && (o.gso_size != off.gso_size || o.hdr_len != off.hdr_len)))
      finding(Oracle::kDecision,
              "rx frame of chain %u delivered with offload csum %u start %u offset %u gso %u size "
              "%u hdr_len %u ecn %u; its header calls for csum %u start %u offset %u gso %u size "
              "%u hdr_len %u ecn %u",
              head, unsigned(o.csum), o.csum_start, o.csum_offset, unsigned(o.gso), o.gso_size,
              o.hdr_len, o.ecn, unsigned(off.csum), off.csum_start, off.csum_offset,
              unsigned(off.gso), off.gso_size, off.hdr_len, off.ecn);
    ++delivered_expected;
  };
  const uint32_t count = oracle.rx_log_size();
  for (uint32_t i = 0; i < count; ++i) {
    const OraclePlatform::RxCompletion& c = oracle.rx_log()[i];
    if (skip_ != 0) {
      --skip_;
      continue;
    }
    if (chain_.need != 0) {
      // A further buffer of a frame spread over several (5.1.6.4): used.len
      // within it, not empty, the frame within 64 KiB.
      if (c.len > c.writable || c.len == 0 || chain_.total + c.len > kGsoFrameMax) {
        ++expect.rx_drop_chain_len;
        skip_ = static_cast<uint16_t>(chain_.need - 1);
        chain_ = Chain{};
        continue;
      }
      chain_.total += c.len;
      ++chain_.buffers;
      if (--chain_.need != 0) continue;
      const Chain done = chain_;
      chain_ = Chain{};
      const FrameVerdict v = judge_frame(done.hdr, done.head, done.head_len, done.total);
      if (!v.deliver) {
        ++(expect.*v.counter);
        continue;
      }
      expect_delivery(done.first_data, done.first_len, done.total, done.buffers, v.offload, i,
                      done.first_head);
      continue;
    }
    if (c.len > c.writable) {
      ++expect.rx_drop_len_over;
      continue;
    }
    if (c.len < hdr_size_ + kEthHeader) {
      ++expect.rx_drop_len_short;
      continue;
    }
    const uint8_t flags = c.hdr[0];
    const uint8_t gso_type = c.hdr[1];
    const uint16_t num_buffers = static_cast<uint16_t>(c.hdr[10] | c.hdr[11] << 8);
    const uint32_t buffers = mrg_ ? num_buffers : 1;
    if (buffers != 1) {
      // 5.1.6.4: the next num_buffers - 1 used buffers belong to this
      // frame -- assembled with receive chains when no more than are
      // posted and a 64 KiB frame needs; else skipped, but only as many as
      // are still posted.
      const uint32_t extra = num_buffers > 0 ? num_buffers - 1u : 0u;
      if (!chains_ || num_buffers == 0 || num_buffers > chain_max_ || extra > c.posted_after) {
        if (extra <= c.posted_after) skip_ = static_cast<uint16_t>(extra);
        ++expect.rx_drop_num_buffers;
        continue;
      }
    }
    if (uint64_t NetCounters::*field = judge_fields(c.hdr)) {
      ++(expect.*field);
      skip_ = static_cast<uint16_t>(buffers - 1);  // the whole frame goes
      continue;
    }
    const uint32_t frame = c.len - hdr_size_;
    if (!mtu_known_) {
      mtu_open = true;
    } else if (buffers == 1 && frame > (gso_type == kGsoNone ? frame_max_ : kGsoFrameMax)) {
      ++expect.rx_drop_len_mtu;
      continue;
    }
    if (mtu_open) continue;
    if (buffers != 1) {
      chain_.need = buffers - 1;
      chain_.buffers = 1;
      chain_.total = frame;
      chain_.first_len = frame;
      chain_.first_data = c.data + hdr_size_;
      chain_.first_head = c.head;
      memcpy(chain_.hdr, c.hdr, sizeof chain_.hdr);
      chain_.head_len = c.front_len < frame ? c.front_len : frame;
      memcpy(chain_.head, c.front, chain_.head_len);
      continue;
    }
    const FrameVerdict v =
        judge_frame(c.hdr, c.front, c.front_len < frame ? c.front_len : frame, frame);
    if (!v.deliver) {
      ++(expect.*v.counter);
      continue;
    }
    (void)flags;
    expect_delivery(c.data + hdr_size_, frame, frame, 1, v.offload, i, c.head);
  }
  if (mtu_open) return;
  if (delivered_expected != n)
    finding(Oracle::kDecision,
            "driver delivered %u frames from %u rx completions; the reference delivers %u", n,
            count, delivered_expected);
#define VNET_CHECK_DROP(name)                                                                     \
  if (after.name - before.name != expect.name)                                                    \
    finding(Oracle::kDecision, "rx_burst counted %llu under " #name "; the reference drops %llu", \
            static_cast<unsigned long long>(after.name - before.name),                            \
            static_cast<unsigned long long>(expect.name));
  VNET_CHECK_DROP(rx_drop_len_over)
  VNET_CHECK_DROP(rx_drop_len_short)
  VNET_CHECK_DROP(rx_drop_num_buffers)
  VNET_CHECK_DROP(rx_drop_hdr_gso)
  VNET_CHECK_DROP(rx_drop_hdr_flags)
  VNET_CHECK_DROP(rx_drop_len_mtu)
  VNET_CHECK_DROP(rx_drop_chain_len)
  VNET_CHECK_DROP(rx_drop_csum_bounds)
  VNET_CHECK_DROP(rx_drop_hdr_len)
  VNET_CHECK_DROP(rx_drop_gso_no_csum)
  VNET_CHECK_DROP(rx_drop_gso_size)
  VNET_CHECK_DROP(rx_drop_gso_proto)
#undef VNET_CHECK_DROP
}

void DecisionReference::check_tx_offload(const uint8_t* frame, uint32_t len, uint32_t first_len,
                                         const PacketOffload& req, uint16_t taken,
                                         const NetCounters& before, const NetCounters& after) {
  if (!facts_ || !mtu_known_) return;
  // The driver's verdict on the request (packet_buffer.h "Offloads"): the
  // frame's length first, then the request against the features and the
  // frame. A frame it did not take (ring full) passed both.
  NetCounters expect{};
  bool sent = false;
  const bool gso = req.gso != GsoKind::kNone;
  const uint32_t mtu = frame_max_ - kEthHeader - kVlanTag;
  auto verdict = [&]() -> uint64_t NetCounters::* {
    if (len < kEthHeader || len > (gso ? kGsoFrameMax : mtu + kEthHeader))
      return &NetCounters::tx_drop_len;
    if (req.csum == CsumState::kVerified) return &NetCounters::tx_drop_offload_feature;
    if (req.csum == CsumState::kPartial) {
      if (!bit(host_, kBitCsum)) return &NetCounters::tx_drop_offload_feature;
      if (uint32_t{req.csum_start} + req.csum_offset + 2 > len)
        return &NetCounters::tx_drop_offload_csum;
    }
    if (!gso) return req.ecn ? &NetCounters::tx_drop_offload_feature : nullptr;
    const bool tcp = req.gso != GsoKind::kUdp;
    const unsigned need = req.gso == GsoKind::kTcp4   ? kBitHostTso4
                          : req.gso == GsoKind::kTcp6 ? kBitHostTso6
                                                      : kBitHostUso;
    if (!bit(host_, need) || (req.ecn && (!tcp || !bit(host_, kBitHostEcn))))
      return &NetCounters::tx_drop_offload_feature;
    if (req.csum != CsumState::kPartial || req.gso_size == 0 || len > kGsoFrameMax)
      return &NetCounters::tx_drop_offload_gso;
    RefHeaders h;
    if (!ref_parse(frame, first_len, &h) || h.proto != (tcp ? 6 : 17) ||
        (req.gso == GsoKind::kTcp4 && h.ip != 4) || (req.gso == GsoKind::kTcp6 && h.ip != 6) ||
        req.csum_start != h.l4 || req.csum_offset != (tcp ? 16u : 6u) ||
        h.end + req.gso_size > mtu + kEthHeader + (h.tagged ? kVlanTag : 0) || len <= h.end)
      return &NetCounters::tx_drop_offload_gso;
    // CWR in a TCP frame to segment: only with HOST_ECN (5.1.6.2.1).
    if (tcp && (frame[h.l4 + 13] & 0x80) != 0 && !bit(host_, kBitHostEcn))
      return &NetCounters::tx_drop_offload_feature;
    return nullptr;
  };
  if (taken == 0) return;  // not running, or the ring full: nothing decided
  uint64_t NetCounters::*v = verdict();
  if (taken == 1) {
    if (v != nullptr)
      ++(expect.*v);
    else
      sent = after.tx_packets != before.tx_packets;
  } else if (v != nullptr) {
    finding(Oracle::kDecision,
            "tx_burst kept a frame (len %u, csum %u gso %u) it must refuse under a drop counter",
            len, unsigned(req.csum), unsigned(req.gso));
  }
  if (sent) {
    if (req.csum == CsumState::kPartial) ++expect.tx_csum_offloaded;
    if (gso) ++expect.tx_gso_packets;
  }
#define VNET_CHECK_TX(name)                                                                   \
  if (after.name - before.name != expect.name)                                                \
    finding(Oracle::kDecision,                                                                \
            "tx_burst of one frame (len %u, csum %u start %u offset %u, gso %u size %u, ecn " \
            "%u) counted %llu under " #name "; the reference: %llu",                          \
            len, unsigned(req.csum), req.csum_start, req.csum_offset, unsigned(req.gso),      \
            req.gso_size, req.ecn, static_cast<unsigned long long>(after.name - before.name), \
            static_cast<unsigned long long>(expect.name));
  VNET_CHECK_TX(tx_drop_len)
  VNET_CHECK_TX(tx_drop_offload_feature)
  VNET_CHECK_TX(tx_drop_offload_csum)
  VNET_CHECK_TX(tx_drop_offload_gso)
  VNET_CHECK_TX(tx_csum_offloaded)
  VNET_CHECK_TX(tx_gso_packets)
#undef VNET_CHECK_TX
}

}  // namespace vnet::fuzz
