// A trace loaded into memory, ready to replay (docs/trace-format.md).
//
//   trace.jsonl --load_trace()--> Trace
//     line 1: header       ->  header (parsed fields + the JSON object)
//     line k: event        ->  events[k-2]: fixed-size Event, no pointers
//                              bytes (hex) -> decoded into one arena, `bytes`
//                              chain segments, call arguments, results
//                              -> side tables indexed from the Event
//     last line: end       ->  events.back().kind == kEnd
//
// Loading is the slow step (JSON parsing) and is done once; replaying walks
// `events` with no parsing and no allocation per event. The text is kept
// for reports (expected = the trace line itself).
//
// Every line is validated while loading: JSON syntax, the header first,
// known event names, every required field present with the right type and
// range, hex well formed, an "end" line last with the right event count.
// The first problem throws TraceError with the line number and what is
// wrong; a malformed trace never reaches the replayer.
#pragma once

#include <stdint.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "driver/net/virtio_net.h"
#include "driver/platform/platform.h"
#include "driver/transport/pci_probe.h"
#include "replay/record/trace_names.h"

namespace vnet::replay {

using trace::AddrForm;
using trace::ApiFn;
using trace::EventKind;

class TraceError : public std::runtime_error {
 public:
  TraceError(size_t line, const std::string& what) : std::runtime_error(what), line_(line) {}
  // 1-based line of the trace file; 0 when the problem is the file itself.
  size_t line() const { return line_; }

