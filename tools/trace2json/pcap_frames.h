// The frames of a filter-dump pcap, one direction at a time.
//
//   frames.pcap (both directions, in order)
//     FrameCursor(kFromGuest): frames whose source MAC is the guest's  -> tx pops
//     FrameCursor(kToGuest):   every other frame                        -> rx fills
//
// QEMU's filter-dump writes no direction flag, so direction is told by the
// source MAC. Each cursor opens the file on its own, so neither direction
// is buffered while the other one is consumed: memory stays bounded
// however the two interleave. Link type must be Ethernet.
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

struct pcap;

namespace trace2json {

enum class Direction { kFromGuest, kToGuest };

class FrameCursor {
 public:
  FrameCursor() = default;
  ~FrameCursor();
  FrameCursor(const FrameCursor&) = delete;
  FrameCursor& operator=(const FrameCursor&) = delete;

  // False with *error set when the file cannot be read as an Ethernet pcap.
  bool open(const std::string& path, Direction dir, std::string* error);
  void set_guest_mac(const uint8_t mac[6]);
  bool has_guest_mac() const { return has_mac_; }

  // The next frame of this direction; false at the end of the file.
  bool next(std::vector<uint8_t>* frame);
  uint64_t frames_read() const { return read_; }
  uint64_t truncated() const { return truncated_; }  // caplen < len

 private:
  pcap* p_ = nullptr;
  Direction dir_ = Direction::kToGuest;
  uint8_t mac_[6] = {};
  bool has_mac_ = false;
  uint64_t read_ = 0;
  uint64_t truncated_ = 0;
};

}  // namespace trace2json
