#!/usr/bin/env bash
# benches/matrix.sh — whole-matrix benchmark: crossmatrix against a naive sequential shell loop
# (go build + one run per cell, no sandbox, no repetitions, no records) on the same matrix, cold
# (empty caches for both) and warm, in one run on this machine. Prints both walls, the ratio,
# and crossmatrix's own wall ÷ CPU-bound ratio from run.json.
#
# crossmatrix runs twice per temperature: with REPS timed repetitions per cell (the default
# run), and with --reps 0 (the loop's own work: one verified run per cell).
#
#   benches/matrix.sh                       # go1.24 × 6 arches, cgo=0
#   ARCHES="amd64 arm64" GO=/usr/lib/go-1.22/bin/go benches/matrix.sh
#
# Timings on shared machines are noisy: compare the ratio, not the absolute seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${CROSSMATRIX:-target/release/crossmatrix}
GO=${GO:-/usr/lib/go-1.24/bin/go}
ARCHES=${ARCHES:-"amd64 arm64 riscv64 s390x ppc64le mips64le"}
REPS=${REPS:-30}
CM_REPS=$REPS
[ -x "$BIN" ] || cargo build --release --quiet
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cp -r runner/probe "$WORK/probe"
GOVERSION=$("$GO" env GOVERSION)
targets=(); for a in $ARCHES; do targets+=(--target "linux/$a"); done

now() { date +%s.%N; }
naive_loop() { # $1 = GOCACHE
  for a in $ARCHES; do
    (cd "$WORK/probe" && GOCACHE="$1" GOFLAGS=-buildvcs=false CGO_ENABLED=0 GOARCH=$a "$GO" build -o "$WORK/loop/$a/probe" .)
    "$WORK/loop/$a/probe" >/dev/null
  done
}
crossmatrix_run() { # $1 = cache dir, $2 = out dir
  "$BIN" run --toolchain "$GOVERSION" "${targets[@]}" --cgo 0 --reps "$REPS" \
    --cache-dir "$1" --out "$2" --no-progress >/dev/null 2>&1
}

echo "matrix: $GOVERSION × {$ARCHES} × cgo0; crossmatrix with $REPS timed reps per cell"
t0=$(now); naive_loop "$WORK/gocache-loop"; t1=$(now)
loop_cold=$(awk "BEGIN{print $t1 - $t0}")
t0=$(now); naive_loop "$WORK/gocache-loop"; t1=$(now)
loop_warm=$(awk "BEGIN{print $t1 - $t0}")
t0=$(now); crossmatrix_run "$WORK/cm-cache" "$WORK/out-cold"; t1=$(now)
cm_cold=$(awk "BEGIN{print $t1 - $t0}")
t0=$(now); crossmatrix_run "$WORK/cm-cache" "$WORK/out-warm"; t1=$(now)
cm_warm=$(awk "BEGIN{print $t1 - $t0}")
# The loop's own work: one run per cell, no timed repetitions (--reps 0), still sandboxed,
# verified and recorded.
REPS=0
t0=$(now); crossmatrix_run "$WORK/cm-cache0" "$WORK/out-cold0"; t1=$(now)
cm_cold0=$(awk "BEGIN{print $t1 - $t0}")
t0=$(now); crossmatrix_run "$WORK/cm-cache0" "$WORK/out-warm0"; t1=$(now)
cm_warm0=$(awk "BEGIN{print $t1 - $t0}")
bound() { jq -r '"\(.wall_s / .cpu_bound_s * 100 | round / 100) (bound \(.cpu_bound_s) s, \(.cpu_s) s CPU)"' "$1/run.json"; }
row() { printf '%-20s %10.2f %12.2f %8.2f   %s\n' "$1" "$2" "$3" "$(awk "BEGIN{print $3 / $2}")" "$(bound "$4")"; }
printf '%-20s %10s %12s %8s   %s\n' "" "loop (s)" "crossmatrix" "ratio" "crossmatrix wall ÷ its CPU bound"
row "cold, ${CM_REPS} reps" "$loop_cold" "$cm_cold" "$WORK/out-cold"
row "warm, ${CM_REPS} reps" "$loop_warm" "$cm_warm" "$WORK/out-warm"
row "cold, 0 reps" "$loop_cold" "$cm_cold0" "$WORK/out-cold0"
row "warm, 0 reps" "$loop_warm" "$cm_warm0" "$WORK/out-warm0"
