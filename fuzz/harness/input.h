// Input: the fuzzer's bytes, read front to back.
//
//   data                                              data + size
//   |<-- consumed -->|<--------- remaining -------->|
//                    pos
//
// Every read is bounded: a read past the end yields zero bytes (so a short
// input is a device that answers zero from then on), and exhausted() says
// so. Values are little-endian, like virtio's wire.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

namespace vnet::fuzz {

class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool exhausted() const { return pos_ >= size_; }
  size_t remaining() const { return pos_ < size_ ? size_ - pos_ : 0; }
  size_t position() const { return pos_; }

  uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
  uint32_t u32() { return u16() | (uint32_t{u16()} << 16); }
  uint64_t u64() { return u32() | (uint64_t{u32()} << 32); }
  // The next width (1, 2, 4 or 8) bytes as a little-endian value.
  uint64_t value(unsigned width) {
    uint64_t v = 0;
    for (unsigned i = 0; i < width; ++i) v |= uint64_t{u8()} << (8 * i);
    return v;
  }
  // Copies up to len bytes into dst and zero-fills the rest.
  void bytes(void* dst, size_t len) {
    const size_t take = len < remaining() ? len : remaining();
    if (take != 0) memcpy(dst, data_ + pos_, take);
    if (take < len) memset(static_cast<uint8_t*>(dst) + take, 0, len - take);
    pos_ += take;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace vnet::fuzz
