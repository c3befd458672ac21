#include "tools/vnet-vhost/traffic.h"

#include <string.h>

namespace vnet::vhost_tool {

void build_frame(uint8_t* out, uint32_t size, uint64_t seq, uint16_t pair, const uint8_t dst[6],
                 const uint8_t src[6]) {
  memcpy(out, dst, 6);
  memcpy(out + 6, src, 6);
  out[12] = kEtherType >> 8;
  out[13] = kEtherType & 0xFF;
  memcpy(out + 14, &kMagic, 4);
  memcpy(out + 18, &seq, 8);
  const uint16_t sz = static_cast<uint16_t>(size);
  memcpy(out + 26, &sz, 2);
  memcpy(out + 28, &pair, 2);
  const uint8_t base = static_cast<uint8_t>(seq * 31);
  for (uint32_t i = kStampEnd; i < size; ++i) out[i] = static_cast<uint8_t>(base + i);
}

FrameCheck check_frame(const uint8_t* frame, uint32_t len, uint64_t* seq) {
  if (len < kStampEnd || frame[12] != (kEtherType >> 8) || frame[13] != (kEtherType & 0xFF))
    return FrameCheck::kForeign;
  uint32_t magic;
  memcpy(&magic, frame + 14, 4);
  if (magic != kMagic) return FrameCheck::kForeign;
  memcpy(seq, frame + 18, 8);
  uint16_t sz;
  memcpy(&sz, frame + 26, 2);
  if (sz != len) return FrameCheck::kBadSize;
  const uint8_t base = static_cast<uint8_t>(*seq * 31);
  for (uint32_t i = kStampEnd; i < len; ++i)
    if (frame[i] != static_cast<uint8_t>(base + i)) return FrameCheck::kBadBytes;
  return FrameCheck::kOk;
}

}  // namespace vnet::vhost_tool
