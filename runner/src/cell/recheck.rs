//! `--recheck`: a failure under qemu run once more under a second executor — native when the
//! host can run the arch, else qemu the other way (directly instead of through binfmt, or the
//! reverse). A pass there makes the cell (or the test) `emulator-suspect`.

use crate::cell::prepare::prepare_run;
use crate::cell::run_record::{capture, describe_choice, fill_run_record, run_context};
use crate::cell::shared::Shared;
use crate::diagnose::{Failure, diagnose_run};
use crate::gotest::{summarize, to_events};
use crate::inspect::BinaryInfo;
use crossmatrix_matrix::{Cause, Cell, TestSpec};
use crossmatrix_results::{RecheckRecord, RunRecord, StepStatus, TestStatus, TestsRecord};
use crossmatrix_sandbox::Abort;
use crossmatrix_sandbox::capture::Caps;
use crossmatrix_sandbox::process::CaptureOptions;
use crossmatrix_toolchains::executor::{ExecutorChoice, ExecutorPreference};
use std::path::Path;

/// Runs a cell that failed under qemu once more under a second executor: native when the
/// host can run the arch, else qemu the other way (directly instead of through binfmt, or
/// the reverse). Returns what the second run did and, when it passed, the cell's new
/// verdict (`emulator-suspect`). Loader and sandbox problems are not qemu's: not rechecked.
#[allow(clippy::too_many_arguments)]
pub(crate) fn recheck(
    sh: &Shared,
    cell: &Cell,
    binary: &Path,
    info: &BinaryInfo,
    first: &ExecutorChoice,
    failure: &Failure,
    abort: &Abort,
) -> Option<(RecheckRecord, Option<Failure>)> {
    if failure.cause.fails_every_run() {
        return None;
    }
    let second = second_executor(sh, cell, info, first)?;
    let (executor, executor_version) = describe_choice(&second);
    let mut record = RecheckRecord {
        executor: executor.clone(),
        executor_version,
        status: StepStatus::Fail,
        exit_code: None,
        cause: None,
        hint: None,
    };
    let outcome = prepare_run(sh, cell, binary, info, &second).and_then(|prepared| {
        let timeout = prepared.scaled(sh.run_timeout(cell));
        let input = cell.settings.stdin.clone().map(String::into_bytes);
        let f = sh
            .children
            .run(prepared.command(), timeout, abort, &capture(cell, input))
            .map_err(|e| Failure::new(Cause::SandboxError, format!("cannot start bwrap: {e}")))?;
        record.exit_code = f.code();
        let ctx = run_context(cell, info, &prepared, &executor);
        match diagnose_run(&f, &ctx, &cell.program.expect) {
            Some(fail) => Err(fail),
            None => Ok(()),
        }
    });
    let first_name = executor_name(first);
    let second_name = executor_name(&second);
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

/// The failed tests once more under a second executor (`--recheck`): those that pass
/// there are listed in `emulator_suspect`; when all do, the cell is `emulator-suspect`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn recheck_tests(
    sh: &Shared,
    cell: &Cell,
    spec: &TestSpec,
    info: &BinaryInfo,
    first_choice: &ExecutorChoice,
    record: &mut TestsRecord,
    mut first: Failure,
    abort: &Abort,
) -> Option<Failure> {
    let Some(second) = second_executor(sh, cell, info, first_choice) else {
        return Some(first);
    };
    let failed = failed_top_level(record);
    // A rerun that cannot start or be read changes nothing: the first failure stands.
    let Some((second_record, _)) = rerun_tests(
        sh,
        cell,
        spec,
        info,
        &second,
        &failed,
        &record.package,
        abort,
    ) else {
        return Some(first);
    };
    let passed_there: Vec<String> = failed
        .iter()
        .filter(|n| {
            second_record
                .cases
                .iter()
                .any(|c| c.name == **n && c.status == TestStatus::Pass)
        })
        .cloned()
        .collect();
    record.emulator_suspect = passed_there.clone();
    if !passed_there.is_empty() && passed_there.len() == failed.len() {
        return Some(Failure::new(
            Cause::EmulatorSuspect,
            format!(
                "{} failed under {} but passed under {}: likely an emulator bug, not a regression",
                failed.join(", "),
                executor_name(first_choice),
                executor_name(&second)
            ),
        ));
    }
    if !passed_there.is_empty() {
        first.hint.push_str(&format!(
            "; {} passed under {} (emulator-suspect)",
            passed_there.join(", "),
            executor_name(&second)
        ));
    }
    Some(first)
}

