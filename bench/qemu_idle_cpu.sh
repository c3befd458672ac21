#!/usr/bin/env bash
# What an idle vnet-guest costs its host: the QEMU process's CPU use
# (utime + stime from /proc/PID/stat) over a window of a few seconds
# while the guest has nothing to do, for
#
#   hlt-idle     action=idle: the guest halts (HLT) on the local APIC
#                one-shot timer (guest/irq_actions.h) -- what an
#                interrupt-driven guest costs when nothing happens
#   poll-serve   the serve loop (action=serve, the default) attached to
#                the NIC and idling: no traffic, it polls the device
#   hlt-tick-Tms with --tick-ms T: action=idle waking every T ms (the cost
#                of a timeout an interrupt-driven loop would keep)
#
# Each case boots QEMU (TCG, user networking with restrict=on and no
# forwards: nothing reaches the guest), waits for the guest's line that
# says it is idle ("vnet-guest: idle for" / "vnet-guest: ready"), lets it
# settle, then samples /proc/PID/stat twice, WINDOW seconds apart.
#
# Usage: bench/qemu_idle_cpu.sh [options]
#   --kernel ELF      guest image (default build/default/bin/vnet-guest.elf)
#   --qemu BIN        QEMU binary (default qemu-system-x86_64)
#   --machine M       pc or q35 (default q35)
#   --window S        measuring window in seconds (default 5)
#   --settle S        seconds between the idle line and the first sample (default 1)
#   --serve-arg K=V   extra guest command line argument for poll-serve
#                     (repeatable; e.g. irq=intx once the driver takes interrupts)
#   --prop K=V        extra virtio-net-pci property for both cases (repeatable)
#   --tick-ms T       also measure hlt-tick-Tms
#   --only NAME       run only this case (hlt-idle, poll-serve or hlt-tick)
#
# Output: one line per case, "NAME: X.X % of one CPU (T ticks in W s)".
# Exit status: 0, or 1 when a case could not be measured.
set -euo pipefail

kernel=build/default/bin/vnet-guest.elf
qemu=qemu-system-x86_64
machine=q35
window=5
settle=1
only=""
tick_ms=""
serve_args=()
props=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --kernel) kernel=$2; shift 2 ;;
    --qemu) qemu=$2; shift 2 ;;
    --machine) machine=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    --settle) settle=$2; shift 2 ;;
    --serve-arg) serve_args+=("$2"); shift 2 ;;
    --prop) props+=",$2"; shift 2 ;;
    --tick-ms) tick_ms=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "qemu_idle_cpu.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -r "$kernel" ]] || { echo "qemu_idle_cpu.sh: guest image $kernel not readable" >&2; exit 2; }
case "$machine" in pc|q35) ;; *) echo "qemu_idle_cpu.sh: --machine pc or q35" >&2; exit 2 ;; esac

hz=$(getconf CLK_TCK)
work=$(mktemp -d)
qemu_pid=""
cleanup() {
  if [[ -n "$qemu_pid" ]] && kill -0 "$qemu_pid" 2>/dev/null; then
    kill "$qemu_pid" 2>/dev/null || true
    wait "$qemu_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# utime + stime of a process, in clock ticks (fields 14 and 15 of
# /proc/PID/stat, counted after the command name, which may hold spaces).
cpu_ticks() {
  local stat rest
  stat=$(<"/proc/$1/stat")
  rest=${stat##*) }
  # rest starts at field 3 (state): utime is its 12th word, stime its 13th.
  awk '{ print $12 + $13 }' <<<"$rest"
}

# measure NAME MARKER GUEST_CMDLINE
measure() {
  local name=$1 marker=$2 cmdline=$3 console="$work/$1.console"
  "$qemu" -M "$machine" -accel tcg -m 128 -nodefaults -no-user-config -display none \
    -no-reboot -serial "file:$console" -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
    -kernel "$kernel" -append "$cmdline" \
    -netdev user,id=n0,restrict=on -device "virtio-net-pci,netdev=n0,romfile=$props" \
    </dev/null >"$work/$name.stdout" 2>&1 &
  qemu_pid=$!
  local deadline=$((SECONDS + 30))
  until grep -q "$marker" "$console" 2>/dev/null; do
    if ! kill -0 "$qemu_pid" 2>/dev/null || ((SECONDS > deadline)); then
      echo "$name: the guest never printed \"$marker\"" >&2
      cat "$console" "$work/$name.stdout" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.05
  done
  sleep "$settle"
  local t0 t1
  t0=$(cpu_ticks "$qemu_pid")
  sleep "$window"
  t1=$(cpu_ticks "$qemu_pid")
  kill "$qemu_pid" 2>/dev/null || true
  wait "$qemu_pid" 2>/dev/null || true
  qemu_pid=""
  awk -v n="$name" -v d=$((t1 - t0)) -v hz="$hz" -v w="$window" \
    'BEGIN { printf "%s: %.1f %% of one CPU (%d ticks of 1/%d s in %s s)\n", n, 100 * d / hz / w, d, hz, w }'
}

idle_seconds=$((settle + window + 30))
status=0
if [[ -z "$only" || "$only" == hlt-idle ]]; then
  measure hlt-idle "vnet-guest: idle for" "action=idle seconds=$idle_seconds" || status=1
fi
if [[ -z "$only" || "$only" == poll-serve ]]; then
  measure poll-serve "vnet-guest: ready" "action=serve ${serve_args[*]:-}" || status=1
fi
if [[ -n "$tick_ms" && ( -z "$only" || "$only" == hlt-tick ) ]]; then
  measure "hlt-tick-${tick_ms}ms" "vnet-guest: idle for" \
    "action=idle seconds=$idle_seconds tick_ms=$tick_ms" || status=1
fi
exit $status
