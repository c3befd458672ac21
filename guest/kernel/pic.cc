#include "guest/kernel/pic.h"

#include "guest/kernel/cpu.h"
#include "guest/kernel/idt.h"

namespace guest::pic {
namespace {

constexpr uint16_t kMasterCmd = 0x20, kMasterData = 0x21;
constexpr uint16_t kSlaveCmd = 0xa0, kSlaveData = 0xa1;
constexpr uint8_t kIcw1Init = 0x11;  // ICW1: initialise, ICW4 follows, cascade, edge
constexpr uint8_t kIcw4_8086 = 0x01;

// The 8259 wants a little time between its initialisation words on real
// hardware; a write to the unused port 0x80 is the customary pause.
void pause_io() {
  cpu::outb(0x80, 0);
}

}  // namespace

void disable() {
  cpu::outb(kMasterCmd, kIcw1Init);
  pause_io();
  cpu::outb(kSlaveCmd, kIcw1Init);
  pause_io();
  cpu::outb(kMasterData, idt::kPicBase);  // ICW2: vector base
  pause_io();
  cpu::outb(kSlaveData, idt::kPicBase + 8);
  pause_io();
  cpu::outb(kMasterData, 0x04);  // ICW3: slave on IRQ 2
  pause_io();
  cpu::outb(kSlaveData, 0x02);  // ICW3: slave identity 2
  pause_io();
  cpu::outb(kMasterData, kIcw4_8086);
  pause_io();
  cpu::outb(kSlaveData, kIcw4_8086);
  pause_io();
  cpu::outb(kMasterData, 0xff);  // OCW1: all masked
  cpu::outb(kSlaveData, 0xff);
}

}  // namespace guest::pic
