#include "driver/net/virtio_net.h"

#include "driver/net/offload.h"
#include "driver/net/op_scope.h"
#include "driver/spec/net_ctrl_layout.h"
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

// A device-config snapshot, compared bytewise on legacy devices: no padding.
struct ConfigSnapshot {
  uint8_t mac[8];
  uint32_t status;
  uint32_t mtu;
};
static_assert(sizeof(ConfigSnapshot) == 16);

// A mapping the shim just wrote into m, kept in the per-head table field by
// field: a whole-struct copy becomes 16-byte loads of the shim's 8-byte
// stores, which the CPU cannot forward (a stall per frame).
inline void keep_mapping(DmaMapping* to, const DmaMapping& m) {
  uint64_t addr = m.device_addr;
  uint8_t* view = m.device_view;
  uint32_t len = m.len, handle = m.handle;
  // Opaque to the vectoriser, so that the copy stays four loads.
  __asm__("" : "+r"(addr), "+r"(view), "+r"(len), "+r"(handle));
  to->device_addr = addr;
  to->device_view = view;
  to->len = len;
  to->handle = handle;
}

uint16_t round_up_pow2(uint32_t v) {
  uint32_t p = 1;
  while (p < v && p < Virtqueue::kMaxSize) p <<= 1;
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
    case AttachError::kConfigUnreadable:
      return "device configuration window too short for the offered features";
    case AttachError::kQuarantined:
      return "the previous device never acknowledged its reset and still holds buffers";
  }
  return "?";
}

// The data-path half of the threading handshake: announce the burst, then
// re-read the state (seq_cst both, paired with poll_device()'s store of the
// state and load of busy_).
bool VirtioNet::enter(uint8_t path) {
  busy_.fetch_or(path, MemOrder::kSeqCst);
  if (state_.load(MemOrder::kSeqCst) == NetState::kRunning) return true;
  leave(path);
  return false;
}

struct PathScope {
  VirtioNet& net;
  uint8_t path;
  bool entered;
  PathScope(VirtioNet& n, uint8_t p) : net(n), path(p), entered(n.enter(p)) {}
  ~PathScope() {
    if (entered) net.leave(path);
  }
};

const char* net_state_name(NetState s) {
  switch (s) {
    case NetState::kDown:
      return "down";
    case NetState::kRunning:
      return "running";
    case NetState::kBroken:
      return "broken";
    case NetState::kFailed:
      return "failed";
  }
  return "?";
}

bool VirtioNet::chains_possible(uint64_t features) const {
  // Receive chains need MRG_RXBUF, and buffers of one descriptor each: a
  // legacy device without ANY_LAYOUT gets the header in a descriptor of its
  // own (5.1.6.6), and a further buffer of a frame would be written across
  // both -- no chains there.
  return options_.rx_chains && has_feature(features, Feature::kNetMrgRxbuf) &&
         (has_feature(features, Feature::kVersion1) || has_feature(features, Feature::kAnyLayout));
}

uint64_t VirtioNet::offload_features_wanted(uint64_t want) const {
  uint64_t f = 0;
  if (options_.accept_tx_csum) f |= feature_mask(Feature::kNetCsum);
  if (options_.accept_tso)
    f |= feature_mask(Feature::kNetHostTso4) | feature_mask(Feature::kNetHostTso6) |
         feature_mask(Feature::kNetHostEcn) | feature_mask(Feature::kNetHostUso);
  if (options_.accept_rx_csum) f |= feature_mask(Feature::kNetGuestCsum);
  // Coalesced frames of up to kMaxGsoFrame need a place: several buffers
  // (MRG_RXBUF and receive chains) or big ones (5.1.6.3).
  const bool room = chains_possible(want) || options_.max_frame >= kMaxGsoFrame;
  if (options_.accept_rx_gso && room)
    f |= feature_mask(Feature::kNetGuestTso4) | feature_mask(Feature::kNetGuestTso6) |
         feature_mask(Feature::kNetGuestEcn) | feature_mask(Feature::kNetGuestUso4) |
         feature_mask(Feature::kNetGuestUso6);
  if (options_.accept_ctrl_vq && (options_.accept_rx_csum || options_.accept_rx_gso))
    f |= feature_mask(Feature::kNetCtrlGuestOffloads);
  return f;
}

uint64_t VirtioNet::supported_features(bool legacy) {
  // MRG_RXBUF: every rx buffer holds a whole frame, so the device needs
  // only one per frame; negotiating it makes num_buffers meaningful (and
  // checked) and is what QEMU offers by default.
  uint64_t f = feature_mask(Feature::kNetMac) | feature_mask(Feature::kNetStatus) |
               feature_mask(Feature::kNetMtu) | feature_mask(Feature::kNetMrgRxbuf);
  // EVENT_IDX: notifications and interrupts by index (2.7.10), as every
  // production driver negotiates; every ring kind implements both sides.
  f |= feature_mask(Feature::kEventIdx);
  // Modern devices must offer VERSION_1 (6.1); legacy ones may offer
  // ANY_LAYOUT, which lets header and frame share a descriptor.
  f |= legacy ? feature_mask(Feature::kAnyLayout) : feature_mask(Feature::kVersion1);
  // ACCESS_PLATFORM: every buffer address the device sees goes through the
  // platform's dma_map() (an IOMMU, or a bounce area in a confidential
  // guest); ORDER_PLATFORM: barriers of DMA strength. Both are transport
  // bits above 31, so only a modern device can offer them (6.1).
  if (!legacy) f |= feature_mask(Feature::kAccessPlatform) | feature_mask(Feature::kOrderPlatform);
  return f;
}

AttachError VirtioNet::attach(Platform& platform, Transport& transport, BufferPool& pool,
                              const NetOptions& options) {
  // Attaching again first gives every buffer of the previous attachment
  // back -- through the previous transport and into the previous pool. If
  // that device still does not acknowledge its reset, its buffers and rings
  // stay quarantined and nothing of the new attachment may touch them.
  const NetState before = state();
  if (before == NetState::kRunning || before == NetState::kBroken || quarantined_) stop();
  if (quarantined_) {
    platform.log(LogLevel::kError,
                 "virtio-net: attach refused: the previous device still holds quarantined buffers");
    return AttachError::kQuarantined;
  }
  platform_ = &platform;
  transport_ = &transport;
  pool_ = &pool;
  options_ = options;
  OpScope scope(platform, DriverOp::kAttach);
  if (options.rx_ring_cap == 0 || options.rx_ring_cap > Virtqueue::kMaxSize ||
      options.tx_ring_cap == 0 || options.tx_ring_cap > Virtqueue::kMaxSize ||
      options.max_frame < spec::kEthMaxFrame || options.max_frame > kMaxGsoFrame ||
      options.fallback_mtu < spec::kMinMtu ||
      options.fallback_mtu + spec::kEthHeaderSize > options.max_frame ||
      options.reset_timeout_ns == 0) {
    set_state(NetState::kFailed);
    last_error_ = AttachError::kBadOptions;
    return last_error_;
  }
  reset_control_state();
  return bring_up();
}

void VirtioNet::write_status(uint8_t status) {
  status_written_ = status;
  transport_->set_status(status);
}

AttachError VirtioNet::fail(AttachError e) {
  // Give every buffer back (the device must be reset before it stops owning
  // them), free the rings, then tell the device we gave up (3.1.1).
  stop_interrupts(true);
  if (reclaim_all()) teardown_queues();
  // FAILED is added to what the device holds (2.1.2: the driver never
  // clears a status bit except by a reset): after an acknowledged reset
  // that is nothing, after one the device never acknowledged it is what we
  // last wrote.
  write_status(static_cast<uint8_t>(status_written_ | st::kFailed));
  set_state(NetState::kFailed);
  last_error_ = e;
  return e;
}

