// virtio-net: the network device on top of a transport and split rings
// (virtio 1.2, section 5.1).
//
// Lifecycle (3.1.1 device initialisation, 3.3 device cleanup):
//
//   attach():  reset -> ACKNOWLEDGE -> DRIVER -> read features, read and
//              validate config -> write accepted subset -> FEATURES_OK and
//              read it back (modern) -> set up rx/tx queues -> fill the rx
//              ring (not yet published) -> DRIVER_OK -> check that no used
//              index moved -> publish rx buffers, notify  ==> kRunning
//   any failure on the way: status FAILED     ==> kFailed
//   a lying device on the data path, or a tx  ==> kBroken (queues stop)
//   queue that makes no progress (watchdog)
//   poll_device(): a broken or reset device is reset and attached again
//   stop():    reset, return every in-flight buffer to its owner ==> kDown
//              (a device that never reads back status 0 after the reset
//              keeps its buffers and rings quarantined      ==> kFailed)
//
// Queues (5.1.2): queue pair k is receiveq(k+1) = 2k and transmitq(k+1) =
// 2k + 1, k < max_queue_pairs() (1 without MQ/RSS); the control queue
// (CTRL_VQ) is 2N, N = the device's max_virtqueue_pairs with MQ or RSS,
// else 1. The control plane is virtio_net_control.cc over
// control_queue.h: bounded synchronous commands, each validated.
//
// Ownership: rx and tx buffers belong to the caller's BufferPool; see
// packet_buffer.h. The driver holds at most rx_ring_cap rx buffers and
// tx_ring_cap tx buffers at a time, whatever queue size the device offers.
//
// Trust: features, config values, queue sizes, used entries and rx headers
// are device data and are validated before use; violations are counted in
// NetCounters (net_counters.h) and never delivered upward.
//
// DMA (ACCESS_PLATFORM): every packet buffer is mapped through
// Platform::dma_map() when it is made available and unmapped when the
// device used it or was reset; the device is only ever told the mapped
// address. With a bounce platform (bounce_platform.h) a received frame is
// copied into private memory by dma_unmap() after its length was validated,
// and only that copy is delivered.
//
// Data path: rx_burst() harvests completed rx buffers and refills the ring;
// tx_burst() publishes frames and reclaims completed ones.
//
// Transmit scatter-gather (packet_buffer.h): a frame may be a chain of up
// to kMaxTxFragments buffers. Each fragment is mapped on its own and is one
// segment of the frame's descriptor chain (the header shares the first
// fragment's descriptor, or has its own on a legacy device without
// ANY_LAYOUT). Indirect policy, with VIRTIO_F_INDIRECT_DESC negotiated
// (NetOptions::accept_indirect_desc): a chain of more segments than a
// single-buffer frame takes (1, or 2 with a separate header) is written
// into an indirect table and takes ONE ring descriptor, so the ring holds
// as many frames as it has entries whatever their fragment count (the tx
// ring is sized for single-descriptor frames), and single-buffer frames --
// the fast path -- stay direct and unchanged. Without it, a chain of up to
// kMaxChainSegments segments goes direct and a longer one is dropped
// (tx_drop_sg_segments): never truncated. Completion and reset return every
// fragment to the pool exactly once. tx_indirect_chains counts what went
// indirect; indirect_tx() says whether tables are in use. poll_device() is
// the slow path (config changes, device resets, the tx watchdog): call it
// every few milliseconds, and whenever an interrupt says so.
//
// Interrupts (NetOptions::interrupts): attach walks the transport's ladder
// MSI-X -> INTx -> polling (transport.h) from the mode asked for, as far as
// the platform delivers and the device accepts, and reports the outcome
// (interrupts(), a log line, irq_msix_fallbacks). The platform's handler
// calls handle_interrupt(); the caller asks for queue interrupts with
// set_rx_interrupts() / set_tx_interrupts() before it waits and turns them
// off while it polls. A device that interrupts without end (a stuck ISR,
// a storm) is masked and polled (irq_storms). Polling -- the default --
// touches none of this: no capability walk, no vector, no ISR read other
// than poll_device()'s.
//
// ---- Threading contract -------------------------------------------------
//
// Four kinds of context. Each context is entered by at most one thread at
// a time; different contexts may run concurrently with each other:
//
//   rx context         rx_burst(), set_rx_interrupts() -- one per queue
//                      pair (the pair argument; pair 0 without it)
//   tx context         tx_burst(), tx_reclaim(), set_tx_interrupts() -- one
//                      per queue pair
//   control context    poll_device() and the control commands (set_rx_mode,
//                      set_mac_filter, ..., set_rss) -- on a thread of its
//                      own, or deferred from an interrupt (a bottom half);
//                      a command waits at most ctrl_timeout_ns
//   interrupt context  handle_interrupt() -- the platform's handler, at any
//                      moment, even in the middle of a burst, of attach()
//                      or stop() on the same CPU. It reads the ISR (INTx
//                      only), its own counters (irq_*) and atomics; it never
//                      touches a ring, a buffer or the device status, and
//                      never waits. The platform serialises its calls (one
//                      interrupt at a time for this device).
//
// An interrupt-driven caller: on IrqWork.rx run rx_burst() until it returns
// fewer than asked, then set_rx_interrupts(true) -- true means completions
// raced in: poll again rather than wait (the same for tx); on
// IrqWork.control run poll_device(). Interrupts are asked for per queue
// with set_*_interrupts (2.7.7: a hint the device may ignore), so the
// caller keeps them off while it polls (NAPI) and on while it waits.
//
// rx and tx, of any pairs, share nothing but the state word, busy_ and
// the caller's pool (which must then be safe to call from all of them).
// A command that lowers the pairs in use first stops tx on the leaving
// pairs (queue_pairs()) and waits for their running bursts (5.1.6.5.5.2). poll_device() never
// touches a ring while a burst runs: when it must reset the device (a broken queue, a device that
// asked for a reset, the watchdog) it first takes the device out of kRunning, so no new burst
// starts, and then resets only if no burst is running. Otherwise it returns with
// DeviceEvents::reset_deferred set and the reset happens in a later poll_device() call, once the
// data path is quiescent (bursts are bounded, so the next tick finds it so). The handshake is a
// Dekker pair of sequentially consistent atomics: a burst announces itself in busy_ and then
// re-reads the state; poll_device stores the state and then reads busy_.
//
// attach(), recover(), stop() and device_gone() require the data path to be
// quiescent: no rx or tx context call may run during them. stop() enforces
// it for callers that cannot (it leaves kRunning first and waits for
// running bursts to finish: they are bounded).
//
// Accessors (state(), counters(), ...) may be called from any context;
// state() is atomic. A counter is written only by the context that owns
// it, so counters() gives exact values when read from the control context
// after the data path stopped (or from the one thread that runs
// everything); read while bursts run, a counter may be stale.
//
// Memory ordering: see platform.h. The driver issues Barrier kinds of SMP
// strength, or of DMA strength once ORDER_PLATFORM is negotiated.
#pragma once

