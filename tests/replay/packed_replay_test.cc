// Packed rings in traces (issue 14): the committed recordings of our guest
// on QEMU 7.2 with packed=on (corpus/traces/qemu/*packed*.jsonl) load with
// the packed memory parts, replay on the host with zero divergence, and a
// driver that does something else -- another ring kind, or a different
// reaction to a planted used descriptor or device event -- is reported at
// the event where it first differs, never a crash.
//
// What a packed ring puts in a trace (docs/trace-format.md, "Packed
// rings"): fetch "packed_desc" idx = ring position, 2 bytes (the used
// descriptor's flags) and then, for a used one, 6 bytes (le32 len, le16
// id); fetch "device_event" idx 0, 4 bytes (le16 off_wrap, le16 flags);
// the attach option "accept_ring_packed": true.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "driver/spec/virtio_constants.h"
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

constexpr uint64_t kRingPacked = uint64_t{1} << 34;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string qemu_trace(const std::string& name) {
  return std::string(VNET_QEMU_CORPUS_DIR) + "/" + name + ".jsonl";
}

// Replaces the first occurrence of from in line (which must hold it).
class PackedTrace : public ::testing::TestWithParam<const char*> {};

TEST_P(PackedTrace, LoadsWithThePackedParts) {
  const Trace t = load_trace_file(qemu_trace(GetParam()));
  bool accepted = false;
  for (const CallArgs& c : t.calls)
    if (c.fn == ApiFn::kAttach) accepted = c.options.accept_ring_packed;
  EXPECT_TRUE(accepted) << "attach options carry accept_ring_packed";
  bool negotiated = false;
  for (const RetValues& r : t.rets)
    if (r.fn == ApiFn::kAttach && r.has_negotiated) negotiated = (r.features & kRingPacked) != 0;
  EXPECT_TRUE(negotiated) << "the attach result has RING_PACKED";
  size_t flags = 0, used = 0, events = 0;
  for (const Event& e : t.events) {
    if (e.kind != EventKind::kFetch) continue;
    const auto part = static_cast<MemPart>(e.r8);
    ASSERT_NE(part, MemPart::kUsedIdx) << "no split-ring fetch in a packed run";
    ASSERT_NE(part, MemPart::kUsedElem) << "no split-ring fetch in a packed run";
    if (part == MemPart::kPackedDesc) {
      ASSERT_TRUE(e.data.len == 2 || e.data.len == 6) << e.data.len;
      (e.data.len == 2 ? flags : used) += 1;
    }
    if (part == MemPart::kDeviceEvent) {
      ASSERT_EQ(e.data.len, 4u);
      ASSERT_EQ(e.b16, 0u) << "one device event structure per queue";
      ++events;
    }
  }
  EXPECT_GT(flags, used) << "a flags fetch before every len/id fetch, and more";
  EXPECT_GT(used, 24u) << "at least one completion per echo";
  EXPECT_GT(events, 0u);
}

TEST_P(PackedTrace, ReplaysWithZeroDivergence) {
  const Trace t = load_trace_file(qemu_trace(GetParam()));
  const ReplayResult r = replay(t);
  EXPECT_TRUE(r.passed);
  EXPECT_FALSE(r.divergence.has_value()) << r.divergence->reason;
  EXPECT_EQ(r.benign_calls, 0u);
  EXPECT_EQ(r.events_consumed, t.events.size());
}

