// Indirect descriptors in traces (issue 14): what a driver publishes through
// an indirect table (VIRTIO_F_INDIRECT_DESC) and the scatter-gather tx
// frames behind it round-trip through the writer and the loader; the
// committed recordings of our guest on QEMU 7.2 with indirect descriptors
// in use on tx (corpus/traces/qemu/*indirect*.jsonl) load with their
// indirect chains and replay on the host with zero divergence; and a driver
// that publishes something else in an indirect chain is reported at the
// chain, with a reason that says what differs, never a crash.
//
// What indirect descriptors put in a trace (docs/trace-format.md,
// "Indirect descriptors"): the attach option "accept_indirect_desc": true;
// a tx_burst call's "frags" (each frame's fragment lengths); a publish
// line with "indirect": true, its table named {"dma":id,"off":o}, and one
// segment per table entry (up to 17, desc = the entry's index).
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "replay/record/trace_events.h"
#include "replay/record/trace_writer.h"
#include "replay/report.h"
#include "tests/replay/replay_test_util.h"

namespace vnet::replay {
namespace {

using testing::edit;
using testing::find_line;
using testing::join_lines;
using testing::replay_text;
using testing::split_lines;
using testing::writer_text;

constexpr uint64_t kIndirectDesc = uint64_t{1} << 28;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string qemu_trace(const std::string& name) {
  return std::string(VNET_QEMU_CORPUS_DIR) + "/" + name + ".jsonl";
}

// ---- the format

// Bytes 0..16 numbered, the rest 0.
const uint8_t kBytes[64] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17};

void write_indirect_lines(trace::TraceWriter& w) {
  trace::ApiCall attach{};
  attach.fn = ApiFn::kAttach;
  attach.options.accept_indirect_desc = true;
  trace::write_call(w, attach);
  // An indirect chain of the most entries, its table in DMA region 3.
  PublishedChain c{};
  c.queue = 1;
  c.avail_idx = 9;
  c.head = 5;
  c.num_segments = kMaxPublishedSegments;
  for (uint16_t i = 0; i < c.num_segments; ++i)
    c.segments[i] = ChainSegment{i, 2, false, kBytes + 2 * i};
  c.indirect = true;
  c.table_addr = 0x1234;  // not written: only the named place is
  const trace::AddrRef table{3, 5 * 17 * 16, trace::AddrForm::kLo32};
  trace::write_publish(w, c, &table);
  // The same, its table in no region the writer knows.
  c.num_segments = 2;
  trace::write_publish(w, c, nullptr);
  // A direct chain: the line it always was, whatever table is given.
  c.indirect = false;
  trace::write_publish(w, c, &table);
  // A burst with a fragmented frame and a single one, then single ones.
  const uint32_t lens[3] = {14, 20, 30};
  trace::TxFrame frames[2] = {{kBytes, 64, lens, 3}, {kBytes, 10}};
  trace::ApiCall tx{};
  tx.fn = ApiFn::kTxBurst;
  tx.frames = frames;
  tx.num_frames = 2;
  trace::write_call(w, tx);
  tx.frames = frames + 1;
  tx.num_frames = 1;
  trace::write_call(w, tx);
  attach.options.accept_indirect_desc = false;
  trace::write_call(w, attach);
}

TEST(IndirectFormat, RoundTripsThroughWriterAndLoader) {
  const std::string text = writer_text(&write_indirect_lines);
  const auto lines = split_lines(text);
  ASSERT_EQ(lines.size(), 9u) << text;
  EXPECT_NE(lines[1].find(R"("accept_indirect_desc":true)"), std::string::npos) << lines[1];
  EXPECT_EQ(lines[7].find("accept_indirect_desc"), std::string::npos) << lines[7];
  EXPECT_NE(lines[2].find(R"({"desc":16,"len":2,"wr":false,"data":"0000"}],)"
                          R"("indirect":true,"table":{"dma":3,"off":1360}})"),
            std::string::npos)
      << lines[2];
  EXPECT_NE(lines[3].find(R"("indirect":true,"table":null})"), std::string::npos) << lines[3];
  EXPECT_EQ(lines[4],
            R"({"ev":"publish","q":1,"avail":9,"head":5,"segs":[{"desc":0,"len":2,"wr":false,)"
            R"("data":"0102"},{"desc":1,"len":2,"wr":false,"data":"0304"}]})");
  EXPECT_NE(lines[5].find(R"(,"frags":[[14,20,30],[]]})"), std::string::npos) << lines[5];
  EXPECT_EQ(lines[6].find("frags"), std::string::npos) << lines[6];

  for (const bool fast : {true, false}) {
    LoadOptions o;
    o.fast_path = fast;
    const Trace t = load_trace(text, "round-trip.jsonl", o);
    ASSERT_EQ(t.calls.size(), 4u);
    EXPECT_TRUE(t.calls[0].options.accept_indirect_desc);
    EXPECT_FALSE(t.calls[3].options.accept_indirect_desc) << "absent: false";
    const Event& p0 = t.events[1];
    ASSERT_EQ(p0.kind, EventKind::kPublish);
    EXPECT_NE(p0.c8, 0u);
    EXPECT_EQ(p0.w8, kMaxPublishedSegments);
    EXPECT_EQ(p0.u64 >> 32, 3u);
    EXPECT_EQ(static_cast<uint32_t>(p0.u64), 1360u);
    const Segment& last = t.segments[p0.aux + 16];
    EXPECT_EQ(last.desc, 16u);
    EXPECT_EQ(std::memcmp(t.data(last.data), kBytes + 32, 2), 0);
    EXPECT_NE(t.events[2].c8, 0u);
    EXPECT_EQ(t.events[2].u64 >> 32, kNoId) << "table null";
    EXPECT_EQ(t.events[3].c8, 0u) << "direct";
    const CallArgs& tx = t.calls[1];
    ASSERT_EQ(tx.frags.size(), 2u);
    EXPECT_EQ(tx.frags[0], (std::vector<uint32_t>{14, 20, 30}));
    EXPECT_TRUE(tx.frags[1].empty());
    EXPECT_TRUE(t.calls[2].frags.empty()) << "no frags: every frame one buffer";
  }
}

// Lines the loader refuses, each with the line named.
TEST(IndirectFormat, LoaderRefusesMalformedIndirectLines) {
  const auto lines = split_lines(writer_text(&write_indirect_lines));
  struct Bad {
    size_t line;
    std::string from, to, says;
  };
  const std::string seg = R"({"desc":0,"len":2,"wr":false,"data":"0102"},)";
  const std::vector<Bad> bad = {
      // An 18th table entry.
      {2, R"("segs":[)", R"("segs":[)" + seg, "1 to 17 segments (an indirect chain)"},
      // Five segments of a direct chain.
      {4, R"("segs":[)", R"("segs":[)" + seg + seg + seg, "1 to 4 segments (a direct chain)"},
      {4, R"(}]})", R"(}],"table":{"dma":1,"off":0}})", "\"table\" without \"indirect\":true"},
      {2, R"("table":{"dma":3,"off":1360})", R"("table":5)", "\"table\" must be"},
      {5, "[[14,20,30],[]]", "[[14,20,31],[]]", "hold 65 bytes, the frame 64"},
      {5, "[[14,20,30],[]]", "[[14,20,30]]", "one element per frame"},
      {5, "[[14,20,30],[]]", "[[14,0,50],[]]", "fragment length in \"frags\" is 0"},
      {5, "[[14,20,30],[]]", "[[64],[]]", "has one fragment"},
  };
  for (const Bad& b : bad) {
    auto edited = lines;
    edit(edited[b.line], b.from, b.to);
    try {
      load_trace(join_lines(edited), "bad.jsonl");
      ADD_FAILURE() << "loaded: " << edited[b.line];
    } catch (const TraceError& e) {
      EXPECT_NE(std::string(e.what()).find("line " + std::to_string(b.line + 1)), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find(b.says), std::string::npos) << e.what();
    }
  }
}

// ---- the QEMU recordings

class IndirectTrace : public ::testing::TestWithParam<const char*> {};

TEST_P(IndirectTrace, LoadsWithIndirectChainsAndFragments) {
  const Trace t = load_trace_file(qemu_trace(GetParam()));
  bool accepted = false;
  size_t fragmented = 0;
  for (const CallArgs& c : t.calls) {
    if (c.fn == ApiFn::kAttach) accepted = c.options.accept_indirect_desc;
    for (const auto& f : c.frags) fragmented += f.size() > 1;
  }
  EXPECT_TRUE(accepted) << "attach options carry accept_indirect_desc";
  bool negotiated = false;
  for (const RetValues& r : t.rets)
    if (r.fn == ApiFn::kAttach && r.has_negotiated) negotiated = (r.features & kIndirectDesc) != 0;
  EXPECT_TRUE(negotiated) << "the attach result has INDIRECT_DESC";
  size_t chains = 0, longest = 0;
  for (const Event& e : t.events) {
    if (e.kind != EventKind::kPublish || e.c8 == 0) continue;
    ++chains;
    EXPECT_EQ(e.a16, 1u) << "indirect chains on the tx queue only";
    EXPECT_NE(e.u64 >> 32, kNoId) << "the table named by its DMA region";
    for (uint8_t k = 0; k < e.w8; ++k) EXPECT_EQ(t.segments[e.aux + k].desc, k);
    longest = std::max<size_t>(longest, e.w8);
  }
  EXPECT_GE(chains, 24u) << "an indirect chain per echo at least";
  EXPECT_GE(fragmented, chains) << "every indirect chain is a fragmented frame";
  if (std::string(GetParam()).find("tx_frags_16") != std::string::npos)
    EXPECT_EQ(longest, kMaxPublishedSegments) << "16 fragments and the legacy header's own";
}

TEST_P(IndirectTrace, ReplaysWithZeroDivergence) {
  const Trace t = load_trace_file(qemu_trace(GetParam()));
  const ReplayResult r = replay(t);
  EXPECT_TRUE(r.passed);
  EXPECT_FALSE(r.divergence.has_value()) << r.divergence->reason;
  EXPECT_EQ(r.benign_calls, 0u);
  EXPECT_EQ(r.events_consumed, t.events.size());
}

// A driver that does not accept indirect descriptors against an indirect
// recording: the feature write differs, and the reason names the bit.
TEST_P(IndirectTrace, DriverWithoutIndirectDivergesAtTheFeatureWrite) {
  auto lines = split_lines(read_text(qemu_trace(GetParam())));
  const size_t a = find_line(lines, {R"("fn":"attach")", R"("accept_indirect_desc":true)"});
  ASSERT_NE(a, std::string::npos);
  edit(lines[a], R"(,"accept_indirect_desc":true)", "");
  Trace t;
  const ReplayResult r = replay_text(join_lines(lines), &t);
  ASSERT_TRUE(r.divergence.has_value());
  const Divergence& d = *r.divergence;
  EXPECT_EQ(t.events[d.event_index].kind, EventKind::kRegWrite) << d.expected;
  EXPECT_NE(d.reason.find("INDIRECT_DESC (28) off here, on in the trace"), std::string::npos)
      << d.reason;
}

INSTANTIATE_TEST_SUITE_P(Qemu, IndirectTrace,
                         ::testing::Values("modern-packed-indirect",
                                           "legacy-any_layout_off-indirect-tx_frags_16"));

// ---- planted divergences in an indirect chain

// Edits of one line (true when the line held what they change).
bool flip_entry_12_byte(std::string& line) {
  // The first hex digit of table entry 12's bytes (beyond any direct
  // chain's 4 segments), changed.
  const size_t at = line.find(R"("desc":12,)");
  if (at == std::string::npos) return false;
  const size_t data = line.find(R"("data":")", at);
  if (data == std::string::npos) return false;
  char& c = line[data + 8];
  c = c == '0' ? '1' : '0';
  return true;
}
bool move_table(std::string& line) {
  // The table 16 bytes further into its region.
  const size_t at = line.find(R"("off":)");
  if (at == std::string::npos) return false;
  const size_t end = line.find('}', at);
  const unsigned long off = std::stoul(line.substr(at + 6, end - at - 6));
  line.replace(at + 6, end - at - 6, std::to_string(off + 16));
  return true;
}
bool make_direct(std::string& line) {
  // "indirect" and "table" gone: the trace says the chain was direct.
  const size_t at = line.find(R"(,"indirect":true,"table":{)");
  if (at == std::string::npos) return false;
  line.erase(at, line.find('}', at) + 1 - at);
  return true;
}
bool cut_elsewhere(std::string& line) {
  // The caller cut the first fragmented frame one byte earlier.
  const size_t at = line.find(R"("frags":[[)");
  if (at == std::string::npos) return false;
  const size_t a = at + 10, comma = line.find(',', a), end = line.find_first_of(",]", comma + 1);
  const unsigned long first = std::stoul(line.substr(a, comma - a));
  const unsigned long second = std::stoul(line.substr(comma + 1, end - comma - 1));
  line.replace(comma + 1, end - comma - 1, std::to_string(second + 1));
  line.replace(a, comma - a, std::to_string(first - 1));
  return true;
}

struct Plant {
  const char* name;
  const char* trace;
  std::vector<std::string> needles;  // the edited chain: the first publish with all of these
  bool edit_call;                    // edit the tx_burst call before it instead
  bool (*apply)(std::string& line);
  const char* reason;  // the divergence's reason contains this
};

class IndirectPlant : public ::testing::TestWithParam<Plant> {};

TEST_P(IndirectPlant, IsReportedAtTheChainWithWhatDiffers) {
  const Plant& p = GetParam();
  auto lines = split_lines(read_text(qemu_trace(p.trace)));
  size_t i = find_line(lines, p.needles);
  ASSERT_NE(i, std::string::npos);
  const size_t publish = i;
  if (p.edit_call)
    while (i > 0 && lines[i].find(R"("fn":"tx_burst")") == std::string::npos) --i;
  ASSERT_TRUE(p.apply(lines[i])) << lines[i];
  Trace t;
  const ReplayResult r = replay_text(join_lines(lines), &t);
  ASSERT_FALSE(r.passed);
  ASSERT_TRUE(r.divergence.has_value()) << r.error;
  const Divergence& d = *r.divergence;
  EXPECT_EQ(t.event_line[d.event_index], publish + 1) << "at the chain: " << d.reason;
  EXPECT_EQ(d.reason.rfind("publish: ", 0), 0u) << d.reason;
  EXPECT_NE(d.reason.find(p.reason), std::string::npos) << d.reason;
  EXPECT_NE(d.actual.find(R"("ev":"publish")"), std::string::npos) << d.actual;
  EXPECT_NE(d.actual.find(R"("indirect":true,"table":{"dma":)"), std::string::npos)
      << "the driver's side names its table too: " << d.actual;
  const std::string report = format_outcome(replay_loaded(t, 3));
  EXPECT_NE(report.find("DIVERGED"), std::string::npos) << report;
  EXPECT_NE(report.find("(line " + std::to_string(publish + 1) + ")"), std::string::npos) << report;
}

std::string plant_name(const ::testing::TestParamInfo<Plant>& info) {
  return info.param.name;
}

const char* const kLegacy16 = "legacy-any_layout_off-indirect-tx_frags_16";
const char* const kPacked = "modern-packed-indirect";

INSTANTIATE_TEST_SUITE_P(
    Qemu, IndirectPlant,
    ::testing::Values(Plant{"entry_12_byte",
                            kLegacy16,
                            {R"("indirect":true)", R"("desc":16,)"},
                            false,
                            &flip_entry_12_byte,
                            "(an indirect table entry)"},
                      Plant{"table_offset",
                            kPacked,
                            {R"("indirect":true)"},
                            false,
                            &move_table,
                            "the indirect table is at another place"},
                      Plant{"direct_in_trace",
                            kPacked,
                            {R"("indirect":true)"},
                            false,
                            &make_direct,
                            "the trace's chain is direct, the driver published an indirect"},
                      Plant{"fragment_lengths",
                            kPacked,
                            {R"("indirect":true)"},
                            true,
                            &cut_elsewhere,
                            "a segment's length differs"}),
    plant_name);

}  // namespace
}  // namespace vnet::replay
