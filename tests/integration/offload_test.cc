// Offloads and big frames end to end (issue 16): VirtioNet against the mock
// device on modern PCI (split ring), with every frame checked by this
// file's own arithmetic (tests/mock_device/offload_frames.h), never by the
// mock's or the driver's offload code:
//   1. negotiation: what the options and the device's offer give, and the
//      feature dependencies (GUEST_TSO needs GUEST_CSUM and room for a
//      64 KiB frame);
//   2. transmit: checksum completion and TSO4/TSO6/USO segmentation from
//      one big buffer and from scatter-gather chains (indirect), and each
//      refusal dropped and counted with nothing reaching the device;
//   3. receive: GSO frames as chains over MRG_RXBUF, DATA_VALID, jumbo
//      frames, big buffers without MRG_RXBUF;
//   4. every rx header field with a malformed value (the mock's faults),
//      dropped under its own counter, the next good frame delivered;
//   5. CTRL_GUEST_OFFLOADS: argument checks, switching GUEST_TSO4 off, and
//      the setting restored after a device reset.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "driver/net/virtio_net.h"
#include "driver/transport/pci_probe.h"
#include "mock_device/fault.h"
#include "mock_device/guest_memory.h"
#include "mock_device/mock_buffer_pool.h"
#include "mock_device/mock_device.h"
#include "mock_device/mock_platform.h"
#include "mock_device/offload.h"
#include "tests/integration/mock_world.h"
#include "tests/mock_device/offload_frames.h"

namespace vnet {
namespace {

namespace ft = vnet::mock::testing;
using F = spec::Feature;
using ft::FrameSpec;
using mock::FaultKind;
using spec::feature_mask;

// ---- the world --------------------------------------------------------------

// MockWorld with a pool of buffers of any size (big buffers: 64 KiB and
// more), modern PCI only.
class World {
 public:
  World(const mock::DeviceConfig& config, uint32_t buffer_size, size_t buffers)
      : device_(memory_, config),
        platform_(device_, memory_),
        pool_(memory_, buffers, buffer_size) {}
  AttachError attach(const NetOptions& o) {
    probe_ = transports_.probe(platform_, PciMode::kAuto);
    if (probe_.error != ProbeError::kOk) return AttachError::kBadOptions;
    return net_.attach(platform_, *probe_.transport, pool_, o);
  }
  ~World() {
    if (net_.state() != NetState::kDown) net_.stop();
  }
  mock::MockDevice& device() { return device_; }
  mock::MockBufferPool& pool() { return pool_; }
  VirtioNet& net() { return net_; }

