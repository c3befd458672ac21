// Converted QEMU captures (trace2json output) in the loader and in both
// replay modes: strict (a capture of our own guest: register sequence,
// used entries named by avail position, tx frames byte for byte) and
// device (the capture's device side drives the mock device; every rx frame
// delivered once, byte-exact, in order). Also malformed capture events
// (exit 2, precise message) and failures (exit 1, clear report).
//
// The fixtures in captures/ are trace2json conversions of captures of our
// guest (legacy and modern PCI, 30 TCP echoes), made by the qemu ctests
// qemu_capture_convert_* (DIR/converted.jsonl).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <tuple>

#include "replay/replayer.h"
#include "replay/report.h"
#include "tests/replay/replay_test_util.h"

namespace vnet::replay {
namespace {

using testing::find_line;
using testing::join_lines;
using testing::run_replay_cli;
using testing::split_lines;
using testing::TempFile;

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(VNET_CAPTURE_DIR) + "/" + name, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (ss.str().empty()) throw std::runtime_error("missing fixture " + name);
  return ss.str();
}

// Replaces the value of "key":... (a number, string or object without
// nesting) in a line.
std::string set_field(const std::string& line, const std::string& key, const std::string& value) {
  const std::string k = "\"" + key + "\":";
  size_t at = line.find(k);
  if (at == std::string::npos) throw std::runtime_error("no field " + key + " in " + line);
  at += k.size();
  size_t end = at;
  if (line[at] == '"') {
    end = line.find('"', at + 1) + 1;
  } else if (line[at] == '{') {
    end = line.find('}', at) + 1;
  } else {
    while (end < line.size() && line[end] != ',' && line[end] != '}') ++end;
  }
  return line.substr(0, at) + value + line.substr(end);
}

std::string remove_field(const std::string& line, const std::string& key) {
  const std::string k = ",\"" + key + "\":";
  size_t at = line.find(k);
  if (at == std::string::npos) throw std::runtime_error("no field " + key);
  size_t end = at + k.size();
  while (end < line.size() && line[end] != ',' && line[end] != '}') ++end;
  return line.substr(0, at) + line.substr(end);
}

ReplayResult replay_text(const std::string& text, ReplayMode mode) {
  return replay(load_trace(text, "capture.jsonl"), mode);
}

// The rx and tx frames of a fixture (its dev_frame events). The fixtures
// are re-captured whenever the driver's boundary behaviour changes
// (tools/rerecord-corpus.sh captures), and the counts move with the run.
struct FrameCounts {
  size_t rx = 0;
  size_t tx = 0;
};
FrameCounts frame_counts(const std::string& name) {
  const Trace t = load_trace(fixture(name), name);
  FrameCounts c;
  for (const Event& e : t.events)
    if (e.kind == EventKind::kDevFrame)
      (e.r8 == static_cast<uint8_t>(FrameDir::kRx) ? c.rx : c.tx)++;
  return c;
}

// ---- loading ----

TEST(CaptureLoad, EventsAndHeader) {
  const Trace t = load_trace(fixture("legacy-capture.jsonl"), "legacy");
  EXPECT_EQ(t.kind, TraceKind::kCapture);
  ASSERT_NE(t.driver_start, SIZE_MAX);
  EXPECT_EQ(t.events[t.driver_start].kind, EventKind::kMark);
  EXPECT_TRUE(t.header.capture);
  EXPECT_EQ(t.header.net_header, 12u);
  EXPECT_EQ(t.header.device_kind, "legacy");
  ASSERT_EQ(t.header.queue_sizes.size(), 2u);
  EXPECT_EQ(t.header.queue_sizes[0], 256);
  size_t rx = 0, tx = 0, rings = 0;
  for (const Event& e : t.events) {
    if (e.kind == EventKind::kDevFrame) (e.r8 == static_cast<uint8_t>(FrameDir::kRx) ? rx : tx)++;
    if (e.kind == EventKind::kRegWrite && e.addr == kAddrRing) {
      ++rings;
      EXPECT_EQ(static_cast<RingPart>(e.aux), RingPart::kPfn);
    }
  }
  // As many as the converter counted (the header's capture statistics).
  const auto& stats = t.header.json["capture"]["stats"];
  EXPECT_GT(rx, 0u);
  EXPECT_GT(tx, 0u);
  EXPECT_EQ(rx, stats["frames_rx"].get<size_t>());
  EXPECT_EQ(tx, stats["frames_tx"].get<size_t>());
  EXPECT_EQ(rings, 2u);
}

TEST(CaptureLoad, RecordingsAreRecordings) {
  const Trace t = load_trace(testing::record("modern", "traffic"), "rec");
  EXPECT_EQ(t.kind, TraceKind::kRecording);
  EXPECT_EQ(t.driver_start, SIZE_MAX);
}

// ---- malformed capture events: exit 2 with the line and what is wrong ----

struct Malformed {
  const char* name;
  std::vector<std::string> needles;  // the line to edit
  std::string (*edit)(const std::string&);
  const char* message;
};

void expect_malformed(const Malformed& m) {
  auto lines = split_lines(fixture("legacy-capture.jsonl"));
  const size_t i = find_line(lines, m.needles);
  ASSERT_NE(i, std::string::npos) << m.name;
  lines[i] = m.edit(lines[i]);
  TempFile f(join_lines(lines));
  const auto run = run_replay_cli(f.path());
  EXPECT_EQ(run.exit_code, 2) << m.name << "\n" << run.output;
  const std::string want =
      "UNREADABLE " + f.path() + ": line " + std::to_string(i + 1) + ": " + m.message;
  EXPECT_NE(run.output.find(want), std::string::npos)
      << m.name << "\nwant: " << want << "\ngot:  " << run.output;
}

TEST(CaptureMalformed, EachNewEventChecksItsFields) {
  const Malformed cases[] = {
      {"frame direction",
       {"\"dev_frame\"", "\"dir\":\"rx\""},
       [](const std::string& l) { return set_field(l, "dir", "\"up\""); },
       "dev_frame: field \"dir\" has unknown value \"up\" (rx or tx)"},
      {"rx frame without bufs",
       {"\"dev_frame\"", "\"dir\":\"rx\""},
       [](const std::string& l) { return remove_field(l, "bufs"); },
       "dev_frame: missing field \"bufs\""},
      {"rx frame zero bufs",
       {"\"dev_frame\"", "\"dir\":\"rx\""},
       [](const std::string& l) { return set_field(l, "bufs", "0"); },
       "dev_frame: field \"bufs\" is 0: an rx frame fills at least one buffer"},
      {"rx frame len below its bytes",
       {"\"dev_frame\"", "\"dir\":\"rx\""},
       [](const std::string& l) { return set_field(l, "len", "3"); },
       "dev_frame: field \"len\" (3) is below the frame's"},
      {"frame data not hex",
       {"\"dev_frame\"", "\"dir\":\"tx\""},
       [](const std::string& l) { return set_field(l, "data", "\"ffzz\""); },
       "dev_frame: field \"data\" has a non-hex character at position 2"},
      {"fill avail above 16 bits",
       {"\"dev_fill\""},
       [](const std::string& l) { return set_field(l, "avail", "70000"); },
       "dev_fill: field \"avail\" is 70000, above its maximum 65535"},
      {"flush without used_idx",
       {"\"dev_flush\""},
       [](const std::string& l) { return remove_field(l, "used_idx"); },
       "dev_flush: missing field \"used_idx\""},
      {"pop of no descriptors",
       {"\"dev_pop\""},
       [](const std::string& l) { return set_field(set_field(l, "in", "0"), "out", "0"); },
       "dev_pop: a popped chain has at least one descriptor"},
      {"pop with a negative queue",
       {"\"dev_pop\""},
       [](const std::string& l) { return set_field(l, "q", "-1"); },
       "dev_pop: field \"q\" must be an unsigned integer, got negative integer"},
      {"mark of an unknown kind",
       {"\"mark\""},
       [](const std::string& l) { return set_field(l, "what", "\"lunch\""); },
       "mark: field \"what\" has unknown value \"lunch\" (known: driver_start)"},
      {"ring part unknown",
       {"\"ring\":0"},
       [](const std::string& l) {
         return set_field(l, "val", "{\"ring\":0,\"part\":\"used\",\"as\":\"pfn\"}");
       },
       "reg_write.val: field \"part\" has unknown value \"used\" (desc, driver, device or pfn)"},
      {"pfn part named as lo32",
       {"\"ring\":0"},
       [](const std::string& l) {
         return set_field(l, "val", "{\"ring\":0,\"part\":\"pfn\",\"as\":\"lo32\"}");
       },
       "reg_write.val: part \"pfn\" needs \"as\":\"pfn\""},
      {"desc part named as pfn",
       {"\"ring\":0"},
       [](const std::string& l) {
         return set_field(l, "val", "{\"ring\":0,\"part\":\"desc\",\"as\":\"pfn\"}");
       },
       "reg_write.val: part \"desc\" is named with \"as\":\"lo32\" or \"hi32\", not \"pfn\""},
      {"a call line in a capture",
       {"\"dev_flush\""},
       [](const std::string&) { return std::string("{\"ev\":\"call\",\"fn\":\"tx_reclaim\"}"); },
       "call: a recording event in a trace whose line"},
  };
  for (const Malformed& m : cases) expect_malformed(m);
}

TEST(CaptureMalformed, SecondMarkAndHeaderMode) {
  auto lines = split_lines(fixture("legacy-capture.jsonl"));
  const size_t mark = find_line(lines, {"\"mark\""});
  lines.insert(lines.begin() + static_cast<ptrdiff_t>(mark) + 3, lines[mark]);
  // The end line counts events.
  lines.back() = "{\"ev\":\"end\",\"events\":" + std::to_string(lines.size() - 2) + "}";
  {
    TempFile f(join_lines(lines));
    const auto run = run_replay_cli(f.path());
    EXPECT_EQ(run.exit_code, 2) << run.output;
    EXPECT_NE(run.output.find(": line " + std::to_string(mark + 4) +
                              ": mark: a second driver_start mark (the first is on line " +
                              std::to_string(mark + 1) + ")"),
              std::string::npos)
        << run.output;
  }
  lines = split_lines(fixture("legacy-capture.jsonl"));
  lines[0] = lines[0].substr(0, lines[0].size() - 1) + ",\"replay\":\"fast\"}";
  TempFile f(join_lines(lines));
  const auto run = run_replay_cli(f.path());
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find(": line 1: header: \"replay\" must be \"strict\" or \"device\", got "
                            "\"fast\""),
            std::string::npos)
      << run.output;
}

