#include "vhost/vhost_user_device.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "driver/spec/mmio_layout.h"
#include "driver/spec/net_ctrl_layout.h"
#include "driver/spec/net_layout.h"
#include "driver/spec/packed_ring_layout.h"
#include "driver/spec/split_ring_layout.h"
#include "driver/spec/virtio_constants.h"

namespace vnet::vhost {
namespace {

namespace mm = spec::mmio;
using spec::Feature;
using spec::feature_mask;

// What the window passes through from the back end's offer.
constexpr uint64_t kCarried =
    feature_mask(Feature::kVersion1) | feature_mask(Feature::kRingPacked) |
    feature_mask(Feature::kInOrder) | feature_mask(Feature::kIndirectDesc) |
    feature_mask(Feature::kEventIdx) | feature_mask(Feature::kNetMrgRxbuf) |
    feature_mask(Feature::kNetCsum) | feature_mask(Feature::kNetGuestCsum) |
    feature_mask(Feature::kNetHostTso4) | feature_mask(Feature::kNetHostTso6) |
    feature_mask(Feature::kNetHostEcn) | feature_mask(Feature::kNetGuestTso4) |
    feature_mask(Feature::kNetGuestTso6) | feature_mask(Feature::kNetGuestEcn);
// What the window itself provides (never sent to the back end).
constexpr uint64_t kEmulated = feature_mask(Feature::kNetMac) | feature_mask(Feature::kNetStatus) |
                               feature_mask(Feature::kNetCtrlVq);

constexpr uint16_t kLinkUp = 1;

// A descriptor as the control-queue walker sees it (either ring kind).
struct Desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next_or_id;
};

template <typename T>
T load(const void* p) {
  T v;
  memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

VhostUserDevice::VhostUserDevice(FrontEnd& front, SharedMemory& memory,
                                 const DeviceOptions& options)
    : front_(front), memory_(memory), options_(options) {
  const BackendOffer& o = front_.offer();
  offer_ = (o.features & kCarried) | kEmulated;
  uint16_t cap = options_.max_queue_pairs;
  if (cap > (kMaxQueues - 1) / 2) cap = (kMaxQueues - 1) / 2;
  if (cap == 0) cap = 1;
  if ((o.negotiated_protocol & protocol::kMq) != 0 && o.queue_pairs > 1 && cap > 1 &&
      (o.features & feature_mask(Feature::kNetMq)) != 0) {
    offer_ |= feature_mask(Feature::kNetMq);
    max_pairs_ = o.queue_pairs < cap ? o.queue_pairs : cap;
  }
  offer_ &= options_.feature_mask;
  if (options_.queue_size == 0 || options_.queue_size > 32768) options_.queue_size = 1024;
}

VhostUserDevice::~VhostUserDevice() {
  for (Queue& q : queues_) {
    if (q.kick_fd >= 0) close(q.kick_fd);
    if (q.call_fd >= 0) close(q.call_fd);
  }
}

uint16_t VhostUserDevice::ctrl_index() const {
  const bool mq = (driver_features_ & feature_mask(Feature::kNetMq)) != 0;
  return static_cast<uint16_t>(2 * (mq ? max_pairs_ : 1));
}

bool VhostUserDevice::packed() const {
  return (driver_features_ & feature_mask(Feature::kRingPacked)) != 0;
}

void VhostUserDevice::broken(std::string why) {
  if (error_.empty()) error_ = std::move(why);
  status_ |= spec::status::kDeviceNeedsReset;
}

uint32_t VhostUserDevice::config_read(uint32_t offset, uint8_t width) const {
  uint8_t cfg[16] = {};
  memcpy(cfg, options_.mac, 6);
  const uint16_t link = kLinkUp;
  memcpy(cfg + spec::net_cfg::kStatus, &link, 2);
  memcpy(cfg + spec::net_cfg::kMaxVirtqueuePairs, &max_pairs_, 2);
  if (offset + width > sizeof cfg) return 0;
  uint32_t v = 0;
  memcpy(&v, cfg + offset, width);
  return v;
}

uint32_t VhostUserDevice::read(uint32_t offset, uint8_t width) {
  if (offset >= mm::kConfig) return config_read(offset - mm::kConfig, width);
  if (width != 4) return 0;
  const Queue* q = queue_sel_ < kMaxQueues ? &queues_[queue_sel_] : nullptr;
  switch (offset) {
    case mm::kMagicValue:
      return mm::kMagic;
    case mm::kVersion:
      return mm::kVersionModern;
    case mm::kDeviceId:
      return 1;  // network device
    case mm::kVendorId:
      return 0x74656e76;  // "vnet"
    case mm::kDeviceFeatures:
      return device_features_sel_ == 0   ? static_cast<uint32_t>(offer_)
             : device_features_sel_ == 1 ? static_cast<uint32_t>(offer_ >> 32)
                                         : 0;
    case mm::kQueueNumMax: {
      if (q == nullptr) return 0;
      const uint16_t ctrl = ctrl_index();
      if (queue_sel_ == ctrl) return kCtrlQueueSize;
      return queue_sel_ < ctrl ? options_.queue_size : 0;
    }
    case mm::kQueueReady:
      return q != nullptr && q->ready ? 1 : 0;
    case mm::kInterruptStatus: {
      for (uint16_t i = 0; i < kMaxQueues; ++i) {
        uint64_t n;
        if (queues_[i].call_fd >= 0 && ::read(queues_[i].call_fd, &n, 8) == 8)
          interrupt_status_ |= spec::interrupt::kQueue;
      }
      return interrupt_status_;
    }
    case mm::kStatus:
      if (started_ && !front_.channel().check_peer()) broken("the back end closed the connection");
      return status_;
    case mm::kConfigGeneration:
      return 0;
    default:
      return 0;
  }
}

void VhostUserDevice::write(uint32_t offset, uint8_t width, uint32_t value) {
  if (width != 4 || offset >= mm::kConfig) return;
  Queue* q = queue_sel_ < kMaxQueues ? &queues_[queue_sel_] : nullptr;
  auto set_lo = [](uint64_t& a, uint32_t v) { a = (a & ~uint64_t{0xFFFFFFFF}) | v; };
  auto set_hi = [](uint64_t& a, uint32_t v) { a = (a & 0xFFFFFFFFu) | (uint64_t{v} << 32); };
  switch (offset) {
    case mm::kDeviceFeaturesSel:
      device_features_sel_ = value;
      break;
    case mm::kDriverFeaturesSel:
      driver_features_sel_ = value;
      break;
    case mm::kDriverFeatures:
      if (driver_features_sel_ == 0) set_lo(driver_features_, value);
      if (driver_features_sel_ == 1) set_hi(driver_features_, value);
      break;
    case mm::kQueueSel:
      queue_sel_ = value;
      break;
    case mm::kQueueNum:
      if (q != nullptr) q->num = static_cast<uint16_t>(value);
      break;
    case mm::kQueueDescLow:
      if (q) set_lo(q->desc, value);
      break;
    case mm::kQueueDescHigh:
      if (q) set_hi(q->desc, value);
      break;
    case mm::kQueueDriverLow:
      if (q) set_lo(q->driver, value);
      break;
    case mm::kQueueDriverHigh:
      if (q) set_hi(q->driver, value);
      break;
    case mm::kQueueDeviceLow:
      if (q) set_lo(q->device, value);
      break;
    case mm::kQueueDeviceHigh:
      if (q) set_hi(q->device, value);
      break;
    case mm::kQueueReady:
      if (q != nullptr) q->ready = value == 1;
      break;
    case mm::kQueueNotify:
      notify(static_cast<uint16_t>(value));
      break;
    case mm::kInterruptAck:
      interrupt_status_ &= ~value;
      break;
    case mm::kStatus:
      set_status(static_cast<uint8_t>(value));
      break;
    default:
      break;
  }
}

void VhostUserDevice::notify(uint16_t index) {
  if (index >= kMaxQueues) return;
  if (started_ && index == ctrl_index()) {
    process_ctrl();
    return;
  }
  const int fd = queues_[index].kick_fd;
  if (fd < 0) return;
  const uint64_t one = 1;
  kicks_.fetch_add(1, std::memory_order_relaxed);
  (void)!::write(fd, &one, 8);
}

void VhostUserDevice::set_status(uint8_t value) {
  if (value == 0) {
    reset();
    return;
  }
  const uint8_t added = static_cast<uint8_t>(value & ~status_);
  if ((added & spec::status::kFeaturesOk) != 0) {
    if ((driver_features_ & ~offer_) != 0) {
      error_ = "the driver accepted features the device did not offer";
      value &= static_cast<uint8_t>(~spec::status::kFeaturesOk);
    } else if (!front_.set_features(driver_features_ & ~kEmulated)) {
      error_ = "SET_FEATURES: " + front_.error();
      value &= static_cast<uint8_t>(~spec::status::kFeaturesOk);
    }
  }
  status_ = static_cast<uint8_t>(value | (status_ & spec::status::kDeviceNeedsReset));
  if ((added & spec::status::kDriverOk) != 0 && !start()) broken(front_.error());
}

bool VhostUserDevice::start() {
  if (!front_.set_mem_table(memory_)) return false;
  const uint16_t ctrl = ctrl_index();
  const bool has_ctrl = (driver_features_ & feature_mask(Feature::kNetCtrlVq)) != 0;
  pairs_ = 1;
  for (uint16_t i = 0; i < kMaxQueues; ++i) {
    Queue& q = queues_[i];
    if (!q.ready) continue;
    if (has_ctrl && i == ctrl) {
      q.last_avail = 0;
      q.avail_wrap = true;
      q.used_idx = 0;
      if (!memory_.contains(reinterpret_cast<void*>(q.desc), 16u * q.num)) {
        error_ = "control queue outside the shared memory";
        return false;
      }
      continue;
    }
    if (i > ctrl) continue;
    if (q.kick_fd < 0) q.kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q.call_fd < 0) q.call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q.kick_fd < 0 || q.call_fd < 0) {
      error_ = std::string("eventfd: ") + strerror(errno);
      return false;
    }
    VringSetup v;
    v.index = i;
    v.num = q.num;
    v.base = packed() ? kPackedFreshBase : 0;
    v.desc = q.desc;
    v.avail = q.driver;
    v.used = q.device;
    v.kick_fd = q.kick_fd;
    v.call_fd = q.call_fd;
    if (!front_.start_vring(v)) return false;
    q.started = true;
  }
  if ((front_.offer().features & kFeatureProtocolFeatures) != 0) {
    for (uint16_t i = 0; i < 2 * max_pairs_ && i < ctrl; ++i) {
      if (!queues_[i].started) continue;
      if (!front_.enable_vring(i, i < 2)) return false;
    }
  }
  started_ = true;
  return true;
}

