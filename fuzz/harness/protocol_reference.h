// ProtocolReference: oracles (f) window and (g) protocol. They check what the
// driver tells the device against what the device told it, at the shim
// boundary, whatever the device does -- a lying device never excuses the
// driver from these rules, so they hold on every input of every target
// (boundary and mock alike), not only on well-behaved ones.
//
//   OraclePlatform (every shim call) --> ProtocolReference
//        reg_read answers       -> PCI configuration image, feature offer,
//                                  FEATURES_OK read-back
//        bar_info answers       -> BAR sizes
//        reg_read/reg_write     -> (f): inside an advertised window
//        driver_feature writes  -> (g): only bits of the offer read
//        DRIVER_OK write        -> (g): only after FEATURES_OK read back set
//        used.idx / used elems  -> (g): each completion the driver accepts is
//                                  the next element it fetched, within the
//        completed()               used index, and none once the index ran
//                                  past the chains in flight
//        barrier() and the rings -> (g): the ordering the ring protocol needs
//
// Ordering (g), per queue, on the split ring the driver told the device
// about (queue address registers: modern queue_driver, legacy queue PFN and
// size; translated through the DMA regions the driver allocated). At every
// shim call the reference looks at avail.idx and avail.flags in memory, so
// it sees when the driver stored them (between two shim calls):
//   * chains announced with published() become visible through an avail.idx
//     store only after a write-class barrier (kWrite, kFull, DMA kinds)
//     issued after the last of them (2.7.13.2);
//   * between that store and the fetch of used.flags that decides whether
//     to notify, a full barrier (2.7.13.3 / 2.7.10);
//   * between clearing VIRTQ_AVAIL_F_NO_INTERRUPT and the next fetch of
//     used.idx, a full barrier (the re-check after enabling interrupts);
//   * between a fetch of used.idx and the fetch of used elements, a
//     read-class barrier (kRead, kFull, DMA kinds; 2.7.13);
//   * once VIRTIO_F_ORDER_PLATFORM was accepted, only DMA-strength kinds.
//
// Windows (f): the device advertises what the driver may touch through the
// PCI configuration space it answered (virtio vendor capabilities: BAR,
// offset, length; 4.1.4) and through bar_info (a BAR's size; the legacy
// interface is the whole of I/O BAR 0, 4.1.4.8). A capability is a window
// only when the driver read all of it and it lies within its BAR. Every BAR
// access must fall entirely inside one window; configuration space accesses
// inside the 256-byte header. Nothing here parses what the driver parsed:
// the image holds the device's answers, and the reference walks it on its
// own.
//
// Registers of the transport in use are located from the device-status
// register the harness names after each probe (set_status_register): legacy
// BAR 0 offset 0x12, or a modern common configuration window at status -
// 0x14. Until then (the probe) only the window rule applies.
//
// Threading: one input at a time, one thread (the fuzz harness).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "driver/platform/platform.h"
#include "fuzz/harness/packed_reference.h"

namespace vnet::fuzz {

class ProtocolReference {
 public:
  static constexpr uint16_t kMaxQueues =
      33;  // 16 queue pairs and a control queue (the mock's most)

  void begin_input();
  void set_status_register(Region region, uint32_t offset);
  // The transport in use is virtio-mmio of this version (1 or 2) in a
  // window of this many bytes (after a successful MMIO probe); version 0:
  // only the window rule, for a window the probe is about to read.
  void set_mmio_transport(uint32_t version, uint64_t window);
  // The device acknowledged a reset: rings, offer and status start over.
  void device_reset();

  void on_bar_info(uint8_t bar, const BarInfo& info);
  // Inside the MSI-X table or PBA of a capability the driver read.
  bool in_msix_window(uint8_t bar, uint32_t offset, uint8_t width) const;
  // Called before the access reaches the device (window) and, for reads,
  // with the device's answer.
  void check_access(Region region, uint32_t offset, uint8_t width, bool write, const void* pc);
  void on_read(Region region, uint32_t offset, uint8_t width, uint32_t value);
  // Reads outside the common configuration window of the modern transport
  // in use are device-configuration reads (the ISR is read only by
  // poll_device, never between the generation reads of a snapshot).
  void on_write(Region region, uint32_t offset, uint8_t width, uint32_t value);