#include <stdint.h>

#include "driver/net/control_queue.h"
#include "driver/net/net_counters.h"
#include "driver/net/offload.h"
#include "driver/net/packet_buffer.h"
#include "driver/platform/atomic.h"
#include "driver/platform/platform.h"
#include "driver/spec/net_layout.h"
#include "driver/spec/virtio_constants.h"
#include "driver/transport/transport.h"
#include "driver/virtqueue/virtqueue.h"

namespace vnet {

struct NetOptions {
  uint16_t rx_ring_cap = 256;  // rx buffers posted at most (<= Virtqueue::kMaxSize)
  uint16_t tx_ring_cap = 256;  // tx chains in flight at most
  // Features the caller forbids (on top of what the driver supports).
  uint64_t feature_mask = ~uint64_t{0};
  // MAC used when the device offers none (or an invalid one). All zero:
  // generate a locally administered MAC from the clock.
  uint8_t fallback_mac[6] = {0, 0, 0, 0, 0, 0};
  uint16_t fallback_mtu = 1500;
  // Largest Ethernet frame (no FCS) an rx buffer must hold; pool buffers
  // need capacity >= header + max_frame. A device MTU that does not fit is
  // not accepted -- unless rx_chains is on and MRG_RXBUF negotiated, when a
  // frame may take several buffers (any MTU up to 65535 is then accepted).
  // At least kMaxGsoFrame: big buffers, which let accept_rx_gso work
  // without MRG_RXBUF (5.1.6.3).
  uint32_t max_frame = 1514;
  // Reset handshake: how long to wait for status to read back 0 (4.1.4.3.2).
  uint64_t reset_timeout_ns = 100'000'000;
  // Transmit watchdog: tx chains in flight and no used entry for this long
  // (as seen by poll_device()) breaks the queue; the device is reset and
  // re-initialised. 0 disables the watchdog.
  uint64_t tx_timeout_ns = 5'000'000'000;
  // Accept VIRTIO_F_ACCESS_PLATFORM / ORDER_PLATFORM when offered. A device
  // that offers ACCESS_PLATFORM may refuse FEATURES_OK without it (QEMU
  // does); the platform's dma_map() is used for every buffer either way.
  bool accept_access_platform = true;
  bool accept_order_platform = true;
  // Accept VIRTIO_F_RING_PACKED (2.8) when a modern device offers it, and
  // drive both queues as packed rings. OFF by default until every world
  // carries packed rings (issue 14: mock device, fuzz targets, traces, the
  // guest). Queue sizes stay powers of two either way (the net layer's
  // rule; 2.8 itself does not require one).
  bool accept_ring_packed = false;
  // Accept VIRTIO_F_INDIRECT_DESC (2.7.5.3, 2.8.19) when offered, for tx
  // scatter-gather beyond the direct segment limit (packet_buffer.h). OFF
  // by default for the same reason as accept_ring_packed: QEMU and the mock
  // device offer it, so a default change would alter the feature word of
  // every recorded trace; the worlds turn it on as they learn to carry
  // indirect chains. feature_mask can still forbid it.
  bool accept_indirect_desc = false;
  // Accept VIRTIO_F_IN_ORDER (bit 35; split 2.7.9, packed 2.8.9) when a
  // modern device offers it: the device uses buffers in the order they
  // were made available and may complete a batch with one used entry; both
  // queues then take descriptors in ring order and validate every batch
  // against what they posted (virtqueue/split_queue.h, packed_queue.h).
  // OFF by default like the two above: the feature word of every recorded
  // trace stays as it is (QEMU 7.2 offers no IN_ORDER for virtio-net).
  // Completions implied by a batch are counted (rx_/tx_implied_completions);
  // an implied rx buffer holds, as the spec says, its whole writable part
  // ("used completely") and is validated as any other (virtio_net.cc).
  bool accept_in_order = false;
  // Interrupts: the highest rung of the ladder MSI-X -> INTx -> polling to
  // try (transport.h); attach takes the first that the platform offers and
  // the device accepts, and reports it (interrupts(), a log line). kPolling
  // touches nothing of the interrupt machinery.
  InterruptMode interrupts = InterruptMode::kPolling;
  // Interrupt storm guard: more than irq_storm_limit interrupts within
  // irq_storm_window_ns of platform time (a stuck ISR, a line nobody
  // lowers, a device that never stops signalling) and the driver masks its
  // interrupts (Platform::arm_interrupts(kPolling)) and polls until the
  // next attach. 0: no guard.
  uint32_t irq_storm_limit = 1000;
  uint64_t irq_storm_window_ns = 10'000'000;
  // Control plane (5.1.6.5; control_queue.h). Accept VIRTIO_NET_F_CTRL_VQ
  // and the command features that need it (CTRL_RX, CTRL_RX_EXTRA,
  // CTRL_VLAN, CTRL_MAC_ADDR, GUEST_ANNOUNCE, and MQ / RSS / HASH_REPORT
  // as asked for below) when offered. OFF by default like the ring options
  // above: QEMU offers CTRL_VQ, so a default change would alter the feature
  // word of every recorded trace. Without it none of those features is
  // negotiated (5.1.3.1) and every command returns kUnsupported.
  bool accept_ctrl_vq = false;
  // How long one control command may wait for its completion (platform
  // time). A device that does not answer in time breaks the control queue:
  // the command returns kTimeout and the device is reset and re-attached by
  // poll_device(), never waited for longer.
  uint64_t ctrl_timeout_ns = 1'000'000'000;
  // Multiqueue (VIRTIO_NET_F_MQ, 5.1.6.5.5): use up to this many queue
  // pairs (1..kMaxQueuePairs), never more than the device's validated
  // max_virtqueue_pairs. 1: MQ is not negotiated.
  uint16_t max_queue_pairs = 1;
  // Receive-side scaling (VIRTIO_NET_F_RSS) and hash reports in rx headers
  // (VIRTIO_NET_F_HASH_REPORT), when offered with valid limits (5.1.4).
  bool accept_rss = false;
  bool accept_hash_report = false;
  // Receive chains: deliver a frame the device spread over several rx
  // buffers (MRG_RXBUF, num_buffers > 1) as a PacketBuffer chain
  // (packet_buffer.h) of at most kMaxGsoFrame bytes. Off: such frames are
  // dropped (rx_drop_num_buffers), so a caller that knows only single
  // buffers never sees a chain. Not on a legacy device without ANY_LAYOUT
  // (a buffer is two descriptors there): frames stay single-buffer.
  bool rx_chains = false;
  // Offloads (5.1.6.2, 5.1.6.4; PacketOffload in packet_buffer.h), each
  // negotiated only when offered together with what it depends on (5.1.3.1)
  // and OFF by default like the options above (QEMU offers them over a
  // vnet-header back end; the feature word of every recorded trace stays).
  //   accept_tx_csum   CSUM: the device completes tx checksums (kPartial)
  //   accept_tso       HOST_TSO4, HOST_TSO6, HOST_ECN, HOST_USO (needs CSUM)
  //   accept_rx_csum   GUEST_CSUM: rx frames come verified or partial
  //   accept_rx_gso    GUEST_TSO4, GUEST_TSO6, GUEST_ECN, GUEST_USO4,
  //                    GUEST_USO6 (needs GUEST_CSUM, and a place for a
  //                    64 KiB frame: MRG_RXBUF with rx_chains, or
  //                    max_frame >= kMaxGsoFrame)
  // With CTRL_VQ accepted, CTRL_GUEST_OFFLOADS is negotiated along with the
  // guest offloads, and set_guest_offloads() switches them at run time.
  bool accept_tx_csum = false;
  bool accept_tso = false;
  bool accept_rx_csum = false;
  bool accept_rx_gso = false;
};

// Guest (receive) offloads as set_guest_offloads() takes them: the feature
// bits of 5.1.6.5.6.1 (GUEST_CSUM, GUEST_TSO4, GUEST_TSO6, GUEST_ECN,
// GUEST_UFO, GUEST_USO4, GUEST_USO6).
inline constexpr uint64_t kGuestOffloadBits = spec::feature_mask(spec::Feature::kNetGuestCsum) |
                                              spec::feature_mask(spec::Feature::kNetGuestTso4) |
                                              spec::feature_mask(spec::Feature::kNetGuestTso6) |
                                              spec::feature_mask(spec::Feature::kNetGuestEcn) |
                                              spec::feature_mask(spec::Feature::kNetGuestUfo) |
                                              spec::feature_mask(spec::Feature::kNetGuestUso4) |
                                              spec::feature_mask(spec::Feature::kNetGuestUso6);

// Queue pairs the driver can drive at most (each pair's state lives inside
// VirtioNet: no heap in the driver).
inline constexpr uint16_t kMaxQueuePairs = 4;
// MAC filter entries (unicast + multicast) one MAC_TABLE_SET carries at most.
inline constexpr uint16_t kMaxMacFilter = 64;
// RSS indirection table entries the driver sends at most.
inline constexpr uint16_t kMaxRssTable = 128;

// The outcome of a control command (control context).
enum class CtrlResult : uint8_t {
  kOk,           // the device acknowledged VIRTIO_NET_OK
  kRejected,     // the device answered VIRTIO_NET_ERR: nothing changed
  kUnsupported,  // the feature the command needs was not negotiated: nothing sent
  kInvalid,      // an argument out of range (checked before sending): nothing sent
  kNotRunning,   // the device is not running (down, broken, failed)
  kTimeout,      // no completion within ctrl_timeout_ns: the device will be reset
  kDeviceFault,  // the completion lied (used.len, ack value, id): the device will be reset
};
const char* ctrl_result_name(CtrlResult r);

// Receive filter modes (CTRL_RX; the last four need CTRL_RX_EXTRA).
enum class RxMode : uint8_t {
  kPromiscuous = 0,
  kAllMulticast = 1,
  kAllUnicast = 2,
  kNoMulticast = 3,
  kNoUnicast = 4,
  kNoBroadcast = 5,
};
inline constexpr uint8_t kNumRxModes = 6;

struct MacAddr {
  uint8_t b[6];
};

// RSS_CONFIG as the caller asks for it; set_rss() validates it against the
// device's limits (5.1.4) before sending anything.
struct RssSettings {
  uint32_t hash_types = 0;       // subset of the device's supported_hash_types
  uint16_t table_len = 0;        // power of two, 1..min(device limit, kMaxRssTable)
  uint16_t table[kMaxRssTable];  // receive queue pair of each entry (< queue_pairs())
  uint16_t unclassified_pair = 0;
  uint8_t key_len = 0;  // 1..min(rss_max_key_size, 40)
  uint8_t key[40];
};

enum class NetState : uint8_t { kDown, kRunning, kBroken, kFailed };

enum class AttachError : uint8_t {
  kOk,
  kResetTimeout,       // status never read back 0
  kNoVersion1,         // modern transport, device without VERSION_1
  kFeaturesRejected,   // FEATURES_OK did not stick
  kQueueUnavailable,   // queue size 0
  kQueueSizeInvalid,   // not a power of two, or above 32768, or legacy above our cap
  kQueueSetupRefused,  // device did not take the queue
  kNoDmaMemory,
  kNoRxBuffers,       // pool gave nothing at all, or buffers too small
  kBadOptions,        // NetOptions out of range
  kConfigUnreadable,  // a field of an offered feature lies outside the config window
  kQuarantined,  // the previous device still holds quarantined buffers: stop() or device_gone()
                 // first
};
const char* attach_error_name(AttachError e);
const char* net_state_name(NetState s);  // "down", "running", "broken", "failed"

// What poll_device() observed.
struct DeviceEvents {
  bool config_changed = false;
  bool link_changed = false;
  bool reset_detected = false;  // device lost its state, or asked for a reset
  bool tx_timeout = false;      // the tx watchdog fired
  bool reset_deferred = false;  // a reset is due but a burst was running: poll again
  bool recovered = false;       // the device was reset and attached again
  // GUEST_ANNOUNCE: the device asked the driver to announce itself (status
  // ANNOUNCE, after a migration); the driver acknowledged it (ANNOUNCE_ACK)
  // and the caller should now send its gratuitous ARP / neighbour adverts.
  bool announce = false;
};

// What handle_interrupt() found to do: the contexts to run next. None set:
// nothing (not ours, stray, or the device is down).
struct IrqWork {
  bool rx = false;       // rx completions may wait: rx_burst, then set_rx_interrupts(true)
  bool tx = false;       // tx completions may wait: tx_reclaim (or tx_burst)
  bool control = false;  // a configuration change, or a device to recover: poll_device
  bool any() const { return rx || tx || control; }
};

class VirtioNet {
 public:
  // Header size for the negotiated features.
  static constexpr uint32_t header_size(bool version1_or_mrg) { return version1_or_mrg ? 12 : 10; }
  // Features this driver can use (before masking by the caller and the device).
  static uint64_t supported_features(bool legacy);

