#include "surface/surface_hook.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

namespace vnet::surface {
namespace {

const char* surface_dir() {
  static const char* dir = [] {
    const char* d = std::getenv("VNET_SURFACE");
    return d != nullptr && *d != '\0' ? d : nullptr;
  }();
  return dir;
}

std::string dump_path() {
  std::string program = "program";
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    exe[n] = '\0';
    const char* slash = std::strrchr(exe, '/');
    program = slash ? slash + 1 : exe;
  }
  return std::string(surface_dir()) + "/" + program + "." + std::to_string(getpid()) + ".json";
}

// Writes the process's counts if they changed since the last write: at exit,
// and whenever a world wraps a platform for its next run (a fuzz input, a
// trace, a scenario), so that a run that ends the process (a fuzz finding
// aborts) loses only its own counts. Written to a temporary file and
// renamed: a reader never sees half a file.
void flush() {
  static std::mutex mu;
  static uint64_t written = 0;
  std::lock_guard<std::mutex> lock(mu);
  SiteCounts& counts = SiteCounts::instance();
  const uint64_t changes = counts.changes();
  if (changes == written) return;
  mkdir(surface_dir(), 0777);  // the tool normally made it
  const std::string path = dump_path();
  const std::string tmp = path + ".tmp";
  std::FILE* out = std::fopen(tmp.c_str(), "w");
  if (out == nullptr) {
    std::fprintf(stderr, "vnet-surface: cannot write %s\n", tmp.c_str());
    return;
  }
  counts.write_json(out);
  const bool ok = std::fclose(out) == 0;
  if (ok && std::rename(tmp.c_str(), path.c_str()) == 0) written = changes;
}

void flush_at_exit() {
  flush();
}

}  // namespace

bool SurfaceHook::enabled() {
  static const bool on = [] {
    if (surface_dir() == nullptr) return false;
    SiteCounts::instance();  // constructed before the handler is registered
    std::atexit(flush_at_exit);
    return true;
  }();
  return on;
}

Platform& SurfaceHook::wrap(Platform& inner) {
  wrapper_.reset();
  if (!enabled()) return inner;
  flush();
  wrapper_.emplace(inner);
  return *wrapper_;
}

}  // namespace vnet::surface
