// Oracles that provably fire (issue 10, item 1): every fuzz oracle
// (fuzz/harness/findings.h) and the fuzz pool's poisoning, each shown
// reporting the bug it exists for, by name.
//
//   fuzz_oracle_fire_test [PREFIX]   runs every case whose name starts with
//                                    PREFIX, each in a child process
//   fuzz_oracle_fire_test --one CASE runs one case in this process
//
// A case plants its bug as a hand-made call sequence: the test plays a
// buggy driver on an OraclePlatform (over a scripted device side) and a
// FuzzPool, or -- for conformance (e) -- the real driver on the mock device
// in the fuzz World, with one register write the driver would never make.
// A case passes when its child dies and stderr names the expected oracle
// ("vnet-fuzz: FINDING ownership (b): ...") and the expected detail, or,
// for ASan poisoning, ASan's "use-after-poison". Control cases (expect
// nothing) show that the legitimate sequence next to each bug is quiet:
// a child that exits 0 without any finding.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "driver/platform/platform.h"
#include "driver/spec/mmio_layout.h"
#include "driver/spec/packed_ring_layout.h"
#include "driver/spec/pci_layout.h"
#include "driver/virtqueue/packed_queue.h"
#include "fuzz/harness/decision_reference.h"
#include "fuzz/harness/fuzz_pool.h"
#include "fuzz/harness/interrupt_reference.h"
#include "fuzz/harness/oracle_platform.h"
#include "fuzz/harness/setups.h"
#include "fuzz/harness/watchdog_reference.h"
#include "fuzz/harness/world.h"
#include "mock_device/guest_memory.h"

namespace {

using namespace vnet;
using namespace vnet::fuzz;

// ---- the device side: scripted register reads, nothing else ----
class ScriptedDevice final : public Platform {
 public:
  // What reads of the status register return, in order (then the last).
  std::vector<uint32_t> status_reads{0};
  size_t next_status = 0;

  uint32_t reg_read(Region region, uint32_t offset, uint8_t) override {
    // A transitional virtio-net device (4.1.2) in configuration space.
    if (region == Region::kPciConfig)
      return offset == 0x00 ? 0x1AF4u : offset == 0x02 ? 0x1000u : offset == 0x2E ? 1u : 0u;
    const uint32_t v =
        status_reads[next_status < status_reads.size() ? next_status : status_reads.size() - 1];
    ++next_status;
    return v;
  }
  void reg_write(Region, uint32_t, uint8_t, uint32_t) override {}
  // BAR 0: the legacy interface (I/O, 32 bytes).
  BarInfo bar_info(uint8_t bar) override {
    return bar == 0 ? BarInfo{true, true, 0x20} : BarInfo{};
  }
  bool dma_alloc(size_t size, size_t, DmaRegion* out) override {
    void* p = calloc(1, size);
    *out = DmaRegion{p, reinterpret_cast<uintptr_t>(p), size};
    return p != nullptr;
  }
  void dma_free(const DmaRegion& r) override { ::free(r.cpu); }
  void fetch(const DeviceMemRef&, const volatile void* src, void* dst, size_t len) override {
    memcpy(dst, const_cast<const void*>(src), len);
  }
  void barrier(Barrier) override {}
  uint64_t now_ns() override { return clock_ += 1000; }
  void log(LogLevel, const char*) override {}

 private:
  uint64_t clock_ = 0;
};

// One oracle platform and pool per child (a case runs once per process).
struct Bench {
  mock::GuestMemory memory{size_t{1} << 20};
  FuzzPool pool{memory, 16, 2048};
  ScriptedDevice device;
  OraclePlatform* oracle = new OraclePlatform(pool);  // large tables: heap

  // The used ring the device completes through (complete()).
  struct UsedRing {
    uint16_t flags, idx;
    struct {
      uint32_t id, len;
    } elem[64];
  };
  UsedRing* used = static_cast<UsedRing*>(calloc(3, sizeof(UsedRing)));

  // The legacy interface's BAR asked for, as a probe does.
  Bench() {
    oracle->begin_input(device);
    oracle->bar_info(0);
  }

  // The device completes chain head of queue q with len, and the driver
  // takes it as the ring protocol says: used.idx, the element, then
  // completed() (oracle g checks each completion against what it fetched).
  void complete(uint16_t q, uint16_t head, uint32_t len) {
    UsedRing& u = used[q];
    const uint16_t slot = u.idx % 64;
    u.elem[slot].id = head;
    u.elem[slot].len = len;
    ++u.idx;
    uint16_t idx;
    uint8_t e[8];
    oracle->fetch(DeviceMemRef{q, MemPart::kUsedIdx, 0, true}, &u.idx, &idx, 2);
    oracle->barrier(Barrier::kRead);
    oracle->fetch(DeviceMemRef{q, MemPart::kUsedElem, slot, false}, &u.elem[slot], e, 8);
    oracle->completed(q, head, len);
  }

  // Publishes buffer b as the one-segment chain `head` of queue q.
  void publish(uint16_t q, uint16_t head, PacketBuffer* b, bool writable = true,
               uint32_t len = 2048) {
    PublishedChain c;
    c.queue = q;
    c.head = head;
    c.num_segments = 1;
    c.segments[0] = ChainSegment{head, len, writable, b->base};
    oracle->published(c);
  }
  // The legacy status register (BAR0 + 0x12) is the transport in use.
  void legacy() {
    // What a probe reads first: the identity.
    oracle->reg_read(Region::kPciConfig, 0x00, 2);
    oracle->reg_read(Region::kPciConfig, 0x02, 2);
    oracle->reg_read(Region::kPciConfig, 0x2E, 2);
    oracle->set_status_register(bar_region(0), spec::pci::legacy::kDeviceStatus);
  }
  void write_status(uint8_t v) {
    oracle->reg_write(bar_region(0), spec::pci::legacy::kDeviceStatus, 1, v);
  }
  uint8_t read_status() {
    return static_cast<uint8_t>(
        oracle->reg_read(bar_region(0), spec::pci::legacy::kDeviceStatus, 1));
  }
};

struct Case {
  const char* name;
  const char* expect;  // substring of stderr; nullptr: must run clean
  const char* detail;  // a second substring (the finding's detail), or nullptr
  void (*run)();
};

constexpr const char* kOwn = "FINDING ownership (b)";
constexpr const char* kFrame = "FINDING frame-bounds (a)";
constexpr const char* kFetch = "FINDING double-fetch (c)";
constexpr const char* kBudget = "FINDING work-budget (d)";
constexpr const char* kConf = "FINDING conformance (e)";
constexpr const char* kPoison = "use-after-poison";
constexpr const char* kWindow = "FINDING window (f)";
constexpr const char* kProtocol = "FINDING protocol (g)";
constexpr const char* kDecision = "FINDING decision (h)";

// ---------------- ownership (b): tied to an acknowledged reset ----------------

void own_free_posted() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  b.publish(0, 0, p);
  b.pool.free(p);  // the device still owns it
}

void own_free_reset_not_read_back() {
  Bench b;
  b.legacy();
  PacketBuffer* p = b.pool.alloc();
  b.publish(0, 0, p);
  b.write_status(0);  // reset asked for, never confirmed by a read
  b.pool.free(p);
}

void own_free_reset_not_acknowledged() {
  Bench b;
  b.legacy();
  b.device.status_reads = {0x0F};  // the device keeps its status: no reset
  PacketBuffer* p = b.pool.alloc();
  b.publish(0, 0, p);
  b.write_status(0);
  for (int i = 0; i < 8; ++i) b.read_status();
  b.pool.free(p);
}

void own_free_zero_to_other_register() {
  // The transport in use is modern (common cfg in BAR4 at 0x0): a one-byte
  // write of 0 to BAR0 + 0x12 that reads back 0 is not its reset (the old
  // oracle took any one-byte write of 0 to a BAR for one).
  Bench b;
  b.oracle->reg_read(Region::kPciConfig, 0x00, 2);  // the identity, as a probe reads it
  b.oracle->reg_read(Region::kPciConfig, 0x02, 2);
  b.oracle->reg_read(Region::kPciConfig, 0x2E, 2);
  b.oracle->set_status_register(bar_region(4), spec::pci::common::kDeviceStatus);
  PacketBuffer* p = b.pool.alloc();
  b.publish(0, 0, p);
  b.write_status(0);
  b.read_status();
  b.pool.free(p);
}

void own_free_status_nonzero_after_zero() {
  // Write 0, then a new status before any read: the reset was abandoned.
  Bench b;
  b.legacy();
  b.device.status_reads = {0};
  PacketBuffer* p = b.pool.alloc();
  b.publish(0, 0, p);
  b.write_status(0);
  b.write_status(1);  // ACKNOWLEDGE
  b.read_status();
  b.pool.free(p);
}

void own_free_spontaneous_zero() {
  // The status reads 0 but the driver never asked for a reset.
  Bench b;
  b.legacy();
  b.device.status_reads = {0};
  PacketBuffer* p = b.pool.alloc();
  b.publish(0, 0, p);
  b.read_status();
  b.pool.free(p);
}

void ok_free_after_acknowledged_reset() {
  Bench b;
  b.legacy();
  b.device.status_reads = {0x0F, 0x0F, 0};  // acknowledged on the third read
  PacketBuffer* p = b.pool.alloc();
  b.publish(0, 0, p);
  b.write_status(0);
  while (b.read_status() != 0) {
  }
  b.pool.free(p);
  b.oracle->check_all_returned("after stop()");
}

void ok_free_after_completion() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  b.publish(0, 0, p);
  b.complete(0, 0, 64);
  b.pool.free(p);
  b.oracle->check_all_returned("after stop()");
}

void own_unmap_posted() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  DmaMapping m;
  b.oracle->dma_map(p->base, p->device_addr, 2048, DmaDirection::kFromDevice, &m);
  b.publish(0, 0, p);
  b.oracle->dma_unmap(m, p->base, 0, DmaDirection::kFromDevice);
}

void own_unmap_reset_not_acknowledged() {
  Bench b;
  b.legacy();
  b.device.status_reads = {0x0F};
  PacketBuffer* p = b.pool.alloc();
  DmaMapping m;
  b.oracle->dma_map(p->base, p->device_addr, 2048, DmaDirection::kFromDevice, &m);
  b.publish(0, 0, p);
  b.write_status(0);
  b.read_status();
  b.oracle->dma_unmap(m, p->base, 0, DmaDirection::kFromDevice);
}

void ok_unmap_after_acknowledged_reset() {
  Bench b;
  b.legacy();
  PacketBuffer* p = b.pool.alloc();
  DmaMapping m;
  b.oracle->dma_map(p->base, p->device_addr, 2048, DmaDirection::kFromDevice, &m);
  b.publish(0, 0, p);
  b.write_status(0);
  b.read_status();
  b.oracle->dma_unmap(m, p->base, 0, DmaDirection::kFromDevice);
  b.pool.free(p);
  b.oracle->check_all_returned("after stop()");
}

void own_map_outside_pool() {
  Bench b;
  static uint8_t elsewhere[64];
  DmaMapping m;
  b.oracle->dma_map(elsewhere, 0x1000, sizeof elsewhere, DmaDirection::kToDevice, &m);
}

void own_map_across_buffers() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  DmaMapping m;
  b.oracle->dma_map(p->base + 2000, p->device_addr + 2000, 100, DmaDirection::kToDevice, &m);
}

void own_map_twice() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  DmaMapping m1, m2;
  b.oracle->dma_map(p->base, p->device_addr, 100, DmaDirection::kToDevice, &m1);
  b.oracle->dma_map(p->base, p->device_addr, 100, DmaDirection::kToDevice, &m2);
}

void own_unmap_not_mapped() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  DmaMapping m{p->device_addr, p->base, 100, 0};
  b.oracle->dma_unmap(m, p->base, 0, DmaDirection::kToDevice);
}

void own_unmap_len_above_mapping() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  DmaMapping m;
  b.oracle->dma_map(p->base, p->device_addr, 100, DmaDirection::kFromDevice, &m);
  b.oracle->dma_unmap(m, p->base, 200, DmaDirection::kFromDevice);
}

void own_free_twice() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  b.pool.free(p);
  b.pool.free(p);
}

void own_free_foreign() {
  Bench b;
  static PacketBuffer other;
  b.pool.free(&other);
}

void own_publish_owned() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  b.publish(0, 0, p);
  b.publish(0, 0, p);
}

void own_completion_not_owned() {
  Bench b;
  b.complete(0, 5, 0);
}

void own_ring_freed_while_owned() {
  Bench b;
  DmaRegion ring;
  b.oracle->dma_alloc(4096, 4096, &ring);
  PacketBuffer* p = b.pool.alloc();
  b.publish(0, 0, p);
  b.oracle->dma_free(ring);
}

void own_buffer_leak() {
  Bench b;
  b.pool.alloc();
  b.oracle->check_all_returned("after stop()");
}

void own_mapping_leak() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  DmaMapping m;
  b.oracle->dma_map(p->base, p->device_addr, 100, DmaDirection::kToDevice, &m);
  b.pool.free(p);
  b.oracle->check_all_returned("after stop()");
}

void own_region_leak() {
  Bench b;
  DmaRegion ring;
  b.oracle->dma_alloc(4096, 4096, &ring);
  b.oracle->check_all_returned("after stop()");
}

// ---------------- the pool's poisoning (ASan) ----------------

void poison_write_after_free() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  uint8_t* data = p->base;
  b.pool.free(p);
  static_cast<volatile uint8_t*>(data)[100] = 1;
}

void poison_read_after_free() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  p->base[0] = 7;
  const uint8_t* data = p->base;
  b.pool.free(p);
  uint8_t copy[16];
  memcpy(copy, data, sizeof copy);
  printf("%u\n", copy[0]);
}

