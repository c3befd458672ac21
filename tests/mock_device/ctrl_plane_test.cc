// The mock device's control plane (issue 15 item 4), driven by hand-built
// control chains from the register-level test driver: command semantics as
// QEMU 7.2 has them, the receive filter on delivered frames, multiqueue and
// RSS steering, hash reports, the Toeplitz hash against the RSS
// verification suite's vectors, every control-plane lie, and the raw
// config fields.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "driver/spec/net_ctrl_layout.h"
#include "mock_device/fault.h"
#include "mock_device/mock_device.h"
#include "mock_device/rx_filter.h"
#include "mock_test_driver.h"

namespace vnet::mock {
namespace {

using testing::fmask;
using testing::TestDriver;
using Layout = TestDriver::CtrlLayout;
using F = spec::Feature;
namespace ctl = spec::ctrl;

constexpr uint64_t kV1 = uint64_t{1} << 32;
const uint64_t kBase = kV1 | fmask(F::kNetMac) | fmask(F::kNetStatus);
const uint64_t kCtrl = kBase | fmask(F::kNetCtrlVq) | fmask(F::kNetCtrlRx) |
                       fmask(F::kNetCtrlVlan) | fmask(F::kNetCtrlRxExtra) |
                       fmask(F::kNetGuestAnnounce) | fmask(F::kNetCtrlMacAddr);
const uint64_t kMq = kCtrl | fmask(F::kNetMq);
const uint64_t kRss = kMq | fmask(F::kNetRss) | fmask(F::kNetHashReport);

constexpr MacAddress kOwnMac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
constexpr MacAddress kForeign = {0x52, 0x54, 0x00, 0xAA, 0xBB, 0xCC};

// The RSS verification suite's key (40 bytes).
const std::vector<uint8_t> kMsKey = {0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
                                     0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
                                     0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
                                     0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

DeviceConfig device(uint16_t pairs = 2, TransportKind t = TransportKind::kModern) {
  DeviceConfig c;
  c.transport = t;
  c.features = kBase;
  c.offer_ctrl_vq = c.offer_ctrl_rx = c.offer_ctrl_vlan = c.offer_ctrl_rx_extra = true;
  c.offer_guest_announce = c.offer_ctrl_mac_addr = c.offer_mq = true;
  c.offer_rss = c.offer_hash_report = true;
  c.max_virtqueue_pairs = pairs;
  return c;
}

struct World {
  GuestMemory mem{16 << 20};
  std::unique_ptr<MockDevice> dev;
  std::unique_ptr<TestDriver> drv;
  explicit World(const DeviceConfig& c = device()) {
    dev = std::make_unique<MockDevice>(mem, c);
    drv = std::make_unique<TestDriver>(mem, *dev);
  }
  // One rx buffer of 2048 bytes on receiveq of pair p (descriptor d).
  GuestMemory::Allocation post_rx(uint16_t pair, uint16_t d = 0) {
    auto b = drv->buffer(2048);
    testing::TestRing& r = drv->pair_rings[2 * pair];
    r.set_desc(d, b.device_addr, 2048, spec::kDescFlagWrite, 0);
    r.offer(d);
    return b;
  }
  std::vector<std::string> ids() const {
    std::vector<std::string> out;
    for (const auto& v : dev->conformance().violations()) out.push_back(v.id);
    return out;
  }
};

std::vector<uint8_t> eth(const MacAddress& dst, uint16_t type = 0x0800, size_t len = 60) {
  std::vector<uint8_t> f(len, 0);
  std::copy(dst.begin(), dst.end(), f.begin());
  const MacAddress src = {0x02, 0, 0, 0, 0, 9};
  std::copy(src.begin(), src.end(), f.begin() + 6);
  f[12] = uint8_t(type >> 8);
  f[13] = uint8_t(type);
  return f;
}

std::vector<uint8_t> vlan_frame(const MacAddress& dst, uint16_t vid) {
  auto f = eth(dst, 0x8100, 64);
  f[14] = uint8_t(vid >> 8);
  f[15] = uint8_t(vid);
  f[16] = 0x08;
  f[17] = 0x00;
  return f;
}

// Ethernet + IPv4 + TCP (proto 6) or UDP (17) with these addresses/ports.
std::vector<uint8_t> ipv4(std::array<uint8_t, 4> src, uint16_t sport, std::array<uint8_t, 4> dst,
                          uint16_t dport, uint8_t proto = 6) {
  auto f = eth(kOwnMac, 0x0800, 14 + 20 + 20);
  uint8_t* ip = &f[14];
  ip[0] = 0x45;
  ip[9] = proto;
  std::copy(src.begin(), src.end(), ip + 12);
  std::copy(dst.begin(), dst.end(), ip + 16);
  ip[20] = uint8_t(sport >> 8), ip[21] = uint8_t(sport);
  ip[22] = uint8_t(dport >> 8), ip[23] = uint8_t(dport);
  return f;
}

std::vector<uint8_t> le16v(uint16_t v) {
  return {uint8_t(v), uint8_t(v >> 8)};
}

std::vector<uint8_t> mac_table(const std::vector<MacAddress>& uni,
                               const std::vector<MacAddress>& multi) {
  std::vector<uint8_t> d;
  for (const auto* list : {&uni, &multi}) {
    const uint32_t n = uint32_t(list->size());
    for (int i = 0; i < 4; ++i) d.push_back(uint8_t(n >> (8 * i)));
    for (const auto& m : *list) d.insert(d.end(), m.begin(), m.end());
  }
  return d;
}

std::vector<uint8_t> rss_config(uint32_t types, const std::vector<uint16_t>& table,
                                uint16_t unclassified, uint16_t max_tx_vq,
                                const std::vector<uint8_t>& key) {
  std::vector<uint8_t> d;
  for (int i = 0; i < 4; ++i) d.push_back(uint8_t(types >> (8 * i)));
  auto put = [&](uint16_t v) { d.push_back(uint8_t(v)), d.push_back(uint8_t(v >> 8)); };
  put(uint16_t(table.size() - 1));
  put(unclassified);
  for (uint16_t e : table) put(e);
  put(max_tx_vq);
  d.push_back(uint8_t(key.size()));
  d.insert(d.end(), key.begin(), key.end());
  return d;
}

// ---- the Toeplitz hash: the RSS verification suite ------------------------

struct Vector4 {
  std::array<uint8_t, 4> src;
  uint16_t sport;
  std::array<uint8_t, 4> dst;
  uint16_t dport;
  uint32_t ip_only;
  uint32_t with_tcp;
};

const Vector4 kIpv4Vectors[] = {
    {{66, 9, 149, 187}, 2794, {161, 142, 100, 80}, 1766, 0x323e8fc2, 0x51ccc178},
    {{199, 92, 111, 2}, 14230, {65, 69, 140, 83}, 4739, 0xd718262a, 0xc626b0ea},
    {{24, 19, 198, 95}, 12898, {12, 22, 207, 184}, 38024, 0xd2d0a5de, 0x5c2b394a},
    {{38, 27, 205, 30}, 48228, {209, 142, 163, 6}, 2217, 0x82989176, 0xafc7327f},
    {{153, 39, 163, 191}, 44251, {202, 188, 127, 2}, 1303, 0x5d1809c5, 0x10e828a2},
};

TEST(Toeplitz, VerificationSuiteIpv4) {
  for (const auto& v : kIpv4Vectors) {
    const auto f = ipv4(v.src, v.sport, v.dst, v.dport);
    const RssResult tcp = rss_hash(f, ctl::kHashTcpv4 | ctl::kHashIpv4, kMsKey);
    EXPECT_EQ(tcp.report, HashReport::kTcpv4);
    EXPECT_EQ(tcp.hash, v.with_tcp) << std::hex << tcp.hash;
    const RssResult ip = rss_hash(f, ctl::kHashIpv4, kMsKey);
    EXPECT_EQ(ip.report, HashReport::kIpv4);
    EXPECT_EQ(ip.hash, v.ip_only) << std::hex << ip.hash;
  }
}

TEST(Toeplitz, VerificationSuiteIpv6) {
  // 3ffe:2501:200:1fff::7 port 2794 -> 3ffe:2501:200:3::1 port 1766.
  std::vector<uint8_t> f = eth(kOwnMac, 0x86DD, 14 + 40 + 20);
  uint8_t* ip = &f[14];
  ip[0] = 0x60;
  ip[6] = 6;  // TCP
  const uint8_t src[16] = {0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x1f, 0xff, 0, 0, 0, 0, 0, 0, 0, 7};
  const uint8_t dst[16] = {0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03, 0, 0, 0, 0, 0, 0, 0, 1};
  std::copy(src, src + 16, ip + 8);
  std::copy(dst, dst + 16, ip + 24);
  ip[40] = 2794 >> 8, ip[41] = 2794 & 0xFF, ip[42] = 1766 >> 8, ip[43] = 1766 & 0xFF;
  EXPECT_EQ(rss_hash(f, ctl::kHashIpv6, kMsKey).hash, 0x2cc18cd5u);
  const RssResult tcp = rss_hash(f, ctl::kHashTcpv6, kMsKey);
  EXPECT_EQ(tcp.report, HashReport::kTcpv6);
  EXPECT_EQ(tcp.hash, 0x40207d3du);
  EXPECT_EQ(rss_hash(f, ctl::kHashTcpEx, kMsKey).report, HashReport::kTcpv6Ex);
}

TEST(Toeplitz, NoApplicableTypeIsReportNone) {
  const auto f = ipv4({1, 2, 3, 4}, 1, {5, 6, 7, 8}, 2, 17);  // UDP
  EXPECT_EQ(rss_hash(f, ctl::kHashTcpv4, kMsKey).report, HashReport::kNone);
  EXPECT_EQ(rss_hash(f, ctl::kHashUdpv4, kMsKey).report, HashReport::kUdpv4);
  EXPECT_EQ(rss_hash(eth(kOwnMac, 0x0806), ctl::kHashAll, kMsKey).report, HashReport::kNone);
}

// ---- commands and acks ------------------------------------------------------

TEST(CtrlQueue, QueueLayoutFollowsMqAndPairs) {
  World w(device(4));
  EXPECT_EQ(w.dev->queue_pairs(), 4);
  EXPECT_EQ(w.drv->cr(spec::pci::common::kNumQueues, 2), 9u);
  ASSERT_TRUE(w.drv->init_modern_ctrl(kMq, 4));
  EXPECT_EQ(w.dev->ctrl_queue_index(), 8);
  EXPECT_TRUE(w.dev->queue_ready(8));
  World w1(device(4));
  ASSERT_TRUE(w1.drv->init_modern_ctrl(kCtrl, 1));  // no MQ: controlq is 2
  EXPECT_EQ(w1.dev->ctrl_queue_index(), 2);
  EXPECT_EQ(w1.drv->ctrl_cmd(ctl::kClassRx, ctl::kRxPromisc, {0}), ctl::kAckOk);
  EXPECT_FALSE(w1.dev->rx_filter().promisc);
}

TEST(CtrlQueue, AckAndUsedEntryForEveryLayout) {
  for (Layout layout : {Layout::kParts, Layout::kMerged, Layout::kBytes}) {
    World w;
    ASSERT_TRUE(w.drv->init_modern_ctrl(kCtrl));
    const auto p = w.drv->ctrl_post(ctl::kClassVlan, ctl::kVlanAdd, le16v(100), layout);
    w.drv->notify_modern(2);
    EXPECT_EQ(*p.ack, ctl::kAckOk);
    EXPECT_EQ(w.drv->ctrl.used_idx(), 1);
    EXPECT_EQ(w.drv->ctrl.used_id(0), p.head);
    EXPECT_EQ(w.drv->ctrl.used_len(0), 1u);
    EXPECT_TRUE(w.dev->rx_filter().vlan_added(100));
    EXPECT_TRUE(w.dev->conformance().empty());
  }
}

TEST(CtrlQueue, ErrForMalformedOrUnknownCommands) {
  World w;
  ASSERT_TRUE(w.drv->init_modern_ctrl(kCtrl));
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassRx, ctl::kRxPromisc, {}), ctl::kAckErr);  // no data
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassRx, 6, {1}), ctl::kAckErr);               // no command 6
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassVlan, ctl::kVlanAdd, le16v(4096)), ctl::kAckErr);
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassMac, ctl::kMacAddrSet, {1, 2, 3}), ctl::kAckErr);
  EXPECT_EQ(w.drv->ctrl_cmd(7, 0, {}), ctl::kAckErr);
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassGuestOffloads, 0, std::vector<uint8_t>(8, 0)), ctl::kAckErr);
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassAnnounce, ctl::kAnnounceAck, {}), ctl::kAckErr);
  EXPECT_EQ(w.dev->counters().ctrl_err, 7u);
  EXPECT_TRUE(w.dev->conformance().has("def-5.1.6.5-2"));
}

