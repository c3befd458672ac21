// Multiqueue and RSS end to end (issue 15): VirtioNet with accept_ctrl_vq,
// max_queue_pairs 2..4, accept_rss and accept_hash_report against the mock
// device's queue pairs, RSS steering and hash reports, on every transport
// flavour and both ring kinds (packed where the interface is modern).
//
// What each test shows is observed on both sides: the device's pair
// counters (tx_sent, rx_delivered, active_pairs, rss()) and what the
// driver's per-pair bursts hand over. Steering is checked against the
// Toeplitz hash computed here from the flow's fields (and the hash itself
// against the RSS verification suite's published values), not only
// against the mock's own steer().
//
// RSS and HASH_REPORT are feature bits above 31: legacy interfaces never
// see them, so the RSS suites run on the modern interfaces only; the
// multiqueue suites run everywhere (MQ is bit 22).
#include <gtest/gtest.h>

#include <array>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "driver/net/virtio_net.h"
#include "driver/spec/net_ctrl_layout.h"
#include "driver/spec/virtio_constants.h"
#include "mock_device/fault.h"
#include "mock_device/rx_filter.h"
#include "mock_world.h"

namespace vnet::testing {
namespace {

using mock::FaultKind;
using spec::Feature;
using spec::has_feature;
namespace ctl = spec::ctrl;

// ---- worlds: transport x ring kind ----------------------------------------

struct MqKind {
  WorldKind world;
  bool packed;
  const char* name;
};

// Every transport flavour with split rings; the modern interfaces also
// with packed rings (legacy interfaces never offer RING_PACKED).
const MqKind kMqKinds[] = {
    {kAllKinds[0], false, "legacy"},        {kAllKinds[1], false, "modern"},
    {kAllKinds[2], false, "transitional"},  {kAllKinds[3], false, "transitional_as_legacy"},
    {kAllKinds[4], false, "mmio_v1"},       {kAllKinds[5], false, "mmio_v2"},
    {kAllKinds[1], true, "modern_packed"},  {kAllKinds[2], true, "transitional_packed"},
    {kAllKinds[5], true, "mmio_v2_packed"},
};

// The interfaces on which RSS and HASH_REPORT (bits 60 and 57) exist.
const MqKind kRssKinds[] = {
    {kAllKinds[1], false, "modern"},
    {kAllKinds[2], false, "transitional"},
    {kAllKinds[5], false, "mmio_v2"},
    {kAllKinds[1], true, "modern_packed"},
    {kAllKinds[2], true, "transitional_packed"},
    {kAllKinds[5], true, "mmio_v2_packed"},
};

void PrintTo(const MqKind& k, std::ostream* os) {
  *os << k.name;
}

bool legacy_interface(const MqKind& k) {
  return k.world.device == mock::TransportKind::kLegacy ||
         k.world.device == mock::TransportKind::kMmioV1 || k.world.mode == PciMode::kLegacy;
}

constexpr uint8_t kOwn[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

// The RSS verification suite's key (40 bytes).
constexpr std::array<uint8_t, 40> kMsKey = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

// A device that offers everything multiqueue needs: CTRL_VQ (the default
// offer), MQ, RSS, HASH_REPORT, with `pairs` queue pairs.
mock::DeviceConfig mq_device(const MqKind& k, uint16_t pairs = 4) {
  mock::DeviceConfig c;
  c.transport = k.world.device;
  c.offer_ctrl_vq = true;
  c.offer_mq = true;
  c.offer_rss = true;
  c.offer_hash_report = true;
  c.max_virtqueue_pairs = pairs;
  c.offer_ring_packed = k.packed;
  return c;
}

NetOptions mq_options(const MqKind& k, uint16_t pairs, bool rss = true) {
  NetOptions o;
  o.accept_ctrl_vq = true;
  o.max_queue_pairs = pairs;
  o.accept_rss = rss;
  o.accept_hash_report = rss;
  o.accept_ring_packed = k.packed;
  // Four pairs of 64 rx buffers leave the 1024-buffer pool room for tx.
  o.rx_ring_cap = 64;
  o.tx_ring_cap = 64;
  o.ctrl_timeout_ns = 20'000'000;  // 20 ms: the never-completing device
  return o;
}

// ---- frames ----------------------------------------------------------------

// To the driver's MAC (the driver turns promiscuous mode off at attach),
// ethertype 0x88B5; every byte a function of (pair, seq).
std::vector<uint8_t> pair_frame(uint16_t pair, uint32_t seq, size_t len = 96) {
  std::vector<uint8_t> f(len);
  for (size_t i = 0; i < len; ++i) f[i] = uint8_t(pair * 41 + seq * 131 + i * 7);
  std::copy(kOwn, kOwn + 6, f.begin());
  const uint8_t src[6] = {0x02, 0, 0, 0, 0, 9};
  std::copy(src, src + 6, f.begin() + 6);
  f[12] = 0x88, f[13] = 0xB5;
  f[14] = uint8_t(pair);
  for (int i = 0; i < 4; ++i) f[15 + i] = uint8_t(seq >> (8 * i));
  return f;
}

struct Flow {
  std::array<uint8_t, 4> src;
  uint16_t sport;
  std::array<uint8_t, 4> dst;
  uint16_t dport;
};

// Ethernet (to our MAC) + IPv4 + TCP (6) or UDP (17), 64 bytes.
std::vector<uint8_t> ipv4_frame(const Flow& fl, uint8_t proto = 6) {
  std::vector<uint8_t> f(64, 0);
  std::copy(kOwn, kOwn + 6, f.begin());
  const uint8_t src[6] = {0x02, 0, 0, 0, 0, 9};
  std::copy(src, src + 6, f.begin() + 6);
  f[12] = 0x08, f[13] = 0x00;
  uint8_t* ip = &f[14];
  ip[0] = 0x45;
  ip[2] = 0, ip[3] = 50;  // total length: 20 + 20 + 10
  ip[8] = 64;
  ip[9] = proto;
  std::copy(fl.src.begin(), fl.src.end(), ip + 12);
  std::copy(fl.dst.begin(), fl.dst.end(), ip + 16);
  ip[20] = uint8_t(fl.sport >> 8), ip[21] = uint8_t(fl.sport);
  ip[22] = uint8_t(fl.dport >> 8), ip[23] = uint8_t(fl.dport);
  return f;
}

// An ARP frame to our MAC: no hash type applies (the unclassified pair).
std::vector<uint8_t> arp_frame() {
  std::vector<uint8_t> f(60, 0x11);
  std::copy(kOwn, kOwn + 6, f.begin());
  const uint8_t src[6] = {0x02, 0, 0, 0, 0, 9};
  std::copy(src, src + 6, f.begin() + 6);
  f[12] = 0x08, f[13] = 0x06;
  return f;
}

// The Toeplitz input of 5.1.6.4.3.1 for IPv4 (+ ports with TCP/UDP).
uint32_t flow_hash(const Flow& fl, bool ports) {
  std::vector<uint8_t> in(fl.src.begin(), fl.src.end());
  in.insert(in.end(), fl.dst.begin(), fl.dst.end());
  if (ports) {
    in.push_back(uint8_t(fl.sport >> 8)), in.push_back(uint8_t(fl.sport));
    in.push_back(uint8_t(fl.dport >> 8)), in.push_back(uint8_t(fl.dport));
  }
  return mock::toeplitz_hash(kMsKey, in);
}

// Distinct flows: 10.0.x.y:port -> 192.168.1.1:80.
Flow flow(uint32_t i) {
  return Flow{{10, 0, uint8_t(i >> 8), uint8_t(i)}, uint16_t(1024 + 7 * i), {192, 168, 1, 1}, 80};
}

RssSettings rss_settings(uint16_t table_len, uint32_t types = ctl::kHashTcpv4 | ctl::kHashIpv4) {
  RssSettings r{};
  r.hash_types = types;
  r.table_len = table_len;
  for (uint16_t i = 0; i < kMaxRssTable; ++i) r.table[i] = 0;
  r.unclassified_pair = 0;
  r.key_len = 40;
  std::copy(kMsKey.begin(), kMsKey.end(), r.key);
  return r;
}

// ---- the fixture -------------------------------------------------------------

struct Received {
  std::vector<uint8_t> data;
  uint32_t hash;
  uint16_t report;
};

class MqBase {
 protected:
  MockWorld& make(const MqKind& k, const mock::DeviceConfig& c, const NetOptions& o,
                  AttachError want = AttachError::kOk) {
    w_ = std::make_unique<MockWorld>(c, k.world.mode);
    const AttachError e = w_->attach(o);
    EXPECT_EQ(e, want) << attach_error_name(e);
    w_->device().set_tx_capture_limit(100000);
    return *w_;
  }
  // Copies frames into pool buffers and hands them to tx_burst(pair);
  // returns how many the driver took (the rest go back to the pool).
  uint16_t send(uint16_t pair, const std::vector<std::vector<uint8_t>>& frames) {
    std::vector<PacketBuffer*> bufs;
    for (const auto& f : frames) bufs.push_back(w_->pool().alloc_tx(f));
    const uint16_t taken = w_->net().tx_burst(pair, bufs.data(), uint16_t(bufs.size()));
    for (size_t i = taken; i < bufs.size(); ++i) w_->pool().free(bufs[i]);
    return taken;
  }
  std::vector<Received> receive(uint16_t pair, uint16_t max = 256) {
    std::vector<Received> out;
    std::vector<PacketBuffer*> bufs(max);
    const uint16_t n = w_->net().rx_burst(pair, bufs.data(), max);
    for (uint16_t i = 0; i < n; ++i) {
      out.push_back(Received{
          {bufs[i]->data(), bufs[i]->data() + bufs[i]->len}, bufs[i]->hash, bufs[i]->hash_report});
      w_->pool().free(bufs[i]);
    }
    return out;
  }
  // Frames transmitted on `pair` reach the device on that pair, byte for
  // byte; frames injected on `pair` come out of rx_burst(pair) and no
  // other pair's.
  void traffic_on_pair(uint16_t pair, uint32_t seq0, uint16_t frames = 3) {
    SCOPED_TRACE("pair " + std::to_string(pair));
    mock::MockDevice& d = w_->device();
    std::vector<std::vector<uint8_t>> tx;
    for (uint32_t s = 0; s < frames; ++s) tx.push_back(pair_frame(pair, seq0 + s));
    const uint64_t sent0 = d.tx_sent(pair);
    const size_t cap0 = d.captured_tx().size();
    ASSERT_EQ(send(pair, tx), frames);
    EXPECT_EQ(d.tx_sent(pair), sent0 + frames);
    ASSERT_EQ(d.captured_tx().size(), cap0 + frames);
    for (uint16_t s = 0; s < frames; ++s) EXPECT_EQ(d.captured_tx()[cap0 + s], tx[s]);
    const uint64_t rx0 = d.rx_delivered(pair);
    for (uint32_t s = 0; s < frames; ++s)
      ASSERT_TRUE(d.inject_rx_pair(pair, pair_frame(pair, seq0 + 1000 + s)));
    EXPECT_EQ(d.rx_delivered(pair), rx0 + frames);
    for (uint16_t other = 0; other < w_->net().max_queue_pairs(); ++other)
      if (other != pair) EXPECT_TRUE(receive(other).empty()) << "pair " << other;
    const std::vector<Received> got = receive(pair);
    ASSERT_EQ(got.size(), frames);
    for (uint16_t s = 0; s < frames; ++s) EXPECT_EQ(got[s].data, pair_frame(pair, seq0 + 1000 + s));
  }
  uint64_t ctrl_sent() const {
    return w_->device().counters().ctrl_commands + w_->net().counters().ctrl_commands;
  }
  void expect_conformant() {
    EXPECT_TRUE(w_->device().conformance().empty()) << violations(w_->device());
  }
  std::unique_ptr<MockWorld> w_;
};

class Multiqueue : public MqBase, public ::testing::TestWithParam<MqKind> {};
class Rss : public MqBase, public ::testing::TestWithParam<MqKind> {};

// ---- multiqueue: every transport, both ring kinds -----------------------------

TEST_P(Multiqueue, SetsUpEveryPairAndCarriesTrafficBothWaysOnEach) {
  for (uint16_t n : {uint16_t(2), uint16_t(3), uint16_t(4)}) {
    SCOPED_TRACE("max_queue_pairs " + std::to_string(n));
    MockWorld& w = make(GetParam(), mq_device(GetParam(), 4), mq_options(GetParam(), n));
    ASSERT_EQ(w.net().state(), NetState::kRunning);
    EXPECT_TRUE(has_feature(w.net().negotiated_features(), Feature::kNetMq));
    EXPECT_TRUE(has_feature(w.device().negotiated_features(), Feature::kNetMq));
    EXPECT_EQ(has_feature(w.net().negotiated_features(), Feature::kRingPacked), GetParam().packed);
    EXPECT_TRUE(w.net().has_control_queue());
    EXPECT_EQ(w.net().max_queue_pairs(), n);
    EXPECT_EQ(w.net().queue_pairs(), n);
    EXPECT_EQ(w.device().active_pairs(), n);  // the device was told to use them all
    for (uint16_t k = 0; k < n; ++k) {
      EXPECT_TRUE(w.device().queue_ready(uint16_t(2 * k))) << k;
      EXPECT_TRUE(w.device().queue_ready(uint16_t(2 * k + 1))) << k;
    }
    for (uint16_t k = 0; k < n; ++k) traffic_on_pair(k, 10 * k);
    // Per-pair counters: each pair counted its own three frames each way.
    for (uint16_t k = 0; k < n; ++k) {
      const NetCounters& c = w.net().pair_counters(k);
      EXPECT_EQ(c.rx_packets, 3u) << k;
      EXPECT_EQ(c.tx_packets, 3u) << k;
      EXPECT_EQ(c.rx_bytes, 3u * 96) << k;
      EXPECT_EQ(c.tx_bytes, 3u * 96) << k;
    }
    const NetCounters t = w.net().total_counters();
    EXPECT_EQ(t.rx_packets, 3u * n);
    EXPECT_EQ(t.tx_packets, 3u * n);
    EXPECT_EQ(t.rx_bytes, 3u * 96 * n);
    EXPECT_EQ(&w.net().pair_counters(0), &w.net().counters());
    expect_conformant();
  }
}

TEST_P(Multiqueue, QueuePairsOneThenTwo) {
  for (bool rss : {false, true}) {
    SCOPED_TRACE(rss ? "with RSS (RSS_CONFIG carries the pair count)" : "VQ_PAIRS_SET");
    MockWorld& w = make(GetParam(), mq_device(GetParam(), 4), mq_options(GetParam(), 4, rss));
    ASSERT_EQ(w.device().active_pairs(), 4);
    ASSERT_EQ(w.net().set_queue_pairs(1), CtrlResult::kOk);
    EXPECT_EQ(w.net().queue_pairs(), 1);
    EXPECT_EQ(w.device().active_pairs(), 1);
    // Pair 1 is no longer served: tx takes nothing, the device has no rx there.
    const uint64_t tx1 = w.device().tx_sent(1);
    EXPECT_EQ(send(1, {pair_frame(1, 1)}), 0);
    EXPECT_EQ(w.device().tx_sent(1), tx1);
    EXPECT_FALSE(w.device().inject_rx_pair(1, pair_frame(1, 2)));
    traffic_on_pair(0, 100);

    ASSERT_EQ(w.net().set_queue_pairs(2), CtrlResult::kOk);
    EXPECT_EQ(w.net().queue_pairs(), 2);
    EXPECT_EQ(w.device().active_pairs(), 2);
    traffic_on_pair(0, 200);
    traffic_on_pair(1, 300);
    // A pair set up but beyond queue_pairs() takes nothing.
    EXPECT_EQ(send(2, {pair_frame(2, 1)}), 0);
    EXPECT_EQ(send(3, {pair_frame(3, 1)}), 0);
    EXPECT_EQ(w.device().tx_sent(2) + w.device().tx_sent(3), 0u);
    // Pairs at or beyond max_queue_pairs(): nothing at all.
    PacketBuffer* out[4];
    EXPECT_EQ(w.net().rx_burst(4, out, 4), 0);
    EXPECT_EQ(w.net().rx_burst(0xFFFF, out, 4), 0);
    EXPECT_EQ(send(4, {pair_frame(4, 1)}), 0);
    EXPECT_EQ(send(0xFFFF, {pair_frame(4, 2)}), 0);
    EXPECT_EQ(w.net().tx_reclaim(4), 0);
    // Out of range: kInvalid, nothing sent.
    const uint64_t sent = ctrl_sent();
    EXPECT_EQ(w.net().set_queue_pairs(0), CtrlResult::kInvalid);
    EXPECT_EQ(w.net().set_queue_pairs(5), CtrlResult::kInvalid);
    EXPECT_EQ(ctrl_sent(), sent);
    EXPECT_EQ(w.device().active_pairs(), 2);
    EXPECT_TRUE(w.pool().available() > 0);
    expect_conformant();
  }
}

TEST_P(Multiqueue, RxAndTxOnAPairBeyondMaxQueuePairsReturnZero) {
  // The device has 4 pairs, the driver takes 2.
  MockWorld& w = make(GetParam(), mq_device(GetParam(), 4), mq_options(GetParam(), 2));
  ASSERT_EQ(w.net().max_queue_pairs(), 2);
  PacketBuffer* out[4];
  for (uint16_t pair : {uint16_t(2), uint16_t(3), uint16_t(kMaxQueuePairs), uint16_t(100)}) {
    EXPECT_EQ(w.net().rx_burst(pair, out, 4), 0) << pair;
    EXPECT_EQ(send(pair, {pair_frame(pair, 0)}), 0) << pair;
    EXPECT_EQ(w.net().tx_reclaim(pair), 0) << pair;
    EXPECT_FALSE(w.net().set_rx_interrupts(pair, true)) << pair;
  }
  EXPECT_EQ(w.device().tx_sent(2) + w.device().tx_sent(3), 0u);
  EXPECT_EQ(w.net().total_counters().tx_packets, 0u);
  traffic_on_pair(1, 0);
  expect_conformant();
}

TEST_P(Multiqueue, DeviceResetRestoresThePairsAskedFor) {
  MockWorld& w = make(GetParam(), mq_device(GetParam(), 4), mq_options(GetParam(), 4, false));
  ASSERT_EQ(w.net().set_queue_pairs(3), CtrlResult::kOk);
  ASSERT_EQ(w.device().active_pairs(), 3);
  w.device().device_reset();
  const DeviceEvents ev = w.net().poll_device();
  EXPECT_TRUE(ev.reset_detected);
  EXPECT_TRUE(ev.recovered);
  ASSERT_EQ(w.net().state(), NetState::kRunning);
  EXPECT_EQ(w.net().max_queue_pairs(), 4);
  EXPECT_EQ(w.net().queue_pairs(), 3);
  EXPECT_EQ(w.device().active_pairs(), 3);
  for (uint16_t k = 0; k < 3; ++k) traffic_on_pair(k, 50 * k);
  EXPECT_EQ(send(3, {pair_frame(3, 0)}), 0);
  // recover() by hand: the same.
  ASSERT_TRUE(w.net().recover());
  EXPECT_EQ(w.device().active_pairs(), 3);
  traffic_on_pair(2, 500);
  EXPECT_EQ(w.net().counters().recoveries, 2u);
  expect_conformant();
}

// A device that lies in its answer to VQ_PAIRS_SET is reset by
// poll_device() and comes back with every pair.
TEST_P(Multiqueue, LyingAnswerToVqPairsSetIsResetAndComesBack) {
  struct Lie {
    FaultKind kind;
    uint64_t value;
    bool timeout;
  };
  const Lie lies[] = {
      {FaultKind::kCtrlAckValue, 2, false},      {FaultKind::kCtrlAckValue, 0xFF, false},
      {FaultKind::kCtrlAckUnwritten, 0, false},  {FaultKind::kCtrlUsedLen, 0, false},
      {FaultKind::kCtrlUsedLen, 2, false},       {FaultKind::kCtrlUsedIdOther, 0, false},
      {FaultKind::kCtrlUsedIdUnknown, 3, false}, {FaultKind::kCtrlNoCompletion, 0, true},
  };
  for (const Lie& lie : lies) {
    SCOPED_TRACE(std::string(mock::fault_kind_name(lie.kind)) + " " + std::to_string(lie.value));
    // No RSS: the pair count travels in VQ_PAIRS_SET.
    MockWorld& w = make(GetParam(), mq_device(GetParam(), 4), mq_options(GetParam(), 4, false));
    ASSERT_FALSE(has_feature(w.net().negotiated_features(), Feature::kNetRss));
    ASSERT_EQ(w.device().active_pairs(), 4);
    mock::Fault f;
    f.kind = lie.kind;
    f.value = lie.value;
    w.device().arm(f);
    const uint64_t applied = w.device().counters().faults_applied;
    const CtrlResult r = w.net().set_queue_pairs(2);
    EXPECT_EQ(r, lie.timeout ? CtrlResult::kTimeout : CtrlResult::kDeviceFault)
        << ctrl_result_name(r);
    EXPECT_EQ(w.device().counters().faults_applied, applied + 1);
    EXPECT_EQ(w.device().armed_faults(), 0u);
    EXPECT_NE(w.net().state(), NetState::kRunning);
    // Nothing goes out while the device is not trusted.
    EXPECT_EQ(send(0, {pair_frame(0, 0)}), 0);
    const DeviceEvents ev = w.net().poll_device();
    EXPECT_TRUE(ev.recovered);
    ASSERT_EQ(w.net().state(), NetState::kRunning);
    EXPECT_EQ(w.net().counters().recoveries, 1u);
    // What was acknowledged before (all four pairs) is what the device uses again.
    EXPECT_EQ(w.net().queue_pairs(), 4);
    EXPECT_EQ(w.device().active_pairs(), 4);
    traffic_on_pair(3, 0);
    traffic_on_pair(0, 10);
    // And the command works now.
    ASSERT_EQ(w.net().set_queue_pairs(2), CtrlResult::kOk);
    EXPECT_EQ(w.device().active_pairs(), 2);
    expect_conformant();
  }
}

// The same lie told to the VQ_PAIRS_SET the driver sends at attach (after
// the two receive-mode commands of the restore).
TEST_P(Multiqueue, LyingAnswerToVqPairsSetAtAttachIsResetAndComesBack) {
  for (FaultKind kind : {FaultKind::kCtrlAckValue, FaultKind::kCtrlNoCompletion}) {
    SCOPED_TRACE(mock::fault_kind_name(kind));
    w_ = std::make_unique<MockWorld>(mq_device(GetParam(), 4), GetParam().world.mode);
    mock::Fault f;
    f.kind = kind;
    f.value = 0x7F;
    f.skip = 2;  // PROMISC off, ALLMULTI off, then VQ_PAIRS_SET
    w_->device().arm(f);
    ASSERT_EQ(w_->attach(mq_options(GetParam(), 4, false)), AttachError::kOk);
    EXPECT_EQ(w_->device().armed_faults(), 0u);
    EXPECT_EQ(w_->net().state(), NetState::kBroken);
    EXPECT_EQ(w_->net().queue_pairs(), 1);
    EXPECT_TRUE(w_->net().poll_device().recovered);
    ASSERT_EQ(w_->net().state(), NetState::kRunning);
    EXPECT_EQ(w_->net().queue_pairs(), 4);
    EXPECT_EQ(w_->device().active_pairs(), 4);
    w_->device().set_tx_capture_limit(100000);
    traffic_on_pair(3, 0);
    expect_conformant();
  }
}

// ---- config lies and feature dependencies (every transport) -------------------

TEST_P(Multiqueue, InvalidMaxVirtqueuePairsMeansOnePairWithoutMq) {
  for (uint16_t lie : {uint16_t(0), uint16_t(0x8001), uint16_t(0xFFFF)}) {
    SCOPED_TRACE("max_virtqueue_pairs " + std::to_string(lie));
    MockWorld& w = make(GetParam(), mq_device(GetParam(), lie), mq_options(GetParam(), 4));
    ASSERT_EQ(w.net().state(), NetState::kRunning);
    const uint64_t f = w.net().negotiated_features();
    EXPECT_FALSE(has_feature(f, Feature::kNetMq));
    EXPECT_FALSE(has_feature(f, Feature::kNetRss));
    EXPECT_FALSE(has_feature(f, Feature::kNetHashReport));
    EXPECT_FALSE(has_feature(w.device().negotiated_features(), Feature::kNetMq));
    EXPECT_TRUE(w.net().has_control_queue());
    EXPECT_EQ(w.net().max_queue_pairs(), 1);
    EXPECT_EQ(w.net().queue_pairs(), 1);
    EXPECT_EQ(w.net().counters().config_invalid_max_pairs, 1u);
    EXPECT_EQ(w.device().active_pairs(), 1);
    EXPECT_EQ(w.device().ctrl_queue_index(), 2);
    EXPECT_EQ(w.net().set_queue_pairs(2), CtrlResult::kUnsupported);
    EXPECT_EQ(w.net().set_rss(rss_settings(1)), CtrlResult::kUnsupported);
    EXPECT_EQ(send(1, {pair_frame(1, 0)}), 0);
    PacketBuffer* out[2];
    EXPECT_EQ(w.net().rx_burst(1, out, 2), 0);
    traffic_on_pair(0, 0);
    // The control queue (at 2) works.
    EXPECT_EQ(w.net().set_rx_mode(RxMode::kPromiscuous, true), CtrlResult::kOk);
    expect_conformant();
  }
}

TEST_P(Multiqueue, MqOfferedWithoutCtrlVqIsNotNegotiated) {
  mock::DeviceConfig c = mq_device(GetParam(), 4);
  c.offer_ctrl_vq = false;
  MockWorld& w = make(GetParam(), c, mq_options(GetParam(), 4));
  ASSERT_TRUE(has_feature(w.device().config().features, Feature::kNetMq));
  ASSERT_EQ(w.net().state(), NetState::kRunning);
  const uint64_t f = w.net().negotiated_features();
  // (HASH_REPORT is not among them: 5.1.3.1 does not tie it to CTRL_VQ.)
  for (Feature x : {Feature::kNetCtrlVq, Feature::kNetMq, Feature::kNetRss, Feature::kNetCtrlRx,
                    Feature::kNetCtrlVlan, Feature::kNetCtrlMacAddr, Feature::kNetGuestAnnounce})
    EXPECT_FALSE(has_feature(f, x)) << int(x);
  EXPECT_FALSE(w.net().has_control_queue());
  EXPECT_EQ(w.net().max_queue_pairs(), 1);
  EXPECT_EQ(w.net().queue_pairs(), 1);
  EXPECT_EQ(w.net().set_queue_pairs(2), CtrlResult::kUnsupported);
  EXPECT_EQ(w.device().counters().ctrl_commands, 0u);
  EXPECT_EQ(send(1, {pair_frame(1, 0)}), 0);
  traffic_on_pair(0, 0);
  expect_conformant();
}

TEST_P(Multiqueue, RssOnlyOnModernInterfaces) {
  MockWorld& w = make(GetParam(), mq_device(GetParam(), 2), mq_options(GetParam(), 2));
  const bool modern = !legacy_interface(GetParam());
  EXPECT_EQ(has_feature(w.net().negotiated_features(), Feature::kNetRss), modern);
  EXPECT_EQ(has_feature(w.net().negotiated_features(), Feature::kNetHashReport), modern);
  EXPECT_EQ(w.net().net_header_size(), modern ? 20u : w.device().net_header_size());
  EXPECT_EQ(w.net().net_header_size(), w.device().net_header_size());
  RssSettings r = rss_settings(1);
  EXPECT_EQ(w.net().set_rss(r), modern ? CtrlResult::kOk : CtrlResult::kUnsupported);
  EXPECT_EQ(w.device().rss().enabled, modern);
  EXPECT_EQ(w.device().active_pairs(), 2);
  traffic_on_pair(1, 0);
  expect_conformant();
}

// ---- RSS and hash reports (modern interfaces) ---------------------------------

TEST_P(Rss, TheSuiteVectorsHashAsPublished) {
  // The oracle first: the Toeplitz hash used below against the RSS
  // verification suite's IPv4 values (key kMsKey).
  struct V {
    Flow fl;
    uint32_t ip_only, with_tcp;
  };
  const V vs[] = {
      {{{66, 9, 149, 187}, 2794, {161, 142, 100, 80}, 1766}, 0x323e8fc2, 0x51ccc178},
      {{{199, 92, 111, 2}, 14230, {65, 69, 140, 83}, 4739}, 0xd718262a, 0xc626b0ea},
      {{{24, 19, 198, 95}, 12898, {12, 22, 207, 184}, 38024}, 0xd2d0a5de, 0x5c2b394a},
      {{{38, 27, 205, 30}, 48228, {209, 142, 163, 6}, 2217}, 0x82989176, 0xafc7327f},
      {{{153, 39, 163, 191}, 44251, {202, 188, 127, 2}, 1303}, 0x5d1809c5, 0x10e828a2},
  };
  for (const V& v : vs) {
    EXPECT_EQ(flow_hash(v.fl, false), v.ip_only);
    EXPECT_EQ(flow_hash(v.fl, true), v.with_tcp);
  }
  // And through the driver: each vector's hash and report as delivered.
  MockWorld& w = make(GetParam(), mq_device(GetParam(), 2), mq_options(GetParam(), 2));
  RssSettings r = rss_settings(w.net().rss_max_table_len());
  ASSERT_EQ(w.net().set_rss(r), CtrlResult::kOk);  // every entry: pair 0
  for (const V& v : vs) {
    ASSERT_TRUE(w.device().inject_rx(ipv4_frame(v.fl)));
    std::vector<Received> got = receive(0);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].hash, v.with_tcp);
    EXPECT_EQ(got[0].report, uint16_t(mock::HashReport::kTcpv4));
    ASSERT_TRUE(w.device().inject_rx(ipv4_frame(v.fl, 17)));  // UDP: not a type asked for
    got = receive(0);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].hash, v.ip_only);
    EXPECT_EQ(got[0].report, uint16_t(mock::HashReport::kIpv4));
  }
  expect_conformant();
}

