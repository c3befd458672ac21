#include "replay/mock_recording.h"

#include "driver/spec/pci_layout.h"
#include "driver/spec/virtio_constants.h"
#include "mock_device/fault.h"
#include "replay/offload_frames.h"
#include "replay/record/trace_events.h"

namespace vnet::replay {

namespace {

using mock::Fault;
using mock::FaultKind;

// Frame sizes cycle through small, medium and full-size frames.
size_t frame_size(uint32_t seq) {
  static constexpr size_t kSizes[] = {60, 64, 128, 342, 590, 1024, 1514};
  return kSizes[seq % (sizeof(kSizes) / sizeof(kSizes[0]))];
}

void stop(RecordingWorld& w) {
  w.session().stop();
}

void run_bringup(RecordingWorld& w) {
  w.bring_up(corpus_options());
  w.session().poll_device();
  stop(w);
}

void run_bringup_default_options(RecordingWorld& w) {
  w.bring_up(NetOptions{});
  w.session().poll_device();
  stop(w);
}

void run_traffic(RecordingWorld& w) {
  uint32_t seq = 0;
  w.bring_up(corpus_options());
  for (int round = 0; round < 3; ++round) w.traffic(7, &seq);
  // Interrupt suppression: off, frames arrive, on again (pending), harvest.
  w.session().set_rx_interrupts(false);
  for (int i = 0; i < 3; ++i) w.device().inject_rx(mock_frame(frame_size(seq), seq)), ++seq;
  w.session().set_rx_interrupts(true);
  w.session().rx_burst(8);
  w.session().poll_device();
  stop(w);
}

void run_link_flap(RecordingWorld& w) {
  uint32_t seq = 0;
  w.bring_up(corpus_options());
  w.traffic(2, &seq);
  w.device().set_link(false);
  w.session().poll_device();
  w.device().set_link(true);
  w.session().poll_device();
  w.traffic(2, &seq);
  stop(w);
}

void run_reset_recover(RecordingWorld& w) {
  uint32_t seq = 0;
  w.bring_up(corpus_options());
  w.traffic(3, &seq);
  w.device().device_reset();
  w.session().poll_device();  // detects the reset and recovers
  w.traffic(3, &seq);
  w.session().recover();  // caller-initiated
  w.traffic(3, &seq);
  stop(w);
}

// Misbehaviour on the data path: arm a fault, let it hit, let the driver
// notice and recover through poll_device(), then prove the device works.
void misbehave(RecordingWorld& w, const Fault& f) {
  uint32_t seq = 0;
  w.bring_up(corpus_options());
  w.traffic(2, &seq);
  w.device().arm(f);
  w.traffic(3, &seq);
  w.session().poll_device();
  w.traffic(2, &seq);
  stop(w);
}

void run_used_id_out_of_range(RecordingWorld& w) {
  misbehave(w, Fault{FaultKind::kUsedIdOutOfRange, 0, 0, 1, 3});
}
void run_used_id_stale(RecordingWorld& w) {
  misbehave(w, Fault{FaultKind::kUsedIdNotInFlight, 1, 0, 1, 0});
}
void run_used_len_over(RecordingWorld& w) {
  misbehave(w, Fault{FaultKind::kUsedLenOver, 0, 0, 1, 100});
}
void run_used_len_short(RecordingWorld& w) {
  misbehave(w, Fault{FaultKind::kUsedLenShort, 0, 0, 1, 4});
}
void run_used_idx_jump(RecordingWorld& w) {
  misbehave(w, Fault{FaultKind::kUsedIdxJump, 0, 0, 1, 0});
}
void run_rx_header_gso(RecordingWorld& w) {
  misbehave(w, Fault{FaultKind::kRxGsoType, 0, 0, 1, 4});
}

void configure_bad_config(mock::DeviceConfig& c) {
  c.mtu = 67;                                    // below the spec minimum of 68
  c.mac = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};  // multicast
  c.status = 0xFF01;                             // undefined status bits
}
void run_bad_config(RecordingWorld& w) {
  uint32_t seq = 0;
  w.bring_up(corpus_options());
  w.traffic(2, &seq);
  stop(w);
}

void run_queue_size_zero(RecordingWorld& w) {
  w.device().arm(Fault{FaultKind::kQueueSize, 0, 0, 0, 0});
  w.bring_up(corpus_options());  // fails: queue unavailable
  w.session().poll_device();
  stop(w);
}

void run_pool_empty(RecordingWorld& w) {
  w.pool().set_alloc_budget(0);
  w.bring_up(corpus_options());  // fails: no rx buffers
  w.pool().set_alloc_budget(-1);
  w.bring_up(corpus_options());  // attaching again works
  uint32_t seq = 0;
  w.traffic(2, &seq);
  stop(w);
}

// The device takes tx chains and never completes them (it processes tx
// only when told): the tx watchdog -- 3 us here, three reads of the
// recording clock -- breaks the queue on the fourth poll without progress,
// poll_device() resets the device and attaches again, and traffic flows.
void configure_tx_stuck(mock::DeviceConfig& c) {
  c.auto_process_tx = false;
}
void run_tx_watchdog(RecordingWorld& w) {
  NetOptions o = corpus_options();
  o.tx_timeout_ns = 3'000;
  w.bring_up(o);
  std::vector<std::vector<uint8_t>> tx = {mock_frame(128, 1), mock_frame(342, 2)};
  std::vector<trace::TxFrame> frames;
  for (const auto& f : tx)
    frames.push_back(trace::TxFrame{f.data(), static_cast<uint32_t>(f.size())});
  w.session().tx_burst(frames.data(), 2);
  for (int i = 0; i < 4; ++i) w.session().poll_device();  // arms, waits, fires and recovers
  w.session().tx_burst(frames.data(), 2);
  w.device().process_tx(8);
  w.session().tx_reclaim();
  for (uint32_t i = 0; i < 2; ++i) w.device().inject_rx(mock_frame(frame_size(i), 100 + i));
  w.session().rx_burst(4);
  w.session().poll_device();
  stop(w);
}

// VIRTIO_F_ORDER_PLATFORM offered and accepted: the driver's barriers are
// of DMA strength (barrier kinds dma_read, dma_write, dma_full).
void configure_order_platform(mock::DeviceConfig& c) {
  c.features |= spec::feature_mask(spec::Feature::kOrderPlatform);
}
void run_order_platform(RecordingWorld& w) {
  uint32_t seq = 0;
  w.bring_up(corpus_options());
  w.traffic(3, &seq);
  w.session().set_rx_interrupts(true);
  w.session().poll_device();
  stop(w);
}

// VIRTIO_F_ACCESS_PLATFORM offered (the device refuses FEATURES_OK
// without it, as QEMU with iommu_platform=on) on a platform with an IOMMU:
// the device is told IOVAs, never buffer addresses -- and the trace is the
// same kind of trace, since it holds no addresses.
void configure_access_platform(mock::DeviceConfig& c) {
  c.features |= spec::feature_mask(spec::Feature::kAccessPlatform);
}
void run_access_platform(RecordingWorld& w) {
  uint32_t seq = 0;
  w.platform().set_iommu(true);
  w.bring_up(corpus_options());
  w.traffic(3, &seq);
  w.device().device_reset();
  w.session().poll_device();  // every mapping dropped, the rings mapped again
  w.traffic(2, &seq);
  stop(w);
}

// Slow hardware: a reset completes only after 5 more status reads. The
// driver polls status against its deadline (a `now` per read) and goes on.
void run_reset_slow(RecordingWorld& w) {
  uint32_t seq = 0;
  w.device().arm(Fault{FaultKind::kResetLatency, -1, 0, 1, 5});
  w.bring_up(corpus_options());
  w.traffic(2, &seq);
  w.session().recover();
  w.traffic(2, &seq);
  stop(w);
}

// Interrupt-driven serving (issue 12): the platform offers MSI vectors and
// the line, the caller asks for MSI-X, and the platform's handler calls
// Session::handle_interrupt, so every interrupt is a recorded call.
//   synchronous   the mock platform delivers each interrupt at once, inside
//                 the device access that raised it (a notify, a link
//                 change): the handle_interrupt lines sit inside other
//                 calls, between two of the driver's events
//   queued        interrupts wait until the caller delivers them between
//                 calls, as the QEMU guest takes them only while it halts
// The caller does what the IrqWork asks: rx_burst then set_rx_interrupts
// (poll again when it says completions raced in), tx_reclaim, poll_device.
void configure_msix(mock::DeviceConfig& c) {
  c.msix_vectors = 4;
}
void configure_no_msix(mock::DeviceConfig& c) {
  c.msix_vectors = 0;  // no MSI-X capability: the ladder falls to INTx
}
void run_interrupts(RecordingWorld& w, bool synchronous) {
  IrqWork pending;
  w.platform().set_msi_vectors(kMaxMsiVectors);
  w.platform().set_line(true);
  w.platform().set_interrupt_handler(
      [&w, &pending](IrqSource source) {
        const IrqWork k = w.session().handle_interrupt(source);
        pending.rx = pending.rx || k.rx;
        pending.tx = pending.tx || k.tx;
        pending.control = pending.control || k.control;
      },
      synchronous);
  auto serve = [&] {
    w.platform().deliver_interrupts();
    const IrqWork k = pending;
    pending = IrqWork{};
    if (k.control) w.session().poll_device();
    if (k.rx) {
      // Bounded: the ring holds at most rx_ring_cap frames.
      for (int i = 0; i < 4; ++i) {
        if (w.session().rx_burst(8) == 8) continue;
        if (!w.session().set_rx_interrupts(true)) break;
      }
    }
    if (k.tx) w.session().tx_reclaim();
  };
  NetOptions o = corpus_options();
  o.interrupts = InterruptMode::kMsix;
  w.bring_up(o);
  uint32_t seq = 0;
  w.session().set_rx_interrupts(true);
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 2; ++i) w.device().inject_rx(mock_frame(frame_size(seq), seq)), ++seq;
    serve();
    std::vector<std::vector<uint8_t>> tx = {mock_frame(frame_size(seq), seq),
                                            mock_frame(frame_size(seq + 1), seq + 1)};
    seq += 2;
    std::vector<trace::TxFrame> frames;
    for (const auto& f : tx)
      frames.push_back(trace::TxFrame{f.data(), static_cast<uint32_t>(f.size())});
    if (w.session().set_tx_interrupts(true)) w.session().tx_reclaim();
    w.session().tx_burst(frames.data(), 2);
    serve();
    w.session().set_tx_interrupts(false);
  }
  // A configuration change: the config vector, or ISR bit 1 on the line.
  w.device().set_link(false);
  serve();
  w.device().set_link(true);
  serve();
  // An interrupt with nothing behind it: a message on the rx vector with no
  // used entry, or another function pulsing the shared line (ISR 0).
  w.device().arm(Fault{FaultKind::kSpuriousInterrupt, -1, 0, 1, 1});
  w.device().tick();
  serve();
  w.traffic(1, &seq);
  serve();
  w.session().set_rx_interrupts(false);
  stop(w);
  serve();
  w.platform().set_interrupt_handler(nullptr);
}
void run_irq_msix(RecordingWorld& w) {
  run_interrupts(w, true);
}
void run_irq_intx(RecordingWorld& w) {
  run_interrupts(w, false);
}

