// The vhost-user back end's world as fuzz_vhost_backend drives it
// (fuzz/targets/fuzz_vhost_backend.cc), shared with the tool that writes
// its seeds (fuzz/tools/make_vhost_backend_seeds.cc, which builds inputs
// with InputBuilder and runs each through run() to check that it does what
// its name says). The FRONT END is the attacker here: the input is
// everything a front end (QEMU) controls -- the bytes on the vhost-user
// socket, the file descriptors that travel with them, the memory table,
// the ring addresses and sizes, and the contents of the guest memory the
// mock device walks.
//
//   input = config:u8 { op }*
//
//   config   bit 0 the device offers RING_PACKED (bit 34), bit 1 IN_ORDER
//            (batches of 2), bit 2 mergeable rx buffers, bit 3 offloads;
//            0 is the default mock::DeviceConfig{}
//   op       kind:u8 (kind % 7), then:
//     0 msg    code:u8 [code == 0xFF: request:u32] flags:u8 size:u8
//              [size == 0xFF: size:u32] nfds:u8 fd:u8 * (nfds % 32)
//              len:u16 payload[len] -- one message, one sendmsg(): header
//              {request, flags, size} + payload, the fds as SCM_RIGHTS.
//              size: 0 the payload's length, 1..0x7F that much more (the
//              stream ends or the next message's bytes are taken),
//              0x80..0xFE (size - 0x7F) less (the rest is read as the next
//              header), 0xFF the u32 that follows (oversize announcements)
//     1 raw    nfds:u8 fd:u8 * (nfds % 32) len:u16 bytes[len] -- one
//              sendmsg() of raw bytes (framing: split headers, several
//              messages at once, fds on any byte)
//     2 poke   mem:u8 off:u32 len:u16 bytes[len] -- guest memory: pwrite()
//              into memfd (mem % 7), clipped to its size (rings, buffers)
//     3 kick   which:u8 -- the front end kicks: 8 bytes written to the
//              harness's end of kickable fd (which % n) (eventfds, pipes
//              whose read end was sent)
//     4 rx     len:u16 n:u8 bytes[n] -- a frame of (len % 9000) + 1 bytes
//              (bytes repeated; zeros when n is 0) for inject_rx()
//     5 tx     the device's time passes: tick() and process_tx()
//     6 shrink mem:u8 size:u32 -- ftruncate() memfd (mem % 7) to size %
//              (its size + 1): a front end shrinking a file the back end
//              may have mapped. The sealed memfds refuse it (EPERM); the
//              unsealed one shrinks -- the back end must never have mapped
//              it (run()'s allow_shrink: always on in the target)
//   fd kind (% 10): 0 eventfd (kickable), 1..6 memfd 0 B, 4 KiB, 4 KiB +
//            100, 64 KiB, 1 MiB, a second 64 KiB file, each sealed at its
//            size (F_SEAL_SHRINK | F_SEAL_GROW, as QEMU's memfd backend
//            seals; one file per kind and input, fresh and zeroed; every
//            reference sends it again), 7 the read end of a pipe
//            (kickable: the harness keeps the write end), 8 the write end
//            of a pipe (the harness keeps the read end and never reads
//            it), 9 a 64 KiB memfd NOT sealed (the back end must refuse it)
//   integers little-endian; an op cut short by the end of the input is
//   dropped.
//
// Messages (msg and raw ops) are all written first, in order; then the
// front end's side is shut for writing (the session reads end-of-file
// where the stream ends: nothing waits) and the session runs like
// vnet-vhost-device's event loop: handle_message() until it returns false
// (at most kMaxMessages), and after each call the poke/kick/rx/tx/shrink
// ops that came after that many msg/raw ops in the input, then one step
// of the loop: on_kick() for every started ring whose kick fd polls
// readable, and while the device runs (receiveq1 and transmitq1 started
// and enabled) tick(), process_tx() and inject_rx() of a 60-byte
// broadcast frame. Replies are read and dropped after every step.
//
// Header-only: the fuzz target and the seed tool compile it with their own
// flags.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include "mock_device/mock_device.h"
#include "vhost/backend/backend_session.h"
#include "vhost/backend/mock_device_backend.h"
#include "vhost/protocol.h"

