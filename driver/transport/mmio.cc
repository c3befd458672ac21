#include "driver/transport/mmio.h"

#include "driver/spec/mmio_layout.h"
#include "driver/spec/split_ring_layout.h"

namespace vnet {

namespace reg = spec::mmio;

namespace {

// The window's registers and configuration are reached with 32-bit
// offsets; a window is capped so that no offset can wrap (and device
// configuration beyond 64 KiB is nothing a network device has).
constexpr uint64_t kMaxWindow = uint64_t{reg::kConfig} + 0x10000;

}  // namespace

void MmioTransport::init(Platform& platform, uint32_t version, uint64_t window_size,
                         bool has_line) {
  platform_ = &platform;
  version_ = version;
  const uint64_t window = window_size > kMaxWindow ? kMaxWindow : window_size;
  config_size_ = window > reg::kConfig ? static_cast<uint32_t>(window - reg::kConfig) : 0;
  has_line_ = has_line;
  counters_ = MmioCounters{};
}

// 4.2.2.2: "The driver MUST only use 32 bit wide and aligned reads and
// writes to access the control registers."
uint32_t MmioTransport::mmio_read(uint32_t offset) {
  return platform_->reg_read(Region::kMmio, offset, 4);
}

void MmioTransport::wr(uint32_t offset, uint32_t value) {
  platform_->reg_write(Region::kMmio, offset, 4, value);
}

bool MmioTransport::reset(uint64_t timeout_ns) {
  // 4.2.3.1 / 2.4.2: write 0 to Status, then wait until it reads back 0.
  wr(reg::kStatus, 0);
  return wait_for_reset(*platform_, timeout_ns, [this] { return status(); });
}

uint8_t MmioTransport::status() {
  const uint32_t v = mmio_read(reg::kStatus);
  // Status is a 32-bit register holding the 8-bit device status (2.1).
  if ((v & ~uint32_t{0xFF}) != 0) ++counters_.status_undefined;
  return static_cast<uint8_t>(v);
}

void MmioTransport::set_status(uint8_t value) {
  wr(reg::kStatus, value);
}

uint64_t MmioTransport::device_features() {
  // 4.2.2.2: DeviceFeaturesSel is written before every DeviceFeatures read.
  wr(reg::kDeviceFeaturesSel, 0);
  const uint64_t lo = mmio_read(reg::kDeviceFeatures);
  // A legacy device has 32 feature bits (4.2.4); whatever its word 1 says
  // was never offered.
  if (version_ == 1) return lo;
  wr(reg::kDeviceFeaturesSel, 1);
  const uint64_t hi = mmio_read(reg::kDeviceFeatures);
  return lo | (hi << 32);
}

void MmioTransport::set_driver_features(uint64_t features) {
  wr(reg::kDriverFeaturesSel, 0);
  wr(reg::kDriverFeatures, static_cast<uint32_t>(features));
  if (version_ == 1) return;
  wr(reg::kDriverFeaturesSel, 1);
  wr(reg::kDriverFeatures, static_cast<uint32_t>(features >> 32));
}

uint32_t MmioTransport::queue_max_size(uint16_t q) {
  if (q >= kMaxQueues) return 0;
  wr(reg::kQueueSel, q);
  // Unvalidated here (transport.h): 0 is "no such queue", and the net layer
  // refuses what is not a power of two or above 32768.
  return mmio_read(reg::kQueueNumMax);
}

bool MmioTransport::setup_queue(uint16_t q, uint16_t size, const QueueAddresses& addrs) {
  if (q >= kMaxQueues || size == 0) return false;
  wr(reg::kQueueSel, q);
  // 4.2.3.2 step 2 / 4.2.4: a queue already in use is not set up again.
  const uint32_t in_use = mmio_read(version_ == 1 ? reg::kQueuePfn : reg::kQueueReady);
  if (in_use != 0) return false;
  // The maximum again: a device that changed its mind since queue_max_size
  // is refused rather than given a ring larger than it takes (4.2.2.2:
  // QueueNum MUST NOT exceed QueueNumMax).
  const uint32_t max = mmio_read(reg::kQueueNumMax);
  if (size > max) return false;
  wr(reg::kQueueNum, size);
  return version_ == 1 ? setup_queue_v1(size, addrs) : setup_queue_v2(size, addrs);
}

bool MmioTransport::setup_queue_v1(uint16_t size, const QueueAddresses& addrs) {
  (void)size;
  // One contiguous, page-aligned area addressed by a 32-bit page frame
  // number (4.2.4); the used ring follows at the next 4096-byte boundary,
  // which QueueAlign tells the device.
  if ((addrs.desc & (spec::kLegacyQueueAlign - 1)) != 0) return false;
  const uint64_t pfn = addrs.desc >> reg::kLegacyPfnShift;
  if (pfn == 0 || pfn > 0xFFFFFFFFull) return false;
  // GuestPageSize before the first QueuePFN (4.2.4: "before any queues are
  // used"); written with every queue, so no reset path can skip it.
  wr(reg::kGuestPageSize, reg::kLegacyPageSize);
  wr(reg::kQueueAlign, static_cast<uint32_t>(spec::kLegacyQueueAlign));
  // Not read back: a legacy device has no "ready" bit to confirm, and the
  // frame it would echo is an address (a trace cannot replay an echoed
  // address as a plain value). The in-use check above is the read.
  wr(reg::kQueuePfn, static_cast<uint32_t>(pfn));
  return true;
}

bool MmioTransport::setup_queue_v2(uint16_t size, const QueueAddresses& addrs) {
  (void)size;
  wr(reg::kQueueDescLow, static_cast<uint32_t>(addrs.desc));
  wr(reg::kQueueDescHigh, static_cast<uint32_t>(addrs.desc >> 32));
  wr(reg::kQueueDriverLow, static_cast<uint32_t>(addrs.driver));
  wr(reg::kQueueDriverHigh, static_cast<uint32_t>(addrs.driver >> 32));
  wr(reg::kQueueDeviceLow, static_cast<uint32_t>(addrs.device));
  wr(reg::kQueueDeviceHigh, static_cast<uint32_t>(addrs.device >> 32));
  wr(reg::kQueueReady, 1);
  // A QueueReady that does not stick: the device did not take the queue.
  return mmio_read(reg::kQueueReady) == 1;
}

void MmioTransport::notify(uint16_t q) {
  if (q >= kMaxQueues) return;
  wr(reg::kQueueNotify, q);
}

uint8_t MmioTransport::read_isr() {
  const uint32_t raw = mmio_read(reg::kInterruptStatus);
  // 4.2.2.2: the driver MUST ignore undefined bits in InterruptStatus and
  // MUST NOT set any in InterruptACK.
  const uint32_t bits = raw & reg::kInterruptDefined;
  if (bits != raw) ++counters_.isr_undefined;
  // 4.2.3.4.1: acknowledge the events taken -- exactly those read. Nothing
  // read, nothing written (a shared line's other device, a spurious edge).
  if (bits != 0) wr(reg::kInterruptAck, bits);
  return static_cast<uint8_t>(bits);
}

bool MmioTransport::config_read(uint32_t offset, uint8_t width, uint32_t* value) {
  if ((width != 1 && width != 2 && width != 4) || (offset & (width - 1u)) != 0) return false;
  if (offset > config_size_ || width > config_size_ - offset) return false;
  *value = platform_->reg_read(Region::kMmio, reg::kConfig + offset, width);
  return true;
}

uint32_t MmioTransport::config_generation() {
  // Legacy devices have no ConfigGeneration register (4.2.4): never read.
  if (version_ != 2) return 0;
  return mmio_read(reg::kConfigGeneration);
}

InterruptSetup MmioTransport::setup_interrupts(const InterruptRequest& request) {
  InterruptSetup out;
  InterruptMode rung = request.mode;
  if (rung == InterruptMode::kMsix) {
    // virtio-mmio has no MSI-X: the next rung.
    out.msix_fallback = MsixFallback::kNoCapability;
    rung = InterruptMode::kIntx;
  }
  // The line: the window has one and the platform delivers it. Nothing to
  // program on the device: it raises the line while InterruptStatus != 0.
  if (rung == InterruptMode::kIntx && has_line_ && platform_->line_interrupt())
    out.mode = InterruptMode::kIntx;
  return out;
}

}  // namespace vnet