// A driver that keeps split rings (accept_ring_packed off, or a
// negotiation that lost the bit) against a packed recording: the first
// divergence is the driver features write, and the reason says which
// feature and which ring kinds.
TEST_P(PackedTrace, SplitDriverDivergesAtTheFeatureWriteAndSaysWhy) {
  auto lines = split_lines(read_text(qemu_trace(GetParam())));
  const size_t a = find_line(lines, {R"("fn":"attach")", R"("accept_ring_packed":true)"});
  ASSERT_NE(a, std::string::npos);
  edit(lines[a], R"(,"accept_ring_packed":true)", "");
  Trace t;
  const ReplayResult r = replay_text(join_lines(lines), &t);
  ASSERT_FALSE(r.passed);
  ASSERT_TRUE(r.divergence.has_value());
  const Divergence& d = *r.divergence;
  EXPECT_GT(t.event_line[d.event_index], a + 1) << "inside attach";
  EXPECT_EQ(t.events[d.event_index].kind, EventKind::kRegWrite) << d.expected;
  EXPECT_EQ(d.reason.rfind("reg_write: value differs", 0), 0u) << d.reason;
  EXPECT_NE(d.reason.find("RING_PACKED (34) off here, on in the trace"), std::string::npos)
      << d.reason;
  EXPECT_NE(d.reason.find("the trace ran packed rings, this driver keeps split rings"),
            std::string::npos)
      << d.reason;
  // No packed fetch was consumed: the replay stopped in attach.
  const size_t first_packed = find_line(lines, {R"("part":"packed_desc")"});
  EXPECT_LT(t.event_line[d.event_index], first_packed + 1);
}

