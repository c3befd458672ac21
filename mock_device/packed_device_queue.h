// PackedDeviceQueue: the device side of one packed virtqueue (virtio 1.2,
// 2.8), playing over GuestMemory. The split ring's counterpart is
// DeviceQueue (device_queue.h); MockDevice drives either through DeviceRing
// (device_ring.h).
//
//   descriptor ring, 16 bytes x size (driver AND device write it)
//   +----------+--------+--------+--------+
//   | le64 addr| le32 len| le16 id| le16 flags |   AVAIL = bit 7, USED = bit 15
//   +----------+--------+--------+--------+
//   driver event suppression (driver writes; QueueDriver / queue_driver)
//   device event suppression (THIS device writes; QueueDevice / queue_device)
//   each: | le16 off_wrap | le16 flags |   flags 0 ENABLE, 1 DISABLE, 2 DESC
//
// Positions and wrap counters (2.8.1). The device keeps two positions, each
// with a wrap counter that starts at 1 and flips when the position passes
// the end of the ring:
//   avail position  the next descriptor it reads. A descriptor is available
//                   when AVAIL == the avail wrap counter and USED != it.
//   used position   where it writes the next used descriptor.
// Consuming (pop) takes the chain at the avail position: NEXT links the
// following positions (2.8.6; a chain may straddle the end of the ring and
// then carries the next lap's bits), the buffer id is the LAST descriptor's,
// and the avail position moves on by the chain's length. Completing (push)
// writes ONE used descriptor per chain at the used position -- id, len, and
// flags with AVAIL = USED = the used wrap counter (WRITE when the device
// wrote bytes) -- and moves the used position on by the length of the chain
// it completes (so a driver that skips each completed chain's length, as
// 2.8.6 tells it to, finds the next one). QEMU (virtqueue_packed_fill_desc)
// writes no WRITE flag and, for a batch of several elements, puts them at
// consecutive positions; for single completions, which is all this device
// makes, the positions agree (for in-order batches see below). A push writes id and len at once and
// defers the flags to publish(), which stores every pending used descriptor's flags after a release
// fence, the batch's first one last (as QEMU's virtqueue_packed_flush does): the driver never sees
// a used flag before the id and len it covers.
//
// Interrupts (2.8.10, 2.8.14): publish() reads the driver event structure
// (flags, then off_wrap) and interrupts for ENABLE, never for DISABLE, and
// for DESC (and, as QEMU does, for the reserved value 3) when the used
// descriptors published since the last publish() cover the position
// off_wrap names (the event moved back one ring when its wrap bit is not
// the current used wrap counter; vring_packed_need_event()). The device
// event structure -- when the driver should notify -- is this device's to
// write: ENABLE (default), DISABLE, or DESC with off_wrap = the next avail
// position and wrap counter, updated at every pop (QEMU's
// virtio_queue_packed_set_notification()); set_device_event() changes it
// at any time, with an explicit off_wrap to script a device that wants
// notifications at odd places. DESC is written even without EVENT_IDX when
// asked (a device that breaks 2.8.14, for the driver's kick decision).
//
// Driver rules checked (each with its spec map id, spec_rules.h):
//   def-2.8.1-1     a descriptor at the avail position with AVAIL == USED ==
//                   the avail wrap counter (no driver writes that pattern)
//   drv-2.8.17-6    a chain member (after an available head) that is not
//                   available for its own lap
//   drv-2.8.17-2    a chain longer than the queue size
//   drv-2.8.17-3    a device-readable descriptor after a device-writable one
//                   (indirect tables included)
//   def-2.8.13-1    a buffer id made available while the device has that id
//                   in flight
//   drv-2.8.16-1    a descriptor made available at a position the device has
//                   not used yet (the ring holds more than it can)
//   drv-2.8.19-1    INDIRECT without VIRTIO_F_INDIRECT_DESC
//   drv-2.8.19-2    a flag other than WRITE inside an indirect table
//   drv-2.8.19-3    an indirect table of more entries than the queue size
//   drv-2.8.19-4    INDIRECT on a descriptor of a NEXT-linked list
//   def-2.8.7-1     an indirect table whose length is 0 or not a multiple of 16
//   def-2.8.14-1    driver event flags 3, or DESC without EVENT_IDX (at each
//                   publish)
//   drv-2.8.11-1    ring parts misaligned (descriptors 16, events 4)
//   drv-6.1-3/-4    ring parts, tables or buffers outside guest memory (or
//                   outside every IOMMU mapping), kept under section 2.8
// A malformed chain walks to ok = false (the caller halts the queue, as for
// a split ring); the other findings are reported and the ring goes on, as
// QEMU's would (it sees an unavailable descriptor, nothing more).
//
// In-flight bookkeeping is the device's own: per buffer id (any 16-bit
// value: 2.8 does not bound ids by the queue size), the chain's position
// and length from pop() until a push() completes it.
//
// In-order use (VIRTIO_F_IN_ORDER, 2.8.9): set_in_order(batch) after
// configure(). With batch > 1, push() folds up to batch consecutive
// completions into ONE used descriptor, written at the used position of the
// batch's first chain (with that position's used wrap counter) and carrying
// the buffer id and len of the batch's last; the used position moves on by
// the descriptors of every chain of the batch (the driver skips them all).
// A completion joins the open batch only when it is honest in-order use: it
// is written at the used position (no lie moved it), with the flags an
// honest device writes there, for the chain in flight at that position;
// anything else closes the batch and is written on its own, as without
// IN_ORDER. publish() and skip_used() close a batch early. As on the split
// ring (device_queue.h), MockDevice keeps batches honest by publishing each
// receive frame on its own: only transmit chains (nothing writable) and
// the buffers of one mergeable frame share a used descriptor. With batch 1
// every push is exactly what it was before.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <cstring>
#include <vector>

