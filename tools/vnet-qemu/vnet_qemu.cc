// vnet-qemu: boot vnet-guest.elf under qemu-system-x86_64 (TCG) and prove
// the driver on QEMU's real virtio-net device with echoes, byte for byte.
//
//   vnet-qemu                                 QEMU (user networking, restrict=on)
//   ---------                                 -----------------------------------
//   start QEMU -------------------------------> guest boots, attaches the driver
//   wait for "vnet-guest: ready ..."  <-------- COM1 console (stdout pipe)
//   check features against the driver's table
//   connect 127.0.0.1:TCP ------------------> hostfwd=tcp -> 10.0.2.15:7
//   message i (size/bytes from seed, i)
//     write it, read back exactly its bytes <-- the guest's TCP echo
//     compare byte for byte
//   FIN -> the guest's FIN (nothing more may arrive)
//   "exit" -> 127.0.0.1:CTL ----------------> hostfwd=udp -> 10.0.2.15:7070
//     guest prints counters, writes isa-debug-exit: status 33 (the UDP
//     answer cannot come back under restrict=on, see link.h)
//
// With --net socket the runner is the guest's Ethernet peer instead and
// the echoes are UDP datagrams (link.h); counters come over UDP too.
//
// Expected-failure runs (--expect attach-failure|probe-failure|no-device|
// bad-cmdline) check that the guest refuses with the right exit status.
//
// --action irqtest|idle|lspci runs one of the guest's other actions
// instead of the echo test (guest/irq_actions.h): the guest exits by
// itself, and the run passes when it exits with status 33. --edu N adds
// N QEMU "edu" test devices, on which action=irqtest proves INTx routing
// and MSI.
//
// --irq poll|intx|msix passes irq=<mode> to the guest (and, for intx,
// vectors=0 to the NIC, so that QEMU offers no MSI-X) and checks the mode
// and the NIC's MSI-X table size on the ready line. Without --irq the
// guest's default (msix) applies. The ready line's irq_mode= (what the
// driver took) must be the highest rung the NIC and the guest offer:
// msix when the NIC has MSI-X, else intx when the guest routed the line,
// else poll; a recording guest does the same when --irq (or -g irq=) is
// given, and polls without it (its trace then has no interrupts).
//
// -M microvm boots QEMU's PCI-less machine instead: the NIC is a
// virtio-net-device on a virtio-mmio transport (--mmio-version 1, QEMU
// 7.2's default legacy interface, or 2), which the guest finds on the
// kernel command line QEMU appends (acpi=off) or, with --microvm-acpi, by
// probing QEMU's slots; its interrupt is a line through the I/O APIC
// (--irq intx) or none (--irq poll); there is no MSI-X. The ready line
// must name transport mmio-v1 or mmio-v2 (docs/qemu.md, "microvm").
//
// The ready line's ring= (split, packed), event_idx= and indirect_desc=
// are what the driver negotiated and must agree with features=. The guest
// accepts the packed ring by default (-g packed=0 declines it), so with
// -p packed=on on a modern interface (virtio-pci modern or transitional,
// virtio-mmio version 2) RING_PACKED must be offered and negotiated;
// --expect-ring split|packed states the ring kind a test requires.
//
// Indirect descriptors: the guest accepts VIRTIO_F_INDIRECT_DESC by
// default (-g indirect=0 declines it), so an offered INDIRECT_DESC must be
// negotiated, and the guest then sends its replies as scatter-gather frames
// (-g tx_frags=auto: two fragments, headers and payload) that the driver
// publishes through indirect tables. At exit the guest prints
// "vnet-guest: tx sg_packets=N indirect_chains=N frags=F";
// --expect-indirect on requires indirect_desc=on on the ready line and
// indirect_chains > 0 at exit, off requires indirect_desc=off and 0.
//
// --record FILE: the guest records its run (record=1) to COM2, the runner
// saves the finished trace (recording.h). --qemu-trace DIR also captures
// QEMU's own trace log and a pcap of the NIC's traffic (docs/qemu-capture.md).
//
// The control plane (issue 15): the guest accepts CTRL_VQ and the command
// features by default (-g ctrl=1); the ready line's ctrl= must agree with
// the negotiated CTRL_VQ and every offered command feature be negotiated
// with it, none without it. --ctrl-check promisc|allmulti|mac-filter|
// set-mac|vlan|announce (--net socket) asks the guest for a setting over
// its control port and checks that QEMU's receive filter follows it, with
// frames to other MACs and VLANs (docs/qemu.md, "Control plane").
// --expect-features and --expect-ctrl state what must be negotiated.
//
// --net tap runs QEMU on a tap device inside a network namespace the run
// creates and removes (netns.h; root), --queues N makes it multiqueue, and
// the guest's -g pairs=N drives N queue pairs; --expect-pairs-active N
// requires traffic on each, --expect-rss on RSS configured (-g rss=1).
//
// Offloads and big frames (issue 16): -g csum=1 / tso=1 / chains=1 /
// max_frame=N ask the guest for them (guest/main.cc). --host-mtu N gives
// the NIC host_mtu=N (and, with --net tap, the tap the same MTU).
// --bulk BYTES streams that many bytes through one more TCP connection to
// the guest's echo, sending and reading at once, compares every byte and
// reports bytes/s. --expect-offloads on requires what the guest asked for
// to be negotiated (the ready line's offloads=) and used (its exit line
// "vnet-guest: offload ...": checksums left to the device, TSO segments
// above the MTU, checksum-offloaded and coalesced frames received); on
// --net tap the runner also captures the tap (tap_capture.h) and requires
// the device side to show it: frames above MTU + 14 from the guest, frames
// with their checksum still to complete, each holding exactly the
// pseudo-header sum. --expect-offloads off requires none negotiated (QEMU
// offers none over user networking). --tap-pcap FILE saves the capture.
//
// Exit status: 0 success, 1 failure (echo, boot, expectation), 2 usage, 77
// skipped (--net tap on a machine without root, /dev/net/tun or ip).
// Every path, signals included, leaves no QEMU behind (qemu_process.h).
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "driver/net/virtio_net.h"
#include "driver/spec/virtio_constants.h"
#include "tools/vnet-qemu/echo_client.h"
#include "tools/vnet-qemu/link.h"
#include "tools/vnet-qemu/netns.h"
#include "tools/vnet-qemu/qemu_process.h"
#include "tools/vnet-qemu/recording.h"
#include "tools/vnet-qemu/tap_capture.h"

