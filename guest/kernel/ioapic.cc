#include "guest/kernel/ioapic.h"

#include "guest/kernel/paging.h"

namespace guest::ioapic {
namespace {

constexpr uint32_t kRegVersion = 0x01;
constexpr uint32_t kRegRedirection = 0x10;
constexpr uint32_t kMasked = 1u << 16;
constexpr uint32_t kLevel = 1u << 15;
constexpr uint32_t kActiveLow = 1u << 13;

volatile uint32_t* g_window = nullptr;
uint32_t g_pins = 0;

uint32_t read(uint32_t reg) {
  g_window[0] = reg;
  return g_window[4];
}
void write(uint32_t reg, uint32_t v) {
  g_window[0] = reg;
  g_window[4] = v;
}

}  // namespace

bool init(uint64_t base) {
  if (!paging::map_identity(base, 0x20, true)) return false;
  g_window = reinterpret_cast<volatile uint32_t*>(static_cast<uintptr_t>(base));
  const uint32_t version = read(kRegVersion);
  if (version == 0xffffffffu) {
    g_window = nullptr;
    return false;
  }
  g_pins = ((version >> 16) & 0xff) + 1;
  for (uint32_t pin = 0; pin < g_pins; ++pin) {
    write(kRegRedirection + 2 * pin, kMasked);
    write(kRegRedirection + 2 * pin + 1, 0);
  }
  return true;
}

bool present() {
  return g_window != nullptr;
}
uint32_t pins() {
  return g_pins;
}

bool route(uint32_t gsi, const Redirection& r) {
  if (g_window == nullptr || gsi >= g_pins || r.vector < 0x10) return false;
  uint32_t low = kMasked | r.vector;  // fixed delivery, physical destination
  if (r.trigger == Trigger::kLevel) low |= kLevel;
  if (r.polarity == Polarity::kActiveLow) low |= kActiveLow;
  write(kRegRedirection + 2 * gsi, kMasked);
  write(kRegRedirection + 2 * gsi + 1, uint32_t{r.destination} << 24);
  write(kRegRedirection + 2 * gsi, low);
  return true;
}

bool mask(uint32_t gsi) {
  if (g_window == nullptr || gsi >= g_pins) return false;
  write(kRegRedirection + 2 * gsi, read(kRegRedirection + 2 * gsi) | kMasked);
  return true;
}

bool unmask(uint32_t gsi) {
  if (g_window == nullptr || gsi >= g_pins) return false;
  write(kRegRedirection + 2 * gsi, read(kRegRedirection + 2 * gsi) & ~kMasked);
  return true;
}

uint64_t entry(uint32_t gsi) {
  if (g_window == nullptr || gsi >= g_pins) return 0;
  const uint64_t low = read(kRegRedirection + 2 * gsi);
  const uint64_t high = read(kRegRedirection + 2 * gsi + 1);
  return (high << 32) | low;
}

}  // namespace guest::ioapic