AttachError VirtioNet::bring_up() {
  Transport& t = *transport_;
  set_state(NetState::kDown);
  // 3.1.1 steps 1-3: reset, ACKNOWLEDGE, DRIVER. Quarantined buffers and
  // rings (an earlier reset was never acknowledged) are reclaimed by this
  // reset, or stay where they are.
  if (quarantined_) {
    if (!reclaim_all()) return fail(AttachError::kResetTimeout);
    teardown_queues();
  } else if (!t.reset(options_.reset_timeout_ns)) {
    ++counters_.reset_timeouts;
    return fail(AttachError::kResetTimeout);
  } else {
    status_written_ = 0;
  }
  uint8_t status = st::kAcknowledge;
  write_status(status);
  status |= st::kDriver;
  write_status(status);

  // Step 4: read the offer, check the config, write the accepted subset.
  device_features_ = t.device_features();
  if (!t.is_legacy() && !has_feature(device_features_, Feature::kVersion1))
    return fail(AttachError::kNoVersion1);
  uint64_t mask = options_.feature_mask;
  if (!options_.accept_access_platform) mask &= ~feature_mask(Feature::kAccessPlatform);
  if (!options_.accept_order_platform) mask &= ~feature_mask(Feature::kOrderPlatform);
  uint64_t want = device_features_ & supported_features(t.is_legacy()) & mask;
  // RING_PACKED: asked for only by the option (off by default) and only on
  // a modern transport (a bit above 31); supported_features() leaves it
  // out, so what is negotiated by default is unchanged.
  if (!t.is_legacy() && options_.accept_ring_packed)
    want |= device_features_ & mask & feature_mask(Feature::kRingPacked);
  // INDIRECT_DESC: asked for only by the option (off by default, like
  // RING_PACKED: see NetOptions::accept_indirect_desc).
  if (options_.accept_indirect_desc)
    want |= device_features_ & mask & feature_mask(Feature::kIndirectDesc);
  // IN_ORDER: asked for only by the option (off by default, like the two
  // above) and only on a modern transport (bit 35).
  if (!t.is_legacy() && options_.accept_in_order)
    want |= device_features_ & mask & feature_mask(Feature::kInOrder);
  // The control plane: CTRL_VQ and the features that need it, asked for
  // only by the option (virtio_net_control.cc); their config limits are
  // validated before they are accepted.
  want |= device_features_ & mask & control_features_wanted();
  // Offloads: asked for only by the options (off by default, like the
  // ones above), closed under their dependencies below (5.1.3.1).
  want |= device_features_ & mask & offload_features_wanted(want);
  if (!negotiate_config(&want)) return fail(AttachError::kConfigUnreadable);
  want = spec::close_under_dependencies(want);
  if (!negotiate_control_config(&want)) return fail(AttachError::kConfigUnreadable);
  want = spec::close_under_dependencies(want);
  // CTRL_GUEST_OFFLOADS has nothing to switch without a guest offload.
  if ((want & kGuestOffloadBits) == 0) want &= ~feature_mask(Feature::kNetCtrlGuestOffloads);
  // 6.1: a driver on the modern interface MUST accept VERSION_1 -- without
  // it the device would expect legacy semantics over a modern transport.
  if (!t.is_legacy() && !has_feature(want, Feature::kVersion1))
    return fail(AttachError::kNoVersion1);
  t.set_driver_features(want);
  features_ = want;

  // Steps 5-6 (modern only): FEATURES_OK, then read it back.
  if (!t.is_legacy()) {
    status |= st::kFeaturesOk;
    write_status(status);
    if ((t.status() & st::kFeaturesOk) == 0) return fail(AttachError::kFeaturesRejected);
  }

  const bool v1 = has_feature(features_, Feature::kVersion1);
  hdr_size_ = header_size(v1 || has_feature(features_, Feature::kNetMrgRxbuf));
  // HASH_REPORT: the header grows by hash_value and hash_report (5.1.6).
  if (has_feature(features_, Feature::kNetHashReport))
    hdr_size_ = static_cast<uint32_t>(spec::ctrl::kNetHdrHashSize);
  // Without ANY_LAYOUT or VERSION_1 the header needs its own descriptor
  // (5.1.6.6 legacy note: "message framing").
  split_header_ = !v1 && !has_feature(features_, Feature::kAnyLayout);
  rx_buffer_min_ = hdr_size_ + options_.max_frame;
  rx_frame_max_ = uint32_t{mtu_} + spec::kEthHeaderSize + spec::kVlanTagSize;
  // Receive chains: only where the device may spread a frame (MRG_RXBUF).
  rx_chains_ = chains_possible(features_);
  // A frame of several buffers is at most kMaxGsoFrame bytes: so many
  // buffers of the smallest size the driver posts, no more.
  rx_chain_max_ =
      static_cast<uint16_t>((hdr_size_ + kMaxGsoFrame + rx_buffer_min_ - 1) / rx_buffer_min_);
  offloads_active_.store(guest_offloads_from_features(features_), MemOrder::kRelaxed);
  const bool dma_order = has_feature(features_, Feature::kOrderPlatform);

  // Queue pairs (MQ or RSS): as many as the caller allows, the device has
  // (validated) and the driver holds. Interrupts serve pair 0's queues
  // only, so a driver asked for interrupts drives one pair.
  pairs_ = 1;
  if (has_feature(features_, Feature::kNetMq) || has_feature(features_, Feature::kNetRss)) {
    uint16_t n = options_.max_queue_pairs;
    if (n > dev_max_pairs_) n = dev_max_pairs_;
    if (n > kMaxQueuePairs) n = kMaxQueuePairs;
    if (n > 1 && options_.interrupts != InterruptMode::kPolling) {
      platform_->log(LogLevel::kWarn, "virtio-net: multiqueue is polled: one pair with interrupts");
      n = 1;
    }
    pairs_ = n < 1 ? 1 : n;
  }
  // Interrupts (MSI-X vectors, INTx, or none) before the queues: each
  // queue's vector is written before it is enabled (4.1.5.1.3).
  setup_interrupts();

  // Step 7: queues and buffers, of the ring kind the features chose:
  // every pair, then the control queue.
  const RingKind ring =
      has_feature(features_, Feature::kRingPacked) ? RingKind::kPacked : RingKind::kSplit;
  for (uint16_t k = 0; k < pairs_; ++k) {
    const AttachError e = setup_pair(qp_[k], k, ring, dma_order);
    if (e == AttachError::kOk) continue;
    // Pair 0 is the device; a further pair the device cannot give (size 0,
    // a size the driver refuses, a queue it does not take) leaves the
    // driver with the pairs before it.
    // Its rings stay allocated until the next reset (teardown_queues): a
    // queue the device took may still point at them.
    if (k == 0 || e == AttachError::kNoDmaMemory) return fail(e);
    platform_->log(LogLevel::kWarn,
                   "virtio-net: a queue pair the device does not give: fewer pairs");
    pairs_ = k;
    break;
  }
  if (has_feature(features_, Feature::kIndirectDesc))
    platform_->log(LogLevel::kInfo,
                   "virtio-net: indirect_desc on: tx scatter-gather through indirect tables");
  setup_control_queue(ring, dma_order);
  // The rx rings are filled but their avail index not yet published: until
  // then the device has been given nothing at all. Pair 0 must get buffers;
  // another pair that gets none from the pool is refilled by its rx_burst.
  for (uint16_t k = 0; k < pairs_; ++k) fill_rx(qp_[k]);
  if (qp_[0].rx_posted == 0) return fail(AttachError::kNoRxBuffers);

  // Step 8: DRIVER_OK, and only then the first notification (3.1.1: "MUST
  // NOT send any buffer available notifications ... before DRIVER_OK").
  status |= st::kDriverOk;
  write_status(status);
  // Nothing was available yet, so nothing can have been used: a used index
  // that moved (during attach, before DRIVER_OK) is a lie, and its entries
  // are not completions. The queue is broken and the device reset by the
  // next poll_device().
  last_error_ = AttachError::kOk;
  const Virtqueue* lied = nullptr;
  // Every ring is checked (each fetch once), the first liar counted.
  for (uint16_t k = 0; k < pairs_; ++k) {
    const bool rx_clean = qp_[k].rx.check_used_untouched();
    const bool tx_clean = qp_[k].tx.check_used_untouched();
    if (lied == nullptr && !rx_clean) lied = &qp_[k].rx;
    if (lied == nullptr && !tx_clean) lied = &qp_[k].tx;
  }
  if (ctrl_on_ && !ctrl_.check_used_untouched() && lied == nullptr) lied = &ctrl_;
  if (lied != nullptr) {
    // Straight to kBroken, never through kRunning: no burst may start on a
    // ring the device already lied about.
    count_queue_fault(*lied);
    set_state(NetState::kBroken);
    return AttachError::kOk;
  }
  // The first notifications before kRunning: once the state says running
  // an rx burst may start on another thread, and the kick decision
  // (EVENT_IDX: kicked_idx_) and the kick counter belong to the rx context
  // from then on.
  for (uint16_t k = 0; k < pairs_; ++k) {
    qp_[k].rx.publish();
    if (qp_[k].rx.kick_needed()) kick(qp_[k].rx, *qp_[k].counters);
  }
  // One pair until the device is told otherwise (5.1.6.5.5).
  pairs_active_.store(1, MemOrder::kRelaxed);
  set_state(NetState::kRunning);
  // The control state the device acknowledged before (nothing after
  // attach(): the defaults), sent again after DRIVER_OK. A device that lies
  // here leaves the state kBroken: the attach itself succeeded.
  restore_control_state();
  return AttachError::kOk;
}

