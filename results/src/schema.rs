//! The result schema (DESIGN.md, "Results"). Bump `SCHEMA_VERSION` on any incompatible change.

use crossmatrix_matrix::Cause;
use serde::{Deserialize, Serialize};

/// Version of the `cells.jsonl` / `run.json` format.
pub const SCHEMA_VERSION: u32 = 1;

/// Outcome of a whole cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CellStatus {
    Pass,
    Fail,
    Skipped,
    /// Built and inspected; no executor on this host can run it.
    Built,
}

impl CellStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CellStatus::Pass => "pass",
            CellStatus::Fail => "fail",
            CellStatus::Skipped => "skipped",
            CellStatus::Built => "built",
        }
    }
}

/// Outcome of one step (build or run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    Ok,
    Fail,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolchainInfo {
    pub name: String,
    pub version: String,
    pub goroot: String,
    /// In `run.json`: set when this release is older than Go's two newest (a note, not an
    /// error): `go1.22.12 is out of support: Go supports its two newest releases, …`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_support: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub goos: String,
    pub goarch: String,
    #[serde(default)]
    pub variant: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildRecord {
    pub status: StepStatus,
    pub duration_ms: u64,
    #[serde(default)]
    pub cause: Option<Cause>,
    #[serde(default)]
    pub hint: Option<String>,
    /// The last lines of the build's output (capped).
    #[serde(default)]
    pub log_tail: String,
    /// The C compiler used for cgo builds (`zig cc -target aarch64-linux-musl`), and why.
    #[serde(default)]
    pub cc: Option<String>,
    /// The binary came from crossmatrix's build cache: an earlier build with the same
    /// toolchain, target, settings, C compiler and source files (`go build` did not run).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cached: bool,
}

/// How a binary links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Linkage {
    Static,
    /// Static-PIE: has no interpreter but is position independent.
    StaticPie,
    Dynamic,
    /// Not an ELF file (wasm, Mach-O, PE).
    NotElf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinaryRecord {
    pub path: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub linkage: Linkage,
    #[serde(default)]
    pub interpreter: Option<String>,
    #[serde(default)]
    pub needed: Vec<String>,
    /// The Go version embedded in the binary's build info (`go1.24.4`).
    #[serde(default)]
    pub go_version: Option<String>,
    /// `elf`, `wasm`, `macho`, `pe`.
    #[serde(default)]
    pub format: Option<String>,
    /// ELF machine, e.g. `aarch64`.
    #[serde(default)]
    pub machine: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub status: StepStatus,
    /// `native`, `qemu-binfmt`, `qemu-direct`, `wasmtime`.
    pub executor: String,
    #[serde(default)]
    pub executor_version: Option<String>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Signal name when the program died from one (`SIGSEGV`).
    #[serde(default)]
    pub signal: Option<String>,
    pub duration_ms: u64,
    #[serde(default)]
    pub cause: Option<Cause>,
    #[serde(default)]
    pub hint: Option<String>,
    #[serde(default)]
    pub stdout_tail: String,
    #[serde(default)]
    pub stderr_tail: String,
    /// With `--recheck`, a failure under qemu re-run under a second executor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recheck: Option<RecheckRecord>,
    /// The CPU model qemu emulated: `QEMU_CPU` of the cell's run env (e.g. `Nehalem`), else the
    /// model that matches the build's level (`cortex-a57` for GOARM64=v8.0, `rv64`…); absent
    /// natively, in wasmtime, and where qemu's own default ran (no model chosen for the arch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// With `--retries`: the whole run's earlier attempts that failed, oldest first (the
    /// fields above are the last attempt's). A cell that passed after one is flaky.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_attempts: Vec<FailedAttempt>,
    /// The factor the run's timeouts were multiplied by: its emulator's measured slowdown
    /// against this host (or `--timeout-scale`); absent when 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_scale: Option<f64>,
    /// Set when rendered for a run that passed only on a retry: the other emulators under which
    /// the same build ran steadily.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steady_under: Vec<String>,
}

/// `why`, and where the same build was steady instead (`; steady under qemu-7.2.22`).
fn with_steady(why: String, steady_under: &[String]) -> String {
    if steady_under.is_empty() {
        why
    } else {
        format!("{why}; steady under {}", steady_under.join(", "))
    }
}

/// A run attempt that failed before a retry (`--retries`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedAttempt {
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub signal: Option<String>,
    #[serde(default)]
    pub cause: Option<Cause>,
    #[serde(default)]
    pub hint: Option<String>,
    #[serde(default)]
    pub stderr_tail: String,
}

