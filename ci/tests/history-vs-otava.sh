#!/usr/bin/env bash
# ci/tests/history-vs-otava.sh — `crossmatrix history` against Apache Otava (PyPI apache-otava),
# side by side, on the synthetic nights the results crate's tests use
# (results/tests/golden/history-synthetic.json, kept equal to results/src/history/tests.rs):
#
# - each case becomes one series of 20 run dirs (cells.jsonl + run.json) that the real binary
#   reads: time cases as a startup median, exact cases as an instruction count;
# - Otava runs on the same values twice: its E-divisive means with the permutation test
#   (otava.analysis.compute_change_points_orig, seeded) — the method crossmatrix implements —
#   and its default (compute_change_points: windows of 50, a t-test, the merge step with
#   --magnitude), both at p ≤ 0.05, magnitude 5% for times and 0 for counts;
# - the table prints both; the script fails when crossmatrix and Otava's E-divisive disagree
#   on a time case they should agree on (`compare` in the fixture: `nights` — the same change
#   points within a night —, `some` — both find a change in a drift). Exact counts (`report`)
#   are shown, not held: there crossmatrix reads levels, which Otava does not.
#
# Needs the release binary (CROSSMATRIX_BIN, default target/release/crossmatrix): ci/test runs
# it after the cargo tests. A missing Otava or binary is SKIPPED (a failure under CI). ci/setup
# installs Otava into /opt/crossmatrix/otava.
set -euo pipefail
cd "$(dirname "$0")/../.."
OTAVA_DIR=${OTAVA_DIR:-/opt/crossmatrix/otava}
BIN=${CROSSMATRIX_BIN:-target/release/crossmatrix}

skip() {
  if [ -n "${CI:-}" ]; then
    echo "history-vs-otava.sh: FAILED: CI is set but $1"
    exit 1
  fi
  echo "history-vs-otava.sh: SKIPPED: $1"
  exit 0
}
PYTHONPATH="$OTAVA_DIR" /usr/bin/python3 -c 'import otava.analysis' 2>/dev/null ||
  skip "Apache Otava is missing from $OTAVA_DIR (run ci/setup)"
[ -x "$BIN" ] || skip "no crossmatrix binary at $BIN (cargo build --release, or set CROSSMATRIX_BIN)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
PYTHONPATH="$OTAVA_DIR" /usr/bin/python3 - results/tests/golden/history-synthetic.json "$BIN" "$work" <<'PY'
import hashlib, json, os, subprocess, sys
from importlib.metadata import version
from otava.analysis import compute_change_points, compute_change_points_orig

fixture, binary, work = sys.argv[1], sys.argv[2], sys.argv[3]
data = json.load(open(fixture))
cases, nights = data["cases"], data["nights"]

def record(case, value):
    r = {
        "schema": 1,
        "id": f"go1.27/linux-arm64/cgo0/rootfs-scratch/{case['name']}",
        "toolchain": {"name": "go1.27", "version": "go1.27.4", "goroot": "/usr/lib/go-1.27"},
        "target": {"goos": "linux", "goarch": "arm64", "variant": None},
        "cgo": 0, "libc": None, "rootfs": "scratch", "program": case["name"],
        "build": {"status": "ok", "duration_ms": 900},
        "status": "pass",
    }
    if case["exact"]:
        n = int(round(value))
        r["instructions"] = {"count": n, "samples": [n],
                             "counter": {"qemu_version": "10.0.2", "arch": "aarch64"}}
    else:
        r["startup"] = {"reps": 1, "median_ms": value, "min_ms": value, "mad_ms": 0.0,
                        "samples_ms": [value]}
    return r

dirs = []
for night in range(nights):
    d = os.path.join(work, f"night-{night:02}")
    os.makedirs(d)
    with open(os.path.join(d, "cells.jsonl"), "w") as f:
        for c in cases:
            f.write(json.dumps(record(c, c["values"][night])) + "\n")
    meta = {
        "schema": 1, "crossmatrix_version": "test",
        "started_at": f"2026-11-{night + 1:02}T03:17:00Z",
        "finished_at": f"2026-11-{night + 1:02}T03:40:00Z", "wall_ms": 0,
        "host": {"hostname": "h", "os": "o", "kernel": "k", "arch": "x86_64", "cores": 2,
                 "user": "u", "binfmt": True},
        "tools": [], "toolchains": [], "matrix_hash": "h", "planned": [],
        "commit": hashlib.sha1(f"night {night}".encode()).hexdigest(), "jobs": 1, "reps": 1,
        "totals": {"cells": len(cases), "pass": len(cases), "fail": 0, "skipped": 0, "built": 0},
    }
    with open(os.path.join(d, "run.json"), "w") as f:
        json.dump(meta, f)
    dirs.append(d)

def crossmatrix(*args):
    out = subprocess.run([binary, "history", *dirs, "--format", "json", *args],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"history-vs-otava.sh: FAILED: crossmatrix history exited {out.returncode}: {out.stderr}")
    found = {}
    for ch in json.loads(out.stdout)["changes"]:
        found.setdefault(ch["program"], []).append(ch["night"])
    return found

ours = crossmatrix()
# The check must bite: with a minimum change no step reaches, crossmatrix finds nothing, and
# the time cases with a change must then disagree with Otava.
blind = crossmatrix("--min-change", "1000")

def otava_orig(values):
    cps, _ = compute_change_points_orig(values, max_pvalue=0.05, seed=1)
    return sorted(int(c.index) for c in cps)

def otava_default(values, exact):
    cps, _ = compute_change_points(values, window_len=50, max_pvalue=0.05,
                                   min_magnitude=0.0 if exact else 0.05)
    return sorted(int(c.index) for c in cps)

def agree(rule, a, b):
    if rule == "nights":
        return len(a) == len(b) and all(abs(x - y) <= 1 for x, y in zip(a, b))
    if rule == "some":
        return bool(a) and bool(b)
    return True

def show(v):
    return ", ".join(map(str, v)) if v else "none"

print(f"crossmatrix history against Apache Otava {version('apache-otava')}, {nights} nights, p ≤ 0.05")
print()
print("| series | true change | crossmatrix | Otava E-divisive (permutation) | Otava default (t-test) | held |")
print("|---|---|---|---|---|---|")
failed = []
for c in cases:
    cm = sorted(ours.get(c["name"], []))
    orig = otava_orig(c["values"])
    default = otava_default(c["values"], c["exact"])
    ok = agree(c["compare"], cm, orig)
    held = {"nights": "same nights ±1", "some": "both find one", "report": "shown only"}[c["compare"]]
    mark = held if ok else f"**DISAGREE** ({held})"
    truth = show(c["truth"]) if c["truth"] or "none" in c["expect"] else "(drift)"
    print(f"| {c['name']} | {truth} | {show(cm)} | {show(orig)} | {show(default)} | {mark} |")
    if not ok:
        failed.append(c["name"])
print()
bites = [c["name"] for c in cases if c["compare"] != "report" and c["truth"]
         and not agree(c["compare"], sorted(blind.get(c["name"], [])), otava_orig(c["values"]))]
if not bites:
    sys.exit("history-vs-otava.sh: FAILED: a crossmatrix that finds nothing (--min-change 1000) "
             "agrees with Otava everywhere: the comparison does not bite")
print(f"planted: with --min-change 1000 crossmatrix disagrees on {', '.join(bites)} (as it must)")
if failed:
    sys.exit(f"history-vs-otava.sh: FAILED: crossmatrix and Otava's E-divisive disagree on {', '.join(failed)}")
print(f"history-vs-otava.sh: ok ({len(cases)} cases)")
PY
