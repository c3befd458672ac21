// Offloads and receive chains in traces (issue 16): the attach options, the
// tx frames' PacketOffload requests ("offload"), what rx_burst delivered --
// each frame's buffers and offload result ("delivered") -- and
// set_guest_offloads round-trip through the writer and the loader (fast
// and slow path alike); the mock corpus's offload scenarios replay with
// zero divergence; and every recorded field is checked: an edit of any one
// of them in a recording makes the replay diverge, with a reason naming
// it. Old traces (without any of this) are the corpus tests' business:
// they replay unchanged.
//
// What offloads put in a trace: docs/trace-format.md, "Offloads".
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "replay/record/trace_events.h"
#include "replay/record/trace_writer.h"
#include "replay/replayer.h"
#include "tests/replay/replay_test_util.h"

namespace vnet::replay {
namespace {

using testing::edit;
using testing::find_line;
using testing::join_lines;
using testing::replay_text;
using testing::split_lines;
using testing::writer_text;

// ---- the format

const uint8_t kBytes[64] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17};

void write_offload_lines(trace::TraceWriter& w) {
  trace::ApiCall attach{};
  attach.fn = ApiFn::kAttach;
  attach.options.max_frame = kMaxGsoFrame;  // above 65535
  attach.options.rx_chains = true;
  attach.options.accept_tx_csum = true;
  attach.options.accept_tso = true;
  attach.options.accept_rx_csum = true;
  attach.options.accept_rx_gso = true;
  trace::write_call(w, attach);  // line 1
  // A burst with an offloaded frame and a plain one; then plain ones only.
  trace::TxFrame frames[2] = {{kBytes, 64}, {kBytes, 10}};
  PacketOffload req[2];
  req[0].csum = CsumState::kPartial;
  req[0].csum_start = 34;
  req[0].csum_offset = 16;
  req[0].gso = GsoKind::kTcp6;
  req[0].gso_size = 1448;
  req[0].ecn = true;
  trace::ApiCall tx{};
  tx.fn = ApiFn::kTxBurst;
  tx.frames = frames;
  tx.num_frames = 2;
  tx.offloads = req;
  trace::write_call(w, tx);  // line 2
  req[0] = PacketOffload{};
  trace::write_call(w, tx);  // line 3: every request none
  tx.offloads = nullptr;
  trace::write_call(w, tx);  // line 4
  // rx_burst: a chain of three with a GSO result, a verified single buffer.
  PacketBuffer b[4];
  b[0].len = 2036;
  b[0].next = &b[1];
  b[1].len = 2048;
  b[1].next = &b[2];
  b[2].len = 970;
  b[0].offload.csum = CsumState::kPartial;
  b[0].offload.csum_start = 34;
  b[0].offload.csum_offset = 16;
  b[0].offload.gso = GsoKind::kTcp4;
  b[0].offload.gso_size = 1448;
  b[0].offload.hdr_len = 54;
  b[3].len = 454;
  b[3].offload.csum = CsumState::kVerified;
  PacketBuffer* delivered[2] = {&b[0], &b[3]};
  trace::ApiResult r{};
  r.fn = ApiFn::kRxBurst;
  r.value = 2;
  r.state = NetState::kRunning;
  r.delivered = delivered;
  trace::write_ret(w, r);  // line 5
  // Single buffers without results: the line it always was.
  b[0].next = nullptr;
  b[0].offload = PacketOffload{};
  b[3].offload = PacketOffload{};
  trace::write_ret(w, r);  // line 6
  trace::ApiCall go{};
  go.fn = ApiFn::kSetGuestOffloads;
  go.guest_offloads = kGuestOffloadBits;
  trace::write_call(w, go);  // line 7
  trace::ApiResult gr{};
  gr.fn = ApiFn::kSetGuestOffloads;
  gr.value = static_cast<uint32_t>(CtrlResult::kRejected);
  gr.state = NetState::kRunning;
  trace::write_ret(w, gr);  // line 8
}

TEST(OffloadFormat, RoundTripsThroughWriterAndLoader) {
  const std::string text = writer_text(&write_offload_lines);
  const auto lines = split_lines(text);
  ASSERT_EQ(lines.size(), 10u) << text;
  EXPECT_NE(lines[1].find(R"("max_frame":65550,)"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find(R"("rx_chains":true,"accept_tx_csum":true,"accept_tso":true,)"
                          R"("accept_rx_csum":true,"accept_rx_gso":true})"),
            std::string::npos)
      << lines[1];
  EXPECT_NE(lines[2].find(R"(,"offload":[{"csum":"partial","csum_start":34,"csum_offset":16,)"
                          R"("gso":"tcp6","gso_size":1448,"ecn":true},{}]})"),
            std::string::npos)
      << lines[2];
  EXPECT_EQ(lines[3].find("offload"), std::string::npos) << "all none: not written";
  EXPECT_EQ(lines[4].find("offload"), std::string::npos) << lines[4];
  EXPECT_EQ(lines[5],
            R"({"ev":"ret","fn":"rx_burst","val":2,"state":"running","delivered":[)"
            R"({"bufs":[2036,2048,970],"csum":"partial","csum_start":34,"csum_offset":16,)"
            R"("gso":"tcp4","gso_size":1448,"hdr_len":54},{"bufs":[454],"csum":"verified"}]})");
  EXPECT_EQ(lines[6], R"({"ev":"ret","fn":"rx_burst","val":2,"state":"running"})");
  EXPECT_EQ(lines[7], R"({"ev":"call","fn":"set_guest_offloads","offloads":"0xc0000000000782"})");
  EXPECT_EQ(
      lines[8],
      R"({"ev":"ret","fn":"set_guest_offloads","val":1,"state":"running","result":"rejected"})");

  for (const bool fast : {true, false}) {
    LoadOptions o;
    o.fast_path = fast;
    const Trace t = load_trace(text, "round-trip.jsonl", o);
    ASSERT_EQ(t.calls.size(), 5u);
    const NetOptions& opt = t.calls[0].options;
    EXPECT_EQ(opt.max_frame, kMaxGsoFrame) << "not cut to 16 bits";
    EXPECT_TRUE(opt.rx_chains && opt.accept_tx_csum && opt.accept_tso && opt.accept_rx_csum &&
                opt.accept_rx_gso);
    ASSERT_EQ(t.calls[1].offloads.size(), 2u);
    const PacketOffload& q = t.calls[1].offloads[0];
    EXPECT_EQ(q.csum, CsumState::kPartial);
    EXPECT_EQ(q.csum_start, 34u);
    EXPECT_EQ(q.csum_offset, 16u);
    EXPECT_EQ(q.gso, GsoKind::kTcp6);
    EXPECT_EQ(q.gso_size, 1448u);
    EXPECT_TRUE(q.ecn);
    EXPECT_TRUE(trace::offload_is_none(t.calls[1].offloads[1]));
    EXPECT_TRUE(t.calls[2].offloads.empty());
    EXPECT_EQ(t.calls[4].fn, ApiFn::kSetGuestOffloads);
    EXPECT_EQ(t.calls[4].guest_offloads, kGuestOffloadBits);
    ASSERT_EQ(t.rets.size(), 3u);
    const RetValues& rx = t.rets[0];
    ASSERT_TRUE(rx.has_delivered);
    ASSERT_EQ(rx.delivered.size(), 2u);
    EXPECT_EQ(rx.delivered[0].bufs, (std::vector<uint32_t>{2036, 2048, 970}));
    EXPECT_EQ(rx.delivered[0].offload.gso, GsoKind::kTcp4);
    EXPECT_EQ(rx.delivered[0].offload.hdr_len, 54u);
    EXPECT_EQ(rx.delivered[1].offload.csum, CsumState::kVerified);
    EXPECT_FALSE(t.rets[1].has_delivered);
    EXPECT_EQ(t.rets[2].value, static_cast<uint32_t>(CtrlResult::kRejected));
  }
}

TEST(OffloadFormat, LoaderRefusesMalformedOffloadLines) {
  const auto lines = split_lines(writer_text(&write_offload_lines));
  struct Bad {
    size_t line;
    std::string from, to, says;
  };
  const std::vector<Bad> bad = {
      {2, R"("csum":"partial","csum_start":34)", R"("csum":"maybe","csum_start":34)",
       "unknown value \"maybe\""},
      {2, R"("gso":"tcp6")", R"("gso":"sctp")", "unknown value \"sctp\""},
      {2, R"("gso_size":1448)", R"("gso_size":65536)", "above its maximum"},
      {2, R"(,{}]})", "]}", "one object per frame"},
      {5, R"(,{"bufs":[454],"csum":"verified"}])", "]", "one object per delivered frame (2)"},
      {5, R"("bufs":[454])", R"("bufs":[])", "at least one"},
      {5, R"("csum":"verified")", R"("ecn":1)", "must be true or false"},
      {7, R"("offloads":"0xc0000000000782")", R"("offloads":7)", "must be a string"},
      {1, R"("max_frame":65550)", R"("max_frame":4294967296)", "above its maximum"},
  };
  for (const Bad& b : bad) {
    auto edited = lines;
    edit(edited[b.line], b.from, b.to);
    for (const bool fast : {true, false}) {
      LoadOptions o;
      o.fast_path = fast;
      try {
        load_trace(join_lines(edited), "bad.jsonl", o);
        ADD_FAILURE() << "loaded: " << edited[b.line];
      } catch (const TraceError& e) {
        EXPECT_NE(std::string(e.what()).find("line " + std::to_string(b.line + 1)),
                  std::string::npos)
            << e.what();
        EXPECT_NE(std::string(e.what()).find(b.says), std::string::npos) << e.what();
      }
    }
  }
}

// ---- the corpus scenarios

class OffloadScenario : public ::testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(OffloadScenario, RecordsOffloadsAndReplaysWithZeroDivergence) {
  const std::string text = testing::record(GetParam().first, GetParam().second);
  Trace t;
  const ReplayResult r = replay_text(text, &t);
  EXPECT_TRUE(r.passed);
  ASSERT_FALSE(r.divergence.has_value()) << r.divergence->reason;
  EXPECT_EQ(r.benign_calls, 0u);
  // The trace says what the offloads did.
  size_t requests = 0, chains = 0, results = 0, guest_offloads = 0;
  for (const CallArgs& c : t.calls) {
    for (const PacketOffload& o : c.offloads) requests += !trace::offload_is_none(o);
    guest_offloads += c.fn == ApiFn::kSetGuestOffloads;
  }
  for (const RetValues& v : t.rets)
    for (const DeliveredFrame& f : v.delivered) {
      chains += f.bufs.size() > 1;
      results += !trace::offload_is_none(f.offload);
    }
  if (std::string(GetParam().second) == "offload_tx") {
    EXPECT_GE(requests, 6u) << "four accepted requests and two refused";
  } else {
    EXPECT_GE(chains, 4u) << "TCP4, TCP6, USO4 and the last GSO frame as chains";
    EXPECT_GE(results, 6u);
    EXPECT_EQ(guest_offloads, 2u);
  }
}

// The scenarios do what the corpus documentation says they do: the
// driver's counters after the recorded run, and the device's.
TEST_P(OffloadScenario, DriverAndDeviceCountWhatTheScenarioSays) {
  const MockScenario& sc = testing::scenario(GetParam().second);
  mock::DeviceConfig cfg;
  if (sc.configure != nullptr) sc.configure(cfg);
  RecordingWorld w(testing::kind(GetParam().first), cfg);
  sc.run(w);
  const NetCounters& c = w.session().net().counters();
  const mock::DeviceCounters& d = w.device().counters();
  if (std::string(GetParam().second) == "offload_tx") {
    EXPECT_EQ(c.tx_csum_offloaded, 4u);
    EXPECT_EQ(c.tx_gso_packets, 2u);
    EXPECT_EQ(c.tx_drop_offload_gso, 1u);
    EXPECT_EQ(c.tx_drop_offload_csum, 1u);
    EXPECT_EQ(d.tx_gso_frames, 2u);
    EXPECT_EQ(d.tx_gso_segments, 3u + 3u) << "4000 bytes by 1448, 3000 bytes by 1000";
    EXPECT_EQ(d.tx_csum_completed, 2u);
    EXPECT_EQ(d.tx_offload_bad, 0u);
  } else {
    EXPECT_EQ(c.rx_chain_packets, 4u);
    EXPECT_EQ(c.rx_gso_packets, 4u);
    EXPECT_EQ(c.rx_csum_verified, 2u);
    EXPECT_EQ(c.rx_drop_gso_proto, 1u);
    EXPECT_EQ(c.rx_drop_csum_bounds, 1u);
    EXPECT_EQ(c.rx_drop_chain_len, 1u);
    EXPECT_EQ(d.ctrl_offloads_set, 2u);
    EXPECT_GE(d.rx_gso_refused, 1u) << "GSO off: the device refused the frame";
  }
  EXPECT_TRUE(w.device().conformance().empty());
}

INSTANTIATE_TEST_SUITE_P(Mock, OffloadScenario,
                         ::testing::Values(std::make_pair("modern", "offload_tx"),
                                           std::make_pair("legacy", "offload_tx"),
                                           std::make_pair("modern", "offload_rx")));

// ---- every recorded field is checked

struct Plant {
  const char* name;
  const char* scenario;
  // The line to edit: the first containing all of these.
  std::vector<std::string> needles;
  std::string from, to;
  const char* reason;  // in the divergence's reason
};

void PrintTo(const Plant& p, std::ostream* os) {
  *os << p.name;
}

class OffloadPlant : public ::testing::TestWithParam<Plant> {};

TEST_P(OffloadPlant, EditedFieldDiverges) {
  const Plant& p = GetParam();
  auto lines = split_lines(testing::record("modern", p.scenario));
  const size_t at = find_line(lines, p.needles);
  ASSERT_NE(at, std::string::npos);
  edit(lines[at], p.from, p.to);
  Trace t;
  const ReplayResult r = replay_text(join_lines(lines), &t);
  ASSERT_TRUE(r.divergence.has_value()) << "no divergence after " << p.name;
  EXPECT_FALSE(r.passed);
  EXPECT_NE(r.divergence->reason.find(p.reason), std::string::npos) << r.divergence->reason;
}

const std::vector<std::string> kGsoRet = {R"("fn":"rx_burst")", R"("gso":"tcp4")"};
const std::vector<std::string> kTxCall = {R"("fn":"tx_burst")", R"("gso":"tcp4")"};

INSTANTIATE_TEST_SUITE_P(
    Fields, OffloadPlant,
    ::testing::Values(
        // What rx_burst delivered.
        Plant{"bufs_length", "offload_rx", kGsoRet, "[2036,2048,970]", "[2036,2048,971]",
              "buffer lengths differ: the trace's 2036+2048+971, the driver's 2036+2048+970"},
        Plant{"bufs_count", "offload_rx", kGsoRet, "[2036,2048,970]", "[2036,3018]",
              "the trace's was 2 buffers (2036+3018), the driver delivered 3"},
        Plant{"csum",
              "offload_rx",
              {R"("csum":"verified")"},
              R"("csum":"verified")",
              R"("csum":"partial")",
              "csum: the trace's partial, the driver's verified"},
        Plant{"csum_start", "offload_rx", kGsoRet, R"("csum_start":34)", R"("csum_start":35)",
              "csum_start: the trace's 35, the driver's 34"},
        Plant{"csum_offset", "offload_rx", kGsoRet, R"("csum_offset":16)", R"("csum_offset":6)",
              "csum_offset: the trace's 6, the driver's 16"},
        Plant{"gso", "offload_rx", kGsoRet, R"("gso":"tcp4")", R"("gso":"tcp6")",
              "gso: the trace's tcp6, the driver's tcp4"},
        Plant{"gso_size", "offload_rx", kGsoRet, R"("gso_size":1448)", R"("gso_size":1447)",
              "gso_size: the trace's 1447, the driver's 1448"},
        Plant{"hdr_len", "offload_rx", kGsoRet, R"("hdr_len":54)", R"("hdr_len":66)",
              "hdr_len: the trace's 66, the driver's 54"},
        Plant{"ecn", "offload_rx", kGsoRet, R"("hdr_len":54)", R"("hdr_len":54,"ecn":true)",
              "ecn: the trace's 1, the driver's 0"},
        Plant{"delivered_absent", "offload_rx", kGsoRet, R"(,"delivered":)", R"(,"x":)",
              "csum: the trace's none, the driver's verified (no \"delivered\" in the trace"},
        // What the caller asked on tx: the header the driver publishes differs.
        Plant{"tx_gso_size", "offload_tx", kTxCall, R"("gso_size":1448)", R"("gso_size":1000)",
              "publish"},
        Plant{"tx_offload_absent", "offload_tx", kTxCall, R"(,"offload":)", R"(,"x":)", "publish"},
        // The options: the features negotiated differ.
        Plant{"accept_rx_gso",
              "offload_rx",
              {R"("fn":"attach")"},
              R"(,"accept_rx_gso":true)",
              "",
              "GUEST_TSO4 (7) off here, on in the trace"},
        Plant{"accept_tso",
              "offload_tx",
              {R"("fn":"attach")"},
              R"(,"accept_tso":true)",
              "",
              "HOST_TSO4 (11) off here, on in the trace"},
        // set_guest_offloads: the command the driver sends differs.
        Plant{"guest_offloads",
              "offload_rx",
              {R"("fn":"set_guest_offloads")"},
              R"("offloads":"0x2")",
              R"("offloads":"0x82")",
              "GUEST_OFFLOADS"}),
    [](const ::testing::TestParamInfo<Plant>& i) { return std::string(i.param.name); });

// ---- the QEMU recordings

// Our guest on QEMU 7.2 over a vnet-header tap (corpus/traces/qemu/
// *tap_vnet_hdr*, tools/rerecord-corpus.sh): with tso=1 in 2 KiB rx buffers
// and a 16 KiB bulk stream (split and packed rings), and with csum=1 alone
// on a legacy device. They load with the offload options, requests and
// results, and replay with zero divergence; an edited delivered field
// diverges there as in the mock recordings.
std::string qemu_trace(const std::string& name) {
  return std::string(VNET_QEMU_CORPUS_DIR) + "/" + name + ".jsonl";
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

constexpr uint64_t kCsum = uint64_t{1} << 0, kGuestCsum = uint64_t{1} << 1,
                   kGuestTso4 = uint64_t{1} << 7, kHostTso4 = uint64_t{1} << 11;

class QemuOffloadTrace : public ::testing::TestWithParam<const char*> {
 protected:
  bool tso() const { return std::string(GetParam()).find("-tso") != std::string::npos; }
};

TEST_P(QemuOffloadTrace, LoadsWithOffloadOptionsRequestsAndResults) {
  const Trace t = load_trace_file(qemu_trace(GetParam()));
  bool attach = false;
  size_t csum_requests = 0, gso_requests = 0, csum_results = 0, gso_results = 0, chains = 0;
  for (const CallArgs& c : t.calls) {
    if (c.fn == ApiFn::kAttach) {
      attach = true;
      EXPECT_TRUE(c.options.accept_tx_csum);
      EXPECT_TRUE(c.options.accept_rx_csum);
      EXPECT_EQ(c.options.accept_tso, tso());
      EXPECT_EQ(c.options.accept_rx_gso, tso());
      EXPECT_EQ(c.options.rx_chains, tso());
    }
    for (const PacketOffload& o : c.offloads) {
      csum_requests += o.csum == CsumState::kPartial;
      gso_requests += o.gso == GsoKind::kTcp4;
    }
  }
  EXPECT_TRUE(attach);
  for (const RetValues& r : t.rets) {
    if (r.fn == ApiFn::kAttach && r.has_negotiated) {
      EXPECT_EQ(r.features & (kCsum | kGuestCsum), kCsum | kGuestCsum) << std::hex << r.features;
      EXPECT_EQ((r.features & (kHostTso4 | kGuestTso4)) != 0, tso()) << std::hex << r.features;
    }
    for (const DeliveredFrame& f : r.delivered) {
      chains += f.bufs.size() > 1;
      csum_results += f.offload.csum != CsumState::kNone;
      gso_results += f.offload.gso != GsoKind::kNone;
    }
  }
  EXPECT_GE(csum_requests, 10u) << "the TCP echo leaves its checksums to the device";
  EXPECT_GE(csum_results, 24u) << "the device leaves the tap's checksums partial";
  if (tso()) {
    EXPECT_GE(gso_requests, 1u) << "bulk segments above the MTU";
    EXPECT_GE(gso_results, 1u) << "coalesced frames";
    EXPECT_GE(chains, 1u) << "coalesced frames over 2 KiB buffers";
  } else {
    EXPECT_EQ(gso_requests + gso_results + chains, 0u);
  }
}

TEST_P(QemuOffloadTrace, ReplaysWithZeroDivergence) {
  const Trace t = load_trace_file(qemu_trace(GetParam()));
  const ReplayResult r = replay(t);
  EXPECT_TRUE(r.passed);
  EXPECT_FALSE(r.divergence.has_value()) << r.divergence->reason;
  EXPECT_EQ(r.benign_calls, 0u);
  EXPECT_EQ(r.events_consumed, t.events.size());
}

// The first delivered frame with a checksum result, its csum_start
// edited: the replay diverges at that rx_burst, naming the field.
TEST_P(QemuOffloadTrace, EditedDeliveredCsumStartDiverges) {
  auto lines = split_lines(read_text(qemu_trace(GetParam())));
  const size_t at = find_line(lines, {R"("fn":"rx_burst")", R"("csum_start":)"});
  ASSERT_NE(at, std::string::npos);
  const size_t f = lines[at].find(R"("csum_start":)") + std::strlen(R"("csum_start":)");
  const size_t e = lines[at].find_first_not_of("0123456789", f);
  const std::string was = lines[at].substr(f, e - f);
  const std::string now = std::to_string(std::stoul(was) + 1);
  lines[at].replace(f, e - f, now);
  const ReplayResult r = replay_text(join_lines(lines));
  ASSERT_TRUE(r.divergence.has_value());
  EXPECT_FALSE(r.passed);
  EXPECT_NE(r.divergence->reason.find("csum_start: the trace's " + now + ", the driver's " + was),
            std::string::npos)
      << r.divergence->reason;
}

// A receive chain's buffer lengths edited: the replay names both.
TEST_P(QemuOffloadTrace, EditedChainLengthDiverges) {
  if (!tso()) GTEST_SKIP() << "no receive chains without tso";
  auto lines = split_lines(read_text(qemu_trace(GetParam())));
  size_t at = std::string::npos;
  for (size_t i = 0; i < lines.size() && at == std::string::npos; ++i) {
    const size_t b = lines[i].find(R"("bufs":[)");
    if (lines[i].find(R"("fn":"rx_burst")") == std::string::npos || b == std::string::npos)
      continue;
    for (size_t k = b; k < lines[i].size(); k = lines[i].find(R"("bufs":[)", k + 1)) {
      const size_t end = lines[i].find(']', k);
      if (lines[i].substr(k, end - k).find(',') != std::string::npos) {
        // The chain's last length, one more.
        const size_t last = lines[i].rfind(',', end) + 1;
        const std::string n = lines[i].substr(last, end - last);
        lines[i].replace(last, end - last, std::to_string(std::stoul(n) + 1));
        at = i;
        break;
      }
      if (lines[i].find(R"("bufs":[)", k + 1) == std::string::npos) break;
    }
  }
  ASSERT_NE(at, std::string::npos) << "no receive chain in the trace";
  const ReplayResult r = replay_text(join_lines(lines));
  ASSERT_TRUE(r.divergence.has_value());
  EXPECT_NE(r.divergence->reason.find("buffer lengths differ"), std::string::npos)
      << r.divergence->reason;
}

INSTANTIATE_TEST_SUITE_P(Qemu, QemuOffloadTrace,
                         ::testing::Values("modern-tap_vnet_hdr-tso",
                                           "modern-packed-tap_vnet_hdr-tso",
                                           "legacy-tap_vnet_hdr-csum"),
                         [](const ::testing::TestParamInfo<const char*>& i) {
                           std::string n = i.param;
                           for (char& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

}  // namespace
}  // namespace vnet::replay
