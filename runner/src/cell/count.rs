//! Counted runs (`--metric instructions|both`): the guest instructions a passing cell's program
//! executes, and each Go benchmark's instructions per op, under the counting qemu
//! ([`crossmatrix_toolchains::counter`]) in the cell's own sandbox (its root, binds and
//! environment; the counter's directory bound beside them).
//!
//! A counted run is never a timed run and a timed run never a counted one: the plugin slows a
//! run down, and a count does not care how long it took. Native amd64 cells are counted under
//! qemu-x86_64 like every other arch, so counts compare across arches.
//!
//! A benchmark is counted alone (`-test.run ^$ -test.bench ^Name$`) at two fixed iteration
//! counts, `-test.benchtime Nx` with N = n0 and n0 + Δ; the difference divided by Δ is its
//! instructions per op: start-up, the testing package's own work and the collection it forces
//! before each run cancel. Δ is chosen so that the op's own instructions dwarf what is left of
//! run-to-run noise ([`TARGET_INSTRUCTIONS`]).

use crate::cell::prepare::{self, Prepared};
use crate::cell::shared::{IN_TOOLS, Shared};
use crate::inspect::BinaryInfo;
use crossmatrix_matrix::Cell;
use crossmatrix_results::{
    BenchInstructions, CellRecord, CellStatus, CounterInfo, InstructionsRecord,
};
use crossmatrix_sandbox::Abort;
use crossmatrix_sandbox::process::CaptureOptions;
use crossmatrix_toolchains::counter::{Count, Counter, counting_env, parse_count};
use crossmatrix_toolchains::cpu_model::baseline_cpu_model;
use crossmatrix_toolchains::executor::ExecutorChoice;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// What a run measures (`--metric`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Metric {
    /// Timed runs only (startup, benchmarks' own ns/op): the default.
    #[default]
    Time,
    /// Counted runs only: no timed startup runs.
    Instructions,
    /// Both, in separate runs.
    Both,
}

impl Metric {
    pub fn counts(self) -> bool {
        matches!(self, Metric::Instructions | Metric::Both)
    }
    pub fn times(self) -> bool {
        matches!(self, Metric::Time | Metric::Both)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Time => "time",
            Metric::Instructions => "instructions",
            Metric::Both => "both",
        }
    }
}

impl FromStr for Metric {
    type Err = String;
    fn from_str(s: &str) -> Result<Metric, String> {
        match s {
            "time" => Ok(Metric::Time),
            "instructions" => Ok(Metric::Instructions),
            "both" => Ok(Metric::Both),
            other => Err(format!(
                "unknown metric `{other}` (expected time, instructions or both)"
            )),
        }
    }
}

/// The instructions one counted run of a benchmark should spend in its ops (the larger
/// iteration count): run-to-run noise left after the plugin's rules is ≈ 10⁴ instructions,
/// so ≥ 5·10⁷ keeps it below 0.02 % of the figure.
pub const TARGET_INSTRUCTIONS: f64 = 5e7;
/// The smaller iteration count: both runs of a pair run the testing package's `run1` and
/// `runN`, so their fixed costs are the same.
const N0: u64 = 2;
/// At most this many iterations in one counted run.
const MAX_DELTA: u64 = 10_000_000;
/// A counted program run's time limit, as a multiple of the cell's run timeout: the plugin and
/// an emulator for native cells make it slower than the verification run.
const TIMEOUT_FACTOR: u32 = 10;
/// A counted benchmark run's time limit (each spends ≈ [`TARGET_INSTRUCTIONS`] in its ops: a
/// second or two), unless the cell's own timeout is longer.
const BENCH_RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// Where the counter's directory and the plugin's log are inside the sandbox.
fn inside_counter() -> std::path::PathBuf {
    Path::new(IN_TOOLS).join("counter")
}
fn inside_log_dir() -> std::path::PathBuf {
    Path::new(IN_TOOLS).join("count")
}