namespace vnet::fuzz::vhost_backend {

namespace config {
inline constexpr uint8_t kPacked = 1u << 0;
inline constexpr uint8_t kInOrder = 1u << 1;
inline constexpr uint8_t kMergeable = 1u << 2;
inline constexpr uint8_t kOffloads = 1u << 3;
}  // namespace config

enum class OpKind : uint8_t { kMsg, kRaw, kPoke, kKick, kRx, kTx, kShrink };
inline constexpr uint8_t kOpKinds = 7;

enum class Fd : uint8_t {
  kEventfd,
  kMem0,        // 0 bytes
  kMem4k,       // 4 KiB
  kMemOdd,      // 4 KiB + 100
  kMem64k,      // 64 KiB
  kMem1m,       // 1 MiB
  kMem64kB,     // a second 64 KiB file
  kPipeRead,    // the read end goes; the harness keeps the write end
  kPipeWrite,   // the write end goes; the harness keeps the read end
  kMemUnsealed  // 64 KiB, not sealed: the front end can shrink it
};
inline constexpr uint8_t kFdKinds = 10;
inline constexpr size_t kMemfds = 7;
inline constexpr size_t kUnsealedMemfd = 6;
inline constexpr std::array<uint64_t, kMemfds> kMemfdSize = {0,       4096,  4196, 65536,
                                                             1 << 20, 65536, 65536};
// Memfd index of an fd kind (kMem0..kMem64kB), and back.
inline constexpr size_t mem_index(Fd f) {
  return size_t(f) - size_t(Fd::kMem0);
}
inline constexpr Fd mem_kind(size_t i) {
  return Fd(uint8_t(Fd::kMem0) + i);
}

// Bounds per input: what one input may cost.
inline constexpr size_t kMaxOps = 256;
inline constexpr size_t kMaxMessages = 512;    // handle_message() calls
inline constexpr size_t kMaxFdsPerChunk = 20;  // the session takes 16: more is MSG_CTRUNC
inline constexpr size_t kMaxFdsPerInput = 64;
inline constexpr size_t kMaxFrame = 9000;

// The frame each step of a running device delivers: broadcast, ARP.
inline std::vector<uint8_t> step_frame() {
  std::vector<uint8_t> f(60, 0);
  for (int i = 0; i < 6; ++i) f[size_t(i)] = 0xFF;
  const uint8_t src[6] = {0x52, 0x54, 0x00, 0xAA, 0xBB, 0xCC};
  memcpy(f.data() + 6, src, 6);
  f[12] = 0x08;
  f[13] = 0x06;
  return f;
}

inline mock::DeviceConfig device_config(uint8_t c) {
  mock::DeviceConfig d;
  d.offer_ring_packed = (c & config::kPacked) != 0;
  if ((c & config::kInOrder) != 0) {
    d.offer_in_order = true;
    d.in_order_batch = 2;
  }
  d.rx_mergeable = (c & config::kMergeable) != 0;
  d.offer_offloads = (c & config::kOffloads) != 0;
  return d;
}

// ---------------------------------------------------------------------------
// Writing inputs (the seed tool; tests).

class InputBuilder {
 public:
  explicit InputBuilder(uint8_t config_byte) { b_.push_back(config_byte); }
  const std::vector<uint8_t>& bytes() const { return b_; }

