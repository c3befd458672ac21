// TraceWriter: turns trace events into JSON Lines text, for the host and
// the bare-metal guest alike (docs/trace-format.md).
//
//   RecordingPlatform / RecordingPool / Session (taps)
//                    |  begin("reg_read") u64("off", 18) ... end()
//                    v
//   TraceWriter: fixed line buffer, JSON escaping, lowercase hex
//                    |  ByteSink.write(ctx, bytes, n)   (whole buffers)
//                    v
//   host: a file or a std::string        guest: a serial port
//
// Freestanding: no libc beyond mem*, no heap, no exceptions. The writer
// owns a fixed buffer and hands it to the sink when it fills up and on
// flush(); a line may span two sink calls. Nothing is ever dropped: a
// field larger than the buffer (a long frame in hex) is streamed through.
//
// Shape of one line (the writer tracks commas itself):
//
//   begin("publish") u64("q",1) begin_array("segs") begin_object()
//     u64("desc",0) ... end_object() end_array() end()
//   => {"ev":"publish","q":1,"segs":[{"desc":0,...}]}\n
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace vnet::trace {

// Where the text goes. write() receives every byte exactly once, in order.
struct ByteSink {
  void (*write)(void* context, const char* data, size_t len) = nullptr;
  void* context = nullptr;
};

class TraceWriter {
 public:
  static constexpr size_t kBufferSize = 4096;
  static constexpr int kMaxDepth = 8;

  explicit TraceWriter(ByteSink sink) : sink_(sink) {}

  // A whole event line: {"ev":"<name>" ... }\n. events() counts them.
  void begin(const char* ev);
  void end();
  // A line that is not an event (the header): { ... }\n.
  void begin_line();
  void end_line();

  void u64(const char* key, uint64_t value);
  void boolean(const char* key, bool value);
  void str(const char* key, const char* value);
  // A 64-bit mask as a JSON string "0x..." (JSON numbers above 2^53 are
  // not exact in every reader).
  void hex64(const char* key, uint64_t value);
  // Bytes as one lowercase hex string, two digits per byte, no separators.
  void hex(const char* key, const void* data, size_t len);
  void null(const char* key);

  // Nested values. key may be nullptr inside an array.
  void begin_object(const char* key = nullptr);
  void end_object();
  void begin_array(const char* key = nullptr);
  void end_array();
  // Array elements.
  void elem_u64(uint64_t value);

  // Writes what is held (a repeated register event) and hands the buffer
  // to the sink.
  void flush();
  // Event lines written or held (a held repeat counts as its one line).
  uint64_t events() const { return events_ + (held_ ? 1 : 0); }

  // Compact traces (format version 2, docs/trace-format.md "Repeats"):
  // with compaction on, reg_event() holds a register event back, and
  // identical ones that follow it directly only raise its count; the
  // line is written, with "rep":N when N > 1, before the next line of any
  // kind, and on flush(). Set before the header: it decides the version.
  void set_compact(bool on) { compact_ = on; }
  bool compact() const { return compact_; }
  uint32_t format_version() const { return compact_ ? 2u : 1u; }
  // Whether a line with "rep" was written (a writer that writes its header
  // last can say version 1 when none was).
  bool repeats_written() const { return repeats_written_; }
  // A register event with a plain value:
  //   {"ev":"reg_read"|"reg_write","region":R,"off":O,"w":W,"val":V}
  void reg_event(bool write, const char* region, uint32_t offset, uint8_t width, uint32_t value);

 private:
  struct HeldReg {
    bool write;
    const char* region;  // a static name
    uint32_t offset;
    uint8_t width;
    uint32_t value;
    bool same(bool w, const char* r, uint32_t o, uint8_t wd, uint32_t v) const {
      return write == w && region == r && offset == o && width == wd && value == v;
    }
  };
  void emit_held();
  void drain();
  void put(char c) {
    if (used_ == kBufferSize) drain();
    buf_[used_++] = c;
  }
  void put(const char* s, size_t n);
  void put_cstr(const char* s);
  void put_u64(uint64_t v);
  void put_escaped(const char* s);
  void sep(const char* key);

  ByteSink sink_;
  char buf_[kBufferSize];
  size_t used_ = 0;
  uint64_t events_ = 0;
  // first_[d]: no value written yet at nesting depth d (no comma needed).
  bool first_[kMaxDepth + 1] = {};
  int depth_ = 0;
  bool compact_ = false;
  bool held_ = false;
  HeldReg held_reg_{};
  uint64_t held_count_ = 0;
  bool repeats_written_ = false;
};

}  // namespace vnet::trace
