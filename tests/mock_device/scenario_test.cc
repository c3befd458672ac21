// Scenario loading (errors name the line) and the runner's results and
// verdicts, plus the vnet-mock command line's exit codes and reports.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "mock_device/scenario/scenario.h"
#include "mock_device/scenario/scenario_runner.h"

namespace vnet::scenario {
namespace {

int error_line(const std::string& text) {
  try {
    parse_scenario(text, "t.json");
  } catch (const ScenarioError& e) {
    EXPECT_EQ(e.file(), "t.json");
    EXPECT_NE(std::string(e.what()).find("t.json:" + std::to_string(e.line()) + ": "),
              std::string::npos)
        << e.what();
    return e.line();
  }
  ADD_FAILURE() << "no error for: " << text;
  return -1;
}

std::string error_text(const std::string& text) {
  try {
    parse_scenario(text, "t.json");
  } catch (const ScenarioError& e) {
    return e.what();
  }
  return "";
}

TEST(ScenarioParse, SyntaxErrorNamesTheLine) {
  EXPECT_EQ(error_line("{\n  \"name\": \"x\",\n  \"steps\": [\n    { \"rx\": { \"size\": 64 } }\n  "
                       "  { \"pump\": 1 }\n  ]\n}\n"),
            5);
  EXPECT_NE(error_text("{\n\"name\": \"x\",,\n}").find("JSON syntax error"), std::string::npos);
}

TEST(ScenarioParse, MeaningErrorsNameTheLineOfTheValue) {
  const std::string bad_feature =
      "{\n"
      "  \"name\": \"x\",\n"
      "  \"device\": {\n"
      "    \"features\": [\"MAC\",\n"
      "                 \"NOT_A_FEATURE\"]\n"
      "  }\n"
      "}\n";
  EXPECT_EQ(error_line(bad_feature), 5);
  EXPECT_NE(error_text(bad_feature).find("unknown feature 'NOT_A_FEATURE'"), std::string::npos);

  const std::string bad_key =
      "{\n  \"name\": \"x\",\n  \"driver\": {\n    \"ecko\": true\n  }\n}\n";
  EXPECT_EQ(error_line(bad_key), 4);
  EXPECT_NE(error_text(bad_key).find("unknown key 'ecko'"), std::string::npos);

  const std::string bad_counter =
      "{\"name\": \"x\",\n \"steps\": [\n  {\"pump\": 1},\n  {\"expect\": {\"counters\":\n"
      "     {\"rx_pakets\": 1}}}]}\n";
  EXPECT_EQ(error_line(bad_counter), 5);
  EXPECT_NE(error_text(bad_counter).find("unknown driver counter 'rx_pakets'"), std::string::npos);

  EXPECT_EQ(error_line("{\"name\": \"x\",\n\"steps\": [{\"link\": \"sideways\"}]}"), 2);
  EXPECT_EQ(error_line("{\"name\": \"x\",\n\"steps\": [\n{\"rx\": {\"hex\": \"abc\"}}]}"), 3);
  EXPECT_EQ(error_line("{\"name\": \"x\",\n\"device\": {\"mac\":\n \"52:54\"}}"), 3);
  EXPECT_EQ(error_line("{\"name\": \"x\",\n\"steps\": [{\"fault\": {\"kind\": \"lie\"}}]}"), 2);
  EXPECT_EQ(error_line("{\n\"steps\": []}"), 1);  // no name
  EXPECT_EQ(
      error_line(
          "{\"name\": \"x\", \"steps\": [\n{\"rx\": {\"size\": 64}, \"tx\": {\"size\": 64}}]}"),
      2);
}

// Every key added for the lies of issue 10 fails with its file:line and a
// message saying what is wrong.
TEST(ScenarioParse, LieKeysFailPrecisely) {
  struct Case {
    const char* text;
    int line;
    const char* message;
  };
  const Case cases[] = {
      {"{\"name\": \"x\",\n\"device\": {\"hooks\": [\n {\"at\": \"DRIVER_OKAY\", \"do\": "
       "{\"config_interrupt\": true}}]}}",
       3, "hook point 'DRIVER_OKAY' is not"},
      {"{\"name\": \"x\",\n\"device\": {\"hooks\": [\n {\"at\": \"reset\",\n  \"do\": "
       "[{\"config_interrupt\": true},\n   {\"rx\": {\"size\": 64}}]}]}}",
       5, "'rx' cannot run inside a hook"},
      {"{\"name\": \"x\",\n\"device\": {\"hooks\": [{\"at\": \"DRIVER\",\n \"queue\": \"rx\", "
       "\"do\": {\"link\": \"up\"}}]}}",
       3, "\"queue\" is for queue_enable hooks"},
      {"{\"name\": \"x\",\n\"device\": {\"hooks\": [{\"at\": \"DRIVER\"}]}}", 2,
       "a hook needs \"do\""},
      {"{\"name\": \"x\", \"steps\": [\n{\"rewrite_descriptor\": {\"queue\": \"rx\", \"index\": "
       "3}}]}",
       2, "needs at least one of addr, len, flags, next"},
      {"{\"name\": \"x\", \"steps\": [\n{\"rewrite_descriptor\": {\"queue\": \"rx\", \"index\": "
       "3,\n"
       "  \"flags\": 65536}}]}",
       3, "above the maximum 65535"},
      {"{\"name\": \"x\", \"steps\": [\n{\"write_used_idx\": {\"queue\": \"tx\", \"value\": 1, "
       "\"advance\": 2}}]}",
       2, "either \"value\""},
      {"{\"name\": \"x\", \"steps\": [{\"hold\": {\"queue\": \"rx\",\n \"order\": \"lifo\"}}]}", 2,
       "order 'lifo' is not fifo, reverse or shuffle"},
      {"{\"name\": \"x\", \"steps\": [{\"release\": {\"queue\": \"vq7\"}}]}", 1,
       "queue 'vq7' is not rx, tx, ctrl"},
      {"{\"name\": \"x\",\n\"device\": {\"pci_config\": [\n{\"offset\": 255, \"width\": 2, "
       "\"value\": 0}]}}",
       3, "past the 256 bytes"},
      {"{\"name\": \"x\",\n\"device\": {\"pci_config\": [{\"offset\": 64,\n \"value\": 256}]}}", 3,
       "above the maximum 255"},
      {"{\"name\": \"x\",\n\"device\": {\"bars\": [\n{\"bar\": 4}]}}", 3,
       "needs at least one of \"present\", \"io\", \"size\""},
      {"{\"name\": \"x\",\n\"device\": {\"bars\": [{\"bar\": 256, \"io\": true}]}}", 2,
       "above the maximum 255"},
      {"{\"name\": \"x\",\n\"device\": {\"modern_bar\": 0}}", 2, "modern_bar is 1..5"},
      {"{\"name\": \"x\",\n\"device\": {\"registers\": [{\"region\": \"bar4\", \"offset\": 0,\n "
       "\"value\": 1, \"mask\": 0}]}}",
       3, "a mask of 0 changes no bit"},
      {"{\"name\": \"x\",\n\"platform\": {\"map_lie\": \"sometimes\"}}", 2,
       "map_lie 'sometimes' is not none, leak_physical or unmap_at_once"},
      {"{\"name\": \"x\",\n\"platform\": {\"clock\": {\"tick\": 5}}}", 2, "unknown key 'tick'"},
      {"{\"name\": \"x\", \"steps\": [\n{\"budget\": {\"dma_map\": \"lots\"}}]}", 2,
       "a budget is a count or \"unlimited\""},
      {"{\"name\": \"x\",\n\"driver\": {\"burst\": 0}}", 2, "a burst is at least one frame"},
      {"{\"name\": \"x\",\n\"driver\": {\"burst\": 257}}", 2, "above the maximum 256"},
      {"{\"name\": \"x\",\n\"driver\": {\"expect_modern_error\": \"no_cap\"}}", 2,
       "unknown modern probe result 'no_cap'"},
      {"{\"name\": \"x\", \"end\": {\"shim_bounds\": {\n\"rx_bursts\": {}}}}", 2,
       "unknown operation 'rx_bursts'"},
      {"{\"name\": \"x\", \"end\": {\"shim_bounds\": {\"rx_burst\": {\n\"reads\": 1}}}}", 2,
       "unknown metric 'reads'"},
      {"{\"name\": \"x\", \"end\": {\"dma\": {\n\"regoins\": 1}}}", 2, "unknown key 'regoins'"},
      {"{\"name\": \"x\", \"end\": {\"held\": {\n\"any\": 1}}}", 2,
       "queue 'any' is not rx, tx, ctrl"},
      {"{\"name\": \"x\", \"steps\": [{\"tx\": {\"hex\": \"00\",\n \"first\": 2}}]}", 2,
       "\"first\" is for generated frames"},
      {"{\"name\": \"x\", \"steps\": [\n{\"publish_used\": {\"id\": \"last\"}}]}", 2,
       "id is a number or \"next\""},
      {"{\"name\": \"x\", \"steps\": [\n{\"refuse_features_ok\": false}]}", 2,
       "refuse_features_ok takes true"},
      {"{\"name\": \"x\", \"steps\": [\n{\"config\": {}}]}", 2, "config needs at least one of"},
      {"{\"name\": \"x\", \"steps\": [\n{\"hook\": {\"at\": \"reset\", \"do\": {\"hook\": "
       "{\"at\": \"reset\", \"do\": {\"link\": \"up\"}}}}}]}",
       2, "'hook' cannot run inside a hook"},
      {"{\"name\": \"x\", \"steps\": [\n{\"fault\": {\"kind\": \"desc_lenn\"}}]}", 2,
       "unknown fault kind 'desc_lenn'"},
      {"{\"name\": \"x\", \"steps\": [\n{\"stall\": 1}]}", 2, "write_used_idx, hold, release"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(error_line(c.text), c.line) << c.text;
    EXPECT_NE(error_text(c.text).find(c.message), std::string::npos)
        << error_text(c.text) << "\n  wanted: " << c.message;
  }
}

TEST(ScenarioParse, LieKeysLoad) {
  const Scenario s = parse_scenario(R"({
    "name": "all", "device": {"transport": "modern", "modern_bar": 2, "legacy_bar_size": 32,
      "auto_process_tx": false, "require_access_platform": false,
      "pci_config": [{"offset": 65, "value": 64}], "bars": [{"bar": 2, "size": 4096}],
      "registers": [{"region": "bar2", "offset": 24, "width": 2, "mask": 1, "value": 1}],
      "hooks": [{"at": "queue_enable", "queue": "tx", "when": "before", "skip": 1, "count": 0,
                 "do": [{"publish_used": {"queue": "rx", "id": "next"}}, {"config": {"mtu": 9000}}]}]},
    "platform": {"clock": {"step_ns": 10}, "dma_alloc_budget": 3, "dma_map_budget": "unlimited",
                 "map_lie": "unmap_at_once"},
    "driver": {"pool_alloc_budget": 0, "expect_modern_error": "no_notify_cfg"},
    "steps": [{"rewrite_descriptor": {"queue": "tx", "index": 3, "len": 7, "next": 9}},
              {"write_used_idx": {"queue": "rx", "advance": 5}},
              {"hold": {"queue": "tx", "count": 2, "delay": 3, "order": "shuffle", "seed": 4}},
              {"release": {"queue": "tx", "order": "reverse"}},
              {"fault": {"kind": "used_len", "queue": "rx", "value": 3}},
              {"refuse_features_ok": true},
              {"tx": [{"size": 64, "first": 7}]},
              {"budget": {"pool_alloc": "unlimited", "dma_alloc": 1}},
              {"advance_clock": 1000}, {"process_tx": 2}, {"config_interrupt": true}]})",
                                    "all");
  EXPECT_EQ(s.device.modern_bar, 2);
  EXPECT_EQ(s.device.legacy_bar_size, 32u);
  EXPECT_FALSE(s.device.auto_process_tx);
  EXPECT_FALSE(s.device.require_access_platform);
  ASSERT_EQ(s.pci_pokes.size(), 1u);
  EXPECT_EQ(s.pci_pokes[0].offset, 65u);
  ASSERT_EQ(s.bar_lies.size(), 1u);
  EXPECT_EQ(s.bar_lies[0].size, 4096);
  EXPECT_EQ(s.bar_lies[0].present, -1);
  EXPECT_EQ(s.device_register_lies[0].mask, 1u);
  ASSERT_EQ(s.device_hooks.size(), 1u);
  const HookSpec& h = s.device_hooks[0];
  EXPECT_EQ(h.point, mock::MockDevice::HookPoint::kQueueEnable);
  EXPECT_EQ(h.queue, 1);
  EXPECT_TRUE(h.before);
  EXPECT_EQ(h.skip, 1u);
  EXPECT_EQ(h.count, 0u);
  ASSERT_EQ(h.actions.size(), 2u);
  EXPECT_TRUE(h.actions[0].used_next);
  EXPECT_EQ(*h.actions[1].cfg_mtu, 9000);
  EXPECT_EQ(*s.clock_step_ns, 10u);
  EXPECT_EQ(s.dma_alloc_budget, 3);
  EXPECT_EQ(s.dma_map_budget, -1);
  EXPECT_EQ(s.map_lie, mock::MockPlatform::MapLie::kUnmapAtOnce);
  EXPECT_EQ(s.pool_alloc_budget, 0);
  EXPECT_EQ(s.expect_modern_error, "no_notify_cfg");
  ASSERT_EQ(s.steps.size(), 11u);
  EXPECT_EQ(s.steps[0].desc_fields.size(), 2u);
  EXPECT_TRUE(s.steps[1].used_idx_relative);
  EXPECT_EQ(s.steps[1].used_idx, 5);
  EXPECT_EQ(s.steps[2].hold_delay, 3u);
  EXPECT_EQ(s.steps[2].order, mock::MockDevice::ReleaseOrder::kShuffle);
  EXPECT_EQ(s.steps[4].fault.kind, mock::FaultKind::kUsedLenShort);
  EXPECT_EQ(s.steps[5].fault.kind, mock::FaultKind::kFeaturesOkRefuse);
  const Scenario first =
      parse_scenario(R"({"name": "f", "steps": [{"tx": {"size": 64, "count": 8}}]})", "f");
  EXPECT_EQ(s.steps[6].frames[0], first.steps[0].frames[7]) << "first: 7 is the eighth frame";
  EXPECT_EQ(*s.steps[7].pool_alloc_budget, -1);
  EXPECT_FALSE(s.steps[7].dma_map_budget.has_value());
}

TEST(ScenarioParse, OffloadKeysAndFaultsLoad) {
  const Scenario s = parse_scenario(R"({
    "name": "o", "device": {"transport": "modern", "offer_offloads": true,
                            "rx_csum_mode": "partial"},
    "steps": [{"fault": {"kind": "rx_gso_wrong_protocol", "value": 4}},
              {"fault": {"kind": "rx_gso_ecn"}},
              {"fault": {"kind": "rx_merged_len", "value": 0}}]})",
                                    "o");
  EXPECT_TRUE(s.device.offer_offloads);
  EXPECT_EQ(s.device.rx_csum_mode, mock::DeviceConfig::RxCsumMode::kPartial);
  ASSERT_EQ(s.steps.size(), 3u);
  EXPECT_EQ(s.steps[0].fault.kind, mock::FaultKind::kRxGsoWrongProtocol);
  EXPECT_EQ(s.steps[1].fault.kind, mock::FaultKind::kRxGsoEcn);
  EXPECT_EQ(s.steps[2].fault.kind, mock::FaultKind::kRxMergedLen);
  EXPECT_EQ(parse_scenario(R"({"name": "d", "device": {"rx_csum_mode": "data_valid"}})", "d")
                .device.rx_csum_mode,
            mock::DeviceConfig::RxCsumMode::kDataValid);
  EXPECT_NE(error_text(R"({"name": "b", "device": {"rx_csum_mode": "valid"}})")
                .find("is not none, data_valid or partial"),
            std::string::npos);
}

