// The guest's responder (guest/net/responder.cc) and its TCP echo
// (guest/net/tcp_echo.cc) on the host: correct replies, and hostile frames
// counted and dropped without reading or writing out of bounds.
#include "guest/net/responder.h"

#include "guest/net/ctrl_request.h"
#include "guest/net/tcp_echo.h"
#include "guest/net/vlan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

namespace {

using guest::net::ControlRequest;
using guest::net::Responder;
using guest::net::SegmentOffload;
using guest::net::TcpEcho;
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
  std::copy(l4.begin(), l4.end(), f.begin() + 34);
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
  std::copy(payload.begin(), payload.end(), udp.begin() + 8);
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
  std::copy(frame.begin(), frame.end(), in.get());
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
    EXPECT_TRUE(std::equal(payload.begin(), payload.end(), f + 42));
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
                             c.udp_echo_replies + c.control_requests + c.reply_too_big +
                             c.reply_over_mtu + c.tcp_segments);
}

std::vector<uint8_t> icmp_echo_frame(size_t data_len) {
  std::vector<uint8_t> icmp(8 + data_len);
  icmp[0] = 8;
  put16(icmp, 4, 0x1234);
  put16(icmp, 6, 1);
  for (size_t i = 0; i < data_len; ++i) icmp[8 + i] = static_cast<uint8_t>(i);
  put16(icmp, 2, csum(icmp.data(), icmp.size()));
  return ipv4_frame(1, icmp);
}

// Issue 9: with host_mtu=1400 the driver drops any frame above 1414 bytes,
// so the responder must not build one.
TEST(Responder, EchoRepliesStayWithinTheMtu) {
  Responder r(kGuestMac, kGuestIp);
  r.set_mtu(1400);
  EXPECT_EQ(r.max_udp_payload(), 1372u);
  for (size_t n : {0u, 1000u, 1372u}) {
    Result res = run(r, udp_frame(7, std::vector<uint8_t>(n, 3)));
    ASSERT_EQ(res.verdict, Verdict::kReply) << n;
    EXPECT_EQ(res.reply.size(), 42 + n);
  }
  for (size_t n : {1373u, 1472u})
    EXPECT_EQ(run(r, udp_frame(7, std::vector<uint8_t>(n, 3))).verdict, Verdict::kDrop);
  Result icmp = run(r, icmp_echo_frame(1400 - 28));
  ASSERT_EQ(icmp.verdict, Verdict::kReply);
  EXPECT_EQ(icmp.reply.size(), 1414u);
  EXPECT_EQ(run(r, icmp_echo_frame(1400 - 27)).verdict, Verdict::kDrop);
  EXPECT_EQ(r.counters().udp_echo_replies, 3u);
  EXPECT_EQ(r.counters().icmp_echo_replies, 1u);
  EXPECT_EQ(r.counters().reply_over_mtu, 3u);
  EXPECT_EQ(r.counters().reply_too_big, 0u);
  EXPECT_EQ(r.counters().malformed, 0u);
  // Control replies are bounded the same way.
  std::vector<uint8_t> req = udp_frame(Responder::kControlPort, {'x'});
  std::vector<uint8_t> out(2048);
  std::vector<uint8_t> text(1373, 'a');
  EXPECT_EQ(r.build_udp_reply(req.data(), text.data(), 1373, out.data(), 2048), 0u);
  EXPECT_EQ(r.build_udp_reply(req.data(), text.data(), 1372, out.data(), 2048), 1414u);
  // The MTU is clamped to the IPv4 range.
  r.set_mtu(10);
  EXPECT_EQ(r.mtu(), 68u);
  r.set_mtu(100000);
  EXPECT_EQ(r.mtu(), 65535u);
}

// ---- TCP echo ----

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;
constexpr uint16_t kPeerPort = 40001;
constexpr uint64_t kMs = 1000 * 1000;

uint32_t get32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

uint32_t tcp_pseudo(const uint8_t* ip, uint32_t tcp_len) {
  uint8_t ph[12];
  std::memcpy(ph, ip + 12, 8);
  ph[8] = 0;
  ph[9] = 6;
  ph[10] = static_cast<uint8_t>(tcp_len >> 8);
  ph[11] = static_cast<uint8_t>(tcp_len);
  return Responder::checksum_add(0, ph, 12);
}

std::vector<uint8_t> tcp_frame(uint32_t seq, uint32_t ack, uint8_t flags,
                               const std::vector<uint8_t>& payload = {}, uint16_t window = 65535,
                               const std::vector<uint8_t>& options = {}, uint16_t sport = kPeerPort,
                               uint16_t dport = 7) {
  std::vector<uint8_t> t(20 + options.size() + payload.size());
  put16(t, 0, sport);
  put16(t, 2, dport);
  for (int k = 0; k < 4; ++k) t[4 + k] = static_cast<uint8_t>(seq >> (24 - 8 * k));
  for (int k = 0; k < 4; ++k) t[8 + k] = static_cast<uint8_t>(ack >> (24 - 8 * k));
  t[12] = static_cast<uint8_t>(((20 + options.size()) / 4) << 4);
  t[13] = flags;
  put16(t, 14, window);
  std::copy(options.begin(), options.end(), t.begin() + 20);
  std::copy(payload.begin(), payload.end(), t.begin() + 20 + static_cast<long>(options.size()));
  std::vector<uint8_t> f = ipv4_frame(6, t);
  put16(f, 34 + 16,
        csum(f.data() + 34, t.size(), tcp_pseudo(f.data() + 14, static_cast<uint32_t>(t.size()))));
  return f;
}

const std::vector<uint8_t> kMss1460 = {2, 4, 0x05, 0xb4};

