// The spec map (docs/spec-map.json) and the mock's conformance rules
// (mock_device/spec_rules.h):
//   - the shipped table is consistent with the rules, and the consistency
//     check fails on each kind of disagreement it exists for;
//   - every rule of kSpecRules fires: a hand-written register-level driver
//     breaks the requirement on purpose, and the violation the mock records
//     carries the rule's id (and the section tests and scenarios match on).
#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "mock_device/mock_device.h"
#include "mock_device/spec_rules.h"
#include "mock_test_driver.h"
#include "offload_frames.h"
#include "tools/vnet-specmap/spec_map.h"

namespace vnet::mock {
namespace {

using nlohmann::json;
using testing::fmask;
using testing::FrameSpec;
using testing::make_frame;
using testing::NetHdr;
using testing::test_frame;
using testing::TestDriver;
using testing::to_partial;
namespace st = spec::status;
namespace pc = spec::pci::common;
namespace lg = spec::pci::legacy;
namespace mm = spec::mmio;
using F = spec::Feature;

// ---- the table ---------------------------------------------------------------

json shipped_table() {
  std::ifstream in(VNET_SPEC_MAP);
  return json::parse(in);
}

bool has_error(const specmap::SpecMapReport& r, const std::string& part) {
  for (const auto& e : r.errors)
    if (e.find(part) != std::string::npos) return true;
  return false;
}

std::string errors_of(const specmap::SpecMapReport& r) {
  std::string s;
  for (const auto& e : r.errors) s += e + "\n";
  return s;
}

TEST(SpecMapTable, ShippedTableIsConsistentWithTheRules) {
  const auto r = specmap::check_spec_map(shipped_table());
  EXPECT_TRUE(r.errors.empty()) << errors_of(r);
  EXPECT_EQ(r.rules, kNumSpecRules);
  EXPECT_GT(r.requirements, 150u);
  EXPECT_EQ(r.applicable, r.checked + r.unobservable + r.unchecked);
  EXPECT_GE(r.checked, 30u);
}

// A two-row table and one rule, broken one way at a time.
json small_table() {
  return json::parse(R"({"spec": "test", "requirements": [
    {"id": "drv-2.1.1-2", "section": "2.1.1", "level": "MUST NOT", "text": "t",
     "applies": "yes", "checker": ["drv-2.1.1-2"]},
    {"id": "drv-2.1.1-3", "section": "2.1.1", "level": "MUST", "text": "t",
     "applies": "yes", "unchecked": "visible"}]})");
}
constexpr SpecRule kOneRule[] = {{"drv-2.1.1-2", "clears"}};

TEST(SpecMapTable, SmallTableIsConsistent) {
  const auto r = specmap::check_spec_map(small_table(), kOneRule);
  EXPECT_TRUE(r.errors.empty()) << errors_of(r);
  EXPECT_EQ(r.checked, 1u);
  EXPECT_EQ(r.unchecked, 1u);
}

TEST(SpecMapTable, FailsWhenARowNamesACheckerThatDoesNotExist) {
  json t = small_table();
  t["requirements"][1].erase("unchecked");
  t["requirements"][1]["checker"] = {"drv-9.9-1"};
  EXPECT_TRUE(has_error(specmap::check_spec_map(t, kOneRule), "names checker drv-9.9-1"));
}

TEST(SpecMapTable, FailsWhenAnApplicableRowHasNeitherCheckerNorReason) {
  json t = small_table();
  t["requirements"][1].erase("unchecked");
  EXPECT_TRUE(has_error(specmap::check_spec_map(t, kOneRule), "neither a checker nor a reason"));
  t["requirements"][1]["applies"] = "later: packed ring";  // a later row needs neither
  EXPECT_TRUE(specmap::check_spec_map(t, kOneRule).errors.empty());
}

TEST(SpecMapTable, FailsWhenARuleIsNotInTheTableOrNotNamedByItsRow) {
  constexpr SpecRule two[] = {{"drv-2.1.1-2", "clears"}, {"drv-3.1.1-1", "order"}};
  EXPECT_TRUE(has_error(specmap::check_spec_map(small_table(), two),
                        "rule drv-3.1.1-1 (spec_rules.h) is not a row"));
  json t = small_table();
  t["requirements"][0]["checker"] = {"drv-2.1.1-3"};  // not its own rule
  constexpr SpecRule other[] = {{"drv-2.1.1-2", "clears"}, {"drv-2.1.1-3", "failed"}};
  EXPECT_TRUE(has_error(specmap::check_spec_map(t, other),
                        "rule drv-2.1.1-2 (spec_rules.h): its row does not name it"));
}

TEST(SpecMapTable, FailsOnMalformedRows) {
  json t = small_table();
  t["requirements"][1]["section"] = "2.1";
  EXPECT_TRUE(has_error(specmap::check_spec_map(t, kOneRule), "is not the id's section"));
  t = small_table();
  t["requirements"][1]["id"] = "drv-2.1.1-2";
  EXPECT_TRUE(has_error(specmap::check_spec_map(t, kOneRule), "duplicate id"));
  t = small_table();
  t["requirements"][1]["level"] = "MAY";
  EXPECT_TRUE(has_error(specmap::check_spec_map(t, kOneRule), "level \"MAY\""));
  t = small_table();
  t["requirements"][1]["applies"] = "maybe";
  EXPECT_TRUE(has_error(specmap::check_spec_map(t, kOneRule), "applies \"maybe\""));
  t = small_table();
  t["requirements"][1]["unobservable"] = "also";
  EXPECT_TRUE(has_error(specmap::check_spec_map(t, kOneRule), "not several"));
  t = small_table();
  t["requirements"][1]["chekcer"] = {"drv-2.1.1-2"};
  EXPECT_TRUE(has_error(specmap::check_spec_map(t, kOneRule), "unknown field \"chekcer\""));
}

// ---- every rule fires --------------------------------------------------------

constexpr uint64_t kV1 = uint64_t{1} << 32;
constexpr uint64_t kModernFeatures = kV1 | (1u << 5) | (1u << 16);  // V1|MAC|STATUS
// Checksum and TCPv4 segmentation offload (CSUM, HOST_TSO4).
const uint64_t kTso4 = kModernFeatures | fmask(F::kNetCsum) | fmask(F::kNetHostTso4);

struct World {
  GuestMemory mem{8 << 20};
  std::unique_ptr<MockDevice> dev;
  std::unique_ptr<TestDriver> drv;

  explicit World(DeviceConfig cfg) {
    dev = std::make_unique<MockDevice>(mem, cfg);
    drv = std::make_unique<TestDriver>(mem, *dev);
  }
  // Modern, up to FEATURES_OK with these features; no queues yet.
  void up_to_features_ok(uint64_t features) {
    drv->set_status(0);
    drv->set_status(st::kAcknowledge);
    drv->set_status(st::kAcknowledge | st::kDriver);
    drv->write_features(features);
    drv->set_status(st::kAcknowledge | st::kDriver | st::kFeaturesOk);
  }
  void send_with_header(const uint8_t (&hdr)[12], size_t frame_len = 60) {
    drv->send(test_frame(frame_len), 12, 0, hdr);
    drv->notify_modern(1);
  }
  void send_frame(const std::vector<uint8_t>& frame, const NetHdr& hdr) {
    drv->send(frame, 12, 0, hdr.b);
    drv->notify_modern(1);
  }
  // A TCP/UDP frame of spec s, its checksum field holding the pseudo-header sum.
  void send_offloaded(const FrameSpec& s, const NetHdr& hdr) {
    auto f = make_frame(s);
    to_partial(f, s);
    send_frame(f, hdr);
  }
};