TEST(CtrlQueue, MissingHeaderOrAckStopsTheQueue) {
  World w;
  ASSERT_TRUE(w.drv->init_modern_ctrl(kCtrl));
  w.drv->ctrl_post(ctl::kClassRx, ctl::kRxPromisc, {0}, Layout::kParts, 0);
  w.drv->notify_modern(2);
  EXPECT_EQ(w.drv->ctrl.used_idx(), 0);
  EXPECT_EQ(w.dev->counters().ctrl_chains_bad, 1u);
  EXPECT_TRUE(w.dev->rx_filter().promisc);
  EXPECT_TRUE(w.dev->conformance().has("def-5.1.6.5-1"));
  World w2;
  ASSERT_TRUE(w2.drv->init_modern_ctrl(kCtrl));
  const auto p = w2.drv->ctrl_post(ctl::kClassRx, ctl::kRxPromisc, {0}, Layout::kParts, 1, true);
  w2.drv->notify_modern(2);  // ack before the data: readable after writable (2.7.4.2)
  EXPECT_TRUE(w2.dev->conformance().has("drv-2.7.4.2-1"));
  (void)p;
}

TEST(CtrlQueue, AnnounceAckClearsTheStatusBit) {
  World w;
  ASSERT_TRUE(w.drv->init_modern_ctrl(kCtrl));
  w.dev->request_announce();
  EXPECT_EQ(w.dev->config().status & spec::net_status::kAnnounce, spec::net_status::kAnnounce);
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassAnnounce, ctl::kAnnounceAck, {}), ctl::kAckOk);
  EXPECT_EQ(w.dev->config().status & spec::net_status::kAnnounce, 0);
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassAnnounce, ctl::kAnnounceAck, {}), ctl::kAckErr);
}

