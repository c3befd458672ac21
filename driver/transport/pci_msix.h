// Interrupts of the virtio-pci transports: the MSI-X capability and table
// (PCI 3.0, 6.8.2), the vector registers' read-back rule (virtio 1.2
// 4.1.5.1.2), the INTx enable bit, and the ladder MSI-X -> INTx -> polling
// (transport.h has the protocol; this is the PCI half both transports share).
//
//   PCI config: MSI-X capability (id 0x11)     BAR[table BIR], table offset:
//   +0x00 id, next                              entry i (16 bytes)
//   +0x02 message control                       +0x0 message address low
//         10:0 table size - 1                   +0x4 message address high
//         14 function mask, 15 enable           +0x8 message data
//   +0x04 table offset | BIR (2:0)              +0xC vector control (bit 0 mask)
//   +0x08 PBA offset | BIR (2:0)               BAR[PBA BIR], PBA offset:
//                                               pending bit i (qword i / 64)
//
// Every value here is the device's and checked before use:
//  * the capability walk is bounded like the vendor-capability walk
//    (pci_modern.cc): status bit 4 first, at most 48 entries, pointers in
//    0x40..0xF4 and dword aligned;
//  * the table BIR and the PBA BIR name a present memory BAR; table
//    (table size x 16 bytes) and PBA ((table size + 63) / 64 x 8 bytes)
//    lie inside it, below 4 GiB (offsets are 32-bit), and overlap none of
//    the transport's own register windows (a table laid over the common
//    configuration would turn message writes into status writes);
//  * the enable bit must read back set before a vector is written (legacy:
//    the vector registers exist only while MSI-X is enabled);
//  * every vector written is read back: NO_VECTOR or any other value than
//    written abandons MSI-X (4.1.5.1.2.2).
//
// Sequence (the one Linux uses): enable with the function masked; write
// each entry used (entry masked, address, data, entry unmasked); clear the
// function mask; then the vector registers. Entries are written with 32-bit
// accesses. Nothing here loops on the device.
//
// The transport assumes MSI-X is disabled when it is probed (firmware
// leaves it so) and tracks the enable bit it writes from then on: the
// legacy device configuration offset follows it (msix_enabled()).
#pragma once

#include <stdint.h>

#include "driver/transport/transport.h"

namespace vnet {

// A window of the transport's own registers in a BAR (the MSI-X table and
// PBA must not overlap one).
struct BarRange {
  uint8_t bar = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct MsixCapability {
  uint8_t cap = 0;  // config offset of the capability; 0: none
  uint16_t table_size = 0;
  uint8_t table_bar = 0;
  uint32_t table_offset = 0;
  uint8_t pba_bar = 0;
  uint32_t pba_offset = 0;
};

// A transport's vector registers: each writes the register and returns
// what the device answers when it is read back.
class MsixVectorRegs {
 public:
  virtual uint16_t set_config_vector(uint16_t vector) = 0;
  virtual uint16_t set_queue_vector(uint16_t queue, uint16_t vector) = 0;

 protected:
  MsixVectorRegs() = default;
  ~MsixVectorRegs() = default;
  MsixVectorRegs(const MsixVectorRegs&) = default;
  MsixVectorRegs& operator=(const MsixVectorRegs&) = default;
};

// Finds and checks the MSI-X capability. own/num_own: the transport's
// register windows. kNone with *out filled, or the reason it is unusable.
MsixFallback find_msix(Platform& platform, const BarRange* own, uint8_t num_own,
                       MsixCapability* out);

class PciInterrupts {
 public:
  void init(Platform& platform) {
    platform_ = &platform;
    msix_enabled_ = false;
  }
  // The ladder (transport.h). precheck: a transport's own reason to refuse
  // MSI-X (kNone: none). Does not arm the platform.
  InterruptSetup setup(const InterruptRequest& request, MsixVectorRegs& regs, const BarRange* own,
                       uint8_t num_own, MsixFallback precheck);
  // MSI-X disabled again if this transport enabled it.
  void teardown();
  bool msix_enabled() const { return msix_enabled_; }

 private:
  MsixFallback try_msix(const InterruptRequest& request, MsixVectorRegs& regs, const BarRange* own,
                        uint8_t num_own, InterruptSetup* out);
  void write_control(uint16_t control);
  void disable_msix();
  void enable_intx();

  Platform* platform_ = nullptr;
  MsixCapability cap_{};
  bool msix_enabled_ = false;
};

}  // namespace vnet