 private:
  mock::GuestMemory memory_;
  mock::MockDevice device_;
  mock::MockPlatform platform_;
  mock::MockBufferPool pool_;
  PciTransports transports_;
  ProbeResult probe_{};
  VirtioNet net_;
};

// The device: modern PCI, QEMU's offer over a vnet-header tap (offloads,
// CTRL_GUEST_OFFLOADS), frames spread over buffers with MRG_RXBUF.
mock::DeviceConfig offload_device(
    mock::DeviceConfig::RxCsumMode mode = mock::DeviceConfig::RxCsumMode::kNone) {
  mock::DeviceConfig c;
  c.transport = mock::TransportKind::kModern;
  c.offer_offloads = true;
  c.rx_mergeable = true;
  c.rx_csum_mode = mode;
  c.tx_capture_limit = 4096;
  return c;
}

// Every offload option on, receive chains, the control queue, indirect.
NetOptions all_on() {
  NetOptions o;
  o.accept_tx_csum = true;
  o.accept_tso = true;
  o.accept_rx_csum = true;
  o.accept_rx_gso = true;
  o.rx_chains = true;
  o.accept_ctrl_vq = true;
  o.accept_indirect_desc = true;
  return o;
}

constexpr uint64_t kTxOffloadBits = feature_mask(F::kNetCsum) | feature_mask(F::kNetHostTso4) |
                                    feature_mask(F::kNetHostTso6) | feature_mask(F::kNetHostEcn) |
                                    feature_mask(F::kNetHostUso);
constexpr uint64_t kGuestGsoBits = feature_mask(F::kNetGuestTso4) | feature_mask(F::kNetGuestTso6) |
                                   feature_mask(F::kNetGuestEcn) | feature_mask(F::kNetGuestUso4) |
                                   feature_mask(F::kNetGuestUso6);
constexpr uint64_t kRxOffloadBits = feature_mask(F::kNetGuestCsum) | kGuestGsoBits;
constexpr uint64_t kAllOffloadBits =
    kTxOffloadBits | kRxOffloadBits | feature_mask(F::kNetCtrlGuestOffloads);

// Buffer sizes: ordinary (2 KiB) and big enough for a 64 KiB frame.
constexpr uint32_t kSmallBuffer = 2048;
constexpr uint32_t kBigBuffer = 66 * 1024;

// A received frame: its bytes (the chain's buffers in order), each
// buffer's length, and what the driver reported.
struct RxFrame {
  std::vector<uint8_t> bytes;
  std::vector<uint32_t> lens;
  PacketOffload off;
};

std::vector<RxFrame> receive(World& w, uint16_t max = 64) {
  std::vector<PacketBuffer*> bufs(max);
  const uint16_t n = w.net().rx_burst(bufs.data(), max);
  std::vector<RxFrame> out;
  for (uint16_t i = 0; i < n; ++i) {
    RxFrame f;
    f.off = bufs[i]->offload;
    for (PacketBuffer* b = bufs[i]; b != nullptr;) {
      f.bytes.insert(f.bytes.end(), b->data(), b->data() + b->len);
      f.lens.push_back(b->len);
      PacketBuffer* next = b->next;
      b->next = nullptr;
      w.pool().free(b);
      b = next;
    }
    out.push_back(std::move(f));
  }
  return out;
}

// The counters that say what became of a frame: drops, deliveries, offload
// outcomes. (Kicks, interrupts and refills move with every burst.)
std::map<std::string, uint64_t> outcomes(const NetCounters& c) {
  std::map<std::string, uint64_t> m;
  c.for_each([&](const char* name, uint64_t v) {
    const std::string s(name);
    if (s.rfind("rx_drop", 0) == 0 || s.rfind("tx_drop", 0) == 0 || s == "rx_packets" ||
        s == "tx_packets" || s == "rx_chain_packets" || s == "rx_gso_packets" ||
        s == "rx_csum_partial" || s == "rx_csum_verified" || s == "tx_csum_offloaded" ||
        s == "tx_gso_packets" || s == "tx_bad_used_len" || s == "rx_drop_len_over")
      m[s] = v;
  });
  return m;
}

// The outcome counters that changed from before to now, with their deltas.
std::map<std::string, uint64_t> changed(const std::map<std::string, uint64_t>& before,
                                        const NetCounters& now) {
  std::map<std::string, uint64_t> d;
  for (const auto& [k, v] : outcomes(now))
    if (v != before.at(k)) d[k] = v - before.at(k);
  return d;
}

std::string describe(const std::map<std::string, uint64_t>& d) {
  std::string s;
  for (const auto& [k, v] : d) s += k + "+" + std::to_string(v) + " ";
  return s.empty() ? "(nothing)" : s;
}

// ---- frames -----------------------------------------------------------------

FrameSpec spec_of(bool ipv6, bool udp, size_t payload, uint8_t seed = 0) {
  FrameSpec s;
  s.ipv6 = ipv6;
  s.udp = udp;
  s.payload = payload;
  s.payload_seed = seed;
  return s;
}

// The payload that makes a frame of s exactly total bytes.
size_t payload_for(bool ipv6, bool udp, size_t total) {
  return total - ft::headers_of(spec_of(ipv6, udp, 0));
}

// The largest gso_size that keeps a segment within the 1500-byte MTU.
uint16_t max_mss(const FrameSpec& s) {
  return uint16_t(1514 - ft::headers_of(s));
}

// A frame with no IP in it (ethertype 0x88B5), to the device's MAC.
std::vector<uint8_t> plain_frame(size_t size, uint8_t seed = 0) {
  std::vector<uint8_t> f = ft::make_frame(spec_of(false, false, size - 54, seed));
  f[12] = 0x88;
  f[13] = 0xB5;
  return f;
}

// The frame with the pseudo-header sum in its L4 checksum field (what a
// caller hands over for checksum offload, and what NEEDS_CSUM delivers).
std::vector<uint8_t> partial_of(const FrameSpec& s) {
  std::vector<uint8_t> f = ft::make_frame(s);
  ft::to_partial(f, s);
  return f;
}

PacketOffload csum_request(const FrameSpec& s) {
  PacketOffload o;
  o.csum = CsumState::kPartial;
  o.csum_start = uint16_t(ft::l4_of(s));
  o.csum_offset = ft::csum_offset_of(s);
  return o;
}

PacketOffload gso_request(const FrameSpec& s, uint16_t mss) {
  PacketOffload o = csum_request(s);
  o.gso = s.udp ? GsoKind::kUdp : (s.ipv6 ? GsoKind::kTcp6 : GsoKind::kTcp4);
  o.gso_size = mss;
  return o;
}

// Checks that the wire segments are what segmenting `whole` (of layout s)
// into mss-byte payloads must give: every size within the MTU, every
// checksum and length right, TCP sequence numbers advancing, PSH/FIN only
// on the last, and the payloads in order adding up to the original.
void expect_segmented(const std::vector<std::vector<uint8_t>>& segs,
                      const std::vector<uint8_t>& whole, const FrameSpec& s, uint16_t mss) {
  const size_t hdrs = ft::headers_of(s), l4 = ft::l4_of(s);
  const size_t payload = whole.size() - hdrs;
  ASSERT_EQ(segs.size(), (payload + mss - 1) / mss);
  std::vector<uint8_t> joined;
  for (size_t i = 0; i < segs.size(); ++i) {
    SCOPED_TRACE("segment " + std::to_string(i));
    const std::vector<uint8_t>& g = segs[i];
    const size_t want_payload = i + 1 < segs.size() ? mss : payload - mss * (segs.size() - 1);
    ASSERT_EQ(g.size(), hdrs + want_payload);
    EXPECT_LE(g.size(), 1514u);
    // Ethernet header unchanged.
    EXPECT_TRUE(std::equal(g.begin(), g.begin() + 14, whole.begin()));
    if (s.ipv6) {
      EXPECT_EQ(ft::rd16(&g[18]), g.size() - 54);
    } else {
      EXPECT_EQ(ft::rd16(&g[16]), g.size() - 14);
      EXPECT_TRUE(ft::verify_ipv4_header(g));
    }
    if (s.udp) {
      EXPECT_EQ(ft::rd16(&g[l4 + 4]), g.size() - l4);
    } else {
      EXPECT_EQ(ft::rd32(&g[l4 + 4]), ft::rd32(&whole[l4 + 4]) + uint32_t(mss * i));
      EXPECT_EQ(ft::rd32(&g[l4 + 8]), ft::rd32(&whole[l4 + 8]));  // ack
      const uint8_t flags = g[l4 + 13];
      const bool last = i + 1 == segs.size();
      EXPECT_EQ(flags & 0x09, last ? (whole[l4 + 13] & 0x09) : 0) << "PSH/FIN only on the last";
      EXPECT_EQ(flags & 0x10, whole[l4 + 13] & 0x10);
    }
    EXPECT_TRUE(ft::verify_l4(g, s)) << "L4 checksum";
    joined.insert(joined.end(), g.begin() + hdrs, g.end());
  }
  EXPECT_TRUE(std::equal(joined.begin(), joined.end(), whole.begin() + hdrs) &&
              joined.size() == payload)
      << "payloads do not add up to the original";
}

// ---- 1. negotiation -----------------------------------------------------------

std::string feature_names(uint64_t f) {
  std::string s;
  for (const auto& e : spec::kFeatureTable)
    if (spec::has_feature(f, e.bit)) s += std::string(e.name) + " ";
  return s;
}

// The offload bits negotiated, by name (for messages).
std::string offloads_negotiated(World& w) {
  return feature_names(w.net().negotiated_features() & kAllOffloadBits);
}

TEST(OffloadNegotiation, EverythingWithTheOptionsOnAndTheDeviceOffering) {
  World w(offload_device(), kSmallBuffer, 1024);
  ASSERT_EQ(w.attach(all_on()), AttachError::kOk);
  const uint64_t want = kAllOffloadBits;
  ASSERT_EQ(w.device().config().features & want, want) << "the mock offers them all";
  EXPECT_EQ(w.net().negotiated_features() & want, want) << offloads_negotiated(w);
  EXPECT_TRUE(spec::has_feature(w.net().negotiated_features(), F::kNetMrgRxbuf));
  // Every receive offload enabled, on both sides.
  EXPECT_EQ(w.net().guest_offloads(), kRxOffloadBits);
  EXPECT_EQ(w.device().guest_offloads(), kRxOffloadBits);
  EXPECT_TRUE(w.device().conformance().empty()) << testing::violations(w.device());
}

TEST(OffloadNegotiation, NothingWithTheOptionsOff) {
  World w(offload_device(), kSmallBuffer, 1024);
  NetOptions o;
  o.accept_ctrl_vq = true;  // the control queue alone does not bring CTRL_GUEST_OFFLOADS
  o.rx_chains = true;
  ASSERT_EQ(w.attach(o), AttachError::kOk);
  EXPECT_EQ(w.net().negotiated_features() & kAllOffloadBits, 0u) << offloads_negotiated(w);
  EXPECT_TRUE(spec::has_feature(w.net().negotiated_features(), F::kNetCtrlVq));
  EXPECT_EQ(w.net().guest_offloads(), 0u);
  EXPECT_EQ(w.device().guest_offloads(), 0u);
  // And with each option alone, only its own bits.
  struct One {
    const char* name;
    void (*set)(NetOptions&);
    uint64_t bits;
  };
  const One ones[] = {
      {"accept_tx_csum", [](NetOptions& x) { x.accept_tx_csum = true; }, feature_mask(F::kNetCsum)},
      {"accept_rx_csum", [](NetOptions& x) { x.accept_rx_csum = true; },
       feature_mask(F::kNetGuestCsum) | feature_mask(F::kNetCtrlGuestOffloads)},
      {"accept_tso without accept_tx_csum", [](NetOptions& x) { x.accept_tso = true; }, 0},
      {"accept_rx_gso without accept_rx_csum", [](NetOptions& x) { x.accept_rx_gso = true; }, 0},
  };
  for (const One& one : ones) {
    World v(offload_device(), kSmallBuffer, 1024);
    NetOptions p = o;
    one.set(p);
    ASSERT_EQ(v.attach(p), AttachError::kOk) << one.name;
    EXPECT_EQ(v.net().negotiated_features() & kAllOffloadBits, one.bits)
        << one.name << ": " << offloads_negotiated(v);
  }
}

TEST(OffloadNegotiation, GuestTsoNotWithoutGuestCsumOffered) {
  mock::DeviceConfig c = offload_device();
  c.offer_offloads = false;
  c.features |= (mock::offload::kOffloadOffer & ~feature_mask(F::kNetGuestCsum)) |
                feature_mask(F::kNetCtrlGuestOffloads);
  World w(c, kSmallBuffer, 1024);
  ASSERT_EQ(w.attach(all_on()), AttachError::kOk);
  const uint64_t neg = w.net().negotiated_features();
  EXPECT_EQ(neg & kRxOffloadBits, 0u) << offloads_negotiated(w);
  EXPECT_FALSE(spec::has_feature(neg, F::kNetCtrlGuestOffloads)) << "nothing to switch";
  EXPECT_EQ(neg & kTxOffloadBits, kTxOffloadBits) << offloads_negotiated(w);
  // The transmit side likewise: HOST_* without CSUM offered -> none of them.
  mock::DeviceConfig d = offload_device();
  d.offer_offloads = false;
  d.features |= mock::offload::kOffloadOffer & ~feature_mask(F::kNetCsum);
  World v(d, kSmallBuffer, 1024);
  ASSERT_EQ(v.attach(all_on()), AttachError::kOk);
  EXPECT_EQ(v.net().negotiated_features() & kTxOffloadBits, 0u) << offloads_negotiated(v);
  EXPECT_EQ(v.net().negotiated_features() & kRxOffloadBits, kRxOffloadBits)
      << offloads_negotiated(v);
  EXPECT_TRUE(w.device().conformance().empty()) << testing::violations(w.device());
  EXPECT_TRUE(v.device().conformance().empty()) << testing::violations(v.device());
}

TEST(OffloadNegotiation, GuestTsoNeedsRoomForA64KFrame) {
  // No receive chains and 1514-byte buffers: a coalesced frame has nowhere
  // to go, so no GUEST_TSO/USO/ECN (GUEST_CSUM still).
  {
    World w(offload_device(), kSmallBuffer, 1024);
    NetOptions o = all_on();
    o.rx_chains = false;
    ASSERT_EQ(w.attach(o), AttachError::kOk);
    EXPECT_EQ(w.net().negotiated_features() & kRxOffloadBits, feature_mask(F::kNetGuestCsum))
        << offloads_negotiated(w);
  }
  // Receive chains but no MRG_RXBUF offered: the same.
  {
    mock::DeviceConfig c = offload_device();
    c.features &= ~feature_mask(F::kNetMrgRxbuf);
    World w(c, kSmallBuffer, 1024);
    ASSERT_EQ(w.attach(all_on()), AttachError::kOk);
    EXPECT_EQ(w.net().negotiated_features() & kRxOffloadBits, feature_mask(F::kNetGuestCsum))
        << offloads_negotiated(w);
  }
  // Big buffers (max_frame = kMaxGsoFrame), no receive chains: yes.
  {
    World w(offload_device(), kBigBuffer, 96);
    NetOptions o = all_on();
    o.rx_chains = false;
    o.max_frame = kMaxGsoFrame;
    o.rx_ring_cap = 64;
    ASSERT_EQ(w.attach(o), AttachError::kOk);
    EXPECT_EQ(w.net().negotiated_features() & kRxOffloadBits, kRxOffloadBits)
        << offloads_negotiated(w);
  }
  // max_frame one below: no.
  {
    World w(offload_device(), kBigBuffer, 96);
    NetOptions o = all_on();
    o.rx_chains = false;
    o.max_frame = kMaxGsoFrame - 1;
    o.rx_ring_cap = 64;
    ASSERT_EQ(w.attach(o), AttachError::kOk);
    EXPECT_EQ(w.net().negotiated_features() & kGuestGsoBits, 0u) << offloads_negotiated(w);
  }
}

// ---- 2. transmit ------------------------------------------------------------

class OffloadTx : public ::testing::Test {
 protected:
  void SetUp() override { make(all_on()); }
  void make(const NetOptions& o) {
    w.reset();
    w = std::make_unique<World>(offload_device(), kBigBuffer, 160);
    NetOptions p = o;
    p.rx_ring_cap = 64;
    ASSERT_EQ(w->attach(p), AttachError::kOk);
  }
  // One single-buffer frame with an offload request; true when taken.
  bool send(const std::vector<uint8_t>& f, const PacketOffload& req) {
    PacketBuffer* b = w->pool().alloc_tx(f);
    EXPECT_NE(b, nullptr);
    if (b == nullptr) return false;
    b->offload = req;
    PacketBuffer* const frames[1] = {b};
    const bool taken = w->net().tx_burst(frames, 1) == 1;
    if (!taken) w->pool().free(b);
    w->device().process_tx();
    w->net().tx_reclaim();
    return taken;
  }
  // The same frame as a fragment chain: the first fragment first_len bytes
  // (the headers and some payload), the rest chunk bytes each.
  bool send_chain(const std::vector<uint8_t>& f, const PacketOffload& req, size_t first_len,
                  size_t chunk) {
    PacketBuffer* head = nullptr;
    PacketBuffer* tail = nullptr;
    for (size_t at = 0; at < f.size();) {
      const size_t n = std::min(f.size() - at, at == 0 ? first_len : chunk);
      PacketBuffer* b = w->pool().alloc_tx(std::span<const uint8_t>(f.data() + at, n));
      EXPECT_NE(b, nullptr);
      if (b == nullptr) return false;
      (head == nullptr ? head : tail->next) = b;
      tail = b;
      at += n;
    }
    head->offload = req;
    PacketBuffer* const frames[1] = {head};
    const bool taken = w->net().tx_burst(frames, 1) == 1;
    w->device().process_tx();
    w->net().tx_reclaim();
    return taken;
  }
  const std::vector<std::vector<uint8_t>>& wire() { return w->device().captured_tx(); }
  const NetCounters& counters() { return w->net().counters(); }
  void expect_clean() {
    EXPECT_TRUE(w->device().conformance().empty()) << testing::violations(w->device());
    EXPECT_EQ(w->device().counters().tx_offload_bad, 0u);
    EXPECT_EQ(w->device().counters().tx_chains_bad, 0u);
    EXPECT_EQ(w->net().state(), NetState::kRunning);
    // Every tx buffer back in the pool (only the posted rx buffers lent).
    EXPECT_EQ(w->pool().outstanding(), w->net().rx_queue().in_flight());
  }

