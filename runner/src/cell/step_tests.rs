//! The steps of a cell with a fake child runner: what each step starts, and what it makes of
//! how the child ended — no Go, bubblewrap or qemu needed (the build's "binary" is a copy of
//! a host ELF file, which the inspect step reads for real: `ldconfig`, static, or `true`,
//! dynamic).

use crate::cache::build::BuildCache;
use crate::cache::result::ResultCache;
use crate::cell::shared::{Children, RunnerConfig, Shared};
use crate::cell::time::TimingMode;
use crate::cell::{build, execute};
use crossmatrix_matrix::{
    Cause, Cell, Expectation, Program, ProgramSource, RootfsSpec, Target, Toolchain,
};
use crossmatrix_results::{CellRecord, CellStatus, StepStatus};
use crossmatrix_sandbox::Abort;
use crossmatrix_sandbox::limits::StepLimits;
use crossmatrix_sandbox::process::{CaptureOptions, ChildEnd, Finished, Spawn};
use crossmatrix_toolchains::executor::{ExecutorPreference, Host};
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the fake answers to the next child, in order.
enum Reply {
    /// `go build` that succeeds: copies this host ELF file where the build's output goes.
    Built(&'static str),
    /// Any child that ends this way with this output.
    Ends(ChildEnd, &'static str),
}

#[derive(Clone, Default)]
struct Fake {
    replies: Arc<Mutex<VecDeque<Reply>>>,
    /// The command line of every child started, in order.
    seen: Arc<Mutex<Vec<Vec<String>>>>,
    /// Where a successful build puts its binary.
    out: Arc<Mutex<Option<PathBuf>>>,
}

impl Fake {
    fn answering(replies: Vec<Reply>) -> Fake {
        Fake {
            replies: Arc::new(Mutex::new(replies.into())),
            ..Fake::default()
        }
    }

    fn seen(&self) -> Vec<Vec<String>> {
        self.seen.lock().unwrap().clone()
    }
}

impl Children for Fake {
    fn run(
        &self,
        cmd: Spawn,
        _timeout: Duration,
        _abort: &Abort,
        _opts: &CaptureOptions,
    ) -> std::io::Result<Finished> {
        let argv: Vec<String> = std::iter::once(cmd.command().get_program())
            .chain(cmd.command().get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        self.seen.lock().unwrap().push(argv);
        let reply = self.replies.lock().unwrap().pop_front();
        Ok(match reply.expect("a child the test did not expect") {
            Reply::Built(elf) => {
                let out = self.out.lock().unwrap().clone().expect("an output path");
                std::fs::create_dir_all(out.parent().unwrap())?;
                std::fs::copy(elf, &out)?;
                Finished::new(ChildEnd::Exited(0), "", "")
            }
            Reply::Ends(end, out) => Finished::new(end, out, ""),
        })
    }
}

/// Shared state over a temp dir, the fake, and a host that runs amd64 natively.
fn shared(dir: &Path, fake: &Fake) -> Shared {
    let cache = dir.join("cache");
    let cfg = RunnerConfig {
        out_dir: dir.join("out"),
        cache_dir: cache.clone(),
        bwrap: "/usr/bin/bwrap".into(),
        self_exe: "/usr/bin/crossmatrix".into(),
        reps: 3,
        warmups: 1,
        timing: TimingMode::Quiet,
        build_timeout: Duration::from_secs(60),
        run_timeout: Duration::from_secs(10),
        executor: ExecutorPreference::Auto,
        run_limits: StepLimits::default(),
        emulators: Vec::new(),
        recheck: false,
        retries: None,
        timeout_scale: None,
        reuse: true,
        modcache: cache.join("gomod"),
        test_timeout: None,
        metric: crate::Metric::Time,
        counter: Err("the run does not count".into()),
        count_reps: 3,
    };
    Shared {
        children: Box::new(fake.clone()),
        rootfs: crossmatrix_toolchains::rootfs::RootfsStore::new(&cache.join("rootfs")),
        host_root: std::sync::OnceLock::new(),
        slowdowns: Default::default(),
        probe_dir: dir.join("probe"),
        build_cache: BuildCache::new(cache.join("bin")),
        results: ResultCache::new(cache.join("cells"), true),
        machine: "test machine".into(),
        build_env: crate::build_env::build_env(1 << 30, 1),
        images: crossmatrix_toolchains::ImageStore::new(&cache),
        test2json: crate::test2json::Test2Json::new(&cache, &cfg.bwrap, "amd64"),
        host: Host {
            binfmt: Default::default(),
            qemus: BTreeMap::new(),
            host_goarch: "amd64".into(),
        },
        cfg,
    }
}

/// A program in its own directory, built for linux/`goarch` on a scratch root.
fn cell(dir: &Path, goarch: &str, expect: Expectation) -> Cell {
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("main.go"), "package main\nfunc main() {}\n").unwrap();
    let mut p = Program::probe();
    p.name = "hello".into();
    p.source = ProgramSource::Dir(src);
    p.expect = expect;
    let tc = Arc::new(Toolchain {
        name: "go1.27".into(),
        version: "go1.27.4".into(),
        goroot: dir.join("goroot"),
        ports: vec![],
    });
    Cell::new(
        tc,
        Target::linux(goarch),
        false,
        None,
        RootfsSpec::Scratch,
        Arc::new(p),
    )
}

/// A static and a dynamic ELF of the host (Debian's `ldconfig` is static-pie).
const STATIC: &str = "/sbin/ldconfig";
const DYNAMIC: &str = "/bin/true";

fn skip_without_an_elf() -> bool {
    let missing = [STATIC, DYNAMIC].iter().find(|p| !Path::new(p).is_file());
    if let Some(p) = missing {
        eprintln!("SKIPPED: {p} is not here to stand in for a built binary");
    }
    missing.is_some()
}

#[test]
fn a_build_runs_go_build_in_the_sandbox_and_is_reused_with_unchanged_inputs() {
    if skip_without_an_elf() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::answering(vec![Reply::Built(STATIC)]);
    let sh = shared(dir.path(), &fake);
    let c = cell(dir.path(), "amd64", Expectation::default());
    *fake.out.lock().unwrap() = Some(sh.binary_path(&c));
    let mut rec = CellRecord::for_cell(&c).build;
    let binary = build::build(&sh, &c, None, &mut rec, Some(1), &Abort::default()).unwrap();
    assert_eq!(binary, sh.binary_path(&c));
    assert_eq!((rec.status, rec.cached), (StepStatus::Ok, false));
    let argv = &fake.seen()[0];
    assert_eq!(argv[0], "/usr/bin/bwrap");
    let go = argv
        .iter()
        .position(|a| a.ends_with("goroot/bin/go"))
        .unwrap();
    assert_eq!(argv[go + 1..go + 5], ["build", "-p=1", "-o", "/out/hello"]);
    assert!(
        argv.windows(2).any(|w| w == ["--setenv", "CGO_ENABLED"]),
        "{argv:?}"
    );

    // Same inputs: the binary comes from the build cache, no child runs.
    let mut again = CellRecord::for_cell(&c).build;
    build::build(&sh, &c, None, &mut again, Some(1), &Abort::default()).unwrap();
    assert!(again.cached);
    assert_eq!(fake.seen().len(), 1);
}

#[test]
fn a_failed_build_is_classified_from_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::answering(vec![Reply::Ends(
        ChildEnd::Exited(1),
        "# hello\n./main.go:2:14: undefined: missing\n",
    )]);
    let sh = shared(dir.path(), &fake);
    let c = cell(dir.path(), "amd64", Expectation::default());
    let mut rec = CellRecord::for_cell(&c).build;
    let fail = build::build(&sh, &c, None, &mut rec, None, &Abort::default()).unwrap_err();
    assert_eq!(fail.cause, Cause::BuildError);
    assert!(fail.hint.contains("undefined: missing"), "{}", fail.hint);
    assert_eq!(rec.status, StepStatus::Fail);
    assert!(rec.log_tail.contains("undefined: missing"));
}

#[test]
fn a_build_past_its_deadline_is_a_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::answering(vec![Reply::Ends(
        ChildEnd::TimedOut {
            code: None,
            signal: Some(15),
        },
        "",
    )]);
    let sh = shared(dir.path(), &fake);
    let c = cell(dir.path(), "amd64", Expectation::default());
    let fail = build::build(
        &sh,
        &c,
        None,
        &mut CellRecord::for_cell(&c).build,
        None,
        &Abort::default(),
    )
    .unwrap_err();
    assert_eq!(fail.cause, Cause::Timeout);
    assert!(fail.hint.contains("--build-timeout"), "{}", fail.hint);
}

