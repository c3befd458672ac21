#include "driver/net/virtio_net.h"

#include "driver/spec/net_layout.h"
#include "driver/spec/virtio_constants.h"

namespace vnet {

namespace st = spec::status;
using spec::Feature;
using spec::feature_mask;
using spec::has_feature;

namespace {

// Harvest at most this many completions per round (a local array).
constexpr uint16_t kHarvestBatch = 64;

struct OpScope {
  Platform& p;
  DriverOp op;
  OpScope(Platform& platform, DriverOp o) : p(platform), op(o) { p.op_begin(op); }
  ~OpScope() { p.op_end(op); }
};

bool valid_unicast_mac(const uint8_t* m) {
  bool zero = (m[0] | m[1] | m[2] | m[3] | m[4] | m[5]) == 0;
  return !zero && (m[0] & 1) == 0;
}

uint16_t round_up_pow2(uint32_t v) {
  uint32_t p = 1;
  while (p < v && p < SplitQueue::kMaxSize) p <<= 1;
  return static_cast<uint16_t>(p);
}

}  // namespace

const char* attach_error_name(AttachError e) {
  switch (e) {
    case AttachError::kOk:
      return "ok";
    case AttachError::kResetTimeout:
      return "device did not complete reset";
    case AttachError::kNoVersion1:
      return "modern transport without VERSION_1 (not offered, or masked by the caller)";
    case AttachError::kFeaturesRejected:
      return "device rejected the features (FEATURES_OK cleared)";
    case AttachError::kQueueUnavailable:
      return "queue size 0 (queue unavailable)";
    case AttachError::kQueueSizeInvalid:
      return "queue size invalid (not a power of two, above 32768, or beyond the driver's cap)";
    case AttachError::kQueueSetupRefused:
      return "device refused the queue setup";
    case AttachError::kNoDmaMemory:
      return "no DMA memory for the rings";
    case AttachError::kNoRxBuffers:
      return "no usable rx buffers from the pool";
    case AttachError::kBadOptions:
      return "invalid driver options";
  }
  return "?";
}

uint64_t VirtioNet::supported_features(bool legacy) {
  // MRG_RXBUF: every rx buffer holds a whole frame, so the device needs
  // only one per frame; negotiating it makes num_buffers meaningful (and
  // checked) and is what QEMU offers by default.
  uint64_t f = feature_mask(Feature::kNetMac) | feature_mask(Feature::kNetStatus) |
               feature_mask(Feature::kNetMtu) | feature_mask(Feature::kNetMrgRxbuf);
  // Modern devices must offer VERSION_1 (6.1); legacy ones may offer
  // ANY_LAYOUT, which lets header and frame share a descriptor.
  f |= legacy ? feature_mask(Feature::kAnyLayout) : feature_mask(Feature::kVersion1);
  return f;
}

AttachError VirtioNet::attach(Platform& platform, Transport& transport, BufferPool& pool,
                              const NetOptions& options) {
  // Attaching again first gives every buffer of the previous attachment back.
  if (state_ == NetState::kRunning || state_ == NetState::kBroken) stop();
  platform_ = &platform;
  transport_ = &transport;
  pool_ = &pool;
  options_ = options;
  OpScope scope(platform, DriverOp::kAttach);
  if (options.rx_ring_cap == 0 || options.rx_ring_cap > SplitQueue::kMaxSize ||
      options.tx_ring_cap == 0 || options.tx_ring_cap > SplitQueue::kMaxSize ||
      options.max_frame < spec::kEthMaxFrame || options.fallback_mtu < spec::kMinMtu ||
      options.fallback_mtu + spec::kEthHeaderSize > options.max_frame) {
    state_ = NetState::kFailed;
    last_error_ = AttachError::kBadOptions;
    return last_error_;
  }
  return bring_up();
}

AttachError VirtioNet::fail(AttachError e) {
  // Give every buffer back (the device must be reset before it stops owning
  // them), free the rings, then tell the device we gave up (3.1.1).
  if (reclaim_all()) teardown_queues();
  transport_->set_status(st::kFailed);
  state_ = NetState::kFailed;
  last_error_ = e;
  return e;
}

AttachError VirtioNet::bring_up() {
  Transport& t = *transport_;
  state_ = NetState::kDown;
  // 3.1.1 steps 1-3: reset, ACKNOWLEDGE, DRIVER. Quarantined buffers and
  // rings (an earlier reset was never acknowledged) are reclaimed by this
  // reset, or stay where they are.
  if (quarantined_) {
    if (!reclaim_all()) return fail(AttachError::kResetTimeout);
    teardown_queues();
  } else if (!t.reset()) {
    ++counters_.reset_timeouts;
    return fail(AttachError::kResetTimeout);
  }
  uint8_t status = st::kAcknowledge;
  t.set_status(status);
  status |= st::kDriver;
  t.set_status(status);

  // Step 4: read the offer, check the config, write the accepted subset.
  device_features_ = t.device_features();
  if (!t.is_legacy() && !has_feature(device_features_, Feature::kVersion1))
    return fail(AttachError::kNoVersion1);
  uint64_t want = device_features_ & supported_features(t.is_legacy()) & options_.feature_mask;
  want = spec::close_under_dependencies(negotiate_config(want));
  // 6.1: a driver on the modern interface MUST accept VERSION_1 -- without
  // it the device would expect legacy semantics over a modern transport.
  if (!t.is_legacy() && !has_feature(want, Feature::kVersion1))
    return fail(AttachError::kNoVersion1);
  t.set_driver_features(want);
  features_ = want;

  // Steps 5-6 (modern only): FEATURES_OK, then read it back.
  if (!t.is_legacy()) {
    status |= st::kFeaturesOk;
    t.set_status(status);
    if ((t.status() & st::kFeaturesOk) == 0) return fail(AttachError::kFeaturesRejected);
  }

  const bool v1 = has_feature(features_, Feature::kVersion1);
  hdr_size_ = header_size(v1 || has_feature(features_, Feature::kNetMrgRxbuf));
  // Without ANY_LAYOUT or VERSION_1 the header needs its own descriptor
  // (5.1.6.6 legacy note: "message framing").
  split_header_ = !v1 && !has_feature(features_, Feature::kAnyLayout);
  rx_buffer_min_ = hdr_size_ + options_.max_frame;

  // Step 7: queues and buffers.
  AttachError e = setup_queue(rx_, kRxQueue, options_.rx_ring_cap);
  if (e != AttachError::kOk) return fail(e);
  e = setup_queue(tx_, kTxQueue, options_.tx_ring_cap);
  if (e != AttachError::kOk) return fail(e);
  // Polling by default: the driver reclaims tx on every tx_burst and the
  // caller polls rx, so neither queue needs to interrupt (2.7.7: a hint the
  // device may ignore). set_rx_interrupts(true) asks for rx interrupts.
  tx_.set_interrupts(false);
  rx_.set_interrupts(false);
  rx_posted_ = 0;
  refill_rx(false);
  if (rx_posted_ == 0) return fail(AttachError::kNoRxBuffers);

  // Step 8: DRIVER_OK, and only then the first notification (3.1.1: "MUST
  // NOT send any buffer available notifications ... before DRIVER_OK").
  status |= st::kDriverOk;
  t.set_status(status);
  state_ = NetState::kRunning;
  last_error_ = AttachError::kOk;
  if (rx_.kick_needed()) t.notify(kRxQueue);
  return AttachError::kOk;
}

uint64_t VirtioNet::negotiate_config(uint64_t want) {
  // 3.1.1 step 4 allows reading (not writing) the config before accepting
  // features. Every value is read once, under the generation counter, and
  // the snapshot is what the driver uses from then on.
  Transport& t = *transport_;
  uint8_t mac[6] = {};
  uint32_t mtu = 0, link = 0;
  bool want_mac = has_feature(want, Feature::kNetMac);
  bool want_mtu = has_feature(want, Feature::kNetMtu);
  bool want_status = has_feature(want, Feature::kNetStatus);
  bool read_ok = t.read_config_consistently([&] {
    if (want_mac)
      for (uint32_t i = 0; i < 6; ++i) {
        uint32_t b;
        if (!t.config_read(spec::net_cfg::kMac + i, 1, &b)) return false;
        mac[i] = static_cast<uint8_t>(b);
      }
    if (want_status && !t.config_read(spec::net_cfg::kStatus, 2, &link)) return false;
    if (want_mtu && !t.config_read(spec::net_cfg::kMtu, 2, &mtu)) return false;
    return true;
  });
  if (!read_ok) {
    // A config space we cannot read consistently is not used at all.
    ++counters_.config_unstable;
    want &= ~(feature_mask(Feature::kNetMac) | feature_mask(Feature::kNetMtu) |
              feature_mask(Feature::kNetStatus));
    want_mac = want_mtu = want_status = false;
  }

  mac_from_device_ = false;
  if (want_mac) {
    if (valid_unicast_mac(mac)) {
      __builtin_memcpy(mac_, mac, 6);
      mac_from_device_ = true;
    } else {
      ++counters_.config_invalid_mac;
      want &= ~feature_mask(Feature::kNetMac);
    }
  }
  if (!mac_from_device_) make_local_mac();

  mtu_ = options_.fallback_mtu;
  if (want_mtu) {
    if (mtu < spec::kMinMtu) {
      // 5.1.4.1: the device MUST supply mtu >= 68 -- it did not.
      ++counters_.config_invalid_mtu;
      want &= ~feature_mask(Feature::kNetMtu);
    } else if (mtu + spec::kEthHeaderSize > options_.max_frame) {
      // Our buffers hold max_frame; a larger MTU is not accepted (we do not
      // negotiate MRG_RXBUF), so the device keeps to the Ethernet default.
      want &= ~feature_mask(Feature::kNetMtu);
    } else {
      mtu_ = static_cast<uint16_t>(mtu);
    }
  }

  link_up_ = true;  // 5.1.4.2: without STATUS the link is assumed up
  if (want_status) {
    if ((link & ~uint32_t{spec::net_status::kLinkUp | spec::net_status::kAnnounce}) != 0)
      ++counters_.config_invalid_status;
    link_up_ = (link & spec::net_status::kLinkUp) != 0;
  }
  return want;
}

void VirtioNet::make_local_mac() {
  if (valid_unicast_mac(options_.fallback_mac)) {
    __builtin_memcpy(mac_, options_.fallback_mac, 6);
  } else {
    // Locally administered unicast (bit 1 set, bit 0 clear), from the clock.
    uint64_t x = platform_->now_ns() * 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 6; ++i) mac_[i] = static_cast<uint8_t>(x >> (8 * i + 8));
    mac_[0] = static_cast<uint8_t>((mac_[0] & 0xFC) | 0x02);
  }
}

