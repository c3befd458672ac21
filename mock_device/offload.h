// The mock device's checksum and segmentation offloads (virtio 1.2, 5.1.6.2
// and 5.1.6.4): what a device with a vnet-header backend (QEMU 7.2 over a
// tap with vnet_hdr=on, the Linux kernel behind it) does with the net
// header's offload fields, as functions of a frame and a header. The
// MockDevice calls them from its transmit and receive paths.
//
// The header (5.1.6): flags (NEEDS_CSUM 1, DATA_VALID 2, RSC_INFO 4),
// gso_type (NONE 0, TCPV4 1, UDP 3, TCPV6 4, UDP_L4 5, | ECN 0x80), le16
// hdr_len, gso_size, csum_start, csum_offset (then num_buffers).
//
// Frames: Ethernet II with up to two 802.1Q/802.1ad tags, then IPv4 (any
// IHL) or IPv6 (hop-by-hop, routing, destination options and fragment
// headers walked), then TCP (any data offset) or UDP: parse() finds the
// offsets; anything else is "not TCP/UDP".
//
// Transmit (the driver's side, 5.1.6.2.1): check_tx() records in the
// Conformance every header rule the frame breaks, and plans what a Linux
// device does with it:
//   send      no offload asked (or one not negotiated: the frame goes out as
//             it is, after the rules recorded the violation);
//   checksum  NEEDS_CSUM with CSUM: the ones' complement sum from csum_start
//             to the end (the driver left the pseudo-header sum at
//             csum_start + csum_offset) stored there (0 stored as 0xFFFF,
//             as Linux's skb_checksum_help);
//   segment   a GSO frame (TCPV4/TCPV6/UDP_L4 with its HOST_* feature):
//             segment() cuts it into wire frames of the headers plus
//             gso_size payload bytes each, like Linux GSO: IPv4 total
//             length, id + i and header checksum; IPv6 payload length; TCP
//             sequence advanced, FIN and PSH only on the last segment, CWR
//             only on the first; UDP_L4 each segment a datagram with its own
//             length; every segment's L4 checksum computed from scratch (the
//             pseudo header with the segment's own length);
//   drop      what Linux's virtio_net_hdr_to_skb / GSO refuses: csum_start +
//             csum_offset + 2 beyond the frame, a GSO frame without
//             NEEDS_CSUM or gso_size, not the protocol its gso_type claims,
//             csum_start not its L4 header, hdr_len beyond the frame.
//   UDP (UFO, gso_type 3) is not segmented (no IP fragmentation): the frame
//   goes out whole with its checksum completed.
//
// Receive (the device's side, 5.1.6.4): partial() turns a frame into what a
// tap delivers for locally generated traffic (NEEDS_CSUM, csum_start at the
// L4 header, the pseudo-header sum in the checksum field), checksum_ok()
// decides DATA_VALID, gso_header() describes one large TCP/UDP frame as a
// GRO'd packet (gso_type, ECN, hdr_len, gso_size, partial checksum) and
// coalesce() merges consecutive TCP segments of one flow as GRO does.
//
// Nothing here allocates: frames are written into the caller's buffers.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <span>

#include "driver/spec/virtio_constants.h"
#include "mock_device/conformance.h"

