// Virtqueue: the one interface the net layer drives a ring through
// (virtio 1.2, 2.5-2.8), whatever the ring kind behind it.
//
//   net layer (VirtioNet)
//        |  allocate / add_chain / publish / kick_needed / harvest /
//        |  set_interrupts / has_pending / drain / release, and the
//        |  read-only state below
//   Virtqueue  -- kind chosen once at allocate() (attach), from the
//        |        negotiated features; fixed until release()
//   SplitQueue (2.7, driver/virtqueue/split_queue.h)
//        (both kinds: indirect tables with INDIRECT_DESC, batched
//        completions with IN_ORDER -- options set before the first publish)
//   PackedQueue (2.8, driver/virtqueue/packed_queue.h), with
//        VIRTIO_F_RING_PACKED (modern transports only)
//
// Dispatch. The set of ring kinds is closed and known at compile time, so
// the interface is a tagged dispatch over concrete members, not a vtable:
// every call is one predictable branch on kind_ and an inlinable direct
// call (no indirect call on the per-packet path, no RTTI, no heap, and
// drain() stays a template over the caller's callback). Each kind keeps its
// private arrays inside its own member; the cost of a kind that is not in
// use is its memory, never a call. A new ring kind is a new file behind
// this header plus one case in each forwarder.
//
// Lifecycle (every kind):
//   allocate(kind, size)          ring memory, private shadow reset
//   set_dma_barriers / set_event_idx / set_interrupts   before the first publish
//   check_used_untouched()        before the first publish: the device was
//                                 given nothing, so nothing may read used
//   { add_chain()* publish() kick_needed() } and { harvest() }   data path
//   device reset -> drain(f)      every in-flight chain back to its owner,
//                                 ring re-initialised (memory kept)
//   release()                     ring memory freed (nothing in flight)
//
// Threading. One context per queue at a time for everything that changes
// state (publish side and harvest side included: the caller serialises,
// as VirtioNet's rx and tx paths do). peek_used_idx() alone may run from
// another context (the tx watchdog): it fetches device memory and reads
// only state the data path publishes atomically for it. The read-only accessors
// (size, in_flight, allocated, broken, fault) are for the owning context
// or for a quiescent queue (the oracles and the fuzz harness read them
// between driver operations).
//
// Trust. Each kind fetches what the device wrote once, through the
// Platform, into private memory, validates it there, and on a lie marks
// itself broken (fault()) and accepts nothing until drain(); a length above
// what was posted is reported on the completion (len_over) and counted. The
// ordering rules -- which barrier orders which pair of accesses -- are the
// kind's own and are written atop its file; this layer adds no access to
// shared memory and no barrier.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "driver/platform/platform.h"
#include "driver/transport/transport.h"
#include "driver/virtqueue/packed_queue.h"
#include "driver/virtqueue/queue_types.h"
#include "driver/virtqueue/split_queue.h"

namespace vnet {

enum class RingKind : uint8_t {
  kSplit,   // 2.7
  kPacked,  // 2.8 (VIRTIO_F_RING_PACKED)
};
inline const char* ring_kind_name(RingKind k) {
  switch (k) {
    case RingKind::kSplit:
      return "split";
    case RingKind::kPacked:
      return "packed";
  }
  return "?";
}

class Virtqueue {
 public:
  // The driver's own cap on entries, for every kind.
  static constexpr uint16_t kMaxSize = SplitQueue::kMaxSize;
  static_assert(PackedQueue::kMaxSize == kMaxSize);

  // Allocates ring memory of the given kind for size entries (split: a
  // power of two <= kMaxSize; packed: 1..kMaxSize, separate layout only).
  // The kind holds until release().
  bool allocate(Platform& platform, RingKind kind, uint16_t index, uint16_t size,
                RingLayout layout) {
    kind_ = kind;
    if (kind == RingKind::kPacked) return packed_.allocate(platform, index, size, layout);
    return split_.allocate(platform, index, size, layout);
  }
  // Frees whichever kind holds memory (each is a no-op when it holds none).
  void release() {
    split_.release();
    packed_.release();
  }
  bool allocated() const { return packed() ? packed_.allocated() : split_.allocated(); }
  QueueAddresses addresses() const { return packed() ? packed_.addresses() : split_.addresses(); }
  RingKind kind() const { return kind_; }

  // Indirect descriptors (VIRTIO_F_INDIRECT_DESC; split 2.7.5.3, packed
  // 2.8.19). After allocate(), before the first publish: allocates one
  // table of kMaxIndirectSegments descriptors per head (split) or buffer id
  // (packed) in DMA memory, freed by release(). From then on a chain of
  // more than direct_max segments is written into a table and published as
  // ONE ring descriptor with INDIRECT; shorter chains stay direct. false:
  // no DMA memory (the queue stays direct). The caller's policy (VirtioNet):
  // direct_max = the segments of its single-buffer tx frame, so that only
  // scatter-gather frames go indirect (virtio_net.h).
  bool enable_indirect(uint16_t direct_max) {
    return packed() ? packed_.enable_indirect(direct_max) : split_.enable_indirect(direct_max);
  }
  bool indirect() const { return packed() ? packed_.indirect() : split_.indirect(); }
  // Whether a chain of n segments would be published through a table.
  bool uses_indirect(uint16_t n) const {
    return packed() ? packed_.uses_indirect(n) : split_.uses_indirect(n);
  }
  // The most segments add_chain() takes in one chain: kMaxChainSegments
  // direct, min(kMaxIndirectSegments, size()) with indirect tables.
  uint16_t max_segments() const {
    return packed() ? packed_.max_segments() : split_.max_segments();
  }
  // Indirect chains published since allocate().
  uint64_t indirect_chains() const {
    return packed() ? packed_.indirect_chains() : split_.indirect_chains();
  }

