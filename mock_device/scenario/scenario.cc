#include "mock_device/scenario/scenario.h"

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "driver/spec/mmio_layout.h"
#include "driver/spec/virtio_constants.h"
#include "verdict/verdict.h"

namespace vnet::scenario {

using nlohmann::json;

namespace {

// The virtio-mmio registers a register lie may name (4.2.2, 4.2.4): the
// ones the device answers reads of.
struct MmioRegisterName {
  const char* name;
  uint32_t offset;
};
constexpr MmioRegisterName kMmioRegisters[] = {
    {"MagicValue", spec::mmio::kMagicValue},
    {"Version", spec::mmio::kVersion},
    {"DeviceID", spec::mmio::kDeviceId},
    {"VendorID", spec::mmio::kVendorId},
    {"DeviceFeatures", spec::mmio::kDeviceFeatures},
    {"QueueNumMax", spec::mmio::kQueueNumMax},
    {"QueuePFN", spec::mmio::kQueuePfn},
    {"QueueReady", spec::mmio::kQueueReady},
    {"InterruptStatus", spec::mmio::kInterruptStatus},
    {"Status", spec::mmio::kStatus},
    {"ConfigGeneration", spec::mmio::kConfigGeneration},
};
constexpr const char* kMmioRegisterNames =
    "MagicValue, Version, DeviceID, VendorID, DeviceFeatures, QueueNumMax, QueuePFN, "
    "QueueReady, InterruptStatus, Status, ConfigGeneration";

// "QueueNumMax" -> 0x034; "config+10" -> 0x10A (device configuration).
bool mmio_register_offset(const std::string& name, uint32_t* out) {
  for (const auto& r : kMmioRegisters)
    if (name == r.name) {
      *out = r.offset;
      return true;
    }
  const std::string prefix = "config+";
  if (name.rfind(prefix, 0) != 0 || name.size() == prefix.size() || name.size() > prefix.size() + 5)
    return false;
  uint32_t n = 0;
  for (size_t i = prefix.size(); i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    n = n * 10 + uint32_t(name[i] - '0');
  }
  if (n >= 0x10000) return false;
  *out = spec::mmio::kConfig + n;
  return true;
}

// ---------------------------------------------------------------------------
// Line tracking: JSON pointer of every value -> the line it sits on.
// ---------------------------------------------------------------------------

class LineMap {
 public:
  explicit LineMap(std::string_view text) : text_(text) {
    starts_.push_back(0);
    for (size_t i = 0; i < text.size(); ++i)
      if (text[i] == '\n') starts_.push_back(i + 1);
  }
  // Line (1-based) of the last non-blank character before byte pos.
  int line_before(size_t pos) const {
    size_t p = std::min(pos, text_.size());
    while (p > 0 && std::isspace(static_cast<unsigned char>(text_[p - 1]))) --p;
    if (p > 0) --p;
    return line_of(p);
  }
  int line_of(size_t pos) const {
    return int(std::upper_bound(starts_.begin(), starts_.end(), pos) - starts_.begin());
  }
  void record(const std::string& pointer, int line) { lines_[pointer] = line; }
  int line(const std::string& pointer) const {
    // The value itself, else its nearest recorded ancestor.
    std::string p = pointer;
    for (;;) {
      auto it = lines_.find(p);
      if (it != lines_.end()) return it->second;
      const size_t slash = p.rfind('/');
      if (slash == std::string::npos || p.empty()) return 1;
      p.resize(slash);
    }
  }

 private:
  std::string_view text_;
  std::vector<size_t> starts_;
  std::map<std::string, int> lines_;
};

// SAX handler that only records where each value is.
class LineRecorder : public nlohmann::json_sax<json> {
 public:
  LineRecorder(LineMap& map, std::stringbuf& buf) : map_(map), buf_(buf) {}

  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool start_object(std::size_t) override { return open(false); }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(true); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override {
    if (!stack_.empty()) {
      stack_.back().key = escape(k);
      map_.record(stack_.back().path + "/" + stack_.back().key, here());
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  struct Level {
    bool array;
    size_t index;
    std::string key;
    std::string path;
  };
  static std::string escape(const std::string& k) {
    std::string out;
    for (char c : k) {
      if (c == '~')
        out += "~0";
      else if (c == '/')
        out += "~1";
      else
        out += c;
    }
    return out;
  }
  int here() const {
    const auto pos = buf_.pubseekoff(0, std::ios_base::cur, std::ios_base::in);
    return map_.line_before(size_t(pos));
  }
  std::string child_path() {
    if (stack_.empty()) return "";
    Level& l = stack_.back();
    if (l.array) return l.path + "/" + std::to_string(l.index++);
    return l.path + "/" + l.key;
  }
  bool value() {
    map_.record(child_path(), here());  // the value's own line (it may differ from its key's)
    return true;
  }
  bool open(bool array) {
    const std::string p = child_path();
    map_.record(p, here());
    stack_.push_back(Level{array, 0, "", p});
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }

  LineMap& map_;
  std::stringbuf& buf_;
  std::vector<Level> stack_;
};

// ---------------------------------------------------------------------------
// The parser proper
// ---------------------------------------------------------------------------

class Parser {
 public:
  Parser(const std::string& file, const LineMap& lines) : file_(file), lines_(lines) {}

  [[noreturn]] void fail(const std::string& ptr, const std::string& msg) const {
    throw ScenarioError(file_, lines_.line(ptr), msg + " (at " + (ptr.empty() ? "/" : ptr) + ")");
  }

  void check_keys(const json& j, const std::string& ptr,
                  std::initializer_list<const char*> allowed) const {
    if (!j.is_object()) fail(ptr, "expected an object");
    for (const auto& [k, v] : j.items()) {
      bool ok = false;
      for (const char* a : allowed) ok = ok || k == a;
      if (!ok) {
        std::string list;
        for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
        fail(ptr + "/" + k, "unknown key '" + k + "' (expected one of: " + list + ")");
      }
    }
  }

  uint64_t u64(const json& j, const std::string& ptr, uint64_t max = UINT64_MAX) const {
    if (!j.is_number_unsigned()) {
      if (j.is_number_integer()) fail(ptr, "expected a non-negative integer, got " + j.dump());
      fail(ptr, "expected an integer, got " + j.dump());
    }
    const uint64_t v = j.get<uint64_t>();
    if (v > max)
      fail(ptr, "value " + std::to_string(v) + " above the maximum " + std::to_string(max));
    return v;
  }
  bool boolean(const json& j, const std::string& ptr) const {
    if (!j.is_boolean()) fail(ptr, "expected true or false, got " + j.dump());
    return j.get<bool>();
  }
  std::string str(const json& j, const std::string& ptr) const {
    if (!j.is_string()) fail(ptr, "expected a string, got " + j.dump());
    return j.get<std::string>();
  }

  std::array<uint8_t, 6> mac(const json& j, const std::string& ptr) const {
    const std::string s = str(j, ptr);
    std::array<uint8_t, 6> out{};
    unsigned b[6];
    char tail;
    if (std::sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4],
                    &b[5], &tail) != 6)
      fail(ptr, "MAC address '" + s + "' is not of the form 52:54:00:12:34:56");
    for (int i = 0; i < 6; ++i) out[i] = uint8_t(b[i]);
    return out;
  }

  uint64_t feature_set(const json& j, const std::string& ptr) const {
    if (!j.is_array()) fail(ptr, "expected an array of feature names");
    uint64_t set = 0;
    for (size_t i = 0; i < j.size(); ++i) {
      const std::string p = ptr + "/" + std::to_string(i);
      const std::string name = str(j[i], p);
      bool found = false;
      for (const auto& f : spec::kFeatureTable) {
        if (name == f.name) {
          set |= spec::feature_mask(f.bit);
          found = true;
        }
      }
      if (!found)
        fail(p, "unknown feature '" + name +
                    "' (names as in virtio_constants.h, e.g. MAC, VERSION_1)");
    }
    return set;
  }

  Frame hex(const json& j, const std::string& ptr) const {
    const std::string s = str(j, ptr);
    Frame out;
    int nibble = -1;
    for (char c : s) {
      if (c == ' ' || c == ':' || c == '-' || c == '\n') continue;
      int v;
      if (c >= '0' && c <= '9')
        v = c - '0';
      else if (c >= 'a' && c <= 'f')
        v = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        v = c - 'A' + 10;
      else
        fail(ptr, std::string("'") + c + "' is not a hex digit");
      if (nibble < 0) {
        nibble = v;
      } else {
        out.push_back(uint8_t(nibble << 4 | v));
        nibble = -1;
      }
    }
    if (nibble >= 0) fail(ptr, "odd number of hex digits");
    return out;
  }

