#include "guest/net/tcp_echo.h"

#include "guest/net/byte_order.h"
#include "guest/net/responder.h"

namespace guest::net {
namespace {

constexpr uint8_t kFin = 0x01;
constexpr uint8_t kSyn = 0x02;
constexpr uint8_t kRst = 0x04;
constexpr uint8_t kPsh = 0x08;
constexpr uint8_t kAck = 0x10;
constexpr uint8_t kProtoTcp = 6;
constexpr uint32_t kTcpHeader = 20;
constexpr uint32_t kMssOption = 4;

// Sequence-number comparisons modulo 2^32 (RFC 9293, 3.4).
bool seq_lt(uint32_t a, uint32_t b) {
  return static_cast<int32_t>(a - b) < 0;
}
bool seq_gt(uint32_t a, uint32_t b) {
  return static_cast<int32_t>(a - b) > 0;
}

uint32_t min32(uint32_t a, uint32_t b) {
  return a < b ? a : b;
}

}  // namespace

void TcpEcho::configure(const uint8_t mac[6], uint32_t ip) {
  __builtin_memcpy(mac_, mac, 6);
  ip_ = ip;
}

uint16_t TcpEcho::mss_for_mtu(uint32_t mtu) {
  mtu = mtu < kMinMtu ? kMinMtu : mtu > kMaxMtu ? kMaxMtu : mtu;
  return static_cast<uint16_t>(mtu - kIpTcpHeaders);
}

void TcpEcho::set_mtu(uint32_t mtu) {
  mss_ = mss_for_mtu(mtu);
}

void TcpEcho::set_window(uint32_t bytes) {
  window_ = bytes < kMinWindow ? kMinWindow : bytes > kMaxWindow ? kMaxWindow : bytes;
}

void TcpEcho::set_offloads(bool csum, bool tso, uint32_t max_frame) {
  csum_offload_ = csum || tso;  // segmentation needs the checksum offload
  tso_ = tso;
  tso_max_frame_ = max_frame;
}

uint32_t TcpEcho::open_connections() const {
  uint32_t n = 0;
  for (const Connection& c : connections_) n += c.state != State::kFree ? 1 : 0;
  return n;
}

TcpEcho::Connection* TcpEcho::find(uint32_t peer_ip, uint16_t peer_port) {
  for (Connection& c : connections_)
    if (c.state != State::kFree && c.peer_ip == peer_ip && c.peer_port == peer_port) return &c;
  return nullptr;
}

TcpEcho::Connection* TcpEcho::allocate() {
  for (Connection& c : connections_)
    if (c.state == State::kFree) return &c;
  return nullptr;
}

bool TcpEcho::has_unsent(const Connection& c) const {
  if (c.state == State::kSynReceived) return c.snd_nxt == c.iss;
  uint32_t end = c.ring_seq + c.ring_len;
  if (seq_lt(c.snd_nxt, end)) return true;
  return c.fin_received && c.snd_nxt == end;  // only the FIN is left
}

uint32_t TcpEcho::write_segment(const uint8_t* peer_mac, uint32_t peer_ip, uint16_t peer_port,
                                uint16_t local_port, uint32_t seq, uint32_t ack, uint8_t flags,
                                uint16_t window, const Connection* data_from, uint32_t data_len,
                                bool mss_option, uint8_t* out, uint32_t out_cap,
                                SegmentOffload* offload) {
  const uint32_t tcp_len = kTcpHeader + (mss_option ? kMssOption : 0) + data_len;
  const uint32_t total = kEthHeader + kIpv4Header + tcp_len;
  if (out_cap < total) {
    ++counters_.tcp_reply_too_big;
    return 0;
  }
  __builtin_memcpy(out, peer_mac, 6);
  __builtin_memcpy(out + 6, mac_, 6);
  put16(out + 12, 0x0800);
  uint8_t* ip = out + kEthHeader;
  ip[0] = 0x45;
  ip[1] = 0;
  put16(ip + 2, static_cast<uint16_t>(kIpv4Header + tcp_len));
  put16(ip + 4, ip_id_++);
  put16(ip + 6, 0x4000);  // don't fragment
  ip[8] = 64;
  ip[9] = kProtoTcp;
  put16(ip + 10, 0);
  put32(ip + 12, ip_);
  put32(ip + 16, peer_ip);
  put16(ip + 10, static_cast<uint16_t>(
                     ~Responder::checksum_fold(Responder::checksum_add(0, ip, kIpv4Header))));

  uint8_t* t = ip + kIpv4Header;
  put16(t, local_port);
  put16(t + 2, peer_port);
  put32(t + 4, seq);
  put32(t + 8, ack);
  t[12] = static_cast<uint8_t>(((kTcpHeader + (mss_option ? kMssOption : 0)) / 4) << 4);
  t[13] = flags;
  put16(t + 14, window);
  put16(t + 16, 0);
  put16(t + 18, 0);
  uint8_t* payload = t + kTcpHeader;
  if (mss_option) {
    payload[0] = 2;  // kind MSS
    payload[1] = 4;
    put16(payload + 2, mss_);
    payload += kMssOption;
  }
  if (data_len > 0 && data_from != nullptr) {
    // seq lies in the ring: offset (seq - ring_seq) from ring_head, wrapping.
    uint32_t at = (data_from->ring_head + (seq - data_from->ring_seq)) % kRingBytes;
    uint32_t first = min32(data_len, kRingBytes - at);
    __builtin_memcpy(payload, data_from->ring + at, first);
    __builtin_memcpy(payload + first, data_from->ring, data_len - first);
  }
  uint8_t pseudo[12];
  __builtin_memcpy(pseudo, ip + 12, 8);
  pseudo[8] = 0;
  pseudo[9] = kProtoTcp;
  put16(pseudo + 10, static_cast<uint16_t>(tcp_len));
  if (offload != nullptr) *offload = SegmentOffload{};
  if (offload != nullptr && csum_offload_) {
    // The device completes it: the pseudo-header sum, folded, not inverted
    // (what it adds the TCP header and payload to).
    put16(t + 16, Responder::checksum_fold(Responder::checksum_add(0, pseudo, 12)));
    offload->csum_partial = true;
    offload->csum_start = static_cast<uint16_t>(kEthHeader + kIpv4Header);
    offload->csum_offset = 16;
    ++counters_.tcp_csum_offloaded;
  } else {
    uint32_t sum = Responder::checksum_add(Responder::checksum_add(0, pseudo, 12), t, tcp_len);
    put16(t + 16, static_cast<uint16_t>(~Responder::checksum_fold(sum)));
  }
  ++counters_.tcp_segments_out;
  return total;
}

// RFC 9293, 3.10.7.1: the reply to a segment that has no connection.
uint32_t TcpEcho::reset_for(const TcpSegment& seg, uint8_t* out, uint32_t out_cap) {
  const uint8_t* t = seg.tcp;
  uint8_t flags = t[13];
  uint32_t data_len = seg.len - (uint32_t{t[12]} >> 4) * 4;
  uint32_t n;
  if (flags & kAck) {
    n = write_segment(seg.peer_mac, seg.peer_ip, be16(t), be16(t + 2), be32(t + 8), 0, kRst, 0,
                      nullptr, 0, false, out, out_cap);
  } else {
    uint32_t seg_len = data_len + ((flags & kSyn) ? 1 : 0) + ((flags & kFin) ? 1 : 0);
    n = write_segment(seg.peer_mac, seg.peer_ip, be16(t), be16(t + 2), 0, be32(t + 4) + seg_len,
                      kRst | kAck, 0, nullptr, 0, false, out, out_cap);
  }
  if (n > 0) ++counters_.tcp_resets_out;
  return n;
}

uint32_t TcpEcho::emit_ack(Connection& c, uint8_t* out, uint32_t out_cap) {
  const uint32_t n =
      write_segment(c.peer_mac, c.peer_ip, c.peer_port, kPort, c.snd_nxt, c.rcv_nxt, kAck,
                    static_cast<uint16_t>(receive_window(c)), nullptr, 0, false, out, out_cap);
  if (n > 0) c.adv_edge = c.rcv_nxt + receive_window(c);
  return n;
}

// RFC 1122, 4.2.3.3 (receiver SWS avoidance): a window that opened by at
// least min(half the window, one MSS) since it was last advertised is
// announced at once -- otherwise a peer that filled it waits for its
// persist timer.
bool TcpEcho::window_update_due(const Connection& c) const {
  const uint32_t edge = c.rcv_nxt + receive_window(c);
  const uint32_t step = min32(window_ / 2, mss_);
  return seq_gt(edge, c.adv_edge) && edge - c.adv_edge >= step;
}

// The next segment of c: SYN-ACK, or ACK with as much echo data as the
// peer's window, its MSS, ours (from the MTU) and out_cap allow, plus FIN
// after the last byte once the peer has closed. A probe sends one byte
// into a zero window.
uint32_t TcpEcho::emit(Connection& c, uint64_t now_ns, uint8_t* out, uint32_t out_cap, bool probe,
                       SegmentOffload* offload) {
  if (c.state == State::kSynReceived) {
    uint32_t n = write_segment(c.peer_mac, c.peer_ip, c.peer_port, kPort, c.iss, c.rcv_nxt,
                               kSyn | kAck, static_cast<uint16_t>(receive_window(c)), nullptr, 0,
                               true, out, out_cap, offload);
    if (n == 0) return 0;
    c.adv_edge = c.rcv_nxt + receive_window(c);
    c.snd_nxt = c.iss + 1;
    if (seq_gt(c.snd_nxt, c.snd_max)) c.snd_max = c.snd_nxt;
    if (c.deadline_ns == 0) c.deadline_ns = now_ns + c.rto_ns;
    return n;
  }
  const uint32_t end = c.ring_seq + c.ring_len;
  uint32_t unsent = seq_lt(c.snd_nxt, end) ? end - c.snd_nxt : 0;
  uint32_t window_end = c.snd_una + c.snd_wnd;
  uint32_t usable = seq_lt(c.snd_nxt, window_end) ? window_end - c.snd_nxt : 0;
  const uint32_t seg_mss = min32(c.peer_mss, mss_);
  // TSO (a caller that can send it): as much as the window holds, within
  // the caller's frame limit; the device cuts it into seg_mss segments.
  const bool tso = offload != nullptr && tso_ && !probe;
  uint32_t limit = seg_mss;
  if (tso && tso_max_frame_ > kFrameHeaders) limit = tso_max_frame_ - kFrameHeaders;
  if (limit < seg_mss) limit = seg_mss;
  uint32_t take = min32(min32(unsent, limit), usable);
  if (probe && take == 0 && unsent > 0) take = 1;
  uint32_t room = out_cap > kFrameHeaders ? out_cap - kFrameHeaders : 0;
  take = min32(take, room);
  if (take > 0xffff - kIpv4Header - kTcpHeader) take = 0xffff - kIpv4Header - kTcpHeader;
  bool fin = c.fin_received && c.snd_nxt + take == end;
  uint8_t flags = static_cast<uint8_t>(kAck | (take > 0 ? kPsh : 0) | (fin ? kFin : 0));
  uint32_t n = write_segment(c.peer_mac, c.peer_ip, c.peer_port, kPort, c.snd_nxt, c.rcv_nxt, flags,
                             static_cast<uint16_t>(receive_window(c)), &c, take, false, out,
                             out_cap, offload);
  if (n == 0) return 0;
  c.adv_edge = c.rcv_nxt + receive_window(c);
  if (take > seg_mss && offload != nullptr) {  // only with tso: limit was seg_mss otherwise
    offload->gso_size = static_cast<uint16_t>(seg_mss);
    ++counters_.tcp_tso_segments;
    counters_.tcp_tso_bytes += take;
  }
  c.snd_nxt += take + (fin ? 1 : 0);
  if (seq_gt(c.snd_nxt, c.snd_max)) c.snd_max = c.snd_nxt;
  if (fin && c.state == State::kCloseWait) c.state = State::kLastAck;
  if ((take > 0 || fin) && c.deadline_ns == 0) c.deadline_ns = now_ns + c.rto_ns;
  return n;
}

void TcpEcho::process_ack(Connection& c, uint32_t ack, uint32_t window, uint64_t now_ns) {
  if (seq_gt(ack, c.snd_una)) {
    uint32_t acked = ack - c.snd_una;
    // snd_una == ring_seq once established: the first acked bytes are data,
    // one more is our FIN.
    uint32_t data = min32(acked, c.ring_len);
    c.ring_head = (c.ring_head + data) % kRingBytes;
    c.ring_len -= data;
    c.ring_seq += data;
    c.snd_una = ack;
    if (seq_lt(c.snd_nxt, c.snd_una)) c.snd_nxt = c.snd_una;
    c.retries = 0;
    c.rto_ns = kInitialRtoNs;
    c.deadline_ns = c.snd_una == c.snd_max ? 0 : now_ns + c.rto_ns;
    if (c.state == State::kLastAck && c.ring_len == 0 && c.snd_una == c.ring_seq + 1) {
      ++counters_.tcp_closed;
      release(c);
      return;
    }
  }
  if (!seq_lt(ack, c.snd_una)) c.snd_wnd = window;  // no window scaling: the field is the window
}

void TcpEcho::accept_data(Connection& c, const uint8_t* data, uint32_t len) {
  uint32_t at = (c.ring_head + c.ring_len) % kRingBytes;
  uint32_t first = min32(len, kRingBytes - at);
  __builtin_memcpy(c.ring + at, data, first);
  __builtin_memcpy(c.ring, data + first, len - first);
  c.ring_len += len;
  c.rcv_nxt += len;
  counters_.tcp_bytes_echoed += len;
}

TcpVerdict TcpEcho::input(const TcpSegment& seg, uint64_t now_ns, uint8_t* out, uint32_t out_cap,
                          uint32_t* out_len, SegmentOffload* offload) {
  *out_len = 0;
  if (offload != nullptr) *offload = SegmentOffload{};
  ++counters_.tcp_segments_in;
  const uint8_t* t = seg.tcp;
  if (t == nullptr || seg.len < kTcpHeader) return TcpVerdict::kMalformed;
  const uint32_t doff = (uint32_t{t[12]} >> 4) * 4;
  if (doff < kTcpHeader || doff > seg.len) return TcpVerdict::kMalformed;
  const uint16_t peer_port = be16(t);
  const uint16_t local_port = be16(t + 2);
  if (peer_port == 0 || local_port == 0) return TcpVerdict::kMalformed;
  const uint32_t seq = be32(t + 4);
  const uint32_t ack = be32(t + 8);
  const uint8_t flags = t[13];
  if ((flags & kSyn) && (flags & (kFin | kRst))) return TcpVerdict::kMalformed;
  const uint32_t window = be16(t + 14);

  bool has_mss = false;
  uint16_t mss = 0;
  for (uint32_t i = kTcpHeader; i < doff;) {  // each step moves i forward
    uint8_t kind = t[i];
    if (kind == 0) break;  // end of options
    if (kind == 1) {       // no-op
      ++i;
      continue;
    }
    if (i + 1 >= doff) return TcpVerdict::kMalformed;
    uint32_t olen = t[i + 1];
    if (olen < 2 || i + olen > doff) return TcpVerdict::kMalformed;
    if (kind == 2) {
      if (olen != 4) return TcpVerdict::kMalformed;
      mss = be16(t + i + 2);
      has_mss = true;
    }
    i += olen;
  }
  const uint8_t* data = t + doff;
  const uint32_t data_len = seg.len - doff;
  const uint32_t seg_len = data_len + ((flags & kSyn) ? 1 : 0) + ((flags & kFin) ? 1 : 0);

  auto reply = [&](uint32_t n) {
    *out_len = n;
    return n > 0 ? TcpVerdict::kReply : TcpVerdict::kDrop;
  };

  Connection* c = local_port == kPort ? find(seg.peer_ip, peer_port) : nullptr;
  if (c == nullptr) {
    if (flags & kRst) return TcpVerdict::kDrop;
    if (local_port == kPort && (flags & kSyn) && !(flags & kAck)) {
      c = allocate();
      if (c == nullptr) {
        ++counters_.tcp_refused;
        return reply(reset_for(seg, out, out_cap));
      }
      c->state = State::kSynReceived;
      __builtin_memcpy(c->peer_mac, seg.peer_mac, 6);
      c->peer_ip = seg.peer_ip;
      c->peer_port = peer_port;
      c->peer_mss = kDefaultPeerMss;
      if (has_mss) c->peer_mss = mss < kMinPeerMss ? kMinPeerMss : mss;
      iss_counter_ += 0x01000193u + static_cast<uint32_t>(now_ns >> 10);
      c->iss = iss_counter_;
      c->snd_una = c->snd_nxt = c->snd_max = c->iss;
      c->snd_wnd = window;
      c->rcv_nxt = seq + 1;  // data on a SYN is not accepted; the peer resends it
      c->fin_received = false;
      c->rto_ns = kInitialRtoNs;
      c->deadline_ns = 0;
      c->retries = 0;
      c->ring_seq = c->iss + 1;
      c->ring_head = 0;
      c->ring_len = 0;
      ++counters_.tcp_connections;
      return reply(emit(*c, now_ns, out, out_cap, false, offload));
    }
    return reply(reset_for(seg, out, out_cap));
  }

  // A retransmitted SYN while our SYN-ACK is unacknowledged: send it again.
  if (c->state == State::kSynReceived && (flags & kSyn) && !(flags & kAck) &&
      seq + 1 == c->rcv_nxt) {
    c->snd_nxt = c->iss;
    return reply(emit(*c, now_ns, out, out_cap, false, offload));
  }

  if (flags & kSyn) {  // any other SYN, whatever its sequence number: RFC 5961, 4.2
    ++counters_.tcp_challenge_acks;
    return reply(emit_ack(*c, out, out_cap));
  }

  // Acceptability (RFC 9293, 3.10.7.4, without a receive queue): the
  // segment must start at rcv_nxt, or start before it and reach past it.
  bool acceptable =
      seq == c->rcv_nxt || (seq_lt(seq, c->rcv_nxt) && seq_gt(seq + seg_len, c->rcv_nxt));
  if (!acceptable) {
    if (flags & kRst) {
      if (seq_gt(seq, c->rcv_nxt) && seq_lt(seq, c->rcv_nxt + receive_window(*c))) {
        ++counters_.tcp_challenge_acks;
        return reply(emit_ack(*c, out, out_cap));
      }
      return TcpVerdict::kDrop;
    }
    if (seq_gt(seq, c->rcv_nxt))
      ++counters_.tcp_out_of_order;
    else
      ++counters_.tcp_duplicates;
    return reply(emit_ack(*c, out, out_cap));
  }
  if (flags & kRst) {
    if (seq == c->rcv_nxt) {
      ++counters_.tcp_resets_in;
      release(*c);
      return TcpVerdict::kDrop;
    }
    ++counters_.tcp_challenge_acks;
    return reply(emit_ack(*c, out, out_cap));
  }
  if (!(flags & kAck)) {
    ++counters_.tcp_no_ack;
    return TcpVerdict::kDrop;
  }
  if (c->state == State::kSynReceived) {
    if (ack != c->iss + 1) {
      ++counters_.tcp_bad_ack;
      return reply(reset_for(seg, out, out_cap));
    }
    c->state = State::kEstablished;
  }
  if (seq_gt(ack, c->snd_max)) {
    ++counters_.tcp_bad_ack;
    return reply(emit_ack(*c, out, out_cap));
  }
  process_ack(*c, ack, window, now_ns);
  if (c->state == State::kFree) return TcpVerdict::kDrop;  // our FIN was acknowledged

  // Data and FIN: cut what was received before, keep what fits the ring.
  uint32_t skip = seq_lt(seq, c->rcv_nxt) ? c->rcv_nxt - seq : 0;
  if (skip > 0) ++counters_.tcp_trimmed;
  bool fin = (flags & kFin) != 0;
  uint32_t fresh = data_len > skip ? data_len - skip : 0;
  if (fresh > 0 && c->fin_received) {
    // Cannot happen with an acceptable segment (rcv_nxt is past the FIN);
    // kept as a guard.
    ++counters_.tcp_data_after_fin;
    fresh = 0;
    fin = false;
  }
  if (fresh > 0) {
    uint32_t take = min32(fresh, receive_window(*c));
    if (take < fresh) {
      counters_.tcp_window_full += fresh - take;
      fin = false;  // the FIN follows bytes we did not take
    }
    accept_data(*c, data + skip, take);
  }
  if (fin && !c->fin_received) {
    c->rcv_nxt += 1;
    c->fin_received = true;
    c->state = State::kCloseWait;
  }
  if (seg_len > 0 || has_unsent(*c)) {
    uint32_t n = emit(*c, now_ns, out, out_cap, false, offload);
    if (n == 0 && seg_len > 0) n = emit_ack(*c, out, out_cap);
    return reply(n);
  }
  if (window_update_due(*c)) {
    ++counters_.tcp_window_updates;
    return reply(emit_ack(*c, out, out_cap));
  }
  return TcpVerdict::kDrop;
}

uint64_t TcpEcho::next_deadline_ns() const {
  uint64_t next = 0;
  for (const Connection& c : connections_)
    if (c.state != State::kFree && c.deadline_ns != 0 && (next == 0 || c.deadline_ns < next))
      next = c.deadline_ns;
  return next;
}

uint32_t TcpEcho::poll(uint64_t now_ns, uint8_t* out, uint32_t out_cap, SegmentOffload* offload) {
  if (offload != nullptr) *offload = SegmentOffload{};
  for (uint32_t k = 0; k < kMaxConnections; ++k) {
    uint32_t i = (next_poll_ + k) % kMaxConnections;
    Connection& c = connections_[i];
    if (c.state == State::kFree) continue;
    uint32_t n = 0;
    const bool outstanding = c.snd_max != c.snd_una;
    if (c.deadline_ns != 0 && now_ns >= c.deadline_ns && !outstanding && !has_unsent(c)) {
      c.deadline_ns = 0;  // everything acknowledged since the timer was set
      c.retries = 0;
    } else if (c.deadline_ns != 0 && now_ns >= c.deadline_ns) {
      if (c.retries >= kMaxRetries) {
        ++counters_.tcp_aborted;
        n = write_segment(c.peer_mac, c.peer_ip, c.peer_port, kPort, c.snd_max, c.rcv_nxt,
                          kRst | kAck, 0, nullptr, 0, false, out, out_cap);
        release(c);
      } else {
        ++c.retries;
        c.rto_ns = c.rto_ns * 2 > kMaxRtoNs ? kMaxRtoNs : c.rto_ns * 2;
        c.deadline_ns = now_ns + c.rto_ns;
        if (outstanding) {  // go back to the oldest unacknowledged byte
          ++counters_.tcp_retransmits;
          c.snd_nxt = c.snd_una;
          n = emit(c, now_ns, out, out_cap, false, offload);
        } else {
          ++counters_.tcp_window_probes;
          n = emit(c, now_ns, out, out_cap, true, offload);
        }
      }
    } else if (c.state != State::kSynReceived && has_unsent(c)) {
      uint32_t end = c.ring_seq + c.ring_len;
      uint32_t window_end = c.snd_una + c.snd_wnd;
      bool data_fits = seq_lt(c.snd_nxt, end) && seq_lt(c.snd_nxt, window_end);
      bool fin_only = c.fin_received && c.snd_nxt == end;
      if (data_fits || fin_only)
        n = emit(c, now_ns, out, out_cap, false, offload);
      else if (c.deadline_ns == 0)  // zero window: the timer becomes a probe
        c.deadline_ns = now_ns + c.rto_ns;
    }
    if (n > 0) {
      next_poll_ = (i + 1) % kMaxConnections;
      return n;
    }
  }
  return 0;
}

}  // namespace guest::net
