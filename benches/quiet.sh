#!/usr/bin/env bash
# benches/quiet.sh — what keeping timed runs apart from builds ("quiet timing", the default) does
# to the startup numbers. Times the same cells three ways in one run on this machine:
#
#   reference  everything already built, so the timed runs have the machine to themselves;
#   quiet      cold (empty cache: every cell is compiled), the default scheduling;
#   overlap    cold, with --overlap-timing: a cell is timed as soon as it is built, while the
#              other cells' compilers run.
#
# Per cell it prints the median and the relative spread (MAD ÷ median) of each way and the
# bias of each cold median against the reference; then the median spread and the largest bias
# of each way. ROUNDS > 1 repeats the two cold ways (alternating) and pools the cells.
#
#   benches/quiet.sh                        # go1.24 × 6 arches, cgo=0, 30 reps
#   ARCHES="amd64 arm64" REPS=50 ROUNDS=2 benches/quiet.sh
#
# Timings on shared machines are noisy: compare the ways with each other, in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${CROSSMATRIX:-target/release/crossmatrix}
GO=${GO:-/usr/lib/go-1.24/bin/go}
ARCHES=${ARCHES:-"amd64 arm64 riscv64 s390x ppc64le mips64le"}
REPS=${REPS:-30}
ROUNDS=${ROUNDS:-1}
[ -x "$BIN" ] || cargo build --release --quiet
command -v jq >/dev/null || { echo "quiet.sh: needs jq (apt-get install jq)" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
GOVERSION=$("$GO" env GOVERSION)
targets=(); for a in $ARCHES; do targets+=(--target "linux/$a"); done

cm() { # $1 = cache dir, $2 = out dir, rest = extra flags
  local cache=$1 out=$2; shift 2
  "$BIN" run --toolchain "$GOVERSION" "${targets[@]}" --cgo 0 --reps "$REPS" \
    --cache-dir "$cache" --out "$out" --no-progress "$@" >/dev/null 2>&1 || {
    echo "quiet.sh: crossmatrix failed; see $out" >&2; trap - EXIT; exit 1; }
}
# id → median, mad of one run's timed cells, as "way<TAB>id<TAB>median<TAB>mad" lines.
medians() { jq -r --arg way "$1" 'select(.startup.median_ms != null)
  | [$way, .id, .startup.median_ms, .startup.mad_ms] | @tsv' "$2/cells.jsonl"; }

echo "cells: $GOVERSION × {$ARCHES} × cgo0, $REPS timed reps each, $ROUNDS cold round(s) per way"
cm "$WORK/ref-cache" "$WORK/prime" --reps 0
cm "$WORK/ref-cache" "$WORK/ref"
medians reference "$WORK/ref" >"$WORK/all.tsv"
for r in $(seq "$ROUNDS"); do
  cm "$WORK/q$r" "$WORK/quiet$r"
  medians quiet "$WORK/quiet$r" >>"$WORK/all.tsv"
  cm "$WORK/o$r" "$WORK/overlap$r" --overlap-timing
  medians overlap "$WORK/overlap$r" >>"$WORK/all.tsv"
  rm -rf "$WORK/q$r" "$WORK/o$r"
done

awk -F'\t' '
  $1 == "reference" { ref[$2] = $3 }
  { n[$1]++; way[$1 "," n[$1]] = $2 "\t" $3 "\t" $4 }
  END {
    printf "%-58s %-9s %10s %9s %8s\n", "cell", "way", "median ms", "MAD/med", "bias"
    split("reference quiet overlap", ways, " ")
    for (w = 1; w <= 3; w++) {
      k = ways[w]; cnt = 0; worst = 0
      for (i = 1; i <= n[k]; i++) {
        split(way[k "," i], f, "\t")
        spread = f[3] / f[2]; bias = f[2] / ref[f[1]] - 1
        printf "%-58s %-9s %10.2f %8.1f%% %+7.1f%%\n", f[1], k, f[2], spread * 100, bias * 100
        s[k, ++cnt] = spread
        if ((bias < 0 ? -bias : bias) > worst) worst = (bias < 0 ? -bias : bias)
      }
      # median of the spreads (insertion sort: a few dozen cells)
      for (i = 2; i <= cnt; i++) for (j = i; j > 1 && s[k, j-1] > s[k, j]; j--) {
        t = s[k, j]; s[k, j] = s[k, j-1]; s[k, j-1] = t }
      med = cnt % 2 ? s[k, (cnt+1)/2] : (s[k, cnt/2] + s[k, cnt/2+1]) / 2
      summary[w] = sprintf("%-9s %3d cells: median MAD/median %5.1f%%, largest |bias| vs reference %5.1f%%",
                           k, cnt, med * 100, worst * 100)
    }
    print ""
    for (w = 1; w <= 3; w++) print summary[w]
  }' "$WORK/all.tsv"
