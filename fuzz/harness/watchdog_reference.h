// WatchdogReference: oracle (h)'s model of the driver's tx watchdog.
//
//   World::poll_device (driver running, no reset detected)  --> check()
//       from what crossed the device boundary in that poll_device: the tx
//       used index the driver peeked (a re-check fetch of transmitq1's
//       used.idx), the clock it read right after, and the tx chains it had
//       made available since the device's last reset (its avail index):
//         used == published             nothing pending: disarmed, no timeout
//         not armed, or used moved      (re)armed at that time, no timeout
//         else                          timeout iff now - armed_at >= tx_timeout_ns
//       and the driver's tx_timeout must say the same.
//   every attach (World::check_attach)  --> reset(): disarmed
//
// A poll_device in which the driver did not peek the tx used index, or did
// not read the clock when the model needs it, is not judged (its facts are
// unknown); its state is left as it was.
//
// Threading: one input at a time, one thread (the fuzz harness).
#pragma once

#include <stdint.h>

namespace vnet::fuzz {

class WatchdogReference {
 public:
  // What one poll_device showed at the boundary.
  struct Poll {
    bool peeked = false;      // the driver fetched transmitq1's used.idx as a re-check
    uint16_t used = 0;        // ... this value
    bool clock_read = false;  // and read the clock after it
    uint64_t now = 0;         // ... this value
    uint16_t published = 0;   // tx chains made available since the device's last reset
  };

  void reset() { armed_ = false; }
  // Checks the driver's verdict of one poll_device (a finding when it
  // differs from the model's); timeout_ns is the attach option (0: off).
  void check(const Poll& p, uint64_t timeout_ns, bool driver_timed_out);

 private:
  bool armed_ = false;
  uint16_t armed_used_ = 0;
  uint64_t armed_at_ = 0;
};

}  // namespace vnet::fuzz
