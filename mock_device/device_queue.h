// DeviceQueue: the device side of one split virtqueue (virtio 1.2, 2.7),
// playing over GuestMemory.
//
//   driver writes                         device (this class) writes
//   desc[N]  {addr, len, flags, next}     used.flags, used.idx,
//   avail    {flags, idx, ring[N], used_event}   used.ring[N] {id, len},
//                                         used.avail_event (EVENT_IDX)
//
// Lifecycle: configure() when the driver enables the queue (modern
// queue_enable = 1, legacy PFN write); it translates the three ring parts
// once, so the per-frame path indexes host pointers directly. reset() on
// device reset. halt() when the driver broke the ring protocol: a real device
// stops using such a queue (QEMU's virtio_error()), and so does this one.
//
// Consuming: pop() takes the next available head (checking the available
// index against the used index: 2.7.13, 2.7.6.1), walk() follows the chain
// with every driver requirement of 2.7.4/2.7.5 checked and every address
// translated (2.7.13.1), bounded by the queue size. Completing: push_used()
// writes a used element (through the fault hooks of MockDevice), publish()
// stores used.idx and decides about the interrupt (NO_INTERRUPT or
// used_event, 2.7.7 / 2.7.10).
//
// In-flight bookkeeping is the device's own (owned_[head]), so a driver that
// makes a head available again before the device returned it is caught.
//
// In-order use (VIRTIO_F_IN_ORDER, 2.7.9): set_in_order(batch) after
// configure(). With batch > 1, push_used() folds up to batch consecutive
// completions into ONE used entry, written at the used slot of the batch's
// first and naming its last (each push rewrites that entry and moves the
// used index on by one), so used.idx moves by the batch size; publish() and
// skip_used() close a batch early. The mock completes in the order it pops,
// so this is honest exactly when every buffer but a batch's last was used
// completely: always on transmit (nothing writable), and on receive for the
// buffers of one mergeable frame (5.1.6.4.2), which MockDevice publishes
// together -- every other receive completion is published on its own.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <cstring>
#include <functional>
#include <vector>

#include "mock_device/conformance.h"
#include "mock_device/dma_mappings.h"
#include "mock_device/guest_memory.h"

namespace vnet::mock {

struct ChainSegment {
  uint8_t* data = nullptr;
  uint32_t len = 0;
  bool writable = false;
};

struct Chain {
  static constexpr uint16_t kMaxSegments = 64;  // device limit (2.7.4.1 allows one)
  uint16_t head = 0;
  uint16_t num_segments = 0;
  uint16_t num_descriptors = 0;
  uint64_t readable_bytes = 0;
  uint64_t writable_bytes = 0;
  bool ok = false;  // false: malformed; complete it with len 0 or drop
  bool too_many_segments = false;
  ChainSegment segments[kMaxSegments];
};

class DeviceQueue {
 public:
  // Ring addresses as the driver configured them.
  struct Addresses {
    uint64_t desc = 0;
    uint64_t driver = 0;
    uint64_t device = 0;
  };

  // index: the queue number (for messages). Returns false (with the reason
  // reported to conformance) when the ring cannot be used.
  // iommu: with ACCESS_PLATFORM negotiated, every address the driver gives
  // (rings and buffers) is translated through it first; nullptr: addresses
  // are guest-physical. audit (optional) sees every buffer address walked.
  using Audit = std::function<void(uint16_t queue, uint64_t addr, uint32_t len)>;
  bool configure(GuestMemory& mem, Conformance& conformance, uint16_t index, uint16_t size,
                 const Addresses& addrs, bool event_idx, bool indirect_allowed,
                 const DmaMappings* iommu = nullptr, const Audit* audit = nullptr);
  void reset();
  void halt() { halted_ = true; }

  bool usable() const { return usable_ && !halted_; }
  bool halted() const { return halted_; }
  uint16_t size() const { return size_; }
  uint16_t last_avail() const { return last_avail_; }
  uint16_t used_idx() const { return used_idx_; }
  const Addresses& addresses() const { return addrs_; }
  // Host view of the used ring as the device laid it out (size() entries);
  // nullptr while the queue is not configured.
  const uint8_t* used_ring() const { return used_; }

