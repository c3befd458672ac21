// MockDevice: an in-process virtio-net device on PCI (virtio 1.2, 4.1 and
// 5.1), for every transport flavour the driver knows:
//
//   kLegacy        device 0x1000, subsystem 1, revision 0; I/O BAR0 with the
//                  legacy register map (4.1.4.8); no capabilities.
//   kModern        device 0x1041, revision 1; vendor capabilities COMMON,
//                  NOTIFY, ISR and DEVICE in one memory BAR (BAR4, 16 KiB).
//   kTransitional  device 0x1000, subsystem 1, revision 0; both of the above.
//                  The interface the driver writes status through decides
//                  whether the device runs in legacy or modern mode.
//   kMmioV1        virtio-mmio version 1 (4.2.4, legacy): a 0x200-byte
//                  window of 32-bit registers (Region::kMmio), GuestPageSize,
//                  QueueAlign and QueuePFN; no PCI at all.
//   kMmioV2        virtio-mmio version 2 (4.2.2): QueueReady, 64-bit ring
//                  addresses, ConfigGeneration. Both MMIO flavours raise one
//                  level line while InterruptStatus != 0; InterruptACK
//                  clears (a read does not). mock_mmio.cc has the register
//                  file and the MMIO driver rules of the checker.
//
//   modern BAR layout (offsets in the BAR)      legacy BAR0 (I/O, 64 bytes)
//   0x0000 common cfg   (cap COMMON, 0x1000)    0x00 device features (low 32)
//   0x1000 ISR          (cap ISR,    0x1000)    0x04 driver features
//   0x2000 device cfg   (cap DEVICE, 0x1000)    0x08 queue PFN
//   0x3000 notify       (cap NOTIFY, 0x1000,    0x0C queue size   0x0E select
//          multiplier 4: queue q at 0x3000+4q)  0x10 notify 0x12 status 0x13 ISR
//                                               0x14 device config
//
// Device config (5.1.4), little-endian: mac[6], le16 status, le16
// max_virtqueue_pairs, le16 mtu, le32 speed, u8 duplex, ...; all values are
// taken raw from DeviceConfig, so a test can make them as wrong as it likes.
//
// Queues (5.1.2): receiveq1 = 0, transmitq1 = 1, ..., receiveqN = 2(N-1),
// transmitqN = 2(N-1)+1, controlq = 2N, where N = max_virtqueue_pairs when
// MQ or RSS is negotiated, else 1. The device has queue_pairs() pairs (the
// configured max_virtqueue_pairs, clamped to 1..kMaxQueuePairs, when MQ or
// RSS is offered; else 1) and num_queues = 2 * queue_pairs() + 1. The
// control queue is real (mock_ctrl.cc): commands of 5.1.6.5 are carried
// out and acknowledged, the receive filter and RSS they program apply to
// every frame delivered (rx_filter.h).
// Each is a split ring (2.7, DeviceQueue) or, once VIRTIO_F_RING_PACKED is
// negotiated (DeviceConfig::offer_ring_packed, modern interfaces only), a
// packed ring (2.8, PackedDeviceQueue); the frame paths below drive either
// through DeviceRing (device_ring.h) and never know which.
//
// Data path. Transmit: a notify of queue 1 (or process_tx()) consumes every
// available chain in order, gathers its device-readable bytes, strips and
// checks the net header (12 bytes with VERSION_1 or MRG_RXBUF, else 10),
// hands the frame to the tx sink and/or the capture list, and completes the
// chain with used.len 0. Receive: inject_rx() fills the next available rx
// chain with a header (num_buffers = 1 when the field exists) and the frame,
// completing it with used.len = header + frame (with rx_mergeable and
// MRG_RXBUF, a frame too large for one buffer takes several: num_buffers in
// the first header, one used entry each). Each publish raises ISR bit 0
// unless the driver suppressed it. Neither path allocates: the tx gather
// buffer is allocated once, and the tx sink is a function pointer.
//
// Offloads (offload.h; DeviceConfig::offer_offloads): on transmit the
// header's checksum and GSO requests are checked against the frame
// (5.1.6.2.1) and carried out -- checksums completed, GSO frames cut into
// wire segments -- so the sink sees what would leave a NIC; on receive
// inject_rx() can mark frames DATA_VALID or deliver them with a partial
// checksum (rx_csum_mode), inject_rx_gso() / inject_rx_coalesced() deliver
// GSO frames as a tap does, within the receive offloads GUEST_OFFLOADS_SET
// left enabled.
//
// Events: set_link() (status LINK_UP, config_generation bump, ISR bit 1);
// device_reset() (modern: DEVICE_NEEDS_RESET + config interrupt, queues
// stop; legacy: the device forgets everything, status reads 0).
//
// Misbehaviour: arm(Fault) (fault.h), set_used_hook(), register, BAR and
// PCI config space lies, descriptor rewrites, arbitrary used entries and
// used indices, completions held back and released in any order (a slow
// device), and hooks that act at any point of the initialisation sequence.
//
// Every driver action is checked against the spec's driver requirements
// and violations are recorded in conformance() (conformance.h).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <array>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "driver/platform/platform.h"
#include "driver/spec/virtio_constants.h"
#include "mock_device/conformance.h"
#include "mock_device/device_queue.h"
#include "mock_device/device_ring.h"
#include "mock_device/dma_mappings.h"
#include "mock_device/fault.h"
#include "mock_device/guest_memory.h"
#include "mock_device/rx_filter.h"