DeviceConfig modern(uint64_t extra_offer = 0) {
  DeviceConfig c;
  c.transport = TransportKind::kModern;
  c.features = kModernFeatures | fmask(F::kNetMtu) | extra_offer;
  return c;
}
DeviceConfig modern_msix() {
  DeviceConfig c = modern();
  c.msix_vectors = 3;
  return c;
}
// MSI-X message control: enable (and the function mask).
void msix_on(World& w, bool function_masked = false) {
  w.dev->pci_config_write(MockDevice::kMsixCap + 2, 2, function_masked ? 0xC000 : 0x8000);
}
void unmask_entry(World& w, uint16_t i) {
  w.dev->bar_write(1, uint32_t(i) * 16 + 12, 4, 0);
}
DeviceConfig legacy() {
  DeviceConfig c;
  c.transport = TransportKind::kLegacy;
  c.features = fmask(F::kNetMac) | fmask(F::kNetStatus);
  return c;
}

// Entry i of a split indirect table at host.
void split_table_entry(uint8_t* host, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                       uint16_t next) {
  uint8_t* d = host + 16 * size_t(i);
  std::memcpy(d, &addr, 8);
  std::memcpy(d + 8, &len, 4);
  std::memcpy(d + 12, &flags, 2);
  std::memcpy(d + 14, &next, 2);
}

constexpr uint64_t kPackedFeatures = kModernFeatures | (uint64_t{1} << 34);  // + RING_PACKED
DeviceConfig packed(uint64_t extra_offer = 0) {
  DeviceConfig c = modern(extra_offer);
  c.offer_ring_packed = true;
  return c;
}

constexpr uint64_t kMmioV1Features = (1u << 5) | (1u << 16) | (1u << 27);  // MAC|STATUS|ANY_LAYOUT
DeviceConfig mmio(bool v1) {
  DeviceConfig c;
  c.transport = v1 ? TransportKind::kMmioV1 : TransportKind::kMmioV2;
  c.features = v1 ? kMmioV1Features : kModernFeatures;
  return c;
}

// The control plane: a modern device offering every control feature, two
// queue pairs.
using Layout = TestDriver::CtrlLayout;
constexpr uint8_t kRx = 0, kMac = 1, kVlan = 2, kAnnounce = 3, kMq = 4;
const uint64_t kCtrlFeatures = kModernFeatures | fmask(F::kNetCtrlVq) | fmask(F::kNetCtrlRx) |
                               fmask(F::kNetCtrlVlan) | fmask(F::kNetCtrlRxExtra) |
                               fmask(F::kNetGuestAnnounce) | fmask(F::kNetCtrlMacAddr);
DeviceConfig ctrl_dev() {
  DeviceConfig c =
      modern(kCtrlFeatures | fmask(F::kNetMq) | fmask(F::kNetRss) | fmask(F::kNetHashReport));
  c.max_virtqueue_pairs = 2;
  return c;
}
DeviceConfig ctrl_dev_rss_table(uint16_t table_len) {
  DeviceConfig c = ctrl_dev();
  c.rss_max_indirection_table_length = table_len;
  return c;
}
// RSS_CONFIG data (5.1.6.5.7.1) with a key of key_len bytes (0x6d, ...).
std::vector<uint8_t> rss_config(uint32_t types, const std::vector<uint16_t>& table,
                                uint16_t unclassified, uint16_t max_tx_vq, uint8_t key_len) {
  std::vector<uint8_t> d;
  auto le16 = [&](uint16_t v) { d.push_back(uint8_t(v)), d.push_back(uint8_t(v >> 8)); };
  for (int i = 0; i < 4; ++i) d.push_back(uint8_t(types >> (8 * i)));
  le16(uint16_t(table.size() - 1));
  le16(unclassified);
  for (uint16_t e : table) le16(e);
  le16(max_tx_vq);
  d.push_back(key_len);
  for (uint8_t i = 0; i < key_len; ++i) d.push_back(uint8_t(0x6d + i));
  return d;
}
std::vector<uint8_t> hash_config(uint32_t types, uint8_t key_len) {
  std::vector<uint8_t> d;
  for (int i = 0; i < 4; ++i) d.push_back(uint8_t(types >> (8 * i)));
  d.insert(d.end(), 8, 0);  // reserved
  d.push_back(key_len);
  for (uint8_t i = 0; i < key_len; ++i) d.push_back(uint8_t(0x6d + i));
  return d;
}

struct Provocation {
  const char* id;
  const char* section;  // the section the violation is recorded under
  DeviceConfig config;
  std::function<void(World&)> provoke;
};