// The control plane (issue 15): the driver takes the control queue the
// mock offers by default (CTRL_VQ, CTRL_RX, CTRL_RX_EXTRA, CTRL_VLAN,
// CTRL_MAC_ADDR, GUEST_ANNOUNCE), so every command's chain, its ack fetch
// and its completion are in the trace.
NetOptions ctrl_options() {
  NetOptions o = corpus_options();
  o.accept_ctrl_vq = true;
  return o;
}

// A frame to dst (unicast or multicast), with an 802.1Q tag when vid != 0.
std::vector<uint8_t> frame_to(const uint8_t dst[6], uint32_t seq, uint16_t vid = 0) {
  std::vector<uint8_t> f = mock_frame(128, seq);
  for (int i = 0; i < 6; ++i) f[static_cast<size_t>(i)] = dst[i];
  if (vid != 0) {
    const uint8_t tag[4] = {0x81, 0x00, static_cast<uint8_t>(vid >> 8), static_cast<uint8_t>(vid)};
    f.insert(f.begin() + 12, tag, tag + 4);
  }
  return f;
}

void run_ctrl_plane(RecordingWorld& w) {
  uint32_t seq = 0;
  w.bring_up(ctrl_options());  // attach: PROMISC off, ALLMULTI off
  w.traffic(2, &seq);
  trace::Session& s = w.session();
  static constexpr uint8_t kForeign[6] = {0x02, 0x00, 0x00, 0x00, 0x99, 0x01};
  static constexpr uint8_t kGroup[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x07};
  // Promiscuous: a frame for another MAC is filtered, then delivered.
  w.device().inject_rx(frame_to(kForeign, seq++));
  s.rx_burst(4);
  s.set_rx_mode(RxMode::kPromiscuous, true);
  w.device().inject_rx(frame_to(kForeign, seq++));
  s.rx_burst(4);
  s.set_rx_mode(RxMode::kPromiscuous, false);
  s.set_rx_mode(RxMode::kAllMulticast, true);
  s.set_rx_mode(RxMode::kAllMulticast, false);
  s.set_rx_mode(RxMode::kNoBroadcast, true);
  s.set_rx_mode(RxMode::kNoBroadcast, false);
  // MAC filter: one unicast, one multicast address admitted.
  const MacAddr uc[1] = {{{0x02, 0x00, 0x00, 0x00, 0x99, 0x01}}};
  const MacAddr mc[2] = {{{0x01, 0x00, 0x5e, 0x00, 0x00, 0x07}},
                         {{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}}};
  s.set_mac_filter(uc, 1, mc, 2);
  w.device().inject_rx(frame_to(kForeign, seq++));
  w.device().inject_rx(frame_to(kGroup, seq++));
  s.rx_burst(4);
  s.set_mac_filter(nullptr, 0, nullptr, 0);
  // A new MAC address; frames to it are delivered.
  static constexpr uint8_t kNewMac[6] = {0x02, 0x00, 0x00, 0x00, 0x42, 0x42};
  s.set_mac_address(kNewMac);
  w.device().inject_rx(frame_to(kNewMac, seq++));
  s.rx_burst(4);
  // VLAN 100: a tagged frame filtered, admitted after add, filtered after remove.
  w.device().inject_rx(frame_to(kNewMac, seq++, 100));
  s.rx_burst(4);
  s.add_vlan(100);
  w.device().inject_rx(frame_to(kNewMac, seq++, 100));
  s.rx_burst(4);
  s.remove_vlan(100);
  // Arguments the driver refuses before sending anything (no chain).
  s.add_vlan(4096);
  s.set_queue_pairs(2);  // MQ not negotiated: unsupported
  s.poll_device();
  stop(w);
}

