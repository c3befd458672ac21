#include "mock_device/rx_filter.h"

#include <cstring>

namespace vnet::mock {
namespace {

constexpr size_t kEthHeader = 14;
constexpr uint16_t kEthTypeVlan = 0x8100;
constexpr uint16_t kEthTypeIpv4 = 0x0800;
constexpr uint16_t kEthTypeIpv6 = 0x86DD;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;

// Hash type bits (5.1.6.4.3.1).
constexpr uint32_t kTypeIpv4 = 1u << 0;
constexpr uint32_t kTypeTcpv4 = 1u << 1;
constexpr uint32_t kTypeUdpv4 = 1u << 2;
constexpr uint32_t kTypeIpv6 = 1u << 3;
constexpr uint32_t kTypeTcpv6 = 1u << 4;
constexpr uint32_t kTypeUdpv6 = 1u << 5;
constexpr uint32_t kTypeIpEx = 1u << 6;
constexpr uint32_t kTypeTcpEx = 1u << 7;
constexpr uint32_t kTypeUdpEx = 1u << 8;

uint8_t byte_at(std::span<const uint8_t> f, size_t i) {
  return i < f.size() ? f[i] : 0;
}

uint16_t be16_at(std::span<const uint8_t> f, size_t i) {
  return uint16_t(byte_at(f, i) << 8 | byte_at(f, i + 1));
}

bool same_mac(std::span<const uint8_t> frame, const MacAddress& mac) {
  for (size_t i = 0; i < 6; ++i)
    if (byte_at(frame, i) != mac[i]) return false;
  return true;
}

}  // namespace

void RxFilter::reset(bool vlan_filtering) {
  promisc = true;
  allmulti = alluni = nomulti = nouni = nobcast = false;
  macs.clear();
  first_multi = 0;
  uni_overflow = multi_overflow = false;
  set_vlan_filtering(vlan_filtering);
}

bool RxFilter::accepts(std::span<const uint8_t> frame, const MacAddress& mac) const {
  if (promisc) return true;
  if (be16_at(frame, 12) == kEthTypeVlan && !vlan_added(be16_at(frame, 14) & 0xFFF)) return false;
  if (byte_at(frame, 0) & 1) {  // multicast (broadcast included)
    static constexpr MacAddress kBroadcast = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    if (same_mac(frame, kBroadcast)) return !nobcast;
    if (nomulti) return false;
    if (allmulti || multi_overflow) return true;
    for (size_t i = first_multi; i < macs.size(); ++i)
      if (same_mac(frame, macs[i])) return true;
    return false;
  }
  if (nouni) return false;
  if (alluni || uni_overflow) return true;
  if (same_mac(frame, mac)) return true;
  for (size_t i = 0; i < first_multi && i < macs.size(); ++i)
    if (same_mac(frame, macs[i])) return true;
  return false;
}

uint32_t toeplitz_hash(std::span<const uint8_t> key, std::span<const uint8_t> input) {
  auto key_bit = [&](size_t bit) -> uint32_t {
    const size_t byte = bit / 8;
    return byte < key.size() ? (key[byte] >> (7 - bit % 8)) & 1u : 0u;
  };
  uint32_t window = 0;  // key bits [i, i + 32) for input bit i
  for (size_t b = 0; b < 32; ++b) window = window << 1 | key_bit(b);
  uint32_t result = 0;
  for (size_t i = 0; i < input.size() * 8; ++i) {
    if ((input[i / 8] >> (7 - i % 8)) & 1) result ^= window;
    window = window << 1 | key_bit(i + 32);
  }
  return result;
}

RssResult rss_hash(std::span<const uint8_t> frame, uint32_t types, std::span<const uint8_t> key) {
  size_t l3 = kEthHeader;
  uint16_t ethertype = be16_at(frame, 12);
  if (ethertype == kEthTypeVlan) {
    ethertype = be16_at(frame, 16);
    l3 += 4;
  }
  uint8_t input[36];
  size_t addr_len = 0;
  size_t l4 = 0;
  uint8_t proto = 0;
  bool v4 = false;
  if (ethertype == kEthTypeIpv4 && frame.size() >= l3 + 20 && (frame[l3] >> 4) == 4) {
    const size_t ihl = size_t(frame[l3] & 0xF) * 4;
    if (ihl < 20 || frame.size() < l3 + ihl) return {};
    v4 = true;
    std::memcpy(input, &frame[l3 + 12], 8);  // source, destination
    addr_len = 8;
    const bool fragment = (be16_at(frame, l3 + 6) & 0x3FFF) != 0;  // MF or an offset
    proto = fragment ? 0 : frame[l3 + 9];
    l4 = l3 + ihl;
  } else if (ethertype == kEthTypeIpv6 && frame.size() >= l3 + 40 && (frame[l3] >> 4) == 6) {
    std::memcpy(input, &frame[l3 + 8], 32);
    addr_len = 32;
    proto = frame[l3 + 6];
    l4 = l3 + 40;
  } else {
    return {};
  }
  const bool ports = (proto == kProtoTcp || proto == kProtoUdp) && frame.size() >= l4 + 4;
  if (!ports) proto = 0;
  HashReport report = HashReport::kNone;
  if (v4) {
    if (proto == kProtoTcp && (types & kTypeTcpv4))
      report = HashReport::kTcpv4;
    else if (proto == kProtoUdp && (types & kTypeUdpv4))
      report = HashReport::kUdpv4;
    else if (types & kTypeIpv4)
      report = HashReport::kIpv4;
  } else {
    if (proto == kProtoTcp && (types & kTypeTcpEx))
      report = HashReport::kTcpv6Ex;
    else if (proto == kProtoTcp && (types & kTypeTcpv6))
      report = HashReport::kTcpv6;
    else if (proto == kProtoUdp && (types & kTypeUdpEx))
      report = HashReport::kUdpv6Ex;
    else if (proto == kProtoUdp && (types & kTypeUdpv6))
      report = HashReport::kUdpv6;
    else if (types & kTypeIpEx)
      report = HashReport::kIpv6Ex;
    else if (types & kTypeIpv6)
      report = HashReport::kIpv6;
  }
  if (report == HashReport::kNone) return {};
  size_t len = addr_len;
  const bool with_ports = report == HashReport::kTcpv4 || report == HashReport::kUdpv4 ||
                          report == HashReport::kTcpv6 || report == HashReport::kUdpv6 ||
                          report == HashReport::kTcpv6Ex || report == HashReport::kUdpv6Ex;
  if (with_ports) {
    std::memcpy(input + len, &frame[l4], 4);  // source port, destination port
    len += 4;
  }
  return RssResult{report, toeplitz_hash(key, std::span<const uint8_t>(input, len))};
}

}  // namespace vnet::mock