TEST(CtrlQueue, PackedRing) {
  DeviceConfig c = device(1);
  c.offer_ring_packed = true;
  World w(c);
  const uint64_t f = kCtrl | (uint64_t{1} << 34);
  // The modern sequence with three packed rings (receiveq1, transmitq1, controlq).
  w.drv->set_status(0);
  w.drv->set_status(spec::status::kAcknowledge);
  w.drv->set_status(spec::status::kAcknowledge | spec::status::kDriver);
  w.drv->write_features(f);
  const uint8_t fok =
      spec::status::kAcknowledge | spec::status::kDriver | spec::status::kFeaturesOk;
  w.drv->set_status(fok);
  auto rx = w.drv->alloc_packed_ring(16);
  auto tx = w.drv->alloc_packed_ring(16);
  auto cq = w.drv->alloc_packed_ring(16);
  w.drv->setup_modern_packed_queue(0, rx);
  w.drv->setup_modern_packed_queue(1, tx);
  w.drv->setup_modern_packed_queue(2, cq);
  w.drv->set_status(fok | spec::status::kDriverOk);
  auto hdr = w.drv->buffer(2);
  hdr.host[0] = ctl::kClassRx, hdr.host[1] = ctl::kRxPromisc;
  auto on = w.drv->buffer(1);
  on.host[0] = 0;
  auto ack = w.drv->buffer(1);
  ack.host[0] = 0xEE;
  cq.offer({{hdr.device_addr, 2, false}, {on.device_addr, 1, false}, {ack.device_addr, 1, true}},
           7);
  w.drv->notify_modern(2);
  EXPECT_EQ(ack.host[0], ctl::kAckOk);
  uint16_t id = 0;
  uint32_t len = 0;
  ASSERT_TRUE(cq.take_used(3, &id, &len));
  EXPECT_EQ(id, 7);
  EXPECT_EQ(len, 1u);
  EXPECT_FALSE(w.dev->rx_filter().promisc);
}