#include "mock_device/conformance.h"
#include "mock_device/device_queue.h"
#include "mock_device/dma_mappings.h"
#include "mock_device/guest_memory.h"

namespace vnet::mock {

// What the device writes into its device event suppression structure.
// Appended only (scenarios and fuzz inputs may name modes by position).
enum class PackedEventMode : uint8_t { kEnable, kDisable, kDesc };
const char* packed_event_mode_name(PackedEventMode m);

class PackedDeviceQueue {
 public:
  using Addresses = DeviceQueue::Addresses;  // desc ring, driver event, device event
  using Audit = DeviceQueue::Audit;
  static constexpr uint16_t kWrapBit = uint16_t{1} << 15;
  // A token names a chain at the avail position: position | wrap << 15.
  static constexpr uint16_t token(uint16_t pos, bool wrap) {
    return uint16_t(pos | (wrap ? kWrapBit : 0));
  }

  bool configure(GuestMemory& mem, Conformance& conformance, uint16_t index, uint16_t size,
                 const Addresses& addrs, bool event_idx, bool indirect_allowed,
                 const DmaMappings* iommu, const Audit* audit, PackedEventMode mode);
  void reset();
  void halt() { halted_ = true; }

  bool usable() const { return usable_ && !halted_; }
  bool halted() const { return halted_; }
  uint16_t size() const { return size_; }
  const Addresses& addresses() const { return addrs_; }
  uint16_t avail_pos() const { return avail_pos_; }
  bool avail_wrap() const { return avail_wrap_; }
  uint16_t used_pos() const { return used_pos_; }
  bool used_wrap() const { return used_wrap_; }
  // Used descriptors written since configure() (mod 2^16).
  uint16_t used_count() const { return used_count_; }
  // Host view of the descriptor ring (size() x 16 bytes); nullptr while
  // the queue is not configured.
  const uint8_t* ring() const { return desc_; }

  // Chains available at the avail position (0 when none; bounded by the
  // queue size). Reports the head and room rules.
  uint16_t available();
  // Whether a chain is available at the avail position: one flags read,
  // for the per-frame paths that need no count (available() walks every
  // available chain, and checks the head and room rules as it goes).
  bool any_available() const {
    return usable_ && !halted_ && owned_descs_ < size_ &&
           is_avail(flags_at(avail_pos_), avail_wrap_);
  }
  // The chain at the avail position (available() > 0), as a token.
  uint16_t peek() const { return token(avail_pos_, avail_wrap_); }
  // Consumes the chain at the avail position and returns its token.
  uint16_t pop();
  // Walks the chain at token into *out (out->head = its buffer id).
  void walk(uint16_t tok, Chain* out);
  // The flags a used descriptor at the used position carries.
  uint16_t used_flags(uint32_t len) const;
  // Writes a used descriptor {id, len, flags} at ring position pos (the
  // used position unless a lie moved it; the used position jumps there) and
  // moves on by the length of the chain of buffer id `head` (1 when head is
  // not in flight). The flags are stored at publish().
  void push(uint16_t pos, uint32_t id, uint32_t len, uint16_t flags, uint16_t head);
  // Moves the used position on by n (a lie: positions left as they were).
  void skip_used(uint32_t n);
  // The used descriptor most recently written (false when none was).
  bool last_used(uint32_t* id, uint32_t* len) const {
    if (!has_last_) return false;
    *id = last_id_;
    *len = last_len_;
    return true;
  }
  bool publish();
  // VIRTIO_F_IN_ORDER negotiated: completions in batches of up to batch
  // (1: one used descriptor each, as without it). Reset by configure() and
  // reset().
  // The driver runs at the same time as the device (DeviceConfig::
  // concurrent_driver): publish() fences between the used index and the
  // driver's event suppression. Kept across configure().
  void set_concurrent_driver(bool on) { concurrent_driver_ = on; }
  void set_in_order(uint16_t batch) {
    in_order_batch_ = batch == 0 ? 1 : batch;
    batch_count_ = 0;
  }
  uint16_t in_order_batch() const { return in_order_batch_; }
  bool has_unpublished() const {
    return usable_ && (!pending_.empty() || used_total_ != published_total_);
  }
  // The device event suppression structure (2.8.14). off_wrap < 0: the
  // device's own choice (the next avail position with DESC).
  void set_device_event(PackedEventMode mode, int32_t off_wrap = -1);
  PackedEventMode device_event_mode() const { return mode_; }
  // Lies: rewrite a field of one ring descriptor (kNext names the id
  // field), or of every descriptor of the chain of in-flight buffer id.
  bool rewrite_desc(uint16_t index, DeviceQueue::DescField field, uint64_t value);
  uint16_t rewrite_chain(uint16_t id, DeviceQueue::DescField field, uint64_t value);
  bool in_flight(uint16_t id) const { return !inflight_.empty() && (inflight_[id] & kActive); }
  uint16_t in_flight_count() const { return inflight_count_; }
  // Whether id is the buffer id of a chain available and not yet consumed.
  bool exposed(uint16_t id) const;

