#include "surface/site_counts.h"

#include <link.h>
#include <pthread.h>
#include <unistd.h>
#include <unwind.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace vnet::surface {

const char* read_kind_name(ReadKind k) {
  switch (k) {
    case ReadKind::kRegRead:
      return "reg_read";
    case ReadKind::kBarInfo:
      return "bar_info";
    case ReadKind::kFetch:
      return "fetch";
  }
  return "?";
}

uint64_t hash_bytes(const void* data, size_t len) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < len; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

namespace {

// The main executable's loaded segments and its load bias (PIE).
struct Image {
  uintptr_t bias = 0;
  struct Range {
    uintptr_t lo, hi;
  };
  std::vector<Range> ranges;

  bool contains(uintptr_t pc) const {
    for (const Range& r : ranges)
      if (pc >= r.lo && pc < r.hi) return true;
    return false;
  }
};

int collect_image(struct dl_phdr_info* info, size_t, void* data) {
  // The first object dl_iterate_phdr reports is the main program.
  auto* img = static_cast<Image*>(data);
  img->bias = info->dlpi_addr;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
    img->ranges.push_back(
        {info->dlpi_addr + ph.p_vaddr, info->dlpi_addr + ph.p_vaddr + ph.p_memsz});
  }
  return 1;  // stop after the main program
}

const Image& image() {
  static const Image img = [] {
    Image i;
    dl_iterate_phdr(collect_image, &i);
    return i;
  }();
  return img;
}

// The slow walk: libgcc's unwinder (DWARF CFI of every frame). It also
// records each frame's address and the unwinder's CFA for it (the stack
// pointer of that frame at its call, which is its callee's CFA), from which
// the fast walk below learns the frames' geometry.
struct Walk {
  SiteCounts::Stack* stack;
  const Image* img;
  int skip;
  static constexpr int kMaxSeen = 64;
  uintptr_t ip[kMaxSeen];
  uintptr_t cfa[kMaxSeen];
  int seen = 0;
  bool ended = false;  // reached the end of the stack (not the depth limit)
};

_Unwind_Reason_Code on_frame(struct _Unwind_Context* ctx, void* data) {
  auto* w = static_cast<Walk*>(data);
  const uintptr_t pc = _Unwind_GetIP(ctx);
  if (pc == 0) {  // past the outermost frame
    w->ended = true;
    return _URC_END_OF_STACK;
  }
  if (w->seen < Walk::kMaxSeen) {
    w->ip[w->seen] = pc;
    w->cfa[w->seen] = _Unwind_GetCFA(ctx);
    ++w->seen;
  }
  if (w->skip > 0) {
    --w->skip;
    return _URC_NO_REASON;
  }
  if (!w->img->contains(pc)) return _URC_NO_REASON;
  w->stack->pcs[w->stack->depth++] = pc;
  return w->stack->depth == SiteCounts::kMaxFrames ? _URC_END_OF_STACK : _URC_NO_REASON;
}

void slow_walk(Walk* w) {
  if (_Unwind_Backtrace(on_frame, w) == _URC_END_OF_STACK) w->ended = true;
}

#if defined(__x86_64__)
// The fast walk, for a driver that polls a register millions of times (a
// reset never acknowledged under a frozen clock): on x86-64 the return
// address into a frame sits just below its callee's CFA, and a frame's CFA
// lies either a fixed distance above its callee's for a given address (no
// frame of the driver, the harness or the tools allocates a variable amount
// of stack), or -- a frame that realigns its stack (ASan's redzones) -- 16
// bytes above its frame pointer, which its callee saved just below its own
// CFA (the sanitizer presets keep frame pointers). Which rule holds for
// each address is learned from the slow walk, per thread; an address seen
// with neither rule holding, or not seen yet, sends the capture to the slow
// walk; every 1024th fast capture is checked against the slow walk, and one
// mismatch turns the fast walk off for good.
struct Step {
  intptr_t distance;
  bool fixed;  // the CFA distance to the callee's was always `distance`
  bool fp;     // the CFA was always the saved frame pointer + 16
};