  AttachError attach(Platform& platform, Transport& transport, BufferPool& pool,
                     const NetOptions& options);

  // Up to max received frames, each handed to the caller (who then owns
  // it). Refills the receive ring from the pool. Queue pair 0; the pair
  // overloads below take any pair below max_queue_pairs().
  uint16_t rx_burst(PacketBuffer** out, uint16_t max) { return rx_burst(0, out, max); }
  // Publishes up to n frames; returns how many the driver took (those are
  // the driver's until freed to the pool). Stops early on a full ring.
  uint16_t tx_burst(PacketBuffer* const* frames, uint16_t n) { return tx_burst(0, frames, n); }
  // Returns completed tx buffers to the pool; returns how many.
  uint16_t tx_reclaim() { return tx_reclaim(0); }
  // Multiqueue (MQ): the same per queue pair. Each pair's rx and tx are
  // contexts of their own (the threading contract). tx_burst() on a pair
  // at or above queue_pairs() takes nothing (the device does not serve
  // it); rx_burst() on a pair at or above max_queue_pairs() returns 0.
  uint16_t rx_burst(uint16_t pair, PacketBuffer** out, uint16_t max);
  uint16_t tx_burst(uint16_t pair, PacketBuffer* const* frames, uint16_t n);
  uint16_t tx_reclaim(uint16_t pair);

