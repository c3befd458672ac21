#!/usr/bin/env bash
# linux-initramfs.sh: build a tiny Linux guest for QEMU -- the installed
# Debian kernel and an initramfs with busybox, the virtio-net modules and
# an /init that runs a shell fragment of the caller's.
#
#   linux-initramfs.sh --out DIR [--machine q35|microvm] [--init-body FILE|-]
#                      [--fail-marker WORD] [--install] [--also-install PKG]
#
# Prints on stdout, and writes to DIR/image.env, one KEY=VALUE a line:
#   KVER=<kernel release>   KERNEL=<vmlinuz path>   INITRD=DIR/initramfs.cpio.gz
#   APPEND=<kernel command line for the machine>
# (read them line by line: APPEND holds spaces; nothing is quoted).
# Progress and errors go to stderr; exit 0 built, 1 something missing
# (no kernel, no static busybox, a module not found), 2 bad arguments.
#
# What it does, as an ordinary user would:
# 1. with --install only: apt-get installs the kernel package
#    (linux-image-amd64: files under /boot and /lib/modules only),
#    busybox-static and cpio, plus every --also-install PKG, in one run;
# 2. takes the newest kernel under /boot that has its /lib/modules
#    directory, and busybox-static's busybox (it runs without a libc);
# 3. collects the transport module (virtio_pci on q35, virtio_mmio on
#    microvm) and virtio_net, each after its dependencies as modules.dep
#    lists them (none when the kernel has them built in), decompressed;
# 4. writes /init: the standard prelude -- mount /dev (devtmpfs), console
#    as stdin/stdout/stderr, busybox --install, /proc and /sys, insmod the
#    modules in load order (a failure prints "WORD insmod MODULE", WORD the
#    --fail-marker, default INIT-FAIL), wait up to 5 s for eth0 -- then the
#    --init-body fragment verbatim ("-": stdin; none: the prelude alone).
#    The fragment runs under busybox sh with PATH=/bin; it should end with
#    `poweroff -f` (QEMU is run with -no-reboot; panic=-1 in APPEND);
# 5. packs it with cpio (newc, owner 0:0, sorted) and gzip -9.
#
# APPEND: console=ttyS0 quiet panic=-1, and on microvm tsc_early_khz=2000000
# (under TCG Linux's PIT calibration never ends otherwise). On microvm Linux
# finds the virtio-mmio windows in the ACPI tables QEMU builds (Debian's
# kernel has no CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES), so keep ACPI on there.
set -euo pipefail

out=
machine=q35
body=
fail_marker=INIT-FAIL
install=0
also_install=()

log() { echo "linux-initramfs: $*" >&2; }
usage() {
  sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=${2:?}; shift 2 ;;
    --machine) machine=${2:?}; shift 2 ;;
    --init-body) body=${2:?}; shift 2 ;;
    --fail-marker) fail_marker=${2:?}; shift 2 ;;
    --install) install=1; shift ;;
    --also-install) also_install+=("${2:?}"); shift 2 ;;
    -h|--help) usage ;;
    *) log "unknown argument $1"; usage ;;
  esac
done
[ -n "$out" ] || { log "--out DIR is required"; usage; }
case $machine in
  q35) transport_mod=CONFIG_VIRTIO_PCI:virtio_pci ;;
  microvm) transport_mod=CONFIG_VIRTIO_MMIO:virtio_mmio ;;
  *) log "--machine must be q35 or microvm"; exit 2 ;;
esac
case $fail_marker in
  *[!A-Za-z0-9_-]*|'') log "--fail-marker: letters, digits, - and _ only"; exit 2 ;;
esac
if [ -n "$body" ] && [ "$body" != - ] && [ ! -r "$body" ]; then
  log "--init-body $body: not readable"
  exit 2
fi

if [ "$install" = 1 ]; then
  log "installing the kernel package, busybox-static, cpio${also_install[*]:+, ${also_install[*]}} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 apt-get update -qq
  timeout 900 apt-get install -y -qq --no-install-recommends \
    linux-image-amd64 busybox-static cpio "${also_install[@]}" >/dev/null
fi