struct FrameCache {
  std::unordered_map<uintptr_t, Step> step;  // return address -> rule
  std::unordered_map<uintptr_t, bool> last;  // return addresses of outermost frames
  uintptr_t lo = 0, hi = 0;                  // this thread's stack
  uint64_t fast = 0;
  bool bounds = false;
};
thread_local FrameCache t_frames;
// VNET_SURFACE_SLOW_WALK=1: the slow walk only (to check the fast one).
bool g_fast_walk_off = [] {
  const char* v = std::getenv("VNET_SURFACE_SLOW_WALK");
  return v != nullptr && *v != '\0' && *v != '0';
}();

// w.cfa[i] is frame i's stack pointer at its call = frame i-1's CFA; frame
// i's own CFA is w.cfa[i + 1].
bool read_word(const FrameCache& fc, uintptr_t addr, uintptr_t* out) {
  if (addr < fc.lo || addr + sizeof(*out) > fc.hi) return false;
  std::memcpy(out, reinterpret_cast<const void*>(addr), sizeof(*out));
  return true;
}

bool stack_bounds(FrameCache& fc);

// Called while the walked stack is live (its saved frame pointers are read).
void learn(FrameCache& fc, const Walk& w) {
  if (!stack_bounds(fc)) return;
  for (int i = 1; i + 1 < w.seen; ++i) {
    const intptr_t d = static_cast<intptr_t>(w.cfa[i + 1] - w.cfa[i]);
    uintptr_t saved_fp = 0;
    const bool fp = read_word(fc, w.cfa[i] - 16, &saved_fp) && saved_fp + 16 == w.cfa[i + 1];
    auto [it, fresh] = fc.step.emplace(w.ip[i], Step{d, true, fp});
    if (fresh) continue;
    if (it->second.distance != d) it->second.fixed = false;
    if (!fp) it->second.fp = false;
  }
  if (w.ended && w.seen > 0 && w.seen < Walk::kMaxSeen) fc.last[w.ip[w.seen - 1]] = true;
}

bool stack_bounds(FrameCache& fc) {
  if (fc.bounds) return fc.hi != 0;
  fc.bounds = true;
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return false;
  void* base = nullptr;
  size_t size = 0;
  if (pthread_attr_getstack(&attr, &base, &size) == 0) {
    fc.lo = reinterpret_cast<uintptr_t>(base);
    fc.hi = fc.lo + size;
  }
  pthread_attr_destroy(&attr);
  return fc.hi != 0;
}

// cfa: the CFA of the capturing function (frame 0, skipped like the slow
// walk skips it). False when a frame is not known yet.
bool fast_walk(FrameCache& fc, uintptr_t cfa, const Image& img, SiteCounts::Stack* s) {
  if (!stack_bounds(fc)) return false;
  uintptr_t ip;
  if (!read_word(fc, cfa - 8, &ip)) return false;
  for (int n = 0; n < Walk::kMaxSeen; ++n) {
    if (ip == 0) return true;
    if (img.contains(ip)) {
      s->pcs[s->depth++] = ip;
      if (s->depth == SiteCounts::kMaxFrames) return true;
    }
    if (fc.last.count(ip)) return true;
    const auto it = fc.step.find(ip);
    if (it == fc.step.end()) return false;
    if (it->second.fixed) {
      cfa += static_cast<uintptr_t>(it->second.distance);
    } else if (it->second.fp) {
      uintptr_t saved_fp;
      if (!read_word(fc, cfa - 16, &saved_fp)) return false;
      cfa = saved_fp + 16;
    } else {
      return false;
    }
    if (!read_word(fc, cfa - 8, &ip)) return false;
  }
  return false;
}
#endif

}  // namespace

bool SiteCounts::Key::operator==(const Key& o) const {
  return kind == o.kind && stack.depth == o.stack.depth &&
         std::memcmp(stack.pcs, o.stack.pcs, sizeof(uintptr_t) * stack.depth) == 0;
}

