// The control plane in traces (issue 15): a recording carries every
// control command as a call ("set_rx_mode", "set_mac_filter",
// "set_mac_address", "add_vlan", "remove_vlan", "set_queue_pairs",
// "set_rss") scoped by op "control", the command's chain on the control
// queue (publish q 2, or 2N with MQ: header, data, 1-byte writable ack),
// the ack fetch ("ctrl_ack", idx = head), its completion, and the attach
// options that made the driver take the control queue. Such a trace
// replays on every transport; a trace whose command or ack was changed is
// reported with the command or the result in words.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "replay/replayer.h"
#include "replay/trace.h"
#include "tests/replay/replay_test_util.h"

namespace vnet::replay {
namespace {

using testing::find_line;
using testing::join_lines;
using testing::split_lines;

ReplayResult replay_text(const std::string& text, const std::string& name = "ctrl.jsonl") {
  return replay(load_trace(text, name));
}

std::string divergence_reason(const ReplayResult& r) {
  return r.divergence ? r.divergence->reason : std::string("(no divergence)");
}

class CtrlPlaneOnKind : public ::testing::TestWithParam<const char*> {};

TEST_P(CtrlPlaneOnKind, RecordsEveryCommandAndReplays) {
  const std::string text = testing::record(GetParam(), "ctrl_plane");
  const auto lines = split_lines(text);
  // The calls, each scoped, its chain on the control queue (2), its ack.
  for (const char* fn :
       {"\"fn\":\"set_rx_mode\"", "\"fn\":\"set_mac_filter\"", "\"fn\":\"set_mac_address\"",
        "\"fn\":\"add_vlan\"", "\"fn\":\"remove_vlan\""})
    EXPECT_NE(find_line(lines, {"\"ev\":\"call\"", fn}), std::string::npos) << fn;
  EXPECT_NE(find_line(lines, {"\"op\":\"control\""}), std::string::npos);
  EXPECT_NE(find_line(lines, {"\"accept_ctrl_vq\":true"}), std::string::npos);
  EXPECT_NE(find_line(lines, {"\"part\":\"ctrl_ack\""}), std::string::npos);
  // MAC_ADDR_SET: class 1, command 1, the new MAC as its data.
  EXPECT_NE(find_line(lines, {"\"ev\":\"publish\"", "\"q\":2", "\"data\":\"0101\"",
                              "\"data\":\"020000004242\""}),
            std::string::npos);
  // VLAN_ADD 100: class 2, command 0, le16 100.
  EXPECT_NE(
      find_line(lines, {"\"ev\":\"publish\"", "\"q\":2", "\"data\":\"0200\"", "\"data\":\"6400\""}),
      std::string::npos);
  // The header names the control queue's size too.
  EXPECT_NE(lines[0].find("\"queue_sizes\":[256,256,64]"), std::string::npos) << lines[0];
  const ReplayResult r = replay_text(text);
  EXPECT_TRUE(r.passed) << divergence_reason(r);
  // The fast path and the reference parser agree on the control calls.
  const Trace fast = load_trace(text, "f");
  const Trace slow = load_trace(text, "s", LoadOptions{false, true});
  ASSERT_EQ(fast.calls.size(), slow.calls.size());
  for (size_t i = 0; i < fast.calls.size(); ++i) {
    EXPECT_EQ(fast.calls[i].fn, slow.calls[i].fn);
    EXPECT_EQ(fast.calls[i].unicast.size(), slow.calls[i].unicast.size());
    EXPECT_EQ(fast.calls[i].vid, slow.calls[i].vid);
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, CtrlPlaneOnKind,
                         ::testing::Values("legacy", "modern", "transitional",
                                           "transitional_as_legacy", "mmio_v1", "mmio_v2"));

TEST(CtrlReplay, BadAckScenarioReplays) {
  for (const char* k : {"legacy", "modern"}) {
    const std::string text = testing::record(k, "ctrl_bad_ack");
    // The lying ack (2) is in the trace, and the command's result says so.
    const auto lines = split_lines(text);
    EXPECT_NE(find_line(lines, {"\"part\":\"ctrl_ack\"", "\"data\":\"02\""}), std::string::npos);
    EXPECT_NE(find_line(lines, {"\"fn\":\"add_vlan\"", "\"result\":\"device_fault\""}),
              std::string::npos);
    const ReplayResult r = replay_text(text);
    EXPECT_TRUE(r.passed) << k << ": " << divergence_reason(r);
  }
}

TEST(CtrlReplay, MultiqueuePairsReplay) {
  const std::string text = testing::record("modern", "ctrl_mq");
  const auto lines = split_lines(text);
  // The control queue is 2N = 4 with two pairs; pair 1's queues are 2 and 3.
  EXPECT_NE(find_line(lines, {"\"max_queue_pairs\":2"}), std::string::npos);
  EXPECT_NE(find_line(lines, {"\"ev\":\"publish\"", "\"q\":4", "\"data\":\"0400\""}),
            std::string::npos);
  EXPECT_NE(find_line(lines, {"\"fn\":\"rx_burst\"", "\"pair\":1"}), std::string::npos);
  EXPECT_NE(find_line(lines, {"\"fn\":\"tx_burst\"", "\"pair\":1"}), std::string::npos);
  EXPECT_NE(find_line(lines, {"\"ev\":\"frame\"", "\"q\":2"}), std::string::npos);
  EXPECT_NE(find_line(lines, {"\"ev\":\"publish\"", "\"q\":3"}), std::string::npos);
  EXPECT_NE(lines[0].find("\"queue_sizes\":[256,256,256,256,64]"), std::string::npos);
  const ReplayResult r = replay_text(text);
  EXPECT_TRUE(r.passed) << divergence_reason(r);
  // The fast path hands "pair" lines to the reference parser: both agree.
  const Trace fast = load_trace(text, "f");
  const Trace slow = load_trace(text, "s", LoadOptions{false, true});
  ASSERT_EQ(fast.calls.size(), slow.calls.size());
  size_t on_pair_1 = 0;
  for (size_t i = 0; i < fast.calls.size(); ++i) {
    EXPECT_EQ(fast.calls[i].pair, slow.calls[i].pair) << i;
    on_pair_1 += fast.calls[i].pair == 1 ? 1 : 0;
  }
  EXPECT_EQ(on_pair_1, 3u);  // tx_burst, rx_burst, tx_reclaim on pair 1
  // Dropping the pair from rx_burst makes the replay drain pair 0 instead.
  auto edited = lines;
  const size_t at = find_line(edited, {"\"fn\":\"rx_burst\"", "\"pair\":1"});
  edited[at].replace(edited[at].find(",\"pair\":1"), 9, "");
  EXPECT_FALSE(replay_text(join_lines(edited)).passed);
}

// The line of the ack fetch of the first command of call `fn_needle`.
struct Tampered {
  std::vector<std::string> lines;
  size_t call = 0;
};
Tampered tamper_base(const std::string& fn_needle) {
  Tampered t;
  t.lines = split_lines(testing::record("modern", "ctrl_plane"));
  t.call = find_line(t.lines, {"\"ev\":\"call\"", fn_needle});
  EXPECT_NE(t.call, std::string::npos);
  return t;
}

TEST(CtrlReplay, TamperedAckIsCaught) {
  Tampered t = tamper_base("\"fn\":\"set_rx_mode\",\"mode\":\"promisc\",\"on\":true");
  const size_t ack = find_line(t.lines, {"\"part\":\"ctrl_ack\""}, t.call);
  ASSERT_NE(ack, std::string::npos);
  std::string& l = t.lines[ack];
  l.replace(l.find("\"data\":\"00\""), 11, "\"data\":\"01\"");  // OK -> ERR
  const ReplayResult r = replay_text(join_lines(t.lines));
  ASSERT_TRUE(r.divergence.has_value());
  EXPECT_NE(r.divergence->reason.find("the control command's result differs: the trace's "
                                      "set_rx_mode returned ok, the driver's rejected"),
            std::string::npos)
      << r.divergence->reason;
  EXPECT_NE(r.divergence->reason.find("01 = ERR"), std::string::npos) << r.divergence->reason;
}

TEST(CtrlReplay, TamperedCommandIsCaught) {
  // PROMISC on (class 0, command 0, data 01) becomes ALLMULTI on.
  Tampered t = tamper_base("\"fn\":\"set_rx_mode\",\"mode\":\"promisc\",\"on\":true");
  const size_t pub = find_line(t.lines, {"\"ev\":\"publish\"", "\"q\":2"}, t.call);
  ASSERT_NE(pub, std::string::npos);
  std::string& l = t.lines[pub];
  l.replace(l.find("\"data\":\"0000\""), 13, "\"data\":\"0001\"");
  const ReplayResult r = replay_text(join_lines(t.lines));
  ASSERT_TRUE(r.divergence.has_value());
  EXPECT_EQ(r.divergence->event_index + 2, pub + 1);  // reported at the publish
  EXPECT_NE(r.divergence->reason.find("the control command differs: the trace's is class RX (0) "
                                      "command ALLMULTI (1) data 01, the driver's is class RX "
                                      "(0) command PROMISC (0) data 01"),
            std::string::npos)
      << r.divergence->reason;
}

TEST(CtrlReplay, TamperedCommandDataIsCaught) {
  // The VLAN id of VLAN_ADD: 100 in the call, 101 in the chain.
  Tampered t = tamper_base("\"fn\":\"add_vlan\",\"vid\":100");
  const size_t pub = find_line(t.lines, {"\"ev\":\"publish\"", "\"q\":2"}, t.call);
  std::string& l = t.lines[pub];
  l.replace(l.find("\"data\":\"6400\""), 13, "\"data\":\"6500\"");
  const ReplayResult r = replay_text(join_lines(t.lines));
  ASSERT_TRUE(r.divergence.has_value());
  EXPECT_NE(r.divergence->reason.find("command ADD (0) data 6500, the driver's is class VLAN (2) "
                                      "command ADD (0) data 6400"),
            std::string::npos)
      << r.divergence->reason;
}

TEST(CtrlReplay, TamperedCallArgumentIsCaught) {
  // The call asks for another MAC address than the one the trace's chain carries.
  Tampered t = tamper_base("\"fn\":\"set_mac_address\"");
  std::string& l = t.lines[t.call];
  l.replace(l.find("020000004242"), 12, "020000004243");
  const ReplayResult r = replay_text(join_lines(t.lines));
  ASSERT_TRUE(r.divergence.has_value());
  EXPECT_NE(r.divergence->reason.find("class MAC (1) command ADDR_SET (1)"), std::string::npos)
      << r.divergence->reason;
}

TEST(CtrlReplay, AckReadAtAnotherHeadIsCaught) {
  Tampered t = tamper_base("\"fn\":\"add_vlan\",\"vid\":100");
  const size_t ack = find_line(t.lines, {"\"part\":\"ctrl_ack\""}, t.call);
  std::string& l = t.lines[ack];
  l.replace(l.find("\"idx\":0"), 7, "\"idx\":1");
  const ReplayResult r = replay_text(join_lines(t.lines));
  ASSERT_TRUE(r.divergence.has_value());
  EXPECT_NE(r.divergence->reason.find("the control command's ack read differs: the trace reads "
                                      "the ack of the chain at head 1 on queue 2, the driver the "
                                      "ack of head 0 on queue 2"),
            std::string::npos)
      << r.divergence->reason;
}

TEST(CtrlReplay, OptionsWithoutControlQueueDivergeAtTheFeatureWrite) {
  auto lines = split_lines(testing::record("modern", "ctrl_plane"));
  const size_t at = find_line(lines, {"\"fn\":\"attach\""});
  std::string& l = lines[at];
  l.replace(l.find("\"accept_ctrl_vq\":true,"), 22, "");
  const ReplayResult r = replay_text(join_lines(lines));
  ASSERT_TRUE(r.divergence.has_value());
  EXPECT_NE(r.divergence->reason.find("CTRL_VQ (17) off here, on in the trace"), std::string::npos)
      << r.divergence->reason;
  EXPECT_NE(r.divergence->reason.find("accept_ctrl_vq"), std::string::npos);
}

TEST(CtrlReplay, MalformedControlCallsAreRefused) {
  const auto lines = split_lines(testing::record("modern", "ctrl_plane"));
  auto refuse = [&](const std::vector<std::string>& needles, const std::string& from,
                    const std::string& to, const std::string& message) {
    auto edited = lines;
    const size_t at = find_line(edited, needles);
    ASSERT_NE(at, std::string::npos);
    const size_t p = edited[at].find(from);
    ASSERT_NE(p, std::string::npos) << edited[at];
    edited[at].replace(p, from.size(), to);
    try {
      load_trace(join_lines(edited), "bad.jsonl");
      ADD_FAILURE() << "loaded: " << edited[at];
    } catch (const TraceError& e) {
      EXPECT_EQ(e.line(), at + 1);
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  };
  refuse({"\"ev\":\"ret\"", "\"fn\":\"set_rx_mode\""}, "\"result\":\"ok\"",
         "\"result\":\"rejected\"", "disagrees with \"val\"");
  refuse({"\"ev\":\"call\"", "\"fn\":\"set_rx_mode\""}, "\"mode\":\"promisc\"",
         "\"mode\":\"promiscuous\"", "mode");
  refuse({"\"ev\":\"call\"", "\"fn\":\"set_mac_filter\""}, "\"uc\":[\"020000009901\"]",
         "\"uc\":[\"0200000099\"]", "6 bytes");
  refuse({"\"ev\":\"call\"", "\"fn\":\"set_mac_address\""}, "\"mac\":\"020000004242\"",
         "\"mac\":\"02\"", "6 bytes");
}

}  // namespace
}  // namespace vnet::replay