// A segment the guest sent, checked like a host stack would check it.
struct Seg {
  uint32_t seq = 0, ack = 0;
  uint8_t flags = 0;
  uint16_t window = 0;
  uint16_t mss = 0;
  std::vector<uint8_t> data;
};

Seg parse(const std::vector<uint8_t>& f) {
  Seg s;
  EXPECT_GE(f.size(), 54u);
  if (f.size() < 54) return s;
  EXPECT_EQ(0, std::memcmp(f.data(), kPeerMac, 6));
  EXPECT_EQ(0, std::memcmp(f.data() + 6, kGuestMac, 6));
  const uint8_t* ip = f.data() + 14;
  EXPECT_EQ(ip[9], 6);
  EXPECT_EQ(Responder::checksum_fold(Responder::checksum_add(0, ip, 20)), 0xffff);
  uint32_t total = get16(ip + 2);
  EXPECT_EQ(total + 14, f.size());
  const uint8_t* t = ip + 20;
  uint32_t tcp_len = total - 20;
  EXPECT_EQ(Responder::checksum_fold(Responder::checksum_add(tcp_pseudo(ip, tcp_len), t, tcp_len)),
            0xffff)
      << "TCP checksum";
  EXPECT_EQ(get16(t), 7);
  s.seq = get32(t + 4);
  s.ack = get32(t + 8);
  s.flags = t[13];
  s.window = get16(t + 14);
  uint32_t doff = (t[12] >> 4) * 4u;
  if (doff == 24 && t[20] == 2 && t[21] == 4) s.mss = get16(t + 22);
  s.data.assign(t + doff, t + tcp_len);
  return s;
}

// A responder with a TCP echo, and a peer that has completed the handshake.
struct TcpFixture {
  std::unique_ptr<TcpEcho> tcp = std::make_unique<TcpEcho>();
  Responder r{kGuestMac, kGuestIp};
  uint32_t peer_seq = 1000;  // next byte the peer sends
  uint32_t guest_seq = 0;    // next byte the guest sends
  TcpFixture() { r.set_tcp(tcp.get()); }

  Seg open(uint16_t window = 65535) {
    Result res = run(r, tcp_frame(peer_seq - 1, 0, kSyn, {}, window, kMss1460));
    EXPECT_EQ(res.verdict, Verdict::kReply);
    Seg synack = parse(res.reply);
    guest_seq = synack.seq + 1;
    EXPECT_EQ(run(r, tcp_frame(peer_seq, guest_seq, kAck, {}, window)).verdict, Verdict::kDrop);
    return synack;
  }
  Seg send(const std::vector<uint8_t>& data, uint8_t flags = kAck | kPsh) {
    Result res = run(r, tcp_frame(peer_seq, guest_seq, flags, data));
    EXPECT_EQ(res.verdict, Verdict::kReply);
    peer_seq += static_cast<uint32_t>(data.size());
    return res.verdict == Verdict::kReply ? parse(res.reply) : Seg{};
  }
  std::vector<uint8_t> poll(uint64_t now_ns, uint32_t cap = 2048) {
    std::vector<uint8_t> out(cap + 64, 0xa5);
    uint32_t n = tcp->poll(now_ns, out.data(), cap);
    for (size_t i = cap; i < out.size(); ++i) EXPECT_EQ(out[i], 0xa5) << "write past out_cap";
    out.resize(n);
    return out;
  }
};

std::vector<uint8_t> bytes(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 13);
  return v;
}

TEST(TcpEcho, HandshakeEchoAndCloseWithValidChecksums) {
  TcpFixture t;
  Seg synack = t.open();
  EXPECT_EQ(synack.flags, kSyn | kAck);
  EXPECT_EQ(synack.ack, 1000u);
  EXPECT_EQ(synack.mss, 1460u);  // no MTU set: 1500 - 40
  EXPECT_EQ(synack.window, TcpEcho::kDefaultWindow);
  for (size_t n : {1u, 100u, 1460u}) {
    std::vector<uint8_t> msg = bytes(n, static_cast<uint8_t>(n));
    Seg echo = t.send(msg);
    EXPECT_EQ(echo.flags & kAck, kAck);
    EXPECT_EQ(echo.seq, t.guest_seq);
    EXPECT_EQ(echo.ack, t.peer_seq);
    EXPECT_EQ(echo.data, msg);
    t.guest_seq += static_cast<uint32_t>(n);
  }
  // The ACK of all 1561 echoed bytes opens the window by more than an MSS
  // since it was last announced: a window update (RFC 1122, 4.2.3.3).
  Result update = run(t.r, tcp_frame(t.peer_seq, t.guest_seq, kAck));
  ASSERT_EQ(update.verdict, Verdict::kReply);
  Seg upd = parse(update.reply);
  EXPECT_EQ(upd.flags, kAck);
  EXPECT_TRUE(upd.data.empty());
  EXPECT_EQ(upd.window, TcpEcho::kDefaultWindow);
  EXPECT_EQ(t.tcp->counters().tcp_window_updates, 1u);
  // The same ACK again: nothing opened since.
  EXPECT_EQ(run(t.r, tcp_frame(t.peer_seq, t.guest_seq, kAck)).verdict, Verdict::kDrop);
  Seg fin = t.send({}, kFin | kAck);
  EXPECT_EQ(fin.flags, kFin | kAck);
  EXPECT_EQ(fin.ack, t.peer_seq + 1);
  EXPECT_EQ(run(t.r, tcp_frame(t.peer_seq + 1, t.guest_seq + 1, kAck)).verdict, Verdict::kDrop);
  EXPECT_EQ(t.tcp->counters().tcp_closed, 1u);
  EXPECT_EQ(t.tcp->counters().tcp_bytes_echoed, 1561u);
  EXPECT_EQ(t.tcp->open_connections(), 0u);
  EXPECT_EQ(t.r.counters().malformed, 0u);
}

