// The transport: how a virtio device's common machinery is reached
// (virtio 1.2, section 4). One interface, chosen once at probe:
//
//                 +-----------------------+
//                 |  Transport (this file) |  status, features, queues,
//                 +-----------------------+  notify, ISR, device config
//                    /         |         \
//          PciLegacy      PciModern      Mmio (version 1 or 2)
//         I/O BAR0 regs   capabilities -> a window of 32-bit registers
//                         memory BAR windows  (mmio.h, mmio_probe.h)
//
// The transport knows nothing of packets. It does know the rules of its
// register protocol: the legacy transport has 32 feature bits, a fixed
// queue size and a contiguous ring given as a page frame number; the modern
// one has 64 feature bits, FEATURES_OK, writable queue sizes, three ring
// addresses, queue_enable and a config generation counter. virtio-mmio
// version 1 is legacy in the same sense (32 bits, no FEATURES_OK, one
// page-frame ring) and version 2 modern; both have one interrupt line and
// no MSI-X.
//
// Every value read here comes from the untrusted device. The transport
// checks what is its to check (capability geometry, notify offsets inside
// their window, config reads inside the config window, bounded retries)
// and reports failures as return values; the layers above validate meaning.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "driver/platform/platform.h"

namespace vnet {

enum class RingLayout : uint8_t {
  kLegacyContiguous,  // desc+avail, pad to 4096, used; one PFN register
  kSeparate,          // three independent addresses
};

struct QueueAddresses {
  uint64_t desc = 0;
  uint64_t driver = 0;  // available ring
  uint64_t device = 0;  // used ring
};

// The reset handshake's wait (4.1.4.3.2): read status until it is 0 or
// timeout_ns of platform time have passed. The deadline is what bounds the
// wait -- real hardware may need milliseconds; kMaxResetPolls only guards
// against a platform clock that never advances.
inline constexpr uint32_t kMaxResetPolls = uint32_t{1} << 24;
template <typename ReadStatus>
bool wait_for_reset(Platform& platform, uint64_t timeout_ns, ReadStatus&& read_status) {
  const uint64_t start = platform.now_ns();
  for (uint32_t i = 0; i < kMaxResetPolls; ++i) {
    if (read_status() == 0) return true;
    if (platform.now_ns() - start >= timeout_ns) return false;
  }
  return false;
}

// ---- Interrupt set-up (virtio 1.2 4.1.5.1.2, 4.1.4.5) -------------------
//
// setup_interrupts() is one step of initialisation: after FEATURES_OK
// (legacy: after the features are written), before any queue is set up --
// so every queue's vector is written before its queue is enabled
// (4.1.5.1.3) and the configuration vector before DRIVER_OK. It walks down
// the ladder from the mode asked for:
//
//   kMsix   the platform's messages (Platform::msi_messages) written into
//           the device's MSI-X table, MSI-X enabled, config_msix_vector and
//           every queue_msix_vector written AND READ BACK (4.1.5.1.2.2).
//           Any refusal (NO_VECTOR), any other value, a capability or table
//           the checks below reject: every vector written goes back to
//           NO_VECTOR, MSI-X is disabled again, and the next rung is tried.
//   kIntx   when the platform has a line (Platform::line_interrupt): MSI-X
//           off, the function's INTx enabled (PCI command bit 10 clear).
//   kPolling nothing is delivered.
//
// Vectors, from the n the platform and the device's table allow:
//   n >= 1 + queues   config 0, queue q -> 1 + q        (one per source)
//   n >= 2            config 0, every queue -> 1       (queues share)
//   n == 1            everything on vector 0           (4.1.5.4.2: the
//                     driver handles config and queues on one interrupt)
//
// Nothing here waits for the device: a refusal is a read-back, never a
// retry loop. The caller arms the platform (Platform::arm_interrupts) with
// the result.
inline constexpr uint16_t kNoVector = 0xFFFF;
// Queues whose vectors a transport programs (receiveq1, transmitq1, and
// room for a control queue and more pairs later).
inline constexpr uint16_t kMaxInterruptQueues = 6;
static_assert(kMaxInterruptQueues + 1 <= kMaxMsiVectors);

struct InterruptRequest {
  InterruptMode mode = InterruptMode::kPolling;  // the highest rung to try
  uint16_t num_queues = 0;  // queues 0 .. num_queues-1 (at most kMaxInterruptQueues)
  // Bytes of device configuration the negotiated features need: the legacy
  // interface moves device configuration from 0x14 to 0x18 while MSI-X is
  // enabled (4.1.4.8), so a BAR too short for that refuses MSI-X.
  uint32_t config_bytes_needed = 0;
};

// Why MSI-X was not used (the first failing check).
enum class MsixFallback : uint8_t {
  kNone,                 // MSI-X in use, or not asked for
  kNoPlatformVectors,    // the platform delivers no MSI (msi_messages() 0)
  kNoCapability,         // no MSI-X capability on the (bounded) list
  kBadTable,             // table BIR/offset/size not inside a usable memory BAR,
                         // or overlapping the transport's own registers
  kBadPba,               // the same for the pending bit array
  kLegacyWindow,         // legacy BAR too short for the vectors + device config
  kEnableRefused,        // the MSI-X enable bit did not read back set
  kConfigVectorRefused,  // config_msix_vector read back NO_VECTOR
  kConfigVectorWrong,    // ... read back another value than written
  kQueueVectorRefused,   // a queue_msix_vector read back NO_VECTOR
  kQueueVectorWrong,     // ... read back another value than written
};
const char* msix_fallback_name(MsixFallback f);

struct InterruptSetup {
  InterruptMode mode = InterruptMode::kPolling;
  uint16_t vectors = 0;  // kMsix: vectors in use (table entries 0 .. vectors-1)
  uint16_t config_vector = kNoVector;
  uint16_t queue_vector[kMaxInterruptQueues] = {kNoVector, kNoVector, kNoVector,
                                                kNoVector, kNoVector, kNoVector};
  uint16_t table_size = 0;  // the device's MSI-X table size (0: none found or unusable)
  MsixFallback msix_fallback = MsixFallback::kNone;
  uint16_t failed_queue = 0;  // k*Queue*: which queue's vector failed
  uint16_t read_back = 0;     // k*Vector*: what the device answered
};

class Transport {
 public:
  virtual const char* name() const = 0;
  virtual bool is_legacy() const = 0;
  virtual RingLayout ring_layout() const = 0;
  // True when the driver may pick a smaller queue size than the maximum.
  virtual bool queue_size_writable() const = 0;

