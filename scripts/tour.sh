#!/usr/bin/env bash
# The tour of vnetkit's worlds on the built-in defaults, from a fresh Debian
# 12 machine: installs what is missing, builds the default preset, then
#   1. mock:  the driver against the mock device on every PCI and virtio-mmio
#             transport (v1 and v2),
#             frames both ways byte-exact, and the device lying;
#   2. replay: the regression corpus of recorded traces replayed against
#             this build of the driver;
#   3. fuzz:  a few seconds of one libFuzzer target (the device lying about
#             its used ring) under ASan + UBSan, with its executions/s;
#   4. qemu:  the same driver archive booted in the guest image on
#             qemu-system-x86_64, echoing TCP messages from the host through
#             user networking (restrict=on, forwards on 127.0.0.1 only):
#             virtio-net-pci on q35, and virtio-mmio (versions 1 and 2) on
#             QEMU's PCI-less microvm machine; offloads (checksums, TSO)
#             over a vnet_hdr tap in a private network namespace;
#   5. vhost-user: the same driver as a vhost-user front end against DPDK's
#             vhost back end (dpdk-testpmd): two instances joined through
#             it, every frame checked; and a short race against DPDK's own
#             virtio driver on the same back end;
#   6. any guest: the mock device as a vhost-user back end of QEMU's
#             virtio-net: Linux's own driver pinging through it, the
#             conformance report, and one lie told to Linux, to our guest
#             and to our driver in process, side by side.
# Ends with a summary table; exit 0 when every world passed.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
cmake --preset default >/dev/null || exit 1
cmake --build --preset default >/dev/null || { cmake --build --preset default; exit 1; }
bin=build/default/bin
# Four fuzz targets, in the fuzz preset (ASan + UBSan + libFuzzer): the
# split ring's, the packed ring's, the control plane's and the receive
# path's (offload headers, receive chains).
cmake --preset fuzz >/dev/null || exit 1
fuzz_targets=(fuzz_used_ring fuzz_packed_ring fuzz_ctrl fuzz_rx fuzz_vhost_reply fuzz_vhost_backend)
cmake --build --preset fuzz --target "${fuzz_targets[@]}" >/dev/null ||
  { cmake --build --preset fuzz --target "${fuzz_targets[@]}"; exit 1; }

declare -a worlds results notes
log=$(mktemp)
trap 'rm -f "${log}"' EXIT
run() {  # run NAME NOTE-PATTERN COMMAND...: NOTE-PATTERN picks a line of the output for the summary
  local name=$1 pattern=$2; shift 2
  echo; echo "################ ${name}"; echo "\$ $*"
  if "$@" 2>&1 | tee "${log}"; [ "${PIPESTATUS[0]}" -eq 0 ]; then results+=("PASS"); else results+=("FAIL"); fi
  worlds+=("${name}")
  notes+=("$(grep -m1 -E "${pattern}" "${log}" | sed -E 's/^ +//')")
}

run "mock: driver vs mock device" '^mock world:' "${bin}/vnet-tour"
run "replay: regression corpus" '^[0-9]+ traces:' "${bin}/vnet-replay" --no-progress corpus/traces
fuzz_work=$(mktemp -d)
run "fuzz: fuzz_used_ring, 5 s" 'DONE' \
  build/fuzz/bin/fuzz_used_ring -max_total_time=5 -max_len=256 -print_final_stats=1 \
  "${fuzz_work}" corpus/fuzz/fuzz_used_ring
rm -rf "${fuzz_work}"
fuzz_work=$(mktemp -d)
run "fuzz: fuzz_packed_ring, 5 s" 'DONE' \
  build/fuzz/bin/fuzz_packed_ring -max_total_time=5 -max_len=256 -print_final_stats=1 \
  "${fuzz_work}" corpus/fuzz/fuzz_packed_ring
rm -rf "${fuzz_work}"
fuzz_work=$(mktemp -d)
run "fuzz: fuzz_ctrl, 5 s" 'DONE' \
  build/fuzz/bin/fuzz_ctrl -max_total_time=5 -max_len=256 -print_final_stats=1 \
  "${fuzz_work}" corpus/fuzz/fuzz_ctrl
rm -rf "${fuzz_work}"
fuzz_work=$(mktemp -d)
run "fuzz: fuzz_rx (offloads, chains), 5 s" 'DONE' \
  build/fuzz/bin/fuzz_rx -max_total_time=5 -max_len=256 -print_final_stats=1 \
  "${fuzz_work}" corpus/fuzz/fuzz_rx
rm -rf "${fuzz_work}"
fuzz_work=$(mktemp -d)
run "fuzz: fuzz_vhost_reply (back end), 5 s" 'DONE' \
  build/fuzz/bin/fuzz_vhost_reply -max_total_time=5 -print_final_stats=1 \
  "${fuzz_work}" corpus/fuzz/fuzz_vhost_reply
