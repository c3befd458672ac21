// Split virtqueue, driver side (virtio 1.2, 2.7), with distrust built in.
//
//   driver-private (this object)            DMA memory (device can read/write)
//   +-----------------------------+         +-------------------------------+
//   | shadow_[d]: next (the chain |  writes | desc table   (driver writes)  |
//   |   and free-list links; the  |-------->| avail ring   (driver writes)  |
//   |   ring is never read back)  |         | used ring    (DEVICE writes)  |
//   | heads_[h]: cookie, chain    |  fetch  |                               |
//   |   length, writable bytes,   |<--------| used.idx, used elems: fetched |
//   |   in_flight                 | (shim)  |   once each through the shim  |
//   | free list, last_used, ...   |         +-------------------------------+
//   +-----------------------------+
//
// Publish: add_chain() takes descriptors from the private free list (linked
// through the shadow), writes them into the ring, puts the head in the next
// avail slot and announces the chain to the shim; publish() issues a write
// barrier and stores the new avail index. A chain of one direct descriptor
// (a single-buffer tx frame, an rx buffer) takes an inline fast path,
// add_one(): the same stores and the same announcement, without the
// general loop. kick_needed() then says whether the device wants a
// notification (used.flags NO_NOTIFY, fetched through the shim).
//
// Notification suppression (2.7.7, 2.7.10). Without VIRTIO_F_EVENT_IDX the
// driver asks for interrupts through avail.flags (NO_INTERRUPT) and reads
// used.flags (NO_NOTIFY). With it (set_event_idx(true), before the first
// publish), avail.flags stays 0 (2.7.7.1) and the 16-bit events decide:
//   * kick_needed() fetches avail_event once (after a full barrier) and
//     notifies iff the avail index crossed it since the last decision:
//     (u16)(new - avail_event - 1) < (u16)(new - old) (2.7.10.2). Every
//     value is meaningful; a lie costs at most a missing or extra
//     notification -- the device's own loss (the tx watchdog sees a device
//     that stops).
//   * with interrupts wanted, used_event is last_used (interrupt at the
//     next completion) -- written on set_interrupts(true) and after every
//     harvest that took completions; with interrupts not wanted it is
//     last_used - 1, an index the device cannot cross before the driver
//     writes it again (at most kMaxSize chains are in flight).
//
// Harvest: fetch used.idx once; the distance from the last seen index must
// not exceed what is in flight (it cannot exceed the ring size then). Each
// used element is fetched once; its id must be < size and an in-flight
// head; its length must be within the writable bytes posted. A violation of
// the first two marks the queue broken (the device's view of the ring can
// no longer be trusted): harvest stops, and the queue accepts nothing until
// the device is reset and the queue re-initialised. A length violation is
// reported on the completion and counted; the buffer is returned to the
// caller to drop.
//
// Indirect descriptors (VIRTIO_F_INDIRECT_DESC, 2.7.5.3). enable_indirect()
// allocates one table of kMaxIndirectSegments descriptors per head, in DMA
// memory of its own, freed by release(). From then on a chain of more than
// direct_max segments is written into its head's table and published as ONE
// ring descriptor: addr = the table, len = 16 x segments, flags = INDIRECT
// only (2.7.5.3.1: never NEXT with INDIRECT; never WRITE, which the device
// ignores there). Table entry i: NEXT with next = i + 1 except the last
// (next = 0), WRITE as the segment says, never INDIRECT (one table per
// descriptor). The table is device-readable memory the driver writes and
// never reads back: completions and drain use the private HeadState
// (cookie, writable bytes, one descriptor), and a used length is checked
// against the writable bytes the driver posted. The table's stores are
// ordered before the avail index by publish()'s write barrier, like the
// ring descriptor's. No chain longer than the queue size (2.7.5.3.1): an
// indirect chain takes at most min(kMaxIndirectSegments, size) segments.
//
// In-order use (VIRTIO_F_IN_ORDER, 2.7.9). set_in_order(true), before the
// first publish. Publish side: descriptors are taken in ring order, from
// offset 0 after (re)initialisation and wrapping at the end of the table,
// and a descriptor with NEXT at offset x names x + 1 (0 for the last of the
// table) (2.7.5, 2.7.5.2); an indirect table's entries name i + 1 as
// always (2.7.5.3.1). Chains complete in the order they were made
// available, so the free descriptors stay one contiguous run behind the
// oldest chain and no free list is kept. The private order_ ring holds the
// head of each chain by its avail position: the posted order, never read
// back from the avail ring.
// Harvest side: the device may complete a batch with ONE used entry, at the
// used slot of the batch's first chain, naming the head of its last chain,
// and moves used.idx on by the batch's size. The driver validates the entry
// against the posted order: its id < size (kUsedIdRange) and an in-flight
// head (kUsedIdStale: already completed, or never a head), its chain
// published (kUsedUnpublished), and the batch it closes -- from the oldest
// outstanding chain (avail position last_used) to that chain, k chains --
// within what used.idx covers (kUsedOrder: an id that is neither the oldest
// chain nor a batch end used.idx admits). The k chains are completed in
// posted order, the first k - 1 implied (Completion::implied; len = the
// writable bytes posted: "used completely"), the last with the entry's len
// (checked against its writable bytes as always). A batch is at most the
// chains in flight. A batch larger than the room in one harvest() is
// finished by the next harvest() from private state (batch_left_), without
// fetching the entry again.
//
// Bounds: every loop is bounded by the queue size or by max; the driver's
// cap (kMaxSize) bounds the private arrays whatever the device advertises.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "driver/platform/platform.h"
#include "driver/spec/split_ring_layout.h"
#include "driver/transport/transport.h"
#include "driver/virtqueue/queue_types.h"

