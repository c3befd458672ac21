// The attack-surface map's parts (docs/attack-surface.md): the counting
// decorator, the site enumerator's rules, and the whole path from a driver
// read to its site -- unwinding through driver frames, symbolising with
// inlining, skipping accessors -- on a real probe of the real driver.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "driver/spec/pci_layout.h"
#include "driver/spec/virtio_constants.h"
#include "driver/transport/pci_probe.h"
#include "surface/site_counts.h"
#include "surface/surface_platform.h"
#include "tools/vnet-surface/process.h"
#include "tools/vnet-surface/sites.h"
#include "tools/vnet-surface/surface_map.h"
#include "tools/vnet-surface/symbolize.h"

namespace vnet {
namespace {

namespace fs = std::filesystem;
using surface::SiteCounts;
using surface::SurfacePlatform;
using namespace surface_tool;

// A device that answers PCI config reads from a table (modern virtio-net
// ids, no capability list) and fetches with a fixed pattern.
class FakeDevice final : public Platform {
 public:
  uint32_t next_value = 0;
  bool from_table = false;

  uint32_t reg_read(Region region, uint32_t offset, uint8_t) override {
    if (!from_table) return next_value;
    if (region != Region::kPciConfig) return 0;
    if (offset == spec::pci::kVendorId) return spec::kPciVendorVirtio;
    if (offset == spec::pci::kDeviceId) return spec::kPciDeviceNetModern;
    return 0;  // status: no capability list
  }
  void reg_write(Region, uint32_t, uint8_t, uint32_t) override {}
  BarInfo bar_info(uint8_t) override { return {}; }
  bool dma_alloc(size_t, size_t, DmaRegion*) override { return false; }
  void dma_free(const DmaRegion&) override {}
  void fetch(const DeviceMemRef&, const volatile void*, void* dst, size_t len) override {
    auto* d = static_cast<uint8_t*>(dst);
    for (size_t i = 0; i < len; ++i) d[i] = static_cast<uint8_t>(i / 8 + 1);
  }
  void barrier(Barrier) override {}
  uint64_t now_ns() override { return 0; }
  void log(LogLevel, const char*) override {}
};

nlohmann::json dump(const SiteCounts& counts) {
  std::FILE* f = std::tmpfile();
  counts.write_json(f);
  std::rewind(f);
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  std::fclose(f);
  return nlohmann::json::parse(text);
}

TEST(SurfacePlatform, CountsHitsAndCapsDistinctValues) {
  FakeDevice dev;
  SiteCounts counts;
  SurfacePlatform p(dev, counts);
  for (uint32_t i = 0; i < 100; ++i) {
    dev.next_value = i % 70;
    EXPECT_EQ(p.reg_read(Region::kBar0, 0, 4), i % 70);  // forwarded unchanged
  }
  const auto j = dump(counts);
  ASSERT_EQ(j["records"].size(), 1u);  // one call site, one stack
  const auto& r = j["records"][0];
  EXPECT_EQ(r["kind"], "reg_read");
  EXPECT_EQ(r["hits"], 100);
  EXPECT_EQ(r["values"].size(), SiteCounts::kMaxValues);
  EXPECT_TRUE(r["more"].get<bool>());
  EXPECT_GE(r["pcs"].size(), 2u);
}

TEST(SurfacePlatform, UsedElementRunCountsOneValuePerElement) {
  FakeDevice dev;
  SiteCounts counts;
  SurfacePlatform p(dev, counts);
  uint8_t run[24];
  p.fetch(DeviceMemRef{0, MemPart::kUsedElem, 0, false}, nullptr, run, sizeof(run));
  const auto j = dump(counts);
  ASSERT_EQ(j["records"].size(), 1u);
  EXPECT_EQ(j["records"][0]["hits"], 1);
  EXPECT_EQ(j["records"][0]["values"].size(), 3u);  // elements 1.., 2.., 3..
  EXPECT_FALSE(j["records"][0]["more"].get<bool>());
}

class TempTree {
 public:
  TempTree() {
    std::string tmpl = ::testing::TempDir() + "vnet-surface-test-XXXXXX";
    root_ = mkdtemp(tmpl.data());
  }
  ~TempTree() { fs::remove_all(root_); }
  void write(const std::string& rel, const std::string& text) {
    fs::create_directories((fs::path(root_) / rel).parent_path());
    std::ofstream(fs::path(root_) / rel) << text;
  }
  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

TEST(SiteEnumerator, FindsCallsSkipsCommentsDeclarationsAccessorBodiesAndShims) {
  TempTree t;
  t.write("driver/transport/x.cc",
          "// platform_->reg_read(Region::kBar0, 0, 1) only in a comment\n"  // 1
          "uint8_t cfg8(Platform& p, uint32_t off) {\n"                      // 2
          "  return static_cast<uint8_t>(p.reg_read(Region::kPciConfig, off, 1));\n"
          "}\n"                                                                 // 4
          "uint32_t Foo::bar() {\n"                                             // 5
          "  return cfg8(*platform_, spec::pci::kCapLen) +\n"                   // 6
          "         platform_->reg_read(Region::kBar0, reg::kIsrStatus, 1);\n"  // 7
          "}\n"                                                                 // 8
          "void Foo::baz() {\n"                                                 // 9
          "  platform_->fetch(DeviceMemRef{q, MemPart::kUsedIdx, 0, false},\n"  // 10
          "                   src, &dst, 2);  /* fetch( in a comment */\n"      // 11
          "}\n");
  t.write("driver/transport/x.h",
          "class Foo {\n"
          "  uint32_t common_read(uint32_t off, uint8_t width);\n"
          "  virtual bool config_read(uint32_t offset, uint8_t width, uint32_t* value) = 0;\n"
          "};\n");
  t.write("driver/platform/shim.h", "  uint32_t f() { return inner_.reg_read(r, o, w); }\n");
  const std::vector<Site> s = enumerate_sites(t.root());
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].id(), "driver/transport/x.cc:6");
  EXPECT_EQ(s[0].via, "cfg8");
  EXPECT_EQ(s[0].field, "pci::kCapLen");
  EXPECT_EQ(s[0].function, "Foo::bar");
  EXPECT_EQ(s[1].id(), "driver/transport/x.cc:7");
  EXPECT_EQ(s[1].kind, "reg_read");
  EXPECT_EQ(s[1].field, "reg::kIsrStatus");
  EXPECT_EQ(s[2].id(), "driver/transport/x.cc:10");
  EXPECT_EQ(s[2].kind, "fetch");
  EXPECT_EQ(s[2].field, "MemPart::kUsedIdx");
  EXPECT_EQ(s[2].last_line, 11);
  EXPECT_EQ(find_site(s, "driver/transport/x.cc", 11), 2);
  EXPECT_EQ(find_site(s, "driver/transport/x.cc", 3), -1);
}

TEST(SiteEnumerator, TheDriverHasReadSitesInEveryLayer) {
  const std::vector<Site> s = enumerate_sites(VNET_SOURCE_DIR);
  int transport = 0, ring = 0, net = 0;
  for (const Site& x : s) {
    transport += x.file.rfind("driver/transport/", 0) == 0;
    ring += x.file.rfind("driver/virtqueue/", 0) == 0;
    net += x.file.rfind("driver/net/", 0) == 0;
    EXPECT_TRUE(x.function != "?") << x.id();
  }
  EXPECT_GT(transport, 10);
  EXPECT_GT(ring, 3);
  EXPECT_GT(net, 2);
}

TEST(Symbols, NamesWithoutParametersAndLambdas) {
  EXPECT_EQ(function_base_name("vnet::(anonymous namespace)::cfg8(vnet::Platform&, unsigned int)"),
            "cfg8");
  EXPECT_EQ(function_base_name("vnet::PciModernTransport::config_read(unsigned int, unsigned "
                               "char, unsigned int*)"),
            "config_read");
  EXPECT_EQ(function_short_name("vnet::VirtioNet::negotiate_config(unsigned long*)::$_0::"
                                "operator()(vnet::ConfigSnapshot&) const"),
            "VirtioNet::negotiate_config(lambda)");
}

// The whole path on the real driver: a probe through the counter, the
// counts symbolised from this very executable, each read at its site.
TEST(EndToEnd, ProbeReadsLandOnTheirSites) {
  const std::string symbolizer = find_program({"llvm-symbolizer-14", "llvm-symbolizer"});
  if (symbolizer.empty()) GTEST_SKIP() << "no llvm-symbolizer";
  FakeDevice dev;
  dev.from_table = true;
  SiteCounts counts;
  SurfacePlatform p(dev, counts);
  PciTransports transports;
  const ProbeResult r = transports.probe(p, PciMode::kAuto);
  EXPECT_EQ(r.error, ProbeError::kModernUnusable);  // no capability list

  TempTree scratch;
  const std::vector<Site> sites = enumerate_sites(VNET_SOURCE_DIR);
  Symbolizer sym(symbolizer, scratch.root());
  MapBuilder builder(sites, fs::weakly_canonical(VNET_SOURCE_DIR).string(), sym);
  WorldMap world;
  builder.add_dump(world, dump(counts));
  EXPECT_TRUE(world.unlisted.empty()) << world.unlisted.begin()->first;
  EXPECT_EQ(world.outside_driver, 0u);
  auto stats = [&](const std::string& file, const std::string& field) {
    for (size_t i = 0; i < sites.size(); ++i)
      if (sites[i].file == file && sites[i].field == field) return world.sites[i];
    ADD_FAILURE() << "no site " << file << " " << field;
    return SiteStats{};
  };
  const SiteStats vendor = stats("driver/transport/pci_probe.cc", "pci::kVendorId");
  EXPECT_EQ(vendor.hits, 1u);
  EXPECT_EQ(vendor.values, std::set<uint64_t>{spec::kPciVendorVirtio});
  EXPECT_EQ(stats("driver/transport/pci_probe.cc", "pci::kDeviceId").hits, 1u);
  // Read through the cfg16 accessor: the site is the accessor's caller.
  const SiteStats status = stats("driver/transport/pci_modern.cc", "pci::kStatus");
  EXPECT_EQ(status.hits, 1u);
  EXPECT_EQ(status.values, std::set<uint64_t>{0});
  uint64_t total = 0;
  for (const SiteStats& s : world.sites) total += s.hits;
  EXPECT_EQ(total, 3u);  // and nothing else
}

}  // namespace
}  // namespace vnet
