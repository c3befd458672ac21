// A deliberately naive "driver" for the mock device's own tests: it programs
// the registers directly and lays out rings by hand, so each test can do the
// right thing or exactly the wrong thing it wants the device to notice.
#pragma once

#include <stdint.h>

#include <cstring>
#include <vector>

#include "driver/spec/mmio_layout.h"
#include "driver/spec/net_layout.h"
#include "driver/spec/packed_ring_layout.h"
#include "driver/spec/pci_layout.h"
#include "driver/spec/split_ring_layout.h"
#include "driver/spec/virtio_constants.h"
#include "mock_device/guest_memory.h"
#include "mock_device/mock_device.h"

namespace vnet::mock::testing {

namespace st = spec::status;
namespace pc = spec::pci::common;
namespace lg = spec::pci::legacy;
namespace mm = spec::mmio;

inline uint64_t fmask(spec::Feature f) {
  return spec::feature_mask(f);
}

// One split ring in guest memory, driven from the test.
struct TestRing {
  uint16_t size = 0;
  uint8_t* desc = nullptr;
  uint8_t* avail = nullptr;
  uint8_t* used = nullptr;
  uint64_t desc_addr = 0, avail_addr = 0, used_addr = 0;
  uint16_t avail_idx = 0;

  void set_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
    uint8_t* d = desc + 16 * size_t(i);
    std::memcpy(d, &addr, 8);
    std::memcpy(d + 8, &len, 4);
    std::memcpy(d + 12, &flags, 2);
    std::memcpy(d + 14, &next, 2);
  }
  void offer(uint16_t head) {
    std::memcpy(avail + 4 + 2 * size_t(avail_idx % size), &head, 2);
    ++avail_idx;
    std::memcpy(avail + 2, &avail_idx, 2);
  }
  void set_avail_idx(uint16_t idx) {
    avail_idx = idx;
    std::memcpy(avail + 2, &avail_idx, 2);
  }
  void set_avail_flags(uint16_t flags) { std::memcpy(avail, &flags, 2); }
  uint16_t used_idx() const {
    uint16_t v;
    std::memcpy(&v, used + 2, 2);
    return v;
  }
  uint32_t used_id(uint16_t slot) const {
    uint32_t v;
    std::memcpy(&v, used + 4 + 8 * size_t(slot % size), 4);
    return v;
  }
  uint32_t used_len(uint16_t slot) const {
    uint32_t v;
    std::memcpy(&v, used + 8 + 8 * size_t(slot % size), 4);
    return v;
  }
};

// One packed ring (2.8) in guest memory, driven from the test: the
// descriptor ring and both event suppression structures. offer() writes a
// chain the right way (AVAIL/USED from the driver's wrap counter, the id in
// every descriptor, the head's flags last); put() writes anything at all.
struct TestPackedRing {
  struct Seg {
    uint64_t addr = 0;
    uint32_t len = 0;
    bool write = false;
  };
  uint16_t size = 0;
  uint8_t* desc = nullptr;
  uint8_t* driver_event = nullptr;
  uint8_t* device_event = nullptr;
  uint64_t desc_addr = 0, driver_addr = 0, device_addr = 0;
  uint16_t next = 0;  // the driver's next avail position
  bool wrap = true;   // the driver's avail wrap counter
  uint16_t last_used = 0;
  bool used_wrap = true;