void poison_never_lent() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();  // buffer 0; buffer 1 stays in the pool
  static_cast<volatile uint8_t*>(p->base)[2048 + 10] = 1;
}

void ok_poison_lifted_on_alloc() {
  Bench b;
  if (!FuzzPool::poisoning()) {
    fprintf(stderr, "not an ASan build: no poisoning\n");
    return;
  }
  PacketBuffer* p = b.pool.alloc();
  uint8_t* data = p->base;
  b.pool.free(p);
  if (!FuzzPool::poisoned(data) || !FuzzPool::poisoned(data + 2047)) {
    fprintf(stderr, "returned buffer not poisoned\n");
    _exit(3);
  }
  PacketBuffer* again = b.pool.alloc();
  if (again->base != data || FuzzPool::poisoned(data) || FuzzPool::poisoned(data + 2047)) {
    fprintf(stderr, "buffer lent again still poisoned\n");
    _exit(3);
  }
  memset(again->base, 1, 2048);
  b.pool.free(again);
  b.pool.reset();  // clears lent buffers: must not trip over the poison
}

void poison_device_window_other_buffer() {
  // A device that lied may reach a buffer returned since it began lying
  // (World::DeviceDma); any other returned buffer stays poisoned even then.
  Bench b;
  PacketBuffer* early = b.pool.alloc();
  PacketBuffer* late = b.pool.alloc();
  uint8_t* early_data = early->base;
  b.pool.free(early);
  b.pool.set_device_lies();
  b.pool.free(late);
  b.pool.device_dma_begin();
  b.pool.device_reach(early_data, 64);  // the device reaches it: not a suspect
  static_cast<volatile uint8_t*>(early_data)[5] = 1;
}

void ok_poison_device_window_suspect() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  uint8_t* data = p->base;
  b.pool.set_device_lies();
  b.pool.free(p);
  b.pool.device_dma_begin();
  b.pool.device_reach(data + 5, 1);             // the device translates the range...
  static_cast<volatile uint8_t*>(data)[5] = 1;  // ... for the lying device's late write
  b.pool.device_dma_end();
  if (FuzzPool::poisoning() && !FuzzPool::poisoned(data)) {
    fprintf(stderr, "suspect buffer not poisoned again after the device ran\n");
    _exit(3);
  }
}

// ---------------- frame-bounds (a) ----------------

void frame_beyond_used_len() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.publish(0, 0, p);
  b.complete(0, 0, 100);
  b.oracle->frame_in_place(0, 0, p->base + 12, 200);
}

void frame_overruns_buffer() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.publish(0, 0, p, true, 512);
  b.complete(0, 0, 4000);  // the device claims more than the buffer
  b.oracle->frame_in_place(0, 0, p->base + 12, 1000);
}

void frame_not_completed() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.publish(0, 0, p);
  b.oracle->frame_in_place(0, 0, p->base + 12, 60);
}

void frame_completed_earlier_operation() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.publish(0, 0, p);
  b.complete(0, 0, 100);
  b.oracle->op_end(DriverOp::kRxBurst);
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.oracle->frame_in_place(0, 0, p->base + 12, 60);
}

void frame_outside_chain() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  PacketBuffer* q = b.pool.alloc();
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.publish(0, 0, p);
  b.complete(0, 0, 100);
  b.oracle->frame_in_place(0, 0, q->base + 12, 60);
}

void frame_announced_twice() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.publish(0, 0, p);
  b.complete(0, 0, 100);
  b.oracle->frame_in_place(0, 0, p->base + 12, 60);
  b.oracle->frame_in_place(0, 0, p->base + 12, 60);
}

void frame_delivered_unannounced() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.publish(0, 0, p);
  b.complete(0, 0, 100);
  b.oracle->check_delivered(p->base + 12, 60);
}

void frame_delivered_twice() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.publish(0, 0, p);
  b.complete(0, 0, 100);
  b.oracle->frame_in_place(0, 0, p->base + 12, 60);
  b.oracle->check_delivered(p->base + 12, 60);
  b.oracle->check_delivered(p->base + 12, 60);
}

void frame_delivered_not_pool() {
  Bench b;
  static uint8_t elsewhere[64];
  b.oracle->check_delivered(elsewhere, 60);
}

void ok_frame_in_completed_buffer() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.publish(0, 0, p);
  b.complete(0, 0, 72);
  b.oracle->frame_in_place(0, 0, p->base + 12, 60);
  b.oracle->check_delivered(p->base + 12, 60);
  b.oracle->op_end(DriverOp::kRxBurst);
}

// ---------------- double-fetch (c) ----------------

void fetch_used_idx_twice() {
  Bench b;
  static uint16_t used_idx = 3;
  uint16_t v;
  const DeviceMemRef ref{0, MemPart::kUsedIdx, 0, false};
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.oracle->fetch(ref, &used_idx, &v, sizeof v);
  b.oracle->fetch(ref, &used_idx, &v, sizeof v);
}

void fetch_used_elem_in_run_again() {
  Bench b;
  static uint8_t ring[8 * 8];
  uint8_t v[32];
  b.oracle->op_begin(DriverOp::kTxBurst);
  b.oracle->fetch(DeviceMemRef{1, MemPart::kUsedElem, 0, false}, ring, v, 32);      // slots 0-3
  b.oracle->fetch(DeviceMemRef{1, MemPart::kUsedElem, 2, false}, ring + 16, v, 8);  // slot 2
}

void fetch_rx_header_twice() {
  Bench b;
  static uint8_t hdr[12];
  uint8_t v[12];
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.oracle->fetch(DeviceMemRef{0, MemPart::kRxHeader, 7, false}, hdr, v, sizeof v);
  b.oracle->fetch(DeviceMemRef{0, MemPart::kRxHeader, 7, false}, hdr, v, sizeof v);
}

void ok_fetch_recheck_and_new_operation() {
  Bench b;
  static uint16_t used_idx = 3, used_idx_q1 = 3;
  uint16_t v;
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.oracle->fetch(DeviceMemRef{0, MemPart::kUsedIdx, 0, false}, &used_idx, &v, sizeof v);
  b.oracle->fetch(DeviceMemRef{0, MemPart::kUsedIdx, 0, true}, &used_idx, &v, sizeof v);
  b.oracle->fetch(DeviceMemRef{1, MemPart::kUsedIdx, 0, false}, &used_idx_q1, &v, sizeof v);
  b.oracle->op_end(DriverOp::kRxBurst);
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.oracle->fetch(DeviceMemRef{0, MemPart::kUsedIdx, 0, false}, &used_idx, &v, sizeof v);
  b.oracle->op_end(DriverOp::kRxBurst);
}

// ---------------- work-budget (d) ----------------

void budget_spin_in_operation() {
  Bench b;
  b.oracle->op_begin(DriverOp::kStop);
  for (uint32_t i = 0; i <= OraclePlatform::kWorkBudget; ++i)
    b.oracle->reg_read(bar_region(0), spec::pci::legacy::kDeviceStatus, 1);
}

void budget_spin_between_operations() {
  Bench b;
  for (uint32_t i = 0; i <= OraclePlatform::kWorkBudget; ++i) b.oracle->now_ns();
}

void ok_budget_per_operation() {
  Bench b;
  for (int op = 0; op < 3; ++op) {
    b.oracle->op_begin(DriverOp::kPollDevice);
    for (uint32_t i = 0; i < OraclePlatform::kWorkBudget - 8; ++i) b.oracle->now_ns();
    b.oracle->op_end(DriverOp::kPollDevice);
  }
}

// ---------------- conformance (e): the real driver on the mock ----------------

mock::DeviceConfig legacy_device() {
  mock::DeviceConfig c;
  c.transport = mock::TransportKind::kLegacy;
  return c;
}

void conformance_features_after_driver_ok() {
  World& w = World::get();
  w.begin_mock(legacy_device(), "oracle_fire_test");
  if (!w.bring_up(PciMode::kAuto, fuzz_net_options())) {
    fprintf(stderr, "bring-up failed\n");
    _exit(3);
  }
  // What no driver may do (3.1.1): write its features after DRIVER_OK.
  w.oracle().reg_write(bar_region(0), spec::pci::legacy::kDriverFeatures, 4, 0);
  w.end();
}

void conformance_notify_missing_queue() {
  World& w = World::get();
  w.begin_mock(legacy_device(), "oracle_fire_test");
  if (!w.bring_up(PciMode::kAuto, fuzz_net_options())) _exit(3);
  // Straight to the device: through the OraclePlatform, oracle (f) would
  // report it first (window.notify_queue_never_enabled).
  w.mock_shim().reg_write(bar_region(0), spec::pci::legacy::kQueueNotify, 2, 7);
  w.end();
}

void ok_conformance_misbehaving_device() {
  // The same driver-side violation on input that made the device lie:
  // oracle (e) does not apply.
  World& w = World::get();
  w.begin_mock(legacy_device(), "oracle_fire_test");
  if (!w.bring_up(PciMode::kAuto, fuzz_net_options())) _exit(3);
  w.oracle().reg_write(bar_region(0), spec::pci::legacy::kDriverFeatures, 4, 0);
  w.note_misbehaviour();
  w.end();
}

void ok_world_traffic_and_stop() {
  // The real driver, both transports: attach posts rx buffers, traffic
  // completes some, stop() resets (acknowledged) and returns everything --
  // no ownership finding with the reset tied to the status register.
  World& w = World::get();
  for (mock::TransportKind t : {mock::TransportKind::kLegacy, mock::TransportKind::kModern}) {
    mock::DeviceConfig c;
    c.transport = t;
    w.begin_mock(c, "oracle_fire_test");
    if (!w.bring_up(PciMode::kAuto, fuzz_net_options())) _exit(3);
    w.tx_burst(4, 200, 1);
    w.poll_device();
    w.tx_reclaim();
    w.rx_burst(8);
    w.recover();
    w.restart();
    w.end();
  }
}

// The real driver on the mock device, whose reset never completes: stop()
// quarantines the buffers (no finding), then a buggy caller tells the
// driver the device is gone while the device model lives on -- the driver
// hands every posted buffer back while the device still owns it.
void quarantine_world(bool tell_oracle) {
  World& w = World::get();
  w.begin_mock(legacy_device(), "oracle_fire_test");
  if (!w.bring_up(PciMode::kAuto, fuzz_net_options())) _exit(3);
  mock::Fault f;
  f.kind = mock::FaultKind::kResetLatency;
  f.value = 1u << 30;
  w.device().arm(f);
  w.taint_device();
  w.note_misbehaviour();
  w.session().stop();
  if (!w.net().quarantined()) {
    fprintf(stderr, "stop() did not quarantine\n");
    _exit(3);
  }
  if (tell_oracle) {
    w.end();  // the harness's own path: the device model is discarded
  } else {
    w.net().device_gone();
  }
}

void own_real_driver_device_gone_early() {
  quarantine_world(false);
}

void ok_real_driver_quarantine_then_end() {
  quarantine_world(true);
}

// ---------------- window (f), protocol (g): a device that answers from an image ----------------

// PCI configuration space from an image, BARs of given sizes, the status
// register and device_feature from fields; every other read returns 0.
class ImageDevice final : public Platform {
 public:
  uint8_t cfg[256] = {};
  BarInfo bars[kNumBars] = {};
  uint8_t status_read = 0;  // what the modern device_status reads
  uint32_t offer[2] = {};   // device_feature by select
  uint32_t select = 0;
  uint8_t generation = 0;     // config_generation
  bool churn = false;         // it changes on every read
  uint16_t queue_enable = 0;  // what queue_enable reads

  ImageDevice() {
    // One capability at 0x40: common configuration, BAR 4, offset 0,
    // 0x38 bytes; BAR 4 is 16 KiB of memory.
    cfg[0x00] = 0xF4;  // vendor 0x1AF4, device 0x1041: modern virtio-net
    cfg[0x01] = 0x1A;
    cfg[0x02] = 0x41;
    cfg[0x03] = 0x10;
    cfg[0x06] = 0x10;
    cfg[0x34] = 0x40;
    set_cap(0x40, 1, 4, 0, 0x38);
    bars[4] = BarInfo{true, false, 0x4000};
  }
  void set_cap(uint32_t at, uint8_t type, uint8_t bar, uint32_t offset, uint32_t length) {
    cfg[at] = 0x09;
    cfg[at + 1] = 0;
    cfg[at + 2] = 16;
    cfg[at + 3] = type;
    cfg[at + 4] = bar;
    for (int i = 0; i < 4; ++i) {
      cfg[at + 8 + i] = static_cast<uint8_t>(offset >> (8 * i));
      cfg[at + 12 + i] = static_cast<uint8_t>(length >> (8 * i));
    }
  }
  uint32_t reg_read(Region r, uint32_t off, uint8_t w) override {
    if (r == Region::kPciConfig) {
      uint32_t v = 0;
      for (uint32_t i = 0; i < w && off + i < sizeof cfg; ++i)
        v |= uint32_t{cfg[off + i]} << (8 * i);
      return v;
    }
    if (off == spec::pci::common::kDeviceStatus) return status_read;
    if (off == spec::pci::common::kConfigGeneration) return churn ? generation++ : generation;
    if (off == spec::pci::common::kDeviceFeature) return select < 2 ? offer[select] : 0;
    if (off == spec::pci::common::kQueueEnable && w == 2) return queue_enable;
    return 0;
  }
  void reg_write(Region, uint32_t off, uint8_t, uint32_t v) override {
    if (off == spec::pci::common::kDeviceFeatureSelect) select = v;
  }
  BarInfo bar_info(uint8_t bar) override { return bar < kNumBars ? bars[bar] : BarInfo{}; }
  bool dma_alloc(size_t size, size_t, DmaRegion* out) override {
    void* p = calloc(1, size);
    *out = DmaRegion{p, reinterpret_cast<uintptr_t>(p), size};
    return p != nullptr;
  }
  void dma_free(const DmaRegion& r) override { ::free(r.cpu); }
  void fetch(const DeviceMemRef&, const volatile void* src, void* dst, size_t len) override {
    memcpy(dst, const_cast<const void*>(src), len);
  }
  void barrier(Barrier) override {}
  uint64_t now_ns() override { return 0; }
  void log(LogLevel, const char*) override {}
};