  DeviceEvents poll_device();
  // Reset the device, reclaim every buffer, and attach again with the same
  // options. Returns true when the device is running again.
  bool recover();
  // Reset the device and return every buffer to the pool. If the device
  // never acknowledges the reset, buffers and rings are quarantined (see
  // quarantined()) and the state is kFailed; stop() again retries.
  void stop();
  // The platform guarantees the device can no longer touch memory (it was
  // removed, or its device model destroyed): reclaim every buffer and ring
  // without talking to it, quarantined ones included. ==> kDown
  void device_gone();
  // Ask the device to interrupt (or not) when rx buffers are used. When
  // enabling, returns true if completions are already waiting (poll again).
  bool set_rx_interrupts(bool enabled) { return set_rx_interrupts(0, enabled); }
  bool set_rx_interrupts(uint16_t pair, bool enabled);
  // The same for transmit completions (tx context).
  bool set_tx_interrupts(bool enabled) { return set_tx_interrupts(0, enabled); }
  bool set_tx_interrupts(uint16_t pair, bool enabled);

  // ---- control plane (control context: never concurrently with
  // poll_device(), attach(), stop(); bursts may run meanwhile) ----
  // Each command is sent over the control queue and waited for, at most
  // ctrl_timeout_ns (control_queue.h); the driver remembers what was
  // acknowledged and sends it again after every re-attach (recovery).
  // Whether CTRL_VQ was negotiated and the control queue is set up.
  bool has_control_queue() const { return ctrl_on_; }
  // CTRL_RX (promiscuous, all-multicast) and CTRL_RX_EXTRA (the rest).
  CtrlResult set_rx_mode(RxMode mode, bool on);
  // What the device last acknowledged for mode (false until then).
  bool rx_mode(RxMode mode) const { return (rx_modes_ >> static_cast<uint8_t>(mode)) & 1u; }
  // CTRL_RX: the unicast and multicast MAC filter (MAC_TABLE_SET), at most
  // kMaxMacFilter entries in all; unicast entries must be unicast
  // addresses and multicast entries multicast ones (kInvalid otherwise).
  CtrlResult set_mac_filter(const MacAddr* unicast, uint16_t n_unicast, const MacAddr* multicast,
                            uint16_t n_multicast);
  // The device's MAC address: MAC_ADDR_SET, with CTRL_MAC_ADDR and CTRL_RX
  // negotiated (5.1.6.5.2.2: no MAC class command without CTRL_RX).
  // mac() follows on kOk. The legacy alternative (writing the mac config
  // field on a device without VERSION_1) is not implemented: kUnsupported.
  CtrlResult set_mac_address(const uint8_t mac[6]);
  // CTRL_VLAN: frames tagged with vid are delivered (add) or filtered (remove).
  CtrlResult add_vlan(uint16_t vid);
  CtrlResult remove_vlan(uint16_t vid);
  bool vlan_allowed(uint16_t vid) const {
    return vid <= 4095 && ((vlans_[vid >> 5] >> (vid & 31)) & 1u) != 0;
  }
  // MQ: use n queue pairs (1..max_queue_pairs()) -- VQ_PAIRS_SET, or
  // RSS_CONFIG's max_tx_vq when RSS is on.
  CtrlResult set_queue_pairs(uint16_t n);
  // RSS (RSS_CONFIG), validated against the device's limits first.
  CtrlResult set_rss(const RssSettings& rss);
  // CTRL_GUEST_OFFLOADS (5.1.6.5.6): the receive offloads the device may
  // use from now on, as GUEST_* feature bits (kGuestOffloadBits), a subset
  // of the negotiated ones closed under their dependencies (kInvalid
  // otherwise). rx_burst() then accepts only headers of these offloads.
  CtrlResult set_guest_offloads(uint64_t offloads);
  // The receive offloads in force (GUEST_* feature bits).
  uint64_t guest_offloads() const {
    return features_from_guest_offloads(offloads_active_.load(MemOrder::kRelaxed));
  }
  // Queue pairs in use now (1 without MQ), and set up at attach.
  uint16_t queue_pairs() const { return pairs_active_.load(MemOrder::kRelaxed); }
  uint16_t max_queue_pairs() const { return pairs_; }
  // The device's validated RSS limits (0 when RSS is not negotiated).
  uint8_t rss_max_key_size() const { return rss_max_key_; }
  uint16_t rss_max_table_len() const { return rss_max_table_; }
  uint32_t rss_hash_types() const { return rss_types_; }