TEST(TcpEcho, EchoIsLimitedByPeerMssAndRestComesFromPoll) {
  TcpFixture t;
  // A peer MSS of 536 (no option): a 1400-byte segment is echoed in three.
  Result res = run(t.r, tcp_frame(999, 0, kSyn));
  t.guest_seq = parse(res.reply).seq + 1;
  run(t.r, tcp_frame(1000, t.guest_seq, kAck));
  std::vector<uint8_t> msg = bytes(1400, 3);
  Seg first = t.send(msg);
  EXPECT_EQ(first.data.size(), 536u);
  std::vector<uint8_t> echoed = first.data;
  for (std::vector<uint8_t> f = t.poll(1); !f.empty(); f = t.poll(1)) {
    Seg s = parse(f);
    EXPECT_EQ(s.seq, t.guest_seq + echoed.size());
    echoed.insert(echoed.end(), s.data.begin(), s.data.end());
  }
  EXPECT_EQ(echoed, msg);
}

// Issue 9: the MSS follows the MTU. The SYN-ACK advertises MTU - 40, and no
// segment carries more, even when the peer offers a larger MSS (slirp
// offers 1460 whatever the guest's link MTU).
TEST(TcpEcho, MssFollowsTheMtu) {
  for (uint32_t mtu : {1500u, 1400u, 576u, 68u}) {
    TcpFixture t;
    t.r.set_mtu(mtu);
    const uint32_t mss = mtu - 40;
    EXPECT_EQ(t.tcp->mss(), mss);
    Seg synack = t.open();  // the peer offers MSS 1460
    EXPECT_EQ(synack.mss, mss) << "mtu " << mtu;
    // 4000 bytes in segments of at most the MSS (and never beyond the MTU),
    // in order, byte for byte; the rest comes from poll().
    std::vector<uint8_t> msg = bytes(4000, 7);
    std::vector<uint8_t> echoed;
    size_t segments = 0;
    for (size_t at = 0; at < msg.size();) {
      size_t n = std::min<size_t>(mss, msg.size() - at);
      std::vector<uint8_t> part(msg.begin() + static_cast<long>(at),
                                msg.begin() + static_cast<long>(at + n));
      Seg s = t.send(part);
      at += n;
      std::vector<Seg> got = {s};
      for (std::vector<uint8_t> f = t.poll(1); !f.empty(); f = t.poll(1)) {
        EXPECT_LE(f.size(), 14 + mtu);
        got.push_back(parse(f));
      }
      for (const Seg& g : got) {
        EXPECT_LE(g.data.size(), mss) << "mtu " << mtu;
        EXPECT_EQ(g.seq, t.guest_seq + echoed.size());
        echoed.insert(echoed.end(), g.data.begin(), g.data.end());
        segments += g.data.empty() ? 0 : 1;
      }
      // The peer acknowledges everything so far.
      run(t.r, tcp_frame(t.peer_seq, t.guest_seq + static_cast<uint32_t>(echoed.size()), kAck));
    }
    EXPECT_EQ(echoed, msg) << "mtu " << mtu;
    EXPECT_GE(segments, (msg.size() + mss - 1) / mss);
    EXPECT_EQ(t.tcp->counters().tcp_reply_too_big, 0u);
  }
}

TEST(TcpEcho, LoweringTheMtuBoundsOpenConnections) {
  TcpFixture t;
  t.open();  // MSS 1460 both ways
  t.r.set_mtu(1400);
  Seg echo = t.send(bytes(1460, 5));
  EXPECT_EQ(echo.data.size(), 1360u);
  std::vector<uint8_t> rest = t.poll(1);
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(parse(rest).data.size(), 100u);
}

TEST(TcpEcho, OutOfOrderAndDuplicatesAreAckedAndDropped) {
  TcpFixture t;
  t.open();
  Result res = run(t.r, tcp_frame(t.peer_seq + 100, t.guest_seq, kAck, bytes(10, 1)));
  ASSERT_EQ(res.verdict, Verdict::kReply);
  Seg ack = parse(res.reply);
  EXPECT_EQ(ack.ack, t.peer_seq);
  EXPECT_TRUE(ack.data.empty());
  t.send(bytes(10, 2));
  t.guest_seq += 10;
  res = run(t.r, tcp_frame(t.peer_seq - 10, t.guest_seq, kAck, bytes(10, 2)));  // duplicate
  ASSERT_EQ(res.verdict, Verdict::kReply);
  EXPECT_EQ(parse(res.reply).ack, t.peer_seq);
  EXPECT_TRUE(parse(res.reply).data.empty());
  // Overlap: 5 old bytes and 5 new ones; only the new ones are echoed.
  std::vector<uint8_t> overlap = bytes(10, 2);
  overlap.resize(5);
  std::vector<uint8_t> fresh = bytes(5, 9);
  overlap.insert(overlap.end(), fresh.begin(), fresh.end());
  res = run(t.r, tcp_frame(t.peer_seq - 5, t.guest_seq, kAck, overlap));
  ASSERT_EQ(res.verdict, Verdict::kReply);
  std::vector<uint8_t> tail(overlap.begin() + 5, overlap.end());
  EXPECT_EQ(parse(res.reply).data, tail);
  const auto& c = t.tcp->counters();
  EXPECT_EQ(c.tcp_out_of_order, 1u);
  EXPECT_EQ(c.tcp_duplicates, 1u);
  EXPECT_EQ(c.tcp_trimmed, 1u);
  EXPECT_EQ(c.tcp_bytes_echoed, 15u);
}

