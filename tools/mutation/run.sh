#!/usr/bin/env bash
# Mutation score of the driver's hardening code (issue 10, item 7;
# docs/mutation.md).
#
# Each entry of driver/hardening-mutants.json removes or weakens one
# device-facing check (or one barrier of the ring code). For every mutant in
# turn this script applies it to a private copy of the source tree (never to
# the working tree), rebuilds the fuzz targets incrementally, runs each fuzz
# target for a bounded time from its shipped corpus and stops at the first
# finding; the finding's input is then run once more with VNET_FUZZ_TRACE
# and the trace replayed with the mutated vnet-replay. With --tests the
# driver's unit, mock and replay tests run against the mutant as well.
#
#   tools/mutation/run.sh --check-list        the list is sound (ctest `mutation.check_list`)
#   tools/mutation/run.sh --compile-check     every mutant compiles (no fuzzing)
#   tools/mutation/run.sh --only id,id        a subset
#   tools/mutation/run.sh                     the whole campaign (hours)
#
# Output: <out>/report.json and <out>/report.md (default out: build/mutation),
# rewritten after every mutant; per-mutant logs under <out>/work/<id>/.
set -uo pipefail

usage() {
  cat <<'EOF'
usage: tools/mutation/run.sh [options]
  --check-list           verify the mutant list and exit (exit 1 when it rotted)
  --verbose              with --check-list: also print the `if (` lines of the
                         device-facing files that no mutant covers
  --compile-check        apply each selected mutant and build only the driver
                         archive (no sanitizers): every mutant must compile
  --list                 print the selected mutants and exit
  --report-only          rewrite report.{json,md} from <out>/results.jsonl and exit
  --only ID[,ID...]      run only these mutants
  --kind KIND[,KIND...]  run only these kinds (memory, logic, conformance, barrier)
  --include-equivalent   also run mutants marked "equivalent" (skipped by default)
  --targets T[,T...]     fuzz targets, in order (default:
                         fuzz_config,fuzz_used_ring,fuzz_rx,fuzz_boundary,
                         fuzz_packed_ring; a
                         mutant's own "targets" are tried first)
  --seconds N            fuzzing time per target (default 60)
  --all-targets          run every target even after one found the mutant
  --tests                also build the default preset (tests only) and run the
                         labels unit|mock|replay against each mutant
  --baseline             fuzz the unmutated driver first (default: only when
                         no --only is given); --no-baseline to skip
  --rev REV              mutate the tree of commit REV (git archive) instead of
                         the working tree
  --strict               exit 1 unless every mutant run was found by a fuzz
                         target within the budget and the baseline is clean
  --out DIR              output and build directory (default build/mutation)
  --jobs N               build parallelism (default 2)
  -h, --help             this text
EOF
}

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="${VNET_MUTATION_REPO:-$(cd "${script_dir}/../.." && pwd)}"
orig_args=("$@")
list_rel="driver/hardening-mutants.json"

mode=run
verbose=0
only=""
kinds=""
include_equivalent=0
targets_csv="fuzz_config,fuzz_used_ring,fuzz_rx,fuzz_boundary,fuzz_packed_ring"
seconds=60
all_targets=0
with_tests=0
baseline=auto
rev=""
out="${repo}/build/mutation"
jobs=2
strict=0

while [ $# -gt 0 ]; do
  case "$1" in
    --check-list) mode=check ;;
    --verbose) verbose=1 ;;
    --compile-check) mode=compile ;;
    --list) mode=list ;;
    --report-only) mode=report ;;
    --only) only="$2"; shift ;;
    --kind) kinds="$2"; shift ;;
    --include-equivalent) include_equivalent=1 ;;
    --targets) targets_csv="$2"; shift ;;
    --seconds) seconds="$2"; shift ;;
    --all-targets) all_targets=1 ;;
    --tests) with_tests=1 ;;
    --baseline) baseline=yes ;;
    --no-baseline) baseline=no ;;
    --rev) rev="$2"; shift ;;
    --strict) strict=1 ;;
    --out) out="$2"; shift ;;
    --jobs) jobs="$2"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

command -v jq >/dev/null || { echo "run.sh: jq is required (scripts/setup.sh installs it)" >&2; exit 2; }
# Absolute: the script works in the mutated copy's directory at times.
out=$(realpath -m "${out}")

# A campaign runs for hours and bash reads its script as it goes: run from a
# private copy, so that editing (or checking out) tools/mutation/run.sh
# meanwhile cannot derail it.
if [ "${mode}" != check ] && [ "${mode}" != report ] && [ -z "${VNET_MUTATION_REPO:-}" ]; then
  mkdir -p "${out}"
  cp "${BASH_SOURCE[0]}" "${out}/.run.sh"
  VNET_MUTATION_REPO="${repo}" exec bash "${out}/.run.sh" "${orig_args[@]}"
fi