// A device that acknowledges a command with neither OK nor ERR: the
// command fails (device fault), the device is reset and recovered, and the
// driver restores what was acknowledged before (restore_control_state).
void run_ctrl_bad_ack(RecordingWorld& w) {
  uint32_t seq = 0;
  w.bring_up(ctrl_options());
  w.session().set_rx_mode(RxMode::kAllMulticast, true);
  w.device().arm(Fault{FaultKind::kCtrlAckValue, -1, 0, 1, 2});
  w.session().add_vlan(7);
  w.session().poll_device();  // recovers; ALLMULTI on again
  w.traffic(2, &seq);
  w.session().add_vlan(7);
  stop(w);
}

// Multiqueue (MQ): two pairs; VQ_PAIRS_SET, traffic on pair 1, back to one.
void configure_mq(mock::DeviceConfig& c) {
  c.offer_mq = true;
  c.max_virtqueue_pairs = 2;
}
void run_ctrl_mq(RecordingWorld& w) {
  uint32_t seq = 0;
  NetOptions o = ctrl_options();
  o.max_queue_pairs = 2;
  w.bring_up(o);
  trace::Session& s = w.session();
  s.set_queue_pairs(2);
  w.traffic(2, &seq);
  std::vector<std::vector<uint8_t>> tx;
  for (uint32_t i = 0; i < 3; ++i) tx.push_back(mock_frame(frame_size(seq + i), seq + i));
  std::vector<trace::TxFrame> frames;
  for (const auto& f : tx)
    frames.push_back(trace::TxFrame{f.data(), static_cast<uint32_t>(f.size())});
  s.tx_burst_on(1, frames.data(), static_cast<uint16_t>(frames.size()));
  // Frames to the device's own MAC: the receive filter (promiscuous off
  // since attach) delivers them, on pair 1 and pair 0.
  const uint8_t* own = w.session().net().mac();
  for (uint32_t i = 0; i < 3; ++i) w.device().inject_rx_pair(1, frame_to(own, seq + 100 + i));
  w.device().inject_rx_pair(0, frame_to(own, seq + 200));
  s.rx_burst(8);
  s.rx_burst_on(1, 8);
  s.tx_reclaim_on(1);
  seq += 3;
  s.set_queue_pairs(1);
  w.traffic(2, &seq);
  stop(w);
}

