// The offload header rules; see offload.h.
#include "driver/net/offload.h"

#include "driver/net/frame_headers.h"
#include "driver/spec/virtio_constants.h"

namespace vnet {

namespace {

using spec::Feature;
using spec::feature_mask;
using spec::has_feature;
namespace hdrf = spec::net_hdr;

struct GuestBit {
  Feature feature;
  uint8_t bit;
};
constexpr GuestBit kGuestBits[] = {
    {Feature::kNetGuestCsum, guest_offload::kCsum}, {Feature::kNetGuestTso4, guest_offload::kTso4},
    {Feature::kNetGuestTso6, guest_offload::kTso6}, {Feature::kNetGuestEcn, guest_offload::kEcn},
    {Feature::kNetGuestUso4, guest_offload::kUso4}, {Feature::kNetGuestUso6, guest_offload::kUso6},
    {Feature::kNetGuestUfo, guest_offload::kUfo},
};

}  // namespace

uint8_t guest_offloads_from_features(uint64_t features) {
  uint8_t out = 0;
  for (const GuestBit& g : kGuestBits)
    if (has_feature(features, g.feature)) out = static_cast<uint8_t>(out | g.bit);
  return out;
}

uint64_t features_from_guest_offloads(uint8_t offloads) {
  uint64_t out = 0;
  for (const GuestBit& g : kGuestBits)
    if ((offloads & g.bit) != 0) out |= feature_mask(g.feature);
  return out;
}

RxOffloadVerdict check_rx_hdr_fields(const spec::NetHdr& hdr, uint8_t enabled) {
  const uint8_t base = static_cast<uint8_t>(hdr.gso_type & ~hdrf::kGsoEcn);
  const bool ecn = (hdr.gso_type & hdrf::kGsoEcn) != 0;
  uint8_t need = 0;  // the offload the gso_type needs enabled
  switch (base) {
    case hdrf::kGsoNone:
      if (ecn) return RxOffloadVerdict::kGsoType;
      break;
    case hdrf::kGsoTcpV4:
      need = guest_offload::kTso4;
      break;
    case hdrf::kGsoTcpV6:
      need = guest_offload::kTso6;
      break;
    case hdrf::kGsoUdpL4:  // USO4 or USO6, by the IP version (check_rx_offload)
      need = guest_offload::kUso4 | guest_offload::kUso6;
      if (ecn) return RxOffloadVerdict::kGsoType;
      break;
    default:  // UDP (UFO: never negotiated) and undefined types
      return RxOffloadVerdict::kGsoType;
  }
  if (need != 0 && (enabled & need) == 0) return RxOffloadVerdict::kGsoType;
  if (ecn && (enabled & guest_offload::kEcn) == 0) return RxOffloadVerdict::kGsoType;
  const bool needs_csum = (hdr.flags & hdrf::kFlagNeedsCsum) != 0;
  if ((hdr.flags & ~(hdrf::kFlagNeedsCsum | hdrf::kFlagDataValid)) != 0 ||
      (needs_csum && (enabled & guest_offload::kCsum) == 0))
    return RxOffloadVerdict::kFlags;
  return RxOffloadVerdict::kOk;
}

RxOffloadVerdict check_rx_offload(const spec::NetHdr& hdr, uint8_t enabled,
                                  const RxFrameView& frame, PacketOffload* out) {
  const bool needs_csum = (hdr.flags & hdrf::kFlagNeedsCsum) != 0;
  const bool ecn = (hdr.gso_type & hdrf::kGsoEcn) != 0;
  const uint8_t base = static_cast<uint8_t>(hdr.gso_type & ~hdrf::kGsoEcn);
  const GsoKind kind = base == hdrf::kGsoTcpV4   ? GsoKind::kTcp4
                       : base == hdrf::kGsoTcpV6 ? GsoKind::kTcp6
                       : base == hdrf::kGsoUdpL4 ? GsoKind::kUdp
                                                 : GsoKind::kNone;
  const uint32_t start = hdr.csum_start.get();
  const uint32_t offset = hdr.csum_offset.get();
  if (needs_csum && start + offset + 2 > frame.frame_len) return RxOffloadVerdict::kCsumBounds;

  PacketOffload o;
  if (needs_csum) {
    o.csum = CsumState::kPartial;
    o.csum_start = static_cast<uint16_t>(start);
    o.csum_offset = static_cast<uint16_t>(offset);
  } else if ((hdr.flags & hdrf::kFlagDataValid) != 0 && (enabled & guest_offload::kCsum) != 0) {
    o.csum = CsumState::kVerified;
  }
  if (kind != GsoKind::kNone) {
    if (!needs_csum) return RxOffloadVerdict::kGsoNoCsum;
    // hdr_len is a hint (the headers, or more of the frame's start); only
    // a GSO frame gives it a meaning, and it must stay within the frame.
    if (hdr.hdr_len.get() > frame.frame_len) return RxOffloadVerdict::kHdrLen;
    const uint32_t gso_size = hdr.gso_size.get();
    if (gso_size == 0) return RxOffloadVerdict::kGsoSize;
    L4Headers h;
    if (!parse_l4_headers(frame.first, frame.first_len, &h)) return RxOffloadVerdict::kGsoProto;
    const bool tcp = kind != GsoKind::kUdp;
    if (h.protocol != (tcp ? kIpProtoTcp : kIpProtoUdp)) return RxOffloadVerdict::kGsoProto;
    if ((kind == GsoKind::kTcp4 && h.ip_version != 4) ||
        (kind == GsoKind::kTcp6 && h.ip_version != 6))
      return RxOffloadVerdict::kGsoProto;
    if (kind == GsoKind::kUdp &&
        (enabled & (h.ip_version == 4 ? guest_offload::kUso4 : guest_offload::kUso6)) == 0)
      return RxOffloadVerdict::kGsoType;
    if (start != h.l4 || offset != (tcp ? kTcpCsumOffset : kUdpCsumOffset))
      return RxOffloadVerdict::kGsoProto;
    const uint32_t segment_max = frame.mtu_frame + (h.vlan ? spec::kVlanTagSize : 0);
    if (h.end + gso_size > segment_max || frame.frame_len <= h.end)
      return RxOffloadVerdict::kGsoSize;
    o.gso = kind;
    o.ecn = ecn;
    o.gso_size = static_cast<uint16_t>(gso_size);
    o.hdr_len = h.end;
  }
  *out = o;
  return RxOffloadVerdict::kOk;
}

TxOffloadVerdict build_tx_header(const PacketOffload& req, uint64_t features, const uint8_t* first,
                                 uint32_t first_len, uint32_t frame_len, uint32_t mtu,
                                 spec::NetHdr* hdr) {
  spec::NetHdr h{};
  if (req.csum == CsumState::kVerified) return TxOffloadVerdict::kFeature;
  if (req.csum == CsumState::kPartial) {
    if (!has_feature(features, Feature::kNetCsum)) return TxOffloadVerdict::kFeature;
    if (uint32_t{req.csum_start} + req.csum_offset + 2 > frame_len)
      return TxOffloadVerdict::kCsumBounds;
    h.flags = hdrf::kFlagNeedsCsum;
    h.csum_start.set(req.csum_start);
    h.csum_offset.set(req.csum_offset);
  }
  if (req.gso == GsoKind::kNone) {
    if (req.ecn) return TxOffloadVerdict::kFeature;  // ECN is a GSO bit
    *hdr = h;
    return TxOffloadVerdict::kOk;
  }
  const bool tcp = req.gso != GsoKind::kUdp;
  const Feature need = req.gso == GsoKind::kTcp4   ? Feature::kNetHostTso4
                       : req.gso == GsoKind::kTcp6 ? Feature::kNetHostTso6
                                                   : Feature::kNetHostUso;
  if (!has_feature(features, need) ||
      (req.ecn && (!tcp || !has_feature(features, Feature::kNetHostEcn))))
    return TxOffloadVerdict::kFeature;
  if (req.csum != CsumState::kPartial || req.gso_size == 0 || frame_len > kMaxGsoFrame)
    return TxOffloadVerdict::kGso;
  L4Headers l4;
  if (!parse_l4_headers(first, first_len, &l4)) return TxOffloadVerdict::kGso;
  if (l4.protocol != (tcp ? kIpProtoTcp : kIpProtoUdp) ||
      (req.gso == GsoKind::kTcp4 && l4.ip_version != 4) ||
      (req.gso == GsoKind::kTcp6 && l4.ip_version != 6))
    return TxOffloadVerdict::kGso;
  if (req.csum_start != l4.l4 || req.csum_offset != (tcp ? kTcpCsumOffset : kUdpCsumOffset))
    return TxOffloadVerdict::kGso;
  const uint32_t segment_max = mtu + spec::kEthHeaderSize + (l4.vlan ? spec::kVlanTagSize : 0);
  if (uint32_t{l4.end} + req.gso_size > segment_max || frame_len <= l4.end)
    return TxOffloadVerdict::kGso;
  // 5.1.6.2.1: a TCP frame whose header has CWR set is segmented only with
  // HOST_ECN, and then with the GSO_ECN bit -- whatever the caller said.
  const bool cwr = tcp && (first[l4.l4 + 13] & 0x80) != 0;
  if (cwr && !has_feature(features, Feature::kNetHostEcn)) return TxOffloadVerdict::kFeature;
  h.gso_type = static_cast<uint8_t>((req.gso == GsoKind::kTcp4   ? hdrf::kGsoTcpV4
                                     : req.gso == GsoKind::kTcp6 ? hdrf::kGsoTcpV6
                                                                 : hdrf::kGsoUdpL4) |
                                    (req.ecn || cwr ? hdrf::kGsoEcn : 0));
  h.hdr_len.set(l4.end);
  h.gso_size.set(req.gso_size);
  *hdr = h;
  return TxOffloadVerdict::kOk;
}

}  // namespace vnet