  // A frame spec: {"hex": ...} or a generator; or an array of specs.
  void frames(const json& j, const std::string& ptr, std::vector<Frame>* out) const {
    if (j.is_array()) {
      for (size_t i = 0; i < j.size(); ++i) frames(j[i], ptr + "/" + std::to_string(i), out);
      return;
    }
    check_keys(j, ptr,
               {"hex", "size", "count", "pattern", "seed", "dst", "src", "ethertype", "first"});
    const uint64_t count = j.contains("count") ? u64(j["count"], ptr + "/count", 1'000'000) : 1;
    if (j.contains("hex") && j.contains("first"))
      fail(ptr + "/first", "\"first\" is for generated frames");
    if (j.contains("hex")) {
      if (j.contains("size") || j.contains("pattern"))
        fail(ptr, "a frame is either \"hex\" or generated from \"size\", not both");
      const Frame f = hex(j["hex"], ptr + "/hex");
      for (uint64_t i = 0; i < count; ++i) out->push_back(f);
      return;
    }
    if (!j.contains("size")) fail(ptr, "a frame needs \"hex\" or \"size\"");
    const uint64_t size = u64(j["size"], ptr + "/size", 65535);
    if (size < 14)
      fail(ptr + "/size", "a generated frame needs at least 14 bytes (Ethernet header)");
    const std::string pattern =
        j.contains("pattern") ? str(j["pattern"], ptr + "/pattern") : "counter";
    if (pattern != "counter" && pattern != "zeros" && pattern != "random")
      fail(ptr + "/pattern", "pattern '" + pattern + "' is not one of counter, zeros, random");
    const uint64_t seed = j.contains("seed") ? u64(j["seed"], ptr + "/seed") : 1;
    std::array<uint8_t, 6> dst = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    std::array<uint8_t, 6> src = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
    if (j.contains("dst")) dst = mac(j["dst"], ptr + "/dst");
    if (j.contains("src")) src = mac(j["src"], ptr + "/src");
    const uint64_t type =
        j.contains("ethertype") ? u64(j["ethertype"], ptr + "/ethertype", 0xFFFF) : 0x88B5;
    // first: the sequence number of the first frame (so that frames n..m of
    // a generator can be written on their own, e.g. in another order).
    const uint64_t first = j.contains("first") ? u64(j["first"], ptr + "/first", UINT32_MAX) : 0;
    std::mt19937_64 rng(seed);
    for (uint64_t n = first; n < first + count; ++n) {
      Frame f(size);
      std::copy(dst.begin(), dst.end(), f.begin());
      std::copy(src.begin(), src.end(), f.begin() + 6);
      f[12] = uint8_t(type >> 8);
      f[13] = uint8_t(type);
      for (size_t i = 14; i < size; ++i) {
        if (pattern == "counter")
          f[i] = uint8_t(i - 14 + n);
        else if (pattern == "random")
          f[i] = uint8_t(rng());
      }
      // The sequence number in the first payload bytes keeps frames distinct.
      if (pattern == "counter" && size >= 18) spec::store_le32(&f[14], uint32_t(n));
      out->push_back(std::move(f));
    }
  }

  Range range(const json& j, const std::string& ptr) const {
    if (j.is_object()) {
      check_keys(j, ptr, {"min", "max"});
      Range r;
      if (j.contains("min")) r.min = u64(j["min"], ptr + "/min");
      if (j.contains("max")) r.max = u64(j["max"], ptr + "/max");
      if (r.min > r.max) fail(ptr, "min above max");
      return r;
    }
    const uint64_t v = u64(j, ptr);
    return Range{v, v};
  }

  mock::Fault fault(const json& j, const std::string& ptr) const {
    check_keys(j, ptr, {"kind", "queue", "skip", "count", "value"});
    if (!j.contains("kind")) fail(ptr, "a fault needs a \"kind\"");
    mock::Fault f;
    const std::string kind = str(j["kind"], ptr + "/kind");
    if (!mock::parse_fault_kind(kind, &f.kind))
      fail(ptr + "/kind", "unknown fault kind '" + kind + "' (see docs/scenarios.md)");
    if (j.contains("queue")) f.queue = queue_of(j["queue"], ptr + "/queue", true);
    if (j.contains("skip")) f.skip = uint32_t(u64(j["skip"], ptr + "/skip", UINT32_MAX));
    if (j.contains("count")) f.count = uint32_t(u64(j["count"], ptr + "/count", UINT32_MAX));
    if (j.contains("value")) f.value = u64(j["value"], ptr + "/value");
    if ((f.kind == mock::FaultKind::kCapOutsideBar || f.kind == mock::FaultKind::kCapMissingBar) &&
        f.value > 4)
      fail(ptr + "/value", "capability faults take a cfg_type 1..4 (0: COMMON)");
    return f;
  }

  // "rx", "tx", "ctrl", a number 0..2, or (any_ok) "any" = -1.
  int32_t queue_of(const json& q, const std::string& ptr, bool any_ok) const {
    if (q.is_string()) {
      const std::string s = q.get<std::string>();
      if (s == "rx") return 0;
      if (s == "tx") return 1;
      if (s == "ctrl") return 2;
      if (s == "any" && any_ok) return -1;
      fail(ptr, "queue '" + s + "' is not rx, tx, ctrl" + (any_ok ? " or any" : ""));
    }
    return int32_t(u64(q, ptr, 2));
  }

  mock::MockDevice::ReleaseOrder order_of(const json& j, const std::string& ptr) const {
    const std::string o = str(j, ptr);
    if (o == "fifo") return mock::MockDevice::ReleaseOrder::kFifo;
    if (o == "reverse") return mock::MockDevice::ReleaseOrder::kReverse;
    if (o == "shuffle") return mock::MockDevice::ReleaseOrder::kShuffle;
    fail(ptr, "order '" + o + "' is not fifo, reverse or shuffle");
  }

  // A budget: a count of further successful calls, or "unlimited" (-1).
  int64_t budget_of(const json& j, const std::string& ptr) const {
    if (j.is_string()) {
      if (j.get<std::string>() == "unlimited") return -1;
      fail(ptr, "a budget is a count or \"unlimited\"");
    }
    return int64_t(u64(j, ptr, INT32_MAX));
  }

  PciPoke pci_poke(const json& j, const std::string& ptr) const {
    check_keys(j, ptr, {"offset", "width", "value", "comment"});
    if (!j.contains("offset") || !j.contains("value"))
      fail(ptr, "a pci_config rewrite needs \"offset\" and \"value\"");
    PciPoke p;
    p.offset = uint32_t(u64(j["offset"], ptr + "/offset", 255));
    if (j.contains("width")) {
      p.width = uint8_t(u64(j["width"], ptr + "/width", 4));
      if (p.width != 1 && p.width != 2 && p.width != 4) fail(ptr + "/width", "width is 1, 2 or 4");
    }
    if (p.offset + p.width > 256)
      fail(ptr + "/offset", "the rewrite ends past the 256 bytes of configuration space");
    const uint64_t max = p.width == 4 ? UINT32_MAX : (uint64_t{1} << (8 * p.width)) - 1;
    p.value = uint32_t(u64(j["value"], ptr + "/value", max));
    return p;
  }

  mock::BarLie bar_lie(const json& j, const std::string& ptr) const {
    check_keys(j, ptr, {"bar", "present", "io", "size", "comment"});
    if (!j.contains("bar"))
      fail(ptr, "a BAR lie needs \"bar\" (0..5, or above for BARs that do not exist)");
    mock::BarLie b;
    // Above 5: a BAR that cannot exist, described anyway (a driver that asks is wrong).
    b.bar = uint8_t(u64(j["bar"], ptr + "/bar", 255));
    if (j.contains("present")) b.present = boolean(j["present"], ptr + "/present") ? 1 : 0;
    if (j.contains("io")) b.is_io = boolean(j["io"], ptr + "/io") ? 1 : 0;
    if (j.contains("size")) b.size = int64_t(u64(j["size"], ptr + "/size", uint64_t{1} << 40));
    if (b.present < 0 && b.is_io < 0 && b.size < 0)
      fail(ptr, "a BAR lie needs at least one of \"present\", \"io\", \"size\"");
    return b;
  }

