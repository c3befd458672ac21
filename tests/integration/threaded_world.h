// The mock world for more than one thread: the driver's rx, tx and control
// contexts on threads of their own (virtio_net.h, "Threading contract")
// against the mock device, which is not thread-safe.
//
//   rx thread ---- rx_burst ------+
//   tx thread ---- tx_burst ------+--> BusPlatform ==(the bus: one mutex)==> MockPlatform
//   control ------ poll_device ---+                                            |
//   irq thread --- handle_interrupt (ISR reads, INTx) --------^
//   test ("device"): reset, link, arm ====(under the bus mutex)====> MockDevice <-+
//
//   pool calls from every thread --> LockedPool (its own mutex) --> MockBufferPool
//
// What a real device gives a driver, and how this world gives the same to
// ThreadSanitizer:
//
//  * A device writes ring memory on its own and the driver sees it only
//    through the used index, after a read barrier. Here the device side of a
//    queue runs on the thread that owns the queue in the driver, inside a
//    platform call made under the bus mutex: received frames are injected
//    when the rx context fetches queue 0's used index (rx_source below; with
//    more pairs, pair k's at its rx context's first fetch of a burst:
//    rx_pair_source), and transmitted chains are consumed when the tx
//    context notifies queue 1 (DeviceConfig::auto_process_tx). The device
//    therefore never touches a ring from a thread that does not own it, and
//    every device write is ordered before the driver's read by program order
//    and the bus mutex.
//  * Device events that do not touch rings (device_reset(), set_link(),
//    arm()) may come from any thread, through locked().
//
// What TSan then checks is the driver's own ordering between its contexts
// (the state word and busy_; the pool is the caller's and locked here). The
// bus mutex adds happens-before edges a real device does not give (each
// unlock orders everything its thread did before), so TSan may miss a race
// whose two accesses are separated by platform calls of both threads. Tried
// on purpose: a control-thread read of an rx SplitQueue field was reported
// in each of three runs; a test-thread read of an rx counter was not.
//
// BusPlatform also checks one clause of the contract cheaply: ring memory
// is allocated and freed (attach, recovery, stop) only while no burst runs
// (ring_ops_during_burst()).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>

#include "driver/net/virtio_net.h"
#include "driver/transport/mmio_probe.h"
#include "driver/transport/pci_probe.h"
#include "mock_device/guest_memory.h"
#include "mock_device/mock_buffer_pool.h"
#include "mock_device/mock_device.h"
#include "mock_device/mock_platform.h"

namespace vnet::testing {

class BusPlatform final : public Platform {
 public:
  // Called under the bus mutex, on the rx context's thread, just before the
  // driver fetches queue 0's used index in rx_burst() (not for deliberate
  // re-checks): the device's chance to complete rx buffers.
  using RxSource = std::function<void()>;
  // Multiqueue: called under the bus mutex, on the thread of pair k's rx
  // context, at the first fetch of device memory in each of its bursts
  // (rx_burst, set_rx_interrupts: pair k's receiveq, queue 2k, and nothing
  // else), with k: the device's chance to complete rx buffers of that pair
  // while the pair's rx context owns its ring. Never while a re-attach
  // (control context) writes the ring, as a source run outside the burst
  // could be.
  using RxPairSource = std::function<void(uint16_t pair)>;

  explicit BusPlatform(mock::MockPlatform& inner) : inner_(inner) {}

  // Runs f under the bus mutex (device events from the test).
  template <typename F>
  auto locked(F&& f) {
    std::lock_guard<std::mutex> lock(mu_);
    return f();
  }
  void set_rx_source(RxSource source) {
    std::lock_guard<std::mutex> lock(mu_);
    rx_source_ = std::move(source);
  }
  void set_rx_pair_source(RxPairSource source) {
    std::lock_guard<std::mutex> lock(mu_);
    rx_pair_source_ = std::move(source);
  }
  // Ring allocations or frees seen while an rx or tx burst was running.
  uint64_t ring_ops_during_burst() const { return ring_ops_during_burst_.load(); }

