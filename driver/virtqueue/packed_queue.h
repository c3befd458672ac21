// Packed virtqueue, driver side (virtio 1.2, 2.8), with distrust built in.
//
//   driver-private (this object)            DMA memory (device can read/write)
//   +-----------------------------+         +-------------------------------+
//   | shadow_[pos]: addr,len,id,  |  writes | descriptor ring (driver makes |
//   |   flags as written (never   |-------->|   available, DEVICE writes    |
//   |   read back from the ring)  |         |   used descriptors over it)   |
//   | ids_[id]: cookie, writable, |  fetch  | driver event   (driver writes)|
//   |   ndescs, in_flight,        |<--------| device event   (DEVICE writes)|
//   |   published                 | (shim)  |                               |
//   | id free list, positions,    |         | fetched: a used descriptor's  |
//   |   wrap counters             |         |   flags, then its id and len; |
//   +-----------------------------+         |   the device event structure  |
//                                           +-------------------------------+
//
// Positions and wrap counters (2.8.1). The driver writes available
// descriptors at next_avail_ with AVAIL = avail_wrap_ and USED = !avail_wrap_;
// the device writes one used descriptor per chain at the driver's last_used_
// with AVAIL = USED = used_wrap_, then both sides skip the chain's length
// (2.8.6). Both counters start at 1 and flip when their position passes the
// end of the ring. Buffer ids (0..size-1) are the driver's own, one per
// chain, from a private free list; the id goes into the chain's last
// descriptor (2.8.6) and comes back in the used descriptor, and it is what
// completions report as head (the net layer indexes per-chain arrays with
// it, as it does with a split ring's head).
//
// Publish: add_chain() writes every descriptor of the chain except the
// head's flags, records the chain in the shadow and announces it to the
// shim; publish() issues a write barrier and then stores each pending head's
// flags (2.8.21.1: the head's flags last, after the rest of the chain is
// visible). Until publish() the device cannot see the chain: its head
// position still holds what the device wrote there a lap before.
//
// Harvest (2.8.21.3): at last_used_ the descriptor's flags are fetched
// once; then a read barrier; then its len and id (never before the flags
// that say they are valid). Every position in [last_used_, last_used_ +
// published_descs_) holds what the driver wrote (AVAIL = W, USED = !W for
// the used wrap counter W) until the device overwrites it with a used
// descriptor (AVAIL = USED = W). So, with published chains outstanding:
//   (W, !W)  still available          -> stop, nothing more completed
//   (W, W)   used                     -> validate id and len
//   (!W, !W) a used pattern of the previous lap: the device stopped
//            flipping its wrap counter          -> broken, kUsedWrap
//   (!W, W)  a pattern no side writes           -> broken, kUsedFlags
// and with nothing published outstanding a used pattern (W, W) is a
// completion of nothing (kUsedIdxJump). The id must be < size (kUsedIdRange)
// and a published in-flight chain (kUsedIdStale); the length must be within
// the writable bytes posted (len_over on the completion, counted: the
// caller drops the buffer, exactly as on a split ring). A device that stops
// completing altogether is the net layer's tx watchdog's business.
//
// Notification suppression (2.8.10, 2.8.21.2). The driver event structure
// (ours) says when we want interrupts: DISABLE, ENABLE, or with
// VIRTIO_F_EVENT_IDX DESC at off_wrap = last_used_ | used_wrap_ << 15 (the
// next used descriptor interrupts), rewritten after every harvest that took
// completions. The device event structure (the device's, fetched once per
// decision after a full barrier) says when it wants notifications: DISABLE,
// ENABLE, or DESC (EVENT_IDX only) with an event position; the driver
// notifies iff the positions it made available since the last decision
// cross it (the 2.7.10.2 formula over positions, the event moved back by
// the ring size when its wrap counter is not the current avail wrap).
// Every value the device writes there is meaningful or costs at most a
// missing or extra notification -- the device's own loss.
//
// Barriers (each through order(), of DMA strength under ORDER_PLATFORM):
//   publish()        write: chain bodies and ids before the head flags
//   kick_needed()    full:  head flag stores before the device event fetch
//                    (one 4-byte fetch: off_wrap and flags never torn apart)
//   set_interrupts() write: off_wrap before flags DESC (the device reads
//                    flags, then off_wrap); full: the driver event stores
//                    before the caller's re-check of the used descriptor
//   harvest()        read:  used flags before the id and len they cover;
//                    full:  the new off_wrap before the next look at the ring
//
// Threading: as every Virtqueue (virtqueue.h): the owner serialises all
// calls; peek_used_idx() alone may run from another context (it reads one
// atomic the harvest side writes; see its comment for what it measures).
//
// Indirect descriptors (VIRTIO_F_INDIRECT_DESC, 2.8.19/2.8.20).
// enable_indirect() allocates one table of kMaxIndirectSegments packed
// descriptors per buffer id, in DMA memory of its own, freed by release().
// From then on a chain of more than direct_max segments is written into its
// id's table -- entries in order, each {addr, len, id 0, flags WRITE or 0}:
// WRITE is the only flag valid there and the buffer id is reserved (2.8.19)
// -- and made available as ONE ring descriptor {addr = the table, len = 16 x
// segments, id, flags = INDIRECT | the avail bits} (never NEXT, never WRITE:
// 2.8.20), whose flags publish() stores last, as for any head. The driver
// never reads a table back: completions use ids_[id] (writable bytes, one
// descriptor). At most min(kMaxIndirectSegments, size) segments.
//
// In-order use (VIRTIO_F_IN_ORDER, 2.8.9). set_in_order(true), before the
// first publish. The device may complete a batch with ONE used descriptor,
// written over the first available descriptor of the batch (at last_used_),
// carrying the buffer id of the batch's last chain; it then skips the whole
// batch. The posted order is private: each id keeps the number of chains
// added before it (seq), and the oldest outstanding chain is the one whose
// head the private shadow holds at last_used_. The used descriptor is
// validated as every other (flags, id < size, in flight), and its chain
// must be published -- a batch that would reach a chain added but never
// made available is kUsedUnpublished (without IN_ORDER that id is
// kUsedIdStale, as before). Every published in-flight id is a valid batch
// end (no used index exists to contradict it). The batch's chains are
// completed in posted order, the first k - 1 implied (Completion::implied;
// len = the writable bytes posted: "used completely"), the last with the
// descriptor's len; last_used_ moves on by each chain's descriptors and the
// used wrap counter flips wherever the batch passes the end of the ring. A
// batch is at most the chains published and in flight. One larger than the
// room in a harvest() is finished by the next one from private state
// (batch_left_), with no fetch; the progress marker (peek_used_idx()) is
// moved only at batch boundaries, so mid-batch it still reports the used
// descriptor at the batch's start.
//
// Sizes need not be powers of two here (2.8); the net layer still asks for
// one.
//
// Bounds: harvest takes at most max completions, each consuming at least
// one published descriptor, so at most size; publish walks at most the
// pending chains; the private arrays are capped at kMaxSize whatever the
// device advertises.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "driver/platform/atomic.h"
#include "driver/platform/platform.h"
#include "driver/spec/packed_ring_layout.h"
#include "driver/transport/transport.h"
#include "driver/virtqueue/queue_types.h"

