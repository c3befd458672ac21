// What crossed the tap (--net tap, issue 16): the device side's view of
// the guest's offloads, taken inside the run's network namespace.
//
//   guest --virtio-net--> QEMU --vnet header--> tap (vnt0) --> host stack
//                                                 ^
//                                     AF_PACKET socket bound to the tap:
//                                     every frame both ways, its real
//                                     length (MSG_TRUNC) and the kernel's
//                                     checksum status (PACKET_AUXDATA)
//
// With vnet_hdr=on QEMU hands the guest's frames to the tap together with
// their virtio-net header, and the tap makes them kernel packets that still
// carry it: a TSO frame is ONE packet of up to 64 KiB with its segment size
// (the kernel segments it only if it must leave through a device that
// cannot), and a frame whose checksum the guest left to the device is a
// CHECKSUM_PARTIAL packet, which a packet socket reports as
// TP_STATUS_CSUMNOTREADY. So, from the guest (PACKET_HOST/BROADCAST...):
//
//   from_guest_over_mtu   frames longer than MTU + 14: segments the guest
//                         sent for the device to cut (TSO)
//   csum_not_ready        frames whose checksum is still to be completed
//   csum_partial_ok       of those IPv4/TCP ones, the checksum field holds
//                         exactly the pseudo-header sum -- completing it
//                         over the segment gives the right checksum
//   csum_partial_bad      ... and ones whose field does not (a guest bug)
//
// and to the guest (PACKET_OUTGOING): to_guest_over_mtu, frames the host
// stack sent as one coalesced packet (GUEST_TSO4 negotiated: QEMU turned
// the tap's TSO offload on, so the host's TCP sends GSO packets).
//
// Optionally every frame's first kSnapLen bytes go to a pcap file
// (LINKTYPE_ETHERNET, the original length in each record's orig_len).
#pragma once

#include <stdint.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

namespace vnetqemu {

struct TapCaptureStats {
  uint64_t from_guest = 0;
  uint64_t from_guest_over_mtu = 0;
  uint64_t from_guest_max = 0;
  uint64_t csum_not_ready = 0;
  uint64_t csum_partial_ok = 0;
  uint64_t csum_partial_bad = 0;
  uint64_t to_guest = 0;
  uint64_t to_guest_over_mtu = 0;
  uint64_t to_guest_max = 0;
};

class TapCapture {
 public:
  static constexpr uint32_t kSnapLen = 128;

  TapCapture() = default;
  TapCapture(const TapCapture&) = delete;
  TapCapture& operator=(const TapCapture&) = delete;
  ~TapCapture() { stop(); }

  // Opens the socket on ifname (in the caller's network namespace) and
  // starts reading; frames longer than mtu + 14 count as over the MTU.
  // pcap_path: also write a pcap ("" for none).
  bool start(const std::string& ifname, uint32_t mtu, const std::string& pcap_path,
             std::string* error);
  void stop();
  TapCaptureStats stats();

 private:
  void run();
  void count(const uint8_t* frame, uint32_t caplen, uint32_t len, bool outgoing, uint32_t status);

  int fd_ = -1;
  FILE* pcap_ = nullptr;
  uint32_t mtu_ = 1500;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;
  TapCaptureStats stats_;
};

}  // namespace vnetqemu