namespace vnet::mock {

// Appended only (fuzz inputs and traces name kinds by position and name).
enum class TransportKind : uint8_t { kLegacy, kModern, kTransitional, kMmioV1, kMmioV2 };
constexpr bool is_mmio(TransportKind kind) {
  return kind == TransportKind::kMmioV1 || kind == TransportKind::kMmioV2;
}
const char* transport_kind_name(TransportKind kind);

// Feature bits only a legacy interface offers (QEMU hides them on the
// modern one; bit 30 is VIRTIO_F_BAD_FEATURE, a legacy-only trap).
inline constexpr uint64_t kLegacyOnlyFeatures =
    spec::feature_mask(spec::Feature::kNetGso) | spec::feature_mask(spec::Feature::kNotifyOnEmpty) |
    spec::feature_mask(spec::Feature::kAnyLayout) | (uint64_t{1} << 30);

// Default offer: what QEMU 7.2's virtio-net-pci offers with a user-mode
// backend (see mock_device.cc), plus MTU.
uint64_t default_device_features();

struct DeviceConfig {
  TransportKind transport = TransportKind::kTransitional;
  uint64_t features = default_device_features();
  std::array<uint8_t, 6> mac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  uint16_t status = 1;  // LINK_UP
  uint16_t max_virtqueue_pairs = 1;
  uint16_t mtu = 1500;
  static constexpr uint32_t kDefaultLegacyBarSize = 64;
  std::array<uint16_t, 3> queue_sizes = {256, 256, 64};
  uint32_t notify_off_multiplier = 4;
  uint8_t modern_bar = 4;
  // Size of the legacy I/O BAR0 (registers 0x14 bytes, then device config).
  uint32_t legacy_bar_size = kDefaultLegacyBarSize;
  // Transmit: process chains as soon as the driver notifies queue 1.
  bool auto_process_tx = true;
  // With ACCESS_PLATFORM offered: refuse FEATURES_OK when the driver does
  // not accept it, as QEMU does (6.1 lets a device fail then).
  bool require_access_platform = true;
  // Keep up to this many transmitted frames (copies) in captured_tx().
  size_t tx_capture_limit = 0;
  // A second notification capability after the others, as QEMU's
  // modern-pio-notify adds one (4.1.4.1: the driver uses the first usable
  // capability of each type). It names the upper half of the notify window.
  bool second_notify_cap = false;
  // MSI-X, as QEMU's virtio-net-pci has it: a capability (at 0xB0, last on
  // the list) whose table of msix_vectors entries lies at offset 0 of
  // memory BAR msix_bar (4 KiB), the pending bit array at 0x800. 0: no
  // MSI-X capability -- the default, so that a polling driver's walk of the
  // capability list is what it always was. At most 128.
  uint16_t msix_vectors = 0;
  uint8_t msix_bar = 1;
  // The INTx pin (config 0x3D): 1 = INTA; 0 = no line. MMIO: nonzero =
  // the window has its interrupt line.
  uint8_t interrupt_pin = 1;
  // virtio-mmio (kMmioV1/kMmioV2): the window's size as the platform
  // describes it (QEMU: 0x200) and what DeviceID / VendorID read.
  uint32_t mmio_window_size = 0x200;
  uint32_t mmio_device_id = 1;
  uint32_t mmio_vendor_id = 0x554D4551;  // "QEMU"
  // VIRTIO_F_RING_PACKED (bit 34): offered on the modern interfaces
  // (kModern, kTransitional's modern side, kMmioV2) when true -- off by
  // default, as QEMU 7.2's packed=off. Legacy interfaces never offer it
  // (kLegacy and kMmioV1 drop the bit even from `features`). With it
  // negotiated every queue is a packed ring (2.8): any size 1..32768 up to
  // the maximum, QueueDesc/queue_desc = descriptor ring, QueueDriver /
  // queue_driver = driver event, QueueDevice / queue_device = device event.
  bool offer_ring_packed = false;
  // What the device writes into its device event suppression structure
  // (packed rings): ENABLE (notify always), DISABLE (never: the device
  // polls, so call process_tx()), DESC (with EVENT_IDX: notify when the next
  // avail position is made available). set_packed_device_event() changes
  // it per queue at any time.
  PackedEventMode packed_device_event = PackedEventMode::kEnable;
  // Receive: with MRG_RXBUF negotiated, a frame that does not fit the next
  // rx buffer is spread over as many buffers as it needs, num_buffers in
  // the first one's header, one used entry per buffer published together
  // (5.1.6.4), on either ring kind. Off (the default): such a frame is not
  // delivered (rx_too_big), as before.
  bool rx_mergeable = false;
  // VIRTIO_F_IN_ORDER (bit 35): offered on the modern interfaces when true
  // (off by default; legacy interfaces never offer it), with either ring
  // kind. With it negotiated the device completes in the order it was given
  // buffers -- as it always does -- and, with in_order_batch > 1, folds up
  // to that many consecutive completions of a queue into ONE used entry
  // naming the last: on a split ring at the used slot of the batch's first
  // (2.7.9; DeviceQueue::set_in_order), on a packed ring as one used
  // descriptor at the used position of the batch's first chain, the whole
  // batch's descriptors skipped (2.8.9; PackedDeviceQueue::set_in_order).
  // Batched: transmit chains processed together, and the buffers of one
  // mergeable receive frame (each receive frame is published on its own,
  // so the batch stays honest: every buffer but its last used completely).
  bool offer_in_order = false;
  uint16_t in_order_batch = 1;
  // The driver runs at the same time as the device, on another CPU (a real
  // guest behind the vhost-user back end), not between the device's calls
  // as in process: every publish then puts a full fence between storing the
  // used index and reading the driver's event suppression (a store then a
  // load; without it an interrupt can be lost). Off in process, where it
  // would cost a quarter of the receive rate and protect nothing.
  bool concurrent_driver = false;

