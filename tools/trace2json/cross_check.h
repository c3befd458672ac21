// Cross-check of a converted QEMU capture against the guest-side
// recording of the same run (issue 6, item 4): two independent views of
// one run must agree.
//
//   converted (trace2json)                 guest recording (record=1)
//   events after "mark driver_start"       every event
//   reg_read / reg_write  ---------------  reg_read / reg_write
//     (region, off, w, val; an address:      (an address: {"dma":..,
//      {"ring":..,"as":A})                    "as":A}) -- same A
//   dev_frame dir rx, in order  ---------  frame, in order
//   dev_frame dir tx, in order  ---------  publish on a tx queue with
//                                          no writable segment: readable
//                                          bytes minus the net header
//
// The report names the first difference of each kind with both lines.
#pragma once

#include <stdint.h>

#include <string>

namespace trace2json {

struct CrossCheckResult {
  bool agree = false;
  std::string report;  // human-readable, one line per kind + differences
  std::string error;   // when a file cannot be read
  uint64_t registers = 0, rx_frames = 0, tx_frames = 0;
};

// False (with result->error) when a file is unreadable or not a trace.
bool cross_check(const std::string& converted_path, const std::string& guest_path,
                 CrossCheckResult* result);

}  // namespace trace2json