#[test]
fn the_pipeline_builds_inspects_and_verifies_then_leaves_the_timing_for_later() {
    if skip_without_an_elf() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::answering(vec![
        Reply::Built(STATIC),
        Reply::Ends(ChildEnd::Exited(0), "hello\n"),
    ]);
    let sh = shared(dir.path(), &fake);
    let expect = Expectation {
        stdout: Some("hello\n".into()),
        ..Expectation::default()
    };
    let c = cell(dir.path(), "amd64", expect);
    *fake.out.lock().unwrap() = Some(sh.binary_path(&c));
    let out = execute(&sh, &c, None, &Abort::default());
    let rec = &out.record;
    assert_eq!(
        rec.status,
        CellStatus::Pass,
        "{:?} {:?}",
        rec.cause,
        rec.hint
    );
    let run = rec.run.as_ref().unwrap();
    assert_eq!((run.executor.as_str(), run.exit_code), ("native", Some(0)));
    assert!(rec.binary.is_some());
    // The verification run: the binary bound into the sandbox and run from there.
    let argv = &fake.seen()[1];
    assert_eq!(argv[0], "/usr/bin/bwrap");
    assert_eq!(argv.last().unwrap(), "/.crossmatrix/hello");
    // Passing: the timed runs are queued, keyed for reuse.
    let job = out.timing.expect("a timing job");
    assert_eq!((job.reps, job.warmups), (3, 1));
    assert!(out.result_key.is_some());
}