void VhostUserDevice::reset() {
  if (started_ && front_.channel().alive()) {
    for (uint16_t i = 0; i < kMaxQueues; ++i) {
      if (!queues_[i].started) continue;
      if (!front_.stop_vring(i, nullptr)) break;
    }
  }
  for (Queue& q : queues_) {
    const int kick = q.kick_fd, call = q.call_fd;
    q = Queue{};
    q.kick_fd = kick;  // eventfds are kept: the next start hands them over again
    q.call_fd = call;
  }
  started_ = false;
  status_ = 0;
  driver_features_ = 0;
  interrupt_status_ = 0;
  pairs_ = 1;
  error_.clear();
}

bool VhostUserDevice::wait_calls(uint64_t timeout_ns) {
  pollfd fds[kMaxQueues];
  nfds_t n = 0;
  for (const Queue& q : queues_)
    if (q.call_fd >= 0 && q.started) fds[n++] = pollfd{q.call_fd, POLLIN, 0};
  if (n == 0) return false;
  const int ms = static_cast<int>((timeout_ns + 999999) / 1000000);
  return poll(fds, n, ms) > 0;
}

// ---- the control queue -----------------------------------------------------

uint8_t VhostUserDevice::execute_ctrl(const uint8_t* cmd, uint32_t len) {
  ++ctrl_commands_;
  if (len >= 4 && cmd[0] == spec::ctrl::kClassMq && cmd[1] == spec::ctrl::kMqVqPairsSet &&
      (driver_features_ & feature_mask(Feature::kNetMq)) != 0) {
    uint16_t n;
    memcpy(&n, cmd + 2, 2);
    if (n >= 1 && n <= max_pairs_) {
      bool ok = true;
      if ((front_.offer().features & kFeatureProtocolFeatures) != 0) {
        for (uint16_t i = 0; i < 2 * max_pairs_ && ok; ++i)
          if (queues_[i].started) ok = front_.enable_vring(i, i < 2 * n);
      }
      if (ok) {
        pairs_ = n;
        return spec::ctrl::kAckOk;
      }
      broken("SET_VRING_ENABLE: " + front_.error());
    }
  }
  ++ctrl_refused_;
  return spec::ctrl::kAckErr;
}