AttachError VirtioNet::setup_queue(SplitQueue& q, uint16_t index, uint16_t cap) {
  Transport& t = *transport_;
  const uint32_t max = t.queue_max_size(index);
  if (max == 0) return AttachError::kQueueUnavailable;
  // 2.7: "Queue Size value is always a power of 2. The maximum Queue Size
  // value is 32768."
  if (!spec::is_power_of_two(max) || max > spec::kMaxQueueSizeSplit)
    return AttachError::kQueueSizeInvalid;
  uint32_t size = max;
  const uint16_t segments = split_header_ ? 2 : 1;
  if (t.queue_size_writable()) {
    // Only as many entries as the driver's cap needs; never more than offered.
    uint32_t wanted = round_up_pow2(uint32_t{cap} * segments);
    if (max > SplitQueue::kMaxSize) ++counters_.queue_size_capped;
    if (wanted < size) size = wanted;
  } else if (max > SplitQueue::kMaxSize) {
    // Legacy: the device decides the size and we cannot hold that many.
    return AttachError::kQueueSizeInvalid;
  }
  if (!q.allocate(*platform_, index, static_cast<uint16_t>(size), t.ring_layout()))
    return AttachError::kNoDmaMemory;
  if (!t.setup_queue(index, static_cast<uint16_t>(size), q.addresses()))
    return AttachError::kQueueSetupRefused;
  return AttachError::kOk;
}