INSTANTIATE_TEST_SUITE_P(Qemu, PackedTrace,
                         ::testing::Values("modern-packed", "transitional-packed-event_idx_off",
                                           "microvm-mmio_v2-packed-intx"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

// The other way round: a split recording whose device offered RING_PACKED
// (the offer edited in: QEMU's packed=off device of modern.jsonl) replayed
// by a driver that accepts it. The driver now negotiates packed rings, and
// the report says so at the feature write.
TEST(PackedReplay, PackedDriverAgainstASplitTraceDivergesAndSaysWhy) {
  auto lines = split_lines(read_text(qemu_trace("modern")));
  // device_feature_select = 1, then device_feature: VERSION_1 | RING_RESET
  // (257) becomes VERSION_1 | RING_PACKED | RING_RESET (261), in the
  // probe's look at the offer and in attach's.
  size_t edited = 0;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    if (lines[i] == R"({"ev":"reg_write","region":"bar4","off":0,"w":4,"val":1})" &&
        lines[i + 1] == R"({"ev":"reg_read","region":"bar4","off":4,"w":4,"val":257})") {
      edit(lines[i + 1], R"("val":257)", R"("val":261)");
      ++edited;
    }
  }
  ASSERT_EQ(edited, 2u);
  // As recorded (the option absent: split rings only), the edited offer
  // changes nothing the driver does.
  {
    const ReplayResult r = replay_text(join_lines(lines));
    EXPECT_TRUE(r.passed) << (r.divergence ? r.divergence->reason : r.error);
  }
  const size_t a = find_line(lines, {R"("fn":"attach")", R"("options")"});
  ASSERT_NE(a, std::string::npos);
  edit(lines[a], R"("accept_order_platform":true)",
       R"("accept_order_platform":true,"accept_ring_packed":true)");
  Trace t;
  const ReplayResult r = replay_text(join_lines(lines), &t);
  ASSERT_TRUE(r.divergence.has_value());
  const Divergence& d = *r.divergence;
  EXPECT_EQ(t.events[d.event_index].kind, EventKind::kRegWrite) << d.expected;
  EXPECT_NE(d.reason.find("RING_PACKED (34) on here, off in the trace"), std::string::npos)
      << d.reason;
  EXPECT_NE(d.reason.find("the trace ran split rings, this driver takes packed rings"),
            std::string::npos)
      << d.reason;
  // The command line: exit 1, the reason in the report.
  testing::TempFile f(join_lines(lines));
  const testing::RunResult cli = testing::run_replay_cli(f.path());
  EXPECT_EQ(cli.exit_code, 1) << cli.output;
  EXPECT_NE(cli.output.find("this driver takes packed rings"), std::string::npos) << cli.output;
}

// Planted divergences in the data path of a packed recording: the device
// (the trace) answers differently at one fetch, the unchanged driver
// reacts -- and the replay reports the first event where its reaction
// differs from the recording, at or after the edited line, and returns.
struct Plant {
  const char* name;
  // The first fetch of queue q and this part, with data of this many hex
  // digits, after the first completion of the trace, for which change()
  // returns new data (empty: not this one).
  int q;
  const char* part;
  size_t digits;
  std::string (*change)(const std::string& data);
};

class PackedPlant : public ::testing::TestWithParam<Plant> {};

TEST_P(PackedPlant, IsReportedNotCrashed) {
  const Plant& p = GetParam();
  auto lines = split_lines(read_text(qemu_trace("modern-packed")));
  const size_t first_complete = find_line(lines, {R"("ev":"complete")"});
  ASSERT_NE(first_complete, std::string::npos);
  const std::string prefix = std::string(R"({"ev":"fetch","q":)") + std::to_string(p.q) +
                             R"(,"part":")" + p.part + R"(","idx":)";
  size_t i = first_complete;
  std::string changed;
  for (; i < lines.size(); ++i) {
    if (lines[i].rfind(prefix, 0) != 0) continue;
    const size_t at = lines[i].find(R"("data":")");
    const std::string data = lines[i].substr(at + 8, lines[i].size() - at - 10);
    if (data.size() != p.digits) continue;
    changed = p.change(data);
    if (changed.empty()) continue;
    lines[i] = lines[i].substr(0, at + 8) + changed + "\"}";
    break;
  }
  ASSERT_LT(i, lines.size()) << "no line to plant " << p.name << " in";
  Trace t;
  const ReplayResult r = replay_text(join_lines(lines), &t);
  ASSERT_FALSE(r.passed) << lines[i];
  ASSERT_TRUE(r.divergence.has_value());
  const size_t line = t.event_line[r.divergence->event_index];
  EXPECT_GE(line, i + 1) << "not before the edited line: " << r.divergence->reason;
  EXPECT_LE(line, i + 8) << "close after it: " << r.divergence->reason;
  EXPECT_FALSE(r.divergence->reason.empty());
  EXPECT_FALSE(r.divergence->actual.empty());
  const std::string report = format_outcome(replay_loaded(t, 3));
  EXPECT_NE(report.find("DIVERGED"), std::string::npos) << report;
  EXPECT_NE(report.find("(line " + std::to_string(line) + ")"), std::string::npos) << report;
}

INSTANTIATE_TEST_SUITE_P(
    Qemu, PackedPlant,
    ::testing::Values(
        // A used rx descriptor's id out of range (2.8.6: ids are the
        // driver's, below the queue size): the queue breaks (kUsedIdRange)
        // instead of completing, so the recorded "complete" never comes.
        Plant{"used_id_out_of_range", 0, "packed_desc", 12,
              [](const std::string& d) { return d.substr(0, 8) + "ffff"; }},
        // A length above what the rx buffer posted: the completion is
        // taken with len_over and the buffer dropped, not delivered.
        Plant{"used_len_over", 0, "packed_desc", 12,
              [](const std::string& d) { return "ffff0000" + d.substr(8); }},
        // A used flags pattern no side writes (USED without AVAIL against
        // the wrap counter 1: kUsedFlags) where the device wrote a used one.
        Plant{"used_flags_impossible", 0, "packed_desc", 4,
              [](const std::string& d) { return d == "8080" ? std::string("0080") : ""; }},
        // A used tx descriptor with the previous lap's pattern (kUsedWrap).
        Plant{"used_stale_wrap", 1, "packed_desc", 4,
              [](const std::string& d) { return d == "8080" ? std::string("0000") : ""; }},
        // The device event structure saying DISABLE where the device had
        // asked for a notification by position (DESC), which the trace's
        // driver sent.
        Plant{"device_event_disable", 1, "device_event", 8,
              [](const std::string& d) {
                return d.substr(4) == "0200" ? d.substr(0, 4) + "0100" : "";
              }},
        // A used descriptor fetch of another size in the trace: it no
        // longer matches what the driver asks for (queue, part, index or
        // length).
        Plant{"fetch_size", 0, "packed_desc", 4,
              [](const std::string& d) { return d == "8080" ? std::string("808000") : ""; }}),
    [](const auto& info) { return std::string(info.param.name); });

// The format: the packed parts and the attach option survive a write and a
// load; the option is written only when true (a split run's attach line is
// what it always was) and read as false when absent.
TEST(PackedFormat, RoundTripsThroughWriterAndLoader) {
  std::string text;
  trace::TraceWriter w(trace::ByteSink{
      [](void* c, const char* d, size_t n) { static_cast<std::string*>(c)->append(d, n); }, &text});
  trace::TraceHeader h;
  h.pool_buffer_size = 2048;
  h.pool_buffers = 64;
  trace::write_header(w, h);
  trace::ApiCall attach{};
  attach.fn = ApiFn::kAttach;
  attach.options.accept_ring_packed = true;
  trace::write_call(w, attach);
  const uint8_t flags[2] = {0x80, 0x80};
  const uint8_t len_id[6] = {0x42, 0x01, 0, 0, 0x04, 0};
  const uint8_t event[4] = {0x04, 0x80, 0x02, 0};
  trace::write_fetch(w, DeviceMemRef{0, MemPart::kPackedDesc, 4, true}, flags, sizeof flags);
  trace::write_fetch(w, DeviceMemRef{0, MemPart::kPackedDesc, 4, false}, len_id, sizeof len_id);
  trace::write_fetch(w, DeviceMemRef{1, MemPart::kDeviceEvent, 0, false}, event, sizeof event);
  attach.options.accept_ring_packed = false;
  trace::write_call(w, attach);
  trace::write_end(w);
  w.flush();

  const auto lines = split_lines(text);
  ASSERT_EQ(lines.size(), 7u) << text;
  EXPECT_NE(lines[1].find(R"("accept_ring_packed":true)"), std::string::npos) << lines[1];
  EXPECT_EQ(lines[5].find("accept_ring_packed"), std::string::npos) << lines[5];
  EXPECT_EQ(lines[2],
            R"({"ev":"fetch","q":0,"part":"packed_desc","idx":4,"recheck":true,"data":"8080"})");
  EXPECT_EQ(lines[3], R"({"ev":"fetch","q":0,"part":"packed_desc","idx":4,"data":"420100000400"})");
  EXPECT_EQ(lines[4], R"({"ev":"fetch","q":1,"part":"device_event","idx":0,"data":"04800200"})");

  const Trace t = load_trace(text, "round-trip.jsonl");
  ASSERT_EQ(t.calls.size(), 2u);
  EXPECT_TRUE(t.calls[0].options.accept_ring_packed);
  EXPECT_FALSE(t.calls[1].options.accept_ring_packed);
  const Event& f0 = t.events[1];
  EXPECT_EQ(f0.kind, EventKind::kFetch);
  EXPECT_EQ(static_cast<MemPart>(f0.r8), MemPart::kPackedDesc);
  EXPECT_EQ(f0.b16, 4u);
  EXPECT_NE(f0.c8, 0u) << "recheck";
  EXPECT_EQ(f0.data.len, 2u);
  const Event& f1 = t.events[2];
  EXPECT_EQ(f1.data.len, 6u);
  EXPECT_EQ(std::memcmp(t.data(f1.data), len_id, 6), 0);
  const Event& f2 = t.events[3];
  EXPECT_EQ(static_cast<MemPart>(f2.r8), MemPart::kDeviceEvent);
  EXPECT_EQ(f2.a16, 1u);
  EXPECT_EQ(std::memcmp(t.data(f2.data), event, 4), 0);
}

}  // namespace
}  // namespace vnet::replay
