#include "vhost/vhost_user_platform.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <atomic>

namespace vnet::vhost {

uint32_t VhostUserPlatform::reg_read(Region region, uint32_t offset, uint8_t width) {
  if (region != Region::kMmio || offset >= VhostUserDevice::kWindowSize) return 0xFFFFFFFFu;
  return device_.read(offset, width);
}

void VhostUserPlatform::reg_write(Region region, uint32_t offset, uint8_t width, uint32_t value) {
  if (region != Region::kMmio || offset >= VhostUserDevice::kWindowSize) return;
  std::atomic_thread_fence(std::memory_order_release);
  device_.write(offset, width, value);
}

bool VhostUserPlatform::dma_alloc(size_t size, size_t align, DmaRegion* out) {
  void* p = memory_.alloc(size, align);
  if (p == nullptr) return false;
  *out = DmaRegion{p, reinterpret_cast<uint64_t>(p), size};
  return true;
}

void VhostUserPlatform::dma_free(const DmaRegion& region) {
  memory_.free(region.cpu);
}

void VhostUserPlatform::fetch(const DeviceMemRef& what, const volatile void* src, void* dst,
                              size_t len) {
  (void)what;
  const void* s = const_cast<const void*>(src);
  if (!memory_.contains(s, len)) {
    // Not shared with the back end: a driver bug, never device data.
    ++fetches_outside_;
    memset(dst, 0, len);
    return;
  }
  std::atomic_signal_fence(std::memory_order_acquire);
  switch (len) {
    case 2: {
      const uint16_t v = *static_cast<const volatile uint16_t*>(src);
      memcpy(dst, &v, 2);
      break;
    }
    case 4: {
      const uint32_t v = *static_cast<const volatile uint32_t*>(src);
      memcpy(dst, &v, 4);
      break;
    }
    case 6: {  // a packed descriptor's len (le32) and id (le16): each at its width
      const uint32_t len32 = *static_cast<const volatile uint32_t*>(src);
      const uint16_t id = *reinterpret_cast<const volatile uint16_t*>(
          static_cast<const volatile uint8_t*>(src) + 4);
      memcpy(dst, &len32, 4);
      memcpy(static_cast<uint8_t*>(dst) + 4, &id, 2);
      break;
    }
    case 8: {
      const uint64_t v = *static_cast<const volatile uint64_t*>(src);
      memcpy(dst, &v, 8);
      break;
    }
    case 12: {  // a virtio-net header: every field 1 or 2 bytes, within a load
      const volatile uint8_t* b = static_cast<const volatile uint8_t*>(src);
      const uint64_t lo = *reinterpret_cast<const volatile uint64_t*>(b);
      const uint32_t hi = *reinterpret_cast<const volatile uint32_t*>(b + 8);
      memcpy(dst, &lo, 8);
      memcpy(static_cast<uint8_t*>(dst) + 8, &hi, 4);
      break;
    }
    default:
      memcpy(dst, s, len);
  }
  std::atomic_signal_fence(std::memory_order_acquire);
}

void VhostUserPlatform::barrier(Barrier kind) {
  if (kind == Barrier::kFull || kind == Barrier::kDmaFull)
    std::atomic_thread_fence(std::memory_order_seq_cst);
  else
    std::atomic_signal_fence(std::memory_order_seq_cst);
}

bool VhostUserPlatform::wait_interrupt(uint64_t timeout_ns) {
  return device_.wait_calls(timeout_ns);
}

uint64_t VhostUserPlatform::now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

void VhostUserPlatform::log(LogLevel level, const char* message) {
  if (static_cast<uint8_t>(level) > static_cast<uint8_t>(log_level_)) return;
  static const char* const kNames[] = {"error", "warn", "info", "debug"};
  fprintf(stderr, "vnet-vhost: driver %s: %s\n", kNames[static_cast<uint8_t>(level)], message);
}

}  // namespace vnet::vhost
