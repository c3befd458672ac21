// A minimal TCP echo server (RFC 9293 subset): passive open on port 7, a
// fixed table of connections, every byte received in order sent back.
//
// Why TCP at all: QEMU user networking with restrict=on (libslirp 4.7)
// drops every UDP datagram the guest sends, host-forward replies included,
// but a host-forwarded TCP connection has a slirp socket, so its segments
// pass the restricted check both ways. TCP is how the guest's replies
// reach the host under the project's network rule.
//
// Connection states (passive open only; the guest never closes first):
//
//            SYN (table slot free)           SYN, table full: RST, refused
//   free ------------------------> SYN-RECEIVED  -- send SYN-ACK (MSS = MTU - 40)
//     ^                               | ACK of our SYN
//     |                               v
//     |  RST (seq exact)          ESTABLISHED  <-- data: copy to the send
//     |  retries exhausted:           |            ring, ACK, echo it back
//     |  RST sent, aborted            | FIN from the peer
//     |                               v
//     |                          CLOSE-WAIT    -- send what is left, then FIN
//     |                               | FIN sent
//     |     ACK of our FIN            v
//     +--------------------------- LAST-ACK
//
// Sequence space of one connection (our side):
//
//   iss    ring_seq           snd_una       snd_nxt       ring_seq+ring_len
//    |SYN|  acked  |.........| in flight   | not yet sent |FIN (once the
//                   ^ ring holds ring_seq .. ring_seq+ring_len   peer closed)
//
// The send ring is the echo buffer: received bytes are copied in and stay
// until the peer acknowledges their echo. The receive window we advertise
// is the free space of the ring's window (set_window(): kDefaultWindow,
// 8 KiB, unless the caller raises it, up to 65535 -- there is no window
// scaling), so a well-behaved peer never sends more than fits; data beyond
// it is cut off (counted) and the peer resends it.
//
// Input rules (all untrusted; the responder has already checked the IPv4
// header, the TCP length, data offset and checksum):
//   - options are walked with bounds; a bad option length is malformed;
//     SYN+FIN, SYN+RST and port 0 are malformed
//   - a segment that does not start at or before rcv_nxt, or lies entirely
//     before it (out of order, duplicate, out of window), is answered with
//     an ACK carrying rcv_nxt and dropped; an overlapping retransmission
//     is trimmed to its new bytes
//   - RST is honoured only at exactly rcv_nxt (RFC 5961, 3.2); elsewhere
//     in the window it draws a challenge ACK; a SYN on a synchronized
//     connection draws a challenge ACK (RFC 5961, 4.2)
//   - an ACK beyond what was ever sent is answered with an ACK, dropped
//   - segments for no connection draw a RST (RFC 9293, 3.10.7.1)
//   - an ACK that frees ring space answers with a window update when the
//     window opened by min(half the window, one MSS) since we last
//     announced it (RFC 1122, 4.2.3.3): a peer that filled the window
//     would otherwise wait for its persist timer
//
// MSS: the link's MTU (set_mtu(), the driver's negotiated VirtioNet::mtu();
// 1500 until then) minus the IPv4 and TCP headers is both the MSS we
// advertise on the SYN-ACK and the most data one of our segments carries,
// whatever larger MSS the peer offers: no segment we send exceeds the MTU
// (the driver drops such frames, virtio 1.2, 5.1.4.2), and a peer that
// honours our MSS sends none either.
//
// Offloads (set_offloads(); issue 16): with checksum offload a segment
// written for a caller that passes a SegmentOffload leaves its TCP checksum
// to the device -- the field holds the folded pseudo-header sum (addresses,
// protocol, TCP length), csum_start is the TCP header, csum_offset 16 --
// and says so in the SegmentOffload. With TSO a data segment may carry
// more than one MSS, up to the peer's window and the caller's frame limit
// (set_offloads' max_frame, and out_cap): the SegmentOffload's gso_size
// (our MSS and the peer's, the smaller) tells the device to cut it into
// segments of that size, none larger than the MTU on the wire. A caller
// that passes no SegmentOffload always gets complete, MTU-sized segments.
//
// Output: input() writes at most one segment (the ACK, carrying as much
// echo data as the peer's window, its MSS and ours allow); poll() writes
// the rest, one segment per call: data the window held back, and
// retransmissions.
// Retransmission is go-back-N from snd_una after an RTO of 250 ms that
// doubles per attempt up to 4 s; after kMaxRetries attempts without
// progress the connection is reset and freed (counted as aborted). The
// same timer probes a zero window with one byte.
//
// Freestanding, no heap: kMaxConnections connections of kRingBytes each,
// in the object itself. input() and poll() never write outside
// [out, out+out_cap).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace guest::net {

