// The encoding of every trace line (docs/trace-format.md), one function per
// event. The recorder writes its trace with these; the replayer renders
// "what the driver did" with the same functions, so a divergence report
// shows expected and actual in one notation.
//
//   line 1      {"format":"vnetkit-trace","version":1,...}        header
//   line 2..    {"ev":"call","fn":"probe","mode":"auto"}          events,
//               {"ev":"reg_read","region":"pci_config",...}       one per
//               ...                                               line
//   last line   {"ev":"end","events":N}                           trailer
//
// Addresses never appear: a register write whose value points into a DMA
// region the driver allocated is written as {"dma":id,"off":o,"as":form};
// DMA regions and pool buffers are named by ids given in allocation order.
//
// Freestanding (same rules as driver/).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "driver/net/virtio_net.h"
#include "driver/platform/platform.h"
#include "driver/transport/pci_probe.h"
#include "replay/record/trace_names.h"
#include "replay/record/trace_writer.h"

namespace vnet::trace {

// Id written for a DMA region or pool buffer the recorder does not know
// (the driver freed something it was never given): JSON null.
inline constexpr uint32_t kUnknownId = 0xFFFF'FFFFu;

// A register value that is (part of) the device address of a DMA region.
struct AddrRef {
  uint32_t dma_id = 0;
  uint64_t offset = 0;
  AddrForm form = AddrForm::kLo32;
};

// A frame handed to tx_burst by the caller: len bytes at data, sent as one
// pool buffer, or -- num_frags > 1 -- as a fragment chain (tx scatter-
// gather, packet_buffer.h) of num_frags buffers holding frag_lens[0],
// frag_lens[1], ... bytes of it in order (each > 0, summing to len, at most
// kMaxTxFragments). Recorded as the call's "frags" (docs/trace-format.md).
struct TxFrame {
  const uint8_t* data = nullptr;
  uint32_t len = 0;
  const uint32_t* frag_lens = nullptr;
  uint16_t num_frags = 0;  // 0 or 1: one buffer

