// Loopback sockets for the runner: UDP and TCP sockets connected to one of
// QEMU's host forwards on 127.0.0.1, and deterministic echo payloads.
// Nothing here can address a host other than 127.0.0.1 -- or, with --net
// tap, the guest's own address 10.0.2.15 behind the tap device inside the
// private network namespace the runner created for the run (netns.h), which
// has no route anywhere else.
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

namespace vnetqemu {

// Where a socket goes: a QEMU forward on 127.0.0.1, or the guest itself
// (10.0.2.15) inside the run's own network namespace (--net tap).
enum class Peer { kLoopback, kGuestInNamespace };

class UdpPort {
 public:
  UdpPort() = default;
  UdpPort(const UdpPort&) = delete;
  UdpPort& operator=(const UdpPort&) = delete;
  ~UdpPort();

  bool open(uint16_t remote_port, std::string* error, Peer peer = Peer::kLoopback);
  int fd() const { return fd_; }
  bool send(const void* data, size_t len);
  // Non-blocking; false when nothing is queued.
  bool receive(std::vector<uint8_t>* out);

 private:
  int fd_ = -1;
};

// A TCP connection to 127.0.0.1:remote_port (a hostfwd=tcp forward).
// Nagle is off, so every message leaves at once; reads never block.
class TcpStream {
 public:
  TcpStream() = default;
  TcpStream(const TcpStream&) = delete;
  TcpStream& operator=(const TcpStream&) = delete;
  ~TcpStream() { close(); }

  bool connect(uint16_t remote_port, std::string* error, Peer peer = Peer::kLoopback);
  int fd() const { return fd_; }
  // Blocking write of all bytes (bounded by a 10 s send timeout).
  bool send_all(const uint8_t* data, size_t len);
  // Appends what is queued, up to max bytes. Returns the bytes read, 0 when
  // nothing is queued, -1 at end of stream or on error (eof() tells).
  long receive_some(std::vector<uint8_t>* out, size_t max);
  bool eof() const { return eof_; }
  // No more data from us (FIN); the guest answers with its own FIN.
  void shutdown_write();
  void close();

 private:
  int fd_ = -1;
  bool eof_ = false;
};

// A UDP or TCP port on 127.0.0.1 that was free a moment ago (0 on failure).
uint16_t pick_free_udp_port();
uint16_t pick_free_tcp_port();

// Datagram i of a run: its size and its bytes depend only on (seed, i).
struct EchoPlan {
  uint64_t seed = 1;
  uint32_t min_size = 1;
  uint32_t max_size = 1472;
  uint32_t size_of(uint64_t i) const;
  void fill(uint64_t i, std::vector<uint8_t>* out) const;
};

}  // namespace vnetqemu
