// The virtio-net header in words (virtio 1.2, 5.1.6): what trace2json shows
// of a header wherever it shows one -- the cross-check's transmitted frames
// (the header in front of each published frame) and received frames (the
// rx_header fetch before each delivered frame).
//
//   byte  0      flags        NEEDS_CSUM 1, DATA_VALID 2, RSC_INFO 4
//   byte  1      gso_type     NONE 0, TCPV4 1, UDP 3, TCPV6 4, UDP_L4 5; ECN 0x80
//   2..3  le16   hdr_len
//   4..5  le16   gso_size
//   6..7  le16   csum_start
//   8..9  le16   csum_offset
//   10..11 le16  num_buffers  (the 12-byte header: VERSION_1 or MRG_RXBUF)
//
// Undefined bits and types are shown as numbers ("0x08", "type 2"), never
// dropped: a lying device's header must read as what it is.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <nlohmann/json.hpp>
#include <string>

namespace trace2json {

struct NetHeader {
  uint8_t flags = 0;
  uint8_t gso_type = 0;
  uint16_t hdr_len = 0;
  uint16_t gso_size = 0;
  uint16_t csum_start = 0;
  uint16_t csum_offset = 0;
  bool has_num_buffers = false;  // a 12-byte header
  uint16_t num_buffers = 0;

  // Anything besides num_buffers set: the header asks or reports an offload.
  bool offload() const {
    return flags != 0 || gso_type != 0 || hdr_len != 0 || gso_size != 0 || csum_start != 0 ||
           csum_offset != 0;
  }
};

// The first 10 or 12 bytes of p (len: what there is); false when len < 10.
bool decode_net_header(const uint8_t* p, size_t len, NetHeader* out);
// From lowercase hex (a trace's "data"); false when too short or not hex.
bool decode_net_header_hex(const std::string& hex, size_t header_size, NetHeader* out);

// "NEEDS_CSUM|DATA_VALID" ("none" for 0; undefined bits as "0x08").
std::string net_header_flags_name(uint8_t flags);
// "TCPV4", "TCPV6|ECN", "NONE" (an undefined type as "type 2").
std::string gso_type_name(uint8_t gso_type);
// One line: "flags NEEDS_CSUM gso TCPV4 hdr_len 54 gso_size 1448
// csum_start 34 csum_offset 16 num_buffers 1".
std::string describe_net_header(const NetHeader& h);
// {"flags":["NEEDS_CSUM"],"gso_type":"TCPV4","ecn":false,"hdr_len":54,...}
nlohmann::json net_header_json(const NetHeader& h);

}  // namespace trace2json
