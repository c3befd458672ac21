#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is
# missing, builds the `default` and `asan` presets, and runs every ctest
# label in both (unit, mock, qemu -- the guest is built only without
# sanitizers); then the `fuzz` preset (libFuzzer targets with ASan + UBSan),
# whose ctest preset runs the label `fuzz`: a short run of every target on
# its corpus, every corpus as a regression, the bug-class traces.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

failed=()
for preset in default asan fuzz; do
  echo "=== preset ${preset}: configure and build"
  cmake --preset "${preset}" >/dev/null
  cmake --build --preset "${preset}"
  echo "=== preset ${preset}: ctest"
  ctest --preset "${preset}" || failed+=("${preset}")
done

if [ ${#failed[@]} -ne 0 ]; then
  echo "test suite FAILED in preset(s): ${failed[*]}"
  exit 1
fi
echo "test suite passed in presets: default asan fuzz"
