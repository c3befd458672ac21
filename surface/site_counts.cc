#include "surface/site_counts.h"

#include <link.h>
#include <unistd.h>
#include <unwind.h>

#include <algorithm>
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

struct Walk {
  SiteCounts::Stack* stack;
  const Image* img;
  int skip;
};

_Unwind_Reason_Code on_frame(struct _Unwind_Context* ctx, void* data) {
  auto* w = static_cast<Walk*>(data);
  const uintptr_t pc = _Unwind_GetIP(ctx);
  if (pc == 0) return _URC_END_OF_STACK;
  if (w->skip > 0) {
    --w->skip;
    return _URC_NO_REASON;
  }
  if (!w->img->contains(pc)) return _URC_NO_REASON;
  w->stack->pcs[w->stack->depth++] = pc;
  return w->stack->depth == SiteCounts::kMaxFrames ? _URC_END_OF_STACK : _URC_NO_REASON;
}

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
  Stack s;
  Walk w{&s, &image(), 1};  // the first frame is this function
  _Unwind_Backtrace(on_frame, &w);
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