  static uint16_t avail_bits(bool w) {
    return w ? spec::kPackedDescFlagAvail : spec::kPackedDescFlagUsed;
  }
  void put(uint16_t pos, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags) {
    uint8_t* d = desc + 16 * size_t(pos);
    std::memcpy(d, &addr, 8);
    std::memcpy(d + 8, &len, 4);
    std::memcpy(d + 12, &id, 2);
    std::memcpy(d + 14, &flags, 2);
  }
  uint16_t flags_at(uint16_t pos) const {
    uint16_t v;
    std::memcpy(&v, desc + 16 * size_t(pos) + 14, 2);
    return v;
  }
  uint16_t id_at(uint16_t pos) const {
    uint16_t v;
    std::memcpy(&v, desc + 16 * size_t(pos) + 12, 2);
    return v;
  }
  uint32_t len_at(uint16_t pos) const {
    uint32_t v;
    std::memcpy(&v, desc + 16 * size_t(pos) + 8, 4);
    return v;
  }
  // A chain at the driver's next position; extra_head: flags added to the
  // head (INDIRECT, ...). Returns the head position.
  uint16_t offer(const std::vector<Seg>& segs, uint16_t id, uint16_t extra_head = 0) {
    const uint16_t head = next;
    const bool head_wrap = wrap;
    uint16_t head_flags = 0;
    for (size_t i = 0; i < segs.size(); ++i) {
      uint16_t f = uint16_t(avail_bits(wrap) | (segs[i].write ? spec::kDescFlagWrite : 0) |
                            (i + 1 < segs.size() ? spec::kDescFlagNext : 0));
      if (i == 0) {
        // The head stays unavailable (the previous lap's pattern) until
        // the rest of the chain is written.
        head_flags = uint16_t(f | extra_head);
        put(next, segs[i].addr, segs[i].len, id, avail_bits(!head_wrap));
      } else {
        put(next, segs[i].addr, segs[i].len, id, f);
      }
      if (++next == size) {
        next = 0;
        wrap = !wrap;
      }
    }
    std::memcpy(desc + 16 * size_t(head) + 14, &head_flags, 2);
    return head;
  }
  // The used descriptor at the driver's last_used, if there is one:
  // returns true with its id and len, and moves on by ndescs.
  bool take_used(uint16_t ndescs, uint16_t* id, uint32_t* len) {
    const uint16_t f = flags_at(last_used);
    const bool a = f & spec::kPackedDescFlagAvail, u = f & spec::kPackedDescFlagUsed;
    if (a != used_wrap || u != used_wrap) return false;
    *id = id_at(last_used);
    *len = len_at(last_used);
    last_used = uint16_t(last_used + ndescs);
    if (last_used >= size) {
      last_used = uint16_t(last_used - size);
      used_wrap = !used_wrap;
    }
    return true;
  }
  void set_driver_event(uint16_t flags, uint16_t off_wrap = 0) {
    std::memcpy(driver_event, &off_wrap, 2);
    std::memcpy(driver_event + 2, &flags, 2);
  }
  uint16_t device_event_flags() const {
    uint16_t v;
    std::memcpy(&v, device_event + 2, 2);
    return v;
  }
  uint16_t device_event_off_wrap() const {
    uint16_t v;
    std::memcpy(&v, device_event, 2);
    return v;
  }
};

class TestDriver {
 public:
  TestDriver(GuestMemory& mem, MockDevice& dev) : mem_(mem), dev_(dev) {}

  // Modern common configuration access (BAR4 offset 0).
  uint32_t cr(uint32_t off, uint8_t w) { return dev_.bar_read(4, off, w); }
  void cw(uint32_t off, uint8_t w, uint32_t v) { dev_.bar_write(4, off, w, v); }
  // Legacy I/O BAR0.
  uint32_t lr(uint32_t off, uint8_t w) { return dev_.bar_read(0, off, w); }
  void lw(uint32_t off, uint8_t w, uint32_t v) { dev_.bar_write(0, off, w, v); }

  uint8_t status() { return uint8_t(cr(pc::kDeviceStatus, 1)); }
  void set_status(uint8_t s) { cw(pc::kDeviceStatus, 1, s); }

  uint64_t device_features() {
    cw(pc::kDeviceFeatureSelect, 4, 0);
    uint64_t lo = cr(pc::kDeviceFeature, 4);
    cw(pc::kDeviceFeatureSelect, 4, 1);
    return lo | (uint64_t(cr(pc::kDeviceFeature, 4)) << 32);
  }
  void write_features(uint64_t f) {
    cw(pc::kDriverFeatureSelect, 4, 0);
    cw(pc::kDriverFeature, 4, uint32_t(f));
    cw(pc::kDriverFeatureSelect, 4, 1);
    cw(pc::kDriverFeature, 4, uint32_t(f >> 32));
  }

