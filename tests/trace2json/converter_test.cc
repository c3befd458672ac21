// The converter on hand-written QEMU 7.2 logs (the shapes are those of
// real captures, tests/qemu/capture_convert.cmake).
#include <gtest/gtest.h>
#include <stdio.h>
#include <algorithm>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "replay/record/trace_writer.h"
#include "tools/trace2json/converter.h"

namespace trace2json {
namespace {

constexpr uint64_t kVcpu = 100, kMain = 101;

// Builds log text the way QEMU's log backend writes it.
class Log {
 public:
  explicit Log(bool timestamps = true) : ts_(timestamps) {}
  Log& line(uint64_t tid, const std::string& text) {
    char p[48] = "";
    if (ts_)
      snprintf(p, sizeof(p), "%llu@1700000000.%06u:", static_cast<unsigned long long>(tid), n_++);
    lines_.push_back(p + text);
    return *this;
  }
  Log& cfg_read(uint32_t off, uint32_t size, uint32_t value,
                const std::string& dev = "virtio-net-pci", bool interleave = false) {
    const char* bdf = dev == "virtio-net-pci" ? " 00:03.0 @" : " 00:00.0 @";
    line(kVcpu, "pci_cfg_read " + dev + bdf + hex(off) + " -> " + hex(value));
    if (interleave) line(kMain, "virtio_notify vdev 0x999 vq 0x1");
    return line(kVcpu, "memory_region_ops_read cpu 0 mr 0x11 addr " + hex(0xcfc + off % 4) +
                           " value " + hex(value) + " size " + std::to_string(size) +
                           " name 'pci-conf-data'");
  }
  Log& cfg_write(uint32_t off, uint32_t size, uint32_t value) {
    line(kVcpu, "memory_region_ops_write cpu 0 mr 0x11 addr " + hex(0xcfc + off % 4) + " value " +
                    hex(value) + " size " + std::to_string(size) + " name 'pci-conf-data'");
    return line(kVcpu, "pci_cfg_write virtio-net-pci 00:03.0 @" + hex(off) + " <- " + hex(value));
  }
  Log& mmio(bool write, const std::string& region, uint64_t addr, uint64_t value, uint32_t size) {
    return line(kVcpu, std::string("memory_region_ops_") + (write ? "write" : "read") +
                           " cpu 0 mr 0x22 addr " + hex(addr) + " value " + hex(value) + " size " +
                           std::to_string(size) + " name '" + region + "'");
  }
  Log& common(bool write, uint32_t off, uint64_t value, uint32_t size) {
    return mmio(write, "virtio-pci-common-virtio-net", 0xfebf8000 + off, value, size);
  }
  std::vector<std::string> lines_;

  static std::string hex(uint64_t v) {
    char b[24];
    snprintf(b, sizeof(b), "0x%llx", static_cast<unsigned long long>(v));
    return b;
  }