TEST(CtrlQueue, LegacyAndMmioTransports) {
  {
    World w(device(1, TransportKind::kLegacy));
    auto& d = *w.drv;
    d.lw(spec::pci::legacy::kDeviceStatus, 1, 0);
    d.lw(spec::pci::legacy::kDeviceStatus, 1, spec::status::kAcknowledge);
    d.lw(spec::pci::legacy::kDeviceStatus, 1, spec::status::kAcknowledge | spec::status::kDriver);
    d.lw(spec::pci::legacy::kDriverFeatures, 4, uint32_t(kCtrl & ~kV1));
    d.rx = d.legacy_ring(0);
    d.tx = d.legacy_ring(1);
    d.ctrl = d.legacy_ring(2);
    d.lw(spec::pci::legacy::kDeviceStatus, 1,
         spec::status::kAcknowledge | spec::status::kDriver | spec::status::kDriverOk);
    const auto p = d.ctrl_post(ctl::kClassRx, ctl::kRxPromisc, {0});
    d.lw(spec::pci::legacy::kQueueNotify, 2, 2);
    EXPECT_EQ(*p.ack, ctl::kAckOk);
    EXPECT_FALSE(w.dev->rx_filter().promisc);
  }
  {
    World w(device(1, TransportKind::kMmioV2));
    auto& d = *w.drv;
    d.mmio_identity();
    d.mmio_status(0);
    d.mmio_status(spec::status::kAcknowledge);
    d.mmio_status(spec::status::kAcknowledge | spec::status::kDriver);
    d.mw(spec::mmio::kDeviceFeaturesSel, 0);
    (void)d.mr(spec::mmio::kDeviceFeatures);
    d.mmio_write_features(kCtrl, false);
    const uint8_t s =
        spec::status::kAcknowledge | spec::status::kDriver | spec::status::kFeaturesOk;
    d.mmio_status(s);
    d.rx = d.alloc_ring(16);
    d.tx = d.alloc_ring(16);
    d.ctrl = d.alloc_ring(16);
    d.setup_mmio_queue_v2(0, d.rx);
    d.setup_mmio_queue_v2(1, d.tx);
    d.setup_mmio_queue_v2(2, d.ctrl);
    d.mmio_status(s | spec::status::kDriverOk);
    const auto p = d.ctrl_post(ctl::kClassRx, ctl::kRxPromisc, {0});
    d.mw(spec::mmio::kQueueNotify, 2);
    EXPECT_EQ(*p.ack, ctl::kAckOk);
    EXPECT_FALSE(w.dev->rx_filter().promisc);
    EXPECT_TRUE(w.dev->conformance().empty());
  }
}

// ---- the receive filter -----------------------------------------------------

