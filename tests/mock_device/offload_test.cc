// The mock device's checksum and segmentation offloads (issue 16 item 5),
// driven by the register-level test driver:
//   - the offer (offer_offloads: QEMU's with a vnet-header tap, plus USO);
//   - transmit: checksum completion and segmentation of TCPv4/TCPv6/UDP
//     frames into correct wire frames (every checksum verified here, by
//     offload_frames.h's own arithmetic), and each header rule of 5.1.6.2.1
//     reported -- and the frame dropped where Linux would drop it;
//   - receive: DATA_VALID and partial checksums, GSO frames over mergeable
//     buffers and in one big buffer, GRO-style coalescing, refusals, and
//     every rx header fault on GSO, partial-checksum and multi-buffer frames;
//   - CTRL_GUEST_OFFLOADS: accepted, refused, and what it switches.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "driver/spec/net_ctrl_layout.h"
#include "mock_device/fault.h"
#include "mock_device/mock_device.h"
#include "mock_device/offload.h"
#include "mock_test_driver.h"
#include "offload_frames.h"

namespace vnet::mock {
namespace {

using testing::fmask;
using testing::FrameSpec;
using testing::make_frame;
using testing::NetHdr;
using testing::rd16;
using testing::rd32;
using testing::TestDriver;
using testing::to_partial;
using testing::verify_ipv4_header;
using testing::verify_l4;
using F = spec::Feature;
namespace ctl = spec::ctrl;
using Mode = DeviceConfig::RxCsumMode;

constexpr uint64_t kV1 = uint64_t{1} << 32;
const uint64_t kBase = kV1 | fmask(F::kNetMac) | fmask(F::kNetStatus);
const uint64_t kTx = kBase | fmask(F::kNetCsum) | fmask(F::kNetHostTso4) | fmask(F::kNetHostTso6) |
                     fmask(F::kNetHostEcn) | fmask(F::kNetHostUso);
const uint64_t kRxOff = kBase | fmask(F::kNetGuestCsum) | fmask(F::kNetGuestTso4) |
                        fmask(F::kNetGuestTso6) | fmask(F::kNetGuestEcn) | fmask(F::kNetGuestUso4) |
                        fmask(F::kNetGuestUso6);
const uint64_t kMrg = fmask(F::kNetMrgRxbuf);

DeviceConfig device(Mode mode = Mode::kNone) {
  DeviceConfig c;
  c.transport = TransportKind::kModern;
  c.features = kBase | kMrg | fmask(F::kNetCtrlVq) | fmask(F::kNetGuestHdrLen);
  c.offer_offloads = true;
  c.rx_mergeable = true;
  c.rx_csum_mode = mode;
  c.tx_capture_limit = 256;
  return c;
}

struct Rig {
  GuestMemory mem{48 << 20};
  std::unique_ptr<MockDevice> dev;
  std::unique_ptr<TestDriver> drv;
  uint16_t tx_desc = 0;
  uint16_t rx_desc = 0;
  uint16_t used_seen = 0;
  std::vector<GuestMemory::Allocation> rx_bufs;  // by descriptor index