#[test]
fn a_wrong_exit_code_fails_the_run_step_and_nothing_is_timed() {
    if skip_without_an_elf() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::answering(vec![
        Reply::Built(STATIC),
        Reply::Ends(ChildEnd::Exited(3), "partial output\n"),
    ]);
    let sh = shared(dir.path(), &fake);
    let c = cell(dir.path(), "amd64", Expectation::default());
    *fake.out.lock().unwrap() = Some(sh.binary_path(&c));
    let out = execute(&sh, &c, None, &Abort::default());
    assert_eq!(out.record.status, CellStatus::Fail);
    assert_eq!(out.record.cause, Some(Cause::WrongExitCode));
    let run = out.record.run.as_ref().unwrap();
    assert_eq!(run.status, StepStatus::Fail);
    assert_eq!(run.cause, Some(Cause::WrongExitCode));
    assert!(out.timing.is_none());
}

#[test]
fn a_foreign_arch_without_an_emulator_is_built_but_not_run() {
    if skip_without_an_elf() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::answering(vec![Reply::Built(STATIC)]);
    let sh = shared(dir.path(), &fake);
    let c = cell(dir.path(), "riscv64", Expectation::default());
    *fake.out.lock().unwrap() = Some(sh.binary_path(&c));
    let out = execute(&sh, &c, None, &Abort::default());
    assert_eq!(out.record.status, CellStatus::Built);
    assert_eq!(out.record.cause, Some(Cause::NoExecutor));
    // Only the build ran.
    assert_eq!(fake.seen().len(), 1);
}

#[test]
fn a_dynamic_binary_on_an_empty_root_is_a_missing_loader_found_before_running() {
    if skip_without_an_elf() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::answering(vec![
        Reply::Built(DYNAMIC),
        Reply::Ends(ChildEnd::Exited(1), ""),
    ]);
    let sh = shared(dir.path(), &fake);
    let c = cell(dir.path(), "amd64", Expectation::default());
    *fake.out.lock().unwrap() = Some(sh.binary_path(&c));
    let out = execute(&sh, &c, None, &Abort::default());
    assert_eq!(out.record.cause, Some(Cause::MissingInterpreter));
    let hint = out.record.hint.unwrap();
    assert!(
        hint.contains("ld-linux") && hint.contains("scratch"),
        "{hint}"
    );
}

#[test]
fn a_skipped_cell_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::answering(vec![]);
    let sh = shared(dir.path(), &fake);
    let mut c = cell(dir.path(), "amd64", Expectation::default());
    c.skip = Some(crossmatrix_matrix::Skip {
        cause: Cause::ExcludedByConstraints,
        reason: "//go:build !linux".into(),
    });
    let out = execute(&sh, &c, None, &Abort::default());
    assert_eq!(out.record.status, CellStatus::Skipped);
    assert_eq!(out.record.build.status, StepStatus::Skipped);
    assert!(fake.seen().is_empty());
}