namespace vnetqemu {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitSkipped = 77;  // --net tap on a machine that cannot (ctest SKIP_RETURN_CODE)
constexpr uint32_t kMaxUdpPayload = 1472;  // 1500-byte IPv4 MTU of QEMU user networking
// TCP messages may be larger than a segment: the guest's TCP echo cuts its
// replies by MSS and window (8 KiB), so a message of several MSS and
// several windows exercises segmentation both ways. 64 KiB stays within
// what the loopback socket buffers hold while the runner is still writing.
constexpr uint32_t kMaxTcpMessage = 65536;
constexpr uint32_t kIpv4UdpHeaders = 20 + 8;
constexpr uint32_t kIpv4TcpHeaders = 20 + 20;
constexpr unsigned kFeatureMtu = 3;
constexpr unsigned kFeatureAccessPlatform = 33;
constexpr unsigned kFeatureIndirectDesc = 28;
constexpr unsigned kFeatureEventIdx = 29;
constexpr unsigned kFeatureRingPacked = 34;
constexpr uint16_t kGuestEchoPort = 7;
constexpr uint16_t kGuestControlPort = 7070;
constexpr int kPortAttempts = 3;

// Guest exit values (guest/kernel/exit.h) and QEMU's status for them.
constexpr int kGuestOk = 0x10, kGuestAttachFailed = 0x11, kGuestNoDevice = 0x12,
              kGuestProbeFailed = 0x13, kGuestBadCommandLine = 0x17;
constexpr int qemu_status(int guest_value) {
  return (guest_value << 1) | 1;
}

enum class Expect { kEcho, kAttachFailure, kProbeFailure, kNoDevice, kBadCommandLine };

struct Options {
  std::string qemu = "qemu-system-x86_64";
  std::string kernel;
  std::string machine = "q35";
  std::string transport = "transitional";
  bool transport_given = false;  // -t on the command line
  uint32_t mmio_version = 0;     // --mmio-version (microvm): 1 or 2; 0: not given (1)
  bool microvm_acpi = false;     // --microvm-acpi: microvm with ACPI (no command-line entries)
  std::vector<std::string> device_props;
  std::vector<std::string> guest_args;
  std::string irq;     // --irq: poll, intx, msix; empty: not passed
  std::string action;  // --action: irqtest, idle, lspci; empty: serve (echo test)
  uint32_t edu = 0;    // --edu: QEMU edu test devices
  uint32_t memory_mib = 128;
  uint64_t count = 1000;
  uint32_t min_size = 1;
  uint32_t max_size = kMaxUdpPayload;
  bool max_size_given = false;  // --max-size on the command line
  uint64_t seed = 1;
  double boot_timeout_s = 30;
  double echo_timeout_s = 2;
  double idle_cpu_s = 0;  // --idle-cpu: measure QEMU's CPU while the guest idles this long
  uint32_t retries = 2;
  double total_timeout_s = 600;
  std::string expect = "echo";
  std::string net = "user";
  uint32_t inject_malformed = 0;
  uint32_t inject_oversize = 0;
  std::vector<std::string> require_counters;
  std::string expect_ring;      // --expect-ring: split, packed; empty: not checked beyond the rules
  std::string expect_indirect;  // --expect-indirect: on, off; empty: not checked
  // Issue 15: the control plane.
  std::vector<std::string> ctrl_checks;      // --ctrl-check
  std::vector<std::string> expect_features;  // --expect-features: names that must be negotiated
  std::string expect_ctrl;                   // --expect-ctrl: on, off
  uint32_t expect_pairs_active = 0;          // --expect-pairs-active
  std::string expect_rss;                    // --expect-rss: on, off
  // --net tap
  uint32_t queues = 1;     // --queues: tap queues (and device mq=on when > 1)
  uint32_t udp_flows = 8;  // --udp-flows: UDP source ports (tap)
  uint32_t tcp_flows = 0;  // --tcp-flows: TCP connections at once; 0: 1 (4 on tap)
  bool tap_vnet_hdr = false;
  // Issue 16: offloads and big frames.
  uint32_t host_mtu = 0;        // --host-mtu: host_mtu= on the NIC (and the tap's MTU)
  std::string expect_offloads;  // --expect-offloads: on, off
  uint64_t bulk_bytes = 0;      // --bulk: one TCP stream of this many bytes
  std::string tap_pcap;         // --tap-pcap: the tap capture's pcap
  bool counter_check = true;
  bool exit_device = true;
  std::string trace_serial;
  std::string record_path;
  std::string qemu_trace_dir;
  double record_end_timeout_s = 10;
  std::string json_path;
  bool show_console = false;
  bool verbose = false;
  bool quiet = false;
};

// The machine string for QEMU's microvm. acpi=off: only then does QEMU
// append virtio_mmio.device=<size>@<base>:<irq> to the kernel command line
// (hw/i386/microvm.c: with ACPI the windows are in the DSDT, which the
// guest does not read; it probes QEMU's slots then). pit=on: the guest
// calibrates its TSC against PIT channel 0 (microvm has no port 0x61 for
// channel 2). rtc=on: a recording's header takes its UTC time from the
// CMOS clock. pic=off: the guest masks the 8259s anyway; its virtio-mmio
// lines reach the CPU through the I/O APIC. isa-serial=on: COM1, the
// console. x-option-roms=off: QEMU's qboot firmware boots the PVH image
// from fw_cfg by itself.
std::string microvm_machine(bool acpi) {
  return std::string("microvm,") + (acpi ? "" : "acpi=off,") +
         "pit=on,rtc=on,pic=off,isa-serial=on,x-option-roms=off";
}

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

std::string dirname_of_self() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<size_t>(n));
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string hex(uint64_t v) {
  char b[32];
  snprintf(b, sizeof(b), "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

std::string feature_names(uint64_t set) {
  std::string out;
  for (unsigned bit = 0; bit < 64; ++bit) {
    if (!(set & (uint64_t{1} << bit))) continue;
    if (!out.empty()) out += ' ';
    const char* name = vnet::spec::feature_name(bit);
    out += name != nullptr ? name : "bit" + std::to_string(bit);
  }
  return out.empty() ? "(none)" : out;
}

std::map<std::string, std::string> parse_fields(const std::string& line) {
  std::map<std::string, std::string> out;
  std::istringstream in(line);
  std::string token;
  while (in >> token) {
    size_t eq = token.find('=');
    if (eq != std::string::npos) out[token.substr(0, eq)] = token.substr(eq + 1);
  }
  return out;
}

uint64_t parse_u64(const std::string& s) {
  try {
    return std::stoull(s, nullptr, 0);
  } catch (...) {
    return 0;
  }
}

std::map<std::string, uint64_t> parse_counters(const std::string& text) {
  std::map<std::string, uint64_t> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = parse_u64(line.substr(eq + 1));
  }
  return out;
}

// Device properties a user passes: key=value, comma-separated lists allowed.
// The NIC's backend is not theirs to change.
bool split_props(const std::vector<std::string>& in,
                 std::vector<std::pair<std::string, std::string>>* out, std::string* error) {
  for (const std::string& item : in) {
    std::istringstream s(item);
    std::string kv;
    while (std::getline(s, kv, ',')) {
      if (kv.empty()) continue;
      size_t eq = kv.find('=');
      if (eq == 0 || eq == std::string::npos) {
        *error = "device property '" + kv + "' is not key=value";
        return false;
      }
      std::string key = kv.substr(0, eq);
      for (char c : key) {
        if (!isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
          *error = "device property name '" + key + "' is invalid";
          return false;
        }
      }
      if (key == "netdev" || key == "id" || key == "bus" || key == "addr") {
        *error = "device property '" + key + "' is set by vnet-qemu";
        return false;
      }
      out->emplace_back(key, kv.substr(eq + 1));
    }
  }
  return true;
}

// Feature bits a device property switches off when set to "off"/"false".
std::optional<unsigned> feature_of_prop(const std::string& key) {
  static const std::map<std::string, unsigned> kMap = {
      {"csum", 0},        {"guest_csum", 1},     {"mrg_rxbuf", 15},       {"status", 16},
      {"ctrl_vq", 17},    {"ctrl_rx", 18},       {"ctrl_vlan", 19},       {"mq", 22},
      {"any_layout", 27}, {"indirect_desc", 28}, {"event_idx", 29},       {"guest_announce", 21},
      {"host_tso4", 11},  {"host_tso6", 12},     {"guest_tso4", 7},       {"guest_tso6", 8},
      {"host_ufo", 14},   {"guest_ufo", 10},     {"notify_on_empty", 24}, {"iommu_platform", 33},
      {"packed", 34}};
  auto it = kMap.find(key);
  if (it == kMap.end()) return std::nullopt;
  return it->second;
}

bool is_off(const std::string& v) {
  return v == "off" || v == "false" || v == "no";
}

struct RttStats {
  std::vector<double> ms;
  double pct(double p) const {
    if (ms.empty()) return 0;
    std::vector<double> s = ms;
    std::sort(s.begin(), s.end());
    size_t i = static_cast<size_t>(std::ceil(p / 100.0 * s.size()));
    return s[i == 0 ? 0 : std::min(i - 1, s.size() - 1)];
  }
  double mean() const {
    double t = 0;
    for (double v : ms) t += v;
    return ms.empty() ? 0 : t / ms.size();
  }
};

class Runner {
 public:
  explicit Runner(const Options& o) : o_(o) {}
  int run();

 private:
  bool boot();
  int check_expected_failure();
  int run_action();
  bool check_ready_line();
  bool fit_sizes_to_mtu();
  bool echo_all();
  bool echo_tcp();
  bool exit_one_way();
  bool inject_malformed();
  bool inject_oversize();
  bool read_console_counters();
  bool measure_idle_cpu();
  bool control(const std::string& command, std::string* reply);
  bool check_counters();
  uint32_t tcp_flows() const { return o_.tcp_flows != 0 ? o_.tcp_flows : o_.net == "tap" ? 4 : 1; }
  // Issue 15 (--ctrl-check): the guest's control commands and what QEMU's
  // receive filter lets through.
  bool run_ctrl_checks();
  bool ctrl_check(const std::string& check);
  bool ctrl_command(const std::string& check, const std::string& command);
  bool probe(const uint8_t dst[6], int tci, bool* delivered);
  bool expect_delivery(const std::string& check, const std::string& what, const uint8_t dst[6],
                       int tci, bool want);
  bool check_announce();
  bool monitor_command(const std::string& command, std::string* error);
  bool check_pairs();
  // The guest's "vnet-guest: tx" exit line against --expect-indirect.
  bool check_tx_line();
  // Issue 16: the bulk TCP stream, and the offloads against --expect-offloads.
  bool echo_bulk();
  bool check_offloads();
  bool guest_asks(const char* key) const;
  uint32_t link_mtu() const;
  bool shutdown_guest();
  void fail(const std::string& why);
  void dump_diagnostics();
  void progress(uint64_t done, bool final);
  std::vector<std::string> qemu_argv() const;
  bool microvm() const { return o_.machine == "microvm"; }
  uint32_t mmio_version() const { return o_.mmio_version == 0 ? 1 : o_.mmio_version; }
  // What the ready line's transport= must be, and what a trace header says.
  std::string transport_name() const {
    if (microvm()) return "mmio-v" + std::to_string(mmio_version());
    return o_.transport;
  }
  void write_json(int rc);
  bool finish_recording();
  std::string scenario() const;

  const Options& o_;
  Expect expect_ = Expect::kEcho;
  uint32_t max_size_ = 0;  // --max-size, or for UDP the largest payload the MTU carries
  std::vector<std::pair<std::string, std::string>> props_;
  NetNs netns_;  // --net tap: torn down after QEMU (members die in reverse order)
  bool prerequisite_missing_ = false;  // --net tap without root, tun or ip: exit kExitSkipped
  QemuProcess qemu_;
  std::unique_ptr<Link> link_;
  std::string netdev_;
  uint64_t injected_ = 0;
  uint64_t oversize_injected_ = 0;
  double t_start_ = 0;
  double boot_s_ = 0;
  double first_echo_s_ = -1;
  double idle_s_ = 0;  // the --idle-cpu window (and its settle time)
  double idle_cpu_percent_ = -1;
  double echo_s_ = 0;
  std::string ready_line_;
  std::map<std::string, std::string> ready_;
  uint8_t guest_mac_[6] = {};  // the guest's MAC now (--ctrl-check set-mac changes it)
  uint64_t probe_seq_ = 0;
  bool marker_broadcast_ = false;  // rx-extra's no-unicast step: markers and requests to broadcast
  std::string monitor_path_;       // --ctrl-check announce: QEMU's human monitor socket

  std::map<std::string, std::string> tx_line_;       // the guest's "vnet-guest: tx" exit line
  std::map<std::string, std::string> offload_line_;  // its "vnet-guest: offload" exit line
  TapCapture capture_;
  bool capturing_ = false;
  TapCaptureStats capture_stats_;
  uint64_t bulk_done_ = 0;  // bytes the bulk stream echoed byte-exact
  double bulk_s_ = 0;
  uint64_t echoed_ = 0;
  uint64_t udp_echoed_ = 0;  // of those, UDP datagrams
  uint64_t tcp_echoed_ = 0;  // and TCP messages
  uint64_t tcp_bytes_ = 0;
  bool tcp_ran_ = false;
  uint64_t resent_ = 0;
  uint64_t stale_ = 0;
  uint64_t bytes_ = 0;
  RttStats rtt_;
  std::map<std::string, uint64_t> counters_;
  std::vector<std::string> failures_;
  double last_progress_ = 0;
  // --record: COM2 streams to stream_path_; the trace is saved to record_path_.
  std::string record_path_;
  std::string stream_path_;
  std::string started_utc_;
  uint64_t trace_events_ = 0;

 public:
  bool parse_options(std::string* error);
};

bool Runner::parse_options(std::string* error) {
  if (o_.expect == "echo")
    expect_ = Expect::kEcho;
  else if (o_.expect == "attach-failure")
    expect_ = Expect::kAttachFailure;
  else if (o_.expect == "probe-failure")
    expect_ = Expect::kProbeFailure;
  else if (o_.expect == "no-device")
    expect_ = Expect::kNoDevice;
  else if (o_.expect == "bad-cmdline")
    expect_ = Expect::kBadCommandLine;
  else {
    *error = "--expect must be echo, attach-failure, probe-failure, no-device or bad-cmdline";
    return false;
  }
  const bool tcp = o_.net == "user";
  const uint32_t size_limit = tcp ? kMaxTcpMessage : kMaxUdpPayload;
  if (o_.min_size < 1 || o_.max_size > size_limit || o_.min_size > o_.max_size) {
    *error = "sizes must satisfy 1 <= --min-size <= --max-size <= " + std::to_string(size_limit) +
             (tcp ? " (TCP messages, --net user)" : " (UDP datagrams, --net socket)");
    return false;
  }
  max_size_ = o_.max_size;
  if (!split_props(o_.device_props, &props_, error)) return false;
  if (microvm()) {
    if (o_.transport_given) {
      *error =
          "-t selects a virtio-net-pci flavour; -M microvm has no PCI, its NIC is on "
          "virtio-mmio (--mmio-version 1|2)";
      return false;
    }
    if (o_.irq == "msix") {
      *error =
          "--irq msix: virtio-mmio has no MSI-X (on -M microvm: --irq intx, the device's "
          "line through the I/O APIC, or --irq poll)";
      return false;
    }
    if (o_.edu > 0) {
      *error = "--edu adds PCI devices; -M microvm has no PCI";
      return false;
    }
  } else {
    if (o_.mmio_version != 0) {
      *error = "--mmio-version needs -M microvm (virtio-mmio)";
      return false;
    }
    if (o_.microvm_acpi) {
      *error = "--microvm-acpi needs -M microvm";
      return false;
    }
  }
  for (const auto& [k, v] : props_) {
    // QEMU (7.2, hw/virtio/virtio-pci.c) refuses to realize a device with
    // a legacy interface and iommu_platform=on: ACCESS_PLATFORM is feature
    // bit 33, which the legacy interface's 32-bit feature register cannot
    // carry, and a legacy driver would bypass the IOMMU.
    if (k == "iommu_platform" && !is_off(v) && !microvm() && o_.transport != "modern") {
      *error = "iommu_platform=" + v +
               " needs -t modern: VIRTIO_F_ACCESS_PLATFORM is feature bit " +
               "33, which a device with a legacy interface (-t " + o_.transport +
               ") cannot offer, and QEMU refuses the combination";
      return false;
    }
  }
  if (o_.inject_malformed > 0 && o_.net != "socket") {
    *error = "--inject-malformed needs --net socket";
    return false;
  }
  if (o_.inject_oversize > 0 && o_.net != "socket") {
    *error = "--inject-oversize needs --net socket";
    return false;
  }
  // Issue 15: the control plane's checks and the tap backend.
  static const std::vector<std::string> kChecks = {"promisc", "allmulti", "rx-extra", "mac-filter",
                                                   "set-mac", "vlan",     "announce"};
  for (const std::string& c : o_.ctrl_checks) {
    if (std::find(kChecks.begin(), kChecks.end(), c) == kChecks.end()) {
      *error = "--ctrl-check " + c +
               ": not one of promisc, allmulti, rx-extra, mac-filter, set-mac, vlan, announce";
      return false;
    }
    if (o_.net != "socket") {
      *error = "--ctrl-check " + c +
               " needs --net socket: the runner must be the guest's Ethernet peer to send "
               "frames to other MACs and VLANs";
      return false;
    }
  }
  if (!o_.ctrl_checks.empty() && !o_.action.empty()) {
    *error = "--ctrl-check needs the serve loop, not --action";
    return false;
  }
  for (const std::string& f : o_.expect_features) {
    bool known = false;
    for (const auto& info : vnet::spec::kFeatureTable)
      known = known || strcasecmp(info.name, f.c_str()) == 0;
    if (!known) {
      *error = "--expect-features " + f +
               ": no such feature (names as in the spec: ctrl_vq, "
               "ctrl_rx, ctrl_vlan, ctrl_mac_addr, guest_announce, mq, ...)";
      return false;
    }
  }
  if (o_.net != "tap") {
    if (o_.queues != 1) {
      *error = "--queues needs --net tap (a multiqueue tap device)";
      return false;
    }
    if (o_.tap_vnet_hdr) {
      *error = "--tap-vnet-hdr needs --net tap";
      return false;
    }
  }
  if (o_.host_mtu != 0) {
    for (const auto& [k, v] : props_)
      if (k == "host_mtu") {
        *error = "--host-mtu and -p host_mtu= both set the NIC's MTU";
        return false;
      }
    props_.emplace_back("host_mtu", std::to_string(o_.host_mtu));
  }
  if (o_.bulk_bytes > 0 && o_.net == "socket") {
    *error = "--bulk needs TCP: --net user or --net tap (the socket netdev echoes UDP)";
    return false;
  }
  if (!o_.tap_pcap.empty() && o_.net != "tap") {
    *error = "--tap-pcap needs --net tap (it captures the tap device)";
    return false;
  }
  if (o_.net == "socket" && o_.tcp_flows > 0) {
    *error = "--tcp-flows needs TCP: --net user or --net tap (the socket netdev echoes UDP)";
    return false;
  }

  for (const std::string& a : o_.guest_args) {
    if (a.find_first_of(" ,\"") != std::string::npos || a.find('=') == std::string::npos) {
      *error = "guest argument '" + a + "' must be key=value without spaces or commas";
      return false;
    }
    if (!o_.irq.empty() && a.rfind("irq=", 0) == 0) {
      *error = "--irq and -g " + a + " both set the guest's irq=";
      return false;
    }
    if (!o_.action.empty() && a.rfind("action=", 0) == 0) {
      *error = "--action and -g " + a + " both set the guest's action=";
      return false;
    }
  }
  // --irq intx: QEMU's virtio-net-pci has an MSI-X capability unless
  // vectors=0; without it the device can only interrupt through INTx,
  // which is what the mode is there to prove.
  for (const auto& [k, v] : props_) {
    if (k != "vectors" || o_.irq.empty()) continue;
    if (o_.irq == "intx") {
      *error = "--irq intx sets vectors=0 itself (-p vectors=" + v + " given)";
      return false;
    }
    if (o_.irq == "msix" && parse_u64(v) == 0) {
      *error = "--irq msix with -p vectors=0: the device would offer no MSI-X";
      return false;
    }
  }
  // (virtio-net-device on microvm has no MSI-X and no vectors property.)
  if (o_.irq == "intx" && !microvm()) props_.emplace_back("vectors", "0");
  if (!o_.action.empty()) {
    if (expect_ != Expect::kEcho && expect_ != Expect::kBadCommandLine) {
      *error = "--action runs a guest action to its exit; --expect " + o_.expect +
               " needs the serve loop";
      return false;
    }
    if (!o_.record_path.empty() || !o_.qemu_trace_dir.empty() || o_.inject_malformed > 0 ||
        o_.inject_oversize > 0) {
      *error = "--action " + o_.action + " does not serve: no --record, --qemu-trace or --inject-*";
      return false;
    }
  }
  if (std::find(o_.ctrl_checks.begin(), o_.ctrl_checks.end(), "announce") != o_.ctrl_checks.end()) {
    // The system's temporary directory (TMPDIR), a directory of our own in it.
    std::string tmpl = (std::filesystem::temp_directory_path() / "vnet-qemu-XXXXXX").string();
    char* dir = tmpl.data();
    if (mkdtemp(dir) == nullptr) {
      *error = std::string("mkdtemp: ") + strerror(errno);
      return false;
    }
    monitor_path_ = std::string(dir) + "/monitor";
  }
  if (access(o_.kernel.c_str(), R_OK) != 0) {
    *error = "guest image '" + o_.kernel + "' is not readable";
    return false;
  }
  record_path_ = o_.record_path;
  if (!o_.qemu_trace_dir.empty()) {
    if (mkdir(o_.qemu_trace_dir.c_str(), 0755) != 0 && errno != EEXIST) {
      *error = "cannot create --qemu-trace directory '" + o_.qemu_trace_dir + "'";
      return false;
    }
    if (record_path_.empty()) record_path_ = o_.qemu_trace_dir + "/guest.jsonl";
    std::ofstream ev(o_.qemu_trace_dir + "/qemu-trace-events");
    ev << qemu_trace_patterns();
    if (!ev) {
      *error = "cannot write " + o_.qemu_trace_dir + "/qemu-trace-events";
      return false;
    }
    for (const auto& [k, v] : props_)
      if (k == "ioeventfd" && !is_off(v)) {
        *error = "--qemu-trace needs ioeventfd=off (kicks through ioeventfd are not traced)";
        return false;
      }
  }
  if (!record_path_.empty()) {
    if (!o_.trace_serial.empty()) {
      *error = "--record and --trace-serial both want the second serial port";
      return false;
    }
    if (expect_ != Expect::kEcho && expect_ != Expect::kAttachFailure &&
        expect_ != Expect::kProbeFailure) {
      *error = "--record needs a device to record (not --expect no-device)";
      return false;
    }
    stream_path_ = record_path_ + ".serial";
    unlink(stream_path_.c_str());
  }
  return true;
}

std::string Runner::scenario() const {
  std::string s = std::string(o_.net == "user" ? "tcp-echo" : "udp-echo") +
                  " n=" + std::to_string(o_.count) + " size=" + std::to_string(o_.min_size) + ".." +
                  std::to_string(max_size_) + " seed=" + std::to_string(o_.seed);
  if (expect_ != Expect::kEcho) s = "expect " + o_.expect;
  if (!o_.irq.empty()) s += " irq=" + o_.irq;
  for (const std::string& g : o_.guest_args)
    if (g.rfind("record=", 0) != 0) s += " " + g;
  return s;
}

// Waits (bounded) for the trace's end line, then saves the completed trace.
bool Runner::finish_recording() {
  if (record_path_.empty()) return true;
  // QEMU still running (no exit device, or a failed run): the guest may
  // still be writing. finish_trace() says what is missing if it never ends.
  if (qemu_.running()) wait_for_end(stream_path_, static_cast<int>(o_.record_end_timeout_s * 1000));
  RunFacts f;
  f.qemu_version = qemu_version(o_.qemu);
  f.machine = o_.machine;
  f.transport = transport_name();
  for (const auto& [k, v] : props_) f.device_props.push_back(k + "=" + v);
  if (!o_.qemu_trace_dir.empty() && microvm()) {
    f.device_props.push_back("virtio-mmio.ioeventfd=off");
  } else if (!o_.qemu_trace_dir.empty()) {
    bool has = false;
    for (const auto& [k, v] : props_) has = has || k == "ioeventfd";
    if (!has) f.device_props.push_back("ioeventfd=off");
  }
  if (microvm() && mmio_version() == 2) f.device_props.push_back("virtio-mmio.force-legacy=false");
  f.net = o_.net;
  f.scenario = scenario();
  f.started_utc = started_utc_;
  f.ready = ready_;
  std::string error;
  if (!finish_trace(stream_path_, record_path_, f, &trace_events_, &error)) {
    fail("recording: " + error);
    return false;
  }
  if (!o_.qemu_trace_dir.empty()) {
    nlohmann::json c;
    c["qemu_version"] = f.qemu_version;
    c["machine"] = microvm() ? microvm_machine(o_.microvm_acpi) : f.machine;
    c["transport"] = f.transport;
    c["device_props"] = f.device_props;
    c["net"] = f.net;
    c["scenario"] = f.scenario;
    c["started"] = f.started_utc;
    c["files"] = {{"log", "qemu.log"},
                  {"pcap", "frames.pcap"},
                  {"guest_trace", record_path_},
                  {"trace_events", "qemu-trace-events"}};
    c["ready"] = ready_;
    std::ofstream(o_.qemu_trace_dir + "/capture.json") << c.dump(2) << "\n";
  }
  struct stat st {};
  stat(record_path_.c_str(), &st);
  if (!o_.quiet)
    printf("recorded: %s, %llu events, %lld bytes\n", record_path_.c_str(),
           static_cast<unsigned long long>(trace_events_), static_cast<long long>(st.st_size));
  return true;
}

std::vector<std::string> Runner::qemu_argv() const {
  std::vector<std::string> a = {o_.qemu,
                                "-M",
                                microvm() ? microvm_machine(o_.microvm_acpi) : o_.machine,
                                "-accel",
                                "tcg",
                                "-m",
                                std::to_string(o_.memory_mib),
                                "-nodefaults",
                                "-no-user-config",
                                "-display",
                                "none",
                                "-no-reboot",
                                "-chardev",
                                "stdio,id=con0,signal=off",
                                "-serial",
                                "chardev:con0"};
  // COM2 (the trace channel). microvm creates one ISA serial port only and
  // ignores a second -serial: there COM2 is an isa-serial device of its own
  // (index 1: 0x2f8, IRQ 3).
  const std::string com2 = !o_.trace_serial.empty() ? o_.trace_serial : stream_path_;
  if (!com2.empty() && microvm()) {
    a.push_back("-chardev");
    a.push_back("file,id=com2,path=" + com2);
    a.push_back("-device");
    a.push_back("isa-serial,chardev=com2,index=1");
  } else if (!com2.empty()) {
    a.push_back("-serial");
    a.push_back("file:" + com2);
  }
  if (!o_.qemu_trace_dir.empty()) {
    // QEMU's log backend: one line per event (docs/qemu-capture.md).
    a.push_back("-trace");
    a.push_back("events=" + o_.qemu_trace_dir + "/qemu-trace-events,file=" + o_.qemu_trace_dir +
                "/qemu.log");
    a.push_back("-msg");
    a.push_back("timestamp=on");
    a.push_back("-object");
    a.push_back("filter-dump,id=dump0,netdev=n0,file=" + o_.qemu_trace_dir + "/frames.pcap");
  }
  if (o_.exit_device) {
    a.push_back("-device");
    a.push_back("isa-debug-exit,iobase=0xf4,iosize=0x04");
  }
  if (!monitor_path_.empty()) {  // --ctrl-check announce: announce_self
    a.push_back("-monitor");
    a.push_back("unix:" + monitor_path_ + ",server=on,wait=off");
  }
  a.push_back("-kernel");
  a.push_back(o_.kernel);
  std::vector<std::string> guest_args = o_.guest_args;
  if (!o_.action.empty()) guest_args.push_back("action=" + o_.action);
  if (!o_.irq.empty()) guest_args.push_back("irq=" + o_.irq);
  if (o_.edu > 0 && o_.action == "irqtest") guest_args.push_back("edu=" + std::to_string(o_.edu));
  bool has_record = false;
  for (const std::string& g : guest_args) has_record = has_record || g.rfind("record=", 0) == 0;
  if (!stream_path_.empty() && !has_record) guest_args.push_back("record=1");
  if (!guest_args.empty()) {
    std::string append;
    for (const std::string& g : guest_args) append += (append.empty() ? "" : " ") + g;
    a.push_back("-append");
    a.push_back(append);
  }
  // link.h: user networking (restrict=on, forwards on 127.0.0.1 only) or
  // frames over loopback UDP; never an address other than 127.0.0.1.
  a.push_back("-netdev");
  a.push_back(netdev_);
  if (microvm()) {
    // virtio-mmio is legacy (version 1) in QEMU 7.2 unless force-legacy=false.
    if (mmio_version() == 2) {
      a.push_back("-global");
      a.push_back("virtio-mmio.force-legacy=false");
    }
    if (!o_.qemu_trace_dir.empty()) {  // kicks through ioeventfd are not traced
      a.push_back("-global");
      a.push_back("virtio-mmio.ioeventfd=off");
    }
    std::string dev = "virtio-net-device,netdev=n0";
    bool mq = false;
    for (const auto& [k, v] : props_) {
      dev += "," + k + "=" + v;
      mq = mq || k == "mq";
    }
    if (o_.net == "tap" && o_.queues > 1 && !mq) dev += ",mq=on";  // no MSI-X vectors here
    a.push_back("-device");
    a.push_back(dev);
    return a;
  }
  std::string dev = "virtio-net-pci,netdev=n0,romfile=";
  if (o_.transport == "legacy")
    dev += ",disable-modern=on,disable-legacy=off";
  else if (o_.transport == "modern")
    dev += ",disable-legacy=on,disable-modern=off";
  bool has_ioeventfd = false, has_mq = false, has_vectors = false;
  for (const auto& [k, v] : props_) {
    dev += "," + k + "=" + v;
    has_ioeventfd = has_ioeventfd || k == "ioeventfd";
    has_mq = has_mq || k == "mq";
    has_vectors = has_vectors || k == "vectors";
  }
  // A multiqueue tap: the device offers MQ with max_virtqueue_pairs =
  // queues, and MSI-X vectors for every queue plus config and control.
  if (o_.net == "tap" && o_.queues > 1) {
    if (!has_mq) dev += ",mq=on";
    if (!has_vectors) dev += ",vectors=" + std::to_string(2 * o_.queues + 2);
  }
  if (!o_.qemu_trace_dir.empty() && !has_ioeventfd) dev += ",ioeventfd=off";
  a.push_back("-device");
  a.push_back(dev);
  // QEMU's educational PCI device: an INTx line and an MSI the guest can
  // raise and lower at will (action=irqtest). Placed after the NIC, they
  // take the next free slots.
  for (uint32_t i = 0; i < o_.edu; ++i) {
    a.push_back("-device");
    a.push_back("edu");
  }
  return a;
}

void Runner::fail(const std::string& why) {
  failures_.push_back(why);
  fprintf(stderr, "vnet-qemu: FAIL: %s\n", why.c_str());
}

void Runner::dump_diagnostics() {
  fprintf(stderr, "---- guest console ----\n%s", qemu_.console().c_str());
  if (!qemu_.console().empty() && qemu_.console().back() != '\n') fputc('\n', stderr);
  fprintf(stderr, "---- qemu stderr ----\n%s", qemu_.stderr_text().c_str());
  if (!qemu_.stderr_text().empty() && qemu_.stderr_text().back() != '\n') fputc('\n', stderr);
  fprintf(stderr, "---- end ----\n");
}

// Starts QEMU and waits for the guest's ready line (or its exit line).
// Retries with fresh ports when QEMU could not bind a forward.
bool Runner::boot() {
  for (int attempt = 1; attempt <= kPortAttempts; ++attempt) {
    if (o_.net == "user") {
      uint16_t echo_port = pick_free_udp_port();
      uint16_t control_port;
      do control_port = pick_free_udp_port();
      while (control_port == echo_port && control_port != 0);
      uint16_t tcp_port = pick_free_tcp_port();
      if (echo_port == 0 || control_port == 0 || tcp_port == 0) {
        fail("no free port on 127.0.0.1");
        return false;
      }
      link_ = make_user_link(echo_port, control_port, tcp_port);
    } else if (o_.net == "tap") {
      // The run's own namespace with the tap in it; the runner enters it,
      // so that QEMU (started from here) and the link's sockets are there.
      std::string error;
      if (!netns_.active() && !netns_.create(o_.queues, &error, &prerequisite_missing_)) {
        fail(error);
        return false;
      }
      if (o_.host_mtu != 0 && !netns_.set_mtu(o_.host_mtu, &error)) {
        fail(error);
        return false;
      }
      // The device side's view (tap_capture.h): for --expect-offloads on
      // and --tap-pcap.
      if (!capturing_ &&
          (o_.expect_offloads == "on" || !o_.tap_pcap.empty() || o_.host_mtu > 1500)) {
        if (!capture_.start(netns_.ifname(), o_.host_mtu != 0 ? o_.host_mtu : 1500, o_.tap_pcap,
                            &error)) {
          fail(error);
          return false;
        }
        capturing_ = true;
      }
      link_ = make_tap_link(netns_.ifname(), o_.queues, o_.udp_flows, o_.tap_vnet_hdr);
    } else {
      link_ = make_frame_link();
    }
    std::string error;
    if (!link_->open(&netdev_, &error)) {
      fail(error);
      return false;
    }
    std::vector<std::string> argv = qemu_argv();
    if (o_.verbose) {
      std::string cmd;
      for (const std::string& s : argv) cmd += (cmd.empty() ? "" : " ") + s;
      fprintf(stderr, "vnet-qemu: %s\n", cmd.c_str());
    }
    t_start_ = now_s();
    started_utc_ = utc_now_iso8601();
    if (!qemu_.start(argv)) {
      fail("cannot start " + o_.qemu + ": " + qemu_.error());
      return false;
    }
    // An action (--action) runs to its exit, which may take longer than a boot.
    double deadline = t_start_ + (o_.action.empty() ? o_.boot_timeout_s : o_.total_timeout_s);
    for (;;) {
      qemu_.wait_for(-1, 20);
      if (qemu_.find_line("vnet-guest: ready", &ready_line_)) {
        boot_s_ = now_s() - t_start_;
        return true;
      }
      if (qemu_.find_line("vnet-guest: exit", nullptr)) {
        qemu_.wait_exit(2000);
        return true;  // the expectation decides
      }
      if (!qemu_.running()) break;
      if (now_s() > deadline) {
        if (o_.action.empty())
          fail("no ready line within " + std::to_string(o_.boot_timeout_s) + " s");
        else
          fail("guest did not finish action=" + o_.action + " within " +
               std::to_string(o_.total_timeout_s) + " s");
        return false;
      }
    }
    qemu_.wait_exit(100);
    const std::string& err = qemu_.stderr_text();
    bool port_clash = err.find("host forwarding") != std::string::npos ||
                      err.find("hostfwd") != std::string::npos ||
                      err.find("Address already in use") != std::string::npos;
    if (port_clash && attempt < kPortAttempts) {
      qemu_.reset();
      continue;
    }
    fail("QEMU exited with status " + std::to_string(qemu_.exit_status()) +
         " before the guest was ready");
    return false;
  }
  return false;
}

int Runner::check_expected_failure() {
  int want = expect_ == Expect::kAttachFailure    ? kGuestAttachFailed
             : expect_ == Expect::kProbeFailure   ? kGuestProbeFailed
             : expect_ == Expect::kBadCommandLine ? kGuestBadCommandLine
                                                  : kGuestNoDevice;
  if (!ready_line_.empty()) {
    fail("guest became ready, expected " + o_.expect + ": " + ready_line_);
    return kExitFailure;
  }
  std::string line;
  if (!qemu_.find_line("vnet-guest: exit", &line)) {
    fail("guest did not exit");
    return kExitFailure;
  }
  int got = static_cast<int>(parse_u64(line.substr(strlen("vnet-guest: exit "))));
  if (got != want) {
    fail("guest exited with " + std::to_string(got) + ", expected " + std::to_string(want) + " (" +
         o_.expect + ")");
    return kExitFailure;
  }
  if (o_.exit_device) {
    if (!qemu_.wait_exit(5000)) {
      fail("QEMU did not exit after the guest's exit request");
      return kExitFailure;
    }
    if (qemu_.exit_status() != qemu_status(want)) {
      fail("QEMU exit status " + std::to_string(qemu_.exit_status()) + ", expected " +
           std::to_string(qemu_status(want)));
      return kExitFailure;
    }
  }
  std::string why;
  for (const char* p : {"vnet-guest: attach failed", "vnet-guest: probe failed",
                        "vnet-guest: no virtio-net device", "vnet-guest: bad command line"})
    if (qemu_.find_line(p, &why)) break;
  if (!o_.quiet) printf("expected outcome %s: %s\n", o_.expect.c_str(), why.c_str());
  return kExitOk;
}

// --action: the guest runs the action and exits by itself (no ready
// line); the run passes when it exits with status 33.
int Runner::run_action() {
  if (!ready_line_.empty()) {
    fail("guest became ready instead of running action=" + o_.action);
    return kExitFailure;
  }
  std::string line;
  if (!qemu_.find_line("vnet-guest: exit", &line)) {
    fail("guest did not exit");
    return kExitFailure;
  }
  if (!o_.quiet) {
    std::istringstream in(qemu_.console());
    std::string l;
    const std::string prefix = "vnet-guest: " + o_.action;
    while (std::getline(in, l)) {
      if (!l.empty() && l.back() == '\r') l.pop_back();
      if (l.rfind(prefix, 0) == 0) printf("%s\n", l.c_str());
    }
  }
  int got = static_cast<int>(parse_u64(line.substr(strlen("vnet-guest: exit "))));
  if (got != kGuestOk) {
    fail("action=" + o_.action + ": guest exited with " + std::to_string(got) + ", expected " +
         std::to_string(kGuestOk));
    return kExitFailure;
  }
  if (o_.exit_device) {
    if (!qemu_.wait_exit(5000)) {
      fail("QEMU did not exit after the guest's exit request");
      return kExitFailure;
    }
    if (qemu_.exit_status() != qemu_status(kGuestOk)) {
      fail("QEMU exit status " + std::to_string(qemu_.exit_status()) + ", expected " +
           std::to_string(qemu_status(kGuestOk)));
      return kExitFailure;
    }
  }
  return kExitOk;
}

bool Runner::check_ready_line() {
  ready_ = parse_fields(ready_line_);
  uint64_t negotiated = parse_u64(ready_["features"]);
  uint64_t offered = parse_u64(ready_["offered"]);
  bool legacy = ready_["transport"] == "pci-legacy" || ready_["transport"] == "mmio-v1";
  bool ok = true;
  if (!o_.quiet) {
    printf("boot: ready after %.0f ms (driver attach %s us)\n", boot_s_ * 1000,
           ready_["attach_us"].c_str());
    printf(
        "  mac %s (%s), transport %s, device %s, mtu %s (guest TCP MSS %s), net header %s bytes, "
        "rx/tx queue %s/%s\n",
        ready_["mac"].c_str(), ready_["mac_source"].c_str(), ready_["transport"].c_str(),
        ready_["device"].c_str(), ready_["mtu"].c_str(),
        ready_.count("mss") ? ready_["mss"].c_str() : "?", ready_["hdr"].c_str(),
        ready_["rxq"].c_str(), ready_["txq"].c_str());
  }
  // The driver's table for the transport it drives (a transitional device
  // driven through its modern interface is modern here), plus RING_PACKED
  // on a modern transport unless the guest declines it (-g packed=0): the
  // guest accepts packed rings by default (NetOptions::accept_ring_packed).
  uint64_t mask = 0;  // -g mask=: bits the guest forbade its driver
  bool guest_packed = true;
  bool guest_indirect = true;  // -g indirect=: the guest accepts INDIRECT_DESC by default
  for (const std::string& g : o_.guest_args) {
    if (g.rfind("mask=", 0) == 0) mask = parse_u64(g.substr(5));
    if (g.rfind("packed=", 0) == 0) guest_packed = parse_u64(g.substr(7)) != 0;
    if (g.rfind("indirect=", 0) == 0) guest_indirect = parse_u64(g.substr(9)) != 0;
  }
  const uint64_t ring_packed = uint64_t{1} << kFeatureRingPacked;
  const uint64_t indirect_bit = uint64_t{1} << kFeatureIndirectDesc;
  // The driver's table holds INDIRECT_DESC only with
  // NetOptions::accept_indirect_desc, which the guest sets (indirect=1).
  // Issue 15: the control plane. The guest accepts CTRL_VQ and the
  // command features by default (-g ctrl=1; a recording guest declines
  // them unless ctrl=1 is given: traces do not carry the control plane
  // yet), MQ with -g pairs=N > 1.
  bool guest_ctrl = o_.record_path.empty() && o_.qemu_trace_dir.empty();
  uint64_t guest_pairs = 1;
  bool guest_rss = false;
  for (const std::string& g : o_.guest_args) {
    if (g.rfind("ctrl=", 0) == 0) guest_ctrl = parse_u64(g.substr(5)) != 0;
    if (g.rfind("pairs=", 0) == 0) guest_pairs = parse_u64(g.substr(6));
    if (g.rfind("rss=", 0) == 0) guest_rss = parse_u64(g.substr(4)) != 0;
  }
  const uint64_t ctrl_vq = uint64_t{1} << 17;
  const uint64_t ctrl_bits = ctrl_vq | (uint64_t{1} << 18) | (uint64_t{1} << 19) |
                             (uint64_t{1} << 20) | (uint64_t{1} << 21) | (uint64_t{1} << 23) |
                             (guest_pairs > 1 ? uint64_t{1} << 22 : 0) |
                             (guest_rss && !legacy ? uint64_t{1} << 60 : 0);
  // Issue 16: the offloads the guest accepts (-g csum=1, tso=1; tso
  // implies csum): what the driver then asks for (offload_features_wanted).
  const bool guest_tso = guest_asks("tso");
  const bool guest_csum = guest_tso || guest_asks("csum");
  auto mask_of = [](vnet::spec::Feature f) { return vnet::spec::feature_mask(f); };
  using F = vnet::spec::Feature;
  uint64_t offload_bits = 0;
  if (guest_csum)
    offload_bits |= mask_of(F::kNetCsum) | mask_of(F::kNetGuestCsum) |
                    (guest_ctrl ? mask_of(F::kNetCtrlGuestOffloads) : 0);
  if (guest_tso)
    offload_bits |= mask_of(F::kNetHostTso4) | mask_of(F::kNetHostTso6) | mask_of(F::kNetHostEcn) |
                    mask_of(F::kNetHostUso) | mask_of(F::kNetGuestTso4) |
                    mask_of(F::kNetGuestTso6) | mask_of(F::kNetGuestEcn) |
                    mask_of(F::kNetGuestUso4) | mask_of(F::kNetGuestUso6);
  const uint64_t supported =
      vnet::VirtioNet::supported_features(legacy) | (!legacy && guest_packed ? ring_packed : 0) |
      (guest_indirect ? indirect_bit : 0) | (guest_ctrl ? ctrl_bits : 0) | offload_bits;
  if (!o_.quiet) {
    printf("  offered    %s: %s\n", hex(offered).c_str(), feature_names(offered).c_str());
    printf("  negotiated %s: %s\n", hex(negotiated).c_str(), feature_names(negotiated).c_str());
    printf("  ring %s, event_idx %s, indirect_desc %s\n", ready_["ring"].c_str(),
           ready_["event_idx"].c_str(), ready_["indirect_desc"].c_str());
    const uint64_t unsupported = offered & ~supported;
    const uint64_t declined = offered & supported & ~negotiated;
    if (unsupported)
      printf("  not supported by the driver (%s): %s\n", legacy ? "legacy" : "modern",
             feature_names(unsupported).c_str());
    if (declined)
      printf("  supported but not negotiated%s: %s\n",
             (declined & mask) ? " (some masked by -g mask)" : "", feature_names(declined).c_str());
  }
  if (negotiated & ~offered) {
    fail("negotiated features not offered: " + feature_names(negotiated & ~offered));
    ok = false;
  }
  if (negotiated & ~supported) {
    fail("negotiated features the driver does not support: " +
         feature_names(negotiated & ~supported));
    ok = false;
  }
  if (negotiated & mask) {
    fail("negotiated features forbidden by -g mask: " + feature_names(negotiated & mask));
    ok = false;
  }
  // ACCESS_PLATFORM offered: the device only works with a driver that
  // accepts it (QEMU clears FEATURES_OK otherwise), and ours supports it on
  // the modern interface, so an offer must end up negotiated.
  const uint64_t access_platform = uint64_t{1} << kFeatureAccessPlatform;
  if ((offered & access_platform) && !(mask & access_platform) && !(negotiated & access_platform)) {
    fail("ACCESS_PLATFORM offered but not negotiated");
    ok = false;
  }
  // The ring kind and the ring features on the ready line are what was
  // negotiated; an offered RING_PACKED (or EVENT_IDX) that the driver
  // accepts must be taken.
  const bool packed = (negotiated & ring_packed) != 0;
  if (ready_["ring"] != (packed ? "packed" : "split")) {
    fail("ready line says ring=" + ready_["ring"] + " but RING_PACKED is " +
         (packed ? "" : "not ") + "negotiated");
    ok = false;
  }
  if ((offered & supported & ring_packed) && !(mask & ring_packed) && !packed) {
    fail("RING_PACKED offered on a modern transport but not negotiated");
    ok = false;
  }
  if (!o_.expect_ring.empty() && ready_["ring"] != o_.expect_ring) {
    fail("--expect-ring " + o_.expect_ring + " but the driver negotiated ring=" + ready_["ring"]);
    ok = false;
  }
  const uint64_t event_idx = uint64_t{1} << kFeatureEventIdx;
  const uint64_t indirect = uint64_t{1} << kFeatureIndirectDesc;
  if (ready_["event_idx"] != ((negotiated & event_idx) ? "on" : "off") ||
      ready_["indirect_desc"] != ((negotiated & indirect) ? "on" : "off")) {
    fail("ready line's event_idx=" + ready_["event_idx"] + " indirect_desc=" +
         ready_["indirect_desc"] + " disagree with the negotiated features " + hex(negotiated));
    ok = false;
  }
  if ((offered & supported & event_idx) && !(mask & event_idx) && !(negotiated & event_idx)) {
    fail("EVENT_IDX offered but not negotiated");
    ok = false;
  }
  if ((offered & supported & indirect) && !(mask & indirect) && !(negotiated & indirect)) {
    fail("INDIRECT_DESC offered (and accepted by the guest) but not negotiated");
    ok = false;
  }
  if (!o_.expect_indirect.empty() && ready_["indirect_desc"] != o_.expect_indirect) {
    fail("--expect-indirect " + o_.expect_indirect +
         " but the driver negotiated indirect_desc=" + ready_["indirect_desc"]);
    ok = false;
  }
  // 5.1.3.1: no command feature (nor MQ, RSS) without CTRL_VQ -- QEMU 7.2
  // still offers them with ctrl_vq=off.
  const uint64_t needs_ctrl_vq =
      (ctrl_bits & ~ctrl_vq) | (uint64_t{1} << 22) | (uint64_t{1} << 60) | (uint64_t{1} << 2);
  if ((negotiated & needs_ctrl_vq) && !(negotiated & ctrl_vq)) {
    fail("negotiated without CTRL_VQ (5.1.3.1): " + feature_names(negotiated & needs_ctrl_vq));
    ok = false;
  }
  // The ready line's ctrl= says whether the driver set the control queue
  // up; every command feature offered (and accepted) must be negotiated.
  if (guest_ctrl && (negotiated & ctrl_vq)) {
    const uint64_t missing = offered & ctrl_bits & ~negotiated & ~mask;
    if (missing) {
      fail("offered with CTRL_VQ but not negotiated: " + feature_names(missing));
      ok = false;
    }
  }
  if (ready_.count("ctrl") != 0) {
    const bool ctrl_on = ready_["ctrl"] == "on";
    if (ctrl_on != ((negotiated & ctrl_vq) != 0)) {
      fail("ready line says ctrl=" + ready_["ctrl"] + " but CTRL_VQ is " +
           ((negotiated & ctrl_vq) ? "" : "not ") + "negotiated");
      ok = false;
    }
    if (guest_ctrl && (offered & ctrl_vq) && !(mask & ctrl_vq) && !ctrl_on) {
      fail(
          "CTRL_VQ offered and the guest accepts it (ctrl=1), but the driver has no control "
          "queue");
      ok = false;
    }
    if (!o_.quiet)
      printf("  control queue %s, queue pairs %s of %s\n", ready_["ctrl"].c_str(),
             ready_["pairs"].c_str(), ready_["max_pairs"].c_str());
  }
  if (!o_.expect_rss.empty() && ready_["rss"] != o_.expect_rss) {
    fail("--expect-rss " + o_.expect_rss +
         " but the guest reports rss=" + (ready_["rss"].empty() ? "(nothing)" : ready_["rss"]) +
         " (on: RSS negotiated and RSS_CONFIG acknowledged; -g rss=1 and -p rss=on)");
    ok = false;
  }
  if (!o_.expect_ctrl.empty() && ready_["ctrl"] != o_.expect_ctrl) {
    fail(
        "--expect-ctrl " + o_.expect_ctrl + " but the guest reports ctrl=" +
        (ready_["ctrl"].empty() ? "(nothing: a guest without the control plane)" : ready_["ctrl"]));
    ok = false;
  }
  for (const std::string& name : o_.expect_features) {
    for (const auto& info : vnet::spec::kFeatureTable) {
      if (strcasecmp(info.name, name.c_str()) != 0) continue;
      const uint64_t bit = uint64_t{1} << static_cast<unsigned>(info.bit);
      if (!(negotiated & bit)) {
        fail("--expect-features: " + std::string(info.name) + " not negotiated (" +
             ((offered & bit) ? "offered" : "not offered by the device") + ")");
        ok = false;
      }
    }
  }
  std::string want_transport = microvm()                  ? transport_name()
                               : o_.transport == "legacy" ? "pci-legacy"
                                                          : "pci-modern";
  bool forced = false;
  for (const std::string& g : o_.guest_args)
    if (g.rfind("mode=", 0) == 0 && g != "mode=auto") forced = true;
  if (!forced && ready_["transport"] != want_transport) {
    fail("transport " + ready_["transport"] + ", expected " + want_transport);
    ok = false;
  }
  for (const auto& [k, v] : props_) {
    if (auto bit = feature_of_prop(k); bit && is_off(v)) {
      if (offered & (uint64_t{1} << *bit)) {
        fail(k + "=" + v + " but the device offers bit " + std::to_string(*bit));
        ok = false;
      }
    }
    if (k == "mac") {
      unsigned first = 0;
      sscanf(v.c_str(), "%x", &first);
      bool valid = (first & 1) == 0 && v != "00:00:00:00:00:00";
      std::string mac = ready_["mac"];
      if (valid && (mac != v || ready_["mac_source"] != "device")) {
        fail("mac " + mac + " (" + ready_["mac_source"] + "), device was given " + v);
        ok = false;
      }
      if (!valid && (mac == v || ready_["mac_source"] != "driver")) {
        fail("invalid device mac " + v + " was used: " + mac);
        ok = false;
      }
    }
    if (k == "host_mtu" && (negotiated & (uint64_t{1} << kFeatureMtu)) && ready_["mtu"] != v) {
      fail("MTU negotiated as " + ready_["mtu"] + ", device was given " + v);
      ok = false;
    }
    // An MTU from 68 up to what the driver's rx buffers hold must be taken:
    // max_frame (-g max_frame=, default 1514) less the Ethernet header, or
    // any with receive chains (-g chains=1, tso=1) over MRG_RXBUF.
    uint64_t max_frame = vnet::NetOptions{}.max_frame;
    for (const std::string& g : o_.guest_args)
      if (g.rfind("max_frame=", 0) == 0) max_frame = parse_u64(g.substr(10));
    const bool chains = guest_asks("chains") || guest_asks("tso");
    const uint64_t max_mtu = chains && (negotiated & mask_of(F::kNetMrgRxbuf)) ? 65535
                             : max_frame > vnet::spec::kEthHeaderSize
                                 ? max_frame - vnet::spec::kEthHeaderSize
                                 : 0;
    if (k == "host_mtu" && parse_u64(v) >= vnet::spec::kMinMtu && parse_u64(v) <= max_mtu &&
        !(mask & (uint64_t{1} << kFeatureMtu)) && !(negotiated & (uint64_t{1} << kFeatureMtu))) {
      fail("host_mtu=" + v + " is valid but MTU was not negotiated");
      ok = false;
    }
    if (k == "iommu_platform" && !is_off(v) && !(offered & access_platform)) {
      fail("iommu_platform=" + v + " but the device does not offer ACCESS_PLATFORM");
      ok = false;
    }
    // packed=on: a device with a modern interface (virtio-pci modern or
    // transitional, virtio-mmio version 2) offers RING_PACKED there; the
    // legacy interface cannot (a bit above 31).
    if (k == "packed" && !is_off(v) && !legacy && !(offered & ring_packed)) {
      fail("packed=" + v + " but the device does not offer RING_PACKED");
      ok = false;
    }
  }
  // The interrupt mode asked for (--irq, -g irq=, the guest's default
  // msix) and what the NIC offers for it.
  std::string want_irq = o_.irq.empty() ? "msix" : o_.irq;
  bool irq_given = !o_.irq.empty();
  for (const std::string& g : o_.guest_args) {
    if (g.rfind("irq=", 0) != 0) continue;
    want_irq = g.substr(4);
    irq_given = true;
  }
  if (ready_["irq"] != want_irq) {
    fail("guest reports irq=" + ready_["irq"] + ", expected " + want_irq);
    ok = false;
  }
  // What the driver must have taken: the ladder's highest working rung
  // (a recording without an explicit irq= polls).
  const bool recording_polls =
      (!o_.record_path.empty() || !o_.qemu_trace_dir.empty()) && !irq_given;
  const bool nic_msix = parse_u64(ready_["msix"]) > 0;
  const bool line = ready_["intx_gsi"] != "none";
  std::string want_mode = "poll";
  if (!recording_polls && want_irq == "msix")
    want_mode = nic_msix ? "msix" : line ? "intx" : "poll";
  if (!recording_polls && want_irq == "intx") want_mode = line ? "intx" : "poll";
  if (ready_["irq_mode"] != want_mode) {
    fail("driver took irq_mode=" + ready_["irq_mode"] + " (" + ready_["irq_vectors"] +
         " vectors), expected " + want_mode);
    ok = false;
  }
  if (o_.irq == "intx" && ready_["msix"] != "0") {
    fail("--irq intx (vectors=0) but the NIC offers MSI-X with " + ready_["msix"] + " vectors");
    ok = false;
  }
  if (o_.irq == "msix" && parse_u64(ready_["msix"]) == 0) {
    fail("--irq msix but the NIC offers no MSI-X (msix=" + ready_["msix"] + ")");
    ok = false;
  }
  if (o_.irq == "intx" && ready_["intx_gsi"] == "none") {
    fail("--irq intx but the guest found no INTx route for the NIC");
    ok = false;
  }
  // microvm: the guest found the NIC's window where this machine puts it:
  // on the command line QEMU completed (acpi=off), or by probing QEMU's
  // slots (--microvm-acpi: QEMU appends nothing); and its line with it.
  if (microvm()) {
    bool scan_given = false;
    for (const std::string& g : o_.guest_args) scan_given = scan_given || g.rfind("mmio=", 0) == 0;
    const std::string want_source = o_.microvm_acpi ? "probe" : "cmdline";
    if (!scan_given && ready_["mmio_source"] != want_source) {
      fail("the guest found the NIC's window by '" + ready_["mmio_source"] + "', expected " +
           want_source);
      ok = false;
    }
    if (ready_["mmio_base"].empty() || ready_["mmio_irq"].empty()) {
      fail("the ready line has no mmio_base= / mmio_irq= (not a virtio-mmio NIC?)");
      ok = false;
    }
    if (!o_.quiet)
      printf("  virtio-mmio window %s (%s bytes), line GSI %s, found by %s\n",
             ready_["mmio_base"].c_str(), ready_["mmio_size"].c_str(), ready_["mmio_irq"].c_str(),
             ready_["mmio_source"].c_str());
  }
  if (!o_.quiet)
    printf("  irq %s: driver took %s (%s vectors); NIC MSI-X vectors %s, INTx GSI %s\n",
           ready_["irq"].c_str(), ready_["irq_mode"].c_str(), ready_["irq_vectors"].c_str(),
           ready_["msix"].c_str(), ready_["intx_gsi"].c_str());
  // -g bounce=1: the guest must say it runs through its bounce area.
  bool bounce = false;
  for (const std::string& g : o_.guest_args) bounce = bounce || (g == "bounce=1");
  if (bounce && ready_["bounce"] != "on") {
    fail("-g bounce=1 but the guest reports bounce=" + ready_["bounce"]);
    ok = false;
  }
  // Issue 16: the ready line's offloads= names exactly the negotiated
  // offload features; --expect-offloads on|off.
  if (ready_.count("offloads") != 0) {
    std::string names;
    for (const auto& [name, f] :
         std::vector<std::pair<const char*, F>>{{"csum", F::kNetCsum},
                                                {"guest_csum", F::kNetGuestCsum},
                                                {"host_tso4", F::kNetHostTso4},
                                                {"host_tso6", F::kNetHostTso6},
                                                {"host_ecn", F::kNetHostEcn},
                                                {"host_uso", F::kNetHostUso},
                                                {"guest_tso4", F::kNetGuestTso4},
                                                {"guest_tso6", F::kNetGuestTso6},
                                                {"guest_ecn", F::kNetGuestEcn},
                                                {"guest_uso4", F::kNetGuestUso4},
                                                {"guest_uso6", F::kNetGuestUso6},
                                                {"ctrl_guest_offloads", F::kNetCtrlGuestOffloads}})
      if (negotiated & mask_of(f)) names += (names.empty() ? "" : ",") + std::string(name);
    if (names.empty()) names = "none";
    if (ready_["offloads"] != names) {
      fail("ready line says offloads=" + ready_["offloads"] + " but the negotiated features say " +
           names);
      ok = false;
    }
    if (!o_.quiet)
      printf("  offloads %s, rx chains %s, max_frame %s, TCP window %s, largest tx frame %s\n",
             ready_["offloads"].c_str(), ready_["rx_chains"].c_str(), ready_["max_frame"].c_str(),
             ready_["window"].c_str(), ready_["tx_frame_max"].c_str());
  } else if (!o_.expect_offloads.empty()) {
    fail("--expect-offloads but the ready line has no offloads= (an older guest?)");
    ok = false;
  }
  if (o_.expect_offloads == "on") {
    if (!guest_csum) {
      fail("--expect-offloads on but the guest asks for none (-g csum=1 or -g tso=1)");
      ok = false;
    }
    uint64_t want = guest_csum ? mask_of(F::kNetCsum) | mask_of(F::kNetGuestCsum) : 0;
    if (guest_tso) want |= mask_of(F::kNetHostTso4) | mask_of(F::kNetGuestTso4);
    if (want & ~negotiated) {
      const bool none_offered = (offered & want) == 0;
      fail("--expect-offloads on: not negotiated: " + feature_names(want & ~negotiated) +
           (none_offered ? " (not offered at all: QEMU offers offloads only over a back end "
                           "with a vnet header, --net tap --tap-vnet-hdr)"
                         : " (offered: " + feature_names(offered & want) + ")"));
      ok = false;
    }
  }
  if (o_.expect_offloads == "off" &&
      (negotiated & offload_bits & ~mask_of(F::kNetCtrlGuestOffloads))) {
    fail("--expect-offloads off but negotiated: " +
         feature_names(negotiated & offload_bits & ~mask_of(F::kNetCtrlGuestOffloads)));
    ok = false;
  }
  // The guest's TCP MSS follows the negotiated MTU: MTU - IPv4 - TCP.
  if (ready_.count("mss") != 0) {
    uint64_t mtu = parse_u64(ready_["mtu"]);
    if (parse_u64(ready_["mss"]) != mtu - kIpv4TcpHeaders) {
      fail("guest TCP MSS " + ready_["mss"] + ", expected MTU " + ready_["mtu"] + " - 40");
      ok = false;
    }
  }
  return ok;
}

// UDP datagrams (--net socket): the guest's echo of a datagram is no larger
// than the negotiated MTU allows (it drops and counts larger ones,
// reply_over_mtu), so the runner, as the guest's peer on that link, keeps to
// it too: the default --max-size shrinks to MTU - 28; a larger --max-size
// given on the command line cannot be echoed and fails the run.
bool Runner::fit_sizes_to_mtu() {
  uint64_t mtu = parse_u64(ready_["mtu"]);
  if (mtu <= kIpv4UdpHeaders) return true;  // the ready line check reports it
  uint64_t fits = mtu - kIpv4UdpHeaders;
  if (max_size_ <= fits) return true;
  if (o_.max_size_given) {
    fail("--max-size " + std::to_string(max_size_) + " does not fit the negotiated MTU " +
         ready_["mtu"] + ": UDP payloads up to " + std::to_string(fits) + " bytes");
    return false;
  }
  max_size_ = static_cast<uint32_t>(fits);
  if (o_.min_size > max_size_) {
    fail("--min-size " + std::to_string(o_.min_size) + " does not fit the negotiated MTU " +
         ready_["mtu"] + ": UDP payloads up to " + std::to_string(fits) + " bytes");
    return false;
  }
  if (!o_.quiet)
    printf("  UDP datagrams up to %u bytes (MTU %s)\n", max_size_, ready_["mtu"].c_str());
  return true;
}

void Runner::progress(uint64_t done, bool final) {
  if (o_.quiet) return;
  double t = now_s();
  if (!final && t - last_progress_ < 1.0) return;
  last_progress_ = t;
  double elapsed = t - (t_start_ + boot_s_);
  fprintf(stderr, "echo: %llu/%llu (%.0f%%) %.0f/s\n", static_cast<unsigned long long>(done),
          static_cast<unsigned long long>(o_.count), o_.count ? 100.0 * done / o_.count : 100.0,
          elapsed > 0 ? done / elapsed : 0.0);
}

bool Runner::echo_all() {
  EchoPlan plan{o_.seed, o_.min_size, max_size_};
  std::vector<uint8_t> want, previous, got;
  double t0 = now_s();
  last_progress_ = t0;
  double hard_deadline = t_start_ + o_.total_timeout_s;
  for (uint64_t i = 0; i < o_.count; ++i) {
    plan.fill(i, &want);
    bool done = false;
    for (uint32_t attempt = 0; attempt <= o_.retries && !done; ++attempt) {
      if (attempt > 0) ++resent_;
      double sent = now_s();
      if (!link_->send(kGuestEchoPort, want)) {
        fail("send of datagram " + std::to_string(i) + " failed");
        return false;
      }
      double deadline = sent + o_.echo_timeout_s;
      while (!done) {
        double left = deadline - now_s();
        if (left <= 0) break;
        if (now_s() > hard_deadline) {
          fail("total timeout");
          return false;
        }
        bool readable = qemu_.wait_for(link_->fd(kGuestEchoPort),
                                       static_cast<int>(std::min(left, 0.2) * 1000) + 1);
        if (!qemu_.running()) {
          fail("QEMU exited during the echo run (datagram " + std::to_string(i) + ")");
          return false;
        }
        if (!readable) continue;
        while (link_->receive(kGuestEchoPort, &got)) {
          if (got == want) {
            double rtt = now_s() - sent;
            rtt_.ms.push_back(rtt * 1000);
            if (first_echo_s_ < 0) first_echo_s_ = now_s() - t_start_;
            ++echoed_;
            ++udp_echoed_;
            bytes_ += want.size();
            done = true;
            break;
          }
          if (got == previous || (attempt > 0 && got == want)) {
            ++stale_;  // a late echo of a resent datagram
            continue;
          }
          size_t at = 0;
          while (at < got.size() && at < want.size() && got[at] == want[at]) ++at;
          fail("datagram " + std::to_string(i) + " (" + std::to_string(want.size()) +
               " bytes) came back as " + std::to_string(got.size()) +
               " bytes, first difference at byte " + std::to_string(at));
          return false;
        }
      }
    }
    if (!done) {
      fail("no echo for datagram " + std::to_string(i) + " (" + std::to_string(want.size()) +
           " bytes) after " + std::to_string(o_.retries + 1) + " sends");
      return false;
    }
    previous = want;
    progress(i + 1, false);
  }
  echo_s_ = now_s() - t0;
  if (o_.count >= 200) progress(o_.count, true);
  return true;
}

bool Runner::control(const std::string& command, std::string* reply) {
  std::vector<uint8_t> got;
  std::vector<uint8_t> request(command.begin(), command.end());
  for (uint32_t attempt = 0; attempt <= o_.retries; ++attempt) {
    link_->send(kGuestControlPort, request);
    double deadline = now_s() + o_.echo_timeout_s;
    while (now_s() < deadline) {
      if (qemu_.wait_for(link_->fd(kGuestControlPort), 50) &&
          link_->receive(kGuestControlPort, &got)) {
        reply->assign(got.begin(), got.end());
        return true;
      }
      if (!qemu_.running()) return false;
    }
  }
  return false;
}

// TCP (user networking through slirp's forward, or --net tap straight to
// the guest): messages over the guest's TCP echo, on --tcp-flows
// connections open at once (different source ports: on a multiqueue tap
// the kernel steers each flow to a queue of its own). Messages go out in
// rounds, one per connection: write message i on connection i % flows,
// then read back exactly each one's bytes and compare. Each stream is the
// framing: a byte lost, added or reordered anywhere shows up as a mismatch
// in the message it falls into, or as bytes after the last one.
bool Runner::echo_tcp() {
  const uint32_t flows = tcp_flows();
  std::vector<std::unique_ptr<TcpStream>> streams;
  for (uint32_t k = 0; k < flows; ++k) {
    std::string error;
    streams.push_back(std::make_unique<TcpStream>());
    if (!streams.back()->connect(link_->tcp_echo_port(), &error, link_->tcp_echo_peer())) {
      fail("TCP flow " + std::to_string(k) + ": " + error);
      return false;
    }
  }
  EchoPlan plan{o_.seed, o_.min_size, max_size_};
  std::vector<std::vector<uint8_t>> want(flows);
  std::vector<uint8_t> got;
  double t0 = now_s();
  last_progress_ = t0;
  double hard_deadline = t_start_ + o_.total_timeout_s;
  auto wait_readable = [&](TcpStream& tcp, double deadline, const std::string& what) {
    double now = now_s();
    if (now > hard_deadline) {
      fail("total timeout (" + what + ")");
      return false;
    }
    if (now > deadline) {
      fail(what);
      return false;
    }
    qemu_.wait_for(tcp.fd(), static_cast<int>(std::min(deadline - now, 0.2) * 1000) + 1);
    if (!qemu_.running()) {
      fail("QEMU exited during the echo run (" + what + ")");
      return false;
    }
    return true;
  };
  for (uint64_t first = 0; first < o_.count; first += flows) {
    const uint32_t batch = static_cast<uint32_t>(std::min<uint64_t>(flows, o_.count - first));
    double sent = now_s();
    for (uint32_t k = 0; k < batch; ++k) {
      plan.fill(first + k, &want[k]);
      if (!streams[k]->send_all(want[k].data(), want[k].size())) {
        fail("send of message " + std::to_string(first + k) + " failed: " + strerror(errno));
        return false;
      }
    }
    for (uint32_t k = 0; k < batch; ++k) {
      TcpStream& tcp = *streams[k];
      const uint64_t i = first + k;
      got.clear();
      const std::string name = "message " + std::to_string(i) + " (" +
                               std::to_string(want[k].size()) + " bytes" +
                               (flows > 1 ? ", flow " + std::to_string(k) : "") + ")";
      double deadline = sent + o_.echo_timeout_s;
      while (got.size() < want[k].size()) {
        long n = tcp.receive_some(&got, want[k].size() - got.size());
        if (n < 0) {
          fail(std::string(tcp.eof() ? "guest closed the connection" : "receive failed") +
               " during " + name + " after " + std::to_string(got.size()) + " bytes");
          return false;
        }
        if (n > 0) continue;
        if (!wait_readable(tcp, deadline,
                           "no complete echo of " + name + " within " +
                               std::to_string(o_.echo_timeout_s) + " s, got " +
                               std::to_string(got.size()) + " bytes"))
          return false;
      }
      if (got != want[k]) {
        size_t at = 0;
        while (at < got.size() && got[at] == want[k][at]) ++at;
        fail(name + " came back different, first difference at byte " + std::to_string(at));
        return false;
      }
      rtt_.ms.push_back((now_s() - sent) * 1000);
      if (first_echo_s_ < 0) first_echo_s_ = now_s() - t_start_;
      ++echoed_;
      ++tcp_echoed_;
      bytes_ += want[k].size();
      tcp_bytes_ += want[k].size();
    }
    progress(first + batch, false);
  }
  echo_s_ = now_s() - t0;
  if (o_.count >= 200) progress(o_.count, true);

  // Close: our FIN on each; the guest answers with its FIN after the last
  // echoed byte. Nothing may arrive in between.
  for (auto& tcp : streams) tcp->shutdown_write();
  for (uint32_t k = 0; k < flows; ++k) {
    TcpStream& tcp = *streams[k];
    double deadline = now_s() + o_.echo_timeout_s;
    for (;;) {
      got.clear();
      long n = tcp.receive_some(&got, 65536);
      if (n > 0) {
        fail(std::to_string(n) + " bytes arrived after the last message (flow " +
             std::to_string(k) + ")");
        return false;
      }
      if (n < 0) {
        if (tcp.eof()) break;
        fail(std::string("receive failed while closing: ") + strerror(errno));
        return false;
      }
      if (!wait_readable(tcp, deadline, "guest did not close the connection (no FIN)"))
        return false;
    }
    tcp.close();
  }
  tcp_ran_ = true;
  // Let the guest see the ACK of its FIN before it is asked to exit.
  qemu_.wait_for(-1, 20);
  return true;
}

// ---- issue 15: the control plane against QEMU's receive filter ----
//
// QEMU 7.2's virtio-net (hw/net/virtio-net.c, receive_filter()) decides per
// received frame, in this order: promiscuous -> deliver (and promiscuous is
// ON after every device reset until the driver turns it off); an 802.1Q
// frame whose VLAN id is not in the VLAN table -> drop (with CTRL_VLAN
// negotiated the table starts empty, without it every VLAN passes);
// broadcast -> deliver unless no-broadcast; multicast -> drop with
// no-multicast, deliver with all-multicast (or a multicast table overflow)
// or when in the MAC table's multicast part; unicast -> drop with
// no-unicast, deliver with all-unicast (or an overflow), for the device's
// MAC (MAC_ADDR_SET changes it), or when in the MAC table's unicast part.
// Everything else is dropped before the guest sees it.
//
// The guest echoes UDP port-7 datagrams whatever their destination MAC
// (guest/net/responder.h) and 802.1Q frames with their tag, so a frame the
// filter let through comes back and one it dropped does not. A drop is
// proven by order: the probe goes out, then a marker datagram to the
// guest's own MAC; the device delivers in order on one queue and the guest
// answers in order, so the marker's echo arriving without the probe's
// means the probe was dropped.

namespace {
constexpr uint8_t kForeignUnicast[6] = {0x02, 0x00, 0x00, 0x15, 0x00, 0x99};
constexpr uint8_t kFilterUnicast[6] = {0x02, 0x00, 0x00, 0x15, 0x00, 0x01};
constexpr uint8_t kOtherUnicast[6] = {0x02, 0x00, 0x00, 0x15, 0x00, 0x03};
constexpr uint8_t kFilterMulticast[6] = {0x01, 0x00, 0x5e, 0x00, 0x15, 0x02};
constexpr uint8_t kOtherMulticast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb};
constexpr uint16_t kTestVid = 100;
constexpr uint16_t kOtherVid = 200;

std::string mac_text(const uint8_t m[6]) {
  char b[24];
  snprintf(b, sizeof(b), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return b;
}
}  // namespace

// Sends a control command (a line on UDP 7070); the guest answers
// "<command>: <result>" with the driver's CtrlResult name. Anything but ok
// fails the check, and says what it means.
bool Runner::ctrl_command(const std::string& check, const std::string& command) {
  std::string reply;
  const std::string prefix = command + ": ";
  bool answered = false;
  for (uint32_t attempt = 0; attempt <= o_.retries && !answered; ++attempt) {
    // control() resends by itself; a late answer to an earlier command is skipped.
    if (!control(command, &reply)) break;
    while (reply.rfind(prefix, 0) != 0) {
      std::vector<uint8_t> got;
      if (!qemu_.wait_for(link_->fd(kGuestControlPort), 500) ||
          !link_->receive(kGuestControlPort, &got))
        break;
      reply.assign(got.begin(), got.end());
    }
    answered = reply.rfind(prefix, 0) == 0;
  }
  if (!answered) {
    fail("--ctrl-check " + check + ": no answer to '" + command + "'" +
         (reply.empty() ? "" : " (last reply: " + reply + ")"));
    return false;
  }
  std::string result = reply.substr(prefix.size());
  while (!result.empty() && (result.back() == '\n' || result.back() == '\r')) result.pop_back();
  if (!o_.quiet) printf("  guest: %s -> %s\n", command.c_str(), result.c_str());
  if (result == "ok") return true;
  std::string why = result;
  if (result.rfind("unsupported", 0) == 0)
    why +=
        " (the feature the command needs was not negotiated: the device does not offer it "
        "-- ctrl_vq=off, ctrl_rx=off, ctrl_vlan=off, ...? -- or the guest declined it, -g "
        "ctrl=0 / mask=)";
  else if (result.rfind("unknown command", 0) == 0)
    why += " (this guest image has no such command)";
  fail("--ctrl-check " + check + ": '" + command + "' answered " + why + "; the check cannot run");
  return false;
}

// One probe: a UDP echo request with a unique payload, to dst (tagged with
// tci when >= 0), then a marker to the guest's own MAC. *delivered: the
// probe's echo came back (before, or within 100 ms after, the marker's).
bool Runner::probe(const uint8_t dst[6], int tci, bool* delivered) {
  const std::string id = "probe " + std::to_string(++probe_seq_) + " " + mac_text(dst);
  const std::vector<uint8_t> payload(id.begin(), id.end());
  const std::string mid = "marker " + std::to_string(probe_seq_);
  const std::vector<uint8_t> marker(mid.begin(), mid.end());
  *delivered = false;
  bool marker_back = false;
  for (uint32_t attempt = 0; attempt <= o_.retries && !marker_back; ++attempt) {
    if (attempt == 0 && !link_->send_to(dst, tci, kGuestEchoPort, payload)) {
      fail("cannot send a probe frame");
      return false;
    }
    static constexpr uint8_t kBroadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    link_->send_to(marker_broadcast_ ? kBroadcast : guest_mac_, -1, kGuestEchoPort, marker);
    double deadline = now_s() + o_.echo_timeout_s;
    double settle = 0;
    std::vector<uint8_t> got;
    while (now_s() < (settle > 0 ? settle : deadline)) {
      if (!qemu_.running()) {
        fail("QEMU exited during a probe");
        return false;
      }
      if (!qemu_.wait_for(link_->fd(kGuestEchoPort), 20)) continue;
      while (link_->receive(kGuestEchoPort, &got)) {
        if (got == payload) {
          *delivered = true;
          const ReplyInfo& r = link_->last_reply();
          if (memcmp(r.src_mac, guest_mac_, 6) != 0) {
            fail("the echo of a probe came from " + mac_text(r.src_mac) + ", not the guest's MAC " +
                 mac_text(guest_mac_));
            return false;
          }
          if (r.tagged != (tci >= 0) || (tci >= 0 && r.tci != tci)) {
            fail("a probe " + std::string(tci >= 0 ? "tagged " + std::to_string(tci) : "untagged") +
                 " came back " + (r.tagged ? "tagged " + std::to_string(r.tci) : "untagged"));
            return false;
          }
        } else if (got == marker && !marker_back) {
          marker_back = true;
          settle = now_s() + 0.1;
        }
      }
    }
  }
  if (!marker_back) {
    fail("the guest no longer echoes frames to " + (marker_broadcast_
                                                        ? std::string("the broadcast MAC")
                                                        : "its own MAC " + mac_text(guest_mac_)));
    return false;
  }
  return true;
}

bool Runner::expect_delivery(const std::string& check, const std::string& what,
                             const uint8_t dst[6], int tci, bool want) {
  bool delivered = false;
  if (!probe(dst, tci, &delivered)) return false;
  if (!o_.quiet) printf("  %-58s %s\n", (what + ":").c_str(), delivered ? "delivered" : "dropped");
  if (delivered != want) {
    fail("--ctrl-check " + check + ": " + what + " was " + (delivered ? "delivered" : "dropped") +
         ", expected " + (want ? "delivered" : "dropped"));
    return false;
  }
  return true;
}

bool Runner::ctrl_check(const std::string& c) {
  if (!o_.quiet) printf("ctrl-check %s:\n", c.c_str());
  const std::string own = "to the guest's MAC";
  auto to = [](const uint8_t m[6]) { return "to " + mac_text(m); };
  // What each check needs negotiated. Without it the check cannot run:
  // it says so (and what the guest answers to the command) instead of
  // passing or failing on a filter QEMU does not apply (without CTRL_VLAN
  // every VLAN passes, without CTRL_RX the device stays promiscuous).
  struct Need {
    const char* check;
    unsigned bit;
    const char* name;
  };
  static constexpr Need kNeeds[] = {
      {"promisc", 18, "CTRL_RX"},    {"allmulti", 18, "CTRL_RX"},
      {"mac-filter", 18, "CTRL_RX"}, {"set-mac", 23, "CTRL_MAC_ADDR"},
      {"vlan", 19, "CTRL_VLAN"},     {"announce", 21, "GUEST_ANNOUNCE"},
      {"set-mac", 18, "CTRL_RX"},    {"vlan", 18, "CTRL_RX"},
      {"rx-extra", 18, "CTRL_RX"},   {"rx-extra", 20, "CTRL_RX_EXTRA"}};
  const uint64_t negotiated = parse_u64(ready_["features"]);
  const uint64_t offered = parse_u64(ready_["offered"]);
  std::string missing;
  for (const Need& n : kNeeds) {
    const uint64_t bit = uint64_t{1} << n.bit;
    if (c != n.check || (negotiated & bit)) continue;
    missing += std::string(missing.empty() ? "" : ", ") + n.name +
               ((offered & bit) ? " (offered, not negotiated)" : " (not offered by the device)");
  }
  if (!(negotiated & (uint64_t{1} << 17)))
    missing = std::string("CTRL_VQ") +
              ((offered & (uint64_t{1} << 17)) ? " (offered, not negotiated: -g ctrl=0?)"
                                               : " (not offered: ctrl_vq=off?)") +
              (missing.empty() ? "" : ", " + missing);
  if (!missing.empty()) {
    fail("--ctrl-check " + c + " cannot run without " + missing);
    const std::string probe_command = c == "set-mac"    ? "mac-addr " + mac_text(guest_mac_)
                                      : c == "vlan"     ? "vlan del " + std::to_string(kTestVid)
                                      : c == "promisc"  ? "rx promisc off"
                                      : c == "announce" ? ""
                                                        : "rx allmulti off";
    if (!probe_command.empty() && ctrl_command(c, probe_command))
      fail("--ctrl-check " + c + ": the guest answered '" + probe_command +
           "' with ok although the feature is not negotiated");
    return false;
  }
  if (c == "announce") return check_announce();
  // Every check filters: promiscuous off first (QEMU's reset state is on).
  if (c != "promisc") {
    if (!ctrl_command(c, "rx promisc off")) return false;
  }
  if (c == "promisc") {
    bool at_attach = false;
    if (!probe(kForeignUnicast, -1, &at_attach)) return false;
    if (!o_.quiet)
      printf("  %-58s %s\n", "after attach, to a foreign unicast MAC:",
             at_attach ? "delivered (promiscuous: QEMU's reset state)"
                       : "dropped (the driver sends its rx modes at attach)");
    return ctrl_command(c, "rx promisc off") &&
           expect_delivery(c, "promiscuous off, " + to(kForeignUnicast), kForeignUnicast, -1,
                           false) &&
           ctrl_command(c, "rx promisc on") &&
           expect_delivery(c, "promiscuous on, " + to(kForeignUnicast), kForeignUnicast, -1,
                           true) &&
           ctrl_command(c, "rx promisc off") &&
           expect_delivery(c, "promiscuous off again, " + to(kForeignUnicast), kForeignUnicast, -1,
                           false);
  }
  if (c == "allmulti") {
    return expect_delivery(c, "all-multicast off, " + to(kOtherMulticast), kOtherMulticast, -1,
                           false) &&
           ctrl_command(c, "rx allmulti on") &&
           expect_delivery(c, "all-multicast on, " + to(kOtherMulticast), kOtherMulticast, -1,
                           true) &&
           ctrl_command(c, "rx allmulti off") &&
           expect_delivery(c, "all-multicast off again, " + to(kOtherMulticast), kOtherMulticast,
                           -1, false);
  }
  if (c == "mac-filter") {
    const std::string set =
        "mac-filter uc=" + mac_text(kFilterUnicast) + " mc=" + mac_text(kFilterMulticast);
    return expect_delivery(c, "no table, " + to(kFilterUnicast), kFilterUnicast, -1, false) &&
           expect_delivery(c, "no table, " + to(kFilterMulticast), kFilterMulticast, -1, false) &&
           ctrl_command(c, set) &&
           expect_delivery(c, "in the table, " + to(kFilterUnicast), kFilterUnicast, -1, true) &&
           expect_delivery(c, "in the table, " + to(kFilterMulticast), kFilterMulticast, -1,
                           true) &&
           expect_delivery(c, "not in the table, " + to(kOtherUnicast), kOtherUnicast, -1, false) &&
           expect_delivery(c, "not in the table, " + to(kOtherMulticast), kOtherMulticast, -1,
                           false) &&
           ctrl_command(c, "mac-filter") &&
           expect_delivery(c, "table emptied, " + to(kFilterUnicast), kFilterUnicast, -1, false) &&
           expect_delivery(c, "table emptied, " + to(kFilterMulticast), kFilterMulticast, -1,
                           false);
  }
  if (c == "set-mac") {
    uint8_t old_mac[6], new_mac[6] = {0x52, 0x54, 0x00, 0x15, 0x00, 0x01};
    memcpy(old_mac, guest_mac_, 6);
    if (memcmp(new_mac, old_mac, 6) == 0) new_mac[5] = 0x02;
    if (!expect_delivery(c, "before, " + to(new_mac), new_mac, -1, false) ||
        !ctrl_command(c, "mac-addr " + mac_text(new_mac)))
      return false;
    memcpy(guest_mac_, new_mac, 6);  // the guest answers as the new MAC from now on
    link_->set_guest_mac(guest_mac_);
    if (!expect_delivery(c, "after the change, " + to(new_mac) + " (the new MAC)", new_mac, -1,
                         true) ||
        !expect_delivery(c, "after the change, " + to(old_mac) + " (the old MAC)", old_mac, -1,
                         false) ||
        !ctrl_command(c, "mac-addr " + mac_text(old_mac)))
      return false;
    memcpy(guest_mac_, old_mac, 6);
    link_->set_guest_mac(guest_mac_);
    return expect_delivery(c, "changed back, " + to(old_mac), old_mac, -1, true) &&
           expect_delivery(c, "changed back, " + to(new_mac), new_mac, -1, false);
  }
  if (c == "rx-extra") {
    // CTRL_RX_EXTRA: all-unicast, no-broadcast, no-multicast (which beats
    // all-multicast), no-unicast (the guest's own MAC too: meanwhile the
    // markers and the requests go to broadcast).
    static constexpr uint8_t kBroadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    bool ok =
        expect_delivery(c, "all-unicast off, " + to(kForeignUnicast), kForeignUnicast, -1, false) &&
        ctrl_command(c, "rx alluni on") &&
        expect_delivery(c, "all-unicast on, " + to(kForeignUnicast), kForeignUnicast, -1, true) &&
        ctrl_command(c, "rx alluni off") &&
        expect_delivery(c, "all-unicast off again, " + to(kForeignUnicast), kForeignUnicast, -1,
                        false) &&
        expect_delivery(c, "no-broadcast off, to broadcast", kBroadcast, -1, true) &&
        ctrl_command(c, "rx nobcast on") &&
        expect_delivery(c, "no-broadcast on, to broadcast", kBroadcast, -1, false) &&
        ctrl_command(c, "rx nobcast off") &&
        expect_delivery(c, "no-broadcast off again, to broadcast", kBroadcast, -1, true) &&
        ctrl_command(c, "rx allmulti on") &&
        expect_delivery(c, "all-multicast on, " + to(kOtherMulticast), kOtherMulticast, -1, true) &&
        ctrl_command(c, "rx nomulti on") &&
        expect_delivery(c, "all-multicast and no-multicast on, " + to(kOtherMulticast),
                        kOtherMulticast, -1, false) &&
        ctrl_command(c, "rx nomulti off") &&
        expect_delivery(c, "no-multicast off again, " + to(kOtherMulticast), kOtherMulticast, -1,
                        true) &&
        ctrl_command(c, "rx allmulti off") &&
        expect_delivery(c, "no-unicast off, " + own, guest_mac_, -1, true);
    if (!ok) return false;
    if (!ctrl_command(c, "rx nouni on")) return false;
    // From here the guest's own MAC is filtered: markers and the request
    // that turns no-unicast off again go to broadcast.
    marker_broadcast_ = true;
    link_->set_guest_mac(kBroadcast);
    ok = expect_delivery(c, "no-unicast on, " + own, guest_mac_, -1, false) &&
         ctrl_command(c, "rx nouni off");
    marker_broadcast_ = false;
    link_->set_guest_mac(guest_mac_);
    return ok && expect_delivery(c, "no-unicast off again, " + own, guest_mac_, -1, true);
  }
  if (c == "vlan") {
    const int v = kTestVid, w = kOtherVid;
    const std::string tag = " tagged " + std::to_string(v) + ", " + own;
    return expect_delivery(c, "no VLAN added," + tag, guest_mac_, v, false) &&
           ctrl_command(c, "vlan add " + std::to_string(v)) &&
           expect_delivery(c, "VLAN " + std::to_string(v) + " added," + tag, guest_mac_, v, true) &&
           expect_delivery(
               c, "VLAN " + std::to_string(v) + " added, tagged " + std::to_string(w) + ", " + own,
               guest_mac_, w, false) &&
           ctrl_command(c, "vlan del " + std::to_string(v)) &&
           expect_delivery(c, "VLAN " + std::to_string(v) + " removed," + tag, guest_mac_, v,
                           false);
  }
  return false;
}

bool Runner::run_ctrl_checks() {
  bool ok = true;
  for (const std::string& c : o_.ctrl_checks) {
    if (!qemu_.running()) return false;
    const bool pass = ctrl_check(c);
    if (!o_.quiet) printf("ctrl-check %s: %s\n", c.c_str(), pass ? "PASS" : "FAIL");
    ok = pass && ok;
  }
  return ok;
}

// One command on QEMU's human monitor (a unix socket, --ctrl-check
// announce); the answer is not needed.
bool Runner::monitor_command(const std::string& command, std::string* error) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  snprintf(a.sun_path, sizeof(a.sun_path), "%s", monitor_path_.c_str());
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    *error = "cannot connect to QEMU's monitor: " + std::string(strerror(errno));
    if (fd >= 0) close(fd);
    return false;
  }
  // The banner's prompt, then the command, then the prompt after it: HMP
  // reads a line only once it is at its prompt, and runs it before the next.
  std::string seen;
  auto until_prompt = [&](size_t count) {
    double deadline = now_s() + 3.0;
    while (now_s() < deadline) {
      size_t prompts = 0;
      for (size_t at = seen.find("(qemu) "); at != std::string::npos;
           at = seen.find("(qemu) ", at + 1))
        ++prompts;
      if (prompts >= count) return true;
      if (!qemu_.wait_for(fd, 50)) continue;
      char buf[4096];
      ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (n <= 0) return false;
      seen.append(buf, static_cast<size_t>(n));
    }
    return false;
  };
  const std::string line = command + "\n";
  bool ok =
      until_prompt(1) &&
      ::send(fd, line.data(), line.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(line.size()) &&
      until_prompt(2);
  close(fd);
  if (!ok) *error = "no answer from QEMU's monitor to '" + command + "'";
  return ok;
}

