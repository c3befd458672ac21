#include "vhost/front_end.h"

#include "vhost/shared_memory.h"

namespace vnet::vhost {

bool FrontEnd::fail(std::string why) {
  if (error_.empty()) error_ = std::move(why);
  channel_.close();
  return false;
}

bool FrontEnd::connect(const std::string& socket_path, int timeout_ms) {
  error_.clear();
  offer_ = BackendOffer{};
  if (!channel_.connect_unix(socket_path, timeout_ms)) return false;
  return handshake();
}

bool FrontEnd::connect_fd(int fd) {
  error_.clear();
  offer_ = BackendOffer{};
  channel_.adopt(fd);
  return handshake();
}

bool FrontEnd::handshake() {
  if (!channel_.call(Request::kGetFeatures, nullptr, 0, &offer_.features, 8)) return false;
  if ((offer_.features & kFeatureProtocolFeatures) != 0) {
    if (!channel_.call(Request::kGetProtocolFeatures, nullptr, 0, &offer_.protocol_features, 8))
      return false;
    offer_.negotiated_protocol = offer_.protocol_features & kFrontEndProtocolFeatures;
    if (!channel_.request(Request::kSetProtocolFeatures, &offer_.negotiated_protocol, 8))
      return false;
  }
  if (!set(Request::kSetOwner, nullptr, 0)) return false;
  if ((offer_.negotiated_protocol & protocol::kMq) != 0) {
    uint64_t n = 0;
    if (!channel_.call(Request::kGetQueueNum, nullptr, 0, &n, 8)) return false;
    if (n == 0 || n > kMaxQueuePairs)
      return fail("GET_QUEUE_NUM answered " + std::to_string(n) + " queue pairs (1.." +
                  std::to_string(kMaxQueuePairs) + ")");
    offer_.queue_pairs = static_cast<uint16_t>(n);
  }
  return true;
}

bool FrontEnd::set(Request r, const void* payload, uint32_t size, const int* fd) {
  const std::span<const int> fds =
      fd != nullptr ? std::span<const int>(fd, 1) : std::span<const int>();
  return acked() ? channel_.request_ack(r, payload, size, fds)
                 : channel_.request(r, payload, size, fds);
}

bool FrontEnd::set_features(uint64_t virtio_features) {
  uint64_t f = virtio_features;
  if ((offer_.features & kFeatureProtocolFeatures) != 0) f |= kFeatureProtocolFeatures;
  return set(Request::kSetFeatures, &f, 8);
}

bool FrontEnd::set_mem_table(const SharedMemory& memory) {
  MemoryTable t{};
  t.num_regions = 1;
  t.regions[0].guest_phys_addr = reinterpret_cast<uint64_t>(memory.base());
  t.regions[0].userspace_addr = reinterpret_cast<uint64_t>(memory.base());
  t.regions[0].memory_size = memory.size();
  t.regions[0].mmap_offset = 0;
  const int fd = memory.fd();
  // The payload holds the header and the regions in use only.
  return set(Request::kSetMemTable, &t, 8 + sizeof(MemoryRegion) * t.num_regions, &fd);
}

bool FrontEnd::start_vring(const VringSetup& v) {
  VringState num{v.index, v.num};
  if (!set(Request::kSetVringNum, &num, sizeof num)) return false;
  VringState base{v.index, v.base};
  if (!set(Request::kSetVringBase, &base, sizeof base)) return false;
  VringAddr a{};
  a.index = v.index;
  a.desc_user_addr = v.desc;
  a.avail_user_addr = v.avail;
  a.used_user_addr = v.used;
  if (!set(Request::kSetVringAddr, &a, sizeof a)) return false;
  uint64_t call = v.index | (v.call_fd < 0 ? kVringNoFd : 0);
  if (!set(Request::kSetVringCall, &call, 8, v.call_fd < 0 ? nullptr : &v.call_fd)) return false;
  // The kick last: a back end may start the ring when it gets it.
  uint64_t kick = v.index | (v.kick_fd < 0 ? kVringNoFd : 0);
  return set(Request::kSetVringKick, &kick, 8, v.kick_fd < 0 ? nullptr : &v.kick_fd);
}

bool FrontEnd::enable_vring(uint16_t index, bool enable) {
  VringState s{index, enable ? 1u : 0u};
  return set(Request::kSetVringEnable, &s, sizeof s);
}

bool FrontEnd::stop_vring(uint16_t index, uint32_t* base) {
  VringState s{index, 0};
  VringState reply{};
  if (!channel_.call(Request::kGetVringBase, &s, sizeof s, &reply, sizeof reply)) return false;
  if (reply.index != index)
    return fail("GET_VRING_BASE for ring " + std::to_string(index) + " answered for ring " +
                std::to_string(reply.index));
  if (base != nullptr) *base = reply.num;
  return true;
}

}  // namespace vnet::vhost
