#include "mock_device/mock_platform.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace vnet::mock {

MockPlatform::MockPlatform(MockDevice& device, GuestMemory& memory)
    : device_(device), memory_(memory) {
  device_.set_interrupt_sink([this](const InterruptRecord& r) { on_device_interrupt(r); });
}

uint32_t MockPlatform::reg_read(Region region, uint32_t offset, uint8_t width) {
  ++shim_calls_;
  ++reg_reads_;
  if (region == Region::kPciConfig) return device_.pci_config_read(offset, width);
  if (region >= Region::kBar0 && region <= Region::kBar5)
    return device_.bar_read(uint8_t(uint8_t(region) - 1), offset, width);
  if (region == Region::kMmio) return device_.mmio_read(offset, width);  // all ones unless MMIO
  return width >= 4 ? 0xFFFF'FFFFu : (1u << (8 * width)) - 1;
}

void MockPlatform::reg_write(Region region, uint32_t offset, uint8_t width, uint32_t value) {
  ++shim_calls_;
  ++reg_writes_;
  if (region == Region::kPciConfig) return device_.pci_config_write(offset, width, value);
  if (region >= Region::kBar0 && region <= Region::kBar5)
    device_.bar_write(uint8_t(uint8_t(region) - 1), offset, width, value);
  if (region == Region::kMmio) device_.mmio_write(offset, width, value);
}

bool MockPlatform::dma_alloc(size_t size, size_t align, DmaRegion* out) {
  ++shim_calls_;
  if (dma_budget_ == 0) return false;
  GuestMemory::Allocation a;
  if (!memory_.allocate(size, align ? align : 16, &a)) return false;
  if (dma_budget_ > 0) --dma_budget_;
  ++dma_live_;
  dma_live_bytes_ += a.size;
  *out = DmaRegion{a.host, a.device_addr, a.size};
  device_.dma_mappings().add_coherent(a.device_addr, a.size);
  return true;
}

void MockPlatform::dma_free(const DmaRegion& region) {
  ++shim_calls_;
  device_.dma_mappings().remove_coherent(region.device_addr);
  if (memory_.free(region.device_addr)) {
    --dma_live_;
    dma_live_bytes_ -= std::min<uint64_t>(dma_live_bytes_, region.size);
  } else
    ++bad_dma_frees_;
}

bool MockPlatform::dma_map(uint8_t* cpu, uint64_t phys, uint32_t len, DmaDirection,
                           DmaMapping* out) {
  ++shim_calls_;
  if (map_budget_ == 0) return false;
  if (map_budget_ > 0) --map_budget_;
  ++dma_maps_;
  uint64_t addr = iommu_ ? device_.dma_mappings().map(phys, len) : phys;
  if (iommu_ && map_lie_ != MapLie::kNone) {
    device_.dma_mappings().unmap(addr, len);  // revoked at once
    if (map_lie_ == MapLie::kLeakPhysical) addr = phys;
  }
  *out = DmaMapping{addr, cpu, len, 0};
  return true;
}

void MockPlatform::dma_unmap(const DmaMapping& m, uint8_t*, uint32_t device_len, DmaDirection) {
  ++shim_calls_;
  ++dma_unmaps_;
  if (device_len > m.len) ++bad_dma_unmaps_;  // the driver let an unvalidated length through
  if (iommu_ && map_lie_ == MapLie::kNone && !device_.dma_mappings().unmap(m.device_addr, m.len))
    ++bad_dma_unmaps_;
}

void MockPlatform::fetch(const DeviceMemRef& what, const volatile void* src, void* dst,
                         size_t len) {
  (void)what;
  ++shim_calls_;
  ++fetches_;
  const void* s = const_cast<const void*>(src);
  if (!memory_.contains(s, len)) {
    // The driver fetched "device memory" that is not shared with the device.
    ++fetches_outside_;
    std::memset(dst, 0, len);
    return;
  }
  // Volatile-safe: the compiler may not cache what the device wrote.
  std::atomic_signal_fence(std::memory_order_acquire);
  switch (len) {
    case 2: {
      const uint16_t v = *static_cast<const volatile uint16_t*>(src);
      std::memcpy(dst, &v, 2);
      break;
    }
    case 4: {
      const uint32_t v = *static_cast<const volatile uint32_t*>(src);
      std::memcpy(dst, &v, 4);
      break;
    }
    case 8: {
      const uint64_t v = *static_cast<const volatile uint64_t*>(src);
      std::memcpy(dst, &v, 8);
      break;
    }
    default:
      std::memcpy(dst, s, len);
  }
  std::atomic_signal_fence(std::memory_order_acquire);
}

void MockPlatform::frame_in_place(uint16_t, uint16_t, void*, uint32_t) {
  ++shim_calls_;
  ++frames_in_place_;
}

void MockPlatform::published(const PublishedChain&) {
  ++shim_calls_;
  ++published_;
}

