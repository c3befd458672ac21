// MockDeviceBackend: vnetkit's mock device (mock_device/mock_device.h) as
// the BackendDevice of a vhost-user back end, so a real guest's driver --
// behind QEMU's virtio-net -- meets the mock's conformance checker and its
// lies.
//
// Over vhost-user QEMU is the guest's transport: it owns the PCI (or MMIO)
// registers, the status byte and the control queue, and hands the back end
// only the features, the memory and the data rings. This class plays the
// transport's part towards the mock, through the mock's own modern PCI
// register interface, in the order a conforming driver would:
//
//   set_features(f)      status 0 (reset), ACKNOWLEDGE, DRIVER, driver
//                        features f, FEATURES_OK (read back: refused?)
//   start_ring(q)        queue_select q, queue_size, queue_msix_vector q,
//                        the three addresses, queue_enable 1; DRIVER_OK once
//                        receiveq1 and transmitq1 both run
//   kick(q)              a notification of queue q (transmit: the mock
//                        consumes the chains at once)
//   interrupts           MSI-X is on with vector q for queue q: the mock's
//                        message for vector q is a call of ring q; the
//                        configuration vector has nowhere to go (counted:
//                        QEMU's virtio-net takes no configuration change
//                        from a vhost-user back end)
//
// So the checks of the mock that watch the transport (status order,
// register widths, feature selection) see only this class and never fire;
// the checks that watch the rings and the frames -- 2.7.x / 2.8.x
// descriptor and index rules, 5.1.6.x headers, frame sizes -- watch the
// guest's driver itself, and its violations are the guest's.
//
// Everything the guest shares is reached through GuestMemory in adopted
// mode: the regions of the memory table, bounds-checked per access.
//
// Threading: one thread (the session's event loop).
#pragma once

#include <stdint.h>

#include <array>
#include <memory>
#include <string>

#include "mock_device/guest_memory.h"
#include "mock_device/mock_device.h"
#include "vhost/backend/backend_device.h"

namespace vnet::vhost {

// Feature bits a vhost-user net back end can carry: the ring and header
// features. Not: the control plane (QEMU runs the control queue), STATUS
// and MAC (QEMU's configuration), MQ (one pair here), ACCESS_PLATFORM
// (no IOTLB), the legacy-only bits.
uint64_t vhost_carriable_features();

class MockDeviceBackend final : public BackendDevice {
 public:
  // config.transport is replaced (modern PCI with MSI-X); the feature offer
  // is the mock's modern offer masked to vhost_carriable_features().
  explicit MockDeviceBackend(const mock::DeviceConfig& config);
  ~MockDeviceBackend() override;

  uint64_t offered_features() const override { return offered_; }
  bool set_features(uint64_t features, std::string* why) override;
  bool set_memory(const mock::GuestMemory::Region* regions, size_t count,
                  std::string* why) override;
  bool start_ring(const RingSetup& ring, std::string* why) override;
  bool stop_ring(uint16_t index, uint32_t* base) override;
  void set_ring_enabled(uint16_t index, bool enabled) override;
  void kick(uint16_t index) override;
  void set_call_sink(CallSink sink) override { call_sink_ = std::move(sink); }
  bool read_config(uint32_t offset, uint8_t* out, uint32_t size) override;
  bool write_config(uint32_t offset, const uint8_t* in, uint32_t size) override;

  mock::MockDevice& device() { return *device_; }
  const mock::MockDevice& device() const { return *device_; }
  // receiveq1 and transmitq1 run (DRIVER_OK given) and are enabled.
  bool running() const { return driver_ok_ && enabled_[0] && enabled_[1]; }
  uint64_t negotiated() const { return negotiated_; }
  // Configuration-change interrupts the mock raised that could not reach
  // the guest.
  uint64_t config_changes_undelivered() const { return config_undelivered_; }
  uint64_t starts() const { return starts_; }

 private:
  void common_write(uint32_t field, uint8_t width, uint32_t value);
  uint32_t common_read(uint32_t field, uint8_t width);
  void enable_msix();

  mock::GuestMemory memory_{mock::GuestMemory::Adopted{}};
  std::unique_ptr<mock::MockDevice> device_;
  uint64_t offered_ = 0;
  uint64_t negotiated_ = 0;
  uint16_t config_vector_ = 0;
  bool driver_ok_ = false;
  std::array<bool, mock::MockDevice::kMaxQueues> started_{};
  std::array<bool, mock::MockDevice::kMaxQueues> enabled_{};
  CallSink call_sink_;
  uint64_t config_undelivered_ = 0;
  uint64_t starts_ = 0;
};

}  // namespace vnet::vhost
