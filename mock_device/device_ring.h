// DeviceRing: the one interface MockDevice's frame paths (transmit,
// receive, completions, the lies) drive a virtqueue through, whatever the
// ring kind behind it -- the device-side twin of driver/virtqueue/
// virtqueue.h.
//
//   MockDevice (process_tx, deliver_rx, complete_now, finish, lies)
//        |  available / peek / pop / walk / push / publish / ...
//   DeviceRing  -- kind chosen at configure() (queue enable), from the
//        |        negotiated features (VIRTIO_F_RING_PACKED); fixed until reset()
//   DeviceQueue        (split, 2.7, device_queue.h)
//   PackedDeviceQueue  (packed, 2.8, packed_device_queue.h)
//
// Dispatch is tagged, as in the driver: one predictable branch on kind_
// and a direct call; no vtable. A chain is named by a token: the split
// ring's head index, or the packed ring's avail position | wrap << 15. The
// frame paths take tokens from peek()/pop(), walk() a token into a Chain
// whose head is what a completion names (split: the head; packed: the
// buffer id of the chain's last descriptor), and complete with push(),
// giving both what the used entry says (UsedEntry, after faults and the
// used hook) and which chain it really completes (head: the packed ring
// moves its used position on by that chain's length whatever the entry
// claims). On a split ring every call is exactly what DeviceQueue did
// before this interface existed: split behaviour is unchanged byte for
// byte.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mock_device/device_queue.h"
#include "mock_device/packed_device_queue.h"

namespace vnet::mock {

enum class RingKind : uint8_t { kSplit, kPacked };

// A used entry about to be published; a used hook may rewrite any field.
struct UsedEntry {
  uint16_t queue = 0;
  uint32_t id = 0;
  uint32_t len = 0;
  // Split: the used index this entry occupies (the value the device will
  // store in used.idx is used_idx + 1). Packed: the ring position (0 ..
  // size-1) the used descriptor is written at; moving it moves the
  // device's used position there (a device that skips or rewinds).
  uint16_t used_idx = 0;
  // ---- packed ring only (appended; ignored on a split ring) ----
  bool packed = false;
  // The flags the device will write: AVAIL = USED = its used wrap counter
  // (bits 7 and 15), WRITE when it wrote bytes. A hook makes the device
  // lie with them: the previous lap's pattern (a device that stopped
  // flipping its wrap counter), AVAIL != USED (a pattern no side writes),
  // or "still available" (a completion the driver cannot see).
  uint16_t flags = 0;
  // The device's used wrap counter at used_idx (informational: the flags
  // are what is written).
  bool used_wrap = true;
};

class DeviceRing {
 public:
  using Addresses = DeviceQueue::Addresses;
  using Audit = DeviceQueue::Audit;
  using DescField = DeviceQueue::DescField;

  bool configure(RingKind kind, GuestMemory& mem, Conformance& conformance, uint16_t index,
                 uint16_t size, const Addresses& addrs, bool event_idx, bool indirect_allowed,
                 const DmaMappings* iommu, const Audit* audit,
                 PackedEventMode event_mode = PackedEventMode::kEnable) {
    kind_ = kind;
    if (kind == RingKind::kPacked)
      return packed_.configure(mem, conformance, index, size, addrs, event_idx, indirect_allowed,
                               iommu, audit, event_mode);
    return split_.configure(mem, conformance, index, size, addrs, event_idx, indirect_allowed,
                            iommu, audit);
  }
  void reset() {
    if (kind_ == RingKind::kPacked) packed_.reset();
    split_.reset();
    kind_ = RingKind::kSplit;
  }

  RingKind kind() const { return kind_; }
  bool packed() const { return kind_ == RingKind::kPacked; }
  const DeviceQueue& split() const { return split_; }
  DeviceQueue& split_queue() { return split_; }
  const PackedDeviceQueue& packed_ring() const { return packed_; }
  PackedDeviceQueue& packed_ring() { return packed_; }

