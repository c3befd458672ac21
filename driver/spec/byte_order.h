// Wire integers that carry their byte order in their type.
//
// The virtio specification (1.2, section 1.4) defines modern fields as
// little-endian (le16/le32/le64) and legacy fields as "guest-endian"
// (virtio16/...). A wire field never converts implicitly to an integer:
// code says .get() when it reads one and .set() when it writes one, so a
// missing conversion is a compile error, not a silent bug on a big-endian
// port.
//
// vnetkit's platforms (x86-64 guests, x86-64 hosts) are little-endian, so
// both flavours are plain loads and stores there; the static_assert below
// makes a big-endian port fail loudly instead of quietly misbehaving.
#pragma once

#include <stdint.h>

namespace vnet::spec {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "vnetkit's wire types assume a little-endian CPU; a big-endian port "
              "must add byte swaps to LeInt and GuestInt");

// Little-endian integer as stored in device-visible memory or registers.
template <typename T>
struct LeInt {
  T raw;
  constexpr T get() const { return raw; }
  constexpr void set(T v) { raw = v; }
};

// Legacy "guest-endian" integer (virtio 1.2, 1.4: "virtio16" in legacy mode):
// the guest CPU's native order. Identical to LeInt on little-endian CPUs but
// kept distinct so legacy-only fields say what they are.
template <typename T>
struct GuestInt {
  T raw;
  constexpr T get() const { return raw; }
  constexpr void set(T v) { raw = v; }
};

using Le16 = LeInt<uint16_t>;
using Le32 = LeInt<uint32_t>;
using Le64 = LeInt<uint64_t>;
using Guest16 = GuestInt<uint16_t>;
using Guest32 = GuestInt<uint32_t>;

static_assert(sizeof(Le16) == 2 && sizeof(Le32) == 4 && sizeof(Le64) == 8);
static_assert(alignof(Le16) == 2 && alignof(Le32) == 4 && alignof(Le64) == 8);

// Little-endian loads and stores on byte arrays (config space, headers).
constexpr uint16_t load_le16(const uint8_t* p) {
  return uint16_t(p[0] | (p[1] << 8));
}
constexpr uint32_t load_le32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
constexpr void store_le16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v);
  p[1] = uint8_t(v >> 8);
}
constexpr void store_le32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}

}  // namespace vnet::spec
