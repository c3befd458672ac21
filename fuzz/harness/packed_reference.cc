#include "fuzz/harness/packed_reference.h"

#include <string.h>

#include "fuzz/harness/barrier_classes.h"
#include "fuzz/harness/findings.h"

namespace vnet::fuzz {

namespace {

// 2.8.1 and 2.8.10, from the specification.
constexpr uint16_t kAvail = uint16_t{1} << 7;
constexpr uint16_t kUsed = uint16_t{1} << 15;
constexpr size_t kDescBytes = 16;
constexpr size_t kFlagsOffset = 14;
constexpr uint16_t kEventDisable = 1;
constexpr uint16_t kEventDesc = 2;
constexpr uint16_t kEventWrap = uint16_t{1} << 15;

// Advances a ring position by n, flipping the wrap counter past the end.
void advance(uint16_t size, uint16_t n, uint16_t* pos, bool* wrap) {
  if (size == 0) return;
  uint32_t p = uint32_t{*pos} + n;
  while (p >= size) {
    p -= size;
    *wrap = !*wrap;
  }
  *pos = static_cast<uint16_t>(p);
}

}  // namespace

void PackedReference::reset() {
  for (Queue& q : queues_) {
    const uint16_t size = q.size;
    memset(&q, 0, sizeof q);
    q.size = size;                              // the queue size register outlives a ring set-up
    q.avail_wrap = q.pub_wrap = q.wrap = true;  // 2.8.1: both counters start at 1
  }
}

void PackedReference::set_size(uint16_t queue, uint16_t size) {
  if (queue < kMaxQueues) queues_[queue].size = size;
}

bool PackedReference::used_pattern(const Queue& q, uint16_t flags) const {
  const bool a = (flags & kAvail) != 0;
  const bool u = (flags & kUsed) != 0;
  return a == q.wrap && u == q.wrap;
}

void PackedReference::on_published(const PublishedChain& chain) {
  if (chain.queue >= kMaxQueues) return;
  Queue& q = queues_[chain.queue];
  // An indirect chain is one descriptor in the ring (its segments are its
  // table's entries, numbered from 0).
  const uint16_t ndescs = chain.indirect ? 1 : chain.num_segments;
  const uint16_t pos =
      chain.num_segments != 0 && !chain.indirect ? chain.segments[0].desc : chain.avail_idx;
  if (pos != q.avail_pos || chain.avail_idx != q.avail_pos)
    finding(Oracle::kProtocol,
            "queue %u (packed): chain %u announced at position %u, but the driver's next "
            "available position is %u (2.8.6: chains take consecutive positions)",
            chain.queue, chain.head, pos, q.avail_pos);
  if (chain.head < kMaxIds) {
    Id& id = q.ids[chain.head];
    if (id.in_flight)
      finding(Oracle::kProtocol,
              "queue %u (packed): buffer id %u made available again while still in flight",
              chain.queue, chain.head);
    uint32_t writable = 0;
    for (uint16_t i = 0; i < chain.num_segments && i < kMaxPublishedSegments; ++i)
      if (chain.segments[i].device_writable) writable += chain.segments[i].len;
    id = Id{true, false, ndescs, writable};
  }
  // The ring holds size descriptors between the device's used position
  // and the driver's avail position: more would overwrite one the device
  // owns (2.8.21.1: the driver makes available only free descriptors).
  q.outstanding = static_cast<uint16_t>(q.outstanding + ndescs);
  if (q.size != 0 && q.outstanding > q.size)
    finding(Oracle::kProtocol,
            "queue %u (packed): chain %u makes %u descriptors outstanding in a ring of %u: it "
            "overwrites descriptors the device owns",
            chain.queue, chain.head, q.outstanding, q.size);
  if (q.posted_tail - q.posted_head < kMaxIds) q.posted[q.posted_tail++ % kMaxIds] = chain.head;
  if (q.num_pending < kMaxPending)
    q.pending[q.num_pending++] = Pending{chain.head, q.avail_pos, q.avail_wrap, false};
  advance(q.size, ndescs, &q.avail_pos, &q.avail_wrap);
}

void PackedReference::on_barrier(Barrier kind) {
  for (Queue& q : queues_) {
    // publish(): the write barrier, then the head stores. From the barrier
    // on, the chains announced before it may be made available, and the
    // device may complete them.
    if (write_class(kind))
      for (int i = 0; i < q.num_pending; ++i) {
        q.pending[i].barrier = true;
        if (q.pending[i].id < kMaxIds) q.ids[q.pending[i].id].published = true;
      }
    if (read_class(kind)) q.read_barrier = true;
    if (full_class(kind)) q.stored = q.irq_enabled = false;
  }
}

void PackedReference::observe_driver_event(uint16_t n, Queue& q) {
  const uint16_t off_wrap = static_cast<uint16_t>(q.event[0] | q.event[1] << 8);
  const uint16_t flags = static_cast<uint16_t>(q.event[2] | q.event[3] << 8);
  if (off_wrap == q.event_off_wrap && flags == q.event_flags) return;
  const bool moved = off_wrap != q.event_off_wrap;
  if (moved && flags != q.event_flags && (flags & 3) == kEventDesc)
    finding(Oracle::kProtocol,
            "queue %u (packed): driver event flags DESC stored together with a new off_wrap "
            "(0x%04x -> 0x%04x) and no write barrier between: the device may pair DESC with "
            "the stale position",
            n, q.event_off_wrap, off_wrap);
  // Interrupts enabled: flags leave DISABLE, or DESC names a new position.
  if (((q.event_flags & 3) == kEventDisable && (flags & 3) != kEventDisable) ||
      (moved && (flags & 3) == kEventDesc))
    q.irq_enabled = true;
  q.event_off_wrap = off_wrap;
  q.event_flags = flags;
}

void PackedReference::observe(DeviceWrites device_writes, void* context) {
  for (uint16_t n = 0; n < kMaxQueues; ++n) {
    Queue& q = queues_[n];
    if (q.event != nullptr) observe_driver_event(n, q);
    if (q.ring == nullptr || q.num_pending == 0) continue;
    // Heads are stored in announcement order, so the last pending head that
    // reads "available in this lap" was stored with every one before it
    // (some of which the device may already have overwritten with used
    // descriptors).
    int stored = 0;
    bool device_may_have = false;
    for (int i = 0; i < q.num_pending; ++i) {
      const Pending& p = q.pending[i];
      if (p.pos >= q.size) break;
      const volatile uint8_t* at = q.ring + kDescBytes * p.pos + kFlagsOffset;
      const uint16_t flags =
          static_cast<uint16_t>(at[0] | static_cast<uint16_t>(at[1]) << 8) & (kAvail | kUsed);
      if (flags == (p.wrap ? kAvail : kUsed)) {
        stored = i + 1;
        // A device that lies about where it writes used descriptors may
        // have written this pattern itself: counted as stored, not judged.
        device_may_have = device_writes != nullptr && device_writes(context, at, 2);
      }
    }
    if (!device_may_have)
      for (int i = 0; i < stored; ++i)
        if (!q.pending[i].barrier)
          finding(Oracle::kProtocol,
                  "queue %u (packed): head flags of chain %u stored (position %u) with no write "
                  "barrier after the chain was written (2.8.21.1)",
                  n, q.pending[i].id, q.pending[i].pos);
    retire_pending(q, stored);
  }
}

void PackedReference::retire_pending(Queue& q, int n) {
  if (n <= 0) return;
  for (int i = 0; i < n; ++i) {
    const Pending& p = q.pending[i];
    const uint16_t ndescs = p.id < kMaxIds ? q.ids[p.id].ndescs : 1;
    q.pub_since_decision = static_cast<uint16_t>(q.pub_since_decision + ndescs);
    advance(q.size, ndescs, &q.pub_pos, &q.pub_wrap);
  }
  q.stored = true;
  memmove(q.pending, q.pending + n, sizeof(Pending) * (q.num_pending - n));
  q.num_pending -= n;
}

void PackedReference::set_driver_event(uint16_t queue, const volatile uint8_t* event) {
  if (queue >= kMaxQueues) return;
  Queue& q = queues_[queue];
  q.event = event;
  if (event != nullptr) {
    q.event_off_wrap = static_cast<uint16_t>(event[0] | event[1] << 8);
    q.event_flags = static_cast<uint16_t>(event[2] | event[3] << 8);
  }
}

void PackedReference::check_driver_event(uint16_t queue) const {
  if (queue >= kMaxQueues) return;
  const Queue& q = queues_[queue];
  if (q.event == nullptr || q.bad) return;
  const uint16_t flags = static_cast<uint16_t>(q.event[2] | q.event[3] << 8);
  const uint16_t off_wrap = static_cast<uint16_t>(q.event[0] | q.event[1] << 8);
  const uint16_t want = static_cast<uint16_t>(q.pos | (q.wrap ? kEventWrap : 0));
  if ((flags & 3) == kEventDesc && off_wrap != want)
    finding(Oracle::kProtocol,
            "queue %u (packed): interrupts wanted (DESC), but off_wrap is 0x%04x where the next "
            "used descriptor is due at 0x%04x: the device will not interrupt for it (2.8.10)",
            queue, off_wrap, want);
}

void PackedReference::on_flags(uint16_t queue, const volatile void* src, uint16_t pos,
                               uint16_t flags, bool recheck, bool attaching) {
  if (queue >= kMaxQueues) return;
  Queue& q = queues_[queue];
  if (q.irq_enabled)
    finding(Oracle::kProtocol,
            "queue %u (packed): the ring re-read after interrupts were enabled (driver event "
            "stored) with no full barrier between: a completion racing the store is missed",
            queue);
  // attach()'s look, before any completion can exist: a used pattern is a
  // lie the driver must catch there (the next poll_device() resets).
  if (attaching && !recheck && pos == q.pos && q.harvested == 0 && used_pattern(q, flags))
    q.bad = true;
  // A harvest's look (not a re-check: has_pending and the watchdog's peek
  // only look) that finds a used descriptor where nothing was made
  // available is a completion of nothing: the driver must break the queue.
  if (!recheck && pos == q.pos && q.outstanding == 0 && q.num_pending == 0 &&
      used_pattern(q, flags))
    q.bad = true;
  if (pos < 0x8000)
    q.ring = static_cast<const volatile uint8_t*>(src) - kDescBytes * pos - kFlagsOffset;
  q.flags_valid = true;
  q.flags_pos = pos;
  q.flags = flags;
  q.read_barrier = false;
}

void PackedReference::on_used(uint16_t queue, uint16_t pos, uint32_t len, uint16_t id) {
  if (queue >= kMaxQueues) return;
  Queue& q = queues_[queue];
  if (!q.flags_valid || q.flags_pos != pos || !q.read_barrier)
    finding(Oracle::kProtocol,
            "queue %u (packed): id and len of position %u fetched without its flags and a "
            "read barrier before them (2.8.21.3)",
            queue, pos);
  q.used_valid = true;
  q.used_pos = pos;
  q.used_len = len;
  q.used_id = id;
  // A used descriptor where one is due, whose id no driver may accept.
  if (q.flags_valid && q.flags_pos == pos && pos == q.pos && used_pattern(q, q.flags) &&
      (id >= q.size || id >= kMaxIds || !q.ids[id].in_flight || !q.ids[id].published))
    q.bad = true;
}

void PackedReference::on_completed(uint16_t queue, uint16_t head, uint32_t len) {
  if (queue >= kMaxQueues) return;
  Queue& q = queues_[queue];
  if (!q.used_valid) {
    finding(Oracle::kProtocol,
            "queue %u (packed): completion of id %u accepted without fetching a used "
            "descriptor's id and len",
            queue, head);
    return;
  }
  // The used descriptor is judged where its batch starts (without
  // IN_ORDER every completion is a batch of one).
  if (!q.batch_open) {
    if (q.used_pos != q.pos)
      finding(Oracle::kProtocol,
              "queue %u (packed): completion taken from position %u, but the next used "
              "descriptor is due at position %u (2.8.6: skip the chain's descriptors)",
              queue, q.used_pos, q.pos);
    if (!q.flags_valid || q.flags_pos != q.used_pos || !used_pattern(q, q.flags))
      finding(Oracle::kProtocol,
              "queue %u (packed): completion accepted at position %u whose flags 0x%04x are "
              "not AVAIL = USED = the used wrap counter %u (2.8.1)",
              queue, q.used_pos, q.flags_valid ? q.flags : 0, q.wrap ? 1 : 0);
  }
  const bool implied = in_order_ && q.used_id != head;
  if (in_order_) {
    // 2.8.9: chains complete in the order they were made available; one
    // used descriptor may stand for a batch, naming its last chain.
    const uint32_t posted = q.posted_tail - q.posted_head;
    if (posted == 0 || q.posted[q.posted_head % kMaxIds] != head)
      finding(Oracle::kProtocol,
              "queue %u (packed): completion of id %u accepted out of the order chains were "
              "made available (IN_ORDER, 2.8.9)",
              queue, head);
    if (implied) {
      // 2.8.9: the buffers before the one the descriptor names were used
      // completely: an implied completion has its chain's writable bytes.
      if (head < kMaxIds && len != q.ids[head].writable)
        finding(Oracle::kProtocol,
                "queue %u (packed): completion of id %u implied by a batch accepted with len %u, "
                "not the %u writable bytes it was used completely with (IN_ORDER, 2.8.9)",
                queue, head, len, q.ids[head].writable);
      bool later = false;
      for (uint32_t i = q.posted_head + 1; i != q.posted_tail && !later; ++i)
        later = q.posted[i % kMaxIds] == q.used_id;
      if (!later)
        finding(Oracle::kProtocol,
                "queue %u (packed): completion of id %u accepted as implied by a used "
                "descriptor for id %u, which is no later chain in flight (IN_ORDER, 2.8.9)",
                queue, head, q.used_id);
    }
    if (posted != 0) ++q.posted_head;
  }
  if (!implied && (q.used_id != head || q.used_len != len))
    finding(Oracle::kProtocol,
            "queue %u (packed): completion accepted as id %u len %u, but the used descriptor "
            "says id %u len %u",
            queue, head, len, q.used_id, q.used_len);
  if (head >= kMaxIds || head >= q.size || !q.ids[head].in_flight || !q.ids[head].published) {
    finding(Oracle::kProtocol,
            "queue %u (packed): completion of id %u accepted, which is not a published chain "
            "in flight",
            queue, head);
    return;
  }
  if (q.bad)
    finding(Oracle::kProtocol,
            "queue %u (packed): completion of id %u accepted after the device wrote a used "
            "descriptor no driver may accept, without a reset since",
            queue, head);
  // Completed: its head (and every head announced before it) was stored,
  // whether or not a shim call saw it before the device overwrote it.
  for (int i = 0; i < q.num_pending; ++i)
    if (q.pending[i].id == head) {
      retire_pending(q, i + 1);
      break;
    }
  Id& id = q.ids[head];
  id.in_flight = false;
  id.published = false;
  advance(q.size, id.ndescs, &q.pos, &q.wrap);
  q.outstanding = static_cast<uint16_t>(q.outstanding -
                                        (id.ndescs < q.outstanding ? id.ndescs : q.outstanding));
  ++q.harvested;
  if (implied) {
    q.batch_open = true;  // the used descriptor stands until its own chain
    return;
  }
  q.batch_open = false;
  q.used_valid = false;
  q.flags_valid = false;
}

PackedReference::Kick PackedReference::on_device_event(uint16_t queue, uint16_t off_wrap,
                                                       uint16_t flags, bool event_idx) {
  if (queue >= kMaxQueues) return Kick::kEither;
  Queue& q = queues_[queue];
  if (q.stored)
    finding(Oracle::kProtocol,
            "queue %u (packed): device event structure read to decide on a notification with "
            "no full barrier after the head flags were stored (2.8.21.2)",
            queue);
  const uint16_t added = q.pub_since_decision;
  q.pub_since_decision = 0;
  const uint16_t mode = flags & 3;
  if (mode == kEventDisable) return Kick::kEither;  // the device polls: a notify is its loss
  if (!event_idx || mode != kEventDesc)
    // ENABLE (and DESC without EVENT_IDX, or the reserved value 3: read as
    // "not disabled"): what was made available must be announced.
    return added != 0 ? Kick::kMust : Kick::kEither;
  // EVENT_IDX with DESC: the event position, moved back a lap when its
  // wrap counter is not the current one, against the positions published
  // since the last decision (the 2.7.10.2 formula over positions).
  uint16_t event = static_cast<uint16_t>(off_wrap & ~kEventWrap);
  if (((off_wrap & kEventWrap) != 0) != q.pub_wrap) event = static_cast<uint16_t>(event - q.size);
  return static_cast<uint16_t>(q.pub_pos - event - 1) < added ? Kick::kMust : Kick::kMustNot;
}

uint16_t PackedReference::watchdog_marker(uint16_t queue, uint16_t flags,
                                          uint16_t published) const {
  if (queue >= kMaxQueues) return published;
  const Queue& q = queues_[queue];
  // Mid-batch the driver's cursor stays at the batch's used descriptor.
  return q.batch_open || used_pattern(q, flags) ? published : q.harvested;
}

}  // namespace vnet::fuzz
