// fuzz_vhost_reply: the vhost-user back end is the attacker (issue 17).
// The input is everything a back end sends on the vhost-user socket: the
// front end's Channel and FrontEnd, and the driver attached through the
// register window (VhostUserDevice, VhostUserPlatform, MmioTransports,
// VirtioNet) read it as replies to what they ask.
//
//   input = mode:u8  { flags:u8 len:u8 bytes[len] }*
//
// mode: fuzz/harness/vhost_reply_world.h (packed rings, two queue pairs,
// the control queue, the back end's side kept open, extra control
// commands, a poll_device). Each chunk is one sendmsg() from the back
// end's side of a socketpair, written before the front end says anything
// (a reply that comes too early is the same bytes on a stream); flags bit
// 0 attaches an eventfd as SCM_RIGHTS (at most 16 per input). Then the
// back end's side is shut for writing -- the front end reads end-of-file
// where the stream ends -- unless mode bit 3 keeps it open, when the
// front end waits its reply timeout (5 ms) instead.
//
// Per input: a fresh socketpair, FrontEnd and driver; the shared memory
// is kept between inputs while the driver leaves it empty. Oracles: ASan
// and UBSan; no file descriptor leaks (the open fds are counted before and
// after every input: an fd the front end received and kept, or an eventfd
// or socket never closed, is a finding); no hang (libFuzzer's -timeout;
// every wait is bounded by the reply timeout).
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>

#include "fuzz/harness/open_fds.h"
#include "fuzz/harness/vhost_reply_world.h"

using vnet::fuzz::count_open_fds;

namespace {

using namespace vnet;
namespace vr = vnet::fuzz::vhost_reply;

// The reply timeout: 5 ms where the back end's side stays open (each
// input whose stream runs dry pays it once), 50 ms where it is shut (the
// front end reads end-of-file at once; the timeout only guards against a
// deadline that Channel measures in whole milliseconds expiring between
// the header and the payload of a reply that is already there, which
// would make a run depend on the clock).
constexpr int kReplyTimeoutOpenMs = 5;
constexpr int kReplyTimeoutShutMs = 50;
constexpr int kMaxFds = 16;

// Sends one chunk; false when the socket is full (the rest is dropped).
bool send_chunk(int fd, const uint8_t* p, size_t len, bool with_fd) {
  iovec iov{const_cast<uint8_t*>(p), len};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(int))] = {};
  int efd = -1;
  if (with_fd) {
    efd = eventfd(0, EFD_CLOEXEC);
    if (efd >= 0) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      memcpy(CMSG_DATA(c), &efd, sizeof efd);
    }
  }
  const ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (efd >= 0) close(efd);
  return n == static_cast<ssize_t>(len);
}

std::unique_ptr<vhost::SharedMemory> g_memory;
const bool g_verbose = getenv("VNET_FUZZ_VERBOSE") != nullptr;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  if (!g_memory || g_memory->bytes_in_use() != 0) {
    g_memory.reset();
    g_memory = std::make_unique<vhost::SharedMemory>();
    if (!g_memory->create(vr::kMemoryBytes)) abort();
  }
  const int fds_before = count_open_fds();
  const uint8_t m = data[0];

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) abort();
  const int back = sv[1];
  // The back end's answers, chunk by chunk; bytes run together unless an
  // fd separates them.
  size_t i = 1;
  int fds_sent = 0;
  uint8_t pending[4096];
  size_t pending_len = 0;
  bool full = false;
  while (i + 2 <= size && !full) {
    const bool with_fd = (data[i] & 1) != 0 && fds_sent < kMaxFds;
    size_t len = data[i + 1];
    i += 2;
    if (len > size - i) len = size - i;
    if (with_fd) {
      if (pending_len != 0 && !send_chunk(back, pending, pending_len, false)) full = true;
      pending_len = 0;
      if (!full && !send_chunk(back, data + i, len, true)) full = true;
      ++fds_sent;
    } else {
      if (pending_len + len > sizeof pending) {
        if (!send_chunk(back, pending, pending_len, false)) full = true;
        pending_len = 0;
      }
      memcpy(pending + pending_len, data + i, len);
      pending_len += len;
    }
    i += len;
  }
  if (!full && pending_len != 0) send_chunk(back, pending, pending_len, false);
  if ((m & vr::mode::kKeepOpen) == 0) shutdown(back, SHUT_WR);

  {
    vhost::FrontEnd front;
    front.channel().set_timeout_ms((m & vr::mode::kKeepOpen) != 0 ? kReplyTimeoutOpenMs
                                                                  : kReplyTimeoutShutMs);
    const bool connected = front.connect_fd(sv[0]);
    vr::Outcome o;
    if (connected) o = vr::run(front, *g_memory, m);
    if (g_verbose)
      fprintf(stderr, "vnet-fuzz: mode 0x%02x connected %d probed %d attach %s; %s\n", m, connected,
              o.probed, connected ? attach_error_name(o.attach) : "-",
              front.error().empty() ? "no error" : front.error().c_str());
  }             // the front end closes its side
  close(back);  // and with it whatever the front end sent (memfd, eventfds)

  const int fds_after = count_open_fds();
  if (fds_before >= 0 && fds_after != fds_before) {
    fprintf(stderr,
            "vnet-fuzz: FINDING fd_leak: %d file descriptors open before the input, %d after\n",
            fds_before, fds_after);
    abort();
  }
  return 0;
}
