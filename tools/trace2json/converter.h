// trace2json's converter: QEMU trace log lines in, vnetkit trace events
// out (docs/qemu-capture.md). One pass, bounded state.
//
//   log line --split_line/parse_*--> Converter::feed()
//     NIC selection   PCI config of the first "virtio-net-pci" function
//                     (or --pci BDF): its BARs (programmed base, sized
//                     length), the vdev pointer (virtio_set_status right
//                     after a status-register write), its queues (vq
//                     pointer -> queue number from virtio_queue_notify)
//     registers       memory_region_ops_* inside the NIC's BARs ->
//                     reg_read / reg_write {region:"barN", off, w, val}
//                     pci_cfg_* of the NIC -> region "pci_config"; the
//                     width from the neighbouring pci-conf-data access
//                     ring addresses -> {"ring":q,"part":..,"as":..}
//     device side     virtqueue_pop/fill/flush -> dev_pop/dev_fill/dev_flush,
//                     entries named by avail position (on a packed ring:
//                     the k-th chain made available; QEMU 7.2 logs no
//                     virtqueue_flush there, so each batch of fills is
//                     closed by a derived dev_flush); virtio_notify ->
//                     dev_irq; an apic-msi write of one of the NIC's MSI-X
//                     table messages -> dev_msi; ioapic_set_irq of the
//                     NIC's pin -> dev_intx; pcap frames -> dev_frame (tx: one per tx
//                     pop; rx: one per group of fills adding up to
//                     net header + frame)
//     driver start    a "mark" event after the last PCI command-register
//                     write before the first access to a BAR: what comes
//                     before it is firmware and bus scan
//
// Output goes to a TraceWriter (events only); the header is known at the
// end (features, queue sizes, identity) and built by header().
#pragma once

#include <stdint.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "replay/record/trace_writer.h"
#include "tools/trace2json/pcap_frames.h"
#include "tools/trace2json/qemu_log.h"

namespace trace2json {

struct Options {
  std::string pcap_path;  // empty: no frames
  std::string log_name;   // base names, for the header
  std::string pcap_name;
  std::string pci_bdf;  // empty: the first virtio-net-pci function
  bool has_guest_mac = false;
  uint8_t guest_mac[6] = {};
};

struct Stats {
  uint64_t lines = 0;
  uint64_t qemu_lines = 0;    // shaped like trace lines and recognised as QEMU's
  uint64_t foreign = 0;       // not a trace line at all
  uint64_t unknown = 0;       // a trace event trace2json does not use
  uint64_t malformed = 0;     // a known event whose arguments do not parse
  uint64_t other_device = 0;  // events of other devices or regions
  uint64_t nic_lines = 0;     // lines that became (part of) an event
  uint64_t events = 0;        // event lines written (a repeated register access is one line)
  uint64_t accesses = 0;      // register accesses (config space and BARs), each repeat counted
  uint64_t width_guessed = 0;
  uint64_t offset_guessed = 0;
  // Narrow reads of a feature register whose offer was taken from the
  // value QEMU logged (the handler's whole answer, before the cut).
  uint64_t widened_from_log = 0;
  uint64_t unattributed_pops = 0;
  uint64_t unmatched_fills = 0;
  uint64_t frames_rx = 0, frames_tx = 0;
  uint64_t frame_len_mismatch = 0;
  uint64_t frames_missing = 0;  // pops/fills with no pcap frame left
  uint64_t frames_unused = 0;   // pcap frames no pop or fill took
  uint64_t nic_registers = 0;   // register accesses in the NIC's BARs / MMIO window
  uint64_t device_side = 0;     // dev_pop/fill/flush/irq/msi/intx events
  uint64_t msi = 0;             // dev_msi: MSI-X messages of the NIC that reached the APIC
  uint64_t intx = 0;            // dev_intx: level changes of the NIC's INTx pin
  uint64_t virtio_mmio = 0;     // virtio_mmio_* lines (the same accesses as memory_region_ops)
  // Packed rings (VIRTIO_F_RING_PACKED negotiated): dev_flush events
  // derived from the end of a batch of fills (QEMU 7.2's packed flush has
  // no trace point), and fills whose batch index does not continue the
  // open batch (a log cut mid-batch, or lines lost): counted as
  // unattributed.
  uint64_t packed_flushes_derived = 0;
  uint64_t packed_fill_gaps = 0;
  uint64_t first_malformed_line = 0;
  std::string first_malformed;
  uint64_t first_foreign_line = 0;
  std::string first_foreign;
  std::map<std::string, uint64_t> unknown_events;  // at most kMaxUnknownNames
};

class Converter {
 public:
  static constexpr size_t kMaxUnknownNames = 32;

