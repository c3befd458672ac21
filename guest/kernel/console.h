// Serial console (16550 UART at COM1, 0x3f8, 115200 8N1) and a small
// printf-like formatter.
//
// The console is the guest's only output the runner reads: every line is
// written whole, "\n" becomes "\r\n", and a wedged UART cannot hang the
// guest (every wait for the transmitter is bounded).
//
// Formatter conversions: %d %i %u %x %X %p %s %c %%, flags '-' and '0',
// a field width, length modifiers l, ll, z. Nothing else: the compiler
// checks every call through the format attribute.
//
// COM2 (0x2f8) is detected but not driven here: it is the runner's channel
// for trace recording, used when present and never required.
#pragma once

#include <stdarg.h>
#include <stddef.h>

namespace guest {

void console_init();
bool com2_present();
void console_write(const char* s, size_t n);
void kprintf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void kvprintf(const char* fmt, va_list ap);

// Formats into buf (always NUL-terminated when cap > 0). Returns the
// number of characters written, excluding the NUL; output that does not
// fit is cut off.
size_t format(char* buf, size_t cap, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
size_t vformat(char* buf, size_t cap, const char* fmt, va_list ap);

}  // namespace guest