  // A message. size_byte: see the format (0: exact); raw_size with 0xFF.
  InputBuilder& msg(uint32_t request, std::span<const uint8_t> payload,
                    std::initializer_list<Fd> fds = {}, uint32_t flags = vhost::kVersion,
                    uint8_t size_byte = 0, uint32_t raw_size = 0) {
    op(OpKind::kMsg);
    if (request < 0xFF) {
      u8(uint8_t(request));
    } else {
      u8(0xFF);
      u32(request);
    }
    u8(uint8_t(flags));
    u8(size_byte);
    if (size_byte == 0xFF) u32(raw_size);
    fd_list(fds);
    u16(uint16_t(payload.size()));
    b_.insert(b_.end(), payload.begin(), payload.end());
    return *this;
  }
  InputBuilder& msg(vhost::Request r, std::span<const uint8_t> payload = {},
                    std::initializer_list<Fd> fds = {}, uint32_t flags = vhost::kVersion) {
    return msg(uint32_t(r), payload, fds, flags);
  }
  InputBuilder& u64_msg(vhost::Request r, uint64_t v, std::initializer_list<Fd> fds = {},
                        uint32_t flags = vhost::kVersion) {
    return msg(r, pod(v), fds, flags);
  }
  InputBuilder& state(vhost::Request r, uint32_t index, uint32_t num,
                      uint32_t flags = vhost::kVersion) {
    return msg(r, pod(vhost::VringState{index, num}), {}, flags);
  }
  InputBuilder& addr(uint32_t index, uint64_t desc, uint64_t avail, uint64_t used,
                     uint32_t flags = vhost::kVersion) {
    vhost::VringAddr a{};
    a.index = index;
    a.desc_user_addr = desc;
    a.avail_user_addr = avail;
    a.used_user_addr = used;
    return msg(vhost::Request::kSetVringAddr, pod(a), {}, flags);
  }
  InputBuilder& mem_table(std::initializer_list<vhost::MemoryRegion> regions,
                          std::initializer_list<Fd> fds, uint32_t flags = vhost::kVersion) {
    std::vector<uint8_t> p(8, 0);
    const uint32_t n = uint32_t(regions.size());
    memcpy(p.data(), &n, 4);
    for (const auto& r : regions) {
      const auto* q = reinterpret_cast<const uint8_t*>(&r);
      p.insert(p.end(), q, q + sizeof r);
    }
    return msg(uint32_t(vhost::Request::kSetMemTable), p, fds, flags);
  }
  InputBuilder& raw(std::span<const uint8_t> bytes, std::initializer_list<Fd> fds = {}) {
    op(OpKind::kRaw);
    fd_list(fds);
    u16(uint16_t(bytes.size()));
    b_.insert(b_.end(), bytes.begin(), bytes.end());
    return *this;
  }
  InputBuilder& poke(Fd mem, uint32_t off, std::span<const uint8_t> bytes) {
    op(OpKind::kPoke);
    u8(uint8_t(mem_index(mem)));
    u32(off);
    u16(uint16_t(bytes.size()));
    b_.insert(b_.end(), bytes.begin(), bytes.end());
    return *this;
  }
  InputBuilder& kick(uint8_t which) {
    op(OpKind::kKick);
    u8(which);
    return *this;
  }
  InputBuilder& rx(uint16_t len_minus_one, std::span<const uint8_t> pattern) {
    op(OpKind::kRx);
    u16(len_minus_one);
    u8(uint8_t(pattern.size()));
    b_.insert(b_.end(), pattern.begin(), pattern.end());
    return *this;
  }
  InputBuilder& tx() {
    op(OpKind::kTx);
    return *this;
  }
  InputBuilder& shrink(Fd mem, uint32_t size) {
    op(OpKind::kShrink);
    u8(uint8_t(mem_index(mem)));
    u32(size);
    return *this;
  }

  template <typename T>
  static std::vector<uint8_t> pod(const T& v) {
    std::vector<uint8_t> out(sizeof v);
    memcpy(out.data(), &v, sizeof v);
    return out;
  }

