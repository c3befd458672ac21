#include "tests/vhost/fake_backend.h"

#include "vhost/channel.h"

#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

namespace vnet::vhost::testing {

const char* lie_name(Lie l) {
  switch (l) {
    case Lie::kNone:
      return "none";
    case Lie::kOtherRequest:
      return "other_request";
    case Lie::kWrongVersion:
      return "wrong_version";
    case Lie::kNoReplyFlag:
      return "no_reply_flag";
    case Lie::kShortPayload:
      return "short_payload";
    case Lie::kOversized:
      return "oversized";
    case Lie::kWithFd:
      return "with_fd";
    case Lie::kNack:
      return "nack";
    case Lie::kNoReply:
      return "no_reply";
    case Lie::kClose:
      return "close";
    case Lie::kOtherRing:
      return "other_ring";
  }
  return "?";
}

namespace {

template <typename T>
T payload_as(const std::vector<uint8_t>& p) {
  T v{};
  memcpy(&v, p.data(), p.size() < sizeof v ? p.size() : sizeof v);
  return v;
}

// Reads exactly len bytes (blocking); counts and closes fds that come along.
bool read_all(int fd, void* dst, size_t len, int* fds) {
  uint8_t* out = static_cast<uint8_t*>(dst);
  size_t got = 0;
  while (got < len) {
    uint64_t closed = 0;
    const ssize_t n = vhost::recv_closing_fds(fd, out + got, len - got, &closed);
    *fds += static_cast<int>(closed);
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

bool has_reply(Request r) {
  switch (r) {
    case Request::kGetFeatures:
    case Request::kGetProtocolFeatures:
    case Request::kGetQueueNum:
    case Request::kGetVringBase:
    case Request::kGetConfig:
      return true;
    default:
      return false;
  }
}

}  // namespace

uint64_t Received::u64() const {
  return payload_as<uint64_t>(payload);
}
VringState Received::state() const {
  return payload_as<VringState>(payload);
}
VringAddr Received::addr() const {
  return payload_as<VringAddr>(payload);
}
MemoryTable Received::table() const {
  return payload_as<MemoryTable>(payload);
}

FakeBackend::FakeBackend(Script script) : script_(std::move(script)) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) abort();
  front_fd_ = sv[0];
  back_fd_ = sv[1];
  if (pipe2(stop_pipe_, O_CLOEXEC) != 0) abort();
  thread_ = std::thread([this] { run(); });
}

FakeBackend::~FakeBackend() {
  const char c = 0;
  (void)!write(stop_pipe_[1], &c, 1);
  thread_.join();
  close(stop_pipe_[0]);
  close(stop_pipe_[1]);
  close(back_fd_);
  if (front_fd_ >= 0) close(front_fd_);
}

int FakeBackend::take_front_fd() {
  const int fd = front_fd_;
  front_fd_ = -1;
  return fd;
}

void FakeBackend::close_connection() {
  std::lock_guard<std::mutex> lock(mu_);
  shutdown(back_fd_, SHUT_RDWR);
  closed_ = true;
}

bool FakeBackend::sync(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    int pending = 0;
    if (!closed_ && ioctl(back_fd_, FIONREAD, &pending) != 0) pending = 0;
    if (idle_ && pending == 0) return true;
    if (cv_.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() +
                                                    std::chrono::milliseconds(1))) ==
            std::cv_status::timeout &&
        std::chrono::steady_clock::now() >= deadline)
      return false;
  }
}

std::vector<Received> FakeBackend::received() {
  std::lock_guard<std::mutex> lock(mu_);
  return received_;
}

std::vector<Received> FakeBackend::received(Request r) {
  std::vector<Received> out;
  for (const Received& m : received())
    if (m.code() == r) out.push_back(m);
  return out;
}

std::vector<Request> FakeBackend::codes() {
  std::vector<Request> out;
  for (const Received& m : received()) out.push_back(m.code());
  return out;
}

std::vector<SentChunk> FakeBackend::sent() {
  std::lock_guard<std::mutex> lock(mu_);
  return sent_;
}

uint64_t FakeBackend::fds_received() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fds_received_;
}

bool FakeBackend::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

