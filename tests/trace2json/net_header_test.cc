// The virtio-net header in words (tools/trace2json/net_header.h), and where
// trace2json shows it: the cross-check of a converted capture against the
// guest's recording names the recording's header of a differing frame,
// counts the frames whose headers ask (tx) or report (rx) an offload, and
// joins a receive chain's buffers (num_buffers) into the frame the capture
// has whole.
#include "tools/trace2json/net_header.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "tools/trace2json/cross_check.h"

namespace trace2json {
namespace {

// flags NEEDS_CSUM, TCPV4|ECN, hdr_len 54, gso_size 1448, csum_start 34,
// csum_offset 16, num_buffers 3 -- little-endian.
const uint8_t kTso[12] = {0x01, 0x81, 54, 0, 0xa8, 0x05, 34, 0, 16, 0, 3, 0};

TEST(NetHeader, DecodesEveryOffloadField) {
  NetHeader h;
  ASSERT_TRUE(decode_net_header(kTso, 12, &h));
  EXPECT_EQ(h.flags, 1u);
  EXPECT_EQ(h.gso_type, 0x81u);
  EXPECT_EQ(h.hdr_len, 54u);
  EXPECT_EQ(h.gso_size, 1448u);
  EXPECT_EQ(h.csum_start, 34u);
  EXPECT_EQ(h.csum_offset, 16u);
  EXPECT_TRUE(h.has_num_buffers);
  EXPECT_EQ(h.num_buffers, 3u);
  EXPECT_TRUE(h.offload());
  EXPECT_EQ(describe_net_header(h),
            "flags NEEDS_CSUM gso TCPV4|ECN hdr_len 54 gso_size 1448 csum_start 34 "
            "csum_offset 16 num_buffers 3");
  const nlohmann::json j = net_header_json(h);
  EXPECT_EQ(j["flags"], nlohmann::json::array({"NEEDS_CSUM"}));
  EXPECT_EQ(j["gso_type"], "TCPV4");
  EXPECT_EQ(j["ecn"], true);
  EXPECT_EQ(j["gso_size"], 1448);
  EXPECT_EQ(j["num_buffers"], 3);

  // The legacy 10-byte header has no num_buffers; 9 bytes are no header.
  ASSERT_TRUE(decode_net_header(kTso, 10, &h));
  EXPECT_FALSE(h.has_num_buffers);
  EXPECT_EQ(describe_net_header(h).find("num_buffers"), std::string::npos);
  EXPECT_FALSE(decode_net_header(kTso, 9, &h));
  EXPECT_FALSE(net_header_json(h).contains("num_buffers"));

  // From a trace's hex; the hash fields of a 20-byte header are left out.
  ASSERT_TRUE(decode_net_header_hex("01813600a8052200100003000102030405060708", 20, &h));
  EXPECT_EQ(h.gso_size, 1448u);
  EXPECT_EQ(h.num_buffers, 3u);
  EXPECT_FALSE(decode_net_header_hex("0181", 12, &h)) << "too short";
  EXPECT_FALSE(decode_net_header_hex("zz813600a80522001000030000", 12, &h)) << "not hex";
  // Every num_buffers-only header (an rx header without offloads) is none.
  const uint8_t plain[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
  ASSERT_TRUE(decode_net_header(plain, 12, &h));
  EXPECT_FALSE(h.offload());
}

TEST(NetHeader, NamesFlagsAndGsoTypes) {
  EXPECT_EQ(net_header_flags_name(0), "none");
  EXPECT_EQ(net_header_flags_name(1), "NEEDS_CSUM");
  EXPECT_EQ(net_header_flags_name(2), "DATA_VALID");
  EXPECT_EQ(net_header_flags_name(4), "RSC_INFO");
  EXPECT_EQ(net_header_flags_name(3), "NEEDS_CSUM|DATA_VALID");
  EXPECT_EQ(net_header_flags_name(0x88), "0x08|0x80") << "undefined bits as numbers";
  EXPECT_EQ(gso_type_name(0), "NONE");
  EXPECT_EQ(gso_type_name(1), "TCPV4");
  EXPECT_EQ(gso_type_name(3), "UDP");
  EXPECT_EQ(gso_type_name(4), "TCPV6");
  EXPECT_EQ(gso_type_name(5), "UDP_L4");
  EXPECT_EQ(gso_type_name(0x84), "TCPV6|ECN");
  EXPECT_EQ(gso_type_name(0x80), "NONE|ECN");
  EXPECT_EQ(gso_type_name(2), "type 2");
  const nlohmann::json j = net_header_json(NetHeader{0x06, 0x05});
  EXPECT_EQ(j["flags"], nlohmann::json::array({"DATA_VALID", "RSC_INFO"}));
  EXPECT_EQ(j["gso_type"], "UDP_L4");
  EXPECT_EQ(j["ecn"], false);
}

// ---- the cross-check

class Files {
 public:
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("t2j-nethdr-" + std::to_string(::getpid()) + "-" + name))
                                 .string();
    std::ofstream(path) << text;
    paths_.push_back(path);
    return path;
  }
  ~Files() {
    for (const auto& p : paths_) std::filesystem::remove(p);
  }

