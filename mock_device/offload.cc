#include "mock_device/offload.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "driver/spec/byte_order.h"

namespace vnet::mock::offload {

namespace nh = spec::net_hdr;
using spec::has_feature;

namespace {

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86DD;
constexpr uint16_t kEtherVlan = 0x8100;
constexpr uint16_t kEtherQinQ = 0x88A8;
constexpr uint32_t kEthHeader = 14;
constexpr uint32_t kIpv6Header = 40;
constexpr uint32_t kUdpHeader = 8;
constexpr uint32_t kTcpMinHeader = 20;

uint16_t be16(const uint8_t* p) {
  return uint16_t(p[0] << 8 | p[1]);
}
uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
void put_be16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
void put_be32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}

// The value a checksum field holds after completion (0 sent as 0xFFFF).
uint16_t final_checksum(uint64_t acc) {
  const uint16_t v = uint16_t(~fold(acc));
  return v == 0 ? 0xFFFF : v;
}

// Whether the frame's protocol is what gso_type (without ECN) claims.
bool protocol_matches(uint8_t base, const Layout& l) {
  switch (base) {
    case nh::kGsoTcpV4:
      return l.ok && !l.ipv6 && l.l4_proto == kProtoTcp && !l.fragment;
    case nh::kGsoTcpV6:
      return l.ok && l.ipv6 && l.l4_proto == kProtoTcp && !l.fragment;
    case nh::kGsoUdp:
    case nh::kGsoUdpL4:
      return l.ok && l.l4_proto == kProtoUdp && !l.fragment;
    default:
      return false;
  }
}

bool host_gso_negotiated(uint8_t base, uint64_t neg) {
  switch (base) {
    case nh::kGsoTcpV4:
      return has_feature(neg, Feature::kNetHostTso4);
    case nh::kGsoTcpV6:
      return has_feature(neg, Feature::kNetHostTso6);
    case nh::kGsoUdp:
      return has_feature(neg, Feature::kNetHostUfo);
    case nh::kGsoUdpL4:
      return has_feature(neg, Feature::kNetHostUso);
    default:
      return false;
  }
}

// Equal as ones' complement values (0 and 0xFFFF are both zero).
bool csum_equal(uint16_t a, uint16_t b) {
  auto norm = [](uint16_t v) { return v == 0xFFFF ? uint16_t(0) : v; };
  return norm(a) == norm(b);
}

}  // namespace

Layout parse(std::span<const uint8_t> f) {
  Layout l;
  const size_t n = f.size();
  if (n < kEthHeader) return l;
  uint32_t at = 12;
  uint16_t type = be16(&f[at]);
  for (int tags = 0; tags < 2 && (type == kEtherVlan || type == kEtherQinQ); ++tags) {
    at += 4;
    if (n < at + 2) return l;
    type = be16(&f[at]);
  }
  at += 2;
  l.l3 = at;
  uint8_t proto = 0;
  if (type == kEtherIpv4) {
    if (n < at + 20 || (f[at] >> 4) != 4) return l;
    const uint32_t ihl = uint32_t(f[at] & 0x0F) * 4;
    if (ihl < 20 || n < at + ihl) return l;
    l.fragment = (be16(&f[at + 6]) & 0x3FFF) != 0;
    proto = f[at + 9];
    l.l4 = at + ihl;
  } else if (type == kEtherIpv6) {
    if (n < at + kIpv6Header || (f[at] >> 4) != 6) return l;
    l.ipv6 = true;
    proto = f[at + 6];
    uint32_t next = at + kIpv6Header;
    // Extension headers: hop-by-hop 0, routing 43, fragment 44, destination 60.
    for (int hops = 0; hops < 8 && (proto == 0 || proto == 43 || proto == 44 || proto == 60);
         ++hops) {
      if (n < next + 8) return l;
      if (proto == 44) l.fragment = true;
      const uint32_t len = proto == 44 ? 8 : (uint32_t(f[next + 1]) + 1) * 8;
      proto = f[next];
      next += len;
    }
    if (n < next) return l;
    l.l4 = next;
  } else {
    return l;
  }
  l.ip = true;
  if (proto == kProtoTcp) {
    if (n < l.l4 + kTcpMinHeader) return l;
    const uint32_t doff = uint32_t(f[l.l4 + 12] >> 4) * 4;
    if (doff < kTcpMinHeader || n < l.l4 + doff) return l;
    l.headers = l.l4 + doff;
  } else if (proto == kProtoUdp) {
    if (n < l.l4 + kUdpHeader) return l;
    l.headers = l.l4 + kUdpHeader;
  } else {
    return l;
  }
  l.l4_proto = proto;
  l.ok = true;
  return l;
}

