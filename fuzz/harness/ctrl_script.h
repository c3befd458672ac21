// fuzz_ctrl's control-plane ops, and oracle (k): the control plane
// (virtio 1.2, 5.1.6.5; driver/net/virtio_net_control.cc).
//
// Ops (mock_script.h's op table of fuzz_ctrl; arguments little-endian):
//
//   ctrl        cmd:u8 args...     one control call, cmd % 9:
//                 0 set_rx_mode      mode:u8 on:u8 (mode % 8: 6 and 7 invalid)
//                 1 set_mac_filter   n_uc:u8 n_mc:u8 (each % 80) then one byte per
//                                    entry (the MAC x:54:00:12:34:x; bit 0 of x
//                                    makes it multicast)
//                 2 set_mac_address  x:u8 (the MAC x:54:00:ab:cd:x)
//                 3 add_vlan         vid:u16
//                 4 remove_vlan      vid:u16
//                 5 set_queue_pairs  n:u8 (% 8)
//                 6 set_rss          types:u16 len:u8 seed:u8 modulus:u8
//                                    unclassified:u8 key_len:u8
//                                    (len bit 7: that many entries, raw; else
//                                    1 << (len % 9); entry i = (seed + i) % modulus)
//                 7 announce         the device sets status ANNOUNCE and raises
//                                    a config change; poll_device()
//                 8 set_guest_offloads  bits:u8 (0-6 GUEST_CSUM, TSO4, TSO6,
//                                    ECN, UFO, USO4, USO6; 7 HOST_TSO4, no
//                                    receive offload); with withdraw bit 9
//                                    the offloads are offered and accepted
//   ctrl_fault  kind:u8 value:u8   the next command that reaches the device
//                                  meets this lie (kind % 6: never completed,
//                                  ack never written, ack = value, used.len =
//                                  value, another used id, an unknown used id)
//   rx_flows    count:u8 seed:u8   count (1..32) TCP/IPv4 frames of distinct
//                                  flows injected (the device steers them:
//                                  RSS), then rx_burst on every pair
//   tx_pair     pair:u8 count:u8   tx_burst of count (1..8) frames on pair % 4
//
// Oracle (k), after every op:
//  * a call whose arguments, negotiated features or device state rule it
//    out returns one of the reasons that apply and sends nothing; a call
//    that nothing rules out is sent;
//  * a command meets no lie: it returns kOk or kRejected and the device
//    keeps running; kOk means the device holds what was asked (filter
//    modes, VLAN, pairs);
//  * a command meets a lie: it returns kTimeout or kDeviceFault and the
//    device is out of kRunning;
//  * no command waits past ctrl_timeout_ns of platform time;
//  * MQ/RSS/HASH_REPORT negotiated only with limits the spec allows
//    (max_virtqueue_pairs 1..0x8000, rss_max_key_size >= 40, a hash type,
//    an indirection table), and no more pairs than the device, the caller
//    and the driver allow.
#pragma once

#include <stdint.h>

#include "fuzz/harness/input.h"
#include "fuzz/harness/world.h"

namespace vnet::fuzz {

// The control-plane timeout of every fuzz world: 200 clock reads.
inline constexpr uint64_t kFuzzCtrlTimeoutNs = 200'000;

enum class CtrlOp : uint8_t { kCtrl, kCtrlFault, kRxFlows, kTxPair };

void run_ctrl_op(World& w, Input& in, CtrlOp op);
// The configuration rules of oracle (k); after every attach and op.
void check_ctrl_config(World& w);
// Per input: forget a pending lie.
void reset_ctrl_script();

}  // namespace vnet::fuzz