  // Writes 0 to device status and waits until it reads back 0 (4.1.4.3.2,
  // 4.2.3.1) or timeout_ns of now_ns() have passed. Returns false when the
  // device never acknowledged the reset.
  virtual bool reset(uint64_t timeout_ns) = 0;
  virtual uint8_t status() = 0;
  virtual void set_status(uint8_t status) = 0;

  virtual uint64_t device_features() = 0;
  virtual void set_driver_features(uint64_t features) = 0;

  // Maximum size of queue q as the device reports it (0: no such queue).
  // Unvalidated: the virtqueue layer decides what is acceptable.
  virtual uint32_t queue_max_size(uint16_t q) = 0;
  // Configures and enables queue q. For a legacy transport size must equal
  // queue_max_size(q). Returns false when the device refused.
  virtual bool setup_queue(uint16_t q, uint16_t size, const QueueAddresses& addrs) = 0;
  virtual void notify(uint16_t q) = 0;
  // Reads (and thereby clears) the ISR status byte (spec::interrupt bits).
  virtual uint8_t read_isr() = 0;

  // Device-specific configuration. A read outside the window, misaligned,
  // or of a width other than 1, 2 or 4 returns false. Fields are read with
  // their natural width (4.1.3.1).
  virtual bool config_read(uint32_t offset, uint8_t width, uint32_t* value) = 0;
  virtual uint32_t config_generation() = 0;
  virtual uint32_t config_window_size() const = 0;

  // Interrupt set-up (see the block at the top of this file). The default
  // is a transport without interrupts: polling, no register touched.
  virtual InterruptSetup setup_interrupts(const InterruptRequest& request) {
    (void)request;
    return InterruptSetup{};
  }
  // Undoes setup_interrupts (MSI-X disabled when it was enabled); the device
  // must be reset (its vectors unmapped) or about to be. Called at stop().
  virtual void teardown_interrupts() {}

  // True when the transport has a configuration generation counter
  // (modern PCI, MMIO v2); legacy devices have none.
  virtual bool has_config_generation() const = 0;

  // Reads a consistent snapshot of device-specific configuration into *out
  // (S: plain data, compared bytewise). read_fields(S&) reads the fields and
  // returns false when a read is impossible (outside the window).
  //  * With a generation counter: read until the generation is the same
  //    before and after (2.4.1, 4.1.4.3.1).
  //  * Without one (legacy): read until two consecutive reads agree (the
  //    legacy interface note of 2.4: the driver cannot tell a torn read
  //    otherwise).
  // At most kConfigRetries rounds either way.
  enum class ConfigRead : uint8_t { kOk, kUnreadable, kUnstable };
  static constexpr int kConfigRetries = 8;
  template <typename S, typename F>
  ConfigRead read_config_snapshot(S* out, F&& read_fields) {
    S a, b;
    for (int attempt = 0; attempt < kConfigRetries; ++attempt) {
      __builtin_memset(&a, 0, sizeof(S));
      if (has_config_generation()) {
        const uint32_t before = config_generation();
        if (!read_fields(a)) return ConfigRead::kUnreadable;
        if (config_generation() != before) continue;
      } else {
        __builtin_memset(&b, 0, sizeof(S));
        if (!read_fields(a) || !read_fields(b)) return ConfigRead::kUnreadable;
        if (__builtin_memcmp(&a, &b, sizeof(S)) != 0) continue;
      }
      __builtin_memcpy(out, &a, sizeof(S));
      return ConfigRead::kOk;
    }
    return ConfigRead::kUnstable;
  }

 protected:
  Transport() = default;
  ~Transport() = default;
  Transport(const Transport&) = default;
  Transport& operator=(const Transport&) = default;
};

}  // namespace vnet
