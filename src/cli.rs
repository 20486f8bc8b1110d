//! Command-line arguments.

use clap::{Args, Parser, Subcommand};
use crossmatrix_runner::TimingMode;
use crossmatrix_toolchains::executor::ExecutorPreference;
use std::path::PathBuf;

/// Build and run a Go program for every toolchain × GOOS/GOARCH × CGO × libc × rootfs,
/// sandboxed and emulated, and record what each cell costs.
#[derive(Debug, Parser)]
#[command(name = "crossmatrix", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build, run and record every cell of the matrix.
    Run(RunArgs),
    /// Run packages' Go tests in every cell of the matrix (default: ./...).
    Test(TestArgs),
    /// Run the embedded trap suite: does a Go binary find time zones, CA roots, its user, a
    /// shell, a temp dir, /proc and name resolution in each root, and run on an older CPU?
    Probe(ProbeArgs),
    /// Print the expanded cells without building anything.
    Plan(PlanArgs),
    /// Download the modules the matrix's builds need into the module cache (the only step
    /// that uses the network; builds then run offline).
    Fetch(FetchArgs),
    /// Render a finished run (OUT dir) in another format.
    Report(ReportArgs),
    /// Compare two runs (or two toolchains of one run): regressions, fixes, size and startup.
    Compare(CompareArgs),
    /// Change points across nights: where each series' level changed (E-divisive means for
    /// times, level steps for exact counts), since which night and commit, and how sure.
    History(HistoryArgs),
    /// Merge the output dirs of shards of one matrix into one.
    Merge(MergeArgs),
    /// Explain what this host can and cannot do, and how to fix it.
    Doctor(DoctorArgs),
    /// List the Go toolchains found, or install official ones into the cache.
    Toolchain(ToolchainArgs),
    /// Keep the cache dir bounded: remove built binaries, reused results and precompiled wasm
    /// modules unused for a while.
    Cache(CacheArgs),
    /// (internal) Run a precompiled wasip1 module in the embedded wasmtime.
    #[command(name = "__wasm-exec", hide = true)]
    WasmExec(WasmExecArgs),
}

/// Axes and programs: shared by `run` and `plan`.
#[derive(Debug, Args, Clone)]
pub struct MatrixArgs {
    /// `run`: Go programs instead of the embedded probe (package dirs, patterns such as
    /// ./cmd/..., `.go` files). `test`: packages (dirs, ./..., import paths such as strings).
    pub programs: Vec<PathBuf>,
    /// Go toolchains: a version (`go1.27`, `go1.26.11`, `latest`) or a GOROOT path. Default: the two newest stable minors found (Go's supported releases).
    #[arg(long = "toolchain", value_name = "VERSION|GOROOT")]
    pub toolchains: Vec<String>,
    /// Targets as GOOS/GOARCH (`linux/arm64`, `wasip1/wasm`). Default: every runnable linux arch + wasip1.
    #[arg(long = "target", value_name = "GOOS/GOARCH")]
    pub targets: Vec<String>,
    /// CGO_ENABLED values (0, 1).
    #[arg(long = "cgo", value_name = "0|1")]
    pub cgo: Vec<u8>,
    /// C libraries for cgo=1 cells (gnu, musl).
    #[arg(long = "libc", value_name = "gnu|musl")]
    pub libc: Vec<String>,
    /// Where binaries run: scratch, host, glibc, musl, a directory or an image. Default: the one
    /// matching the build (for a cgo=0 linux test cell: host, the host's programs read-only).
    #[arg(long = "rootfs", value_name = "scratch|host|glibc|musl|DIR")]
    pub rootfs: Vec<String>,
    /// The qemu-user installations that run foreign cells: `host` (PATH and binfmt_misc), a
    /// directory of qemu-<arch> binaries, or NAME=DIR. Two or more make an axis (`emu-NAME` in
    /// cell ids). Default: the config's `emulators`, else the host's.
    #[arg(long = "emulator", value_name = "host|DIR|NAME=DIR")]
    pub emulators: Vec<String>,
    /// Keep cells whose id matches a glob, or `axis=value` (toolchain, target, cgo, libc, rootfs, program, emulator).
    #[arg(long = "filter", value_name = "GLOB|AXIS=VALUE")]
    pub filter: Vec<String>,
    /// The matrix config. Default: ./crossmatrix.toml when it exists, else the default matrix.
    #[arg(long, value_name = "FILE", env = "CROSSMATRIX_CONFIG")]
    pub config: Option<PathBuf>,
    /// Run only shard K of N (1-based), e.g. `2/4`; `auto` reads the CI engine's shard
    /// (Buildkite parallelism, Kubernetes Indexed Job + CROSSMATRIX_SHARD_COUNT).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
}

