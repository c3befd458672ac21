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
#include "driver/spec/pci_layout.h"
#include "fuzz/harness/fuzz_pool.h"
#include "fuzz/harness/oracle_platform.h"
#include "fuzz/harness/setups.h"
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

  uint32_t reg_read(Region, uint32_t, uint8_t) override {
    const uint32_t v =
        status_reads[next_status < status_reads.size() ? next_status : status_reads.size() - 1];
    ++next_status;
    return v;
  }
  void reg_write(Region, uint32_t, uint8_t, uint32_t) override {}
  BarInfo bar_info(uint8_t) override { return BarInfo{}; }
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

  Bench() { oracle->begin_input(device); }

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
  void legacy() { oracle->set_status_register(bar_region(0), spec::pci::legacy::kDeviceStatus); }
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
  b.oracle->completed(0, 0, 64);
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
  b.oracle->completed(0, 5, 0);
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
  static_cast<volatile uint8_t*>(early_data)[5] = 1;
}

void ok_poison_device_window_suspect() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  uint8_t* data = p->base;
  b.pool.set_device_lies();
  b.pool.free(p);
  b.pool.device_dma_begin();
  static_cast<volatile uint8_t*>(data)[5] = 1;  // the lying device's late write
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
  b.oracle->completed(0, 0, 100);
  b.oracle->frame_in_place(0, 0, p->base + 12, 200);
}

void frame_overruns_buffer() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.publish(0, 0, p, true, 512);
  b.oracle->completed(0, 0, 4000);  // the device claims more than the buffer
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
  b.oracle->completed(0, 0, 100);
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
  b.oracle->completed(0, 0, 100);
  b.oracle->frame_in_place(0, 0, q->base + 12, 60);
}

void frame_announced_twice() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.publish(0, 0, p);
  b.oracle->completed(0, 0, 100);
  b.oracle->frame_in_place(0, 0, p->base + 12, 60);
  b.oracle->frame_in_place(0, 0, p->base + 12, 60);
}

void frame_delivered_unannounced() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.publish(0, 0, p);
  b.oracle->completed(0, 0, 100);
  b.oracle->check_delivered(p->base + 12, 60);
}

void frame_delivered_twice() {
  Bench b;
  PacketBuffer* p = b.pool.alloc();
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.publish(0, 0, p);
  b.oracle->completed(0, 0, 100);
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
  b.oracle->completed(0, 0, 72);
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
  static uint16_t used_idx = 3;
  uint16_t v;
  b.oracle->op_begin(DriverOp::kRxBurst);
  b.oracle->fetch(DeviceMemRef{0, MemPart::kUsedIdx, 0, false}, &used_idx, &v, sizeof v);
  b.oracle->fetch(DeviceMemRef{0, MemPart::kUsedIdx, 0, true}, &used_idx, &v, sizeof v);
  b.oracle->fetch(DeviceMemRef{1, MemPart::kUsedIdx, 0, false}, &used_idx, &v, sizeof v);
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
  w.oracle().reg_write(bar_region(0), spec::pci::legacy::kQueueNotify, 2, 7);
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