uint64_t sum16(const uint8_t* p, size_t n, uint64_t acc) {
  size_t i = 0;
  for (; i + 1 < n; i += 2) acc += uint64_t(p[i]) << 8 | p[i + 1];
  if (i < n) acc += uint64_t(p[i]) << 8;
  return acc;
}

uint16_t fold(uint64_t acc) {
  while (acc >> 16) acc = (acc & 0xFFFF) + (acc >> 16);
  return uint16_t(acc);
}

uint64_t pseudo_sum(const uint8_t* frame, const Layout& l, uint32_t l4_len) {
  const uint8_t* ip = frame + l.l3;
  uint64_t acc = l.ipv6 ? sum16(ip + 8, 32) : sum16(ip + 12, 8);
  acc += l.l4_proto;
  acc += l4_len >> 16;
  acc += l4_len & 0xFFFF;
  return acc;
}

uint16_t ipv4_header_checksum(const uint8_t* ip) {
  const size_t ihl = size_t(ip[0] & 0x0F) * 4;
  const uint64_t acc = sum16(ip, 10) + sum16(ip + 12, ihl - 12);
  return uint16_t(~fold(acc));
}

Header read_header(const uint8_t* hdr) {
  Header h;
  h.flags = hdr[0];
  h.gso_type = hdr[1];
  h.hdr_len = spec::load_le16(hdr + 2);
  h.gso_size = spec::load_le16(hdr + 4);
  h.csum_start = spec::load_le16(hdr + 6);
  h.csum_offset = spec::load_le16(hdr + 8);
  return h;
}

void write_header(const Header& h, uint8_t* hdr) {
  hdr[0] = h.flags;
  hdr[1] = h.gso_type;
  spec::store_le16(hdr + 2, h.hdr_len);
  spec::store_le16(hdr + 4, h.gso_size);
  spec::store_le16(hdr + 6, h.csum_start);
  spec::store_le16(hdr + 8, h.csum_offset);
}

