// vnet-guest: boot, find the virtio-net function, attach the driver, serve.
//
//   boot.S (long mode, SSE, stack, .bss)
//     -> guest_main(start_info)
//          console (COM1)          "vnet-guest: boot ..."
//          PVH start info          RAM map, command line (QEMU -append)
//          TSC calibration (PIT)
//          physical allocator      RAM above the image
//          PCI scan, BAR sizing    one line per function
//          virtio-net function     enable I/O, memory, bus mastering
//          probe transport         legacy | modern (mode=...)
//          attach driver           "vnet-guest: ready ..." (runner waits for it)
//          serve loop              rx_burst -> responder -> tx_burst,
//                                  TCP echo: held-back data and
//                                  retransmissions -> tx_burst,
//                                  tx_reclaim, poll_device every 2 ms
//
// Command line (all optional, "key=value" separated by spaces):
//   action=serve|lspci   lspci: list PCI functions and exit
//   mode=auto|legacy|modern
//   rx_cap=N tx_cap=N    driver ring caps (NetOptions)
//   mask=0xBITS          features the driver must not negotiate
//   buf=BYTES            packet buffer capacity (default 10240)
//   log=error|warn|info|debug
//
// Exit statuses: guest/kernel/exit.h.
#include <stdint.h>

#include "driver/net/virtio_net.h"
#include "driver/transport/pci_probe.h"
#include "guest/kernel/clock.h"
#include "guest/kernel/console.h"
#include "guest/kernel/exit.h"
#include "guest/kernel/mem.h"
#include "guest/kernel/page_alloc.h"
#include "guest/kernel/pci.h"
#include "guest/kernel/pvh.h"
#include "guest/net/packet_pool.h"
#include "guest/net/responder.h"
#include "guest/net/tcp_echo.h"
#include "guest/shim/guest_platform.h"

