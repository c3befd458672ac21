#include "mock_device/packed_device_queue.h"

#include <atomic>
#include <cstdio>
#include <string>

#include "driver/spec/packed_ring_layout.h"

namespace vnet::mock {
namespace {

std::string at(uint16_t pos) {
  return "descriptor " + std::to_string(pos);
}

constexpr uint16_t kAvail = spec::kPackedDescFlagAvail;
constexpr uint16_t kUsed = spec::kPackedDescFlagUsed;
constexpr size_t kEventFlagsOffset = offsetof(spec::PackedEventSuppress, flags);
constexpr size_t kEventOffWrapOffset = offsetof(spec::PackedEventSuppress, off_wrap);

}  // namespace

const char* packed_event_mode_name(PackedEventMode m) {
  switch (m) {
    case PackedEventMode::kEnable:
      return "enable";
    case PackedEventMode::kDisable:
      return "disable";
    case PackedEventMode::kDesc:
      return "desc";
  }
  return "?";
}

bool PackedDeviceQueue::is_avail(uint16_t flags, bool wrap) {
  // 2.8.1: available = AVAIL equal to the wrap counter, USED its inverse.
  return ((flags & kAvail) != 0) == wrap && ((flags & kUsed) != 0) != wrap;
}

uint8_t* PackedDeviceQueue::reach(uint64_t addr, uint64_t len, const char** why) const {
  return device_reach(*mem_, iommu_, addr, len, why);
}

bool PackedDeviceQueue::configure(GuestMemory& mem, Conformance& conformance, uint16_t index,
                                  uint16_t size, const Addresses& addrs, bool event_idx,
                                  bool indirect_allowed, const DmaMappings* iommu,
                                  const Audit* audit, PackedEventMode mode) {
  reset();
  mem_ = &mem;
  iommu_ = iommu;
  audit_ = audit;
  conformance_ = &conformance;
  index_ = index;
  addrs_ = addrs;
  event_idx_ = event_idx;
  indirect_allowed_ = indirect_allowed;
  mode_ = mode;
  // 2.8: no power of two needed, at most 2^15 entries.
  if (size == 0 || size > spec::kMaxQueueSizePacked) return false;
  size_ = size;
  bool ok = true;
  // 2.8.10.1 / 2.8.11: descriptor ring aligned 16, event structures 4.
  if (addrs.desc % 16 || addrs.driver % 4 || addrs.device % 4) {
    conformance.report("drv-2.8.11-1", qname(index) + "packed ring part misaligned (desc " +
                                           hex(addrs.desc) + ", driver " + hex(addrs.driver) +
                                           ", device " + hex(addrs.device) + ")");
    ok = false;
  }
  const char* why = "";
  desc_ = reach(addrs.desc, spec::packed_desc_bytes(size), &why);
  driver_event_ = desc_ ? reach(addrs.driver, sizeof(spec::PackedEventSuppress), &why) : nullptr;
  device_event_ =
      driver_event_ ? reach(addrs.device, sizeof(spec::PackedEventSuppress), &why) : nullptr;
  if (!desc_ || !driver_event_ || !device_event_) {
    conformance.report(iommu ? SpecRuleId("drv-6.1-3") : SpecRuleId("drv-6.1-4"), "2.8",
                       qname(index) + "packed ring part " + why + " (desc " + hex(addrs.desc) +
                           ", driver " + hex(addrs.driver) + ", device " + hex(addrs.device) + ")");
    ok = false;
  }
  if (!ok) {
    desc_ = driver_event_ = device_event_ = nullptr;
    return false;
  }
  inflight_.assign(size_t{1} << 16, 0);
  pending_.reserve(size);
  usable_ = true;
  write_device_event();
  return true;
}

void PackedDeviceQueue::reset() {
  usable_ = false;
  halted_ = false;
  size_ = 0;
  desc_ = driver_event_ = device_event_ = nullptr;
  avail_pos_ = used_pos_ = 0;
  avail_wrap_ = used_wrap_ = true;
  used_total_ = published_total_ = 0;
  used_count_ = 0;
  owned_descs_ = 0;
  inflight_count_ = 0;
  inflight_.clear();
  pending_.clear();
  event_off_wrap_ = -1;
  has_popped_ = popped_dup_ = false;
  has_last_ = false;
  in_order_batch_ = 1;
  batch_count_ = 0;
}

void PackedDeviceQueue::write_device_event() {
  if (device_event_ == nullptr) return;
  uint16_t flags = spec::kPackedEventEnable;
  if (mode_ == PackedEventMode::kDisable) flags = spec::kPackedEventDisable;
  if (mode_ == PackedEventMode::kDesc) {
    const uint16_t off_wrap =
        event_off_wrap_ >= 0 ? uint16_t(event_off_wrap_) : token(avail_pos_, avail_wrap_);
    std::memcpy(device_event_ + kEventOffWrapOffset, &off_wrap, 2);
    // off_wrap before flags: the driver reads flags, then off_wrap.
    std::atomic_signal_fence(std::memory_order_release);
    flags = spec::kPackedEventDesc;
  }
  std::memcpy(device_event_ + kEventFlagsOffset, &flags, 2);
}

void PackedDeviceQueue::set_device_event(PackedEventMode mode, int32_t off_wrap) {
  mode_ = mode;
  event_off_wrap_ = off_wrap;
  write_device_event();
}

uint16_t PackedDeviceQueue::available() {
  if (!usable_ || halted_) return 0;
  // The driver may have made available at most the positions the device
  // does not own: size minus the descriptors of the chains in flight.
  const uint32_t room = owned_descs_ < size_ ? size_ - owned_descs_ : 0;
  uint16_t pos = avail_pos_;
  bool wrap = avail_wrap_;
  uint32_t descs = 0;
  uint16_t chains = 0;
  while (descs < room) {
    const uint16_t flags = flags_at(pos);
    if (!is_avail(flags, wrap)) {
      // AVAIL == USED == the wrap counter: a used pattern of this lap, at
      // a position the device has not reached -- no device wrote it, and
      // no driver may (2.8.1: AVAIL = wrap counter, USED = its inverse).
      if (((flags & kAvail) != 0) == wrap && ((flags & kUsed) != 0) == wrap)
        conformance_->report("def-2.8.1-1", qname(index_) + at(pos) + " flags " + hex(flags) +
                                                " set AVAIL and USED both to the wrap counter " +
                                                std::to_string(wrap) + " (not an available " +
                                                "descriptor, not one the device used)");
      return chains;
    }
    // One chain: follow NEXT (the walk checks each member).
    for (;;) {
      const uint16_t f = flags_at(pos);
      ++descs;
      if (++pos == size_) {
        pos = 0;
        wrap = !wrap;
      }
      if (!(f & spec::kDescFlagNext) || descs >= room) break;
    }
    ++chains;
  }
  // Every position is accounted for; one more available descriptor would
  // be one the device still owns (in flight, not used yet).
  if (room < size_ && is_avail(flags_at(pos), wrap))
    conformance_->report("drv-2.8.16-1",
                         qname(index_) + at(pos) + " made available before the device used it (" +
                             std::to_string(owned_descs_) + " descriptors in flight)");
  return chains;
}

uint16_t PackedDeviceQueue::pop() {
  const uint16_t tok = token(avail_pos_, avail_wrap_);
  // The chain's length and buffer id (the walk validates the chain).
  uint16_t pos = avail_pos_;
  uint32_t n = 0;
  uint16_t id = 0;
  for (;;) {
    const Desc d = read_desc(pos);
    ++n;
    id = d.id;
    if (++pos == size_) {
      pos = 0;
      avail_wrap_ = !avail_wrap_;
    }
    // A chain longer than the ring is the walk's to report; consume the
    // whole ring then (the caller halts the queue).
    if (!(d.flags & spec::kDescFlagNext) || (d.flags & spec::kDescFlagIndirect) || n >= size_)
      break;
  }
  avail_pos_ = pos;
  popped_token_ = tok;
  has_popped_ = true;
  popped_dup_ = (inflight_[id] & kActive) != 0;
  if (!popped_dup_) {
    inflight_[id] = kActive | (n << 16) | (tok & 0x7FFF);
    owned_descs_ += n;
    ++inflight_count_;
  }
  if (mode_ == PackedEventMode::kDesc && event_off_wrap_ < 0) write_device_event();
  return tok;
}

bool PackedDeviceQueue::add_segment(const char* where, uint32_t n, uint64_t addr, uint32_t len,
                                    bool writable, bool* seen_writable, Chain* out) {
  if (!writable && *seen_writable) {
    conformance_->report("drv-2.8.17-3", qname(index_) + "device-readable " + where + " " +
                                             std::to_string(n) + " after a device-writable one");
    return false;
  }
  *seen_writable |= writable;
  if (audit_ != nullptr && *audit_) (*audit_)(index_, addr, len);
  const char* why = "";
  uint8_t* p = reach(addr, len, &why);
  if (!p) {
    conformance_->report(iommu_ ? SpecRuleId("drv-6.1-3") : SpecRuleId("drv-6.1-4"), "2.8",
                         qname(index_) + where + " " + std::to_string(n) + " address " + hex(addr) +
                             " (" + std::to_string(len) + " bytes) " + why);
    return false;
  }
  if (out->num_segments < Chain::kMaxSegments)
    out->segments[out->num_segments++] = ChainSegment{p, len, writable};
  else
    out->too_many_segments = true;
  (writable ? out->writable_bytes : out->readable_bytes) += len;
  return true;
}

bool PackedDeviceQueue::walk_indirect(uint16_t pos, const Desc& d, bool* seen_writable,
                                      Chain* out) {
  if (!indirect_allowed_) {
    conformance_->report("drv-2.8.19-1",
                         qname(index_) + at(pos) + " sets INDIRECT without VIRTIO_F_INDIRECT_DESC");
    return false;
  }
  if (d.flags & spec::kDescFlagNext) {
    conformance_->report("drv-2.8.19-4", qname(index_) + at(pos) + " sets both INDIRECT and NEXT");
    return false;
  }
  constexpr uint32_t kEntry = sizeof(spec::PackedDesc);
  if (d.len == 0 || d.len % kEntry != 0) {
    conformance_->report("def-2.8.7-1", qname(index_) + at(pos) + " names an indirect table of " +
                                            std::to_string(d.len) +
                                            " bytes (not a nonzero multiple of 16)");
    return false;
  }
  const uint32_t n = d.len / kEntry;
  if (n > size_) {
    conformance_->report("drv-2.8.19-3", qname(index_) + at(pos) + " names an indirect table of " +
                                             std::to_string(n) +
                                             " descriptors, more than the queue size " +
                                             std::to_string(size_));
    return false;
  }
  if (audit_ != nullptr && *audit_) (*audit_)(index_, d.addr, d.len);
  const char* why = "";
  const uint8_t* table = reach(d.addr, d.len, &why);
  if (!table) {
    conformance_->report(iommu_ ? SpecRuleId("drv-6.1-3") : SpecRuleId("drv-6.1-4"), "2.8",
                         qname(index_) + "indirect table of " + at(pos) + " at " + hex(d.addr) +
                             " (" + std::to_string(d.len) + " bytes) " + why);
    return false;
  }
  // 2.8.7: the table's descriptors are used in order, all of them; the id
  // is the ring descriptor's, the table's ids are ignored.
  for (uint32_t i = 0; i < n; ++i) {
    const uint8_t* e = table + size_t{kEntry} * i;
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    std::memcpy(&addr, e, 8);
    std::memcpy(&len, e + 8, 4);
    std::memcpy(&flags, e + 14, 2);
    if (flags & uint16_t(~spec::kDescFlagWrite)) {
      conformance_->report("drv-2.8.19-2", qname(index_) + "indirect table of " + at(pos) +
                                               ", entry " + std::to_string(i) + ": flags " +
                                               hex(flags) + " (only WRITE is allowed)");
      return false;
    }
    if (!add_segment("indirect entry", i, addr, len, flags & spec::kDescFlagWrite, seen_writable,
                     out))
      return false;
  }
  return true;
}

void PackedDeviceQueue::walk(uint16_t tok, Chain* out) {
  out->head = 0;
  out->num_segments = 0;
  out->num_descriptors = 0;
  out->readable_bytes = 0;
  out->writable_bytes = 0;
  out->ok = false;
  out->too_many_segments = false;
  if (!usable_) return;
  uint16_t pos = uint16_t(tok & 0x7FFF);
  bool wrap = (tok & kWrapBit) != 0;
  const uint16_t head_pos = pos;
  bool seen_writable = false;
  uint16_t id = 0;
  for (uint32_t steps = 0;; ++steps) {
    if (steps >= size_) {
      // 2.8.17: no list longer than the queue size.
      conformance_->report("drv-2.8.17-2", qname(index_) + "descriptor chain at " + at(head_pos) +
                                               " is longer than the queue size " +
                                               std::to_string(size_));
      return;
    }
    const Desc d = read_desc(pos);
    if (!is_avail(d.flags, wrap)) {
      if (steps == 0) {
        conformance_->report("def-2.8.1-1", qname(index_) + at(pos) + " flags " + hex(d.flags) +
                                                " walked as a head but not available (wrap " +
                                                std::to_string(wrap) + ")");
      } else {
        // 2.8.17: the head is made available after every other descriptor
        // of the list; a member that is not available was never offered.
        conformance_->report("drv-2.8.17-6", qname(index_) + "chain at " + at(head_pos) +
                                                 " continues to " + at(pos) +
                                                 ", which is not available (flags " + hex(d.flags) +
                                                 ", wrap counter " + std::to_string(wrap) + ")");
      }
      return;
    }
    ++out->num_descriptors;
    id = d.id;
    if (d.flags & spec::kDescFlagIndirect) {
      if (steps > 0) {
        conformance_->report("drv-2.8.19-4",
                             qname(index_) + at(pos) + " sets INDIRECT inside a NEXT-linked list");
        return;
      }
      if (!walk_indirect(pos, d, &seen_writable, out)) return;
      break;
    }
    if (!add_segment("descriptor", pos, d.addr, d.len, d.flags & spec::kDescFlagWrite,
                     &seen_writable, out))
      return;
    if (!(d.flags & spec::kDescFlagNext)) break;
    if (++pos == size_) {
      pos = 0;
      wrap = !wrap;
    }
  }
  out->head = id;
  // The buffer id must not name a buffer the device still has: either a
  // chain consumed earlier, or (walk after pop) the one pop() found taken.
  const bool this_chain = has_popped_ && popped_token_ == tok;
  if (this_chain ? popped_dup_ : (inflight_[id] & kActive) != 0) {
    conformance_->report("def-2.8.13-1", qname(index_) + "buffer id " + std::to_string(id) +
                                             " made available at " + at(head_pos) +
                                             " while the device has it in flight");
    return;
  }
  out->ok = !out->too_many_segments;
}

uint16_t PackedDeviceQueue::used_flags(uint32_t len) const {
  uint16_t f = used_wrap_ ? uint16_t(kAvail | kUsed) : uint16_t{0};
  if (len != 0) f |= spec::kDescFlagWrite;
  return f;
}

void PackedDeviceQueue::advance_used(uint32_t n) {
  used_total_ += n;
  n %= 2u * size_;  // two laps bring position and wrap counter back
  for (; n >= size_; n -= size_) used_wrap_ = !used_wrap_;
  const uint32_t p = uint32_t(used_pos_) + n;
  if (p >= size_) {
    used_pos_ = uint16_t(p - size_);
    used_wrap_ = !used_wrap_;
  } else {
    used_pos_ = uint16_t(p);
  }
}

void PackedDeviceQueue::skip_used(uint32_t n) {
  if (n != 0) batch_count_ = 0;  // in-order: a skip closes the batch
  if (usable_) advance_used(n);
}

void PackedDeviceQueue::push(uint16_t pos, uint32_t id, uint32_t len, uint16_t flags,
                             uint16_t head) {
  if (!usable_) return;
  pos = uint16_t(pos % size_);
  const uint16_t id16 = uint16_t(id);
  uint32_t& rec = inflight_[head];
  // In-order (2.8.9): honest in-order use -- at the used position, with the
  // flags due there, completing the chain in flight at that position.
  const bool in_order = in_order_batch_ > 1 && pos == used_pos_ && flags == used_flags(len) &&
                        (rec & kActive) && (rec & 0x7FFF) == used_pos_;
  if (in_order && batch_count_ != 0) {
    // Joins the open batch: its one used descriptor now names this chain
    // (id and len; flags with the wrap counter of the batch's position),
    // and the used position skips this chain too.
    uint8_t* d = desc_ + 16 * size_t(batch_pos_);
    std::memcpy(d + 8, &len, 4);
    std::memcpy(d + 12, &id16, 2);
    pending_[batch_pending_].flags =
        uint16_t((batch_wrap_ ? kAvail | kUsed : 0) | (len != 0 ? spec::kDescFlagWrite : 0));
    const uint32_t n = rec >> 16;
    owned_descs_ -= n;
    --inflight_count_;
    rec = 0;
    advance_used(n);
    has_last_ = true;
    last_id_ = id;
    last_len_ = len;
    if (++batch_count_ == in_order_batch_) batch_count_ = 0;
    return;
  }
  batch_count_ = 0;
  if (pos != used_pos_) advance_used(pos > used_pos_ ? pos - used_pos_ : size_ - used_pos_ + pos);
  uint8_t* d = desc_ + 16 * size_t(used_pos_);
  std::memcpy(d + 8, &len, 4);
  std::memcpy(d + 12, &id16, 2);
  pending_.push_back(Pending{used_pos_, flags});
  if (in_order) {
    // Opens a batch at this used descriptor.
    batch_count_ = 1;
    batch_pos_ = used_pos_;
    batch_wrap_ = used_wrap_;
    batch_pending_ = pending_.size() - 1;
  }
  uint32_t n = 1;
  if (rec & kActive) {
    n = rec >> 16;
    owned_descs_ -= n;
    --inflight_count_;
    rec = 0;
  }
  advance_used(n);
  ++used_count_;
  has_last_ = true;
  last_id_ = id;
  last_len_ = len;
}

bool PackedDeviceQueue::publish() {
  if (!usable_) return false;
  if (pending_.empty() && used_total_ == published_total_) return false;
  // The used descriptors' ids and lens before their flags; the batch's
  // first flags last (virtqueue_packed_flush).
  std::atomic_signal_fence(std::memory_order_release);
  for (size_t i = 1; i < pending_.size(); ++i)
    std::memcpy(desc_ + 16 * size_t(pending_[i].pos) + 14, &pending_[i].flags, 2);
  if (!pending_.empty())
    std::memcpy(desc_ + 16 * size_t(pending_[0].pos) + 14, &pending_[0].flags, 2);
  pending_.clear();
  batch_count_ = 0;  // in-order: what is published closes its batch
  const uint32_t old = published_total_;
  const uint32_t now = used_total_;
  published_total_ = now;
  // The used flags before the driver's event is read: a full fence when
  // the driver runs meanwhile (see DeviceQueue::publish()).
  if (concurrent_driver_) std::atomic_thread_fence(std::memory_order_seq_cst);
  // Driver event: flags, then off_wrap (vring_packed_event_read()).
  uint16_t flags, off_wrap;
  std::memcpy(&flags, driver_event_ + kEventFlagsOffset, 2);
  std::atomic_signal_fence(std::memory_order_acquire);
  std::memcpy(&off_wrap, driver_event_ + kEventOffWrapOffset, 2);
  if (flags > spec::kPackedEventDesc)
    conformance_->report("def-2.8.14-1", qname(index_) + "driver event flags " +
                                             std::to_string(flags) +
                                             " (0 ENABLE, 1 DISABLE, 2 DESC; 3 is reserved)");
  else if (flags == spec::kPackedEventDesc && !event_idx_)
    conformance_->report("def-2.8.14-1",
                         qname(index_) + "driver event flags DESC without VIRTIO_F_EVENT_IDX");
  if (flags == spec::kPackedEventDisable) return false;
  if (flags == spec::kPackedEventEnable) return true;
  // DESC (and what QEMU treats alike): interrupt when the positions used
  // since the last publish cover the event position. Positions are
  // compared unwrapped: the event is in the current used lap when its wrap
  // bit is the used wrap counter, else one lap before.
  const uint32_t lap_start = now - used_pos_;
  uint32_t event = lap_start + (off_wrap & 0x7FFF);
  if (((off_wrap & kWrapBit) != 0) != used_wrap_) event -= size_;
  return uint32_t(now - event - 1) < uint32_t(now - old);
}

bool PackedDeviceQueue::rewrite_desc(uint16_t index, DeviceQueue::DescField field, uint64_t value) {
  if (!usable_ || index >= size_) return false;
  uint8_t* d = desc_ + 16 * size_t(index);
  switch (field) {
    case DeviceQueue::DescField::kAddr:
      std::memcpy(d, &value, 8);
      break;
    case DeviceQueue::DescField::kLen: {
      const uint32_t v = uint32_t(value);
      std::memcpy(d + 8, &v, 4);
      break;
    }
    case DeviceQueue::DescField::kNext: {  // packed: the id field
      const uint16_t v = uint16_t(value);
      std::memcpy(d + 12, &v, 2);
      break;
    }
    case DeviceQueue::DescField::kFlags: {
      const uint16_t v = uint16_t(value);
      std::memcpy(d + 14, &v, 2);
      break;
    }
  }
  return true;
}

uint16_t PackedDeviceQueue::rewrite_chain(uint16_t id, DeviceQueue::DescField field,
                                          uint64_t value) {
  if (!usable_ || !(inflight_[id] & kActive)) return 0;
  const uint32_t rec = inflight_[id];
  const uint16_t n = uint16_t(rec >> 16);
  uint16_t pos = uint16_t(rec & 0x7FFF);
  for (uint16_t i = 0; i < n; ++i) {
    rewrite_desc(pos, field, value);
    if (++pos == size_) pos = 0;
  }
  return n;
}

bool PackedDeviceQueue::exposed(uint16_t id) const {
  if (!usable_) return false;
  // The ids of the chains at [avail position, ...) that are available.
  const uint32_t room = owned_descs_ < size_ ? size_ - owned_descs_ : 0;
  uint16_t pos = avail_pos_;
  bool wrap = avail_wrap_;
  for (uint32_t descs = 0; descs < room;) {
    Desc d = read_desc(pos);
    if (!is_avail(d.flags, wrap)) return false;
    for (;;) {
      d = read_desc(pos);
      ++descs;
      if (++pos == size_) {
        pos = 0;
        wrap = !wrap;
      }
      if (!(d.flags & spec::kDescFlagNext) || descs >= room) break;
    }
    if (d.id == id) return true;
  }
  return false;
}

}  // namespace vnet::mock
