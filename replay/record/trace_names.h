// The vocabulary of a trace: event names and the names of every enum value
// that appears in one (docs/trace-format.md). One table per enum, used by
// the writer (name_of) and the loader (parse), so the two cannot drift.
//
//   event        direction           what it is
//   reg_read     input               register value the device returned
//   reg_write    expectation         register value the driver wrote
//   bar_info     input               what a BAR decodes
//   dma_alloc    expectation+input   size/align asked; ok answered; id named
//   dma_free     expectation         region freed, by id
//   fetch        expectation+input   which memory (queue, part, index); bytes
//   frame        expectation+input   rx frame left in place; bytes
//   publish      expectation         descriptor chain made available
//   complete     expectation         used entry the driver accepted
//   barrier      expectation         memory barrier kind
//   wait_irq     expectation+input   timeout asked; interrupt or not
//   now          input               clock value
//   log          expectation         driver log line
//   op_begin/op_end  expectation     scope of a driver entry point
//   pool_alloc   input               buffer the caller's pool handed out
//   pool_free    expectation         buffer the driver (or caller) gave back
//   call/ret     API boundary        the caller's call and its result
//   msi_messages expectation+input   max asked; the messages answered
//   line_interrupt input             whether the line reaches the CPU
//   arm_interrupts expectation       mode and vectors the driver armed
//   end          trailer             the trace is complete
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "driver/net/virtio_net.h"
#include "driver/platform/platform.h"
#include "driver/transport/mmio_probe.h"
#include "driver/transport/pci_probe.h"

namespace vnet::trace {

inline constexpr uint32_t kFormatVersion = 1;
// Version 2 is version 1 plus repeat counts ("rep" on reg_read/reg_write,
// docs/trace-format.md "Repeats"); a writer uses it only when compacting.
inline constexpr uint32_t kFormatVersionRepeats = 2;
inline constexpr char kFormatName[] = "vnetkit-trace";

enum class EventKind : uint8_t {
  kRegRead,
  kRegWrite,
  kBarInfo,
  kDmaAlloc,
  kDmaFree,
  kFetch,
  kFrame,
  kPublish,
  kComplete,
  kBarrier,
  kWaitIrq,
  kNow,
  kLog,
  kOpBegin,
  kOpEnd,
  kPoolAlloc,
  kPoolFree,
  kCall,
  kRet,
  // Device-side facts of a QEMU capture (trace2json; docs/qemu-capture.md).
  kMark,
  kDevPop,
  kDevFill,
  kDevFlush,
  kDevIrq,
  kDevFrame,
  kEnd,
  // Interrupt delivery (platform.h), appended: events are named by name in
  // a trace, but kEnd's position is not part of the format.
  kMsiMessages,
  kLineInterrupt,
  kArmInterrupts,
  // Interrupt delivery seen from QEMU (trace2json; docs/qemu-capture.md).
  kDevMsi,
  kDevIntx,
};
inline constexpr uint8_t kNumEventKinds = static_cast<uint8_t>(EventKind::kDevIntx) + 1;

// The caller's API calls on the driver (Session, session.h).
enum class ApiFn : uint8_t {
  kProbe,
  kAttach,
  kRxBurst,
  kTxBurst,
  kTxReclaim,
  kPollDevice,
  kRecover,
  kStop,
  kSetRxInterrupts,
  // Appended (traces name functions by name; fuzz seeds by this order).
  kHandleInterrupt,
  kSetTxInterrupts,
  // virtio-mmio (appended): the probe of an MMIO window (mmio_probe.h).
  kProbeMmio,
  // The control plane (issue 15, appended): each a control command sent
  // over the control queue (VirtioNet's control context).
  kSetRxMode,
  kSetMacFilter,
  kSetMacAddress,
  kAddVlan,
  kRemoveVlan,
  kSetQueuePairs,
  kSetRss,
  // Offloads (issue 16, appended): CTRL_GUEST_OFFLOADS, a control command.
  kSetGuestOffloads,
};
inline constexpr uint8_t kNumApiFns = static_cast<uint8_t>(ApiFn::kSetGuestOffloads) + 1;
inline constexpr bool is_control_fn(ApiFn fn) {
  return fn >= ApiFn::kSetRxMode && fn <= ApiFn::kSetGuestOffloads;
}

// handle_interrupt's result as the "val" of its ret line: rx 1, tx 2,
// control 4.
inline constexpr uint32_t kIrqWorkRx = 1, kIrqWorkTx = 2, kIrqWorkControl = 4;
inline uint32_t irq_work_bits(const IrqWork& w) {
  return (w.rx ? kIrqWorkRx : 0) | (w.tx ? kIrqWorkTx : 0) | (w.control ? kIrqWorkControl : 0);
}

// How a register value names a DMA region (reg_write, docs/trace-format.md
// "Addresses"): the low or high 32 bits of (region + off), or its page
// frame number (>> 12).
enum class AddrForm : uint8_t { kLo32, kHi32, kPfn };
inline constexpr uint8_t kNumAddrForms = 3;

const char* event_name(EventKind k);
const char* region_name(Region r);
const char* mem_part_name(MemPart p);
const char* barrier_name(Barrier b);
const char* log_level_name(LogLevel l);
const char* driver_op_name(DriverOp op);
const char* api_fn_name(ApiFn fn);
const char* addr_form_name(AddrForm f);
const char* pci_mode_name(PciMode m);
const char* net_state_name(NetState s);
// RxMode (set_rx_mode's "mode"): "promisc", "allmulti", "alluni",
// "nomulti", "nouni", "nobcast".
const char* rx_mode_name(RxMode m);
// CtrlResult (a control call's "result"): "ok", "rejected", "unsupported",
// "invalid", "not_running", "timeout", "device_fault".
const char* ctrl_result_trace_name(CtrlResult r);
// PacketOffload's enums (issue 16; packet_buffer.h) as a trace names them:
// CsumState "none", "partial", "verified"; GsoKind "none", "tcp4",
// "tcp6", "udp".
const char* csum_state_name(CsumState c);
const char* gso_kind_name(GsoKind g);

// Parsers: name (len bytes, not NUL-terminated) to value; false when the
// name is not in the table.
bool parse_event(const char* name, size_t len, EventKind* out);
bool parse_region(const char* name, size_t len, Region* out);
bool parse_mem_part(const char* name, size_t len, MemPart* out);
bool parse_barrier(const char* name, size_t len, Barrier* out);
bool parse_log_level(const char* name, size_t len, LogLevel* out);
bool parse_driver_op(const char* name, size_t len, DriverOp* out);
bool parse_api_fn(const char* name, size_t len, ApiFn* out);
bool parse_addr_form(const char* name, size_t len, AddrForm* out);
bool parse_pci_mode(const char* name, size_t len, PciMode* out);
bool parse_net_state(const char* name, size_t len, NetState* out);
bool parse_rx_mode(const char* name, size_t len, RxMode* out);
bool parse_ctrl_result(const char* name, size_t len, CtrlResult* out);
bool parse_csum_state(const char* name, size_t len, CsumState* out);
bool parse_gso_kind(const char* name, size_t len, GsoKind* out);
// Interrupt modes are written with vnet::interrupt_mode_name (platform.h).
bool parse_interrupt_mode(const char* name, size_t len, InterruptMode* out);

}  // namespace vnet::trace
