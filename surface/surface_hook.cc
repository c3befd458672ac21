#include "surface/surface_hook.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
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

void dump_at_exit() {
  const char* dir = surface_dir();
  if (dir == nullptr) return;
  std::string program = "program";
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    exe[n] = '\0';
    const char* slash = std::strrchr(exe, '/');
    program = slash ? slash + 1 : exe;
  }
  mkdir(dir, 0777);  // the tool normally made it; a race with another process is harmless
  const std::string path =
      std::string(dir) + "/" + program + "." + std::to_string(getpid()) + ".json";
  std::FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) {
    std::fprintf(stderr, "vnet-surface: cannot write %s\n", path.c_str());
    return;
  }
  SiteCounts::instance().write_json(out);
  std::fclose(out);
}

}  // namespace

bool SurfaceHook::enabled() {
  static const bool on = [] {
    if (surface_dir() == nullptr) return false;
    SiteCounts::instance();  // constructed before the handler is registered
    std::atexit(dump_at_exit);
    return true;
  }();
  return on;
}

Platform& SurfaceHook::wrap(Platform& inner) {
  wrapper_.reset();
  if (!enabled()) return inner;
  wrapper_.emplace(inner);
  return *wrapper_;
}

}  // namespace vnet::surface
