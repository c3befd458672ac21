#include "replay/record/recorder.h"

namespace vnet::trace {

namespace {
constexpr uint32_t kPageShift = 12;
}  // namespace

uint32_t RecordingPlatform::reg_read(Region region, uint32_t offset, uint8_t width) {
  const uint32_t v = inner_.reg_read(region, offset, width);
  write_reg_read(out_, region, offset, width, v);
  return v;
}

bool RecordingPlatform::name_address(Region region, uint32_t offset, uint8_t width, uint32_t value,
                                     AddrRef* out) {
  if (width != 4) return false;
  // The high half of the address whose low half was written just before,
  // to the next register.
  if (last_lo_ && last_lo_region_ == region && last_lo_offset_ + 4 == offset &&
      static_cast<uint32_t>(last_lo_full_ >> 32) == value) {
    *out = last_lo_addr_;
    out->form = AddrForm::kHi32;
    return true;
  }
  for (const DmaSlot& s : dma_) {
    if (!s.live) continue;
    // Low 32 bits of an address inside the region (or one past its end).
    const uint32_t base_lo = static_cast<uint32_t>(s.addr);
    const uint64_t off = static_cast<uint32_t>(value - base_lo);
    if (off <= s.size && ((s.addr + off) & 0xFFFF'FFFFu) == value) {
      *out = AddrRef{s.id, off, AddrForm::kLo32};
      last_lo_full_ = s.addr + off;
      return true;
    }
    // Page frame number of a page-aligned region start (legacy queue PFN).
    if ((s.addr & ((uint64_t{1} << kPageShift) - 1)) == 0 && (s.addr >> kPageShift) == value) {
      *out = AddrRef{s.id, 0, AddrForm::kPfn};
      return true;
    }
  }
  return false;
}

void RecordingPlatform::reg_write(Region region, uint32_t offset, uint8_t width, uint32_t value) {
  AddrRef addr;
  const bool is_addr = name_address(region, offset, width, value, &addr);
  write_reg_write(out_, region, offset, width, value, is_addr ? &addr : nullptr);
  last_lo_ = is_addr && addr.form == AddrForm::kLo32;
  if (last_lo_) {
    last_lo_region_ = region;
    last_lo_offset_ = offset;
    last_lo_addr_ = addr;
  }
  inner_.reg_write(region, offset, width, value);
}

BarInfo RecordingPlatform::bar_info(uint8_t bar) {
  const BarInfo info = inner_.bar_info(bar);
  write_bar_info(out_, bar, info);
  return info;
}

bool RecordingPlatform::dma_alloc(size_t size, size_t align, DmaRegion* out) {
  const bool ok = inner_.dma_alloc(size, align, out);
  uint32_t id = kUnknownId;
  if (ok) {
    id = next_dma_id_++;
    for (DmaSlot& s : dma_) {
      if (!s.live) {
        s = DmaSlot{true, id, out->device_addr, out->size};
        break;
      }
    }
  }
  write_dma_alloc(out_, size, align, ok, id);
  return ok;
}

void RecordingPlatform::dma_free(const DmaRegion& region) {
  uint32_t id = kUnknownId;
  for (DmaSlot& s : dma_) {
    if (s.live && s.addr == region.device_addr) {
      id = s.id;
      s.live = false;
      break;
    }
  }
  write_dma_free(out_, id);
  inner_.dma_free(region);
}

bool RecordingPlatform::dma_map(uint8_t* cpu, uint64_t phys, uint32_t len, DmaDirection dir,
                                DmaMapping* out) {
  const bool ok = inner_.dma_map(cpu, phys, len, dir, out);
  if (!ok) ++map_failures_;
  return ok;
}

void RecordingPlatform::dma_unmap(const DmaMapping& m, uint8_t* cpu, uint32_t device_len,
                                  DmaDirection dir) {
  inner_.dma_unmap(m, cpu, device_len, dir);
}

void RecordingPlatform::fetch(const DeviceMemRef& what, const volatile void* src, void* dst,
                              size_t len) {
  inner_.fetch(what, src, dst, len);
  write_fetch(out_, what, dst, len);
}

void RecordingPlatform::frame_in_place(uint16_t queue, uint16_t desc, void* data, uint32_t len) {
  inner_.frame_in_place(queue, desc, data, len);
  write_frame(out_, queue, desc, data, len);
}

void RecordingPlatform::published(const PublishedChain& chain) {
  // An indirect chain's table by the DMA region it lies in (the driver
  // allocated its tables with dma_alloc), like a register's address value.
  AddrRef table;
  bool named = false;
  if (chain.indirect) {
    for (const DmaSlot& s : dma_) {
      if (s.live && chain.table_addr >= s.addr && chain.table_addr - s.addr < s.size) {
        table = AddrRef{s.id, chain.table_addr - s.addr, AddrForm::kLo32};
        named = true;
        break;
      }
    }
  }
  write_publish(out_, chain, named ? &table : nullptr);
  inner_.published(chain);
}

void RecordingPlatform::completed(uint16_t queue, uint16_t head, uint32_t len) {
  write_complete(out_, queue, head, len);
  inner_.completed(queue, head, len);
}

void RecordingPlatform::barrier(Barrier kind) {
  write_barrier(out_, kind);
  inner_.barrier(kind);
}

bool RecordingPlatform::wait_interrupt(uint64_t timeout_ns) {
  const bool arrived = inner_.wait_interrupt(timeout_ns);
  write_wait_irq(out_, timeout_ns, arrived);
  return arrived;
}

uint64_t RecordingPlatform::now_ns() {
  const uint64_t v = inner_.now_ns();
  write_now(out_, v);
  return v;
}

void RecordingPlatform::log(LogLevel level, const char* message) {
  write_log(out_, level, message);
  inner_.log(level, message);
}

void RecordingPlatform::op_begin(DriverOp op) {
  write_op(out_, true, op);
  inner_.op_begin(op);
}

void RecordingPlatform::op_end(DriverOp op) {
  write_op(out_, false, op);
  inner_.op_end(op);
}

uint16_t RecordingPlatform::msi_messages(uint16_t max, MsiMessage* out) {
  uint16_t n = inner_.msi_messages(max, out);
  // The driver takes at most max; a platform that says more is cut to it
  // in the trace as in what the driver is told.
  if (n > max) n = max;
  write_msi_messages(out_, max, n, out);
  return n;
}

bool RecordingPlatform::line_interrupt() {
  const bool present = inner_.line_interrupt();
  write_line_interrupt(out_, present);
  return present;
}

void RecordingPlatform::arm_interrupts(InterruptMode mode, uint16_t vectors) {
  write_arm_interrupts(out_, mode, vectors);
  inner_.arm_interrupts(mode, vectors);
}

uint32_t RecordingPool::slot_of(const PacketBuffer* buffer) const {
  uint64_t h = reinterpret_cast<uintptr_t>(buffer);
  h ^= h >> 17;
  h *= 0x9E3779B97F4A7C15ull;
  uint32_t i = static_cast<uint32_t>(h >> 40) & (kSlots - 1);
  // At most kMaxBuffers of kSlots are ever filled: a free slot exists.
  while (slots_[i].buffer != nullptr && slots_[i].buffer != buffer) i = (i + 1) & (kSlots - 1);
  return i;
}

uint32_t RecordingPool::id_of(const PacketBuffer* buffer) const {
  if (buffer == nullptr) return kUnknownId;
  const Slot& s = slots_[slot_of(buffer)];
  return s.buffer == buffer ? s.id : kUnknownId;
}

PacketBuffer* RecordingPool::alloc() {
  PacketBuffer* b = inner_.alloc();
  uint32_t id = kUnknownId;
  if (b != nullptr) {
    Slot& s = slots_[slot_of(b)];
    if (s.buffer == b) {
      id = s.id;
    } else if (next_id_ < kMaxBuffers) {
      s = Slot{b, next_id_++};
      id = s.id;
    }
  }
  write_pool_alloc(out_, b != nullptr, id);
  return b;
}

void RecordingPool::free(PacketBuffer* buffer) {
  write_pool_free(out_, id_of(buffer));
  inner_.free(buffer);
}

}  // namespace vnet::trace