  Converter(const Options& options, vnet::trace::TraceWriter& out);

  // Opens the pcap (when given); false with *error when it cannot.
  bool open(std::string* error);
  // One line of the log, without its newline.
  void feed(std::string_view line);
  // End of input: flushes what is pending.
  void finish();

  const Stats& stats() const { return stats_; }
  bool saw_qemu_trace() const { return stats_.qemu_lines > 0; }
  bool found_device() const { return stats_.events > 0; }
  // Something of the NIC beyond its configuration space: a register
  // access in its BARs (or MMIO window) or a virtqueue event.
  bool found_nic() const { return stats_.nic_registers + stats_.device_side > 0; }
  // Device-side events or frames left unattributed (each counted in stats).
  uint64_t unattributed() const {
    return stats_.unattributed_pops + stats_.unmatched_fills + stats_.frames_missing +
           stats_.frame_len_mismatch + stats_.frames_unused + stats_.packed_fill_gaps;
  }
  // The header line (format, version, identity, features, capture facts).
  // Version 1, or 2 when a repeated register access was written with a
  // count (the writer's compaction, on unless --no-compact).
  nlohmann::ordered_json header() const;

 private:
  // A BAR as the device answers it: type (I/O, 64-bit) from reads of the
  // register (the type bits are read-only, and firmware writes bases
  // without them), the size from the sizing read-back of 0xFFFFFFFF, the
  // base from the latest write or read.
  struct Bar {
    bool io = false;
    bool is_64 = false;
    bool type_known = false;  // a read answered the type bits
    bool base_known = false;
    bool sizing = false;
    uint32_t raw = 0;
    uint64_t size = 0;
  };
  // A 64-bit feature set as seen through 32-bit registers, byte by byte
  // (a driver may read a register in narrower pieces: iPXE reads 16 bits
  // at a time). known: bit i = byte i seen.
  struct FeatureBytes {
    uint64_t bits = 0;
    uint8_t known = 0;
    void merge(uint32_t word, uint32_t byte_off, uint8_t width, uint32_t value);
    bool has_low() const { return (known & 0x0f) == 0x0f; }
  };
  struct CfgEvent {
    bool write;
    uint32_t offset;
    uint8_t width;
    uint32_t value;
  };
  struct PendingRead {
    bool active = false;
    CfgEvent ev{};
  };
  struct OpenPop {
    uint64_t elem;
    uint16_t avail;
  };
  struct Queue {
    uint16_t next_avail = 0;
    uint16_t used_idx = 0;
    std::vector<OpenPop> open;
    // rx frame being assembled from fills
    bool group = false;
    uint16_t group_first = 0;
    uint32_t group_len = 0;
    uint32_t group_bufs = 0;
    std::vector<uint8_t> group_frame;
    // Packed ring: fills of the batch not yet flushed (QEMU's used_elems
    // index of the next fill) and the virtqueue pointer they came from.
    uint32_t batch = 0;
    uint64_t batch_vq = 0;
  };
  enum class Kind { kNone, kLegacy, kModern, kMmio };

  void on_region(const LogLine& l, bool write);
  void on_pci_cfg(const LogLine& l, bool write);
  void on_set_status(const LogLine& l);
  void on_queue_notify(const LogLine& l);
  void on_notify(const LogLine& l);
  void on_pop(const LogLine& l);
  void on_fill(const LogLine& l);
  void on_flush(const LogLine& l);
  bool packed() const;
  // Closes the open packed batches (all, or all but the one a line of
  // virtqueue pointer keep_vq continues) with a derived dev_flush.
  void close_packed_batches(std::string_view ev, uint64_t keep_vq, uint32_t fill_idx);
  void emit_flush(int q, uint32_t count);
  void on_msix_config(const LogLine& l);
  void on_ioapic(const LogLine& l);
  void on_msi(uint64_t address, uint32_t data);
  void msix_table_write(uint64_t off, uint8_t width, uint32_t value);
  void malformed(std::string_view line);