// ---- offloads (issue 16) --------------------------------------------------------
// The mock device offers what a tap with vnet_hdr=on offers (CSUM,
// GUEST_CSUM, HOST/GUEST TSO4/TSO6/ECN, USO, CTRL_GUEST_OFFLOADS); the
// driver takes the offloads the options ask for. The traces then hold the
// attach options, each tx frame's PacketOffload request ("offload"), each
// delivered frame's buffers and offload result ("delivered"), and the
// set_guest_offloads calls.
void configure_offloads(mock::DeviceConfig& c) {
  c.offer_offloads = true;
}
void configure_offloads_rx(mock::DeviceConfig& c) {
  c.offer_offloads = true;
  c.rx_mergeable = true;  // a frame above one buffer spreads over several (MRG_RXBUF)
  c.rx_csum_mode = mock::DeviceConfig::RxCsumMode::kDataValid;
}

// Transmit: checksum requests (TCP/IPv4, UDP/IPv6), TSO4 and TSO6 frames
// above the MTU as fragment chains the device segments, and two requests
// the driver refuses before publishing anything (a TSO frame without a
// segment size, a checksum offset beyond the frame): dropped and counted.
void run_offload_tx(RecordingWorld& w) {
  NetOptions o = corpus_options();
  o.accept_tx_csum = true;
  o.accept_tso = true;
  w.bring_up(o);
  L4FrameSpec tcp4;
  tcp4.payload = 546;
  tcp4.seq = 1000;
  L4FrameSpec udp6;
  udp6.ipv6 = true;
  udp6.udp = true;
  udp6.payload = 300;
  L4FrameSpec tso4 = tcp4;
  tso4.payload = 4000 - l4_headers(tcp4);
  tso4.seq = 5000;
  L4FrameSpec tso6;
  tso6.ipv6 = true;
  tso6.payload = 3000 - l4_headers(tso6);
  tso6.seq = 9000;
  std::vector<std::vector<uint8_t>> tx = {l4_frame(tcp4, L4Checksum::kPartial),
                                          l4_frame(udp6, L4Checksum::kPartial),
                                          l4_frame(tso4, L4Checksum::kPartial),
                                          l4_frame(tso6, L4Checksum::kPartial), mock_frame(128, 1)};
  std::vector<PacketOffload> req = {tx_offload_request(tcp4), tx_offload_request(udp6),
                                    tx_offload_request(tso4, 1448), tx_offload_request(tso6, 1000),
                                    PacketOffload{}};
  static constexpr uint32_t kTso4Frags[3] = {1500, 1500, 1000};
  static constexpr uint32_t kTso6Frags[2] = {2000, 1000};
  std::vector<trace::TxFrame> frames;
  for (const auto& f : tx)
    frames.push_back(trace::TxFrame{f.data(), static_cast<uint32_t>(f.size())});
  frames[2].frag_lens = kTso4Frags;
  frames[2].num_frags = 3;
  frames[3].frag_lens = kTso6Frags;
  frames[3].num_frags = 2;
  w.session().tx_burst_offload_on(0, frames.data(), req.data(),
                                  static_cast<uint16_t>(frames.size()));
  w.session().tx_reclaim();
  // Refused by the driver: TSO without gso_size; csum_start + csum_offset
  // + 2 beyond the frame.
  std::vector<PacketOffload> bad = {tx_offload_request(tcp4), tx_offload_request(tcp4)};
  bad[0].gso = GsoKind::kTcp4;
  bad[1].csum_offset = static_cast<uint16_t>(tx[0].size());
  w.session().tx_burst_offload_on(0, frames.data(), bad.data(), 2);
  uint32_t seq = 0;
  w.traffic(2, &seq);
  stop(w);
}