  // ---- the control plane (5.1.6.5; mock_ctrl.cc) ----
  // Offers of the control-plane features: unset keeps what `features`
  // says, true adds the bit, false removes it (applied at construction).
  // The default offer has CTRL_VQ, CTRL_RX, CTRL_VLAN, CTRL_RX_EXTRA,
  // GUEST_ANNOUNCE and CTRL_MAC_ADDR (QEMU's), not MQ, RSS, HASH_REPORT.
  // Nothing keeps the offer consistent: MQ or CTRL_RX without CTRL_VQ is a
  // lie a test may tell. RSS and HASH_REPORT (bits above 31) reach only
  // the modern interfaces.
  std::optional<bool> offer_ctrl_vq;         // 17
  std::optional<bool> offer_ctrl_rx;         // 18
  std::optional<bool> offer_ctrl_vlan;       // 19
  std::optional<bool> offer_ctrl_rx_extra;   // 20
  std::optional<bool> offer_guest_announce;  // 21
  std::optional<bool> offer_mq;              // 22
  std::optional<bool> offer_ctrl_mac_addr;   // 23
  std::optional<bool> offer_hash_report;     // 57
  std::optional<bool> offer_rss;             // 60
  // Raw configuration fields (5.1.4), read as they are whatever they say:
  // rss_max_key_size (offset 17), rss_max_indirection_table_length (18),
  // supported_hash_types (20); max_virtqueue_pairs (8) is above. Defaults
  // as QEMU 7.2 (40, 128, every type of 5.1.6.4.3.1).
  uint8_t rss_max_key_size = 40;
  uint16_t rss_max_indirection_table_length = 128;
  uint32_t supported_hash_types = 0x1FF;

  // ---- offloads (5.1.6.2, 5.1.6.4; offload.h) ----
  // Offer what QEMU offers over a tap with vnet_hdr=on: CSUM, GUEST_CSUM,
  // GUEST_TSO4/TSO6/ECN, HOST_TSO4/TSO6/ECN, and USO (GUEST_USO4/USO6,
  // HOST_USO: QEMU 7.2 has none); CTRL_GUEST_OFFLOADS with CTRL_VQ.
  // Off (the default): the offer of `features` -- QEMU over user
  // networking, which has no vnet header. Any subset: put the bits into
  // `features` (the device acts on whatever is negotiated).
  bool offer_offloads = false;
  // How inject_rx() delivers a TCP/UDP frame while GUEST_CSUM is
  // negotiated and enabled (CTRL_GUEST_OFFLOADS): kNone as it is (flags 0);
  // kDataValid with DATA_VALID when its checksums verify; kPartial with
  // NEEDS_CSUM, csum_start/csum_offset of its L4 checksum and the
  // pseudo-header sum in that field (a tap's locally generated traffic).
  enum class RxCsumMode : uint8_t { kNone, kDataValid, kPartial };
  RxCsumMode rx_csum_mode = RxCsumMode::kNone;
};

// One interrupt the device sent (MockDevice::interrupts(), and the sink).
struct InterruptRecord {
  enum class Kind : uint8_t {
    kMsi,          // an MSI-X message: vector, and the address/data of its table entry
    kLine,         // INTx asserted (a rising edge of the level line)
    kForeignLine,  // the shared line pulsed by another function (spurious_interrupt)
  };
  Kind kind = Kind::kMsi;
  uint16_t vector = 0;
  uint64_t address = 0;
  uint32_t data = 0;
  uint8_t isr = 0;  // the ISR when it was sent
};

#define VNET_MOCK_DEVICE_COUNTERS(X)                                                \
  X(tx_frames)          /* frames handed to the sink / capture */                   \
  X(tx_bytes)           /* frame bytes (without header) */                          \
  X(tx_chains_bad)      /* malformed tx chains (completed with len 0, not sent) */  \
  X(tx_capture_dropped) /* frames not captured: capture list full */                \
  X(rx_injected)        /* frames written into rx buffers */                        \
  X(rx_bytes)                                                                       \
  X(rx_no_buffer)   /* inject_rx with no rx chain available */                      \
  X(rx_too_big)     /* frame does not fit the next rx chain */                      \
  X(rx_not_ready)   /* inject_rx before DRIVER_OK, or queue halted */               \
  X(rx_chains_bad)  /* malformed rx chains (completed with len 0) */                \
  X(notifies)       /* available-buffer notifications received */                   \
  X(used_published) /* used entries written */                                      \
  X(interrupts)     /* used-buffer interrupts raised (ISR bit 0) */                 \
  X(interrupts_suppressed)                                                          \
  X(config_interrupts)     /* ISR bit 1 raised */                                   \
  X(driver_resets)         /* status written 0 */                                   \
  X(device_resets)         /* device_reset() calls */                               \
  X(features_refused)      /* FEATURES_OK refused */                                \
  X(faults_applied)        /* fault events applied */                               \
  X(queue_halts)           /* queues the device stopped using */                    \
  X(completions_held)      /* completions held back (hold_completions) */           \
  X(hooks_fired)           /* initialisation hooks that acted */                    \
  X(descriptors_rewritten) /* descriptor fields the device overwrote */             \
  X(msix_sent)             /* MSI-X messages sent */                                \
  X(msix_pending)          /* ... held in the PBA (entry or function masked) */     \
  X(msix_unmapped)         /* interrupts with MSI-X on and NO_VECTOR mapped */      \
  X(intx_asserted)         /* INTx rising edges */                                  \
  X(isr_reads)             /* ISR status reads */                                   \
  X(spurious_sent)         /* spurious_interrupt / interrupt_storm signals */       \
  X(mmio_acks)             /* MMIO InterruptACK writes */                           \
  X(rx_filtered)           /* frames the receive filter dropped (not delivered) */  \
  X(tx_pair_disabled)      /* tx notifies of a pair beyond the enabled ones */      \
  X(ctrl_commands)         /* control commands consumed */                          \
  X(ctrl_ok)               /* ... acknowledged VIRTIO_NET_OK */                     \
  X(ctrl_err)              /* ... acknowledged VIRTIO_NET_ERR */                    \
  X(ctrl_chains_bad)       /* control chains without header or ack: queue halted */ \
  X(ctrl_unanswered)       /* commands never completed (ctrl_no_completion) */      \
  X(tx_csum_completed)     /* checksums completed (NEEDS_CSUM) */                   \
  X(tx_gso_frames)         /* GSO frames segmented */                               \
  X(tx_gso_segments)       /* ... into this many wire frames */                     \
  X(tx_offload_bad)        /* offload requests refused: not sent */                 \
  X(tx_ufo_unsegmented)    /* gso_type UDP (UFO): sent whole */                     \
  X(rx_csum_valid)         /* frames delivered with DATA_VALID */                   \
  X(rx_csum_partial)       /* frames delivered with NEEDS_CSUM */                   \
  X(rx_gso_frames)         /* frames delivered with a gso_type */                   \
  X(rx_coalesced)          /* segments merged (inject_rx_coalesced) */              \
  X(rx_gso_refused)        /* GSO frames refused (offload off, ...) */              \
  X(ctrl_offloads_set)     /* GUEST_OFFLOADS_SET carried out */

struct DeviceCounters {
#define VNET_MOCK_DECLARE(name) uint64_t name = 0;
  VNET_MOCK_DEVICE_COUNTERS(VNET_MOCK_DECLARE)
#undef VNET_MOCK_DECLARE
  template <typename F>
  void for_each(F&& f) const {
#define VNET_MOCK_VISIT(name) f(#name, name);
    VNET_MOCK_DEVICE_COUNTERS(VNET_MOCK_VISIT)
#undef VNET_MOCK_VISIT
  }
};

// UsedEntry (what the used hook may rewrite before the device publishes a
// used entry, split or packed) is declared in device_ring.h.

class MockDevice {
 public:
  // The queues of a device with one pair (receiveq1, transmitq1, controlq).
  static constexpr uint16_t kNumQueues = 3;
  static constexpr uint16_t kRxQueue = 0;
  static constexpr uint16_t kTxQueue = 1;
  static constexpr uint16_t kCtrlQueue = 2;  // without MQ/RSS negotiated
  // Multiqueue: the most queue pairs the mock models (a larger
  // max_virtqueue_pairs is still reported as configured: a lie), and the
  // most queues it has (2 * kMaxQueuePairs + 1).
  static constexpr uint16_t kMaxQueuePairs = 16;
  static constexpr uint16_t kMaxQueues = 2 * kMaxQueuePairs + 1;
  static constexpr uint32_t kLegacyBarSize = DeviceConfig::kDefaultLegacyBarSize;
  static constexpr uint32_t kModernBarSize = 0x4000;
  static constexpr uint32_t kCommonOffset = 0x0000;
  static constexpr uint32_t kIsrOffset = 0x1000;
  static constexpr uint32_t kDeviceCfgOffset = 0x2000;
  static constexpr uint32_t kNotifyOffset = 0x3000;
  static constexpr uint32_t kWindowSize = 0x1000;
  static constexpr size_t kMaxFrame = 65550;  // the tx gather buffer

