#!/bin/bash
# Re-records the regression corpus and the replay fixtures with this tree's
# driver (docs/replay-corpus.md). Run from the repository root after a
# deliberate change of what the driver does at the device boundary, then
# review the diff (git diff --stat corpus tests/replay/captures).
#
#   tools/rerecord-corpus.sh [--build DIR] [--fuzz-build DIR] [--only NAME]... PART...
#
#   PART      what                                   produced by
#   mock      corpus/traces/mock/*.jsonl             vnet-record-mock (deterministic)
#   qemu      corpus/traces/qemu/*.jsonl             vnet-qemu --record (QEMU, TCG)
#   captures  tests/replay/captures/*-capture.jsonl  vnet-qemu --qemu-trace + trace2json
#             (legacy, modern; modern-msix, legacy-intx, legacy-msix with interrupts)
#   seeds     corpus/traces/bugs/*.jsonl and the     vnet-fuzz-seeds (fuzz preset; reads
#             generated seeds in corpus/fuzz/        corpus/traces/mock: run after mock)
#   all       mock qemu captures seeds, in that order
#
#   --build DIR       a default-preset build with vnet-record-mock, vnet-replay,
#                     vnet-qemu, vnet-guest.elf, trace2json (default build/default)
#   --fuzz-build DIR  a fuzz-preset build with vnet-fuzz-seeds (default build/fuzz)
#   --only NAME       qemu, captures: re-record only this trace of the part's
#                     table (repeatable; the others are left as they are)
#
# Every part checks what it wrote: the mock corpus with vnet-record-mock
# --check, every trace with vnet-replay (PASS), the captures with
# trace2json's cross-check against the guest's own recording of the same
# run. QEMU runs are timing-dependent: a re-recording is never byte-identical.
# corpus/traces/linux (Linux's driver, captured on QEMU) does not depend on
# this driver and is not re-recorded here (tools/capture-linux).
set -euo pipefail

build=build/default
fuzz_build=build/fuzz
parts=()
only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --fuzz-build) fuzz_build=$2; shift 2 ;;
    --only) only+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    mock|qemu|captures|seeds) parts+=("$1"); shift ;;
    all) parts+=(mock qemu captures seeds); shift ;;
    *) echo "rerecord-corpus: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#parts[@]} -gt 0 ] || { echo "rerecord-corpus: name a part (mock, qemu, captures, seeds, all)" >&2; exit 2; }
[ -f CMakePresets.json ] && [ -d corpus/traces ] || { echo "rerecord-corpus: run from the repository root" >&2; exit 2; }

need() { [ -x "$1" ] || { echo "rerecord-corpus: $1 missing (build it first)" >&2; exit 2; }; }

replay_all() {
  "${build}/bin/vnet-replay" --summary --no-progress "$@"
}

# The QEMU corpus: name and runner options (docs/qemu.md, "Recording");
# each run echoes 24 TCP messages of 1..256 bytes, seed 7. Without --irq
# the recording guest polls; with it, its interrupts are handle_interrupt
# calls in the trace. The *tap_vnet_hdr* runs (issue 16: offloads) need a
# vnet-header tap in a network namespace of their own (root, /dev/net/tun,
# iproute2; vnet-qemu exits 77 without them); the tso ones add a 16 KiB bulk
# TCP stream in 2 KiB rx buffers, so that the trace holds TSO requests and
# coalesced frames delivered as receive chains.
qemu_traces=(
  "legacy|-M pc -t legacy"
  "modern|-M q35 -t modern"
  "transitional|-M q35 -t transitional"
  "transitional-forced_legacy|-M q35 -t transitional -g mode=legacy"
  "legacy-any_layout_off|-M pc -t legacy -p any_layout=off"
  "legacy-mrg_rxbuf_off|-M pc -t legacy -p mrg_rxbuf=off"
  "modern-mrg_rxbuf_off|-M q35 -t modern -p mrg_rxbuf=off"
  "modern-rx_queue_size_1024|-M q35 -t modern -p rx_queue_size=1024"
  "modern-csum_off|-M q35 -t modern -p csum=off,guest_csum=off"
  "modern-small_rings|-M pc -t modern -g rx_cap=16 -g tx_cap=8"
  "modern-iommu_platform|-M q35 -t modern -p iommu_platform=on"
  "modern-iommu_bounce|-M q35 -t modern -p iommu_platform=on -g bounce=1"
  "modern-msix|-M q35 -t modern --irq msix"
  "legacy-intx|-M pc -t legacy --irq intx"
  "legacy-msix|-M pc -t legacy --irq msix"
  "microvm-mmio_v1|-M microvm --mmio-version 1"
  "microvm-mmio_v2-intx|-M microvm --mmio-version 2 --irq intx"
  "modern-packed|-M q35 -t modern -p packed=on"
  "transitional-packed-event_idx_off|-M pc -t transitional -p packed=on,event_idx=off"
  "microvm-mmio_v2-packed-intx|-M microvm --mmio-version 2 -p packed=on --irq intx"
  "modern-packed-indirect|-M q35 -t modern -p packed=on --expect-indirect on"
  "legacy-any_layout_off-indirect-tx_frags_16|-M pc -t legacy -p any_layout=off -g tx_frags=16 --expect-indirect on"
  "modern-tap_vnet_hdr-tso|-M q35 -t modern --net tap --tap-vnet-hdr -g tso=1 -g buf=2048 --bulk 16384 --expect-offloads on"
  "modern-packed-tap_vnet_hdr-tso|-M q35 -t modern -p packed=on --net tap --tap-vnet-hdr -g tso=1 -g buf=2048 --bulk 16384 --expect-offloads on"
  "legacy-tap_vnet_hdr-csum|-M pc -t legacy --net tap --tap-vnet-hdr -g csum=1 --expect-offloads on"
)