// Receive: a frame the device verified (DATA_VALID: csum verified), GSO
// frames coalesced by the device -- TCP/IPv4 and TCP/IPv6 of several
// segments, a UDP (USO4) frame -- each spread over several rx buffers
// (MRG_RXBUF) and delivered as a chain with its GSO result; the guest
// offloads switched to checksums only (GSO frames refused by the device)
// and back (CTRL_GUEST_OFFLOADS); then three lies, each frame dropped and
// counted: a gso_type that is not the frame's protocol (TCPV6 on IPv4), a
// csum_start beyond the frame, a second buffer of a chain with nothing
// written (used.len 0); a good GSO frame after them.
void run_offload_rx(RecordingWorld& w) {
  NetOptions o = ctrl_options();
  o.accept_rx_csum = true;
  o.accept_rx_gso = true;
  o.rx_chains = true;
  w.bring_up(o);
  trace::Session& s = w.session();
  mock::MockDevice& d = w.device();
  L4FrameSpec tcp4;
  tcp4.payload = 400;
  tcp4.seq = 100;
  d.inject_rx(l4_frame(tcp4, L4Checksum::kFull));
  L4FrameSpec gso4 = tcp4;
  gso4.payload = 5000;
  gso4.seq = 20000;
  d.inject_rx_gso(l4_frame(gso4, L4Checksum::kFull), 1448);
  L4FrameSpec gso6;
  gso6.ipv6 = true;
  gso6.seq = 40000;
  d.inject_rx_coalesced(tcp_segments(gso6, 4 * 1220, 1220));
  L4FrameSpec uso4;
  uso4.udp = true;
  uso4.payload = 2400;
  d.inject_rx_gso(l4_frame(uso4, L4Checksum::kFull), 1200);
  s.rx_burst(8);
  // Checksums only: the device refuses GSO frames; a small one still comes.
  s.set_guest_offloads(spec::feature_mask(spec::Feature::kNetGuestCsum));
  d.inject_rx_gso(l4_frame(gso4, L4Checksum::kFull), 1448);
  d.inject_rx(l4_frame(tcp4, L4Checksum::kFull));
  s.rx_burst(8);
  // Everything negotiated again, and two lies.
  s.set_guest_offloads(s.net().negotiated_features() & kGuestOffloadBits);
  d.arm(Fault{FaultKind::kRxGsoWrongProtocol, -1, 0, 1, spec::net_hdr::kGsoTcpV6});
  d.inject_rx_gso(l4_frame(gso4, L4Checksum::kFull), 1448);
  d.arm(Fault{FaultKind::kRxCsumStart, -1, 0, 1, 0xF000});
  d.inject_rx_gso(l4_frame(gso4, L4Checksum::kFull), 1448);
  d.arm(Fault{FaultKind::kRxMergedLen, -1, 0, 1, 0});
  d.inject_rx_gso(l4_frame(gso4, L4Checksum::kFull), 1448);
  d.inject_rx_gso(l4_frame(gso4, L4Checksum::kFull), 1448);
  s.rx_burst(8);
  uint32_t seq = 0;
  w.traffic(2, &seq);
  stop(w);
}

}  // namespace