TEST(RxFilter, PromiscuousAfterResetThenTheMacDecides) {
  World w;
  ASSERT_TRUE(w.drv->init_modern_ctrl(kCtrl));
  w.post_rx(0, 0);
  EXPECT_TRUE(w.dev->inject_rx(eth(kForeign)));  // promiscuous after reset
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassRx, ctl::kRxPromisc, {0}), ctl::kAckOk);
  w.post_rx(0, 1);
  EXPECT_FALSE(w.dev->inject_rx(eth(kForeign)));
  EXPECT_EQ(w.dev->counters().rx_filtered, 1u);
  EXPECT_TRUE(w.dev->inject_rx(eth(kOwnMac)));
  w.post_rx(0, 2);
  EXPECT_TRUE(w.dev->inject_rx(eth({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})));
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassRx, ctl::kRxNoBcast, {1}), ctl::kAckOk);
  w.post_rx(0, 3);
  EXPECT_FALSE(w.dev->inject_rx(eth({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})));
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassRx, ctl::kRxAllUni, {1}), ctl::kAckOk);
  EXPECT_TRUE(w.dev->inject_rx(eth(kForeign)));
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassRx, ctl::kRxNoUni, {1}), ctl::kAckOk);
  w.post_rx(0, 4);
  EXPECT_FALSE(w.dev->inject_rx(eth(kOwnMac)));  // NOUNI beats everything unicast
  EXPECT_EQ(w.dev->rx_delivered(0), 4u);
}

TEST(RxFilter, MacTableAndMulticast) {
  World w;
  ASSERT_TRUE(w.drv->init_modern_ctrl(kCtrl));
  const MacAddress multi = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x09};
  const MacAddress other_multi = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x0A};
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassRx, ctl::kRxPromisc, {0}), ctl::kAckOk);
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassMac, ctl::kMacTableSet, mac_table({kForeign}, {multi})),
            ctl::kAckOk);
  for (uint16_t d = 0; d < 8; ++d) w.post_rx(0, d);
  EXPECT_TRUE(w.dev->inject_rx(eth(kForeign)));
  EXPECT_TRUE(w.dev->inject_rx(eth(multi)));
  EXPECT_FALSE(w.dev->inject_rx(eth(other_multi)));
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassRx, ctl::kRxAllMulti, {1}), ctl::kAckOk);
  EXPECT_TRUE(w.dev->inject_rx(eth(other_multi)));
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassRx, ctl::kRxNoMulti, {1}), ctl::kAckOk);
  EXPECT_FALSE(w.dev->inject_rx(eth(multi)));
  // More unicast entries than the table holds: overflow, every unicast passes.
  std::vector<MacAddress> many(65, kOwnMac);
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassMac, ctl::kMacTableSet, mac_table(many, {})), ctl::kAckOk);
  EXPECT_TRUE(w.dev->rx_filter().uni_overflow);
  EXPECT_TRUE(w.dev->inject_rx(eth({0x52, 0x54, 0, 1, 2, 3})));
  // A multicast count that does not match the bytes: ERR, the table stays.
  auto bad = mac_table({}, {multi});
  bad.pop_back();
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassMac, ctl::kMacTableSet, bad), ctl::kAckErr);
  EXPECT_TRUE(w.dev->rx_filter().uni_overflow);
  EXPECT_TRUE(w.dev->conformance().has("drv-5.1.6.5.2.2-3"));
}

TEST(RxFilter, MacAddressChangeAndReset) {
  World w;
  ASSERT_TRUE(w.drv->init_modern_ctrl(kCtrl));
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassRx, ctl::kRxPromisc, {0}), ctl::kAckOk);
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassMac, ctl::kMacAddrSet,
                            std::vector<uint8_t>(kForeign.begin(), kForeign.end())),
            ctl::kAckOk);
  EXPECT_EQ(w.dev->config().mac, kForeign);
  EXPECT_EQ(w.dev->bar_read(4, MockDevice::kDeviceCfgOffset + 3, 1), kForeign[3]);
  for (uint16_t d = 0; d < 2; ++d) w.post_rx(0, d);
  EXPECT_TRUE(w.dev->inject_rx(eth(kForeign)));
  EXPECT_FALSE(w.dev->inject_rx(eth(kOwnMac)));
  w.drv->set_status(0);  // a reset restores the MAC and promiscuous mode
  EXPECT_EQ(w.dev->config().mac, kOwnMac);
  EXPECT_TRUE(w.dev->rx_filter().promisc);
  EXPECT_TRUE(w.dev->conformance().empty());
}

TEST(RxFilter, VlanFilteringWithCtrlVlan) {
  World w;
  ASSERT_TRUE(w.drv->init_modern_ctrl(kCtrl));
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassRx, ctl::kRxPromisc, {0}), ctl::kAckOk);
  for (uint16_t d = 0; d < 4; ++d) w.post_rx(0, d);
  EXPECT_FALSE(w.dev->inject_rx(vlan_frame(kOwnMac, 7)));  // every VLAN filtered
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassVlan, ctl::kVlanAdd, le16v(7)), ctl::kAckOk);
  EXPECT_TRUE(w.dev->inject_rx(vlan_frame(kOwnMac, 7)));
  EXPECT_FALSE(w.dev->inject_rx(vlan_frame(kOwnMac, 8)));
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassVlan, ctl::kVlanDel, le16v(7)), ctl::kAckOk);
  EXPECT_FALSE(w.dev->inject_rx(vlan_frame(kOwnMac, 7)));
  EXPECT_TRUE(w.dev->inject_rx(eth(kOwnMac)));  // untagged: the MAC decides
}

