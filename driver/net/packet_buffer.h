// Packet buffers and the pool they come from: the contract between the
// driver and the network stack above it.
//
//   base                      base+offset              base+offset+len
//   |<-- headroom ----------->|<-- frame (Ethernet) --->|       capacity
//   +-----------+-------------+-------------------------+--------......--+
//   |           | virtio-net  |                         |                |
//   |           | header (tx) |                         |                |
//   +-----------+-------------+-------------------------+--------......--+
//
// Buffers are owned by the caller's pool. The driver borrows them: rx
// buffers from BufferPool::alloc() when it refills the receive ring, tx
// buffers from tx_burst(). It hands each one back exactly once: an rx
// buffer through rx_burst() (the caller then owns it) or BufferPool::free()
// (when dropped or on stop), a tx buffer through BufferPool::free() when
// the device completed it or the driver dropped it.
//
// Receive: the driver posts [base, base+capacity); the device writes the
// virtio-net header at base and the frame after it. On delivery offset is
// the header size and len the frame length.
//
// Transmit: the caller puts the frame at base+offset with offset >=
// kTxHeadroom; the driver writes the header just in front of the frame.
//
// Transmit scatter-gather: a frame of several buffers is a fragment chain
// linked through next, handed to tx_burst() as its first buffer:
//
//   frames[i] --> [hdr|frag 0] --next--> [frag 1] --next--> ... [frag k] --> nullptr
//
// The first fragment carries the headroom for the header (offset >=
// kTxHeadroom) exactly as a single-buffer frame does; every fragment's
// bytes are [base+offset, base+offset+len) with len > 0 and offset+len <=
// capacity; the frame is the fragments in order and its length is the sum
// of their lens. At most kMaxTxFragments fragments: a longer chain, a
// fragment out of bounds, or a frame that needs more descriptors than the
// queue takes in one chain (without VIRTIO_F_INDIRECT_DESC the direct
// limit, kMaxChainSegments, counting a separate header descriptor on a
// legacy device without ANY_LAYOUT) is dropped and counted
// (tx_drop_sg_fragments, tx_drop_sg_bounds, tx_drop_sg_segments), never
// truncated. Once tx_burst() took a chain, every fragment of it is the
// driver's until it goes back to the pool -- each fragment exactly once,
// by BufferPool::free(), when the device completed the frame, when the
// driver dropped it, or when stop() / a reset reclaimed it; the caller
// must not touch the chain meanwhile. A chain that tx_burst() did not take
// (it returned fewer than n) is still wholly the caller's.
//
// next == nullptr is a single-buffer frame (the fast path, unchanged). The
// driver clears next in every buffer it hands back (to the pool, or up from
// rx_burst()), so a pool that recycles buffers never sees a stale link; a
// caller that frees a chained buffer to its pool itself clears next first.
//
// Memory must be DMA-capable: device_addr is base as the device sees it.
#pragma once

#include <stdint.h>

namespace vnet {

inline constexpr uint32_t kTxHeadroom = 32;  // >= any virtio-net header size
// The most buffers of one transmitted frame (tx scatter-gather, above).
inline constexpr uint16_t kMaxTxFragments = 16;

struct PacketBuffer {
  uint8_t* base = nullptr;
  uint64_t device_addr = 0;
  uint32_t capacity = 0;
  uint32_t offset = 0;
  uint32_t len = 0;
  void* pool_cookie = nullptr;  // the pool's own use; the driver never touches it
  // Transmit: the next fragment of the same frame (nullptr: the last, or a
  // single-buffer frame). See "Transmit scatter-gather" above.
  PacketBuffer* next = nullptr;
  // Receive, with VIRTIO_NET_F_HASH_REPORT: the device's hash of the frame
  // and the hash type that produced it (1..9, virtio 1.2 5.1.6.4.3.2);
  // 0 / 0 when none was reported (or the report was invalid). Set by
  // rx_burst() on every delivered buffer.
  uint32_t hash = 0;
  uint16_t hash_report = 0;

  uint8_t* data() const { return base + offset; }
};

class BufferPool {
 public:
  // nullptr when the pool is empty; the driver copes (counts and retries).
  virtual PacketBuffer* alloc() = 0;
  virtual void free(PacketBuffer* buffer) = 0;

 protected:
  BufferPool() = default;
  ~BufferPool() = default;
  BufferPool(const BufferPool&) = default;
  BufferPool& operator=(const BufferPool&) = default;
};

}  // namespace vnet
