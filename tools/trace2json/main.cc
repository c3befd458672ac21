// trace2json: QEMU's own trace log (+ its filter-dump pcap) -> a vnetkit
// trace (docs/qemu-capture.md).
//
//   trace2json LOG [--pcap FILE] [-o OUT] [--pci BDF] [--guest-mac MAC]
//              [--cross-check GUEST_TRACE] [--accept-incomplete]
//
//   LOG (plain or gzip) --zlib, 256 KiB reads--> lines --> Converter
//        events --TraceWriter--> OUT.events.tmp (or an unnamed temp file)
//   end of input: header (now known) + events + end line --> OUT / stdout
//
// Memory stays bounded whatever the log's size: one read buffer, one line,
// the converter's per-queue state. Progress on stderr for inputs above
// 32 MiB (every second: bytes, percent, lines/s).
//
// Exit status: 0 converted; 1 a QEMU log with no usable virtio-net events,
// nothing of the NIC beyond its configuration space, or a conversion that
// left NIC events or frames unattributed (unless --accept-incomplete), or
// --cross-check found a difference; 2 usage, unreadable input, or an
// input that is not a QEMU trace log at all.
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "replay/record/trace_events.h"
#include "replay/record/trace_writer.h"
#include "tools/trace2json/converter.h"
#include "tools/trace2json/cross_check.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitNothingUsable = 1;
constexpr int kExitBadInput = 2;
constexpr size_t kReadChunk = 256 * 1024;
constexpr size_t kMaxLine = 1 << 20;
constexpr uint64_t kProgressThreshold = 32ull << 20;

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::string base_name(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

void file_sink(void* context, const char* data, size_t len) {
  fwrite(data, 1, len, static_cast<FILE*>(context));
}

bool parse_mac(const std::string& s, uint8_t out[6]) {
  unsigned b[6];
  if (sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
    return false;
  for (int i = 0; i < 6; ++i) {
    if (b[i] > 255) return false;
    out[i] = static_cast<uint8_t>(b[i]);
  }
  return true;
}

std::string human_bytes(double b) {
  char buf[32];
  if (b >= 1e9)
    snprintf(buf, sizeof(buf), "%.2f GB", b / 1e9);
  else
    snprintf(buf, sizeof(buf), "%.1f MB", b / 1e6);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::string log_path, pcap_path, out_path, pci, guest_mac, cross_check_path;
  bool quiet = false, progress = true, accept_incomplete = false, compact = true;
  CLI::App app{"Convert a QEMU trace log (and its filter-dump pcap) into a vnetkit trace."};
  app.add_option("LOG", log_path, "QEMU -trace log (plain or gzip)")->required();
  app.add_option("--pcap", pcap_path, "filter-dump pcap of the NIC's netdev (frames)");
  app.add_option("-o,--output", out_path, "output trace (default: stdout)");
  app.add_option("--pci", pci,
                 "PCI address of the NIC (BB:DD.F; default: the first virtio-net-pci)");
  app.add_option("--guest-mac", guest_mac,
                 "the guest's MAC, to tell pcap directions (default: read from config space)");
  app.add_option("--cross-check", cross_check_path,
                 "compare the result with a guest-side recording of the same run");
  app.add_flag("--accept-incomplete", accept_incomplete,
               "write the trace (exit 0) even when nothing of the NIC was found beyond its "
               "configuration space, or pops, fills or frames were left unattributed");
  app.add_flag("!--no-compact", compact,
               "write every register access on its own line (format version 1), not "
               "repeated identical ones once with a count");
  app.add_flag("-q,--quiet", quiet, "print nothing but errors");
  app.add_flag("!--no-progress", progress, "no progress lines on large inputs");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitBadInput;
  }

  trace2json::Options o;
  o.pcap_path = pcap_path;
  o.log_name = base_name(log_path);
  o.pcap_name = pcap_path.empty() ? "" : base_name(pcap_path);
  o.pci_bdf = pci;
  if (!guest_mac.empty()) {
    if (!parse_mac(guest_mac, o.guest_mac)) {
      fprintf(stderr, "trace2json: --guest-mac '%s' is not xx:xx:xx:xx:xx:xx\n", guest_mac.c_str());
      return kExitBadInput;
    }
    o.has_guest_mac = true;
  }

  struct stat st {};
  if (stat(log_path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    fprintf(stderr, "trace2json: %s: not a readable file\n", log_path.c_str());
    return kExitBadInput;
  }
  gzFile in = gzopen(log_path.c_str(), "rb");
  if (in == nullptr) {
    fprintf(stderr, "trace2json: %s: cannot open\n", log_path.c_str());
    return kExitBadInput;
  }
  gzbuffer(in, kReadChunk);

  std::string events_path = out_path.empty() ? "" : out_path + ".events.tmp";
  FILE* events = events_path.empty() ? tmpfile() : fopen(events_path.c_str(), "w+b");
  if (events == nullptr) {
    fprintf(stderr, "trace2json: cannot create a temporary file for the events\n");
    gzclose(in);
    return kExitBadInput;
  }
  vnet::trace::TraceWriter writer(vnet::trace::ByteSink{&file_sink, events});
  writer.set_compact(compact);
  trace2json::Converter conv(o, writer);
  std::string error;
  if (!conv.open(&error)) {
    fprintf(stderr, "trace2json: %s\n", error.c_str());
    gzclose(in);
    fclose(events);
    if (!events_path.empty()) unlink(events_path.c_str());
    return kExitBadInput;
  }

  const bool show_progress =
      progress && !quiet && static_cast<uint64_t>(st.st_size) > kProgressThreshold;
  const double t0 = now_s();
  double last_progress = t0;
  std::vector<char> buf(kReadChunk);
  std::string line;
  bool long_line = false;
  bool read_error = false;
  std::string read_error_text;
  for (;;) {
    int n = gzread(in, buf.data(), static_cast<unsigned>(buf.size()));
    if (n < 0) {
      int errnum = 0;
      read_error_text = gzerror(in, &errnum);
      read_error = true;
      break;
    }
    if (n == 0) break;
    const char* p = buf.data();
    const char* end = p + n;
    while (p < end) {
      const char* nl = static_cast<const char*>(memchr(p, '\n', static_cast<size_t>(end - p)));
      const char* stop = nl != nullptr ? nl : end;
      if (!long_line) {
        if (line.size() + static_cast<size_t>(stop - p) > kMaxLine) {
          long_line = true;  // counted as one foreign line when it ends
          line.clear();
        } else {
          line.append(p, stop);
        }
      }
      if (nl == nullptr) break;
      conv.feed(long_line ? std::string_view("\x01") : std::string_view(line));
      line.clear();
      long_line = false;
      p = nl + 1;
    }
    p = end;
    if (show_progress) {
      double t = now_s();
      if (t - last_progress >= 1.0) {
        last_progress = t;
        double done = static_cast<double>(gzoffset(in));
        fprintf(stderr, "trace2json: %s of %s (%.0f%%), %.0f lines/s\n", human_bytes(done).c_str(),
                human_bytes(static_cast<double>(st.st_size)).c_str(),
                100.0 * done / static_cast<double>(st.st_size),
                static_cast<double>(conv.stats().lines) / (t - t0));
      }
    }
  }
  if (!line.empty() || long_line)
    conv.feed(long_line ? std::string_view("\x01") : std::string_view(line));  // cut last line
  gzclose(in);
  conv.finish();
  const double seconds = now_s() - t0;
  const trace2json::Stats& s = conv.stats();

  auto discard = [&] {
    fclose(events);
    if (!events_path.empty()) unlink(events_path.c_str());
  };
  if (read_error && s.lines == 0) {
    fprintf(stderr, "trace2json: %s: %s\n", log_path.c_str(), read_error_text.c_str());
    discard();
    return kExitBadInput;
  }
  if (!conv.saw_qemu_trace()) {
    fprintf(stderr,
            "trace2json: %s: not a QEMU trace log: none of its %llu lines is a QEMU trace event "
            "('[TID@SEC.USEC:]event args' with an event such as memory_region_ops_write or "
            "virtqueue_pop)",
            log_path.c_str(), static_cast<unsigned long long>(s.lines));
    if (s.first_foreign_line != 0)
      fprintf(stderr, "; line %llu: \"%s\"", static_cast<unsigned long long>(s.first_foreign_line),
              s.first_foreign.c_str());
    fputc('\n', stderr);
    discard();
    return kExitBadInput;
  }
  if (!conv.found_device()) {
    fprintf(stderr,
            "trace2json: %s: a QEMU trace log (%llu trace lines), but no virtio-net-pci device "
            "events in it: capture with the patterns of docs/qemu-capture.md\n",
            log_path.c_str(), static_cast<unsigned long long>(s.qemu_lines));
    discard();
    return kExitNothingUsable;
  }
  if (read_error)
    fprintf(stderr, "trace2json: %s: input ends early (%s); converted what was readable\n",
            log_path.c_str(), read_error_text.c_str());
  // Honest exits: a conversion that found nothing of the NIC, or left part
  // of it unattributed, is not a capture to replay without being told so.
  bool incomplete = false;
  if (!conv.found_nic()) {
    incomplete = true;
    fprintf(stderr,
            "trace2json: %s: nothing of the NIC was found: %llu accesses to the configuration "
            "space of %s, but no register access in its BARs and no virtqueue event "
            "(%llu lines of other devices; offsets guessed %llu)\n",
            log_path.c_str(), static_cast<unsigned long long>(s.accesses),
            conv.header()["capture"]["pci"].get<std::string>().c_str(),
            static_cast<unsigned long long>(s.other_device),
            static_cast<unsigned long long>(s.offset_guessed));
  } else if (conv.unattributed() != 0) {
    incomplete = true;
    fprintf(stderr,
            "trace2json: %s: incomplete conversion: %llu pops of no known queue, %llu fills "
            "that close no pop, %llu pops/fills without a pcap frame, %llu rx frames whose "
            "fills do not add up to header + frame, %llu pcap frames no pop or fill took\n",
            log_path.c_str(), static_cast<unsigned long long>(s.unattributed_pops),
            static_cast<unsigned long long>(s.unmatched_fills),
            static_cast<unsigned long long>(s.frames_missing),
            static_cast<unsigned long long>(s.frame_len_mismatch),
            static_cast<unsigned long long>(s.frames_unused));
    if (s.packed_fill_gaps != 0)
      fprintf(stderr,
              "trace2json: %s: %llu packed-ring fills whose batch index does not continue "
              "their batch (fills missing from the log: the derived flushes would commit the "
              "wrong entries)\n",
              log_path.c_str(), static_cast<unsigned long long>(s.packed_fill_gaps));
  }
  if (incomplete && !accept_incomplete) {
    fprintf(stderr,
            "trace2json: no trace written (exit 1); --accept-incomplete writes it anyway\n");
    discard();
    return kExitNothingUsable;
  }

  vnet::trace::write_end(writer);
  writer.flush();
  fflush(events);
  rewind(events);
  FILE* out = out_path.empty() ? stdout : fopen((out_path + ".tmp").c_str(), "wb");
  if (out == nullptr) {
    fprintf(stderr, "trace2json: %s: cannot write\n", out_path.c_str());
    discard();
    return kExitBadInput;
  }
  std::string header = conv.header().dump() + "\n";
  fwrite(header.data(), 1, header.size(), out);
  size_t k;
  while ((k = fread(buf.data(), 1, buf.size(), events)) > 0) fwrite(buf.data(), 1, k, out);
  bool write_ok = fflush(out) == 0 && !ferror(out);
  if (!out_path.empty()) {
    write_ok = fclose(out) == 0 && write_ok;
    if (write_ok) write_ok = rename((out_path + ".tmp").c_str(), out_path.c_str()) == 0;
  }
  discard();
  if (!write_ok) {
    fprintf(stderr, "trace2json: %s: write failed\n",
            out_path.empty() ? "stdout" : out_path.c_str());
    return kExitBadInput;
  }

  if (!quiet) {
    fprintf(
        stderr,
        "trace2json: %llu lines in %.2f s (%.0f lines/s): %llu QEMU trace lines, %llu for the "
        "NIC -> %llu events; %llu unknown, %llu malformed, %llu foreign",
        static_cast<unsigned long long>(s.lines), seconds,
        seconds > 0 ? static_cast<double>(s.lines) / seconds : 0.0,
        static_cast<unsigned long long>(s.qemu_lines), static_cast<unsigned long long>(s.nic_lines),
        static_cast<unsigned long long>(s.events), static_cast<unsigned long long>(s.unknown),
        static_cast<unsigned long long>(s.malformed), static_cast<unsigned long long>(s.foreign));
    if (!pcap_path.empty())
      fprintf(stderr, "; frames rx %llu tx %llu, missing %llu, length mismatches %llu",
              static_cast<unsigned long long>(s.frames_rx),
              static_cast<unsigned long long>(s.frames_tx),
              static_cast<unsigned long long>(s.frames_missing),
              static_cast<unsigned long long>(s.frame_len_mismatch));
    fputc('\n', stderr);
    if (s.first_malformed_line != 0)
      fprintf(stderr, "trace2json: first malformed line %llu: \"%s\"\n",
              static_cast<unsigned long long>(s.first_malformed_line), s.first_malformed.c_str());
    if (!s.unknown_events.empty()) {
      fprintf(stderr, "trace2json: unknown events:");
      for (const auto& [name, count] : s.unknown_events)
        fprintf(stderr, " %s=%llu", name.c_str(), static_cast<unsigned long long>(count));
      fputc('\n', stderr);
    }
  }

  if (!cross_check_path.empty()) {
    if (out_path.empty()) {
      fprintf(stderr, "trace2json: --cross-check needs -o OUT\n");
      return kExitBadInput;
    }
    trace2json::CrossCheckResult r;
    if (!trace2json::cross_check(out_path, cross_check_path, &r)) {
      fprintf(stderr, "trace2json: cross-check: %s\n", r.error.c_str());
      return kExitBadInput;
    }
    printf("%s", r.report.c_str());
    return r.agree ? kExitOk : kExitNothingUsable;
  }
  return kExitOk;
}