  using TxSink = void (*)(void* context, std::span<const uint8_t> frame);
  using TxHandler = std::function<void(std::span<const uint8_t> frame)>;
  using UsedHook = std::function<void(UsedEntry& entry)>;

  MockDevice(GuestMemory& memory, const DeviceConfig& config = {});

  // ---- the register side (what MockPlatform forwards) ----
  uint32_t pci_config_read(uint32_t offset, uint8_t width);
  void pci_config_write(uint32_t offset, uint8_t width, uint32_t value);
  uint32_t bar_read(uint8_t bar, uint32_t offset, uint8_t width);
  void bar_write(uint8_t bar, uint32_t offset, uint8_t width, uint32_t value);
  BarInfo bar_info(uint8_t bar) const;
  // virtio-mmio (kMmioV1/kMmioV2): the register window, Region::kMmio.
  uint32_t mmio_read(uint32_t offset, uint8_t width);
  void mmio_write(uint32_t offset, uint8_t width, uint32_t value);
  bool is_mmio_device() const { return is_mmio(config_.transport); }
  uint32_t mmio_version() const { return config_.transport == TransportKind::kMmioV1 ? 1 : 2; }
  bool interrupt_pending() const { return isr_ != 0; }
  uint8_t isr_peek() const { return isr_; }

  // ---- interrupts ----
  // Every interrupt the device sends goes to the sink (MockPlatform sets
  // it) and into interrupts() (the first kMaxInterruptRecords). With MSI-X
  // enabled an event is a message on its mapped vector (NO_VECTOR: none;
  // a masked entry or function: a pending bit, sent at unmask); without,
  // the ISR bit is set and the level line follows ISR != 0 (unless the
  // command register's Interrupt Disable is set). QEMU sets the ISR bits
  // in both cases, so does this device.
  using InterruptSink = std::function<void(const InterruptRecord&)>;
  static constexpr size_t kMaxInterruptRecords = 4096;
  void set_interrupt_sink(InterruptSink sink) { irq_sink_ = std::move(sink); }
  const std::vector<InterruptRecord>& interrupts() const { return irq_log_; }
  void clear_interrupts() { irq_log_.clear(); }
  bool line_asserted() const { return line_; }
  bool msix_enabled() const;
  bool msix_function_masked() const;
  uint16_t config_vector() const { return config_vector_; }
  uint16_t queue_vector(uint16_t q) const { return q < kMaxQueues ? queue_vector_[q] : 0xFFFF; }
  // Table entry i: message address/data and its mask bit; pending bit.
  bool msix_entry(uint16_t i, uint64_t* address, uint32_t* data, bool* masked) const;
  bool msix_pending_bit(uint16_t i) const;
  // Offsets of the capability and of table / PBA in msix_bar.
  static constexpr uint32_t kMsixCap = 0xB0;
  static constexpr uint32_t kMsixBarSize = 0x1000;
  static constexpr uint32_t kMsixPbaOffset = 0x800;
  static constexpr uint16_t kMaxMsixVectors = 128;