TxPlan check_tx(const Header& h, std::span<const uint8_t> frame, uint64_t neg, Conformance& c) {
  TxPlan plan;
  const bool csum = has_feature(neg, Feature::kNetCsum);
  const bool needs = (h.flags & nh::kFlagNeedsCsum) != 0;
  const uint8_t base = h.gso_type & uint8_t(~nh::kGsoEcn);
  const bool gso = base != nh::kGsoNone && host_gso_negotiated(base, neg);
  const size_t len = frame.size();
  if (!(csum && needs) && !gso) return plan;  // nothing the device is asked to do
  plan.layout = parse(frame);
  const Layout& l = plan.layout;
  const std::string where = "transmit header (flags " + hex(h.flags) + ", gso_type " +
                            hex(h.gso_type) + ", csum_start " + std::to_string(h.csum_start) +
                            ", csum_offset " + std::to_string(h.csum_offset) + ") of a " +
                            std::to_string(len) + "-byte frame: ";
  bool drop = false;
  if (csum && needs) {
    if (uint32_t(h.csum_start) + h.csum_offset + 2 > len) {
      c.report("drv-5.1.6.2.1-8",
               where + "csum_start + csum_offset + 2 lies beyond the end of the frame");
      drop = true;
    } else {
      // 5.1.6.2.1: everything before the checksum is the driver's to
      // validate -- of the headers, only IPv4 has a checksum of its own.
      if (l.ip && !l.ipv6 && h.csum_start >= l.l4 && !gso) {
        const uint8_t* ip = frame.data() + l.l3;
        const uint16_t want = ipv4_header_checksum(ip);
        if (!csum_equal(be16(ip + 10), want))
          c.report("drv-5.1.6.2.1-6", where + "the IPv4 header checksum " + hex(be16(ip + 10)) +
                                          " before csum_start is not valid (" + hex(want) + ")");
      }
      // The stored value must be the pseudo-header sum (with the L4
      // length of this frame: Linux's GSO adjusts it by each segment's).
      if (l.ok && h.csum_start == l.l4 && h.csum_offset == l.csum_offset()) {
        const uint16_t seed = be16(frame.data() + l.l4 + l.csum_offset());
        const uint16_t want = fold(pseudo_sum(frame.data(), l, uint32_t(len - l.l4)));
        if (!csum_equal(seed, want))
          c.report("drv-5.1.6.2.1-7", where + "the checksum field holds " + hex(seed) +
                                          ", not the pseudo-header sum " + hex(want));
      }
    }
  }
  if (gso) {
    const bool tcp_type = base == nh::kGsoTcpV4 || base == nh::kGsoTcpV6;
    if (!needs || h.gso_size == 0) {
      c.report("drv-5.1.6.2.1-10", where + (needs ? "gso_size 0" : "NEEDS_CSUM not set") +
                                       " with a gso_type other than NONE");
      drop = true;
    }
    if (!protocol_matches(base, l)) {
      c.report("def-5.1.6.2-2", where + "the frame is not " +
                                    (base == nh::kGsoTcpV4   ? "TCP over IPv4"
                                     : base == nh::kGsoTcpV6 ? "TCP over IPv6"
                                                             : "UDP over IP") +
                                    " (unfragmented) as its gso_type says");
      drop = true;
    } else {
      if (h.csum_start != l.l4 || h.csum_offset != l.csum_offset()) {
        c.report("drv-5.1.6.2.1-8", where +
                                        "a GSO frame's checksum is its L4 checksum: "
                                        "csum_start " +
                                        std::to_string(l.l4) + ", csum_offset " +
                                        std::to_string(l.csum_offset()));
        drop = true;
      }
      if (has_feature(neg, Feature::kNetGuestHdrLen)) {
        if (h.hdr_len != l.headers)
          c.report("drv-5.1.6.2.1-11", where + "hdr_len " + std::to_string(h.hdr_len) +
                                           " with GUEST_HDRLEN, the headers are " +
                                           std::to_string(l.headers) + " bytes");
      } else if (h.hdr_len < l.headers) {
        c.report("drv-5.1.6.2.1-12", where + "hdr_len " + std::to_string(h.hdr_len) +
                                         " is less than the headers' " + std::to_string(l.headers) +
                                         " bytes");
      }
      if (h.hdr_len > len) drop = true;  // tun: "hdr_len > len" is -EINVAL
      const bool cwr = tcp_type && (frame[l.l4 + 13] & kTcpCwr);
      if (cwr && !has_feature(neg, Feature::kNetHostEcn))
        c.report("drv-5.1.6.2.1-5", where +
                                        "a TCP segment with CWR (ECN) set for "
                                        "segmentation without HOST_ECN negotiated");
      if (cwr && has_feature(neg, Feature::kNetHostEcn) && !(h.gso_type & nh::kGsoEcn))
        c.report("drv-5.1.6.2.1-5", where +
                                        "a TCP segment with CWR (ECN) set for "
                                        "segmentation without the GSO_ECN bit (HOST_ECN)");
    }
    if ((h.gso_type & nh::kGsoEcn) && !tcp_type)
      c.report("drv-5.1.6.2.1-5", where + "the GSO_ECN bit on a gso_type that is not TCP");
  }
  if (drop) {
    plan.action = TxAction::kDrop;
  } else if (gso && base != nh::kGsoUdp) {
    plan.action = TxAction::kSegment;
  } else {
    plan.action = TxAction::kChecksum;  // also UFO: not fragmented, checksum completed
  }
  return plan;
}

