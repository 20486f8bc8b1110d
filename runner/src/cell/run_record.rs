//! What a run step records and tells the diagnosis: the executor's name and version, the run
//! record filled from how the child ended, the classifier's context, how output is captured.

use crate::cell::prepare::Prepared;
use crate::diagnose::{Failure, RunContext};
use crate::inspect::BinaryInfo;
use crossmatrix_matrix::Cell;
use crossmatrix_results::RunRecord;
use crossmatrix_sandbox::capture::Caps;
use crossmatrix_sandbox::process::{CaptureOptions, Finished, signal_name};
use crossmatrix_sandbox::wasm;
use crossmatrix_toolchains::executor::ExecutorChoice;

/// How a cell's verification run is captured: its stdin, and stderr merged into stdout when
/// the expectation compares both as written (Go's `test/` convention).
pub(crate) fn capture(cell: &Cell, input: Option<Vec<u8>>) -> CaptureOptions {
    if cell.program.is_test() {
        // Go's test events come from stdout and stderr as written, and may be long.
        return CaptureOptions {
            input,
            merge_stderr: true,
            caps: Caps::TOOL,
            ..CaptureOptions::default()
        };
    }
    CaptureOptions {
        input,
        merge_stderr: cell.program.expect.output == crossmatrix_matrix::OutputStream::Combined,
        ..CaptureOptions::default()
    }
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
        traps: crate::diagnose::TrapContext::for_cell(cell, prepared.root.as_deref()),
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

pub(crate) fn fill_run_record(run: &mut RunRecord, f: &Finished) {
    run.exit_code = f.code();
    run.signal = f.signal().map(signal_name);
    run.duration_ms = f.elapsed.as_millis() as u64;
    run.stdout_tail = f.stdout.last_lines(20);
    run.stderr_tail = f.stderr.last_lines(20);
}

/// The record of the next attempt (`--retries`) after `run` failed with `fail`: the failed
/// attempt kept in `failed_attempts`, everything else started afresh.
pub(crate) fn next_attempt(run: RunRecord, fail: Option<&Failure>) -> RunRecord {
    let mut attempts = run.failed_attempts;
    attempts.push(crossmatrix_results::FailedAttempt {
        exit_code: run.exit_code,
        signal: run.signal,
        cause: fail.map(|f| f.cause).or(run.cause),
        hint: fail.map(|f| f.hint.clone()).or(run.hint),
        stderr_tail: run.stderr_tail,
    });
    let mut next = RunRecord::started(run.executor, run.executor_version);
    next.cpu = run.cpu;
    next.timeout_scale = run.timeout_scale;
    next.failed_attempts = attempts;
    next
}
