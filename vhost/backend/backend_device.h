// BackendDevice: the device a vhost-user back end serves (backend_session.h
// speaks the protocol; an implementation of this interface is the device).
//
//   front end (QEMU: the guest's virtio transport)     BackendDevice
//   ----------------------------------------------     -------------
//   SET_FEATURES                                       set_features()
//   SET_MEM_TABLE (regions mapped by the session)      set_memory()
//   SET_VRING_NUM/BASE/ADDR + KICK (ring starts)       start_ring()
//   SET_VRING_ENABLE                                   set_ring_enabled()
//   a kick eventfd fires                               kick()
//   GET_VRING_BASE (ring stops)                        stop_ring()
//   GET_CONFIG / SET_CONFIG                            read_config() / write_config()
//   device wants an interrupt for ring q               the call sink (the session
//                                                      writes ring q's call eventfd)
//
// Ring addresses reach the device already translated to guest-physical
// addresses (the front end gives its own virtual addresses; the session
// translates them through the memory table); buffer addresses in the rings
// are guest-physical and the device translates them itself, through the
// regions set_memory() gave it, bounds-checked.
//
// Threading: one thread (the session's event loop) calls everything,
// including the call sink, which is called from inside kick() and
// whatever else makes the device complete buffers.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <functional>
#include <string>

#include "mock_device/guest_memory.h"

namespace vnet::vhost {

struct RingSetup {
  uint16_t index = 0;
  uint16_t num = 0;
  uint32_t base = 0;    // SET_VRING_BASE's value (packed: with wrap counters)
  uint64_t desc = 0;    // guest-physical: descriptor table / ring
  uint64_t driver = 0;  // available ring / driver event area
  uint64_t device = 0;  // used ring / device event area
};

class BackendDevice {
 public:
  virtual ~BackendDevice() = default;

  // The virtio feature bits offered to the front end (no vhost-user bits).
  virtual uint64_t offered_features() const = 0;
  // The features the front end acked (vhost-user bits already removed).
  // False, with *why, when the device refuses them.
  virtual bool set_features(uint64_t features, std::string* why) = 0;
  virtual bool set_memory(const mock::GuestMemory::Region* regions, size_t count,
                          std::string* why) = 0;
  virtual bool start_ring(const RingSetup& ring, std::string* why) = 0;
  // Stops the ring; *base: where the front end resumes it (the next avail
  // index; packed: with its wrap counter, and the used index and its own).
  virtual bool stop_ring(uint16_t index, uint32_t* base) = 0;
  virtual void set_ring_enabled(uint16_t index, bool enabled) = 0;
  virtual void kick(uint16_t index) = 0;
  using CallSink = std::function<void(uint16_t index)>;
  virtual void set_call_sink(CallSink sink) = 0;
  // Device configuration space (virtio 5.1.4), size bytes at offset.
  virtual bool read_config(uint32_t offset, uint8_t* out, uint32_t size) = 0;
  virtual bool write_config(uint32_t offset, const uint8_t* in, uint32_t size) = 0;
};

}  // namespace vnet::vhost
