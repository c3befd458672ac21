#!/usr/bin/env bash
# The tour of vnetkit's worlds on the built-in defaults, from a fresh Debian
# 12 machine: installs what is missing, builds the default preset, then
#   1. mock:  the driver against the mock device on every PCI transport,
#             frames both ways byte-exact, and the device lying;
#   2. qemu:  the same driver archive booted in the guest image on
#             qemu-system-x86_64, echoing UDP datagrams from the host.
# Ends with a summary table; exit 0 when every world passed.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
cmake --preset default >/dev/null || exit 1
cmake --build --preset default >/dev/null || { cmake --build --preset default; exit 1; }
bin=build/default/bin

declare -a worlds results
run() {  # run NAME COMMAND...
  local name=$1; shift
  echo; echo "################ ${name}"; echo "\$ $*"
  if "$@"; then results+=("PASS"); else results+=("FAIL"); fi
  worlds+=("${name}")
}

run "mock: driver vs mock device" "${bin}/vnet-tour"
if [ -x "${bin}/vnet-qemu" ]; then
  run "qemu: transitional on q35" "${bin}/vnet-qemu" --machine q35 --transport transitional --count 200
fi

echo; echo "################ summary"
printf '%-40s %s\n' "world" "result"
status=0
for i in "${!worlds[@]}"; do
  printf '%-40s %s\n' "${worlds[$i]}" "${results[$i]}"
  [ "${results[$i]}" = PASS ] || status=1
done
exit $status