impl FailedAttempt {
    /// The attempt's first line of explanation: its hint, else its stderr's first line.
    pub fn line(&self) -> String {
        let cause = self
            .cause
            .map(|c| format!("{}: ", c.code()))
            .unwrap_or_default();
        let why = self
            .hint
            .clone()
            .or_else(|| {
                self.stderr_tail
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| match (self.exit_code, &self.signal) {
                (_, Some(s)) => format!("killed by {s}"),
                (Some(c), None) => format!("exit code {c}"),
                (None, None) => "failed".into(),
            });
        format!("{cause}{why}")
    }
}

impl RunRecord {
    /// A run about to start under `executor`: failed until it is known to have passed.
    pub fn started(executor: String, executor_version: Option<String>) -> RunRecord {
        RunRecord {
            status: StepStatus::Fail,
            executor,
            executor_version,
            exit_code: None,
            signal: None,
            duration_ms: 0,
            cause: None,
            hint: None,
            stdout_tail: String::new(),
            stderr_tail: String::new(),
            recheck: None,
            cpu: None,
            failed_attempts: Vec::new(),
            timeout_scale: None,
            steady_under: Vec::new(),
        }
    }
}

/// The second run of a cell that failed under qemu (`run --recheck`): which executor, and how
/// it went. A pass there makes the cell's cause `emulator-suspect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecheckRecord {
    /// `native`, `qemu-binfmt`, `qemu-direct`.
    pub executor: String,
    #[serde(default)]
    pub executor_version: Option<String>,
    /// `ok` when the second run passed.
    pub status: StepStatus,
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// The second run's own cause when it failed too.
    #[serde(default)]
    pub cause: Option<Cause>,
    #[serde(default)]
    pub hint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct StartupRecord {
    pub reps: u32,
    pub median_ms: f64,
    pub min_ms: f64,
    pub mad_ms: f64,
    /// Every repetition, in run order (for significance tests and benchstat).
    #[serde(default)]
    pub samples_ms: Vec<f64>,
    /// Untimed runs before the samples (besides the verification run).
    #[serde(default)]
    pub warmups: u32,
    /// Samples more than 14.826 MADs from the median (hyperfine's outlier rule): a sign that
    /// something else ran on the machine; re-run if it matters.
    #[serde(default)]
    pub outliers: u32,
    /// How the samples were taken: `in-sandbox` (every repetition inside one sandbox, by
    /// crossmatrix's timer) or `sandbox-per-run` (bubblewrap started per repetition).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub method: String,
}

/// What counted guest instructions (`--metric instructions|both`): a plugin-capable qemu and
/// crossmatrix's counting plugin. Counts depend on it — on the qemu version (its translator)
/// and on the CPU model (which instructions a Go binary picks at run time) — so it is part of
/// every comparison key: counts by different counters are never compared.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CounterInfo {
    /// The counting qemu's version (`10.0.13`).
    pub qemu_version: String,
    /// The CPU model it emulated (`QEMU_CPU`): the cell's baseline model, or qemu's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// The guest architecture counted (`aarch64`, `x86_64`, …): a native amd64 cell is counted
    /// under qemu-x86_64.
    pub arch: String,
}

