#include "tools/trace2json/qemu_log.h"

namespace trace2json {
namespace {

// A cursor over the arguments: "key value key value ...".
class Args {
 public:
  explicit Args(std::string_view s) : s_(s) {}

  bool word(std::string_view* out) {
    skip_spaces();
    size_t start = at_;
    while (at_ < s_.size() && s_[at_] != ' ') ++at_;
    if (at_ == start) return false;
    *out = s_.substr(start, at_ - start);
    return true;
  }
  bool expect(std::string_view key) {
    std::string_view w;
    return word(&w) && w == key;
  }
  // Decimal, or hex with 0x; optional leading '-' for decimal.
  bool number(uint64_t* out) {
    std::string_view w;
    return word(&w) && to_number(w, out);
  }
  bool signed_number(int64_t* out) {
    std::string_view w;
    if (!word(&w)) return false;
    bool neg = !w.empty() && w[0] == '-';
    uint64_t v = 0;
    if (!to_number(neg ? w.substr(1) : w, &v)) return false;
    *out = neg ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
    return true;
  }
  bool keyed(std::string_view key, uint64_t* out) { return expect(key) && number(out); }
  template <typename T>
  bool keyed32(std::string_view key, T* out) {
    uint64_t v = 0;
    if (!keyed(key, &v) || v > 0xFFFF'FFFFull) return false;
    *out = static_cast<T>(v);
    return true;
  }
  // 'quoted name' to the closing quote (names may contain spaces).
  bool quoted(std::string_view* out) {
    skip_spaces();
    if (at_ >= s_.size() || s_[at_] != '\'') return false;
    size_t close = s_.find('\'', at_ + 1);
    if (close == std::string_view::npos) return false;
    *out = s_.substr(at_ + 1, close - at_ - 1);
    at_ = close + 1;
    return true;
  }

  static bool to_number(std::string_view w, uint64_t* out) {
    uint64_t v = 0;
    if (w.size() > 2 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X')) {
      if (w.size() > 18) return false;
      for (size_t i = 2; i < w.size(); ++i) {
        char c = w[i];
        unsigned d;
        if (c >= '0' && c <= '9')
          d = static_cast<unsigned>(c - '0');
        else if (c >= 'a' && c <= 'f')
          d = static_cast<unsigned>(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
          d = static_cast<unsigned>(c - 'A' + 10);
        else
          return false;
        v = v << 4 | d;
      }
    } else {
      if (w.empty() || w.size() > 19) return false;
      for (char c : w) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<uint64_t>(c - '0');
      }
    }
    *out = v;
    return true;
  }

 private:
  void skip_spaces() {
    while (at_ < s_.size() && s_[at_] == ' ') ++at_;
  }
  std::string_view s_;
  size_t at_ = 0;
};

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

bool split_line(std::string_view line, LogLine* out) {
  *out = LogLine{};
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  // Optional "TID@SEC.USEC:" prefix.
  size_t at = line.find('@');
  size_t colon = line.find(':');
  size_t space = line.find(' ');
  if (at != std::string_view::npos && colon != std::string_view::npos && at < colon &&
      (space == std::string_view::npos || colon < space)) {
    std::string_view tid = line.substr(0, at);
    std::string_view ts = line.substr(at + 1, colon - at - 1);
    size_t dot = ts.find('.');
    uint64_t t = 0, sec = 0, usec = 0;
    if (!Args::to_number(tid, &t) || dot == std::string_view::npos ||
        !Args::to_number(ts.substr(0, dot), &sec) || !Args::to_number(ts.substr(dot + 1), &usec))
      return false;
    out->has_prefix = true;
    out->tid = t;
    out->usec = sec * 1000000 + usec;
    line = line.substr(colon + 1);
    space = line.find(' ');
  }
  std::string_view name = line.substr(0, space);
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!is_name_char(c)) return false;
  out->event = name;
  out->args = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  return true;
}

bool parse_region_access(std::string_view args, RegionAccess* out) {
  Args a(args);
  uint64_t size = 0;
  if (!a.expect("cpu") || !a.signed_number(&out->cpu) || !a.keyed("mr", &out->mr) ||
      !a.keyed("addr", &out->addr) || !a.keyed("value", &out->value) || !a.keyed("size", &size) ||
      !a.expect("name") || !a.quoted(&out->name))
    return false;
  if (size == 0 || size > 8) return false;
  out->size = static_cast<uint32_t>(size);
  return true;
}

bool parse_pci_cfg(std::string_view args, bool write, PciCfgAccess* out) {
  Args a(args);
  std::string_view off, arrow, val;
  uint64_t o = 0, v = 0;
  if (!a.word(&out->device) || !a.word(&out->bdf) || !a.word(&off) || off.size() < 2 ||
      off[0] != '@' || !Args::to_number(off.substr(1), &o) || !a.word(&arrow) ||
      arrow != (write ? "<-" : "->") || !a.word(&val) || !Args::to_number(val, &v))
    return false;
  if (o > 0xFFF || v > 0xFFFF'FFFFull) return false;
  out->offset = static_cast<uint32_t>(o);
  out->value = static_cast<uint32_t>(v);
  return true;
}

bool parse_set_status(std::string_view args, SetStatus* out) {
  Args a(args);
  return a.keyed("vdev", &out->vdev) && a.keyed32("val", &out->value);
}

bool parse_queue_notify(std::string_view args, QueueNotify* out) {
  Args a(args);
  return a.keyed("vdev", &out->vdev) && a.keyed32("n", &out->n) && a.keyed("vq", &out->vq);
}

bool parse_notify(std::string_view args, Notify* out) {
  Args a(args);
  return a.keyed("vdev", &out->vdev) && a.keyed("vq", &out->vq);
}

bool parse_pop(std::string_view args, Pop* out) {
  Args a(args);
  return a.keyed("vq", &out->vq) && a.keyed("elem", &out->elem) &&
         a.keyed32("in_num", &out->in_num) && a.keyed32("out_num", &out->out_num);
}

bool parse_fill(std::string_view args, Fill* out) {
  Args a(args);
  return a.keyed("vq", &out->vq) && a.keyed("elem", &out->elem) && a.keyed32("len", &out->len) &&
         a.keyed32("idx", &out->idx);
}

bool parse_flush(std::string_view args, Flush* out) {
  Args a(args);
  return a.keyed("vq", &out->vq) && a.keyed32("count", &out->count);
}

bool parse_ioapic_set_irq(std::string_view args, IoapicSetIrq* out) {
  Args a(args);
  return a.keyed32("vector:", &out->gsi) && a.keyed32("level:", &out->level) && out->level <= 1;
}

}  // namespace trace2json