// One deliberate violation per rule of kSpecRules.
const std::vector<Provocation>& provocations() {
  static const std::vector<Provocation> all = {
      {"drv-2.1.1-2", "2.1.1", modern(),
       [](World& w) {
         w.drv->set_status(st::kAcknowledge);
         w.drv->set_status(st::kAcknowledge | st::kDriver);
         w.drv->set_status(st::kAcknowledge);  // clears DRIVER
       }},
      {"drv-2.2.1-1", "2.2.1", modern(),
       [](World& w) { w.drv->init_modern(kModernFeatures | fmask(F::kNetCsum)); }},
      {"drv-2.2.1-2", "2.2.1", modern(fmask(F::kNetCtrlVq) | fmask(F::kNetCtrlRx)),
       [](World& w) { w.drv->init_modern(kModernFeatures | fmask(F::kNetCtrlRx)); }},
      {"drv-2.7.1-1", "2.7.1", modern(),
       [](World& w) {
         w.up_to_features_ok(kModernFeatures);
         auto r = w.drv->alloc_ring(16);
         r.desc_addr += 8;
         w.drv->setup_modern_queue(0, r);
       }},
      {"drv-2.7.4.2-1", "2.7.4.2", modern(),
       [](World& w) {
         w.drv->init_modern(kModernFeatures);
         auto b = w.drv->buffer(64);
         w.drv->rx.set_desc(0, b.device_addr, 32, spec::kDescFlagWrite | spec::kDescFlagNext, 1);
         w.drv->rx.set_desc(1, b.device_addr + 32, 32, 0, 0);
         w.drv->rx.offer(0);
         w.dev->inject_rx(test_frame(10));
       }},
      {"drv-2.7.5.2-1", "2.7.5.2", modern(),
       [](World& w) {
         w.drv->init_modern(kModernFeatures);
         auto b = w.drv->buffer(64);
         w.drv->tx.set_desc(0, b.device_addr, 32, spec::kDescFlagNext, 1);
         w.drv->tx.set_desc(1, b.device_addr, 32, spec::kDescFlagNext, 0);
         w.drv->tx.offer(0);
         w.drv->notify_modern(1);
       }},
      {"drv-2.7.5.3.1-1", "2.7.5.3.1", modern(),
       [](World& w) {
         w.drv->init_modern(kModernFeatures);
         auto b = w.drv->buffer(64);
         w.drv->tx.set_desc(0, b.device_addr, 64, spec::kDescFlagIndirect, 0);
         w.drv->tx.offer(0);
         w.drv->notify_modern(1);
       }},
      {"drv-2.7.6.1-1", "2.7.6.1", modern(),
       [](World& w) {
         w.drv->init_modern(kModernFeatures);
         w.drv->send(test_frame(60), 12);
         w.drv->notify_modern(1);
         w.drv->tx.set_avail_idx(0);
         w.drv->notify_modern(1);
       }},
      {"drv-2.7.7.1-1", "2.7.7.1", modern(),
       [](World& w) {
         w.drv->init_modern(kModernFeatures);
         w.drv->tx.set_avail_flags(2);
         w.drv->send(test_frame(60), 12);
         w.drv->notify_modern(1);
       }},
      {"drv-2.7.7.1-2", "2.7.7.1", modern(fmask(F::kEventIdx)),
       [](World& w) {
         w.drv->init_modern(kModernFeatures | fmask(F::kEventIdx));
         w.drv->tx.set_avail_flags(spec::kAvailFlagNoInterrupt);
         w.drv->send(test_frame(60), 12);
         w.drv->notify_modern(1);
       }},
      {"drv-3.1.1-1", "3.1.1", modern(),
       [](World& w) {
         w.drv->set_status(0);
         w.drv->set_status(st::kDriver);  // DRIVER without ACKNOWLEDGE
       }},
      {"drv-3.1.1-3", "3.1.1", modern(),
       [](World& w) {
         w.up_to_features_ok(kModernFeatures);
         w.drv->write_features(kModernFeatures);  // after FEATURES_OK
       }},
      {"drv-3.1.1-5", "3.1.1", modern(),
       [](World& w) {
         w.drv->init_modern(kModernFeatures | fmask(F::kNetCsum));  // refused
         w.drv->set_status(st::kAcknowledge | st::kDriver | st::kDriverOk);
       }},
      {"drv-3.1.1-6", "3.1.1", modern(),
       [](World& w) {
         w.drv->set_status(0);
         w.drv->notify_modern(1);
       }},
      {"drv-3.1.2-1", "3.1.1", legacy(),
       [](World& w) {
         w.drv->lw(lg::kDeviceStatus, 1, 0);
         w.drv->lw(lg::kDeviceStatus, 1, st::kAcknowledge);
         w.drv->lw(lg::kDriverFeatures, 4, uint32_t(fmask(F::kNetMac)));  // before DRIVER
       }},
      {"drv-3.3.1-1", "2.7.13", modern(),
       [](World& w) {
         w.drv->init_modern(kModernFeatures, 16);
         w.drv->tx.set_avail_idx(17);  // 17 exposed on a ring of 16
         w.drv->notify_modern(1);
       }},
      {"drv-4.1.3.1-1", "4.1.3.1", modern(), [](World& w) { w.drv->cr(pc::kDeviceStatus, 4); }},
      {"drv-4.1.4.3.2-1", "4.1.4.3.2", modern(), [](World& w) { w.drv->cw(pc::kNumQueues, 2, 7); }},
      {"drv-4.1.4.3.2-3", "4.1.4.3.2", modern(),
       [](World& w) {
         w.up_to_features_ok(kModernFeatures);
         w.drv->cw(pc::kQueueSelect, 2, 0);
         w.drv->cw(pc::kQueueSize, 2, 100);
       }},
      {"drv-4.1.4.3.2-4", "4.1.4.3.2", modern(),
       [](World& w) {
         w.up_to_features_ok(kModernFeatures);
         auto r = w.drv->alloc_ring(16);
         w.drv->setup_modern_queue(0, r);
         w.drv->cw(pc::kQueueDescLo, 4, uint32_t(r.desc_addr));  // queue 0 is enabled
       }},
      {"drv-4.1.4.3.2-6", "4.1.4.3.2", modern(),
       [](World& w) {
         w.up_to_features_ok(kModernFeatures);
         w.drv->cw(pc::kQueueSelect, 2, 0);
         w.drv->cw(pc::kQueueEnable, 2, 0);
       }},
      {"drv-5.1.4.2-8", "5.1.4.2", modern(),
       [](World& w) {
         w.drv->init_modern(kModernFeatures | fmask(F::kNetMtu));
         const uint8_t hdr[12] = {};
         w.send_with_header(hdr, 1500 + 14 + 1);
       }},
      {"drv-5.1.6.2.1-1", "5.1.6.2.1", modern(),
       [](World& w) {
         w.drv->init_modern(kModernFeatures);
         uint8_t hdr[12] = {};
         hdr[10] = 1;  // num_buffers
         w.send_with_header(hdr);
       }},
      {"drv-5.1.6.2.1-2", "5.1.6.2.1", modern(),
       [](World& w) {
         w.drv->init_modern(kModernFeatures);
         uint8_t hdr[12] = {};
         hdr[0] = spec::net_hdr::kFlagNeedsCsum;  // without CSUM
         w.send_with_header(hdr);
       }},
      {"drv-5.1.6.2.1-3", "5.1.6.2.1", modern(),
       [](World& w) {
         w.drv->init_modern(kModernFeatures);
         uint8_t hdr[12] = {};
         hdr[1] = spec::net_hdr::kGsoTcpV4;  // without HOST_TSO4
         w.send_with_header(hdr);
       }},
      // Offloads: a TCP/UDP frame with an offload header (offload.cc).
      {"drv-5.1.6.2.1-5", "5.1.6.2.1", modern(kTso4),
       [](World& w) {
         w.drv->init_modern(kTso4);  // no HOST_ECN
         FrameSpec s;
         s.payload = 3000;
         s.tcp_flags = 0x90;  // ACK | CWR
         w.send_offloaded(s, NetHdr::tso(s, 1000));
       }},
      {"drv-5.1.6.2.1-6", "5.1.6.2.1", modern(kTso4),
       [](World& w) {
         w.drv->init_modern(kTso4);
         FrameSpec s;
         auto f = make_frame(s);
         f[24] ^= 0xFF;  // the IPv4 header checksum
         to_partial(f, s);
         w.send_frame(f, NetHdr::partial(s));
       }},
      {"drv-5.1.6.2.1-7", "5.1.6.2.1", modern(kTso4),
       [](World& w) {
         w.drv->init_modern(kTso4);
         FrameSpec s;
         w.send_frame(make_frame(s), NetHdr::partial(s));  // a full checksum, not the seed
       }},
      {"drv-5.1.6.2.1-8", "5.1.6.2.1", modern(kTso4),
       [](World& w) {
         w.drv->init_modern(kTso4);
         FrameSpec s;
         s.payload = 6;
         w.send_offloaded(s, NetHdr().flags(1).csum(58, 6));  // past the 60-byte frame
       }},
      {"drv-5.1.6.2.1-10", "5.1.6.2.1", modern(kTso4),
       [](World& w) {
         w.drv->init_modern(kTso4);
         FrameSpec s;
         s.payload = 3000;
         w.send_offloaded(s, NetHdr::tso(s, 1000).flags(0));  // no NEEDS_CSUM
       }},
      {"drv-5.1.6.2.1-11", "5.1.6.2.1", modern(kTso4 | fmask(F::kNetGuestHdrLen)),
       [](World& w) {
         w.drv->init_modern(kTso4 | fmask(F::kNetGuestHdrLen));
         FrameSpec s;
         s.payload = 3000;
         w.send_offloaded(s, NetHdr::tso(s, 1000).hdr_len(60));  // headers: 54
       }},
      {"drv-5.1.6.2.1-12", "5.1.6.2.1", modern(kTso4),
       [](World& w) {
         w.drv->init_modern(kTso4);
         FrameSpec s;
         s.payload = 3000;
         w.send_offloaded(s, NetHdr::tso(s, 1000).hdr_len(34));  // up to IP only
       }},
      {"def-5.1.6.2-2", "5.1.6.2", modern(kTso4),
       [](World& w) {
         w.drv->init_modern(kTso4);
         FrameSpec s;
         s.udp = true;
         s.payload = 3000;
         w.send_offloaded(s, NetHdr::tso(s, 1000).gso(1));  // TCPV4 on UDP
       }},
      {"drv-5.1.6.2.1-14", "5.1.6.2.1", modern(),
       [](World& w) {
         w.drv->init_modern(kModernFeatures);
         uint8_t hdr[12] = {};
         hdr[0] = spec::net_hdr::kFlagDataValid;
         w.send_with_header(hdr);
       }},
      {"drv-5.1.6.6-1", "5.1.6", legacy(),
       [](World& w) {
         w.drv->init_legacy(uint32_t(fmask(F::kNetMac)));
         w.drv->send(test_frame(80), 10);  // header and frame in one descriptor
         w.drv->lw(lg::kQueueNotify, 2, 1);
       }},
      {"drv-6.1-1", "6.1", modern(), [](World& w) { w.drv->init_modern(fmask(F::kNetMac)); }},
      {"drv-6.1-3", "6.1", modern(fmask(F::kAccessPlatform)),
       [](World& w) {
         w.dev->dma_mappings().set_enabled(true);
         // Ring memory never registered with the IOMMU: not reachable.
         w.drv->init_modern(kModernFeatures | fmask(F::kAccessPlatform));
       }},
      {"drv-6.1-4", "2.7", modern(),
       [](World& w) {
         w.up_to_features_ok(kModernFeatures);
         auto r = w.drv->alloc_ring(16);
         r.used_addr = 0x1000;  // not guest memory
         w.drv->setup_modern_queue(1, r);
       }},
      {"def-2.7.5-1", "2.7.5.2", modern(),
       [](World& w) {
         w.drv->init_modern(kModernFeatures, 16);
         auto b = w.drv->buffer(64);
         w.drv->tx.set_desc(0, b.device_addr, 32, spec::kDescFlagNext, 40);
         w.drv->tx.offer(0);
         w.drv->notify_modern(1);
       }},
      {"def-2.7.6-1", "2.7.13.2", modern(),
       [](World& w) {
         w.drv->init_modern(kModernFeatures, 16);
         w.drv->tx.offer(40);
         w.drv->notify_modern(1);
       }},
      {"def-4.1.4.3-1", "4.1.4.3.2", modern(),
       [](World& w) {
         w.up_to_features_ok(kModernFeatures);
         w.drv->cw(0x3A, 2, 1);  // queue_reset, without RING_RESET
       }},
      {"def-4.1.4.3-2", "4.1.4.3.2", modern(),
       [](World& w) {
         w.up_to_features_ok(kModernFeatures);
         w.drv->cw(pc::kQueueSelect, 2, 0);
         w.drv->cw(pc::kQueueSize, 2, 512);  // a power of two above the maximum 256
       }},
      {"drv-4.1.4.5.2-1", "4.1.4.5.2", modern_msix(),
       [](World& w) {
         w.up_to_features_ok(kModernFeatures);
         msix_on(w);
         unmask_entry(w, 0);
         w.drv->cw(pc::kConfigMsixVector, 2, 0);
         w.drv->cr(pc::kConfigMsixVector, 2);
         w.drv->rx = w.drv->alloc_ring(16);
         w.drv->tx = w.drv->alloc_ring(16);
         w.drv->setup_modern_queue(0, w.drv->rx);
         w.drv->setup_modern_queue(1, w.drv->tx);
         w.drv->set_status(st::kAcknowledge | st::kDriver | st::kFeaturesOk | st::kDriverOk);
         w.drv->cr(MockDevice::kIsrOffset, 1);  // the ISR, with MSI-X in use
       }},
      {"drv-4.1.5.1.2.2-2", "4.1.5.1.2.2", modern_msix(),
       [](World& w) {
         w.up_to_features_ok(kModernFeatures);
         msix_on(w);
         w.drv->cw(pc::kConfigMsixVector, 2, 3);  // the table has 0..2
       }},
      {"drv-4.1.5.1.2.2-3", "4.1.5.1.2.2", modern_msix(),
       [](World& w) {
         w.up_to_features_ok(kModernFeatures);
         msix_on(w);
         w.drv->cw(pc::kConfigMsixVector, 2, 0);
         w.drv->cw(pc::kConfigMsixVector, 2, 1);  // the first never read back
       }},
      {"def-4.1.5.1.2-1", "4.1.5.1.2", modern_msix(),
       [](World& w) {
         w.up_to_features_ok(kModernFeatures);
         w.drv->cw(pc::kConfigMsixVector, 2, 0);  // MSI-X still disabled
       }},
      {"def-4.1.5.1.2-2", "4.1.5.1.2", modern_msix(),
       [](World& w) {
         w.up_to_features_ok(kModernFeatures);
         msix_on(w, true);  // the function stays masked
         w.drv->cw(pc::kConfigMsixVector, 2, 0);
         w.drv->cr(pc::kConfigMsixVector, 2);
         w.drv->rx = w.drv->alloc_ring(16);
         w.drv->tx = w.drv->alloc_ring(16);
         w.drv->setup_modern_queue(0, w.drv->rx);
         w.drv->setup_modern_queue(1, w.drv->tx);
         w.drv->set_status(st::kAcknowledge | st::kDriver | st::kFeaturesOk | st::kDriverOk);
       }},
      {"def-4.1.4.5-1", "4.1.4.5", modern(),
       [](World& w) { w.drv->cw(MockDevice::kIsrOffset, 1, 1); }},
      {"def-4.1.5.2-1", "4.1.5.2", modern(),
       [](World& w) {
         w.drv->init_modern(kModernFeatures);
         w.dev->bar_write(4, MockDevice::kNotifyOffset + 4, 2, 0);  // queue 1's address, value 0
       }},
      {"def-5.1.4-1", "5.1.4.2", modern(),
       [](World& w) { w.drv->cw(MockDevice::kDeviceCfgOffset, 1, 0x02); }},
      {"def-5.1.6.2-1", "5.1.6.2", modern(),
       [](World& w) {
         w.drv->init_modern(kModernFeatures);
         auto b = w.drv->buffer(4);
         w.drv->tx.set_desc(0, b.device_addr, 4, 0, 0);  // shorter than the header
         w.drv->tx.offer(0);
         w.drv->notify_modern(1);
       }},
      {"def-5.1.6.3-1", "5.1.6.3", modern(),
       [](World& w) {
         w.drv->init_modern(kModernFeatures);
         auto b = w.drv->buffer(2048);
         w.drv->rx.set_desc(0, b.device_addr, 16, spec::kDescFlagNext, 1);
         w.drv->rx.set_desc(1, b.device_addr + 16, 2000, spec::kDescFlagWrite, 0);
         w.drv->rx.offer(0);
         w.dev->inject_rx(test_frame(60));
       }},
      // ---- virtio-mmio (mock_mmio.cc) ----
      {"drv-4.2.2.2-1", "4.2.2.2", mmio(false),
       [](World& w) {
         w.drv->mmio_identity();
         (void)w.drv->mr(0x018);  // a gap of the register table
       }},
      {"drv-4.2.2.2-2", "4.2.2.2", mmio(false),
       [](World& w) {
         w.drv->mmio_identity();
         w.drv->mw(mm::kQueueNumMax, 8);
       }},
      {"drv-4.2.2.2-3", "4.2.2.2", mmio(false),
       [](World& w) {
         w.drv->mmio_identity();
         (void)w.drv->mr(mm::kQueueSel);
       }},
      {"drv-4.2.2.2-4", "4.2.2.2", mmio(false),
       [](World& w) {
         w.drv->mmio_identity();
         (void)w.drv->mr(mm::kStatus, 1);
       }},
      {"drv-4.2.2.2-5", "4.2.2.2", mmio(false),
       [](World& w) {
         w.drv->mmio_identity();
         (void)w.drv->mr(mm::kConfig, 4);  // the MAC is read byte by byte
       }},
      {"drv-4.2.2.2-6", "4.2.2.2", mmio(false),
       [](World& w) {
         w.dev->lie_about_register({Region::kMmio, mm::kMagicValue, 4, 0x12345678});
         w.drv->mmio_identity();
         w.drv->mmio_status(0);
       }},
      {"drv-4.2.2.2-7", "4.2.2.2", mmio(false),
       [](World& w) {
         w.dev->lie_about_register({Region::kMmio, mm::kVersion, 4, 3});
         w.drv->mmio_identity();
         w.drv->mmio_status(0);
       }},
      {"drv-4.2.2.2-10", "4.2.2.2", mmio(false),
       [](World& w) {
         w.drv->mmio_identity();
         w.drv->mmio_status(0);
         (void)w.drv->mr(mm::kDeviceFeatures);
       }},
      {"drv-4.2.2.2-11", "4.2.2.2", mmio(false),
       [](World& w) {
         w.drv->mmio_identity();
         w.drv->mmio_status(0);
         w.drv->mmio_status(st::kAcknowledge);
         w.drv->mmio_status(st::kAcknowledge | st::kDriver);
         w.drv->mw(mm::kDriverFeatures, uint32_t(kModernFeatures));
       }},
      {"drv-4.2.2.2-12", "4.2.2.2", mmio(false),
       [](World& w) {
         w.drv->mmio_identity();
         w.drv->mmio_status(0);
         w.drv->mmio_status(st::kAcknowledge);
         w.drv->mmio_status(st::kAcknowledge | st::kDriver);
         w.drv->mmio_write_features(kModernFeatures, false);
         w.drv->mmio_status(st::kAcknowledge | st::kDriver | st::kFeaturesOk);
         w.drv->mw(mm::kQueueSel, 0);
         w.drv->mw(mm::kQueueNum, 512);  // QueueNumMax is 256
       }},
      {"drv-4.2.2.2-13", "4.2.2.2", mmio(false),
       [](World& w) {
         w.drv->init_mmio(kModernFeatures, false);
         w.drv->mw(mm::kQueueSel, 0);
         w.drv->mw(mm::kQueueNum, 8);  // queue 0 is ready
       }},
      {"drv-4.2.2.2-17", "4.2.2.2", mmio(false),
       [](World& w) {
         w.drv->init_mmio(kModernFeatures, false);
         (void)w.drv->mr(mm::kInterruptStatus);  // 0: nothing pending
         w.drv->mw(mm::kInterruptAck, 1);
       }},
      {"drv-4.2.2.2-18", "4.2.2.2", mmio(false),
       [](World& w) {
         w.drv->init_mmio(kModernFeatures, false);
         w.dev->raise_config_change();
         const uint32_t isr = w.drv->mr(mm::kInterruptStatus);
         w.drv->mw(mm::kInterruptAck, isr | 0x100);
       }},
      {"drv-4.2.3.1.1-1", "4.2.3.1.1", mmio(false), [](World& w) { w.drv->mmio_status(0); }},
      {"drv-4.2.3.1.1-2", "4.2.3.1.1", mmio(false),
       [](World& w) {
         (void)w.drv->mr(mm::kMagicValue);
         (void)w.drv->mr(mm::kVersion);
         w.drv->mmio_status(0);
       }},
      {"drv-4.2.3.1.1-3", "4.2.3.1.1", mmio(false),
       [](World& w) {
         w.dev->lie_about_register({Region::kMmio, mm::kDeviceId, 4, 0});
         w.drv->mmio_identity();
         w.drv->mmio_status(0);
       }},
      {"drv-4.2.3.1.1-4", "4.2.3.1.1", mmio(false),
       [](World& w) {
         w.drv->mmio_identity();
         w.drv->mw(0x0AC, 0);  // SHMSel
       }},
      {"def-4.2.3.2-1", "4.2.3.2", mmio(false),
       [](World& w) {
         w.drv->mmio_identity();
         w.drv->mmio_status(0);
         w.drv->mmio_status(st::kAcknowledge);
         w.drv->mmio_status(st::kAcknowledge | st::kDriver);
         w.drv->mmio_write_features(kModernFeatures, false);
         w.drv->mmio_status(st::kAcknowledge | st::kDriver | st::kFeaturesOk);
         w.drv->mw(mm::kQueueSel, 0);
         w.drv->mw(mm::kQueueNum, 16);
         w.drv->mw(mm::kQueueReady, 1);  // no addresses
       }},
      {"def-4.2.4-1", "4.2.4", mmio(true),
       [](World& w) {
         w.drv->mmio_identity();
         (void)w.drv->mr(mm::kConfigGeneration);
       }},
      {"def-4.2.4-2", "4.2.4", mmio(true),
       [](World& w) {
         w.drv->mmio_identity();
         w.drv->mmio_status(0);
         w.drv->mmio_status(st::kAcknowledge);
         w.drv->mmio_status(st::kAcknowledge | st::kDriver);
         w.drv->mmio_write_features(kMmioV1Features, true);
         (void)w.drv->mmio_v1_ring(0, 16, /*page_size=*/false);
       }},
      // ---- split ring indirect tables (2.7.5.3; DeviceQueue::walk) ----
      {"drv-2.7.5.3.1-2", "2.7.5.3.1", modern(fmask(F::kIndirectDesc)),
       [](World& w) {
         w.drv->init_modern(kModernFeatures | fmask(F::kIndirectDesc));
         auto b = w.drv->buffer(72);
         auto t = w.drv->buffer(32);
         split_table_entry(t.host, 0, b.device_addr, 72, spec::kDescFlagNext, 1);
         split_table_entry(t.host, 1, t.device_addr, 32, spec::kDescFlagIndirect, 0);
         w.drv->tx.set_desc(0, t.device_addr, 32, spec::kDescFlagIndirect, 0);
         w.drv->tx.offer(0);
         w.drv->notify_modern(1);
       }},
      {"drv-2.7.5.3.1-3", "2.7.5.3.1", modern(fmask(F::kIndirectDesc)),
       [](World& w) {
         w.drv->init_modern(kModernFeatures | fmask(F::kIndirectDesc), 4);
         auto b = w.drv->buffer(80);
         auto t = w.drv->buffer(80);
         for (uint16_t i = 0; i < 5; ++i)
           split_table_entry(t.host, i, b.device_addr + 16u * i, 16,
                             i < 4 ? spec::kDescFlagNext : 0, uint16_t(i + 1));
         w.drv->tx.set_desc(0, t.device_addr, 80, spec::kDescFlagIndirect, 0);
         w.drv->tx.offer(0);
         w.drv->notify_modern(1);
       }},
      {"drv-2.7.5.3.1-4", "2.7.5.3.1", modern(fmask(F::kIndirectDesc)),
       [](World& w) {
         w.drv->init_modern(kModernFeatures | fmask(F::kIndirectDesc));
         auto b = w.drv->buffer(72);
         auto t = w.drv->buffer(16);
         split_table_entry(t.host, 0, b.device_addr, 72, 0, 0);
         w.drv->tx.set_desc(0, t.device_addr, 16, spec::kDescFlagIndirect | spec::kDescFlagNext, 1);
         w.drv->tx.set_desc(1, b.device_addr, 72, 0, 0);
         w.drv->tx.offer(0);
         w.drv->notify_modern(1);
       }},
      {"def-2.7.5.3-1", "2.7.5.3", modern(fmask(F::kIndirectDesc)),
       [](World& w) {
         w.drv->init_modern(kModernFeatures | fmask(F::kIndirectDesc));
         auto t = w.drv->buffer(32);
         w.drv->tx.set_desc(0, t.device_addr, 24, spec::kDescFlagIndirect, 0);
         w.drv->tx.offer(0);
         w.drv->notify_modern(1);
       }},
      // ---- in-order descriptor use, split ring (VIRTIO_F_IN_ORDER) ----
      {"drv-2.7.5.2-2", "2.7.5.2", modern(fmask(F::kInOrder)),
       [](World& w) {
         w.drv->init_modern(kModernFeatures | fmask(F::kInOrder));
         auto h = w.drv->buffer(12);
         auto b = w.drv->buffer(72);
         w.drv->tx.set_desc(0, h.device_addr, 12, spec::kDescFlagNext, 2);  // not 1
         w.drv->tx.set_desc(2, b.device_addr, 72, 0, 0);
         w.drv->tx.offer(0);
         w.drv->notify_modern(1);
       }},
      {"drv-2.7.5.3.1-5", "2.7.5.3.1", modern(fmask(F::kIndirectDesc) | fmask(F::kInOrder)),
       [](World& w) {
         w.drv->init_modern(kModernFeatures | fmask(F::kIndirectDesc) | fmask(F::kInOrder));
         auto b = w.drv->buffer(84);
         auto t = w.drv->buffer(48);
         split_table_entry(t.host, 0, b.device_addr, 12, spec::kDescFlagNext, 2);  // not 1
         split_table_entry(t.host, 2, b.device_addr + 12, 72, 0, 0);
         split_table_entry(t.host, 1, b.device_addr + 12, 72, 0, 0);
         w.drv->tx.set_desc(0, t.device_addr, 48, spec::kDescFlagIndirect, 0);
         w.drv->tx.offer(0);
         w.drv->notify_modern(1);
       }},
      // ---- packed ring (2.8) ----
      {"drv-2.8.11-1", "2.8.11", packed(),
       [](World& w) {
         w.up_to_features_ok(kPackedFeatures);
         auto r = w.drv->alloc_packed_ring(16);
         r.desc_addr += 8;
         w.drv->setup_modern_packed_queue(0, r);
       }},
      {"drv-2.8.16-1", "2.8.16", packed(),
       [](World& w) {
         w.drv->init_modern_packed(kPackedFeatures, 8);
         w.dev->hold_completions(1, 0, 0);
         for (uint16_t i = 0; i < 3; ++i) w.drv->send_packed(test_frame(60), i);
         w.drv->notify_modern(1);
         for (uint16_t i = 3; i < 9; ++i) w.drv->send_packed(test_frame(60), i);
         w.drv->notify_modern(1);
       }},
      {"drv-2.8.17-2", "2.8.17", packed(),
       [](World& w) {
         w.drv->init_modern_packed(kPackedFeatures, 4);
         auto b = w.drv->buffer(64);
         for (uint16_t i = 0; i < 4; ++i)
           w.drv->ptx.put(i, b.device_addr + 16u * i, 16, 0,
                          spec::kPackedDescFlagAvail | spec::kDescFlagNext);
         w.drv->notify_modern(1);
       }},
      {"drv-2.8.17-3", "2.8.17", packed(),
       [](World& w) {
         w.drv->init_modern_packed(kPackedFeatures);
         auto b = w.drv->buffer(2048);
         w.drv->prx.offer({{b.device_addr, 1024, true}, {b.device_addr + 1024, 1024, false}}, 0);
         w.dev->inject_rx(test_frame(60));
       }},
      {"drv-2.8.17-6", "2.8.17", packed(),
       [](World& w) {
         w.drv->init_modern_packed(kPackedFeatures);
         auto b = w.drv->buffer(72);
         w.drv->ptx.put(1, b.device_addr + 12, 60, 0, spec::kPackedDescFlagUsed);
         w.drv->ptx.put(0, b.device_addr, 12, 0, spec::kPackedDescFlagAvail | spec::kDescFlagNext);
         w.drv->notify_modern(1);
       }},
      {"drv-2.8.19-1", "2.8.19", packed(fmask(F::kIndirectDesc)),
       [](World& w) {
         w.drv->init_modern_packed(kPackedFeatures);
         auto t = w.drv->buffer(16);
         w.drv->ptx.offer({{t.device_addr, 16, false}}, 0, spec::kDescFlagIndirect);
         w.drv->notify_modern(1);
       }},
      {"drv-2.8.19-2", "2.8.19", packed(fmask(F::kIndirectDesc)),
       [](World& w) {
         w.drv->init_modern_packed(kPackedFeatures | fmask(F::kIndirectDesc));
         auto b = w.drv->buffer(72);
         auto t = w.drv->buffer(32);
         testing::TestPackedRing table;
         table.desc = t.host;
         table.put(0, b.device_addr, 12, 0, spec::kDescFlagNext);
         table.put(1, b.device_addr + 12, 60, 0, 0);
         w.drv->ptx.offer({{t.device_addr, 32, false}}, 0, spec::kDescFlagIndirect);
         w.drv->notify_modern(1);
       }},
      {"drv-2.8.19-3", "2.8.19", packed(fmask(F::kIndirectDesc)),
       [](World& w) {
         w.drv->init_modern_packed(kPackedFeatures | fmask(F::kIndirectDesc), 4);
         auto b = w.drv->buffer(80);
         auto t = w.drv->buffer(80);
         testing::TestPackedRing table;
         table.desc = t.host;
         for (uint16_t i = 0; i < 5; ++i) table.put(i, b.device_addr + 16u * i, 16, 0, 0);
         w.drv->ptx.offer({{t.device_addr, 80, false}}, 0, spec::kDescFlagIndirect);
         w.drv->notify_modern(1);
       }},
      {"drv-2.8.19-4", "2.8.19", packed(fmask(F::kIndirectDesc)),
       [](World& w) {
         w.drv->init_modern_packed(kPackedFeatures | fmask(F::kIndirectDesc));
         auto t = w.drv->buffer(16);
         auto b = w.drv->buffer(72);
         w.drv->ptx.offer({{t.device_addr, 16, false}, {b.device_addr, 72, false}}, 0,
                          spec::kDescFlagIndirect);
         w.drv->notify_modern(1);
       }},
      {"drv-4.1.4.3.2-2", "4.1.4.3.2", packed(),
       [](World& w) { w.drv->init_modern_packed(kPackedFeatures, 0); }},
      {"def-2.8.1-1", "2.8.1", packed(),
       [](World& w) {
         w.drv->init_modern_packed(kPackedFeatures);
         auto b = w.drv->buffer(72);
         w.drv->ptx.put(0, b.device_addr, 72, 0,
                        spec::kPackedDescFlagAvail | spec::kPackedDescFlagUsed);
         w.drv->notify_modern(1);
       }},
      {"def-2.8.7-1", "2.8.7", packed(fmask(F::kIndirectDesc)),
       [](World& w) {
         w.drv->init_modern_packed(kPackedFeatures | fmask(F::kIndirectDesc));
         auto t = w.drv->buffer(32);
         w.drv->ptx.offer({{t.device_addr, 20, false}}, 0, spec::kDescFlagIndirect);
         w.drv->notify_modern(1);
       }},
      {"def-2.8.13-1", "2.8.13", packed(),
       [](World& w) {
         w.drv->init_modern_packed(kPackedFeatures);
         w.dev->hold_completions(1, 0, 0);
         w.drv->send_packed(test_frame(60), 5);
         w.drv->notify_modern(1);
         w.drv->send_packed(test_frame(60), 5);
         w.drv->notify_modern(1);
       }},
      {"def-2.8.14-1", "2.8.14", packed(),
       [](World& w) {
         w.drv->init_modern_packed(kPackedFeatures);
         w.drv->ptx.set_driver_event(3);
         w.drv->send_packed(test_frame(60), 0);
         w.drv->notify_modern(1);
       }},
      // ---- the control plane (mock_ctrl.cc) ----
      {"def-5.1.2-1", "5.1.2", ctrl_dev(),
       [](World& w) {
         w.drv->init_modern_ctrl(kModernFeatures);  // no CTRL_VQ
         w.drv->ctrl_cmd(kRx, 0, {1});
       }},
      {"def-5.1.6.5-1", "5.1.6.5", ctrl_dev(),
       [](World& w) {
         w.drv->init_modern_ctrl(kCtrlFeatures);
         w.drv->ctrl_post(kRx, 0, {1}, Layout::kParts, 0);  // no ack byte
         w.drv->notify_modern(2);
       }},
      {"def-5.1.6.5-2", "5.1.6.5", ctrl_dev(),
       [](World& w) {
         w.drv->init_modern_ctrl(kCtrlFeatures);
         w.drv->ctrl_cmd(9, 0, {});  // no class 9
       }},
      {"drv-5.1.6.5.1.2-1", "5.1.6.5.1.2", ctrl_dev(),
       [](World& w) {
         w.drv->init_modern_ctrl(kModernFeatures | fmask(F::kNetCtrlVq));
         w.drv->ctrl_cmd(kRx, 0, {0});  // PROMISC without CTRL_RX
       }},
      {"drv-5.1.6.5.1.2-2", "5.1.6.5.1.2", ctrl_dev(),
       [](World& w) {
         w.drv->init_modern_ctrl(kModernFeatures | fmask(F::kNetCtrlVq) | fmask(F::kNetCtrlRx));
         w.drv->ctrl_cmd(kRx, 5, {1});  // NOBCAST without CTRL_RX_EXTRA
       }},
      {"def-5.1.6.5.2-1", "5.1.6.5.2", ctrl_dev(),
       [](World& w) {
         w.drv->init_modern_ctrl(kCtrlFeatures & ~fmask(F::kNetCtrlMacAddr));
         w.drv->ctrl_cmd(kMac, 1, {2, 0, 0, 0, 0, 1});
       }},
      {"drv-5.1.6.5.2.2-1", "5.1.6.5.2.2", ctrl_dev(),
       [](World& w) {
         w.drv->init_modern_ctrl(kModernFeatures | fmask(F::kNetCtrlVq));
         w.drv->ctrl_cmd(kMac, 0, {0, 0, 0, 0, 0, 0, 0, 0});
       }},
      {"drv-5.1.6.5.2.2-3", "5.1.6.5.2.2", ctrl_dev(),
       [](World& w) {
         w.drv->init_modern_ctrl(kCtrlFeatures);
         w.drv->ctrl_cmd(kMac, 0, {1, 0, 0, 0, 2, 0, 0, 0, 0, 1});  // 1 entry, 4 bytes
       }},
      {"def-5.1.6.5.3-1", "5.1.6.5.3", ctrl_dev(),
       [](World& w) {
         w.drv->init_modern_ctrl(kCtrlFeatures & ~fmask(F::kNetCtrlVlan));
         w.drv->ctrl_cmd(kVlan, 0, {5, 0});
       }},
      {"def-5.1.6.5.4-1", "5.1.6.5.4", ctrl_dev(),
       [](World& w) {
         w.drv->init_modern_ctrl(kCtrlFeatures & ~fmask(F::kNetGuestAnnounce));
         w.drv->ctrl_cmd(kAnnounce, 0, {});
       }},
      {"def-5.1.6.5.6-1", "5.1.6.5.6", ctrl_dev(),
       [](World& w) {
         w.drv->init_modern_ctrl(kCtrlFeatures);  // no MQ: controlq is 2
         w.drv->ctrl_cmd(kMq, 0, {1, 0});
       }},
      {"drv-5.1.6.5.6.1-1", "5.1.6.5.6.1", ctrl_dev(),
       [](World& w) {
         w.drv->init_modern_ctrl(kCtrlFeatures | fmask(F::kNetMq), 1, 4);  // pair 1 not set up
         w.drv->ctrl_cmd(kMq, 0, {2, 0});
       }},
      {"drv-5.1.6.5.6.1-2", "5.1.6.5.6.1", ctrl_dev(),
       [](World& w) {
         w.drv->init_modern_ctrl(kCtrlFeatures | fmask(F::kNetMq), 2);
         w.drv->ctrl_cmd(kMq, 0, {3, 0});  // max_virtqueue_pairs is 2
       }},
      {"drv-5.1.6.5.6.1-3", "5.1.6.5.6.1", ctrl_dev(),
       [](World& w) {
         w.drv->init_modern_ctrl(kCtrlFeatures | fmask(F::kNetMq), 2);
         w.drv->notify_modern(3);  // transmitq2 before VQ_PAIRS_SET
       }},
      {"drv-5.1.6.5.6.1-4", "5.1.6.5.6.1", ctrl_dev(),
       [](World& w) {
         w.drv->init_modern_ctrl(kCtrlFeatures | fmask(F::kNetMq), 2);
         w.drv->ctrl_cmd(kMq, 0, {1, 0});
         w.drv->notify_modern(3);  // transmitq2 with one pair enabled
       }},
      {"def-5.1.6.5.6.4-1", "5.1.6.5.6.4", ctrl_dev(),
       [](World& w) {
         w.drv->init_modern_ctrl(kCtrlFeatures);  // no HASH_REPORT
         w.drv->ctrl_cmd(kMq, 2, hash_config(1, 40));
       }},
      {"def-5.1.6.5.7.1-1", "5.1.6.5.7.1", ctrl_dev(),
       [](World& w) {
         w.drv->init_modern_ctrl(kCtrlFeatures | fmask(F::kNetRss), 2);
         w.drv->ctrl_cmd(kMq, 1, rss_config(0x2, {0, 1}, 0, 2, 41));  // key above 40
       }},
      {"drv-5.1.6.5.7.2-1", "5.1.6.5.7.2", ctrl_dev(),
       [](World& w) {
         w.drv->init_modern_ctrl(kCtrlFeatures | fmask(F::kNetMq), 2);  // no RSS
         w.drv->ctrl_cmd(kMq, 1, rss_config(0x2, {0, 1}, 0, 2, 40));
       }},
      {"drv-5.1.6.5.7.2-2", "5.1.6.5.7.2", ctrl_dev(),
       [](World& w) {
         w.drv->init_modern_ctrl(kCtrlFeatures | fmask(F::kNetRss), 2);
         w.drv->ctrl_cmd(kMq, 1, rss_config(0x2, {0, 1}, 0, 1, 40));  // entry 1, one pair
       }},
      {"drv-5.1.6.5.7.2-3", "5.1.6.5.7.2", ctrl_dev(),
       [](World& w) {
         w.drv->init_modern_ctrl(kCtrlFeatures | fmask(F::kNetRss), 2);
         w.drv->ctrl_cmd(kMq, 1, rss_config(0x2, {0, 1, 0}, 0, 2, 40));  // 3 entries
       }},
      {"drv-5.1.6.5.7.2-4", "5.1.6.5.7.2", ctrl_dev_rss_table(2),
       [](World& w) {
         w.drv->init_modern_ctrl(kCtrlFeatures | fmask(F::kNetRss), 2);
         w.drv->ctrl_cmd(kMq, 1, rss_config(0x2, {0, 1, 0, 1}, 0, 2, 40));  // mask 3, limit 2
       }},
      {"drv-5.1.6.5.7.2-5", "5.1.6.5.7.2", ctrl_dev(),
       [](World& w) {
         w.drv->init_modern_ctrl(kCtrlFeatures | fmask(F::kNetRss), 2);
         w.drv->ctrl_cmd(kMq, 1, rss_config(0x400, {0, 1}, 0, 2, 40));  // bit 10
       }},
      {"def-5.1.6.5.8-1", "5.1.6.5.8", ctrl_dev(),
       [](World& w) {
         w.drv->init_modern_ctrl(kCtrlFeatures);  // no CTRL_GUEST_OFFLOADS
         w.drv->ctrl_cmd(5, 0, {0, 0, 0, 0, 0, 0, 0, 0});
       }},
      {"drv-5.1.6.5.8.2-1", "5.1.6.5.8.2", ctrl_dev(),
       [](World& w) {
         w.drv->init_modern_ctrl(kCtrlFeatures);
         w.drv->ctrl_cmd(5, 0, {2, 0, 0, 0, 0, 0, 0, 0});  // GUEST_CSUM, not negotiated
       }},
  };
  return all;
}