void VhostUserDevice::process_ctrl() {
  Queue& q = queues_[ctrl_index()];
  if (!q.ready || q.num == 0) return;
  if (packed())
    ctrl_packed(q);
  else
    ctrl_split(q);
}

namespace {

// Gathers a control command chain: device-readable bytes into cmd (at most
// cap), and the device-writable ack byte's address. False when the chain
// is malformed (out of the shared memory, a loop, no ack buffer).
template <typename NextDesc>
bool gather(const SharedMemory& mem, Desc d, NextDesc&& next, uint16_t bound, uint8_t* cmd,
            uint32_t cap, uint32_t* cmd_len, uint8_t** ack) {
  *cmd_len = 0;
  *ack = nullptr;
  Desc table_entries[64];
  uint16_t table_n = 0, table_i = 0;
  for (uint16_t steps = 0; steps <= bound; ++steps) {
    if ((d.flags & spec::kDescFlagIndirect) != 0 && table_n == 0) {
      const uint32_t n = d.len / 16;
      if (n == 0 || n > 64 || !mem.contains(reinterpret_cast<void*>(d.addr), d.len)) return false;
      for (uint32_t i = 0; i < n; ++i) {
        const uint8_t* e = reinterpret_cast<const uint8_t*>(d.addr) + 16 * i;
        table_entries[i] = Desc{load<uint64_t>(e), load<uint32_t>(e + 8), load<uint16_t>(e + 12),
                                load<uint16_t>(e + 14)};
      }
      table_n = static_cast<uint16_t>(n);
      d = table_entries[0];
      table_i = 0;
      continue;
    }
    if (!mem.contains(reinterpret_cast<void*>(d.addr), d.len)) return false;
    if ((d.flags & spec::kDescFlagWrite) != 0) {
      if (d.len >= 1 && *ack == nullptr) *ack = reinterpret_cast<uint8_t*>(d.addr);
    } else {
      if (d.len > cap - *cmd_len) return false;
      memcpy(cmd + *cmd_len, reinterpret_cast<const void*>(d.addr), d.len);
      *cmd_len += d.len;
    }
    if (table_n != 0) {
      if ((d.flags & spec::kDescFlagNext) == 0) return *ack != nullptr;
      table_i = d.next_or_id;
      if (table_i >= table_n) return false;
      d = table_entries[table_i];
      continue;
    }
    if (!next(d)) return *ack != nullptr;
  }
  return false;
}

}  // namespace