namespace vnet {

class PackedQueue {
 public:
  static constexpr uint16_t kMaxSize = 1024;  // the driver's own cap

  // Allocates the ring for size entries (1..kMaxSize; 2.8 needs no power of
  // two). Packed rings exist only on modern transports: a legacy layout is
  // refused.
  bool allocate(Platform& platform, uint16_t index, uint16_t size, RingLayout layout);
  void release();
  bool allocated() const { return ring_.cpu != nullptr; }
  // desc = descriptor ring, driver = driver event, device = device event.
  QueueAddresses addresses() const;

  // Indirect descriptors (see above); the same contract as SplitQueue's.
  bool enable_indirect(uint16_t direct_max);
  bool indirect() const { return tables_.cpu != nullptr; }
  bool uses_indirect(uint16_t n) const { return n > direct_max_ && indirect(); }
  uint16_t max_segments() const {
    if (!indirect()) return kMaxChainSegments;
    return size_ < kMaxIndirectSegments ? size_ : kMaxIndirectSegments;
  }
  uint64_t indirect_chains() const { return indirect_chains_; }

  bool can_add(uint16_t segments) const {
    return !broken() && free_count_ >= (uses_indirect(segments) ? 1 : segments);
  }
  // How many chains of n segments can_add() would take one after another
  // (each add_chain() of such a chain lowers this by exactly one).
  uint16_t room(uint16_t segments) const {
    if (broken() || segments == 0) return 0;
    return uses_indirect(segments) ? free_count_ : static_cast<uint16_t>(free_count_ / segments);
  }
  // A chain of one direct descriptor (a single-buffer tx frame, an rx
  // buffer) takes an inline fast path, add_one(): the same stores, the same
  // announcement and the same shim-call order as the general loop.
  __attribute__((always_inline)) bool add_chain(const Segment* segments, uint16_t n, void* cookie,
                                                uint16_t* id = nullptr) {
    if (n == 1 && free_count_ != 0 && !broken() && !uses_indirect(1)) {
      add_one(segments[0], cookie, id);
      return true;
    }
    return add_chain_slow(segments, n, cookie, id);
  }
  void publish();
  bool kick_needed();
  void set_interrupts(bool enabled);
  void set_event_idx(bool on) { event_idx_ = on; }
  bool event_idx() const { return event_idx_; }
  bool has_pending();
  bool check_used_untouched();
  // Device progress for another context (the tx watchdog), in the split
  // ring's terms: equal to published_idx() when the device owes nothing the
  // harvest has not seen. A packed ring has no device-written index, so the
  // value is built from the harvest cursor (the count the owner harvested
  // and the position and wrap counter it will look at next, published
  // together in one atomic) and one fetch of the flags there:
  //   used pattern (W, W) -> the published count: the device completed the
  //                          oldest outstanding chain and the owner has not
  //                          harvested it yet -- the owner's business, no
  //                          device stall to blame
  //   anything else       -> the harvested count: the device still holds
  //                          the oldest chain
  // So a device that completes nothing keeps the value still (the watchdog
  // fires), and a device that completed everything is never blamed for an
  // owner that stopped harvesting. A stall behind completed chains shows
  // once the owner harvests up to it. A device that writes a used pattern
  // to escape the watchdog gets its lie judged by the next harvest.
  uint16_t peek_used_idx();
  // Chains published so far (mod 2^16).
  uint16_t published_idx() const { return published_chains_; }
  void set_dma_barriers(bool dma) { dma_barriers_ = dma; }
  // VIRTIO_F_IN_ORDER negotiated (see above). Before the first publish
  // after allocate(); kept across drain() until release().
  void set_in_order(bool on) { in_order_ = on; }
  bool in_order() const { return in_order_; }
  // Chains completed implicitly by in-order batches since allocate().
  uint64_t implied_count() const { return implied_; }