// GUEST_ANNOUNCE: QEMU's announce_self sets the ANNOUNCE status bit and
// raises a config interrupt (virtio_net_announce, with GUEST_ANNOUNCE and
// CTRL_VQ negotiated); the driver acknowledges it (ANNOUNCE_ACK) and
// reports DeviceEvents::announce, on which the guest sends a gratuitous
// ARP. QEMU sends its own RARP too, which does not count.
bool Runner::check_announce() {
  const uint64_t before = link_->gratuitous_arps();
  std::string error;
  if (!monitor_command("announce_self", &error)) {
    fail("--ctrl-check announce: " + error);
    return false;
  }
  double deadline = now_s() + 3.0;
  std::vector<uint8_t> got;
  while (now_s() < deadline && link_->gratuitous_arps() == before) {
    qemu_.wait_for(link_->fd(kGuestEchoPort), 20);
    while (link_->receive(kGuestEchoPort, &got)) {
    }
  }
  const uint64_t n = link_->gratuitous_arps() - before;
  if (!o_.quiet)
    printf("  %-58s %llu\n",
           "gratuitous ARPs within 3 s of announce_self:", static_cast<unsigned long long>(n));
  if (n == 0) {
    fail(
        "--ctrl-check announce: no gratuitous ARP from the guest after QEMU's announce_self "
        "(GUEST_ANNOUNCE negotiated? ready line: " +
        feature_names(parse_u64(ready_["features"]) & (uint64_t{1} << 21)) + ")");
    return false;
  }
  if (memcmp(link_->announced_mac(), guest_mac_, 6) != 0) {
    fail("--ctrl-check announce: the gratuitous ARP announced " + mac_text(link_->announced_mac()) +
         ", not the guest's MAC " + mac_text(guest_mac_));
    return false;
  }
  return true;
}