void MockPlatform::completed(uint16_t, uint16_t, uint32_t) {
  ++shim_calls_;
  ++completed_;
}

void MockPlatform::barrier(Barrier kind) {
  ++shim_calls_;
  ++barriers_[static_cast<uint8_t>(kind) % kNumBarrierKinds];
  switch (kind) {
    case Barrier::kRead:
    case Barrier::kDmaRead:
      std::atomic_thread_fence(std::memory_order_acquire);
      break;
    case Barrier::kWrite:
    case Barrier::kDmaWrite:
      std::atomic_thread_fence(std::memory_order_release);
      break;
    case Barrier::kFull:
    case Barrier::kDmaFull:
      std::atomic_thread_fence(std::memory_order_seq_cst);
      break;
  }
}

bool MockPlatform::wait_interrupt(uint64_t) {
  ++shim_calls_;
  return device_.interrupt_pending() || interrupt_waiting();
}

// ---- interrupts ---------------------------------------------------------------

uint16_t MockPlatform::msi_messages(uint16_t max, MsiMessage* out) {
  ++shim_calls_;
  const uint16_t n = std::min(max, msi_vectors_);
  for (uint16_t i = 0; i < n; ++i) out[i] = MsiMessage{0xFEE0'0000u, kMsiDataBase + i};
  return n;
}

bool MockPlatform::line_interrupt() {
  ++shim_calls_;
  return line_routed_;
}

void MockPlatform::arm_interrupts(InterruptMode mode, uint16_t vectors) {
  ++shim_calls_;
  ++arm_calls_;
  armed_mode_ = mode;
  armed_vectors_ = mode == InterruptMode::kMsix ? std::min(vectors, msi_vectors_) : 0;
  if (mode == InterruptMode::kPolling) queued_.clear();  // masked: what waited is dropped
  if (mode == InterruptMode::kIntx && synchronous_ && device_.line_asserted())
    run_handler(IrqSource::line());  // a level line already high fires at unmask
}

void MockPlatform::set_interrupt_handler(InterruptHandler handler, bool synchronous) {
  handler_ = std::move(handler);
  synchronous_ = synchronous;
}

void MockPlatform::run_handler(IrqSource source) {
  if (!handler_ || in_handler_) return;  // one interrupt at a time (the driver's contract)
  in_handler_ = true;
  ++delivered_;
  handler_(source);
  in_handler_ = false;
}

void MockPlatform::on_device_interrupt(const InterruptRecord& r) {
  IrqSource source = IrqSource::line();
  if (r.kind == InterruptRecord::Kind::kMsi) {
    // The message names the vector: it must be one this platform handed out.
    const uint32_t i = r.data - kMsiDataBase;
    if (r.address != 0xFEE0'0000u || r.data < kMsiDataBase || i >= msi_vectors_) {
      ++bad_msis_;
      return;
    }
    if (armed_mode_ != InterruptMode::kMsix || i >= armed_vectors_) {
      ++unarmed_;
      return;
    }
    source = IrqSource::msi(uint16_t(i));
  } else if (armed_mode_ != InterruptMode::kIntx || !line_routed_) {
    return;  // the line is masked at the interrupt controller
  }
  if (synchronous_ && !in_handler_) {
    run_handler(source);
    // Level: a line the handler left asserted fires again.
    for (uint32_t n = 0; r.kind == InterruptRecord::Kind::kLine && n < kMaxLineRepeats &&
                         armed_mode_ == InterruptMode::kIntx && device_.line_asserted();
         ++n)
      run_handler(source);
    return;
  }
  // The device's own line is a level: deliver_interrupts() sees it while it
  // is asserted. Another function's pulse (kForeignLine) is queued.
  if (r.kind == InterruptRecord::Kind::kLine) return;
  if (queued_.size() >= kMaxQueued) {
    ++dropped_;
    return;
  }
  queued_.push_back(source);
}

bool MockPlatform::interrupt_waiting() const {
  return !queued_.empty() ||
         (armed_mode_ == InterruptMode::kIntx && line_routed_ && device_.line_asserted());
}

size_t MockPlatform::deliver_interrupts(size_t max) {
  size_t n = 0;
  while (n < max && !queued_.empty()) {
    const IrqSource s = queued_.front();
    queued_.pop_front();
    run_handler(s);
    ++n;
  }
  while (n < max && armed_mode_ == InterruptMode::kIntx && line_routed_ &&
         device_.line_asserted()) {
    run_handler(IrqSource::line());
    ++n;
  }
  return n;
}

uint64_t MockPlatform::now_ns() {
  ++shim_calls_;
  if (clock_) return clock_();
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count());
}

void MockPlatform::log(LogLevel level, const char* message) {
  ++shim_calls_;
  if (echo_ && level <= echo_level_) std::fprintf(stderr, "[driver] %s\n", message);
  if (log_.size() < kMaxLogLines) log_.push_back(LogLine{level, message});
}

}  // namespace vnet::mock
