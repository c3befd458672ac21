// virtio-net wire layouts: the device configuration space (virtio 1.2,
// 5.1.4) and the per-packet header (5.1.6).
//
// The header precedes every frame in both directions:
//
//   | u8 flags | u8 gso_type | le16 hdr_len | le16 gso_size |
//   | le16 csum_start | le16 csum_offset | le16 num_buffers |
//
// It is 12 bytes when VERSION_1 or MRG_RXBUF is negotiated and 10 bytes
// otherwise (legacy without mergeable buffers: no num_buffers field).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "driver/spec/byte_order.h"

namespace vnet::spec {

struct NetHdr {
  uint8_t flags;
  uint8_t gso_type;
  Le16 hdr_len;
  Le16 gso_size;
  Le16 csum_start;
  Le16 csum_offset;
  Le16 num_buffers;  // only when VERSION_1 or MRG_RXBUF
};
static_assert(sizeof(NetHdr) == 12);
static_assert(offsetof(NetHdr, hdr_len) == 2 && offsetof(NetHdr, csum_start) == 6 &&
              offsetof(NetHdr, num_buffers) == 10);

// With VIRTIO_NET_F_HASH_REPORT the header grows to 20 bytes (5.1.6).
struct NetHdrHash {
  NetHdr hdr;
  Le32 hash_value;
  Le16 hash_report;  // 0 none, 1..9 the hash type that produced hash_value
  Le16 padding_reserved;
};
static_assert(sizeof(NetHdrHash) == 20);

inline constexpr size_t kNetHdrLegacySize = 10;
inline constexpr size_t kNetHdrSize = 12;

// Device configuration offsets (5.1.4).
namespace net_cfg {
inline constexpr uint32_t kMac = 0;  // u8[6]
inline constexpr uint32_t kStatus = 6;
inline constexpr uint32_t kMaxVirtqueuePairs = 8;
inline constexpr uint32_t kMtu = 10;
inline constexpr uint32_t kSpeed = 12;
inline constexpr uint32_t kDuplex = 16;
inline constexpr uint32_t kSize = 24;  // through supported_hash_types
}  // namespace net_cfg

// Bytes of device configuration the fields of the offered features need
// (5.1.4: a field exists only with its feature): mac with MAC, status with
// STATUS, max_virtqueue_pairs with MQ, mtu with MTU. Bit numbers as in
// spec::Feature (MAC 5, STATUS 16, MQ 22, MTU 3).
constexpr uint32_t config_bytes_needed(uint64_t features) {
  auto has = [features](unsigned bit) { return ((features >> bit) & 1u) != 0; };
  if (has(3)) return net_cfg::kMtu + 2;
  if (has(22)) return net_cfg::kMaxVirtqueuePairs + 2;
  if (has(16)) return net_cfg::kStatus + 2;
  if (has(5)) return net_cfg::kMac + 6;
  return 0;
}

// A MAC a device may be given or use as its own: not all zero, not
// multicast (bit 0 of the first byte).
constexpr bool is_valid_unicast_mac(const uint8_t* m) {
  return (m[0] | m[1] | m[2] | m[3] | m[4] | m[5]) != 0 && (m[0] & 1u) == 0;
}

inline constexpr uint16_t kMinMtu = 68;                 // 5.1.4.1: mtu >= 68
inline constexpr uint16_t kMaxVirtqueuePairs = 0x8000;  // 5.1.4: 1..0x8000
inline constexpr size_t kEthHeaderSize = 14;
inline constexpr size_t kEthMinFrame = 60;  // without FCS
inline constexpr size_t kEthMaxFrame = 1514;
inline constexpr size_t kVlanTagSize = 4;  // one 802.1Q tag

}  // namespace vnet::spec