TEST(ScenarioParse, GeneratesFrames) {
  const Scenario s = parse_scenario(
      R"({"name": "g", "steps": [{"rx": [{"size": 64, "count": 3}, {"hex": "01 02:03"}]}]})", "g");
  ASSERT_EQ(s.steps.size(), 1u);
  ASSERT_EQ(s.steps[0].frames.size(), 4u);
  EXPECT_EQ(s.steps[0].frames[0].size(), 64u);
  EXPECT_NE(s.steps[0].frames[0], s.steps[0].frames[1]);  // sequence numbers differ
  EXPECT_EQ(s.steps[0].frames[3], (Frame{1, 2, 3}));
  EXPECT_TRUE(s.end.violations && s.end.violations->empty());  // default: none allowed
}

TEST(ScenarioRun, PassesAndFailsOnExpectations) {
  const char* good = R"({
    "name": "echo", "device": {"transport": "modern"}, "driver": {"echo": true},
    "steps": [{"rx": {"size": 64, "count": 4}}, {"expect_tx": {"size": 64, "count": 4}},
              {"expect": {"rx_frames": 4, "counters": {"rx_packets": 4}}}]})";
  RunResult r = run_scenario(parse_scenario(good, "good"));
  EXPECT_TRUE(r.passed) << (r.failures.empty() ? "" : r.failures[0]);
  EXPECT_EQ(r.frames_out, 4u);

  const char* bad = R"({
    "name": "wrong", "device": {"transport": "legacy", "features": ["MAC"]},
    "steps": [{"rx": {"size": 64, "count": 2}},
              {"expect": {"rx_frames": 3, "driver_state": "broken"}},
              {"expect_tx": {"size": 64}}]})";
  r = run_scenario(parse_scenario(bad, "bad"));
  EXPECT_FALSE(r.passed);
  ASSERT_EQ(r.failures.size(), 3u);
  EXPECT_NE(r.failures[0].find("line 4"), std::string::npos) << r.failures[0];
  EXPECT_NE(r.failures[2].find("line 5"), std::string::npos) << r.failures[2];
}