struct ImageBench {
  mock::GuestMemory memory{size_t{1} << 20};
  FuzzPool pool{memory, 16, 2048};
  ImageDevice device;
  OraclePlatform* oracle = new OraclePlatform(pool);

  ImageBench() { oracle->begin_input(device); }
  // What a driver's probe reads: PCI status (the capability list bit), the
  // capability pointer and the whole of each capability, then the BAR's
  // size.
  void probe_cap(uint32_t at) {
    oracle->reg_read(Region::kPciConfig, 0x06, 2);
    oracle->reg_read(Region::kPciConfig, 0x34, 1);
    for (uint32_t i = 0; i < 16; i += 4) oracle->reg_read(Region::kPciConfig, at + i, 4);
    oracle->bar_info(device.cfg[at + 4]);
  }
  void common_write(uint32_t off, uint8_t w, uint32_t v) {
    oracle->reg_write(bar_region(4), off, w, v);
  }
  uint32_t common_read(uint32_t off, uint8_t w) { return oracle->reg_read(bar_region(4), off, w); }
  // The modern transport is in use: status at common + 0x14.
  void modern() {
    oracle->reg_read(Region::kPciConfig, 0x00, 2);
    oracle->reg_read(Region::kPciConfig, 0x02, 2);
    probe_cap(0x40);
    oracle->set_status_register(bar_region(4), spec::pci::common::kDeviceStatus);
  }
  // 3.1.1 up to FEATURES_OK: reset, ACKNOWLEDGE, DRIVER, the offer read,
  // the driver's features written.
  void init_to_features(uint32_t accepted_lo, bool read_offer = true, uint32_t accepted_hi = 1) {
    namespace c = spec::pci::common;
    common_write(c::kDeviceStatus, 1, 0);
    common_read(c::kDeviceStatus, 1);
    common_write(c::kDeviceStatus, 1, 1);
    common_write(c::kDeviceStatus, 1, 3);
    if (read_offer)
      for (uint32_t sel = 0; sel < 2; ++sel) {
        common_write(c::kDeviceFeatureSelect, 4, sel);
        common_read(c::kDeviceFeature, 4);
      }
    common_write(c::kDriverFeatureSelect, 4, 0);
    common_write(c::kDriverFeature, 4, accepted_lo);
    common_write(c::kDriverFeatureSelect, 4, 1);
    common_write(c::kDriverFeature, 4, accepted_hi);  // VERSION_1 (and more)
    common_write(c::kDeviceStatus, 1, 0x0B);
  }
};

void window_read_outside_capability() {
  ImageBench b;
  b.probe_cap(0x40);
  b.common_read(0x34, 4);  // inside: the last field of 0x38 bytes
  b.common_read(0x38, 4);  // beyond the window's 0x38 bytes
}

void window_capabilities_without_list_bit() {
  // PCI status says there is no capability list: the bytes at 0x40 are no
  // window, and a driver that walks them anyway reaches outside.
  ImageBench b;
  b.device.cfg[0x06] = 0;
  b.probe_cap(0x40);
  b.common_read(0x00, 4);
}

void window_capability_beyond_bar() {
  ImageBench b;
  b.device.set_cap(0x40, 1, 4, 0x3000, 0x2000);  // ends 4 KiB past the 16 KiB BAR
  b.probe_cap(0x40);
  b.common_read(0x3004, 4);
}

void window_bar_never_asked() {
  ImageBench b;
  b.oracle->reg_read(Region::kPciConfig, 0x34, 1);
  for (uint32_t i = 0; i < 16; i += 4) b.oracle->reg_read(Region::kPciConfig, 0x40 + i, 4);
  b.common_read(0x0, 4);  // the capability was read, the BAR's size never asked
}

void window_capability_partly_read() {
  ImageBench b;
  b.oracle->reg_read(Region::kPciConfig, 0x40, 4);  // id, next, cap_len, cfg_type
  b.oracle->reg_read(Region::kPciConfig, 0x44, 1);  // bar; offset and length never read
  b.oracle->bar_info(4);
  b.common_read(0x0, 4);
}

void window_config_past_header() {
  ImageBench b;
  b.oracle->reg_read(Region::kPciConfig, 0xFE, 4);
}

void ok_window_inside_and_legacy() {
  ImageBench b;
  b.probe_cap(0x40);
  b.common_read(0x0, 4);
  b.common_write(0x14, 1, 0);
  b.common_read(0x34, 4);
  // The legacy interface: all of I/O BAR 0.
  b.device.bars[0] = BarInfo{true, true, 0x20};
  b.oracle->bar_info(0);
  b.oracle->reg_read(bar_region(0), 0x12, 1);
  b.oracle->reg_read(bar_region(0), 0x1C, 4);
}

// The four structures of a modern device as QEMU lays them out (BAR 4:
// common 0x0, notify 0x1000 with multiplier 4, ISR 0x2000, device 0x3000),
// VERSION_1 and MAC offered, probed by the real driver and checked by the
// transport reference.
struct ProbedImage : ImageBench {
  PciTransports transports;
  ProbeResult result;
  ProbedImage(bool probe = true) {
    device.set_cap(0x40, 1, 4, 0x0000, 0x38);
    device.cfg[0x41] = 0x50;
    device.set_cap(0x50, 2, 4, 0x1000, 0x1000);
    device.cfg[0x52] = 20;
    device.cfg[0x60] = 4;  // notify_off_multiplier
    device.cfg[0x51] = 0x64;
    device.set_cap(0x64, 3, 4, 0x2000, 1);
    device.cfg[0x65] = 0x74;
    device.set_cap(0x74, 4, 4, 0x3000, 0x100);
    device.offer[0] = 0x20;  // MAC
    device.offer[1] = 1;     // VERSION_1
    if (probe) this->probe();
  }
  void probe() {
    result = transports.probe(*oracle);
    oracle->check_probe(PciMode::kAuto, result);
  }
  // The driver's part of setting queue q up (4.1.5.1.3): select, notify
  // offset, enable, read back.
  void enable_queue(uint16_t q) {
    namespace c = spec::pci::common;
    common_write(c::kQueueSelect, 2, q);
    common_read(c::kQueueNotifyOff, 2);  // the image answers 0
    common_write(c::kQueueEnable, 2, 1);
    common_read(c::kQueueEnable, 2);
  }
};

// virtio-mmio (mmio_reference.h): the real driver attached to the mock
// device's MMIO flavour, then one access the driver would never make.
World& mmio_world(mock::TransportKind kind) {
  mock::DeviceConfig c;
  c.transport = kind;
  World& w = World::get();
  w.begin_mock(c, "oracle_fire_test");
  MmioWindow window;
  window.size = spec::mmio::kQemuWindowSize;
  window.irq = 12;
  if (!w.bring_up_mmio(window, fuzz_net_options())) _exit(3);
  return w;
}

void window_mmio_v2_register_on_v1() {
  World& w = mmio_world(mock::TransportKind::kMmioV1);
  w.oracle().reg_write(Region::kMmio, spec::mmio::kQueueReady, 4, 1);
}

void window_mmio_control_register_width() {
  World& w = mmio_world(mock::TransportKind::kMmioV2);
  w.oracle().reg_read(Region::kMmio, spec::mmio::kStatus, 1);
}

void window_mmio_notify_queue_not_set_up() {
  World& w = mmio_world(mock::TransportKind::kMmioV2);
  w.oracle().reg_write(Region::kMmio, spec::mmio::kQueueNotify, 4, 2);
}

void protocol_mmio_ack_of_nothing() {
  World& w = mmio_world(mock::TransportKind::kMmioV2);
  w.oracle().reg_write(Region::kMmio, spec::mmio::kInterruptAck, 4, 0);
}

void decision_mmio_probe_outcome() {
  mock::DeviceConfig c;
  c.transport = mock::TransportKind::kMmioV2;
  World& w = World::get();
  w.begin_mock(c, "oracle_fire_test");
  MmioWindow window;
  window.size = spec::mmio::kQemuWindowSize;
  MmioTransports transports;
  w.oracle().begin_mmio_probe(window);
  MmioProbeResult r = transports.probe(w.oracle(), window);
  r.error = MmioProbeError::kNotNet;  // planted: the network device refused
  r.transport = nullptr;
  w.oracle().check_mmio_probe(window, r);
}

void ok_mmio_real_driver() {
  for (mock::TransportKind kind : {mock::TransportKind::kMmioV1, mock::TransportKind::kMmioV2}) {
    World& w = mmio_world(kind);
    for (int i = 0; i < 4; ++i) {
      w.tx_burst(4, 200, static_cast<uint8_t>(i));
      w.tx_reclaim();
      w.poll_device();
      w.rx_burst(8);
    }
    w.restart();
    w.end();
  }
}

void window_notify_queue_never_enabled() {
  World& w = World::get();
  w.begin_mock(legacy_device(), "oracle_fire_test");
  if (!w.bring_up(PciMode::kAuto, fuzz_net_options())) _exit(3);
  w.oracle().reg_write(bar_region(0), spec::pci::legacy::kQueueNotify, 2, 7);
  w.end();
}

void window_notify_queue_refused() {
  // The device read queue_enable back as 0: the queue is not the driver's.
  ProbedImage b;
  b.enable_queue(1);
  b.common_write(0x1000, 2, 1);
}

void window_notify_wrong_address() {
  ProbedImage b;
  b.device.queue_enable = 1;
  b.enable_queue(1);
  b.common_write(0x1004, 2, 1);  // queue_notify_off 0: its address is 0x1000
}

void window_outside_chosen_structures() {
  // A second common configuration capability that fits its BAR: the
  // device advertised it, but a correct probe took the first (4.1.4.1).
  ProbedImage b(false);
  b.device.cfg[0x75] = 0x84;
  b.device.set_cap(0x84, 1, 4, 0x3800, 0x38);
  b.probe();
  b.common_read(0x3800 + spec::pci::common::kDeviceStatus, 1);
}

// An MSI-X capability (PCI 6.8.2) at 0x84, three entries: table at 0 and
// PBA at 0x800 of BAR 2; the driver reads it, asks BAR 2's size and writes
// table entry 0.
void msix_image(ProbedImage& b, bool io_bar) {
  b.device.cfg[0x75] = 0x84;
  const uint8_t cap[12] = {0x11, 0, 2, 0, 2, 0, 0, 0, 2, 8, 0, 0};
  memcpy(&b.device.cfg[0x84], cap, sizeof cap);
  b.device.bars[2] = BarInfo{true, io_bar, 0x1000};
  b.probe();
  for (uint32_t at = 0x84; at < 0x90; at += 4) b.oracle->reg_read(Region::kPciConfig, at, 4);
  b.oracle->bar_info(2);
  b.oracle->reg_write(bar_region(2), 0x0, 4, 0xFEE00000);  // entry 0, address
}

void window_msix_table_in_io_bar() {
  ProbedImage b(false);
  msix_image(b, true);
}

void ok_window_msix_table() {
  ProbedImage b(false);
  msix_image(b, false);
  b.oracle->reg_write(bar_region(2), 0x2C, 4, 0);  // entry 2, vector control
  b.oracle->reg_read(bar_region(2), 0x800, 4);     // the PBA
}

void ok_window_chosen_structures() {
  ProbedImage b;
  if (b.result.error != ProbeError::kOk) _exit(3);
  b.device.queue_enable = 1;
  b.enable_queue(0);
  b.enable_queue(1);
  b.common_write(0x1000, 2, 0);
  b.common_write(0x1000, 2, 1);
  b.common_read(0x2000, 1);  // ISR
  b.common_read(0x3000, 4);  // device configuration
  // A reset takes the queues back; set up again, they are the driver's.
  b.common_write(spec::pci::common::kDeviceStatus, 1, 0);
  b.enable_queue(0);
  b.common_write(0x1000, 2, 0);
}

// A transitional device without capabilities whose I/O BAR 0 has room for
// the legacy registers and 4 bytes of device configuration.
struct LegacyImage : ImageBench {
  LegacyImage() {
    device.cfg[0x02] = 0x00;  // device 0x1000, subsystem 1: transitional net
    device.cfg[0x03] = 0x10;
    device.cfg[0x2E] = 0x01;
    device.cfg[0x06] = 0;  // no capability list: the legacy interface
    device.bars[0] = BarInfo{true, true, 0x18};
    PciTransports transports;
    const ProbeResult r = transports.probe(*oracle);
    if (r.error != ProbeError::kOk || !r.transport->is_legacy()) _exit(3);
    oracle->check_probe(PciMode::kAuto, r);
  }
};

void protocol_feature_field_beyond_window() {
  LegacyImage b;
  b.oracle->reg_write(bar_region(0), spec::pci::legacy::kDriverFeatures, 4, 0x20);  // MAC
}

void ok_protocol_features_inside_window() {
  LegacyImage b;
  b.oracle->reg_write(bar_region(0), spec::pci::legacy::kDriverFeatures, 4, 1u << 15);  // MRG
}

