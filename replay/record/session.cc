#include "replay/record/session.h"

namespace vnet::trace {

ApiResult Session::result(ApiFn fn, uint32_t value) const {
  ApiResult r;
  r.fn = fn;
  r.value = value;
  r.state = net_.state();
  r.link_up = net_.link_up();
  return r;
}

void Session::negotiated(ApiResult* r) const {
  r->features = net_.negotiated_features();
  r->hdr_size = net_.net_header_size();
  r->mtu = net_.mtu();
  __builtin_memcpy(r->mac, net_.mac(), 6);
}

ProbeError Session::probe(PciMode mode) {
  ApiCall c;
  c.fn = ApiFn::kProbe;
  c.mode = mode;
  call(c);
  probe_ = transports_.probe(platform_, mode);
  probed_mmio_ = false;
  ApiResult r = result(ApiFn::kProbe, static_cast<uint32_t>(probe_.error));
  r.transport = probe_.transport != nullptr ? probe_.transport->name() : nullptr;
  ret(r);
  return probe_.error;
}

MmioProbeError Session::probe_mmio(const MmioWindow& window) {
  ApiCall c;
  c.fn = ApiFn::kProbeMmio;
  c.window = window;
  call(c);
  mmio_probe_ = mmio_.probe(platform_, window);
  probed_mmio_ = true;
  probe_ = ProbeResult{};
  switch (mmio_probe_.error) {
    case MmioProbeError::kOk:
      probe_.error = ProbeError::kOk;
      break;
    case MmioProbeError::kNoDevice:
    case MmioProbeError::kNotNet:
      probe_.error = ProbeError::kNotNet;
      break;
    default:
      probe_.error = ProbeError::kNotVirtio;
      break;
  }
  probe_.transport = mmio_probe_.transport;
  ApiResult r = result(ApiFn::kProbeMmio, static_cast<uint32_t>(mmio_probe_.error));
  r.transport = probe_.transport != nullptr ? probe_.transport->name() : nullptr;
  ret(r);
  return mmio_probe_.error;
}

AttachError Session::attach(const NetOptions& options) {
  ApiCall c;
  c.fn = ApiFn::kAttach;
  c.options = options;
  call(c);
  AttachError e = AttachError::kBadOptions;
  if (probe_.transport != nullptr) e = net_.attach(platform_, *probe_.transport, pool_, options);
  ApiResult r = result(ApiFn::kAttach, static_cast<uint32_t>(e));
  negotiated(&r);
  ret(r);
  return e;
}

namespace {
// Every buffer of the chain at b (tx fragments, an rx chain) back to the
// pool, next cleared first (packet_buffer.h: a caller that frees a chained
// buffer clears it).
void free_chain(BufferPool& pool, PacketBuffer* b) {
  while (b != nullptr) {
    PacketBuffer* next = b->next;
    b->next = nullptr;
    pool.free(b);
    b = next;
  }
}
}  // namespace

uint16_t Session::rx(uint16_t pair, uint16_t max, FrameVisitor frame, BufferVisitor buffers,
                     void* context) {
  if (max > kMaxBurst) max = kMaxBurst;
  ApiCall c;
  c.fn = ApiFn::kRxBurst;
  c.max = max;
  c.pair = pair;
  call(c);
  const uint16_t n = net_.rx_burst(pair, bufs_, max);
  // The delivered frames go with the result: the tap records (or checks)
  // their buffers and offload results.
  ApiResult r = result(ApiFn::kRxBurst, n);
  r.delivered = bufs_;
  ret(r);
  for (uint16_t i = 0; i < n; ++i) {
    if (frame != nullptr) frame(context, bufs_[i]->data(), bufs_[i]->len);
    if (buffers != nullptr) buffers(context, *bufs_[i]);
    if (packet_visit_ != nullptr) packet_visit_(packet_context_, *bufs_[i]);
    free_chain(pool_, bufs_[i]);  // a receive chain (rx_chains): every buffer
  }
  return n;
}

uint16_t Session::rx_burst_on(uint16_t pair, uint16_t max, FrameVisitor visit, void* context) {
  return rx(pair, max, visit, nullptr, context);
}

uint16_t Session::rx_burst_buffers_on(uint16_t pair, uint16_t max, BufferVisitor visit,
                                      void* context) {
  return rx(pair, max, nullptr, visit, context);
}

uint16_t Session::tx_burst_on(uint16_t pair, const TxFrame* frames, uint16_t n) {
  return tx_burst_offload_on(pair, frames, nullptr, n);
}

uint16_t Session::tx_burst_offload_on(uint16_t pair, const TxFrame* frames,
                                      const PacketOffload* offloads, uint16_t n) {
  if (n > kMaxBurst) n = kMaxBurst;
  ApiCall c;
  c.fn = ApiFn::kTxBurst;
  c.pair = pair;
  c.frames = frames;
  c.num_frames = n;
  c.offloads = offloads;
  call(c);
  uint16_t k = 0;
  for (; k < n; ++k) {
    const TxFrame& f = frames[k];
    // One buffer, or (scatter-gather) one per fragment: the first at
    // kTxHeadroom (room for the header), the others from offset 0.
    const uint16_t parts = f.fragmented() ? f.num_frags : 1;
    PacketBuffer* first = nullptr;
    PacketBuffer* last = nullptr;
    uint32_t at = 0;
    bool ok = true;
    for (uint16_t i = 0; i < parts; ++i) {
      PacketBuffer* b = pool_.alloc();
      if (b == nullptr) {
        ok = false;
        break;
      }
      const uint32_t head = i == 0 ? kTxHeadroom : 0;
      uint32_t want = parts == 1 ? f.len : f.frag_lens[i];
      if (at > f.len) want = 0;
      if (want > f.len - at) want = f.len - at;
      // A fragment that does not fit is cut to its buffer: the driver
      // then sees (and judges) exactly what the caller gave it.
      uint32_t len = want;
      const uint32_t room = b->capacity > head ? b->capacity - head : 0;
      if (len > room) len = room;
      __builtin_memcpy(b->base + head, f.data + at, len);
      at += want;
      b->offset = head;
      b->len = len;
      b->next = nullptr;
      b->offload = i == 0 && offloads != nullptr ? offloads[k] : PacketOffload{};
      if (last != nullptr)
        last->next = b;
      else
        first = b;
      last = b;
    }
    if (!ok) {
      free_chain(pool_, first);  // a frame with a buffer missing is not offered
      break;
    }
    bufs_[k] = first;
  }
  const uint16_t taken = k != 0 ? net_.tx_burst(pair, bufs_, k) : 0;
  ret(result(ApiFn::kTxBurst, taken));
  for (uint16_t i = taken; i < k; ++i) free_chain(pool_, bufs_[i]);
  return taken;
}

uint16_t Session::tx_reclaim_on(uint16_t pair) {
  ApiCall c;
  c.fn = ApiFn::kTxReclaim;
  c.pair = pair;
  call(c);
  const uint16_t n = net_.tx_reclaim(pair);
  ret(result(ApiFn::kTxReclaim, n));
  return n;
}

DeviceEvents Session::poll_device() {
  ApiCall c;
  c.fn = ApiFn::kPollDevice;
  call(c);
  const DeviceEvents ev = net_.poll_device();
  ApiResult r = result(ApiFn::kPollDevice, 0);
  r.events = ev;
  ret(r);
  return ev;
}

bool Session::recover() {
  ApiCall c;
  c.fn = ApiFn::kRecover;
  call(c);
  const bool ok = net_.recover();
  ApiResult r = result(ApiFn::kRecover, ok ? 1 : 0);
  negotiated(&r);
  ret(r);
  return ok;
}

void Session::stop() {
  ApiCall c;
  c.fn = ApiFn::kStop;
  call(c);
  net_.stop();
  ret(result(ApiFn::kStop, 0));
}

bool Session::set_rx_interrupts(uint16_t pair, bool enabled) {
  ApiCall c;
  c.fn = ApiFn::kSetRxInterrupts;
  c.enabled = enabled;
  c.pair = pair;
  call(c);
  const bool pending = net_.set_rx_interrupts(pair, enabled);
  ret(result(ApiFn::kSetRxInterrupts, pending ? 1 : 0));
  return pending;
}

bool Session::set_tx_interrupts(uint16_t pair, bool enabled) {
  ApiCall c;
  c.fn = ApiFn::kSetTxInterrupts;
  c.enabled = enabled;
  c.pair = pair;
  call(c);
  const bool pending = net_.set_tx_interrupts(pair, enabled);
  ret(result(ApiFn::kSetTxInterrupts, pending ? 1 : 0));
  return pending;
}

CtrlResult Session::control(const ApiCall& c, CtrlResult (*run)(VirtioNet& net, const ApiCall& c)) {
  call(c);
  const CtrlResult res = run(net_, c);
  ret(result(c.fn, static_cast<uint32_t>(res)));
  return res;
}

CtrlResult Session::set_rx_mode(RxMode mode, bool on) {
  ApiCall c;
  c.fn = ApiFn::kSetRxMode;
  c.rx_mode = mode;
  c.enabled = on;
  return control(
      c, [](VirtioNet& n, const ApiCall& a) { return n.set_rx_mode(a.rx_mode, a.enabled); });
}

CtrlResult Session::set_mac_filter(const MacAddr* unicast, uint16_t n_unicast,
                                   const MacAddr* multicast, uint16_t n_multicast) {
  ApiCall c;
  c.fn = ApiFn::kSetMacFilter;
  c.unicast = unicast;
  c.n_unicast = unicast != nullptr ? n_unicast : 0;
  c.multicast = multicast;
  c.n_multicast = multicast != nullptr ? n_multicast : 0;
  return control(c, [](VirtioNet& n, const ApiCall& a) {
    return n.set_mac_filter(a.unicast, a.n_unicast, a.multicast, a.n_multicast);
  });
}

CtrlResult Session::set_mac_address(const uint8_t mac[6]) {
  ApiCall c;
  c.fn = ApiFn::kSetMacAddress;
  __builtin_memcpy(c.mac, mac, 6);
  return control(c, [](VirtioNet& n, const ApiCall& a) { return n.set_mac_address(a.mac); });
}

CtrlResult Session::add_vlan(uint16_t vid) {
  ApiCall c;
  c.fn = ApiFn::kAddVlan;
  c.vid = vid;
  return control(c, [](VirtioNet& n, const ApiCall& a) { return n.add_vlan(a.vid); });
}

CtrlResult Session::remove_vlan(uint16_t vid) {
  ApiCall c;
  c.fn = ApiFn::kRemoveVlan;
  c.vid = vid;
  return control(c, [](VirtioNet& n, const ApiCall& a) { return n.remove_vlan(a.vid); });
}

CtrlResult Session::set_queue_pairs(uint16_t pairs) {
  ApiCall c;
  c.fn = ApiFn::kSetQueuePairs;
  c.pairs = pairs;
  return control(c, [](VirtioNet& n, const ApiCall& a) { return n.set_queue_pairs(a.pairs); });
}

CtrlResult Session::set_rss(const RssSettings& rss) {
  ApiCall c;
  c.fn = ApiFn::kSetRss;
  c.rss = &rss;
  return control(c, [](VirtioNet& n, const ApiCall& a) { return n.set_rss(*a.rss); });
}

CtrlResult Session::set_guest_offloads(uint64_t offloads) {
  ApiCall c;
  c.fn = ApiFn::kSetGuestOffloads;
  c.guest_offloads = offloads;
  return control(
      c, [](VirtioNet& n, const ApiCall& a) { return n.set_guest_offloads(a.guest_offloads); });
}

IrqWork Session::handle_interrupt(IrqSource source) {
  ApiCall c;
  c.fn = ApiFn::kHandleInterrupt;
  c.irq = source;
  call(c);
  const IrqWork work = net_.handle_interrupt(source);
  ApiResult r = result(ApiFn::kHandleInterrupt, irq_work_bits(work));
  r.work = work;
  ret(r);
  return work;
}

}  // namespace vnet::trace