  TestRing alloc_ring(uint16_t size) {
    TestRing r;
    r.size = size;
    GuestMemory::Allocation d, a, u;
    mem_.allocate(spec::desc_bytes(size), 16, &d);
    mem_.allocate(spec::avail_bytes(size), 2, &a);
    mem_.allocate(spec::used_bytes(size), 4, &u);
    r.desc = d.host, r.avail = a.host, r.used = u.host;
    r.desc_addr = d.device_addr, r.avail_addr = a.device_addr, r.used_addr = u.device_addr;
    return r;
  }

  void setup_modern_queue(uint16_t q, TestRing& r) {
    cw(pc::kQueueSelect, 2, q);
    cw(pc::kQueueSize, 2, r.size);
    cw(pc::kQueueDescLo, 4, uint32_t(r.desc_addr));
    cw(pc::kQueueDescHi, 4, uint32_t(r.desc_addr >> 32));
    cw(pc::kQueueDriverLo, 4, uint32_t(r.avail_addr));
    cw(pc::kQueueDriverHi, 4, uint32_t(r.avail_addr >> 32));
    cw(pc::kQueueDeviceLo, 4, uint32_t(r.used_addr));
    cw(pc::kQueueDeviceHi, 4, uint32_t(r.used_addr >> 32));
    cw(pc::kQueueEnable, 2, 1);
  }

  // The full modern sequence of 3.1.1. Returns false when FEATURES_OK did not stick.
  bool init_modern(uint64_t features, uint16_t size = 16) {
    set_status(0);
    set_status(st::kAcknowledge);
    set_status(st::kAcknowledge | st::kDriver);
    write_features(features);
    set_status(st::kAcknowledge | st::kDriver | st::kFeaturesOk);
    if (!(status() & st::kFeaturesOk)) return false;
    rx = alloc_ring(size);
    tx = alloc_ring(size);
    setup_modern_queue(0, rx);
    setup_modern_queue(1, tx);
    set_status(st::kAcknowledge | st::kDriver | st::kFeaturesOk | st::kDriverOk);
    return true;
  }

  TestPackedRing alloc_packed_ring(uint16_t size) {
    TestPackedRing r;
    r.size = size;
    GuestMemory::Allocation d, e1, e2;
    mem_.allocate(spec::packed_desc_bytes(size), 16, &d);
    mem_.allocate(4, 4, &e1);
    mem_.allocate(4, 4, &e2);
    r.desc = d.host, r.driver_event = e1.host, r.device_event = e2.host;
    r.desc_addr = d.device_addr, r.driver_addr = e1.device_addr, r.device_addr = e2.device_addr;
    return r;
  }
  void setup_modern_packed_queue(uint16_t q, TestPackedRing& r) {
    cw(pc::kQueueSelect, 2, q);
    cw(pc::kQueueSize, 2, r.size);
    cw(pc::kQueueDescLo, 4, uint32_t(r.desc_addr));
    cw(pc::kQueueDescHi, 4, uint32_t(r.desc_addr >> 32));
    cw(pc::kQueueDriverLo, 4, uint32_t(r.driver_addr));
    cw(pc::kQueueDriverHi, 4, uint32_t(r.driver_addr >> 32));
    cw(pc::kQueueDeviceLo, 4, uint32_t(r.device_addr));
    cw(pc::kQueueDeviceHi, 4, uint32_t(r.device_addr >> 32));
    cw(pc::kQueueEnable, 2, 1);
  }
  // The modern sequence with packed rings (features must hold RING_PACKED).
  bool init_modern_packed(uint64_t features, uint16_t size = 16) {
    set_status(0);
    set_status(st::kAcknowledge);
    set_status(st::kAcknowledge | st::kDriver);
    write_features(features);
    set_status(st::kAcknowledge | st::kDriver | st::kFeaturesOk);
    if (!(status() & st::kFeaturesOk)) return false;
    prx = alloc_packed_ring(size);
    ptx = alloc_packed_ring(size);
    setup_modern_packed_queue(0, prx);
    setup_modern_packed_queue(1, ptx);
    set_status(st::kAcknowledge | st::kDriver | st::kFeaturesOk | st::kDriverOk);
    return true;
  }
  // One frame on the packed tx ring: a 12-byte zero header and the frame
  // in one descriptor with buffer id. Returns the buffer.
  GuestMemory::Allocation send_packed(const std::vector<uint8_t>& frame, uint16_t id) {
    auto b = buffer(12 + frame.size());
    std::memset(b.host, 0, 12);
    std::memcpy(b.host + 12, frame.data(), frame.size());
    ptx.offer({{b.device_addr, uint32_t(12 + frame.size()), false}}, id);
    return b;
  }

