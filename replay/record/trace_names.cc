#include "replay/record/trace_names.h"

namespace vnet::trace {

namespace {

// Table lookups by index; every table has exactly one entry per value.
constexpr const char* kEvents[] = {
    "reg_read",  "reg_write", "bar_info",     "dma_alloc",      "dma_free",       "fetch",
    "frame",     "publish",   "complete",     "barrier",        "wait_irq",       "now",
    "log",       "op_begin",  "op_end",       "pool_alloc",     "pool_free",      "call",
    "ret",       "mark",      "dev_pop",      "dev_fill",       "dev_flush",      "dev_irq",
    "dev_frame", "end",       "msi_messages", "line_interrupt", "arm_interrupts", "dev_msi",
    "dev_intx",
};
static_assert(sizeof(kEvents) / sizeof(kEvents[0]) == kNumEventKinds);

constexpr const char* kRegions[] = {"pci_config", "bar0", "bar1", "bar2",
                                    "bar3",       "bar4", "bar5", "mmio"};
constexpr const char* kParts[] = {"used_flags",  "used_idx", "used_elem",   "rx_header",
                                  "avail_event", "ctrl_ack", "packed_desc", "device_event"};
static_assert(sizeof(kParts) / sizeof(kParts[0]) == static_cast<size_t>(MemPart::kDeviceEvent) + 1);
// Barrier kinds: SMP strength, then DMA strength (ORDER_PLATFORM).
constexpr const char* kBarriers[] = {"read", "write", "full", "dma_read", "dma_write", "dma_full"};
static_assert(sizeof(kBarriers) / sizeof(kBarriers[0]) == kNumBarrierKinds);
constexpr const char* kLevels[] = {"error", "warn", "info", "debug"};
constexpr const char* kOps[] = {"attach", "rx_burst",  "tx_burst", "poll_device",
                                "stop",   "interrupt", "control"};
static_assert(sizeof(kOps) / sizeof(kOps[0]) == static_cast<size_t>(DriverOp::kControl) + 1);
constexpr const char* kFns[] = {"probe",
                                "attach",
                                "rx_burst",
                                "tx_burst",
                                "tx_reclaim",
                                "poll_device",
                                "recover",
                                "stop",
                                "set_rx_interrupts",
                                "handle_interrupt",
                                "set_tx_interrupts",
                                "probe_mmio",
                                "set_rx_mode",
                                "set_mac_filter",
                                "set_mac_address",
                                "add_vlan",
                                "remove_vlan",
                                "set_queue_pairs",
                                "set_rss",
                                "set_guest_offloads"};
static_assert(sizeof(kFns) / sizeof(kFns[0]) == kNumApiFns);
constexpr const char* kAddrForms[] = {"lo32", "hi32", "pfn"};
constexpr const char* kModes[] = {"auto", "legacy", "modern"};
constexpr const char* kStates[] = {"down", "running", "broken", "failed"};
constexpr const char* kRxModes[] = {"promisc", "allmulti", "alluni", "nomulti", "nouni", "nobcast"};
static_assert(sizeof(kRxModes) / sizeof(kRxModes[0]) == kNumRxModes);
constexpr const char* kCtrlResults[] = {"ok",          "rejected", "unsupported", "invalid",
                                        "not_running", "timeout",  "device_fault"};
static_assert(sizeof(kCtrlResults) / sizeof(kCtrlResults[0]) ==
              static_cast<size_t>(CtrlResult::kDeviceFault) + 1);
constexpr const char* kCsumStates[] = {"none", "partial", "verified"};
static_assert(static_cast<size_t>(CsumState::kVerified) + 1 ==
              sizeof(kCsumStates) / sizeof(kCsumStates[0]));
constexpr const char* kGsoKinds[] = {"none", "tcp4", "tcp6", "udp"};
static_assert(static_cast<size_t>(GsoKind::kUdp) + 1 == sizeof(kGsoKinds) / sizeof(kGsoKinds[0]));
constexpr const char* kIrqModes[] = {"poll", "intx", "msix"};
static_assert(sizeof(kIrqModes) / sizeof(kIrqModes[0]) == kNumInterruptModes);
static_assert(interrupt_mode_name(InterruptMode::kPolling)[0] == 'p' &&
              interrupt_mode_name(InterruptMode::kIntx)[0] == 'i' &&
              interrupt_mode_name(InterruptMode::kMsix)[0] == 'm');

template <size_t N>
const char* lookup(const char* const (&table)[N], unsigned index) {
  return index < N ? table[index] : "?";
}

bool same(const char* a, const char* b, size_t len) {
  for (size_t i = 0; i < len; ++i)
    if (a[i] == 0 || a[i] != b[i]) return false;
  return a[len] == 0;
}

template <size_t N, typename T>
bool find(const char* const (&table)[N], const char* name, size_t len, T* out) {
  for (size_t i = 0; i < N; ++i) {
    if (same(table[i], name, len)) {
      *out = static_cast<T>(i);
      return true;
    }
  }
  return false;
}

}  // namespace

const char* event_name(EventKind k) {
  return lookup(kEvents, static_cast<unsigned>(k));
}
const char* region_name(Region r) {
  return lookup(kRegions, static_cast<unsigned>(r));
}
const char* mem_part_name(MemPart p) {
  return lookup(kParts, static_cast<unsigned>(p));
}
const char* barrier_name(Barrier b) {
  return lookup(kBarriers, static_cast<unsigned>(b));
}
const char* log_level_name(LogLevel l) {
  return lookup(kLevels, static_cast<unsigned>(l));
}
const char* driver_op_name(DriverOp op) {
  return lookup(kOps, static_cast<unsigned>(op));
}
const char* api_fn_name(ApiFn fn) {
  return lookup(kFns, static_cast<unsigned>(fn));
}
const char* addr_form_name(AddrForm f) {
  return lookup(kAddrForms, static_cast<unsigned>(f));
}
const char* pci_mode_name(PciMode m) {
  return lookup(kModes, static_cast<unsigned>(m));
}
const char* net_state_name(NetState s) {
  return lookup(kStates, static_cast<unsigned>(s));
}

const char* rx_mode_name(RxMode m) {
  return lookup(kRxModes, static_cast<unsigned>(m));
}
const char* ctrl_result_trace_name(CtrlResult r) {
  return lookup(kCtrlResults, static_cast<unsigned>(r));
}

const char* csum_state_name(CsumState c) {
  return lookup(kCsumStates, static_cast<unsigned>(c));
}
const char* gso_kind_name(GsoKind g) {
  return lookup(kGsoKinds, static_cast<unsigned>(g));
}

bool parse_event(const char* n, size_t len, EventKind* out) {
  return find(kEvents, n, len, out);
}
bool parse_region(const char* n, size_t len, Region* out) {
  return find(kRegions, n, len, out);
}
bool parse_mem_part(const char* n, size_t len, MemPart* out) {
  return find(kParts, n, len, out);
}
bool parse_barrier(const char* n, size_t len, Barrier* out) {
  return find(kBarriers, n, len, out);
}
bool parse_log_level(const char* n, size_t len, LogLevel* out) {
  return find(kLevels, n, len, out);
}
bool parse_driver_op(const char* n, size_t len, DriverOp* out) {
  return find(kOps, n, len, out);
}
bool parse_api_fn(const char* n, size_t len, ApiFn* out) {
  return find(kFns, n, len, out);
}
bool parse_addr_form(const char* n, size_t len, AddrForm* out) {
  return find(kAddrForms, n, len, out);
}
bool parse_pci_mode(const char* n, size_t len, PciMode* out) {
  return find(kModes, n, len, out);
}
bool parse_net_state(const char* n, size_t len, NetState* out) {
  return find(kStates, n, len, out);
}
bool parse_rx_mode(const char* n, size_t len, RxMode* out) {
  return find(kRxModes, n, len, out);
}
bool parse_ctrl_result(const char* n, size_t len, CtrlResult* out) {
  return find(kCtrlResults, n, len, out);
}
bool parse_csum_state(const char* n, size_t len, CsumState* out) {
  return find(kCsumStates, n, len, out);
}
bool parse_gso_kind(const char* n, size_t len, GsoKind* out) {
  return find(kGsoKinds, n, len, out);
}
bool parse_interrupt_mode(const char* n, size_t len, InterruptMode* out) {
  return find(kIrqModes, n, len, out);
}

}  // namespace vnet::trace