bool VirtioNet::negotiate_config(uint64_t* want_io) {
  // 3.1.1 step 4 allows reading (not writing) the config before accepting
  // features. Every value is read once into a snapshot, consistently (the
  // generation counter, or two agreeing reads on legacy), and the snapshot
  // is what the driver uses from then on.
  Transport& t = *transport_;
  uint64_t want = *want_io;
  bool want_mac = has_feature(want, Feature::kNetMac);
  bool want_mtu = has_feature(want, Feature::kNetMtu);
  bool want_status = has_feature(want, Feature::kNetStatus);
  ConfigSnapshot cfg{};
  const Transport::ConfigRead read = t.read_config_snapshot(&cfg, [&](ConfigSnapshot& c) {
    if (want_mac)
      for (uint32_t i = 0; i < 6; ++i) {
        uint32_t b;
        if (!t.config_read(spec::net_cfg::kMac + i, 1, &b)) return false;
        c.mac[i] = static_cast<uint8_t>(b);
      }
    if (want_status && !t.config_read(spec::net_cfg::kStatus, 2, &c.status)) return false;
    if (want_mtu && !t.config_read(spec::net_cfg::kMtu, 2, &c.mtu)) return false;
    return true;
  });
  // A field of an offered feature outside the window: the device cannot be
  // used as offered (a short window would otherwise silently cost the MAC
  // and the link state).
  if (read == Transport::ConfigRead::kUnreadable) return false;
  if (read == Transport::ConfigRead::kUnstable) {
    // A config space we cannot read consistently is not used at all.
    ++counters_.config_unstable;
    want &= ~(feature_mask(Feature::kNetMac) | feature_mask(Feature::kNetMtu) |
              feature_mask(Feature::kNetStatus));
    want_mac = want_mtu = want_status = false;
  }
  const uint8_t* mac = cfg.mac;
  const uint32_t mtu = cfg.mtu;
  const uint32_t link = cfg.status;

  mac_from_device_ = false;
  if (want_mac) {
    if (spec::is_valid_unicast_mac(mac)) {
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
    } else if (mtu + spec::kEthHeaderSize > options_.max_frame && !chains_possible(want)) {
      // Our buffers hold max_frame and, without receive chains over
      // MRG_RXBUF, a frame must fit one buffer: a larger MTU is not
      // accepted, so the device keeps to the Ethernet default.
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
  *want_io = want;
  return true;
}

void VirtioNet::make_local_mac() {
  if (spec::is_valid_unicast_mac(options_.fallback_mac)) {
    __builtin_memcpy(mac_, options_.fallback_mac, 6);
  } else {
    // Locally administered unicast (bit 1 set, bit 0 clear), from the clock.
    uint64_t x = platform_->now_ns() * 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 6; ++i) mac_[i] = static_cast<uint8_t>(x >> (8 * i + 8));
    mac_[0] = static_cast<uint8_t>((mac_[0] & 0xFC) | 0x02);
  }
}

AttachError VirtioNet::setup_queue(Virtqueue& q, RingKind kind, uint16_t index, uint16_t cap) {
  Transport& t = *transport_;
  const uint32_t max = t.queue_max_size(index);
  if (max == 0) return AttachError::kQueueUnavailable;
  // 2.7: "Queue Size value is always a power of 2. The maximum Queue Size
  // value is 32768." A packed ring (2.8) needs no power of two, but the
  // net layer keeps this rule (and its rounding below) for both kinds: one
  // sizing rule, and every device seen so far offers powers of two.
  if (!spec::is_power_of_two(max) || max > spec::kMaxQueueSizeSplit)
    return AttachError::kQueueSizeInvalid;
  uint32_t size = max;
  const uint16_t segments = split_header_ ? 2 : 1;
  if (t.queue_size_writable()) {
    // Only as many entries as the driver's cap needs; never more than offered.
    uint32_t wanted = round_up_pow2(uint32_t{cap} * segments);
    if (max > Virtqueue::kMaxSize) ++counters_.queue_size_capped;
    if (wanted < size) size = wanted;
  } else if (max > Virtqueue::kMaxSize) {
    // Legacy: the device decides the size and we cannot hold that many.
    return AttachError::kQueueSizeInvalid;
  }
  if (!q.allocate(*platform_, kind, index, static_cast<uint16_t>(size), t.ring_layout()))
    return AttachError::kNoDmaMemory;
  if (!t.setup_queue(index, static_cast<uint16_t>(size), q.addresses()))
    return AttachError::kQueueSetupRefused;
  return AttachError::kOk;
}

AttachError VirtioNet::setup_pair(QueuePair& p, uint16_t pair, RingKind ring, bool dma_order) {
  AttachError e = setup_queue(p.rx, ring, static_cast<uint16_t>(2 * pair), options_.rx_ring_cap);
  if (e != AttachError::kOk) return e;
  e = setup_queue(p.tx, ring, static_cast<uint16_t>(2 * pair + 1), options_.tx_ring_cap);
  if (e != AttachError::kOk) return e;
  // Indirect tables for tx scatter-gather (the policy: virtio_net.h): a
  // chain longer than a single-buffer frame's goes through a table.
  reset_tx_frag_maps(p);
  if (has_feature(features_, Feature::kIndirectDesc) &&
      !p.tx.enable_indirect(split_header_ ? 2 : 1))
    return AttachError::kNoDmaMemory;
  // Polling by default: the driver reclaims tx on every tx_burst and the
  // caller polls rx, so neither queue needs to interrupt (2.7.7: a hint the
  // device may ignore). set_rx_interrupts(true) asks for rx interrupts.
  const bool event_idx = has_feature(features_, Feature::kEventIdx);
  // IN_ORDER: batched completions, validated against the posted order; the
  // queues take descriptors in ring order from here on (2.7.5, 2.7.9, 2.8.9).
  const bool in_order = has_feature(features_, Feature::kInOrder);
  Virtqueue* const queues[2] = {&p.rx, &p.tx};
  for (Virtqueue* q : queues) {
    q->set_dma_barriers(dma_order);
    q->set_event_idx(event_idx);
    q->set_in_order(in_order);
    q->set_interrupts(false);
  }
  p.tx_published.store(0, MemOrder::kRelaxed);
  p.tx_wd_armed = false;
  p.rx_posted = 0;
  p.rx_skip = 0;
  p.rx_chain = p.rx_chain_tail = nullptr;
  p.rx_chain_need = 0;
  return AttachError::kOk;
}

uint16_t VirtioNet::fill_rx(QueuePair& p) {
  NetCounters& c = *p.counters;
  const uint16_t segments = split_header_ ? 2 : 1;
  const uint16_t limit = options_.rx_ring_cap;
  // Invariant for the loop, in locals (the shim and pool calls could touch
  // any member, as far as the compiler knows).
  const uint32_t hdr_size = hdr_size_;
  const uint32_t buffer_min = rx_buffer_min_;
  Platform& platform = *platform_;
  BufferPool& pool = *pool_;
  Virtqueue& q = p.rx;
  uint16_t posted = p.rx_posted;
  // Buffers the ring takes, one after another (Virtqueue::room): the same
  // bound as can_add() before each.
  uint16_t room = q.room(segments);
  uint16_t added = 0;
  while (posted < limit && room != 0) {
    PacketBuffer* b = pool.alloc();
    if (b == nullptr) {
      ++c.rx_refill_pool_empty;
      break;
    }
    uint8_t* const base = b->base;
    const uint32_t capacity = b->capacity;
    if (capacity < buffer_min) {
      ++c.rx_drop_buffer_small;
      pool.free(b);
      break;
    }
    // The device writes into the mapping, never into the buffer itself
    // unless the platform maps it in place.
    DmaMapping m;
    if (!platform.dma_map(base, b->device_addr, capacity, DmaDirection::kFromDevice, &m)) {
      ++c.rx_drop_map_failed;
      pool.free(b);
      break;
    }
    // As in tx_burst: a constant count per call.
    uint16_t head = 0;
    if (segments == 2) {
      const Segment segs[2] = {
          Segment{m.device_addr, hdr_size, true, m.device_view},
          Segment{m.device_addr + hdr_size, capacity - hdr_size, true, m.device_view + hdr_size}};
      q.add_chain(segs, 2, b, &head);
    } else {
      const Segment seg{m.device_addr, capacity, true, m.device_view};
      q.add_chain(&seg, 1, b, &head);
    }
    keep_mapping(&p.rx_map[head], m);
    --room;
    ++posted;
    ++added;
  }
  p.rx_posted = posted;
  return added;
}

void VirtioNet::refill_rx(QueuePair& p, bool notify) {
  NetCounters& c = *p.counters;
  if (fill_rx(p) == 0) return;
  p.rx.publish();
  if (notify && p.rx.kick_needed()) kick(p.rx, c);
}

void VirtioNet::count_rx_offload_drop(RxOffloadVerdict v, NetCounters& c) {
  switch (v) {
    case RxOffloadVerdict::kOk:
      break;
    case RxOffloadVerdict::kFlags:
      ++c.rx_drop_hdr_flags;
      break;
    case RxOffloadVerdict::kGsoType:
      ++c.rx_drop_hdr_gso;
      break;
    case RxOffloadVerdict::kCsumBounds:
      ++c.rx_drop_csum_bounds;
      break;
    case RxOffloadVerdict::kHdrLen:
      ++c.rx_drop_hdr_len;
      break;
    case RxOffloadVerdict::kGsoNoCsum:
      ++c.rx_drop_gso_no_csum;
      break;
    case RxOffloadVerdict::kGsoSize:
      ++c.rx_drop_gso_size;
      break;
    case RxOffloadVerdict::kGsoProto:
      ++c.rx_drop_gso_proto;
      break;
  }
}

// Inline into rx_burst(): once per delivered frame.
__attribute__((always_inline)) inline bool VirtioNet::finish_rx_frame(
    QueuePair& p, PacketBuffer* b, uint32_t frame_len, const spec::NetHdrHash& full) {
  NetCounters& c = *p.counters;
  // Every header field the device wrote, against the offloads in force and
  // the frame itself (offload.h); the frame's first bytes are private now.
  // A header with no flags and no GSO type asks for nothing: the check's
  // verdict is kOk and its result "no offload" (offload.h), so it is not
  // called for it.
  PacketOffload off;
  const RxFrameView view{b->base + b->offset, b->len, frame_len,
                         static_cast<uint32_t>(mtu_ + spec::kEthHeaderSize)};
  const bool plain = (full.hdr.flags | full.hdr.gso_type) == 0;
  const RxOffloadVerdict v =
      plain ? RxOffloadVerdict::kOk
            : check_rx_offload(full.hdr, offloads_active_.load(MemOrder::kRelaxed), view, &off);
  if (v != RxOffloadVerdict::kOk) {
    count_rx_offload_drop(v, c);
    free_chain(b);
    return false;
  }
  // A chain, as a single buffer was before it was read: within the link's
  // frame, or what a coalesced frame's segments can add up to.
  if (b->next != nullptr && frame_len > rx_frame_limit(full.hdr)) {
    ++c.rx_drop_len_mtu;
    free_chain(b);
    return false;
  }
  // A plain header's result is stored as constants: reading back the
  // default-constructed off would be a wide load of narrow stores.
  if (plain)
    b->offload = PacketOffload{};
  else
    b->offload = off;
  b->hash = 0;
  b->hash_report = 0;
  if (hdr_size_ == sizeof(full)) {
    // HASH_REPORT: a report type the spec does not define is device
    // data no caller should index with: delivered as "no hash".
    const uint16_t report = full.hash_report.get();
    if (report > spec::ctrl::kReportMax) {
      ++c.rx_hash_report_invalid;
    } else if (report != spec::ctrl::kReportNone) {
      b->hash = full.hash_value.get();
      b->hash_report = report;
    }
  }
  ++c.rx_packets;
  c.rx_bytes += frame_len;
  if (off.gso != GsoKind::kNone) ++c.rx_gso_packets;
  if (off.csum == CsumState::kPartial) ++c.rx_csum_partial;
  if (off.csum == CsumState::kVerified) ++c.rx_csum_verified;
  return true;
}

void VirtioNet::drop_rx_chain(QueuePair& p) {
  // The frame being assembled ends here; its buffers not yet seen are
  // skipped as they come (they are posted: rx_chain_need <= rx_posted was
  // checked when the chain began).
  free_chain(p.rx_chain);
  p.rx_chain = p.rx_chain_tail = nullptr;
  p.rx_skip = p.rx_chain_need;
  p.rx_chain_need = 0;
}

uint16_t VirtioNet::rx_burst(uint16_t pair, PacketBuffer** out, uint16_t max) {
  // pairs_ is the attach's: read only once inside the handshake, where no
  // re-attach can run (the threading contract).
  if (pair >= kMaxQueuePairs) return 0;
  PathScope path(*this, busy_rx(pair));
  if (!path.entered || pair >= pairs_) return 0;
  OpScope scope(*platform_, DriverOp::kRxBurst);
  QueuePair& p = qp_[pair];
  NetCounters& c = *p.counters;
  uint16_t delivered = 0;
  // Invariant for the burst (the shim calls below may touch any memory, as
  // far as the compiler knows, so members would be loaded again per frame).
  Platform& platform = *platform_;
  const uint16_t rxq = p.rx.index();
  // Without MRG_RXBUF, num_buffers is not ours to read (QEMU leaves it
  // unwritten), so only the first ten bytes of the header are fetched.
  const bool mrg = has_feature(features_, Feature::kNetMrgRxbuf);
  const size_t hdr_fetch = hdr_size_ == sizeof(spec::NetHdrHash) ? sizeof(spec::NetHdrHash)
                           : mrg                                 ? spec::kNetHdrSize
                                                                 : spec::kNetHdrLegacySize;
  Completion done[kHarvestBatch];
  for (bool again = false; delivered < max; again = true) {
    uint16_t want = static_cast<uint16_t>(max - delivered);
    uint16_t n = p.rx.harvest(done, want < kHarvestBatch ? want : kHarvestBatch, again);
    for (uint16_t i = 0; i < n; ++i) {
      PacketBuffer* b = static_cast<PacketBuffer*>(done[i].cookie);
      const uint32_t len = done[i].len;
      const DmaMapping& m = p.rx_map[done[i].head];
      --p.rx_posted;
      // IN_ORDER: a buffer completed by a later buffer's used entry. 2.7.9 /
      // 2.8.9: it was used completely, so len is its whole writable part --
      // exactly what 5.1.6.4.2 asks of every buffer of a mergeable frame but
      // its last, the case an honest device batches. It is validated below
      // like any length the device states (header, num_buffers, MTU): as a
      // one-buffer frame it is delivered only if the whole buffer is a frame
      // that fits the MTU -- no more than an explicit used.len could claim.
      if (done[i].implied) ++c.rx_implied_completions;
      // Every exit below unmaps: copying nothing (device_len 0) for a frame
      // that is dropped, the validated length for one that is kept.
      auto give_back = [&] {
        platform_->dma_unmap(m, b->base, 0, DmaDirection::kFromDevice);
        pool_->free(b);
      };
      auto drop = [&](uint64_t& counter) {
        ++counter;
        give_back();
      };
      if (p.rx_skip != 0) {
        // The tail of a frame that spanned several buffers and was dropped.
        --p.rx_skip;
        give_back();
        continue;
      }
      if (p.rx_chain != nullptr) {
        // A further buffer of the frame being assembled (5.1.6.4: the next
        // num_buffers - 1 used entries). Its used length is device data:
        // within the buffer, not empty, and the frame within kMaxGsoFrame.
        if (done[i].len_over || len == 0 || p.rx_chain_len + len > kMaxGsoFrame) {
          drop(c.rx_drop_chain_len);
          --p.rx_chain_need;
          drop_rx_chain(p);
          continue;
        }
        platform_->dma_unmap(m, b->base, len, DmaDirection::kFromDevice);
        platform_->frame_in_place(p.rx.index(), done[i].head, b->base, len);
        b->offset = 0;
        b->len = len;
        b->next = nullptr;
        p.rx_chain_tail->next = b;
        p.rx_chain_tail = b;
        p.rx_chain_len += len;
        if (--p.rx_chain_need != 0) continue;
        PacketBuffer* head = p.rx_chain;
        p.rx_chain = p.rx_chain_tail = nullptr;
        if (finish_rx_frame(p, head, p.rx_chain_len, p.rx_chain_hdr)) {
          ++c.rx_chain_packets;
          out[delivered++] = head;
        }
        continue;
      }
      if (done[i].len_over) {
        drop(c.rx_drop_len_over);
        continue;
      }
      if (len < hdr_size_ + spec::kEthHeaderSize) {
        drop(c.rx_drop_len_short);
        continue;
      }
      // The header is device-written: one fetch (from the memory the device
      // wrote: the mapping) into private memory, and every decision uses
      // that snapshot (hdr_fetch bytes: see above).
      spec::NetHdrHash full{};
      spec::NetHdr& hdr = full.hdr;
      platform.fetch(DeviceMemRef{rxq, MemPart::kRxHeader, done[i].head, false}, m.device_view,
                     &full, hdr_fetch);
      const uint16_t buffers = mrg ? hdr.num_buffers.get() : 1;
      if (buffers != 1) {
        // 5.1.6.4: the frame's other buffers are the next num_buffers - 1
        // used entries. Assembled into a chain (rx_chains) when the count is
        // one an honest device could give: no more than are posted, and no
        // more than a kMaxGsoFrame frame needs of the smallest buffer we
        // post. Otherwise the frame is dropped, and as many entries skipped
        // as are posted -- a larger count is a lie and skips nothing.
        const uint32_t extra = buffers > 0 ? buffers - 1u : 0u;
        if (!rx_chains_ || buffers == 0 || buffers > rx_chain_max_ || extra > p.rx_posted) {
          if (extra <= p.rx_posted) p.rx_skip = static_cast<uint16_t>(extra);
          drop(c.rx_drop_num_buffers);
          continue;
        }
      }
      // The header's flags and gso_type (offload.h), before any frame byte.
      // A header with neither asks for no offload: both checks of offload.h
      // pass it whatever is enabled (check_rx_hdr_fields here,
      // check_rx_offload in finish_rx_frame), so they are not called.
      const bool plain = (hdr.flags | hdr.gso_type) == 0;
      const RxOffloadVerdict fields =
          plain ? RxOffloadVerdict::kOk
                : check_rx_hdr_fields(hdr, offloads_active_.load(MemOrder::kRelaxed));
      if (fields != RxOffloadVerdict::kOk) {
        // The whole frame goes: its further buffers (posted: checked above)
        // are skipped, never read as frames of their own.
        if (buffers > 1) p.rx_skip = static_cast<uint16_t>(buffers - 1);
        count_rx_offload_drop(fields, c);
        give_back();
        continue;
      }
      const uint32_t first_len = len - hdr_size_;
      // A one-buffer frame must fit the link, not just the buffer (5.1.6.3.1
      // asks the device for no more than the MTU; a lying device could
      // otherwise hand the stack a frame no peer could have sent); a
      // coalesced one what its segments can add up to.
      if (buffers == 1 && first_len > rx_frame_limit(hdr)) {
        drop(c.rx_drop_len_mtu);
        continue;
      }
      // From here on only the private buffer is read: with a bounce platform
      // dma_unmap() copies the validated length out of the shared slot.
      platform.dma_unmap(m, b->base, len, DmaDirection::kFromDevice);
      platform.frame_in_place(rxq, done[i].head, b->base + hdr_size_, first_len);
      b->offset = hdr_size_;
      b->len = first_len;
      b->next = nullptr;
      if (buffers != 1) {
        p.rx_chain = p.rx_chain_tail = b;
        p.rx_chain_need = static_cast<uint16_t>(buffers - 1);
        p.rx_chain_len = first_len;
        p.rx_chain_hdr = full;
        continue;
      }
      if (finish_rx_frame(p, b, first_len, full)) out[delivered++] = b;
    }
    if (n < want && n < kHarvestBatch) break;
    if (n == 0) break;
  }
  note_queue_fault(p.rx);
  if (state() == NetState::kRunning) refill_rx(p, true);
  return delivered;
}

// Inline into reclaim_tx(): a single-buffer frame is one unmap and one free.
__attribute__((always_inline)) inline void VirtioNet::release_tx(QueuePair& p, PacketBuffer* b,
                                                                 uint16_t head) {
  platform_->dma_unmap(p.tx_map[head], b->base, 0, DmaDirection::kToDevice);
  PacketBuffer* f = b->next;
  if (f == nullptr) {  // a single-buffer frame: the fast path
    pool_->free(b);
    return;
  }
  release_tx_fragments(p, b, head);
}

uint16_t VirtioNet::reclaim_tx(QueuePair& p) {
  NetCounters& c = *p.counters;
  uint16_t total = 0;
  Completion done[kHarvestBatch];
  // Bounded: each round frees at least one chain, and at most size chains
  // are in flight.
  for (bool again = false;; again = true) {
    uint16_t n = p.tx.harvest(done, kHarvestBatch, again);
    for (uint16_t i = 0; i < n; ++i) {
      // A device that claims to have written into a read-only chain is
      // lying; the frame was sent anyway, so only count it.
      if (done[i].len_over) ++c.tx_bad_used_len;
      // IN_ORDER: completed by a later chain's used entry (len 0: a
      // transmit chain has nothing writable).
      if (done[i].implied) ++c.tx_implied_completions;
      release_tx(p, static_cast<PacketBuffer*>(done[i].cookie), done[i].head);
    }
    total = static_cast<uint16_t>(total + n);
    c.tx_completed += n;
    if (n < kHarvestBatch) break;
  }
  note_queue_fault(p.tx);
  return total;
}

uint16_t VirtioNet::tx_reclaim(uint16_t pair) {
  if (pair >= kMaxQueuePairs) return 0;
  PathScope path(*this, busy_tx(pair));
  if (!path.entered || pair >= pairs_) return 0;
  OpScope scope(*platform_, DriverOp::kTxBurst);
  return reclaim_tx(qp_[pair]);
}

uint16_t VirtioNet::tx_burst(uint16_t pair, PacketBuffer* const* frames, uint16_t n) {
  if (pair >= kMaxQueuePairs) return 0;
  PathScope path(*this, busy_tx(pair));
  if (!path.entered || pair >= pairs_) return 0;
  OpScope scope(*platform_, DriverOp::kTxBurst);
  QueuePair& p = qp_[pair];
  NetCounters& c = *p.counters;
  // Always, idle or not: a used entry that appeared while nothing was in
  // flight is caught here, before a new chain could reuse its id.
  reclaim_tx(p);
  if (state() != NetState::kRunning) return 0;
  // A pair the device was not told to use would hold frames forever.
  if (pair >= pairs_active_.load(MemOrder::kRelaxed)) return 0;
  const uint16_t segments = split_header_ ? 2 : 1;
  // 5.1.4.2: with MTU negotiated, no frame above mtu plus the Ethernet
  // header; the same bound keeps frames within what rx buffers of a peer
  // built like ours can hold when it is not (VLAN tags count against it).
  const uint32_t max_len = uint32_t{mtu_} + spec::kEthHeaderSize;
  // Invariant for the burst, in locals: the header stores below go through
  // a byte pointer, which the compiler must assume aliases every member.
  const uint32_t hdr_size = hdr_size_;
  const uint16_t ring_cap = options_.tx_ring_cap;
  Platform& platform = *platform_;
  BufferPool& pool = *pool_;
  Virtqueue& q = p.tx;
  uint64_t packets = 0, bytes = 0;  // added to the counters once, below
  // Single-buffer frames the ring takes from here, within tx_ring_cap:
  // what checking in_flight() < tx_ring_cap and can_add() before each would
  // allow (each add lowers both bounds by one). Computed when first needed
  // and again after a scatter-gather frame.
  uint16_t room = 0;
  bool room_known = false;
  uint16_t taken = 0, added = 0;
  for (; taken < n; ++taken) {
    PacketBuffer* b = frames[taken];
    if (b->next != nullptr) {
      // A scatter-gather frame (packet_buffer.h): its own path.
      room_known = false;
      if (!tx_sg(p, b, &added)) break;
      continue;
    }
    const uint32_t len = b->len;
    const uint32_t offset = b->offset;
    const bool offload = wants_offload(b->offload);
    if (len < spec::kEthHeaderSize ||
        len > (b->offload.gso != GsoKind::kNone ? kMaxGsoFrame : max_len)) {
      ++c.tx_drop_len;
      pool.free(b);
      continue;
    }
    if (offset < hdr_size || offset > b->capacity || len > b->capacity - offset) {
      ++c.tx_drop_headroom;
      pool.free(b);
      continue;
    }
    // Offloads: the request, checked against the features and the frame,
    // becomes the header (offload.h); a request that cannot be honoured
    // drops the frame before the device sees anything of it.
    spec::NetHdr oh{};
    if (offload && !tx_offload_header(c, b->offload, b->data(), b->len, b->len, &oh)) {
      pool.free(b);
      continue;
    }
    if (!room_known) {
      const uint16_t in_flight = q.in_flight();
      const uint16_t below_cap =
          in_flight < ring_cap ? static_cast<uint16_t>(ring_cap - in_flight) : 0;
      room = q.room(segments);
      if (room > below_cap) room = below_cap;
      room_known = true;
    }
    if (room == 0) {
      ++c.tx_ring_full;
      break;
    }
    uint8_t* const base = b->base;
    const uint64_t device_addr = b->device_addr;
    // num_buffers MUST be 0 on transmit (5.1.6.2.1): it is, in both.
    uint8_t* hdr = base + offset - hdr_size;
    if (offload) {
      write_tx_header(hdr, oh);
    } else if (hdr_size == spec::kNetHdrSize) {
      // No offloads: an all-zero header. Constant sizes, so the compiler
      // stores instead of calling memset.
      __builtin_memset(hdr, 0, spec::kNetHdrSize);
    } else if (hdr_size == spec::kNetHdrLegacySize) {
      __builtin_memset(hdr, 0, spec::kNetHdrLegacySize);
    } else {
      __builtin_memset(hdr, 0, sizeof(spec::NetHdrHash));
    }
    // Header and frame are complete: map them (a bounce platform copies
    // them into the shared area here, so the device reads exactly this).
    DmaMapping m;
    if (!platform.dma_map(hdr, device_addr + offset - hdr_size, hdr_size + len,
                          DmaDirection::kToDevice, &m)) {
      ++c.tx_map_failed;
      break;  // not taken: still the caller's
    }
    // One descriptor, or a header and a frame descriptor (legacy without
    // ANY_LAYOUT); each call with a constant count, so the ring's
    // one-descriptor path is chosen at compile time.
    uint16_t head = 0;
    if (segments == 2) {
      const Segment segs[2] = {
          Segment{m.device_addr, hdr_size, false, m.device_view},
          Segment{m.device_addr + hdr_size, len, false, m.device_view + hdr_size}};
      q.add_chain(segs, 2, b, &head);
    } else {
      const Segment seg{m.device_addr, hdr_size + len, false, m.device_view};
      q.add_chain(&seg, 1, b, &head);
    }
    keep_mapping(&p.tx_map[head], m);
    --room;
    ++added;
    if (offload) count_tx_offload(c, b->offload);
    ++packets;
    bytes += len;
  }
  c.tx_packets += packets;
  c.tx_bytes += bytes;
  if (added != 0) {
    q.publish();
    p.tx_published.store(q.published_idx(), MemOrder::kRelaxed);
    if (q.kick_needed()) kick(q, c);
  }
  return taken;
}

bool VirtioNet::tx_offload_header(NetCounters& c, const PacketOffload& req, const uint8_t* first,
                                  uint32_t first_len, uint32_t frame_len, spec::NetHdr* out) {
  switch (build_tx_header(req, features_, first, first_len, frame_len, mtu_, out)) {
    case TxOffloadVerdict::kOk:
      return true;  // counted once the frame is published (count_tx_offload)
    case TxOffloadVerdict::kFeature:
      ++c.tx_drop_offload_feature;
      return false;
    case TxOffloadVerdict::kCsumBounds:
      ++c.tx_drop_offload_csum;
      return false;
    case TxOffloadVerdict::kGso:
      ++c.tx_drop_offload_gso;
      return false;
  }
  return false;
}

void VirtioNet::write_tx_header(uint8_t* at, const spec::NetHdr& h) const {
  // The header as built (num_buffers 0), cut to the negotiated size; with
  // HASH_REPORT the hash fields (device-written on rx only) are zero.
  __builtin_memset(at, 0, hdr_size_);
  __builtin_memcpy(at, &h, hdr_size_ < sizeof(h) ? hdr_size_ : sizeof(h));
}

void VirtioNet::reset_tx_frag_maps(QueuePair& p) {
  // Nothing in flight: every slot free, linked in index order.
  for (uint16_t i = 0; i < kTxFragMaps; ++i)
    p.tx_frag_next[i] = i + 1 < kTxFragMaps ? static_cast<uint16_t>(i + 1) : kNoFragMap;
  p.tx_frag_free = 0;
  p.tx_frag_free_count = kTxFragMaps;
}

void VirtioNet::free_chain(PacketBuffer* b) {
  // A frame dropped before any of it was mapped: each fragment once. The
  // walk is the caller's list (driver-private memory, not the device's);
  // tx_sg() walked it already, bounded, before deciding to drop.
  while (b != nullptr) {
    PacketBuffer* next = b->next;
    b->next = nullptr;
    pool_->free(b);
    b = next;
  }
}

void VirtioNet::release_tx_fragments(QueuePair& p, PacketBuffer* b, uint16_t head) {
  PacketBuffer* f = b->next;
  b->next = nullptr;
  pool_->free(b);
  // The fragments after the first, with the mappings tx_sg() linked for
  // them in the same order: at most kMaxTxFragments - 1 (tx_sg() took no
  // longer chain, and the chain is the driver's while in flight).
  uint16_t slot = p.tx_frag_first[head];
  for (uint16_t k = 1; f != nullptr && k < kMaxTxFragments && slot != kNoFragMap; ++k) {
    PacketBuffer* next = f->next;
    platform_->dma_unmap(p.tx_frag_map[slot], f->data(), 0, DmaDirection::kToDevice);
    const uint16_t after = p.tx_frag_next[slot];
    p.tx_frag_next[slot] = p.tx_frag_free;
    p.tx_frag_free = slot;
    ++p.tx_frag_free_count;
    slot = after;
    f->next = nullptr;
    pool_->free(f);
    f = next;
  }
}

bool VirtioNet::tx_sg(QueuePair& p, PacketBuffer* b, uint16_t* added) {
  NetCounters& c = *p.counters;
  // The chain is walked once, bounded by kMaxTxFragments + 1 links: count,
  // bounds of every fragment, total length.
  uint16_t frags = 0;
  uint64_t total = 0;
  bool in_bounds = true;
  for (const PacketBuffer* f = b; f != nullptr && frags <= kMaxTxFragments; f = f->next) {
    ++frags;
    if (f->len == 0 || f->offset > f->capacity || f->len > f->capacity - f->offset)
      in_bounds = false;
    total += f->len;
  }
  if (frags > kMaxTxFragments) {
    ++c.tx_drop_sg_fragments;
    free_chain(b);
    return true;
  }
  if (!in_bounds) {
    ++c.tx_drop_sg_bounds;
    free_chain(b);
    return true;
  }
  if (b->offset < hdr_size_) {
    ++c.tx_drop_headroom;
    free_chain(b);
    return true;
  }
  // 5.1.4.2, as for a single buffer: the whole frame within mtu + 14 (a
  // GSO frame: within kMaxGsoFrame, each segment within the MTU).
  const uint64_t max_len = b->offload.gso != GsoKind::kNone ? uint64_t{kMaxGsoFrame}
                                                            : uint64_t{mtu_} + spec::kEthHeaderSize;
  if (total < spec::kEthHeaderSize || total > max_len) {
    ++c.tx_drop_len;
    free_chain(b);
    return true;
  }
  const bool offload = wants_offload(b->offload);
  spec::NetHdr oh{};
  if (offload &&
      !tx_offload_header(c, b->offload, b->data(), b->len, static_cast<uint32_t>(total), &oh)) {
    free_chain(b);
    return true;
  }
  const uint16_t segments = static_cast<uint16_t>(frags + (split_header_ ? 1 : 0));
  // Never truncated: a frame the queue cannot take in one chain (no
  // INDIRECT_DESC: more than the direct limit; with it: more than a table
  // or the queue size, 2.7.5.3.1) is dropped whole.
  if (segments > p.tx.max_segments()) {
    ++c.tx_drop_sg_segments;
    free_chain(b);
    return true;
  }
  if (p.tx.in_flight() >= options_.tx_ring_cap || !p.tx.can_add(segments) ||
      p.tx_frag_free_count < frags - 1) {
    ++c.tx_ring_full;
    return false;
  }
  // The header in the first fragment's headroom: all zero without
  // offloads; num_buffers MUST be 0 on transmit (5.1.6.2.1).
  uint8_t* hdr = b->base + b->offset - hdr_size_;
  if (offload)
    write_tx_header(hdr, oh);
  else
    __builtin_memset(hdr, 0, hdr_size_);
  DmaMapping m;
  if (!platform_->dma_map(hdr, b->device_addr + b->offset - hdr_size_, hdr_size_ + b->len,
                          DmaDirection::kToDevice, &m)) {
    ++c.tx_map_failed;
    return false;  // not taken: still the caller's
  }
  Segment segs[kMaxIndirectSegments];
  uint16_t n = 0;
  if (split_header_) {
    segs[n++] = Segment{m.device_addr, hdr_size_, false, m.device_view};
    segs[n++] = Segment{m.device_addr + hdr_size_, b->len, false, m.device_view + hdr_size_};
  } else {
    segs[n++] = Segment{m.device_addr, hdr_size_ + b->len, false, m.device_view};
  }
  // The other fragments, each mapped on its own into a slot of the pool,
  // linked in fragment order.
  uint16_t first = kNoFragMap, last = kNoFragMap;
  for (PacketBuffer* f = b->next; f != nullptr; f = f->next) {
    const uint16_t slot = p.tx_frag_free;
    DmaMapping& fm = p.tx_frag_map[slot];
    if (!platform_->dma_map(f->data(), f->device_addr + f->offset, f->len, DmaDirection::kToDevice,
                            &fm)) {
      // Undo: every mapping made so far ends, and the slots walked over
      // stay on the free list (their links were never changed).
      PacketBuffer* g = b->next;
      for (uint16_t s = first; s != kNoFragMap && g != f; s = p.tx_frag_next[s], g = g->next)
        platform_->dma_unmap(p.tx_frag_map[s], g->data(), 0, DmaDirection::kToDevice);
      if (first != kNoFragMap) p.tx_frag_free = first;
      platform_->dma_unmap(m, b->base, 0, DmaDirection::kToDevice);
      ++c.tx_map_failed;
      return false;  // not taken: still the caller's
    }
    if (first == kNoFragMap) first = slot;
    last = slot;
    p.tx_frag_free = p.tx_frag_next[slot];  // walk the free list; detached below
    segs[n++] = Segment{fm.device_addr, f->len, false, fm.device_view};
  }
  // Every fragment mapped: the slots [first .. last] (a prefix of the free
  // list, already linked in fragment order) leave the free list.
  if (last != kNoFragMap) p.tx_frag_next[last] = kNoFragMap;
  p.tx_frag_free_count = static_cast<uint16_t>(p.tx_frag_free_count - (frags - 1));
  const bool indirect = p.tx.uses_indirect(n);
  uint16_t head = 0;
  p.tx.add_chain(segs, n, b, &head);
  p.tx_map[head] = m;
  p.tx_frag_first[head] = first;
  ++*added;
  if (offload) count_tx_offload(c, b->offload);
  ++c.tx_packets;
  ++c.tx_sg_packets;
  if (indirect) ++c.tx_indirect_chains;
  c.tx_bytes += total;
  return true;
}

void VirtioNet::note_queue_fault(const Virtqueue& q) {
  // The device's view of a ring can no longer be trusted: stop using the
  // device until poll_device() resets and re-initialises it. rx and tx may
  // find their queues broken at once: one transition, one context counts
  // (the counters have one writer at a time).
  if (!q.broken() || !state_.compare_exchange(NetState::kRunning, NetState::kBroken)) return;
  count_queue_fault(q);
}

void VirtioNet::count_queue_fault(const Virtqueue& q) {
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
    case QueueFault::kUsedEarly:
      ++counters_.queue_broken_used_early;
      break;
    case QueueFault::kUsedFlags:
      ++counters_.queue_broken_used_flags;
      break;
    case QueueFault::kUsedWrap:
      ++counters_.queue_broken_used_wrap;
      break;
    case QueueFault::kUsedOrder:
      ++counters_.queue_broken_used_order;
      break;
    case QueueFault::kUsedUnpublished:
      ++counters_.queue_broken_used_unpub;
      break;
    case QueueFault::kNone:
      break;
  }
  platform_->log(LogLevel::kError, "virtio-net: queue broken, device will be reset");
}

