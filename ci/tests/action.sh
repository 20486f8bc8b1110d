#!/usr/bin/env bash
# ci/tests/action.sh — the GitHub Action's scripts, run here with stand-ins for crossmatrix,
# cargo and ci/github/affected: the command lines they build from the action's inputs, the step
# outputs they write, how a failing run is reported, and how crossmatrix gets installed (from the
# cache, or with cargo from the action's own source). The action itself runs only on GitHub
# (.github/workflows/action-selftest.yml); this checks its logic offline.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
passed=0; failed=0
ok() { echo "ok      $1"; passed=$((passed + 1)); }
bad() { echo "FAILED  $1"; shift; printf '    %s\n' "$@"; failed=$((failed + 1)); }
expect_eq() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "want: $3" "got:  $2"; fi; }

# A stand-in crossmatrix: records its arguments (one per line) and whether it saw a step
# summary, prints a plan for `plan`, exits $FAKE_RC for `run`.
mkdir -p "$TMP/bin" "$TMP/action"
cat > "$TMP/bin/crossmatrix" <<'EOF'
#!/usr/bin/env bash
printf '%s\n' "$@" > "$FAKE_LOG"
echo "summary=${GITHUB_STEP_SUMMARY:-unset}" >> "$FAKE_LOG"
case "$1" in
  plan) echo '{"include":[{"shard":"1/2","index":1},{"shard":"2/2","index":2}]}' ;;
  run) out=$4; mkdir -p "$out"; printf '{}\n{}\n' > "$out/cells.jsonl"; exit "${FAKE_RC:-0}" ;;
esac
EOF
chmod +x "$TMP/bin/crossmatrix"
export PATH="$TMP/bin:$PATH" FAKE_LOG="$TMP/args" GITHUB_OUTPUT="$TMP/output" GITHUB_STEP_SUMMARY="$TMP/summary"
run_action() { : > "$GITHUB_OUTPUT"; rm -f "$FAKE_LOG"; (cd "$TMP" && env "$@" bash "$ROOT/ci/github/run-crossmatrix"); }
args() { tr '\n' ' ' < "$FAKE_LOG" 2>/dev/null | sed 's/ $//'; }
out() { sed -n "s/^$1=//p" "$GITHUB_OUTPUT"; }

run_action COMMAND=plan SHARDS=2 CONFIG=cm.toml ARGS="--target linux/arm64" 2>/dev/null
expect_eq "plan: the command line" "$(args)" "plan --format github --shards 2 --config cm.toml --target linux/arm64 summary=$TMP/summary"
expect_eq "plan: the matrix output" "$(out matrix)" '{"include":[{"shard":"1/2","index":1},{"shard":"2/2","index":2}]}'

touch "$TMP/server-linux-arm64-x"  # a file the glob below would match if it were expanded
run_action COMMAND=run SHARD=2/4 OUT=o ARGS="--reps 3
  --filter *linux-arm64*" 2>/dev/null
expect_eq "run: shard, extra args split on whitespace and newlines, globs not expanded" "$(args)" \
  "run --no-progress --out o --shard 2/4 --reps 3 --filter *linux-arm64* summary=$TMP/summary"
expect_eq "run: outputs" "$(out out) $(out exit-code) $(out cells) $(out skipped)" "o 0 2 false"

FAKE_RC=1 run_action COMMAND=run OUT=o SUMMARY=false 2>/dev/null && rc=0 || rc=$?
expect_eq "run: a failing cell is an output, not a failed step; no summary when asked" \
  "$rc $(out exit-code) $(sed -n 's/^summary=//p' "$FAKE_LOG")" "0 1 unset"

# affected: a stand-in prints what the real one would.
printf '#!/usr/bin/env python3\nimport os\nprint(os.environ["FAKE_AFFECTED"])\n' > "$TMP/action/affected"
run_action COMMAND=run OUT=o ACTION_PATH="$TMP/action" AFFECTED_BASE=abc FAKE_AFFECTED="programs server the-client" 2>/dev/null
expect_eq "affected programs become filters" "$(args)" \
  "run --no-progress --out o --filter program=server --filter program=the-client summary=$TMP/summary"
