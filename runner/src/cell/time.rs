//! Startup timing. A cell's repetitions run inside **one** sandbox under `crossmatrix-timer`
//! (a static Go program embedded here, built once per cache), which fork-execs the binary
//! `warmups + reps` times and reports each run's wall and CPU time. Starting bubblewrap once
//! per repetition instead would add its own ~5–10 ms to every sample; inside one sandbox an
//! exec costs what it costs in a container.
//!
//! Timed runs are scheduled apart from builds (see `dispatch`), so their figures are not
//! polluted by compilers competing for the cores.

use crossmatrix_results::StartupRecord;
use crossmatrix_results::stats::spread;
use crossmatrix_sandbox::Abort;
use crossmatrix_sandbox::bwrap::Sandbox;
use crossmatrix_sandbox::process::{ChildEnd, run_captured, run_timed};
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const TIMER_FILES: &[(&str, &str)] = &[
    ("go.mod", include_str!("../../timer/go.mod")),
    ("main.go", include_str!("../../timer/main.go")),
];

/// When a cell's timed repetitions may run, relative to the rest of the run's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimingMode {
    /// As soon as the cell passed, beside whatever builds and other timed runs there are.
    Overlap,
    /// Only while no build runs, and no build starts meanwhile; timed cells may run side by
    /// side (up to `--jobs`).
    #[default]
    Quiet,
    /// One timed cell at a time with nothing else running: the least noisy samples, and the
    /// timed part of the run takes about `jobs` times longer.
    Exclusive,
}

impl TimingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TimingMode::Overlap => "overlap",
            TimingMode::Quiet => "quiet",
            TimingMode::Exclusive => "exclusive",
        }
    }
}

impl std::str::FromStr for TimingMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "overlap" => Ok(TimingMode::Overlap),
            "quiet" => Ok(TimingMode::Quiet),
            "exclusive" => Ok(TimingMode::Exclusive),
            other => Err(format!(
                "unknown timing mode `{other}`: expected quiet, exclusive or overlap"
            )),
        }
    }
}

/// Where the timer is bound inside a run sandbox.
const IN_TIMER: &str = "/.crossmatrix/timer";
/// Where the timed runs' stdin is bound.
const IN_STDIN: &str = "/.crossmatrix/stdin";

/// A file holding a cell's stdin for the timed runs.
fn stdin_file(data: &[u8]) -> std::io::Result<tempfile::NamedTempFile> {
    use std::io::Write;
    let mut f = tempfile::NamedTempFile::new()?;
    f.write_all(data)?;
    f.flush()?;
    Ok(f)
}

/// hyperfine's outlier rule: a sample whose distance from the median exceeds this many
/// (unscaled) MADs, i.e. a modified Z-score above 10.
const OUTLIER_MADS: f64 = 1.4826 * 10.0;

/// How long building the timer may take (a cold standard library for the host arch).
const TIMER_BUILD_TIMEOUT: Duration = Duration::from_secs(300);

/// The timed part of a passing cell, ready to run later (when no build competes).
#[derive(Debug, Clone)]
pub struct TimingJob {
    /// The run sandbox of the cell (the same one the verification run used).
    pub sandbox: Sandbox,
    /// What runs in it: the binary, or the executor and the binary.
    pub argv: Vec<OsString>,
    pub warmups: u32,
    pub reps: u32,
    /// Limit for one repetition.
    pub timeout: Duration,
    /// Where the finished record is kept for later runs with the same inputs.
    pub result_key: Option<String>,
    /// The exit code a repetition must end with (the cell's expectation).
    pub expected_exit: i32,
    /// What every repetition reads on stdin (the cell's `stdin`); `/dev/null` without it.
    pub stdin: Option<Vec<u8>>,
}

/// Builds the timer with the toolchain at `goroot` (once per cache and timer source; later
/// calls find it). Returns the static binary.
pub fn ensure_timer(
    cache_dir: &Path,
    goroot: &Path,
    go_version: &str,
    host_goarch: &str,
    abort: &Abort,
) -> Result<PathBuf, String> {
    ensure_tool(
        cache_dir,
        "timer",
        TIMER_FILES,
        goroot,
        go_version,
        host_goarch,
        abort,
    )
}

