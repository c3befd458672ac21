#include "vhost/channel.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <vector>

namespace vnet::vhost {
namespace {

uint64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

std::string hex(uint32_t v) {
  char b[16];
  snprintf(b, sizeof b, "0x%x", v);
  return b;
}

}  // namespace

const char* request_name(Request r) {
  switch (r) {
    case Request::kGetFeatures:
      return "GET_FEATURES";
    case Request::kSetFeatures:
      return "SET_FEATURES";
    case Request::kSetOwner:
      return "SET_OWNER";
    case Request::kResetOwner:
      return "RESET_OWNER";
    case Request::kSetMemTable:
      return "SET_MEM_TABLE";
    case Request::kSetVringNum:
      return "SET_VRING_NUM";
    case Request::kSetVringAddr:
      return "SET_VRING_ADDR";
    case Request::kSetVringBase:
      return "SET_VRING_BASE";
    case Request::kGetVringBase:
      return "GET_VRING_BASE";
    case Request::kSetVringKick:
      return "SET_VRING_KICK";
    case Request::kSetVringCall:
      return "SET_VRING_CALL";
    case Request::kGetProtocolFeatures:
      return "GET_PROTOCOL_FEATURES";
    case Request::kSetProtocolFeatures:
      return "SET_PROTOCOL_FEATURES";
    case Request::kGetQueueNum:
      return "GET_QUEUE_NUM";
    case Request::kSetVringEnable:
      return "SET_VRING_ENABLE";
    case Request::kGetConfig:
      return "GET_CONFIG";
    case Request::kSetLogBase:
      return "SET_LOG_BASE";
    case Request::kSetLogFd:
      return "SET_LOG_FD";
    case Request::kSetVringErr:
      return "SET_VRING_ERR";
    case Request::kSendRarp:
      return "SEND_RARP";
    case Request::kNetSetMtu:
      return "NET_SET_MTU";
    case Request::kSetBackendReqFd:
      return "SET_BACKEND_REQ_FD";
    case Request::kSetConfig:
      return "SET_CONFIG";
    case Request::kGetMaxMemSlots:
      return "GET_MAX_MEM_SLOTS";
  }
  return "?";
}

ssize_t recv_with_fds(int fd, void* dst, size_t len, std::vector<int>* fds, bool* truncated) {
  for (;;) {
    iovec iov{dst, len};
    alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(int) * kMaxFdsPerRecv)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < nfds; ++i) {
        int received;
        memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof received);
        fds->push_back(received);
      }
    }
    if (truncated != nullptr) *truncated = (msg.msg_flags & MSG_CTRUNC) != 0;
    return n;
  }
}

ssize_t recv_closing_fds(int fd, void* dst, size_t len, uint64_t* fds_closed) {
  std::vector<int> fds;
  const ssize_t n = recv_with_fds(fd, dst, len, &fds, nullptr);
  for (int f : fds) ::close(f);
  *fds_closed += fds.size();
  return n;
}

Channel::~Channel() {
  close();
}

void Channel::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void Channel::adopt(int fd) {
  close();
  fd_ = fd;
  error_.clear();
}

bool Channel::fail(std::string why) {
  if (error_.empty()) error_ = std::move(why);
  close();
  return false;
}

bool Channel::connect_unix(const std::string& path, int timeout_ms) {
  close();
  error_.clear();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return fail("socket path too long: " + path);
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const uint64_t deadline = now_ms() + static_cast<uint64_t>(timeout_ms);
  int last_errno = 0;
  do {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(std::string("socket(): ") + strerror(errno));
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
      fd_ = fd;
      return true;
    }
    last_errno = errno;
    ::close(fd);
    if (last_errno != ENOENT && last_errno != ECONNREFUSED) break;
    usleep(20000);
  } while (now_ms() < deadline);
  return fail("cannot connect to " + path + ": " + strerror(last_errno));
}

