// The loader: a valid trace loads; every kind of malformation is refused
// with the line and what is wrong.
#include <gtest/gtest.h>

#include <string.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <string>

#include "replay/trace.h"

namespace vnet::replay {
namespace {

const std::string kHeader =
    R"({"format":"vnetkit-trace","version":1,"driver_version":"0.1.0","pool":{"buffer_size":2048,"buffers":8},"recorded":{"where":"hand","when":"","by":"test"}})";

std::string trace_of(const std::vector<std::string>& events) {
  std::string s = kHeader + "\n";
  for (const auto& e : events) s += e + "\n";
  s += R"({"ev":"end","events":)" + std::to_string(events.size()) + "}\n";
  return s;
}

// The message of the TraceError load_trace throws (empty when it loads).
std::string load_error(const std::string& text, size_t* line = nullptr) {
  try {
    load_trace(text, "t.jsonl");
  } catch (const TraceError& e) {
    if (line != nullptr) *line = e.line();
    return e.what();
  }
  return "";
}

TEST(TraceLoad, EveryEventKindLoads) {
  const std::string text = trace_of({
      R"({"ev":"call","fn":"probe","mode":"auto"})",
      R"({"ev":"reg_read","region":"pci_config","off":0,"w":2,"val":6900})",
      R"({"ev":"reg_write","region":"bar4","off":32,"w":4,"val":{"dma":0,"off":16,"as":"lo32"}})",
      R"({"ev":"bar_info","bar":4,"present":true,"io":false,"size":16384})",
      R"({"ev":"dma_alloc","size":4096,"align":4096,"ok":true,"id":0})",
      R"({"ev":"dma_alloc","size":4096,"align":4096,"ok":false})",
      R"({"ev":"dma_free","id":0})",
      R"({"ev":"fetch","q":0,"part":"used_elem","idx":3,"data":"0300000040000000"})",
      R"({"ev":"fetch","q":0,"part":"used_idx","idx":0,"recheck":true,"data":"0100"})",
      R"({"ev":"frame","q":0,"desc":3,"data":"0200000000010200000000028"})",
  });
  // The frame has an odd number of digits: refused, and the line says so.
  size_t line = 0;
  EXPECT_NE(load_error(text, &line).find("odd number of hex digits"), std::string::npos);
  EXPECT_EQ(line, 11u);

  const std::string good = trace_of({
      R"({"ev":"call","fn":"attach","options":{"rx_ring_cap":16,"tx_ring_cap":16,"feature_mask":"0xffffffffffffffff","fallback_mac":"000000000000","fallback_mtu":1500,"max_frame":1514}})",
      R"({"ev":"publish","q":1,"avail":0,"head":0,"segs":[{"desc":0,"len":2,"wr":false,"data":"abcd"},{"desc":1,"len":100,"wr":true}]})",
      R"({"ev":"complete","q":1,"head":0,"len":0})",
      R"({"ev":"barrier","kind":"write"})",
      R"({"ev":"wait_irq","timeout":1000,"ret":false})",
      R"({"ev":"now","val":18446744073709551615})",
      R"({"ev":"log","level":"error","msg":"x"})",
      R"({"ev":"op_begin","op":"rx_burst"})",
      R"({"ev":"op_end","op":"rx_burst"})",
      R"({"ev":"pool_alloc","ok":true,"buf":4})",
      R"({"ev":"pool_alloc","ok":false})",
      R"({"ev":"pool_free","buf":null})",
      R"({"ev":"ret","fn":"attach","val":0,"state":"running","features":"0x100018028","hdr":12,"mtu":1500,"mac":"525400123456","link":true})",
      R"({"ev":"call","fn":"tx_burst","frames":["00112233445566778899aabbccdd"]})",
      R"({"ev":"ret","fn":"poll_device","val":0,"state":"running","events":{"config_changed":true,"link_changed":false,"reset_detected":false,"recovered":false},"link":true})",
  });
  Trace t = load_trace(good, "good.jsonl");
  ASSERT_EQ(t.events.size(), 16u);
  EXPECT_EQ(t.events[5].u64, UINT64_MAX);
  EXPECT_EQ(t.events[11].u32, kNoId);
  EXPECT_EQ(t.segments.size(), 2u);
  EXPECT_EQ(t.calls[0].options.rx_ring_cap, 16);
  EXPECT_EQ(t.rets[0].features, 0x100018028ull);
  EXPECT_EQ(t.calls[1].frames.size(), 1u);
  EXPECT_EQ(t.event_line[0], 2u);
  EXPECT_EQ(t.line(3).substr(0, 16), R"({"ev":"publish",)");
  EXPECT_EQ(t.header.pool_buffer_size, 2048u);
}

const std::string kRead = R"({"ev":"reg_read","region":"bar0","off":18,"w":1,"val":0})";

std::string v2_trace_of(const std::vector<std::string>& events) {
  std::string s = trace_of(events);
  s.replace(s.find("\"version\":1"), 11, "\"version\":2");
  return s;
}

// Format version 2: a register event with "rep" is one event that
// happened rep times; version 1 traces load as before.
TEST(TraceLoad, RepeatCountsInVersion2) {
  const Trace t = load_trace(
      v2_trace_of({R"({"ev":"reg_read","region":"bar0","off":19,"w":1,"val":0,"rep":675451})",
                   R"({"ev":"reg_write","region":"bar0","off":16,"w":2,"val":1,"rep":2})",
                   R"({"ev":"now","val":5})"}),
      "v2.jsonl");
  EXPECT_EQ(t.header.version, 2u);
  ASSERT_EQ(t.events.size(), 4u);
  EXPECT_EQ(event_times(t.events[0]), 675451u);
  EXPECT_EQ(event_times(t.events[1]), 2u);
  EXPECT_EQ(event_times(t.events[2]), 1u);
  EXPECT_EQ(t.logical_events, 675451u + 2u + 1u + 1u);
  const Trace v1 = load_trace(trace_of({kRead}), "v1.jsonl");
  EXPECT_EQ(v1.header.version, 1u);
  EXPECT_EQ(event_times(v1.events[0]), 1u);
}

// The side tables of two loads of one trace hold the same values.
std::string side_tables_differ(const Trace& a, const Trace& b) {
  if (a.segments.size() != b.segments.size()) return "segments";
  for (size_t i = 0; i < a.segments.size(); ++i) {
    const Segment &x = a.segments[i], &y = b.segments[i];
    if (x.desc != y.desc || x.len != y.len || x.writable != y.writable ||
        x.data.off != y.data.off || x.data.len != y.data.len)
      return "segment " + std::to_string(i);
  }
  if (a.calls.size() != b.calls.size()) return "calls";
  for (size_t i = 0; i < a.calls.size(); ++i) {
    const CallArgs &x = a.calls[i], &y = b.calls[i];
    bool same = x.fn == y.fn && x.mode == y.mode && x.max == y.max && x.enabled == y.enabled &&
                x.frames.size() == y.frames.size() &&
                x.options.rx_ring_cap == y.options.rx_ring_cap &&
                x.options.feature_mask == y.options.feature_mask &&
                x.options.interrupts == y.options.interrupts &&
                x.options.irq_storm_limit == y.options.irq_storm_limit &&
                x.options.irq_storm_window_ns == y.options.irq_storm_window_ns &&
                x.irq.kind == y.irq.kind && x.irq.vector == y.irq.vector;
    for (size_t k = 0; same && k < x.frames.size(); ++k)
      same = x.frames[k].off == y.frames[k].off && x.frames[k].len == y.frames[k].len;
    if (!same) return "call " + std::to_string(i);
  }
  if (a.rets.size() != b.rets.size()) return "rets";
  for (size_t i = 0; i < a.rets.size(); ++i) {
    const RetValues &x = a.rets[i], &y = b.rets[i];
    if (x.fn != y.fn || x.value != y.value || x.state != y.state ||
        x.has_transport != y.has_transport || x.transport != y.transport ||
        x.has_negotiated != y.has_negotiated || x.features != y.features ||
        x.hdr_size != y.hdr_size || x.mtu != y.mtu || memcmp(x.mac, y.mac, 6) != 0 ||
        x.has_link != y.has_link || x.link_up != y.link_up || x.has_events != y.has_events)
      return "ret " + std::to_string(i);
  }
  return "";
}

// The fast path (flat lines scanned without a JSON value) gives exactly
// what nlohmann and parse_event() give, on every committed trace: mock
// recordings, QEMU recordings and captures, Linux and firmware captures,
// bug traces, the fuzz_trace seeds.
TEST(TraceLoad, FastPathAgreesOnEveryCommittedTrace) {
  namespace fs = std::filesystem;
  const fs::path root(VNET_SOURCE_DIR);
  size_t files = 0, events = 0;
  for (const char* dir : {"corpus/traces", "tests/replay/captures", "corpus/fuzz/fuzz_trace"}) {
    for (const auto& entry : fs::recursive_directory_iterator(root / dir)) {
      if (!entry.is_regular_file() || entry.path().extension() != ".jsonl") continue;
      const std::string path = entry.path().string();
      std::ifstream in(path, std::ios::binary);
      std::ostringstream ss;
      ss << in.rdbuf();
      LoadOptions slow;
      slow.fast_path = false;
      Trace a, b;
      try {
        a = load_trace(ss.str(), path);
      } catch (const TraceError& e) {
        a.name = e.what();
      }
      try {
        b = load_trace(ss.str(), path, slow);
      } catch (const TraceError& e) {
        b.name = e.what();
      }
      ASSERT_EQ(a.name, b.name);
      ++files;
      ASSERT_EQ(a.events.size(), b.events.size()) << path;
      for (size_t i = 0; i < a.events.size(); ++i) {
        const Event& x = a.events[i];
        const Event& y = b.events[i];
        const bool same = x.kind == y.kind && x.r8 == y.r8 && x.w8 == y.w8 && x.b8 == y.b8 &&
                          x.c8 == y.c8 && x.f8 == y.f8 && x.addr == y.addr && x.a16 == y.a16 &&
                          x.b16 == y.b16 && x.u32 == y.u32 && x.u64 == y.u64 && x.aux == y.aux &&
                          x.data.off == y.data.off && x.data.len == y.data.len;
        ASSERT_TRUE(same) << path << " line " << a.event_line[i];
      }
      events += a.events.size();
      EXPECT_EQ(a.bytes, b.bytes) << path;
      EXPECT_EQ(a.event_line, b.event_line) << path;
      EXPECT_EQ(a.line_offset, b.line_offset) << path;
      EXPECT_EQ(a.kind, b.kind) << path;
      EXPECT_EQ(a.kind_line, b.kind_line) << path;
      EXPECT_EQ(a.driver_start, b.driver_start) << path;
      EXPECT_EQ(a.logical_events, b.logical_events) << path;
      EXPECT_EQ(side_tables_differ(a, b), "") << path;
    }
  }
  EXPECT_GT(files, 100u);
  EXPECT_GT(events, 50000u);
}

// Traces are untrusted input, and the fast path is new code on it: lines
// of committed traces with bytes flipped, cut or duplicated load to the
// same events, or fail with the same message, both ways (a small
// deterministic differential fuzz; the fuzz_trace target does the rest).
class FastPathMutated : public ::testing::TestWithParam<const char*> {};

TEST_P(FastPathMutated, AgreesWithTheSlowPath) {
  std::ifstream in(std::string(VNET_SOURCE_DIR) + "/" + GetParam(), std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string base = ss.str();
  ASSERT_FALSE(base.empty());
  const char kAlphabet[] = "{}[]\":,0123456789-+.eE tfnul\\\"ab\x01\xc3\x7f";
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  auto next = [&] {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
  };
  LoadOptions slow;
  slow.fast_path = false;
  size_t agreed_ok = 0, agreed_error = 0;
  for (int round = 0; round < 1000; ++round) {
    std::string text = base;
    const int edits = 1 + static_cast<int>(next() % 3);
    for (int k = 0; k < edits; ++k) {
      // Edit inside an event line (past the header), most often in a value.
      const size_t at = base.find('\n') + 1 + next() % (text.size() - base.find('\n') - 2);
      switch (next() % 4) {
        case 0:
          text[at] = kAlphabet[next() % (sizeof(kAlphabet) - 1)];
          break;
        case 1:
          text.erase(at, 1 + next() % 4);
          break;
        case 2:
          text.insert(at, 1, kAlphabet[next() % (sizeof(kAlphabet) - 1)]);
          break;
        default:
          text.insert(at, text.substr(at, 1 + next() % 8));
          break;
      }
    }
    std::string ea, eb;
    Trace a, b;
    try {
      a = load_trace(text, "m");
    } catch (const TraceError& e) {
      ea = e.what();
    }
    try {
      b = load_trace(text, "m", slow);
    } catch (const TraceError& e) {
      eb = e.what();
    }
    ASSERT_EQ(ea, eb) << "round " << round;
    if (!ea.empty()) {
      ++agreed_error;
      continue;
    }
    ASSERT_EQ(a.events.size(), b.events.size());
    for (size_t i = 0; i < a.events.size(); ++i)
      ASSERT_TRUE(a.events[i].kind == b.events[i].kind && a.events[i].u64 == b.events[i].u64 &&
                  a.events[i].u32 == b.events[i].u32 && a.events[i].aux == b.events[i].aux &&
                  a.events[i].a16 == b.events[i].a16 && a.events[i].b16 == b.events[i].b16 &&
                  a.events[i].r8 == b.events[i].r8 && a.events[i].w8 == b.events[i].w8 &&
                  a.events[i].b8 == b.events[i].b8 && a.events[i].c8 == b.events[i].c8 &&
                  a.events[i].data.len == b.events[i].data.len)
          << "round " << round << " line " << a.event_line[i];
    ASSERT_EQ(a.bytes, b.bytes) << "round " << round;
    ASSERT_EQ(side_tables_differ(a, b), "") << "round " << round;
    ++agreed_ok;
  }
  EXPECT_GT(agreed_error, 30u);
  EXPECT_GT(agreed_ok, 10u);
}

// A firmware capture (register events, dev_* facts, frames) and a mock
// recording (call, ret, publish with segments, fetch, frame).
INSTANTIATE_TEST_SUITE_P(TraceLoad, FastPathMutated,
                         ::testing::Values("corpus/traces/firmware/edk2-modern.jsonl",
                                           "corpus/traces/mock/modern-traffic.jsonl",
                                           "corpus/traces/mock/legacy-irq_intx.jsonl"));

// A file loaded to be replayed keeps no text: 40-byte events, and the
// lines a report quotes are read back from the file.
TEST(TraceLoad, LeanLoadReadsLinesBackFromTheFile) {
  static_assert(sizeof(Event) == 40);
  const std::string path = ::testing::TempDir() + "lean_load_test.jsonl";
  const std::string text =
      v2_trace_of({R"({"ev":"reg_read","region":"bar0","off":19,"w":1,"val":0,"rep":7})",
                   R"({"ev":"log","level":"info","msg":"hello"})", R"({"ev":"now","val":5})"});
  std::ofstream(path, std::ios::binary) << text;
  LoadOptions lean;
  lean.keep_text = false;
  const Trace t = load_trace_file(path, lean);
  EXPECT_TRUE(t.text.empty());
  EXPECT_EQ(t.source_bytes, text.size());
  EXPECT_EQ(std::string(t.line(3)), R"({"ev":"log","level":"info","msg":"hello"})");
  EXPECT_EQ(std::string(t.line(2)),
            R"({"ev":"reg_read","region":"bar0","off":19,"w":1,"val":0,"rep":7})");
  EXPECT_EQ(std::string(t.line(5)), R"({"ev":"end","events":3})");
  EXPECT_EQ(
      std::string(reinterpret_cast<const char*>(t.data(t.events[1].data)), t.events[1].data.len),
      "hello");
  const Trace kept = load_trace_file(path);
  EXPECT_EQ(kept.text, text);
  EXPECT_EQ(kept.line(3), t.line(3));
  std::remove(path.c_str());
}

// A lean load streams the file in 1 MiB blocks: lines cut by a block's
// end, a line longer than a block, and the errors at the end of a file
// give what a load of the whole text gives.
TEST(TraceLoad, StreamedLoadAgreesAcrossBlocks) {
  std::vector<std::string> events;
  for (int i = 0; i < 40000; ++i)
    events.push_back(R"({"ev":"reg_read","region":"bar0","off":19,"w":1,"val":)" +
                     std::to_string(i % 3) + "}");
  events.push_back(R"({"ev":"log","level":"info","msg":")" + std::string(1500000, 'x') + "\"}");
  for (int i = 0; i < 30000; ++i)
    events.push_back(R"({"ev":"now","val":)" + std::to_string(i) + "}");
  const std::string text = trace_of(events);
  ASSERT_GT(text.size(), 3u << 20);
  const std::string path = ::testing::TempDir() + "streamed_load_test.jsonl";
  LoadOptions lean;
  lean.keep_text = false;
  auto check = [&](const std::string& content) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    std::string ea, eb;
    Trace a, b;
    try {
      a = load_trace_file(path, lean);
    } catch (const TraceError& e) {
      ea = e.what();
    }
    try {
      b = load_trace(content, path);
    } catch (const TraceError& e) {
      eb = e.what();
    }
    EXPECT_EQ(ea, eb);
    if (!ea.empty()) return;
    ASSERT_EQ(a.events.size(), b.events.size());
    EXPECT_EQ(a.line_offset, b.line_offset);
    EXPECT_EQ(a.bytes, b.bytes);
    EXPECT_EQ(a.source_bytes, content.size());
    for (size_t n :
         {size_t{1}, size_t{2}, size_t{40001}, size_t{40002}, size_t{40003}, a.line_offset.size()})
      EXPECT_EQ(std::string(a.line(n)), std::string(b.line(n))) << n;
  };
  check(text);
  check(text.substr(0, text.size() - 1));              // no newline at the end
  check(text.substr(0, text.size() - 10));             // cut inside the end line
  check(text.substr(0, (1u << 20) + 7));               // cut inside a line, past a block
  check(text.substr(0, text.find("xxxx") + 1200000));  // cut inside the long line
  std::remove(path.c_str());
}

struct Bad {
  const char* name;
  std::string text;
  size_t line;
  const char* message;
};

class TraceLoadRefuses : public ::testing::TestWithParam<Bad> {};

TEST_P(TraceLoadRefuses, WithLineAndReason) {
  size_t line = 999;
  const std::string err = load_error(GetParam().text, &line);
  ASSERT_FALSE(err.empty()) << "loaded";
  EXPECT_EQ(line, GetParam().line) << err;
  EXPECT_NE(err.find(GetParam().message), std::string::npos) << err;
  if (line != 0)
    EXPECT_NE(err.find("line " + std::to_string(line) + ":"), std::string::npos) << err;
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, TraceLoadRefuses,
    ::testing::Values(
        Bad{"Empty", "", 0, "empty file"},
        Bad{"MissingHeader", kRead + "\n" + R"({"ev":"end","events":0})" + "\n", 1,
            "missing header"},
        Bad{"WrongFormat",
            R"({"format":"pcap","version":1,"driver_version":"","pool":{"buffer_size":2048}})"
            "\n",
            1, "not \"vnetkit-trace\""},
        Bad{"FutureVersion",
            R"({"format":"vnetkit-trace","version":3,"driver_version":"","pool":{"buffer_size":2048}})"
            "\n",
            1, "format version 3 is not supported (this replayer reads versions 1 and 2)"},
        Bad{"HeaderWithoutPool",
            R"({"format":"vnetkit-trace","version":1,"driver_version":""})"
            "\n",
            1, "missing field \"pool\""},
        Bad{"TruncatedLine", kHeader + "\n" + kRead + "\n" + kRead.substr(0, 30), 3,
            "truncated line"},
        Bad{"InvalidJson", kHeader + "\n" + kRead + "}\n" + R"({"ev":"end","events":1})" + "\n", 2,
            "invalid JSON"},
        Bad{"WrongTypeString",
            trace_of({R"({"ev":"reg_read","region":"bar0","off":"18","w":1,"val":0})"}), 2,
            "field \"off\" must be an unsigned integer, got string"},
        Bad{"WrongTypeNegative",
            trace_of({R"({"ev":"reg_read","region":"bar0","off":18,"w":1,"val":-1})"}), 2,
            "field \"val\" must be an unsigned integer, got negative integer"},
        Bad{"WrongTypeBool",
            trace_of({R"({"ev":"bar_info","bar":0,"present":1,"io":true,"size":64})"}), 2,
            "field \"present\" must be true or false, got unsigned integer"},
        Bad{"OutOfRange",
            trace_of({R"({"ev":"reg_read","region":"bar0","off":18,"w":1,"val":4294967296})"}), 2,
            "above its maximum"},
        Bad{"BadWidth", trace_of({R"({"ev":"reg_read","region":"bar0","off":18,"w":3,"val":0})"}),
            2, "must be 1, 2 or 4"},
        Bad{"UnknownEvent",
            trace_of({kRead, R"({"ev":"reg_wrte","region":"bar0","off":18,"w":1,"val":0})"}), 3,
            "unknown event \"reg_wrte\""},
        Bad{"UnknownRegion",
            trace_of({R"({"ev":"reg_read","region":"bar9","off":18,"w":1,"val":0})"}), 2,
            "field \"region\" has unknown value \"bar9\""},
        Bad{"MissingField", trace_of({R"({"ev":"complete","q":0,"head":1})"}), 2,
            "missing field \"len\""},
        Bad{"NotHex", trace_of({R"({"ev":"fetch","q":0,"part":"used_idx","idx":0,"data":"zz00"})"}),
            2, "non-hex character at position 0"},
        Bad{"SegmentLength",
            trace_of(
                {R"({"ev":"publish","q":1,"avail":0,"head":0,"segs":[{"desc":0,"len":3,"wr":false,"data":"abcd"}]})"}),
            2, "fewer or more bytes than \"len\""},
        Bad{"NoEnd", kHeader + "\n" + kRead + "\n", 2, "without an \"end\" event"},
        Bad{"WrongEndCount", kHeader + "\n" + kRead + "\n" + R"({"ev":"end","events":5})" + "\n", 3,
            "says 5 events, the trace has 1"},
        Bad{"TextAfterEnd", trace_of({kRead}) + kRead + "\n", 4, "after the \"end\" event"},
        Bad{"EmptyLine", kHeader + "\n\n" + kRead + "\n", 2, "empty line"},
        Bad{"NotAnObject", kHeader + "\n[1,2]\n", 2, "must be a JSON object"},
        Bad{"EvNotString", kHeader + "\n{\"ev\":7}\n", 2, "field \"ev\" must be a string"},
        // Repeat counts: format version 2 only, plain values only, at least 1.
        Bad{"RepeatInVersion1",
            trace_of({R"({"ev":"reg_read","region":"bar0","off":19,"w":1,"val":0,"rep":3})"}), 2,
            "field \"rep\" needs format version 2 (the header says 1)"},
        Bad{"RepeatOfAnAddress",
            v2_trace_of(
                {R"({"ev":"reg_write","region":"bar0","off":8,"w":4,"val":{"dma":0,"off":0,"as":"pfn"},"rep":2})"}),
            2, "field \"rep\" is only allowed with a plain \"val\""},
        Bad{"RepeatZero",
            v2_trace_of({R"({"ev":"reg_read","region":"bar0","off":19,"w":1,"val":0,"rep":0})"}), 2,
            "field \"rep\" is 0"},
        Bad{"RepeatNotANumber",
            v2_trace_of({R"({"ev":"reg_read","region":"bar0","off":19,"w":1,"val":0,"rep":"9"})"}),
            2, "field \"rep\" must be an unsigned integer"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace vnet::replay