# The replay fixtures of tests/replay/captures: name and runner options.
# Interrupt-driven runs convert with their interrupts (dev_msi, dev_intx).
capture_traces=(
  "legacy|-M pc -t legacy"
  "modern|-M pc -t modern"
  "modern-msix|-M q35 -t modern --irq msix"
  "legacy-intx|-M pc -t legacy --irq intx"
  "legacy-msix|-M pc -t legacy --irq msix"
  "microvm-mmio_v1|-M microvm --mmio-version 1"
  "microvm-mmio_v2-intx|-M microvm --mmio-version 2 --irq intx"
)

for part in "${parts[@]}"; do
  case "${part}" in
    mock)
      need "${build}/bin/vnet-record-mock"
      "${build}/bin/vnet-record-mock" --out corpus/traces/mock
      "${build}/bin/vnet-record-mock" --check corpus/traces/mock
      replay_all corpus/traces/mock | tail -1
      ;;
    qemu)
      need "${build}/bin/vnet-qemu"; need "${build}/bin/vnet-guest.elf"
      for entry in "${qemu_traces[@]}"; do
        name=${entry%%|*}
        case " ${only[*]:-${name}} " in *" ${name} "*) ;; *) continue ;; esac
        # shellcheck disable=SC2206
        opts=(${entry#*|})
        echo "== qemu ${name}: ${opts[*]}"
        "${build}/bin/vnet-qemu" --kernel "${build}/bin/vnet-guest.elf" -q -n 24 --max-size 256 \
          --seed 7 "${opts[@]}" --record "corpus/traces/qemu/${name}.jsonl"
      done
      replay_all corpus/traces/qemu | tail -1
      ;;
    captures)
      need "${build}/bin/vnet-qemu"; need "${build}/bin/trace2json"
      work=$(mktemp -d)
      for entry in "${capture_traces[@]}"; do
        t=${entry%%|*}
        case " ${only[*]:-${t}} " in *" ${t} "*) ;; *) continue ;; esac
        # shellcheck disable=SC2206
        opts=(${entry#*|})
        echo "== capture ${t}: ${opts[*]} -n 30 --max-size 512"
        # As the ctest qemu_capture_convert_<t> (tests/qemu/capture_convert.cmake).
        "${build}/bin/vnet-qemu" --kernel "${build}/bin/vnet-guest.elf" -q \
          --qemu-trace "${work}/${t}" "${opts[@]}" -n 30 --max-size 512
        # Uncompacted (format version 1): the capture tests compact them
        # themselves and compare both forms.
        "${build}/bin/trace2json" "${work}/${t}/qemu.log" --pcap "${work}/${t}/frames.pcap" \
          --no-compact -o "${work}/${t}/converted.jsonl" --cross-check "${work}/${t}/guest.jsonl" |
          grep -E "cross-check|agree"
        cp "${work}/${t}/converted.jsonl" "tests/replay/captures/${t}-capture.jsonl"
        "${build}/bin/vnet-replay" --no-progress --mode strict "tests/replay/captures/${t}-capture.jsonl" | grep -E "^(PASS|DIVERGED)"
        "${build}/bin/vnet-replay" --no-progress --mode device "tests/replay/captures/${t}-capture.jsonl" | grep -E "^(PASS|DIVERGED)|rx:"
      done
      rm -rf "${work}"
      ;;
    seeds)
      need "${fuzz_build}/bin/vnet-fuzz-seeds"
      ASAN_OPTIONS=detect_leaks=0 "${fuzz_build}/bin/vnet-fuzz-seeds" --root .
      replay_all corpus/traces/bugs | tail -1
      ;;
  esac
done
