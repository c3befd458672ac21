// The transport: how a virtio device's common machinery is reached
// (virtio 1.2, section 4). One interface, chosen once at probe:
//
//                 +-----------------------+
//                 |  Transport (this file) |  status, features, queues,
//                 +-----------------------+  notify, ISR, device config
//                    /         |         \
//          PciLegacy      PciModern      (virtio-mmio: later)
//         I/O BAR0 regs   capabilities -> memory BAR windows
//
// The transport knows nothing of packets. It does know the rules of its
// register protocol: the legacy transport has 32 feature bits, a fixed
// queue size and a contiguous ring given as a page frame number; the modern
// one has 64 feature bits, FEATURES_OK, writable queue sizes, three ring
// addresses, queue_enable and a config generation counter.
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

// Bits of the interrupt status (PCI ISR, 4.1.4.5; MMIO InterruptStatus, 4.2.2).
inline constexpr uint8_t kInterruptQueue = 1;
inline constexpr uint8_t kInterruptConfig = 2;

struct QueueAddresses {
  uint64_t desc = 0;
  uint64_t driver = 0;  // available ring
  uint64_t device = 0;  // used ring
};

class Transport {
 public:
  virtual const char* name() const = 0;
  virtual bool is_legacy() const = 0;
  virtual RingLayout ring_layout() const = 0;
  // True when the driver may pick a smaller queue size than the maximum.
  virtual bool queue_size_writable() const = 0;

  // Writes 0 to device status and waits (bounded) for it to read back 0.
  // Returns false when the device never acknowledged the reset.
  virtual bool reset() = 0;
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
  // Reads (and thereby clears) the ISR status byte.
  virtual uint8_t read_isr() = 0;

  // Device-specific configuration. A read outside the window, misaligned,
  // or of a width other than 1, 2 or 4 returns false. Fields are read with
  // their natural width (4.1.3.1).
  virtual bool config_read(uint32_t offset, uint8_t width, uint32_t* value) = 0;
  virtual uint32_t config_generation() = 0;
  virtual uint32_t config_window_size() const = 0;

  // Runs read_fields() until config_generation reads the same before and
  // after it (2.4.1, 4.1.4.3.1), at most kConfigRetries times. Returns false
  // when read_fields() failed or the generation never settled.
  static constexpr int kConfigRetries = 8;
  template <typename F>
  bool read_config_consistently(F&& read_fields) {
    for (int attempt = 0; attempt < kConfigRetries; ++attempt) {
      uint32_t before = config_generation();
      if (!read_fields()) return false;
      if (config_generation() == before) return true;
    }
    return false;
  }

 protected:
  Transport() = default;
  ~Transport() = default;
  Transport(const Transport&) = default;
  Transport& operator=(const Transport&) = default;
};

}  // namespace vnet
