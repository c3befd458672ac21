#include "tools/vnet-qemu/link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guest/net/byte_order.h"

namespace vnetqemu {
namespace {

using guest::net::be16;
using guest::net::be32;
using guest::net::put16;
using guest::net::put32;

constexpr uint16_t kEchoPort = 7;
constexpr uint16_t kControlPort = 7070;
constexpr uint8_t kRunnerMac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
constexpr uint32_t kRunnerIp = 0x0a000202;  // 10.0.2.2
constexpr uint32_t kGuestIp = 0x0a00020f;   // 10.0.2.15
constexpr uint16_t kRunnerUdpPort = 40000;

// ---- user networking: two loopback sockets on QEMU's host forwards ----

class UserLink final : public Link {
 public:
  UserLink(uint16_t echo_port, uint16_t control_port, uint16_t tcp_echo_port)
      : echo_port_(echo_port), control_port_(control_port), tcp_echo_port_(tcp_echo_port) {}

  bool open(std::string* netdev_arg, std::string* error) override {
    if (!echo_.open(echo_port_, error) || !control_.open(control_port_, error)) return false;
    *netdev_arg = "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:" + std::to_string(tcp_echo_port_) +
                  "-:" + std::to_string(kEchoPort) +
                  ",hostfwd=udp:127.0.0.1:" + std::to_string(echo_port_) +
                  "-:" + std::to_string(kEchoPort) +
                  ",hostfwd=udp:127.0.0.1:" + std::to_string(control_port_) +
                  "-:" + std::to_string(kControlPort);
    return true;
  }
  bool send(uint16_t guest_port, const std::vector<uint8_t>& payload) override {
    return port(guest_port).send(payload.data(), payload.size());
  }
  bool receive(uint16_t guest_port, std::vector<uint8_t>* payload) override {
    return port(guest_port).receive(payload);
  }
  int fd(uint16_t guest_port) const override {
    return guest_port == kControlPort ? control_.fd() : echo_.fd();
  }
  bool replies_possible() const override { return false; }
  uint16_t tcp_echo_port() const override { return tcp_echo_port_; }

 private:
  UdpPort& port(uint16_t guest_port) { return guest_port == kControlPort ? control_ : echo_; }
  uint16_t echo_port_, control_port_, tcp_echo_port_;
  UdpPort echo_, control_;
};

// ---- socket netdev: raw Ethernet frames over loopback UDP ----

uint32_t sum16(uint32_t sum, const uint8_t* p, size_t n) {
  uint64_t s = sum;
  size_t i = 0;
  for (; i + 1 < n; i += 2) s += be16(p + i);
  if (i < n) s += uint32_t{p[i]} << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint32_t>(s);
}
uint32_t pseudo_sum(const uint8_t* ip, uint32_t udp_len) {
  uint8_t ph[12];
  memcpy(ph, ip + 12, 8);
  ph[8] = 0;
  ph[9] = 17;
  put16(ph + 10, static_cast<uint16_t>(udp_len));
  return sum16(0, ph, 12);
}

class FrameLink final : public Link {
 public:
  ~FrameLink() override {
    if (fd_ >= 0) close(fd_);
  }