  // ---- the data path ----
  // Frames the driver transmits go to the sink (cheap: function pointer)
  // or handler (std::function, called without allocation).
  void set_tx_sink(TxSink sink, void* context);
  void set_tx_handler(TxHandler handler);
  void set_tx_capture_limit(size_t limit) { config_.tx_capture_limit = limit; }
  const std::vector<std::vector<uint8_t>>& captured_tx() const { return captured_; }
  void clear_captured_tx() { captured_.clear(); }
  // Consumes up to max available tx chains of every enabled pair; returns
  // how many frames were sent.
  size_t process_tx(size_t max = SIZE_MAX);
  // The same for one pair's transmitq (nothing when the pair is not enabled).
  size_t process_tx_pair(uint16_t pair, size_t max = SIZE_MAX);
  size_t poll() { return process_tx(); }
  // Writes frame into the next available rx chain of the pair the device
  // steers it to: with RSS configured (RSS_CONFIG) the indirection table's
  // queue for the frame's hash, else pair 0 (QEMU without RSS leaves
  // steering to its backend; the mock's backend uses receiveq1). False
  // (and counted) when the receive filter drops the frame (rx_filtered),
  // no rx buffer is available, the frame does not fit, or the driver is
  // not ready.
  bool inject_rx(std::span<const uint8_t> frame);
  // The same into pair's receiveq, without steering (the filter and the
  // hash report still apply). False when pair is not an enabled pair.
  bool inject_rx_pair(uint16_t pair, std::span<const uint8_t> frame);
  // The pair inject_rx() would steer frame to (no side effects).
  uint16_t steer(std::span<const uint8_t> frame) const;
  // Frames delivered into pair's receiveq / sent from pair's transmitq.
  uint64_t rx_delivered(uint16_t pair) const {
    return pair < kMaxQueuePairs ? rx_pair_frames_[pair] : 0;
  }
  uint64_t tx_sent(uint16_t pair) const {
    return pair < kMaxQueuePairs ? tx_pair_frames_[pair] : 0;
  }
  // Number of rx chains the driver has made available on receiveq1 and the
  // device has not consumed yet.
  uint16_t rx_available();

  // ---- offloads (offload.h) ----
  // One large TCP/UDP frame over IPv4/IPv6 (up to kMaxFrame bytes), as a
  // device delivers a GRO'd packet: its IP/UDP lengths and IPv4 header
  // checksum made to match the frame, gso_type TCPV4/TCPV6/UDP_L4 (+ ECN
  // when the TCP header has CWR and GUEST_ECN is enabled), NEEDS_CSUM with
  // csum_start/csum_offset of its L4 checksum and the pseudo-header sum
  // there, hdr_len = headers through L4 (or the given hdr_len: a linear
  // part larger than the headers, as Linux's), gso_size. Steered, filtered
  // and spread over buffers as inject_rx(). False (rx_gso_refused) when the
  // frame is not TCP/UDP over IP, gso_size is 0, or the receive offload of
  // its type (GUEST_TSO4/TSO6/USO4/USO6) is not enabled -- or CWR is set
  // without GUEST_ECN enabled.
  bool inject_rx_gso(std::span<const uint8_t> frame, uint16_t gso_size, uint16_t hdr_len = 0);
  // Consecutive TCP segments of one flow merged as GRO does
  // (offload::coalesce) and delivered as inject_rx_gso() with gso_size =
  // the first segment's payload; one segment is delivered as inject_rx().
  // False (rx_gso_refused) when they do not merge.
  bool inject_rx_coalesced(std::span<const std::vector<uint8_t>> segments);
  // The receive offloads enabled now (feature bits of offload::kGuestOffloads):
  // every negotiated one at FEATURES_OK, then as GUEST_OFFLOADS_SET says.
  uint64_t guest_offloads() const { return guest_offloads_; }

  // ---- the control plane (mock_ctrl.cc) ----
  // The queue pairs the device has, and those enabled now (1 after a
  // reset; VQ_PAIRS_SET or RSS_CONFIG change it).
  uint16_t queue_pairs() const { return pairs_; }
  uint16_t active_pairs() const { return active_pairs_; }
  uint16_t num_queues() const { return uint16_t(2 * pairs_ + 1); }
  // The control queue's index now (2N, 5.1.2); -1 when the negotiated N
  // names no queue this device has (max_virtqueue_pairs 0 or above
  // queue_pairs() with MQ or RSS negotiated).
  int32_t ctrl_queue_index() const;
  // Consumes every available control command (a notify of the control
  // queue does this too).
  size_t process_ctrl();
  const RxFilter& rx_filter() const { return filter_; }
  // The MAC the device offers after a reset (config mac before any
  // MAC_ADDR_SET since; set_mac() changes it).
  const MacAddress& reset_mac() const { return base_mac_; }
  const RssState& rss() const { return rss_; }
  // Whether the hash of each delivered frame is written into its header
  // (HASH_REPORT negotiated and configured by HASH_CONFIG or RSS_CONFIG).
  bool hash_reporting() const;
  // Sets VIRTIO_NET_S_ANNOUNCE in status and raises a configuration
  // change (what a migrated device does; ANNOUNCE_ACK clears it).
  void request_announce();

  // ---- events ----
  void set_link(bool up);
  bool link_up() const;
  void device_reset();
  // Raises a configuration-change interrupt after changing config fields.
  void set_mtu(uint16_t mtu);
  // The MAC (also the one a reset restores after a MAC_ADDR_SET).
  void set_mac(const std::array<uint8_t, 6>& mac);
  void set_config_status(uint16_t status);
  void set_max_virtqueue_pairs(uint16_t pairs);
  void set_queue_max_size(int queue, uint16_t size);  // queue -1: all
  // Packed rings: what queue q's device event structure says from now on
  // (off_wrap >= 0: that position | wrap << 15 with DESC, instead of the
  // device's next avail position). False when q is not a usable packed ring.
  bool set_packed_device_event(uint16_t q, PackedEventMode mode, int32_t off_wrap = -1);