// ---- strict mode ----

// Interrupt-driven runs of our guest (issue 12): modern-msix (q35, MSI-X)
// and legacy-intx (pc, INTx), made by tools/rerecord-corpus.sh captures.
// The strict replay attaches in the capture's mode, answers the driver's
// msi_messages from the table writes ahead, and delivers each dev_msi
// where the capture has it, each line interrupt at its ISR read.
TEST(CaptureStrict, InterruptDrivenCapturesReplayInTheirMode) {
  for (const auto& [name, mode, ev] : {std::tuple<const char*, const char*, const char*>{
                                           "modern-msix-capture.jsonl", "msix", "\"dev_msi\""},
                                       {"legacy-intx-capture.jsonl", "intx", "\"dev_intx\""}}) {
    const std::string text = fixture(name);
    EXPECT_NE(find_line(split_lines(text), {ev}), std::string::npos) << name;
    const ReplayResult r = replay_text(text, ReplayMode::kStrict);
    EXPECT_TRUE(r.passed) << name << ": "
                          << (r.divergence ? r.divergence->reason + "\n" + r.divergence->expected +
                                                 "\n" + r.divergence->actual
                                           : "");
    ASSERT_GE(r.notes.size(), 2u) << name;
    EXPECT_NE(r.notes[1].find(std::string("attached asking for ") + mode), std::string::npos)
        << r.notes[1];
    EXPECT_EQ(r.notes[1].find(", 0 delivered"), std::string::npos) << r.notes[1];
    // Device mode offers the mock's interrupts as the capture's device
    // delivered them; our driver takes that mode and its interrupts.
    const ReplayResult d = replay_text(text, ReplayMode::kDevice);
    EXPECT_TRUE(d.passed) << name << ": " << (d.divergence ? d.divergence->reason : d.error);
    std::string irq_note;
    for (const std::string& n : d.notes)
      if (n.rfind("interrupts:", 0) == 0) irq_note = n;
    EXPECT_NE(irq_note.find(std::string("delivered ") + mode), std::string::npos) << name;
    EXPECT_EQ(irq_note.find("took 0 "), std::string::npos) << irq_note;
  }
}

