// Cross-check of a converted QEMU capture against the guest-side
// recording of the same run (issue 6, item 4): two independent views of
// one run must agree.
//
//   converted (trace2json)                 guest recording (record=1)
//   events after "mark driver_start"       every event
//   reg_read / reg_write  ---------------  reg_read / reg_write
//     (region, off, w, val; an address:      (an address: {"dma":..,
//      {"ring":..,"as":A})                    "as":A}) -- same A
//   dev_frame dir rx, in order  ---------  frame, in order (a receive
//                                          chain's frames joined: the
//                                          rx_header's num_buffers)
//   dev_frame dir tx, in order  ---------  publish on a tx queue with
//                                          no writable segment: readable
//                                          bytes minus the net header
//
// The report names the first difference of each kind with both lines, the
// recording's net header of that frame in words (net_header.h), and how
// many of the recording's frames carried offload headers.
#pragma once

#include <stdint.h>

#include <string>

namespace trace2json {

struct CrossCheckResult {
  bool agree = false;
  std::string report;  // human-readable, one line per kind + differences
  std::string error;   // when a file cannot be read
  uint64_t registers = 0, rx_frames = 0, tx_frames = 0;
  // The recording's frames whose net header asks (tx) or reports (rx) an
  // offload (net_header.h), and its frames of several buffers (rx: receive
  // chains, assembled from the frame events a rx_header's num_buffers
  // names, before they are compared).
  uint64_t rx_offload_headers = 0, tx_offload_headers = 0;
  uint64_t rx_chains = 0, tx_chains = 0;
};

// False (with result->error) when a file is unreadable or not a trace.
bool cross_check(const std::string& converted_path, const std::string& guest_path,
                 CrossCheckResult* result);

}  // namespace trace2json