  TestRing legacy_ring(uint16_t q) {
    lw(lg::kQueueSelect, 2, q);
    const uint16_t size = uint16_t(lr(lg::kQueueSize, 2));
    GuestMemory::Allocation a;
    mem_.allocate(spec::legacy_ring_bytes(size), 4096, &a);
    TestRing r;
    r.size = size;
    r.desc = a.host;
    r.avail = a.host + spec::desc_bytes(size);
    r.used = a.host + spec::legacy_used_offset(size);
    r.desc_addr = a.device_addr;
    lw(lg::kQueueAddress, 4, uint32_t(a.device_addr >> 12));
    return r;
  }

  void init_legacy(uint32_t features) {
    lw(lg::kDeviceStatus, 1, 0);
    lw(lg::kDeviceStatus, 1, st::kAcknowledge);
    lw(lg::kDeviceStatus, 1, st::kAcknowledge | st::kDriver);
    lw(lg::kDriverFeatures, 4, features);
    rx = legacy_ring(0);
    tx = legacy_ring(1);
    lw(lg::kDeviceStatus, 1, st::kAcknowledge | st::kDriver | st::kDriverOk);
  }

  // ---- virtio-mmio (Region::kMmio), 32-bit registers ----
  uint32_t mr(uint32_t off, uint8_t w = 4) { return dev_.mmio_read(off, w); }
  void mw(uint32_t off, uint32_t v, uint8_t w = 4) { dev_.mmio_write(off, w, v); }
  // 4.2.3.1.1: MagicValue, Version, DeviceID.
  void mmio_identity() {
    (void)mr(mm::kMagicValue);
    (void)mr(mm::kVersion);
    (void)mr(mm::kDeviceId);
  }
  void mmio_status(uint8_t s) { mw(mm::kStatus, s); }
  void mmio_write_features(uint64_t f, bool v1) {
    mw(mm::kDriverFeaturesSel, 0);
    mw(mm::kDriverFeatures, uint32_t(f));
    if (v1) return;
    mw(mm::kDriverFeaturesSel, 1);
    mw(mm::kDriverFeatures, uint32_t(f >> 32));
  }
  void setup_mmio_queue_v2(uint16_t q, TestRing& r) {
    mw(mm::kQueueSel, q);
    mw(mm::kQueueNum, r.size);
    mw(mm::kQueueDescLow, uint32_t(r.desc_addr));
    mw(mm::kQueueDescHigh, uint32_t(r.desc_addr >> 32));
    mw(mm::kQueueDriverLow, uint32_t(r.avail_addr));
    mw(mm::kQueueDriverHigh, uint32_t(r.avail_addr >> 32));
    mw(mm::kQueueDeviceLow, uint32_t(r.used_addr));
    mw(mm::kQueueDeviceHigh, uint32_t(r.used_addr >> 32));
    mw(mm::kQueueReady, 1);
  }
  TestRing mmio_v1_ring(uint16_t q, uint16_t size, bool page_size = true) {
    GuestMemory::Allocation a;
    mem_.allocate(spec::legacy_ring_bytes(size), 4096, &a);
    TestRing r;
    r.size = size;
    r.desc = a.host;
    r.avail = a.host + spec::desc_bytes(size);
    r.used = a.host + spec::legacy_used_offset(size);
    r.desc_addr = a.device_addr;
    mw(mm::kQueueSel, q);
    mw(mm::kQueueNum, size);
    if (page_size) mw(mm::kGuestPageSize, 4096);
    mw(mm::kQueueAlign, 4096);
    mw(mm::kQueuePfn, uint32_t(a.device_addr >> 12));
    return r;
  }
  // The whole sequence on either version, up to DRIVER_OK.
  void init_mmio(uint64_t features, bool v1, uint16_t size = 16) {
    mmio_identity();
    mmio_status(0);
    mmio_status(st::kAcknowledge);
    mmio_status(st::kAcknowledge | st::kDriver);
    mw(mm::kDeviceFeaturesSel, 0);
    (void)mr(mm::kDeviceFeatures);
    mmio_write_features(features, v1);
    uint8_t s = st::kAcknowledge | st::kDriver;
    if (!v1) {
      s |= st::kFeaturesOk;
      mmio_status(s);
      rx = alloc_ring(size);
      tx = alloc_ring(size);
      setup_mmio_queue_v2(0, rx);
      setup_mmio_queue_v2(1, tx);
    } else {
      rx = mmio_v1_ring(0, size);
      tx = mmio_v1_ring(1, size);
    }
    mmio_status(s | st::kDriverOk);
  }