TEST(CaptureDevice, LegacyDeviceConfigMovesWithMsix) {
  // Legacy with MSI-X on (pc, --irq msix): the guest reads the MAC at
  // 0x18 of the I/O BAR, and 0x14.. are the vector registers then. Device
  // mode follows the capture's MSI-X enable bit to rebuild the device.
  const std::string text = fixture("legacy-msix-capture.jsonl");
  const ReplayResult s = replay_text(text, ReplayMode::kStrict);
  EXPECT_TRUE(s.passed) << (s.divergence ? s.divergence->reason : s.error);
  const ReplayResult d = replay_text(text, ReplayMode::kDevice);
  EXPECT_TRUE(d.passed) << (d.divergence ? d.divergence->reason : d.error);
  ASSERT_FALSE(d.notes.empty());
  EXPECT_NE(d.notes[0].find("device: legacy"), std::string::npos) << d.notes[0];
  EXPECT_NE(d.notes[0].find("mac 525400123456"), std::string::npos) << d.notes[0];
}

TEST(CaptureStrict, WithoutItsDeliveriesAnMsixCaptureIsNotFollowed) {
  // The dev_msi events say the guest ran with MSI-X: without them the
  // replay attaches polling and the capture's MSI-X set-up is not made.
  auto lines = split_lines(fixture("modern-msix-capture.jsonl"));
  std::vector<std::string> kept;
  for (const auto& l : lines)
    if (l.find("\"dev_msi\"") == std::string::npos) kept.push_back(l);
  ASSERT_LT(kept.size(), lines.size());
  kept.back() = R"({"ev":"end","events":)" + std::to_string(kept.size() - 2) + "}";
  const ReplayResult r = replay_text(join_lines(kept), ReplayMode::kStrict);
  EXPECT_FALSE(r.passed);
  ASSERT_TRUE(r.divergence.has_value());
}