  void on_published(const PublishedChain& chain);
  void on_barrier(Barrier kind);
  void on_dma_alloc(const DmaRegion& region);
  void on_dma_free(const DmaRegion& region);
  // At the start of every shim call: what the driver stored since the last.
  void observe_rings();
  // Whether the device itself may write [p, p + len) -- its own used ring
  // as it laid it out covers it, or it rewrote descriptors to point
  // anywhere: a change seen there is then not judged as the driver's
  // store. nullptr: the device writes nothing into the driver's rings.
  using DeviceWrites = bool (*)(void* context, const volatile void* p, size_t len);
  void set_device_writes(DeviceWrites f, void* context) {
    device_writes_ = f;
    device_writes_context_ = context;
  }
  // attaching: the fetch is part of attach() (the used index is checked
  // before the first buffer is made available).
  void on_used_idx(uint16_t queue, uint16_t idx, bool attaching = false);
  void on_used_flags(uint16_t queue);
  // VIRTIO_F_EVENT_IDX (2.7.10): the driver fetched avail_event to decide
  // on a notification (the same full barrier as for used.flags; the
  // decision must be vring_need_event(avail_event, new, old) with old the
  // avail index of its previous decision). on_notify(): a notification of
  // queue reached the device. end_op(): a decision that called for a
  // notification got one (2.7.10.1: MUST).
  // notifications_seen: every notification reaches on_notify() (the
  // transport in use is known); otherwise no decision is judged.
  void on_avail_event(uint16_t queue, uint16_t event, bool notifications_seen);
  void on_notify(uint16_t queue);
  void end_op();
  // EVENT_IDX with interrupts wanted on queue: used_event must name the
  // next completion (2.7.10.2), or the device would not interrupt for it.
  void check_used_event(uint16_t queue);
  bool event_idx() const { return event_idx_; }
  // The device published a used element the driver must reject (an id out
  // of range, not in flight, or twice in one run): from the driver's next
  // look at used.idx on, no completion may be accepted on that queue until
  // the device is reset (it is broken), and the next poll_device() must
  // reset it.
  void note_bad_element(uint16_t queue) {
    if (queue < kMaxQueues) bad_element_[queue] = true;
  }
  // A queue the device lied on since the last acknowledged reset.
  bool lied(uint16_t queue) const { return queue < kMaxQueues && lied_[queue]; }
  bool lied_any() const {
    for (bool b : bad_element_)
      if (b) return true;
    return false;
  }
  void on_used_elems(uint16_t queue, const void* elems, size_t len);
  void on_completed(uint16_t queue, uint16_t head, uint32_t len);

  // Packed rings (VIRTIO_F_RING_PACKED written): the split ring's checks
  // above stand aside and PackedReference judges the ring (2.8). The
  // fetches of a packed ring: a used descriptor's flags (2 bytes), its len
  // and id (6 bytes), the device event structure (a notification decision,
  // with the same bookkeeping as on_avail_event).
  bool packed() const { return packed_; }
  void on_packed_flags(uint16_t queue, const volatile void* src, uint16_t pos, uint16_t flags,
                       bool recheck, bool attaching) {
    packed_ref_.on_flags(queue, src, pos, flags, recheck, attaching);
    if (packed_ref_.bad(queue)) note_bad_element(queue);
  }
  void on_packed_used(uint16_t queue, uint16_t pos, uint32_t len, uint16_t id) {
    packed_ref_.on_used(queue, pos, len, id);
    if (packed_ref_.bad(queue)) note_bad_element(queue);
  }
  void on_device_event(uint16_t queue, uint16_t off_wrap, uint16_t flags, bool notifications_seen);
  const PackedReference& packed_reference() const { return packed_ref_; }

  uint32_t in_flight(uint16_t queue) const { return queue < kMaxQueues ? inflight_[queue] : 0; }

 private:
  struct Window {
    uint8_t bar;
    uint64_t offset;
    uint64_t length;
    bool msix;  // an MSI-X table or PBA (PCI capability 0x11)
  };
  static constexpr int kMaxWindows = 32;
  static constexpr int kFifo = 256;  // a power of two

  bool cfg_byte(uint32_t offset, uint8_t* out) const;
  bool cfg_le32(uint32_t offset, uint32_t* out) const;
  bool cfg_le16(uint32_t offset, uint16_t* out) const;
  void rebuild_windows();
  // Windows from the capability positions in [lo, hi).
  void consider_caps(uint32_t lo, uint32_t hi);
  bool in_window(uint8_t bar, uint32_t offset, uint8_t width);
  // MSI-X (issue 12): the table and PBA of an MSI-X capability the driver
  // read (message control, table and PBA offset/BIR) that fit a present
  // BAR are windows too.
  void consider_msix(uint32_t at);
  void add_msix_window(uint8_t bar, uint64_t offset, uint64_t length);
  // Offset of a register of the transport in use, when this access is one.
  bool common_register(Region region, uint32_t offset, uint32_t* reg) const;
  // The driver's feature words and status writes, whatever the transport.
  void features_written(uint32_t select, uint32_t value);
  void status_written(uint8_t status);
  void on_mmio_read(uint32_t offset, uint8_t width, uint32_t value);
  void on_mmio_write(uint32_t offset, uint8_t width, uint32_t value);