const Provocation* provocation_for(std::string_view id) {
  for (const auto& p : provocations())
    if (id == p.id) return &p;
  return nullptr;
}

class RuleFires : public ::testing::TestWithParam<size_t> {};

TEST_P(RuleFires, ViolationCarriesTheRuleId) {
  const SpecRule& rule = kSpecRules[GetParam()];
  const Provocation* p = provocation_for(rule.id);
  ASSERT_NE(p, nullptr) << "no provocation for rule " << rule.id << " (" << rule.what << ")";
  World w(p->config);
  p->provoke(w);
  const Conformance& c = w.dev->conformance();
  std::string seen;
  bool found = false;
  for (const auto& v : c.violations()) {
    seen += "  [" + v.section + " " + v.id + "] " + v.message + "\n";
    if (v.id == rule.id) {
      found = true;
      EXPECT_EQ(v.section, p->section) << v.message;
    }
  }
  EXPECT_TRUE(found) << rule.id << " did not fire; recorded:\n" << seen;
  EXPECT_TRUE(c.has(std::string(rule.id)));
  EXPECT_TRUE(c.has(p->section));
}

INSTANTIATE_TEST_SUITE_P(SpecRules, RuleFires, ::testing::Range(size_t{0}, kNumSpecRules),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           std::string name(kSpecRules[info.param].id);
                           for (char& ch : name)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return name;
                         });

