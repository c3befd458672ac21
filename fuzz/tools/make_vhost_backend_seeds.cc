// vnet-vhost-backend-seeds: writes the seed corpus of fuzz_vhost_backend
// (corpus/fuzz/fuzz_vhost_backend/), reproducibly. Each seed is built with
// the target's own InputBuilder (fuzz/harness/vhost_backend_world.h) and
// run through the target's world before it is written: a seed that no
// longer reaches what its name says (the rings running, a refusal, a
// framing error) stops the tool with exit status 1, so the corpus cannot
// rot silently when the back end or the format changes.
//
//   vnet-vhost-backend-seeds --root <project root>
//
//   good-*      a front end as QEMU is one: the handshake, a memory table,
//               both rings started (split; packed with RING_PACKED acked;
//               without PROTOCOL_FEATURES), ring contents written into the
//               memfd, kicks, rx and tx frames, GET_CONFIG, GET_VRING_BASE
//   mem-*       memory tables that lie: past the end of the file, an
//               offset past it, an empty file, overlaps in either address
//               space, fds that are not memfds, fd count mismatches, a table
//               replaced under running rings, too many tables
//   ring-*      ring sizes and addresses that lie: not a power of two,
//               outside every region, straddling a region's end, at its
//               very end, rings over each other, indices beyond the back
//               end's, kicks before size/addresses, restarts
//   chain-*     ring contents that lie: descriptor loops, indirect tables,
//               chains past the memory, mergeable rx
//   frame-*     the byte stream: truncated header, oversize payload
//               announcement, wrong version, REPLY flag on a request, a
//               payload of the wrong size, split headers, two messages in
//               one chunk
//   fd-*        fds where none are taken, NOFD with an fd, more fds than a
//               message may carry, odd kinds (pipes, memfds) as kick/call
//   cfg-*, req-*, state-*   GET_CONFIG past 256 bytes, an unknown request
//               with NEED_REPLY, RESET_OWNER and SET_FEATURES while rings run
//
// Only files with these prefixes are rewritten; others (findings kept as
// regressions) stay.
#include <string.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "driver/spec/packed_ring_layout.h"
#include "driver/spec/split_ring_layout.h"
#include "driver/spec/virtio_constants.h"
#include "fuzz/harness/vhost_backend_world.h"

namespace fs = std::filesystem;
using namespace vnet::vhost;
namespace vb = vnet::fuzz::vhost_backend;
using vb::Fd;
using vb::InputBuilder;
using vnet::spec::Feature;
using vnet::spec::feature_mask;

namespace {

// Where the good front end puts things: one 64 KiB region.
constexpr uint64_t kGpa = 0x100000;
constexpr uint64_t kUaddr = 0x7f1200000000;
constexpr uint64_t kRegionSize = 0x10000;
constexpr uint16_t kRingSize = 8;
constexpr uint32_t kRxDesc = 0x0000, kRxAvail = 0x0800, kRxUsed = 0x1000;
constexpr uint32_t kTxDesc = 0x2000, kTxAvail = 0x2800, kTxUsed = 0x3000;
constexpr uint32_t kRxBuffers = 0x4000, kRxBufferSize = 0x800;
constexpr uint32_t kTxBuffer = 0x8000;
constexpr uint32_t kNetHdr = 12;  // VERSION_1

constexpr uint64_t kVersion1 = uint64_t{1} << 32;
constexpr uint64_t kPackedBit = uint64_t{1} << 34;

std::vector<uint8_t> le16(uint16_t v) {
  return {uint8_t(v), uint8_t(v >> 8)};
}

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(uint8_t(v));
  b.push_back(uint8_t(v >> 8));
}
void put32(std::vector<uint8_t>& b, uint32_t v) {
  put16(b, uint16_t(v));
  put16(b, uint16_t(v >> 16));
}
void put64(std::vector<uint8_t>& b, uint64_t v) {
  put32(b, uint32_t(v));
  put32(b, uint32_t(v >> 32));
}

// A split descriptor (2.7.5) / a packed one (2.8.13).
std::vector<uint8_t> split_desc(uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
  std::vector<uint8_t> b;
  put64(b, addr);
  put32(b, len);
  put16(b, flags);
  put16(b, next);
  return b;
}
std::vector<uint8_t> packed_desc(uint64_t addr, uint32_t len, uint16_t id, uint16_t flags) {
  std::vector<uint8_t> b;
  put64(b, addr);
  put32(b, len);
  put16(b, id);
  put16(b, flags);
  return b;
}
std::vector<uint8_t> avail(std::initializer_list<uint16_t> heads, uint16_t idx) {
  std::vector<uint8_t> b;
  put16(b, 0);  // flags
  put16(b, idx);
  for (uint16_t h : heads) put16(b, h);
  return b;
}

// The net header and a 60-byte broadcast frame: what a driver transmits.
std::vector<uint8_t> tx_packet() {
  std::vector<uint8_t> p(kNetHdr, 0);
  const std::vector<uint8_t> f = vb::step_frame();
  p.insert(p.end(), f.begin(), f.end());
  return p;
}

MemoryRegion region(uint64_t gpa, uint64_t size, uint64_t uaddr, uint64_t offset = 0) {
  return MemoryRegion{gpa, size, uaddr, offset};
}

struct Handshake {
  uint8_t config = 0;
  uint64_t features = kVersion1 | kFeatureProtocolFeatures;
  bool packed = false;
  bool enable = true;    // SET_VRING_ENABLE (needed with PROTOCOL_FEATURES)
  Fd mem = Fd::kMem64k;  // the guest memory's file
};

