// virtio-net control virtqueue wire layouts (virtio 1.2, 5.1.6.5) and the
// configuration fields of the control plane (5.1.4: max_virtqueue_pairs,
// rss_max_key_size, rss_max_indirection_table_length,
// supported_hash_types), shared by the driver and the mock device.
//
// A command is one descriptor chain:
//
//   device-readable:  | u8 class | u8 command |  command-specific data ... |
//   device-writable:  | u8 ack |
//
// The device writes VIRTIO_NET_OK (0) or VIRTIO_NET_ERR (1) into ack and
// reports used.len = 1 (the bytes it wrote into the writable part).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "driver/spec/byte_order.h"

namespace vnet::spec::ctrl {

struct Header {
  uint8_t cls;
  uint8_t cmd;
};
static_assert(sizeof(Header) == 2);

inline constexpr uint8_t kAckOk = 0;
inline constexpr uint8_t kAckErr = 1;

// Classes and their commands (5.1.6.5.1 - 5.1.6.5.6).
inline constexpr uint8_t kClassRx = 0;  // data: u8 on (0 off, nonzero on)
inline constexpr uint8_t kRxPromisc = 0;
inline constexpr uint8_t kRxAllMulti = 1;
inline constexpr uint8_t kRxAllUni = 2;  // 2..5 need CTRL_RX_EXTRA
inline constexpr uint8_t kRxNoMulti = 3;
inline constexpr uint8_t kRxNoUni = 4;
inline constexpr uint8_t kRxNoBcast = 5;

inline constexpr uint8_t kClassMac = 1;
inline constexpr uint8_t kMacTableSet = 0;  // data: two MacTable (unicast, then multicast)
inline constexpr uint8_t kMacAddrSet = 1;   // data: u8 mac[6] (CTRL_MAC_ADDR)

inline constexpr uint8_t kClassVlan = 2;  // data: le16 vid (0..4095)
inline constexpr uint8_t kVlanAdd = 0;
inline constexpr uint8_t kVlanDel = 1;

inline constexpr uint8_t kClassAnnounce = 3;  // no data (GUEST_ANNOUNCE)
inline constexpr uint8_t kAnnounceAck = 0;

inline constexpr uint8_t kClassMq = 4;
inline constexpr uint8_t kMqVqPairsSet = 0;  // data: le16 virtqueue_pairs (MQ)
inline constexpr uint8_t kMqRssConfig = 1;   // data: RssConfig (RSS)
inline constexpr uint8_t kMqHashConfig = 2;  // data: HashConfig (HASH_REPORT)

inline constexpr uint8_t kClassGuestOffloads = 5;  // data: le64 offloads
inline constexpr uint8_t kGuestOffloadsSet = 0;

// MAC_TABLE_SET: le32 entries; u8 macs[entries][6] -- once for unicast,
// once for multicast, back to back.
inline constexpr size_t kMacTableHeader = 4;
inline constexpr size_t kMacLen = 6;

inline constexpr uint16_t kVlanMax = 4095;  // vid 0..4095 (12 bits)

// VQ_PAIRS_SET bounds (5.1.6.5.5): 1 .. max_virtqueue_pairs <= 0x8000.
inline constexpr uint16_t kMinVqPairs = 1;
inline constexpr uint16_t kMaxVqPairs = 0x8000;

// RSS_CONFIG (5.1.6.5.7.1):
//   le32 hash_types; le16 indirection_table_mask; le16 unclassified_queue;
//   le16 indirection_table[mask + 1]; le16 max_tx_vq; u8 hash_key_length;
//   u8 hash_key_data[hash_key_length];
// HASH_CONFIG (5.1.6.5.6.4):
//   le32 hash_types; le16 reserved[4]; u8 hash_key_length; u8 key[...];
inline constexpr size_t kRssConfigFixed = 4 + 2 + 2;   // before the table
inline constexpr size_t kRssConfigTail = 2 + 1;        // after the table, before the key
inline constexpr size_t kHashConfigFixed = 4 + 8 + 1;  // before the key

// The key size every RSS device offers at least (5.1.4.2: "MUST set
// rss_max_key_size to at least 40"), and the Toeplitz key length drivers use.
inline constexpr uint8_t kRssKeySize = 40;

// Hash types (5.1.6.4.3.1); bits 0-8.
inline constexpr uint32_t kHashIpv4 = 1u << 0;
inline constexpr uint32_t kHashTcpv4 = 1u << 1;
inline constexpr uint32_t kHashUdpv4 = 1u << 2;
inline constexpr uint32_t kHashIpv6 = 1u << 3;
inline constexpr uint32_t kHashTcpv6 = 1u << 4;
inline constexpr uint32_t kHashUdpv6 = 1u << 5;
inline constexpr uint32_t kHashIpEx = 1u << 6;
inline constexpr uint32_t kHashTcpEx = 1u << 7;
inline constexpr uint32_t kHashUdpEx = 1u << 8;
inline constexpr uint32_t kHashAll = (1u << 9) - 1;

// Hash report values in the rx header (HASH_REPORT, 5.1.6.4.3.2).
inline constexpr uint16_t kReportNone = 0;
inline constexpr uint16_t kReportMax = 9;  // UDPv6_EX

// Configuration offsets of the RSS fields (5.1.4).
inline constexpr uint32_t kCfgRssMaxKeySize = 17;              // u8
inline constexpr uint32_t kCfgRssMaxIndirectionTableLen = 18;  // le16
inline constexpr uint32_t kCfgSupportedHashTypes = 20;         // le32

// The rx header with HASH_REPORT (5.1.6): the 12-byte header, then
// le32 hash_value; le16 hash_report; le16 padding_reserved.
inline constexpr size_t kNetHdrHashSize = 20;
inline constexpr size_t kHashValueOffset = 12;
inline constexpr size_t kHashReportOffset = 16;

}  // namespace vnet::spec::ctrl