/// Guest instructions one run of a cell's program executed, counted under the counting qemu
/// (`--metric instructions|both`). Counted runs are separate from timed runs: a count never
/// comes from a timed run and a time never from a counted one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstructionsRecord {
    /// The median of `samples`: the figure dashboards and comparisons use.
    pub count: u64,
    /// Each counted run's instructions, in run order (threads that only run the Go runtime's
    /// sysmon excluded: their work depends on wall time).
    pub samples: Vec<u64>,
    /// Instructions of each run excluded as sysmon's, in run order (for the record: how much
    /// wall-time-dependent work was kept out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<u64>,
    pub counter: CounterInfo,
}

impl InstructionsRecord {
    /// max/min of the samples (1.0 for one sample): how exact the count was.
    pub fn spread(&self) -> f64 {
        let max = self.samples.iter().copied().max().unwrap_or(0);
        let min = self.samples.iter().copied().min().unwrap_or(0);
        if min == 0 {
            return 1.0;
        }
        max as f64 / min as f64
    }
}

/// A Go benchmark's guest instructions per op, counted alone under the counting qemu: the
/// benchmark run at two fixed `-test.benchtime Nx`, the difference in instructions divided by
/// the difference in N, so set-up and the harness's own work cancel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchInstructions {
    /// The median of `samples_per_op`.
    pub per_op: f64,
    /// One figure per counted pair of runs, in run order.
    pub samples_per_op: Vec<f64>,
    /// The two iteration counts (`-test.benchtime 100x`, `1100x`).
    pub n: [u64; 2],
    pub counter: CounterInfo,
}

impl BenchInstructions {
    /// max/min of the per-op samples (1.0 for one sample).
    pub fn spread(&self) -> f64 {
        let max = self.samples_per_op.iter().copied().fold(f64::MIN, f64::max);
        let min = self.samples_per_op.iter().copied().fold(f64::MAX, f64::min);
        if self.samples_per_op.is_empty() || min <= 0.0 {
            return 1.0;
        }
        max / min
    }
}

/// One line of `cells.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellRecord {
    pub schema: u32,
    pub id: String,
    pub toolchain: ToolchainInfo,
    pub target: TargetInfo,
    /// 0 or 1.
    pub cgo: u8,
    #[serde(default)]
    pub libc: Option<String>,
    pub rootfs: String,
    /// The emulator axis: which qemu installation ran the cell (`emulators`, `--emulator`);
    /// absent for the host's default and for cells that run natively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emulator: Option<EmulatorInfo>,
    pub program: String,
    pub build: BuildRecord,
    #[serde(default)]
    pub binary: Option<BinaryRecord>,
    #[serde(default)]
    pub run: Option<RunRecord>,
    #[serde(default)]
    pub startup: Option<StartupRecord>,
    /// Guest instructions of one run of the program (`--metric instructions|both`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<InstructionsRecord>,
    /// Why the run asked for counts and this cell (or some of its benchmarks) has none: no
    /// counting qemu, no emulator for the arch, a counted run that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncounted: Option<String>,
    pub status: CellStatus,
    /// The cell's cause (the failing step's, or the skip's).
    #[serde(default)]
    pub cause: Option<Cause>,
    #[serde(default)]
    pub hint: Option<String>,
    /// Hash of everything that determines the cell's outcome (for `--resume`).
    #[serde(default)]
    pub inputs_hash: String,
    /// RFC 3339 UTC.
    #[serde(default)]
    pub finished_at: String,
    /// Set when the run and startup figures were reused from an earlier run (every input
    /// unchanged, same machine and boot): when they were measured, RFC 3339 UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused_from: Option<String>,
    /// For a package of a Go module: which module, package and `go.mod` lines the build used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<PackageRecord>,
    /// For a test cell (`crossmatrix test`): every Go test's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tests: Option<TestsRecord>,
    /// For a cell whose rootfs is a container image: which image, exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageRecord>,
}