  uint16_t harvest(Completion* out, uint16_t max, bool recheck = false);

  template <typename F>
  void drain(F&& f) {
    // Driver-private state only, bounded by the in-flight count.
    uint16_t left = in_flight_;
    for (uint16_t id = 0; left != 0 && id < size_; ++id)
      if (ids_[id].in_flight) {
        f(ids_[id].cookie, id);
        --left;
      }
    reinitialise();
  }

  uint16_t index() const { return index_; }
  uint16_t size() const { return size_; }
  uint16_t free_count() const { return free_count_; }
  uint16_t in_flight() const { return in_flight_; }
  bool broken() const { return fault_ != QueueFault::kNone; }
  QueueFault fault() const { return fault_; }
  uint64_t len_over_count() const { return len_over_; }
  // The driver's positions and wrap counters (tests and oracles).
  uint16_t next_avail() const { return next_avail_; }
  bool avail_wrap() const { return avail_wrap_; }
  uint16_t last_used() const { return last_used_; }
  bool used_wrap() const { return used_wrap_; }

 private:
  // What publish() and an in-order harvest need of a chain's head position:
  // its buffer id and the head's flags as written (AVAIL/USED bits
  // included). Address and length are written into the ring and never
  // needed again.
  struct DescShadow {
    uint16_t id;
    uint16_t flags;
  };
  struct IdState {
    void* cookie;
    uint32_t writable;
    uint16_t ndescs;
    uint16_t next_free;
    uint16_t seq;  // chains added before this one (free-running): the posted order
    bool in_flight;
    bool published;
  };

