// Mutation robustness: every trace of the corpus, with one device input
// changed (a used length, a used id, the used index, an rx header byte, a
// config value, any register value, a BAR, an allocation answer, frame
// bytes), replays to either the end or a clean divergence report: never a
// crash, hang or sanitizer report (run this under the asan preset).
//
// Deterministic: a fixed seed picks the events and the new values.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "replay/replayer.h"
#include "tests/replay/replay_test_util.h"

namespace vnet::replay {
namespace {

// splitmix64: small, fast, deterministic.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }
};

enum class Target {
  kUsedLen,
  kUsedId,
  kUsedIdx,
  kRxHeader,
  kConfig,
  kRegister,
  kBar,
  kAlloc,
  kFrame
};
constexpr Target kTargets[] = {Target::kUsedLen,  Target::kUsedId, Target::kUsedIdx,
                               Target::kRxHeader, Target::kConfig, Target::kRegister,
                               Target::kBar,      Target::kAlloc,  Target::kFrame};
const char* target_name(Target t) {
  static const char* kNames[] = {"used_len", "used_id",  "used_idx", "rx_header", "config",
                                 "register", "bar_info", "alloc",    "frame"};
  return kNames[static_cast<int>(t)];
}

bool is_config_read(const Trace& t, const Event& e) {
  if (e.kind != EventKind::kRegRead) return false;
  const bool legacy = t.header.transport == "pci-legacy";
  if (legacy) return e.r8 == static_cast<uint8_t>(Region::kBar0) && e.u32 >= 0x14;
  // The mock's modern device config window: BAR4 + 0x2000.
  return e.r8 == static_cast<uint8_t>(Region::kBar4) && e.u32 >= 0x2000 && e.u32 < 0x3000;
}

bool matches(const Trace& t, const Event& e, Target target) {
  const auto part = static_cast<MemPart>(e.r8);
  switch (target) {
    case Target::kUsedLen:
    case Target::kUsedId:
      // A run of used elements, 8 bytes each.
      return e.kind == EventKind::kFetch && part == MemPart::kUsedElem && e.data.len >= 8 &&
             e.data.len % 8 == 0;
    case Target::kUsedIdx:
      return e.kind == EventKind::kFetch && part == MemPart::kUsedIdx && e.data.len == 2;
    case Target::kRxHeader:
      return e.kind == EventKind::kFetch && part == MemPart::kRxHeader && e.data.len > 0;
    case Target::kConfig:
      return is_config_read(t, e);
    case Target::kRegister:
      return e.kind == EventKind::kRegRead;
    case Target::kBar:
      return e.kind == EventKind::kBarInfo;
    case Target::kAlloc:
      return (e.kind == EventKind::kDmaAlloc || e.kind == EventKind::kPoolAlloc) && e.b8;
    case Target::kFrame:
      return e.kind == EventKind::kFrame && e.data.len > 0;
  }
  return false;
}

// A value a lying device would pick: random, extreme, or one bit off.
uint32_t nasty(Rng& rng, uint32_t original) {
  switch (rng.below(5)) {
    case 0:
      return static_cast<uint32_t>(rng.next());
    case 1:
      return 0;
    case 2:
      return 0xFFFF'FFFFu;
    case 3:
      return original ^ (1u << rng.below(32));
    default:
      return original + 1 + static_cast<uint32_t>(rng.below(300));
  }
}

void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t get32(const uint8_t* p) {
  return p[0] | p[1] << 8 | p[2] << 16 | uint32_t(p[3]) << 24;
}

// Applies one mutation in place.
std::string mutate(Trace& t, Event& e, Target target, Rng& rng) {
  uint8_t* d = t.bytes.data() + e.data.off;
  switch (target) {
    case Target::kUsedLen: {
      uint8_t* el = d + 8 * rng.below(e.data.len / 8);
      put32(el + 4, nasty(rng, get32(el + 4)));
      return "used len " + std::to_string(get32(el + 4));
    }
    case Target::kUsedId: {
      uint8_t* el = d + 8 * rng.below(e.data.len / 8);
      put32(el, rng.below(2) ? nasty(rng, get32(el)) : static_cast<uint32_t>(rng.below(512)));
      return "used id " + std::to_string(get32(el));
    }
    case Target::kUsedIdx: {
      const uint16_t v = static_cast<uint16_t>(nasty(rng, d[0] | d[1] << 8));
      d[0] = static_cast<uint8_t>(v);
      d[1] = static_cast<uint8_t>(v >> 8);
      return "used idx " + std::to_string(v);
    }
    case Target::kRxHeader:
    case Target::kFrame: {
      const size_t i = rng.below(e.data.len);
      d[i] = static_cast<uint8_t>(rng.below(2) ? rng.next() : d[i] ^ (1u << rng.below(8)));
      return "byte " + std::to_string(i);
    }
    case Target::kConfig:
    case Target::kRegister: {
      const uint32_t mask = e.w8 == 4 ? 0xFFFF'FFFFu : (1u << (8 * e.w8)) - 1;
      e.u64 = nasty(rng, static_cast<uint32_t>(e.u64)) & mask;
      return "value " + std::to_string(e.u64);
    }
    case Target::kBar:
      switch (rng.below(3)) {
        case 0:
          e.b8 = !e.b8;
          return "present flipped";
        case 1:
          e.c8 = !e.c8;
          return "io flipped";
        default:
          e.u64 = rng.below(2) ? rng.below(0x100) : rng.next();
          return "size";
      }
    case Target::kAlloc:
      e.b8 = 0;
      e.u32 = kNoId;
      return "allocation refused";
  }
  return "";
}

std::vector<std::string> corpus_files() {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(VNET_CORPUS_DIR))
    if (e.path().extension() == ".jsonl") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(MutationRobustness, EveryMutatedInputEndsInAPassOrACleanDivergence) {
  constexpr int kPerTarget = 6;
  // After a divergence the driver gets benign answers until it returns;
  // this many would mean it does not return.
  constexpr uint64_t kRunaway = 1'000'000;
  Rng rng{0x5EED'0F'7ACEull};
  std::map<std::string, std::pair<int, int>> outcome;  // target -> (passed, diverged)
  size_t total = 0;
  const auto files = corpus_files();
  ASSERT_GE(files.size(), 20u) << "the mock corpus is missing";
  for (const std::string& file : files) {
    Trace t = load_trace_file(file);
    for (Target target : kTargets) {
      std::vector<size_t> candidates;
      for (size_t i = 0; i < t.events.size(); ++i)
        if (matches(t, t.events[i], target)) candidates.push_back(i);
      if (candidates.empty()) continue;
      for (int n = 0; n < kPerTarget; ++n) {
        const size_t idx = candidates[rng.below(candidates.size())];
        const Event saved = t.events[idx];
        const std::vector<uint8_t> saved_bytes(t.bytes.begin() + saved.data.off,
                                               t.bytes.begin() + saved.data.off + saved.data.len);
        const std::string what = mutate(t, t.events[idx], target, rng);
        SCOPED_TRACE(file + " event " + std::to_string(idx + 1) + ": " + target_name(target) + " " +
                     what);
        const ReplayResult r = replay(t);
        ++total;
        EXPECT_LT(r.benign_calls, kRunaway) << "the driver did not return";
        if (r.passed) {
          ++outcome[target_name(target)].first;
        } else {
          ASSERT_TRUE(r.divergence.has_value()) << "neither passed nor diverged";
          EXPECT_GE(r.divergence->event_index, idx) << "diverged before the mutated input";
          EXPECT_FALSE(r.divergence->expected.empty());
          EXPECT_FALSE(r.divergence->actual.empty());
          ++outcome[target_name(target)].second;
        }
        t.events[idx] = saved;
        std::copy(saved_bytes.begin(), saved_bytes.end(), t.bytes.begin() + saved.data.off);
      }
    }
    // Restored exactly: the unmutated trace still passes.
    ASSERT_TRUE(replay(t).passed) << file;
  }
  std::string summary;
  for (const auto& [name, pd] : outcome)
    summary += name + ": " + std::to_string(pd.first) + " passed, " + std::to_string(pd.second) +
               " diverged\n";
  std::printf("%zu mutated replays\n%s", total, summary.c_str());
  EXPECT_GT(total, 1000u);
  // Device inputs the driver interprets change what it does.
  EXPECT_GT(outcome["used_id"].second, 0) << summary;
  EXPECT_GT(outcome["used_len"].second, 0) << summary;
  EXPECT_GT(outcome["config"].second, 0) << summary;
  // Frame bytes are handed on uninterpreted: the driver does the same.
  EXPECT_EQ(outcome["frame"].second, 0) << summary;
}

}  // namespace
}  // namespace vnet::replay
