#!/usr/bin/env bash
# capture-firmware.sh: capture a network boot by a firmware's virtio-net
# driver in QEMU and convert it into a vnetkit trace (docs/qemu-capture.md,
# "Firmware guests").
#
#   capture-firmware.sh --firmware ipxe-bios|ipxe-efi|edk2
#                       [--transport legacy|transitional|modern] [--name NAME]
#                       [--trace2json BIN] [--out DIR] [--keep DIR] [--no-install]
#
#   ipxe-bios  iPXE's virtio-net driver, the ROM of Debian's ipxe-qemu
#              (efi-virtio.rom: its BIOS image) run by SeaBIOS
#   ipxe-efi   the same ROM's EFI image, run by OVMF (Debian's ovmf)
#   edk2       EDK2's own VirtioNetDxe in OVMF (no option ROM), PXE boot
#
# 1. apt-get installs qemu-system-x86, ipxe-qemu, ovmf and seabios unless
#    --no-install;
# 2. boots QEMU (TCG, i440fx, no disk) whose only boot device is the
#    virtio-net-pci NIC (ioeventfd=off) on user networking with
#    restrict=on: slirp's own DHCP server hands out 10.0.2.15 and the
#    boot file, slirp's TFTP server (tftp=) serves a small file from a
#    temporary directory; no host forward, nothing leaves QEMU;
# 3. stops QEMU (SIGTERM, by its PID) a second after the first TFTP data
#    block reached the guest: the capture holds the firmware's probe,
#    DHCP and the start of TFTP, and stays small;
# 4. converts QEMU's -trace log and the filter-dump pcap with trace2json
#    into OUT/NAME.jsonl (default corpus/traces/firmware/FIRMWARE-TRANSPORT.jsonl),
#    marked for device-mode replay.
#
# Every step is bounded by a timeout.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

firmware=
transport=legacy
name=
trace2json=
out_dir=$root/corpus/traces/firmware
keep=
install=1
boot_timeout=180
mac=52:54:00:12:34:56
# Debian's firmware files (packages ipxe-qemu, ovmf).
ovmf_code=/usr/share/OVMF/OVMF_CODE_4M.fd
ovmf_vars=/usr/share/OVMF/OVMF_VARS_4M.fd

usage() {
  sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
    --firmware) firmware=${2:?}; shift 2 ;;
    --transport) transport=${2:?}; shift 2 ;;
    --name) name=${2:?}; shift 2 ;;
    --trace2json) trace2json=${2:?}; shift 2 ;;
    --out) out_dir=${2:?}; shift 2 ;;
    --keep) keep=${2:?}; shift 2 ;;
    --no-install) install=0; shift ;;
    -h|--help) usage ;;
    *) echo "capture-firmware: unknown argument $1" >&2; usage ;;
  esac
done
case $transport in
  modern) props="disable-legacy=on,disable-modern=off" ;;
  transitional) props="disable-legacy=off,disable-modern=off" ;;
  legacy) props="disable-legacy=off,disable-modern=on" ;;
  *) echo "capture-firmware: --transport must be legacy, transitional or modern" >&2; exit 2 ;;
esac
case $firmware in
  # iPXE: QEMU's default ROM for virtio-net-pci, efi-virtio.rom from
  # ipxe-qemu (BIOS and EFI images in one). Naming it with romfile= makes
  # QEMU skip the PCI ID patching of default ROMs, and SeaBIOS then no
  # longer runs it on a transitional device. EDK2: no ROM at all, so that
  # OVMF's own VirtioNetDxe drives the NIC.
  ipxe-bios|ipxe-efi) rom_prop= ;;
  edk2) rom_prop=romfile=, ;;
  *) echo "capture-firmware: --firmware must be ipxe-bios, ipxe-efi or edk2" >&2; exit 2 ;;
esac
[ -n "$name" ] || name=$firmware-$transport