TEST(TcpEcho, RetransmitsAfterTimeoutThenGivesUp) {
  TcpFixture t;
  t.r.set_now_ns(0);
  t.open();
  std::vector<uint8_t> msg = bytes(300, 5);
  Seg echo = t.send(msg);
  EXPECT_EQ(echo.data, msg);
  EXPECT_TRUE(t.poll(TcpEcho::kInitialRtoNs - 1).empty());
  uint64_t now = TcpEcho::kInitialRtoNs;
  std::vector<uint8_t> again = t.poll(now);
  ASSERT_FALSE(again.empty());
  EXPECT_EQ(parse(again).seq, t.guest_seq);
  EXPECT_EQ(parse(again).data, msg);
  EXPECT_EQ(t.tcp->counters().tcp_retransmits, 1u);
  // An ACK of the data stops the timer.
  t.r.set_now_ns(now);
  run(t.r, tcp_frame(t.peer_seq, t.guest_seq + 300, kAck));
  EXPECT_TRUE(t.poll(now + 60000 * kMs).empty());
  // Unacknowledged again: bounded retries, then RST and the slot is free.
  t.guest_seq += 300;
  t.send(bytes(10, 1));
  uint64_t at = now;
  int sent = 0;
  for (int i = 0; i < 100 && t.tcp->open_connections() > 0; ++i) {
    at += TcpEcho::kMaxRtoNs;
    std::vector<uint8_t> f = t.poll(at);
    if (!f.empty()) ++sent;
    if (!f.empty() && t.tcp->open_connections() == 0) EXPECT_EQ(parse(f).flags & kRst, kRst);
  }
  EXPECT_EQ(t.tcp->open_connections(), 0u);
  EXPECT_EQ(t.tcp->counters().tcp_aborted, 1u);
  EXPECT_EQ(sent, static_cast<int>(TcpEcho::kMaxRetries) + 1);
}

TEST(TcpEcho, WindowShrinksAndExcessIsCut) {
  TcpFixture t;
  t.open(/*window=*/0);  // the peer takes nothing: echoes pile up in the ring
  uint32_t accepted = 0;
  for (int i = 0; i < 8; ++i) {
    Result res = run(t.r, tcp_frame(t.peer_seq, t.guest_seq, kAck, bytes(1460, 1), 0));
    ASSERT_EQ(res.verdict, Verdict::kReply);
    Seg s = parse(res.reply);
    EXPECT_TRUE(s.data.empty()) << "nothing may go into a zero window";
    accepted = s.ack - 1000;
    t.peer_seq = s.ack;
    EXPECT_EQ(s.window, TcpEcho::kDefaultWindow - accepted);
  }
  EXPECT_EQ(accepted, TcpEcho::kDefaultWindow);
  EXPECT_GT(t.tcp->counters().tcp_window_full, 0u);
  // The persist timer probes the zero window with one byte.
  EXPECT_TRUE(t.poll(1).empty());
  std::vector<uint8_t> probe = t.poll(10 * TcpEcho::kInitialRtoNs);
  ASSERT_FALSE(probe.empty());
  EXPECT_EQ(parse(probe).data.size(), 1u);
  EXPECT_EQ(t.tcp->counters().tcp_window_probes, 1u);
}

TEST(TcpEcho, ResetsChallengesAndRefusals) {
  TcpFixture t;
  t.open();
  // RST not at rcv_nxt: a challenge ACK, the connection stays.
  Result res = run(t.r, tcp_frame(t.peer_seq + 1, 0, kRst));
  ASSERT_EQ(res.verdict, Verdict::kReply);
  EXPECT_EQ(parse(res.reply).flags, kAck);
  // SYN on an open connection: a challenge ACK.
  res = run(t.r, tcp_frame(t.peer_seq + 5000, 0, kSyn));
  ASSERT_EQ(res.verdict, Verdict::kReply);
  EXPECT_EQ(t.tcp->open_connections(), 1u);
  EXPECT_EQ(t.tcp->counters().tcp_challenge_acks, 2u);
  EXPECT_EQ(run(t.r, tcp_frame(t.peer_seq, 0, kRst)).verdict, Verdict::kDrop);
  EXPECT_EQ(t.tcp->open_connections(), 0u);
  // No connection: an ACK draws RST with seq = its ack.
  res = run(t.r, tcp_frame(5, 777, kAck));
  ASSERT_EQ(res.verdict, Verdict::kReply);
  EXPECT_EQ(parse(res.reply).flags, kRst);
  EXPECT_EQ(parse(res.reply).seq, 777u);
  // Other ports are closed.
  res = run(t.r, tcp_frame(5, 0, kSyn, {}, 100, {}, kPeerPort, 22));
  ASSERT_EQ(res.verdict, Verdict::kReply);
  EXPECT_EQ(res.reply[34 + 13], kRst | kAck);
  // Every slot taken: the next SYN is refused with a RST.
  for (uint16_t p = 0; p < TcpEcho::kMaxConnections; ++p)
    EXPECT_EQ(parse(run(t.r, tcp_frame(1, 0, kSyn, {}, 100, {}, 50000 + p)).reply).flags,
              kSyn | kAck);
  res = run(t.r, tcp_frame(1, 0, kSyn, {}, 100, {}, 60000));
  ASSERT_EQ(res.verdict, Verdict::kReply);
  EXPECT_EQ(res.reply[34 + 13], kRst | kAck);
  EXPECT_EQ(t.tcp->counters().tcp_refused, 1u);
  EXPECT_EQ(t.tcp->counters().tcp_resets_in, 1u);
}