  void reinitialise();
  bool add_chain_slow(const Segment* segments, uint16_t n, void* cookie, uint16_t* id_out);
  // A chain of one direct descriptor; the caller checked that it fits.
  __attribute__((always_inline)) void add_one(const Segment& s, void* cookie, uint16_t* id_out) {
    const uint16_t id = free_id_;
    const uint16_t pos = next_avail_;
    IdState& st = ids_[id];
    free_id_ = st.next_free;
    if (pending_chains_ == 0) pending_pos_ = pos;
    // 2.8.1: AVAIL = the avail wrap counter, USED = its inverse; the head's
    // flags are stored by publish(), after the barrier.
    const bool wrap = avail_wrap_;
    const uint16_t flags =
        static_cast<uint16_t>((s.device_writable ? spec::kDescFlagWrite : 0) |
                              (wrap ? spec::kPackedDescFlagAvail : spec::kPackedDescFlagUsed));
    shadow_[pos] = DescShadow{id, flags};
    spec::PackedDesc& d = ring()[pos];
    d.addr.set(s.addr);
    d.len.set(s.len);
    d.id.set(id);
    if (pos + 1 == size_) {
      next_avail_ = 0;
      avail_wrap_ = !wrap;
    } else {
      next_avail_ = static_cast<uint16_t>(pos + 1);
    }
    --free_count_;
    st.cookie = cookie;
    st.writable = s.device_writable ? s.len : 0;
    st.ndescs = 1;
    st.next_free = 0;
    st.seq = added_chains_++;
    st.in_flight = true;
    st.published = false;
    ++in_flight_;
    ++pending_chains_;
    if (id_out != nullptr) *id_out = id;
    PublishedChain announce;
    announce.queue = index_;
    announce.avail_idx = pos;
    announce.head = id;
    announce.num_segments = 1;
    announce.segments[0] = ChainSegment{pos, s.len, s.device_writable, s.cpu};
    platform_->published(announce);
  }
  // Completes the in-flight chain of id with len: the one a used descriptor
  // names, or one an in-order batch implies (implied).
  // Inline into harvest(): once per completion.
  __attribute__((always_inline)) void complete_chain(uint16_t id, uint32_t len, bool implied,
                                                     Completion* c);
  bool add_indirect(const Segment* segments, uint16_t n, void* cookie, uint16_t* id_out);
  void store_driver_event(uint16_t off_wrap, uint16_t flags);
  uint16_t used_off_wrap() const {
    return static_cast<uint16_t>(last_used_ | (used_wrap_ ? spec::kPackedEventWrapBit : 0));
  }
  uint16_t fetch_flags(uint16_t pos, bool recheck);
  spec::PackedDesc* ring() const { return static_cast<spec::PackedDesc*>(ring_.cpu); }
  uint8_t* driver_event() const;
  const volatile uint8_t* device_event() const;
  void set_fault(QueueFault f);
  void store_cursor() {
    cursor_.store(static_cast<uint32_t>(harvested_) << 16 | used_off_wrap(), MemOrder::kRelease);
  }
  void order(Barrier kind) { platform_->barrier(dma_barriers_ ? dma_strength(kind) : kind); }

  Platform* platform_ = nullptr;
  DmaRegion ring_{};
  uint16_t index_ = 0;
  uint16_t size_ = 0;
  uint16_t free_count_ = 0;  // descriptors (ring positions) free
  uint16_t in_flight_ = 0;   // chains added and not completed
  uint16_t free_id_ = 0;     // head of the id free list
  uint16_t next_avail_ = 0;
  bool avail_wrap_ = true;
  uint16_t last_used_ = 0;
  bool used_wrap_ = true;
  uint16_t pending_pos_ = 0;       // head position of the first unpublished chain
  uint16_t pending_chains_ = 0;    // added since the last publish()
  uint16_t published_pos_ = 0;     // position after the last published chain
  bool published_wrap_ = true;     // the avail wrap counter at published_pos_
  uint16_t published_descs_ = 0;   // descriptors published and not yet used
  uint16_t published_chains_ = 0;  // free-running
  uint16_t kick_added_ = 0;        // descriptors published since the last kick decision
  uint16_t harvested_ = 0;         // chains harvested, free-running
  uint16_t added_chains_ = 0;      // chains added, free-running (IdState::seq)
  // For peek_used_idx(), written by the owner: harvested_ << 16 | used wrap
  // counter << 15 | last_used_, and published_chains_ (release stores).
  Atomic<uint32_t> cursor_{0};
  Atomic<uint16_t> published_mirror_{0};
  bool event_idx_ = false;
  bool interrupts_ = true;
  QueueFault fault_ = QueueFault::kNone;
  bool dma_barriers_ = false;
  uint64_t len_over_ = 0;
  // In-order (VIRTIO_F_IN_ORDER): the batch being completed, and totals.
  bool in_order_ = false;
  uint16_t batch_left_ = 0;  // chains of the current batch not yet returned
  uint32_t batch_len_ = 0;   // the used descriptor's len, for the batch's last chain
  uint64_t implied_ = 0;
  // Indirect tables: id i's at tables_ + i x kIndirectTableBytes.
  static constexpr size_t kIndirectTableBytes = 16 * size_t{kMaxIndirectSegments};
  DmaRegion tables_{};
  uint16_t direct_max_ = kMaxChainSegments;
  uint64_t indirect_chains_ = 0;
  DescShadow shadow_[kMaxSize];
  IdState ids_[kMaxSize];
};

}  // namespace vnet