  bool nic_cfg(std::string_view device, std::string_view bdf);
  void bar_config(const CfgEvent& e);
  uint64_t bar_base(int i) const;
  bool find_bar(uint64_t addr, bool io, int* bar, uint64_t* off) const;
  void cfg_event(const CfgEvent& e);
  void write_cfg(const CfgEvent& e);
  void first_bar_access();
  void reg_event(Kind kind, const char* region, uint32_t track_off, uint32_t bar_off, uint8_t width,
                 uint64_t value, bool write);
  void track_register(Kind kind, uint32_t off, uint8_t width, uint64_t value, bool write,
                      const char** part, const char** as, int* ring_q);
  void device_reset();
  int queue_of(uint64_t vq, bool rx_shape);
  // The queue number of a known virtqueue pointer, or -1 (counted as
  // another device's event).
  int known_queue(uint64_t vq);
  bool is_rx(int q) const;
  bool is_tx(int q) const;
  uint32_t net_header_size() const;
  void emit_tx_frame(int q, uint16_t avail);
  void rx_fill(int q, uint16_t avail, uint32_t len);

  Options o_;
  vnet::trace::TraceWriter& w_;
  Stats stats_;
  FrameCursor rx_frames_, tx_frames_;
  bool pcap_open_ = false;

  // the NIC
  std::string bdf_;
  std::string nic_device_;  // QEMU's type name of the selected function
  Bar bars_[6];
  uint8_t cfg_shadow_[256] = {};
  bool has_vendor_cap_ = false;
  uint32_t cap_ptrs_[64] = {};
  size_t num_cap_ptrs_ = 0;
  bool driver_started_ = false;
  std::vector<CfgEvent> cfg_buffer_;
  std::unordered_map<uint64_t, PendingRead> pending_read_;  // per thread
  std::unordered_map<uint64_t, uint8_t> conf_write_size_;   // per thread
  bool used_legacy_ = false, used_modern_ = false, used_mmio_ = false;
  uint64_t mmio_slot_ = UINT64_MAX;
  // virtio-mmio identity registers read from each slot (the NIC's slot is
  // known only once its DeviceID read 1): Version and VendorID.
  std::map<uint64_t, uint32_t> mmio_version_, mmio_vendor_;
  bool msix_enabled_ = false;
  // The NIC's MSI-X table (entry -> message) and INTx pin (-1: not yet
  // known), for dev_msi / dev_intx.
  struct MsixEntry {
    uint64_t address = 0;
    uint32_t data = 0;
    uint8_t written = 0;  // bit i: word i written (address low, high, data)
  };
  static constexpr uint64_t kMaxMsixEntries = 2048;  // the PCI limit
  std::map<uint64_t, MsixEntry> msix_table_;
  int64_t intx_gsi_ = -1;
  bool notify_pending_ = false;  // a virtio_notify of the NIC without MSI-X...
  uint64_t notify_tid_ = 0;      // ... on this thread, not yet followed by a pin change

  // virtio state seen through registers
  uint64_t vdev_ = 0;
  bool status_write_pending_ = false;
  uint16_t queue_select_ = 0;
  int64_t last_lo_off_ = -1;  // the previous register write was this lo32 address
  uint32_t dfselect_ = 0, gfselect_ = 0;
  // Per interface (legacy, modern, MMIO): what the device offered there
  // and what the guest wrote back.
  enum Iface { kIfLegacy, kIfModern, kIfMmio, kNumIfaces };
  FeatureBytes offer_[kNumIfaces], accepted_[kNumIfaces];
  uint64_t logged_value_ = 0;  // the current access's value as logged (unmasked)
  uint64_t negotiated_ = 0;    // the latest feature write, any interface (net header size)
  Iface iface_of(Kind k) const;
  Iface used_iface() const;
  std::map<uint16_t, uint16_t> queue_sizes_;
  uint8_t mac_[6] = {};
  uint8_t mac_known_ = 0;  // bit i: byte i read
  uint16_t pairs_ = 1;
  uint32_t hdr_size_ = 0;  // known at DRIVER_OK
  uint32_t max_rx_len_ = 0;
  uint64_t resets_ = 0;
  uint64_t first_usec_ = 0;
  bool timestamps_ = false;

  std::unordered_map<uint64_t, int> vq_queue_;
  std::map<int, Queue> queues_;
  size_t open_batches_ = 0;  // packed queues with fills not yet flushed
  bool saw_packed_ = false;
};

}  // namespace trace2json