TEST(ScenarioRun, ExpectedAttachFailure) {
  const char* s = R"({"name": "q", "device": {"transport": "modern", "queue_sizes": [0, 256]},
                      "driver": {"expect_attach": "queue_unavailable"}})";
  RunResult r = run_scenario(parse_scenario(s, "q"));
  EXPECT_TRUE(r.passed) << (r.failures.empty() ? "" : r.failures[0]);
  EXPECT_EQ(r.attach_result, "queue_unavailable");
}

// virtio-mmio: the flavours, register names of the mmio region, the MMIO
// probe's results, and --transport's override.
TEST(ScenarioMmio, RegisterNamesParseAndUnknownOnesFailWithTheirLine) {
  const Scenario s = parse_scenario(R"({"name": "m", "device": {"transport": "mmio-v2",
      "registers": [{"region": "mmio", "offset": "QueueNumMax", "value": 8},
                    {"region": "mmio", "offset": "config+10", "width": 2, "value": 20},
                    {"region": "mmio", "offset": 252, "value": 1}]}})",
                                    "m");
  EXPECT_EQ(s.device.transport, mock::TransportKind::kMmioV2);
  ASSERT_EQ(s.device_register_lies.size(), 3u);
  EXPECT_EQ(s.device_register_lies[0].region, Region::kMmio);
  EXPECT_EQ(s.device_register_lies[0].offset, 0x034u);
  EXPECT_EQ(s.device_register_lies[0].width, 4);
  EXPECT_EQ(s.device_register_lies[1].offset, 0x10Au);
  EXPECT_EQ(s.device_register_lies[1].width, 2);
  EXPECT_EQ(s.device_register_lies[2].offset, 0x0FCu);
  EXPECT_EQ(error_line(R"({"name": "m",
  "device": {"transport": "mmio-v1",
    "registers": [{"region": "mmio",
                   "offset": "QueueNumMin", "value": 8}]}})"),
            4);
  EXPECT_NE(error_text(R"({"name": "m", "device": {"transport": "mmio-v3"}})").find("mmio-v2"),
            std::string::npos);
}