 private:
  void op(OpKind k) { u8(uint8_t(k)); }
  void u8(uint8_t v) { b_.push_back(v); }
  void u16(uint16_t v) {
    u8(uint8_t(v));
    u8(uint8_t(v >> 8));
  }
  void u32(uint32_t v) {
    u16(uint16_t(v));
    u16(uint16_t(v >> 16));
  }
  void fd_list(std::initializer_list<Fd> fds) {
    u8(uint8_t(fds.size()));
    for (Fd f : fds) u8(uint8_t(f));
  }
  std::vector<uint8_t> b_;
};

// ---------------------------------------------------------------------------
// Running an input.

struct Outcome {
  size_t ops = 0;
  size_t chunks_sent = 0;
  bool socket_full = false;  // a chunk did not fit the socket: the rest dropped
  size_t fds_sent = 0;
  size_t messages = 0;  // handle_message() calls that returned true
  std::string error;    // the session's error (framing), empty at end-of-file
  std::vector<std::string> refusals;
  uint64_t ring_starts = 0;  // MockDeviceBackend::starts()
  bool ran = false;          // running() was seen true
  uint64_t tx_frames = 0;
  uint64_t rx_injected = 0;
  uint64_t used_published = 0;
  uint64_t calls = 0;
  uint64_t kicks = 0;
  uint64_t violations = 0;  // the mock's conformance records (the front end's)
  size_t reply_bytes = 0;

  bool refused(const std::string& what) const {
    for (const auto& r : refusals)
      if (r.find(what) != std::string::npos) return true;
    return false;
  }
};

namespace detail {

struct Reader {
  const uint8_t* p;
  size_t n;
  size_t i = 0;
  bool ok = true;
  uint8_t u8() {
    if (i >= n) {
      ok = false;
      return 0;
    }
    return p[i++];
  }
  uint16_t u16() { return uint16_t(u8() | u8() << 8); }
  uint32_t u32() { return uint32_t(u16()) | uint32_t(u16()) << 16; }
  // Up to len bytes (fewer at the end of the input).
  std::span<const uint8_t> bytes(size_t len) {
    if (len > n - i) len = n - i;
    std::span<const uint8_t> s(p + i, len);
    i += len;
    return s;
  }
};

struct Action {
  size_t anchor = 0;  // run after this many handle_message() calls
  OpKind kind = OpKind::kTx;
  uint8_t a = 0;
  uint32_t b = 0;
  std::vector<uint8_t> bytes;
};

// Every fd the harness itself holds during one input; all closed at the end.
class Fds {
 public:
  ~Fds() {
    for (int fd : owned_) ::close(fd);
  }
  int memfd(size_t i) {
    if (mem_[i] < 0) {
      mem_[i] = memfd_create("vnet-fuzz-guest", MFD_CLOEXEC | MFD_ALLOW_SEALING);
      if (mem_[i] < 0) abort();
      if (ftruncate(mem_[i], off_t(kMemfdSize[i])) != 0) abort();
      if (i != kUnsealedMemfd && fcntl(mem_[i], F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0)
        abort();
      owned_.push_back(mem_[i]);
    }
    return mem_[i];
  }
  bool has_memfd(size_t i) const { return mem_[i] >= 0; }
  // The fd to send for kind k (the harness keeps what it needs).
  int make(Fd k) {
    switch (k) {
      case Fd::kEventfd: {
        const int e = eventfd(0, EFD_CLOEXEC);
        if (e < 0) abort();
        owned_.push_back(e);
        kickable_.push_back(e);
        return e;
      }
      case Fd::kPipeRead:
      case Fd::kPipeWrite: {
        int p[2];
        if (pipe2(p, O_CLOEXEC) != 0) abort();
        owned_.push_back(p[0]);
        owned_.push_back(p[1]);
        if (k == Fd::kPipeRead) {
          // Kicks must never block the harness.
          fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK);
          kickable_.push_back(p[1]);
          return p[0];
        }
        return p[1];
      }
      case Fd::kMemUnsealed:
        return memfd(kUnsealedMemfd);
      default:
        return memfd(mem_index(k));
    }
  }
  const std::vector<int>& kickable() const { return kickable_; }

