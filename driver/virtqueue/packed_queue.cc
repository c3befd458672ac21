#include "driver/virtqueue/packed_queue.h"

namespace vnet {

namespace {

inline void store_le16(volatile void* p, uint16_t v) {
  // A single 16-bit store: the device must never see torn flags.
  *static_cast<volatile uint16_t*>(p) = v;
}

// Offsets of the two event suppression structures after the descriptor
// ring (each 4 bytes, aligned 4: 2.8, alignment table).
constexpr size_t driver_event_offset(uint16_t size) {
  return spec::packed_desc_bytes(size);
}
constexpr size_t device_event_offset(uint16_t size) {
  return spec::packed_desc_bytes(size) + sizeof(spec::PackedEventSuppress);
}

constexpr size_t kDescFlagsOffset = offsetof(spec::PackedDesc, flags);
constexpr size_t kDescLenOffset = offsetof(spec::PackedDesc, len);

}  // namespace

bool PackedQueue::allocate(Platform& platform, uint16_t index, uint16_t size, RingLayout layout) {
  if (size == 0 || size > kMaxSize || layout != RingLayout::kSeparate) return false;
  platform_ = &platform;
  index_ = index;
  size_ = size;
  dma_barriers_ = false;
  const size_t total = device_event_offset(size) + sizeof(spec::PackedEventSuppress);
  if (!platform.dma_alloc(total, 4096, &ring_)) {
    ring_ = DmaRegion{};
    return false;
  }
  reinitialise();
  return true;
}

bool PackedQueue::enable_indirect(uint16_t direct_max) {
  if (ring_.cpu == nullptr) return false;
  if (tables_.cpu == nullptr && !platform_->dma_alloc(kIndirectTableBytes * size_, 16, &tables_)) {
    tables_ = DmaRegion{};
    return false;
  }
  direct_max_ = direct_max;
  return true;
}

void PackedQueue::release() {
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

QueueAddresses PackedQueue::addresses() const {
  return QueueAddresses{ring_.device_addr, ring_.device_addr + driver_event_offset(size_),
                        ring_.device_addr + device_event_offset(size_)};
}

uint8_t* PackedQueue::driver_event() const {
  return static_cast<uint8_t*>(ring_.cpu) + driver_event_offset(size_);
}
const volatile uint8_t* PackedQueue::device_event() const {
  return static_cast<const volatile uint8_t*>(ring_.cpu) + device_event_offset(size_);
}

void PackedQueue::reinitialise() {
  // A zeroed ring: every descriptor reads AVAIL = USED = 0, which is the
  // "used in the previous lap" pattern for wrap counters of 1 (2.8.1).
  __builtin_memset(ring_.cpu, 0, ring_.size);
  for (uint16_t i = 0; i < size_; ++i)
    ids_[i] = IdState{nullptr, 0, 0, static_cast<uint16_t>(i + 1), 0, false, false};
  free_id_ = 0;
  free_count_ = size_;
  in_flight_ = 0;
  next_avail_ = 0;
  avail_wrap_ = true;
  last_used_ = 0;
  used_wrap_ = true;
  pending_pos_ = 0;
  pending_chains_ = 0;
  published_pos_ = 0;
  published_wrap_ = true;
  published_descs_ = 0;
  published_chains_ = 0;
  kick_added_ = 0;
  harvested_ = 0;
  added_chains_ = 0;
  batch_left_ = 0;
  batch_len_ = 0;
  store_cursor();
  published_mirror_.store(0, MemOrder::kRelease);
  interrupts_ = true;  // driver event flags 0 = ENABLE in the zeroed ring
  fault_ = QueueFault::kNone;
}

void PackedQueue::set_fault(QueueFault f) {
  if (fault_ == QueueFault::kNone) fault_ = f;
}

bool PackedQueue::add_indirect(const Segment* segments, uint16_t n, void* cookie,
                               uint16_t* id_out) {
  // 2.8.20: no chain longer than the device allows (max_segments()).
  if (n > max_segments()) return false;
  const uint16_t id = free_id_;
  IdState& st = ids_[id];
  free_id_ = st.next_free;
  PublishedChain announce;
  announce.queue = index_;
  announce.avail_idx = next_avail_;
  announce.head = id;
  announce.num_segments = n;
  announce.indirect = true;
  const size_t offset = kIndirectTableBytes * id;
  announce.table_addr = tables_.device_addr + offset;
  if (pending_chains_ == 0) pending_pos_ = next_avail_;
  // The table, in order (2.8.19: no NEXT links; WRITE the only flag; the
  // buffer id reserved, written 0). Never read back.
  spec::PackedDesc* t =
      reinterpret_cast<spec::PackedDesc*>(static_cast<uint8_t*>(tables_.cpu) + offset);
  uint32_t writable = 0;
  for (uint16_t i = 0; i < n; ++i) {
    const Segment& s = segments[i];
    t[i].addr.set(s.addr);
    t[i].len.set(s.len);
    t[i].id.set(0);
    t[i].flags.set(s.device_writable ? spec::kDescFlagWrite : 0);
    if (s.device_writable) writable += s.len;
    announce.segments[i] = ChainSegment{i, s.len, s.device_writable, s.cpu};
  }
  // The one ring descriptor, a chain's head: everything but its flags now,
  // the flags (INDIRECT and the avail bits, never NEXT or WRITE: 2.8.20) by
  // publish() after the write barrier that also orders the table.
  const uint16_t pos = next_avail_;
  shadow_[pos] = DescShadow{id, static_cast<uint16_t>(spec::kDescFlagIndirect |
                                                      (avail_wrap_ ? spec::kPackedDescFlagAvail
                                                                   : spec::kPackedDescFlagUsed))};
  spec::PackedDesc* ring_desc = ring();
  ring_desc[pos].addr.set(announce.table_addr);
  ring_desc[pos].len.set(static_cast<uint32_t>(16u * n));
  ring_desc[pos].id.set(id);
  if (pos + 1 == size_) {
    next_avail_ = 0;
    avail_wrap_ = !avail_wrap_;
  } else {
    next_avail_ = static_cast<uint16_t>(pos + 1);
  }
  --free_count_;
  st = IdState{cookie, writable, 1, 0, added_chains_++, true, false};
  ++in_flight_;
  ++pending_chains_;
  ++indirect_chains_;
  if (id_out != nullptr) *id_out = id;
  platform_->published(announce);
  return true;
}

bool PackedQueue::add_chain_slow(const Segment* segments, uint16_t n, void* cookie,
                                 uint16_t* id_out) {
  if (n == 0 || !can_add(n)) return false;
  if (uses_indirect(n)) return add_indirect(segments, n, cookie, id_out);
  if (n > kMaxChainSegments) return false;
  // At most size_ chains are in flight and each holds a descriptor, so a
  // free descriptor implies a free id.
  const uint16_t id = free_id_;
  IdState& st = ids_[id];
  free_id_ = st.next_free;
  PublishedChain announce;
  announce.queue = index_;
  announce.avail_idx = next_avail_;
  announce.head = id;
  announce.num_segments = n;
  if (pending_chains_ == 0) pending_pos_ = next_avail_;
  uint32_t writable = 0;
  uint16_t pos = next_avail_;
  spec::PackedDesc* table = ring();
  for (uint16_t i = 0; i < n; ++i) {
    const Segment& s = segments[i];
    // 2.8.1: AVAIL = the avail wrap counter, USED = its inverse. A chain
    // that straddles the end of the ring takes the next lap's bits past it.
    const uint16_t avail_bits =
        avail_wrap_ ? spec::kPackedDescFlagAvail : spec::kPackedDescFlagUsed;
    const uint16_t flags =
        static_cast<uint16_t>((i + 1 < n ? spec::kDescFlagNext : 0) |
                              (s.device_writable ? spec::kDescFlagWrite : 0) | avail_bits);
    // 2.8.6: only the last descriptor's id counts; all carry it.
    shadow_[pos] = DescShadow{id, flags};
    if (s.device_writable) writable += s.len;
    table[pos].addr.set(s.addr);
    table[pos].len.set(s.len);
    table[pos].id.set(id);
    // The head's flags make the whole chain available: publish() stores
    // them after the barrier. The others go now.
    if (i != 0) store_le16(&table[pos].flags, flags);
    announce.segments[i] = ChainSegment{pos, s.len, s.device_writable, s.cpu};
    if (++pos == size_) {
      pos = 0;
      avail_wrap_ = !avail_wrap_;
    }
  }
  next_avail_ = pos;
  free_count_ = static_cast<uint16_t>(free_count_ - n);
  st = IdState{cookie, writable, n, 0, added_chains_++, true, false};
  ++in_flight_;
  ++pending_chains_;
  if (id_out != nullptr) *id_out = id;
  platform_->published(announce);
  return true;
}

void PackedQueue::publish() {
  if (pending_chains_ == 0) return;
  // 2.8.21.1: the chains' descriptors and ids before their head flags.
  order(Barrier::kWrite);
  spec::PackedDesc* table = ring();
  // In locals: the flag stores are volatile 16-bit stores, which the
  // compiler must assume may alias any 16-bit member.
  const uint16_t size = size_;
  const uint16_t chains = pending_chains_;
  uint16_t pos = pending_pos_;
  uint16_t descs = 0;
  for (uint16_t c = 0; c < chains; ++c) {
    const DescShadow head = shadow_[pos];
    IdState& st = ids_[head.id];
    const uint16_t nd = st.ndescs;
    store_le16(&table[pos].flags, head.flags);
    st.published = true;
    descs = static_cast<uint16_t>(descs + nd);
    pos = static_cast<uint16_t>(pos + nd);
    if (pos >= size) pos = static_cast<uint16_t>(pos - size);
  }
  published_descs_ = static_cast<uint16_t>(published_descs_ + descs);
  kick_added_ = static_cast<uint16_t>(kick_added_ + descs);
  published_chains_ = static_cast<uint16_t>(published_chains_ + chains);
  published_mirror_.store(published_chains_, MemOrder::kRelease);
  pending_chains_ = 0;
  // Every pending chain is now available: the ring is available up to the
  // driver's next position, in its current lap.
  published_pos_ = next_avail_;
  published_wrap_ = avail_wrap_;
}

bool PackedQueue::kick_needed() {
  // 2.8.21.2: the head flag stores must be visible before the device event
  // structure is read.
  order(Barrier::kFull);
  spec::PackedEventSuppress ev;
  platform_->fetch(DeviceMemRef{index_, MemPart::kDeviceEvent, 0, false}, device_event(), &ev,
                   sizeof(ev));
  const uint16_t added = kick_added_;
  kick_added_ = 0;
  const uint16_t flags = static_cast<uint16_t>(ev.flags.get() & spec::kPackedEventFlagsMask);
  if (!event_idx_ || flags != spec::kPackedEventDesc) return flags != spec::kPackedEventDisable;
  // DESC (EVENT_IDX): notify iff the event position lies among the
  // positions made available since the last decision.
  const uint16_t off_wrap = ev.off_wrap.get();
  uint16_t event = static_cast<uint16_t>(off_wrap & ~spec::kPackedEventWrapBit);
  const bool wrap = (off_wrap & spec::kPackedEventWrapBit) != 0;
  // "new" is where publish() left the ring, not next_avail_: a chain added
  // after publish() is not yet available and must not count.
  if (wrap != published_wrap_) event = static_cast<uint16_t>(event - size_);
  const uint16_t now = published_pos_;
  return static_cast<uint16_t>(now - event - 1) < added;
}

void PackedQueue::store_driver_event(uint16_t off_wrap, uint16_t flags) {
  uint8_t* ev = driver_event();
  if (flags == spec::kPackedEventDesc) {
    store_le16(ev + offsetof(spec::PackedEventSuppress, off_wrap), off_wrap);
    // The device reads flags, then off_wrap: a DESC must never pair with a
    // stale position.
    order(Barrier::kWrite);
  }
  store_le16(ev + offsetof(spec::PackedEventSuppress, flags), flags);
}

void PackedQueue::set_interrupts(bool enabled) {
  interrupts_ = enabled;
  const uint16_t flags = !enabled     ? spec::kPackedEventDisable
                         : event_idx_ ? spec::kPackedEventDesc
                                      : spec::kPackedEventEnable;
  store_driver_event(used_off_wrap(), flags);
  // The caller re-checks the ring next: the stores must be visible first.
  if (enabled) order(Barrier::kFull);
}

uint16_t PackedQueue::fetch_flags(uint16_t pos, bool recheck) {
  uint16_t flags;
  platform_->fetch(DeviceMemRef{index_, MemPart::kPackedDesc, pos, recheck},
                   static_cast<const volatile uint8_t*>(ring_.cpu) + spec::packed_desc_bytes(pos) +
                       kDescFlagsOffset,
                   &flags, sizeof(flags));
  return flags;
}

uint16_t PackedQueue::peek_used_idx() {
  // Another context: only the two atomics and ring memory are read here
  // (size_ and the ring are fixed from allocate() to release()).
  const uint32_t cursor = cursor_.load(MemOrder::kAcquire);
  const uint16_t harvested = static_cast<uint16_t>(cursor >> 16);
  const uint16_t pos =
      static_cast<uint16_t>(cursor & ~uint32_t{spec::kPackedEventWrapBit} & 0xFFFF);
  const bool w = (cursor & spec::kPackedEventWrapBit) != 0;
  if (size_ == 0 || pos >= size_) return harvested;
  // Nothing owed: the cursor's slot is where the owner publishes next (it
  // may be writing it now), so it is not read. Otherwise it holds an
  // in-flight chain, which the owner does not write until harvested; the
  // acquire orders the publish's stores before this fetch.
  const uint16_t published = published_mirror_.load(MemOrder::kAcquire);
  if (published == harvested) return harvested;
  const uint16_t flags = fetch_flags(pos, true);
  const bool a = (flags & spec::kPackedDescFlagAvail) != 0;
  const bool u = (flags & spec::kPackedDescFlagUsed) != 0;
  return a == w && u == w ? published : harvested;
}

bool PackedQueue::has_pending() {
  if (broken() || size_ == 0) return false;
  // A batch begun by an earlier harvest is pending without a fetch.
  if (batch_left_ != 0) return true;
  const uint16_t flags = fetch_flags(last_used_, true);
  const bool a = (flags & spec::kPackedDescFlagAvail) != 0;
  const bool u = (flags & spec::kPackedDescFlagUsed) != 0;
  // Anything but "still available" is for harvest() to take or to judge.
  return published_descs_ != 0 ? !(a == used_wrap_ && u != used_wrap_)
                               : (a == used_wrap_ && u == used_wrap_);
}

bool PackedQueue::check_used_untouched() {
  if (broken() || size_ == 0) return false;
  const uint16_t flags = fetch_flags(last_used_, false);
  const bool a = (flags & spec::kPackedDescFlagAvail) != 0;
  const bool u = (flags & spec::kPackedDescFlagUsed) != 0;
  if (!(a == used_wrap_ && u == used_wrap_)) return true;
  set_fault(QueueFault::kUsedEarly);
  return false;
}

uint16_t PackedQueue::harvest(Completion* out, uint16_t max, bool recheck) {
  if (broken() || size_ == 0) return 0;
  // Invariant for the harvest, in locals (the shim calls below could touch
  // any member, as far as the compiler knows, so members would be loaded
  // again per completion).
  Platform& platform = *platform_;
  const uint16_t index = index_;
  const volatile uint8_t* const ring_bytes = static_cast<const volatile uint8_t*>(ring_.cpu);
  constexpr uint16_t kBoth = spec::kPackedDescFlagAvail | spec::kPackedDescFlagUsed;
  uint16_t done = 0;
  while (done < max) {
    if (batch_left_ != 0) {
      // In-order: the oldest outstanding chain belongs to the batch whose
      // used descriptor was taken; its id is the private shadow's.
      const uint16_t oldest = shadow_[last_used_].id;
      const bool last = batch_left_ == 1;
      complete_chain(oldest, last ? batch_len_ : ids_[oldest].writable, !last, &out[done]);
      --batch_left_;
      ++done;
      continue;
    }
    const uint16_t pos = last_used_;
    // The first look of a re-check is deliberate; every later position is
    // a first fetch.
    const uint16_t flags = fetch_flags(pos, recheck && done == 0);
    const bool w = used_wrap_;
    // The common case, a used descriptor of this lap (AVAIL = USED = W)
    // with chains published, passes every check below; any other pattern
    // goes through them one by one.
    if ((flags & kBoth) != (w ? kBoth : 0) || published_descs_ == 0) {
      const bool a = (flags & spec::kPackedDescFlagAvail) != 0;
      const bool u = (flags & spec::kPackedDescFlagUsed) != 0;
      if (published_descs_ == 0) {
        // Nothing the device may complete: a used pattern here is a
        // completion of nothing (the position holds last lap's contents).
        if (a == w && u == w) set_fault(QueueFault::kUsedIdxJump);
        break;
      }
      if (a == w && u != w) break;  // still available: not used yet
      if (a != u) {
        set_fault(QueueFault::kUsedFlags);
        break;
      }
      if (a != w) {
        // (!W, !W) over a descriptor the driver made available in this
        // lap: a used descriptor written with a stale wrap counter.
        set_fault(QueueFault::kUsedWrap);
        break;
      }
    }
    // 2.8.21.3: id and len only after the flags that make them valid.
    order(Barrier::kRead);
    // len (le32 at 8) and id (le16 at 12) in one fetch of 6 bytes, decoded
    // from bytes: no misaligned access to a packed struct.
    static_assert(offsetof(spec::PackedDesc, id) == kDescLenOffset + 4);
    uint8_t used[6];
    platform.fetch(DeviceMemRef{index, MemPart::kPackedDesc, pos, false},
                   ring_bytes + spec::packed_desc_bytes(pos) + kDescLenOffset, used, sizeof(used));
    // len as two 16-bit halves: each load lies within one store of the
    // shim's, whether it wrote the six bytes as 4 + 2 (field width) or as
    // 2 + 2 + 2 (natural width at this alignment), so both forward; a
    // 4-byte load over two 2-byte stores is a store-forwarding stall.
    const uint32_t len = uint32_t{spec::load_le16(used)} | uint32_t{spec::load_le16(used + 2)}
                                                               << 16;
    const uint16_t id = spec::load_le16(used + 4);
    if (id >= size_) {
      set_fault(QueueFault::kUsedIdRange);
      break;
    }
    IdState& st = ids_[id];
    if (!st.in_flight || !st.published) {
      // In-order: an id added after every published chain; the batch it
      // would close reaches chains the device was never given.
      set_fault(in_order_ && st.in_flight ? QueueFault::kUsedUnpublished
                                          : QueueFault::kUsedIdStale);
      break;
    }
    if (in_order_) {
      // The batch: every outstanding chain from the oldest (harvested_ +
      // done chains precede it) up to this one, at most the published ones.
      batch_left_ = static_cast<uint16_t>(st.seq - harvested_ - done + 1);
      batch_len_ = len;
      continue;
    }
    complete_chain(id, len, false, &out[done]);
    ++done;
  }
  if (done != 0) {
    harvested_ = static_cast<uint16_t>(harvested_ + done);
    // Mid-batch the marker stays at the batch's used descriptor.
    if (batch_left_ == 0) store_cursor();
  }
  // EVENT_IDX with interrupts wanted: the next used descriptor interrupts.
  if (event_idx_ && interrupts_ && done != 0) {
    store_le16(driver_event() + offsetof(spec::PackedEventSuppress, off_wrap), used_off_wrap());
    // Visible before the caller's next look at the ring.
    order(Barrier::kFull);
  }
  return done;
}

void PackedQueue::complete_chain(uint16_t id, uint32_t len, bool implied, Completion* c) {
  IdState& st = ids_[id];
  c->cookie = st.cookie;
  c->head = id;
  c->len = len;
  c->writable = st.writable;
  c->len_over = len > st.writable;
  c->implied = implied;
  if (c->len_over) ++len_over_;
  if (implied) ++implied_;
  // The chain's positions are skipped (2.8.6; in order, 2.8.9: the device
  // skipped the whole batch); the used wrap counter flips where they pass
  // the end. Its id goes back to the free list.
  uint16_t next = static_cast<uint16_t>(last_used_ + st.ndescs);
  if (next >= size_) {
    next = static_cast<uint16_t>(next - size_);
    used_wrap_ = !used_wrap_;
  }
  last_used_ = next;
  published_descs_ = static_cast<uint16_t>(published_descs_ - st.ndescs);
  free_count_ = static_cast<uint16_t>(free_count_ + st.ndescs);
  st.in_flight = false;
  st.published = false;
  st.cookie = nullptr;
  st.next_free = free_id_;
  free_id_ = id;
  --in_flight_;
  platform_->completed(index_, id, len);
}

}  // namespace vnet