namespace vnet::mock::offload {

using spec::Feature;
using spec::feature_mask;

// The receive offloads CTRL_GUEST_OFFLOADS switches (5.1.6.5.8).
inline constexpr uint64_t kGuestOffloads =
    feature_mask(Feature::kNetGuestCsum) | feature_mask(Feature::kNetGuestTso4) |
    feature_mask(Feature::kNetGuestTso6) | feature_mask(Feature::kNetGuestEcn) |
    feature_mask(Feature::kNetGuestUfo) | feature_mask(Feature::kNetGuestUso4) |
    feature_mask(Feature::kNetGuestUso6);
// DeviceConfig::offer_offloads: QEMU's offer over a tap with vnet_hdr=on
// (without UFO), plus USO (QEMU 7.2 has none). CTRL_GUEST_OFFLOADS (2) is
// added with CTRL_VQ.
inline constexpr uint64_t kOffloadOffer =
    feature_mask(Feature::kNetCsum) | feature_mask(Feature::kNetGuestCsum) |
    feature_mask(Feature::kNetGuestTso4) | feature_mask(Feature::kNetGuestTso6) |
    feature_mask(Feature::kNetGuestEcn) | feature_mask(Feature::kNetHostTso4) |
    feature_mask(Feature::kNetHostTso6) | feature_mask(Feature::kNetHostEcn) |
    feature_mask(Feature::kNetGuestUso4) | feature_mask(Feature::kNetGuestUso6) |
    feature_mask(Feature::kNetHostUso);

inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint16_t kTcpCsumOffset = 16;
inline constexpr uint16_t kUdpCsumOffset = 6;
inline constexpr uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpPsh = 0x08,
                         kTcpAck = 0x10, kTcpUrg = 0x20, kTcpCwr = 0x80;

// Where a frame's headers are.
struct Layout {
  bool ip = false;  // an IPv4/IPv6 header lies inside the frame at l3
  bool ok = false;  // ... followed by a whole TCP or UDP header at l4
  bool ipv6 = false;
  bool fragment = false;  // IPv4 MF/offset, or an IPv6 fragment header
  uint8_t l4_proto = 0;   // kProtoTcp / kProtoUdp (ok only)
  uint32_t l3 = 0;        // IP header offset
  uint32_t l4 = 0;        // transport header offset
  uint32_t headers = 0;   // l4 + the transport header's length
  uint16_t csum_offset() const { return l4_proto == kProtoTcp ? kTcpCsumOffset : kUdpCsumOffset; }
};
Layout parse(std::span<const uint8_t> frame);

// Ones' complement arithmetic (RFC 1071): the 16-bit big-endian words of
// p[0..n) added to acc (an odd last byte padded with 0), and the fold.
uint64_t sum16(const uint8_t* p, size_t n, uint64_t acc = 0);
uint16_t fold(uint64_t acc);
// The unfolded pseudo-header sum (addresses, protocol, l4_len) of the frame.
uint64_t pseudo_sum(const uint8_t* frame, const Layout& l, uint32_t l4_len);
// The IPv4 header checksum of the header at ip (its check field taken as 0).
uint16_t ipv4_header_checksum(const uint8_t* ip);

// The net header's offload fields.
struct Header {
  uint8_t flags = 0;
  uint8_t gso_type = 0;
  uint16_t hdr_len = 0;
  uint16_t gso_size = 0;
  uint16_t csum_start = 0;
  uint16_t csum_offset = 0;
};
Header read_header(const uint8_t* hdr);
void write_header(const Header& h, uint8_t* hdr);  // the first 10 bytes

// ---- transmit ----
enum class TxAction : uint8_t { kSend, kChecksum, kSegment, kDrop };
struct TxPlan {
  TxAction action = TxAction::kSend;
  Layout layout;
};
// The header rules of 5.1.6.2.1 (recorded in c) and the plan.
TxPlan check_tx(const Header& h, std::span<const uint8_t> frame, uint64_t negotiated,
                Conformance& c);
// Completes the checksum the header asks for in place (the plan's kChecksum).
void complete_checksum(uint8_t* frame, size_t len, uint16_t csum_start, uint16_t csum_offset);
// Cuts the GSO frame (kSegment) into segments, each built in out (at least
// as large as the frame) and handed to emit. Returns the segments emitted.
using Emit = void (*)(void* context, std::span<const uint8_t> segment);
size_t segment(std::span<const uint8_t> frame, const Layout& l, uint16_t gso_size, uint8_t* out,
               Emit emit, void* context);
// Sets the L4 checksum of a frame (parse()d as l) from scratch.
void set_l4_checksum(uint8_t* frame, size_t len, const Layout& l);

// ---- receive ----
// True when the frame is TCP/UDP over IP, its IPv4 header checksum (if any)
// and L4 checksum verify (a UDP checksum of 0 over IPv4: none to verify).
bool checksum_ok(std::span<const uint8_t> frame, const Layout& l);
// The IP total/payload length, the IPv4 header checksum and the UDP length
// made to match the frame's length (what GRO rewrites). False when the
// lengths do not fit their fields.
bool fix_lengths(uint8_t* frame, size_t len, const Layout& l);
// A partial checksum: the pseudo-header sum (with the L4 length) in the L4
// checksum field, h.flags NEEDS_CSUM, csum_start/csum_offset naming it.
void partial(uint8_t* frame, size_t len, const Layout& l, Header* h);
// Merges TCP segments of one flow (same addresses and ports, consecutive
// sequence numbers, equal acknowledgment, header lengths and options, every
// payload but the last's of the first's size, no SYN/RST/URG, FIN/PSH only
// on the last, CWR only on the first) into out (cap bytes): the first's
// headers, the payloads in order, FIN/PSH of the last. Returns the merged
// length (0: not mergeable) and the first payload's size in *gso_size.
size_t coalesce(std::span<const std::span<const uint8_t>> segments, uint8_t* out, size_t cap,
                uint16_t* gso_size);

}  // namespace vnet::mock::offload
