// The vhost-user world as fuzz_vhost_reply drives it (fuzz/targets/
// fuzz_vhost_reply.cc), shared with the tool that writes its seeds
// (tests/vhost/write_vhost_seeds.cc, which answers with the scripted
// FakeBackend instead of fuzzer bytes): the same options from the same
// mode byte, the same sequence of driver calls, so that a recorded reply
// stream of a well-behaved back end is a seed that reaches every step.
//
//   FrontEnd::connect_fd (GET_FEATURES ... GET_QUEUE_NUM)
//   VhostUserDevice + VhostUserPlatform + SharedBufferPool
//   MmioTransports::probe, VirtioNet::attach (SET_FEATURES at FEATURES_OK;
//     SET_MEM_TABLE, the rings, SET_VRING_ENABLE at DRIVER_OK; with MQ the
//     driver's VQ_PAIRS_SET through the emulated control queue)
//   [mode bit 4] set_queue_pairs(1), then set_queue_pairs(2)
//   [mode bit 5] poll_device()
//   VirtioNet::stop (status 0: GET_VRING_BASE for every started ring)
//
// Mode byte: bit 0 packed rings accepted; bit 1 two queue pairs (MQ, the
// control queue) else one; bit 2 the control queue without MQ; bit 3 the
// back end's side stays open after the stream (a missing reply is a
// timeout, not end-of-file); bits 4 and 5 above.
//
// Header-only: the fuzz build and the test build each compile it with
// their own flags.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <memory>

#include "driver/net/virtio_net.h"
#include "driver/transport/mmio_probe.h"
#include "surface/surface_hook.h"
#include "vhost/front_end.h"
#include "vhost/shared_buffer_pool.h"
#include "vhost/shared_memory.h"
#include "vhost/vhost_user_device.h"
#include "vhost/vhost_user_platform.h"
#include "vhost/vhost_user_port.h"

namespace vnet::fuzz::vhost_reply {

namespace mode {
inline constexpr uint8_t kPacked = 1u << 0;
inline constexpr uint8_t kTwoPairs = 1u << 1;
inline constexpr uint8_t kCtrlVq = 1u << 2;
inline constexpr uint8_t kKeepOpen = 1u << 3;
inline constexpr uint8_t kPairsOps = 1u << 4;
inline constexpr uint8_t kPoll = 1u << 5;
}  // namespace mode

// Small rings and few buffers: attach is the work of every input.
inline constexpr uint16_t kQueueSize = 32;
inline constexpr size_t kPoolBuffers = 160;
inline constexpr uint32_t kBufferSize = 2048;
inline constexpr size_t kMemoryBytes = size_t{2} << 20;

inline vhost::DeviceOptions device_options(uint8_t m) {
  vhost::DeviceOptions o;
  o.queue_size = kQueueSize;
  o.max_queue_pairs = (m & mode::kTwoPairs) != 0 ? 2 : 1;
  return o;
}

inline NetOptions net_options(uint8_t m) {
  NetOptions n;
  n.rx_ring_cap = kQueueSize;
  n.tx_ring_cap = kQueueSize;
  n.accept_access_platform = false;
  n.accept_ring_packed = (m & mode::kPacked) != 0;
  n.accept_ctrl_vq = (m & (mode::kTwoPairs | mode::kCtrlVq)) != 0;
  n.max_queue_pairs = (m & mode::kTwoPairs) != 0 ? 2 : 1;
  // The emulated control queue answers at once or never: do not wait long.
  n.ctrl_timeout_ns = 2'000'000;
  n.reset_timeout_ns = 2'000'000;
  return n;
}

struct Outcome {
  bool connected = false;
  bool probed = false;
  AttachError attach = AttachError::kBadOptions;
  bool attached = false;
};

// Runs the whole sequence over a connected front end. memory must be empty
// (bytes_in_use() == 0) and is left as the driver left it.
inline Outcome run(vhost::FrontEnd& front, vhost::SharedMemory& memory, uint8_t m) {
  Outcome out;
  vhost::VhostUserDevice device(front, memory, device_options(m));
  vhost::VhostUserPlatform platform(device, memory);
  platform.set_log_level(LogLevel::kError);
  vhost::SharedBufferPool pool;
  if (!pool.init(memory, kPoolBuffers, kBufferSize)) return out;
  // VNET_SURFACE: the attack-surface counter (tools/vnet-surface), as in
  // every other fuzz world.
  static surface::SurfaceHook surface_hook;
  Platform& shim = surface_hook.wrap(platform);
  MmioTransports transports;
  const MmioProbeResult probe = transports.probe(shim, vhost::vhost_mmio_window());
  if (probe.error == MmioProbeError::kOk) {
    out.probed = true;
    // On the heap: VirtioNet is too large for a sanitizer build's stack.
    auto owned = std::make_unique<VirtioNet>();
    VirtioNet& net = *owned;
    out.attach = net.attach(shim, *probe.transport, pool, net_options(m));
    out.attached = out.attach == AttachError::kOk;
    if (out.attached) {
      if ((m & mode::kPairsOps) != 0) {
        net.set_queue_pairs(1);
        net.set_queue_pairs(2);
      }
      if ((m & mode::kPoll) != 0) net.poll_device();
      net.stop();
    }
  }
  // The pool's block is the first allocation of an empty memory.
  memory.free(memory.base());
  return out;
}

}  // namespace vnet::fuzz::vhost_reply