  std::unique_ptr<World> w;
};

struct L4Case {
  bool ipv6;
  bool udp;
  const char* name;
};
const L4Case kL4Cases[] = {
    {false, false, "Tcp4"}, {true, false, "Tcp6"}, {false, true, "Udp4"}, {true, true, "Udp6"}};

class OffloadTxL4 : public OffloadTx, public ::testing::WithParamInterface<L4Case> {
 protected:
  FrameSpec spec(size_t total) const {
    return spec_of(GetParam().ipv6, GetParam().udp,
                   payload_for(GetParam().ipv6, GetParam().udp, total), 0x31);
  }
};

TEST_P(OffloadTxL4, ChecksumCompletedByTheDevice) {
  const size_t hdrs = ft::headers_of(spec_of(GetParam().ipv6, GetParam().udp, 0));
  // One payload byte (an odd length: the padded last word), two, and more.
  for (size_t total : {hdrs + 1, hdrs + 2, size_t{777}, size_t{1514}}) {
    SCOPED_TRACE(total);
    w->device().clear_captured_tx();
    const FrameSpec s = spec(total);
    const std::vector<uint8_t> good = ft::make_frame(s);
    std::vector<uint8_t> f = partial_of(s);
    ASSERT_NE(f, good) << "the frame handed over is not already checksummed";
    ASSERT_TRUE(send(f, csum_request(s)));
    ASSERT_EQ(wire().size(), 1u);
    EXPECT_TRUE(ft::verify_l4(wire()[0], s));
    EXPECT_EQ(wire()[0], good);
  }
  EXPECT_EQ(counters().tx_csum_offloaded, 4u);
  EXPECT_EQ(counters().tx_packets, 4u);
  EXPECT_EQ(w->device().counters().tx_csum_completed, 4u);
  expect_clean();
}

TEST_P(OffloadTxL4, A64KFrameInOneBufferIsSegmented) {
  const FrameSpec s = spec(65536);
  const std::vector<uint8_t> f = partial_of(s);
  ASSERT_EQ(f.size(), 65536u);
  const uint16_t mss = max_mss(s);
  ASSERT_TRUE(send(f, gso_request(s, mss)));
  expect_segmented(wire(), ft::make_frame(s), s, mss);
  EXPECT_EQ(counters().tx_gso_packets, 1u);
  EXPECT_EQ(counters().tx_csum_offloaded, 1u);
  EXPECT_EQ(counters().tx_bytes, 65536u);
  EXPECT_EQ(w->device().counters().tx_gso_frames, 1u);
  expect_clean();
}

TEST_P(OffloadTxL4, A64KFrameAsAFragmentChainIsSegmented) {
  ASSERT_TRUE(w->net().indirect_tx());
  const FrameSpec s = spec(64000);
  const std::vector<uint8_t> f = partial_of(s);
  const uint16_t mss = max_mss(s);
  // 16 fragments: the headers and 1000 bytes, then 4200 each.
  ASSERT_TRUE(send_chain(f, gso_request(s, mss), ft::headers_of(s) + 1000, 4200));
  EXPECT_EQ(counters().tx_sg_packets, 1u);
  EXPECT_EQ(counters().tx_indirect_chains, 1u);
  EXPECT_EQ(counters().tx_gso_packets, 1u);
  expect_segmented(wire(), ft::make_frame(s), s, mss);
  expect_clean();
}

TEST_P(OffloadTxL4, ChecksumOnAFragmentChain) {
  const FrameSpec s = spec(1514);
  ASSERT_TRUE(send_chain(partial_of(s), csum_request(s), ft::headers_of(s), 300));
  ASSERT_EQ(wire().size(), 1u);
  EXPECT_EQ(wire()[0], ft::make_frame(s));
  EXPECT_EQ(counters().tx_csum_offloaded, 1u);
  expect_clean();
}

TEST_P(OffloadTxL4, SmallMssAndAFrameOfOneSegment) {
  const FrameSpec s = spec(9000);
  ASSERT_TRUE(send(partial_of(s), gso_request(s, 536)));
  expect_segmented(wire(), ft::make_frame(s), s, 536);
  w->device().clear_captured_tx();
  // A GSO frame whose payload fits one segment: one wire frame.
  const FrameSpec t = spec(1000);
  ASSERT_TRUE(send(partial_of(t), gso_request(t, max_mss(t))));
  expect_segmented(wire(), ft::make_frame(t), t, max_mss(t));
  expect_clean();
}

INSTANTIATE_TEST_SUITE_P(L4, OffloadTxL4, ::testing::ValuesIn(kL4Cases),
                         [](const auto& i) { return std::string(i.param.name); });

TEST_F(OffloadTx, EcnFrameCwrOnlyOnTheFirstSegment) {
  FrameSpec s = spec_of(false, false, 10000);
  s.tcp_flags = 0x98;  // CWR | ACK | PSH
  PacketOffload req = gso_request(s, 1460);
  req.ecn = true;
  ASSERT_TRUE(send(partial_of(s), req));
  ASSERT_EQ(wire().size(), 7u);
  for (size_t i = 0; i < wire().size(); ++i)
    EXPECT_EQ(wire()[i][34 + 13] & 0x80, i == 0 ? 0x80 : 0) << i;
  expect_clean();
}

TEST_F(OffloadTx, TheLargestFrameAndOneByteMore) {
  // IPv6 (its payload length reaches 65496): exactly kMaxGsoFrame goes.
  const FrameSpec s = spec_of(true, false, payload_for(true, false, kMaxGsoFrame));
  ASSERT_TRUE(send(partial_of(s), gso_request(s, 1440)));
  expect_segmented(wire(), ft::make_frame(s), s, 1440);
  w->device().clear_captured_tx();
  const FrameSpec t = spec_of(true, false, payload_for(true, false, kMaxGsoFrame + 1));
  const auto before = outcomes(counters());
  EXPECT_TRUE(send(partial_of(t), gso_request(t, 1440)));  // taken, and dropped
  EXPECT_EQ(describe(changed(before, counters())), describe({{"tx_drop_len", 1}}));
  EXPECT_TRUE(wire().empty());
  expect_clean();
}

// ---- transmit refusals: one per cause, nothing reaches the device --------------

struct TxRefusal {
  const char* name;
  NetOptions (*options)();
  // Builds the frame and its request.
  void (*build)(std::vector<uint8_t>* frame, PacketOffload* req);
  const char* counter;
};

NetOptions no_tx_csum() {
  NetOptions o = all_on();
  o.accept_tx_csum = false;
  o.accept_tso = false;
  return o;
}
NetOptions no_tso() {
  NetOptions o = all_on();
  o.accept_tso = false;
  return o;
}

const FrameSpec kTcp4 = spec_of(false, false, 20000);
const FrameSpec kTcp6 = spec_of(true, false, 20000);
const FrameSpec kUdp4 = spec_of(false, true, 20000);

const TxRefusal kTxRefusals[] = {
    {"CsumNotNegotiated", no_tx_csum,
     [](std::vector<uint8_t>* f, PacketOffload* r) {
       const FrameSpec s = spec_of(false, false, 500);
       *f = partial_of(s), *r = csum_request(s);
     },
     "tx_drop_offload_feature"},
    {"Tso4NotNegotiated", no_tso,
     [](std::vector<uint8_t>* f, PacketOffload* r) {
       *f = partial_of(kTcp4), *r = gso_request(kTcp4, 1460);
     },
     "tx_drop_offload_feature"},
    {"UsoNotNegotiated", no_tso,
     [](std::vector<uint8_t>* f, PacketOffload* r) {
       *f = partial_of(kUdp4), *r = gso_request(kUdp4, 1472);
     },
     "tx_drop_offload_feature"},
    {"CsumVerifiedOnTransmit", all_on,
     [](std::vector<uint8_t>* f, PacketOffload* r) {
       const FrameSpec s = spec_of(false, false, 500);
       *f = partial_of(s), *r = csum_request(s), r->csum = CsumState::kVerified;
     },
     "tx_drop_offload_feature"},
    {"EcnWithoutGso", all_on,
     [](std::vector<uint8_t>* f, PacketOffload* r) {
       const FrameSpec s = spec_of(false, false, 500);
       *f = partial_of(s), *r = csum_request(s), r->ecn = true;
     },
     "tx_drop_offload_feature"},
    {"EcnOnUdp", all_on,
     [](std::vector<uint8_t>* f, PacketOffload* r) {
       *f = partial_of(kUdp4), *r = gso_request(kUdp4, 1472), r->ecn = true;
     },
     "tx_drop_offload_feature"},
    {"CsumStartBeyondTheFrame", all_on,
     [](std::vector<uint8_t>* f, PacketOffload* r) {
       const FrameSpec s = spec_of(false, false, 500);
       *f = partial_of(s), *r = csum_request(s), r->csum_start = uint16_t(f->size());
     },
     "tx_drop_offload_csum"},
    {"CsumFieldOneByteOut", all_on,
     [](std::vector<uint8_t>* f, PacketOffload* r) {
       const FrameSpec s = spec_of(false, false, 500);
       *f = partial_of(s), *r = csum_request(s);
       r->csum_offset = uint16_t(f->size() - r->csum_start - 1);  // start + offset + 2 = len + 1
     },
     "tx_drop_offload_csum"},
    {"GsoWithoutPartialChecksum", all_on,
     [](std::vector<uint8_t>* f, PacketOffload* r) {
       *f = ft::make_frame(kTcp4), *r = gso_request(kTcp4, 1460), r->csum = CsumState::kNone;
     },
     "tx_drop_offload_gso"},
    {"GsoSizeZero", all_on,
     [](std::vector<uint8_t>* f, PacketOffload* r) {
       *f = partial_of(kTcp4), *r = gso_request(kTcp4, 0);
     },
     "tx_drop_offload_gso"},
    {"SegmentAboveTheMtu", all_on,
     [](std::vector<uint8_t>* f, PacketOffload* r) {
       *f = partial_of(kTcp4), *r = gso_request(kTcp4, 1461);  // 54 + 1461 = 1515
     },
     "tx_drop_offload_gso"},
    {"Tso6SegmentAboveTheMtu", all_on,
     [](std::vector<uint8_t>* f, PacketOffload* r) {
       *f = partial_of(kTcp6), *r = gso_request(kTcp6, 1441);
     },
     "tx_drop_offload_gso"},
    {"Tso4OnAnIpv6Frame", all_on,
     [](std::vector<uint8_t>* f, PacketOffload* r) {
       *f = partial_of(kTcp6), *r = gso_request(kTcp6, 1400), r->gso = GsoKind::kTcp4;
     },
     "tx_drop_offload_gso"},
    {"Tso4OnAUdpFrame", all_on,
     [](std::vector<uint8_t>* f, PacketOffload* r) {
       *f = partial_of(kUdp4), *r = gso_request(kUdp4, 1400), r->gso = GsoKind::kTcp4;
     },
     "tx_drop_offload_gso"},
    {"UsoOnATcpFrame", all_on,
     [](std::vector<uint8_t>* f, PacketOffload* r) {
       *f = partial_of(kTcp4), *r = gso_request(kTcp4, 1400), r->gso = GsoKind::kUdp;
     },
     "tx_drop_offload_gso"},
    {"TsoOnANonIpFrame", all_on,
     [](std::vector<uint8_t>* f, PacketOffload* r) {
       *f = plain_frame(5000), *r = gso_request(kTcp4, 1400);
     },
     "tx_drop_offload_gso"},
    {"CsumStartNotAtTheTcpHeader", all_on,
     [](std::vector<uint8_t>* f, PacketOffload* r) {
       *f = partial_of(kTcp4), *r = gso_request(kTcp4, 1400), r->csum_start = 36;
     },
     "tx_drop_offload_gso"},
    {"CsumOffsetNotTheTcpChecksum", all_on,
     [](std::vector<uint8_t>* f, PacketOffload* r) {
       *f = partial_of(kTcp4), *r = gso_request(kTcp4, 1400), r->csum_offset = 6;
     },
     "tx_drop_offload_gso"},
    {"GsoWithNoPayload", all_on,
     [](std::vector<uint8_t>* f, PacketOffload* r) {
       const FrameSpec s = spec_of(false, false, 0);
       *f = partial_of(s), *r = gso_request(s, 1400);
     },
     "tx_drop_offload_gso"},
};

class OffloadTxRefusal : public OffloadTx, public ::testing::WithParamInterface<TxRefusal> {};

TEST_P(OffloadTxRefusal, DroppedCountedAndNeverSeenByTheDevice) {
  const TxRefusal& c = GetParam();
  make(c.options());
  std::vector<uint8_t> f;
  PacketOffload req;
  c.build(&f, &req);
  const auto before = outcomes(counters());
  const uint64_t notifies = w->device().counters().notifies;
  EXPECT_TRUE(send(f, req)) << "taken (and dropped)";
  EXPECT_EQ(describe(changed(before, counters())), describe({{c.counter, 1}}));
  EXPECT_TRUE(wire().empty());
  EXPECT_EQ(w->device().counters().tx_frames, 0u);
  EXPECT_EQ(w->device().counters().notifies, notifies) << "nothing published";
  EXPECT_EQ(w->net().tx_queue().in_flight(), 0);
  // The same as a fragment chain: dropped whole.
  if (f.size() > 200) {
    const auto mid = outcomes(counters());
    EXPECT_TRUE(send_chain(f, req, std::min<size_t>(f.size() - 1, 100), 3000));
    EXPECT_EQ(describe(changed(mid, counters())), describe({{c.counter, 1}}));
    EXPECT_TRUE(wire().empty());
  }
  // The next frame, plain, goes.
  const std::vector<uint8_t> next = plain_frame(300, 9);
  ASSERT_TRUE(send(next, PacketOffload{}));
  ASSERT_EQ(wire().size(), 1u);
  EXPECT_EQ(wire()[0], next);
  expect_clean();
}

INSTANTIATE_TEST_SUITE_P(Causes, OffloadTxRefusal, ::testing::ValuesIn(kTxRefusals),
                         [](const auto& i) { return std::string(i.param.name); });

// ---- 3. receive ---------------------------------------------------------------

class OffloadRx : public ::testing::Test {
 protected:
  using Mode = mock::DeviceConfig::RxCsumMode;
  void make(mock::DeviceConfig c, const NetOptions& o, uint32_t buffer = kSmallBuffer,
            size_t buffers = 1024) {
    w = std::make_unique<World>(c, buffer, buffers);
    ASSERT_EQ(w->attach(o), AttachError::kOk);
  }
  void make(Mode mode = Mode::kNone) { make(offload_device(mode), all_on()); }
  const NetCounters& counters() { return w->net().counters(); }
  void expect_clean() {
    EXPECT_TRUE(w->device().conformance().empty()) << testing::violations(w->device());
    EXPECT_EQ(w->net().state(), NetState::kRunning);
    EXPECT_EQ(w->pool().outstanding(), w->net().rx_queue().in_flight()) << "a buffer leaked";
  }
  std::unique_ptr<World> w;
};

class OffloadRxL4 : public OffloadRx, public ::testing::WithParamInterface<L4Case> {};

TEST_P(OffloadRxL4, A64KGsoFrameArrivesAsAChain) {
  make();
  const L4Case& c = GetParam();
  const FrameSpec s = spec_of(c.ipv6, c.udp, payload_for(c.ipv6, c.udp, 65536), 7);
  const uint16_t mss = max_mss(s);
  ASSERT_TRUE(w->device().inject_rx_gso(ft::make_frame(s), mss));
  const auto got = receive(*w);
  ASSERT_EQ(got.size(), 1u);
  const RxFrame& f = got[0];
  // 12-byte header + 65536 bytes over 2048-byte buffers, each full but the last.
  const size_t total = 12 + 65536, bufs = (total + kSmallBuffer - 1) / kSmallBuffer;
  ASSERT_EQ(f.lens.size(), bufs);
  EXPECT_EQ(f.lens[0], kSmallBuffer - 12);
  for (size_t i = 1; i + 1 < bufs; ++i) EXPECT_EQ(f.lens[i], kSmallBuffer) << i;
  EXPECT_EQ(f.lens.back(), total - kSmallBuffer * (bufs - 1));
  EXPECT_EQ(f.bytes.size(), 65536u);
  EXPECT_EQ(f.bytes, partial_of(s));
  EXPECT_EQ(f.off.gso, c.udp ? GsoKind::kUdp : (c.ipv6 ? GsoKind::kTcp6 : GsoKind::kTcp4));
  EXPECT_EQ(f.off.gso_size, mss);
  EXPECT_EQ(f.off.hdr_len, ft::headers_of(s));
  EXPECT_EQ(f.off.csum, CsumState::kPartial);
  EXPECT_EQ(f.off.csum_start, ft::l4_of(s));
  EXPECT_EQ(f.off.csum_offset, ft::csum_offset_of(s));
  EXPECT_FALSE(f.off.ecn);
  // The partial checksum completes to a right one.
  std::vector<uint8_t> done = f.bytes;
  const size_t l4 = ft::l4_of(s);
  ft::wr16(&done[l4 + ft::csum_offset_of(s)], 0);
  uint16_t sum =
      uint16_t(~ft::fold16(ft::pseudo(done, s.ipv6, s.udp ? 17 : 6, uint32_t(done.size() - l4)) +
                           ft::word_sum(&done[l4], done.size() - l4)));
  if (s.udp && sum == 0) sum = 0xFFFF;
  ft::wr16(&done[l4 + ft::csum_offset_of(s)], sum);
  EXPECT_TRUE(ft::verify_l4(done, s));
  EXPECT_EQ(counters().rx_chain_packets, 1u);
  EXPECT_EQ(counters().rx_gso_packets, 1u);
  EXPECT_EQ(counters().rx_csum_partial, 1u);
  EXPECT_EQ(counters().rx_packets, 1u);
  EXPECT_EQ(counters().rx_bytes, 65536u);
  expect_clean();
}

TEST_P(OffloadRxL4, ABigBufferTakesA64KFrameWithoutMrgRxbuf) {
  mock::DeviceConfig d = offload_device();
  d.features &= ~feature_mask(F::kNetMrgRxbuf);
  d.rx_mergeable = false;
  NetOptions o = all_on();
  o.rx_chains = false;
  o.max_frame = kMaxGsoFrame;
  o.rx_ring_cap = 64;
  make(d, o, kBigBuffer, 96);
  ASSERT_FALSE(spec::has_feature(w->net().negotiated_features(), F::kNetMrgRxbuf));
  const L4Case& c = GetParam();
  const FrameSpec s = spec_of(c.ipv6, c.udp, payload_for(c.ipv6, c.udp, 65536), 3);
  ASSERT_TRUE(w->device().inject_rx_gso(ft::make_frame(s), max_mss(s)));
  const auto got = receive(*w);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].lens.size(), 1u) << "one buffer";
  EXPECT_EQ(got[0].bytes, partial_of(s));
  EXPECT_EQ(got[0].off.gso_size, max_mss(s));
  EXPECT_EQ(got[0].off.hdr_len, ft::headers_of(s));
  EXPECT_EQ(counters().rx_chain_packets, 0u);
  EXPECT_EQ(counters().rx_gso_packets, 1u);
  // A frame that is not GSO still has to fit the MTU, big buffer or not.
  const auto before = outcomes(counters());
  ASSERT_TRUE(w->device().inject_rx(plain_frame(3000)));
  EXPECT_TRUE(receive(*w).empty());
  EXPECT_EQ(describe(changed(before, counters())), describe({{"rx_drop_len_mtu", 1}}));
  expect_clean();
}

