// pcap export: the frames of a trace as an Ethernet capture for Wireshark.
//
//   trace events                         pcap records (DLT_EN10MB)
//   frame   {q, desc, data}        ->    the received frame, as delivered
//   publish {segs: readable data}  ->    the transmitted frame: the chain's
//                                        readable bytes without the
//                                        virtio-net header
//
// Records are in trace order. A trace carries no wall-clock time per
// event, so timestamps are synthetic: the event number in microseconds
// (Wireshark's "time" column then orders and spaces frames by event).
// The header size for transmit chains comes from the latest attach or
// recover result before the chain (12 when none is known yet).
#pragma once

#include <stddef.h>

#include <string>

#include "replay/trace.h"

namespace vnet::replay {

struct PcapStats {
  size_t rx_frames = 0;
  size_t tx_frames = 0;
};

// Writes (replacing) path. Returns false with *error set when libpcap
// cannot open the file.
bool export_pcap(const Trace& trace, const std::string& path, PcapStats* stats, std::string* error);

}  // namespace vnet::replay
