// VhostUserDevice: a vhost-user back end, shown to the driver as a
// virtio-mmio version 2 register window (mmio_layout.h).
//
//   VirtioNet --> MmioTransport --reg_read/reg_write--> VhostUserPlatform
//                                                            |
//                                          VhostUserDevice (this file):
//                                          registers -> vhost-user messages
//                                                            |
//                                          FrontEnd -> Channel -> back end
//
// Why a register window and not a Transport of its own: the driver then
// runs exactly the transport code it runs on QEMU's microvm, and a
// recorded vhost-user session is an ordinary virtio-mmio trace that the
// replayer replays with no vhost-user code at all (docs/vhost-user.md).
// The translation is the one DPDK's virtio-user makes from its PMD's
// device operations, register by register:
//
//   DeviceFeatures      the back end's offer, filtered (offer(), below)
//   Status FEATURES_OK  SET_FEATURES; refused -> FEATURES_OK does not stick
//   QueueNum/Desc/...   remembered; QueueReady marks the queue set up
//   Status DRIVER_OK    SET_MEM_TABLE, then per queue SET_VRING_NUM, _BASE,
//                       _ADDR, _CALL, _KICK, and SET_VRING_ENABLE for the
//                       first pair (the others: VQ_PAIRS_SET, below)
//   QueueNotify q       8 bytes to q's kick eventfd
//   InterruptStatus     bit 0 when a call eventfd fired since the last ACK
//   Status 0            GET_VRING_BASE for every started ring (stops it)
//   config space        synthesised: mac, status LINK_UP, max pairs
//
// The control queue is the front end's own, as in virtio-user: a back end
// such as DPDK's vhost does not serve one, so the window offers CTRL_VQ
// itself, never passes it (nor MAC, STATUS) to SET_FEATURES, and answers
// commands from the ring in shared memory: VQ_PAIRS_SET enables and
// disables the back end's rings; every other command is refused (ERR).
//
// Device input: the back end's offer is masked to what the window can
// carry (no ACCESS_PLATFORM: no IOTLB here); a lost connection or any
// refused message after DRIVER_OK sets DEVICE_NEEDS_RESET, which the
// driver sees at its next status read. Control-queue descriptors are the
// driver's, but are bounds-checked against the shared memory all the same.
//
// Threading: register accesses come from the driver's control path, one
// at a time; notify() (QueueNotify) may come from the rx and tx paths of
// different pairs concurrently and only writes to an eventfd.
#pragma once

#include <stdint.h>

#include <atomic>
#include <string>

#include "vhost/front_end.h"
#include "vhost/shared_memory.h"

namespace vnet::vhost {

struct DeviceOptions {
  uint8_t mac[6] = {0x02, 0x00, 0x00, 0x76, 0x6e, 0x01};
  uint16_t queue_size = 1024;    // QueueNumMax of every data queue (<= 32768)
  uint16_t max_queue_pairs = 4;  // the most pairs the window offers with MQ
  // Features the window may offer at all (the tool's --no-* options).
  uint64_t feature_mask = ~uint64_t{0};
};

class VhostUserDevice {
 public:
  static constexpr uint32_t kWindowSize = 0x200;
  static constexpr uint16_t kCtrlQueueSize = 64;
  static constexpr uint16_t kMaxQueues = 2 * 8 + 1;

  VhostUserDevice(FrontEnd& front, SharedMemory& memory, const DeviceOptions& options);
  ~VhostUserDevice();
  VhostUserDevice(const VhostUserDevice&) = delete;
  VhostUserDevice& operator=(const VhostUserDevice&) = delete;

  uint32_t read(uint32_t offset, uint8_t width);
  void write(uint32_t offset, uint8_t width, uint32_t value);

  // What the window offers the driver.
  uint64_t offer() const { return offer_; }
  uint64_t negotiated() const { return driver_features_; }
  uint16_t queue_pairs() const { return pairs_; }
  bool started() const { return started_; }
  // Blocks up to timeout_ns until a call eventfd fires; true if one did.
  bool wait_calls(uint64_t timeout_ns);
  // The first failure after which the device is unusable ("" when none).
  const std::string& error() const { return error_; }

  uint64_t kicks() const { return kicks_.load(std::memory_order_relaxed); }
  uint64_t ctrl_commands() const { return ctrl_commands_; }
  uint64_t ctrl_refused() const { return ctrl_refused_; }

 private:
  struct Queue {
    uint16_t num = 0;
    uint64_t desc = 0, driver = 0, device = 0;
    bool ready = false;
    bool started = false;  // the back end has it (SET_VRING_*)
    int kick_fd = -1, call_fd = -1;
    // Control queue only: where the device side is.
    uint16_t last_avail = 0;
    bool avail_wrap = true;  // packed
    uint16_t used_idx = 0;
  };

  uint16_t ctrl_index() const;
  bool packed() const;
  void set_status(uint8_t value);
  void reset();
  bool start();
  void broken(std::string why);
  void notify(uint16_t q);
  void process_ctrl();
  uint8_t execute_ctrl(const uint8_t* cmd, uint32_t len);
  void ctrl_split(Queue& q);
  void ctrl_packed(Queue& q);
  uint32_t config_read(uint32_t offset, uint8_t width) const;

  FrontEnd& front_;
  SharedMemory& memory_;
  DeviceOptions options_;
  uint64_t offer_ = 0;
  uint16_t max_pairs_ = 1;  // max_virtqueue_pairs shown (1 without MQ)
  uint16_t pairs_ = 1;      // pairs enabled now
  uint32_t device_features_sel_ = 0;
  uint32_t driver_features_sel_ = 0;
  uint64_t driver_features_ = 0;
  uint32_t queue_sel_ = 0;
  uint8_t status_ = 0;
  bool started_ = false;
  uint32_t interrupt_status_ = 0;
  Queue queues_[kMaxQueues];
  std::string error_;
  std::atomic<uint64_t> kicks_{0};
  uint64_t ctrl_commands_ = 0;
  uint64_t ctrl_refused_ = 0;
};

}  // namespace vnet::vhost
