#include "replay/record/trace_events.h"

namespace vnet::trace {

void write_header(TraceWriter& w, const TraceHeader& h) {
  w.begin_line();
  w.str("format", kFormatName);
  w.u64("version", w.format_version());
  w.str("driver_version", h.driver_version);
  if (h.transport != nullptr) w.str("transport", h.transport);
  if (h.has_device && h.is_mmio) {
    w.begin_object("device");
    w.str("kind", h.device_kind);
    w.u64("mmio_version", h.mmio_version);
    w.u64("device_id", h.mmio_device_id);
    w.u64("vendor_id", h.mmio_vendor_id);
    w.u64("window", h.mmio_window);
    w.end_object();
  } else if (h.has_device) {
    w.begin_object("device");
    w.str("kind", h.device_kind);
    w.u64("vendor", h.vendor);
    w.u64("device", h.device);
    w.u64("subsystem", h.subsystem);
    w.u64("revision", h.revision);
    w.end_object();
  }
  if (h.has_features) {
    w.begin_object("features");
    w.hex64("offered", h.offered);
    w.hex64("negotiated", h.negotiated);
    w.end_object();
  }
  if (h.num_queues != 0) {
    w.begin_array("queue_sizes");
    for (uint16_t i = 0; i < h.num_queues && i < 2 * kMaxQueuePairs + 1; ++i)
      w.elem_u64(h.queue_sizes[i]);
    w.end_array();
  }
  w.begin_object("pool");
  w.u64("buffer_size", h.pool_buffer_size);
  w.u64("buffers", h.pool_buffers);
  w.end_object();
  w.begin_object("recorded");
  w.str("where", h.recorded_where);
  w.str("when", h.recorded_when);
  w.str("by", h.recorded_by);
  if (h.scenario != nullptr) w.str("scenario", h.scenario);
  w.end_object();
  w.end_line();
}

void write_reg_read(TraceWriter& w, Region region, uint32_t offset, uint8_t width, uint32_t value) {
  w.reg_event(false, region_name(region), offset, width, value);
}

void write_reg_write(TraceWriter& w, Region region, uint32_t offset, uint8_t width, uint32_t value,
                     const AddrRef* addr) {
  if (addr == nullptr) {
    w.reg_event(true, region_name(region), offset, width, value);
    return;
  }
  w.begin("reg_write");
  w.str("region", region_name(region));
  w.u64("off", offset);
  w.u64("w", width);
  {
    w.begin_object("val");
    w.u64("dma", addr->dma_id);
    w.u64("off", addr->offset);
    w.str("as", addr_form_name(addr->form));
    w.end_object();
  }
  w.end();
}

void write_bar_info(TraceWriter& w, uint8_t bar, const BarInfo& info) {
  w.begin("bar_info");
  w.u64("bar", bar);
  w.boolean("present", info.present);
  w.boolean("io", info.is_io);
  w.u64("size", info.size);
  w.end();
}

void write_dma_alloc(TraceWriter& w, size_t size, size_t align, bool ok, uint32_t id) {
  w.begin("dma_alloc");
  w.u64("size", size);
  w.u64("align", align);
  w.boolean("ok", ok);
  if (ok) w.u64("id", id);
  w.end();
}

void write_dma_free(TraceWriter& w, uint32_t id) {
  w.begin("dma_free");
  if (id == kUnknownId)
    w.null("id");
  else
    w.u64("id", id);
  w.end();
}

void write_fetch(TraceWriter& w, const DeviceMemRef& what, const void* data, size_t len) {
  w.begin("fetch");
  w.u64("q", what.queue);
  w.str("part", mem_part_name(what.part));
  w.u64("idx", what.index);
  if (what.recheck) w.boolean("recheck", true);
  w.hex("data", data, len);
  w.end();
}

void write_frame(TraceWriter& w, uint16_t queue, uint16_t desc, const void* data, uint32_t len) {
  w.begin("frame");
  w.u64("q", queue);
  w.u64("desc", desc);
  w.hex("data", data, len);
  w.end();
}

void write_publish(TraceWriter& w, const PublishedChain& chain, const AddrRef* table) {
  w.begin("publish");
  w.u64("q", chain.queue);
  w.u64("avail", chain.avail_idx);
  w.u64("head", chain.head);
  w.begin_array("segs");
  // Every segment: a direct chain has at most kMaxChainSegments, an
  // indirect one up to kMaxPublishedSegments (its table entries).
  const uint16_t n =
      chain.num_segments < kMaxPublishedSegments ? chain.num_segments : kMaxPublishedSegments;
  for (uint16_t i = 0; i < n; ++i) {
    const ChainSegment& s = chain.segments[i];
    w.begin_object();
    w.u64("desc", s.desc);
    w.u64("len", s.len);
    w.boolean("wr", s.device_writable);
    // Device-readable bytes are what the driver transmits; writable ones
    // are the device's to fill and carry nothing yet.
    if (!s.device_writable) w.hex("data", s.data, s.data != nullptr ? s.len : 0);
    w.end_object();
  }
  w.end_array();
  // Indirect chains only (issue 14): a direct chain's line is what it
  // always was. The table is named like a register's address value: the
  // DMA region it lies in and the offset there.
  if (chain.indirect) {
    w.boolean("indirect", true);
    if (table == nullptr) {
      w.null("table");
    } else {
      w.begin_object("table");
      w.u64("dma", table->dma_id);
      w.u64("off", table->offset);
      w.end_object();
    }
  }
  w.end();
}

void write_complete(TraceWriter& w, uint16_t queue, uint16_t head, uint32_t len) {
  w.begin("complete");
  w.u64("q", queue);
  w.u64("head", head);
  w.u64("len", len);
  w.end();
}

void write_barrier(TraceWriter& w, Barrier kind) {
  w.begin("barrier");
  w.str("kind", barrier_name(kind));
  w.end();
}

void write_wait_irq(TraceWriter& w, uint64_t timeout_ns, bool arrived) {
  w.begin("wait_irq");
  w.u64("timeout", timeout_ns);
  w.boolean("ret", arrived);
  w.end();
}

void write_now(TraceWriter& w, uint64_t value) {
  w.begin("now");
  w.u64("val", value);
  w.end();
}

void write_log(TraceWriter& w, LogLevel level, const char* message) {
  w.begin("log");
  w.str("level", log_level_name(level));
  w.str("msg", message);
  w.end();
}

void write_op(TraceWriter& w, bool begin, DriverOp op) {
  w.begin(begin ? "op_begin" : "op_end");
  w.str("op", driver_op_name(op));
  w.end();
}

void write_pool_alloc(TraceWriter& w, bool ok, uint32_t buf) {
  w.begin("pool_alloc");
  w.boolean("ok", ok);
  if (ok && buf == kUnknownId)
    w.null("buf");
  else if (ok)
    w.u64("buf", buf);
  w.end();
}

void write_pool_free(TraceWriter& w, uint32_t buf) {
  w.begin("pool_free");
  if (buf == kUnknownId)
    w.null("buf");
  else
    w.u64("buf", buf);
  w.end();
}

void write_msi_messages(TraceWriter& w, uint16_t max, uint16_t n, const MsiMessage* msgs) {
  w.begin("msi_messages");
  w.u64("max", max);
  w.begin_array("msgs");
  for (uint16_t i = 0; i < n; ++i) {
    w.begin_object();
    w.hex64("addr", msgs[i].address);
    w.u64("data", msgs[i].data);
    w.end_object();
  }
  w.end_array();
  w.end();
}

void write_line_interrupt(TraceWriter& w, bool present) {
  w.begin("line_interrupt");
  w.boolean("ret", present);
  w.end();
}

void write_arm_interrupts(TraceWriter& w, InterruptMode mode, uint16_t vectors) {
  w.begin("arm_interrupts");
  w.str("mode", interrupt_mode_name(mode));
  w.u64("vectors", vectors);
  w.end();
}

void write_offload_fields(TraceWriter& w, const PacketOffload& o) {
  if (o.csum != CsumState::kNone) w.str("csum", csum_state_name(o.csum));
  if (o.csum_start != 0) w.u64("csum_start", o.csum_start);
  if (o.csum_offset != 0) w.u64("csum_offset", o.csum_offset);
  if (o.gso != GsoKind::kNone) w.str("gso", gso_kind_name(o.gso));
  if (o.gso_size != 0) w.u64("gso_size", o.gso_size);
  if (o.hdr_len != 0) w.u64("hdr_len", o.hdr_len);
  if (o.ecn) w.boolean("ecn", true);
}

bool delivered_needs_writing(const ApiResult& r) {
  if (r.fn != ApiFn::kRxBurst || r.delivered == nullptr) return false;
  for (uint32_t i = 0; i < r.value; ++i) {
    const PacketBuffer* b = r.delivered[i];
    if (b != nullptr && (b->next != nullptr || !offload_is_none(b->offload))) return true;
  }
  return false;
}

void write_call(TraceWriter& w, const ApiCall& c) {
  w.begin("call");
  w.str("fn", api_fn_name(c.fn));
  switch (c.fn) {
    case ApiFn::kProbe:
      w.str("mode", pci_mode_name(c.mode));
      break;
    case ApiFn::kProbeMmio:
      // The window as the driver was told it, without its address (traces
      // are address-independent): its size and line.
      w.u64("size", c.window.size);
      if (c.window.irq >= 0) w.u64("irq", static_cast<uint64_t>(c.window.irq));
      break;
    case ApiFn::kAttach: {
      const NetOptions& o = c.options;
      w.begin_object("options");
      w.u64("rx_ring_cap", o.rx_ring_cap);
      w.u64("tx_ring_cap", o.tx_ring_cap);
      w.hex64("feature_mask", o.feature_mask);
      w.hex("fallback_mac", o.fallback_mac, 6);
      w.u64("fallback_mtu", o.fallback_mtu);
      w.u64("max_frame", o.max_frame);
      w.u64("reset_timeout_ns", o.reset_timeout_ns);
      w.u64("tx_timeout_ns", o.tx_timeout_ns);
      w.boolean("accept_access_platform", o.accept_access_platform);
      w.boolean("accept_order_platform", o.accept_order_platform);
      // The packed ring (issue 14) only when accepted: a run that keeps
      // split rings writes the line it always did (readers take the
      // absence as false, the driver's default).
      if (o.accept_ring_packed) w.boolean("accept_ring_packed", true);
      // Indirect descriptors (issue 14), likewise only when accepted.
      if (o.accept_indirect_desc) w.boolean("accept_indirect_desc", true);
      // Interrupt options only when interrupts are asked for: a polling
      // run's line is what it was before interrupts existed (readers take
      // their absence as polling).
      if (o.interrupts != InterruptMode::kPolling) {
        w.str("interrupts", interrupt_mode_name(o.interrupts));
        w.u64("irq_storm_limit", o.irq_storm_limit);
        w.u64("irq_storm_window_ns", o.irq_storm_window_ns);
      }
      // The control plane (issue 15) only when accepted, multiqueue, RSS
      // and hash reports only when asked for: a run without them writes
      // the line it always did (readers take their absence as the
      // driver's defaults: no control queue, one pair).
      if (o.accept_ctrl_vq) {
        w.boolean("accept_ctrl_vq", true);
        w.u64("ctrl_timeout_ns", o.ctrl_timeout_ns);
      }
      if (o.max_queue_pairs != 1) w.u64("max_queue_pairs", o.max_queue_pairs);
      if (o.accept_rss) w.boolean("accept_rss", true);
      if (o.accept_hash_report) w.boolean("accept_hash_report", true);
      // Offloads and receive chains (issue 16), likewise only when asked
      // for (max_frame, above, may now exceed 65535).
      if (o.rx_chains) w.boolean("rx_chains", true);
      if (o.accept_tx_csum) w.boolean("accept_tx_csum", true);
      if (o.accept_tso) w.boolean("accept_tso", true);
      if (o.accept_rx_csum) w.boolean("accept_rx_csum", true);
      if (o.accept_rx_gso) w.boolean("accept_rx_gso", true);
      w.end_object();
      break;
    }
    case ApiFn::kRxBurst:
      w.u64("max", c.max);
      if (c.pair != 0) w.u64("pair", c.pair);
      break;
    case ApiFn::kTxBurst: {
      if (c.pair != 0) w.u64("pair", c.pair);
      w.begin_array("frames");
      bool fragmented = false, offloaded = false;
      for (uint16_t i = 0; i < c.num_frames; ++i) {
        w.hex(nullptr, c.frames[i].data, c.frames[i].len);
        fragmented = fragmented || c.frames[i].fragmented();
        offloaded = offloaded || (c.offloads != nullptr && !offload_is_none(c.offloads[i]));
      }
      w.end_array();
      // Scatter-gather (issue 14) only when a frame of the burst is a
      // fragment chain: one array per frame, its fragments' lengths ([]
      // for a frame of one buffer). Bursts of single buffers are written
      // as they always were.
      if (fragmented) {
        w.begin_array("frags");
        for (uint16_t i = 0; i < c.num_frames; ++i) {
          w.begin_array();
          if (c.frames[i].fragmented())
            for (uint16_t k = 0; k < c.frames[i].num_frags; ++k)
              w.elem_u64(c.frames[i].frag_lens[k]);
          w.end_array();
        }
        w.end_array();
      }
      // Offload requests (issue 16) only when a frame of the burst makes
      // one: one object per frame, {} for a frame without.
      if (offloaded) {
        w.begin_array("offload");
        for (uint16_t i = 0; i < c.num_frames; ++i) {
          w.begin_object();
          write_offload_fields(w, c.offloads[i]);
          w.end_object();
        }
        w.end_array();
      }
      break;
    }
    case ApiFn::kSetRxInterrupts:
    case ApiFn::kSetTxInterrupts:
      w.boolean("enabled", c.enabled);
      if (c.pair != 0) w.u64("pair", c.pair);
      break;
    case ApiFn::kSetRxMode:
      w.str("mode", rx_mode_name(c.rx_mode));
      w.boolean("on", c.enabled);
      break;
    case ApiFn::kSetMacFilter:
      w.begin_array("uc");
      for (uint16_t i = 0; i < c.n_unicast && c.unicast != nullptr; ++i)
        w.hex(nullptr, c.unicast[i].b, 6);
      w.end_array();
      w.begin_array("mc");
      for (uint16_t i = 0; i < c.n_multicast && c.multicast != nullptr; ++i)
        w.hex(nullptr, c.multicast[i].b, 6);
      w.end_array();
      break;
    case ApiFn::kSetMacAddress:
      w.hex("mac", c.mac, 6);
      break;
    case ApiFn::kAddVlan:
    case ApiFn::kRemoveVlan:
      w.u64("vid", c.vid);
      break;
    case ApiFn::kSetQueuePairs:
      w.u64("pairs", c.pairs);
      break;
    case ApiFn::kSetRss:
      if (c.rss != nullptr) {
        const RssSettings& r = *c.rss;
        w.u64("hash_types", r.hash_types);
        w.begin_array("table");
        for (uint16_t i = 0; i < r.table_len && i < kMaxRssTable; ++i) w.elem_u64(r.table[i]);
        w.end_array();
        w.u64("unclassified_pair", r.unclassified_pair);
        w.hex("key", r.key, r.key_len <= sizeof(r.key) ? r.key_len : sizeof(r.key));
      }
      break;
    case ApiFn::kSetGuestOffloads:
      w.hex64("offloads", c.guest_offloads);
      break;
    case ApiFn::kHandleInterrupt:
      if (c.irq.kind == IrqSource::Kind::kVector) {
        w.str("src", "vector");
        w.u64("vector", c.irq.vector);
      } else {
        w.str("src", "line");
      }
      break;
    case ApiFn::kTxReclaim:
      if (c.pair != 0) w.u64("pair", c.pair);
      break;
    case ApiFn::kPollDevice:
    case ApiFn::kRecover:
    case ApiFn::kStop:
      break;
  }
  w.end();
}

void write_ret(TraceWriter& w, const ApiResult& r) {
  w.begin("ret");
  w.str("fn", api_fn_name(r.fn));
  w.u64("val", r.value);
  w.str("state", trace::net_state_name(r.state));
  switch (r.fn) {
    case ApiFn::kProbe:
    case ApiFn::kProbeMmio:
      if (r.transport != nullptr)
        w.str("transport", r.transport);
      else
        w.null("transport");
      break;
    case ApiFn::kAttach:
    case ApiFn::kRecover:
      w.hex64("features", r.features);
      w.u64("hdr", r.hdr_size);
      w.u64("mtu", r.mtu);
      w.hex("mac", r.mac, 6);
      w.boolean("link", r.link_up);
      break;
    case ApiFn::kPollDevice:
      w.begin_object("events");
      w.boolean("config_changed", r.events.config_changed);
      w.boolean("link_changed", r.events.link_changed);
      w.boolean("reset_detected", r.events.reset_detected);
      w.boolean("tx_timeout", r.events.tx_timeout);
      w.boolean("reset_deferred", r.events.reset_deferred);
      w.boolean("recovered", r.events.recovered);
      // GUEST_ANNOUNCE (issue 15) only when it happened: every other
      // poll's line is what it always was.
      if (r.events.announce) w.boolean("announce", true);
      w.end_object();
      w.boolean("link", r.link_up);
      break;
    case ApiFn::kHandleInterrupt:
      w.boolean("rx", r.work.rx);
      w.boolean("tx", r.work.tx);
      w.boolean("control", r.work.control);
      break;
    case ApiFn::kRxBurst:
      // Receive chains and offload results (issue 16): every delivered
      // frame, its buffers' lengths and its offload fields -- only when one
      // is a chain or has a result, so a run without them writes the line
      // it always did (a reader takes the absence as single buffers
      // without offload results).
      if (delivered_needs_writing(r)) {
        w.begin_array("delivered");
        for (uint32_t i = 0; i < r.value; ++i) {
          const PacketBuffer* b = r.delivered[i];
          w.begin_object();
          w.begin_array("bufs");
          for (const PacketBuffer* x = b; x != nullptr; x = x->next) w.elem_u64(x->len);
          w.end_array();
          if (b != nullptr) write_offload_fields(w, b->offload);
          w.end_object();
        }
        w.end_array();
      }
      break;
    case ApiFn::kTxBurst:
    case ApiFn::kTxReclaim:
    case ApiFn::kStop:
    case ApiFn::kSetRxInterrupts:
    case ApiFn::kSetTxInterrupts:
      break;
    case ApiFn::kSetRxMode:
    case ApiFn::kSetMacFilter:
    case ApiFn::kSetMacAddress:
    case ApiFn::kAddVlan:
    case ApiFn::kRemoveVlan:
    case ApiFn::kSetQueuePairs:
    case ApiFn::kSetRss:
    case ApiFn::kSetGuestOffloads:
      // "val" is the CtrlResult; its name beside it for the reader.
      w.str("result", ctrl_result_trace_name(static_cast<CtrlResult>(r.value)));
      break;
  }
  w.end();
}

void write_end(TraceWriter& w) {
  const uint64_t n = w.events();
  w.begin("end");
  w.u64("events", n);
  w.end();
}

}  // namespace vnet::trace
