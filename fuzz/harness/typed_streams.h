// Typed input streams for the boundary fuzzer (fuzz_boundary_typed).
//
// fuzz_boundary answers every device read from one flat value stream, in
// call order: a mutation that inserts or removes a byte early on shifts
// every later answer, and a used.idx value sits wherever the driver
// happened to ask for it. Here each kind of device read has a stream of its
// own (the Hoedur idea), so a mutation of the used-id stream changes used
// ids and nothing else:
//
//   stream            what it answers                          bytes per answer
//   0 pci_config      reg_read of PCI configuration space      width
//   1 bar_info        bar_info                                 1 (device_shims.h)
//   2 common_cfg      modern common cfg (but device_status),   width
//                     legacy registers 0x00..0x11, anything
//                     else outside the windows below
//   3 device_cfg      device configuration window (modern),    width
//                     legacy BAR 0 from 0x14
//   4 isr_status      ISR (modern window, legacy 0x13) and     width
//                     device_status (common + 0x14, legacy 0x12)
//   5 used_idx        fetch of a used.idx; packed: of a used   2
//                     descriptor's flags
//   6 used_id         fetch of used elements: the id of each   4 per element;
//                     packed: a used descriptor's id           2
//   7 used_len        ... and the len of each                  4 per element
//   8 rx_header       fetch of an rx virtio-net header         len
//   9 frame           frame_in_place: n, then min(8 n, len)    1 + ...
//  10 interrupt       wait_interrupt: bit 0; msi_messages:     1
//                     the count % 4; line_interrupt: bit 0
//  11 other_fetch     used.flags, avail_event, control acks,   len
//                     packed device event structures
//
// A stream running dry answers 0, like the flat form.
//
// Reads are classified by what they address -- Region, offset, MemPart --
// never by the driver's call site. BAR registers are located through the
// PCI configuration space the input itself answered: every answer to a
// configuration read is kept in an image (cleared when a probe reads the
// vendor id), the vendor capabilities in it give the common, ISR and device
// windows (the first usable one of each type, with the size bar_info gave
// for its BAR), and BAR 0 outside those windows has the legacy layout. In
// mode kLegacy the modern windows are ignored. (A transitional device
// probed in kAuto whose modern probe failed after advertising a window in
// BAR 0 has some legacy reads routed by that window: still deterministic,
// only a mixing of two streams.)
//
// Input format (after fuzz_boundary's script prefix, targets.h):
//
//   [bytes of stream 0] { MARKER tag:u8 [bytes] }*
//
// MARKER is 4 fixed bytes (kStreamMarker). The bytes after "MARKER tag"
// up to the next MARKER are appended to stream tag % 12; tag 0xFF instead
// appends MARKER itself to the current stream (the escape, so any stream
// content can be written). Bytes before the first marker belong to stream 0.
//
// Why a separator scheme: libFuzzer's mutators are byte-level (insert,
// erase, copy part, change byte, dictionary insertion, cross-over). With a
// header of stream lengths an insertion or erasure inside one stream would
// move every later stream's bytes across a boundary the header still
// places where it was; with length-prefixed chunks (TLV) it would shift
// the following chunk's framing. With separators an insertion or erasure
// stays inside the segment it hits: only that stream changes. The tag
// after each marker (rather than "the k-th segment is stream k") keeps a
// stray marker -- inserted from the dictionary, or by cross-over -- from
// renumbering every later segment: it only moves the rest of its segment to
// another stream. Streams may be split into several segments; they are
// concatenated in input order. The dictionary
// (fuzz/options/fuzz_boundary_typed.dict) holds MARKER+tag for each stream.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <vector>

#include "driver/platform/platform.h"
#include "driver/transport/pci_probe.h"
#include "fuzz/harness/device_shims.h"
#include "fuzz/harness/input.h"
#include "mock_device/guest_memory.h"