  // ---- interrupts (interrupt context; see the threading contract) ----
  // The platform's handler calls this for each interrupt it takes from
  // this device. Bounded: at most one ISR read (INTx), no ring access, no
  // loop. INTx: the ISR is read once, which acknowledges the interrupt and
  // lowers the line (4.1.4.5); ISR 0 on a shared line is another
  // function's: counted (irq_not_ours), nothing consumed. MSI-X: the vector
  // says which source (interrupts()), no register is touched. A
  // configuration change is latched for the next poll_device(). Returns the
  // contexts the caller should run next (IrqWork); the data itself is
  // taken there, never here.
  IrqWork handle_interrupt(IrqSource source);
  // What attach chose (mode, vectors, why MSI-X was not used).
  const InterruptSetup& interrupts() const { return irq_; }
  // The mode in force now: interrupts().mode, or kPolling after a storm.
  InterruptMode interrupt_mode() const;

  NetState state() const { return state_.load(MemOrder::kAcquire); }
  // True while buffers and rings are held back because the device never
  // acknowledged a reset (it may still write into them). They are counted
  // in rx_queue().in_flight() and tx_queue().in_flight().
  bool quarantined() const { return quarantined_; }
  AttachError last_error() const { return last_error_; }
  bool link_up() const { return link_up_; }
  const uint8_t* mac() const { return mac_; }
  bool mac_from_device() const { return mac_from_device_; }
  uint16_t mtu() const { return mtu_; }
  uint64_t device_features() const { return device_features_; }
  uint64_t negotiated_features() const { return features_; }
  // Whether tx scatter-gather frames go through indirect tables
  // (INDIRECT_DESC negotiated and the tables allocated at attach).
  bool indirect_tx() const { return qp_[0].tx.indirect(); }
  uint32_t net_header_size() const { return hdr_size_; }
  // Pair 0's data-path counters and every device-wide one (attach, config,
  // interrupts, control plane). Pair k >= 1 counts its data path in
  // pair_counters(k); total_counters() sums them all.
  const NetCounters& counters() const { return counters_; }
  const NetCounters& pair_counters(uint16_t pair) const {
    return *qp_[pair < kMaxQueuePairs ? pair : 0].counters;
  }
  NetCounters total_counters() const;
  const Virtqueue& rx_queue(uint16_t pair = 0) const {
    return qp_[pair < kMaxQueuePairs ? pair : 0].rx;
  }
  const Virtqueue& tx_queue(uint16_t pair = 0) const {
    return qp_[pair < kMaxQueuePairs ? pair : 0].tx;
  }
  // The control queue and its command area (DMA memory while allocated:
  // held, like the rings, while quarantined).
  const Virtqueue& control_queue() const { return ctrl_; }
  bool control_area_allocated() const { return ctrl_chan_.allocated(); }
  Transport* transport() const { return transport_; }