impl MatrixArgs {
    /// The planner's request; `executor` decides which arches the default matrix has.
    pub fn request(&self, executor: &str) -> anyhow::Result<crossmatrix_session::PlanRequest> {
        Ok(crossmatrix_session::PlanRequest {
            programs: self.programs.clone(),
            toolchains: self.toolchains.clone(),
            emulators: self.emulators.clone(),
            targets: self.targets.clone(),
            cgo: self.cgo.clone(),
            libc: self.libc.clone(),
            rootfs: self.rootfs.clone(),
            filter: self.filter.clone(),
            config: self.config.clone(),
            shard: self.shard.clone(),
            executor: parse_executor(executor)?,
            cache_dir: crossmatrix_toolchains::default_cache_dir(),
            modcache: None,
            tests: None,
        })
    }
}

/// `--executor auto|native|qemu-binfmt|qemu-direct`.
pub fn parse_executor(s: &str) -> anyhow::Result<ExecutorPreference> {
    s.parse::<ExecutorPreference>().map_err(|_| {
        anyhow::anyhow!("--executor {s}: expected one of auto, native, qemu-binfmt, qemu-direct")
    })
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    #[command(flatten)]
    pub opts: RunOpts,
    /// Startup repetitions timed per passing cell (all inside one sandbox).
    #[arg(long, default_value_t = 30)]
    pub reps: u32,
    /// Untimed warm-up runs before the timed repetitions (after the verification run).
    #[arg(long, default_value_t = 2)]
    pub warmup: u32,
    /// When timed startup runs run: `quiet` (while no build runs; timed cells side by side),
    /// `exclusive` (one timed cell at a time, nothing else running: the least noise, the
    /// slowest), `overlap` (as soon as a cell passed, beside builds).
    #[arg(long, default_value = "quiet", value_name = "MODE", value_parser = timing_mode)]
    pub timing: TimingMode,
    /// The same as `--timing overlap`.
    #[arg(long, conflicts_with = "timing", hide = true)]
    pub overlap_timing: bool,
    /// Wall-clock limit for one run of a binary: seconds, or with a unit (`10s`, `500ms`, `2m`).
    #[arg(long, default_value = "30", value_name = "DURATION", value_parser = seconds)]
    pub timeout: f64,
}

/// A package's Go tests in every cell.
#[derive(Debug, Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    #[command(flatten)]
    pub opts: RunOpts,
    /// Wall-clock limit for one test binary: seconds, or with a unit (`90s`, `5m`). Default
    /// 10m, as `go test`; Go's own `-test.timeout` is set a little below it.
    #[arg(long, value_name = "DURATION", value_parser = seconds)]
    pub timeout: Option<f64>,
    /// Run the packages' benchmarks too (`-test.bench REGEXP`).
    #[arg(long, value_name = "REGEXP")]
    pub bench: Option<String>,
    /// `-test.benchtime` (`1s`, `100x`).
    #[arg(long, value_name = "D")]
    pub benchtime: Option<String>,
    /// `-test.count` for benchmarks: samples per benchmark for benchstat.
    #[arg(long, value_name = "N")]
    pub count: Option<u32>,
    /// `-test.benchmem`.
    #[arg(long)]
    pub benchmem: bool,
    /// `go test` flags for every package, after `--` (`-- -short -run TestParse`).
    #[arg(last = true, value_name = "GO TEST FLAGS")]
    pub test_flags: Vec<String>,
}

