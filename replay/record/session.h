// Session: the caller's side of the driver, made replayable.
//
// The platform shim sees everything that crosses the device boundary but
// not why: which API call the caller made, with which arguments, and what
// it returned. A Session owns the driver (VirtioNet and the PCI
// transports, or the virtio-mmio one) and is the only way a recorded run
// calls it; every call is
// reported to a SessionTap before and after it runs:
//
//   caller ---- probe/attach/rx_burst/tx_burst/... ----> Session
//                                                          |  tap.on_call(args)
//                                                          |  VirtioNet::...()  -> Platform,
//                                                          BufferPool |  tap.on_return(result) |
//                                                          caller-side buffer handling
//
// Recording: TraceTap writes "call"/"ret" lines with the same TraceWriter
// as RecordingPlatform, so one trace holds both. Replay: the replayer
// reads a "call" line, makes the same call on its own Session, and its tap
// checks the "ret" line.
//
// Buffers: the Session is the caller, so it does what a network stack
// does with the pool, identically when recording and replaying:
//   tx_burst: on_call, then one pool.alloc() per frame (stops at the first
//             nullptr), the frame copied in at kTxHeadroom; a fragmented
//             frame (TxFrame::num_frags > 1) takes one buffer per fragment,
//             linked through PacketBuffer::next, the first fragment at
//             kTxHeadroom and the others at offset 0 (a frame whose buffers
//             the pool cannot all give is freed again and ends the burst);
//             frames the driver did not take go back to the pool after
//             on_return, every fragment with next cleared.
//             A frame's offload request (tx_burst_offload_on) goes into
//             its first buffer; every other buffer's PacketOffload is
//             reset (pool buffers come back from rx with results in them).
//   rx_burst: delivered frames are shown to the visitor, then freed to the
//             pool after on_return -- a receive chain (NetOptions::
//             rx_chains) every buffer of it, in order, next cleared. The
//             result (ApiResult::delivered) names the delivered frames, so
//             the tap sees their buffers and offload results.
//
// Freestanding (same rules as driver/): fixed arrays, no heap.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "driver/net/virtio_net.h"
#include "driver/transport/mmio_probe.h"
#include "driver/transport/pci_probe.h"
#include "replay/record/trace_events.h"
#include "replay/record/trace_writer.h"

namespace vnet::trace {

class SessionTap {
 public:
  virtual void on_call(const ApiCall& call) = 0;
  virtual void on_return(const ApiResult& result) = 0;

 protected:
  SessionTap() = default;
  ~SessionTap() = default;
  SessionTap(const SessionTap&) = default;
  SessionTap& operator=(const SessionTap&) = default;
};

// Writes calls and results to a trace.
class TraceTap final : public SessionTap {
 public:
  explicit TraceTap(TraceWriter& out) : out_(out) {}
  void on_call(const ApiCall& call) override { write_call(out_, call); }
  void on_return(const ApiResult& result) override { write_ret(out_, result); }

 private:
  TraceWriter& out_;
};

class Session {
 public:
  // Bursts larger than this are cut to it (before the call is reported).
  static constexpr uint16_t kMaxBurst = 256;
  // A delivered frame's bytes. A receive chain is shown by its first
  // buffer only: a caller that turns rx_chains on visits buffers instead
  // (rx_burst_buffers_on).
  using FrameVisitor = void (*)(void* context, const uint8_t* frame, uint32_t len);
  // A delivered frame as the driver handed it up: its first buffer, with
  // PacketBuffer::offload (the rx offload report) and, for a receive chain
  // (NetOptions::rx_chains), the further buffers through next.
  using BufferVisitor = void (*)(void* context, const PacketBuffer& frame);
  // Sees every delivered frame whole, like a BufferVisitor, on every
  // rx_burst (after the call's own visitor); set once (nullptr: none).
  using PacketVisitor = BufferVisitor;
  void set_packet_visitor(PacketVisitor visit, void* context) {
    packet_visit_ = visit;
    packet_context_ = context;
  }

  Session(Platform& platform, BufferPool& pool, SessionTap* tap)
      : platform_(platform), pool_(pool), tap_(tap) {}