TEST(ScenarioMmio, ProbeResultsAreTheMmioProbes) {
  const char* s = R"({"name": "p", "device": {"transport": "mmio-v1",
      "registers": [{"region": "mmio", "offset": "DeviceID", "value": 0}]},
      "driver": {"expect_probe": "no_device"}, "end": {"violations": []}})";
  RunResult r = run_scenario(parse_scenario(s, "p"));
  EXPECT_TRUE(r.passed) << (r.failures.empty() ? "" : r.failures[0]);
  EXPECT_EQ(r.probe_result, "no_device");
  const char* wrong = R"({"name": "p", "device": {"transport": "mmio-v2",
      "registers": [{"region": "mmio", "offset": "MagicValue", "value": 0}]}})";
  r = run_scenario(parse_scenario(wrong, "p"));
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.probe_result, "bad_magic");
}

TEST(ScenarioMmio, TransportOverrideRunsTheSameScriptOnMmio) {
  const char* s = R"({"name": "o", "device": {"transport": "modern", "msix_vectors": 4},
      "platform": {"msi_vectors": 8, "line": true}, "driver": {"echo": true, "interrupts": "msix"},
      "steps": [{"rx": {"size": 64, "count": 8}}, {"expect_tx": {"size": 64, "count": 8}}],
      "end": {"violations": []}})";
  const Scenario sc = parse_scenario(s, "o");
  for (auto kind : {mock::TransportKind::kMmioV1, mock::TransportKind::kMmioV2}) {
    RunOptions o;
    o.transport = kind;
    const RunResult r = run_scenario(sc, o);
    EXPECT_TRUE(r.passed) << (r.failures.empty() ? "" : r.failures[0]);
    EXPECT_EQ(r.transport_name, kind == mock::TransportKind::kMmioV1 ? "mmio-v1" : "mmio-v2");
  }
}

