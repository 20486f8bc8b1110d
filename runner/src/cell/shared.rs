//! What every step of every cell reads: the run's settings, the host, and the stores and
//! caches shared by the worker threads. The bottom of the runner: it calls no step.

use crate::cache::build::BuildCache;
use crate::cache::result::ResultCache;
use crate::diagnose::Failure;
use crossmatrix_matrix::{Cause, Cell, RootfsSpec};
use crossmatrix_sandbox::Abort;
use crossmatrix_sandbox::limits::StepLimits;
use crossmatrix_sandbox::process::{CaptureOptions, Finished, Spawn};
use crossmatrix_toolchains::executor::ExecutorChoice;
use crossmatrix_toolchains::executor::{ExecutorPreference, Host};
use crossmatrix_toolchains::rootfs::RootfsStore;
use std::path::PathBuf;
use std::time::Duration;

/// Where a sandboxed step sees its inputs.
pub(crate) const IN_SRC: &str = "/src";
pub(crate) const IN_OUT: &str = "/out";
pub(crate) const IN_GOCACHE: &str = "/cache/go";
pub(crate) const IN_ZIGCACHE: &str = "/cache/zig";
pub(crate) const IN_TOOLS: &str = "/.crossmatrix";
pub(crate) const IN_GOMODCACHE: &str = "/cache/gomod";
/// Where a standard-library test cell sees its toolchain's GOROOT.
pub(crate) const IN_GOROOT: &str = "/.crossmatrix/goroot";

/// A test cell's default wall-clock limit, as `go test`'s own (`-timeout 10m`).
pub const DEFAULT_TEST_TIMEOUT: Duration = Duration::from_secs(600);

/// Settings shared by every cell of a run.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// `OUT/bin/<cell>/` holds each cell's binary.
    pub out_dir: PathBuf,
    /// Caches that outlive runs: GOCACHE per toolchain, zig's cache, rootfs, precompiled wasm.
    pub cache_dir: PathBuf,
    pub bwrap: PathBuf,
    /// The crossmatrix binary, bound into wasm sandboxes to run the embedded wasmtime.
    pub self_exe: PathBuf,
    pub reps: u32,
    /// Untimed runs before the timed ones (the verification run comes first regardless).
    pub warmups: u32,
    /// When timed repetitions run (see `dispatch::run_cells`).
    pub timing: crate::cell::time::TimingMode,
    pub build_timeout: Duration,
    pub run_timeout: Duration,
    pub executor: ExecutorPreference,
    /// Memory and task limits of every run step (a cell's `[run] memory`/`pids` override them).
    pub run_limits: StepLimits,
    /// Re-run a cell that failed under qemu with a second executor (`emulator-suspect`).
    pub recheck: bool,
    /// The run's emulators (`emulators`, `--emulator`): each emulated cell names its own;
    /// `--recheck` prefers another of these (another qemu version) for a failure.
    pub emulators: Vec<std::sync::Arc<crossmatrix_matrix::Emulator>>,
    /// `--retries N`: a test cell's failed tests run again alone, up to N times; one that
    /// passes then is recorded as flaky (never hidden). `None`: the cell's `[run] retries`.
    pub retries: Option<u32>,
    /// `--timeout-scale F`: the factor of emulated cells' timeouts; `None`: their emulator's
    /// measured slowdown (see [`crate::cell::slowdown`]).
    pub timeout_scale: Option<f64>,
    /// Reuse the results of passing cells whose every input is unchanged (see
    /// [`crate::cache::result`]); false with `run --rerun`.
    pub reuse: bool,
    /// The module cache builds read (read-only): crossmatrix's own (`<cache>/gomod`, filled
    /// by `crossmatrix fetch`) or the user's (`--modcache`).
    pub modcache: PathBuf,
    /// Wall-clock limit of a test cell's test binary (`crossmatrix test --timeout`); `None`:
    /// Go's default of 10 minutes. A cell's `[run] timeout` wins.
    pub test_timeout: Option<Duration>,
    /// `--metric`: timed runs, counted runs, or both.
    pub metric: crate::cell::count::Metric,
    /// The counting qemu (`--counter`, `$CROSSMATRIX_COUNTER`, the default install), or why
    /// there is none (each cell that would be counted says it in `uncounted`).
    pub counter: Result<std::sync::Arc<crossmatrix_toolchains::counter::Counter>, String>,
    /// `--count-reps`: counted runs of each program (pairs of runs of each benchmark).
    pub count_reps: u32,
}

