#include "mock_device/device_queue.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>

#include "driver/spec/split_ring_layout.h"

namespace vnet::mock {

uint8_t* DeviceQueue::reach(uint64_t addr, uint64_t len, const char** why) const {
  return device_reach(*mem_, iommu_, addr, len, why);
}

bool DeviceQueue::configure(GuestMemory& mem, Conformance& conformance, uint16_t index,
                            uint16_t size, const Addresses& addrs, bool event_idx,
                            bool indirect_allowed, const DmaMappings* iommu, const Audit* audit) {
  reset();
  mem_ = &mem;
  iommu_ = iommu;
  audit_ = audit;
  conformance_ = &conformance;
  index_ = index;
  addrs_ = addrs;
  event_idx_ = event_idx;
  indirect_allowed_ = indirect_allowed;
  if (!spec::is_power_of_two(size) || size > spec::kMaxQueueSizeSplit) return false;
  size_ = size;
  mask_ = uint16_t(size - 1);
  bool ok = true;
  // 2.7.1: "The driver MUST ensure that the physical address of the first
  // byte of each virtqueue part is a multiple of the specified alignment".
  if (addrs.desc % 16 || addrs.driver % 2 || addrs.device % 4) {
    conformance.report("drv-2.7.1-1", qname(index) + "ring part misaligned (desc " +
                                          hex(addrs.desc) + ", driver " + hex(addrs.driver) +
                                          ", device " + hex(addrs.device) + ")");
    ok = false;
  }
  const char* why = "";
  desc_ = reach(addrs.desc, spec::desc_bytes(size), &why);
  avail_ = desc_ ? reach(addrs.driver, spec::avail_bytes(size), &why) : nullptr;
  used_ = avail_ ? reach(addrs.device, spec::used_bytes(size), &why) : nullptr;
  if (!desc_ || !avail_ || !used_) {
    conformance.report(iommu ? SpecRuleId("drv-6.1-3") : SpecRuleId("drv-6.1-4"),
                       iommu ? "6.1" : "2.7",
                       qname(index) + "ring part " + why + " (desc " + hex(addrs.desc) +
                           ", driver " + hex(addrs.driver) + ", device " + hex(addrs.device) + ")");
    ok = false;
  }
  if (!ok) return false;
  owned_.assign(size, 0);
  usable_ = true;
  return true;
}

void DeviceQueue::reset() {
  usable_ = false;
  halted_ = false;
  size_ = 0;
  mask_ = 0;
  desc_ = avail_ = used_ = nullptr;
  last_avail_ = seen_avail_idx_ = used_idx_ = published_idx_ = 0;
  owned_.clear();
  in_order_batch_ = 1;
  in_order_ = false;
  batch_count_ = batch_first_ = 0;
  last_id_ = last_len_ = 0;
  has_last_ = false;
}

uint16_t DeviceQueue::available() {
  if (!usable_ || halted_) return 0;
  const uint16_t idx = load16(avail_ + spec::kAvailIdxOffset);
  if (idx == seen_avail_idx_) return uint16_t(idx - last_avail_);
  // 2.7.6.1: "A driver MUST NOT decrement the available idx on a virtqueue".
  if (int16_t(idx - seen_avail_idx_) < 0) {
    conformance_->report("drv-2.7.6.1-1", qname(index_) + "available index decreased from " +
                                              std::to_string(seen_avail_idx_) + " to " +
                                              std::to_string(idx));
    halted_ = true;
    return 0;
  }
  // 2.7.13: the ring holds at most queue-size chains; the available index
  // can never be more than that ahead of what the device has used.
  if (uint16_t(idx - used_idx_) > size_) {
    conformance_->report("drv-3.3.1-1", "2.7.13",
                         qname(index_) + "available index " + std::to_string(idx) +
                             " is more than the queue size (" + std::to_string(size_) +
                             ") ahead of the used index " + std::to_string(used_idx_));
    halted_ = true;
    return 0;
  }
  seen_avail_idx_ = idx;
  return uint16_t(idx - last_avail_);
}

uint16_t DeviceQueue::pop() {
  const uint16_t head = load16(avail_ + spec::kAvailRingOffset + 2 * size_t(last_avail_ & mask_));
  ++last_avail_;
  if (event_idx_) {
    // avail_event: notify me when the driver publishes past this index.
    const uint16_t ev = last_avail_;
    std::memcpy(used_ + spec::used_avail_event_offset(size_), &ev, 2);
  }
  return head;
}

bool DeviceQueue::exposed(uint16_t id) const {
  for (uint16_t i = last_avail_; i != seen_avail_idx_; ++i)
    if (load16(avail_ + spec::kAvailRingOffset + 2 * size_t(i & mask_)) == id) return true;
  return false;
}

void DeviceQueue::walk(uint16_t head, Chain* out) {
  out->head = head;
  out->num_segments = 0;
  out->num_descriptors = 0;
  out->readable_bytes = 0;
  out->writable_bytes = 0;
  out->ok = false;
  out->too_many_segments = false;
  if (head >= size_) {
    conformance_->report("def-2.7.6-1", "2.7.13.2",
                         qname(index_) + "available ring names head " + std::to_string(head) +
                             " outside the queue size " + std::to_string(size_));
    return;
  }
  if (owned_[head]) {
    conformance_->report("drv-3.3.1-1", "2.7.13.1",
                         qname(index_) + "head " + std::to_string(head) +
                             " made available again while the device owns it");
    return;
  }
  // The descriptors walked: the ring's table first, then (after a
  // descriptor with INDIRECT) the indirect table it names (2.7.5.3).
  const uint8_t* table = desc_;
  uint32_t table_n = size_;
  bool in_table = false;
  uint16_t i = head;
  bool seen_writable = false;
  auto where = [&](uint16_t at) {
    return (in_table ? "indirect table entry " : "descriptor ") + std::to_string(at);
  };
  for (uint32_t steps = 0;; ++steps) {
    if (steps >= table_n) {
      // 2.7.5.2: loops are forbidden; 2.7.5.3.1: no chain longer than the
      // queue. A chain of more than size descriptors must revisit one, so
      // bounding the walk by the queue size (an indirect table: by its
      // entries) catches every loop without per-descriptor bookkeeping.
      conformance_->report(
          "drv-2.7.5.2-1",
          qname(index_) + "descriptor chain at head " + std::to_string(head) +
              " loops (longer than " +
              (in_table ? "its indirect table, " + std::to_string(table_n) + " entries)"
                        : "the queue size " + std::to_string(size_) + ")"));
      return;
    }
    const uint8_t* d = table + 16 * size_t(i);
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
    std::memcpy(&addr, d, 8);
    std::memcpy(&len, d + 8, 4);
    std::memcpy(&flags, d + 12, 2);
    std::memcpy(&next, d + 14, 2);
    ++out->num_descriptors;
    if (flags & spec::kDescFlagIndirect) {
      if (!indirect_allowed_) {
        conformance_->report("drv-2.7.5.3.1-1",
                             qname(index_) + where(i) + " sets INDIRECT without INDIRECT_DESC");
        return;
      }
      // Indirect descriptors (2.7.5.3), split ring.
      if (in_table) {
        conformance_->report("drv-2.7.5.3.1-2",
                             qname(index_) + where(i) +
                                 " sets INDIRECT inside an indirect table (one table per "
                                 "descriptor)");
        return;
      }
      if (flags & spec::kDescFlagNext) {
        conformance_->report("drv-2.7.5.3.1-4",
                             qname(index_) + where(i) + " sets both INDIRECT and NEXT");
        return;
      }
      if (len == 0 || len % 16 != 0) {
        conformance_->report("def-2.7.5.3-1",
                             qname(index_) + where(i) + " names an indirect table of " +
                                 std::to_string(len) + " bytes (not a nonzero multiple of 16)");
        return;
      }
      // 2.7.5.3.1: the chain, table entries included, within the queue size.
      if (out->num_descriptors - 1 + len / 16 > size_) {
        conformance_->report(
            "drv-2.7.5.3.1-3",
            qname(index_) + where(i) + " names an indirect table of " + std::to_string(len / 16) +
                " entries: the chain is longer than the queue size " + std::to_string(size_));
        return;
      }
      const char* why = "";
      const uint8_t* t = reach(addr, len, &why);
      if (!t) {
        conformance_->report(iommu_ ? SpecRuleId("drv-6.1-3") : SpecRuleId("drv-6.1-4"),
                             iommu_ ? "6.1" : "2.7.13.1",
                             qname(index_) + where(i) + " indirect table address " + hex(addr) +
                                 " (" + std::to_string(len) + " bytes) " + why);
        return;
      }
      // 2.7.5.3.2: the WRITE flag of this descriptor is ignored; the table
      // starts at entry 0 and its entries chain by next within it.
      table = t;
      table_n = len / 16;
      in_table = true;
      i = 0;
      steps = uint32_t(-1);  // the loop bound restarts with the table
      continue;
    }
    const bool writable = flags & spec::kDescFlagWrite;
    if (!writable && seen_writable) {
      conformance_->report("drv-2.7.4.2-1", qname(index_) + "device-readable " + where(i) +
                                                " after a device-writable one");
      return;
    }
    seen_writable |= writable;
    if (audit_ != nullptr && *audit_) (*audit_)(index_, addr, len);
    const char* why = "";
    uint8_t* p = reach(addr, len, &why);
    if (!p) {
      // With ACCESS_PLATFORM the driver must hand the device only addresses
      // it mapped, and none after unmapping them (6.1); without it, only
      // guest memory (2.7.13.1).
      conformance_->report(iommu_ ? SpecRuleId("drv-6.1-3") : SpecRuleId("drv-6.1-4"),
                           iommu_ ? "6.1" : "2.7.13.1",
                           qname(index_) + where(i) + " address " + hex(addr) + " (" +
                               std::to_string(len) + " bytes) " + why);
      return;
    }
    if (out->num_segments < Chain::kMaxSegments) {
      out->segments[out->num_segments++] = ChainSegment{p, len, writable};
    } else {
      out->too_many_segments = true;
    }
    (writable ? out->writable_bytes : out->readable_bytes) += len;
    if (!(flags & spec::kDescFlagNext)) break;
    if (next >= table_n) {
      if (in_table)
        conformance_->report("def-2.7.5.3-1", qname(index_) + where(i) + " has next " +
                                                  std::to_string(next) + " outside its table of " +
                                                  std::to_string(table_n) + " entries");
      else
        conformance_->report("def-2.7.5-1", "2.7.5.2",
                             qname(index_) + "descriptor " + std::to_string(i) + " has next " +
                                 std::to_string(next) + " outside the queue size");
      return;
    }
    // In-order (2.7.5.2, 2.7.5.3.1): descriptors in ring order, next = x + 1
    // (0 after the last of the ring); table entries sequential.
    if (in_order_ && !in_table && next != (i + 1u == table_n ? 0u : i + 1u)) {
      conformance_->report("drv-2.7.5.2-2",
                           qname(index_) + where(i) + " has next " + std::to_string(next) +
                               " with IN_ORDER (ring order: " + std::to_string((i + 1u) % table_n) +
                               ")");
      return;
    }
    if (in_order_ && in_table && next != i + 1u) {
      conformance_->report("drv-2.7.5.3.1-5",
                           qname(index_) + where(i) + " has next " + std::to_string(next) +
                               " with IN_ORDER (sequential: " + std::to_string(i + 1) + ")");
      return;
    }
    i = next;
  }
  out->ok = !out->too_many_segments;
}

bool DeviceQueue::rewrite_desc(uint16_t index, DescField field, uint64_t value) {
  if (!usable_ || index >= size_) return false;
  uint8_t* d = desc_ + 16 * size_t(index);
  switch (field) {
    case DescField::kAddr:
      std::memcpy(d, &value, 8);
      break;
    case DescField::kLen: {
      const uint32_t v = uint32_t(value);
      std::memcpy(d + 8, &v, 4);
      break;
    }
    case DescField::kFlags: {
      const uint16_t v = uint16_t(value);
      std::memcpy(d + 12, &v, 2);
      break;
    }
    case DescField::kNext: {
      const uint16_t v = uint16_t(value);
      std::memcpy(d + 14, &v, 2);
      break;
    }
  }
  return true;
}

uint16_t DeviceQueue::rewrite_chain(uint16_t head, DescField field, uint64_t value) {
  if (!usable_ || head >= size_) return 0;
  // Collect the chain first (as the driver linked it), then rewrite.
  std::vector<uint16_t> chain;
  uint16_t i = head;
  for (uint32_t steps = 0; steps < size_; ++steps) {
    chain.push_back(i);
    const uint8_t* d = desc_ + 16 * size_t(i);
    const uint16_t flags = load16(d + 12);
    const uint16_t next = load16(d + 14);
    if (!(flags & spec::kDescFlagNext) || next >= size_) break;
    i = next;
  }
  for (uint16_t d : chain) rewrite_desc(d, field, value);
  return uint16_t(chain.size());
}

bool DeviceQueue::publish() {
  if (!usable_) return false;
  const uint16_t old = published_idx_;
  const uint16_t now = used_idx_;
  if (old == now) return false;
  std::atomic_signal_fence(std::memory_order_release);
  std::memcpy(used_ + spec::kUsedIdxOffset, &now, 2);
  published_idx_ = now;
  batch_count_ = 0;  // in-order: what is published closes its batch
  // The used index must be visible before the driver's suppression is
  // read (a store then a load: only a full fence orders them) when the
  // driver runs meanwhile -- a real guest's, behind the vhost-user back end
  // -- or an interrupt could be lost (the driver's virtio_mb() pairs with
  // this one). In process the driver never does.
  if (concurrent_driver_) std::atomic_thread_fence(std::memory_order_seq_cst);
  const uint16_t flags = load16(avail_ + spec::kAvailFlagsOffset);
  if (event_idx_) {
    if (flags != 0)
      conformance_->report(
          "drv-2.7.7.1-2",
          qname(index_) + "available ring flags nonzero with EVENT_IDX negotiated");
    const uint16_t used_event = load16(avail_ + spec::avail_used_event_offset(size_));
    // vring_need_event(): interrupt when the new entries cross used_event.
    return uint16_t(now - used_event - 1) < uint16_t(now - old);
  }
  if (flags > 1)
    conformance_->report("drv-2.7.7.1-1", qname(index_) + "available ring flags " +
                                              std::to_string(flags) +
                                              " (only 0 or 1 allowed without EVENT_IDX)");
  return !(flags & spec::kAvailFlagNoInterrupt);
}

}  // namespace vnet::mock
