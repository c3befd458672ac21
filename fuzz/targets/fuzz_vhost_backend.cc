// fuzz_vhost_backend: the vhost-user FRONT END is the attacker (issue 18).
// The input is everything a front end (QEMU) controls towards a back end:
// the bytes on the vhost-user socket, the file descriptors that travel with
// them (memfds of sizes it picks, eventfds, pipes), the memory table, the
// ring addresses and sizes, and the guest memory the rings live in -- read
// by BackendSession (vhost/backend/backend_session.h), GuestMapping and
// MockDeviceBackend, with the mock device walking the rings.
//
//   input = config:u8 { kind:u8 op }*
//
// config and ops: fuzz/harness/vhost_backend_world.h (structured messages
// {request, flags, size lie, fds, payload}, raw chunks, guest memory
// pokes, kicks, rx frames, device time). Each msg/raw op is one sendmsg()
// on a socketpair, written before the session reads; then the front end's
// side is shut for writing (the session reads end-of-file at the end: no
// wait) and the session runs like vnet-vhost-device's loop --
// handle_message() until false (at most 512), the input's memory, kick
// and traffic ops placed between messages, on_kick() for readable kick
// fds, and while the rings run tick(), process_tx() and inject_rx().
//
// Per input: a fresh socketpair, MockDeviceBackend (mock::DeviceConfig{}
// unless the config byte asks for packed rings, IN_ORDER, mergeable
// buffers or offloads), BackendSession, memfds, eventfds and pipes.
// Oracles: ASan and UBSan, over the session, the mapping and (here, unlike
// the driver targets) the mock device, which walks attacker-made rings; no
// file descriptor leaks (the open fds are counted before and after every
// input: an fd the session received and neither took nor closed, or kept
// past its destruction, is `FINDING fd_leak`); no SIGBUS from a region
// that lies about its file's size (the session must refuse it); no hang
// (libFuzzer's -timeout; nothing waits: the stream ends, kicks are polled
// with timeout 0, the session's own reads are bounded by SO_RCVTIMEO).
// VNET_FUZZ_VERBOSE=1 prints what each input reached.
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <string>

#include "fuzz/harness/open_fds.h"
#include "fuzz/harness/vhost_backend_world.h"
#include "surface/site_counts.h"

using vnet::fuzz::count_open_fds;

namespace {

namespace vb = vnet::fuzz::vhost_backend;

const bool g_verbose = getenv("VNET_FUZZ_VERBOSE") != nullptr;

// VNET_SURFACE (tools/vnet-surface, fuzz.surface): every fuzz world leaves
// its counts of the driver's device reads. This world runs no driver -- the
// front end attacks the back end -- so its counts are empty; written once,
// so that the map shows the world as run, reaching no driver site.
void write_empty_surface_counts() {
  const char* dir = getenv("VNET_SURFACE");
  if (dir == nullptr || *dir == '\0') return;
  const std::string path =
      std::string(dir) + "/fuzz_vhost_backend." + std::to_string(getpid()) + ".json";
  FILE* f = fopen((path + ".tmp").c_str(), "w");
  if (f == nullptr) return;
  vnet::surface::SiteCounts::instance().write_json(f);
  if (fclose(f) == 0) rename((path + ".tmp").c_str(), path.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  write_empty_surface_counts();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int fds_before = count_open_fds();
  const vb::Outcome o = vb::run(data, size, /*allow_shrink=*/true);
  if (g_verbose) {
    fprintf(stderr,
            "vnet-fuzz: config 0x%02x ops %zu chunks %zu%s fds %zu messages %zu rings started "
            "%llu ran %d tx %llu rx %llu calls %llu kicks %llu violations %llu; %s\n",
            data[0], o.ops, o.chunks_sent, o.socket_full ? " (socket full)" : "", o.fds_sent,
            o.messages, static_cast<unsigned long long>(o.ring_starts), o.ran,
            static_cast<unsigned long long>(o.tx_frames),
            static_cast<unsigned long long>(o.rx_injected),
            static_cast<unsigned long long>(o.calls), static_cast<unsigned long long>(o.kicks),
            static_cast<unsigned long long>(o.violations),
            o.error.empty() ? "end of stream" : o.error.c_str());
    for (const auto& r : o.refusals) fprintf(stderr, "vnet-fuzz:   refused %s\n", r.c_str());
  }
  const int fds_after = count_open_fds();
  if (fds_before >= 0 && fds_after != fds_before) {
    fprintf(stderr,
            "vnet-fuzz: FINDING fd_leak: %d file descriptors open before the input, %d after\n",
            fds_before, fds_after);
    abort();
  }
  return 0;
}
