#include "replay/trace.h"

#include <stdio.h>
#include <string.h>

#include <fstream>
#include <sstream>

namespace vnet::replay {

namespace {

using nlohmann::json;

const char* type_name(const json& v) {
  if (v.is_number_unsigned()) return "unsigned integer";
  if (v.is_number_integer()) return "negative integer";
  return v.type_name();
}

void put_msi_message(std::vector<uint8_t>& arena, const MsiMessage& m) {
  for (int i = 0; i < 8; ++i) arena.push_back(static_cast<uint8_t>(m.address >> (8 * i)));
  for (int i = 0; i < 4; ++i) arena.push_back(static_cast<uint8_t>(m.data >> (8 * i)));
}

// Field access for one line, with errors that name the line, the event
// and the field.
class Line {
 public:
  Line(size_t number, const json& j, std::string what)
      : number_(number), j_(j), what_(std::move(what)) {}

  [[noreturn]] void fail(const std::string& msg) const {
    throw TraceError(number_, "line " + std::to_string(number_) + ": " + what_ + ": " + msg);
  }

  const json& field(const char* key) const {
    auto it = j_.find(key);
    if (it == j_.end()) fail(std::string("missing field \"") + key + "\"");
    return *it;
  }
  bool has(const char* key) const { return j_.contains(key); }
  bool is_null(const char* key) const {
    auto it = j_.find(key);
    return it != j_.end() && it->is_null();
  }

