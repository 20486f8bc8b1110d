#!/usr/bin/env bash
# benches/matrix.sh — whole-matrix benchmark: crossmatrix against a naive sequential shell loop
# (go build + one run per cell, no sandbox, no repetitions, no records) on the same matrix, cold
# (empty caches for both) and warm, in one run on this machine. Prints both walls, the ratio,
# and crossmatrix's own wall ÷ CPU-bound ratio from run.json.
#
# crossmatrix runs with REPS timed repetitions per cell (the default run) and with --reps 0
# (the loop's own work: one verified run per cell); warm, both as users re-run it (unchanged
# passing cells reuse their figures) and with --rerun (every cell run and timed again).
#
#   benches/matrix.sh                       # go1.27 × 6 arches, cgo=0
#   ARCHES="amd64 arm64" GO=/usr/lib/go-1.26/bin/go benches/matrix.sh
#
# Timings on shared machines are noisy: compare the ratio, not the absolute seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/common.sh
cp -r runner/probe "$WORK/probe"

now() { date +%s.%N; }
naive_loop() { # $1 = GOCACHE
  for a in $ARCHES; do
    (cd "$WORK/probe" && GOCACHE="$1" GOFLAGS=-buildvcs=false CGO_ENABLED=0 GOARCH=$a "$GO" build -o "$WORK/loop/$a/probe" .)
    "$WORK/loop/$a/probe" >/dev/null
  done
}
# Times the loop: sets loop_wall and loop_cpu (user + system of the loop and its children).
timed_loop() {
  local t
  t=$( { TIMEFORMAT='%R %U %S'; time naive_loop "$1" >/dev/null 2>&1; } 2>&1 )
  loop_wall=$(awk '{print $1}' <<<"$t")
  loop_cpu=$(awk '{print $2 + $3}' <<<"$t")
}
crossmatrix_run() { # $1 = cache dir, $2 = out dir, $3 = reps, then extra flags
  local cache=$1 out=$2 reps=$3
  shift 3
  "$BIN" run --toolchain "$GOVERSION" "${targets[@]}" --cgo 0 --reps "$reps" \
    --cache-dir "$cache" --out "$out" --no-progress "$@" >/dev/null 2>&1 || true
}
cm() { # label, loop wall, loop cpu, cache, out, reps, flags…
  local label=$1 lw=$2 lc=$3 cache=$4 out=$5 reps=$6 t0 t1
  shift 6
  t0=$(now); crossmatrix_run "$cache" "$out" "$reps" "$@"; t1=$(now)
  local wall reused
  wall=$(awk "BEGIN{print $t1 - $t0}")
  reused=$(jq -s 'map(select(.reused_from != null)) | length' "$out/cells.jsonl")
  printf '%-28s %9.2f %12.2f %7.2f   %-6s %8.1f %8.1f   %s\n' "$label" "$lw" "$wall" \
    "$(awk "BEGIN{print $wall / $lw}")" \
    "$(jq -r '.wall_s / .cpu_bound_s * 100 | round / 100' "$out/run.json")" \
    "$lc" "$(jq -r .cpu_s "$out/run.json")" "$reused"
}

echo "matrix: $GOVERSION × {$ARCHES} × cgo0; crossmatrix with $REPS timed reps per cell"
echo "(cold: empty caches for both; warm: the same caches again; CPU = user + system seconds)"
timed_loop "$WORK/gocache-loop"; loop_cold=$loop_wall; loop_cold_cpu=$loop_cpu
timed_loop "$WORK/gocache-loop"; loop_warm=$loop_wall; loop_warm_cpu=$loop_cpu
printf '%-28s %9s %12s %7s   %-6s %8s %8s   %s\n' "" "loop (s)" "crossmatrix" "ratio" \
  "÷bound" "loop CPU" "cm CPU" "cells reused"
cm "cold, $REPS reps" "$loop_cold" "$loop_cold_cpu" "$WORK/c1" "$WORK/o1" "$REPS"
# A warm re-run with nothing changed reuses every passing cell's figures (the default).
cm "warm, $REPS reps" "$loop_warm" "$loop_warm_cpu" "$WORK/c1" "$WORK/o2" "$REPS"
# --rerun: every cell is run and timed again (warm builds).
cm "warm, $REPS reps, --rerun" "$loop_warm" "$loop_warm_cpu" "$WORK/c1" "$WORK/o3" "$REPS" --rerun
# The loop's own work: one run per cell, no timed repetitions, still sandboxed, verified and
# recorded.
cm "cold, 0 reps" "$loop_cold" "$loop_cold_cpu" "$WORK/c0" "$WORK/o4" 0
cm "warm, 0 reps" "$loop_warm" "$loop_warm_cpu" "$WORK/c0" "$WORK/o5" 0
cm "warm, 0 reps, --rerun" "$loop_warm" "$loop_warm_cpu" "$WORK/c0" "$WORK/o6" 0 --rerun