  // ---- misbehaviour ----
  void arm(const Fault& fault);
  void clear_faults();
  size_t armed_faults() const {
    return used_faults_.size() + rx_faults_.size() + ctrl_faults_.size();
  }
  void set_used_hook(UsedHook hook) { used_hook_ = std::move(hook); }
  // Ignore the driver's resets (status writes of 0): status never reads
  // back 0 and the queues stay live.
  void set_ignore_reset(bool ignore) { ignore_reset_ = ignore; }
  // A lie told while the queue may be idle: publishes again the used entry
  // the device published last on queue q (a stale completion). False when
  // the queue is not usable or never completed anything.
  bool republish_last_used(uint16_t q);
  // Any used entry, now: {id, len} at the next used slot of queue q, then
  // used.idx published (ids never posted, duplicates, out of order, a
  // buffer "completed" without a byte written). False if q is not usable.
  bool publish_used(uint16_t q, uint32_t id, uint32_t len);
  // A lie about a register read (see RegisterLie in fault.h).
  void lie_about_register(const RegisterLie& lie) { register_lies_.push_back(lie); }
  // A lie about a BAR (see BarLie in fault.h): what bar_info() reports.
  void lie_about_bar(const BarLie& lie) { bar_lies_.push_back(lie); }
  // Rewrites width bytes of PCI configuration space at offset (any byte:
  // identity, capability list links, capability fields, BAR registers);
  // kept across rebuilds of the config space. False when out of range.
  bool poke_pci_config(uint32_t offset, uint8_t width, uint32_t value);
  // Rewrites a field of descriptor index of queue q's table now.
  bool rewrite_descriptor(uint16_t q, uint16_t index, DeviceQueue::DescField field, uint64_t value);
  // Stores used.idx = value on queue q now, without writing any entry (the
  // device's own index follows). False if q is not usable.
  bool write_used_idx(uint16_t q, uint16_t value);
  // Completes the next available chain of queue q without writing a byte
  // into it: used.len = len (-1: the chain's writable bytes). False when
  // nothing is available.
  bool complete_unwritten(uint16_t q, int64_t len = -1);
  // A configuration change interrupt now (ISR bit 1), nothing changed.
  void raise_config_change() { raise_config_interrupt(); }

  // ---- a slow device: completions held back, released later ----
  enum class ReleaseOrder : uint8_t { kFifo, kReverse, kShuffle };
  // The next count completions of queue q (0: all of them) are held back
  // instead of published: the buffer is used (rx: the frame is written)
  // but no used entry appears. delay_ticks > 0: each is released that many
  // tick()s after it was held, in order; 0: only release_held() does.
  void hold_completions(uint16_t q, uint32_t count, uint32_t delay_ticks,
                        ReleaseOrder order = ReleaseOrder::kFifo, uint64_t seed = 1);
  // Publishes up to max held completions of queue q in the given order
  // (used-entry faults and the used hook apply now) and stops holding.
  // Returns how many were published (0 when the queue is not usable).
  size_t release_held(uint16_t q, ReleaseOrder order, uint64_t seed = 1, size_t max = SIZE_MAX);
  // Time passes for held completions (the scenario runner ticks once per
  // pump of the driver).
  void tick();
  size_t held(uint16_t q) const { return q < kMaxQueues ? held_[q].size() : 0; }

  // ---- acting between any two steps of the initialisation ----
  enum class HookPoint : uint8_t {
    kStatusWrite,    // a device_status write that sets status_bit (0: a reset write)
    kFeaturesWrite,  // a driver-features write (modern: one per 32-bit half)
    kQueueEnable,    // modern queue_enable = 1 / legacy queue PFN write, of queue
  };
  struct Hook {
    HookPoint point = HookPoint::kStatusWrite;
    uint8_t status_bit = 0;
    int32_t queue = -1;   // kQueueEnable: -1 any
    bool before = false;  // before the write takes effect (else just after)
    uint32_t skip = 0;    // matching events to let pass first
    uint32_t count = 1;   // times to act; 0: every time
    std::function<void(MockDevice&)> action;
  };
  void add_hook(Hook hook) { hooks_.push_back(HookState{std::move(hook), 0}); }
  void clear_hooks() { hooks_.clear(); }

  // ---- ACCESS_PLATFORM ----
  // The IOMMU the device translates through when ACCESS_PLATFORM is
  // negotiated (MockPlatform maps into it in IOMMU mode).
  DmaMappings& dma_mappings() { return iommu_; }
  // Sees every buffer address the device walks (queue, address, length).
  void set_descriptor_audit(DeviceQueue::Audit audit) { audit_ = std::move(audit); }

  // ---- observation ----
  const DeviceConfig& config() const { return config_; }
  uint8_t status() const { return status_; }
  uint64_t driver_features() const { return driver_features_; }
  uint64_t negotiated_features() const { return driver_features_ & config_.features; }
  bool legacy_mode() const { return legacy_mode_; }
  uint32_t net_header_size() const { return hdr_size_; }
  uint8_t config_generation() const { return generation_; }
  // The split ring of queue q (unconfigured -- size 0 -- when q runs a
  // packed ring); ring(q) is queue q whatever its kind.
  const DeviceQueue& queue(uint16_t q) const { return queues_[q].split(); }
  const DeviceRing& ring(uint16_t q) const { return queues_[q]; }
  bool ring_packed() const {
    return spec::has_feature(negotiated_features(), spec::Feature::kRingPacked);
  }
  bool queue_ready(uint16_t q) const { return q < kMaxQueues && queues_[q].usable(); }
  const DeviceCounters& counters() const { return counters_; }
  Conformance& conformance() { return conformance_; }
  const Conformance& conformance() const { return conformance_; }
  GuestMemory& memory() { return memory_; }

 private:
  struct QueueRegs {
    uint16_t max_size = 0;  // what queue_size reads report before the driver writes
    uint16_t size = 0;      // modern: driver-written; legacy: = max_size
    bool enabled = false;
    uint32_t pfn = 0;
    DeviceRing::Addresses addrs{};
    // virtio-mmio: QueueAlign (v1), and which of QueueNum and the six
    // address halves (v2) were written since the reset (kMmioWrote*).
    uint32_t align = 0;
    uint8_t written = 0;
  };
  struct ArmedFault {
    Fault fault;
    uint32_t skip_left = 0;
    uint32_t left = 0;  // 0 with count 0: unlimited
  };

