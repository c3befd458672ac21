#include "vhost/vhost_user_port.h"

namespace vnet::vhost {

bool VhostUserPort::open(const PortOptions& options) {
  options_ = options;
  if (!memory_.create(options.memory_bytes)) {
    error_ = "shared memory: " + memory_.error();
    return false;
  }
  front_.channel().set_timeout_ms(options.reply_timeout_ms);
  if (!front_.connect(options.socket, options.connect_timeout_ms)) {
    error_ = front_.error();
    return false;
  }
  device_ = std::make_unique<VhostUserDevice>(front_, memory_, options.device);
  platform_ = std::make_unique<VhostUserPlatform>(*device_, memory_);
  if (!pool_.init(memory_, options.pool_buffers, options.buffer_size)) {
    error_ = "shared memory too small for " + std::to_string(options.pool_buffers) +
             " buffers of " + std::to_string(options.buffer_size) + " bytes";
    return false;
  }
  return true;
}

AttachError VhostUserPort::attach(const NetOptions& options) {
  const MmioProbeResult probe = transports_.probe(*platform_, vhost_mmio_window());
  if (probe.error != MmioProbeError::kOk) {
    error_ = std::string("probe: ") + mmio_probe_error_name(probe.error);
    return AttachError::kBadOptions;
  }
  const AttachError e = net_.attach(*platform_, *probe.transport, pool_, options);
  if (e != AttachError::kOk) {
    error_ = std::string("attach: ") + attach_error_name(e);
    if (!device_->error().empty()) error_ += " (" + device_->error() + ")";
    return e;
  }
  attached_ = true;
  return e;
}

void VhostUserPort::stop() {
  if (attached_) net_.stop();
  attached_ = false;
}

}  // namespace vnet::vhost
