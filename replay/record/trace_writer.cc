#include "replay/record/trace_writer.h"

namespace vnet::trace {

namespace {
constexpr char kHexDigits[] = "0123456789abcdef";
}  // namespace

void TraceWriter::put(const char* s, size_t n) {
  while (n > 0) {
    if (used_ == kBufferSize) drain();
    size_t room = kBufferSize - used_;
    size_t take = n < room ? n : room;
    __builtin_memcpy(buf_ + used_, s, take);
    used_ += take;
    s += take;
    n -= take;
  }
}

void TraceWriter::put_cstr(const char* s) {
  size_t n = 0;
  while (s[n] != 0) ++n;  // no strlen: the guest has no libc
  put(s, n);
}

void TraceWriter::put_u64(uint64_t v) {
  char tmp[20];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) put(tmp[--n]);
}

void TraceWriter::put_escaped(const char* s) {
  put('"');
  for (; *s != 0; ++s) {
    const unsigned char c = static_cast<unsigned char>(*s);
    if (c == '"' || c == '\\') {
      put('\\');
      put(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7F) {
      // Control characters and anything outside ASCII: \u00XX, so that a
      // driver message can never break the line or the encoding.
      put("\\u00", 4);
      put(kHexDigits[c >> 4]);
      put(kHexDigits[c & 15]);
    } else {
      put(static_cast<char>(c));
    }
  }
  put('"');
}

void TraceWriter::sep(const char* key) {
  if (!first_[depth_]) put(',');
  first_[depth_] = false;
  if (key != nullptr) {
    put('"');
    put_cstr(key);
    put("\":", 2);
  }
}

void TraceWriter::begin_line() {
  if (held_) emit_held();
  depth_ = 0;
  first_[0] = true;
  put('{');
}

void TraceWriter::end_line() {
  put("}\n", 2);
  depth_ = 0;
}

void TraceWriter::begin(const char* ev) {
  begin_line();
  str("ev", ev);
}

void TraceWriter::end() {
  end_line();
  ++events_;
}

void TraceWriter::u64(const char* key, uint64_t value) {
  sep(key);
  put_u64(value);
}

void TraceWriter::elem_u64(uint64_t value) {
  u64(nullptr, value);
}

void TraceWriter::boolean(const char* key, bool value) {
  sep(key);
  if (value)
    put("true", 4);
  else
    put("false", 5);
}

void TraceWriter::null(const char* key) {
  sep(key);
  put("null", 4);
}

void TraceWriter::str(const char* key, const char* value) {
  sep(key);
  put_escaped(value != nullptr ? value : "");
}

void TraceWriter::hex64(const char* key, uint64_t value) {
  sep(key);
  put("\"0x", 3);
  bool started = false;
  for (int shift = 60; shift >= 0; shift -= 4) {
    const unsigned d = static_cast<unsigned>((value >> shift) & 15);
    if (d != 0 || started || shift == 0) {
      put(kHexDigits[d]);
      started = true;
    }
  }
  put('"');
}

void TraceWriter::hex(const char* key, const void* data, size_t len) {
  sep(key);
  put('"');
  const uint8_t* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < len; ++i) {
    if (kBufferSize - used_ < 2) drain();
    buf_[used_++] = kHexDigits[p[i] >> 4];
    buf_[used_++] = kHexDigits[p[i] & 15];
  }
  put('"');
}

void TraceWriter::begin_object(const char* key) {
  sep(key);
  put('{');
  if (depth_ < kMaxDepth) ++depth_;
  first_[depth_] = true;
}

void TraceWriter::end_object() {
  put('}');
  if (depth_ > 0) --depth_;
}

void TraceWriter::begin_array(const char* key) {
  sep(key);
  put('[');
  if (depth_ < kMaxDepth) ++depth_;
  first_[depth_] = true;
}

void TraceWriter::end_array() {
  put(']');
  if (depth_ > 0) --depth_;
}

void TraceWriter::reg_event(bool write, const char* region, uint32_t offset, uint8_t width,
                            uint32_t value) {
  if (compact_) {
    if (held_ && held_reg_.same(write, region, offset, width, value) &&
        held_count_ < 0xFFFF'FFFFull) {
      ++held_count_;
      return;
    }
    if (held_) emit_held();
    held_ = true;
    held_reg_ = HeldReg{write, region, offset, width, value};
    held_count_ = 1;
    return;
  }
  begin(write ? "reg_write" : "reg_read");
  str("region", region);
  u64("off", offset);
  u64("w", width);
  u64("val", value);
  end();
}

void TraceWriter::emit_held() {
  held_ = false;  // before begin(): begin_line() emits what is held
  const HeldReg r = held_reg_;
  begin(r.write ? "reg_write" : "reg_read");
  str("region", r.region);
  u64("off", r.offset);
  u64("w", r.width);
  u64("val", r.value);
  if (held_count_ > 1) {
    u64("rep", held_count_);
    repeats_written_ = true;
  }
  end();
}

void TraceWriter::drain() {
  if (used_ != 0 && sink_.write != nullptr) sink_.write(sink_.context, buf_, used_);
  used_ = 0;
}

void TraceWriter::flush() {
  if (held_) emit_held();
  drain();
}

}  // namespace vnet::trace