/// Counts `rec`'s program (a program cell) or its benchmarks (a test cell), when the run asks
/// for counts and the cell passed; says why in `rec.uncounted` when it cannot.
pub(crate) fn count_cell(
    sh: &Shared,
    cell: &Cell,
    binary: &Path,
    info: &BinaryInfo,
    rec: &mut CellRecord,
    abort: &Abort,
) {
    if !sh.cfg.metric.counts() || rec.status != CellStatus::Pass || abort.is_aborted() {
        return;
    }
    let is_test = cell.program.is_test();
    if is_test && rec.tests.as_ref().is_none_or(|t| t.benchmarks.is_empty()) {
        // A test cell without benchmarks has nothing to count.
        return;
    }
    let counter = match &sh.cfg.counter {
        Ok(c) => c,
        Err(why) => {
            rec.uncounted = Some(why.clone());
            return;
        }
    };
    if cell.target.goos != "linux" {
        rec.uncounted = Some(format!(
            "{}/{} is not counted: the counting qemu runs linux binaries",
            cell.target.goos, cell.target.goarch
        ));
        return;
    }
    let Some(arch) = counter.arch_for(&cell.target.goarch) else {
        rec.uncounted = Some(counter.missing_arch(&cell.target.goarch));
        return;
    };
    let prepared = match prepare::prepare_run(sh, cell, binary, info, &ExecutorChoice::Native) {
        Ok(p) => p,
        Err(f) => {
            rec.uncounted = Some(format!("the counted run could not be prepared: {}", f.hint));
            return;
        }
    };
    let log_dir = match tempfile::Builder::new()
        .prefix("crossmatrix-count-")
        .tempdir()
    {
        Ok(d) => d,
        Err(e) => {
            rec.uncounted = Some(format!("no temporary dir for the counter's log: {e}"));
            return;
        }
    };
    let cpu = counting_cpu(cell);
    let info = CounterInfo {
        qemu_version: counter.qemu_version.clone(),
        cpu: cpu.clone(),
        arch: arch.to_string(),
    };
    let runner = CountedRun {
        sh,
        counter,
        arch,
        prepared: &prepared,
        log_dir: log_dir.path(),
        cpu: cpu.as_deref(),
        godebug: cell.settings.run_env.get("GODEBUG").map(String::as_str),
        timeout: if is_test {
            cell.settings
                .run_timeout
                .map_or(BENCH_RUN_TIMEOUT, |t| t.max(BENCH_RUN_TIMEOUT))
        } else {
            sh.run_timeout(cell) * TIMEOUT_FACTOR
        },
        stdin: cell.settings.stdin.clone().map(String::into_bytes),
        abort,
    };
    let reps = sh.cfg.count_reps.max(1);
    if is_test {
        count_benchmarks(&runner, &prepared, rec, reps, &info);
    } else {
        let expected = rec.run.as_ref().and_then(|r| r.exit_code);
        let tail: Vec<String> = prepared.argv[1..]
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let mut samples = Vec::new();
        let mut excluded = Vec::new();
        for _ in 0..reps {
            match runner.count(&tail, expected) {
                Ok((c, _)) => {
                    samples.push(c.counted);
                    excluded.push(c.excluded);
                }
                Err(why) => {
                    rec.uncounted = Some(why);
                    return;
                }
            }
        }
        let mut sorted = samples.clone();
        sorted.sort_unstable();
        rec.instructions = Some(InstructionsRecord {
            count: sorted[sorted.len() / 2],
            samples,
            excluded,
            counter: info,
        });
    }
}

/// The CPU model a count runs on: the cell's `QEMU_CPU`, else the model of its build level (a
/// native amd64 cell's too: counts depend on which instructions the binary picks at run time).
fn counting_cpu(cell: &Cell) -> Option<String> {
    if let Some(m) = prepare::cpu_model(cell) {
        return Some(m.to_string());
    }
    let level = prepare::build_level(cell);
    baseline_cpu_model(&cell.target.goarch, level.as_deref()).map(str::to_string)
}

