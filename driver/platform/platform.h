// The platform shim: the only door between the driver and the world.
//
//            VirtioNet / SplitQueue / Transport          (driver/)
//                           |
//        reg_read/reg_write | fetch()  frame_in_place()  dma_alloc()
//        bar_info           | published()  barrier()  now_ns()  log()
//        msi_messages()     | line_interrupt()  arm_interrupts()
//                           |        ^ handle_interrupt(IrqSource) from the
//                           |        | platform's interrupt handler
//                           v
//   +---------+  +--------+  +--------+  +--------+  +----------+
//   | guest   |  | mock   |  | replay |  | fuzz   |  | recorder |  (wraps any other)
//   +---------+  +--------+  +--------+  +--------+  +----------+
//
// The device is untrusted (DESIGN.md, "The device boundary"). Every value
// that comes from the device reaches the driver through this interface:
//
//  * register reads, by region and width (reg_read, bar_info);
//  * device-written shared memory that the driver interprets (used ring
//    entries and indices, rx packet headers) through fetch(), which copies
//    it once into driver-private memory. The DeviceMemRef names the memory
//    by what it is, never by address, so that a trace is address-independent;
//  * frame bytes that the driver hands on without interpreting stay in
//    place, but are announced through frame_in_place() so that a recorder
//    can capture them and a replayer or fuzzer can fill them.
//
// What the driver gives the device (register writes, published descriptor
// chains) is announced too, so that a recorder can write the expectations
// of a trace and a replayer can check them.
//
// Memory: dma_alloc() returns memory the device may access (rings, packet
// headers). The driver keeps every piece of bookkeeping in its own objects,
// never in DMA memory.
//
// Memory ordering (docs/porting.md has the table per architecture):
//
//  * reg_write() orders every earlier normal-memory store before the
//    register access reaches the device (Linux writel semantics): the
//    driver stores the avail index and then notifies with no barrier in
//    between. reg_read() is ordered after earlier loads.
//  * fetch() loads each field once, at its natural width (a le16 index in
//    one 16-bit load, a used element's id and len in 32-bit loads), never
//    byte by byte: a torn used.idx (0x00FF -> 0x0100 read as 0x01FF) would
//    look like a lying device. It is not reordered by the compiler across
//    barrier() calls.
//  * barrier(kRead/kWrite/kFull) are SMP-strength (the device is another
//    CPU); the kDma* kinds, issued instead once ORDER_PLATFORM is
//    negotiated, must also order against DMA by real hardware. On x86 only
//    kFull and kDmaFull need an instruction (mfence); the others are
//    compiler barriers.
//
// Threading: the driver calls the shim from its rx, tx, control and
// interrupt contexts concurrently (virtio_net.h); every call must be safe to
// make from several threads at once. The interrupt calls (msi_messages,
// line_interrupt, arm_interrupts) come from attach, stop and the storm
// guard; a platform that masks in arm_interrupts() may be asked to from
// inside its own interrupt handler.
//
// No virtual destructor: the driver never deletes a shim (and a deleting
// destructor would drag operator delete into the freestanding archive).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace vnet {

// Register regions. PCI configuration space, the six BARs (port I/O or
// memory, the shim knows which), and a virtio-mmio window.
enum class Region : uint8_t {
  kPciConfig = 0,
  kBar0 = 1,
  kBar1,
  kBar2,
  kBar3,
  kBar4,
  kBar5,
  kMmio = 7,
};
constexpr Region bar_region(uint8_t bar) {
  return static_cast<Region>(1 + bar);
}
inline constexpr uint8_t kNumBars = 6;

struct BarInfo {
  bool present = false;
  bool is_io = false;
  uint64_t size = 0;  // bytes the BAR decodes
};

struct DmaRegion {
  void* cpu = nullptr;       // where the driver writes it
  uint64_t device_addr = 0;  // what the device is told
  size_t size = 0;
};

