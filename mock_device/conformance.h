// Conformance: the record of every driver requirement of the virtio
// specification (1.2) that the mock device saw the driver break.
//
// The checks themselves live where the device observes the driver (register
// writes, notifications, ring walks in mock_device.cc); this class only
// records them, each as {requirement id, spec section, message},
// deduplicated so that a driver repeating one mistake per frame costs one
// entry and a count. The id names a row of the spec map
// (docs/spec-map.json; the rules are listed in spec_rules.h), e.g.
// "drv-2.1.1-2" for "The driver MUST NOT clear a device status bit".
//
// What the device checks, by section (spec_rules.h has the full list):
//
//   2.1.1      the driver never clears a status bit it set (other than by reset)
//   2.2.1      the driver accepts only features the device offered, and only
//              with their prerequisites (the dependency table of 5.1.3.1)
//   3.1.1      initialisation order: reset, ACKNOWLEDGE, DRIVER, driver
//              features, FEATURES_OK (modern), queue setup, DRIVER_OK; no
//              queue setup before FEATURES_OK, no notify before DRIVER_OK,
//              no DRIVER_OK after the device refused FEATURES_OK
//   4.1.3.1    common configuration fields accessed with their natural width
//   4.1.4.3.2  no writes to read-only common fields, queue_size a power of
//              two not above the maximum, queue fields configured before
//              queue_enable, never queue_enable = 0
//   4.1.5.2    a notification writes the index of the queue it addresses
//   5.1.4.2    no writes to device configuration (modern), no frame above
//              the negotiated MTU
//   5.1.5      receiveq1 and transmitq1 set up before DRIVER_OK
//   6.1        a modern driver accepts VERSION_1
//   2.7.1      ring parts aligned (descriptors 16, available 2, used 4)
//   2.7.4.2    device-writable descriptors only after device-readable ones
//   2.7.5.2    no descriptor loops; 2.7.5.3.1 no chain longer than the queue,
//              no INDIRECT without VIRTIO_F_INDIRECT_DESC
//   2.7.6.1    the available index never decreases
//   2.7.7.1    available ring flags 0 or 1 (without EVENT_IDX)
//   2.7.13     the available index never runs more than the queue size
//              ahead of the used index (the ring cannot hold more)
//   2.7.13.1   descriptors point into guest memory; a head is not made
//              available again while the device still owns it
//   5.1.6.2.1  transmit header: num_buffers 0, flags 0 without CSUM, no
//              DATA_VALID/RSC_INFO, gso_type NONE unless HOST_* negotiated;
//              against the frame (offload.cc): csum_start/csum_offset inside
//              it, the pseudo-header sum there, the IPv4 header checksum
//              before it; GSO with NEEDS_CSUM and gso_size, the protocol
//              gso_type names, hdr_len, the ECN bit
//   5.1.6      (legacy framing) without ANY_LAYOUT the header has its own
//              descriptor
//   5.1.6.5    the control queue (mock_ctrl.cc): commands only with their
//              features, their framing and data layouts, VQ_PAIRS_SET and
//              RSS_CONFIG within the device's limits, transmit queues only
//              of enabled pairs, GUEST_OFFLOADS_SET only negotiated receive
//              offloads
//   4.2        virtio-mmio (mock_mmio.cc): the register table of the device's
//              version, 32-bit aligned register accesses in their direction,
//              configuration at natural widths, the identity registers first
//              and nothing after a bad one, feature selectors, QueueNum and
//              QueueReady/QueuePFN ordering, InterruptACK of read and
//              defined bits only
//
// Recording allocates (a string); the checks that guard it are plain
// compares, so a conforming driver costs the hot path nothing here.
#pragma once

#include <stdint.h>

#include <string>
#include <string_view>
#include <vector>

#include "mock_device/spec_rules.h"

namespace vnet::mock {

struct Violation {
  std::string section;  // e.g. "3.1.1"
  std::string message;
  uint64_t count = 1;  // how many times it was seen
  std::string id;      // the spec map requirement, e.g. "drv-3.1.1-1"
};

class Conformance {
 public:
  static constexpr size_t kMaxDistinct = 256;

  // Records a violation of the rule's requirement, under the section of its
  // id ("drv-2.7.6.1-1" -> "2.7.6.1").
  void report(SpecRuleId rule, std::string message);
  // The same, under another section: where a check was recorded under a
  // section before the ids existed and tests or scenarios match on it.
  void report(SpecRuleId rule, std::string_view section, std::string message);

  const std::vector<Violation>& violations() const { return violations_; }
  uint64_t total() const { return total_; }
  bool empty() const { return total_ == 0; }
  // True when at least one violation of this section -- or of this
  // requirement id ("drv-..." / "def-...") -- was recorded.
  bool has(std::string_view section_or_id) const;
  // Number of recorded violations (with repeats) of a section or an id.
  uint64_t count(std::string_view section_or_id) const;
  // How often each rule of kSpecRules fired (with repeats), by index.
  uint64_t fired(SpecRuleId rule) const { return fired_[rule.index()]; }
  void clear();

 private:
  std::vector<Violation> violations_;
  uint64_t total_ = 0;
  uint64_t dropped_ = 0;
  uint64_t fired_[kNumSpecRules] = {};
};

// The wording of reports: a value in hex ("0x1f"), a queue's prefix
// ("queue 1: ").
std::string hex(uint64_t v);
std::string qname(uint16_t index);

}  // namespace vnet::mock