void complete_checksum(uint8_t* frame, size_t len, uint16_t csum_start, uint16_t csum_offset) {
  uint8_t* field = frame + csum_start + csum_offset;
  put_be16(field, final_checksum(sum16(frame + csum_start, len - csum_start)));
}

void set_l4_checksum(uint8_t* frame, size_t len, const Layout& l) {
  uint8_t* field = frame + l.l4 + l.csum_offset();
  put_be16(field, 0);
  const uint32_t l4_len = uint32_t(len - l.l4);
  put_be16(field, final_checksum(sum16(frame + l.l4, l4_len, pseudo_sum(frame, l, l4_len))));
}

size_t segment(std::span<const uint8_t> frame, const Layout& l, uint16_t gso_size, uint8_t* out,
               Emit emit, void* context) {
  const size_t hdrs = l.headers;
  const size_t payload = frame.size() - hdrs;
  const size_t n = payload == 0 ? 1 : (payload + gso_size - 1) / gso_size;
  const bool tcp = l.l4_proto == kProtoTcp;
  const uint8_t* ip0 = frame.data() + l.l3;
  const uint16_t id0 = l.ipv6 ? 0 : be16(ip0 + 4);
  const uint32_t seq0 = tcp ? be32(frame.data() + l.l4 + 4) : 0;
  const uint8_t flags0 = tcp ? frame[l.l4 + 13] : 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t from = i * size_t(gso_size);
    const size_t take = std::min<size_t>(gso_size, payload - std::min(payload, from));
    const size_t seg_len = hdrs + take;
    std::memcpy(out, frame.data(), hdrs);
    std::memcpy(out + hdrs, frame.data() + hdrs + from, take);
    uint8_t* ip = out + l.l3;
    if (l.ipv6) {
      put_be16(ip + 4, uint16_t(seg_len - l.l3 - kIpv6Header));
    } else {
      put_be16(ip + 2, uint16_t(seg_len - l.l3));
      put_be16(ip + 4, uint16_t(id0 + i));
      put_be16(ip + 10, 0);
      put_be16(ip + 10, ipv4_header_checksum(ip));
    }
    uint8_t* l4 = out + l.l4;
    if (tcp) {
      put_be32(l4 + 4, uint32_t(seq0 + from));
      uint8_t flags = flags0;
      if (i + 1 < n) flags &= uint8_t(~(kTcpFin | kTcpPsh));
      if (i > 0) flags &= uint8_t(~kTcpCwr);
      l4[13] = flags;
    } else {
      put_be16(l4 + 4, uint16_t(seg_len - l.l4));
    }
    set_l4_checksum(out, seg_len, l);
    emit(context, std::span<const uint8_t>(out, seg_len));
  }
  return n;
}

bool checksum_ok(std::span<const uint8_t> frame, const Layout& l) {
  if (!l.ok) return false;
  const uint8_t* f = frame.data();
  if (!l.ipv6 && !csum_equal(be16(f + l.l3 + 10), ipv4_header_checksum(f + l.l3))) return false;
  const uint32_t l4_len = uint32_t(frame.size() - l.l4);
  if (l.l4_proto == kProtoUdp && !l.ipv6 && be16(f + l.l4 + 6) == 0) return true;
  return fold(sum16(f + l.l4, l4_len, pseudo_sum(f, l, l4_len))) == 0xFFFF;
}

bool fix_lengths(uint8_t* frame, size_t len, const Layout& l) {
  uint8_t* ip = frame + l.l3;
  if (l.ipv6) {
    if (len - l.l3 - kIpv6Header > 0xFFFF) return false;
    put_be16(ip + 4, uint16_t(len - l.l3 - kIpv6Header));
  } else {
    if (len - l.l3 > 0xFFFF) return false;
    put_be16(ip + 2, uint16_t(len - l.l3));
    put_be16(ip + 10, 0);
    put_be16(ip + 10, ipv4_header_checksum(ip));
  }
  if (l.l4_proto == kProtoUdp) {
    if (len - l.l4 > 0xFFFF) return false;
    put_be16(frame + l.l4 + 4, uint16_t(len - l.l4));
  }
  return true;
}