  // Pair 0's queues; pair k's are 2k and 2k + 1 (5.1.2).
  static constexpr uint16_t kRxQueue = 0;
  static constexpr uint16_t kTxQueue = 1;

  VirtioNet();
  VirtioNet(const VirtioNet&) = delete;
  VirtioNet& operator=(const VirtioNet&) = delete;

 private:
  // Mappings of the fragments after the first of scatter-gather frames
  // (tx context): a private pool of kTxFragMaps slots per pair, linked per
  // head (see QueuePair).
  static constexpr uint16_t kTxFragMaps = 2 * Virtqueue::kMaxSize;
  static constexpr uint16_t kNoFragMap = 0xFFFF;
  // Everything the data path of one queue pair touches. Pairs share
  // nothing but the state word, busy_ and the caller's pool, so different
  // pairs may run on different threads (the threading contract).
  struct QueuePair {
    Virtqueue rx;
    Virtqueue tx;
    NetCounters* counters = nullptr;  // pair 0: counters_; pair k: pair_counters_[k - 1]
    uint16_t rx_posted = 0;
    uint16_t rx_skip = 0;  // buffers still to drop of a multi-buffer frame
    // The multi-buffer frame being assembled (rx_chains): its buffers so
    // far, the used entries still to come, its length, its first header.
    PacketBuffer* rx_chain = nullptr;
    PacketBuffer* rx_chain_tail = nullptr;
    uint16_t rx_chain_need = 0;
    uint32_t rx_chain_len = 0;
    spec::NetHdrHash rx_chain_hdr{};
    // tx avail index, for the watchdog (control context reads it).
    Atomic<uint16_t> tx_published{0};
    // Tx watchdog (control context only).
    bool tx_wd_armed = false;
    uint16_t tx_wd_used = 0;
    uint64_t tx_wd_since = 0;
    // DMA mappings of in-flight buffers, by head descriptor.
    DmaMapping rx_map[Virtqueue::kMaxSize];
    DmaMapping tx_map[Virtqueue::kMaxSize];
    // tx_frag_first[head] the first fragment slot of the frame at head
    // (read only when its buffer has a next fragment), tx_frag_next the
    // links and the free list. A frame that finds too few free slots waits
    // like one that finds the ring full (tx_ring_full).
    DmaMapping tx_frag_map[kTxFragMaps];
    uint16_t tx_frag_next[kTxFragMaps];
    uint16_t tx_frag_first[Virtqueue::kMaxSize];
    uint16_t tx_frag_free = kNoFragMap;
    uint16_t tx_frag_free_count = 0;
  };

