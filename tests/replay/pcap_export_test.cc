// --pcap: the frames of a trace, readable by libpcap, byte for byte.
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include "replay/pcap_export.h"
#include "tests/replay/replay_test_util.h"

namespace vnet::replay {
namespace {

std::vector<std::vector<uint8_t>> read_pcap(const std::string& path, int* linktype) {
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(path.c_str(), err);
  EXPECT_NE(p, nullptr) << err;
  std::vector<std::vector<uint8_t>> frames;
  if (p == nullptr) return frames;
  *linktype = pcap_datalink(p);
  pcap_pkthdr* h;
  const u_char* data;
  while (pcap_next_ex(p, &h, &data) == 1) frames.emplace_back(data, data + h->caplen);
  pcap_close(p);
  return frames;
}

TEST(PcapExport, WritesEveryRxAndTxFrame) {
  for (const char* kind : {"legacy", "modern"}) {
    Trace t = load_trace(testing::record(kind, "traffic"), "t");
    testing::TempFile out("", ".pcap");
    PcapStats st;
    std::string err;
    ASSERT_TRUE(export_pcap(t, out.path(), &st, &err)) << err;
    int linktype = 0;
    auto frames = read_pcap(out.path(), &linktype);
    EXPECT_EQ(linktype, DLT_EN10MB);
    EXPECT_EQ(frames.size(), st.rx_frames + st.tx_frames);
    EXPECT_EQ(st.tx_frames, 21u) << kind << ": three rounds of 7";
    EXPECT_EQ(st.rx_frames, 24u) << kind << ": three rounds of 7, and 3 more";
    // The first frame transmitted is frame 0 of the scenario.
    EXPECT_EQ(frames[0], mock_frame(60, 0)) << kind;
  }
}

TEST(PcapExport, CommandLineOption) {
  testing::TempFile trace(testing::record("modern", "link_flap"));
  testing::TempFile out("", ".pcap");
  auto run = testing::run_replay_cli(trace.path() + " --pcap " + out.path());
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("rx and"), std::string::npos) << run.output;
  int linktype = 0;
  EXPECT_EQ(read_pcap(out.path(), &linktype).size(), 8u);
}

}  // namespace
}  // namespace vnet::replay
