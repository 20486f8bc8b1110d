#!/usr/bin/env bash
# ci/tests/dashboard-formats.sh — the benchmark-dashboard formats of `crossmatrix report` must be
# taken by what reads them. The inputs are the golden files the results crate's tests keep equal
# to the renderers' output (results/tests/golden/, from records that cover every status, Go
# benchmarks with -count 2, MB/s and a custom unit, an emulated sub-arch cell):
#
# - openmetrics.txt through prometheus_client's OpenMetrics parser (the Prometheus project's
#   Python client, PyPI prometheus-client), plus what it leaves to the receiver: every series
#   once (a Pushgateway refuses a push with a repeated series) and no timestamps;
# - bmf.json against Bencher's published BMF JSON schema (ci/tests/schemas/bmf.schema.json);
# - github-action-benchmark.json against the action's BenchmarkResult array, as a JSON schema
#   written from its source (ci/tests/schemas/github-action-benchmark.schema.json), with unique
#   names (the action pairs each result with the last run's by name).
#
# Each check is also shown to bite: a planted mistake per format must be refused. Run by
# ci/test; a missing Python package is SKIPPED (a failure under CI). ci/setup installs them.
set -euo pipefail
cd "$(dirname "$0")/../.."
DASH_DIR=${DASH_DIR:-/opt/crossmatrix/dashboards}
export PYTHONPATH="$DASH_DIR${PYTHONPATH:+:$PYTHONPATH}"

for m in prometheus_client jsonschema; do
  if ! /usr/bin/python3 -c "import $m" 2>/dev/null; then
    [ -n "${CI:-}" ] && { echo "dashboard-formats.sh: FAILED: CI is set but the Python package $m is missing from $DASH_DIR (ci/setup)"; exit 1; }
    echo "dashboard-formats.sh: SKIPPED: the Python package $m is missing from $DASH_DIR (run ci/setup)"; exit 0
  fi
done

exec /usr/bin/python3 - results/tests/golden ci/tests/schemas <<'PY'
import json, math, sys
from importlib.metadata import version
import jsonschema
from prometheus_client.openmetrics.parser import text_string_to_metric_families

golden, schemas = sys.argv[1], sys.argv[2]
passed = failed = 0

def check(name, fn, text):
    try:
        fn(text)
        return None
    except Exception as e:  # noqa: BLE001 — any refusal is the answer
        return f"{type(e).__name__}: {e}"

def openmetrics(text):
    seen = set()
    families = list(text_string_to_metric_families(text))
    if not families:
        raise ValueError("no metric family")
    # The parser keeps one sample per series, silently: count the lines it was given.
    lines = [l for l in text.splitlines() if l and not l.startswith("#")]
    kept = sum(len(f.samples) for f in families)
    if kept != len(lines):
        raise ValueError(f"a series twice: {len(lines)} sample lines, {kept} series")
    for fam in families:
        if fam.type != "gauge":
            raise ValueError(f"{fam.name}: {fam.type}, not a gauge")
        for s in fam.samples:
            if s.timestamp is not None:
                raise ValueError(f"{s.name}: a timestamp (the Pushgateway refuses them)")
            if not math.isfinite(s.value):
                raise ValueError(f"{s.name}: {s.value}")
            key = (s.name, tuple(sorted(s.labels.items())))
            if key in seen:
                raise ValueError(f"series twice: {key}")
            seen.add(key)
            for axis in ("toolchain", "target", "mode", "rootfs", "program"):
                if not s.labels.get(axis):
                    raise ValueError(f"{s.name}{s.labels}: no {axis} label")

def against(schema_file, unique_names=False):
    with open(f"{schemas}/{schema_file}") as f:
        schema = json.load(f)
    jsonschema.Draft7Validator.check_schema(schema)
    def validate(text):
        doc = json.loads(text)
        jsonschema.Draft7Validator(schema).validate(doc)
        if unique_names:
            names = [e["name"] for e in doc]
            dup = {n for n in names if names.count(n) > 1}
            if dup:
                raise ValueError(f"names twice: {sorted(dup)}")
    return validate

bmf = against("bmf.schema.json")
gab = against("github-action-benchmark.schema.json", unique_names=True)

def ok(name, fn, text):
    global passed, failed
    err = check(name, fn, text)
    if err is None:
        print(f"ok      {name}"); passed += 1
    else:
        print(f"FAILED  {name}: {err}"); failed += 1

def refused(name, fn, text):
    global passed, failed
    err = check(name, fn, text)
    if err is not None:
        print(f"ok      {name} (refused: {err.splitlines()[0][:100]})"); passed += 1
    else:
        print(f"FAILED  {name}: a planted mistake was accepted"); failed += 1

om = open(f"{golden}/openmetrics.txt").read()
bm = open(f"{golden}/bmf.json").read()
ga = open(f"{golden}/github-action-benchmark.json").read()

print(f"prometheus-client {version('prometheus-client')}, jsonschema {version('jsonschema')}")
ok("openmetrics.txt: prometheus_client's OpenMetrics parser", openmetrics, om)
ok("bmf.json: Bencher's BMF schema", bmf, bm)
ok("github-action-benchmark.json: the action's BenchmarkResult[]", gab, ga)

# The checks bite: one planted mistake each.
refused("openmetrics without # EOF", openmetrics, om.replace("# EOF\n", ""))
first = next(l for l in om.splitlines() if not l.startswith("#"))
refused("openmetrics with a series twice", openmetrics, om.replace(first + "\n", first + "\n" + first + "\n", 1))
refused("openmetrics with a UNIT its name lacks", openmetrics, om.replace("# UNIT crossmatrix_startup_seconds seconds", "# UNIT crossmatrix_startup_seconds milliseconds"))
refused("bmf with a value as a string", bmf, bm.replace('"value": ', '"value": "1" , "x": ', 1))
doc = json.loads(bm); k = next(iter(doc)); doc[k]["m" * 65] = {"value": 1}
refused("bmf with a measure name over 64 characters", bmf, json.dumps(doc))
doc = json.loads(ga); doc.append(dict(doc[0]))
refused("github-action-benchmark with a name twice", gab, json.dumps(doc))
doc = json.loads(ga); del doc[0]["unit"]
refused("github-action-benchmark without a unit", gab, json.dumps(doc))

print(f"dashboard-formats.sh: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