std::vector<uint8_t> mock_frame(size_t size, uint32_t seq) {
  std::vector<uint8_t> f(size);
  for (size_t i = 0; i < size; ++i) f[i] = static_cast<uint8_t>(seq * 131 + i * 7 + (i >> 8));
  const uint8_t hdr[14] = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x88, 0xB5};
  for (size_t i = 0; i < 14 && i < size; ++i) f[i] = hdr[i];
  return f;
}

NetOptions corpus_options() {
  NetOptions o;
  o.rx_ring_cap = 16;
  o.tx_ring_cap = 16;
  return o;
}

RecordingWorld::RecordingWorld(const MockKind& kind, mock::DeviceConfig config)
    : kind_(kind),
      config_((config.transport = kind.device, config)),
      writer_(trace::ByteSink{append, &body_}),
      device_(memory_, config_),
      platform_(device_, memory_),
      pool_(memory_, kPoolBuffers),
      recording_platform_(platform_, writer_),
      recording_pool_(std::make_unique<trace::RecordingPool>(pool_, writer_)),
      tap_(writer_),
      session_(std::make_unique<trace::Session>(recording_platform_, *recording_pool_, &tap_)) {
  // A counter, not the host clock: recordings are reproducible.
  platform_.set_clock([this] { return clock_ += 1000; });
}

void RecordingWorld::append(void* context, const char* data, size_t len) {
  static_cast<std::string*>(context)->append(data, len);
}

AttachError RecordingWorld::bring_up(const NetOptions& options) {
  if (session_->probe_result().transport == nullptr) {
    if (mock::is_mmio(config_.transport))
      session_->probe_mmio(mock_mmio_window(config_));
    else
      session_->probe(kind_.mode);
  }
  return session_->attach(options);
}

void RecordingWorld::traffic(uint32_t n, uint32_t* seq) {
  std::vector<std::vector<uint8_t>> tx;
  for (uint32_t i = 0; i < n; ++i) tx.push_back(mock_frame(frame_size(*seq + i), *seq + i));
  std::vector<trace::TxFrame> frames;
  for (const auto& f : tx)
    frames.push_back(trace::TxFrame{f.data(), static_cast<uint32_t>(f.size())});
  session_->tx_burst(frames.data(), static_cast<uint16_t>(frames.size()));
  for (uint32_t i = 0; i < n; ++i) {
    device_.inject_rx(mock_frame(frame_size(*seq + i + 3), *seq + i + 1000));
  }
  session_->rx_burst(static_cast<uint16_t>(n + 2));
  session_->tx_reclaim();
  *seq += n;
}