// The new expectations fail with the line and the numbers.
TEST(ScenarioRun, DmaShimBoundsHeldAndModernErrorExpectationsCanFail) {
  const char* s = R"({
    "name": "bounds", "device": {"transport": "transitional"},
    "driver": {"expect_modern_error": "no_version1"},
    "steps": [{"hold": {"queue": "rx"}},
              {"rx": {"size": 64, "count": 3}},
              {"expect": {"held": {"rx": 2}, "dma": {"regions": 0, "maps_live": {"max": 3}},
                          "shim_bounds": {"rx_burst": {"reg_reads": 0, "fetches": 0}}}}],
    "end": {"dma": {"bytes": 1}}})";
  RunResult r = run_scenario(parse_scenario(s, "b"));
  EXPECT_FALSE(r.passed);
  std::string all;
  for (const auto& f : r.failures) all += f + "\n";
  EXPECT_NE(all.find("line 1: modern probe returned ok, expected no_version1"), std::string::npos)
      << all;
  EXPECT_NE(all.find("line 6: the device holds 3 rx completions back, expected 2"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("line 6: the driver holds 2 DMA regions, expected 0"), std::string::npos)
      << all;
  EXPECT_NE(all.find("DMA mappings live, expected [0, 3]"), std::string::npos) << all;
  EXPECT_NE(all.find("line 6: one rx_burst call made 1 fetches, expected 0"), std::string::npos)
      << all;
  EXPECT_NE(all.find("line 8: the driver holds 0 bytes of DMA memory, expected 1"),
            std::string::npos)
      << all;
  EXPECT_EQ(all.find("reg_reads"), std::string::npos) << "rx_burst reads no register: " << all;
  EXPECT_EQ(r.modern_error, "ok");
  EXPECT_EQ(r.shim_max.at("rx_burst")[0], 0u);
  EXPECT_GE(r.shim_max.at("attach")[0], 1u);
}

