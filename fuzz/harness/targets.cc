#include "fuzz/harness/targets.h"

#include "fuzz/harness/ctrl_script.h"

#include "driver/spec/mmio_layout.h"
#include "driver/spec/virtio_constants.h"
#include "fuzz/harness/setups.h"
#include "fuzz/harness/world.h"

namespace vnet::fuzz {

namespace {

// Interrupt delivery of a mock-device input (issue 12), from two bits:
// 0 polling (the platform offers nothing), 1 INTx, 2 MSI-X (three vectors:
// config, rx, tx), 3 MSI-X with a device of one vector (the driver must
// fall back). The platform offers three messages and a routed line
// whenever the driver is to use interrupts.
struct IrqChoice {
  InterruptMode mode = InterruptMode::kPolling;
  uint16_t device_vectors = 0;
  bool offered = false;
};
IrqChoice irq_choice(unsigned bits, mock::DeviceConfig* config, NetOptions* options) {
  IrqChoice c;
  switch (bits & 3) {
    case 1:
      c.mode = InterruptMode::kIntx;
      break;
    case 2:
      c.mode = InterruptMode::kMsix;
      c.device_vectors = 3;
      break;
    case 3:
      c.mode = InterruptMode::kMsix;
      c.device_vectors = 1;
      break;
    default:
      break;
  }
  c.offered = c.mode != InterruptMode::kPolling;
  config->msix_vectors = c.device_vectors;
  // MSI-X in a memory BAR of its own (QEMU: BAR 1), never the modern one.
  if (c.device_vectors != 0 && config->modern_bar == config->msix_bar)
    config->msix_bar = config->modern_bar == 2 ? 3 : 2;
  options->interrupts = c.mode;
  return c;
}
void offer(World& w, const IrqChoice& c) {
  w.mock_shim().offer_interrupts(c.offered ? 3 : 0, c.offered);
}

// A virtio-mmio window from two input values: kind (2 bits) and a small
// number. QEMU's 0x200 bytes; a short configuration window (0x100 + n:
// fields the offer needs may not fit); one smaller than the register file;
// one of 4 GiB and more (offsets are 32-bit: the driver must cap it).
MmioWindow mmio_window(unsigned kind, unsigned n, bool no_line) {
  MmioWindow w;
  w.base = 0xFEB00E00;  // QEMU microvm's last slot (reported only)
  switch (kind & 3) {
    case 0:
      w.size = spec::mmio::kQemuWindowSize;
      break;
    case 1:
      w.size = spec::mmio::kConfig + n % 64;
      break;
    case 2:
      w.size = n % spec::mmio::kConfig;
      break;
    default:
      w.size = (uint64_t{1} << 32) + spec::mmio::kConfig + n % 64;
      break;
  }
  w.irq = no_line ? -1 : 12;
  return w;
}

}  // namespace

int run_fuzz_used_ring(const uint8_t* data, size_t size) {
  Input in(data, size);
  const uint8_t flavour = in.u8();
  const Flavour& f = kFlavours[flavour & 3];
  NetOptions options = fuzz_net_options();
  options.rx_ring_cap = static_cast<uint16_t>(1 + in.u8() % 64);
  options.tx_ring_cap = static_cast<uint16_t>(1 + in.u8() % 32);
  if (flavour & 4) options.irq_storm_limit = kFuzzStormLimit;
  const uint16_t qsize = static_cast<uint16_t>(1u << (3 + in.u8() % 6));
  mock::DeviceConfig config;
  config.transport = f.device;
  config.queue_sizes = {qsize, qsize, 64};
  config.auto_process_tx = (flavour & 0x80) == 0;
  // Bit 3: IN_ORDER, the device completing tx in batches of 4 with one used
  // entry; bit 4: indirect descriptors accepted (the device offers them).
  if (flavour & 8) {
    options.accept_in_order = true;
    config.offer_in_order = true;
    config.in_order_batch = 4;
  }
  options.accept_indirect_desc = (flavour & 0x10) != 0;
  const IrqChoice irq = irq_choice(flavour >> 5, &config, &options);

  World& w = World::get();
  w.begin_mock(config, "fuzz_used_ring");
  offer(w, irq);
  install_used_hook(w);
  if (w.bring_up(f.mode, options)) run_mock_script(w, in, kUsedRingTable);
  w.end();
  return 0;
}

int run_fuzz_packed_ring(const uint8_t* data, size_t size) {
  Input in(data, size);
  const uint8_t flavour = in.u8();
  NetOptions options = fuzz_net_options();
  options.accept_ring_packed = true;
  options.rx_ring_cap = static_cast<uint16_t>(1 + in.u8() % 64);
  const uint8_t tx_cap = in.u8();
  options.tx_ring_cap = static_cast<uint16_t>(1 + tx_cap % 32);
  if (flavour & 4) options.irq_storm_limit = kFuzzStormLimit;
  if (flavour & 8) options.feature_mask &= ~spec::feature_mask(spec::Feature::kEventIdx);
  // Queue sizes: 2..256 as a power of two, or (bit 7) any maximum 1..255
  // (2.8 needs no power of two; the net layer asks for one within it).
  const uint8_t q = in.u8();
  const uint16_t qsize = (q & 0x80) != 0 ? static_cast<uint16_t>(1 + (q & 0x7F) * 2)
                                         : static_cast<uint16_t>(2u << (q % 8));
  // qsize bit 3 (the power-of-two form ignores it): indirect descriptors;
  // bit 4: IN_ORDER, the device completing batches of 4 with one used
  // descriptor (2.8.9).
  options.accept_indirect_desc = (q & 0x88) == 0x08;
  const bool in_order = (q & 0x90) == 0x10;
  options.accept_in_order = in_order;
  mock::DeviceConfig config;
  static constexpr mock::TransportKind kKinds[] = {
      mock::TransportKind::kModern, mock::TransportKind::kTransitional,
      mock::TransportKind::kMmioV2, mock::TransportKind::kModern};
  config.transport = kKinds[flavour & 3];
  config.offer_ring_packed = true;
  if (in_order) {
    config.offer_in_order = true;
    config.in_order_batch = 4;
  }
  config.queue_sizes = {qsize, qsize, 64};
  // tx_cap bit 5 (the cap's modulus ignores it; issue 16): receive chains
  // over the packed ring -- mergeable buffers, a 9000-byte device MTU.
  if (tx_cap & 0x20) {
    config.rx_mergeable = true;
    config.mtu = 9000;
    options.rx_chains = true;
  }
  config.auto_process_tx = (flavour & 0x80) == 0;
  // Bit 4: the device asks for no notifications (it polls: process_tx).
  if (flavour & 0x10) config.packed_device_event = mock::PackedEventMode::kDisable;
  const bool mmio = config.transport == mock::TransportKind::kMmioV2;
  IrqChoice irq = irq_choice(flavour >> 5, &config, &options);
  if (mmio) {
    // A virtio-mmio device has its line only.
    config.msix_vectors = 0;
    if (options.interrupts == InterruptMode::kMsix) options.interrupts = InterruptMode::kIntx;
  }

  World& w = World::get();
  w.begin_mock(config, "fuzz_packed_ring");
  offer(w, irq);
  install_used_hook(w);
  bool up;
  if (mmio) {
    MmioWindow window = mmio_window(0, 0, !irq.offered);
    up = w.bring_up_mmio(window, options);
  } else {
    up = w.bring_up(PciMode::kAuto, options);
  }
  if (up) run_mock_script(w, in, kPackedRingTable);
  w.end();
  return 0;
}

int run_fuzz_ctrl(const uint8_t* data, size_t size) {
  Input in(data, size);
  const uint8_t flavour = in.u8();
  const uint16_t withdraw = in.u16();
  NetOptions options = fuzz_net_options();
  options.accept_ctrl_vq = true;
  options.rx_ring_cap = 16;
  options.tx_ring_cap = 16;
  options.accept_ring_packed = (flavour & 4) != 0;
  if (flavour & 8) options.feature_mask &= ~spec::feature_mask(spec::Feature::kEventIdx);
  options.accept_rss = (flavour & 0x10) != 0;
  options.accept_hash_report = (flavour & 0x20) != 0;
  options.max_queue_pairs = (flavour & 0x40) != 0 ? 1 : kMaxQueuePairs;
  mock::DeviceConfig config;
  static constexpr mock::TransportKind kKinds[] = {
      mock::TransportKind::kModern, mock::TransportKind::kTransitional,
      mock::TransportKind::kMmioV2, mock::TransportKind::kLegacy};
  config.transport = kKinds[flavour & 3];
  config.offer_ring_packed = true;
  config.msix_vectors = 0;
  config.auto_process_tx = (flavour & 0x80) == 0;
  // Every control-plane feature offered, but those the input withdraws
  // (bit i: CTRL_VQ, CTRL_RX, CTRL_VLAN, CTRL_RX_EXTRA, GUEST_ANNOUNCE,
  // MQ, CTRL_MAC_ADDR, RSS, HASH_REPORT): MQ without CTRL_VQ and the like.
  std::optional<bool>* knobs[] = {&config.offer_ctrl_vq,        &config.offer_ctrl_rx,
                                  &config.offer_ctrl_vlan,      &config.offer_ctrl_rx_extra,
                                  &config.offer_guest_announce, &config.offer_mq,
                                  &config.offer_ctrl_mac_addr,  &config.offer_rss,
                                  &config.offer_hash_report};
  for (unsigned i = 0; i < sizeof knobs / sizeof knobs[0]; ++i)
    *knobs[i] = ((withdraw >> i) & 1u) == 0;
  // withdraw bit 9 (issue 16): the device offers the offloads (with
  // CTRL_GUEST_OFFLOADS) and the caller accepts the receive ones, so that
  // set_guest_offloads() has something to switch.
  if ((withdraw >> 9) & 1u) {
    config.offer_offloads = true;
    config.rx_mergeable = true;
    options.rx_chains = options.accept_rx_csum = options.accept_rx_gso = true;
  }
  // The control-plane config as the input says (lies included: pairs 0,
  // 0x8001, 0xFFFF; key 39, 41, 255; table 0, 100, 0xFFFF; no hash type).
  config.max_virtqueue_pairs = in.u16();
  config.rss_max_key_size = in.u8();
  config.rss_max_indirection_table_length = in.u16();
  config.supported_hash_types = in.u16();
  config.queue_sizes = {64, 64, 64};

  World& w = World::get();
  reset_ctrl_script();
  w.begin_mock(config, "fuzz_ctrl");
  install_used_hook(w);
  const bool mmio = config.transport == mock::TransportKind::kMmioV2;
  const bool up = mmio ? w.bring_up_mmio(mmio_window(0, 0, true), options)
                       : w.bring_up(PciMode::kAuto, options);
  if (up) {
    check_ctrl_config(w);
    run_mock_script(w, in, kCtrlTable);
  }
  w.end();
  return 0;
}

int run_fuzz_rx(const uint8_t* data, size_t size) {
  Input in(data, size);
  const uint8_t flavour = in.u8();
  const Flavour& f = kFlavours[flavour & 3];
  NetOptions options = fuzz_net_options();
  // Up to 64 rx buffers: enough for a receive chain above 64 KiB.
  options.rx_ring_cap = static_cast<uint16_t>(1 + in.u8() % 64);
  options.tx_ring_cap = 8;
  if (flavour & 4) options.irq_storm_limit = kFuzzStormLimit;
  const uint8_t features = in.u8();
  if (features & 1) options.feature_mask &= ~spec::feature_mask(spec::Feature::kNetMrgRxbuf);
  if (features & 2) options.feature_mask &= ~spec::feature_mask(spec::Feature::kAnyLayout);
  mock::DeviceConfig config;
  config.transport = f.device;
  config.queue_sizes = {64, 64, 64};
  // Offloads and receive chains (issue 16; setups.h).
  if (features & 4) {
    config.offer_offloads = true;
    config.rx_mergeable = true;
    options.rx_chains = true;
    options.accept_tx_csum = options.accept_tso = options.accept_rx_csum = true;
    options.accept_rx_gso = (features & 16) == 0;
  }
  if (features & 8) {
    config.rx_mergeable = true;
    config.mtu = 9000;
    options.rx_chains = true;
  }
  // Bit 7: a partial offer -- no GUEST_ECN, HOST_ECN or GUEST_USO4 -- so
  // that an ECN bit, CWR and USO over IPv4 meet a feature that is missing.
  if (features & 0x80)
    options.feature_mask &= ~(spec::feature_mask(spec::Feature::kNetGuestEcn) |
                              spec::feature_mask(spec::Feature::kNetHostEcn) |
                              spec::feature_mask(spec::Feature::kNetGuestUso4));
  const uint8_t csum_mode = (features >> 5) & 3;
  config.rx_csum_mode = csum_mode == 1   ? mock::DeviceConfig::RxCsumMode::kDataValid
                        : csum_mode == 2 ? mock::DeviceConfig::RxCsumMode::kPartial
                                         : mock::DeviceConfig::RxCsumMode::kNone;
  const IrqChoice irq = irq_choice(flavour >> 5, &config, &options);

  World& w = World::get();
  w.begin_mock(config, "fuzz_rx");
  offer(w, irq);
  install_used_hook(w);
  if (w.bring_up(f.mode, options)) run_mock_script(w, in, kRxTable);
  w.end();
  return 0;
}

int run_fuzz_config(const uint8_t* data, size_t size) {
  Input in(data, size);
  const ConfigPrefix p = read_config_prefix(in);
  const Flavour& f = kFlavours[p.flavour & 3];
  // tx_cap bits 5-6 (the cap's modulus ignores them): 1 virtio-mmio
  // version 1, 2 and 3 version 2, in a window from notify_multiplier (bits
  // 0-1 the kind, 2-7 a size, bit 31 no interrupt line).
  const unsigned mmio = (p.tx_cap >> 5) & 3;
  const MmioWindow window = mmio_window(p.notify_multiplier & 3, (p.notify_multiplier >> 2) & 0x3F,
                                        (p.notify_multiplier >> 31) != 0);
  mock::DeviceConfig config;
  config.transport = mmio == 0   ? f.device
                     : mmio == 1 ? mock::TransportKind::kMmioV1
                                 : mock::TransportKind::kMmioV2;
  config.features = p.features;
  for (int i = 0; i < 6; ++i) config.mac[i] = p.mac[i];
  config.status = p.status;
  config.max_virtqueue_pairs = p.max_pairs;
  config.mtu = p.mtu;
  for (int i = 0; i < 3; ++i) config.queue_sizes[i] = p.queue_sizes[i];
  config.notify_off_multiplier = p.notify_multiplier;
  config.second_notify_cap = (p.flavour & 4) != 0;  // as QEMU's modern-pio-notify
  // A legacy BAR 0 with room for 0..10 bytes of device configuration.
  if (const uint8_t b = (p.flavour >> 3) & 7) config.legacy_bar_size = 0x14 + 2u * (b - 1u);
  // The mock device refuses BAR 0 for the modern window of a transitional
  // device (the legacy I/O BAR lives there).
  // modern_bar bit 7 (issue 15): the caller accepts the control plane --
  // CTRL_VQ and its command features, MQ (4 pairs), RSS, HASH_REPORT -- so
  // that max_virtqueue_pairs and the RSS fields are read and judged.
  const bool ctrl = (p.modern_bar & 0x80) != 0;
  const uint8_t bar = p.modern_bar & 0x7F;
  config.modern_bar =
      static_cast<uint8_t>(f.device == mock::TransportKind::kModern ? bar % 6 : 1 + bar % 5);
  for (uint8_t i = 0; i < p.num_faults; ++i) {
    const mock::FaultKind k = kConfigStateFaults[p.fault_kind[i] % (sizeof kConfigStateFaults /
                                                                    sizeof kConfigStateFaults[0])];
    if (k == mock::FaultKind::kConfigRssMaxKeySize)
      config.rss_max_key_size = static_cast<uint8_t>(p.fault_value[i]);
    else if (k == mock::FaultKind::kConfigRssMaxTableLen)
      config.rss_max_indirection_table_length = p.fault_value[i];
    else if (k == mock::FaultKind::kConfigSupportedHashTypes)
      config.supported_hash_types = p.fault_value[i];
  }
  NetOptions options = fuzz_net_options();
  if (ctrl) {
    options.accept_ctrl_vq = true;
    options.max_queue_pairs = kMaxQueuePairs;
    options.accept_rss = options.accept_hash_report = true;
  }
  options.rx_ring_cap = static_cast<uint16_t>(1 + p.rx_cap % 64);
  options.tx_ring_cap = static_cast<uint16_t>(1 + p.tx_cap % 32);
  options.max_frame = static_cast<uint16_t>(1514 + p.max_frame % 600);
  options.fallback_mtu = static_cast<uint16_t>(68 + p.fallback_mtu % 1500);

  // Bit 6 of the flavour: interrupts (rx_cap's bit 7, which the cap's
  // modulus ignores: INTx instead of MSI-X).
  const IrqChoice irq = irq_choice(
      (p.flavour & 0x40) == 0 ? 0u : ((p.rx_cap & 0x80) != 0 ? 1u : 2u), &config, &options);
  if (mmio != 0) config.msix_vectors = 0;  // a virtio-mmio device has its line only

  World& w = World::get();
  w.begin_mock(config, "fuzz_config");
  offer(w, irq);
  for (uint8_t i = 0; i < p.num_faults; ++i) {
    mock::Fault fault;
    fault.kind = kConfigStateFaults[p.fault_kind[i] %
                                    (sizeof kConfigStateFaults / sizeof kConfigStateFaults[0])];
    // The control-plane fields are configuration values (above), not faults.
    if (fault.kind == mock::FaultKind::kConfigRssMaxKeySize ||
        fault.kind == mock::FaultKind::kConfigRssMaxTableLen ||
        fault.kind == mock::FaultKind::kConfigSupportedHashTypes)
      continue;
    fault.queue = -1;
    fault.value = p.fault_value[i];
    // Capability faults name a cfg_type (1..4).
    if (fault.kind == mock::FaultKind::kCapOutsideBar ||
        fault.kind == mock::FaultKind::kCapMissingBar)
      fault.value = 1 + fault.value % 4;
    w.device().arm(fault);
    w.taint_device();
    // Completions of buffers never offered are a lie at the ring level (like
    // a used edit). The other state faults, and a reset slower than the
    // driver's deadline (it quarantines, and adds FAILED to the status the
    // device still holds), are values the driver must handle conformingly.
    if (fault.kind == mock::FaultKind::kUsedBeforeDriverOk) w.note_misbehaviour();
    // Oracle (h) predicts attach decisions from the device's configuration;
    // these faults make its answers (or the probe, or the reset) differ.
    if (fault.kind == mock::FaultKind::kConfigMacUnstable ||
        fault.kind == mock::FaultKind::kDeviceCfgLength ||
        fault.kind == mock::FaultKind::kResetLatency ||
        fault.kind == mock::FaultKind::kCapOutsideBar ||
        fault.kind == mock::FaultKind::kCapMissingBar)
      w.note_unpredictable();
  }
  install_used_hook(w);
  if (p.flavour & 0x80) {
    // Interrupts before DRIVER_OK: a config change raised on a device
    // nobody drives yet, and a caller that polls too early.
    w.device().set_link(!w.device().link_up());
    w.poll_device();
  }
  const bool up = mmio != 0 ? w.bring_up_mmio(window, options) : w.bring_up(f.mode, options);
  if (up) {
    if (ctrl) check_ctrl_config(w);
    run_mock_script(w, in, kConfigTable);
  }
  w.end();
  return 0;
}

size_t read_boundary_script(const uint8_t* data, size_t size, BoundaryScript* out) {
  Input head(data, size);
  const uint8_t mode = head.u8();
  out->mode = static_cast<PciMode>((mode & 3) % 3);
  out->options = fuzz_net_options();
  // Bits 2-3: the interrupt mode asked for (the platform's answers to
  // msi_messages and line_interrupt come from the input).
  static constexpr InterruptMode kModes[] = {InterruptMode::kPolling, InterruptMode::kIntx,
                                             InterruptMode::kMsix, InterruptMode::kMsix};
  out->options.interrupts = kModes[(mode >> 2) & 3];
  // Bit 4: a storm guard of kFuzzStormLimit interrupts per window.
  if (mode & 0x10) out->options.irq_storm_limit = kFuzzStormLimit;
  const uint8_t rx_cap = head.u8();
  out->options.rx_ring_cap = static_cast<uint16_t>(1 + rx_cap % 32);
  // rx_cap bit 7 (the cap's modulus ignores it): accept a packed ring
  // when the device offers one (2.8).
  out->options.accept_ring_packed = (rx_cap & 0x80) != 0;
  const uint8_t tx_cap = head.u8();
  out->options.tx_ring_cap = static_cast<uint16_t>(1 + tx_cap % 16);
  // Bit 5: a virtio-mmio window instead (bits 6-7 its kind, tx_cap's bits
  // 4-7 a size; bit 0 -- the PCI mode's, meaningless here -- no line).
  out->mmio = (mode & 0x20) != 0;
  if (out->mmio) out->window = mmio_window(mode >> 6, tx_cap >> 4, (mode & 1) != 0);
  out->nops = head.u8() % 65;
  head.bytes(out->ops, out->nops);
  return head.position();
}

void run_boundary_script(World& w, const BoundaryScript& s) {
  if (s.mmio ? w.bring_up_mmio(s.window, s.options) : w.bring_up(s.mode, s.options)) {
    for (uint8_t i = 0; i < s.nops; ++i) {
      const uint8_t a = s.ops[i] >> 3;
      switch (s.ops[i] & 7) {
        case 0:
          w.rx_burst(static_cast<uint16_t>(a + 1));
          break;
        case 1:
          w.tx_burst(static_cast<uint16_t>(a % 8 + 1), 60 + a * 40u, a);
          break;
        case 2:
          w.tx_reclaim();
          break;
        case 3:
          w.poll_device();
          break;
        case 4:
          w.recover();
          break;
        case 5:
          w.set_rx_interrupts((a & 1) != 0);
          // bit 1: an interrupt (bits 2-4: the line, or vector 0..6).
          if (a & 2)
            w.interrupt((a >> 2 & 7) == 0
                            ? IrqSource::line()
                            : IrqSource::msi(static_cast<uint16_t>((a >> 2 & 7) - 1)));
          break;
        case 6:
          w.restart();
          break;
        case 7:
          w.rx_burst(64);
          break;
      }
    }
  }
  w.end();
}

int run_fuzz_boundary(const uint8_t* data, size_t size) {
  BoundaryScript script;
  const size_t used = read_boundary_script(data, size, &script);
  Input values(data + used, size - used);
  World& w = World::get();
  w.begin_boundary(values, "fuzz_boundary");
  run_boundary_script(w, script);
  return 0;
}

}  // namespace vnet::fuzz
