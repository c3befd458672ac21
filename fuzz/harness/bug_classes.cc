#include "fuzz/harness/bug_classes.h"

#include "driver/spec/virtio_constants.h"
#include "fuzz/harness/setups.h"
#include "fuzz/harness/targets.h"

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
                               uint16_t len_value) {
  ScriptWriter w(kRxTable);
  w.u8(flavour).u8(7).u8(0);
  w.op(Op::kRx).u8(1).u16(64);
  w.op(Op::kRxRaw).raw(hdr, 12).u16(64).u8(9).u8(len_mode).u16(len_value);
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
    u.fault_kind[0] = 6;   // cap_outside_bar
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
  return b;
}

}  // namespace vnet::fuzz