TEST(CaptureMalformed, InterruptDeliveries) {
  auto lines = split_lines(fixture("modern-msix-capture.jsonl"));
  const size_t i = find_line(lines, {"\"dev_msi\""});
  ASSERT_NE(i, std::string::npos);
  for (const auto& [bad, why] :
       {std::pair<const char*, const char*>{
            R"({"ev":"dev_msi","entry":2048})",
            "dev_msi: field \"entry\" is 2048, above its maximum 2047"},
        {R"({"ev":"dev_msi"})", "dev_msi: missing field \"entry\""},
        {R"({"ev":"dev_intx","level":2})", "dev_intx: field \"level\" is 2, above its maximum 1"},
        {R"({"ev":"dev_intx","level":true})",
         "dev_intx: field \"level\" must be an unsigned integer"}}) {
    auto edited = lines;
    edited[i] = bad;
    try {
      (void)load_trace(join_lines(edited), "bad");
      ADD_FAILURE() << bad;
    } catch (const TraceError& e) {
      EXPECT_EQ(e.line(), i + 1);
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  }
}

TEST(CaptureStrict, CapturesOfOurGuestReplay) {
  for (const char* name : {"legacy-capture.jsonl", "modern-capture.jsonl"}) {
    const ReplayResult r = replay_text(fixture(name), ReplayMode::kStrict);
    EXPECT_TRUE(r.passed) << name << ": "
                          << (r.divergence ? r.divergence->reason + "\n" + r.divergence->expected +
                                                 "\n" + r.divergence->actual
                                           : "");
    ASSERT_FALSE(r.notes.empty());
    const FrameCounts n = frame_counts(name);
    const std::string tx = std::to_string(n.tx);
    EXPECT_NE(r.notes[0].find(std::to_string(n.rx) + " rx frames delivered, " + tx + " of " + tx +
                              " tx frames transmitted byte-exact"),
              std::string::npos)
        << r.notes[0];
  }
}

// The capture compacted as trace2json writes it now (format version 2):
// consecutive identical register events as one line with "rep" (our
// guest polls the ISR and the used index between frames). Strict replay
// consumes each repeat as one register access of the driver.
std::string compact(const std::string& text) {
  const auto lines = split_lines(text);
  std::vector<std::string> out;
  std::string held;
  uint64_t count = 0, repeats = 0;
  auto emit = [&] {
    if (count == 0) return;
    out.push_back(count == 1 ? held
                             : held.substr(0, held.size() - 1) +
                                   ",\"rep\":" + std::to_string(count) + "}");
    repeats += count > 1;
    count = 0;
  };
  for (size_t i = 1; i + 1 < lines.size(); ++i) {
    const std::string& l = lines[i];
    const bool reg =
        (l.rfind("{\"ev\":\"reg_read\"", 0) == 0 || l.rfind("{\"ev\":\"reg_write\"", 0) == 0) &&
        l.find('{', 1) == std::string::npos;
    if (reg && count > 0 && l == held) {
      ++count;
      continue;
    }
    emit();
    if (reg) {
      held = l;
      count = 1;
    } else {
      out.push_back(l);
    }
  }
  emit();
  if (repeats == 0) throw std::runtime_error("nothing repeats");
  std::string header = lines[0];
  header.replace(header.find("\"version\":1"), 11, "\"version\":2");
  std::string s = header + "\n";
  for (const auto& l : out) s += l + "\n";
  return s + "{\"ev\":\"end\",\"events\":" + std::to_string(out.size()) + "}\n";
}

TEST(CaptureStrict, CompactCapturesReplayToo) {
  for (const char* name : {"legacy-capture.jsonl", "modern-capture.jsonl"}) {
    const std::string text = compact(fixture(name));
    const Trace t = load_trace(text, name);
    const Trace plain = load_trace(fixture(name), name);
    EXPECT_LT(t.events.size(), plain.events.size()) << name;
    EXPECT_EQ(t.logical_events, plain.logical_events) << name;
    const ReplayResult r = replay(t, ReplayMode::kStrict);
    const ReplayResult p = replay(plain, ReplayMode::kStrict);
    EXPECT_TRUE(r.passed) << name << ": "
                          << (r.divergence ? r.divergence->reason + "\n" + r.divergence->expected +
                                                 "\n" + r.divergence->actual
                                           : "");
    ASSERT_FALSE(r.notes.empty());
    ASSERT_FALSE(p.notes.empty());
    EXPECT_EQ(r.notes[0], p.notes[0]);  // the same register accesses and frames
    const ReplayResult d = replay(t, ReplayMode::kDevice);
    EXPECT_TRUE(d.passed) << name;
  }
}

TEST(CaptureStrict, TxFrameInAnotherSlotDiverges) {
  // The replay submits the captured tx frames itself, so the bytes of a
  // frame are the driver's to keep; where the driver puts it is checked.
  auto lines = split_lines(fixture("legacy-capture.jsonl"));
  const size_t i = find_line(lines, {"\"dev_frame\"", "\"dir\":\"tx\"", "\"avail\":5,"});
  ASSERT_NE(i, std::string::npos);
  lines[i] = set_field(lines[i], "avail", "6");
  TempFile f(join_lines(lines));
  const auto run = run_replay_cli(f.path());
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("first divergence at event " + std::to_string(i) + " (line " +
                            std::to_string(i + 1) + ")"),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("reason:   tx frame: avail slot differs"), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("actual:   {\"ev\":\"publish\",\"q\":1,\"avail\":5,"),
            std::string::npos)
      << run.output;
}