// GET_FEATURES .. SET_MEM_TABLE.
void negotiate(InputBuilder& b, const Handshake& h) {
  b.msg(Request::kGetFeatures);
  b.msg(Request::kGetProtocolFeatures);
  b.u64_msg(Request::kSetProtocolFeatures, protocol::kReplyAck | protocol::kConfig);
  b.msg(Request::kSetOwner);
  b.u64_msg(Request::kSetFeatures, h.features);
  b.mem_table({region(kGpa, kRegionSize, kUaddr)}, {h.mem});
}

// What the guest's driver leaves in memory before the rings start: four
// rx buffers and one tx frame made available.
void ring_contents(InputBuilder& b, const Handshake& h) {
  std::vector<uint8_t> rx, tx;
  for (uint16_t i = 0; i < 4; ++i) {
    const uint64_t a = kGpa + kRxBuffers + uint64_t(i) * kRxBufferSize;
    const auto d = h.packed
                       ? packed_desc(a, kRxBufferSize, i,
                                     vnet::spec::kPackedDescFlagAvail | vnet::spec::kDescFlagWrite)
                       : split_desc(a, kRxBufferSize, vnet::spec::kDescFlagWrite, 0);
    rx.insert(rx.end(), d.begin(), d.end());
  }
  b.poke(h.mem, kRxDesc, rx);
  const uint32_t len = uint32_t(tx_packet().size());
  tx = h.packed ? packed_desc(kGpa + kTxBuffer, len, 0, vnet::spec::kPackedDescFlagAvail)
                : split_desc(kGpa + kTxBuffer, len, 0, 0);
  b.poke(h.mem, kTxDesc, tx);
  b.poke(h.mem, kTxBuffer, tx_packet());
  if (!h.packed) {
    b.poke(h.mem, kRxAvail, avail({0, 1, 2, 3}, 4));
    b.poke(h.mem, kTxAvail, avail({0}, 1));
  }
}

// SET_VRING_NUM/BASE/ADDR/CALL/KICK for ring q (eventfds: the call fd is
// kickable 2q, the kick fd 2q + 1).
void start_ring(InputBuilder& b, const Handshake& h, uint32_t q, uint32_t num = kRingSize) {
  const uint32_t desc = q == 0 ? kRxDesc : kTxDesc;
  const uint32_t drv = q == 0 ? kRxAvail : kTxAvail;
  const uint32_t dev = q == 0 ? kRxUsed : kTxUsed;
  b.state(Request::kSetVringNum, q, num);
  b.state(Request::kSetVringBase, q, h.packed ? kPackedFreshBase : 0);
  b.addr(q, kUaddr + desc, kUaddr + drv, kUaddr + dev);
  b.u64_msg(Request::kSetVringCall, q, {Fd::kEventfd});
  b.u64_msg(Request::kSetVringKick, q, {Fd::kEventfd});
}

// The whole good sequence up to running rings.
InputBuilder good(const Handshake& h) {
  InputBuilder b(h.config);
  negotiate(b, h);
  ring_contents(b, h);
  start_ring(b, h, 0);
  start_ring(b, h, 1);
  if (h.enable) {
    b.state(Request::kSetVringEnable, 0, 1);
    b.state(Request::kSetVringEnable, 1, 1);
  }
  return b;
}

// Traffic and the end of a session: kick both rings, a frame each way,
// GET_CONFIG (the MAC), GET_VRING_BASE of both.
void traffic_and_stop(InputBuilder& b) {
  b.kick(1);
  b.kick(3);
  b.rx(59, vb::step_frame());
  b.tx();
  std::vector<uint8_t> cfg = InputBuilder::pod(ConfigHeader{0, 6, 0});
  cfg.resize(cfg.size() + 6, 0);
  b.msg(Request::kGetConfig, cfg, {}, kVersion | kFlagNeedReply);
  b.state(Request::kGetVringBase, 0, 0);
  b.state(Request::kGetVringBase, 1, 0);
}

struct Seed {
  std::string name;
  std::vector<uint8_t> input;
  std::function<bool(const vb::Outcome&)> expect;
  std::string expectation;
};

std::string describe(const vb::Outcome& o) {
  std::string s = "messages " + std::to_string(o.messages) + ", starts " +
                  std::to_string(o.ring_starts) + ", ran " + std::to_string(o.ran) + ", tx " +
                  std::to_string(o.tx_frames) + ", rx " + std::to_string(o.rx_injected) +
                  ", calls " + std::to_string(o.calls) + ", reply bytes " +
                  std::to_string(o.reply_bytes) + ", error '" + o.error + "'";
  for (const auto& r : o.refusals) s += "\n    refused: " + r;
  return s;
}

