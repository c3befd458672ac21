#include "tools/vnet-qemu/echo_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

namespace vnetqemu {
namespace {

constexpr uint32_t kLoopback = INADDR_LOOPBACK;  // 127.0.0.1
constexpr uint32_t kGuestIp = 0x0a00020f;        // 10.0.2.15, inside the run's namespace only

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(kLoopback);
  return a;
}

// The local end (any port) and the remote end of a socket towards peer.
sockaddr_in local_end(Peer peer) {
  sockaddr_in a = loopback(0);
  if (peer == Peer::kGuestInNamespace) a.sin_addr.s_addr = htonl(INADDR_ANY);
  return a;
}
sockaddr_in remote_end(Peer peer, uint16_t port) {
  sockaddr_in a = loopback(port);
  if (peer == Peer::kGuestInNamespace) a.sin_addr.s_addr = htonl(kGuestIp);
  return a;
}
const char* peer_name(Peer peer) {
  return peer == Peer::kGuestInNamespace ? "10.0.2.15" : "127.0.0.1";
}

uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

UdpPort::~UdpPort() {
  if (fd_ >= 0) close(fd_);
}

bool UdpPort::open(uint16_t remote_port, std::string* error, Peer peer) {
  fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) {
    *error = std::string("socket: ") + strerror(errno);
    return false;
  }
  int buf = 1 << 20;
  setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
  sockaddr_in local = local_end(peer);
  if (bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
    *error = std::string("bind: ") + strerror(errno);
    return false;
  }
  sockaddr_in remote = remote_end(peer, remote_port);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&remote), sizeof(remote)) != 0) {
    *error = std::string("connect ") + peer_name(peer) + ": " + strerror(errno);
    return false;
  }
  return true;
}

bool UdpPort::send(const void* data, size_t len) {
  for (;;) {
    ssize_t n = ::send(fd_, data, len, 0);
    if (n == static_cast<ssize_t>(len)) return true;
    if (n < 0 && errno == EINTR) continue;
    // ECONNREFUSED: an ICMP error from an earlier datagram; try once more.
    if (n < 0 && errno == ECONNREFUSED) continue;
    return false;
  }
}

bool UdpPort::receive(std::vector<uint8_t>* out) {
  out->resize(65536);
  for (;;) {
    ssize_t n = recv(fd_, out->data(), out->size(), 0);
    if (n >= 0) {
      out->resize(static_cast<size_t>(n));
      return true;
    }
    if (errno == EINTR || errno == ECONNREFUSED) continue;
    out->clear();
    return false;
  }
}

bool TcpStream::connect(uint16_t remote_port, std::string* error, Peer peer) {
  close();
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    *error = std::string("socket: ") + strerror(errno);
    return false;
  }
  timeval tv{10, 0};
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in local = local_end(peer);
  if (bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
    *error = std::string("bind: ") + strerror(errno);
    return false;
  }
  sockaddr_in remote = remote_end(peer, remote_port);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&remote), sizeof(remote)) != 0) {
    *error = std::string("connect ") + peer_name(peer) + ":" + std::to_string(remote_port) + ": " +
             strerror(errno);
    return false;
  }
  return true;
}

bool TcpStream::send_all(const uint8_t* data, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = ::send(fd_, data + done, len - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
  return true;
}

long TcpStream::receive_some(std::vector<uint8_t>* out, size_t max) {
  size_t at = out->size();
  out->resize(at + max);
  for (;;) {
    ssize_t n = recv(fd_, out->data() + at, max, MSG_DONTWAIT);
    if (n > 0) {
      out->resize(at + static_cast<size_t>(n));
      return n;
    }
    out->resize(at);
    if (n == 0) {
      eof_ = true;
      return -1;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return -1;
  }
}

void TcpStream::shutdown_write() {
  if (fd_ >= 0) shutdown(fd_, SHUT_WR);
}

void TcpStream::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  eof_ = false;
}

namespace {

// A port on 127.0.0.1 the kernel considers free right now (another process
// could still take it before QEMU binds it).
uint16_t pick_free_port(int type) {
  int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in a = loopback(0);
  socklen_t len = sizeof(a);
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

}  // namespace

uint16_t pick_free_tcp_port() {
  return pick_free_port(SOCK_STREAM);
}
uint16_t pick_free_udp_port() {
  return pick_free_port(SOCK_DGRAM);
}

uint32_t EchoPlan::size_of(uint64_t i) const {
  // The first two datagrams are the extremes; the rest are spread over the
  // whole range.
  if (i == 0) return min_size;
  if (i == 1) return max_size;
  uint32_t span = max_size - min_size + 1;
  return min_size + static_cast<uint32_t>(splitmix(seed * 0x100000001b3ull + i) % span);
}

void EchoPlan::fill(uint64_t i, std::vector<uint8_t>* out) const {
  out->resize(size_of(i));
  uint64_t state = splitmix(seed ^ (i << 20) ^ 0x5eed);
  for (size_t k = 0; k < out->size(); ++k) {
    if (k % 8 == 0) state = splitmix(state);
    (*out)[k] = static_cast<uint8_t>(state >> (8 * (k % 8)));
  }
}

}  // namespace vnetqemu