  bool has_legacy() const {
    return config_.transport == TransportKind::kLegacy ||
           config_.transport == TransportKind::kTransitional;
  }
  bool has_modern() const {
    return config_.transport == TransportKind::kModern ||
           config_.transport == TransportKind::kTransitional;
  }
  void build_pci_config();
  void build_pci_image();
  void full_reset();
  void raise_config_interrupt();
  void bump_generation() { ++generation_; }
  // Interrupts: signal() sets ISR bits and sends the event's MSI or
  // updates the line; queue -1 is the configuration vector.
  void signal(uint8_t isr_bits, int queue);
  void send_msi(uint16_t vector);
  void update_line();
  void emit(const InterruptRecord& r);
  void deliver_pending_msix();
  uint8_t read_isr();
  uint16_t vector_read(int queue);  // what a read of a vector register returns
  void vector_write(int queue, uint32_t value);
  void check_vectors_at_driver_ok();
  void msix_control_write(uint32_t offset, uint8_t width, uint32_t value);
  uint32_t msix_bar_read(uint32_t offset, uint8_t width);
  void msix_bar_write(uint32_t offset, uint8_t width, uint32_t value);
  uint8_t pci_byte(uint32_t offset) const;  // config space with the live registers
  void interrupt_tick();
  uint32_t config_bytes_read(uint32_t offset, uint8_t width);
  uint8_t read_status();
  void fill_config(uint8_t* out) const;

  // virtio-mmio (mock_mmio.cc).
  uint32_t mmio_register_read(uint32_t offset);
  void mmio_register_write(uint32_t offset, uint32_t value);
  bool mmio_check_access(uint32_t offset, uint8_t width, bool write);
  uint32_t mmio_config_read(uint32_t offset, uint8_t width);
  void mmio_config_write(uint32_t offset, uint8_t width, uint32_t value);
  void mmio_interrupt_ack(uint32_t value);
  void mmio_queue_ready(uint32_t value);
  void mmio_queue_pfn(uint32_t value);
  void mmio_note_identity(uint32_t offset, uint32_t value);
  bool mmio_ignored(uint32_t offset);

  uint32_t legacy_read(uint32_t offset, uint8_t width);
  void legacy_write(uint32_t offset, uint8_t width, uint32_t value);
  uint32_t modern_read(uint32_t offset, uint8_t width);
  void modern_write(uint32_t offset, uint8_t width, uint32_t value);
  uint32_t common_field_read(uint32_t field);
  void common_field_write(uint32_t field, uint32_t value);
  bool check_common_width(uint32_t offset, uint8_t width, bool write);

  void write_status(uint8_t value, bool via_legacy);
  void write_status_now(uint8_t value, bool via_legacy);
  void fire_hooks(HookPoint point, uint8_t status_value, uint8_t added, int32_t queue, bool before);
  bool check_features(uint64_t accepted, bool modern);
  void enable_queue(uint16_t q);
  void enable_queue_now(uint16_t q);
  void notify(uint16_t q);
  void note_queue_setup(const char* what);

  // Publishing with faults and hook.
  void complete(uint16_t q, uint16_t head, uint32_t len, uint64_t writable);
  void complete_now(uint16_t q, uint16_t head, uint32_t len, uint64_t writable);
  // The packed_used_* faults on e (a packed ring's entry for head); true
  // when the entry is to be published twice.
  bool packed_used_lies(uint16_t q, uint16_t head, UsedEntry& e);
  void release(uint16_t q, std::vector<size_t>& picks, ReleaseOrder order, uint64_t seed);
  void finish(uint16_t q);
  bool take_fault(std::vector<ArmedFault>& list, FaultKind kind, uint16_t q, Fault* out);
  bool check_tx_header(const uint8_t* hdr);
  // offload: the header's first 10 bytes (flags .. csum_offset) to deliver
  // with (nullptr: zeros); the device adds num_buffers and the hash, the
  // rx_* faults rewrite any field.
  bool deliver_rx(uint16_t rxq, std::span<const uint8_t> frame, const uint8_t* offload = nullptr);
  // A frame larger than the next rx buffer over several (rx_mergeable).
  bool deliver_rx_merged(uint16_t rxq, std::span<const uint8_t> frame, const uint8_t* offload);
  // The rx_* header faults (and kRxGsoWrongProtocol, kRxGsoEcn) on hdr.
  // True when a fault set num_buffers.
  bool apply_rx_header_faults(uint16_t rxq, uint8_t* hdr);
  bool inject_into(uint16_t pair, std::span<const uint8_t> frame, const uint8_t* offload = nullptr);
  // The transmit offloads: checks the header against the frame, completes
  // checksums and segments, and hands the wire frames to deliver_tx.
  void transmit(const uint8_t* hdr, std::span<const uint8_t> frame);
  uint8_t ctrl_guest_offloads(uint8_t cmd, std::span<const uint8_t> data);
  size_t process_tx_queue(uint16_t q, size_t max);
  // Queue roles (5.1.2) under the features negotiated so far.
  enum class QueueRole : uint8_t { kRx, kTx, kCtrl, kNone };
  QueueRole role(uint16_t q) const;
  bool multiqueue() const;  // MQ or RSS negotiated
  uint16_t role_max_size(uint16_t q) const;
  void refresh_queue_sizes();  // after a driver-features write
  // The control plane (mock_ctrl.cc).
  void reset_control_plane();
  void ctrl_features_set();  // FEATURES_OK (modern) / DRIVER_OK (legacy)
  uint8_t ctrl_command(uint8_t cls, uint8_t cmd, std::span<const uint8_t> data);
  uint8_t ctrl_mq(uint8_t cmd, std::span<const uint8_t> data);
  uint32_t ctrl_rss(std::span<const uint8_t> data, bool rss);
  void check_ctrl_command(uint8_t cls, uint8_t cmd, std::span<const uint8_t> data);
  void write_hash(uint8_t* hdr, std::span<const uint8_t> frame) const;
  void use_before_driver_ok();
  void deliver_tx(std::span<const uint8_t> frame);

  GuestMemory& memory_;
  DeviceConfig config_;
  Conformance conformance_;
  DeviceCounters counters_;
  std::array<uint8_t, 256> pci_{};
  uint16_t pci_command_ = 0;
  std::array<bool, 4> cap_outside_bar_{};  // by cfg_type - 1
  std::array<bool, 4> cap_missing_bar_{};

