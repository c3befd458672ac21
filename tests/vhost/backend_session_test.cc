// The vhost-user back end (vhost/backend/, issue 18): every check of the
// front end's messages, its memory table and its rings, one test each;
// the memory a guest shares, adopted; and our own driver through the
// vhost-user front end of issue 17 against the mock device behind the
// back end, frames echoed byte for byte (labels unit and vhost).
//
// The front end here is a test's raw socket: messages are written to one
// end of a socketpair and the session on the other end handles them one
// at a time (handle_message), so a test reads each reply from the socket
// buffer afterwards -- no thread, except in the loopback test.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "driver/spec/virtio_constants.h"
#include "fuzz/harness/open_fds.h"
#include "mock_device/guest_memory.h"
#include "vhost/backend/backend_loop.h"
#include "vhost/backend/backend_session.h"
#include "vhost/backend/guest_mapping.h"
#include "vhost/backend/mock_device_backend.h"
#include "vhost/protocol.h"
#include "vhost/vhost_user_port.h"

using vnet::fuzz::count_open_fds;

namespace vnet::vhost {
namespace {

using spec::Feature;
using spec::feature_mask;

// A memfd sealed at its size, as QEMU's memory-backend-memfd makes them.
int sealed_memfd(size_t size, bool seal = true) {
  const int fd = memfd_create("guest", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0 || ftruncate(fd, off_t(size)) != 0) return -1;
  if (seal && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0) return -1;
  return fd;
}

// Guest memory as QEMU shares it: one memfd, one region.
constexpr uint64_t kGpa = 0x100000;
constexpr uint64_t kUaddr = 0x7f0000000000;
constexpr size_t kMemSize = 1 << 20;
// Ring q: descriptors at q * 0x10000, available ring + 0x1000, used + 0x2000.
constexpr uint64_t ring_offset(uint16_t q) {
  return uint64_t{q} * 0x10000;
}
constexpr uint16_t kRingSize = 256;

class BackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    front_ = sv[1];
    backend_ = std::make_unique<MockDeviceBackend>(mock::DeviceConfig{});
    session_ = std::make_unique<BackendSession>(sv[0], *backend_);
    memfd_ = sealed_memfd(kMemSize);
    ASSERT_GE(memfd_, 0);
    mem_ = static_cast<uint8_t*>(
        mmap(nullptr, kMemSize, PROT_READ | PROT_WRITE, MAP_SHARED, memfd_, 0));
    ASSERT_NE(mem_, MAP_FAILED);
  }
  void TearDown() override {
    session_.reset();
    backend_.reset();
    munmap(mem_, kMemSize);
    close(memfd_);
    close(front_);
  }