TEST_P(Rss, TablePointingAtPairOneSteersEveryFlowThere) {
  MockWorld& w = make(GetParam(), mq_device(GetParam(), 4), mq_options(GetParam(), 2));
  ASSERT_TRUE(has_feature(w.net().negotiated_features(), Feature::kNetRss));
  ASSERT_TRUE(has_feature(w.net().negotiated_features(), Feature::kNetHashReport));
  ASSERT_EQ(w.net().rss_max_table_len(), 128);
  ASSERT_EQ(w.net().rss_max_key_size(), 40);
  ASSERT_EQ(w.net().queue_pairs(), 2);
  RssSettings r = rss_settings(128);
  for (uint16_t i = 0; i < r.table_len; ++i) r.table[i] = 1;
  const uint64_t sent = w.device().counters().ctrl_commands;
  ASSERT_EQ(w.net().set_rss(r), CtrlResult::kOk);
  EXPECT_EQ(w.device().counters().ctrl_commands, sent + 1);
  const mock::RssState& s = w.device().rss();
  EXPECT_TRUE(s.enabled);
  EXPECT_TRUE(s.redirect);
  EXPECT_EQ(s.hash_types, ctl::kHashTcpv4 | ctl::kHashIpv4);
  EXPECT_EQ(s.table, std::vector<uint16_t>(128, 1));
  EXPECT_EQ(s.key, std::vector<uint8_t>(kMsKey.begin(), kMsKey.end()));
  EXPECT_EQ(w.device().active_pairs(), 2);
  for (uint32_t i = 0; i < 16; ++i) {
    const auto f = ipv4_frame(flow(i));
    EXPECT_EQ(w.device().steer(f), 1);
    ASSERT_TRUE(w.device().inject_rx(f));
  }
  EXPECT_TRUE(receive(0).empty());
  const std::vector<Received> got = receive(1);
  ASSERT_EQ(got.size(), 16u);
  for (uint32_t i = 0; i < 16; ++i) {
    EXPECT_EQ(got[i].data, ipv4_frame(flow(i)));
    EXPECT_EQ(got[i].hash, flow_hash(flow(i), true));
    EXPECT_EQ(got[i].report, uint16_t(mock::HashReport::kTcpv4));
  }
  EXPECT_EQ(w.device().rx_delivered(1), 16u);
  EXPECT_EQ(w.net().pair_counters(1).rx_packets, 16u);
  EXPECT_EQ(w.net().counters().rx_packets, 0u);
  // No hash type applies to ARP: the unclassified pair (0), no report.
  ASSERT_TRUE(w.device().inject_rx(arp_frame()));
  const std::vector<Received> arp = receive(0);
  ASSERT_EQ(arp.size(), 1u);
  EXPECT_EQ(arp[0].report, 0);
  EXPECT_EQ(arp[0].hash, 0u);
  expect_conformant();
}

