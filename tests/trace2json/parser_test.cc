// The QEMU log line parser (tools/trace2json/qemu_log.h).
#include <gtest/gtest.h>

#include "tools/trace2json/qemu_log.h"

namespace trace2json {
namespace {

TEST(SplitLine, PlainAndTimestamped) {
  LogLine l;
  ASSERT_TRUE(split_line("virtqueue_flush vq 0x10 count 1", &l));
  EXPECT_FALSE(l.has_prefix);
  EXPECT_EQ(l.event, "virtqueue_flush");
  EXPECT_EQ(l.args, "vq 0x10 count 1");

  ASSERT_TRUE(split_line(
      "28254@1795378899.505861:pci_cfg_read virtio-net-pci 00:01.0 @0x2 -> 0x1041\r", &l));
  EXPECT_TRUE(l.has_prefix);
  EXPECT_EQ(l.tid, 28254u);
  EXPECT_EQ(l.usec, 1795378899505861ull);
  EXPECT_EQ(l.event, "pci_cfg_read");
  EXPECT_EQ(l.args, "virtio-net-pci 00:01.0 @0x2 -> 0x1041");
}

TEST(SplitLine, RejectsWhatIsNotATraceLine) {
  LogLine l;
  EXPECT_FALSE(split_line("", &l));
  EXPECT_FALSE(split_line("{\"ev\":\"end\"}", &l));
  EXPECT_FALSE(split_line("Nov 22 kernel: eth0 up", &l));
  EXPECT_FALSE(split_line("12x@1.5:virtio_notify vdev 0x1 vq 0x2", &l));  // bad prefix
  EXPECT_FALSE(split_line("12@15:virtio_notify vdev 0x1 vq 0x2", &l));    // no usec
}

TEST(RegionAccess, ParsesAndRejectsCutLines) {
  RegionAccess a;
  ASSERT_TRUE(
      parse_region_access("cpu 0 mr 0x563e043f1560 addr 0xfebf8014 value 0xffffff0b size 1 name "
                          "'virtio-pci-common-virtio-net'",
                          &a));
  EXPECT_EQ(a.cpu, 0);
  EXPECT_EQ(a.addr, 0xfebf8014u);
  EXPECT_EQ(a.value, 0xffffff0bu);  // not masked by QEMU; the converter masks
  EXPECT_EQ(a.size, 1u);
  EXPECT_EQ(a.name, "virtio-pci-common-virtio-net");
  ASSERT_TRUE(
      parse_region_access("cpu -1 mr 0x1 addr 0xfee00000 value 0x0 size 4 name 'apic-msi'", &a));
  EXPECT_EQ(a.cpu, -1);
  ASSERT_TRUE(parse_region_access("cpu 0 mr 0x1 addr 0x10 value 0x1 size 2 name 'a name'", &a));
  EXPECT_EQ(a.name, "a name");
  EXPECT_FALSE(parse_region_access("cpu 0 mr 0x1 addr 0x10 value 0x1 size 2 name 'virtio-p", &a));
  EXPECT_FALSE(parse_region_access("cpu 0 mr 0x1 addr 0x10 value 0x1 size", &a));
  EXPECT_FALSE(parse_region_access("cpu 0 mr 0x1 addr 0x10 value 0x1 size 0 name 'x'", &a));
  EXPECT_FALSE(parse_region_access("cpu 0 mr 0xZZ addr 0x10 value 0x1 size 1 name 'x'", &a));
}

TEST(PciCfg, ArrowsSayDirection) {
  PciCfgAccess c;
  ASSERT_TRUE(parse_pci_cfg("virtio-net-pci 00:01.0 @0x4 <- 0x107", true, &c));
  EXPECT_EQ(c.device, "virtio-net-pci");
  EXPECT_EQ(c.bdf, "00:01.0");
  EXPECT_EQ(c.offset, 4u);
  EXPECT_EQ(c.value, 0x107u);
  EXPECT_FALSE(parse_pci_cfg("virtio-net-pci 00:01.0 @0x4 <- 0x107", false, &c));
  ASSERT_TRUE(parse_pci_cfg("mch 00:00.0 @0x0 -> 0x29c08086", false, &c));
  EXPECT_EQ(c.value, 0x29c08086u);
  EXPECT_FALSE(parse_pci_cfg("virtio-net-pci 00:01.0 0x4 -> 0x1", false, &c));
  EXPECT_FALSE(parse_pci_cfg("virtio-net-pci 00:01.0 @0x4 ->", false, &c));
}

TEST(VirtioEvents, Parse) {
  Pop p;
  ASSERT_TRUE(parse_pop("vq 0x7f215c5d90a8 elem 0x563e03ebdba0 in_num 0 out_num 1", &p));
  EXPECT_EQ(p.vq, 0x7f215c5d90a8u);
  EXPECT_EQ(p.elem, 0x563e03ebdba0u);
  EXPECT_EQ(p.out_num, 1u);
  Fill f;
  ASSERT_TRUE(parse_fill("vq 0x1 elem 0x2 len 70 idx 0", &f));
  EXPECT_EQ(f.len, 70u);
  Flush fl;
  ASSERT_TRUE(parse_flush("vq 0x1 count 3", &fl));
  EXPECT_EQ(fl.count, 3u);
  QueueNotify n;
  ASSERT_TRUE(parse_queue_notify("vdev 0x5 n 1 vq 0x7", &n));
  EXPECT_EQ(n.n, 1u);
  SetStatus s;
  ASSERT_TRUE(parse_set_status("vdev 0x5 val 15", &s));
  EXPECT_EQ(s.value, 15u);
  EXPECT_FALSE(parse_pop("vq 0x1 elem 0x2 in_num 0", &p));
  EXPECT_FALSE(parse_fill("vq 0x1 elem 0x2 len -4 idx 0", &f));
  EXPECT_FALSE(parse_flush("vq 0x1 count 99999999999", &fl));
}

}  // namespace
}  // namespace trace2json