// The exit request over UDP (user networking carries it in, never the
// answer back); resent every second until QEMU exits, or, without the exit
// device, until the guest has printed its counters (it halts after that).
bool Runner::exit_one_way() {
  std::vector<uint8_t> bye = {'e', 'x', 'i', 't'};
  for (int attempt = 0; attempt < 10; ++attempt) {
    link_->send(kGuestControlPort, bye);
    double deadline = now_s() + 1.0;
    while (now_s() < deadline) {
      if (o_.exit_device && qemu_.wait_exit(50)) return true;
      if (!o_.exit_device) {
        qemu_.wait_for(-1, 50);
        if (qemu_.find_line("vnet-guest: end counters", nullptr)) return true;
      }
    }
  }
  return false;
}

// Frames the responder must count as malformed and drop (socket link only).
bool Runner::inject_malformed() {
  auto mac = ready_["mac"];
  uint8_t guest[6] = {};
  sscanf(mac.c_str(), "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &guest[0], &guest[1], &guest[2], &guest[3],
         &guest[4], &guest[5]);
  auto base = [&](uint16_t ethertype) {
    std::vector<uint8_t> f(64, 0);
    std::copy(guest, guest + 6, f.begin());
    const uint8_t src[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
    std::copy(src, src + 6, f.begin() + 6);
    f[12] = static_cast<uint8_t>(ethertype >> 8);
    f[13] = static_cast<uint8_t>(ethertype);
    return f;
  };
  auto ip_header = [&](std::vector<uint8_t>& f, uint8_t proto, uint16_t total) {
    uint8_t* ip = f.data() + 14;
    ip[0] = 0x45;
    ip[2] = static_cast<uint8_t>(total >> 8);
    ip[3] = static_cast<uint8_t>(total);
    ip[8] = 64;
    ip[9] = proto;
    const uint8_t addrs[8] = {10, 0, 2, 2, 10, 0, 2, 15};
    std::copy(addrs, addrs + 8, ip + 12);
    uint32_t sum = 0;
    for (int k = 0; k < 20; k += 2) sum += (ip[k] << 8) | ip[k + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    uint16_t c = static_cast<uint16_t>(~sum);
    ip[10] = static_cast<uint8_t>(c >> 8);
    ip[11] = static_cast<uint8_t>(c);
  };
  for (uint32_t i = 0; i < o_.inject_malformed; ++i) {
    std::vector<uint8_t> f;
    switch (i % 8) {
      case 0:  // IPv4 header checksum wrong
        f = base(0x0800);
        ip_header(f, 17, 40);
        f[14 + 10] ^= 0x55;
        break;
      case 1:  // IHL below 5
        f = base(0x0800);
        ip_header(f, 17, 40);
        f[14] = 0x44;
        break;
      case 2:  // total length beyond the frame
        f = base(0x0800);
        ip_header(f, 17, 1400);
        break;
      case 3:  // not version 4
        f = base(0x0800);
        ip_header(f, 17, 40);
        f[14] = 0x65;
        break;
      case 4:  // UDP length below the UDP header
        f = base(0x0800);
        ip_header(f, 17, 40);
        f[34 + 5] = 4;
        break;
      case 5:  // UDP length beyond the IP payload
        f = base(0x0800);
        ip_header(f, 17, 40);
        f[34 + 4] = 0x05;
        break;
      case 6:  // ICMP shorter than its header
        f = base(0x0800);
        ip_header(f, 1, 24);
        break;
      default:  // ARP with a wrong hardware address length
        f = base(0x0806);
        f[14 + 1] = 1;
        f[14 + 2] = 0x08;
        f[14 + 4] = 7;
        f[14 + 5] = 4;
        break;
    }
    if (!link_->send_frame(f)) {
      fail("cannot inject malformed frame " + std::to_string(i));
      return false;
    }
    ++injected_;
    qemu_.wait_for(-1, 1);
  }
  return true;
}

// Echo requests whose replies would exceed the negotiated MTU (socket link
// only), alternately UDP to port 7 and ICMP echo, 1 to 4 bytes over it: the
// driver accepts a received frame of up to MTU + Ethernet header + one VLAN
// tag (a peer may tag its frames), so these reach the responder, which must
// drop and count each as reply_over_mtu instead of handing the driver a
// reply it would drop (tx_drop_len). Needs an MTU below 1500.
bool Runner::inject_oversize() {
  const uint32_t mtu = static_cast<uint32_t>(parse_u64(ready_["mtu"]));
  if (mtu < vnet::spec::kMinMtu || mtu >= 1500) {
    fail("--inject-oversize needs a negotiated MTU below 1500 (e.g. -p host_mtu=1400), have " +
         ready_["mtu"]);
    return false;
  }
  const uint32_t fits = mtu - kIpv4UdpHeaders;  // the largest UDP payload echoed
  uint8_t guest[6] = {};
  sscanf(ready_["mac"].c_str(), "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &guest[0], &guest[1], &guest[2],
         &guest[3], &guest[4], &guest[5]);
  for (uint32_t i = 0; i < o_.inject_oversize; ++i) {
    const uint32_t extra = 1 + (i / 2) % std::min<uint32_t>(4, 1500 - mtu);  // bytes over the MTU
    bool sent;
    if (i % 2 == 0) {
      std::vector<uint8_t> payload(fits + extra, static_cast<uint8_t>(i));
      sent = link_->send(kGuestEchoPort, payload);
    } else {
      // ICMP echo request, IPv4 total length mtu + extra.
      const uint32_t icmp_len = mtu + extra - 20;
      std::vector<uint8_t> f(14 + 20 + icmp_len, 0);
      std::copy(guest, guest + 6, f.begin());
      const uint8_t src[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
      std::copy(src, src + 6, f.begin() + 6);
      f[12] = 0x08;
      uint8_t* ip = f.data() + 14;
      ip[0] = 0x45;
      ip[2] = static_cast<uint8_t>((20 + icmp_len) >> 8);
      ip[3] = static_cast<uint8_t>(20 + icmp_len);
      ip[8] = 64;
      ip[9] = 1;
      const uint8_t addrs[8] = {10, 0, 2, 2, 10, 0, 2, 15};
      std::copy(addrs, addrs + 8, ip + 12);
      uint8_t* icmp = ip + 20;
      icmp[0] = 8;  // echo request
      icmp[5] = static_cast<uint8_t>(i);
      for (uint32_t k = 8; k < icmp_len; ++k) icmp[k] = static_cast<uint8_t>(k);
      auto fold = [](const uint8_t* p, uint32_t n) {
        uint32_t sum = 0;
        for (uint32_t k = 0; k + 1 < n; k += 2) sum += (p[k] << 8) | p[k + 1];
        if (n % 2) sum += p[n - 1] << 8;
        while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
        return static_cast<uint16_t>(~sum);
      };
      uint16_t c = fold(ip, 20);
      ip[10] = static_cast<uint8_t>(c >> 8);
      ip[11] = static_cast<uint8_t>(c);
      c = fold(icmp, icmp_len);
      icmp[2] = static_cast<uint8_t>(c >> 8);
      icmp[3] = static_cast<uint8_t>(c);
      sent = link_->send_frame(f);
    }
    if (!sent) {
      fail("cannot inject oversize request " + std::to_string(i));
      return false;
    }
    ++oversize_injected_;
    qemu_.wait_for(-1, 1);
  }
  // Nothing may come back; what does would be a reply beyond the MTU.
  std::vector<uint8_t> got;
  double deadline = now_s() + 0.2;
  while (now_s() < deadline) {
    if (qemu_.wait_for(link_->fd(kGuestEchoPort), 20) && link_->receive(kGuestEchoPort, &got)) {
      fail("an echo of " + std::to_string(got.size()) + " bytes beyond the MTU came back");
      return false;
    }
  }
  return true;
}

// The block the guest prints at exit: "vnet-guest: counters" ... "end counters".
bool Runner::read_console_counters() {
  const std::string& con = qemu_.console();
  size_t begin = con.rfind("vnet-guest: counters\n");
  size_t end = con.rfind("vnet-guest: end counters");
  if (begin == std::string::npos || end == std::string::npos || end < begin) return false;
  begin += strlen("vnet-guest: counters\n");
  counters_ = parse_counters(con.substr(begin, end - begin));
  return true;
}

bool Runner::check_tx_line() {
  std::string line;
  if (!qemu_.find_line("vnet-guest: tx ", &line)) {
    if (o_.expect_indirect.empty()) return true;
    fail("--expect-indirect " + o_.expect_indirect + " but no \"vnet-guest: tx\" line at exit");
    return false;
  }
  std::map<std::string, std::string> f = parse_fields(line);
  tx_line_ = f;
  if (!o_.quiet)
    printf("tx: scatter-gather frames %s, indirect chains %s, fragments per reply %s\n",
           f["sg_packets"].c_str(), f["indirect_chains"].c_str(), f["frags"].c_str());
  if (o_.expect_indirect.empty()) return true;
  const uint64_t chains = parse_u64(f["indirect_chains"]);
  if (o_.expect_indirect == "on" && chains == 0) {
    fail("--expect-indirect on but the driver published no indirect chain on tx (" + line + ")");
    return false;
  }
  if (o_.expect_indirect == "off" && chains != 0) {
    fail("--expect-indirect off but the driver published " + std::to_string(chains) +
         " indirect chains on tx");
    return false;
  }
  return true;
}

// --expect-pairs-active N: the guest drove N queue pairs (pairs= on its
// ready line) and every one of them carried traffic both ways (its
// counters pairI_rx and pairI_tx, frames the guest took from and handed to
// pair I).
bool Runner::check_pairs() {
  if (o_.expect_pairs_active == 0) return true;
  const uint64_t pairs = parse_u64(ready_["pairs"]);
  bool ok = true;
  if (pairs != o_.expect_pairs_active) {
    fail("--expect-pairs-active " + std::to_string(o_.expect_pairs_active) +
         " but the guest drives pairs=" + (ready_["pairs"].empty() ? "?" : ready_["pairs"]) +
         " (of max_pairs=" + ready_["max_pairs"] + ")");
    ok = false;
  }
  std::string summary;
  for (uint32_t i = 0; i < o_.expect_pairs_active; ++i) {
    const std::string p = "pair" + std::to_string(i);
    const uint64_t rx = counters_[p + "_rx"], tx = counters_[p + "_tx"];
    summary += " " + p + " rx=" + std::to_string(rx) + " tx=" + std::to_string(tx);
    if (rx == 0 || tx == 0) {
      fail("--expect-pairs-active: queue pair " + std::to_string(i) + " carried no traffic " +
           (rx == 0 ? "in" : "out") + " (" + p + "_rx=" + std::to_string(rx) + ", " + p +
           "_tx=" + std::to_string(tx) + ")");
      ok = false;
    }
  }
  if (!o_.quiet) printf("pairs:%s\n", summary.c_str());
  return ok;
}

bool Runner::check_counters() {
  bool ok = true;
  std::vector<std::string> checks = o_.require_counters;
  if (o_.counter_check) {
    for (const char* p :
         {"queue_broken_used_idx", "queue_broken_used_id", "queue_broken_used_stale",
          "rx_drop_len_over", "rx_drop_len_short", "rx_drop_hdr_gso", "rx_drop_hdr_flags",
          "rx_drop_num_buffers", "tx_drop_len", "tx_drop_headroom", "tx_drop_len_over",
          "pool_bad_frees", "shim_refused_accesses", "guest_recoveries"})
      checks.push_back(std::string(p) + "=0");
    // And whatever other drop or broken-queue counter the driver reports
    // (its table grows; e.g. rx_drop_len_mtu, a frame above the MTU).
    for (const auto& [name, value] : counters_) {
      (void)value;
      for (const char* prefix : {"queue_broken_", "rx_drop_", "tx_drop_"})
        if (name.rfind(prefix, 0) == 0 &&
            std::find(checks.begin(), checks.end(), name + "=0") == checks.end())
          checks.push_back(name + "=0");
    }
    checks.push_back("malformed=" + std::to_string(injected_));
    if (o_.inject_oversize > 0)
      checks.push_back("reply_over_mtu=" + std::to_string(oversize_injected_));
    if (tcp_ran_) {
      // One connection a flow, every byte taken once, a clean close on both sides.
      const std::string flows = std::to_string(tcp_flows() + (bulk_done_ > 0 ? 1 : 0));
      checks.push_back("tcp_connections=" + flows);
      checks.push_back("tcp_closed=" + flows);
      for (const char* p : {"tcp_aborted=0", "tcp_resets_in=0", "tcp_refused=0", "tcp_bad_ack=0"})
        checks.push_back(p);
      checks.push_back("tcp_bytes_echoed=" + std::to_string(tcp_bytes_ + bulk_done_));
    }
    if (udp_echoed_ > 0) checks.push_back("udp_echo_replies>=" + std::to_string(udp_echoed_));
  }
  for (const std::string& c : checks) {
    size_t op_at = c.find_first_of("<>=");
    if (op_at == std::string::npos || op_at == 0) continue;  // validated at parse time
    std::string name = c.substr(0, op_at);
    std::string op = c.substr(op_at, c[op_at + 1] == '=' ? 2 : 1);
    uint64_t want = parse_u64(c.substr(op_at + op.size()));
    uint64_t have = counters_.count(name) ? counters_[name] : 0;
    bool pass = op == "=" || op == "==" ? have == want
                : op == ">="            ? have >= want
                : op == "<="            ? have <= want
                : op == ">"             ? have > want
                                        : have < want;
    if (!pass) {
      fail("counter " + name + " = " + std::to_string(have) + ", required " + op.substr(0) +
           std::to_string(want));
      ok = false;
    }
  }
  return ok;
}

// -g KEY=V with V nonzero on the guest's command line.
bool Runner::guest_asks(const char* key) const {
  const std::string prefix = std::string(key) + "=";
  bool on = false;
  for (const std::string& g : o_.guest_args)
    if (g.rfind(prefix, 0) == 0) on = parse_u64(g.substr(prefix.size())) != 0;
  return on;
}

// The negotiated MTU (the ready line's mtu=), 1500 before it is known.
uint32_t Runner::link_mtu() const {
  auto it = ready_.find("mtu");
  const uint64_t mtu = it != ready_.end() ? parse_u64(it->second) : 0;
  return mtu != 0 ? static_cast<uint32_t>(mtu) : 1500;
}

// --bulk BYTES: one more TCP connection to the guest's echo, written and
// read at once (the guest's window, at most 64 KiB, is all that may be in
// flight), every byte compared; bytes/s from the connect to the last byte
// back. Then our FIN, and the guest's after the last byte.
bool Runner::echo_bulk() {
  TcpStream tcp;
  std::string error;
  const double t0 = now_s();
  if (!tcp.connect(link_->tcp_echo_port(), &error, link_->tcp_echo_peer())) {
    fail("bulk: " + error);
    return false;
  }
  const int fd = tcp.fd();
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  std::vector<uint8_t> data(o_.bulk_bytes);
  uint64_t x = o_.seed * 0x9E3779B97F4A7C15ull + 1;
  for (uint8_t& b : data) {  // xorshift64*: the same bytes for the same seed
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    b = static_cast<uint8_t>((x * 0x2545F4914F6CDD1Dull) >> 56);
  }
  std::vector<uint8_t> buf(256 * 1024);
  uint64_t sent = 0, got = 0;
  double last_progress = now_s();
  const double stall = std::max(10.0, o_.echo_timeout_s * 5);
  while (got < data.size()) {
    const double now = now_s();
    if (now > t_start_ + o_.total_timeout_s || now - last_progress > stall) {
      fail("bulk: " + std::to_string(got) + " of " + std::to_string(data.size()) +
           " bytes echoed, " + std::to_string(sent) + " sent, then nothing for " +
           std::to_string(static_cast<int>(now - last_progress)) + " s");
      return false;
    }
    pollfd p{fd, static_cast<short>(POLLIN | (sent < data.size() ? POLLOUT : 0)), 0};
    poll(&p, 1, 100);
    if (!qemu_.running()) {
      fail("bulk: QEMU exited after " + std::to_string(got) + " bytes");
      return false;
    }
    if (sent < data.size() && (p.revents & POLLOUT)) {
      const size_t chunk = std::min<size_t>(64 * 1024, data.size() - sent);
      ssize_t n = send(fd, data.data() + sent, chunk, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) sent += static_cast<uint64_t>(n);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        fail(std::string("bulk: send failed: ") + strerror(errno));
        return false;
      }
    }
    for (;;) {
      ssize_t n = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n == 0) {
        fail("bulk: the guest closed the connection after " + std::to_string(got) + " bytes");
        return false;
      }
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
        fail(std::string("bulk: receive failed: ") + strerror(errno));
        return false;
      }
      if (got + static_cast<uint64_t>(n) > data.size()) {
        fail("bulk: " + std::to_string(got + n - data.size()) + " bytes more than were sent");
        return false;
      }
      if (memcmp(buf.data(), data.data() + got, static_cast<size_t>(n)) != 0) {
        size_t at = 0;
        while (buf[at] == data[got + at]) ++at;
        fail("bulk: the echo differs at byte " + std::to_string(got + at));
        return false;
      }
      got += static_cast<uint64_t>(n);
      last_progress = now_s();
    }
  }
  bulk_s_ = now_s() - t0;
  bulk_done_ = got;
  tcp.shutdown_write();
  const double deadline = now_s() + o_.echo_timeout_s;
  for (;;) {
    ssize_t n = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n == 0) break;
    if (n > 0) {
      fail("bulk: " + std::to_string(n) + " bytes after the last one");
      return false;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      fail(std::string("bulk: receive failed while closing: ") + strerror(errno));
      return false;
    }
    if (now_s() > deadline) {
      fail("bulk: the guest did not close the connection (no FIN)");
      return false;
    }
    pollfd p{fd, POLLIN, 0};
    poll(&p, 1, 50);
  }
  tcp.close();
  tcp_ran_ = true;
  qemu_.wait_for(-1, 20);  // the guest sees the ACK of its FIN
  if (!o_.quiet)
    printf("bulk: %llu bytes echoed byte-exact in %.3f s: %.0f bytes/s\n",
           static_cast<unsigned long long>(got), bulk_s_, bulk_s_ > 0 ? got / bulk_s_ : 0.0);
  return true;
}

