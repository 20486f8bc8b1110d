//! The run step of a test cell: the package's test binary in the run sandbox, its output made
//! into Go's test events by the toolchain's own test2json, a record of every test, and the
//! verdict — with `--recheck`, the failed tests again under a second executor
//! ([`crate::cell::recheck`]).

use crate::cell::prepare::Prepared;
use crate::cell::run_record::{fill_run_record, run_context};
use crate::cell::shared::Shared;
use crate::diagnose::{Failure, diagnose_run, test_verdict as verdict};
use crate::gotest::{summarize, to_events};
use crate::inspect::BinaryInfo;
use crate::test2json::plain_output;
use crossmatrix_matrix::{Cause, Cell, Expectation, ProgramSource, TestSpec};
use crossmatrix_results::{
    RunRecord, SourceWrite, StepStatus, TestStatus, TestsRecord, WriteChange,
};
use crossmatrix_sandbox::Abort;
use crossmatrix_sandbox::capture::Caps;
use crossmatrix_sandbox::process::CaptureOptions;
use crossmatrix_sandbox::scratch_copy::{Change, ScratchCopy};
use crossmatrix_toolchains::executor::ExecutorChoice;

/// Runs the test binary prepared in `prepared` and makes its record.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_tests(
    sh: &Shared,
    cell: &Cell,
    spec: &TestSpec,
    info: &BinaryInfo,
    choice: &ExecutorChoice,
    prepared: &Prepared,
    run: &mut RunRecord,
    abort: &Abort,
) -> (Option<Failure>, TestsRecord) {
    let timeout = prepared.scaled(sh.test_timeout(cell));
    let package = import_path(cell);
    let opts = CaptureOptions {
        merge_stderr: true,
        caps: Caps::TOOL,
        ..CaptureOptions::default()
    };
    let (command, copy) = prepared.command_writable();
    let f = match sh.children.run(command, timeout, abort, &opts) {
        Ok(f) => f,
        Err(e) => {
            let fail = Failure::new(Cause::SandboxError, format!("cannot start bwrap: {e}"));
            return (Some(fail), empty(&package));
        }
    };
    let source_writes = copy.map(|c| source_writes(&c)).unwrap_or_default();
    fill_run_record(run, &f);
    // The marks test2json reads (framing, Go 1.27's error marks and escapes) are noise in
    // a record.
    run.stdout_tail = plain_output(&run.stdout_tail);
    let raw = f.stdout.text();
    let events = match sh
        .test2json
        .tool(&cell.toolchain, abort)
        .and_then(|tool| to_events(&tool, &package, raw.as_bytes(), abort))
    {
        Ok(ev) => ev,
        Err(fail) => return (Some(fail), empty(&package)),
    };
    let mut record = summarize(&package, &events, &f);
    record.source_writes = source_writes;
    let ran_tests = events.iter().any(|e| e.test.is_some());
    let ctx = run_context(cell, info, prepared, &run.executor);
    // Each failed test through the same recognition as a program: what it ran into in the
    // root it ran in.
    for case in record.cases.iter_mut() {
        if case.status == TestStatus::Fail {
            case.cause = crate::diagnose::traps::trap_in(&case.output, &ctx).map(|f| f.cause);
        }
    }
    // A binary that never got to its tests failed for the reasons programs fail: a missing
    // loader, an emulator crash, a signal, a wasm trap.
    let mut fail = if !ran_tests && f.code() != Some(0) {
        diagnose_run(&f, &ctx, &Expectation::default()).or_else(|| verdict(&record, &f, timeout))
    } else {
        verdict(&record, &f, timeout)
    };
    // `--retries`: failed tests (not a panic or a timeout, which end the binary) alone again.
    let retries = sh.cfg.retries.or(cell.settings.retries).unwrap_or(0);
    if retries > 0
        && fail
            .as_ref()
            .is_some_and(|x| !matches!(x.cause, Cause::TestPanic | Cause::Timeout))
        && record.failed().next().is_some()
    {
        retry_failed(sh, cell, spec, info, choice, retries, &mut record, abort);
        // The verdict of what still fails; the flaky tests said beside it.
        fail = if record.failed().next().is_none() {
            None
        } else {
            verdict(&record, &f, timeout)
        };
        if let Some(x) = fail.as_mut() {
            let flaky: Vec<&str> = record.flaky().map(|c| c.name.as_str()).collect();
            if !flaky.is_empty() {
                x.hint.push_str(&format!(
                    "; flaky (passed on a retry): {}",
                    flaky.join(", ")
                ));
            }
        }
    }
    let fail = match fail {
        Some(first) if sh.cfg.recheck && first.cause == Cause::TestFailure => {
            crate::cell::recheck::recheck_tests(
                sh,
                cell,
                spec,
                info,
                choice,
                &mut record,
                first,
                abort,
            )
        }
        other => other,
    };
    if fail.is_none() {
        run.status = StepStatus::Ok;
    }
    (fail, record)
}

/// The import path a test cell's record names.
pub(crate) fn import_path(cell: &Cell) -> String {
    match &cell.program.source {
        ProgramSource::Package(gp) => gp.import_path.clone(),
        ProgramSource::Std(p) => p.clone(),
        _ => cell.program.name.clone(),
    }
}

pub(crate) fn empty(package: &str) -> TestsRecord {
    TestsRecord {
        package: package.to_string(),
        ..TestsRecord::default()
    }
}

/// What the tests changed in their package directory's copy, for the record.
fn source_writes(copy: &ScratchCopy) -> Vec<SourceWrite> {
    copy.changes()
        .into_iter()
        .map(|(path, change)| SourceWrite {
            path: path.to_string_lossy().into_owned(),
            change: match change {
                Change::Created => WriteChange::Created,
                Change::Modified => WriteChange::Modified,
                Change::Removed => WriteChange::Removed,
            },
        })
        .collect()
}

/// `--retries`: runs the failed tests again, alone, up to the configured number of times; a
/// test that passes is marked flaky (`failed_attempts`, its first failure's output kept), one
/// that keeps failing counts its attempts too. The totals are recounted.
#[allow(clippy::too_many_arguments)]
fn retry_failed(
    sh: &Shared,
    cell: &Cell,
    spec: &TestSpec,
    info: &BinaryInfo,
    choice: &ExecutorChoice,
    retries: u32,
    record: &mut TestsRecord,
    abort: &Abort,
) {
    for _ in 0..retries {
        let failed = crate::cell::recheck::failed_top_level(record);
        if failed.is_empty() || abort.is_aborted() {
            break;
        }
        let Some((again, _)) = crate::cell::recheck::rerun_tests(
            sh,
            cell,
            spec,
            info,
            choice,
            &failed,
            &record.package,
            abort,
        ) else {
            break;
        };
        for case in record
            .cases
            .iter_mut()
            .filter(|c| c.status == TestStatus::Fail)
        {
            case.failed_attempts += 1;
            let passed = again
                .cases
                .iter()
                .any(|c| c.name == case.name && c.status == TestStatus::Pass);
            if passed {
                case.status = TestStatus::Pass;
                case.cause = None;
            }
        }
    }
    record.recount();
}