INSTANTIATE_TEST_SUITE_P(L4, OffloadRxL4, ::testing::ValuesIn(kL4Cases),
                         [](const auto& i) { return std::string(i.param.name); });

TEST_F(OffloadRx, HdrLenIsTheParsedHeaderLengthNotTheDevicesHint) {
  make();
  const FrameSpec s = spec_of(false, false, 5000);
  ASSERT_TRUE(w->device().inject_rx_gso(ft::make_frame(s), 1448, 128));
  const auto got = receive(*w);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].off.hdr_len, 54);
  EXPECT_EQ(got[0].bytes, partial_of(s));
  expect_clean();
}

TEST_F(OffloadRx, EcnGsoFrameReportsEcn) {
  make();
  FrameSpec s = spec_of(false, false, 8000);
  s.tcp_flags = 0x98;  // CWR
  ASSERT_TRUE(w->device().inject_rx_gso(ft::make_frame(s), 1448));
  const auto got = receive(*w);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].off.ecn);
  EXPECT_EQ(got[0].off.gso, GsoKind::kTcp4);
  expect_clean();
}

TEST_F(OffloadRx, CoalescedSegmentsArriveAsOneGsoFrame) {
  make();
  std::vector<std::vector<uint8_t>> segs;
  for (uint32_t i = 0; i < 20; ++i) {
    FrameSpec s = spec_of(false, false, 1448, uint8_t(i * 1448));
    s.seq = 1000 + i * 1448;
    s.tcp_flags = i == 19 ? 0x18 : 0x10;
    segs.push_back(ft::make_frame(s));
  }
  ASSERT_TRUE(w->device().inject_rx_coalesced(segs));
  const auto got = receive(*w);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].bytes.size(), 54u + 20 * 1448);
  EXPECT_EQ(got[0].off.gso_size, 1448);
  // The payload is the segments' payloads in order.
  for (uint32_t i = 0; i < 20; ++i)
    EXPECT_TRUE(
        std::equal(segs[i].begin() + 54, segs[i].end(), got[0].bytes.begin() + 54 + i * 1448))
        << i;
  expect_clean();
}

