// The control virtqueue's command channel; the protocol, trust, time and
// ordering rules are atop control_queue.h.
#include "driver/net/control_queue.h"

#include "driver/spec/net_ctrl_layout.h"

namespace vnet {

namespace {

constexpr uint8_t kAckPreset = 0xFF;  // neither OK nor ERR: "never written"

}  // namespace

bool ControlQueue::allocate(Platform& platform) {
  if (allocated()) return true;
  busy_ = false;
  return platform.dma_alloc(kAreaSize, 16, &area_);
}

void ControlQueue::release(Platform& platform) {
  if (!allocated()) return;
  platform.dma_free(area_);
  area_ = DmaRegion{};
  busy_ = false;
}

ControlQueue::Outcome ControlQueue::execute(Platform& platform, Transport& transport, Virtqueue& q,
                                            uint8_t cls, uint8_t cmd, const Part* parts,
                                            uint8_t num_parts, uint64_t timeout_ns, uint8_t* ack) {
  if (busy_ || !allocated() || num_parts > 2) return Outcome::kNoRoom;
  uint32_t total = 0;
  for (uint8_t i = 0; i < num_parts; ++i) total += parts[i].len;
  const uint16_t segments = static_cast<uint16_t>(2 + num_parts);
  if (total > kMaxData || !q.can_add(segments)) return Outcome::kNoRoom;

  // Build the request in the area: header, the parts, then the ack byte.
  uint8_t* base = static_cast<uint8_t*>(area_.cpu);
  Segment seg[4];
  base[0] = cls;
  base[1] = cmd;
  seg[0] = Segment{area_.device_addr, 2, false, base};
  uint32_t off = 2;
  uint16_t n = 1;
  for (uint8_t i = 0; i < num_parts; ++i) {
    if (parts[i].len == 0) continue;
    __builtin_memcpy(base + off, parts[i].data, parts[i].len);
    seg[n++] = Segment{area_.device_addr + off, parts[i].len, false, base + off};
    off += parts[i].len;
  }
  ack_off_ = off;
  base[off] = kAckPreset;
  seg[n++] = Segment{area_.device_addr + off, 1, true, base + off};

  uint16_t head = 0;
  if (!q.add_chain(seg, n, this, &head)) return Outcome::kNoRoom;
  busy_ = true;
  q.publish();
  if (q.kick_needed()) transport.notify(q.index());

  // Poll for the completion, bounded by the deadline.
  const uint64_t start = platform.now_ns();
  for (;;) {
    Completion done;
    // A poll: every fetch of the used index here deliberately re-reads it
    // (the device may have moved it since attach or the last poll).
    if (q.harvest(&done, 1, true) == 1) {
      // One command in flight: the queue accepted only an in-flight head,
      // so this is ours. used.len must say the ack byte was written.
      if (done.len_over || done.len != 1) return Outcome::kBadLen;
      uint8_t a = kAckPreset;
      platform.fetch(DeviceMemRef{q.index(), MemPart::kCtrlAck, head, false}, base + ack_off_, &a,
                     1);
      if (a != spec::ctrl::kAckOk && a != spec::ctrl::kAckErr) return Outcome::kBadAck;
      busy_ = false;
      *ack = a;
      return Outcome::kAck;
    }
    if (q.broken()) return Outcome::kQueueFault;
    if (platform.now_ns() - start >= timeout_ns) return Outcome::kTimeout;
  }
}

}  // namespace vnet
