// Counters of the virtio-net driver: one per outcome and cause, named
// <direction>_<outcome>_<cause> (STYLE.md). A lying device shows up here,
// never as a crash. The X-macro keeps the struct, the names and any printer
// in one list.
#pragma once

#include <stdint.h>

namespace vnet {

#define VNET_NET_COUNTERS(X)                                                                   \
  X(rx_packets)                                                                                \
  X(rx_bytes)                                                                                  \
  X(tx_packets)                                                                                \
  X(tx_bytes)                                                                                  \
  X(tx_completed)                                                                              \
  X(rx_drop_len_over)        /* used.len above the posted capacity */                          \
  X(rx_drop_len_short)       /* used.len below header + Ethernet header */                     \
  X(rx_drop_len_mtu)         /* frame above mtu + Ethernet header + one VLAN tag */            \
  X(rx_drop_map_failed)      /* no DMA mapping for a buffer (bounce area full) */              \
  X(rx_drop_hdr_gso)         /* GSO type (or ECN) not negotiated or enabled, or undefined */   \
  X(rx_drop_hdr_flags)       /* header flags we did not negotiate */                           \
  X(rx_drop_num_buffers)     /* MRG_RXBUF: num_buffers 0, above the posted, no rx_chains */    \
  X(rx_refill_pool_empty)    /* the caller's pool had no buffer for the ring */                \
  X(rx_drop_buffer_small)    /* a pool buffer too small for header + max frame */              \
  X(tx_drop_len)             /* frame shorter than 14 or longer than MTU + 14 */               \
  X(tx_drop_headroom)        /* offset below the header size / beyond capacity */              \
  X(tx_ring_full)            /* tx_burst stopped on a full ring */                             \
  X(tx_bad_used_len)         /* device reported writing into a read-only tx chain */           \
  X(tx_map_failed)           /* no DMA mapping for a frame (bounce area full): not taken */    \
  X(tx_sg_packets)           /* frames of more than one fragment published */                  \
  X(tx_indirect_chains)      /* chains published through an indirect table (INDIRECT_DESC) */  \
  X(tx_drop_sg_fragments)    /* a fragment chain longer than kMaxTxFragments */                \
  X(tx_drop_sg_bounds)       /* a fragment of length 0 or beyond its buffer's capacity */      \
  X(tx_drop_sg_segments)     /* more segments than one chain takes (no INDIRECT_DESC: the */   \
                             /* direct limit; with it: the table or the queue size) */         \
  X(tx_watchdog_timeouts)    /* tx chains in flight, no used entry for tx_timeout_ns */        \
  X(queue_broken_used_idx)   /* used.idx moved beyond what is outstanding */                   \
  X(queue_broken_used_id)    /* used.id out of range */                                        \
  X(queue_broken_used_stale) /* used.id not an in-flight head (or completed twice) */          \
  X(queue_broken_used_early) /* used.idx moved before any buffer was made available */         \
  X(queue_broken_used_flags) /* packed: used AVAIL/USED bits in a pattern nobody writes */     \
  X(queue_broken_used_wrap)  /* packed: used descriptor with a stale wrap counter */           \
  X(queue_broken_used_order) /* IN_ORDER split: used id ends no batch used.idx covers */       \
  X(queue_broken_used_unpub) /* IN_ORDER: a batch reaching a chain never published */          \
  X(rx_implied_completions)  /* IN_ORDER: rx buffers completed by a later entry */             \
  X(tx_implied_completions)  /* IN_ORDER: tx chains completed by a later entry */              \
  X(config_invalid_mac)      /* F_MAC offered with a multicast or zero MAC */                  \
  X(config_invalid_mtu)      /* F_MTU offered with mtu < 68 */                                 \
  X(config_invalid_status)   /* status with bits the spec does not define */                   \
  X(config_unstable)         /* generation kept changing; retries exhausted */                 \
  X(config_changes)          /* config-change interrupts seen */                               \
  X(link_changes)                                                                              \
  X(queue_size_capped)  /* device offered more than the driver's cap */                        \
  X(device_needs_reset) /* device signalled NEEDS_RESET or lost our status */                  \
  X(recoveries)         /* successful reset + re-initialisation */                             \
  X(reset_timeouts)     /* device never read back status 0 after a reset */                    \
  X(interrupts)         /* poll_device saw interrupt status (ISR, or a config interrupt) */    \
  X(rx_kicks)           /* receive queue notifications sent */                                 \
  X(tx_kicks)           /* transmit queue notifications sent */                                \
  /* Interrupt context (handle_interrupt): */                                                  \
  X(irq_vector)   /* MSI-X vectors taken */                                                    \
  X(irq_line)     /* INTx interrupts that were ours (ISR != 0, read to acknowledge) */         \
  X(irq_not_ours) /* INTx with ISR 0: another function on a shared line; nothing taken */      \
  X(irq_stray)    /* a source not set up now (unknown vector, line without INTx, ...) */       \
  X(irq_early)    /* an interrupt while the device was not running (before DRIVER_OK) */       \
  X(irq_storms)   /* more than irq_storm_limit in irq_storm_window_ns: now polling */          \
  /* Attach: */                                                                                \
  X(irq_msix_fallbacks) /* MSI-X asked for and not used (see interrupts().msix_fallback) */    \
  /* Control plane (control context): */                                                       \
  X(ctrl_commands)            /* control commands sent */                                      \
  X(ctrl_rejected)            /* answered VIRTIO_NET_ERR */                                    \
  X(ctrl_timeouts)            /* no completion within ctrl_timeout_ns: device reset */         \
  X(ctrl_bad_len)             /* completion with used.len != 1 (the ack byte): device reset */ \
  X(ctrl_bad_ack)             /* ack neither OK nor ERR (or never written): device reset */    \
  X(ctrl_queue_unusable)      /* CTRL_VQ negotiated, control queue absent or too small */      \
  X(config_invalid_max_pairs) /* MQ/RSS offered with max_virtqueue_pairs outside 1..0x8000 */  \
  X(config_invalid_rss)       /* RSS/HASH_REPORT offered with limits the spec forbids */       \
  X(announces)                /* GUEST_ANNOUNCE requests acknowledged */                       \
  X(rx_hash_report_invalid)   /* HASH_REPORT: a report type above 9 (delivered unhashed) */    \
  /* Offloads and multi-buffer frames (offload.h): */                                          \
  X(rx_chain_packets)        /* frames of several buffers delivered as a chain */              \
  X(rx_gso_packets)          /* coalesced (GSO) frames delivered */                            \
  X(rx_csum_partial)         /* frames delivered with a checksum still to complete */          \
  X(rx_csum_verified)        /* frames delivered with the checksum verified (DATA_VALID) */    \
  X(rx_drop_chain_len)       /* a further buffer's used.len 0 / above it / frame > 64 KiB */   \
  X(rx_drop_csum_bounds)     /* NEEDS_CSUM: csum_start + csum_offset + 2 beyond the frame */   \
  X(rx_drop_hdr_len)         /* hdr_len beyond the frame */                                    \
  X(rx_drop_gso_no_csum)     /* a GSO frame without NEEDS_CSUM */                              \
  X(rx_drop_gso_size)        /* gso_size 0, a segment beyond the MTU, or no payload */         \
  X(rx_drop_gso_proto)       /* not the protocol gso_type claims, or csum_* not its L4 */      \
  X(tx_csum_offloaded)       /* frames sent with the checksum left to the device */            \
  X(tx_gso_packets)          /* frames sent for the device to segment */                       \
  X(tx_drop_offload_feature) /* an offload asked for that was not negotiated */                \
  X(tx_drop_offload_csum)    /* csum_start + csum_offset + 2 beyond the frame */               \
  X(tx_drop_offload_gso)     /* a GSO request the frame cannot honour (offload.h) */

struct NetCounters {
#define VNET_DECLARE_COUNTER(name) uint64_t name = 0;
  VNET_NET_COUNTERS(VNET_DECLARE_COUNTER)
#undef VNET_DECLARE_COUNTER

  // Calls f(name, value) for every counter, in declaration order.
  template <typename F>
  void for_each(F&& f) const {
#define VNET_VISIT_COUNTER(name) f(#name, name);
    VNET_NET_COUNTERS(VNET_VISIT_COUNTER)
#undef VNET_VISIT_COUNTER
  }
};

}  // namespace vnet