// The guest's "vnet-guest: offload" exit line (and on --net tap the
// capture) against --expect-offloads.
bool Runner::check_offloads() {
  if (capturing_) capture_stats_ = capture_.stats();
  std::string line;
  if (qemu_.find_line("vnet-guest: offload ", &line)) offload_line_ = parse_fields(line);
  auto v = [this](const char* k) {
    auto it = offload_line_.find(k);
    return it == offload_line_.end() ? uint64_t{0} : parse_u64(it->second);
  };
  const TapCaptureStats& c = capture_stats_;
  if (!o_.quiet && !offload_line_.empty())
    printf(
        "offload: guest sent %llu frames with the checksum left to the device, %llu TSO frames "
        "(%llu payload bytes), largest frame %llu; received %llu partial / %llu verified, %llu "
        "coalesced, %llu chains, largest frame %llu\n",
        static_cast<unsigned long long>(v("tx_csum")), static_cast<unsigned long long>(v("tx_gso")),
        static_cast<unsigned long long>(v("tso_bytes")),
        static_cast<unsigned long long>(v("max_tx_frame")),
        static_cast<unsigned long long>(v("rx_csum_partial")),
        static_cast<unsigned long long>(v("rx_csum_verified")),
        static_cast<unsigned long long>(v("rx_gso")),
        static_cast<unsigned long long>(v("rx_chains")),
        static_cast<unsigned long long>(v("max_rx_frame")));
  if (!o_.quiet && capturing_)
    printf(
        "tap: from the guest %llu frames, %llu above MTU+14 (largest %llu), %llu with the "
        "checksum still to complete (%llu holding the pseudo-header sum, %llu not); to the guest "
        "%llu frames, %llu above MTU+14 (largest %llu)\n",
        static_cast<unsigned long long>(c.from_guest),
        static_cast<unsigned long long>(c.from_guest_over_mtu),
        static_cast<unsigned long long>(c.from_guest_max),
        static_cast<unsigned long long>(c.csum_not_ready),
        static_cast<unsigned long long>(c.csum_partial_ok),
        static_cast<unsigned long long>(c.csum_partial_bad),
        static_cast<unsigned long long>(c.to_guest),
        static_cast<unsigned long long>(c.to_guest_over_mtu),
        static_cast<unsigned long long>(c.to_guest_max));
  // --host-mtu above 1500 with a bulk stream: frames that large both ways
  // (the guest's largest frames; on --net tap the tap's too).
  bool jumbo_ok = true;
  if (o_.host_mtu > 1500 && bulk_done_ > 0) {
    auto jumbo = [&](bool cond, const std::string& what) {
      if (!cond) {
        fail("--host-mtu " + std::to_string(o_.host_mtu) + ": " + what);
        jumbo_ok = false;
      }
    };
    const uint64_t want = uint64_t{o_.host_mtu} + 14;
    jumbo(link_mtu() == o_.host_mtu, "the guest negotiated MTU " + std::to_string(link_mtu()));
    jumbo(v("max_rx_frame") >= want && v("max_tx_frame") >= want,
          "the guest's largest frames were " + std::to_string(v("max_rx_frame")) +
              " bytes received and " + std::to_string(v("max_tx_frame")) + " sent, expected " +
              std::to_string(want));
    if (capturing_)
      jumbo(c.from_guest_max >= want && c.to_guest_max >= want,
            "the tap's largest frames were " + std::to_string(c.from_guest_max) +
                " from the guest and " + std::to_string(c.to_guest_max) + " to it");
  }
  if (o_.expect_offloads.empty()) return jumbo_ok;
  if (offload_line_.empty()) {
    fail("--expect-offloads but no \"vnet-guest: offload\" line at exit");
    return false;
  }
  bool ok = jumbo_ok;
  auto require = [&](bool cond, const std::string& what) {
    if (!cond) {
      fail("--expect-offloads " + o_.expect_offloads + ": " + what);
      ok = false;
    }
  };
  const uint64_t mtu_frame = link_mtu() + 14;
  if (o_.expect_offloads == "off") {
    require(v("tx_csum") == 0 && v("tx_gso") == 0,
            "the guest sent frames with offloads: tx_csum=" + std::to_string(v("tx_csum")) +
                " tx_gso=" + std::to_string(v("tx_gso")));
    require(v("rx_csum_partial") == 0 && v("rx_gso") == 0,
            "the guest received offloaded frames: rx_csum_partial=" +
                std::to_string(v("rx_csum_partial")) + " rx_gso=" + std::to_string(v("rx_gso")));
    return ok;
  }
  const bool tso = guest_asks("tso");
  require(v("tx_csum") > 0, "no frame left its checksum to the device (tx_csum=0)");
  require(v("rx_csum_partial") + v("rx_csum_verified") > 0,
          "no received frame came with a checksum report (rx_csum_partial and "
          "rx_csum_verified 0)");
  if (tso) {
    require(v("tx_gso") > 0, "no TSO frame sent (tx_gso=0)");
    require(v("max_tx_frame") > mtu_frame,
            "the largest frame sent, " + std::to_string(v("max_tx_frame")) +
                " bytes, is not above MTU + 14 = " + std::to_string(mtu_frame));
    if (bulk_done_ > 0)
      require(v("rx_gso") > 0 && v("max_rx_frame") > mtu_frame,
              "no coalesced frame above MTU + 14 received during the bulk stream (rx_gso=" +
                  std::to_string(v("rx_gso")) + ", largest " + std::to_string(v("max_rx_frame")) +
                  ")");
  }
  if (capturing_) {
    require(c.csum_not_ready > 0,
            "the tap saw no frame from the guest with its checksum still to complete");
    require(c.csum_partial_bad == 0, std::to_string(c.csum_partial_bad) +
                                         " frames on the tap left partial with a checksum field "
                                         "that is not the pseudo-header sum");
    if (tso)
      require(c.from_guest_over_mtu > 0, "the tap saw no frame above MTU + 14 = " +
                                             std::to_string(mtu_frame) + " from the guest");
  }
  return ok;
}

