#include "vhost/backend/backend_session.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>

#include "driver/spec/virtio_constants.h"
#include "vhost/channel.h"

namespace vnet::vhost {
namespace {

constexpr uint64_t kVhostBits = kFeatureProtocolFeatures | kFeatureLogAll;

void close_all(std::vector<int>& fds) {
  for (int f : fds) ::close(f);
  fds.clear();
}

void replace_fd(int* slot, int fd) {
  if (*slot >= 0) ::close(*slot);
  *slot = fd;
}

template <typename T>
T load(const std::vector<uint8_t>& payload) {
  T v;
  std::memcpy(&v, payload.data(), sizeof v);
  return v;
}

// The payload size each request defines (-1: variable, checked by the handler).
int64_t defined_size(Request r) {
  switch (r) {
    case Request::kGetFeatures:
    case Request::kGetProtocolFeatures:
    case Request::kSetOwner:
    case Request::kResetOwner:
    case Request::kGetQueueNum:
    case Request::kGetMaxMemSlots:
      return 0;
    case Request::kSetFeatures:
    case Request::kSetProtocolFeatures:
    case Request::kSetVringKick:
    case Request::kSetVringCall:
    case Request::kSetVringErr:
    case Request::kSendRarp:
    case Request::kNetSetMtu:
    case Request::kSetVringNum:
    case Request::kSetVringBase:
    case Request::kGetVringBase:
    case Request::kSetVringEnable:
      return 8;
    case Request::kSetVringAddr:
      return sizeof(VringAddr);
    default:
      return -1;
  }
}

bool known(uint32_t code) {
  switch (static_cast<Request>(code)) {
    case Request::kGetFeatures:
    case Request::kSetFeatures:
    case Request::kSetOwner:
    case Request::kResetOwner:
    case Request::kSetMemTable:
    case Request::kSetVringNum:
    case Request::kSetVringAddr:
    case Request::kSetVringBase:
    case Request::kGetVringBase:
    case Request::kSetVringKick:
    case Request::kSetVringCall:
    case Request::kGetProtocolFeatures:
    case Request::kSetProtocolFeatures:
    case Request::kGetQueueNum:
    case Request::kSetVringEnable:
    case Request::kGetConfig:
    case Request::kSetLogBase:
    case Request::kSetLogFd:
    case Request::kSetVringErr:
    case Request::kSendRarp:
    case Request::kNetSetMtu:
    case Request::kSetBackendReqFd:
    case Request::kSetConfig:
    case Request::kGetMaxMemSlots:
      return true;
  }
  return false;
}

// Requests answered with a message of their own (not with REPLY_ACK).
bool has_own_reply(Request r) {
  switch (r) {
    case Request::kGetFeatures:
    case Request::kGetProtocolFeatures:
    case Request::kGetVringBase:
    case Request::kGetQueueNum:
    case Request::kGetConfig:
    case Request::kGetMaxMemSlots:
      return true;
    default:
      return false;
  }
}

std::string name_of(uint32_t code) {
  return known(code) ? request_name(static_cast<Request>(code)) : "request " + std::to_string(code);
}

}  // namespace

BackendSession::BackendSession(int fd, BackendDevice& device) : fd_(fd), device_(device) {
  // Every read of a message's remainder is bounded (the header arrived),
  // and so is every reply: a front end that stops reading cannot hold the
  // back end (and the device's rings) forever.
  timeval tv{2, 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  device_.set_call_sink([this](uint16_t index) { signal_call(index); });
}

BackendSession::~BackendSession() {
  device_.set_call_sink(nullptr);
  for (Ring& r : rings_) {
    replace_fd(&r.kick_fd, -1);
    replace_fd(&r.call_fd, -1);
    replace_fd(&r.err_fd, -1);
  }
  if (fd_ >= 0) ::close(fd_);
}

bool BackendSession::fail(std::string why) {
  error_ = std::move(why);
  return false;
}

bool BackendSession::read_message(MessageHeader* h, std::vector<uint8_t>* payload,
                                  std::vector<int>* fds) {
  uint8_t* dst = reinterpret_cast<uint8_t*>(h);
  size_t got = 0;
  while (got < sizeof *h) {
    bool truncated = false;
    const ssize_t n = recv_with_fds(fd_, dst + got, sizeof *h - got, fds, &truncated);
    if (truncated) {
      close_all(*fds);
      return fail("a message came with more file descriptors than any request takes");
    }
    if (n == 0) {
      close_all(*fds);
      if (got == 0) return false;  // the front end closed between messages
      return fail("the front end closed in the middle of a message header");
    }
    if (n < 0) {
      close_all(*fds);
      return fail(std::string("reading a message header: ") + strerror(errno));
    }
    got += size_t(n);
  }
  if ((h->flags & kVersionMask) != kVersion || (h->flags & kFlagReply) != 0) {
    close_all(*fds);
    return fail(name_of(h->request) + " with flags " + std::to_string(h->flags) +
                " (version 1 and no REPLY flag expected)");
  }
  if (h->size > kMaxPayload) {
    close_all(*fds);
    return fail(name_of(h->request) + " announces a payload of " + std::to_string(h->size) +
                " bytes (at most " + std::to_string(kMaxPayload) + ")");
  }
  payload->resize(h->size);
  got = 0;
  while (got < h->size) {
    const ssize_t n = recv(fd_, payload->data() + got, h->size - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close_all(*fds);
      return fail(name_of(h->request) + ": payload of " + std::to_string(h->size) +
                  " bytes cut short after " + std::to_string(got));
    }
    got += size_t(n);
  }
  return true;
}

bool BackendSession::send_reply(const MessageHeader& request, const void* payload, uint32_t size) {
  MessageHeader h{request.request, kVersion | kFlagReply, size};
  iovec iov[2] = {{&h, sizeof h}, {const_cast<void*>(payload), size}};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = size != 0 ? 2 : 1;
  const ssize_t want = ssize_t(sizeof h + size);
  ssize_t n;
  do {
    n = sendmsg(fd_, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == want;
}

bool BackendSession::handle_message() {
  if (fd_ < 0) return false;
  MessageHeader h{};
  std::vector<uint8_t> payload;
  std::vector<int> fds;
  if (!read_message(&h, &payload, &fds)) return false;
  ++counts_[name_of(h.request)];
  bool replied = false;
  const uint64_t ack = dispatch(h, payload, fds, &replied);
  close_all(fds);  // whatever the request did not take
  if (!error_.empty()) return false;
  const Request r = static_cast<Request>(h.request);
  if (!replied && (h.flags & kFlagNeedReply) != 0 && (protocol_features_ & protocol::kReplyAck) &&
      !has_own_reply(r)) {
    if (!send_reply(h, &ack, sizeof ack)) return fail("the front end stopped reading replies");
  }
  return true;
}

uint64_t BackendSession::refuse(const MessageHeader& h, std::string why) {
  refusals_.push_back(name_of(h.request) + ": " + why);
  return 1;
}

uint64_t BackendSession::dispatch(const MessageHeader& h, const std::vector<uint8_t>& payload,
                                  std::vector<int>& fds, bool* replied) {
  if (!known(h.request)) return refuse(h, "not a request this back end knows");
  const Request r = static_cast<Request>(h.request);
  const int64_t size = defined_size(r);
  if (size >= 0 && payload.size() != uint64_t(size)) {
    fail(name_of(h.request) + " with a payload of " + std::to_string(payload.size()) +
         " bytes (it takes " + std::to_string(size) + ")");
    return 1;
  }
  const bool takes_fds = r == Request::kSetMemTable || r == Request::kSetVringKick ||
                         r == Request::kSetVringCall || r == Request::kSetVringErr;
  if (!takes_fds && !fds.empty()) {
    refusals_.push_back(name_of(h.request) + ": came with " + std::to_string(fds.size()) +
                        " file descriptors (closed)");
    close_all(fds);
  }
  auto reply_u64 = [&](uint64_t v) {
    *replied = true;
    if (!send_reply(h, &v, sizeof v)) fail("the front end stopped reading replies");
    return 0;
  };
  switch (r) {
    case Request::kGetFeatures:
      return reply_u64(device_.offered_features() | kFeatureProtocolFeatures);
    case Request::kGetProtocolFeatures:
      return reply_u64(kProtocolFeatures);
    case Request::kSetProtocolFeatures: {
      const uint64_t v = load<uint64_t>(payload);
      if ((v & ~kProtocolFeatures) != 0)
        return refuse(h, "protocol features " + std::to_string(v) + " beyond those offered");
      protocol_features_ = v;
      return 0;
    }
    case Request::kGetQueueNum:
      return reply_u64(1);
    case Request::kSetOwner:
      return 0;
    case Request::kResetOwner:
      for (uint16_t i = 0; i < kMaxRings; ++i) stop(i);
      return 0;
    case Request::kSetFeatures: {
      // The vhost-user bits are the session's; the device judges the rest.
      const uint64_t v = load<uint64_t>(payload);
      std::string why;
      if (!device_.set_features(v & ~kVhostBits, &why)) return refuse(h, why);
      acked_features_ = v;
      return 0;
    }
    case Request::kSetMemTable: {
      if (payload.size() < 8) {
        fail("SET_MEM_TABLE with a payload of " + std::to_string(payload.size()) + " bytes");
        return 1;
      }
      MemoryTable table{};
      std::memcpy(&table, payload.data(), 8);
      if (table.num_regions > kMaxMemoryRegions ||
          payload.size() != 8 + sizeof(MemoryRegion) * table.num_regions) {
        fail("SET_MEM_TABLE: " + std::to_string(table.num_regions) + " regions in " +
             std::to_string(payload.size()) + " bytes");
        return 1;
      }
      std::memcpy(&table, payload.data(), payload.size());
      std::string why;
      if (!mapping_.map(table, fds, &why)) return refuse(h, why);
      close_all(fds);
      const auto regions = mapping_.regions();
      if (!device_.set_memory(regions.data(), regions.size(), &why)) return refuse(h, why);
      memory_mapped_ = true;
      return 0;
    }
    case Request::kSetVringNum:
    case Request::kSetVringBase:
    case Request::kSetVringEnable: {
      const VringState s = load<VringState>(payload);
      if (s.index >= kMaxRings)
        return refuse(h, "ring " + std::to_string(s.index) + " (this back end has " +
                             std::to_string(kMaxRings) + ")");
      Ring& ring = rings_[s.index];
      if (r == Request::kSetVringNum) {
        const bool packed = spec::has_feature(acked_features_, spec::Feature::kRingPacked);
        if (s.num == 0 || s.num > 32768 || (!packed && (s.num & (s.num - 1)) != 0))
          return refuse(h, "ring size " + std::to_string(s.num) +
                               (packed ? " (1..32768)" : " (a power of two up to 32768)"));
        if (ring.started) return refuse(h, "ring " + std::to_string(s.index) + " is running");
        ring.num = uint16_t(s.num);
        ring.has_num = true;
        return 0;
      }
      if (r == Request::kSetVringBase) {
        if (ring.started) return refuse(h, "ring " + std::to_string(s.index) + " is running");
        ring.base = s.num;
        return 0;
      }
      if (s.num > 1) return refuse(h, "enable value " + std::to_string(s.num));
      ring.enabled = s.num == 1;
      if (ring.started) device_.set_ring_enabled(uint16_t(s.index), ring.enabled);
      return 0;
    }
    case Request::kGetVringBase: {
      const VringState s = load<VringState>(payload);
      VringState out{s.index, 0};
      if (s.index < kMaxRings) {
        stop(uint16_t(s.index));
        out.num = rings_[s.index].base;
      } else {
        refusals_.push_back("GET_VRING_BASE: ring " + std::to_string(s.index));
      }
      *replied = true;
      if (!send_reply(h, &out, sizeof out)) fail("the front end stopped reading replies");
      return 0;
    }
    case Request::kSetVringAddr: {
      const VringAddr a = load<VringAddr>(payload);
      if (a.index >= kMaxRings) return refuse(h, "ring " + std::to_string(a.index));
      if ((a.flags & 1) != 0) return refuse(h, "dirty-page logging (not supported)");
      Ring& ring = rings_[a.index];
      if (ring.started) return refuse(h, "ring " + std::to_string(a.index) + " is running");
      ring.addr = a;
      ring.has_addr = true;
      return 0;
    }
    case Request::kSetVringKick:
    case Request::kSetVringCall:
    case Request::kSetVringErr:
      return set_vring_fd(h, payload, fds);
    case Request::kGetConfig:
    case Request::kSetConfig: {
      ConfigHeader c{};
      if (payload.size() < sizeof c) {
        fail(name_of(h.request) + " with a payload of " + std::to_string(payload.size()) +
             " bytes");
        return 1;
      }
      std::memcpy(&c, payload.data(), sizeof c);
      if (payload.size() != sizeof c + uint64_t(c.size)) {
        fail(name_of(h.request) + ": size " + std::to_string(c.size) + " in a payload of " +
             std::to_string(payload.size()) + " bytes");
        return 1;
      }
      const bool ok_range = c.size <= kMaxConfigSize && c.offset <= kMaxConfigSize &&
                            c.size <= kMaxConfigSize - c.offset;
      const bool negotiated = (protocol_features_ & protocol::kConfig) != 0;
      if (r == Request::kSetConfig) {
        if (!negotiated) return refuse(h, "CONFIG protocol feature not negotiated");
        if (!ok_range)
          return refuse(h,
                        "offset " + std::to_string(c.offset) + " size " + std::to_string(c.size));
        if (!device_.write_config(c.offset, payload.data() + sizeof c, c.size))
          return refuse(h, "the device refused the write");
        return 0;
      }
      std::vector<uint8_t> out(sizeof c + (ok_range ? c.size : 0), 0);
      bool ok =
          negotiated && ok_range && device_.read_config(c.offset, out.data() + sizeof c, c.size);
      if (!ok) {
        refuse(h, !negotiated
                      ? "CONFIG protocol feature not negotiated"
                      : "offset " + std::to_string(c.offset) + " size " + std::to_string(c.size));
        c.size = 0;  // an empty reply says it failed
        out.resize(sizeof c);
      }
      std::memcpy(out.data(), &c, sizeof c);
      *replied = true;
      if (!send_reply(h, out.data(), uint32_t(out.size())))
        fail("the front end stopped reading replies");
      return 0;
    }
    case Request::kSendRarp:
    case Request::kNetSetMtu:
      return 0;
    case Request::kGetMaxMemSlots:
      *replied = true;
      {
        const uint64_t v = kMaxMemoryRegions;
        if (!send_reply(h, &v, sizeof v)) fail("the front end stopped reading replies");
      }
      return 0;
    case Request::kSetLogBase:
    case Request::kSetLogFd:
    case Request::kSetBackendReqFd:
      return refuse(h, "not supported by this back end (never offered)");
  }
  return refuse(h, "not handled");
}

uint64_t BackendSession::set_vring_fd(const MessageHeader& h, const std::vector<uint8_t>& payload,
                                      std::vector<int>& fds) {
  const uint64_t v = load<uint64_t>(payload);
  const uint64_t index = v & kVringIndexMask;
  const bool no_fd = (v & kVringNoFd) != 0;
  if ((v & ~(kVringIndexMask | kVringNoFd)) != 0)
    return refuse(h, "value " + std::to_string(v) + " has bits beyond the ring and NOFD");
  if (index >= kMaxRings) return refuse(h, "ring " + std::to_string(index));
  if (fds.size() != (no_fd ? 0u : 1u))
    return refuse(h, std::to_string(fds.size()) + " file descriptors" +
                         (no_fd ? " with NOFD" : " (one expected)"));
  const int fd = no_fd ? -1 : fds[0];
  fds.clear();  // taken
  Ring& ring = rings_[index];
  const Request r = static_cast<Request>(h.request);
  if (r == Request::kSetVringCall) {
    replace_fd(&ring.call_fd, fd);
    return 0;
  }
  if (r == Request::kSetVringErr) {
    replace_fd(&ring.err_fd, fd);
    return 0;
  }
  replace_fd(&ring.kick_fd, fd);
  std::string why;
  if (!try_start(uint16_t(index), &why)) return refuse(h, why);
  return 0;
}

bool BackendSession::try_start(uint16_t index, std::string* why) {
  Ring& ring = rings_[index];
  if (ring.started) return true;
  const std::string name = "ring " + std::to_string(index) + ": ";
  if (!ring.has_num || !ring.has_addr || !memory_mapped_) {
    *why = name + "kick before its " +
           std::string(!ring.has_num    ? "size"
                       : !ring.has_addr ? "addresses"
                                        : "memory table");
    return false;
  }
  const bool packed = spec::has_feature(acked_features_, spec::Feature::kRingPacked);
  const uint64_t n = ring.num;
  // Split (2.7): table 16n, available 6 + 2n, used 6 + 8n; packed (2.8):
  // ring 16n, the two event suppression structures 4 each.
  const uint64_t desc_len = 16 * n;
  const uint64_t driver_len = packed ? 4 : 6 + 2 * n;
  const uint64_t device_len = packed ? 4 : 6 + 8 * n;
  RingSetup setup;
  setup.index = index;
  setup.num = ring.num;
  setup.base = ring.base;
  if (!mapping_.to_guest_physical(ring.addr.desc_user_addr, desc_len, &setup.desc) ||
      !mapping_.to_guest_physical(ring.addr.avail_user_addr, driver_len, &setup.driver) ||
      !mapping_.to_guest_physical(ring.addr.used_user_addr, device_len, &setup.device)) {
    *why = name + "an address is outside every mapped memory region";
    return false;
  }
  if (!device_.start_ring(setup, why)) return false;
  ring.started = true;
  if ((acked_features_ & kFeatureProtocolFeatures) == 0) ring.enabled = true;
  device_.set_ring_enabled(index, ring.enabled);
  return true;
}

void BackendSession::stop(uint16_t index) {
  Ring& ring = rings_[index];
  if (!ring.started) return;
  uint32_t base = ring.base;
  if (device_.stop_ring(index, &base)) ring.base = base;
  ring.started = false;
}

std::vector<std::pair<int, uint16_t>> BackendSession::kick_fds() const {
  std::vector<std::pair<int, uint16_t>> out;
  for (uint16_t i = 0; i < kMaxRings; ++i)
    if (rings_[i].started && rings_[i].kick_fd >= 0) out.emplace_back(rings_[i].kick_fd, i);
  return out;
}

void BackendSession::on_kick(uint16_t index) {
  if (index >= kMaxRings) return;
  Ring& ring = rings_[index];
  uint64_t v;
  if (ring.kick_fd >= 0) {
    while (read(ring.kick_fd, &v, sizeof v) < 0 && errno == EINTR) {
    }
  }
  ++kicks_;
  if (ring.started && ring.enabled) device_.kick(index);
}

void BackendSession::signal_call(uint16_t index) {
  if (index >= kMaxRings || rings_[index].call_fd < 0) {
    ++calls_without_fd_;
    return;
  }
  const uint64_t one = 1;
  ssize_t n;
  do {
    n = write(rings_[index].call_fd, &one, sizeof one);
  } while (n < 0 && errno == EINTR);
  ++calls_;
}

}  // namespace vnet::vhost