/// A cell's emulator: its name (as in the cell id and `compare --emulators`), where it is, and
/// the version of the binary for the cell's arch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmulatorInfo {
    pub name: String,
    /// The directory of its binaries; absent for the host's qemu.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// The container image a cell ran in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The image as given (an OCI layout directory or a tarball).
    pub source: String,
    /// `sha256:…` of the OCI manifest (or the image ID when the source has no manifest).
    pub digest: String,
    /// `sha256:…` of the image config (what `docker images` shows).
    pub image_id: String,
    /// `repo:tag`, when the source names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// `linux/arm64/v8`: the platform picked for the cell.
    pub platform: String,
}

/// The Go package a cell built, as its module says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageRecord {
    /// `github.com/BurntSushi/toml/cmd/tomlv` (`command-line-arguments` for a single file).
    pub import_path: String,
    /// The module path.
    pub module: String,
    /// `(devel)` for the module being built (as `go version -m` says).
    pub module_version: String,
    /// The `go` line of go.mod (or go.work).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub go: Option<String>,
    /// The `toolchain` line, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toolchain: Option<String>,
    /// The go.work the build used, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// Dependencies came from the module's vendor/ directory.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub vendored: bool,
}

/// Outcome of one Go test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TestStatus {
    Pass,
    Fail,
    Skip,
}

impl TestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TestStatus::Pass => "pass",
            TestStatus::Fail => "fail",
            TestStatus::Skip => "skip",
        }
    }
}

/// One Go test or subtest (`TestParse/empty`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestCase {
    pub name: String,
    pub status: TestStatus,
    pub elapsed_ms: u64,
    /// Its output (capped), kept for failed and skipped tests: the failure, or Go's skip
    /// reason.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
    /// What the test itself reported (`t.Error`, `t.Fatal`) apart from its logs, capped: Go ≥
    /// 1.27 marks it in the test output (test2json's `OutputType: error`); empty for older
    /// releases and for tests that failed without reporting (a failed subtest's parent).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// Why a failed test failed when its output names an environment trap that the root it
    /// ran in confirms (`missing-executable`, `dns-config`, `missing-tmpdir`, …); none for a
    /// plain failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// For a failed test whose cause depends on the root: the roots where the same test of the
    /// same build passed. Added when records are rendered (in every format), never stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passes_on_rootfs: Vec<String>,
    /// Set when rendered for a flaky test (see [`TestCase::is_flaky`]): the other emulators
    /// under which the same build ran it steadily (passed at the first attempt).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steady_under: Vec<String>,
    /// Runs of this test that failed before the one recorded (`--retries`). With status `pass`
    /// the test is flaky: `output` keeps the first failure's.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed_attempts: u32,
}

fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
}

impl TestCase {
    /// Failed, then passed on a retry.
    pub fn is_flaky(&self) -> bool {
        self.status == TestStatus::Pass && self.failed_attempts > 0
    }

    /// The line that says why the test failed or was skipped: the first of its reported error
    /// when Go marked one, else the first line of its output that is not framing.
    pub fn failure_line(&self) -> String {
        let error = first_output_line(&self.error);
        if error.is_empty() {
            first_output_line(&self.output)
        } else {
            error
        }
    }
}

/// One Go benchmark's figures (`-test.bench`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchmarkResult {
    /// `BenchmarkParse/small-8` without the `-GOMAXPROCS` suffix.
    pub name: String,
    /// GOMAXPROCS the benchmark ran with.
    #[serde(default)]
    pub procs: u32,
    pub iterations: u64,
    pub ns_per_op: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_per_op: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocs_per_op: Option<f64>,
    /// Custom metrics (`b.ReportMetric`), by unit.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub metrics: std::collections::BTreeMap<String, f64>,
    /// Guest instructions per op, counted (`--metric instructions|both`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<BenchInstructions>,
}

/// Counts of a test cell's tests (subtests included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestTotals {
    pub run: usize,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Passed only on a retry (`--retries`); counted in `passed` too.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub flaky: usize,
}

