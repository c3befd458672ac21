#include "guest/kernel/pci_intx.h"

namespace guest::pci_intx {
namespace {

constexpr uint32_t kInterruptLine = 0x3c;
constexpr uint32_t kInterruptPin = 0x3d;
constexpr uint32_t kPiixPirqRoute = 0x60;  // PIRQRC[A..D]
constexpr uint8_t kPirqDisabled = 0x80;
constexpr uint32_t kIch9FirstGsi = 16;
constexpr uint32_t kCommand = 0x04;
constexpr uint32_t kStatus = 0x06;
constexpr uint32_t kCommandIntxDisable = 1u << 10;
constexpr uint32_t kStatusInterrupt = 1u << 3;
constexpr uint8_t kQ35LastRoutedSlot = 24;
constexpr uint8_t kPiixSlot = 1;

uint32_t id_at(uint8_t dev, uint8_t fn) {
  return pci::config_read(pci::Address{0, dev, fn}, 0x00, 4);
}

}  // namespace

Chipset detect() {
  const uint32_t host = id_at(0, 0);
  if (host == 0x12378086u && id_at(1, 0) == 0x70008086u) return Chipset::kI440fx;
  if (host == 0x29c08086u && id_at(31, 0) == 0x29188086u) return Chipset::kQ35;
  return Chipset::kUnknown;
}

const char* chipset_name(Chipset c) {
  switch (c) {
    case Chipset::kI440fx:
      return "i440fx/piix3";
    case Chipset::kQ35:
      return "q35/ich9";
    default:
      return "unknown";
  }
}

bool route_of(const pci::Function& f, Route* out) {
  Route r;
  r.chipset = detect();
  r.pin = static_cast<uint8_t>(pci::config_read(f.addr, kInterruptPin, 1));
  r.line = static_cast<uint8_t>(pci::config_read(f.addr, kInterruptLine, 1));
  *out = r;
  if (r.pin < 1 || r.pin > 4) {
    out->error = "no interrupt pin";
    return false;
  }
  if (f.addr.bus != 0 && r.chipset != Chipset::kUnknown) {
    out->error = "behind a PCI bridge (swizzle not implemented)";
    return false;
  }
  const unsigned slot = f.addr.dev;
  const unsigned pin0 = r.pin - 1u;
  switch (r.chipset) {
    case Chipset::kI440fx: {
      if (slot == kPiixSlot) {
        out->error = "PIIX3/PIIX4 function (the ACPI SCI is hardwired to IRQ 9)";
        return false;
      }
      out->pirq = static_cast<uint8_t>((slot + 3u + pin0) & 3u);  // (slot - 1 + pin0) mod 4
      const uint8_t rout = static_cast<uint8_t>(
          pci::config_read(pci::Address{0, 1, 0}, kPiixPirqRoute + out->pirq, 1));
      if (rout & kPirqDisabled) {
        out->error = "PIIX3 routing of the function's PIRQ is disabled";
        return false;
      }
      out->gsi = rout & 0x0f;
      if (out->gsi == 0 || out->gsi == 2) {
        out->error = "PIIX3 routes the function's PIRQ to a reserved IRQ";
        return false;
      }
      return true;
    }
    case Chipset::kQ35:
      if (slot > kQ35LastRoutedSlot) {
        out->error = "q35 slots 25..31 are routed by D25IR..D31IR (not implemented)";
        return false;
      }
      out->pirq = static_cast<uint8_t>(4u + (slot + pin0) % 4u);
      out->gsi = kIch9FirstGsi + out->pirq;
      return true;
    default:
      // No rule known: the firmware's word, an ISA IRQ taken as the GSI,
      // with the PCI convention (level, active-low).
      if (r.line == 0 || r.line >= 16) {
        out->error = "unknown chipset and no interrupt line from the firmware";
        return false;
      }
      out->gsi = r.line;
      out->polarity = ioapic::Polarity::kActiveLow;
      return true;
  }
}

void set_disabled(pci::Address a, bool disabled) {
  const uint32_t cmd = pci::config_read(a, kCommand, 2);
  pci::config_write(a, kCommand, 2,
                    disabled ? (cmd | kCommandIntxDisable) : (cmd & ~kCommandIntxDisable));
}

bool asserted(pci::Address a) {
  return (pci::config_read(a, kStatus, 2) & kStatusInterrupt) != 0;
}

}  // namespace guest::pci_intx
