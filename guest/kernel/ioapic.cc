#include "guest/kernel/ioapic.h"

#include "guest/kernel/paging.h"

namespace guest::ioapic {
namespace {

constexpr uint32_t kRegVersion = 0x01;
constexpr uint32_t kRegRedirection = 0x10;
constexpr uint32_t kMasked = 1u << 16;
constexpr uint32_t kLevel = 1u << 15;
constexpr uint32_t kActiveLow = 1u << 13;

struct Chip {
  volatile uint32_t* window = nullptr;
  uint32_t gsi_base = 0;
  uint32_t pins = 0;
};
Chip g_chips[kMaxChips];
uint32_t g_count = 0;

uint32_t read(const Chip& c, uint32_t reg) {
  c.window[0] = reg;
  return c.window[4];
}
void write(const Chip& c, uint32_t reg, uint32_t v) {
  c.window[0] = reg;
  c.window[4] = v;
}

// The chip with pin gsi, and the pin's index on it.
const Chip* chip_of(uint32_t gsi, uint32_t* pin) {
  for (uint32_t i = 0; i < g_count; ++i) {
    const Chip& c = g_chips[i];
    if (gsi >= c.gsi_base && gsi - c.gsi_base < c.pins) {
      *pin = gsi - c.gsi_base;
      return &c;
    }
  }
  return nullptr;
}

// Maps base, checks that an I/O APIC answers, masks every pin.
bool take(uint64_t base, uint32_t gsi_base) {
  if (g_count == kMaxChips || !paging::map_identity(base, 0x20, true)) return false;
  Chip c;
  c.window = reinterpret_cast<volatile uint32_t*>(static_cast<uintptr_t>(base));
  c.gsi_base = gsi_base;
  const uint32_t version = read(c, kRegVersion);
  const uint32_t v = version & 0xff;
  const uint32_t entries = ((version >> 16) & 0xff) + 1;
  if (v == 0 || v == 0xff || entries < 2) return false;
  c.pins = entries;
  for (uint32_t i = 0; i < g_count; ++i) {
    const Chip& o = g_chips[i];
    if (gsi_base < o.gsi_base + o.pins && o.gsi_base < gsi_base + c.pins) return false;
  }
  for (uint32_t pin = 0; pin < c.pins; ++pin) {
    write(c, kRegRedirection + 2 * pin, kMasked);
    write(c, kRegRedirection + 2 * pin + 1, 0);
  }
  g_chips[g_count++] = c;
  return true;
}

}  // namespace

bool init(uint64_t base) {
  if (g_count != 0) return true;
  return take(base, 0);
}

bool add(uint64_t base, uint32_t gsi_base) {
  if (g_count == 0) return false;
  for (uint32_t i = 0; i < g_count; ++i)
    if (g_chips[i].gsi_base == gsi_base) return true;  // taken already
  return take(base, gsi_base);
}

bool present() {
  return g_count != 0;
}
uint32_t pins() {
  return g_count != 0 ? g_chips[0].pins : 0;
}
bool covers(uint32_t gsi) {
  uint32_t pin;
  return chip_of(gsi, &pin) != nullptr;
}

bool route(uint32_t gsi, const Redirection& r) {
  uint32_t pin;
  const Chip* c = chip_of(gsi, &pin);
  if (c == nullptr || r.vector < 0x10) return false;
  uint32_t low = kMasked | r.vector;  // fixed delivery, physical destination
  if (r.trigger == Trigger::kLevel) low |= kLevel;
  if (r.polarity == Polarity::kActiveLow) low |= kActiveLow;
  write(*c, kRegRedirection + 2 * pin, kMasked);
  write(*c, kRegRedirection + 2 * pin + 1, uint32_t{r.destination} << 24);
  write(*c, kRegRedirection + 2 * pin, low);
  return true;
}

bool mask(uint32_t gsi) {
  uint32_t pin;
  const Chip* c = chip_of(gsi, &pin);
  if (c == nullptr) return false;
  write(*c, kRegRedirection + 2 * pin, read(*c, kRegRedirection + 2 * pin) | kMasked);
  return true;
}

bool unmask(uint32_t gsi) {
  uint32_t pin;
  const Chip* c = chip_of(gsi, &pin);
  if (c == nullptr) return false;
  write(*c, kRegRedirection + 2 * pin, read(*c, kRegRedirection + 2 * pin) & ~kMasked);
  return true;
}

uint64_t entry(uint32_t gsi) {
  uint32_t pin;
  const Chip* c = chip_of(gsi, &pin);
  if (c == nullptr) return 0;
  const uint64_t low = read(*c, kRegRedirection + 2 * pin);
  const uint64_t high = read(*c, kRegRedirection + 2 * pin + 1);
  return (high << 32) | low;
}

}  // namespace guest::ioapic