// Issue 16: with checksum offload the segment's checksum field holds the
// pseudo-header sum and the SegmentOffload says where it is; with TSO a
// segment carries up to the window (not the MSS) with gso_size the MSS.
// A caller that passes no SegmentOffload still gets complete segments.
TEST(TcpEcho, OffloadsLeaveChecksumAndSegmentationToTheDevice) {
  TcpFixture t;
  t.tcp->set_window(65535);
  t.tcp->set_offloads(false, true, 65550);  // tso implies the checksum offload
  EXPECT_TRUE(t.tcp->csum_offload());
  Seg synack = t.open();
  EXPECT_EQ(synack.window, 65535u);
  std::vector<uint8_t> msg = bytes(6000, 7);
  // Through the responder with a SegmentOffload: one segment of 6000 bytes.
  std::unique_ptr<uint8_t[]> out(new uint8_t[70000]);
  uint32_t len = 0;
  ControlRequest ctl;
  SegmentOffload off;
  std::vector<uint8_t> in = tcp_frame(t.peer_seq, t.guest_seq, kAck | kPsh, msg);
  ASSERT_EQ(t.r.handle(in.data(), static_cast<uint32_t>(in.size()), out.get(), 70000, &len, &ctl,
                       nullptr, &off),
            Verdict::kReply);
  ASSERT_EQ(len, 54u + 6000u);
  EXPECT_TRUE(off.csum_partial);
  EXPECT_EQ(off.csum_start, 34u);
  EXPECT_EQ(off.csum_offset, 16u);
  EXPECT_EQ(off.gso_size, 1460u);
  const uint8_t* ip = out.get() + 14;
  const uint8_t* tcp = ip + 20;
  EXPECT_EQ(get16(ip + 2), 20u + 20u + 6000u);
  // The field: the folded pseudo-header sum; completing it over the TCP
  // segment gives a valid checksum.
  EXPECT_EQ(get16(tcp + 16), Responder::checksum_fold(tcp_pseudo(ip, 6020)));
  std::vector<uint8_t> done(out.get(), out.get() + len);
  uint16_t c = static_cast<uint16_t>(
      ~Responder::checksum_fold(Responder::checksum_add(0, done.data() + 34, 6020)));
  done[34 + 16] = static_cast<uint8_t>(c >> 8);
  done[34 + 17] = static_cast<uint8_t>(c);
  Seg echo = parse(done);
  EXPECT_EQ(echo.data, msg);
  EXPECT_EQ(t.tcp->counters().tcp_tso_segments, 1u);
  EXPECT_EQ(t.tcp->counters().tcp_tso_bytes, 6000u);
  // Without a SegmentOffload (handle()'s default): complete MSS segments.
  t.peer_seq += 6000;
  t.guest_seq += 6000;
  Seg plain = t.send(bytes(3000, 9));
  EXPECT_EQ(plain.data.size(), 1460u);
}

TEST(TcpEcho, TsoIsBoundedByTheCallersFrameLimitAndOutCap) {
  TcpFixture t;
  t.tcp->set_window(65535);
  t.tcp->set_offloads(true, true, 54 + 4000);
  t.open();
  std::vector<uint8_t> in = tcp_frame(t.peer_seq, t.guest_seq, kAck | kPsh, bytes(20000, 3));
  std::unique_ptr<uint8_t[]> out(new uint8_t[70000]);
  uint32_t len = 0;
  ControlRequest ctl;
  SegmentOffload off;
  ASSERT_EQ(t.r.handle(in.data(), static_cast<uint32_t>(in.size()), out.get(), 70000, &len, &ctl,
                       nullptr, &off),
            Verdict::kReply);
  EXPECT_EQ(len, 54u + 4000u);  // set_offloads' max_frame
  EXPECT_EQ(off.gso_size, 1460u);
  // out_cap smaller still: it wins.
  std::vector<uint8_t> seg(3000 + 64, 0xa5);
  uint32_t n = t.tcp->poll(0, seg.data(), 3000, &off);
  EXPECT_EQ(n, 3000u);
  for (size_t i = 3000; i < seg.size(); ++i) EXPECT_EQ(seg[i], 0xa5);
}

// GUEST_CSUM: a frame the device verified, or left partial with the
// offsets of exactly its TCP checksum, is taken without verifying; partial
// offsets elsewhere are not trusted.
TEST(Responder, DeviceVouchedChecksumsAreNotVerifiedAgain) {
  TcpFixture t;
  t.open();
  std::vector<uint8_t> f = tcp_frame(t.peer_seq, t.guest_seq, kAck | kPsh, bytes(100, 1));
  // What a host stack hands a CHECKSUM_PARTIAL frame over: the pseudo sum.
  const uint16_t pseudo = Responder::checksum_fold(tcp_pseudo(f.data() + 14, 120));
  f[34 + 16] = static_cast<uint8_t>(pseudo >> 8);
  f[34 + 17] = static_cast<uint8_t>(pseudo);
  std::unique_ptr<uint8_t[]> out(new uint8_t[4096]);
  uint32_t len = 0;
  ControlRequest ctl;
  vnet::PacketOffload rx;
  rx.csum = vnet::CsumState::kPartial;
  rx.csum_start = 34;
  rx.csum_offset = 6;  // not the TCP checksum: verified, and it fails
  EXPECT_EQ(t.r.handle(f.data(), static_cast<uint32_t>(f.size()), out.get(), 4096, &len, &ctl, &rx),
            Verdict::kDrop);
  EXPECT_EQ(t.r.counters().bad_checksum, 1u);
  EXPECT_EQ(t.r.handle(f.data(), static_cast<uint32_t>(f.size()), out.get(), 4096, &len, &ctl),
            Verdict::kDrop);  // no report at all: verified, fails
  EXPECT_EQ(t.r.counters().bad_checksum, 2u);
  rx.csum_offset = 16;
  EXPECT_EQ(t.r.handle(f.data(), static_cast<uint32_t>(f.size()), out.get(), 4096, &len, &ctl, &rx),
            Verdict::kReply);
  EXPECT_EQ(t.r.counters().csum_trusted, 1u);
  EXPECT_EQ(parse(std::vector<uint8_t>(out.get(), out.get() + len)).data, bytes(100, 1));
}

