// The virtio-net header in words; see net_header.h.
#include "tools/trace2json/net_header.h"

#include <stdio.h>

#include "driver/spec/virtio_constants.h"

namespace trace2json {

namespace {

namespace nh = vnet::spec::net_hdr;

uint16_t le16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | p[1] << 8);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string hex8(unsigned v) {
  char b[8];
  snprintf(b, sizeof b, "0x%02x", v);
  return b;
}

}  // namespace

bool decode_net_header(const uint8_t* p, size_t len, NetHeader* out) {
  if (len < 10) return false;
  NetHeader h;
  h.flags = p[0];
  h.gso_type = p[1];
  h.hdr_len = le16(p + 2);
  h.gso_size = le16(p + 4);
  h.csum_start = le16(p + 6);
  h.csum_offset = le16(p + 8);
  if (len >= 12) {
    h.has_num_buffers = true;
    h.num_buffers = le16(p + 10);
  }
  *out = h;
  return true;
}

bool decode_net_header_hex(const std::string& hex, size_t header_size, NetHeader* out) {
  if (header_size > 12) header_size = 12;  // the hash fields are not offloads
  if (hex.size() < 2 * header_size) return false;
  uint8_t b[12];
  for (size_t i = 0; i < header_size; ++i) {
    const int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    b[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return decode_net_header(b, header_size, out);
}

std::string net_header_flags_name(uint8_t flags) {
  if (flags == 0) return "none";
  std::string s;
  auto add = [&](const std::string& name) { s += (s.empty() ? "" : "|") + name; };
  if (flags & nh::kFlagNeedsCsum) add("NEEDS_CSUM");
  if (flags & nh::kFlagDataValid) add("DATA_VALID");
  if (flags & nh::kFlagRscInfo) add("RSC_INFO");
  const unsigned rest = flags & ~(nh::kFlagNeedsCsum | nh::kFlagDataValid | nh::kFlagRscInfo);
  for (unsigned bit = 0; bit < 8; ++bit)
    if (rest & (1u << bit)) add(hex8(1u << bit));
  return s;
}

std::string gso_type_name(uint8_t gso_type) {
  const uint8_t base = static_cast<uint8_t>(gso_type & ~nh::kGsoEcn);
  std::string s;
  switch (base) {
    case nh::kGsoNone:
      s = "NONE";
      break;
    case nh::kGsoTcpV4:
      s = "TCPV4";
      break;
    case nh::kGsoUdp:
      s = "UDP";
      break;
    case nh::kGsoTcpV6:
      s = "TCPV6";
      break;
    case nh::kGsoUdpL4:
      s = "UDP_L4";
      break;
    default:
      s = "type " + std::to_string(base);
      break;
  }
  if (gso_type & nh::kGsoEcn) s += "|ECN";
  return s;
}

std::string describe_net_header(const NetHeader& h) {
  std::string s = "flags " + net_header_flags_name(h.flags) + " gso " + gso_type_name(h.gso_type) +
                  " hdr_len " + std::to_string(h.hdr_len) + " gso_size " +
                  std::to_string(h.gso_size) + " csum_start " + std::to_string(h.csum_start) +
                  " csum_offset " + std::to_string(h.csum_offset);
  if (h.has_num_buffers) s += " num_buffers " + std::to_string(h.num_buffers);
  return s;
}

nlohmann::json net_header_json(const NetHeader& h) {
  nlohmann::json flags = nlohmann::json::array();
  if (h.flags & nh::kFlagNeedsCsum) flags.push_back("NEEDS_CSUM");
  if (h.flags & nh::kFlagDataValid) flags.push_back("DATA_VALID");
  if (h.flags & nh::kFlagRscInfo) flags.push_back("RSC_INFO");
  const unsigned rest = h.flags & ~(nh::kFlagNeedsCsum | nh::kFlagDataValid | nh::kFlagRscInfo);
  for (unsigned bit = 0; bit < 8; ++bit)
    if (rest & (1u << bit)) flags.push_back(hex8(1u << bit));
  nlohmann::json j;
  j["flags"] = flags;
  j["gso_type"] = gso_type_name(static_cast<uint8_t>(h.gso_type & ~nh::kGsoEcn));
  j["ecn"] = (h.gso_type & nh::kGsoEcn) != 0;
  j["hdr_len"] = h.hdr_len;
  j["gso_size"] = h.gso_size;
  j["csum_start"] = h.csum_start;
  j["csum_offset"] = h.csum_offset;
  if (h.has_num_buffers) j["num_buffers"] = h.num_buffers;
  return j;
}

}  // namespace trace2json
