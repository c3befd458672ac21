#include "guest/shim/guest_platform.h"

#include "guest/kernel/clock.h"
#include "guest/kernel/console.h"
#include "guest/kernel/cpu.h"
#include "guest/kernel/idt.h"
#include "guest/kernel/ioapic.h"
#include "guest/kernel/lapic.h"
#include "guest/kernel/msi.h"
#include "guest/kernel/page_alloc.h"
#include "guest/kernel/paging.h"
#include "guest/kernel/pci_intx.h"

namespace guest {
namespace {

// Uncached device memory, one access of the given width (a 32-bit
// register in one 32-bit load, as virtio-mmio requires, 4.2.2.2).
uint32_t load(uintptr_t addr, uint8_t width) {
  switch (width) {
    case 1:
      return *reinterpret_cast<const volatile uint8_t*>(addr);
    case 2:
      return *reinterpret_cast<const volatile uint16_t*>(addr);
    default:
      return *reinterpret_cast<const volatile uint32_t*>(addr);
  }
}

void store(uintptr_t addr, uint8_t width, uint32_t value) {
  switch (width) {
    case 1:
      *reinterpret_cast<volatile uint8_t*>(addr) = static_cast<uint8_t>(value);
      break;
    case 2:
      *reinterpret_cast<volatile uint16_t*>(addr) = static_cast<uint16_t>(value);
      break;
    default:
      *reinterpret_cast<volatile uint32_t*>(addr) = value;
      break;
  }
}

}  // namespace

bool GuestPlatform::bind(const pci::Function& function) {
  function_ = function;
  bound_ = Bound::kPci;
  for (const pci::Bar& b : function_.bars) {
    if (b.present && !b.is_io && !paging::map_identity(b.base, b.size, true)) return false;
  }
  return true;
}

bool GuestPlatform::bind_mmio(uint64_t base, uint64_t size) {
  if (size == 0 || size > 0xffffffffu || !paging::map_identity(base, size, true)) return false;
  function_ = pci::Function{};
  mmio_base_ = base;
  mmio_size_ = size;
  bound_ = Bound::kMmio;
  return true;
}

bool GuestPlatform::mmio_window(vnet::Region region, uint32_t offset, uint8_t width,
                                uintptr_t* addr) {
  if (region != vnet::Region::kMmio || bound_ != Bound::kMmio) return false;
  if (width != 1 && width != 2 && width != 4) return false;
  if (uint64_t{offset} + width > mmio_size_ || (offset & (width - 1)) != 0) return false;
  *addr = static_cast<uintptr_t>(mmio_base_ + offset);
  return true;
}

bool GuestPlatform::bar_window(vnet::Region region, uint32_t offset, uint8_t width,
                               const pci::Bar** bar) {
  unsigned index = static_cast<unsigned>(region) - static_cast<unsigned>(vnet::Region::kBar0);
  if (bound_ != Bound::kPci || index >= vnet::kNumBars) return false;
  const pci::Bar& b = function_.bars[index];
  if (!b.present || (width != 1 && width != 2 && width != 4)) return false;
  if (uint64_t{offset} + width > b.size || (offset & (width - 1)) != 0) return false;
  *bar = &b;
  return true;
}

uint32_t GuestPlatform::reg_read(vnet::Region region, uint32_t offset, uint8_t width) {
  if (region == vnet::Region::kPciConfig) {
    if (bound_ != Bound::kPci || offset + width > pci::kConfigSize) {
      ++refused_;
      return 0xffffffff;
    }
    return pci::config_read(function_.addr, offset, width);
  }
  uintptr_t addr = 0;
  if (region == vnet::Region::kMmio) {
    if (!mmio_window(region, offset, width, &addr)) {
      ++refused_;
      return 0xffffffff;
    }
    return load(addr, width);
  }
  const pci::Bar* bar = nullptr;
  if (!bar_window(region, offset, width, &bar)) {
    ++refused_;
    return 0xffffffff;
  }
  if (bar->is_io) {
    uint16_t port = static_cast<uint16_t>(bar->base + offset);
    switch (width) {
      case 1:
        return cpu::inb(port);
      case 2:
        return cpu::inw(port);
      default:
        return cpu::inl(port);
    }
  }
  return load(static_cast<uintptr_t>(bar->base + offset), width);
}

void GuestPlatform::reg_write(vnet::Region region, uint32_t offset, uint8_t width, uint32_t value) {
  if (region == vnet::Region::kPciConfig) {
    if (bound_ != Bound::kPci || offset + width > pci::kConfigSize) {
      ++refused_;
      return;
    }
    pci::config_write(function_.addr, offset, width, value);
    return;
  }
  uintptr_t addr = 0;
  if (region == vnet::Region::kMmio) {
    if (!mmio_window(region, offset, width, &addr))
      ++refused_;
    else
      store(addr, width, value);
    return;
  }
  const pci::Bar* bar = nullptr;
  if (!bar_window(region, offset, width, &bar)) {
    ++refused_;
    return;
  }
  if (bar->is_io) {
    uint16_t port = static_cast<uint16_t>(bar->base + offset);
    switch (width) {
      case 1:
        cpu::outb(port, static_cast<uint8_t>(value));
        break;
      case 2:
        cpu::outw(port, static_cast<uint16_t>(value));
        break;
      default:
        cpu::outl(port, value);
        break;
    }
    return;
  }
  store(static_cast<uintptr_t>(bar->base + offset), width, value);
}

vnet::BarInfo GuestPlatform::bar_info(uint8_t bar) {
  vnet::BarInfo info;
  if (bound_ != Bound::kPci || bar >= vnet::kNumBars) return info;
  const pci::Bar& b = function_.bars[bar];
  info.present = b.present;
  info.is_io = b.is_io;
  info.size = b.size;
  return info;
}

bool GuestPlatform::dma_alloc(size_t size, size_t align, vnet::DmaRegion* out) {
  uint64_t addr = phys_allocator().alloc(size, align);
  if (addr == 0) return false;
  out->cpu = reinterpret_cast<void*>(static_cast<uintptr_t>(addr));
  out->device_addr = addr;
  out->size = size;
  dma_in_use_ += size;
  return true;
}

void GuestPlatform::dma_free(const vnet::DmaRegion& region) {
  if (region.cpu == nullptr) return;
  phys_allocator().free(reinterpret_cast<uintptr_t>(region.cpu), region.size);
  dma_in_use_ -= region.size;
}

void GuestPlatform::fetch(const vnet::DeviceMemRef& what, const volatile void* src, void* dst,
                          size_t len) {
  (void)what;
  uintptr_t s = reinterpret_cast<uintptr_t>(src);
  auto* d = static_cast<uint8_t*>(dst);
  // Widest naturally aligned accesses: a le16 index or a le32 field is
  // read in one load, as the device wrote it.
  if ((s & 3) == 0 && (len & 3) == 0) {
    for (size_t i = 0; i < len; i += 4) {
      uint32_t v = *reinterpret_cast<const volatile uint32_t*>(s + i);
      __builtin_memcpy(d + i, &v, 4);
    }
  } else if ((s & 1) == 0 && (len & 1) == 0) {
    for (size_t i = 0; i < len; i += 2) {
      uint16_t v = *reinterpret_cast<const volatile uint16_t*>(s + i);
      __builtin_memcpy(d + i, &v, 2);
    }
  } else {
    for (size_t i = 0; i < len; ++i) d[i] = *reinterpret_cast<const volatile uint8_t*>(s + i);
  }
}

void GuestPlatform::barrier(vnet::Barrier kind) {
  // x86 (TSO): only store->load needs a fence, for the SMP and the DMA
  // kinds alike (Linux: virt_mb = mb = mfence; rmb/wmb/dma_rmb/dma_wmb are
  // compiler barriers). See platform.h, "Memory ordering".
  if (kind == vnet::Barrier::kFull || kind == vnet::Barrier::kDmaFull)
    cpu::mfence();
  else
    cpu::compiler_barrier();
}

uint64_t GuestPlatform::now_ns() {
  return clock::now_ns();
}

void GuestPlatform::log(vnet::LogLevel level, const char* message) {
  if (static_cast<int>(level) > static_cast<int>(log_level_)) return;
  static const char* const kLevel[] = {"error", "warn", "info", "debug"};
  kprintf("[driver %s] %s\n", kLevel[static_cast<int>(level)], message);
}

// ---- interrupts ---------------------------------------------------------------

uint16_t GuestPlatform::msi_messages(uint16_t max, vnet::MsiMessage* out) {
  // MSI needs a PCI function (an MSI-X table); a virtio-mmio window has none.
  if (!allow_msi_ || bound_ != Bound::kPci || !lapic::present()) return 0;
  if (max > vnet::kMaxMsiVectors) max = vnet::kMaxMsiVectors;
  // Vectors are allocated once and kept: a re-attach gets the same messages.
  while (msi_count_ < max) {
    VectorSlot& slot = msi_slots_[msi_count_];
    slot = VectorSlot{this, msi_count_};
    const uint8_t v = idt::allocate(&on_vector, &slot);
    if (v == 0) break;
    msi_idt_[msi_count_++] = v;
  }
  const uint16_t n = max < msi_count_ ? max : msi_count_;
  const uint8_t apic = static_cast<uint8_t>(lapic::id());
  for (uint16_t i = 0; i < n; ++i) {
    const msi::Message m = msi::compose(msi_idt_[i], apic);
    out[i] = vnet::MsiMessage{m.address, m.data};
  }
  return n;
}

bool GuestPlatform::line_interrupt() {
  if (!allow_line_ || bound_ == Bound::kNone || !ioapic::present()) return false;
  if (line_routed_) return true;
  pci_intx::Route route = line_route_;
  if (!line_route_known_ && (bound_ != Bound::kPci || !pci_intx::route_of(function_, &route)))
    return false;
  line_slot_ = VectorSlot{this, 0xFFFF};
  const uint8_t v = idt::allocate(&on_vector, &line_slot_);
  if (v == 0) return false;
  ioapic::Redirection r;
  r.vector = v;
  r.destination = static_cast<uint8_t>(lapic::id());
  r.trigger = route.trigger;
  r.polarity = route.polarity;
  if (!ioapic::route(route.gsi, r)) {  // programmed masked
    idt::uninstall(v);
    return false;
  }
  line_routed_ = true;
  line_gsi_ = route.gsi;
  line_vector_ = v;
  return true;
}

void GuestPlatform::arm_interrupts(vnet::InterruptMode mode, uint16_t vectors) {
  armed_mode_ = mode;
  armed_vectors_ = mode == vnet::InterruptMode::kMsix ? vectors : 0;
  if (!line_routed_) return;
  if (mode == vnet::InterruptMode::kIntx)
    ioapic::unmask(line_gsi_);
  else
    ioapic::mask(line_gsi_);
}

void GuestPlatform::on_vector(void* context, uint8_t) {
  VectorSlot& slot = *static_cast<VectorSlot*>(context);
  slot.platform->dispatch(slot.index == 0xFFFF ? vnet::IrqSource::line()
                                               : vnet::IrqSource::msi(slot.index));
}

void GuestPlatform::dispatch(vnet::IrqSource source) {
  const bool armed =
      source.kind == vnet::IrqSource::Kind::kLine
          ? armed_mode_ == vnet::InterruptMode::kIntx
          : armed_mode_ == vnet::InterruptMode::kMsix && source.vector < armed_vectors_;
  if (!armed || handler_ == nullptr) {
    // An edge that came before arming or after disarming; a level line is
    // masked at the I/O APIC then, so it cannot come back.
    ++irq_unarmed_;
    return;
  }
  ++irq_delivered_;
  handler_(handler_context_, source);
}

}  // namespace guest
