#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is
# missing, builds the `default` and `asan` presets, and runs every ctest
# label in both (unit, mock, replay, qemu -- the guest is built only without
# sanitizers); then the `tsan` preset, which builds only the threaded mock
# world (threaded_tests: rx, tx and control threads against a resetting,
# lying device) under ThreadSanitizer and runs its label `threads`; then the
# `fuzz` preset (libFuzzer targets with ASan + UBSan), whose ctest preset
# runs the label `fuzz`: a short run of every target on its corpus, every
# corpus as a regression, the bug-class traces.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

presets=(default asan tsan fuzz)
failed=()
for preset in "${presets[@]}"; do
  # clang-14's ThreadSanitizer cannot place its shadow memory when the kernel
  # randomises mmap with more than 28 bits (vm.mmap_rnd_bits; newer kernels
  # default to 32): that preset then runs without ASLR. The build runs the
  # test executable too (gtest discovery), so both steps are wrapped.
  run=()
  if [ "${preset}" = tsan ] && [ "$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0)" -gt 28 ]; then
    run=(setarch "$(uname -m)" -R)
  fi
  echo "=== preset ${preset}: configure and build"
  cmake --preset "${preset}" >/dev/null
  "${run[@]}" cmake --build --preset "${preset}"
  echo "=== preset ${preset}: ctest"
  "${run[@]}" ctest --preset "${preset}" || failed+=("${preset}")
  if [ "${preset}" = default ]; then "build/${preset}/bin/vnet-specmap" || true; fi  # spec map summary
done

if [ ${#failed[@]} -ne 0 ]; then
  echo "test suite FAILED in preset(s): ${failed[*]}"
  exit 1
fi
echo "test suite passed in presets: ${presets[*]}"