  void send(Request r, const void* payload, uint32_t size, std::vector<int> fds = {},
            uint32_t flags = kVersion) {
    send_raw(static_cast<uint32_t>(r), flags, payload, size, fds);
  }
  void send_raw(uint32_t code, uint32_t flags, const void* payload, uint32_t size,
                const std::vector<int>& fds = {}, uint32_t announced = UINT32_MAX) {
    MessageHeader h{code, flags, announced == UINT32_MAX ? size : announced};
    iovec iov[2] = {{&h, sizeof h}, {const_cast<void*>(payload), size}};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = size ? 2 : 1;
    std::vector<uint8_t> control;
    if (!fds.empty()) {
      control.assign(CMSG_SPACE(sizeof(int) * fds.size()), 0);
      msg.msg_control = control.data();
      msg.msg_controllen = control.size();
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    ASSERT_EQ(sendmsg(front_, &msg, 0), ssize_t(sizeof h + size));
  }
  void send_u64(Request r, uint64_t v, std::vector<int> fds = {}, uint32_t flags = kVersion) {
    send(r, &v, 8, std::move(fds), flags);
  }
  // Reads one reply (the session already wrote it).
  std::vector<uint8_t> reply(Request r) {
    MessageHeader h{};
    EXPECT_EQ(recv(front_, &h, sizeof h, MSG_DONTWAIT), ssize_t(sizeof h));
    EXPECT_EQ(h.request, static_cast<uint32_t>(r));
    EXPECT_EQ(h.flags, kVersion | kFlagReply);
    std::vector<uint8_t> p(h.size);
    if (h.size) EXPECT_EQ(recv(front_, p.data(), h.size, MSG_DONTWAIT), ssize_t(h.size));
    return p;
  }
  uint64_t reply_u64(Request r) {
    const auto p = reply(r);
    uint64_t v = ~uint64_t{0};
    if (p.size() == 8) std::memcpy(&v, p.data(), 8);
    return v;
  }
  bool no_reply_waiting() {
    uint8_t b;
    return recv(front_, &b, 1, MSG_DONTWAIT) < 0;
  }
  // Handles the message just sent; expects the session to go on.
  void handle() { ASSERT_TRUE(session_->handle_message()) << session_->error(); }
  // Sends r with NEED_REPLY (REPLY_ACK negotiated first) and returns the ack.
  uint64_t acked(Request r, const void* payload, uint32_t size, std::vector<int> fds = {}) {
    send(r, payload, size, std::move(fds), kVersion | kFlagNeedReply);
    EXPECT_TRUE(session_->handle_message()) << session_->error();
    return reply_u64(Request(r));
  }
  uint64_t acked_u64(Request r, uint64_t v, std::vector<int> fds = {}) {
    return acked(r, &v, 8, std::move(fds));
  }

  void negotiate_protocol(uint64_t features = protocol::kReplyAck | protocol::kConfig) {
    send_u64(Request::kSetProtocolFeatures, features);
    handle();
  }
  void set_features(uint64_t extra = 0) {
    ASSERT_EQ(acked_u64(Request::kSetFeatures,
                        feature_mask(Feature::kVersion1) | kFeatureProtocolFeatures | extra),
              0u);
  }
  MemoryTable table(uint32_t n = 1) {
    MemoryTable t{};
    t.num_regions = n;
    t.regions[0] = MemoryRegion{kGpa, kMemSize, kUaddr, 0};
    return t;
  }
  uint64_t set_mem_table(const MemoryTable& t, std::vector<int> fds) {
    return acked(Request::kSetMemTable, &t, 8 + 32 * t.num_regions, std::move(fds));
  }
  uint64_t set_mem_table() { return set_mem_table(table(), {memfd_}); }
  // Ring q's size, base and addresses; then its kick (starts it), call and enable.
  uint64_t setup_ring(uint16_t q, uint16_t num = kRingSize, uint32_t base = 0,
                      uint64_t desc_va = 0) {
    VringState s{q, num};
    EXPECT_EQ(acked(Request::kSetVringNum, &s, 8), 0u);
    s.num = base;
    EXPECT_EQ(acked(Request::kSetVringBase, &s, 8), 0u);
    const uint64_t at = kUaddr + ring_offset(q);
    VringAddr a{q, 0, desc_va ? desc_va : at, at + 0x2000, at + 0x1000, 0};
    EXPECT_EQ(acked(Request::kSetVringAddr, &a, sizeof a), 0u);
    const int call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    EXPECT_EQ(acked_u64(Request::kSetVringCall, q, {call}), 0u);
    close(call);
    const int kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    const uint64_t r = acked_u64(Request::kSetVringKick, q, {kick});
    close(kick);
    s = VringState{q, 1};
    EXPECT_EQ(acked(Request::kSetVringEnable, &s, 8), 0u);
    return r;
  }
  void start_device() {
    negotiate_protocol();
    set_features();
    ASSERT_EQ(set_mem_table(), 0u);
    ASSERT_EQ(setup_ring(0), 0u);
    ASSERT_EQ(setup_ring(1), 0u);
    ASSERT_TRUE(backend_->running());
  }
  bool refused_with(const std::string& words) const {
    for (const auto& r : session_->refusals())
      if (r.find(words) != std::string::npos) return true;
    return false;
  }
  bool refused_exactly(const std::string& line) const {
    for (const auto& r : session_->refusals())
      if (r == line) return true;
    return false;
  }
  // Session-ending input: handle_message() false with error() naming why.
  void expect_ends(const std::string& words) {
    EXPECT_FALSE(session_->handle_message());
    EXPECT_NE(session_->error().find(words), std::string::npos) << session_->error();
  }

  int front_ = -1;
  int memfd_ = -1;
  uint8_t* mem_ = nullptr;
  std::unique_ptr<MockDeviceBackend> backend_;
  std::unique_ptr<BackendSession> session_;
};

// ---- the handshake ----

TEST_F(BackendTest, OffersTheMocksRingFeaturesAndProtocolFeaturesNotTheControlPlane) {
  send(Request::kGetFeatures, nullptr, 0);
  handle();
  const uint64_t f = reply_u64(Request::kGetFeatures);
  EXPECT_TRUE(f & kFeatureProtocolFeatures);
  EXPECT_TRUE(spec::has_feature(f, Feature::kVersion1));
  EXPECT_FALSE(spec::has_feature(f, Feature::kNetCtrlVq));
  EXPECT_FALSE(spec::has_feature(f, Feature::kNetMac));
  EXPECT_FALSE(spec::has_feature(f, Feature::kAccessPlatform));
  EXPECT_EQ(f & ~(vhost_carriable_features() | kFeatureProtocolFeatures), 0u);
  send(Request::kGetProtocolFeatures, nullptr, 0);
  handle();
  EXPECT_EQ(reply_u64(Request::kGetProtocolFeatures), BackendSession::kProtocolFeatures);
}

TEST_F(BackendTest, ProtocolFeaturesBeyondTheOfferAreRefused) {
  send_u64(Request::kSetProtocolFeatures, protocol::kReplyAck | protocol::kMq);
  handle();
  EXPECT_TRUE(refused_with("beyond those offered"));
  EXPECT_EQ(session_->acked_protocol_features(), 0u);
}

TEST_F(BackendTest, FeaturesTheDeviceDidNotOfferAreRefused) {
  negotiate_protocol();
  EXPECT_NE(acked_u64(Request::kSetFeatures,
                      feature_mask(Feature::kVersion1) | feature_mask(Feature::kNetCtrlVq)),
            0u);
  EXPECT_TRUE(refused_with("not offered"));
  EXPECT_EQ(session_->acked_features(), 0u);
}

TEST_F(BackendTest, RepliesAckOnlyWhenReplyAckIsNegotiated) {
  send_u64(Request::kSetFeatures, feature_mask(Feature::kVersion1), {}, kVersion | kFlagNeedReply);
  handle();
  EXPECT_TRUE(no_reply_waiting());
}

// ---- framing: each ends the session ----

TEST_F(BackendTest, AWrongVersionEndsTheSession) {
  send(Request::kGetFeatures, nullptr, 0, {}, 2);
  expect_ends("version 1");
}

TEST_F(BackendTest, TheReplyFlagOnARequestEndsTheSession) {
  send(Request::kGetFeatures, nullptr, 0, {}, kVersion | kFlagReply);
  expect_ends("REPLY flag");
}

TEST_F(BackendTest, AnOversizedPayloadEndsTheSession) {
  uint64_t v = 0;
  send_raw(static_cast<uint32_t>(Request::kSetFeatures), kVersion, &v, 8, {}, 0x100000);
  expect_ends("at most");
}

TEST_F(BackendTest, APayloadOfTheWrongSizeEndsTheSession) {
  uint32_t v = 0;
  send(Request::kSetFeatures, &v, 4);
  expect_ends("it takes 8");
}

TEST_F(BackendTest, APayloadCutShortEndsTheSession) {
  uint64_t v = 0;
  send_raw(static_cast<uint32_t>(Request::kSetFeatures), kVersion, &v, 4, {}, 8);
  shutdown(front_, SHUT_WR);
  expect_ends("cut short");
}

TEST_F(BackendTest, AHeaderCutShortEndsTheSession) {
  const uint8_t half[6] = {1, 0, 0, 0, 1, 0};
  ASSERT_EQ(write(front_, half, sizeof half), 6);
  shutdown(front_, SHUT_WR);
  expect_ends("middle of a message header");
}

TEST_F(BackendTest, ACleanCloseEndsWithoutError) {
  shutdown(front_, SHUT_WR);
  EXPECT_FALSE(session_->handle_message());
  EXPECT_TRUE(session_->error().empty());
}

TEST_F(BackendTest, FileDescriptorsOnARequestThatTakesNoneAreClosed) {
  const int before = count_open_fds();
  const int e = eventfd(0, EFD_CLOEXEC);
  send(Request::kSetOwner, nullptr, 0, {e});
  close(e);
  handle();
  EXPECT_TRUE(refused_with("file descriptors (closed)"));
  EXPECT_EQ(count_open_fds(), before);
}

TEST_F(BackendTest, TooManyFileDescriptorsEndTheSessionAndLeakNone) {
  const int before = count_open_fds();
  std::vector<int> fds;
  for (int i = 0; i < 20; ++i) fds.push_back(eventfd(0, EFD_CLOEXEC));
  send(Request::kSetOwner, nullptr, 0, fds);
  for (int f : fds) close(f);
  expect_ends("more file descriptors");
  EXPECT_EQ(count_open_fds(), before);
}

TEST_F(BackendTest, AFrontEndThatStopsReadingRepliesEndsTheSessionInBoundedTime) {
  // Replies pile up in the socket until the back end's send times out.
  bool ended = false;
  for (int i = 0; i < 100000 && !ended; ++i) {
    send(Request::kGetFeatures, nullptr, 0);
    ended = !session_->handle_message();
  }
  ASSERT_TRUE(ended);
  EXPECT_NE(session_->error().find("stopped reading replies"), std::string::npos)
      << session_->error();
}

TEST_F(BackendTest, AnUnknownRequestIsRefusedAndTheSessionGoesOn) {
  negotiate_protocol();
  send_raw(99, kVersion | kFlagNeedReply, nullptr, 0);
  handle();
  EXPECT_NE(reply_u64(Request(99)), 0u);
  EXPECT_TRUE(refused_with("not a request this back end knows"));
}

// ---- the memory table ----

TEST_F(BackendTest, ARegionPastTheEndOfItsFileIsRefused) {
  negotiate_protocol();
  MemoryTable t = table();
  t.regions[0].memory_size = kMemSize * 4;  // mapping it would fault at the first touch
  EXPECT_NE(set_mem_table(t, {memfd_}), 0u);
  EXPECT_TRUE(refused_with("beyond the file"));
}

TEST_F(BackendTest, AFileTheFrontEndCanStillShrinkIsRefused) {
  negotiate_protocol();
  const int unsealed = sealed_memfd(kMemSize, false);
  ASSERT_GE(unsealed, 0);
  EXPECT_NE(set_mem_table(table(), {unsealed}), 0u);
  EXPECT_TRUE(refused_with("no F_SEAL_SHRINK"));
  // Had it been mapped, this would fault the back end at its next access.
  ASSERT_EQ(ftruncate(unsealed, 0), 0);
  close(unsealed);
  const int e = eventfd(0, EFD_CLOEXEC);  // not a memfd at all
  EXPECT_NE(set_mem_table(table(), {e}), 0u);
  EXPECT_TRUE(refused_with("not a memfd"));
  close(e);
}

TEST_F(BackendTest, OverlappingRegionsAreRefused) {
  negotiate_protocol();
  MemoryTable t = table(2);
  t.regions[0].memory_size = kMemSize / 2;
  t.regions[1] = MemoryRegion{kGpa + 0x1000, kMemSize / 4, kUaddr + kMemSize, 0};
  EXPECT_NE(set_mem_table(t, {memfd_, memfd_}), 0u);
  EXPECT_TRUE(refused_with("overlaps"));
}

TEST_F(BackendTest, ARegionThatWrapsIsRefused) {
  negotiate_protocol();
  MemoryTable t = table();
  t.regions[0].guest_phys_addr = ~uint64_t{0} - 0x1000;
  EXPECT_NE(set_mem_table(t, {memfd_}), 0u);
  EXPECT_TRUE(refused_with("wraps"));
}

TEST_F(BackendTest, AnEmptyRegionIsRefused) {
  negotiate_protocol();
  MemoryTable t = table();
  t.regions[0].memory_size = 0;
  EXPECT_NE(set_mem_table(t, {memfd_}), 0u);
  EXPECT_TRUE(refused_with("empty"));
}

TEST_F(BackendTest, RegionsAndFileDescriptorsMustPair) {
  negotiate_protocol();
  EXPECT_NE(set_mem_table(table(), {}), 0u);
  EXPECT_TRUE(refused_with("0 file descriptors"));
  EXPECT_NE(set_mem_table(table(), {memfd_, memfd_}), 0u);
  EXPECT_TRUE(refused_with("2 file descriptors"));
}

TEST_F(BackendTest, ATableOfNoRegionsIsRefused) {
  negotiate_protocol();
  MemoryTable t = table(0);
  EXPECT_NE(acked(Request::kSetMemTable, &t, 8), 0u);
  EXPECT_TRUE(refused_with("0 regions"));
}

TEST_F(BackendTest, ATableWhoseSizeDisagreesWithItsRegionCountEndsTheSession) {
  MemoryTable t = table(2);
  send(Request::kSetMemTable, &t, 8 + 32, {memfd_});
  expect_ends("regions in");
}

// ---- rings ----

TEST_F(BackendTest, ASplitRingSizeThatIsNoPowerOfTwoIsRefused) {
  start_device();
  VringState s{2, 100};
  EXPECT_NE(acked(Request::kSetVringNum, &s, 8), 0u);
  s.num = 0;
  EXPECT_NE(acked(Request::kSetVringNum, &s, 8), 0u);
  EXPECT_TRUE(refused_with("ring size 100"));
  EXPECT_TRUE(refused_with("ring size 0"));
}

TEST_F(BackendTest, ARingIndexBeyondTheBackEndsIsRefused) {
  negotiate_protocol();
  VringState s{BackendSession::kMaxRings, 256};
  EXPECT_NE(acked(Request::kSetVringNum, &s, 8), 0u);
  EXPECT_NE(acked_u64(Request::kSetVringKick, BackendSession::kMaxRings | kVringNoFd), 0u);
  VringAddr a{BackendSession::kMaxRings, 0, 0, 0, 0, 0};
  EXPECT_NE(acked(Request::kSetVringAddr, &a, sizeof a), 0u);
  // Each refused for the index itself, not for whatever lies beyond the rings.
  const std::string n = std::to_string(BackendSession::kMaxRings);
  EXPECT_TRUE(refused_with("SET_VRING_NUM: ring " + n + " (this back end has " + n + ")"));
  EXPECT_TRUE(refused_exactly("SET_VRING_ADDR: ring " + n));
  EXPECT_TRUE(refused_with("SET_VRING_KICK: ring " + n));
}

TEST_F(BackendTest, ARingBeyondTheDevicesQueuesIsRefusedAtItsKick) {
  negotiate_protocol();
  set_features();
  ASSERT_EQ(set_mem_table(), 0u);
  EXPECT_NE(setup_ring(5), 0u);
  EXPECT_TRUE(refused_with("beyond the device's"));
}

TEST_F(BackendTest, ARingAddressOutsideEveryRegionIsRefusedAtItsKick) {
  negotiate_protocol();
  set_features();
  ASSERT_EQ(set_mem_table(), 0u);
  EXPECT_NE(setup_ring(0, kRingSize, 0, kUaddr + kMemSize - 16), 0u);
  EXPECT_TRUE(refused_with("outside every mapped memory region"));
  EXPECT_FALSE(session_->ring_running(0));
}

TEST_F(BackendTest, AKickBeforeTheMemoryTableIsRefused) {
  negotiate_protocol();
  set_features();
  EXPECT_NE(setup_ring(0), 0u);
  EXPECT_TRUE(refused_with("kick before its memory table"));
}

TEST_F(BackendTest, AKickBeforeTheRingsSizeIsRefused) {
  negotiate_protocol();
  set_features();
  ASSERT_EQ(set_mem_table(), 0u);
  const int kick = eventfd(0, EFD_CLOEXEC);
  EXPECT_NE(acked_u64(Request::kSetVringKick, 0, {kick}), 0u);
  close(kick);
  EXPECT_TRUE(refused_with("kick before its size"));
}

TEST_F(BackendTest, ARingStartedBeforeTheFeaturesIsRefused) {
  negotiate_protocol();
  ASSERT_EQ(set_mem_table(), 0u);
  EXPECT_NE(setup_ring(0), 0u);
  EXPECT_TRUE(refused_with("before SET_FEATURES"));
}

TEST_F(BackendTest, ARingResumedAtANonzeroBaseIsRefused) {
  negotiate_protocol();
  set_features();
  ASSERT_EQ(set_mem_table(), 0u);
  EXPECT_NE(setup_ring(0, kRingSize, 7), 0u);
  EXPECT_TRUE(refused_with("resumed at base"));
}

TEST_F(BackendTest, ARingLargerThanTheDeviceTakesIsRefused) {
  negotiate_protocol();
  set_features();
  ASSERT_EQ(set_mem_table(), 0u);
  EXPECT_NE(setup_ring(0, 4096), 0u);
  EXPECT_TRUE(refused_with("could not be set up"));
}

TEST_F(BackendTest, ARunningRingKeepsItsSizeAndAddresses) {
  start_device();
  VringState s{0, 128};
  EXPECT_NE(acked(Request::kSetVringNum, &s, 8), 0u);
  s.num = 3;
  EXPECT_NE(acked(Request::kSetVringBase, &s, 8), 0u);
  VringAddr a{0, 0, kUaddr, kUaddr, kUaddr, 0};
  EXPECT_NE(acked(Request::kSetVringAddr, &a, sizeof a), 0u);
  EXPECT_TRUE(refused_with("is running"));
}

TEST_F(BackendTest, DirtyPageLoggingIsRefused) {
  negotiate_protocol();
  VringAddr a{0, 1, kUaddr, kUaddr, kUaddr, 0};
  EXPECT_NE(acked(Request::kSetVringAddr, &a, sizeof a), 0u);
  EXPECT_TRUE(refused_with("logging"));
}

TEST_F(BackendTest, RingFileDescriptorRequestsAreChecked) {
  negotiate_protocol();
  const int before = count_open_fds();
  const int e = eventfd(0, EFD_CLOEXEC);
  EXPECT_NE(acked_u64(Request::kSetVringCall, 0 | kVringNoFd, {e}), 0u);    // NOFD with an fd
  EXPECT_NE(acked_u64(Request::kSetVringCall, 0, {}), 0u);                  // no fd without NOFD
  EXPECT_NE(acked_u64(Request::kSetVringErr, uint64_t{1} << 20, {e}), 0u);  // stray bits
  close(e);
  EXPECT_TRUE(refused_with("with NOFD"));
  EXPECT_TRUE(refused_with("one expected"));
  EXPECT_TRUE(refused_with("bits beyond"));
  EXPECT_EQ(count_open_fds(), before);
}

TEST_F(BackendTest, AnEnableValueAboveOneIsRefused) {
  negotiate_protocol();
  VringState s{0, 2};
  EXPECT_NE(acked(Request::kSetVringEnable, &s, 8), 0u);
}

TEST_F(BackendTest, GetVringBaseStopsTheRingAndReturnsWhereItStands) {
  start_device();
  VringState s{1, 0};
  send(Request::kGetVringBase, &s, 8);
  handle();
  const auto p = reply(Request::kGetVringBase);
  ASSERT_EQ(p.size(), 8u);
  VringState out;
  std::memcpy(&out, p.data(), 8);
  EXPECT_EQ(out.index, 1u);
  EXPECT_EQ(out.num, 0u);
  EXPECT_FALSE(session_->ring_running(1));
}

TEST_F(BackendTest, ARingRestartedAloneUnderARunningOneIsRefusedAndAllTogetherIsNot) {
  start_device();
  VringState s{0, 0};
  send(Request::kGetVringBase, &s, 8);
  handle();
  reply(Request::kGetVringBase);
  EXPECT_NE(setup_ring(0), 0u);  // ring 1 still runs
  EXPECT_TRUE(refused_with("still runs"));
  EXPECT_TRUE(session_->ring_running(1));
  s.index = 1;
  send(Request::kGetVringBase, &s, 8);
  handle();
  reply(Request::kGetVringBase);
  set_features();
  EXPECT_EQ(setup_ring(0), 0u);
  EXPECT_EQ(setup_ring(1), 0u);
  EXPECT_TRUE(backend_->running());
  EXPECT_TRUE(backend_->device().conformance().empty());
}

// ---- the configuration space ----

TEST_F(BackendTest, GetConfigReadsTheMocksMac) {
  negotiate_protocol();
  uint8_t req[12 + 6] = {};
  ConfigHeader c{0, 6, 0};
  std::memcpy(req, &c, sizeof c);
  send(Request::kGetConfig, req, sizeof req);
  handle();
  const auto p = reply(Request::kGetConfig);
  ASSERT_EQ(p.size(), sizeof req);
  const auto& mac = mock::DeviceConfig{}.mac;
  EXPECT_EQ(std::memcmp(p.data() + 12, mac.data(), 6), 0);
}

TEST_F(BackendTest, GetConfigBeyond256BytesGetsAnEmptyReply) {
  negotiate_protocol();
  std::vector<uint8_t> req(12 + 16, 0);
  ConfigHeader c{250, 16, 0};
  std::memcpy(req.data(), &c, sizeof c);
  send(Request::kGetConfig, req.data(), uint32_t(req.size()));
  handle();
  const auto p = reply(Request::kGetConfig);
  ASSERT_EQ(p.size(), 12u);
  ConfigHeader out;
  std::memcpy(&out, p.data(), sizeof out);
  EXPECT_EQ(out.size, 0u);
}

TEST_F(BackendTest, GetConfigWithoutTheConfigProtocolFeatureGetsAnEmptyReply) {
  negotiate_protocol(protocol::kReplyAck);
  uint8_t req[12 + 6] = {};
  ConfigHeader c{0, 6, 0};
  std::memcpy(req, &c, sizeof c);
  send(Request::kGetConfig, req, sizeof req);
  handle();
  EXPECT_EQ(reply(Request::kGetConfig).size(), 12u);
  EXPECT_TRUE(refused_with("CONFIG protocol feature not negotiated"));
}

TEST_F(BackendTest, GetConfigWhoseSizeDisagreesWithItsPayloadEndsTheSession) {
  uint8_t req[12 + 6] = {};
  ConfigHeader c{0, 60, 0};
  std::memcpy(req, &c, sizeof c);
  send(Request::kGetConfig, req, sizeof req);
  expect_ends("size 60");
}

TEST_F(BackendTest, SetConfigIsRefused) {
  negotiate_protocol();
  uint8_t req[12 + 6] = {};
  ConfigHeader c{0, 6, 0};
  std::memcpy(req, &c, sizeof c);
  EXPECT_NE(acked(Request::kSetConfig, req, sizeof req), 0u);
}

// ---- the checker watches the guest's driver ----

TEST_F(BackendTest, ADescriptorOutsideGuestMemoryIsTheDriversViolation) {
  start_device();
  // One tx chain: a descriptor whose buffer lies beyond the region.
  uint8_t* ring = mem_ + ring_offset(1);
  const uint64_t addr = kGpa + kMemSize + 0x1000;
  const uint32_t len = 64;
  const uint16_t flags = 0, next = 0;
  std::memcpy(ring, &addr, 8);
  std::memcpy(ring + 8, &len, 4);
  std::memcpy(ring + 12, &flags, 2);
  std::memcpy(ring + 14, &next, 2);
  const uint16_t head = 0, idx = 1;
  std::memcpy(ring + 0x1000 + 4, &head, 2);
  std::memcpy(ring + 0x1000 + 2, &idx, 2);
  session_->on_kick(1);
  EXPECT_TRUE(backend_->device().conformance().has("2.7.13.1"));
  EXPECT_EQ(backend_->device().counters().tx_frames, 0u);
}

TEST_F(BackendTest, AGoodTransmitChainReachesTheDeviceAndIsCompleted) {
  start_device();
  uint8_t* ring = mem_ + ring_offset(1);
  const uint64_t buf_off = 0x80000;
  std::memset(mem_ + buf_off, 0, 12);  // the net header
  for (int i = 0; i < 60; ++i) mem_[buf_off + 12 + i] = uint8_t(i);
  const uint64_t addr = kGpa + buf_off;
  const uint32_t len = 72;
  std::memcpy(ring, &addr, 8);
  std::memcpy(ring + 8, &len, 4);
  const uint16_t head = 0, idx = 1;
  std::memcpy(ring + 0x1000 + 4, &head, 2);
  std::memcpy(ring + 0x1000 + 2, &idx, 2);
  std::vector<uint8_t> got;
  backend_->device().set_tx_handler(
      [&](std::span<const uint8_t> f) { got.assign(f.begin(), f.end()); });
  session_->on_kick(1);
  ASSERT_EQ(got.size(), 60u);
  EXPECT_EQ(got[59], 59);
  uint16_t used_idx;
  std::memcpy(&used_idx, ring + 0x2000 + 2, 2);
  EXPECT_EQ(used_idx, 1);
  EXPECT_TRUE(backend_->device().conformance().empty());
}

// ---- memory ----

TEST(GuestMemoryAdopted, TranslatesEachRegionAndRefusesWhatStraddlesThem) {
  std::vector<uint8_t> a(0x1000), b(0x2000);
  mock::GuestMemory m{mock::GuestMemory::Adopted{}};
  EXPECT_EQ(m.translate(0, 1), nullptr);
  const mock::GuestMemory::Region r[] = {{0, a.data(), a.size()}, {0x1000, b.data(), b.size()}};
  ASSERT_TRUE(m.set_regions(r, 2));
  EXPECT_EQ(m.translate(0x10, 4), a.data() + 0x10);
  EXPECT_EQ(m.translate(0x1800, 0x800), b.data() + 0x800);
  EXPECT_EQ(m.translate(0xFF0, 0x20), nullptr);  // contiguous in guest space, not in ours
  EXPECT_EQ(m.translate(0x3000, 1), nullptr);
  EXPECT_EQ(m.translate(0x2FFF, 2), nullptr);
  mock::GuestMemory::Allocation out;
  EXPECT_FALSE(m.allocate(64, 16, &out));
}

TEST(GuestMemoryAdopted, RefusesOverlappingOrEmptyRegions) {
  std::vector<uint8_t> a(0x1000);
  mock::GuestMemory m{mock::GuestMemory::Adopted{}};
  const mock::GuestMemory::Region overlap[] = {{0, a.data(), 0x1000}, {0x800, a.data(), 0x1000}};
  EXPECT_FALSE(m.set_regions(overlap, 2));
  const mock::GuestMemory::Region empty[] = {{0, a.data(), 0}};
  EXPECT_FALSE(m.set_regions(empty, 1));
  mock::GuestMemory own(4096);
  const mock::GuestMemory::Region one[] = {{0, a.data(), 0x1000}};
  EXPECT_FALSE(own.set_regions(one, 1));  // an arena of its own is not adopted
}

TEST(GuestMappingTest, FrontEndAddressesTranslateWithinOneRegionOnly) {
  const int fd = sealed_memfd(0x4000);
  ASSERT_GE(fd, 0);
  MemoryTable t{};
  t.num_regions = 2;
  t.regions[0] = MemoryRegion{0, 0x2000, 0x10000, 0};
  t.regions[1] = MemoryRegion{0x8000, 0x2000, 0x12000, 0x2000};
  GuestMapping m;
  std::string why;
  const int fds[] = {fd, fd};
  ASSERT_TRUE(m.map(t, fds, &why)) << why;
  uint64_t gpa = 0;
  EXPECT_TRUE(m.to_guest_physical(0x10010, 16, &gpa));
  EXPECT_EQ(gpa, 0x10u);
  EXPECT_TRUE(m.to_guest_physical(0x12000, 0x2000, &gpa));
  EXPECT_EQ(gpa, 0x8000u);
  EXPECT_FALSE(m.to_guest_physical(0x11ff0, 0x20, &gpa));  // straddles the two
  EXPECT_FALSE(m.to_guest_physical(0x14000, 1, &gpa));
  ASSERT_EQ(m.regions().size(), 2u);
  // The same file seen through both regions: region 1 starts at offset 0x2000.
  m.regions()[0].host[0x1FFF] = 0xAB;
  close(fd);
}

// ---- our driver through vhost-user to the mock device ----

TEST(VhostBackendLoopback, OurDriverThroughTheMockDeviceEchoesFramesByteForByte) {
  // A private directory for the socket, where the test framework keeps
  // temporary files (mkdtemp fills in the last six characters).
  std::string dir = ::testing::TempDir() + "vnet-vhost-backend-XXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  const std::string path = dir + "/sock";
  const int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(lfd, 1), 0);

