// The guest's responder (guest/net/responder.cc) on the host: correct
// replies, and hostile frames counted and dropped without reading or
// writing out of bounds.
#include "guest/net/responder.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <vector>

namespace {

using guest::net::ControlRequest;
using guest::net::Responder;
using guest::net::Verdict;

const uint8_t kGuestMac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
const uint8_t kPeerMac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
constexpr uint32_t kGuestIp = 0x0a00020f;

void put16(std::vector<uint8_t>& f, size_t at, uint16_t v) {
  f[at] = static_cast<uint8_t>(v >> 8);
  f[at + 1] = static_cast<uint8_t>(v);
}
uint16_t get16(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

uint16_t csum(const uint8_t* p, size_t n, uint32_t sum = 0) {
  return static_cast<uint16_t>(
      ~Responder::checksum_fold(Responder::checksum_add(sum, p, static_cast<uint32_t>(n))));
}

std::vector<uint8_t> ipv4_frame(uint8_t proto, const std::vector<uint8_t>& l4) {
  std::vector<uint8_t> f(14 + 20 + l4.size());
  std::memcpy(f.data(), kGuestMac, 6);
  std::memcpy(f.data() + 6, kPeerMac, 6);
  put16(f, 12, 0x0800);
  f[14] = 0x45;
  put16(f, 16, static_cast<uint16_t>(20 + l4.size()));
  f[22] = 64;
  f[23] = proto;
  const uint8_t addrs[8] = {10, 0, 2, 2, 10, 0, 2, 15};
  std::memcpy(f.data() + 26, addrs, 8);
  put16(f, 24, csum(f.data() + 14, 20));
  std::memcpy(f.data() + 34, l4.data(), l4.size());
  return f;
}

uint32_t pseudo(const uint8_t* ip, uint16_t udp_len) {
  uint8_t ph[12];
  std::memcpy(ph, ip + 12, 8);
  ph[8] = 0;
  ph[9] = 17;
  ph[10] = static_cast<uint8_t>(udp_len >> 8);
  ph[11] = static_cast<uint8_t>(udp_len);
  return Responder::checksum_add(0, ph, 12);
}

std::vector<uint8_t> udp_frame(uint16_t dport, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> udp(8 + payload.size());
  put16(udp, 0, 40000);
  put16(udp, 2, dport);
  put16(udp, 4, static_cast<uint16_t>(udp.size()));
  std::memcpy(udp.data() + 8, payload.data(), payload.size());
  std::vector<uint8_t> f = ipv4_frame(17, udp);
  uint16_t c =
      csum(f.data() + 34, udp.size(), pseudo(f.data() + 14, static_cast<uint16_t>(udp.size())));
  put16(f, 34 + 6, c == 0 ? 0xffff : c);
  return f;
}

std::vector<uint8_t> arp_request(uint32_t target) {
  std::vector<uint8_t> f(42);
  std::memset(f.data(), 0xff, 6);
  std::memcpy(f.data() + 6, kPeerMac, 6);
  put16(f, 12, 0x0806);
  put16(f, 14, 1);
  put16(f, 16, 0x0800);
  f[18] = 6;
  f[19] = 4;
  put16(f, 20, 1);
  std::memcpy(f.data() + 22, kPeerMac, 6);
  const uint8_t peer_ip[4] = {10, 0, 2, 2};
  std::memcpy(f.data() + 28, peer_ip, 4);
  put16(f, 38, static_cast<uint16_t>(target >> 16));
  put16(f, 40, static_cast<uint16_t>(target));
  return f;
}

struct Result {
  Verdict verdict;
  std::vector<uint8_t> reply;
  ControlRequest control;
};

// Runs handle() on an exact-size heap copy and checks that nothing was
// written past the reported reply length.
Result run(Responder& r, const std::vector<uint8_t>& frame, uint32_t out_cap = 2048) {
  std::unique_ptr<uint8_t[]> in(new uint8_t[frame.size() + 1]);
  std::memcpy(in.get(), frame.data(), frame.size());
  std::vector<uint8_t> out(out_cap + 64, 0xa5);
  uint32_t len = 12345;
  Result res;
  res.verdict = r.handle(in.get(), static_cast<uint32_t>(frame.size()), out.data(), out_cap, &len,
                         &res.control);
  if (res.verdict == Verdict::kReply) {
    EXPECT_LE(len, out_cap);
    res.reply.assign(out.begin(), out.begin() + len);
  } else {
    EXPECT_EQ(len, 0u);
  }
  for (size_t i = out_cap; i < out.size(); ++i) EXPECT_EQ(out[i], 0xa5) << "write past out_cap";
  return res;
}

TEST(Responder, AnswersArpForItsAddressOnly) {
  Responder r(kGuestMac, kGuestIp);
  Result res = run(r, arp_request(kGuestIp));
  ASSERT_EQ(res.verdict, Verdict::kReply);
  ASSERT_EQ(res.reply.size(), 42u);
  EXPECT_EQ(0, std::memcmp(res.reply.data(), kPeerMac, 6));
  EXPECT_EQ(get16(res.reply.data() + 20), 2);  // reply
  EXPECT_EQ(0, std::memcmp(res.reply.data() + 22, kGuestMac, 6));
  EXPECT_EQ(run(r, arp_request(0x0a000203)).verdict, Verdict::kDrop);
  EXPECT_EQ(r.counters().arp_replies, 1u);
  EXPECT_EQ(r.counters().ignored, 1u);
}

TEST(Responder, EchoesUdpByteExactWithValidChecksums) {
  Responder r(kGuestMac, kGuestIp);
  for (size_t n : {0u, 1u, 17u, 1472u}) {
    std::vector<uint8_t> payload(n);
    for (size_t i = 0; i < n; ++i) payload[i] = static_cast<uint8_t>(i * 7 + n);
    Result res = run(r, udp_frame(7, payload));
    ASSERT_EQ(res.verdict, Verdict::kReply);
    const uint8_t* f = res.reply.data();
    ASSERT_EQ(res.reply.size(), 42 + n);
    EXPECT_EQ(0, std::memcmp(f, kPeerMac, 6));
    EXPECT_EQ(Responder::checksum_fold(Responder::checksum_add(0, f + 14, 20)), 0xffff);
    EXPECT_EQ(get16(f + 34), 7);
    EXPECT_EQ(get16(f + 36), 40000);
    uint16_t udp_len = get16(f + 38);
    EXPECT_EQ(
        Responder::checksum_fold(Responder::checksum_add(pseudo(f + 14, udp_len), f + 34, udp_len)),
        0xffff);
    EXPECT_EQ(0, std::memcmp(f + 42, payload.data(), n));
  }
  EXPECT_EQ(r.counters().udp_echo_replies, 4u);
  EXPECT_EQ(r.counters().malformed, 0u);
}

TEST(Responder, AnswersIcmpEcho) {
  Responder r(kGuestMac, kGuestIp);
  std::vector<uint8_t> icmp = {8, 0, 0, 0, 0x12, 0x34, 0, 1, 'p', 'i', 'n', 'g'};
  uint16_t c = csum(icmp.data(), icmp.size());
  icmp[2] = static_cast<uint8_t>(c >> 8);
  icmp[3] = static_cast<uint8_t>(c);
  Result res = run(r, ipv4_frame(1, icmp));
  ASSERT_EQ(res.verdict, Verdict::kReply);
  EXPECT_EQ(res.reply[34], 0);
  EXPECT_EQ(Responder::checksum_fold(Responder::checksum_add(0, res.reply.data() + 34, 12)),
            0xffff);
  EXPECT_EQ(0, std::memcmp(res.reply.data() + 38, icmp.data() + 4, 8));
}

TEST(Responder, HandsControlRequestsToTheCaller) {
  Responder r(kGuestMac, kGuestIp);
  std::vector<uint8_t> frame = udp_frame(Responder::kControlPort, {'e', 'x', 'i', 't'});
  Result res = run(r, frame);
  ASSERT_EQ(res.verdict, Verdict::kControl);
  ASSERT_EQ(res.control.len, 4u);
}

TEST(Responder, EveryTruncationIsDroppedAndCounted) {
  Responder r(kGuestMac, kGuestIp);
  std::vector<uint8_t> full = udp_frame(7, std::vector<uint8_t>(100, 0x42));
  for (size_t n = 0; n < full.size(); ++n) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + n);
    EXPECT_EQ(run(r, cut).verdict, Verdict::kDrop) << "length " << n;
  }
  EXPECT_EQ(r.counters().malformed, full.size());
  EXPECT_EQ(r.counters().udp_echo_replies, 0u);
}

