//! A test cell's Go tests: the test binary's flags, its output turned into Go's test events by
//! the cell toolchain's own `test2json`, and the events into a record — every test and
//! subtest with its result, the output of those that failed or were skipped, benchmarks
//! (the verdict is [`crate::diagnose::test_verdict`]).

use crate::diagnose::Failure;
use crossmatrix_matrix::{Cause, TestSpec};
use crossmatrix_results::{BenchmarkResult, TestCase, TestStatus, TestTotals, TestsRecord};
use crossmatrix_sandbox::Abort;
use crossmatrix_sandbox::capture::Caps;
use crossmatrix_sandbox::process::{CaptureOptions, Finished, run_captured_opts};
use regex::Regex;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::LazyLock;
use std::time::Duration;

/// Output kept per failed or skipped test.
const CASE_OUTPUT: usize = 8 * 1024;
/// test2json writes a few times what it reads (each line becomes a JSON event): room for the
/// events of the most test output a cell keeps ([`Caps::TOOL`]).
const EVENTS_CAP: Caps = Caps {
    head: 1 << 30,
    tail: 64 << 20,
};
/// Converting even the most test output a cell keeps takes seconds.
const TEST2JSON_TIMEOUT: Duration = Duration::from_secs(600);

/// The test binary's flags for a cell whose run is limited to `timeout`: Go's test2json
/// framing, a `-test.timeout` a little below the cell's (so Go prints its own stack dump of
/// the hung test before crossmatrix kills it), and the spec's flags.
pub fn test_args(spec: &TestSpec, timeout: Duration) -> Vec<String> {
    let margin = (timeout / 10).clamp(Duration::from_secs(2), Duration::from_secs(30));
    let go_timeout = timeout.saturating_sub(margin).max(Duration::from_secs(1));
    let mut args = vec![
        "-test.v=test2json".to_string(),
        "-test.paniconexit0".to_string(),
        format!("-test.timeout={}ms", go_timeout.as_millis()),
    ];
    args.extend(spec.binary_flags());
    args
}

/// One of Go's test events (`go doc test2json`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TestEvent {
    pub action: String,
    #[serde(default)]
    pub test: Option<String>,
    #[serde(default)]
    pub elapsed: Option<f64>,
    #[serde(default)]
    pub output: Option<String>,
    /// Go ≥ 1.27: `frame` (`=== RUN`, `--- FAIL` lines), `error` and `error-continue` (what
    /// `t.Error`/`t.Fatal` printed); absent for plain output and in older releases.
    #[serde(default)]
    pub output_type: Option<String>,
}

/// The events of a test binary's `-test.v=test2json` output, converted by `test2json` (read
/// from stdin). `-t` is what makes test2json report each test's `Elapsed` — parsed from the
/// binary's own `--- PASS: TestX (0.25s)` lines; its `Time` stamps, taken as it converts, and the
/// package's elapsed (time since the conversion began) are not used.
pub fn to_events(
    tool: &Path,
    package: &str,
    output: &[u8],
    abort: &Abort,
) -> Result<Vec<TestEvent>, Failure> {
    let machinery = |why: String| {
        Failure::new(
            Cause::HarnessError,
            format!("cannot read the test binary's output with test2json: {why}"),
        )
    };
    let mut cmd = Command::new(tool);
    cmd.args(["-t", "-p", package]);
    let opts = CaptureOptions {
        input: Some(output.to_vec()),
        caps: EVENTS_CAP,
        ..CaptureOptions::default()
    };
    let f = run_captured_opts(cmd, TEST2JSON_TIMEOUT, abort, &opts)
        .map_err(|e| machinery(format!("cannot run {}: {e}", tool.display())))?;
    if f.timed_out() {
        return Err(machinery(format!(
            "{} ran past {TEST2JSON_TIMEOUT:?}",
            tool.display()
        )));
    }
    let text = f.stdout.text();
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<TestEvent>(l).ok())
        .collect())
}

