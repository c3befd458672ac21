// Recording the guest's own run (docs/qemu.md, "Recording"; DESIGN.md,
// "Traces"): with `record=1` on the command line and COM2 present, every
// call the serve loop makes on the driver goes through a recording
// Session, and the trace streams to the host over COM2.
//
//   serve loop --> Session (TraceTap: call/ret lines)
//                    |-- VirtioNet --> RecordingPlatform --> GuestPlatform
//                    |                 RecordingPool     --> PacketPool
//                    v                         |
//                 TraceWriter <----------------+ every event, in order
//                    |  ByteSink
//                    v
//                 trace_port (COM2) --> QEMU -serial file --> vnet-qemu --record
//
//   line 1     header: driver version, pool, PCI identity of the NIC (or,
//              on virtio-mmio, its Version, DeviceID, VendorID and window
//              size), recorded {where:"qemu", when (CMOS RTC, UTC),
//              by:"vnet-guest"}
//   line 2..   events, from the probe call on
//   last line  {"ev":"end","events":N}, written by finish() before the
//              guest exits (any exit path after start())
//
// Without record=1, or without COM2, the serve loop uses a plain Session
// (no tap, the guest's own shim and pool): the same calls, nothing written.
// The runner completes the header (machine, transport, device properties,
// QEMU version, negotiated features) when it saves the trace.
#pragma once

#include <stdint.h>

#include "driver/net/packet_buffer.h"
#include "driver/platform/platform.h"
#include "guest/kernel/pci.h"
#include "guest/kernel/virtio_mmio.h"
#include "replay/record/session.h"

namespace guest::record {

struct PoolShape {
  uint32_t buffer_size = 0;
  uint32_t buffers = 0;
};

// The session the serve loop drives: recording after a successful start(),
// plain otherwise. Both are built over the same platform and pool.
vnet::trace::Session& session();

// Binds the sessions to the guest's shim and pool (once, before start()).
void init(vnet::Platform& platform, vnet::BufferPool& pool);

// Opens COM2 and writes the header. false (and the plain session stays in
// use) when COM2 is absent.
bool start(const pci::Function& nic, const PoolShape& pool);
// The same for a NIC on virtio-mmio: the window and what identified it.
bool start_mmio(const virtio_mmio::Window& window, const virtio_mmio::Identity& id,
                const PoolShape& pool);
bool active();

// Writes the end line and flushes; a no-op when not recording. Safe to
// call more than once (only the first writes).
void finish();

uint64_t events_written();
uint64_t bytes_written();

}  // namespace guest::record