TEST(RuleFiresToo, EveryProvocationNamesARule) {
  for (const auto& p : provocations()) {
    bool known = false;
    for (const auto& r : kSpecRules) known |= r.id == p.id;
    EXPECT_TRUE(known) << p.id;
  }
}

// The provocations' baseline: the same register-level driver doing it right
// on both MMIO versions breaks no rule (so each MMIO rule above fires on the
// planted mistake alone), and traffic flows.
TEST(RuleFiresToo, ConformingMmioDriverBreaksNoRule) {
  for (bool v1 : {true, false}) {
    World w(mmio(v1));
    w.drv->init_mmio(v1 ? kMmioV1Features : kModernFeatures, v1);
    EXPECT_TRUE(w.dev->queue_ready(0) && w.dev->queue_ready(1)) << (v1 ? "v1" : "v2");
    w.dev->raise_config_change();
    const uint32_t isr = w.drv->mr(mm::kInterruptStatus);
    EXPECT_EQ(isr, 2u);
    w.drv->mw(mm::kInterruptAck, isr);
    EXPECT_EQ(w.drv->mr(mm::kInterruptStatus), 0u);
    w.drv->send(test_frame(60), v1 ? 10 : 12);
    w.drv->mw(mm::kQueueNotify, 1);
    EXPECT_EQ(w.dev->counters().tx_frames, 1u) << (v1 ? "v1" : "v2");
    std::string seen;
    for (const auto& v : w.dev->conformance().violations()) seen += v.id + " " + v.message + "\n";
    EXPECT_TRUE(w.dev->conformance().empty()) << (v1 ? "v1:\n" : "v2:\n") << seen;
  }
}

