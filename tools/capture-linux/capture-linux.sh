#!/usr/bin/env bash
# capture-linux.sh: capture a run of Linux's virtio-net driver in QEMU and
# convert it into a vnetkit trace (docs/qemu-capture.md, "A Linux guest").
#
#   capture-linux.sh [--transport modern|transitional|legacy] [--name NAME]
#                    [--trace2json BIN] [--out DIR] [--keep DIR] [--no-install]
#                    [--props PROPS] [--no-ctrl-vq]
#                    [--machine q35|microvm] [--mmio-version 1|2] [--packed]
#
# 1. apt-get installs the kernel package (linux-image-amd64: files under
#    /boot and /lib/modules only), busybox-static, cpio and qemu-system-x86,
#    unless --no-install;
# 2. builds a tiny initramfs in a temporary directory as an ordinary user
#    would (linux-initramfs.sh, beside this script: busybox, the virtio-net
#    modules with their dependencies from modules.dep, in load order, unless
#    the kernel has them built in, and the standard /init prelude), with an
#    /init body that brings eth0 up as 10.0.2.15/24, pings the
#    user-networking gateway (slirp answers for 10.0.2.2 itself), receives
#    UDP datagrams the host sends through a forward on 127.0.0.1, and
#    powers off;
# 3. boots it under TCG on q35 with virtio-net-pci (ioeventfd=off),
#    user networking restrict=on, QEMU's -trace log and a filter-dump pcap;
#    or, with --machine microvm, on QEMU's PCI-less microvm with a
#    virtio-net-device on virtio-mmio (--mmio-version 1, QEMU 7.2's
#    default, legacy; 2: -global virtio-mmio.force-legacy=false). Linux
#    finds the window in the ACPI tables microvm builds (Debian's kernel has
#    no CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES, so the virtio_mmio.device= entry
#    QEMU appends without ACPI would go unused), loads virtio_mmio instead of
#    virtio_pci, and is given tsc_early_khz= (under TCG its PIT calibration
#    never ends otherwise);
# 4. converts log + pcap with trace2json into OUT/NAME.jsonl (default
#    corpus/traces/linux/linux-TRANSPORT.jsonl, or
#    linux-microvm-mmio-vN.jsonl; with --packed, -packed appended).
#
# --packed offers the packed virtqueue (packed=on; Linux negotiates it when
# offered) on a modern device: q35 modern or transitional, or microvm with
# --mmio-version 2 (a legacy interface has no packed ring).
#
# Every step is bounded by a timeout; QEMU is stopped by its PID if it
# outlives its budget or the script is interrupted.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

transport=modern
name=
trace2json=
out_dir=$root/corpus/traces/linux
keep=
install=1
ctrl=
extra_props=
boot_timeout=240
mac=52:54:00:12:34:56
machine=q35
mmio_version=
packed=

usage() {
  sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
    --transport) transport=${2:?}; shift 2 ;;
    --name) name=${2:?}; shift 2 ;;
    --trace2json) trace2json=${2:?}; shift 2 ;;
    --out) out_dir=${2:?}; shift 2 ;;
    --keep) keep=${2:?}; shift 2 ;;
    --props) extra_props=${2:?}; shift 2 ;;
    --no-install) install=0; shift ;;
    --no-ctrl-vq) ctrl=1; shift ;;
    --machine) machine=${2:?}; shift 2 ;;
    --mmio-version) mmio_version=${2:?}; shift 2 ;;
    --packed) packed=1; shift ;;
    -h|--help) usage ;;
    *) echo "capture-linux: unknown argument $1" >&2; usage ;;
  esac
done
case $transport in
  modern) props="disable-legacy=on,disable-modern=off" ;;
  transitional) props="disable-legacy=off,disable-modern=off" ;;
  legacy) props="disable-legacy=off,disable-modern=on" ;;
  *) echo "capture-linux: --transport must be modern, transitional or legacy" >&2; exit 2 ;;