TEST(ScenarioRun, HooksActDuringAttach) {
  const char* s = R"({
    "name": "hook", "device": {"transport": "modern",
      "hooks": [{"at": "FEATURES_OK", "when": "before", "do": {"refuse_features_ok": true}}]},
    "driver": {"expect_attach": "features_rejected"},
    "end": {"stop": false, "device_counters": {"hooks_fired": 1, "features_refused": 1}}})";
  RunResult r = run_scenario(parse_scenario(s, "h"));
  EXPECT_TRUE(r.passed) << (r.failures.empty() ? "" : r.failures[0]);
  ASSERT_FALSE(r.events.empty());
  EXPECT_NE(r.events[0].find("hook: fault armed: features_ok_refuse"), std::string::npos)
      << r.events[0];
}

// The command line: exit 2 and file:line for a bad file, 1 for a failing
// scenario, 0 for a passing one.
struct Cli : ::testing::Test {
  int run(const std::string& body, std::string* out) {
    // One file per test: ctest runs the Cli tests in parallel (-j).
    const std::string path = ::testing::TempDir() + "vnet_mock_cli_test_" +
                             ::testing::UnitTest::GetInstance()->current_test_info()->name() +
                             ".json";
    std::ofstream(path) << body;
    const std::string cmd = std::string(VNET_MOCK_BINARY) + " -q " + path + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    char buf[512];
    while (fgets(buf, sizeof buf, p)) *out += buf;
    const int status = pclose(p);
    *out = path + "|" + *out;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
};

TEST_F(Cli, ExitCodes) {
  std::string out;
  EXPECT_EQ(run("{\"name\": \"ok\", \"device\": {\"transport\": \"modern\"}}", &out), 0) << out;
  out.clear();
  EXPECT_EQ(
      run("{\"name\": \"no\", \"steps\": [{\"expect\": {\"driver_state\": \"failed\"}}]}", &out), 1)
      << out;
  out.clear();
  EXPECT_EQ(run("{\"name\": \"bad\",\n \"device\": {\n  \"mtu\": -5}}", &out), 2) << out;
  EXPECT_NE(out.find("vnet_mock_cli_test_ExitCodes.json:3: "), std::string::npos) << out;
  EXPECT_NE(out.find("non-negative"), std::string::npos) << out;
}

// Verdicts (verdict/verdict.h, docs/scenarios.md "Verdicts"): every run is
// graded beside its test result, and end.verdict must match the grade.
std::string all_failures(const RunResult& r) {
  std::string all;
  for (const auto& f : r.failures) all += f + "\n";
  return all;
}

TEST(ScenarioVerdict, ExpectedVerdictHoldsAndAWrongOneFailsWithItsLine) {
  const std::string body = R"({
    "name": "v", "device": {"transport": "modern"},
    "steps": [{"fault": {"kind": "used_len_over", "queue": "rx", "count": 2, "value": 100}},
              {"rx": {"size": 64, "count": 5}}],
    "end": {"pool_all_returned": true,
            "verdict": "VERDICT"}})";
  auto with = [&](const std::string& v) {
    std::string t = body;
    t.replace(t.find("VERDICT"), 7, v);
    return run_scenario(parse_scenario(t, "v"));
  };
  RunResult r = with("safe-reject");
  EXPECT_TRUE(r.passed) << all_failures(r);
  EXPECT_EQ(r.verdict.name(), "safe-reject");
  EXPECT_EQ(r.verdict.severity, verdict::Severity::kLow);
  EXPECT_EQ(r.verdict.reason, "rx_drop_len_over +2");
  for (const char* wrong : {"pass", "recovered", "oracle:conformance"}) {
    r = with(wrong);
    EXPECT_FALSE(r.passed) << wrong;
    ASSERT_EQ(r.failures.size(), 1u) << all_failures(r);
    EXPECT_EQ(r.failures[0], std::string("line 6: verdict is safe-reject (severity low): "
                                         "rx_drop_len_over +2, expected ") +
                                 wrong);
  }
}