// What a piece of device-written memory is, independent of its address.
enum class MemPart : uint8_t {
  kUsedFlags = 0,    // used ring flags (le16)
  kUsedIdx = 1,      // used ring index (le16)
  kUsedElem = 2,     // used ring elements {le32 id, le32 len}; index = first slot,
                     // len = 8 x a run of consecutive slots (no wrap within a run)
  kRxHeader = 3,     // virtio-net header in an rx buffer; index = head descriptor
  kAvailEvent = 4,   // used ring avail_event (EVENT_IDX)
  kCtrlAck = 5,      // control queue ack byte; index = head descriptor
  kPackedDesc = 6,   // packed ring descriptor (2.8) the device wrote used; index =
                     // ring position; its flags (le16), or its len and id (6 bytes)
  kDeviceEvent = 7,  // packed ring device event suppression {le16 off_wrap, le16 flags}
};

struct DeviceMemRef {
  uint16_t queue = 0;
  MemPart part = MemPart::kUsedIdx;
  uint16_t index = 0;  // slot or descriptor, as the part says
  // True when the driver fetches this location a second time in one
  // operation on purpose (e.g. re-reading used.idx after re-enabling
  // interrupts). Double-fetch oracles ignore such fetches.
  bool recheck = false;
};

// A descriptor chain the driver published to the device.
// Plain data (no member initialisers): the driver fills one per segment on
// the hot path and leaves unused slots untouched.
struct ChainSegment {
  uint16_t desc;  // descriptor index (indirect chain: entry index in its table)
  uint32_t len;   // bytes
  bool device_writable;
  const void* data;  // CPU view of the segment (device-readable content)
};
// The most segments of a DIRECT chain (descriptors in the ring itself).
inline constexpr uint16_t kMaxChainSegments = 4;
// The most segments of an INDIRECT chain (VIRTIO_F_INDIRECT_DESC, 2.7.5.3 /
// 2.8.19): one table entry each, a tx frame of up to 16 fragments plus a
// net header in a descriptor of its own (legacy without ANY_LAYOUT).
inline constexpr uint16_t kMaxIndirectSegments = 17;
// The most segments an announcement carries: every chain, either kind.
inline constexpr uint16_t kMaxPublishedSegments = kMaxIndirectSegments;
static_assert(kMaxPublishedSegments >= kMaxChainSegments);

// Direct chain (indirect == false): segments[i].desc are descriptor indices
// of the ring (split) or ring positions (packed); segments[0].desc == head
// on a split ring. Exactly as before indirect chains existed: a direct
// chain never has more than kMaxChainSegments segments.
//
// Indirect chain (indirect == true): the device was given ONE descriptor
// with VIRTQ_DESC_F_INDIRECT -- split: descriptor `head`; packed: ring
// position `avail_idx`, buffer id `head` -- whose buffer is a table of
// num_segments descriptors at device address table_addr (16 bytes each,
// written by the driver before publish, never read back). segments[i] is
// table entry i (segments[i].desc == i), 1 <= num_segments <=
// kMaxPublishedSegments. A consumer that keeps only kMaxChainSegments
// segments must treat such a chain as one it cannot hold.
struct PublishedChain {
  uint16_t queue = 0;
  uint16_t avail_idx = 0;  // the avail index value this entry occupies (before increment)
  uint16_t head = 0;
  uint16_t num_segments = 0;
  ChainSegment segments[kMaxPublishedSegments];
  bool indirect = false;    // appended: see above
  uint64_t table_addr = 0;  // indirect only: the table as the device sees it
};

// Barrier kinds. The first three order the CPU against another CPU that
// plays the device (a hypervisor's thread: SMP strength, Linux virt_rmb /
// virt_wmb / virt_mb). The DMA kinds order against real DMA hardware
// (Linux dma_rmb / dma_wmb / mb); the driver uses them instead when
// VIRTIO_F_ORDER_PLATFORM is negotiated (6.1). See "Memory ordering" above.
enum class Barrier : uint8_t {
  kRead,      // device-written loads before later loads (after reading used.idx)
  kWrite,     // ring stores before the index store / notify
  kFull,      // stores before later loads (notification suppression checks)
  kDmaRead,   // kRead against DMA hardware
  kDmaWrite,  // kWrite against DMA hardware
  kDmaFull,   // kFull against DMA hardware
};
inline constexpr uint8_t kNumBarrierKinds = 6;
// The DMA-strength kind for kind (ORDER_PLATFORM).
constexpr Barrier dma_strength(Barrier kind) {
  return kind == Barrier::kRead    ? Barrier::kDmaRead
         : kind == Barrier::kWrite ? Barrier::kDmaWrite
         : kind == Barrier::kFull  ? Barrier::kDmaFull
                                   : kind;
}

