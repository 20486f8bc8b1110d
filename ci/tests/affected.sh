#!/usr/bin/env bash
# ci/tests/affected.sh — ci/github/affected (the pull-request template's "only the programs a
# change can affect") on a small Go module: a change in a package reaches the programs importing
# it, a suite file only itself, go.mod and the config everything, a README nothing. Offline
# (GOPROXY=off; the module has no dependencies). Needs git and a Go toolchain.
set -euo pipefail
cd "$(dirname "$0")/../.."
AFFECTED=$PWD/ci/github/affected
GO=${GO:-$(command -v go || find /usr/lib -maxdepth 3 -path "/usr/lib/go-1.*/bin/go" | sort -V | tail -n 1)}
for need in git "$GO" python3; do
  if [ -z "$need" ] || ! command -v "$need" >/dev/null; then
    [ -n "${CI:-}" ] && { echo "affected.sh: FAILED: CI is set but ${need:-go} is missing (ci/setup)"; exit 1; }
    echo "affected.sh: SKIPPED: ${need:-go} is missing"; exit 0
  fi
done
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export GOCACHE=$TMP/gocache GOPATH=$TMP/gopath GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t
cd "$TMP" && mkdir repo && cd repo
git init -q -b main
mkdir -p cmd/server cmd/client internal/wire tools testdata/suite
printf 'module example.com/m\n\ngo 1.22\n' > go.mod
printf 'package wire\n\nfunc Hello() string { return "hi" }\n' > internal/wire/wire.go
printf 'package main\n\nimport "example.com/m/internal/wire"\n\nfunc main() { println(wire.Hello()) }\n' > cmd/server/main.go
printf 'package main\n\nfunc main() { println("client") }\n' > cmd/client/main.go
printf 'package main\n\nfunc main() { println("gen") }\n' > tools/gen.go
printf 'package main\n\nfunc main() { println("other") }\n' > tools/other.go
printf 'package main\n\nfunc main() { println(1) }\n' > testdata/suite/one.go
printf 'package main\n\nfunc main() { println(2) }\n' > testdata/suite/two.go
echo 2 > testdata/suite/two.out
echo "# m" > README.md
cat > crossmatrix.toml <<'TOML'
[[programs]]
path = "cmd/server"
[[programs]]
path = "cmd/client"
name = "the-client"
[[programs]]
path = "tools/gen.go"
[[programs]]
path = "testdata/suite"
suite = true
TOML
git add -A && git commit -qm base
base=$(git rev-parse HEAD)

passed=0; failed=0
# case NAME WANT FILE...: touch FILEs on a branch from base, expect `affected` to print WANT.
case_() {
  local name=$1 want=$2 got
  shift 2
  git checkout -q -B "t$passed$failed" "$base"
  for f in "$@"; do echo "// changed" >> "$f"; done
  git commit -qam "$name"
  got=$(python3 "$AFFECTED" "$base" --go "$GO" 2>/dev/null)
  if [ "$got" = "$want" ]; then echo "ok      $name"; passed=$((passed + 1))
  else echo "FAILED  $name: want '$want', got '$got'"; failed=$((failed + 1)); fi
}
case_ "an imported package reaches the program importing it" "programs server" internal/wire/wire.go
case_ "a program's own package, by its configured name" "programs the-client" cmd/client/main.go
case_ "a single-file program: itself" "programs gen" tools/gen.go
case_ "a single-file program: not its neighbours" "none" tools/other.go
case_ "a suite: only the changed file's program" "programs two" testdata/suite/two.out
case_ "go.mod reaches every program" "all" go.mod
case_ "the config reaches every program" "all" crossmatrix.toml
case_ "a README reaches none" "none" README.md
case_ "two packages, two programs" "programs server the-client" internal/wire/wire.go cmd/client/main.go
echo "affected.sh: $passed passed, $failed failed"
[ "$failed" = 0 ]