bool Runner::shutdown_guest() {
  std::string reply;
  if (!control("exit", &reply) || reply.rfind("bye", 0) != 0) {
    fail("guest did not acknowledge the exit request");
    return false;
  }
  if (!o_.exit_device) return true;
  if (!qemu_.wait_exit(10000)) {
    fail("QEMU did not exit after the guest said bye");
    return false;
  }
  if (qemu_.exit_status() != qemu_status(kGuestOk)) {
    fail("QEMU exit status " + std::to_string(qemu_.exit_status()) + ", expected " +
         std::to_string(qemu_status(kGuestOk)));
    return false;
  }
  return true;
}

void Runner::write_json(int rc) {
  if (o_.json_path.empty()) return;
  nlohmann::json j;
  j["result"] = rc == kExitOk ? "pass" : "fail";
  j["machine"] = o_.machine;
  j["transport"] = transport_name();
  j["device_props"] = o_.device_props;
  j["guest_args"] = o_.guest_args;
  j["irq"] = o_.irq.empty() ? "msix" : o_.irq;
  if (ready_.count("irq_mode")) j["irq_mode"] = ready_["irq_mode"];
  if (ready_.count("ring")) j["ring"] = ready_["ring"];
  if (ready_.count("indirect_desc")) j["indirect_desc"] = ready_["indirect_desc"];
  if (tx_line_.count("indirect_chains"))
    j["tx_indirect_chains"] = parse_u64(tx_line_["indirect_chains"]);
  if (!o_.action.empty()) j["action"] = o_.action;
  if (!o_.ctrl_checks.empty()) j["ctrl_checks"] = o_.ctrl_checks;
  if (ready_.count("ctrl")) j["ctrl"] = ready_["ctrl"];
  if (ready_.count("pairs")) j["pairs"] = parse_u64(ready_["pairs"]);
  if (o_.net == "tap")
    j["tap"] = {{"queues", o_.queues}, {"udp_flows", o_.udp_flows}, {"tcp_flows", tcp_flows()}};
  j["expect"] = o_.expect;
  j["net"] = o_.net;
  j["protocol"] = link_ && link_->tcp_echo_port() != 0 ? "tcp" : "udp";
  j["failures"] = failures_;
  j["boot_ms"] = boot_s_ * 1000;
  j["first_echo_ms"] = first_echo_s_ >= 0 ? (first_echo_s_ - idle_s_) * 1000 : -1;
  if (idle_cpu_percent_ >= 0)
    j["idle_cpu"] = {{"seconds", o_.idle_cpu_s}, {"percent_of_one_cpu", idle_cpu_percent_}};
  j["ready"] = ready_;
  j["echo"] = {{"requested", o_.count},
               {"echoed", echoed_},
               {"resent", resent_},
               {"stale", stale_},
               {"bytes", bytes_},
               {"seconds", echo_s_},
               {"rtt_ms_min", rtt_.pct(0)},
               {"rtt_ms_p50", rtt_.pct(50)},
               {"rtt_ms_p99", rtt_.pct(99)},
               {"rtt_ms_max", rtt_.pct(100)},
               {"rtt_ms_mean", rtt_.mean()}};
  if (bulk_done_ > 0)
    j["bulk"] = {{"bytes", bulk_done_},
                 {"seconds", bulk_s_},
                 {"bytes_per_s", bulk_s_ > 0 ? bulk_done_ / bulk_s_ : 0.0}};
  if (!offload_line_.empty()) j["offload"] = offload_line_;
  if (capturing_)
    j["tap_capture"] = {{"from_guest", capture_stats_.from_guest},
                        {"from_guest_over_mtu", capture_stats_.from_guest_over_mtu},
                        {"from_guest_max", capture_stats_.from_guest_max},
                        {"csum_not_ready", capture_stats_.csum_not_ready},
                        {"csum_partial_ok", capture_stats_.csum_partial_ok},
                        {"csum_partial_bad", capture_stats_.csum_partial_bad},
                        {"to_guest", capture_stats_.to_guest},
                        {"to_guest_over_mtu", capture_stats_.to_guest_over_mtu},
                        {"to_guest_max", capture_stats_.to_guest_max}};
  j["counters"] = counters_;
  j["qemu_exit_status"] = qemu_.exited() ? qemu_.exit_status() : -1;
  if (!record_path_.empty()) j["recording"] = {{"file", record_path_}, {"events", trace_events_}};
  std::ofstream(o_.json_path) << j.dump(2) << "\n";
}

