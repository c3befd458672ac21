#include "mock_device/fault.h"

namespace vnet::mock {
namespace {

struct FaultName {
  FaultKind kind;
  const char* name;
};

constexpr FaultName kFaultNames[] = {
    {FaultKind::kUsedIdOutOfRange, "used_id_out_of_range"},
    {FaultKind::kUsedIdNotInFlight, "used_id_not_in_flight"},
    {FaultKind::kUsedDoubleComplete, "used_double_complete"},
    {FaultKind::kUsedLenOver, "used_len_over"},
    {FaultKind::kUsedLenShort, "used_len_short"},
    {FaultKind::kUsedIdxJump, "used_idx_jump"},
    {FaultKind::kRxNumBuffers, "rx_num_buffers"},
    {FaultKind::kRxGsoType, "rx_gso_type"},
    {FaultKind::kRxFlags, "rx_flags"},
    {FaultKind::kRxHdrLen, "rx_hdr_len"},
    {FaultKind::kRxGsoSize, "rx_gso_size"},
    {FaultKind::kRxCsumStart, "rx_csum_start"},
    {FaultKind::kRxCsumOffset, "rx_csum_offset"},
    {FaultKind::kQueueSize, "queue_size"},
    {FaultKind::kConfigMtu, "config_mtu"},
    {FaultKind::kConfigMacMulticast, "config_mac_multicast"},
    {FaultKind::kConfigMacZero, "config_mac_zero"},
    {FaultKind::kConfigMaxPairs, "config_max_pairs"},
    {FaultKind::kConfigStatus, "config_status"},
    {FaultKind::kCapOutsideBar, "cap_outside_bar"},
    {FaultKind::kCapMissingBar, "cap_missing_bar"},
    {FaultKind::kDeviceCfgLength, "device_cfg_length"},
    {FaultKind::kUsedBeforeDriverOk, "used_before_driver_ok"},
    {FaultKind::kConfigMacUnstable, "config_mac_unstable"},
    {FaultKind::kResetLatency, "reset_latency"},
    {FaultKind::kRxNoWrite, "rx_no_write"},
    {FaultKind::kDescAddr, "desc_addr"},
    {FaultKind::kDescLen, "desc_len"},
    {FaultKind::kDescFlags, "desc_flags"},
    {FaultKind::kDescNext, "desc_next"},
    {FaultKind::kUsedIdSet, "used_id"},
    {FaultKind::kUsedIdxSkip, "used_idx_skip"},
    {FaultKind::kFeaturesOkRefuse, "features_ok_refuse"},
    {FaultKind::kConfigGenerationUnstable, "config_generation_unstable"},
    {FaultKind::kMsixVectorLie, "msix_vector_lie"},
    {FaultKind::kStuckIsr, "stuck_isr"},
    {FaultKind::kInterruptStorm, "interrupt_storm"},
    {FaultKind::kSpuriousInterrupt, "spurious_interrupt"},
    {FaultKind::kInterruptBeforeDriverOk, "interrupt_before_driver_ok"},
    {FaultKind::kPackedUsedWrapStale, "packed_used_wrap_stale"},
    {FaultKind::kPackedUsedFlags, "packed_used_flags"},
    {FaultKind::kPackedUsedIdInFlight, "packed_used_id_in_flight"},
    {FaultKind::kCtrlNoCompletion, "ctrl_no_completion"},
    {FaultKind::kCtrlAckUnwritten, "ctrl_ack_unwritten"},
    {FaultKind::kCtrlAckValue, "ctrl_ack_value"},
    {FaultKind::kCtrlUsedLen, "ctrl_used_len"},
    {FaultKind::kCtrlUsedIdOther, "ctrl_used_id_other"},
    {FaultKind::kCtrlUsedIdUnknown, "ctrl_used_id_unknown"},
    {FaultKind::kConfigRssMaxKeySize, "config_rss_max_key_size"},
    {FaultKind::kConfigRssMaxTableLen, "config_rss_max_table_len"},
    {FaultKind::kConfigSupportedHashTypes, "config_supported_hash_types"},
    {FaultKind::kRxGsoWrongProtocol, "rx_gso_wrong_protocol"},
    {FaultKind::kRxGsoEcn, "rx_gso_ecn"},
    {FaultKind::kRxMergedLen, "rx_merged_len"},
};

}  // namespace

const char* fault_kind_name(FaultKind kind) {
  for (const auto& f : kFaultNames)
    if (f.kind == kind) return f.name;
  return "unknown";
}

bool parse_fault_kind(std::string_view name, FaultKind* out) {
  if (name == "used_len") {
    *out = FaultKind::kUsedLenShort;
    return true;
  }
  for (const auto& f : kFaultNames) {
    if (name == f.name) {
      *out = f.kind;
      return true;
    }
  }
  return false;
}

bool is_state_fault(FaultKind kind) {
  switch (kind) {
    case FaultKind::kQueueSize:
    case FaultKind::kConfigMtu:
    case FaultKind::kConfigMacMulticast:
    case FaultKind::kConfigMacZero:
    case FaultKind::kConfigMaxPairs:
    case FaultKind::kConfigStatus:
    case FaultKind::kCapOutsideBar:
    case FaultKind::kCapMissingBar:
    case FaultKind::kDeviceCfgLength:
    case FaultKind::kUsedBeforeDriverOk:
    case FaultKind::kConfigMacUnstable:
    case FaultKind::kResetLatency:
    case FaultKind::kFeaturesOkRefuse:
    case FaultKind::kConfigGenerationUnstable:
    case FaultKind::kMsixVectorLie:
    case FaultKind::kStuckIsr:
    case FaultKind::kInterruptStorm:
    case FaultKind::kSpuriousInterrupt:
    case FaultKind::kInterruptBeforeDriverOk:
    case FaultKind::kConfigRssMaxKeySize:
    case FaultKind::kConfigRssMaxTableLen:
    case FaultKind::kConfigSupportedHashTypes:
      return true;
    default:
      return false;
  }
}

bool is_used_fault(FaultKind kind) {
  switch (kind) {
    case FaultKind::kUsedIdOutOfRange:
    case FaultKind::kUsedIdNotInFlight:
    case FaultKind::kUsedDoubleComplete:
    case FaultKind::kUsedLenOver:
    case FaultKind::kUsedLenShort:
    case FaultKind::kUsedIdxJump:
    case FaultKind::kDescAddr:
    case FaultKind::kDescLen:
    case FaultKind::kDescFlags:
    case FaultKind::kDescNext:
    case FaultKind::kUsedIdSet:
    case FaultKind::kUsedIdxSkip:
    case FaultKind::kPackedUsedWrapStale:
    case FaultKind::kPackedUsedFlags:
    case FaultKind::kPackedUsedIdInFlight:
      return true;
    default:
      return false;
  }
}

bool is_ctrl_fault(FaultKind kind) {
  switch (kind) {
    case FaultKind::kCtrlNoCompletion:
    case FaultKind::kCtrlAckUnwritten:
    case FaultKind::kCtrlAckValue:
    case FaultKind::kCtrlUsedLen:
    case FaultKind::kCtrlUsedIdOther:
    case FaultKind::kCtrlUsedIdUnknown:
      return true;
    default:
      return false;
  }
}

}  // namespace vnet::mock