  HookSpec hook(const json& j, const std::string& ptr) const {
    check_keys(j, ptr, {"at", "when", "queue", "skip", "count", "do", "comment"});
    HookSpec h;
    h.line = lines_.line(ptr);
    if (!j.contains("at"))
      fail(ptr, "a hook needs \"at\" (a status bit, reset, features_write or queue_enable)");
    if (!j.contains("do")) fail(ptr, "a hook needs \"do\": the device actions");
    const std::string at = str(j["at"], ptr + "/at");
    using HP = mock::MockDevice::HookPoint;
    static const std::pair<const char*, uint8_t> kBits[] = {
        {"ACKNOWLEDGE", spec::status::kAcknowledge}, {"DRIVER", spec::status::kDriver},
        {"FEATURES_OK", spec::status::kFeaturesOk},  {"DRIVER_OK", spec::status::kDriverOk},
        {"FAILED", spec::status::kFailed},           {"reset", 0},
    };
    bool found = false;
    for (const auto& [name, bit] : kBits) {
      if (at == name) {
        h.point = HP::kStatusWrite;
        h.status_bit = bit;
        found = true;
      }
    }
    if (at == "features_write") {
      h.point = HP::kFeaturesWrite;
      found = true;
    } else if (at == "queue_enable") {
      h.point = HP::kQueueEnable;
      found = true;
    }
    if (!found)
      fail(ptr + "/at", "hook point '" + at +
                            "' is not ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK, FAILED, reset, "
                            "features_write or queue_enable");
    if (j.contains("queue")) {
      if (h.point != HP::kQueueEnable) fail(ptr + "/queue", "\"queue\" is for queue_enable hooks");
      h.queue = queue_of(j["queue"], ptr + "/queue", true);
    }
    if (j.contains("when")) {
      const std::string w = str(j["when"], ptr + "/when");
      if (w != "before" && w != "after") fail(ptr + "/when", "when is \"before\" or \"after\"");
      h.before = w == "before";
    }
    if (j.contains("skip")) h.skip = uint32_t(u64(j["skip"], ptr + "/skip", UINT32_MAX));
    if (j.contains("count")) h.count = uint32_t(u64(j["count"], ptr + "/count", UINT32_MAX));
    const json& d = j["do"];
    auto action = [&](const json& a, const std::string& p) {
      Step st = step(a, p);
      if (!device_side(st.kind))
        fail(p, std::string("'") + step_kind_name(st.kind) +
                    "' cannot run inside a hook: only device actions can (publish_used, "
                    "write_used_idx, rewrite_descriptor, config, config_interrupt, "
                    "device_reset, link, fault, clear_faults, register, pci_config, bar, "
                    "ignore_reset, republish_used, hold, release, process_tx, "
                    "advance_clock, budget)");
      h.actions.push_back(std::move(st));
    };
    if (d.is_array()) {
      if (d.empty()) fail(ptr + "/do", "a hook needs at least one action");
      for (size_t i = 0; i < d.size(); ++i) action(d[i], ptr + "/do/" + std::to_string(i));
    } else {
      action(d, ptr + "/do");
    }
    return h;
  }

  static bool device_side(StepKind k) {
    switch (k) {
      case StepKind::kRx:
      case StepKind::kTx:
      case StepKind::kExpectTx:
      case StepKind::kRecover:
      case StepKind::kStop:
      case StepKind::kPollDevice:
      case StepKind::kPump:
      case StepKind::kExpect:
      case StepKind::kHook:
        return false;
      default:
        return true;
    }
  }

  static bool net_counter_known(const std::string& name) {
    bool found = false;
    NetCounters{}.for_each([&](const char* n, uint64_t) { found = found || name == n; });
    return found;
  }
  static bool device_counter_known(const std::string& name) {
    bool found = false;
    mock::DeviceCounters{}.for_each([&](const char* n, uint64_t) { found = found || name == n; });
    return found;
  }

  mock::RegisterLie register_lie(const json& j, const std::string& ptr) const {
    check_keys(j, ptr, {"region", "offset", "width", "value", "skip", "count", "mask", "comment"});
    mock::RegisterLie l;
    if (!j.contains("region") || !j.contains("offset") || !j.contains("value"))
      fail(ptr, "a register lie needs \"region\", \"offset\" and \"value\"");
    const std::string r = str(j["region"], ptr + "/region");
    if (r == "pci_config") {
      l.region = Region::kPciConfig;
    } else if (r.size() == 4 && r.rfind("bar", 0) == 0 && r[3] >= '0' && r[3] <= '5') {
      l.region = bar_region(uint8_t(r[3] - '0'));
    } else if (r == "mmio") {
      l.region = Region::kMmio;
    } else {
      fail(ptr + "/region", "region '" + r + "' is not pci_config, bar0..bar5 or mmio");
    }
    if (l.region == Region::kMmio && j["offset"].is_string()) {
      // A register of the virtio-mmio window by name, or "config+N".
      const std::string name = str(j["offset"], ptr + "/offset");
      if (!mmio_register_offset(name, &l.offset))
        fail(ptr + "/offset", "'" + name + "' is not a virtio-mmio register (" +
                                  kMmioRegisterNames + ", or config+N)");
      if (!j.contains("width")) l.width = name.rfind("config", 0) == 0 ? 0 : 4;
    } else {
      l.offset = uint32_t(u64(j["offset"], ptr + "/offset", UINT32_MAX));
    }
    if (j.contains("width")) {
      l.width = uint8_t(u64(j["width"], ptr + "/width", 4));
      if (l.width != 1 && l.width != 2 && l.width != 4) fail(ptr + "/width", "width is 1, 2 or 4");
    }
    l.value = uint32_t(u64(j["value"], ptr + "/value", UINT32_MAX));
    if (j.contains("skip")) l.skip = uint32_t(u64(j["skip"], ptr + "/skip", UINT32_MAX));
    if (j.contains("count")) l.count = uint32_t(u64(j["count"], ptr + "/count", UINT32_MAX));
    if (j.contains("mask")) {
      l.mask = uint32_t(u64(j["mask"], ptr + "/mask", UINT32_MAX));
      if (l.mask == 0) fail(ptr + "/mask", "a mask of 0 changes no bit");
    }
    return l;
  }

