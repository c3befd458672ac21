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
// Memory must be DMA-capable: device_addr is base as the device sees it.
#pragma once

#include <stdint.h>

namespace vnet {

inline constexpr uint32_t kTxHeadroom = 32;  // >= any virtio-net header size

struct PacketBuffer {
  uint8_t* base = nullptr;
  uint64_t device_addr = 0;
  uint32_t capacity = 0;
  uint32_t offset = 0;
  uint32_t len = 0;
  void* pool_cookie = nullptr;  // the pool's own use; the driver never touches it

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
