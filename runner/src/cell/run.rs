//! The verification run of a program: once in its run sandbox, checked against what the
//! cell expects (exit code, output), and on a pass the timed runs still to do.

use crate::cell::prepare::Prepared;
use crate::cell::run_record::{capture, fill_run_record, run_context};
use crate::cell::shared::Shared;
use crate::cell::time::TimingJob;
use crate::diagnose::{Failure, diagnose_run};
use crate::inspect::BinaryInfo;
use crossmatrix_matrix::{Cause, Cell};
use crossmatrix_results::{RunRecord, StepStatus};
use crossmatrix_sandbox::Abort;

/// Runs the program once; fills `run` and returns the failure, or the timing job of a pass.
pub(crate) fn verify(
    sh: &Shared,
    cell: &Cell,
    info: &BinaryInfo,
    prepared: &Prepared,
    run: &mut RunRecord,
    result_key: Option<String>,
    abort: &Abort,
) -> (Option<Failure>, Option<TimingJob>) {
    let executor = run.executor.clone();
    let run_timeout = prepared.scaled(sh.run_timeout(cell));
    let input = cell.settings.stdin.clone().map(String::into_bytes);
    let first = match sh.children.run(
        prepared.command(),
        run_timeout,
        abort,
        &capture(cell, input),
    ) {
        Ok(f) => f,
        Err(e) => {
            let f = Failure::new(Cause::SandboxError, format!("cannot start bwrap: {e}"));
            return (Some(f), None);
        }
    };
    fill_run_record(run, &first);
    let ctx = run_context(cell, info, prepared, &executor);
    if let Some(f) = diagnose_run(&first, &ctx, &cell.program.expect) {
        return (Some(f), None);
    }
    run.status = StepStatus::Ok;

    // Startup timing, later: the verification run above was the first warm-up.
    let job = TimingJob {
        sandbox: prepared.sandbox.clone(),
        argv: prepared.argv.clone(),
        warmups: sh.cfg.warmups,
        reps: cell.settings.reps.unwrap_or(sh.cfg.reps),
        timeout: run_timeout,
        result_key,
        expected_exit: cell.program.expect.exit_code,
        stdin: cell.settings.stdin.clone().map(String::into_bytes),
    };
    (None, Some(job))
}
