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

// Called from boot.S with the exception frame.
struct ExceptionFrame {
  uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

extern "C" [[noreturn]] void guest_exception(const ExceptionFrame* f) {
  static const char* const kNames[] = {"#DE divide error",
                                       "#DB debug",
                                       "NMI",
                                       "#BP breakpoint",
                                       "#OF overflow",
                                       "#BR bound",
                                       "#UD invalid opcode",
                                       "#NM no math",
                                       "#DF double fault",
                                       "coprocessor",
                                       "#TS invalid TSS",
                                       "#NP segment not present",
                                       "#SS stack fault",
                                       "#GP general protection",
                                       "#PF page fault",
                                       "reserved",
                                       "#MF x87",
                                       "#AC alignment",
                                       "#MC machine check",
                                       "#XM SIMD",
                                       "#VE virtualisation",
                                       "#CP control protection"};
  const char* name = f->vector < sizeof(kNames) / sizeof(kNames[0]) ? kNames[f->vector] : "?";
  panic("exception %lu (%s) error=0x%lx rip=0x%lx rsp=0x%lx cr2=0x%lx", f->vector, name, f->error,
        f->rip, f->rsp, cpu::read_cr2());
}

}  // namespace guest
