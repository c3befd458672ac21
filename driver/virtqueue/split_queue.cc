#include "driver/virtqueue/split_queue.h"

namespace vnet {

namespace {

inline void store_le16(uint8_t* p, uint16_t v) {
  // A single 16-bit store: the device must never see a torn index.
  *reinterpret_cast<volatile uint16_t*>(p) = v;
}

}  // namespace

const char* queue_fault_name(QueueFault f) {
  switch (f) {
    case QueueFault::kNone:
      return "none";
    case QueueFault::kUsedIdxJump:
      return "used index moved past the chains in flight";
    case QueueFault::kUsedIdRange:
      return "used id out of range";
    case QueueFault::kUsedIdStale:
      return "used id not an in-flight head";
    case QueueFault::kUsedEarly:
      return "used index moved before any buffer was available";
    case QueueFault::kUsedFlags:
      return "used descriptor flags contradict the wrap counter";
    case QueueFault::kUsedWrap:
      return "used descriptor written with a stale wrap counter";
    case QueueFault::kUsedOrder:
      return "in-order: used id is neither the oldest chain nor a batch end the used index covers";
    case QueueFault::kUsedUnpublished:
      return "in-order: used id closes a batch with a chain never made available";
  }
  return "?";
}

bool SplitQueue::allocate(Platform& platform, uint16_t index, uint16_t size, RingLayout layout) {
  if (!spec::is_power_of_two(size) || size > kMaxSize) return false;
  platform_ = &platform;
  index_ = index;
  size_ = size;
  dma_barriers_ = false;
  size_t total;
  if (layout == RingLayout::kLegacyContiguous) {
    avail_offset_ = spec::desc_bytes(size);
    used_offset_ = spec::legacy_used_offset(size);
    total = spec::legacy_ring_bytes(size);
  } else {
    // One allocation for the three parts: desc (align 16), avail (align 2),
    // used (align 4) -- 2.7, alignment table.
    avail_offset_ = spec::desc_bytes(size);
    used_offset_ = spec::align_up(avail_offset_ + spec::avail_bytes(size), 4);
    total = used_offset_ + spec::used_bytes(size);
  }
  if (!platform.dma_alloc(total, spec::kLegacyQueueAlign, &ring_)) {
    ring_ = DmaRegion{};
    return false;
  }
  reinitialise();
  return true;
}

bool SplitQueue::enable_indirect(uint16_t direct_max) {
  if (ring_.cpu == nullptr) return false;
  if (tables_.cpu == nullptr && !platform_->dma_alloc(kIndirectTableBytes * size_, 16, &tables_)) {
    tables_ = DmaRegion{};
    return false;
  }
  direct_max_ = direct_max;
  return true;
}

void SplitQueue::release() {
  if (ring_.cpu != nullptr) platform_->dma_free(ring_);
  if (tables_.cpu != nullptr) platform_->dma_free(tables_);
  tables_ = DmaRegion{};
  direct_max_ = kMaxChainSegments;
  indirect_chains_ = 0;
  in_order_ = false;
  implied_ = 0;
  ring_ = DmaRegion{};
  size_ = 0;
  free_count_ = 0;
  in_flight_ = 0;
}

QueueAddresses SplitQueue::addresses() const {
  return QueueAddresses{ring_.device_addr, ring_.device_addr + avail_offset_,
                        ring_.device_addr + used_offset_};
}

void SplitQueue::reinitialise() {
  __builtin_memset(ring_.cpu, 0, ring_.size);
  // No head in flight (HeadState{nullptr, 0, 0, false} is all zero bytes);
  // every descriptor free, the free list linked in index order.
  __builtin_memset(heads_, 0, sizeof heads_[0] * size_);
  // Linked in ring order, the last back to 0: with IN_ORDER the links are
  // never changed again and are exactly the next fields 2.7.5.2 asks for;
  // without it the free list reorders them (the link past the last free
  // descriptor is never followed: free_count_ bounds every walk).
  for (uint16_t i = 0; i < size_; ++i)
    shadow_[i] = DescShadow{static_cast<uint16_t>((i + 1) & (size_ - 1))};
  free_head_ = 0;
  free_count_ = size_;
  in_flight_ = 0;
  avail_idx_ = 0;
  published_avail_ = 0;
  last_used_ = 0;
  batch_left_ = 0;
  batch_len_ = 0;
  avail_flags_ = 0;
  kicked_idx_ = 0;
  interrupts_ = true;  // the zeroed ring asks for interrupts either way
  fault_ = QueueFault::kNone;
}

void SplitQueue::set_fault(QueueFault f) {
  if (fault_ == QueueFault::kNone) fault_ = f;
}

bool SplitQueue::add_indirect(const Segment* segments, uint16_t n, void* cookie,
                              uint16_t* head_out) {
  // 2.7.5.3.1: no chain longer than the queue size (max_segments()).
  if (n > max_segments()) return false;
  PublishedChain announce;
  announce.queue = index_;
  announce.avail_idx = avail_idx_;
  announce.num_segments = n;
  const uint16_t head = free_head_;
  announce.head = head;
  announce.indirect = true;
  const size_t offset = kIndirectTableBytes * head;
  announce.table_addr = tables_.device_addr + offset;
  // The table: written here, never read back (the shadow below and
  // heads_[head] are what completions and drain use).
  spec::VringDesc* t =
      reinterpret_cast<spec::VringDesc*>(static_cast<uint8_t*>(tables_.cpu) + offset);
  uint32_t writable = 0;
  for (uint16_t i = 0; i < n; ++i) {
    const Segment& s = segments[i];
    // 2.7.5.3.1: never INDIRECT inside a table; NEXT links stay within it.
    const bool more = i + 1 < n;
    t[i].addr.set(s.addr);
    t[i].len.set(s.len);
    t[i].flags.set(static_cast<uint16_t>((more ? spec::kDescFlagNext : 0) |
                                         (s.device_writable ? spec::kDescFlagWrite : 0)));
    t[i].next.set(more ? static_cast<uint16_t>(i + 1) : 0);
    if (s.device_writable) writable += s.len;
    announce.segments[i] = ChainSegment{i, s.len, s.device_writable, s.cpu};
  }
  // The one ring descriptor: INDIRECT alone (2.7.5.3.1: not with NEXT; WRITE
  // is ignored by the device there, so never set).
  const uint16_t ring_flags = spec::kDescFlagIndirect;
  spec::VringDesc* table = desc_table();
  table[head].addr.set(announce.table_addr);
  table[head].len.set(static_cast<uint32_t>(16u * n));
  table[head].flags.set(ring_flags);
  table[head].next.set(0);
  free_head_ = shadow_[head].next;
  --free_count_;
  heads_[head] = HeadState{cookie, writable, 1, avail_idx_, true};
  order_[avail_idx_ & (size_ - 1)] = head;
  if (head_out != nullptr) *head_out = head;
  ++in_flight_;
  ++indirect_chains_;
  platform_->published(announce);
  store_le16(avail() + spec::kAvailRingOffset + 2 * (avail_idx_ & (size_ - 1)), head);
  ++avail_idx_;
  return true;
}

bool SplitQueue::add_chain_slow(const Segment* segments, uint16_t n, void* cookie,
                                uint16_t* head_out) {
  if (n == 0 || !can_add(n)) return false;
  if (uses_indirect(n)) return add_indirect(segments, n, cookie, head_out);
  if (n > kMaxChainSegments) return false;
  PublishedChain announce;
  announce.queue = index_;
  announce.avail_idx = avail_idx_;
  announce.num_segments = n;
  const uint16_t head = free_head_;
  announce.head = head;
  uint32_t writable = 0;
  uint16_t d = head;
  spec::VringDesc* table = desc_table();
  for (uint16_t i = 0; i < n; ++i) {
    const Segment& s = segments[i];
    // The free list is linked through shadow.next, so a chain taken from its
    // front is already linked; only flags and the buffer change.
    const uint16_t next = shadow_[d].next;
    if (s.device_writable) writable += s.len;
    table[d].addr.set(s.addr);
    table[d].len.set(s.len);
    table[d].flags.set(static_cast<uint16_t>((i + 1 < n ? spec::kDescFlagNext : 0) |
                                             (s.device_writable ? spec::kDescFlagWrite : 0)));
    table[d].next.set(i + 1 < n ? next : 0);
    announce.segments[i] = ChainSegment{d, s.len, s.device_writable, s.cpu};
    d = next;
  }
  free_head_ = d;
  free_count_ = static_cast<uint16_t>(free_count_ - n);
  heads_[head] = HeadState{cookie, writable, n, avail_idx_, true};
  order_[avail_idx_ & (size_ - 1)] = head;
  if (head_out != nullptr) *head_out = head;
  ++in_flight_;
  platform_->published(announce);
  store_le16(avail() + spec::kAvailRingOffset + 2 * (avail_idx_ & (size_ - 1)), head);
  ++avail_idx_;
  return true;
}

void SplitQueue::publish() {
  // 2.7.13.2: descriptors and ring entries before the index update.
  order(Barrier::kWrite);
  store_le16(avail() + spec::kAvailIdxOffset, avail_idx_);
  published_avail_ = avail_idx_;
}

bool SplitQueue::kick_needed() {
  // 2.7.13.3 / 2.7.10 (NO_NOTIFY): the index store must be visible before
  // the flags load.
  order(Barrier::kFull);
  if (event_idx_) {
    // 2.7.10.2: notify iff the device's avail_event lies in [old, new).
    uint16_t event;
    platform_->fetch(DeviceMemRef{index_, MemPart::kAvailEvent, 0, false},
                     used() + spec::used_avail_event_offset(size_), &event, sizeof(event));
    const uint16_t old = kicked_idx_;
    kicked_idx_ = avail_idx_;
    return static_cast<uint16_t>(avail_idx_ - event - 1) < static_cast<uint16_t>(avail_idx_ - old);
  }
  uint16_t flags;
  platform_->fetch(DeviceMemRef{index_, MemPart::kUsedFlags, 0, false},
                   used() + spec::kUsedFlagsOffset, &flags, sizeof(flags));
  return (flags & spec::kUsedFlagNoNotify) == 0;
}

void SplitQueue::store_used_event(uint16_t idx) {
  store_le16(avail() + spec::avail_used_event_offset(size_), idx);
}

void SplitQueue::set_interrupts(bool enabled) {
  interrupts_ = enabled;
  if (event_idx_) {
    // 2.7.7.1: with EVENT_IDX the driver MUST leave avail.flags 0.
    store_used_event(enabled ? last_used_ : static_cast<uint16_t>(last_used_ - 1));
  } else {
    avail_flags_ = enabled ? 0 : spec::kAvailFlagNoInterrupt;
    store_le16(avail() + spec::kAvailFlagsOffset, avail_flags_);
  }
  // The caller re-checks used.idx next: the store must be visible first.
  if (enabled) order(Barrier::kFull);
}

bool SplitQueue::has_pending() {
  // A batch begun by an earlier harvest is pending without a fetch.
  if (batch_left_ != 0) return !broken();
  return !broken() && size_ != 0 && peek_used_idx() != last_used_;
}

bool SplitQueue::check_used_untouched() {
  if (broken() || size_ == 0) return false;
  uint16_t idx;
  platform_->fetch(DeviceMemRef{index_, MemPart::kUsedIdx, 0, false}, used() + spec::kUsedIdxOffset,
                   &idx, sizeof(idx));
  if (idx == last_used_) return true;
  set_fault(QueueFault::kUsedEarly);
  return false;
}

uint16_t SplitQueue::peek_used_idx() {
  uint16_t idx;
  platform_->fetch(DeviceMemRef{index_, MemPart::kUsedIdx, 0, true}, used() + spec::kUsedIdxOffset,
                   &idx, sizeof(idx));
  return idx;
}

uint16_t SplitQueue::harvest(Completion* out, uint16_t max, bool recheck) {
  // Idle or not, used.idx is read: an entry published while nothing is in
  // flight is a lie that must be caught now, not taken later as the
  // completion of a chain that happens to reuse its id.
  if (broken() || size_ == 0) return 0;
  uint16_t used_idx;
  platform_->fetch(DeviceMemRef{index_, MemPart::kUsedIdx, 0, recheck},
                   used() + spec::kUsedIdxOffset, &used_idx, sizeof(used_idx));
  // Entries must not be read before the index that covers them (2.7.13).
  order(Barrier::kRead);
  const uint16_t distance = static_cast<uint16_t>(used_idx - last_used_);
  if (distance > in_flight_) {
    // More completions than chains outstanding: the index cannot be trusted
    // (this also bounds it by the ring size, since in_flight_ <= size_).
    set_fault(QueueFault::kUsedIdxJump);
    return 0;
  }
  // IN_ORDER: batches, one entry each, validated against the posted order.
  uint16_t done = in_order_ ? harvest_in_order(used_idx, out, max) : 0;
  const uint16_t n = in_order_ ? 0 : (distance < max ? distance : max);
  // Elements are fetched in runs of consecutive slots (one shim call per
  // run, not per element); each element is still fetched exactly once.
  constexpr uint16_t kRun = 32;
  spec::VringUsedElem run[kRun];
  while (done < n) {
    const uint16_t slot = static_cast<uint16_t>(last_used_ & (size_ - 1));
    uint16_t count = static_cast<uint16_t>(n - done);
    if (count > kRun) count = kRun;
    if (count > size_ - slot) count = static_cast<uint16_t>(size_ - slot);
    platform_->fetch(DeviceMemRef{index_, MemPart::kUsedElem, slot, false},
                     used() + spec::used_elem_offset(slot), run, sizeof(run[0]) * count);
    for (uint16_t k = 0; k < count; ++k) {
      const uint32_t id = run[k].id.get();
      const uint32_t len = run[k].len.get();
      if (id >= size_) {
        set_fault(QueueFault::kUsedIdRange);
        return done;
      }
      HeadState& h = heads_[id];
      if (!h.in_flight) {
        set_fault(QueueFault::kUsedIdStale);
        return done;
      }
      Completion& c = out[done];
      c.cookie = h.cookie;
      c.head = static_cast<uint16_t>(id);
      c.len = len;
      c.writable = h.writable;
      c.len_over = len > h.writable;
      c.implied = false;
      if (c.len_over) ++len_over_;
      // Return the chain to the free list, walking the private shadow only.
      uint16_t last = static_cast<uint16_t>(id);
      for (uint16_t i = 1; i < h.ndescs; ++i) last = shadow_[last].next;
      shadow_[last].next = free_head_;
      free_head_ = static_cast<uint16_t>(id);
      free_count_ = static_cast<uint16_t>(free_count_ + h.ndescs);
      h.in_flight = false;
      h.cookie = nullptr;
      --in_flight_;
      ++last_used_;
      ++done;
      platform_->completed(index_, c.head, len);
    }
  }
  // EVENT_IDX with interrupts wanted: the next completion interrupts
  // (2.7.10.2).
  if (event_idx_ && interrupts_ && done != 0) {
    // (In-order: after the batch still being returned, whose entries the
    // device has published already.)
    store_used_event(static_cast<uint16_t>(last_used_ + batch_left_));
    // Visible before the caller's next look at used.idx (the device may
    // have published past it already and decided against an interrupt).
    order(Barrier::kFull);
  }
  return done;
}

void SplitQueue::complete_chain(uint16_t head, uint32_t len, bool implied, Completion* c) {
  HeadState& h = heads_[head];
  c->cookie = h.cookie;
  c->head = head;
  c->len = len;
  c->writable = h.writable;
  c->len_over = len > h.writable;
  c->implied = implied;
  if (c->len_over) ++len_over_;
  if (implied) ++implied_;
  // In ring order the chain's descriptors are the oldest in use: they join
  // the free run behind it as they are, links untouched (2.7.5.2).
  free_count_ = static_cast<uint16_t>(free_count_ + h.ndescs);
  h.in_flight = false;
  h.cookie = nullptr;
  --in_flight_;
  ++last_used_;
  platform_->completed(index_, head, len);
}

uint16_t SplitQueue::harvest_in_order(uint16_t used_idx, Completion* out, uint16_t max) {
  // used_idx - last_used_ <= in_flight_ was checked by the caller; every
  // batch below ends within it, so at most in_flight_ chains are returned.
  uint16_t done = 0;
  while (done < max) {
    if (batch_left_ == 0) {
      const uint16_t covered = static_cast<uint16_t>(used_idx - last_used_);
      if (covered == 0) break;
      // The batch's one entry sits at the used slot of its first chain: the
      // oldest outstanding one (2.7.9). Fetched once; the rest of the batch
      // is returned from private state.
      const uint16_t slot = static_cast<uint16_t>(last_used_ & (size_ - 1));
      spec::VringUsedElem e;
      platform_->fetch(DeviceMemRef{index_, MemPart::kUsedElem, slot, false},
                       used() + spec::used_elem_offset(slot), &e, sizeof(e));
      const uint32_t used_id = e.id.get();
      if (used_id >= size_) {
        set_fault(QueueFault::kUsedIdRange);
        break;
      }
      const HeadState& end = heads_[used_id];
      // Already completed, or never the head of a chain.
      if (!end.in_flight) {
        set_fault(QueueFault::kUsedIdStale);
        break;
      }
      // In flight, so avail_pos lies in [last_used_, avail_idx_): the batch
      // is the chains from the oldest up to this one.
      const uint16_t batch = static_cast<uint16_t>(end.avail_pos - last_used_ + 1);
      if (batch > static_cast<uint16_t>(published_avail_ - last_used_)) {
        set_fault(QueueFault::kUsedUnpublished);
        break;
      }
      if (batch > covered) {
        set_fault(QueueFault::kUsedOrder);
        break;
      }
      batch_left_ = batch;
      batch_len_ = e.len.get();
    }
    // The oldest outstanding chain, from the private posted order.
    const uint16_t head = order_[last_used_ & (size_ - 1)];
    const bool last = batch_left_ == 1;
    complete_chain(head, last ? batch_len_ : heads_[head].writable, !last, &out[done]);
    --batch_left_;
    ++done;
  }
  return done;
}

}  // namespace vnet