 private:
  size_t line_;
};

struct TraceHeaderInfo {
  uint32_t version = 0;
  std::string driver_version;
  std::string transport;
  std::string scenario;
  uint32_t pool_buffer_size = 0;
  bool has_features = false;
  uint64_t offered = 0, negotiated = 0;
  // Optional identity and queue facts (informational for a recording; the
  // device model's configuration in device mode).
  std::string device_kind;  // "legacy", "modern", "transitional", "mmio-v1", "mmio-v2" or empty
  // virtio-mmio: the window's size (device.window; 0: not given) and the
  // offer a capture's driver read there (offers.mmio).
  uint32_t mmio_window = 0;
  bool has_mmio_offer = false;
  uint64_t mmio_offer = 0;
  std::vector<uint16_t> queue_sizes;  // maximum queue sizes the device offered
  // A capture's "offers": what each interface of the device offered, as
  // the capture's driver read it (a transitional device has two).
  bool has_legacy_offer = false, has_modern_offer = false;
  uint64_t legacy_offer = 0, modern_offer = 0;
  // A QEMU capture converted by trace2json: the header has "capture".
  bool capture = false;
  uint32_t net_header = 0;     // capture.net_header (0: not given)
  bool has_guest_mac = false;  // capture.guest_mac
  uint8_t guest_mac[6] = {};
  std::string default_mode;  // "replay": the mode the trace asks for, or empty
  nlohmann::json json;       // the whole header line
};

// Byte range in Trace::bytes: 8 bytes, so that an Event is 40. All the
// byte data of one trace (frames, fetched bytes, log messages) stays
// below kMaxArenaBytes; a trace with more is refused when it loads.
struct Bytes {
  uint32_t off = 0;
  uint32_t len = 0;
};
static_assert(sizeof(Bytes) == 8);
inline constexpr uint64_t kMaxArenaBytes = 0xFFFF'FFFFull;

// One event, fixed size. Field use per kind (others are zero):
//   reg_read/reg_write  r8=region w8=width  u32=offset  u64=value
//                       aux=repeats beyond the first ("rep" - 1; format
//                       version 2), only with a plain value (addr=0)
//                       reg_write with an address: addr=1, f8=form,
//                       u64=dma id, aux=offset in the region
//   bar_info            a16=bar  b8=present c8=io  u64=size
//   dma_alloc           u64=size aux=align  b8=ok  u32=id
//   dma_free            u32=id (kNoId: null)
//   fetch               a16=queue r8=part  b16=index  c8=recheck  data
//   frame               a16=queue b16=desc data
//   publish             a16=queue b16=avail u32=head  aux=first segment
//                       w8=segment count  c8=indirect, then
//                       u64=table: dma id << 32 | offset (id kNoId: null)
//   complete            a16=queue b16=head  u32=len
//   barrier             r8=kind
//   wait_irq            u64=timeout b8=arrived
//   now                 u64=value
//   log                 r8=level   data=message
//   op_begin/op_end     r8=op
//   pool_alloc          b8=ok  u32=buffer (kNoId: null)
//   pool_free           u32=buffer (kNoId: null)
//   call                r8=fn  u32=index into calls
//   ret                 r8=fn  u32=index into rets
//   end                 u64=event count
//   msi_messages        a16=max  u32=count  data=count messages of
//                       kMsiMessageBytes (msi_message() reads one)
//   line_interrupt      b8=present
//   arm_interrupts      r8=InterruptMode  a16=vectors
// Capture events (trace2json; docs/qemu-capture.md):
//   reg_write with a ring address: addr=2, u64=queue, aux=RingPart, f8=form
//   mark                r8=MarkWhat
//   dev_pop             a16=queue b16=avail  u32=in  aux=out
//   dev_fill            a16=queue b16=avail  u32=len
//   dev_flush           a16=queue b16=used_idx u32=count
//   dev_irq             a16=queue b8=queue known (false: "q":null)
//   dev_frame           a16=queue r8=FrameDir b16=avail u32=bufs u64=len data
//                       (bufs and len only for rx)
//   dev_msi             a16=MSI-X table entry
//   dev_intx            b8=level
struct Event {
  EventKind kind;
  uint8_t r8;
  uint8_t w8;
  uint8_t b8;
  uint8_t c8;
  uint8_t f8;
  uint8_t addr;
  uint16_t a16;
  uint16_t b16;
  uint32_t u32;
  uint64_t u64;
  uint64_t aux;
  Bytes data;
};

static_assert(sizeof(Event) == 40);

inline constexpr uint32_t kNoId = 0xFFFF'FFFFu;

// An msi_messages event's messages in the arena: address (8 bytes) and
// data (4 bytes), little-endian. The loader ensures count <= max.
inline constexpr size_t kMsiMessageBytes = 12;
struct Trace;
MsiMessage msi_message(const Trace& t, const Event& e, uint16_t i);

// How many times an event happened in a row: a register event with a plain
// value may carry a repeat count ("rep", format version 2); every other
// event happens once.
inline uint64_t event_times(const Event& e) {
  return (e.kind == EventKind::kRegRead || e.kind == EventKind::kRegWrite) && e.addr == 0
             ? e.aux + 1
             : 1;
}

// Event::addr values of a reg_write.
inline constexpr uint8_t kAddrNone = 0, kAddrDma = 1, kAddrRing = 2;
// The ring part a capture's address names ({"ring":q,"part":..}).
enum class RingPart : uint8_t { kDesc, kDriver, kDevice, kPfn };
const char* ring_part_name(RingPart p);
enum class MarkWhat : uint8_t { kDriverStart };
enum class FrameDir : uint8_t { kRx, kTx };

// What the events say the trace is: a recording (call lines drive the
// replay; docs/trace-format.md) or a converted capture (device facts, no
// calls; docs/qemu-capture.md). A trace with neither calls nor capture
// events (only the end line) counts as a recording.
enum class TraceKind : uint8_t { kRecording, kCapture };

struct Segment {
  uint16_t desc;
  uint32_t len;
  bool writable;
  Bytes data;
};

struct CallArgs {
  ApiFn fn;
  PciMode mode = PciMode::kAuto;
  MmioWindow window{};  // probe_mmio: size and irq (base 0)
  NetOptions options{};
  uint16_t max = 0;
  bool enabled = false;  // set_rx_interrupts, set_tx_interrupts; set_rx_mode: "on"
  IrqSource irq{};       // handle_interrupt
  uint16_t pair = 0;     // rx_burst, tx_burst, tx_reclaim, set_*_interrupts ("pair")
  // Control commands (issue 15).
  RxMode rx_mode = RxMode::kPromiscuous;    // set_rx_mode
  std::vector<MacAddr> unicast, multicast;  // set_mac_filter
  uint8_t mac[6] = {};                      // set_mac_address
  uint16_t vid = 0;                         // add_vlan, remove_vlan
  uint16_t pairs = 0;                       // set_queue_pairs
  std::shared_ptr<RssSettings> rss;         // set_rss
  std::vector<Bytes> frames;
  // tx_burst "frags" (scatter-gather): empty when absent, else one entry
  // per frame, its fragments' lengths (empty: one buffer).
  std::vector<std::vector<uint32_t>> frags;
  // tx_burst "offload" (issue 16): empty when absent, else one request per
  // frame (all default: none).
  std::vector<PacketOffload> offloads;
  uint64_t guest_offloads = 0;  // set_guest_offloads "offloads"
};

// A frame rx_burst delivered (a ret's "delivered", issue 16): its buffers'
// lengths in chain order and its offload result.
struct DeliveredFrame {
  std::vector<uint32_t> bufs;
  PacketOffload offload;
};

struct RetValues {
  ApiFn fn;
  uint32_t value = 0;  // handle_interrupt: IrqWork bits (trace::irq_work_bits)
  NetState state = NetState::kDown;
  bool has_transport = false;  // probe: "transport" non-null
  std::string transport;
  bool has_negotiated = false;  // attach, recover
  uint64_t features = 0;
  uint32_t hdr_size = 0;
  uint16_t mtu = 0;
  uint8_t mac[6] = {};
  bool has_link = false;  // attach, recover, poll_device
  bool link_up = false;
  bool has_events = false;  // poll_device
  DeviceEvents events{};
  // rx_burst "delivered" (issue 16). Absent (has_delivered false): every
  // delivered frame was one buffer without an offload result.
  bool has_delivered = false;
  std::vector<DeliveredFrame> delivered;
};

struct Trace {
  std::string name;  // file name, for reports
  // The file as loaded; empty when loaded with keep_text = false, and then
  // line() reads a line back from source_path when a report needs it.
  std::string text;
  std::string source_path;
  uint64_t source_bytes = 0;  // size of the text that was loaded
  TraceHeaderInfo header;
  std::vector<Event> events;          // the last one is kEnd
  std::vector<uint32_t> event_line;   // 1-based line of events[i]
  std::vector<uint64_t> line_offset;  // start of each line in text (index: line - 1)
  std::vector<uint8_t> bytes;
  std::vector<Segment> segments;
  std::vector<CallArgs> calls;
  std::vector<RetValues> rets;
  TraceKind kind = TraceKind::kRecording;
  // Index in events of the "mark driver_start" (SIZE_MAX: none; a capture
  // without a mark is the driver's from its first event).
  size_t driver_start = SIZE_MAX;
  size_t kind_line = 0;  // the line that decided kind (0: none did)
  // Events as they happened: events.size() with every repeat counted.
  uint64_t logical_events = 0;

  const uint8_t* data(const Bytes& b) const { return bytes.data() + b.off; }
  // The text of a 1-based line (without its newline). Without the kept
  // text, the line is read back from source_path into a buffer that the
  // next call reuses (copy it before calling again; not thread-safe).
  std::string_view line(size_t number) const;
  mutable std::string line_buffer;
  // Event number as reports show it: 1-based, the header is not counted.
  static size_t event_number(size_t index) { return index + 1; }
};

struct LoadOptions {
  // Flat lines (most of a large trace) are scanned without building a JSON
  // value; off: every line through nlohmann (the reference the fast path
  // is tested against).
  bool fast_path = true;
  // Keep the trace's text in memory (Trace::text). Off (a file loaded to
  // be replayed): the text is dropped after loading, and the lines a
  // report quotes are read back from the file: a loaded event then costs
  // its Event, its line number and its line offset (52 bytes).
  bool keep_text = true;
};

// Parses text (the whole trace); name is used in error messages only.
// Throws TraceError.
Trace load_trace(std::string text, std::string name, const LoadOptions& options = {});
// Reads and parses a file. Throws TraceError (line 0 when unreadable).
Trace load_trace_file(const std::string& path, const LoadOptions& options = {});

}  // namespace vnet::replay