TEST_P(Rss, SpreadTableSpreadsFlowsAsTheToeplitzHashSays) {
  for (uint16_t n : {uint16_t(2), uint16_t(3), uint16_t(4)}) {
    SCOPED_TRACE("pairs " + std::to_string(n));
    MockWorld& w = make(GetParam(), mq_device(GetParam(), 4), mq_options(GetParam(), n));
    ASSERT_EQ(w.net().queue_pairs(), n);
    RssSettings r = rss_settings(64);
    // Not the driver's own i % n: a table only this test would send.
    for (uint16_t i = 0; i < r.table_len; ++i) r.table[i] = uint16_t((5 * i + 1) % n);
    ASSERT_EQ(w.net().set_rss(r), CtrlResult::kOk);
    std::vector<std::vector<uint32_t>> want(n);  // flows per pair, by the hash
    for (uint32_t i = 0; i < 64; ++i) {
      const uint16_t pair = r.table[flow_hash(flow(i), true) & 63];
      want[pair].push_back(i);
      const auto f = ipv4_frame(flow(i));
      EXPECT_EQ(w.device().steer(f), pair) << i;
      ASSERT_TRUE(w.device().inject_rx(f)) << i;
    }
    std::set<uint16_t> used;
    for (uint16_t k = 0; k < n; ++k) {
      const std::vector<Received> got = receive(k);
      ASSERT_EQ(got.size(), want[k].size()) << "pair " << k;
      for (size_t j = 0; j < got.size(); ++j) {
        const Flow fl = flow(want[k][j]);
        EXPECT_EQ(got[j].data, ipv4_frame(fl));
        EXPECT_EQ(got[j].hash, flow_hash(fl, true));
        EXPECT_EQ(got[j].report, uint16_t(mock::HashReport::kTcpv4));
      }
      EXPECT_EQ(w.net().pair_counters(k).rx_packets, want[k].size());
      EXPECT_EQ(w.device().rx_delivered(k), want[k].size());
      if (!got.empty()) used.insert(k);
    }
    EXPECT_EQ(used.size(), n) << "64 flows should reach every pair";
    EXPECT_EQ(w.net().total_counters().rx_packets, 64u);
    expect_conformant();
  }
}

