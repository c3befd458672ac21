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
// Receive chains (NetOptions::rx_chains, MRG_RXBUF; not on a legacy device
// without ANY_LAYOUT, whose buffers are two descriptors): a frame the device
// spread over several rx buffers (a jumbo frame, a coalesced GSO frame) is
// delivered as one PacketBuffer chain of the same shape: the first buffer
// holds the start of the frame at base+offset (after the virtio-net
// header), each further buffer its continuation at base+offset (offset 0),
// and the frame is the buffers in order. The caller owns the whole chain
// and gives each buffer back to its pool (next cleared first).
//
// Offloads (virtio 1.2, 5.1.6.2 transmit, 5.1.6.4 receive): PacketOffload,
// below, in the first buffer of a frame. All offsets count from the first
// byte of the Ethernet header.
//
//   Transmit (the caller asks; tx_burst() validates before publishing):
//     csum = kPartial: the device completes the L4 checksum (CSUM). The
//       caller stores the pseudo-header sum at csum_start + csum_offset;
//       csum_start + csum_offset + 2 must lie within the frame.
//     gso = kTcp4 / kTcp6 / kUdp: the device segments the frame into
//       segments of gso_size payload bytes (HOST_TSO4 / HOST_TSO6 /
//       HOST_USO), each hdr_len + gso_size bytes on the wire. Needs csum =
//       kPartial with csum_start at the TCP/UDP header and csum_offset 16
//       (TCP) or 6 (UDP). The frame must be what gso claims (Ethernet, one
//       optional 802.1Q tag, IPv4 without options beyond IHL or IPv6 without
//       extension headers, then TCP / UDP), every segment must fit the MTU,
//       and the whole frame kMaxGsoFrame. The driver computes hdr_len itself.
//     ecn: the TCP frame carries ECN (CWR): HOST_ECN is required. A TCP
//       frame to segment whose header has CWR set is treated so whether
//       or not ecn is set (5.1.6.2.1).
//     Checksums the frame itself carries (the IPv4 header's, the pseudo-
//       header sum at csum_offset -- over the whole frame's L4 length for
//       GSO, as Linux leaves it) are the caller's: the driver does not
//       read them.
//     Anything the negotiated features or the frame cannot hold is dropped
//     and counted (tx_drop_offload_*), never sent half-right.
//   Receive (the driver reports; rx_burst() fills it on every delivered
//   frame, after validating every device-written header field):
//     csum = kVerified: the device checked the checksum (DATA_VALID, with
//       GUEST_CSUM). kPartial: the device left it to be completed
//       (NEEDS_CSUM), csum_start + csum_offset + 2 within the frame -- the
//       frame's data is as trustworthy as the device, as in Linux's
//       CHECKSUM_PARTIAL. kNone: verify it yourself.
//     gso != kNone: a coalesced frame (GUEST_TSO4/6, GUEST_USO4/6) that the
//       driver parsed as the claimed protocol, with hdr_len the length of
//       its headers through TCP/UDP as parsed (not the device's hint) and
//       gso_size the device's segment size (nonzero, a segment fits the MTU).
//
// Memory must be DMA-capable: device_addr is base as the device sees it.
#pragma once

#include <stdint.h>

namespace vnet {

inline constexpr uint32_t kTxHeadroom = 32;  // >= any virtio-net header size
// The most buffers of one transmitted frame (tx scatter-gather, above).
inline constexpr uint16_t kMaxTxFragments = 16;
// The largest frame an offload produces or takes (virtio 1.2, 5.1.6.3: the
// 65562-byte receive buffer of a GSO frame less its 12-byte header).
inline constexpr uint32_t kMaxGsoFrame = 65550;

// Checksum state of a frame (see "Offloads" above).
enum class CsumState : uint8_t {
  kNone = 0,      // tx: fully checksummed by the caller; rx: nothing known
  kPartial = 1,   // tx: the device completes it; rx: still to be completed
  kVerified = 2,  // rx only: the device verified it
};

// Segmentation of a frame (see "Offloads" above).
enum class GsoKind : uint8_t {
  kNone = 0,
  kTcp4 = 1,  // TCP over IPv4 (TSO4)
  kTcp6 = 2,  // TCP over IPv6 (TSO6)
  kUdp = 3,   // UDP over IPv4 or IPv6, segmented per datagram (USO)
};

struct PacketOffload {
  CsumState csum = CsumState::kNone;
  GsoKind gso = GsoKind::kNone;
  bool ecn = false;
  uint16_t csum_start = 0;
  uint16_t csum_offset = 0;
  uint16_t gso_size = 0;
  uint16_t hdr_len = 0;  // rx: headers through L4 (gso only); tx: ignored
};

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
  // Offloads: asked for on transmit, reported on receive (see "Offloads"
  // above); first buffer of a frame only. rx_burst() sets it on every
  // delivered frame; a caller that reuses buffers for tx resets it.
  PacketOffload offload;

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
