// MmioReference: oracles (h) and (f) for the virtio-mmio transport -- an
// executable reference of the probe of an MMIO window and of the register
// protocol a correct driver follows on it afterwards, from the answers the
// device gave (virtio 1.2 4.2.2, 4.2.3; version 1: 4.2.4). The MMIO
// counterpart of TransportReference.
//
//   World::bring_up (an MMIO input)
//     OraclePlatform::begin_mmio_probe  --> begin_probe(window)
//     every Region::kMmio access        --> check_access() before the device,
//                                           on_access() after (reads: answer)
//     OraclePlatform::check_mmio_probe  --> check_probe(): (h) the outcome
//   World::interrupt                    --> mark_interrupt(), isr_reads(),
//                                           last_isr(), check_ack()
//   World::end                          --> check_counters(): (h) the
//                                           transport's undefined-bit counters
//
// The probe, as the specification has it: a window smaller than the
// register file (0x100) is refused untouched; MagicValue must be "virt"
// (4.2.2.2: else the device is ignored), Version 1 or 2, DeviceID 0 is a
// placeholder -- no error, and no register accessed after it (4.2.3.1.1)
// --, DeviceID other than 1 is not a network device; version 2 must offer
// VERSION_1 (6.1); the configuration window (the window less 0x100, capped
// at 64 KiB) must hold the fields the offer needs (5.1.4). A register
// answered two ways within the probe leaves the outcome undetermined.
//
// After the probe (f): each version's own registers only (version 1 has no
// QueueReady, queue address pairs or ConfigGeneration; version 2 no
// GuestPageSize, QueueAlign or QueuePFN), no read of a write-only register,
// no write of a read-only one. (g): QueueNum never above the QueueNumMax
// last read for the queue; a queue that read back in use (QueueReady, v1
// QueuePFN, not 0 before the driver wrote it) is not set up again; a
// notification only for a queue set up since the last reset (version 2:
// whose QueueReady read back 1; version 1: a nonzero QueuePFN written); InterruptACK with exactly
// the defined bits (0-1) of the InterruptStatus read before it -- never nothing, never an undefined
// bit, never an ACK of 0 -- and every nonzero read acknowledged before the next read or the end of
// the handler.
//
// Threading: one input at a time, one thread (the fuzz harness).
#pragma once

#include <stdint.h>

#include "driver/transport/mmio_probe.h"

namespace vnet::fuzz {

class MmioReference {
 public:
  void begin_input();
  void begin_probe(const MmioWindow& window);
  void check_access(uint32_t offset, uint8_t width, bool write, uint32_t value) const;
  void on_access(uint32_t offset, uint8_t width, bool write, uint32_t value);
  void check_probe(const MmioWindow& window, const MmioProbeResult& r);

  // The transport in use is virtio-mmio (a probe succeeded this input).
  bool in_use() const { return version_ != 0; }
  // InterruptStatus reads since mark_interrupt(), and the defined bits of
  // the last one (for the interrupt reference).
  void mark_interrupt() { isr_reads_ = 0; }
  uint32_t isr_reads() const { return isr_reads_; }
  uint8_t last_isr() const { return static_cast<uint8_t>(last_isr_ & 3); }
  // After a handler call: what it read was acknowledged.
  void check_ack() const;
  // At the end of an input: the transport counted every undefined bit it
  // was shown (Status above bit 7, InterruptStatus above bit 1).
  void check_counters(const MmioCounters& counters) const;

 private:
  static constexpr uint16_t kQueues = 64;

  void queue_state_reset();

  // The probe.
  MmioWindow window_{};
  bool probing_ = false;
  bool accessed_in_probe_ = false;
  bool after_device_id_ = false;  // DeviceID 0 read: nothing more may be touched
  bool accessed_after_placeholder_ = false;
  uint32_t answer_[4] = {};   // MagicValue, Version, DeviceID, VendorID
  uint8_t answered_[4] = {};  // 0 not read, 1 read, 2 read two ways
  uint32_t feature_select_ = 0;
  uint32_t offer_[2] = {};
  uint8_t offer_answered_[2] = {};

  // The transport in use.
  uint32_t version_ = 0;  // 0: none (yet), 1 or 2
  uint32_t queue_select_ = 0;
  uint32_t num_max_[kQueues] = {};
  bool num_max_read_[kQueues] = {};
  bool in_use_[kQueues] = {};
  bool ready_written_[kQueues] = {};  // QueueReady / QueuePFN written since the reset
  uint32_t ready_value_[kQueues] = {};
  bool enabled_[kQueues] = {};  // ... and read back as written
  uint32_t isr_reads_ = 0;
  uint32_t last_isr_ = 0;
  uint32_t unacked_ = 0;  // defined bits read and not yet acknowledged
  uint64_t status_undefined_ = 0;
  uint64_t isr_undefined_ = 0;
};

}  // namespace vnet::fuzz
