#include "tools/trace2json/cross_check.h"

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "tools/trace2json/net_header.h"

namespace trace2json {
namespace {

struct Access {
  size_t line;
  std::string text;  // the trace line
  bool write;
  std::string region;
  uint64_t off, width;
  bool is_addr;
  std::string as;
  uint64_t val;
};

struct Frame {
  size_t line;
  std::string hex;
  // The guest recording's net header of the frame (tx: in front of the
  // published frame; rx: the rx_header fetch before it), in words.
  bool has_header = false;
  NetHeader header;
  uint32_t buffers = 1;  // rx: the frame's buffers (a receive chain: more)
};

struct View {
  std::vector<Access> regs;
  std::vector<Frame> rx, tx;
};

bool load(const std::string& path, bool converted, View* v, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = path + ": cannot read";
    return false;
  }
  std::string text;
  size_t line_no = 0;
  bool started = !converted;
  uint64_t hdr = 12;
  // rx (recording): the last rx_header fetched, and the buffers of its
  // frame still to come (a receive chain's continuations, offset 0).
  bool rx_pending = false;
  NetHeader rx_header;
  uint32_t chain_left = 0;
  while (std::getline(in, text)) {
    ++line_no;
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      *error = path + ":" + std::to_string(line_no) + ": not JSON";
      return false;
    }
    if (line_no == 1) {
      if (j.value("format", "") != "vnetkit-trace") {
        *error = path + ": not a vnetkit trace";
        return false;
      }
      continue;
    }
    const std::string ev = j.value("ev", "");
    if (converted && ev == "mark" && j.value("what", "") == "driver_start") started = true;
    if (!started) continue;
    if (ev == "reg_read" || ev == "reg_write") {
      Access a{line_no,
               text,
               ev == "reg_write",
               j.value("region", ""),
               j.value("off", 0ull),
               j.value("w", 0ull),
               false,
               "",
               0};
      const auto& val = j["val"];
      if (val.is_object()) {
        a.is_addr = true;
        a.as = val.value("as", "");
      } else {
        a.val = val.get<uint64_t>();
      }
      // A repeated access (format version 2) is that many accesses.
      uint64_t rep = 1;
      if (j.contains("rep") && j["rep"].is_number_unsigned()) rep = j["rep"].get<uint64_t>();
      if (rep > (1u << 24)) {
        *error = path + ":" + std::to_string(line_no) + ": \"rep\" too large to compare";
        return false;
      }
      for (uint64_t k = 1; k < rep; ++k) v->regs.push_back(a);
      v->regs.push_back(std::move(a));
    } else if (!converted && ev == "ret" &&
               (j.value("fn", "") == "attach" || j.value("fn", "") == "recover")) {
      hdr = j.value("hdr", hdr);
    } else if (converted && ev == "dev_frame") {
      (j.value("dir", "") == "rx" ? v->rx : v->tx)
          .push_back(Frame{line_no, j.value("data", ""), false, {}, 1});
    } else if (!converted && ev == "fetch" && j.value("part", "") == "rx_header") {
      rx_pending = decode_net_header_hex(j.value("data", ""), hdr, &rx_header);
      chain_left = 0;
    } else if (!converted && ev == "frame") {
      if (chain_left > 0 && !v->rx.empty()) {
        // A further buffer of a receive chain: the frame goes on.
        --chain_left;
        v->rx.back().hex += j.value("data", "");
        ++v->rx.back().buffers;
        continue;
      }
      Frame f{line_no, j.value("data", ""), false, {}, 1};
      if (rx_pending) {
        f.has_header = true;
        f.header = rx_header;
        if (rx_header.has_num_buffers && rx_header.num_buffers > 1)
          chain_left = rx_header.num_buffers - 1u;
      }
      rx_pending = false;
      v->rx.push_back(std::move(f));
    } else if (!converted && ev == "publish" && j.value("q", 0ull) % 2 == 1) {
      std::string bytes;
      bool writable = false;
      for (const auto& seg : j["segs"]) {
        if (seg.value("wr", false)) writable = true;
        bytes += seg.value("data", "");
      }
      if (!writable && bytes.size() >= 2 * hdr) {
        Frame f{line_no, bytes.substr(2 * hdr), false, {}, 1};
        f.has_header = decode_net_header_hex(bytes, hdr, &f.header);
        v->tx.push_back(std::move(f));
      }
    }
  }
  return true;
}