  uint32_t reg_read(Region region, uint32_t offset, uint8_t width) override {
    std::lock_guard<std::mutex> lock(mu_);
    return inner_.reg_read(region, offset, width);
  }
  void reg_write(Region region, uint32_t offset, uint8_t width, uint32_t value) override {
    std::lock_guard<std::mutex> lock(mu_);
    inner_.reg_write(region, offset, width, value);
  }
  BarInfo bar_info(uint8_t bar) override {
    std::lock_guard<std::mutex> lock(mu_);
    return inner_.bar_info(bar);
  }
  bool dma_alloc(size_t size, size_t align, DmaRegion* out) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (bursts_ != 0) ring_ops_during_burst_.fetch_add(1);
    return inner_.dma_alloc(size, align, out);
  }
  void dma_free(const DmaRegion& region) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (bursts_ != 0) ring_ops_during_burst_.fetch_add(1);
    inner_.dma_free(region);
  }
  bool dma_map(uint8_t* cpu, uint64_t phys, uint32_t len, DmaDirection dir,
               DmaMapping* out) override {
    std::lock_guard<std::mutex> lock(mu_);
    return inner_.dma_map(cpu, phys, len, dir, out);
  }
  void dma_unmap(const DmaMapping& m, uint8_t* cpu, uint32_t device_len,
                 DmaDirection dir) override {
    std::lock_guard<std::mutex> lock(mu_);
    inner_.dma_unmap(m, cpu, device_len, dir);
  }
  void fetch(const DeviceMemRef& what, const volatile void* src, void* dst, size_t len) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (what.queue == VirtioNet::kRxQueue && what.part == MemPart::kUsedIdx && !what.recheck &&
        in_rx_burst_ && rx_source_)
      rx_source_();
    if (in_rx_burst_ && rx_pair_due_ && rx_pair_source_) {
      rx_pair_due_ = false;
      rx_pair_source_(static_cast<uint16_t>(what.queue / 2));
    }
    inner_.fetch(what, src, dst, len);
  }
  void frame_in_place(uint16_t queue, uint16_t desc, void* data, uint32_t len) override {
    std::lock_guard<std::mutex> lock(mu_);
    inner_.frame_in_place(queue, desc, data, len);
  }
  void published(const PublishedChain& chain) override {
    std::lock_guard<std::mutex> lock(mu_);
    inner_.published(chain);
  }
  void completed(uint16_t queue, uint16_t head, uint32_t len) override {
    std::lock_guard<std::mutex> lock(mu_);
    inner_.completed(queue, head, len);
  }
  void barrier(Barrier kind) override {
    std::lock_guard<std::mutex> lock(mu_);
    inner_.barrier(kind);
  }
  bool wait_interrupt(uint64_t timeout_ns) override {
    std::lock_guard<std::mutex> lock(mu_);
    return inner_.wait_interrupt(timeout_ns);
  }
  uint64_t now_ns() override {
    std::lock_guard<std::mutex> lock(mu_);
    return inner_.now_ns();
  }
  void log(LogLevel level, const char* message) override {
    std::lock_guard<std::mutex> lock(mu_);
    inner_.log(level, message);
  }
  uint16_t msi_messages(uint16_t max, MsiMessage* out) override {
    std::lock_guard<std::mutex> lock(mu_);
    return inner_.msi_messages(max, out);
  }
  bool line_interrupt() override {
    std::lock_guard<std::mutex> lock(mu_);
    return inner_.line_interrupt();
  }
  void arm_interrupts(InterruptMode mode, uint16_t vectors) override {
    std::lock_guard<std::mutex> lock(mu_);
    inner_.arm_interrupts(mode, vectors);
  }
  void op_begin(DriverOp op) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (op == DriverOp::kRxBurst) in_rx_burst_ = rx_pair_due_ = true;
    if (op == DriverOp::kRxBurst || op == DriverOp::kTxBurst) ++bursts_;
    inner_.op_begin(op);
  }
  void op_end(DriverOp op) override {
    std::lock_guard<std::mutex> lock(mu_);
    inner_.op_end(op);
    if (op == DriverOp::kRxBurst || op == DriverOp::kTxBurst) --bursts_;
    if (op == DriverOp::kRxBurst) in_rx_burst_ = rx_pair_due_ = false;
  }

 private:
  mock::MockPlatform& inner_;
  std::mutex mu_;
  RxSource rx_source_;
  RxPairSource rx_pair_source_;
  int bursts_ = 0;  // rx and tx bursts running (under mu_)
  std::atomic<uint64_t> ring_ops_during_burst_{0};
  // True on the thread that is inside rx_burst() (the rx context is one
  // thread at a time, and platform calls do not nest).
  static inline thread_local bool in_rx_burst_ = false;
  // The rx pair source has not run yet in this thread's rx burst.
  static inline thread_local bool rx_pair_due_ = false;
};

// MockBufferPool behind a mutex: the driver's rx and tx contexts and the
// test's threads all allocate and free.
class LockedPool final : public BufferPool {
 public:
  explicit LockedPool(mock::MockBufferPool& inner) : inner_(inner) {}
  PacketBuffer* alloc() override {
    std::lock_guard<std::mutex> lock(mu_);
    return inner_.alloc();
  }
  void free(PacketBuffer* buffer) override {
    std::lock_guard<std::mutex> lock(mu_);
    inner_.free(buffer);
  }
  PacketBuffer* alloc_tx(std::span<const uint8_t> frame) {
    std::lock_guard<std::mutex> lock(mu_);
    return inner_.alloc_tx(frame);
  }

 private:
  mock::MockBufferPool& inner_;
  std::mutex mu_;
};