bool VirtioNet::read_link_status(uint32_t* status_out) {
  *status_out = 0;
  if (!has_feature(features_, Feature::kNetStatus)) return link_up_;
  uint32_t link = 0;
  Transport& t = *transport_;
  if (t.read_config_snapshot(&link, [&](uint32_t& v) {
        return t.config_read(spec::net_cfg::kStatus, 2, &v);
      }) != Transport::ConfigRead::kOk) {
    ++counters_.config_unstable;
    return link_up_;
  }
  if ((link & ~uint32_t{spec::net_status::kLinkUp | spec::net_status::kAnnounce}) != 0)
    ++counters_.config_invalid_status;
  *status_out = link;
  return (link & spec::net_status::kLinkUp) != 0;
}

bool VirtioNet::tx_watchdog_expired(QueuePair& p) {
  // Device progress, seen from the control context: the used index the
  // device wrote against the avail index the tx context published. Neither
  // depends on whether the tx context harvested: a device that completes
  // everything is never blamed for a caller that stopped transmitting.
  if (options_.tx_timeout_ns == 0) return false;
  const uint16_t published = p.tx_published.load(MemOrder::kRelaxed);
  const uint16_t used = p.tx.peek_used_idx();
  if (used == published) {
    p.tx_wd_armed = false;
    return false;
  }
  const uint64_t now = platform_->now_ns();
  if (!p.tx_wd_armed || used != p.tx_wd_used) {
    p.tx_wd_armed = true;
    p.tx_wd_used = used;
    p.tx_wd_since = now;
    return false;
  }
  return now - p.tx_wd_since >= options_.tx_timeout_ns;
}