TEST_F(OffloadRx, DataValidGivesVerifiedOnlyForGoodChecksums) {
  make(Mode::kDataValid);
  const FrameSpec s = spec_of(false, false, 300);
  const std::vector<uint8_t> good = ft::make_frame(s);
  ASSERT_TRUE(w->device().inject_rx(good));
  std::vector<uint8_t> bad = good;
  bad.back() ^= 0xFF;  // the TCP checksum no longer verifies
  ASSERT_TRUE(w->device().inject_rx(bad));
  ASSERT_TRUE(w->device().inject_rx(plain_frame(100)));
  const auto got = receive(*w);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].bytes, good);
  EXPECT_EQ(got[0].off.csum, CsumState::kVerified);
  EXPECT_EQ(got[1].bytes, bad);
  EXPECT_EQ(got[1].off.csum, CsumState::kNone);
  EXPECT_EQ(got[2].off.csum, CsumState::kNone);
  EXPECT_EQ(counters().rx_csum_verified, 1u);
  EXPECT_EQ(counters().rx_csum_partial, 0u);
  expect_clean();
}

TEST_F(OffloadRx, DataValidMeansNothingWithoutGuestCsum) {
  NetOptions o = all_on();
  o.accept_rx_csum = false;
  make(offload_device(Mode::kDataValid), o);
  ASSERT_TRUE(w->device().inject_rx(ft::make_frame(spec_of(false, false, 300))));
  const auto got = receive(*w);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].off.csum, CsumState::kNone);
  EXPECT_EQ(counters().rx_csum_verified, 0u);
  expect_clean();
}

