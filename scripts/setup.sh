#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build and test vnetkit.
# Idempotent, and quiet when nothing is missing. Run as root (or with sudo).
set -euo pipefail

packages=(
  clang-14 libclang-rt-14-dev lld-14 llvm-14 cmake ninja-build
  nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev
  libpcap-dev libcli11-dev zlib1g-dev qemu-system-x86 ovmf ipxe-qemu python3 jq procps
  dpdk dpdk-dev
  linux-image-amd64 busybox-static cpio
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