// What read_link_status() does on the modern transport: generation,
// status field, generation.
void read_link_snapshot(ProbedImage& b) {
  b.common_read(spec::pci::common::kConfigGeneration, 1);
  b.common_read(0x3000 + 6, 2);
  b.common_read(spec::pci::common::kConfigGeneration, 1);
}

void protocol_link_from_torn_read() {
  ProbedImage b;
  b.device.churn = true;  // the generation changes around every read
  b.oracle->mark_link();
  read_link_snapshot(b);
  read_link_snapshot(b);
  b.oracle->check_link(true, false);  // planted: the unstable value taken
}

void protocol_link_against_consistent_read() {
  ProbedImage b;
  b.oracle->mark_link();
  read_link_snapshot(b);              // status 0: link down
  b.oracle->check_link(false, true);  // planted: up anyway
}

void ok_protocol_link_changes() {
  ProbedImage b;
  b.oracle->mark_link();
  read_link_snapshot(b);
  b.oracle->check_link(true, false);  // down, as read
  b.device.churn = true;
  b.oracle->mark_link();
  read_link_snapshot(b);
  b.oracle->check_link(false, false);  // torn: unchanged
}

// EVENT_IDX on queue 0 of a probed image: features accepted with
// EVENT_IDX, queue 0 of 8 entries enabled, its avail ring in DMA memory
// (used_event at avail + 4 + 2 * 8) and a used ring beside it.
struct EventIdxImage : ProbedImage {
  DmaRegion ring{};
  volatile uint8_t* avail = nullptr;
  uint8_t used[72] = {};  // the device's used ring (avail_event at 4 + 8 * 8)
  EventIdxImage() {
    namespace c = spec::pci::common;
    device.offer[0] = 0x20 | (1u << 29);
    device.queue_enable = 1;
    oracle->set_status_register(bar_region(4), c::kDeviceStatus);
    init_to_features(0x20 | (1u << 29));
    if (!oracle->dma_alloc(4096, 4096, &ring)) _exit(3);
    avail = static_cast<volatile uint8_t*>(ring.cpu) + 0x100;
    common_write(c::kQueueSelect, 2, 0);
    common_write(c::kQueueSize, 2, 8);
    common_write(c::kQueueDriverLo, 4, static_cast<uint32_t>(ring.device_addr + 0x100));
    common_write(c::kQueueDriverHi, 4, static_cast<uint32_t>((ring.device_addr + 0x100) >> 32));
    enable_queue(0);
  }
  void set_used_event(uint16_t v) {
    avail[4 + 16] = static_cast<uint8_t>(v);
    avail[5 + 16] = static_cast<uint8_t>(v >> 8);
  }
  void set_avail_idx(uint16_t v) {
    avail[2] = static_cast<uint8_t>(v);
    avail[3] = static_cast<uint8_t>(v >> 8);
  }
  // The kick decision: a full barrier, then avail_event fetched.
  void decide(uint16_t avail_event) {
    used[4 + 64] = static_cast<uint8_t>(avail_event);
    used[5 + 64] = static_cast<uint8_t>(avail_event >> 8);
    oracle->barrier(Barrier::kFull);
    uint16_t v;
    oracle->fetch(DeviceMemRef{0, MemPart::kAvailEvent, 0, false}, used + 4 + 64, &v, 2);
  }
};

void protocol_used_event_stale() {
  EventIdxImage b;
  b.set_used_event(5);  // planted: not the next completion (0)
  b.oracle->check_used_event(0);
}

void protocol_no_notify_after_event_crossed() {
  EventIdxImage b;
  b.oracle->op_begin(DriverOp::kTxBurst);
  b.set_avail_idx(1);
  b.decide(0);  // avail.idx went 0 -> 1 across avail_event 0: notify
  b.oracle->op_end(DriverOp::kTxBurst);
}

void protocol_notify_against_avail_event() {
  EventIdxImage b;
  b.oracle->op_begin(DriverOp::kTxBurst);
  b.set_avail_idx(1);
  b.decide(5);                   // the device waits for index 5
  b.common_write(0x1000, 2, 0);  // planted: notified anyway
  b.oracle->op_end(DriverOp::kTxBurst);
}

void ok_protocol_event_idx() {
  EventIdxImage b;
  b.set_used_event(0);
  b.oracle->check_used_event(0);
  b.oracle->op_begin(DriverOp::kTxBurst);
  b.set_avail_idx(1);
  b.decide(0);
  b.common_write(0x1000, 2, 0);
  b.oracle->op_end(DriverOp::kTxBurst);
  b.oracle->op_begin(DriverOp::kTxBurst);
  b.set_avail_idx(2);
  b.decide(7);  // not crossed: no notification
  b.oracle->op_end(DriverOp::kTxBurst);
}

// The driver writes queue_msix_vector 1; the image reads back 0.
void refused_vector(ProbedImage& b) {
  b.common_write(spec::pci::common::kQueueSelect, 2, 0);
  b.common_write(0x1A, 2, 1);  // queue_msix_vector
  b.common_read(0x1A, 2);
}

void decision_msix_after_refused_vector() {
  ProbedImage b;
  refused_vector(b);
  b.oracle->check_interrupt_mode(InterruptMode::kMsix);
}

void ok_decision_fallback_after_refused_vector() {
  ProbedImage b;
  refused_vector(b);
  b.oracle->check_interrupt_mode(InterruptMode::kIntx);
}

// MSI-X (PCI 6.8.2) at 0x84 after the virtio capabilities of ProbedImage:
// two entries, the table at table_reg (BIR in bits 2:0), the PBA in BAR 1
// at 0x800. The driver's part of interrupt set-up: the capability read,
// bar_info for the table's and the PBA's BAR, then MSI-X enable.
struct MsixImage : ProbedImage {
  explicit MsixImage(uint32_t table_reg, uint64_t bar1_size = 0x1000) {
    device.cfg[0x75] = 0x84;
    device.cfg[0x84] = 0x11;
    device.cfg[0x86] = 1;  // table size - 1
    for (uint32_t i = 0; i < 4; ++i) {
      device.cfg[0x88 + i] = static_cast<uint8_t>(table_reg >> (8 * i));
      device.cfg[0x8C + i] = static_cast<uint8_t>((0x800u | 1u) >> (8 * i));
    }
    device.bars[1] = BarInfo{true, false, bar1_size};
    probe();
  }
  void enable() {
    for (uint32_t at = 0x84; at < 0x90; at += 4) oracle->reg_read(Region::kPciConfig, at, 4);
    oracle->bar_info(static_cast<uint8_t>(device.cfg[0x88] & 7));
    oracle->bar_info(1);
    oracle->reg_write(Region::kPciConfig, 0x86, 2, 0xC001);  // enable, function masked
  }
};

void decision_msix_table_over_common() {
  MsixImage b(4 | 0x0000);  // planted: the table over BAR 4's common configuration
  b.enable();
}

void decision_msix_table_above_4g() {
  MsixImage b(0xFFFFFFF0u | 1, uint64_t{1} << 33);  // planted: an 8 GiB BAR 1, table at its 4 GiB
  b.enable();
}

void decision_msix_table_in_io_bar() {
  MsixImage b(1);
  b.device.bars[1] = BarInfo{true, true, 0x1000};  // planted: BAR 1 now says I/O
  b.enable();
}

void decision_msix_after_enable_refused() {
  MsixImage b(1);
  b.enable();
  b.oracle->reg_read(Region::kPciConfig, 0x86, 2);       // the image answers enable clear
  b.oracle->check_interrupt_mode(InterruptMode::kMsix);  // planted: MSI-X anyway
}

void ok_decision_msix_table_usable() {
  MsixImage b(1);  // BAR 1 offset 0: a memory BAR of its own
  b.enable();
}

// The storm guard (interrupt_reference.h): interrupts counted faster than
// the limit allows and no storm declared.
void decision_storm_not_declared() {
  StormWatch w;
  for (uint64_t t = 0; t < 9; ++t) w.check(true, 1000 * t, false, 4, 10'000'000);
}

void ok_decision_storm_spread_or_declared() {
  StormWatch w;
  // Nine within the window, the ninth tripping the guard; then nine spread
  // over more than a window each; then interrupts the guard does not count.
  for (uint64_t t = 0; t < 9; ++t) w.check(true, 1000 * t, t == 8, 4, 10'000'000);
  for (uint64_t t = 0; t < 9; ++t) w.check(true, 20'000'000 + 2'000'000 * t, false, 4, 10'000'000);
  for (uint64_t t = 0; t < 20; ++t) w.check(false, 50'000'000 + t, false, 4, 10'000'000);
}

void decision_probe_outcome() {
  ProbedImage b(false);
  ProbeResult r = b.transports.probe(*b.oracle);
  r.error = ProbeError::kModernUnusable;  // planted: the usable device refused
  r.transport = nullptr;
  b.oracle->check_probe(PciMode::kAuto, r);
}

void decision_probe_no_version1() {
  // No VERSION_1 offered (6.1): a modern-only device is unusable; a probe
  // that takes it anyway is wrong.
  ProbedImage b(false);
  b.device.offer[1] = 0;
  ProbeResult r = b.transports.probe(*b.oracle);
  if (r.error != ProbeError::kModernUnusable) _exit(3);
  PciModernTransport planted;
  if (planted.init(b.device) != ModernProbeError::kOk) _exit(3);
  r.error = ProbeError::kOk;
  r.transport = &planted;
  b.oracle->check_probe(PciMode::kAuto, r);
}

void decision_probe_later_capability() {
  // The planted probe took the second common capability.
  ProbedImage b(false);
  b.device.cfg[0x75] = 0x84;
  b.device.set_cap(0x84, 1, 4, 0x3800, 0x38);
  ProbeResult r = b.transports.probe(*b.oracle);
  if (r.error != ProbeError::kOk) _exit(3);
  ImageDevice other = b.device;
  other.cfg[0x34] = 0x84;  // its walk starts at the second one
  other.cfg[0x85] = 0x50;
  PciModernTransport planted;
  if (planted.init(other) != ModernProbeError::kOk) _exit(3);
  r.transport = &planted;
  b.oracle->check_probe(PciMode::kAuto, r);
}

void protocol_driver_ok_without_read_back() {
  ImageBench b;
  b.modern();
  b.device.offer[0] = 0x20;
  b.device.offer[1] = 1;
  b.init_to_features(0x20);
  b.common_write(spec::pci::common::kDeviceStatus, 1, 0x0F);  // FEATURES_OK never read back
}

void protocol_driver_ok_after_refusal() {
  ImageBench b;
  b.modern();
  b.device.offer[0] = 0x20;
  b.device.offer[1] = 1;
  b.init_to_features(0x20);
  b.device.status_read = 0x03;  // FEATURES_OK did not stick
  b.common_read(spec::pci::common::kDeviceStatus, 1);
  b.common_write(spec::pci::common::kDeviceStatus, 1, 0x0F);
}

void protocol_feature_not_offered() {
  ImageBench b;
  b.modern();
  b.device.offer[0] = 0x20;
  b.device.offer[1] = 1;
  b.init_to_features(0x20 | 0x10000);  // CTRL_VQ, never offered
}

void protocol_features_without_offer() {
  ImageBench b;
  b.modern();
  b.device.offer[0] = 0x20;
  b.device.offer[1] = 1;
  b.init_to_features(0x20, false);
}

// A modern device with a device configuration window at BAR4 0x2000, and
// one snapshot of it: generation, the MAC's first byte, generation.
void config_snapshot_then_features(bool churn) {
  ImageBench b;
  b.device.set_cap(0x50, 4, 4, 0x2000, 0x100);
  b.device.cfg[0x41] = 0x50;  // common -> device
  b.modern();
  b.probe_cap(0x50);
  b.device.offer[0] = 0x20;  // MAC
  b.device.offer[1] = 1;
  b.device.churn = churn;
  namespace c = spec::pci::common;
  b.common_write(c::kDeviceStatus, 1, 0);
  b.common_read(c::kDeviceStatus, 1);
  b.common_write(c::kDeviceStatus, 1, 1);
  b.common_write(c::kDeviceStatus, 1, 3);
  for (uint32_t sel = 0; sel < 2; ++sel) {
    b.common_write(c::kDeviceFeatureSelect, 4, sel);
    b.common_read(c::kDeviceFeature, 4);
  }
  b.common_read(c::kConfigGeneration, 1);
  b.common_read(0x2000, 1);
  b.common_read(c::kConfigGeneration, 1);
  b.common_write(c::kDriverFeatureSelect, 4, 0);
  b.common_write(c::kDriverFeature, 4, 0x20);  // MAC accepted from that read
}

void protocol_features_from_torn_config() {
  config_snapshot_then_features(true);
}

void ok_protocol_features_from_stable_config() {
  config_snapshot_then_features(false);
}

void ok_protocol_init_sequence() {
  ImageBench b;
  b.modern();
  b.device.offer[0] = 0x20;
  b.device.offer[1] = 1;
  b.init_to_features(0x20);
  b.device.status_read = 0x0B;
  b.common_read(spec::pci::common::kDeviceStatus, 1);
  b.common_write(spec::pci::common::kDeviceStatus, 1, 0x0F);
  // Giving up after a refusal is allowed: FAILED with what the device holds.
  b.common_write(spec::pci::common::kDeviceStatus, 1, 0x8F);
}

void protocol_drives_foreign_device() {
  ImageBench b;
  b.device.cfg[0x02] = 0x42;  // device 0x1042: virtio-blk
  b.modern();
}

void protocol_drives_unread_identity() {
  ImageBench b;
  b.probe_cap(0x40);
  b.oracle->set_status_register(bar_region(4), spec::pci::common::kDeviceStatus);
}