// Guest memory, device, mock shim, pool, their thread-safe decorators, and
// the driver probed and attached through the decorators.
class ThreadedWorld {
 public:
  explicit ThreadedWorld(mock::DeviceConfig config, PciMode mode = PciMode::kAuto,
                         size_t pool_buffers = 1024)
      : device_(memory_, config),
        platform_(device_, memory_),
        pool_(memory_, pool_buffers),
        bus_(platform_),
        locked_pool_(pool_),
        mode_(mode) {}

  AttachError attach(const NetOptions& options = {}) {
    Transport* t = nullptr;
    if (mock::is_mmio(device_.config().transport)) {
      const mock::DeviceConfig& c = device_.config();
      const MmioProbeResult r =
          mmio_.probe(bus_, MmioWindow{0xFEB02E00, c.mmio_window_size, c.interrupt_pin ? 12 : -1});
      t = r.transport;
    } else {
      probe_ = transports_.probe(bus_, mode_);
      t = probe_.transport;
    }
    if (t == nullptr) return AttachError::kBadOptions;
    return net_.attach(bus_, *t, locked_pool_, options);
  }

  mock::MockDevice& device() { return device_; }
  // The undecorated shim and pool: only while no other thread runs.
  mock::MockPlatform& platform() { return platform_; }
  mock::MockBufferPool& pool() { return pool_; }
  BusPlatform& bus() { return bus_; }
  LockedPool& locked_pool() { return locked_pool_; }
  VirtioNet& net() { return net_; }

 private:
  mock::GuestMemory memory_;
  mock::MockDevice device_;
  mock::MockPlatform platform_;
  mock::MockBufferPool pool_;
  BusPlatform bus_;
  LockedPool locked_pool_;
  PciMode mode_;
  PciTransports transports_;
  ProbeResult probe_{};
  MmioTransports mmio_;
  VirtioNet net_;
};

// Frames both ways carry their direction and a sequence number, and every
// other byte is a function of both, so one frame can be checked byte for
// byte on its own: 14-byte Ethernet header (ethertype 0x88B5, local
// experimental), direction, le32 sequence number, pattern.
inline constexpr uint8_t kDirRx = 0x52;  // the device sends, the driver receives
inline constexpr uint8_t kDirTx = 0x54;  // the driver sends, the device receives

inline uint32_t frame_size(uint32_t seq) {
  return 60 + (seq * 37u) % (1514 - 60 + 1);  // 60 .. 1514
}

inline uint8_t frame_byte(uint32_t seq, uint8_t dir, size_t i) {
  return static_cast<uint8_t>(seq * 131u + dir * 29u + i * 7u + (i >> 8));
}

// Writes the frame (frame_size(seq) bytes) to out.
inline void fill_frame(uint8_t* out, uint32_t seq, uint8_t dir) {
  static constexpr uint8_t kHdr[14] = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x88, 0xB5};
  const uint32_t n = frame_size(seq);
  for (size_t i = 0; i < 14; ++i) out[i] = kHdr[i];
  out[14] = dir;
  for (size_t i = 0; i < 4; ++i) out[15 + i] = static_cast<uint8_t>(seq >> (8 * i));
  for (size_t i = 19; i < n; ++i) out[i] = frame_byte(seq, dir, i);
}

// True when frame is exactly the frame fill_frame(seq, dir) writes, for the
// sequence number it carries (returned in *seq).
inline bool check_frame(std::span<const uint8_t> frame, uint8_t dir, uint32_t* seq) {
  if (frame.size() < 60) return false;
  uint32_t s = 0;
  for (size_t i = 0; i < 4; ++i) s |= uint32_t{frame[15 + i]} << (8 * i);
  *seq = s;
  if (frame.size() != frame_size(s) || frame[14] != dir) return false;
  static constexpr uint8_t kHdr[14] = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x88, 0xB5};
  for (size_t i = 0; i < 14; ++i)
    if (frame[i] != kHdr[i]) return false;
  for (size_t i = 19; i < frame.size(); ++i)
    if (frame[i] != frame_byte(s, dir, i)) return false;
  return true;
}

// Aborts the process, after printing what it was waiting for, when not
// disarmed (destroyed) in time: a deadlocked thread cannot be joined, so
// failing a threaded test any other way would hang ctest until its own
// timeout.
class Watchdog {
 public:
  Watchdog(std::chrono::seconds timeout, std::function<std::string()> describe)
      : describe_(std::move(describe)), thread_([this, timeout] { run(timeout); }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void run(std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, timeout, [this] { return done_; })) return;
    std::fprintf(stderr, "WATCHDOG: test still running after %lld s (deadlock?): %s\n",
                 static_cast<long long>(timeout.count()), describe_().c_str());
    std::fflush(stderr);
    std::abort();
  }

  std::function<std::string()> describe_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace vnet::testing