// DMA mapping of packet buffers (ACCESS_PLATFORM, virtio 1.2 6.1: device
// accesses go through the platform's translation). One mapping covers one transfer of
// one buffer: the driver maps a buffer when it makes it available and
// unmaps it when the device used it (or the device was reset).
enum class DmaDirection : uint8_t {
  kToDevice,    // the device reads (tx): map() makes the bytes visible to it
  kFromDevice,  // the device writes (rx): unmap() makes its bytes visible to the CPU
};
// Plain data: filled by dma_map(), kept by the driver in private memory.
struct DmaMapping {
  uint64_t device_addr;  // what the device is told (an IOVA, or a bounce slot)
  uint8_t* device_view;  // CPU view of the memory the device accesses: the
                         // buffer itself, or its bounce slot
  uint32_t len;          // bytes mapped
  uint32_t handle;       // the platform's own use (slot number, IOMMU entry)
};

enum class LogLevel : uint8_t { kError, kWarn, kInfo, kDebug };

// Driver operations, so that oracles can scope "within one operation".
// kInterrupt: VirtioNet::handle_interrupt (appended: traces name ops by
// name, fuzz inputs never by position).
enum class DriverOp : uint8_t {
  kAttach,
  kRxBurst,
  kTxBurst,
  kPollDevice,
  kStop,
  kInterrupt,
  kControl,  // a control command (set_rx_mode, set_mac_filter, ...)
};

// ---- Interrupts ----------------------------------------------------------
//
// How the device tells the driver that something happened. The transport
// decides at attach, from what the platform can deliver (below) and what the
// device accepts, walking down a ladder (transport.h):
//
//   kMsix     message-signalled: one message per vector, written by the
//             transport into the device's MSI-X table; the platform
//             delivers vector i as VirtioNet::handle_interrupt(
//             IrqSource::vector(i)). Edge: nothing to acknowledge.
//   kIntx     a line (PCI INTx): level, shared with other devices perhaps;
//             delivered as IrqSource::line(). The driver acknowledges by
//             reading the ISR, which lowers the line.
//   kPolling  nothing is delivered; the caller polls.
//
// The platform never learns what a vector means (config change, a queue):
// that mapping is the driver's. Nothing of PCI capability layout is here:
// the transport finds and programs the MSI-X table itself, with reg_read /
// reg_write, and only asks the platform for the messages to write.
enum class InterruptMode : uint8_t { kPolling, kIntx, kMsix };
inline constexpr uint8_t kNumInterruptModes = 3;
constexpr const char* interrupt_mode_name(InterruptMode m) {
  return m == InterruptMode::kMsix ? "msix" : m == InterruptMode::kIntx ? "intx" : "poll";
}

// One MSI message: what the device writes where to raise a vector. Opaque
// to the driver, which copies it into the device's table unchanged.
struct MsiMessage {
  uint64_t address = 0;
  uint32_t data = 0;
};
// The most vectors the driver ever asks for (config + a vector per queue).
inline constexpr uint16_t kMaxMsiVectors = 8;

// Where an interrupt came from, as the platform saw it: one of the vectors
// it handed out in msi_messages(), or the line.
struct IrqSource {
  enum class Kind : uint8_t { kVector, kLine };
  Kind kind = Kind::kLine;
  uint16_t vector = 0;  // kVector: index into what msi_messages() returned
  static constexpr IrqSource msi(uint16_t v) { return IrqSource{Kind::kVector, v}; }
  static constexpr IrqSource line() { return IrqSource{Kind::kLine, 0}; }
};

class Platform {
 public:
  // ---- registers (device-originated on read) ----
  virtual uint32_t reg_read(Region region, uint32_t offset, uint8_t width) = 0;
  virtual void reg_write(Region region, uint32_t offset, uint8_t width, uint32_t value) = 0;
  virtual BarInfo bar_info(uint8_t bar) = 0;

  // ---- DMA-capable memory ----
  virtual bool dma_alloc(size_t size, size_t align, DmaRegion* out) = 0;
  virtual void dma_free(const DmaRegion& region) = 0;