  ProbeError probe(PciMode mode);
  // A virtio-mmio window instead (mmio_probe.h). probe_result() then
  // reports it PCI-shaped (kOk and the transport; kNotNet for a
  // placeholder or another device type; kNotVirtio otherwise) and
  // mmio_probe_result() in full. Recorded as a "probe_mmio" call.
  MmioProbeError probe_mmio(const MmioWindow& window);
  // kBadOptions when no transport was probed.
  AttachError attach(const NetOptions& options);
  uint16_t rx_burst(uint16_t max, FrameVisitor visit = nullptr, void* context = nullptr) {
    return rx_burst_on(0, max, visit, context);
  }
  uint16_t tx_burst(const TxFrame* frames, uint16_t n) { return tx_burst_on(0, frames, n); }
  uint16_t tx_reclaim() { return tx_reclaim_on(0); }
  // Multiqueue: the same on queue pair `pair` (recorded with "pair" when
  // it is not 0).
  uint16_t rx_burst_on(uint16_t pair, uint16_t max, FrameVisitor visit = nullptr,
                       void* context = nullptr);
  uint16_t tx_burst_on(uint16_t pair, const TxFrame* frames, uint16_t n);
  // The same, with offload requests: offloads[i] goes into frame i's first
  // buffer (PacketBuffer::offload; packet_buffer.h "Offloads"); nullptr:
  // none (tx_burst_on leaves every buffer's offload empty). Recorded as the
  // call's "offload" when a frame asks for one (docs/trace-format.md,
  // "Offloads"), so a replay hands the driver the same requests.
  uint16_t tx_burst_offload_on(uint16_t pair, const TxFrame* frames, const PacketOffload* offloads,
                               uint16_t n);
  // rx_burst_on with the whole frame shown (chains and offload report);
  // every buffer of a chain goes back to the pool afterwards.
  uint16_t rx_burst_buffers_on(uint16_t pair, uint16_t max, BufferVisitor visit, void* context);
  uint16_t tx_reclaim_on(uint16_t pair);
  DeviceEvents poll_device();
  bool recover();
  void stop();
  bool set_rx_interrupts(bool enabled) { return set_rx_interrupts(0, enabled); }
  bool set_tx_interrupts(bool enabled) { return set_tx_interrupts(0, enabled); }
  bool set_rx_interrupts(uint16_t pair, bool enabled);
  bool set_tx_interrupts(uint16_t pair, bool enabled);
  // The control plane (VirtioNet's control commands), each a recorded call
  // whose result is the CtrlResult.
  CtrlResult set_rx_mode(RxMode mode, bool on);
  CtrlResult set_mac_filter(const MacAddr* unicast, uint16_t n_unicast, const MacAddr* multicast,
                            uint16_t n_multicast);
  CtrlResult set_mac_address(const uint8_t mac[6]);
  CtrlResult add_vlan(uint16_t vid);
  CtrlResult remove_vlan(uint16_t vid);
  CtrlResult set_queue_pairs(uint16_t n);
  CtrlResult set_rss(const RssSettings& rss);
  // CTRL_GUEST_OFFLOADS (issue 16): VirtioNet::set_guest_offloads().
  CtrlResult set_guest_offloads(uint64_t offloads);
  // The platform's interrupt handler calls this (not VirtioNet's) so that
  // the interrupt is a recorded call at the point of the driver's progress
  // where it was taken. Interrupt context: the tap must be safe to call
  // from it (the guest takes interrupts only while it waits, between calls).
  IrqWork handle_interrupt(IrqSource source);

  VirtioNet& net() { return net_; }
  const ProbeResult& probe_result() const { return probe_; }
  const MmioProbeResult& mmio_probe_result() const { return mmio_probe_; }
  bool probed_mmio() const { return probed_mmio_; }

 private:
  ApiResult result(ApiFn fn, uint32_t value) const;
  uint16_t rx(uint16_t pair, uint16_t max, FrameVisitor frame, BufferVisitor buffers,
              void* context);
  CtrlResult control(const ApiCall& c, CtrlResult (*run)(VirtioNet& net, const ApiCall& c));
  void negotiated(ApiResult* r) const;
  void call(const ApiCall& c) {
    if (tap_ != nullptr) tap_->on_call(c);
  }
  void ret(const ApiResult& r) {
    if (tap_ != nullptr) tap_->on_return(r);
  }

  Platform& platform_;
  BufferPool& pool_;
  PacketVisitor packet_visit_ = nullptr;
  void* packet_context_ = nullptr;
  SessionTap* tap_;
  PciTransports transports_;
  ProbeResult probe_{};
  MmioTransports mmio_;
  MmioProbeResult mmio_probe_{};
  bool probed_mmio_ = false;
  VirtioNet net_;
  PacketBuffer* bufs_[kMaxBurst] = {};
};

}  // namespace vnet::trace