run_action COMMAND=run OUT=o ACTION_PATH="$TMP/action" AFFECTED_BASE=abc FAKE_AFFECTED=all \
  AFFECTED_DEFAULT="--filter target=linux/amd64 --filter target=wasip1/wasm" 2>/dev/null
expect_eq "a change reaching everything runs the small default" "$(args)" \
  "run --no-progress --out o --filter target=linux/amd64 --filter target=wasip1/wasm summary=$TMP/summary"
: > "$GITHUB_STEP_SUMMARY"
run_action COMMAND=run OUT=o ACTION_PATH="$TMP/action" AFFECTED_BASE=abc FAKE_AFFECTED=none 2>/dev/null
if [ ! -e "$FAKE_LOG" ] && [ "$(out skipped)" = true ] && grep -q "no cell ran" "$GITHUB_STEP_SUMMARY"; then
  ok "nothing affected: crossmatrix does not run, skipped=true, the summary says so"
else bad "nothing affected" "log: $(args)" "skipped: $(out skipped)"; fi

# install-crossmatrix: from the cache, else cargo from the action's own source.
cat > "$TMP/bin/cargo" <<'EOF'
#!/usr/bin/env bash
printf '%s\n' "$@" > "$FAKE_LOG"
root=$4; mkdir -p "$root/bin"; printf '#!/bin/sh\necho crossmatrix 0.0.0-fake\n' > "$root/bin/crossmatrix"
chmod +x "$root/bin/crossmatrix"
EOF
chmod +x "$TMP/bin/cargo"
inst() { env ACTION_PATH="$ROOT/ci/github" DEST="$TMP/dest" "$@" bash "$ROOT/ci/github/install-crossmatrix" install 2>&1; }
o=$(inst ACTION_REF=main ACTION_REPOSITORY=)
got=$(args)
if [[ "$got" =~ ^install\ --locked\ --root\ (/[^[:space:]]+)[[:space:]]--path[[:space:]] ]] \
   && [ "${BASH_REMATCH[1]}" != "$TMP/dest" ] && [ ! -e "${BASH_REMATCH[1]}" ] \
   && [ -x "$TMP/dest/bin/crossmatrix" ]; then
  ok "install: cargo install --locked from the action's own source into a staging root, moved into place"
else bad "install: cargo from source" "$got" "$o"; fi
o=$(inst ACTION_REF=main); rm -f "$FAKE_LOG"
if grep -q "cached: $TMP/dest/bin/crossmatrix" <<< "$o" && [ ! -e "$FAKE_LOG" ]; then ok "install: a cached binary is used as it is"
else bad "install: cached" "$o"; fi
k1=$(ACTION_PATH="$ROOT/ci/github" DEST=x bash ci/github/install-crossmatrix key)
k2=$(ACTION_PATH="$ROOT/ci/github" DEST=x bash ci/github/install-crossmatrix key)
k3=$(VERSION=v0.3.0 ACTION_PATH="$ROOT/ci/github" DEST=x bash ci/github/install-crossmatrix key)
if [ "$k1" = "$k2" ] && [[ "$k1" =~ ^src-[0-9a-f]{16}- ]] && [[ "$k3" =~ ^v0\.3\.0- ]]; then
  ok "install: the cache key is the source's hash, or the version"
else bad "install: key" "$k1" "$k2" "$k3"; fi