  // PCI configuration image: what the device answered, byte by byte.
  uint8_t cfg_[256] = {};
  bool cfg_known_[256] = {};
  Window windows_[kMaxWindows] = {};
  int num_windows_ = 0;
  BarInfo bars_[kNumBars] = {};
  bool bar_known_[kNumBars] = {};
  uint64_t legacy_size_ = 0;  // largest I/O BAR 0 the device reported this input

  // virtio-mmio: the caller's window (0: none this input), the version in
  // use (0 while probing) and the GuestPageSize the driver wrote (v1).
  bool mmio_present_ = false;
  uint64_t mmio_window_ = 0;
  uint32_t mmio_version_ = 0;
  uint32_t mmio_page_size_ = 0;
  // Transport in use (after the first set_status_register).
  bool transport_known_ = false;
  bool legacy_ = false;
  Region status_region_ = Region::kBar0;
  uint32_t common_base_ = 0;
  uint32_t device_select_ = 0;
  uint32_t driver_select_ = 0;
  uint32_t offer_[2] = {};
  bool offer_known_[2] = {};
  uint8_t status_written_ = 0;
  bool features_ok_written_ = false;
  // Config snapshot (modern, 2.5.1 / 4.1.4.3): device-config reads
  // bracketed by config_generation reads.
  bool gen_known_ = false;  // a config_generation read since the reset
  uint8_t last_gen_ = 0;
  bool cfg_read_open_ = false;     // device-config reads since that read
  bool snapshot_done_ = false;     // an attempt was closed by a generation read
  bool snapshot_torn_ = false;     // ... and its two generations differed
  bool features_ok_read_ = false;  // a status read since the FEATURES_OK write
  bool features_ok_set_ = false;   // ... and the last one showed FEATURES_OK

  // Ordering.
  struct Ring {
    uint64_t desc = 0;  // device addresses as the driver set them
    uint64_t avail = 0;
    uint16_t size = 0;                            // legacy: the queue_size read
    const volatile uint8_t* avail_cpu = nullptr;  // translated; null: unknown
    uint16_t last_idx = 0;
    uint16_t last_flags = 0;
    uint16_t published = 0;        // chains published() since the last idx store
    bool pending_publish = false;  // published() since the last idx store
    bool write_barrier = false;    // a write-class barrier since published()
    bool stored = false;           // idx stored, no full barrier since
    bool irq_enabled = false;      // NO_INTERRUPT cleared, no full barrier since
    bool read_barrier = true;      // a read-class barrier since used.idx
    // EVENT_IDX.
    const volatile uint8_t* used_event_cpu = nullptr;  // null: unknown
    uint16_t last_used_event = 0;
    uint16_t kick_old = 0;       // avail.idx at the previous avail_event decision
    bool kick_open = false;      // a decision not yet followed by a notification
    bool kick_expected = false;  // ... and whether it called for one
    uint16_t kick_event = 0, kick_new = 0;
  };
  void locate(uint16_t queue);
  // A decision that called for a notification got one (closes it).
  void check_kick_made(uint16_t queue);
  DeviceWrites device_writes_ = nullptr;
  void* device_writes_context_ = nullptr;
  uint16_t queue_select_ = 0;
  Ring rings_[kMaxQueues] = {};
  static constexpr int kMaxDma = 8;
  DmaRegion dma_[kMaxDma] = {};
  bool order_platform_ = false;  // VIRTIO_F_ORDER_PLATFORM written
  bool event_idx_ = false;       // VIRTIO_F_EVENT_IDX written
  bool packed_ = false;          // VIRTIO_F_RING_PACKED written
  bool in_order_ = false;        // VIRTIO_F_IN_ORDER written
  // Split rings: the heads in the order they were made available (for
  // IN_ORDER's batches, 2.7.9).
  static constexpr uint32_t kMaxPosted = 1024;
  uint16_t posted_[kMaxQueues][kMaxPosted] = {};
  uint32_t posted_head_[kMaxQueues] = {};
  uint32_t posted_tail_[kMaxQueues] = {};
  PackedReference packed_ref_;

  // Rings.
  struct Elem {
    uint32_t id;
    uint32_t len;
  };
  uint32_t inflight_[kMaxQueues] = {};
  uint16_t last_used_[kMaxQueues] = {};
  uint16_t used_idx_[kMaxQueues] = {};
  bool jump_[kMaxQueues] = {};
  Elem fifo_[kMaxQueues][kFifo] = {};
  bool bad_element_[kMaxQueues] = {};
  bool lied_[kMaxQueues] = {};
  uint32_t fifo_head_[kMaxQueues] = {};
  uint32_t fifo_tail_[kMaxQueues] = {};
};

}  // namespace vnet::fuzz