  AttachError bring_up();
  AttachError fail(AttachError e);
  void write_status(uint8_t status);
  bool negotiate_config(uint64_t* want);
  void make_local_mac();
  bool read_link_status(uint32_t* status);
  AttachError setup_queue(Virtqueue& q, RingKind kind, uint16_t index, uint16_t cap);
  AttachError setup_pair(QueuePair& p, uint16_t pair, RingKind ring, bool dma_order);
  uint16_t fill_rx(QueuePair& p);
  void refill_rx(QueuePair& p, bool notify);
  // Receive: validate a whole frame (one buffer, or a chain at b) against
  // its header snapshot and deliver it (true) or free it, counted (false).
  bool finish_rx_frame(QueuePair& p, PacketBuffer* b, uint32_t frame_len,
                       const spec::NetHdrHash& full);
  static void count_rx_offload_drop(RxOffloadVerdict v, NetCounters& c);
  uint32_t rx_frame_limit(const spec::NetHdr& hdr) const {
    return hdr.gso_type == spec::net_hdr::kGsoNone ? rx_frame_max_ : kMaxGsoFrame;
  }
  void drop_rx_chain(QueuePair& p);
  // Transmit offloads: the request made a header (true), or the frame is
  // refused, counted (false); write_tx_header() stores it at the frame.
  static bool wants_offload(const PacketOffload& o) {
    return o.csum != CsumState::kNone || o.gso != GsoKind::kNone || o.ecn;
  }
  bool tx_offload_header(NetCounters& c, const PacketOffload& req, const uint8_t* first,
                         uint32_t first_len, uint32_t frame_len, spec::NetHdr* out);
  void write_tx_header(uint8_t* at, const spec::NetHdr& h) const;
  static void count_tx_offload(NetCounters& c, const PacketOffload& o) {
    if (o.csum == CsumState::kPartial) ++c.tx_csum_offloaded;
    if (o.gso != GsoKind::kNone) ++c.tx_gso_packets;
  }
  uint64_t offload_features_wanted(uint64_t want) const;
  bool chains_possible(uint64_t features) const;
  uint16_t reclaim_tx(QueuePair& p);
  // Scatter-gather tx of the fragment chain at b: false when the burst
  // must stop (ring or fragment mappings full, mapping failed: not taken).
  bool tx_sg(QueuePair& p, PacketBuffer* b, uint16_t* added);
  // Every fragment of the chain at b back to the pool (next cleared), its
  // mappings (p.tx_map[head] and the extra fragments') ended.
  void release_tx(QueuePair& p, PacketBuffer* b, uint16_t head);
  // release_tx() of a frame with fragments, after its first unmap.
  void release_tx_fragments(QueuePair& p, PacketBuffer* b, uint16_t head);
  void free_chain(PacketBuffer* b);
  static void reset_tx_frag_maps(QueuePair& p);
  void note_queue_fault(const Virtqueue& q);
  void count_queue_fault(const Virtqueue& q);
  bool tx_watchdog_expired(QueuePair& p);
  // Interrupts (handle_interrupt and the attach/stop steps of the ladder).
  void setup_interrupts();
  void stop_interrupts(bool device_reachable);
  uint8_t take_interrupt_status();
  bool irq_storm();
  void kick(Virtqueue& q, NetCounters& c);
  // Control plane (virtio_net_control.cc).
  uint64_t control_features_wanted() const;
  bool negotiate_control_config(uint64_t* want);
  void setup_control_queue(RingKind ring, bool dma_order);
  CtrlResult send_command(uint8_t cls, uint8_t cmd, const ControlQueue::Part* parts,
                          uint8_t num_parts);
  CtrlResult rx_mode_command(RxMode mode, bool on);
  CtrlResult mac_filter_command(const MacAddr* unicast, uint16_t n_unicast,
                                const MacAddr* multicast, uint16_t n_multicast);
  CtrlResult mac_address_command(const uint8_t mac[6]);
  CtrlResult vlan_command(uint16_t vid, bool add);
  CtrlResult pairs_command(uint16_t n);
  uint16_t shrink_pairs(uint16_t n);
  CtrlResult rss_command(const RssSettings& rss, uint16_t pairs);
  CtrlResult offloads_command(uint64_t offloads);
  void restore_control_state();
  void acknowledge_announce(DeviceEvents* ev, uint32_t status);
  void reset_control_state();
  bool recover_locked();
  bool reclaim_all();
  void return_all_buffers();
  void teardown_queues();
  // The data-path side of the threading handshake (see the contract above).
  bool enter(uint8_t path);
  void leave(uint8_t path) { busy_.fetch_and(static_cast<uint8_t>(~path), MemOrder::kRelease); }
  bool quiescent() const { return busy_.load(MemOrder::kSeqCst) == 0; }
  void set_state(NetState s) { state_.store(s, MemOrder::kSeqCst); }
  // busy_ bits: pair k's rx context 1 << 2k, its tx context 1 << (2k + 1).
  static constexpr uint8_t busy_rx(uint16_t pair) { return static_cast<uint8_t>(1u << (2 * pair)); }
  static constexpr uint8_t busy_tx(uint16_t pair) { return static_cast<uint8_t>(2u << (2 * pair)); }
  static_assert(2 * kMaxQueuePairs <= 8, "busy_ holds two bits per pair");
  friend struct PathScope;

