// Channel: one vhost-user connection (a unix stream socket), as the front
// end sees it. It frames messages (protocol.h), passes file descriptors as
// SCM_RIGHTS, and validates every reply before its payload is used.
//
// Protocol: strictly request/reply. call() sends a request and waits for
// its reply; request() sends one that has no reply (or, with ack, asks for
// the REPLY_ACK u64 and checks it is 0). The back end never speaks first on
// this channel (its own requests would come on a separate back-end channel,
// which this front end does not open).
//
// Device input: a reply is refused -- and the channel closed for good,
// since a stream cannot be resynchronised after a lie -- when it does not
// arrive within the timeout, names another request, lacks version 1 or the
// REPLY flag, carries a payload of any size but the one the request
// defines, or carries file descriptors (none of this front end's requests
// is answered with one; any that arrive are closed at once). error() says
// which, in words, with both values.
//
// Threading: one thread at a time (the control path of one device).
// Blocking with a bound: every wait is a poll() with the timeout.
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include <span>
#include <string>
#include <vector>

#include "vhost/protocol.h"

namespace vnet::vhost {

// One recvmsg() of at most len bytes into dst (EINTR retried); the file
// descriptors that come along (at most kMaxFdsPerRecv) are appended to
// *fds, and *truncated (when given) says whether more came than fit --
// those the kernel closed. Returns what recvmsg returned (0: the peer
// closed).
inline constexpr size_t kMaxFdsPerRecv = 16;
ssize_t recv_with_fds(int fd, void* dst, size_t len, std::vector<int>* fds, bool* truncated);
// The same, every descriptor closed at once and counted in *fds_closed.
ssize_t recv_closing_fds(int fd, void* dst, size_t len, uint64_t* fds_closed);

class Channel {
 public:
  Channel() = default;
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Connects to the back end's socket, retrying while it does not exist or
  // refuses (a back end still starting) until timeout_ms have passed.
  bool connect_unix(const std::string& path, int timeout_ms);
  // Takes an already connected stream socket (tests, fuzzing).
  void adopt(int fd);
  void close();
  bool alive() const { return fd_ >= 0; }
  // Without waiting: false (and the channel closed) when the back end hung
  // up or sent something nobody asked for.
  bool check_peer();

  // Every wait for a reply gives up after this long.
  void set_timeout_ms(int ms) { timeout_ms_ = ms; }

  // Sends request r with payload and fds; no reply expected.
  bool request(Request r, const void* payload, uint32_t size, std::span<const int> fds = {});
  // Sends request r with NEED_REPLY and checks the REPLY_ACK u64 is 0.
  bool request_ack(Request r, const void* payload, uint32_t size, std::span<const int> fds = {});
  // Sends request r and receives its reply of exactly reply_size bytes.
  bool call(Request r, const void* payload, uint32_t size, void* reply, uint32_t reply_size);

  const std::string& error() const { return error_; }
  uint64_t messages_sent() const { return sent_; }
  uint64_t replies_received() const { return received_; }
  uint64_t fds_refused() const { return fds_refused_; }

 private:
  bool send_message(Request r, uint32_t flags, const void* payload, uint32_t size,
                    std::span<const int> fds);
  bool receive_reply(Request r, void* payload, uint32_t size);
  // Reads exactly len bytes within the deadline; any file descriptors that
  // come along are closed and counted.
  bool read_exact(void* dst, uint32_t len, uint64_t deadline_ms);
  bool fail(std::string why);

  int fd_ = -1;
  int timeout_ms_ = 2000;
  std::string error_;
  uint64_t sent_ = 0;
  uint64_t received_ = 0;
  uint64_t fds_refused_ = 0;
};

}  // namespace vnet::vhost
