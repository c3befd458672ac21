#include "tools/trace2json/converter.h"

#include "replay/record/trace_names.h"

#include <stdio.h>
#include <time.h>

namespace trace2json {
namespace {

constexpr uint8_t kStatusDriverOk = 4;
constexpr uint64_t kFeatureMrgRxbuf = 1ull << 15;
constexpr uint64_t kFeatureMq = 1ull << 22;
constexpr uint64_t kFeatureVersion1 = 1ull << 32;
constexpr uint64_t kFeatureRingPacked = 1ull << 34;
constexpr size_t kMaxCfgBuffer = 1u << 16;
// QEMU's modern layout inside the memory BAR (virtio-pci.c), used only
// when the BARs were never seen in PCI config (a log started late).
constexpr uint32_t kModernCommon = 0x0000, kModernIsr = 0x1000, kModernDevice = 0x2000,
                   kModernNotify = 0x3000;
constexpr int kModernBar = 4;
constexpr uint64_t kDefaultIoBarSize = 0x40, kDefaultMemBarSize = 0x4000;

uint64_t mask_of(uint32_t width) {
  return width >= 8 ? ~0ull : (1ull << (8 * width)) - 1;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

constexpr char kPciConfig[] = "pci_config";
constexpr char kMmio[] = "mmio";

const char* bar_name(int i) {
  static const char* const kNames[] = {"bar0", "bar1", "bar2", "bar3", "bar4", "bar5"};
  return kNames[i];
}

uint8_t guess_width(uint32_t offset) {
  return offset % 4 == 0 ? 4 : offset % 2 == 0 ? 2 : 1;
}

}  // namespace

Converter::Converter(const Options& options, vnet::trace::TraceWriter& out)
    : o_(options), w_(out) {}

void Converter::FeatureBytes::merge(uint32_t word, uint32_t byte_off, uint8_t width,
                                    uint32_t value) {
  if (word >= 2) return;
  for (uint32_t k = 0; k < width && byte_off + k < 4; ++k) {
    const uint32_t byte = 4 * word + byte_off + k;
    bits &= ~(uint64_t{0xff} << (8 * byte));
    bits |= uint64_t{(value >> (8 * k)) & 0xff} << (8 * byte);
    known = static_cast<uint8_t>(known | (1u << byte));
  }
}

Converter::Iface Converter::iface_of(Kind k) const {
  return k == Kind::kLegacy ? kIfLegacy : k == Kind::kMmio ? kIfMmio : kIfModern;
}

// The interface the guest drove (modern when it used both, as the
// header's "transport" says).
Converter::Iface Converter::used_iface() const {
  if (used_modern_) return kIfModern;
  if (used_legacy_) return kIfLegacy;
  if (used_mmio_) return kIfMmio;
  return kIfModern;
}

bool Converter::open(std::string* error) {
  if (o_.pcap_path.empty()) return true;
  if (!rx_frames_.open(o_.pcap_path, Direction::kToGuest, error) ||
      !tx_frames_.open(o_.pcap_path, Direction::kFromGuest, error))
    return false;
  pcap_open_ = true;
  if (o_.has_guest_mac) {
    rx_frames_.set_guest_mac(o_.guest_mac);
    tx_frames_.set_guest_mac(o_.guest_mac);
  }
  return true;
}

// The handler counted the line as malformed; remember the first one.
void Converter::malformed(std::string_view line) {
  if (stats_.first_malformed_line == 0) {
    stats_.first_malformed_line = stats_.lines;
    stats_.first_malformed = std::string(line.substr(0, 200));
  }
}

void Converter::feed(std::string_view line) {
  ++stats_.lines;
  LogLine l;
  if (!split_line(line, &l)) {
    bool blank = line.find_first_not_of(" \t\r") == std::string_view::npos;
    if (!blank) {
      ++stats_.foreign;
      if (stats_.first_foreign_line == 0) {
        stats_.first_foreign_line = stats_.lines;
        stats_.first_foreign = std::string(line.substr(0, 200));
      }
    }
    return;
  }
  const uint64_t before = stats_.malformed;
  const std::string_view ev = l.event;
  // Packed rings: a batch of fills ends at the first line of the NIC's
  // events that does not continue it (QEMU fills and flushes under the
  // big lock, so nothing of the device or the vCPU's registers comes in
  // between; lines of events trace2json does not use never close one).
  if (open_batches_ != 0) {
    if (ev == "virtqueue_fill") {
      Fill f;
      if (parse_fill(l.args, &f))
        close_packed_batches(ev, f.vq, f.idx);
      else
        close_packed_batches(ev, 0, 0);
    } else if (ev == "virtqueue_flush") {
      // A logged flush closes its own batch (on_flush).
      Flush fl;
      close_packed_batches(ev, parse_flush(l.args, &fl) ? fl.vq : 0, 0);
    } else if (ev == "virtqueue_pop") {
      // QEMU 7.2's virtio-net pops every buffer of a frame before it fills
      // them (virtio_net_receive_rcu), and virtqueue_push flushes right
      // after its fill: a pop comes after the flush of any open batch.
      close_packed_batches(ev, 0, 0);
    } else if (ev == "memory_region_ops_read" || ev == "memory_region_ops_write" ||
               ev == "pci_cfg_read" || ev == "pci_cfg_write" || ev == "virtio_set_status" ||
               ev == "virtio_queue_notify" || ev == "virtio_notify" || ev == "msix_write_config" ||
               ev == "ioapic_set_irq" || ev.rfind("virtio_mmio_", 0) == 0) {
      close_packed_batches(ev, 0, 0);
    }
  }
  // A NIC notification's pin change comes next on its thread, or not at
  // all (the line was up already).
  // virtio-mmio logs its own line change (virtio_mmio_setting_irq) between
  // the two.
  if (notify_pending_ && l.tid == notify_tid_ && ev != "ioapic_set_irq" &&
      ev != "virtio_mmio_setting_irq")
    notify_pending_ = false;
  bool known = true;
  if (ev == "memory_region_ops_read" || ev == "memory_region_ops_write")
    on_region(l, ev.back() == 'e');
  else if (ev == "pci_cfg_read" || ev == "pci_cfg_write")
    on_pci_cfg(l, ev.back() == 'e');
  else if (ev == "virtio_set_status")
    on_set_status(l);
  else if (ev == "virtio_queue_notify")
    on_queue_notify(l);
  else if (ev == "virtio_notify")
    on_notify(l);
  else if (ev == "virtqueue_pop")
    on_pop(l);
  else if (ev == "virtqueue_fill")
    on_fill(l);
  else if (ev == "virtqueue_flush")
    on_flush(l);
  else if (ev == "msix_write_config")
    on_msix_config(l);
  else if (ev == "ioapic_set_irq")
    on_ioapic(l);
  else if (ev.rfind("virtio_mmio_", 0) == 0)
    // QEMU 7.2's virtio_mmio_read (offset only), virtio_mmio_write_offset,
    // virtio_mmio_guest_page, virtio_mmio_queue_write and
    // virtio_mmio_setting_irq (level only, no device named): the register
    // accesses come with their values from memory_region_ops_*, the NIC's
    // line from ioapic_set_irq (learned as for INTx, virtio_notify first).
    ++stats_.virtio_mmio;
  else
    known = false;
  if (!known) {
    // A trace line of an event we do not use: QEMU's only when the prefix
    // says so (otherwise it may be any "word rest" text).
    if (l.has_prefix) {
      ++stats_.qemu_lines;
      ++stats_.unknown;
      std::string name(ev);
      auto it = stats_.unknown_events.find(name);
      if (it != stats_.unknown_events.end())
        ++it->second;
      else if (stats_.unknown_events.size() < kMaxUnknownNames)
        stats_.unknown_events.emplace(name, 1);
    } else {
      ++stats_.foreign;
      if (stats_.first_foreign_line == 0) {
        stats_.first_foreign_line = stats_.lines;
        stats_.first_foreign = std::string(line.substr(0, 200));
      }
    }
    return;
  }
  if (stats_.malformed != before) {
    malformed(line);
    return;
  }
  ++stats_.qemu_lines;
  if (l.has_prefix) {
    timestamps_ = true;
    if (first_usec_ == 0) first_usec_ = l.usec;
  }
}

// ---- PCI configuration space ----

bool Converter::nic_cfg(std::string_view device, std::string_view bdf) {
  if (bdf_.empty()) {
    if (!o_.pci_bdf.empty() ? bdf != o_.pci_bdf : device != "virtio-net-pci") return false;
    bdf_ = std::string(bdf);
    nic_device_ = std::string(device);
  }
  return bdf == bdf_ && device == nic_device_;
}

uint64_t Converter::bar_base(int i) const {
  const Bar& b = bars_[i];
  if (b.io) return b.raw & ~0x3u;
  uint64_t base = b.raw & ~0xfu;
  if (b.is_64 && i < 5) base |= uint64_t{bars_[i + 1].raw} << 32;
  return base;
}

void Converter::bar_config(const CfgEvent& e) {
  if (e.offset < 0x10 || e.offset >= 0x28 || e.offset % 4 != 0 || e.width != 4) return;
  const int i = static_cast<int>((e.offset - 0x10) / 4);
  Bar& b = bars_[i];
  const bool high_half = i > 0 && bars_[i - 1].is_64 && !bars_[i - 1].io;
  // The type bits (bit 0: I/O; bits 2:1 == 2: 64-bit memory) are read-only:
  // only the device's answer says what the BAR is.
  auto learn_type = [&](uint32_t answer) {
    if (high_half) return;
    b.io = (answer & 1) != 0;
    b.is_64 = !b.io && ((answer >> 1) & 3) == 2;
    b.type_known = true;
  };
  auto type_bits = [&]() -> uint32_t { return b.io ? 1u : b.is_64 ? 4u : 0u; };
  if (e.write) {
    if (e.value == 0xFFFF'FFFFu) {
      b.sizing = true;
      return;
    }
    b.sizing = false;
    b.base_known = true;
    if (high_half) {
      b.raw = e.value;
    } else if (b.type_known) {
      // What the register holds now: the written base, the device's type.
      b.raw = (e.value & (b.io ? ~0x3u : ~0xfu)) | type_bits();
    } else {
      // Never read (a log that starts late): the write is all there is.
      b.raw = e.value;
      b.io = (b.raw & 1) != 0;
      b.is_64 = !b.io && ((b.raw >> 1) & 3) == 2;
    }
    return;
  }
  if (b.sizing) {
    b.sizing = false;
    if (!high_half && e.value != 0) {
      learn_type(e.value);
      const uint32_t m = (e.value & 1) ? (e.value & ~0x3u) : (e.value & ~0xfu);
      b.size = m == 0 ? 0 : uint64_t{~m} + 1;
      if (e.value & 1) b.size &= 0xFFFF'FFFFull;
    }
    return;
  }
  // A plain read: the device's answer is the register, base and type.
  learn_type(e.value);
  b.raw = e.value;
  b.base_known = true;
}

bool Converter::find_bar(uint64_t addr, bool io, int* bar, uint64_t* off) const {
  for (int i = 0; i < 6; ++i) {
    const Bar& b = bars_[i];
    if (!b.base_known || b.io != io) continue;
    if (i > 0 && bars_[i - 1].is_64 && !bars_[i - 1].io) continue;  // high half
    const uint64_t base = bar_base(i);
    if (base == 0) continue;
    const uint64_t size = b.size != 0 ? b.size : io ? kDefaultIoBarSize : kDefaultMemBarSize;
    if (addr >= base && addr - base < size) {
      *bar = i;
      *off = addr - base;
      return true;
    }
  }
  return false;
}

void Converter::write_cfg(const CfgEvent& e) {
  const uint64_t before = w_.events();
  w_.reg_event(e.write, kPciConfig, e.offset, e.width,
               static_cast<uint32_t>(e.value & mask_of(e.width)));
  stats_.events += w_.events() - before;  // 0 when it repeats the line held
  ++stats_.accesses;
}

void Converter::cfg_event(const CfgEvent& e) {
  bar_config(e);
  // Shadow of what the driver read: identity for the header, capability
  // walk (vendor capabilities = a modern interface).
  if (!e.write) {
    for (uint32_t k = 0; k < e.width && e.offset + k < 256; ++k)
      cfg_shadow_[e.offset + k] = static_cast<uint8_t>(e.value >> (8 * k));
    // A walk reads each capability's id and next pointer as bytes (ours)
    // or as one word at the capability (Linux's pci_find_capability).
    auto add_cap = [this](uint64_t ptr) {
      const uint32_t p = static_cast<uint32_t>(ptr & 0xfc);
      if (p == 0) return;
      for (size_t i = 0; i < num_cap_ptrs_; ++i)
        if (cap_ptrs_[i] == p) return;
      if (num_cap_ptrs_ < 64) cap_ptrs_[num_cap_ptrs_++] = p;
    };
    if (e.offset == 0x34 && e.width == 1) add_cap(e.value);
    for (size_t i = 0; i < num_cap_ptrs_; ++i) {
      if (e.offset == cap_ptrs_[i] && (e.value & 0xff) == 0x09) has_vendor_cap_ = true;
      if (e.offset == cap_ptrs_[i] && e.width >= 2) add_cap(e.value >> 8);
      if (e.offset == cap_ptrs_[i] + 1 && e.width == 1) add_cap(e.value);
    }
  }
  if (driver_started_) {
    write_cfg(e);
    return;
  }
  // Before the first BAR access: keep what follows the latest write to
  // the command register, so the driver-start mark can go in front of it.
  if (e.write && e.offset <= 4 && e.offset + e.width > 4) {
    for (const CfgEvent& c : cfg_buffer_) write_cfg(c);
    cfg_buffer_.clear();
    write_cfg(e);
    return;
  }
  if (cfg_buffer_.size() == kMaxCfgBuffer) {
    for (const CfgEvent& c : cfg_buffer_) write_cfg(c);
    cfg_buffer_.clear();
  }
  cfg_buffer_.push_back(e);
}

void Converter::first_bar_access() {
  if (driver_started_) return;
  driver_started_ = true;
  w_.begin("mark");
  w_.str("what", "driver_start");
  w_.end();
  ++stats_.events;
  for (const CfgEvent& c : cfg_buffer_) write_cfg(c);
  cfg_buffer_.clear();
}

void Converter::on_pci_cfg(const LogLine& l, bool write) {
  PciCfgAccess a;
  if (!parse_pci_cfg(l.args, write, &a)) {
    ++stats_.malformed;
    return;
  }
  if (!nic_cfg(a.device, a.bdf)) {
    ++stats_.other_device;
    return;
  }
  ++stats_.nic_lines;
  PendingRead& p = pending_read_[l.tid];
  if (p.active) {  // a read whose data-port access never came
    ++stats_.width_guessed;
    p.active = false;
    cfg_event(p.ev);
  }
  CfgEvent e{write, a.offset, 0, a.value};
  if (write) {
    auto it = conf_write_size_.find(l.tid);
    if (it != conf_write_size_.end() && it->second != 0) {
      e.width = it->second;
      it->second = 0;
    } else {
      e.width = guess_width(a.offset);
      ++stats_.width_guessed;
    }
    cfg_event(e);
  } else {
    p.active = true;  // the width comes with the pci-conf-data read after it
    p.ev = e;
  }
}

// ---- register regions ----

void Converter::on_region(const LogLine& l, bool write) {
  RegionAccess a;
  if (!parse_region_access(l.args, &a)) {
    ++stats_.malformed;
    return;
  }
  const std::string_view name = a.name;
  if (name == "pci-conf-data" || name == "pcie-mmcfg-mmio") {
    if (write) {
      conf_write_size_[l.tid] = static_cast<uint8_t>(a.size);
    } else {
      auto it = pending_read_.find(l.tid);
      if (it != pending_read_.end() && it->second.active) {
        it->second.active = false;
        it->second.ev.width = static_cast<uint8_t>(a.size);
        cfg_event(it->second.ev);
      }
    }
    ++stats_.other_device;
    return;
  }
  if (a.size > 4) {
    ++stats_.other_device;  // 64-bit accesses: not in the driver's vocabulary
    return;
  }
  const uint8_t width = static_cast<uint8_t>(a.size);
  const uint64_t value = a.value & mask_of(a.size);
  logged_value_ = a.value;
  if (name == "virtio-mmio") {
    const uint64_t slot = a.addr & ~0x1ffull;
    const uint32_t off = static_cast<uint32_t>(a.addr & 0x1ff);
    if (!write && off == 0x004 && width == 4) mmio_version_[slot] = static_cast<uint32_t>(value);
    if (!write && off == 0x00c && width == 4) mmio_vendor_[slot] = static_cast<uint32_t>(value);
    if (mmio_slot_ == UINT64_MAX && !write && off == 0x008 && value == 1) mmio_slot_ = slot;
    if (slot != mmio_slot_) {
      ++stats_.other_device;
      return;
    }
    ++stats_.nic_lines;
    used_mmio_ = true;
    reg_event(Kind::kMmio, kMmio, off, off, width, value, write);
    return;
  }
  if (name == "apic-msi") {
    // The local APIC's window: an MSI is a write at offset 0 of it (plus
    // the destination bits 12..19); any other access is the CPU's own
    // APIC register access (QEMU: apic_mem_write).
    if (write && (a.addr & 0xff0) == 0 && (a.addr >> 20) == 0xfee)
      on_msi(a.addr, static_cast<uint32_t>(a.value));
    else
      ++stats_.other_device;
    return;
  }
  const bool legacy = name == "virtio-pci";
  const bool modern = name.rfind("virtio-pci-", 0) == 0 && ends_with(name, "-virtio-net");
  const bool msix = name == "msix-table" || name == "msix-pba";
  if (!legacy && !modern && !msix) {
    ++stats_.other_device;
    return;
  }
  int bar = -1;
  uint64_t off = 0;
  if (!find_bar(a.addr, legacy, &bar, &off)) {
    if (!modern) {
      ++stats_.other_device;  // another virtio device's legacy BAR, or its MSI-X
      return;
    }
    // No BARs seen (the log started after they were programmed): QEMU's
    // fixed layout of the modern BAR.
    ++stats_.offset_guessed;
    bar = kModernBar;
    uint32_t base = ends_with(name, "common-virtio-net")   ? kModernCommon
                    : ends_with(name, "isr-virtio-net")    ? kModernIsr
                    : ends_with(name, "device-virtio-net") ? kModernDevice
                                                           : kModernNotify;
    off = base + (a.addr & 0xfff);
  }
  ++stats_.nic_lines;
  first_bar_access();
  if (name == "msix-table" && write) msix_table_write(off, width, static_cast<uint32_t>(value));
  if (legacy) used_legacy_ = true;
  if (modern) used_modern_ = true;
  // Register meaning is tracked by the offset inside the transport's
  // window (legacy BAR, modern common configuration); the event carries
  // the offset inside the BAR.
  Kind k = legacy ? Kind::kLegacy : Kind::kNone;
  const uint32_t window_off = static_cast<uint32_t>(a.addr & 0xfff);
  if (modern && ends_with(name, "common-virtio-net")) k = Kind::kModern;
  if (modern && ends_with(name, "device-virtio-net") && !write) {
    for (uint32_t i = 0; i < width && window_off + i < 6; ++i) {
      mac_[window_off + i] = static_cast<uint8_t>(value >> (8 * i));
      mac_known_ |= static_cast<uint8_t>(1u << (window_off + i));
    }
  }
  reg_event(k, bar_name(bar), k == Kind::kModern ? window_off : static_cast<uint32_t>(off),
            static_cast<uint32_t>(off), width, value, write);
}

// Tracks what the register means (feature words, queue select and size,
// status, ring addresses); part/as/ring_q name an address register.
void Converter::track_register(Kind kind, uint32_t off, uint8_t width, uint64_t value, bool write,
                               const char** part, const char** as, int* ring_q) {
  const uint32_t v = static_cast<uint32_t>(value);
  bool status_write = false;
  const Iface iface = iface_of(kind);
  // A feature register at `base` (32 bits wide, any access width inside
  // it): the bytes of word `select` this access covers.
  // QEMU logs the register handler's answer before it is cut to the
  // access size: a narrower read at the register's start (iPXE reads the
  // 32-bit feature register with a 16-bit access) still shows what the
  // device offered, which is what device mode must offer again. The
  // event keeps what the guest saw.
  auto offer_bytes = [&](uint32_t base, uint32_t select) {
    if (off == base && width < 4) {
      if ((logged_value_ >> 32) == 0) {
        if ((logged_value_ >> (8 * width)) != 0) ++stats_.widened_from_log;
        offer_[iface].merge(select, 0, 4, static_cast<uint32_t>(logged_value_));
      }
    } else if (off >= base && off < base + 4) {
      offer_[iface].merge(select, off - base, width, v);
    }
  };
  auto accept_bytes = [&](uint32_t base, uint32_t select) {
    if (off >= base && off < base + 4) {
      accepted_[iface].merge(select, off - base, width, v);
      negotiated_ = accepted_[iface].bits;
    }
  };
  // Ring address registers: lo32 at base + stride * part when nonzero; hi32
  // right after its lo32 (zero below 4 GiB). Modern: 0x20, stride 8; MMIO:
  // 0x80, stride 0x10.
  auto ring_address = [&](uint32_t base, uint32_t stride) {
    if (write && ((off % 8 == 0 && v != 0) || (off % 8 == 4 && last_lo_off_ == off - 4))) {
      static const char* const kParts[] = {"desc", "driver", "device"};
      *part = kParts[(off - base) / stride];
      *as = (off % 8) == 0 ? "lo32" : "hi32";
      *ring_q = queue_select_;
    }
  };
  if (kind == Kind::kModern) {
    switch (off) {
      case 0x00:
        if (write) dfselect_ = v;
        break;
      case 0x04:
      case 0x05:
      case 0x06:
      case 0x07:
        if (!write) offer_bytes(0x04, dfselect_);
        break;
      case 0x08:
        if (write) gfselect_ = v;
        break;
      case 0x0c:
      case 0x0d:
      case 0x0e:
      case 0x0f:
        if (write) accept_bytes(0x0c, gfselect_);
        break;
      case 0x14:
        status_write = write;
        break;
      case 0x16:
        if (write) queue_select_ = static_cast<uint16_t>(v);
        break;
      case 0x18:
        if (!write) queue_sizes_.emplace(queue_select_, static_cast<uint16_t>(v));
        break;
      case 0x20:
      case 0x24:
      case 0x28:
      case 0x2c:
      case 0x30:
      case 0x34:
        ring_address(0x20, 8);
        break;
      default:
        break;
    }
  } else if (kind == Kind::kLegacy) {
    const uint32_t config = msix_enabled_ ? 0x18 : 0x14;
    if (off < 0x04 && !write) {
      offer_bytes(0x00, 0);
    } else if (off >= 0x04 && off < 0x08 && write) {
      accept_bytes(0x04, 0);
    } else if (off == 0x08 && write && v != 0) {
      *part = "pfn";
      *as = "pfn";
      *ring_q = queue_select_;
    } else if (off == 0x0c && !write) {
      queue_sizes_.emplace(queue_select_, static_cast<uint16_t>(v));
    } else if (off == 0x0e && write) {
      queue_select_ = static_cast<uint16_t>(v);
    } else if (off == 0x12 && write) {
      status_write = true;
    } else if (off >= config && off < config + 6 && !write) {
      for (uint32_t i = 0; i < width && off - config + i < 6; ++i) {
        mac_[off - config + i] = static_cast<uint8_t>(v >> (8 * i));
        mac_known_ |= static_cast<uint8_t>(1u << (off - config + i));
      }
    }
  } else if (kind == Kind::kMmio) {
    switch (off) {
      case 0x010:
      case 0x011:
      case 0x012:
      case 0x013:
        if (!write) offer_bytes(0x010, dfselect_);
        break;
      case 0x014:
        if (write) dfselect_ = v;
        break;
      case 0x020:
      case 0x021:
      case 0x022:
      case 0x023:
        if (write) accept_bytes(0x020, gfselect_);
        break;
      case 0x024:
        if (write) gfselect_ = v;
        break;
      case 0x030:
        if (write) queue_select_ = static_cast<uint16_t>(v);
        break;
      case 0x034:
        if (!write) queue_sizes_.emplace(queue_select_, static_cast<uint16_t>(v));
        break;
      case 0x040:
        if (write && v != 0) {
          *part = "pfn";
          *as = "pfn";
          *ring_q = queue_select_;
        }
        break;
      case 0x070:
        status_write = write;
        break;
      case 0x080:
      case 0x084:
      case 0x090:
      case 0x094:
      case 0x0a0:
      case 0x0a4:
        ring_address(0x080, 0x10);
        break;
      default:
        if (off >= 0x100 && off < 0x106 && !write)
          for (uint32_t i = 0; i < width && off - 0x100 + i < 6; ++i) {
            mac_[off - 0x100 + i] = static_cast<uint8_t>(v >> (8 * i));
            mac_known_ |= static_cast<uint8_t>(1u << (off - 0x100 + i));
          }
        break;
    }
  }
  if (status_write) {
    status_write_pending_ = true;
    if (v == 0) device_reset();
    if (v & kStatusDriverOk) {
      hdr_size_ = (negotiated_ & (kFeatureVersion1 | kFeatureMrgRxbuf)) ? 12 : 10;
      pairs_ = 1;  // MQ: queues beyond the first pair are counted as rx/tx by parity
      if (negotiated_ & kFeatureMq) pairs_ = 0x8000;
    }
  }
  if (mac_known_ == 0x3f && pcap_open_ && !rx_frames_.has_guest_mac()) {
    rx_frames_.set_guest_mac(mac_);
    tx_frames_.set_guest_mac(mac_);
  }
}

void Converter::reg_event(Kind kind, const char* region, uint32_t track_off, uint32_t bar_off,
                          uint8_t width, uint64_t value, bool write) {
  const char* part = nullptr;
  const char* as = nullptr;
  int ring_q = -1;
  track_register(kind, track_off, width, value, write, &part, &as, &ring_q);
  if (write) last_lo_off_ = part != nullptr && as[0] == 'l' ? static_cast<int64_t>(track_off) : -1;
  const uint64_t before = w_.events();
  if (part != nullptr) {
    w_.begin(write ? "reg_write" : "reg_read");
    w_.str("region", region);
    w_.u64("off", bar_off);
    w_.u64("w", width);
    w_.begin_object("val");
    w_.u64("ring", static_cast<uint64_t>(ring_q));
    w_.str("part", part);
    w_.str("as", as);
    w_.end_object();
    w_.end();
  } else {
    w_.reg_event(write, region, bar_off, width, static_cast<uint32_t>(value));
  }
  stats_.events += w_.events() - before;  // 0 when it repeats the line held
  ++stats_.accesses;
  ++stats_.nic_registers;
}

void Converter::on_msix_config(const LogLine& l) {
  // "dev NAME enabled E masked M"
  std::string_view a = l.args;
  if (a.find("virtio-net") == std::string_view::npos) return;
  size_t at = a.find("enabled ");
  if (at == std::string_view::npos || at + 8 >= a.size()) {
    ++stats_.malformed;
    return;
  }
  msix_enabled_ = a[at + 8] == '1';
}

// The NIC's MSI-X table as the guest wrote it: QEMU's virtio-pci puts it at
// offset 0 of the MSI-X BAR, 16 bytes an entry (address low, high, data,
// vector control); the PBA is a separate region.
void Converter::msix_table_write(uint64_t off, uint8_t width, uint32_t value) {
  const uint64_t entry = off / 16;
  const uint32_t word = static_cast<uint32_t>(off % 16);
  if (entry >= kMaxMsixEntries || width != 4 || word % 4 != 0) return;
  MsixEntry& e = msix_table_[entry];
  if (word == 0) e.address = (e.address & ~0xFFFF'FFFFull) | value;
  if (word == 4) e.address = (e.address & 0xFFFF'FFFFull) | uint64_t{value} << 32;
  if (word == 8) e.data = value;
  e.written |= static_cast<uint8_t>(1u << (word / 4));
}

// A message that reached the local APIC. The NIC's when MSI-X is enabled
// and the message is one of its table's entries (address and data as the
// guest wrote them): dev_msi {entry}. Anything else is another device's.
void Converter::on_msi(uint64_t address, uint32_t data) {
  if (msix_enabled_) {
    for (const auto& [entry, e] : msix_table_) {
      if ((e.written & 0x7) != 0x7 || e.address != address || e.data != data) continue;
      ++stats_.nic_lines;
      ++stats_.msi;
      w_.begin("dev_msi");
      w_.u64("entry", entry);
      w_.end();
      ++stats_.events;
      ++stats_.device_side;
      return;
    }
  }
  ++stats_.other_device;
}

// The I/O APIC's pins. The NIC's line is learned from the first one that
// rises right after a virtio_notify of the NIC on the same thread (QEMU
// raises it synchronously: virtio_notify -> virtio_pci_notify -> pci_set_irq
// -> ioapic_set_irq): from then on every level change of that pin is
// dev_intx {level}. A pin shared with another function shows that
// function's changes too (QEMU's log does not say who raised a shared
// pin); the header's capture.intx_gsi names the pin.
void Converter::on_ioapic(const LogLine& l) {
  IoapicSetIrq io;
  if (!parse_ioapic_set_irq(l.args, &io)) {
    ++stats_.malformed;
    return;
  }
  if (notify_pending_ && notify_tid_ == l.tid) {
    if (intx_gsi_ < 0 && io.level == 1) intx_gsi_ = static_cast<int64_t>(io.gsi);
    notify_pending_ = false;
  }
  if (intx_gsi_ < 0 || io.gsi != static_cast<uint64_t>(intx_gsi_)) {
    ++stats_.other_device;
    return;
  }
  ++stats_.nic_lines;
  ++stats_.intx;
  w_.begin("dev_intx");
  w_.u64("level", io.level);
  w_.end();
  ++stats_.events;
  ++stats_.device_side;
}

// ---- device side ----

void Converter::device_reset() {
  ++resets_;
  if (open_batches_ != 0) close_packed_batches({}, 0, 0);
  for (auto& [q, qs] : queues_)
    if (qs.group) ++stats_.frames_unused;  // an rx frame whose fills never added up
  vq_queue_.clear();
  queues_.clear();
  hdr_size_ = 0;
}

void Converter::on_set_status(const LogLine& l) {
  SetStatus s;
  if (!parse_set_status(l.args, &s)) {
    ++stats_.malformed;
    return;
  }
  if (status_write_pending_) {
    status_write_pending_ = false;
    if (vdev_ == 0) vdev_ = s.vdev;
  }
}

void Converter::on_queue_notify(const LogLine& l) {
  QueueNotify n;
  if (!parse_queue_notify(l.args, &n)) {
    ++stats_.malformed;
    return;
  }
  if (vdev_ == 0 || n.vdev != vdev_) {
    ++stats_.other_device;
    return;
  }
  vq_queue_[n.vq] = static_cast<int>(n.n);
}

int Converter::queue_of(uint64_t vq, bool rx_shape) {
  auto it = vq_queue_.find(vq);
  if (it != vq_queue_.end()) return it->second;
  // The receive queue may never be kicked before its first pop: an
  // in-only chain on an unknown vq of the only NIC is receiveq1.
  if (vdev_ != 0 && rx_shape) {
    for (const auto& [ptr, q] : vq_queue_)
      if (q == 0) return -1;
    vq_queue_[vq] = 0;
    return 0;
  }
  return -1;
}

bool Converter::is_rx(int q) const {
  return q >= 0 && q < 2 * pairs_ && q % 2 == 0;
}

bool Converter::is_tx(int q) const {
  return q >= 0 && q < 2 * pairs_ && q % 2 == 1;
}

uint32_t Converter::net_header_size() const {
  if (hdr_size_ != 0) return hdr_size_;
  return (negotiated_ & (kFeatureVersion1 | kFeatureMrgRxbuf)) ? 12 : 10;
}

void Converter::on_notify(const LogLine& l) {
  Notify n;
  if (!parse_notify(l.args, &n)) {
    ++stats_.malformed;
    return;
  }
  if (vdev_ == 0 || n.vdev != vdev_) {
    ++stats_.other_device;
    return;
  }
  auto it = vq_queue_.find(n.vq);
  ++stats_.nic_lines;
  // Without MSI-X the line rises next, on this thread (on_ioapic).
  notify_pending_ = !msix_enabled_;
  notify_tid_ = l.tid;
  w_.begin("dev_irq");
  if (it != vq_queue_.end())
    w_.u64("q", static_cast<uint64_t>(it->second));
  else
    w_.null("q");
  w_.end();
  ++stats_.events;
  ++stats_.device_side;
}

void Converter::emit_tx_frame(int q, uint16_t avail) {
  if (!pcap_open_) return;
  std::vector<uint8_t> f;
  if (!tx_frames_.next(&f)) {
    ++stats_.frames_missing;
    return;
  }
  ++stats_.frames_tx;
  w_.begin("dev_frame");
  w_.u64("q", static_cast<uint64_t>(q));
  w_.str("dir", "tx");
  w_.u64("avail", avail);
  w_.hex("data", f.data(), f.size());
  w_.end();
  ++stats_.events;
}

void Converter::on_pop(const LogLine& l) {
  Pop p;
  if (!parse_pop(l.args, &p)) {
    ++stats_.malformed;
    return;
  }
  const int q = queue_of(p.vq, p.in_num > 0 && p.out_num == 0);
  if (q < 0) {
    ++stats_.unattributed_pops;
    return;
  }
  ++stats_.nic_lines;
  Queue& qs = queues_[q];
  const uint16_t avail = qs.next_avail++;
  if (qs.open.size() < 65536) qs.open.push_back(OpenPop{p.elem, avail});
  w_.begin("dev_pop");
  w_.u64("q", static_cast<uint64_t>(q));
  w_.u64("avail", avail);
  w_.u64("in", p.in_num);
  w_.u64("out", p.out_num);
  w_.end();
  ++stats_.events;
  ++stats_.device_side;
  if (is_tx(q)) emit_tx_frame(q, avail);
}

void Converter::rx_fill(int q, uint16_t avail, uint32_t len) {
  if (!pcap_open_ || len == 0) return;
  Queue& qs = queues_[q];
  if (!qs.group) {
    if (!rx_frames_.next(&qs.group_frame)) {
      ++stats_.frames_missing;
      return;
    }
    qs.group = true;
    qs.group_first = avail;
    qs.group_len = 0;
    qs.group_bufs = 0;
  }
  qs.group_len += len;
  ++qs.group_bufs;
  const uint32_t want = net_header_size() + static_cast<uint32_t>(qs.group_frame.size());
  if (qs.group_len < want) return;  // more buffers of a merged frame follow
  if (qs.group_len != want) ++stats_.frame_len_mismatch;
  ++stats_.frames_rx;
  w_.begin("dev_frame");
  w_.u64("q", static_cast<uint64_t>(q));
  w_.str("dir", "rx");
  w_.u64("avail", qs.group_first);
  w_.u64("bufs", qs.group_bufs);
  w_.u64("len", qs.group_len);
  w_.hex("data", qs.group_frame.data(), qs.group_frame.size());
  w_.end();
  ++stats_.events;
  qs.group = false;
}

int Converter::known_queue(uint64_t vq) {
  auto it = vq_queue_.find(vq);
  if (it != vq_queue_.end()) return it->second;
  ++stats_.other_device;  // a virtqueue of another virtio device
  return -1;
}

void Converter::on_fill(const LogLine& l) {
  Fill f;
  if (!parse_fill(l.args, &f)) {
    ++stats_.malformed;
    return;
  }
  const int q = known_queue(f.vq);
  if (q < 0) return;
  Queue& qs = queues_[q];
  // The most recent unmatched pop with the same element pointer.
  int found = -1;
  for (int i = static_cast<int>(qs.open.size()) - 1; i >= 0; --i)
    if (qs.open[static_cast<size_t>(i)].elem == f.elem) {
      found = i;
      break;
    }
  if (found < 0) {
    ++stats_.unmatched_fills;
    return;
  }
  const uint16_t avail = qs.open[static_cast<size_t>(found)].avail;
  qs.open.erase(qs.open.begin() + found);
  ++stats_.nic_lines;
  if (packed()) {
    // QEMU 7.2 keeps a packed ring's fills (used_elems[idx]) until the
    // flush, which it does not log: open or continue this queue's batch.
    saw_packed_ = true;
    if (qs.batch == 0) {
      ++open_batches_;
      qs.batch_vq = f.vq;
    }
    if (f.idx != qs.batch) ++stats_.packed_fill_gaps;  // fills missing from the log
    ++qs.batch;
  }
  if (is_rx(q) && f.len > max_rx_len_) max_rx_len_ = f.len;
  w_.begin("dev_fill");
  w_.u64("q", static_cast<uint64_t>(q));
  w_.u64("avail", avail);
  w_.u64("len", f.len);
  w_.end();
  ++stats_.events;
  ++stats_.device_side;
  if (is_rx(q)) rx_fill(q, avail, f.len);
}

void Converter::on_flush(const LogLine& l) {
  Flush f;
  if (!parse_flush(l.args, &f)) {
    ++stats_.malformed;
    return;
  }
  const int q = known_queue(f.vq);
  if (q < 0) return;
  Queue& qs = queues_[q];
  if (qs.batch != 0) {
    // A QEMU that logs its packed flushes: the batch is closed by the real one.
    qs.batch = 0;
    --open_batches_;
  }
  ++stats_.nic_lines;
  emit_flush(q, f.count);
}

void Converter::emit_flush(int q, uint32_t count) {
  Queue& qs = queues_[q];
  qs.used_idx = static_cast<uint16_t>(qs.used_idx + count);
  w_.begin("dev_flush");
  w_.u64("q", static_cast<uint64_t>(q));
  w_.u64("count", count);
  w_.u64("used_idx", qs.used_idx);
  w_.end();
  ++stats_.events;
  ++stats_.device_side;
}

bool Converter::packed() const {
  return (negotiated_ & kFeatureRingPacked) != 0;
}

// The derived flush of a packed batch: QEMU 7.2's virtqueue_flush logs
// only on a split ring (virtqueue_split_flush); virtqueue_packed_flush
// writes the batch's used descriptors and moves used_idx silently, right
// after the last fill (virtqueue_push, virtio_net_receive_rcu). The batch
// of the queue whose virtqueue pointer is keep_vq survives a fill that
// continues it (index not 0; a wrong index is on_fill's gap to count) and
// a real flush (on_flush closes it).
void Converter::close_packed_batches(std::string_view ev, uint64_t keep_vq, uint32_t fill_idx) {
  for (auto& [q, qs] : queues_) {
    if (qs.batch == 0) continue;
    if (keep_vq != 0 && qs.batch_vq == keep_vq) {
      if (ev == "virtqueue_flush") continue;
      if (ev == "virtqueue_fill" && fill_idx != 0) continue;  // a gap is on_fill's to count
    }
    const uint32_t count = qs.batch;
    qs.batch = 0;
    --open_batches_;
    ++stats_.packed_flushes_derived;
    emit_flush(q, count);
  }
}

void Converter::finish() {
  // A log that ends after a packed batch's fills: QEMU flushed it.
  if (open_batches_ != 0) close_packed_batches({}, 0, 0);
  for (auto& [tid, p] : pending_read_)
    if (p.active) {
      p.active = false;
      ++stats_.width_guessed;
      cfg_event(p.ev);
    }
  for (const CfgEvent& c : cfg_buffer_) write_cfg(c);
  cfg_buffer_.clear();
  // Frames of the pcap that no pop or fill took: an rx frame whose fills
  // never added up, and whatever is left in the file.
  if (pcap_open_) {
    for (auto& [q, qs] : queues_)
      if (qs.group) {
        ++stats_.frames_unused;
        qs.group = false;
      }
    std::vector<uint8_t> f;
    while (rx_frames_.next(&f)) ++stats_.frames_unused;
    while (tx_frames_.next(&f)) ++stats_.frames_unused;
  }
}

nlohmann::ordered_json Converter::header() const {
  nlohmann::ordered_json h;
  auto hex64 = [](uint64_t v) {
    char b[24];
    snprintf(b, sizeof(b), "0x%llx", static_cast<unsigned long long>(v));
    return std::string(b);
  };
  auto le16 = [&](uint32_t at) { return cfg_shadow_[at] | cfg_shadow_[at + 1] << 8; };
  h["format"] = "vnetkit-trace";
  h["version"] =
      w_.repeats_written() ? vnet::trace::kFormatVersionRepeats : vnet::trace::kFormatVersion;
  h["driver_version"] = "unknown";
  if (used_modern_)
    h["transport"] = "pci-modern";
  else if (used_legacy_)
    h["transport"] = "pci-legacy";
  else if (used_mmio_ && mmio_version_.count(mmio_slot_) != 0)
    h["transport"] = "mmio-v" + std::to_string(mmio_version_.at(mmio_slot_));
  else if (used_mmio_)
    h["transport"] = "mmio";
  if (used_mmio_ && mmio_version_.count(mmio_slot_) != 0) {
    const uint32_t version = mmio_version_.at(mmio_slot_);
    h["device"] = {{"kind", "mmio-v" + std::to_string(version)},
                   {"mmio_version", version},
                   {"device_id", 1},
                   {"vendor_id", mmio_vendor_.count(mmio_slot_) ? mmio_vendor_.at(mmio_slot_) : 0},
                   {"window", 0x200}};
  }
  if (!bdf_.empty()) {
    const int device = le16(2);
    const char* kind = device == 0x1041                      ? "modern"
                       : device == 0x1000 && has_vendor_cap_ ? "transitional"
                       : device == 0x1000                    ? "legacy"
                                                             : "unknown";
    h["device"] = {{"kind", kind},
                   {"vendor", le16(0)},
                   {"device", device},
                   {"subsystem", le16(0x2e)},
                   {"revision", cfg_shadow_[8]}};
  }
  // The interface the guest drove: its offer and what the guest accepted
  // there; every interface's offer as the device answered it ("offers"),
  // so that device mode can rebuild a transitional device driven through
  // one interface only.
  const Iface used = used_iface();
  if (offer_[used].has_low() && accepted_[used].has_low())
    h["features"] = {{"offered", hex64(offer_[used].bits)},
                     {"negotiated", hex64(accepted_[used].bits)}};
  nlohmann::ordered_json offers = nlohmann::ordered_json::object();
  static const char* const kIfaceNames[] = {"legacy", "modern", "mmio"};
  for (int i = 0; i < kNumIfaces; ++i)
    if (offer_[i].has_low()) offers[kIfaceNames[i]] = hex64(offer_[i].bits);
  if (!offers.empty()) h["offers"] = offers;
  if (!queue_sizes_.empty()) {
    nlohmann::ordered_json qs = nlohmann::ordered_json::array();
    for (uint16_t q = 0; queue_sizes_.count(q) != 0; ++q) qs.push_back(queue_sizes_.at(q));
    h["queue_sizes"] = qs;
  }
  // Buffers for a replay in device mode: the largest received chain
  // (header + frame) with the driver's tx headroom, at least 2048.
  uint32_t buffer = 2048;
  while (buffer < max_rx_len_ + 32) buffer *= 2;
  h["pool"] = {{"buffer_size", buffer}, {"buffers", 0}};
  std::string when;
  if (first_usec_ != 0) {
    time_t t = static_cast<time_t>(first_usec_ / 1000000);
    tm u{};
    gmtime_r(&t, &u);
    char b[32];
    strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%SZ", &u);
    when = b;
  }
  h["recorded"] = {{"where", "qemu"},
                   {"when", when},
                   {"by", "trace2json"},
                   {"scenario", "QEMU trace log " + o_.log_name}};
  char mac[24] = "";
  if (mac_known_ == 0x3f || o_.has_guest_mac) {
    const uint8_t* m = mac_known_ == 0x3f ? mac_ : o_.guest_mac;
    snprintf(mac, sizeof(mac), "%02x%02x%02x%02x%02x%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  }
  nlohmann::ordered_json cap;
  cap["source"] = "qemu-log";
  cap["log"] = o_.log_name;
  if (o_.pcap_name.empty())
    cap["pcap"] = nullptr;
  else
    cap["pcap"] = o_.pcap_name;
  cap["pci"] = bdf_;
  cap["timestamps"] = timestamps_;
  cap["net_header"] = net_header_size();
  cap["guest_mac"] = mac;
  cap["device_resets"] = resets_;
  cap["stats"] = {{"lines", stats_.lines},
                  {"accesses", stats_.accesses},
                  {"qemu_lines", stats_.qemu_lines},
                  {"nic_lines", stats_.nic_lines},
                  {"events", stats_.events},
                  {"foreign", stats_.foreign},
                  {"unknown", stats_.unknown},
                  {"malformed", stats_.malformed},
                  {"width_guessed", stats_.width_guessed},
                  {"offset_guessed", stats_.offset_guessed},
                  {"widened_from_log", stats_.widened_from_log},
                  {"unattributed_pops", stats_.unattributed_pops},
                  {"unmatched_fills", stats_.unmatched_fills},
                  {"frames_rx", stats_.frames_rx},
                  {"frames_tx", stats_.frames_tx},
                  {"frames_missing", stats_.frames_missing},
                  {"frames_unused", stats_.frames_unused},
                  {"nic_registers", stats_.nic_registers},
                  {"device_side", stats_.device_side},
                  {"frame_len_mismatch", stats_.frame_len_mismatch}};
  if (stats_.virtio_mmio != 0) cap["stats"]["virtio_mmio"] = stats_.virtio_mmio;
  // Packed rings (only then: a split capture's header is as it was).
  if (saw_packed_ || stats_.packed_fill_gaps != 0) {
    cap["ring"] = "packed";
    cap["stats"]["packed_flushes_derived"] = stats_.packed_flushes_derived;
    cap["stats"]["packed_fill_gaps"] = stats_.packed_fill_gaps;
  }
  // Interrupts delivered (only when the log has any: a polling run's
  // header is as it was).
  if (stats_.msi + stats_.intx > 0) {
    nlohmann::ordered_json irq;
    irq["msi"] = stats_.msi;
    irq["msix_entries"] = msix_table_.size();
    irq["intx"] = stats_.intx;
    if (intx_gsi_ >= 0)
      irq["intx_gsi"] = intx_gsi_;
    else
      irq["intx_gsi"] = nullptr;
    cap["interrupts"] = irq;
  }
  h["capture"] = cap;
  return h;
}

}  // namespace trace2json