 private:
  std::vector<std::string> paths_;
};

const char kHeader[] = R"({"format":"vnetkit-trace","version":1,"driver_version":"t"})";

// The guest's recording: an rx chain of three buffers whose header says
// TCPV4 with num_buffers 3, one plain rx frame, a tx frame with a TSO
// header (12 bytes) in front of it.
std::string recording(const std::string& second_buffer) {
  return std::string(kHeader) + "\n" +
         R"({"ev":"ret","fn":"attach","val":0,"state":"running","features":"0x1","hdr":12,"mtu":1500,"mac":"525400123456","link":true})"
         "\n"
         R"({"ev":"fetch","q":0,"part":"rx_header","idx":0,"data":"018136 00a80522001000 0300"})"
         "\n"
         R"({"ev":"frame","q":0,"desc":0,"data":"aabb"})"
         "\n"
         R"({"ev":"frame","q":0,"desc":1,"data":")" +
         second_buffer +
         R"("})"
         "\n"
         R"({"ev":"frame","q":0,"desc":2,"data":"eeff"})"
         "\n"
         R"({"ev":"fetch","q":0,"part":"rx_header","idx":3,"data":"000000000000000000000100"})"
         "\n"
         R"({"ev":"frame","q":0,"desc":3,"data":"1122"})"
         "\n"
         R"({"ev":"publish","q":1,"avail":0,"head":0,"segs":[{"desc":0,"len":14,"wr":false,"data":"01013600a80522001000 0000 0000"}]})"
         "\n";
}

std::string without_spaces(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), ' '), s.end());
  return s;
}

const char kConverted[] =
    R"({"format":"vnetkit-trace","version":1,"driver_version":"t","capture":{}})"
    "\n"
    R"({"ev":"mark","what":"driver_start"})"
    "\n"
    R"({"ev":"dev_frame","q":0,"dir":"rx","avail":0,"bufs":3,"len":18,"data":"aabbccddeeff"})"
    "\n"
    R"({"ev":"dev_frame","q":0,"dir":"rx","avail":3,"bufs":1,"len":14,"data":"1122"})"
    "\n"
    R"({"ev":"dev_frame","q":1,"dir":"tx","avail":0,"data":"0000"})"
    "\n";

TEST(CrossCheck, JoinsReceiveChainsAndCountsOffloadHeaders) {
  Files f;
  const std::string conv = f.write("conv.jsonl", kConverted);
  const std::string rec = f.write("rec.jsonl", without_spaces(recording("ccdd")));
  CrossCheckResult r;
  ASSERT_TRUE(cross_check(conv, rec, &r)) << r.error;
  EXPECT_TRUE(r.agree) << r.report;
  EXPECT_EQ(r.rx_frames, 2u) << "the chain of three buffers is one frame";
  EXPECT_EQ(r.rx_chains, 1u);
  EXPECT_EQ(r.rx_offload_headers, 1u);
  EXPECT_EQ(r.tx_frames, 1u);
  EXPECT_EQ(r.tx_offload_headers, 1u);
  EXPECT_NE(r.report.find("offload headers in the recording: 1 of 2 frames (NEEDS_CSUM 1, "
                          "DATA_VALID 0, GSO 1 TCPV4 1, ECN 1); frames of several buffers: 1"),
            std::string::npos)
      << r.report;
}

TEST(CrossCheck, ADifferingFrameShowsItsHeaderInWords) {
  Files f;
  const std::string conv = f.write("conv.jsonl", kConverted);
  const std::string rec = f.write("rec.jsonl", without_spaces(recording("cc00")));
  CrossCheckResult r;
  ASSERT_TRUE(cross_check(conv, rec, &r)) << r.error;
  EXPECT_FALSE(r.agree);
  EXPECT_NE(r.report.find("rx frames: first difference at frame 1"), std::string::npos) << r.report;
  EXPECT_NE(r.report.find("(3 buffers), header flags NEEDS_CSUM gso TCPV4|ECN hdr_len 54 "
                          "gso_size 1448 csum_start 34 csum_offset 16 num_buffers 3"),
            std::string::npos)
      << r.report;
}

}  // namespace
}  // namespace trace2json