TEST(ScenarioVerdict, BadVerdictNamesFailToLoadWithTheirLine) {
  EXPECT_EQ(error_line("{\"name\": \"x\",\n \"end\": {\n  \"verdict\": \"fine\"}}"), 3);
  EXPECT_NE(error_text(R"({"name": "x", "end": {"verdict": "oracle:"}})").find("oracle:<name>"),
            std::string::npos);
  // Only the end has a verdict.
  EXPECT_NE(error_text(R"({"name": "x", "steps": [{"expect": {"verdict": "pass"}}]})")
                .find("unknown key 'verdict'"),
            std::string::npos);
}

// Each verdict the mock world can give, from a scenario that earns it.
TEST(ScenarioVerdict, EachVerdictFromItsRun) {
  struct Case {
    const char* name;
    const char* text;
    const char* verdict;
    const char* reason_part;
  } cases[] = {
      {"pass", R"({"name": "p", "device": {"transport": "legacy"},
                   "steps": [{"rx": {"size": 64, "count": 3}}]})",
       "pass", "nothing refused"},
      {"refused", R"({"name": "r", "device": {"transport": "modern", "queue_sizes": [0, 256]},
                      "driver": {"expect_attach": "queue_unavailable"}})",
       "safe-reject", "refused: attach: queue size 0"},
      {"recovered", R"({"name": "c", "device": {"transport": "modern"},
                        "steps": [{"fault": {"kind": "used_id_out_of_range", "queue": "rx"}},
                                  {"rx": {"size": 64, "count": 1}},
                                  {"poll_device": 1},
                                  {"rx": {"size": 64, "count": 2}}]})",
       "recovered",
       "queue_broken_used_id, recoveries, then the driver came back (running); "
       "traffic resumed"},
      // The queue is broken and nobody polls: the driver ends broken.
      {"wedged", R"({"name": "w", "device": {"transport": "modern"},
                     "steps": [{"fault": {"kind": "used_id_out_of_range", "queue": "rx"}},
                               {"rx": {"size": 64, "count": 1}}]})",
       "wedged", "the driver ended broken after running"},
      // The device ignores the final stop's reset: buffers stay quarantined.
      {"quarantined", R"({"name": "q", "device": {"transport": "legacy"},
                          "driver": {"reset_timeout_ns": 1000000},
                          "steps": [{"rx": {"size": 64, "count": 2}}, {"ignore_reset": true}],
                          "end": {"pool_all_returned": false}})",
       "wedged", "quarantined"},
      // A conformance violation the end does not list is a finding; listed,
      // it is the lie's consequence.
      {"conformance", R"({"name": "o", "device": {"transport": "modern",
                            "features_add": ["ACCESS_PLATFORM"], "iommu": true},
                          "platform": {"map_lie": "leak_physical"},
                          "steps": [{"rx": {"size": 64, "count": 1}}]})",
       "oracle:conformance", "6.1"},
      {"listed", R"({"name": "l", "device": {"transport": "modern",
                       "features_add": ["ACCESS_PLATFORM"], "iommu": true},
                     "platform": {"map_lie": "leak_physical"},
                     "steps": [{"rx": {"size": 64, "count": 1}}],
                     "end": {"violations": ["6.1"]}})",
       "pass", ""},
  };
  for (const Case& c : cases) {
    const RunResult r = run_scenario(parse_scenario(c.text, c.name));
    EXPECT_EQ(r.verdict.name(), c.verdict) << c.name << ": " << verdict::describe(r.verdict);
    EXPECT_NE(r.verdict.reason.find(c.reason_part), std::string::npos)
        << c.name << ": " << r.verdict.reason;
  }
}

TEST_F(Cli, QuietPrintsTheVerdict) {
  std::string out;
  EXPECT_EQ(run(R"({"name": "ok", "device": {"transport": "modern", "queue_sizes": [0, 256]},
                    "driver": {"expect_attach": "queue_unavailable"}})",
                &out),
            0)
      << out;
  EXPECT_NE(out.find("ok: PASS, verdict safe-reject (severity low)"), std::string::npos) << out;
}