void VirtioNet::refill_rx(bool notify) {
  const uint16_t segments = split_header_ ? 2 : 1;
  const uint16_t limit = options_.rx_ring_cap;
  uint16_t added = 0;
  while (rx_posted_ < limit && rx_.can_add(segments)) {
    PacketBuffer* b = pool_->alloc();
    if (b == nullptr) {
      ++counters_.rx_refill_pool_empty;
      break;
    }
    if (b->capacity < rx_buffer_min_) {
      ++counters_.rx_drop_buffer_small;
      pool_->free(b);
      break;
    }
    Segment segs[2];
    if (split_header_) {
      segs[0] = Segment{b->device_addr, hdr_size_, true, b->base};
      segs[1] =
          Segment{b->device_addr + hdr_size_, b->capacity - hdr_size_, true, b->base + hdr_size_};
    } else {
      segs[0] = Segment{b->device_addr, b->capacity, true, b->base};
    }
    rx_.add_chain(segs, segments, b);
    ++rx_posted_;
    ++added;
  }
  if (added == 0) return;
  rx_.publish();
  if (notify && rx_.kick_needed()) transport_->notify(kRxQueue);
}

bool VirtioNet::check_rx_header(const spec::NetHdr& hdr) {
  // We negotiate no receive offloads, so the device MUST leave flags and
  // gso_type zero (5.1.6.4.1: NEEDS_CSUM/DATA_VALID only with GUEST_CSUM,
  // gso_type NONE without GUEST_TSO*/UFO).
  if (hdr.gso_type != spec::net_hdr::kGsoNone) {
    ++counters_.rx_drop_hdr_gso;
    return false;
  }
  if (hdr.flags != 0) {
    ++counters_.rx_drop_hdr_flags;
    return false;
  }
  return true;
}

