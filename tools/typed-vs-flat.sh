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
#      1, 2, 5 and 10 minutes (or the checkpoints that fit), executions.
#   2. the unmutated driver, --reps runs of --cap seconds: findings here are
#      the tree's own (real bugs or oracle false positives).
#   3. time to find planted bugs: for each mutant of the driver's hardening
#      list (driver/hardening-mutants.json, applied to a private copy of the
#      source as tools/mutation/run.sh does), both targets from their seed
#      corpora, at most --cap seconds, --reps times (libFuzzer -seed=1..reps):
#      seconds to the first finding that the unmutated build does not share.
#
# A finding stops libFuzzer. In every phase a finding that the unmutated
# build reproduces is set aside (counted, its time kept) and the target is
# started again on its grown corpus for the rest of its time, so that one
# shared finding cannot end a measurement (in phases 1 and 2 every finding
# is such).
#
#   tools/typed-vs-flat.sh                       everything (about 75 minutes)
#   tools/typed-vs-flat.sh --minutes 0           no coverage phase
#   tools/typed-vs-flat.sh --mutants none        no mutants
#   tools/typed-vs-flat.sh --mutants queue.used_idx_distance --reps 1 --cap 30
#   tools/typed-vs-flat.sh --report-only         the report again, from the runs kept
#
# Options: --rev REV (source measured, default HEAD: git archive, so the
# working tree may change meanwhile), --out DIR (default
# build/typed-vs-flat), --jobs N (build parallelism, default 2),
# --no-baseline. Output: DIR/report.md, and per run DIR/runs/<phase>/<target>.*:
# stamped libFuzzer logs (seg<N>.log), found (the counted finding),
# setaside (findings the unmutated build shares), execs.
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
report_only=0
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
    --report-only) report_only=1 ;;
    -h | --help) sed -n '2,38p' "$0"; exit 0 ;;
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

src="${out}/src"
bld="${out}/fuzz"
base="${out}/base-bin"
runs="${out}/runs"
targets=(fuzz_boundary fuzz_boundary_typed)
IFS=, read -r -a mutants <<<"${mutants_csv}"

# ---------------------------------------------------------------- measuring

flags() { # flags TARGET: the cluster's options (fuzz/options/)
  local t="$1"
  printf -- '-max_len=%s ' "$(sed -n 's/^max_len *= *//p' "${src}/fuzz/options/${t}.options")"
  printf -- '-dict=%s ' "${src}/fuzz/options/${t}.dict"
}

# kind_of LOG: "<seconds> <kind>" of the first finding in a segment log;
# seconds "seed" when it came before libFuzzer's INITED line (the seed
# corpus alone triggers it).
kind_of() {
  awk '/INITED/ { inited = 1 }
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

# run_target DIR TARGET SECONDS SEED T0: fuzz until SECONDS after T0
# (microseconds); a finding the unmutated build reproduces is set aside and
# the target started again on its corpus.
run_target() {
  local dir="$1" t="$2" secs="$3" seed="$4" t0="$5" seg=0
  mkdir -p "${dir}/${t}.corpus"
  : >"${dir}/${t}.setaside"
  : >"${dir}/${t}.execs"
  rm -f "${dir}/${t}.found"
  while :; do
    local left=$((secs - (${EPOCHREALTIME/./} - t0) / 1000000))
    [ "${left}" -ge 2 ] || break
    seg=$((seg + 1))
    local slog="${dir}/${t}.seg${seg}.log"
    # shellcheck disable=SC2046
    ASAN_OPTIONS=detect_leaks=1 "${bld}/bin/${t}" "${dir}/${t}.corpus" "${src}/corpus/fuzz/${t}" \
      $(flags "${t}") -seed="$((seed + 1000 * (seg - 1)))" -max_total_time="${left}" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="${dir}/${t}-seg${seg}-" 2>&1 |
      while IFS= read -r line; do
        local us=$((${EPOCHREALTIME/./} - t0))
        printf '%d.%d %s\n' $((us / 1000000)) $((us / 100000 % 10)) "${line}"
      done >"${slog}"
    sed -n 's/^[0-9.]* stat::number_of_executed_units: *//p' "${slog}" >>"${dir}/${t}.execs"
    local art
    art=$(find "${dir}" -maxdepth 1 -name "${t}-seg${seg}-*" -type f | head -1)
    [ -n "${art}" ] || break
    local found
    found=$(kind_of "${slog}")
    [ -n "${found}" ] || found="$(awk 'END { print $1 }' "${slog}") crash"
    if ASAN_OPTIONS=detect_leaks=1 "${base}/${t}" -runs=1 -timeout=10 "${art}" >"${art}.base.log" 2>&1; then
      echo "${found}" >"${dir}/${t}.found"
      break
    fi
    echo "${found}" >>"${dir}/${t}.setaside"
  done
}

# run_pair NAME SECONDS SEED: both targets at once (runs/NAME/).
run_pair() {
  local dir="${runs}/$1" t
  rm -rf "${dir}"
  mkdir -p "${dir}"
  local t0="${EPOCHREALTIME/./}"
  for t in "${targets[@]}"; do run_target "${dir}" "${t}" "$2" "$3" "${t0}" & done
  wait
}

# ---------------------------------------------------------------- the report

# cov_at DIR TARGET SECONDS: "cov ft", the highest of the status lines up to SECONDS.
cov_at() {
  cat "$1/$2".seg*.log 2>/dev/null | awk -v T="$3" '$1 + 0 <= T && / cov: / {
       for (i = 1; i < NF; ++i) {
         if ($i == "cov:" && $(i + 1) + 0 > c) c = $(i + 1) + 0
         if ($i == "ft:" && $(i + 1) + 0 > f) f = $(i + 1) + 0 } }
     END { print (c == "" ? "-" : c), (f == "" ? "-" : f) }'
}
execs() { awk '{ s += $1 } END { print s + 0 }' "$1"; }
# cell DIR TARGET: "12.3 (window (f))", "-", with " +N set aside" when any.
cell() {
  local d="$1" t="$2" c="-" n
  if [ -s "${d}/${t}.found" ]; then
    read -r s k <"${d}/${t}.found"
    c="${s} (${k//_/ })"
  fi
  n=$(wc -l <"${d}/${t}.setaside" 2>/dev/null || echo 0)
  [ "${n}" -gt 0 ] && c+=" +${n} set aside (first $(awk 'NR == 1 { print $1 }' "${d}/${t}.setaside") s: $(awk 'NR == 1 { gsub(/_/, " ", $2); print $2 }' "${d}/${t}.setaside"))"
  printf '%s' "${c}"
}