/// The calibration program of [`crate::cell::slowdown`]: CPU-bound Go (hashing, sorting, maps,
/// allocation) that runs ~50 ms natively.
pub(crate) const CALIBRATION_FILES: &[(&str, &str)] = &[
    ("go.mod", include_str!("../../calibrate/go.mod")),
    ("main.go", include_str!("../../calibrate/main.go")),
];

/// Builds the small static Go program `files` (named `name`) for linux/`goarch` with the
/// toolchain at `goroot`, once per cache, source, Go version and arch; later calls find it.
pub(crate) fn ensure_tool(
    cache_dir: &Path,
    name: &str,
    files: &[(&str, &str)],
    goroot: &Path,
    go_version: &str,
    goarch: &str,
    abort: &Abort,
) -> Result<PathBuf, String> {
    let mut h = Sha256::new();
    for (file, body) in files {
        h.update(file.as_bytes());
        h.update(body.as_bytes());
    }
    h.update(go_version.as_bytes());
    h.update(goarch.as_bytes());
    let hash = format!("{:x}", h.finalize());
    let dir = cache_dir.join(name).join(&hash[..16]);
    let exe = dir.join(format!("crossmatrix-{name}"));
    if exe.is_file() {
        return Ok(exe);
    }
    let src = dir.join("src");
    std::fs::create_dir_all(&src).map_err(|e| format!("{}: {e}", src.display()))?;
    for (file, body) in files {
        let p = src.join(file);
        std::fs::write(&p, body).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    // Built in a staging dir of its own, then renamed into place (the staging dir goes).
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}-"))
        .tempdir_in(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let tmp = staging.path().join(format!("crossmatrix-{name}"));
    let gocache = cache_dir.join("go").join(go_version);
    let mut cmd = Command::new(goroot.join("bin/go"));
    // No -trimpath: with the same flags as a linux/<arch> cgo=0 cell, the standard library
    // that cell compiled into the shared GOCACHE is reused (a cold run saves a whole build).
    cmd.args(["build", "-ldflags=-s -w", "-o"])
        .arg(&tmp)
        .arg(".")
        .current_dir(&src)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", &dir)
        .env("GOROOT", goroot)
        .env("GOCACHE", &gocache)
        .env("GOPATH", dir.join("gopath"))
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOTELEMETRY", "off")
        .env("GOFLAGS", "-buildvcs=false")
        .env("CGO_ENABLED", "0")
        .env("GOOS", "linux")
        .env("GOARCH", goarch);
    let f = run_captured(cmd, TIMER_BUILD_TIMEOUT, abort)
        .map_err(|e| format!("cannot run {}/bin/go: {e}", goroot.display()))?;
    if f.code() != Some(0) {
        return Err(format!(
            "building the {name} with {go_version} failed: {}",
            f.stderr.last_lines(5)
        ));
    }
    std::fs::rename(&tmp, &exe).map_err(|e| format!("{}: {e}", exe.display()))?;
    Ok(exe)
}

/// What the timed repetitions gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Timed {
    /// Wall time of each measured repetition, in run order, in ms.
    pub samples_ms: Vec<f64>,
    /// Set when the repetitions stopped early (a run failed or timed out).
    pub stopped: Option<String>,
    /// `in-sandbox` (one sandbox, the timer inside) or `sandbox-per-run`.
    pub method: &'static str,
}

impl Timed {
    /// The startup record: median, min, MAD and hyperfine-style outliers.
    pub fn record(&self, warmups: u32) -> Option<StartupRecord> {
        let s = spread(&self.samples_ms)?;
        Some(StartupRecord {
            reps: self.samples_ms.len() as u32,
            median_ms: round3(s.median),
            min_ms: round3(s.min),
            mad_ms: round3(s.mad),
            samples_ms: self.samples_ms.iter().map(|x| round3(*x)).collect(),
            warmups,
            outliers: outliers(&self.samples_ms, s.median, s.mad),
            method: self.method.to_string(),
        })
    }
}