DeviceEvents VirtioNet::poll_device() {
  DeviceEvents ev;
  const NetState s = state();
  if (transport_ == nullptr || s == NetState::kDown || s == NetState::kFailed) return ev;
  OpScope scope(*platform_, DriverOp::kPollDevice);
  const uint8_t isr = take_interrupt_status();
  if (isr != 0) ++counters_.interrupts;
  if (s == NetState::kRunning) {
    // A device that lost our status (legacy reset) or asks for a reset
    // (2.1.2 DEVICE_NEEDS_RESET) gets one.
    const uint8_t status = transport_->status();
    if ((status & st::kDeviceNeedsReset) != 0 || (status & st::kDriverOk) == 0) {
      ++counters_.device_needs_reset;
      ev.reset_detected = true;
    }
  }
  if (!ev.reset_detected && s == NetState::kRunning && (isr & spec::interrupt::kConfig) != 0) {
    ++counters_.config_changes;
    ev.config_changed = true;
    uint32_t status = 0;
    const bool up = read_link_status(&status);
    if (up != link_up_) {
      link_up_ = up;
      ++counters_.link_changes;
      ev.link_changed = true;
    }
    acknowledge_announce(&ev, status);
  }
  bool tx_stuck = false;
  // Only pairs the device serves: chains left on a pair that was disabled
  // wait for it to be enabled again, or for the next reset.
  const uint16_t served = queue_pairs();
  for (uint16_t k = 0; k < served && !ev.reset_detected && s == NetState::kRunning; ++k)
    tx_stuck = tx_watchdog_expired(qp_[k]) || tx_stuck;
  if (tx_stuck) {
    ++counters_.tx_watchdog_timeouts;
    ev.tx_timeout = true;
    platform_->log(LogLevel::kError,
                   "virtio-net: tx watchdog: no completion, device will be reset");
  }
  if (ev.reset_detected || ev.tx_timeout || state() == NetState::kBroken) {
    // Leave kRunning first (no new burst starts), then reset only if no
    // burst is running; otherwise a later call does it.
    set_state(NetState::kBroken);
    if (!quiescent()) {
      ev.reset_deferred = true;
      return ev;
    }
    ev.recovered = recover_locked();
  }
  return ev;
}