/// How the steps start their children: the sandbox crate's process runner, or in unit tests
/// a fake that answers without Go, bubblewrap or qemu (hyperfine's `Executor` and
/// `MockExecutor` are the model).
pub trait Children: Send + Sync {
    fn run(
        &self,
        cmd: Spawn,
        timeout: Duration,
        abort: &Abort,
        opts: &CaptureOptions,
    ) -> std::io::Result<Finished>;
}

/// The real children: [`crossmatrix_sandbox::process::run_captured_opts`].
pub struct RealChildren;

impl Children for RealChildren {
    fn run(
        &self,
        cmd: Spawn,
        timeout: Duration,
        abort: &Abort,
        opts: &CaptureOptions,
    ) -> std::io::Result<Finished> {
        crossmatrix_sandbox::process::run_captured_opts(cmd, timeout, abort, opts)
    }
}

/// The runner's state shared by every cell (see [`crate::Runner`], which owns it).
pub(crate) struct Shared {
    pub(crate) cfg: RunnerConfig,
    /// How the steps start their children.
    pub(crate) children: Box<dyn Children>,
    pub(crate) host: Host,
    pub(crate) rootfs: RootfsStore,
    /// The `host` root's directory, written (or found) once per run.
    pub(crate) host_root: std::sync::OnceLock<Result<PathBuf, String>>,
    /// The embedded default program, written to the cache.
    pub(crate) probe_dir: PathBuf,
    /// Binaries of earlier builds, by the hash of their inputs.
    pub(crate) build_cache: BuildCache,
    /// Results of earlier passing cells, by the hash of their run's inputs.
    pub(crate) results: ResultCache,
    /// This machine in this boot (part of every result key).
    pub(crate) machine: String,
    /// `GOGC`, `GOMEMLIMIT` and `GOMAXPROCS` of builds (see [`crate::build_env`]).
    pub(crate) build_env: [(&'static str, String); 3],
    /// Container images unpacked as roots (`<cache>/images/`).
    pub(crate) images: crossmatrix_toolchains::ImageStore,
    /// Each toolchain's own test2json, shipped or built once (test cells).
    pub(crate) test2json: crate::test2json::Test2Json,
    /// Measured emulator slowdowns, by [`crate::cell::slowdown::key`] (`None`: the measurement
    /// failed, and timeouts stay as they are).
    pub(crate) slowdowns: std::sync::Mutex<std::collections::HashMap<String, Option<f64>>>,
}

impl Shared {
    /// The `host` root (the host's programs under crossmatrix's own `/etc`): its `/etc` is
    /// hashed and written on first use, then every cell reuses it.
    pub(crate) fn host_root(&self) -> Result<PathBuf, Failure> {
        self.host_root
            .get_or_init(|| {
                crossmatrix_toolchains::host_root::host_root(self.rootfs.dir())
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|e| {
                Failure::new(
                    Cause::RootfsUnavailable,
                    format!("the host root could not be written: {e}"),
                )
            })
    }

    /// The unpacked container image a cell's rootfs names, for its platform (unpacked once
    /// into the cache, then found there).
    pub(crate) fn image_of(&self, cell: &Cell) -> Result<crossmatrix_toolchains::Image, Failure> {
        let RootfsSpec::Image(source) = &cell.rootfs else {
            return Err(Failure::new(
                Cause::RootfsUnavailable,
                "not an image rootfs",
            ));
        };
        let platform = crossmatrix_toolchains::ImagePlatform::for_target(&cell.target);
        self.images.unpack(source, Some(&platform)).map_err(|e| {
            Failure::new(
                Cause::RootfsUnavailable,
                format!(
                    "the image {} cannot be the root of this cell: {e}",
                    source.display()
                ),
            )
        })
    }

    /// The directory of a cell's binary in OUT.
    pub(crate) fn bin_dir(&self, cell: &Cell) -> PathBuf {
        self.cfg
            .out_dir
            .join("bin")
            .join(cell.id.to_path_component())
    }

    /// Where a cell's binary is (or will be) in OUT.
    pub(crate) fn binary_path(&self, cell: &Cell) -> PathBuf {
        self.bin_dir(cell).join(exe_name(cell))
    }

    /// A toolchain's GOCACHE.
    pub(crate) fn gocache(&self, cell: &Cell) -> PathBuf {
        self.cfg.cache_dir.join("go").join(&cell.toolchain.version)
    }

    /// The run step's memory and task limits: the cell's, else the run's; 0 is unlimited.
    pub(crate) fn run_limits(&self, cell: &Cell) -> StepLimits {
        let nonzero = |v: Option<u64>| v.filter(|&n| n > 0);
        StepLimits {
            memory: nonzero(cell.settings.run_memory.or(self.cfg.run_limits.memory)),
            pids: nonzero(cell.settings.run_pids.or(self.cfg.run_limits.pids)),
        }
    }

    /// The factor of a run's timeouts under `choice`: 1 natively and in wasmtime; under qemu
    /// `--timeout-scale`, else the emulator's measured slowdown for the arch and CPU model
    /// (measured once per cache, memoized per run; 1 when it cannot be measured).
    pub(crate) fn timeout_scale(&self, cell: &Cell, choice: &ExecutorChoice) -> f64 {
        use crate::cell::slowdown;
        let Some(qemu) = slowdown::qemu_of(choice) else {
            return 1.0;
        };
        if let Some(f) = self.cfg.timeout_scale {
            return f;
        }
        let cpu = crate::cell::prepare::effective_cpu_model(cell, choice);
        let qemu = qemu.as_path();
        let key = slowdown::key(
            qemu,
            &cell.target.goarch,
            cpu.as_deref(),
            &self.host.host_goarch,
        );
        let mut memo = self.slowdowns.lock().unwrap_or_else(|e| e.into_inner());
        let found = memo.entry(key).or_insert_with(|| {
            let cal = slowdown::Calibration {
                cache_dir: &self.cfg.cache_dir,
                goroot: &cell.toolchain.goroot,
                go_version: &cell.toolchain.version,
                host_goarch: &self.host.host_goarch,
            };
            match slowdown::slowdown(
                &cal,
                qemu,
                &cell.target.goarch,
                cpu.as_deref(),
                &crossmatrix_sandbox::Abort::new(),
            ) {
                Ok(f) => Some(f),
                Err(e) => {
                    eprintln!(
                        "warning: could not measure {}'s slowdown for linux/{}: {e}; timeouts are not scaled",
                        qemu.display(),
                        cell.target.goarch
                    );
                    None
                }
            }
        });
        found.unwrap_or(1.0)
    }

    /// A program's wall-clock limit: the cell's `[run] timeout`, else the run's.
    pub(crate) fn run_timeout(&self, cell: &Cell) -> Duration {
        cell.settings.run_timeout.unwrap_or(self.cfg.run_timeout)
    }

    /// The test binary's wall-clock limit: the cell's `[run] timeout`, else `--timeout` when the
    /// user gave one for tests, else Go's default of 10 minutes.
    pub(crate) fn test_timeout(&self, cell: &Cell) -> Duration {
        cell.settings
            .run_timeout
            .or(self.cfg.test_timeout)
            .unwrap_or(DEFAULT_TEST_TIMEOUT)
    }
}

/// The binary's file name: the program's name (`NAME.test` for a test cell), with `.wasm`
/// or `.exe` where the target wants it.
pub(crate) fn exe_name(cell: &Cell) -> String {
    let base = if cell.program.is_test() {
        format!("{}.test", cell.program.name)
    } else {
        cell.program.name.clone()
    };
    if cell.target.is_wasip1() {
        format!("{base}.wasm")
    } else if cell.target.goos == "windows" {
        format!("{base}.exe")
    } else {
        base
    }
}