 private:
  std::array<int, kMemfds> mem_ = {-1, -1, -1, -1, -1, -1, -1};
  std::vector<int> owned_;
  std::vector<int> kickable_;
};

// One sendmsg() of bytes with fds; false when the socket took less.
inline bool send_chunk(int sock, std::span<const uint8_t> bytes, const std::vector<int>& fds) {
  if (bytes.empty()) return true;  // a stream carries no fds without a byte
  iovec iov{const_cast<uint8_t*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(int) * kMaxFdsPerChunk)] = {};
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do {
    n = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  return n == ssize_t(bytes.size());
}

inline size_t drain(int sock) {
  size_t total = 0;
  uint8_t buf[4096];
  for (;;) {
    const ssize_t n = recv(sock, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return total;
    total += size_t(n);
  }
}

}  // namespace detail

// Runs one input: a fresh socketpair, MockDeviceBackend and BackendSession.
// Every fd the harness opened is closed before it returns; the session
// closes its own at destruction (the caller's fd count says whether it
// did).
inline Outcome run(const uint8_t* data, size_t size, bool allow_shrink) {
  Outcome out;
  if (size < 1) return out;
  detail::Reader in{data, size};
  const uint8_t cfg = in.u8();
  detail::Fds fds;
  std::vector<detail::Action> actions;

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) abort();
  const int front = sv[0];

  // Reads an fd list; creates (or reuses) the harness's side of each.
  size_t fd_refs = 0;
  auto read_fds = [&](std::vector<int>* list) {
    const size_t n = in.u8() % 32;
    for (size_t k = 0; k < n && in.ok; ++k) {
      const Fd kind = Fd(in.u8() % kFdKinds);
      if (!in.ok) break;
      if (list->size() >= kMaxFdsPerChunk || fd_refs >= kMaxFdsPerInput) continue;
      ++fd_refs;
      list->push_back(fds.make(kind));
    }
  };

  size_t chunks = 0;
  while (in.ok && in.i < in.n && out.ops < kMaxOps) {
    const OpKind kind = OpKind(in.u8() % kOpKinds);
    detail::Action a;
    a.anchor = chunks;
    a.kind = kind;
    std::vector<uint8_t> chunk;
    std::vector<int> list;
    switch (kind) {
      case OpKind::kMsg: {
        uint32_t request = in.u8();
        if (request == 0xFF) request = in.u32();
        const uint32_t flags = in.u8();
        const uint8_t size_byte = in.u8();
        const uint32_t raw_size = size_byte == 0xFF ? in.u32() : 0;
        read_fds(&list);
        const std::span<const uint8_t> payload = in.bytes(in.u16());
        if (!in.ok) break;
        uint32_t announced = uint32_t(payload.size());
        if (size_byte == 0xFF)
          announced = raw_size;
        else if (size_byte >= 0x80)
          announced = announced > uint32_t(size_byte - 0x7F) ? announced - (size_byte - 0x7F) : 0;
        else
          announced += size_byte;
        const vhost::MessageHeader h{request, flags, announced};
        chunk.resize(sizeof h);
        memcpy(chunk.data(), &h, sizeof h);
        chunk.insert(chunk.end(), payload.begin(), payload.end());
        break;
      }
      case OpKind::kRaw: {
        read_fds(&list);
        const std::span<const uint8_t> bytes = in.bytes(in.u16());
        if (!in.ok) break;
        chunk.assign(bytes.begin(), bytes.end());
        break;
      }
      case OpKind::kPoke: {
        a.a = uint8_t(in.u8() % kMemfds);
        a.b = in.u32();
        const std::span<const uint8_t> bytes = in.bytes(in.u16());
        a.bytes.assign(bytes.begin(), bytes.end());
        break;
      }
      case OpKind::kKick:
        a.a = in.u8();
        break;
      case OpKind::kRx: {
        a.b = in.u16() % kMaxFrame + 1;
        const std::span<const uint8_t> bytes = in.bytes(in.u8());
        a.bytes.assign(bytes.begin(), bytes.end());
        break;
      }
      case OpKind::kTx:
        break;
      case OpKind::kShrink:
        a.a = uint8_t(in.u8() % kMemfds);
        a.b = in.u32();
        break;
    }
    if (!in.ok) break;
    ++out.ops;
    if (kind == OpKind::kMsg || kind == OpKind::kRaw) {
      ++chunks;
      if (!out.socket_full) {
        if (detail::send_chunk(front, chunk, list)) {
          ++out.chunks_sent;
          if (!chunk.empty()) out.fds_sent += list.size();
        } else {
          out.socket_full = true;
        }
      }
    } else {
      actions.push_back(std::move(a));
    }
  }
  shutdown(front, SHUT_WR);