std::vector<Seed> seeds() {
  std::vector<Seed> out;
  auto add = [&](std::string name, const InputBuilder& b, std::string expectation,
                 std::function<bool(const vb::Outcome&)> expect) {
    out.push_back(Seed{std::move(name), b.bytes(), std::move(expect), std::move(expectation)});
  };
  auto ran_clean = [](const vb::Outcome& o) {
    return o.ran && o.tx_frames >= 1 && o.rx_injected >= 1 && o.error.empty() && o.refusals.empty();
  };

  // ---- good front ends ----
  {
    Handshake h;
    InputBuilder b = good(h);
    traffic_and_stop(b);
    add("good-split", b, "both split rings run, a frame each way, no refusal", ran_clean);
  }
  {
    Handshake h;
    h.config = vb::config::kPacked;
    h.packed = true;
    h.features |= kPackedBit;
    InputBuilder b = good(h);
    traffic_and_stop(b);
    add("good-packed", b, "RING_PACKED acked: both packed rings run, a frame each way", ran_clean);
  }
  {
    Handshake h;
    h.features = kVersion1;
    h.enable = false;
    InputBuilder b = good(h);
    traffic_and_stop(b);
    add("good-split-noproto", b,
        "without PROTOCOL_FEATURES the rings run at SET_VRING_KICK, no SET_VRING_ENABLE",
        [](const vb::Outcome& o) { return o.ran && o.tx_frames >= 1; });
  }
  {
    // A front end that shrinks the guest memory's file under the back end:
    // sealed (as QEMU's memfd backend is), the shrink fails and the rings
    // run on; unsealed, the back end never maps it.
    Handshake h;
    InputBuilder b = good(h);
    b.shrink(Fd::kMem64k, 0);
    traffic_and_stop(b);
    add("mem-shrink-sealed", b, "a shrink of the sealed memfd fails: the rings run, no fault",
        ran_clean);
  }
  {
    Handshake h;
    h.mem = Fd::kMemUnsealed;
    InputBuilder b = good(h);
    b.shrink(Fd::kMemUnsealed, 0);
    traffic_and_stop(b);
    add("mem-unsealed", b,
        "a memfd the front end can still shrink is refused; the shrink then faults nobody",
        [](const vb::Outcome& o) { return !o.ran && o.refused("no F_SEAL_SHRINK"); });
  }
  {
    Handshake h;
    h.config = vb::config::kPacked | vb::config::kInOrder;
    h.packed = true;
    h.features |= kPackedBit | feature_mask(Feature::kInOrder) | feature_mask(Feature::kEventIdx) |
                  feature_mask(Feature::kIndirectDesc);
    InputBuilder b = good(h);
    traffic_and_stop(b);
    add("good-packed-inorder-eventidx", b, "packed, IN_ORDER, EVENT_IDX: the rings run",
        [](const vb::Outcome& o) { return o.ran && o.tx_frames >= 1; });
  }
  {
    Handshake h;
    h.config = vb::config::kMergeable;
    h.features |= feature_mask(Feature::kNetMrgRxbuf);
    InputBuilder b = good(h);
    b.rx(2999, vb::step_frame());  // 3000 bytes: two 2 KiB buffers
    traffic_and_stop(b);
    add("good-split-mergeable", b, "MRG_RXBUF: a 3000-byte frame over two buffers",
        [](const vb::Outcome& o) { return o.ran && o.rx_injected >= 1; });
  }

  // ---- memory tables that lie ----
  {
    Handshake h;
    InputBuilder b(0);
    b.msg(Request::kGetFeatures);
    b.u64_msg(Request::kSetProtocolFeatures, protocol::kReplyAck);
    b.u64_msg(Request::kSetFeatures, h.features);
    // 64 KiB claimed of a 4 KiB file: mapping it would SIGBUS at the first
    // touch past 4 KiB.
    b.mem_table({region(kGpa, kRegionSize, kUaddr)}, {Fd::kMem4k});
    start_ring(b, h, 0);
    start_ring(b, h, 1);
    b.rx(59, {});
    add("mem-past-eof", b, "the region is refused (beyond the file), no ring starts",
        [](const vb::Outcome& o) {
          return o.refused("beyond the file") && o.ring_starts == 0 && o.refused("memory table");
        });
  }
  {
    InputBuilder b(0);
    b.u64_msg(Request::kSetFeatures, kVersion1);
    b.mem_table({region(kGpa, 0x1000, kUaddr, 0x1000)}, {Fd::kMem4k});
    b.mem_table({region(kGpa, 0x1000, kUaddr, 0xFFFFFFFFFFFFF000ull)}, {Fd::kMem4k});
    b.mem_table({region(kGpa, 0x1065, kUaddr)}, {Fd::kMemOdd});  // one byte past 4196
    add("mem-offset-past-eof", b,
        "an mmap_offset past the end, one that wraps, one byte too many: all refused",
        [](const vb::Outcome& o) {
          return o.refusals.size() == 3 && o.refused("beyond the file") && o.refused("wraps");
        });
  }
  {
    InputBuilder b(0);
    b.u64_msg(Request::kSetFeatures, kVersion1);
    b.mem_table({region(kGpa, 0x1000, kUaddr)}, {Fd::kMem0});
    b.mem_table({region(kGpa, 0x1000, kUaddr)}, {Fd::kEventfd});
    b.mem_table({region(kGpa, 0x1000, kUaddr)}, {Fd::kPipeRead});
    b.mem_table({region(kGpa, 0, kUaddr)}, {Fd::kMem4k});
    add("mem-not-a-memfd", b,
        "an empty file, an eventfd, a pipe and an empty region: refused, every fd closed",
        [](const vb::Outcome& o) { return o.refusals.size() == 4 && o.refused("is empty"); });
  }
  {
    InputBuilder b(0);
    b.u64_msg(Request::kSetFeatures, kVersion1);
    b.mem_table({region(kGpa, 0x10000, kUaddr), region(kGpa + 0x8000, 0x10000, 0x7f3400000000)},
                {Fd::kMem64k, Fd::kMem64kB});
    b.mem_table({region(kGpa, 0x10000, kUaddr), region(0x900000, 0x10000, kUaddr + 0xFFFF)},
                {Fd::kMem64k, Fd::kMem64kB});
    b.mem_table({region(kGpa, 0x10000, kUaddr), region(0x900000, 0x10000, 0x7f3400000000)},
                {Fd::kMem64k, Fd::kMem64kB});
    add("mem-overlap", b,
        "regions overlapping in guest-physical and in front-end space refused; disjoint taken",
        [](const vb::Outcome& o) {
          return o.refusals.size() == 2 && o.refused("overlaps region 0");
        });
  }
  {
    InputBuilder b(0);
    b.u64_msg(Request::kSetFeatures, kVersion1);
    b.mem_table({region(kGpa, 0x1000, kUaddr), region(0x900000, 0x1000, 0x7f3400000000)},
                {Fd::kMem4k});
    b.mem_table({region(kGpa, 0x1000, kUaddr)}, {Fd::kMem4k, Fd::kMem64k});
    add("mem-fd-count", b, "two regions with one fd, one region with two: refused",
        [](const vb::Outcome& o) {
          return o.refusals.size() == 2 && o.refused("file descriptors");
        });
  }
  {
    Handshake h;
    InputBuilder b = good(h);
    b.kick(3);
    // A new table: the rings' guest-physical addresses are now outside it.
    b.mem_table({region(0x40000000, 0x1000, 0x7f5600000000)}, {Fd::kMem4k});
    b.kick(3);
    b.kick(1);
    b.rx(59, vb::step_frame());
    b.tx();
    add("mem-replaced-under-running-rings", b,
        "the table changes under running rings: the device's accesses miss and are refused",
        [](const vb::Outcome& o) { return o.ran && o.error.empty(); });
  }
  {
    InputBuilder b(0);
    b.u64_msg(Request::kSetFeatures, kVersion1);
    for (int i = 0; i < 33; ++i)
      b.mem_table({region(kGpa, 0x1000, kUaddr + uint64_t(i) * 0x1000)}, {Fd::kMem4k});
    add("mem-too-many-tables", b, "the 33rd table is refused (mappings are kept per table)",
        [](const vb::Outcome& o) { return o.refused("more than 32 memory tables"); });
  }

  // ---- ring sizes and addresses ----
  {
    Handshake h;
    InputBuilder b(0);
    negotiate(b, h);
    ring_contents(b, h);
    start_ring(b, h, 0, 3);
    start_ring(b, h, 1, 0);
    b.state(Request::kSetVringNum, 1, 65536);
    add("ring-size-not-pow2", b, "split sizes 3, 0 and 65536 refused: the kicks find no size",
        [](const vb::Outcome& o) {
          return o.refused("ring size 3") && o.refused("ring size 0") && o.ring_starts == 0;
        });
  }
  {
    Handshake h;
    h.config = vb::config::kPacked;
    h.packed = true;
    h.features |= kPackedBit;
    InputBuilder b(h.config);
    negotiate(b, h);
    ring_contents(b, h);
    start_ring(b, h, 0, 3);
    start_ring(b, h, 1, 5);
    b.state(Request::kSetVringEnable, 0, 1);
    b.state(Request::kSetVringEnable, 1, 1);
    traffic_and_stop(b);
    add("ring-packed-size-3", b, "packed rings of 3 and 5 entries (allowed) run",
        [](const vb::Outcome& o) { return o.ring_starts == 2; });
  }
  {
    Handshake h;
    InputBuilder b(0);
    negotiate(b, h);
    b.state(Request::kSetVringNum, 0, kRingSize);
    b.state(Request::kSetVringBase, 0, 0);
    b.addr(0, kUaddr + kRegionSize, kUaddr + kRxAvail, kUaddr + kRxUsed);  // desc past the end
    b.u64_msg(Request::kSetVringKick, 0, {Fd::kEventfd});
    b.addr(0, 0x1000, kUaddr + kRxAvail, kUaddr + kRxUsed);  // a guest-physical address
    b.u64_msg(Request::kSetVringKick, 0, {Fd::kEventfd});
    b.addr(0, kUaddr, kUaddr - 2, kUaddr + kRxUsed);  // avail below the region
    b.u64_msg(Request::kSetVringKick, 0, {Fd::kEventfd});
    add("ring-outside-regions", b, "ring addresses outside every region: the ring never starts",
        [](const vb::Outcome& o) {
          return o.refused("outside every mapped memory region") && o.ring_starts == 0;
        });
  }
  {
    Handshake h;
    InputBuilder b(0);
    negotiate(b, h);
    b.state(Request::kSetVringNum, 0, kRingSize);
    b.state(Request::kSetVringBase, 0, 0);
    // The available ring (6 + 2n = 22 bytes) starts 16 bytes before the
    // end (the parts keep their alignment, 2.7: 16, 2, 4).
    b.addr(0, kUaddr, kUaddr + kRegionSize - 16, kUaddr + kRxUsed);
    b.u64_msg(Request::kSetVringKick, 0, {Fd::kEventfd});
    // Ending on the region's last byte: accepted.
    b.addr(0, kUaddr, kUaddr + kRegionSize - 22, kUaddr + kRxUsed);
    b.u64_msg(Request::kSetVringKick, 0, {Fd::kEventfd});
    add("ring-straddles-region-end", b,
        "an available ring 6 bytes past the region refused, one ending on its last byte taken",
        [](const vb::Outcome& o) {
          return o.refused("outside every mapped memory region") && o.ring_starts == 1;
        });
  }
  {
    // Rings at the end of a 4196-byte file (not a page multiple).
    Handshake h;
    InputBuilder b(0);
    b.u64_msg(Request::kSetProtocolFeatures, protocol::kReplyAck);
    b.u64_msg(Request::kSetFeatures, h.features);
    b.mem_table({region(kGpa, 4196, kUaddr)}, {Fd::kMemOdd});
    // Size 4: desc 64 bytes, avail 14, used 38. Ring 0's available ring
    // ends on the file's last byte, in the page the file only partly fills.
    const uint64_t desc[2] = {4032, 3840}, drv[2] = {4182, 3904}, dev[2] = {4100, 3920};
    for (uint32_t q = 0; q < 2; ++q) {
      b.state(Request::kSetVringNum, q, 4);
      b.state(Request::kSetVringBase, q, 0);
      b.addr(q, kUaddr + desc[q], kUaddr + drv[q], kUaddr + dev[q]);
      b.u64_msg(Request::kSetVringCall, q, {Fd::kEventfd});
      b.u64_msg(Request::kSetVringKick, q, {Fd::kEventfd});
      b.state(Request::kSetVringEnable, q, 1);
    }
    b.poke(Fd::kMemOdd, 4182, avail({0, 1, 2, 3}, 0xFFFF));  // avail idx far ahead
    b.kick(1);
    b.kick(3);
    b.rx(59, vb::step_frame());
    add("ring-at-odd-file-end", b,
        "an available ring ending on the last byte of a 4196-byte file, its index 65535 ahead",
        [](const vb::Outcome& o) { return o.ring_starts == 2 && o.ran; });
  }
  {
    Handshake h;
    InputBuilder b(0);
    negotiate(b, h);
    // The tx ring's descriptor table, available and used rings on top of
    // each other: the device's used writes land in the descriptors.
    b.poke(Fd::kMem64k, kTxDesc, split_desc(kGpa + kTxDesc, 64, 0, 0));
    b.state(Request::kSetVringNum, 1, kRingSize);
    b.state(Request::kSetVringBase, 1, 0);
    b.addr(1, kUaddr + kTxDesc, kUaddr + kTxDesc, kUaddr + kTxDesc);
    b.u64_msg(Request::kSetVringKick, 1, {Fd::kEventfd});
    start_ring(b, h, 0);
    b.state(Request::kSetVringEnable, 0, 1);
    b.state(Request::kSetVringEnable, 1, 1);
    b.poke(Fd::kMem64k, kTxDesc + 2, le16(1));  // avail idx 1 (= the desc's addr bytes)
    b.kick(0);
    b.kick(2);
    b.tx();
    add("ring-overlapping-parts", b,
        "a tx ring whose three parts share one address: the device walks what it writes",
        [](const vb::Outcome& o) { return o.ring_starts == 2; });
  }
  {
    InputBuilder b(0);
    b.u64_msg(Request::kSetFeatures, kVersion1);
    b.state(Request::kSetVringNum, 32, 8);
    b.state(Request::kSetVringEnable, 0xFFFFFFFF, 1);
    b.state(Request::kSetVringEnable, 0, 2);
    b.addr(200, kUaddr, kUaddr, kUaddr);
    b.u64_msg(Request::kSetVringKick, 0xFF, {Fd::kEventfd});
    b.u64_msg(Request::kSetVringCall, 0x10000 | 1, {Fd::kEventfd});
    b.state(Request::kGetVringBase, 77, 0);
    add("ring-index-out-of-range", b,
        "ring indices 32, 0xFFFFFFFF, 200, 255, 77, enable value 2 and value bits above NOFD "
        "refused",
        [](const vb::Outcome& o) {
          return o.refusals.size() == 7 && o.refused("ring 32") && o.refused("beyond the ring");
        });
  }
  {
    Handshake h;
    InputBuilder b(0);
    b.u64_msg(Request::kSetFeatures, h.features);
    b.u64_msg(Request::kSetVringKick, 0, {Fd::kEventfd});
    b.state(Request::kSetVringNum, 0, 8);
    b.u64_msg(Request::kSetVringKick, 0, {Fd::kEventfd});
    b.addr(0, kUaddr, kUaddr + kRxAvail, kUaddr + kRxUsed);
    b.u64_msg(Request::kSetVringKick, 0, {Fd::kEventfd});
    b.mem_table({region(kGpa, kRegionSize, kUaddr)}, {Fd::kMem64k});
    b.kick(0);
    b.u64_msg(Request::kSetVringKick, 0, {Fd::kEventfd});
    add("ring-kick-before-setup", b,
        "kicks before the size, the addresses, the memory table; then one that starts it",
        [](const vb::Outcome& o) {
          return o.refused("kick before its size") && o.refused("kick before its addresses") &&
                 o.refused("kick before its memory table") && o.ring_starts == 1;
        });
  }
  {
    Handshake h;
    InputBuilder b = good(h);
    b.kick(3);
    b.state(Request::kGetVringBase, 1, 0);
    b.u64_msg(Request::kSetVringKick, 1, {Fd::kEventfd});  // resumed at base 1: refused
    b.state(Request::kSetVringBase, 1, 0);
    b.u64_msg(Request::kSetVringKick, 1, {Fd::kEventfd});  // fresh, but rx still runs: refused
    b.state(Request::kGetVringBase, 0, 0);                 // every ring stopped
    b.u64_msg(Request::kSetFeatures, h.features);
    b.state(Request::kSetVringBase, 0, 0);
    b.poke(Fd::kMem64k, kTxAvail, avail({0, 0}, 2));
    b.u64_msg(Request::kSetVringKick, 0, {Fd::kEventfd});  // both fresh: the device starts over
    b.u64_msg(Request::kSetVringKick, 1, {Fd::kEventfd});
    b.state(Request::kSetVringEnable, 0, 1);
    b.state(Request::kSetVringEnable, 1, 1);
    b.kick(9);
    b.tx();
    add("ring-restart", b,
        "GET_VRING_BASE stops tx; a restart at its base refused, a restart alone under the "
        "running rx refused, both restarted fresh after SET_FEATURES run again",
        [](const vb::Outcome& o) {
          return o.refused("only fresh rings") && o.refused("still runs") && o.ring_starts >= 4 &&
                 o.ran;
        });
  }

  // ---- ring contents that lie ----
  {
    Handshake h;
    h.features |= feature_mask(Feature::kIndirectDesc);
    InputBuilder b = good(h);
    // tx: descriptor 1 chains to itself, made available as the second
    // chain (2 -> 0 after it is never reached).
    std::vector<uint8_t> d = split_desc(kGpa + kTxBuffer, 12, vnet::spec::kDescFlagNext, 1);
    const auto d1 = split_desc(kGpa + kTxBuffer + 12, 60, vnet::spec::kDescFlagNext, 0);
    d.insert(d.end(), d1.begin(), d1.end());
    b.poke(Fd::kMem64k, kTxDesc + 16, d);
    b.poke(Fd::kMem64k, kTxAvail, avail({0, 1}, 2));
    b.kick(3);
    // rx: a write descriptor whose next runs off the table (index 9 of 8).
    b.poke(Fd::kMem64k, kRxDesc, split_desc(kGpa + kRxBuffers, 64, 3, 9));
    b.rx(59, vb::step_frame());
    add("chain-loop", b, "a descriptor chaining to itself on tx, a next index past the table on rx",
        [](const vb::Outcome& o) { return o.ran; });
  }
  {
    Handshake h;
    h.features |= feature_mask(Feature::kIndirectDesc);
    InputBuilder b = good(h);
    // tx: an indirect table of two descriptors (header, frame) at 0x9000.
    std::vector<uint8_t> t = split_desc(kGpa + kTxBuffer, kNetHdr, vnet::spec::kDescFlagNext, 1);
    const auto t1 = split_desc(kGpa + kTxBuffer + kNetHdr, 60, 0, 0);
    t.insert(t.end(), t1.begin(), t1.end());
    b.poke(Fd::kMem64k, 0x9000, t);
    b.poke(Fd::kMem64k, kTxDesc + 16,
           split_desc(kGpa + 0x9000, 32, vnet::spec::kDescFlagIndirect, 0));
    // and one whose table lies past the region's end.
    b.poke(Fd::kMem64k, kTxDesc + 32,
           split_desc(kGpa + kRegionSize - 16, 32, vnet::spec::kDescFlagIndirect, 0));
    b.poke(Fd::kMem64k, kTxAvail, avail({0, 1, 2}, 3));
    b.kick(3);
    b.tx();
    add("chain-indirect", b, "an indirect tx table, and one straddling the region's end",
        [](const vb::Outcome& o) { return o.ran && o.tx_frames >= 1; });
  }
  {
    Handshake h;
    InputBuilder b = good(h);
    // Buffers outside the memory: rx at a guest-physical address no region
    // has, tx with a length that runs off the region.
    b.poke(Fd::kMem64k, kRxDesc,
           split_desc(0xDEAD0000, kRxBufferSize, vnet::spec::kDescFlagWrite, 0));
    b.poke(Fd::kMem64k, kTxDesc + 16, split_desc(kGpa + kRegionSize - 8, 0x1000, 0, 0));
    b.poke(Fd::kMem64k, kTxAvail, avail({0, 1}, 2));
    b.kick(3);
    b.rx(59, vb::step_frame());
    add("chain-outside-memory", b, "buffers outside every region or running off one",
        [](const vb::Outcome& o) { return o.ran; });
  }

  // ---- the byte stream ----
  {
    InputBuilder b(0);
    b.msg(Request::kGetFeatures);
    const MessageHeader hdr{uint32_t(Request::kGetFeatures), kVersion, 0};
    const auto bytes = InputBuilder::pod(hdr);
    b.raw(std::span(bytes).first(7));
    add("frame-truncated-header", b, "7 of 12 header bytes, then end-of-file: a framing error",
        [](const vb::Outcome& o) {
          return o.messages == 1 && o.error.find("middle of a message header") != std::string::npos;
        });
  }
  {
    InputBuilder b(0);
    b.msg(uint32_t(Request::kSetFeatures), InputBuilder::pod(kVersion1), {}, kVersion, 0xFF,
          0x10000);
    add("frame-oversize-payload", b, "SET_FEATURES announcing 64 KiB: a framing error",
        [](const vb::Outcome& o) {
          return o.error.find("announces a payload") != std::string::npos;
        });
  }
  {
    InputBuilder b(0);
    b.msg(Request::kGetFeatures, {}, {}, 2);
    add("frame-version-2", b, "version bits 2: a framing error",
        [](const vb::Outcome& o) { return o.error.find("version 1") != std::string::npos; });
  }
  {
    InputBuilder b(0);
    b.msg(Request::kSetOwner, {}, {Fd::kEventfd}, 0);
    add("frame-version-0-with-fd", b, "version bits 0 with an fd: a framing error, fd closed",
        [](const vb::Outcome& o) { return o.error.find("version 1") != std::string::npos; });
  }
  {
    InputBuilder b(0);
    b.msg(Request::kGetFeatures);
    b.msg(Request::kSetOwner, {}, {}, kVersion | kFlagReply);
    add("frame-reply-flag", b, "a request with the REPLY flag: a framing error",
        [](const vb::Outcome& o) {
          return o.messages == 1 && o.error.find("REPLY flag") != std::string::npos;
        });
  }
  {
    InputBuilder b(0);
    b.msg(Request::kSetFeatures, std::vector<uint8_t>(4, 0));
    add("frame-payload-size", b, "SET_FEATURES with 4 bytes: it takes 8",
        [](const vb::Outcome& o) { return o.error.find("it takes 8") != std::string::npos; });
  }
  {
    InputBuilder b(0);
    // The announced size is 8 short: the payload's tail is read as the
    // next header.
    b.msg(uint32_t(Request::kSetFeatures), std::vector<uint8_t>(16, 0), {}, kVersion, 0x87);
    add("frame-size-short", b, "a size below the payload: its tail becomes the next header",
        [](const vb::Outcome& o) { return !o.error.empty(); });
  }
  {
    InputBuilder b(0);
    // Two messages in one chunk, then a header split over three chunks
    // with an fd on the middle one, then SET_MEM_TABLE's header and its
    // payload in separate chunks, the memfd on the payload (dropped by
    // the kernel: the payload is read without a control buffer).
    std::vector<uint8_t> two = InputBuilder::pod(MessageHeader{1, kVersion, 0});
    const auto own = InputBuilder::pod(MessageHeader{3, kVersion, 0});
    two.insert(two.end(), own.begin(), own.end());
    b.raw(two);
    const auto gf = InputBuilder::pod(MessageHeader{15, kVersion, 0});
    b.raw(std::span(gf).first(3));
    b.raw(std::span(gf).subspan(3, 5), {Fd::kEventfd});
    b.raw(std::span(gf).subspan(8));
    std::vector<uint8_t> table(8 + sizeof(MemoryRegion), 0);
    table[0] = 1;
    const MemoryRegion r = region(kGpa, 0x1000, kUaddr);
    memcpy(table.data() + 8, &r, sizeof r);
    b.raw(InputBuilder::pod(MessageHeader{5, kVersion, uint32_t(table.size())}));
    b.raw(table, {Fd::kMem4k});
    add("frame-split-chunks", b,
        "two messages in one chunk, a header in three, an fd on a payload byte",
        [](const vb::Outcome& o) {
          return o.messages == 4 && o.refused("GET_PROTOCOL_FEATURES: came with 1") &&
                 o.refused("0 file descriptors");
        });
  }

  // ---- file descriptors ----
  {
    InputBuilder b(0);
    b.msg(Request::kSetOwner, {}, {Fd::kEventfd, Fd::kMem64k});
    b.msg(Request::kGetFeatures, {}, {Fd::kPipeRead});
    b.state(Request::kSetVringNum, 0, 8);
    b.msg(Request::kSetVringBase, InputBuilder::pod(VringState{0, 0}), {Fd::kPipeWrite});
    b.u64_msg(Request::kSetLogFd, 0, {Fd::kMem4k});
    b.u64_msg(Request::kSetBackendReqFd, 0, {Fd::kEventfd});
    add("fd-on-requests-without-fds", b,
        "fds with SET_OWNER, GET_FEATURES, SET_VRING_BASE, SET_LOG_FD, SET_BACKEND_REQ_FD: "
        "closed",
        [](const vb::Outcome& o) {
          return o.refused("SET_OWNER: came with 2") && o.refused("GET_FEATURES: came with 1") &&
                 o.error.empty();
        });
  }
  {
    InputBuilder b(0);
    b.u64_msg(Request::kSetProtocolFeatures, protocol::kReplyAck);
    b.u64_msg(Request::kSetVringKick, 0 | kVringNoFd, {Fd::kEventfd}, kVersion | kFlagNeedReply);
    b.u64_msg(Request::kSetVringCall, 1, {Fd::kEventfd, Fd::kEventfd});
    b.u64_msg(Request::kSetVringErr, 0, {});
    b.u64_msg(Request::kSetVringCall, 0 | kVringNoFd, {});
    add("fd-kick-nofd-with-fd", b,
        "NOFD with an fd, two fds for a call, none without NOFD: refused, fds closed",
        [](const vb::Outcome& o) {
          return o.refused("1 file descriptors with NOFD") && o.refused("2 file descriptors") &&
                 o.refused("0 file descriptors (one expected)") && o.reply_bytes >= 20;
        });
  }
  {
    InputBuilder b(0);
    b.mem_table({region(kGpa, 0x1000, kUaddr)},
                {Fd::kEventfd, Fd::kEventfd, Fd::kEventfd, Fd::kEventfd, Fd::kEventfd, Fd::kEventfd,
                 Fd::kEventfd, Fd::kEventfd, Fd::kEventfd, Fd::kEventfd, Fd::kEventfd, Fd::kEventfd,
                 Fd::kEventfd, Fd::kEventfd, Fd::kEventfd, Fd::kEventfd, Fd::kMem4k});
    add("fd-too-many", b, "17 fds on one message: truncated (MSG_CTRUNC), a framing error",
        [](const vb::Outcome& o) {
          return o.error.find("more file descriptors") != std::string::npos;
        });
  }
  {
    Handshake h;
    InputBuilder b(0);
    negotiate(b, h);
    ring_contents(b, h);
    for (uint32_t q = 0; q < 2; ++q) {
      b.state(Request::kSetVringNum, q, kRingSize);
      b.state(Request::kSetVringBase, q, 0);
      b.addr(q, kUaddr + (q ? kTxDesc : kRxDesc), kUaddr + (q ? kTxAvail : kRxAvail),
             kUaddr + (q ? kTxUsed : kRxUsed));
      // call: the write end of a pipe nobody reads; err: a memfd; kick: a
      // pipe's read end (q 0) or a memfd, which always polls readable (q 1).
      b.u64_msg(Request::kSetVringCall, q, {Fd::kPipeWrite});
      b.u64_msg(Request::kSetVringErr, q, {Fd::kMem4k});
      b.u64_msg(Request::kSetVringKick, q, {q == 0 ? Fd::kPipeRead : Fd::kMem4k});
      b.state(Request::kSetVringEnable, q, 1);
    }
    b.kick(0);  // the rx kick pipe
    b.rx(59, vb::step_frame());
    b.tx();
    add("fd-odd-kinds", b, "pipes and memfds as call, err and kick fds: the rings run",
        [](const vb::Outcome& o) { return o.ran && o.calls >= 1; });
  }

  // ---- configuration, unknown requests, state changes ----
  {
    InputBuilder b(0);
    b.u64_msg(Request::kSetProtocolFeatures, protocol::kReplyAck | protocol::kConfig);
    std::vector<uint8_t> c = InputBuilder::pod(ConfigHeader{200, 100, 0});
    c.resize(c.size() + 100, 0);
    b.msg(Request::kGetConfig, c);
    c = InputBuilder::pod(ConfigHeader{0xFFFFFF00u, 0, 0});
    b.msg(Request::kGetConfig, c);
    c = InputBuilder::pod(ConfigHeader{0, 256, 0});
    c.resize(c.size() + 256, 0xAA);
    b.msg(Request::kGetConfig, c);
    b.msg(Request::kSetConfig, c, {}, kVersion | kFlagNeedReply);
    add("cfg-past-256", b,
        "GET_CONFIG 200+100 and at offset 0xFFFFFF00 refused (empty reply); 0+256 read; "
        "SET_CONFIG refused",
        [](const vb::Outcome& o) {
          return o.refused("offset 200 size 100") && o.refused("refused the write") &&
                 o.error.empty();
        });
  }
  {
    InputBuilder b(0);
    b.msg(Request::kGetConfig, InputBuilder::pod(ConfigHeader{0, 0, 0}));
    add("cfg-not-negotiated", b, "GET_CONFIG without the CONFIG protocol feature: refused",
        [](const vb::Outcome& o) { return o.refused("CONFIG protocol feature not negotiated"); });
  }
  {
    InputBuilder b(0);
    b.u64_msg(Request::kSetProtocolFeatures, protocol::kReplyAck);
    b.msg(99, {}, {}, kVersion | kFlagNeedReply);
    b.msg(0xFF, {}, {}, kVersion | kFlagNeedReply);
    b.msg(0x12345678, {}, {Fd::kEventfd}, kVersion | kFlagNeedReply);
    b.u64_msg(Request::kSetProtocolFeatures, protocol::kMq);
    b.u64_msg(Request::kSetFeatures, ~uint64_t{0}, {}, kVersion | kFlagNeedReply);
    add("req-unknown-need-reply", b,
        "unknown requests 99, 255, 0x12345678 with NEED_REPLY: a nonzero ack each, "
        "the session goes on",
        [](const vb::Outcome& o) {
          return o.refused("request 99: not a request") && o.refusals.size() == 5 &&
                 o.reply_bytes >= 4 * 20 && o.error.empty();
        });
  }
  {
    Handshake h;
    InputBuilder b = good(h);
    b.kick(3);
    b.msg(Request::kResetOwner);
    b.kick(1);
    b.kick(3);
    b.rx(59, vb::step_frame());
    b.state(Request::kSetVringBase, 0, 0);
    b.state(Request::kSetVringBase, 1, 0);
    b.u64_msg(Request::kSetVringKick, 0, {Fd::kEventfd});
    b.u64_msg(Request::kSetVringKick, 1, {Fd::kEventfd});
    b.tx();
    add("state-reset-owner", b, "RESET_OWNER under running rings, then the rings again",
        [](const vb::Outcome& o) { return o.ran && o.ring_starts >= 2; });
  }
  {
    Handshake h;
    InputBuilder b = good(h);
    b.kick(3);
    b.u64_msg(Request::kSetFeatures,
              kVersion1 | kFeatureProtocolFeatures | feature_mask(Feature::kNetMrgRxbuf));
    b.kick(1);
    b.kick(3);
    b.rx(59, vb::step_frame());
    b.tx();
    b.state(Request::kGetVringBase, 0, 0);
    b.state(Request::kGetVringBase, 1, 0);
    add("state-set-features-while-running", b,
        "SET_FEATURES again under running rings: the device starts over",
        [](const vb::Outcome& o) { return o.ran && o.error.empty(); });
  }
  return out;
}