// A legacy (virtio-mmio v1) device that resets itself between the driver's
// InterruptStatus read and its InterruptACK: the ack of what it read is not
// the driver's violation (the threaded tests' device thread does exactly
// this, and the checker once blamed the driver for it, now and then).
TEST(RuleFiresToo, AnAckAcrossTheDevicesOwnResetIsNotTheDrivers) {
  World w(mmio(true));
  w.drv->init_mmio(kMmioV1Features, true);
  w.dev->raise_config_change();
  const uint32_t isr = w.drv->mr(mm::kInterruptStatus);
  ASSERT_EQ(isr, 2u);
  w.dev->device_reset();  // the device loses its state, raises a config interrupt
  w.drv->mw(mm::kInterruptAck, isr);
  std::string seen;
  for (const auto& v : w.dev->conformance().violations()) seen += v.id + " " + v.message + "\n";
  EXPECT_TRUE(w.dev->conformance().empty()) << seen;
  // An ack of a bit never read is still the driver's.
  w.drv->mw(mm::kInterruptAck, 1);
  EXPECT_TRUE(w.dev->conformance().has("drv-4.2.2.2-17"));
}

// The sections tests matched before the ids existed still count.
TEST(RuleFiresToo, SectionAndIdBothMatch) {
  World w(modern());
  w.drv->init_modern(kModernFeatures);
  w.drv->tx.set_avail_idx(40);  // more than the queue size ahead
  w.drv->notify_modern(1);
  const Conformance& c = w.dev->conformance();
  EXPECT_EQ(c.count("2.7.13"), 1u);
  EXPECT_EQ(c.count("drv-3.3.1-1"), 1u);
  EXPECT_EQ(c.fired("drv-3.3.1-1"), 1u);
  EXPECT_EQ(c.fired("drv-3.1.1-1"), 0u);
  EXPECT_FALSE(c.has("drv-3.1.1-1"));
}

}  // namespace
}  // namespace vnet::mock
