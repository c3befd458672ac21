#!/usr/bin/env bash
# Typed input streams against the flat form (issue 10, item 6;
# docs/fuzzing.md, "Typed streams vs the flat form").
#
# fuzz_boundary (one flat value stream) and fuzz_boundary_typed (one stream
# per kind of device read) are measured side by side, on the same machine in
# the same run: both are started together, one worker each, so that both see
# the same load.
#
#   1. coverage: both from their seed corpora for --minutes; cov: and ft: at
#      1, 2, 5 and 10 minutes (or the checkpoints that fit), exec/s.
#   2. time to find planted bugs: for each mutant of the driver's hardening
#      list (driver/hardening-mutants.json, applied to a private copy of the
#      source as tools/mutation/run.sh does), both targets from their seed
#      corpora, at most --cap seconds, --reps times (libFuzzer -seed=1..reps):
#      seconds to the first finding, and what it was. The unmutated driver is
#      fuzzed the same way first (a finding there would be a false positive
#      that makes every mutant look found).
#
#   tools/typed-vs-flat.sh                       everything (about an hour)
#   tools/typed-vs-flat.sh --minutes 0           mutants only
#   tools/typed-vs-flat.sh --mutants none        coverage only
#   tools/typed-vs-flat.sh --mutants queue.used_idx_distance --reps 1 --cap 30
#
# Options: --rev REV (source measured, default HEAD: git archive, so the
# working tree may change meanwhile), --out DIR (default
# build/typed-vs-flat), --jobs N (build parallelism, default 2),
# --no-baseline. Output: DIR/report.md, DIR/coverage.tsv, DIR/mutants.tsv,
# the stamped libFuzzer logs under DIR/runs/.
set -uo pipefail

repo="${TYPED_VS_FLAT_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
orig_args=("$@")
rev=HEAD
out="${repo}/build/typed-vs-flat"
minutes=10
mutants_csv="queue.used_idx_distance,modern.notify_off_bound,modern.cap_length_min,net.queue_size_pow2,net.features_ok_readback,queue.used_id_in_flight,modern.queue_enable_readback,modern.cap_bar_range"
reps=3
cap=120
jobs=2
baseline=1
while [ $# -gt 0 ]; do
  case "$1" in
    --rev) rev="$2"; shift ;;
    --out) out="$2"; shift ;;
    --minutes) minutes="$2"; shift ;;
    --mutants) mutants_csv="$2"; shift ;;
    --reps) reps="$2"; shift ;;
    --cap) cap="$2"; shift ;;
    --jobs) jobs="$2"; shift ;;
    --no-baseline) baseline=0 ;;
    -h | --help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "typed-vs-flat.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "${mutants_csv}" = none ] && mutants_csv=""
command -v jq >/dev/null || { echo "typed-vs-flat.sh: jq is required" >&2; exit 2; }
# bash reads its script as it runs: run from a private copy, so that editing
# (or checking out) this file meanwhile cannot derail an hour-long run.
if [ -z "${TYPED_VS_FLAT_REPO:-}" ]; then
  mkdir -p "${out}"
  cp "${BASH_SOURCE[0]}" "${out}/.run.sh"
  TYPED_VS_FLAT_REPO="${repo}" exec bash "${out}/.run.sh" "${orig_args[@]}"
fi