TEST_P(Rss, WithoutHashReportNoHashIsDelivered) {
  MockWorld& w = make(GetParam(), mq_device(GetParam(), 2), [&] {
    NetOptions o = mq_options(GetParam(), 2);
    o.accept_hash_report = false;
    return o;
  }());
  ASSERT_TRUE(has_feature(w.net().negotiated_features(), Feature::kNetRss));
  ASSERT_FALSE(has_feature(w.net().negotiated_features(), Feature::kNetHashReport));
  EXPECT_EQ(w.net().net_header_size(), 12u);
  RssSettings r = rss_settings(128);
  for (uint16_t i = 0; i < r.table_len; ++i) r.table[i] = 1;
  ASSERT_EQ(w.net().set_rss(r), CtrlResult::kOk);
  ASSERT_TRUE(w.device().inject_rx(ipv4_frame(flow(1))));
  const std::vector<Received> got = receive(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].data, ipv4_frame(flow(1)));
  EXPECT_EQ(got[0].hash, 0u);
  EXPECT_EQ(got[0].report, 0);
  expect_conformant();
}

TEST_P(Rss, ReattachRestoresPairsAndRss) {
  MockWorld& w = make(GetParam(), mq_device(GetParam(), 4), mq_options(GetParam(), 4));
  ASSERT_EQ(w.net().set_queue_pairs(2), CtrlResult::kOk);
  RssSettings r = rss_settings(32, ctl::kHashTcpv4);
  for (uint16_t i = 0; i < r.table_len; ++i) r.table[i] = 1;
  r.unclassified_pair = 1;
  ASSERT_EQ(w.net().set_rss(r), CtrlResult::kOk);
  auto check = [&](const char* when) {
    SCOPED_TRACE(when);
    ASSERT_EQ(w.net().state(), NetState::kRunning);
    EXPECT_EQ(w.net().queue_pairs(), 2);
    EXPECT_EQ(w.device().active_pairs(), 2);
    const mock::RssState& s = w.device().rss();
    EXPECT_TRUE(s.enabled && s.redirect);
    EXPECT_EQ(s.hash_types, ctl::kHashTcpv4);
    EXPECT_EQ(s.table, std::vector<uint16_t>(32, 1));
    EXPECT_EQ(s.unclassified, 1);
    EXPECT_EQ(s.key, std::vector<uint8_t>(kMsKey.begin(), kMsKey.end()));
    for (uint32_t i = 0; i < 8; ++i) ASSERT_TRUE(w.device().inject_rx(ipv4_frame(flow(i))));
    ASSERT_TRUE(w.device().inject_rx(arp_frame()));  // unclassified: pair 1 too
    EXPECT_TRUE(receive(0).empty());
    const std::vector<Received> got = receive(1);
    ASSERT_EQ(got.size(), 9u);
    for (uint32_t i = 0; i < 8; ++i) EXPECT_EQ(got[i].hash, flow_hash(flow(i), true));
    EXPECT_EQ(send(2, {pair_frame(2, 0)}), 0);
    traffic_on_pair(1, 0);
  };
  check("before");
  w.device().device_reset();
  const DeviceEvents ev = w.net().poll_device();
  EXPECT_TRUE(ev.reset_detected);
  EXPECT_TRUE(ev.recovered);
  check("after a device reset and poll_device()");
  ASSERT_TRUE(w.net().recover());
  check("after recover()");
  EXPECT_EQ(w.net().counters().recoveries, 2u);
  expect_conformant();
}