  // Publish side. can_add(n): room for a chain of n segments (one
  // descriptor when it goes indirect).
  bool can_add(uint16_t segments) const {
    return packed() ? packed_.can_add(segments) : split_.can_add(segments);
  }
  // How many chains of n segments can be added one after another before
  // can_add(n) turns false (nothing else added or harvested meanwhile):
  // a burst checks this once instead of can_add() per chain.
  uint16_t room(uint16_t segments) const {
    return packed() ? packed_.room(segments) : split_.room(segments);
  }
  // Takes n descriptors for one chain; the device sees it only after
  // publish(). *head (optional) is the chain's identity in completions
  // (below size(): the caller may index per-chain arrays with it).
  __attribute__((always_inline)) bool add_chain(const Segment* segments, uint16_t n, void* cookie,
                                                uint16_t* head = nullptr) {
    return packed() ? packed_.add_chain(segments, n, cookie, head)
                    : split_.add_chain(segments, n, cookie, head);
  }
  void publish() {
    if (packed())
      packed_.publish();
    else
      split_.publish();
  }
  // Whether the device wants a notification for what publish() made
  // available since the last decision (flags, or EVENT_IDX).
  bool kick_needed() { return packed() ? packed_.kick_needed() : split_.kick_needed(); }
  void set_interrupts(bool enabled) {
    if (packed())
      packed_.set_interrupts(enabled);
    else
      split_.set_interrupts(enabled);
  }
  void set_event_idx(bool on) {
    if (packed())
      packed_.set_event_idx(on);
    else
      split_.set_event_idx(on);
  }
  bool event_idx() const { return packed() ? packed_.event_idx() : split_.event_idx(); }
  void set_dma_barriers(bool dma) {
    if (packed())
      packed_.set_dma_barriers(dma);
    else
      split_.set_dma_barriers(dma);
  }
  // VIRTIO_F_IN_ORDER negotiated (split 2.7.9, packed 2.8.9): batched
  // completions accepted and validated against the posted order (each
  // kind's header). Before the first publish after allocate().
  void set_in_order(bool on) {
    if (packed())
      packed_.set_in_order(on);
    else
      split_.set_in_order(on);
  }
  bool in_order() const { return packed() ? packed_.in_order() : split_.in_order(); }
  // Chains completed implicitly by in-order batches since allocate().
  uint64_t implied_count() const {
    return packed() ? packed_.implied_count() : split_.implied_count();
  }
  bool has_pending() { return packed() ? packed_.has_pending() : split_.has_pending(); }
  bool check_used_untouched() {
    return packed() ? packed_.check_used_untouched() : split_.check_used_untouched();
  }
  // A 16-bit marker of device progress for another context (the tx
  // watchdog): equal to published_idx() once the device owes nothing the
  // owner has not seen. Split: used.idx as the device wrote it. Packed: no
  // used index exists; the harvest cursor plus one fetch of the flags at it
  // (packed_queue.h): a device that completes nothing keeps it still, a
  // device whose completions wait for the owner to harvest is not blamed.
  uint16_t peek_used_idx() { return packed() ? packed_.peek_used_idx() : split_.peek_used_idx(); }
  uint16_t published_idx() const {
    return packed() ? packed_.published_idx() : split_.published_idx();
  }

  // Harvest side: up to max completions; stops at the first fault.
  uint16_t harvest(Completion* out, uint16_t max, bool recheck = false) {
    return packed() ? packed_.harvest(out, max, recheck) : split_.harvest(out, max, recheck);
  }

  // After the device was reset: f(cookie, head) for every in-flight chain,
  // then the ring is re-initialised (memory kept).
  template <typename F>
  void drain(F&& f) {
    if (packed())
      packed_.drain(static_cast<F&&>(f));
    else
      split_.drain(static_cast<F&&>(f));
  }

  // Per-queue state for the net layer, the oracles and the fuzz harness.
  uint16_t index() const { return packed() ? packed_.index() : split_.index(); }
  uint16_t size() const { return packed() ? packed_.size() : split_.size(); }
  uint16_t free_count() const { return packed() ? packed_.free_count() : split_.free_count(); }
  uint16_t in_flight() const { return packed() ? packed_.in_flight() : split_.in_flight(); }
  bool broken() const { return packed() ? packed_.broken() : split_.broken(); }
  QueueFault fault() const { return packed() ? packed_.fault() : split_.fault(); }
  uint64_t len_over_count() const {
    return packed() ? packed_.len_over_count() : split_.len_over_count();
  }

  // The implementation of the kind in force, for tests that drive one
  // kind's own surface.
  const SplitQueue& split() const { return split_; }
  const PackedQueue& packed_queue() const { return packed_; }

 private:
  bool packed() const { return kind_ == RingKind::kPacked; }

  RingKind kind_ = RingKind::kSplit;
  SplitQueue split_;
  PackedQueue packed_;
};

}  // namespace vnet