bool same(const Access& a, const Access& b) {
  if (a.write != b.write || a.region != b.region || a.off != b.off || a.width != b.width)
    return false;
  if (a.is_addr || b.is_addr) return a.is_addr && b.is_addr && a.as == b.as;
  return a.val == b.val;
}

}  // namespace

bool cross_check(const std::string& converted_path, const std::string& guest_path,
                 CrossCheckResult* r) {
  View c, g;
  if (!load(converted_path, true, &c, &r->error) || !load(guest_path, false, &g, &r->error))
    return false;
  r->agree = true;
  std::string& out = r->report;
  // Registers: every access of the guest recording, in order.
  size_t n = std::min(c.regs.size(), g.regs.size());
  size_t i = 0;
  while (i < n && same(c.regs[i], g.regs[i])) ++i;
  r->registers = i;
  if (i == g.regs.size() && i == c.regs.size()) {
    out += "registers: " + std::to_string(i) + " accesses agree\n";
  } else {
    r->agree = false;
    out += "registers: first difference at access " + std::to_string(i + 1) + " (" +
           std::to_string(c.regs.size()) + " in the capture, " + std::to_string(g.regs.size()) +
           " in the recording)\n";
    if (i < c.regs.size())
      out += "  capture   line " + std::to_string(c.regs[i].line) + ": " + c.regs[i].text + "\n";
    if (i < g.regs.size())
      out += "  recording line " + std::to_string(g.regs[i].line) + ": " + g.regs[i].text + "\n";
  }
  // What the recording's headers asked (tx) or reported (rx), in words.
  auto offloads = [&](const std::vector<Frame>& gf, uint64_t* headers, uint64_t* chains) {
    uint64_t csum = 0, valid = 0, gso = 0, ecn = 0;
    std::map<std::string, uint64_t> types;
    for (const Frame& f : gf) {
      *chains += f.buffers > 1;
      if (!f.has_header || !f.header.offload()) continue;
      ++*headers;
      const NetHeader& h = f.header;
      csum += (h.flags & 1) != 0;
      valid += (h.flags & 2) != 0;
      ecn += (h.gso_type & 0x80) != 0;
      if ((h.gso_type & 0x7F) != 0) {
        ++gso;
        ++types[gso_type_name(static_cast<uint8_t>(h.gso_type & 0x7F))];
      }
    }
    if (*headers == 0 && *chains == 0) return;
    out += "  offload headers in the recording: " + std::to_string(*headers) + " of " +
           std::to_string(gf.size()) + " frames (NEEDS_CSUM " + std::to_string(csum) +
           ", DATA_VALID " + std::to_string(valid) + ", GSO " + std::to_string(gso);
    for (const auto& [name, count] : types) out += " " + name + " " + std::to_string(count);
    out += ", ECN " + std::to_string(ecn) +
           "); frames of several buffers: " + std::to_string(*chains) + "\n";
  };
  auto frames = [&](const char* what, const std::vector<Frame>& cf, const std::vector<Frame>& gf,
                    uint64_t* agreed, uint64_t* headers, uint64_t* chains) {
    size_t m = std::min(cf.size(), gf.size());
    size_t k = 0;
    while (k < m && cf[k].hex == gf[k].hex) ++k;
    *agreed = k;
    if (k == cf.size() && k == gf.size()) {
      out += std::string(what) + ": " + std::to_string(k) + " frames agree byte for byte\n";
      offloads(gf, headers, chains);
      return;
    }
    r->agree = false;
    out += std::string(what) + ": first difference at frame " + std::to_string(k + 1) + " (" +
           std::to_string(cf.size()) + " in the capture, " + std::to_string(gf.size()) +
           " in the recording)\n";
    if (k < cf.size()) out += "  capture   line " + std::to_string(cf[k].line) + "\n";
    if (k < gf.size()) {
      out += "  recording line " + std::to_string(gf[k].line);
      if (gf[k].buffers > 1) out += " (" + std::to_string(gf[k].buffers) + " buffers)";
      if (gf[k].has_header) out += ", header " + describe_net_header(gf[k].header);
      out += "\n";
    }
    offloads(gf, headers, chains);
  };
  frames("rx frames", c.rx, g.rx, &r->rx_frames, &r->rx_offload_headers, &r->rx_chains);
  frames("tx frames", c.tx, g.tx, &r->tx_frames, &r->tx_offload_headers, &r->tx_chains);
  out += r->agree ? "cross-check: AGREE\n" : "cross-check: DIFFER\n";
  return true;
}

}  // namespace trace2json
