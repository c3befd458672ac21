#include "vhost/backend/mock_device_backend.h"

#include "driver/spec/pci_layout.h"
#include "driver/spec/virtio_constants.h"
#include "vhost/protocol.h"

namespace vnet::vhost {
namespace {

namespace pci = spec::pci;
namespace common = spec::pci::common;
namespace status = spec::status;
using spec::Feature;
using spec::feature_mask;

}  // namespace

uint64_t vhost_carriable_features() {
  const Feature bits[] = {
      Feature::kNetCsum,      Feature::kNetGuestCsum, Feature::kNetMtu,
      Feature::kNetGuestTso4, Feature::kNetGuestTso6, Feature::kNetGuestEcn,
      Feature::kNetGuestUfo,  Feature::kNetHostTso4,  Feature::kNetHostTso6,
      Feature::kNetHostEcn,   Feature::kNetHostUfo,   Feature::kNetMrgRxbuf,
      Feature::kIndirectDesc, Feature::kEventIdx,     Feature::kVersion1,
      Feature::kRingPacked,   Feature::kInOrder,      Feature::kNetGuestUso4,
      Feature::kNetGuestUso6, Feature::kNetHostUso,
  };
  uint64_t m = 0;
  for (Feature f : bits) m |= feature_mask(f);
  return m;
}

MockDeviceBackend::MockDeviceBackend(const mock::DeviceConfig& config) {
  mock::DeviceConfig c = config;
  c.transport = mock::TransportKind::kModern;
  c.concurrent_driver = true;  // a real guest's driver runs beside the device
  // One vector per queue and one for configuration changes.
  c.msix_vectors = uint16_t(mock::MockDevice::kMaxQueues + 1);
  // QEMU's virtio-net-pci rings go up to 1024 entries.
  for (auto& s : c.queue_sizes) s = s < 1024 ? 1024 : s;
  device_ = std::make_unique<mock::MockDevice>(memory_, c);
  config_vector_ = uint16_t(mock::MockDevice::kMaxQueues);
  device_->pci_config_write(
      pci::kCommand, 2, pci::kCommandMemory | pci::kCommandBusMaster | pci::kCommandIntxDisable);
  common_write(common::kDeviceFeatureSelect, 4, 0);
  uint64_t offer = common_read(common::kDeviceFeature, 4);
  common_write(common::kDeviceFeatureSelect, 4, 1);
  offer |= uint64_t(common_read(common::kDeviceFeature, 4)) << 32;
  offered_ = offer & vhost_carriable_features();
  device_->set_interrupt_sink([this](const mock::InterruptRecord& r) {
    if (r.kind != mock::InterruptRecord::Kind::kMsi) return;
    if (r.vector == config_vector_) {
      ++config_undelivered_;
      return;
    }
    if (call_sink_) call_sink_(r.vector);
  });
}

MockDeviceBackend::~MockDeviceBackend() = default;

void MockDeviceBackend::common_write(uint32_t field, uint8_t width, uint32_t value) {
  device_->bar_write(device_->config().modern_bar, mock::MockDevice::kCommonOffset + field, width,
                     value);
}

uint32_t MockDeviceBackend::common_read(uint32_t field, uint8_t width) {
  return device_->bar_read(device_->config().modern_bar, mock::MockDevice::kCommonOffset + field,
                           width);
}

void MockDeviceBackend::enable_msix() {
  const uint8_t bar = device_->config().msix_bar;
  for (uint32_t v = 0; v < device_->config().msix_vectors; ++v) {
    const uint32_t e = v * pci::msix::kEntrySize;
    device_->bar_write(bar, e + pci::msix::kEntryAddrLo, 4, 0xFEE00000u);
    device_->bar_write(bar, e + pci::msix::kEntryAddrHi, 4, 0);
    device_->bar_write(bar, e + pci::msix::kEntryData, 4, v);
    device_->bar_write(bar, e + pci::msix::kEntryControl, 4, 0);
  }
  device_->pci_config_write(mock::MockDevice::kMsixCap + pci::msix::kControl, 2,
                            pci::msix::kEnable);
}

bool MockDeviceBackend::set_features(uint64_t features, std::string* why) {
  if ((features & ~offered_) != 0) {
    *why = "features " + mock::hex(features & ~offered_) + " were not offered";
    return false;
  }
  // A new negotiation: the device starts over, as after a reset.
  common_write(common::kDeviceStatus, 1, 0);
  driver_ok_ = false;
  started_.fill(false);
  enabled_.fill(false);
  enable_msix();
  common_write(common::kConfigMsixVector, 2, config_vector_);
  common_read(common::kConfigMsixVector, 2);  // read back, as 4.1.5.1.2.2 asks
  common_write(common::kDeviceStatus, 1, status::kAcknowledge);
  common_write(common::kDeviceStatus, 1, status::kAcknowledge | status::kDriver);
  common_write(common::kDriverFeatureSelect, 4, 0);
  common_write(common::kDriverFeature, 4, uint32_t(features));
  common_write(common::kDriverFeatureSelect, 4, 1);
  common_write(common::kDriverFeature, 4, uint32_t(features >> 32));
  common_write(common::kDeviceStatus, 1,
               status::kAcknowledge | status::kDriver | status::kFeaturesOk);
  if ((common_read(common::kDeviceStatus, 1) & status::kFeaturesOk) == 0) {
    *why = "the device refused features " + mock::hex(features) + " (FEATURES_OK)";
    return false;
  }
  negotiated_ = features;
  return true;
}

bool MockDeviceBackend::set_memory(const mock::GuestMemory::Region* regions, size_t count,
                                   std::string* why) {
  if (!memory_.set_regions(regions, count)) {
    *why = "memory regions overlap or are too many";
    return false;
  }
  return true;
}

bool MockDeviceBackend::start_ring(const RingSetup& ring, std::string* why) {
  if (ring.index >= device_->num_queues() || ring.index >= started_.size()) {
    *why = "ring " + std::to_string(ring.index) + " beyond the device's " +
           std::to_string(device_->num_queues()) + " queues";
    return false;
  }
  if (negotiated_ == 0) {
    *why = "ring " + std::to_string(ring.index) + " started before SET_FEATURES";
    return false;
  }
  const bool packed = spec::has_feature(negotiated_, Feature::kRingPacked);
  // Where a fresh ring starts: split 0; packed both positions 0 with both
  // wrap counters 1. A ring resumed elsewhere cannot be given to the mock.
  const uint32_t fresh = packed ? kPackedFreshBase : 0;
  if (ring.base != fresh) {
    *why = "ring " + std::to_string(ring.index) + " resumed at base " + mock::hex(ring.base) +
           " (only fresh rings are supported)";
    return false;
  }
  if (driver_ok_) {
    // A ring starts again after DRIVER_OK only once every ring stopped
    // (QEMU stops and starts them together): then the device starts over
    // from a reset. A ring restarted alone under running ones is refused --
    // the mock cannot reconfigure one queue of a running device.
    for (size_t q = 0; q < started_.size(); ++q) {
      if (started_[q] && q != ring.index) {
        *why = "ring " + std::to_string(ring.index) + " restarted while ring " + std::to_string(q) +
               " still runs (stop every ring first)";
        return false;
      }
    }
    std::string w;
    if (!set_features(negotiated_, &w)) {
      *why = w;
      return false;
    }
  }
  common_write(common::kQueueSelect, 2, ring.index);
  common_write(common::kQueueSize, 2, ring.num);
  common_write(common::kQueueMsixVector, 2, ring.index);
  common_read(common::kQueueMsixVector, 2);  // read back, as 4.1.5.1.2.2 asks
  common_write(common::kQueueDescLo, 4, uint32_t(ring.desc));
  common_write(common::kQueueDescHi, 4, uint32_t(ring.desc >> 32));
  common_write(common::kQueueDriverLo, 4, uint32_t(ring.driver));
  common_write(common::kQueueDriverHi, 4, uint32_t(ring.driver >> 32));
  common_write(common::kQueueDeviceLo, 4, uint32_t(ring.device));
  common_write(common::kQueueDeviceHi, 4, uint32_t(ring.device >> 32));
  common_write(common::kQueueEnable, 2, 1);
  if (!device_->queue_ready(ring.index)) {
    *why = "ring " + std::to_string(ring.index) + " (size " + std::to_string(ring.num) +
           ") could not be set up: " +
           (device_->conformance().violations().empty()
                ? std::string("the device refused it")
                : device_->conformance().violations().back().message);
    return false;
  }
  started_[ring.index] = true;
  ++starts_;
  if (!driver_ok_ && started_[0] && started_[1]) {
    common_write(common::kDeviceStatus, 1,
                 status::kAcknowledge | status::kDriver | status::kFeaturesOk | status::kDriverOk);
    driver_ok_ = true;
  }
  return true;
}

bool MockDeviceBackend::stop_ring(uint16_t index, uint32_t* base) {
  if (index >= started_.size() || !started_[index]) return false;
  started_[index] = false;
  enabled_[index] = false;
  const mock::DeviceRing& r = device_->ring(index);
  if (r.packed()) {
    const auto& p = r.packed_ring();
    *base = uint32_t(p.avail_pos()) | uint32_t(p.avail_wrap()) << 15 |
            uint32_t(p.used_pos()) << 16 | uint32_t(p.used_wrap()) << 31;
  } else {
    *base = r.split().last_avail();
  }
  return true;
}

void MockDeviceBackend::set_ring_enabled(uint16_t index, bool enabled) {
  if (index < enabled_.size()) enabled_[index] = enabled && started_[index];
}

void MockDeviceBackend::kick(uint16_t index) {
  if (!driver_ok_ || index >= enabled_.size() || !enabled_[index]) return;
  const uint32_t mult = device_->config().notify_off_multiplier;
  common_write(common::kQueueSelect, 2, index);
  const uint32_t off = common_read(common::kQueueNotifyOff, 2);
  device_->bar_write(device_->config().modern_bar, mock::MockDevice::kNotifyOffset + off * mult, 2,
                     index);
}

bool MockDeviceBackend::read_config(uint32_t offset, uint8_t* out, uint32_t size) {
  if (offset > mock::MockDevice::kWindowSize || size > mock::MockDevice::kWindowSize - offset)
    return false;
  for (uint32_t i = 0; i < size; ++i)
    out[i] = uint8_t(device_->bar_read(device_->config().modern_bar,
                                       mock::MockDevice::kDeviceCfgOffset + offset + i, 1));
  return true;
}

bool MockDeviceBackend::write_config(uint32_t, const uint8_t*, uint32_t) {
  // virtio-net's configuration is read-only to the driver (5.1.4).
  return false;
}

}  // namespace vnet::vhost