TEST_F(OffloadRx, PartialChecksumOnAPlainFrame) {
  make(Mode::kPartial);
  const FrameSpec s = spec_of(true, true, 300);
  ASSERT_TRUE(w->device().inject_rx(ft::make_frame(s)));
  const auto got = receive(*w);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].bytes, partial_of(s));
  EXPECT_EQ(got[0].off.csum, CsumState::kPartial);
  EXPECT_EQ(got[0].off.csum_start, 54);
  EXPECT_EQ(got[0].off.csum_offset, 6);
  EXPECT_EQ(got[0].off.gso, GsoKind::kNone);
  EXPECT_EQ(counters().rx_csum_partial, 1u);
  expect_clean();
}

TEST_F(OffloadRx, JumboMtuFramesArriveAsChainsAndLeaveAsFragmentChains) {
  mock::DeviceConfig d = offload_device();
  d.mtu = 9000;
  make(d, all_on());
  ASSERT_EQ(w->net().mtu(), 9000);
  const FrameSpec s = spec_of(false, false, payload_for(false, false, 9014), 5);
  const std::vector<uint8_t> f = ft::make_frame(s);
  ASSERT_TRUE(w->device().inject_rx(f));
  auto got = receive(*w);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].lens.size(), (12u + 9014 + kSmallBuffer - 1) / kSmallBuffer);
  EXPECT_EQ(got[0].bytes, f);
  EXPECT_EQ(got[0].off.gso, GsoKind::kNone);
  EXPECT_EQ(counters().rx_chain_packets, 1u);
  // One byte above mtu + 14 + a VLAN tag: dropped.
  const auto before = outcomes(counters());
  ASSERT_TRUE(w->device().inject_rx(plain_frame(9019)));
  EXPECT_TRUE(receive(*w).empty());
  EXPECT_EQ(describe(changed(before, counters())), describe({{"rx_drop_len_mtu", 1}}));
  // Transmit: the same frame in 2 KiB fragments, its checksum offloaded.
  PacketBuffer* head = nullptr;
  PacketBuffer* tail = nullptr;
  const std::vector<uint8_t> p = partial_of(s);
  for (size_t at = 0; at < p.size(); at += 2000) {
    const size_t n = std::min<size_t>(2000, p.size() - at);
    PacketBuffer* b = w->pool().alloc_tx(std::span<const uint8_t>(p.data() + at, n));
    ASSERT_NE(b, nullptr);
    (head == nullptr ? head : tail->next) = b;
    tail = b;
  }
  head->offload = csum_request(s);
  PacketBuffer* const frames[1] = {head};
  ASSERT_EQ(w->net().tx_burst(frames, 1), 1);
  w->device().process_tx();
  w->net().tx_reclaim();
  ASSERT_EQ(w->device().captured_tx().size(), 1u);
  EXPECT_EQ(w->device().captured_tx()[0], f);
  expect_clean();
}

TEST_F(OffloadRx, WithoutReceiveChainsAMultiBufferFrameIsDropped) {
  mock::DeviceConfig d = offload_device();
  d.mtu = 9000;
  NetOptions o = all_on();
  o.rx_chains = false;
  make(d, o);
  EXPECT_EQ(w->net().mtu(), 1500) << "a 9000 MTU does not fit 1514-byte frames";
  const auto before = outcomes(counters());
  ASSERT_TRUE(w->device().inject_rx(plain_frame(9014)));
  EXPECT_TRUE(receive(*w).empty());
  EXPECT_EQ(describe(changed(before, counters())), describe({{"rx_drop_num_buffers", 1}}));
  // Its other buffers were skipped, not taken for frames; the next one comes.
  const std::vector<uint8_t> next = plain_frame(500, 4);
  ASSERT_TRUE(w->device().inject_rx(next));
  const auto got = receive(*w);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].bytes, next);
  EXPECT_EQ(got[0].lens.size(), 1u);
  expect_clean();
}

// ---- 4. every rx header field malformed ---------------------------------------

// What carries the fault: the frame injected (the device's own header for
// it, then the fault rewrites a field).
enum class Carrier : uint8_t {
  kPlain,       // a 200-byte non-IP frame: flags 0, gso NONE
  kPartialTcp,  // a 254-byte TCP/IPv4 frame with NEEDS_CSUM (csum_start 34)
  kPartialUdp,  // a 242-byte UDP/IPv4 frame with NEEDS_CSUM
  kGsoOne,      // a 1054-byte TCPv4 GSO frame (gso_size 500) in one buffer
  kGsoOne6,     // a 1074-byte TCPv6 GSO frame in one buffer
  kGsoMulti,    // a 6054-byte TCPv4 GSO frame over three buffers
};

bool inject(mock::MockDevice& d, Carrier c) {
  switch (c) {
    case Carrier::kPlain:
      return d.inject_rx(plain_frame(200));
    case Carrier::kPartialTcp:
      return d.inject_rx(ft::make_frame(spec_of(false, false, 200)));
    case Carrier::kPartialUdp:
      return d.inject_rx(ft::make_frame(spec_of(false, true, 200)));
    case Carrier::kGsoOne:
      return d.inject_rx_gso(ft::make_frame(spec_of(false, false, 1000)), 500);
    case Carrier::kGsoOne6:
      return d.inject_rx_gso(ft::make_frame(spec_of(true, false, 1000)), 500);
    case Carrier::kGsoMulti:
      return d.inject_rx_gso(ft::make_frame(spec_of(false, false, 6000)), 1448);
  }
  return false;
}

// The driver's side of the case.
enum class Setup : uint8_t {
  kAll,        // every offload on
  kNoRxCsum,   // neither GUEST_CSUM nor GUEST_TSO* negotiated
  kNoRxGso,    // GUEST_CSUM only
  kNoEcn,      // GUEST_ECN switched off by CTRL_GUEST_OFFLOADS
  kSmallRing,  // 16 rx buffers posted
};

struct RxFault {
  const char* name;
  Setup setup;
  Carrier carrier;
  FaultKind kind;
  uint64_t value;
  const char* counter;
  // How often the counter moves: once, but see NumBuffersAboveThePostedOfAChain.
  uint64_t times = 1;
};