// ---- RSS config lies --------------------------------------------------------------

TEST_P(Rss, KeySizeBelowFortyMeansNoRss) {
  mock::DeviceConfig c = mq_device(GetParam(), 4);
  c.rss_max_key_size = 39;
  MockWorld& w = make(GetParam(), c, mq_options(GetParam(), 4));
  ASSERT_EQ(w.net().state(), NetState::kRunning);
  EXPECT_FALSE(has_feature(w.net().negotiated_features(), Feature::kNetRss));
  EXPECT_FALSE(has_feature(w.net().negotiated_features(), Feature::kNetHashReport));
  EXPECT_TRUE(has_feature(w.net().negotiated_features(), Feature::kNetMq));
  EXPECT_EQ(w.net().counters().config_invalid_rss, 1u);
  EXPECT_EQ(w.net().rss_max_key_size(), 0);
  EXPECT_EQ(w.net().rss_max_table_len(), 0);
  EXPECT_EQ(w.net().max_queue_pairs(), 4);
  EXPECT_EQ(w.device().active_pairs(), 4);  // VQ_PAIRS_SET
  EXPECT_FALSE(w.device().rss().enabled);
  EXPECT_EQ(w.net().set_rss(rss_settings(1)), CtrlResult::kUnsupported);
  traffic_on_pair(3, 0);
  expect_conformant();
}