// A used ring of a 4-entry queue (flags, idx, 4 elements), in a DMA region.
struct RingBench : Bench {
  DmaRegion ring{};
  uint8_t* used = nullptr;
  RingBench() {
    oracle->dma_alloc(64 + 4 + 8 * 4, 16, &ring);
    used = static_cast<uint8_t*>(ring.cpu) + 64;
  }
  void set_used(uint16_t idx, std::initializer_list<std::pair<uint32_t, uint32_t>> elems) {
    memcpy(used + 2, &idx, 2);
    uint32_t slot = 0;
    for (const auto& e : elems) {
      memcpy(used + 4 + 8 * slot, &e.first, 4);
      memcpy(used + 8 + 8 * slot, &e.second, 4);
      ++slot;
    }
  }
  uint16_t fetch_idx() {
    uint16_t v;
    oracle->fetch(DeviceMemRef{0, MemPart::kUsedIdx, 0, false}, used + 2, &v, 2);
    return v;
  }
  void fetch_elems(uint16_t n) {
    oracle->barrier(Barrier::kRead);  // after used.idx (2.7.13)
    uint8_t v[64];
    oracle->fetch(DeviceMemRef{0, MemPart::kUsedElem, 0, false}, used + 4, v, 8u * n);
  }
};

void protocol_completion_beyond_used_idx() {
  RingBench b;
  b.publish(0, 0, b.pool.alloc());
  b.publish(0, 1, b.pool.alloc());
  b.set_used(1, {{0, 100}, {1, 100}});
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.fetch_idx();
  b.fetch_elems(2);
  b.oracle->completed(0, 0, 100);
  b.oracle->completed(0, 1, 100);  // used.idx said one
}

void protocol_completion_not_the_element() {
  RingBench b;
  b.publish(0, 0, b.pool.alloc());
  b.publish(0, 1, b.pool.alloc());
  b.set_used(1, {{1, 100}});
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.fetch_idx();
  b.fetch_elems(1);
  b.oracle->completed(0, 0, 100);  // the element says chain 1
}

void protocol_completion_after_index_jump() {
  RingBench b;
  b.publish(0, 0, b.pool.alloc());
  b.set_used(3, {{0, 100}});  // three entries, one chain in flight
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.fetch_idx();
  b.fetch_elems(1);
  b.oracle->completed(0, 0, 100);
}

void protocol_completion_without_fetch() {
  RingBench b;
  b.publish(0, 0, b.pool.alloc());
  b.set_used(1, {{0, 100}});
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.fetch_idx();
  b.oracle->completed(0, 0, 100);  // the element was never fetched
}

void ok_protocol_completions() {
  RingBench b;
  b.publish(0, 0, b.pool.alloc());
  b.publish(0, 1, b.pool.alloc());
  b.set_used(2, {{1, 60}, {0, 100}});
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.fetch_idx();
  b.fetch_elems(2);
  b.oracle->completed(0, 1, 60);
  b.oracle->completed(0, 0, 100);
  b.oracle->op_end(DriverOp::kRxBurst);
}

// ---------------- shared memory poisoning (with double-fetch c) ----------------

void poison_raw_read_of_used_ring() {
  RingBench b;
  b.set_used(1, {{0, 100}});
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.fetch_idx();  // the span of the used ring is learned here
  // A driver reading used.idx itself, past fetch():
  const uint16_t raw = *reinterpret_cast<volatile uint16_t*>(b.used + 2);
  printf("%u\n", raw);
}

void ok_poison_used_ring_between_operations() {
  RingBench b;
  b.set_used(1, {{0, 100}});
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.fetch_idx();
  b.fetch_elems(1);
  b.oracle->op_end(DriverOp::kRxBurst);
  // Outside any driver operation the device (model) works on the ring.
  b.set_used(2, {{0, 100}, {1, 100}});
  b.oracle->dma_free(b.ring);
}

void fetch_same_address_other_label() {
  RingBench b;
  uint8_t v[8];
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.fetch_elems(1);
  // The same slot labelled as another slot of another queue.
  b.oracle->fetch(DeviceMemRef{1, MemPart::kUsedElem, 5, false}, b.used + 4, v, 8);
}

void fetch_recheck_label_on_element() {
  RingBench b;
  uint8_t v[8];
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.fetch_elems(1);
  b.oracle->fetch(DeviceMemRef{0, MemPart::kUsedElem, 0, true}, b.used + 4, v, 8);
}

// ---------------- ordering (protocol g): barriers where the ring protocol needs them
// ----------------

// A modern queue 0 whose ring (16 descriptors) lives in a DMA region the
// oracle saw allocated, its available ring told to the device through
// queue_driver.
struct OrderBench : ImageBench {
  DmaRegion ring{};
  volatile uint16_t* avail = nullptr;  // flags, idx, ring[16]
  uint16_t used_flags = 0;
  PacketBuffer* buf = nullptr;

  OrderBench() {
    modern();
    oracle->dma_alloc(16 * 16 + 6 + 2 * 16 + 6 + 8 * 16, 16, &ring);
    avail = reinterpret_cast<volatile uint16_t*>(static_cast<uint8_t*>(ring.cpu) + 256);
    namespace c = spec::pci::common;
    common_write(c::kQueueSelect, 2, 0);
    const uint64_t a = ring.device_addr + 256;
    common_write(c::kQueueDriverLo, 4, static_cast<uint32_t>(a));
    common_write(c::kQueueDriverHi, 4, static_cast<uint32_t>(a >> 32));
    buf = pool.alloc();
  }
  void publish_chain() {
    PublishedChain c;
    c.queue = 0;
    c.head = 0;
    c.num_segments = 1;
    c.segments[0] = ChainSegment{0, 64, false, buf->base};
    oracle->published(c);
  }
  void fetch_used_flags() {
    uint16_t v;
    oracle->fetch(DeviceMemRef{0, MemPart::kUsedFlags, 0, false}, &used_flags, &v, 2);
  }
};

void ordering_publish_without_write_barrier() {
  OrderBench b;
  b.publish_chain();
  b.avail[1] = 1;  // avail.idx stored: no barrier since the chain
  b.oracle->barrier(Barrier::kFull);
}

void ordering_kick_without_full_barrier() {
  OrderBench b;
  b.publish_chain();
  b.oracle->barrier(Barrier::kWrite);
  b.avail[1] = 1;
  b.fetch_used_flags();  // no full barrier after the store
}

void ordering_interrupts_without_full_barrier() {
  OrderBench b;
  b.avail[0] = 1;                     // NO_INTERRUPT
  b.oracle->barrier(Barrier::kFull);  // seen
  b.avail[0] = 0;                     // interrupts enabled ...
  uint16_t idx = 0, v;
  b.oracle->fetch(DeviceMemRef{0, MemPart::kUsedIdx, 0, true}, &idx, &v, 2);  // ... re-check
}

void ordering_elements_without_read_barrier() {
  RingBench b;
  b.set_used(1, {{0, 100}});
  uint8_t v[8];
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.fetch_idx();
  b.oracle->fetch(DeviceMemRef{0, MemPart::kUsedElem, 0, false}, b.used + 4, v, 8);
}

void ordering_smp_barrier_after_order_platform() {
  OrderBench b;
  b.device.offer[0] = 0x20;
  b.device.offer[1] = 1 | 16;  // VERSION_1, ORDER_PLATFORM (bit 36)
  namespace c = spec::pci::common;
  b.common_write(c::kDeviceStatus, 1, 0);
  b.common_read(c::kDeviceStatus, 1);
  for (uint32_t sel = 0; sel < 2; ++sel) {
    b.common_write(c::kDeviceFeatureSelect, 4, sel);
    b.common_read(c::kDeviceFeature, 4);
  }
  b.common_write(c::kDriverFeatureSelect, 4, 1);
  b.common_write(c::kDriverFeature, 4, 1 | 16);
  b.oracle->barrier(Barrier::kWrite);  // should be kDmaWrite
}

void ok_ordering_ring_protocol() {
  OrderBench b;
  // publish: chain, write barrier, idx store; kick: full barrier, flags.
  b.publish_chain();
  b.oracle->barrier(Barrier::kWrite);
  b.avail[1] = 1;
  b.oracle->barrier(Barrier::kFull);
  b.fetch_used_flags();
  // interrupts on: flags store, full barrier, re-check.
  b.avail[0] = 1;
  b.oracle->barrier(Barrier::kFull);
  b.avail[0] = 0;
  b.oracle->barrier(Barrier::kFull);
  uint16_t idx = 0, v;
  b.oracle->fetch(DeviceMemRef{0, MemPart::kUsedIdx, 0, true}, &idx, &v, 2);
}

// ---------------- recovery (protocol g): a broken queue is left alone and reset ----------------

void recovery_completion_after_bad_element() {
  RingBench b;
  b.publish(0, 0, b.pool.alloc());
  b.publish(0, 1, b.pool.alloc());
  b.set_used(1, {{9, 100}});  // chain 9 was never published: the queue is broken
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.fetch_idx();
  b.fetch_elems(1);
  b.oracle->op_end(DriverOp::kRxBurst);
  // A driver that goes on harvesting the broken queue:
  b.set_used(2, {{9, 100}, {0, 100}});
  b.oracle->op_begin(DriverOp::kRxBurst);
  uint16_t v;
  b.oracle->fetch(DeviceMemRef{0, MemPart::kUsedIdx, 0, false}, b.used + 2, &v, 2);
  b.oracle->barrier(Barrier::kRead);
  uint8_t e[8];
  b.oracle->fetch(DeviceMemRef{0, MemPart::kUsedElem, 1, false}, b.used + 12, e, 8);
  b.oracle->completed(0, 0, 100);
}

void recovery_no_reset_after_bad_element() {
  RingBench b;
  b.legacy();
  b.publish(0, 0, b.pool.alloc());
  b.set_used(1, {{0, 100}, {0, 100}});
  b.set_used(2, {{0, 100}, {0, 100}});  // chain 0 completed twice in one run
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.fetch_idx();
  b.fetch_elems(2);
  b.oracle->op_end(DriverOp::kRxBurst);
  b.oracle->op_begin(DriverOp::kPollDevice);  // ... and the next poll leaves it as it is
  b.oracle->op_end(DriverOp::kPollDevice);
}

void recovery_needs_reset_ignored() {
  Bench b;
  b.legacy();
  b.write_status(0x0F);                   // DRIVER_OK
  b.device.status_reads = {0x0F | 0x40};  // NEEDS_RESET
  b.oracle->op_begin(DriverOp::kPollDevice);
  b.read_status();
  b.oracle->op_end(DriverOp::kPollDevice);
}

void ok_recovery_reset_after_bad_element() {
  RingBench b;
  b.legacy();
  b.publish(0, 0, b.pool.alloc());
  b.set_used(1, {{7, 100}});
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.fetch_idx();
  b.fetch_elems(1);
  b.oracle->op_end(DriverOp::kRxBurst);
  b.device.status_reads = {0x0F | 0x40, 0};
  b.oracle->op_begin(DriverOp::kPollDevice);
  b.read_status();
  b.write_status(0);  // the reset, acknowledged
  b.read_status();
  b.oracle->op_end(DriverOp::kPollDevice);
}

// ---------------- decision (h) ----------------

// One rx completion of used.len len whose header the device wrote as hdr
// (12 bytes), handed to the reference with delivered frames as given.
struct RxDecisionBench : RingBench {
  DecisionReference ref;
  PacketBuffer* buf = nullptr;
  NetCounters before{}, after{};

  void complete(const uint8_t* hdr, uint32_t len) {
    buf = pool.alloc();
    publish(0, 0, buf);
    memcpy(buf->base, hdr, 12);
    set_used(1, {{0, len}});
    oracle->op_begin(DriverOp::kRxBurst);
    oracle->clear_rx_log();
    fetch_idx();
    fetch_elems(1);
    oracle->completed(0, 0, len);
  }
  void check(bool delivered, uint32_t len, const PacketOffload& offload = {}) {
    DecisionReference::Delivered d{buf->base + 12, len - 12, len - 12, 1, offload};
    ref.check_rx(*oracle, &d, delivered ? 1 : 0, before, after);
  }
};

constexpr uint8_t kHdrPlain[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};

// One rx completion of a 100-byte frame (200 above an MTU of 100) with this
// header, handed to the reference as delivered or not, the driver having
// counted one under counter (nullptr: nothing).
void rx_decision(uint32_t mtu, const uint8_t (&hdr)[12], uint32_t frame, bool delivered,
                 uint64_t NetCounters::*counter) {
  RxDecisionBench b;
  b.ref.assume(12, true, mtu);
  b.complete(hdr, 12 + frame);
  if (counter != nullptr) b.after.*counter = 1;
  b.check(delivered, 12 + frame);
}

constexpr uint8_t kHdrGsoTcpv6[12] = {0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};  // not negotiated
constexpr uint8_t kHdrNeedsCsum[12] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
constexpr uint8_t kHdrNumBuffersZero[12] = {};

void decision_gso_frame_delivered() {
  rx_decision(1500, kHdrGsoTcpv6, 100, true, &NetCounters::rx_packets);
}
void decision_valid_frame_dropped() {
  rx_decision(1500, kHdrPlain, 100, false, &NetCounters::rx_drop_len_short);
}
void decision_wrong_drop_reason() {  // counted as GSO; it is a flag
  rx_decision(1500, kHdrNeedsCsum, 100, false, &NetCounters::rx_drop_hdr_gso);
}
void decision_frame_above_mtu_delivered() {
  rx_decision(100, kHdrPlain, 200, true, nullptr);
}
void decision_num_buffers_zero_delivered() {
  rx_decision(1500, kHdrNumBuffersZero, 100, true, nullptr);
}
// ---------------- watchdog (h) ----------------
// The tx watchdog's reference (WatchdogReference) against a driver's
// verdicts: a device that stopped completing tx (used.idx 3 of 5 chains)
// seen at 0, 40 and 100 ns with a 100 ns timeout.