TEST(CaptureStrict, RegisterValueDiverges) {
  // The device offers other features: the driver writes other ones.
  auto lines = split_lines(fixture("modern-capture.jsonl"));
  const size_t mark = find_line(lines, {"\"mark\""});
  // MAC, MRG_RXBUF, STATUS, EVENT_IDX (word 0 of the modern driver features).
  const size_t i = find_line(lines, {"\"reg_write\"", "\"off\":12,", "\"val\":536969248"}, mark);
  ASSERT_NE(i, std::string::npos);
  lines[i] = set_field(lines[i], "val", "536969249");
  const ReplayResult r = replay_text(join_lines(lines), ReplayMode::kStrict);
  ASSERT_FALSE(r.passed);
  ASSERT_TRUE(r.divergence);
  EXPECT_EQ(r.divergence->event_index, i - 1);
  EXPECT_EQ(r.divergence->reason, "reg_write: value differs");
  EXPECT_NE(r.divergence->actual.find("\"val\":536969248"), std::string::npos);
}

TEST(CaptureStrict, FillOfAnUnpublishedSlotDiverges) {
  // A completion names avail slot 300 of the receive queue, which the
  // driver (256 buffers posted) never filled.
  auto lines = split_lines(fixture("legacy-capture.jsonl"));
  const size_t i = find_line(lines, {"\"dev_fill\"", "\"q\":0,", "\"avail\":3,"});
  ASSERT_NE(i, std::string::npos);
  lines[i] = set_field(lines[i], "avail", "300");
  const ReplayResult r = replay_text(join_lines(lines), ReplayMode::kStrict);
  ASSERT_TRUE(r.divergence);
  EXPECT_EQ(r.divergence->event_index, i - 1);
  EXPECT_EQ(r.divergence->reason, "dev_fill for an avail slot the driver never published");
}

