// LinkPeer (tools/vnet-vhost-device/link_peer.h): the host 10.0.2.2 that
// vnet-vhost-device plays on a guest's link -- ARP both ways, echo both
// ways, and guest frames that do not parse counted, never trusted.
#include "tools/vnet-vhost-device/link_peer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace vnet::tools {
namespace {

const uint8_t kGuestMac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
const uint8_t kPeerMac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
const uint8_t kGuestIp[4] = {10, 0, 2, 15};
const uint8_t kPeerIp[4] = {10, 0, 2, 2};

uint16_t csum(const uint8_t* p, size_t n) {
  uint32_t s = 0;
  for (size_t i = 0; i + 1 < n; i += 2) s += uint32_t(p[i] << 8 | p[i + 1]);
  if (n & 1) s += uint32_t(p[n - 1]) << 8;
  while (s >> 16) s = (s & 0xFFFF) + (s >> 16);
  return uint16_t(~s);
}

std::vector<uint8_t> arp_from_guest(uint16_t op, const uint8_t* target_ip) {
  std::vector<uint8_t> f(42, 0);
  std::memset(f.data(), 0xff, 6);
  std::memcpy(f.data() + 6, kGuestMac, 6);
  f[12] = 0x08, f[13] = 0x06;
  uint8_t* a = f.data() + 14;
  a[1] = 1, a[2] = 0x08, a[4] = 6, a[5] = 4, a[7] = uint8_t(op);
  std::memcpy(a + 8, kGuestMac, 6);
  std::memcpy(a + 14, kGuestIp, 4);
  std::memcpy(a + 24, target_ip, 4);
  return f;
}

// An ICMP echo (type 8 request / 0 reply) from the guest to 10.0.2.2.
std::vector<uint8_t> icmp_from_guest(uint8_t type, uint16_t ident, uint16_t seq,
                                     const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> f(14 + 20 + 8 + payload.size(), 0);
  std::memcpy(f.data(), kPeerMac, 6);
  std::memcpy(f.data() + 6, kGuestMac, 6);
  f[12] = 0x08;
  uint8_t* ip = f.data() + 14;
  ip[0] = 0x45;
  const uint16_t total = uint16_t(20 + 8 + payload.size());
  ip[2] = uint8_t(total >> 8), ip[3] = uint8_t(total);
  ip[8] = 64, ip[9] = 1;
  std::memcpy(ip + 12, kGuestIp, 4);
  std::memcpy(ip + 16, kPeerIp, 4);
  const uint16_t hc = csum(ip, 20);
  ip[10] = uint8_t(hc >> 8), ip[11] = uint8_t(hc);
  uint8_t* icmp = ip + 20;
  icmp[0] = type;
  icmp[4] = uint8_t(ident >> 8), icmp[5] = uint8_t(ident);
  icmp[6] = uint8_t(seq >> 8), icmp[7] = uint8_t(seq);
  std::memcpy(icmp + 8, payload.data(), payload.size());
  const uint16_t c = csum(icmp, 8 + payload.size());
  icmp[2] = uint8_t(c >> 8), icmp[3] = uint8_t(c);
  return f;
}

TEST(LinkPeer, AnswersArpForItsAddressOnly) {
  LinkPeer p;
  p.on_guest_frame(arp_from_guest(1, kPeerIp));
  ASSERT_EQ(p.outbox().size(), 1u);
  const auto& r = p.outbox().front();
  ASSERT_EQ(r.size(), 42u);
  EXPECT_EQ(std::memcmp(r.data(), kGuestMac, 6), 0);
  EXPECT_EQ(r[14 + 7], 2);  // reply
  EXPECT_EQ(std::memcmp(r.data() + 14 + 8, kPeerMac, 6), 0);
  EXPECT_EQ(std::memcmp(r.data() + 14 + 14, kPeerIp, 4), 0);
  EXPECT_EQ(std::memcmp(r.data() + 14 + 24, kGuestIp, 4), 0);
  const uint8_t other[4] = {10, 0, 2, 3};
  p.on_guest_frame(arp_from_guest(1, other));
  EXPECT_EQ(p.outbox().size(), 1u);
  EXPECT_EQ(p.counters().arp_requests_answered, 1u);
}

TEST(LinkPeer, ProbesWithArpUntilTheGuestsMacIsKnownThenPings) {
  LinkPeer p;
  p.probe();
  ASSERT_EQ(p.outbox().size(), 1u);
  const auto req = p.outbox().front();
  p.outbox().clear();
  EXPECT_EQ(req[12], 0x08);
  EXPECT_EQ(req[13], 0x06);
  EXPECT_EQ(req[0], 0xff);  // broadcast
  EXPECT_EQ(req[14 + 7], 1);
  EXPECT_EQ(std::memcmp(req.data() + 14 + 24, kGuestIp, 4), 0);
  EXPECT_EQ(p.counters().arp_requests_sent, 1u);
  p.on_guest_frame(arp_from_guest(2, kPeerIp));  // the guest's answer
  EXPECT_TRUE(p.guest_mac_known());
  p.probe();
  ASSERT_EQ(p.outbox().size(), 1u);
  const auto ping = p.outbox().front();
  EXPECT_EQ(std::memcmp(ping.data(), kGuestMac, 6), 0);
  EXPECT_EQ(csum(ping.data() + 14, 20), 0);                // IPv4 header checksum
  EXPECT_EQ(csum(ping.data() + 34, ping.size() - 34), 0);  // ICMP checksum
  EXPECT_EQ(ping[34], 8);                                  // echo request
  // The guest echoes it: counted as a reply only with our payload.
  const uint16_t ident = uint16_t(ping[38] << 8 | ping[39]);
  const uint16_t seq = uint16_t(ping[40] << 8 | ping[41]);
  std::vector<uint8_t> payload(ping.begin() + 42, ping.end());
  p.on_guest_frame(icmp_from_guest(0, ident, seq, payload));
  EXPECT_EQ(p.counters().ping_replies, 1u);
  payload[3] ^= 1;
  p.on_guest_frame(icmp_from_guest(0, ident, seq, payload));
  EXPECT_EQ(p.counters().ping_reply_bad, 1u);
}

TEST(LinkPeer, AnswersTheGuestsEchoRequests) {
  LinkPeer p;
  const std::vector<uint8_t> payload(56, 0x5a);
  p.on_guest_frame(icmp_from_guest(8, 0x1234, 7, payload));
  ASSERT_EQ(p.outbox().size(), 1u);
  const auto& r = p.outbox().front();
  EXPECT_EQ(std::memcmp(r.data(), kGuestMac, 6), 0);
  EXPECT_EQ(r[34], 0);  // echo reply
  EXPECT_EQ(csum(r.data() + 14, 20), 0);
  EXPECT_EQ(csum(r.data() + 34, r.size() - 34), 0);
  EXPECT_EQ(std::memcmp(r.data() + 14 + 16, kGuestIp, 4), 0);
  EXPECT_EQ(p.counters().guest_pings_answered, 1u);
}

TEST(LinkPeer, FramesThatDoNotParseAreCountedNotAnswered) {
  LinkPeer p;
  p.on_guest_frame(std::vector<uint8_t>(10, 0));  // shorter than Ethernet
  auto arp = arp_from_guest(1, kPeerIp);
  arp.resize(30);  // ARP cut short
  p.on_guest_frame(arp);
  auto icmp = icmp_from_guest(8, 1, 1, std::vector<uint8_t>(8, 1));
  icmp[14 + 10] ^= 0xff;  // IPv4 header checksum wrong
  p.on_guest_frame(icmp);
  auto icmp2 = icmp_from_guest(8, 1, 1, std::vector<uint8_t>(8, 1));
  icmp2[14 + 3] = 200;  // total length beyond the frame
  p.on_guest_frame(icmp2);
  auto icmp3 = icmp_from_guest(8, 1, 1, std::vector<uint8_t>(8, 1));
  icmp3[36] ^= 0xff;  // ICMP checksum wrong
  p.on_guest_frame(icmp3);
  EXPECT_EQ(p.counters().malformed, 5u);
  EXPECT_TRUE(p.outbox().empty());
}

// A DHCP message of type `type` from the guest (0.0.0.0:68 -> broadcast:67);
// options_len_lie > 0 makes the message-type option claim more bytes.
std::vector<uint8_t> dhcp_from_guest(uint8_t type, uint8_t options_len_lie = 0) {
  const size_t bootp = 236 + 4 + 4;  // fixed part, cookie, option 53, END
  std::vector<uint8_t> f(14 + 20 + 8 + bootp, 0);
  std::memset(f.data(), 0xff, 6);
  std::memcpy(f.data() + 6, kGuestMac, 6);
  f[12] = 0x08;
  uint8_t* ip = f.data() + 14;
  ip[0] = 0x45;
  const uint16_t total = uint16_t(20 + 8 + bootp);
  ip[2] = uint8_t(total >> 8), ip[3] = uint8_t(total);
  ip[8] = 64, ip[9] = 17;
  std::memset(ip + 16, 0xff, 4);
  const uint16_t hc = csum(ip, 20);
  ip[10] = uint8_t(hc >> 8), ip[11] = uint8_t(hc);
  uint8_t* udp = ip + 20;
  udp[1] = 68, udp[3] = 67;
  udp[4] = uint8_t((8 + bootp) >> 8), udp[5] = uint8_t(8 + bootp);
  uint8_t* b = udp + 8;
  b[0] = 1, b[1] = 1, b[2] = 6;
  b[4] = 0xde, b[5] = 0xad, b[6] = 0xbe, b[7] = 0xef;  // xid
  std::memcpy(b + 28, kGuestMac, 6);
  const uint8_t cookie[4] = {99, 130, 83, 99};
  std::memcpy(b + 236, cookie, 4);
  b[240] = 53, b[241] = uint8_t(1 + options_len_lie), b[242] = type, b[243] = 255;
  return f;
}

TEST(LinkPeer, OffersAndAcksTheGuestsAddressOverDhcp) {
  LinkPeer p;
  p.on_guest_frame(dhcp_from_guest(1));  // DISCOVER
  ASSERT_EQ(p.outbox().size(), 1u);
  const auto offer = p.outbox().front();
  const uint8_t* b = offer.data() + 14 + 20 + 8;
  EXPECT_EQ(csum(offer.data() + 14, 20), 0);
  EXPECT_EQ(b[0], 2);  // BOOTREPLY
  EXPECT_EQ(std::memcmp(b + 4, "\xde\xad\xbe\xef", 4), 0);
  EXPECT_EQ(std::memcmp(b + 16, kGuestIp, 4), 0);  // yiaddr
  EXPECT_EQ(b[240], 53);
  EXPECT_EQ(b[242], 2);  // OFFER
  EXPECT_TRUE(p.guest_mac_known());
  p.on_guest_frame(dhcp_from_guest(3));  // REQUEST
  ASSERT_EQ(p.outbox().size(), 2u);
  EXPECT_EQ(p.outbox().back()[14 + 20 + 8 + 242], 5);  // ACK
  EXPECT_EQ(p.counters().dhcp_offers, 1u);
  EXPECT_EQ(p.counters().dhcp_acks, 1u);
  p.on_guest_frame(dhcp_from_guest(7));  // RELEASE: not answered
  EXPECT_EQ(p.outbox().size(), 2u);
  p.on_guest_frame(dhcp_from_guest(1, 40));  // an option running past the message
  EXPECT_EQ(p.outbox().size(), 2u);
  EXPECT_EQ(p.counters().malformed, 1u);
}

TEST(LinkPeer, TheOutboxIsBounded) {
  LinkPeer p;
  for (size_t i = 0; i < LinkPeer::kMaxOutbox + 10; ++i) p.probe();
  EXPECT_EQ(p.outbox().size(), LinkPeer::kMaxOutbox);
  EXPECT_EQ(p.counters().outbox_dropped, 10u);
}

}  // namespace
}  // namespace vnet::tools
