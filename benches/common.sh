# benches/common.sh — the settings and scratch dir the whole-matrix benchmarks share; sourced
# by benches/matrix.sh and benches/quiet.sh from the repository root.
#
#   CROSSMATRIX  the binary (default: target/release/crossmatrix, built when missing)
#   GO           the go command of the toolchain to use (default: Go 1.27)
#   ARCHES       linux GOARCHes of the matrix (default: amd64 and five emulated ones)
#   REPS         timed repetitions per cell (default: 30, crossmatrix's own default)
BIN=${CROSSMATRIX:-target/release/crossmatrix}
GO=${GO:-/usr/lib/go-1.27/bin/go}
ARCHES=${ARCHES:-"amd64 arm64 riscv64 s390x ppc64le mips64le"}
REPS=${REPS:-30}
[ -x "$BIN" ] || cargo build --release --quiet
command -v jq >/dev/null || { echo "$0: needs jq (apt-get install jq)" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
GOVERSION=$("$GO" env GOVERSION)
targets=(); for a in $ARCHES; do targets+=(--target "linux/$a"); done