/// A test cell's Go tests (`crossmatrix test`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TestsRecord {
    /// The package's import path.
    pub package: String,
    pub totals: TestTotals,
    /// Every test and subtest, in the order they ended.
    #[serde(default)]
    pub cases: Vec<TestCase>,
    /// The test running when the binary died or was killed (panic, timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<String>,
    /// Go said "no tests to run" (a `-run` that matched nothing): not a failure.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_tests_to_run: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub benchmarks: Vec<BenchmarkResult>,
    /// With `--recheck`: tests that failed under qemu and passed under a second executor.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emulator_suspect: Vec<String>,
    /// What the tests wrote next to their sources, relative to the package's directory: they
    /// ran in a throwaway writable copy of it, so the source itself is never modified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_writes: Vec<SourceWrite>,
}

/// One entry a test created, modified or removed in its package's directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceWrite {
    pub path: String,
    pub change: WriteChange,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WriteChange {
    Created,
    Modified,
    Removed,
}

impl TestsRecord {
    /// The failed tests, in order.
    pub fn failed(&self) -> impl Iterator<Item = &TestCase> {
        self.cases.iter().filter(|c| c.status == TestStatus::Fail)
    }

    /// The tests that failed, then passed on a retry.
    pub fn flaky(&self) -> impl Iterator<Item = &TestCase> {
        self.cases.iter().filter(|c| c.is_flaky())
    }

    /// The totals from the cases, as they stand after retries.
    pub fn recount(&mut self) {
        let mut t = TestTotals::default();
        for c in &self.cases {
            t.run += 1;
            match c.status {
                TestStatus::Pass => t.passed += 1,
                TestStatus::Fail => t.failed += 1,
                TestStatus::Skip => t.skipped += 1,
            }
            if c.is_flaky() {
                t.flaky += 1;
            }
        }
        self.totals = t;
    }
}

impl CellRecord {
    /// Whether the run counted anything of this cell (`--metric instructions|both`): its
    /// program's instructions, or a benchmark's per op.
    pub fn is_counted(&self) -> bool {
        self.instructions.is_some()
            || self
                .tests
                .as_ref()
                .is_some_and(|t| t.benchmarks.iter().any(|b| b.instructions.is_some()))
    }

    /// A passing cell that failed first: a run that passed only on a retry, or a test that did.
    pub fn is_flaky(&self) -> bool {
        self.status == CellStatus::Pass && !self.flaky_entries().is_empty()
    }

    /// What in this cell passed only on a retry (`--retries`): the whole run (named by the
    /// program) and each flaky test, with how many runs failed and the first failure's line.
    pub fn flaky_entries(&self) -> Vec<(String, u32, String)> {
        let mut out = Vec::new();
        if let Some(run) = self
            .run
            .as_ref()
            .filter(|r| !r.failed_attempts.is_empty() && r.status == StepStatus::Ok)
        {
            let name = match &self.tests {
                Some(t) if !t.package.is_empty() => format!("{} (whole test binary)", t.package),
                _ => self.program.clone(),
            };
            out.push((
                name,
                run.failed_attempts.len() as u32,
                with_steady(run.failed_attempts[0].line(), &run.steady_under),
            ));
        }
        out.extend(self.tests.iter().flat_map(|t| t.flaky()).map(|c| {
            (
                c.name.clone(),
                c.failed_attempts,
                with_steady(c.failure_line(), &c.steady_under),
            )
        }));
        out
    }