/// What `run` and `test` share: where results go, how cells run, limits, caches.
#[derive(Debug, Args)]
pub struct RunOpts {
    /// Output directory. Default: results/<UTC timestamp>/.
    #[arg(long, value_name = "DIR", conflicts_with = "resume")]
    pub out: Option<PathBuf>,
    /// Continue an interrupted run in DIR: cells already recorded there with the same inputs
    /// are kept, the rest run and are appended.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Cells run in parallel. Default: the number of cores.
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// How foreign binaries run: auto, native, qemu-binfmt, qemu-direct.
    #[arg(long, default_value = "auto")]
    pub executor: String,
    /// Wall-clock limit for one build: seconds, or with a unit (`15m`).
    #[arg(long, default_value = "900", value_name = "DURATION", value_parser = seconds)]
    pub build_timeout: f64,
    /// Memory of one run's whole process tree: `512MiB`, `2GiB`, `none`. A cgroup where the
    /// host allows it, else RLIMIT_DATA (`crossmatrix doctor` says which).
    #[arg(long, default_value = "2GiB", value_name = "SIZE", value_parser = byte_size)]
    pub memory: u64,
    /// Tasks (processes + threads) one run may have at once; 0 for no limit.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub pids: u64,
    /// Re-run a cell that fails under qemu with a second executor (qemu invoked directly,
    /// another qemu, or native); a pass there labels the failure `emulator-suspect`.
    #[arg(long)]
    pub recheck: bool,
    /// Run a test cell's failed tests again, alone (`-test.run '^(A|B)$'`), up to N times: a
    /// test that passes then is flaky — recorded as such, counted apart, never hidden.
    /// (Default: `[run] retries` of the config, else 0.)
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Multiply the run and test timeouts of cells run under qemu by F instead of the measured
    /// slowdown of their emulator (1 turns the scaling off).
    #[arg(long, value_name = "F", value_parser = positive_scale)]
    pub timeout_scale: Option<f64>,
    /// What to measure: `time` (timed startup runs; benchmarks' own ns/op), `instructions`
    /// (guest instructions counted under the counting qemu: each program's run, each Go
    /// benchmark's instructions per op; no timed runs) or `both` (in separate runs).
    #[arg(long, default_value = "time", value_name = "METRIC", value_parser = ["time", "instructions", "both"])]
    pub metric: String,
    /// The counting qemu's directory (`ci/host-setup --counter` installs one in
    /// /opt/crossmatrix/counter, the default; also $CROSSMATRIX_COUNTER).
    #[arg(long, value_name = "DIR")]
    pub counter: Option<PathBuf>,
    /// Counted runs of each program, counted pairs of runs of each benchmark (`--metric`).
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub count_reps: u32,
    /// Run and time every cell again. By default a passing cell whose every input is unchanged
    /// since an earlier run on this machine (same binary, executor, sandbox, rootfs, settings,
    /// boot) reuses that run's figures, marked `reused_from` in its record.
    #[arg(long, env = "CROSSMATRIX_RERUN", value_parser = clap::builder::FalseyValueParser::new())]
    pub rerun: bool,
    /// Cache for GOCACHE, zig, rootfs and compiled wasm. Default: $XDG_CACHE_HOME/crossmatrix.
    #[arg(long, env = "CROSSMATRIX_CACHE", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    #[command(flatten)]
    pub modules: ModuleArgs,
    /// Fetch the modules the matrix needs first (as `crossmatrix fetch` does).
    #[arg(long)]
    pub fetch: bool,
    /// Print one plain line per cell even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
    /// Format of the final report on stdout: table, md, json, junit.
    #[arg(long, default_value = "table")]
    pub format: String,
}

/// Where module dependencies come from.
#[derive(Debug, Args, Clone)]
pub struct ModuleArgs {
    /// The module cache builds read (read-only) and `fetch` fills: `--modcache` alone is
    /// yours ($GOMODCACHE, else `go env GOMODCACHE`), `--modcache=DIR` a directory; default
    /// crossmatrix's, <cache>/gomod.
    #[arg(
        long,
        value_name = "DIR",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = ""
    )]
    pub modcache: Option<String>,
}

