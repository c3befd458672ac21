// VhostUserPort: one driver instance attached to one vhost-user socket --
// everything the fifth world needs, in the order it is built:
//
//   SharedMemory (memfd) -> FrontEnd (connect, handshake) -> VhostUserDevice
//   (the register window) -> VhostUserPlatform -> SharedBufferPool ->
//   MmioTransports::probe -> VirtioNet::attach
//
// open() connects and builds the device side; attach() probes the window
// and attaches the driver. A caller that records (tools/vnet-vhost,
// --record) stops after open() and drives its own trace::Session over
// platform() and pool() instead.
//
// Threading: the driver's rules (virtio_net.h); the port adds none.
#pragma once

#include <stdint.h>

#include <memory>
#include <string>

#include "driver/net/virtio_net.h"
#include "driver/transport/mmio_probe.h"
#include "vhost/front_end.h"
#include "vhost/shared_buffer_pool.h"
#include "vhost/shared_memory.h"
#include "vhost/vhost_user_device.h"
#include "vhost/vhost_user_platform.h"

namespace vnet::vhost {

struct PortOptions {
  std::string socket;
  int connect_timeout_ms = 5000;
  int reply_timeout_ms = 2000;
  DeviceOptions device;
  size_t memory_bytes = size_t{64} << 20;
  size_t pool_buffers = 8192;
  uint32_t buffer_size = 2048;
};

// The window as the mmio probe sees it (base is only reported).
inline MmioWindow vhost_mmio_window() {
  return MmioWindow{0, VhostUserDevice::kWindowSize, -1};
}

class VhostUserPort {
 public:
  // Connects and builds the device side. False, with error(), on failure.
  bool open(const PortOptions& options);
  // Probes the window and attaches the driver.
  AttachError attach(const NetOptions& options);
  void stop();

  VirtioNet& net() { return net_; }
  VhostUserPlatform& platform() { return *platform_; }
  SharedBufferPool& pool() { return pool_; }
  VhostUserDevice& device() { return *device_; }
  FrontEnd& front_end() { return front_; }
  SharedMemory& memory() { return memory_; }
  const std::string& error() const { return error_; }

 private:
  PortOptions options_;
  SharedMemory memory_;
  FrontEnd front_;
  std::unique_ptr<VhostUserDevice> device_;
  std::unique_ptr<VhostUserPlatform> platform_;
  SharedBufferPool pool_;
  MmioTransports transports_;
  VirtioNet net_;
  bool attached_ = false;
  std::string error_;
};

}  // namespace vnet::vhost