    /// The record of `cell` before anything ran: its axes, build skipped, no binary, no run.
    pub fn for_cell(cell: &crossmatrix_matrix::Cell) -> CellRecord {
        CellRecord {
            schema: SCHEMA_VERSION,
            id: cell.id.to_string(),
            toolchain: ToolchainInfo {
                name: cell.toolchain.name.clone(),
                version: cell.toolchain.version.clone(),
                goroot: cell.toolchain.goroot.display().to_string(),
                out_of_support: None,
            },
            target: TargetInfo {
                goos: cell.target.goos.clone(),
                goarch: cell.target.goarch.clone(),
                variant: cell.target.variant.clone(),
            },
            cgo: u8::from(cell.cgo),
            libc: cell.libc.map(|l| l.to_string()),
            rootfs: cell.rootfs.label(),
            emulator: cell.emulator.as_ref().map(|e| EmulatorInfo {
                name: e.name.clone(),
                dir: e.dir.as_ref().map(|d| d.display().to_string()),
                version: e.version_for(&cell.target.goarch).map(str::to_string),
            }),
            program: cell.program.name.clone(),
            build: BuildRecord {
                status: StepStatus::Skipped,
                duration_ms: 0,
                cause: None,
                hint: None,
                log_tail: String::new(),
                cc: None,
                cached: false,
            },
            binary: None,
            run: None,
            startup: None,
            instructions: None,
            uncounted: None,
            status: CellStatus::Skipped,
            cause: None,
            hint: None,
            inputs_hash: String::new(),
            finished_at: String::new(),
            reused_from: None,
            package: match &cell.program.source {
                crossmatrix_matrix::ProgramSource::Package(gp) => Some(PackageRecord {
                    import_path: gp.import_path.clone(),
                    module: gp.module.path.clone(),
                    module_version: "(devel)".into(),
                    go: gp.module.go.clone(),
                    toolchain: gp.module.toolchain.clone(),
                    workspace: gp.workspace.as_ref().map(|w| w.display().to_string()),
                    vendored: gp.vendored,
                }),
                _ => None,
            },
            tests: None,
            image: None,
        }
    }

    /// `cgo0`, `cgo1-gnu`, `cgo1-musl`: the build mode, as in cell ids.
    pub fn mode(&self) -> String {
        match (self.cgo, &self.libc) {
            (0, _) => "cgo0".into(),
            (_, None) => "cgo1".into(),
            (_, Some(libc)) => format!("cgo1-{libc}"),
        }
    }

    /// `linux/arm64`, or `linux/arm-GOARM7` with a sub-arch variant.
    pub fn target_label(&self) -> String {
        match &self.target.variant {
            None => format!("{}/{}", self.target.goos, self.target.goarch),
            Some(v) => format!(
                "{}/{}-{}",
                self.target.goos,
                self.target.goarch,
                v.replace('=', "")
            ),
        }
    }

    /// `qemu-binfmt 7.2.22`, `native`, or `None` when nothing ran.
    pub fn executor_label(&self) -> Option<String> {
        let run = self.run.as_ref()?;
        Some(match &run.executor_version {
            Some(v) if !v.is_empty() => format!("{} {v}", run.executor),
            _ => run.executor.clone(),
        })
    }

    /// Build plus run time, in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        self.build.duration_ms + self.run.as_ref().map_or(0, |r| r.duration_ms)
    }
}

/// Counts of cells by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub cells: usize,
    pub pass: usize,
    pub fail: usize,
    pub skipped: usize,
    pub built: usize,
    /// Passing cells with a flaky test (passed only on a retry); counted in `pass` too.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub flaky: usize,
}

impl Totals {
    pub fn add(&mut self, status: CellStatus) {
        self.cells += 1;
        match status {
            CellStatus::Pass => self.pass += 1,
            CellStatus::Fail => self.fail += 1,
            CellStatus::Skipped => self.skipped += 1,
            CellStatus::Built => self.built += 1,
        }
    }
    pub fn from_records<'a>(records: impl IntoIterator<Item = &'a CellRecord>) -> Totals {
        let mut t = Totals::default();
        for r in records {
            t.add(r.status);
            if r.is_flaky() {
                t.flaky += 1;
            }
        }
        t
    }
}

/// A tool crossmatrix used, with its version (`bwrap`, `qemu-aarch64`, `zig`, `wasmtime`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolVersion {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    pub hostname: String,
    pub os: String,
    pub kernel: String,
    pub arch: String,
    pub cores: usize,
    pub user: String,
    pub binfmt: bool,
}

