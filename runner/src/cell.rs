//! One cell from source to record: build in a sandbox, inspect the binary, run it in a sandbox
//! with the right executor, time its startup, classify any failure.

use crate::buildcache::{BuildCache, SourceScope, file_stamp};
use crate::classify::{Failure, RunContext, classify_build, classify_run};
use crate::inspect::{BinaryInfo, inspect_binary};
use crate::process::{CaptureOptions, Finished, run_captured, run_captured_opts, signal_name};
use crate::resources::StepLimits;
use crate::resultcache::{ResultCache, machine_identity};
use crate::sandbox::{Limits, Sandbox};
use crate::timing::{TimingJob, ensure_timer, run_job};
use crate::wasm;
use crossmatrix_matrix::{Cause, Cell, Libc, ProgramSource, RootfsSpec};
use crossmatrix_results::{
    BuildRecord, CellRecord, CellStatus, RecheckRecord, RunRecord, StepStatus,
};
use crossmatrix_toolchains::cc::{CCompiler, CcKind, pick_c_compiler};
use crossmatrix_toolchains::executor::{ExecutorChoice, ExecutorPreference, Host};
use crossmatrix_toolchains::rootfs::{RootfsFlavor, RootfsStore, musl_sysroot_lib};
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The embedded probe program, written to the cache on first use.
const PROBE_FILES: &[(&str, &str)] = &[
    ("go.mod", include_str!("../probe/go.mod")),
    ("main.go", include_str!("../probe/main.go")),
    ("cgo.go", include_str!("../probe/cgo.go")),
    ("nocgo.go", include_str!("../probe/nocgo.go")),
];

/// Where a sandboxed step sees its inputs.
const IN_SRC: &str = "/src";
const IN_OUT: &str = "/out";
const IN_GOCACHE: &str = "/cache/go";
const IN_ZIGCACHE: &str = "/cache/zig";
const IN_TOOLS: &str = "/.crossmatrix";
const IN_GOMODCACHE: &str = "/cache/gomod";
/// Where a standard-library test cell sees its toolchain's GOROOT.
const IN_GOROOT: &str = "/.crossmatrix/goroot";
/// Size cap of a run's writable scratch dir (its cwd): filling it gives ENOSPC, not a full host.
const SCRATCH_BYTES: u64 = 256 << 20;
/// Tasks (processes + threads) a build may run at once: `go build` and the C compiler it
/// drives stay far below; a runaway tool does not take the host's pids.
const BUILD_PIDS: u64 = 4096;

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
    pub timing: crate::timing::TimingMode,
    pub build_timeout: Duration,
    pub run_timeout: Duration,
    pub executor: ExecutorPreference,
    /// Memory and task limits of every run step (a cell's `[run] memory`/`pids` override them).
    pub run_limits: StepLimits,
    /// Re-run a cell that failed under qemu with a second executor (`emulator-suspect`).
    pub recheck: bool,
    /// Reuse the results of passing cells whose every input is unchanged (see
    /// [`crate::resultcache`]); false with `run --rerun`.
    pub reuse: bool,
    /// The module cache builds read (read-only): crossmatrix's own (`<cache>/gomod`, filled
    /// by `crossmatrix fetch`) or the user's (`--modcache`).
    pub modcache: PathBuf,
    /// Wall-clock limit of a test cell's test binary (`crossmatrix test --timeout`); `None`:
    /// Go's default of 10 minutes. A cell's `[run] timeout` wins.
    pub test_timeout: Option<Duration>,
}