TEST_P(Rss, KeySizeAboveFortyStillSendsAFortyByteKey) {
  for (uint8_t key_size : {uint8_t(41), uint8_t(255)}) {
    SCOPED_TRACE("rss_max_key_size " + std::to_string(key_size));
    mock::DeviceConfig c = mq_device(GetParam(), 4);
    c.rss_max_key_size = key_size;
    MockWorld& w = make(GetParam(), c, mq_options(GetParam(), 2));
    ASSERT_TRUE(has_feature(w.net().negotiated_features(), Feature::kNetRss));
    EXPECT_EQ(w.net().counters().config_invalid_rss, 0u);
    EXPECT_EQ(w.net().rss_max_key_size(), 40);
    // The driver's own RSS_CONFIG at attach: a 40-byte key.
    EXPECT_TRUE(w.device().rss().enabled);
    EXPECT_EQ(w.device().rss().key.size(), 40u);
    const uint64_t sent = ctrl_sent();
    RssSettings r = rss_settings(128);
    r.key_len = 41;  // what the device claims it takes, beyond the spec's 40
    EXPECT_EQ(w.net().set_rss(r), CtrlResult::kInvalid);
    EXPECT_EQ(ctrl_sent(), sent);
    r.key_len = 40;
    for (uint16_t i = 0; i < r.table_len; ++i) r.table[i] = 1;
    ASSERT_EQ(w.net().set_rss(r), CtrlResult::kOk);
    EXPECT_EQ(w.device().rss().key, std::vector<uint8_t>(kMsKey.begin(), kMsKey.end()));
    ASSERT_TRUE(w.device().inject_rx(ipv4_frame(flow(5))));
    const std::vector<Received> got = receive(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].hash, flow_hash(flow(5), true));
    expect_conformant();
  }
}

