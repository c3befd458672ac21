// 802.1Q tags on the guest's frames: a tagged frame is untagged before the
// responder sees it, and its reply tagged again with the same TCI (VLAN id
// and priority), so that the device's VLAN filter (CTRL_VLAN) can be seen
// from the peer: a tagged echo request comes back tagged, or not at all.
//
//   dst[6] src[6] 0x8100 TCI[2] type[2] payload   (tagged, len >= 18)
//   dst[6] src[6]               type[2] payload   (untagged: len - 4)
//
// Freestanding and allocation-free; the host unit tests
// (tests/qemu/responder_test.cc) run the same code.
#pragma once

#include <stdint.h>

#include "guest/net/byte_order.h"

namespace guest::net {

inline constexpr uint16_t kEtherVlan = 0x8100;
inline constexpr uint32_t kVlanTagLen = 4;

// An 802.1Q frame long enough to hold its tag and the inner type.
inline bool vlan_tagged(const uint8_t* frame, uint32_t len) {
  return frame != nullptr && len >= 18 && be16(frame + 12) == kEtherVlan;
}
// The tag control information of a tagged frame (priority, DEI, VLAN id).
inline uint16_t vlan_tci(const uint8_t* frame) {
  return be16(frame + 14);
}
inline uint16_t vlan_id(uint16_t tci) {
  return tci & 0x0fff;
}

// The tagged frame[0, len) without its tag, into out (out_cap >= len - 4;
// out must not overlap frame). Returns the untagged length, 0 when the
// frame is not tagged or does not fit.
inline uint32_t vlan_strip(const uint8_t* frame, uint32_t len, uint8_t* out, uint32_t out_cap) {
  if (!vlan_tagged(frame, len) || len - kVlanTagLen > out_cap) return 0;
  __builtin_memcpy(out, frame, 12);
  __builtin_memcpy(out + 12, frame + 16, len - 16);
  return len - kVlanTagLen;
}

// Tags frame[0, len) in place with tci (after the MAC addresses). Returns
// the tagged length, 0 when the frame has no Ethernet header or the tag
// does not fit cap.
inline uint32_t vlan_insert(uint8_t* frame, uint32_t len, uint32_t cap, uint16_t tci) {
  if (len < 14 || cap < kVlanTagLen || len > cap - kVlanTagLen) return 0;
  __builtin_memmove(frame + 16, frame + 12, len - 12);
  put16(frame + 12, kEtherVlan);
  put16(frame + 14, tci);
  return len + kVlanTagLen;
}

}  // namespace guest::net