uint16_t VirtioNet::rx_burst(PacketBuffer** out, uint16_t max) {
  if (state_ != NetState::kRunning) return 0;
  OpScope scope(*platform_, DriverOp::kRxBurst);
  uint16_t delivered = 0;
  Completion done[kHarvestBatch];
  for (bool again = false; delivered < max; again = true) {
    uint16_t want = static_cast<uint16_t>(max - delivered);
    uint16_t n = rx_.harvest(done, want < kHarvestBatch ? want : kHarvestBatch, again);
    for (uint16_t i = 0; i < n; ++i) {
      PacketBuffer* b = static_cast<PacketBuffer*>(done[i].cookie);
      const uint32_t len = done[i].len;
      --rx_posted_;
      if (rx_skip_ != 0) {
        // The tail of a frame that spanned several buffers (see below).
        --rx_skip_;
        pool_->free(b);
        continue;
      }
      if (done[i].len_over) {
        ++counters_.rx_drop_len_over;
        pool_->free(b);
        continue;
      }
      if (len < hdr_size_ + spec::kEthHeaderSize) {
        ++counters_.rx_drop_len_short;
        pool_->free(b);
        continue;
      }
      // The header is device-written: one fetch into private memory, and
      // every decision uses that snapshot. Without MRG_RXBUF, num_buffers
      // is not ours to read (QEMU leaves it unwritten), so only the first
      // ten bytes are fetched then.
      spec::NetHdr hdr{};
      const bool mrg = has_feature(features_, Feature::kNetMrgRxbuf);
      platform_->fetch(DeviceMemRef{kRxQueue, MemPart::kRxHeader, done[i].head, false}, b->base,
                       &hdr, mrg ? spec::kNetHdrSize : spec::kNetHdrLegacySize);
      if (mrg && hdr.num_buffers.get() != 1) {
        // Every buffer holds a whole frame, so an honest device uses one per
        // frame (a frame above max_frame may take several: dropped whole).
        // 5.1.6.4: the frame's other buffers are the next num_buffers - 1
        // used entries; skip them, but only as many as are posted -- a
        // larger count is a lie and skips nothing.
        ++counters_.rx_drop_num_buffers;
        const uint32_t extra = hdr.num_buffers.get() > 0 ? hdr.num_buffers.get() - 1u : 0u;
        if (extra <= rx_posted_) rx_skip_ = static_cast<uint16_t>(extra);
        pool_->free(b);
        continue;
      }
      if (!check_rx_header(hdr)) {
        pool_->free(b);
        continue;
      }
      const uint32_t frame_len = len - hdr_size_;
      platform_->frame_in_place(kRxQueue, done[i].head, b->base + hdr_size_, frame_len);
      b->offset = hdr_size_;
      b->len = frame_len;
      out[delivered++] = b;
      ++counters_.rx_packets;
      counters_.rx_bytes += frame_len;
    }
    if (n < want && n < kHarvestBatch) break;
    if (n == 0) break;
  }
  note_queue_fault(rx_);
  if (state_ == NetState::kRunning) refill_rx(true);
  return delivered;
}

