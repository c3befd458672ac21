#include "fuzz/harness/typed_streams.h"

#include <string.h>

#include "fuzz/harness/targets.h"
#include "fuzz/harness/world.h"

namespace vnet::fuzz {

namespace {

// Written from the specification (4.1.4, 4.1.4.8), like the oracles'.
constexpr uint32_t kPciStatus = 0x06;
constexpr uint8_t kStatusCapList = 0x10;
constexpr uint32_t kCapPtr = 0x34;
constexpr uint8_t kCapVendor = 0x09;
constexpr int kMaxCaps = 48;
constexpr uint32_t kCommonStatus = 0x14;
constexpr uint32_t kLegacyStatus = 0x12;
constexpr uint32_t kLegacyIsr = 0x13;
constexpr uint32_t kLegacyConfig = 0x14;

constexpr uint64_t kDigestBasis = 0xCBF29CE484222325ull;

bool is_marker(const uint8_t* p) {
  return memcmp(p, kStreamMarker, sizeof kStreamMarker) == 0;
}

}  // namespace

const char* stream_name(Stream s) {
  switch (s) {
    case Stream::kPciConfig:
      return "pci_config";
    case Stream::kBarInfo:
      return "bar_info";
    case Stream::kCommonCfg:
      return "common_cfg";
    case Stream::kDeviceCfg:
      return "device_cfg";
    case Stream::kIsrStatus:
      return "isr_status";
    case Stream::kUsedIdx:
      return "used_idx";
    case Stream::kUsedId:
      return "used_id";
    case Stream::kUsedLen:
      return "used_len";
    case Stream::kRxHeader:
      return "rx_header";
    case Stream::kFrame:
      return "frame";
    case Stream::kInterrupt:
      return "interrupt";
    case Stream::kOtherFetch:
      return "other_fetch";
  }
  return "?";
}

void parse_streams(const uint8_t* data, size_t size, StreamBytes& out) {
  for (auto& s : out) s.clear();
  constexpr size_t kM = sizeof kStreamMarker;
  unsigned cur = 0;
  size_t i = 0;
  while (i < size) {
    // The next marker (or the end): everything before it is data.
    size_t j = i;
    for (;;) {
      const void* hit = memchr(data + j, kStreamMarker[0], size - j);
      if (hit == nullptr) {
        j = size;
        break;
      }
      j = static_cast<size_t>(static_cast<const uint8_t*>(hit) - data);
      if (j + kM <= size && is_marker(data + j)) break;
      ++j;
    }
    out[cur].insert(out[cur].end(), data + i, data + j);
    if (j + kM >= size) break;  // the end, or a marker without its tag
    const uint8_t tag = data[j + kM];
    if (tag == kMarkerEscape)
      out[cur].insert(out[cur].end(), kStreamMarker, kStreamMarker + kM);
    else
      cur = tag % kNumStreams;
    i = j + kM + 1;
  }
}

void append_streams(const StreamBytes& streams, std::vector<uint8_t>* out) {
  constexpr size_t kM = sizeof kStreamMarker;
  for (unsigned k = 0; k < kNumStreams; ++k) {
    const std::vector<uint8_t>& s = streams[k];
    if (s.empty()) continue;
    out->insert(out->end(), kStreamMarker, kStreamMarker + kM);
    out->push_back(static_cast<uint8_t>(k));
    for (size_t i = 0; i < s.size();) {
      if (i + kM <= s.size() && is_marker(s.data() + i)) {
        out->insert(out->end(), kStreamMarker, kStreamMarker + kM);
        out->push_back(kMarkerEscape);
        i += kM;
      } else {
        out->push_back(s[i++]);
      }
    }
  }
}

// ---- ReadClassifier

void ReadClassifier::begin(PciMode mode) {
  mode_ = mode;
  memset(cfg_, 0, sizeof cfg_);
  for (BarInfo& b : bars_) b = BarInfo{};
  dirty_ = true;
}

void ReadClassifier::on_config_read(uint32_t offset, uint8_t width, uint32_t value) {
  // A probe starts with the vendor id: what an earlier probe was told is
  // forgotten.
  if (offset == 0) {
    memset(cfg_, 0, sizeof cfg_);
    for (BarInfo& b : bars_) b = BarInfo{};
  }
  for (uint32_t i = 0; i < width && i < 4; ++i)
    if (offset + i < sizeof cfg_) cfg_[offset + i] = static_cast<uint8_t>(value >> (8 * i));
  dirty_ = true;
}

void ReadClassifier::on_bar_info(uint8_t bar, const BarInfo& info) {
  if (bar < kNumBars) bars_[bar] = info;
  dirty_ = true;
}

uint32_t ReadClassifier::cfg32(uint32_t at) const {
  uint32_t v = 0;
  for (uint32_t i = 0; i < 4; ++i) v |= uint32_t{cfg8(at + i)} << (8 * i);
  return v;
}

void ReadClassifier::rebuild() const {
  dirty_ = false;
  common_ = isr_ = device_ = Window{};
  if ((cfg8(kPciStatus) & kStatusCapList) == 0) return;
  // The walk a driver makes (4.1.4.1): the first usable capability of each
  // type, inside configuration space, in a BAR of the size bar_info said.
  uint32_t ptr = cfg8(kCapPtr) & 0xFCu;
  for (int n = 0; n < kMaxCaps && ptr != 0; ++n) {
    if (ptr < 0x40 || ptr + 16 > sizeof cfg_) break;
    const uint32_t next = cfg8(ptr + 1) & 0xFCu;
    if (cfg8(ptr) == kCapVendor) {
      const uint8_t cap_len = cfg8(ptr + 2);
      const uint8_t type = cfg8(ptr + 3);
      const uint8_t bar = cfg8(ptr + 4);
      const uint32_t offset = cfg32(ptr + 8);
      const uint32_t length = cfg32(ptr + 12);
      Window* slot = type == 1 ? &common_ : type == 3 ? &isr_ : type == 4 ? &device_ : nullptr;
      const uint32_t min_len = type == 1 ? 0x38 : type == 3 ? 1 : 0;
      const uint32_t align = type == 3 ? 1 : 4;
      if (slot != nullptr && !slot->valid && cap_len >= 16 && bar < kNumBars && length >= min_len &&
          (offset & (align - 1)) == 0 && bars_[bar].present &&
          uint64_t{offset} + length <= bars_[bar].size)
        *slot = Window{true, bar, offset, length};
    }
    ptr = next;
  }
}

bool ReadClassifier::inside(const Window& w, uint8_t bar, uint32_t offset) {
  return w.valid && w.bar == bar && offset >= w.offset && offset - w.offset < w.length;
}

Stream ReadClassifier::classify(Region region, uint32_t offset) const {
  if (region == Region::kPciConfig) return Stream::kPciConfig;
  if (region < Region::kBar0 || region > Region::kBar5) return Stream::kCommonCfg;
  const uint8_t bar = static_cast<uint8_t>(static_cast<uint8_t>(region) - 1);
  if (mode_ != PciMode::kLegacy) {
    if (dirty_) rebuild();
    if (inside(common_, bar, offset))
      return offset - common_.offset == kCommonStatus ? Stream::kIsrStatus : Stream::kCommonCfg;
    if (inside(isr_, bar, offset)) return Stream::kIsrStatus;
    if (inside(device_, bar, offset)) return Stream::kDeviceCfg;
  }
  if (bar == 0 && mode_ != PciMode::kModern) {
    if (offset == kLegacyStatus || offset == kLegacyIsr) return Stream::kIsrStatus;
    if (offset >= kLegacyConfig) return Stream::kDeviceCfg;
  }
  return Stream::kCommonCfg;
}

// ---- TypedBoundaryPlatform

void TypedBoundaryPlatform::begin(const StreamBytes& streams, PciMode mode) {
  for (unsigned k = 0; k < kNumStreams; ++k)
    streams_[k] = Input(streams[k].data(), streams[k].size());
  flat_ = nullptr;
  record_ = nullptr;
  classifier_.begin(mode);
  digest_ = kDigestBasis;
  clock_ = 0;
}

void TypedBoundaryPlatform::begin_convert(Input& flat, StreamBytes* record, PciMode mode) {
  for (unsigned k = 0; k < kNumStreams; ++k) streams_[k] = Input(nullptr, 0);
  for (auto& s : *record) s.clear();
  flat_ = &flat;
  record_ = record;
  classifier_.begin(mode);
  digest_ = kDigestBasis;
  clock_ = 0;
}

uint64_t TypedBoundaryPlatform::take(Stream s, unsigned width) {
  const unsigned k = static_cast<unsigned>(s);
  uint64_t v = 0;
  if (flat_ != nullptr) {
    for (unsigned i = 0; i < width && !flat_->exhausted(); ++i) {
      const uint8_t b = flat_->u8();
      (*record_)[k].push_back(b);
      v |= uint64_t{b} << (8 * i);
    }
  } else {
    v = streams_[k].value(width);
  }
  mix(k);
  mix(v);
  return v;
}

void TypedBoundaryPlatform::take_bytes(Stream s, void* dst, size_t len) {
  const unsigned k = static_cast<unsigned>(s);
  if (flat_ != nullptr) {
    const size_t got = len < flat_->remaining() ? len : flat_->remaining();
    flat_->bytes(dst, len);
    const uint8_t* d = static_cast<const uint8_t*>(dst);
    (*record_)[k].insert((*record_)[k].end(), d, d + got);
  } else {
    streams_[k].bytes(dst, len);
  }
  mix(k);
  mix(len);
  const uint8_t* d = static_cast<const uint8_t*>(dst);
  for (size_t i = 0; i < len; i += 8) {
    uint64_t w = 0;
    memcpy(&w, d + i, len - i < 8 ? len - i : 8);
    mix(w);
  }
}

uint32_t TypedBoundaryPlatform::reg_read(Region region, uint32_t offset, uint8_t width) {
  const unsigned w = width > 4 ? 4 : width;
  const Stream s = classifier_.classify(region, offset);
  const uint32_t v = static_cast<uint32_t>(take(s, w));
  if (region == Region::kPciConfig) classifier_.on_config_read(offset, width, v);
  return v;
}

BarInfo TypedBoundaryPlatform::bar_info(uint8_t bar) {
  const BarInfo info = bar_info_from_byte(static_cast<uint8_t>(take(Stream::kBarInfo, 1)));
  classifier_.on_bar_info(bar, info);
  return info;
}

void TypedBoundaryPlatform::fetch(const DeviceMemRef& what, const volatile void*, void* dst,
                                  size_t len) {
  switch (what.part) {
    case MemPart::kUsedIdx:
      take_bytes(Stream::kUsedIdx, dst, len);
      return;
    case MemPart::kUsedElem: {
      // {le32 id, le32 len} per slot: ids and lengths from their streams.
      uint8_t* d = static_cast<uint8_t*>(dst);
      size_t i = 0;
      for (; i + 8 <= len; i += 8) {
        const uint32_t id = static_cast<uint32_t>(take(Stream::kUsedId, 4));
        const uint32_t l = static_cast<uint32_t>(take(Stream::kUsedLen, 4));
        for (unsigned b = 0; b < 4; ++b) {
          d[i + b] = static_cast<uint8_t>(id >> (8 * b));
          d[i + 4 + b] = static_cast<uint8_t>(l >> (8 * b));
        }
      }
      if (i < len) take_bytes(Stream::kOtherFetch, d + i, len - i);
      return;
    }
    case MemPart::kRxHeader:
      take_bytes(Stream::kRxHeader, dst, len);
      return;
    case MemPart::kPackedDesc: {
      // A used descriptor: its flags answer from the used_idx stream (the
      // 2-byte "how far did the device get"), its len and id from the
      // used_len and used_id streams.
      uint8_t* d = static_cast<uint8_t*>(dst);
      if (len == 2) {
        take_bytes(Stream::kUsedIdx, d, 2);
        return;
      }
      if (len == 6) {
        const uint32_t l = static_cast<uint32_t>(take(Stream::kUsedLen, 4));
        const uint32_t id = static_cast<uint32_t>(take(Stream::kUsedId, 2));
        for (unsigned b = 0; b < 4; ++b) d[b] = static_cast<uint8_t>(l >> (8 * b));
        d[4] = static_cast<uint8_t>(id);
        d[5] = static_cast<uint8_t>(id >> 8);
        return;
      }
      break;
    }
    case MemPart::kUsedFlags:
    case MemPart::kAvailEvent:
    case MemPart::kCtrlAck:
    case MemPart::kDeviceEvent:
      break;
  }
  take_bytes(Stream::kOtherFetch, dst, len);
}

void TypedBoundaryPlatform::frame_in_place(uint16_t, uint16_t, void* data, uint32_t len) {
  // As BoundaryPlatform: n, then min(8 n, len) bytes; the rest reads zero.
  const size_t n = size_t{static_cast<uint8_t>(take(Stream::kFrame, 1))} * 8;
  take_bytes(Stream::kFrame, data, n < len ? n : len);
  if (n < len) memset(static_cast<uint8_t*>(data) + n, 0, len - n);
}

bool TypedBoundaryPlatform::wait_interrupt(uint64_t) {
  return (take(Stream::kInterrupt, 1) & 1) != 0;
}

uint16_t TypedBoundaryPlatform::msi_messages(uint16_t max, MsiMessage* out) {
  uint16_t n = static_cast<uint16_t>(take(Stream::kInterrupt, 1) % 4);
  if (n > max) n = max;
  for (uint16_t i = 0; i < n; ++i) out[i] = MsiMessage{0xFEE0'0000u, 0x4040u + i};
  return n;
}

bool TypedBoundaryPlatform::line_interrupt() {
  return (take(Stream::kInterrupt, 1) & 1) != 0;
}

// ---- the target

namespace {

TypedBoundaryPlatform& platform() {
  // Process-wide, like the World whose sessions refer to it.
  static TypedBoundaryPlatform* p = new TypedBoundaryPlatform(World::get().memory());
  return *p;
}

}  // namespace

int run_fuzz_boundary_typed(const uint8_t* data, size_t size) {
  static StreamBytes* streams = new StreamBytes[1];
  BoundaryScript script;
  const size_t used = read_boundary_script(data, size, &script);
  parse_streams(data + used, size - used, *streams);
  TypedBoundaryPlatform& p = platform();
  p.begin(*streams, script.mode);
  World& w = World::get();
  w.begin_boundary(p, "fuzz_boundary_typed");
  run_boundary_script(w, script);
  return 0;
}

uint64_t typed_answer_digest() {
  return platform().answer_digest();
}

std::vector<uint8_t> typed_from_flat(const uint8_t* data, size_t size, uint64_t* digest) {
  BoundaryScript script;
  const size_t used = read_boundary_script(data, size, &script);
  Input flat(data + used, size - used);
  StreamBytes record;
  TypedBoundaryPlatform& p = platform();
  p.begin_convert(flat, &record, script.mode);
  World& w = World::get();
  w.begin_boundary(p, "fuzz_boundary");
  run_boundary_script(w, script);
  if (digest != nullptr) *digest = p.answer_digest();
  p.begin(StreamBytes{}, script.mode);  // nothing left pointing at flat or record
  std::vector<uint8_t> out(data, data + used);
  append_streams(record, &out);
  return out;
}

}  // namespace vnet::fuzz
