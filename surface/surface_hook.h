// SurfaceHook: how a world inserts the surface counter (surface_platform.h).
//
//   VNET_SURFACE=<dir>   wrap the platform given to the driver in a
//                        SurfacePlatform; the process writes its SiteCounts
//                        to <dir>/<program>.<pid>.json at exit and at every
//                        wrap() (the start of the next run), so a run that
//                        aborts the process (a fuzz finding) loses only its
//                        own counts
//   unset or empty       wrap() returns the platform itself (no cost beyond
//                        one cached getenv)
//
// Each world holds one hook beside the platform it builds:
//
//   surface::SurfaceHook hook;
//   Session session(hook.wrap(platform), pool, tap);
//
// wrap() may be called again for the next run (the old wrapper is dropped);
// the hook must outlive the driver's use of the platform it returned.
#pragma once

#include <optional>

#include "driver/platform/platform.h"
#include "surface/surface_platform.h"

namespace vnet::surface {

class SurfaceHook {
 public:
  Platform& wrap(Platform& inner);
  // True when VNET_SURFACE names a directory (read once per process).
  static bool enabled();

 private:
  std::optional<SurfacePlatform> wrapper_;
};

}  // namespace vnet::surface