  uint8_t status_ = 0;
  uint8_t isr_ = 0;
  uint8_t generation_ = 0;
  uint64_t driver_features_ = 0;
  bool features_written_ = false;
  bool features_ok_refused_ = false;
  bool legacy_mode_ = false;
  bool lost_state_ = false;  // the device reset itself; driver not told yet
  uint32_t hdr_size_ = 12;
  bool any_layout_ = true;
  uint32_t device_feature_select_ = 0;
  uint32_t driver_feature_select_ = 0;
  uint16_t queue_select_ = 0;
  std::array<QueueRegs, kMaxQueues> qregs_{};
  std::array<DeviceRing, kMaxQueues> queues_{};
  std::array<int32_t, kMaxQueues> max_size_override_{};  // set_queue_max_size; -1 none

  TxSink sink_ = nullptr;
  void* sink_context_ = nullptr;
  TxHandler handler_;
  std::vector<std::vector<uint8_t>> captured_;
  std::vector<uint8_t> gather_;
  Chain chain_{};

  std::vector<ArmedFault> used_faults_;
  std::vector<ArmedFault> rx_faults_;
  UsedHook used_hook_;
  bool ignore_reset_ = false;
  uint32_t device_cfg_length_ = kWindowSize;
  int32_t used_early_queue_ = -1;  // kUsedBeforeDriverOk
  uint32_t used_early_len_ = 0;
  uint64_t mac_flips_left_ = 0;  // kConfigMacUnstable
  uint32_t reset_latency_ = 0;   // kResetLatency: status reads a reset takes
  uint32_t reset_reads_left_ = 0;
  bool reset_pending_ = false;
  DmaMappings iommu_;
  DeviceQueue::Audit audit_;
  std::vector<RegisterLie> register_lies_;
  std::vector<BarLie> bar_lies_;
  struct PciPoke {
    uint32_t offset;
    uint8_t width;
    uint32_t value;
  };
  std::vector<PciPoke> pci_pokes_;
  struct HookState {
    Hook hook;
    uint32_t fired;
  };
  std::vector<HookState> hooks_;
  struct HeldEntry {
    uint16_t head;
    uint32_t len;
    uint64_t writable;
    uint64_t tick;
  };
  struct Hold {
    bool active = false;
    uint32_t left = 0;  // with count > 0: completions still to hold
    bool unlimited = false;
    uint32_t delay = 0;
    ReleaseOrder order = ReleaseOrder::kFifo;
    uint64_t seed = 1;
  };
  std::array<Hold, kMaxQueues> holds_{};
  std::array<std::vector<HeldEntry>, kMaxQueues> held_{};
  uint64_t tick_ = 0;
  uint64_t generation_flips_left_ = 0;  // kConfigGenerationUnstable
  uint32_t features_ok_refusals_ = 0;   // kFeaturesOkRefuse
  bool features_ok_refuse_all_ = false;
  uint32_t apply_register_lies(Region region, uint32_t offset, uint8_t width, uint32_t value);
  bool in_tx_ = false;

  // MSI-X and INTx.
  uint16_t msix_control_ = 0;         // enable (15) and function mask (14) as written
  std::vector<uint32_t> msix_table_;  // 4 dwords per entry
  std::vector<uint64_t> msix_pba_;    // pending bits
  uint16_t config_vector_ = 0xFFFF;
  std::array<uint16_t, kMaxQueues> queue_vector_{};
  bool config_vector_unread_ = false;  // written, not read back yet
  std::array<bool, kMaxQueues> queue_vector_unread_{};
  bool line_ = false;
  InterruptSink irq_sink_;
  std::vector<InterruptRecord> irq_log_;
  int32_t vector_lie_queue_ = -2;  // msix_vector_lie: -1 config, q, -2 none
  uint16_t vector_lie_value_ = 0;
  bool stuck_isr_ = false;
  uint32_t storm_per_tick_ = 0;
  uint32_t storm_left_ = 0;
  uint32_t spurious_left_ = 0;
  bool irq_before_driver_ok_ = false;
  bool in_storm_ = false;

  // virtio-mmio state. The identity reads and what they answered (after
  // register lies: what the driver saw) decide whether it may go on.
  uint32_t guest_page_size_ = 0;  // v1: 0 until the driver writes it (kept across resets, as QEMU)
  bool device_features_sel_written_ = false;  // since the last reset
  bool driver_features_sel_written_ = false;
  bool mmio_magic_read_ = false;
  bool mmio_version_read_ = false;
  bool mmio_device_id_read_ = false;
  // What the driver last read from the identity registers told it to
  // ignore this device (4.2.2.2, 4.2.3.1.1): any access other than to those
  // registers is then a violation.
  bool mmio_bad_magic_ = false;
  bool mmio_bad_version_ = false;
  bool mmio_placeholder_ = false;
  uint32_t last_isr_read_ = 0;  // what the driver last read from InterruptStatus

  // Multiqueue and the control plane.
  uint16_t pairs_ = 1;         // queue pairs the device has
  uint16_t active_pairs_ = 1;  // enabled by VQ_PAIRS_SET / RSS_CONFIG
  bool pairs_set_ = false;     // a VQ_PAIRS_SET / RSS_CONFIG took effect since the reset
  std::array<uint64_t, kMaxQueuePairs> rx_pair_frames_{};
  std::array<uint64_t, kMaxQueuePairs> tx_pair_frames_{};
  RxFilter filter_;
  RssState rss_;
  bool populate_hash_ = false;  // HASH_REPORT negotiated (VERSION_1): 20-byte headers
  MacAddress base_mac_{};       // the MAC a reset restores (ADDR_SET changes config_.mac)
  bool mac_set_by_ctrl_ = false;
  std::vector<ArmedFault> ctrl_faults_;
  std::vector<uint8_t> ctrl_data_;

  // Offloads.
  uint64_t guest_offloads_ = 0;      // receive offloads enabled (feature bits)
  std::vector<uint8_t> tx_segment_;  // one wire segment (kMaxFrame, on first use)
  std::vector<uint8_t> rx_stage_;    // an rx frame the device rewrites (kMaxFrame)
};

}  // namespace vnet::mock