log() { printf '[typed-vs-flat %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---------------------------------------------------------------- source, build

src="${out}/src"
bld="${out}/fuzz"
runs="${out}/runs"
mkdir -p "${out}" "${runs}"
commit=$(git -C "${repo}" rev-parse --verify "${rev}^{commit}") || { echo "no commit ${rev}" >&2; exit 2; }
log "source: commit ${commit}"
rm -rf "${out}/stage"
mkdir -p "${out}/stage"
git -C "${repo}" archive "${commit}" | tar -x -C "${out}/stage"
# Copy only what changed (the corpora wholesale), so that the build stays
# incremental across runs.
mkdir -p "${src}"
rm -rf "${src}/corpus"
mv "${out}/stage/corpus" "${src}/corpus"
(cd "${out}/stage" && find . -type f) | while IFS= read -r f; do
  cmp -s "${out}/stage/${f}" "${src}/${f}" || { mkdir -p "$(dirname "${src}/${f}")"; cp "${out}/stage/${f}" "${src}/${f}"; }
done
rm -rf "${out}/stage"

targets=(fuzz_boundary fuzz_boundary_typed)
if [ ! -f "${bld}/build.ninja" ]; then
  log "configuring ${bld} (preset fuzz)"
  cmake -S "${src}" --preset fuzz -B "${bld}" >"${out}/configure.log" 2>&1 || { cat "${out}/configure.log" >&2; exit 1; }
fi
build() { cmake --build "${bld}" -j "${jobs}" --target "${targets[@]}" >"$1" 2>&1; }
log "building ${targets[*]}"
build "${out}/build.log" || { tail -30 "${out}/build.log" >&2; exit 1; }

flags() { # flags TARGET: the cluster's options (fuzz/options/)
  local t="$1"
  printf -- '-max_len=%s ' "$(sed -n 's/^max_len *= *//p' "${src}/fuzz/options/${t}.options")"
  printf -- '-dict=%s ' "${src}/fuzz/options/${t}.dict"
}

# run_pair NAME SECONDS SEED: both targets at once from their seed corpora;
# each log line stamped with seconds since the start (runs/NAME/<target>.log).
run_pair() {
  local name="$1" secs="$2" seed="$3" t
  local dir="${runs}/${name}"
  rm -rf "${dir}"
  mkdir -p "${dir}"
  local t0="${EPOCHREALTIME/./}"  # microseconds
  for t in "${targets[@]}"; do
    mkdir -p "${dir}/${t}.corpus"
    # shellcheck disable=SC2046
    (ASAN_OPTIONS=detect_leaks=1 "${bld}/bin/${t}" "${dir}/${t}.corpus" "${src}/corpus/fuzz/${t}" \
      $(flags "${t}") -seed="${seed}" -max_total_time="${secs}" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="${dir}/${t}-" 2>&1 |
      while IFS= read -r line; do
        local us=$((${EPOCHREALTIME/./} - t0))
        printf '%d.%d %s\n' $((us / 1000000)) $((us / 100000 % 10)) "${line}"
      done >"${dir}/${t}.log") &
  done
  wait
}

# finding LOG: "<seconds> <kind>" of the first finding, or nothing; the
# seconds are "seed" when it came while the seed corpus was being loaded
# (before libFuzzer's INITED line): no mutation was needed.
finding() {
  awk '/ INITED / { inited = 1 }
       /FINDING |ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|ERROR: libFuzzer|SUMMARY: libFuzzer: timeout/ {
         t = $1; $1 = ""; line = $0
         if (match(line, /FINDING [^:]*/)) kind = substr(line, RSTART + 8, RLENGTH - 8)
         else if (match(line, /AddressSanitizer: [a-zA-Z-]+/)) kind = "asan:" substr(line, RSTART + 18, RLENGTH - 18)
         else if (line ~ /LeakSanitizer/) kind = "lsan"
         else if (line ~ /runtime error/) kind = "ubsan"
         else if (line ~ /timeout/) kind = "timeout"
         else kind = "crash"
         gsub(/ /, "_", kind)
         print (inited ? t : "seed"), kind; exit }' "$1"
}

# cov_at LOG SECONDS: "cov ft" of the last status line at or before SECONDS.
cov_at() {
  awk -v T="$2" '$1 + 0 <= T && / cov: / {
       for (i = 1; i < NF; ++i) { if ($i == "cov:") c = $(i + 1); if ($i == "ft:") f = $(i + 1) } }
     END { print (c == "" ? "-" : c), (f == "" ? "-" : f) }' "$1"
}
stat_of() { sed -n "s/^[0-9.]* stat::$2: *//p" "$1" | tail -1; }

report="${out}/report.md"
{
  echo "# fuzz_boundary (flat) vs fuzz_boundary_typed"
  echo
  echo "Commit ${commit}; $(nproc) cores, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Both targets run at once, one worker each, from their seed corpora (corpus/fuzz/<target>/), options as fuzz/options/."
} >"${report}"

# ---------------------------------------------------------------- 1. coverage

