// Deliberate device misbehaviour: what a lying or broken virtio-net device
// does, so that tests, scenarios and fuzzers can check that the driver
// survives it (DESIGN.md, "The device boundary").
//
// A Fault is armed on a MockDevice (MockDevice::arm). Two families:
//
//  * Event faults fire on device events and then disarm:
//      used-ring faults on each used entry the device publishes on the
//      fault's queue (kUsed*), rx-header faults on each frame injected
//      (kRx*). `skip` lets that many eligible events pass untouched first;
//      `count` says how many events are corrupted (0: all of them).
//  * State faults change what the device reports from the moment they are
//      armed until the device object is reconfigured: queue sizes, config
//      space values, capability geometry. skip/count do not apply.
//
//   kind                 family  effect (value)
//   used_id_out_of_range event   used.id = queue size + value
//   used_id_not_in_flight event  used.id = a descriptor that is no
//                                outstanding head (falls back to completing
//                                the chain twice when every id is outstanding)
//   used_double_complete event   the chain is published twice
//   used_len_over        event   used.len = posted writable bytes + max(value, 1)
//   used_len_short       event   used.len = value (below the net header)
//   used_idx_jump        event   used.idx advances by queue size + 1 extra
//   rx_num_buffers       event   rx header num_buffers = value
//   rx_gso_type          event   rx header gso_type = value
//   rx_flags             event   rx header flags = value
//   rx_hdr_len, rx_gso_size, rx_csum_start, rx_csum_offset
//                        event   that le16 rx header field = value
//   queue_size           state   queue_size reads of queue (all: -1) = value
//   config_mtu           state   config mtu = value
//   config_mac_multicast state   config mac = 01:00:5e:00:00:01
//   config_mac_zero      state   config mac = 00:00:00:00:00:00
//   config_max_pairs     state   config max_virtqueue_pairs = value
//   config_status        state   config status = value (e.g. undefined bits)
//   cap_outside_bar      state   capability of cfg_type value (default
//                                COMMON) extends past the end of its BAR
//   cap_missing_bar      state   capability of cfg_type value names BAR 2,
//                                which does not exist
//   device_cfg_length    state   the DEVICE capability's length = value
//   used_before_driver_ok state  when the driver sets DRIVER_OK, just before
//                                it takes effect, the device uses queue
//                                (default 0): it fills the first available
//                                rx buffer with a frame of value bytes
//                                (header included; 0: 60-byte frame), or,
//                                when nothing is available, publishes a used
//                                entry {id 0} for a buffer never offered
//   config_mac_unstable  state   the next value reads of mac[5] each return
//                                the current byte and then change it (a MAC
//                                update racing the driver's read; legacy
//                                devices have no generation to show it)
//   reset_latency        state   a reset (status 0) completes only after
//                                value more status reads (slow hardware)
//   rx_no_write          event   the frame is "received" without a byte
//                                written: the next rx buffer is completed
//                                with used.len = value (0: header + frame)
//                                and its memory left as it was
//   desc_addr, desc_len, desc_flags, desc_next
//                        event   after the device consumed a chain and
//                                before it publishes the used entry, it
//                                rewrites that field of every descriptor of
//                                the chain in the table the driver gave it
//                                (= value): the driver must rely on its
//                                private shadow, never on the table
//   used_id              event   used.id = value
//   used_idx_skip        event   the entry is written value slots further
//                                on and used.idx advances by value extra
//                                (the slots skipped keep stale entries)
//   features_ok_refuse   state   the next value FEATURES_OK writes (0:
//                                every one) are refused whatever the
//                                features: FEATURES_OK reads back clear
//   config_generation_unstable
//                        state   the next value reads of config_generation
//                                (modern) each return a new generation:
//                                no config read can be shown consistent
//   msix_vector_lie      state   reads of queue's queue_msix_vector (queue
//                                -1: config_msix_vector) return value (65535:
//                                NO_VECTOR, the device refuses the mapping;
//                                anything else: a vector never written)
//   stuck_isr            state   reading the ISR no longer clears it: once
//                                raised, INTx stays asserted for good
//   interrupt_storm      state   at every tick the device signals value
//                                (0: 2000) configuration interrupts that
//                                report nothing new: MSI-X messages on the
//                                config vector, or with INTx the ISR raised
//                                again each time the driver reads it
//   spurious_interrupt   state   at each of the next value ticks (0: 1) an
//                                interrupt with nothing behind it: MSI-X, a
//                                message on the rx queue's vector with no
//                                used entry; INTx, a pulse of the shared line
//                                by another function (this ISR reads 0)
//   interrupt_before_driver_ok
//                        state   when the driver sets DRIVER_OK, just before
//                                it takes effect, the device signals a
//                                configuration and an rx used-buffer
//                                interrupt (ISR bits, or the vectors mapped
//                                so far), with nothing used
//   packed_used_wrap_stale
//                        event   packed rings only: the used descriptor
//                                carries the previous lap's wrap pattern
//                                (AVAIL = USED = !used wrap counter): a
//                                device that stopped flipping its wrap bit
//   packed_used_flags    event   packed rings only: the used descriptor's
//                                flags = value; 0: AVAIL = !wrap, USED =
//                                wrap (a pattern no side writes, 2.8.1)
//   packed_used_id_in_flight
//                        event   packed rings only: the used descriptor
//                                names another buffer id the device holds
//                                in flight (not yet completed), or, when
//                                there is none, one the driver made
//                                available and the device has not consumed
//                                (falls back to completing the chain twice)
//
//   ctrl_no_completion   event   control queue: the command is consumed and
//                                never carried out, acknowledged or
//                                completed (no used entry, ever)
//   ctrl_ack_unwritten   event   control queue: the command is carried out
//                                and completed with used.len 1, but the ack
//                                byte is never written (it keeps whatever the
//                                driver preset)
//   ctrl_ack_value       event   control queue: the ack byte written is value
//                                (low byte: 2, 0xFF, ...; 0 acknowledges OK
//                                even a command the device refused)
//   ctrl_used_len        event   control queue: used.len = value (0: the ack
//                                "not written"; 2 and above: more than the
//                                one ack byte)
//   ctrl_used_id_other   event   control queue: the used entry names a
//                                descriptor that is not the command's head
//                                (the next index after it, modulo the size)
//   ctrl_used_id_unknown event   control queue: used.id = queue size + value
//   config_rss_max_key_size
//                        state   config rss_max_key_size = value (41, 255: a
//                                key larger than the 40 bytes of 5.1.4)
//   config_rss_max_table_len
//                        state   config rss_max_indirection_table_length =
//                                value (0, not a power of two, 0xFFFF)
//   config_supported_hash_types
//                        state   config supported_hash_types = value
//
//   rx_gso_wrong_protocol
//                        event   the rx header claims a GSO frame of type value
//                                (0: TCPV4; any type, ECN bit included) with
//                                every other field plausible for it: flags
//                                NEEDS_CSUM, csum_start 34 (TCPV6: 54),
//                                csum_offset 16 (UDP types 6), hdr_len through
//                                a minimal L4 header, gso_size 1448 -- whatever
//                                the frame is (not TCP, not IP, too short)
//   rx_gso_ecn           event   the rx header's gso_type gets the ECN bit
//                                (with or without GUEST_ECN; on NONE too)
//   rx_merged_len        event   a frame spread over several buffers
//                                (MRG_RXBUF): the second buffer's used.len =
//                                value (0: nothing written; above its
//                                writable bytes: more than it holds). Frames
//                                in one buffer are not eligible.
//
// The rx header faults (rx_num_buffers .. rx_csum_offset, rx_gso_*) apply
// to every frame delivered: plain, with DATA_VALID or a partial checksum
// (DeviceConfig::rx_csum_mode), GSO (inject_rx_gso, inject_rx_coalesced),
// in one buffer or several (on a multi-buffer frame they rewrite the first
// header; rx_num_buffers replaces the count of buffers used). rx_no_write
// applies to frames in one buffer only.
//
// The ctrl_* faults act on the control queue whatever its index (`queue`
// -1, or the index 2N); they apply after the command was parsed, before its
// completion. The config lies of the control plane are also plain
// DeviceConfig values (max_virtqueue_pairs, rss_max_key_size, ...), and
// MQ or CTRL_RX offered without CTRL_VQ is DeviceConfig::offer_*.
//
// Event faults on used entries (used_*, desc_*, packed_used_*) also apply to completions
// released from a hold (MockDevice::hold_completions). For anything else,
// MockDevice::set_used_hook() lets a test rewrite every used entry (id, len)
// and the used index before it is published.
#pragma once