/// One cell's counted runs: its sandbox with the counter bound beside the root.
struct CountedRun<'a> {
    sh: &'a Shared,
    counter: &'a Counter,
    arch: &'a str,
    prepared: &'a Prepared,
    log_dir: &'a Path,
    cpu: Option<&'a str>,
    godebug: Option<&'a str>,
    timeout: Duration,
    stdin: Option<Vec<u8>>,
    abort: &'a Abort,
}

impl CountedRun<'_> {
    /// Runs the binary with `args` under the counter once: its count and its stdout. An exit
    /// code other than `expected` (the verification run's), or no count, is an error saying
    /// what happened.
    fn count(&self, args: &[String], expected: Option<i32>) -> Result<(Count, String), String> {
        let log = inside_log_dir().join("log");
        let host_log = self.log_dir.join("log");
        let _ = std::fs::remove_file(&host_log);
        let mut sb = self
            .prepared
            .sandbox
            .clone()
            .ro(&self.counter.dir, inside_counter())
            .rw(self.log_dir, inside_log_dir());
        for (k, v) in counting_env(self.godebug) {
            sb = sb.env(k, v);
        }
        if let Some(cpu) = self.cpu {
            sb = sb
                .env("QEMU_CPU", cpu)
                .env("QEMU_UNSET_ENV", "QEMU_CPU,QEMU_UNSET_ENV");
        }
        let mut argv: Vec<std::ffi::OsString> = self
            .counter
            .argv(&inside_counter(), self.arch, &log)
            .into_iter()
            .map(Into::into)
            .collect();
        argv.push(self.prepared.argv[0].clone());
        argv.extend(args.iter().map(Into::into));
        let opts = CaptureOptions {
            input: self.stdin.clone(),
            merge_stderr: true,
            ..CaptureOptions::default()
        };
        let f = self
            .sh
            .children
            .run(sb.command(&argv), self.timeout, self.abort, &opts)
            .map_err(|e| format!("cannot start bwrap for a counted run: {e}"))?;
        let out = f.stdout.text();
        let text = std::fs::read_to_string(&host_log).unwrap_or_default();
        keep_log(&text);
        let Some(count) = parse_count(&text) else {
            let tail: String = out
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            return Err(format!(
                "the counted run under qemu-{} {} gave no count ({:?}): {tail}",
                self.arch, self.counter.qemu_version, f.end
            ));
        };
        if f.code() != expected.or(Some(0)) {
            return Err(format!(
                "the counted run exited {:?} where the verification run exited {:?}",
                f.code(),
                expected.unwrap_or(0)
            ));
        }
        Ok((count, out))
    }

    /// The instructions of `name` run alone for `n` iterations.
    fn bench_run(&self, regex: &str, n: u64) -> Result<u64, String> {
        let args = vec![
            "-test.run".to_string(),
            "^$".into(),
            "-test.bench".into(),
            regex.to_string(),
            "-test.benchtime".into(),
            format!("{n}x"),
            "-test.count".into(),
            "1".into(),
        ];
        let (count, out) = self.count(&args, Some(0))?;
        // The benchmark must have run, N times.
        let ran = crate::gotest::benchmarks(&out)
            .into_iter()
            .any(|b| b.iterations == n);
        if !ran {
            return Err(format!(
                "`-test.bench {regex} -test.benchtime {n}x` ran no benchmark of {n} iterations"
            ));
        }
        Ok(count.counted)
    }

    /// Instructions per op of the benchmark `regex` selects: Δ found (each estimate from a
    /// pair of runs), then `reps` pairs at (n0, n0 + Δ).
    fn per_op(&self, regex: &str, reps: u32) -> Result<(Vec<f64>, [u64; 2]), String> {
        let base = self.bench_run(regex, N0)?;
        let mut delta = 1u64;
        let mut pairs: Vec<f64> = Vec::new();
        loop {
            let top = self.bench_run(regex, N0 + delta)?;
            let est = (top as f64 - base as f64) / delta as f64;
            let want = if est <= 0.0 {
                delta.saturating_mul(100)
            } else {
                (TARGET_INSTRUCTIONS / est).ceil() as u64
            }
            .clamp(1, MAX_DELTA);
            if want <= delta || delta == MAX_DELTA {
                pairs.push(est);
                break;
            }
            delta = want;
        }
        for _ in 1..reps {
            let lo = self.bench_run(regex, N0)?;
            let hi = self.bench_run(regex, N0 + delta)?;
            pairs.push((hi as f64 - lo as f64) / delta as f64);
        }
        Ok((pairs, [N0, N0 + delta]))
    }
}