if [ "${minutes}" != 0 ]; then
  secs=$((minutes * 60))
  log "coverage: both targets for ${secs} s"
  run_pair coverage "${secs}" 1
  {
    echo
    echo "## Coverage after ${minutes} min (-seed=1)"
    echo
    echo "| target | cov/ft 1 min | 2 min | 5 min | 10 min | execs | exec/s | finding |"
    echo "|---|---|---|---|---|---|---|---|"
  } >>"${report}"
  : >"${out}/coverage.tsv"
  for t in "${targets[@]}"; do
    l="${runs}/coverage/${t}.log"
    row="| ${t}"
    tsv="${t}"
    for m in 1 2 5 10; do
      if [ $((m * 60)) -le "${secs}" ]; then
        read -r c f < <(cov_at "${l}" $((m * 60)))
        row+=" | ${c} / ${f}"
        tsv+=$'\t'"${c}"$'\t'"${f}"
      else
        row+=" | -"
        tsv+=$'\t-\t-'
      fi
    done
    fnd=$(finding "${l}")
    row+=" | $(stat_of "${l}" number_of_executed_units) | $(stat_of "${l}" average_exec_per_sec) | ${fnd:-none} |"
    echo "${row}" >>"${report}"
    printf '%s\t%s\t%s\t%s\n' "${tsv}" "$(stat_of "${l}" number_of_executed_units)" \
      "$(stat_of "${l}" average_exec_per_sec)" "${fnd:-none}" >>"${out}/coverage.tsv"
  done
  log "coverage done"
fi

# ---------------------------------------------------------------- 2. mutants

[ -n "${mutants_csv}" ] || { log "report: ${report}"; exit 0; }
list="${src}/driver/hardening-mutants.json"
IFS=, read -r -a mutants <<<"${mutants_csv}"
pristine="${out}/pristine"
current=""
restore() {
  if [ -n "${current}" ]; then
    cp "${pristine}/$(basename "${current}")" "${src}/${current}"
    current=""
  fi
}
trap 'restore' EXIT
apply() {
  local id="$1" file
  file=$(jq -r --arg id "${id}" '.mutants[] | select(.id == $id) | .file' "${list}")
  [ -n "${file}" ] || { echo "no mutant ${id}" >&2; return 1; }
  mkdir -p "${pristine}"
  cp "${src}/${file}" "${pristine}/$(basename "${file}")"
  current="${file}"
  jq -j --rawfile c "${src}/${file}" --arg id "${id}" \
    '.mutants[] | select(.id == $id) | . as $m | $c | split($m.snippet) | join($m.replacement)' \
    "${list}" >"${src}/${file}.mutant" && mv "${src}/${file}.mutant" "${src}/${file}"
  cmp -s "${src}/${file}" "${pristine}/$(basename "${file}")" && { echo "mutant ${id} changed nothing" >&2; return 1; }
  return 0
}

{
  echo
  echo "## Time to find planted bugs (cap ${cap} s, ${reps} repetitions, -seed=1..${reps})"
  echo
  echo "Seconds from start to the first finding (libFuzzer stops there), and the finding; '-' = not found within the cap."
  echo
  echo "| mutant | flat: s (finding) | typed: s (finding) |"
  echo "|---|---|---|"
} >>"${report}"
: >"${out}/mutants.tsv"

measure() { # measure ID: reps pairs; one report row
  local id="$1" r flat_cells="" typed_cells="" t f k
  for r in $(seq 1 "${reps}"); do
    log "${id}: repetition ${r}/${reps}"
    run_pair "${id}/rep${r}" "${cap}" "${r}"
    for t in "${targets[@]}"; do
      read -r f k < <(finding "${runs}/${id}/rep${r}/${t}.log"; echo)
      printf '%s\t%s\t%s\t%s\t%s\n' "${id}" "${t}" "${r}" "${f:--}" "${k:--}" >>"${out}/mutants.tsv"
      if [ "${t}" = fuzz_boundary ]; then flat_cells+="${f:--}${k:+ ($k)}, "; else typed_cells+="${f:--}${k:+ ($k)}, "; fi
    done
  done
  echo "| \`${id}\` | ${flat_cells%, } | ${typed_cells%, } |" >>"${report}"
}

if [ "${baseline}" = 1 ]; then
  log "baseline: the unmutated driver"
  measure unmutated
fi
for id in "${mutants[@]}"; do
  apply "${id}" || continue
  log "${id}: building"
  if ! build "${out}/build-${id}.log"; then
    echo "| \`${id}\` | build failed | build failed |" >>"${report}"
    restore
    continue
  fi
  measure "${id}"
  restore
done
build "${out}/build-restore.log" || log "rebuilding the unmutated targets failed"
log "report: ${report}"