  const std::vector<uint8_t> frame = step_frame();
  std::vector<uint8_t> rx_frame;
  {
    vhost::MockDeviceBackend backend(device_config(cfg));
    // The session owns sv[1] from here (closed by its destructor).
    vhost::BackendSession session(sv[1], backend);
    size_t next_action = 0;

    auto run_actions = [&](size_t handled) {
      for (; next_action < actions.size() && actions[next_action].anchor <= handled;
           ++next_action) {
        const detail::Action& a = actions[next_action];
        switch (a.kind) {
          case OpKind::kPoke: {
            // Within the file's size now (a poke never grows it; a file
            // the input has not sent yet is created, zeroed, here).
            const int m = fds.memfd(a.a);
            const uint64_t sz = kMemfdSize[a.a];
            struct stat st {};
            const uint64_t now = fstat(m, &st) == 0 ? uint64_t(st.st_size) : 0;
            const uint64_t limit = now < sz ? now : sz;
            if (a.b >= limit || a.bytes.empty()) break;
            const size_t len = size_t(std::min<uint64_t>(a.bytes.size(), limit - a.b));
            if (pwrite(m, a.bytes.data(), len, off_t(a.b)) < 0) {
            }
            break;
          }
          case OpKind::kKick: {
            const auto& k = fds.kickable();
            if (k.empty()) break;
            const uint64_t one = 1;
            if (write(k[a.a % k.size()], &one, sizeof one) < 0) {
            }
            break;
          }
          case OpKind::kRx: {
            rx_frame.assign(a.b, 0);
            if (!a.bytes.empty())
              for (size_t i = 0; i < rx_frame.size(); ++i)
                rx_frame[i] = a.bytes[i % a.bytes.size()];
            if (backend.running()) backend.device().inject_rx(rx_frame);
            break;
          }
          case OpKind::kTx:
            if (backend.running()) {
              backend.device().tick();
              backend.device().process_tx();
            }
            break;
          case OpKind::kShrink:
            if (allow_shrink && fds.has_memfd(a.a)) {
              const uint64_t sz = kMemfdSize[a.a];
              if (ftruncate(fds.memfd(a.a), off_t(a.b % (sz + 1))) != 0) {
              }
            }
            break;
          default:
            break;
        }
      }
    };
    auto step = [&] {
      for (const auto& [fd, index] : session.kick_fds()) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0) session.on_kick(index);
      }
      if (backend.running()) {
        out.ran = true;
        backend.device().tick();
        backend.device().process_tx();
        backend.device().inject_rx(frame);
      }
      out.reply_bytes += detail::drain(front);
    };

    run_actions(0);
    for (size_t handled = 0; handled < kMaxMessages;) {
      const bool more = session.handle_message();
      ++handled;
      if (more) ++out.messages;
      run_actions(handled);
      step();
      if (!more) break;
    }
    run_actions(SIZE_MAX);
    step();

    out.error = session.error();
    out.refusals = session.refusals();
    out.calls = session.calls_signalled();
    out.kicks = session.kicks();
    out.ring_starts = backend.starts();
    const auto& c = backend.device().counters();
    out.tx_frames = c.tx_frames;
    out.rx_injected = c.rx_injected;
    out.used_published = c.used_published;
    out.violations = backend.device().conformance().total();
  }  // the session closes its socket and every fd it kept, and unmaps;
     // then the device goes (nothing touches its memory in between)
  close(front);
  return out;
}

}  // namespace vnet::fuzz::vhost_backend
