#include "guest/kernel/exit.h"

#include <stdarg.h>

#include "guest/kernel/console.h"
#include "guest/kernel/cpu.h"

namespace guest {

namespace {
constexpr uint16_t kDebugExitPort = 0xf4;
}

void exit_qemu(ExitCode code) {
  kprintf("vnet-guest: exit %u\n", static_cast<unsigned>(code));
  cpu::outl(kDebugExitPort, static_cast<uint8_t>(code));
  cpu::halt_forever();
}

void panic(const char* fmt, ...) {
  kprintf("vnet-guest: PANIC: ");
  va_list ap;
  va_start(ap, fmt);
  kvprintf(fmt, ap);
  va_end(ap);
  kprintf("\n");
  exit_qemu(ExitCode::kPanic);
}

}  // namespace guest
