// fuzz_boundary_typed's input format and classification (typed_streams.h):
//
//   format      the stream table round-trips (markers inside a stream are
//               escaped), bytes before the first marker are stream 0, a tag
//               is taken modulo the stream count, a marker without its tag
//               ends the table
//   classify    PCI configuration, the modern common / ISR / device windows
//               found through the capabilities the input answered (device
//               status in the ISR/status stream), the legacy BAR 0 layout,
//               and the mode that excludes one or the other
//   convert     every fuzz_boundary input given (a corpus directory) turned
//               into its typed form answers the driver exactly as the flat
//               one did (answer digests equal), and the driver ends with
//               the same counters under fuzz_boundary and fuzz_boundary_typed
//
//   fuzz_typed_streams_test [FLAT_CORPUS_DIR]
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include <string>
#include <vector>

#include "driver/spec/pci_layout.h"
#include "fuzz/harness/targets.h"
#include "fuzz/harness/typed_streams.h"
#include "fuzz/harness/world.h"

namespace {

using namespace vnet;
using namespace vnet::fuzz;

int g_failed = 0;
#define CHECK(cond)                                                     \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf(stderr, "%s:%d: CHECK(%s)\n", __FILE__, __LINE__, #cond); \
      ++g_failed;                                                       \
    }                                                                   \
  } while (0)

uint32_t g_rng = 12345;
uint32_t rnd() {
  g_rng = g_rng * 1103515245u + 12345u;
  return g_rng >> 8;
}

void test_round_trip() {
  for (int iter = 0; iter < 2000; ++iter) {
    StreamBytes in;
    for (unsigned k = 0; k < kNumStreams; ++k) {
      const unsigned n = rnd() % 4 == 0 ? 0 : rnd() % 40;
      for (unsigned i = 0; i < n; ++i) {
        // Markers, marker prefixes and the escape byte, often.
        switch (rnd() % 8) {
          case 0:
            in[k].insert(in[k].end(), kStreamMarker, kStreamMarker + 4);
            break;
          case 1:
            in[k].insert(in[k].end(), kStreamMarker, kStreamMarker + 1 + rnd() % 3);
            break;
          case 2:
            in[k].push_back(kMarkerEscape);
            break;
          default:
            in[k].push_back(static_cast<uint8_t>(rnd()));
        }
      }
    }
    std::vector<uint8_t> bytes;
    append_streams(in, &bytes);
    StreamBytes out;
    parse_streams(bytes.data(), bytes.size(), out);
    for (unsigned k = 0; k < kNumStreams; ++k) CHECK(out[k] == in[k]);
  }
}

void test_parse_rules() {
  const uint8_t m[4] = {kStreamMarker[0], kStreamMarker[1], kStreamMarker[2], kStreamMarker[3]};
  std::vector<uint8_t> b = {1, 2};                            // stream 0
  b.insert(b.end(), m, m + 4), b.push_back(5 + kNumStreams);  // tag 17 -> stream 5
  b.push_back(7);
  b.insert(b.end(), m, m + 4), b.push_back(kMarkerEscape);  // the marker as data
  b.push_back(8);
  b.insert(b.end(), m, m + 4), b.push_back(0);  // stream 0 again
  b.push_back(3);
  b.insert(b.end(), m, m + 4);  // a marker without its tag
  StreamBytes s;
  parse_streams(b.data(), b.size(), s);
  CHECK((s[0] == std::vector<uint8_t>{1, 2, 3}));
  CHECK((s[5] == std::vector<uint8_t>{7, m[0], m[1], m[2], m[3], 8}));
  for (unsigned k = 1; k < kNumStreams; ++k)
    if (k != 5) CHECK(s[k].empty());
}

// A modern device: capabilities at 0x40 (common, BAR 4 at 0), 0x50 (ISR,
// BAR 4 at 0x1000), 0x60 (device, BAR 4 at 0x2000); BAR 4 is 16 KiB.
void answer_modern(ReadClassifier& c) {
  namespace pci = spec::pci;
  c.on_config_read(pci::kVendorId, 2, 0x1AF4);
  c.on_config_read(pci::kStatus, 2, pci::kStatusCapList);
  c.on_config_read(pci::kCapabilitiesPtr, 1, 0x40);
  const struct {
    uint32_t at;
    uint8_t type;
    uint32_t offset;
    uint32_t length;
    uint8_t next;
  } caps[] = {{0x40, pci::kCfgTypeCommon, 0, 0x38, 0x50},
              {0x50, pci::kCfgTypeIsr, 0x1000, 1, 0x60},
              {0x60, pci::kCfgTypeDevice, 0x2000, 0x10, 0}};
  for (const auto& cap : caps) {
    c.on_config_read(cap.at + pci::kCapVndr, 1, pci::kCapIdVendor);
    c.on_config_read(cap.at + pci::kCapNext, 1, cap.next);
    c.on_config_read(cap.at + pci::kCapLen, 1, 16);
    c.on_config_read(cap.at + pci::kCapCfgType, 1, cap.type);
    c.on_config_read(cap.at + pci::kCapBar, 1, 4);
    c.on_config_read(cap.at + pci::kCapOffset, 4, cap.offset);
    c.on_config_read(cap.at + pci::kCapLength, 4, cap.length);
  }
  c.on_bar_info(4, BarInfo{true, false, 0x4000});
}