  // ctrl: with the control queue (one pair, controlq 2).
  explicit Rig(uint64_t features, const DeviceConfig& c = device(), bool ctrl = false,
               uint16_t qsize = 64) {
    dev = std::make_unique<MockDevice>(mem, c);
    drv = std::make_unique<TestDriver>(mem, *dev);
    EXPECT_TRUE(ctrl ? drv->init_modern_ctrl(features, 1, -1, qsize)
                     : drv->init_modern(features, qsize));
    rx_bufs.resize(qsize);
  }
  // One frame with its header on transmitq1, notified (the device sends at once).
  GuestMemory::Allocation tx(const std::vector<uint8_t>& f, const NetHdr& h) {
    auto b = drv->send(f, 12, tx_desc, h.b);
    tx_desc = uint16_t((tx_desc + 1) % drv->tx.size);
    drv->notify_modern(1);
    return b;
  }
  // n receive buffers of size bytes each (one descriptor each), 0xCC-filled.
  void post_rx(size_t n, uint32_t size) {
    for (size_t i = 0; i < n; ++i) {
      auto b = drv->buffer(size);
      std::memset(b.host, 0xCC, size);
      drv->rx.set_desc(rx_desc, b.device_addr, size, spec::kDescFlagWrite, 0);
      drv->rx.offer(rx_desc);
      rx_bufs[rx_desc] = b;
      rx_desc = uint16_t((rx_desc + 1) % drv->rx.size);
    }
  }
  struct Received {
    NetHdr hdr;
    uint16_t num_buffers = 0;
    std::vector<uint8_t> frame;
    std::vector<uint32_t> lens;  // used.len of each buffer
  };
  // The next frame on the used ring: its first header's num_buffers
  // entries, header stripped, payloads joined by each entry's used.len.
  Received take_rx() {
    Received r;
    EXPECT_NE(drv->rx.used_idx(), used_seen) << "nothing used";
    if (drv->rx.used_idx() == used_seen) return r;
    const uint8_t* first = rx_bufs[drv->rx.used_id(used_seen)].host;
    std::memcpy(r.hdr.b, first, 12);
    r.num_buffers = r.hdr.field(10);
    for (uint16_t k = 0; k < r.num_buffers && drv->rx.used_idx() != used_seen; ++k) {
      const uint32_t id = drv->rx.used_id(used_seen);
      const uint32_t len = drv->rx.used_len(used_seen);
      ++used_seen;
      r.lens.push_back(len);
      const uint8_t* p = rx_bufs[id].host;
      const uint32_t skip = k == 0 ? 12 : 0;
      if (len > skip) r.frame.insert(r.frame.end(), p + skip, p + len);
    }
    return r;
  }
  std::vector<std::string> ids() const {
    std::vector<std::string> out;
    for (const auto& v : dev->conformance().violations()) out.push_back(v.id);
    return out;
  }
  bool only(const std::string& id) const {
    const auto v = ids();
    return v.size() == 1 && v[0] == id;
  }
};

std::string describe(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + " ";
  return s;
}

// The payload bytes of a frame of spec s.
std::vector<uint8_t> payload_of(const std::vector<uint8_t>& f, const FrameSpec& s) {
  return {f.begin() + ptrdiff_t(testing::headers_of(s)), f.end()};
}

// ---- the offer --------------------------------------------------------------

TEST(OffloadOffer, OfferOffloadsAddsQemusTapOfferAndUso) {
  GuestMemory mem{1 << 20};
  MockDevice dev(mem, device());
  const uint64_t f = dev.config().features;
  for (F bit : {F::kNetCsum, F::kNetGuestCsum, F::kNetCtrlGuestOffloads, F::kNetGuestTso4,
                F::kNetGuestTso6, F::kNetGuestEcn, F::kNetHostTso4, F::kNetHostTso6, F::kNetHostEcn,
                F::kNetGuestUso4, F::kNetGuestUso6, F::kNetHostUso})
    EXPECT_TRUE(spec::has_feature(f, bit)) << int(bit);
  EXPECT_FALSE(spec::has_feature(f, F::kNetGuestUfo));
  EXPECT_FALSE(spec::has_feature(f, F::kNetHostUfo));
}

TEST(OffloadOffer, GuestOffloadsControlOnlyWithCtrlVqAndNoOffloadByDefault) {
  GuestMemory mem{1 << 20};
  DeviceConfig c = device();
  c.offer_ctrl_vq = false;
  MockDevice no_ctrl(mem, c);
  EXPECT_FALSE(spec::has_feature(no_ctrl.config().features, F::kNetCtrlGuestOffloads));
  EXPECT_TRUE(spec::has_feature(no_ctrl.config().features, F::kNetCsum));
  // The default (QEMU over user networking): no offload; QEMU offers
  // CTRL_GUEST_OFFLOADS all the same and answers its commands ERR.
  MockDevice plain(mem, DeviceConfig{});
  EXPECT_EQ(plain.config().features & offload::kOffloadOffer, 0u);
  EXPECT_TRUE(spec::has_feature(plain.config().features, F::kNetCtrlGuestOffloads));
}

// ---- transmit: checksum completion -----------------------------------------

struct Kind {
  bool ipv6;
  bool udp;
  const char* name;
};
const Kind kKinds[] = {
    {false, false, "TcpV4"}, {true, false, "TcpV6"}, {false, true, "UdpV4"}, {true, true, "UdpV6"}};

class TxCsum : public ::testing::TestWithParam<Kind> {};

TEST_P(TxCsum, CompletesTheChecksumFromThePseudoHeaderSum) {
  Rig r(kTx);
  FrameSpec s;
  s.ipv6 = GetParam().ipv6;
  s.udp = GetParam().udp;
  s.payload = 333;  // odd: the last byte padded
  const auto want = make_frame(s);
  auto f = want;
  to_partial(f, s);
  ASSERT_FALSE(verify_l4(f, s));
  auto b = r.tx(f, NetHdr::partial(s));
  ASSERT_EQ(r.dev->captured_tx().size(), 1u);
  const auto& out = r.dev->captured_tx()[0];
  EXPECT_TRUE(verify_l4(out, s));
  EXPECT_EQ(out, want);
  EXPECT_EQ(r.dev->counters().tx_csum_completed, 1u);
  EXPECT_TRUE(r.ids().empty()) << describe(r.ids());
  // The driver's buffer is device-readable: left as it was.
  EXPECT_EQ(std::vector<uint8_t>(b.host + 12, b.host + 12 + f.size()), f);
}

INSTANTIATE_TEST_SUITE_P(Kinds, TxCsum, ::testing::ValuesIn(kKinds),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(TxCsum, FrameOverSeveralDescriptorsIsGatheredAndCompleted) {
  Rig r(kTx);
  FrameSpec s;
  s.payload = 1000;
  const auto want = make_frame(s);
  auto f = want;
  to_partial(f, s);
  const NetHdr h = NetHdr::partial(s);
  // Header alone, then the frame in three pieces.
  auto hb = r.drv->buffer(12);
  std::memcpy(hb.host, h.b, 12);
  const size_t cuts[] = {0, 20, 700, f.size()};
  r.drv->tx.set_desc(0, hb.device_addr, 12, spec::kDescFlagNext, 1);
  for (uint16_t i = 0; i < 3; ++i) {
    auto b = r.drv->buffer(cuts[i + 1] - cuts[i]);
    std::memcpy(b.host, f.data() + cuts[i], cuts[i + 1] - cuts[i]);
    r.drv->tx.set_desc(uint16_t(i + 1), b.device_addr, uint32_t(cuts[i + 1] - cuts[i]),
                       i < 2 ? spec::kDescFlagNext : 0, uint16_t(i + 2));
  }
  r.drv->tx.offer(0);
  r.drv->notify_modern(1);
  ASSERT_EQ(r.dev->captured_tx().size(), 1u);
  EXPECT_EQ(r.dev->captured_tx()[0], want);
}

TEST(TxCsum, FrameWithoutNeedsCsumIsSentAsItIs) {
  Rig r(kTx);
  FrameSpec s;
  auto f = make_frame(s);
  f[f.size() - 1] ^= 0x55;  // a wrong checksum now: not the device's business
  r.tx(f, NetHdr());
  ASSERT_EQ(r.dev->captured_tx().size(), 1u);
  EXPECT_EQ(r.dev->captured_tx()[0], f);
  EXPECT_EQ(r.dev->counters().tx_csum_completed, 0u);
  EXPECT_TRUE(r.ids().empty()) << describe(r.ids());
}

TEST(TxCsum, NeedsCsumOnAFrameTheDeviceCannotParseStillCompletes) {
  // An inner checksum the device does not parse (here: at byte 40 of a
  // non-IP frame): the bounds hold, so the sum is completed where asked.
  Rig r(kTx);
  std::vector<uint8_t> f = testing::test_frame(100);
  f[12] = 0x88, f[13] = 0xB5;
  f[40] = f[41] = 0;
  r.tx(f, NetHdr().flags(1).csum(30, 10));
  ASSERT_EQ(r.dev->captured_tx().size(), 1u);
  const auto& out = r.dev->captured_tx()[0];
  EXPECT_EQ(testing::fold16(testing::word_sum(out.data() + 30, out.size() - 30)), 0xFFFF);
  EXPECT_TRUE(r.ids().empty()) << describe(r.ids());
}

// ---- transmit: segmentation ------------------------------------------------

// Checks the segments of a GSO frame of spec s (payload cut by mss) as a
// receiver would: lengths, ids, sequence numbers, flags, checksums, data.
void expect_segments(const std::vector<std::vector<uint8_t>>& segs, const FrameSpec& s,
                     size_t mss) {
  const size_t hdrs = testing::headers_of(s), l4 = testing::l4_of(s);
  const size_t n = (s.payload + mss - 1) / mss;
  ASSERT_EQ(segs.size(), n);
  const auto orig = make_frame(s);
  std::vector<uint8_t> joined;
  for (size_t i = 0; i < n; ++i) {
    const auto& g = segs[i];
    const size_t take = std::min(mss, s.payload - i * mss);
    ASSERT_EQ(g.size(), hdrs + take) << "segment " << i;
    EXPECT_TRUE(std::equal(g.begin(), g.begin() + 14, orig.begin()));
    if (s.ipv6) {
      EXPECT_EQ(rd16(&g[18]), g.size() - 14 - 40);
    } else {
      EXPECT_EQ(rd16(&g[16]), g.size() - 14);
      EXPECT_EQ(rd16(&g[18]), uint16_t(s.ip_id + i));
      EXPECT_TRUE(verify_ipv4_header(g)) << "segment " << i;
    }
    if (s.udp) {
      EXPECT_EQ(rd16(&g[l4 + 4]), g.size() - l4);
    } else {
      EXPECT_EQ(rd32(&g[l4 + 4]), uint32_t(s.seq + i * mss));
      uint8_t want = s.tcp_flags;
      if (i + 1 < n) want &= uint8_t(~0x09);  // FIN, PSH: last only
      if (i > 0) want &= uint8_t(~0x80);      // CWR: first only
      EXPECT_EQ(g[l4 + 13], want) << "segment " << i;
      EXPECT_TRUE(std::equal(g.begin() + ptrdiff_t(l4 + 20), g.begin() + ptrdiff_t(hdrs),
                             orig.begin() + ptrdiff_t(l4 + 20)));  // options
    }
    EXPECT_TRUE(verify_l4(g, s)) << "segment " << i;
    joined.insert(joined.end(), g.begin() + ptrdiff_t(hdrs), g.end());
  }
  EXPECT_EQ(joined, payload_of(orig, s));
}

struct GsoCase {
  bool ipv6;
  bool udp;
  size_t payload;
  uint16_t mss;
  size_t tcp_options;
  const char* name;
};
const GsoCase kGsoCases[] = {
    {false, false, 4000, 1000, 0, "TcpV4Even"},     {false, false, 4321, 1448, 12, "TcpV4Options"},
    {true, false, 2500, 1000, 0, "TcpV6Remainder"}, {false, true, 3001, 1000, 0, "UdpV4"},
    {true, true, 5000, 1232, 0, "UdpV6"},           {false, false, 800, 1448, 0, "TcpV4OneSegment"},
    {false, false, 63000, 1448, 0, "TcpV4Max"},
};

class TxGso : public ::testing::TestWithParam<GsoCase> {};

TEST_P(TxGso, SegmentsIntoCorrectWireFrames) {
  const GsoCase& c = GetParam();
  Rig r(kTx);
  FrameSpec s;
  s.ipv6 = c.ipv6;
  s.udp = c.udp;
  s.payload = c.payload;
  s.tcp_options = c.tcp_options;
  s.tcp_flags = 0x19;  // ACK | PSH | FIN
  auto f = make_frame(s);
  to_partial(f, s);
  r.tx(f, NetHdr::tso(s, c.mss));
  expect_segments(r.dev->captured_tx(), s, c.mss);
  const size_t n = (c.payload + c.mss - 1) / c.mss;
  EXPECT_EQ(r.dev->counters().tx_gso_frames, 1u);
  EXPECT_EQ(r.dev->counters().tx_gso_segments, n);
  EXPECT_EQ(r.dev->counters().tx_frames, n);
  EXPECT_EQ(r.dev->tx_sent(0), 1u);  // one frame from the driver
  EXPECT_TRUE(r.ids().empty()) << describe(r.ids());
}

INSTANTIATE_TEST_SUITE_P(Cases, TxGso, ::testing::ValuesIn(kGsoCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(TxGsoEcn, CwrOnlyOnTheFirstSegmentWithTheEcnBit) {
  Rig r(kTx);
  FrameSpec s;
  s.payload = 3000;
  s.tcp_flags = 0x90;  // ACK | CWR
  auto f = make_frame(s);
  to_partial(f, s);
  r.tx(f, NetHdr::tso(s, 1000).gso(0x81));
  expect_segments(r.dev->captured_tx(), s, 1000);
  EXPECT_TRUE(r.ids().empty()) << describe(r.ids());
}

// ---- transmit: the driver's header rules ------------------------------------

struct RuleCase {
  const char* name;
  uint64_t features;
  FrameSpec spec;
  std::function<NetHdr(const FrameSpec&)> header;
  std::function<void(std::vector<uint8_t>&)> mangle;  // after to_partial
  const char* rule;                                   // the one violation expected ("" none)
  bool sent;                                          // the frame (or its segments) left the device
};

FrameSpec big(bool udp = false, uint8_t flags = 0x18) {
  FrameSpec s;
  s.payload = 3000;
  s.udp = udp;
  s.tcp_flags = flags;
  return s;
}

FrameSpec big6() {
  FrameSpec s = big();
  s.ipv6 = true;
  return s;
}

const std::vector<RuleCase>& rule_cases() {
  static const std::vector<RuleCase> all = {
      {"CsumBeyondFrame", kTx, FrameSpec{},
       [](const FrameSpec&) { return NetHdr().flags(1).csum(150, 16); }, nullptr, "drv-5.1.6.2.1-8",
       false},
      {"CsumOffsetBeyondFrame", kTx, FrameSpec{},
       [](const FrameSpec& s) { return NetHdr::partial(s).csum(34, 120); }, nullptr,
       "drv-5.1.6.2.1-8", false},
      {"GsoCsumStartNotL4", kTx, big(),
       [](const FrameSpec& s) { return NetHdr::tso(s, 1000).csum(14, 10); }, nullptr,
       "drv-5.1.6.2.1-8", false},
      {"GsoCsumOffsetNotTcps", kTx, big(),
       [](const FrameSpec& s) { return NetHdr::tso(s, 1000).csum(34, 6); }, nullptr,
       "drv-5.1.6.2.1-8", false},
      {"IPv4HeaderChecksumWrong", kTx, FrameSpec{}, NetHdr::partial,
       [](std::vector<uint8_t>& f) { f[25] ^= 1; }, "drv-5.1.6.2.1-6", true},
      {"NotThePseudoHeaderSum", kTx, FrameSpec{}, NetHdr::partial,
       [](std::vector<uint8_t>& f) { f[50] ^= 0x10; }, "drv-5.1.6.2.1-7", true},
      {"GsoPseudoHeaderWithoutLength", kTx, big(),
       [](const FrameSpec& s) { return NetHdr::tso(s, 1000); },
       [](std::vector<uint8_t>& f) {
         // The sum a NIC wants (length 0), not the one Linux's GSO adjusts.
         uint32_t v = testing::rd16(&f[50]);
         v += 0xFFFF - uint32_t(f.size() - 34);
         testing::wr16(&f[50], testing::fold16(v));
       },
       "drv-5.1.6.2.1-7", true},
      {"GsoWithoutNeedsCsum", kTx, big(),
       [](const FrameSpec& s) { return NetHdr::tso(s, 1000).flags(0); }, nullptr,
       "drv-5.1.6.2.1-10", false},
      {"GsoSizeZero", kTx, big(), [](const FrameSpec& s) { return NetHdr::tso(s, 0); }, nullptr,
       "drv-5.1.6.2.1-10", false},
      {"HdrLenNotExactWithGuestHdrLen", kTx | fmask(F::kNetGuestHdrLen), big(),
       [](const FrameSpec& s) { return NetHdr::tso(s, 1000).hdr_len(128); }, nullptr,
       "drv-5.1.6.2.1-11", true},
      {"HdrLenExactWithGuestHdrLen", kTx | fmask(F::kNetGuestHdrLen), big(),
       [](const FrameSpec& s) { return NetHdr::tso(s, 1000); }, nullptr, "", true},
      {"HdrLenShort", kTx, big(),
       [](const FrameSpec& s) { return NetHdr::tso(s, 1000).hdr_len(40); }, nullptr,
       "drv-5.1.6.2.1-12", true},
      {"HdrLenLargerIsFine", kTx, big(),
       [](const FrameSpec& s) { return NetHdr::tso(s, 1000).hdr_len(256); }, nullptr, "", true},
      {"HdrLenBeyondFrameDropped", kTx, big(),
       [](const FrameSpec& s) { return NetHdr::tso(s, 1000).hdr_len(4000); }, nullptr, "", false},
      {"TcpV4OnUdp", kTx, big(true),
       [](const FrameSpec& s) { return NetHdr::tso(s, 1000).gso(1).csum(34, 16); }, nullptr,
       "def-5.1.6.2-2", false},
      {"TcpV4OnIpv6", kTx, big6(), [](const FrameSpec& s) { return NetHdr::tso(s, 1000).gso(1); },
       nullptr, "def-5.1.6.2-2", false},
      {"GsoCsumStartOnlyWrong", kTx, big(),
       [](const FrameSpec& s) { return NetHdr::tso(s, 1000).csum(30, 16); }, nullptr,
       "drv-5.1.6.2.1-8", false},
      {"TcpV6OnIpv4", kTx, big(), [](const FrameSpec& s) { return NetHdr::tso(s, 1000).gso(4); },
       nullptr, "def-5.1.6.2-2", false},
      {"UdpL4OnTcp", kTx, big(), [](const FrameSpec& s) { return NetHdr::tso(s, 1000).gso(5); },
       nullptr, "def-5.1.6.2-2", false},
      {"GsoOnNonIp", kTx, big(), [](const FrameSpec& s) { return NetHdr::tso(s, 1000); },
       [](std::vector<uint8_t>& f) { f[12] = 0x88, f[13] = 0xB5; }, "def-5.1.6.2-2", false},
      {"GsoOnFragment", kTx, big(), [](const FrameSpec& s) { return NetHdr::tso(s, 1000); },
       [](std::vector<uint8_t>& f) { f[20] |= 0x20; }, "def-5.1.6.2-2", false},  // MF
      {"CwrWithoutHostEcn", kTx & ~fmask(F::kNetHostEcn), big(false, 0x90),
       [](const FrameSpec& s) { return NetHdr::tso(s, 1000); }, nullptr, "drv-5.1.6.2.1-5", true},
      {"CwrWithoutEcnBit", kTx, big(false, 0x90),
       [](const FrameSpec& s) { return NetHdr::tso(s, 1000); }, nullptr, "drv-5.1.6.2.1-5", true},
      {"EcnBitOnUdp", kTx, big(true),
       [](const FrameSpec& s) { return NetHdr::tso(s, 1000).gso(0x85); }, nullptr,
       "drv-5.1.6.2.1-5", true},
      {"EcnBitWithoutHostEcn", kTx & ~fmask(F::kNetHostEcn), big(),
       [](const FrameSpec& s) { return NetHdr::tso(s, 1000).gso(0x81); }, nullptr,
       "drv-5.1.6.2.1-3", true},
      {"TsoNotNegotiatedSentWhole", kBase | fmask(F::kNetCsum), big(),
       [](const FrameSpec& s) { return NetHdr::tso(s, 1000); }, nullptr, "drv-5.1.6.2.1-3", true},
      {"NeedsCsumWithoutCsum", kBase, FrameSpec{}, NetHdr::partial, nullptr, "drv-5.1.6.2.1-2",
       true},
  };
  return all;
}

class TxRule : public ::testing::TestWithParam<size_t> {};

TEST_P(TxRule, ReportedAndSentOrDropped) {
  const RuleCase& c = rule_cases()[GetParam()];
  Rig r(c.features);
  auto f = make_frame(c.spec);
  to_partial(f, c.spec);
  if (c.mangle) c.mangle(f);
  r.tx(f, c.header(c.spec));
  const auto ids = r.ids();
  if (std::string(c.rule).empty())
    EXPECT_TRUE(ids.empty()) << describe(ids);
  else
    EXPECT_TRUE(r.only(c.rule)) << "want " << c.rule << ", got " << describe(ids);
  EXPECT_EQ(r.dev->counters().tx_frames > 0, c.sent);
  EXPECT_EQ(r.dev->counters().tx_offload_bad, c.sent ? 0u : 1u);
  EXPECT_EQ(r.drv->tx.used_idx(), 1u);  // completed either way
}

INSTANTIATE_TEST_SUITE_P(Rules, TxRule, ::testing::Range(size_t{0}, rule_cases().size()),
                         [](const auto& info) {
                           return std::string(rule_cases()[info.param].name);
                         });

TEST(TxRuleToo, GsoOnAnIpv6FragmentIsRefused) {
  // A fragment header (44) between IPv6 and TCP: not a TCP segment to cut.
  Rig r(kTx);
  FrameSpec s = big6();
  auto f = make_frame(s);
  const uint8_t frag[8] = {6, 0, 0, 0, 0, 0, 0, 9};
  f.insert(f.begin() + 54, frag, frag + 8);
  f[20] = 44;
  testing::wr16(&f[18], uint16_t(f.size() - 54));
  const uint32_t l4_len = uint32_t(f.size() - 62);
  testing::wr16(&f[62 + 16], testing::fold16(testing::pseudo(f, true, 6, l4_len)));
  r.tx(f, NetHdr::tso(s, 1000).csum(62, 16).hdr_len(82));
  EXPECT_TRUE(r.only("def-5.1.6.2-2")) << describe(r.ids());
  EXPECT_EQ(r.dev->counters().tx_frames, 0u);
  EXPECT_EQ(r.dev->counters().tx_offload_bad, 1u);
}

TEST(TxRuleToo, UdpChecksumZeroIsSentAsAllOnes) {
  Rig r(kTx);
  FrameSpec s;
  s.udp = true;
  auto f = make_frame(s);
  // Make the checksum come out 0: add the current one to the last payload word.
  const size_t l4 = testing::l4_of(s);
  testing::wr16(&f[l4 + 6], 0);
  const uint32_t len = uint32_t(f.size() - l4);
  const uint16_t sum =
      testing::fold16(testing::pseudo(f, false, 17, len) + testing::word_sum(&f[l4], len));
  const size_t w = f.size() - 2;  // payload 100: an even offset from l4
  testing::wr16(&f[w], testing::fold16(uint32_t(rd16(&f[w])) + uint16_t(~sum)));
  to_partial(f, s);
  r.tx(f, NetHdr::partial(s));
  ASSERT_EQ(r.dev->captured_tx().size(), 1u);
  EXPECT_EQ(rd16(&r.dev->captured_tx()[0][l4 + 6]), 0xFFFF);
  EXPECT_TRUE(verify_l4(r.dev->captured_tx()[0], s));
}

TEST(TxRuleToo, SegmentedFrameOfAViolationIsStillCorrectOnTheWire) {
  // hdr_len short (a SHOULD): Linux segments by the real headers.
  Rig r(kTx);
  FrameSpec s = big();
  auto f = make_frame(s);
  to_partial(f, s);
  r.tx(f, NetHdr::tso(s, 1000).hdr_len(20));
  expect_segments(r.dev->captured_tx(), s, 1000);
}

// ---- receive: checksum ------------------------------------------------------

TEST(RxCsum, DataValidOnlyForFramesWhoseChecksumsVerify) {
  Rig r(kRxOff | kMrg, device(Mode::kDataValid));
  r.post_rx(4, 2048);
  for (const Kind& k : kKinds) {
    FrameSpec s;
    s.ipv6 = k.ipv6;
    s.udp = k.udp;
    ASSERT_TRUE(r.dev->inject_rx(make_frame(s)));
    const auto got = r.take_rx();
    EXPECT_EQ(got.hdr.b[0], spec::net_hdr::kFlagDataValid) << k.name;
    EXPECT_EQ(got.hdr.b[1], 0) << k.name;
    EXPECT_EQ(got.frame, make_frame(s)) << k.name;
  }
  EXPECT_EQ(r.dev->counters().rx_csum_valid, 4u);
  r.post_rx(2, 2048);
  FrameSpec s;
  auto bad = make_frame(s);
  bad.back() ^= 1;
  ASSERT_TRUE(r.dev->inject_rx(bad));
  EXPECT_EQ(r.take_rx().hdr.b[0], 0);
  ASSERT_TRUE(r.dev->inject_rx(testing::test_frame(80)));  // not IP
  EXPECT_EQ(r.take_rx().hdr.b[0], 0);
  r.post_rx(1, 2048);
  auto bad_ip = make_frame(s);
  bad_ip[25] ^= 1;  // the IPv4 header checksum only
  ASSERT_TRUE(r.dev->inject_rx(bad_ip));
  EXPECT_EQ(r.take_rx().hdr.b[0], 0);
  EXPECT_EQ(r.dev->counters().rx_csum_valid, 4u);
}

TEST(RxCsum, NothingWithoutGuestCsumNegotiated) {
  Rig r(kBase | kMrg, device(Mode::kDataValid));
  r.post_rx(2, 2048);
  ASSERT_TRUE(r.dev->inject_rx(make_frame(FrameSpec{})));
  EXPECT_EQ(r.take_rx().hdr.b[0], 0);
  Rig p(kBase | kMrg, device(Mode::kPartial));
  p.post_rx(1, 2048);
  ASSERT_TRUE(p.dev->inject_rx(make_frame(FrameSpec{})));
  const auto got = p.take_rx();
  EXPECT_EQ(got.hdr.b[0], 0);
  EXPECT_EQ(got.frame, make_frame(FrameSpec{}));
}

TEST(RxCsum, PartialChecksumCompletesToTheOriginal) {
  Rig r(kRxOff | kMrg, device(Mode::kPartial));
  r.post_rx(4, 2048);
  for (const Kind& k : kKinds) {
    FrameSpec s;
    s.ipv6 = k.ipv6;
    s.udp = k.udp;
    s.payload = 501;
    const auto want = make_frame(s);
    ASSERT_TRUE(r.dev->inject_rx(want));
    auto got = r.take_rx();
    EXPECT_EQ(got.hdr.b[0], spec::net_hdr::kFlagNeedsCsum) << k.name;
    const uint16_t start = got.hdr.field(6), off = got.hdr.field(8);
    EXPECT_EQ(start, testing::l4_of(s)) << k.name;
    EXPECT_EQ(off, testing::csum_offset_of(s)) << k.name;
    EXPECT_EQ(got.hdr.field(2), 0) << k.name;  // hdr_len: not a GSO frame
    EXPECT_FALSE(verify_l4(got.frame, s)) << k.name;
    // Complete it as the driver's stack would (5.1.6.4.2).
    testing::wr16(&got.frame[start + off], 0);
    auto seeded = want;
    to_partial(seeded, s);
    testing::wr16(&got.frame[start + off], rd16(&seeded[start + off]));
    EXPECT_EQ(got.frame, seeded) << k.name;
    const uint16_t sum =
        uint16_t(~testing::fold16(testing::word_sum(&got.frame[start], got.frame.size() - start)));
    testing::wr16(&got.frame[start + off], sum == 0 ? 0xFFFF : sum);
    EXPECT_TRUE(verify_l4(got.frame, s)) << k.name;
  }
  EXPECT_EQ(r.dev->counters().rx_csum_partial, 4u);
}

// ---- receive: GSO -----------------------------------------------------------

struct RxGsoCase {
  bool ipv6;
  bool udp;
  uint8_t type;
  const char* name;
};
const RxGsoCase kRxGsoCases[] = {{false, false, 1, "TcpV4"},
                                 {true, false, 4, "TcpV6"},
                                 {false, true, 5, "UdpV4"},
                                 {true, true, 5, "UdpV6"}};

class RxGso : public ::testing::TestWithParam<RxGsoCase> {};

// The header and data of a GSO frame delivered over mergeable buffers:
// every buffer full but the last, num_buffers in the first header.
TEST_P(RxGso, OverMergeableBuffers) {
  const RxGsoCase& c = GetParam();
  Rig r(kRxOff | kMrg);
  r.post_rx(40, 2048);
  FrameSpec s;
  s.ipv6 = c.ipv6;
  s.udp = c.udp;
  s.payload = 60000;
  auto f = make_frame(s);
  // GRO rewrites the lengths: start from lying ones.
  if (!s.ipv6) testing::wr16(&f[16], 1);
  ASSERT_TRUE(r.dev->inject_rx_gso(f, 1448));
  const auto got = r.take_rx();
  const size_t total = 12 + f.size();
  const size_t bufs = (total + 2047) / 2048;
  EXPECT_EQ(got.num_buffers, bufs);
  ASSERT_EQ(got.lens.size(), bufs);
  for (size_t i = 0; i + 1 < bufs; ++i) EXPECT_EQ(got.lens[i], 2048u) << i;
  EXPECT_EQ(got.lens.back(), total - 2048 * (bufs - 1));
  EXPECT_EQ(got.hdr.b[0], spec::net_hdr::kFlagNeedsCsum);
  EXPECT_EQ(got.hdr.b[1], c.type);
  EXPECT_EQ(got.hdr.field(2), testing::headers_of(s));
  EXPECT_EQ(got.hdr.field(4), 1448);
  EXPECT_EQ(got.hdr.field(6), testing::l4_of(s));
  EXPECT_EQ(got.hdr.field(8), testing::csum_offset_of(s));
  auto want = make_frame(s);
  to_partial(want, s);
  EXPECT_EQ(got.frame, want);
  if (!s.ipv6) EXPECT_TRUE(verify_ipv4_header(got.frame));
  EXPECT_EQ(r.dev->counters().rx_gso_frames, 1u);
  EXPECT_EQ(r.dev->counters().used_published, bufs);
  EXPECT_TRUE(r.ids().empty()) << describe(r.ids());
}

INSTANTIATE_TEST_SUITE_P(Cases, RxGso, ::testing::ValuesIn(kRxGsoCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(RxGsoToo, OneBigBufferWithoutMergeable) {
  Rig r(kRxOff);  // no MRG_RXBUF
  r.post_rx(1, 65562);
  FrameSpec s;
  s.payload = 64000;
  ASSERT_TRUE(r.dev->inject_rx_gso(make_frame(s), 1448));
  const auto got = r.take_rx();
  EXPECT_EQ(got.lens.size(), 1u);
  EXPECT_EQ(got.num_buffers, 1u);
  EXPECT_EQ(got.hdr.b[1], spec::net_hdr::kGsoTcpV4);
  auto want = make_frame(s);
  to_partial(want, s);
  EXPECT_EQ(got.frame, want);
}

TEST(RxGsoToo, SmallBuffersWithoutMergeableDoNotTakeIt) {
  Rig r(kRxOff);
  r.post_rx(40, 2048);
  FrameSpec s;
  s.payload = 10000;
  EXPECT_FALSE(r.dev->inject_rx_gso(make_frame(s), 1448));
  EXPECT_EQ(r.dev->counters().rx_too_big, 1u);
  EXPECT_EQ(r.drv->rx.used_idx(), 0u);
}

TEST(RxGsoToo, LargerHdrLenAsLinuxsLinearPart) {
  Rig r(kRxOff | kMrg);
  r.post_rx(4, 2048);
  FrameSpec s;
  s.payload = 3000;
  ASSERT_TRUE(r.dev->inject_rx_gso(make_frame(s), 1448, 128));
  EXPECT_EQ(r.take_rx().hdr.field(2), 128);
}

TEST(RxGsoToo, EcnBitWithGuestEcnRefusedWithout) {
  FrameSpec s = big(false, 0x90);  // CWR
  {
    Rig r(kRxOff | kMrg);
    r.post_rx(4, 2048);
    ASSERT_TRUE(r.dev->inject_rx_gso(make_frame(s), 1448));
    EXPECT_EQ(r.take_rx().hdr.b[1], 0x81);
  }
  Rig r((kRxOff & ~fmask(F::kNetGuestEcn)) | kMrg);
  r.post_rx(4, 2048);
  EXPECT_FALSE(r.dev->inject_rx_gso(make_frame(s), 1448));
  EXPECT_EQ(r.dev->counters().rx_gso_refused, 1u);
  EXPECT_EQ(r.drv->rx.used_idx(), 0u);
  ASSERT_TRUE(r.dev->inject_rx_gso(make_frame(big()), 1448));  // no CWR: fine
}

TEST(RxGsoToo, RefusedWhenNotNegotiatedOrNotTcpUdp) {
  struct Case {
    uint64_t features;
    FrameSpec spec;
    uint16_t gso_size;
    bool ip;
  };
  FrameSpec v6 = big(), udp6 = big(true);
  v6.ipv6 = udp6.ipv6 = true;
  const Case cases[] = {
      {kBase | kMrg, big(), 1448, true},                                    // nothing
      {(kRxOff & ~fmask(F::kNetGuestTso4)) | kMrg, big(), 1448, true},      // no TSO4
      {(kRxOff & ~fmask(F::kNetGuestTso6)) | kMrg, v6, 1448, true},         // no TSO6
      {(kRxOff & ~fmask(F::kNetGuestUso4)) | kMrg, big(true), 1448, true},  // no USO4
      {(kRxOff & ~fmask(F::kNetGuestUso6)) | kMrg, udp6, 1448, true},       // no USO6
      {kRxOff | kMrg, big(), 0, true},                                      // gso_size 0
      {kRxOff | kMrg, big(), 1448, false},                                  // not IP
  };
  for (size_t i = 0; i < std::size(cases); ++i) {
    Rig r(cases[i].features);
    r.post_rx(4, 2048);
    auto f = make_frame(cases[i].spec);
    if (!cases[i].ip) f[12] = 0x88, f[13] = 0xB5;
    EXPECT_FALSE(r.dev->inject_rx_gso(f, cases[i].gso_size)) << i;
    EXPECT_EQ(r.dev->counters().rx_gso_refused, 1u) << i;
    EXPECT_EQ(r.drv->rx.used_idx(), 0u) << i;
  }
}

// ---- receive: coalescing ----------------------------------------------------

std::vector<std::vector<uint8_t>> flow(size_t n, size_t mss, size_t last, bool ipv6 = false) {
  std::vector<std::vector<uint8_t>> segs;
  for (size_t i = 0; i < n; ++i) {
    FrameSpec s;
    s.ipv6 = ipv6;
    s.payload = i + 1 < n ? mss : last;
    s.seq = uint32_t(5000 + i * mss);
    s.tcp_flags = i + 1 < n ? 0x10 : 0x18;  // PSH on the last
    s.ip_id = uint16_t(100 + i);
    s.payload_seed = uint8_t(i * mss);
    segs.push_back(make_frame(s));
  }
  return segs;
}

TEST(RxCoalesce, MergesAFlowIntoOneGsoFrame) {
  for (bool ipv6 : {false, true}) {
    Rig r(kRxOff | kMrg);
    r.post_rx(8, 2048);
    const auto segs = flow(5, 1400, 700, ipv6);
    ASSERT_TRUE(r.dev->inject_rx_coalesced(segs));
    const auto got = r.take_rx();
    FrameSpec s;
    s.ipv6 = ipv6;
    s.payload = 4 * 1400 + 700;
    s.seq = 5000;
    s.tcp_flags = 0x18;
    s.ip_id = 100;
    auto want = make_frame(s);  // payload_seed 0 counts on across segments
    to_partial(want, s);
    EXPECT_EQ(got.frame, want) << ipv6;
    EXPECT_EQ(got.hdr.b[1], ipv6 ? 4 : 1);
    EXPECT_EQ(got.hdr.field(4), 1400);
    EXPECT_EQ(r.dev->counters().rx_coalesced, 5u);
    EXPECT_EQ(r.dev->counters().rx_gso_frames, 1u);
  }
}

TEST(RxCoalesce, RefusesWhatGroWouldNotMerge) {
  auto gap = flow(3, 1000, 1000);
  testing::wr32(&gap[2][38], 9999);  // sequence gap
  auto other_port = flow(3, 1000, 1000);
  other_port[1][35] ^= 1;
  auto short_middle = flow(3, 1000, 1000);
  short_middle[1].resize(short_middle[1].size() - 10);
  // ... with the sequence numbers consistent (seq of the third moved back).
  auto short_consistent = short_middle;
  testing::wr32(&short_consistent[2][38], 5000 + 1000 + 990);
  auto syn = flow(3, 1000, 1000);
  syn[1][47] |= 0x02;
  auto fin_early = flow(3, 1000, 1000);
  fin_early[0][47] |= 0x01;
  auto cwr_late = flow(3, 1000, 1000);
  cwr_late[2][47] |= 0x80;
  auto udp = flow(2, 1000, 1000);
  udp[0][23] = 17;
  auto fragment = flow(3, 1000, 1000);
  fragment[1][20] |= 0x20;  // MF: an IPv4 fragment in the middle
  // Two UDP datagrams whose length/checksum words read like consecutive
  // sequence numbers: still not TCP.
  FrameSpec us;
  us.udp = true;
  us.payload = 1000;
  std::vector<std::vector<uint8_t>> udp_flow = {make_frame(us), make_frame(us)};
  testing::wr16(&udp_flow[0][40], 1);
  testing::wr16(&udp_flow[1][40], 1 + 1000);
  for (const auto* segs : {&gap, &other_port, &short_middle, &short_consistent, &syn, &fin_early,
                           &cwr_late, &udp, &fragment, &udp_flow}) {
    Rig r(kRxOff | kMrg);
    r.post_rx(4, 2048);
    EXPECT_FALSE(r.dev->inject_rx_coalesced(*segs));
    EXPECT_EQ(r.dev->counters().rx_gso_refused, 1u);
    EXPECT_EQ(r.drv->rx.used_idx(), 0u);
  }
}

TEST(RxCoalesce, OneSegmentIsAPlainFrame) {
  Rig r(kRxOff | kMrg);
  r.post_rx(2, 2048);
  const auto segs = flow(1, 1000, 1000);
  ASSERT_TRUE(r.dev->inject_rx_coalesced(segs));
  const auto got = r.take_rx();
  EXPECT_EQ(got.hdr.b[1], 0);
  EXPECT_EQ(got.frame, segs[0]);
}

// ---- receive: faults on offloaded and multi-buffer frames --------------------

struct FieldFault {
  FaultKind kind;
  size_t at;  // header byte offset
  bool le16;
  uint64_t value;
};
const FieldFault kFieldFaults[] = {
    {FaultKind::kRxNumBuffers, 10, true, 77},  {FaultKind::kRxGsoType, 1, false, 3},
    {FaultKind::kRxFlags, 0, false, 6},        {FaultKind::kRxHdrLen, 2, true, 65000},
    {FaultKind::kRxGsoSize, 4, true, 0},       {FaultKind::kRxCsumStart, 6, true, 30000},
    {FaultKind::kRxCsumOffset, 8, true, 9999},
};

TEST(RxFaults, EveryHeaderFieldOnAMultiBufferGsoFrame) {
  for (const FieldFault& ff : kFieldFaults) {
    Rig r(kRxOff | kMrg);
    r.post_rx(8, 2048);
    r.dev->arm(Fault{ff.kind, -1, 0, 1, ff.value});
    FrameSpec s;
    s.payload = 8000;
    ASSERT_TRUE(r.dev->inject_rx_gso(make_frame(s), 1448)) << fault_kind_name(ff.kind);
    // The first header as written (num_buffers may lie: read it raw).
    const uint8_t* first = r.rx_bufs[r.drv->rx.used_id(0)].host;
    const uint64_t got = ff.le16 ? uint64_t(first[ff.at] | first[ff.at + 1] << 8) : first[ff.at];
    EXPECT_EQ(got, ff.value) << fault_kind_name(ff.kind);
    EXPECT_EQ(r.drv->rx.used_idx(), 4u) << fault_kind_name(ff.kind);  // 8066 bytes
    if (ff.kind != FaultKind::kRxNumBuffers) EXPECT_EQ(first[10], 4u);
    EXPECT_EQ(r.dev->counters().faults_applied, 1u);
  }
}

TEST(RxFaults, EveryHeaderFieldOnAPartialChecksumFrame) {
  for (const FieldFault& ff : kFieldFaults) {
    Rig r(kRxOff | kMrg, device(Mode::kPartial));
    r.post_rx(2, 2048);
    r.dev->arm(Fault{ff.kind, -1, 0, 1, ff.value});
    ASSERT_TRUE(r.dev->inject_rx(make_frame(FrameSpec{}))) << fault_kind_name(ff.kind);
    const uint8_t* first = r.rx_bufs[0].host;
    const uint64_t got = ff.le16 ? uint64_t(first[ff.at] | first[ff.at + 1] << 8) : first[ff.at];
    EXPECT_EQ(got, ff.value) << fault_kind_name(ff.kind);
    if (ff.kind != FaultKind::kRxFlags) EXPECT_EQ(first[0], spec::net_hdr::kFlagNeedsCsum);
  }
}

TEST(RxFaults, NumBuffersBelowTheBuffersUsed) {
  Rig r(kRxOff | kMrg);
  r.post_rx(8, 2048);
  r.dev->arm(Fault{FaultKind::kRxNumBuffers, -1, 0, 1, 1});
  FrameSpec s;
  s.payload = 5000;
  ASSERT_TRUE(r.dev->inject_rx_gso(make_frame(s), 1448));
  EXPECT_EQ(r.drv->rx.used_idx(), 3u);  // three used entries, the header says one
  EXPECT_EQ(r.rx_bufs[0].host[10], 1);
}

TEST(RxFaults, MergedLenOfTheSecondBuffer) {
  for (uint64_t v : {uint64_t{0}, uint64_t{4096}, uint64_t{0xFFFFFFFF}}) {
    Rig r(kRxOff | kMrg);
    r.post_rx(8, 2048);
    r.dev->arm(Fault{FaultKind::kRxMergedLen, -1, 0, 1, v});
    ASSERT_TRUE(r.dev->inject_rx(make_frame(FrameSpec{})));  // one buffer: not eligible
    FrameSpec s;
    s.payload = 5000;
    ASSERT_TRUE(r.dev->inject_rx_gso(make_frame(s), 1448));
    ASSERT_EQ(r.drv->rx.used_idx(), 4u);
    EXPECT_EQ(r.drv->rx.used_len(0), 12u + make_frame(FrameSpec{}).size());
    EXPECT_EQ(r.drv->rx.used_len(1), 2048u);
    EXPECT_EQ(r.drv->rx.used_len(2), uint32_t(v));
    EXPECT_EQ(r.drv->rx.used_len(3), 12 + make_frame(s).size() - 4096);
    EXPECT_EQ(r.dev->counters().faults_applied, 1u);
  }
}

TEST(RxFaults, GsoWrongProtocolClaimsAPlausibleGsoFrame) {
  struct Case {
    uint64_t value;
    uint8_t type;
    uint16_t csum_start, csum_offset, hdr_len;
  };
  for (const Case& c : {Case{0, 1, 34, 16, 54}, Case{4, 4, 54, 16, 74}, Case{5, 5, 34, 6, 42}}) {
    Rig r(kRxOff | kMrg);
    r.post_rx(1, 2048);
    r.dev->arm(Fault{FaultKind::kRxGsoWrongProtocol, -1, 0, 1, c.value});
    auto f = testing::test_frame(200);  // not IP
    f[12] = 0x88, f[13] = 0xB5;
    ASSERT_TRUE(r.dev->inject_rx(f));
    const auto got = r.take_rx();
    EXPECT_EQ(got.hdr.b[0], spec::net_hdr::kFlagNeedsCsum);
    EXPECT_EQ(got.hdr.b[1], c.type);
    EXPECT_EQ(got.hdr.field(2), c.hdr_len);
    EXPECT_EQ(got.hdr.field(4), 1448);
    EXPECT_EQ(got.hdr.field(6), c.csum_start);
    EXPECT_EQ(got.hdr.field(8), c.csum_offset);
    EXPECT_EQ(got.frame, f);
  }
}

TEST(RxFaults, GsoEcnAddsTheBit) {
  Rig r((kRxOff & ~fmask(F::kNetGuestEcn)) | kMrg);
  r.post_rx(8, 2048);
  r.dev->arm(Fault{FaultKind::kRxGsoEcn, -1, 0, 2, 0});
  ASSERT_TRUE(r.dev->inject_rx_gso(make_frame(big()), 1448));
  EXPECT_EQ(r.take_rx().hdr.b[1], 0x81);
  ASSERT_TRUE(r.dev->inject_rx(make_frame(FrameSpec{})));
  EXPECT_EQ(r.take_rx().hdr.b[1], 0x80);  // NONE | ECN
}

TEST(RxFaults, NewKindsHaveScenarioNames) {
  for (const char* name : {"rx_gso_wrong_protocol", "rx_gso_ecn", "rx_merged_len"}) {
    FaultKind k;
    ASSERT_TRUE(parse_fault_kind(name, &k)) << name;
    EXPECT_STREQ(fault_kind_name(k), name);
    EXPECT_FALSE(is_state_fault(k));
    EXPECT_FALSE(is_used_fault(k));
  }
}

// ---- CTRL_GUEST_OFFLOADS ----------------------------------------------------

const uint64_t kCtrlOff = kRxOff | kMrg | fmask(F::kNetCtrlVq) | fmask(F::kNetCtrlGuestOffloads);

std::vector<uint8_t> le64(uint64_t v) {
  std::vector<uint8_t> d;
  for (int i = 0; i < 8; ++i) d.push_back(uint8_t(v >> (8 * i)));
  return d;
}

struct CtrlRig : Rig {
  explicit CtrlRig(uint64_t features, const DeviceConfig& c = device()) : Rig(features, c, true) {}
  uint8_t set(uint64_t offloads) {
    return drv->ctrl_cmd(ctl::kClassGuestOffloads, ctl::kGuestOffloadsSet, le64(offloads));
  }
};

TEST(GuestOffloads, EveryNegotiatedOffloadEnabledAtFeaturesOk) {
  CtrlRig r(kCtrlOff);
  EXPECT_EQ(r.dev->guest_offloads(), kRxOff & offload::kGuestOffloads);
  CtrlRig partial(kCtrlOff & ~fmask(F::kNetGuestUso6));
  EXPECT_EQ(partial.dev->guest_offloads(),
            kRxOff & offload::kGuestOffloads & ~fmask(F::kNetGuestUso6));
}

TEST(GuestOffloads, SetSwitchesWhatTheDeviceDelivers) {
  CtrlRig r(kCtrlOff, device(Mode::kPartial));
  r.post_rx(16, 2048);
  EXPECT_EQ(r.set(fmask(F::kNetGuestCsum)), ctl::kAckOk);
  EXPECT_EQ(r.dev->guest_offloads(), fmask(F::kNetGuestCsum));
  EXPECT_EQ(r.dev->counters().ctrl_offloads_set, 1u);
  EXPECT_FALSE(r.dev->inject_rx_gso(make_frame(big()), 1448));  // TSO4 off now
  ASSERT_TRUE(r.dev->inject_rx(make_frame(FrameSpec{})));
  EXPECT_EQ(r.take_rx().hdr.b[0], spec::net_hdr::kFlagNeedsCsum);  // checksum still on
  EXPECT_EQ(r.set(0), ctl::kAckOk);
  ASSERT_TRUE(r.dev->inject_rx(make_frame(FrameSpec{})));
  EXPECT_EQ(r.take_rx().hdr.b[0], 0);                      // checksum off too
  EXPECT_EQ(r.set(fmask(F::kNetGuestTso4)), ctl::kAckOk);  // TSO without checksum offload
  EXPECT_FALSE(r.dev->inject_rx_gso(make_frame(big()), 1448));
  EXPECT_EQ(r.set(fmask(F::kNetGuestCsum) | fmask(F::kNetGuestTso4)), ctl::kAckOk);
  EXPECT_TRUE(r.dev->inject_rx_gso(make_frame(big()), 1448));
  EXPECT_TRUE(r.ids().empty()) << describe(r.ids());
}

TEST(GuestOffloads, ResetEnablesEveryNegotiatedOffloadAgain) {
  CtrlRig r(kCtrlOff);
  ASSERT_EQ(r.set(0), ctl::kAckOk);
  EXPECT_EQ(r.dev->guest_offloads(), 0u);
  ASSERT_TRUE(r.drv->init_modern_ctrl(kCtrlOff, 1, -1, 64));
  EXPECT_EQ(r.dev->guest_offloads(), kRxOff & offload::kGuestOffloads);
}

TEST(GuestOffloads, RefusedAndReported) {
  struct Case {
    const char* name;
    uint64_t features;
    uint8_t cmd;
    std::vector<uint8_t> data;
    const char* rule;
  };
  const Case cases[] = {
      {"NotNegotiatedOffload", kCtrlOff & ~fmask(F::kNetGuestTso6), 0,
       le64(fmask(F::kNetGuestTso6)), "drv-5.1.6.5.8.2-1"},
      {"HostOffloadBit", kCtrlOff | fmask(F::kNetCsum), 0, le64(fmask(F::kNetCsum)),
       "drv-5.1.6.5.8.2-1"},
      {"MrgRxbufBit", kCtrlOff, 0, le64(kMrg), "drv-5.1.6.5.8.2-1"},
      {"WithoutCtrlGuestOffloads", kCtrlOff & ~fmask(F::kNetCtrlGuestOffloads), 0, le64(0),
       "def-5.1.6.5.8-1"},
      {"ShortData", kCtrlOff, 0, {1, 0, 0, 0}, "def-5.1.6.5-2"},
      {"NoSuchCommand", kCtrlOff, 1, le64(0), "def-5.1.6.5-2"},
  };
  for (const Case& c : cases) {
    CtrlRig r(c.features);
    const uint64_t before = r.dev->guest_offloads();
    EXPECT_EQ(r.drv->ctrl_cmd(ctl::kClassGuestOffloads, c.cmd, c.data), ctl::kAckErr) << c.name;
    EXPECT_EQ(r.dev->guest_offloads(), before) << c.name;
    EXPECT_TRUE(r.only(c.rule)) << c.name << ": " << describe(r.ids());
  }
}

TEST(GuestOffloads, DeviceWithoutOffloadsAnswersErr) {
  DeviceConfig c = device();
  c.offer_offloads = false;
  c.features |= fmask(F::kNetCtrlGuestOffloads);  // a lie: no vnet header behind it
  CtrlRig r(kBase | fmask(F::kNetCtrlVq) | fmask(F::kNetCtrlGuestOffloads), c);
  EXPECT_EQ(r.set(0), ctl::kAckErr);
  EXPECT_TRUE(r.ids().empty()) << describe(r.ids());
}

}  // namespace
}  // namespace vnet::mock