esac
# Legacy: vectors=0 keeps Linux on INTx, so its device config stays at
# offset 0x14 of the I/O BAR, where device-mode replay reads it (with MSI-X
# it moves to 0x18). Modern and transitional keep MSI-X: trace2json leaves
# the vectors out, the device side is the same.
[ "$transport" = legacy ] && props="$props,vectors=0"
# --packed: the packed virtqueue, offered only on a modern interface.
if [ -n "$packed" ]; then
  if [ "$transport" = legacy ] || { [ "$machine" = microvm ] && [ "${mmio_version:-1}" != 2 ]; }; then
    echo "capture-linux: --packed needs a modern device (not --transport legacy, not mmio version 1)" >&2
    exit 2
  fi
  props="$props,packed=on"
fi
props="$props${extra_props:+,$extra_props}"   # --props: more NIC properties
# --no-ctrl-vq: no control queue. Linux refuses a device that offers
# features needing it without it, so those go too. (mq is not offered with
# one queue pair.)
ctrl_props="ctrl_vq=off,ctrl_rx=off,ctrl_vlan=off,ctrl_rx_extra=off,ctrl_mac_addr=off"
ctrl_props="$ctrl_props,ctrl_guest_offloads=off,guest_announce=off,mq=off"
case $machine in
  q35)
    [ -z "$mmio_version" ] || { echo "capture-linux: --mmio-version needs --machine microvm" >&2; exit 2; } ;;
  microvm)
    mmio_version=${mmio_version:-1}
    case $mmio_version in 1|2) ;; *) echo "capture-linux: --mmio-version must be 1 or 2" >&2; exit 2 ;; esac ;;
  *) echo "capture-linux: --machine must be q35 or microvm" >&2; exit 2 ;;
esac
if [ -z "$name" ]; then
  if [ "$machine" = microvm ]; then name=linux-microvm-mmio-v$mmio_version; else name=linux-$transport; fi
  [ -z "$packed" ] || name=$name-packed
fi