TEST_P(Rss, IndirectionTableLimits) {
  struct Case {
    uint16_t config;
    uint16_t used;  // 0: no RSS
  };
  for (const Case& k : {Case{0, 0}, Case{100, 64}, Case{0xFFFF, 128}, Case{1, 1}, Case{128, 128}}) {
    SCOPED_TRACE("rss_max_indirection_table_length " + std::to_string(k.config));
    mock::DeviceConfig c = mq_device(GetParam(), 4);
    c.rss_max_indirection_table_length = k.config;
    MockWorld& w = make(GetParam(), c, mq_options(GetParam(), 2));
    ASSERT_EQ(w.net().state(), NetState::kRunning);
    EXPECT_EQ(has_feature(w.net().negotiated_features(), Feature::kNetRss), k.used != 0);
    EXPECT_EQ(w.net().counters().config_invalid_rss, k.used == 0 ? 1u : 0u);
    EXPECT_EQ(w.net().rss_max_table_len(), k.used);
    EXPECT_EQ(w.device().active_pairs(), 2);
    if (k.used == 0) {
      EXPECT_FALSE(w.device().rss().enabled);
      EXPECT_EQ(w.net().set_rss(rss_settings(1)), CtrlResult::kUnsupported);
      expect_conformant();
      continue;
    }
    // The driver's RSS_CONFIG at attach spreads the pairs over the table it may use.
    EXPECT_EQ(w.device().rss().table.size(), k.used);
    const uint64_t sent = ctrl_sent();
    if (k.used < 128) {
      EXPECT_EQ(w.net().set_rss(rss_settings(uint16_t(2 * k.used))), CtrlResult::kInvalid);
      EXPECT_EQ(ctrl_sent(), sent);
    }
    RssSettings r = rss_settings(k.used);
    for (uint16_t i = 0; i < r.table_len; ++i) r.table[i] = 1;
    ASSERT_EQ(w.net().set_rss(r), CtrlResult::kOk);
    EXPECT_EQ(w.device().rss().table, std::vector<uint16_t>(k.used, 1));
    ASSERT_TRUE(w.device().inject_rx(ipv4_frame(flow(3))));
    EXPECT_EQ(receive(1).size(), 1u);
    expect_conformant();
  }
}

