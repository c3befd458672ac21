#include "guest/record/guest_recording.h"

#include "guest/kernel/console.h"
#include "guest/kernel/cpu.h"
#include "guest/kernel/mem.h"
#include "guest/record/trace_port.h"
#include "replay/record/recorder.h"
#include "replay/record/trace_events.h"
#include "replay/record/trace_writer.h"

#ifndef VNET_VERSION
#error "VNET_VERSION must be defined by the build"
#endif

// Placement new: there is no <new> in a freestanding build.
inline void* operator new(size_t, void* where) noexcept {
  return where;
}

namespace guest::record {
namespace {

constexpr uint8_t kPciCapVendor = 0x09;
constexpr int kMaxCaps = 48;

void port_sink(void*, const char* data, size_t len) {
  trace_port::write(data, len);
}

// Storage for objects that need the shim and pool at construction, built
// once by init() (the guest has no heap; placement into static storage).
alignas(vnet::trace::Session) unsigned char g_plain_mem[sizeof(vnet::trace::Session)];
alignas(vnet::trace::Session) unsigned char g_recorded_mem[sizeof(vnet::trace::Session)];
alignas(vnet::trace::RecordingPlatform) unsigned char g_platform_mem[sizeof(
    vnet::trace::RecordingPlatform)];
alignas(vnet::trace::RecordingPool) unsigned char g_pool_mem[sizeof(vnet::trace::RecordingPool)];

vnet::trace::TraceWriter g_writer(vnet::trace::ByteSink{&port_sink, nullptr});
vnet::trace::TraceTap g_tap(g_writer);
vnet::trace::Session* g_plain = nullptr;
vnet::trace::Session* g_recorded = nullptr;
bool g_active = false;
bool g_finished = false;
char g_when[32];

// A transitional device (1af4:1000) carries virtio vendor capabilities; a
// legacy-only one (disable-modern=on) does not.
const char* device_kind(const pci::Function& f) {
  if (f.device == 0x1041) return "modern";
  if ((pci::config_read(f.addr, 0x06, 2) & 0x10) == 0) return "legacy";
  uint32_t at = pci::config_read(f.addr, 0x34, 1) & 0xfc;
  for (int i = 0; i < kMaxCaps && at >= 0x40 && at < pci::kConfigSize; ++i) {
    if (pci::config_read(f.addr, at, 1) == kPciCapVendor) return "transitional";
    at = pci::config_read(f.addr, at + 1, 1) & 0xfc;
  }
  return "legacy";
}

// CMOS real-time clock: QEMU keeps it in UTC by default.
uint8_t cmos(uint8_t reg) {
  cpu::outb(0x70, reg);
  return cpu::inb(0x71);
}

void rtc_iso8601(char* out, size_t cap) {
  for (int i = 0; i < 100000 && (cmos(0x0a) & 0x80); ++i) cpu::pause();  // update in progress
  uint8_t sec = cmos(0x00), min = cmos(0x02), hour = cmos(0x04);
  uint8_t day = cmos(0x07), mon = cmos(0x08), year = cmos(0x09), century = cmos(0x32);
  const bool bcd = (cmos(0x0b) & 0x04) == 0;
  auto dec = [bcd](uint8_t v) {
    return bcd ? static_cast<unsigned>((v >> 4) * 10 + (v & 0xf)) : v;
  };
  unsigned full_year = dec(century) != 0 ? dec(century) * 100 + dec(year) : 2000 + dec(year);
  format(out, cap, "%04u-%02u-%02uT%02u:%02u:%02uZ", full_year, dec(mon), dec(day),
         dec(static_cast<uint8_t>(hour & 0x7f)), dec(min), dec(sec));
}

}  // namespace

void init(vnet::Platform& platform, vnet::BufferPool& pool) {
  if (g_plain != nullptr) return;
  auto* rec_platform = new (g_platform_mem) vnet::trace::RecordingPlatform(platform, g_writer);
  auto* rec_pool = new (g_pool_mem) vnet::trace::RecordingPool(pool, g_writer);
  g_plain = new (g_plain_mem) vnet::trace::Session(platform, pool, nullptr);
  g_recorded = new (g_recorded_mem) vnet::trace::Session(*rec_platform, *rec_pool, &g_tap);
}

vnet::trace::Session& session() {
  return g_active ? *g_recorded : *g_plain;
}

namespace {

// Opens COM2 and writes the header h, completed with what every recording
// of the guest has.
bool write_header(vnet::trace::TraceHeader& h, const PoolShape& pool) {
  if (g_plain == nullptr || g_active || !trace_port::open()) return false;
  rtc_iso8601(g_when, sizeof(g_when));
  h.driver_version = VNET_VERSION;
  h.has_device = true;
  h.pool_buffer_size = pool.buffer_size;
  h.pool_buffers = pool.buffers;
  h.recorded_where = "qemu";
  h.recorded_when = g_when;
  h.recorded_by = "vnet-guest";
  vnet::trace::write_header(g_writer, h);
  g_writer.flush();
  g_active = true;
  return true;
}

}  // namespace

bool start(const pci::Function& nic, const PoolShape& pool) {
  vnet::trace::TraceHeader h;
  h.device_kind = device_kind(nic);
  h.vendor = nic.vendor;
  h.device = nic.device;
  h.subsystem = nic.subsys_id;
  h.revision = nic.revision;
  return write_header(h, pool);
}

bool start_mmio(const virtio_mmio::Window& window, const virtio_mmio::Identity& id,
                const PoolShape& pool) {
  vnet::trace::TraceHeader h;
  h.device_kind = id.version == 1 ? "mmio-v1" : "mmio-v2";
  h.is_mmio = true;
  h.mmio_version = id.version;
  h.mmio_device_id = id.device_id;
  h.mmio_vendor_id = id.vendor_id;
  h.mmio_window = static_cast<uint32_t>(window.size);
  return write_header(h, pool);
}

bool active() {
  return g_active;
}

void finish() {
  if (!g_active || g_finished) return;
  g_finished = true;
  vnet::trace::write_end(g_writer);
  g_writer.flush();
}

uint64_t events_written() {
  return g_writer.events();
}

uint64_t bytes_written() {
  return trace_port::bytes_written();
}

}  // namespace guest::record
