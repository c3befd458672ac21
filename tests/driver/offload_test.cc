// The offload header rules (driver/net/offload.h) and the frame parser
// (driver/net/frame_headers.h) on their own: every receive verdict from a
// malformed value of each header field, every transmit refusal, and the
// headers built for valid requests.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "driver/net/frame_headers.h"
#include "driver/net/offload.h"
#include "driver/spec/virtio_constants.h"

namespace vnet {
namespace {

namespace hdrf = spec::net_hdr;
using spec::Feature;
using spec::feature_mask;

enum class L3 { kIpv4, kIpv6 };

// Ethernet [+ 802.1Q] + IPv4/IPv6 + TCP/UDP + payload bytes.
std::vector<uint8_t> make_frame(L3 l3, uint8_t proto, size_t payload, bool vlan = false) {
  std::vector<uint8_t> f;
  const uint8_t mac[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
  f.insert(f.end(), mac, mac + 12);
  if (vlan) f.insert(f.end(), {0x81, 0x00, 0x00, 0x05});
  const size_t l4_len = proto == kIpProtoTcp ? 20 : 8;
  if (l3 == L3::kIpv4) {
    f.insert(f.end(), {0x08, 0x00});
    const size_t total = 20 + l4_len + payload;
    f.insert(f.end(), {0x45,
                       0,
                       uint8_t(total >> 8),
                       uint8_t(total),
                       0,
                       1,
                       0x40,
                       0,
                       64,
                       proto,
                       0,
                       0,
                       10,
                       0,
                       0,
                       1,
                       10,
                       0,
                       0,
                       2});
  } else {
    f.insert(f.end(), {0x86, 0xDD});
    const size_t plen = l4_len + payload;
    f.insert(f.end(), {0x60, 0, 0, 0, uint8_t(plen >> 8), uint8_t(plen), proto, 64});
    for (int i = 0; i < 32; ++i) f.push_back(uint8_t(i == 15 || i == 31 ? 1 : 0));
  }
  if (proto == kIpProtoTcp) {
    f.insert(f.end(),
             {0x30, 0x39, 0x00, 0x07, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xFF, 0xFF, 0, 0, 0, 0});
  } else {
    const size_t ulen = 8 + payload;
    f.insert(f.end(), {0x30, 0x39, 0x00, 0x07, uint8_t(ulen >> 8), uint8_t(ulen), 0, 0});
  }
  for (size_t i = 0; i < payload; ++i) f.push_back(uint8_t(i));
  return f;
}

TEST(FrameHeaders, ParsesEachKindAndRefusesTheRest) {
  L4Headers h;
  auto v4 = make_frame(L3::kIpv4, kIpProtoTcp, 10);
  ASSERT_TRUE(parse_l4_headers(v4.data(), uint32_t(v4.size()), &h));
  EXPECT_EQ(h.l3, 14);
  EXPECT_EQ(h.l4, 34);
  EXPECT_EQ(h.end, 54);
  EXPECT_EQ(h.ip_version, 4);
  auto v6 = make_frame(L3::kIpv6, kIpProtoUdp, 10, true);
  ASSERT_TRUE(parse_l4_headers(v6.data(), uint32_t(v6.size()), &h));
  EXPECT_EQ(h.l4, 18 + 40);
  EXPECT_EQ(h.end, 18 + 48);
  EXPECT_TRUE(h.vlan);
  // Every prefix shorter than the headers is refused (no read past len).
  for (uint32_t n = 0; n < 54; ++n) EXPECT_FALSE(parse_l4_headers(v4.data(), n, &h)) << n;
  auto frag = v4;
  frag[14 + 6] = 0x20;  // MF
  EXPECT_FALSE(parse_l4_headers(frag.data(), uint32_t(frag.size()), &h));
  auto ihl = v4;
  ihl[14] = 0x44;  // IHL 4 words
  EXPECT_FALSE(parse_l4_headers(ihl.data(), uint32_t(ihl.size()), &h));
  auto doff = v4;
  doff[34 + 12] = 0x40;  // data offset 16 bytes
  EXPECT_FALSE(parse_l4_headers(doff.data(), uint32_t(doff.size()), &h));
  auto icmp = v4;
  icmp[14 + 9] = 1;
  EXPECT_FALSE(parse_l4_headers(icmp.data(), uint32_t(icmp.size()), &h));
  auto arp = v4;
  arp[12] = 0x08, arp[13] = 0x06;
  EXPECT_FALSE(parse_l4_headers(arp.data(), uint32_t(arp.size()), &h));
  auto ver = v4;
  ver[14] = 0x65;
  EXPECT_FALSE(parse_l4_headers(ver.data(), uint32_t(ver.size()), &h));
}

constexpr uint8_t kAllGuest = guest_offload::kCsum | guest_offload::kTso4 | guest_offload::kTso6 |
                              guest_offload::kEcn | guest_offload::kUso4 | guest_offload::kUso6;

struct RxCase {
  std::vector<uint8_t> frame;
  spec::NetHdr hdr{};
  uint8_t enabled = kAllGuest;
  RxOffloadVerdict run(PacketOffload* out = nullptr) const {
    PacketOffload o;
    const RxFrameView v{frame.data(), uint32_t(frame.size()), uint32_t(frame.size()), 1514};
    const RxOffloadVerdict fields = check_rx_hdr_fields(hdr, enabled);
    if (fields != RxOffloadVerdict::kOk) return fields;
    return check_rx_offload(hdr, enabled, v, out ? out : &o);
  }
};

// A valid coalesced TCPv4 frame, as a tap back end delivers it.
RxCase gso_tcp4() {
  RxCase c;
  c.frame = make_frame(L3::kIpv4, kIpProtoTcp, 4000);
  c.hdr.flags = hdrf::kFlagNeedsCsum;
  c.hdr.gso_type = hdrf::kGsoTcpV4;
  c.hdr.hdr_len.set(54);
  c.hdr.gso_size.set(1448);
  c.hdr.csum_start.set(34);
  c.hdr.csum_offset.set(16);
  return c;
}

TEST(RxOffload, ValidFramesAreReported) {
  PacketOffload o;
  RxCase c = gso_tcp4();
  ASSERT_EQ(c.run(&o), RxOffloadVerdict::kOk);
  EXPECT_EQ(o.gso, GsoKind::kTcp4);
  EXPECT_EQ(o.csum, CsumState::kPartial);
  EXPECT_EQ(o.hdr_len, 54);
  EXPECT_EQ(o.gso_size, 1448);
  RxCase plain;
  plain.frame = make_frame(L3::kIpv6, kIpProtoUdp, 100);
  plain.hdr.flags = hdrf::kFlagDataValid;
  ASSERT_EQ(plain.run(&o), RxOffloadVerdict::kOk);
  EXPECT_EQ(o.csum, CsumState::kVerified);
  plain.enabled = 0;  // DATA_VALID without GUEST_CSUM: allowed, means nothing
  ASSERT_EQ(plain.run(&o), RxOffloadVerdict::kOk);
  EXPECT_EQ(o.csum, CsumState::kNone);
  RxCase uso;
  uso.frame = make_frame(L3::kIpv6, kIpProtoUdp, 3000);
  uso.hdr.flags = hdrf::kFlagNeedsCsum;
  uso.hdr.gso_type = hdrf::kGsoUdpL4;
  uso.hdr.gso_size.set(1000);
  uso.hdr.csum_start.set(54);
  uso.hdr.csum_offset.set(6);
  ASSERT_EQ(uso.run(&o), RxOffloadVerdict::kOk);
  EXPECT_EQ(o.gso, GsoKind::kUdp);
  EXPECT_EQ(o.hdr_len, 62);
}

TEST(RxOffload, EachMalformedFieldHasItsVerdict) {
  struct Lie {
    const char* what;
    void (*apply)(RxCase&);
    RxOffloadVerdict verdict;
  };
  const Lie lies[] = {
      {"RSC_INFO", [](RxCase& c) { c.hdr.flags |= hdrf::kFlagRscInfo; }, RxOffloadVerdict::kFlags},
      {"undefined flag", [](RxCase& c) { c.hdr.flags |= 0x80; }, RxOffloadVerdict::kFlags},
      {"NEEDS_CSUM without GUEST_CSUM", [](RxCase& c) { c.enabled = guest_offload::kTso4; },
       RxOffloadVerdict::kFlags},
      {"gso_type undefined", [](RxCase& c) { c.hdr.gso_type = 2; }, RxOffloadVerdict::kGsoType},
      {"gso_type UFO", [](RxCase& c) { c.hdr.gso_type = hdrf::kGsoUdp; },
       RxOffloadVerdict::kGsoType},
      {"TSO4 not enabled",
       [](RxCase& c) { c.enabled = guest_offload::kCsum | guest_offload::kTso6; },
       RxOffloadVerdict::kGsoType},
      {"ECN without GUEST_ECN",
       [](RxCase& c) {
         c.hdr.gso_type |= hdrf::kGsoEcn;
         c.enabled = guest_offload::kCsum | guest_offload::kTso4;
       },
       RxOffloadVerdict::kGsoType},
      {"ECN on NONE", [](RxCase& c) { c.hdr.gso_type = hdrf::kGsoEcn; },
       RxOffloadVerdict::kGsoType},
      {"csum_start beyond", [](RxCase& c) { c.hdr.csum_start.set(uint16_t(c.frame.size())); },
       RxOffloadVerdict::kCsumBounds},
      {"csum_offset beyond", [](RxCase& c) { c.hdr.csum_offset.set(0xFFFF); },
       RxOffloadVerdict::kCsumBounds},
      {"hdr_len beyond", [](RxCase& c) { c.hdr.hdr_len.set(uint16_t(c.frame.size() + 1)); },
       RxOffloadVerdict::kHdrLen},
      {"GSO without NEEDS_CSUM", [](RxCase& c) { c.hdr.flags = hdrf::kFlagDataValid; },
       RxOffloadVerdict::kGsoNoCsum},
      {"gso_size 0", [](RxCase& c) { c.hdr.gso_size.set(0); }, RxOffloadVerdict::kGsoSize},
      {"gso_size above the MTU", [](RxCase& c) { c.hdr.gso_size.set(1461); },
       RxOffloadVerdict::kGsoSize},
      {"TCPV4 on an IPv6 frame",
       [](RxCase& c) {
         c.frame = make_frame(L3::kIpv6, kIpProtoTcp, 4000);
         c.hdr.csum_start.set(54);
       },
       RxOffloadVerdict::kGsoProto},
      {"TCPV4 on UDP",
       [](RxCase& c) {
         c.frame = make_frame(L3::kIpv4, kIpProtoUdp, 4000);
         c.hdr.csum_offset.set(6);
       },
       RxOffloadVerdict::kGsoProto},
      {"csum_start not the L4 header", [](RxCase& c) { c.hdr.csum_start.set(30); },
       RxOffloadVerdict::kGsoProto},
      {"csum_offset not the TCP checksum", [](RxCase& c) { c.hdr.csum_offset.set(6); },
       RxOffloadVerdict::kGsoProto},
      {"not IP at all",
       [](RxCase& c) {
         c.frame[12] = 0x08;
         c.frame[13] = 0x06;
       },
       RxOffloadVerdict::kGsoProto},
      {"USO over IPv4 with only USO6",
       [](RxCase& c) {
         c.frame = make_frame(L3::kIpv4, kIpProtoUdp, 3000);
         c.hdr.gso_type = hdrf::kGsoUdpL4;
         c.hdr.csum_offset.set(6);
         c.enabled = guest_offload::kCsum | guest_offload::kUso6;
       },
       RxOffloadVerdict::kGsoType},
      {"no payload",
       [](RxCase& c) {
         c.frame.resize(54);
         c.hdr.hdr_len.set(54);
       },
       RxOffloadVerdict::kGsoSize},
  };
  for (const Lie& l : lies) {
    RxCase c = gso_tcp4();
    l.apply(c);
    EXPECT_EQ(c.run(), l.verdict) << l.what;
  }
}

TEST(RxOffload, OffloadFieldsMeanNothingWithoutTheirFlagOrType) {
  RxCase c;
  c.frame = make_frame(L3::kIpv4, kIpProtoTcp, 100);
  c.hdr.hdr_len.set(0xFFFF);
  c.hdr.gso_size.set(1);
  c.hdr.csum_start.set(60000);
  c.hdr.csum_offset.set(0xFFFF);
  c.enabled = 0;
  PacketOffload o;
  ASSERT_EQ(c.run(&o), RxOffloadVerdict::kOk);
  EXPECT_EQ(o.csum, CsumState::kNone);
  EXPECT_EQ(o.gso, GsoKind::kNone);
}

TEST(RxOffload, HeadersMustLieInTheFirstBuffer) {
  RxCase c = gso_tcp4();
  PacketOffload o;
  const RxFrameView v{c.frame.data(), 40, uint32_t(c.frame.size()), 1514};
  EXPECT_EQ(check_rx_offload(c.hdr, kAllGuest, v, &o), RxOffloadVerdict::kGsoProto);
}

TEST(TxOffload, BuildsHeadersAndRefusesWhatCannotBeHonoured) {
  const uint64_t all = feature_mask(Feature::kNetCsum) | feature_mask(Feature::kNetHostTso4) |
                       feature_mask(Feature::kNetHostTso6) | feature_mask(Feature::kNetHostEcn) |
                       feature_mask(Feature::kNetHostUso);
  auto frame = make_frame(L3::kIpv4, kIpProtoTcp, 8000);
  const uint32_t len = uint32_t(frame.size());
  PacketOffload r;
  r.csum = CsumState::kPartial;
  r.csum_start = 34;
  r.csum_offset = 16;
  r.gso = GsoKind::kTcp4;
  r.gso_size = 1460;
  spec::NetHdr h{};
  ASSERT_EQ(build_tx_header(r, all, frame.data(), len, len, 1500, &h), TxOffloadVerdict::kOk);
  EXPECT_EQ(h.flags, hdrf::kFlagNeedsCsum);
  EXPECT_EQ(h.gso_type, hdrf::kGsoTcpV4);
  EXPECT_EQ(h.hdr_len.get(), 54);
  EXPECT_EQ(h.gso_size.get(), 1460);
  EXPECT_EQ(h.csum_start.get(), 34);
  EXPECT_EQ(h.csum_offset.get(), 16);
  EXPECT_EQ(h.num_buffers.get(), 0);

  auto refused = [&](PacketOffload q, uint64_t features, uint32_t mtu = 1500) {
    spec::NetHdr x{};
    return build_tx_header(q, features, frame.data(), len, len, mtu, &x);
  };
  EXPECT_EQ(refused(r, all & ~feature_mask(Feature::kNetHostTso4)), TxOffloadVerdict::kFeature);
  PacketOffload e = r;
  e.ecn = true;
  EXPECT_EQ(refused(e, all & ~feature_mask(Feature::kNetHostEcn)), TxOffloadVerdict::kFeature);
  EXPECT_EQ(refused(e, all), TxOffloadVerdict::kOk);
  PacketOffload c = r;
  c.gso = GsoKind::kNone;
  EXPECT_EQ(refused(c, 0), TxOffloadVerdict::kFeature);
  c.csum_start = uint16_t(len - 17);
  EXPECT_EQ(refused(c, all), TxOffloadVerdict::kCsumBounds);
  PacketOffload g = r;
  g.csum = CsumState::kNone;
  EXPECT_EQ(refused(g, all), TxOffloadVerdict::kGso);
  g = r;
  g.gso_size = 0;
  EXPECT_EQ(refused(g, all), TxOffloadVerdict::kGso);
  g = r;
  g.gso_size = 1461;  // 54 + 1461 > 1514
  EXPECT_EQ(refused(g, all), TxOffloadVerdict::kGso);
  EXPECT_EQ(refused(g, all, 9000), TxOffloadVerdict::kOk);
  g = r;
  g.gso = GsoKind::kTcp6;
  EXPECT_EQ(refused(g, all), TxOffloadVerdict::kGso);
  g = r;
  g.csum_offset = 6;
  EXPECT_EQ(refused(g, all), TxOffloadVerdict::kGso);
  g = r;
  g.csum_start = 14;
  EXPECT_EQ(refused(g, all), TxOffloadVerdict::kGso);
  g = r;
  g.csum = CsumState::kVerified;
  EXPECT_EQ(refused(g, all), TxOffloadVerdict::kFeature);
  // Headers beyond the first fragment: not parsed, refused.
  spec::NetHdr x{};
  EXPECT_EQ(build_tx_header(r, all, frame.data(), 40, len, 1500, &x), TxOffloadVerdict::kGso);
  // A frame above kMaxGsoFrame.
  EXPECT_EQ(build_tx_header(r, all, frame.data(), len, kMaxGsoFrame + 1, 1500, &x),
            TxOffloadVerdict::kGso);
}

TEST(GuestOffloadBits, RoundTrip) {
  const uint64_t f = feature_mask(Feature::kNetGuestCsum) | feature_mask(Feature::kNetGuestTso6) |
                     feature_mask(Feature::kNetGuestUso6);
  EXPECT_EQ(features_from_guest_offloads(guest_offloads_from_features(f)), f);
  EXPECT_EQ(guest_offloads_from_features(feature_mask(Feature::kNetCsum)), 0);
}

}  // namespace
}  // namespace vnet