  Platform* platform_ = nullptr;
  Transport* transport_ = nullptr;
  BufferPool* pool_ = nullptr;
  NetOptions options_{};
  Atomic<NetState> state_{NetState::kDown};
  Atomic<uint8_t> busy_{0};  // busy_rx(k) | busy_tx(k) while a burst of pair k runs
  AttachError last_error_ = AttachError::kOk;
  QueuePair qp_[kMaxQueuePairs];
  NetCounters pair_counters_[kMaxQueuePairs - 1];
  uint64_t device_features_ = 0;
  uint64_t features_ = 0;
  uint32_t hdr_size_ = 12;
  uint32_t rx_buffer_min_ = 0;
  bool split_header_ = false;  // legacy without ANY_LAYOUT: header in its own descriptor
  bool link_up_ = false;
  bool mac_from_device_ = false;
  uint8_t mac_[6] = {};
  uint16_t mtu_ = 1500;
  uint32_t rx_frame_max_ = 0;  // largest frame accepted: mtu + Ethernet + one VLAN tag
  bool rx_chains_ = false;     // options_.rx_chains where possible (chains_possible)
  uint16_t rx_chain_max_ = 0;  // the most buffers a frame may span
  // Receive offloads in force (offload.h guest_offload bits): the
  // negotiated GUEST_* features, then what set_guest_offloads() switched.
  // Written by the control context, read by every rx context.
  Atomic<uint8_t> offloads_active_{0};
  bool quarantined_ = false;
  uint8_t status_written_ = 0;  // the device status the driver last wrote
  NetCounters counters_{};
  // Interrupts. irq_ is written by attach (control context, data path
  // quiescent); the interrupt context reads only irq_map_, one atomic word
  // that packs the mode and the vector of each source, so that it never
  // sees half of a re-attach.
  InterruptSetup irq_{};
  Atomic<uint32_t> irq_map_{0};
  Atomic<bool> config_pending_{false};  // a config interrupt for poll_device
  uint64_t irq_window_start_ = 0;       // storm guard (interrupt context)
  uint32_t irq_window_count_ = 0;
  // Control plane (control context only). What the device acknowledged is
  // remembered and sent again after every re-attach; attach() starts from
  // the defaults (every mode off, no filter entries, no VLAN, the device's
  // MAC, one pair).
  Virtqueue ctrl_;
  ControlQueue ctrl_chan_;
  bool ctrl_on_ = false;
  uint16_t ctrl_index_ = 2;
  uint8_t rx_modes_ = 0;  // bit per RxMode
  uint32_t vlans_[128] = {};
  MacAddr mac_filter_[kMaxMacFilter] = {};
  uint16_t mac_filter_uc_ = 0;
  uint16_t mac_filter_mc_ = 0;
  bool mac_chosen_ = false;  // set_mac_address() succeeded: mac_override_ is ours
  uint8_t mac_override_[6] = {};
  uint16_t dev_max_pairs_ = 1;  // validated max_virtqueue_pairs (1 without MQ/RSS)
  uint16_t pairs_ = 1;          // queue pairs set up at attach
  // Queue pairs the device was told to use: written by the control
  // context, read by tx_burst() (a pair beyond it takes nothing).
  Atomic<uint16_t> pairs_active_{1};
  uint16_t pairs_wanted_ = kMaxQueuePairs;  // set_queue_pairs(); restored after re-attach
  uint8_t rss_max_key_ = 0;
  uint16_t rss_max_table_ = 0;
  uint32_t rss_types_ = 0;
  bool rss_chosen_ = false;       // set_rss() succeeded: rss_ is what the device uses
  bool offloads_chosen_ = false;  // set_guest_offloads() succeeded: offloads_wanted_
  uint64_t offloads_wanted_ = 0;
  RssSettings rss_{};

 public:
  // Free fragment-mapping slots (tests: every one back after a reclaim or
  // a reset).
  uint16_t tx_frag_maps_free(uint16_t pair = 0) const {
    return qp_[pair < kMaxQueuePairs ? pair : 0].tx_frag_free_count;
  }
};

}  // namespace vnet