/// Samples further than [`OUTLIER_MADS`] MADs from the median (hyperfine's rule; a zero MAD
/// counts every sample off the median).
pub fn outliers(samples: &[f64], median: f64, mad: f64) -> u32 {
    let mad = if mad > 0.0 { mad } else { f64::EPSILON };
    samples
        .iter()
        .filter(|x| ((*x - median) / mad).abs() > OUTLIER_MADS)
        .count() as u32
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Runs `job`: with the timer inside one sandbox when there is one, else one sandbox per
/// repetition.
pub fn run_job(job: &TimingJob, timer: Option<&Path>, abort: &Abort) -> Timed {
    match timer {
        Some(t) => in_sandbox(job, t, abort),
        None => sandbox_per_run(job, abort),
    }
}

fn in_sandbox(job: &TimingJob, timer: &Path, abort: &Abort) -> Timed {
    // The timer waits for every repetition, so as pid 1 their CPU is accounted to the run.
    let mut sb = job
        .sandbox
        .clone()
        .ro(timer, IN_TIMER)
        .as_pid_1()
        .env("CROSSMATRIX_TIMER_EXIT", job.expected_exit.to_string());
    // Kept until the repetitions are done.
    let _stdin_file = match &job.stdin {
        Some(data) => match stdin_file(data) {
            Ok(f) => {
                sb = sb
                    .ro(f.path(), IN_STDIN)
                    .env("CROSSMATRIX_TIMER_STDIN", IN_STDIN);
                Some(f)
            }
            Err(e) => {
                return Timed {
                    samples_ms: Vec::new(),
                    stopped: Some(format!("cannot write the stdin of the timed runs: {e}")),
                    method: "in-sandbox",
                };
            }
        },
        None => None,
    };
    let mut argv: Vec<OsString> = vec![
        IN_TIMER.into(),
        job.warmups.to_string().into(),
        job.reps.to_string().into(),
        job.timeout.as_millis().max(1).to_string().into(),
        "--".into(),
    ];
    argv.extend(job.argv.iter().cloned());
    // Every repetition has its own limit inside the timer; this one only backs it up.
    let deadline = job.timeout * (job.warmups + job.reps + 1) + Duration::from_secs(10);
    let mut timed = Timed {
        samples_ms: Vec::new(),
        stopped: None,
        method: "in-sandbox",
    };
    match run_captured(sb.command(&argv), deadline, abort) {
        Ok(f) => {
            let (samples, stopped) = parse_timer_output(&f.stdout.text(), job.expected_exit);
            timed.samples_ms = samples;
            timed.stopped = stopped.or_else(|| {
                (f.code() != Some(0)).then(|| {
                    format!(
                        "the timer failed (exit {:?}): {}",
                        f.code(),
                        f.stderr.last_lines(2)
                    )
                })
            });
        }
        Err(e) => timed.stopped = Some(format!("cannot start bwrap: {e}")),
    }
    timed
}

fn sandbox_per_run(job: &TimingJob, abort: &Abort) -> Timed {
    let mut timed = Timed {
        samples_ms: Vec::new(),
        stopped: None,
        method: "sandbox-per-run",
    };
    if job.stdin.is_some() {
        timed.stopped =
            Some("not timed: without the in-sandbox timer, repetitions cannot read stdin".into());
        return timed;
    }
    for i in 0..job.warmups + job.reps {
        match run_timed(job.sandbox.command(&job.argv), job.timeout, abort) {
            Ok((d, ChildEnd::Exited(code))) if code == job.expected_exit => {
                if i >= job.warmups {
                    timed.samples_ms.push(d.as_secs_f64() * 1000.0);
                }
            }
            Ok((_, end)) => {
                timed.stopped = Some(match end {
                    ChildEnd::TimedOut { .. } => {
                        format!("repetition {} ran past {:?}", i + 1, job.timeout)
                    }
                    ChildEnd::Exited(code) => {
                        format!("repetition {} exited {:?}", i + 1, Some(code))
                    }
                    _ => format!("repetition {} exited {:?}", i + 1, None::<i32>),
                });
                break;
            }
            Err(e) => {
                timed.stopped = Some(format!("cannot start bwrap: {e}"));
                break;
            }
        }
    }
    timed
}

/// Parses the timer's lines: the measured samples (ms) and why it stopped early, if it did.
pub fn parse_timer_output(text: &str, expected_exit: i32) -> (Vec<f64>, Option<String>) {
    let mut samples = Vec::new();
    let mut stopped = None;
    let expected = expected_exit.to_string();
    for line in text.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            ["run", wall, _cpu, "exit", code] if *code == expected => {
                if let Ok(ns) = wall.parse::<u64>() {
                    samples.push(ns as f64 / 1e6);
                }
            }
            // A repetition that failed is not a startup sample.
            ["run", _wall, _cpu, "exit", code] => {
                stopped = Some(format!("repetition {} exited {code}", samples.len() + 1));
            }
            ["warmup", _wall, _cpu, "exit", code] => {
                stopped = Some(format!("a warm-up run exited {code}, expected {expected}"));
            }
            ["warmup", _wall, _cpu, "signal", sig] => {
                stopped = Some(format!("a warm-up run was killed by signal {sig}"));
            }
            ["run", _wall, _cpu, "signal", sig] => {
                stopped = Some(format!("a repetition was killed by signal {sig}"));
            }
            ["timeout", _] => stopped = Some("a repetition ran past the run timeout".into()),
            _ => {}
        }
    }
    (samples, stopped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_timer_lines() {
        let (s, stop) =
            parse_timer_output("run 1500000 700000 exit 0\nrun 2000000 800000 exit 0\n", 0);
        assert_eq!(s, vec![1.5, 2.0]);
        assert_eq!(stop, None);
        let (s, stop) = parse_timer_output("run 1000000 1 exit 0\nrun 3000000 1 exit 4\n", 0);
        assert_eq!(s, vec![1.0], "a failed repetition is not a sample");
        assert!(stop.unwrap().contains("exited 4"));
        let (s, stop) = parse_timer_output("run 1000000 1 exit 0\ntimeout 9000000000\n", 0);
        assert_eq!(s, vec![1.0]);
        assert!(stop.unwrap().contains("timeout"));
        // A program expected to exit 3 is timed on its exits 3; a warm-up that did otherwise
        // says so instead of leaving the cell silently untimed.
        let (s, stop) = parse_timer_output("run 1000000 1 exit 3\nrun 2000000 1 exit 3\n", 3);
        assert_eq!((s, stop), (vec![1.0, 2.0], None));
        let (s, stop) = parse_timer_output("warmup 1000000 1 exit 1\n", 0);
        assert!(s.is_empty());
        assert!(stop.unwrap().contains("warm-up run exited 1"));
        let (_, stop) = parse_timer_output("run 1000000 1 signal 11\n", 0);
        assert!(stop.unwrap().contains("signal 11"));
    }

    #[test]
    fn outliers_follow_hyperfine() {
        // median 10, MAD 1: 30 is 20 MADs away (outlier), 20 is 10 (not).
        let xs = [9.0, 10.0, 11.0, 10.0, 9.0, 11.0, 10.0, 20.0, 30.0];
        let s = spread(&xs).unwrap();
        assert_eq!((s.median, s.mad), (10.0, 1.0));
        assert_eq!(outliers(&xs, s.median, s.mad), 1);
        // A zero MAD makes every sample off the median an outlier.
        assert_eq!(outliers(&[5.0, 5.0, 5.0, 6.0], 5.0, 0.0), 1);
    }

    #[test]
    fn record_carries_method_warmups_and_outliers() {
        let t = Timed {
            samples_ms: vec![1.0, 1.0, 1.0, 1.1, 50.0],
            stopped: None,
            method: "in-sandbox",
        };
        let r = t.record(2).unwrap();
        assert_eq!((r.reps, r.warmups, r.method.as_str()), (5, 2, "in-sandbox"));
        assert_eq!(r.median_ms, 1.0);
        assert_eq!(r.outliers, 2);
        assert!(
            Timed {
                samples_ms: vec![],
                stopped: None,
                method: "in-sandbox"
            }
            .record(0)
            .is_none()
        );
    }
}
