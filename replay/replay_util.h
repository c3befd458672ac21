// Small helpers shared by the replay modes (replayer.cc, capture_strict.cc,
// device_mode.cc): rendering one trace line into a string, and zeroed,
// aligned memory for DMA regions and pool buffers.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "replay/record/trace_writer.h"

namespace vnet::replay::detail {

inline void append_sink(void* context, const char* data, size_t len) {
  static_cast<std::string*>(context)->append(data, len);
}

// Renders one line with the trace encoder into a string (no newline).
template <typename F>
std::string render(F&& f) {
  std::string s;
  trace::TraceWriter w(trace::ByteSink{append_sink, &s});
  f(w);
  w.flush();
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

struct AlignedFree {
  void operator()(uint8_t* p) const { std::free(p); }
};
using Memory = std::unique_ptr<uint8_t, AlignedFree>;

inline Memory allocate(size_t size, size_t align) {
  if (align < 64) align = 64;
  const size_t rounded = (size + align - 1) / align * align;
  void* p = std::aligned_alloc(align, rounded == 0 ? align : rounded);
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, rounded == 0 ? align : rounded);
  return Memory(static_cast<uint8_t*>(p));
}

}  // namespace vnet::replay::detail