namespace vnet {

class SplitQueue {
 public:
  static constexpr uint16_t kMaxSize = 1024;  // the driver's own cap

  // Allocates ring memory for size entries (a power of two <= kMaxSize).
  bool allocate(Platform& platform, uint16_t index, uint16_t size, RingLayout layout);
  // Frees ring memory. In-flight cookies must have been drained first.
  void release();
  bool allocated() const { return ring_.cpu != nullptr; }
  QueueAddresses addresses() const;

  // VIRTIO_F_INDIRECT_DESC negotiated: one table per head (DMA memory,
  // freed by release()); chains of more than direct_max segments go
  // indirect. After allocate(), before the first publish. false: no memory
  // (the queue stays direct).
  bool enable_indirect(uint16_t direct_max);
  bool indirect() const { return tables_.cpu != nullptr; }
  // Whether a chain of n segments is published through a table.
  bool uses_indirect(uint16_t n) const { return n > direct_max_ && indirect(); }
  // The most segments add_chain() takes in one chain.
  uint16_t max_segments() const {
    if (!indirect()) return kMaxChainSegments;
    return size_ < kMaxIndirectSegments ? size_ : kMaxIndirectSegments;
  }
  // Indirect chains published since allocate().
  uint64_t indirect_chains() const { return indirect_chains_; }

