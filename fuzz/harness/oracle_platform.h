// OraclePlatform: the outermost shim of every fuzz target. It forwards each
// call to the shim that plays the device and checks the driver's side of
// the device boundary as it goes (findings.h lists the oracles).
//
//   Session (the caller) --> VirtioNet / transports / SplitQueue
//                                 | every Platform call
//                                 v
//   OraclePlatform   (a) frames inside completed buffers   (b) descriptor and
//        |               buffer ownership, DMA leaks        (c) double fetch
//        |               per call site                      (d) work budget
//        v
//   [RecordingPlatform]   only when crash-to-trace is on (repro.h)
//        v
//   BoundaryPlatform (input bytes) | FuzzMockPlatform (MockDevice)
//
// Mappings: every dma_map() of a packet buffer is paired with one
// dma_unmap() after the device gave the buffer back; after stop() none is
// live (except buffers held in quarantine).
//
// Ownership model: a descriptor is device-owned from published() until
// completed() of its chain or a reset the device acknowledged: a one-byte
// write of 0 to the device-status register of the transport in use
// (set_status_register(): modern, common cfg device_status; legacy, BAR0
// offset 0x12), followed by a one-byte read of that register that returned
// 0 (4.1.4.3.2). A write of 0 alone, a write to any other register, or a
// device that never reads back 0 does not end the device's ownership.
// Pool buffers referenced by a device-owned chain are device-owned in the
// FuzzPool too; returning or unmapping one is a finding.
//
// Double fetch: within one scope (from op_begin to op_end, or between two
// operations) each location of device-written memory -- by address, not by
// the label the driver gives it; each slot of a used-element run separately
// -- may be fetched once. A second fetch is a finding that names both call
// sites, unless it is a re-read of used.idx marked DeviceMemRef::recheck
// (the only re-read the ring protocol has; the label is honoured for no
// other part).
//
// Shared memory is out of the driver's reach (ASan builds): the used ring of
// each queue -- from used.flags to the end of its ring allocation, learned
// at the first fetch of used.idx -- is poisoned while control is in driver
// code during an operation, and unpoisoned for the length of every shim
// call (the device model works on it there, fetch() copies from it). A raw
// load of used ring memory by the driver, bypassing fetch(), is an ASan
// use-after-poison report at the guilty line. An acknowledged reset drops
// the spans (the driver re-initialises its rings then).
//
// Epochs: op_epoch() counts driver operations. A chain completed in the
// current epoch may be announced (frame_in_place) and delivered once.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "driver/platform/platform.h"
#include "driver/virtqueue/split_queue.h"
#include "fuzz/harness/fuzz_pool.h"
#include "fuzz/harness/mmio_reference.h"
#include "fuzz/harness/protocol_reference.h"
#include "fuzz/harness/transport_reference.h"
#include "fuzz/harness/watchdog_reference.h"

namespace vnet::fuzz {

class OraclePlatform final : public Platform {
 public:
  // Shim calls allowed in one driver operation. The slowest legitimate one
  // (recover with two resets that time out -- 64 status reads each at the
  // fuzz timing, setups.h -- and a 1024-entry ring) stays far below this.
  // With the driver's default 100 ms reset deadline one such reset alone
  // would exceed it.
  static constexpr uint32_t kWorkBudget = 1u << 16;
  static constexpr uint16_t kMaxQueues =
      33;  // 16 queue pairs and a control queue (the mock's most)
  static constexpr uint16_t kMaxDescs = SplitQueue::kMaxSize;