namespace guest {
namespace {

constexpr size_t kMaxFunctions = 64;
constexpr uint16_t kVirtioVendor = 0x1af4;
constexpr uint16_t kNetTransitional = 0x1000;
constexpr uint16_t kNetModern = 0x1041;
constexpr uint16_t kBurst = 32;
constexpr uint64_t kPollIntervalNs = 2 * 1000 * 1000;
constexpr uint64_t kDrainTimeoutNs = 200 * 1000 * 1000;
constexpr int kMaxRecoveries = 3;

pci::Function g_functions[kMaxFunctions];
GuestPlatform g_platform;
vnet::PciTransports g_transports;
vnet::VirtioNet g_net;
net::PacketPool g_pool;
net::TcpEcho g_tcp;  // connection table and send rings: static, not on the stack
char g_text[1400];

struct ServeStats {
  uint64_t tx_no_buffer = 0;     // no pool buffer for a reply
  uint64_t tx_ring_refused = 0;  // tx_burst took fewer than offered
  uint64_t recoveries = 0;
};
ServeStats g_stats;

const char* state_name(vnet::NetState s) {
  switch (s) {
    case vnet::NetState::kDown:
      return "down";
    case vnet::NetState::kRunning:
      return "running";
    case vnet::NetState::kBroken:
      return "broken";
    case vnet::NetState::kFailed:
      return "failed";
  }
  return "?";
}

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
}

// "name=value\n" for every nonzero counter (driver, responder, guest), cut
// to fit one datagram.
size_t counters_text(const net::Responder& responder, char* buf, size_t cap) {
  size_t n = 0;
  auto add = [&](const char* name, uint64_t value) {
    if (value == 0 || n + 1 >= cap) return;
    n += format(buf + n, cap - n, "%s=%llu\n", name, static_cast<unsigned long long>(value));
  };
  g_net.counters().for_each(add);
  responder.counters().for_each(add);
  g_tcp.counters().for_each(add);
  add("guest_tx_no_buffer", g_stats.tx_no_buffer);
  add("guest_tx_ring_refused", g_stats.tx_ring_refused);
  add("guest_recoveries", g_stats.recoveries);
  add("pool_bad_frees", g_pool.bad_frees());
  add("pool_empty_allocs", g_pool.empty_allocs());
  add("shim_refused_accesses", g_platform.refused_accesses());
  return n;
}

void print_counters(const net::Responder& responder) {
  counters_text(responder, g_text, sizeof(g_text));
  kprintf("vnet-guest: counters\n%svnet-guest: end counters\n", g_text);
}

bool word_is(const uint8_t* p, uint32_t len, const char* word) {
  uint32_t n = static_cast<uint32_t>(strlen(word));
  while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r')) --len;
  return len == n && memcmp(p, word, n) == 0;
}

// Waits (bounded) until every reply handed to the device was completed.
void drain_tx() {
  uint64_t deadline = clock::now_ns() + kDrainTimeoutNs;
  while (g_net.tx_queue().in_flight() > 0 && clock::now_ns() < deadline) g_net.tx_reclaim();
}

[[noreturn]] void serve(net::Responder& responder) {
  vnet::PacketBuffer* rx[kBurst];
  vnet::PacketBuffer* tx[kBurst];
  uint64_t next_poll = clock::now_ns() + kPollIntervalNs;

  // Announce ourselves so the gateway learns our MAC before the first echo.
  if (vnet::PacketBuffer* b = g_pool.alloc()) {
    b->offset = vnet::kTxHeadroom;
    b->len = responder.build_gratuitous_arp(b->data(), b->capacity - vnet::kTxHeadroom);
    if (g_net.tx_burst(&b, 1) != 1) g_pool.free(b);
  }

  for (;;) {
    bool exit_requested = false;
    responder.set_now_ns(clock::now_ns());
    uint16_t n = g_net.rx_burst(rx, kBurst);
    uint16_t m = 0;
    for (uint16_t i = 0; i < n; ++i) {
      vnet::PacketBuffer* in = rx[i];
      vnet::PacketBuffer* out = g_pool.alloc();
      if (out == nullptr) {
        ++g_stats.tx_no_buffer;
        g_pool.free(in);
        continue;
      }
      out->offset = vnet::kTxHeadroom;
      uint32_t cap = out->capacity - vnet::kTxHeadroom;
      uint32_t len = 0;
      net::ControlRequest ctl;
      net::Verdict v = responder.handle(in->data(), in->len, out->data(), cap, &len, &ctl);
      if (v == net::Verdict::kControl) {
        size_t tlen;
        if (word_is(ctl.payload, ctl.len, "counters")) {
          tlen = counters_text(responder, g_text, sizeof(g_text));
        } else if (word_is(ctl.payload, ctl.len, "exit")) {
          tlen = format(g_text, sizeof(g_text), "bye\n");
          exit_requested = true;
        } else if (word_is(ctl.payload, ctl.len, "ping")) {
          tlen = format(g_text, sizeof(g_text), "pong\n");
        } else {
          tlen = format(g_text, sizeof(g_text), "unknown command\n");
        }
        len = responder.build_udp_reply(in->data(), reinterpret_cast<const uint8_t*>(g_text),
                                        static_cast<uint32_t>(tlen), out->data(), cap);
      }
      g_pool.free(in);
      if (len == 0) {
        g_pool.free(out);
        continue;
      }
      out->len = len;
      tx[m++] = out;
    }
    // The TCP echo's own segments (data its peer's window held back,
    // retransmissions), in the room left in this burst.
    while (m < kBurst) {
      vnet::PacketBuffer* out = g_pool.alloc();
      if (out == nullptr) break;
      out->offset = vnet::kTxHeadroom;
      uint32_t len = g_tcp.poll(clock::now_ns(), out->data(), out->capacity - vnet::kTxHeadroom);
      if (len == 0) {
        g_pool.free(out);
        break;
      }
      out->len = len;
      tx[m++] = out;
    }
    if (m > 0) {
      uint16_t taken = g_net.tx_burst(tx, m);
      for (uint16_t j = taken; j < m; ++j) g_pool.free(tx[j]);
      g_stats.tx_ring_refused += m - taken;
    }
    g_net.tx_reclaim();

    if (exit_requested) {
      drain_tx();
      print_counters(responder);
      g_net.stop();
      exit_qemu(ExitCode::kOk);
    }

    uint64_t now = clock::now_ns();
    if (now >= next_poll) {
      next_poll = now + kPollIntervalNs;
      vnet::DeviceEvents ev = g_net.poll_device();
      if (ev.link_changed) kprintf("vnet-guest: link %s\n", g_net.link_up() ? "up" : "down");
      if (ev.reset_detected)
        kprintf("vnet-guest: device reset detected, %s\n",
                ev.recovered ? "recovered" : "not recovered");
    }
    if (g_net.state() != vnet::NetState::kRunning) {
      kprintf("vnet-guest: driver state %s, recovering\n", state_name(g_net.state()));
      if (g_stats.recoveries >= kMaxRecoveries || !g_net.recover()) {
        print_counters(responder);
        exit_qemu(ExitCode::kBroken);
      }
      ++g_stats.recoveries;
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
          static_cast<unsigned long long>(clock::tsc_hz() / 1000),
          clock::calibrated_from_pit() ? "pit" : "assumed");

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

  char action[16] = "serve";
  cmdline_get(cmdline, "action", action, sizeof(action));
  if (memcmp(action, "lspci", 6) == 0) exit_qemu(ExitCode::kOk);

  if (nic == nullptr) {
    kprintf("vnet-guest: no virtio-net device\n");
    exit_qemu(ExitCode::kNoDevice);
  }
  pci::enable(*nic);
  if (!g_platform.bind(*nic)) panic("cannot map the BARs of the virtio-net function");
  g_platform.set_log_level(parse_log_level(cmdline));

  vnet::ProbeResult probe = g_transports.probe(g_platform, parse_mode(cmdline));
  if (probe.error != vnet::ProbeError::kOk || probe.transport == nullptr) {
    kprintf("vnet-guest: probe failed: %s (modern: %s, caps seen %u, rejected %u)\n",
            vnet::probe_error_name(probe.error), vnet::modern_probe_error_name(probe.modern_error),
            probe.modern_report.caps_seen, probe.modern_report.caps_rejected);
    exit_qemu(ExitCode::kProbeFailed);
  }

  vnet::NetOptions options;
  options.rx_ring_cap = static_cast<uint16_t>(cmdline_number(cmdline, "rx_cap", 256));
  options.tx_ring_cap = static_cast<uint16_t>(cmdline_number(cmdline, "tx_cap", 256));
  options.feature_mask = ~cmdline_number(cmdline, "mask", 0);
  uint32_t capacity = static_cast<uint32_t>(cmdline_number(cmdline, "buf", 10240));
  uint32_t count = uint32_t{options.rx_ring_cap} + options.tx_ring_cap + 2 * kBurst + 16;
  if (!g_pool.init(count, capacity)) panic("no memory for %u buffers of %u bytes", count, capacity);

  uint64_t t0 = clock::now_ns();
  vnet::AttachError err = g_net.attach(g_platform, *probe.transport, g_pool, options);
  uint64_t attach_us = (clock::now_ns() - t0) / 1000;
  net::Responder responder(g_net.mac(), net::Responder::kDefaultIp);
  responder.set_tcp(&g_tcp);
  if (err != vnet::AttachError::kOk) {
    kprintf("vnet-guest: attach failed: %s (transport %s, offered 0x%llx)\n",
            vnet::attach_error_name(err), probe.transport->name(),
            static_cast<unsigned long long>(g_net.device_features()));
    print_counters(responder);
    exit_qemu(ExitCode::kAttachFailed);
  }
  const uint8_t* mac = g_net.mac();
  kprintf(
      "vnet-guest: ready mac=%02x:%02x:%02x:%02x:%02x:%02x mac_source=%s ip=10.0.2.15 "
      "transport=%s device=0x%04x features=0x%llx offered=0x%llx mtu=%u hdr=%u rxq=%u txq=%u "
      "link=%s attach_us=%llu\n",
      mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], g_net.mac_from_device() ? "device" : "driver",
      probe.transport->name(), nic->device,
      static_cast<unsigned long long>(g_net.negotiated_features()),
      static_cast<unsigned long long>(g_net.device_features()), g_net.mtu(),
      g_net.net_header_size(), g_net.rx_queue().size(), g_net.tx_queue().size(),
      g_net.link_up() ? "up" : "down", static_cast<unsigned long long>(attach_us));
  serve(responder);
}

}  // namespace guest
