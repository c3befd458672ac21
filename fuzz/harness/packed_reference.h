// PackedReference: oracle (g), protocol, for packed virtqueues (virtio 1.2,
// 2.8). ProtocolReference owns one and hands it every event of a queue the
// driver runs as a packed ring (VIRTIO_F_RING_PACKED written); it checks
// what the driver does against a ring model of its own, built only from
// what crossed the shim: the chains the driver announced (published()),
// the barriers it issued, the ring memory it stored, the descriptors and
// event structures it fetched and the completions it accepted.
//
//   published(chain)     the chain's positions, from the reference's own
//                        avail position; its head must start there
//   observe()            (every shim call) a pending head whose flags now
//                        read "available in this lap" was stored by the
//                        driver: a write-class barrier must lie between
//                        the announcement and that store (2.8.21.1). A
//                        chain counts as published (the device may
//                        complete it) from the write barrier after its
//                        announcement on: publish() issues it right
//                        before the head stores
//   on_flags / on_used   a used descriptor's id and len may be fetched only
//                        after its flags at the same position and a
//                        read-class barrier (2.8.21.3)
//   on_completed         the completion the driver accepts is the used
//                        descriptor at the reference's used position, whose
//                        flags read AVAIL = USED = the reference's used wrap
//                        counter, with the id and len fetched there, of a
//                        published chain in flight; the position then
//                        skips the chain's descriptors (2.8.6)
//   on_device_event      the notification decision (2.8.10 / 2.8.21.2): a
//                        full barrier after the head stores, and with
//                        EVENT_IDX the driver notifies iff the positions
//                        published since its last decision cross the event
//
// A used descriptor whose id no driver may accept (out of range, not in
// flight, not published), or a harvest's first-hand look at a used pattern
// where nothing is outstanding, is a lie the driver must catch: bad() from
// then until the device is reset, and ProtocolReference demands the reset.
// Flag patterns that contradict the wrap counter are judged only when a
// completion is accepted over them (the driver may look at a position
// without harvesting it: has_pending, the watchdog's peek).
//
// Constants are written from the specification, not taken from the
// driver's headers. Threading: the fuzz harness's one thread.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "driver/platform/platform.h"

namespace vnet::fuzz {

class PackedReference {
 public:
  static constexpr uint16_t kMaxQueues =
      33;                                    // 16 queue pairs and a control queue (the mock's most)
  static constexpr uint16_t kMaxIds = 1024;  // ids at or above: never in flight
  static constexpr int kMaxPending = kMaxIds;  // chains announced, head not yet seen stored

  // Whether the device itself may have written [p, p + len).
  using DeviceWrites = bool (*)(void* context, const volatile void* p, size_t len);

  void reset();  // begin of an input, or an acknowledged device reset
  void set_size(uint16_t queue, uint16_t size);
  void on_published(const PublishedChain& chain);
  void on_barrier(Barrier kind);
  void observe(DeviceWrites device_writes, void* context);
  // attaching: the look is attach()'s, before anything was harvested: a
  // used pattern there is a completion the device cannot have made yet.
  void on_flags(uint16_t queue, const volatile void* src, uint16_t pos, uint16_t flags,
                bool recheck, bool attaching = false);
  // The driver event structure of queue (the driver's: 2.8.10), from the
  // queue_driver address; nullptr: unknown. observe() watches it: DESC
  // flags stored with a new off_wrap in one window (no write barrier
  // between: the device may pair DESC with a stale position), and
  // interrupts enabled (flags leaving DISABLE, or a new off_wrap under
  // DESC) with no full barrier before the next look at the ring.
  void set_driver_event(uint16_t queue, const volatile uint8_t* event);
  // EVENT_IDX with interrupts wanted (flags DESC): off_wrap must name the
  // next used position and wrap counter (2.8.10), or the device would not
  // interrupt for it.
  void check_driver_event(uint16_t queue) const;
  void on_used(uint16_t queue, uint16_t pos, uint32_t len, uint16_t id);
  void on_completed(uint16_t queue, uint16_t head, uint32_t len);
  // What the decision calls for (with EVENT_IDX negotiated as given),
  // after checking the barrier before it: a notification (ENABLE, or DESC
  // crossed, with something published since the last decision), none (DESC
  // not crossed: 2.8.10 SHOULD NOT), or either (DISABLE, nothing new).
  enum class Kick : uint8_t { kMust, kMustNot, kEither };
  Kick on_device_event(uint16_t queue, uint16_t off_wrap, uint16_t flags, bool event_idx);

  bool bad(uint16_t queue) const { return queue < kMaxQueues && queues_[queue].bad; }
  // VIRTIO_F_IN_ORDER written: a used descriptor may stand for a batch.
  void set_in_order(bool on) { in_order_ = on; }
  // The tx watchdog's marker as a correct driver computes it from the
  // flags fetched at its harvest position (packed_queue.h, peek_used_idx):
  // published when they read used in the current lap, else the harvested
  // count. published: the chains the driver announced on the queue.
  uint16_t watchdog_marker(uint16_t queue, uint16_t flags, uint16_t published) const;
  // The chain positions and wrap counter the reference expects next.
  uint16_t used_pos(uint16_t queue) const { return queue < kMaxQueues ? queues_[queue].pos : 0; }
  uint16_t published_pos(uint16_t queue) const {
    return queue < kMaxQueues ? queues_[queue].pub_pos : 0;
  }

 private:
  struct Id {
    bool in_flight;
    bool published;  // a write barrier followed its announcement (publish())
    uint16_t ndescs;
    uint32_t writable;  // device-writable bytes announced
  };
  struct Pending {
    uint16_t id;
    uint16_t pos;
    bool wrap;     // the avail wrap counter at its head
    bool barrier;  // a write-class barrier since the announcement
  };
  struct Queue {
    uint16_t size;
    const volatile uint8_t* ring;  // learned from a flags fetch; null: unknown
    // Avail side: where the next announced chain must start.
    uint16_t avail_pos;
    bool avail_wrap;
    // Published side: the end of what the driver made available.
    uint16_t pub_pos;
    bool pub_wrap;
    uint16_t pub_since_decision;  // descriptors published since the last kick decision
    bool stored;                  // a head stored, no full barrier since
    // Used side.
    uint16_t pos;
    bool wrap;
    uint16_t harvested;
    uint16_t outstanding;  // descriptors announced and not yet completed
    // The last fetches.
    bool flags_valid;
    uint16_t flags_pos;
    uint16_t flags;
    bool read_barrier;  // a read-class barrier since that flags fetch
    bool used_valid;
    uint16_t used_pos;
    uint32_t used_len;
    uint16_t used_id;
    bool bad;
    bool batch_open;  // IN_ORDER: completions implied by the fetched used descriptor
    // The ids in the order they were made available (IN_ORDER, 2.8.9).
    uint16_t posted[kMaxIds];
    uint32_t posted_head;
    uint32_t posted_tail;
    // The driver event structure and what it last held.
    const volatile uint8_t* event;
    uint16_t event_off_wrap;
    uint16_t event_flags;
    bool irq_enabled;  // enabled, no full barrier since
    Pending pending[kMaxPending];
    int num_pending;
    Id ids[kMaxIds];
  };
  bool used_pattern(const Queue& q, uint16_t flags) const;
  // The first n pending chains were made available: the published side
  // moves past them.
  void retire_pending(Queue& q, int n);
  void observe_driver_event(uint16_t n, Queue& q);

  Queue queues_[kMaxQueues] = {};
  bool in_order_ = false;
};

}  // namespace vnet::fuzz