log() { printf '[mutation %s] %s\n' "$(elapsed)" "$*" >&2; }
t_start=$(date +%s)
elapsed() {
  local s=$(($(date +%s) - t_start))
  printf '%d:%02d:%02d' $((s / 3600)) $((s / 60 % 60)) $((s % 60))
}
now() { date +%s.%N; }
secs_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- the list

# check_list ROOT: every entry well formed, ids unique, each snippet exactly
# once in its file, every barrier call of driver/virtqueue/ covered by a
# barrier mutant. Prints problems; returns non-zero when there are any.
check_list() {
  local root="$1" list="$1/${list_rel}" bad=0
  if ! jq -e '.mutants | type == "array" and length > 0' "${list}" >/dev/null 2>&1; then
    echo "check-list: ${list_rel} is not valid JSON with a non-empty .mutants array" >&2
    return 1
  fi
  # Shape, kinds, ids.
  local shape
  shape=$(jq -r '
    .mutants | to_entries[] | .key as $i | .value as $m
    | (["id","file","kind","snippet","replacement","description"][]
       | select(($m[.] | type) != "string") | "entry \($i) (\($m.id // "?")): field \(.) missing or not a string"),
      (select(($m.kind // "") | IN("memory","logic","conformance","barrier") | not)
       | "entry \($i) (\($m.id)): kind \($m.kind) is not memory, logic, conformance or barrier"),
      (select(($m.snippet // "") == ($m.replacement // "")) | "entry \($i) (\($m.id)): replacement equals snippet"),
      (select(($m.id // "") | test("^[a-z0-9_.]+$") | not) | "entry \($i): id \($m.id) must match [a-z0-9_.]+"),
      (select(($m.targets // []) | type != "array") | "entry \($i) (\($m.id)): targets must be an array")
    ' "${list}")
  local dups
  dups=$(jq -r '[.mutants[].id] | group_by(.) | map(select(length > 1) | .[0]) | .[] | "duplicate id \(.)"' "${list}")
  if [ -n "${shape}${dups}" ]; then
    printf 'check-list: %s\n' ${shape:+"${shape}"} ${dups:+"${dups}"} >&2
    bad=1
  fi
  # Snippets: exactly once, per file (one jq call per file).
  local file
  while IFS= read -r file; do
    if [ ! -f "${root}/${file}" ]; then
      echo "check-list: ${file}: no such file" >&2
      bad=1
      continue
    fi
    local problems
    if ! problems=$(jq -r --rawfile c "${root}/${file}" --arg f "${file}" '
      .mutants[] | select(.file == $f) | .snippet as $s
      | (($c | split($s) | length) - 1) as $n
      | select($n != 1)
      | "\(.id): snippet occurs \($n) times in \($f) (must be exactly once): \($s | split("\n")[0])"' "${list}"); then
      echo "check-list: jq failed on ${file}" >&2
      bad=1
    elif [ -n "${problems}" ]; then
      printf 'check-list: %s\n' "${problems}" >&2
      bad=1
    fi
  done < <(jq -r '[.mutants[].file] | unique[]' "${list}")
  # Every barrier of the ring code has its mutant.
  local f rel
  for f in "${root}"/driver/virtqueue/*.cc "${root}"/driver/virtqueue/*.h; do
    [ -f "$f" ] || continue
    rel="${f#"${root}"/}"
    local have covered
    read -r have covered < <(jq -r --rawfile c "$f" --arg f "${rel}" '
      def calls: ((split("order(Barrier::") | length) - 1) + ((split("->barrier(") | length) - 1);
      "\($c | calls) \([.mutants[] | select(.file == $f and .kind == "barrier") | .snippet | calls] | add // 0)"' "${list}")
    if [ "${have}" != "${covered}" ]; then
      echo "check-list: ${rel}: ${have} barrier call(s), but barrier mutants cover ${covered}" >&2
      bad=1
    fi
  done
  if [ "${verbose}" = 1 ]; then
    # Informational: `if (` lines of the device-facing files no snippet covers.
    local dev_files=(driver/net/virtio_net.cc driver/virtqueue/split_queue.cc driver/virtqueue/split_queue.h
      driver/transport/pci_modern.cc driver/transport/pci_legacy.cc driver/transport/pci_probe.cc
      driver/transport/transport.h driver/platform/bounce_platform.cc)
    for rel in "${dev_files[@]}"; do
      [ -f "${root}/${rel}" ] || continue
      jq -r --rawfile c "${root}/${rel}" --arg f "${rel}" '
        [.mutants[] | select(.file == $f) | .snippet] as $snips
        | $c | split("\n") | to_entries[]
        | select(.value | test("\\bif \\(|\\? "))
        | (.value | gsub("^\\s+|\\s+$"; "")) as $line
        | select([$snips[] | . as $s | ($s | contains($line)) or ($line | contains($s | split("\n")[0] | gsub("^\\s+|\\s+$"; "")))] | any | not)
        | "uncovered \($f):\(.key + 1): \($line)"' "${list}"
    done
  fi
  local n eq
  n=$(jq '.mutants | length' "${list}")
  eq=$(jq '[.mutants[] | select(.equivalent)] | length' "${list}")
  if [ "${bad}" = 0 ]; then
    echo "check-list: ${n} mutants (${eq} marked equivalent), every snippet unique in its file, every ring barrier covered"
  fi
  return "${bad}"
}

if [ "${mode}" = check ]; then
  check_list "${repo}"
  exit $?
fi

# ---------------------------------------------------------------- reports

results_file="${out}/results.jsonl"
meta_file="${out}/meta.json"

# report.json and report.md from results.jsonl (one object per mutant) and
# the campaign's settings (meta.json).
write_reports() {
  jq -s --arg source "${source_desc}" --argjson seconds "${seconds}" --arg targets "${targets_csv}" \
    --arg skipped "${skipped_equivalent}" --argjson baseline "${baseline_json}" \
    --arg total "${list_size}" --argjson tests "${with_tests}" '
    def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
                else (.[length / 2 - 1] + .[length / 2]) / 2 end;
    . as $r
    | ($r | map(select(.equivalent | not))) as $scored
    | ($scored | map(select(.found and .seconds <= $seconds))) as $hit
    | {generated_by: "tools/mutation/run.sh", source: $source, seconds_per_target: $seconds,
       targets: ($targets | split(",")), list_size: ($total | tonumber),
       equivalent_skipped: ($skipped | split(",") | map(select(. != ""))),
       baseline: $baseline, tests_run: ($tests == 1),
       score: {found: ($hit | length), of: ($scored | length),
               text: "\($hit | length)/\($scored | length)",
               median_seconds: ($hit | map(.seconds) | median), max_seconds: ($hit | map(.seconds) | max),
               median_wall_seconds: ($hit | map(.wall_seconds) | median), max_wall_seconds: ($hit | map(.wall_seconds) | max),
               caught_by_tests: (if $tests == 1 then ($scored | map(select((.tests.failed | length) > 0)) | length) else null end),
               caught_by_nothing: (if $tests == 1 then ($scored | map(select((.found | not) and (.tests.failed | length) == 0)) | length) else null end)},
       mutants: $r}
    | walk(if type == "string" then (split($srcdir) | join("")) | (split($repodir) | join("")) else . end)
    ' --arg srcdir "${src}/" --arg repodir "${repo}/" "${results_file}" >"${out}/report.json"
  jq -r '
    def f: if . == null then "-" else tostring end;
    def cell: tostring | gsub("\\|"; "\\|") | gsub("\n"; " ");
    "# Mutation score of the driver'"'"'s hardening code\n",
    "Source: \(.source). Fuzzing \(.seconds_per_target) s per target (\(.targets | join(", "))), from the shipped corpora.",
    "",
    "**Score: \(.score.text)** mutants found by a fuzz target within \(.seconds_per_target) s; time to find (that target'"'"'s run): median \(.score.median_seconds | f) s, max \(.score.max_seconds | f) s; wall until found (earlier targets included): median \(.score.median_wall_seconds | f) s, max \(.score.max_wall_seconds | f) s."
      + (if .tests_run then " Caught by a test: \(.score.caught_by_tests); caught by nothing: \(.score.caught_by_nothing)." else "" end),
    "",
    "The list holds \(.list_size) mutants; this run: \(.mutants | length)."
      + (if (.equivalent_skipped | length) > 0 then " Skipped as equivalent: \(.equivalent_skipped | join(", "))." else "" end),
    (if (.baseline | length) > 0 then "Baseline (unmutated): " + (.baseline | map("\(.target) \(.result)") | join(", ")) + "." else empty end),
    "",
    "| mutant | kind | found by | s (target) | s (wall) | finding | replay | tests failing |",
    "|---|---|---|---|---|---|---|---|",
    (.mutants[] |
      "| `\(.id)` | \(.kind) | \(if .build != "ok" then "build \(.build)" elif .found then .found_by + (if .in_seed_corpus then " (seed)" else "" end) else "**not found**" end) | \(.seconds | f) | \(.wall_seconds | f) | \((.finding_kind // "-") + (if .driver_frame then " at " + .driver_frame else "" end) | cell) | \(.replay.result // "-") | \(if .tests == null then "-" elif (.tests.failed | length) == 0 then "none" else "\(.tests.failed | length): \(.tests.failed[0:3] | join(", "))" end | cell) |")
    ' "${out}/report.json" >"${out}/report.md"
}


if [ "${mode}" = report ]; then
  [ -f "${results_file}" ] && [ -f "${meta_file}" ] || { echo "run.sh: no campaign in ${out}" >&2; exit 2; }
  source_desc=$(jq -r .source "${meta_file}")
  seconds=$(jq -r .seconds "${meta_file}")
  targets_csv=$(jq -r .targets "${meta_file}")
  skipped_equivalent=$(jq -r .skipped "${meta_file}")
  baseline_json=$(jq -c .baseline "${meta_file}")
  list_size=$(jq -r .list_size "${meta_file}")
  with_tests=$(jq -r .tests "${meta_file}")
  src="${out}/src"
  write_reports
  echo "run.sh: ${out}/report.md, ${out}/report.json rewritten"
  exit 0
fi

# ---------------------------------------------------------------- the copy

src="${out}/src"
mkdir -p "${out}"
exec 9>"${out}/.lock"
if ! flock -n 9; then
  echo "run.sh: another campaign holds ${out}/.lock" >&2
  exit 2
fi

# sync_tree FROM LISTFILE: make ${src} hold exactly the files named in
# LISTFILE (relative to FROM), copying only files whose content changed, so
# that the incremental builds recompile only what differs.
sync_tree() {
  local from="$1" listfile="$2" rel
  mkdir -p "${src}"
  while IFS= read -r rel; do
    [ -f "${from}/${rel}" ] || continue
    if ! cmp -s "${from}/${rel}" "${src}/${rel}"; then
      mkdir -p "$(dirname "${src}/${rel}")"
      cp "${from}/${rel}" "${src}/${rel}"
    fi
  done <"${listfile}"
  # Files that are gone upstream go here too.
  (cd "${src}" && find . -type f | sed 's|^\./||' | sort) >"${out}/.have"
  sort "${listfile}" | comm -13 - "${out}/.have" | while IFS= read -r rel; do rm -f "${src}/${rel}"; done
}

source_desc=""
prepare_source() {
  local files="${out}/.files"
  if [ -n "${rev}" ]; then
    local commit stage="${out}/stage"
    commit=$(git -C "${repo}" rev-parse --verify "${rev}^{commit}") || { echo "run.sh: no commit ${rev}" >&2; exit 2; }
    rm -rf "${stage}"
    mkdir -p "${stage}"
    git -C "${repo}" archive "${commit}" | tar -x -C "${stage}"
    (cd "${stage}" && find . -type f | sed 's|^\./||' | sort) >"${files}"
    sync_tree "${stage}" "${files}"
    rm -rf "${stage}"
    source_desc="commit ${commit}"
  else
    (cd "${repo}" && git ls-files -co --exclude-standard | grep -v '^build/' | sort) >"${files}"
    sync_tree "${repo}" "${files}"
    local head dirty
    head=$(git -C "${repo}" rev-parse HEAD)
    dirty=$(git -C "${repo}" status --porcelain --untracked-files=no -- driver | wc -l)
    source_desc="working tree at ${head}$([ "${dirty}" != 0 ] && echo " (driver/ has ${dirty} uncommitted change(s))")"
  fi
}

log "copying the source ($([ -n "${rev}" ] && echo "commit ${rev}" || echo "working tree")) to ${src}"
prepare_source
list="${src}/${list_rel}"
if ! check_list "${src}" >/dev/null; then
  check_list "${src}"
  echo "run.sh: the mutant list does not match the source; fix it first" >&2
  exit 1
fi

# Selected mutants (ids, in list order).
select_filter='
  ($only | split(",") | map(select(. != ""))) as $ids
  | ($kinds | split(",") | map(select(. != ""))) as $ks
  | .mutants[]
  | select(($ids | length) == 0 or (.id | IN($ids[])))
  | select(($ks | length) == 0 or (.kind | IN($ks[])))
  | select($eq == 1 or ($ids | length) > 0 or (.equivalent | not))
  | .id'
mapfile -t selected < <(jq -r --arg only "${only}" --arg kinds "${kinds}" --argjson eq "${include_equivalent}" "${select_filter}" "${list}")
if [ -n "${only}" ]; then
  for id in ${only//,/ }; do
    jq -e --arg id "${id}" 'any(.mutants[]; .id == $id)' "${list}" >/dev/null ||
      { echo "run.sh: no mutant ${id} in ${list_rel}" >&2; exit 2; }
  done
fi
skipped_equivalent=$(jq -r --arg only "${only}" --argjson eq "${include_equivalent}" \
  '[.mutants[] | select(.equivalent and $eq == 0 and ($only == ""))] | map(.id) | join(",")' "${list}")
[ ${#selected[@]} -gt 0 ] || { echo "run.sh: no mutant selected" >&2; exit 2; }

mfield() { jq -r --arg id "$1" --arg f "$2" '.mutants[] | select(.id == $id) | .[$f] // empty | if type == "array" then join(",") else . end' "${list}"; }

if [ "${mode}" = list ]; then
  for id in "${selected[@]}"; do
    printf '%-32s %-12s %-36s %s\n' "${id}" "$(mfield "${id}" kind)" "$(mfield "${id}" file)" "$(mfield "${id}" description)"
  done
  exit 0
fi

# apply_mutant ID: writes the mutated file into the copy. restore_file FILE:
# back to the pristine content (a fresh mtime, so the build recompiles it).
pristine="${out}/.pristine"
current_file=""
apply_mutant() {
  local id="$1" file
  file=$(mfield "${id}" file)
  mkdir -p "$(dirname "${pristine}/${file}")"
  cp "${src}/${file}" "${pristine}/${file}"
  current_file="${file}"
  jq -j --rawfile c "${src}/${file}" --arg id "${id}" \
    '.mutants[] | select(.id == $id) | . as $m | $c | split($m.snippet) | join($m.replacement)' \
    "${list}" >"${src}/${file}.mutant" && mv "${src}/${file}.mutant" "${src}/${file}"
}
restore_file() {
  if [ -n "${current_file}" ] && [ -f "${pristine}/${current_file}" ]; then
    cp "${pristine}/${current_file}" "${src}/${current_file}"
    rm -f "${pristine}/${current_file}"
  fi
  current_file=""
}
cleanup() { restore_file; }
trap cleanup EXIT
trap 'restore_file; echo "run.sh: interrupted" >&2; exit 130' INT TERM

# ---------------------------------------------------------------- builds

fuzz_dir="${out}/fuzz"
default_dir="${out}/default"
IFS=, read -r -a targets <<<"${targets_csv}"
# Every test binary of the unit, mock and replay labels (a binary left out
# would show as "Not Run" on both sides and hide what it would find).
test_targets=(vnet_driver driver_unit_tests driver_mock_tests hostile_host_tests threaded_tests
  interrupt_tests mmio_tests indirect_tests packed_ring_tests in_order_integration_tests
  ctrl_plane_integration_tests multiqueue_integration_tests offload_integration_tests
  scenario_tests vnet-mock replay_tests vnet-replay vnet-record-mock mock_device_tests
  ctrl_plane_tests offload_tests spec_map_tests replay_unit_tests trace2json_tests)

configure_fuzz() {
  [ -f "${fuzz_dir}/build.ninja" ] && return 0
  log "configuring ${fuzz_dir} (preset fuzz)"
  cmake -S "${src}" --preset fuzz -B "${fuzz_dir}" >"${out}/configure-fuzz.log" 2>&1 ||
    { cat "${out}/configure-fuzz.log" >&2; return 1; }
}
configure_default() {
  [ -f "${default_dir}/build.ninja" ] && return 0
  log "configuring ${default_dir} (preset default, tests only)"
  cmake -S "${src}" --preset default -B "${default_dir}" -DVNET_BUILD_GUEST=OFF -DVNET_BUILD_BENCH=OFF \
    >"${out}/configure-default.log" 2>&1 || { cat "${out}/configure-default.log" >&2; return 1; }
}
build_fuzz() { cmake --build "${fuzz_dir}" -j "${jobs}" --target "${targets[@]}" vnet-replay >"$1" 2>&1; }
build_tests() { cmake --build "${default_dir}" -j "${jobs}" --target "${test_targets[@]}" >"$1" 2>&1; }

if [ "${mode}" = compile ]; then
  configure_default || exit 1
  log "building the unmutated driver archive"
  cmake --build "${default_dir}" -j "${jobs}" --target vnet_driver >"${out}/compile-base.log" 2>&1 ||
    { tail -20 "${out}/compile-base.log" >&2; exit 1; }
  fails=0
  for id in "${selected[@]}"; do
    apply_mutant "${id}"
    if cmake --build "${default_dir}" -j "${jobs}" --target vnet_driver >"${out}/compile-${id}.log" 2>&1; then
      echo "compiles  ${id}"
      rm -f "${out}/compile-${id}.log"
    else
      echo "FAILS     ${id} (${out}/compile-${id}.log)"
      fails=$((fails + 1))
    fi
    restore_file
  done
  cmake --build "${default_dir}" -j "${jobs}" --target vnet_driver >/dev/null 2>&1
  echo "compile-check: ${#selected[@]} mutants, ${fails} do not compile"
  [ "${fails}" = 0 ]
  exit $?
fi

# ---------------------------------------------------------------- fuzzing

opt_max_len() { sed -n 's/^max_len *= *//p' "${src}/fuzz/options/$1.options"; }

# classify LOG: one word for the finding's kind.
classify() {
  local l="$1"
  case "${l}" in
    *"FINDING "*) sed -E 's/.*FINDING ([^:]*):.*/oracle:\1/' <<<"${l}" ;;
    *"AddressSanitizer: "*) sed -E 's/.*AddressSanitizer: ([a-zA-Z-]+).*/asan:\1/' <<<"${l}" ;;
    *"LeakSanitizer"*) echo "lsan:leak" ;;
    *"runtime error:"*) echo "ubsan" ;;
    *"libFuzzer: timeout"*) echo "timeout" ;;
    *"out-of-memory"*) echo "oom" ;;
    *"deadly signal"*) echo "signal" ;;
    *) echo "crash" ;;
  esac
}

# fuzz_one TARGET WORKDIR [ATTRIBUTE]: runs the (current) TARGET for
# ${seconds} s from its shipped corpus, stopping at the first finding; writes
# WORKDIR/result.json. With ATTRIBUTE=1 a finding counts only if its input
# runs clean on the unmutated target (${base_bin}); one that does not is set
# aside and the target restarted for the rest of its time, from the inputs
# it found so far (at most 5 restarts).
fuzz_one() {
  local target="$1" work="$2" attribute="${3:-0}"
  rm -rf "${work}"
  mkdir -p "${work}/new" "${work}/artifacts" "${work}/not-the-mutant"
  local t0 t1 rc run=0 left artifact="" log="" result=clean line="" kind="" frame="" seed=false execs=0 e
  local set_aside=()
  t0=$(now)
  while :; do
    left=$(awk -v a="${t0}" -v b="$(now)" -v s="${seconds}" 'BEGIN { printf "%d", s - (b - a) + 0.5 }')
    if [ "${run}" -gt 0 ] && { [ "${left}" -lt 3 ] || [ "${run}" -gt 5 ]; }; then break; fi
    log="${work}/fuzz-${run}.log"
    local args=(-max_len="$(opt_max_len "${target}")" -max_total_time="${left}" -timeout=10
      -artifact_prefix="${work}/artifacts/" -print_final_stats=1)
    [ -f "${src}/fuzz/options/${target}.dict" ] && args+=(-dict="${src}/fuzz/options/${target}.dict")
    (
      ulimit -c 0
      ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        timeout -k 10 $((left + 180)) "${fuzz_dir}/bin/${target}" "${work}/new" "${src}/corpus/fuzz/${target}" \
        "${args[@]}" >"${log}" 2>&1
    ) 2>/dev/null
    rc=$?
    t1=$(now)
    e=$(sed -n 's/^stat::number_of_executed_units: *//p' "${log}" | tail -1)
    execs=$((execs + ${e:-0}))
    artifact=$(find "${work}/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | head -1)
    if [ -z "${artifact}" ] && [ "${rc}" != 0 ] && ! grep -q 'INITED' "${log}" &&
      grep -qE 'FINDING|ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "${log}"; then
      # The target died on its seed corpus before libFuzzer could name the
      # input (no artifact): run the corpus files one by one, the last
      # "Running:" line before the report is the culprit.
      (
        ulimit -c 0
        find "${src}/corpus/fuzz/${target}" -type f -print0 | sort -z |
          ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1 \
            xargs -0 timeout -k 10 300 "${fuzz_dir}/bin/${target}" -timeout=10 >"${log}.locate" 2>&1
      ) 2>/dev/null
      local culprit
      culprit=$(sed -n 's/^Running: //p' "${log}.locate" | tail -1)
      if [ -n "${culprit}" ] && [ -f "${culprit}" ]; then
        artifact="${work}/artifacts/crash-seed-$(basename "${culprit}")"
        cp "${culprit}" "${artifact}"
      fi
    fi
    if [ -n "${artifact}" ]; then
      line=$(grep -m1 -E 'FINDING|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "${log}" | cut -c1-300)
      if [ "${attribute}" = 1 ] && ! (ulimit -c 0; ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 timeout -k 5 120 \
        "${base_bin}/${target}" -runs=1 -timeout=10 "${artifact}" >"${work}/unmutated-${run}.log" 2>&1) 2>/dev/null; then
        # The unmutated driver fails on it too: not the mutant's finding.
        set_aside+=("${line}")
        mv "${artifact}" "${work}/not-the-mutant/"
        artifact=""
        line=""
        run=$((run + 1))
        continue
      fi
      result=found
      kind=$(classify "${line}")
      frame=$(grep -m1 -oE '/driver/[a-z_/]+\.(cc|h):[0-9]+' "${log}" | sed 's|^/||')
      [ "${run}" = 0 ] && ! grep -q 'INITED' "${log}" && seed=true
    elif [ "${rc}" = 124 ] || [ "${rc}" = 137 ]; then
      result=stuck
    elif [ "${rc}" != 0 ]; then
      result=error
      line=$(tail -1 "${log}" | cut -c1-300)
    fi
    break
  done
  [ -n "${log}" ] && cp "${log}" "${work}/fuzz.log"
  jq -n --arg target "${target}" --arg result "${result}" --arg seconds "$(secs_between "${t0}" "${t1}")" \
    --arg line "${line}" --arg kind "${kind}" --arg frame "${frame}" --argjson seed "${seed}" \
    --arg artifact "${artifact}" --arg rc "${rc}" --arg execs "${execs}" --argjson restarts "${#set_aside[@]}" \
    --argjson aside "$(printf '%s\n' "${set_aside[@]:-}" | jq -R . | jq -s 'map(select(. != ""))')" \
    '{target: $target, result: $result, seconds: ($seconds | tonumber), exit: ($rc | tonumber),
      executions: ($execs | tonumber)}
     + (if $restarts > 0 then {not_the_mutant: $aside} else {} end)
     + (if $result == "found" then {finding: $line, finding_kind: $kind, driver_frame: (if $frame == "" then null else $frame end),
        in_seed_corpus: $seed, artifact: $artifact} else {} end)' >"${work}/result.json"
}

# replay_one TARGET ARTIFACT WORKDIR: trace the finding and replay it with
# the mutated vnet-replay. Prints a JSON object.
replay_one() {
  local target="$1" artifact="$2" work="$3" trace="$3/trace.jsonl"
  rm -f "${trace}"
  (
    ulimit -c 0
    VNET_FUZZ_TRACE="${trace}" ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
      timeout -k 5 120 "${fuzz_dir}/bin/${target}" -runs=1 -timeout=10 "${artifact}" >"${work}/trace-record.log" 2>&1
  ) 2>/dev/null
  if [ ! -s "${trace}" ]; then
    jq -n '{result: "no-trace", detail: "the rerun with VNET_FUZZ_TRACE wrote no trace"}'
    return
  fi
  local rc
  (
    ulimit -c 0
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 timeout -k 5 300 "${fuzz_dir}/bin/vnet-replay" --no-progress "${trace}" >"${work}/replay.log" 2>&1
  ) 2>/dev/null
  rc=$?
  local result detail
  detail=$(grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|DIVERG|diverg|FINDING' "${work}/replay.log" | cut -c1-300)
  case "${rc}" in
    0) result=not-reproduced ;;
    1) result=reproduced-divergence ;;
    2) result=unreadable ;;
    124 | 137) result=replay-stuck ;;
    *) result=reproduced-crash ;;
  esac
  [ -z "${detail}" ] && detail=$(grep -v '^\s*$' "${work}/replay.log" | tail -1 | cut -c1-300)
  jq -n --arg r "${result}" --arg d "${detail}" --arg rc "${rc}" --arg trace "${trace}" \
    --arg events "$(wc -l <"${trace}")" \
    '{result: $r, exit: ($rc | tonumber), detail: $d, trace: $trace, trace_lines: ($events | tonumber)}'
}

# Tests (--tests): the unit, mock and replay labels, minus those that fail
# on the unmutated tree.
run_tests() {
  local work="$1"
  (cd "${default_dir}" && ctest -L 'unit|mock|replay' -LE qemu -E '^mutation\.' -j "${jobs}" --timeout 60 \
    --output-junit "${work}/ctest.xml" >"${work}/ctest.log" 2>&1)
  sed -n 's/^.*[0-9]* - \(.*\) (\(Failed\|Timeout\|SEGFAULT\|Subprocess aborted\|Exception\|Not Run\|Child aborted\).*$/\1/p' \
    "${work}/ctest.log" | sed -e 's/  *# GetParam().*$//' -e 's/ *$//' | sort -u
}

# ---------------------------------------------------------------- campaign

configure_fuzz || exit 1
log "building the unmutated fuzz targets (${targets[*]}, vnet-replay)"
build_fuzz "${out}/build-base.log" || { tail -30 "${out}/build-base.log" >&2; exit 1; }
base_bin="${out}/base-bin"
rm -rf "${base_bin}"
mkdir -p "${base_bin}"
for t in "${targets[@]}"; do cp "${fuzz_dir}/bin/${t}" "${base_bin}/"; done

base_failing=()
if [ "${with_tests}" = 1 ]; then
  configure_default || exit 1
  log "building the unmutated tests (${default_dir})"
  build_tests "${out}/build-tests-base.log" || { tail -30 "${out}/build-tests-base.log" >&2; exit 1; }
  mkdir -p "${out}/work/_baseline"
  log "running the tests on the unmutated tree"
  mapfile -t base_failing < <(run_tests "${out}/work/_baseline")
  [ ${#base_failing[@]} -gt 0 ] && log "already failing without a mutant (ignored): ${base_failing[*]}"
fi

baseline_json='[]'
if [ "${baseline}" = yes ] || { [ "${baseline}" = auto ] && [ -z "${only}" ]; }; then
  for t in "${targets[@]}"; do
    log "baseline: ${t} on the unmutated driver (${seconds} s)"
    fuzz_one "${t}" "${out}/work/_baseline/${t}"
    baseline_json=$(jq --slurpfile r "${out}/work/_baseline/${t}/result.json" '. + $r' <<<"${baseline_json}")
    if [ "$(jq -r .result "${out}/work/_baseline/${t}/result.json")" = found ]; then
      log "WARNING: ${t} finds something in the unmutated driver: $(jq -r .finding "${out}/work/_baseline/${t}/result.json")"
    fi
  done
fi

: >"${results_file}"
list_size=$(jq '.mutants | length' "${list}")
jq -n --arg source "${source_desc}" --arg seconds "${seconds}" --arg targets "${targets_csv}" \
  --arg skipped "${skipped_equivalent}" --argjson baseline "${baseline_json}" --arg list_size "${list_size}" \
  --arg tests "${with_tests}" \
  '{source: $source, seconds: ($seconds | tonumber), targets: $targets, skipped: $skipped, baseline: $baseline,
    list_size: ($list_size | tonumber), tests: ($tests | tonumber)}' >"${meta_file}"

n=${#selected[@]}
i=0
for id in "${selected[@]}"; do
  i=$((i + 1))
  work="${out}/work/${id}"
  rm -rf "${work}"
  mkdir -p "${work}"
  log "${i}/${n} ${id} ($(mfield "${id}" kind)): $(mfield "${id}" description)"
  apply_mutant "${id}"
  (cd "${src}" && diff -u "${pristine}/${current_file}" "${current_file}" >"${work}/mutant.diff")
  build=ok
  if ! build_fuzz "${work}/build.log"; then
    build=failed
    log "  build failed (${work}/build.log)"
  fi

  # Targets: the mutant's own first, then the rest.
  order=()
  for t in $(mfield "${id}" targets | tr , ' ') "${targets[@]}"; do
    [[ ",${targets_csv}," == *",${t},"* ]] || continue
    [[ " ${order[*]:-} " == *" ${t} "* ]] || order+=("${t}")
  done

  runs='[]'
  found_json='{}'
  wall=0
  if [ "${build}" = ok ]; then
    for t in "${order[@]}"; do
      log "  ${t}: fuzzing up to ${seconds} s"
      fuzz_one "${t}" "${work}/${t}" 1
      r="${work}/${t}/result.json"
      wall=$(awk -v a="${wall}" -v b="$(jq .seconds "${r}")" 'BEGIN { printf "%.1f", a + b }')
      if jq -e '.not_the_mutant' "${r}" >/dev/null; then
        log "  ${t}: set aside $(jq '.not_the_mutant | length' "${r}") finding(s) the unmutated driver has too: $(jq -r '.not_the_mutant[0]' "${r}" | cut -c1-120)"
      fi
      runs=$(jq --slurpfile r "${r}" '. + $r' <<<"${runs}")
      if [ "$(jq -r .result "${r}")" = found ]; then
        log "  ${t}: FOUND after $(jq .seconds "${r}") s: $(jq -r .finding "${r}" | sed "s|${src}/||g" | cut -c1-160)"
        if [ "$(jq -r '.found_by // empty' <<<"${found_json}")" = "" ]; then
          replay=$(replay_one "${t}" "$(jq -r .artifact "${r}")" "${work}/${t}")
          log "  replay: $(jq -r .result <<<"${replay}")"
          found_json=$(jq --slurpfile r "${r}" --argjson replay "${replay}" --arg wall "${wall}" \
            '{found: true, found_by: $r[0].target, seconds: $r[0].seconds, wall_seconds: ($wall | tonumber),
              finding: $r[0].finding, finding_kind: $r[0].finding_kind, driver_frame: $r[0].driver_frame,
              in_seed_corpus: $r[0].in_seed_corpus, replay: $replay}' <<<"{}")
        fi
        [ "${all_targets}" = 1 ] || break
      else
        log "  ${t}: $(jq -r .result "${r}") after $(jq .seconds "${r}") s"
      fi
    done
  fi

  tests_json=null
  if [ "${with_tests}" = 1 ] && [ "${build}" = ok ]; then
    log "  tests: building and running (labels unit|mock|replay)"
    if build_tests "${work}/build-tests.log"; then
      mapfile -t failing < <(run_tests "${work}")
      new=()
      for f in "${failing[@]}"; do
        [[ " ${base_failing[*]:-} " == *" ${f} "* ]] || new+=("${f}")
      done
      tests_json=$(printf '%s\n' "${new[@]:-}" | jq -R . | jq -s 'map(select(. != ""))' | jq '{failed: .}')
      log "  tests: $(jq '.failed | length' <<<"${tests_json}") failing"
    else
      tests_json='{"failed": ["(the tests do not build)"]}'
    fi
  fi

  restore_file
  jq -n --arg id "${id}" --slurpfile list "${list}" --arg build "${build}" --argjson runs "${runs}" \
    --argjson found "${found_json}" --argjson tests "${tests_json}" '
    ($list[0].mutants[] | select(.id == $id)) as $m
    | {id: $id, file: $m.file, kind: $m.kind, description: $m.description,
       equivalent: ($m.equivalent // null), build: $build,
       found: false, found_by: null, seconds: null, wall_seconds: null}
      + $found + {runs: $runs, tests: $tests}' >>"${results_file}"
  write_reports
done

# Leave the fuzz build matching the pristine source.
build_fuzz "${out}/build-restore.log" || log "warning: rebuilding the unmutated targets failed"
write_reports
log "done: $(jq -r .score.text "${out}/report.json") found within ${seconds} s; ${out}/report.md, ${out}/report.json"
if [ "${strict}" = 1 ]; then
  if ! jq -e '.score.found == .score.of and all(.baseline[]; .result != "found")' "${out}/report.json" >/dev/null; then
    jq -r '.mutants[] | select(.equivalent == null and (.found | not)) | "not found: \(.id)"' "${out}/report.json" >&2
    jq -r '.baseline[] | select(.result == "found") | "baseline finding in \(.target): \(.finding)"' "${out}/report.json" >&2
    exit 1
  fi
fi
