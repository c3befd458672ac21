// The control virtqueue as a bounded synchronous command channel
// (virtio 1.2, 5.1.6.5). VirtioNet decides WHAT to send (virtio_net.h,
// "control plane"); this layer sends one command and says how the device
// answered.
//
// Protocol. One command at a time. Its chain is built in a DMA area that
// the channel owns (allocated once per attach):
//
//   segment 0        device-readable   u8 class, u8 command
//   segments 1..2    device-readable   command data (0, 1 or 2 parts)
//   last segment     device-writable   u8 ack, preset to 0xFF
//
// Each part has a descriptor of its own, which is valid framing on every
// transport (legacy devices without ANY_LAYOUT included). The chain is
// published, the device notified (if it wants to be), and the used ring
// polled until the completion arrives or the deadline passes:
//
//   completion, used.len == 1, ack OK   -> kAck (ack 0)
//   completion, used.len == 1, ack ERR  -> kAck (ack 1)
//   completion, used.len != 1           -> kBadLen   (the device did not say
//                                          it wrote exactly the ack byte)
//   completion, ack neither OK nor ERR  -> kBadAck   (0xFF: never written)
//   the queue broke (used id/idx lies)  -> kQueueFault (Virtqueue::fault())
//   no completion by the deadline       -> kTimeout
//
// On anything but kAck the device keeps the area: busy() stays true until
// the caller resets the device and calls drained(). The caller treats each
// of them as a lying device (VirtioNet breaks the device and recovers it).
//
// Trust. The ack byte is device-written memory: fetched once, through
// Platform::fetch (MemPart::kCtrlAck, index = head), into a private byte,
// and only then compared. The request is driver-written and never read
// back. used.len and the used id are validated by the Virtqueue first.
//
// Time. The wait is bounded by Platform::now_ns(): at most timeout_ns after
// the chain was published (one poll of the used ring may finish after it).
// It never sleeps and takes no interrupt (the control queue has no vector).
//
// Threading. The control context only (VirtioNet: never concurrently with
// poll_device()); nothing here is shared with the data path.
//
// Ordering. The request bytes and the ack preset are plain stores into the
// area before Virtqueue::publish(), whose write barrier orders them before
// the index store; harvest() orders the used entry before the ack fetch
// with its read barrier (the ring kinds' own rules, virtqueue.h).
#pragma once

#include <stdint.h>

#include "driver/platform/platform.h"
#include "driver/transport/transport.h"
#include "driver/virtqueue/virtqueue.h"

namespace vnet {

class ControlQueue {
 public:
  // Bytes of command data one command carries at most (the largest is a
  // MAC_TABLE_SET of 64 entries: 4 + 4 + 64 x 6 = 392 bytes).
  static constexpr uint32_t kMaxData = 448;

  enum class Outcome : uint8_t { kAck, kBadLen, kBadAck, kQueueFault, kTimeout, kNoRoom };

  struct Part {
    const void* data;
    uint32_t len;
  };

  // The DMA area (request + ack). false: no DMA memory.
  bool allocate(Platform& platform);
  void release(Platform& platform);
  bool allocated() const { return area_.cpu != nullptr; }

  // Sends class/cmd with up to two data parts (total <= kMaxData) on q
  // (queue `index`, already set up) and waits for the completion. *ack is
  // the validated ack (kAckOk or kAckErr) on kAck. kNoRoom: the queue has
  // no room for the chain or a part is too large (nothing was published).
  Outcome execute(Platform& platform, Transport& transport, Virtqueue& q, uint8_t cls, uint8_t cmd,
                  const Part* parts, uint8_t num_parts, uint64_t timeout_ns, uint8_t* ack);

  // The device still owns the last command (it never completed it): no
  // other may be sent until the device was reset and the queue drained.
  bool busy() const { return busy_; }
  // After a device reset and Virtqueue::drain(): the area is ours again.
  void drained() { busy_ = false; }

  // Where the last command's ack byte sits in the area (tests).
  uint32_t ack_offset() const { return ack_off_; }

 private:
  static constexpr uint32_t kAreaSize = 2 + kMaxData + 1;

  DmaRegion area_{};
  bool busy_ = false;
  uint32_t ack_off_ = 0;
};

}  // namespace vnet
