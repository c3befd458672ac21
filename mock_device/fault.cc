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
};

}  // namespace

const char* fault_kind_name(FaultKind kind) {
  for (const auto& f : kFaultNames)
    if (f.kind == kind) return f.name;
  return "unknown";
}

bool parse_fault_kind(std::string_view name, FaultKind* out) {
  for (const auto& f : kFaultNames) {
    if (name == f.name) {
      *out = f.kind;
      return true;
    }
  }
  return false;
}

bool is_state_fault(FaultKind kind) {
  return kind >= FaultKind::kQueueSize;
}

bool is_used_fault(FaultKind kind) {
  return kind <= FaultKind::kUsedIdxJump;
}

}  // namespace vnet::mock
