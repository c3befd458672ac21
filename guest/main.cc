// vnet-guest: boot, find the virtio-net function, attach the driver, serve.
//
//   boot.S (long mode, SSE, stack, .bss, IDT)
//     -> guest_main(start_info)
//          console (COM1)          "vnet-guest: boot ..."
//          PVH start info          RAM map, command line (QEMU -append)
//          TSC calibration (PIT)
//          interrupts              8259s masked, local APIC on, its timer
//                                  calibrated, I/O APIC masked; IF stays 0
//                                  ("vnet-guest: interrupts ...")
//          physical allocator      RAM above the image
//          PCI scan, BAR sizing    one line per function, plus its INTx
//                                  route and MSI-X capability
//          virtio-mmio windows     the command line's virtio_mmio.device=
//                                  entries, else QEMU's slots (no PCI);
//                                  one line per window (virtio_mmio.h)
//          action=lspci|irqtest|idle end here (guest/irq_actions.h)
//          virtio-net function     enable I/O, memory, bus mastering; or,
//                                  without one, a virtio-mmio window with
//                                  DeviceID 1 (its line: level, high)
//          record=1 and COM2       trace header on COM2 (guest/record/)
//          probe transport         legacy | modern (mode=...), or
//                                  virtio-mmio version 1 | 2
//          attach driver           "vnet-guest: ready ..." (runner waits for it)
//          serve loop              rx_burst -> responder -> tx_burst,
//                                  TCP echo: held-back data and
//                                  retransmissions -> tx_burst,
//                                  tx_reclaim, poll_device every 2 ms
//                                  (100 ms while recording); with
//                                  interrupts, when idle: queue interrupts
//                                  on, HLT until an interrupt or the next
//                                  deadline (poll_device, a TCP timer),
//                                  interrupts off again while it works;
//                                  with pairs=N one queue pair a turn,
//                                  round-robin, replies on the pair their
//                                  request came in on; a control-plane
//                                  request after the burst that brought it
//
// Every call on the driver goes through a trace::Session
// (replay/record/session.h): a plain one, or with record=1 a recording one
// that streams the trace of the run to COM2 (guest/record/guest_recording.h).
// Replies are built in guest-owned scratch frames and handed to
// Session::tx_burst, which copies them into pool buffers, exactly as a
// replay of the trace will. Queue pairs 1.. and the control-plane commands
// too (a recording holds them: "pair" on the burst calls, set_rx_mode,
// set_mac_filter, ... with their CtrlResult).
//
// Command line (all optional, "key=value" separated by spaces):
//   action=serve|lspci|irqtest|idle
//                        lspci: list PCI functions and exit; irqtest,
//                        idle: guest/irq_actions.h
//   irq=poll|intx|msix   the highest rung of the driver's interrupt ladder
//                        (default msix: MSI-X, else INTx, else polling;
//                        intx: INTx, else polling; poll: no interrupts).
//                        The ready line says what was asked (irq=), what
//                        the NIC offers (msix= table size, intx_gsi=) and
//                        what the driver took (irq_mode=, irq_vectors=).
//                        Recording (record=1) takes interrupts when irq=
//                        is given (each one a handle_interrupt call in the
//                        trace, where the serve loop's halt took it) and
//                        polls without it, as recordings always did
//   mode=auto|legacy|modern  on virtio-mmio: legacy requires version 1,
//                        modern version 2
//   mmio=auto|cmdline|probe  where virtio-mmio windows come from: the
//                        command line's entries, else QEMU's slots on a
//                        machine without PCI (auto); only the entries;
//                        only the slots (guest/kernel/virtio_mmio.h)
//   rx_cap=N tx_cap=N    driver ring caps (NetOptions)
//   mask=0xBITS          features the driver must not negotiate
//   buf=BYTES            packet buffer capacity (default 10240)
//   log=error|warn|info|debug
//   record=0|1           record the run to COM2 (when present)
//   bounce=0|1           bounce mode: packet buffers stay private, the device
//                        sees only a shared bounce area (BouncePlatform)
//   packed=0|1           accept VIRTIO_F_RING_PACKED when a modern device
//                        (virtio-pci modern or transitional, virtio-mmio
//                        version 2) offers it, and drive both queues as
//                        packed rings (default 1, as Linux does: QEMU
//                        offers packed only with -device ...,packed=on);
//                        packed=0 keeps split rings whatever is offered.
//                        The ready line says what was negotiated: ring=,
//                        event_idx=, indirect_desc=
//   indirect=0|1         accept VIRTIO_F_INDIRECT_DESC when offered (default
//                        1, as Linux does; QEMU offers it unless
//                        -device ...,indirect_desc=off): the driver then
//                        sends scatter-gather frames through indirect tables
//                        (NetOptions::accept_indirect_desc); indirect=0
//                        declines it
//   tx_frags=auto|N      how many fragments a reply goes out as (tx scatter-
//                        gather, PacketBuffer::next): auto (the default) is
//                        2 when INDIRECT_DESC was negotiated and 1 (one
//                        buffer) otherwise; N = 1..16 forces it. A reply of
//                        several fragments is its headers (Ethernet, IPv4,
//                        TCP/UDP/ICMP; the Ethernet header alone for other
//                        frames) in one fragment and its payload split
//                        evenly over the rest; a frame without payload stays
//                        one buffer. The bytes on the wire are the same.
//                        Without INDIRECT_DESC the driver sends at most
//                        kMaxChainSegments (4) segments direct and drops
//                        longer chains (tx_drop_sg_segments)
//   ctrl=0|1             accept VIRTIO_NET_F_CTRL_VQ and the command features
//                        (CTRL_RX, CTRL_RX_EXTRA, CTRL_VLAN, CTRL_MAC_ADDR,
//                        GUEST_ANNOUNCE; NetOptions::accept_ctrl_vq) when
//                        offered (default 1; 0 while recording, record=1,
//                        unless ctrl=1 is given, so that a recording made
//                        without it negotiates what recordings always did;
//                        with it the trace holds the control commands). The
//                        ready line says ctrl=on|off (a control queue set
//                        up) and pairs=/max_pairs=
//   pairs=N              multiqueue: NetOptions::max_queue_pairs (1..4; MQ,
//                        which needs CTRL_VQ); anything else ends the run.
//                        The driver drives several pairs only when polling
//   rss=0|1 rss_pin=K    accept VIRTIO_NET_F_RSS and send RSS_CONFIG after
//                        attach: 128 entries over every pair, or all to pair
//                        K; the ready line says rss=on|off|<CtrlResult>
//   csum=0|1             checksum offload both ways (issue 16): accept CSUM
//                        (NetOptions::accept_tx_csum: the TCP echo leaves its
//                        checksums to the device, PacketOffload kPartial with
//                        the pseudo-header sum in the field, csum_start the
//                        TCP header, csum_offset 16) and GUEST_CSUM
//                        (accept_rx_csum: a TCP/UDP frame the device marks
//                        verified or partial is not verified again). Default
//                        0: recorded feature words stay as they were
//   tso=0|1              segmentation offload both ways (implies csum=1,
//                        chains=1 and window=65535 unless given): accept
//                        HOST_TSO4/6 (accept_tso: the TCP echo sends data
//                        segments of up to 64 KiB -- the peer's window, the
//                        frame limit below -- with gso kTcp4 and gso_size its
//                        MSS, for the device to cut) and GUEST_TSO4/6
//                        (accept_rx_gso: coalesced frames of up to 64 KiB
//                        arrive as receive chains over MRG_RXBUF). Default 0
//   chains=0|1           NetOptions::rx_chains: a frame the device spreads
//                        over several rx buffers (MRG_RXBUF) is delivered as a
//                        chain, copied (bounded, kMaxGsoFrame) into one frame
//                        for the responder; any MTU is then accepted. Default 0
//   max_frame=N          NetOptions::max_frame (default 1514): the largest
//                        frame one rx buffer must hold (buf= must hold it plus
//                        the header); e.g. 9018 for host_mtu=9000 without
//                        chains. Frames above one buffer (a jumbo MTU, TSO)
//                        go out as scatter-gather chains: the first buffer
//                        full, the rest in buffers of buf= bytes, at most 16
//                        (4 without INDIRECT_DESC), which bounds the largest
//                        frame the guest sends
//   window=N             the TCP echo's receive window (1024..65535; default
//                        8192, 65535 with tso=1): segments larger than 8 KiB
//                        need it. The ring behind it is 64 KiB
//   With record=1 the trace holds each tx frame's offload request
//   ("offload" on tx_burst), what every rx_burst delivered (a chain's
//   buffers and the offload result: "delivered") and the attach options
//   (docs/trace-format.md, "Offloads"). The ready line says what was
//   negotiated: offloads=<list>|none, rx_chains=on|off, max_frame=, window=,
//   tx_frame_max= (the largest frame the guest sends, headers included)
//   ctrl_skip=1          (for proving the runner's checks can fail) answer
//                        every control-plane request "ok" without calling
//                        the driver, and ignore DeviceEvents::announce
//
// Control requests (UDP port 7070, one line each; the answer is the request
// followed by ": " and the result -- the driver's CtrlResult name, "ok" when
// the device acknowledged):
//   counters, ping, exit
//   ctrl                 "ctrl=on|off pairs=N max_pairs=N features=0x..."
//   rx MODE on|off       MODE: promisc, allmulti, alluni, nomulti, nouni,
//                        nobcast (VirtioNet::set_rx_mode)
//   mac-filter [uc=M,M..] [mc=M,M..]   the MAC filter table (set_mac_filter);
//                        no list: empty tables
//   mac-addr M           set_mac_address; on ok the guest answers as M
//   vlan add|del VID     add_vlan / remove_vlan
// (parsed by guest/net/ctrl_request.h). Commands run after the burst that
// brought them (never inside rx_burst), one per burst, through the Session
// (a recording holds them). DeviceEvents::announce (the device asked for an
// announcement, GUEST_ANNOUNCE) sends a gratuitous ARP.
//
// At exit (the "exit" control request, or a broken driver) the guest prints
// "vnet-guest: tx sg_packets=N indirect_chains=N frags=F" (F: the fragments
// per reply in force, "auto" resolved), then "vnet-guest: offload
// tx_csum=N tx_gso=N tso_bytes=N rx_csum_partial=N rx_csum_verified=N
// rx_gso=N rx_chains=N csum_trusted=N max_rx_frame=N max_tx_frame=N" (the
// driver's offload counters, the TCP echo's TSO payload bytes, frames whose
// checksum the guest did not verify again, the largest frames seen each
// way) before its counters.
//
// An unknown action=, irq= or mmio= value exits with kBadCommandLine.
//
// Exit statuses: guest/kernel/exit.h.
#include <stdint.h>