bool VirtioNet::recover() {
  if (transport_ == nullptr) return false;
  OpScope scope(*platform_, DriverOp::kPollDevice);
  return recover_locked();
}

bool VirtioNet::recover_locked() {
  if (reclaim_all()) teardown_queues();
  // A device that lies again during the attach leaves us kBroken: that is
  // no recovery (the next poll_device() tries again).
  if (bring_up() != AttachError::kOk || state() != NetState::kRunning) return false;
  ++counters_.recoveries;
  return true;
}

bool VirtioNet::reclaim_all() {
  // The device owns posted buffers and the rings until it is reset (3.3.1,
  // 4.1.4.3.2: "wait for a read of device_status to return 0"); only then
  // are they the driver's to hand back. A device that never acknowledges
  // the reset may still write into them, so they are quarantined: kept,
  // neither freed nor reused, until a later reset succeeds.
  if (!transport_->reset(options_.reset_timeout_ns)) {
    ++counters_.reset_timeouts;
    quarantined_ = ctrl_.allocated();
    for (const QueuePair& p : qp_)
      quarantined_ = quarantined_ || p.rx.allocated() || p.tx.allocated();
    // status_written_ stays: the device still holds it.
    platform_->log(LogLevel::kError,
                   "virtio-net: device did not acknowledge reset; buffers quarantined");
    return false;
  }
  status_written_ = 0;
  return_all_buffers();
  return true;
}