  bool open(std::string* netdev_arg, std::string* error) override {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) {
      *error = std::string("socket: ") + strerror(errno);
      return false;
    }
    int buf = 4 << 20;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      *error = std::string("bind 127.0.0.1: ") + strerror(errno);
      return false;
    }
    uint16_t mine = ntohs(a.sin_port);
    qemu_port_ = pick_free_udp_port();
    if (qemu_port_ == 0 || qemu_port_ == mine) {
      *error = "no free UDP port on 127.0.0.1";
      return false;
    }
    sockaddr_in q{};
    q.sin_family = AF_INET;
    q.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    q.sin_port = htons(qemu_port_);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&q), sizeof(q)) != 0) {
      *error = std::string("connect 127.0.0.1: ") + strerror(errno);
      return false;
    }
    *netdev_arg = "socket,id=n0,udp=127.0.0.1:" + std::to_string(mine) +
                  ",localaddr=127.0.0.1:" + std::to_string(qemu_port_);
    return true;
  }

  void set_guest_mac(const uint8_t mac[6]) override { memcpy(guest_mac_, mac, 6); }

  bool send(uint16_t guest_port, const std::vector<uint8_t>& payload) override {
    return send_to(guest_mac_, -1, guest_port, payload);
  }

  bool send_to(const uint8_t dst_mac[6], int tci, uint16_t guest_port,
               const std::vector<uint8_t>& payload) override {
    const size_t l2 = tci >= 0 ? 18 : 14;
    std::vector<uint8_t> f(l2 + 20 + 8 + payload.size());
    memcpy(f.data(), dst_mac, 6);
    memcpy(f.data() + 6, kRunnerMac, 6);
    if (tci >= 0) {
      put16(f.data() + 12, 0x8100);
      put16(f.data() + 14, static_cast<uint16_t>(tci));
    }
    put16(f.data() + l2 - 2, 0x0800);
    uint8_t* ip = f.data() + l2;
    ip[0] = 0x45;
    put16(ip + 2, static_cast<uint16_t>(20 + 8 + payload.size()));
    put16(ip + 4, ip_id_++);
    ip[8] = 64;
    ip[9] = 17;
    put32(ip + 12, kRunnerIp);
    put32(ip + 16, kGuestIp);
    put16(ip + 10, static_cast<uint16_t>(~sum16(0, ip, 20)));
    uint8_t* udp = ip + 20;
    put16(udp, port_for(guest_port));
    put16(udp + 2, guest_port);
    put16(udp + 4, static_cast<uint16_t>(8 + payload.size()));
    memcpy(udp + 8, payload.data(), payload.size());
    uint16_t c = static_cast<uint16_t>(
        ~sum16(pseudo_sum(ip, static_cast<uint32_t>(8 + payload.size())), udp, 8 + payload.size()));
    put16(udp + 6, c == 0 ? 0xffff : c);
    return send_frame(f);
  }

  bool send_frame(const std::vector<uint8_t>& frame) override {
    for (;;) {
      ssize_t n = ::send(fd_, frame.data(), frame.size(), 0);
      if (n == static_cast<ssize_t>(frame.size())) return true;
      if (n < 0 && (errno == EINTR || errno == ECONNREFUSED)) continue;
      return false;
    }
  }

  bool receive(uint16_t guest_port, std::vector<uint8_t>* payload) override {
    uint8_t buf[65536];
    for (;;) {
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n < 0) {
        if (errno == EINTR || errno == ECONNREFUSED) continue;
        return false;
      }
      if (parse_reply(buf, static_cast<size_t>(n), guest_port, payload)) return true;
    }
  }

  int fd(uint16_t) const override { return fd_; }
  bool replies_possible() const override { return true; }

 private:
  static uint16_t port_for(uint16_t guest_port) {
    return static_cast<uint16_t>(kRunnerUdpPort + (guest_port == kControlPort ? 1 : 0));
  }

  // A gratuitous ARP request of the guest's: sender and target IP are its
  // own (Responder::build_gratuitous_arp).
  void note_arp(const uint8_t* arp, size_t n) {
    if (n < 28 || be16(arp) != 1 || be16(arp + 2) != 0x0800 || be16(arp + 6) != 1) return;
    if (be32(arp + 14) != kGuestIp || be32(arp + 24) != kGuestIp) return;
    ++gratuitous_arps_;
    memcpy(announced_mac_, arp + 8, 6);
  }

  // A UDP reply from the guest's service guest_port to us, checked the way
  // a real host's stack would check it; untagged or 802.1Q-tagged.
  bool parse_reply(const uint8_t* f, size_t n, uint16_t guest_port, std::vector<uint8_t>* out) {
    const bool tagged = n >= 18 && be16(f + 12) == 0x8100;
    const size_t l2 = tagged ? 18 : 14;
    if (n < l2 || be16(f + l2 - 2) != 0x0800) {
      if (n >= l2 && be16(f + l2 - 2) == 0x0806) {  // ARP announcements: not replies
        note_arp(f + l2, n - l2);
        return false;
      }
      if (n >= l2 && be16(f + l2 - 2) == 0x8035) return false;  // QEMU's own RARP announcement
      ++rejected_;
      return false;
    }
    if (memcmp(f, kRunnerMac, 6) != 0) {
      ++rejected_;
      return false;
    }
    const uint8_t* ip = f + l2;
    if (n < l2 + 20 || ip[0] != 0x45 || ip[9] != 17) {
      ++rejected_;
      return false;
    }
    uint32_t total = be16(ip + 2);
    if (total < 28 || l2 + total > n || sum16(0, ip, 20) != 0xffff || be32(ip + 12) != kGuestIp ||
        be32(ip + 16) != kRunnerIp) {
      ++rejected_;
      return false;
    }
    const uint8_t* udp = ip + 20;
    uint32_t udp_len = be16(udp + 4);
    if (udp_len < 8 || udp_len > total - 20) {
      ++rejected_;
      return false;
    }
    if (be16(udp + 6) != 0 && sum16(pseudo_sum(ip, udp_len), udp, udp_len) != 0xffff) {
      ++rejected_;
      return false;
    }
    if (be16(udp) != guest_port || be16(udp + 2) != port_for(guest_port)) {
      ++rejected_;
      return false;
    }
    out->assign(udp + 8, udp + udp_len);
    memcpy(last_reply_.src_mac, f + 6, 6);
    last_reply_.tagged = tagged;
    last_reply_.tci = tagged ? be16(f + 14) : 0;
    return true;
  }

  int fd_ = -1;
  uint16_t qemu_port_ = 0;
  uint8_t guest_mac_[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  uint16_t ip_id_ = 1;
};