/// Runs cells. Shared by the worker threads of a run.
pub struct Runner {
    cfg: RunnerConfig,
    host: Host,
    rootfs: RootfsStore,
    probe_dir: PathBuf,
    /// crossmatrix-timer, built on first use by the first cell's toolchain.
    timer: OnceLock<Result<PathBuf, String>>,
    /// Binaries of earlier builds, by the hash of their inputs.
    build_cache: BuildCache,
    /// Results of earlier passing cells, by the hash of their run's inputs.
    results: ResultCache,
    /// This machine in this boot (part of every result key).
    machine: String,
    /// `GOGC`, `GOMEMLIMIT` and `GOMAXPROCS` of builds (see [`crate::buildenv`]).
    build_env: [(&'static str, String); 3],
    /// Container images unpacked as roots (`<cache>/images/`).
    images: crossmatrix_toolchains::ImageStore,
    /// Each toolchain's own test2json, shipped or built once (test cells).
    pub(crate) test2json: crate::test2json::Test2Json,
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("cannot prepare {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Runner {
    pub fn new(cfg: RunnerConfig, host: Host) -> Result<Runner, RunnerError> {
        let probe_dir = write_probe(&cfg.cache_dir)?;
        for d in [
            cfg.out_dir.join("bin"),
            cfg.modcache.clone(),
            cfg.cache_dir.join("go"),
            cfg.cache_dir.join("zig"),
            cfg.cache_dir.join("wasm"),
        ] {
            std::fs::create_dir_all(&d).map_err(|source| RunnerError::Io {
                path: d.clone(),
                source,
            })?;
        }
        let rootfs = RootfsStore::new(&cfg.cache_dir.join("rootfs"));
        let cfg_cache_dir = cfg.cache_dir.clone();
        let reuse = cfg.reuse;
        let test2json =
            crate::test2json::Test2Json::new(&cfg.cache_dir, &cfg.bwrap, &host.host_goarch);
        Ok(Runner {
            cfg,
            host,
            rootfs,
            probe_dir,
            timer: OnceLock::new(),
            build_cache: BuildCache::new(cfg_cache_dir.join("bin")),
            results: ResultCache::new(cfg_cache_dir.join("cells"), reuse),
            machine: machine_identity(),
            build_env: crate::buildenv::host_build_env(),
            images: crossmatrix_toolchains::ImageStore::new(&cfg_cache_dir),
            test2json,
        })
    }

    pub fn host(&self) -> &Host {
        &self.host
    }

    pub(crate) fn config(&self) -> &RunnerConfig {
        &self.cfg
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

    /// Where a cell's binary is (or will be) in OUT.
    pub(crate) fn binary_path(&self, cell: &Cell) -> PathBuf {
        self.cfg
            .out_dir
            .join("bin")
            .join(cell.id.to_path_component())
            .join(exe_name(cell))
    }

    pub fn timing_mode(&self) -> crate::timing::TimingMode {
        self.cfg.timing
    }

    /// Builds, inspects, runs and times one cell. Never panics on cell failures: every outcome
    /// is a record.
    pub fn run_cell(&self, cell: &Cell) -> CellRecord {
        match self.run_cell_staged(cell) {
            (rec, Some(job)) => self.time(rec, &job),
            (rec, None) => rec,
        }
    }

    /// [`Runner::run_cell`] without the timed startup runs: the record, and for a cell that
    /// passed, the timing job to finish it with [`Runner::time`] (when no build competes).
    pub fn run_cell_staged(&self, cell: &Cell) -> (CellRecord, Option<TimingJob>) {
        self.run_cell_staged_with(cell, None)
    }

    /// [`Runner::run_cell_staged`] with `go build -p build_jobs` (packages compiled at once)
    /// when given. The dispatcher sets it to the cores each concurrent build may use: `go
    /// build`'s default of one per core over-subscribes the machine when several builds run,
    /// and the contention costs CPU (measured: 6 cold cells, 96.8 s of CPU with the default vs
    /// 84.2 s with `-p 1` on 2 cores and 2 jobs). It is not part of the build cache key.
    pub fn run_cell_staged_with(
        &self,
        cell: &Cell,
        build_jobs: Option<usize>,
    ) -> (CellRecord, Option<TimingJob>) {
        let mut timing = None;
        let mut key = None;
        let rec = self.execute(cell, &mut timing, &mut key, build_jobs);
        let timing =
            timing.filter(|j| j.reps > 0 && rec.status == CellStatus::Pass && rec.cause.is_none());
        if let (None, Some(key)) = (&timing, &key) {
            // Nothing left to time (`--reps 0`): the record is final.
            self.keep_result(key, &rec);
        }
        (rec, timing)
    }

    /// Keeps a fresh passing record for later runs with the same inputs.
    fn keep_result(&self, key: &str, rec: &CellRecord) {
        if rec.status == CellStatus::Pass && rec.cause.is_none() && rec.reused_from.is_none() {
            self.results.store(key, rec);
        }
    }

    /// Runs `job` and puts its startup figures into `rec`.
    pub fn time(&self, mut rec: CellRecord, job: &TimingJob) -> CellRecord {
        let timer = self.timer.get_or_init(|| {
            ensure_timer(
                &self.cfg.cache_dir,
                Path::new(&rec.toolchain.goroot),
                &rec.toolchain.version,
                &self.host.host_goarch,
            )
        });
        let timed = run_job(job, timer.as_deref().ok());
        rec.startup = timed.record(job.warmups);
        if let Some(why) = timed.stopped {
            // The cell passed its verification run; a later repetition did not.
            rec.hint = Some(format!("startup timing stopped early: {why}"));
        } else if let Some(key) = &job.result_key {
            self.keep_result(key, &rec);
        }
        rec
    }

    /// Whether the in-sandbox timer could be built, and if not why (for `doctor`-style notes).
    pub fn timer_status(&self) -> Option<&Result<PathBuf, String>> {
        self.timer.get()
    }

    fn execute(
        &self,
        cell: &Cell,
        timing: &mut Option<TimingJob>,
        result_key: &mut Option<String>,
        build_jobs: Option<usize>,
    ) -> CellRecord {
        let mut rec = CellRecord::for_cell(cell);
        if let Some(skip) = &cell.skip {
            rec.build.status = StepStatus::Skipped;
            return finish(
                rec,
                CellStatus::Skipped,
                Some(Failure::new(skip.cause, skip.reason.clone())),
            );
        }

        // C compiler for cgo cells.
        let cc = if cell.cgo {
            match pick_c_compiler(&cell.target.goarch, cell.libc.unwrap_or(Libc::Gnu)) {
                Ok(cc) => Some(self.with_prebuilt_musl(cc, &cell.target.goarch)),
                Err(e) => {
                    rec.build.status = StepStatus::Skipped;
                    return finish(
                        rec,
                        CellStatus::Skipped,
                        Some(Failure::new(Cause::NoCCompiler, e.hint.clone())),
                    );
                }
            }
        } else {
            None
        };
        rec.build.cc = cc.as_ref().map(|c| format!("{} ({})", c.cc, c.why));

        // Build.
        let (binary, build_fail) = self.build(cell, cc.as_ref(), &mut rec.build, build_jobs);
        let Some(binary) = binary else {
            // Known breakage may be a build error (e.g. an API the target lacks).
            let (status, failure) = expected_failure(cell, build_fail);
            return finish(rec, status, failure);
        };

        // Inspect.
        let info = match inspect_binary(&binary) {
            Ok(i) => i,
            Err(e) => {
                rec.build.status = StepStatus::Fail;
                return finish(
                    rec,
                    CellStatus::Fail,
                    Some(Failure::new(
                        Cause::BuildError,
                        format!("the built binary cannot be read: {e}"),
                    )),
                );
            }
        };
        rec.binary = Some(info.to_record(&binary));
        if let Some(v) = &info.go_version {
            // `go1.27.4-X:mapsplitgroup`, `go1.24.4 X:rangefunc`: a GOEXPERIMENT build of the
            // same toolchain.
            let base = crossmatrix_toolchains::version::without_experiments(v);
            if base != cell.toolchain.version {
                return finish(
                    rec,
                    CellStatus::Fail,
                    Some(Failure::new(
                        Cause::GoVersionMismatch,
                        format!(
                            "the binary embeds {v} but the toolchain is {}: GOROOT/go mismatch",
                            cell.toolchain.version
                        ),
                    )),
                );
            }
        }

        // The image a cell runs in is part of its record, whatever happens next.
        if matches!(cell.rootfs, RootfsSpec::Image(_)) {
            match self.image_of(cell) {
                Ok(img) => {
                    rec.image = Some(crossmatrix_results::ImageRecord {
                        source: cell.rootfs.label(),
                        digest: img.digest,
                        image_id: img.image_id,
                        reference: img.reference,
                        platform: match &img.platform.variant {
                            Some(v) => {
                                format!("{}/{}/{v}", img.platform.os, img.platform.architecture)
                            }
                            None => format!("{}/{}", img.platform.os, img.platform.architecture),
                        },
                    })
                }
                Err(f) => return finish(rec, CellStatus::Fail, Some(f)),
            }
        }

        // Run.
        let choice = self.host.pick_executor(
            &cell.target.goos,
            &cell.target.goarch,
            Some(&info.elf_header),
            self.cfg.executor,
        );
        let choice =
            crate::traps::executor_for_cpu_model(choice, cell, &self.host, &info.elf_header);
        if let ExecutorChoice::None { hint } = &choice {
            return finish(
                rec,
                CellStatus::Built,
                Some(Failure::new(Cause::NoExecutor, hint.clone())),
            );
        }
        let mut outs = RunOuts::default();
        let (mut run, job, mut fail) = self.run(cell, &binary, &info, &choice, &mut outs);
        *result_key = outs.result_key;
        let (reused, tests) = (outs.reused, outs.tests);
        if let Some((prev, measured_at)) = reused {
            return reuse(rec, prev, measured_at);
        }
        if let Some(t) = tests {
            rec.tests = Some(t);
        } else if let Some(first) = fail.as_ref().filter(|_| self.cfg.recheck) {
            if let Some((second, verdict)) = self.recheck(cell, &binary, &info, &choice, first) {
                run.recheck = Some(second);
                if verdict.is_some() {
                    fail = verdict;
                }
            }
        }
        rec.run = Some(run);
        *timing = job;
        match (fail, &cell.settings.expect_fail) {
            // Expected to fail but passed: fixed (or the rule is too broad). Not red, but said,
            // so the rule does not outlive the breakage (an XPASS).
            (None, Some(e)) => {
                let mut rec = finish(rec, CellStatus::Pass, None);
                rec.hint = Some(format!(
                    "expected to fail with {} but passed: drop the expect = \"fail\" rule for this cell",
                    e.cause
                ));
                rec
            }
            (None, None) => finish(rec, CellStatus::Pass, None),
            // Known breakage the config expects is recorded, with its cause, but not red.
            (fail, _) => {
                let (status, fail) = expected_failure(cell, fail);
                finish(rec, status, fail)
            }
        }
    }

    /// Runs a cell that failed under qemu once more under a second executor: native when the
    /// host can run the arch, else qemu the other way (directly instead of through binfmt, or
    /// the reverse). Returns what the second run did and, when it passed, the cell's new
    /// verdict (`emulator-suspect`). Loader and sandbox problems are not qemu's: not rechecked.
    fn recheck(
        &self,
        cell: &Cell,
        binary: &Path,
        info: &BinaryInfo,
        first: &ExecutorChoice,
        failure: &Failure,
    ) -> Option<(RecheckRecord, Option<Failure>)> {
        if !matches!(
            first,
            ExecutorChoice::QemuBinfmt { .. } | ExecutorChoice::QemuDirect(_)
        ) || matches!(
            failure.cause,
            Cause::MissingInterpreter
                | Cause::GlibcVersion
                | Cause::MissingLibrary
                | Cause::RootfsUnavailable
                | Cause::SandboxError
                | Cause::ExecFormat
        ) || crate::traps::is_environment_trap(failure.cause)
        {
            return None;
        }
        let pick = |pref| match self.host.pick_executor(
            &cell.target.goos,
            &cell.target.goarch,
            Some(&info.elf_header),
            pref,
        ) {
            ExecutorChoice::None { .. } => None,
            c => Some(c),
        };
        let second = pick(ExecutorPreference::Native).or_else(|| match first {
            ExecutorChoice::QemuBinfmt { .. } => pick(ExecutorPreference::QemuDirect),
            _ => pick(ExecutorPreference::QemuBinfmt),
        })?;
        let (executor, executor_version) = describe_choice(&second);
        let mut record = RecheckRecord {
            executor: executor.clone(),
            executor_version: executor_version.clone(),
            status: StepStatus::Fail,
            exit_code: None,
            cause: None,
            hint: None,
        };
        let outcome = self
            .prepare_run(cell, binary, info, &second)
            .and_then(|prepared| {
                let timeout = cell.settings.run_timeout.unwrap_or(self.cfg.run_timeout);
                let input = cell.settings.stdin.clone().map(String::into_bytes);
                let f = run_captured_opts(prepared.command(), timeout, &capture(cell, input))
                    .map_err(|e| {
                        Failure::new(Cause::SandboxError, format!("cannot start bwrap: {e}"))
                    })?;
                record.exit_code = f.code;
                let ctx = run_context(cell, info, &prepared, &executor);
                match classify_run(&f, &ctx, &cell.program.expect) {
                    Some(fail) => Err(fail),
                    None => Ok(()),
                }
            });
        let (first_exec, first_version) = describe_choice(first);
        let first_name = match first_version {
            Some(v) => format!("{first_exec} {v}"),
            None => first_exec,
        };
        let second_name = match executor_version {
            Some(v) => format!("{executor} {v}"),
            None => executor,
        };
        match outcome {
            Ok(()) => {
                record.status = StepStatus::Ok;
                let verdict = Failure::new(
                    Cause::EmulatorSuspect,
                    format!(
                        "{} under {first_name} but passes under {second_name}: likely an emulator bug, not a regression; report it to qemu or run on real hardware",
                        failure.cause
                    ),
                );
                Some((record, Some(verdict)))
            }
            Err(f) => {
                record.cause = Some(f.cause);
                record.hint = Some(f.hint);
                Some((record, None))
            }
        }
    }

    /// zig targeting musl links against Debian's prebuilt musl-dev for the arch when it can be
    /// fetched, instead of compiling musl (the costliest step of a cold matrix); otherwise zig
    /// builds its own, as before.
    fn with_prebuilt_musl(&self, cc: CCompiler, goarch: &str) -> CCompiler {
        let Some(lib) = musl_sysroot_lib(goarch) else {
            return cc;
        };
        if cc.kind != CcKind::Zig || !cc.cc.contains("-linux-musl") {
            return cc;
        }
        let prebuilt = self
            .rootfs
            .get(goarch, RootfsFlavor::MuslDev)
            .map_err(|e| e.to_string())
            .and_then(|sysroot| {
                cc.clone()
                    .with_musl_sysroot(&sysroot, lib, &self.cfg.cache_dir.join("zig"))
            });
        match prebuilt {
            Ok(cc) => cc,
            // Say why in the record (build.cc): the fallback costs a musl compile.
            Err(why) => CCompiler {
                why: format!(
                    "{}; Debian's musl-dev not used ({why}), so zig compiles musl",
                    cc.why
                ),
                ..cc
            },
        }
    }

    fn gocache(&self, cell: &Cell) -> PathBuf {
        self.cfg.cache_dir.join("go").join(&cell.toolchain.version)
    }

    /// Runs `go build` in a sandbox. Returns the binary, or the failure.
    fn build(
        &self,
        cell: &Cell,
        cc: Option<&CCompiler>,
        rec: &mut BuildRecord,
        build_jobs: Option<usize>,
    ) -> (Option<PathBuf>, Option<Failure>) {
        let src = match self.build_source(cell) {
            Ok(src) => src,
            Err(f) => {
                rec.status = StepStatus::Fail;
                return (None, Some(f));
            }
        };
        let bin_dir = self
            .cfg
            .out_dir
            .join("bin")
            .join(cell.id.to_path_component());
        let gocache = self.gocache(cell);
        for d in [&bin_dir, &gocache] {
            if let Err(e) = std::fs::create_dir_all(d) {
                rec.status = StepStatus::Fail;
                return (
                    None,
                    Some(Failure::new(
                        Cause::HarnessError,
                        format!("cannot create {}: {e}", d.display()),
                    )),
                );
            }
        }
        let exe_name = exe_name(cell);
        let goroot = &cell.toolchain.goroot;
        let mut sb = Sandbox::new(&self.cfg.bwrap)
            .limits(Limits {
                file_size: 8 << 30,
                ..Limits::default()
            })
            .resources(StepLimits {
                memory: None,
                pids: Some(BUILD_PIDS),
            })
            // go waits for its compilers and linkers: as pid 1 its CPU counts in run.json.
            .as_pid_1()
            .host_system()
            .ro(goroot, goroot);
        for (host, inside) in &src.binds {
            sb = sb.ro(host, inside);
        }
        sb = sb
            .rw(&bin_dir, IN_OUT)
            .rw(&gocache, IN_GOCACHE)
            .chdir(&src.chdir);
        let target = (cell.target.goos.as_str(), cell.target.goarch.as_str());
        sb = crate::buildenv::offline_go(sb, goroot, IN_GOCACHE, target, cell.cgo)
            .env("TMPDIR", "/tmp");
        // The compiler's own runtime: GC less often within a memory cap, one thread (see
        // `buildenv`).
        for (k, v) in &self.build_env {
            sb = sb.env(*k, v);
        }
        for (k, v) in &src.env {
            sb = sb.env(*k, v);
        }
        if let Some((k, v)) = cell.target.variant_env() {
            sb = sb.env(k, v);
        }
        if let Some(cc) = cc {
            sb = sb.env("CC", &cc.cc).env("CXX", &cc.cxx);
            for (k, v) in &cc.env {
                sb = sb.env(k, v);
            }
            for p in &cc.bind_paths {
                sb = sb.ro(p, p);
            }
            if cc.needs_zig_cache {
                sb = sb
                    .rw(self.cfg.cache_dir.join("zig"), IN_ZIGCACHE)
                    .env("ZIG_GLOBAL_CACHE_DIR", IN_ZIGCACHE);
            }
        }
        let settings = &cell.settings;
        for (k, v) in &settings.build_env {
            sb = sb.env(k, v);
        }
        let out_path = format!("{IN_OUT}/{exe_name}");
        // A test cell builds the package's test binary.
        let mut argv: Vec<OsString> = if cell.program.is_test() {
            vec![
                goroot.join("bin/go").into(),
                "test".into(),
                "-c".into(),
                "-o".into(),
                out_path.into(),
            ]
        } else {
            vec![
                goroot.join("bin/go").into(),
                "build".into(),
                "-o".into(),
                out_path.into(),
            ]
        };
        if !settings.tags.is_empty() {
            argv.push(format!("-tags={}", settings.tags.join(",")).into());
        }
        if settings.trimpath {
            argv.push("-trimpath".into());
        }
        if let Some(ld) = &settings.ldflags {
            argv.push(format!("-ldflags={ld}").into());
        }
        argv.extend(settings.build_flags.iter().map(OsString::from));
        argv.push(src.target.clone().into());
        let build_timeout = settings.build_timeout.unwrap_or(self.cfg.build_timeout);
        let start = Instant::now();
        // A build with exactly these inputs ran before: reuse its binary, skip `go build`.
        let key = self.build_key(cell, &src, &bin_dir, &sb, &argv, cc);
        if let Some(key) = &key {
            if self
                .build_cache
                .fetch(key, &exe_name, &bin_dir.join(&exe_name))
            {
                rec.status = StepStatus::Ok;
                rec.cached = true;
                rec.duration_ms = start.elapsed().as_millis() as u64;
                return (Some(bin_dir.join(exe_name)), None);
            }
        }
        if let Some(p) = build_jobs {
            argv.insert(2, format!("-p={}", p.max(1)).into());
        }
        let result = run_captured(sb.command(&argv), build_timeout);
        rec.duration_ms = start.elapsed().as_millis() as u64;
        let f = match result {
            Ok(f) => f,
            Err(e) => {
                rec.status = StepStatus::Fail;
                return (
                    None,
                    Some(Failure::new(
                        Cause::SandboxError,
                        format!("cannot start bwrap ({}): {e}", self.cfg.bwrap.display()),
                    )),
                );
            }
        };
        let log = format!("{}{}", f.stdout.text(), f.stderr.text());
        rec.log_tail = tail_lines(&log, 30);
        if f.timed_out {
            rec.status = StepStatus::Fail;
            return (
                None,
                Some(Failure::new(
                    Cause::Timeout,
                    format!(
                        "go build ran past {:?}: raise --build-timeout",
                        build_timeout
                    ),
                )),
            );
        }
        if f.code != Some(0) {
            rec.status = StepStatus::Fail;
            let fail = if log.contains("bwrap:") && !log.contains("go:") {
                Failure::new(
                    Cause::SandboxError,
                    format!("bubblewrap failed: {}", tail_lines(&log, 1)),
                )
            } else if let Some(f) = module_failure(cell, &log) {
                f
            } else {
                with_cgo_note(cell, classify_build(&log, &cell.target.goarch))
            };
            return (None, Some(fail));
        }
        rec.status = StepStatus::Ok;
        if let Some(key) = &key {
            self.build_cache
                .store(key, &exe_name, &bin_dir.join(&exe_name));
        }
        (Some(bin_dir.join(exe_name)), None)
    }

    /// Where a cell's source is and how `go build` sees it: the directories bound into the
    /// build sandbox, where it runs, what it builds, and the environment that goes with it.
    fn build_source(&self, cell: &Cell) -> Result<BuildSource, Failure> {
        let in_src = PathBuf::from(IN_SRC);
        let flat = |dir: PathBuf, target: String, module_mode: bool| BuildSource {
            binds: vec![(dir.clone(), in_src.clone())],
            chdir: in_src.clone(),
            target,
            env: if module_mode {
                vec![]
            } else {
                vec![("GO111MODULE", "off".to_string())]
            },
            key: KeySource::Tree(dir, SourceScope::Tree),
        };
        Ok(match &cell.program.source {
            ProgramSource::Probe => flat(self.probe_dir.clone(), ".".into(), true),
            ProgramSource::Dir(d) => flat(d.clone(), ".".into(), d.join("go.mod").exists()),
            ProgramSource::File(f) => {
                let dir = f
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| ".".into());
                let name = f
                    .file_name()
                    .map(|n| format!("./{}", n.to_string_lossy()))
                    .unwrap_or_default();
                BuildSource {
                    key: KeySource::Tree(dir.clone(), SourceScope::Flat),
                    ..flat(dir, name, true)
                }
            }
            ProgramSource::Package(gp) => {
                // The module (or workspace) at its own path, so go.work `use` and `replace`
                // directives with relative paths resolve as on the host; the module cache
                // read-only: builds never download (`crossmatrix fetch` fills it).
                let mut binds: Vec<(PathBuf, PathBuf)> =
                    gp.roots.iter().map(|r| (r.clone(), r.clone())).collect();
                let mut env = vec![
                    (
                        "GOWORK",
                        gp.workspace
                            .as_ref()
                            .map_or_else(|| "off".to_string(), |w| w.display().to_string()),
                    ),
                    ("GOSUMDB", "off".to_string()),
                ];
                if !gp.vendored {
                    binds.push((self.cfg.modcache.clone(), PathBuf::from(IN_GOMODCACHE)));
                    env.push(("GOMODCACHE", IN_GOMODCACHE.to_string()));
                }
                BuildSource {
                    binds,
                    chdir: gp.dir.clone(),
                    target: gp.target.clone(),
                    env,
                    key: KeySource::Package,
                }
            }
            ProgramSource::Std(import) => BuildSource {
                binds: vec![],
                chdir: cell.toolchain.goroot.join("src").join(import),
                target: ".".into(),
                env: vec![("GOWORK", "off".to_string())],
                key: KeySource::Std(import.clone()),
            },
            ProgramSource::Pattern { pattern, .. } => {
                return Err(Failure::new(
                    Cause::BuildError,
                    format!("the pattern {pattern} was not expanded by the planner"),
                ));
            }
        })
    }

    /// The build cache key of a cell: everything the sandboxed `go build` sees — its bubblewrap
    /// arguments (mounts, environment; the output dir masked, since it differs per run), its
    /// command line, the toolchain, the C compiler's files, and the content of the source
    /// files (for a module's package, the files its build reads: [`crate::gosource`]). `None`
    /// (no caching) when the source cannot be hashed.
    fn build_key(
        &self,
        cell: &Cell,
        src: &BuildSource,
        bin_dir: &Path,
        sb: &Sandbox,
        argv: &[OsString],
        cc: Option<&CCompiler>,
    ) -> Option<String> {
        let mut h = Sha256::new();
        let out = bin_dir.as_os_str().as_encoded_bytes();
        for a in sb.args().iter().chain(argv) {
            let a = a.as_encoded_bytes();
            h.update(if a == out { b"<out>" } else { a });
            h.update([0]);
        }
        h.update(cell.toolchain.version.as_bytes());
        h.update(file_stamp(&cell.toolchain.goroot.join("bin/go")).as_bytes());
        if let Some(cc) = cc {
            h.update(format!("{cc:?}").as_bytes());
            let exe = cc.cc.split_whitespace().next().unwrap_or_default();
            h.update(file_stamp(Path::new(exe)).as_bytes());
        }
        let source = match &src.key {
            KeySource::Std(import) => format!("std {import}"),
            KeySource::Tree(dir, scope) => self.build_cache.source_hash(dir, *scope)?,
            KeySource::Package => {
                let memo_key = format!("{:x}", h.clone().finalize());
                // go list takes the build's flags (tags, -mod, -race… decide the file set).
                let mut flags: Vec<OsString> = argv
                    .iter()
                    .skip(2)
                    .filter(|a| a.to_string_lossy().starts_with('-'))
                    .filter(|a| {
                        *a != "-o" && *a != "-c" && !a.to_string_lossy().starts_with(IN_OUT)
                    })
                    .cloned()
                    .collect();
                if cell.program.is_test() {
                    flags.push("-test".into());
                }
                crate::gosource::package_digest(
                    sb,
                    &cell.toolchain.goroot.join("bin/go"),
                    &flags,
                    &src.target,
                    Path::new(IN_GOMODCACHE),
                    &self.cfg.cache_dir.join("deps"),
                    &memo_key,
                )?
            }
        };
        h.update(source.as_bytes());
        Some(format!("{:x}", h.finalize()))
    }

    /// The verification run. Sets `result_key` to the key of the run's inputs, and `reused`
    /// (without running anything) when an earlier run with the same inputs passed.
    fn run(
        &self,
        cell: &Cell,
        binary: &Path,
        info: &BinaryInfo,
        choice: &ExecutorChoice,
        outs: &mut RunOuts,
    ) -> (RunRecord, Option<TimingJob>, Option<Failure>) {
        let RunOuts {
            result_key,
            reused,
            tests,
        } = outs;
        let (executor, executor_version) = describe_choice(choice);
        let mut run = RunRecord::started(executor.clone(), executor_version);
        run.cpu = crate::traps::cpu_model_run(cell, choice);
        let prepared = match self.prepare_run(cell, binary, info, choice) {
            Ok(p) => p,
            Err(f) => return (run, None, Some(f)),
        };
        *result_key = self.result_key(cell, binary, info, choice, &prepared);
        if let Some(hit) = result_key.as_deref().and_then(|k| self.results.load(k)) {
            *reused = Some(hit);
            return (run, None, None);
        }
        if let Some(spec) = &cell.program.test {
            let (fail, record) = self.run_tests(cell, spec, info, choice, &prepared, &mut run);
            *tests = Some(record);
            return (run, None, fail);
        }
        let run_timeout = cell.settings.run_timeout.unwrap_or(self.cfg.run_timeout);
        let input = cell.settings.stdin.clone().map(String::into_bytes);
        let first = match run_captured_opts(prepared.command(), run_timeout, &capture(cell, input))
        {
            Ok(f) => f,
            Err(e) => {
                let f = Failure::new(Cause::SandboxError, format!("cannot start bwrap: {e}"));
                return (run, None, Some(f));
            }
        };
        fill_run_record(&mut run, &first);
        let ctx = run_context(cell, info, &prepared, &executor);
        if let Some(f) = classify_run(&first, &ctx, &cell.program.expect) {
            return (run, None, Some(f));
        }
        run.status = StepStatus::Ok;

        // Startup timing, later: the verification run above was the first warm-up.
        let job = TimingJob {
            sandbox: prepared.sandbox.clone(),
            argv: prepared.argv.clone(),
            warmups: self.cfg.warmups,
            reps: cell.settings.reps.unwrap_or(self.cfg.reps),
            timeout: run_timeout,
            result_key: result_key.clone(),
            expected_exit: cell.program.expect.exit_code,
            stdin: cell.settings.stdin.clone().map(String::into_bytes),
        };
        (run, Some(job), None)
    }

    /// The key of everything a cell's run and timing depend on (see [`crate::resultcache`]):
    /// the binary's content, the executor and its file, the sandbox and command line (the
    /// binary's host path masked: it differs per OUT), the rootfs tree, the cell's settings,
    /// the run's timeout, limits, reps, warm-ups and timing mode, crossmatrix itself and this
    /// machine in this boot. `None` (never reused) when the binary or rootfs cannot be hashed.
    fn result_key(
        &self,
        cell: &Cell,
        binary: &Path,
        info: &BinaryInfo,
        choice: &ExecutorChoice,
        prepared: &Prepared,
    ) -> Option<String> {
        if info.sha256.is_empty() {
            return None;
        }
        let rootfs = match &prepared.root {
            Some(root) => self.results.tree_stamp(root)?,
            None => String::new(),
        };
        let mut h = Sha256::new();
        let mut put = |b: &[u8]| {
            h.update(b);
            h.update([0]);
        };
        put(b"crossmatrix cell result v1");
        put(env!("CARGO_PKG_VERSION").as_bytes());
        put(file_stamp(&self.cfg.self_exe).as_bytes());
        put(self.machine.as_bytes());
        put(info.sha256.as_bytes());
        let (executor, version) = describe_choice(choice);
        put(format!("{executor} {version:?}").as_bytes());
        match choice {
            ExecutorChoice::QemuBinfmt { interpreter, .. } => {
                put(file_stamp(interpreter).as_bytes())
            }
            ExecutorChoice::QemuDirect(q) => put(file_stamp(&q.path).as_bytes()),
            _ => {}
        }
        let bin = binary.as_os_str().as_encoded_bytes();
        for a in prepared.sandbox.args().iter().chain(&prepared.argv) {
            let a = a.as_encoded_bytes();
            put(if a == bin { b"<binary>" } else { a });
        }
        put(rootfs.as_bytes());
        // A test reads its package's directory (testdata/): any change there runs it again.
        if cell.program.is_test() {
            let dir = match &cell.program.source {
                ProgramSource::Package(gp) => gp.dir.clone(),
                ProgramSource::Std(import) => cell.toolchain.goroot.join("src").join(import),
                ProgramSource::Dir(d) => d.clone(),
                _ => PathBuf::new(),
            };
            put(self
                .results
                .tree_stamp(&std::fs::canonicalize(&dir).unwrap_or(dir))?
                .as_bytes());
        }
        put(format!("{:?} {:?}", cell.program.expect, cell.settings).as_bytes());
        put(format!(
            "{:?} {:?} {} {} {:?} {}",
            self.cfg.run_timeout,
            self.run_limits(cell),
            self.cfg.reps,
            self.cfg.warmups,
            self.cfg.timing,
            self.cfg.recheck
        )
        .as_bytes());
        Some(format!("{:x}", h.finalize()))
    }

    /// The run step's memory and task limits: the cell's, else the run's; 0 is unlimited.
    fn run_limits(&self, cell: &Cell) -> StepLimits {
        let nonzero = |v: Option<u64>| v.filter(|&n| n > 0);
        StepLimits {
            memory: nonzero(cell.settings.run_memory.or(self.cfg.run_limits.memory)),
            pids: nonzero(cell.settings.run_pids.or(self.cfg.run_limits.pids)),
        }
    }

    pub(crate) fn prepare_run(
        &self,
        cell: &Cell,
        binary: &Path,
        info: &BinaryInfo,
        choice: &ExecutorChoice,
    ) -> Result<Prepared, Failure> {
        let prog_in = format!(
            "{IN_TOOLS}/{}",
            binary
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        let mut argv: Vec<OsString> = Vec::new();
        let limits = self.run_limits(cell);
        let mut sb = Sandbox::new(&self.cfg.bwrap)
            .limits(Limits::default())
            .resources(limits)
            .tmp_size(SCRATCH_BYTES);
        let mut interpreter_present = None;
        let mut root = None;
        if let ExecutorChoice::Wasmtime = choice {
            let sha = rec_sha(binary, info);
            let cwasm = wasm::precompiled_path(&self.cfg.cache_dir.join("wasm"), &sha);
            if cwasm.exists() {
                crate::prune::touch(&cwasm);
            } else {
                wasm::precompile(binary, &cwasm).map_err(|e| {
                    Failure::new(
                        Cause::EmulatorCrash,
                        format!("wasmtime could not compile the module: {e}"),
                    )
                })?;
            }
            sb = sb
                .host_system()
                .ro(&self.cfg.self_exe, format!("{IN_TOOLS}/crossmatrix"))
                .ro(&cwasm, format!("{IN_TOOLS}/module.cwasm"))
                .tmpfs_sized("/scratch", SCRATCH_BYTES)
                .chdir("/scratch");
            argv.push(format!("{IN_TOOLS}/crossmatrix").into());
            argv.push("__wasm-exec".into());
            argv.push("--timeout-ms".into());
            argv.push(
                cell.settings
                    .run_timeout
                    .unwrap_or(self.cfg.run_timeout)
                    .as_millis()
                    .to_string()
                    .into(),
            );
            if let Some(m) = limits.memory {
                // wasmtime's own limit (a clear `oom`), below the sandbox's.
                argv.push("--max-memory".into());
                argv.push(m.min(wasm::MAX_MEMORY_BYTES).to_string().into());
            }
            if let Some(src) = test_source(cell) {
                // Like Go's go_wasip1_wasm_exec: the guest sees the root as `/` and starts in
                // the package's directory.
                for (host, inside) in &src.binds {
                    sb = sb.ro(host, inside);
                }
                argv.push("--preopen".into());
                argv.push("/".into());
                argv.push("--env".into());
                argv.push(format!("PWD={}", src.dir.display()).into());
                argv.push("--env".into());
                argv.push("TMPDIR=/tmp".into());
            }
            argv.push(format!("{IN_TOOLS}/module.cwasm").into());
            argv.push("--".into());
            argv.push(cell.program.name.clone().into());
        } else {
            // The rootfs is the sandbox's root; the binary (and qemu) live beside it.
            match &cell.rootfs {
                RootfsSpec::Scratch => {}
                spec => {
                    let dir = match spec {
                        RootfsSpec::Dir(d) => d.clone(),
                        RootfsSpec::Image(_) => self.image_of(cell)?.root,
                        RootfsSpec::Glibc | RootfsSpec::Musl => {
                            let flavor = if *spec == RootfsSpec::Glibc {
                                RootfsFlavor::Glibc
                            } else {
                                RootfsFlavor::Musl
                            };
                            self.rootfs.get(&cell.target.goarch, flavor).map_err(|e| {
                                Failure::new(
                                    Cause::RootfsUnavailable,
                                    format!(
                                        "the {} rootfs for {} could not be assembled: {e}",
                                        spec.label(),
                                        cell.target.goarch
                                    ),
                                )
                            })?
                        }
                        RootfsSpec::Scratch => unreachable!("handled above"),
                    };
                    root = Some(dir.clone());
                    sb = sb.root_from(&dir).map_err(|e| {
                        Failure::new(
                            Cause::RootfsUnavailable,
                            format!("cannot read rootfs {}: {e}", dir.display()),
                        )
                    })?;
                    if let Some(interp) = &info.interpreter {
                        interpreter_present =
                            Some(dir.join(interp.trim_start_matches('/')).exists());
                    }
                }
            }
            if cell.rootfs == RootfsSpec::Scratch && info.interpreter.is_some() {
                // An empty root holds no loader.
                interpreter_present = Some(false);
            }
            // A program's /tmp is its root's, as in a container: none in `scratch` or in an
            // image without one, unless the config mounts a tmpfs there. Go tests always get
            // one (their TMPDIR: t.TempDir()), as `go test` would anywhere.
            let root_has_tmp = root.as_ref().is_some_and(|r| r.join("tmp").is_dir());
            if !cell.program.is_test() && !root_has_tmp {
                sb = sb.without_tmp();
            }
            for at in &cell.settings.run_tmpfs {
                if at == "/tmp" {
                    sb = sb.tmp_size(SCRATCH_BYTES);
                } else {
                    sb = sb.tmpfs_sized(at, SCRATCH_BYTES);
                }
            }
            sb = sb
                .ro(binary, &prog_in)
                .tmpfs_sized("/scratch", SCRATCH_BYTES)
                .chdir("/scratch")
                .env("PATH", "/usr/local/bin:/usr/bin:/bin");
            for (k, v) in &cell.settings.run_env {
                sb = sb.env(k, v);
            }
            if let Some(src) = test_source(cell) {
                // Tests run in their package's directory (a read-only view of the source:
                // they read testdata/ relative to it) with a writable TMPDIR.
                for (host, inside) in &src.binds {
                    sb = sb.ro(host, inside);
                }
                sb = sb.chdir(&src.dir).env("TMPDIR", "/tmp").env("HOME", "/tmp");
                for (k, v) in &src.env {
                    sb = sb.env(*k, v);
                }
            }
            if let ExecutorChoice::QemuDirect(q) = choice {
                sb = sb.ro(&q.path, format!("{IN_TOOLS}/qemu"));
                argv.push(format!("{IN_TOOLS}/qemu").into());
            }
            argv.push(prog_in.into());
        }
        match &cell.program.test {
            Some(spec) => argv.extend(
                crate::gotest::test_args(spec, self.test_timeout(cell))
                    .into_iter()
                    .map(OsString::from),
            ),
            None => argv.extend(cell.program.args.iter().map(OsString::from)),
        }
        Ok(Prepared {
            sandbox: sb,
            argv,
            interpreter_present,
            root,
        })
    }
}

/// The binary's file name: the program's name (`NAME.test` for a test cell), with `.wasm`
/// or `.exe` where the target wants it.
fn exe_name(cell: &Cell) -> String {
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

/// Where a test cell's tests run: the directories bound read-only (at their own paths; a
/// standard package's GOROOT at a path of its own, since a rootfs may hold `/usr`), the
/// package's directory inside, and the environment that goes with it.
pub(crate) struct TestSource {
    pub(crate) binds: Vec<(PathBuf, PathBuf)>,
    pub(crate) dir: PathBuf,
    pub(crate) env: Vec<(&'static str, String)>,
}

pub(crate) fn test_source(cell: &Cell) -> Option<TestSource> {
    cell.program.test.as_ref()?;
    match &cell.program.source {
        ProgramSource::Package(gp) => Some(TestSource {
            binds: gp.roots.iter().map(|r| (r.clone(), r.clone())).collect(),
            dir: gp.dir.clone(),
            env: vec![],
        }),
        ProgramSource::Std(import) => {
            // Each top-level entry of GOROOT at its real path: Debian's GOROOT is made of
            // relative symlinks (src -> ../../share/go-1.NN/src) that would dangle elsewhere.
            let inside = PathBuf::from(IN_GOROOT);
            let binds = std::fs::read_dir(&cell.toolchain.goroot)
                .map(|rd| {
                    rd.flatten()
                        .filter_map(|e| {
                            let real = std::fs::canonicalize(e.path()).ok()?;
                            Some((real, inside.join(e.file_name())))
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some(TestSource {
                binds,
                dir: inside.join("src").join(import),
                env: vec![("GOROOT", IN_GOROOT.to_string())],
            })
        }
        ProgramSource::Dir(d) => Some(TestSource {
            binds: vec![(d.clone(), d.clone())],
            dir: d.clone(),
            env: vec![],
        }),
        ProgramSource::File(_) | ProgramSource::Probe | ProgramSource::Pattern { .. } => None,
    }
}

/// How a cell's verification run is captured: its stdin, and stderr merged into stdout when
/// the expectation compares both as written (Go's `test/` convention).
fn capture(cell: &Cell, input: Option<Vec<u8>>) -> CaptureOptions {
    if cell.program.is_test() {
        // Go's test events come from stdout and stderr as written, and may be long.
        return CaptureOptions {
            input,
            merge_stderr: true,
            caps: crate::process::Caps::TOOL,
        };
    }
    CaptureOptions {
        input,
        merge_stderr: cell.program.expect.output == crossmatrix_matrix::OutputStream::Combined,
        ..CaptureOptions::default()
    }
}

/// A failed build of a module's package that failed for its dependencies (see
/// [`crate::modfail`]).
fn module_failure(cell: &Cell, log: &str) -> Option<Failure> {
    let ProgramSource::Package(gp) = &cell.program.source else {
        return None;
    };
    let go = cell.toolchain.goroot.join("bin/go");
    let requires = crossmatrix_project::module::read_module(&gp.module.gomod, &go)
        .map(|m| m.requires)
        .unwrap_or_default();
    crate::modfail::classify_module_failure(log, gp, &requires)
}

/// What the verification run learns besides its record: the key of its inputs, an earlier
/// passing result it may reuse (record, when measured), a test cell's tests.
#[derive(Default)]
struct RunOuts {
    result_key: Option<String>,
    reused: Option<(CellRecord, String)>,
    tests: Option<crossmatrix_results::TestsRecord>,
}

/// How a cell's source reaches `go build`.
struct BuildSource {
    /// (host path, path in the sandbox), bound read-only.
    binds: Vec<(PathBuf, PathBuf)>,
    /// Where `go build` runs.
    chdir: PathBuf,
    /// What it builds there: `.` or `./FILE.go`.
    target: String,
    env: Vec<(&'static str, String)>,
    key: KeySource,
}

/// What the build cache key hashes as the source.
enum KeySource {
    /// A standard-library package: the toolchain (already in the key) is its source.
    Std(String),
    /// The files of a directory (GOPATH-style source, single files, the probe).
    Tree(PathBuf, SourceScope),
    /// The files `go list -deps` says the package's build reads.
    Package,
}

pub(crate) struct Prepared {
    sandbox: Sandbox,
    argv: Vec<OsString>,
    interpreter_present: Option<bool>,
    /// The rootfs the sandbox's root is made of, if any.
    root: Option<PathBuf>,
}

impl Prepared {
    pub(crate) fn command(&self) -> crate::process::Spawn {
        self.sandbox.command(&self.argv)
    }
}

fn rec_sha(binary: &Path, info: &BinaryInfo) -> String {
    if !info.sha256.is_empty() {
        return info.sha256.clone();
    }
    let mut h = Sha256::new();
    h.update(binary.to_string_lossy().as_bytes());
    format!("{:x}", h.finalize())
}

/// What the classifier needs to know about a run step.
pub(crate) fn run_context(
    cell: &Cell,
    info: &BinaryInfo,
    prepared: &Prepared,
    executor: &str,
) -> RunContext {
    RunContext {
        executor: executor.to_owned(),
        interpreter: info.interpreter.clone(),
        interpreter_present: prepared.interpreter_present,
        rootfs: cell.rootfs.label(),
        toolchain_version: cell.toolchain.version.clone(),
        goos: cell.target.goos.clone(),
        goarch: cell.target.goarch.clone(),
        cgo: cell.cgo,
        probe: cell.program.is_probe(),
        oom_kills: prepared.sandbox.oom_kills(),
        traps: crate::traps::TrapContext::for_cell(cell, prepared.root.as_deref()),
    }
}

pub(crate) fn describe_choice(choice: &ExecutorChoice) -> (String, Option<String>) {
    match choice {
        ExecutorChoice::Native => ("native".into(), None),
        ExecutorChoice::QemuBinfmt { qemu_version, .. } => {
            ("qemu-binfmt".into(), qemu_version.clone())
        }
        ExecutorChoice::QemuDirect(q) => ("qemu-direct".into(), Some(q.version.clone())),
        ExecutorChoice::Wasmtime => (
            "wasmtime".into(),
            Some(wasm::wasmtime_version().to_string()),
        ),
        ExecutorChoice::None { .. } => ("none".into(), None),
    }
}

/// `rec` (built and inspected in this run) finished with the run and startup figures of `prev`,
/// an earlier run of the same binary with the same inputs, measured at `measured_at`.
fn reuse(mut rec: CellRecord, prev: CellRecord, measured_at: String) -> CellRecord {
    rec.run = prev.run;
    rec.startup = prev.startup;
    rec.status = prev.status;
    rec.cause = prev.cause;
    rec.hint = prev.hint;
    rec.tests = prev.tests;
    rec.reused_from = Some(measured_at);
    rec
}

pub(crate) fn fill_run_record(run: &mut RunRecord, f: &Finished) {
    run.exit_code = f.code;
    run.signal = f.signal.map(signal_name);
    run.duration_ms = f.elapsed.as_millis() as u64;
    run.stdout_tail = f.stdout.last_lines(20);
    run.stderr_tail = f.stderr.last_lines(20);
}

fn tail_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Sets the cell's status and cause, copying the cause onto the step that failed.
/// A failed step's outcome: a failure the config expects on this cell (`expect_fail`, same
/// cause) is recorded with its cause and reason, but the cell passes.
fn expected_failure(cell: &Cell, failure: Option<Failure>) -> (CellStatus, Option<Failure>) {
    match (&cell.settings.expect_fail, failure) {
        (Some(e), Some(f)) if e.cause == f.cause => {
            let hint = match &e.reason {
                Some(r) => format!("expected failure ({r}): {}", f.hint),
                None => format!("expected failure: {}", f.hint),
            };
            (CellStatus::Pass, Some(Failure::new(f.cause, hint)))
        }
        (_, failure) => (CellStatus::Fail, failure),
    }
}

fn finish(mut rec: CellRecord, status: CellStatus, failure: Option<Failure>) -> CellRecord {
    rec.status = status;
    if let Some(f) = failure {
        if let Some(run) = rec.run.as_mut().filter(|r| r.status == StepStatus::Fail) {
            run.cause = Some(f.cause);
            run.hint = Some(f.hint.clone());
        } else if rec.build.status == StepStatus::Fail {
            rec.build.cause = Some(f.cause);
            rec.build.hint = Some(f.hint.clone());
        }
        rec.cause = Some(f.cause);
        rec.hint = Some(f.hint);
    }
    rec
}

fn write_probe(cache_dir: &Path) -> Result<PathBuf, RunnerError> {
    let mut h = Sha256::new();
    for (name, body) in PROBE_FILES {
        h.update(name.as_bytes());
        h.update(body.as_bytes());
    }
    let hash = format!("{:x}", h.finalize());
    let dir = cache_dir.join("probe").join(&hash[..16]);
    if dir.join("main.go").exists() {
        return Ok(dir);
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RunnerError::Io { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    for (name, body) in PROBE_FILES {
        let p = dir.join(name);
        std::fs::write(&p, body).map_err(io(&p))?;
    }
    Ok(dir)
}

/// A build error on a cgo=0 cell of a package whose own files use cgo is most likely that: the
/// files with `import "C"` are left out and what they define is missing. The hint says so.
fn with_cgo_note(cell: &Cell, mut fail: Failure) -> Failure {
    if cell.cgo || fail.cause != Cause::BuildError {
        return fail;
    }
    let dir = match &cell.program.source {
        ProgramSource::Package(gp) => gp.dir.clone(),
        ProgramSource::Dir(d) => d.clone(),
        _ => return fail,
    };
    let mut cgo_files: Vec<String> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let go = name.ends_with(".go") && !name.ends_with("_test.go");
            let text = if go {
                std::fs::read_to_string(e.path()).ok()?
            } else {
                return None;
            };
            // The planner's own reading of a file's imports (import blocks, comments).
            let header = crossmatrix_project::constraint::Header::parse(&text);
            crossmatrix_project::constraint::imports_c(header.rest).then_some(name)
        })
        .collect();
    if !cgo_files.is_empty() {
        cgo_files.sort();
        fail.hint.push_str(&format!(
            " (left out with cgo=0 because they use cgo: {}; this package needs cgo=1, or exclude its cgo=0 cells)",
            cgo_files.join(", ")
        ));
    }
    fail
}