TEST(RxFilter, EveryVlanPassesWithoutCtrlVlan) {
  World w;
  ASSERT_TRUE(w.drv->init_modern_ctrl(kCtrl & ~fmask(F::kNetCtrlVlan)));
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassRx, ctl::kRxPromisc, {0}), ctl::kAckOk);
  w.post_rx(0, 0);
  EXPECT_TRUE(w.dev->inject_rx(vlan_frame(kOwnMac, 7)));
}

// ---- multiqueue and RSS -----------------------------------------------------

TEST(Multiqueue, PairZeroUntilVqPairsSetThenTxOnEveryPair) {
  World w(device(2));
  ASSERT_TRUE(w.drv->init_modern_ctrl(kMq, 2));
  EXPECT_EQ(w.dev->active_pairs(), 1);
  auto b = w.drv->buffer(72);
  std::memset(b.host, 0, 12);
  w.drv->pair_rings[3].set_desc(0, b.device_addr, 72, 0, 0);
  w.drv->pair_rings[3].offer(0);
  w.drv->notify_modern(3);
  EXPECT_EQ(w.dev->tx_sent(1), 0u);
  EXPECT_EQ(w.dev->counters().tx_pair_disabled, 1u);
  EXPECT_TRUE(w.dev->conformance().has("drv-5.1.6.5.6.1-3"));
  EXPECT_FALSE(w.dev->inject_rx_pair(1, eth(kOwnMac)));
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassMq, ctl::kMqVqPairsSet, le16v(3)), ctl::kAckErr);
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassMq, ctl::kMqVqPairsSet, le16v(2)), ctl::kAckOk);
  EXPECT_EQ(w.dev->active_pairs(), 2);
  w.drv->notify_modern(3);
  EXPECT_EQ(w.dev->tx_sent(1), 1u);
  w.post_rx(1, 0);
  EXPECT_TRUE(w.dev->inject_rx_pair(1, eth(kOwnMac)));
  EXPECT_EQ(w.dev->rx_delivered(1), 1u);
  EXPECT_EQ(w.drv->pair_rings[2].used_idx(), 1);
}

TEST(Multiqueue, RssSteersTwoFlowsToTwoPairsAndReportsTheHash) {
  World w(device(2));
  ASSERT_TRUE(w.drv->init_modern_ctrl(kRss, 2));
  EXPECT_EQ(w.dev->net_header_size(), 20u);
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassMq, ctl::kMqRssConfig,
                            rss_config(ctl::kHashTcpv4 | ctl::kHashIpv4, {0, 1}, 0, 2, kMsKey)),
            ctl::kAckOk);
  EXPECT_EQ(w.dev->active_pairs(), 2);
  EXPECT_TRUE(w.dev->hash_reporting());
  const auto a = ipv4({66, 9, 149, 187}, 2794, {161, 142, 100, 80}, 1766);  // 0x51ccc178: even
  const auto b = ipv4({38, 27, 205, 30}, 48228, {209, 142, 163, 6}, 2217);  // 0xafc7327f: odd
  EXPECT_EQ(w.dev->steer(a), 0);
  EXPECT_EQ(w.dev->steer(b), 1);
  auto ba = w.post_rx(0, 0);
  auto bb = w.post_rx(1, 0);
  EXPECT_TRUE(w.dev->inject_rx(a));
  EXPECT_TRUE(w.dev->inject_rx(b));
  EXPECT_EQ(w.dev->rx_delivered(0), 1u);
  EXPECT_EQ(w.dev->rx_delivered(1), 1u);
  EXPECT_EQ(spec::load_le32(ba.host + ctl::kHashValueOffset), 0x51ccc178u);
  EXPECT_EQ(spec::load_le16(ba.host + ctl::kHashReportOffset), uint16_t(HashReport::kTcpv4));
  EXPECT_EQ(spec::load_le32(bb.host + ctl::kHashValueOffset), 0xafc7327fu);
  EXPECT_EQ(ba.host[20], kOwnMac[0]);  // the frame after the 20-byte header
  EXPECT_EQ(w.drv->pair_rings[0].used_len(0), 20u + a.size());
  EXPECT_TRUE(w.dev->conformance().empty());
  // An ARP frame: no hash type applies, the unclassified queue, report NONE.
  auto bc = w.post_rx(0, 1);
  EXPECT_TRUE(w.dev->inject_rx(eth(kOwnMac, 0x0806)));
  EXPECT_EQ(spec::load_le16(bc.host + ctl::kHashReportOffset), 0);
  // VQ_PAIRS_SET (any MQ command) turns RSS off: pair 0 again.
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassMq, ctl::kMqVqPairsSet, le16v(2)), ctl::kAckOk);
  EXPECT_EQ(w.dev->steer(b), 0);
}

