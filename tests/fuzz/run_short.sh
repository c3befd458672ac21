#!/bin/sh
# A short fuzzing run for ctest: run_short.sh TARGET SEED_DIR WORK_DIR SECONDS [libFuzzer flags]
# New inputs go to WORK_DIR/corpus (the seed directory is only read); a
# crash is saved under WORK_DIR/ and fails the test.
set -eu
target=$1 seeds=$2 work=$3 seconds=$4
shift 4
rm -rf "$work"
mkdir -p "$work/corpus"
exec "$target" "$work/corpus" "$seeds" -max_total_time="$seconds" -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/" "$@"