rm -rf "${fuzz_work}"
fuzz_work=$(mktemp -d)
run "fuzz: fuzz_vhost_backend (front end), 5 s" 'DONE' \
  build/fuzz/bin/fuzz_vhost_backend -max_total_time=5 -max_len=4096 -print_final_stats=1 \
  "${fuzz_work}" corpus/fuzz/fuzz_vhost_backend
rm -rf "${fuzz_work}"
for transport in legacy modern transitional; do
  run "qemu: ${transport} on q35 (TCP echo)" '^boot to first echo' \
    "${bin}/vnet-qemu" --machine q35 --transport "${transport}" --count 200
done
# QEMU's microvm: no PCI, the NIC on virtio-mmio (version 1 is QEMU 7.2's
# legacy default, version 2 the modern interface), its window and line
# from the kernel command line QEMU appends.
for version in 1 2; do
  run "qemu: virtio-mmio v${version} on microvm" '^boot to first echo' \
    "${bin}/vnet-qemu" --machine microvm --mmio-version "${version}" --count 200
done
# Packed rings (virtio 1.2, 2.8) on a modern interface and on microvm,
# replies through indirect descriptor tables (QEMU offers them by default).
run "qemu: modern, packed ring + indirect" '^boot to first echo' \
  "${bin}/vnet-qemu" --machine q35 --transport modern -p packed=on --expect-ring packed \
  --expect-indirect on --count 200
run "qemu: virtio-mmio v2, packed ring" '^boot to first echo' \
  "${bin}/vnet-qemu" --machine microvm --mmio-version 2 -p packed=on --expect-ring packed \
  --count 200
# The control plane (5.1.6.5) on QEMU's default offer: promiscuous mode and
# the VLAN filter, each shown to change what the device delivers (the
# runner is the guest's Ethernet peer over a socket netdev on 127.0.0.1).
run "qemu: control queue, promiscuous" '^boot to first echo' \
  "${bin}/vnet-qemu" --machine q35 --transport modern --net socket --ctrl-check promisc \
  --count 50
run "qemu: control queue, VLAN filter" '^boot to first echo' \
  "${bin}/vnet-qemu" --machine q35 --transport modern --net socket --ctrl-check vlan --count 50
# A confidential guest's view: ACCESS_PLATFORM offered (iommu_platform=on)
# and every frame through the guest's private/shared bounce area.
run "qemu: modern, iommu_platform + bounce" '^boot to first echo' \
  "${bin}/vnet-qemu" --machine q35 --transport modern -p iommu_platform=on -g bounce=1 --count 200

# Offloads (issue 16) on a back end with a vnet header: a tap with
# vnet_hdr=on in a network namespace the runner creates and removes (root,
# iproute2). The guest leaves checksums to the device and sends TSO frames
# above the MTU; a bulk TCP stream echoes byte-exact, and a capture on the
# tap shows the device side.
run "qemu: offloads over a vnet_hdr tap" '^boot to first echo' \
  "${bin}/vnet-qemu" --machine q35 --transport modern --net tap --tap-vnet-hdr -g tso=1 \
  --expect-offloads on --expect-features csum,guest_csum,host_tso4,guest_tso4 --count 200 \
  --bulk 2097152

# The fifth world (issue 17): the driver as a vhost-user front end against
# DPDK's vhost library (dpdk-testpmd, net_vhost ports, no hugepages).
run "vhost-user: via DPDK, packed, 2 pairs" '^PASS' \
  python3 tests/vhost_dpdk/vhost_dpdk_test.py --vnet-vhost "${bin}/vnet-vhost" \
  --vnet-replay "${bin}/vnet-replay" --case packed_mq
run "vhost-user: race vs DPDK virtio-user" '^\| split \| 64 B' \
  python3 bench/vhost_race.py --vnet-vhost "${bin}/vnet-vhost" --rounds 1 --seconds 3 \
  --sizes 64 --kinds split

# The other way round (issue 18): the mock device as the vhost-user back
# end of QEMU's virtio-net; a Linux guest (Debian's kernel, a busybox
# initramfs) pings through it, and a lie is told in three worlds.
run "any guest: Linux vs the mock device" '^conformance report' \
  python3 tools/vnet-vhost-device/vhost_guest.py --guest linux --expect-traffic \
  --device "${bin}/vnet-vhost-device"
run "any guest: a lie, three drivers" '^\| `misbehave' \
  python3 tools/vnet-vhost-device/compare_lies.py --seconds 6 --expect-vnet-survives \
  --device "${bin}/vnet-vhost-device" --mock "${bin}/vnet-mock" \
  --scenario mock_device/scenarios/misbehave_used_id_out_of_range.json

echo; echo "################ summary"
printf '%-38s %-6s %s\n' "world" "result" "note"
status=0
for i in "${!worlds[@]}"; do
  printf '%-38s %-6s %s\n' "${worlds[$i]}" "${results[$i]}" "${notes[$i]}"
  [ "${results[$i]}" = PASS ] || status=1
done
exit $status