#define VNET_TCP_COUNTERS(X)                                                    \
  X(tcp_segments_in)                                                            \
  X(tcp_segments_out)                                                           \
  X(tcp_connections)    /* SYN accepted */                                      \
  X(tcp_refused)        /* SYN while every slot was taken: RST */               \
  X(tcp_closed)         /* our FIN acknowledged: clean close */                 \
  X(tcp_aborted)        /* retransmissions exhausted: RST sent, slot freed */   \
  X(tcp_resets_in)      /* RST accepted: slot freed */                          \
  X(tcp_resets_out)     /* RST sent for a segment without a connection */       \
  X(tcp_bytes_echoed)   /* in-order bytes accepted into a send ring */          \
  X(tcp_retransmits)    /* segments sent again after a timeout */               \
  X(tcp_window_probes)  /* one byte sent into a zero window */                  \
  X(tcp_out_of_order)   /* started after rcv_nxt: ACKed, dropped */             \
  X(tcp_duplicates)     /* entirely before rcv_nxt: ACKed, dropped */           \
  X(tcp_trimmed)        /* overlapping retransmission, old bytes cut */         \
  X(tcp_window_full)    /* bytes beyond the free ring space, cut */             \
  X(tcp_challenge_acks) /* RST not at rcv_nxt, any SYN on an open connection */ \
  X(tcp_bad_ack)        /* ACK of data never sent, or of the wrong SYN */       \
  X(tcp_no_ack)         /* no ACK flag on a synchronized connection: dropped */ \
  X(tcp_data_after_fin) /* data beyond the peer's FIN: dropped */               \
  X(tcp_reply_too_big)  /* the segment did not fit the output buffer */         \
  X(tcp_csum_offloaded) /* segments whose checksum was left to the device */    \
  X(tcp_tso_segments)   /* segments above the MSS, for the device to cut */     \
  X(tcp_tso_bytes)      /* payload bytes sent in them */                        \
  X(tcp_window_updates) /* ACKs sent only because the window opened */

struct TcpCounters {
#define VNET_DECLARE_COUNTER(name) uint64_t name = 0;
  VNET_TCP_COUNTERS(VNET_DECLARE_COUNTER)
#undef VNET_DECLARE_COUNTER
  template <typename F>
  void for_each(F&& f) const {
#define VNET_VISIT_COUNTER(name) f(#name, name);
    VNET_TCP_COUNTERS(VNET_VISIT_COUNTER)
#undef VNET_VISIT_COUNTER
  }
};

// One received TCP segment, located by the responder inside a frame whose
// Ethernet and IPv4 headers are already checked.
struct TcpSegment {
  const uint8_t* peer_mac = nullptr;  // Ethernet source
  uint32_t peer_ip = 0;               // IPv4 source
  const uint8_t* tcp = nullptr;       // TCP header
  uint32_t len = 0;                   // TCP header + payload (checksum verified)
};

// How the caller is to send a segment input() or poll() wrote (see
// "Offloads" above): all zero, a complete segment within the MTU.
struct SegmentOffload {
  bool csum_partial = false;  // the TCP checksum field holds the pseudo-header sum
  uint16_t csum_start = 0;    // from the first byte of the Ethernet header
  uint16_t csum_offset = 0;   // from csum_start (16: TCP)
  uint16_t gso_size = 0;      // nonzero: cut into segments of this much payload
};

enum class TcpVerdict : uint8_t {
  kMalformed,  // failed a check; nothing sent
  kDrop,       // valid, nothing to send
  kReply,      // out[0 .. *out_len) is a segment to send
};

class TcpEcho {
 public:
  static constexpr uint16_t kPort = 7;
  static constexpr uint32_t kMaxConnections = 4;
  static constexpr uint32_t kRingBytes = 65536;     // per connection (the echo ring)
  static constexpr uint32_t kDefaultWindow = 8192;  // advertised until set_window()
  static constexpr uint32_t kMaxWindow = 65535;     // no window scaling
  static constexpr uint32_t kMinWindow = 1024;
  static constexpr uint32_t kDefaultMtu = 1500;       // until set_mtu()
  static constexpr uint32_t kMinMtu = 68;             // IPv4 minimum (RFC 791)
  static constexpr uint32_t kMaxMtu = 65535;          // IPv4 total length
  static constexpr uint32_t kIpTcpHeaders = 20 + 20;  // IPv4, TCP without options
  static constexpr uint16_t kMinPeerMss = 64;
  static constexpr uint16_t kDefaultPeerMss = 536;  // RFC 9293, 3.7.1
  static constexpr uint64_t kInitialRtoNs = 250ull * 1000 * 1000;
  static constexpr uint64_t kMaxRtoNs = 4000ull * 1000 * 1000;
  static constexpr uint32_t kMaxRetries = 8;
  static constexpr uint32_t kFrameHeaders = 14 + 20 + 20;  // Ethernet, IPv4, TCP

  TcpEcho() = default;
  TcpEcho(const TcpEcho&) = delete;
  TcpEcho& operator=(const TcpEcho&) = delete;

