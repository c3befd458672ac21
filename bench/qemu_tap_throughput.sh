#!/usr/bin/env bash
# Bytes/s of the guest's TCP echo on QEMU over a tap with vnet_hdr=on
# (issue 16, item 8): offloads on versus off, alternated A B A B ... in one
# run so that drift of the machine hits both alike.
#
#   on    -g tso=1: CSUM, GUEST_CSUM, HOST_TSO4, GUEST_TSO4 (TSO segments
#         of up to 64 KiB out, coalesced frames in, no checksum computed
#         by the guest either way), receive chains, window 65535
#   off   -g chains=1 -g window=65535: the same guest, ring and window,
#         no offloads negotiated (QEMU still offers them: the guest
#         declines) -- every frame within the MTU, every checksum computed
#
# Each run: vnet-qemu --net tap --tap-vnet-hdr --bulk BYTES (one TCP
# stream, written and read at once, compared byte for byte, timed from the
# connect to the last byte back) -n 10; its JSON gives bulk.bytes_per_s.
# The figure is the median over the rounds of each side, and the ratio
# on/off of the medians.
#
# Needs root (the tap lives in a network namespace the runner creates and
# removes), /dev/net/tun, iproute2 and jq. Not run by ctest.
#
# Usage: bench/qemu_tap_throughput.sh [options]
#   --build DIR     build tree with bin/vnet-qemu and bin/vnet-guest.elf
#                   (default build/default)
#   --machine M     pc, q35 or microvm (default q35)
#   --transport T   legacy, modern or transitional (default modern)
#   --bytes N       bulk stream per run (default 33554432, 32 MiB)
#   --rounds R      A B pairs (default 5)
#   --mtu N         --host-mtu N for both sides (default: none, 1500)
#
# Output: one line per run, then a Markdown table (docs/qemu.md,
# "Offloads and big frames"). Exit status: 0, 1 when a run failed, 2 usage,
# 77 when the tap cannot be set up here.
set -euo pipefail

build=build/default
machine=q35
transport=modern
bytes=33554432
rounds=5
mtu=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --machine) machine=$2; shift 2 ;;
    --transport) transport=$2; shift 2 ;;
    --bytes) bytes=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --mtu) mtu=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "qemu_tap_throughput.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
runner="$build/bin/vnet-qemu"
[[ -x "$runner" ]] || { echo "qemu_tap_throughput.sh: $runner not found (build first)" >&2; exit 2; }
command -v jq >/dev/null || { echo "qemu_tap_throughput.sh: needs jq" >&2; exit 2; }

machine_args=(-M "$machine")
[[ "$machine" == microvm ]] && machine_args+=(--mmio-version 2) || machine_args+=(-t "$transport")
mtu_args=()
[[ -n "$mtu" ]] && mtu_args=(--host-mtu "$mtu")
on_args=(-g tso=1 --expect-offloads on)
off_args=(-g chains=1 -g window=65535 --expect-offloads off)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run SIDE ROUND: one vnet-qemu run; prints its bytes/s.
run() {
  local side=$1 round=$2 json="$tmp/$1-$2.json" rc=0
  local -a args
  if [[ $side == on ]]; then args=("${on_args[@]}"); else args=("${off_args[@]}"); fi
  "$runner" -q "${machine_args[@]}" --net tap --tap-vnet-hdr "${mtu_args[@]}" "${args[@]}" \
    -n 10 --bulk "$bytes" --timeout 300 --json "$json" >"$tmp/$side-$round.out" 2>&1 || rc=$?
  if [[ $rc -eq 77 ]]; then
    echo "qemu_tap_throughput.sh: skipped: $(grep -m1 'FAIL' "$tmp/$side-$round.out" || true)" >&2
    exit 77
  fi
  if [[ $rc -ne 0 ]]; then
    echo "qemu_tap_throughput.sh: run $side $round failed:" >&2
    grep -m5 'FAIL' "$tmp/$side-$round.out" >&2 || true
    exit 1
  fi
  jq -r '.bulk.bytes_per_s' "$json"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

: >"$tmp/on" && : >"$tmp/off"
echo "# $machine ${transport}, tap vnet_hdr=on${mtu:+, host_mtu=$mtu}, $bytes bytes per run, $rounds rounds"
for ((r = 1; r <= rounds; r++)); do
  for side in on off; do
    bps=$(run "$side" "$r")
    echo "$bps" >>"$tmp/$side"
    printf 'round %d %-3s %14.0f bytes/s\n' "$r" "$side" "$bps"
  done
done
on=$(median <"$tmp/on")
off=$(median <"$tmp/off")
ratio=$(awk -v a="$on" -v b="$off" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}')
echo
echo "| offloads | median bytes/s | min | max |"
echo "|---|---|---|---|"
for side in on off; do
  printf '| %s | %.0f | %.0f | %.0f |\n' "$side" "$(median <"$tmp/$side")" \
    "$(sort -g "$tmp/$side" | head -1)" "$(sort -g "$tmp/$side" | tail -1)"
done
echo
echo "ratio on/off (medians): $ratio"