  // Publish side.
  bool can_add(uint16_t segments) const {
    return !broken() && free_count_ >= (uses_indirect(segments) ? 1 : segments);
  }
  // How many chains of n segments can_add() would take one after another
  // (each add_chain() of such a chain lowers this by exactly one).
  uint16_t room(uint16_t segments) const {
    if (broken() || segments == 0) return 0;
    return uses_indirect(segments) ? free_count_ : static_cast<uint16_t>(free_count_ / segments);
  }
  // Takes n descriptors (one for an indirect chain), writes the chain and
  // its avail slot; the device sees it only after publish(). *head
  // (optional) is the chain's head.
  __attribute__((always_inline)) bool add_chain(const Segment* segments, uint16_t n, void* cookie,
                                                uint16_t* head = nullptr) {
    // One direct descriptor: the per-packet case, inline (see above).
    if (n == 1 && free_count_ != 0 && !broken() && !uses_indirect(1)) {
      add_one(segments[0], cookie, head);
      return true;
    }
    return add_chain_slow(segments, n, cookie, head);
  }
  void publish();
  bool kick_needed();
  void set_interrupts(bool enabled);
  // VIRTIO_F_EVENT_IDX negotiated: suppression through used_event and
  // avail_event instead of the flags. Call before the first publish after
  // (re)initialisation.
  void set_event_idx(bool on) { event_idx_ = on; }
  bool event_idx() const { return event_idx_; }
  // Re-reads used.idx (a deliberate re-check, e.g. after re-enabling
  // interrupts) and says whether completions are waiting.
  bool has_pending();
  // Before the first publish after (re)initialisation: the device has been
  // given nothing, so used.idx must still read what the driver initialised
  // it to. Anything else was published before a buffer was available: the
  // queue is marked broken (kUsedEarly) and false returned.
  bool check_used_untouched();
  // Fetches used.idx for a progress check from another context (the tx
  // watchdog); no state of the queue is read or changed.
  uint16_t peek_used_idx();
  // The avail index the driver last published (the device's view of how
  // many chains it was ever given, mod 2^16).
  uint16_t published_idx() const { return avail_idx_; }
  // VIRTIO_F_ORDER_PLATFORM: use DMA-strength barriers from now on.
  void set_dma_barriers(bool dma) { dma_barriers_ = dma; }
  // VIRTIO_F_IN_ORDER negotiated (see above). Before the first publish
  // after allocate(); kept across drain() until release().
  void set_in_order(bool on) { in_order_ = on; }
  bool in_order() const { return in_order_; }
  // Chains completed implicitly by in-order batches since allocate().
  uint64_t implied_count() const { return implied_; }

  // Harvest side: up to max completions; stops at the first fault. The used
  // index is read even when nothing is in flight, so that an entry the
  // device publishes while the queue is idle (a stale or extra completion)
  // is caught before a later chain reuses its id. A caller
  // that harvests again within one driver operation (to drain more than one
  // batch) passes recheck = true: the used index is then fetched as a
  // deliberate re-check, each read validated on its own.
  uint16_t harvest(Completion* out, uint16_t max, bool recheck = false);

