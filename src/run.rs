//! `crossmatrix run`: plan, open the output directory, run the session with a reporter, then
//! print the report and pick the exit code.

use crate::cli::RunArgs;
use crate::reporters;
use anyhow::{Context, Result, anyhow, bail};
use crossmatrix_results::report::{RenderOptions, ReportFormat, render};
use crossmatrix_runner::{Runner, RunnerConfig};
use crossmatrix_session::{
    Outcome, Planned, RunOptions, RunSpec, Session, accounting, host, interrupt, make_plan,
};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

pub fn run(a: RunArgs) -> Result<ExitCode> {
    let format: ReportFormat = a
        .format
        .parse()
        .map_err(|e| anyhow!("--format {}: {e}", a.format))?;
    if a.timeout <= 0.0 || a.build_timeout <= 0.0 {
        bail!("--timeout and --build-timeout must be positive numbers of seconds");
    }
    if let Some(dir) = &a.cache_dir {
        // Toolchain discovery looks in $CROSSMATRIX_CACHE/toolchains: make --cache-dir count.
        // SAFETY: no other thread runs yet (workers and signal handlers start later).
        unsafe { std::env::set_var("CROSSMATRIX_CACHE", dir) };
    }
    if let Err(e) = accounting::count_sandboxed_cpu() {
        eprintln!("crossmatrix: cannot become a subreaper ({e}): cpu_s will miss the runs' CPU");
    }
    let planned = make_plan(&a.matrix.request(&a.executor)?)?;
    if planned.plan.is_empty() {
        bail!(
            "the matrix is empty (check --filter, --shard and the axis flags; `crossmatrix plan` shows the cells)"
        );
    }
    let bwrap = which::which("bwrap").map_err(|_| {
        anyhow!("bubblewrap (bwrap) is not installed: apt-get install bubblewrap (or run ci/setup); `crossmatrix doctor` checks the host")
    })?;
    let out = a
        .resume
        .clone()
        .or_else(|| a.out.clone())
        .unwrap_or_else(default_out);
    let session = match &a.resume {
        Some(dir) => Session::resume(dir)?,
        None => Session::create(&out)?,
    };
    for w in session.warnings() {
        eprintln!("warning: {w}");
    }
    let jobs = a.jobs.unwrap_or_else(cores).max(1);
    let opts = RunOptions {
        jobs,
        reps: a.reps,
        timing: (a.reps > 0).then(|| timing_mode(&a).as_str().to_string()),
        host: host::host_info(planned.host.binfmt.available),
        tools: host::tool_versions(&bwrap, &planned.host),
    };
    let (spec, runner) = prepare(&a, planned, &out, bwrap)?;
    let stop = interrupt::stop_on_signals().context("installing the signal handler")?;
    let mut reporter = reporters::for_stderr(a.no_progress);
    let outcome = session.run(&spec, &runner, &opts, &stop, reporter.as_mut());
    reporter.finish();
    conclude(format, &out, &outcome?)
}

pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn timing_mode(a: &RunArgs) -> crossmatrix_runner::timing::TimingMode {
    if a.overlap_timing {
        crossmatrix_runner::timing::TimingMode::Overlap
    } else {
        a.timing
    }
}

/// `results/<UTC timestamp>/`.
pub(crate) fn default_out() -> PathBuf {
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_else(|_| "run".into());
    PathBuf::from("results").join(stamp)
}

/// What `run.json` says the run is, and the runner that runs its cells.
fn prepare(a: &RunArgs, planned: Planned, out: &Path, bwrap: PathBuf) -> Result<(RunSpec, Runner)> {
    let spec = RunSpec {
        plan: planned.plan,
        matrix_hash: planned.matrix_hash,
        shard: a.matrix.shard.clone(),
        toolchains: planned
            .toolchains
            .iter()
            .map(|t| crossmatrix_results::ToolchainInfo {
                name: t.name.clone(),
                version: t.version.clone(),
                goroot: t.goroot.display().to_string(),
            })
            .collect(),
    };
    let runner = Runner::new(
        RunnerConfig {
            out_dir: std::fs::canonicalize(out).unwrap_or(out.to_path_buf()),
            cache_dir: a
                .cache_dir
                .clone()
                .unwrap_or_else(crossmatrix_toolchains::default_cache_dir),
            bwrap,
            self_exe: std::env::current_exe().context("locating the crossmatrix binary")?,
            reps: a.reps,
            warmups: a.warmup,
            timing: timing_mode(a),
            build_timeout: Duration::from_secs_f64(a.build_timeout),
            run_timeout: Duration::from_secs_f64(a.timeout),
            executor: crate::cli::parse_executor(&a.executor)?,
            run_limits: crossmatrix_runner::resources::StepLimits {
                memory: Some(a.memory).filter(|&m| m > 0),
                pids: Some(a.pids).filter(|&p| p > 0),
            },
            recheck: a.recheck,
            reuse: !a.rerun,
        },
        planned.host,
    )?;
    Ok((spec, runner))
}

/// Prints the report (and appends it to `$GITHUB_STEP_SUMMARY`), the notes, and picks the exit
/// code: 130 interrupted, 1 a cell failed, 0 otherwise.
fn conclude(format: ReportFormat, out: &Path, o: &Outcome) -> Result<ExitCode> {
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    print!(
        "{}",
        render(format, &o.records, Some(&o.meta), &RenderOptions { color })?
    );
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
        let md = render(
            ReportFormat::Markdown,
            &o.records,
            Some(&o.meta),
            &RenderOptions { color: false },
        )?;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&summary)
        {
            let _ = f.write_all(md.as_bytes());
        }
    }
    eprintln!(
        "results: {}/cells.jsonl, {}/run.json",
        out.display(),
        out.display()
    );
    let reused = o.reused();
    if reused > 0 {
        eprintln!(
            "reused: {reused} of {} cells passed with the same inputs in an earlier run on this \
             machine; their run and startup figures are from then (`--rerun` measures again)",
            o.records.len()
        );
    }
    if o.meta.interrupted {
        eprintln!(
            "interrupted: {} of {} cells finished and are recorded; {} running cell(s) \
             killed and not recorded; the same command with `--resume {}` runs the rest",
            o.records.len(),
            o.ran,
            o.killed.len(),
            out.display()
        );
        return Ok(ExitCode::from(130));
    }
    Ok(if o.meta.totals.fail > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