namespace vnet::fuzz {

enum class Stream : uint8_t {
  kPciConfig = 0,
  kBarInfo,
  kCommonCfg,
  kDeviceCfg,
  kIsrStatus,
  kUsedIdx,
  kUsedId,
  kUsedLen,
  kRxHeader,
  kFrame,
  kInterrupt,
  kOtherFetch,
};
inline constexpr unsigned kNumStreams = 12;
const char* stream_name(Stream s);

inline constexpr uint8_t kStreamMarker[4] = {0xF7, 0x5E, 0x0A, 0xB3};
inline constexpr uint8_t kMarkerEscape = 0xFF;

using StreamBytes = std::vector<uint8_t>[kNumStreams];

// Splits data (the input after the script) into the streams: the inverse
// of append_streams().
void parse_streams(const uint8_t* data, size_t size, StreamBytes& out);
// Writes every non-empty stream as MARKER tag bytes (an occurrence of
// MARKER inside a stream is escaped).
void append_streams(const StreamBytes& streams, std::vector<uint8_t>* out);

// Which stream a register read answers from. Keeps the PCI configuration
// image and the BAR sizes of the current input.
class ReadClassifier {
 public:
  void begin(PciMode mode);
  // Every answer the device gave, in order.
  void on_config_read(uint32_t offset, uint8_t width, uint32_t value);
  void on_bar_info(uint8_t bar, const BarInfo& info);
  Stream classify(Region region, uint32_t offset) const;

 private:
  struct Window {
    bool valid;
    uint8_t bar;
    uint32_t offset;
    uint32_t length;
  };
  uint8_t cfg8(uint32_t at) const { return at < sizeof cfg_ ? cfg_[at] : 0; }
  uint32_t cfg32(uint32_t at) const;
  void rebuild() const;
  static bool inside(const Window& w, uint8_t bar, uint32_t offset);

  PciMode mode_ = PciMode::kAuto;
  uint8_t cfg_[256] = {};
  BarInfo bars_[kNumBars] = {};
  mutable bool dirty_ = true;
  mutable Window common_{}, isr_{}, device_{};
};

// The device side of fuzz_boundary_typed: BoundaryPlatform's answers
// (device_shims.h), each from the stream of its kind.
class TypedBoundaryPlatform final : public ShimBase {
 public:
  explicit TypedBoundaryPlatform(mock::GuestMemory& memory) : ShimBase(memory) {}

  // A new input whose answers come from streams (kept by the caller until
  // the input ends).
  void begin(const StreamBytes& streams, PciMode mode);
  // Conversion of a flat fuzz_boundary input: every answer is read from
  // flat, in call order exactly as BoundaryPlatform reads it, and the bytes
  // it took are appended to record[its stream].
  void begin_convert(Input& flat, StreamBytes* record, PciMode mode);

  uint32_t reg_read(Region region, uint32_t offset, uint8_t width) override;
  void reg_write(Region, uint32_t, uint8_t, uint32_t) override {}
  BarInfo bar_info(uint8_t bar) override;
  void fetch(const DeviceMemRef& what, const volatile void* src, void* dst, size_t len) override;
  void frame_in_place(uint16_t queue, uint16_t desc, void* data, uint32_t len) override;
  bool wait_interrupt(uint64_t timeout_ns) override;
  // As BoundaryPlatform: 1 byte each from the interrupt stream.
  uint16_t msi_messages(uint16_t max, MsiMessage* out) override;
  bool line_interrupt() override;

  // A digest of every answer given (kind, stream, value), so that a flat
  // input and its conversion can be shown to answer alike.
  uint64_t answer_digest() const { return digest_; }

 private:
  uint64_t take(Stream s, unsigned width);
  void take_bytes(Stream s, void* dst, size_t len);
  void mix(uint64_t v) { digest_ = (digest_ ^ v) * 0x100000001B3ull; }

  Input streams_[kNumStreams] = {
      Input(nullptr, 0), Input(nullptr, 0), Input(nullptr, 0), Input(nullptr, 0),
      Input(nullptr, 0), Input(nullptr, 0), Input(nullptr, 0), Input(nullptr, 0),
      Input(nullptr, 0), Input(nullptr, 0), Input(nullptr, 0), Input(nullptr, 0),
  };
  Input* flat_ = nullptr;
  StreamBytes* record_ = nullptr;
  ReadClassifier classifier_;
  uint64_t digest_ = 0;
};

// The target body of fuzz_boundary_typed (fuzz/targets/fuzz_boundary_typed.cc).
int run_fuzz_boundary_typed(const uint8_t* data, size_t size);

// A flat fuzz_boundary input as a typed one: runs it once (all oracles on)
// and records which stream each answer came from. *digest (if given) gets
// the run's answer digest; run_fuzz_boundary_typed on the result gives the
// same (typed_answer_digest()).
std::vector<uint8_t> typed_from_flat(const uint8_t* data, size_t size, uint64_t* digest = nullptr);
// The answer digest of the last run_fuzz_boundary_typed input.
uint64_t typed_answer_digest();

}  // namespace vnet::fuzz