// ---- tap in the run's namespace: the kernel's UDP sockets to 10.0.2.15 ----

class TapLink final : public Link {
 public:
  TapLink(std::string ifname, uint32_t queues, uint32_t flows, bool vnet_hdr)
      : ifname_(std::move(ifname)), queues_(queues), vnet_hdr_(vnet_hdr), echo_(flows) {}
  ~TapLink() override {
    if (epoll_ >= 0) close(epoll_);
  }

  bool open(std::string* netdev_arg, std::string* error) override {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) {
      *error = std::string("epoll_create1: ") + strerror(errno);
      return false;
    }
    for (UdpPort& p : echo_) {
      if (!p.open(kEchoPort, error, Peer::kGuestInNamespace)) return false;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = p.fd();
      if (epoll_ctl(epoll_, EPOLL_CTL_ADD, p.fd(), &ev) != 0) {
        *error = std::string("epoll_ctl: ") + strerror(errno);
        return false;
      }
    }
    if (!control_.open(kControlPort, error, Peer::kGuestInNamespace)) return false;
    *netdev_arg = "tap,id=n0,ifname=" + ifname_ + ",script=no,downscript=no,vhost=off" +
                  (queues_ > 1 ? ",queues=" + std::to_string(queues_) : "") +
                  ",vnet_hdr=" + (vnet_hdr_ ? "on" : "off");
    return true;
  }
  // Echo datagrams rotate over the flows (source ports), one per send.
  bool send(uint16_t guest_port, const std::vector<uint8_t>& payload) override {
    if (guest_port == kControlPort) return control_.send(payload.data(), payload.size());
    UdpPort& p = echo_[next_++ % echo_.size()];
    return p.send(payload.data(), payload.size());
  }
  bool receive(uint16_t guest_port, std::vector<uint8_t>* payload) override {
    if (guest_port == kControlPort) return control_.receive(payload);
    for (size_t i = 0; i < echo_.size(); ++i) {
      UdpPort& p = echo_[(recv_next_ + i) % echo_.size()];
      if (p.receive(payload)) {
        recv_next_ = (recv_next_ + i + 1) % echo_.size();
        return true;
      }
    }
    return false;
  }
  // The echo flows' epoll descriptor is readable when any flow is.
  int fd(uint16_t guest_port) const override {
    return guest_port == kControlPort ? control_.fd() : epoll_;
  }
  bool replies_possible() const override { return true; }
  uint16_t tcp_echo_port() const override { return kEchoPort; }
  Peer tcp_echo_peer() const override { return Peer::kGuestInNamespace; }

 private:
  std::string ifname_;
  uint32_t queues_;
  bool vnet_hdr_;
  std::vector<UdpPort> echo_;
  UdpPort control_;
  int epoll_ = -1;
  size_t next_ = 0;
  size_t recv_next_ = 0;
};

}  // namespace

std::unique_ptr<Link> make_tap_link(const std::string& ifname, uint32_t queues, uint32_t udp_flows,
                                    bool vnet_hdr) {
  return std::make_unique<TapLink>(ifname, queues, udp_flows == 0 ? 1 : udp_flows, vnet_hdr);
}

std::unique_ptr<Link> make_user_link(uint16_t echo_port, uint16_t control_port,
                                     uint16_t tcp_echo_port) {
  return std::make_unique<UserLink>(echo_port, control_port, tcp_echo_port);
}
std::unique_ptr<Link> make_frame_link() {
  return std::make_unique<FrameLink>();
}

}  // namespace vnetqemu
