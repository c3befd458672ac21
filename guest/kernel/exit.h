// Leaving QEMU: the isa-debug-exit device at port 0xf4 turns a write of V
// into QEMU's exit status (V << 1) | 1. When the device is absent the write
// goes nowhere and the guest halts with interrupts off instead.
//
// The status values are the contract with the runner (tools/vnet-qemu/).
#pragma once

#include <stdint.h>

namespace guest {

enum class ExitCode : uint8_t {
  kOk = 0x10,              // QEMU exit status 33: asked to exit, all well
  kAttachFailed = 0x11,    // 35: the driver refused the device
  kNoDevice = 0x12,        // 37: no virtio-net function on PCI
  kProbeFailed = 0x13,     // 39: the function's transport is unusable
  kPanic = 0x14,           // 41: CPU exception or guest bug
  kBroken = 0x15,          // 43: the device broke and could not be recovered
  kTestFailed = 0x16,      // 45: a self-test action (action=irqtest) failed
  kBadCommandLine = 0x17,  // 47: an unknown value on the command line
};

inline constexpr int qemu_status(ExitCode code) {
  return (static_cast<int>(code) << 1) | 1;
}

[[noreturn]] void exit_qemu(ExitCode code);
[[noreturn]] void panic(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace guest
