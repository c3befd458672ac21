#!/usr/bin/env bash
# Builds the fuzz targets the OSS-Fuzz / ClusterFuzzLite way (docs/fuzzing.md).
#
#   CC CXX CFLAGS CXXFLAGS   compilers and flags (sanitizers, coverage
#                            instrumentation: -fsanitize=fuzzer-no-link,...)
#   LIB_FUZZING_ENGINE       how to link a fuzz target (-fsanitize=fuzzer)
#   OUT                      where targets, seed corpora
#                            (<target>_seed_corpus.zip), .options and .dict go
#   SRC                      unused: the tree is found relative to this script
#
# Local use, with the defaults below: fuzz/build.sh  (writes build/oss-fuzz/out)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
: "${CC:=clang-14}"
: "${CXX:=clang++-14}"
: "${CFLAGS:=-O1 -fno-omit-frame-pointer -gline-tables-only -fsanitize=address,undefined -fsanitize=fuzzer-no-link}"
: "${CXXFLAGS:=${CFLAGS}}"
: "${LIB_FUZZING_ENGINE:=-fsanitize=fuzzer}"
: "${OUT:=${root}/build/oss-fuzz/out}"
work="${WORK:-${root}/build/oss-fuzz/work}"

# The driver is built without RTTI: UBSan's vptr (and, on older clang,
# function) checks need it, so they stay off whatever the environment asks.
extra="-fno-sanitize=vptr,function"
targets=(fuzz_boundary fuzz_boundary_typed fuzz_used_ring fuzz_config fuzz_rx fuzz_packed_ring fuzz_ctrl
         fuzz_trace fuzz_vhost_reply fuzz_vhost_backend)

mkdir -p "${OUT}" "${work}"
cmake -S "${root}" -B "${work}" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER="${CC}" -DCMAKE_CXX_COMPILER="${CXX}" -DCMAKE_ASM_COMPILER="${CC}" \
  -DCMAKE_C_FLAGS="${CFLAGS} ${extra}" -DCMAKE_CXX_FLAGS="${CXXFLAGS} ${extra}" \
  -DCMAKE_C_FLAGS_RELEASE="" -DCMAKE_CXX_FLAGS_RELEASE="" \
  -DVNET_BUILD_FUZZ=ON -DVNET_FUZZ_ENGINE="${LIB_FUZZING_ENGINE}" \
  -DVNET_BUILD_TESTS=OFF -DVNET_BUILD_BENCH=OFF -DVNET_BUILD_GUEST=OFF
cmake --build "${work}" --target "${targets[@]}" -j "${FUZZ_BUILD_JOBS:-2}"

for t in "${targets[@]}"; do
  cp "${work}/bin/${t}" "${OUT}/"
  cp "${root}/fuzz/options/${t}.options" "${OUT}/"
  if [ -f "${root}/fuzz/options/${t}.dict" ]; then cp "${root}/fuzz/options/${t}.dict" "${OUT}/"; fi
  rm -f "${OUT}/${t}_seed_corpus.zip"
  (cd "${root}/corpus/fuzz/${t}" && zip -q -j -X "${OUT}/${t}_seed_corpus.zip" ./*)
done
echo "fuzz targets, options, dictionaries and seed corpora in ${OUT}"
