#include "mock_device/mock_device.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>

#include "driver/spec/mmio_layout.h"
#include "driver/spec/net_ctrl_layout.h"
#include "driver/spec/net_layout.h"
#include "driver/spec/packed_ring_layout.h"
#include "driver/spec/pci_layout.h"
#include "driver/spec/split_ring_layout.h"
#include "driver/spec/virtio_constants.h"
#include "mock_device/offload.h"

namespace vnet::mock {

namespace st = spec::status;
namespace pci = spec::pci;
using spec::Feature;
using spec::has_feature;

namespace {

constexpr uint32_t kCapCommon = 0x40;
constexpr uint32_t kCapNotify = 0x50;
constexpr uint32_t kCapIsr = 0x64;
constexpr uint32_t kCapDevice = 0x74;
constexpr uint32_t kCapPciCfg = 0x84;
constexpr uint32_t kCapNotify2 = 0x98;  // after PCI_CFG's 20 bytes
constexpr uint32_t kConfigBytes = spec::net_cfg::kSize;

uint32_t width_mask(uint8_t width) {
  return width >= 4 ? 0xFFFF'FFFFu : (uint32_t{1} << (8 * width)) - 1;
}

std::string feature_list(uint64_t set) {
  std::string out;
  for (unsigned bit = 0; bit < 64; ++bit) {
    if (!(set >> bit & 1)) continue;
    if (!out.empty()) out += ",";
    const char* name = spec::feature_name(bit);
    out += name ? name : "bit" + std::to_string(bit);
  }
  return out;
}

// Fields of the common configuration structure (4.1.4.3): offset and width.
struct Field {
  uint8_t offset;
  uint8_t width;
};
constexpr Field kCommonFields[] = {
    {0x00, 4}, {0x04, 4}, {0x08, 4}, {0x0C, 4}, {0x10, 2}, {0x12, 2}, {0x14, 1},
    {0x15, 1}, {0x16, 2}, {0x18, 2}, {0x1A, 2}, {0x1C, 2}, {0x1E, 2}, {0x20, 4},
    {0x24, 4}, {0x28, 4}, {0x2C, 4}, {0x30, 4}, {0x34, 4}, {0x38, 2}, {0x3A, 2},
};
constexpr uint32_t kCommonEnd = 0x3C;

const Field* common_field_at(uint32_t off) {
  for (const auto& f : kCommonFields)
    if (off >= f.offset && off < uint32_t(f.offset + f.width)) return &f;
  return nullptr;
}

}  // namespace

const char* transport_kind_name(TransportKind kind) {
  switch (kind) {
    case TransportKind::kLegacy:
      return "legacy";
    case TransportKind::kModern:
      return "modern";
    case TransportKind::kTransitional:
      return "transitional";
    case TransportKind::kMmioV1:
      return "mmio-v1";
    case TransportKind::kMmioV2:
      return "mmio-v2";
  }
  return "unknown";
}

constexpr uint64_t kQemuModernOffer = 0x10130bf8024ull;

// QEMU 7.2's virtio-net-pci with a user-mode backend (no vnet header, so no
// checksum or segmentation offloads), as read by the guest image:
//   modern interface  0x10130bf8024
//   legacy interface  0x79bf8064 (adds GSO, NOTIFY_ON_EMPTY, ANY_LAYOUT and
//                     bit 30, QEMU's "bad feature" trap for drivers that
//                     acknowledge everything)
// plus MTU, which QEMU offers when host_mtu is set, so that the config
// checks are exercised by default.
uint64_t default_device_features() {
  return kQemuModernOffer | kLegacyOnlyFeatures | spec::feature_mask(Feature::kNetMtu);
}

MockDevice::MockDevice(GuestMemory& memory, const DeviceConfig& config)
    : memory_(memory), config_(config) {
  if (config_.modern_bar >= kNumBars || (has_legacy() && has_modern() && config_.modern_bar == 0))
    throw std::invalid_argument("modern BAR must be 1..5 on a transitional device");
  if (config_.msix_vectors > kMaxMsixVectors)
    throw std::invalid_argument("msix_vectors must be 0..128 (the table ends at the PBA, 0x800)");
  if (config_.msix_vectors != 0 &&
      (config_.msix_bar >= kNumBars || (has_legacy() && config_.msix_bar == 0) ||
       (has_modern() && config_.msix_bar == config_.modern_bar)))
    throw std::invalid_argument("msix_bar must be a BAR of its own (1..5, not the modern BAR)");
  if (is_mmio(config_.transport) && config_.msix_vectors != 0)
    throw std::invalid_argument("virtio-mmio has no MSI-X: msix_vectors must be 0");
  if (is_mmio(config_.transport) && config_.mmio_window_size < spec::mmio::kConfig)
    throw std::invalid_argument("an MMIO window holds at least the 0x100 bytes of registers");
  // RING_PACKED: offered only on a modern interface, and only when asked.
  if (config_.offer_ring_packed) config_.features |= spec::feature_mask(Feature::kRingPacked);
  if (config_.transport == TransportKind::kLegacy || config_.transport == TransportKind::kMmioV1)
    config_.features &= ~spec::feature_mask(Feature::kRingPacked);
  // IN_ORDER: likewise offered only on a modern interface, only when asked.
  if (config_.offer_in_order) config_.features |= spec::feature_mask(Feature::kInOrder);
  if (config_.transport == TransportKind::kLegacy || config_.transport == TransportKind::kMmioV1)
    config_.features &= ~spec::feature_mask(Feature::kInOrder);
  // The control plane's offers (DeviceConfig::offer_*), as asked.
  const std::pair<const std::optional<bool>*, Feature> offers[] = {
      {&config_.offer_ctrl_vq, Feature::kNetCtrlVq},
      {&config_.offer_ctrl_rx, Feature::kNetCtrlRx},
      {&config_.offer_ctrl_vlan, Feature::kNetCtrlVlan},
      {&config_.offer_ctrl_rx_extra, Feature::kNetCtrlRxExtra},
      {&config_.offer_guest_announce, Feature::kNetGuestAnnounce},
      {&config_.offer_mq, Feature::kNetMq},
      {&config_.offer_ctrl_mac_addr, Feature::kNetCtrlMacAddr},
      {&config_.offer_hash_report, Feature::kNetHashReport},
      {&config_.offer_rss, Feature::kNetRss},
  };
  for (const auto& [offer, bit] : offers) {
    if (!offer->has_value()) continue;
    if (**offer)
      config_.features |= spec::feature_mask(bit);
    else
      config_.features &= ~spec::feature_mask(bit);
  }
  // Offloads (a vnet-header backend): CTRL_GUEST_OFFLOADS only with CTRL_VQ.
  if (config_.offer_offloads) {
    config_.features |= offload::kOffloadOffer;
    if (has_feature(config_.features, Feature::kNetCtrlVq))
      config_.features |= spec::feature_mask(Feature::kNetCtrlGuestOffloads);
  }
  // Queue pairs: as many as max_virtqueue_pairs says when MQ or RSS is
  // offered, within what the mock models; the field itself stays raw.
  if (has_feature(config_.features, Feature::kNetMq) ||
      has_feature(config_.features, Feature::kNetRss))
    pairs_ = uint16_t(std::clamp<uint32_t>(config_.max_virtqueue_pairs, 1, kMaxQueuePairs));
  base_mac_ = config_.mac;
  max_size_override_.fill(-1);
  msix_table_.assign(size_t{config_.msix_vectors} * 4, 0);
  for (size_t i = 0; i < config_.msix_vectors; ++i) msix_table_[4 * i + 3] = 1;  // masked
  msix_pba_.assign((config_.msix_vectors + 63) / 64, 0);
  full_reset();
  build_pci_config();
}

// ---------------------------------------------------------------------------
// PCI configuration space
// ---------------------------------------------------------------------------

void MockDevice::build_pci_config() {
  build_pci_image();
  for (const PciPoke& p : pci_pokes_)
    for (uint8_t i = 0; i < p.width; ++i) pci_[p.offset + i] = uint8_t(p.value >> (8 * i));
}

bool MockDevice::poke_pci_config(uint32_t offset, uint8_t width, uint32_t value) {
  if (width == 0 || width > 4 || offset >= pci_.size() || width > pci_.size() - offset)
    return false;
  pci_pokes_.push_back(PciPoke{offset, width, value});
  for (uint8_t i = 0; i < width; ++i) pci_[offset + i] = uint8_t(value >> (8 * i));
  return true;
}

void MockDevice::build_pci_image() {
  // virtio-mmio has no PCI function: configuration space reads all ones.
  if (is_mmio(config_.transport)) {
    pci_.fill(0xFF);
    return;
  }
  pci_.fill(0);
  auto put16 = [&](uint32_t off, uint16_t v) { spec::store_le16(&pci_[off], v); };
  auto put32 = [&](uint32_t off, uint32_t v) { spec::store_le32(&pci_[off], v); };
  const bool modern_only = config_.transport == TransportKind::kModern;
  put16(pci::kVendorId, spec::kPciVendorVirtio);
  put16(pci::kDeviceId, modern_only ? spec::kPciDeviceNetModern : spec::kPciDeviceNetTransitional);
  put16(pci::kStatus, has_modern() ? pci::kStatusCapList : 0);
  pci_[pci::kRevisionId] = modern_only ? 1 : 0;
  pci_[0x0B] = 0x02;  // class: network controller, subclass ethernet
  pci_[pci::kHeaderType] = 0;
  put16(pci::kSubsystemVendorId, spec::kPciVendorVirtio);
  // 4.1.2.1: transitional devices carry the virtio device id in the
  // subsystem id; modern-only devices use 0x40 and above.
  put16(pci::kSubsystemId, modern_only ? 0x1100 : spec::kVirtioIdNet);
  if (has_legacy()) put32(pci::kBar0, 0xC001);  // I/O space at 0xC000
  if (has_modern()) put32(pci::kBar0 + 4 * config_.modern_bar, 0xFE00'0000);
  pci_[0x3C] = 11;                     // the interrupt line firmware would write
  pci_[0x3D] = config_.interrupt_pin;  // INTA by default
  if (config_.msix_vectors != 0) {
    // MSI-X (PCI 3.0, 6.8.2): last on the capability list.
    put32(pci::kBar0 + 4 * config_.msix_bar, 0xFE10'0000);
    put16(pci::kStatus, pci::kStatusCapList);
    uint8_t* c = &pci_[kMsixCap];
    c[0] = pci::kCapIdMsix;
    c[1] = 0;
    spec::store_le16(c + pci::msix::kControl, uint16_t(config_.msix_vectors - 1));
    spec::store_le32(c + pci::msix::kTable, 0u | config_.msix_bar);
    spec::store_le32(c + pci::msix::kPba, kMsixPbaOffset | config_.msix_bar);
    if (!has_modern()) pci_[pci::kCapabilitiesPtr] = uint8_t(kMsixCap);
  }
  if (!has_modern()) return;

  pci_[pci::kCapabilitiesPtr] = kCapCommon;
  struct Cap {
    uint32_t at;
    uint8_t next;
    uint8_t len;
    uint8_t type;
    uint32_t offset;
    uint32_t length;
  };
  const Cap caps[] = {
      {kCapCommon, kCapNotify, pci::kCapMinLen, pci::kCfgTypeCommon, kCommonOffset, kWindowSize},
      {kCapNotify, kCapIsr, pci::kNotifyCapMinLen, pci::kCfgTypeNotify, kNotifyOffset, kWindowSize},
      {kCapIsr, kCapDevice, pci::kCapMinLen, pci::kCfgTypeIsr, kIsrOffset, kWindowSize},
      {kCapDevice, kCapPciCfg, pci::kCapMinLen, pci::kCfgTypeDevice, kDeviceCfgOffset, kWindowSize},
      {kCapPciCfg, static_cast<uint8_t>(config_.second_notify_cap ? kCapNotify2 : 0),
       pci::kNotifyCapMinLen, pci::kCfgTypePci, 0, 0},
      {kCapNotify2, 0, pci::kNotifyCapMinLen, pci::kCfgTypeNotify, kNotifyOffset + kWindowSize / 2,
       kWindowSize / 2},
  };
  for (const auto& c : caps) {
    if (c.at == kCapNotify2 && !config_.second_notify_cap) break;
    uint8_t* p = &pci_[c.at];
    p[pci::kCapVndr] = pci::kCapIdVendor;
    // The last vendor capability links to MSI-X when there is one.
    p[pci::kCapNext] = c.next == 0 && config_.msix_vectors != 0 ? uint8_t(kMsixCap) : c.next;
    p[pci::kCapLen] = c.len;
    p[pci::kCapCfgType] = c.type;
    p[pci::kCapBar] = c.type == pci::kCfgTypePci ? 0 : config_.modern_bar;
    uint32_t length = c.type == pci::kCfgTypeDevice ? device_cfg_length_ : c.length;
    if (c.type >= 1 && c.type <= 4) {
      if (cap_outside_bar_[c.type - 1])
        length = kModernBarSize - c.offset + kWindowSize;     // ends one window past the BAR
      if (cap_missing_bar_[c.type - 1]) p[pci::kCapBar] = 2;  // no BAR 2 on this device
    }
    spec::store_le32(p + pci::kCapOffset, c.offset);
    spec::store_le32(p + pci::kCapLength, length);
    if (c.type == pci::kCfgTypeNotify)
      spec::store_le32(p + pci::kCapNotifyMultiplier, config_.notify_off_multiplier);
  }
}

uint32_t MockDevice::apply_register_lies(Region region, uint32_t offset, uint8_t width,
                                         uint32_t value) {
  for (RegisterLie& l : register_lies_) {
    if (l.region != region || l.offset != offset || (l.width != 0 && l.width != width)) continue;
    if (l.skip > 0) {
      --l.skip;
      continue;
    }
    if (l.count == 1) l.width = 0xFF;  // spent: never matches again
    if (l.count > 1) --l.count;
    ++counters_.faults_applied;
    return ((value & ~l.mask) | (l.value & l.mask)) & width_mask(width);
  }
  return value;
}

uint32_t MockDevice::pci_config_read(uint32_t offset, uint8_t width) {
  if (width == 0 || width > 4) return width_mask(width);
  if (offset >= pci_.size() || width > pci_.size() - offset) {
    // Past the 256 bytes: all ones, unless a lie says otherwise (on PCI
    // Express this is extended configuration space, which the device fills).
    const uint32_t v = width_mask(width);
    return register_lies_.empty() ? v : apply_register_lies(Region::kPciConfig, offset, width, v);
  }
  uint32_t v = 0;
  for (uint8_t i = 0; i < width; ++i) v |= uint32_t(pci_byte(offset + i)) << (8 * i);
  if (offset == pci::kCommand && width >= 2) v = (v & ~0xFFFFu) | pci_command_;
  if (!register_lies_.empty()) v = apply_register_lies(Region::kPciConfig, offset, width, v);
  return v;
}

uint8_t MockDevice::pci_byte(uint32_t offset) const {
  // The MSI-X message control's enable and function-mask bits are live
  // state; the rest of its word (the table size) is the image's, pokes
  // included.
  if (config_.msix_vectors != 0 && offset == kMsixCap + pci::msix::kControl + 1)
    return uint8_t((pci_[offset] & 0x3F) | (msix_control_ >> 8));
  return pci_[offset];
}

void MockDevice::pci_config_write(uint32_t offset, uint8_t width, uint32_t value) {
  // Writable: the command register and MSI-X message control; BAR
  // addresses are fixed.
  if (offset == pci::kCommand && width >= 2) {
    pci_command_ = uint16_t(value);
    update_line();  // Interrupt Disable may have changed
  }
  msix_control_write(offset, width, value);
}

void MockDevice::msix_control_write(uint32_t offset, uint8_t width, uint32_t value) {
  const uint32_t at = kMsixCap + pci::msix::kControl;
  if (config_.msix_vectors == 0 || width == 0 || width > 4 || offset > at + 1 ||
      offset + width <= at + 1)
    return;
  // The byte of the control word with bits 15:8, wherever the write put it.
  const uint8_t high = uint8_t(value >> (8 * (at + 1 - offset)));
  const bool was_on = msix_enabled() && !msix_function_masked();
  msix_control_ = uint16_t((high & 0xC0) << 8);
  update_line();  // with MSI-X enabled the function does not use INTx
  if (!was_on && msix_enabled() && !msix_function_masked()) deliver_pending_msix();
}

BarInfo MockDevice::bar_info(uint8_t bar) const {
  BarInfo info{};
  if (bar == 0 && has_legacy())
    info = BarInfo{true, true, config_.legacy_bar_size};
  else if (bar == config_.modern_bar && has_modern())
    info = BarInfo{true, false, kModernBarSize};
  else if (config_.msix_vectors != 0 && bar == config_.msix_bar)
    info = BarInfo{true, false, kMsixBarSize};
  for (const BarLie& l : bar_lies_) {
    if (l.bar != bar) continue;
    if (l.present >= 0) info.present = l.present != 0;
    if (l.is_io >= 0) info.is_io = l.is_io != 0;
    if (l.size >= 0) info.size = uint64_t(l.size);
  }
  return info;
}

uint32_t MockDevice::bar_read(uint8_t bar, uint32_t offset, uint8_t width) {
  uint32_t v = width_mask(width);
  if (bar == 0 && has_legacy() && offset < config_.legacy_bar_size)
    v = legacy_read(offset, width);
  else if (bar == config_.modern_bar && has_modern() && offset < kModernBarSize)
    v = modern_read(offset, width);
  else if (config_.msix_vectors != 0 && bar == config_.msix_bar && offset < kMsixBarSize)
    v = msix_bar_read(offset, width);
  if (!register_lies_.empty()) v = apply_register_lies(bar_region(bar), offset, width, v);
  return v;
}

void MockDevice::bar_write(uint8_t bar, uint32_t offset, uint8_t width, uint32_t value) {
  value &= width_mask(width);
  if (bar == 0 && has_legacy() && offset < config_.legacy_bar_size)
    return legacy_write(offset, width, value);
  if (bar == config_.modern_bar && has_modern() && offset < kModernBarSize)
    return modern_write(offset, width, value);
  if (config_.msix_vectors != 0 && bar == config_.msix_bar && offset < kMsixBarSize)
    return msix_bar_write(offset, width, value);
}

// ---------------------------------------------------------------------------
// Device configuration space (5.1.4)
// ---------------------------------------------------------------------------

void MockDevice::fill_config(uint8_t* out) const {
  std::memset(out, 0, kConfigBytes);
  std::memcpy(out + spec::net_cfg::kMac, config_.mac.data(), 6);
  spec::store_le16(out + spec::net_cfg::kStatus, config_.status);
  spec::store_le16(out + spec::net_cfg::kMaxVirtqueuePairs, config_.max_virtqueue_pairs);
  spec::store_le16(out + spec::net_cfg::kMtu, config_.mtu);
  spec::store_le32(out + spec::net_cfg::kSpeed, 0xFFFF'FFFF);  // unknown
  out[spec::net_cfg::kDuplex] = 0xFF;                          // unknown
  out[spec::ctrl::kCfgRssMaxKeySize] = config_.rss_max_key_size;
  spec::store_le16(out + spec::ctrl::kCfgRssMaxIndirectionTableLen,
                   config_.rss_max_indirection_table_length);
  spec::store_le32(out + spec::ctrl::kCfgSupportedHashTypes, config_.supported_hash_types);
}

uint32_t MockDevice::config_bytes_read(uint32_t offset, uint8_t width) {
  uint8_t bytes[kConfigBytes];
  fill_config(bytes);
  uint32_t v = 0;
  for (uint8_t i = 0; i < width && i < 4; ++i)
    if (offset + i < kConfigBytes) v |= uint32_t(bytes[offset + i]) << (8 * i);
  // config_mac_unstable: the MAC changes under the driver's read.
  const uint32_t last_mac = spec::net_cfg::kMac + 5;
  if (mac_flips_left_ > 0 && offset <= last_mac && last_mac < offset + width) {
    --mac_flips_left_;
    ++config_.mac[5];
    bump_generation();
  }
  return v;
}

uint8_t MockDevice::read_status() {
  // reset_latency: a reset in progress reads back the old status.
  if (reset_pending_) {
    if (reset_reads_left_ > 0) {
      --reset_reads_left_;
      return status_;
    }
    reset_pending_ = false;
    full_reset();
  }
  return status_;
}

bool MockDevice::publish_used(uint16_t q, uint32_t id, uint32_t len) {
  if (q >= kMaxQueues || !queues_[q].usable()) return false;
  queues_[q].push_used(id, len);
  ++counters_.used_published;
  finish(q);
  return true;
}

bool MockDevice::rewrite_descriptor(uint16_t q, uint16_t index, DeviceQueue::DescField field,
                                    uint64_t value) {
  if (q >= kMaxQueues || !queues_[q].rewrite_desc(index, field, value)) return false;
  ++counters_.descriptors_rewritten;
  return true;
}

bool MockDevice::write_used_idx(uint16_t q, uint16_t value) {
  if (q >= kMaxQueues || !queues_[q].usable()) return false;
  DeviceRing& dq = queues_[q];
  dq.move_used_to(value);
  finish(q);
  return true;
}

bool MockDevice::complete_unwritten(uint16_t q, int64_t len) {
  if (q >= kMaxQueues || !queues_[q].usable() || queues_[q].available() == 0) return false;
  DeviceRing& dq = queues_[q];
  dq.walk(dq.pop(), &chain_);
  const uint16_t head = chain_.head;
  const uint64_t writable = chain_.ok ? chain_.writable_bytes : 0;
  complete(q, head, len < 0 ? uint32_t(std::min<uint64_t>(writable, UINT32_MAX)) : uint32_t(len),
           writable);
  finish(q);
  return true;
}

void MockDevice::hold_completions(uint16_t q, uint32_t count, uint32_t delay_ticks,
                                  ReleaseOrder order, uint64_t seed) {
  if (q >= kMaxQueues) return;
  Hold& h = holds_[q];
  h.active = true;
  h.unlimited = count == 0;
  h.left = count;
  h.delay = delay_ticks;
  h.order = order;
  h.seed = seed;
}

void MockDevice::release(uint16_t q, std::vector<size_t>& picks, ReleaseOrder order,
                         uint64_t seed) {
  // picks: indices into held_[q], in the order they were held.
  if (order == ReleaseOrder::kReverse) std::reverse(picks.begin(), picks.end());
  if (order == ReleaseOrder::kShuffle) {
    std::mt19937_64 rng(seed);
    std::shuffle(picks.begin(), picks.end(), rng);
  }
  std::vector<HeldEntry> out;
  out.reserve(picks.size());
  for (size_t i : picks) out.push_back(held_[q][i]);
  std::vector<size_t> sorted = picks;
  std::sort(sorted.begin(), sorted.end());
  for (size_t k = sorted.size(); k-- > 0;) held_[q].erase(held_[q].begin() + ptrdiff_t(sorted[k]));
  for (const HeldEntry& e : out) complete_now(q, e.head, e.len, e.writable);
  if (!out.empty()) finish(q);
}

size_t MockDevice::release_held(uint16_t q, ReleaseOrder order, uint64_t seed, size_t max) {
  if (q >= kMaxQueues) return 0;
  holds_[q] = Hold{};
  if (!queues_[q].usable()) return 0;
  std::vector<size_t> picks;
  for (size_t i = 0; i < held_[q].size() && picks.size() < max; ++i) picks.push_back(i);
  release(q, picks, order, seed);
  return picks.size();
}

void MockDevice::tick() {
  ++tick_;
  interrupt_tick();
  for (uint16_t q = 0; q < kMaxQueues; ++q) {
    const Hold& h = holds_[q];
    if (held_[q].empty() || h.delay == 0 || !queues_[q].usable()) continue;
    std::vector<size_t> picks;
    for (size_t i = 0; i < held_[q].size(); ++i)
      if (tick_ - held_[q][i].tick >= h.delay) picks.push_back(i);
    release(q, picks, h.order, h.seed + tick_);
  }
}

bool MockDevice::republish_last_used(uint16_t q) {
  if (q >= kMaxQueues || !queues_[q].usable()) return false;
  uint32_t id = 0, len = 0;
  if (!queues_[q].last_used(&id, &len)) return false;
  queues_[q].push_used(id, len);
  ++counters_.used_published;
  finish(q);
  return true;
}

void MockDevice::raise_config_interrupt() {
  ++counters_.config_interrupts;
  signal(spec::interrupt::kConfig, -1);
}

void MockDevice::set_link(bool up) {
  if (up)
    config_.status |= spec::net_status::kLinkUp;
  else
    config_.status &= uint16_t(~spec::net_status::kLinkUp);
  bump_generation();
  raise_config_interrupt();
}

bool MockDevice::link_up() const {
  return config_.status & spec::net_status::kLinkUp;
}

void MockDevice::set_mtu(uint16_t mtu) {
  config_.mtu = mtu;
  bump_generation();
  if (status_ & st::kDriverOk) raise_config_interrupt();
}

void MockDevice::set_mac(const std::array<uint8_t, 6>& mac) {
  config_.mac = mac;
  base_mac_ = mac;
  bump_generation();
  if (status_ & st::kDriverOk) raise_config_interrupt();
}

void MockDevice::set_config_status(uint16_t status) {
  config_.status = status;
  bump_generation();
  if (status_ & st::kDriverOk) raise_config_interrupt();
}

void MockDevice::set_max_virtqueue_pairs(uint16_t pairs) {
  config_.max_virtqueue_pairs = pairs;
  bump_generation();
  if (status_ & st::kDriverOk) raise_config_interrupt();
}

void MockDevice::set_queue_max_size(int queue, uint16_t size) {
  for (uint16_t q = 0; q < kMaxQueues; ++q) {
    if (queue >= 0 && queue != q) continue;
    if (q < kNumQueues) config_.queue_sizes[q] = size;
    max_size_override_[q] = size;
    qregs_[q].max_size = size;
    if (!qregs_[q].enabled) qregs_[q].size = size;
  }
}

bool MockDevice::multiqueue() const {
  const uint64_t neg = driver_features_ & config_.features;
  return has_feature(neg, Feature::kNetMq) || has_feature(neg, Feature::kNetRss);
}

int32_t MockDevice::ctrl_queue_index() const {
  if (!multiqueue()) return kCtrlQueue;
  const uint32_t n = config_.max_virtqueue_pairs;
  return n >= 1 && n <= pairs_ ? int32_t(2 * n) : -1;
}

MockDevice::QueueRole MockDevice::role(uint16_t q) const {
  if (int32_t(q) == ctrl_queue_index()) return QueueRole::kCtrl;
  const uint16_t data_queues = multiqueue() ? uint16_t(2 * pairs_) : uint16_t(2);
  if (q < data_queues) return q % 2 ? QueueRole::kTx : QueueRole::kRx;
  return QueueRole::kNone;
}

uint16_t MockDevice::role_max_size(uint16_t q) const {
  if (max_size_override_[q] >= 0) return uint16_t(max_size_override_[q]);
  if (q >= num_queues()) return 0;
  switch (role(q)) {
    case QueueRole::kRx:
      return config_.queue_sizes[0];
    case QueueRole::kTx:
      return config_.queue_sizes[1];
    case QueueRole::kCtrl:
      return config_.queue_sizes[2];
    case QueueRole::kNone:
      break;
  }
  // A queue of a pair without MQ negotiated: sized as its kind.
  return config_.queue_sizes[q % 2];
}

void MockDevice::refresh_queue_sizes() {
  for (uint16_t q = 0; q < kMaxQueues; ++q) {
    QueueRegs& r = qregs_[q];
    if (r.enabled) continue;
    const uint16_t was = r.max_size;
    r.max_size = role_max_size(q);
    if (r.size == was) r.size = r.max_size;
  }
}

// ---------------------------------------------------------------------------
// Reset, status and features
// ---------------------------------------------------------------------------

void MockDevice::full_reset() {
  status_ = 0;
  isr_ = 0;
  // 4.1.5.1.2.1: the device unmaps every event on reset. MSI-X enable, the
  // table and the PBA are PCI state: a virtio reset leaves them.
  config_vector_ = pci::kMsixNoVector;
  queue_vector_.fill(pci::kMsixNoVector);
  config_vector_unread_ = false;
  queue_vector_unread_.fill(false);
  update_line();
  driver_features_ = 0;
  features_written_ = false;
  features_ok_refused_ = false;
  lost_state_ = false;
  legacy_mode_ =
      config_.transport == TransportKind::kLegacy || config_.transport == TransportKind::kMmioV1;
  // virtio-mmio: the selectors and the queues' registers (not GuestPageSize,
  // which QEMU keeps across a driver's reset).
  device_features_sel_written_ = driver_features_sel_written_ = false;
  last_isr_read_ = 0;
  hdr_size_ = legacy_mode_ ? 10 : 12;
  any_layout_ = !legacy_mode_;
  device_feature_select_ = driver_feature_select_ = 0;
  queue_select_ = 0;
  for (uint16_t q = 0; q < kMaxQueues; ++q) {
    qregs_[q] = QueueRegs{};
    qregs_[q].max_size = role_max_size(q);
    qregs_[q].size = qregs_[q].max_size;
    queues_[q].reset();
    held_[q].clear();  // completions of rings that no longer exist
  }
  reset_control_plane();
}

void MockDevice::device_reset() {
  ++counters_.device_resets;
  if (legacy_mode_) {
    // A legacy device has no DEVICE_NEEDS_RESET: it simply loses its state.
    // What the driver last read of InterruptStatus is not the device's
    // state: an ack of it that crosses the device's own reset is the
    // device's doing, not a violation of the driver's.
    const uint32_t isr_read = last_isr_read_;
    full_reset();
    last_isr_read_ = isr_read;
    legacy_mode_ = true;
    hdr_size_ = 10;
    lost_state_ = true;
    raise_config_interrupt();
    return;
  }
  // 2.1.2: the device sets DEVICE_NEEDS_RESET and, if DRIVER_OK is set,
  // sends a configuration change notification. It stops using the queues.
  status_ |= st::kDeviceNeedsReset;
  for (auto& q : queues_)
    if (q.usable()) q.halt();
  raise_config_interrupt();
}

bool MockDevice::check_features(uint64_t accepted, bool modern) {
  bool ok = true;
  const uint64_t offered = config_.features;
  if (uint64_t extra = accepted & ~offered) {
    conformance_.report(
        "drv-2.2.1-1", "driver accepted features the device did not offer: " + feature_list(extra));
    ok = false;
  }
  auto has = [&](Feature f) { return has_feature(accepted, f); };
  for (const auto& f : spec::kFeatureTable) {
    if (!has(f.bit) || f.requires_bit == f.bit) continue;
    bool satisfied = has(f.requires_bit);
    // 5.1.3.1: the ECN features need either TSO feature; RSC_EXT either HOST_TSO.
    if (f.bit == Feature::kNetGuestEcn)
      satisfied = has(Feature::kNetGuestTso4) || has(Feature::kNetGuestTso6);
    if (f.bit == Feature::kNetHostEcn || f.bit == Feature::kNetRscExt)
      satisfied = has(Feature::kNetHostTso4) || has(Feature::kNetHostTso6);
    if (!satisfied) {
      conformance_.report("drv-2.2.1-2", std::string("driver accepted ") + f.name + " without " +
                                             spec::feature_name(unsigned(f.requires_bit)) +
                                             " (dependency of 5.1.3.1)");
      ok = false;
    }
  }
  if (modern && has_feature(offered, Feature::kVersion1) && !has(Feature::kVersion1)) {
    conformance_.report("drv-6.1-1", "driver did not accept VERSION_1 on the modern interface");
    ok = false;
  }
  // Not a driver requirement: the device's choice (6.1 "MAY fail to
  // operate"), made as QEMU makes it with iommu_platform=on.
  if (modern && config_.require_access_platform && has_feature(offered, Feature::kAccessPlatform) &&
      !has(Feature::kAccessPlatform))
    ok = false;
  return ok;
}

void MockDevice::write_status(uint8_t value, bool via_legacy) {
  if (hooks_.empty()) return write_status_now(value, via_legacy);
  const uint8_t added = uint8_t(value & ~status_);
  fire_hooks(HookPoint::kStatusWrite, value, added, -1, true);
  write_status_now(value, via_legacy);
  fire_hooks(HookPoint::kStatusWrite, value, added, -1, false);
}

void MockDevice::fire_hooks(HookPoint point, uint8_t status_value, uint8_t added, int32_t queue,
                            bool before) {
  for (size_t i = 0; i < hooks_.size(); ++i) {
    HookState& st = hooks_[i];
    const Hook& h = st.hook;
    if (h.point != point || h.before != before) continue;
    if (h.count != 0 && st.fired >= h.count) continue;
    if (point == HookPoint::kStatusWrite &&
        !(h.status_bit == 0 ? status_value == 0 : (added & h.status_bit) != 0))
      continue;
    if (point == HookPoint::kQueueEnable && h.queue >= 0 && h.queue != queue) continue;
    if (st.hook.skip > 0) {
      --st.hook.skip;
      continue;
    }
    ++st.fired;
    ++counters_.hooks_fired;
    // A copy: the action may add hooks (and so move this one).
    const std::function<void(MockDevice&)> action = h.action;
    if (action) action(*this);
  }
}

void MockDevice::write_status_now(uint8_t value, bool via_legacy) {
  if (value == 0) {
    ++counters_.driver_resets;
    // Misbehaviour: a device that never resets keeps its status (so a read
    // never returns 0) and goes on using the rings it was given.
    if (ignore_reset_) return;
    if (reset_pending_) return;  // still resetting: a second write changes nothing
    if (reset_latency_ > 0) {
      reset_pending_ = true;
      reset_reads_left_ = reset_latency_;
      return;
    }
    full_reset();
    return;
  }
  if (config_.transport == TransportKind::kTransitional && !(status_ & st::kAcknowledge))
    legacy_mode_ = via_legacy;
  const uint8_t old = status_;
  const bool check = !lost_state_;
  auto fail = [&](SpecRuleId rule, const std::string& msg, std::string_view section = {}) {
    if (check) conformance_.report(rule, section.empty() ? rule.section() : section, msg);
  };
  if (uint8_t cleared = old & ~value & ~st::kDeviceNeedsReset)
    fail("drv-2.1.1-2", "driver cleared status bits " + hex(cleared) + " (status " + hex(old) +
                            " -> " + hex(value) + ") without a reset");
  const uint8_t added = value & ~old;
  if ((added & st::kDriver) && !(old & st::kAcknowledge))
    fail("drv-3.1.1-1", "DRIVER set before ACKNOWLEDGE");
  if ((added & st::kAcknowledge) && old == 0 && (value & ~st::kAcknowledge & ~st::kFailed))
    fail("drv-3.1.1-1", "status " + hex(value) + " written at once: ACKNOWLEDGE must come first");
  if ((added & st::kFeaturesOk) && !legacy_mode_) {
    if (!(old & st::kDriver)) fail("drv-3.1.1-1", "FEATURES_OK set before DRIVER");
    if (!features_written_)
      fail("drv-3.1.1-1", "FEATURES_OK set before the driver wrote its features");
    bool ok = check_features(driver_features_, true);
    if (features_ok_refuse_all_ || features_ok_refusals_ > 0) {
      // features_ok_refuse: a device that refuses whatever the driver chose.
      if (!features_ok_refuse_all_) --features_ok_refusals_;
      ++counters_.faults_applied;
      ok = false;
    }
    if (!ok) {
      // 3.1.1 step 6: the device refuses; FEATURES_OK reads back clear.
      value &= uint8_t(~st::kFeaturesOk);
      features_ok_refused_ = true;
      ++counters_.features_refused;
    }
  }
  if ((added & st::kDriverOk) && used_early_queue_ >= 0) use_before_driver_ok();
  if ((added & st::kDriverOk) && irq_before_driver_ok_) {
    // interrupt_before_driver_ok: both kinds of event, nothing behind them.
    ++counters_.spurious_sent;
    signal(spec::interrupt::kConfig, -1);
    signal(spec::interrupt::kQueue, kRxQueue);
  }
  if ((added & st::kDriverOk) && check) check_vectors_at_driver_ok();
  if (added & st::kDriverOk) {
    if (!(old & st::kDriver)) fail("drv-3.1.1-1", "DRIVER_OK set before DRIVER");
    if (!features_written_)
      fail("drv-3.1.1-1", "DRIVER_OK set before the driver wrote its features");
    if (!legacy_mode_) {
      if (features_ok_refused_)
        fail("drv-3.1.1-5", "DRIVER_OK set after the device refused FEATURES_OK");
      else if (!(old & st::kFeaturesOk))
        fail("drv-3.1.1-1", "DRIVER_OK set without FEATURES_OK");
    } else if (check) {
      check_features(driver_features_, false);
    }
    for (uint16_t q : {kRxQueue, kTxQueue})
      if (!qregs_[q].enabled)
        fail("drv-3.1.1-1",
             "DRIVER_OK set before " + std::string(q ? "transmitq1" : "receiveq1") + " (queue " +
                 std::to_string(q) + ") was set up",
             "5.1.5");
  }
  const uint64_t neg = driver_features_ & config_.features;
  hdr_size_ = (has_feature(neg, Feature::kVersion1) || has_feature(neg, Feature::kNetMrgRxbuf))
                  ? uint32_t(spec::kNetHdrSize)
                  : uint32_t(spec::kNetHdrLegacySize);
  // HASH_REPORT (with VERSION_1, as QEMU): the 20-byte header both ways.
  populate_hash_ =
      has_feature(neg, Feature::kVersion1) && has_feature(neg, Feature::kNetHashReport);
  if (populate_hash_) hdr_size_ = uint32_t(spec::ctrl::kNetHdrHashSize);
  any_layout_ = has_feature(neg, Feature::kVersion1) || has_feature(neg, Feature::kAnyLayout);
  status_ = uint8_t(value | (old & st::kDeviceNeedsReset));
}

void MockDevice::note_queue_setup(const char* what) {
  if (lost_state_) return;
  if (!legacy_mode_ && !(status_ & st::kFeaturesOk))
    conformance_.report("drv-3.1.1-1", std::string(what) + " written before FEATURES_OK");
  if (legacy_mode_ && !(status_ & st::kDriver))
    conformance_.report("drv-3.1.2-1", "3.1.1", std::string(what) + " written before DRIVER");
  if (status_ & st::kDriverOk)
    conformance_.report("drv-3.1.1-1", std::string(what) + " written after DRIVER_OK");
}

void MockDevice::enable_queue(uint16_t q) {
  if (hooks_.empty()) return enable_queue_now(q);
  fire_hooks(HookPoint::kQueueEnable, 0, 0, q, true);
  enable_queue_now(q);
  fire_hooks(HookPoint::kQueueEnable, 0, 0, q, false);
}

void MockDevice::enable_queue_now(uint16_t q) {
  QueueRegs& r = qregs_[q];
  if (r.enabled) return;
  const bool packed = !legacy_mode_ && ring_packed();
  if (packed && (r.size == 0 || r.size > r.max_size || r.size > spec::kMaxQueueSizePacked)) {
    // 2.8: any size up to the maximum; 4.1.4.3.2: never 0.
    conformance_.report(
        r.size == 0 ? SpecRuleId("drv-4.1.4.3.2-2") : SpecRuleId("def-4.1.4.3-2"), "4.1.4.3.2",
        "queue " + std::to_string(q) + " (packed) enabled with size " + std::to_string(r.size) +
            " (maximum " + std::to_string(r.max_size) + ")");
    return;
  }
  if (!packed && (!spec::is_power_of_two(r.size) || r.size > r.max_size ||
                  r.size > spec::kMaxQueueSizeSplit)) {
    conformance_.report(
        spec::is_power_of_two(r.size) ? SpecRuleId("def-4.1.4.3-2") : SpecRuleId("drv-4.1.4.3.2-3"),
        "4.1.4.3.2",
        "queue " + std::to_string(q) + " enabled with size " + std::to_string(r.size) +
            " (maximum " + std::to_string(r.max_size) + "; must be a power of two not above it)");
    return;
  }
  r.enabled = true;
  if (queue_vector_unread_[q] && !lost_state_)
    conformance_.report("drv-4.1.5.1.2.2-3", "queue " + std::to_string(q) +
                                                 " enabled without reading back its "
                                                 "queue_msix_vector");
  queue_vector_unread_[q] = false;
  const uint64_t neg = driver_features_ & config_.features;
  const bool iommu =
      !legacy_mode_ && has_feature(neg, Feature::kAccessPlatform) && iommu_.enabled();
  queues_[q].configure(packed ? RingKind::kPacked : RingKind::kSplit, memory_, conformance_, q,
                       r.size, r.addrs, has_feature(neg, Feature::kEventIdx),
                       has_feature(neg, Feature::kIndirectDesc), iommu ? &iommu_ : nullptr, &audit_,
                       config_.packed_device_event);
  if (packed)
    queues_[q].packed_ring().set_concurrent_driver(config_.concurrent_driver);
  else
    queues_[q].split_queue().set_concurrent_driver(config_.concurrent_driver);
  // IN_ORDER, either ring kind: completions batched (DeviceConfig::in_order_batch).
  if (has_feature(neg, Feature::kInOrder)) {
    if (packed)
      queues_[q].packed_ring().set_in_order(config_.in_order_batch);
    else
      queues_[q].split_queue().set_in_order(config_.in_order_batch);
  }
}

void MockDevice::notify(uint16_t q) {
  ++counters_.notifies;
  if (!lost_state_) {
    if (!(status_ & st::kDriverOk))
      conformance_.report("drv-3.1.1-6",
                          "notify of queue " + std::to_string(q) + " before DRIVER_OK");
    else if (q >= kMaxQueues || !qregs_[q].enabled)
      conformance_.report("def-4.1.5.2-1", "4.1.5.2",
                          "notify of queue " + std::to_string(q) + ", which is not set up");
  }
  if (q >= kMaxQueues) return;
  switch (role(q)) {
    case QueueRole::kTx:
      if (q / 2 >= active_pairs_) {
        // Queued on a pair not enabled: not processed (QEMU leaves it).
        ++counters_.tx_pair_disabled;
        if (!lost_state_)
          conformance_.report(
              pairs_set_ ? SpecRuleId("drv-5.1.6.5.6.1-4") : SpecRuleId("drv-5.1.6.5.6.1-3"),
              "notify of transmitq" + std::to_string(q / 2 + 1) + " (queue " + std::to_string(q) +
                  ") with " + std::to_string(active_pairs_) + " queue pair(s) enabled");
        return;
      }
      if (config_.auto_process_tx && !in_tx_) process_tx_queue(q, SIZE_MAX);
      return;
    case QueueRole::kCtrl:
      process_ctrl();
      return;
    default:
      return;
  }
}

// ---------------------------------------------------------------------------
// Legacy interface (4.1.4.8)
// ---------------------------------------------------------------------------

uint32_t MockDevice::legacy_read(uint32_t offset, uint8_t width) {
  namespace lg = pci::legacy;
  const QueueRegs* r = queue_select_ < num_queues() ? &qregs_[queue_select_] : nullptr;
  uint32_t v = 0;
  switch (offset) {
    case lg::kDeviceFeatures:
      v = uint32_t(config_.features);
      break;
    case lg::kDriverFeatures:
      v = uint32_t(driver_features_);
      break;
    case lg::kQueueAddress:
      v = r ? r->pfn : 0;
      break;
    case lg::kQueueSize:
      v = r ? r->max_size : 0;
      break;
    case lg::kQueueSelect:
      v = queue_select_;
      break;
    case lg::kQueueNotify:
      v = 0;
      break;
    case lg::kDeviceStatus:
      v = read_status();
      break;
    case lg::kIsrStatus:
      v = read_isr();  // read clears
      break;
    default: {
      // 4.1.4.8: while MSI-X is enabled the two vector registers sit at
      // 0x14 and 0x16 and device configuration starts at 0x18.
      const uint32_t cfg = msix_enabled() ? lg::kConfigMsix : lg::kConfigNoMsix;
      if (msix_enabled() && offset == lg::kConfigMsixVector) {
        v = vector_read(-1);
        break;
      }
      if (msix_enabled() && offset == lg::kQueueMsixVector) {
        v = vector_read(queue_select_);
        break;
      }
      if (offset >= cfg) return config_bytes_read(offset - cfg, width);
      v = 0;
    }
  }
  return v & width_mask(width);
}

void MockDevice::legacy_write(uint32_t offset, uint8_t width, uint32_t value) {
  namespace lg = pci::legacy;
  switch (offset) {
    case lg::kDriverFeatures:
      if (!hooks_.empty()) fire_hooks(HookPoint::kFeaturesWrite, 0, 0, -1, true);
      legacy_mode_ = legacy_mode_ || config_.transport != TransportKind::kModern;
      if (!lost_state_ && !(status_ & st::kDriver))
        conformance_.report("drv-3.1.2-1", "3.1.1", "driver features written before DRIVER");
      if (!lost_state_ && (status_ & st::kDriverOk))
        conformance_.report("drv-3.1.2-1", "3.1.1", "driver features written after DRIVER_OK");
      driver_features_ = value;
      features_written_ = true;
      ctrl_features_set();
      if (!hooks_.empty()) fire_hooks(HookPoint::kFeaturesWrite, 0, 0, -1, false);
      return;
    case lg::kQueueAddress: {
      if (queue_select_ >= num_queues()) return;
      QueueRegs& r = qregs_[queue_select_];
      if (value == 0) {  // legacy drivers release a queue by writing 0
        r.enabled = false;
        r.pfn = 0;
        queues_[queue_select_].reset();
        return;
      }
      note_queue_setup("queue address");
      r.pfn = value;
      r.size = r.max_size;
      const uint64_t base = uint64_t(value) << lg::kQueueAddressShift;
      r.addrs.desc = base;
      r.addrs.driver = base + spec::desc_bytes(r.size);
      r.addrs.device = base + spec::legacy_used_offset(r.size);
      r.enabled = false;
      enable_queue(queue_select_);
      return;
    }
    case lg::kQueueSelect:
      queue_select_ = uint16_t(value);
      return;
    case lg::kQueueNotify:
      notify(uint16_t(value));
      return;
    case lg::kDeviceStatus:
      write_status(uint8_t(value), true);
      return;
    default: {
      if (msix_enabled() && offset == lg::kConfigMsixVector) return vector_write(-1, value);
      if (msix_enabled() && offset == lg::kQueueMsixVector) {
        if (!lost_state_ && queue_select_ < num_queues() && qregs_[queue_select_].enabled)
          conformance_.report("drv-4.1.4.3.2-4", "queue_msix_vector of queue " +
                                                     std::to_string(queue_select_) +
                                                     " written while the queue is set up");
        return vector_write(queue_select_, value);
      }
      const uint32_t cfg = msix_enabled() ? lg::kConfigMsix : lg::kConfigNoMsix;
      if (offset >= cfg && offset - cfg < 6) {
        // Legacy drivers may write the MAC (5.1.4.3); take the bytes.
        for (uint8_t i = 0; i < width && offset - cfg + i < 6; ++i)
          config_.mac[offset - cfg + i] = uint8_t(value >> (8 * i));
      }
      return;
    }
  }
}

// ---------------------------------------------------------------------------
// Modern interface (4.1.4)
// ---------------------------------------------------------------------------

bool MockDevice::check_common_width(uint32_t offset, uint8_t width, bool write) {
  const Field* f = common_field_at(offset);
  if (!f) return false;
  if (f->offset == offset && f->width == width) return true;
  conformance_.report("drv-4.1.3.1-1",
                      std::string(write ? "write" : "read") + " of " + std::to_string(width) +
                          " bytes at common config offset " + hex(offset) + " (field is " +
                          std::to_string(f->width) + " bytes at " + hex(f->offset) + ")");
  return false;
}

uint32_t MockDevice::common_field_read(uint32_t field) {
  namespace c = pci::common;
  const bool valid = queue_select_ < num_queues();
  const QueueRegs& r = qregs_[valid ? queue_select_ : 0];
  switch (field) {
    case c::kDeviceFeatureSelect:
      return device_feature_select_;
    case c::kDeviceFeature:
      return device_feature_select_ < 2 ? uint32_t((config_.features & ~kLegacyOnlyFeatures) >>
                                                   (32 * device_feature_select_))
                                        : 0;
    case c::kDriverFeatureSelect:
      return driver_feature_select_;
    case c::kDriverFeature:
      return driver_feature_select_ < 2
                 ? uint32_t(driver_features_ >> (32 * driver_feature_select_))
                 : 0;
    case c::kConfigMsixVector:
      return vector_read(-1);
    case c::kQueueMsixVector:
      return valid ? vector_read(queue_select_) : pci::kMsixNoVector;
    case c::kNumQueues:
      return num_queues();
    case c::kDeviceStatus:
      return read_status();
    case c::kConfigGeneration:
      if (generation_flips_left_ > 0) {  // config_generation_unstable
        --generation_flips_left_;
        ++counters_.faults_applied;
        bump_generation();
      }
      return generation_;
    case c::kQueueSelect:
      return queue_select_;
    case c::kQueueSize:
      return valid ? r.size : 0;
    case c::kQueueEnable:
      return valid && r.enabled ? 1 : 0;
    case c::kQueueNotifyOff:
      return valid ? queue_select_ : 0;
    case c::kQueueDescLo:
      return valid ? uint32_t(r.addrs.desc) : 0;
    case c::kQueueDescHi:
      return valid ? uint32_t(r.addrs.desc >> 32) : 0;
    case c::kQueueDriverLo:
      return valid ? uint32_t(r.addrs.driver) : 0;
    case c::kQueueDriverHi:
      return valid ? uint32_t(r.addrs.driver >> 32) : 0;
    case c::kQueueDeviceLo:
      return valid ? uint32_t(r.addrs.device) : 0;
    case c::kQueueDeviceHi:
      return valid ? uint32_t(r.addrs.device >> 32) : 0;
    case 0x38:  // queue_notify_data (1.2)
      return valid ? queue_select_ : 0;
    default:
      return 0;
  }
}

void MockDevice::common_field_write(uint32_t field, uint32_t value) {
  namespace c = pci::common;
  const bool valid = queue_select_ < num_queues();
  QueueRegs& r = qregs_[valid ? queue_select_ : 0];
  auto read_only = [&](const char* name) {
    conformance_.report("drv-4.1.4.3.2-1", std::string("driver wrote read-only ") + name);
  };
  auto queue_field = [&](const char* name) {
    note_queue_setup(name);
    if (valid && r.enabled)
      conformance_.report("drv-4.1.4.3.2-4", std::string(name) + " of queue " +
                                                 std::to_string(queue_select_) +
                                                 " written while the queue is enabled");
    return valid && !r.enabled;
  };
  auto set_lo = [](uint64_t& a, uint32_t v) { a = (a & ~uint64_t{0xFFFF'FFFF}) | v; };
  auto set_hi = [](uint64_t& a, uint32_t v) { a = (a & 0xFFFF'FFFF) | (uint64_t(v) << 32); };
  switch (field) {
    case c::kDeviceFeatureSelect:
      device_feature_select_ = value;
      return;
    case c::kDeviceFeature:
      return read_only("device_feature");
    case c::kDriverFeatureSelect:
      driver_feature_select_ = value;
      return;
    case c::kDriverFeature:
      if (!hooks_.empty()) fire_hooks(HookPoint::kFeaturesWrite, 0, 0, -1, true);
      if (!lost_state_ && !(status_ & st::kDriver))
        conformance_.report("drv-3.1.1-1", "driver features written before DRIVER");
      if (!lost_state_ && (status_ & st::kFeaturesOk))
        conformance_.report("drv-3.1.1-3", "driver features written after FEATURES_OK");
      if (driver_feature_select_ == 0)
        driver_features_ = (driver_features_ & ~uint64_t{0xFFFF'FFFF}) | value;
      else if (driver_feature_select_ == 1)
        driver_features_ = (driver_features_ & 0xFFFF'FFFF) | (uint64_t(value) << 32);
      else if (value != 0)
        conformance_.report("drv-2.2.1-1", "driver accepted feature bits above 63 (select " +
                                               std::to_string(driver_feature_select_) + ")");
      features_written_ = true;
      ctrl_features_set();
      if (!hooks_.empty()) fire_hooks(HookPoint::kFeaturesWrite, 0, 0, -1, false);
      return;
    case c::kConfigMsixVector:
      if (!lost_state_ && (status_ & st::kDriverOk))
        conformance_.report("drv-3.1.1-1", "config_msix_vector written after DRIVER_OK");
      return vector_write(-1, value);
    case c::kQueueMsixVector:
      if (!queue_field("queue_msix_vector")) return;
      return vector_write(queue_select_, value);
    case c::kNumQueues:
      return read_only("num_queues");
    case c::kDeviceStatus:
      return write_status(uint8_t(value), false);
    case c::kConfigGeneration:
      return read_only("config_generation");
    case c::kQueueSelect:
      queue_select_ = uint16_t(value);
      return;
    case c::kQueueSize:
      if (!queue_field("queue_size")) return;
      if (ring_packed()) {
        // 2.8: no power of two needed; 4.1.4.3.2: never 0 with RING_PACKED.
        if (value == 0)
          conformance_.report(
              "drv-4.1.4.3.2-2",
              "queue_size 0 for queue " + std::to_string(queue_select_) + " with RING_PACKED");
        else if (value > r.max_size)
          conformance_.report("def-4.1.4.3-2", "4.1.4.3.2",
                              "queue_size " + std::to_string(value) + " for queue " +
                                  std::to_string(queue_select_) + " above the maximum " +
                                  std::to_string(r.max_size));
      } else if (!spec::is_power_of_two(value) || value > r.max_size)
        conformance_.report(
            spec::is_power_of_two(value) ? SpecRuleId("def-4.1.4.3-2")
                                         : SpecRuleId("drv-4.1.4.3.2-3"),
            "4.1.4.3.2",
            "queue_size " + std::to_string(value) + " for queue " + std::to_string(queue_select_) +
                " is not a power of two not above the maximum " + std::to_string(r.max_size));
      r.size = uint16_t(value);
      return;
    case c::kQueueEnable:
      note_queue_setup("queue_enable");
      if (value == 0) {
        conformance_.report("drv-4.1.4.3.2-6", "driver wrote 0 to queue_enable");
        return;
      }
      if (valid) enable_queue(queue_select_);
      return;
    case c::kQueueNotifyOff:
      return read_only("queue_notify_off");
    case c::kQueueDescLo:
      if (queue_field("queue_desc")) set_lo(r.addrs.desc, value);
      return;
    case c::kQueueDescHi:
      if (queue_field("queue_desc")) set_hi(r.addrs.desc, value);
      return;
    case c::kQueueDriverLo:
      if (queue_field("queue_driver")) set_lo(r.addrs.driver, value);
      return;
    case c::kQueueDriverHi:
      if (queue_field("queue_driver")) set_hi(r.addrs.driver, value);
      return;
    case c::kQueueDeviceLo:
      if (queue_field("queue_device")) set_lo(r.addrs.device, value);
      return;
    case c::kQueueDeviceHi:
      if (queue_field("queue_device")) set_hi(r.addrs.device, value);
      return;
    case 0x38:
      return read_only("queue_notify_data");
    case 0x3A:
      conformance_.report("def-4.1.4.3-1", "4.1.4.3.2", "queue_reset written without RING_RESET");
      return;
    default:
      return;
  }
}

uint32_t MockDevice::modern_read(uint32_t offset, uint8_t width) {
  if (offset >= kCommonOffset && offset < kCommonOffset + kWindowSize) {
    const uint32_t off = offset - kCommonOffset;
    if (off >= kCommonEnd) return 0;
    if (check_common_width(off, width, false)) return common_field_read(off) & width_mask(width);
    uint32_t v = 0;  // composed byte by byte from the fields it covers
    for (uint8_t i = 0; i < width; ++i) {
      const Field* f = common_field_at(off + i);
      if (f) v |= ((common_field_read(f->offset) >> (8 * (off + i - f->offset))) & 0xFF) << (8 * i);
    }
    return v;
  }
  if (offset >= kIsrOffset && offset < kIsrOffset + kWindowSize) {
    if (offset != kIsrOffset) return 0;
    return read_isr();  // 4.1.4.5: reading the ISR status clears it
  }
  if (offset >= kDeviceCfgOffset && offset < kDeviceCfgOffset + kWindowSize)
    return config_bytes_read(offset - kDeviceCfgOffset, width);
  return 0;
}

void MockDevice::modern_write(uint32_t offset, uint8_t width, uint32_t value) {
  if (offset >= kCommonOffset && offset < kCommonOffset + kWindowSize) {
    const uint32_t off = offset - kCommonOffset;
    if (off >= kCommonEnd) return;
    if (check_common_width(off, width, true)) common_field_write(off, value);
    return;
  }
  if (offset >= kNotifyOffset && offset < kNotifyOffset + kWindowSize) {
    const uint32_t off = offset - kNotifyOffset;
    const uint32_t mult = config_.notify_off_multiplier;
    const uint32_t q = mult ? off / mult : value;
    if ((mult && off % mult) || width != 2 || value != q)
      conformance_.report("def-4.1.5.2-1", "4.1.5.2",
                          "notification of " + std::to_string(width) + " bytes with value " +
                              std::to_string(value) + " at notify offset " + hex(off) + " (queue " +
                              std::to_string(q) + "'s address)");
    notify(uint16_t(value));
    return;
  }
  if (offset >= kDeviceCfgOffset && offset < kDeviceCfgOffset + kWindowSize) {
    conformance_.report(
        "def-5.1.4-1", "5.1.4.2",
        "driver wrote device configuration at offset " + hex(offset - kDeviceCfgOffset));
    return;
  }
  if (offset >= kIsrOffset && offset < kIsrOffset + kWindowSize) {
    conformance_.report("def-4.1.4.5-1", "driver wrote the ISR status");
    return;
  }
}

// ---------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------

void MockDevice::arm(const Fault& fault) {
  auto cfg_type_index = [&]() -> size_t {
    const uint64_t t = fault.value ? fault.value : pci::kCfgTypeCommon;
    if (t < 1 || t > 4) throw std::invalid_argument("capability fault: cfg_type must be 1..4");
    return size_t(t - 1);
  };
  switch (fault.kind) {
    case FaultKind::kQueueSize:
      set_queue_max_size(fault.queue, uint16_t(fault.value));
      return;
    case FaultKind::kConfigMtu:
      set_mtu(uint16_t(fault.value));
      return;
    case FaultKind::kConfigMacMulticast:
      set_mac({0x01, 0x00, 0x5e, 0x00, 0x00, 0x01});
      return;
    case FaultKind::kConfigMacZero:
      set_mac({0, 0, 0, 0, 0, 0});
      return;
    case FaultKind::kConfigMaxPairs:
      set_max_virtqueue_pairs(uint16_t(fault.value));
      return;
    case FaultKind::kConfigStatus:
      set_config_status(uint16_t(fault.value));
      return;
    case FaultKind::kCapOutsideBar:
      cap_outside_bar_[cfg_type_index()] = true;
      build_pci_config();
      return;
    case FaultKind::kCapMissingBar:
      cap_missing_bar_[cfg_type_index()] = true;
      build_pci_config();
      return;
    case FaultKind::kDeviceCfgLength:
      device_cfg_length_ = uint32_t(fault.value);
      build_pci_config();
      return;
    case FaultKind::kUsedBeforeDriverOk:
      used_early_queue_ = fault.queue >= 0 ? fault.queue : kRxQueue;
      used_early_len_ = uint32_t(fault.value);
      return;
    case FaultKind::kConfigMacUnstable:
      mac_flips_left_ = fault.value;
      return;
    case FaultKind::kResetLatency:
      reset_latency_ = uint32_t(fault.value);
      return;
    case FaultKind::kFeaturesOkRefuse:
      features_ok_refuse_all_ = fault.value == 0;
      features_ok_refusals_ = uint32_t(fault.value);
      return;
    case FaultKind::kConfigGenerationUnstable:
      generation_flips_left_ = fault.value;
      return;
    case FaultKind::kMsixVectorLie:
      vector_lie_queue_ = fault.queue < 0 ? -1 : fault.queue;
      vector_lie_value_ = uint16_t(fault.value);
      return;
    case FaultKind::kStuckIsr:
      stuck_isr_ = true;
      return;
    case FaultKind::kInterruptStorm:
      storm_per_tick_ = fault.value ? uint32_t(fault.value) : 2000;
      return;
    case FaultKind::kSpuriousInterrupt:
      spurious_left_ += fault.value ? uint32_t(fault.value) : 1;
      return;
    case FaultKind::kInterruptBeforeDriverOk:
      irq_before_driver_ok_ = true;
      return;
    case FaultKind::kConfigRssMaxKeySize:
      config_.rss_max_key_size = uint8_t(fault.value);
      bump_generation();
      return;
    case FaultKind::kConfigRssMaxTableLen:
      config_.rss_max_indirection_table_length = uint16_t(fault.value);
      bump_generation();
      return;
    case FaultKind::kConfigSupportedHashTypes:
      config_.supported_hash_types = uint32_t(fault.value);
      bump_generation();
      return;
    default:
      break;
  }
  ArmedFault a{fault, fault.skip, fault.count};
  if (is_ctrl_fault(fault.kind)) {
    a.fault.queue = -1;  // the control queue, whatever its index
    ctrl_faults_.push_back(a);
  } else
    (is_used_fault(fault.kind) ? used_faults_ : rx_faults_).push_back(a);
}

void MockDevice::clear_faults() {
  used_faults_.clear();
  rx_faults_.clear();
  ctrl_faults_.clear();
}

bool MockDevice::take_fault(std::vector<ArmedFault>& list, FaultKind kind, uint16_t q, Fault* out) {
  for (size_t i = 0; i < list.size(); ++i) {
    ArmedFault& a = list[i];
    if (a.fault.kind != kind || (a.fault.queue >= 0 && a.fault.queue != q)) continue;
    if (a.skip_left > 0) {
      --a.skip_left;
      continue;
    }
    *out = a.fault;
    ++counters_.faults_applied;
    if (a.fault.count != 0 && --a.left == 0) list.erase(list.begin() + ptrdiff_t(i));
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// Data path
// ---------------------------------------------------------------------------

void MockDevice::complete(uint16_t q, uint16_t head, uint32_t len, uint64_t writable) {
  Hold& h = holds_[q];
  if (h.active && (h.unlimited || h.left > 0)) {
    // A slow device: the buffer is used but its completion waits.
    held_[q].push_back(HeldEntry{head, len, writable, tick_});
    ++counters_.completions_held;
    if (!h.unlimited && --h.left == 0 && h.delay == 0) h.active = false;
    return;
  }
  complete_now(q, head, len, writable);
}

void MockDevice::complete_now(uint16_t q, uint16_t head, uint32_t len, uint64_t writable) {
  DeviceRing& dq = queues_[q];
  ++counters_.used_published;
  if (used_faults_.empty() && !used_hook_) {
    dq.push_used(head, len);
    return;
  }
  UsedEntry e = dq.next_used(q, head, len);
  bool twice = false;
  uint16_t jump = 0;
  Fault f;
  if (take_fault(used_faults_, FaultKind::kUsedIdOutOfRange, q, &f))
    e.id = uint32_t(dq.size() + f.value);
  if (take_fault(used_faults_, FaultKind::kUsedIdNotInFlight, q, &f)) {
    bool found = false;
    for (uint32_t id = 0; id < dq.size() && !found; ++id) {
      if (id != head && !dq.exposed(uint16_t(id)) && !(dq.packed() && dq.in_flight(uint16_t(id)))) {
        e.id = id;
        found = true;
      }
    }
    twice = !found;  // every id outstanding: a repeated completion is stale too
  }
  if (take_fault(used_faults_, FaultKind::kUsedDoubleComplete, q, &f)) twice = true;
  if (take_fault(used_faults_, FaultKind::kUsedLenOver, q, &f))
    e.len = uint32_t(writable + (f.value ? f.value : 1));
  if (take_fault(used_faults_, FaultKind::kUsedLenShort, q, &f)) e.len = uint32_t(f.value);
  if (take_fault(used_faults_, FaultKind::kUsedIdxJump, q, &f)) jump = uint16_t(dq.size() + 1);
  if (take_fault(used_faults_, FaultKind::kUsedIdSet, q, &f)) e.id = uint32_t(f.value);
  if (take_fault(used_faults_, FaultKind::kUsedIdxSkip, q, &f))
    e.used_idx = uint16_t(e.used_idx + f.value);
  if (e.packed) twice |= packed_used_lies(q, head, e);
  // The descriptors of the chain just consumed, rewritten in the driver's
  // table before the completion is published.
  const std::pair<FaultKind, DeviceQueue::DescField> desc_lies[] = {
      {FaultKind::kDescAddr, DeviceQueue::DescField::kAddr},
      {FaultKind::kDescLen, DeviceQueue::DescField::kLen},
      {FaultKind::kDescFlags, DeviceQueue::DescField::kFlags},
      {FaultKind::kDescNext, DeviceQueue::DescField::kNext},
  };
  for (const auto& [kind, field] : desc_lies)
    if (take_fault(used_faults_, kind, q, &f))
      counters_.descriptors_rewritten += dq.rewrite_chain(head, field, f.value);
  if (used_hook_) used_hook_(e);
  dq.push(e, head);
  if (twice) {
    // The same entry again at the next used slot / position.
    UsedEntry again = e;
    again.used_idx = dq.used_idx();
    if (again.packed) again.flags = dq.next_used(q, e.id, e.len).flags;
    dq.push(again, head);
    ++counters_.used_published;
  }
  dq.skip_used(jump);
}

bool MockDevice::packed_used_lies(uint16_t q, uint16_t head, UsedEntry& e) {
  const DeviceRing& dq = queues_[q];
  constexpr uint16_t kAvail = spec::kPackedDescFlagAvail;
  constexpr uint16_t kUsed = spec::kPackedDescFlagUsed;
  const uint16_t write = uint16_t(e.flags & spec::kDescFlagWrite);
  bool twice = false;
  Fault f;
  if (take_fault(used_faults_, FaultKind::kPackedUsedWrapStale, q, &f))
    e.flags = uint16_t(write | (e.used_wrap ? 0 : kAvail | kUsed));
  if (take_fault(used_faults_, FaultKind::kPackedUsedFlags, q, &f))
    e.flags = f.value ? uint16_t(f.value) : uint16_t(write | (e.used_wrap ? kUsed : kAvail));
  if (take_fault(used_faults_, FaultKind::kPackedUsedIdInFlight, q, &f)) {
    // Another buffer the device holds; else one the driver offered.
    bool found = false;
    for (uint32_t id = 0; id <= 0xFFFF && !found; ++id)
      if (id != head && dq.in_flight(uint16_t(id))) e.id = id, found = true;
    for (uint32_t id = 0; id < dq.size() && !found; ++id)
      if (id != head && dq.exposed(uint16_t(id))) e.id = id, found = true;
    twice = !found;
  }
  return twice;
}

bool MockDevice::set_packed_device_event(uint16_t q, PackedEventMode mode, int32_t off_wrap) {
  if (q >= kMaxQueues || !queues_[q].packed() || !queues_[q].usable()) return false;
  queues_[q].packed_ring().set_device_event(mode, off_wrap);
  return true;
}

void MockDevice::finish(uint16_t q) {
  if (!queues_[q].has_unpublished()) return;  // nothing new (e.g. every completion held)
  if (queues_[q].publish()) {
    ++counters_.interrupts;
    signal(spec::interrupt::kQueue, q);
  } else {
    ++counters_.interrupts_suppressed;
  }
}

bool MockDevice::check_tx_header(const uint8_t* hdr) {
  const uint64_t neg = driver_features_ & config_.features;
  const uint8_t flags = hdr[0];
  const uint8_t gso = hdr[1];
  bool ok = true;
  if (hdr_size_ >= spec::kNetHdrSize && spec::load_le16(hdr + 10) != 0) {
    conformance_.report(
        "drv-5.1.6.2.1-1",
        "transmit header num_buffers is " + std::to_string(spec::load_le16(hdr + 10)) + ", not 0");
    ok = false;
  }
  if (flags && !has_feature(neg, Feature::kNetCsum)) {
    conformance_.report("drv-5.1.6.2.1-2",
                        "transmit header flags " + hex(flags) + " without CSUM negotiated");
    ok = false;
  }
  if (flags & (spec::net_hdr::kFlagDataValid | spec::net_hdr::kFlagRscInfo)) {
    conformance_.report("drv-5.1.6.2.1-14", "transmit header sets DATA_VALID or RSC_INFO");
    ok = false;
  }
  const uint8_t base = gso & uint8_t(~spec::net_hdr::kGsoEcn);
  bool allowed = true;
  switch (base) {
    case spec::net_hdr::kGsoNone:
      allowed = !(gso & spec::net_hdr::kGsoEcn);
      break;
    case spec::net_hdr::kGsoTcpV4:
      allowed = has_feature(neg, Feature::kNetHostTso4);
      break;
    case spec::net_hdr::kGsoTcpV6:
      allowed = has_feature(neg, Feature::kNetHostTso6);
      break;
    case spec::net_hdr::kGsoUdp:
      allowed = has_feature(neg, Feature::kNetHostUfo);
      break;
    case spec::net_hdr::kGsoUdpL4:
      allowed = has_feature(neg, Feature::kNetHostUso);
      break;
    default:
      allowed = false;
  }
  if ((gso & spec::net_hdr::kGsoEcn) && !has_feature(neg, Feature::kNetHostEcn)) allowed = false;
  if (!allowed) {
    conformance_.report("drv-5.1.6.2.1-3", "transmit header gso_type " + hex(gso) +
                                               " without the matching HOST_* feature");
    ok = false;
  }
  return ok;
}

void MockDevice::deliver_tx(std::span<const uint8_t> frame) {
  ++counters_.tx_frames;
  counters_.tx_bytes += frame.size();
  if (sink_) sink_(sink_context_, frame);
  if (handler_) handler_(frame);
  if (config_.tx_capture_limit) {
    if (captured_.size() < config_.tx_capture_limit)
      captured_.emplace_back(frame.begin(), frame.end());
    else
      ++counters_.tx_capture_dropped;
  }
}

void MockDevice::transmit(const uint8_t* hdr, std::span<const uint8_t> frame) {
  namespace ol = offload;
  const ol::Header h = ol::read_header(hdr);
  const ol::TxPlan plan = ol::check_tx(h, frame, negotiated_features(), conformance_);
  if (plan.action == ol::TxAction::kSend) return deliver_tx(frame);
  if (plan.action == ol::TxAction::kDrop || frame.size() > kMaxFrame) {
    ++counters_.tx_offload_bad;
    return;
  }
  if (plan.action == ol::TxAction::kSegment) {
    if (tx_segment_.size() < kMaxFrame) tx_segment_.resize(kMaxFrame);  // on first use
    ++counters_.tx_gso_frames;
    counters_.tx_gso_segments += ol::segment(
        frame, plan.layout, h.gso_size, tx_segment_.data(),
        [](void* self, std::span<const uint8_t> seg) {
          static_cast<MockDevice*>(self)->deliver_tx(seg);
        },
        this);
    return;
  }
  // kChecksum: completed in the device's copy (the driver's buffer is
  // device-readable: the device never writes it).
  if (gather_.size() < kMaxFrame) gather_.resize(kMaxFrame);
  if (frame.data() != gather_.data()) std::memcpy(gather_.data(), frame.data(), frame.size());
  if ((h.flags & spec::net_hdr::kFlagNeedsCsum) &&
      uint32_t(h.csum_start) + h.csum_offset + 2 <= frame.size()) {
    ol::complete_checksum(gather_.data(), frame.size(), h.csum_start, h.csum_offset);
    ++counters_.tx_csum_completed;
  }
  if ((h.gso_type & uint8_t(~spec::net_hdr::kGsoEcn)) == spec::net_hdr::kGsoUdp)
    ++counters_.tx_ufo_unsegmented;
  deliver_tx(std::span<const uint8_t>(gather_.data(), frame.size()));
}

void MockDevice::set_tx_sink(TxSink sink, void* context) {
  sink_ = sink;
  sink_context_ = context;
}

void MockDevice::set_tx_handler(TxHandler handler) {
  handler_ = std::move(handler);
}

size_t MockDevice::process_tx(size_t max) {
  size_t sent = 0;
  for (uint16_t pair = 0; pair < active_pairs_ && sent < max; ++pair)
    sent += process_tx_queue(uint16_t(2 * pair + 1), max - sent);
  return sent;
}

size_t MockDevice::process_tx_pair(uint16_t pair, size_t max) {
  if (pair >= active_pairs_) return 0;
  return process_tx_queue(uint16_t(2 * pair + 1), max);
}

size_t MockDevice::process_tx_queue(uint16_t txq, size_t max) {
  DeviceRing& q = queues_[txq];
  if (!(status_ & st::kDriverOk) || (status_ & st::kDeviceNeedsReset) || !q.usable()) return 0;
  in_tx_ = true;
  size_t sent = 0;
  uint16_t n = q.available();
  const uint32_t hdr_size = hdr_size_;
  const uint64_t neg = driver_features_ & config_.features;
  const bool mtu_check = has_feature(neg, Feature::kNetMtu);
  while (n > 0 && sent < max) {
    const uint16_t token = q.pop();
    --n;
    Chain& c = chain_;
    q.walk(token, &c);
    const uint16_t head = c.head;  // split: the token; packed: the buffer id
    if (!c.ok) {
      // A malformed chain: the device cannot trust this ring any more.
      ++counters_.tx_chains_bad;
      q.halt();
      ++counters_.queue_halts;
      break;
    }
    if (c.writable_bytes)
      conformance_.report(
          "def-5.1.6.2-1", "5.1.6.2",
          "transmit chain at head " + std::to_string(head) + " has device-writable descriptors");
    if (c.readable_bytes < hdr_size) {
      conformance_.report("def-5.1.6.2-1", "5.1.6.2",
                          "transmit chain at head " + std::to_string(head) + " has " +
                              std::to_string(c.readable_bytes) +
                              " bytes, less than the net header");
      ++counters_.tx_chains_bad;
      complete(txq, head, 0, 0);
      continue;
    }
    if (!any_layout_ && c.segments[0].len != hdr_size)
      conformance_.report("drv-5.1.6.6-1", "5.1.6",
                          "legacy framing without ANY_LAYOUT: transmit header not in "
                          "its own descriptor (Legacy Interface: Framing Requirements)");
    // Header: the first hdr_size readable bytes, possibly across segments.
    uint8_t hdr[spec::ctrl::kNetHdrHashSize] = {};
    uint32_t need = hdr_size, seg = 0, off = 0;
    while (need) {
      const uint32_t take = std::min(need, c.segments[seg].len - off);
      std::memcpy(hdr + (hdr_size - need), c.segments[seg].data + off, take);
      need -= take;
      off += take;
      if (off == c.segments[seg].len) ++seg, off = 0;
    }
    check_tx_header(hdr);
    const uint64_t frame_len = c.readable_bytes - hdr_size;
    std::span<const uint8_t> frame;
    // Skip empty segments; a frame inside one segment is handed over in place.
    while (seg < c.num_segments && off == c.segments[seg].len) ++seg, off = 0;
    if (frame_len == 0) {
      frame = {};
    } else if (c.segments[seg].len - off >= frame_len) {
      frame = {c.segments[seg].data + off, size_t(frame_len)};
    } else if (frame_len <= kMaxFrame) {
      if (gather_.size() < kMaxFrame) gather_.resize(kMaxFrame);  // on first use
      size_t at = 0;
      for (uint32_t s = seg; s < c.num_segments && !c.segments[s].writable; ++s) {
        const uint32_t from = s == seg ? off : 0;
        std::memcpy(gather_.data() + at, c.segments[s].data + from, c.segments[s].len - from);
        at += c.segments[s].len - from;
      }
      frame = {gather_.data(), at};
    } else {
      ++counters_.tx_chains_bad;
      complete(txq, head, 0, 0);
      continue;
    }
    if (mtu_check && hdr[1] == spec::net_hdr::kGsoNone &&
        frame.size() > size_t(config_.mtu) + spec::kEthHeaderSize)
      conformance_.report("drv-5.1.4.2-8", "transmitted frame of " + std::to_string(frame.size()) +
                                               " bytes exceeds the negotiated MTU " +
                                               std::to_string(config_.mtu) + " + 14");
    transmit(hdr, frame);
    ++tx_pair_frames_[txq / 2];
    ++sent;
    complete(txq, head, 0, 0);
  }
  finish(txq);
  in_tx_ = false;
  return sent;
}

uint16_t MockDevice::rx_available() {
  DeviceRing& q = queues_[kRxQueue];
  return q.usable() ? q.available() : 0;
}

bool MockDevice::inject_rx(std::span<const uint8_t> frame) {
  return inject_into(steer(frame), frame);
}

bool MockDevice::inject_rx_pair(uint16_t pair, std::span<const uint8_t> frame) {
  if (pair >= active_pairs_) {
    ++counters_.rx_not_ready;
    return false;
  }
  return inject_into(pair, frame);
}

bool MockDevice::inject_into(uint16_t pair, std::span<const uint8_t> frame,
                             const uint8_t* offload) {
  if (pair >= active_pairs_) {  // steered to a pair not enabled (a lying table)
    ++counters_.rx_not_ready;
    return false;
  }
  const uint16_t rxq = uint16_t(2 * pair);
  DeviceRing& q = queues_[rxq];
  if (!(status_ & st::kDriverOk) || (status_ & st::kDeviceNeedsReset) || !q.usable()) {
    ++counters_.rx_not_ready;
    return false;
  }
  // QEMU: buffers first (none: the frame waits, here it is not delivered),
  // then the receive filter (virtio_net_receive_rcu).
  if (q.any_available() && !filter_.accepts(frame, config_.mac)) {
    ++counters_.rx_filtered;
    return false;
  }
  using Mode = DeviceConfig::RxCsumMode;
  if (offload == nullptr && config_.rx_csum_mode != Mode::kNone &&
      has_feature(guest_offloads_, Feature::kNetGuestCsum)) {
    // A checksum offload on receive: DATA_VALID for a frame whose
    // checksums verify, or a partial checksum (the tap's CHECKSUM_PARTIAL).
    const offload::Layout l = offload::parse(frame);
    offload::Header h;
    uint8_t bytes[spec::kNetHdrLegacySize] = {};
    if (l.ok && !l.fragment && config_.rx_csum_mode == Mode::kDataValid &&
        offload::checksum_ok(frame, l)) {
      h.flags = spec::net_hdr::kFlagDataValid;
      offload::write_header(h, bytes);
      const bool ok = deliver_rx(rxq, frame, bytes);
      counters_.rx_csum_valid += ok;
      return ok;
    }
    if (l.ok && !l.fragment && config_.rx_csum_mode == Mode::kPartial &&
        frame.size() <= kMaxFrame) {
      if (rx_stage_.size() < kMaxFrame) rx_stage_.resize(kMaxFrame);  // on first use
      std::memcpy(rx_stage_.data(), frame.data(), frame.size());
      offload::partial(rx_stage_.data(), frame.size(), l, &h);
      offload::write_header(h, bytes);
      const bool ok =
          deliver_rx(rxq, std::span<const uint8_t>(rx_stage_.data(), frame.size()), bytes);
      counters_.rx_csum_partial += ok;
      return ok;
    }
  }
  return deliver_rx(rxq, frame, offload);
}

bool MockDevice::inject_rx_gso(std::span<const uint8_t> frame, uint16_t gso_size,
                               uint16_t hdr_len) {
  namespace nh = spec::net_hdr;
  const offload::Layout l = offload::parse(frame);
  uint8_t type = nh::kGsoNone;
  Feature need = Feature::kNetGuestCsum;
  if (l.ok && !l.fragment) {
    if (l.l4_proto == offload::kProtoTcp) {
      type = l.ipv6 ? nh::kGsoTcpV6 : nh::kGsoTcpV4;
      need = l.ipv6 ? Feature::kNetGuestTso6 : Feature::kNetGuestTso4;
    } else {
      type = nh::kGsoUdpL4;
      need = l.ipv6 ? Feature::kNetGuestUso6 : Feature::kNetGuestUso4;
    }
  }
  // The tap takes a GSO packet only with checksum offload and the type's
  // offload enabled (tun's TUN_F_CSUM, TUN_F_TSO4, ...), ECN only with
  // TUN_F_TSO_ECN.
  bool ok = type != nh::kGsoNone && gso_size != 0 && frame.size() <= kMaxFrame &&
            has_feature(guest_offloads_, Feature::kNetGuestCsum) &&
            has_feature(guest_offloads_, need);
  if (ok && l.l4_proto == offload::kProtoTcp && (frame[l.l4 + 13] & offload::kTcpCwr)) {
    ok = has_feature(guest_offloads_, Feature::kNetGuestEcn);
    type |= nh::kGsoEcn;
  }
  if (ok) {
    if (rx_stage_.size() < kMaxFrame) rx_stage_.resize(kMaxFrame);  // on first use
    std::memcpy(rx_stage_.data(), frame.data(), frame.size());
    ok = offload::fix_lengths(rx_stage_.data(), frame.size(), l);
  }
  if (!ok) {
    ++counters_.rx_gso_refused;
    return false;
  }
  const std::span<const uint8_t> staged(rx_stage_.data(), frame.size());
  offload::Header h;
  offload::partial(rx_stage_.data(), frame.size(), l, &h);
  h.gso_type = type;
  h.gso_size = gso_size;
  h.hdr_len = hdr_len ? hdr_len : uint16_t(l.headers);
  uint8_t bytes[spec::kNetHdrLegacySize] = {};
  offload::write_header(h, bytes);
  const bool delivered = inject_into(steer(staged), staged, bytes);
  counters_.rx_gso_frames += delivered;
  return delivered;
}

bool MockDevice::inject_rx_coalesced(std::span<const std::vector<uint8_t>> segments) {
  if (segments.size() == 1) return inject_rx(segments[0]);
  std::vector<std::span<const uint8_t>> spans(segments.begin(), segments.end());
  std::vector<uint8_t> merged(kMaxFrame);
  uint16_t gso_size = 0;
  const size_t len = offload::coalesce(spans, merged.data(), merged.size(), &gso_size);
  if (len == 0) {
    ++counters_.rx_gso_refused;
    return false;
  }
  if (!inject_rx_gso(std::span<const uint8_t>(merged.data(), len), gso_size)) return false;
  counters_.rx_coalesced += segments.size();
  return true;
}

bool MockDevice::apply_rx_header_faults(uint16_t rxq, uint8_t* hdr) {
  namespace nh = spec::net_hdr;
  Fault f;
  if (take_fault(rx_faults_, FaultKind::kRxGsoWrongProtocol, rxq, &f)) {
    // A negotiable gso_type with every other field plausible for it, on a
    // frame that is not that protocol (the frame is not looked at).
    const uint8_t type = f.value ? uint8_t(f.value) : nh::kGsoTcpV4;
    const uint8_t base = type & uint8_t(~nh::kGsoEcn);
    const bool tcp = base == nh::kGsoTcpV4 || base == nh::kGsoTcpV6;
    const uint16_t l4 = uint16_t(spec::kEthHeaderSize + (base == nh::kGsoTcpV6 ? 40 : 20));
    offload::Header h;
    h.flags = nh::kFlagNeedsCsum;
    h.gso_type = type;
    h.hdr_len = uint16_t(l4 + (tcp ? 20 : 8));
    h.gso_size = 1448;
    h.csum_start = l4;
    h.csum_offset = tcp ? offload::kTcpCsumOffset : offload::kUdpCsumOffset;
    offload::write_header(h, hdr);
  }
  bool num_buffers = false;
  if (take_fault(rx_faults_, FaultKind::kRxNumBuffers, rxq, &f)) {
    spec::store_le16(hdr + 10, uint16_t(f.value));
    num_buffers = true;
  }
  if (take_fault(rx_faults_, FaultKind::kRxGsoType, rxq, &f)) hdr[1] = uint8_t(f.value);
  if (take_fault(rx_faults_, FaultKind::kRxFlags, rxq, &f)) hdr[0] = uint8_t(f.value);
  // The le16 fields: hdr_len at 2, gso_size 4, csum_start 6, csum_offset 8.
  const FaultKind fields[] = {FaultKind::kRxHdrLen, FaultKind::kRxGsoSize, FaultKind::kRxCsumStart,
                              FaultKind::kRxCsumOffset};
  for (size_t i = 0; i < 4; ++i)
    if (take_fault(rx_faults_, fields[i], rxq, &f))
      spec::store_le16(hdr + 2 + 2 * i, uint16_t(f.value));
  if (take_fault(rx_faults_, FaultKind::kRxGsoEcn, rxq, &f)) hdr[1] |= nh::kGsoEcn;
  return num_buffers;
}

bool MockDevice::deliver_rx_merged(uint16_t rxq, std::span<const uint8_t> frame,
                                   const uint8_t* offload) {
  // 5.1.6.4: with MRG_RXBUF a frame may take several buffers; the first
  // one's header says how many (num_buffers), and each buffer is a used
  // entry of its own, published together (as QEMU's virtio_net_receive
  // fills them in one batch). The buffers are taken only when enough of
  // them are available, judged by the first one's size (the driver posts
  // buffers of one size).
  DeviceRing& q = queues_[rxq];
  const uint32_t hdr_size = hdr_size_;
  const uint64_t total = hdr_size + frame.size();
  const uint64_t per = chain_.writable_bytes;
  uint32_t seg = 0;
  while (seg < chain_.num_segments && !chain_.segments[seg].writable) ++seg;
  if (per == 0 || seg >= chain_.num_segments || chain_.segments[seg].len < hdr_size ||
      (total + per - 1) / per > q.available() || (total + per - 1) / per > 0xFFFF) {
    ++counters_.rx_too_big;
    return false;
  }
  struct Used {
    uint16_t head;
    uint32_t len;
    uint64_t writable;
  };
  std::vector<Used> used;
  uint8_t* hdr_at = chain_.segments[seg].data;
  uint8_t hdr[spec::ctrl::kNetHdrHashSize] = {};
  if (offload) std::memcpy(hdr, offload, spec::kNetHdrLegacySize);
  write_hash(hdr, frame);
  const bool num_buffers_set = !rx_faults_.empty() && apply_rx_header_faults(rxq, hdr);
  std::memcpy(hdr_at, hdr, hdr_size);
  size_t done = 0;
  bool first = true;
  while (done < frame.size()) {
    if (!q.any_available()) break;  // fewer than counted: what was written stays
    q.walk(q.pop(), &chain_);
    Chain& c = chain_;
    if (!c.ok) {
      ++counters_.rx_chains_bad;
      q.halt();
      ++counters_.queue_halts;
      break;
    }
    uint32_t len = 0;
    for (uint32_t s = 0; s < c.num_segments && done < frame.size(); ++s) {
      if (!c.segments[s].writable) continue;
      uint32_t off = 0;
      if (first && c.segments[s].data == hdr_at) off = hdr_size, len = hdr_size;
      const size_t take = std::min<size_t>(frame.size() - done, c.segments[s].len - off);
      std::memcpy(c.segments[s].data + off, frame.data() + done, take);
      done += take;
      len += uint32_t(take);
    }
    first = false;
    used.push_back(Used{c.head, len, c.writable_bytes});
  }
  if (!num_buffers_set) spec::store_le16(hdr_at + 10, uint16_t(used.size()));  // num_buffers
  Fault f;
  if (used.size() > 1 && !rx_faults_.empty() &&
      take_fault(rx_faults_, FaultKind::kRxMergedLen, rxq, &f))
    used[1].len = uint32_t(f.value);  // the first continuation buffer's used.len
  ++counters_.rx_injected;
  ++rx_pair_frames_[rxq / 2];
  counters_.rx_bytes += frame.size();
  for (const Used& u : used) complete(rxq, u.head, u.len, u.writable);
  finish(rxq);
  return done == frame.size();
}

void MockDevice::use_before_driver_ok() {
  // used_before_driver_ok: the driver is about to set DRIVER_OK. Whatever it
  // made available is used now (a frame written into it, as a device that
  // ignores 3.1.1 would); if nothing is available, a used entry for buffer 0
  // is published all the same.
  const uint16_t q = uint16_t(used_early_queue_);
  if (q >= kMaxQueues || !queues_[q].usable()) return;
  const uint32_t frame_len = used_early_len_ > hdr_size_ ? used_early_len_ - hdr_size_ : 60;
  // A frame above the largest one the device handles is never delivered:
  // it only gives the bare used entry below its length.
  if (q == kRxQueue && frame_len <= kMaxFrame && queues_[q].any_available()) {
    if (gather_.size() < kMaxFrame) gather_.resize(kMaxFrame);  // not in use outside tx
    std::memset(gather_.data(), 0x5A, frame_len);
    const uint8_t eth[14] = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 0xEE, 0x88, 0xB5};
    std::memcpy(gather_.data(), eth, std::min<size_t>(14, frame_len));
    if (deliver_rx(kRxQueue, std::span<const uint8_t>(gather_.data(), frame_len))) return;
  }
  queues_[q].push_used(0, hdr_size_ + frame_len);
  ++counters_.used_published;
  finish(q);
}

bool MockDevice::deliver_rx(uint16_t rxq, std::span<const uint8_t> frame, const uint8_t* offload) {
  DeviceRing& q = queues_[rxq];
  if (!q.any_available()) {
    if (q.halted()) {
      ++counters_.queue_halts;
      ++counters_.rx_not_ready;
    } else {
      ++counters_.rx_no_buffer;
    }
    return false;
  }
  Chain& c = chain_;
  q.walk(q.peek(), &c);
  const uint16_t head = c.head;  // split: the token; packed: the buffer id
  if (!c.ok) {
    ++counters_.rx_chains_bad;
    q.halt();
    ++counters_.queue_halts;
    return false;
  }
  const uint32_t hdr_size = hdr_size_;
  const uint64_t total = hdr_size + frame.size();
  if (c.readable_bytes)
    conformance_.report("def-5.1.6.3-1", "receive chain at head " + std::to_string(head) +
                                             " has device-readable descriptors");
  if (c.writable_bytes < total) {
    if (config_.rx_mergeable && hdr_size_ >= spec::kNetHdrSize &&
        has_feature(driver_features_ & config_.features, Feature::kNetMrgRxbuf))
      return deliver_rx_merged(rxq, frame, offload);
    ++counters_.rx_too_big;
    return false;
  }
  uint32_t seg = 0;
  while (seg < c.num_segments && !c.segments[seg].writable) ++seg;
  if (!any_layout_ && c.segments[seg].len != hdr_size)
    conformance_.report("drv-5.1.6.6-1", "5.1.6",
                        "legacy framing without ANY_LAYOUT: receive header not in "
                        "its own descriptor (Legacy Interface: Framing Requirements)");
  uint8_t hdr[spec::ctrl::kNetHdrHashSize] = {};
  if (offload) std::memcpy(hdr, offload, spec::kNetHdrLegacySize);
  spec::store_le16(hdr + 10, 1);  // num_buffers (only present with 12-byte headers)
  write_hash(hdr, frame);
  Fault unwritten;
  if (!rx_faults_.empty() && take_fault(rx_faults_, FaultKind::kRxNoWrite, rxq, &unwritten)) {
    // rx_no_write: "received" without a byte written into the buffer.
    q.pop();
    ++counters_.rx_injected;
    complete(rxq, head, unwritten.value ? uint32_t(unwritten.value) : uint32_t(total),
             c.writable_bytes);
    finish(rxq);
    return true;
  }
  if (!rx_faults_.empty()) apply_rx_header_faults(rxq, hdr);
  // Scatter header then frame over the writable segments.
  const uint8_t* parts[2] = {hdr, frame.data()};
  const size_t lens[2] = {hdr_size, frame.size()};
  uint32_t off = 0;
  for (int p = 0; p < 2; ++p) {
    size_t done = 0;
    while (done < lens[p]) {
      const size_t take = std::min<size_t>(lens[p] - done, c.segments[seg].len - off);
      std::memcpy(c.segments[seg].data + off, parts[p] + done, take);
      done += take;
      off += uint32_t(take);
      if (off == c.segments[seg].len) ++seg, off = 0;
    }
  }
  q.pop();
  ++counters_.rx_injected;
  ++rx_pair_frames_[rxq / 2];
  counters_.rx_bytes += frame.size();
  complete(rxq, head, uint32_t(total), c.writable_bytes);
  finish(rxq);
  return true;
}

// ---------------------------------------------------------------------------
// Interrupts: MSI-X (PCI 3.0 6.8.2, virtio 1.2 4.1.5.1.2) and INTx
// ---------------------------------------------------------------------------

bool MockDevice::msix_enabled() const {
  return config_.msix_vectors != 0 && (msix_control_ & pci::msix::kEnable) != 0;
}

bool MockDevice::msix_function_masked() const {
  return (msix_control_ & pci::msix::kFunctionMask) != 0;
}

bool MockDevice::msix_entry(uint16_t i, uint64_t* address, uint32_t* data, bool* masked) const {
  if (i >= config_.msix_vectors) return false;
  const uint32_t* e = &msix_table_[4 * size_t{i}];
  *address = e[0] | uint64_t(e[1]) << 32;
  *data = e[2];
  *masked = (e[3] & pci::msix::kEntryMasked) != 0;
  return true;
}

bool MockDevice::msix_pending_bit(uint16_t i) const {
  return i < config_.msix_vectors && (msix_pba_[i / 64] >> (i % 64) & 1) != 0;
}

void MockDevice::emit(const InterruptRecord& r) {
  if (irq_log_.size() < kMaxInterruptRecords) irq_log_.push_back(r);
  if (irq_sink_) irq_sink_(r);
}

void MockDevice::signal(uint8_t isr_bits, int queue) {
  // QEMU sets the ISR bits whether or not MSI-X is enabled (virtio_set_isr).
  isr_ |= isr_bits;
  if (!msix_enabled()) return update_line();
  const uint16_t v = queue < 0 ? config_vector_ : queue_vector_[uint16_t(queue)];
  if (v == pci::kMsixNoVector || v >= config_.msix_vectors) {
    ++counters_.msix_unmapped;  // the driver asked for no interrupt for this event
    return;
  }
  send_msi(v);
}

void MockDevice::send_msi(uint16_t v) {
  const uint32_t* e = &msix_table_[4 * size_t{v}];
  if (msix_function_masked() || (e[3] & pci::msix::kEntryMasked) != 0) {
    // Held as a pending bit, sent when unmasked (PCI 3.0, 6.8.3.5).
    msix_pba_[v / 64] |= uint64_t{1} << (v % 64);
    ++counters_.msix_pending;
    return;
  }
  ++counters_.msix_sent;
  InterruptRecord r;
  r.kind = InterruptRecord::Kind::kMsi;
  r.vector = v;
  r.address = e[0] | uint64_t(e[1]) << 32;
  r.data = e[2];
  r.isr = isr_;
  emit(r);
}

void MockDevice::deliver_pending_msix() {
  if (!msix_enabled() || msix_function_masked()) return;
  for (uint16_t v = 0; v < config_.msix_vectors; ++v) {
    if (!msix_pending_bit(v) || (msix_table_[4 * size_t{v} + 3] & pci::msix::kEntryMasked))
      continue;
    msix_pba_[v / 64] &= ~(uint64_t{1} << (v % 64));
    send_msi(v);
  }
}

void MockDevice::update_line() {
  // INTx is level: asserted while the ISR is nonzero, unless MSI-X is
  // enabled, the command register disables INTx, or there is no pin.
  const bool level = isr_ != 0 && !msix_enabled() &&
                     (pci_command_ & pci::kCommandIntxDisable) == 0 && config_.interrupt_pin != 0;
  const bool rising = level && !line_;
  line_ = level;
  if (!rising) return;
  ++counters_.intx_asserted;
  InterruptRecord r;
  r.kind = InterruptRecord::Kind::kLine;
  r.isr = isr_;
  emit(r);
}

uint8_t MockDevice::read_isr() {
  ++counters_.isr_reads;
  // 4.1.4.5.2: with MSI-X enabled the driver SHOULD NOT read the ISR on a
  // queue interrupt; the device cannot tell why it reads, so any read while
  // an event is mapped to a vector is taken as one.
  if (msix_enabled() && !lost_state_ && (status_ & st::kDriverOk)) {
    bool mapped = config_vector_ != pci::kMsixNoVector;
    for (uint16_t v : queue_vector_) mapped = mapped || v != pci::kMsixNoVector;
    if (mapped)
      conformance_.report("drv-4.1.4.5.2-1",
                          "ISR status read while MSI-X is enabled and events "
                          "are mapped to vectors");
  }
  const uint8_t v = isr_;
  if (!stuck_isr_) isr_ = 0;
  update_line();
  // interrupt_storm with INTx: the device signals again at once.
  if (storm_left_ > 0 && !msix_enabled() && !in_storm_) {
    --storm_left_;
    ++counters_.spurious_sent;
    signal(spec::interrupt::kConfig, -1);
  }
  return v;
}

uint16_t MockDevice::vector_read(int queue) {
  uint16_t v;
  if (queue < 0) {
    v = config_vector_;
    config_vector_unread_ = false;
  } else if (queue < kMaxQueues) {
    v = queue_vector_[uint16_t(queue)];
    queue_vector_unread_[uint16_t(queue)] = false;
  } else {
    return pci::kMsixNoVector;
  }
  if (vector_lie_queue_ != -2 && vector_lie_queue_ == queue) {
    ++counters_.faults_applied;
    return vector_lie_value_;
  }
  return v;
}

void MockDevice::vector_write(int queue, uint32_t value) {
  uint16_t v = uint16_t(value);
  const std::string what = queue < 0 ? std::string("config_msix_vector")
                                     : "queue_msix_vector of queue " + std::to_string(queue);
  if (!lost_state_) {
    if (v != pci::kMsixNoVector && !msix_enabled())
      conformance_.report("def-4.1.5.1.2-1",
                          what + " set to " + std::to_string(v) + " while MSI-X is disabled");
    if (v != pci::kMsixNoVector && v >= config_.msix_vectors)
      conformance_.report("drv-4.1.5.1.2.2-2",
                          what + " set to " + std::to_string(v) + ", outside the MSI-X table of " +
                              std::to_string(config_.msix_vectors) + " entries");
    const bool unread = queue < 0 ? config_vector_unread_
                                  : (queue < kMaxQueues && queue_vector_unread_[uint16_t(queue)]);
    if (unread)
      conformance_.report("drv-4.1.5.1.2.2-3",
                          what + " written again without reading back the previous mapping");
  }
  // As QEMU: a vector the table does not have maps nothing (read back
  // NO_VECTOR: the mapping failed).
  if (v >= config_.msix_vectors) v = pci::kMsixNoVector;
  if (queue < 0) {
    config_vector_ = v;
    config_vector_unread_ = uint16_t(value) != pci::kMsixNoVector;
  } else if (queue < kMaxQueues) {
    queue_vector_[uint16_t(queue)] = v;
    queue_vector_unread_[uint16_t(queue)] = uint16_t(value) != pci::kMsixNoVector;
  }
}

void MockDevice::check_vectors_at_driver_ok() {
  if (config_vector_unread_)
    conformance_.report("drv-4.1.5.1.2.2-3",
                        "DRIVER_OK set without reading back config_msix_vector");
  config_vector_unread_ = false;
  // The driver relies on every mapped vector from now on: it must be
  // deliverable (MSI-X enabled, function and entry unmasked).
  auto usable = [&](uint16_t v) {
    return msix_enabled() && !msix_function_masked() && v < config_.msix_vectors &&
           (msix_table_[4 * size_t{v} + 3] & pci::msix::kEntryMasked) == 0;
  };
  auto check = [&](uint16_t v, const std::string& what) {
    if (v != pci::kMsixNoVector && !usable(v))
      conformance_.report("def-4.1.5.1.2-2",
                          "DRIVER_OK with " + what + " mapped to vector " + std::to_string(v) +
                              (!msix_enabled()          ? ", but MSI-X is disabled"
                               : msix_function_masked() ? ", but the function is masked"
                                                        : ", whose table entry is masked"));
  };
  check(config_vector_, "config_msix_vector");
  for (uint16_t q = 0; q < kMaxQueues; ++q)
    if (qregs_[q].enabled) check(queue_vector_[q], "queue " + std::to_string(q));
}

uint32_t MockDevice::msix_bar_read(uint32_t offset, uint8_t width) {
  const uint32_t table_end = uint32_t{config_.msix_vectors} * pci::msix::kEntrySize;
  if (offset < table_end) {
    const uint32_t word = msix_table_[offset / 4];
    return (word >> (8 * (offset % 4))) & width_mask(width);
  }
  if (offset >= kMsixPbaOffset && offset < kMsixPbaOffset + msix_pba_.size() * 8) {
    const uint32_t at = offset - kMsixPbaOffset;
    return uint32_t(msix_pba_[at / 8] >> (8 * (at % 8))) & width_mask(width);
  }
  return 0;
}

void MockDevice::msix_bar_write(uint32_t offset, uint8_t width, uint32_t value) {
  const uint32_t table_end = uint32_t{config_.msix_vectors} * pci::msix::kEntrySize;
  if (offset >= table_end) return;  // past the table: the PBA is read-only
  // Entries are written in dwords (PCI 3.0, 6.8.2: DWORD or QWORD accesses);
  // a narrower write changes just its bytes here.
  uint32_t& word = msix_table_[offset / 4];
  const uint32_t shift = 8 * (offset % 4);
  const uint32_t mask = width_mask(width) << shift;
  const uint32_t before = word;
  word = (word & ~mask) | ((value << shift) & mask);
  const uint16_t entry = uint16_t(offset / pci::msix::kEntrySize);
  if ((offset % pci::msix::kEntrySize) / 4 == 3 && (before & pci::msix::kEntryMasked) != 0 &&
      (word & pci::msix::kEntryMasked) == 0 && msix_pending_bit(entry) && msix_enabled() &&
      !msix_function_masked()) {
    msix_pba_[entry / 64] &= ~(uint64_t{1} << (entry % 64));
    send_msi(entry);
  }
}

void MockDevice::interrupt_tick() {
  if (spurious_left_ > 0) {
    --spurious_left_;
    ++counters_.spurious_sent;
    if (msix_enabled()) {
      // A message on the rx vector with no used entry behind it.
      const uint16_t v = queue_vector_[kRxQueue];
      if (v < config_.msix_vectors) send_msi(v);
    } else {
      // Another function pulsing the shared line: this ISR stays 0.
      InterruptRecord r;
      r.kind = InterruptRecord::Kind::kForeignLine;
      r.isr = isr_;
      emit(r);
    }
  }
  if (storm_per_tick_ == 0) return;
  storm_left_ = storm_per_tick_;
  if (msix_enabled()) {
    in_storm_ = true;
    while (storm_left_ > 0) {
      --storm_left_;
      ++counters_.spurious_sent;
      signal(spec::interrupt::kConfig, -1);
    }
    in_storm_ = false;
  } else if (storm_left_ > 0) {
    --storm_left_;
    ++counters_.spurious_sent;
    signal(spec::interrupt::kConfig, -1);  // the rest follow each ISR read
  }
}

}  // namespace vnet::mock
