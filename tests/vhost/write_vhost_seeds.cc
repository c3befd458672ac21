// vnet-vhost-seeds: writes the seed corpus of fuzz_vhost_reply
// (corpus/fuzz/fuzz_vhost_reply/), reproducibly: the fuzz world's own
// sequence (fuzz/harness/vhost_reply_world.h) runs against the scripted
// FakeBackend, and the replies it sent become the input's chunks.
//
//   vnet-vhost-seeds --root <project root>
//
//   ok-<mode>        a well-behaved, DPDK-like back end (MQ, REPLY_ACK,
//                    two queue pairs) for each mode: split and packed,
//                    one pair and two, the control queue, the extra
//                    control commands and a poll
//   lie-<what>       the same back end lying once: each reply lie of
//                    fake_backend.h at the handshake, at SET_FEATURES, at
//                    DRIVER_OK and at the reset
//   noproto-*, nomq  without PROTOCOL_FEATURES, without protocol MQ
//
// Only files with these prefixes are rewritten; others (findings kept as
// regressions) stay.
#include <stdio.h>
#include <string.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "fuzz/harness/vhost_reply_world.h"
#include "tests/vhost/fake_backend.h"

namespace fs = std::filesystem;
using namespace vnet::vhost;
using namespace vnet::vhost::testing;
namespace vr = vnet::fuzz::vhost_reply;

namespace {

// Records the replies of back end s to the fuzz world run with mode m.
std::vector<uint8_t> record(const Script& s, uint8_t m) {
  FakeBackend b(s);
  SharedMemory mem;
  if (!mem.create(vr::kMemoryBytes)) exit(1);
  {
    FrontEnd fe;
    fe.channel().set_timeout_ms(20);
    if (fe.connect_fd(b.take_front_fd())) vr::run(fe, mem, m);
  }
  b.sync();
  std::vector<uint8_t> input = {m};
  for (const SentChunk& c : b.sent()) {
    // Chunks longer than 255 bytes (none today) are split; the fd stays
    // with the first part.
    size_t off = 0;
    bool fd = c.with_fd;
    do {
      const size_t len = std::min<size_t>(255, c.bytes.size() - off);
      input.push_back(fd ? 1 : 0);
      input.push_back(static_cast<uint8_t>(len));
      input.insert(input.end(), c.bytes.begin() + off, c.bytes.begin() + off + len);
      off += len;
      fd = false;
    } while (off < c.bytes.size());
  }
  return input;
}

void write(const fs::path& dir, const std::string& name, const std::vector<uint8_t>& data) {
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  if (!out) {
    std::cerr << "vnet-vhost-seeds: cannot write " << (dir / name) << "\n";
    exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string root;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--root") root = argv[i + 1];
  if (root.empty()) {
    std::cerr << "usage: vnet-vhost-seeds --root <project root>\n";
    return 2;
  }
  const fs::path dir = fs::path(root) / "corpus/fuzz/fuzz_vhost_reply";
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("ok-", 0) == 0 || n.rfind("lie-", 0) == 0 || n.rfind("noproto-", 0) == 0 ||
        n.rfind("nomq-", 0) == 0)
      fs::remove(e.path());
  }
  Script dpdk;
  dpdk.queue_num = 2;
  int n = 0;
  const struct {
    const char* name;
    uint8_t mode;
  } modes[] = {
      {"split", 0},
      {"packed", vr::mode::kPacked},
      {"split-ctrl", vr::mode::kCtrlVq},
      {"split-2pairs", vr::mode::kTwoPairs | vr::mode::kPairsOps | vr::mode::kPoll},
      {"packed-2pairs", vr::mode::kPacked | vr::mode::kTwoPairs | vr::mode::kPairsOps},
      {"split-keepopen", vr::mode::kKeepOpen | vr::mode::kPoll},
  };
  for (const auto& m : modes) {
    write(dir, std::string("ok-") + m.name, record(dpdk, m.mode));
    ++n;
  }
  const uint8_t two = vr::mode::kTwoPairs | vr::mode::kPairsOps;
  const struct {
    Request r;
    Lie l;
    uint32_t occurrence;
  } lies[] = {
      {Request::kGetFeatures, Lie::kOtherRequest, 1},
      {Request::kGetProtocolFeatures, Lie::kWrongVersion, 1},
      {Request::kSetOwner, Lie::kNoReplyFlag, 1},
      {Request::kGetQueueNum, Lie::kShortPayload, 1},
      {Request::kGetQueueNum, Lie::kOversized, 1},
      {Request::kSetFeatures, Lie::kNack, 1},
      {Request::kSetFeatures, Lie::kWithFd, 1},
      {Request::kSetMemTable, Lie::kNack, 1},
      {Request::kSetVringAddr, Lie::kNack, 3},
      {Request::kSetVringKick, Lie::kNoReply, 2},
      {Request::kSetVringEnable, Lie::kNack, 5},
      {Request::kSetVringEnable, Lie::kWithFd, 6},
      {Request::kGetVringBase, Lie::kOtherRing, 2},
      {Request::kGetVringBase, Lie::kShortPayload, 1},
  };
  for (const auto& l : lies) {
    Script s = dpdk;
    s.lie(l.r, l.l, l.occurrence);
    std::string name = std::string("lie-") + request_name(l.r) + "-" + lie_name(l.l);
    for (char& c : name) c = c == '_' ? '-' : static_cast<char>(tolower(c));
    write(dir, name, record(s, two));
    ++n;
  }
  {
    Script s = dpdk;
    s.queue_num = 0;
    write(dir, "lie-get-queue-num-zero", record(s, two));
    s.queue_num = 0x8001;
    write(dir, "lie-get-queue-num-too-many", record(s, two));
    n += 2;
  }
  {
    Script s = dpdk;
    s.features &= ~kFeatureProtocolFeatures;
    write(dir, "noproto-split", record(s, 0));
    write(dir, "noproto-2pairs", record(s, two));
    s = dpdk;
    s.protocol_features = protocol::kReplyAck;
    write(dir, "nomq-2pairs", record(s, two));
    n += 3;
  }
  std::cout << n << " seeds -> fuzz_vhost_reply\n";
  return 0;
}