const RxFault kRxFaults[] = {
    // flags
    {"FlagsRscInfo", Setup::kAll, Carrier::kPlain, FaultKind::kRxFlags, 4, "rx_drop_hdr_flags"},
    {"FlagsUndefinedBit", Setup::kAll, Carrier::kPlain, FaultKind::kRxFlags, 0x10,
     "rx_drop_hdr_flags"},
    {"FlagsNeedsCsumWithoutGuestCsum", Setup::kNoRxCsum, Carrier::kPlain, FaultKind::kRxFlags, 1,
     "rx_drop_hdr_flags"},
    // gso_type
    {"GsoTypeUndefined", Setup::kAll, Carrier::kPlain, FaultKind::kRxGsoType, 2, "rx_drop_hdr_gso"},
    {"GsoTypeUndefinedHigh", Setup::kAll, Carrier::kGsoOne, FaultKind::kRxGsoType, 0x7F,
     "rx_drop_hdr_gso"},
    {"GsoTypeUfo", Setup::kAll, Carrier::kGsoOne, FaultKind::kRxGsoType, 3, "rx_drop_hdr_gso"},
    {"GsoTypeNotNegotiated", Setup::kNoRxGso, Carrier::kPartialTcp, FaultKind::kRxGsoType, 1,
     "rx_drop_hdr_gso"},
    {"GsoEcnOnNone", Setup::kAll, Carrier::kPlain, FaultKind::kRxGsoEcn, 0, "rx_drop_hdr_gso"},
    {"GsoEcnOnUdp", Setup::kAll, Carrier::kPartialUdp, FaultKind::kRxGsoWrongProtocol, 0x85,
     "rx_drop_hdr_gso"},
    {"GsoEcnWithoutGuestEcn", Setup::kNoEcn, Carrier::kGsoOne, FaultKind::kRxGsoEcn, 0,
     "rx_drop_hdr_gso"},
    // csum_start / csum_offset
    {"CsumStartBeyondTheFrame", Setup::kAll, Carrier::kPartialTcp, FaultKind::kRxCsumStart, 0xFFF0,
     "rx_drop_csum_bounds"},
    {"CsumOffsetOneByteBeyond", Setup::kAll, Carrier::kPartialTcp, FaultKind::kRxCsumOffset,
     254 - 34 - 1, "rx_drop_csum_bounds"},
    {"CsumOffsetBeyondAGsoFrame", Setup::kAll, Carrier::kGsoMulti, FaultKind::kRxCsumOffset, 6100,
     "rx_drop_csum_bounds"},
    // hdr_len
    {"HdrLenOneBeyondTheFrame", Setup::kAll, Carrier::kGsoOne, FaultKind::kRxHdrLen, 1055,
     "rx_drop_hdr_len"},
    {"HdrLenBeyondAChain", Setup::kAll, Carrier::kGsoMulti, FaultKind::kRxHdrLen, 0xFFFF,
     "rx_drop_hdr_len"},
    // gso_size
    {"GsoSizeZero", Setup::kAll, Carrier::kGsoOne, FaultKind::kRxGsoSize, 0, "rx_drop_gso_size"},
    {"GsoSizeAboveTheMtu", Setup::kAll, Carrier::kGsoOne, FaultKind::kRxGsoSize, 1461,
     "rx_drop_gso_size"},
    {"GsoSizeHuge", Setup::kAll, Carrier::kGsoMulti, FaultKind::kRxGsoSize, 0xFFFF,
     "rx_drop_gso_size"},
    // GSO without NEEDS_CSUM
    {"GsoWithoutFlags", Setup::kAll, Carrier::kGsoOne, FaultKind::kRxFlags, 0,
     "rx_drop_gso_no_csum"},
    {"GsoWithDataValidOnly", Setup::kAll, Carrier::kGsoOne, FaultKind::kRxFlags, 2,
     "rx_drop_gso_no_csum"},
    // not the protocol claimed
    {"GsoTcp4ClaimOnANonIpFrame", Setup::kAll, Carrier::kPlain, FaultKind::kRxGsoWrongProtocol, 1,
     "rx_drop_gso_proto"},
    {"GsoTcp4ClaimOnUdp", Setup::kAll, Carrier::kPartialUdp, FaultKind::kRxGsoWrongProtocol, 1,
     "rx_drop_gso_proto"},
    {"GsoTcp4ClaimOnIpv6", Setup::kAll, Carrier::kGsoOne6, FaultKind::kRxGsoType, 1,
     "rx_drop_gso_proto"},
    {"GsoTcp6ClaimOnIpv4", Setup::kAll, Carrier::kGsoOne, FaultKind::kRxGsoType, 4,
     "rx_drop_gso_proto"},
    {"GsoUsoClaimOnTcp", Setup::kAll, Carrier::kPartialTcp, FaultKind::kRxGsoWrongProtocol, 5,
     "rx_drop_gso_proto"},
    {"CsumStartNotAtTheL4Header", Setup::kAll, Carrier::kGsoOne, FaultKind::kRxCsumStart, 36,
     "rx_drop_gso_proto"},
    {"CsumOffsetNotTheTcpChecksum", Setup::kAll, Carrier::kGsoOne, FaultKind::kRxCsumOffset, 6,
     "rx_drop_gso_proto"},
    // num_buffers
    {"NumBuffersZero", Setup::kAll, Carrier::kPlain, FaultKind::kRxNumBuffers, 0,
     "rx_drop_num_buffers"},
    {"NumBuffersAboveAnyFrame", Setup::kAll, Carrier::kPlain, FaultKind::kRxNumBuffers, 300,
     "rx_drop_num_buffers"},
    {"NumBuffersOneAboveThePosted", Setup::kSmallRing, Carrier::kPlain, FaultKind::kRxNumBuffers,
     17, "rx_drop_num_buffers"},
    // A count above the posted buffers is a lie that says nothing of how
    // many buffers the frame took: the driver skips none (virtio_net.cc,
    // by design), so the frame's two continuation buffers are read as
    // frames of their own -- their payload's "num_buffers" (the counting
    // pattern: never 1) drops each of them too.
    {"NumBuffersAboveThePostedOfAChain", Setup::kAll, Carrier::kGsoMulti, FaultKind::kRxNumBuffers,
     0x8000, "rx_drop_num_buffers", 3},
    // a continuation buffer's used length
    {"ContinuationLenZero", Setup::kAll, Carrier::kGsoMulti, FaultKind::kRxMergedLen, 0,
     "rx_drop_chain_len"},
    {"ContinuationLenAboveItsBuffer", Setup::kAll, Carrier::kGsoMulti, FaultKind::kRxMergedLen,
     kSmallBuffer + 1, "rx_drop_chain_len"},
};

class OffloadRxFault : public OffloadRx, public ::testing::WithParamInterface<RxFault> {
 protected:
  void SetUp() override {
    const RxFault& c = GetParam();
    NetOptions o = all_on();
    if (c.setup == Setup::kNoRxCsum) o.accept_rx_csum = o.accept_rx_gso = false;
    if (c.setup == Setup::kNoRxGso) o.accept_rx_gso = false;
    if (c.setup == Setup::kSmallRing) o.rx_ring_cap = 16;
    make(offload_device(Mode::kPartial), o);
    if (c.setup == Setup::kNoEcn)
      ASSERT_EQ(w->net().set_guest_offloads(kRxOffloadBits & ~feature_mask(F::kNetGuestEcn)),
                CtrlResult::kOk);
  }
  // A good TCP frame after the fault: delivered whole and right.
  void expect_next_frame_delivered() {
    const FrameSpec s = spec_of(false, false, 400, 0x55);
    ASSERT_TRUE(w->device().inject_rx(ft::make_frame(s)));
    const auto got = receive(*w);
    ASSERT_EQ(got.size(), 1u) << "the next good frame";
    const bool csum = spec::has_feature(w->net().guest_offloads(), F::kNetGuestCsum);
    EXPECT_EQ(got[0].bytes, csum ? partial_of(s) : ft::make_frame(s));
    EXPECT_EQ(got[0].off.csum, csum ? CsumState::kPartial : CsumState::kNone);
  }
};

TEST_P(OffloadRxFault, DroppedUnderItsCounterAndTheNextFrameArrives) {
  const RxFault& c = GetParam();
  // The carrier alone is delivered (the fault is what makes it bad).
  ASSERT_TRUE(inject(w->device(), c.carrier));
  ASSERT_EQ(receive(*w).size(), 1u) << "the carrier without the fault";
  const auto before = outcomes(counters());
  const uint64_t applied = w->device().counters().faults_applied;
  mock::Fault f;
  f.kind = c.kind;
  f.value = c.value;
  w->device().arm(f);
  ASSERT_TRUE(inject(w->device(), c.carrier));
  ASSERT_EQ(w->device().counters().faults_applied, applied + 1) << "the fault fired";
  EXPECT_TRUE(receive(*w).empty()) << "nothing of the frame delivered";
  EXPECT_EQ(describe(changed(before, counters())), describe({{c.counter, c.times}}));
  EXPECT_EQ(w->net().state(), NetState::kRunning);
  expect_next_frame_delivered();
  // And once more (a skip count left behind would eat this one).
  expect_next_frame_delivered();
  expect_clean();
}

INSTANTIATE_TEST_SUITE_P(Fields, OffloadRxFault, ::testing::ValuesIn(kRxFaults),
                         [](const auto& i) { return std::string(i.param.name); });

// A header-field verdict (flags, gso_type) on the FIRST buffer of a frame
// that spans several: the frame's other buffers must go with it.
//
// Found by this test: check_rx_hdr_fields() refusing the first buffer
// did not skip the frame's other buffers, which were then parsed as frames
// of their own (their payload read as a virtio-net header) -- and, when the
// payload held a plausible header and frame, delivered (the next test).
TEST_F(OffloadRx, HeaderFieldVerdictOnAMultiBufferFrameSkipsItsContinuations) {
  make(offload_device(Mode::kPartial), all_on());
  for (const auto& [kind, value, counter] :
       {std::tuple{FaultKind::kRxFlags, uint64_t{4}, "rx_drop_hdr_flags"},
        std::tuple{FaultKind::kRxGsoType, uint64_t{3}, "rx_drop_hdr_gso"}}) {
    SCOPED_TRACE(counter);
    const auto before = outcomes(counters());
    mock::Fault f;
    f.kind = kind;
    f.value = value;
    w->device().arm(f);
    ASSERT_TRUE(inject(w->device(), Carrier::kGsoMulti));
    EXPECT_TRUE(receive(*w).empty());
    EXPECT_EQ(describe(changed(before, counters())), describe({{counter, 1}}));
  }
  expect_clean();
}

