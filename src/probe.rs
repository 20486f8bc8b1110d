//! `crossmatrix probe`: plan the embedded trap suite, run it as a session (no startup timing),
//! then print the portability table. Misses are findings, not errors: the exit code is 0 once
//! every cell ran (130 when interrupted).

use crate::cli::ProbeArgs;
use crate::run::{Job, execute, set_cache_env};
use anyhow::{Result, bail};
use crossmatrix_results::render_portability;
use crossmatrix_results::report::{RenderOptions, ReportFormat};
use crossmatrix_runner::TimingMode;
use crossmatrix_session::Outcome;
use crossmatrix_session::trap_suite::{ProbeRequest, plan_probes};
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

pub fn probe(a: ProbeArgs) -> Result<ExitCode> {
    set_cache_env(&a.opts);
    let job = Job {
        opts: &a.opts,
        shard: None,
        // One verification run per probe: nothing here is worth timing.
        reps: 0,
        warmups: 0,
        timing: TimingMode::Quiet,
        run_timeout: a.timeout,
        test_timeout: None,
        prefetched: false,
        metric: crossmatrix_runner::Metric::Time,
    };
    crate::run::check(&job)?;
    let planned = plan_probes(
        &ProbeRequest {
            toolchains: a.toolchains.clone(),
            targets: a.targets.clone(),
            cgo: a.cgo.clone(),
            libc: a.libc.clone(),
            rootfs: a.rootfs.clone(),
            filter: a.filter.clone(),
            no_cpu: a.no_cpu,
            executor: crate::cli::parse_executor(&a.opts.executor)?,
        },
        &crossmatrix_toolchains::default_cache_dir(),
    )?;
    if planned.plan.is_empty() {
        bail!("the trap suite has no cells here (check --filter and the axis flags)");
    }
    execute(job, planned, conclude)
}

/// Prints the portability table (and appends it to `$GITHUB_STEP_SUMMARY`): 0 once every cell
/// ran, 130 when interrupted.
fn conclude(format: ReportFormat, out: &Path, o: &Outcome) -> Result<ExitCode> {
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let table = render_portability(format, &o.records, Some(&o.meta), &RenderOptions { color })?;
    print!("{table}");
    crate::run::append_step_summary(|| {
        let opts = RenderOptions { color: false };
        render_portability(ReportFormat::Markdown, &o.records, Some(&o.meta), &opts)
    })?;
    eprintln!(
        "results: {}/cells.jsonl, {}/run.json (`crossmatrix report {}` shows the table again)",
        out.display(),
        out.display(),
        out.display()
    );
    if o.meta.interrupted {
        eprintln!(
            "interrupted: {} of {} cells finished and are recorded",
            o.records.len(),
            o.ran
        );
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}