uint16_t VirtioNet::reclaim_tx() {
  uint16_t total = 0;
  Completion done[kHarvestBatch];
  // Bounded: each round frees at least one chain, and at most size chains
  // are in flight.
  for (bool again = false;; again = true) {
    uint16_t n = tx_.harvest(done, kHarvestBatch, again);
    for (uint16_t i = 0; i < n; ++i) {
      // A device that claims to have written into a read-only chain is
      // lying; the frame was sent anyway, so only count it.
      if (done[i].len_over) ++counters_.tx_bad_used_len;
      pool_->free(static_cast<PacketBuffer*>(done[i].cookie));
    }
    total = static_cast<uint16_t>(total + n);
    counters_.tx_completed += n;
    if (n < kHarvestBatch) break;
  }
  note_queue_fault(tx_);
  return total;
}

uint16_t VirtioNet::tx_reclaim() {
  if (state_ != NetState::kRunning) return 0;
  OpScope scope(*platform_, DriverOp::kTxBurst);
  return reclaim_tx();
}

uint16_t VirtioNet::tx_burst(PacketBuffer* const* frames, uint16_t n) {
  if (state_ != NetState::kRunning) return 0;
  OpScope scope(*platform_, DriverOp::kTxBurst);
  if (tx_.in_flight() != 0) reclaim_tx();
  if (state_ != NetState::kRunning) return 0;
  const uint16_t segments = split_header_ ? 2 : 1;
  // 5.1.4.2: with MTU negotiated, no frame above mtu plus the Ethernet
  // header; the same bound keeps frames within what rx buffers of a peer
  // built like ours can hold when it is not (VLAN tags count against it).
  const uint32_t max_len = uint32_t{mtu_} + spec::kEthHeaderSize;
  uint16_t taken = 0, added = 0;
  for (; taken < n; ++taken) {
    PacketBuffer* b = frames[taken];
    if (b->len < spec::kEthHeaderSize || b->len > max_len) {
      ++counters_.tx_drop_len;
      pool_->free(b);
      continue;
    }
    if (b->offset < hdr_size_ || b->offset > b->capacity || b->len > b->capacity - b->offset) {
      ++counters_.tx_drop_headroom;
      pool_->free(b);
      continue;
    }
    if (tx_.in_flight() >= options_.tx_ring_cap || !tx_.can_add(segments)) {
      ++counters_.tx_ring_full;
      break;
    }
    // No offloads: an all-zero header; num_buffers MUST be 0 on transmit
    // (5.1.6.2.1).
    uint8_t* hdr = b->base + b->offset - hdr_size_;
    // Constant sizes, so the compiler stores instead of calling memset.
    if (hdr_size_ == spec::kNetHdrSize)
      __builtin_memset(hdr, 0, spec::kNetHdrSize);
    else
      __builtin_memset(hdr, 0, spec::kNetHdrLegacySize);
    const uint64_t hdr_addr = b->device_addr + b->offset - hdr_size_;
    Segment segs[2];
    if (segments == 2) {
      segs[0] = Segment{hdr_addr, hdr_size_, false, hdr};
      segs[1] = Segment{hdr_addr + hdr_size_, b->len, false, hdr + hdr_size_};
    } else {
      segs[0] = Segment{hdr_addr, hdr_size_ + b->len, false, hdr};
    }
    tx_.add_chain(segs, segments, b);
    ++added;
    ++counters_.tx_packets;
    counters_.tx_bytes += b->len;
  }
  if (added != 0) {
    tx_.publish();
    if (tx_.kick_needed()) transport_->notify(kTxQueue);
  }
  return taken;
}

void VirtioNet::note_queue_fault(const SplitQueue& q) {
  if (!q.broken() || state_ != NetState::kRunning) return;
  switch (q.fault()) {
    case QueueFault::kUsedIdxJump:
      ++counters_.queue_broken_used_idx;
      break;
    case QueueFault::kUsedIdRange:
      ++counters_.queue_broken_used_id;
      break;
    case QueueFault::kUsedIdStale:
      ++counters_.queue_broken_used_stale;
      break;
    case QueueFault::kNone:
      break;
  }
  // The device's view of a ring can no longer be trusted: stop using the
  // device until poll_device() resets and re-initialises it.
  state_ = NetState::kBroken;
  platform_->log(LogLevel::kError, "virtio-net: queue broken, device will be reset");
}