TEST(CaptureStrict, RecordingsStillReplayStrictly) {
  const ReplayResult r = replay_text(testing::record("legacy", "traffic"), ReplayMode::kStrict);
  EXPECT_TRUE(r.passed);
  EXPECT_TRUE(r.notes.empty());
}

// ---- device mode ----

TEST(CaptureDevice, EveryRxFrameDelivered) {
  for (const char* name : {"legacy-capture.jsonl", "modern-capture.jsonl"}) {
    const ReplayResult r = replay_text(fixture(name), ReplayMode::kDevice);
    EXPECT_TRUE(r.passed) << name << ": " << (r.divergence ? r.divergence->reason : "");
    bool rx = false, conformance = false;
    const std::string frames = std::to_string(frame_counts(name).rx);
    for (const std::string& n : r.notes) {
      rx |= n == "rx: " + frames + " frames captured, " + frames + " delivered byte-exact in order";
      conformance |= n == "conformance: 0 violations";
    }
    EXPECT_TRUE(rx && conformance) << name;
  }
}

TEST(CaptureDevice, HeaderAsksForDeviceMode) {
  auto lines = split_lines(fixture("legacy-capture.jsonl"));
  lines[0] = lines[0].substr(0, lines[0].size() - 1) + ",\"replay\":\"device\"}";
  TempFile f(join_lines(lines));
  const auto run = run_replay_cli(f.path());
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("device mode)"), std::string::npos) << run.output;
  const auto strict = run_replay_cli("--mode strict " + f.path());
  EXPECT_EQ(strict.exit_code, 0) << strict.output;
  EXPECT_NE(strict.output.find("strict capture replay"), std::string::npos) << strict.output;
}

TEST(CaptureDevice, MissingFrameFails) {
  // The last rx frame is too large for any rx buffer of the driver: it
  // never reaches the stack.
  auto lines = split_lines(fixture("legacy-capture.jsonl"));
  size_t last = std::string::npos;
  for (size_t i = 0; i < lines.size(); ++i)
    if (lines[i].find("\"dev_frame\"") != std::string::npos &&
        lines[i].find("\"dir\":\"rx\"") != std::string::npos)
      last = i;
  ASSERT_NE(last, std::string::npos);
  lines[last] = set_field(set_field(lines[last], "data", "\"" + std::string(2 * 4000, 'a') + "\""),
                          "len", "4012");
  TempFile f(join_lines(lines));
  const auto run = run_replay_cli("--mode device " + f.path());
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("first divergence at event " + std::to_string(last) + " (line " +
                            std::to_string(last + 1) + ")"),
            std::string::npos)
      << run.output;
  const size_t rx = frame_counts("legacy-capture.jsonl").rx;
  const std::string n = std::to_string(rx);
  EXPECT_NE(run.output.find("reason:   rx frame " + n + " of " + n +
                            " missing: the driver never delivered it "
                            "(1 frames did not fit the driver's rx buffers)"),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("rx: " + n + " frames captured, " + std::to_string(rx - 1) +
                            " delivered byte-exact in order"),
            std::string::npos)
      << run.output;
}

TEST(CaptureDevice, RuntFrameIsReportedInItsPlace) {
  // A 10-byte rx frame: the driver drops it (shorter than an Ethernet
  // header), so the next frame arrives in its place.
  auto lines = split_lines(fixture("modern-capture.jsonl"));
  const size_t i = find_line(lines, {"\"dev_frame\"", "\"dir\":\"rx\"", "\"avail\":3,"});
  ASSERT_NE(i, std::string::npos);
  lines[i] = set_field(set_field(lines[i], "data", "\"00112233445566778899\""), "len", "22");
  const ReplayResult r = replay_text(join_lines(lines), ReplayMode::kDevice);
  ASSERT_FALSE(r.passed);
  ASSERT_TRUE(r.divergence);
  EXPECT_EQ(r.divergence->event_index, i - 1);
  EXPECT_NE(r.divergence->reason.find("rx frame 4 of " +
                                      std::to_string(frame_counts("modern-capture.jsonl").rx) +
                                      " differs: the driver delivered another frame in its place"),
            std::string::npos)
      << r.divergence->reason;
}