  void configure(const uint8_t mac[6], uint32_t ip);
  // The link MTU (IPv4 bytes per frame): our MSS becomes mtu - 40, for new
  // connections' SYN-ACKs and for every segment sent from now on. Clamped
  // to [kMinMtu, kMaxMtu].
  void set_mtu(uint32_t mtu);
  uint16_t mss() const { return mss_; }
  static uint16_t mss_for_mtu(uint32_t mtu);
  // The receive window of every connection from now on, clamped to
  // [kMinWindow, kMaxWindow] (the ring holds kRingBytes).
  void set_window(uint32_t bytes);
  uint32_t window() const { return window_; }
  // Offloads the caller's device takes (see "Offloads" above): checksum,
  // and segmentation (which needs the checksum offload) of frames up to
  // max_frame bytes (Ethernet header included).
  void set_offloads(bool csum, bool tso, uint32_t max_frame);
  bool csum_offload() const { return csum_offload_; }
  bool tso() const { return tso_; }

  // offload: where to say how the segment written is to be sent; nullptr
  // (the default) for complete MTU-sized segments whatever set_offloads().
  TcpVerdict input(const TcpSegment& seg, uint64_t now_ns, uint8_t* out, uint32_t out_cap,
                   uint32_t* out_len, SegmentOffload* offload = nullptr);
  // One pending segment (held-back data, retransmission, window probe), or
  // 0 when there is nothing to send now.
  uint32_t poll(uint64_t now_ns, uint8_t* out, uint32_t out_cap, SegmentOffload* offload = nullptr);

  const TcpCounters& counters() const { return counters_; }
  uint32_t open_connections() const;
  // The earliest retransmission or window-probe deadline of any connection
  // (0: no timer running): an interrupt-driven caller that halts must wake
  // up by then and call poll().
  uint64_t next_deadline_ns() const;

 private:
  enum class State : uint8_t { kFree, kSynReceived, kEstablished, kCloseWait, kLastAck };

  struct Connection {
    State state = State::kFree;
    uint8_t peer_mac[6] = {};
    uint32_t peer_ip = 0;
    uint16_t peer_port = 0;
    uint16_t peer_mss = kDefaultPeerMss;  // the peer's MSS option (at least kMinPeerMss)
    uint32_t iss = 0;
    uint32_t snd_una = 0;
    uint32_t snd_nxt = 0;
    uint32_t snd_max = 0;  // highest sequence number sent + 1
    uint32_t snd_wnd = 0;  // the peer's window, from snd_una
    uint32_t rcv_nxt = 0;
    uint32_t adv_edge = 0;  // right edge of the window last advertised (rcv_nxt + window)
    bool fin_received = false;
    uint64_t rto_ns = kInitialRtoNs;
    uint64_t deadline_ns = 0;  // 0: timer off
    uint32_t retries = 0;
    uint32_t ring_seq = 0;  // sequence number of ring_[ring_head]
    uint32_t ring_head = 0;
    uint32_t ring_len = 0;
    uint8_t ring[kRingBytes];
  };

  Connection* find(uint32_t peer_ip, uint16_t peer_port);
  Connection* allocate();
  uint32_t receive_window(const Connection& c) const {
    return c.ring_len >= window_ ? 0 : window_ - c.ring_len;
  }
  bool has_unsent(const Connection& c) const;
  bool window_update_due(const Connection& c) const;
  uint32_t emit(Connection& c, uint64_t now_ns, uint8_t* out, uint32_t out_cap, bool probe,
                SegmentOffload* offload = nullptr);
  uint32_t emit_ack(Connection& c, uint8_t* out, uint32_t out_cap);
  uint32_t write_segment(const uint8_t* peer_mac, uint32_t peer_ip, uint16_t peer_port,
                         uint16_t local_port, uint32_t seq, uint32_t ack, uint8_t flags,
                         uint16_t window, const Connection* data_from, uint32_t data_len,
                         bool mss_option, uint8_t* out, uint32_t out_cap,
                         SegmentOffload* offload = nullptr);
  uint32_t reset_for(const TcpSegment& seg, uint8_t* out, uint32_t out_cap);
  void process_ack(Connection& c, uint32_t ack, uint32_t window, uint64_t now_ns);
  void accept_data(Connection& c, const uint8_t* data, uint32_t len);
  void release(Connection& c) { c.state = State::kFree; }

  uint8_t mac_[6] = {};
  uint32_t ip_ = 0;
  uint16_t mss_ = static_cast<uint16_t>(kDefaultMtu - kIpTcpHeaders);
  uint32_t window_ = kDefaultWindow;
  bool csum_offload_ = false;
  bool tso_ = false;
  uint32_t tso_max_frame_ = 0;
  uint16_t ip_id_ = 0x4000;
  uint32_t iss_counter_ = 0x1000;
  uint32_t next_poll_ = 0;  // round robin start for poll()
  TcpCounters counters_{};
  Connection connections_[kMaxConnections];
};

}  // namespace guest::net