TEST(TcpEcho, MalformedSegmentsAreCounted) {
  TcpFixture t;
  t.open();
  auto malformed_before = t.r.counters().malformed;
  std::vector<std::vector<uint8_t>> bad;
  bad.push_back(tcp_frame(1, 0, kSyn | kFin));
  bad.push_back(tcp_frame(1, 0, kSyn | kRst));
  bad.push_back(tcp_frame(1, 0, kSyn, {}, 100, {2, 3, 0, 0}));   // MSS length 3
  bad.push_back(tcp_frame(1, 0, kSyn, {}, 100, {8, 12, 0, 0}));  // option past the header
  bad.push_back(tcp_frame(1, 0, kSyn, {}, 100, {1, 1, 1, 5}));   // length byte missing
  bad.push_back(tcp_frame(1, 0, kSyn, {}, 100, {}, 0, 7));       // port 0
  std::vector<uint8_t> f = tcp_frame(t.peer_seq, t.guest_seq, kAck, bytes(20, 1));
  f[34 + 16] ^= 0x40;  // checksum
  bad.push_back(f);
  f = tcp_frame(t.peer_seq, t.guest_seq, kAck, bytes(20, 1));
  f[34 + 12] = 0x40;  // data offset 16 bytes
  bad.push_back(f);
  f = tcp_frame(t.peer_seq, t.guest_seq, kAck, bytes(20, 1));
  f[34 + 12] = 0xf0;  // data offset 60 bytes, beyond the segment
  bad.push_back(f);
  for (const auto& b : bad) EXPECT_EQ(run(t.r, b).verdict, Verdict::kDrop);
  EXPECT_EQ(t.r.counters().malformed - malformed_before, bad.size());
  EXPECT_EQ(t.r.counters().bad_checksum, 1u);
  EXPECT_EQ(t.tcp->counters().tcp_bytes_echoed, 0u);
}

TEST(TcpEcho, EveryTruncationIsDroppedAndCounted) {
  TcpFixture t;
  t.open();
  std::vector<uint8_t> full = tcp_frame(t.peer_seq, t.guest_seq, kAck | kPsh, bytes(200, 4));
  for (size_t n = 0; n < full.size(); ++n) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + n);
    EXPECT_EQ(run(t.r, cut).verdict, Verdict::kDrop) << "length " << n;
  }
  EXPECT_EQ(t.r.counters().malformed, full.size());
  EXPECT_EQ(t.tcp->counters().tcp_bytes_echoed, 0u);
}

TEST(TcpEcho, RepliesThatDoNotFitAreNotWritten) {
  TcpFixture t;
  t.open();
  for (uint32_t cap : {0u, 10u, 53u, 54u, 60u, 200u}) {
    Result res = run(t.r, tcp_frame(t.peer_seq, t.guest_seq, kAck, bytes(100, 1)), cap);
    if (res.verdict == Verdict::kReply) EXPECT_LE(res.reply.size(), cap);
    for (uint32_t c2 : {0u, 30u, 54u, 80u}) t.poll(uint64_t{1} << 40, c2);
  }
}

TEST(TcpEcho, SurvivesRandomMutations) {
  std::mt19937 rng(11);
  for (int round = 0; round < 40; ++round) {
    TcpFixture t;
    t.r.set_now_ns(0);
    t.open();
    std::vector<std::vector<uint8_t>> seeds = {
        tcp_frame(t.peer_seq, t.guest_seq, kAck | kPsh, bytes(300, 1)),
        tcp_frame(t.peer_seq, t.guest_seq, kAck | kFin),
        tcp_frame(t.peer_seq - 1, 0, kSyn, {}, 512,
                  {1, 1, 2, 4, 0x02, 0x00, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0}),
        tcp_frame(t.peer_seq, 0, kRst),
        tcp_frame(t.peer_seq, t.guest_seq + 7, kAck, bytes(1460, 2), 3)};
    uint64_t now = 0;
    for (int i = 0; i < 1500; ++i) {
      std::vector<uint8_t> f = seeds[rng() % seeds.size()];
      int flips = 1 + static_cast<int>(rng() % 4);
      // Mostly the TCP header, where the state machine lives.
      for (int k = 0; k < flips; ++k) {
        size_t at = rng() % 2 ? 34 + rng() % 24 : rng() % f.size();
        if (at < f.size()) f[at] = static_cast<uint8_t>(rng());
      }
      // Keep the checksum right half of the time, so mutations reach TCP.
      if (rng() % 2 && f.size() >= 54 && f[23] == 6) {
        uint32_t tcp_len = static_cast<uint32_t>(f.size() - 34);
        put16(f, 34 + 16, 0);
        put16(f, 34 + 16, csum(f.data() + 34, tcp_len, tcp_pseudo(f.data() + 14, tcp_len)));
      }
      if (rng() % 8 == 0) f.resize(rng() % (f.size() + 1));
      now += rng() % (50 * kMs);
      t.r.set_now_ns(now);
      run(t.r, f, 54 + rng() % 1600);
      for (int k = 0; k < 8 && !t.poll(now, static_cast<uint32_t>(rng() % 1600)).empty(); ++k) {
      }
    }
    const auto& c = t.r.counters();
    EXPECT_EQ(c.frames_in, c.malformed + c.ignored + c.arp_replies + c.icmp_echo_replies +
                               c.udp_echo_replies + c.control_requests + c.reply_too_big +
                               c.reply_over_mtu + c.tcp_segments);
    EXPECT_LE(t.tcp->open_connections(), TcpEcho::kMaxConnections);
  }
}