  std::atomic<bool> stop{false};
  uint64_t violations = ~uint64_t{0}, device_tx = 0, echoed = 0;
  std::string end;
  std::thread device([&] {
    const int conn = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    ASSERT_GE(conn, 0);
    MockDeviceBackend backend{mock::DeviceConfig{}};
    std::deque<std::vector<uint8_t>> echo;
    backend.device().set_tx_handler(
        [&](std::span<const uint8_t> f) { echo.emplace_back(f.begin(), f.end()); });
    BackendSession session(conn, backend);
    BackendLoop loop(session, backend);
    while (!stop.load() && loop.run_once(1)) {
      while (!echo.empty() && backend.running() && backend.device().inject_rx(echo.front())) {
        echo.pop_front();
        ++echoed;
      }
    }
    end = loop.end();
    violations = backend.device().conformance().total();
    for (const auto& v : backend.device().conformance().violations())
      ADD_FAILURE() << v.id << ": " << v.message;
    device_tx = backend.device().counters().tx_frames;
  });

  // The front end's side; an ASSERT returns from it, and the device thread
  // is stopped and joined whatever happened.
  auto front_end = [&] {
    VhostUserPort port;
    PortOptions po;
    po.socket = path;
    po.memory_bytes = size_t{16} << 20;
    po.pool_buffers = 1024;
    ASSERT_TRUE(port.open(po)) << port.error();
    ASSERT_EQ(port.attach(NetOptions{}), AttachError::kOk);
    constexpr int kFrames = 64;
    std::vector<std::vector<uint8_t>> sent;
    for (int i = 0; i < kFrames; ++i) {
      PacketBuffer* b = port.pool().alloc();
      ASSERT_NE(b, nullptr);
      const uint32_t len = 60 + uint32_t(i) * 23;
      std::vector<uint8_t> f(len);
      for (uint32_t k = 0; k < len; ++k) f[k] = uint8_t(i * 7 + k);
      b->offset = kTxHeadroom;
      std::memcpy(b->base + b->offset, f.data(), len);
      b->len = len;
      b->next = nullptr;
      b->offload = PacketOffload{};
      PacketBuffer* one[] = {b};
      ASSERT_EQ(port.net().tx_burst(one, 1), 1);
      sent.push_back(std::move(f));
    }
    std::vector<std::vector<uint8_t>> got;
    for (int spins = 0; spins < 5000 && got.size() < sent.size(); ++spins) {
      PacketBuffer* burst[32];
      const uint16_t n = port.net().rx_burst(burst, 32);
      for (uint16_t i = 0; i < n; ++i) {
        got.emplace_back(burst[i]->base + burst[i]->offset,
                         burst[i]->base + burst[i]->offset + burst[i]->len);
        port.pool().free(burst[i]);
      }
      port.net().tx_reclaim();
      if (n == 0) usleep(1000);
    }
    EXPECT_EQ(got.size(), sent.size());
    if (got.size() != sent.size()) got.resize(sent.size());
    for (size_t i = 0; i < sent.size(); ++i) EXPECT_EQ(got[i], sent[i]) << "frame " << i;
    port.stop();
  };
  front_end();
  stop = true;
  device.join();
  close(lfd);
  unlink(path.c_str());
  rmdir(dir.c_str());
  EXPECT_EQ(device_tx, 64u);
  EXPECT_EQ(echoed, 64u);
  EXPECT_EQ(violations, 0u);
}

}  // namespace
}  // namespace vnet::vhost
