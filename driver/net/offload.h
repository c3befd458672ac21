// Offload headers: the rules of the virtio-net header's offload fields
// (virtio 1.2, 5.1.6.2 transmit, 5.1.6.4 receive), as two pure functions
// the data path calls once per frame.
//
// Receive: every field the device wrote is checked before it reaches the
// caller, in this order, and the first violation names the verdict (the
// driver drops the frame and counts the cause). check_rx_hdr_fields(), on
// the header alone (the driver runs it before it reads any frame byte):
//   gso_type   NONE, or TCPV4 / TCPV6 / UDP_L4 with GUEST_TSO4 / GUEST_TSO6
//              / GUEST_USO4|6 enabled; the ECN bit only on TCP with
//              GUEST_ECN; UDP (UFO) and anything else never
//   flags      only NEEDS_CSUM (with GUEST_CSUM enabled) and DATA_VALID
//              (the 2024 errata allow it without GUEST_CSUM; it then means
//              nothing to us); RSC_INFO and undefined bits never
// check_rx_offload(), on the whole frame (in private memory):
//   NEEDS_CSUM csum_start + csum_offset + 2 within the frame
//   GSO        NEEDS_CSUM set; hdr_len within the frame (a hint, never used
//              as an offset); gso_size nonzero, a segment (headers +
//              gso_size) within the MTU frame, a payload; the frame's
//              headers (in its first buffer) really are IPv4/IPv6 + TCP/UDP
//              as gso_type says, USO4 vs USO6 by the IP version, and
//              csum_start / csum_offset name that L4 checksum field
//              (CVE-2024-43897 was a stack trusting them)
// Only a frame that passes gets its PacketOffload filled. Without NEEDS_CSUM
// the checksum offsets, and without a gso_type hdr_len and gso_size, mean
// nothing and are not looked at (a device may leave anything there).
//
// Transmit -- build_tx_header(): the caller's PacketOffload request is
// checked against the negotiated features and the frame itself, then the
// header is written (flags, gso_type, hdr_len, gso_size, csum_start,
// csum_offset; num_buffers 0, 5.1.6.2.1). A request the driver cannot make
// honestly is refused: the device is never asked for something the frame
// cannot hold.
//
// Enabled offloads are passed as a GuestOffloads bit set (the receive
// side's features as last switched by CTRL_GUEST_OFFLOADS); the transmit
// side takes the negotiated feature word.
#pragma once

#include <stdint.h>

#include "driver/net/packet_buffer.h"
#include "driver/spec/net_layout.h"

namespace vnet {

// Receive offloads in force, one bit each (a compact copy of the GUEST_*
// feature bits, read by the rx context).
namespace guest_offload {
inline constexpr uint8_t kCsum = 1;
inline constexpr uint8_t kTso4 = 2;
inline constexpr uint8_t kTso6 = 4;
inline constexpr uint8_t kEcn = 8;
inline constexpr uint8_t kUso4 = 16;
inline constexpr uint8_t kUso6 = 32;
inline constexpr uint8_t kUfo = 64;
}  // namespace guest_offload

// The compact set of the GUEST_* bits of a feature word, and back.
uint8_t guest_offloads_from_features(uint64_t features);
uint64_t features_from_guest_offloads(uint8_t offloads);

enum class RxOffloadVerdict : uint8_t {
  kOk,
  kFlags,       // a flag not negotiated / not enabled, or undefined
  kGsoType,     // a gso_type (or ECN bit) not negotiated / not enabled, or undefined
  kCsumBounds,  // NEEDS_CSUM: csum_start + csum_offset + 2 beyond the frame
  kHdrLen,      // hdr_len beyond the frame
  kGsoNoCsum,   // a GSO frame without NEEDS_CSUM
  kGsoSize,     // gso_size 0, a segment beyond the MTU frame, or no payload
  kGsoProto,    // the frame is not what gso_type claims, or csum_* not its L4 checksum
};

struct RxFrameView {
  const uint8_t* first;  // the frame's first bytes (private memory)
  uint32_t first_len;    // bytes at first (the first buffer's part)
  uint32_t frame_len;    // the whole frame
  uint32_t mtu_frame;    // largest untagged frame on the link: mtu + 14
};

// The first step, on the header alone (before any frame byte is read):
// flags and gso_type.
RxOffloadVerdict check_rx_hdr_fields(const spec::NetHdr& hdr, uint8_t enabled);
// The second, on a header that passed the first and the whole frame: the
// checksum offsets, hdr_len and the GSO rules. Fills *out on kOk.
RxOffloadVerdict check_rx_offload(const spec::NetHdr& hdr, uint8_t enabled,
                                  const RxFrameView& frame, PacketOffload* out);

enum class TxOffloadVerdict : uint8_t {
  kOk,
  kFeature,     // an offload (or ECN: asked for, or CWR in a TCP frame to
                // segment) not negotiated, or csum kVerified
  kCsumBounds,  // csum_start + csum_offset + 2 beyond the frame
  kGso,         // GSO without kPartial, gso_size 0, not the claimed protocol,
                // csum_* not its L4 checksum, a segment beyond the MTU,
                // no payload, or the frame above kMaxGsoFrame
};

// first/first_len: the first fragment's bytes (the headers must lie there);
// frame_len: the whole frame; mtu: the link's. Writes *hdr (whole) on kOk.
TxOffloadVerdict build_tx_header(const PacketOffload& req, uint64_t features, const uint8_t* first,
                                 uint32_t first_len, uint32_t frame_len, uint32_t mtu,
                                 spec::NetHdr* hdr);

}  // namespace vnet
