// The mock world in one object: guest memory, the device model, the mock
// shim, a buffer pool, and the driver probed and attached through them.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "driver/net/virtio_net.h"
#include "driver/transport/mmio_probe.h"
#include "driver/transport/pci_probe.h"
#include "mock_device/guest_memory.h"
#include "mock_device/mock_buffer_pool.h"
#include "mock_device/mock_device.h"
#include "mock_device/mock_platform.h"

namespace vnet::testing {

// Which device, and which transport the driver is asked to use.
struct WorldKind {
  mock::TransportKind device;
  PciMode mode;
  const char* name;
};

inline constexpr WorldKind kAllKinds[] = {
    {mock::TransportKind::kLegacy, PciMode::kAuto, "legacy"},
    {mock::TransportKind::kModern, PciMode::kAuto, "modern"},
    {mock::TransportKind::kTransitional, PciMode::kAuto, "transitional"},
    {mock::TransportKind::kTransitional, PciMode::kLegacy, "transitional_as_legacy"},
    {mock::TransportKind::kMmioV1, PciMode::kAuto, "mmio_v1"},
    {mock::TransportKind::kMmioV2, PciMode::kAuto, "mmio_v2"},
};

// The PCI flavours only (MSI-X, PCI configuration space).
inline constexpr const WorldKind* kPciKinds = kAllKinds;
inline constexpr size_t kNumPciKinds = 4;

// Where the MMIO flavours sit, as on QEMU's microvm (the platform maps it;
// the mock answers Region::kMmio at offset 0).
inline MmioWindow mock_mmio_window(const mock::DeviceConfig& c) {
  return MmioWindow{0xFEB02E00, c.mmio_window_size, c.interrupt_pin != 0 ? 12 : -1};
}

class MockWorld {
 public:
  explicit MockWorld(mock::DeviceConfig config, PciMode mode = PciMode::kAuto,
                     size_t pool_buffers = 1024)
      : device_(memory_, config),
        platform_(device_, memory_),
        pool_(memory_, pool_buffers),
        mode_(mode) {}

  // Probes and attaches; returns the attach result (probe failure: kOk is
  // never returned and probe_error() says why).
  AttachError attach(const NetOptions& options = {}) { return attach_via(platform_, options); }
  // The same through a platform that wraps the mock shim (a bounce
  // platform, a recorder, ...).
  AttachError attach_via(Platform& platform, const NetOptions& options = {}) {
    if (mock::is_mmio(device_.config().transport)) {
      // virtio-mmio: the window's probe; probe() reports it as a PCI-shaped
      // result (kOk and the transport, or kNotVirtio), mmio_probe() in full.
      mmio_probe_ = mmio_.probe(platform, mock_mmio_window(device_.config()));
      probe_ = ProbeResult{};
      probe_.error =
          mmio_probe_.error == MmioProbeError::kOk ? ProbeError::kOk : ProbeError::kNotVirtio;
      probe_.transport = mmio_probe_.transport;
    } else {
      probe_ = transports_.probe(platform, mode_);
    }
    if (probe_.error != ProbeError::kOk) return AttachError::kBadOptions;
    return net_.attach(platform, *probe_.transport, pool_, options);
  }

  // Sends frames (copies into pool buffers); returns how many the driver took.
  size_t send(const std::vector<std::vector<uint8_t>>& frames) {
    std::vector<PacketBuffer*> bufs;
    for (const auto& f : frames) bufs.push_back(pool_.alloc_tx(f));
    size_t taken = net_.tx_burst(bufs.data(), static_cast<uint16_t>(bufs.size()));
    for (size_t i = taken; i < bufs.size(); ++i) pool_.free(bufs[i]);
    return taken;
  }

  // Receives everything pending; copies the frames out and frees buffers.
  std::vector<std::vector<uint8_t>> receive(uint16_t max = 256) {
    std::vector<std::vector<uint8_t>> out;
    std::vector<PacketBuffer*> bufs(max);
    uint16_t n = net_.rx_burst(bufs.data(), max);
    for (uint16_t i = 0; i < n; ++i) {
      out.emplace_back(bufs[i]->data(), bufs[i]->data() + bufs[i]->len);
      pool_.free(bufs[i]);
    }
    return out;
  }

  mock::GuestMemory& memory() { return memory_; }
  mock::MockDevice& device() { return device_; }
  mock::MockPlatform& platform() { return platform_; }
  mock::MockBufferPool& pool() { return pool_; }
  VirtioNet& net() { return net_; }
  const ProbeResult& probe() const { return probe_; }
  const MmioProbeResult& mmio_probe() const { return mmio_probe_; }

 private:
  mock::GuestMemory memory_;
  mock::MockDevice device_;
  mock::MockPlatform platform_;
  mock::MockBufferPool pool_;
  PciMode mode_;
  PciTransports transports_;
  ProbeResult probe_{};
  MmioTransports mmio_;
  MmioProbeResult mmio_probe_{};
  VirtioNet net_;
};

// Every conformance violation the device recorded, one per line.
inline std::string violations(const mock::MockDevice& d) {
  std::string s;
  for (const auto& v : d.conformance().violations()) s += v.section + ": " + v.message + "\n";
  return s;
}

// A frame of the given size whose bytes depend on seq, with a valid-looking
// Ethernet header (unicast destination, locally administered source).
inline std::vector<uint8_t> make_frame(size_t size, uint32_t seq) {
  std::vector<uint8_t> f(size);
  for (size_t i = 0; i < size; ++i) f[i] = static_cast<uint8_t>(seq * 131 + i * 7 + (i >> 8));
  const uint8_t hdr[14] = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x88, 0xB5};
  for (size_t i = 0; i < 14 && i < size; ++i) f[i] = hdr[i];
  return f;
}

}  // namespace vnet::testing