#include "driver/net/virtio_net.h"
#include "driver/platform/bounce_platform.h"
#include "driver/spec/virtio_constants.h"
#include "driver/transport/pci_probe.h"
#include "guest/irq_actions.h"
#include "guest/kernel/clock.h"
#include "guest/kernel/console.h"
#include "guest/kernel/cpu.h"
#include "guest/kernel/exit.h"
#include "guest/kernel/ioapic.h"
#include "guest/kernel/lapic.h"
#include "guest/kernel/mem.h"
#include "guest/kernel/msi.h"
#include "guest/kernel/page_alloc.h"
#include "guest/kernel/paging.h"
#include "guest/kernel/pci.h"
#include "guest/kernel/pci_intx.h"
#include "guest/kernel/pic.h"
#include "guest/kernel/pvh.h"
#include "guest/kernel/sleep.h"
#include "guest/kernel/virtio_mmio.h"
#include "guest/net/ctrl_request.h"
#include "guest/net/packet_pool.h"
#include "guest/net/responder.h"
#include "guest/net/tcp_echo.h"
#include "guest/net/vlan.h"
#include "guest/record/guest_recording.h"
#include "guest/shim/guest_platform.h"
#include "replay/record/session.h"

namespace guest {
namespace {

constexpr size_t kMaxFunctions = 64;
constexpr size_t kMaxMmioWindows = virtio_mmio::kMaxSlots;
constexpr uint16_t kVirtioVendor = 0x1af4;
constexpr uint16_t kNetTransitional = 0x1000;
constexpr uint16_t kNetModern = 0x1041;
constexpr uint16_t kBurst = 32;
constexpr uint64_t kPollIntervalNs = 2 * 1000 * 1000;
// While recording, every driver call costs trace bytes on a serial port:
// the device is polled less often, and an idle loop backs off (doubling
// from kIdleMinNs to kIdleMaxNs, back to the minimum on any traffic).
constexpr uint64_t kRecordPollIntervalNs = 100 * 1000 * 1000;
constexpr uint64_t kIdleMinNs = 20 * 1000;
constexpr uint64_t kIdleMaxNs = 4 * 1000 * 1000;
constexpr uint64_t kDrainTimeoutNs = 200 * 1000 * 1000;
// With interrupts: poll_device while idle (config changes and resets come
// as interrupts), and while replies are in flight (the tx watchdog).
constexpr uint64_t kIrqIdlePollIntervalNs = 500 * 1000 * 1000;
constexpr uint64_t kIrqBusyPollIntervalNs = 50 * 1000 * 1000;
constexpr int kMaxRecoveries = 3;

pci::Function g_functions[kMaxFunctions];
virtio_mmio::Window g_mmio[kMaxMmioWindows];
GuestPlatform g_platform;
vnet::BouncePlatform g_bounce(g_platform);  // used with bounce=1
net::PacketPool g_pool;
net::TcpEcho g_tcp;  // connection table and send rings: static, not on the stack
char g_text[1400];

struct ServeStats {
  uint64_t tx_no_buffer = 0;     // no pool buffer for a reply
  uint64_t tx_ring_refused = 0;  // tx_burst took fewer than offered
  uint64_t recoveries = 0;
  uint64_t irq_waits = 0;                       // halts of the interrupt-driven loop
  uint64_t irq_wait_raced = 0;                  // no halt: completions raced the re-enable
  uint64_t vlan_frames = 0;                     // 802.1Q-tagged frames received (guest/net/vlan.h)
  uint64_t vlan_replies = 0;                    // replies to them, tagged the same way
  uint64_t ctrl_commands = 0;                   // control-plane requests run (rx, mac-filter, ...)
  uint64_t ctrl_dropped = 0;                    // a second one in the same burst (the peer resends)
  uint64_t announces = 0;                       // gratuitous ARPs sent for DeviceEvents::announce
  uint64_t pair_rx[vnet::kMaxQueuePairs] = {};  // frames received on each queue pair
  uint64_t pair_tx[vnet::kMaxQueuePairs] = {};  // frames sent on each
};
ServeStats g_stats;
// Offloads (csum=, tso=, chains=): what the serve loop does with them.
struct OffloadStats {
  uint64_t rx_chain_too_big = 0;  // a receive chain longer than g_linear: dropped
  uint64_t max_rx_frame = 0;      // the largest frame received
  uint64_t max_tx_frame = 0;      // the largest frame handed to the driver
};
OffloadStats g_offload;
// A receive chain copied into one frame for the responder.
uint8_t* g_linear = nullptr;
constexpr uint32_t kLinearBytes = vnet::kMaxGsoFrame + 64;
// The largest frame the guest builds (headers included): what one buffer
// holds, or with chains of buffers what kMaxTxFragments (4 without
// INDIRECT_DESC) hold, never above the scratch frame or kMaxGsoFrame.
uint32_t g_tx_frame_max = 0;
// Queue pairs the serve loop drives (pairs=; the driver's
// max_queue_pairs() after attach): pair 0 through the Session, the others
// straight on the driver (never recording: MQ needs the control queue,
// which a recording guest declines).
uint16_t g_pairs = 1;
uint64_t g_rss_pin = 0xffff;  // rss_pin=K: every RSS table entry names pair K
const char* g_rss = "off";    // the ready line's rss=: off, or the RSS_CONFIG result

// What the driver's interrupt handler asked for since the serve loop last
// looked (written in the handler, read after cpu::wait_for_interrupt()
// returns: the wait's "memory" clobber orders it, cpu.h).
vnet::IrqWork g_irq_work;

vnet::trace::Session& session() {
  return record::session();
}
vnet::VirtioNet& driver() {
  return record::session().net();
}

// tx_frags= (0: auto) and what it resolves to with the features negotiated.
uint16_t g_tx_frags_option = 0;
uint16_t tx_frags() {
  if (g_tx_frags_option != 0) return g_tx_frags_option;
  return driver().indirect_tx() ? 2 : 1;
}

// Reply frames are built here, then copied into pool buffers by
// Session::tx_burst: kBurst frames of (buffer capacity - headroom) bytes.
uint8_t* g_scratch = nullptr;
uint32_t g_scratch_frame = 0;
// A received 802.1Q frame without its tag, as the responder sees it.
uint8_t* g_untagged = nullptr;
// A control-plane request, run after the burst that brought it: a copy of
// the request frame (untagged) and its tag, to answer it.
struct PendingCommand {
  bool pending = false;
  bool tagged = false;
  uint16_t tci = 0;
  uint32_t frame_len = 0;
  uint32_t payload_offset = 0;
  uint32_t payload_len = 0;
};
PendingCommand g_command;
uint8_t* g_command_frame = nullptr;
bool g_ctrl_skip = false;     // ctrl_skip=1: a guest that only says it did
bool g_whole_frames = false;  // csum=, tso= or chains=: rx through rx_burst_buffers_on

void print_function(const pci::Function& f) {
  kprintf("pci %02x:%02x.%u %04x:%04x class %02x/%02x rev %u hdr %u subsys %04x:%04x\n", f.addr.bus,
          f.addr.dev, f.addr.fn, f.vendor, f.device, f.class_code, f.subclass, f.revision,
          f.header_type, f.subsys_vendor, f.subsys_id);
  for (unsigned i = 0; i < 6; ++i) {
    const pci::Bar& b = f.bars[i];
    if (!b.present) continue;
    kprintf("    bar%u %s base 0x%llx size 0x%llx%s\n", i,
            b.is_io ? "io " : (b.is_64 ? "m64" : "m32"), static_cast<unsigned long long>(b.base),
            static_cast<unsigned long long>(b.size), b.prefetchable ? " prefetchable" : "");
  }
  if (f.header_type != 0) return;
  pci_intx::Route route;
  if (pci_intx::route_of(f, &route))
    kprintf("    intx pin %c line %u -> gsi %u\n", static_cast<char>('A' + route.pin - 1),
            route.line, route.gsi);
  else if (route.pin != 0)
    kprintf("    intx pin %u line %u: %s\n", route.pin, route.line, route.error);
  msi::MsixInfo msix;
  const char* error = nullptr;
  if (msi::probe_msix(f, &msix, &error))
    kprintf("    msix %u vectors, table bar%u+0x%x, pba bar%u+0x%x\n", msix.table_size,
            msix.table_bar, msix.table_offset, msix.pba_bar, msix.pba_offset);
  else if (error != nullptr && memcmp(error, "none", 5) != 0)
    kprintf("    msix unusable: %s\n", error);
}

// ---- virtio-mmio windows (guest/kernel/virtio_mmio.h) ----

enum class MmioScan { kAuto, kCmdline, kProbe };

// mmio=auto|cmdline|probe (default auto: the command line's entries, else
// QEMU's slots on a machine without PCI); anything else ends the run.
MmioScan parse_mmio_scan(const char* cmdline) {
  char v[16];
  if (!cmdline_get(cmdline, "mmio", v, sizeof(v))) return MmioScan::kAuto;
  if (memcmp(v, "auto", 5) == 0) return MmioScan::kAuto;
  if (memcmp(v, "cmdline", 8) == 0) return MmioScan::kCmdline;
  if (memcmp(v, "probe", 6) == 0) return MmioScan::kProbe;
  kprintf("vnet-guest: bad command line: mmio=%s (auto, cmdline or probe)\n", v);
  exit_qemu(ExitCode::kBadCommandLine);
}

uint32_t read_phys32(void*, uint64_t address) {
  return *reinterpret_cast<const volatile uint32_t*>(static_cast<uintptr_t>(address));
}

// The line of a window, made reachable: a GSI beyond the first I/O APIC
// is on QEMU's second one (microvm with ACPI), taken when first needed.
bool line_reachable(uint32_t irq) {
  if (irq == virtio_mmio::kNoIrq) return false;
  if (!ioapic::covers(irq) && irq >= ioapic::kSecondaryGsiBase)
    ioapic::add(ioapic::kSecondaryBase, ioapic::kSecondaryGsiBase);
  return ioapic::covers(irq);
}

// Fills out[0, n) with the windows found, maps each uncached and prints
// one line per window with what answers there; returns n.
size_t discover_mmio(const char* cmdline, const BootInfo& boot, size_t pci_found, MmioScan scan,
                     virtio_mmio::Window* out, size_t max) {
  size_t n = 0;
  if (scan != MmioScan::kProbe) {
    virtio_mmio::CmdlineReport r;
    n = virtio_mmio::parse_cmdline(cmdline, out, max, &r);
    if (r.rejected != 0)
      kprintf(
          "vnet-guest: mmio: %zu of %zu virtio_mmio.device= entries refused, first \"%s\": %s\n",
          r.rejected, r.entries, r.first_rejected, virtio_mmio::entry_error_name(r.first_error));
  }
  if (scan == MmioScan::kProbe || (scan == MmioScan::kAuto && n == 0 && pci_found == 0)) {
    const bool acpi = boot.rsdp != 0;
    const bool ioapic2 = acpi && ioapic::add(ioapic::kSecondaryBase, ioapic::kSecondaryGsiBase);
    const virtio_mmio::SlotLayout layout = virtio_mmio::slot_layout(acpi, ioapic2);
    uint32_t empty = 0;
    if (paging::map_identity(virtio_mmio::kSlotBase,
                             uint64_t{layout.slots} * virtio_mmio::kSlotSize, true))
      n = virtio_mmio::probe_slots(layout, &read_phys32, nullptr, out, max, &empty);
    kprintf(
        "vnet-guest: mmio: probed %u slots at 0x%llx (%s: slot i's line at GSI %u + i): %zu "
        "devices, %u empty\n",
        layout.slots, static_cast<unsigned long long>(virtio_mmio::kSlotBase), layout.name,
        layout.gsi_base, n, empty);
  }
  size_t kept = 0;
  for (size_t i = 0; i < n; ++i) {
    virtio_mmio::Window& w = out[i];
    if (!paging::map_identity(w.base, w.size, true)) {
      kprintf("vnet-guest: mmio 0x%llx: cannot map %llu bytes\n",
              static_cast<unsigned long long>(w.base), static_cast<unsigned long long>(w.size));
      continue;
    }
    const virtio_mmio::Identity id = virtio_mmio::identify(w, &read_phys32, nullptr);
    char irq[12] = "none";
    if (w.irq != virtio_mmio::kNoIrq)
      format(irq, sizeof(irq), "%u%s", w.irq, line_reachable(w.irq) ? "" : "?");
    if (id.is_virtio())
      kprintf("mmio 0x%llx size 0x%llx irq %s (%s): virtio version %u device %u vendor 0x%08x\n",
              static_cast<unsigned long long>(w.base), static_cast<unsigned long long>(w.size), irq,
              virtio_mmio::source_name(w.source), id.version, id.device_id, id.vendor_id);
    else if (id.magic == virtio_mmio::kMagic)
      kprintf("mmio 0x%llx size 0x%llx irq %s (%s): virtio, unknown version %u\n",
              static_cast<unsigned long long>(w.base), static_cast<unsigned long long>(w.size), irq,
              virtio_mmio::source_name(w.source), id.version);
    else
      kprintf("mmio 0x%llx size 0x%llx irq %s (%s): no virtio magic (0x%08x)\n",
              static_cast<unsigned long long>(w.base), static_cast<unsigned long long>(w.size), irq,
              virtio_mmio::source_name(w.source), id.magic);
    out[kept++] = w;
  }
  return kept;
}

// The interrupt controllers, brought up at boot whatever the action:
// the 8259s masked (pic.h), the local APIC enabled and its timer
// calibrated (lapic.h, sleep.h), every I/O APIC pin masked (ioapic.h).
// Interrupts stay disabled (IF = 0) except inside the waits of sleep.h.
void init_interrupts() {
  pic::disable();
  const bool lapic_ok = lapic::init();
  const bool ioapic_ok = ioapic::init();
  const bool timer_ok = lapic_ok && sleep::init();
  kprintf(
      "vnet-guest: interrupts lapic %s id %u timer %llu kHz vector 0x%x, ioapic %s %u pins, "
      "chipset %s\n",
      lapic_ok ? "on" : "absent", lapic::id(),
      static_cast<unsigned long long>(lapic::timer_hz() / 1000), sleep::timer_vector(),
      ioapic_ok ? "on" : "absent", ioapic::pins(), pci_intx::chipset_name(pci_intx::detect()));
  if (!timer_ok) kprintf("vnet-guest: no local APIC timer: sleeps spin\n");
}

enum class IrqMode { kPoll, kIntx, kMsix };

const char* irq_mode_name(IrqMode m) {
  return m == IrqMode::kIntx ? "intx" : m == IrqMode::kMsix ? "msix" : "poll";
}

// irq=poll|intx|msix (default msix; *given says whether it was on the
// command line); anything else ends the run.
IrqMode parse_irq_mode(const char* cmdline, bool* given) {
  char mode[16];
  *given = cmdline_get(cmdline, "irq", mode, sizeof(mode));
  if (!*given) return IrqMode::kMsix;
  if (memcmp(mode, "poll", 5) == 0) return IrqMode::kPoll;
  if (memcmp(mode, "intx", 5) == 0) return IrqMode::kIntx;
  if (memcmp(mode, "msix", 5) == 0) return IrqMode::kMsix;
  kprintf("vnet-guest: bad command line: irq=%s (poll, intx or msix)\n", mode);
  exit_qemu(ExitCode::kBadCommandLine);
}

// "name=value\n" for every nonzero counter (driver, responder, guest), cut
// to fit one datagram.
size_t counters_text(const net::Responder& responder, char* buf, size_t cap) {
  size_t n = 0;
  auto add = [&](const char* name, uint64_t value) {
    if (value == 0 || n + 1 >= cap) return;
    n += format(buf + n, cap - n, "%s=%llu\n", name, static_cast<unsigned long long>(value));
  };
  // With several queue pairs, the driver's counters summed over them (pair
  // k's data path counts apart), and the frames each pair carried.
  if (g_pairs > 1)
    driver().total_counters().for_each(add);
  else
    driver().counters().for_each(add);
  responder.counters().for_each(add);
  g_tcp.counters().for_each(add);
  add("guest_tx_no_buffer", g_stats.tx_no_buffer);
  add("guest_tx_ring_refused", g_stats.tx_ring_refused);
  add("guest_recoveries", g_stats.recoveries);
  add("guest_irq_waits", g_stats.irq_waits);
  add("guest_irq_wait_raced", g_stats.irq_wait_raced);
  add("guest_vlan_frames", g_stats.vlan_frames);
  add("guest_vlan_replies", g_stats.vlan_replies);
  add("guest_ctrl_commands", g_stats.ctrl_commands);
  add("guest_ctrl_dropped", g_stats.ctrl_dropped);
  add("guest_announces", g_stats.announces);
  add("guest_rx_chain_too_big", g_offload.rx_chain_too_big);
  char name[16];
  for (uint16_t p = 0; p < g_pairs; ++p) {
    format(name, sizeof(name), "pair%u_rx", p);
    add(name, g_stats.pair_rx[p]);
    format(name, sizeof(name), "pair%u_tx", p);
    add(name, g_stats.pair_tx[p]);
  }
  add("guest_irq_delivered", g_platform.irq_delivered());
  add("guest_irq_unarmed", g_platform.irq_unarmed());
  add("guest_halts", sleep::stats().halts);
  add("guest_timer_interrupts", sleep::stats().timer_interrupts);
  add("pool_bad_frees", g_pool.bad_frees());
  add("pool_empty_allocs", g_pool.empty_allocs());
  add("shim_refused_accesses", g_platform.refused_accesses());
  add("bounce_maps", g_bounce.maps());
  add("bounce_map_failures", g_bounce.map_failures());
  add("bounce_bad_unmaps", g_bounce.bad_unmaps());
  add("trace_events", record::events_written());
  add("trace_bytes", record::bytes_written());
  return n;
}

void print_counters(const net::Responder& responder) {
  // Scatter-gather and indirect tables in use on tx (vnet-qemu
  // --expect-indirect reads this line).
  kprintf("vnet-guest: tx sg_packets=%llu indirect_chains=%llu frags=%u\n",
          static_cast<unsigned long long>(driver().counters().tx_sg_packets),
          static_cast<unsigned long long>(driver().counters().tx_indirect_chains), tx_frags());
  // Offloads (vnet-qemu --expect-offloads reads this line).
  const vnet::NetCounters c = g_pairs > 1 ? driver().total_counters() : driver().counters();
  kprintf(
      "vnet-guest: offload tx_csum=%llu tx_gso=%llu tso_bytes=%llu rx_csum_partial=%llu "
      "rx_csum_verified=%llu rx_gso=%llu rx_chains=%llu csum_trusted=%llu max_rx_frame=%llu "
      "max_tx_frame=%llu\n",
      static_cast<unsigned long long>(c.tx_csum_offloaded),
      static_cast<unsigned long long>(c.tx_gso_packets),
      static_cast<unsigned long long>(g_tcp.counters().tcp_tso_bytes),
      static_cast<unsigned long long>(c.rx_csum_partial),
      static_cast<unsigned long long>(c.rx_csum_verified),
      static_cast<unsigned long long>(c.rx_gso_packets),
      static_cast<unsigned long long>(c.rx_chain_packets),
      static_cast<unsigned long long>(responder.counters().csum_trusted),
      static_cast<unsigned long long>(g_offload.max_rx_frame),
      static_cast<unsigned long long>(g_offload.max_tx_frame));
  counters_text(responder, g_text, sizeof(g_text));
  kprintf("vnet-guest: counters\n%svnet-guest: end counters\n", g_text);
}

bool word_is(const uint8_t* p, uint32_t len, const char* word) {
  uint32_t n = static_cast<uint32_t>(strlen(word));
  while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r')) --len;
  return len == n && memcmp(p, word, n) == 0;
}

// Ends the trace (when recording) and leaves through the exit device.
[[noreturn]] void leave(ExitCode code) {
  record::finish();
  exit_qemu(code);
}

// Waits (bounded) until every reply handed to the device was completed.
void drain_tx() {
  uint64_t deadline = clock::now_ns() + kDrainTimeoutNs;
  for (uint16_t p = 0; p < g_pairs; ++p)
    while (driver().tx_queue(p).in_flight() > 0 && clock::now_ns() < deadline)
      session().tx_reclaim_on(p);
}

// Pair p >= 1 through the Session too (recorded with its pair).
uint16_t pair_rx_burst(uint16_t p, uint16_t max, vnet::trace::Session::FrameVisitor visit,
                       void* context) {
  return session().rx_burst_on(p, max, visit, context);
}

uint16_t pair_tx_burst(uint16_t p, const vnet::trace::TxFrame* frames,
                       const vnet::PacketOffload* offloads, uint16_t n) {
  return offloads != nullptr ? session().tx_burst_offload_on(p, frames, offloads, n)
                             : session().tx_burst_on(p, frames, n);
}

void spin_ns(uint64_t ns) {
  uint64_t until = clock::now_ns() + ns;
  while (clock::now_ns() < until) cpu::pause();
}

// One rx burst's worth of replies, built by the frame visitor.
struct Burst {
  net::Responder* responder;
  uint16_t pair;  // the queue pair the burst's frames came in on, and its replies go out on
  vnet::trace::TxFrame frames[kBurst];
  vnet::PacketOffload offloads[kBurst];  // each frame's request (none by default)
  uint32_t frag_lens[kBurst][vnet::kMaxTxFragments];
  uint16_t count;
  bool exit_requested;
};

// The length of a frame's headers: Ethernet, and for IPv4 its header and
// the TCP (data offset), UDP (8) or ICMP (8) header; the Ethernet header
// alone for anything else. Never more than len.
uint32_t header_length(const uint8_t* f, uint32_t len) {
  constexpr uint32_t kEth = 14;
  if (len < kEth + 20 || f[12] != 0x08 || f[13] != 0x00) return len < kEth ? len : kEth;
  const uint32_t ihl = uint32_t{f[kEth] & 0x0Fu} * 4;
  uint32_t l4 = 0;
  const uint8_t proto = f[kEth + 9];
  if (proto == 6 && len >= kEth + ihl + 20)
    l4 = static_cast<uint32_t>(f[kEth + ihl + 12] >> 4) * 4;
  else if (proto == 17 || proto == 1)
    l4 = 8;
  const uint32_t h = kEth + ihl + l4;
  return h < len ? h : len;
}

// The reply's fragments (policy: see tx_frags= above): its headers, then
// its payload in parts - 1 nearly equal pieces. Sets the frame's frag_lens
// and num_frags (left 0, one buffer, when there is no payload or parts is 1).
void fragment(vnet::trace::TxFrame& f, uint32_t* lens, uint16_t parts) {
  f.frag_lens = nullptr;
  f.num_frags = 0;
  // A frame above one buffer (a jumbo MTU, a TSO segment): the first buffer
  // full (its headers included), the rest in whole buffers. send() never
  // gets one that needs more than kMaxTxFragments (g_tx_frame_max).
  const uint32_t capacity = g_pool.capacity();
  const uint32_t first_room = capacity - vnet::kTxHeadroom;
  if (f.len > first_room) {
    uint32_t at = 0;
    uint16_t n = 0;
    while (at < f.len && n < vnet::kMaxTxFragments) {
      const uint32_t room = n == 0 ? first_room : capacity;
      lens[n] = f.len - at < room ? f.len - at : room;
      at += lens[n++];
    }
    f.frag_lens = lens;
    f.num_frags = n;
    return;
  }
  if (parts <= 1) return;
  const uint32_t head = header_length(f.data, f.len);
  const uint32_t payload = f.len - head;
  if (head == 0 || payload == 0) return;
  uint32_t pieces = parts - 1u;
  if (pieces > payload) pieces = payload;
  lens[0] = head;
  for (uint32_t i = 0; i < pieces; ++i)
    lens[1 + i] = payload / pieces + (i < payload % pieces ? 1 : 0);
  f.frag_lens = lens;
  f.num_frags = static_cast<uint16_t>(1 + pieces);
}

uint8_t* scratch_frame(uint16_t i) {
  return g_scratch + uint64_t{i} * g_scratch_frame;
}

// ---- control-plane requests (issue 15) ----

void send(Burst& b);

// Runs one control-plane request (command[0, len), no newline; parsed by
// guest/net/ctrl_request.h) on the driver and writes "<command>: <result>\n"
// to out.
size_t run_ctrl_command(net::Responder& responder, const char* command, size_t len, char* out,
                        size_t cap) {
  static net::CtrlRequest req;  // 800 bytes of MAC lists: not on the stack
  net::parse_ctrl_request(command, len, &req);
  // The request's own words first, so the peer can tell answers apart.
  if (len + 2 >= cap) len = cap - 3;
  memcpy(out, command, len);
  memcpy(out + len, ": ", 2);
  const size_t head = len + 2;
  char* r = out + head;
  const size_t rcap = cap - head;
  vnet::VirtioNet& net = driver();
  if (req.kind == net::CtrlKind::kStatus)
    return head + format(r, rcap, "ok ctrl=%s pairs=%u max_pairs=%u features=0x%llx\n",
                         net.has_control_queue() ? "on" : "off", net.queue_pairs(),
                         net.max_queue_pairs(),
                         static_cast<unsigned long long>(net.negotiated_features()));
  if (req.kind != net::CtrlKind::kRxMode && req.kind != net::CtrlKind::kMacFilter &&
      req.kind != net::CtrlKind::kMacAddr && req.kind != net::CtrlKind::kVlan)
    return head + format(r, rcap, "bad request\n");
  if (g_ctrl_skip) return head + format(r, rcap, "ok\n");  // the lie ctrl_skip=1 asks for
  ++g_stats.ctrl_commands;
  vnet::CtrlResult result = vnet::CtrlResult::kInvalid;
  switch (req.kind) {
    case net::CtrlKind::kRxMode:
      result = session().set_rx_mode(static_cast<vnet::RxMode>(req.rx_mode), req.on);
      break;
    case net::CtrlKind::kMacFilter: {
      static vnet::MacAddr uc[net::CtrlRequest::kMaxMacs], mc[net::CtrlRequest::kMaxMacs];
      for (uint16_t i = 0; i < req.n_uc; ++i) memcpy(uc[i].b, req.uc[i], 6);
      for (uint16_t i = 0; i < req.n_mc; ++i) memcpy(mc[i].b, req.mc[i], 6);
      result = session().set_mac_filter(uc, req.n_uc, mc, req.n_mc);
      break;
    }
    case net::CtrlKind::kMacAddr:
      result = session().set_mac_address(req.mac);
      if (result == vnet::CtrlResult::kOk) {
        responder.set_mac(net.mac());
        const uint8_t* a = net.mac();
        kprintf("vnet-guest: mac %02x:%02x:%02x:%02x:%02x:%02x\n", a[0], a[1], a[2], a[3], a[4],
                a[5]);
      }
      break;
    case net::CtrlKind::kVlan:
      result = req.on ? session().add_vlan(req.vid) : session().remove_vlan(req.vid);
      break;
    default:
      break;
  }
  return head + format(r, rcap, "%s\n", vnet::ctrl_result_name(result));
}

// The request on_frame() set aside, run now (between bursts), and its
// answer sent.
void run_pending_command(net::Responder& responder) {
  if (!g_command.pending) return;
  g_command.pending = false;
  const char* text = reinterpret_cast<const char*>(g_command_frame + g_command.payload_offset);
  size_t len = g_command.payload_len;
  while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r')) --len;
  const size_t tlen = run_ctrl_command(responder, text, len, g_text, sizeof(g_text));
  uint8_t* out = scratch_frame(0);
  uint32_t cap = g_scratch_frame - (g_command.tagged ? net::kVlanTagLen : 0);
  uint32_t flen =
      responder.build_udp_reply(g_command_frame, reinterpret_cast<const uint8_t*>(g_text),
                                static_cast<uint32_t>(tlen), out, cap);
  if (flen != 0 && g_command.tagged)
    flen = net::vlan_insert(out, flen, g_scratch_frame, g_command.tci);
  if (flen == 0) return;
  Burst b{};
  b.responder = &responder;
  b.frames[0].data = out;
  b.frames[0].len = flen;
  b.count = 1;
  send(b);
}

// The TCP echo's SegmentOffload as the driver's PacketOffload request;
// shift: bytes inserted in front of the IP header (an 802.1Q tag).
vnet::PacketOffload to_packet_offload(const net::SegmentOffload& seg, uint32_t shift) {
  vnet::PacketOffload o;
  if (!seg.csum_partial) return o;
  o.csum = vnet::CsumState::kPartial;
  o.csum_start = static_cast<uint16_t>(seg.csum_start + shift);
  o.csum_offset = seg.csum_offset;
  if (seg.gso_size != 0) {
    o.gso = vnet::GsoKind::kTcp4;
    o.gso_size = seg.gso_size;
  }
  return o;
}

// rx: the driver's offload report of the frame (nullptr: none).
void handle_frame(Burst& b, const uint8_t* frame, uint32_t frame_len,
                  const vnet::PacketOffload* rx) {
  if (frame_len > g_offload.max_rx_frame) g_offload.max_rx_frame = frame_len;
  if (b.count == kBurst) {
    ++g_stats.tx_no_buffer;
    return;
  }
  uint8_t* out = scratch_frame(b.count);
  uint32_t cap = g_tx_frame_max;
  b.offloads[b.count] = vnet::PacketOffload{};
  uint32_t len = 0;
  // An 802.1Q frame: the responder sees it untagged, its reply (room left
  // for the tag) goes back with the same tag.
  const bool tagged = net::vlan_tagged(frame, frame_len);
  const uint16_t tci = tagged ? net::vlan_tci(frame) : 0;
  if (tagged) {
    ++g_stats.vlan_frames;
    frame_len = net::vlan_strip(frame, frame_len, g_untagged, g_scratch_frame);
    frame = g_untagged;
    cap -= net::kVlanTagLen;
  }
  net::ControlRequest ctl;
  net::SegmentOffload seg;
  net::Verdict v = b.responder->handle(frame, frame_len, out, cap, &len, &ctl, rx,
                                       g_tcp.csum_offload() ? &seg : nullptr);
  if (v == net::Verdict::kControl) {
    size_t tlen;
    if (word_is(ctl.payload, ctl.len, "counters")) {
      // Cut to what one datagram carries within the MTU (the console
      // still prints them all at exit).
      size_t text_cap = sizeof(g_text);
      if (b.responder->max_udp_payload() + 1 < text_cap)
        text_cap = b.responder->max_udp_payload() + 1;
      tlen = counters_text(*b.responder, g_text, text_cap);
    } else if (word_is(ctl.payload, ctl.len, "exit")) {
      tlen = format(g_text, sizeof(g_text), "bye\n");
      b.exit_requested = true;
    } else if (word_is(ctl.payload, ctl.len, "ping")) {
      tlen = format(g_text, sizeof(g_text), "pong\n");
    } else if (net::is_ctrl_request(reinterpret_cast<const char*>(ctl.payload), ctl.len)) {
      // Run after the burst (run_pending_command); one at a time.
      if (g_command.pending || ctl.len > 512) {
        ++g_stats.ctrl_dropped;
        return;
      }
      g_command.pending = true;
      g_command.tagged = tagged;
      g_command.tci = tci;
      g_command.frame_len = frame_len;
      g_command.payload_offset = static_cast<uint32_t>(ctl.payload - frame);
      g_command.payload_len = ctl.len;
      memcpy(g_command_frame, frame, frame_len);
      return;
    } else {
      tlen = format(g_text, sizeof(g_text), "unknown command\n");
    }
    len = b.responder->build_udp_reply(frame, reinterpret_cast<const uint8_t*>(g_text),
                                       static_cast<uint32_t>(tlen), out, cap);
  }
  if (len == 0) return;
  if (tagged) {
    len = net::vlan_insert(out, len, g_scratch_frame, tci);
    if (len == 0) return;
    ++g_stats.vlan_replies;
  }
  if (v == net::Verdict::kReply && g_tcp.csum_offload())
    b.offloads[b.count] = to_packet_offload(seg, tagged ? net::kVlanTagLen : 0);
  b.frames[b.count].data = out;
  b.frames[b.count].len = len;
  ++b.count;
}

void on_frame(void* context, const uint8_t* frame, uint32_t frame_len) {
  handle_frame(*static_cast<Burst*>(context), frame, frame_len, nullptr);
}

// A delivered frame whole: one buffer, or a receive chain (rx_chains)
// copied into g_linear -- bounded: a chain longer than it is dropped and
// counted (the driver already keeps chains within kMaxGsoFrame).
void on_buffer(void* context, const vnet::PacketBuffer& first) {
  Burst& b = *static_cast<Burst*>(context);
  if (first.next == nullptr) {
    handle_frame(b, first.data(), first.len, &first.offload);
    return;
  }
  uint32_t at = 0;
  for (const vnet::PacketBuffer* p = &first; p != nullptr; p = p->next) {
    if (p->len > kLinearBytes - at) {
      ++g_offload.rx_chain_too_big;
      return;
    }
    memcpy(g_linear + at, p->data(), p->len);
    at += p->len;
  }
  handle_frame(b, g_linear, at, &first.offload);
}

// Hands the burst's frames to the driver; what it does not take (no pool
// buffer, or no room in the ring) is dropped and counted.
void send(Burst& b) {
  if (b.count == 0) return;
  const uint16_t parts = tx_frags();
  bool offloads = false;
  for (uint16_t i = 0; i < b.count; ++i) {
    fragment(b.frames[i], b.frag_lens[i], parts);
    if (b.frames[i].len > g_offload.max_tx_frame) g_offload.max_tx_frame = b.frames[i].len;
    offloads = offloads || b.offloads[i].csum != vnet::CsumState::kNone;
  }
  const uint32_t buffers = g_pool.available();
  // Offload requests only when a frame asks for one (tx_burst_on otherwise,
  // as always).
  const uint16_t taken = pair_tx_burst(b.pair, b.frames, offloads ? b.offloads : nullptr, b.count);
  g_stats.pair_tx[b.pair < vnet::kMaxQueuePairs ? b.pair : 0] += taken;
  const uint16_t no_buffer = buffers < b.count ? static_cast<uint16_t>(b.count - buffers) : 0;
  g_stats.tx_no_buffer += no_buffer;
  g_stats.tx_ring_refused += b.count - taken > no_buffer ? b.count - taken - no_buffer : 0;
}

// The driver's interrupt entry point, called by GuestPlatform from the IDT
// handler (inside the serve loop's wait, never during a driver call): it
// acknowledges the device (INTx: the ISR read) and says what to run next.
// Through the Session, so that a recording has each interrupt as a
// handle_interrupt call at the point of the run where it was taken (the
// trace writer is between lines here: interrupts come only in the wait).
void on_interrupt(void*, vnet::IrqSource source) {
  const vnet::IrqWork w = session().handle_interrupt(source);
  g_irq_work.rx = g_irq_work.rx || w.rx;
  g_irq_work.tx = g_irq_work.tx || w.tx;
  g_irq_work.control = g_irq_work.control || w.control;
}

// The interrupt-driven idle step: queue interrupts on (rx always; tx only
// when more than half the tx ring is in flight -- otherwise completed
// replies are reclaimed on the next wake-up, which costs nothing, where a
// tx interrupt per reply would double the interrupt rate), and unless
// completions raced in, halt until an interrupt or the deadline. Interrupts
// go off again before the loop polls (2.7.7: a hint; the loop never relies
// on their absence). Returns true when poll_device() is due at once (a
// configuration interrupt).
bool wait_for_work(uint64_t deadline) {
  vnet::VirtioNet& net = driver();
  const bool tx_wait = uint32_t{net.tx_queue().in_flight()} * 2 > net.tx_queue().size();
  bool pending = session().set_rx_interrupts(true);
  for (uint16_t p = 1; p < g_pairs; ++p) pending = session().set_rx_interrupts(p, true) || pending;
  if (!pending && tx_wait) pending = session().set_tx_interrupts(true);
  if (pending) {
    ++g_stats.irq_wait_raced;
  } else {
    ++g_stats.irq_waits;
    sleep::idle_until(deadline);
  }
  session().set_rx_interrupts(false);
  for (uint16_t p = 1; p < g_pairs; ++p) session().set_rx_interrupts(p, false);
  if (tx_wait) session().set_tx_interrupts(false);
  const bool control = g_irq_work.control;
  g_irq_work = vnet::IrqWork{};
  return control;
}

[[noreturn]] void serve(net::Responder& responder) {
  const bool recording = record::active();
  uint64_t poll_interval = recording ? kRecordPollIntervalNs : kPollIntervalNs;
  uint64_t next_poll = clock::now_ns() + poll_interval;
  uint64_t idle_ns = kIdleMinNs;
  Burst burst{};
  burst.responder = &responder;

  // Announce ourselves so the gateway learns our MAC before the first echo.
  burst.frames[0].data = scratch_frame(0);
  burst.frames[0].len = responder.build_gratuitous_arp(scratch_frame(0), g_scratch_frame);
  burst.count = burst.frames[0].len != 0 ? 1 : 0;
  send(burst);

  uint16_t pair = 0;
  for (;;) {
    // One pair a turn, round-robin; a frame's replies go out on the pair it
    // came in on (a multiqueue tap then keeps each flow on its queue).
    pair = static_cast<uint16_t>((pair + 1) % g_pairs);
    burst.pair = pair;
    burst.count = 0;
    burst.exit_requested = false;
    responder.set_now_ns(clock::now_ns());
    // Whole frames (receive chains, offload reports) when the guest takes
    // offloads or chains; the bytes of each frame otherwise, as always.
    const uint16_t n = g_whole_frames
                           ? session().rx_burst_buffers_on(pair, kBurst, &on_buffer, &burst)
                       : pair == 0 ? session().rx_burst(kBurst, &on_frame, &burst)
                                   : pair_rx_burst(pair, kBurst, &on_frame, &burst);
    g_stats.pair_rx[pair] += n;
    // The TCP echo's own segments (data its peer's window held back,
    // retransmissions), in the room left in this burst.
    while (burst.count < kBurst) {
      uint8_t* out = scratch_frame(burst.count);
      net::SegmentOffload seg;
      uint32_t len =
          g_tcp.poll(clock::now_ns(), out, g_tx_frame_max, g_tcp.csum_offload() ? &seg : nullptr);
      if (len == 0) break;
      burst.offloads[burst.count] =
          g_tcp.csum_offload() ? to_packet_offload(seg, 0) : vnet::PacketOffload{};
      burst.frames[burst.count].data = out;
      burst.frames[burst.count].len = len;
      ++burst.count;
    }
    const bool busy = n > 0 || burst.count > 0;
    send(burst);
    if (busy || driver().tx_queue(pair).in_flight() > 0) session().tx_reclaim_on(pair);
    run_pending_command(responder);  // a control-plane request of this burst

    if (burst.exit_requested) {
      drain_tx();
      print_counters(responder);
      session().stop();
      leave(ExitCode::kOk);
    }

    uint64_t now = clock::now_ns();
    if (now >= next_poll) {
      next_poll = now + poll_interval;
      vnet::DeviceEvents ev = session().poll_device();
      if (ev.link_changed) kprintf("vnet-guest: link %s\n", driver().link_up() ? "up" : "down");
      if (ev.announce && !g_ctrl_skip) {
        // GUEST_ANNOUNCE: the driver acknowledged the device's request;
        // the announcement itself is ours to send.
        Burst arp{};
        arp.responder = &responder;
        arp.frames[0].data = scratch_frame(0);
        arp.frames[0].len = responder.build_gratuitous_arp(scratch_frame(0), g_scratch_frame);
        arp.count = arp.frames[0].len != 0 ? 1 : 0;
        send(arp);
        ++g_stats.announces;
        kprintf("vnet-guest: announce: gratuitous ARP sent\n");
      }
      if (ev.reset_detected)
        kprintf("vnet-guest: device reset detected, %s\n",
                ev.recovered ? "recovered" : "not recovered");
    }
    if (driver().state() != vnet::NetState::kRunning) {
      kprintf("vnet-guest: driver state %s, recovering\n", vnet::net_state_name(driver().state()));
      if (g_stats.recoveries >= kMaxRecoveries || !session().recover()) {
        print_counters(responder);
        leave(ExitCode::kBroken);
      }
      ++g_stats.recoveries;
      responder.set_mtu(driver().mtu());  // as negotiated again
    }
    if (driver().interrupt_mode() != vnet::InterruptMode::kPolling) {
      // Interrupts tell us about config changes and device resets, so the
      // device is polled rarely; the tx watchdog needs a tick only while
      // replies are in flight.
      poll_interval =
          driver().tx_queue().in_flight() > 0 ? kIrqBusyPollIntervalNs : kIrqIdlePollIntervalNs;
      if (next_poll > clock::now_ns() + poll_interval) next_poll = clock::now_ns() + poll_interval;
      if (!busy && driver().state() == vnet::NetState::kRunning) {
        uint64_t deadline = next_poll;
        const uint64_t tcp = g_tcp.next_deadline_ns();
        if (tcp != 0 && tcp < deadline) deadline = tcp;
        if (wait_for_work(deadline)) next_poll = 0;
      }
    } else if (recording) {
      poll_interval = kRecordPollIntervalNs;
      if (busy) {
        idle_ns = kIdleMinNs;
      } else {
        spin_ns(idle_ns);
        idle_ns = idle_ns * 2 > kIdleMaxNs ? kIdleMaxNs : idle_ns * 2;
      }
    } else {
      poll_interval = kPollIntervalNs;  // polling again (an interrupt storm)
    }
  }
}

vnet::PciMode parse_mode(const char* cmdline) {
  char mode[16];
  if (!cmdline_get(cmdline, "mode", mode, sizeof(mode))) return vnet::PciMode::kAuto;
  if (memcmp(mode, "legacy", 7) == 0) return vnet::PciMode::kLegacy;
  if (memcmp(mode, "modern", 7) == 0) return vnet::PciMode::kModern;
  return vnet::PciMode::kAuto;
}

// The platform the driver runs on: the guest's shim, or its bounce layer.
vnet::Platform& session_platform(bool bounce) {
  return bounce ? static_cast<vnet::Platform&>(g_bounce) : g_platform;
}

// The driver's virtio-mmio probe (driver/transport/mmio_probe.h) on the
// NIC's window, through the Session (a "probe_mmio" call in a recording);
// ends the run when it refuses. mode=legacy|modern asks for version 1 or
// 2: a device of the other version is refused, as on PCI.
vnet::Transport* probe_mmio(vnet::trace::Session& s, const virtio_mmio::Window& w,
                            vnet::PciMode mode, uint32_t* device_id) {
  vnet::MmioWindow window;
  window.base = w.base;
  window.size = w.size;
  window.irq = w.irq == virtio_mmio::kNoIrq ? -1 : static_cast<int32_t>(w.irq);
  const vnet::MmioProbeError error = s.probe_mmio(window);
  const vnet::MmioProbeResult& r = s.mmio_probe_result();
  *device_id = r.device_id;
  if (error != vnet::MmioProbeError::kOk || r.transport == nullptr) {
    kprintf(
        "vnet-guest: probe failed: %s (virtio-mmio at 0x%llx: magic 0x%08x version %u device %u, "
        "config %u bytes, %u needed)\n",
        vnet::mmio_probe_error_name(r.error), static_cast<unsigned long long>(w.base), r.magic,
        r.version, r.device_id, r.device_cfg_length, r.device_cfg_needed);
    leave(ExitCode::kProbeFailed);
  }
  const uint32_t wanted = mode == vnet::PciMode::kLegacy   ? 1
                          : mode == vnet::PciMode::kModern ? 2
                                                           : r.version;
  if (r.version != wanted) {
    kprintf("vnet-guest: probe failed: mode=%s but the virtio-mmio device is version %u\n",
            wanted == 1 ? "legacy" : "modern", r.version);
    leave(ExitCode::kProbeFailed);
  }
  return r.transport;
}

vnet::LogLevel parse_log_level(const char* cmdline) {
  char level[16];
  if (!cmdline_get(cmdline, "log", level, sizeof(level))) return vnet::LogLevel::kInfo;
  if (memcmp(level, "error", 6) == 0) return vnet::LogLevel::kError;
  if (memcmp(level, "warn", 5) == 0) return vnet::LogLevel::kWarn;
  if (memcmp(level, "debug", 6) == 0) return vnet::LogLevel::kDebug;
  return vnet::LogLevel::kInfo;
}

}  // namespace

extern "C" [[noreturn]] void guest_main(uint32_t start_info) {
  console_init();
  kprintf("\nvnet-guest: boot (com2 %s)\n", com2_present() ? "present" : "absent");
  BootInfo boot = parse_start_info(start_info);
  if (!boot.valid) panic("no PVH start info at 0x%x", start_info);
  const char* cmdline = boot.cmdline;
  kprintf("vnet-guest: cmdline \"%s\"\n", cmdline);

  clock::calibrate();
  kprintf("vnet-guest: tsc %llu kHz (%s)\n",
          static_cast<unsigned long long>(clock::tsc_hz() / 1000), clock::calibration_source());
  init_interrupts();
  bool irq_given = false;
  const IrqMode irq_mode = parse_irq_mode(cmdline, &irq_given);

  PhysAllocator& phys = phys_allocator();
  phys.init(boot);
  kprintf("vnet-guest: ram %llu MiB in %zu ranges, %llu MiB free\n",
          static_cast<unsigned long long>(boot.ram_total >> 20), boot.ram_count,
          static_cast<unsigned long long>(phys.free_bytes() >> 20));

  size_t found = pci::enumerate(g_functions, kMaxFunctions);
  if (found > kMaxFunctions) found = kMaxFunctions;
  pci::Function* nic = nullptr;
  for (size_t i = 0; i < found; ++i) {
    pci::Function& f = g_functions[i];
    pci::decode_bars(f);
    print_function(f);
    if (nic == nullptr && f.vendor == kVirtioVendor &&
        (f.device == kNetTransitional || f.device == kNetModern))
      nic = &f;
  }
  kprintf("vnet-guest: %zu pci functions\n", found);
  // virtio-mmio devices (microvm): the NIC there when PCI has none.
  const MmioScan mmio_scan = parse_mmio_scan(cmdline);
  const size_t mmio_found = discover_mmio(cmdline, boot, found, mmio_scan, g_mmio, kMaxMmioWindows);
  const virtio_mmio::Window* mmio_nic = nullptr;
  for (size_t i = 0; i < mmio_found && nic == nullptr && mmio_nic == nullptr; ++i)
    if (virtio_mmio::identify(g_mmio[i], &read_phys32, nullptr).is_net()) mmio_nic = &g_mmio[i];
  if (mmio_found > 0) kprintf("vnet-guest: %zu virtio-mmio windows\n", mmio_found);

  char action[16] = "serve";
  cmdline_get(cmdline, "action", action, sizeof(action));
  if (memcmp(action, "lspci", 6) == 0) exit_qemu(ExitCode::kOk);
  if (memcmp(action, "irqtest", 8) == 0) run_irqtest(cmdline, g_functions, found);
  if (memcmp(action, "idle", 5) == 0) run_idle(cmdline);
  if (memcmp(action, "serve", 6) != 0) {
    kprintf("vnet-guest: bad command line: action=%s (serve, lspci, irqtest or idle)\n", action);
    exit_qemu(ExitCode::kBadCommandLine);
  }

  if (nic == nullptr && mmio_nic == nullptr) {
    kprintf("vnet-guest: no virtio-net device\n");
    exit_qemu(ExitCode::kNoDevice);
  }
  const bool on_mmio = nic == nullptr;
  vnet::NetOptions options;
  options.rx_ring_cap = static_cast<uint16_t>(cmdline_number(cmdline, "rx_cap", 256));
  options.tx_ring_cap = static_cast<uint16_t>(cmdline_number(cmdline, "tx_cap", 256));
  options.feature_mask = ~cmdline_number(cmdline, "mask", 0);
  options.accept_ring_packed = cmdline_number(cmdline, "packed", 1) != 0;
  options.accept_indirect_desc = cmdline_number(cmdline, "indirect", 1) != 0;
  // The control plane: on by default, off while recording unless asked for
  // (a recording made without ctrl= negotiates what recordings always did).
  const bool recording_asked = cmdline_number(cmdline, "record", 0) != 0;
  options.accept_ctrl_vq = cmdline_number(cmdline, "ctrl", recording_asked ? 0 : 1) != 0;
  g_ctrl_skip = cmdline_number(cmdline, "ctrl_skip", 0) != 0;
  // Multiqueue: drive up to pairs= queue pairs (MQ, which needs CTRL_VQ).
  const uint64_t pairs = cmdline_number(cmdline, "pairs", 1);
  if (pairs < 1 || pairs > vnet::kMaxQueuePairs) {
    kprintf("vnet-guest: bad command line: pairs=%llu (1..%u)\n",
            static_cast<unsigned long long>(pairs), vnet::kMaxQueuePairs);
    exit_qemu(ExitCode::kBadCommandLine);
  }
  options.max_queue_pairs = static_cast<uint16_t>(pairs);

  // RSS (VIRTIO_NET_F_RSS, QEMU: rss=on): steer by the Toeplitz hash of
  // IPv4/TCP/UDP over every pair, or (rss_pin=K) everything to pair K.
  options.accept_rss = cmdline_number(cmdline, "rss", 0) != 0;
  g_rss_pin = cmdline_number(cmdline, "rss_pin", 0xffff);
  char frags[8] = "auto";
  cmdline_get(cmdline, "tx_frags", frags, sizeof(frags));
  if (memcmp(frags, "auto", 5) != 0) {
    const uint64_t n = cmdline_number(cmdline, "tx_frags", 0);
    if (n < 1 || n > vnet::kMaxTxFragments) {
      kprintf("vnet-guest: bad command line: tx_frags=%s (auto or 1..%u)\n", frags,
              vnet::kMaxTxFragments);
      exit_qemu(ExitCode::kBadCommandLine);
    }
    g_tx_frags_option = static_cast<uint16_t>(n);
  }
  // Offloads and receive chains (issue 16), all off by default.
  const bool tso = cmdline_number(cmdline, "tso", 0) != 0;
  const bool csum = cmdline_number(cmdline, "csum", tso ? 1 : 0) != 0;
  if (tso && !csum) {
    kprintf("vnet-guest: bad command line: tso=1 needs csum=1 (HOST_TSO needs CSUM)\n");
    exit_qemu(ExitCode::kBadCommandLine);
  }
  options.accept_tx_csum = options.accept_rx_csum = csum;
  options.accept_tso = options.accept_rx_gso = tso;
  options.rx_chains = cmdline_number(cmdline, "chains", tso ? 1 : 0) != 0;
  options.max_frame = static_cast<uint32_t>(cmdline_number(cmdline, "max_frame", 1514));
  if (options.max_frame < 64 || options.max_frame > vnet::kMaxGsoFrame) {
    kprintf("vnet-guest: bad command line: max_frame=%u (64..%u)\n", options.max_frame,
            vnet::kMaxGsoFrame);
    exit_qemu(ExitCode::kBadCommandLine);
  }
  g_whole_frames = csum || options.rx_chains;
  const uint64_t window = cmdline_number(cmdline, "window", tso ? 65535 : 8192);
  if (window < net::TcpEcho::kMinWindow || window > net::TcpEcho::kMaxWindow) {
    kprintf("vnet-guest: bad command line: window=%llu (%u..%u)\n",
            static_cast<unsigned long long>(window), net::TcpEcho::kMinWindow,
            net::TcpEcho::kMaxWindow);
    exit_qemu(ExitCode::kBadCommandLine);
  }
  g_tcp.set_window(static_cast<uint32_t>(window));
  // Frames above one buffer go out as chains of buffers (fragment()).
  const bool big_frames = tso || options.rx_chains || options.max_frame > 1514;
  uint32_t capacity = static_cast<uint32_t>(cmdline_number(cmdline, "buf", 10240));
  // Scatter-gather replies hold a buffer per fragment: room for a tx ring
  // of them (at most 1024 more buffers).
  const uint32_t max_frags =
      g_tx_frags_option != 0 ? g_tx_frags_option : (options.accept_indirect_desc ? 2 : 1);
  uint32_t extra = uint32_t{options.tx_ring_cap} * (max_frags - 1);
  if (big_frames) extra = 1024;  // replies of several buffers each
  if (extra > 1024) extra = 1024;
  uint32_t count =
      static_cast<uint32_t>(pairs) * (uint32_t{options.rx_ring_cap} + options.tx_ring_cap + extra) +
      2 * kBurst + 16;

  // The trace header is written (and the NIC's capabilities looked at)
  // before the command register is set, so that in a QEMU capture of the
  // same run everything after that write is the driver's
  // (docs/qemu-capture.md, "driver_start").
  // Bounce mode: one shared area, a slot per buffer that can be in flight
  // (rx buffers are mapped whole, so a slot holds a buffer's capacity).
  const bool bounce = cmdline_number(cmdline, "bounce", 0) != 0;
  const uint32_t bounce_slots = uint32_t{options.rx_ring_cap} + options.tx_ring_cap + extra;
  if (bounce && !g_bounce.init(capacity, bounce_slots))
    panic("no memory for a bounce area of %u slots of %u bytes", bounce_slots, capacity);
  record::init(session_platform(bounce), g_pool);
  if (cmdline_number(cmdline, "record", 0) != 0) {
    const record::PoolShape shape{capacity, count};
    if (on_mmio ? record::start_mmio(*mmio_nic,
                                     virtio_mmio::identify(*mmio_nic, &read_phys32, nullptr), shape)
                : record::start(*nic, shape))
      kprintf("vnet-guest: recording to com2\n");
    else
      kprintf("vnet-guest: record=1 but no com2: not recording\n");
  }

  // What the NIC offers for interrupts (read before the command register
  // write, like the trace header above): reported on the ready line. A
  // virtio-mmio device has no MSI-X; its line is the GSI its window came
  // with, level-triggered and active-high (virtio_mmio.h).
  msi::MsixInfo nic_msix;
  const char* msix_error = nullptr;
  const uint16_t msix_vectors =
      !on_mmio && msi::probe_msix(*nic, &nic_msix, &msix_error) ? nic_msix.table_size : 0;
  pci_intx::Route nic_intx;
  bool intx_routed = false;
  if (!on_mmio) {
    intx_routed = pci_intx::route_of(*nic, &nic_intx);
  } else if (line_reachable(mmio_nic->irq)) {
    nic_intx.gsi = mmio_nic->irq;
    nic_intx.trigger = ioapic::Trigger::kLevel;
    nic_intx.polarity = ioapic::Polarity::kActiveHigh;
    intx_routed = true;
  }
  if (intx_routed) g_platform.set_line_route(nic_intx);
  char intx_gsi[12] = "none";
  if (intx_routed) format(intx_gsi, sizeof(intx_gsi), "%u", nic_intx.gsi);
  // The driver's ladder starts at irq=; the platform offers MSI only for
  // msix and the line for intx and msix. A recording takes interrupts when
  // irq= is given (they are handle_interrupt calls in its trace) and polls
  // by default, so that a recording made without irq= is what it always
  // was (the corpus's polling traces).
  vnet::InterruptMode want = irq_mode == IrqMode::kMsix   ? vnet::InterruptMode::kMsix
                             : irq_mode == IrqMode::kIntx ? vnet::InterruptMode::kIntx
                                                          : vnet::InterruptMode::kPolling;
  if (record::active() && !irq_given && want != vnet::InterruptMode::kPolling) {
    kprintf(
        "vnet-guest: recording without irq=: polling (irq=msix or irq=intx records "
        "interrupts)\n");
    want = vnet::InterruptMode::kPolling;
  }
  options.interrupts = want;
  g_platform.allow_interrupts(want == vnet::InterruptMode::kMsix,
                              want != vnet::InterruptMode::kPolling);
  g_platform.set_interrupt_handler(&on_interrupt, nullptr);

  if (on_mmio) {
    if (!g_platform.bind_mmio(mmio_nic->base, mmio_nic->size))
      panic("cannot map the virtio-mmio window at 0x%llx",
            static_cast<unsigned long long>(mmio_nic->base));
  } else {
    pci::enable(*nic);
    if (!g_platform.bind(*nic)) panic("cannot map the BARs of the virtio-net function");
  }
  g_platform.set_log_level(parse_log_level(cmdline));
  if (!g_pool.init(count, capacity)) panic("no memory for %u buffers of %u bytes", count, capacity);
  if (capacity <= vnet::kTxHeadroom) panic("buf=%u leaves no room for a frame", capacity);
  g_scratch_frame = capacity - vnet::kTxHeadroom;
  // Big frames are built whole before they are cut into buffers.
  if (big_frames && g_scratch_frame < vnet::kMaxGsoFrame + net::kVlanTagLen)
    g_scratch_frame = vnet::kMaxGsoFrame + net::kVlanTagLen;
  g_tx_frame_max = g_scratch_frame;
  if (g_whole_frames) {
    g_linear = reinterpret_cast<uint8_t*>(phys.alloc(kLinearBytes, 64));
    if (g_linear == nullptr) panic("no memory for a %u-byte receive frame", kLinearBytes);
  }
  uint64_t scratch = phys.alloc(uint64_t{kBurst} * g_scratch_frame, 64);
  if (scratch == 0) panic("no memory for %u reply frames of %u bytes", kBurst, g_scratch_frame);
  g_scratch = reinterpret_cast<uint8_t*>(scratch);
  g_untagged = reinterpret_cast<uint8_t*>(phys.alloc(g_scratch_frame, 64));
  if (g_untagged == nullptr) panic("no memory for an untagged frame of %u bytes", g_scratch_frame);
  g_command_frame = reinterpret_cast<uint8_t*>(phys.alloc(g_scratch_frame, 64));
  if (g_command_frame == nullptr) panic("no memory for a request of %u bytes", g_scratch_frame);

  vnet::trace::Session& s = session();
  vnet::Transport* transport = nullptr;
  uint32_t device_id = 0;
  if (on_mmio) {
    transport = probe_mmio(s, *mmio_nic, parse_mode(cmdline), &device_id);
  } else {
    const vnet::ProbeError probe_error = s.probe(parse_mode(cmdline));
    const vnet::ProbeResult& probe = s.probe_result();
    if (probe_error != vnet::ProbeError::kOk || probe.transport == nullptr) {
      kprintf("vnet-guest: probe failed: %s (modern: %s, caps seen %u, rejected %u)\n",
              vnet::probe_error_name(probe.error),
              vnet::modern_probe_error_name(probe.modern_error), probe.modern_report.caps_seen,
              probe.modern_report.caps_rejected);
      leave(ExitCode::kProbeFailed);
    }
    transport = probe.transport;
    device_id = nic->device;
  }

  uint64_t t0 = clock::now_ns();
  vnet::AttachError err = s.attach(options);
  uint64_t attach_us = (clock::now_ns() - t0) / 1000;
  vnet::VirtioNet& net_dev = driver();
  net::Responder responder(net_dev.mac(), net::Responder::kDefaultIp);
  responder.set_tcp(&g_tcp);
  // Replies and TCP segments within the negotiated MTU (1500 when the
  // device offers none): the advertised MSS is mtu - 40.
  responder.set_mtu(net_dev.mtu());
  // The largest frame the guest sends: one buffer, or a chain of as many
  // buffers as one frame may take (kMaxTxFragments through indirect
  // tables; the direct limit less a separate header descriptor without).
  {
    const uint32_t first_room = capacity - vnet::kTxHeadroom;
    const uint32_t max_parts = net_dev.indirect_tx() ? vnet::kMaxTxFragments : 3;
    uint64_t limit =
        big_frames ? uint64_t{first_room} + uint64_t{max_parts - 1} * capacity : first_room;
    if (limit > g_scratch_frame) limit = g_scratch_frame;
    if (big_frames && limit > vnet::kMaxGsoFrame) limit = vnet::kMaxGsoFrame;
    g_tx_frame_max = static_cast<uint32_t>(limit);
  }
  g_tcp.set_offloads(
      vnet::spec::has_feature(net_dev.negotiated_features(), vnet::spec::Feature::kNetCsum),
      vnet::spec::has_feature(net_dev.negotiated_features(), vnet::spec::Feature::kNetHostTso4),
      g_tx_frame_max);
  if (err != vnet::AttachError::kOk) {
    kprintf("vnet-guest: attach failed: %s (transport %s, offered 0x%llx)\n",
            vnet::attach_error_name(err), transport->name(),
            static_cast<unsigned long long>(net_dev.device_features()));
    print_counters(responder);
    leave(ExitCode::kAttachFailed);
  }
  // A MAC the driver chose (the device offered none, or an invalid one) is
  // one the device's receive filter does not know: once the driver turns
  // promiscuous mode off (it sends its rx modes at attach), frames for it
  // would be dropped. Tell the device (MAC_ADDR_SET, as Linux does), or
  // stay promiscuous where it cannot be told.
  if (!net_dev.mac_from_device() && net_dev.has_control_queue() && !g_ctrl_skip &&
      !record::active()) {
    const vnet::CtrlResult r = s.set_mac_address(net_dev.mac());
    const vnet::CtrlResult p =
        r == vnet::CtrlResult::kOk ? r : s.set_rx_mode(vnet::RxMode::kPromiscuous, true);
    kprintf("vnet-guest: driver-chosen mac: mac-addr %s%s%s\n", vnet::ctrl_result_name(r),
            r == vnet::CtrlResult::kOk ? "" : ", promiscuous on ",
            r == vnet::CtrlResult::kOk ? "" : vnet::ctrl_result_name(p));
  }
  // Multiqueue: every pair set up at attach in use (VQ_PAIRS_SET).
  if (net_dev.queue_pairs() < net_dev.max_queue_pairs()) {
    const vnet::CtrlResult r = s.set_queue_pairs(net_dev.max_queue_pairs());
    kprintf("vnet-guest: %u queue pairs: %s\n", net_dev.max_queue_pairs(),
            vnet::ctrl_result_name(r));
  }
  g_pairs = net_dev.queue_pairs() > 0 ? net_dev.queue_pairs() : 1;
  if (net_dev.rss_max_key_size() > 0) {  // RSS negotiated, its limits valid
    static vnet::RssSettings rss;
    // IPv4, TCPv4, UDPv4 (virtio 1.2, 5.1.6.4.3.1) as far as the device hashes them.
    rss.hash_types = 0x7u & net_dev.rss_hash_types();
    uint16_t len = vnet::kMaxRssTable;
    while (len > net_dev.rss_max_table_len() && len > 1) len = static_cast<uint16_t>(len / 2);
    rss.table_len = len;
    const uint16_t n = net_dev.queue_pairs();
    const bool pin = g_rss_pin < n;
    for (uint16_t i = 0; i < len; ++i)
      rss.table[i] = pin ? static_cast<uint16_t>(g_rss_pin) : static_cast<uint16_t>(i % n);
    rss.unclassified_pair = pin ? static_cast<uint16_t>(g_rss_pin) : 0;
    // The key of the RSS verification suite (Microsoft's default).
    static constexpr uint8_t kKey[40] = {
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
        0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
        0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};
    rss.key_len = net_dev.rss_max_key_size() < 40 ? net_dev.rss_max_key_size() : 40;
    memcpy(rss.key, kKey, rss.key_len);
    const vnet::CtrlResult r = s.set_rss(rss);
    g_rss = r == vnet::CtrlResult::kOk ? "on" : vnet::ctrl_result_name(r);
    kprintf("vnet-guest: rss %s: %u entries over %u pairs%s, hash types 0x%x\n",
            vnet::ctrl_result_name(r), len, n, pin ? " (pinned)" : "", rss.hash_types);
  }
  const uint8_t* mac = net_dev.mac();
  // The negotiated transport features that shape the rings.
  auto on_off = [&net_dev](vnet::spec::Feature f) {
    return vnet::spec::has_feature(net_dev.negotiated_features(), f) ? "on" : "off";
  };
  // The offload features negotiated, by name (none: none of them).
  char offload_text[200] = "";
  {
    static constexpr struct {
      vnet::spec::Feature f;
      const char* name;
    } kOffloads[] = {
        {vnet::spec::Feature::kNetCsum, "csum"},
        {vnet::spec::Feature::kNetGuestCsum, "guest_csum"},
        {vnet::spec::Feature::kNetHostTso4, "host_tso4"},
        {vnet::spec::Feature::kNetHostTso6, "host_tso6"},
        {vnet::spec::Feature::kNetHostEcn, "host_ecn"},
        {vnet::spec::Feature::kNetHostUso, "host_uso"},
        {vnet::spec::Feature::kNetGuestTso4, "guest_tso4"},
        {vnet::spec::Feature::kNetGuestTso6, "guest_tso6"},
        {vnet::spec::Feature::kNetGuestEcn, "guest_ecn"},
        {vnet::spec::Feature::kNetGuestUso4, "guest_uso4"},
        {vnet::spec::Feature::kNetGuestUso6, "guest_uso6"},
        {vnet::spec::Feature::kNetCtrlGuestOffloads, "ctrl_guest_offloads"},
    };
    size_t at = 0;
    for (const auto& o : kOffloads)
      if (vnet::spec::has_feature(net_dev.negotiated_features(), o.f))
        at += format(offload_text + at, sizeof(offload_text) - at, "%s%s", at == 0 ? "" : ",",
                     o.name);
    if (at == 0) format(offload_text, sizeof(offload_text), "none");
  }
  // On virtio-mmio: where the window is and how it was found.
  char mmio_text[96] = "";
  if (on_mmio) {
    char irq[12] = "none";
    if (intx_routed) format(irq, sizeof(irq), "%u", mmio_nic->irq);
    format(mmio_text, sizeof(mmio_text),
           " mmio_base=0x%llx mmio_size=%llu mmio_irq=%s mmio_source=%s",
           static_cast<unsigned long long>(mmio_nic->base),
           static_cast<unsigned long long>(mmio_nic->size), irq,
           virtio_mmio::source_name(mmio_nic->source));
  }
  kprintf(
      "vnet-guest: ready mac=%02x:%02x:%02x:%02x:%02x:%02x mac_source=%s ip=10.0.2.15 "
      "transport=%s device=0x%04x features=0x%llx offered=0x%llx mtu=%u mss=%u hdr=%u rxq=%u "
      "txq=%u ring=%s event_idx=%s indirect_desc=%s link=%s bounce=%s irq=%s msix=%u "
      "intx_gsi=%s irq_mode=%s irq_vectors=%u ctrl=%s pairs=%u max_pairs=%u rss=%s "
      "offloads=%s rx_chains=%s max_frame=%u window=%u tx_frame_max=%u attach_us=%llu%s\n",
      mac[0], mac[1], mac[2], mac[3], mac[4], mac[5],
      net_dev.mac_from_device() ? "device" : "driver", transport->name(), device_id,
      static_cast<unsigned long long>(net_dev.negotiated_features()),
      static_cast<unsigned long long>(net_dev.device_features()), net_dev.mtu(), g_tcp.mss(),
      net_dev.net_header_size(), net_dev.rx_queue().size(), net_dev.tx_queue().size(),
      vnet::ring_kind_name(net_dev.rx_queue().kind()), on_off(vnet::spec::Feature::kEventIdx),
      on_off(vnet::spec::Feature::kIndirectDesc), net_dev.link_up() ? "up" : "down",
      bounce ? "on" : "off", irq_mode_name(irq_mode), msix_vectors, intx_gsi,
      vnet::interrupt_mode_name(net_dev.interrupt_mode()), net_dev.interrupts().vectors,
      net_dev.has_control_queue() ? "on" : "off", net_dev.queue_pairs(), net_dev.max_queue_pairs(),
      g_rss, offload_text,
      options.rx_chains && vnet::spec::has_feature(net_dev.negotiated_features(),
                                                   vnet::spec::Feature::kNetMrgRxbuf)
          ? "on"
          : "off",
      options.max_frame, g_tcp.window(), g_tx_frame_max, static_cast<unsigned long long>(attach_us),
      mmio_text);
  serve(responder);
}

}  // namespace guest