  bool fragmented() const { return num_frags > 1 && frag_lens != nullptr; }
};

// Whether o is the all-default PacketOffload (nothing asked, nothing
// reported): such a frame's line carries no offload fields.
inline bool offload_is_none(const PacketOffload& o) {
  return o.csum == CsumState::kNone && o.gso == GsoKind::kNone && !o.ecn && o.csum_start == 0 &&
         o.csum_offset == 0 && o.gso_size == 0 && o.hdr_len == 0;
}

// One API call of the caller on the driver, with its arguments.
struct ApiCall {
  ApiFn fn = ApiFn::kProbe;
  PciMode mode = PciMode::kAuto;  // probe
  MmioWindow window{};            // probe_mmio (size and irq are recorded, never the base)
  NetOptions options{};           // attach
  uint16_t max = 0;               // rx_burst
  bool enabled = false;           // set_rx_interrupts, set_tx_interrupts; set_rx_mode: on
  // Multiqueue: the queue pair of rx_burst, tx_burst, tx_reclaim and
  // set_*_interrupts (written as "pair" only when not 0).
  uint16_t pair = 0;
  // Control commands (issue 15).
  RxMode rx_mode = RxMode::kPromiscuous;  // set_rx_mode
  const MacAddr* unicast = nullptr;       // set_mac_filter
  uint16_t n_unicast = 0;
  const MacAddr* multicast = nullptr;
  uint16_t n_multicast = 0;
  uint8_t mac[6] = {};               // set_mac_address
  uint16_t vid = 0;                  // add_vlan, remove_vlan
  uint16_t pairs = 0;                // set_queue_pairs
  const RssSettings* rss = nullptr;  // set_rss
  uint64_t guest_offloads = 0;       // set_guest_offloads (GUEST_* feature bits)
  IrqSource irq{};                   // handle_interrupt
  const TxFrame* frames = nullptr;   // tx_burst
  uint16_t num_frames = 0;
  // tx_burst (issue 16): offloads[i] is frame i's PacketOffload request
  // (nullptr: none). Written as "offload" when one is not all default.
  const PacketOffload* offloads = nullptr;
};

// What the call returned, and the driver state afterwards.
struct ApiResult {
  ApiFn fn = ApiFn::kProbe;
  // probe: ProbeError; attach: AttachError; bursts and reclaim: a count;
  // control commands (set_rx_mode ... set_guest_offloads): CtrlResult;
  // recover and set_*_interrupts: 0/1; poll_device and stop: 0;
  // handle_interrupt: the IrqWork bits (irq_work_bits).
  uint32_t value = 0;
  NetState state = NetState::kDown;
  // probe, probe_mmio (value: ProbeError / MmioProbeError)
  const char* transport = nullptr;  // nullptr: none
  // attach and recover: what was negotiated
  uint64_t features = 0;
  uint32_t hdr_size = 0;
  uint16_t mtu = 0;
  uint8_t mac[6] = {};
  bool link_up = false;
  // poll_device
  DeviceEvents events{};
  // handle_interrupt
  IrqWork work{};
  // rx_burst: the frames delivered (value of them), each a PacketBuffer
  // chain (next) with its offload result in the first buffer. Written as
  // "delivered" when one is a chain or carries an offload result.
  PacketBuffer* const* delivered = nullptr;
};

// The first line. Device fields are optional (has_*): a streaming recorder
// may not know them before the run; docs/trace-format.md says which are
// required.
struct TraceHeader {
  const char* driver_version = "";
  const char* transport = nullptr;  // "pci-legacy", "pci-modern", "mmio-v1", "mmio-v2"
  bool has_device = false;
  const char* device_kind = "";  // "legacy", "modern", "transitional", "mmio-v1", "mmio-v2"
  uint16_t vendor = 0, device = 0, subsystem = 0;
  uint8_t revision = 0;
  // virtio-mmio devices: no PCI identity; the window's instead (device
  // kind mmio-v1/mmio-v2): Version, DeviceID, VendorID, the window size.
  bool is_mmio = false;
  uint32_t mmio_version = 0, mmio_device_id = 0, mmio_vendor_id = 0, mmio_window = 0;
  bool has_features = false;
  uint64_t offered = 0, negotiated = 0;
  uint16_t num_queues = 0;
  // Every queue's size: rx/tx of each pair, then the control queue.
  uint16_t queue_sizes[2 * kMaxQueuePairs + 1] = {};
  uint32_t pool_buffer_size = 0;  // required: replay pool buffers are this large
  uint32_t pool_buffers = 0;
  const char* recorded_where = "";
  const char* recorded_when = "";
  const char* recorded_by = "";
  const char* scenario = nullptr;
};

void write_header(TraceWriter& w, const TraceHeader& h);

void write_reg_read(TraceWriter& w, Region region, uint32_t offset, uint8_t width, uint32_t value);
void write_reg_write(TraceWriter& w, Region region, uint32_t offset, uint8_t width, uint32_t value,
                     const AddrRef* addr);
void write_bar_info(TraceWriter& w, uint8_t bar, const BarInfo& info);
void write_dma_alloc(TraceWriter& w, size_t size, size_t align, bool ok, uint32_t id);
void write_dma_free(TraceWriter& w, uint32_t id);
void write_fetch(TraceWriter& w, const DeviceMemRef& what, const void* data, size_t len);
void write_frame(TraceWriter& w, uint16_t queue, uint16_t desc, const void* data, uint32_t len);
// table: the DMA region and offset an indirect chain's table_addr falls in
// (written {"dma":id,"off":o}; nullptr: the address is in no region the
// writer knows, written null). Ignored for a direct chain.
void write_publish(TraceWriter& w, const PublishedChain& chain, const AddrRef* table = nullptr);
void write_complete(TraceWriter& w, uint16_t queue, uint16_t head, uint32_t len);
void write_barrier(TraceWriter& w, Barrier kind);
void write_wait_irq(TraceWriter& w, uint64_t timeout_ns, bool arrived);
void write_now(TraceWriter& w, uint64_t value);
void write_log(TraceWriter& w, LogLevel level, const char* message);
void write_op(TraceWriter& w, bool begin, DriverOp op);
void write_pool_alloc(TraceWriter& w, bool ok, uint32_t buf);
void write_pool_free(TraceWriter& w, uint32_t buf);
// Interrupt delivery (platform.h): what the platform offered and what the
// driver armed.
void write_msi_messages(TraceWriter& w, uint16_t max, uint16_t n, const MsiMessage* msgs);
void write_line_interrupt(TraceWriter& w, bool present);
void write_arm_interrupts(TraceWriter& w, InterruptMode mode, uint16_t vectors);
// A PacketOffload's fields inside the object being written, each only
// when it is not its default ("csum", "gso", "ecn", "csum_start",
// "csum_offset", "gso_size", "hdr_len"): {} for none.
void write_offload_fields(TraceWriter& w, const PacketOffload& o);
// Whether rx_burst's result needs "delivered": a frame delivered as a
// chain of buffers, or with an offload result.
bool delivered_needs_writing(const ApiResult& r);
void write_call(TraceWriter& w, const ApiCall& call);
void write_ret(TraceWriter& w, const ApiResult& result);
void write_end(TraceWriter& w);

}  // namespace vnet::trace