// --idle-cpu S: with the guest ready and nothing sent to it, QEMU's CPU
// use (utime + stime of /proc/PID/stat) over S seconds, after half a
// second for the guest's own start-up traffic to settle. What an idle
// guest costs its host: about 100 % of one CPU when it polls.
bool Runner::measure_idle_cpu() {
  auto ticks = [](pid_t pid, uint64_t* out) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos) return false;
    std::istringstream rest(stat.substr(paren + 2));
    std::string field;
    uint64_t utime = 0, stime = 0;
    // After the command name: field 3 (state) .. utime is field 14, stime 15.
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::stoull(field);
      if (i == 15) stime = std::stoull(field);
    }
    *out = utime + stime;
    return true;
  };
  const double settle = 0.5;
  const double t0 = now_s();
  while (now_s() < t0 + settle) qemu_.wait_for(-1, 20);
  uint64_t before = 0, after = 0;
  const pid_t pid = qemu_.pid();
  if (pid <= 0 || !ticks(pid, &before)) {
    fail("--idle-cpu: cannot read QEMU's /proc/PID/stat");
    return false;
  }
  const double t1 = now_s();
  while (now_s() < t1 + o_.idle_cpu_s && qemu_.running()) qemu_.wait_for(-1, 50);
  const double window = now_s() - t1;
  if (!qemu_.running() || !ticks(pid, &after)) {
    fail("--idle-cpu: QEMU exited during the idle window");
    return false;
  }
  idle_s_ = now_s() - t0;
  idle_cpu_percent_ = 100.0 * double(after - before) / double(sysconf(_SC_CLK_TCK)) / window;
  if (!o_.quiet)
    printf("idle: QEMU used %.1f %% of one CPU over %.1f s with the guest idle (irq_mode %s)\n",
           idle_cpu_percent_, window, ready_["irq_mode"].c_str());
  return true;
}

