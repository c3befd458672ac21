// TCP and UDP frames for the offload scenarios and benchmarks in the mock
// world (issue 16): what a network stack hands a driver with offloads on.
//
//   Ethernet (to `dst`) | IPv4 (20 bytes, DF) or IPv6 (40, no extension
//   headers) | TCP (20 bytes, ACK|PSH) or UDP (8) | payload (a pattern of seq)
//
// Every length field matches the frame. The checksums are what the frame is
// meant for:
//   kFull      every checksum right (a frame off the wire; the mock device
//              marks it DATA_VALID, or coalesces it)
//   kPartial   the IPv4 header checksum right, the L4 checksum field holding
//              the pseudo-header sum, and the request a driver needs to ask
//              the device to complete it (PacketOffload csum kPartial with
//              csum_start / csum_offset) -- plus, with gso_size, the TSO/USO
//              request (gso kTcp4 / kTcp6 / kUdp)
//
// The arithmetic is the mock device's (mock_device/offload.h): the same
// ones' complement the device checks transmitted frames with.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <vector>

#include "driver/net/packet_buffer.h"

namespace vnet::replay {

struct L4FrameSpec {
  bool ipv6 = false;
  bool udp = false;
  size_t payload = 100;  // bytes after the TCP/UDP header
  uint32_t seq = 0;      // TCP sequence number; also seeds the payload
  // The mock device's MAC (DeviceConfig's default): its receive filter
  // admits the frame once the driver has turned promiscuous mode off.
  uint8_t dst[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
};

enum class L4Checksum : uint8_t { kFull, kPartial };

// Headers before the payload: 14 + 20/40 + 20/8.
size_t l4_headers(const L4FrameSpec& s);

std::vector<uint8_t> l4_frame(const L4FrameSpec& s, L4Checksum csum);

// The transmit request for a kPartial frame of s: the device completes the
// L4 checksum; with gso_size != 0 it also segments (TSO4/TSO6/USO).
PacketOffload tx_offload_request(const L4FrameSpec& s, uint16_t gso_size = 0);

// The TCP segments a sender would send for `total` payload bytes in
// segments of `mss` (consecutive sequence numbers, every checksum right):
// what the mock device coalesces (inject_rx_coalesced).
std::vector<std::vector<uint8_t>> tcp_segments(const L4FrameSpec& s, size_t total, size_t mss);

}  // namespace vnet::replay