/// `$CROSSMATRIX_COUNT_LOGS=DIR`: every counted run's plugin log is kept there (with
/// `$CROSSMATRIX_COUNT_PLUGIN_ARGS=profile=on`, the instructions per symbol: what to diff when
/// two counts differ).
fn keep_log(text: &str) {
    let Some(dir) = std::env::var_os("CROSSMATRIX_COUNT_LOGS") else {
        return;
    };
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(
        Path::new(&dir).join(format!("count-{}-{n:04}.log", std::process::id())),
        text,
    );
}

/// `-test.bench` pattern that selects exactly `name` (`BenchmarkParse/small`): each level
/// anchored and quoted.
pub(crate) fn bench_regex(name: &str) -> String {
    name.split('/')
        .map(|part| format!("^{}$", regex::escape(part)))
        .collect::<Vec<_>>()
        .join("/")
}

fn count_benchmarks(
    run: &CountedRun<'_>,
    _prepared: &Prepared,
    rec: &mut CellRecord,
    reps: u32,
    info: &CounterInfo,
) {
    let Some(tests) = rec.tests.as_mut() else {
        return;
    };
    let mut done: std::collections::HashMap<String, Result<BenchInstructions, String>> =
        std::collections::HashMap::new();
    let mut failed = Vec::new();
    for b in tests.benchmarks.iter_mut() {
        let result = done.entry(b.name.clone()).or_insert_with(|| {
            run.per_op(&bench_regex(&b.name), reps).map(|(samples, n)| {
                let mut sorted = samples.clone();
                sorted.sort_by(f64::total_cmp);
                BenchInstructions {
                    per_op: sorted[sorted.len() / 2],
                    samples_per_op: samples,
                    n,
                    counter: info.clone(),
                }
            })
        });
        match result {
            Ok(i) => b.instructions = Some(i.clone()),
            Err(why) => {
                if !failed.iter().any(|(n, _): &(String, String)| *n == b.name) {
                    failed.push((b.name.clone(), why.clone()));
                }
            }
        }
        if run.abort.is_aborted() {
            break;
        }
    }
    if !failed.is_empty() {
        let list: Vec<String> = failed.iter().map(|(n, w)| format!("{n}: {w}")).collect();
        rec.uncounted = Some(format!(
            "{} benchmark(s) not counted: {}",
            failed.len(),
            list.join("; ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_parses_and_says_what_it_runs() {
        assert_eq!("both".parse::<Metric>().unwrap(), Metric::Both);
        assert!(Metric::Both.counts() && Metric::Both.times());
        assert!(!Metric::Instructions.times());
        assert!(!Metric::Time.counts());
        let e = "cycles".parse::<Metric>().unwrap_err();
        assert!(e.contains("expected time, instructions or both"), "{e}");
    }

    #[test]
    fn bench_regex_selects_exactly_one_benchmark() {
        assert_eq!(bench_regex("BenchmarkWork"), "^BenchmarkWork$");
        assert_eq!(
            bench_regex("BenchmarkParse/size=1.5k(x)"),
            r"^BenchmarkParse$/^size=1\.5k\(x\)$"
        );
    }
}
