#include "fuzz/harness/oracle_platform.h"

#include "driver/spec/mmio_layout.h"

#include <string.h>

#include "fuzz/harness/findings.h"

namespace vnet::fuzz {

namespace {
uint8_t bar_of(Region region) {
  return static_cast<uint8_t>(static_cast<uint8_t>(region) - 1);
}
}  // namespace

namespace {

const char* op_name(DriverOp op) {
  switch (op) {
    case DriverOp::kAttach:
      return "attach";
    case DriverOp::kRxBurst:
      return "rx_burst";
    case DriverOp::kTxBurst:
      return "tx_burst";
    case DriverOp::kPollDevice:
      return "poll_device";
    case DriverOp::kStop:
      return "stop";
    case DriverOp::kInterrupt:
      return "interrupt";
    case DriverOp::kControl:
      return "control";
  }
  return "?";
}

const char* part_name(MemPart part) {
  switch (part) {
    case MemPart::kUsedFlags:
      return "used.flags";
    case MemPart::kUsedIdx:
      return "used.idx";
    case MemPart::kUsedElem:
      return "used element";
    case MemPart::kRxHeader:
      return "rx header";
    case MemPart::kAvailEvent:
      return "avail_event";
    case MemPart::kCtrlAck:
      return "control ack";
    case MemPart::kPackedDesc:
      return "packed descriptor";
    case MemPart::kDeviceEvent:
      return "device event";
  }
  return "?";
}

}  // namespace

OraclePlatform::OraclePlatform(FuzzPool& pool) : pool_(pool) {
  memset(desc_owned_, 0, sizeof desc_owned_);
  memset(chains_, 0, sizeof chains_);
  memset(rx_completed_, 0, sizeof rx_completed_);
  memset(fetches_, 0, sizeof fetches_);
  memset(mapped_, 0, sizeof mapped_);
}

void OraclePlatform::begin_input(Platform& inner) {
  inner_ = &inner;
  calls_ = 0;
  in_op_ = false;
  nested_ = 0;
  dma_live_ = 0;
  status_known_ = false;
  stale_chains_ = false;
  reset_pending_ = false;
  if (maps_live_ != 0) memset(mapped_, 0, sizeof mapped_);
  maps_live_ = 0;
  tx_len_over_ = 0;
  status_written_ = 0;
  last_now_ = 0;
  protocol_.begin_input();
  mmio_version_ = 0;
  transport_.begin_input();
  mmio_.begin_input();
  device_reset();  // drops the used-ring spans too
  for (Span& r : regions_) r = Span{};
  new_scope();
  ++op_epoch_;
}

void OraclePlatform::over_budget() {
  finding(Oracle::kWorkBudget, "driver operation %s made more than %u shim calls (a hang)",
          in_op_ ? op_name(op_) : "(outside any operation)", kWorkBudget);
}

void OraclePlatform::new_scope() {
  ++scope_;
  calls_ = 0;
}

void OraclePlatform::device_reset() {
  // The device no longer owns anything (3.3.1: the device is reset).
  protocol_.device_reset();
  ++reset_epoch_;
  reset_op_epoch_ = op_epoch_;
  tx_published_ = 0;
  // The driver re-initialises its rings after a reset (SplitQueue::drain):
  // the spans are learned again at the next fetch of used.idx.
  unpoison_shared();
  for (Span& u : used_) u = Span{};
  if (owned_descs_ != 0) {
    // Only heads of owned descriptors can be owned chains.
    for (uint16_t q = 0; q < kMaxQueues; ++q) {
      for (uint16_t d = 0; d < desc_high_[q]; ++d) {
        if (desc_owned_[q][d]) chains_[q][d].owned = false;
        desc_owned_[q][d] = false;
      }
      desc_high_[q] = 0;
    }
    owned_descs_ = 0;
  }
  pool_.clear_device_owned();
}

void OraclePlatform::set_status_register(Region region, uint32_t offset, uint8_t width) {
  if (status_known_ && (region != status_region_ || offset != status_offset_))
    reset_pending_ = false;
  status_known_ = true;
  status_region_ = region;
  status_offset_ = offset;
  status_width_ = width;
  if (region != Region::kMmio) protocol_.set_status_register(region, offset);
}

void OraclePlatform::begin_mmio_probe(const MmioWindow& window) {
  // Until the probe's outcome is known only the window rule applies.
  protocol_.set_mmio_transport(0, window.size);
  mmio_.begin_probe(window);
}

void OraclePlatform::check_mmio_probe(const MmioWindow& window, const MmioProbeResult& r) {
  mmio_.check_probe(window, r);
  if (r.error != MmioProbeError::kOk) {
    // A failed re-probe leaves the driver's transport of the last
    // successful one in place (stop() keeps it; recover() attaches through
    // it again): its registers keep their meaning.
    if (mmio_version_ != 0) protocol_.set_mmio_transport(mmio_version_, window.size);
    return;
  }
  const uint32_t version = r.transport->is_legacy() ? 1 : 2;
  mmio_version_ = version;
  protocol_.set_mmio_transport(version, window.size);
  set_status_register(Region::kMmio, spec::mmio::kStatus, 4);
}

uint32_t OraclePlatform::reg_read(Region region, uint32_t offset, uint8_t width) {
  ShimCall call(*this);
  protocol_.check_access(region, offset, width, false, __builtin_return_address(0));
  if (region >= Region::kBar0 && region <= Region::kBar5)
    transport_.check_access(bar_of(region), offset, width, false, 0,
                            protocol_.in_msix_window(bar_of(region), offset, width),
                            __builtin_return_address(0));
  if (region == Region::kMmio) mmio_.check_access(offset, width, false, 0);
  const uint32_t value = inner_->reg_read(region, offset, width);
  protocol_.on_read(region, offset, width, value);
  if (region == Region::kMmio) mmio_.on_access(offset, width, false, value);
  if (region == Region::kPciConfig) transport_.on_cfg_read(offset, width, value);
  if (region >= Region::kBar0 && region <= Region::kBar5)
    transport_.on_bar_access(bar_of(region), offset, width, false, value);
  // 2.1.2 / 4.1.4.8: a device that asks for a reset, or lost the status the
  // driver gave it, must be reset by this poll_device().
  if (in_op_ && op_ == DriverOp::kPollDevice && status_known_ && width == status_width_ &&
      region == status_region_ && offset == status_offset_ && (status_written_ & 0x04) != 0 &&
      (status_written_ & 0x80) == 0 && ((value & 0x40) != 0 || (value & 0x04) == 0))
    reset_demanded_ = true;
  // The device acknowledged the reset the driver asked for: it owns
  // nothing any more (3.3.1, 4.1.4.3.2).
  if (reset_pending_ && width == status_width_ && region == status_region_ &&
      offset == status_offset_ && (value & 0xFF) == 0) {
    reset_pending_ = false;
    device_reset();
  }
  return value;
}

void OraclePlatform::reg_write(Region region, uint32_t offset, uint8_t width, uint32_t value) {
  ShimCall call(*this);
  protocol_.check_access(region, offset, width, true, __builtin_return_address(0));
  const bool bar = region >= Region::kBar0 && region <= Region::kBar5;
  if (bar)
    transport_.check_access(bar_of(region), offset, width, true, value,
                            protocol_.in_msix_window(bar_of(region), offset, width),
                            __builtin_return_address(0));
  if (region == Region::kMmio) mmio_.check_access(offset, width, true, value);
  inner_->reg_write(region, offset, width, value);
  protocol_.on_write(region, offset, width, value);
  if (region == Region::kMmio) {
    mmio_.on_access(offset, width, true, value);
    // QueueNotify names the queue (4.2.2): oracle (g)'s notification rules.
    if (width == 4 && offset == spec::mmio::kQueueNotify && mmio_.in_use() && value < 0x10000)
      protocol_.on_notify(static_cast<uint16_t>(value));
  }
  if (region == Region::kPciConfig) transport_.on_cfg_write(offset, width, value);
  if (bar) {
    const int q = transport_.notified_queue(bar_of(region), offset, width, value);
    if (q >= 0) protocol_.on_notify(static_cast<uint16_t>(q));
    transport_.on_bar_access(bar_of(region), offset, width, true, value);
  }
  if (status_known_ && width == status_width_ && region == status_region_ &&
      offset == status_offset_) {
    reset_pending_ = (value & 0xFF) == 0;
    if ((value & 0xFF) == 0)
      reset_written_ = true;
    else
      status_written_ = static_cast<uint8_t>(value);
  }
}

BarInfo OraclePlatform::bar_info(uint8_t bar) {
  ShimCall call(*this);
  const BarInfo info = inner_->bar_info(bar);
  protocol_.on_bar_info(bar, info);
  transport_.on_bar_info(bar, info);
  return info;
}

bool OraclePlatform::dma_alloc(size_t size, size_t align, DmaRegion* out) {
  ShimCall call(*this);
  const bool ok = inner_->dma_alloc(size, align, out);
  if (ok) {
    ++dma_live_;
    protocol_.on_dma_alloc(*out);
    for (Span& r : regions_)
      if (r.lo == nullptr) {
        r = Span{static_cast<uint8_t*>(out->cpu), static_cast<uint8_t*>(out->cpu) + out->size,
                 false};
        break;
      }
  }
  return ok;
}

// ---- shared memory poisoning ----

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VNET_FUZZ_HARNESS_CHECKED 1
#endif
#endif
#ifdef VNET_FUZZ_HARNESS_CHECKED
const bool OraclePlatform::kHarnessChecked = true;
#else
const bool OraclePlatform::kHarnessChecked = false;
#endif

void OraclePlatform::poison_shared() {
  if (!in_op_) return;
  for (Span& u : used_)
    if (u.lo != nullptr && !u.poisoned) {
      FuzzPool::poison_bytes(u.lo, static_cast<size_t>(u.hi - u.lo));
      u.poisoned = true;
      shared_poisoned_ = true;
    }
}

void OraclePlatform::unpoison_shared() {
  if (!shared_poisoned_) return;
  for (Span& u : used_)
    if (u.poisoned) {
      FuzzPool::unpoison_bytes(u.lo, static_cast<size_t>(u.hi - u.lo));
      u.poisoned = false;
    }
  shared_poisoned_ = false;
}

void OraclePlatform::open_used_span(const volatile void* p) {
  if (!shared_poisoned_) return;
  const uint8_t* at = const_cast<const uint8_t*>(static_cast<const volatile uint8_t*>(p));
  for (Span& u : used_)
    if (u.poisoned && at >= u.lo && at < u.hi) {
      FuzzPool::unpoison_bytes(u.lo, static_cast<size_t>(u.hi - u.lo));
      u.poisoned = false;
    }
}

void OraclePlatform::learn_used_span(uint16_t queue, const volatile void* used_idx) {
  if (queue >= kMaxQueues || used_[queue].lo != nullptr) return;
  // used.idx follows used.flags; the used ring is the last part of the
  // queue's allocation (desc, avail, used).
  uint8_t* lo = const_cast<uint8_t*>(static_cast<const volatile uint8_t*>(used_idx)) - 2;
  for (const Span& r : regions_)
    if (r.lo != nullptr && lo >= r.lo && lo < r.hi) used_[queue] = Span{lo, r.hi, false};
}

void OraclePlatform::forget_spans(const void* lo, const void* hi) {
  for (Span& u : used_)
    if (u.lo != nullptr && u.lo >= lo && u.lo < hi) {
      if (u.poisoned) FuzzPool::unpoison_bytes(u.lo, static_cast<size_t>(u.hi - u.lo));
      u = Span{};
    }
}

void OraclePlatform::dma_free(const DmaRegion& region) {
  ShimCall call(*this);
  if (owned_descs_ != 0)
    finding(Oracle::kOwnership,
            "ring memory freed while the device owns %u descriptors (no reset since they were "
            "published)",
            owned_descs_);
  if (dma_live_ == 0) finding(Oracle::kOwnership, "dma_free() without a live DMA region");
  --dma_live_;
  uint8_t* lo = static_cast<uint8_t*>(region.cpu);
  forget_spans(lo, lo + region.size);
  protocol_.on_dma_free(region);
  for (Span& r : regions_)
    if (r.lo == lo) r = Span{};
  inner_->dma_free(region);
}

namespace {
const char* dir_name(DmaDirection dir) {
  return dir == DmaDirection::kToDevice ? "to-device" : "from-device";
}
}  // namespace

bool OraclePlatform::dma_map(uint8_t* cpu, uint64_t phys, uint32_t len, DmaDirection dir,
                             DmaMapping* out) {
  ShimCall call(*this);
  uint32_t index;
  if (!pool_.span_of(cpu, len, &index) || index >= kMaxPoolBuffers)
    finding(Oracle::kOwnership, "dma_map (%s) of %u bytes at %p: not inside one pool buffer",
            dir_name(dir), len, static_cast<void*>(cpu));
  if (mapped_[index])
    finding(Oracle::kOwnership, "pool buffer %u mapped (%s) while an earlier mapping is live",
            index, dir_name(dir));
  const bool ok = inner_->dma_map(cpu, phys, len, dir, out);
  if (ok) {
    mapped_[index] = 1;
    ++maps_live_;
  }
  return ok;
}

void OraclePlatform::dma_unmap(const DmaMapping& m, uint8_t* cpu, uint32_t device_len,
                               DmaDirection dir) {
  ShimCall call(*this);
  uint32_t index;
  if (!pool_.index_of(cpu, &index) || index >= kMaxPoolBuffers)
    finding(Oracle::kOwnership, "dma_unmap (%s) of %p: not a pool buffer", dir_name(dir),
            static_cast<void*>(cpu));
  if (!mapped_[index])
    finding(Oracle::kOwnership, "pool buffer %u unmapped (%s) without a live mapping", index,
            dir_name(dir));
  if (pool_.device_owned(index))
    finding(Oracle::kOwnership,
            "pool buffer %u unmapped (%s) while the device still owns it (not completed, no "
            "reset)",
            index, dir_name(dir));
  if (device_len > m.len)
    finding(Oracle::kOwnership,
            "pool buffer %u unmapped with device length %u above the %u bytes mapped", index,
            device_len, m.len);
  mapped_[index] = 0;
  --maps_live_;
  inner_->dma_unmap(m, cpu, device_len, dir);
}

void OraclePlatform::note_fetch(uint64_t key, const DeviceMemRef& what, uint16_t index,
                                const void* pc) {
  uint32_t h = static_cast<uint32_t>((key * 0x9E3779B97F4A7C15ull) >> 52) & (kFetchSlots - 1);
  for (uint32_t probe = 0; probe < 64; ++probe, h = (h + 1) & (kFetchSlots - 1)) {
    FetchSlot& s = fetches_[h];
    if (s.scope != scope_) {
      s = FetchSlot{key, scope_, pc};
      return;
    }
    if (s.key != key) continue;
    char first[256], again[256];
    describe_pc(s.pc, first, sizeof first);
    describe_pc(pc, again, sizeof again);
    finding(Oracle::kDoubleFetch,
            "%s %u of queue %u fetched twice in %s without recheck; first at %s, again at %s",
            part_name(what.part), index, what.queue, in_op_ ? op_name(op_) : "(between operations)",
            first, again);
  }
  // A full neighbourhood: more distinct fetches than one operation can make
  // legitimately; the work budget bounds this anyway.
}

void OraclePlatform::fetch(const DeviceMemRef& what, const volatile void* src, void* dst,
                           size_t len) {
  ShimCall call(*this);
  const void* pc = __builtin_return_address(0);
  open_used_span(src);  // the device shim copies from it
  inner_->fetch(what, src, dst, len);
  if (what.part == MemPart::kUsedIdx && len == 2) {
    uint16_t idx;
    memcpy(&idx, dst, 2);
    // The tx watchdog's peek: the first re-check of transmitq1's used.idx
    // in a poll_device, and the clock read after it.
    if (in_op_ && op_ == DriverOp::kPollDevice && what.queue == 1 && what.recheck &&
        !wd_poll_.peeked) {
      wd_poll_.peeked = true;
      wd_poll_.used = idx;
      wd_poll_.published = tx_published_;
      wd_await_clock_ = true;
    }
    protocol_.on_used_idx(what.queue, idx, in_op_ && op_ == DriverOp::kAttach && nested_ == 0);
    learn_used_span(what.queue, src);
  } else if (what.part == MemPart::kUsedElem) {
    protocol_.on_used_elems(what.queue, dst, len);
    note_bad_elements(what.queue, dst, len);
  } else if (what.part == MemPart::kUsedFlags) {
    protocol_.on_used_flags(what.queue);
  } else if (what.part == MemPart::kAvailEvent && len == 2) {
    uint16_t event;
    memcpy(&event, dst, 2);
    protocol_.on_avail_event(what.queue, event, transport_.sees_notifications() || mmio_.in_use());
  } else if (what.part == MemPart::kPackedDesc && len == 2) {
    uint16_t flags;
    memcpy(&flags, dst, 2);
    // The tx watchdog's peek on a packed ring: the first re-check of
    // transmitq1's flags in a poll_device (packed_queue.h, peek_used_idx).
    if (in_op_ && op_ == DriverOp::kPollDevice && what.queue == 1 && what.recheck &&
        !wd_poll_.peeked) {
      wd_poll_.peeked = true;
      wd_poll_.used = protocol_.packed_reference().watchdog_marker(1, flags, tx_published_);
      wd_poll_.published = tx_published_;
      wd_await_clock_ = true;
    }
    protocol_.on_packed_flags(what.queue, src, what.index, flags, what.recheck,
                              in_op_ && op_ == DriverOp::kAttach && nested_ == 0);
  } else if (what.part == MemPart::kPackedDesc && len == 6) {
    const uint8_t* d = static_cast<const uint8_t*>(dst);
    const uint32_t used_len =
        uint32_t{d[0]} | uint32_t{d[1]} << 8 | uint32_t{d[2]} << 16 | uint32_t{d[3]} << 24;
    const uint16_t id = static_cast<uint16_t>(d[4] | d[5] << 8);
    protocol_.on_packed_used(what.queue, what.index, used_len, id);
  } else if (what.part == MemPart::kDeviceEvent && len == 4) {
    const uint8_t* d = static_cast<const uint8_t*>(dst);
    protocol_.on_device_event(what.queue, static_cast<uint16_t>(d[0] | d[1] << 8),
                              static_cast<uint16_t>(d[2] | d[3] << 8),
                              transport_.sees_notifications() || mmio_.in_use());
  }
  if (what.recheck && what.part == MemPart::kUsedIdx) return;
  // A packed descriptor's flags are the ring's "how far did the device
  // get": a harvest that stops at a still-available position looks there
  // again later, as a split ring re-reads used.idx. Each look is judged on
  // its own (PackedReference: a completion only over used flags fetched at
  // its position); the id and len behind them are fetched once.
  if (what.part == MemPart::kPackedDesc && len == 2) return;
  // Keyed by address: a driver that labels one location two ways is still
  // seen fetching it twice.
  const uintptr_t at = reinterpret_cast<uintptr_t>(src);
  if (what.part == MemPart::kUsedElem) {
    // One run of consecutive slots: each slot is its own location.
    const size_t n = len / 8 != 0 ? len / 8 : 1;
    for (size_t i = 0; i < n; ++i)
      note_fetch(at + 8 * i, what, static_cast<uint16_t>(what.index + i), pc);
    return;
  }
  note_fetch(at, what, what.index, pc);
}

uint8_t* OraclePlatform::writable_area(uint16_t queue, uint16_t head, uint32_t* len) const {
  if (queue >= kMaxQueues || head >= kMaxDescs) return nullptr;
  const ChainInfo& c = chains_[queue][head];
  if (!c.owned) return nullptr;
  for (uint8_t i = 0; i < c.num_segments; ++i)
    if (c.writable[i]) {
      *len = c.len[i];
      return const_cast<uint8_t*>(c.cpu[i]);
    }
  return nullptr;
}

void OraclePlatform::check_frame(const char* what, const ChainInfo& c, uint16_t queue,
                                 uint16_t head, const uint8_t* data, uint32_t len,
                                 uint64_t completed_in) {
  if (c.completed_epoch != (completed_in != 0 ? completed_in : op_epoch_))
    finding(Oracle::kFrameBounds,
            "%s: chain %u of queue %u was not completed by the device in this operation", what,
            head, queue);
  // The frame must lie in one device-writable segment of the chain, and end
  // within the bytes the device said it wrote (used.len, counted over the
  // writable segments in order).
  uint32_t before = 0;
  for (uint8_t i = 0; i < c.num_segments; ++i) {
    if (!c.writable[i]) continue;
    const uint8_t* s = c.cpu[i];
    // (A frame at the very end of a segment belongs to the next one: the
    // header may have a descriptor of its own.)
    if (data >= s && (data < s + c.len[i] || (len == 0 && data == s + c.len[i]))) {
      const uint32_t at = static_cast<uint32_t>(data - s);
      if (len > c.len[i] - at)
        finding(Oracle::kFrameBounds,
                "%s: frame of %u bytes at offset %u overruns the %u-byte buffer of chain %u "
                "(queue %u)",
                what, len, at, c.len[i], head, queue);
      if (uint64_t{before} + at + len > c.used_len)
        finding(Oracle::kFrameBounds,
                "%s: frame ends at byte %llu of chain %u (queue %u), beyond the %u bytes the "
                "device reported writing",
                what, static_cast<unsigned long long>(uint64_t{before} + at + len), head, queue,
                c.used_len);
      return;
    }
    before += c.len[i];
  }
  finding(Oracle::kFrameBounds, "%s: frame at %p is not inside any buffer of chain %u (queue %u)",
          what, static_cast<const void*>(data), head, queue);
}

void OraclePlatform::frame_in_place(uint16_t queue, uint16_t desc, void* data, uint32_t len) {
  ShimCall call(*this);
  // Checked before the call goes on: the recorder below reads (and a
  // boundary shim fills) exactly the range the driver names.
  if (queue >= kMaxQueues || desc >= kMaxDescs)
    finding(Oracle::kFrameBounds, "frame_in_place for queue %u descriptor %u: no such chain", queue,
            desc);
  ChainInfo& c = chains_[queue][desc];
  check_frame("frame_in_place", c, queue, desc, static_cast<const uint8_t*>(data), len);
  if (c.framed_epoch == op_epoch_)
    finding(Oracle::kFrameBounds, "frame of chain %u (queue %u) announced twice", desc, queue);
  c.framed_epoch = op_epoch_;
  uint32_t index;
  if (queue == 0 && pool_.index_of(data, &index) && index < kMaxPoolBuffers)
    rx_completed_[index].framed_epoch = op_epoch_;
  inner_->frame_in_place(queue, desc, data, len);
}

void OraclePlatform::check_delivered(const uint8_t* data, uint32_t len) {
  uint32_t index;
  if (!pool_.index_of(data, &index))
    finding(Oracle::kFrameBounds, "frame delivered to the stack at %p: not a pool buffer",
            static_cast<const void*>(data));
  ChainInfo& c = rx_completed_[index];
  if (c.num_segments == 0)
    finding(Oracle::kFrameBounds,
            "frame delivered from buffer %u, never posted for receive (or posted again since "
            "its completion)",
            index);
  const uint16_t head = c.head;
  // A frame of several buffers (receive chains) may complete over more than
  // one rx_burst: each buffer must have been completed and announced since
  // it was last posted, and since the last device reset -- not necessarily
  // in this operation.
  if (c.completed_epoch <= reset_op_epoch_)
    finding(Oracle::kFrameBounds,
            "frame of chain %u delivered, completed before the device was last reset", head);
  check_frame("rx_burst delivery", c, 0, head, data, len, c.completed_epoch);
  if (c.framed_epoch < c.completed_epoch)
    finding(Oracle::kFrameBounds,
            "frame of chain %u delivered without frame_in_place (DESIGN.md, device boundary rule "
            "2)",
            head);
  if (c.delivered_epoch >= c.completed_epoch)
    finding(Oracle::kFrameBounds, "chain %u delivered to the stack twice for one completion", head);
  c.delivered_epoch = op_epoch_;
}

void OraclePlatform::published(const PublishedChain& chain) {
  ShimCall call(*this);
  inner_->published(chain);
  protocol_.on_published(chain);
  const uint16_t q = chain.queue;
  const uint16_t max_segments = chain.indirect ? kMaxPublishedSegments : kMaxChainSegments;
  if (q >= kMaxQueues || chain.head >= kMaxDescs || chain.num_segments == 0 ||
      chain.num_segments > max_segments)
    finding(Oracle::kOwnership, "published chain out of range (queue %u head %u, %u segments)", q,
            chain.head, chain.num_segments);
  // A split chain is named by its head descriptor; a packed one by its
  // buffer id, its descriptors being ring positions (PackedReference
  // checks where they start).
  // An indirect chain's segments are entries of its table (2.7.5.3, 2.8.19):
  // in the ring it is one descriptor.
  if (!protocol_.packed() && !chain.indirect && chain.segments[0].desc != chain.head)
    finding(Oracle::kOwnership, "published chain head %u is not its first descriptor %u",
            chain.head, chain.segments[0].desc);
  if (q == 1) ++tx_published_;
  ChainInfo& c = chains_[q][chain.head];
  c.head = chain.head;
  c.avail_idx = chain.avail_idx;
  c.num_segments = static_cast<uint8_t>(chain.num_segments);
  // Ownership slots: a split ring's descriptors; a packed ring's buffer
  // id (its ring positions are the device's until its used position
  // passes them, whichever chain completes first: PackedReference keeps
  // the ring from overflowing).
  // An indirect chain owns its one ring descriptor (split: the head).
  const bool packed = protocol_.packed();
  const bool one_slot = packed || chain.indirect;
  for (uint16_t i = 0; i < chain.num_segments && i < max_segments; ++i) {
    const ChainSegment& s = chain.segments[i];
    const uint16_t slot = one_slot ? chain.head : s.desc;
    if (slot >= kMaxDescs)
      finding(Oracle::kOwnership, "descriptor %u of queue %u out of range", slot, q);
    if (desc_owned_[q][slot] && (!one_slot || i == 0))
      finding(Oracle::kOwnership, "%s %u of queue %u published while the device owns it",
              packed ? "buffer id" : "descriptor", slot, q);
    desc_owned_[q][slot] = true;
    ++owned_descs_;
    if (slot >= desc_high_[q]) desc_high_[q] = static_cast<uint16_t>(slot + 1);
    c.desc[i] = slot;
    c.len[i] = s.len;
    c.writable[i] = s.device_writable;
    c.cpu[i] = static_cast<const uint8_t*>(s.data);
    uint32_t index;
    if (pool_.index_of(s.data, &index)) {
      pool_.set_device_owned(index, true);
      // Posted again: its last completion is no longer deliverable.
      if (q == 0 && index < kMaxPoolBuffers) rx_completed_[index].num_segments = 0;
    }
  }
  c.owned = true;
  c.completed_epoch = 0;
}

void OraclePlatform::completed(uint16_t queue, uint16_t head, uint32_t len) {
  ShimCall call(*this);
  inner_->completed(queue, head, len);
  if (queue >= kMaxQueues || head >= kMaxDescs || !chains_[queue][head].owned)
    finding(Oracle::kOwnership,
            "driver accepted a completion of chain %u on queue %u, which the device does not own",
            head, queue);
  protocol_.on_completed(queue, head, len);
  ChainInfo& c = chains_[queue][head];
  // A completion of a chain the device never took from the avail ring: the
  // driver reuses its descriptors and buffers, and the device reads them,
  // stale, when it gets to that avail entry.
  if (consumed_ != nullptr && !consumed_(consumed_context_, queue, c.avail_idx))
    stale_chains_ = true;
  for (uint8_t i = 0; i < c.num_segments; ++i) {
    desc_owned_[queue][c.desc[i]] = false;
    --owned_descs_;
    uint32_t index;
    if (pool_.index_of(c.cpu[i], &index)) pool_.set_device_owned(index, false);
  }
  c.owned = false;
  c.used_len = len;
  c.completed_epoch = op_epoch_;
  if (queue == 1) {
    uint32_t writable = 0;
    for (uint8_t i = 0; i < c.num_segments; ++i)
      if (c.writable[i]) writable += c.len[i];
    if (len > writable) ++tx_len_over_;
  }
  if (queue == 0 && rx_log_size_ < kRxLog) {
    RxCompletion& r = rx_log_[rx_log_size_++];
    r = RxCompletion{head, len, 0, nullptr, protocol_.in_flight(0), {}, {}, 0};
    for (uint8_t i = 0; i < c.num_segments; ++i) {
      if (!c.writable[i]) continue;
      if (r.data == nullptr) r.data = c.cpu[i];
      r.writable += c.len[i];
    }
    // The header as the device left it (the buffer is still lent, so not
    // poisoned; the segments of one rx chain are one buffer).
    if (r.data != nullptr && r.writable >= sizeof r.hdr) memcpy(r.hdr, r.data, sizeof r.hdr);
    // And the frame's first bytes after a header of hdr_size_ bytes (the
    // decision reference parses them for the offload rules): only the
    // first writable segment, as the driver posts one per buffer.
    uint32_t skip = rx_hdr_size_;
    for (uint8_t i = 0; i < c.num_segments; ++i) {
      if (!c.writable[i]) continue;
      if (c.len[i] <= skip) {  // the header in a descriptor of its own
        skip -= c.len[i];
        continue;
      }
      const uint32_t n = c.len[i] - skip;
      r.front_len = n < RxCompletion::kRxHeadBytes ? n : RxCompletion::kRxHeadBytes;
      memcpy(r.front, c.cpu[i] + skip, r.front_len);
      break;
    }
  }
  uint32_t index;
  if (queue == 0 && pool_.index_of(c.cpu[0], &index) && index < kMaxPoolBuffers)
    rx_completed_[index] = c;
}

void OraclePlatform::barrier(Barrier kind) {
  ShimCall call(*this);
  inner_->barrier(kind);
  protocol_.on_barrier(kind);
}

bool OraclePlatform::wait_interrupt(uint64_t timeout_ns) {
  ShimCall call(*this);
  return inner_->wait_interrupt(timeout_ns);
}

uint64_t OraclePlatform::now_ns() {
  ShimCall call(*this);
  const uint64_t now = inner_->now_ns();
  last_now_ = now;
  if (wd_await_clock_) {
    wd_await_clock_ = false;
    wd_poll_.clock_read = true;
    wd_poll_.now = now;
  }
  return now;
}

void OraclePlatform::log(LogLevel level, const char* message) {
  ShimCall call(*this);
  inner_->log(level, message);
}

void OraclePlatform::note_bad_elements(uint16_t q, const void* elems, size_t len) {
  if (q >= kMaxQueues) return;
  const uint8_t* p = static_cast<const uint8_t*>(elems);
  uint32_t seen[32];
  size_t n = 0;
  for (size_t i = 0; i + 8 <= len; i += 8) {
    uint32_t id;
    memcpy(&id, p + i, 4);
    bool bad = id >= kMaxDescs || !chains_[q][id].owned;
    for (size_t k = 0; k < n && !bad; ++k) bad = seen[k] == id;
    if (n < 32) seen[n++] = id;
    if (bad) {
      protocol_.note_bad_element(q);
      return;
    }
  }
}

void OraclePlatform::op_begin(DriverOp op) {
  ShimCall call(*this);
  if (in_op_ && op == DriverOp::kControl) {
    // A control command inside attach or poll_device: a new scope (its
    // fetches are fresh reads of a new command), the same operation.
    ++nested_;
    new_scope();
    inner_->op_begin(op);
    return;
  }
  reset_demanded_ = reset_written_ = false;
  wd_poll_ = WatchdogReference::Poll{};
  wd_await_clock_ = false;
  lied_at_op_start_ = protocol_.lied_any();
  ++op_epoch_;
  new_scope();
  op_ = op;
  in_op_ = true;
  inner_->op_begin(op);
}

void OraclePlatform::op_end(DriverOp op) {
  ShimCall call(*this);
  if (nested_ != 0 && op == DriverOp::kControl) {
    --nested_;
    new_scope();
    inner_->op_end(op);
    return;
  }
  if (op == DriverOp::kPollDevice && !reset_written_) {
    if (reset_demanded_)
      finding(Oracle::kProtocol,
              "poll_device read a device status asking for a reset (NEEDS_RESET, or DRIVER_OK "
              "lost) and did not reset the device (2.1.2)");
    if (lied_at_op_start_)
      finding(Oracle::kProtocol,
              "the device published a used element no driver may accept, and the next "
              "poll_device did not reset it: the broken queue is left as it is (wedged)");
  }
  protocol_.end_op();
  inner_->op_end(op);
  new_scope();
  in_op_ = false;
  unpoison_shared();  // between operations the harness and the device may touch it
}

void OraclePlatform::check_all_returned(const char* when, uint32_t held_buffers,
                                        uint32_t held_regions) {
  if (pool_.outstanding() != held_buffers)
    finding(Oracle::kOwnership, "%u pool buffers not returned %s (%u held in quarantine)",
            pool_.outstanding(), when, held_buffers);
  if (maps_live_ != held_buffers)
    finding(Oracle::kOwnership,
            "%u DMA mappings of pool buffers still live %s (%u held in quarantine)", maps_live_,
            when, held_buffers);
  if (dma_live_ != held_regions)
    finding(Oracle::kOwnership, "%u DMA regions still allocated %s (%u held in quarantine)",
            dma_live_, when, held_regions);
}

}  // namespace vnet::fuzz