TEST(Multiqueue, HashConfigReportsWithoutSteering) {
  World w(device(2));
  ASSERT_TRUE(w.drv->init_modern_ctrl(kCtrl | fmask(F::kNetHashReport), 1));
  std::vector<uint8_t> d = {uint8_t(ctl::kHashTcpv4), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 40};
  d.insert(d.end(), kMsKey.begin(), kMsKey.end());
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassMq, ctl::kMqHashConfig, d), ctl::kAckOk);
  auto b = w.post_rx(0, 0);
  const auto f = ipv4({38, 27, 205, 30}, 48228, {209, 142, 163, 6}, 2217);
  EXPECT_EQ(w.dev->steer(f), 0);
  EXPECT_TRUE(w.dev->inject_rx(f));
  EXPECT_EQ(spec::load_le32(b.host + ctl::kHashValueOffset), 0xafc7327fu);
  EXPECT_TRUE(w.dev->conformance().empty());
}

TEST(Multiqueue, RssConfigRefusals) {
  World w(device(2));
  ASSERT_TRUE(w.drv->init_modern_ctrl(kRss, 2));
  auto rss = [&](const std::vector<uint8_t>& d) {
    return w.drv->ctrl_cmd(ctl::kClassMq, ctl::kMqRssConfig, d);
  };
  std::vector<uint8_t> key41(41, 1);
  EXPECT_EQ(rss(rss_config(2, {0, 1}, 0, 2, key41)), ctl::kAckErr);      // key above 40
  EXPECT_EQ(rss(rss_config(2, {0, 1, 0}, 0, 2, kMsKey)), ctl::kAckErr);  // 3 entries
  EXPECT_EQ(rss(rss_config(2, {0, 1}, 2, 2, kMsKey)), ctl::kAckErr);     // unclassified 2
  EXPECT_EQ(rss(rss_config(2, {0, 1}, 0, 3, kMsKey)), ctl::kAckErr);     // max_tx_vq 3
  EXPECT_EQ(rss(rss_config(2, {0, 1}, 0, 1, kMsKey)), ctl::kAckErr);     // entry 1, one pair
  EXPECT_EQ(rss(rss_config(2, {0, 1}, 0, 2, {})), ctl::kAckErr);         // types, no key
  EXPECT_EQ(rss(rss_config(0, {0}, 0, 2, {})), ctl::kAckOk);             // RSS off
  EXPECT_FALSE(w.dev->rss().enabled);
}

// ---- every control-plane lie ------------------------------------------------

struct CtrlLie {
  FaultKind kind;
  uint64_t value;
};

TEST(CtrlLies, EachFaultIsTold) {
  auto run = [](FaultKind kind, uint64_t value, auto&& check) {
    World w;
    ASSERT_TRUE(w.drv->init_modern_ctrl(kCtrl));
    Fault f;
    f.kind = kind;
    f.value = value;
    f.queue = 2;
    w.dev->arm(f);
    const auto p = w.drv->ctrl_post(ctl::kClassRx, ctl::kRxPromisc, {0});
    w.drv->notify_modern(2);
    check(w, p);
    EXPECT_EQ(w.dev->armed_faults(), 0u);  // spent
  };
  run(FaultKind::kCtrlNoCompletion, 0, [](World& w, const TestDriver::CtrlPosted& p) {
    EXPECT_EQ(w.drv->ctrl.used_idx(), 0);
    EXPECT_EQ(*p.ack, 0xEE);
    EXPECT_TRUE(w.dev->rx_filter().promisc);  // not carried out
    EXPECT_EQ(w.dev->counters().ctrl_unanswered, 1u);
  });
  run(FaultKind::kCtrlAckUnwritten, 0, [](World& w, const TestDriver::CtrlPosted& p) {
    EXPECT_EQ(w.drv->ctrl.used_idx(), 1);
    EXPECT_EQ(w.drv->ctrl.used_len(0), 1u);
    EXPECT_EQ(*p.ack, 0xEE);
    EXPECT_FALSE(w.dev->rx_filter().promisc);  // carried out
  });
  for (uint64_t v : {2u, 0xFFu}) {
    run(FaultKind::kCtrlAckValue, v, [v](World& w, const TestDriver::CtrlPosted& p) {
      EXPECT_EQ(*p.ack, uint8_t(v));
      EXPECT_EQ(w.drv->ctrl.used_len(0), 1u);
    });
  }
  for (uint64_t v : {0u, 2u, 1000u}) {
    run(FaultKind::kCtrlUsedLen, v, [v](World& w, const TestDriver::CtrlPosted& p) {
      EXPECT_EQ(w.drv->ctrl.used_len(0), uint32_t(v));
      EXPECT_EQ(*p.ack, ctl::kAckOk);
    });
  }
  run(FaultKind::kCtrlUsedIdOther, 0, [](World& w, const TestDriver::CtrlPosted& p) {
    EXPECT_EQ(w.drv->ctrl.used_idx(), 1);
    EXPECT_EQ(w.drv->ctrl.used_id(0), uint32_t(p.head + 1));
  });
  run(FaultKind::kCtrlUsedIdUnknown, 5,
      [](World& w, const TestDriver::CtrlPosted&) { EXPECT_EQ(w.drv->ctrl.used_id(0), 16u + 5u); });
}