/// `run.json`: the run's metadata, written atomically at the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    pub schema: u32,
    pub crossmatrix_version: String,
    pub started_at: String,
    pub finished_at: String,
    pub wall_ms: u64,
    pub host: HostInfo,
    pub tools: Vec<ToolVersion>,
    pub toolchains: Vec<ToolchainInfo>,
    /// Hash of the expanded matrix (cell ids and inputs), so shards of one matrix can be merged.
    pub matrix_hash: String,
    /// Every planned cell id, in plan order.
    pub planned: Vec<String>,
    #[serde(default)]
    pub shard: Option<String>,
    /// For a shard (`--shard K/N`): every cell id of the whole matrix, in plan order, so a merge
    /// knows what a missing shard should have brought. Empty when the run is the whole plan
    /// (then `planned` is).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matrix_planned: Vec<String>,
    /// The command that planned the run (`run --target linux/arm64 …`, without `--out` and
    /// `--resume`) and the directory it ran in: `--resume DIR` alone continues this plan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cwd: String,
    /// The commit of the project the run tested: `$GITHUB_SHA` when set, else `git rev-parse
    /// HEAD` in the directory the run started in; absent outside a git work tree. `history`
    /// says at which commit a change point starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    pub jobs: usize,
    pub reps: u32,
    /// When the timed runs ran (`quiet`, `exclusive`, `overlap`: `--timing`); absent when
    /// nothing was timed (`--reps 0`) and in runs made before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<String>,
    /// Wall time of the run in seconds (`wall_ms` / 1000).
    #[serde(default)]
    pub wall_s: f64,
    /// CPU time (user + system) of everything the run did: crossmatrix itself and every
    /// process it waited for (builds, zig, apt, sandboxes, emulated programs).
    #[serde(default)]
    pub cpu_s: f64,
    /// The fastest this run could have been on this machine: max(`cpu_s` ÷ cores, the longest
    /// single cell). `wall_s` ÷ `cpu_bound_s` says how close the scheduler came.
    #[serde(default)]
    pub cpu_bound_s: f64,
    /// Cores the bound assumes (the host's available parallelism).
    #[serde(default)]
    pub cores: usize,
    pub totals: Totals,
    /// True when the run was interrupted before every planned cell finished.
    #[serde(default)]
    pub interrupted: bool,
    /// For a run merged from shards (`crossmatrix merge`): where and when each shard ran.
    /// Empty for a run that was not merged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardInfo>,
}

/// One shard of a merged run: its `--shard` spec and the host and times it ran with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// `2/4`, or `None` for an input that was not run with `--shard`.
    #[serde(default)]
    pub shard: Option<String>,
    pub host: HostInfo,
    pub started_at: String,
    pub finished_at: String,
    pub wall_ms: u64,
    /// Records the shard contributed (after dropping duplicates).
    #[serde(default)]
    pub cells: usize,
    #[serde(default)]
    pub interrupted: bool,
}

/// Now, as records and run.json write times: RFC 3339, UTC.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// The first line of a test's output that says something (not `=== RUN` framing).
pub fn first_output_line(output: &str) -> String {
    output
        .lines()
        .map(|l| l.trim().trim_matches('\u{16}'))
        .find(|l| {
            !l.is_empty()
                && !l.starts_with("=== ")
                && !l.starts_with("--- FAIL")
                && !l.starts_with("[…")
        })
        .unwrap_or("")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_linkage_codes() {
        assert_eq!(
            serde_json::to_string(&CellStatus::Built).unwrap(),
            "\"built\""
        );
        assert_eq!(
            serde_json::to_string(&Linkage::StaticPie).unwrap(),
            "\"static-pie\""
        );
        assert_eq!(serde_json::to_string(&StepStatus::Ok).unwrap(), "\"ok\"");
        let mut t = Totals::default();
        for s in [
            CellStatus::Pass,
            CellStatus::Fail,
            CellStatus::Built,
            CellStatus::Pass,
        ] {
            t.add(s);
        }
        assert_eq!(
            (t.cells, t.pass, t.fail, t.built, t.skipped),
            (4, 2, 1, 1, 0)
        );
    }
}