void VirtioNet::return_all_buffers() {
  // The device no longer owns anything: unmap (copying nothing) and give back.
  auto give_back = [this](DmaMapping* maps, DmaDirection dir) {
    return [this, maps, dir](void* cookie, uint16_t head) {
      PacketBuffer* b = static_cast<PacketBuffer*>(cookie);
      platform_->dma_unmap(maps[head], b->base, 0, dir);
      pool_->free(b);
    };
  };
  for (QueuePair& p : qp_) {
    if (p.rx.allocated()) p.rx.drain(give_back(p.rx_map, DmaDirection::kFromDevice));
    if (p.tx.allocated())
      p.tx.drain([this, &p](void* cookie, uint16_t head) {
        release_tx(p, static_cast<PacketBuffer*>(cookie), head);
      });
    p.rx_posted = 0;
    p.rx_skip = 0;
    // A frame being assembled: its buffers left the ring already.
    free_chain(p.rx_chain);
    p.rx_chain = p.rx_chain_tail = nullptr;
    p.rx_chain_need = 0;
  }
  // The control queue's one command (if the device never completed it):
  // its area is the driver's again.
  if (ctrl_.allocated()) ctrl_.drain([](void*, uint16_t) {});
  ctrl_chan_.drained();
  quarantined_ = false;
}

void VirtioNet::teardown_queues() {
  for (QueuePair& p : qp_) {
    p.rx.release();
    p.tx.release();
  }
  ctrl_.release();
  if (platform_ != nullptr) ctrl_chan_.release(*platform_);
  ctrl_on_ = false;
}

void VirtioNet::stop() {
  if (transport_ == nullptr || (state() == NetState::kDown && !quarantined_)) return;
  OpScope scope(*platform_, DriverOp::kStop);
  // Leave kRunning so that no burst starts, then wait for running ones to
  // finish (they are bounded) before the rings are touched.
  if (state() == NetState::kRunning) set_state(NetState::kBroken);
  while (!quiescent()) {
  }
  stop_interrupts(true);
  if (!reclaim_all()) {
    set_state(NetState::kFailed);  // quarantined; stop() again retries the reset
    return;
  }
  teardown_queues();
  set_state(NetState::kDown);
}

void VirtioNet::device_gone() {
  if (platform_ == nullptr) return;
  OpScope scope(*platform_, DriverOp::kStop);
  stop_interrupts(false);
  return_all_buffers();
  teardown_queues();
  set_state(NetState::kDown);
}

bool VirtioNet::set_rx_interrupts(uint16_t pair, bool enabled) {
  if (pair >= kMaxQueuePairs) return false;
  PathScope path(*this, busy_rx(pair));
  if (!path.entered || pair >= pairs_) return false;
  OpScope scope(*platform_, DriverOp::kRxBurst);
  Virtqueue& q = qp_[pair].rx;
  q.set_interrupts(enabled);
  // A completion that raced with re-enabling would otherwise wait for the
  // next interrupt: re-check the used index (a deliberate second fetch).
  return enabled && q.has_pending();
}

bool VirtioNet::set_tx_interrupts(uint16_t pair, bool enabled) {
  if (pair >= kMaxQueuePairs) return false;
  PathScope path(*this, busy_tx(pair));
  if (!path.entered || pair >= pairs_) return false;
  OpScope scope(*platform_, DriverOp::kTxBurst);
  Virtqueue& q = qp_[pair].tx;
  q.set_interrupts(enabled);
  // As for rx: a completion that raced with re-enabling is seen now.
  return enabled && q.has_pending();
}

void VirtioNet::kick(Virtqueue& q, NetCounters& c) {
  // Receive queues have even indices (5.1.2).
  ++((q.index() & 1u) == 0 ? c.rx_kicks : c.tx_kicks);
  transport_->notify(q.index());
}

VirtioNet::VirtioNet() {
  qp_[0].counters = &counters_;
  for (uint16_t k = 1; k < kMaxQueuePairs; ++k) qp_[k].counters = &pair_counters_[k - 1];
}

NetCounters VirtioNet::total_counters() const {
  // Every counter is a sum; pair k >= 1 counts only its data path.
  NetCounters t = counters_;
  uint64_t* dst = reinterpret_cast<uint64_t*>(&t);
  for (const NetCounters& c : pair_counters_) {
    const uint64_t* src = reinterpret_cast<const uint64_t*>(&c);
    for (size_t i = 0; i < sizeof(NetCounters) / sizeof(uint64_t); ++i) dst[i] += src[i];
  }
  return t;
}

