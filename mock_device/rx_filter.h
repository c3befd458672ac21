// The network device's receive side of the control plane (virtio 1.2,
// 5.1.6.5.1 - 5.1.6.5.7, 5.1.6.4.3): the receive filter a control queue
// programs, and receive-side scaling (the Toeplitz hash, hash types,
// indirection table). Pure data and functions, no device state: MockDevice
// (mock_ctrl.cc) owns one RxFilter and one RssState and asks them about
// every frame it delivers.
//
// The semantics are QEMU 7.2's virtio-net (hw/net/virtio-net.c), which is
// the ground truth the mock imitates:
//
//  * after a reset the device is promiscuous, every other mode off, the MAC
//    table empty, no VLAN added (virtio_net_reset);
//  * with CTRL_VLAN negotiated every VLAN id is filtered until added;
//    without it every id passes (virtio_net_set_features);
//  * receive_filter(): promiscuous accepts everything; otherwise a frame
//    with an 802.1Q tag (0x8100) is dropped unless its VLAN id was added;
//    broadcast passes unless NOBCAST; other multicast: NOMULTI drops,
//    ALLMULTI or a multicast table overflow accept, else the multicast
//    table decides; unicast: NOUNI drops, ALLUNI or a unicast table
//    overflow accept, else the device MAC or the unicast table decide.
//  * MAC_TABLE_SET: up to MAC_TABLE_ENTRIES (64) addresses in all; a table
//    with more entries than fit is not stored and sets its overflow flag
//    (accept all of that kind) instead.
//  * RSS (virtio_net_process_rss): the hash type is chosen from the frame's
//    protocols and the configured hash types (TCP/UDP before plain IP;
//    for IPv6 the _EX types before the plain ones); no applicable type:
//    the unclassified queue, hash report NONE. Otherwise the Toeplitz hash
//    of the fields of 5.1.6.4.3.1 picks table[hash & mask].
//
// Not modelled: IPv6 extension headers are not walked (a frame whose next
// header is not TCP or UDP is hashed as plain IPv6, and the _EX types use
// the packet's own addresses, as QEMU does when no home address or routing
// header is present); IPv4 fragments are hashed as plain IPv4.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <array>
#include <span>
#include <vector>

namespace vnet::mock {

using MacAddress = std::array<uint8_t, 6>;

struct RxFilter {
  static constexpr size_t kMacTableEntries = 64;  // QEMU's MAC_TABLE_ENTRIES
  static constexpr uint16_t kMaxVlan = 4096;

  bool promisc = true;
  bool allmulti = false;
  bool alluni = false;
  bool nomulti = false;
  bool nouni = false;
  bool nobcast = false;
  // MAC table: unicast entries [0, first_multi), multicast [first_multi, end).
  std::vector<MacAddress> macs;
  size_t first_multi = 0;
  bool uni_overflow = false;
  bool multi_overflow = false;
  std::array<uint32_t, kMaxVlan / 32> vlans{};

  // The state after a device reset; vlan_filtering: CTRL_VLAN negotiated
  // (every id filtered until added) or not (every id passes).
  void reset(bool vlan_filtering);
  void set_vlan_filtering(bool on) { vlans.fill(on ? 0 : 0xFFFF'FFFFu); }
  bool vlan_added(uint16_t vid) const {
    return vid < kMaxVlan && (vlans[vid >> 5] >> (vid & 31)) & 1;
  }
  // Whether the device delivers frame (Ethernet, no net header) to a
  // driver whose MAC is mac.
  bool accepts(std::span<const uint8_t> frame, const MacAddress& mac) const;
};

// Hash report values (5.1.6.4.3.2).
enum class HashReport : uint16_t {
  kNone = 0,
  kIpv4 = 1,
  kTcpv4 = 2,
  kUdpv4 = 3,
  kIpv6 = 4,
  kTcpv6 = 5,
  kUdpv6 = 6,
  kIpv6Ex = 7,
  kTcpv6Ex = 8,
  kUdpv6Ex = 9,
};

// The Toeplitz hash of input with key (5.1.6.4.3.1; the RSS verification
// suite's algorithm): bits of the key past its end count as 0.
uint32_t toeplitz_hash(std::span<const uint8_t> key, std::span<const uint8_t> input);

struct RssState {
  bool enabled = false;   // RSS_CONFIG or HASH_CONFIG took effect
  bool redirect = false;  // steering by the table (RSS_CONFIG with RSS negotiated)
  uint32_t hash_types = 0;
  std::vector<uint16_t> table;  // indirection table (mask + 1 entries)
  uint16_t unclassified = 0;
  std::vector<uint8_t> key;
};

struct RssResult {
  HashReport report = HashReport::kNone;
  uint32_t hash = 0;
};

// The hash of frame (Ethernet, an optional 802.1Q tag, IPv4/IPv6, TCP/UDP)
// under the given hash types and key: kNone with hash 0 when no type
// applies.
RssResult rss_hash(std::span<const uint8_t> frame, uint32_t hash_types,
                   std::span<const uint8_t> key);

}  // namespace vnet::mock