std::string RecordingWorld::finish(const std::string& scenario, const std::string& when) {
  trace::write_end(writer_);
  writer_.flush();
  std::string header;
  trace::TraceWriter hw(trace::ByteSink{append, &header});
  hw.set_compact(writer_.compact());  // the header says version 2 when compacting
  trace::TraceHeader h;
  h.driver_version = VNET_VERSION;
  const ProbeResult& probe = session_->probe_result();
  h.transport = probe.transport != nullptr ? probe.transport->name() : nullptr;
  h.has_device = true;
  h.device_kind = mock::transport_kind_name(config_.transport);
  if (mock::is_mmio(config_.transport)) {
    h.is_mmio = true;
    h.mmio_version = device_.mmio_version();
    h.mmio_device_id = config_.mmio_device_id;
    h.mmio_vendor_id = config_.mmio_vendor_id;
    h.mmio_window = config_.mmio_window_size;
  } else {
    h.vendor = static_cast<uint16_t>(device_.pci_config_read(spec::pci::kVendorId, 2));
    h.device = static_cast<uint16_t>(device_.pci_config_read(spec::pci::kDeviceId, 2));
    h.subsystem = static_cast<uint16_t>(device_.pci_config_read(spec::pci::kSubsystemId, 2));
    h.revision = static_cast<uint8_t>(device_.pci_config_read(spec::pci::kRevisionId, 1));
  }
  h.has_features = true;
  h.offered = config_.features;
  h.negotiated = session_->net().negotiated_features();
  h.num_queues = 2;
  h.queue_sizes[0] = config_.queue_sizes[0];
  h.queue_sizes[1] = config_.queue_sizes[1];
  // With a control queue (issue 15): every pair's queues, then the
  // control queue's (traces without one keep their two sizes).
  const uint64_t negotiated = session_->net().negotiated_features();
  if ((negotiated & spec::feature_mask(spec::Feature::kNetCtrlVq)) != 0) {
    const bool mq = (negotiated & spec::feature_mask(spec::Feature::kNetMq)) != 0;
    const uint16_t pairs =
        mq && config_.max_virtqueue_pairs >= 1 && config_.max_virtqueue_pairs <= kMaxQueuePairs
            ? config_.max_virtqueue_pairs
            : 1;
    h.num_queues = static_cast<uint16_t>(2 * pairs + 1);
    for (uint16_t i = 0; i < 2 * pairs; ++i) h.queue_sizes[i] = config_.queue_sizes[i & 1];
    h.queue_sizes[2 * pairs] = config_.queue_sizes[2];
  }
  h.pool_buffer_size = pool_.buffer_size();
  h.pool_buffers = static_cast<uint32_t>(pool_.capacity());
  h.recorded_where = "mock";
  h.recorded_when = when.c_str();
  h.recorded_by = "vnet-record-mock";
  const std::string name = std::string(kind_.name) + "/" + scenario;
  h.scenario = name.c_str();
  trace::write_header(hw, h);
  hw.flush();
  return header + body_;
}