// ---- Interrupts ------------------------------------------------------------
//
// irq_map_ packs what the interrupt context needs into one atomic word:
//   bits 0-1  InterruptMode in force
//   bits 4-7  config vector, 8-11 rx vector, 12-15 tx vector (0xF: none)
//   bits 16-19 vectors in use
// Written by attach/stop (control context) and by the storm guard; read by
// handle_interrupt with acquire, so it never sees half a re-attach.

namespace {

constexpr uint32_t kNoMappedVector = 0xF;
static_assert(kMaxMsiVectors < kNoMappedVector);

uint32_t pack_vector(uint16_t v) {
  return v < kMaxMsiVectors ? v : kNoMappedVector;
}

uint32_t pack_irq_map(const InterruptSetup& s, uint16_t rx_queue, uint16_t tx_queue) {
  return static_cast<uint32_t>(s.mode) | pack_vector(s.config_vector) << 4 |
         pack_vector(s.queue_vector[rx_queue]) << 8 | pack_vector(s.queue_vector[tx_queue]) << 12 |
         uint32_t{s.vectors < kMaxMsiVectors ? s.vectors : kMaxMsiVectors} << 16;
}

InterruptMode map_mode(uint32_t m) {
  return static_cast<InterruptMode>(m & 3u);
}

// A log line without a formatter: pieces and numbers appended in turn.
struct LineBuffer {
  char text[160];
  size_t n = 0;
  LineBuffer& add(const char* s) {
    while (*s != 0 && n + 1 < sizeof(text)) text[n++] = *s++;
    text[n] = 0;
    return *this;
  }
  LineBuffer& add(uint32_t v) {
    char digits[10];
    int k = 0;
    do {
      digits[k++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0 && k < 10);
    while (k > 0 && n + 1 < sizeof(text)) text[n++] = digits[--k];
    text[n] = 0;
    return *this;
  }
  LineBuffer& hex16(uint16_t v) {
    static const char kHex[] = "0123456789abcdef";
    add("0x");
    for (int shift = 12; shift >= 0; shift -= 4) {
      if (n + 1 >= sizeof(text)) break;
      text[n++] = kHex[(v >> shift) & 0xF];
    }
    text[n] = 0;
    return *this;
  }
};

}  // namespace

InterruptMode VirtioNet::interrupt_mode() const {
  return map_mode(irq_map_.load(MemOrder::kAcquire));
}

void VirtioNet::setup_interrupts() {
  // The ladder is the transport's (transport.h); the driver asks for its
  // two queues and says how much device configuration it reads (legacy:
  // the configuration moves behind the vector registers with MSI-X).
  // Until the new choice is made, no interrupt is taken as meaningful.
  irq_map_.store(static_cast<uint32_t>(InterruptMode::kPolling), MemOrder::kRelease);
  const InterruptMode before = irq_.mode;
  InterruptRequest request;
  request.mode = options_.interrupts;
  request.num_queues = 2;
  request.config_bytes_needed = spec::config_bytes_needed(features_);
  irq_ = transport_->setup_interrupts(request);
  // The transport's answer is trusted only as far as it is consistent
  // (a vector it says is in use must be below the count).
  if (irq_.mode == InterruptMode::kMsix &&
      (irq_.vectors == 0 || irq_.vectors > kMaxMsiVectors || irq_.config_vector >= irq_.vectors ||
       irq_.queue_vector[kRxQueue] >= irq_.vectors || irq_.queue_vector[kTxQueue] >= irq_.vectors))
    irq_ = InterruptSetup{};
  if (request.mode == InterruptMode::kMsix && irq_.mode != InterruptMode::kMsix)
    ++counters_.irq_msix_fallbacks;
  irq_map_.store(pack_irq_map(irq_, kRxQueue, kTxQueue), MemOrder::kRelease);
  // Polling asked and polling before: the platform is not told anything
  // (a polling driver makes no interrupt calls at all).
  if (request.mode == InterruptMode::kPolling && before == InterruptMode::kPolling) return;
  platform_->arm_interrupts(irq_.mode, irq_.vectors);
  LineBuffer line;
  line.add("virtio-net: interrupts ").add(interrupt_mode_name(irq_.mode));
  if (irq_.mode == InterruptMode::kMsix)
    line.add(", ").add(irq_.vectors).add(" vectors of ").add(irq_.table_size);
  if (irq_.msix_fallback != MsixFallback::kNone) {
    line.add(" (MSI-X not used: ").add(msix_fallback_name(irq_.msix_fallback));
    if (irq_.msix_fallback == MsixFallback::kConfigVectorWrong ||
        irq_.msix_fallback == MsixFallback::kQueueVectorWrong ||
        irq_.msix_fallback == MsixFallback::kConfigVectorRefused ||
        irq_.msix_fallback == MsixFallback::kQueueVectorRefused)
      line.add(", read ").hex16(irq_.read_back);
    line.add(")");
  }
  platform_->log(irq_.msix_fallback == MsixFallback::kNone ? LogLevel::kInfo : LogLevel::kWarn,
                 line.text);
}

void VirtioNet::stop_interrupts(bool device_reachable) {
  if (irq_.mode == InterruptMode::kPolling) return;
  // The platform first (nothing is delivered from now on), then the
  // device's side of it.
  irq_map_.store(static_cast<uint32_t>(InterruptMode::kPolling), MemOrder::kRelease);
  platform_->arm_interrupts(InterruptMode::kPolling, 0);
  if (device_reachable) transport_->teardown_interrupts();
  irq_ = InterruptSetup{};
}

uint8_t VirtioNet::take_interrupt_status() {
  // Polling: the ISR is the only way to learn of a configuration change.
  // With interrupts the handler reads it (INTx) or never should (MSI-X,
  // 4.1.4.5.2): a configuration interrupt is latched for us instead.
  // After a storm the driver polls: INTx's ISR is read again then, MSI-X's
  // still not.
  uint8_t isr = 0;
  if (interrupt_mode() == InterruptMode::kPolling && irq_.mode != InterruptMode::kMsix)
    isr = transport_->read_isr();
  if (config_pending_.exchange(false, MemOrder::kAcqRel)) isr |= spec::interrupt::kConfig;
  return isr;
}

bool VirtioNet::irq_storm() {
  if (options_.irq_storm_limit == 0) return false;
  const uint64_t now = platform_->now_ns();
  if (irq_window_count_ == 0 || now - irq_window_start_ >= options_.irq_storm_window_ns) {
    irq_window_start_ = now;
    irq_window_count_ = 0;
  }
  return ++irq_window_count_ > options_.irq_storm_limit;
}

IrqWork VirtioNet::handle_interrupt(IrqSource source) {
  IrqWork work;
  const uint32_t map = irq_map_.load(MemOrder::kAcquire);
  const InterruptMode mode = map_mode(map);
  if (platform_ == nullptr || transport_ == nullptr || mode == InterruptMode::kPolling) {
    // Before attach chose a mode, after stop(), after a storm: nothing of
    // ours was armed for this.
    ++counters_.irq_stray;
    return work;
  }
  OpScope scope(*platform_, DriverOp::kInterrupt);
  if (source.kind == IrqSource::Kind::kLine) {
    if (mode != InterruptMode::kIntx) {
      ++counters_.irq_stray;
      return work;
    }
    // 4.1.4.5: reading the ISR status acknowledges the interrupt (the
    // device lowers the line). Read once; the snapshot decides.
    const uint8_t isr = transport_->read_isr();
    if (isr == 0) {
      // A shared line asserted by another function: not ours, and nothing
      // of ours consumed (the ISR read of 0 changed nothing).
      ++counters_.irq_not_ours;
      return work;
    }
    ++counters_.irq_line;
    // Undefined ISR bits are ignored (only bits 0 and 1 mean anything).
    work.control = (isr & spec::interrupt::kConfig) != 0;
    work.rx = work.tx = (isr & spec::interrupt::kQueue) != 0;
  } else {
    const uint16_t v = source.vector;
    const uint32_t vectors = (map >> 16) & 0xF;
    if (mode != InterruptMode::kMsix || v >= vectors) {
      ++counters_.irq_stray;
      return work;
    }
    ++counters_.irq_vector;
    // One vector may serve several sources (4.1.5.4.2).
    work.control = v == ((map >> 4) & 0xF);
    work.rx = v == ((map >> 8) & 0xF);
    work.tx = v == ((map >> 12) & 0xF);
  }
  if (work.control) config_pending_.store(true, MemOrder::kRelease);
  const NetState s = state();
  if (s != NetState::kRunning) {
    // Before DRIVER_OK (attach), during a reset: no ring is ours to poll.
    // A broken device still wants poll_device() to recover it.
    ++counters_.irq_early;
    work.rx = work.tx = false;
    work.control = work.control || s == NetState::kBroken;
  }
  if (irq_storm()) {
    // A device that never stops (a stuck ISR, a line nobody lowers): mask
    // it and poll until the next attach. The caller polls everything once.
    irq_map_.store(static_cast<uint32_t>(InterruptMode::kPolling), MemOrder::kRelease);
    platform_->arm_interrupts(InterruptMode::kPolling, 0);
    ++counters_.irq_storms;
    platform_->log(LogLevel::kError, "virtio-net: interrupt storm: interrupts masked, polling");
    work.rx = work.tx = work.control = true;
  }
  return work;
}

}  // namespace vnet
