#!/usr/bin/env bash
# Boot to first echo on QEMU's machines side by side (issue 13): the same
# guest image and driver on q35 (virtio-net-pci) and on microvm
# (virtio-net-device on virtio-mmio, versions 1 and 2). Each row is --runs
# runs of
#
#   vnet-qemu -q -M MACHINE ... -n 20 --json F
#
# (TCP echo through user networking, restrict=on, forwards on 127.0.0.1),
# timed by the runner from starting QEMU: "ready" is the guest's ready
# line (firmware, PVH boot, TSC calibration, device discovery, driver
# attach), "first echo" the first byte-exact TCP echo (adds the gratuitous
# ARP, slirp's connection to the guest and one round trip). Median, min
# and max over the runs.
#
# Usage: bench/qemu_boot_bench.sh [options]
#   --build DIR   build tree with bin/vnet-qemu and bin/vnet-guest.elf
#                 (default build/default)
#   --runs N      runs per row (default 10)
#   --irq MODE    the guest's interrupt mode for every row: poll or intx
#                 (default: the guest's own, MSI-X on q35 and the line on
#                 microvm)
#
# Output: a Markdown table (docs/qemu.md, "microvm"). Exit status: 0, or 1
# when a run failed.
set -euo pipefail

build=build/default
runs=10
irq=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --irq) irq=(--irq "$2"); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "qemu_boot_bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
runner="$build/bin/vnet-qemu"
[[ -x "$runner" ]] || { echo "qemu_boot_bench.sh: $runner not found (build first)" >&2; exit 2; }
command -v jq >/dev/null || { echo "qemu_boot_bench.sh: needs jq" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0

# stats FIELD FILES...: "median min max" of a JSON number field, rounded
stats() {
  local field=$1
  shift
  jq -s -r "[.[].$field] | sort | \"\\(.[length / 2 | floor] | round) \\(.[0] | round) \\(.[-1] | round)\"" "$@"
}

echo "| machine | NIC | ready (median, min..max) | first echo (median, min..max) | irq mode |"
echo "|---|---|---|---|---|"
row() {  # row NAME NIC-DESCRIPTION ARGS...
  local name=$1 nic=$2
  shift 2
  local files=()
  for i in $(seq 1 "$runs"); do
    local f="$work/$name-$i.json"
    if ! "$runner" -q --json "$f" -n 20 "${irq[@]}" "$@" >"$work/$name-$i.out" 2>&1; then
      echo "qemu_boot_bench.sh: $name run $i failed:" >&2
      cat "$work/$name-$i.out" >&2
      status=1
      return 0
    fi
    files+=("$f")
  done
  read -r r_med r_min r_max < <(stats boot_ms "${files[@]}")
  read -r e_med e_min e_max < <(stats first_echo_ms "${files[@]}")
  local mode
  mode=$(jq -r '.irq_mode' "${files[0]}")
  echo "| $name | $nic | $r_med ms ($r_min..$r_max) | $e_med ms ($e_min..$e_max) | $mode |"
}

row "q35" "virtio-net-pci, transitional" -M q35 -t transitional
row "q35" "virtio-net-pci, modern" -M q35 -t modern
row "microvm" "virtio-mmio v1" -M microvm --mmio-version 1
row "microvm" "virtio-mmio v2" -M microvm --mmio-version 2
row "microvm, ACPI" "virtio-mmio v2, slots probed" -M microvm --mmio-version 2 --microvm-acpi
exit $status