WatchdogReference::Poll tx_poll(uint16_t used, uint64_t now) {
  WatchdogReference::Poll p;
  p.peeked = true;
  p.used = used;
  p.clock_read = true;
  p.now = now;
  p.published = 5;
  return p;
}

void watchdog_never_fires() {
  WatchdogReference w;
  w.check(tx_poll(3, 0), 100, false);
  w.check(tx_poll(3, 40), 100, false);
  w.check(tx_poll(3, 100), 100, false);  // a driver whose watchdog never fires
}

void watchdog_ignores_progress() {
  WatchdogReference w;
  w.check(tx_poll(3, 0), 100, false);
  w.check(tx_poll(4, 60), 100, false);  // progress: armed again at 60
  w.check(tx_poll(4, 120), 100, true);  // a driver that still counts from 0
}

void watchdog_fires_when_disabled() {
  WatchdogReference w;
  w.check(tx_poll(3, 0), 0, true);
}

void ok_watchdog() {
  WatchdogReference w;
  w.check(tx_poll(3, 0), 100, false);
  w.check(tx_poll(4, 60), 100, false);
  w.check(tx_poll(4, 120), 100, false);
  w.check(tx_poll(4, 160), 100, true);   // 100 ns without progress
  w.reset();                             // re-attached
  w.check(tx_poll(5, 170), 100, false);  // nothing pending
  WatchdogReference::Poll unknown = tx_poll(1, 500);
  unknown.peeked = false;  // facts unknown: not judged
  w.check(unknown, 100, true);
}

void ok_decision_frame_delivered_and_drop() {
  rx_decision(1500, kHdrPlain, 100, true, &NetCounters::rx_packets);
}