size_t SiteCounts::KeyHash::operator()(const Key& k) const {
  size_t h = static_cast<size_t>(k.kind) * 0x9e3779b97f4a7c15ull;
  for (uint8_t i = 0; i < k.stack.depth; ++i) h = (h ^ k.stack.pcs[i]) * 0x100000001b3ull;
  return h;
}

SiteCounts& SiteCounts::instance() {
  // Never destroyed: the exit-time dump may run after static destructors.
  static SiteCounts* counts = new SiteCounts;
  return *counts;
}

__attribute__((noinline)) SiteCounts::Stack SiteCounts::capture() {
  const Image& img = image();
#if defined(__x86_64__)
  const uintptr_t my_cfa = reinterpret_cast<uintptr_t>(__builtin_dwarf_cfa());
  FrameCache& fc = t_frames;
  if (!__atomic_load_n(&g_fast_walk_off, __ATOMIC_RELAXED)) {
    Stack fast;
    if (fast_walk(fc, my_cfa, img, &fast)) {
      if (++fc.fast % 1024 != 0) return fast;
      Stack slow;
      Walk w{&slow, &img, 1, {}, {}, 0, false};
      slow_walk(&w);
      if (slow.depth != fast.depth ||
          std::memcmp(slow.pcs, fast.pcs, sizeof(uintptr_t) * slow.depth) != 0) {
        __atomic_store_n(&g_fast_walk_off, true, __ATOMIC_RELAXED);
        std::fprintf(stderr, "vnet-surface: fast stack walk disagrees with the unwinder; off\n");
      }
      return slow;
    }
  }
#endif
  Stack s;
  Walk w{&s, &img, 1, {}, {}, 0, false};  // the first frame is this function
  slow_walk(&w);
#if defined(__x86_64__)
  // The fast walk starts from this function's CFA as the compiler sees it;
  // it must be the unwinder's, or the fast walk is wrong.
  if (w.seen < 2 || w.cfa[1] != my_cfa) {
    __atomic_store_n(&g_fast_walk_off, true, __ATOMIC_RELAXED);
  } else {
    learn(fc, w);
  }
#endif
  return s;
}

void SiteCounts::add(ReadKind kind, const Stack& stack, const uint64_t* values, size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  ++changes_;
  Entry& e = table_[Key{kind, stack}];
  ++e.hits;
  for (size_t i = 0; i < n && !e.more; ++i) {
    if (std::find(e.values.begin(), e.values.end(), values[i]) != e.values.end()) continue;
    if (e.values.size() == kMaxValues) {
      e.more = true;
    } else {
      e.values.push_back(values[i]);
    }
  }
}

uint64_t SiteCounts::changes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return changes_;
}

size_t SiteCounts::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return table_.size();
}

void SiteCounts::write_json(std::FILE* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  exe[n > 0 ? n : 0] = '\0';
  const uintptr_t bias = image().bias;
  std::fprintf(out, "{\"version\":1,\"exe\":\"");
  for (const char* c = exe; *c; ++c) {
    if (*c == '"' || *c == '\\') std::fputc('\\', out);
    std::fputc(*c, out);
  }
  std::fprintf(out, "\",\"records\":[");
  bool first = true;
  for (const auto& [key, e] : table_) {
    std::fprintf(out, "%s\n{\"kind\":\"%s\",\"pcs\":[", first ? "" : ",", read_kind_name(key.kind));
    first = false;
    for (uint8_t i = 0; i < key.stack.depth; ++i)
      std::fprintf(out, "%s\"0x%llx\"", i ? "," : "",
                   static_cast<unsigned long long>(key.stack.pcs[i] - bias));
    std::fprintf(out, "],\"hits\":%llu,\"values\":[", static_cast<unsigned long long>(e.hits));
    for (size_t i = 0; i < e.values.size(); ++i)
      std::fprintf(out, "%s\"0x%llx\"", i ? "," : "", static_cast<unsigned long long>(e.values[i]));
    std::fprintf(out, "],\"more\":%s}", e.more ? "true" : "false");
  }
  std::fprintf(out, "\n]}\n");
}

}  // namespace vnet::surface