if [ -z "$trace2json" ]; then
  for c in "$root"/build/default/bin/trace2json "$root"/build/*/bin/trace2json; do
    if [ -x "$c" ]; then trace2json=$c; break; fi
  done
fi
if [ -z "$trace2json" ] || [ ! -x "$trace2json" ]; then
  echo "capture-firmware: no trace2json; build it (ninja -C BUILD trace2json) or pass --trace2json" >&2
  exit 2
fi

log() { echo "capture-firmware: $*" >&2; }

if [ "$install" = 1 ]; then
  log "installing qemu-system-x86, ipxe-qemu, ovmf, seabios (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 apt-get update -qq
  timeout 900 apt-get install -y -qq --no-install-recommends \
    qemu-system-x86 ipxe-qemu ovmf seabios >/dev/null
fi
for tool in qemu-system-x86_64 python3 timeout; do
  command -v "$tool" >/dev/null || { log "missing $tool"; exit 1; }
done
if [ "$firmware" != ipxe-bios ] && { [ ! -r "$ovmf_code" ] || [ ! -r "$ovmf_vars" ]; }; then
  log "no OVMF firmware ($ovmf_code; install ovmf)"
  exit 1
fi

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

cap=$work/cap
tftp=$work/tftp
mkdir -p "$cap" "$tftp"
# The boot file: three TFTP blocks of text (not a bootable image: the
# firmware fetches it, fails to boot it, and QEMU is stopped by then).
for i in $(seq 1 100); do printf 'vnetkit firmware capture, boot file line %03d\n' "$i"; done \
  >"$tftp/boot.bin"
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

fw_args=()
if [ "$firmware" != ipxe-bios ]; then
  cp "$ovmf_vars" "$work/vars.fd"
  fw_args=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$ovmf_code"
           -drive "if=pflash,format=raw,unit=1,file=$work/vars.fd")
fi

# Has a TFTP data block (UDP from port 69, opcode 3) reached the guest?
tftp_data_seen() {
  python3 - "$1" <<'EOF'
import struct, sys
try:
    d = open(sys.argv[1], 'rb').read()
except OSError:
    sys.exit(1)
p = 24
while p + 16 <= len(d):
    incl = struct.unpack('<I', d[p + 8:p + 12])[0]
    f = d[p + 16:p + 16 + incl]
    p += 16 + incl
    if len(f) >= 46 and f[12:14] == b'\x08\x00' and f[23] == 17:
        ihl = (f[14] & 15) * 4
        u = 14 + ihl
        if len(f) >= u + 10 and f[u:u + 2] == b'\x00\x45' and f[u + 8:u + 10] == b'\x00\x03':
            sys.exit(0)
sys.exit(1)
EOF
}

log "booting $firmware (TCG, virtio-net-pci $props${rom_prop:+, no option ROM})"
qemu-system-x86_64 -M pc -accel tcg -m 256 -display none -no-reboot \
  -serial "file:$cap/console.log" -debugcon "file:$cap/firmware.log" \
  -global isa-debugcon.iobase=0x402 -net none "${fw_args[@]}" \
  -trace "events=$cap/qemu-trace-events,file=$cap/qemu.log" -msg timestamp=on \
  -netdev "user,id=n0,restrict=on,tftp=$tftp,bootfile=boot.bin" \
  -object filter-dump,id=dump0,netdev=n0,file="$cap/frames.pcap" \
  -device "virtio-net-pci,netdev=n0,${rom_prop}mac=$mac,ioeventfd=off,bootindex=1,$props" \
  </dev/null >"$cap/qemu.stdout" 2>"$cap/qemu.stderr" &
qemu_pid=$!

deadline=$((SECONDS + boot_timeout))
seen=0
while kill -0 "$qemu_pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
  if tftp_data_seen "$cap/frames.pcap"; then
    seen=1
    sleep 1
    break
  fi
  sleep 0.5
done
kill "$qemu_pid" 2>/dev/null || true
set +e
wait "$qemu_pid"
set -e
qemu_pid=
if [ $seen = 0 ]; then
  log "no TFTP data reached the guest (QEMU exited, or ${boot_timeout}s passed); firmware log:"
  tail -n 20 "$cap/firmware.log" >&2 || true
  cat "$cap/qemu.stderr" >&2 || true
  exit 1
fi
log "log $(wc -l <"$cap/qemu.log") lines, pcap $(wc -c <"$cap/frames.pcap") bytes"

# --- convert -------------------------------------------------------------
mkdir -p "$out_dir"
out=$out_dir/$name.jsonl
timeout 300 "$trace2json" "$cap/qemu.log" --pcap "$cap/frames.pcap" --guest-mac "$mac" \
  -o "$work/converted.jsonl" --no-progress
# Another driver's register sequence is not ours to match: the header asks
# for device mode.
sed '1s/}$/,"replay":"device"}/' "$work/converted.jsonl" >"$out.tmp"
head -n1 "$out.tmp" | grep -q '"replay":"device"}$' || { log "could not mark the header"; exit 1; }
mv "$out.tmp" "$out"
log "wrote $out ($(wc -c <"$out") bytes)"
