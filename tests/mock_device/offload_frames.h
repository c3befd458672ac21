// Frames for the offload tests, built and checked independently of the
// mock device's own offload code (mock_device/offload.cc): Ethernet, IPv4
// (20-byte header) or IPv6 (40, no extension headers), TCP (20 bytes plus
// options) or UDP, a payload of a counting pattern, every checksum right.
//
// The checksums here are RFC 1071 as written in its text (a 32-bit sum of
// 16-bit words, carries folded at the end), the pseudo headers of RFC 793 /
// RFC 8200; verify_*() recompute a frame's checksums and compare.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <cstring>
#include <vector>

namespace vnet::mock::testing {

struct FrameSpec {
  bool ipv6 = false;
  bool udp = false;
  size_t payload = 100;
  uint32_t seq = 1000;
  uint32_t ack = 77;
  uint8_t tcp_flags = 0x18;  // ACK | PSH
  uint16_t ip_id = 0x1234;
  size_t tcp_options = 0;    // bytes of NOP options (a multiple of 4)
  uint8_t payload_seed = 0;  // the payload's first byte
};

inline uint16_t rd16(const uint8_t* p) {
  return uint16_t(p[0] << 8 | p[1]);
}
inline uint32_t rd32(const uint8_t* p) {
  return uint32_t(rd16(p)) << 16 | rd16(p + 2);
}
inline void wr16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
inline void wr32(uint8_t* p, uint32_t v) {
  wr16(p, uint16_t(v >> 16));
  wr16(p + 2, uint16_t(v));
}

// RFC 1071: sum the words (odd byte padded), fold the carries.
inline uint32_t word_sum(const uint8_t* p, size_t n) {
  uint32_t s = 0;
  for (size_t i = 0; i < n; ++i) s += (i % 2 == 0) ? uint32_t(p[i]) << 8 : p[i];
  return s;
}
inline uint16_t fold16(uint32_t s) {
  while (s > 0xFFFF) s = (s >> 16) + (s & 0xFFFF);
  return uint16_t(s);
}

inline size_t l3_of(const FrameSpec&) {
  return 14;
}
inline size_t l4_of(const FrameSpec& s) {
  return 14 + (s.ipv6 ? 40 : 20);
}
inline size_t headers_of(const FrameSpec& s) {
  return l4_of(s) + (s.udp ? 8 : 20 + s.tcp_options);
}
inline uint16_t csum_offset_of(const FrameSpec& s) {
  return s.udp ? 6 : 16;
}

// The pseudo-header sum (not folded) of frame f for an L4 length.
inline uint32_t pseudo(const std::vector<uint8_t>& f, bool ipv6, uint8_t proto, uint32_t l4_len) {
  const uint8_t* ip = f.data() + 14;
  uint32_t s = ipv6 ? word_sum(ip + 8, 32) : word_sum(ip + 12, 8);
  return s + proto + (l4_len >> 16) + (l4_len & 0xFFFF);
}

inline bool verify_ipv4_header(const std::vector<uint8_t>& f) {
  return fold16(word_sum(f.data() + 14, 20)) == 0xFFFF;
}
// The L4 checksum of a frame with the layout of s (lengths from the frame).
inline bool verify_l4(const std::vector<uint8_t>& f, const FrameSpec& s) {
  const size_t l4 = l4_of(s);
  const uint32_t len = uint32_t(f.size() - l4);
  return fold16(pseudo(f, s.ipv6, s.udp ? 17 : 6, len) + word_sum(f.data() + l4, len)) == 0xFFFF;
}

inline void set_checksums(std::vector<uint8_t>& f, const FrameSpec& s) {
  const size_t l4 = l4_of(s);
  if (!s.ipv6) {
    wr16(&f[24], 0);
    wr16(&f[24], uint16_t(~fold16(word_sum(f.data() + 14, 20))));
  }
  uint8_t* c = &f[l4 + csum_offset_of(s)];
  wr16(c, 0);
  const uint32_t len = uint32_t(f.size() - l4);
  uint16_t v = uint16_t(~fold16(pseudo(f, s.ipv6, s.udp ? 17 : 6, len) + word_sum(&f[l4], len)));
  if (s.udp && v == 0) v = 0xFFFF;
  wr16(c, v);
}

inline std::vector<uint8_t> make_frame(const FrameSpec& s) {
  const size_t l4 = l4_of(s), hdrs = headers_of(s);
  std::vector<uint8_t> f(hdrs + s.payload, 0);
  const uint8_t eth[14] = {0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x02, 0, 0, 0, 0, 1, 0, 0};
  std::memcpy(f.data(), eth, 14);
  wr16(&f[12], s.ipv6 ? 0x86DD : 0x0800);
  uint8_t* ip = &f[14];
  const uint8_t proto = s.udp ? 17 : 6;
  if (s.ipv6) {
    ip[0] = 0x60;
    wr16(ip + 4, uint16_t(f.size() - 14 - 40));
    ip[6] = proto;
    ip[7] = 64;
    for (int i = 0; i < 16; ++i) ip[8 + i] = uint8_t(0x20 + i), ip[24 + i] = uint8_t(0x40 + i);
  } else {
    ip[0] = 0x45;
    wr16(ip + 2, uint16_t(f.size() - 14));
    wr16(ip + 4, s.ip_id);
    wr16(ip + 6, 0x4000);  // DF
    ip[8] = 64;
    ip[9] = proto;
    const uint8_t src[4] = {10, 0, 2, 15}, dst[4] = {10, 0, 2, 2};
    std::memcpy(ip + 12, src, 4);
    std::memcpy(ip + 16, dst, 4);
  }
  uint8_t* t = &f[l4];
  wr16(t, 40000);
  wr16(t + 2, 7);
  if (s.udp) {
    wr16(t + 4, uint16_t(f.size() - l4));
  } else {
    wr32(t + 4, s.seq);
    wr32(t + 8, s.ack);
    t[12] = uint8_t(((20 + s.tcp_options) / 4) << 4);
    t[13] = s.tcp_flags;
    wr16(t + 14, 29200);
    std::memset(t + 20, 1, s.tcp_options);  // NOPs
  }
  for (size_t i = 0; i < s.payload; ++i) f[hdrs + i] = uint8_t(s.payload_seed + i);
  set_checksums(f, s);
  return f;
}

// The frame as a driver hands it over for checksum offload: the L4
// checksum field holds the pseudo-header sum (with the frame's L4 length).
inline void to_partial(std::vector<uint8_t>& f, const FrameSpec& s) {
  const size_t l4 = l4_of(s);
  wr16(&f[l4 + csum_offset_of(s)],
       fold16(pseudo(f, s.ipv6, s.udp ? 17 : 6, uint32_t(f.size() - l4))));
}

// A 12-byte net header.
struct NetHdr {
  uint8_t b[12] = {};
  NetHdr& flags(uint8_t v) { return b[0] = v, *this; }
  NetHdr& gso(uint8_t v) { return b[1] = v, *this; }
  NetHdr& le(size_t at, uint16_t v) {
    return b[at] = uint8_t(v), b[at + 1] = uint8_t(v >> 8), *this;
  }
  NetHdr& hdr_len(uint16_t v) { return le(2, v); }
  NetHdr& gso_size(uint16_t v) { return le(4, v); }
  NetHdr& csum(uint16_t start, uint16_t offset) { return le(6, start).le(8, offset); }
  // NEEDS_CSUM at the frame's L4 checksum (and, with gso, its type and MSS).
  static NetHdr partial(const FrameSpec& s) {
    NetHdr h;
    return h.flags(1).csum(uint16_t(l4_of(s)), csum_offset_of(s));
  }
  static NetHdr tso(const FrameSpec& s, uint16_t mss) {
    const uint8_t type = s.udp ? 5 : (s.ipv6 ? 4 : 1);
    return partial(s).gso(type).gso_size(mss).hdr_len(uint16_t(headers_of(s)));
  }
  uint16_t field(size_t at) const { return uint16_t(b[at] | b[at + 1] << 8); }
};

}  // namespace vnet::mock::testing
