#include "fuzz/harness/setups.h"

namespace vnet::fuzz {

int config_fault_index(mock::FaultKind k) {
  for (size_t i = 0; i < sizeof kConfigStateFaults / sizeof kConfigStateFaults[0]; ++i)
    if (kConfigStateFaults[i] == k) return static_cast<int>(i);
  return -1;
}

ConfigPrefix read_config_prefix(Input& in) {
  ConfigPrefix p;
  p.flavour = in.u8();
  p.features = in.u64();
  in.bytes(p.mac, 6);
  p.status = in.u16();
  p.max_pairs = in.u16();
  p.mtu = in.u16();
  for (auto& q : p.queue_sizes) q = in.u16();
  p.notify_multiplier = in.u32();
  p.modern_bar = in.u8();
  p.num_faults = in.u8() % 5;
  for (uint8_t i = 0; i < p.num_faults; ++i) {
    p.fault_kind[i] = in.u8();
    p.fault_value[i] = in.u16();
  }
  p.rx_cap = in.u8();
  p.tx_cap = in.u8();
  p.max_frame = in.u16();
  p.fallback_mtu = in.u16();
  return p;
}

void write_config_prefix(ScriptWriter& w, const ConfigPrefix& p) {
  w.u8(p.flavour).u64(p.features).raw(p.mac, 6).u16(p.status).u16(p.max_pairs).u16(p.mtu);
  for (auto q : p.queue_sizes) w.u16(q);
  w.u32(p.notify_multiplier).u8(p.modern_bar).u8(p.num_faults);
  for (uint8_t i = 0; i < p.num_faults; ++i) w.u8(p.fault_kind[i]).u16(p.fault_value[i]);
  w.u8(p.rx_cap).u8(p.tx_cap).u16(p.max_frame).u16(p.fallback_mtu);
}

}  // namespace vnet::fuzz
