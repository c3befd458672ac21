#include "guest/record/trace_port.h"

#include "guest/kernel/console.h"
#include "guest/kernel/cpu.h"

namespace guest::trace_port {
namespace {

constexpr uint16_t kCom2 = 0x2f8;
constexpr uint16_t kThr = 0, kIer = 1, kFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5;
constexpr uint8_t kLsrThrEmpty = 0x20;
constexpr int kTxSpinLimit = 100000;
// THRE with the FIFO on means the 16-byte transmit FIFO is empty: that
// many bytes go out without looking at LSR again.
constexpr int kFifoDepth = 16;

bool g_open = false;
uint64_t g_bytes = 0;
uint64_t g_slow = 0;

}  // namespace

bool open() {
  if (g_open) return true;
  if (!com2_present()) return false;
  cpu::outb(kCom2 + kIer, 0x00);  // no interrupts: the guest polls
  cpu::outb(kCom2 + kLcr, 0x80);  // DLAB on
  cpu::outb(kCom2 + kThr, 0x01);  // divisor 1: 115200 baud
  cpu::outb(kCom2 + kIer, 0x00);
  cpu::outb(kCom2 + kLcr, 0x03);  // 8N1, DLAB off
  cpu::outb(kCom2 + kFcr, 0xc7);  // FIFO on, cleared
  cpu::outb(kCom2 + kMcr, 0x03);  // DTR, RTS
  g_open = true;
  return true;
}

bool is_open() {
  return g_open;
}

void write(const char* data, size_t len) {
  if (!g_open) return;
  size_t i = 0;
  while (i < len) {
    int spins = 0;
    while (!(cpu::inb(kCom2 + kLsr) & kLsrThrEmpty)) {
      if (++spins == kTxSpinLimit) {
        ++g_slow;
        break;
      }
      cpu::pause();
    }
    for (int k = 0; k < kFifoDepth && i < len; ++k, ++i)
      cpu::outb(kCom2 + kThr, static_cast<uint8_t>(data[i]));
  }
  g_bytes += len;
}

uint64_t bytes_written() {
  return g_bytes;
}

uint64_t slow_writes() {
  return g_slow;
}

}  // namespace guest::trace_port
