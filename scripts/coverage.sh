#!/usr/bin/env bash
# Source-based coverage of the driver from the fuzz corpora (docs/fuzzing.md).
#
#   scripts/coverage.sh [BUILD_DIR]      (default build/coverage)
#
# Builds the fuzz targets with clang's -fprofile-instr-generate
# -fcoverage-mapping (no sanitizers), runs every target once over its
# corpus (corpus/fuzz/<target>/, plus BUILD_DIR/extra-corpus/<target>/ when
# present, e.g. a longer local run's corpus), merges the profiles and writes
#   BUILD_DIR/coverage-html/index.html   the HTML report of driver/
#   BUILD_DIR/coverage.txt               the per-file summary (llvm-cov report)
# and prints the driver's line coverage.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-${root}/build/coverage}"
llvm_suffix="${LLVM_SUFFIX:--14}"
targets=(fuzz_boundary fuzz_used_ring fuzz_config fuzz_rx fuzz_packed_ring)
flags="-O1 -g -fprofile-instr-generate -fcoverage-mapping"

cmake -S "${root}" -B "${build}" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER="clang${llvm_suffix}" -DCMAKE_CXX_COMPILER="clang++${llvm_suffix}" \
  -DCMAKE_ASM_COMPILER="clang${llvm_suffix}" \
  -DCMAKE_C_FLAGS="${flags}" -DCMAKE_CXX_FLAGS="${flags}" \
  -DCMAKE_C_FLAGS_RELEASE="" -DCMAKE_CXX_FLAGS_RELEASE="" \
  -DCMAKE_EXE_LINKER_FLAGS="-fprofile-instr-generate" \
  -DVNET_BUILD_FUZZ=ON -DVNET_BUILD_TESTS=OFF -DVNET_BUILD_BENCH=OFF -DVNET_BUILD_GUEST=OFF >/dev/null
cmake --build "${build}" --target "${targets[@]}" -j 2

profiles="${build}/profiles"
rm -rf "${profiles}"
mkdir -p "${profiles}"
objects=()
for t in "${targets[@]}"; do
  dirs=("${root}/corpus/fuzz/${t}")
  if [ -d "${build}/extra-corpus/${t}" ]; then dirs+=("${build}/extra-corpus/${t}"); fi
  LLVM_PROFILE_FILE="${profiles}/${t}-%p.profraw" "${build}/bin/${t}" -runs=0 "${dirs[@]}" \
    >"${profiles}/${t}.log" 2>&1
  objects+=(-object "${build}/bin/${t}")
done
"llvm-profdata${llvm_suffix}" merge -sparse "${profiles}"/*.profraw -o "${build}/fuzz.profdata"

sources=("${root}/driver")
"llvm-cov${llvm_suffix}" show "${objects[@]:1}" -instr-profile="${build}/fuzz.profdata" \
  -format=html -output-dir="${build}/coverage-html" -show-line-counts-or-regions "${sources[@]}"
"llvm-cov${llvm_suffix}" report "${objects[@]:1}" -instr-profile="${build}/fuzz.profdata" \
  "${sources[@]}" | tee "${build}/coverage.txt"
line=$(awk '/^TOTAL/ {print $(NF-3)}' "${build}/coverage.txt")
echo "driver line coverage: ${line} (report: ${build}/coverage-html/index.html)"
# Device-facing: every driver line but the functions that
# scripts/coverage-exclusions.txt names with the reason no device value
# reaches them; the uncovered lines that count are listed.
"llvm-cov${llvm_suffix}" export "${objects[@]:1}" -instr-profile="${build}/fuzz.profdata" \
  -format=text "${sources[@]}" >"${build}/coverage-export.json"
"llvm-cov${llvm_suffix}" show "${objects[@]:1}" -instr-profile="${build}/fuzz.profdata" \
  -show-line-counts "${sources[@]}" >"${build}/coverage-lines.txt"
python3 "${root}/scripts/coverage_device_facing.py" "${build}/coverage-export.json" \
  "${build}/coverage-lines.txt" "${root}/scripts/coverage-exclusions.txt" "${root}" \
  | tee "${build}/coverage-device-facing.txt"
