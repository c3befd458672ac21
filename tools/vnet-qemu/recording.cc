#include "tools/vnet-qemu/recording.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace vnetqemu {
namespace {

constexpr char kEndPrefix[] = "{\"ev\":\"end\"";

bool read_file(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  *out = s.str();
  return true;
}

// The last complete line of text ("" when there is none).
std::string last_line(const std::string& text) {
  if (text.empty() || text.back() != '\n') return "";
  size_t start = text.rfind('\n', text.size() - 2);
  start = start == std::string::npos ? 0 : start + 1;
  return text.substr(start, text.size() - 1 - start);
}

bool fail_with(const std::string& stream_path, const std::string& out_path, const std::string& what,
               std::string* error) {
  *error = what;
  rename(stream_path.c_str(), (out_path + ".partial").c_str());
  return false;
}

}  // namespace

bool wait_for_end(const std::string& stream_path, int timeout_ms) {
  for (int waited = 0;; waited += 20) {
    std::string text;
    if (read_file(stream_path, &text) && last_line(text).rfind(kEndPrefix, 0) == 0) return true;
    if (waited >= timeout_ms) return false;
    usleep(20 * 1000);
  }
}

bool finish_trace(const std::string& stream_path, const std::string& out_path,
                  const RunFacts& facts, uint64_t* events_out, std::string* error) {
  std::string text;
  if (!read_file(stream_path, &text))
    return fail_with(stream_path, out_path, stream_path + ": the trace stream is missing", error);
  if (text.empty())
    return fail_with(stream_path, out_path,
                     stream_path + ": the guest wrote no trace (record=1 without COM2?)", error);
  if (text.back() != '\n')
    return fail_with(stream_path, out_path,
                     stream_path + ": the stream ends inside a line (cut short)", error);
  // Every line must be one JSON object; the first the header, the last
  // "end" with the number of events before it.
  std::vector<std::string> lines;
  for (size_t at = 0; at < text.size();) {
    size_t nl = text.find('\n', at);
    lines.push_back(text.substr(at, nl - at));
    at = nl + 1;
  }
  nlohmann::ordered_json header;
  for (size_t i = 0; i < lines.size(); ++i) {
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(lines[i], nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return fail_with(stream_path, out_path,
                       stream_path + ":" + std::to_string(i + 1) + ": not a JSON object", error);
    if (i == 0) {
      if (j.value("format", "") != "vnetkit-trace")
        return fail_with(stream_path, out_path, stream_path + ":1: not a vnetkit trace header",
                         error);
      header = std::move(j);
    } else if (i + 1 == lines.size()) {
      if (j.value("ev", "") != "end")
        return fail_with(stream_path, out_path,
                         stream_path + ": no end line (the guest did not finish the trace; " +
                             std::to_string(lines.size() - 1) + " events arrived)",
                         error);
      uint64_t events = j.value("events", uint64_t{0});
      if (events != lines.size() - 2)
        return fail_with(stream_path, out_path,
                         stream_path + ": end line says " + std::to_string(events) +
                             " events, the stream has " + std::to_string(lines.size() - 2),
                         error);
      *events_out = events;
    } else if (!j.contains("ev")) {
      return fail_with(stream_path, out_path,
                       stream_path + ":" + std::to_string(i + 1) + ": not an event", error);
    }
  }
  if (lines.size() < 2)
    return fail_with(stream_path, out_path, stream_path + ": only a header, no end line", error);

  auto field = [&](const char* k) {
    auto it = facts.ready.find(k);
    return it == facts.ready.end() ? std::string() : it->second;
  };
  if (!field("transport").empty()) header["transport"] = field("transport");
  if (!field("features").empty() && !field("offered").empty()) {
    auto hex = [](const std::string& s) {
      char b[24];
      snprintf(b, sizeof(b), "0x%llx", std::stoull(s, nullptr, 0));
      return std::string(b);
    };
    header["features"] = {{"offered", hex(field("offered"))},
                          {"negotiated", hex(field("features"))}};
  }
  nlohmann::ordered_json& rec = header["recorded"];
  rec["where"] = "qemu";
  if (!facts.started_utc.empty()) rec["when"] = facts.started_utc;
  rec["by"] = "vnet-qemu";
  if (!facts.scenario.empty()) rec["scenario"] = facts.scenario;
  rec["qemu"] = {
      {"version", facts.qemu_version}, {"machine", facts.machine},           {"accel", "tcg"},
      {"transport", facts.transport},  {"device_props", facts.device_props}, {"net", facts.net}};

  const std::string tmp = out_path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << header.dump() << '\n';
    out.write(text.data() + lines[0].size() + 1,
              static_cast<std::streamsize>(text.size() - lines[0].size() - 1));
    if (!out) {
      *error = tmp + ": cannot write";
      return false;
    }
  }
  if (rename(tmp.c_str(), out_path.c_str()) != 0) {
    *error = out_path + ": cannot rename the finished trace into place";
    return false;
  }
  unlink(stream_path.c_str());
  return true;
}

std::string qemu_trace_patterns() {
  return
      // Register accesses by region name (the converter keeps the NIC's:
      // virtio-pci, virtio-pci-*-virtio-net, virtio-mmio, msix-table) and
      // interrupts (apic-msi writes).
      "memory_region_ops_read\n"
      "memory_region_ops_write\n"
      // PCI configuration space (the size comes from the neighbouring
      // pci-conf-data access) and MSI-X; the I/O APIC's pins (INTx).
      "pci_cfg_read\n"
      "pci_cfg_write\n"
      "msix_write_config\n"
      "ioapic_set_irq\n"
      // The device model: status, kicks, the rings.
      "virtio_set_status\n"
      "virtio_queue_notify\n"
      "virtio_notify\n"
      "virtio_notify_irqfd\n"
      "virtqueue_pop\n"
      "virtqueue_fill\n"
      "virtqueue_flush\n"
      "virtio_mmio_*\n"
      "virtio_net_*\n";
}

std::string qemu_version(const std::string& qemu_binary) {
  std::string cmd = "'" + qemu_binary + "' --version 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return "";
  char line[256] = {};
  if (fgets(line, sizeof(line), p) == nullptr) line[0] = 0;
  pclose(p);
  std::string s(line);
  const std::string key = "version ";
  size_t at = s.find(key);
  if (at == std::string::npos) return "";
  at += key.size();
  size_t end = s.find_first_of(" \n", at);
  return s.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

std::string utc_now_iso8601() {
  time_t t = time(nullptr);
  tm u{};
  gmtime_r(&t, &u);
  char b[32];
  strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%SZ", &u);
  return b;
}

}  // namespace vnetqemu
