// QEMU's trace log, line by line (docs/qemu-capture.md).
//
// The log backend of QEMU 7.2 writes one event per line:
//
//   event_name args                          (default)
//   TID@SEC.USEC:event_name args             (-msg timestamp=on)
//
// split_line() separates the optional prefix, the event name and the
// arguments without copying; parse_*() read the arguments of the events
// the converter uses. Every parser returns false on a line it cannot read
// (the caller counts it as malformed) and never reads past the line.
//
//   memory_region_ops_read|write  cpu C mr 0xP addr 0xA value 0xV size S name 'R'
//   pci_cfg_read   DEVNAME BB:DD.F @0xOFF -> 0xVAL
//   pci_cfg_write  DEVNAME BB:DD.F @0xOFF <- 0xVAL
//   virtio_set_status    vdev 0xP val V
//   virtio_queue_notify  vdev 0xP n N vq 0xQ
//   virtio_notify        vdev 0xP vq 0xQ
//   virtqueue_pop        vq 0xQ elem 0xE in_num I out_num O
//   virtqueue_fill       vq 0xQ elem 0xE len L idx K
//   virtqueue_flush      vq 0xQ count C
//   ioapic_set_irq       vector: G level: L        (G: the I/O APIC pin, a GSI)
#pragma once

#include <stdint.h>

#include <string_view>

namespace trace2json {

struct LogLine {
  bool has_prefix = false;
  uint64_t tid = 0;
  uint64_t usec = 0;  // SEC * 1e6 + USEC, with the prefix
  std::string_view event;
  std::string_view args;
};

// False when the line is not shaped like a trace line at all (no event
// name of [a-z0-9_]+ followed by a space or the end of the line).
bool split_line(std::string_view line, LogLine* out);

struct RegionAccess {
  int64_t cpu = 0;
  uint64_t mr = 0;
  uint64_t addr = 0;
  uint64_t value = 0;
  uint32_t size = 0;
  std::string_view name;
};
bool parse_region_access(std::string_view args, RegionAccess* out);

struct PciCfgAccess {
  std::string_view device;  // QEMU's device type name, e.g. virtio-net-pci
  std::string_view bdf;     // "00:01.0"
  uint32_t offset = 0;
  uint32_t value = 0;
};
// write: "<-", read: "->".
bool parse_pci_cfg(std::string_view args, bool write, PciCfgAccess* out);

struct SetStatus {
  uint64_t vdev = 0;
  uint32_t value = 0;
};
bool parse_set_status(std::string_view args, SetStatus* out);

struct QueueNotify {
  uint64_t vdev = 0;
  uint32_t n = 0;
  uint64_t vq = 0;
};
bool parse_queue_notify(std::string_view args, QueueNotify* out);

struct Notify {
  uint64_t vdev = 0;
  uint64_t vq = 0;
};
bool parse_notify(std::string_view args, Notify* out);

struct Pop {
  uint64_t vq = 0;
  uint64_t elem = 0;
  uint32_t in_num = 0;
  uint32_t out_num = 0;
};
bool parse_pop(std::string_view args, Pop* out);

struct Fill {
  uint64_t vq = 0;
  uint64_t elem = 0;
  uint32_t len = 0;
  uint32_t idx = 0;
};
bool parse_fill(std::string_view args, Fill* out);

struct Flush {
  uint64_t vq = 0;
  uint32_t count = 0;
};
bool parse_flush(std::string_view args, Flush* out);

struct IoapicSetIrq {
  uint32_t gsi = 0;
  uint32_t level = 0;
};
bool parse_ioapic_set_irq(std::string_view args, IoapicSetIrq* out);

}  // namespace trace2json