// Issue 15: frames for a MAC that is not the guest's reach the responder
// when the device's receive filter lets them through (promiscuous mode, the
// MAC filter table); only UDP echo requests are answered then, from the
// guest's own MAC, and counted as foreign_mac_echoes.
TEST(Responder, EchoesUdpForAForeignMacOnly) {
  Responder r(kGuestMac, kGuestIp);
  const uint8_t foreign[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x99};
  const uint8_t multicast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb};
  for (const uint8_t* dst : {foreign, multicast}) {
    std::vector<uint8_t> f = udp_frame(7, {1, 2, 3});
    std::memcpy(f.data(), dst, 6);
    Result res = run(r, f);
    ASSERT_EQ(res.verdict, Verdict::kReply);
    EXPECT_EQ(0, std::memcmp(res.reply.data(), kPeerMac, 6));
    EXPECT_EQ(0, std::memcmp(res.reply.data() + 6, kGuestMac, 6));  // from our MAC
    EXPECT_EQ(std::vector<uint8_t>(res.reply.end() - 3, res.reply.end()),
              (std::vector<uint8_t>{1, 2, 3}));
  }
  EXPECT_EQ(r.counters().udp_echo_replies, 2u);
  EXPECT_EQ(r.counters().foreign_mac_echoes, 2u);
  // ARP, ICMP and control requests for another MAC are not ours.
  std::vector<uint8_t> arp = arp_request(kGuestIp);
  std::memcpy(arp.data(), foreign, 6);
  EXPECT_EQ(run(r, arp).verdict, Verdict::kDrop);
  std::vector<uint8_t> ctl = udp_frame(Responder::kControlPort, {'p', 'i', 'n', 'g'});
  std::memcpy(ctl.data(), foreign, 6);
  EXPECT_EQ(run(r, ctl).verdict, Verdict::kDrop);
  std::vector<uint8_t> icmp(8, 0);
  icmp[0] = 8;
  put16(icmp, 2, csum(icmp.data(), icmp.size()));
  std::vector<uint8_t> ping = ipv4_frame(1, icmp);
  std::memcpy(ping.data(), foreign, 6);
  EXPECT_EQ(run(r, ping).verdict, Verdict::kDrop);
  EXPECT_EQ(r.counters().ignored, 3u);
  EXPECT_EQ(r.counters().foreign_mac_echoes, 2u);
  // Our own MAC is not foreign.
  EXPECT_EQ(run(r, udp_frame(7, {9})).verdict, Verdict::kReply);
  EXPECT_EQ(r.counters().foreign_mac_echoes, 2u);
}

TEST(Responder, SetMacChangesWhoWeAre) {
  Responder r(kGuestMac, kGuestIp);
  const uint8_t fresh[6] = {0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc};
  r.set_mac(fresh);
  std::vector<uint8_t> f = udp_frame(7, {5});
  std::memcpy(f.data(), fresh, 6);
  Result res = run(r, f);
  ASSERT_EQ(res.verdict, Verdict::kReply);
  EXPECT_EQ(0, std::memcmp(res.reply.data() + 6, fresh, 6));
  EXPECT_EQ(r.counters().foreign_mac_echoes, 0u);
  // The old MAC is foreign now.
  EXPECT_EQ(run(r, udp_frame(7, {6})).verdict, Verdict::kReply);
  EXPECT_EQ(r.counters().foreign_mac_echoes, 1u);
  std::vector<uint8_t> arp = arp_request(kGuestIp);
  res = run(r, arp);
  ASSERT_EQ(res.verdict, Verdict::kReply);
  EXPECT_EQ(0, std::memcmp(res.reply.data() + 22, fresh, 6));  // ARP sender: the new MAC
}

TEST(Vlan, StripAndInsertRoundTrip) {
  using namespace guest::net;
  std::vector<uint8_t> plain = udp_frame(7, {1, 2, 3, 4});
  std::vector<uint8_t> tagged(plain.size() + 4);
  std::memcpy(tagged.data(), plain.data(), 12);
  tagged[12] = 0x81;
  tagged[13] = 0x00;
  tagged[14] = 0x20;  // priority 1
  tagged[15] = 0x64;  // vid 100
  std::memcpy(tagged.data() + 16, plain.data() + 12, plain.size() - 12);
  ASSERT_TRUE(vlan_tagged(tagged.data(), static_cast<uint32_t>(tagged.size())));
  EXPECT_FALSE(vlan_tagged(plain.data(), static_cast<uint32_t>(plain.size())));
  EXPECT_EQ(vlan_id(vlan_tci(tagged.data())), 100u);
  std::vector<uint8_t> out(plain.size());
  ASSERT_EQ(vlan_strip(tagged.data(), static_cast<uint32_t>(tagged.size()), out.data(),
                       static_cast<uint32_t>(out.size())),
            plain.size());
  EXPECT_EQ(out, plain);
  // Too small a buffer, not tagged, too short to be tagged: nothing.
  EXPECT_EQ(vlan_strip(tagged.data(), static_cast<uint32_t>(tagged.size()), out.data(),
                       static_cast<uint32_t>(out.size() - 1)),
            0u);
  EXPECT_EQ(vlan_strip(plain.data(), static_cast<uint32_t>(plain.size()), out.data(),
                       static_cast<uint32_t>(out.size())),
            0u);
  EXPECT_FALSE(vlan_tagged(tagged.data(), 17));
  std::vector<uint8_t> back(out.size() + 4, 0xa5);
  std::memcpy(back.data(), out.data(), out.size());
  EXPECT_EQ(vlan_insert(back.data(), static_cast<uint32_t>(out.size()),
                        static_cast<uint32_t>(back.size() - 1), vlan_tci(tagged.data())),
            0u);  // no room
  ASSERT_EQ(vlan_insert(back.data(), static_cast<uint32_t>(out.size()),
                        static_cast<uint32_t>(back.size()), vlan_tci(tagged.data())),
            tagged.size());
  EXPECT_EQ(back, tagged);
  EXPECT_EQ(vlan_insert(back.data(), 13, 64, 1), 0u);  // no Ethernet header
}

