//! One cell from source to record, step by step. This module is the pipeline; each step is a
//! child module, called in this order:
//!
//! 1. [`build`]: the C compiler for cgo cells, then `go build` (or `go test -c`) in the build
//!    sandbox, reused from [`crate::cache::build`] when every input is unchanged
//!    ([`build_source`], [`build_key`], [`build_deps`]; the go environment is [`crate::build_env`]).
//! 2. [`inspect`]: what the binary is (format, arch, linkage, loader, Go version, size).
//! 3. [`prepare`]: the run sandbox (root, binds, limits, executor: native, qemu, wasmtime).
//! 4. [`reuse`]: an earlier passing result with the same inputs, when there is one.
//! 5. [`run`] (a program's verification run) or [`test`] (a test binary's tests, made into
//!    records through the toolchain's test2json); [`recheck`] runs a failure under qemu again
//!    under a second executor.
//! 6. [`time`]: the timed startup runs, later, when nothing competes for the cores.
//! 7. [`count`]: with `--metric instructions|both`, the counted runs (the program's
//!    instructions, each benchmark's instructions per op) under the counting qemu.
//!
//! Every failure is named by [`crate::diagnose`]. Each step returns its results as values.

pub mod build;
pub mod build_deps;
pub mod build_key;
pub mod build_source;
pub mod count;
pub mod inspect;
pub mod prepare;
pub mod recheck;
pub mod reuse;
pub mod run;
pub mod run_record;
pub mod shared;
pub(crate) mod slowdown;
pub mod test;
pub mod time;

#[cfg(test)]
mod step_tests;

use crate::diagnose::Failure;
use crate::inspect::{BinaryInfo, inspect_binary};
use crossmatrix_matrix::{Cause, Cell, Libc, RootfsSpec};
use crossmatrix_results::{CellRecord, CellStatus, RunRecord, StepStatus};
use crossmatrix_sandbox::Abort;
use crossmatrix_toolchains::cc::pick_c_compiler;
use crossmatrix_toolchains::executor::ExecutorChoice;
use shared::Shared;
use std::path::{Path, PathBuf};
use time::TimingJob;

/// What the pipeline gives back for one cell.
pub(crate) struct CellOutcome {
    pub(crate) record: CellRecord,
    /// The timed runs still to do, for a program that passed its verification run.
    pub(crate) timing: Option<TimingJob>,
    /// The key of the run's inputs, to keep a passing result under.
    pub(crate) result_key: Option<String>,
}

fn done(record: CellRecord) -> CellOutcome {
    CellOutcome {
        record,
        timing: None,
        result_key: None,
    }
}

/// Runs the steps of one cell, its children under `abort`.
pub(crate) fn execute(
    sh: &Shared,
    cell: &Cell,
    build_jobs: Option<usize>,
    abort: &Abort,
) -> CellOutcome {
    let mut rec = CellRecord::for_cell(cell);
    let (binary, info) = match build_and_inspect(sh, cell, &mut rec, build_jobs, abort) {
        Ok(built) => built,
        Err((status, failure)) => return done(finish(rec, status, failure)),
    };
    // The image a cell runs in is part of its record, whatever happens next.
    if let Err(f) = record_image(sh, cell, &mut rec) {
        return done(finish(rec, CellStatus::Fail, Some(f)));
    }
    let mut outcome = run_and_judge(sh, cell, rec, &binary, &info, abort);
    // Step 7: counted runs, when the run asks for them (not for a reused result: it has its
    // counts, the key includes the metric).
    if outcome.record.reused_from.is_none() {
        count::count_cell(sh, cell, &binary, &info, &mut outcome.record, abort);
    }
    outcome
}

/// Steps 1 and 2: the C compiler, the build, the binary's inspection and Go version. A cell
/// that stops here ends with the status and failure returned.
fn build_and_inspect(
    sh: &Shared,
    cell: &Cell,
    rec: &mut CellRecord,
    build_jobs: Option<usize>,
    abort: &Abort,
) -> Result<(PathBuf, BinaryInfo), (CellStatus, Option<Failure>)> {
    if let Some(skip) = &cell.skip {
        rec.build.status = StepStatus::Skipped;
        return Err((
            CellStatus::Skipped,
            Some(Failure::new(skip.cause, skip.reason.clone())),
        ));
    }
    let cc = if cell.cgo {
        match pick_c_compiler(&cell.target.goarch, cell.libc.unwrap_or(Libc::Gnu)) {
            Ok(cc) => Some(build::with_prebuilt_musl(sh, cc, &cell.target.goarch)),
            Err(e) => {
                rec.build.status = StepStatus::Skipped;
                return Err((
                    CellStatus::Skipped,
                    Some(Failure::new(Cause::NoCCompiler, e.hint.clone())),
                ));
            }
        }
    } else {
        None
    };
    rec.build.cc = cc.as_ref().map(|c| format!("{} ({})", c.cc, c.why));
    let binary = build::build(sh, cell, cc.as_ref(), &mut rec.build, build_jobs, abort)
        // Known breakage may be a build error (e.g. an API the target lacks).
        .map_err(|f| expected_failure(cell, Some(f)))?;
    let info = inspect_binary(&binary).map_err(|e| {
        rec.build.status = StepStatus::Fail;
        (
            CellStatus::Fail,
            Some(Failure::new(
                Cause::BuildError,
                format!("the built binary cannot be read: {e}"),
            )),
        )
    })?;
    rec.binary = Some(info.to_record(&binary));
    if let Some(v) = &info.go_version {
        // `go1.27.4-X:mapsplitgroup`, `go1.24.4 X:rangefunc`: a GOEXPERIMENT build of the
        // same toolchain.
        let base = crossmatrix_toolchains::version::without_experiments(v);
        if base != cell.toolchain.version {
            return Err((
                CellStatus::Fail,
                Some(Failure::new(
                    Cause::GoVersionMismatch,
                    format!(
                        "the binary embeds {v} but the toolchain is {}: GOROOT/go mismatch",
                        cell.toolchain.version
                    ),
                )),
            ));
        }
    }
    Ok((binary, info))
}