# The newest installed kernel that has its modules directory.
kver=
for v in /boot/vmlinuz-*; do
  [ -e "$v" ] || continue
  k=${v#/boot/vmlinuz-}
  [ -d "/lib/modules/$k" ] && kver=$k
done
if [ -z "$kver" ]; then
  log "no kernel with modules under /boot and /lib/modules (install linux-image-amd64)"
  exit 1
fi
kernel=/boot/vmlinuz-$kver
moddir=/lib/modules/$kver
if [ ! -r "$kernel" ]; then
  log "$kernel is not readable (run as root, or make it readable)"
  exit 1
fi
# busybox-static's busybox: it runs in the initramfs without a libc.
busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
  log "no statically linked busybox (install busybox-static)"
  exit 1
fi
for tool in cpio gzip; do
  command -v "$tool" >/dev/null || { log "missing $tool (install cpio)"; exit 1; }
done
log "kernel $kver"

mkdir -p "$out"
out=$(cd "$out" && pwd)
rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs"/{bin,dev,proc,sys,tmp,lib/modules}
cp "$busybox" "$rootfs/bin/busybox"

# Modules (built-in ones are skipped): each wanted module after its
# dependencies, as modules.dep lists them.
config=/boot/config-$kver
builtin_or_module() {  # CONFIG_X -> y, m or n
  local v
  v=$(grep -E "^$1=" "$config" 2>/dev/null | cut -d= -f2 || true)
  echo "${v:-n}"
}
declare -a load_order=()
declare -A seen=()
add_module() {  # module path relative to moddir (as in modules.dep)
  local rel=$1 dep deps
  [ -n "${seen[$rel]:-}" ] && return 0
  seen[$rel]=1
  deps=$(grep -E "^${rel}:" "$moddir/modules.dep" | cut -d: -f2- || true)
  for dep in $deps; do add_module "$dep"; done
  load_order+=("$rel")
}
find_module() {  # name -> path in modules.dep, or empty
  grep -oE "^[^:]*/$1\.ko(\.[a-z]+)?:" "$moddir/modules.dep" | head -n1 | tr -d : || true
}
for opt_mod in $transport_mod CONFIG_VIRTIO_NET:virtio_net; do
  opt=${opt_mod%%:*} mod=${opt_mod#*:}
  case $(builtin_or_module "$opt") in
    y) log "$mod is built in" ;;
    m)
      rel=$(find_module "$mod")
      [ -n "$rel" ] || { log "$mod is a module but not in modules.dep"; exit 1; }
      add_module "$rel" ;;
    *) log "$opt is not enabled in $config"; exit 1 ;;
  esac
done
insmods=
for rel in "${load_order[@]}"; do
  base=$(basename "$rel")
  case $base in
    *.ko) cp "$moddir/$rel" "$rootfs/lib/modules/$base" ;;
    *.ko.xz) xz -dc "$moddir/$rel" >"$rootfs/lib/modules/${base%.xz}"; base=${base%.xz} ;;
    *.ko.zst) zstd -qdc "$moddir/$rel" >"$rootfs/lib/modules/${base%.zst}"; base=${base%.zst} ;;
    *.ko.gz) gzip -dc "$moddir/$rel" >"$rootfs/lib/modules/${base%.gz}"; base=${base%.gz} ;;
  esac
  insmods="$insmods $base"
done
log "modules in load order:${insmods:- (none, built in)}"

# /init: the prelude, then the caller's fragment.
{
  cat <<EOF
#!/bin/busybox sh
/bin/busybox mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
for m in$insmods; do
  insmod /lib/modules/\$m || echo "$fail_marker insmod \$m"
done
i=0
while [ ! -e /sys/class/net/eth0 ] && [ \$i -lt 50 ]; do sleep 0.1; i=\$((i + 1)); done
EOF
  if [ "$body" = - ]; then cat; elif [ -n "$body" ]; then cat "$body"; fi
} >"$rootfs/init"
chmod 755 "$rootfs/init"
(cd "$rootfs" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -9) \
  >"$out/initramfs.cpio.gz.tmp"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"

append="console=ttyS0 quiet panic=-1"
[ "$machine" = microvm ] && append="$append tsc_early_khz=2000000"
printf 'KVER=%s\nKERNEL=%s\nINITRD=%s\nAPPEND=%s\n' "$kver" "$kernel" "$out/initramfs.cpio.gz" \
  "$append" | tee "$out/image.env"
