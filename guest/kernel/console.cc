#include "guest/kernel/console.h"

#include <stdint.h>

#include "guest/kernel/cpu.h"

namespace guest {
namespace {

constexpr uint16_t kCom1 = 0x3f8;
constexpr uint16_t kCom2 = 0x2f8;
constexpr uint16_t kThr = 0, kIer = 1, kFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5, kScratch = 7;
constexpr uint8_t kLsrThrEmpty = 0x20;
constexpr int kTxSpinLimit = 100000;

bool g_com1 = false;
bool g_com2 = false;

bool uart_present(uint16_t base) {
  cpu::outb(base + kScratch, 0x5a);
  if (cpu::inb(base + kScratch) != 0x5a) return false;
  cpu::outb(base + kScratch, 0xa5);
  return cpu::inb(base + kScratch) == 0xa5;
}

void uart_init(uint16_t base) {
  cpu::outb(base + kIer, 0x00);  // no interrupts: the guest polls
  cpu::outb(base + kLcr, 0x80);  // DLAB on
  cpu::outb(base + kThr, 0x01);  // divisor 1: 115200 baud
  cpu::outb(base + kIer, 0x00);
  cpu::outb(base + kLcr, 0x03);  // 8N1, DLAB off
  cpu::outb(base + kFcr, 0xc7);  // FIFO on, cleared
  cpu::outb(base + kMcr, 0x03);  // DTR, RTS
}

void uart_putc(uint16_t base, char c) {
  for (int i = 0; i < kTxSpinLimit && !(cpu::inb(base + kLsr) & kLsrThrEmpty); ++i) cpu::pause();
  cpu::outb(base + kThr, static_cast<uint8_t>(c));
}

// ---- formatter ----

struct Sink {
  char* buf;  // nullptr: console
  size_t cap;
  size_t len;
  void put(char c) {
    if (buf == nullptr) {
      if (c == '\n') console_write("\r", 1);
      console_write(&c, 1);
      ++len;
    } else if (len + 1 < cap) {
      buf[len++] = c;
    }
  }
};

void put_padded(Sink& out, const char* s, size_t n, int width, bool left, char pad) {
  int fill = width > static_cast<int>(n) ? width - static_cast<int>(n) : 0;
  if (!left)
    for (int i = 0; i < fill; ++i) out.put(pad);
  for (size_t i = 0; i < n; ++i) out.put(s[i]);
  if (left)
    for (int i = 0; i < fill; ++i) out.put(' ');
}

void put_number(Sink& out, uint64_t v, unsigned base, bool upper, bool negative, int width,
                bool left, bool zero) {
  char tmp[24];
  size_t n = 0;
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  do {
    tmp[n++] = digits[v % base];
    v /= base;
  } while (v != 0);
  if (negative && zero) {
    out.put('-');
    if (width > 0) --width;
  } else if (negative) {
    tmp[n++] = '-';
  }
  char rev[24];
  for (size_t i = 0; i < n; ++i) rev[i] = tmp[n - 1 - i];
  put_padded(out, rev, n, width, left, zero && !left ? '0' : ' ');
}

void run_format(Sink& out, const char* fmt, va_list ap) {
  for (const char* p = fmt; *p != '\0'; ++p) {
    if (*p != '%') {
      out.put(*p);
      continue;
    }
    ++p;
    bool left = false, zero = false;
    for (;; ++p) {
      if (*p == '-')
        left = true;
      else if (*p == '0')
        zero = true;
      else
        break;
    }
    int width = 0;
    while (*p >= '0' && *p <= '9') width = width * 10 + (*p++ - '0');
    int lng = 0;  // 0 int, 1 long, 2 long long, 3 size_t
    if (*p == 'l') {
      lng = 1;
      if (*++p == 'l') {
        lng = 2;
        ++p;
      }
    } else if (*p == 'z') {
      lng = 3;
      ++p;
    }
    switch (*p) {
      case 'd':
      case 'i': {
        int64_t v = lng == 0   ? va_arg(ap, int)
                    : lng == 1 ? va_arg(ap, long)
                    : lng == 2 ? va_arg(ap, long long)
                               : static_cast<int64_t>(va_arg(ap, size_t));
        bool neg = v < 0;
        uint64_t mag = neg ? uint64_t{0} - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
        put_number(out, mag, 10, false, neg, width, left, zero);
        break;
      }
      case 'u':
      case 'x':
      case 'X': {
        uint64_t v = lng == 0   ? va_arg(ap, unsigned)
                     : lng == 1 ? va_arg(ap, unsigned long)
                     : lng == 2 ? va_arg(ap, unsigned long long)
                                : va_arg(ap, size_t);
        put_number(out, v, *p == 'u' ? 10 : 16, *p == 'X', false, width, left, zero);
        break;
      }
      case 'p': {
        out.put('0');
        out.put('x');
        put_number(out, reinterpret_cast<uintptr_t>(va_arg(ap, void*)), 16, false, false, width,
                   left, zero);
        break;
      }
      case 's': {
        const char* s = va_arg(ap, const char*);
        if (s == nullptr) s = "(null)";
        size_t n = 0;
        while (s[n] != '\0') ++n;
        put_padded(out, s, n, width, left, ' ');
        break;
      }
      case 'c': {
        char c = static_cast<char>(va_arg(ap, int));
        put_padded(out, &c, 1, width, left, ' ');
        break;
      }
      case '%':
        out.put('%');
        break;
      case '\0':
        return;
      default:
        out.put('%');
        out.put(*p);
        break;
    }
  }
}

}  // namespace

void console_init() {
  g_com1 = uart_present(kCom1);
  if (g_com1) uart_init(kCom1);
  g_com2 = uart_present(kCom2);
}

bool com2_present() {
  return g_com2;
}

void console_write(const char* s, size_t n) {
  if (!g_com1) return;
  for (size_t i = 0; i < n; ++i) uart_putc(kCom1, s[i]);
}

void kvprintf(const char* fmt, va_list ap) {
  Sink out{nullptr, 0, 0};
  run_format(out, fmt, ap);
}

void kprintf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  kvprintf(fmt, ap);
  va_end(ap);
}

size_t vformat(char* buf, size_t cap, const char* fmt, va_list ap) {
  Sink out{buf, cap, 0};
  run_format(out, fmt, ap);
  if (cap > 0) buf[out.len] = '\0';
  return out.len;
}

size_t format(char* buf, size_t cap, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t n = vformat(buf, cap, fmt, ap);
  va_end(ap);
  return n;
}

}  // namespace guest
