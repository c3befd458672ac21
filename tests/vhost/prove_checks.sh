#!/usr/bin/env bash
# Every input check of the vhost-user front end (issue 17) and back end
# (issue 18) is caught by a test (the project rule: removing a check must
# make a test fail).
#
#   tests/vhost/prove_checks.sh [--list FILE --target TESTS] [--only id,id] [--out DIR]
#
# Copies HEAD (git archive) to DIR/src, builds the test binary there
# (default preset's options, no guest), then for each mutant of the list
# applies it alone, rebuilds, runs the suite and prints the tests that
# failed ("SURVIVED" when none did). The working tree is never touched.
# Exit 1 when a mutant survived. Defaults: tests/vhost/vhost-mutants.json
# with vhost_front_end_tests; the back end's list is
# --list tests/vhost/backend-mutants.json --target vhost_backend_tests.
set -uo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
out="${repo}/build/vhost-mutants"
only=""
list_rel="tests/vhost/vhost-mutants.json"
target="vhost_front_end_tests"
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only="$2"; shift ;;
    --out) out="$2"; shift ;;
    --list) list_rel="$2"; shift ;;
    --target) target="$2"; shift ;;
    *) echo "usage: $0 [--list FILE --target TESTS] [--only id,id] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done
src="${out}/src"
rm -rf "${src}"
mkdir -p "${src}"
git -C "${repo}" archive HEAD | tar -x -C "${src}"
cmake -S "${src}" -B "${out}/build" -G Ninja -DCMAKE_C_COMPILER=clang-14 \
  -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_ASM_COMPILER=clang-14 \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVNET_BUILD_TESTS=ON -DVNET_BUILD_GUEST=OFF \
  -DVNET_BUILD_BENCH=OFF >/dev/null || exit 2
ninja -C "${out}/build" -j2 "${target}" >/dev/null || exit 2
list="${src}/${list_rel}"
survived=0
for id in $(jq -r '.mutants[].id' "${list}"); do
  if [ -n "${only}" ] && [[ ",${only}," != *",${id},"* ]]; then continue; fi
  file=$(jq -r --arg id "${id}" '.mutants[] | select(.id == $id) | .file' "${list}")
  cp "${src}/${file}" "${out}/orig"
  if ! python3 - "${list}" "${id}" "${src}/${file}" <<'PY'
import json, sys
m = next(x for x in json.load(open(sys.argv[1]))["mutants"] if x["id"] == sys.argv[2])
text = open(sys.argv[3]).read()
if text.count(m["snippet"]) != 1:
    sys.exit("snippet not exactly once")
open(sys.argv[3], "w").write(text.replace(m["snippet"], m["replacement"]))
PY
  then
    echo "${id}: BAD SNIPPET"; survived=1; continue
  fi
  if ! ninja -C "${out}/build" -j2 "${target}" >"${out}/build.log" 2>&1; then
    echo "${id}: DOES NOT COMPILE"; survived=1
  else
    timeout 300 "${out}/build/bin/${target}" >"${out}/test.log" 2>&1
    rc=$?
    failed=$(sed -n 's/^\[  FAILED  \] \([^ ,]*\).*/\1/p' "${out}/test.log" | grep -v '^[0-9]*$' |
      sort -u | tr '\n' ' ')
    # A crash (or a hang) kills the mutant too: the suite did not pass.
    running=$(sed -n 's/^\[ RUN      \] //p' "${out}/test.log" | tail -n 1)
    if [ -n "${failed}" ]; then echo "${id}: killed by ${failed}"
    elif [ "${rc}" -ne 0 ]; then echo "${id}: killed by a crash (exit ${rc}) in ${running}"
    else echo "${id}: SURVIVED"; survived=1; fi
  fi
  cp "${out}/orig" "${src}/${file}"
done
ninja -C "${out}/build" -j2 "${target}" >/dev/null
exit "${survived}"