  void halt() { packed() ? packed_.halt() : split_.halt(); }
  bool usable() const { return packed() ? packed_.usable() : split_.usable(); }
  bool halted() const { return packed() ? packed_.halted() : split_.halted(); }
  uint16_t size() const { return packed() ? packed_.size() : split_.size(); }
  // Split: the used index; packed: the used position.
  uint16_t used_idx() const { return packed() ? packed_.used_pos() : split_.used_idx(); }

  uint16_t available() { return packed() ? packed_.available() : split_.available(); }
  // available() != 0, for a packed ring without walking every available
  // chain (the split ring's count is one index read anyway, and keeps its
  // check of avail.idx).
  bool any_available() { return packed() ? packed_.any_available() : split_.available() != 0; }
  uint16_t peek() const { return packed() ? packed_.peek() : split_.peek(); }
  uint16_t pop() { return packed() ? packed_.pop() : split_.pop(); }
  void walk(uint16_t token, Chain* out) {
    packed() ? packed_.walk(token, out) : split_.walk(token, out);
  }

  // The entry the device is about to write for buffer id with len.
  UsedEntry next_used(uint16_t queue, uint32_t id, uint32_t len) const {
    UsedEntry e{queue, id, len, used_idx()};
    if (packed()) {
      e.packed = true;
      e.flags = packed_.used_flags(len);
      e.used_wrap = packed_.used_wrap();
    }
    return e;
  }
  // Writes e (its used_idx first moves the used index/position), for the
  // chain head really completes.
  void push(const UsedEntry& e, uint16_t head) {
    if (packed()) return packed_.push(e.used_idx, e.id, e.len, e.flags, head);
    split_.skip_used(uint16_t(e.used_idx - split_.used_idx()));
    split_.push_used(e.id, e.len);
  }
  // The honest completion of head with len.
  void push_used(uint16_t head, uint32_t len) {
    if (packed()) return packed_.push(packed_.used_pos(), head, len, packed_.used_flags(len), head);
    split_.push_used(head, len);
  }
  // Split: the used index moves on by n; packed: the used position.
  void skip_used(uint16_t n) { packed() ? packed_.skip_used(n) : split_.skip_used(n); }
  // Moves the used index (split) / position (packed) to idx.
  void move_used_to(uint16_t idx) {
    if (!packed()) return split_.skip_used(uint16_t(idx - split_.used_idx()));
    if (packed_.size() == 0) return;
    const uint16_t to = uint16_t(idx % packed_.size());
    const uint16_t from = packed_.used_pos();
    packed_.skip_used(to >= from ? uint32_t(to - from) : uint32_t(packed_.size() - from + to));
  }
  bool last_used(uint32_t* id, uint32_t* len) const {
    return packed() ? packed_.last_used(id, len) : split_.last_used(id, len);
  }
  bool publish() { return packed() ? packed_.publish() : split_.publish(); }
  bool has_unpublished() const {
    return packed() ? packed_.has_unpublished() : split_.has_unpublished();
  }
  bool rewrite_desc(uint16_t index, DescField field, uint64_t value) {
    return packed() ? packed_.rewrite_desc(index, field, value)
                    : split_.rewrite_desc(index, field, value);
  }
  uint16_t rewrite_chain(uint16_t head, DescField field, uint64_t value) {
    return packed() ? packed_.rewrite_chain(head, field, value)
                    : split_.rewrite_chain(head, field, value);
  }
  // Whether id names a chain made available and not consumed yet.
  bool exposed(uint16_t id) const { return packed() ? packed_.exposed(id) : split_.exposed(id); }
  // Whether the device holds id (consumed, not completed). Split: never
  // tracked by the frame paths (false).
  bool in_flight(uint16_t id) const { return packed() ? packed_.in_flight(id) : split_.owned(id); }

 private:
  RingKind kind_ = RingKind::kSplit;
  DeviceQueue split_;
  PackedDeviceQueue packed_;
};

}  // namespace vnet::mock
