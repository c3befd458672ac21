// The guest's interrupt helpers that only read PCI config space and
// memory (guest/kernel/msi.cc, guest/kernel/pci_intx.cc), on the host:
// config space comes from a model, MSI-X tables live in host buffers.
//
// What is checked: the MSI message layout; the capability walk stays
// bounded and inside 0x40..0xff whatever the device answers (loops,
// pointers below 0x40, no capability-list bit); an MSI-X table or PBA
// outside a present memory BAR is refused; table entries are written
// masked first and unmasked last; the PBA is read per entry; plain MSI
// lands in the right registers for 32- and 64-bit capabilities; the INTx
// rules for QEMU's pc and q35 against the values QEMU's interrupt router
// uses, and the cases route_of() must refuse.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <vector>

#include "guest/kernel/msi.h"
#include "guest/kernel/paging.h"
#include "guest/kernel/pci.h"
#include "guest/kernel/pci_intx.h"

// ---- the model behind guest::pci and guest::paging ----------------------

namespace {

struct ConfigSpace {
  uint8_t bytes[256];
};
std::map<uint32_t, ConfigSpace> g_config;  // key: bus << 16 | dev << 8 | fn
unsigned g_config_reads = 0;
std::vector<std::pair<uint64_t, uint64_t>> g_mapped;

uint32_t key(guest::pci::Address a) {
  return (uint32_t{a.bus} << 16) | (uint32_t{a.dev} << 8) | a.fn;
}

ConfigSpace& function_at(uint8_t bus, uint8_t dev, uint8_t fn) {
  ConfigSpace& c = g_config[key(guest::pci::Address{bus, dev, fn})];
  return c;
}

void put(ConfigSpace& c, uint32_t off, uint32_t width, uint32_t v) {
  for (uint32_t i = 0; i < width; ++i) c.bytes[off + i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace

namespace guest::pci {
uint32_t config_read(Address a, uint32_t offset, uint8_t width) {
  ++g_config_reads;
  auto it = g_config.find(key(a));
  if (it == g_config.end() || offset + width > kConfigSize) return 0xffffffffu;
  uint32_t v = 0;
  for (uint32_t i = 0; i < width; ++i) v |= uint32_t{it->second.bytes[offset + i]} << (8 * i);
  return v;
}
void config_write(Address a, uint32_t offset, uint8_t width, uint32_t value) {
  auto it = g_config.find(key(a));
  if (it == g_config.end() || offset + width > kConfigSize) return;
  put(it->second, offset, width, value);
}
}  // namespace guest::pci

namespace guest::paging {
bool map_identity(uint64_t addr, uint64_t size, bool) {
  g_mapped.emplace_back(addr, size);
  return true;
}
}  // namespace guest::paging

namespace {

using guest::msi::MsixInfo;

class GuestIrq : public ::testing::Test {
 protected:
  void SetUp() override {
    g_config.clear();
    g_mapped.clear();
    g_config_reads = 0;
  }
};

// A function at 00:03.0 with a capability list starting at `first`.
ConfigSpace& device_with_caps(uint8_t first) {
  ConfigSpace& c = function_at(0, 3, 0);
  std::memset(c.bytes, 0, sizeof(c.bytes));
  put(c, 0x00, 4, 0x10001af4);
  put(c, 0x06, 2, 0x0010);  // status: capability list
  put(c, 0x34, 1, first);
  return c;
}

TEST_F(GuestIrq, MessageIsFixedEdgePhysical) {
  constexpr guest::msi::Message m = guest::msi::compose(0x41, 3);
  EXPECT_EQ(m.address, 0xfee03000u);
  EXPECT_EQ(m.data, 0x41u);
  EXPECT_EQ(guest::msi::compose(0xfe, 0xff).address, 0xfeeff000u);
  EXPECT_EQ(guest::msi::compose(0x30, 0).data & 0xff00u, 0u);  // fixed, edge
}

TEST_F(GuestIrq, CapabilityWalkFindsAndIsBounded) {
  ConfigSpace& c = device_with_caps(0x40);
  put(c, 0x40, 2, 0x5009);  // vendor cap -> 0x50
  put(c, 0x50, 2, 0x6005);  // MSI -> 0x60
  put(c, 0x60, 2, 0x0011);  // MSI-X, end
  const guest::pci::Address a{0, 3, 0};
  EXPECT_EQ(guest::msi::find_capability(a, 0x09), 0x40);
  EXPECT_EQ(guest::msi::find_capability(a, 0x05), 0x50);
  EXPECT_EQ(guest::msi::find_capability(a, 0x11), 0x60);
  EXPECT_EQ(guest::msi::find_capability(a, 0x10), 0);

  // A loop: 0x40 -> 0x50 -> 0x40 ... ends after a bounded number of reads.
  put(c, 0x50, 2, 0x4009);
  g_config_reads = 0;
  EXPECT_EQ(guest::msi::find_capability(a, 0x11), 0);
  EXPECT_LE(g_config_reads, 60u);

  // Pointers into the header, or no capability-list bit: nothing.
  put(c, 0x40, 2, 0x1009);
  EXPECT_EQ(guest::msi::find_capability(a, 0x11), 0);
  put(c, 0x10, 2, 0x0009);  // BAR 0's low bytes look like a capability
  put(c, 0x34, 1, 0x10);
  EXPECT_EQ(guest::msi::find_capability(a, 0x09), 0);
  put(c, 0x34, 1, 0x60);
  put(c, 0x06, 2, 0x0000);
  EXPECT_EQ(guest::msi::find_capability(a, 0x11), 0);
  // The low two bits of a pointer are reserved (masked).
  put(c, 0x06, 2, 0x0010);
  put(c, 0x34, 1, 0x63);
  EXPECT_EQ(guest::msi::find_capability(a, 0x11), 0x60);
}

struct MsixDevice {
  guest::pci::Function f;
  std::vector<uint32_t> bar;  // BAR 1's memory, host-backed
};

// MSI-X capability at 0x98 (as QEMU's virtio-net-pci): `size` vectors,
// table at BAR 1 + table_off, PBA at BAR 1 + pba_off; BAR 1 is 4 KiB.
MsixDevice msix_device(uint16_t size, uint32_t table_off, uint32_t pba_off) {
  MsixDevice d;
  ConfigSpace& c = device_with_caps(0x98);
  put(c, 0x98, 2, 0x0011);
  put(c, 0x9a, 2, static_cast<uint32_t>(size - 1));
  put(c, 0x9c, 4, table_off | 1);
  put(c, 0xa0, 4, pba_off | 1);
  d.bar.assign(4096 / 4, 0);
  d.f.addr = guest::pci::Address{0, 3, 0};
  d.f.bars[1].present = true;
  d.f.bars[1].base = reinterpret_cast<uintptr_t>(d.bar.data());
  d.f.bars[1].size = 4096;
  return d;
}

TEST_F(GuestIrq, MsixProbeChecksTheTableAgainstTheBar) {
  MsixDevice d = msix_device(4, 0x0, 0x800);
  MsixInfo info;
  const char* error = nullptr;
  ASSERT_TRUE(guest::msi::probe_msix(d.f, &info, &error)) << error;
  EXPECT_EQ(info.cap, 0x98);
  EXPECT_EQ(info.table_size, 4);
  EXPECT_EQ(info.table_bar, 1);
  EXPECT_EQ(info.pba_offset, 0x800u);
  EXPECT_EQ(info.table_address, d.f.bars[1].base);
  EXPECT_EQ(info.pba_address, d.f.bars[1].base + 0x800);

  // 2048 entries of 16 bytes do not fit a 4 KiB BAR.
  d = msix_device(2048, 0x0, 0x800);
  EXPECT_FALSE(guest::msi::probe_msix(d.f, &info, &error));
  EXPECT_STREQ(error, "table outside a present memory BAR");
  // The PBA past the end of the BAR.
  d = msix_device(4, 0x0, 0xffc);
  EXPECT_FALSE(guest::msi::probe_msix(d.f, &info, &error));
  EXPECT_STREQ(error, "PBA outside a present memory BAR");
  // A BIR of 6 or 7, an absent BAR, an I/O BAR.
  d = msix_device(4, 0x0, 0x800);
  put(function_at(0, 3, 0), 0x9c, 4, 0x7);
  EXPECT_FALSE(guest::msi::probe_msix(d.f, &info, &error));
  d = msix_device(4, 0x0, 0x800);
  d.f.bars[1].present = false;
  EXPECT_FALSE(guest::msi::probe_msix(d.f, &info, &error));
  d = msix_device(4, 0x0, 0x800);
  d.f.bars[1].is_io = true;
  EXPECT_FALSE(guest::msi::probe_msix(d.f, &info, &error));
  // No capability at all.
  device_with_caps(0);
  EXPECT_FALSE(guest::msi::probe_msix(d.f, &info, &error));
  EXPECT_STREQ(error, "none");
}

TEST_F(GuestIrq, MsixEntriesControlAndPending) {
  MsixDevice d = msix_device(4, 0x0, 0x800);
  MsixInfo info;
  const char* error = nullptr;
  ASSERT_TRUE(guest::msi::probe_msix(d.f, &info, &error));
  ASSERT_TRUE(guest::msi::map_table(info));
  EXPECT_EQ(g_mapped.size(), 2u);

  const guest::msi::Message m = guest::msi::compose(0x42, 0);
  ASSERT_TRUE(guest::msi::write_entry(info, 2, m, false));
  EXPECT_EQ(d.bar[2 * 4 + 0], 0xfee00000u);
  EXPECT_EQ(d.bar[2 * 4 + 1], 0u);
  EXPECT_EQ(d.bar[2 * 4 + 2], 0x42u);
  EXPECT_EQ(d.bar[2 * 4 + 3] & 1u, 0u);  // unmasked
  bool masked = false;
  guest::msi::Message back = guest::msi::read_entry(info, 2, &masked);
  EXPECT_EQ(back.address, m.address);
  EXPECT_EQ(back.data, m.data);
  EXPECT_FALSE(masked);
  ASSERT_TRUE(guest::msi::write_entry(info, 1, m, true));
  EXPECT_EQ(d.bar[1 * 4 + 3] & 1u, 1u);
  ASSERT_TRUE(guest::msi::mask_entry(info, 1, false));
  EXPECT_EQ(d.bar[1 * 4 + 3] & 1u, 0u);
  EXPECT_FALSE(guest::msi::write_entry(info, 4, m, false));  // past the table
  EXPECT_FALSE(guest::msi::mask_entry(info, 4, true));

  d.bar[0x800 / 4] = 1u << 3;
  EXPECT_TRUE(guest::msi::pending(info, 3));
  EXPECT_FALSE(guest::msi::pending(info, 2));
  EXPECT_FALSE(guest::msi::pending(info, 4));

  const guest::pci::Address a = d.f.addr;
  guest::msi::set_msix(a, info, true, true);
  EXPECT_EQ(guest::pci::config_read(a, 0x9a, 2), 0xc003u);  // enable, function mask, size 4
  guest::msi::set_msix(a, info, true, false);
  EXPECT_EQ(guest::pci::config_read(a, 0x9a, 2), 0x8003u);
  EXPECT_TRUE(guest::msi::msix_enabled(a, info));
  guest::msi::set_msix(a, info, false, false);
  EXPECT_FALSE(guest::msi::msix_enabled(a, info));
}

TEST_F(GuestIrq, PlainMsi32And64) {
  ConfigSpace& c = device_with_caps(0x50);
  const guest::pci::Address a{0, 3, 0};
  put(c, 0x50, 2, 0x0005);
  put(c, 0x52, 2, 0x0080);  // 64-bit capable, disabled
  ASSERT_TRUE(guest::msi::program_msi(a, guest::msi::compose(0x33, 1)));
  EXPECT_EQ(guest::pci::config_read(a, 0x54, 4), 0xfee01000u);
  EXPECT_EQ(guest::pci::config_read(a, 0x58, 4), 0u);
  EXPECT_EQ(guest::pci::config_read(a, 0x5c, 2), 0x33u);
  ASSERT_TRUE(guest::msi::set_msi(a, true));
  EXPECT_EQ(guest::pci::config_read(a, 0x52, 2) & 1u, 1u);

  put(c, 0x52, 2, 0x0000);  // 32-bit: data at +8
  put(c, 0x5c, 2, 0);
  ASSERT_TRUE(guest::msi::program_msi(a, guest::msi::compose(0x34, 0)));
  EXPECT_EQ(guest::pci::config_read(a, 0x54, 4), 0xfee00000u);
  EXPECT_EQ(guest::pci::config_read(a, 0x58, 2), 0x34u);
  EXPECT_EQ(guest::pci::config_read(a, 0x5c, 2), 0u);

  device_with_caps(0);
  EXPECT_FALSE(guest::msi::program_msi(a, guest::msi::compose(0x34, 0)));
  EXPECT_FALSE(guest::msi::set_msi(a, true));
}

// ---- INTx routes --------------------------------------------------------

void make_pc() {
  put(function_at(0, 0, 0), 0, 4, 0x12378086);  // i440FX
  ConfigSpace& piix = function_at(0, 1, 0);
  put(piix, 0, 4, 0x70008086);  // PIIX3
  // SeaBIOS: PIRQA..D -> 10, 10, 11, 11.
  put(piix, 0x60, 4, 0x0b0b0a0a);
}

void make_q35() {
  put(function_at(0, 0, 0), 0, 4, 0x29c08086);   // Q35 MCH
  put(function_at(0, 31, 0), 0, 4, 0x29188086);  // ICH9 LPC
}

guest::pci::Function function_with_pin(uint8_t bus, uint8_t dev, uint8_t pin, uint8_t line,
                                       uint8_t fn = 0) {
  ConfigSpace& c = function_at(bus, dev, fn);
  put(c, 0x00, 4, 0x11e81234);
  put(c, 0x3c, 1, line);
  put(c, 0x3d, 1, pin);
  guest::pci::Function f;
  f.addr = guest::pci::Address{bus, dev, fn};
  return f;
}

TEST_F(GuestIrq, PcRoutesThroughThePiix3Registers) {
  make_pc();
  EXPECT_EQ(guest::pci_intx::detect(), guest::pci_intx::Chipset::kI440fx);
  // QEMU (hw/isa/piix3.c): PIRQ = (slot - 1 + pin - 1) & 3.
  for (uint8_t slot = 2; slot < 32; ++slot) {
    for (uint8_t pin = 1; pin <= 4; ++pin) {
      guest::pci::Function f = function_with_pin(0, slot, pin, 0);
      guest::pci_intx::Route r;
      ASSERT_TRUE(guest::pci_intx::route_of(f, &r)) << r.error;
      const unsigned pirq = (slot - 1u + pin - 1u) & 3u;
      EXPECT_EQ(r.pirq, pirq);
      EXPECT_EQ(r.gsi, pirq < 2 ? 10u : 11u) << "slot " << int(slot) << " pin " << int(pin);
      EXPECT_EQ(r.trigger, guest::ioapic::Trigger::kLevel);
      EXPECT_EQ(r.polarity, guest::ioapic::Polarity::kActiveHigh);
    }
  }
  // The router's own setting counts, not the function's config 0x3c.
  put(function_at(0, 1, 0), 0x61, 1, 5);
  guest::pci::Function f = function_with_pin(0, 2, 1, 10);  // slot 2 INTA -> PIRQB
  guest::pci_intx::Route r;
  ASSERT_TRUE(guest::pci_intx::route_of(f, &r));
  EXPECT_EQ(r.gsi, 5u);
  // Routing disabled, or to a reserved IRQ.
  put(function_at(0, 1, 0), 0x61, 1, 0x80);
  EXPECT_FALSE(guest::pci_intx::route_of(f, &r));
  put(function_at(0, 1, 0), 0x61, 1, 0x02);
  EXPECT_FALSE(guest::pci_intx::route_of(f, &r));
  // The PIIX's own functions (slot 1: the ACPI SCI is IRQ 9), no pin, a
  // pin above 4, behind a bridge.
  f = function_with_pin(0, 1, 1, 9, 3);
  EXPECT_FALSE(guest::pci_intx::route_of(f, &r));
  f = function_with_pin(0, 5, 0, 0xff);
  EXPECT_FALSE(guest::pci_intx::route_of(f, &r));
  EXPECT_STREQ(r.error, "no interrupt pin");
  f = function_with_pin(0, 5, 5, 0xff);
  EXPECT_FALSE(guest::pci_intx::route_of(f, &r));
  f = function_with_pin(1, 0, 1, 10);
  EXPECT_FALSE(guest::pci_intx::route_of(f, &r));
}

TEST_F(GuestIrq, Q35RoutesToGsi16PlusPirq) {
  make_q35();
  EXPECT_EQ(guest::pci_intx::detect(), guest::pci_intx::Chipset::kQ35);
  // QEMU (hw/isa/lpc_ich9.c, ich9_cc_init): PIRQ = (slot + intx) % 4 + 4
  // for slots 0..24; GSI = 16 + PIRQ (ich9_pirq_to_gsi). (Slot 0 is the
  // host bridge's own, whose identity the model must keep.)
  for (uint8_t slot = 1; slot <= 24; ++slot) {
    for (uint8_t pin = 1; pin <= 4; ++pin) {
      guest::pci::Function f = function_with_pin(0, slot, pin, 10);
      guest::pci_intx::Route r;
      ASSERT_TRUE(guest::pci_intx::route_of(f, &r)) << r.error;
      const unsigned pirq = (slot + pin - 1u) % 4u + 4u;
      EXPECT_EQ(r.pirq, pirq);
      EXPECT_EQ(r.gsi, 16u + pirq);
      EXPECT_EQ(r.line, 10u);  // reported, not used
    }
  }
  guest::pci_intx::Route r;
  guest::pci::Function f = function_with_pin(0, 25, 1, 10);
  EXPECT_FALSE(guest::pci_intx::route_of(f, &r));
  f = function_with_pin(2, 0, 1, 10);
  EXPECT_FALSE(guest::pci_intx::route_of(f, &r));
}

TEST_F(GuestIrq, UnknownChipsetFallsBackToTheFirmwareLine) {
  put(function_at(0, 0, 0), 0, 4, 0x01238086);
  guest::pci::Function f = function_with_pin(0, 4, 1, 11);
  guest::pci_intx::Route r;
  ASSERT_TRUE(guest::pci_intx::route_of(f, &r));
  EXPECT_EQ(r.chipset, guest::pci_intx::Chipset::kUnknown);
  EXPECT_EQ(r.gsi, 11u);
  EXPECT_EQ(r.polarity, guest::ioapic::Polarity::kActiveLow);
  f = function_with_pin(0, 4, 1, 0xff);
  EXPECT_FALSE(guest::pci_intx::route_of(f, &r));
}

TEST_F(GuestIrq, IntxDisableAndStatusBits) {
  guest::pci::Function f = function_with_pin(0, 4, 1, 11);
  put(function_at(0, 4, 0), 0x04, 2, 0x0007);
  guest::pci_intx::set_disabled(f.addr, true);
  EXPECT_EQ(guest::pci::config_read(f.addr, 0x04, 2), 0x0407u);
  guest::pci_intx::set_disabled(f.addr, false);
  EXPECT_EQ(guest::pci::config_read(f.addr, 0x04, 2), 0x0007u);
  EXPECT_FALSE(guest::pci_intx::asserted(f.addr));
  put(function_at(0, 4, 0), 0x06, 2, 0x0008);
  EXPECT_TRUE(guest::pci_intx::asserted(f.addr));
}

}  // namespace