  Expectation expectation(const json& j, const std::string& ptr, bool at_end) const {
    if (at_end)
      check_keys(j, ptr,
                 {"driver_state",
                  "link_up",
                  "counters",
                  "device_counters",
                  "rx_frames",
                  "tx_frames",
                  "violations",
                  "pool_all_returned",
                  "stop",
                  "negotiated",
                  "not_negotiated",
                  "mac",
                  "mtu",
                  "transport",
                  "dma",
                  "shim_bounds",
                  "held",
                  "verdict",
                  "interrupt_mode",
                  "msix_fallback"});
    else
      check_keys(j, ptr,
                 {"driver_state", "link_up", "counters", "device_counters", "rx_frames",
                  "tx_frames", "violations", "negotiated", "not_negotiated", "mac", "mtu",
                  "transport", "dma", "shim_bounds", "held", "interrupt_mode", "msix_fallback"});
    Expectation e;
    e.line = lines_.line(ptr);
    if (j.contains("driver_state")) {
      const std::string s = str(j["driver_state"], ptr + "/driver_state");
      bool found = false;
      for (NetState st :
           {NetState::kDown, NetState::kRunning, NetState::kBroken, NetState::kFailed}) {
        if (s == net_state_name(st)) {
          e.driver_state = st;
          found = true;
        }
      }
      if (!found)
        fail(ptr + "/driver_state", "state '" + s + "' is not down, running, broken or failed");
    }
    if (j.contains("link_up")) e.link_up = boolean(j["link_up"], ptr + "/link_up");
    auto counters = [&](const char* key, bool device, std::map<std::string, Range>* out) {
      if (!j.contains(key)) return;
      const std::string p = ptr + "/" + key;
      if (!j[key].is_object()) fail(p, "expected an object of counter names");
      for (const auto& [name, v] : j[key].items()) {
        if (!(device ? device_counter_known(name) : net_counter_known(name)))
          fail(p + "/" + name, std::string("unknown ") + (device ? "device" : "driver") +
                                   " counter '" + name + "'");
        (*out)[name] = range(v, p + "/" + name);
      }
    };
    counters("counters", false, &e.counters);
    counters("device_counters", true, &e.device_counters);
    if (j.contains("rx_frames")) e.rx_frames = range(j["rx_frames"], ptr + "/rx_frames");
    if (j.contains("tx_frames")) e.tx_frames = range(j["tx_frames"], ptr + "/tx_frames");
    if (j.contains("violations")) {
      const json& v = j["violations"];
      if (!v.is_array())
        fail(ptr + "/violations", "expected an array of spec sections, e.g. [\"3.1.1\"]");
      std::vector<std::string> list;
      for (size_t i = 0; i < v.size(); ++i)
        list.push_back(str(v[i], ptr + "/violations/" + std::to_string(i)));
      e.violations = list;
    }
    if (j.contains("pool_all_returned"))
      e.pool_all_returned = boolean(j["pool_all_returned"], ptr + "/pool_all_returned");
    if (j.contains("verdict")) {
      const std::string v = str(j["verdict"], ptr + "/verdict");
      verdict::Verdict kind;
      std::string oracle;
      if (!verdict::parse_verdict(v, &kind, &oracle))
        fail(ptr + "/verdict", "verdict '" + v +
                                   "' is not pass, safe-reject, recovered, wedged, "
                                   "memory-error or oracle:<name>");
      e.verdict = v;
      e.verdict_line = lines_.line(ptr + "/verdict");
    }
    if (j.contains("negotiated")) e.negotiated = feature_set(j["negotiated"], ptr + "/negotiated");
    if (j.contains("not_negotiated"))
      e.not_negotiated = feature_set(j["not_negotiated"], ptr + "/not_negotiated");
    if (j.contains("mac")) e.mac = mac(j["mac"], ptr + "/mac");
    if (j.contains("mtu")) e.mtu = uint16_t(u64(j["mtu"], ptr + "/mtu", 0xFFFF));
    if (j.contains("transport")) {
      const std::string t = str(j["transport"], ptr + "/transport");
      if (t != "pci-legacy" && t != "pci-modern" && t != "mmio-v1" && t != "mmio-v2")
        fail(ptr + "/transport",
             "transport '" + t + "' is not pci-legacy, pci-modern, mmio-v1 or mmio-v2");
      e.transport = t;
    }
    if (j.contains("interrupt_mode")) {
      const std::string m = str(j["interrupt_mode"], ptr + "/interrupt_mode");
      if (m != "poll" && m != "intx" && m != "msix")
        fail(ptr + "/interrupt_mode", "interrupt_mode '" + m + "' is not poll, intx or msix");
      e.interrupt_mode = m;
    }
    if (j.contains("msix_fallback")) {
      const std::string m = str(j["msix_fallback"], ptr + "/msix_fallback");
      bool ok = false;
      for (int f = 0; f <= int(MsixFallback::kQueueVectorWrong); ++f)
        ok = ok || m == msix_fallback_key(MsixFallback(f));
      if (!ok) fail(ptr + "/msix_fallback", "unknown MSI-X fallback '" + m + "'");
      e.msix_fallback = m;
    }
    if (j.contains("dma")) {
      const std::string p = ptr + "/dma";
      const json& d = j["dma"];
      check_keys(d, p, {"regions", "bytes", "maps_live"});
      if (d.contains("regions")) e.dma_regions = range(d["regions"], p + "/regions");
      if (d.contains("bytes")) e.dma_bytes = range(d["bytes"], p + "/bytes");
      if (d.contains("maps_live")) e.dma_maps_live = range(d["maps_live"], p + "/maps_live");
    }
    if (j.contains("shim_bounds")) {
      const std::string p = ptr + "/shim_bounds";
      const json& b = j["shim_bounds"];
      if (!b.is_object()) fail(p, "expected an object of driver operations");
      for (const auto& [op, metrics] : b.items()) {
        bool known = false;
        for (const char* o : kShimOps) known = known || op == o;
        if (!known)
          fail(p + "/" + op, "unknown operation '" + op +
                                 "' (probe, attach, rx_burst, tx_burst, tx_reclaim, "
                                 "poll_device, recover, stop)");
        if (!metrics.is_object())
          fail(p + "/" + op, "expected an object of metrics, e.g. {\"reg_reads\": {\"max\": 2}}");
        for (const auto& [m, v] : metrics.items()) {
          bool mk = false;
          for (const char* k : kShimMetrics) mk = mk || m == k;
          if (!mk)
            fail(p + "/" + op + "/" + m,
                 "unknown metric '" + m + "' (reg_reads, reg_writes, fetches, shim_calls)");
          // A bare number is an upper bound: the most one call may make.
          const std::string vp = p + "/" + op + "/" + m;
          e.shim_bounds[op][m] = v.is_object() ? range(v, vp) : Range{0, u64(v, vp)};
        }
      }
    }
    if (j.contains("held")) {
      const std::string p = ptr + "/held";
      if (!j["held"].is_object()) fail(p, "expected an object of queues, e.g. {\"rx\": 4}");
      for (const auto& [q, v] : j["held"].items())
        e.held[uint16_t(queue_of(json(q), p + "/" + q, false))] = range(v, p + "/" + q);
    }
    return e;
  }