  // One per process (its tables are large); begin_input() starts an input
  // with inner as the device side.
  explicit OraclePlatform(FuzzPool& pool);
  OraclePlatform(const OraclePlatform&) = delete;
  OraclePlatform& operator=(const OraclePlatform&) = delete;
  void begin_input(Platform& inner);
  // Whether the device has taken the chain made available at avail_idx of
  // queue from the avail ring (the mock device answers; nullptr: assume
  // it has).
  using DeviceConsumed = bool (*)(void* context, uint16_t queue, uint16_t avail_idx);
  void set_device_consumed(DeviceConsumed f, void* context) {
    consumed_ = f;
    consumed_context_ = context;
  }
  // The driver accepted a completion of a chain the device had not taken
  // (a lie it cannot tell from a real completion): what the device reads
  // later at that chain's avail entry is whatever the driver put in those
  // descriptors and buffers since, so oracle (e)'s chain rules cannot
  // blame the driver for it.
  bool stale_chains() const { return stale_chains_; }
  // Oracle (h)'s tx watchdog facts of the current (or last) poll_device.
  const WatchdogReference::Poll& watchdog_poll() const { return wd_poll_; }
  // Oracle (g)'s ring-ordering rule: where the device itself writes
  // (ProtocolReference::set_device_writes).
  void set_device_writes(ProtocolReference::DeviceWrites f, void* context) {
    protocol_.set_device_writes(f, context);
  }
  // Where the device-status register of the transport in use is (the
  // caller tells after each successful probe: World::bring_up, restart).
  // Until the first call no reset counts as acknowledged.
  void set_status_register(Region region, uint32_t offset, uint8_t width = 1);
  // virtio-mmio: before MmioTransports::probe(window), and after it with
  // its result (oracle h on the outcome; then the transport in use is that
  // window's, its Status register the one resets are acknowledged on).
  void begin_mmio_probe(const MmioWindow& window);
  void check_mmio_probe(const MmioWindow& window, const MmioProbeResult& r);
  const MmioReference& mmio_reference() const { return mmio_; }
  void mark_mmio_interrupt() { mmio_.mark_interrupt(); }
  // After every PciTransports::probe(mode): oracle (h) on the outcome, and
  // from then on oracle (f) on the structures a correct probe chose
  // (transport_reference.h).
  void check_probe(PciMode mode, const ProbeResult& r) { transport_.check_probe(mode, r); }
  // EVENT_IDX with interrupts wanted on queue: used_event names the next
  // completion (ProtocolReference::check_used_event).
  void check_used_event(uint16_t queue) { protocol_.check_used_event(queue); }
  // ISR reads of the handler (interrupt_reference.h).
  void mark_interrupt() { transport_.mark_interrupt(); }
  const TransportReference& transport_reference() const { return transport_; }
  // The platform clock's last answer to the driver (0 before the first).
  uint64_t last_now() const { return last_now_; }
  // After an attach: no MSI-X after a vector read back otherwise.
  void check_interrupt_mode(InterruptMode mode) const { transport_.check_interrupt_mode(mode); }
  // Around poll_device(): the link state only from a consistent read.
  void mark_link() { transport_.mark_link(); }
  void check_link(bool before, bool after) { transport_.check_link(before, after); }
  // The device model is gone (destroyed, or reset by the harness between
  // inputs): it owns nothing any more (VirtioNet::device_gone()).
  void device_gone() { device_reset(); }
  // True between a write of 0 to the status register and the read of 0
  // that acknowledges it.
  bool reset_pending() const { return reset_pending_; }

  uint32_t reg_read(Region region, uint32_t offset, uint8_t width) override;
  void reg_write(Region region, uint32_t offset, uint8_t width, uint32_t value) override;
  BarInfo bar_info(uint8_t bar) override;
  bool dma_alloc(size_t size, size_t align, DmaRegion* out) override;
  void dma_free(const DmaRegion& region) override;
  // Forwarded to the device side, with oracle (b) on packet-buffer
  // mappings: a buffer is mapped at most once at a time, inside its pool
  // buffer; unmapped only once the device no longer owns it (completed, or
  // the device reset), with a device length within the mapping.
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
  // Interrupt delivery: the platform's answers, forwarded unchanged.
  uint16_t msi_messages(uint16_t max, MsiMessage* out) override {
    return inner_->msi_messages(max, out);
  }
  bool line_interrupt() override { return inner_->line_interrupt(); }
  void arm_interrupts(InterruptMode mode, uint16_t vectors) override {
    inner_->arm_interrupts(mode, vectors);
  }
  void op_begin(DriverOp op) override;
  void op_end(DriverOp op) override;