void VhostUserDevice::ctrl_split(Queue& q) {
  const uint16_t num = q.num;
  uint8_t* desc = reinterpret_cast<uint8_t*>(q.desc);
  uint8_t* avail = reinterpret_cast<uint8_t*>(q.driver);
  uint8_t* used = reinterpret_cast<uint8_t*>(q.device);
  if (!memory_.contains(desc, 16u * num) || !memory_.contains(avail, 6u + 2u * num) ||
      !memory_.contains(used, 6u + 8u * num)) {
    broken("control queue rings outside the shared memory");
    return;
  }
  auto read_desc = [&](uint16_t i) {
    const uint8_t* e = desc + 16u * (i % num);
    return Desc{load<uint64_t>(e), load<uint32_t>(e + 8), load<uint16_t>(e + 12),
                load<uint16_t>(e + 14)};
  };
  for (uint16_t budget = 0; budget < num; ++budget) {
    const uint16_t avail_idx =
        __atomic_load_n(reinterpret_cast<uint16_t*>(avail + 2), __ATOMIC_ACQUIRE);
    if (avail_idx == q.last_avail) return;
    const uint16_t head = load<uint16_t>(avail + 4 + 2u * (q.last_avail % num));
    ++q.last_avail;
    uint8_t cmd[512];
    uint32_t len = 0;
    uint8_t* ack = nullptr;
    Desc d = read_desc(head);
    const bool ok = head < num && gather(
                                      memory_, d,
                                      [&](Desc& cur) {
                                        if ((cur.flags & spec::kDescFlagNext) == 0) return false;
                                        cur = read_desc(cur.next_or_id);
                                        return true;
                                      },
                                      num, cmd, sizeof cmd, &len, &ack);
    uint32_t written = 0;
    if (ok) {
      *ack = execute_ctrl(cmd, len);
      written = 1;
    }
    uint8_t* elem = used + 4 + 8u * (q.used_idx % num);
    const uint32_t id = head;
    memcpy(elem, &id, 4);
    memcpy(elem + 4, &written, 4);
    ++q.used_idx;
    __atomic_store_n(reinterpret_cast<uint16_t*>(used + 2), q.used_idx, __ATOMIC_RELEASE);
  }
}

