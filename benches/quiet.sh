#!/usr/bin/env bash
# benches/quiet.sh — what the timing modes (`--timing quiet|exclusive|overlap`) do to the startup
# numbers. Times the same cells four ways in one run on this machine:
#
#   reference  everything already built, and one timed cell at a time (`--timing exclusive`):
#              the timed runs have the machine to themselves;
#   quiet      cold (empty cache: every cell is compiled), the default: timed runs wait until no
#              build runs, and timed cells run side by side (up to --jobs);
#   exclusive  cold, one timed cell at a time once no build runs;
#   overlap    cold, a cell is timed as soon as it is built, while other cells compile.
#
# Per cell it prints the median and the relative spread (MAD ÷ median) of each way and the
# bias of its median against the reference; then per way the median spread, the median and
# largest |bias|, and the run's wall time. ROUNDS > 1 repeats the cold ways (taking turns).
#
#   benches/quiet.sh                        # go1.27 × 6 arches, cgo=0, 30 reps
#   ARCHES="amd64 arm64" REPS=50 ROUNDS=2 benches/quiet.sh
#
# Timings on shared machines are noisy: compare the ways with each other, in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
# A benchmark measures: every run times its cells, never reusing an earlier run's figures.
export CROSSMATRIX_RERUN=1
ROUNDS=${ROUNDS:-1}
source benches/common.sh

cm() { # $1 = cache dir, $2 = out dir, $3 = reps, rest = extra flags
  local cache=$1 out=$2 reps=$3; shift 3
  "$BIN" run --toolchain "$GOVERSION" "${targets[@]}" --cgo 0 --reps "$reps" \
    --cache-dir "$cache" --out "$out" --no-progress "$@" >"$WORK/log" 2>&1 || {
    echo "quiet.sh: crossmatrix failed:" >&2; tail -20 "$WORK/log" >&2; exit 1; }
}
# One run's timed cells as "way<TAB>id<TAB>median<TAB>mad" lines, and its wall time.
medians() { jq -r --arg way "$1" 'select(.startup.median_ms != null)
  | [$way, .id, .startup.median_ms, .startup.mad_ms] | @tsv' "$2/cells.jsonl"
  jq -r --arg way "$1" '["wall", $way, .wall_s] | @tsv' "$2/run.json"; }

echo "cells: $GOVERSION × {$ARCHES} × cgo0, $REPS timed reps each, $ROUNDS cold round(s) per way"
cm "$WORK/ref-cache" "$WORK/prime" 0
cm "$WORK/ref-cache" "$WORK/ref" "$REPS" --timing exclusive
medians reference "$WORK/ref" >"$WORK/all.tsv"
for r in $(seq "$ROUNDS"); do
  for way in quiet exclusive overlap; do
    cm "$WORK/$way-cache$r" "$WORK/$way$r" "$REPS" --timing "$way"
    medians "$way" "$WORK/$way$r" >>"$WORK/all.tsv"
    rm -rf "$WORK/$way-cache$r"
  done
done

awk -F'\t' '
  function sortk(arr, cnt,   i, j, t) {
    for (i = 2; i <= cnt; i++) for (j = i; j > 1 && arr[j-1] > arr[j]; j--) {
      t = arr[j]; arr[j] = arr[j-1]; arr[j-1] = t } }
  function median(arr, cnt) {
    sortk(arr, cnt); return cnt % 2 ? arr[(cnt+1)/2] : (arr[cnt/2] + arr[cnt/2+1]) / 2 }
  $1 == "wall" { walls[$2] = walls[$2] sprintf(" %.1f", $3); next }
  $1 == "reference" { ref[$2] = $3 }
  { n[$1]++; way[$1 "," n[$1]] = $2 "\t" $3 "\t" $4 }
  END {
    printf "%-50s %-9s %10s %9s %8s\n", "cell", "way", "median ms", "MAD/med", "bias"
    split("reference quiet exclusive overlap", ways, " ")
    for (w = 1; w <= 4; w++) {
      k = ways[w]; cnt = 0; worst = 0
      for (i = 1; i <= n[k]; i++) {
        split(way[k "," i], f, "\t")
        spread = f[3] / f[2]; bias = f[2] / ref[f[1]] - 1; abs = bias < 0 ? -bias : bias
        printf "%-50s %-9s %10.2f %8.1f%% %+7.1f%%\n", f[1], k, f[2], spread * 100, bias * 100
        cnt++; s[cnt] = spread; b[cnt] = abs
        if (abs > worst) worst = abs
      }
      summary[w] = sprintf("%-9s %3d cells: MAD/median %5.1f%%, |bias| median %5.1f%% max %5.1f%%; wall s:%s",
                           k, cnt, median(s, cnt) * 100, median(b, cnt) * 100, worst * 100, walls[k])
    }
    print ""
    for (w = 1; w <= 4; w++) print summary[w]
  }' "$WORK/all.tsv"