  // Oracle (a) for a frame the driver handed to the stack (rx_burst).
  void check_delivered(const uint8_t* data, uint32_t len);
  // Oracle (b) at the end of an input, after stop(): every pool buffer
  // back, every DMA region freed, every mapping unmapped -- except those
  // the driver holds in quarantine (a device that never acknowledged its
  // reset may still write into them: VirtioNet::quarantined()).
  void check_all_returned(const char* when, uint32_t held_buffers = 0, uint32_t held_regions = 0);

  // Chain bookkeeping, for device models that rewrite what they complete.
  // The CPU view of the first device-writable segment of a published chain
  // and its length; nullptr when the head is not device-owned.
  uint8_t* writable_area(uint16_t queue, uint16_t head, uint32_t* len) const;

  // Completions the driver accepted on receiveq1 since clear_rx_log(), in
  // order, as the device made them (for oracle h, decision_reference.h).
  struct RxCompletion {
    uint16_t head;
    uint32_t len;           // used.len
    uint32_t writable;      // device-writable bytes of the chain
    const uint8_t* data;    // CPU view of its first writable byte
    uint32_t posted_after;  // rx chains still in flight after this one
    uint8_t hdr[12];        // the net header the device wrote there
    // The first bytes after the net header (the frame's headers, as the
    // device wrote them): head_len of them, at most kRxHeadBytes.
    static constexpr uint32_t kRxHeadBytes = 160;
    uint8_t front[kRxHeadBytes];
    uint32_t front_len;
  };
  static constexpr uint32_t kRxLog = 256;
  void clear_rx_log() { rx_log_size_ = 0; }
  // The net header size in force (the rx log's head bytes follow it).
  void set_rx_header_size(uint32_t n) { rx_hdr_size_ = n; }
  const RxCompletion* rx_log() const { return rx_log_; }
  uint32_t rx_log_size() const { return rx_log_size_; }
  // Counts acknowledged device resets (and device_gone()).
  uint64_t reset_epoch() const { return reset_epoch_; }

  // tx completions accepted with a used.len above the chain's writable
  // bytes (a transmit chain has none): what tx_bad_used_len must count.
  uint64_t tx_len_over() const { return tx_len_over_; }

  uint32_t dma_live() const { return dma_live_; }
  uint32_t maps_live() const { return maps_live_; }
  uint64_t op_epoch() const { return op_epoch_; }

 private:
  struct ChainInfo {
    uint16_t head;
    uint16_t avail_idx;  // where it was made available
    uint8_t num_segments;
    bool owned;  // head of a chain the device owns (see head_owned_)
    // (an indirect chain has up to kMaxPublishedSegments: its table's)
    uint16_t desc[kMaxPublishedSegments];
    uint32_t len[kMaxPublishedSegments];
    bool writable[kMaxPublishedSegments];
    const uint8_t* cpu[kMaxPublishedSegments];
    uint32_t used_len;
    uint64_t completed_epoch;
    uint64_t framed_epoch;
    uint64_t delivered_epoch;
  };
  struct FetchSlot {
    uint64_t key;
    uint64_t scope;
    const void* pc;
  };
  static constexpr uint32_t kFetchSlots = 4096;  // a power of two

  void count_call() {
    if (++calls_ > kWorkBudget) over_budget();
  }
  // Every shim call: counted (d), and the shared-memory poisoning lifted
  // while the harness runs. A harness built with ASan
  // (VNET_FUZZ_FAST_HARNESS=OFF) has every access it makes checked, so the
  // poisoning is lifted for the whole call. An uninstrumented harness is
  // checked only where it calls libc's mem* functions (the ASan runtime
  // intercepts them): the only such access to the used ring is the device
  // shim's copy in fetch(), which lifts the poisoning itself
  // (open_used_span); the mock device's used-ring stores are plain stores.
  // Either way the destructor poisons again whatever was lifted.
  class ShimCall {
   public:
    explicit ShimCall(OraclePlatform& o) : o_(o) {
      o_.count_call();
      if (kHarnessChecked) o_.unpoison_shared();
      o_.protocol_.observe_rings();  // what the driver stored since the last call
    }
    ~ShimCall() { o_.poison_shared(); }
    ShimCall(const ShimCall&) = delete;
    ShimCall& operator=(const ShimCall&) = delete;