  // After the device was reset (it no longer owns anything): calls
  // f(cookie, head) for every in-flight chain and returns the ring to its
  // initial state. The ring memory stays allocated.
  template <typename F>
  void drain(F&& f) {
    // Driver-private state only: exactly in_flight_ heads are marked in
    // flight, so the walk ends at the last of them (an idle queue costs
    // nothing however large the ring).
    uint16_t left = in_flight_;
    for (uint16_t h = 0; left != 0 && h < size_; ++h)
      if (heads_[h].in_flight) {
        f(heads_[h].cookie, h);
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

 private:
  // The private link of descriptor d: the next descriptor of its chain, or
  // of the free list. Only the link is kept: the descriptor's address,
  // length and flags are written into the ring and never needed again
  // (completions and drain() use HeadState).
  struct DescShadow {
    uint16_t next;
  };
  struct HeadState {
    void* cookie;
    uint32_t writable;
    uint16_t ndescs;
    uint16_t avail_pos;  // the avail index the chain was added at
    bool in_flight;
  };

  void reinitialise();
  bool add_chain_slow(const Segment* segments, uint16_t n, void* cookie, uint16_t* head_out);
  // A chain of one direct descriptor; the caller checked that it fits.
  __attribute__((always_inline)) void add_one(const Segment& s, void* cookie, uint16_t* head_out) {
    const uint16_t head = free_head_;
    const uint16_t slot = static_cast<uint16_t>(avail_idx_ & (size_ - 1));
    const uint16_t flags = s.device_writable ? spec::kDescFlagWrite : 0;
    spec::VringDesc& d = desc_table()[head];
    d.addr.set(s.addr);
    d.len.set(s.len);
    d.flags.set(flags);
    d.next.set(0);
    free_head_ = shadow_[head].next;
    --free_count_;
    heads_[head] = HeadState{cookie, s.device_writable ? s.len : 0, 1, avail_idx_, true};
    order_[slot] = head;
    if (head_out != nullptr) *head_out = head;
    ++in_flight_;
    PublishedChain announce;
    announce.queue = index_;
    announce.avail_idx = avail_idx_;
    announce.head = head;
    announce.num_segments = 1;
    announce.segments[0] = ChainSegment{head, s.len, s.device_writable, s.cpu};
    platform_->published(announce);
    store_avail_slot(slot, head);
    ++avail_idx_;
  }
  void store_avail_slot(uint16_t slot, uint16_t head) {
    // A single 16-bit store: the device must never see a torn entry.
    *reinterpret_cast<volatile uint16_t*>(avail() + spec::kAvailRingOffset + 2 * size_t{slot}) =
        head;
  }
  uint16_t harvest_in_order(uint16_t used_idx, Completion* out, uint16_t max);
  // Completes chain head (in flight) with len: free list or ring-order
  // run, counters, the shim's announcement.
  void complete_chain(uint16_t head, uint32_t len, bool implied, Completion* c);
  bool add_indirect(const Segment* segments, uint16_t n, void* cookie, uint16_t* head_out);
  // EVENT_IDX: the used index at which the device should interrupt.
  void store_used_event(uint16_t idx);
  spec::VringDesc* desc_table() const { return static_cast<spec::VringDesc*>(ring_.cpu); }
  uint8_t* avail() const { return static_cast<uint8_t*>(ring_.cpu) + avail_offset_; }
  const volatile uint8_t* used() const {
    return static_cast<const volatile uint8_t*>(ring_.cpu) + used_offset_;
  }
  void set_fault(QueueFault f);
  void order(Barrier kind) { platform_->barrier(dma_barriers_ ? dma_strength(kind) : kind); }

  Platform* platform_ = nullptr;
  DmaRegion ring_{};
  size_t avail_offset_ = 0;
  size_t used_offset_ = 0;
  uint16_t index_ = 0;
  uint16_t size_ = 0;
  uint16_t free_head_ = 0;
  uint16_t free_count_ = 0;
  uint16_t in_flight_ = 0;
  uint16_t avail_idx_ = 0;        // next avail index to publish (private copy)
  uint16_t published_avail_ = 0;  // avail index as publish() last stored it
  uint16_t last_used_ = 0;        // next used index to harvest
  uint16_t avail_flags_ = 0;
  uint16_t kicked_idx_ = 0;  // avail index at the last kick_needed() (EVENT_IDX)
  bool event_idx_ = false;
  bool interrupts_ = true;  // what set_interrupts() asked for last
  QueueFault fault_ = QueueFault::kNone;
  bool dma_barriers_ = false;
  uint64_t len_over_ = 0;
  // In-order (VIRTIO_F_IN_ORDER): the batch being completed, and totals.
  bool in_order_ = false;
  uint16_t batch_left_ = 0;  // chains of the current batch not yet returned
  uint32_t batch_len_ = 0;   // the used entry's len, for the batch's last chain
  uint64_t implied_ = 0;
  // Indirect tables: head h's at tables_ + h x kIndirectTableBytes.
  static constexpr size_t kIndirectTableBytes = 16 * size_t{kMaxIndirectSegments};
  DmaRegion tables_{};
  uint16_t direct_max_ = kMaxChainSegments;
  uint64_t indirect_chains_ = 0;
  DescShadow shadow_[kMaxSize];
  HeadState heads_[kMaxSize];
  uint16_t order_[kMaxSize];  // in-order: head by avail position (mod size)
};

}  // namespace vnet
