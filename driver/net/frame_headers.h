// Frame headers as the offloads see them: Ethernet (with at most one
// 802.1Q tag), then IPv4 or IPv6, then TCP or UDP -- the frames checksum
// and segmentation offloads act on (virtio 1.2, 5.1.6.2 and 5.1.6.4).
//
//   0            l3                 l4                end
//   | Ethernet   | IPv4 (IHL words) | TCP (data offset) | payload ...
//   | [802.1Q]   | IPv6 (40 bytes)  | UDP (8 bytes)     |
//
// parse_l4_headers() reads only [frame, frame + len) and accepts only what
// an offload may act on: IPv4 with a valid IHL that is not a fragment, IPv6
// whose next header is TCP or UDP itself (extension headers are not
// walked), and a TCP header whose data offset fits. Anything else is "not
// a TCP/UDP frame": the caller drops what claims otherwise. It is used on
// device-written receive frames (after the driver copied them into private
// memory) and on the caller's transmit frames, so every read is bounded by
// len and nothing is trusted. Pure function; no state, any context.
#pragma once

#include <stdint.h>

namespace vnet {

struct L4Headers {
  uint16_t l3 = 0;         // IP header offset
  uint16_t l4 = 0;         // TCP / UDP header offset
  uint16_t end = 0;        // first payload byte: the headers' total length
  uint8_t ip_version = 0;  // 4 or 6
  uint8_t protocol = 0;    // kIpProtoTcp or kIpProtoUdp
  bool vlan = false;       // one 802.1Q tag between MAC addresses and type
};

inline constexpr uint8_t kIpProtoTcp = 6;
inline constexpr uint8_t kIpProtoUdp = 17;
inline constexpr uint16_t kTcpCsumOffset = 16;  // checksum field in the TCP header
inline constexpr uint16_t kUdpCsumOffset = 6;   // checksum field in the UDP header

constexpr bool parse_l4_headers(const uint8_t* f, uint32_t len, L4Headers* out) {
  auto be16 = [f](uint32_t at) { return static_cast<uint16_t>((f[at] << 8) | f[at + 1]); };
  if (len < 14) return false;
  uint32_t l3 = 14;
  uint16_t type = be16(12);
  bool vlan = false;
  if (type == 0x8100) {
    if (len < 18) return false;
    type = be16(16);
    l3 = 18;
    vlan = true;
  }
  uint32_t l4 = 0;
  uint8_t proto = 0, version = 0;
  if (type == 0x0800) {
    if (len < l3 + 20 || (f[l3] >> 4) != 4) return false;
    const uint32_t ihl = (f[l3] & 0xFu) * 4u;
    if (ihl < 20 || len < l3 + ihl) return false;
    if ((be16(l3 + 6) & 0x3FFF) != 0) return false;  // a fragment (MF or an offset)
    proto = f[l3 + 9];
    l4 = l3 + ihl;
    version = 4;
  } else if (type == 0x86DD) {
    if (len < l3 + 40 || (f[l3] >> 4) != 6) return false;
    proto = f[l3 + 6];
    l4 = l3 + 40;
    version = 6;
  } else {
    return false;
  }
  uint32_t end = 0;
  if (proto == kIpProtoTcp) {
    if (len < l4 + 20) return false;
    const uint32_t doff = (f[l4 + 12] >> 4) * 4u;
    if (doff < 20 || len < l4 + doff) return false;
    end = l4 + doff;
  } else if (proto == kIpProtoUdp) {
    if (len < l4 + 8) return false;
    end = l4 + 8;
  } else {
    return false;
  }
  if (end > 0xFFFF) return false;
  out->l3 = static_cast<uint16_t>(l3);
  out->l4 = static_cast<uint16_t>(l4);
  out->end = static_cast<uint16_t>(end);
  out->ip_version = version;
  out->protocol = proto;
  out->vlan = vlan;
  return true;
}

}  // namespace vnet
