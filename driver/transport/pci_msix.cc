#include "driver/transport/pci_msix.h"

#include "driver/spec/pci_layout.h"

namespace vnet {

namespace pci = spec::pci;
namespace mx = spec::pci::msix;

namespace {

// As the vendor-capability walk (pci_modern.cc): 48 capabilities fill the
// 192 bytes after the standard header.
constexpr int kMaxCapabilities = 48;
// Register offsets are 32 bits: a structure must end at or below 4 GiB.
constexpr uint64_t kOffsetLimit = uint64_t{1} << 32;

uint8_t cfg8(Platform& p, uint32_t off) {
  return static_cast<uint8_t>(p.reg_read(Region::kPciConfig, off, 1));
}
uint16_t cfg16(Platform& p, uint32_t off) {
  return static_cast<uint16_t>(p.reg_read(Region::kPciConfig, off, 2));
}

bool overlaps(uint8_t bar, uint64_t offset, uint64_t length, const BarRange& r) {
  return bar == r.bar && offset < r.offset + r.length && r.offset < offset + length;
}

// [offset, offset + length) of BAR bar: a present memory BAR that holds it,
// below 4 GiB, clear of every window of the transport's own.
bool usable(Platform& p, uint8_t bar, uint64_t offset, uint64_t length, const BarRange* own,
            uint8_t num_own) {
  if (bar >= kNumBars) return false;
  const BarInfo info = p.bar_info(bar);
  const uint64_t end = offset + length;  // 64 bits: cannot wrap
  if (!info.present || info.is_io || end > info.size || end > kOffsetLimit) return false;
  for (uint8_t i = 0; i < num_own; ++i)
    if (overlaps(bar, offset, length, own[i])) return false;
  return true;
}

}  // namespace

const char* msix_fallback_name(MsixFallback f) {
  switch (f) {
    case MsixFallback::kNone:
      return "none";
    case MsixFallback::kNoPlatformVectors:
      return "the platform delivers no MSI";
    case MsixFallback::kNoCapability:
      return "no MSI-X capability";
    case MsixFallback::kBadTable:
      return "MSI-X table outside a usable memory BAR";
    case MsixFallback::kBadPba:
      return "MSI-X PBA outside a usable memory BAR";
    case MsixFallback::kLegacyWindow:
      return "legacy BAR too short for the MSI-X registers and device configuration";
    case MsixFallback::kEnableRefused:
      return "MSI-X enable bit did not stick";
    case MsixFallback::kConfigVectorRefused:
      return "config_msix_vector read back NO_VECTOR";
    case MsixFallback::kConfigVectorWrong:
      return "config_msix_vector read back another vector";
    case MsixFallback::kQueueVectorRefused:
      return "queue_msix_vector read back NO_VECTOR";
    case MsixFallback::kQueueVectorWrong:
      return "queue_msix_vector read back another vector";
  }
  return "?";
}

MsixFallback find_msix(Platform& p, const BarRange* own, uint8_t num_own, MsixCapability* out) {
  *out = MsixCapability{};
  if ((cfg16(p, pci::kStatus) & pci::kStatusCapList) == 0) return MsixFallback::kNoCapability;
  uint32_t ptr = cfg8(p, pci::kCapabilitiesPtr) & 0xFCu;
  uint32_t found = 0;
  for (int n = 0; n < kMaxCapabilities && ptr != 0; ++n) {
    // After the standard header, and the whole capability inside config space.
    if (ptr < 0x40 || ptr + mx::kCapLen > pci::kConfigSpaceSize) break;
    if (cfg8(p, ptr) == pci::kCapIdMsix) {
      found = ptr;
      break;
    }
    ptr = cfg8(p, ptr + 1) & 0xFCu;
  }
  if (found == 0) return MsixFallback::kNoCapability;
  MsixCapability c;
  c.cap = static_cast<uint8_t>(found);
  // 1 .. 2048 by construction: the field is 11 bits.
  c.table_size = static_cast<uint16_t>((cfg16(p, found + mx::kControl) & mx::kTableSizeMask) + 1);
  const uint32_t table = p.reg_read(Region::kPciConfig, found + mx::kTable, 4);
  const uint32_t pba = p.reg_read(Region::kPciConfig, found + mx::kPba, 4);
  c.table_bar = static_cast<uint8_t>(table & mx::kBirMask);
  c.table_offset = table & ~mx::kBirMask;
  c.pba_bar = static_cast<uint8_t>(pba & mx::kBirMask);
  c.pba_offset = pba & ~mx::kBirMask;
  if (!usable(p, c.table_bar, c.table_offset, uint64_t{c.table_size} * mx::kEntrySize, own,
              num_own))
    return MsixFallback::kBadTable;
  if (!usable(p, c.pba_bar, c.pba_offset, mx::pba_bytes(c.table_size), own, num_own))
    return MsixFallback::kBadPba;
  *out = c;
  return MsixFallback::kNone;
}

void PciInterrupts::write_control(uint16_t control) {
  platform_->reg_write(Region::kPciConfig, cap_.cap + mx::kControl, 2, control);
}

void PciInterrupts::disable_msix() {
  if (!msix_enabled_ || cap_.cap == 0) return;
  const uint16_t control = cfg16(*platform_, cap_.cap + mx::kControl);
  write_control(static_cast<uint16_t>(control & ~(mx::kEnable | mx::kFunctionMask)));
  msix_enabled_ = false;
}

void PciInterrupts::enable_intx() {
  // PCI command bit 10 (Interrupt Disable) clear: the function may assert
  // its line. Written only when it is set.
  const uint16_t command = cfg16(*platform_, pci::kCommand);
  if ((command & pci::kCommandIntxDisable) != 0)
    platform_->reg_write(Region::kPciConfig, pci::kCommand, 2,
                         static_cast<uint16_t>(command & ~pci::kCommandIntxDisable));
}

MsixFallback PciInterrupts::try_msix(const InterruptRequest& req, MsixVectorRegs& regs,
                                     const BarRange* own, uint8_t num_own, InterruptSetup* out) {
  Platform& p = *platform_;
  MsixCapability cap;
  const MsixFallback found = find_msix(p, own, num_own, &cap);
  if (found != MsixFallback::kNone) return found;
  out->table_size = cap.table_size;
  cap_ = cap;

  const uint16_t queues =
      req.num_queues < kMaxInterruptQueues ? req.num_queues : kMaxInterruptQueues;
  // 4.1.5.1.2.2: never a vector outside the device's table.
  uint16_t want = static_cast<uint16_t>(1 + queues);
  if (want > cap.table_size) want = cap.table_size;
  MsiMessage messages[kMaxMsiVectors];
  uint16_t n = p.msi_messages(want, messages);
  if (n > want) n = want;  // the platform's answer is trusted, its bound is not assumed
  if (n == 0) return MsixFallback::kNoPlatformVectors;

  // Enabled with the function masked: no entry can fire while half written.
  const uint16_t control = cfg16(p, cap.cap + mx::kControl);
  const uint16_t base = static_cast<uint16_t>(control & ~(mx::kEnable | mx::kFunctionMask));
  write_control(static_cast<uint16_t>(base | mx::kEnable | mx::kFunctionMask));
  msix_enabled_ = true;
  if ((cfg16(p, cap.cap + mx::kControl) & mx::kEnable) == 0) {
    disable_msix();
    return MsixFallback::kEnableRefused;
  }
  const Region table = bar_region(cap.table_bar);
  for (uint16_t i = 0; i < n; ++i) {
    // The entry masked while its message changes (PCI 3.0, 6.8.3.5).
    const uint32_t e = cap.table_offset + uint32_t{i} * mx::kEntrySize;
    p.reg_write(table, e + mx::kEntryControl, 4, mx::kEntryMasked);
    p.reg_write(table, e + mx::kEntryAddrLo, 4, static_cast<uint32_t>(messages[i].address));
    p.reg_write(table, e + mx::kEntryAddrHi, 4, static_cast<uint32_t>(messages[i].address >> 32));
    p.reg_write(table, e + mx::kEntryData, 4, messages[i].data);
    p.reg_write(table, e + mx::kEntryControl, 4, 0);
  }
  write_control(static_cast<uint16_t>(base | mx::kEnable));

  // Which vector serves what (transport.h).
  out->vectors = n;
  out->config_vector = 0;
  for (uint16_t q = 0; q < queues; ++q)
    out->queue_vector[q] = n >= 1 + queues ? static_cast<uint16_t>(1 + q) : (n >= 2 ? 1 : 0);

  // 4.1.5.1.2.2: "After mapping an event to vector, the driver MUST verify
  // success by reading the Vector field value: on success, the previously
  // written value is returned, and on failure, NO_VECTOR is returned."
  // Any other answer is a lie; either way MSI-X is not used.
  MsixFallback error = MsixFallback::kNone;
  bool config_written = true;
  uint16_t queues_written = 0;
  uint16_t got = regs.set_config_vector(out->config_vector);
  if (got != out->config_vector) {
    error =
        got == kNoVector ? MsixFallback::kConfigVectorRefused : MsixFallback::kConfigVectorWrong;
    out->read_back = got;
  }
  for (uint16_t q = 0; q < queues && error == MsixFallback::kNone; ++q) {
    got = regs.set_queue_vector(q, out->queue_vector[q]);
    ++queues_written;
    if (got != out->queue_vector[q]) {
      error =
          got == kNoVector ? MsixFallback::kQueueVectorRefused : MsixFallback::kQueueVectorWrong;
      out->failed_queue = q;
      out->read_back = got;
    }
  }
  if (error == MsixFallback::kNone) return error;

  // Undo: every event unmapped again (the queues are not enabled yet, so
  // their vector fields may still be written), then MSI-X off.
  if (config_written) (void)regs.set_config_vector(kNoVector);
  for (uint16_t q = 0; q < queues_written; ++q) (void)regs.set_queue_vector(q, kNoVector);
  disable_msix();
  out->vectors = 0;
  out->config_vector = kNoVector;
  for (uint16_t& v : out->queue_vector) v = kNoVector;
  return error;
}

InterruptSetup PciInterrupts::setup(const InterruptRequest& req, MsixVectorRegs& regs,
                                    const BarRange* own, uint8_t num_own, MsixFallback precheck) {
  InterruptSetup out;
  InterruptMode rung = req.mode;
  if (rung == InterruptMode::kMsix) {
    out.msix_fallback =
        precheck != MsixFallback::kNone ? precheck : try_msix(req, regs, own, num_own, &out);
    if (out.msix_fallback == MsixFallback::kNone) {
      out.mode = InterruptMode::kMsix;
      return out;
    }
    rung = InterruptMode::kIntx;
  }
  // Not MSI-X (any more): a table this transport enabled earlier (a
  // previous attach) is switched off, so the function uses INTx and the
  // legacy device configuration is back at 0x14.
  disable_msix();
  if (rung == InterruptMode::kIntx && platform_->line_interrupt()) {
    enable_intx();
    out.mode = InterruptMode::kIntx;
    return out;
  }
  out.mode = InterruptMode::kPolling;
  return out;
}

void PciInterrupts::teardown() {
  disable_msix();
}

}  // namespace vnet