// Offloads (issue 16): GUEST_CSUM and GUEST_TSO4 in force. A TCPV4 GSO
// header (NEEDS_CSUM at 34/16, gso_size 1448) on a frame of zeros -- no IP
// header at all -- delivered; and a DATA_VALID frame delivered without its
// "verified" report, or with it (the control case).
constexpr uint64_t kGuestCsumTso4 = uint64_t{1} << 1 | uint64_t{1} << 7;
constexpr uint8_t kHdrGsoTcp4[12] = {1, 1, 0, 0, 0xA8, 0x05, 34, 0, 16, 0, 1, 0};
constexpr uint8_t kHdrDataValid[12] = {2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
void offload_decision(const uint8_t (&hdr)[12], const PacketOffload& reported) {
  RxDecisionBench b;
  b.ref.assume(12, true, 1500);
  b.ref.assume_offloads(kGuestCsumTso4);
  b.complete(hdr, 12 + 100);
  b.after.rx_packets = 1;
  b.check(true, 12 + 100, reported);
}
void decision_gso_not_ip_delivered() {
  PacketOffload o;
  o.csum = CsumState::kPartial;
  o.csum_start = 34;
  o.csum_offset = 16;
  o.gso = GsoKind::kTcp4;
  o.gso_size = 1448;
  o.hdr_len = 54;
  offload_decision(kHdrGsoTcp4, o);
}
void decision_verified_not_reported() {
  offload_decision(kHdrDataValid, PacketOffload{});
}
void ok_decision_verified_reported() {
  PacketOffload o;
  o.csum = CsumState::kVerified;
  offload_decision(kHdrDataValid, o);
}

void decision_attach_mtu_below_minimum() {
  // The real driver attaches to a device whose MTU (60) is below 68 and
  // leaves F_MTU out; a buggy driver that accepted it anyway is played by
  // writing the features the device then holds.
  World& w = World::get();
  mock::DeviceConfig c = legacy_device();
  c.mtu = 60;
  w.begin_mock(c, "oracle_fire_test");
  if (!w.bring_up(PciMode::kAuto, fuzz_net_options())) _exit(3);
  const uint32_t accepted =
      static_cast<uint32_t>(w.device().driver_features()) | (1u << 3);  // + VIRTIO_NET_F_MTU
  w.device().bar_write(0, spec::pci::legacy::kDriverFeatures, 4, accepted);
  w.check_attach(AttachError::kOk);
}

void decision_attach_queue_size_not_power_of_two() {
  // A maximum of 200 (not a power of two) must be refused; the real driver
  // does, and a driver that attached anyway is played by the result.
  World& w = World::get();
  mock::DeviceConfig c;
  c.queue_sizes = {200, 256, 64};
  w.begin_mock(c, "oracle_fire_test");
  w.bring_up(PciMode::kAuto, fuzz_net_options());
  w.check_attach(AttachError::kOk);
}

void ok_decision_real_driver() {
  World& w = World::get();
  for (uint16_t mtu : {uint16_t{60}, uint16_t{1500}, uint16_t{9000}}) {
    mock::DeviceConfig c;
    c.mtu = mtu;
    w.begin_mock(c, "oracle_fire_test");
    if (!w.bring_up(PciMode::kAuto, fuzz_net_options())) _exit(3);
    w.device().inject_rx(std::vector<uint8_t>(200, 0x5A));
    w.rx_burst(8);
    w.end();
  }
}

// ---------------- protocol (g) on a packed ring (issue 14) ----------------

// Queue 0 of a probed image as a packed ring of 8 entries (RING_PACKED,
// optionally EVENT_IDX, accepted), driven by the driver's own PackedQueue
// through the oracle platform; the case plays the device by writing used
// descriptors into the ring, and plants a violation with raw shim calls.
struct PackedImage : ProbedImage {
  static constexpr uint16_t kSize = 8;
  PackedQueue* q = new PackedQueue;  // large tables: heap
  explicit PackedImage(bool event_idx = false) {
    namespace c = spec::pci::common;
    device.offer[0] = 0x20 | (event_idx ? 1u << 29 : 0);
    device.offer[1] = 1 | 4;  // VERSION_1, RING_PACKED
    device.queue_enable = 1;
    oracle->set_status_register(bar_region(4), c::kDeviceStatus);
    init_to_features(device.offer[0], true, device.offer[1]);
    common_write(c::kQueueSelect, 2, 0);
    common_write(c::kQueueSize, 2, kSize);
    if (!q->allocate(*oracle, 0, kSize, RingLayout::kSeparate)) _exit(3);
    q->set_event_idx(event_idx);
    const uint64_t driver = q->addresses().driver;  // the driver event structure
    common_write(c::kQueueDriverLo, 4, static_cast<uint32_t>(driver));
    common_write(c::kQueueDriverHi, 4, static_cast<uint32_t>(driver >> 32));
    enable_queue(0);
    if (!q->check_used_untouched()) _exit(3);  // the attach-time look
  }
  spec::PackedDesc* ring() {
    return reinterpret_cast<spec::PackedDesc*>(static_cast<uintptr_t>(q->addresses().desc));
  }
  volatile uint8_t* device_event() {
    return reinterpret_cast<volatile uint8_t*>(static_cast<uintptr_t>(q->addresses().device));
  }
  std::vector<PacketBuffer*> lent[kSize];  // by buffer id
  uint16_t add(uint16_t nsegs = 1) {
    Segment segs[4];
    PacketBuffer* bufs[4];
    for (uint16_t i = 0; i < nsegs; ++i) {
      bufs[i] = pool.alloc();
      if (bufs[i] == nullptr) _exit(3);
      segs[i] = Segment{bufs[i]->device_addr, 2048, true, bufs[i]->base};
    }
    uint16_t id = 0xFFFF;
    if (!q->add_chain(segs, nsegs, nullptr, &id)) _exit(3);
    lent[id].assign(bufs, bufs + nsegs);
    return id;
  }
  // The buffers of a completed chain back to the pool.
  void give_back(uint16_t id) {
    for (PacketBuffer* p : lent[id]) pool.free(p);
    lent[id].clear();
  }
  // The device: a used descriptor at pos (flags last).
  void used(uint16_t pos, uint16_t id, uint32_t len, bool wrap) {
    ring()[pos].id.set(id);
    ring()[pos].len.set(len);
    ring()[pos].flags.set(
        wrap ? static_cast<uint16_t>(spec::kPackedDescFlagAvail | spec::kPackedDescFlagUsed) : 0);
  }
  // A driver's harvest of position pos, step by step (flags, barrier, len
  // and id, then the completion), for cases that plant a violation.
  uint16_t fetch_flags(uint16_t pos) {
    uint16_t v;
    oracle->fetch(DeviceMemRef{0, MemPart::kPackedDesc, pos, false}, &ring()[pos].flags, &v, 2);
    return v;
  }
  void fetch_used(uint16_t pos) {
    uint8_t v[6];
    oracle->fetch(DeviceMemRef{0, MemPart::kPackedDesc, pos, false}, &ring()[pos].len, v, 6);
  }
  // (In an operation of its own: the attach-time look at position 0 was
  // in the previous one.)
  void raw_harvest(uint16_t pos, uint16_t id, uint32_t len, bool barrier = true) {
    oracle->op_begin(DriverOp::kRxBurst);
    fetch_flags(pos);
    if (barrier) oracle->barrier(Barrier::kRead);
    fetch_used(pos);
    oracle->completed(0, id, len);
  }
  void set_device_event(uint16_t off_wrap, uint16_t flags) {
    device_event()[0] = static_cast<uint8_t>(off_wrap);
    device_event()[1] = static_cast<uint8_t>(off_wrap >> 8);
    device_event()[2] = static_cast<uint8_t>(flags);
    device_event()[3] = static_cast<uint8_t>(flags >> 8);
  }
  // The transmit decision of the real queue, and the notification a
  // driver makes when it says so.
  void kick() {
    if (q->kick_needed()) common_write(0x1000, 2, 0);
  }
};

// The control: many laps of a real PackedQueue with chains of 1..3
// descriptors completed out of order, kick decisions (ENABLE and, with
// EVENT_IDX, DESC) and notifications as the queue decides.
void ok_packed_ring(bool event_idx) {
  PackedImage b(event_idx);
  Completion out[PackedImage::kSize];
  uint16_t pos = 0;
  bool wrap = true;
  for (int lap = 0; lap < 12; ++lap) {
    b.oracle->op_begin(DriverOp::kTxBurst);
    const uint16_t n1 = static_cast<uint16_t>(1 + lap % 3);
    const uint16_t a = b.add(n1);
    const uint16_t c = b.add(1);
    b.q->publish();
    if (event_idx) b.set_device_event(static_cast<uint16_t>(pos | (wrap ? 0x8000 : 0)), 2);
    b.kick();
    b.oracle->op_end(DriverOp::kTxBurst);
    // The device completes the second chain first, then the first (2.8.6:
    // each used descriptor where the next is due, skipping its chain).
    b.used(pos, c, 0, wrap);
    uint16_t next = static_cast<uint16_t>(pos + 1);
    bool next_wrap = wrap;
    if (next >= PackedImage::kSize) {
      next = static_cast<uint16_t>(next - PackedImage::kSize);
      next_wrap = !next_wrap;
    }
    b.used(next, a, 100, next_wrap);
    pos = static_cast<uint16_t>(next + n1);
    wrap = next_wrap;
    if (pos >= PackedImage::kSize) {
      pos = static_cast<uint16_t>(pos - PackedImage::kSize);
      wrap = !wrap;
    }
    b.oracle->op_begin(DriverOp::kTxBurst);
    if (b.q->harvest(out, PackedImage::kSize) != 2 || b.q->broken()) _exit(4);
    b.give_back(out[0].head);
    b.give_back(out[1].head);
    b.oracle->op_end(DriverOp::kTxBurst);
  }
}
void ok_packed_ring_plain() {
  ok_packed_ring(false);
}
void ok_packed_ring_event_idx() {
  ok_packed_ring(true);
}

void packed_head_stored_without_barrier() {
  PackedImage b;
  b.add();
  // Planted: the head made available with no write barrier after the
  // chain was written (what publish() does, minus its barrier).
  b.ring()[0].flags.set(spec::kPackedDescFlagAvail);
  b.oracle->barrier(Barrier::kFull);  // the next shim call sees the store
}

void packed_used_fetched_without_read_barrier() {
  PackedImage b;
  const uint16_t id = b.add();
  b.q->publish();
  b.used(0, id, 10, true);
  b.raw_harvest(0, id, 10, false);
}

void packed_completion_at_wrong_position() {
  PackedImage b;
  b.add();
  const uint16_t c = b.add();
  b.q->publish();
  b.used(1, c, 10, true);  // position 1 while 0 is due
  b.raw_harvest(1, c, 10);
}

void packed_completion_with_stale_wrap() {
  PackedImage b;
  const uint16_t id = b.add();
  b.q->publish();
  b.used(0, id, 10, false);  // the previous lap's pattern (!W, !W)
  b.raw_harvest(0, id, 10);
}

void packed_completion_not_the_descriptor() {
  PackedImage b;
  const uint16_t a = b.add();
  b.add();
  b.q->publish();
  b.used(0, a, 10, true);
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.fetch_flags(0);
  b.oracle->barrier(Barrier::kRead);
  b.fetch_used(0);
  b.oracle->completed(0, a, 99);  // the descriptor says len 10
}

void packed_completion_not_in_flight() {
  PackedImage b;
  b.add();
  b.q->publish();
  const uint16_t c = b.add();  // added, not yet made available
  b.used(0, c, 10, true);
  b.raw_harvest(0, c, 10);
}

void packed_completion_after_bad_id() {
  PackedImage b;
  const uint16_t a = b.add();
  b.q->publish();
  b.used(0, 6, 10, true);  // no driver may accept id 6
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.fetch_flags(0);
  b.oracle->barrier(Barrier::kRead);
  b.fetch_used(0);
  b.oracle->op_end(DriverOp::kRxBurst);
  b.used(0, a, 10, true);  // ... then the device rewrites it
  b.raw_harvest(0, a, 10);
}

void packed_bad_id_no_reset() {
  PackedImage b;
  b.add();
  b.q->publish();
  b.used(0, 6, 10, true);
  b.oracle->op_begin(DriverOp::kRxBurst);
  Completion out[PackedImage::kSize];
  b.q->harvest(out, PackedImage::kSize);  // the driver breaks the queue
  b.oracle->op_end(DriverOp::kRxBurst);
  // Planted: a poll_device that does not reset the device.
  b.oracle->op_begin(DriverOp::kPollDevice);
  b.oracle->op_end(DriverOp::kPollDevice);
}

void packed_used_of_nothing_no_reset() {
  PackedImage b;
  b.used(0, 3, 10, true);  // a completion of nothing: no chain was made available
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.fetch_flags(0);  // a harvest's look: the driver must break the queue
  b.oracle->op_end(DriverOp::kRxBurst);
  b.oracle->op_begin(DriverOp::kPollDevice);  // planted: no reset
  b.oracle->op_end(DriverOp::kPollDevice);
}

void ok_packed_used_of_nothing_reset() {
  PackedImage b;
  b.used(0, 3, 10, true);
  b.oracle->op_begin(DriverOp::kRxBurst);
  Completion out[PackedImage::kSize];
  if (b.q->harvest(out, PackedImage::kSize) != 0 || !b.q->broken()) _exit(4);
  b.oracle->op_end(DriverOp::kRxBurst);
  b.oracle->op_begin(DriverOp::kPollDevice);
  b.common_write(spec::pci::common::kDeviceStatus, 1, 0);  // the reset
  b.oracle->op_end(DriverOp::kPollDevice);
}

volatile uint8_t* driver_event_of(PackedImage& b) {
  return reinterpret_cast<volatile uint8_t*>(static_cast<uintptr_t>(b.q->addresses().driver));
}

void packed_desc_flags_with_new_off_wrap() {
  PackedImage b(true);
  volatile uint8_t* ev = driver_event_of(b);
  // Planted: off_wrap and DESC stored with no write barrier between.
  ev[0] = 3;
  ev[2] = 2;
  b.oracle->barrier(Barrier::kFull);
}

void packed_reread_after_enable_without_full_barrier() {
  PackedImage b;
  b.q->set_interrupts(false);
  volatile uint8_t* ev = driver_event_of(b);
  b.oracle->barrier(Barrier::kFull);
  ev[2] = 0;  // planted: ENABLE stored, then the ring looked at at once
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.fetch_flags(0);
}

void packed_off_wrap_stale() {
  PackedImage b(true);
  const uint16_t id = b.add();
  b.q->publish();
  b.q->set_interrupts(true);
  b.used(0, id, 10, true);
  b.oracle->op_begin(DriverOp::kRxBurst);
  Completion out[PackedImage::kSize];
  if (b.q->harvest(out, PackedImage::kSize) != 1) _exit(4);
  b.oracle->op_end(DriverOp::kRxBurst);
  volatile uint8_t* ev = driver_event_of(b);
  ev[0] = 0;  // planted: off_wrap left at the old position
  ev[1] = 0x80;
  b.oracle->barrier(Barrier::kFull);
  b.oracle->check_used_event(0);
}

void ok_packed_driver_event() {
  PackedImage b(true);
  const uint16_t id = b.add();
  b.q->publish();
  b.q->set_interrupts(false);
  b.q->set_interrupts(true);
  b.oracle->op_begin(DriverOp::kRxBurst);
  Completion out[PackedImage::kSize];
  b.q->harvest(out, PackedImage::kSize, true);
  b.used(0, id, 10, true);
  if (b.q->harvest(out, PackedImage::kSize) != 1) _exit(4);
  b.oracle->op_end(DriverOp::kRxBurst);
  b.oracle->check_used_event(0);
}

void packed_used_at_attach_no_reset() {
  PackedImage b;  // (attach's look found nothing)
  b.used(0, 0, 10, true);
  b.oracle->op_begin(DriverOp::kAttach);
  b.fetch_flags(0);  // attach's first-hand look: a used descriptor already
  b.oracle->op_end(DriverOp::kAttach);
  b.oracle->op_begin(DriverOp::kPollDevice);  // planted: no reset
  b.oracle->op_end(DriverOp::kPollDevice);
}

void packed_id_reused_in_flight() {
  PackedImage b;
  const uint16_t id = b.add();
  PublishedChain c;  // planted: the same id announced again
  c.queue = 0;
  c.head = id;
  c.avail_idx = 1;
  c.num_segments = 1;
  c.segments[0] = ChainSegment{1, 64, true, b.pool.alloc()->base};
  b.oracle->published(c);
}

void packed_device_event_without_full_barrier() {
  PackedImage b;
  b.add();
  b.q->publish();
  uint8_t ev[4];
  b.oracle->barrier(Barrier::kWrite);  // (observes the head store)
  b.oracle->fetch(DeviceMemRef{0, MemPart::kDeviceEvent, 0, false}, b.device_event(), ev, 4);
}

void packed_no_notify_after_event_crossed() {
  PackedImage b(true);
  b.oracle->op_begin(DriverOp::kTxBurst);
  b.add();
  b.q->publish();
  b.set_device_event(0x8000, 2);  // position 0 of this lap: crossed
  if (!b.q->kick_needed()) _exit(4);
  b.oracle->op_end(DriverOp::kTxBurst);  // planted: no notification
}

void packed_notify_against_device_event() {
  PackedImage b(true);
  b.oracle->op_begin(DriverOp::kTxBurst);
  b.add();
  b.q->publish();
  b.set_device_event(0x8000 | 5, 2);  // the device waits for position 5
  b.q->kick_needed();
  b.common_write(0x1000, 2, 0);  // planted: notified anyway
  b.oracle->op_end(DriverOp::kTxBurst);
}

const Case kCases[] = {
    {"ownership.free_posted", kOwn, "returned to the pool while the device still owns it",
     own_free_posted},
    {"ownership.free_reset_not_read_back", kOwn, "while the device still owns it",
     own_free_reset_not_read_back},
    {"ownership.free_reset_not_acknowledged", kOwn, "while the device still owns it",
     own_free_reset_not_acknowledged},
    {"ownership.free_zero_to_other_register", kOwn, "while the device still owns it",
     own_free_zero_to_other_register},
    {"ownership.free_status_rewritten_before_ack", kOwn, "while the device still owns it",
     own_free_status_nonzero_after_zero},
    {"ownership.free_spontaneous_zero", kOwn, "while the device still owns it",
     own_free_spontaneous_zero},
    {"ownership.ok_free_after_acknowledged_reset", nullptr, nullptr,
     ok_free_after_acknowledged_reset},
    {"ownership.ok_free_after_completion", nullptr, nullptr, ok_free_after_completion},
    {"ownership.unmap_posted", kOwn, "unmapped (from-device) while the device still owns it",
     own_unmap_posted},
    {"ownership.unmap_reset_not_acknowledged", kOwn, "while the device still owns it",
     own_unmap_reset_not_acknowledged},
    {"ownership.ok_unmap_after_acknowledged_reset", nullptr, nullptr,
     ok_unmap_after_acknowledged_reset},
    {"ownership.map_outside_pool", kOwn, "not inside one pool buffer", own_map_outside_pool},
    {"ownership.map_across_buffers", kOwn, "not inside one pool buffer", own_map_across_buffers},
    {"ownership.map_twice", kOwn, "while an earlier mapping is live", own_map_twice},
    {"ownership.unmap_not_mapped", kOwn, "without a live mapping", own_unmap_not_mapped},
    {"ownership.unmap_len_above_mapping", kOwn, "above the 100 bytes mapped",
     own_unmap_len_above_mapping},
    {"ownership.free_twice", kOwn, "returned to the pool twice", own_free_twice},
    {"ownership.free_foreign", kOwn, "the pool never lent", own_free_foreign},
    {"ownership.publish_owned_descriptor", kOwn, "published while the device owns it",
     own_publish_owned},
    {"ownership.completion_not_owned", kOwn, "which the device does not own",
     own_completion_not_owned},
    {"ownership.ring_freed_while_owned", kOwn, "ring memory freed while the device owns",
     own_ring_freed_while_owned},
    {"ownership.buffer_leak_after_stop", kOwn, "pool buffers not returned after stop()",
     own_buffer_leak},
    {"ownership.mapping_leak_after_stop", kOwn, "DMA mappings of pool buffers still live",
     own_mapping_leak},
    {"ownership.region_leak_after_stop", kOwn, "DMA regions still allocated", own_region_leak},
    {"ownership.ok_world_traffic_and_stop", nullptr, nullptr, ok_world_traffic_and_stop},
    {"ownership.real_driver_buffers_back_without_reset", kOwn, "while the device still owns it",
     own_real_driver_device_gone_early},
    {"ownership.ok_real_driver_quarantine_then_end", nullptr, nullptr,
     ok_real_driver_quarantine_then_end},

    {"poison.write_after_free", kPoison, "WRITE of size 1", poison_write_after_free},
    {"poison.read_after_free", kPoison, "READ of size", poison_read_after_free},
    {"poison.buffer_never_lent", kPoison, "WRITE of size 1", poison_never_lent},
    {"poison.ok_lifted_on_alloc", nullptr, nullptr, ok_poison_lifted_on_alloc},
    {"poison.device_window_other_buffer", kPoison, "WRITE of size 1",
     poison_device_window_other_buffer},
    {"poison.ok_device_window_suspect", nullptr, nullptr, ok_poison_device_window_suspect},

    {"frame_bounds.beyond_used_len", kFrame, "beyond the 100 bytes the device reported",
     frame_beyond_used_len},
    {"frame_bounds.overruns_buffer", kFrame, "overruns the 512-byte buffer", frame_overruns_buffer},
    {"frame_bounds.not_completed", kFrame, "was not completed by the device in this operation",
     frame_not_completed},
    {"frame_bounds.completed_in_earlier_operation", kFrame,
     "was not completed by the device in this operation", frame_completed_earlier_operation},
    {"frame_bounds.outside_chain", kFrame, "is not inside any buffer of chain",
     frame_outside_chain},
    {"frame_bounds.announced_twice", kFrame, "announced twice", frame_announced_twice},
    {"frame_bounds.delivered_unannounced", kFrame, "without frame_in_place",
     frame_delivered_unannounced},
    {"frame_bounds.delivered_twice", kFrame, "delivered to the stack twice", frame_delivered_twice},
    {"frame_bounds.delivered_not_pool", kFrame, "not a pool buffer", frame_delivered_not_pool},
    {"frame_bounds.ok_frame_in_completed_buffer", nullptr, nullptr, ok_frame_in_completed_buffer},

    {"double_fetch.used_idx_twice", kFetch, "used.idx 0 of queue 0 fetched twice in rx_burst",
     fetch_used_idx_twice},
    {"double_fetch.used_elem_in_run_again", kFetch, "used element 2 of queue 1 fetched twice",
     fetch_used_elem_in_run_again},
    {"double_fetch.rx_header_twice", kFetch, "rx header 7 of queue 0 fetched twice",
     fetch_rx_header_twice},
    {"double_fetch.ok_recheck_and_new_operation", nullptr, nullptr,
     ok_fetch_recheck_and_new_operation},

    {"work_budget.spin_in_operation", kBudget, "driver operation stop made more than",
     budget_spin_in_operation},
    {"work_budget.spin_between_operations", kBudget, "(outside any operation)",
     budget_spin_between_operations},
    {"work_budget.ok_per_operation", nullptr, nullptr, ok_budget_per_operation},

    {"conformance.features_after_driver_ok", kConf, "3.1.1 driver features written after",
     conformance_features_after_driver_ok},
    {"conformance.notify_missing_queue", kConf, "spec violation(s) on well-behaved input",
     conformance_notify_missing_queue},
    {"conformance.ok_misbehaving_device", nullptr, nullptr, ok_conformance_misbehaving_device},

    {"window.read_outside_capability", kWindow, "read of 4 bytes at BAR4 offset 0x38",
     window_read_outside_capability},
    {"window.capability_beyond_bar", kWindow, "outside every window", window_capability_beyond_bar},
    {"window.capabilities_without_list_bit", kWindow, "read of 4 bytes at BAR4 offset 0x0",
     window_capabilities_without_list_bit},
    {"window.bar_never_asked", kWindow, "never asked", window_bar_never_asked},
    {"window.capability_partly_read", kWindow, "capability windows: none",
     window_capability_partly_read},
    {"window.config_past_header", kWindow, "past the header", window_config_past_header},
    {"window.ok_inside_and_legacy", nullptr, nullptr, ok_window_inside_and_legacy},
    {"window.notify_queue_never_enabled", kWindow, "value 7) at BAR0 offset 0x10 for a queue",
     window_notify_queue_never_enabled},
    {"window.notify_queue_refused", kWindow, "for a queue the device did not show enabled",
     window_notify_queue_refused},
    {"window.notify_wrong_address", kWindow, "its notify address is 0x1000",
     window_notify_wrong_address},
    {"window.outside_chosen_structures", kWindow, "outside the four structures",
     window_outside_chosen_structures},
    {"window.ok_chosen_structures", nullptr, nullptr, ok_window_chosen_structures},
    {"window.msix_table_in_io_bar", kWindow, "write of 4 bytes at BAR2 offset 0x0",
     window_msix_table_in_io_bar},
    {"window.ok_msix_table", nullptr, nullptr, ok_window_msix_table},

    {"protocol.driver_ok_without_read_back", kProtocol, "without reading FEATURES_OK back",
     protocol_driver_ok_without_read_back},
    {"protocol.driver_ok_after_refusal", kProtocol, "read back FEATURES_OK clear",
     protocol_driver_ok_after_refusal},
    {"protocol.feature_not_offered", kProtocol, "did not offer", protocol_feature_not_offered},
    {"protocol.features_without_offer", kProtocol, "without reading the device's offer",
     protocol_features_without_offer},
    {"protocol.ok_init_sequence", nullptr, nullptr, ok_protocol_init_sequence},
    {"protocol.feature_field_beyond_window", kProtocol,
     "features 0x20 whose configuration fields lie beyond the 4-byte",
     protocol_feature_field_beyond_window},
    {"protocol.ok_features_inside_window", nullptr, nullptr, ok_protocol_features_inside_window},
    {"protocol.link_from_torn_read", kProtocol, "without a consistent read of the status field",
     protocol_link_from_torn_read},
    {"protocol.link_against_consistent_read", kProtocol,
     "the first consistent read of the status field said 0x0",
     protocol_link_against_consistent_read},
    {"protocol.ok_link_changes", nullptr, nullptr, ok_protocol_link_changes},
    {"protocol.used_event_stale", kProtocol, "used_event is 5 after 0 completions taken",
     protocol_used_event_stale},
    {"protocol.no_notify_after_event_crossed", kProtocol,
     "no notification after avail.idx 1 crossed avail_event 0",
     protocol_no_notify_after_event_crossed},
    {"protocol.notify_against_avail_event", kProtocol,
     "notification although avail.idx 1 did not cross avail_event 5",
     protocol_notify_against_avail_event},
    {"protocol.ok_event_idx", nullptr, nullptr, ok_protocol_event_idx},
    {"protocol.features_from_torn_config", kProtocol, "config_generation change",
     protocol_features_from_torn_config},
    {"protocol.ok_features_from_stable_config", nullptr, nullptr,
     ok_protocol_features_from_stable_config},
    {"protocol.drives_foreign_device", kProtocol, "which is no virtio network device",
     protocol_drives_foreign_device},
    {"protocol.drives_unread_identity", kProtocol, "PCI identity it never read",
     protocol_drives_unread_identity},
    {"protocol.completion_beyond_used_idx", kProtocol, "beyond the used index 1",
     protocol_completion_beyond_used_idx},
    {"protocol.completion_not_the_element", kProtocol, "says id 1 len 100",
     protocol_completion_not_the_element},
    {"protocol.completion_after_index_jump", kProtocol, "entries ahead with only 1 chains",
     protocol_completion_after_index_jump},
    {"protocol.completion_without_fetch", kProtocol, "without fetching its used element",
     protocol_completion_without_fetch},
    {"protocol.ok_completions", nullptr, nullptr, ok_protocol_completions},

    {"poison.raw_read_of_used_ring", kPoison, "READ of size 2", poison_raw_read_of_used_ring},
    {"poison.ok_used_ring_between_operations", nullptr, nullptr,
     ok_poison_used_ring_between_operations},
    {"double_fetch.same_address_other_label", kFetch, "fetched twice",
     fetch_same_address_other_label},
    {"double_fetch.recheck_label_on_element", kFetch, "fetched twice",
     fetch_recheck_label_on_element},

    {"ordering.publish_without_write_barrier", kProtocol, "with no write barrier",
     ordering_publish_without_write_barrier},
    {"ordering.kick_without_full_barrier", kProtocol, "no full barrier after the avail.idx store",
     ordering_kick_without_full_barrier},
    {"ordering.interrupts_without_full_barrier", kProtocol, "a completion racing the store",
     ordering_interrupts_without_full_barrier},
    {"ordering.elements_without_read_barrier", kProtocol, "no read barrier between",
     ordering_elements_without_read_barrier},
    {"ordering.smp_barrier_after_order_platform", kProtocol, "SMP-strength barrier",
     ordering_smp_barrier_after_order_platform},
    {"ordering.ok_ring_protocol", nullptr, nullptr, ok_ordering_ring_protocol},

    {"recovery.completion_after_bad_element", kProtocol, "the queue is broken",
     recovery_completion_after_bad_element},
    {"recovery.no_reset_after_bad_element", kProtocol, "did not reset it",
     recovery_no_reset_after_bad_element},
    {"recovery.needs_reset_ignored", kProtocol, "asking for a reset", recovery_needs_reset_ignored},
    {"recovery.ok_reset_after_bad_element", nullptr, nullptr, ok_recovery_reset_after_bad_element},

    {"decision.gso_frame_delivered", kDecision, "the reference delivers 0",
     decision_gso_frame_delivered},
    {"decision.valid_frame_dropped", kDecision, "must be delivered as a frame of 100 bytes",
     decision_valid_frame_dropped},
    {"decision.wrong_drop_reason", kDecision, "under rx_drop_hdr_gso; the reference drops 0",
     decision_wrong_drop_reason},
    {"decision.frame_above_mtu_delivered", kDecision, "the reference delivers 0",
     decision_frame_above_mtu_delivered},
    {"decision.num_buffers_zero_delivered", kDecision, "the reference delivers 0",
     decision_num_buffers_zero_delivered},
    {"decision.ok_frame_delivered", nullptr, nullptr, ok_decision_frame_delivered_and_drop},
    {"decision.gso_not_ip_delivered", kDecision, "the reference delivers 0",
     decision_gso_not_ip_delivered},
    {"decision.verified_not_reported", kDecision, "its header calls for csum 2",
     decision_verified_not_reported},
    {"decision.ok_verified_reported", nullptr, nullptr, ok_decision_verified_reported},
    {"decision.msix_after_refused_vector", kDecision, "read back as 0x0000",
     decision_msix_after_refused_vector},
    {"decision.ok_fallback_after_refused_vector", nullptr, nullptr,
     ok_decision_fallback_after_refused_vector},
    {"window.mmio_v2_register_on_v1", kWindow, "is a version 2 register",
     window_mmio_v2_register_on_v1},
    {"window.mmio_control_register_width", kWindow, "not an aligned 32-bit access",
     window_mmio_control_register_width},
    {"window.mmio_notify_queue_not_set_up", kWindow, "not set up since the last reset",
     window_mmio_notify_queue_not_set_up},
    {"protocol.mmio_ack_of_nothing", kProtocol, "InterruptACK 0x0", protocol_mmio_ack_of_nothing},
    {"decision.mmio_probe_outcome", kDecision, "the reference decides \"ok\"",
     decision_mmio_probe_outcome},
    {"decision.ok_mmio_real_driver", nullptr, nullptr, ok_mmio_real_driver},
    {"decision.msix_table_over_common", kDecision, "lies over the common configuration",
     decision_msix_table_over_common},
    {"decision.msix_table_above_4g", kDecision, "ends above 4 GiB", decision_msix_table_above_4g},
    {"decision.msix_table_in_io_bar", kDecision, "in no memory BAR that holds it",
     decision_msix_table_in_io_bar},
    {"decision.msix_after_enable_refused", kDecision, "enable bit it set read back clear",
     decision_msix_after_enable_refused},
    {"decision.ok_msix_table_usable", nullptr, nullptr, ok_decision_msix_table_usable},
    {"decision.storm_not_declared", kDecision, "no storm declared", decision_storm_not_declared},
    {"decision.ok_storm_spread_or_declared", nullptr, nullptr,
     ok_decision_storm_spread_or_declared},
    {"decision.probe_outcome", kDecision, "chooses \"modern\"", decision_probe_outcome},
    {"decision.probe_no_version1", kDecision, "chooses \"modern unusable\"",
     decision_probe_no_version1},
    {"decision.probe_later_capability", kDecision, "first usable common capability",
     decision_probe_later_capability},
    {"watchdog.never_fires", kDecision, "did not fire, the reference says it must",
     watchdog_never_fires},
    {"watchdog.ignores_progress", kDecision, "fired, the reference says it must not",
     watchdog_ignores_progress},
    {"watchdog.fires_when_disabled", kDecision, "fired although it is disabled",
     watchdog_fires_when_disabled},
    {"watchdog.ok_stall_progress_reset", nullptr, nullptr, ok_watchdog},
    {"decision.attach_mtu_below_minimum", kDecision, "driver accepted features",
     decision_attach_mtu_below_minimum},
    {"decision.attach_queue_size_not_power_of_two", kDecision, "call for 'queue size invalid",
     decision_attach_queue_size_not_power_of_two},
    {"protocol.packed_ok_ring", nullptr, nullptr, ok_packed_ring_plain},
    {"protocol.packed_ok_ring_event_idx", nullptr, nullptr, ok_packed_ring_event_idx},
    {"protocol.packed_head_stored_without_barrier", kProtocol, "no write barrier",
     packed_head_stored_without_barrier},
    {"protocol.packed_used_fetched_without_read_barrier", kProtocol, "read barrier",
     packed_used_fetched_without_read_barrier},
    {"protocol.packed_completion_at_wrong_position", kProtocol, "is due at position",
     packed_completion_at_wrong_position},
    {"protocol.packed_completion_with_stale_wrap", kProtocol, "used wrap counter",
     packed_completion_with_stale_wrap},
    {"protocol.packed_completion_not_the_descriptor", kProtocol, "the used descriptor says",
     packed_completion_not_the_descriptor},
    {"protocol.packed_completion_not_in_flight", kProtocol, "not a published chain",
     packed_completion_not_in_flight},
    {"protocol.packed_completion_after_bad_id", kProtocol, "no driver may accept",
     packed_completion_after_bad_id},
    {"protocol.packed_bad_id_no_reset", kProtocol, "no driver may accept", packed_bad_id_no_reset},
    {"protocol.packed_used_of_nothing_no_reset", kProtocol, "no driver may accept",
     packed_used_of_nothing_no_reset},
    {"protocol.packed_ok_used_of_nothing_reset", nullptr, nullptr, ok_packed_used_of_nothing_reset},
    {"protocol.packed_desc_flags_with_new_off_wrap", kProtocol, "stale position",
     packed_desc_flags_with_new_off_wrap},
    {"protocol.packed_reread_after_enable_without_full_barrier", kProtocol,
     "no full barrier between", packed_reread_after_enable_without_full_barrier},
    {"protocol.packed_off_wrap_stale", kProtocol, "will not interrupt", packed_off_wrap_stale},
    {"protocol.packed_ok_driver_event", nullptr, nullptr, ok_packed_driver_event},
    {"protocol.packed_used_at_attach_no_reset", kProtocol, "no driver may accept",
     packed_used_at_attach_no_reset},
    {"protocol.packed_id_reused_in_flight", kProtocol, "while still in flight",
     packed_id_reused_in_flight},
    {"protocol.packed_device_event_without_full_barrier", kProtocol, "no full barrier",
     packed_device_event_without_full_barrier},
    {"protocol.packed_no_notify_after_event_crossed", kProtocol, "MUST notify",
     packed_no_notify_after_event_crossed},
    {"protocol.packed_notify_against_device_event", kProtocol, "SHOULD NOT",
     packed_notify_against_device_event},
    {"decision.ok_real_driver", nullptr, nullptr, ok_decision_real_driver},
};

const Case* find_case(const char* name) {
  for (const Case& c : kCases)
    if (strcmp(c.name, name) == 0) return &c;
  return nullptr;
}

// Runs c in a child with stderr (and stdout) captured; true when it passed.
bool run_child(const char* self, const Case& c) {
  int fds[2];
  if (pipe(fds) != 0) return false;
  fflush(stdout);
  fflush(stderr);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[1]);
    execl("/proc/self/exe", self, "--one", c.name, static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  const bool clean_exit = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  std::string why;
  if (c.expect == nullptr) {
    if (!clean_exit)
      why = "the control case did not exit cleanly";
    else if (out.find("FINDING") != std::string::npos)
      why = "a finding on the control case";
  } else if (strcmp(c.expect, kPoison) == 0 && !FuzzPool::poisoning()) {
    printf("%-52s skipped (no ASan in this build)\n", c.name);
    return true;
  } else {
    if (clean_exit)
      why = "the planted bug went unreported (clean exit)";
    else if (out.find(c.expect) == std::string::npos)
      why = std::string("no \"") + c.expect + "\"";
    else if (c.detail != nullptr && out.find(c.detail) == std::string::npos)
      why = std::string("no \"") + c.detail + "\"";
  }
  if (why.empty()) {
    printf("%-52s ok: %s\n", c.name, c.expect != nullptr ? c.expect : "quiet");
    return true;
  }
  printf("%-52s FAILED: %s; its output:\n%s\n", c.name, why.c_str(), out.c_str());
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "--one") == 0) {
    const Case* c = find_case(argv[2]);
    if (c == nullptr) {
      fprintf(stderr, "no case %s\n", argv[2]);
      return 2;
    }
    c->run();
    fflush(stdout);
    fflush(stderr);
    _exit(0);  // no leak check: the cases leave their benches behind
  }
  const char* prefix = argc > 1 ? argv[1] : "";
  int run = 0, failed = 0;
  for (const Case& c : kCases) {
    if (strncmp(c.name, prefix, strlen(prefix)) != 0) continue;
    ++run;
    if (!run_child(argv[0], c)) ++failed;
  }
  printf("%d cases, %d failed\n", run, failed);
  if (run == 0) return 2;
  return failed == 0 ? 0 : 1;
}