write_report() {
  local report="${out}/report.md" t m id d
  {
    echo "# fuzz_boundary (flat) vs fuzz_boundary_typed"
    echo
    cat "${out}/run-info" 2>/dev/null
    echo "Both targets run at once, one worker each, from their seed corpora (corpus/fuzz/<target>/), options as fuzz/options/."
    if [ -d "${runs}/coverage" ]; then
      local secs
      secs=$(cat "${runs}/coverage/seconds")
      echo
      echo "## Coverage (-seed=1, $((secs / 60)) min)"
      echo
      echo "| target | cov / ft at 1 min | 2 min | 5 min | 10 min | executions | exec/s | findings (set aside, run continued) |"
      echo "|---|---|---|---|---|---|---|---|"
      for t in "${targets[@]}"; do
        printf '| %s' "${t}"
        for m in 1 2 5 10; do
          if [ $((m * 60)) -le "${secs}" ]; then
            read -r c f < <(cov_at "${runs}/coverage" "${t}" $((m * 60)))
            printf ' | %s / %s' "${c}" "${f}"
          else
            printf ' | -'
          fi
        done
        local e
        e=$(execs "${runs}/coverage/${t}.execs")
        printf ' | %s | %s | %s |\n' "${e}" "$((e / secs))" "$(cell "${runs}/coverage" "${t}")"
      done
    fi
    if [ -d "${runs}/unmutated" ] || [ ${#mutants[@]} -gt 0 ]; then
      echo
      echo "## Time to find planted bugs (cap $(cat "${runs}/cap" 2>/dev/null || echo "${cap}") s, -seed=1..${reps})"
      echo
      echo "Seconds from the start to the first finding the unmutated build does not share (libFuzzer stops there),"
      echo "per repetition; '-' = none within the cap; 'seed' = the seed corpus alone triggers it."
      echo "Findings the unmutated build shares were set aside and the run continued."
      echo
      echo "| mutant | flat (fuzz_boundary) | typed (fuzz_boundary_typed) |"
      echo "|---|---|---|"
      for id in unmutated "${mutants[@]}"; do
        [ -d "${runs}/${id}" ] || continue
        local row="| \`${id}\`"
        for t in "${targets[@]}"; do
          local cells=""
          for d in "${runs}/${id}"/rep*; do cells+="$(cell "${d}" "${t}"); "; done
          row+=" | ${cells%; }"
        done
        echo "${row} |"
      done
    fi
  } >"${report}"
  log "report: ${report}"
}

if [ "${report_only}" = 1 ]; then
  write_report
  exit 0
fi

# ---------------------------------------------------------------- source, build

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
printf 'Commit %s; %s cores, load average at the start: %s.\n' "${commit}" "$(nproc)" \
  "$(cut -d' ' -f1-3 /proc/loadavg)" >"${out}/run-info"
echo "${cap}" >"${runs}/cap"

if [ ! -f "${bld}/build.ninja" ]; then
  log "configuring ${bld} (preset fuzz)"
  cmake -S "${src}" --preset fuzz -B "${bld}" >"${out}/configure.log" 2>&1 || { cat "${out}/configure.log" >&2; exit 1; }
fi
build() { cmake --build "${bld}" -j "${jobs}" --target "${targets[@]}" >"$1" 2>&1; }
log "building ${targets[*]}"
build "${out}/build.log" || { tail -30 "${out}/build.log" >&2; exit 1; }
mkdir -p "${base}"
for t in "${targets[@]}"; do cp "${bld}/bin/${t}" "${base}/${t}"; done

# ---------------------------------------------------------------- 1, 2

if [ "${minutes}" != 0 ]; then
  log "coverage: both targets for $((minutes * 60)) s"
  run_pair coverage $((minutes * 60)) 1
  echo $((minutes * 60)) >"${runs}/coverage/seconds"
  write_report
fi
if [ "${baseline}" = 1 ]; then
  for r in $(seq 1 "${reps}"); do
    log "the unmutated driver: repetition ${r}/${reps}"
    run_pair "unmutated/rep${r}" "${cap}" "${r}"
  done
  write_report
fi

# ---------------------------------------------------------------- 3. mutants

list="${src}/driver/hardening-mutants.json"
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

for id in "${mutants[@]}"; do
  apply "${id}" || continue
  log "${id}: building"
  if ! build "${out}/build-${id}.log"; then
    log "${id}: build failed (${out}/build-${id}.log)"
    restore
    continue
  fi
  for r in $(seq 1 "${reps}"); do
    log "${id}: repetition ${r}/${reps}"
    run_pair "${id}/rep${r}" "${cap}" "${r}"
  done
  restore
  write_report
done
[ ${#mutants[@]} -gt 0 ] && { build "${out}/build-restore.log" || log "rebuilding the unmutated targets failed"; }
write_report