TEST(CaptureDevice, RecordingIsRefused) {
  TempFile f(testing::record("modern", "traffic"));
  const auto run = run_replay_cli("--mode device " + f.path());
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("UNREADABLE " + f.path() +
                            ": device mode: device mode replays converted captures"),
            std::string::npos)
      << run.output;
  // and says why this trace is not one
  EXPECT_NE(run.output.find("this trace is not one: line "), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("is a call line or names a DMA address, which only recordings have"),
            std::string::npos)
      << run.output;
}

TEST(CaptureDevice, ConversionThatFoundNothingIsExplained) {
  // A trace2json header over configuration-space reads only: what a log
  // gives when nothing of the NIC was attributed.
  auto lines = split_lines(fixture("legacy-capture.jsonl"));
  std::vector<std::string> kept{lines[0],
                                "{\"ev\":\"reg_read\",\"region\":\"pci_config\",\"off\":0,"
                                "\"w\":2,\"val\":6900}",
                                "{\"ev\":\"end\",\"events\":1}"};
  TempFile f(join_lines(kept));
  const auto run = run_replay_cli("--mode device " + f.path());
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("its header says it was converted from a capture, but it has no "
                            "capture event"),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("the conversion found nothing of the NIC's device side"),
            std::string::npos)
      << run.output;
}

// A transitional device that the capture's driver drove through its
// legacy interface (OVMF's VirtioNetDxe): only the legacy offer was read.
// Rebuilt from "offers", it replays as what it was, and our driver drives
// the interface the capture used.
TEST(CaptureDevice, TransitionalDrivenAsLegacyReplaysAsOne) {
  auto lines = split_lines(fixture("legacy-capture.jsonl"));
  const std::string transitional = set_field(lines[0], "kind", "\"transitional\"");
  lines[0] =
      transitional.substr(0, transitional.size() - 1) + ",\"offers\":{\"legacy\":\"0x79bf8064\"}}";
  const ReplayResult r = replay_text(join_lines(lines), ReplayMode::kDevice);
  EXPECT_TRUE(r.passed) << (r.divergence ? r.divergence->reason : "");
  ASSERT_FALSE(r.notes.empty());
  EXPECT_NE(r.notes[0].find("device: transitional, offers 0x79bf8064"), std::string::npos)
      << r.notes[0];
  EXPECT_NE(r.notes[0].find("used the legacy interface only: probing legacy"), std::string::npos)
      << r.notes[0];
}

// A driver that does not reach running: the report names the probe and
// attach results (a modern device whose offer lacks VERSION_1).
TEST(CaptureDevice, ProbeAndAttachResultsAreNamed) {
  auto lines = split_lines(fixture("legacy-capture.jsonl"));
  const std::string modern = set_field(lines[0], "kind", "\"modern\"");
  lines[0] = modern.substr(0, modern.size() - 1) + ",\"offers\":{\"modern\":\"0x30bf8024\"}}";
  const ReplayResult r = replay_text(join_lines(lines), ReplayMode::kDevice);
  ASSERT_FALSE(r.passed);
  ASSERT_TRUE(r.divergence);
  EXPECT_EQ(r.divergence->reason, "the driver did not reach running against the capture's device");
  EXPECT_EQ(r.divergence->actual,
            "(probe modern interface unusable, attach not tried, state down)");
}

TEST(CaptureDevice, CaptureWithoutFramesIsRefused) {
  auto lines = split_lines(fixture("legacy-capture.jsonl"));
  std::vector<std::string> kept;
  for (const std::string& l : lines)
    if (l.find("\"dev_frame\"") == std::string::npos) kept.push_back(l);
  kept.back() = "{\"ev\":\"end\",\"events\":" + std::to_string(kept.size() - 2) + "}";
  TempFile f(join_lines(kept));
  const auto run = run_replay_cli("--mode device " + f.path());
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("device mode needs the capture's frames: no dev_frame events"),
            std::string::npos)
      << run.output;
}

TEST(CaptureDevice, JsonReportNamesTheMode) {
  TempFile f(fixture("modern-capture.jsonl"));
  TempFile report("", ".json");
  const auto run = run_replay_cli("--mode device --report " + report.path() + " " + f.path());
  EXPECT_EQ(run.exit_code, 0) << run.output;
  std::ifstream in(report.path());
  const nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_EQ(j["traces"][0]["mode"], "device");
  EXPECT_FALSE(j["traces"][0]["notes"].empty());
}

}  // namespace
}  // namespace vnet::replay