/// The executor a failure under qemu is run again with: another qemu version first (another
/// of the run's emulators: what tells a qemu fault from the code's best), then native when the
/// host can run the arch, else qemu the other way (directly instead of through binfmt, or the
/// reverse). `None` when the first was not qemu or there is no second.
fn second_executor(
    sh: &Shared,
    cell: &Cell,
    info: &BinaryInfo,
    first: &ExecutorChoice,
) -> Option<ExecutorChoice> {
    if !matches!(
        first,
        ExecutorChoice::QemuBinfmt { .. } | ExecutorChoice::QemuDirect(_)
    ) {
        return None;
    }
    let (goos, goarch) = (&cell.target.goos, &cell.target.goarch);
    let header = Some(info.elf_header.as_slice());
    let other_version = sh
        .cfg
        .emulators
        .iter()
        .filter(|e| cell.emulator.as_ref().is_none_or(|own| own.name != e.name))
        .map(|e| {
            sh.host
                .pick_executor_under(Some(e), goos, goarch, header, ExecutorPreference::Auto)
        })
        .find(|c| {
            matches!(
                c,
                ExecutorChoice::QemuBinfmt { .. } | ExecutorChoice::QemuDirect(_)
            ) && (c.version() != first.version() || first.version().is_none())
        });
    if other_version.is_some() {
        return other_version;
    }
    let pick = |pref| match sh.host.pick_executor(goos, goarch, header, pref) {
        ExecutorChoice::None { .. } => None,
        c => Some(c),
    };
    pick(ExecutorPreference::Native).or_else(|| match first {
        ExecutorChoice::QemuBinfmt { .. } => pick(ExecutorPreference::QemuDirect),
        _ => pick(ExecutorPreference::QemuBinfmt),
    })
}

/// `qemu-binfmt 7.2.22`: an executor and its version, as messages name it.
fn executor_name(choice: &ExecutorChoice) -> String {
    match describe_choice(choice) {
        (e, Some(v)) => format!("{e} {v}"),
        (e, None) => e,
    }
}

/// The top-level names of `record`'s failed tests, sorted (a failed subtest fails its parent
/// too, and `-test.run` selects by the top level).
pub(crate) fn failed_top_level(record: &TestsRecord) -> Vec<String> {
    let mut failed: Vec<String> = record
        .failed()
        .map(|c| c.name.split('/').next().unwrap_or(&c.name).to_string())
        .collect();
    failed.sort();
    failed.dedup();
    failed
}

/// The tests named in `names` (top level) run once more, alone, under `choice`: their record
/// and the run's. `None` when the rerun could not start or its output could not be read.
#[allow(clippy::too_many_arguments)]
pub(crate) fn rerun_tests(
    sh: &Shared,
    cell: &Cell,
    spec: &TestSpec,
    info: &BinaryInfo,
    choice: &ExecutorChoice,
    names: &[String],
    package: &str,
    abort: &Abort,
) -> Option<(TestsRecord, RunRecord)> {
    let pattern = format!(
        "^({})$",
        names
            .iter()
            .map(|n| regex::escape(n))
            .collect::<Vec<_>>()
            .join("|")
    );
    let mut again = cell.clone();
    let mut spec = spec.clone();
    spec.flags.push(format!("-run={pattern}"));
    spec.bench = None;
    let mut program = (*cell.program).clone();
    program.test = Some(spec);
    again.program = std::sync::Arc::new(program);
    let binary = sh.binary_path(cell);
    let prepared = prepare_run(sh, &again, &binary, info, choice).ok()?;
    let (name, version) = describe_choice(choice);
    let mut run = RunRecord::started(name, version);
    let timeout = prepared.scaled(sh.test_timeout(cell));
    let opts = CaptureOptions {
        merge_stderr: true,
        caps: Caps::TOOL,
        ..CaptureOptions::default()
    };
    let (command, _copy) = prepared.command_writable();
    let f = sh.children.run(command, timeout, abort, &opts).ok()?;
    fill_run_record(&mut run, &f);
    let tool = sh.test2json.tool(&cell.toolchain, abort).ok()?;
    let events = to_events(&tool, package, f.stdout.text().as_bytes(), abort).ok()?;
    Some((summarize(package, &events, &f), run))
}