impl ModuleArgs {
    /// The module cache these arguments name (see `crossmatrix_project::module_cache`).
    pub fn module_cache(&self, cache_dir: &std::path::Path) -> PathBuf {
        let dir = self
            .modcache
            .as_deref()
            .filter(|d| !d.is_empty())
            .map(std::path::Path::new);
        let go = crossmatrix_toolchains::discover_go().pop().map(|t| t.go);
        crossmatrix_project::module_cache(cache_dir, self.modcache.is_some(), dir, go.as_deref())
    }
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    #[command(flatten)]
    pub modules: ModuleArgs,
    /// crossmatrix's cache (what was fetched is remembered there).
    #[arg(long, env = "CROSSMATRIX_CACHE", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// `crossmatrix probe`: the trap suite over toolchains × targets × cgo/libc × rootfs.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Go toolchains: a version (`go1.27`, `go1.26.11`, `latest`) or a GOROOT path. Default: the two newest stable minors found (Go's supported releases).
    #[arg(long = "toolchain", value_name = "VERSION|GOROOT")]
    pub toolchains: Vec<String>,
    /// Targets as GOOS/GOARCH. Default: linux/amd64 and linux/arm64 (those this host can run).
    #[arg(long = "target", value_name = "GOOS/GOARCH")]
    pub targets: Vec<String>,
    /// CGO_ENABLED values. Default: 0 and 1.
    #[arg(long = "cgo", value_name = "0|1")]
    pub cgo: Vec<u8>,
    /// C libraries for cgo=1 cells. Default: gnu and musl.
    #[arg(long = "libc", value_name = "gnu|musl")]
    pub libc: Vec<String>,
    /// Roots every probe runs in: scratch, host, glibc, musl, a directory or an image. Default:
    /// scratch, glibc and musl.
    #[arg(long = "rootfs", value_name = "scratch|host|glibc|musl|DIR|IMAGE")]
    pub rootfs: Vec<String>,
    /// Keep cells whose id matches a glob, or `axis=value` (as for `run`).
    #[arg(long = "filter", value_name = "GLOB|AXIS=VALUE")]
    pub filter: Vec<String>,
    /// Leave out the CPU-level probe (GOAMD64/GOARM64/GOARM/GORISCV64 above the baseline under
    /// qemu CPU models without and with that level).
    #[arg(long)]
    pub no_cpu: bool,
    /// Wall-clock limit for one run of a probe.
    #[arg(long, default_value = "30", value_name = "DURATION", value_parser = seconds)]
    pub timeout: f64,
    #[command(flatten)]
    pub opts: RunOpts,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    /// table, json or github (a GitHub Actions matrix, one entry per shard: use with --shards).
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Number of shards for `--format github`.
    #[arg(long, default_value_t = 1)]
    pub shards: usize,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A run's output directory.
    pub out: PathBuf,
    /// table, md, json, junit, benchstat, html, or for benchmark dashboards bmf (Bencher),
    /// github-action-benchmark (customSmallerIsBetter), openmetrics (Prometheus Pushgateway).
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Earlier run dirs (oldest first) for the HTML dashboard's trend lines; OUT is the newest.
    #[arg(long, value_name = "DIR", num_args = 1..)]
    pub history: Vec<PathBuf>,
    /// Exit 0 even when a run lacks cells of its plan (a missing shard, a run that died, a torn
    /// record); what is missing is still said.
    #[arg(long)]
    pub allow_incomplete: bool,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline run dir.
    pub base: PathBuf,
    /// The new run dir (omit with --toolchains to compare two toolchains inside BASE).
    pub new: Option<PathBuf>,
    /// Compare two toolchains of one run: `go1.26,go1.27`.
    #[arg(long, value_name = "A,B")]
    pub toolchains: Option<String>,
    /// Compare two emulators of one run (a matrix of two or more): `qemu-7.2.22,qemu-10.0.2`.
    #[arg(long, value_name = "A,B")]
    pub emulators: Option<String>,
    /// table, md, json.
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Exit 1 when a gate fails: `new-failure`, `size>+5%`, `startup>+10%`; repeatable.
    #[arg(long = "fail-on", value_name = "GATE")]
    pub fail_on: Vec<String>,
    /// Let a gate (`--fail-on`) pass when a compared run lacks cells of its plan; what is
    /// missing is still said.
    #[arg(long)]
    pub allow_incomplete: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Run dirs, one per night (cells.jsonl + run.json), in any order: they are sorted by
    /// their run's started_at.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// table, md, json.
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Only the series whose name, unit and counter (`startup toolchain=go1.27 … program=probe
    /// ms`, `BenchmarkX … pkg=… instructions/op [qemu-10.0.2]`) match this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub series: Option<String>,
    /// Time series: the smallest change that counts, in percent; smaller significant shifts
    /// are read as the runner's drift. Exact counts and sizes: every step counts.
    #[arg(long, value_name = "PCT", default_value_t = 5.0)]
    pub min_change: f64,
    /// Time series: a change point's permutation p-value must be at most this.
    #[arg(long, value_name = "P", default_value_t = 0.05)]
    pub max_p: f64,
    /// Exit 1 when a gate fails: `new-change` (a change point starts at the newest night),
    /// `new-regression` (one for the worse); repeatable.
    #[arg(long = "fail-on", value_name = "GATE")]
    pub fail_on: Vec<String>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard output dirs.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where the merged cells.jsonl and run.json go.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Exit 0 even when a run lacks cells of its plan (a missing shard, a run that died, a torn
    /// record); what is missing is still said.
    #[arg(long)]
    pub allow_incomplete: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// table or json.
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Emulators to describe besides the host's (directories of qemu-user binaries, NAME=DIR),
    /// as `run --emulator` takes them.
    #[arg(long = "emulator", value_name = "DIR|NAME=DIR")]
    pub emulators: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ToolchainArgs {
    #[command(subcommand)]
    pub command: ToolchainCommand,
}

#[derive(Debug, Subcommand)]
pub enum ToolchainCommand {
    /// Every Go toolchain found (PATH, /usr/lib/go-1.*, $GOROOT, installed ones).
    List(ToolchainListArgs),
    /// Download, verify (sha256) and unpack official Go releases into the cache.
    Install(ToolchainInstallArgs),
}

#[derive(Debug, Args)]
pub struct ToolchainListArgs {
    /// table or json.
    #[arg(long, default_value = "table")]
    pub format: String,
}

#[derive(Debug, Args)]
pub struct ToolchainInstallArgs {
    /// `go1.23.4`, `go1.22` (the newest 1.22.x), `go1.24rc1` or `latest`.
    #[arg(required = true, value_name = "VERSION")]
    pub versions: Vec<String>,
    /// Base URL serving `index.json` (go.dev's download index) and the archives; http(s)://,
    /// file:// or a directory. Default: https://go.dev/dl/.
    #[arg(long, env = "CROSSMATRIX_GO_MIRROR", value_name = "URL")]
    pub mirror: Option<String>,
    /// Plain lines even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Debug, Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    pub command: CacheCommand,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Remove the entries of crossmatrix's own stores (bin/, cells/, wasm/) not used for
    /// `--unused-for` (every hit marks its entry used). Go's GOCACHE trims itself; the module
    /// cache, toolchains and roots are left alone.
    Prune(CachePruneArgs),
}

#[derive(Debug, Args)]
pub struct CachePruneArgs {
    /// How long an entry may go unused: 14d, 36h, 90m.
    #[arg(long, default_value = "14d", value_name = "DURATION", value_parser = seconds)]
    pub unused_for: f64,
    /// Say what would be removed, remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The cache dir. Default: $XDG_CACHE_HOME/crossmatrix.
    #[arg(long, env = "CROSSMATRIX_CACHE", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct WasmExecArgs {
    #[arg(long)]
    pub timeout_ms: u64,
    /// The directory the guest sees as `/`.
    #[arg(long, default_value = "/scratch")]
    pub preopen: PathBuf,
    /// The guest's environment (`K=V`; default `PWD=/` and a PATH, as Go's runner passes).
    #[arg(long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    #[arg(long, default_value_t = 1 << 30)]
    pub max_memory: usize,
    pub module: PathBuf,
    #[arg(last = true)]
    pub args: Vec<String>,
}

/// `30`, `2.5`, `10s`, `500ms`, `2m`, `1h` → seconds.
fn timing_mode(s: &str) -> Result<TimingMode, String> {
    s.parse()
}

fn seconds(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, mult) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0)
    } else if let Some(n) = t.strip_suffix('d') {
        (n, 86400.0)
    } else {
        (t, 1.0)
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v * mult),
        _ => Err(format!(
            "`{s}` is not a positive duration (e.g. 30, 10s, 500ms, 2m, 14d)"
        )),
    }
}

fn byte_size(s: &str) -> Result<u64, String> {
    crossmatrix_matrix::parse_byte_size(s)
}

/// `--timeout-scale F`: a finite factor ≥ 1.
fn positive_scale(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() && f >= 1.0 => Ok(f),
        _ => Err(format!(
            "expected a factor of at least 1, e.g. 4 or 2.5, not `{s}`"
        )),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations() {
        assert_eq!(super::seconds("10s"), Ok(10.0));
        assert_eq!(super::seconds("500ms"), Ok(0.5));
        assert_eq!(super::seconds("2m"), Ok(120.0));
        assert_eq!(super::seconds("2.5"), Ok(2.5));
        assert_eq!(super::seconds("14d"), Ok(14.0 * 86400.0));
        assert!(super::seconds("0").is_err());
        assert!(super::seconds("soon").is_err());
    }
}
