// Scope markers around the driver's public entry points: Platform::op_begin
// on entry, op_end on every exit, so that oracles can reason "within one
// operation" (platform.h, DriverOp). Internal to driver/net.
#pragma once

#include "driver/platform/platform.h"

namespace vnet {

struct OpScope {
  Platform& p;
  DriverOp op;
  OpScope(Platform& platform, DriverOp o) : p(platform), op(o) { p.op_begin(op); }
  ~OpScope() { p.op_end(op); }
};

}  // namespace vnet
