// The guest's virtio-mmio window discovery (guest/kernel/virtio_mmio.cc)
// on the host: the command-line entries QEMU's microvm appends, Linux's
// format around them, and the slot probe against a model of QEMU's slots.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>

#include "guest/kernel/virtio_mmio.h"

namespace vm = guest::virtio_mmio;

namespace {

vm::Window parse_one(const std::string& value, vm::EntryError* error) {
  vm::Window w;
  *error = vm::parse_entry(value.data(), value.size(), &w);
  return w;
}

TEST(GuestMmioCmdline, QemuMicrovmEntry) {
  // What QEMU 7.2 appends on -M microvm,acpi=off with one virtio-net-device.
  const char* cmdline = "action=serve irq=intx virtio_mmio.device=512@0xfeb00e00:12";
  vm::Window w[4];
  vm::CmdlineReport r;
  ASSERT_EQ(vm::parse_cmdline(cmdline, w, 4, &r), 1u);
  EXPECT_EQ(w[0].base, 0xfeb00e00u);
  EXPECT_EQ(w[0].size, 512u);
  EXPECT_EQ(w[0].irq, 12u);
  EXPECT_EQ(w[0].source, vm::Source::kCmdline);
  EXPECT_EQ(r.entries, 1u);
  EXPECT_EQ(r.rejected, 0u);
}

TEST(GuestMmioCmdline, SeveralEntriesInOrderWithSuffixesAndIds) {
  const char* cmdline =
      "virtio_mmio.device=4K@0x10000000:5:3 log=debug virtio_mmio.device=512@4273999360:40  "
      "virtio_mmio.device=1M@0x20000000:7";
  vm::Window w[4];
  vm::CmdlineReport r;
  ASSERT_EQ(vm::parse_cmdline(cmdline, w, 4, &r), 3u);
  EXPECT_EQ(w[0].base, 0x10000000u);
  EXPECT_EQ(w[0].size, 4096u);
  EXPECT_EQ(w[0].irq, 5u);
  EXPECT_EQ(w[1].base, 4273999360u);  // decimal
  EXPECT_EQ(w[1].irq, 40u);
  EXPECT_EQ(w[2].size, uint64_t{1} << 20);
  EXPECT_EQ(r.rejected, 0u);
}

TEST(GuestMmioCmdline, OnlyWholeKeysCount) {
  const char* cmdline =
      "xvirtio_mmio.device=512@0xfeb00000:5 virtio_mmio.devices=512@0xfeb00000:5 "
      "virtio_mmio.device 512@0xfeb00000:5";
  vm::Window w[2];
  vm::CmdlineReport r;
  EXPECT_EQ(vm::parse_cmdline(cmdline, w, 2, &r), 0u);
  EXPECT_EQ(r.entries, 0u);
}

TEST(GuestMmioCmdline, MalformedEntriesAreRefusedWithTheirReason) {
  struct Case {
    const char* value;
    vm::EntryError want;
  } cases[] = {
      {"512@0xfeb00e01:12", vm::EntryError::kAlignment},
      {"512@0xfeb00e02:12", vm::EntryError::kAlignment},
      {"16@0xfeb00e00:12", vm::EntryError::kSize},  // below the register file
      {"255@0xfeb00e00:12", vm::EntryError::kSize},
      {"2M@0xfeb00e00:12", vm::EntryError::kSize},                  // beyond kMaxWindow
      {"99999999999999999999G@0x1000:1", vm::EntryError::kSyntax},  // overflow
      {"512@:12", vm::EntryError::kSyntax},
      {"512@0xfeb00e00", vm::EntryError::kSyntax},
      {"512@0xfeb00e00:", vm::EntryError::kSyntax},
      {"512@0xfeb00e00:12:", vm::EntryError::kSyntax},
      {"512@0xfeb00e00:12x", vm::EntryError::kSyntax},
      {"512@0xfeb00e00:4294967295", vm::EntryError::kSyntax},  // kNoIrq is no line
      {"512x0xfeb00e00:12", vm::EntryError::kSyntax},
      {"0x@0xfeb00e00:12", vm::EntryError::kSyntax},
      {"", vm::EntryError::kSyntax},
      {"512@0:12", vm::EntryError::kRange},
      {"512@0xfffffffffe00:12", vm::EntryError::kOk},  // ends exactly at 2^48
      {"512@0xfffffffffe04:12", vm::EntryError::kRange},
      {"512@0xffffffffffffff00:12", vm::EntryError::kRange},
  };
  for (const Case& c : cases) {
    vm::EntryError e;
    parse_one(c.value, &e);
    EXPECT_EQ(e, c.want) << c.value << ": " << vm::entry_error_name(e);
  }
}

TEST(GuestMmioCmdline, RejectedEntriesAreReportedAndTheRestTaken) {
  const char* cmdline =
      "virtio_mmio.device=512@0xfeb00e01:12 virtio_mmio.device=512@0xfeb00c00:11 "
      "virtio_mmio.device=bogus";
  vm::Window w[4];
  vm::CmdlineReport r;
  ASSERT_EQ(vm::parse_cmdline(cmdline, w, 4, &r), 1u);
  EXPECT_EQ(w[0].base, 0xfeb00c00u);
  EXPECT_EQ(r.entries, 3u);
  EXPECT_EQ(r.rejected, 2u);
  EXPECT_EQ(r.first_error, vm::EntryError::kAlignment);
  EXPECT_STREQ(r.first_rejected, "512@0xfeb00e01:12");
}

TEST(GuestMmioCmdline, NeverMoreThanTheCallerHasRoomFor) {
  std::string cmdline;
  for (int i = 0; i < 10; ++i)
    cmdline += " virtio_mmio.device=512@" + std::to_string(0xfeb00000u + 512u * i) + ":5";
  vm::Window w[3];
  vm::CmdlineReport r;
  EXPECT_EQ(vm::parse_cmdline(cmdline.c_str(), w, 3, &r), 3u);
  EXPECT_EQ(r.entries, 10u);
  EXPECT_EQ(r.rejected, 7u);
  EXPECT_EQ(r.first_error, vm::EntryError::kTooMany);
  EXPECT_EQ(vm::parse_cmdline(cmdline.c_str(), w, 0, &r), 0u);
}

// ---- QEMU's slots -------------------------------------------------------

TEST(GuestMmioSlots, LayoutFollowsQemusWiring) {
  vm::SlotLayout l = vm::slot_layout(false, false);
  EXPECT_EQ(l.slots, 8u);
  EXPECT_EQ(l.gsi_base, 5u);
  l = vm::slot_layout(false, true);  // no ACPI: QEMU has no second I/O APIC
  EXPECT_EQ(l.gsi_base, 5u);
  l = vm::slot_layout(true, true);
  EXPECT_EQ(l.slots, 24u);
  EXPECT_EQ(l.gsi_base, 24u);
  l = vm::slot_layout(true, false);
  EXPECT_EQ(l.slots, 8u);
  EXPECT_EQ(l.gsi_base, 16u);
}

// QEMU's slots: every one answers the magic value; DeviceID 0 when empty.
struct Slots {
  std::map<uint64_t, uint32_t> regs;
  unsigned reads = 0;
  uint64_t highest = 0;
  std::map<uint64_t, unsigned> reads_at;
  void slot(unsigned i, uint32_t magic, uint32_t version, uint32_t device) {
    const uint64_t base = vm::kSlotBase + vm::kSlotSize * i;
    regs[base + 0] = magic;
    regs[base + 4] = version;
    regs[base + 8] = device;
    regs[base + 12] = 0x554d4551;  // "QEMU"
  }
  static uint32_t read(void* context, uint64_t address) {
    Slots& s = *static_cast<Slots*>(context);
    ++s.reads;
    ++s.reads_at[address];
    if (address > s.highest) s.highest = address;
    auto it = s.regs.find(address);
    return it == s.regs.end() ? 0 : it->second;
  }
};

TEST(GuestMmioSlots, ProbeFindsDevicesWithTheirLines) {
  Slots s;
  for (unsigned i = 0; i < 24; ++i) s.slot(i, vm::kMagic, 1, 0);
  s.slot(23, vm::kMagic, 1, vm::kDeviceNet);  // where QEMU puts the first device
  s.slot(3, vm::kMagic, 2, 2);                // a block device
  s.slot(5, 0x12345678, 2, vm::kDeviceNet);   // not virtio
  s.slot(6, vm::kMagic, 3, vm::kDeviceNet);   // a version this driver does not know
  vm::Window w[4];
  uint32_t empty = 0;
  ASSERT_EQ(vm::probe_slots(vm::slot_layout(true, true), &Slots::read, &s, w, 4, &empty), 2u);
  EXPECT_EQ(w[0].base, vm::kSlotBase + 3 * 512);
  EXPECT_EQ(w[0].irq, 27u);
  EXPECT_EQ(w[1].base, 0xfeb02e00u);
  EXPECT_EQ(w[1].irq, 47u);
  EXPECT_EQ(w[1].size, 512u);
  EXPECT_EQ(w[1].source, vm::Source::kProbe);
  EXPECT_EQ(empty, 20u);
  vm::Identity id = vm::identify(w[1], &Slots::read, &s);
  EXPECT_TRUE(id.is_net());
  EXPECT_EQ(id.version, 1u);
  EXPECT_EQ(id.vendor_id, 0x554d4551u);
  EXPECT_FALSE(vm::identify(w[0], &Slots::read, &s).is_net());
}

// 4.2.3.1.1: magic and version first, DeviceID only when both are valid,
// and nothing more of a placeholder slot (DeviceID 0).
TEST(GuestMmioSlots, IdentifyReadsInTheSpecsOrderAndNoFurther) {
  Slots s;
  s.slot(0, vm::kMagic, 1, 0);               // placeholder
  s.slot(1, 0x12345678, 1, vm::kDeviceNet);  // bad magic
  s.slot(2, vm::kMagic, 0, vm::kDeviceNet);  // bad version
  s.slot(3, vm::kMagic, 2, vm::kDeviceNet);  // a network device
  auto window = [](unsigned i) {
    vm::Window w;
    w.base = vm::kSlotBase + vm::kSlotSize * i;
    return w;
  };
  auto read_at = [&](unsigned i, unsigned reg) {
    return s.reads_at[vm::kSlotBase + vm::kSlotSize * i + reg];
  };
  EXPECT_FALSE(vm::identify(window(0), &Slots::read, &s).is_net());
  EXPECT_EQ(read_at(0, 8), 1u);
  EXPECT_EQ(read_at(0, 12), 0u);  // no VendorID of a placeholder
  vm::Identity bad_magic = vm::identify(window(1), &Slots::read, &s);
  EXPECT_FALSE(bad_magic.is_virtio());
  EXPECT_EQ(read_at(1, 4) + read_at(1, 8) + read_at(1, 12), 0u);
  vm::Identity bad_version = vm::identify(window(2), &Slots::read, &s);
  EXPECT_FALSE(bad_version.is_virtio());
  EXPECT_EQ(read_at(2, 8) + read_at(2, 12), 0u);
  vm::Identity net = vm::identify(window(3), &Slots::read, &s);
  EXPECT_TRUE(net.is_net());
  EXPECT_EQ(net.vendor_id, 0x554d4551u);
}

TEST(GuestMmioSlots, ProbeStaysInsideTheLayoutAndTheCallersRoom) {
  Slots s;
  for (unsigned i = 0; i < 24; ++i) s.slot(i, vm::kMagic, 2, vm::kDeviceNet);
  vm::Window w[24];
  uint32_t empty = 0;
  EXPECT_EQ(vm::probe_slots(vm::slot_layout(false, false), &Slots::read, &s, w, 24, &empty), 8u);
  EXPECT_LT(s.highest, vm::kSlotBase + 8 * vm::kSlotSize);
  EXPECT_EQ(w[7].irq, 12u);
  s.reads = 0;
  EXPECT_EQ(vm::probe_slots(vm::slot_layout(true, true), &Slots::read, &s, w, 2, &empty), 2u);
  EXPECT_LE(s.reads, 8u);  // stops once full (4 registers a slot)
}

TEST(GuestMmioSlots, NothingThereFindsNothing) {
  Slots s;  // unassigned memory reads 0 on QEMU
  vm::Window w[4];
  uint32_t empty = 7;
  EXPECT_EQ(vm::probe_slots(vm::slot_layout(true, true), &Slots::read, &s, w, 4, &empty), 0u);
  EXPECT_EQ(empty, 0u);
}

}  // namespace
