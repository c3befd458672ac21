// Loopback UDP for the runner: a socket bound to 127.0.0.1 and connected to
// one of QEMU's host forwards on 127.0.0.1, and deterministic echo payloads.
// Nothing here can address a host other than 127.0.0.1.
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

namespace vnetqemu {

class UdpPort {
 public:
  UdpPort() = default;
  UdpPort(const UdpPort&) = delete;
  UdpPort& operator=(const UdpPort&) = delete;
  ~UdpPort();

  bool open(uint16_t remote_port, std::string* error);
  int fd() const { return fd_; }
  bool send(const void* data, size_t len);
  // Non-blocking; false when nothing is queued.
  bool receive(std::vector<uint8_t>* out);

 private:
  int fd_ = -1;
};

// A UDP port on 127.0.0.1 that was free a moment ago (0 on failure).
uint16_t pick_free_udp_port();

// Datagram i of a run: its size and its bytes depend only on (seed, i).
struct EchoPlan {
  uint64_t seed = 1;
  uint32_t min_size = 1;
  uint32_t max_size = 1472;
  uint32_t size_of(uint64_t i) const;
  void fill(uint64_t i, std::vector<uint8_t>* out) const;
};

}  // namespace vnetqemu