#include <stdint.h>

#include <string_view>

#include "driver/platform/platform.h"

namespace vnet::mock {

enum class FaultKind : uint8_t {
  kUsedIdOutOfRange,
  kUsedIdNotInFlight,
  kUsedDoubleComplete,
  kUsedLenOver,
  kUsedLenShort,
  kUsedIdxJump,
  kRxNumBuffers,
  kRxGsoType,
  kRxFlags,
  kRxHdrLen,
  kRxGsoSize,
  kRxCsumStart,
  kRxCsumOffset,
  kQueueSize,
  kConfigMtu,
  kConfigMacMulticast,
  kConfigMacZero,
  kConfigMaxPairs,
  kConfigStatus,
  kCapOutsideBar,
  kCapMissingBar,
  kDeviceCfgLength,
  kUsedBeforeDriverOk,
  kConfigMacUnstable,
  kResetLatency,
  // Appended (fuzz inputs name kinds by position: never reorder).
  kRxNoWrite,
  kDescAddr,
  kDescLen,
  kDescFlags,
  kDescNext,
  kUsedIdSet,
  kUsedIdxSkip,
  kFeaturesOkRefuse,
  kConfigGenerationUnstable,
  // Interrupts (appended).
  kMsixVectorLie,
  kStuckIsr,
  kInterruptStorm,
  kSpuriousInterrupt,
  kInterruptBeforeDriverOk,
  // Packed rings (appended).
  kPackedUsedWrapStale,
  kPackedUsedFlags,
  kPackedUsedIdInFlight,
  // The control plane (appended).
  kCtrlNoCompletion,
  kCtrlAckUnwritten,
  kCtrlAckValue,
  kCtrlUsedLen,
  kCtrlUsedIdOther,
  kCtrlUsedIdUnknown,
  kConfigRssMaxKeySize,
  kConfigRssMaxTableLen,
  kConfigSupportedHashTypes,
  // Offloads (appended).
  kRxGsoWrongProtocol,
  kRxGsoEcn,
  kRxMergedLen,
};

struct Fault {
  FaultKind kind = FaultKind::kUsedIdOutOfRange;
  int32_t queue = -1;  // -1: any queue
  uint32_t skip = 0;   // eligible events to let pass first
  uint32_t count = 1;  // events to corrupt; 0 = every one
  uint64_t value = 0;  // meaning per kind (see the table above)
};

// A lie about one register: reads of (region, offset[, width]) return value
// instead of what the device model would answer (the model still sees the
// read, so read side effects such as clearing the ISR happen). Covers every
// register, capability byte and status read of every transport.
struct RegisterLie {
  Region region = Region::kPciConfig;
  uint32_t offset = 0;
  uint8_t width = 0;  // 0: any width at this offset
  uint32_t value = 0;
  uint32_t skip = 0;   // matching reads to let pass first
  uint32_t count = 0;  // reads to answer with value; 0: every one
  // Bits of the read that lie: read = (true & ~mask) | (value & mask).
  // All ones: the whole value is replaced.
  uint32_t mask = 0xFFFF'FFFF;
};

// A lie about a BAR (what MockPlatform::bar_info reports): present or not,
// I/O or memory, its size. Unset fields keep the truth. The device still
// decodes its real BARs: a lie only changes what the driver is told.
struct BarLie {
  uint8_t bar = 0;
  int8_t present = -1;  // -1: the truth, 0: absent, 1: present
  int8_t is_io = -1;    // -1: the truth, 0: memory, 1: I/O
  int64_t size = -1;    // -1: the truth
};

// Scenario names ("used_id_out_of_range", ...). parse_fault_kind also takes
// the alias "used_len" (used_len_short, which sets any used.len).
const char* fault_kind_name(FaultKind kind);
bool parse_fault_kind(std::string_view name, FaultKind* out);
// True for the state family (applied at arm time, persistent).
bool is_state_fault(FaultKind kind);
// True for the faults applied to used entries as the device publishes them
// (used_*, desc_*, packed_used_*).
bool is_used_fault(FaultKind kind);
// True for the control-queue faults (ctrl_*).
bool is_ctrl_fault(FaultKind kind);

}  // namespace vnet::mock