const std::vector<MockScenario>& mock_scenarios() {
  static const std::vector<MockScenario> kScenarios = {
      {"bringup", "probe, attach, poll, stop", ScenarioKinds::kAll, run_bringup, nullptr, true},
      {"bringup_default_options", "attach with the default ring caps", ScenarioKinds::kAll,
       run_bringup_default_options, nullptr, true},
      {"traffic", "frames both ways, interrupt suppression", ScenarioKinds::kAll, run_traffic,
       nullptr, true},
      {"link_flap", "link down and up, seen by poll_device", ScenarioKinds::kAll, run_link_flap,
       nullptr, true},
      {"reset_recover", "device reset detected and recovered; caller recover()",
       ScenarioKinds::kAll, run_reset_recover, nullptr, true},
      {"used_id_out_of_range", "rx used id beyond the ring: queue broken, recovered",
       ScenarioKinds::kLegacyModern, run_used_id_out_of_range, nullptr, true},
      {"used_id_stale", "tx used id not in flight: queue broken, recovered",
       ScenarioKinds::kLegacyModern, run_used_id_stale, nullptr},
      {"used_len_over", "rx used length above the posted buffer: dropped",
       ScenarioKinds::kLegacyModern, run_used_len_over, nullptr, true},
      {"used_len_short", "rx used length below the header: dropped", ScenarioKinds::kLegacyModern,
       run_used_len_short, nullptr},
      {"used_idx_jump", "rx used index jumps past the ring: queue broken, recovered",
       ScenarioKinds::kLegacyModern, run_used_idx_jump, nullptr},
      {"rx_header_gso", "rx header with a GSO type not negotiated: dropped",
       ScenarioKinds::kLegacyModern, run_rx_header_gso, nullptr},
      {"bad_config", "mtu 67, multicast mac, undefined status bits", ScenarioKinds::kLegacyModern,
       run_bad_config, configure_bad_config, true},
      {"queue_size_zero", "receive queue size 0: attach fails", ScenarioKinds::kLegacyModern,
       run_queue_size_zero, nullptr, true},
      {"pool_empty", "empty pool fails attach; attaching again works", ScenarioKinds::kLegacyModern,
       run_pool_empty, nullptr},
      {"tx_watchdog", "tx never completed: watchdog, device reset, traffic again",
       ScenarioKinds::kLegacyModern, run_tx_watchdog, configure_tx_stuck},
      {"order_platform", "ORDER_PLATFORM negotiated: DMA-strength barriers", ScenarioKinds::kModern,
       run_order_platform, configure_order_platform},
      {"access_platform", "ACCESS_PLATFORM through an IOMMU: traffic, device reset, traffic",
       ScenarioKinds::kModern, run_access_platform, configure_access_platform},
      {"reset_slow", "resets that take 5 status reads: waited for", ScenarioKinds::kLegacyModern,
       run_reset_slow, nullptr, true},
      {"irq_msix",
       "MSI-X: frames both ways, a link change and a spurious message, each interrupt taken "
       "inside the device access that raised it (handle_interrupt within other calls)",
       ScenarioKinds::kAll, run_irq_msix, configure_msix},
      {"irq_intx",
       "no MSI-X capability: INTx, interrupts delivered between calls (the ISR read "
       "acknowledges), a link change and another function's pulse of the shared line",
       ScenarioKinds::kLegacyModern, run_irq_intx, configure_no_msix, true},
      {"ctrl_plane",
       "control queue: promiscuous, all-multicast, no-broadcast, MAC filter, MAC address, "
       "VLAN add/remove, each seen in what the receive filter delivers; refused arguments",
       ScenarioKinds::kAll, run_ctrl_plane, nullptr, true},
      {"ctrl_bad_ack", "a control ack that is neither OK nor ERR: device fault, recovered",
       ScenarioKinds::kLegacyModern, run_ctrl_bad_ack, nullptr, true},
      {"ctrl_mq", "two queue pairs: VQ_PAIRS_SET, traffic on pair 1, back to one pair",
       ScenarioKinds::kModern, run_ctrl_mq, configure_mq},
      {"offload_tx",
       "CSUM and HOST_TSO4/TSO6: checksum requests, TSO frames of fragment chains segmented by "
       "the device, two requests the driver refuses",
       ScenarioKinds::kLegacyModern, run_offload_tx, configure_offloads},
      {"offload_rx",
       "GUEST_CSUM and GUEST_TSO/USO over MRG_RXBUF: a verified frame, coalesced TCP4/TCP6 and "
       "USO4 frames as receive chains, CTRL_GUEST_OFFLOADS off and on, three lies dropped",
       ScenarioKinds::kModern, run_offload_rx, configure_offloads_rx},
  };
  return kScenarios;
}

bool scenario_applies(const MockScenario& s, const MockKind& k) {
  const std::string name = k.name;
  if (mock::is_mmio(k.device)) return s.mmio;
  switch (s.kinds) {
    case ScenarioKinds::kAll:
      return true;
    case ScenarioKinds::kLegacyModern:
      return name == "legacy" || name == "modern";
    case ScenarioKinds::kModern:
      return name == "modern";
  }
  return false;
}

std::string corpus_file_name(const MockScenario& s, const MockKind& k) {
  return std::string(k.name) + "-" + s.name + ".jsonl";
}

std::string record_scenario(const MockScenario& s, const MockKind& k, const std::string& when,
                            bool compact) {
  mock::DeviceConfig cfg;
  if (s.configure != nullptr) s.configure(cfg);
  RecordingWorld w(k, cfg);
  w.set_compact(compact);
  s.run(w);
  return w.finish(s.name, when);
}

std::string record_long_traffic(const MockKind& k, size_t events) {
  RecordingWorld w(k);
  NetOptions o;
  o.rx_ring_cap = 128;
  o.tx_ring_cap = 128;
  w.bring_up(o);
  std::vector<std::vector<uint8_t>> tx;
  for (uint32_t i = 0; i < 32; ++i) tx.push_back(mock_frame(60, i));
  std::vector<trace::TxFrame> frames;
  for (const auto& f : tx)
    frames.push_back(trace::TxFrame{f.data(), static_cast<uint32_t>(f.size())});
  const auto rx = mock_frame(60, 7);
  while (w.session().net().state() == NetState::kRunning && w.events() < events) {
    w.session().tx_burst(frames.data(), static_cast<uint16_t>(frames.size()));
    for (int i = 0; i < 32; ++i) w.device().inject_rx(rx);
    w.session().rx_burst(32);
  }
  w.session().stop();
  return w.finish("long_traffic", "");
}

}  // namespace vnet::replay
