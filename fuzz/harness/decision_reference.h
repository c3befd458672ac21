// DecisionReference: oracle (h). An executable reference of the driver's
// decisions, written from the specification and the driver's documented
// policy (virtio_net.h), not from its code: given what the device offered,
// what its configuration said and what it wrote, what must the driver have
// decided? Every decision of every input on the mock device is checked
// against it, so a removed or weakened logic check (num_buffers, header
// GSO type and flags, the MTU bounds, queue size rules, ...) is a finding
// even when it causes no memory error.
//
//   World::bring_up / restart / recover  --> check_attach()
//       attach result (queue rules of 2.7 / 4.1.4.3), the features written
//       (offer & driver policy, minus a MAC that is zero or multicast and an
//       MTU below 68 or above the driver's buffers: 5.1.4.1), the MTU in
//       force, each queue's size (the device's maximum, or the driver's cap
//       rounded up to a power of two when the size is writable)
//   World::rx_burst                       --> check_rx()
//       for each completion the driver accepted on receiveq1 (the
//       OraclePlatform's log: head, used.len, writable bytes, the header the
//       device wrote), in order: skipped as the tail of a multi-buffer frame,
//       or dropped for used.len above the buffer, below header + Ethernet
//       header, num_buffers != 1 (MRG_RXBUF), a GSO type or flag not
//       negotiated, a frame above MTU + 18; or delivered with used.len -
//       header bytes. The frames delivered (which buffers, in which order,
//       how long) and every drop counter must match.
//
// Facts come from the mock device (its configuration, what the driver wrote
// to it), never from the driver. When the input armed a lie that makes the
// device's answers differ from its configuration (register lies, PCI
// patches, generation churn, an unstable MAC, a short device window, a slow
// reset, capability faults) the attach facts are unknown and only the rx
// rules that do not depend on them are checked.
//
// Threading: one input at a time, one thread (the fuzz harness).
#pragma once

#include <stdint.h>

#include "driver/net/virtio_net.h"
#include "fuzz/harness/oracle_platform.h"
#include "mock_device/mock_device.h"

namespace vnet::fuzz {

class DecisionReference {
 public:
  struct Delivered {
    const uint8_t* data;  // the first buffer's frame bytes
    uint32_t len;         // ... and their length
    uint32_t total = 0;   // the whole frame (every buffer of a receive chain)
    uint32_t buffers = 1;
    PacketOffload offload{};
  };
  static constexpr uint32_t kMaxDelivered = 256;

  void begin_input();
  // The device's answers stop following its configuration (see above).
  void set_unpredictable() { predictable_ = false; }
  bool predictable() const { return predictable_; }

  // After an attach (bring_up, restart, recover) that was asked for.
  void check_attach(const mock::MockDevice& device, const VirtioNet& net, const NetOptions& options,
                    AttachError result);
  // The facts check_attach() derives, given directly (oracle tests): net
  // header size, MRG_RXBUF, the MTU in force (0: unknown).
  void assume(uint32_t hdr_size, bool mrg, uint32_t mtu) {
    facts_ = true;
    hdr_size_ = hdr_size;
    mrg_ = mrg;
    mtu_known_ = mtu != 0;
    frame_max_ = mtu + 18;
    guest_ = host_ = 0;
    chains_ = false;
    chain_ = Chain{};
  }
  // ... and the receive offloads in force (GUEST_* feature bits; oracle
  // tests), without receive chains.
  void assume_offloads(uint64_t guest_features) { guest_ = guest_features; }
  // After rx_burst: log from the oracle, the frames handed to the stack,
  // the driver's counters before and after.
  void check_rx(const OraclePlatform& oracle, const Delivered* delivered, uint32_t n,
                const NetCounters& before, const NetCounters& after);
  // After a one-frame tx_burst with an offload request (issue 16): the
  // frame (first_len bytes in its first buffer), whether the driver took
  // it, its counters before and after.
  void check_tx_offload(const uint8_t* frame, uint32_t len, uint32_t first_len,
                        const PacketOffload& req, uint16_t taken, const NetCounters& before,
                        const NetCounters& after);

 private:
  bool predictable_ = true;
  // From the last successful attach on predictable input.
  bool facts_ = false;
  uint32_t hdr_size_ = 12;
  bool mrg_ = false;
  bool mtu_known_ = false;
  uint32_t frame_max_ = 0;  // mtu + 14 + 4
  uint64_t reset_epoch_ = 0;
  uint16_t skip_ = 0;
  // Offloads and receive chains (issue 16): the GUEST_* features
  // negotiated, whether frames may span buffers, and how many at most.
  uint64_t guest_ = 0;
  uint64_t host_ = 0;  // CSUM, HOST_TSO4/6, HOST_ECN, HOST_USO negotiated
  bool chains_ = false;
  uint32_t chain_max_ = 0;
  // The frame being assembled from several buffers (across rx_bursts).
  struct Chain {
    uint32_t need = 0;  // buffers still to come
    uint32_t buffers = 0;
    uint32_t total = 0;
    uint32_t first_len = 0;
    const uint8_t* first_data = nullptr;
    uint16_t first_head = 0;
    uint8_t hdr[12] = {};
    uint8_t head[OraclePlatform::RxCompletion::kRxHeadBytes] = {};
    uint32_t head_len = 0;
  };
  Chain chain_;
  struct FrameVerdict {
    bool deliver = false;
    uint64_t NetCounters::*counter = nullptr;
    PacketOffload offload{};
    FrameVerdict drop(uint64_t NetCounters::*c) {
      counter = c;
      return *this;
    }
  };
  FrameVerdict judge_frame(const uint8_t* hdr, const uint8_t* head, uint32_t head_len,
                           uint32_t frame_len) const;
  uint64_t NetCounters::*judge_fields(const uint8_t* hdr) const;
};

}  // namespace vnet::fuzz
