// Test frames for vnet-vhost: stamped so that a receiver can tell, byte for
// byte, that a frame is exactly what some sender built.
//
//   dst mac | src mac | ethertype 0x88B5 (IEEE local experimental)
//   le32 magic "vnet" | le64 seq | le16 size | le16 pair | pattern bytes
//
// The pattern byte at offset i (from the frame's start) is (seq * 31 + i)
// & 0xFF, so a frame moved, cut, or mixed with another is caught.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace vnet::vhost_tool {

inline constexpr uint16_t kEtherType = 0x88B5;
inline constexpr uint32_t kMagic = 0x74656e76;  // "vnet"
inline constexpr uint32_t kMinFrame = 60;       // Ethernet minimum, without FCS
inline constexpr uint32_t kStampEnd = 14 + 4 + 8 + 2 + 2;

void build_frame(uint8_t* out, uint32_t size, uint64_t seq, uint16_t pair, const uint8_t dst[6],
                 const uint8_t src[6]);

enum class FrameCheck : uint8_t {
  kOk,
  kForeign,   // not one of ours (other ethertype or magic): ignored
  kBadSize,   // the stamped size is not the frame's length
  kBadBytes,  // a pattern byte differs
};
// Checks a received frame; *seq is its stamp (kOk, kBadSize, kBadBytes).
FrameCheck check_frame(const uint8_t* frame, uint32_t len, uint64_t* seq);

}  // namespace vnet::vhost_tool
