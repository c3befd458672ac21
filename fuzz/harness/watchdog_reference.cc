#include "fuzz/harness/watchdog_reference.h"

#include "fuzz/harness/findings.h"

namespace vnet::fuzz {

void WatchdogReference::check(const Poll& p, uint64_t timeout_ns, bool driver_timed_out) {
  if (timeout_ns == 0) {
    if (driver_timed_out)
      finding(Oracle::kDecision, "the tx watchdog fired although it is disabled (tx_timeout_ns 0)");
    return;
  }
  if (!p.peeked) return;  // facts unknown
  bool expected = false;
  if (p.used == p.published) {
    armed_ = false;
  } else if (!p.clock_read) {
    return;  // facts unknown
  } else if (!armed_ || p.used != armed_used_) {
    armed_ = true;
    armed_used_ = p.used;
    armed_at_ = p.now;
  } else {
    expected = p.now - armed_at_ >= timeout_ns;
  }
  if (expected != driver_timed_out)
    finding(Oracle::kDecision,
            "tx watchdog %s: used.idx %u, %u chains made available, %llu ns since the device "
            "last made progress (timeout %llu ns)",
            driver_timed_out ? "fired, the reference says it must not"
                             : "did not fire, the reference says it must",
            p.used, p.published, static_cast<unsigned long long>(armed_ ? p.now - armed_at_ : 0),
            static_cast<unsigned long long>(timeout_ns));
  if (expected) armed_ = false;  // the driver breaks the queue and re-initialises
}

}  // namespace vnet::fuzz