  void device(const json& j, const std::string& ptr, Scenario* s) const {
    check_keys(j, ptr,
               {"transport",
                "features",
                "features_add",
                "features_remove",
                "mac",
                "mtu",
                "status",
                "max_virtqueue_pairs",
                "queue_sizes",
                "notify_off_multiplier",
                "memory_mib",
                "faults",
                "iommu",
                "registers",
                "hooks",
                "pci_config",
                "bars",
                "auto_process_tx",
                "legacy_bar_size",
                "modern_bar",
                "require_access_platform",
                "second_notify_cap",
                "msix_vectors",
                "interrupt_pin",
                "mmio_window_size",
                "offer_ring_packed",
                "packed_device_event",
                "rx_mergeable",
                "offer_ctrl_vq",
                "offer_ctrl_rx",
                "offer_ctrl_vlan",
                "offer_ctrl_rx_extra",
                "offer_guest_announce",
                "offer_mq",
                "offer_ctrl_mac_addr",
                "offer_hash_report",
                "offer_rss",
                "rss_max_key_size",
                "rss_max_indirection_table_length",
                "supported_hash_types",
                "offer_offloads",
                "rx_csum_mode"});
    auto list = [&](const char* key, auto&& each) {
      if (!j.contains(key)) return;
      const std::string p = ptr + "/" + key;
      if (!j[key].is_array()) fail(p, std::string(key) + " is an array");
      for (size_t i = 0; i < j[key].size(); ++i) each(j[key][i], p + "/" + std::to_string(i));
    };
    list("hooks",
         [&](const json& v, const std::string& p) { s->device_hooks.push_back(hook(v, p)); });
    list("pci_config",
         [&](const json& v, const std::string& p) { s->pci_pokes.push_back(pci_poke(v, p)); });
    list("bars",
         [&](const json& v, const std::string& p) { s->bar_lies.push_back(bar_lie(v, p)); });
    if (j.contains("auto_process_tx"))
      s->device.auto_process_tx = boolean(j["auto_process_tx"], ptr + "/auto_process_tx");
    if (j.contains("second_notify_cap"))
      s->device.second_notify_cap = boolean(j["second_notify_cap"], ptr + "/second_notify_cap");
    if (j.contains("msix_vectors"))
      s->device.msix_vectors = uint16_t(
          u64(j["msix_vectors"], ptr + "/msix_vectors", mock::MockDevice::kMaxMsixVectors));
    if (j.contains("interrupt_pin"))
      s->device.interrupt_pin = uint8_t(u64(j["interrupt_pin"], ptr + "/interrupt_pin", 4));
    if (j.contains("rx_mergeable"))
      s->device.rx_mergeable = boolean(j["rx_mergeable"], ptr + "/rx_mergeable");
    // Offloads (issue 16).
    if (j.contains("offer_offloads"))
      s->device.offer_offloads = boolean(j["offer_offloads"], ptr + "/offer_offloads");
    if (j.contains("rx_csum_mode")) {
      using Mode = mock::DeviceConfig::RxCsumMode;
      const std::string m = str(j["rx_csum_mode"], ptr + "/rx_csum_mode");
      if (m == "none")
        s->device.rx_csum_mode = Mode::kNone;
      else if (m == "data_valid")
        s->device.rx_csum_mode = Mode::kDataValid;
      else if (m == "partial")
        s->device.rx_csum_mode = Mode::kPartial;
      else
        fail(ptr + "/rx_csum_mode", "rx_csum_mode '" + m + "' is not none, data_valid or partial");
    }
    // The control plane's offers and its raw config fields (issue 15).
    const std::pair<const char*, std::optional<bool> mock::DeviceConfig::*> offers[] = {
        {"offer_ctrl_vq", &mock::DeviceConfig::offer_ctrl_vq},
        {"offer_ctrl_rx", &mock::DeviceConfig::offer_ctrl_rx},
        {"offer_ctrl_vlan", &mock::DeviceConfig::offer_ctrl_vlan},
        {"offer_ctrl_rx_extra", &mock::DeviceConfig::offer_ctrl_rx_extra},
        {"offer_guest_announce", &mock::DeviceConfig::offer_guest_announce},
        {"offer_mq", &mock::DeviceConfig::offer_mq},
        {"offer_ctrl_mac_addr", &mock::DeviceConfig::offer_ctrl_mac_addr},
        {"offer_hash_report", &mock::DeviceConfig::offer_hash_report},
        {"offer_rss", &mock::DeviceConfig::offer_rss},
    };
    for (const auto& [key, member] : offers)
      if (j.contains(key)) s->device.*member = boolean(j[key], ptr + "/" + key);
    if (j.contains("rss_max_key_size"))
      s->device.rss_max_key_size =
          uint8_t(u64(j["rss_max_key_size"], ptr + "/rss_max_key_size", 0xFF));
    if (j.contains("rss_max_indirection_table_length"))
      s->device.rss_max_indirection_table_length =
          uint16_t(u64(j["rss_max_indirection_table_length"],
                       ptr + "/rss_max_indirection_table_length", 0xFFFF));
    if (j.contains("supported_hash_types"))
      s->device.supported_hash_types =
          uint32_t(u64(j["supported_hash_types"], ptr + "/supported_hash_types", 0xFFFF'FFFF));
    if (j.contains("offer_ring_packed"))
      s->device.offer_ring_packed = boolean(j["offer_ring_packed"], ptr + "/offer_ring_packed");
    if (j.contains("packed_device_event")) {
      const std::string m = str(j["packed_device_event"], ptr + "/packed_device_event");
      if (m == "enable")
        s->device.packed_device_event = mock::PackedEventMode::kEnable;
      else if (m == "disable")
        s->device.packed_device_event = mock::PackedEventMode::kDisable;
      else if (m == "desc")
        s->device.packed_device_event = mock::PackedEventMode::kDesc;
      else
        fail(ptr + "/packed_device_event",
             "packed_device_event '" + m + "' is not enable, disable or desc");
    }
    if (j.contains("require_access_platform"))
      s->device.require_access_platform =
          boolean(j["require_access_platform"], ptr + "/require_access_platform");
    if (j.contains("legacy_bar_size")) {
      s->device.legacy_bar_size =
          uint32_t(u64(j["legacy_bar_size"], ptr + "/legacy_bar_size", 0x10000));
    }
    if (j.contains("registers")) {
      const json& r = j["registers"];
      if (!r.is_array()) fail(ptr + "/registers", "registers is an array of register lies");
      for (size_t i = 0; i < r.size(); ++i)
        s->device_register_lies.push_back(
            register_lie(r[i], ptr + "/registers/" + std::to_string(i)));
    }
    if (j.contains("iommu")) s->iommu = boolean(j["iommu"], ptr + "/iommu");
    mock::DeviceConfig& d = s->device;
    if (j.contains("transport")) {
      const std::string t = str(j["transport"], ptr + "/transport");
      if (t == "legacy")
        d.transport = mock::TransportKind::kLegacy;
      else if (t == "modern")
        d.transport = mock::TransportKind::kModern;
      else if (t == "transitional")
        d.transport = mock::TransportKind::kTransitional;
      else if (t == "mmio-v1")
        d.transport = mock::TransportKind::kMmioV1;
      else if (t == "mmio-v2")
        d.transport = mock::TransportKind::kMmioV2;
      else
        fail(ptr + "/transport",
             "transport '" + t + "' is not legacy, modern, transitional, mmio-v1 or mmio-v2");
    }
    if (j.contains("mmio_window_size")) {
      d.mmio_window_size = uint32_t(u64(j["mmio_window_size"], ptr + "/mmio_window_size", 0x10000));
      if (d.mmio_window_size < 0x100)
        fail(ptr + "/mmio_window_size", "an MMIO window holds at least 0x100 bytes of registers");
    }
    if (j.contains("features")) d.features = feature_set(j["features"], ptr + "/features");
    if (j.contains("features_add"))
      d.features |= feature_set(j["features_add"], ptr + "/features_add");
    if (j.contains("features_remove"))
      d.features &= ~feature_set(j["features_remove"], ptr + "/features_remove");
    if (j.contains("mac")) d.mac = mac(j["mac"], ptr + "/mac");
    if (j.contains("mtu")) d.mtu = uint16_t(u64(j["mtu"], ptr + "/mtu", 0xFFFF));
    if (j.contains("status")) {
      const json& st = j["status"];
      if (st.is_array()) {
        d.status = 0;
        for (size_t i = 0; i < st.size(); ++i) {
          const std::string p = ptr + "/status/" + std::to_string(i);
          const std::string n = str(st[i], p);
          if (n == "LINK_UP")
            d.status |= spec::net_status::kLinkUp;
          else if (n == "ANNOUNCE")
            d.status |= spec::net_status::kAnnounce;
          else
            fail(p, "status bit '" + n + "' is not LINK_UP or ANNOUNCE");
        }
      } else {
        d.status = uint16_t(u64(st, ptr + "/status", 0xFFFF));
      }
    }
    if (j.contains("max_virtqueue_pairs"))
      d.max_virtqueue_pairs =
          uint16_t(u64(j["max_virtqueue_pairs"], ptr + "/max_virtqueue_pairs", 0xFFFF));
    if (j.contains("queue_sizes")) {
      const json& q = j["queue_sizes"];
      if (!q.is_array() || q.empty() || q.size() > 3)
        fail(ptr + "/queue_sizes", "expected an array of 1 to 3 sizes [rx, tx, ctrl]");
      for (size_t i = 0; i < q.size(); ++i)
        d.queue_sizes[i] = uint16_t(u64(q[i], ptr + "/queue_sizes/" + std::to_string(i), 0xFFFF));
    }
    if (j.contains("notify_off_multiplier"))
      d.notify_off_multiplier =
          uint32_t(u64(j["notify_off_multiplier"], ptr + "/notify_off_multiplier", 1024));
    if (j.contains("modern_bar")) {
      d.modern_bar = uint8_t(u64(j["modern_bar"], ptr + "/modern_bar", 5));
      if (d.transport == mock::TransportKind::kTransitional && d.modern_bar == 0)
        fail(ptr + "/modern_bar", "a transitional device has its legacy BAR 0: modern_bar is 1..5");
    }
    if (j.contains("memory_mib")) {
      s->memory_mib = size_t(u64(j["memory_mib"], ptr + "/memory_mib", 1024));
      if (s->memory_mib == 0) fail(ptr + "/memory_mib", "guest memory must be at least 1 MiB");
    }
    if (j.contains("faults")) {
      const json& f = j["faults"];
      if (!f.is_array()) fail(ptr + "/faults", "expected an array of faults");
      for (size_t i = 0; i < f.size(); ++i)
        s->device_faults.push_back(fault(f[i], ptr + "/faults/" + std::to_string(i)));
    }
  }

  void platform(const json& j, const std::string& ptr, Scenario* s) const {
    check_keys(j, ptr,
               {"clock", "dma_alloc_budget", "dma_map_budget", "map_lie", "msi_vectors", "line",
                "interrupt_delivery"});
    if (j.contains("msi_vectors"))
      s->msi_vectors = uint16_t(u64(j["msi_vectors"], ptr + "/msi_vectors", kMaxMsiVectors));
    if (j.contains("line")) s->line = boolean(j["line"], ptr + "/line");
    if (j.contains("interrupt_delivery")) {
      const std::string d = str(j["interrupt_delivery"], ptr + "/interrupt_delivery");
      if (d != "queued" && d != "synchronous")
        fail(ptr + "/interrupt_delivery",
             "interrupt_delivery '" + d + "' is not queued or synchronous");
      s->synchronous_interrupts = d == "synchronous";
    }
    if (j.contains("clock")) {
      const std::string p = ptr + "/clock";
      check_keys(j["clock"], p, {"step_ns"});
      s->clock_step_ns =
          j["clock"].contains("step_ns") ? u64(j["clock"]["step_ns"], p + "/step_ns") : 0;
    }
    if (j.contains("dma_alloc_budget"))
      s->dma_alloc_budget = budget_of(j["dma_alloc_budget"], ptr + "/dma_alloc_budget");
    if (j.contains("dma_map_budget"))
      s->dma_map_budget = budget_of(j["dma_map_budget"], ptr + "/dma_map_budget");
    if (j.contains("map_lie")) {
      const std::string m = str(j["map_lie"], ptr + "/map_lie");
      if (m == "none")
        s->map_lie = mock::MockPlatform::MapLie::kNone;
      else if (m == "leak_physical")
        s->map_lie = mock::MockPlatform::MapLie::kLeakPhysical;
      else if (m == "unmap_at_once")
        s->map_lie = mock::MockPlatform::MapLie::kUnmapAtOnce;
      else
        fail(ptr + "/map_lie", "map_lie '" + m + "' is not none, leak_physical or unmap_at_once");
    }
  }

  void driver(const json& j, const std::string& ptr, Scenario* s) const {
    check_keys(j, ptr,
               {"mode",
                "rx_ring_cap",
                "tx_ring_cap",
                "feature_mask_clear",
                "pool_buffers",
                "buffer_size",
                "max_frame",
                "echo",
                "expect_probe",
                "expect_attach",
                "reset_timeout_ns",
                "tx_timeout_ns",
                "accept_access_platform",
                "accept_order_platform",
                "expect_modern_error",
                "pool_alloc_budget",
                "burst",
                "interrupts",
                "irq_storm_limit",
                "accept_ring_packed"});
    if (j.contains("accept_ring_packed"))
      s->options.accept_ring_packed = boolean(j["accept_ring_packed"], ptr + "/accept_ring_packed");
    if (j.contains("interrupts")) {
      const std::string m = str(j["interrupts"], ptr + "/interrupts");
      if (m == "poll")
        s->options.interrupts = InterruptMode::kPolling;
      else if (m == "intx")
        s->options.interrupts = InterruptMode::kIntx;
      else if (m == "msix")
        s->options.interrupts = InterruptMode::kMsix;
      else
        fail(ptr + "/interrupts", "interrupts '" + m + "' is not poll, intx or msix");
    }
    if (j.contains("irq_storm_limit"))
      s->options.irq_storm_limit =
          uint32_t(u64(j["irq_storm_limit"], ptr + "/irq_storm_limit", UINT32_MAX));
    if (j.contains("burst")) {
      s->burst = uint16_t(u64(j["burst"], ptr + "/burst", 256));
      if (s->burst == 0) fail(ptr + "/burst", "a burst is at least one frame");
    }
    if (j.contains("pool_alloc_budget"))
      s->pool_alloc_budget = budget_of(j["pool_alloc_budget"], ptr + "/pool_alloc_budget");
    if (j.contains("expect_modern_error")) {
      s->expect_modern_error = str(j["expect_modern_error"], ptr + "/expect_modern_error");
      bool ok = false;
      for (int e = 0; e <= int(ModernProbeError::kDeviceCfgTooShort); ++e)
        ok = ok || s->expect_modern_error == modern_error_key(ModernProbeError(e));
      if (!ok)
        fail(ptr + "/expect_modern_error",
             "unknown modern probe result '" + s->expect_modern_error +
                 "' (ok, no_capability_list, no_common_cfg, no_notify_cfg, no_isr_cfg, "
                 "no_device_cfg, no_version1, device_cfg_too_short)");
    }
    if (j.contains("reset_timeout_ns"))
      s->options.reset_timeout_ns = u64(j["reset_timeout_ns"], ptr + "/reset_timeout_ns");
    if (j.contains("tx_timeout_ns"))
      s->options.tx_timeout_ns = u64(j["tx_timeout_ns"], ptr + "/tx_timeout_ns");
    if (j.contains("accept_access_platform"))
      s->options.accept_access_platform =
          boolean(j["accept_access_platform"], ptr + "/accept_access_platform");
    if (j.contains("accept_order_platform"))
      s->options.accept_order_platform =
          boolean(j["accept_order_platform"], ptr + "/accept_order_platform");
    if (j.contains("mode")) {
      const std::string m = str(j["mode"], ptr + "/mode");
      if (m == "auto")
        s->mode = PciMode::kAuto;
      else if (m == "legacy")
        s->mode = PciMode::kLegacy;
      else if (m == "modern")
        s->mode = PciMode::kModern;
      else
        fail(ptr + "/mode", "mode '" + m + "' is not auto, legacy or modern");
    }
    if (j.contains("rx_ring_cap"))
      s->options.rx_ring_cap = uint16_t(u64(j["rx_ring_cap"], ptr + "/rx_ring_cap", 0xFFFF));
    if (j.contains("tx_ring_cap"))
      s->options.tx_ring_cap = uint16_t(u64(j["tx_ring_cap"], ptr + "/tx_ring_cap", 0xFFFF));
    if (j.contains("feature_mask_clear"))
      s->options.feature_mask &= ~feature_set(j["feature_mask_clear"], ptr + "/feature_mask_clear");
    if (j.contains("max_frame"))
      s->options.max_frame = uint16_t(u64(j["max_frame"], ptr + "/max_frame", 0xFFFF));
    if (j.contains("pool_buffers")) {
      s->pool_buffers = size_t(u64(j["pool_buffers"], ptr + "/pool_buffers", 1 << 20));
      if (s->pool_buffers == 0) fail(ptr + "/pool_buffers", "the pool needs at least one buffer");
    }
    if (j.contains("buffer_size")) {
      s->buffer_size = uint32_t(u64(j["buffer_size"], ptr + "/buffer_size", 1 << 20));
      if (s->buffer_size < 64) fail(ptr + "/buffer_size", "buffers need at least 64 bytes");
    }
    if (j.contains("echo")) s->echo = boolean(j["echo"], ptr + "/echo");
    if (j.contains("expect_probe")) {
      s->expect_probe = str(j["expect_probe"], ptr + "/expect_probe");
      bool ok = false;
      for (auto e : {ProbeError::kOk, ProbeError::kNotVirtio, ProbeError::kNotNet,
                     ProbeError::kModernUnusable, ProbeError::kLegacyUnusable})
        ok = ok || s->expect_probe == probe_error_key(e);
      for (int e = 0; e <= int(MmioProbeError::kDeviceCfgTooShort); ++e)
        ok = ok || s->expect_probe == mmio_probe_error_key(MmioProbeError(e));
      if (!ok) fail(ptr + "/expect_probe", "unknown probe result '" + s->expect_probe + "'");
    }
    if (j.contains("expect_attach")) {
      s->expect_attach = str(j["expect_attach"], ptr + "/expect_attach");
      bool ok = false;
      for (int e = 0; e <= int(AttachError::kQuarantined); ++e)
        ok = ok || s->expect_attach == attach_error_key(AttachError(e));
      if (!ok) fail(ptr + "/expect_attach", "unknown attach result '" + s->expect_attach + "'");
    }
  }

  Step step(const json& j, const std::string& ptr) const {
    if (!j.is_object()) fail(ptr, "a step is an object with one action, e.g. {\"rx\": {...}}");
    static const std::pair<const char*, StepKind> kActions[] = {
        {"rx", StepKind::kRx},
        {"tx", StepKind::kTx},
        {"expect_tx", StepKind::kExpectTx},
        {"link", StepKind::kLink},
        {"device_reset", StepKind::kDeviceReset},
        {"recover", StepKind::kRecover},
        {"stop", StepKind::kStop},
        {"poll_device", StepKind::kPollDevice},
        {"pump", StepKind::kPump},
        {"fault", StepKind::kFault},
        {"clear_faults", StepKind::kClearFaults},
        {"expect", StepKind::kExpect},
        {"republish_used", StepKind::kRepublishUsed},
        {"ignore_reset", StepKind::kIgnoreReset},
        {"register", StepKind::kRegister},
        {"publish_used", StepKind::kPublishUsed},
        {"rewrite_descriptor", StepKind::kRewriteDescriptor},
        {"write_used_idx", StepKind::kWriteUsedIdx},
        {"hold", StepKind::kHold},
        {"release", StepKind::kRelease},
        {"hook", StepKind::kHook},
        {"pci_config", StepKind::kPciConfig},
        {"bar", StepKind::kBar},
        {"config", StepKind::kConfig},
        {"config_interrupt", StepKind::kConfigInterrupt},
        {"process_tx", StepKind::kProcessTx},
        {"advance_clock", StepKind::kAdvanceClock},
        {"budget", StepKind::kBudget},
        {"refuse_features_ok", StepKind::kFault},
    };
    Step s;
    s.line = lines_.line(ptr);
    const char* action = nullptr;
    for (const auto& [k, v] : j.items()) {
      if (k == "comment" || k == "poll") continue;
      bool known = false;
      for (const auto& [name, kind] : kActions) {
        if (k == name) {
          if (action)
            fail(ptr + "/" + k, "a step has one action; this one has '" + std::string(action) +
                                    "' and '" + k + "'");
          action = name;
          s.kind = kind;
          known = true;
        }
      }
      if (!known) {
        std::string names;
        for (const auto& a : kActions) names += std::string(names.empty() ? "" : ", ") + a.first;
        fail(ptr + "/" + k, "unknown step action '" + k + "' (" + names + ")");
      }
    }
    if (!action) fail(ptr, "step without an action");
    if (j.contains("poll")) s.poll = boolean(j["poll"], ptr + "/poll");
    const std::string p = ptr + "/" + action;
    const json& v = j[action];
    switch (s.kind) {
      case StepKind::kRx:
      case StepKind::kTx:
      case StepKind::kExpectTx:
        frames(v, p, &s.frames);
        break;
      case StepKind::kLink: {
        const std::string l = str(v, p);
        if (l != "up" && l != "down") fail(p, "link is \"up\" or \"down\"");
        s.link = l == "up";
        break;
      }
      case StepKind::kDeviceReset:
      case StepKind::kRecover:
      case StepKind::kStop:
      case StepKind::kClearFaults:
        if (!boolean(v, p)) fail(p, std::string(action) + " takes true");
        break;
      case StepKind::kPollDevice:
      case StepKind::kPump:
        s.count = uint32_t(u64(v, p, 1'000'000));
        break;
      case StepKind::kFault:
        if (std::string(action) == "refuse_features_ok") {
          // Sugar: the next FEATURES_OK write is refused.
          if (!boolean(v, p)) fail(p, "refuse_features_ok takes true");
          s.fault.kind = mock::FaultKind::kFeaturesOkRefuse;
          s.fault.value = 1;
        } else {
          s.fault = fault(v, p);
        }
        break;
      case StepKind::kExpect:
        s.expect = expectation(v, p, false);
        break;
      case StepKind::kIgnoreReset:
        s.link = boolean(v, p);  // reused: true = ignore resets from now on
        break;
      case StepKind::kRegister:
        s.lie = register_lie(v, p);
        break;
      case StepKind::kPublishUsed: {
        check_keys(v, p, {"queue", "id", "len"});
        s.queue = v.contains("queue") ? uint16_t(queue_of(v["queue"], p + "/queue", false)) : 0;
        if (!v.contains("id"))
          fail(p, "publish_used needs an \"id\" (a number, or \"next\": the next available chain)");
        if (v["id"].is_string()) {
          if (v["id"].get<std::string>() != "next")
            fail(p + "/id", "id is a number or \"next\" (the next available chain, not written)");
          s.used_next = true;
        } else {
          s.used_id = uint32_t(u64(v["id"], p + "/id", UINT32_MAX));
        }
        if (v.contains("len")) {
          s.used_len = uint32_t(u64(v["len"], p + "/len", UINT32_MAX));
          s.used_len_given = true;
        }
        break;
      }
      case StepKind::kRewriteDescriptor: {
        check_keys(v, p, {"queue", "index", "addr", "len", "flags", "next"});
        if (!v.contains("queue") || !v.contains("index"))
          fail(p, "rewrite_descriptor needs \"queue\" and \"index\"");
        s.queue = uint16_t(queue_of(v["queue"], p + "/queue", false));
        s.desc_index = uint16_t(u64(v["index"], p + "/index", 0x7FFF));
        using DF = mock::DeviceQueue::DescField;
        const std::pair<const char*, std::pair<DF, uint64_t>> fields[] = {
            {"addr", {DF::kAddr, UINT64_MAX}},
            {"len", {DF::kLen, UINT32_MAX}},
            {"flags", {DF::kFlags, 0xFFFF}},
            {"next", {DF::kNext, 0xFFFF}}};
        for (const auto& [name, f] : fields)
          if (v.contains(name))
            s.desc_fields.emplace_back(f.first, u64(v[name], p + "/" + name, f.second));
        if (s.desc_fields.empty())
          fail(p, "rewrite_descriptor needs at least one of addr, len, flags, next");
        break;
      }
      case StepKind::kWriteUsedIdx: {
        check_keys(v, p, {"queue", "value", "advance"});
        if (!v.contains("queue")) fail(p, "write_used_idx needs a \"queue\"");
        s.queue = uint16_t(queue_of(v["queue"], p + "/queue", false));
        if (v.contains("value") == v.contains("advance"))
          fail(p, "write_used_idx takes either \"value\" (the index) or \"advance\" (added to it)");
        if (v.contains("value")) {
          s.used_idx = uint16_t(u64(v["value"], p + "/value", 0xFFFF));
        } else {
          s.used_idx = uint16_t(u64(v["advance"], p + "/advance", 0xFFFF));
          s.used_idx_relative = true;
        }
        break;
      }
      case StepKind::kHold: {
        check_keys(v, p, {"queue", "count", "delay", "order", "seed"});
        if (!v.contains("queue")) fail(p, "hold needs a \"queue\"");
        s.queue = uint16_t(queue_of(v["queue"], p + "/queue", false));
        s.count = v.contains("count") ? uint32_t(u64(v["count"], p + "/count", UINT32_MAX)) : 0;
        if (v.contains("delay")) s.hold_delay = uint32_t(u64(v["delay"], p + "/delay", 1'000'000));
        if (v.contains("order")) s.order = order_of(v["order"], p + "/order");
        if (v.contains("seed")) s.seed = u64(v["seed"], p + "/seed");
        break;
      }
      case StepKind::kRelease: {
        check_keys(v, p, {"queue", "order", "seed", "count"});
        if (!v.contains("queue")) fail(p, "release needs a \"queue\"");
        s.queue = uint16_t(queue_of(v["queue"], p + "/queue", false));
        s.count = v.contains("count") ? uint32_t(u64(v["count"], p + "/count", UINT32_MAX)) : 0;
        if (v.contains("order")) s.order = order_of(v["order"], p + "/order");
        if (v.contains("seed")) s.seed = u64(v["seed"], p + "/seed");
        break;
      }
      case StepKind::kHook:
        s.hook.push_back(hook(v, p));
        break;
      case StepKind::kPciConfig:
        s.poke = pci_poke(v, p);
        break;
      case StepKind::kBar:
        s.bar = bar_lie(v, p);
        break;
      case StepKind::kConfig:
        check_keys(v, p, {"mtu", "mac", "status", "max_virtqueue_pairs"});
        if (v.empty())
          fail(p, "config needs at least one of mtu, mac, status, max_virtqueue_pairs");
        if (v.contains("mtu")) s.cfg_mtu = uint16_t(u64(v["mtu"], p + "/mtu", 0xFFFF));
        if (v.contains("status")) s.cfg_status = uint16_t(u64(v["status"], p + "/status", 0xFFFF));
        if (v.contains("max_virtqueue_pairs"))
          s.cfg_max_pairs =
              uint16_t(u64(v["max_virtqueue_pairs"], p + "/max_virtqueue_pairs", 0xFFFF));
        if (v.contains("mac")) s.cfg_mac = mac(v["mac"], p + "/mac");
        break;
      case StepKind::kConfigInterrupt:
        if (!boolean(v, p)) fail(p, "config_interrupt takes true");
        break;
      case StepKind::kProcessTx:
        s.count = uint32_t(u64(v, p, 1'000'000));
        break;
      case StepKind::kAdvanceClock:
        s.ns = u64(v, p);
        break;
      case StepKind::kBudget:
        check_keys(v, p, {"dma_alloc", "dma_map", "pool_alloc"});
        if (v.empty()) fail(p, "budget needs at least one of dma_alloc, dma_map, pool_alloc");
        if (v.contains("dma_alloc"))
          s.dma_alloc_budget = budget_of(v["dma_alloc"], p + "/dma_alloc");
        if (v.contains("dma_map")) s.dma_map_budget = budget_of(v["dma_map"], p + "/dma_map");
        if (v.contains("pool_alloc"))
          s.pool_alloc_budget = budget_of(v["pool_alloc"], p + "/pool_alloc");
        break;
      case StepKind::kRepublishUsed:
        s.queue = uint16_t(queue_of(v, p, false));
        break;
    }
    return s;
  }

  Scenario scenario(const json& root) const {
    check_keys(root, "", {"name", "description", "device", "platform", "driver", "steps", "end"});
    Scenario s;
    s.file = file_;
    s.device.tx_capture_limit = 1 << 16;
    if (!root.contains("name")) fail("", "a scenario needs a \"name\"");
    s.name = str(root["name"], "/name");
    if (root.contains("description")) s.description = str(root["description"], "/description");
    if (root.contains("device")) device(root["device"], "/device", &s);
    if (root.contains("platform")) platform(root["platform"], "/platform", &s);
    if (root.contains("driver")) driver(root["driver"], "/driver", &s);
    if (root.contains("steps")) {
      const json& st = root["steps"];
      if (!st.is_array()) fail("/steps", "steps is an array");
      for (size_t i = 0; i < st.size(); ++i)
        s.steps.push_back(step(st[i], "/steps/" + std::to_string(i)));
    }
    if (root.contains("end")) {
      s.end = expectation(root["end"], "/end", true);
      if (root["end"].contains("stop")) s.stop_at_end = boolean(root["end"]["stop"], "/end/stop");
    } else {
      s.end.line = 1;
    }
    if (!s.end.violations) s.end.violations = std::vector<std::string>{};
    if (!s.end.pool_all_returned && s.stop_at_end) s.end.pool_all_returned = true;
    return s;
  }

 private:
  const std::string& file_;
  const LineMap& lines_;
};

}  // namespace

const char* step_kind_name(StepKind kind) {
  switch (kind) {
    case StepKind::kRx:
      return "rx";
    case StepKind::kTx:
      return "tx";
    case StepKind::kExpectTx:
      return "expect_tx";
    case StepKind::kLink:
      return "link";
    case StepKind::kDeviceReset:
      return "device_reset";
    case StepKind::kRecover:
      return "recover";
    case StepKind::kStop:
      return "stop";
    case StepKind::kPollDevice:
      return "poll_device";
    case StepKind::kPump:
      return "pump";
    case StepKind::kFault:
      return "fault";
    case StepKind::kClearFaults:
      return "clear_faults";
    case StepKind::kExpect:
      return "expect";
    case StepKind::kRepublishUsed:
      return "republish_used";
    case StepKind::kIgnoreReset:
      return "ignore_reset";
    case StepKind::kRegister:
      return "register";
    case StepKind::kPublishUsed:
      return "publish_used";
    case StepKind::kRewriteDescriptor:
      return "rewrite_descriptor";
    case StepKind::kWriteUsedIdx:
      return "write_used_idx";
    case StepKind::kHold:
      return "hold";
    case StepKind::kRelease:
      return "release";
    case StepKind::kHook:
      return "hook";
    case StepKind::kPciConfig:
      return "pci_config";
    case StepKind::kBar:
      return "bar";
    case StepKind::kConfig:
      return "config";
    case StepKind::kConfigInterrupt:
      return "config_interrupt";
    case StepKind::kProcessTx:
      return "process_tx";
    case StepKind::kAdvanceClock:
      return "advance_clock";
    case StepKind::kBudget:
      return "budget";
  }
  return "?";
}

const char* mmio_probe_error_key(MmioProbeError e) {
  switch (e) {
    case MmioProbeError::kOk:
      return "ok";
    case MmioProbeError::kNoDevice:
      return "no_device";
    case MmioProbeError::kWindowTooSmall:
      return "window_too_small";
    case MmioProbeError::kBadMagic:
      return "bad_magic";
    case MmioProbeError::kBadVersion:
      return "bad_version";
    case MmioProbeError::kNotNet:
      return "not_net";
    case MmioProbeError::kNoVersion1:
      return "no_version1";
    case MmioProbeError::kDeviceCfgTooShort:
      return "device_cfg_too_short";
  }
  return "unknown";
}

const char* probe_error_key(ProbeError e) {
  switch (e) {
    case ProbeError::kOk:
      return "ok";
    case ProbeError::kNotVirtio:
      return "not_virtio";
    case ProbeError::kNotNet:
      return "not_net";
    case ProbeError::kModernUnusable:
      return "modern_unusable";
    case ProbeError::kLegacyUnusable:
      return "legacy_unusable";
  }
  return "unknown";
}

const char* modern_error_key(ModernProbeError e) {
  switch (e) {
    case ModernProbeError::kOk:
      return "ok";
    case ModernProbeError::kNoCapabilityList:
      return "no_capability_list";
    case ModernProbeError::kNoCommonCfg:
      return "no_common_cfg";
    case ModernProbeError::kNoNotifyCfg:
      return "no_notify_cfg";
    case ModernProbeError::kNoIsrCfg:
      return "no_isr_cfg";
    case ModernProbeError::kNoDeviceCfg:
      return "no_device_cfg";
    case ModernProbeError::kNoVersion1:
      return "no_version1";
    case ModernProbeError::kDeviceCfgTooShort:
      return "device_cfg_too_short";
  }
  return "unknown";
}

const char* attach_error_key(AttachError e) {
  switch (e) {
    case AttachError::kOk:
      return "ok";
    case AttachError::kResetTimeout:
      return "reset_timeout";
    case AttachError::kNoVersion1:
      return "no_version1";
    case AttachError::kFeaturesRejected:
      return "features_rejected";
    case AttachError::kQueueUnavailable:
      return "queue_unavailable";
    case AttachError::kQueueSizeInvalid:
      return "queue_size_invalid";
    case AttachError::kQueueSetupRefused:
      return "queue_setup_refused";
    case AttachError::kNoDmaMemory:
      return "no_dma_memory";
    case AttachError::kNoRxBuffers:
      return "no_rx_buffers";
    case AttachError::kBadOptions:
      return "bad_options";
    case AttachError::kConfigUnreadable:
      return "config_unreadable";
    case AttachError::kQuarantined:
      return "quarantined";
  }
  return "unknown";
}

Scenario parse_scenario(std::string_view text, const std::string& file) {
  LineMap lines(text);
  {
    std::stringbuf buf{std::string(text), std::ios_base::in};
    std::istream in(&buf);
    LineRecorder recorder(lines, buf);
    // A syntax error stops the SAX pass quietly; the DOM parse below
    // reports it with its byte position.
    json::sax_parse(in, &recorder, nlohmann::detail::input_format_t::json, true);
  }
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& e) {
    throw ScenarioError(file, lines.line_of(e.byte ? e.byte - 1 : 0),
                        std::string("JSON syntax error: ") + e.what());
  }
  return Parser(file, lines).scenario(root);
}

Scenario load_scenario_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ScenarioError(path, 0, "cannot read the scenario file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_scenario(ss.str(), path);
}

}  // namespace vnet::scenario

namespace vnet::scenario {

const char* msix_fallback_key(MsixFallback f) {
  switch (f) {
    case MsixFallback::kNone:
      return "none";
    case MsixFallback::kNoPlatformVectors:
      return "no_platform_vectors";
    case MsixFallback::kNoCapability:
      return "no_capability";
    case MsixFallback::kBadTable:
      return "bad_table";
    case MsixFallback::kBadPba:
      return "bad_pba";
    case MsixFallback::kLegacyWindow:
      return "legacy_window";
    case MsixFallback::kEnableRefused:
      return "enable_refused";
    case MsixFallback::kConfigVectorRefused:
      return "config_vector_refused";
    case MsixFallback::kConfigVectorWrong:
      return "config_vector_wrong";
    case MsixFallback::kQueueVectorRefused:
      return "queue_vector_refused";
    case MsixFallback::kQueueVectorWrong:
      return "queue_vector_wrong";
  }
  return "unknown";
}

}  // namespace vnet::scenario