void partial(uint8_t* frame, size_t len, const Layout& l, Header* h) {
  const uint32_t l4_len = uint32_t(len - l.l4);
  put_be16(frame + l.l4 + l.csum_offset(), fold(pseudo_sum(frame, l, l4_len)));
  h->flags = nh::kFlagNeedsCsum;
  h->csum_start = uint16_t(l.l4);
  h->csum_offset = l.csum_offset();
}

size_t coalesce(std::span<const std::span<const uint8_t>> segs, uint8_t* out, size_t cap,
                uint16_t* gso_size) {
  if (segs.empty()) return 0;
  const std::span<const uint8_t> first = segs[0];
  const Layout l = parse(first);
  if (!l.ok || l.l4_proto != kProtoTcp || l.fragment) return 0;
  const size_t hdrs = l.headers;
  const size_t mss = first.size() - hdrs;
  if (mss == 0 || mss > 0xFFFF) return 0;
  // What must be equal: Ethernet, the IP addresses (and protocol), the
  // ports, the acknowledgment, the data offset and the options.
  const size_t addr_at = l.ipv6 ? l.l3 + 8 : l.l3 + 12;
  const size_t addr_len = l.ipv6 ? 32 : 8;
  size_t total = hdrs;
  uint32_t next_seq = be32(first.data() + l.l4 + 4) + uint32_t(mss);
  for (size_t k = 0; k < segs.size(); ++k) {
    const std::span<const uint8_t> s = segs[k];
    const Layout lk = parse(s);
    // (Equal header lengths make every segment TCP as the first is: UDP's
    // would end 12 bytes earlier at least.)
    if (!lk.ok || lk.fragment || lk.ipv6 != l.ipv6 || lk.l3 != l.l3 || lk.l4 != l.l4 ||
        lk.headers != hdrs)
      return 0;
    const size_t pay = s.size() - hdrs;
    const bool last = k + 1 == segs.size();
    if (pay == 0 || pay > mss || (!last && pay != mss)) return 0;
    if (std::memcmp(s.data(), first.data(), l.l3) != 0 ||
        std::memcmp(s.data() + addr_at, first.data() + addr_at, addr_len) != 0 ||
        std::memcmp(s.data() + l.l4, first.data() + l.l4, 4) != 0 ||          // ports
        std::memcmp(s.data() + l.l4 + 8, first.data() + l.l4 + 8, 5) != 0 ||  // ack, doff
        std::memcmp(s.data() + l.l4 + 20, first.data() + l.l4 + 20, hdrs - l.l4 - 20) != 0)
      return 0;
    const uint8_t flags = s[l.l4 + 13];
    if (flags & (kTcpSyn | kTcpRst | kTcpUrg)) return 0;
    if (!last && (flags & (kTcpFin | kTcpPsh))) return 0;
    if (k > 0 && (flags & kTcpCwr)) return 0;
    if (k > 0) {
      if (be32(s.data() + l.l4 + 4) != next_seq) return 0;
      next_seq += uint32_t(pay);
    }
    total += pay;
  }
  if (total > cap) return 0;
  std::memcpy(out, first.data(), hdrs);
  size_t at = hdrs;
  for (const auto& s : segs) {
    std::memcpy(out + at, s.data() + hdrs, s.size() - hdrs);
    at += s.size() - hdrs;
  }
  out[l.l4 + 13] = uint8_t(first[l.l4 + 13] | (segs.back()[l.l4 + 13] & (kTcpFin | kTcpPsh)));
  if (!fix_lengths(out, total, l)) return 0;
  *gso_size = uint16_t(mss);
  return total;
}

}  // namespace vnet::mock::offload