if [ -z "$trace2json" ]; then
  for c in "$root"/build/default/bin/trace2json "$root"/build/*/bin/trace2json; do
    if [ -x "$c" ]; then trace2json=$c; break; fi
  done
fi
if [ -z "$trace2json" ] || [ ! -x "$trace2json" ]; then
  echo "capture-linux: no trace2json; build it (ninja -C BUILD trace2json) or pass --trace2json" >&2
  exit 2
fi

log() { echo "capture-linux: $*" >&2; }

work=$(mktemp -d)
qemu_pid=
cleanup() {
  if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
    kill "$qemu_pid" 2>/dev/null || true
    sleep 1
    kill -9 "$qemu_pid" 2>/dev/null || true
  fi
  if [ -n "$keep" ]; then
    mkdir -p "$keep"
    cp -r "$work"/cap/. "$keep"/ 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- initramfs -----------------------------------------------------------
# linux-initramfs.sh: kernel, busybox, modules and the /init prelude (mounts,
# insmods, waits for eth0); this is the rest of /init.
cat >"$work/init-body" <<'EOF'
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
echo "CAPTURE-UP $(cat /sys/class/net/eth0/address)"
ping -c 5 -i 0.5 -W 2 10.0.2.2
ping -c 3 -i 0.5 -W 2 -s 1400 10.0.2.2
echo "CAPTURE-UDP-READY"
# busybox's nc has no UDP mode: the datagrams are received all the same
# (the device delivers them, the stack answers port unreachable).
sleep 5
echo "CAPTURE-UDP-DONE $(cat /sys/class/net/eth0/statistics/rx_packets) rx packets"
echo CAPTURE-DONE
poweroff -f
EOF
image_args=(--out "$work/image" --machine "$machine" --init-body "$work/init-body"
            --fail-marker CAPTURE-FAIL)
[ "$install" = 1 ] && image_args+=(--install --also-install qemu-system-x86)
image=$("$here/linux-initramfs.sh" "${image_args[@]}")
image_var() { sed -n "s/^$1=//p" <<<"$image"; }
kernel=$(image_var KERNEL)
initrd=$(image_var INITRD)
append=$(image_var APPEND)
for tool in qemu-system-x86_64 timeout; do
  command -v "$tool" >/dev/null || { log "missing $tool"; exit 1; }
done

# The UDP port the host forwards to the guest (127.0.0.1 only).
udp_port=$((20000 + RANDOM % 20000))

# --- capture -------------------------------------------------------------
cap=$work/cap
mkdir -p "$cap"
cat >"$cap/qemu-trace-events" <<'EOF'
memory_region_ops_read
memory_region_ops_write
pci_cfg_read
pci_cfg_write
msix_write_config
ioapic_set_irq
virtio_set_status
virtio_queue_notify
virtio_notify
virtio_notify_irqfd
virtqueue_pop
virtqueue_fill
virtqueue_flush
virtio_mmio_*
virtio_net_*
EOF
if [ "$machine" = microvm ]; then
  # virtio-mmio: the NIC's properties are virtio-net's (no PCI flavour);
  # the transport's (ioeventfd, force-legacy) are set with -global.
  nic="virtio-net-device,netdev=n0,mac=$mac${packed:+,packed=on}${extra_props:+,$extra_props}${ctrl:+,$ctrl_props}"
  machine_args=(-M microvm,x-option-roms=off,isa-serial=on,rtc=on -global virtio-mmio.ioeventfd=off)
  [ "$mmio_version" = 2 ] && machine_args+=(-global virtio-mmio.force-legacy=false)
  log "booting (TCG, microvm, virtio-mmio version $mmio_version, $nic)"
else
  nic="virtio-net-pci,netdev=n0,romfile=,mac=$mac,ioeventfd=off,$props${ctrl:+,$ctrl_props}"
  machine_args=(-M q35)
  log "booting (TCG, q35, virtio-net-pci $props)"
fi
timeout "$boot_timeout" qemu-system-x86_64 "${machine_args[@]}" -accel tcg -m 256 -nographic -no-reboot \
  -kernel "$kernel" -initrd "$initrd" \
  -append "$append" \
  -trace "events=$cap/qemu-trace-events,file=$cap/qemu.log" -msg timestamp=on \
  -netdev "user,id=n0,restrict=on,hostfwd=udp:127.0.0.1:$udp_port-:$udp_port" \
  -object filter-dump,id=dump0,netdev=n0,file="$cap/frames.pcap" \
  -device "$nic" \
  </dev/null >"$cap/console.log" 2>"$cap/qemu.stderr" &
qemu_pid=$!

# Feed the guest's UDP listener once it says it is ready.
deadline=$((SECONDS + boot_timeout))
sent=0
while kill -0 "$qemu_pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
  if [ $sent = 0 ] && grep -q CAPTURE-UDP-READY "$cap/console.log" 2>/dev/null; then
    sleep 1
    for i in 1 2 3 4 5 6; do
      printf 'vnetkit capture datagram %d %0*d\n' "$i" $((i * 150)) 0 \
        >"/dev/udp/127.0.0.1/$udp_port" 2>/dev/null || true
      sleep 0.3
    done
    sent=1
  fi
  sleep 0.5
done
set +e
wait "$qemu_pid"
rc=$?
set -e
qemu_pid=
if [ $rc -ne 0 ]; then
  log "QEMU exited with $rc (timeout is 124); console:"
  tail -n 30 "$cap/console.log" >&2 || true
  cat "$cap/qemu.stderr" >&2 || true
  exit 1
fi
if ! grep -q CAPTURE-DONE "$cap/console.log" || grep -q CAPTURE-FAIL "$cap/console.log"; then
  log "the guest did not finish its run; console:"
  tail -n 30 "$cap/console.log" >&2
  exit 1
fi
grep -E 'CAPTURE-|packets transmitted' "$cap/console.log" | tr -d '\r' >&2 || true
log "log $(wc -l <"$cap/qemu.log") lines, pcap $(wc -c <"$cap/frames.pcap") bytes"

# --- convert -------------------------------------------------------------
mkdir -p "$out_dir"
out=$out_dir/$name.jsonl
timeout 120 "$trace2json" "$cap/qemu.log" --pcap "$cap/frames.pcap" --guest-mac "$mac" \
  -o "$work/converted.jsonl" --no-progress
# Another driver's register sequence is not ours to match: the header asks
# for device mode, so a plain `vnet-replay corpus/traces` replays it so.
sed '1s/}$/,"replay":"device"}/' "$work/converted.jsonl" >"$out.tmp"
head -n1 "$out.tmp" | grep -q '"replay":"device"}$' || { log "could not mark the header"; exit 1; }
mv "$out.tmp" "$out"
log "wrote $out ($(wc -c <"$out") bytes)"