TEST(Responder, BadChecksumsAreMalformed) {
  Responder r(kGuestMac, kGuestIp);
  std::vector<uint8_t> f = udp_frame(7, {1, 2, 3});
  f[24] ^= 1;  // IPv4 header checksum
  EXPECT_EQ(run(r, f).verdict, Verdict::kDrop);
  f = udp_frame(7, {1, 2, 3});
  f[40] ^= 1;  // UDP checksum
  EXPECT_EQ(run(r, f).verdict, Verdict::kDrop);
  EXPECT_EQ(r.counters().bad_checksum, 2u);
  EXPECT_EQ(r.counters().malformed, 2u);
}

TEST(Responder, ReplyThatDoesNotFitIsDropped) {
  Responder r(kGuestMac, kGuestIp);
  EXPECT_EQ(run(r, udp_frame(7, std::vector<uint8_t>(500, 1)), 200).verdict, Verdict::kDrop);
  EXPECT_EQ(r.counters().reply_too_big, 1u);
}

TEST(Responder, SurvivesRandomMutations) {
  Responder r(kGuestMac, kGuestIp);
  std::mt19937 rng(7);
  std::vector<std::vector<uint8_t>> seeds = {udp_frame(7, std::vector<uint8_t>(64, 9)),
                                             udp_frame(Responder::kControlPort, {'x'}),
                                             arp_request(kGuestIp)};
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> f = seeds[static_cast<size_t>(i) % seeds.size()];
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) f[rng() % f.size()] = static_cast<uint8_t>(rng());
    if (rng() % 4 == 0) f.resize(rng() % (f.size() + 1));
    Result res = run(r, f, 1 + rng() % 256);
    if (res.verdict == Verdict::kReply) EXPECT_GE(res.reply.size(), 14u);
  }
  const auto& c = r.counters();
  EXPECT_EQ(c.frames_in, 20000u);
  EXPECT_EQ(c.frames_in, c.malformed + c.ignored + c.arp_replies + c.icmp_echo_replies +
                             c.udp_echo_replies + c.control_requests + c.reply_too_big);
}

}  // namespace
