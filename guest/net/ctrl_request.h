// The guest's control-plane requests (UDP port 7070, issue 15), parsed.
// One line of words separated by spaces, from an untrusted peer: every
// word is checked, nothing is read outside [text, text + len), and
// anything that is not exactly one of these is kBad:
//
//   ctrl                                  kStatus
//   rx MODE on|off                        kRxMode (MODE: promisc, allmulti,
//                                         alluni, nomulti, nouni, nobcast;
//                                         their VirtioNet RxMode numbers)
//   mac-filter [uc=M,M...] [mc=M,M...]    kMacFilter (at most kMaxMacs each;
//                                         no list: empty)
//   mac-addr M                            kMacAddr
//   vlan add|del VID                      kVlan (VID 0..65535: the driver
//                                         refuses those above 4095)
//
// M is aa:bb:cc:dd:ee:ff (hex digits of either case). Freestanding and
// allocation-free; the host unit tests (tests/qemu/responder_test.cc) run
// the same code.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace guest::net {

enum class CtrlKind : uint8_t { kNone, kBad, kStatus, kRxMode, kMacFilter, kMacAddr, kVlan };

struct CtrlRequest {
  static constexpr uint16_t kMaxMacs = 64;
  CtrlKind kind = CtrlKind::kNone;
  uint8_t rx_mode = 0;  // kRxMode: 0 promisc .. 5 nobcast
  bool on = false;      // kRxMode: on; kVlan: add
  uint16_t vid = 0;     // kVlan
  uint8_t mac[6] = {};  // kMacAddr
  uint16_t n_uc = 0, n_mc = 0;
  uint8_t uc[kMaxMacs][6] = {};
  uint8_t mc[kMaxMacs][6] = {};
};

namespace ctrl_detail {

inline bool word_eq(const char* w, size_t n, const char* lit) {
  size_t k = 0;
  while (lit[k] != '\0') ++k;
  if (n != k) return false;
  for (size_t i = 0; i < n; ++i)
    if (w[i] != lit[i]) return false;
  return true;
}

inline int hex_digit(char c) {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : -1;
}

inline bool parse_mac(const char* s, size_t len, uint8_t out[6]) {
  if (len != 17) return false;
  for (int i = 0; i < 6; ++i) {
    const int hi = hex_digit(s[i * 3]), lo = hex_digit(s[i * 3 + 1]);
    if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != ':')) return false;
    out[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return true;
}

// Comma-separated MACs, none empty (no leading, trailing or double comma).
inline bool parse_mac_list(const char* s, size_t len, uint8_t (*out)[6], uint16_t max,
                           uint16_t* n) {
  *n = 0;
  if (len == 0) return true;
  size_t at = 0;
  for (;;) {
    size_t end = at;
    while (end < len && s[end] != ',') ++end;
    if (*n == max || !parse_mac(s + at, end - at, out[*n])) return false;
    ++*n;
    if (end == len) return true;
    at = end + 1;
  }
}

}  // namespace ctrl_detail

// Whether text[0, len) names a control-plane request at all (its first
// word), so that the caller can set it aside for parse_ctrl_request().
inline bool is_ctrl_request(const char* text, size_t len) {
  size_t end = 0;
  while (end < len && text[end] != ' ' && text[end] != '\n' && text[end] != '\r') ++end;
  using ctrl_detail::word_eq;
  return word_eq(text, end, "ctrl") || word_eq(text, end, "rx") ||
         word_eq(text, end, "mac-filter") || word_eq(text, end, "mac-addr") ||
         word_eq(text, end, "vlan");
}

// Parses text[0, len) (trailing newlines allowed) into *r.
inline void parse_ctrl_request(const char* text, size_t len, CtrlRequest* r) {
  using ctrl_detail::word_eq;
  while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r')) --len;
  constexpr size_t kMaxWords = 4;
  const char* w[kMaxWords] = {};
  size_t wl[kMaxWords] = {};
  size_t n = 0, at = 0;
  r->kind = CtrlKind::kBad;
  while (at < len) {
    while (at < len && text[at] == ' ') ++at;
    if (at == len) break;
    if (n == kMaxWords) return;  // too many words
    size_t end = at;
    while (end < len && text[end] != ' ') ++end;
    w[n] = text + at;
    wl[n++] = end - at;
    at = end;
  }
  if (n == 0) return;
  if (word_eq(w[0], wl[0], "ctrl") && n == 1) {
    r->kind = CtrlKind::kStatus;
  } else if (word_eq(w[0], wl[0], "rx") && n == 3) {
    static constexpr const char* kModes[] = {"promisc", "allmulti", "alluni",
                                             "nomulti", "nouni",    "nobcast"};
    const bool on = word_eq(w[2], wl[2], "on");
    if (!on && !word_eq(w[2], wl[2], "off")) return;
    for (uint8_t m = 0; m < 6; ++m) {
      if (!word_eq(w[1], wl[1], kModes[m])) continue;
      r->kind = CtrlKind::kRxMode;
      r->rx_mode = m;
      r->on = on;
    }
  } else if (word_eq(w[0], wl[0], "mac-filter") && n <= 3) {
    bool uc = false, mc = false;
    for (size_t i = 1; i < n; ++i) {
      if (wl[i] >= 3 && word_eq(w[i], 3, "uc=") && !uc) {
        uc = true;
        if (!ctrl_detail::parse_mac_list(w[i] + 3, wl[i] - 3, r->uc, CtrlRequest::kMaxMacs,
                                         &r->n_uc))
          return;
      } else if (wl[i] >= 3 && word_eq(w[i], 3, "mc=") && !mc) {
        mc = true;
        if (!ctrl_detail::parse_mac_list(w[i] + 3, wl[i] - 3, r->mc, CtrlRequest::kMaxMacs,
                                         &r->n_mc))
          return;
      } else {
        return;
      }
    }
    if (!uc) r->n_uc = 0;
    if (!mc) r->n_mc = 0;
    r->kind = CtrlKind::kMacFilter;
  } else if (word_eq(w[0], wl[0], "mac-addr") && n == 2) {
    if (ctrl_detail::parse_mac(w[1], wl[1], r->mac)) r->kind = CtrlKind::kMacAddr;
  } else if (word_eq(w[0], wl[0], "vlan") && n == 3) {
    const bool add = word_eq(w[1], wl[1], "add");
    if (!add && !word_eq(w[1], wl[1], "del")) return;
    if (wl[2] == 0 || wl[2] > 5) return;
    uint32_t vid = 0;
    for (size_t i = 0; i < wl[2]; ++i) {
      if (w[2][i] < '0' || w[2][i] > '9') return;
      vid = vid * 10 + static_cast<uint32_t>(w[2][i] - '0');
    }
    if (vid > 0xffff) return;
    r->kind = CtrlKind::kVlan;
    r->on = add;
    r->vid = static_cast<uint16_t>(vid);
  }
}

}  // namespace guest::net