bool VirtioNet::read_link_status() {
  if (!has_feature(features_, Feature::kNetStatus)) return link_up_;
  uint32_t link = 0;
  Transport& t = *transport_;
  if (!t.read_config_consistently(
          [&] { return t.config_read(spec::net_cfg::kStatus, 2, &link); })) {
    ++counters_.config_unstable;
    return link_up_;
  }
  if ((link & ~uint32_t{spec::net_status::kLinkUp | spec::net_status::kAnnounce}) != 0)
    ++counters_.config_invalid_status;
  return (link & spec::net_status::kLinkUp) != 0;
}

DeviceEvents VirtioNet::poll_device() {
  DeviceEvents ev;
  if (transport_ == nullptr || state_ == NetState::kDown || state_ == NetState::kFailed) return ev;
  OpScope scope(*platform_, DriverOp::kPollDevice);
  const uint8_t isr = transport_->read_isr();
  if (isr != 0) ++counters_.interrupts;
  if (state_ == NetState::kRunning) {
    // A device that lost our status (legacy reset) or asks for a reset
    // (2.1.2 DEVICE_NEEDS_RESET) gets one.
    const uint8_t status = transport_->status();
    if ((status & st::kDeviceNeedsReset) != 0 || (status & st::kDriverOk) == 0) {
      ++counters_.device_needs_reset;
      ev.reset_detected = true;
    }
  }
  if (!ev.reset_detected && state_ == NetState::kRunning && (isr & kInterruptConfig) != 0) {
    ++counters_.config_changes;
    ev.config_changed = true;
    const bool up = read_link_status();
    if (up != link_up_) {
      link_up_ = up;
      ++counters_.link_changes;
      ev.link_changed = true;
    }
  }
  if (ev.reset_detected || state_ == NetState::kBroken) ev.recovered = recover_locked();
  return ev;
}

bool VirtioNet::recover() {
  if (transport_ == nullptr) return false;
  OpScope scope(*platform_, DriverOp::kPollDevice);
  return recover_locked();
}

bool VirtioNet::recover_locked() {
  if (reclaim_all()) teardown_queues();
  if (bring_up() != AttachError::kOk) return false;
  ++counters_.recoveries;
  return true;
}

bool VirtioNet::reclaim_all() {
  // The device owns posted buffers and the rings until it is reset (3.3.1,
  // 4.1.4.3.2: "wait for a read of device_status to return 0"); only then
  // are they the driver's to hand back. A device that never acknowledges
  // the reset may still write into them, so they are quarantined: kept,
  // neither freed nor reused, until a later reset succeeds.
  if (!transport_->reset()) {
    ++counters_.reset_timeouts;
    quarantined_ = rx_.allocated() || tx_.allocated();
    platform_->log(LogLevel::kError,
                   "virtio-net: device did not acknowledge reset; buffers quarantined");
    return false;
  }
  return_all_buffers();
  return true;
}

void VirtioNet::return_all_buffers() {
  auto give_back = [this](void* cookie) { pool_->free(static_cast<PacketBuffer*>(cookie)); };
  if (rx_.allocated()) rx_.drain(give_back);
  if (tx_.allocated()) tx_.drain(give_back);
  rx_posted_ = 0;
  rx_skip_ = 0;
  quarantined_ = false;
}

void VirtioNet::teardown_queues() {
  rx_.release();
  tx_.release();
}

void VirtioNet::stop() {
  if (transport_ == nullptr || (state_ == NetState::kDown && !quarantined_)) return;
  OpScope scope(*platform_, DriverOp::kStop);
  if (!reclaim_all()) {
    state_ = NetState::kFailed;  // quarantined; stop() again retries the reset
    return;
  }
  teardown_queues();
  state_ = NetState::kDown;
}

void VirtioNet::device_gone() {
  if (platform_ == nullptr) return;
  OpScope scope(*platform_, DriverOp::kStop);
  return_all_buffers();
  teardown_queues();
  state_ = NetState::kDown;
}

bool VirtioNet::set_rx_interrupts(bool enabled) {
  if (state_ != NetState::kRunning) return false;
  OpScope scope(*platform_, DriverOp::kRxBurst);
  rx_.set_interrupts(enabled);
  // A completion that raced with re-enabling would otherwise wait for the
  // next interrupt: re-check the used index (a deliberate second fetch).
  return enabled && rx_.has_pending();
}

}  // namespace vnet