  // ---- DMA mapping of packet buffers (ACCESS_PLATFORM) ----
  // Maps len bytes of a packet buffer (CPU view cpu, physical address phys)
  // for one transfer. kToDevice: the bytes at cpu are complete; after this
  // call the device may read them at out->device_addr (a bounce platform
  // copies them into its shared area here: this is the sync-for-device
  // point). Returns false when no mapping can be made (bounce area full);
  // the driver then keeps the buffer out of the ring. The default is the
  // identity: no IOMMU, the device reads the buffer in place.
  virtual bool dma_map(uint8_t* cpu, uint64_t phys, uint32_t len, DmaDirection dir,
                       DmaMapping* out) {
    (void)dir;
    *out = DmaMapping{phys, cpu, len, 0};
    return true;
  }
  // Ends the transfer of mapping m (which mapped cpu). kFromDevice: the
  // device says it wrote device_len bytes (already validated: <= m.len);
  // they must be visible at cpu when this returns (a bounce platform copies
  // them out here: the sync-for-CPU point; device_len 0 copies nothing).
  // After this call the driver never hands m.device_addr to the device again
  // and the platform may revoke the device's access.
  virtual void dma_unmap(const DmaMapping& m, uint8_t* cpu, uint32_t device_len, DmaDirection dir) {
    (void)m, (void)cpu, (void)device_len, (void)dir;
  }

  // ---- the door for device-written memory (rule 1) ----
  // Copy len bytes of device-written memory at src into driver-private dst.
  virtual void fetch(const DeviceMemRef& what, const volatile void* src, void* dst, size_t len) = 0;
  // Frame bytes left in place (rule 2): the device says it wrote len bytes
  // at data for the rx chain headed by desc on queue. A replayer or fuzzer
  // may fill them here; the driver reads them only after this call.
  virtual void frame_in_place(uint16_t queue, uint16_t desc, void* data, uint32_t len) {
    (void)queue, (void)desc, (void)data, (void)len;
  }
  // A descriptor chain was made available (before the avail index store).
  virtual void published(const PublishedChain& chain) { (void)chain; }
  // The driver harvested a used entry it accepted (after validation).
  virtual void completed(uint16_t queue, uint16_t head, uint32_t len) {
    (void)queue, (void)head, (void)len;
  }

  // ---- ordering, interrupts, time, log ----
  virtual void barrier(Barrier kind) = 0;
  // Wait up to timeout_ns for an interrupt; returns true if one arrived.
  // Polling platforms return false at once.
  virtual bool wait_interrupt(uint64_t timeout_ns) {
    (void)timeout_ns;
    return false;
  }
  virtual uint64_t now_ns() = 0;
  virtual void log(LogLevel level, const char* message) = 0;

  // ---- interrupt delivery (see InterruptMode above) ----
  // Message-signalled vectors the platform can deliver for this device:
  // fills out[0, n) with the message of each vector, n <= max, and returns
  // n (0: no MSI; the default). Vector i's deliveries arrive as
  // handle_interrupt(IrqSource::vector(i)) from then on, so the platform
  // must be ready to take them when it answers. Asked at every attach; a
  // platform should answer the same each time.
  virtual uint16_t msi_messages(uint16_t max, MsiMessage* out) {
    (void)max, (void)out;
    return 0;
  }
  // True when the device's line interrupt (PCI INTx) reaches the CPU: the
  // platform knows where it is routed and will deliver it as
  // handle_interrupt(IrqSource::line()) once armed. Default: no line.
  virtual bool line_interrupt() { return false; }
  // The transport's choice, once the device accepted it: the platform
  // unmasks what will now be delivered (the line, or vectors [0, vectors))
  // and masks the rest. kPolling masks everything (called when the driver
  // stops, and before it gives up on interrupts). A level line that keeps
  // firing after the driver acknowledged it is the platform's to mask too
  // (the driver calls this with kPolling when it sees a storm).
  virtual void arm_interrupts(InterruptMode mode, uint16_t vectors) { (void)mode, (void)vectors; }

  // Scope markers around every public driver entry point.
  virtual void op_begin(DriverOp op) { (void)op; }
  virtual void op_end(DriverOp op) { (void)op; }

 protected:
  Platform() = default;
  ~Platform() = default;
  Platform(const Platform&) = default;
  Platform& operator=(const Platform&) = default;
};

}  // namespace vnet
