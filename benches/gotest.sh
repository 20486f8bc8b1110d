#!/usr/bin/env bash
# benches/gotest.sh — `crossmatrix test` against the hand-written loop it replaces: for each
# target, `GOARCH=… go test -short PKGS` with binfmt_misc running the foreign test binaries (no
# sandbox, no rootfs axis, no per-test record). Both cold (empty GOCACHE for both; Go's test
# cache and crossmatrix's caches start empty) and warm (the same again: Go's test cache
# answers the loop, crossmatrix reuses its unchanged passing cells). Prints both walls and the
# ratios; CPU seconds too.
#
#   benches/gotest.sh                                    # go1.27, 10 std packages × 4 arches
#   PKGS="strings bytes" ARCHES="amd64 arm64" benches/gotest.sh
#
# Timings on shared machines are noisy: compare the ratio, not the absolute seconds, and run
# nothing else meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${CROSSMATRIX:-target/release/crossmatrix}
GO=${GO:-/usr/lib/go-1.27/bin/go}
PKGS=${PKGS:-"strings strconv bytes sort encoding/json encoding/binary math/big regexp hash/crc32 crypto/sha256"}
ARCHES=${ARCHES:-"amd64 arm64 s390x riscv64"}
[ -x "$BIN" ] || cargo build --release --quiet
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
GOVERSION=$("$GO" env GOVERSION)
targets=(); for a in $ARCHES; do targets+=(--target "linux/$a"); done
read -r -a pkgs <<<"$PKGS"

loop() { # $1 = GOCACHE
  for a in $ARCHES; do
    GOCACHE="$1" GOFLAGS= GOARCH=$a CGO_ENABLED=0 "$GO" test -short "${pkgs[@]}" || true
  done
}
# Runs "$@" and sets wall and cpu (user + system of it and its children).
measure() {
  local t
  t=$( { TIMEFORMAT='%R %U %S'; time "$@" >/dev/null 2>&1; } 2>&1 )
  wall=$(awk '{print $1}' <<<"$t")
  cpu=$(awk '{print $2 + $3}' <<<"$t")
}
cm() { # $1 = cache dir, $2 = out dir
  "$BIN" test "${pkgs[@]}" --toolchain "$GOVERSION" "${targets[@]}" --cgo 0 \
    --cache-dir "$1" --out "$2" --no-progress -- -short || true
}

echo "go test: $GOVERSION × {$ARCHES} × {$PKGS}, -short"
measure loop "$WORK/gocache"; lc=$wall; lcc=$cpu
measure loop "$WORK/gocache"; lw=$wall; lwc=$cpu
measure cm "$WORK/cmcache" "$WORK/o1"; cc=$wall; ccc=$cpu
measure cm "$WORK/cmcache" "$WORK/o2"; cw=$wall; cwc=$cpu
printf '%-6s %10s %10s %8s %10s %10s\n' "" "loop (s)" "cm (s)" "ratio" "loop CPU" "cm CPU"
printf '%-6s %10.2f %10.2f %8.3f %10.1f %10.1f\n' cold "$lc" "$cc" "$(awk "BEGIN{print $cc / $lc}")" "$lcc" "$ccc"
printf '%-6s %10.2f %10.2f %8.3f %10.1f %10.1f\n' warm "$lw" "$cw" "$(awk "BEGIN{print $cw / $lw}")" "$lwc" "$cwc"
tests=$(jq -s 'map(.tests.totals.run // 0) | add' "$WORK/o1/cells.jsonl")
passed=$(jq -s 'map(select(.status == "pass")) | length' "$WORK/o1/cells.jsonl")
cells=$(wc -l <"$WORK/o1/cells.jsonl")
reused=$(jq -s 'map(select(.reused_from != null)) | length' "$WORK/o2/cells.jsonl")
echo "crossmatrix: $passed of $cells cells passed, $tests Go tests recorded; warm: $reused cells reused"
