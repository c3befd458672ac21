// The operation script of the device targets (fuzz_used_ring, fuzz_config,
// fuzz_rx): a byte-coded sequence of driver calls and device events run
// against the mock device, so that the fuzzer reaches steady state in a
// few bytes and every mutation is a meaningful change of the story.
//
//   input = <target prefix: device and driver setup (see each target)>
//           op  args...  op  args...  ...           (at most kMaxOps ops)
//
//   op byte: index into the target's op table, modulo its size. Arguments
//   (little-endian) follow the op byte:
//
//   rx          count:u8 size:u16         device receives count (1..64) frames
//                                          of size bytes, then rx_burst(count)
//   rx_burst    max:u8                    rx_burst(max)
//   tx          count:u8 size:u16 seed:u8 tx_burst of count (1..16) frames
//                                          (seed bits 5-7 = n >= 2: each frame
//                                          in n fragments, scatter-gather)
//   tx_reclaim                            tx_reclaim()
//   process_tx  max:u8                    the device consumes up to max tx chains
//   poll                                  poll_device()
//   rx_irq      on:u8                     set_rx_interrupts(on & 1)
//   recover                               recover()
//   restart                               stop(), probe, attach
//   link        up:u8                     link up/down (config interrupt), poll_device()
//   dev_reset                             the device resets itself, poll_device()
//   used_edit   queue:u8 kind:u8 value:u32
//                                          the next used entry the device
//                                          publishes on queue (0 rx, 1 tx)
//                                          is rewritten (UsedEditKind)
//   fault       kind:u8 queue:u8 skip:u8 count:u8 value:u32
//                                          arm a mock_device Fault of the
//                                          used-ring or rx-header family
//   rx_raw      hdr:12 bytes size:u16 fill:u8 len_mode:u8 len_value:u16
//                                          the device receives a frame of size
//                                          bytes with exactly this net header
//                                          and reports used.len per len_mode
//                                          (0 exact, 1 = value, 2 exact+value,
//                                          3 exact-value), then rx_burst
//   rx_l4       hdr:12 bytes kind:u8 payload:u16 poke_at:u8 poke:u8 len_mode:u8 len_value:u16
//                                          a TCP/UDP frame over IPv4/IPv6 (kind
//                                          bit 0 IPv6, 1 UDP, 2 VLAN tag, 3 CWR)
//                                          with this header (num_buffers the
//                                          device's own unless len_mode bit 2),
//                                          byte poke_at ^= poke, used.len per
//                                          len_mode as rx_raw, then rx_burst
//   tx_l4       kind:u8 payload:u16 req:u8 csum_start:u16 csum_offset:u16 gso_size:u16
//               poke_at:u8 poke:u8       a frame of rx_l4's kinds with its IPv4
//                                          checksum and L4 pseudo-header sum set,
//                                          byte poke_at ^= poke, sent with the
//                                          offload request (req bits 0-1 csum,
//                                          2-3 gso kind, 4 ecn; bit 5: two
//                                          buffers), at most two pool buffers
//   cfg_mtu     mtu:u16                   config changes at run time, each with
//   cfg_mac     mac:6 bytes               a config interrupt, then poll_device()
//   cfg_status  status:u16
//   cfg_pairs   pairs:u16
//   queue_size  queue:u8 size:u16         queue_size reads (next probe / recover)
//   pci_patch   offset:u8 value:u8        a PCI configuration byte overridden
//                                          (next probe: restart)
//   pool_budget budget:u8                 the stack's pool gives at most budget
//                                          more buffers (255: unlimited)
//   cfg_churn   reads:u8                  the next reads of config_generation
//                                          each differ (config changing between
//                                          two reads), then a config interrupt
//                                          and poll_device()
//   republish   queue:u8                  the device publishes its last used
//                                          entry of queue (0 rx, 1 tx) again:
//                                          a stale completion, whether or not
//                                          anything is in flight
//   desc_edit   queue:u8 desc:u16 field:u8 value:u32
//                                          the device rewrites one field (addr,
//                                          len, flags, next: field % 4) of a
//                                          descriptor of the queue's table (0 rx,
//                                          1 tx) -- the driver must keep its own
//                                          copy and never read the table back
//   reg_lie     region:u8 offset:u16 width:u8 value:u32 skip:u8 count:u8
//                                          from now on, matching reads of a
//                                          register (region % 8: PCI config,
//                                          BAR0-5, MMIO; width 0 any) answer
//                                          value, after skip reads let through,
//                                          for count reads (0: all) -- a refused
//                                          FEATURES_OK, a config value changing
//                                          between two reads, a notify offset
//                                          outside its window, ...
//                                          region with bits 6-7 set: a lie
//                                          about BAR (region % 8) % 6 instead
//                                          (what bar_info reports): width bit
//                                          2 present (bit 3), bit 4 I/O (bit
//                                          5), bit 6 size 1 << (value % 63)
//   platform_budget alloc:u8 map:u8       the platform runs short: at most alloc
//                                          more dma_alloc and map more dma_map
//                                          calls succeed (255: no limit)
//   options     clear:u64 mac:6            the caller's options for the next
//                                          attach (restart): feature_mask loses
//                                          the bits of clear, fallback_mac = mac
//   flags_edit  queue:u8 mode:u8 value:u16 packed rings: the flags of the next
//                                          used descriptor the device writes on
//                                          queue (0 rx, 1 tx): mode % 4 = 0 set
//                                          to value, 1 xor value, 2 the previous
//                                          lap's pattern (the device stopped
//                                          flipping its wrap counter), 3 still
//                                          "available" (AVAIL != USED)
//   device_event queue:u8 mode:u8 off_wrap:u16
//                                          packed rings: the device event
//                                          structure of queue (0 rx, 1 tx) says
//                                          mode % 3 (ENABLE, DISABLE, DESC) from
//                                          now on; with DESC and mode bit 7, at
//                                          off_wrap instead of the next position
//
// At most kMaxOps ops run per input, at most kMaxReinits of them recover,
// restart or dev_reset. Ops that make the device lie (used_edit, fault, a non-canonical rx_raw,
// cfg_mtu, cfg_pairs, queue_size, pci_patch, cfg_churn, republish, desc_edit, reg_lie) mark the
// input as misbehaving:
// oracle (e) then does not apply. ScriptWriter builds scripts for seeds and
// regression inputs.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <vector>