// Issue 15: the guest's control-plane requests, from an untrusted peer.
guest::net::CtrlRequest parse(const std::string& text) {
  guest::net::CtrlRequest r;
  // An exact-size heap copy: a read past the end is ASan's to find.
  std::unique_ptr<char[]> buf(new char[text.size() + 1]);
  std::memcpy(buf.get(), text.data(), text.size());
  guest::net::parse_ctrl_request(buf.get(), text.size(), &r);
  return r;
}

TEST(CtrlRequest, ParsesEveryRequest) {
  using guest::net::CtrlKind;
  EXPECT_EQ(parse("ctrl").kind, CtrlKind::kStatus);
  EXPECT_EQ(parse("ctrl\n").kind, CtrlKind::kStatus);
  auto rx = parse("rx nobcast on");
  EXPECT_EQ(rx.kind, CtrlKind::kRxMode);
  EXPECT_EQ(rx.rx_mode, 5u);
  EXPECT_TRUE(rx.on);
  rx = parse("rx  promisc   off\r\n");
  EXPECT_EQ(rx.kind, CtrlKind::kRxMode);
  EXPECT_EQ(rx.rx_mode, 0u);
  EXPECT_FALSE(rx.on);
  auto f = parse("mac-filter uc=02:00:00:15:00:01,02:00:00:15:00:03 mc=01:00:5E:00:15:02");
  ASSERT_EQ(f.kind, CtrlKind::kMacFilter);
  ASSERT_EQ(f.n_uc, 2u);
  ASSERT_EQ(f.n_mc, 1u);
  EXPECT_EQ(f.uc[1][5], 0x03);
  EXPECT_EQ(f.mc[0][3], 0x00);
  EXPECT_EQ(f.mc[0][2], 0x5e);
  f = parse("mac-filter");
  EXPECT_EQ(f.kind, CtrlKind::kMacFilter);
  EXPECT_EQ(f.n_uc + f.n_mc, 0u);
  EXPECT_EQ(parse("mac-filter uc=").kind, CtrlKind::kMacFilter);
  auto m = parse("mac-addr 52:54:00:15:00:01");
  ASSERT_EQ(m.kind, CtrlKind::kMacAddr);
  EXPECT_EQ(m.mac[0], 0x52);
  EXPECT_EQ(m.mac[5], 0x01);
  auto v = parse("vlan del 4095");
  ASSERT_EQ(v.kind, CtrlKind::kVlan);
  EXPECT_FALSE(v.on);
  EXPECT_EQ(v.vid, 4095u);
  v = parse("vlan add 65535");  // the driver refuses it (kInvalid), not the parser
  ASSERT_EQ(v.kind, CtrlKind::kVlan);
  EXPECT_EQ(v.vid, 65535u);
  std::string many = "mac-filter uc=";
  for (int i = 0; i < 64; ++i) many += (i ? "," : "") + std::string("02:00:00:00:00:01");
  EXPECT_EQ(parse(many).n_uc, 64u);
}

TEST(CtrlRequest, RefusesAnythingElse) {
  using guest::net::CtrlKind;
  std::string too_many = "mac-filter uc=";
  for (int i = 0; i < 65; ++i) too_many += (i ? "," : "") + std::string("02:00:00:00:00:01");
  for (const std::string& bad :
       {std::string(""),
        std::string(" "),
        std::string("ctrl x"),
        std::string("rx promisc"),
        std::string("rx promisc maybe"),
        std::string("rx bogus on"),
        std::string("rx promisc on x"),
        std::string("mac-addr"),
        std::string("mac-addr 52:54:00:15:00"),
        std::string("mac-addr 52:54:00:15:00:0g"),
        std::string("mac-addr 52-54-00-15-00-01"),
        std::string("mac-addr 52:54:00:15:00:01 x"),
        std::string("mac-filter xx=02:00:00:00:00:01"),
        std::string("mac-filter uc=02:00:00:00:00:01,"),
        std::string("mac-filter uc=,02:00:00:00:00:01"),
        std::string("mac-filter uc=02:00:00:00:00:01 uc=02:00:00:00:00:02"),
        too_many,
        std::string("vlan add"),
        std::string("vlan add -1"),
        std::string("vlan add 65536"),
        std::string("vlan add 123456"),
        std::string("vlan put 1"),
        std::string("vlan add 1x"),
        std::string("a b c d e f g h i j")})
    EXPECT_EQ(parse(bad).kind, CtrlKind::kBad) << "'" << bad << "'";
  EXPECT_TRUE(guest::net::is_ctrl_request("rx promisc on", 13));
  EXPECT_TRUE(guest::net::is_ctrl_request("ctrl\n", 5));
  EXPECT_FALSE(guest::net::is_ctrl_request("counters", 8));
  EXPECT_FALSE(guest::net::is_ctrl_request("rxx", 3));
  EXPECT_FALSE(guest::net::is_ctrl_request("", 0));
  // Random bytes: never a read out of bounds (ASan), never a crash.
  std::mt19937 rng(15);
  for (int i = 0; i < 20000; ++i) {
    std::string t(rng() % 64, ' ');
    const char alphabet[] = "rx promisc on off mac-filter uc= mc=,:0123456789abcdef vlan add\n";
    for (char& c : t) c = alphabet[rng() % (sizeof(alphabet) - 1)];
    (void)parse(t);
  }
}

}  // namespace