  // Reads avail.idx and checks it. Returns the number of new heads (0 when
  // none or when the index is bogus; the queue is then halted).
  uint16_t available();
  // The next available head, without consuming it (available() > 0).
  uint16_t peek() const { return load16(avail_ + 4 + 2 * size_t(last_avail_ & mask_)); }
  // Consumes the next available head (available() > 0) and returns it.
  uint16_t pop();
  // Walks the chain at head into *out. Every violation is reported.
  void walk(uint16_t head, Chain* out);
  // Writes a used element at the next used slot (does not publish).
  void push_used(uint32_t id, uint32_t len) {
    last_id_ = id;
    last_len_ = len;
    has_last_ = true;
    if (in_order_batch_ > 1) {
      // In-order: the batch's one entry, at its first slot (2.7.9).
      if (batch_count_ == 0) batch_first_ = used_idx_;
      uint8_t* e = used_ + 4 + 8 * size_t(batch_first_ & mask_);
      std::memcpy(e, &id, 4);
      std::memcpy(e + 4, &len, 4);
      ++used_idx_;
      if (++batch_count_ == in_order_batch_) batch_count_ = 0;
      return;
    }
    uint8_t* e = used_ + 4 + 8 * size_t(used_idx_ & mask_);
    std::memcpy(e, &id, 4);
    std::memcpy(e + 4, &len, 4);
    ++used_idx_;
  }
  void skip_used(uint16_t n) {
    if (n != 0) batch_count_ = 0;
    used_idx_ = uint16_t(used_idx_ + n);
  }
  // The entry most recently written (false when none was).
  bool last_used(uint32_t* id, uint32_t* len) const {
    if (in_order_batch_ > 1) {
      *id = last_id_;
      *len = last_len_;
      return used_ != nullptr && has_last_;
    }
    if (used_ == nullptr || used_idx_ == 0) return false;
    const uint8_t* e = used_ + 4 + 8 * size_t(uint16_t(used_idx_ - 1) & mask_);
    std::memcpy(id, e, 4);
    std::memcpy(len, e + 4, 4);
    return true;
  }
  // Stores used.idx (and avail_event). Returns true when the driver wants
  // an interrupt for the entries published since the last publish().
  bool publish();
  // VIRTIO_F_IN_ORDER negotiated: completions in batches of up to batch
  // (1: one entry each, as without it). Reset by configure()/reset().
  // Also checks the driver's in-order rules in walk(): next = x + 1 (0
  // after the last descriptor; drv-2.7.5.2-2), table entries sequential
  // (drv-2.7.5.3.1-5).
  // The driver runs at the same time as the device (DeviceConfig::
  // concurrent_driver): publish() fences between the used index and the
  // driver's event suppression. Kept across configure().
  void set_concurrent_driver(bool on) { concurrent_driver_ = on; }
  void set_in_order(uint16_t batch) {
    in_order_batch_ = batch == 0 ? 1 : batch;
    in_order_ = true;
  }
  uint16_t in_order_batch() const { return in_order_batch_; }
  // Entries written (or indices skipped) since the last publish().
  bool has_unpublished() const { return used_ != nullptr && used_idx_ != published_idx_; }
  // A lying device: rewrites one field of every descriptor of the chain at
  // head in the driver's table (following the table's next links, bounded
  // by the queue size). Returns the number of descriptors rewritten.
  enum class DescField : uint8_t { kAddr, kLen, kFlags, kNext };
  uint16_t rewrite_chain(uint16_t head, DescField field, uint64_t value);
  // The same for one descriptor of the table (false: index out of range).
  bool rewrite_desc(uint16_t index, DescField field, uint64_t value);
  // Marks head as owned by the device / returned.
  void set_owned(uint16_t head, bool owned) {
    if (head < size_) owned_[head] = owned;
  }
  bool owned(uint16_t head) const { return head < size_ && owned_[head]; }
  // Whether head is in avail.ring[last_avail .. avail.idx) (driver-side
  // outstanding, not yet consumed). Not for the hot path.
  bool exposed(uint16_t id) const;

 private:
  // Host view of [addr, addr + len) as the device reaches it (through the
  // IOMMU when there is one); nullptr with *why set when it cannot.
  uint8_t* reach(uint64_t addr, uint64_t len, const char** why) const;
  uint16_t load16(const uint8_t* p) const {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
  }

  GuestMemory* mem_ = nullptr;
  const DmaMappings* iommu_ = nullptr;
  const Audit* audit_ = nullptr;
  Conformance* conformance_ = nullptr;
  uint16_t index_ = 0;
  uint16_t size_ = 0;
  uint16_t mask_ = 0;
  bool usable_ = false;
  bool halted_ = false;
  bool event_idx_ = false;
  bool indirect_allowed_ = false;
  Addresses addrs_{};
  uint8_t* desc_ = nullptr;
  uint8_t* avail_ = nullptr;
  uint8_t* used_ = nullptr;
  uint16_t last_avail_ = 0;      // next avail index to consume
  uint16_t seen_avail_idx_ = 0;  // last avail.idx read
  uint16_t used_idx_ = 0;        // next used index to write
  uint16_t published_idx_ = 0;   // used.idx as last stored
  std::vector<uint8_t> owned_;
  // In-order batching (set_in_order): the open batch's first used index and
  // its completions so far; the last entry pushed (last_used()).
  uint16_t in_order_batch_ = 1;
  bool in_order_ = false;
  bool concurrent_driver_ = false;
  uint16_t batch_count_ = 0;
  uint16_t batch_first_ = 0;
  uint32_t last_id_ = 0;
  uint32_t last_len_ = 0;
  bool has_last_ = false;
};

}  // namespace vnet::mock