void write(const fs::path& path, const std::vector<uint8_t>& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  if (!out) {
    std::cerr << "vnet-vhost-backend-seeds: cannot write " << path << "\n";
    exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string root;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--root" && i + 1 < argc) root = argv[++i];
    if (std::string(argv[i]) == "--verbose") verbose = true;
  }
  if (root.empty()) {
    std::cerr << "usage: vnet-vhost-backend-seeds --root <project root> [--verbose]\n";
    return 2;
  }
  const std::vector<Seed> all = seeds();
  bool ok = true;
  for (const Seed& s : all) {
    const vb::Outcome o = vb::run(s.input.data(), s.input.size(), /*allow_shrink=*/true);
    const bool met = s.expect(o);
    if (!met || verbose)
      std::cerr << (met ? "ok   " : "FAIL ") << s.name << " (" << s.input.size()
                << " bytes): " << s.expectation << "\n    " << describe(o) << "\n";
    ok = ok && met;
  }
  if (!ok) {
    std::cerr << "vnet-vhost-backend-seeds: seeds that do not do what they are named for; "
                 "nothing written\n";
    return 1;
  }
  static const char* const kPrefixes[] = {"good-", "mem-", "ring-", "chain-", "frame-",
                                          "fd-",   "cfg-", "req-",  "state-"};
  const fs::path dir = fs::path(root) / "corpus/fuzz/fuzz_vhost_backend";
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    for (const char* p : kPrefixes)
      if (n.rfind(p, 0) == 0) {
        fs::remove(e.path());
        break;
      }
  }
  for (const Seed& s : all) write(dir / s.name, s.input);
  std::cout << all.size() << " seeds -> fuzz_vhost_backend\n";
  return 0;
}
