#include "fuzz/harness/decision_reference.h"

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

}  // namespace

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
  const uint32_t mtu = cfg.mtu;
  const bool mtu_ok = mtu >= kMinMtu && mtu + kEthHeader <= options.max_frame;
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
}

void DecisionReference::check_rx(const OraclePlatform& oracle, const Delivered* delivered,
                                 uint32_t n, const NetCounters& before, const NetCounters& after) {
  if (oracle.reset_epoch() != reset_epoch_) {
    reset_epoch_ = oracle.reset_epoch();
    skip_ = 0;
  }
  if (!facts_) return;
  NetCounters expect{};
  uint32_t delivered_expected = 0;
  bool mtu_open = false;  // a frame whose fate depends on an unknown MTU
  const uint32_t count = oracle.rx_log_size();
  for (uint32_t i = 0; i < count; ++i) {
    const OraclePlatform::RxCompletion& c = oracle.rx_log()[i];
    if (skip_ != 0) {
      --skip_;
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
    if (mrg_ && num_buffers != 1) {
      // 5.1.6.4: the next num_buffers - 1 used buffers belong to this
      // frame -- skipped, but only as many as are still posted.
      const uint32_t extra = num_buffers > 0 ? num_buffers - 1u : 0u;
      if (extra <= c.posted_after) skip_ = static_cast<uint16_t>(extra);
      ++expect.rx_drop_num_buffers;
      continue;
    }
    if (gso_type != kGsoNone) {
      ++expect.rx_drop_hdr_gso;
      continue;
    }
    if ((flags & ~kFlagDataValid) != 0) {
      ++expect.rx_drop_hdr_flags;
      continue;
    }
    const uint32_t frame = c.len - hdr_size_;
    if (!mtu_known_) {
      mtu_open = true;
    } else if (frame > frame_max_) {
      ++expect.rx_drop_len_mtu;
      continue;
    }
    if (mtu_open) continue;
    if (delivered_expected >= n || delivered[delivered_expected].data != c.data + hdr_size_ ||
        delivered[delivered_expected].len != frame)
      finding(Oracle::kDecision,
              "rx completion %u (chain %u, used.len %u, flags 0x%02x gso %u num_buffers %u) "
              "must be delivered as a frame of %u bytes; the driver delivered %s",
              i, c.head, c.len, flags, gso_type, num_buffers, frame,
              delivered_expected >= n ? "nothing there" : "another frame there");
    ++delivered_expected;
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
#undef VNET_CHECK_DROP
}

}  // namespace vnet::fuzz