  uint64_t uint(const char* key, uint64_t max) const { return uint_of(field(key), key, max); }
  uint64_t uint_of(const json& v, const char* key, uint64_t max) const {
    if (!v.is_number_unsigned())
      fail(std::string("field \"") + key + "\" must be an unsigned integer, got " + type_name(v));
    const uint64_t x = v.get<uint64_t>();
    if (x > max)
      fail(std::string("field \"") + key + "\" is " + std::to_string(x) + ", above its maximum " +
           std::to_string(max));
    return x;
  }
  bool boolean(const char* key) const {
    const json& v = field(key);
    if (!v.is_boolean())
      fail(std::string("field \"") + key + "\" must be true or false, got " + type_name(v));
    return v.get<bool>();
  }
  bool opt_boolean(const char* key) const { return has(key) ? boolean(key) : false; }
  const std::string& string(const char* key) const { return string_of(field(key), key); }
  const std::string& string_of(const json& v, const char* key) const {
    if (!v.is_string())
      fail(std::string("field \"") + key + "\" must be a string, got " + type_name(v));
    return v.get_ref<const std::string&>();
  }
  template <typename T>
  T name(const char* key, bool (*parse)(const char*, size_t, T*)) const {
    const std::string& s = string(key);
    T out;
    if (!parse(s.data(), s.size(), &out))
      fail(std::string("field \"") + key + "\" has unknown value \"" + s + "\"");
    return out;
  }
  uint64_t hex64(const char* key) const {
    const std::string& s = string(key);
    if (s.size() < 3 || s.size() > 18 || s[0] != '0' || s[1] != 'x')
      fail(std::string("field \"") + key + "\" must be a \"0x...\" hex string, got \"" + s + "\"");
    uint64_t v = 0;
    for (size_t i = 2; i < s.size(); ++i) {
      const int d = digit(s[i]);
      if (d < 0) fail(std::string("field \"") + key + "\" is not hex: \"" + s + "\"");
      v = (v << 4) | static_cast<uint64_t>(d);
    }
    return v;
  }
  Bytes hex(const char* key, std::vector<uint8_t>& arena) const {
    return hex_of(field(key), key, arena);
  }
  Bytes hex_of(const json& v, const char* key, std::vector<uint8_t>& arena) const {
    const std::string& s = string_of(v, key);
    if (s.size() % 2 != 0)
      fail(std::string("field \"") + key + "\" has an odd number of hex digits (" +
           std::to_string(s.size()) + ")");
    if (arena.size() + s.size() / 2 > kMaxArenaBytes)
      fail(std::string("field \"") + key + "\" is too long: the trace's byte data exceeds " +
           std::to_string(kMaxArenaBytes) + " bytes");
    Bytes b{static_cast<uint32_t>(arena.size()), static_cast<uint32_t>(s.size() / 2)};
    arena.resize(arena.size() + b.len);
    uint8_t* out = arena.data() + b.off;
    for (size_t i = 0; i < b.len; ++i) {
      const int hi = digit(s[2 * i]), lo = digit(s[2 * i + 1]);
      if (hi < 0 || lo < 0)
        fail(std::string("field \"") + key + "\" has a non-hex character at position " +
             std::to_string(hi < 0 ? 2 * i : 2 * i + 1));
      out[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return b;
  }
  Line sub(const json& v, std::string what) const { return Line(number_, v, std::move(what)); }
  // An id that may be null (the recorder did not know it).
  uint32_t id(const char* key) const {
    if (is_null(key)) return kNoId;
    return static_cast<uint32_t>(uint(key, kNoId - 1));
  }

 private:
  static int digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  size_t number_;
  const json& j_;
  std::string what_;
};

void parse_header(Trace& t, const json& j, size_t number) {
  if (!j.is_object() || !j.contains("format")) {
    std::string found = "a line without \"format\"";
    if (j.is_object() && j.contains("ev") && j["ev"].is_string())
      found = "an event line (\"" + j["ev"].get<std::string>() + "\")";
    throw TraceError(number, "line " + std::to_string(number) +
                                 ": missing header: the first line must be the trace header "
                                 "{\"format\":\"vnetkit-trace\",\"version\":1,...}, found " +
                                 found);
  }
  Line l(number, j, "header");
  if (l.string("format") != trace::kFormatName)
    l.fail("\"format\" is \"" + l.string("format") + "\", not \"" + trace::kFormatName + "\"");
  t.header.version = static_cast<uint32_t>(l.uint("version", 0xFFFF'FFFFu));
  if (t.header.version != trace::kFormatVersion && t.header.version != trace::kFormatVersionRepeats)
    l.fail("format version " + std::to_string(t.header.version) + " is not supported (this " +
           "replayer reads versions " + std::to_string(trace::kFormatVersion) + " and " +
           std::to_string(trace::kFormatVersionRepeats) + ")");
  t.header.driver_version = l.string("driver_version");
  if (l.has("transport")) t.header.transport = l.string("transport");
  const json& pool = l.field("pool");
  if (!pool.is_object()) l.fail("field \"pool\" must be an object");
  Line p(number, pool, "header.pool");
  t.header.pool_buffer_size = static_cast<uint32_t>(p.uint("buffer_size", 1u << 20));
  if (t.header.pool_buffer_size <= kTxHeadroom) p.fail("\"buffer_size\" is too small");
  if (l.has("features")) {
    const json& fj = l.field("features");
    if (!fj.is_object()) l.fail("field \"features\" must be an object");
    Line f(number, fj, "header.features");
    t.header.offered = f.hex64("offered");
    t.header.negotiated = f.hex64("negotiated");
    t.header.has_features = true;
  }
  if (l.has("device")) {
    const json& d = l.field("device");
    if (!d.is_object()) l.fail("field \"device\" must be an object");
    Line dl(number, d, "header.device");
    if (dl.has("kind")) t.header.device_kind = dl.string("kind");
    if (dl.has("window")) t.header.mmio_window = static_cast<uint32_t>(dl.uint("window", 1u << 20));
  }
  if (l.has("offers")) {
    const json& oj = l.field("offers");
    if (!oj.is_object()) l.fail("field \"offers\" must be an object");
    Line o(number, oj, "header.offers");
    if (o.has("legacy")) {
      t.header.legacy_offer = o.hex64("legacy");
      if (t.header.legacy_offer >> 32) o.fail("\"legacy\" is a 32-bit offer");
      t.header.has_legacy_offer = true;
    }
    if (o.has("modern")) {
      t.header.modern_offer = o.hex64("modern");
      t.header.has_modern_offer = true;
    }
    if (o.has("mmio")) {
      t.header.mmio_offer = o.hex64("mmio");
      t.header.has_mmio_offer = true;
    }
  }
  if (l.has("queue_sizes")) {
    const json& q = l.field("queue_sizes");
    if (!q.is_array()) l.fail("field \"queue_sizes\" must be an array of queue sizes");
    for (const json& x : q)
      t.header.queue_sizes.push_back(static_cast<uint16_t>(l.uint_of(x, "queue_sizes[]", 0x8000)));
  }
  if (l.has("capture")) {
    const json& c = l.field("capture");
    if (!c.is_object()) l.fail("field \"capture\" must be an object");
    Line cl(number, c, "header.capture");
    t.header.capture = true;
    if (cl.has("net_header")) {
      t.header.net_header = static_cast<uint32_t>(cl.uint("net_header", 12));
      if (t.header.net_header != 10 && t.header.net_header != 12)
        cl.fail("\"net_header\" must be 10 or 12");
    }
    if (cl.has("guest_mac") && !cl.string("guest_mac").empty()) {
      std::vector<uint8_t> mac;
      if (cl.hex("guest_mac", mac).len != 6) cl.fail("\"guest_mac\" must be 6 bytes");
      for (size_t i = 0; i < 6; ++i) t.header.guest_mac[i] = mac[i];
      t.header.has_guest_mac = true;
    }
  }
  if (l.has("replay")) {
    t.header.default_mode = l.string("replay");
    if (t.header.default_mode != "strict" && t.header.default_mode != "device")
      l.fail("\"replay\" must be \"strict\" or \"device\", got \"" + t.header.default_mode + "\"");
  }
  if (l.has("recorded")) {
    const json& r = l.field("recorded");
    if (r.is_object() && r.contains("scenario") && r["scenario"].is_string())
      t.header.scenario = r["scenario"].get<std::string>();
  }
  t.header.json = j;
}

// A PacketOffload written by trace::write_offload_fields: every field
// optional, its default when absent.
PacketOffload parse_offload(const Line& o) {
  PacketOffload r;
  if (o.has("csum")) r.csum = o.name<CsumState>("csum", trace::parse_csum_state);
  if (o.has("gso")) r.gso = o.name<GsoKind>("gso", trace::parse_gso_kind);
  if (o.has("ecn")) r.ecn = o.boolean("ecn");
  if (o.has("csum_start")) r.csum_start = static_cast<uint16_t>(o.uint("csum_start", 0xFFFF));
  if (o.has("csum_offset")) r.csum_offset = static_cast<uint16_t>(o.uint("csum_offset", 0xFFFF));
  if (o.has("gso_size")) r.gso_size = static_cast<uint16_t>(o.uint("gso_size", 0xFFFF));
  if (o.has("hdr_len")) r.hdr_len = static_cast<uint16_t>(o.uint("hdr_len", 0xFFFF));
  return r;
}

void parse_call(Trace& t, const Line& l, Event& e) {
  CallArgs c;
  c.fn = l.name<ApiFn>("fn", trace::parse_api_fn);
  switch (c.fn) {
    case ApiFn::kProbe:
      c.mode = l.name<PciMode>("mode", trace::parse_pci_mode);
      break;
    case ApiFn::kProbeMmio:
      c.window.size = l.uint("size", 0xFFFF'FFFFu);
      c.window.irq = l.has("irq") ? static_cast<int32_t>(l.uint("irq", 0x7FFF'FFFF)) : -1;
      break;
    case ApiFn::kAttach: {
      const json& o = l.field("options");
      if (!o.is_object()) l.fail("field \"options\" must be an object");
      Line ol = l.sub(o, "call.options");
      c.options.rx_ring_cap = static_cast<uint16_t>(ol.uint("rx_ring_cap", 0xFFFF));
      c.options.tx_ring_cap = static_cast<uint16_t>(ol.uint("tx_ring_cap", 0xFFFF));
      c.options.feature_mask = ol.hex64("feature_mask");
      std::vector<uint8_t> mac;
      if (ol.hex("fallback_mac", mac).len != 6) ol.fail("\"fallback_mac\" must be 6 bytes");
      for (size_t i = 0; i < 6; ++i) c.options.fallback_mac[i] = mac[i];
      c.options.fallback_mtu = static_cast<uint16_t>(ol.uint("fallback_mtu", 0xFFFF));
      // Up to 65535 before issue 16; now a uint32_t (kMaxGsoFrame and,
      // as the caller may ask it, anything above, which attach refuses).
      c.options.max_frame = static_cast<uint32_t>(ol.uint("max_frame", 0xFFFF'FFFFu));
      // Added later in version 1: optional, the driver's defaults when absent.
      if (ol.has("reset_timeout_ns"))
        c.options.reset_timeout_ns = ol.uint("reset_timeout_ns", UINT64_MAX);
      if (ol.has("tx_timeout_ns")) c.options.tx_timeout_ns = ol.uint("tx_timeout_ns", UINT64_MAX);
      if (ol.has("accept_access_platform"))
        c.options.accept_access_platform = ol.boolean("accept_access_platform");
      if (ol.has("accept_order_platform"))
        c.options.accept_order_platform = ol.boolean("accept_order_platform");
      // Added with the packed ring (issue 14): optional, false (split
      // rings only, the driver's default) when absent.
      if (ol.has("accept_ring_packed"))
        c.options.accept_ring_packed = ol.boolean("accept_ring_packed");
      // Added with indirect descriptors (issue 14): optional, false (the
      // driver's default) when absent.
      if (ol.has("accept_indirect_desc"))
        c.options.accept_indirect_desc = ol.boolean("accept_indirect_desc");
      // Added with interrupts (issue 12): optional, polling and the
      // driver's storm guard when absent.
      if (ol.has("interrupts"))
        c.options.interrupts = ol.name<InterruptMode>("interrupts", trace::parse_interrupt_mode);
      if (ol.has("irq_storm_limit"))
        c.options.irq_storm_limit = static_cast<uint32_t>(ol.uint("irq_storm_limit", 0xFFFF'FFFFu));
      if (ol.has("irq_storm_window_ns"))
        c.options.irq_storm_window_ns = ol.uint("irq_storm_window_ns", UINT64_MAX);
      // Added with the control plane (issue 15): optional, the driver's
      // defaults (no control queue, one queue pair, no RSS) when absent.
      if (ol.has("accept_ctrl_vq")) c.options.accept_ctrl_vq = ol.boolean("accept_ctrl_vq");
      if (ol.has("ctrl_timeout_ns"))
        c.options.ctrl_timeout_ns = ol.uint("ctrl_timeout_ns", UINT64_MAX);
      if (ol.has("max_queue_pairs"))
        c.options.max_queue_pairs = static_cast<uint16_t>(ol.uint("max_queue_pairs", 0xFFFF));
      if (ol.has("accept_rss")) c.options.accept_rss = ol.boolean("accept_rss");
      if (ol.has("accept_hash_report"))
        c.options.accept_hash_report = ol.boolean("accept_hash_report");
      // Added with offloads (issue 16): optional, false (the driver's
      // defaults: no offloads, no receive chains) when absent.
      if (ol.has("rx_chains")) c.options.rx_chains = ol.boolean("rx_chains");
      if (ol.has("accept_tx_csum")) c.options.accept_tx_csum = ol.boolean("accept_tx_csum");
      if (ol.has("accept_tso")) c.options.accept_tso = ol.boolean("accept_tso");
      if (ol.has("accept_rx_csum")) c.options.accept_rx_csum = ol.boolean("accept_rx_csum");
      if (ol.has("accept_rx_gso")) c.options.accept_rx_gso = ol.boolean("accept_rx_gso");
      break;
    }
    case ApiFn::kRxBurst:
      c.max = static_cast<uint16_t>(l.uint("max", 0xFFFF));
      if (l.has("pair")) c.pair = static_cast<uint16_t>(l.uint("pair", 0xFFFF));
      break;
    case ApiFn::kSetRxMode:
      c.rx_mode = l.name<RxMode>("mode", trace::parse_rx_mode);
      c.enabled = l.boolean("on");
      break;
    case ApiFn::kSetMacFilter:
      for (const char* key : {"uc", "mc"}) {
        const json& a = l.field(key);
        if (!a.is_array() || a.size() > kMaxMacFilter)
          l.fail(std::string("field \"") + key + "\" must be an array of at most " +
                 std::to_string(kMaxMacFilter) + " MAC addresses (hex strings)");
        for (const json& x : a) {
          std::vector<uint8_t> scratch;
          const Bytes b = l.hex_of(x, key, scratch);
          if (b.len != 6) l.fail(std::string("each of \"") + key + "\" must be 6 bytes");
          MacAddr m;
          for (size_t i = 0; i < 6; ++i) m.b[i] = scratch[b.off + i];
          (key[0] == 'u' ? c.unicast : c.multicast).push_back(m);
        }
      }
      break;
    case ApiFn::kSetMacAddress: {
      std::vector<uint8_t> mac;
      if (l.hex("mac", mac).len != 6) l.fail("\"mac\" must be 6 bytes");
      for (size_t i = 0; i < 6; ++i) c.mac[i] = mac[i];
      break;
    }
    case ApiFn::kAddVlan:
    case ApiFn::kRemoveVlan:
      c.vid = static_cast<uint16_t>(l.uint("vid", 0xFFFF));
      break;
    case ApiFn::kSetQueuePairs:
      c.pairs = static_cast<uint16_t>(l.uint("pairs", 0xFFFF));
      break;
    case ApiFn::kSetRss: {
      auto r = std::make_shared<RssSettings>();
      *r = RssSettings{};
      r->hash_types = static_cast<uint32_t>(l.uint("hash_types", 0xFFFF'FFFFu));
      const json& tab = l.field("table");
      if (!tab.is_array() || tab.size() > kMaxRssTable)
        l.fail("field \"table\" must be an array of at most " + std::to_string(kMaxRssTable) +
               " queue pairs");
      for (const json& x : tab)
        r->table[r->table_len++] = static_cast<uint16_t>(l.uint_of(x, "table[]", 0xFFFF));
      r->unclassified_pair = static_cast<uint16_t>(l.uint("unclassified_pair", 0xFFFF));
      std::vector<uint8_t> key;
      const Bytes k = l.hex("key", key);
      if (k.len > sizeof(r->key)) l.fail("\"key\" must be at most 40 bytes");
      r->key_len = static_cast<uint8_t>(k.len);
      for (size_t i = 0; i < k.len; ++i) r->key[i] = key[k.off + i];
      c.rss = std::move(r);
      break;
    }
    case ApiFn::kTxBurst: {
      if (l.has("pair")) c.pair = static_cast<uint16_t>(l.uint("pair", 0xFFFF));
      const json& f = l.field("frames");
      if (!f.is_array()) l.fail("field \"frames\" must be an array of hex strings");
      if (f.size() > 0xFFFF) l.fail("too many frames");
      for (const json& x : f) c.frames.push_back(l.hex_of(x, "frames[]", t.bytes));
      // Scatter-gather (issue 14): optional, every frame one buffer when
      // absent; else one array per frame of its fragments' lengths, empty
      // for a frame of one buffer.
      if (l.has("frags")) {
        const json& g = l.field("frags");
        if (!g.is_array() || g.size() != f.size())
          l.fail("field \"frags\" must be an array with one element per frame");
        for (size_t i = 0; i < g.size(); ++i) {
          const json& fl = g[i];
          if (!fl.is_array() || fl.size() > kMaxTxFragments)
            l.fail("each of \"frags\" must be an array of at most " +
                   std::to_string(kMaxTxFragments) + " fragment lengths");
          std::vector<uint32_t> lens;
          uint64_t sum = 0;
          for (const json& x : fl) {
            const uint64_t v = l.uint_of(x, "frags[][]", 0xFFFF'FFFFu);
            if (v == 0) l.fail("a fragment length in \"frags\" is 0");
            lens.push_back(static_cast<uint32_t>(v));
            sum += v;
          }
          if (lens.size() == 1)
            l.fail("a fragmented frame in \"frags\" has one fragment (write [])");
          if (!lens.empty() && sum != c.frames[i].len)
            l.fail("the fragments of frame " + std::to_string(i) + " hold " + std::to_string(sum) +
                   " bytes, the frame " + std::to_string(c.frames[i].len));
          c.frags.push_back(std::move(lens));
        }
      }
      // Offload requests (issue 16): optional, none when absent; else one
      // object per frame ({} for a frame without a request).
      if (l.has("offload")) {
        const json& g = l.field("offload");
        if (!g.is_array() || g.size() != f.size())
          l.fail("field \"offload\" must be an array with one object per frame");
        for (const json& x : g) {
          if (!x.is_object()) l.fail("each of \"offload\" must be an object");
          c.offloads.push_back(parse_offload(l.sub(x, "call.offload[]")));
        }
      }
      break;
    }
    case ApiFn::kSetGuestOffloads:
      c.guest_offloads = l.hex64("offloads");
      break;
    case ApiFn::kSetRxInterrupts:
    case ApiFn::kSetTxInterrupts:
      c.enabled = l.boolean("enabled");
      if (l.has("pair")) c.pair = static_cast<uint16_t>(l.uint("pair", 0xFFFF));
      break;
    case ApiFn::kHandleInterrupt: {
      const std::string& src = l.string("src");
      if (src == "vector")
        c.irq = IrqSource::msi(static_cast<uint16_t>(l.uint("vector", 0xFFFF)));
      else if (src == "line")
        c.irq = IrqSource::line();
      else
        l.fail("field \"src\" has unknown value \"" + src + "\" (vector or line)");
      break;
    }
    case ApiFn::kTxReclaim:
      if (l.has("pair")) c.pair = static_cast<uint16_t>(l.uint("pair", 0xFFFF));
      break;
    case ApiFn::kPollDevice:
    case ApiFn::kRecover:
    case ApiFn::kStop:
      break;
  }
  e.r8 = static_cast<uint8_t>(c.fn);
  e.u32 = static_cast<uint32_t>(t.calls.size());
  t.calls.push_back(std::move(c));
}

void parse_ret(Trace& t, const Line& l, Event& e) {
  RetValues r;
  r.fn = l.name<ApiFn>("fn", trace::parse_api_fn);
  r.value = static_cast<uint32_t>(l.uint("val", 0xFFFF'FFFFu));
  r.state = l.name<NetState>("state", trace::parse_net_state);
  switch (r.fn) {
    case ApiFn::kProbe:
    case ApiFn::kProbeMmio:
      if (!l.is_null("transport")) {
        r.transport = l.string("transport");
        r.has_transport = true;
      } else {
        (void)l.field("transport");
      }
      break;
    case ApiFn::kAttach:
    case ApiFn::kRecover: {
      r.has_negotiated = true;
      r.features = l.hex64("features");
      r.hdr_size = static_cast<uint32_t>(l.uint("hdr", 64));
      r.mtu = static_cast<uint16_t>(l.uint("mtu", 0xFFFF));
      std::vector<uint8_t> mac;
      Bytes m = l.hex("mac", mac);
      if (m.len != 6) l.fail("\"mac\" must be 6 bytes");
      for (int i = 0; i < 6; ++i) r.mac[i] = mac[static_cast<size_t>(i)];
      r.has_link = true;
      r.link_up = l.boolean("link");
      break;
    }
    case ApiFn::kPollDevice: {
      const json& ev = l.field("events");
      if (!ev.is_object()) l.fail("field \"events\" must be an object");
      for (const char* k : {"config_changed", "link_changed", "reset_detected", "recovered"})
        if (!ev.contains(k) || !ev[k].is_boolean())
          l.fail(std::string("\"events\" needs a true/false \"") + k + "\"");
      r.events.config_changed = ev["config_changed"].get<bool>();
      r.events.link_changed = ev["link_changed"].get<bool>();
      r.events.reset_detected = ev["reset_detected"].get<bool>();
      r.events.recovered = ev["recovered"].get<bool>();
      // Added later in version 1 (the tx watchdog, the deferred reset):
      // optional, false when absent.
      for (const char* k : {"tx_timeout", "reset_deferred"})
        if (ev.contains(k) && !ev[k].is_boolean())
          l.fail(std::string("\"events\" needs a true/false \"") + k + "\" when present");
      r.events.tx_timeout = ev.contains("tx_timeout") && ev["tx_timeout"].get<bool>();
      r.events.reset_deferred = ev.contains("reset_deferred") && ev["reset_deferred"].get<bool>();
      // Added with the control plane (issue 15): optional, false when absent.
      if (ev.contains("announce") && !ev["announce"].is_boolean())
        l.fail("\"events\" needs a true/false \"announce\" when present");
      r.events.announce = ev.contains("announce") && ev["announce"].get<bool>();
      r.has_events = true;
      r.has_link = true;
      r.link_up = l.boolean("link");
      break;
    }
    case ApiFn::kHandleInterrupt: {
      const uint32_t bits = (l.boolean("rx") ? trace::kIrqWorkRx : 0) |
                            (l.boolean("tx") ? trace::kIrqWorkTx : 0) |
                            (l.boolean("control") ? trace::kIrqWorkControl : 0);
      if (bits != r.value)
        l.fail("\"val\" (" + std::to_string(r.value) +
               ") disagrees with \"rx\", \"tx\" and \"control\" (rx 1 + tx 2 + control 4 = " +
               std::to_string(bits) + ")");
      break;
    }
    case ApiFn::kRxBurst:
      // Receive chains and offload results (issue 16): optional; when
      // given, one object per delivered frame.
      if (l.has("delivered")) {
        const json& d = l.field("delivered");
        if (!d.is_array() || d.size() != r.value)
          l.fail("field \"delivered\" must be an array with one object per delivered frame (" +
                 std::to_string(r.value) + ")");
        for (const json& x : d) {
          if (!x.is_object()) l.fail("each of \"delivered\" must be an object");
          const Line fl = l.sub(x, "ret.delivered[]");
          DeliveredFrame f;
          const json& bufs = fl.field("bufs");
          if (!bufs.is_array() || bufs.empty() || bufs.size() > 0xFFFF)
            fl.fail("field \"bufs\" must be an array of the frame's buffer lengths (at least one)");
          for (const json& b : bufs)
            f.bufs.push_back(static_cast<uint32_t>(fl.uint_of(b, "bufs[]", 0xFFFF'FFFFu)));
          f.offload = parse_offload(fl);
          r.delivered.push_back(std::move(f));
        }
        r.has_delivered = true;
      }
      break;
    case ApiFn::kTxBurst:
    case ApiFn::kTxReclaim:
    case ApiFn::kStop:
    case ApiFn::kSetRxInterrupts:
    case ApiFn::kSetTxInterrupts:
      break;
    case ApiFn::kSetRxMode:
    case ApiFn::kSetMacFilter:
    case ApiFn::kSetMacAddress:
    case ApiFn::kAddVlan:
    case ApiFn::kRemoveVlan:
    case ApiFn::kSetQueuePairs:
    case ApiFn::kSetRss:
    case ApiFn::kSetGuestOffloads: {
      // "val" is the CtrlResult; "result" (its name) must agree when given.
      if (r.value > static_cast<uint32_t>(CtrlResult::kDeviceFault))
        l.fail("\"val\" of a control command is a result 0..6 (ok .. device_fault)");
      if (l.has("result")) {
        const CtrlResult named = l.name<CtrlResult>("result", trace::parse_ctrl_result);
        if (static_cast<uint32_t>(named) != r.value)
          l.fail("\"result\" disagrees with \"val\" (" + std::to_string(r.value) + ")");
      }
      break;
    }
  }
  e.r8 = static_cast<uint8_t>(r.fn);
  e.u32 = static_cast<uint32_t>(t.rets.size());
  t.rets.push_back(std::move(r));
}

void parse_event(Trace& t, const json& j, size_t number) {
  if (!j.is_object())
    throw TraceError(number, "line " + std::to_string(number) + ": an event must be a JSON object");
  auto it = j.find("ev");
  if (it == j.end())
    throw TraceError(number, "line " + std::to_string(number) + ": missing field \"ev\"");
  if (!it->is_string())
    throw TraceError(number, "line " + std::to_string(number) +
                                 ": field \"ev\" must be a string, got " + type_name(*it));
  const std::string& name = it->get_ref<const std::string&>();
  EventKind kind;
  if (!trace::parse_event(name.data(), name.size(), &kind))
    throw TraceError(number, "line " + std::to_string(number) + ": unknown event \"" + name + "\"");
  Line l(number, j, name);
  Event e{};
  e.kind = kind;
  switch (kind) {
    case EventKind::kRegRead:
    case EventKind::kRegWrite: {
      e.r8 = static_cast<uint8_t>(l.name<Region>("region", trace::parse_region));
      e.u32 = static_cast<uint32_t>(l.uint("off", 0xFFFF'FFFFu));
      e.w8 = static_cast<uint8_t>(l.uint("w", 4));
      if (e.w8 != 1 && e.w8 != 2 && e.w8 != 4) l.fail("field \"w\" must be 1, 2 or 4");
      const json& v = l.field("val");
      if (kind == EventKind::kRegWrite && v.is_object() && v.contains("ring")) {
        // A capture's address: named by queue and ring part.
        Line a = l.sub(v, name + ".val");
        e.addr = kAddrRing;
        e.u64 = a.uint("ring", 0xFFFF);
        const std::string& part = a.string("part");
        e.f8 = static_cast<uint8_t>(a.name<AddrForm>("as", trace::parse_addr_form));
        const AddrForm form = static_cast<AddrForm>(e.f8);
        if (part == "desc" || part == "driver" || part == "device") {
          e.aux = part == "desc" ? 0 : part == "driver" ? 1 : 2;
          if (form == AddrForm::kPfn)
            a.fail("part \"" + part + "\" is named with \"as\":\"lo32\" or \"hi32\", not \"pfn\"");
        } else if (part == "pfn") {
          e.aux = static_cast<uint64_t>(RingPart::kPfn);
          if (form != AddrForm::kPfn) a.fail("part \"pfn\" needs \"as\":\"pfn\"");
        } else {
          a.fail("field \"part\" has unknown value \"" + part + "\" (desc, driver, device or pfn)");
        }
      } else if (kind == EventKind::kRegWrite && v.is_object()) {
        Line a = l.sub(v, name + ".val");
        e.addr = kAddrDma;
        e.u64 = a.uint("dma", kNoId - 1);
        e.aux = a.uint("off", 0xFFFF'FFFFu);
        e.f8 = static_cast<uint8_t>(a.name<AddrForm>("as", trace::parse_addr_form));
      } else {
        e.u64 = l.uint_of(v, "val", 0xFFFF'FFFFu);
      }
      if (l.has("rep")) {
        if (t.header.version < trace::kFormatVersionRepeats)
          l.fail("field \"rep\" needs format version " +
                 std::to_string(trace::kFormatVersionRepeats) + " (the header says " +
                 std::to_string(t.header.version) + ")");
        if (e.addr != kAddrNone) l.fail("field \"rep\" is only allowed with a plain \"val\"");
        const uint64_t rep = l.uint("rep", 0xFFFF'FFFFu);
        if (rep == 0) l.fail("field \"rep\" is 0: an event happens at least once");
        e.aux = rep - 1;
      }
      break;
    }
    case EventKind::kBarInfo:
      e.a16 = static_cast<uint16_t>(l.uint("bar", kNumBars - 1));
      e.b8 = l.boolean("present");
      e.c8 = l.boolean("io");
      e.u64 = l.uint("size", UINT64_MAX);
      break;
    case EventKind::kDmaAlloc:
      e.u64 = l.uint("size", UINT64_MAX);
      e.aux = l.uint("align", UINT64_MAX);
      e.b8 = l.boolean("ok");
      e.u32 = e.b8 ? static_cast<uint32_t>(l.uint("id", kNoId - 1)) : kNoId;
      break;
    case EventKind::kDmaFree:
      e.u32 = l.id("id");
      break;
    case EventKind::kFetch:
      e.a16 = static_cast<uint16_t>(l.uint("q", 0xFFFF));
      e.r8 = static_cast<uint8_t>(l.name<MemPart>("part", trace::parse_mem_part));
      e.b16 = static_cast<uint16_t>(l.uint("idx", 0xFFFF));
      e.c8 = l.opt_boolean("recheck");
      e.data = l.hex("data", t.bytes);
      break;
    case EventKind::kFrame:
      e.a16 = static_cast<uint16_t>(l.uint("q", 0xFFFF));
      e.b16 = static_cast<uint16_t>(l.uint("desc", 0xFFFF));
      e.data = l.hex("data", t.bytes);
      break;
    case EventKind::kPublish: {
      e.a16 = static_cast<uint16_t>(l.uint("q", 0xFFFF));
      e.b16 = static_cast<uint16_t>(l.uint("avail", 0xFFFF));
      e.u32 = static_cast<uint32_t>(l.uint("head", 0xFFFF));
      const json& segs = l.field("segs");
      if (!segs.is_array()) l.fail("field \"segs\" must be an array");
      // Indirect chains (issue 14): "indirect":true and the table's DMA
      // region; optional, a direct chain when absent.
      const bool indirect = l.has("indirect") && l.boolean("indirect");
      if (!indirect && l.has("table")) l.fail("field \"table\" without \"indirect\":true");
      if (indirect) {
        e.c8 = 1;
        const json& tb = l.field("table");
        uint64_t id = kNoId, off = 0;
        if (!tb.is_null()) {
          if (!tb.is_object()) l.fail("field \"table\" must be {\"dma\":id,\"off\":o} or null");
          Line tl = l.sub(tb, name + ".table");
          id = tl.uint("dma", kNoId - 1);
          off = tl.uint("off", 0xFFFF'FFFFu);
        }
        e.u64 = (id << 32) | off;
      }
      const size_t max_segs = indirect ? kMaxPublishedSegments : kMaxChainSegments;
      if (segs.empty() || segs.size() > max_segs)
        l.fail("\"segs\" must hold 1 to " + std::to_string(max_segs) + " segments" +
               (indirect ? " (an indirect chain)" : " (a direct chain)"));
      e.aux = t.segments.size();
      e.w8 = static_cast<uint8_t>(segs.size());
      for (const json& s : segs) {
        if (!s.is_object()) l.fail("each of \"segs\" must be an object");
        Line sl = l.sub(s, name + ".segs[]");
        Segment seg{};
        seg.desc = static_cast<uint16_t>(sl.uint("desc", 0xFFFF));
        seg.len = static_cast<uint32_t>(sl.uint("len", 0xFFFF'FFFFu));
        seg.writable = sl.boolean("wr");
        if (!seg.writable) {
          seg.data = sl.hex("data", t.bytes);
          if (seg.data.len != seg.len) sl.fail("\"data\" holds fewer or more bytes than \"len\"");
        }
        t.segments.push_back(seg);
      }
      break;
    }
    case EventKind::kComplete:
      e.a16 = static_cast<uint16_t>(l.uint("q", 0xFFFF));
      e.b16 = static_cast<uint16_t>(l.uint("head", 0xFFFF));
      e.u32 = static_cast<uint32_t>(l.uint("len", 0xFFFF'FFFFu));
      break;
    case EventKind::kBarrier:
      e.r8 = static_cast<uint8_t>(l.name<Barrier>("kind", trace::parse_barrier));
      break;
    case EventKind::kWaitIrq:
      e.u64 = l.uint("timeout", UINT64_MAX);
      e.b8 = l.boolean("ret");
      break;
    case EventKind::kNow:
      e.u64 = l.uint("val", UINT64_MAX);
      break;
    case EventKind::kLog: {
      e.r8 = static_cast<uint8_t>(l.name<LogLevel>("level", trace::parse_log_level));
      const std::string& msg = l.string("msg");
      if (t.bytes.size() + msg.size() > kMaxArenaBytes)
        l.fail("field \"msg\" is too long: the trace's byte data exceeds " +
               std::to_string(kMaxArenaBytes) + " bytes");
      e.data = Bytes{static_cast<uint32_t>(t.bytes.size()), static_cast<uint32_t>(msg.size())};
      t.bytes.insert(t.bytes.end(), msg.begin(), msg.end());
      break;
    }
    case EventKind::kOpBegin:
    case EventKind::kOpEnd:
      e.r8 = static_cast<uint8_t>(l.name<DriverOp>("op", trace::parse_driver_op));
      break;
    case EventKind::kPoolAlloc:
      e.b8 = l.boolean("ok");
      e.u32 = e.b8 ? l.id("buf") : kNoId;
      break;
    case EventKind::kPoolFree:
      e.u32 = l.id("buf");
      break;
    case EventKind::kCall:
      parse_call(t, l, e);
      break;
    case EventKind::kRet:
      parse_ret(t, l, e);
      break;
    case EventKind::kMark: {
      const std::string& what = l.string("what");
      if (what != "driver_start")
        l.fail("field \"what\" has unknown value \"" + what + "\" (known: driver_start)");
      e.r8 = static_cast<uint8_t>(MarkWhat::kDriverStart);
      if (t.driver_start != SIZE_MAX)
        l.fail("a second driver_start mark (the first is on line " +
               std::to_string(t.event_line[t.driver_start]) + ")");
      t.driver_start = t.events.size();
      break;
    }
    case EventKind::kDevPop:
      e.a16 = static_cast<uint16_t>(l.uint("q", 0xFFFF));
      e.b16 = static_cast<uint16_t>(l.uint("avail", 0xFFFF));
      e.u32 = static_cast<uint32_t>(l.uint("in", 0xFFFF));
      e.aux = l.uint("out", 0xFFFF);
      if (e.u32 + e.aux == 0) l.fail("a popped chain has at least one descriptor (in + out > 0)");
      break;
    case EventKind::kDevFill:
      e.a16 = static_cast<uint16_t>(l.uint("q", 0xFFFF));
      e.b16 = static_cast<uint16_t>(l.uint("avail", 0xFFFF));
      e.u32 = static_cast<uint32_t>(l.uint("len", 0xFFFF'FFFFu));
      break;
    case EventKind::kDevFlush:
      e.a16 = static_cast<uint16_t>(l.uint("q", 0xFFFF));
      e.u32 = static_cast<uint32_t>(l.uint("count", 0xFFFF));
      e.b16 = static_cast<uint16_t>(l.uint("used_idx", 0xFFFF));
      break;
    case EventKind::kDevIrq:
      if (l.is_null("q")) break;
      e.a16 = static_cast<uint16_t>(l.uint("q", 0xFFFF));
      e.b8 = 1;
      break;
    case EventKind::kDevFrame: {
      e.a16 = static_cast<uint16_t>(l.uint("q", 0xFFFF));
      const std::string& dir = l.string("dir");
      if (dir != "rx" && dir != "tx")
        l.fail("field \"dir\" has unknown value \"" + dir + "\" (rx or tx)");
      e.r8 = static_cast<uint8_t>(dir == "rx" ? FrameDir::kRx : FrameDir::kTx);
      e.b16 = static_cast<uint16_t>(l.uint("avail", 0xFFFF));
      e.data = l.hex("data", t.bytes);
      if (e.data.len == 0) l.fail("field \"data\" is empty: a frame has at least one byte");
      if (dir == "rx") {
        e.u32 = static_cast<uint32_t>(l.uint("bufs", 0xFFFF));
        if (e.u32 == 0) l.fail("field \"bufs\" is 0: an rx frame fills at least one buffer");
        e.u64 = l.uint("len", 0xFFFF'FFFFu);
        if (e.u64 < e.data.len)
          l.fail("field \"len\" (" + std::to_string(e.u64) + ") is below the frame's " +
                 std::to_string(e.data.len) + " bytes: len is net header + frame");
      }
      break;
    }
    case EventKind::kMsiMessages: {
      e.a16 = static_cast<uint16_t>(l.uint("max", 0xFFFF));
      const json& msgs = l.field("msgs");
      if (!msgs.is_array()) l.fail("field \"msgs\" must be an array of {\"addr\",\"data\"}");
      if (msgs.size() > e.a16)
        l.fail("\"msgs\" holds " + std::to_string(msgs.size()) +
               " messages, more than the driver asked for (\"max\" " + std::to_string(e.a16) + ")");
      if (t.bytes.size() + msgs.size() * kMsiMessageBytes > kMaxArenaBytes)
        l.fail("field \"msgs\" is too long: the trace's byte data exceeds " +
               std::to_string(kMaxArenaBytes) + " bytes");
      e.u32 = static_cast<uint32_t>(msgs.size());
      e.data = Bytes{static_cast<uint32_t>(t.bytes.size()),
                     static_cast<uint32_t>(msgs.size() * kMsiMessageBytes)};
      for (const json& m : msgs) {
        if (!m.is_object()) l.fail("each of \"msgs\" must be an object");
        Line ml = l.sub(m, name + ".msgs[]");
        MsiMessage msg;
        msg.address = ml.hex64("addr");
        msg.data = static_cast<uint32_t>(ml.uint("data", 0xFFFF'FFFFu));
        put_msi_message(t.bytes, msg);
      }
      break;
    }
    case EventKind::kLineInterrupt:
      e.b8 = l.boolean("ret");
      break;
    case EventKind::kDevMsi:
      e.a16 = static_cast<uint16_t>(l.uint("entry", 2047));
      break;
    case EventKind::kDevIntx:
      e.b8 = static_cast<uint8_t>(l.uint("level", 1));
      break;
    case EventKind::kArmInterrupts:
      e.r8 = static_cast<uint8_t>(l.name<InterruptMode>("mode", trace::parse_interrupt_mode));
      e.a16 = static_cast<uint16_t>(l.uint("vectors", 0xFFFF));
      break;
    case EventKind::kEnd:
      e.u64 = l.uint("events", UINT64_MAX);
      if (e.u64 != t.events.size())
        l.fail("says " + std::to_string(e.u64) + " events, the trace has " +
               std::to_string(t.events.size()));
      break;
  }
  // A trace is a recording or a capture, never both.
  const bool capture_event =
      kind == EventKind::kMark || kind == EventKind::kDevPop || kind == EventKind::kDevFill ||
      kind == EventKind::kDevFlush || kind == EventKind::kDevIrq || kind == EventKind::kDevFrame ||
      kind == EventKind::kDevMsi || kind == EventKind::kDevIntx || e.addr == kAddrRing;
  const bool recording_event = kind == EventKind::kCall || e.addr == kAddrDma;
  if (capture_event || recording_event) {
    const TraceKind k = capture_event ? TraceKind::kCapture : TraceKind::kRecording;
    if (t.kind_line == 0) {
      t.kind = k;
      t.kind_line = number;
    } else if (t.kind != k) {
      l.fail(std::string("a ") + (capture_event ? "capture" : "recording") +
             " event in a trace whose line " + std::to_string(t.kind_line) + " made it a " +
             (capture_event ? "recording" : "capture") +
             " (call lines and DMA-named addresses belong to recordings; mark, dev_* and "
             "ring-named addresses to captures)");
    }
  }
  t.logical_events += event_times(e);
  t.events.push_back(e);
  t.event_line.push_back(static_cast<uint32_t>(number));
}

// ---- the fast path ----
//
// Most lines of a large trace are flat objects of a few unsigned numbers
// and plain strings ({"ev":"reg_read","region":"bar4","off":4096,"w":1,
// "val":0}). The fast path scans such a line without building a JSON value
// and fills the Event directly. It takes a line only when every check of
// parse_event() passes for it; anything else (nesting, escapes, white
// space, signs, fractions, non-ASCII, a missing or out-of-range field, an
// unknown name, an event kind it does not handle, a trace-kind conflict)
// makes it decline, and the line goes through nlohmann and parse_event(),
// which gives the same event or the precise error. tests/replay/
// trace_load_test.cc (FastPathAgrees) loads every committed trace both ways.

struct FlatField {
  // kArray: s is the array's text, brackets included (its elements are
  // read by for_each_element()).
  enum Type : uint8_t { kUint, kStr, kTrue, kFalse, kNull, kArray } type;
  std::string_view key;
  uint64_t u;
  std::string_view s;
};

constexpr int kMaxFlatFields = 12;

// Scans {"k":v,...} with v an unsigned integer, a plain string, true,
// false or null; false on anything else.
bool scan_flat(std::string_view line, FlatField* f, int* count) {
  const char* p = line.data();
  const char* const end = p + line.size();
  if (line.size() < 2 || *p != '{' || end[-1] != '}') return false;
  ++p;
  int n = 0;
  auto plain_string = [&](std::string_view* out) -> bool {
    if (p >= end || *p != '"') return false;
    const char* start = ++p;
    while (p < end && *p != '"') {
      const unsigned char c = static_cast<unsigned char>(*p);
      if (c == '\\' || c < 0x20 || c >= 0x7F) return false;
      ++p;
    }
    if (p >= end) return false;
    *out = std::string_view(start, static_cast<size_t>(p - start));
    ++p;
    return true;
  };
  for (;;) {
    if (n == kMaxFlatFields) return false;
    FlatField& x = f[n];
    if (!plain_string(&x.key) || p >= end || *p != ':') return false;
    ++p;
    if (p >= end) return false;
    const char c = *p;
    if (c >= '0' && c <= '9') {
      if (c == '0' && p + 1 < end && p[1] >= '0' && p[1] <= '9') return false;  // leading zero
      uint64_t v = 0;
      while (p < end && *p >= '0' && *p <= '9') {
        const uint64_t d = static_cast<uint64_t>(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
        ++p;
      }
      x.type = FlatField::kUint;
      x.u = v;
    } else if (c == '"') {
      if (!plain_string(&x.s)) return false;
      x.type = FlatField::kStr;
    } else if (c == '[') {
      // Up to its matching bracket: strings without escapes, at most two
      // levels of nesting inside.
      const char* start = p;
      int depth = 0;
      do {
        const char d = *p;
        if (d == '"') {
          std::string_view ignored;
          if (!plain_string(&ignored)) return false;
          continue;
        }
        if (d == '[' || d == '{') {
          if (++depth > 3) return false;
        } else if (d == ']' || d == '}') {
          --depth;
        }
        ++p;
      } while (p < end && depth > 0);
      if (depth != 0) return false;
      x.type = FlatField::kArray;
      x.s = std::string_view(start, static_cast<size_t>(p - start));
    } else if (end - p >= 4 && std::string_view(p, 4) == "true") {
      x.type = FlatField::kTrue;
      p += 4;
    } else if (end - p >= 5 && std::string_view(p, 5) == "false") {
      x.type = FlatField::kFalse;
      p += 5;
    } else if (end - p >= 4 && std::string_view(p, 4) == "null") {
      x.type = FlatField::kNull;
      p += 4;
    } else {
      return false;
    }
    for (int i = 0; i < n; ++i)
      if (f[i].key == x.key) return false;  // a duplicate key: nlohmann decides
    ++n;
    if (p >= end) return false;
    if (*p == '}') {
      if (p + 1 != end) return false;
      *count = n;
      return true;
    }
    if (*p != ',') return false;
    ++p;
  }
}

class FlatLine {
 public:
  FlatLine(const FlatField* f, int n) : f_(f), n_(n) {}
  const FlatField* get(std::string_view key) const {
    for (int i = 0; i < n_; ++i)
      if (f_[i].key == key) return &f_[i];
    return nullptr;
  }
  bool uint(std::string_view key, uint64_t max, uint64_t* out) const {
    const FlatField* x = get(key);
    if (x == nullptr || x->type != FlatField::kUint || x->u > max) return false;
    *out = x->u;
    return true;
  }
  template <typename T>
  bool u(std::string_view key, uint64_t max, T* out) const {
    uint64_t v;
    if (!uint(key, max, &v)) return false;
    *out = static_cast<T>(v);
    return true;
  }
  bool boolean(std::string_view key, bool* out) const {
    const FlatField* x = get(key);
    if (x == nullptr || (x->type != FlatField::kTrue && x->type != FlatField::kFalse)) return false;
    *out = x->type == FlatField::kTrue;
    return true;
  }
  bool str(std::string_view key, std::string_view* out) const {
    const FlatField* x = get(key);
    if (x == nullptr || x->type != FlatField::kStr) return false;
    *out = x->s;
    return true;
  }
  template <typename T>
  bool name(std::string_view key, bool (*parse)(const char*, size_t, T*), uint8_t* out) const {
    std::string_view s;
    T v;
    if (!str(key, &s) || !parse(s.data(), s.size(), &v)) return false;
    *out = static_cast<uint8_t>(v);
    return true;
  }
  bool is_null(std::string_view key) const {
    const FlatField* x = get(key);
    return x != nullptr && x->type == FlatField::kNull;
  }
  // Hex bytes into the arena; the arena is left as it was on failure.
  bool hex(std::string_view key, std::vector<uint8_t>& arena, Bytes* out) const {
    std::string_view s;
    return str(key, &s) && decode_hex(s, arena, out);
  }
  static bool decode_hex(std::string_view s, std::vector<uint8_t>& arena, Bytes* out) {
    if (s.size() % 2 != 0 || arena.size() + s.size() / 2 > kMaxArenaBytes) return false;
    const size_t at = arena.size();
    arena.resize(at + s.size() / 2);
    uint8_t* o = arena.data() + at;
    for (size_t i = 0; i < s.size() / 2; ++i) {
      const int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
      if ((hi | lo) < 0) {
        arena.resize(at);
        return false;
      }
      o[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    *out = Bytes{static_cast<uint32_t>(at), static_cast<uint32_t>(s.size() / 2)};
    return true;
  }

 private:
  static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  const FlatField* f_;
  int n_;
};

// Calls f(element text) for each element of an array of plain strings
// (quotes included) or of flat objects; false when an element is neither
// or f says so.
template <typename F>
bool for_each_element(std::string_view arr, F&& f) {
  if (arr.size() < 2 || arr.front() != '[' || arr.back() != ']') return false;
  size_t i = 1;
  if (arr.size() == 2) return true;
  for (;;) {
    const size_t start = i;
    if (arr[i] == '"') {
      const size_t close = arr.find('"', i + 1);
      if (close == std::string_view::npos) return false;
      i = close + 1;
    } else if (arr[i] == '{') {
      bool in_string = false;
      while (i < arr.size() && (in_string || arr[i] != '}')) {
        if (arr[i] == '"') in_string = !in_string;
        if (!in_string && (arr[i] == '[' || (arr[i] == '{' && i != start))) return false;
        ++i;
      }
      if (i >= arr.size()) return false;
      ++i;
    } else {
      return false;
    }
    if (!f(arr.substr(start, i - start))) return false;
    if (i >= arr.size()) return false;
    if (arr[i] == ']') return i + 1 == arr.size();
    if (arr[i] != ',') return false;
    ++i;
    if (i >= arr.size()) return false;
  }
}

bool hex64_of(std::string_view s, uint64_t* out) {
  if (s.size() < 3 || s.size() > 18 || s[0] != '0' || s[1] != 'x') return false;
  uint64_t v = 0;
  for (size_t i = 2; i < s.size(); ++i) {
    const char c = s[i];
    const int d = c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : -1;
    if (d < 0) return false;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  *out = v;
  return true;
}

// The event of one flat line, or false (the slow path takes the line).
bool fast_event(Trace& t, std::string_view line, size_t number) {
  FlatField fields[kMaxFlatFields];
  int n = 0;
  if (!scan_flat(line, fields, &n)) return false;
  const FlatLine l(fields, n);
  std::string_view ev;
  if (!l.str("ev", &ev)) return false;
  EventKind kind;
  if (!trace::parse_event(ev.data(), ev.size(), &kind)) return false;
  Event e{};
  e.kind = kind;
  const size_t arena = t.bytes.size();
  bool ok = false;
  switch (kind) {
    case EventKind::kRegRead:
    case EventKind::kRegWrite:
      ok = l.name<Region>("region", trace::parse_region, &e.r8) &&
           l.u("off", 0xFFFF'FFFFu, &e.u32) && l.u("w", 4, &e.w8) &&
           (e.w8 == 1 || e.w8 == 2 || e.w8 == 4) && l.uint("val", 0xFFFF'FFFFu, &e.u64);
      if (ok && l.get("rep") != nullptr) {
        uint64_t rep = 0;
        ok = t.header.version >= trace::kFormatVersionRepeats &&
             l.uint("rep", 0xFFFF'FFFFu, &rep) && rep != 0;
        e.aux = rep - 1;
      }
      break;
    case EventKind::kFetch:
      ok = l.u("q", 0xFFFF, &e.a16) && l.name<MemPart>("part", trace::parse_mem_part, &e.r8) &&
           l.u("idx", 0xFFFF, &e.b16) && l.hex("data", t.bytes, &e.data);
      if (ok && l.get("recheck") != nullptr) {
        bool b = false;
        ok = l.boolean("recheck", &b);
        e.c8 = b;
      }
      break;
    case EventKind::kFrame:
      ok = l.u("q", 0xFFFF, &e.a16) && l.u("desc", 0xFFFF, &e.b16) &&
           l.hex("data", t.bytes, &e.data);
      break;
    case EventKind::kComplete:
      ok = l.u("q", 0xFFFF, &e.a16) && l.u("head", 0xFFFF, &e.b16) &&
           l.u("len", 0xFFFF'FFFFu, &e.u32);
      break;
    case EventKind::kBarrier:
      ok = l.name<Barrier>("kind", trace::parse_barrier, &e.r8);
      break;
    case EventKind::kWaitIrq: {
      bool b = false;
      ok = l.uint("timeout", UINT64_MAX, &e.u64) && l.boolean("ret", &b);
      e.b8 = b;
      break;
    }
    case EventKind::kNow:
      ok = l.uint("val", UINT64_MAX, &e.u64);
      break;
    case EventKind::kOpBegin:
    case EventKind::kOpEnd:
      ok = l.name<DriverOp>("op", trace::parse_driver_op, &e.r8);
      break;
    case EventKind::kPoolAlloc: {
      bool b = false;
      ok = l.boolean("ok", &b);
      e.b8 = b;
      e.u32 = kNoId;
      if (ok && b) ok = l.is_null("buf") || l.u("buf", kNoId - 1, &e.u32);
      break;
    }
    case EventKind::kPoolFree:
    case EventKind::kDmaFree:
      e.u32 = kNoId;
      ok = l.is_null(kind == EventKind::kPoolFree ? "buf" : "id") ||
           l.u(kind == EventKind::kPoolFree ? "buf" : "id", kNoId - 1, &e.u32);
      break;
    case EventKind::kDevPop:
      ok = l.u("q", 0xFFFF, &e.a16) && l.u("avail", 0xFFFF, &e.b16) && l.u("in", 0xFFFF, &e.u32) &&
           l.uint("out", 0xFFFF, &e.aux) && e.u32 + e.aux != 0;
      break;
    case EventKind::kDevFill:
      ok = l.u("q", 0xFFFF, &e.a16) && l.u("avail", 0xFFFF, &e.b16) &&
           l.u("len", 0xFFFF'FFFFu, &e.u32);
      break;
    case EventKind::kDevFlush:
      ok = l.u("q", 0xFFFF, &e.a16) && l.u("count", 0xFFFF, &e.u32) &&
           l.u("used_idx", 0xFFFF, &e.b16);
      break;
    case EventKind::kDevIrq:
      if (l.is_null("q")) {
        ok = true;
      } else {
        ok = l.u("q", 0xFFFF, &e.a16);
        e.b8 = 1;
      }
      break;
    case EventKind::kDevFrame: {
      std::string_view dir;
      ok = l.u("q", 0xFFFF, &e.a16) && l.str("dir", &dir) && (dir == "rx" || dir == "tx") &&
           l.u("avail", 0xFFFF, &e.b16) && l.hex("data", t.bytes, &e.data) && e.data.len != 0;
      e.r8 = static_cast<uint8_t>(dir == "rx" ? FrameDir::kRx : FrameDir::kTx);
      if (ok && dir == "rx")
        ok = l.u("bufs", 0xFFFF, &e.u32) && e.u32 != 0 && l.uint("len", 0xFFFF'FFFFu, &e.u64) &&
             e.u64 >= e.data.len;
      break;
    }
    case EventKind::kEnd:
      ok = l.uint("events", UINT64_MAX, &e.u64) && e.u64 == t.events.size();
      break;
    case EventKind::kLineInterrupt: {
      bool b = false;
      ok = l.boolean("ret", &b);
      e.b8 = b;
      break;
    }
    case EventKind::kArmInterrupts:
      ok = l.name<InterruptMode>("mode", trace::parse_interrupt_mode, &e.r8) &&
           l.u("vectors", 0xFFFF, &e.a16);
      break;
    case EventKind::kDevMsi:
      ok = l.u("entry", 2047, &e.a16);
      break;
    case EventKind::kDevIntx:
      ok = l.u("level", 1, &e.b8);
      break;
    case EventKind::kPublish: {
      const FlatField* segs = l.get("segs");
      // Indirect chains (nested "table"): the slow path.
      if (l.get("indirect") != nullptr || l.get("table") != nullptr) break;
      ok = l.u("q", 0xFFFF, &e.a16) && l.u("avail", 0xFFFF, &e.b16) &&
           l.u("head", 0xFFFF, &e.u32) && segs != nullptr && segs->type == FlatField::kArray;
      if (!ok) break;
      const size_t first = t.segments.size();
      size_t count = 0;
      ok = for_each_element(
               segs->s,
               [&](std::string_view el) {
                 if (el.front() != '{' || ++count > kMaxChainSegments) return false;
                 FlatField sf[kMaxFlatFields];
                 int sn = 0;
                 if (!scan_flat(el, sf, &sn)) return false;
                 const FlatLine sl(sf, sn);
                 Segment seg{};
                 bool wr = false;
                 if (!sl.u("desc", 0xFFFF, &seg.desc) || !sl.u("len", 0xFFFF'FFFFu, &seg.len) ||
                     !sl.boolean("wr", &wr))
                   return false;
                 seg.writable = wr;
                 if (!wr && (!sl.hex("data", t.bytes, &seg.data) || seg.data.len != seg.len))
                   return false;
                 t.segments.push_back(seg);
                 return true;
               }) &&
           count > 0;
      if (!ok) {
        t.segments.resize(first);
        break;
      }
      e.aux = first;
      e.w8 = static_cast<uint8_t>(count);
      break;
    }
    case EventKind::kCall: {
      uint8_t fn = 0;
      if (!l.name<ApiFn>("fn", trace::parse_api_fn, &fn)) break;
      CallArgs c;
      c.fn = static_cast<ApiFn>(fn);
      switch (c.fn) {
        case ApiFn::kProbe: {
          uint8_t mode = 0;
          ok = l.name<PciMode>("mode", trace::parse_pci_mode, &mode);
          c.mode = static_cast<PciMode>(mode);
          break;
        }
        case ApiFn::kAttach:     // nested options: the slow path
        case ApiFn::kProbeMmio:  // rare: the slow path
          break;
        case ApiFn::kRxBurst:
          if (l.get("pair") != nullptr) break;  // multiqueue: the slow path
          ok = l.u("max", 0xFFFF, &c.max);
          break;
        case ApiFn::kSetRxMode:  // control commands: the slow path
        case ApiFn::kSetMacFilter:
        case ApiFn::kSetMacAddress:
        case ApiFn::kAddVlan:
        case ApiFn::kRemoveVlan:
        case ApiFn::kSetQueuePairs:
        case ApiFn::kSetRss:
        case ApiFn::kSetGuestOffloads:
          break;
        case ApiFn::kTxBurst: {
          const FlatField* f = l.get("frames");
          if (l.get("frags") != nullptr) break;    // scatter-gather: the slow path
          if (l.get("offload") != nullptr) break;  // offload requests: the slow path
          if (l.get("pair") != nullptr) break;     // multiqueue: the slow path
          ok = f != nullptr && f->type == FlatField::kArray &&
               for_each_element(f->s, [&](std::string_view el) {
                 Bytes b;
                 if (el.front() != '"' || c.frames.size() >= 0xFFFF ||
                     !FlatLine::decode_hex(el.substr(1, el.size() - 2), t.bytes, &b))
                   return false;
                 c.frames.push_back(b);
                 return true;
               });
          break;
        }
        case ApiFn::kSetRxInterrupts:
        case ApiFn::kSetTxInterrupts: {
          bool on = false;
          if (l.get("pair") != nullptr) break;  // multiqueue: the slow path
          ok = l.boolean("enabled", &on);
          c.enabled = on;
          break;
        }
        case ApiFn::kHandleInterrupt: {
          std::string_view src;
          uint16_t v = 0;
          if (!l.str("src", &src)) break;
          if (src == "vector" && l.u("vector", 0xFFFF, &v)) {
            c.irq = IrqSource::msi(v);
            ok = true;
          } else if (src == "line") {
            c.irq = IrqSource::line();
            ok = true;
          }
          break;
        }
        case ApiFn::kTxReclaim:
          ok = l.get("pair") == nullptr;  // multiqueue: the slow path
          break;
        case ApiFn::kPollDevice:
        case ApiFn::kRecover:
        case ApiFn::kStop:
          ok = true;
          break;
      }
      if (ok) {
        e.r8 = fn;
        e.u32 = static_cast<uint32_t>(t.calls.size());
        t.calls.push_back(std::move(c));
      }
      break;
    }
    case EventKind::kRet: {
      uint8_t fn = 0, state = 0;
      RetValues r;
      if (!l.name<ApiFn>("fn", trace::parse_api_fn, &fn) || !l.u("val", 0xFFFF'FFFFu, &r.value) ||
          !l.name<NetState>("state", trace::parse_net_state, &state))
        break;
      r.fn = static_cast<ApiFn>(fn);
      r.state = static_cast<NetState>(state);
      switch (r.fn) {
        case ApiFn::kProbe:
        case ApiFn::kProbeMmio: {
          std::string_view tr;
          if (l.is_null("transport")) {
            ok = true;
          } else if (l.str("transport", &tr)) {
            r.transport = std::string(tr);
            r.has_transport = true;
            ok = true;
          }
          break;
        }
        case ApiFn::kAttach:
        case ApiFn::kRecover: {
          std::string_view features, mac;
          bool link = false;
          ok = l.str("features", &features) && hex64_of(features, &r.features) &&
               l.u("hdr", 64, &r.hdr_size) && l.u("mtu", 0xFFFF, &r.mtu) && l.str("mac", &mac) &&
               mac.size() == 12 && l.boolean("link", &link);
          for (size_t i = 0; ok && i < 6; ++i) {
            uint64_t b = 0;
            ok = hex64_of(std::string("0x") + std::string(mac.substr(2 * i, 2)), &b);
            r.mac[i] = static_cast<uint8_t>(b);
          }
          r.has_negotiated = true;
          r.has_link = true;
          r.link_up = link;
          break;
        }
        case ApiFn::kPollDevice:  // nested events: the slow path
          break;
        case ApiFn::kHandleInterrupt: {
          bool rx = false, tx = false, control = false;
          ok = l.boolean("rx", &rx) && l.boolean("tx", &tx) && l.boolean("control", &control) &&
               r.value == ((rx ? trace::kIrqWorkRx : 0) | (tx ? trace::kIrqWorkTx : 0) |
                           (control ? trace::kIrqWorkControl : 0));
          break;
        }
        case ApiFn::kRxBurst:
          ok = l.get("delivered") == nullptr;  // chains, offload results: the slow path
          break;
        case ApiFn::kTxBurst:
        case ApiFn::kTxReclaim:
        case ApiFn::kStop:
        case ApiFn::kSetRxInterrupts:
        case ApiFn::kSetTxInterrupts:
          ok = true;
          break;
        case ApiFn::kSetRxMode:  // control results: the slow path checks "result"
        case ApiFn::kSetMacFilter:
        case ApiFn::kSetMacAddress:
        case ApiFn::kAddVlan:
        case ApiFn::kRemoveVlan:
        case ApiFn::kSetQueuePairs:
        case ApiFn::kSetRss:
        case ApiFn::kSetGuestOffloads:
          break;
      }
      if (ok) {
        e.r8 = fn;
        e.u32 = static_cast<uint32_t>(t.rets.size());
        t.rets.push_back(std::move(r));
      }
      break;
    }
    default:  // dma_alloc, bar_info, log, mark, msi_messages: the slow path
      break;
  }
  const bool capture_event = kind == EventKind::kDevPop || kind == EventKind::kDevFill ||
                             kind == EventKind::kDevFlush || kind == EventKind::kDevIrq ||
                             kind == EventKind::kDevFrame || kind == EventKind::kDevMsi ||
                             kind == EventKind::kDevIntx;
  const bool recording_event = kind == EventKind::kCall;
  if (ok && (capture_event || recording_event) && t.kind_line != 0 &&
      t.kind != (capture_event ? TraceKind::kCapture : TraceKind::kRecording)) {
    ok = false;  // the slow path says what is wrong
    if (kind == EventKind::kCall) t.calls.pop_back();
  }
  if (!ok) {
    t.bytes.resize(arena);
    return false;
  }
  if ((capture_event || recording_event) && t.kind_line == 0) {
    t.kind = capture_event ? TraceKind::kCapture : TraceKind::kRecording;
    t.kind_line = number;
  }
  t.logical_events += event_times(e);
  t.events.push_back(e);
  t.event_line.push_back(static_cast<uint32_t>(number));
  return true;
}

}  // namespace

MsiMessage msi_message(const Trace& t, const Event& e, uint16_t i) {
  const uint8_t* p = t.data(e.data) + size_t{i} * kMsiMessageBytes;
  MsiMessage m;
  for (int k = 0; k < 8; ++k) m.address |= uint64_t{p[k]} << (8 * k);
  for (int k = 0; k < 4; ++k) m.data |= uint32_t{p[8 + k]} << (8 * k);
  return m;
}

const char* ring_part_name(RingPart p) {
  switch (p) {
    case RingPart::kDesc:
      return "desc";
    case RingPart::kDriver:
      return "driver";
    case RingPart::kDevice:
      return "device";
    case RingPart::kPfn:
      return "pfn";
  }
  return "?";
}

std::string_view Trace::line(size_t number) const {
  if (number == 0 || number > line_offset.size()) return {};
  const size_t start = line_offset[number - 1];
  if (text.empty() && !source_path.empty()) {
    // Read back from the file: up to the next line's start (or 64 KiB).
    const uint64_t stop = number < line_offset.size() ? line_offset[number] : start + (1u << 16);
    line_buffer.assign(static_cast<size_t>(stop - start), '\0');
    std::ifstream in(source_path, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(start));
    in.read(line_buffer.data(), static_cast<std::streamsize>(line_buffer.size()));
    line_buffer.resize(static_cast<size_t>(in.gcount()));
    const size_t nl = line_buffer.find('\n');
    if (nl != std::string::npos) line_buffer.resize(nl);
    return line_buffer;
  }
  size_t end = text.find('\n', start);
  if (end == std::string::npos) end = text.size();
  return std::string_view(text).substr(start, end - start);
}

namespace {

// Line by line, into a Trace: the loop shared by loads from a string and
// streamed loads from a file.
class Loader {
 public:
  Loader(Trace& t, const LoadOptions& o) : t_(t), o_(o) {}

  void reserve(size_t lines) {
    // One line per event: the arrays are sized once, with no slack.
    t_.events.reserve(lines);
    t_.event_line.reserve(lines);
    t_.line_offset.reserve(lines + 1);
  }

  // One line (without its newline) that starts at offset in the input.
  void line(std::string_view line, uint64_t offset, bool last_without_newline) {
    const size_t number = ++number_;
    t_.line_offset.push_back(offset);
    if (line.empty()) throw TraceError(number, "line " + std::to_string(number) + ": empty line");
    if (ended_)
      throw TraceError(number, "line " + std::to_string(number) + ": text after the \"end\" event");
    if (number > 1 && o_.fast_path && fast_event(t_, line, number)) {
      if (t_.events.back().kind == EventKind::kEnd) ended_ = true;
      return;
    }
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) {
      const char* why = last_without_newline ? "truncated line (invalid JSON, no newline at end)"
                                             : "invalid JSON";
      // Say where nlohmann gives up, for the reader.
      std::string detail;
      try {
        (void)json::parse(line);
      } catch (const json::exception& e) {  // parse_error, or out_of_range (1e999)
        detail = std::string(": ") + e.what();
      }
      throw TraceError(number, "line " + std::to_string(number) + ": " + why + detail);
    }
    if (number == 1) {
      parse_header(t_, j, number);
      return;
    }
    parse_event(t_, j, number);
    if (t_.events.back().kind == EventKind::kEnd) ended_ = true;
  }

  void finish(uint64_t bytes) {
    if (number_ == 0) throw TraceError(0, "empty file: no header, no events");
    if (!ended_)
      throw TraceError(number_, "line " + std::to_string(number_) +
                                    ": the trace ends without an \"end\" event (truncated?)");
    t_.source_bytes = bytes;
  }

 private:
  Trace& t_;
  const LoadOptions& o_;
  size_t number_ = 0;
  bool ended_ = false;
};

size_t count_lines(const char* p, size_t n) {
  size_t lines = 0;
  const char* const end = p + n;
  while ((p = static_cast<const char*>(memchr(p, '\n', static_cast<size_t>(end - p)))) != nullptr) {
    ++lines;
    ++p;
  }
  return lines;
}

}  // namespace

Trace load_trace(std::string text, std::string name, const LoadOptions& options) {
  Trace t;
  t.name = std::move(name);
  t.text = std::move(text);
  const std::string& s = t.text;
  Loader loader(t, options);
  loader.reserve(count_lines(s.data(), s.size()));
  size_t pos = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    const bool last_without_newline = nl == std::string::npos;
    if (last_without_newline) nl = s.size();
    loader.line(std::string_view(s.data() + pos, nl - pos), pos, last_without_newline);
    pos = nl + 1;
  }
  loader.finish(s.size());
  if (!options.keep_text) {
    t.text.clear();
    t.text.shrink_to_fit();
    t.bytes.shrink_to_fit();
  }
  return t;
}

Trace load_trace_file(const std::string& path, const LoadOptions& options) {
  if (!options.keep_text) {
    // Streamed: the file is read in blocks and never held whole, so that
    // loading a trace of millions of events costs its events only. A
    // first pass counts the lines (the arrays are sized once).
    FILE* f = fopen(path.c_str(), "rb");
    if (f == nullptr) throw TraceError(0, "cannot open the file");
    struct Closer {
      FILE* f;
      ~Closer() { fclose(f); }
    } closer{f};
    constexpr size_t kBlock = 1u << 20;
    std::vector<char> block(kBlock);
    size_t lines = 0, n;
    while ((n = fread(block.data(), 1, kBlock, f)) > 0) lines += count_lines(block.data(), n);
    if (ferror(f) || fseek(f, 0, SEEK_SET) != 0) throw TraceError(0, "cannot read the file");
    Trace t;
    t.name = path;
    t.source_path = path;
    Loader loader(t, options);
    loader.reserve(lines);
    std::string carry;    // a line cut by the end of a block
    uint64_t offset = 0;  // file offset of block[0]
    while ((n = fread(block.data(), 1, kBlock, f)) > 0) {
      size_t pos = 0;
      while (pos < n) {
        const char* nl = static_cast<const char*>(memchr(block.data() + pos, '\n', n - pos));
        if (nl == nullptr) {
          carry.append(block.data() + pos, n - pos);
          break;
        }
        const size_t end = static_cast<size_t>(nl - block.data());
        if (!carry.empty()) {
          carry.append(block.data() + pos, end - pos);
          loader.line(carry, offset + pos - (carry.size() - (end - pos)), false);
          carry.clear();
        } else {
          loader.line(std::string_view(block.data() + pos, end - pos), offset + pos, false);
        }
        pos = end + 1;
      }
      offset += n;
    }
    if (ferror(f)) throw TraceError(0, "cannot read the file");
    if (!carry.empty()) loader.line(carry, offset - carry.size(), true);
    loader.finish(offset);
    t.bytes.shrink_to_fit();
    return t;
  }
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw TraceError(0, "cannot open the file");
  // Read in one piece into a string of the file's size (no second copy);
  // a file whose size is not known (a pipe) is read as a stream.
  std::string text;
  const std::streamoff size = in.tellg();
  if (size > 0) {
    text.resize(static_cast<size_t>(size));
    in.seekg(0);
    in.read(text.data(), size);
    if (in.gcount() != size) throw TraceError(0, "cannot read the file");
  } else {
    in.clear();
    in.seekg(0);
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw TraceError(0, "cannot read the file");
    text = std::move(ss).str();
  }
  Trace t = load_trace(std::move(text), path, options);
  t.source_path = path;
  return t;
}

}  // namespace vnet::replay
