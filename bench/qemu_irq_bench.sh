#!/usr/bin/env bash
# The driver's interrupt modes on QEMU (issue 12): polling, INTx and MSI-X,
# one run each of
#
#   latency run   vnet-qemu --irq MODE --idle-cpu 5 -n N: the QEMU
#                 process's CPU use over 5 s with the guest idle after boot
#                 (utime + stime from /proc/PID/stat), then N TCP echoes of
#                 1..1472 bytes: round trips per second and boot-to-first-
#                 echo (the idle window left out)
#   bulk run      vnet-qemu --irq MODE -n M --min-size 65536 --max-size 65536:
#                 64 KiB TCP messages echoed through user networking (about
#                 90 frames each way per message at MSS 1460); the driver's
#                 counters give notifications (rx_kicks + tx_kicks) and
#                 interrupts taken (irq_vector + irq_line) per 1,000 frames
#                 (rx_packets + tx_packets)
#
# and the bulk run again with event_idx=off on the NIC (suppression by the
# ring flags instead of used_event/avail_event).
#
# Usage: bench/qemu_irq_bench.sh [options]
#   --build DIR     build tree with bin/vnet-qemu and bin/vnet-guest.elf
#                   (default build/default)
#   --machine M     pc, q35 or microvm (default q35)
#   --transport T   legacy, modern or transitional (default modern; pc, q35)
#   --mmio-version V  1 or 2 on microvm (default 2); microvm has no MSI-X,
#                   so its modes are poll and intx (the virtio-mmio line)
#   --count N       echoes of the latency run (default 2000)
#   --bulk M        64 KiB messages of the bulk run (default 100)
#   --idle S        idle window in seconds (default 5)
#
# Output: a Markdown table (docs/qemu.md, "Interrupts: what they cost and
# save"). Exit status: 0, or 1 when a run failed.
set -euo pipefail

build=build/default
machine=q35
transport=modern
mmio_version=2
count=2000
bulk=100
idle=5
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --machine) machine=$2; shift 2 ;;
    --transport) transport=$2; shift 2 ;;
    --mmio-version) mmio_version=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --bulk) bulk=$2; shift 2 ;;
    --idle) idle=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "qemu_irq_bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
runner="$build/bin/vnet-qemu"
[[ -x "$runner" ]] || { echo "qemu_irq_bench.sh: $runner not found (build first)" >&2; exit 2; }
command -v jq >/dev/null || { echo "qemu_irq_bench.sh: needs jq" >&2; exit 2; }

nic=(-t "$transport")
modes=(poll intx msix)
if [[ "$machine" == microvm ]]; then
  nic=(--mmio-version "$mmio_version")
  modes=(poll intx)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0

# run NAME ARGS...: one vnet-qemu run with a JSON summary in $work/NAME.json
run() {
  local name=$1
  shift
  if ! "$runner" -q -M "$machine" "${nic[@]}" --json "$work/$name.json" "$@" \
    >"$work/$name.out" 2>&1; then
    echo "qemu_irq_bench.sh: run $name failed:" >&2
    cat "$work/$name.out" >&2
    status=1
    return 1
  fi
}

# per1000 FILE: "kicks interrupts" per 1,000 frames of a bulk run
per1000() {
  jq -r '.counters as $c
    | (($c.rx_packets // 0) + ($c.tx_packets // 0)) as $f
    | if $f == 0 then "- -" else
        "\(1000 * (($c.rx_kicks // 0) + ($c.tx_kicks // 0)) / $f | . * 10 | round / 10) \(1000 * (($c.irq_vector // 0) + ($c.irq_line // 0)) / $f | . * 10 | round / 10)"
      end' "$1"
}

echo "| mode | idle CPU (${idle} s after boot) | TCP round trips/s | boot to first echo | kicks / 1000 frames | interrupts / 1000 frames | same, event_idx=off |"
echo "|---|---|---|---|---|---|---|"
for mode in "${modes[@]}"; do
  run "lat-$mode" --irq "$mode" --idle-cpu "$idle" -n "$count" || continue
  run "bulk-$mode" --irq "$mode" -n "$bulk" --min-size 65536 --max-size 65536 || continue
  run "bulk-noevt-$mode" --irq "$mode" -n "$bulk" --min-size 65536 --max-size 65536 \
    -p event_idx=off || continue
  lat="$work/lat-$mode.json"
  took=$(jq -r '.irq_mode' "$lat")
  cpu=$(jq -r '.idle_cpu.percent_of_one_cpu | . * 10 | round / 10' "$lat")
  rts=$(jq -r '.echo.echoed / .echo.seconds | round' "$lat")
  first=$(jq -r '.first_echo_ms | round' "$lat")
  read -r kicks irqs < <(per1000 "$work/bulk-$mode.json")
  read -r kicks0 irqs0 < <(per1000 "$work/bulk-noevt-$mode.json")
  echo "| $mode ($took) | $cpu % | $rts | $first ms | $kicks | $irqs | $kicks0 kicks, $irqs0 interrupts |"
done
exit $status