   private:
    OraclePlatform& o_;
  };
  static const bool kHarnessChecked;
  void poison_shared();
  void unpoison_shared();
  void open_used_span(const volatile void* p);
  void learn_used_span(uint16_t queue, const volatile void* used_idx);
  void forget_spans(const void* lo, const void* hi);
  [[noreturn]] void over_budget();
  void new_scope();
  void note_fetch(uint64_t key, const DeviceMemRef& what, uint16_t index, const void* pc);
  void note_bad_elements(uint16_t queue, const void* elems, size_t len);
  void device_reset();
  // completed_in: the operation the chain must have completed in (0: this one).
  void check_frame(const char* what, const ChainInfo& c, uint16_t queue, uint16_t head,
                   const uint8_t* data, uint32_t len, uint64_t completed_in = 0);

  Platform* inner_ = nullptr;
  FuzzPool& pool_;
  ProtocolReference protocol_;    // oracles (f) window and (g) protocol
  TransportReference transport_;  // (f) the chosen structures, (h) the probe
  MmioReference mmio_;            // the same for virtio-mmio
  // DMA regions (rings) live now, and the used-ring span of each queue.
  struct Span {
    uint8_t* lo;
    uint8_t* hi;
    bool poisoned;  // used spans: ASan-poisoned now
  };
  static constexpr int kMaxRegions = 8;
  Span regions_[kMaxRegions] = {};
  Span used_[kMaxQueues] = {};
  bool shared_poisoned_ = false;  // some used span is poisoned
  DeviceConsumed consumed_ = nullptr;
  void* consumed_context_ = nullptr;
  bool stale_chains_ = false;
  WatchdogReference::Poll wd_poll_{};
  bool wd_await_clock_ = false;
  uint64_t last_now_ = 0;
  uint16_t tx_published_ = 0;  // tx chains published since the device's last reset
  uint64_t tx_len_over_ = 0;
  uint32_t mmio_version_ = 0;      // of the last successful MMIO probe this input
  uint8_t status_written_ = 0;     // the last non-zero status the driver wrote
  bool reset_demanded_ = false;    // this poll_device read NEEDS_RESET or lost DRIVER_OK
  bool reset_written_ = false;     // this operation wrote status 0
  bool lied_at_op_start_ = false;  // a queue lie was pending when the operation began
  RxCompletion rx_log_[kRxLog];
  uint32_t rx_log_size_ = 0;
  uint64_t reset_epoch_ = 0;
  uint32_t calls_ = 0;
  bool status_known_ = false;
  Region status_region_ = Region::kBar0;
  uint32_t status_offset_ = 0;
  uint8_t status_width_ = 1;  // 4 for virtio-mmio's Status
  bool reset_pending_ = false;
  DriverOp op_ = DriverOp::kAttach;
  bool in_op_ = false;
  // Control commands the driver sends inside another operation (attach,
  // poll_device): each is a scope of its own within it (op_begin(kControl)).
  uint32_t nested_ = 0;
  uint64_t scope_ = 1;
  uint64_t op_epoch_ = 1;
  uint32_t dma_live_ = 0;
  uint32_t maps_live_ = 0;  // packet-buffer mappings not yet unmapped
  uint32_t owned_descs_ = 0;
  uint16_t desc_high_[kMaxQueues] = {};  // descriptors below this may be owned
  bool desc_owned_[kMaxQueues][kMaxDescs];
  ChainInfo chains_[kMaxQueues][kMaxDescs];
  // The rx chain each pool buffer was last completed in, as it was then
  // (its head may be posted again before the stack sees the frame).
  static constexpr uint32_t kMaxPoolBuffers = 4096;
  ChainInfo rx_completed_[kMaxPoolBuffers];
  uint64_t reset_op_epoch_ = 0;  // op_epoch_ at the last device reset
  uint32_t rx_hdr_size_ = 12;
  FetchSlot fetches_[kFetchSlots];
  // Per pool buffer: 1 while a dma_map() of it is live.
  uint8_t mapped_[kMaxPoolBuffers];
};

}  // namespace vnet::fuzz