void VhostUserDevice::ctrl_packed(Queue& q) {
  const uint16_t num = q.num;
  uint8_t* ring = reinterpret_cast<uint8_t*>(q.desc);
  if (!memory_.contains(ring, 16u * num)) {
    broken("control queue ring outside the shared memory");
    return;
  }
  for (uint16_t budget = 0; budget < num; ++budget) {
    uint8_t* first = ring + 16u * q.last_avail;
    const uint16_t flags =
        __atomic_load_n(reinterpret_cast<uint16_t*>(first + 14), __ATOMIC_ACQUIRE);
    const bool avail = (flags & spec::kPackedDescFlagAvail) != 0;
    const bool used = (flags & spec::kPackedDescFlagUsed) != 0;
    if (avail != q.avail_wrap || used == q.avail_wrap) return;
    uint16_t pos = q.last_avail;
    bool wrap = q.avail_wrap;
    uint16_t chain_len = 0, id = 0;
    auto read_at = [&](uint16_t p) {
      const uint8_t* e = ring + 16u * p;
      return Desc{load<uint64_t>(e), load<uint32_t>(e + 8), load<uint16_t>(e + 14),
                  load<uint16_t>(e + 12)};
    };
    Desc d = read_at(pos);
    id = d.next_or_id;
    chain_len = 1;
    uint8_t cmd[512];
    uint32_t len = 0;
    uint8_t* ack = nullptr;
    const bool ok = gather(
        memory_, d,
        [&](Desc& cur) {
          if ((cur.flags & spec::kDescFlagNext) == 0) return false;
          if (++pos == num) pos = 0, wrap = !wrap;
          cur = read_at(pos);
          id = cur.next_or_id;
          ++chain_len;
          return true;
        },
        num, cmd, sizeof cmd, &len, &ack);
    uint32_t written = 0;
    if (ok) {
      *ack = execute_ctrl(cmd, len);
      written = 1;
    } else {
      // A refused chain is skipped whole: its length and buffer id come
      // from its last descriptor, wherever gather() stopped.
      chain_len = 1;
      Desc last = read_at(q.last_avail);
      for (uint16_t p = q.last_avail; (last.flags & spec::kDescFlagNext) != 0 && chain_len < num;
           ++chain_len) {
        if (++p == num) p = 0;
        last = read_at(p);
      }
      id = last.next_or_id;
    }
    // The used descriptor goes where the chain's first one was (2.8.21).
    memcpy(first + 8, &written, 4);
    memcpy(first + 12, &id, 2);
    const uint16_t used_flags = static_cast<uint16_t>(
        q.avail_wrap ? (spec::kPackedDescFlagAvail | spec::kPackedDescFlagUsed) : 0);
    __atomic_store_n(reinterpret_cast<uint16_t*>(first + 14), used_flags, __ATOMIC_RELEASE);
    uint32_t next = static_cast<uint32_t>(q.last_avail) + chain_len;
    if (next >= num) {
      next -= num;
      q.avail_wrap = !q.avail_wrap;
    }
    q.last_avail = static_cast<uint16_t>(next);
  }
}

}  // namespace vnet::vhost