// --json and --junit: one entry per scenario, the verdict beside the
// result; a scenario whose verdict differs from end.verdict fails.
TEST(CliReports, JsonAndJUnitCarryResultAndVerdict) {
  const std::string dir = ::testing::TempDir();
  const std::string a = dir + "vnet_mock_report_a.json", b = dir + "vnet_mock_report_b.json",
                    c = dir + "vnet_mock_report_c.json";
  std::ofstream(a) << R"({"name": "reject", "device": {"transport": "modern"},
    "steps": [{"fault": {"kind": "used_len_over", "queue": "rx", "count": 1, "value": 100}},
              {"rx": {"size": 64, "count": 2}}],
    "end": {"verdict": "safe-reject"}})";
  std::ofstream(b) << R"({"name": "claims pass", "device": {"transport": "modern"},
    "steps": [{"fault": {"kind": "used_len_over", "queue": "rx", "count": 1, "value": 100}},
              {"rx": {"size": 64, "count": 2}}],
    "end": {"verdict": "pass"}})";
  std::ofstream(c) << R"({"name": "bad", "end": {"verdict": "nope"}})";
  const std::string json = dir + "vnet_mock_report.json", junit = dir + "vnet_mock_report.xml";
  const std::string cmd = std::string(VNET_MOCK_BINARY) + " -q " + a + " " + b + " --json " + json +
                          " --junit " + junit + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  char buf[512];
  std::string out;
  while (fgets(buf, sizeof buf, p)) out += buf;
  int status = pclose(p);
  EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 1) << out;

  std::ifstream jin(json);
  const auto j = nlohmann::json::parse(jin);
  ASSERT_EQ(j["scenarios"].size(), 2u) << j.dump(2);
  EXPECT_EQ(j["scenarios"][0]["result"], "PASS");
  EXPECT_EQ(j["scenarios"][0]["verdict"], "safe-reject");
  EXPECT_EQ(j["scenarios"][0]["severity"], "low");
  EXPECT_EQ(j["scenarios"][0]["verdict_reason"], "rx_drop_len_over +1");
  EXPECT_EQ(j["scenarios"][0]["expected_verdict"], "safe-reject");
  EXPECT_EQ(j["scenarios"][0]["counters"]["rx_drop_len_over"], 1);
  EXPECT_EQ(j["scenarios"][1]["result"], "FAIL");
  EXPECT_EQ(j["scenarios"][1]["verdict"], "safe-reject");
  EXPECT_EQ(j["scenarios"][1]["expected_verdict"], "pass");
  ASSERT_EQ(j["scenarios"][1]["failures"].size(), 1u);
  EXPECT_EQ(j["summary"]["total"], 2);
  EXPECT_EQ(j["summary"]["pass"], 1);
  EXPECT_EQ(j["summary"]["fail"], 1);
  EXPECT_EQ(j["summary"]["verdicts"]["safe-reject"], 2);

  std::ifstream xin(junit);
  std::stringstream xml;
  xml << xin.rdbuf();
  const std::string x = xml.str();
  EXPECT_NE(x.find(R"(<testsuite name="vnet-mock" tests="2" failures="1" errors="0")"),
            std::string::npos)
      << x;
  EXPECT_NE(x.find("<testcase classname=\"scenario\" name=\"" + a + "\""), std::string::npos) << x;
  EXPECT_NE(x.find(R"(<property name="verdict" value="safe-reject"/>)"), std::string::npos) << x;
  EXPECT_NE(x.find(R"(<property name="severity" value="low"/>)"), std::string::npos) << x;
  EXPECT_NE(x.find("<failure message=\"line 4: verdict is safe-reject"), std::string::npos) << x;

  // A bad scenario is an error testcase and exit 2; the others still run.
  const std::string cmd2 =
      std::string(VNET_MOCK_BINARY) + " -q " + c + " " + a + " --junit " + junit + " 2>&1";
  p = popen(cmd2.c_str(), "r");
  out.clear();
  while (fgets(buf, sizeof buf, p)) out += buf;
  status = pclose(p);
  EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 2) << out;
  EXPECT_NE(out.find("reject: PASS"), std::string::npos) << out;
  std::ifstream xin2(junit);
  std::stringstream xml2;
  xml2 << xin2.rdbuf();
  EXPECT_NE(xml2.str().find(R"(tests="2" failures="0" errors="1")"), std::string::npos)
      << xml2.str();
  EXPECT_NE(xml2.str().find("<error message="), std::string::npos) << xml2.str();
}

}  // namespace
}  // namespace vnet::scenario