#include "fuzz/harness/input.h"
#include "fuzz/harness/world.h"

namespace vnet::fuzz {

enum class Op : uint8_t {
  kRx,
  kRxBurst,
  kTx,
  kTxReclaim,
  kProcessTx,
  kPoll,
  kRxIrq,
  kRecover,
  kRestart,
  kLink,
  kDevReset,
  kUsedEdit,
  kFault,
  kRxRaw,
  kCfgMtu,
  kCfgMac,
  kCfgStatus,
  kCfgPairs,
  kQueueSize,
  kPciPatch,
  kPoolBudget,
  kCfgChurn,
  kRepublish,
  kDescEdit,
  kRegLie,
  kPlatformBudget,
  kOptions,
  kFlagsEdit,
  kDeviceEvent,
  // fuzz_ctrl's (ctrl_script.h):
  kCtrl,
  kCtrlFault,
  kRxFlows,
  kTxPair,
  // fuzz_rx's (issue 16):
  kRxL4,
  kTxL4,
};

enum class UsedEditKind : uint8_t {
  kSetId,    // id = value
  kAddId,    // id += value
  kSetLen,   // len = value
  kAddLen,   // len += value
  kSubLen,   // len -= value
  kSkipIdx,  // the entry lands value slots further on (used.idx leaps ahead)
  kBackIdx,  // the entry lands value slots back (overwrites, index goes back)
  kCount,
};

struct OpTable {
  const Op* ops;
  uint8_t size;
};

inline constexpr int kMaxOps = 64;
// recover, restart and dev_reset re-initialise the whole device (the most
// expensive ops by far); beyond this many per input they are skipped, so
// that inputs stay in steady state.
inline constexpr int kMaxReinits = 4;

// Runs ops from in until it is exhausted or kMaxOps ran. The world must
// have begun (begin_mock) and the hook must be installed.
void run_mock_script(World& world, Input& in, OpTable table);
// Installs the used-entry hook on the world's device (per input).
void install_used_hook(World& world);
// The argument byte of the kFault op that selects event fault k (the
// fault table's index), or -1 when k is not an event fault of the script.
int event_fault_index(mock::FaultKind k);

// Builds scripts (seed corpora, regression inputs).
class ScriptWriter {
 public:
  explicit ScriptWriter(OpTable table) : table_(table) {}
  ScriptWriter& op(Op op);  // aborts when the table has no such op
  ScriptWriter& u8(uint8_t v) {
    bytes_.push_back(v);
    return *this;
  }
  ScriptWriter& u16(uint16_t v) {
    return u8(static_cast<uint8_t>(v)).u8(static_cast<uint8_t>(v >> 8));
  }
  ScriptWriter& u32(uint32_t v) {
    return u16(static_cast<uint16_t>(v)).u16(static_cast<uint16_t>(v >> 16));
  }
  ScriptWriter& u64(uint64_t v) {
    return u32(static_cast<uint32_t>(v)).u32(static_cast<uint32_t>(v >> 32));
  }
  ScriptWriter& raw(const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
    return *this;
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  OpTable table_;
  std::vector<uint8_t> bytes_;
};

}  // namespace vnet::fuzz