  // A buffer in guest memory.
  GuestMemory::Allocation buffer(size_t len) {
    GuestMemory::Allocation a;
    mem_.allocate(len, 16, &a);
    return a;
  }

  void notify_modern(uint16_t q) { dev_.bar_write(4, MockDevice::kNotifyOffset + q * 4, 2, q); }

  // Sends one frame on tx with the header (hdr_len bytes) in front, in one
  // descriptor at index d. Returns the buffer.
  GuestMemory::Allocation send(const std::vector<uint8_t>& frame, uint32_t hdr_len, uint16_t d = 0,
                               const uint8_t* hdr = nullptr) {
    auto b = buffer(hdr_len + frame.size());
    if (hdr) std::memcpy(b.host, hdr, hdr_len);
    std::memcpy(b.host + hdr_len, frame.data(), frame.size());
    tx.set_desc(d, b.device_addr, uint32_t(hdr_len + frame.size()), 0, 0);
    tx.offer(d);
    return b;
  }

  // ---- the control queue (5.1.6.5) ----
  // The modern sequence with `pairs` queue pairs set up (receiveq k = 2k,
  // transmitq k = 2k + 1; rx and tx are pair 0's) and the control queue at
  // ctrl_index (-1: 2 * pairs). Returns false when FEATURES_OK did not stick.
  bool init_modern_ctrl(uint64_t features, uint16_t pairs = 1, int32_t ctrl_index = -1,
                        uint16_t size = 16) {
    set_status(0);
    set_status(st::kAcknowledge);
    set_status(st::kAcknowledge | st::kDriver);
    write_features(features);
    set_status(st::kAcknowledge | st::kDriver | st::kFeaturesOk);
    if (!(status() & st::kFeaturesOk)) return false;
    pair_rings.clear();
    for (uint16_t q = 0; q < 2 * pairs; ++q) {
      pair_rings.push_back(alloc_ring(size));
      setup_modern_queue(q, pair_rings.back());
    }
    rx = pair_rings[0];
    tx = pair_rings[1];
    ctrl_q = uint16_t(ctrl_index < 0 ? 2 * pairs : ctrl_index);
    ctrl = alloc_ring(size);
    setup_modern_queue(ctrl_q, ctrl);
    set_status(st::kAcknowledge | st::kDriver | st::kFeaturesOk | st::kDriverOk);
    return true;
  }
  // How a command is split over descriptors: header, data and ack each in
  // their own (kParts), header and data in one then the ack (kMerged), or
  // every readable byte in a descriptor of its own (kBytes).
  enum class CtrlLayout : uint8_t { kParts, kMerged, kBytes };
  struct CtrlPosted {
    uint16_t head = 0;
    uint8_t* ack = nullptr;
  };
  // Makes a command available on the split control ring (not notified);
  // the ack byte is preset to 0xEE, ack_len writable bytes in all
  // (0: no writable descriptor). writable_first: the ack before the data.
  CtrlPosted ctrl_post(uint8_t cls, uint8_t cmd, const std::vector<uint8_t>& data,
                       CtrlLayout layout = CtrlLayout::kParts, uint32_t ack_len = 1,
                       bool writable_first = false) {
    std::vector<uint8_t> bytes = {cls, cmd};
    bytes.insert(bytes.end(), data.begin(), data.end());
    struct Part {
      uint64_t addr;
      uint32_t len;
      bool write;
    };
    std::vector<Part> parts;
    auto readable = [&](size_t from, size_t n) {
      if (n == 0) return;
      auto b = buffer(n);
      std::memcpy(b.host, bytes.data() + from, n);
      parts.push_back({b.device_addr, uint32_t(n), false});
    };
    switch (layout) {
      case CtrlLayout::kParts:
        readable(0, 2);
        readable(2, data.size());
        break;
      case CtrlLayout::kMerged:
        readable(0, bytes.size());
        break;
      case CtrlLayout::kBytes:
        for (size_t i = 0; i < bytes.size(); ++i) readable(i, 1);
        break;
    }
    CtrlPosted out;
    if (ack_len > 0) {
      auto a = buffer(ack_len);
      std::memset(a.host, 0xEE, ack_len);
      out.ack = a.host;
      Part ack{a.device_addr, ack_len, true};
      if (writable_first)
        parts.insert(parts.begin(), ack);
      else
        parts.push_back(ack);
    }
    out.head = ctrl_desc;
    for (size_t i = 0; i < parts.size(); ++i) {
      const uint16_t d = uint16_t((ctrl_desc + i) % ctrl.size);
      const uint16_t next = uint16_t((d + 1) % ctrl.size);
      ctrl.set_desc(d, parts[i].addr, parts[i].len,
                    uint16_t((parts[i].write ? spec::kDescFlagWrite : 0) |
                             (i + 1 < parts.size() ? spec::kDescFlagNext : 0)),
                    i + 1 < parts.size() ? next : 0);
    }
    ctrl_desc = uint16_t((ctrl_desc + parts.size()) % ctrl.size);
    ctrl.offer(out.head);
    return out;
  }
  // Posts a command, notifies the control queue and returns the ack byte
  // the device wrote (0xEE: none).
  uint8_t ctrl_cmd(uint8_t cls, uint8_t cmd, const std::vector<uint8_t>& data,
                   CtrlLayout layout = CtrlLayout::kParts) {
    const CtrlPosted p = ctrl_post(cls, cmd, data, layout);
    notify_modern(ctrl_q);
    return *p.ack;
  }

  TestRing rx, tx;
  TestPackedRing prx, ptx;
  std::vector<TestRing> pair_rings;
  TestRing ctrl;
  uint16_t ctrl_q = 2;
  uint16_t ctrl_desc = 0;

 private:
  GuestMemory& mem_;
  MockDevice& dev_;
};

inline std::vector<uint8_t> test_frame(size_t n, uint8_t seed = 0) {
  std::vector<uint8_t> f(n);
  for (size_t i = 0; i < n; ++i) f[i] = uint8_t(i * 7 + seed);
  return f;
}

}  // namespace vnet::mock::testing
