// The mock device's conformance rules, by the id of the requirement they
// observe in the spec map (docs/spec-map.json, described in
// docs/spec-map.md).
//
// Every report site in the mock names one of these ids:
//
//   conformance_.report("drv-2.1.1-2", "driver cleared status bits ...");
//
// The id is checked at compile time: a literal that is not in kSpecRules
// does not compile (the error names spec_rule_id_not_in_kSpecRules). The
// tool vnet-specmap checks the other direction at test time: every id here
// is a row of the table and that row names it as its checker, and every
// checker a row names is here.
//
// Ids: "drv-<section>-<n>" is the n-th driver requirement ("The driver
// MUST/SHOULD ...") of a virtio 1.2 section; "def-<section>-<n>" is a
// definition outside the Driver Requirements sections that the device
// relies on and enforces all the same (e.g. "the available ring names
// descriptor heads", "device configuration is read-only for the driver").
// A violation is recorded under the id's section unless its report site
// keeps another one (sections that tests matched before the ids existed).
#pragma once

#include <stddef.h>

#include <string_view>

namespace vnet::mock {

struct SpecRule {
  std::string_view id;    // requirement id in docs/spec-map.json
  std::string_view what;  // what the device observes, and where
};

inline constexpr SpecRule kSpecRules[] = {
    {"drv-2.1.1-2",
     "a status write that clears a bit set before, other than a reset (write_status)"},
    {"drv-2.2.1-1",
     "accepted feature bits the device did not offer, at FEATURES_OK (legacy: DRIVER_OK), and "
     "any nonzero driver_feature word above bit 63"},
    {"drv-2.2.1-2",
     "an accepted feature whose prerequisite (5.1.3.1 dependency table) is not accepted"},
    {"drv-2.7.1-1", "a queue whose descriptor, driver or device area is misaligned (16, 2, 4)"},
    {"drv-2.7.4.2-1", "a device-readable descriptor after a device-writable one in a chain"},
    {"drv-2.7.5.2-1", "a descriptor chain longer than the queue size (so it loops)"},
    {"drv-2.7.5.3.1-1", "a descriptor with VIRTQ_DESC_F_INDIRECT without INDIRECT_DESC negotiated"},
    {"drv-2.7.6.1-1", "the available index moving backwards"},
    {"drv-2.7.7.1-1", "available ring flags other than 0 or 1 without EVENT_IDX, at each publish"},
    {"drv-2.7.7.1-2", "nonzero available ring flags with EVENT_IDX, at each publish"},
    {"drv-3.1.1-1",
     "the order of initialization: DRIVER before ACKNOWLEDGE, more than ACKNOWLEDGE in the first "
     "write, FEATURES_OK or DRIVER_OK before DRIVER or before the features were written, "
     "DRIVER_OK without FEATURES_OK (modern), queue registers (queue_msix_vector included) "
     "before FEATURES_OK (modern) or after DRIVER_OK, config_msix_vector after DRIVER_OK, "
     "driver features before DRIVER, DRIVER_OK before receiveq1 and transmitq1 are set up "
     "(kept under section 5.1.5)"},
    {"drv-3.1.1-3", "a driver_feature write after FEATURES_OK (modern)"},
    {"drv-3.1.1-5", "DRIVER_OK set after the device refused FEATURES_OK"},
    {"drv-3.1.1-6", "an available buffer notification before DRIVER_OK"},
    {"drv-3.1.2-1",
     "legacy interface: driver features or a queue address written before DRIVER, driver "
     "features written after DRIVER_OK (kept under section 3.1.1)"},
    {"drv-3.3.1-1",
     "the available index more than the queue size ahead of the used index (exposed slots "
     "overwritten; kept under 2.7.13), a head made available again while the device owns it "
     "(kept under 2.7.13.1)"},
    {"drv-4.1.3.1-1",
     "a common configuration access whose width or offset does not match the field"},
    {"drv-4.1.4.3.2-1",
     "a write to device_feature, num_queues, config_generation, queue_notify_off or "
     "queue_notify_data"},
    {"drv-4.1.4.3.2-3",
     "a queue_size write that is not a power of two, and a queue enabled with such a size"},
    {"drv-4.1.4.3.2-4",
     "a queue field written while that queue is enabled (queue_msix_vector included; legacy: "
     "the queue vector at 0x16 of a queue whose address is set)"},
    {"drv-4.1.4.3.2-6", "a write of 0 to queue_enable"},
    {"drv-4.1.4.5.2-1",
     "an ISR status read after DRIVER_OK while MSI-X is enabled and an event is mapped to a "
     "vector"},
    {"drv-4.1.5.1.2.2-2",
     "config_msix_vector or a queue_msix_vector set to a vector at or above the MSI-X table "
     "size (other than NO_VECTOR)"},
    {"drv-4.1.5.1.2.2-3",
     "a vector written and not read back before the next write of the same field, before its "
     "queue is enabled, or (config_msix_vector) before DRIVER_OK"},
    {"drv-4.2.2.2-1",
     "virtio-mmio: an access at an offset the register table of the device's version does not "
     "describe (gaps, version 1 registers on a version 2 device), beyond the window, or to "
     "configuration past the network device's fields"},
    {"drv-4.2.2.2-2", "virtio-mmio: a write to a read-only register"},
    {"drv-4.2.2.2-3", "virtio-mmio: a read of a write-only register"},
    {"drv-4.2.2.2-4", "virtio-mmio: a register access that is not 32 bits wide and aligned"},
    {"drv-4.2.2.2-5",
     "virtio-mmio version 2: a device configuration access that is not exactly one field at its "
     "natural width (the MAC byte by byte)"},
    {"drv-4.2.2.2-6",
     "virtio-mmio: any access other than the identity registers after the "
     "driver read a MagicValue other than 0x74726976"},
    {"drv-4.2.2.2-7",
     "virtio-mmio: any access other than the identity registers after the "
     "driver read a Version other than 1 or 2"},
    {"drv-4.2.2.2-10",
     "virtio-mmio: a DeviceFeatures read with no DeviceFeaturesSel write since the reset"},
    {"drv-4.2.2.2-11",
     "virtio-mmio: a DriverFeatures write with no DriverFeaturesSel write since the reset"},
    {"drv-4.2.2.2-12",
     "virtio-mmio: QueueNum written above QueueNumMax, or a queue made ready (QueueReady, "
     "QueuePFN) with a size of 0 or above QueueNumMax"},
    {"drv-4.2.2.2-13",
     "virtio-mmio version 2: QueueNum or a QueueDesc/Driver/Device register written while the "
     "selected queue's QueueReady is set"},
    {"drv-4.2.2.2-17",
     "virtio-mmio: an InterruptACK bit that the driver's last InterruptStatus read did not "
     "report"},
    {"drv-4.2.2.2-18", "virtio-mmio: an InterruptACK value with bits other than 0 and 1"},
    {"drv-4.2.3.1.1-1",
     "virtio-mmio: a register other than MagicValue, Version, DeviceID and VendorID accessed "
     "before MagicValue and Version were read"},
    {"drv-4.2.3.1.1-2",
     "virtio-mmio: a register other than the identity ones accessed before DeviceID was read"},
    {"drv-4.2.3.1.1-3",
     "virtio-mmio: any access other than the identity registers after DeviceID read 0"},
    {"drv-4.2.3.1.1-4", "virtio-mmio version 2: an access to a shared memory register"},
    {"drv-5.1.4.2-8",
     "with MTU negotiated, a transmitted frame (gso_type NONE) longer than mtu + 14"},
    {"drv-5.1.6.2.1-1", "a transmit header with num_buffers not 0 (12-byte headers)"},
    {"drv-5.1.6.2.1-2", "a transmit header with nonzero flags without CSUM"},
    {"drv-5.1.6.2.1-3",
     "a transmit gso_type (or the ECN bit) without its HOST_TSO4/TSO6/UFO/USO/ECN feature"},
    {"drv-5.1.6.2.1-5",
     "with HOST_TSO4/TSO6 negotiated, a TCP frame for segmentation whose header has CWR (ECN) "
     "set without HOST_ECN, or with HOST_ECN but without the GSO_ECN bit; the GSO_ECN bit on a "
     "gso_type that is not TCP (offload.cc)"},
    {"drv-5.1.6.2.1-6",
     "with CSUM, a NEEDS_CSUM frame (gso_type NONE) over IPv4 whose IPv4 header checksum, before "
     "csum_start, does not verify (offload.cc)"},
    {"drv-5.1.6.2.1-7",
     "with CSUM, a NEEDS_CSUM TCP/UDP frame whose csum_start/csum_offset name its L4 checksum "
     "and whose checksum field is not the pseudo-header sum (with the frame's L4 length)"},
    {"drv-5.1.6.2.1-8",
     "with CSUM, a NEEDS_CSUM frame with csum_start + csum_offset + 2 beyond its end; a GSO "
     "frame whose csum_start/csum_offset are not its L4 header and that header's checksum "
     "(16 TCP, 6 UDP)"},
    {"drv-5.1.6.2.1-10",
     "a transmit header with a negotiated gso_type other than NONE without NEEDS_CSUM or with "
     "gso_size 0"},
    {"drv-5.1.6.2.1-11",
     "with GUEST_HDRLEN negotiated, a GSO frame whose hdr_len is not the length of its headers "
     "through the transport header"},
    {"drv-5.1.6.2.1-12",
     "without GUEST_HDRLEN, a GSO frame whose hdr_len is less than its headers through the "
     "transport header"},
    {"drv-5.1.6.2.1-14", "a transmit header with DATA_VALID or RSC_INFO set"},
    {"drv-5.1.6.6-1",
     "legacy interface without ANY_LAYOUT: a transmit or receive header not in a descriptor of "
     "its own (kept under section 5.1.6)"},
    {"drv-6.1-1", "VERSION_1 offered on the modern interface and not accepted"},
    {"drv-6.1-3",
     "with ACCESS_PLATFORM and the mock's IOMMU on: a ring part or buffer address outside every "
     "live mapping and coherent region (never mapped, or used after unmap)"},
    {"drv-6.1-4",
     "without the IOMMU: a ring part (kept under 2.7) or buffer address (kept under 2.7.13.1) "
     "outside guest memory; packed rings: ring parts, indirect tables and buffers (kept under "
     "2.8)"},
    {"def-2.7.5-1", "a descriptor whose next is not below the queue size (kept under 2.7.5.2)"},
    {"def-2.7.6-1",
     "an available ring entry naming a head not below the queue size (kept under 2.7.13.2)"},
    {"def-4.1.4.3-1", "a queue_reset write without RING_RESET (kept under 4.1.4.3.2)"},
    {"def-4.1.4.3-2",
     "a power-of-two queue_size above the device's maximum, written or enabled (kept under "
     "4.1.4.3.2)"},
    {"def-4.1.4.5-1", "a write to the ISR status (modern)"},
    {"def-4.1.5.1.2-1",
     "a vector other than NO_VECTOR written (modern) while MSI-X is disabled in the "
     "capability's message control"},
    {"def-4.1.5.1.2-2",
     "DRIVER_OK with an event mapped to a vector that cannot be delivered: MSI-X disabled, the "
     "function masked, or the vector's table entry masked"},
    {"def-4.1.5.2-1",
     "a notification whose value, width or offset does not match the queue's notify address, "
     "or for a queue that is not set up (kept under 4.1.5.2)"},
    {"def-4.2.3.2-1",
     "virtio-mmio version 2: QueueReady set to 1 before QueueNum and all six QueueDesc/Driver/"
     "Device halves were written since the reset"},
    {"def-4.2.4-1",
     "virtio-mmio version 1: an access to a version 2 register (QueueReady, the "
     "64-bit ring addresses, ConfigGeneration, ...)"},
    {"def-4.2.4-2",
     "virtio-mmio version 1: QueuePFN written before GuestPageSize (ever), or before QueueNum or "
     "QueueAlign of that queue"},
    {"def-5.1.4-1", "a write to the device configuration (modern; kept under 5.1.4.2)"},
    {"def-5.1.6.2-1",
     "a transmit chain with device-writable descriptors or fewer readable bytes than the net "
     "header"},
    {"def-5.1.6.2-2",
     "a GSO frame (negotiated gso_type) that is not what its gso_type says: TCPV4 TCP over "
     "IPv4, TCPV6 TCP over IPv6, UDP/UDP_L4 UDP, unfragmented, headers inside the frame"},
    {"def-5.1.6.3-1", "a receive chain with device-readable descriptors"},
    // Indirect descriptors, split ring (2.7.5.3; DeviceQueue::walk).
    {"drv-2.7.5.3.1-2", "a descriptor with VIRTQ_DESC_F_INDIRECT inside an indirect table"},
    {"drv-2.7.5.3.1-3",
     "a descriptor chain whose indirect table makes it longer than the queue size"},
    {"drv-2.7.5.3.1-4", "a descriptor with both VIRTQ_DESC_F_INDIRECT and VIRTQ_DESC_F_NEXT"},
    {"def-2.7.5.3-1",
     "an indirect table whose length is not a nonzero multiple of 16, or a table entry whose "
     "next lies outside the table"},
    // In-order descriptor use, split ring (VIRTIO_F_IN_ORDER; DeviceQueue::walk).
    {"drv-2.7.5.2-2",
     "with IN_ORDER, a ring descriptor with NEXT whose next is not x + 1 (0 after the last)"},
    {"drv-2.7.5.3.1-5",
     "with IN_ORDER, an indirect table entry with NEXT whose next is not its index + 1"},
    // Packed ring (2.8; PackedDeviceQueue, and queue sizes in MockDevice).
    {"drv-2.8.11-1",
     "packed ring: a descriptor ring not aligned to 16 or an event suppression structure not "
     "aligned to 4"},
    {"drv-2.8.16-1",
     "packed ring: a descriptor made available at a position the device has not used yet (more "
     "descriptors available than the ring holds beside those in flight)"},
    {"drv-2.8.17-2", "packed ring: a descriptor chain longer than the queue size"},
    {"drv-2.8.17-3",
     "packed ring: a device-readable descriptor after a device-writable one (ring or indirect "
     "table)"},
    {"drv-2.8.17-6",
     "packed ring: a chain whose head is available continuing (NEXT) to a descriptor that is "
     "not available for its lap"},
    {"drv-2.8.19-1", "packed ring: a descriptor with INDIRECT without VIRTIO_F_INDIRECT_DESC"},
    {"drv-2.8.19-2", "packed ring: an indirect table entry with a flag other than WRITE"},
    {"drv-2.8.19-3", "packed ring: an indirect table of more descriptors than the queue size"},
    {"drv-2.8.19-4",
     "packed ring: INDIRECT on a descriptor that has NEXT or follows one (a NEXT-linked list)"},
    {"drv-4.1.4.3.2-2", "with RING_PACKED: a queue_size of 0, written or enabled"},
    {"def-2.8.1-1",
     "packed ring: a descriptor at the device's avail position with AVAIL and USED both equal "
     "to the avail wrap counter (neither available nor used by the device)"},
    {"def-2.8.7-1",
     "packed ring: an indirect descriptor whose table length is 0 or not a multiple of 16"},
    {"def-2.8.13-1",
     "packed ring: a buffer id made available while the device has that id in flight"},
    {"def-2.8.14-1",
     "packed ring: driver event suppression flags 3 (reserved) or DESC without "
     "VIRTIO_F_EVENT_IDX, at each publish"},  // The control plane (5.1.6.5; mock_ctrl.cc, and
                                              // notify in mock_device.cc).
    {"def-5.1.2-1", "a command on the control queue without VIRTIO_NET_F_CTRL_VQ negotiated"},
    {"def-5.1.6.5-1",
     "a control chain without the class and command bytes device-readable or without a "
     "device-writable ack byte (the device stops using the queue, as QEMU's virtio_error)"},
    {"def-5.1.6.5-2",
     "a control command of no defined class or command, or whose data does not have its "
     "layout (RX: one byte; ADDR_SET: 6 bytes; VLAN: one le16 id 0..4095; VQ_PAIRS_SET: one "
     "le16; RSS_CONFIG/HASH_CONFIG: as long as their table and key lengths say; "
     "GUEST_OFFLOADS_SET: one le64)"},
    {"drv-5.1.6.5.1.2-1", "RX_PROMISC or RX_ALLMULTI without VIRTIO_NET_F_CTRL_RX negotiated"},
    {"drv-5.1.6.5.1.2-2",
     "RX_ALLUNI, RX_NOMULTI, RX_NOUNI or RX_NOBCAST without VIRTIO_NET_F_CTRL_RX_EXTRA"},
    {"def-5.1.6.5.2-1", "MAC_ADDR_SET without VIRTIO_NET_F_CTRL_MAC_ADDR negotiated"},
    {"drv-5.1.6.5.2.2-1", "a MAC class command without VIRTIO_NET_F_CTRL_RX negotiated"},
    {"drv-5.1.6.5.2.2-3",
     "MAC_TABLE_SET data that is not le32 n, n addresses, le32 m, m addresses and nothing else"},
    {"def-5.1.6.5.3-1", "a VLAN class command without VIRTIO_NET_F_CTRL_VLAN negotiated"},
    {"def-5.1.6.5.4-1", "an ANNOUNCE class command without VIRTIO_NET_F_GUEST_ANNOUNCE"},
    {"def-5.1.6.5.6-1", "VQ_PAIRS_SET without VIRTIO_NET_F_MQ negotiated"},
    {"drv-5.1.6.5.6.1-1",
     "VQ_PAIRS_SET n while a receiveq/transmitq of the first n pairs is not configured"},
    {"drv-5.1.6.5.6.1-2", "VQ_PAIRS_SET of 0 or above max_virtqueue_pairs (as config says)"},
    {"drv-5.1.6.5.6.1-3",
     "a notify of a transmitq other than transmitq1 before any VQ_PAIRS_SET / RSS_CONFIG "
     "took effect"},
    {"drv-5.1.6.5.6.1-4",
     "a notify of a transmitq beyond the queue pairs the last VQ_PAIRS_SET / RSS_CONFIG "
     "enabled"},
    {"def-5.1.6.5.6.4-1",
     "HASH_CONFIG without VIRTIO_NET_F_HASH_REPORT, with hash types outside "
     "supported_hash_types, or a key longer than rss_max_key_size"},
    {"def-5.1.6.5.7.1-1",
     "RSS_CONFIG with hash_key_length above rss_max_key_size, max_tx_vq 0 or above "
     "max_virtqueue_pairs, or unclassified_queue not below max_tx_vq"},
    {"drv-5.1.6.5.7.2-1", "RSS_CONFIG without VIRTIO_NET_F_RSS negotiated"},
    {"drv-5.1.6.5.7.2-2", "an indirection_table entry not below max_tx_vq (not an enabled queue)"},
    {"drv-5.1.6.5.7.2-3", "an indirection table length (mask + 1) that is not a power of two"},
    {"drv-5.1.6.5.7.2-4",
     "indirection_table_mask not below rss_max_indirection_table_length (as config says)"},
    {"drv-5.1.6.5.7.2-5", "RSS_CONFIG hash types outside supported_hash_types (as config says)"},
    {"def-5.1.6.5.8-1",
     "a GUEST_OFFLOADS class command without VIRTIO_NET_F_CTRL_GUEST_OFFLOADS negotiated"},
    {"drv-5.1.6.5.8.2-1",
     "GUEST_OFFLOADS_SET enabling a bit that is not a negotiated receive offload (GUEST_CSUM, "
     "GUEST_TSO4/TSO6/ECN/UFO/USO4/USO6; all of them without VIRTIO_NET_F_CTRL_GUEST_OFFLOADS)"},
};

inline constexpr size_t kNumSpecRules = sizeof(kSpecRules) / sizeof(kSpecRules[0]);

// Deliberately not constexpr: reaching it in a constant evaluation is the
// compile error for an id that is not in kSpecRules.
void spec_rule_id_not_in_kSpecRules();

// A compile-time checked reference to one rule of kSpecRules.
class SpecRuleId {
 public:
  consteval SpecRuleId(const char* id) : index_(find(id)) {}  // NOLINT: implicit by design

  const SpecRule& rule() const { return kSpecRules[index_]; }
  std::string_view id() const { return kSpecRules[index_].id; }
  // The section part of the id: "drv-2.7.13.1-2" -> "2.7.13.1".
  std::string_view section() const {
    const std::string_view s = id().substr(4);
    return s.substr(0, s.rfind('-'));
  }
  size_t index() const { return index_; }

 private:
  static consteval size_t find(std::string_view id) {
    for (size_t i = 0; i < kNumSpecRules; ++i)
      if (kSpecRules[i].id == id) return i;
    spec_rule_id_not_in_kSpecRules();
    return 0;
  }
  size_t index_;
};

}  // namespace vnet::mock