void test_classify() {
  namespace common = spec::pci::common;
  namespace legacy = spec::pci::legacy;
  ReadClassifier c;
  c.begin(PciMode::kAuto);
  answer_modern(c);
  CHECK(c.classify(Region::kPciConfig, 0x34) == Stream::kPciConfig);
  CHECK(c.classify(bar_region(4), common::kDeviceStatus) == Stream::kIsrStatus);
  CHECK(c.classify(bar_region(4), common::kQueueSize) == Stream::kCommonCfg);
  CHECK(c.classify(bar_region(4), common::kConfigGeneration) == Stream::kCommonCfg);
  CHECK(c.classify(bar_region(4), 0x1000) == Stream::kIsrStatus);
  CHECK(c.classify(bar_region(4), 0x2006) == Stream::kDeviceCfg);
  CHECK(c.classify(bar_region(4), 0x2010) == Stream::kCommonCfg);  // past the device window
  // BAR 0 outside every window: the legacy layout (kAuto).
  CHECK(c.classify(bar_region(0), legacy::kDeviceStatus) == Stream::kIsrStatus);
  CHECK(c.classify(bar_region(0), legacy::kIsrStatus) == Stream::kIsrStatus);
  CHECK(c.classify(bar_region(0), legacy::kConfigNoMsix + 4) == Stream::kDeviceCfg);
  CHECK(c.classify(bar_region(0), legacy::kQueueSize) == Stream::kCommonCfg);
  // A BAR too small for the windows: the capabilities are not usable.
  c.on_bar_info(4, BarInfo{true, false, 0x1000});
  CHECK(c.classify(bar_region(4), 0x2006) == Stream::kCommonCfg);
  CHECK(c.classify(bar_region(4), common::kDeviceStatus) == Stream::kIsrStatus);
  // A new probe (vendor id read) forgets the old answers.
  c.on_config_read(spec::pci::kVendorId, 2, 0x1AF4);
  CHECK(c.classify(bar_region(4), common::kDeviceStatus) == Stream::kCommonCfg);

  ReadClassifier modern_only;
  modern_only.begin(PciMode::kModern);
  answer_modern(modern_only);
  CHECK(modern_only.classify(bar_region(0), legacy::kDeviceStatus) == Stream::kCommonCfg);
  CHECK(modern_only.classify(bar_region(4), 0x2006) == Stream::kDeviceCfg);

  ReadClassifier legacy_only;
  legacy_only.begin(PciMode::kLegacy);
  answer_modern(legacy_only);
  CHECK(legacy_only.classify(bar_region(4), 0x2006) == Stream::kCommonCfg);
  CHECK(legacy_only.classify(bar_region(0), legacy::kConfigNoMsix) == Stream::kDeviceCfg);
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::vector<uint8_t> v;
  FILE* f = fopen(path.c_str(), "rb");
  if (f == nullptr) return v;
  uint8_t buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) v.insert(v.end(), buf, buf + n);
  fclose(f);
  return v;
}

// The driver's counters after the last input (World::get(): the stopped driver).
std::vector<uint64_t> counters() {
  std::vector<uint64_t> v;
  World::get().net().counters().for_each([&](const char*, uint64_t x) { v.push_back(x); });
  return v;
}

void test_convert(const char* dir) {
  DIR* d = opendir(dir);
  CHECK(d != nullptr);
  if (d == nullptr) return;
  int n = 0, same_size_or_smaller = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const std::vector<uint8_t> flat = read_file(std::string(dir) + "/" + e->d_name);
    uint64_t want = 0;
    const std::vector<uint8_t> typed = typed_from_flat(flat.data(), flat.size(), &want);
    run_fuzz_boundary(flat.data(), flat.size());
    const std::vector<uint64_t> flat_counters = counters();
    run_fuzz_boundary_typed(typed.data(), typed.size());
    if (typed_answer_digest() != want) {
      fprintf(stderr, "%s: the typed form answers differently\n", e->d_name);
      ++g_failed;
    }
    if (counters() != flat_counters) {
      fprintf(stderr, "%s: the driver's counters differ after the typed form\n", e->d_name);
      ++g_failed;
    }
    if (typed.size() <= flat.size() + 5 * kNumStreams) ++same_size_or_smaller;
    ++n;
  }
  closedir(d);
  CHECK(n > 0);
  CHECK(same_size_or_smaller == n);
  printf("convert: %d flat inputs, each run flat and typed\n", n);
}

}  // namespace

int main(int argc, char** argv) {
  test_round_trip();
  test_parse_rules();
  test_classify();
  if (argc > 1) test_convert(argv[1]);
  printf("%s\n", g_failed == 0 ? "typed streams: ok" : "typed streams: FAILED");
  return g_failed == 0 ? 0 : 1;
}