# A moving major tag (@v1) asks for the release of the version its source says (releases are
# vX.Y.Z only), and the install replaces a binary a running job uses by rename, never in place.
# A stand-in curl serves that release (a real ELF binary) and records the URLs it was asked for.
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n 1)
asset="crossmatrix-v$version-x86_64-unknown-linux-gnu.tar.gz"
mkdir -p "$TMP/rel" "$TMP/dest2/bin"
cp /bin/true "$TMP/rel/crossmatrix"
tar -czf "$TMP/rel/$asset" -C "$TMP/rel" crossmatrix
(cd "$TMP/rel" && sha256sum "$asset" > "$asset.sha256")
# shellcheck disable=SC2016 # the stand-in's own variables, written literally
{
  echo '#!/usr/bin/env bash'
  echo 'out=; url='
  echo 'while [ $# -gt 0 ]; do case "$1" in -o) out=$2; shift 2 ;; -H) shift 2 ;; -*) shift ;; *) url=$1; shift ;; esac; done'
  echo "echo \"\$url\" >> '$TMP/urls'"
  echo "f='$TMP/rel/'\$(basename \"\$url\")"
  echo '[ -f "$f" ] && cp "$f" "$out"'
} > "$TMP/bin/curl"
chmod +x "$TMP/bin/curl"
# The old binary, running (a copy of sleep) while the new one is installed; the install step
# runs only when no binary is at $DEST/bin/crossmatrix, so the running one is unlinked first,
# as a cache restore of another key would leave it.
cp "$(command -v sleep)" "$TMP/dest2/bin/crossmatrix"
"$TMP/dest2/bin/crossmatrix" 30 &
running=$!
# shellcheck disable=SC2016 # expanded by the inner bash
o=$(env ACTION_PATH="$ROOT/ci/github" DEST="$TMP/dest2" ACTION_REF=v1 ACTION_REPOSITORY=o/crossmatrix \
  RUNNER_ARCH=X64 bash -c 'mv "$DEST/bin/crossmatrix" "$DEST/old"; bash "$ACTION_PATH/install-crossmatrix" install' 2>&1) || true
kill "$running" 2>/dev/null || true
if grep -q "releases/download/v$version/$asset\$" "$TMP/urls" 2>/dev/null \
   && cmp -s "$TMP/dest2/bin/crossmatrix" /bin/true; then
  ok "install: @v1 fetches the release its source's version names ($asset), checked, moved into place"
else bad "install: @v1 release" "urls: $(cat "$TMP/urls" 2>/dev/null)" "$o"; fi

# CROSSMATRIX_BINARY (a runner that has crossmatrix already, e.g. ci/tests/act.sh): that binary
# is copied into place, nothing is downloaded (curl) or built (cargo), even for @v1; the cache
# key is the binary's hash.
mkdir -p "$TMP/own"
cp /bin/true "$TMP/own/crossmatrix"
rm -f "$FAKE_LOG" "$TMP/urls"
o=$(env ACTION_PATH="$ROOT/ci/github" DEST="$TMP/dest3" ACTION_REF=v1 ACTION_REPOSITORY=o/crossmatrix \
  RUNNER_ARCH=X64 CROSSMATRIX_BINARY="$TMP/own/crossmatrix" bash ci/github/install-crossmatrix install 2>&1) || true
k=$(CROSSMATRIX_BINARY="$TMP/own/crossmatrix" VERSION=0.3.0 RUNNER_ARCH=X64 ACTION_PATH="$ROOT/ci/github" DEST=x \
  bash ci/github/install-crossmatrix key)
h=$(sha256sum /bin/true | cut -c1-16)
if cmp -s "$TMP/dest3/bin/crossmatrix" /bin/true && [ ! -e "$FAKE_LOG" ] && [ ! -e "$TMP/urls" ] \
   && [ "$k" = "bin-$h-x86_64-unknown-linux-gnu" ]; then
  ok "install: CROSSMATRIX_BINARY is copied into place (no download, no build), keyed by its hash"
else bad "install: CROSSMATRIX_BINARY" "key: $k" "$o"; fi
o=$(env ACTION_PATH="$ROOT/ci/github" DEST="$TMP/dest4" CROSSMATRIX_BINARY="$TMP/own/missing" \
  bash ci/github/install-crossmatrix install 2>&1) && rc=0 || rc=$?
if [ "$rc" != 0 ] && grep -q "not an executable file" <<< "$o" && [ ! -e "$TMP/dest4/bin/crossmatrix" ]; then
  ok "install: a CROSSMATRIX_BINARY that is not there fails, naming it"
else bad "install: missing CROSSMATRIX_BINARY" "rc $rc" "$o"; fi

echo "action.sh: $passed passed, $failed failed"
[ "$failed" = 0 ]
