#!/usr/bin/env bash
# ci/tests/lint.sh — the linters of ci/lint must catch what they are there for: each test plants
# one broken file (a workflow passing an input the action does not have, a workflow step with an
# unquoted variable, a job needing a job that does not exist, a shell script with an unquoted
# cd, a Containerfile on :latest with unpinned apt packages, a Job manifest with a misspelt
# field, an expression in the action's metadata) and expects the linter to fail and to name
# the mistake. So ci/lint cannot pass for want
# of looking. Run by ci/test; a missing linter is SKIPPED (a failure under CI).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
LINT_DIR=${LINT_DIR:-/opt/crossmatrix/lint}
export PATH="$LINT_DIR/bin:$PATH"
export PYTHONPATH="$LINT_DIR${PYTHONPATH:+:$PYTHONPATH}"

for t in actionlint shellcheck hadolint kubernetes-validate; do
  if ! command -v "$t" >/dev/null; then
    [ -n "${CI:-}" ] && { echo "lint.sh: FAILED: CI is set but $t is missing (ci/setup)"; exit 1; }
    echo "lint.sh: SKIPPED: $t is missing (run ci/setup)"; exit 0
  fi
done

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
passed=0; failed=0

# expect_caught NAME PATTERN CMD...: CMD must exit non-zero and print PATTERN (an ERE).
expect_caught() {
  local name=$1 pattern=$2 out rc=0
  shift 2
  out=$("$@" 2>&1) || rc=$?
  if [ "$rc" != 0 ] && grep -qE -- "$pattern" <<< "$out"; then
    echo "ok      $name"; passed=$((passed + 1))
  else
    echo "FAILED  $name: expected a failure matching /$pattern/, got exit $rc:"
    printf '    %s\n' "${out//$'\n'/$'\n'    }"
    failed=$((failed + 1))
  fi
}

# A project with the real action and one planted workflow.
project() {
  rm -rf "$TMP/p"
  mkdir -p "$TMP/p/.github/workflows" "$TMP/p/ci/github" "$TMP/p/.git"  # .git: actionlint's project root
  cp "$ROOT/ci/github/action.yml" "$TMP/p/ci/github/"
  cat > "$TMP/p/.github/workflows/planted.yml"
}
actionlint_in_project() { (cd "$TMP/p" && actionlint -no-color); }

project <<'YAML'
on: push
jobs:
  run:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
      - uses: ./ci/github
        with:
          shardz: 1/4
YAML
expect_caught "actionlint: an input the action does not define" 'input "shardz" is not defined' actionlint_in_project

# An expression in an input's description: the runner (and act) refuse the whole action;
# actionlint does not look there.
sed 's#description: "`K/N`: run only shard K of N.*#description: "`K/N` (e.g. `${{ matrix.shard }}`)"#' \
  "$ROOT/ci/github/action.yml" > "$TMP/action.yml"
grep -q 'matrix.shard' "$TMP/action.yml" || { echo "FAILED  lint.sh could not plant the expression"; exit 1; }
expect_caught "check-action-metadata: an expression in an input's description" \
  'action.yml:[0-9]+: an expression in .description.' python3 "$ROOT/ci/check-action-metadata" "$TMP/action.yml"

project <<'YAML'
on: push
jobs:
  run:
    runs-on: ubuntu-24.04
    steps:
      - run: cd $GITHUB_WORKSPACE/out && ls
YAML
expect_caught "actionlint: shellcheck of a run: step (unquoted variable)" 'SC2086' actionlint_in_project

project <<'YAML'
on: push
jobs:
  merge:
    needs: shards
    runs-on: ubuntu-24.04
    steps:
      - run: echo "${{ needs.plan.outputs.matrix }}"
YAML
expect_caught "actionlint: needs a job that does not exist" 'needs job "shards" which does not exist' actionlint_in_project

# The real workflows are clean, so the planted ones above failed for their mistakes alone.
project < "$ROOT/ci/github/pull-request.yml"
sed -i 's#uses: OWNER/crossmatrix/ci/github@v1#uses: ./ci/github#' "$TMP/p/.github/workflows/planted.yml"
if actionlint_in_project >/dev/null 2>&1; then
  echo "ok      actionlint: the pull-request template passes as it is"; passed=$((passed + 1))
else
  echo "FAILED  actionlint: the pull-request template does not pass"; failed=$((failed + 1))
fi

# shellcheck disable=SC2016 # the planted script's text, not expanded here
printf '#!/usr/bin/env bash\ndir=$1\ncd $dir\n' > "$TMP/planted.sh"
expect_caught "shellcheck: an unquoted cd" 'SC2086' shellcheck "$TMP/planted.sh"

printf 'FROM debian:latest\nRUN apt-get update && apt-get install -y curl\n' > "$TMP/Containerfile"
expect_caught "hadolint: :latest and unpinned apt-get install" 'DL3007' hadolint "$TMP/Containerfile"

sed 's/completionMode: Indexed/completionMod: Indexed/' "$ROOT/ci/k8s/indexed-job.yaml" > "$TMP/job.yaml"
expect_caught "kubernetes-validate --strict: a misspelt field" 'completionMod' kubernetes-validate --strict --quiet "$TMP/job.yaml"

echo "lint.sh: $passed passed, $failed failed"
[ "$failed" = 0 ]