static BENCH_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(Benchmark\S*?)(?:-(\d+))?\s+(\d+)\s+([0-9.eE+-]+) ns/op(.*)$").expect("regex")
});
static METRIC: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([0-9.eE+-]+) (\S+)").expect("regex"));
static RUNNING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^\s+(Test\S+|Example\S+|Fuzz\S+) \(").expect("regex"));

/// The record of a test binary's run, from its events and how it ended.
pub fn summarize(package: &str, events: &[TestEvent], finished: &Finished) -> TestsRecord {
    let mut outputs: HashMap<String, String> = HashMap::new();
    // What each test reported with t.Error/t.Fatal/t.Skip (Go ≥ 1.27 marks it).
    let mut errors: HashMap<String, String> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut ended: HashMap<String, (TestStatus, u64)> = HashMap::new();
    let mut all_output = String::new();
    for e in events {
        let name = e.test.clone().unwrap_or_default();
        match e.action.as_str() {
            "run" if !name.is_empty() && seen.insert(name.clone()) => order.push(name.clone()),
            "output" => {
                let text = e.output.as_deref().unwrap_or_default();
                all_output.push_str(text);
                if !name.is_empty() {
                    if matches!(e.output_type.as_deref(), Some("error" | "error-continue")) {
                        errors.entry(name.clone()).or_default().push_str(text);
                    }
                    outputs.entry(name).or_default().push_str(text);
                }
            }
            "pass" | "fail" | "skip" if !name.is_empty() => {
                let status = match e.action.as_str() {
                    "pass" => TestStatus::Pass,
                    "fail" => TestStatus::Fail,
                    _ => TestStatus::Skip,
                };
                let ms = (e.elapsed.unwrap_or(0.0) * 1000.0).round() as u64;
                ended.insert(name.clone(), (status, ms));
                if seen.insert(name.clone()) {
                    order.push(name);
                }
            }
            _ => {}
        }
    }
    let exited_ok = finished.code() == Some(0) && !finished.timed_out();
    let mut running = None;
    let mut cases = Vec::new();
    for name in &order {
        if name.starts_with("Benchmark") {
            continue;
        }
        let (status, elapsed_ms) = match ended.get(name) {
            Some(s) => *s,
            None => {
                // Started and never ended: the binary died (panic, timeout) while it ran.
                running = Some(name.clone());
                (TestStatus::Fail, 0)
            }
        };
        let kept = |texts: &HashMap<String, String>| match status {
            TestStatus::Pass => String::new(),
            _ => tail(
                texts.get(name).map(String::as_str).unwrap_or(""),
                CASE_OUTPUT,
            ),
        };
        cases.push(TestCase {
            name: name.clone(),
            status,
            elapsed_ms,
            output: kept(&outputs),
            error: kept(&errors),
            cause: None,
            passes_on_rootfs: Vec::new(),
            steady_under: Vec::new(),
            failed_attempts: 0,
        });
    }
    if running.is_none() && !exited_ok {
        running = RUNNING.captures(&all_output).map(|m| m[1].to_string());
    }
    let mut totals = TestTotals::default();
    for c in &cases {
        totals.run += 1;
        match c.status {
            TestStatus::Pass => totals.passed += 1,
            TestStatus::Fail => totals.failed += 1,
            TestStatus::Skip => totals.skipped += 1,
        }
    }
    TestsRecord {
        package: package.to_string(),
        totals,
        cases,
        running,
        no_tests_to_run: all_output.contains("testing: warning: no tests to run"),
        benchmarks: benchmarks(&all_output),
        emulator_suspect: Vec::new(),
        source_writes: Vec::new(),
    }
}

/// Every benchmark result line of `output` (`BenchmarkX-8  1000  123 ns/op  16 B/op …`).
pub fn benchmarks(output: &str) -> Vec<BenchmarkResult> {
    let mut out = Vec::new();
    for line in output.lines() {
        let Some(m) = BENCH_LINE.captures(line.trim_end()) else {
            continue;
        };
        let mut b = BenchmarkResult {
            name: m[1].to_string(),
            procs: m.get(2).and_then(|p| p.as_str().parse().ok()).unwrap_or(1),
            iterations: m[3].parse().unwrap_or(0),
            ns_per_op: m[4].parse().unwrap_or(0.0),
            bytes_per_op: None,
            allocs_per_op: None,
            metrics: Default::default(),
            instructions: None,
        };
        for mm in METRIC.captures_iter(&m[5]) {
            let Ok(v) = mm[1].parse::<f64>() else {
                continue;
            };
            match &mm[2] {
                "B/op" => b.bytes_per_op = Some(v),
                "allocs/op" => b.allocs_per_op = Some(v),
                unit => {
                    b.metrics.insert(unit.to_string(), v);
                }
            }
        }
        out.push(b);
    }
    out
}

fn tail(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("[… {} bytes dropped …]\n{}", start, &s[start..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::test_verdict as verdict;
    use crossmatrix_sandbox::process::ChildEnd;

    fn finished(code: i32, out: &str) -> Finished {
        let mut f = Finished::new(ChildEnd::Exited(code), out, "");
        f.elapsed = Duration::from_secs(1);
        f
    }

    fn ev(action: &str, test: &str, out: &str) -> TestEvent {
        TestEvent {
            action: action.into(),
            test: (!test.is_empty()).then(|| test.to_string()),
            elapsed: Some(0.25),
            output: (!out.is_empty()).then(|| out.to_string()),
            output_type: None,
        }
    }

    #[test]
    fn events_make_cases_totals_and_a_verdict() {
        let events = vec![
            ev("run", "TestA", ""),
            ev("pass", "TestA", ""),
            ev("run", "TestB", ""),
            ev("run", "TestB/sub", ""),
            ev("output", "TestB/sub", "    b_test.go:9: boom\n"),
            ev("fail", "TestB/sub", ""),
            ev("fail", "TestB", ""),
            ev("run", "TestC", ""),
            ev("output", "TestC", "    c_test.go:3: needs network\n"),
            ev("skip", "TestC", ""),
            ev("output", "", "FAIL\n"),
            ev("fail", "", ""),
        ];
        let f = finished(1, "FAIL\n");
        let r = summarize("example.com/p", &events, &f);
        assert_eq!(
            r.totals,
            TestTotals {
                run: 4,
                passed: 1,
                failed: 2,
                skipped: 1,
                flaky: 0,
            }
        );
        assert!(r.cases[2].output.contains("boom"));
        assert!(r.cases[3].output.contains("needs network"));
        assert_eq!(r.cases[0].elapsed_ms, 250);
        let v = verdict(&r, &f, Duration::from_secs(60)).unwrap();
        assert_eq!(v.cause, Cause::TestFailure);
        assert!(
            v.hint.starts_with("2 test(s) failed: TestB, TestB/sub"),
            "{}",
            v.hint
        );
    }

    /// Events as each release's converter writes them: Go 1.27's `OutputType` (`frame`,
    /// `error`, `error-continue`), `go test -json`'s build events (Go 1.24: `build-output`,
    /// `build-fail`, `FailedBuild`) and fields nobody knows yet are all read.
    #[test]
    fn events_of_every_release_are_read() {
        let lines = [
            r##"{"ImportPath":"example.com/p [example.com/p.test]","Action":"build-output","Output":"# example.com/p\n"}"##,
            r##"{"ImportPath":"example.com/p [example.com/p.test]","Action":"build-fail"}"##,
            r##"{"Action":"start","Package":"p"}"##,
            r##"{"Action":"run","Package":"p","Test":"TestA"}"##,
            r##"{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n","OutputType":"frame"}"##,
            r##"{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:7: a log line\n"}"##,
            r##"{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:8: two\n","OutputType":"error"}"##,
            r##"{"Action":"output","Package":"p","Test":"TestA","Output":"        lines\n","OutputType":"error-continue"}"##,
            r##"{"Action":"output","Package":"p","Test":"TestA","Output":"--- FAIL: TestA (0.00s)\n","OutputType":"frame"}"##,
            r##"{"Action":"fail","Package":"p","Test":"TestA","Elapsed":0.5,"SomethingNew":1}"##,
            r##"{"Action":"output","Package":"p","Output":"FAIL\n"}"##,
            r##"{"Action":"fail","Package":"p","Elapsed":0.6,"FailedBuild":""}"##,
        ];
        let events: Vec<TestEvent> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let r = summarize("p", &events, &finished(1, "FAIL\n"));
        assert_eq!(r.totals.failed, 1);
        let a = &r.cases[0];
        assert_eq!(a.elapsed_ms, 500);
        assert_eq!(a.error, "    a_test.go:8: two\n        lines\n");
        assert!(a.output.contains("a log line") && a.output.contains("two"));
        assert_eq!(a.failure_line(), "a_test.go:8: two");
    }

    #[test]
    fn a_panic_names_the_running_test() {
        let events = vec![
            ev("run", "TestOK", ""),
            ev("pass", "TestOK", ""),
            ev("run", "TestBoom", ""),
            ev(
                "output",
                "TestBoom",
                "panic: runtime error: index out of range [3] with length 1\n",
            ),
        ];
        let f = finished(
            2,
            "panic: runtime error: index out of range [3] with length 1\n",
        );
        let r = summarize("p", &events, &f);
        assert_eq!(r.running.as_deref(), Some("TestBoom"));
        let v = verdict(&r, &f, Duration::from_secs(60)).unwrap();
        assert_eq!(v.cause, Cause::TestPanic);
        assert!(
            v.hint
                .starts_with("TestBoom panicked: panic: runtime error"),
            "{}",
            v.hint
        );
    }

    #[test]
    fn gos_own_timeout_is_a_timeout_naming_the_test() {
        let out = "panic: test timed out after 2s\n\trunning tests:\n\t\tTestHang (2s)\n";
        let events = vec![ev("run", "TestHang", ""), ev("output", "TestHang", out)];
        let f = finished(2, out);
        let r = summarize("p", &events, &f);
        let v = verdict(&r, &f, Duration::from_secs(10)).unwrap();
        assert_eq!(v.cause, Cause::Timeout);
        assert!(v.hint.contains("while running TestHang"), "{}", v.hint);
    }

    #[test]
    fn benchmark_lines_parse() {
        let b = benchmarks(
            "goos: linux\nBenchmarkParse/small-8   \t  123456\t       987.5 ns/op\t      64 B/op\t       2 allocs/op\t   3.50 MB/s\nBenchmarkX \t 10 \t 5 ns/op\nPASS\n",
        );
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].name, "BenchmarkParse/small");
        assert_eq!(b[0].procs, 8);
        assert_eq!(b[0].iterations, 123456);
        assert_eq!(b[0].ns_per_op, 987.5);
        assert_eq!(b[0].bytes_per_op, Some(64.0));
        assert_eq!(b[0].allocs_per_op, Some(2.0));
        assert_eq!(b[0].metrics.get("MB/s"), Some(&3.5));
        assert_eq!((b[1].name.as_str(), b[1].procs), ("BenchmarkX", 1));
    }

    #[test]
    fn timeouts_leave_go_room_for_its_stack_dump() {
        let a = test_args(&TestSpec::default(), Duration::from_secs(600));
        assert!(a.contains(&"-test.timeout=570000ms".to_string()), "{a:?}");
        let a = test_args(&TestSpec::default(), Duration::from_secs(10));
        assert!(a.contains(&"-test.timeout=8000ms".to_string()), "{a:?}");
    }
}