 private:
  // inflight_[id]: kActive | ndescs << 16 | position.
  static constexpr uint32_t kActive = uint32_t{1} << 15;
  struct Pending {
    uint16_t pos;
    uint16_t flags;
  };
  struct Desc {
    uint64_t addr;
    uint32_t len;
    uint16_t id;
    uint16_t flags;
  };
  Desc read_desc(uint16_t pos) const {
    Desc d;
    const uint8_t* p = desc_ + 16 * size_t(pos);
    std::memcpy(&d.addr, p, 8);
    std::memcpy(&d.len, p + 8, 4);
    std::memcpy(&d.id, p + 12, 2);
    std::memcpy(&d.flags, p + 14, 2);
    return d;
  }
  uint16_t flags_at(uint16_t pos) const {
    uint16_t f;
    std::memcpy(&f, desc_ + 16 * size_t(pos) + 14, 2);
    return f;
  }
  static bool is_avail(uint16_t flags, bool wrap);
  uint8_t* reach(uint64_t addr, uint64_t len, const char** why) const;
  // Adds one segment (buffer of a ring or table descriptor); false: stop.
  bool add_segment(const char* where, uint32_t n, uint64_t addr, uint32_t len, bool writable,
                   bool* seen_writable, Chain* out);
  bool walk_indirect(uint16_t pos, const Desc& d, bool* seen_writable, Chain* out);
  void write_device_event();
  void advance_used(uint32_t n);

  GuestMemory* mem_ = nullptr;
  const DmaMappings* iommu_ = nullptr;
  const Audit* audit_ = nullptr;
  Conformance* conformance_ = nullptr;
  uint16_t index_ = 0;
  uint16_t size_ = 0;
  bool usable_ = false;
  bool halted_ = false;
  bool event_idx_ = false;
  bool indirect_allowed_ = false;
  Addresses addrs_{};
  uint8_t* desc_ = nullptr;
  uint8_t* driver_event_ = nullptr;
  uint8_t* device_event_ = nullptr;
  PackedEventMode mode_ = PackedEventMode::kEnable;
  int32_t event_off_wrap_ = -1;
  uint16_t avail_pos_ = 0;
  bool avail_wrap_ = true;
  uint16_t used_pos_ = 0;
  bool used_wrap_ = true;
  uint32_t used_total_ = 0;       // positions the used side moved on (free-running)
  uint32_t published_total_ = 0;  // used_total_ at the last publish()
  uint16_t used_count_ = 0;
  uint32_t owned_descs_ = 0;  // descriptors of chains in flight
  uint16_t inflight_count_ = 0;
  std::vector<uint32_t> inflight_;  // 65536 entries once configured
  std::vector<Pending> pending_;
  // The chain pop() took last (walk() after pop() needs its id's record).
  uint16_t popped_token_ = 0;
  bool popped_dup_ = false;
  bool has_popped_ = false;
  bool has_last_ = false;
  uint32_t last_id_ = 0;
  uint32_t last_len_ = 0;
  // In-order batching (set_in_order): completions in the open batch (0:
  // none open), the position and used wrap counter of its used descriptor,
  // and that descriptor's index in pending_.
  uint16_t in_order_batch_ = 1;
  bool concurrent_driver_ = false;
  uint16_t batch_count_ = 0;
  uint16_t batch_pos_ = 0;
  bool batch_wrap_ = true;
  size_t batch_pending_ = 0;
};

}  // namespace vnet::mock