TEST_P(Rss, NoSupportedHashTypeMeansNoRss) {
  for (uint32_t types : {0u, 0xFFFF'FE00u}) {  // none, or only undefined bits
    SCOPED_TRACE(types);
    mock::DeviceConfig c = mq_device(GetParam(), 4);
    c.supported_hash_types = types;
    MockWorld& w = make(GetParam(), c, mq_options(GetParam(), 2));
    ASSERT_EQ(w.net().state(), NetState::kRunning);
    EXPECT_FALSE(has_feature(w.net().negotiated_features(), Feature::kNetRss));
    EXPECT_FALSE(has_feature(w.net().negotiated_features(), Feature::kNetHashReport));
    EXPECT_EQ(w.net().counters().config_invalid_rss, 1u);
    EXPECT_EQ(w.net().rss_hash_types(), 0u);
    EXPECT_EQ(w.device().active_pairs(), 2);
    EXPECT_EQ(w.net().set_rss(rss_settings(1, 0)), CtrlResult::kUnsupported);
    traffic_on_pair(1, 0);
    expect_conformant();
  }
}

// ---- set_rss() argument checks: kInvalid, nothing sent ----------------------------

TEST_P(Rss, InvalidSettingsAreRefusedBeforeAnythingIsSent) {
  mock::DeviceConfig c = mq_device(GetParam(), 4);
  c.rss_max_indirection_table_length = 32;
  c.supported_hash_types = ctl::kHashIpv4 | ctl::kHashTcpv4;
  MockWorld& w = make(GetParam(), c, mq_options(GetParam(), 2));
  ASSERT_EQ(w.net().rss_max_table_len(), 32);
  ASSERT_EQ(w.net().rss_hash_types(), ctl::kHashIpv4 | ctl::kHashTcpv4);
  ASSERT_EQ(w.net().queue_pairs(), 2);
  auto good = [] {
    RssSettings r = rss_settings(32);
    for (uint16_t i = 0; i < r.table_len; ++i) r.table[i] = uint16_t(i % 2);
    return r;
  };
  struct Bad {
    const char* what;
    void (*spoil)(RssSettings&);
  };
  const Bad bads[] = {
      {"table_len 3", [](RssSettings& r) { r.table_len = 3; }},
      {"table_len 24", [](RssSettings& r) { r.table_len = 24; }},
      {"table_len 0", [](RssSettings& r) { r.table_len = 0; }},
      {"table_len 64 above the device's 32", [](RssSettings& r) { r.table_len = 64; }},
      {"table_len 128 above the device's 32", [](RssSettings& r) { r.table_len = 128; }},
      {"table_len 256", [](RssSettings& r) { r.table_len = 256; }},
      {"hash type UDPv4 not supported", [](RssSettings& r) { r.hash_types |= ctl::kHashUdpv4; }},
      {"hash type bit 9 undefined", [](RssSettings& r) { r.hash_types |= 1u << 9; }},
      {"key_len 41", [](RssSettings& r) { r.key_len = 41; }},
      {"key_len 255", [](RssSettings& r) { r.key_len = 255; }},
      {"key_len 0", [](RssSettings& r) { r.key_len = 0; }},
      {"table entry 2 with 2 pairs", [](RssSettings& r) { r.table[31] = 2; }},
      {"table entry 0xFFFF", [](RssSettings& r) { r.table[0] = 0xFFFF; }},
      {"unclassified pair 2", [](RssSettings& r) { r.unclassified_pair = 2; }},
  };
  const std::vector<uint16_t> table_before = w.device().rss().table;
  for (const Bad& b : bads) {
    RssSettings r = good();
    b.spoil(r);
    const uint64_t sent = ctrl_sent();
    EXPECT_EQ(w.net().set_rss(r), CtrlResult::kInvalid) << b.what;
    EXPECT_EQ(ctrl_sent(), sent) << b.what;
  }
  EXPECT_EQ(w.device().rss().table, table_before);
  // With one pair in use, an entry naming pair 1 is out of range too.
  ASSERT_EQ(w.net().set_queue_pairs(1), CtrlResult::kOk);
  {
    const uint64_t sent = ctrl_sent();
    EXPECT_EQ(w.net().set_rss(good()), CtrlResult::kInvalid);
    EXPECT_EQ(ctrl_sent(), sent);
  }
  ASSERT_EQ(w.net().set_queue_pairs(2), CtrlResult::kOk);
  // The unspoilt settings pass: the checks are not refusing everything.
  ASSERT_EQ(w.net().set_rss(good()), CtrlResult::kOk);
  std::vector<uint16_t> want(32);
  for (uint16_t i = 0; i < 32; ++i) want[i] = uint16_t(i % 2);
  EXPECT_EQ(w.device().rss().table, want);
  expect_conformant();
}

std::string kind_name(const ::testing::TestParamInfo<MqKind>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(AllTransports, Multiqueue, ::testing::ValuesIn(kMqKinds), kind_name);
INSTANTIATE_TEST_SUITE_P(ModernInterfaces, Rss, ::testing::ValuesIn(kRssKinds), kind_name);

}  // namespace
}  // namespace vnet::testing
