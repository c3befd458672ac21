#include "fuzz/harness/device_shims.h"

#include "driver/spec/mmio_layout.h"

#include <stdio.h>
#include <string.h>

#include "driver/spec/pci_layout.h"
#include "driver/spec/virtio_constants.h"
#include "fuzz/harness/world.h"

namespace vnet::fuzz {

namespace {
bool g_verbose = false;
}  // namespace

void ShimBase::set_verbose(bool verbose) {
  g_verbose = verbose;
}

bool ShimBase::dma_alloc(size_t size, size_t align, DmaRegion* out) {
  if (!take(alloc_budget_)) return false;
  mock::GuestMemory::Allocation a;
  if (!memory_.allocate(size, align < 16 ? 16 : align, &a)) return false;
  *out = DmaRegion{a.host, a.device_addr, a.size};
  return true;
}

void ShimBase::dma_free(const DmaRegion& region) {
  memory_.free(region.device_addr);
}

void ShimBase::log(LogLevel level, const char* message) {
  if (g_verbose) fprintf(stderr, "[driver %d] %s\n", static_cast<int>(level), message);
}

uint32_t FuzzMockPlatform::reg_read(Region region, uint32_t offset, uint8_t width) {
  if (region == Region::kPciConfig) {
    uint32_t v = device_.pci_config_read(offset, width);
    for (int i = 0; i < num_patches_; ++i) {
      const uint32_t at = patches_[i].offset - offset;
      if (at < width) {
        v &= ~(0xFFu << (8 * at));
        v |= uint32_t{patches_[i].value} << (8 * at);
      }
    }
    return v;
  }
  if (region >= Region::kBar0 && region <= Region::kBar5) {
    const uint8_t bar = static_cast<uint8_t>(static_cast<uint8_t>(region) - 1);
    const uint32_t v = device_.bar_read(bar, offset, width);
    if (churn_ != 0 && bar == device_.config().modern_bar && width == 1 &&
        offset == mock::MockDevice::kCommonOffset + spec::pci::common::kConfigGeneration) {
      --churn_;
      return (v + churn_ * 7 + 1) & 0xFF;
    }
    return v;
  }
  // virtio-mmio: the window (all ones unless the device is an MMIO one).
  if (region == Region::kMmio) {
    const uint32_t v = device_.mmio_read(offset, width);
    if (churn_ != 0 && device_.is_mmio_device() && offset == spec::mmio::kConfigGeneration) {
      --churn_;
      return v + churn_ * 7 + 1;
    }
    return v;
  }
  return width >= 4 ? 0xFFFF'FFFFu : (1u << (8 * width)) - 1;
}

void FuzzMockPlatform::reg_write(Region region, uint32_t offset, uint8_t width, uint32_t value) {
  if (region == Region::kPciConfig) return device_.pci_config_write(offset, width, value);
  if (region >= Region::kBar0 && region <= Region::kBar5) {
    // A notify may make the device process (read, write) buffers.
    World::DeviceDma dma(World::get());
    device_.bar_write(static_cast<uint8_t>(static_cast<uint8_t>(region) - 1), offset, width, value);
  } else if (region == Region::kMmio) {
    World::DeviceDma dma(World::get());  // QueueNotify, as a BAR notify
    device_.mmio_write(offset, width, value);
  }
}

void FuzzMockPlatform::fetch(const DeviceMemRef&, const volatile void* src, void* dst, size_t len) {
  const void* s = const_cast<const void*>(src);
  if (!memory_.contains(s, len)) {
    // The driver fetched "device memory" that is not shared with the device.
    memset(dst, 0, len);
    return;
  }
  memcpy(dst, s, len);
}

bool FuzzMockPlatform::dma_alloc(size_t size, size_t align, DmaRegion* out) {
  if (!ShimBase::dma_alloc(size, align, out)) return false;
  device_.dma_mappings().add_coherent(out->device_addr, out->size);
  return true;
}

void FuzzMockPlatform::dma_free(const DmaRegion& region) {
  device_.dma_mappings().remove_coherent(region.device_addr);
  ShimBase::dma_free(region);
}

bool FuzzMockPlatform::dma_map(uint8_t* cpu, uint64_t phys, uint32_t len, DmaDirection,
                               DmaMapping* out) {
  if (!take(map_budget_)) return false;
  // handle 1: the mapping is the IOMMU's (unmapped there too).
  const bool iommu = !device_.legacy_mode() && spec::has_feature(device_.negotiated_features(),
                                                                 spec::Feature::kAccessPlatform);
  *out =
      DmaMapping{iommu ? device_.dma_mappings().map(phys, len) : phys, cpu, len, iommu ? 1u : 0u};
  return true;
}

void FuzzMockPlatform::dma_unmap(const DmaMapping& m, uint8_t*, uint32_t, DmaDirection) {
  // A bad unmap is counted by the IOMMU; the oracle checks the pairing.
  if (m.handle == 1) device_.dma_mappings().unmap(m.device_addr, m.len);
}

void FuzzMockPlatform::offer_interrupts(uint16_t vectors, bool line) {
  msi_vectors_ = vectors;
  line_ = line;
  armed_ = InterruptMode::kPolling;
  armed_vectors_ = 0;
  num_pending_ = 0;
  device_.set_interrupt_sink(
      vectors != 0 || line ? [this](const mock::InterruptRecord& r) { on_device_interrupt(r); }
                           : mock::MockDevice::InterruptSink{});
}

uint16_t FuzzMockPlatform::msi_messages(uint16_t max, MsiMessage* out) {
  const uint16_t n = max < msi_vectors_ ? max : msi_vectors_;
  for (uint16_t i = 0; i < n; ++i) out[i] = MsiMessage{0xFEE0'0000u, kMsiDataBase + i};
  return n;
}

void FuzzMockPlatform::arm_interrupts(InterruptMode mode, uint16_t vectors) {
  armed_ = mode;
  armed_vectors_ =
      mode == InterruptMode::kMsix ? (vectors < msi_vectors_ ? vectors : msi_vectors_) : 0;
  if (mode == InterruptMode::kPolling) num_pending_ = 0;  // masked: what waited is dropped
}

void FuzzMockPlatform::on_device_interrupt(const mock::InterruptRecord& r) {
  IrqSource source = IrqSource::line();
  if (r.kind == mock::InterruptRecord::Kind::kMsi) {
    const uint32_t i = r.data - kMsiDataBase;
    if (r.address != 0xFEE0'0000u || r.data < kMsiDataBase || i >= armed_vectors_ ||
        armed_ != InterruptMode::kMsix)
      return;  // not a message this platform handed out and armed
    source = IrqSource::msi(static_cast<uint16_t>(i));
  } else if (r.kind == mock::InterruptRecord::Kind::kLine) {
    return;  // the device's own line is a level: take_interrupt() looks at it
  } else if (armed_ != InterruptMode::kIntx || !line_) {
    return;
  }
  if (num_pending_ < kMaxPending) pending_[num_pending_++] = source;
}

bool FuzzMockPlatform::take_interrupt(IrqSource* out) {
  if (num_pending_ > 0) {
    *out = pending_[0];
    for (int i = 1; i < num_pending_; ++i) pending_[i - 1] = pending_[i];
    --num_pending_;
    return true;
  }
  if (armed_ == InterruptMode::kIntx && line_ && device_.line_asserted()) {
    *out = IrqSource::line();
    return true;
  }
  return false;
}

bool FuzzMockPlatform::add_patch(PciPatch p) {
  if (num_patches_ == kMaxPatches) return false;
  patches_[num_patches_++] = p;
  return true;
}

uint32_t BoundaryPlatform::reg_read(Region, uint32_t, uint8_t width) {
  return static_cast<uint32_t>(in_.value(width > 4 ? 4 : width));
}

uint16_t BoundaryPlatform::msi_messages(uint16_t max, MsiMessage* out) {
  uint16_t n = static_cast<uint16_t>(in_.u8() % 4);
  if (n > max) n = max;
  for (uint16_t i = 0; i < n; ++i) out[i] = MsiMessage{0xFEE0'0000u, 0x4040u + i};
  return n;
}

BarInfo BoundaryPlatform::bar_info(uint8_t) {
  return bar_info_from_byte(in_.u8());
}

BarInfo bar_info_from_byte(uint8_t b) {
  BarInfo info;
  info.present = (b & 1) != 0;
  info.is_io = (b & 2) != 0;
  const unsigned k = b >> 2;
  info.size = k == 0 ? 0 : uint64_t{1} << k;
  return info;
}

void BoundaryPlatform::fetch(const DeviceMemRef&, const volatile void*, void* dst, size_t len) {
  in_.bytes(dst, len);
}

void BoundaryPlatform::frame_in_place(uint16_t, uint16_t, void* data, uint32_t len) {
  const size_t n = size_t{in_.u8()} * 8;
  in_.bytes(data, n < len ? n : len);
  if (n < len) memset(static_cast<uint8_t*>(data) + n, 0, len - n);
}

}  // namespace vnet::fuzz