Lie FakeBackend::lie_for(Request r) {
  const uint32_t code = static_cast<uint32_t>(r);
  const uint32_t n = code < 32 ? ++seen_[code] : 0;
  for (const Script::LieAt& l : script_.lies)
    if (l.request == r && (l.occurrence == 0 || l.occurrence == n)) return l.lie;
  return Lie::kNone;
}

void FakeBackend::run() {
  for (;;) {
    pollfd p[2] = {{back_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    const int pr = poll(p, 2, -1);
    if (pr < 0 && errno == EINTR) continue;
    if (pr < 0 || (p[1].revents & POLLIN) != 0) break;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) break;
      idle_ = false;
    }
    Received m;
    MessageHeader h{};
    bool ok = read_all(back_fd_, &h, sizeof h, &m.fds);
    if (ok && h.size > 4096) ok = false;  // no request of the front end is that big
    if (ok) {
      m.request = h.request;
      m.flags = h.flags;
      m.payload.resize(h.size);
      ok = h.size == 0 || read_all(back_fd_, m.payload.data(), h.size, &m.fds);
    }
    std::lock_guard<std::mutex> lock(mu_);
    fds_received_ += static_cast<uint64_t>(m.fds);
    if (!ok) {
      // The front end closed its side (or sent garbage): the connection is over.
      shutdown(back_fd_, SHUT_RDWR);
      closed_ = true;
      idle_ = true;
      cv_.notify_all();
      break;
    }
    received_.push_back(m);
    const bool go_on = handle(m);
    idle_ = true;
    cv_.notify_all();
    if (!go_on) break;
  }
  std::lock_guard<std::mutex> lock(mu_);
  idle_ = true;
  cv_.notify_all();
}

// Called with mu_ held. False: the back end hung up.
bool FakeBackend::handle(const Received& m) {
  const Lie lie = lie_for(m.code());
  if (lie == Lie::kClose) {
    shutdown(back_fd_, SHUT_RDWR);
    closed_ = true;
    return false;
  }
  if (lie == Lie::kNoReply) return true;
  switch (m.code()) {
    case Request::kGetFeatures:
      send_reply(m, script_.features, 8, lie);
      return true;
    case Request::kGetProtocolFeatures:
      send_reply(m, script_.protocol_features, 8, lie);
      return true;
    case Request::kGetQueueNum:
      send_reply(m, script_.queue_num, 8, lie);
      return true;
    case Request::kGetVringBase:
      send_reply(m, script_.vring_base, 8, lie);
      return true;
    default:
      break;
  }
  if (!has_reply(m.code()) && m.need_reply()) send_reply(m, lie == Lie::kNack ? 1 : 0, 8, lie);
  return true;
}

void FakeBackend::send_reply(const Received& m, uint64_t value, uint32_t size, Lie lie) {
  uint8_t payload[16] = {};
  if (m.code() == Request::kGetVringBase) {
    VringState s{m.state().index, static_cast<uint32_t>(value)};
    if (lie == Lie::kOtherRing) s.index += 1;
    memcpy(payload, &s, sizeof s);
  } else {
    memcpy(payload, &value, 8);
  }
  MessageHeader h{m.request, kVersion | kFlagReply, size};
  uint32_t send_size = size;
  switch (lie) {
    case Lie::kOtherRequest:
      h.request = m.request + 100;
      break;
    case Lie::kWrongVersion:
      h.flags = 2 | kFlagReply;
      break;
    case Lie::kNoReplyFlag:
      h.flags = kVersion;
      break;
    case Lie::kShortPayload:
      h.size = send_size = size - 4;
      break;
    case Lie::kOversized:
      h.size = 0x7FFFFFF0u;
      break;
    default:
      break;
  }
  SentChunk chunk;
  chunk.bytes.resize(sizeof h + send_size);
  memcpy(chunk.bytes.data(), &h, sizeof h);
  memcpy(chunk.bytes.data() + sizeof h, payload, send_size);
  chunk.with_fd = lie == Lie::kWithFd;
  iovec iov{chunk.bytes.data(), chunk.bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(int))] = {};
  int efd = -1;
  if (chunk.with_fd) {
    efd = eventfd(0, EFD_CLOEXEC);
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &efd, sizeof efd);
  }
  (void)!sendmsg(back_fd_, &msg, MSG_NOSIGNAL);
  if (efd >= 0) close(efd);
  sent_.push_back(std::move(chunk));
}

}  // namespace vnet::vhost::testing