TEST(CtrlLies, FaultsAreScenarioNames) {
  for (const char* name :
       {"ctrl_no_completion", "ctrl_ack_unwritten", "ctrl_ack_value", "ctrl_used_len",
        "ctrl_used_id_other", "ctrl_used_id_unknown", "config_rss_max_key_size",
        "config_rss_max_table_len", "config_supported_hash_types"}) {
    FaultKind k;
    ASSERT_TRUE(parse_fault_kind(name, &k)) << name;
    EXPECT_STREQ(fault_kind_name(k), name);
  }
}

TEST(CtrlLies, FaultOnControlQueueAtTwoN) {
  World w(device(2));
  ASSERT_TRUE(w.drv->init_modern_ctrl(kMq, 2));
  Fault f;
  f.kind = FaultKind::kCtrlAckValue;
  f.value = 0xFF;
  f.queue = 2;  // the control queue's index without MQ: still the control queue
  w.dev->arm(f);
  EXPECT_EQ(w.drv->ctrl_cmd(ctl::kClassRx, ctl::kRxPromisc, {0}), 0xFF);
}

uint32_t cfg(World& w, uint32_t off, uint8_t width) {
  return w.dev->bar_read(4, MockDevice::kDeviceCfgOffset + off, width);
}

TEST(ConfigLies, RawFieldsAreReadAsSet) {
  for (uint16_t pairs : {uint16_t(0), uint16_t(0x8001), uint16_t(0xFFFF)}) {
    World w(device(pairs));
    EXPECT_EQ(cfg(w, spec::net_cfg::kMaxVirtqueuePairs, 2), pairs);
    EXPECT_LE(w.dev->queue_pairs(), MockDevice::kMaxQueuePairs);
    EXPECT_GE(w.dev->queue_pairs(), 1);
  }
  for (uint8_t key : {uint8_t(41), uint8_t(255), uint8_t(39)}) {
    DeviceConfig c = device();
    c.rss_max_key_size = key;
    World w(c);
    EXPECT_EQ(cfg(w, ctl::kCfgRssMaxKeySize, 1), key);
  }
  for (uint16_t len : {uint16_t(0), uint16_t(3), uint16_t(0xFFFF)}) {
    DeviceConfig c = device();
    c.rss_max_indirection_table_length = len;
    World w(c);
    EXPECT_EQ(cfg(w, ctl::kCfgRssMaxIndirectionTableLen, 2), len);
  }
  DeviceConfig c = device();
  c.supported_hash_types = 0xDEAD;
  World w(c);
  EXPECT_EQ(cfg(w, ctl::kCfgSupportedHashTypes, 4), 0xDEADu);
  // The state faults change them later.
  Fault f;
  f.kind = FaultKind::kConfigRssMaxKeySize;
  f.value = 255;
  w.dev->arm(f);
  f.kind = FaultKind::kConfigRssMaxTableLen;
  f.value = 0xFFFF;
  w.dev->arm(f);
  f.kind = FaultKind::kConfigSupportedHashTypes;
  f.value = 0x400;
  w.dev->arm(f);
  EXPECT_EQ(cfg(w, ctl::kCfgRssMaxKeySize, 1), 255u);
  EXPECT_EQ(cfg(w, ctl::kCfgRssMaxIndirectionTableLen, 2), 0xFFFFu);
  EXPECT_EQ(cfg(w, ctl::kCfgSupportedHashTypes, 4), 0x400u);
}

TEST(ConfigLies, MqAndCtrlRxWithoutCtrlVq) {
  DeviceConfig c = device();
  c.offer_ctrl_vq = false;
  World w(c);
  const uint64_t offered = w.drv->device_features();
  EXPECT_FALSE(offered & fmask(F::kNetCtrlVq));
  EXPECT_TRUE(offered & fmask(F::kNetMq));
  EXPECT_TRUE(offered & fmask(F::kNetCtrlRx));
  // A driver that takes MQ without CTRL_VQ breaks 5.1.3.1 (drv-2.2.1-2).
  w.drv->init_modern(kBase | fmask(F::kNetMq));
  EXPECT_TRUE(w.dev->conformance().has("drv-2.2.1-2"));
}

TEST(ConfigLies, LyingPairsLeaveNoControlQueueWithMq) {
  World w(device(0));
  ASSERT_TRUE(w.drv->init_modern_ctrl(kCtrl, 1));  // without MQ the control queue is 2
  EXPECT_EQ(w.dev->ctrl_queue_index(), 2);
  World w2(device(0));
  w2.drv->init_modern_ctrl(kMq, 1, 2);
  EXPECT_EQ(w2.dev->ctrl_queue_index(), -1);  // 2 * 0 names no control queue
  EXPECT_EQ(w2.dev->process_ctrl(), 0u);
}

}  // namespace
}  // namespace vnet::mock