// The same (fixed) bug reached by an honest device: a GSO frame the device wrote
// before GUEST_OFFLOADS_SET switched GUEST_TSO4 off, harvested after it
// (the driver checks it against the new set: rx_drop_hdr_gso, as
// virtio_net_control.cc intends). Its continuation buffers hold the
// payload of a packet from the network -- here a payload that contains a
// valid header (num_buffers 1) and a 100-byte frame exactly where the last
// buffer begins. The driver delivered that inner frame: a packet smuggled
// inside another packet's payload reached the stack. Now: the whole frame
// is dropped, rx_drop_hdr_gso 1, nothing delivered.
TEST_F(OffloadRx, AFrameWrittenBeforeTso4WasSwitchedOffDropsAllItsBuffers) {
  make(offload_device(), all_on());
  // A TCPv4 frame of two buffers: 12 + 2048 + (12 + 100) bytes, the
  // second buffer starting 2036 bytes into the frame.
  const size_t inner_len = 100;
  FrameSpec s = spec_of(false, false, 2036 + 12 + inner_len - 54);
  std::vector<uint8_t> outer = ft::make_frame(s);
  std::vector<uint8_t> inner = plain_frame(inner_len, 0xEE);
  uint8_t* at = &outer[2036];
  std::memset(at, 0, 12);
  at[10] = 1;  // num_buffers 1
  std::memcpy(at + 12, inner.data(), inner.size());
  ft::set_checksums(outer, s);
  const uint64_t used = w->device().counters().used_published;
  ASSERT_TRUE(w->device().inject_rx_gso(outer, 1448));
  ASSERT_EQ(w->device().counters().used_published, used + 2) << "a frame of two buffers";
  ASSERT_EQ(w->net().set_guest_offloads(
                kRxOffloadBits & ~(feature_mask(F::kNetGuestTso4) | feature_mask(F::kNetGuestEcn))),
            CtrlResult::kOk);
  const auto before = outcomes(counters());
  const auto got = receive(*w);
  EXPECT_TRUE(got.empty()) << "delivered " << got.size() << " frame(s), the first of "
                           << (got.empty() ? 0 : got[0].bytes.size()) << " bytes"
                           << (got.size() == 1 && got[0].bytes == inner ? " (the inner frame)"
                                                                        : "");
  EXPECT_EQ(describe(changed(before, counters())), describe({{"rx_drop_hdr_gso", 1}}));
  expect_clean();
}

// The honest race without the bug's shape: a one-buffer GSO frame written
// before the switch is dropped under rx_drop_hdr_gso, nothing else.
TEST_F(OffloadRx, AOneBufferGsoFrameWrittenBeforeTso4WasSwitchedOffIsDropped) {
  make(offload_device(), all_on());
  ASSERT_TRUE(inject(w->device(), Carrier::kGsoOne));
  ASSERT_EQ(w->net().set_guest_offloads(
                kRxOffloadBits & ~(feature_mask(F::kNetGuestTso4) | feature_mask(F::kNetGuestEcn))),
            CtrlResult::kOk);
  const auto before = outcomes(counters());
  EXPECT_TRUE(receive(*w).empty());
  EXPECT_EQ(describe(changed(before, counters())), describe({{"rx_drop_hdr_gso", 1}}));
  expect_clean();
}

// ---- 5. CTRL_GUEST_OFFLOADS ---------------------------------------------------

class OffloadCtrl : public OffloadRx {
 protected:
  void SetUp() override { make(); }
  // Whether a TCPv4 / TCPv6 GSO frame gets through the device and the driver.
  bool gso_delivered(bool ipv6) {
    const FrameSpec s = spec_of(ipv6, false, 5000);
    if (!w->device().inject_rx_gso(ft::make_frame(s), 1400)) return false;
    const auto got = receive(*w);
    EXPECT_EQ(got.size(), 1u);
    return got.size() == 1 && got[0].bytes == partial_of(s);
  }
  static constexpr uint64_t kNoTso4 =
      kRxOffloadBits & ~(feature_mask(F::kNetGuestTso4) | feature_mask(F::kNetGuestEcn));
};

TEST_F(OffloadCtrl, InvalidSetsAreRefusedAndNothingIsSent) {
  const uint64_t dev_cmds = w->device().counters().ctrl_commands;
  const uint64_t drv_cmds = counters().ctrl_commands;
  for (const uint64_t bad : {
           feature_mask(F::kNetGuestTso4),                                  // without GUEST_CSUM
           feature_mask(F::kNetGuestCsum) | feature_mask(F::kNetGuestEcn),  // ECN without TSO4
           feature_mask(F::kNetGuestCsum) | feature_mask(F::kNetGuestUfo),  // UFO not negotiated
           feature_mask(F::kNetGuestCsum) | feature_mask(F::kNetCsum),      // not a guest offload
           feature_mask(F::kNetGuestCsum) | feature_mask(F::kNetMrgRxbuf),
           uint64_t{1} << 63,
       }) {
    EXPECT_EQ(w->net().set_guest_offloads(bad), CtrlResult::kInvalid) << feature_names(bad);
  }
  EXPECT_EQ(w->device().counters().ctrl_commands, dev_cmds);
  EXPECT_EQ(counters().ctrl_commands, drv_cmds);
  EXPECT_EQ(w->net().guest_offloads(), kRxOffloadBits);
  EXPECT_EQ(w->device().guest_offloads(), kRxOffloadBits);
  EXPECT_TRUE(gso_delivered(false));
  expect_clean();
}

TEST_F(OffloadCtrl, WithoutTheFeatureUnsupported) {
  NetOptions o = all_on();
  o.accept_ctrl_vq = false;
  make(offload_device(), o);
  EXPECT_EQ(w->net().set_guest_offloads(kNoTso4), CtrlResult::kUnsupported);
  EXPECT_EQ(w->device().counters().ctrl_commands, 0u);
}

TEST_F(OffloadCtrl, Tso4OffThenDroppedEitherSideAndRestoredAfterAReset) {
  ASSERT_TRUE(gso_delivered(false));
  ASSERT_EQ(w->net().set_guest_offloads(kNoTso4), CtrlResult::kOk);
  EXPECT_EQ(w->net().guest_offloads(), kNoTso4);
  EXPECT_EQ(w->device().guest_offloads(), kNoTso4);
  // The device no longer delivers TCPv4 GSO frames; TCPv6 still.
  const uint64_t refused = w->device().counters().rx_gso_refused;
  EXPECT_FALSE(gso_delivered(false));
  EXPECT_EQ(w->device().counters().rx_gso_refused, refused + 1);
  EXPECT_TRUE(gso_delivered(true));
  // A device that sends one all the same: the driver drops it.
  auto before = outcomes(counters());
  mock::Fault f;
  f.kind = FaultKind::kRxGsoType;
  f.value = 1;  // TCPV4 (on a TCPv4 GSO-shaped frame the device would not send)
  w->device().arm(f);
  ASSERT_TRUE(w->device().inject_rx_gso(ft::make_frame(spec_of(true, false, 1000)), 500));
  EXPECT_TRUE(receive(*w).empty());
  EXPECT_EQ(describe(changed(before, counters())), describe({{"rx_drop_hdr_gso", 1}}));

  // The device resets itself; the driver recovers and tells it again.
  const uint64_t sets = w->device().counters().ctrl_offloads_set;
  w->device().device_reset();
  DeviceEvents ev{};
  for (int i = 0; i < 10 && !ev.recovered; ++i) ev = w->net().poll_device();
  ASSERT_TRUE(ev.recovered);
  ASSERT_EQ(w->net().state(), NetState::kRunning);
  EXPECT_EQ(counters().recoveries, 1u);
  EXPECT_EQ(w->device().counters().ctrl_offloads_set, sets + 1) << "sent again";
  EXPECT_EQ(w->net().guest_offloads(), kNoTso4);
  EXPECT_EQ(w->device().guest_offloads(), kNoTso4);
  EXPECT_FALSE(gso_delivered(false));
  EXPECT_TRUE(gso_delivered(true));
  // Switched back on: TCPv4 GSO frames come again.
  ASSERT_EQ(w->net().set_guest_offloads(kRxOffloadBits), CtrlResult::kOk);
  EXPECT_TRUE(gso_delivered(false));
  expect_clean();
}

TEST_F(OffloadCtrl, GuestCsumOffLeavesFramesUnmarked) {
  ASSERT_EQ(w->net().set_guest_offloads(0), CtrlResult::kOk);
  EXPECT_EQ(w->device().guest_offloads(), 0u);
  // A device that still marks NEEDS_CSUM: dropped (GUEST_CSUM not enabled).
  const auto before = outcomes(counters());
  mock::Fault f;
  f.kind = FaultKind::kRxFlags;
  f.value = 1;
  w->device().arm(f);
  ASSERT_TRUE(w->device().inject_rx(ft::make_frame(spec_of(false, false, 100))));
  EXPECT_TRUE(receive(*w).empty());
  EXPECT_EQ(describe(changed(before, counters())), describe({{"rx_drop_hdr_flags", 1}}));
  // DATA_VALID means nothing now: delivered, kNone.
  f.value = 2;
  w->device().arm(f);
  ASSERT_TRUE(w->device().inject_rx(ft::make_frame(spec_of(false, false, 100))));
  const auto got = receive(*w);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].off.csum, CsumState::kNone);
  expect_clean();
}

}  // namespace
}  // namespace vnet