int Runner::run() {
  int rc = kExitOk;
  if (!boot()) {
    rc = kExitFailure;
  } else if (!o_.action.empty() && expect_ == Expect::kEcho) {
    rc = run_action();
  } else if (expect_ != Expect::kEcho) {
    rc = check_expected_failure();
  } else if (ready_line_.empty()) {
    std::string line;
    qemu_.find_line("vnet-guest: exit", &line);
    fail("guest exited before it was ready: " + line);
    rc = kExitFailure;
  } else {
    bool ok = check_ready_line();
    uint8_t* mac = guest_mac_;
    sscanf(ready_["mac"].c_str(), "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2],
           &mac[3], &mac[4], &mac[5]);
    link_->set_guest_mac(mac);
    if (o_.idle_cpu_s > 0) ok = measure_idle_cpu() && ok;
    if (o_.inject_malformed > 0) ok = inject_malformed() && ok;
    if (o_.inject_oversize > 0) ok = inject_oversize() && ok;
    if (link_->replies_possible()) {
      if (!fit_sizes_to_mtu())
        ok = false;
      else
        ok = echo_all() && ok;
      // --net tap: TCP too, on several flows, straight to the guest.
      if (ok && o_.net == "tap") ok = echo_tcp();
      if (ok && o_.bulk_bytes > 0) ok = echo_bulk();
      if (ok && !o_.ctrl_checks.empty()) ok = run_ctrl_checks();
      std::string text;
      if (ok && qemu_.running() && control("counters", &text)) {
        counters_ = parse_counters(text);
      } else if (ok) {
        fail("no answer to the counters request");
        ok = false;
      }
      if (qemu_.running()) ok = shutdown_guest() && ok;
      // The exit's console counters are complete (the UDP answer is cut
      // to one datagram): they win where both have a counter.
      if (ok && !qemu_.running()) {
        std::map<std::string, uint64_t> udp = counters_;
        if (read_console_counters())
          for (const auto& [k, v] : udp) counters_.emplace(k, v);
      }
      if (ok) ok = check_counters();
      if (ok) ok = check_tx_line();
      if (ok) ok = check_pairs();
      if (ok) ok = check_offloads();
    } else {
      // User networking: TCP echo both ways; the exit request arrives over
      // UDP, its answer cannot (link.h), so the counters come from the console.
      ok = echo_tcp() && ok;
      if (ok && o_.bulk_bytes > 0) ok = echo_bulk();
      if (!qemu_.running()) {
        fail("QEMU exited before the exit request");
        ok = false;
      } else if (!exit_one_way()) {
        fail("guest did not exit on request");
        ok = false;
      } else if (!read_console_counters()) {
        fail("no counters on the guest console");
        ok = false;
      } else {
        if (o_.exit_device && qemu_.exit_status() != qemu_status(kGuestOk)) {
          fail("QEMU exit status " + std::to_string(qemu_.exit_status()) + ", expected " +
               std::to_string(qemu_status(kGuestOk)));
          ok = false;
        }
        ok = check_counters() && ok;
        ok = check_tx_line() && ok;
        ok = check_pairs() && ok;
        ok = check_offloads() && ok;
      }
    }
    rc = ok ? kExitOk : kExitFailure;
    if (!o_.quiet) {
      bool tcp = link_->tcp_echo_port() != 0 && o_.net != "tap";
      if (o_.net == "tap")
        printf(
            "echo: %llu/%llu UDP datagrams over %u flows and %llu/%llu TCP messages over %u "
            "connections byte-exact, %u..%u bytes",
            static_cast<unsigned long long>(udp_echoed_), static_cast<unsigned long long>(o_.count),
            o_.udp_flows, static_cast<unsigned long long>(tcp_echoed_),
            static_cast<unsigned long long>(o_.count), tcp_flows(), o_.min_size, max_size_);
      else
        printf("echo: %llu/%llu %s byte-exact, %u..%u bytes, %llu bytes each way",
               static_cast<unsigned long long>(echoed_), static_cast<unsigned long long>(o_.count),
               tcp ? "TCP messages" : "UDP datagrams", o_.min_size, max_size_,
               static_cast<unsigned long long>(bytes_));
      if (tcp || o_.net == "tap")
        printf(", guest retransmits %llu\n",
               static_cast<unsigned long long>(counters_["tcp_retransmits"]));
      else
        printf(", %llu resent, %llu late duplicates\n", static_cast<unsigned long long>(resent_),
               static_cast<unsigned long long>(stale_));
      if (!rtt_.ms.empty()) {
        printf("rtt: min %.3f ms, median %.3f, p99 %.3f, max %.3f, mean %.3f; %.0f round trips/s\n",
               rtt_.pct(0), rtt_.pct(50), rtt_.pct(99), rtt_.pct(100), rtt_.mean(),
               echo_s_ > 0 ? echoed_ / echo_s_ : 0.0);
        printf("boot to first echo: %.0f ms%s\n", (first_echo_s_ - idle_s_) * 1000,
               idle_s_ > 0 ? " (the idle window not counted)" : "");
      }
      std::string nonzero;
      for (const auto& [k, v] : counters_) nonzero += " " + k + "=" + std::to_string(v);
      if (!nonzero.empty()) printf("counters:%s\n", nonzero.c_str());
    }
  }
  if (!finish_recording()) rc = kExitFailure;
  qemu_.stop();
  capture_.stop();   // before the namespace goes
  link_.reset();     // its sockets live in the namespace
  netns_.destroy();  // --net tap: after QEMU, which held the tap
  if (!monitor_path_.empty()) {
    unlink(monitor_path_.c_str());
    rmdir(monitor_path_.substr(0, monitor_path_.rfind('/')).c_str());
  }
  if (rc != kExitOk || o_.show_console) dump_diagnostics();
  if (prerequisite_missing_) rc = kExitSkipped;
  if (!o_.quiet)
    printf("result: %s\n", rc == kExitOk ? "PASS" : rc == kExitSkipped ? "SKIPPED" : "FAIL");
  write_json(rc);
  return rc;
}

}  // namespace
}  // namespace vnetqemu

int main(int argc, char** argv) {
  using vnetqemu::Options;
  Options o;
  o.kernel = vnetqemu::dirname_of_self() + "/vnet-guest.elf";
  CLI::App app{"Boot vnet-guest.elf under QEMU (TCG) and check echoes byte for byte."};
  app.add_option("--qemu", o.qemu, "QEMU binary")->capture_default_str();
  app.add_option("--kernel", o.kernel, "guest image (default: next to vnet-qemu)");
  app.add_option("-M,--machine", o.machine,
                 "QEMU machine: pc, q35 (virtio-net-pci), microvm (virtio-net-device on "
                 "virtio-mmio, no PCI)")
      ->check(CLI::IsMember({"pc", "q35", "microvm"}))
      ->capture_default_str();
  app.add_option("-t,--transport", o.transport, "virtio-net-pci flavour (pc, q35)")
      ->check(CLI::IsMember({"legacy", "modern", "transitional"}))
      ->capture_default_str();
  app.add_option("--mmio-version", o.mmio_version,
                 "virtio-mmio interface on -M microvm: 1 (legacy, QEMU 7.2's default) or 2 "
                 "(-global virtio-mmio.force-legacy=false); default 1")
      ->check(CLI::IsMember({1u, 2u}));
  app.add_flag("--microvm-acpi", o.microvm_acpi,
               "boot -M microvm with ACPI (QEMU's default): QEMU then appends no "
               "virtio_mmio.device= to the command line and the guest finds the NIC by probing "
               "QEMU's slots (24, lines on the second I/O APIC); default acpi=off");
  app.add_option("-p,--device-prop", o.device_props,
                 "extra virtio-net-pci property, key=value (repeatable; e.g. mrg_rxbuf=off)");
  app.add_option("-g,--guest-arg", o.guest_args,
                 "guest command line key=value (repeatable; mode=legacy|modern, rx_cap=N, "
                 "tx_cap=N, mask=0xBITS, buf=N, log=debug)");
  app.add_option("--irq", o.irq,
                 "interrupt mode for the guest (irq=MODE on its command line): poll, intx (also "
                 "sets vectors=0 on the NIC, so QEMU offers no MSI-X), msix (the guest's "
                 "default); the driver walks down the ladder MSI-X -> INTx -> polling from "
                 "there, and the ready line's irq_mode must be the best rung the NIC offers")
      ->check(CLI::IsMember({"poll", "intx", "msix"}));
  app.add_option("--action", o.action,
                 "run a guest action instead of the echo test, and pass when the guest exits "
                 "with status 33: irqtest (timer, INTx and MSI self-test; use with --edu), "
                 "idle (halts for -g seconds=N, default 10), lspci")
      ->check(CLI::IsMember({"irqtest", "idle", "lspci"}));
  app.add_option("--edu", o.edu,
                 "add N QEMU 'edu' test devices; action=irqtest proves INTx routing on each "
                 "slot and MSI on the first")
      ->check(CLI::Range(0u, 8u));
  app.add_option("-m,--memory", o.memory_mib, "guest RAM in MiB")
      ->check(CLI::Range(64u, 16384u))
      ->capture_default_str();
  app.add_option("-n,--count", o.count, "messages (TCP) or datagrams (UDP) to echo")
      ->capture_default_str();
  app.add_option("--min-size", o.min_size, "smallest message")->capture_default_str();
  app.add_option("--max-size", o.max_size,
                 "largest message (TCP <= 65536; UDP <= 1472, by default the largest payload "
                 "the negotiated MTU carries)")
      ->capture_default_str();
  app.add_option("--seed", o.seed, "payload seed")->capture_default_str();
  app.add_option("--boot-timeout", o.boot_timeout_s, "seconds until the ready line")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--echo-timeout", o.echo_timeout_s, "seconds to wait for one echo")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--idle-cpu", o.idle_cpu_s,
                 "before the echoes, measure QEMU's CPU use (/proc/PID/stat) over this many "
                 "seconds with the guest idle (boot-to-first-echo then leaves the window out)")
      ->check(CLI::Range(0.1, 600.0));
  app.add_option("--retries", o.retries,
                 "resends of a UDP datagram or control request before failing")
      ->capture_default_str();
  app.add_option("--timeout", o.total_timeout_s, "seconds for the whole run")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--net", o.net,
                 "user: QEMU user networking, restrict=on, hostfwd on 127.0.0.1, TCP echo both "
                 "ways; socket: Ethernet frames over 127.0.0.1 UDP, the runner is the guest's "
                 "peer, UDP echo both ways; tap: a tap device in a network namespace the run "
                 "creates and removes, UDP and TCP echo straight to 10.0.2.15 -- needs root "
                 "(CAP_SYS_ADMIN, CAP_NET_ADMIN), /dev/net/tun and iproute2's ip, else the run "
                 "exits 77 (skipped)")
      ->check(CLI::IsMember({"socket", "user", "tap"}))
      ->capture_default_str();
  app.add_option("--queues", o.queues,
                 "--net tap: tap queues (multi_queue when > 1; the device then gets mq=on and "
                 "vectors=2N+2)")
      ->check(CLI::Range(1u, 8u))
      ->capture_default_str();
  app.add_option("--udp-flows", o.udp_flows,
                 "--net tap: UDP source ports the echo datagrams rotate over")
      ->check(CLI::Range(1u, 64u))
      ->capture_default_str();
  app.add_option("--tcp-flows", o.tcp_flows,
                 "TCP connections open at once, messages round-robin over them (--net user or "
                 "tap; the guest serves 4); default 1, 4 on --net tap")
      ->check(CLI::Range(1u, 4u));
  app.add_flag("--tap-vnet-hdr", o.tap_vnet_hdr,
               "--net tap: vnet_hdr=on on the netdev (QEMU then offers the checksum and TSO "
               "offloads; default off)");
  app.add_option("--host-mtu", o.host_mtu,
                 "the NIC's MTU (virtio-net host_mtu=N) and, with --net tap, the tap's MTU in "
                 "the namespace; the guest needs room for such frames (-g chains=1 over "
                 "MRG_RXBUF, or -g max_frame=N+18 with buf= large enough)")
      ->check(CLI::Range(68u, 65535u));
  app.add_option("--expect-offloads", o.expect_offloads,
                 "on: the offloads the guest asks for (-g csum=1, -g tso=1) are negotiated and "
                 "used (its exit line: checksums left to the device, TSO frames above the MTU, "
                 "offloaded frames received; on --net tap also the tap capture: frames above "
                 "MTU + 14 from the guest, checksums still to complete holding the pseudo-header "
                 "sum); off: none negotiated or used")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--bulk", o.bulk_bytes,
                 "after the echoes, stream this many bytes through one more TCP connection to "
                 "the guest's echo (--net user or tap), sending and reading at once, compare "
                 "every byte and report bytes/s")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 30));
  app.add_option("--tap-pcap", o.tap_pcap,
                 "--net tap: write what crossed the tap, both ways, to this pcap (the first 128 "
                 "bytes of each frame, its full length in the record)");
  app.add_option("--ctrl-check", o.ctrl_checks,
                 "after the echoes, ask the guest for a control-plane setting and check QEMU's "
                 "receive filter follows it (--net socket; repeatable): promisc, allmulti, "
                 "rx-extra (alluni, nobcast, nomulti, nouni), mac-filter, set-mac, vlan, "
                 "announce (QEMU's announce_self -> the guest's gratuitous ARP)");
  app.add_option("--expect-features", o.expect_features,
                 "feature names that must be negotiated (repeatable, comma-separated, e.g. "
                 "ctrl_vq,ctrl_rx,ctrl_vlan,ctrl_mac_addr,guest_announce)")
      ->delimiter(',');
  app.add_option("--expect-ctrl", o.expect_ctrl,
                 "on: the driver set up a control queue (the ready line's ctrl=on); off: it has "
                 "none")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--expect-rss", o.expect_rss,
                 "on: the guest (-g rss=1) negotiated RSS and the device acknowledged its "
                 "RSS_CONFIG (the ready line's rss=on); off: no RSS")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--expect-pairs-active", o.expect_pairs_active,
                 "the guest drives this many queue pairs (-g pairs=N) and every one carried "
                 "traffic both ways (its pairI_rx / pairI_tx counters)")
      ->check(CLI::Range(1u, 8u));
  app.add_option("--inject-malformed", o.inject_malformed,
                 "malformed frames to send before the echoes (--net socket); the guest must "
                 "count each as malformed and keep echoing");
  app.add_option("--inject-oversize", o.inject_oversize,
                 "UDP and ICMP echo requests whose replies would exceed the negotiated MTU "
                 "(--net socket, MTU below 1500), sent before the echoes; the guest must drop "
                 "and count each (reply_over_mtu) and keep echoing");
  app.add_option("--expect", o.expect,
                 "expected outcome: echo, attach-failure, probe-failure, no-device, bad-cmdline")
      ->capture_default_str();
  app.add_option("--expect-ring", o.expect_ring,
                 "the ring kind the driver must negotiate (the ready line's ring=): split, "
                 "packed (-p packed=on on a modern interface, the guest accepting it)")
      ->check(CLI::IsMember({"split", "packed"}));
  app.add_option("--expect-indirect", o.expect_indirect,
                 "on: INDIRECT_DESC negotiated (the ready line's indirect_desc=) and the driver "
                 "published indirect chains on tx (the guest's exit line \"vnet-guest: tx ... "
                 "indirect_chains=N\", N > 0); off: not negotiated and none published")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--require-counter", o.require_counters,
                 "counter condition NAME(=|>=|<=|>|<)VALUE, checked after the echoes");
  app.add_flag("!--no-counter-check", o.counter_check,
               "do not require zero error counters after the echoes");
  app.add_flag("!--no-exit-device", o.exit_device, "boot without the isa-debug-exit device");
  app.add_option("--trace-serial", o.trace_serial, "file for the guest's second serial port");
  app.add_option("--record", o.record_path,
                 "record the run in the guest (record=1, trace streamed over COM2) and save "
                 "the trace to this file");
  app.add_option("--qemu-trace", o.qemu_trace_dir,
                 "capture QEMU's own trace log (qemu.log), a pcap of the NIC (frames.pcap) and "
                 "the guest-side recording (guest.jsonl unless --record) in this directory; "
                 "sets ioeventfd=off");
  app.add_option("--record-end-timeout", o.record_end_timeout_s,
                 "seconds to wait for the trace's end line before QEMU is stopped")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--json", o.json_path, "write a JSON summary to this file");
  app.add_flag("--show-console", o.show_console, "print the guest console even on success");
  app.add_flag("-v,--verbose", o.verbose, "print the QEMU command line");
  app.add_flag("-q,--quiet", o.quiet, "print failures only");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : vnetqemu::kExitUsage;
  }
  o.max_size_given = app.count("--max-size") > 0;
  // -g pairs=N > 1: the driver drives several queue pairs only when it
  // polls (interrupts serve pair 0's queues), so without --irq (or -g irq=)
  // the guest is asked to poll.
  bool irq_arg = false;
  uint64_t pairs = 1;
  for (const std::string& g : o.guest_args) {
    irq_arg = irq_arg || g.rfind("irq=", 0) == 0;
    if (g.rfind("pairs=", 0) == 0) pairs = std::strtoull(g.c_str() + 6, nullptr, 0);
  }
  if (pairs > 1 && o.irq.empty() && !irq_arg) o.irq = "poll";
  o.transport_given = app.count("--transport") > 0;
  for (const std::string& c : o.require_counters) {
    size_t at = c.find_first_of("<>=");
    if (at == std::string::npos || at == 0 || at + 1 >= c.size()) {
      fprintf(stderr, "vnet-qemu: --require-counter '%s' is not NAME(=|>=|<=|>|<)VALUE\n",
              c.c_str());
      return vnetqemu::kExitUsage;
    }
  }
  vnetqemu::Runner runner(o);
  std::string error;
  if (!runner.parse_options(&error)) {
    fprintf(stderr, "vnet-qemu: %s\n", error.c_str());
    return vnetqemu::kExitUsage;
  }
  return runner.run();
}