/// An image root's identity in the record (digest, id, platform).
fn record_image(sh: &Shared, cell: &Cell, rec: &mut CellRecord) -> Result<(), Failure> {
    if !matches!(cell.rootfs, RootfsSpec::Image(_)) {
        return Ok(());
    }
    let img = sh.image_of(cell)?;
    let p = &img.platform;
    rec.image = Some(crossmatrix_results::ImageRecord {
        source: cell.rootfs.label(),
        digest: img.digest,
        image_id: img.image_id,
        reference: img.reference,
        platform: match &p.variant {
            Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
            None => format!("{}/{}", p.os, p.architecture),
        },
    });
    Ok(())
}

/// Steps 3 to 5: the executor, the run sandbox, a reused result or the run (the tests), a
/// recheck, and the verdict against what the cell expects.
fn run_and_judge(
    sh: &Shared,
    cell: &Cell,
    mut rec: CellRecord,
    binary: &Path,
    info: &BinaryInfo,
    abort: &Abort,
) -> CellOutcome {
    let choice = sh.host.pick_executor_under(
        cell.emulator.as_deref(),
        &cell.target.goos,
        &cell.target.goarch,
        Some(&info.elf_header),
        sh.cfg.executor,
    );
    let cpu_model = prepare::cpu_model(cell);
    let choice = sh.host.executor_for_cpu_model(
        choice,
        &cell.target.goos,
        &cell.target.goarch,
        cpu_model,
        &info.elf_header,
    );
    if let ExecutorChoice::None { hint } = &choice {
        return done(finish(
            rec,
            CellStatus::Built,
            Some(Failure::new(Cause::NoExecutor, hint.clone())),
        ));
    }
    let (executor, executor_version) = run_record::describe_choice(&choice);
    let mut run = RunRecord::started(executor, executor_version);
    run.cpu = prepare::effective_cpu_model(cell, &choice);
    let (mut fail, timing, result_key) = match prepare::prepare_run(sh, cell, binary, info, &choice)
    {
        Err(f) => (Some(f), None, None),
        Ok(prepared) => {
            run.timeout_scale = Some(prepared.timeout_scale).filter(|f| *f != 1.0);
            let key = reuse::result_key(sh, cell, binary, info, &choice, &prepared);
            if let Some((prev, measured_at)) = key.as_deref().and_then(|k| sh.results.load(k)) {
                return CellOutcome {
                    record: reuse::reuse(rec, prev, measured_at),
                    timing: None,
                    result_key: key,
                };
            }
            // `--retries`: a run that failed as a whole (a program, or a test binary none of
            // whose tests failed: those are retried alone, in `run_tests`) runs again.
            let retries = sh.cfg.retries.or(cell.settings.retries).unwrap_or(0);
            let mut this = prepared.clone();
            let mut attempt = 1;
            loop {
                let (fail, job, tests) = match &cell.program.test {
                    Some(spec) => {
                        let (fail, tests) =
                            test::run_tests(sh, cell, spec, info, &choice, &this, &mut run, abort);
                        (fail, None, Some(tests))
                    }
                    None => {
                        let (fail, job) =
                            run::verify(sh, cell, info, &this, &mut run, key.clone(), abort);
                        (fail, job, None)
                    }
                };
                let again = attempt <= retries
                    && !abort.is_aborted()
                    && fail.as_ref().is_some_and(|f| !f.cause.fails_every_run())
                    && tests.as_ref().is_none_or(|t| t.failed().next().is_none());
                if !again {
                    rec.tests = tests;
                    // Timed runs are plain runs, whichever attempt passed.
                    let job = job.map(|mut j| {
                        j.sandbox = prepared.sandbox.clone();
                        j
                    });
                    break (fail, job, key);
                }
                run = run_record::next_attempt(run, fail.as_ref());
                attempt += 1;
                this = prepared.attempt(attempt);
            }
        }
    };
    // A known defect of the qemu that ran (see `diagnose::known_defects`).
    crate::diagnose::known_defects::apply(&run, rec.tests.as_mut(), &mut fail);
    // A program's failure under qemu, once more under a second executor (a test cell
    // rechecks its failed tests itself).
    if let Some(first) = fail
        .as_ref()
        .filter(|_| sh.cfg.recheck && rec.tests.is_none())
    {
        if let Some((second, verdict)) =
            recheck::recheck(sh, cell, binary, info, &choice, first, abort)
        {
            run.recheck = Some(second);
            // (A known defect stays the cause: the recheck is its confirmation.)
            let known = fail
                .as_ref()
                .is_some_and(|f| matches!(f.cause, Cause::EmulatorBug | Cause::EmulatorLimit));
            if verdict.is_some() && !known {
                fail = verdict;
            }
        }
    }
    rec.run = Some(run);
    let record = match (fail, &cell.settings.expect_fail) {
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
    };
    CellOutcome {
        record,
        timing,
        result_key,
    }
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