bool Channel::send_message(Request r, uint32_t flags, const void* payload, uint32_t size,
                           std::span<const int> fds) {
  if (fd_ < 0) return fail(std::string("channel closed before ") + request_name(r));
  error_.clear();  // a refusal earlier (request_ack) must not hide what comes next
  MessageHeader h{static_cast<uint32_t>(r), kVersion | flags, size};
  iovec iov[2] = {{&h, sizeof h}, {const_cast<void*>(payload), size}};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = size != 0 ? 2 : 1;
  std::vector<uint8_t> control;
  if (!fds.empty()) {
    control.assign(CMSG_SPACE(sizeof(int) * fds.size()), 0);
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  const size_t total = sizeof h + size;
  ssize_t n;
  do {
    n = sendmsg(fd_, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return fail(std::string(request_name(r)) + ": send failed: " + strerror(errno));
  if (static_cast<size_t>(n) != total) {
    // A stream socket may take part of a message; the rest goes without fds.
    const uint8_t* rest_h = reinterpret_cast<const uint8_t*>(&h);
    size_t done = static_cast<size_t>(n);
    while (done < total) {
      const uint8_t* src = done < sizeof h
                               ? rest_h + done
                               : static_cast<const uint8_t*>(payload) + (done - sizeof h);
      const size_t len = done < sizeof h ? sizeof h - done : total - done;
      const ssize_t m = ::send(fd_, src, len, MSG_NOSIGNAL);
      if (m < 0 && errno == EINTR) continue;
      if (m <= 0) return fail(std::string(request_name(r)) + ": send failed: " + strerror(errno));
      done += static_cast<size_t>(m);
    }
  }
  ++sent_;
  return true;
}

bool Channel::read_exact(void* dst, uint32_t len, uint64_t deadline_ms) {
  uint8_t* out = static_cast<uint8_t*>(dst);
  uint32_t got = 0;
  while (got < len) {
    // Whatever is already there is taken, however late: the deadline only
    // bounds the wait for more.
    const uint64_t now = now_ms();
    const int wait = now >= deadline_ms ? 0 : static_cast<int>(deadline_ms - now);
    pollfd p{fd_, POLLIN, 0};
    const int pr = poll(&p, 1, wait);
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) return false;
    const ssize_t n = recv_closing_fds(fd_, out + got, len - got, &fds_refused_);
    if (n <= 0) return false;  // closed by the back end, or an error
    got += static_cast<uint32_t>(n);
  }
  return true;
}

bool Channel::receive_reply(Request r, void* payload, uint32_t size) {
  const char* name = request_name(r);
  const uint64_t refused_before = fds_refused_;
  const uint64_t deadline = now_ms() + static_cast<uint64_t>(timeout_ms_);
  MessageHeader h{};
  if (!read_exact(&h, sizeof h, deadline)) {
    return fail(std::string("no reply to ") + name + " within " + std::to_string(timeout_ms_) +
                " ms (or the back end closed the connection)");
  }
  if (h.request != static_cast<uint32_t>(r))
    return fail(std::string("reply to ") + name + " names request " + std::to_string(h.request));
  if ((h.flags & kVersionMask) != kVersion)
    return fail(std::string("reply to ") + name + " has version " +
                std::to_string(h.flags & kVersionMask) + " (flags " + hex(h.flags) + "), not 1");
  if ((h.flags & kFlagReply) == 0)
    return fail(std::string("reply to ") + name + " lacks the REPLY flag (flags " + hex(h.flags) +
                ")");
  if (h.size != size)
    return fail(std::string("reply to ") + name + " has a " + std::to_string(h.size) +
                "-byte payload, the request defines " + std::to_string(size));
  if (size != 0 && !read_exact(payload, size, deadline))
    return fail(std::string("reply to ") + name + " cut short");
  if (fds_refused_ != refused_before)
    return fail(std::string("reply to ") + name + " carried " +
                std::to_string(fds_refused_ - refused_before) + " file descriptor(s)");
  ++received_;
  return true;
}

bool Channel::check_peer() {
  if (fd_ < 0) return false;
  pollfd p{fd_, POLLIN | POLLRDHUP, 0};
  // The back end never speaks first (channel.h): anything readable, or a
  // hang-up, means the connection is over.
  if (poll(&p, 1, 0) > 0) return fail("the back end closed the connection (or spoke unasked)");
  return true;
}

bool Channel::request(Request r, const void* payload, uint32_t size, std::span<const int> fds) {
  return send_message(r, 0, payload, size, fds);
}

bool Channel::request_ack(Request r, const void* payload, uint32_t size, std::span<const int> fds) {
  if (!send_message(r, kFlagNeedReply, payload, size, fds)) return false;
  uint64_t ack = 0;
  if (!receive_reply(r, &ack, sizeof ack)) return false;
  if (ack != 0) {
    error_ = std::string("the back end refused ") + request_name(r) + " (ack " +
             std::to_string(ack) + ")";
    return false;  // a refusal is an answer: the channel stays usable
  }
  return true;
}

bool Channel::call(Request r, const void* payload, uint32_t size, void* reply,
                   uint32_t reply_size) {
  if (!send_message(r, 0, payload, size, {})) return false;
  return receive_reply(r, reply, reply_size);
}

}  // namespace vnet::vhost
