// FakeBackend: a scripted vhost-user back end for tests (issue 17). It
// serves one connection -- the other end of a socketpair whose front-end
// side take_front_fd() hands to Channel::adopt or FrontEnd::connect_fd --
// on a thread of its own, answers what a DPDK-like back end answers
// (GET_FEATURES, GET_PROTOCOL_FEATURES, GET_QUEUE_NUM, GET_VRING_BASE, and
// a REPLY_ACK u64 for every request that asks for one), and lies where the
// script says so. It records every request it received (code, flags,
// payload, number of file descriptors) so that a test can check the order
// and content of what the front end said, and every reply it sent (bytes,
// whether an fd went with them), which is how the fuzz_vhost_reply seeds
// are made (write_vhost_seeds.cc).
//
// File descriptors the front end sends (the memfd, kick and call
// eventfds) are counted and closed at once; the back end never maps the
// memory and never touches a ring: the emulated control queue is the
// front end's own, and attach needs no completion.
#pragma once

#include <stdint.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fuzz/harness/open_fds.h"
#include "vhost/protocol.h"

namespace vnet::vhost::testing {

// How a reply lies (Script::lies).
enum class Lie : uint8_t {
  kNone,
  kOtherRequest,  // the header names another request
  kWrongVersion,  // version 2 in the flags
  kNoReplyFlag,   // version 1 but no REPLY flag
  kShortPayload,  // 4 bytes fewer than the request defines (and says so)
  kOversized,     // the header announces 0x7FFFFFF0 bytes (and sends 8)
  kWithFd,        // a correct reply with an eventfd attached (SCM_RIGHTS)
  kNack,          // REPLY_ACK u64 1 (only where an ack was asked for)
  kNoReply,       // nothing: the front end times out
  kClose,         // the back end closes the connection instead of replying
  kOtherRing,     // GET_VRING_BASE: answered for ring index + 1
};
const char* lie_name(Lie l);

struct Script {
  // GET_FEATURES: VERSION_1, MRG_RXBUF, EVENT_IDX, RING_PACKED and the
  // vhost-user bits a DPDK net_vhost port offers (PROTOCOL_FEATURES,
  // LOG_ALL), plus the virtio-net ones the window never carries
  // (CTRL_VQ, MQ, MAC, STATUS; testpmd offers several of them).
  uint64_t features = (uint64_t{1} << 32) | (uint64_t{1} << 15) | (uint64_t{1} << 29) |
                      (uint64_t{1} << 34) | (uint64_t{1} << 30) | (uint64_t{1} << 26) |
                      (uint64_t{1} << 17) | (uint64_t{1} << 22) | (uint64_t{1} << 5) |
                      (uint64_t{1} << 16);
  // GET_PROTOCOL_FEATURES: MQ, REPLY_ACK, CONFIG (which the front end does
  // not use) and bit 12 (which it does not know).
  uint64_t protocol_features =
      protocol::kMq | protocol::kReplyAck | protocol::kConfig | (uint64_t{1} << 12);
  uint64_t queue_num = 1;   // GET_QUEUE_NUM's answer (queue pairs)
  uint32_t vring_base = 0;  // GET_VRING_BASE's num

  struct LieAt {
    Request request;
    uint32_t occurrence;  // the n-th such request, counting from 1; 0: every one
    Lie lie;
  };
  std::vector<LieAt> lies;

  Script& lie(Request r, Lie l, uint32_t occurrence = 1) {
    lies.push_back(LieAt{r, occurrence, l});
    return *this;
  }
};

struct Received {
  uint32_t request = 0;
  uint32_t flags = 0;
  std::vector<uint8_t> payload;
  int fds = 0;

  Request code() const { return static_cast<Request>(request); }
  bool need_reply() const { return (flags & kFlagNeedReply) != 0; }
  uint64_t u64() const;
  VringState state() const;
  VringAddr addr() const;
  MemoryTable table() const;
};

// One reply as sent: its bytes, and whether an fd went along.
struct SentChunk {
  std::vector<uint8_t> bytes;
  bool with_fd = false;
};

class FakeBackend {
 public:
  explicit FakeBackend(Script script = {});
  ~FakeBackend();
  FakeBackend(const FakeBackend&) = delete;
  FakeBackend& operator=(const FakeBackend&) = delete;

  // The front end's side of the socketpair (once; the caller owns it).
  int take_front_fd();
  // Closes the back end's side now (the connection drops).
  void close_connection();
  // Waits until the back end has handled everything the front end sent
  // (so that counts of fds and requests are settled). False on timeout.
  bool sync(int timeout_ms = 2000);

  std::vector<Received> received();
  std::vector<SentChunk> sent();
  // Requests of one code, in order.
  std::vector<Received> received(Request r);
  std::vector<Request> codes();
  uint64_t fds_received() const;
  bool closed() const;

 private:
  void run();
  bool handle(const Received& m);
  void send_reply(const Received& m, uint64_t u64_or_base, uint32_t size, Lie lie);
  Lie lie_for(Request r);

  Script script_;
  int front_fd_ = -1;
  int back_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool idle_ = true;
  bool closed_ = false;
  std::vector<Received> received_;
  std::vector<SentChunk> sent_;
  uint64_t fds_received_ = 0;
  uint32_t seen_[32] = {};
};

// Open file descriptors of this process (/proc/self/fd).
using vnet::fuzz::count_open_fds;  // fuzz/harness/open_fds.h

}  // namespace vnet::vhost::testing