 private:
  bool ts_;
  unsigned n_ = 0;
};

void sink(void* ctx, const char* data, size_t len) {
  static_cast<std::string*>(ctx)->append(data, len);
}

struct Result {
  std::vector<nlohmann::json> events;
  Stats stats;
  nlohmann::ordered_json header;
};

Result convert(const std::vector<std::string>& lines, bool compact = false) {
  std::string text;
  vnet::trace::TraceWriter w(vnet::trace::ByteSink{&sink, &text});
  w.set_compact(compact);
  Options o;
  o.log_name = "test.log";
  Converter c(o, w);
  std::string err;
  EXPECT_TRUE(c.open(&err));
  for (const std::string& l : lines) c.feed(l);
  c.finish();
  w.flush();
  Result r;
  size_t at = 0;
  while (at < text.size()) {
    size_t nl = text.find('\n', at);
    r.events.push_back(nlohmann::json::parse(text.substr(at, nl - at)));
    at = nl + 1;
  }
  r.stats = c.stats();
  r.header = c.header();
  return r;
}

// A modern virtio-net-pci at 00:03.0, BAR4 (64-bit memory) at 0xfebf8000.
Log firmware_and_enable() {
  Log log;
  log.cfg_read(0x0, 2, 0x1af4).cfg_read(0x2, 2, 0x1041);
  log.cfg_write(0x20, 4, 0xffffffff).cfg_read(0x20, 4, 0xffffc00c).cfg_write(0x20, 4, 0xfebf800c);
  log.cfg_write(0x24, 4, 0xffffffff).cfg_read(0x24, 4, 0xffffffff).cfg_write(0x24, 4, 0);
  log.cfg_write(0x4, 2, 0x107);
  return log;
}

size_t find(const Result& r, const std::string& ev, size_t from = 0) {
  for (size_t i = from; i < r.events.size(); ++i)
    if (r.events[i]["ev"] == ev) return i;
  return r.events.size();
}

TEST(Converter, DriverStartMarkWidthsAndMasking) {
  Log log = firmware_and_enable();
  log.cfg_read(0x0, 2, 0x1af4, "virtio-net-pci", /*interleave=*/true);
  log.cfg_read(0x0, 4, 0x10411af4, "mch");  // another function: dropped
  log.common(true, 0x14, 0xffffff00, 1);    // status reset, value not masked by QEMU
  log.line(kVcpu, "virtio_set_status vdev 0xd0 val 0");
  log.common(false, 0x04, 0x30bf8024, 4);
  Result r = convert(log.lines_);

  size_t mark = find(r, "mark");
  ASSERT_LT(mark, r.events.size());
  EXPECT_EQ(r.events[mark]["what"], "driver_start");
  const auto& before = r.events[mark - 1];
  EXPECT_EQ(before["ev"], "reg_write");
  EXPECT_EQ(before["off"], 4);
  EXPECT_EQ(before["w"], 2);
  EXPECT_EQ(before["val"], 0x107);
  // The driver's first read: width from the pci-conf-data access that
  // came after a main-loop line of another device.
  const auto& first = r.events[mark + 1];
  EXPECT_EQ(first["ev"], "reg_read");
  EXPECT_EQ(first["region"], "pci_config");
  EXPECT_EQ(first["w"], 2);
  EXPECT_EQ(first["val"], 0x1af4);
  const auto& status = r.events[mark + 2];
  EXPECT_EQ(status["region"], "bar4");
  EXPECT_EQ(status["off"], 0x14);
  EXPECT_EQ(status["val"], 0);  // masked to the access size
  EXPECT_EQ(r.events[mark + 3]["off"], 4);
  EXPECT_EQ(r.stats.width_guessed, 0u);
  EXPECT_EQ(r.stats.malformed, 0u);
  EXPECT_EQ(r.header["device"]["device"], 0x1041);
  EXPECT_EQ(r.header["transport"], "pci-modern");
  EXPECT_TRUE(r.header["capture"]["timestamps"].get<bool>());
}

Log bring_up() {
  Log log = firmware_and_enable();
  log.common(true, 0x14, 0, 1).line(kVcpu, "virtio_set_status vdev 0xd0 val 0");
  log.common(true, 0x00, 1, 4).common(false, 0x04, 0x1, 4);  // offered word 1: VERSION_1
  log.common(true, 0x08, 1, 4).common(true, 0x0c, 0x1, 4);
  log.common(true, 0x00, 0, 4).common(false, 0x04, 0x18020, 4);
  log.common(true, 0x08, 0, 4).common(true, 0x0c, 0x18020, 4);
  for (uint32_t q = 0; q < 2; ++q) {
    log.common(true, 0x16, q, 2).common(false, 0x18, 256, 2);
    log.common(true, 0x20, 0x7d7000 + q * 0x2000, 4).common(true, 0x24, 0, 4);
    log.common(true, 0x28, 0x7d8000 + q * 0x2000, 4).common(true, 0x2c, 0, 4);
  }
  log.common(true, 0x14, 0xf, 1).line(kVcpu, "virtio_set_status vdev 0xd0 val 15");
  log.mmio(true, "virtio-pci-notify-virtio-net", 0xfebfb000, 0, 2);
  log.line(kVcpu, "virtio_queue_notify vdev 0xd0 n 0 vq 0xa0");
  log.mmio(true, "virtio-pci-notify-virtio-net", 0xfebfb004, 1, 2);
  log.line(kVcpu, "virtio_queue_notify vdev 0xd0 n 1 vq 0xa8");
  return log;
}

// The NIC's MSI-X table in BAR1 (0xfebff000, as QEMU's virtio-pci: the
// table at offset 0), entries 0..2 written with messages 0xfee00000 /
// 0x4041 + i, MSI-X enabled; then messages reach the local APIC.
Log bring_up_msix() {
  Log log;
  log.cfg_read(0x0, 2, 0x1af4).cfg_read(0x2, 2, 0x1041);
  log.cfg_write(0x14, 4, 0xffffffff).cfg_read(0x14, 4, 0xfffff000).cfg_write(0x14, 4, 0xfebff000);
  log.cfg_write(0x20, 4, 0xffffffff).cfg_read(0x20, 4, 0xffffc00c).cfg_write(0x20, 4, 0xfebf800c);
  log.cfg_write(0x24, 4, 0xffffffff).cfg_read(0x24, 4, 0xffffffff).cfg_write(0x24, 4, 0);
  log.cfg_write(0x4, 2, 0x107);
  log.common(true, 0x14, 0, 1).line(kVcpu, "virtio_set_status vdev 0xd0 val 0");
  for (uint32_t i = 0; i < 3; ++i) {
    log.mmio(true, "msix-table", 0xfebff00c + 16 * i, 1, 4);  // masked
    log.mmio(true, "msix-table", 0xfebff000 + 16 * i, 0xfee00000, 4);
    log.mmio(true, "msix-table", 0xfebff004 + 16 * i, 0, 4);
    log.mmio(true, "msix-table", 0xfebff008 + 16 * i, 0x4041 + i, 4);
    log.mmio(true, "msix-table", 0xfebff00c + 16 * i, 0, 4);
  }
  log.line(kVcpu, "msix_write_config dev virtio-net-pci enabled 1 masked 0");
  log.common(true, 0x14, 0xf, 1).line(kVcpu, "virtio_set_status vdev 0xd0 val 15");
  log.mmio(true, "virtio-pci-notify-virtio-net", 0xfebfb000, 0, 2);
  log.line(kVcpu, "virtio_queue_notify vdev 0xd0 n 0 vq 0xa0");
  return log;
}

Log& msi(Log& log, uint64_t tid, uint32_t data, uint64_t address = 0xfee00000) {
  return log.line(tid, "memory_region_ops_write cpu -1 mr 0x33 addr " + Log::hex(address) +
                           " value " + Log::hex(data) + " size 4 name 'apic-msi'");
}

TEST(Converter, MsixMessagesOfTheNicBecomeDevMsi) {
  Log log = bring_up_msix();
  log.line(kMain, "virtio_notify vdev 0xd0 vq 0xa0");
  msi(log, kMain, 0x4042);                                // entry 1: rx
  msi(log, kMain, 0x4041);                                // entry 0: config (no notify)
  msi(log, kMain, 0x4051);                                // another device's message
  msi(log, kMain, 0x4041, 0xfee01000);                    // another CPU's address
  log.mmio(true, "apic-msi", 0xfee000b0, 0, 4);           // the CPU's EOI: not an MSI
  log.mmio(false, "apic-msi", 0xfee00020, 0, 4);          // APIC id read
  log.line(kVcpu, "ioapic_set_irq vector: 11 level: 1");  // the line is nobody's here
  Result r = convert(log.lines_);
  std::vector<std::string> irq;
  for (const auto& e : r.events) {
    if (e["ev"] == "dev_msi") irq.push_back("msi " + std::to_string(e["entry"].get<int>()));
    if (e["ev"] == "dev_irq") irq.push_back("irq q" + std::to_string(e["q"].get<int>()));
    if (e["ev"] == "dev_intx") irq.push_back("intx");
  }
  EXPECT_EQ(irq, (std::vector<std::string>{"irq q0", "msi 1", "msi 0"}));
  // The table writes are the driver's register events (BAR1).
  size_t table = 0;
  for (const auto& e : r.events) table += e["ev"] == "reg_write" && e["region"] == "bar1";
  EXPECT_EQ(table, 15u);
  EXPECT_EQ(r.stats.msi, 2u);
  EXPECT_EQ(r.header["capture"]["interrupts"]["msi"], 2);
  EXPECT_EQ(r.header["capture"]["interrupts"]["msix_entries"], 3);
  EXPECT_TRUE(r.header["capture"]["interrupts"]["intx_gsi"].is_null());
}

TEST(Converter, MessagesWhileMsixIsDisabledAreNotTheNics) {
  Log log = bring_up_msix();
  log.line(kVcpu, "msix_write_config dev virtio-net-pci enabled 0 masked 0");
  msi(log, kMain, 0x4042);
  Result r = convert(log.lines_);
  EXPECT_EQ(find(r, "dev_msi"), r.events.size());
  EXPECT_FALSE(r.header["capture"].contains("interrupts")) << "a polling capture's header";
}

TEST(Converter, TheNicsLineIsLearnedFromANotifyAndFollowed) {
  Log log = bring_up();
  log.line(kVcpu, "ioapic_set_irq vector: 11 level: 1");  // before: not known to be the NIC's
  log.line(kVcpu, "ioapic_set_irq vector: 11 level: 0");
  log.line(kMain, "virtio_notify vdev 0xd0 vq 0xa0");
  log.line(kVcpu, "ioapic_set_irq vector: 2 level: 1");   // another thread: not the answer
  log.line(kMain, "ioapic_set_irq vector: 10 level: 1");  // the notify's own thread: the NIC's
  log.line(kVcpu, "ioapic_set_irq vector: 2 level: 0");
  log.common(false, 0x1000 - 0x1000, 0, 1);               // any register access in between
  log.line(kVcpu, "ioapic_set_irq vector: 10 level: 0");  // the ISR read lowered it
  log.line(kMain, "ioapic_set_irq vector: 10 level: 1");  // a config change: no notify
  log.line(kMain, "ioapic_set_irq vector: 10 level: 7");  // malformed
  Result r = convert(log.lines_);
  std::vector<std::string> irq;
  for (const auto& e : r.events) {
    if (e["ev"] == "dev_irq") irq.push_back("irq");
    if (e["ev"] == "dev_intx") irq.push_back("intx " + std::to_string(e["level"].get<int>()));
  }
  EXPECT_EQ(irq, (std::vector<std::string>{"irq", "intx 1", "intx 0", "intx 1"}));
  EXPECT_EQ(r.header["capture"]["interrupts"]["intx_gsi"], 10);
  EXPECT_EQ(r.header["capture"]["interrupts"]["intx"], 3);
  EXPECT_EQ(r.stats.malformed, 1u);
}

// virtio-mmio on QEMU's microvm (the shapes of tools/capture-linux's
// microvm captures): a window of region 'virtio-mmio' at 0xfeb02e00, found
// by its DeviceID read; QEMU's own virtio_mmio_* lines are known and left
// to memory_region_ops_*; virtio_mmio_setting_irq between the notify and
// the I/O APIC pin does not hide the pin.
TEST(Converter, VirtioMmioWindowVersionAndLine) {
  Log log;
  const uint64_t base = 0xfeb02e00;
  log.mmio(false, "virtio-mmio", 0xfeb00000, 0x74726976, 4);  // an empty slot
  log.mmio(false, "virtio-mmio", 0xfeb00004, 1, 4);
  log.mmio(false, "virtio-mmio", 0xfeb00008, 0, 4);
  log.mmio(false, "virtio-mmio", base + 0x000, 0x74726976, 4);
  log.mmio(false, "virtio-mmio", base + 0x004, 2, 4);
  log.line(kVcpu, "virtio_mmio_read virtio_mmio_read offset 0x4");
  log.mmio(false, "virtio-mmio", base + 0x008, 1, 4);
  log.mmio(false, "virtio-mmio", base + 0x00c, 0x554d4551, 4);
  log.mmio(true, "virtio-mmio", base + 0x070, 0, 4);
  log.line(kVcpu, "virtio_set_status vdev 0xd0 val 0");
  log.line(kVcpu, "virtio_mmio_write_offset virtio_mmio_write offset 0x70 value 0x0");
  log.mmio(true, "virtio-mmio", base + 0x014, 1, 4);
  log.mmio(false, "virtio-mmio", base + 0x010, 1, 4);  // VERSION_1 in word 1
  log.mmio(true, "virtio-mmio", base + 0x014, 0, 4);
  log.mmio(false, "virtio-mmio", base + 0x010, 0x20, 4);  // MAC
  log.mmio(true, "virtio-mmio", base + 0x070, 0xb, 4);
  log.line(kVcpu, "virtio_set_status vdev 0xd0 val 11");
  log.mmio(true, "virtio-mmio", base + 0x030, 0, 4);
  log.mmio(false, "virtio-mmio", base + 0x034, 1024, 4);
  log.mmio(false, "virtio-mmio", base + 0x100, 0x52, 1);
  log.line(kMain, "virtio_notify vdev 0xd0 vq 0xa0");
  log.line(kMain, "virtio_mmio_setting_irq virtio_mmio setting IRQ 1");
  log.line(kMain, "ioapic_set_irq vector: 23 level: 1");
  log.mmio(false, "virtio-mmio", base + 0x060, 1, 4);
  log.mmio(true, "virtio-mmio", base + 0x064, 1, 4);
  log.line(kVcpu, "virtio_mmio_setting_irq virtio_mmio setting IRQ 0");
  log.line(kVcpu, "ioapic_set_irq vector: 23 level: 0");
  Result r = convert(log.lines_);
  EXPECT_EQ(r.header["transport"], "mmio-v2");
  EXPECT_EQ(r.header["device"]["kind"], "mmio-v2");
  EXPECT_EQ(r.header["device"]["mmio_version"], 2);
  EXPECT_EQ(r.header["device"]["vendor_id"], 0x554d4551);
  EXPECT_EQ(r.header["offers"]["mmio"], "0x100000020");
  EXPECT_EQ(r.header["queue_sizes"][0], 1024);
  EXPECT_EQ(r.stats.unknown, 0u);
  EXPECT_EQ(r.stats.virtio_mmio, 4u);
  // The empty slot is another device; the NIC's accesses from its DeviceID on.
  bool saw_status = false, saw_ack = false;
  std::vector<int> intx;
  for (const auto& e : r.events) {
    if (e["ev"] == "reg_write" && e["region"] == "mmio" && e["off"] == 0x70) saw_status = true;
    if (e["ev"] == "reg_write" && e["region"] == "mmio" && e["off"] == 0x64) saw_ack = true;
    if (e["ev"] == "dev_intx") intx.push_back(e["level"].get<int>());
    if (e["ev"] == "reg_read" && e["region"] == "mmio") EXPECT_GE(e["off"].get<int>(), 8) << e;
  }
  EXPECT_TRUE(saw_status && saw_ack);
  EXPECT_EQ(intx, (std::vector<int>{1, 0}));
  EXPECT_EQ(r.header["capture"]["interrupts"]["intx_gsi"], 23);
}

TEST(Converter, RingAddressesAreNamedNotNumbered) {
  Result r = convert(bring_up().lines_);
  int lo = 0, hi = 0;
  for (const auto& e : r.events) {
    if (e["ev"] != "reg_write" || !e["val"].is_object()) continue;
    EXPECT_TRUE(e["val"]["part"] == "desc" || e["val"]["part"] == "driver");
    (e["val"]["as"] == "lo32" ? lo : hi)++;
  }
  EXPECT_EQ(lo, 4);
  EXPECT_EQ(hi, 4);  // zero high halves right after their low half
  EXPECT_EQ(r.header["features"]["offered"], "0x100018020");
  EXPECT_EQ(r.header["features"]["negotiated"], "0x100018020");
  EXPECT_EQ(r.header["queue_sizes"], nlohmann::ordered_json::parse("[256,256]"));
  EXPECT_EQ(r.header["capture"]["net_header"], 12);
  // the notify window sits at 0x3000 in BAR4
  bool notify = false;
  for (const auto& e : r.events)
    notify = notify || (e["ev"] == "reg_write" && e["off"] == 0x3004 && e["val"] == 1);
  EXPECT_TRUE(notify);
}

TEST(Converter, UsedEntriesByAvailPositionWithPointerReuse) {
  Log log = bring_up();
  // Two tx chains completed out of order, then element pointer 0xe1 reused.
  log.line(kVcpu, "virtqueue_pop vq 0xa8 elem 0xe1 in_num 0 out_num 1");
  log.line(kVcpu, "virtqueue_pop vq 0xa8 elem 0xe2 in_num 0 out_num 1");
  log.line(kMain, "virtqueue_pop vq 0xa0 elem 0xe9 in_num 1 out_num 0");  // rx, interleaved
  log.line(kVcpu, "virtqueue_fill vq 0xa8 elem 0xe2 len 0 idx 0");
  log.line(kVcpu, "virtqueue_fill vq 0xa8 elem 0xe1 len 0 idx 1");
  log.line(kMain, "virtqueue_fill vq 0xa0 elem 0xe9 len 70 idx 0");
  log.line(kVcpu, "virtqueue_flush vq 0xa8 count 2");
  log.line(kMain, "virtqueue_flush vq 0xa0 count 1");
  log.line(kMain, "virtio_notify vdev 0xd0 vq 0xa0");
  log.line(kVcpu, "virtqueue_pop vq 0xa8 elem 0xe1 in_num 0 out_num 2");
  log.line(kVcpu, "virtqueue_fill vq 0xa8 elem 0xe1 len 0 idx 0");
  log.line(kVcpu, "virtqueue_flush vq 0xa8 count 1");
  Result r = convert(log.lines_);
  std::vector<std::string> dev;
  for (const auto& e : r.events) {
    const std::string ev = e["ev"];
    if (ev.rfind("dev_", 0) != 0) continue;
    std::string s = ev + " q" + std::to_string(e["q"].get<int>());
    if (e.contains("avail")) s += " a" + std::to_string(e["avail"].get<int>());
    if (e.contains("used_idx")) s += " u" + std::to_string(e["used_idx"].get<int>());
    dev.push_back(s);
  }
  const std::vector<std::string> want = {"dev_pop q1 a0",   "dev_pop q1 a1",   "dev_pop q0 a0",
                                         "dev_fill q1 a1",  "dev_fill q1 a0",  "dev_fill q0 a0",
                                         "dev_flush q1 u2", "dev_flush q0 u1", "dev_irq q0",
                                         "dev_pop q1 a2",   "dev_fill q1 a2",  "dev_flush q1 u3"};
  EXPECT_EQ(dev, want);
  EXPECT_EQ(r.stats.unmatched_fills, 0u);
}

// The control queue (issue 15): QEMU 7.2 handles a command with the
// generic virtqueue events on the control queue's virtqueue -- the kick
// (virtio_queue_notify n 2) names it, virtqueue_pop in_num 1 (the ack)
// out_num 2 or 3 (header, data), virtqueue_fill len 1 (the ack byte),
// virtqueue_flush, virtio_notify -- and they convert like any queue's, on
// queue 2, with CTRL_VQ in the negotiated features.
TEST(Converter, ControlQueueCommandsConvertOnQueueTwo) {
  Log log = firmware_and_enable();
  log.common(true, 0x14, 0, 1).line(kVcpu, "virtio_set_status vdev 0xd0 val 0");
  log.common(true, 0x00, 1, 4).common(false, 0x04, 0x1, 4);  // VERSION_1
  log.common(true, 0x08, 1, 4).common(true, 0x0c, 0x1, 4);
  log.common(true, 0x00, 0, 4).common(false, 0x04, 0xbf8020, 4);  // CTRL_VQ, CTRL_RX, ...
  log.common(true, 0x08, 0, 4).common(true, 0x0c, 0x3e8020, 4);   // CTRL_VQ | CTRL_RX ...
  for (uint32_t q = 0; q < 3; ++q) {
    log.common(true, 0x16, q, 2).common(false, 0x18, q == 2 ? 64 : 256, 2);
    log.common(true, 0x20, 0x7d7000 + q * 0x2000, 4).common(true, 0x24, 0, 4);
    log.common(true, 0x28, 0x7d8000 + q * 0x2000, 4).common(true, 0x2c, 0, 4);
  }
  log.common(true, 0x14, 0xf, 1).line(kVcpu, "virtio_set_status vdev 0xd0 val 15");
  log.mmio(true, "virtio-pci-notify-virtio-net", 0xfebfb000, 0, 2);
  log.line(kVcpu, "virtio_queue_notify vdev 0xd0 n 0 vq 0xa0");
  // PROMISC off: header + one data byte, the ack; then ALLMULTI off.
  for (int k = 0; k < 2; ++k) {
    log.mmio(true, "virtio-pci-notify-virtio-net", 0xfebfb008, 2, 2);
    log.line(kVcpu, "virtio_queue_notify vdev 0xd0 n 2 vq 0xb0");
    log.line(kVcpu, "virtqueue_pop vq 0xb0 elem 0xc1 in_num 1 out_num 2");
    log.line(kVcpu, "virtqueue_fill vq 0xb0 elem 0xc1 len 1 idx 0");
    log.line(kVcpu, "virtqueue_flush vq 0xb0 count 1");
    log.line(kVcpu, "virtio_notify vdev 0xd0 vq 0xb0");
  }
  Result r = convert(log.lines_);
  std::vector<std::string> dev;
  for (const auto& e : r.events) {
    const std::string ev = e["ev"];
    if (ev.rfind("dev_", 0) != 0) continue;
    std::string s = ev + " q" + std::to_string(e["q"].get<int>());
    if (e.contains("avail")) s += " a" + std::to_string(e["avail"].get<int>());
    if (ev == "dev_pop")
      s +=
          " in" + std::to_string(e["in"].get<int>()) + " out" + std::to_string(e["out"].get<int>());
    if (ev == "dev_fill") s += " len" + std::to_string(e["len"].get<int>());
    if (e.contains("used_idx")) s += " u" + std::to_string(e["used_idx"].get<int>());
    dev.push_back(s);
  }
  const std::vector<std::string> want = {
      "dev_pop q2 a0 in1 out2", "dev_fill q2 a0 len1", "dev_flush q2 u1", "dev_irq q2",
      "dev_pop q2 a1 in1 out2", "dev_fill q2 a1 len1", "dev_flush q2 u2", "dev_irq q2"};
  EXPECT_EQ(dev, want);
  EXPECT_EQ(r.stats.unmatched_fills, 0u);
  const std::string negotiated = r.header["features"]["negotiated"];
  EXPECT_NE(std::stoull(negotiated, nullptr, 16) & (1ull << 17), 0u) << negotiated;
}

// bring_up() with VIRTIO_F_RING_PACKED (bit 34: word 1 bit 2) offered and
// accepted.
Log bring_up_packed() {
  Log log = firmware_and_enable();
  log.common(true, 0x14, 0, 1).line(kVcpu, "virtio_set_status vdev 0xd0 val 0");
  log.common(true, 0x00, 1, 4).common(false, 0x04, 0x5, 4);  // VERSION_1 | RING_PACKED
  log.common(true, 0x08, 1, 4).common(true, 0x0c, 0x5, 4);
  log.common(true, 0x00, 0, 4).common(false, 0x04, 0x18020, 4);
  log.common(true, 0x08, 0, 4).common(true, 0x0c, 0x18020, 4);
  for (uint32_t q = 0; q < 2; ++q) {
    log.common(true, 0x16, q, 2).common(true, 0x18, 8, 2);
    log.common(true, 0x20, 0x7d7000 + q * 0x2000, 4).common(true, 0x24, 0, 4);
  }
  log.common(true, 0x14, 0xf, 1).line(kVcpu, "virtio_set_status vdev 0xd0 val 15");
  log.mmio(true, "virtio-pci-notify-virtio-net", 0xfebfb000, 0, 2);
  log.line(kVcpu, "virtio_queue_notify vdev 0xd0 n 0 vq 0xa0");
  log.mmio(true, "virtio-pci-notify-virtio-net", 0xfebfb004, 1, 2);
  log.line(kVcpu, "virtio_queue_notify vdev 0xd0 n 1 vq 0xa8");
  return log;
}

std::vector<std::string> device_side(const Result& r) {
  std::vector<std::string> dev;
  for (const auto& e : r.events) {
    const std::string ev = e["ev"];
    if (ev.rfind("dev_", 0) != 0 && ev != "reg_read") continue;
    if (ev == "reg_read") {
      dev.push_back("reg_read");
      continue;
    }
    std::string s = ev;
    if (e.contains("q") && !e["q"].is_null()) s += " q" + std::to_string(e["q"].get<int>());
    if (e.contains("avail")) s += " a" + std::to_string(e["avail"].get<int>());
    if (ev == "dev_flush")
      s += " c" + std::to_string(e["count"].get<int>()) + " u" +
           std::to_string(e["used_idx"].get<int>());
    dev.push_back(s);
  }
  return dev;
}

// QEMU 7.2 logs no virtqueue_flush on a packed ring: a batch of fills
// (index 0, 1, ...) is closed by a derived dev_flush at the first NIC line
// that does not continue it: a pop (QEMU 7.2's virtio-net pops all buffers
// of a frame before it fills them), a fill with index 0, a register
// access, a notify, the end of the log.
TEST(Converter, PackedRingFlushesAreDerivedFromTheBatches) {
  Log log = bring_up_packed();
  // tx: virtqueue_push = fill + (silent) flush, then the interrupt
  log.line(kMain, "virtqueue_pop vq 0xa8 elem 0xe1 in_num 0 out_num 1");
  log.line(kMain, "virtqueue_fill vq 0xa8 elem 0xe1 len 0 idx 0");
  log.line(kMain, "virtio_notify vdev 0xd0 vq 0xa8");
  // rx: a merged frame over two buffers, both popped, then both filled
  log.line(kMain, "virtqueue_pop vq 0xa0 elem 0xe9 in_num 1 out_num 0");
  log.line(kMain, "virtqueue_pop vq 0xa0 elem 0xea in_num 1 out_num 0");
  log.line(kMain, "virtqueue_fill vq 0xa0 elem 0xe9 len 1000 idx 0");
  log.line(kMain, "virtqueue_fill vq 0xa0 elem 0xea len 600 idx 1");
  // two more buffers popped (the first pop comes after the flush), then
  // filled as two batches: a fill with index 0 closes the open batch
  log.line(kMain, "virtqueue_pop vq 0xa0 elem 0xe9 in_num 1 out_num 0");
  log.line(kMain, "virtqueue_pop vq 0xa0 elem 0xea in_num 1 out_num 0");
  log.line(kMain, "virtqueue_fill vq 0xa0 elem 0xe9 len 70 idx 0");
  log.line(kMain, "virtqueue_fill vq 0xa0 elem 0xea len 80 idx 0");
  // a register access of the vCPU closes it
  log.common(false, 0x14, 0xf, 1);
  // two tx chains back to back (virtqueue_push each)
  log.line(kMain, "virtqueue_pop vq 0xa8 elem 0xe1 in_num 0 out_num 2");
  log.line(kMain, "virtqueue_fill vq 0xa8 elem 0xe1 len 0 idx 0");
  log.line(kMain, "virtqueue_pop vq 0xa8 elem 0xe2 in_num 0 out_num 1");
  log.line(kMain, "virtqueue_fill vq 0xa8 elem 0xe2 len 0 idx 0");
  // the end of the log closes the last batch
  Result r = convert(log.lines_);
  std::vector<std::string> dev = device_side(r);
  dev.erase(dev.begin(), std::find(dev.begin(), dev.end(), "dev_pop q1 a0"));
  const std::vector<std::string> want = {
      "dev_pop q1 a0",      "dev_fill q1 a0",    "dev_flush q1 c1 u1", "dev_irq q1",
      "dev_pop q0 a0",      "dev_pop q0 a1",     "dev_fill q0 a0",     "dev_fill q0 a1",
      "dev_flush q0 c2 u2", "dev_pop q0 a2",     "dev_pop q0 a3",      "dev_fill q0 a2",
      "dev_flush q0 c1 u3", "dev_fill q0 a3",    "dev_flush q0 c1 u4", "reg_read",
      "dev_pop q1 a1",      "dev_fill q1 a1",    "dev_flush q1 c1 u2", "dev_pop q1 a2",
      "dev_fill q1 a2",     "dev_flush q1 c1 u3"};
  EXPECT_EQ(dev, want);
  EXPECT_EQ(r.stats.packed_flushes_derived, 6u);
  EXPECT_EQ(r.stats.packed_fill_gaps, 0u);
  EXPECT_EQ(r.stats.unmatched_fills, 0u);
  EXPECT_EQ(r.header["capture"]["ring"], "packed");
  EXPECT_EQ(r.header["capture"]["stats"]["packed_flushes_derived"], 6);
  EXPECT_EQ(r.header["features"]["negotiated"], "0x500018020");
}

// A QEMU that does log its packed flushes: the real flush closes the
// batch, nothing is derived twice.
TEST(Converter, PackedRingRealFlushWins) {
  Log log = bring_up_packed();
  log.line(kMain, "virtqueue_pop vq 0xa8 elem 0xe1 in_num 0 out_num 1");
  log.line(kMain, "virtqueue_fill vq 0xa8 elem 0xe1 len 0 idx 0");
  log.line(kMain, "virtqueue_flush vq 0xa8 count 1");
  log.line(kMain, "virtio_notify vdev 0xd0 vq 0xa8");
  Result r = convert(log.lines_);
  std::vector<std::string> dev = device_side(r);
  dev.erase(dev.begin(), std::find(dev.begin(), dev.end(), "dev_pop q1 a0"));
  const std::vector<std::string> want = {"dev_pop q1 a0", "dev_fill q1 a0", "dev_flush q1 c1 u1",
                                         "dev_irq q1"};
  EXPECT_EQ(dev, want);
  EXPECT_EQ(r.stats.packed_flushes_derived, 0u);
}

// A split ring's capture is as it was: no derived flush, no packed header.
TEST(Converter, SplitRingHasNoDerivedFlushes) {
  Log log = bring_up();
  log.line(kMain, "virtqueue_pop vq 0xa8 elem 0xe1 in_num 0 out_num 1");
  log.line(kMain, "virtqueue_fill vq 0xa8 elem 0xe1 len 0 idx 0");
  log.line(kMain, "virtio_notify vdev 0xd0 vq 0xa8");
  Result r = convert(log.lines_);
  EXPECT_EQ(find(r, "dev_flush"), r.events.size());
  EXPECT_FALSE(r.header["capture"].contains("ring"));
  EXPECT_FALSE(r.header["capture"]["stats"].contains("packed_flushes_derived"));
}

// Cut or lost lines in a packed capture: a fill whose batch index does
// not continue its batch (the fills before it are missing) is counted as
// a gap (the conversion is incomplete); malformed pop/fill lines are
// counted, close the open batch, and never crash; a log cut after a
// batch's fills still commits them.
TEST(Converter, PackedRingTruncatedAndMalformedBatches) {
  Log log = bring_up_packed();
  log.line(kMain, "virtqueue_pop vq 0xa0 elem 0xe9 in_num 1 out_num 0");
  log.line(kMain, "virtqueue_pop vq 0xa0 elem 0xea in_num 1 out_num 0");
  log.line(kMain, "virtqueue_fill vq 0xa0 elem 0xea len 600 idx 1");  // idx 0 lost
  log.line(kMain, "virtqueue_fill vq 0xa0 elem 0xe9 len 6");          // malformed: no idx
  log.line(kMain, "virtqueue_pop vq 0xa8 elem 0xe1 in_num 0 out_num 1");
  log.line(kMain, "virtqueue_fill vq 0xa8 elem 0xe1 len 0 idx 0");
  log.lines_.push_back("101@1700000000.999999:virtqueue_fill vq 0xa8 el");  // cut mid-line
  Result r = convert(log.lines_);
  EXPECT_EQ(r.stats.packed_fill_gaps, 1u);
  EXPECT_EQ(r.stats.malformed, 2u);
  std::vector<std::string> dev = device_side(r);
  dev.erase(dev.begin(), std::find(dev.begin(), dev.end(), "dev_pop q0 a0"));
  const std::vector<std::string> want = {"dev_pop q0 a0",      "dev_pop q0 a1", "dev_fill q0 a1",
                                         "dev_flush q0 c1 u1", "dev_pop q1 a0", "dev_fill q1 a0",
                                         "dev_flush q1 c1 u1"};
  EXPECT_EQ(dev, want);
  EXPECT_EQ(r.header["capture"]["stats"]["packed_fill_gaps"], 1);
}

TEST(Converter, ResetForgetsQueues) {
  Log log = bring_up();
  log.common(true, 0x14, 0, 1).line(kVcpu, "virtio_set_status vdev 0xd0 val 0");
  // After the reset the vq pointer means nothing until it is kicked again.
  log.line(kVcpu, "virtqueue_pop vq 0xa8 elem 0xe1 in_num 0 out_num 1");
  Result r = convert(log.lines_);
  EXPECT_EQ(find(r, "dev_pop"), r.events.size());
  EXPECT_EQ(r.stats.unattributed_pops, 1u);
  EXPECT_EQ(r.header["capture"]["device_resets"], 2);
}

TEST(Converter, TruncatedLastLineIsCountedNotFatal) {
  Log log = bring_up();
  log.lines_.push_back("100@1700000000.000100:virtqueue_pop vq 0xa8 elem 0xe1 in_n");
  log.lines_.push_back(log.lines_.front().substr(0, 60));           // a region access cut mid-way
  log.lines_.push_back("100@1700000000.000101:virtio_queue_noti");  // cut in the name: unknown
  Result r = convert(log.lines_);
  EXPECT_EQ(r.stats.malformed, 2u);
  EXPECT_EQ(r.stats.unknown, 1u);
  EXPECT_EQ(r.stats.first_malformed_line, log.lines_.size() - 2);
  EXPECT_NE(find(r, "mark"), r.events.size());
}

TEST(Converter, ForeignTextIsNotAQemuLog) {
  Result r = convert({"hello world", "Nov 22 10:00:01 host kernel: eth0 up", "{\"ev\":\"end\"}",
                      "virtio is nice", ""});
  EXPECT_EQ(r.stats.qemu_lines, 0u);
  EXPECT_EQ(r.stats.foreign, 4u);
  EXPECT_TRUE(r.events.empty());
}

TEST(Converter, OtherDevicesAreLeftOut) {
  Log log;
  log.line(kVcpu, "pci_cfg_read virtio-blk-pci 00:04.0 @0x0 -> 0x1af4");
  log.mmio(true, "virtio-pci", 0xc040, 1, 2);  // a legacy BAR of no known function
  log.line(kVcpu, "virtio_queue_notify vdev 0x77 n 0 vq 0x78");
  log.line(kVcpu, "virtqueue_pop vq 0x78 elem 0x1 in_num 1 out_num 1");
  log.line(kVcpu, "serial_ioport_write write addr 0x00 val 0x41");  // an event we do not use
  Result r = convert(log.lines_);
  EXPECT_TRUE(r.events.empty());
  EXPECT_GT(r.stats.qemu_lines, 0u);
  EXPECT_EQ(r.stats.unknown, 1u);
  EXPECT_EQ(r.stats.unknown_events.count("serial_ioport_write"), 1u);
}

// Device id 0x1000 is legacy or transitional: a vendor capability in the
// list tells. Linux walks the list with one word read per capability (id
// and next pointer), ours with byte reads; both must find it, also behind
// a first capability of another kind.
std::string kind_after_walk(bool word_walk, bool vendor_cap) {
  Log log;
  log.cfg_read(0x0, 2, 0x1af4).cfg_read(0x2, 2, 0x1000);
  log.cfg_read(0x34, 1, 0x98);
  const uint32_t second_id = vendor_cap ? 0x09 : 0x05;
  if (word_walk) {
    log.cfg_read(0x98, 2, 0x8411);  // MSI-X, next 0x84
    log.cfg_read(0x84, 2, 0x0000 | second_id);
  } else {
    log.cfg_read(0x98, 1, 0x11).cfg_read(0x99, 1, 0x84);
    log.cfg_read(0x84, 1, second_id).cfg_read(0x85, 1, 0x00);
  }
  log.cfg_write(0x4, 2, 0x107);
  log.mmio(false, "virtio-pci", 0xc000, 0, 4);
  Result r = convert(log.lines_);
  return r.header["device"]["kind"].get<std::string>();
}

TEST(Converter, TransitionalFromEitherCapabilityWalk) {
  EXPECT_EQ(kind_after_walk(/*word_walk=*/true, /*vendor_cap=*/true), "transitional");
  EXPECT_EQ(kind_after_walk(/*word_walk=*/false, /*vendor_cap=*/true), "transitional");
  EXPECT_EQ(kind_after_walk(/*word_walk=*/true, /*vendor_cap=*/false), "legacy");
  EXPECT_EQ(kind_after_walk(/*word_walk=*/false, /*vendor_cap=*/false), "legacy");
}

// Firmware programs a BAR with its base only: the I/O and 64-bit bits are
// read-only and the device answers them. The BAR's type must come from
// the device's answers (a read, or the sizing read-back of 0xFFFFFFFF),
// never from the guest's write (issue 11: a legacy capture of iPXE or
// OVMF converted to zero events).
TEST(Converter, BarTypeFromTheDeviceNotFromTheWrite) {
  Log log;
  log.cfg_read(0x0, 2, 0x1af4).cfg_read(0x2, 2, 0x1000);
  log.cfg_read(0x10, 4, 0x1);  // I/O BAR, unprogrammed
  log.cfg_write(0x10, 4, 0xffffffff).cfg_read(0x10, 4, 0xffffffe1).cfg_write(0x10, 4, 0x1);
  log.cfg_write(0x10, 4, 0xc000);  // the base, without the I/O bit
  log.cfg_write(0x4, 2, 0x103);
  log.mmio(true, "virtio-pci", 0xc012, 0, 1);
  log.mmio(false, "virtio-pci", 0xc000, 0x79bf8064, 4);
  log.mmio(false, "virtio-pci", 0xc020, 0, 4);  // outside the 0x20 bytes sized: another device
  Result r = convert(log.lines_);
  size_t status = find(r, "reg_write", find(r, "mark"));
  ASSERT_LT(status, r.events.size());
  EXPECT_EQ(r.events[status]["region"], "bar0");
  EXPECT_EQ(r.events[status]["off"], 0x12);
  EXPECT_EQ(r.events[status + 1]["val"], 0x79bf8064u);
  EXPECT_EQ(r.stats.nic_registers, 2u);
  EXPECT_EQ(r.stats.offset_guessed, 0u);
  EXPECT_EQ(r.header["transport"], "pci-legacy");
  EXPECT_EQ(r.header["offers"]["legacy"], "0x79bf8064");
}

TEST(Converter, SixtyFourBitBarWrittenWithoutItsTypeBits) {
  Log log;
  log.cfg_read(0x0, 2, 0x1af4).cfg_read(0x2, 2, 0x1041);
  log.cfg_write(0x20, 4, 0xffffffff).cfg_read(0x20, 4, 0xffffc00c);
  log.cfg_write(0x24, 4, 0xffffffff).cfg_read(0x24, 4, 0xffffffff);
  log.cfg_write(0x20, 4, 0xfe000000).cfg_write(0x24, 4, 0);  // OVMF/SeaBIOS: base only
  log.cfg_write(0x4, 2, 0x107);
  log.mmio(false, "virtio-pci-common-virtio-net", 0xfe000014, 0, 1);
  log.mmio(false, "virtio-pci-device-virtio-net", 0xfe002000, 0x52, 1);
  Result r = convert(log.lines_);
  EXPECT_EQ(r.stats.offset_guessed, 0u);
  size_t first = find(r, "reg_read", find(r, "mark"));
  ASSERT_LT(first + 1, r.events.size());
  EXPECT_EQ(r.events[first]["region"], "bar4");
  EXPECT_EQ(r.events[first]["off"], 0x14);
  EXPECT_EQ(r.events[first + 1]["off"], 0x2000);
}

// A narrow read of a 32-bit feature register: the event keeps what the
// guest saw (the access width, the value cut to it); the offer is the
// device's whole answer, which QEMU logs before the cut (iPXE reads the
// modern feature register with 16-bit accesses).
TEST(Converter, NarrowFeatureReadKeepsTheDevicesWholeOffer) {
  Log log = firmware_and_enable();
  log.common(true, 0x00, 0, 4).common(false, 0x04, 0x30bf8024, 2);
  log.common(true, 0x00, 1, 4).common(false, 0x04, 0x101, 2);
  log.common(true, 0x08, 0, 4).common(true, 0x0c, 0x20, 4);
  log.common(true, 0x08, 1, 4).common(true, 0x0c, 0x1, 4);
  Result r = convert(log.lines_);
  size_t read = find(r, "reg_read", find(r, "mark"));
  ASSERT_LT(read, r.events.size());
  EXPECT_EQ(r.events[read]["w"], 2);
  EXPECT_EQ(r.events[read]["val"], 0x8024);
  EXPECT_EQ(r.header["features"]["offered"], "0x10130bf8024");
  EXPECT_EQ(r.header["features"]["negotiated"], "0x100000020");
  EXPECT_EQ(r.header["offers"]["modern"], "0x10130bf8024");
  EXPECT_EQ(r.stats.widened_from_log, 1u);  // 0x101 fits in 16 bits
}

// A driver that reads a 32-bit register in two halves: the offer is
// assembled from both.
TEST(Converter, SplitFeatureReadsAreAssembled) {
  Log log = firmware_and_enable();
  log.common(true, 0x00, 0, 4).common(false, 0x04, 0x8024, 2).common(false, 0x06, 0x30bf, 2);
  log.common(true, 0x00, 1, 4).common(false, 0x04, 0x1, 1).common(false, 0x05, 0x1, 1);
  log.common(false, 0x06, 0, 2);
  log.common(true, 0x08, 0, 4).common(true, 0x0c, 0x20, 2).common(true, 0x0e, 0, 2);
  log.common(true, 0x08, 1, 4).common(true, 0x0c, 0x1, 4);
  Result r = convert(log.lines_);
  EXPECT_EQ(r.header["features"]["offered"], "0x10130bf8024");
  EXPECT_EQ(r.header["features"]["negotiated"], "0x100000020");
}

// A transitional device driven through its legacy interface (OVMF's
// VirtioNetDxe does this): the header says which interface the guest used
// and what that interface offered, so device mode can rebuild it.
TEST(Converter, TransitionalDrivenThroughLegacy) {
  Log log;
  log.cfg_read(0x0, 2, 0x1af4).cfg_read(0x2, 2, 0x1000);
  log.cfg_read(0x34, 1, 0x84).cfg_read(0x84, 2, 0x0009);  // a vendor capability
  log.cfg_write(0x10, 4, 0xffffffff).cfg_read(0x10, 4, 0xffffffe1).cfg_write(0x10, 4, 0xc000);
  log.cfg_write(0x4, 2, 0x103);
  log.mmio(true, "virtio-pci", 0xc012, 0, 1);
  log.mmio(false, "virtio-pci", 0xc000, 0x79bf8064, 4);
  log.mmio(true, "virtio-pci", 0xc004, 0x10020, 4);
  Result r = convert(log.lines_);
  EXPECT_EQ(r.header["device"]["kind"], "transitional");
  EXPECT_EQ(r.header["transport"], "pci-legacy");
  EXPECT_EQ(r.header["features"]["offered"], "0x79bf8064");
  EXPECT_EQ(r.header["offers"].size(), 1u);
  EXPECT_EQ(r.header["offers"]["legacy"], "0x79bf8064");
}

// Only the configuration space of the NIC: nothing of the NIC itself.
TEST(Converter, ConfigSpaceAloneIsNothingOfTheNic) {
  Log log;
  log.cfg_read(0x0, 2, 0x1af4).cfg_read(0x2, 2, 0x1000).cfg_write(0x4, 2, 0x103);
  log.mmio(false, "virtio-pci", 0xc000, 0x79bf8064, 4);  // no BAR known: not placed
  Result r = convert(log.lines_);
  EXPECT_FALSE(r.events.empty());
  EXPECT_EQ(r.stats.nic_registers, 0u);
  EXPECT_EQ(r.stats.device_side, 0u);
}

// A polling loop (iPXE reads the ISR hundreds of thousands of times a
// second under TCG): with compaction, identical consecutive accesses are
// one line with "rep", and the header says format version 2.
TEST(Converter, PollingLoopsBecomeOneLineWithACount) {
  Log log = firmware_and_enable();
  for (int i = 0; i < 1000; ++i) log.mmio(false, "virtio-pci-isr-virtio-net", 0xfebf9000, 0, 1);
  log.mmio(false, "virtio-pci-isr-virtio-net", 0xfebf9000, 1, 1);
  for (int i = 0; i < 3; ++i) log.mmio(false, "virtio-pci-isr-virtio-net", 0xfebf9000, 0, 1);
  Result r = convert(log.lines_, /*compact=*/true);
  const size_t mark = find(r, "mark");
  ASSERT_LT(mark + 3, r.events.size());
  EXPECT_EQ(r.events[mark + 1]["off"], 0x1000);
  EXPECT_EQ(r.events[mark + 1]["rep"], 1000);
  EXPECT_EQ(r.events[mark + 2]["val"], 1);
  EXPECT_FALSE(r.events[mark + 2].contains("rep"));
  EXPECT_EQ(r.events[mark + 3]["rep"], 3);
  EXPECT_EQ(r.stats.accesses, 1004u + 9u);  // the ISR reads and the firmware's 9 config accesses
  EXPECT_EQ(r.header["version"], 2);
  Result plain = convert(log.lines_);
  EXPECT_EQ(plain.header["version"], 1);
  EXPECT_EQ(plain.events.size(), r.events.size() + 999 + 2);
}

TEST(Converter, WithoutTimestampsToo) {
  Log plain(false);
  plain.cfg_read(0x0, 2, 0x1af4).cfg_write(0x4, 2, 0x107);
  plain.common(false, 0x14, 0, 1);
  Result r = convert(plain.lines_);
  EXPECT_NE(find(r, "mark"), r.events.size());
  EXPECT_FALSE(r.header["capture"]["timestamps"].get<bool>());
}

}  // namespace
}  // namespace trace2json
