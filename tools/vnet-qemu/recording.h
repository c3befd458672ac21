// Recording on QEMU, the runner's side (docs/qemu.md, "Recording" and
// docs/qemu-capture.md).
//
//   vnet-qemu --record FILE
//     QEMU: -serial file:FILE.serial (COM2), guest command line record=1
//     guest: trace (JSON Lines) on COM2, "end" line before it exits
//     runner: wait_for_end() (bounded) before QEMU is stopped, then
//             finish_trace(): every line complete, header first, "end"
//             last with the right count; the header is completed with
//             what only the host knows, written to FILE (rename), and
//             FILE.serial removed. A stream without its end line is kept
//             as FILE.partial and the run fails.
//
//   vnet-qemu --qemu-trace DIR       (implies --record DIR/guest.jsonl)
//     DIR/qemu-trace-events   the -trace patterns (qemu_trace_patterns())
//     DIR/qemu.log            QEMU's log backend output (-trace file=)
//     DIR/frames.pcap         -object filter-dump on the NIC's netdev
//     DIR/guest.jsonl         the guest-side recording
//     DIR/capture.json        machine, transport, properties, QEMU version
//   and the NIC gets ioeventfd=off, so every kick is a traced register
//   write (with ioeventfd, kicks bypass the memory API and coalesce).
//
// Header completion (readers ignore fields they do not know):
//   transport, features {offered, negotiated}  from the guest's ready line
//   recorded.when    host UTC time the run started
//   recorded.by      "vnet-qemu"
//   recorded.scenario  "tcp-echo n=N size=A..B seed=S" (or udp-echo)
//   recorded.qemu    {"version","machine","accel":"tcg","transport",
//                     "device_props":[..],"net"}
#pragma once

#include <stdint.h>

#include <map>
#include <string>
#include <vector>

namespace vnetqemu {

// What the runner knows about a run, for the header.
struct RunFacts {
  std::string qemu_version;
  std::string machine;
  std::string transport;  // legacy | modern | transitional
  std::vector<std::string> device_props;
  std::string net;
  std::string scenario;
  std::string started_utc;                   // ISO 8601
  std::map<std::string, std::string> ready;  // fields of the ready line
};

// Polls the stream file until a complete "end" line is its last line, or
// timeout_ms passes. True when the end line arrived.
bool wait_for_end(const std::string& stream_path, int timeout_ms);

// Validates the stream and writes the completed trace to out_path. On
// failure, *error says what is wrong (file and line) and the stream is
// kept as out_path + ".partial". events_out: events in the trace.
bool finish_trace(const std::string& stream_path, const std::string& out_path,
                  const RunFacts& facts, uint64_t* events_out, std::string* error);

// The -trace patterns for a virtio-net-pci capture, one per line.
std::string qemu_trace_patterns();

// "QEMU emulator version 7.2.22 (...)" -> "7.2.22"; "" when it cannot run.
std::string qemu_version(const std::string& qemu_binary);
std::string utc_now_iso8601();

}  // namespace vnetqemu
