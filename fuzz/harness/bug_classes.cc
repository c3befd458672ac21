#include "fuzz/harness/bug_classes.h"

#include "driver/spec/virtio_constants.h"
#include "fuzz/harness/setups.h"
#include "fuzz/harness/targets.h"
#include "mock_device/fault.h"

namespace vnet::fuzz {

namespace {

// A counter must have moved.
#define NEED(counter)                                                    \
  [](const VirtioNet& n) -> std::string {                                \
    return n.counters().counter != 0 ? "" : "counter " #counter " is 0"; \
  }

std::vector<uint8_t> used_ring(uint8_t flavour, UsedEditKind kind, uint8_t queue, uint32_t value) {
  ScriptWriter w(kUsedRingTable);
  w.u8(flavour).u8(7).u8(7).u8(2);  // rx/tx caps 8, queues of 32
  w.op(Op::kRx).u8(3).u16(64);      // 4 good frames first
  w.op(Op::kTx).u8(1).u16(100).u8(1);
  w.op(Op::kUsedEdit).u8(queue).u8(static_cast<uint8_t>(kind)).u32(value);
  if (queue == 0)
    w.op(Op::kRx).u8(0).u16(64);
  else
    w.op(Op::kTx).u8(0).u16(100).u8(2).op(Op::kTxReclaim);
  w.op(Op::kPoll);              // recovery when the queue broke
  w.op(Op::kRx).u8(1).u16(64);  // and traffic again
  return w.bytes();
}

std::vector<uint8_t> used_fault(uint8_t flavour, mock::FaultKind kind, uint8_t queue,
                                uint32_t value) {
  ScriptWriter w(kUsedRingTable);
  w.u8(flavour).u8(7).u8(7).u8(2);
  w.op(Op::kRx).u8(3).u16(64);
  uint8_t index = 0;
  const mock::FaultKind kinds[] = {
      mock::FaultKind::kUsedIdOutOfRange,   mock::FaultKind::kUsedIdNotInFlight,
      mock::FaultKind::kUsedDoubleComplete, mock::FaultKind::kUsedLenOver,
      mock::FaultKind::kUsedLenShort,       mock::FaultKind::kUsedIdxJump,
  };
  for (uint8_t i = 0; i < sizeof kinds / sizeof kinds[0]; ++i)
    if (kinds[i] == kind) index = i;
  w.op(Op::kFault).u8(index).u8(queue).u8(0).u8(1).u32(value);
  w.op(Op::kRx).u8(1).u16(64);
  w.op(Op::kPoll);
  w.op(Op::kRx).u8(1).u16(64);
  return w.bytes();
}

std::vector<uint8_t> rx_header(uint8_t flavour, const uint8_t (&hdr)[12], uint8_t len_mode,
                               uint16_t len_value, uint16_t size = 64) {
  ScriptWriter w(kRxTable);
  w.u8(flavour).u8(7).u8(0);
  w.op(Op::kRx).u8(1).u16(64);
  w.op(Op::kRxRaw).raw(hdr, 12).u16(size).u8(9).u8(len_mode).u16(len_value);
  w.op(Op::kRx).u8(1).u16(64);
  return w.bytes();
}

std::vector<uint8_t> config(const ConfigPrefix& p, bool traffic = true) {
  ScriptWriter w(kConfigTable);
  write_config_prefix(w, p);
  if (traffic) {
    w.op(Op::kRx).u8(1).u16(64);
    w.op(Op::kTx).u8(1).u16(100).u8(3);
  }
  return w.bytes();
}

std::vector<uint8_t> config_then(const ConfigPrefix& p, Op op, std::vector<uint8_t> args) {
  ScriptWriter w(kConfigTable);
  write_config_prefix(w, p);
  w.op(Op::kRx).u8(1).u16(64);
  w.op(op).raw(args.data(), args.size());
  w.op(Op::kRx).u8(1).u16(64);
  return w.bytes();
}

}  // namespace

std::vector<BugClass> bug_classes() {
  std::vector<BugClass> b;
  const uint8_t kModern = 1, kLegacy = 0;
  b.push_back({"used_id_out_of_range",
               "rx used.id beyond the queue size: queue broken, reset, recovered", "fuzz_used_ring",
               run_fuzz_used_ring, used_ring(kModern, UsedEditKind::kSetId, 0, 1000),
               NEED(queue_broken_used_id)});
  b.push_back({"used_id_not_head", "tx used.id names a descriptor that is no in-flight head",
               "fuzz_used_ring", run_fuzz_used_ring, used_ring(kLegacy, UsedEditKind::kSetId, 1, 5),
               NEED(queue_broken_used_stale)});
  b.push_back({"used_completed_twice", "an rx chain completed twice", "fuzz_used_ring",
               run_fuzz_used_ring, used_fault(kModern, mock::FaultKind::kUsedDoubleComplete, 0, 0),
               NEED(queue_broken_used_stale)});
  b.push_back({"used_len_over", "rx used.len above the posted buffer: frame dropped",
               "fuzz_used_ring", run_fuzz_used_ring,
               used_ring(kModern, UsedEditKind::kSetLen, 0, 5000), NEED(rx_drop_len_over)});
  b.push_back({"used_len_short", "rx used.len below the net header: frame dropped",
               "fuzz_used_ring", run_fuzz_used_ring,
               used_ring(kLegacy, UsedEditKind::kSetLen, 0, 4), NEED(rx_drop_len_short)});
  b.push_back({"used_idx_leap", "rx used.idx leaps past the chains in flight: queue broken",
               "fuzz_used_ring", run_fuzz_used_ring,
               used_ring(kModern, UsedEditKind::kSkipIdx, 0, 40), NEED(queue_broken_used_idx)});
  {
    ConfigPrefix p;
    p.queue_sizes[0] = 1000;  // not a power of two
    b.push_back({"queue_size_not_pow2", "rx queue size 1000: attach fails (queue size invalid)",
                 "fuzz_config", run_fuzz_config, config(p, false),
                 [](const VirtioNet& n) -> std::string {
                   return n.last_error() == AttachError::kQueueSizeInvalid
                              ? ""
                              : "attach did not fail with kQueueSizeInvalid";
                 }});
    p.queue_sizes[0] = 0;
    b.push_back({"queue_size_zero", "rx queue size 0: attach fails (queue unavailable)",
                 "fuzz_config", run_fuzz_config, config(p, false),
                 [](const VirtioNet& n) -> std::string {
                   return n.last_error() == AttachError::kQueueUnavailable
                              ? ""
                              : "attach did not fail with kQueueUnavailable";
                 }});
    p.queue_sizes[0] = 32768;
    p.flavour = kLegacy;
    b.push_back({"queue_size_huge_legacy",
                 "legacy rx queue of 32768 entries: refused, never allocated", "fuzz_config",
                 run_fuzz_config, config(p, false), [](const VirtioNet& n) -> std::string {
                   return n.last_error() == AttachError::kQueueSizeInvalid
                              ? ""
                              : "attach did not fail with kQueueSizeInvalid";
                 }});
  }
  {
    ConfigPrefix p;
    p.mtu = 20;
    b.push_back({"mtu_below_68", "MTU 20 offered: MTU feature not accepted", "fuzz_config",
                 run_fuzz_config, config(p), NEED(config_invalid_mtu)});
    ConfigPrefix q;
    q.mtu = 9000;
    b.push_back({"mtu_above_buffers", "MTU 9000 offered with 1514-byte frames: not accepted",
                 "fuzz_config", run_fuzz_config, config(q), [](const VirtioNet& n) -> std::string {
                   return n.mtu() == 1500 && !spec::has_feature(n.negotiated_features(),
                                                                spec::Feature::kNetMtu)
                              ? ""
                              : "MTU 9000 was accepted";
                 }});
    ConfigPrefix r;
    r.max_pairs = 0x9000;
    b.push_back({"max_pairs_out_of_range",
                 "max_virtqueue_pairs 0x9000 (and 0 at run time): ignored, traffic flows",
                 "fuzz_config", run_fuzz_config, config_then(r, Op::kCfgPairs, {0, 0}),
                 [](const VirtioNet& n) -> std::string {
                   return n.counters().rx_packets >= 2 ? "" : "traffic stopped";
                 }});
    ConfigPrefix s;
    b.push_back({"config_changes_between_reads",
                 "config_generation never settles: the read is retried, then not trusted",
                 "fuzz_config", run_fuzz_config, config_then(s, Op::kCfgChurn, {40}),
                 NEED(config_unstable)});
    ConfigPrefix t;
    t.flavour = 0x80 | kModern;
    b.push_back({"interrupt_before_driver_ok",
                 "config change signalled before the driver attached, caller polls early: "
                 "ignored, attach and traffic unaffected",
                 "fuzz_config", run_fuzz_config, config(t), [](const VirtioNet& n) -> std::string {
                   if (n.counters().config_changes != 0)
                     return "a stale config change was acted on";
                   return n.counters().rx_packets >= 1 ? "" : "traffic did not flow";
                 }});
    ConfigPrefix u;
    u.num_faults = 1;
    u.fault_kind[0] = static_cast<uint8_t>(config_fault_index(mock::FaultKind::kCapOutsideBar));
    u.fault_value[0] = 1;  // COMMON
    b.push_back({"cap_outside_bar",
                 "modern COMMON capability extends past its BAR: not used (probe fails)",
                 "fuzz_config", run_fuzz_config, config(u), [](const VirtioNet& n) -> std::string {
                   return n.transport() == nullptr ? "" : "the driver attached anyway";
                 }});
  }
  {
    uint8_t hdr[12] = {};
    hdr[10] = 0;  // num_buffers 0
    b.push_back({"num_buffers_zero", "MRG_RXBUF header with num_buffers 0: dropped", "fuzz_rx",
                 run_fuzz_rx, rx_header(kModern, hdr, 0, 0), NEED(rx_drop_num_buffers)});
    hdr[10] = 0xFF;
    hdr[11] = 0xFF;  // 65535
    b.push_back({"num_buffers_huge",
                 "num_buffers 65535 (more than posted): dropped, nothing skipped", "fuzz_rx",
                 run_fuzz_rx, rx_header(kModern, hdr, 0, 0), [](const VirtioNet& n) -> std::string {
                   if (n.counters().rx_drop_num_buffers == 0) return "not dropped";
                   return n.counters().rx_packets >= 2 ? "" : "later frames were skipped";
                 }});
    uint8_t csum[12] = {1,    0,    0,    0,    0, 0,
                        0xFF, 0xFF, 0xFF, 0xFF, 1, 0};  // NEEDS_CSUM, start/offset absurd
    b.push_back({"csum_header_malformed",
                 "NEEDS_CSUM with csum_start/offset beyond the frame, not negotiated: dropped",
                 "fuzz_rx", run_fuzz_rx, rx_header(kModern, csum, 0, 0), NEED(rx_drop_hdr_flags)});
    uint8_t gso[12] = {0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 1, 0};  // GSO TCPV4, hdr_len 65535
    b.push_back({"gso_header_malformed", "GSO TCPv4 with hdr_len 65535, not negotiated: dropped",
                 "fuzz_rx", run_fuzz_rx, rx_header(kLegacy, gso, 0, 0), NEED(rx_drop_hdr_gso)});
  }
  // Issue 9 ("ready for a hostile host"): the defects a review found.
  {
    // A tx queue that makes no progress: the device takes the chains and
    // never completes them. The watchdog (fuzz timing: 2 us, setups.h)
    // breaks the queue on the third poll without progress; the device is
    // reset and traffic flows again.
    ScriptWriter w(kUsedRingTable);
    w.u8(0x80 | kModern).u8(7).u8(7).u8(2);  // the device processes tx only when told
    w.op(Op::kRx).u8(0).u16(64);
    w.op(Op::kTx).u8(1).u16(100).u8(1);
    w.op(Op::kPoll).op(Op::kPoll).op(Op::kPoll);
    w.op(Op::kRx).u8(1).u16(64);
    w.op(Op::kTx).u8(0).u16(100).u8(2).op(Op::kProcessTx).u8(8).op(Op::kTxReclaim);
    b.push_back({"tx_no_progress",
                 "tx chains never completed: the tx watchdog breaks the queue, the device is "
                 "reset and traffic flows again",
                 "fuzz_used_ring", run_fuzz_used_ring, w.bytes(),
                 [](const VirtioNet& n) -> std::string {
                   if (n.counters().tx_watchdog_timeouts == 0) return "the watchdog never fired";
                   if (n.counters().recoveries == 0) return "the device was not reset";
                   if (n.counters().tx_completed == 0) return "tx did not flow afterwards";
                   return n.counters().rx_packets >= 3 ? "" : "rx did not flow afterwards";
                 }});
  }
  {
    // A frame the device says is 1614 bytes long on a 1500-byte link: it
    // fits the 2048-byte buffer, but not the MTU (plus Ethernet header and
    // one VLAN tag).
    uint8_t hdr[12] = {};
    hdr[10] = 1;
    b.push_back({"rx_frame_above_mtu",
                 "used.len makes a 1614-byte frame on a 1500-byte link: dropped, later frames "
                 "delivered",
                 "fuzz_rx", run_fuzz_rx, rx_header(kModern, hdr, 2, 100, 1514),
                 [](const VirtioNet& n) -> std::string {
                   if (n.counters().rx_drop_len_mtu == 0) return "not dropped";
                   return n.counters().rx_packets >= 2 ? "" : "later frames were not delivered";
                 }});
    // DATA_VALID without GUEST_CSUM (legal since the 2024 errata; tap and
    // vhost set it): the frame is delivered.
    uint8_t dv[12] = {};
    dv[0] = 2;  // VIRTIO_NET_HDR_F_DATA_VALID
    dv[10] = 1;
    b.push_back({"rx_data_valid",
                 "DATA_VALID set without GUEST_CSUM: ignored, the frame is delivered", "fuzz_rx",
                 run_fuzz_rx, rx_header(kModern, dv, 0, 0), [](const VirtioNet& n) -> std::string {
                   if (n.counters().rx_drop_hdr_flags != 0) return "the frame was dropped";
                   return n.counters().rx_packets >= 3 ? "" : "not every frame was delivered";
                 }});
  }
  {
    // A tx completion published again while nothing is in flight: caught
    // by the next tx_burst (which reads the used index idle or not), never
    // taken as the completion of the chain that reuses the id.
    ScriptWriter w(kUsedRingTable);
    w.u8(kModern).u8(7).u8(7).u8(2);
    w.op(Op::kTx).u8(0).u16(100).u8(1).op(Op::kTxReclaim);  // sent and reclaimed: tx idle
    w.op(Op::kRepublish).u8(1);
    w.op(Op::kTx).u8(0).u16(100).u8(2);
    w.op(Op::kPoll);
    w.op(Op::kRx).u8(1).u16(64);
    b.push_back(
        {"tx_completion_while_idle",
         "the last tx used entry published again while tx is idle: queue broken before a "
         "new chain could reuse its id, device reset, traffic again",
         "fuzz_used_ring", run_fuzz_used_ring, w.bytes(), [](const VirtioNet& n) -> std::string {
           if (n.counters().queue_broken_used_idx + n.counters().queue_broken_used_stale == 0)
             return "the stale entry was not caught";
           if (n.counters().tx_completed != 1) return "a stale entry was taken as a completion";
           return n.counters().rx_packets >= 2 ? "" : "traffic did not flow afterwards";
         }});
  }
  {
    // The device uses the receive queue before DRIVER_OK, when nothing was
    // made available: an entry for a buffer never offered.
    ConfigPrefix p;
    p.num_faults = 1;
    p.fault_kind[0] =
        static_cast<uint8_t>(config_fault_index(mock::FaultKind::kUsedBeforeDriverOk));
    b.push_back({"used_before_driver_ok",
                 "rx used entry published before DRIVER_OK, for a buffer never offered: not a "
                 "completion, the queue is broken",
                 "fuzz_config", run_fuzz_config, config(p), [](const VirtioNet& n) -> std::string {
                   if (n.counters().queue_broken_used_early == 0) return "not detected";
                   return n.counters().rx_packets == 0 ? "" : "a frame was delivered from it";
                 }});
    // A transitional device whose modern device-config window (5 bytes)
    // cannot hold the MAC it offers: the modern interface is refused and
    // the driver falls back to the legacy one.
    ConfigPrefix q;
    q.flavour = 2;  // transitional, auto
    q.num_faults = 1;
    q.fault_kind[0] = static_cast<uint8_t>(config_fault_index(mock::FaultKind::kDeviceCfgLength));
    q.fault_value[0] = 5;
    b.push_back({"device_cfg_too_short",
                 "device config window of 5 bytes with F_MAC offered: modern refused, legacy used",
                 "fuzz_config", run_fuzz_config, config(q), [](const VirtioNet& n) -> std::string {
                   if (n.transport() == nullptr) return "no transport";
                   if (!n.transport()->is_legacy()) return "the short modern window was used";
                   return n.counters().rx_packets >= 1 ? "" : "traffic did not flow";
                 }});
    // Slow hardware: a reset completes only after 40 more status reads.
    // The driver waits (against the clock, not a count) and attaches.
    ConfigPrefix r;
    r.num_faults = 1;
    r.fault_kind[0] = static_cast<uint8_t>(config_fault_index(mock::FaultKind::kResetLatency));
    r.fault_value[0] = 40;
    b.push_back({"reset_slow", "a reset that takes 40 status reads: waited for, not quarantined",
                 "fuzz_config", run_fuzz_config, config(r), [](const VirtioNet& n) -> std::string {
                   if (n.counters().reset_timeouts != 0) return "the reset timed out";
                   if (n.quarantined()) return "buffers quarantined";
                   return n.counters().rx_packets >= 1 ? "" : "traffic did not flow";
                 }});
  }
  return b;
}

}  // namespace vnet::fuzz
