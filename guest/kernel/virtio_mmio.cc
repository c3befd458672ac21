#include "guest/kernel/virtio_mmio.h"

#include "guest/kernel/pvh.h"

namespace guest::virtio_mmio {
namespace {

constexpr uint32_t kRegMagic = 0x000;
constexpr uint32_t kRegVersion = 0x004;
constexpr uint32_t kRegDeviceId = 0x008;
constexpr uint32_t kRegVendorId = 0x00c;
constexpr uint64_t kAddressLimit = uint64_t{1} << 48;
constexpr char kKey[] = "virtio_mmio.device=";
constexpr size_t kKeyLen = sizeof(kKey) - 1;

}  // namespace

const char* source_name(Source s) {
  return s == Source::kProbe ? "probe" : "cmdline";
}

const char* entry_error_name(EntryError e) {
  switch (e) {
    case EntryError::kOk:
      return "ok";
    case EntryError::kSyntax:
      return "not <size>@<base>:<irq>";
    case EntryError::kSize:
      return "size outside 0x100..1M";
    case EntryError::kAlignment:
      return "base not 4-byte aligned";
    case EntryError::kRange:
      return "window beyond 48 bits";
    case EntryError::kTooMany:
      return "too many entries";
  }
  return "?";
}

Identity identify(const Window& w, Read32 read, void* context) {
  // 4.2.3.1.1: MagicValue and Version first; DeviceID only when both are
  // valid; nothing more when it is 0 (a placeholder).
  Identity id;
  id.magic = read(context, w.base + kRegMagic);
  if (id.magic != kMagic) return id;
  id.version = read(context, w.base + kRegVersion);
  if (id.version != 1 && id.version != 2) return id;
  id.device_id = read(context, w.base + kRegDeviceId);
  if (id.device_id == 0) return id;
  id.vendor_id = read(context, w.base + kRegVendorId);
  return id;
}

EntryError parse_entry(const char* value, size_t len, Window* out) {
  const char* p = value;
  const char* end = value + len;
  uint64_t size = 0, base = 0, irq = 0;
  if (!parse_number_prefix(&p, end, &size)) return EntryError::kSyntax;
  // Linux's memparse suffixes.
  if (p < end && (*p == 'K' || *p == 'k' || *p == 'M' || *p == 'm' || *p == 'G' || *p == 'g')) {
    const unsigned shift = (*p == 'K' || *p == 'k') ? 10 : (*p == 'M' || *p == 'm') ? 20 : 30;
    if (size > (~uint64_t{0} >> shift)) return EntryError::kSize;
    size <<= shift;
    ++p;
  }
  if (p == end || *p != '@') return EntryError::kSyntax;
  ++p;
  if (!parse_number_prefix(&p, end, &base)) return EntryError::kSyntax;
  if (p == end || *p != ':') return EntryError::kSyntax;
  ++p;
  if (!parse_number_prefix(&p, end, &irq) || irq >= kNoIrq) return EntryError::kSyntax;
  if (p < end) {  // :<id>, a platform device id: ignored
    uint64_t id;
    if (*p != ':') return EntryError::kSyntax;
    ++p;
    if (!parse_number_prefix(&p, end, &id) || p != end) return EntryError::kSyntax;
  }
  if (size < kMinWindow || size > kMaxWindow) return EntryError::kSize;
  if ((base & 3) != 0) return EntryError::kAlignment;
  if (base == 0 || base >= kAddressLimit || size > kAddressLimit - base) return EntryError::kRange;
  out->base = base;
  out->size = size;
  out->irq = static_cast<uint32_t>(irq);
  out->source = Source::kCmdline;
  return EntryError::kOk;
}

size_t parse_cmdline(const char* cmdline, Window* out, size_t max, CmdlineReport* report) {
  *report = CmdlineReport{};
  size_t n = 0;
  const char* p = cmdline;
  while (*p != '\0') {
    while (*p == ' ') ++p;
    const char* word = p;
    while (*p != '\0' && *p != ' ') ++p;
    const size_t len = static_cast<size_t>(p - word);
    if (len < kKeyLen) continue;
    bool match = true;
    for (size_t i = 0; i < kKeyLen && match; ++i) match = word[i] == kKey[i];
    if (!match) continue;
    ++report->entries;
    Window w;
    EntryError e = parse_entry(word + kKeyLen, len - kKeyLen, &w);
    if (e == EntryError::kOk && n == max) e = EntryError::kTooMany;
    if (e == EntryError::kOk) {
      out[n++] = w;
      continue;
    }
    if (report->rejected++ == 0) {
      report->first_error = e;
      size_t k = 0;
      for (; k + kKeyLen < len && k + 1 < sizeof(report->first_rejected); ++k)
        report->first_rejected[k] = word[kKeyLen + k];
      report->first_rejected[k] = '\0';
    }
  }
  return n;
}

SlotLayout slot_layout(bool acpi, bool ioapic2) {
  if (!acpi) return SlotLayout{8, 5, "acpi=off"};
  if (ioapic2) return SlotLayout{kMaxSlots, 24, "acpi, ioapic2"};
  return SlotLayout{8, 16, "acpi, ioapic2=off"};
}

size_t probe_slots(const SlotLayout& layout, Read32 read, void* context, Window* out, size_t max,
                   uint32_t* empty) {
  size_t n = 0;
  *empty = 0;
  const uint32_t slots = layout.slots < kMaxSlots ? layout.slots : kMaxSlots;
  for (uint32_t i = 0; i < slots && n < max; ++i) {
    Window w;
    w.base = kSlotBase + uint64_t{i} * kSlotSize;
    w.size = kSlotSize;
    w.irq = layout.gsi_base + i;
    w.source = Source::kProbe;
    const Identity id = identify(w, read, context);
    if (!id.is_virtio()) continue;
    if (id.device_id == 0) {
      ++*empty;
      continue;
    }
    out[n++] = w;
  }
  return n;
}

}  // namespace guest::virtio_mmio
