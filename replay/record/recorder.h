// The recorder: decorators that forward every call to another shim (or
// pool) and write it to a trace as it goes (DESIGN.md, "Traces").
//
//   driver (VirtioNet, transports, SplitQueue)          Session (caller)
//        |  Platform calls                                 |  BufferPool calls
//        v                                                 v
//   RecordingPlatform ---- TraceWriter ----------------- RecordingPool
//        |  forwards                                       |  forwards
//        v                                                 v
//   any Platform (mock, guest, fuzz)                   any BufferPool
//
// dma_map/dma_unmap are forwarded without an event (see dma_map below).
//
// Order of recording: for an input (reg_read, fetch, frame, bar_info,
// dma_alloc's success, now, wait_irq, msi_messages, line_interrupt) the
// inner shim answers first and the answer is written; for an expectation
// (reg_write, publish, complete, barrier, op_*, log, dma_free,
// arm_interrupts) the event is written, then forwarded. So
// the trace order is the order the driver made the calls in.
//
// Naming instead of addresses:
//  * DMA regions get ids 0, 1, 2, ... in allocation order. A 4-byte
//    register write whose value is the low 32 bits of an address inside a
//    live region, or the page frame number of a region's page-aligned start,
//    is written as {"dma":id,"off":o,"as":"lo32"|"pfn"}; the 4-byte write
//    to the next register right after a lo32 write, carrying the high 32
//    bits of that address, as "hi32". (This is how the transports give the
//    device its ring addresses; docs/trace-format.md, "Addresses".)
//  * Pool buffers get ids in the order the recorder first sees them.
//
// Freestanding: fixed tables, no heap. Up to kMaxDmaRegions live regions
// and kMaxBuffers distinct pool buffers; beyond that ids are written as
// null and the trace says so (a replay of it then diverges there).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "driver/net/packet_buffer.h"
#include "driver/platform/platform.h"
#include "replay/record/trace_events.h"
#include "replay/record/trace_writer.h"

namespace vnet::trace {

class RecordingPlatform final : public Platform {
 public:
  static constexpr uint32_t kMaxDmaRegions = 64;

  RecordingPlatform(Platform& inner, TraceWriter& out) : inner_(inner), out_(out) {}

  uint32_t reg_read(Region region, uint32_t offset, uint8_t width) override;
  void reg_write(Region region, uint32_t offset, uint8_t width, uint32_t value) override;
  BarInfo bar_info(uint8_t bar) override;
  bool dma_alloc(size_t size, size_t align, DmaRegion* out) override;
  void dma_free(const DmaRegion& region) override;
  // Forwarded, not recorded (docs/trace-format.md, "DMA mappings"): a
  // mapping changes only addresses, which no trace holds, and where the
  // device's bytes are, which fetch, frame and publish already record by
  // content. Forwarding matters: the platform underneath (a bounce
  // platform, the mock's IOMMU) must see every map and unmap.
  bool dma_map(uint8_t* cpu, uint64_t phys, uint32_t len, DmaDirection dir,
               DmaMapping* out) override;
  void dma_unmap(const DmaMapping& m, uint8_t* cpu, uint32_t device_len, DmaDirection dir) override;
  void fetch(const DeviceMemRef& what, const volatile void* src, void* dst, size_t len) override;
  void frame_in_place(uint16_t queue, uint16_t desc, void* data, uint32_t len) override;
  void published(const PublishedChain& chain) override;
  void completed(uint16_t queue, uint16_t head, uint32_t len) override;
  void barrier(Barrier kind) override;
  bool wait_interrupt(uint64_t timeout_ns) override;
  uint64_t now_ns() override;
  void log(LogLevel level, const char* message) override;
  void op_begin(DriverOp op) override;
  void op_end(DriverOp op) override;
  // Interrupt delivery: the platform's answers (msi_messages,
  // line_interrupt) are inputs, the driver's arm_interrupts an
  // expectation. The interrupts themselves are API calls
  // (Session::handle_interrupt), not platform events.
  uint16_t msi_messages(uint16_t max, MsiMessage* out) override;
  bool line_interrupt() override;
  void arm_interrupts(InterruptMode mode, uint16_t vectors) override;

  Platform& inner() { return inner_; }
  // dma_map() calls the platform underneath refused. A trace cannot say
  // so (the replayer maps every buffer), so a recording with failures does
  // not replay: a recording tool should check this is 0.
  uint64_t map_failures() const { return map_failures_; }

 private:
  struct DmaSlot {
    bool live;
    uint32_t id;
    uint64_t addr;
    uint64_t size;
  };
  bool name_address(Region region, uint32_t offset, uint8_t width, uint32_t value, AddrRef* out);

  Platform& inner_;
  TraceWriter& out_;
  DmaSlot dma_[kMaxDmaRegions] = {};
  uint32_t next_dma_id_ = 0;
  // The previous reg_write, when it was a lo32 address (for hi32 pairing).
  bool last_lo_ = false;
  Region last_lo_region_ = Region::kPciConfig;
  uint32_t last_lo_offset_ = 0;
  AddrRef last_lo_addr_{};
  uint64_t last_lo_full_ = 0;
  uint64_t map_failures_ = 0;
};

class RecordingPool final : public BufferPool {
 public:
  static constexpr uint32_t kMaxBuffers = 8192;  // a power of two

  RecordingPool(BufferPool& inner, TraceWriter& out) : inner_(inner), out_(out) {}

  PacketBuffer* alloc() override;
  void free(PacketBuffer* buffer) override;

  // The id of a buffer (kUnknownId when never seen or the table is full).
  uint32_t id_of(const PacketBuffer* buffer) const;
  uint32_t buffers_seen() const { return next_id_; }

 private:
  struct Slot {
    const PacketBuffer* buffer;
    uint32_t id;
  };
  static constexpr uint32_t kSlots = 2 * kMaxBuffers;
  uint32_t slot_of(const PacketBuffer* buffer) const;

  BufferPool& inner_;
  TraceWriter& out_;
  Slot slots_[kSlots] = {};  // open addressing on the pointer
  uint32_t next_id_ = 0;
};

}  // namespace vnet::trace
