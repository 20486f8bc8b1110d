//! `crossmatrix run` and `crossmatrix test`: plan, open the output directory, run the session
//! with a reporter, then print the report and pick the exit code.

use crate::cli::{RunArgs, RunOpts, TestArgs};
use crate::progress;
use anyhow::{Context, Result, anyhow, bail};
use crossmatrix_matrix::TestSpec;
use crossmatrix_results::report::{RenderOptions, ReportFormat, render};
use crossmatrix_runner::TimingMode;
use crossmatrix_runner::{Runner, RunnerConfig};
use crossmatrix_session::{
    Outcome, PlanRequest, Planned, RunOptions, RunSpec, Session, accounting, host, interrupt,
    make_plan,
};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// What one run is, whichever command asked for it.
pub(crate) struct Job<'a> {
    pub(crate) opts: &'a RunOpts,
    pub(crate) shard: Option<String>,
    pub(crate) reps: u32,
    pub(crate) warmups: u32,
    pub(crate) timing: TimingMode,
    pub(crate) run_timeout: f64,
    pub(crate) test_timeout: Option<Duration>,
    /// `--fetch` already fetched for the paths given, before planning.
    pub(crate) prefetched: bool,
    /// `--metric`.
    pub(crate) metric: crossmatrix_runner::Metric,
}

/// How a finished run is shown and what exit code it gives.
pub(crate) type Conclude = fn(ReportFormat, &Path, &Outcome) -> Result<ExitCode>;

pub fn run(a: RunArgs) -> Result<ExitCode> {
    set_cache_env(&a.opts);
    let timing = if a.overlap_timing {
        TimingMode::Overlap
    } else {
        a.timing
    };
    let metric: crossmatrix_runner::Metric =
        a.opts.metric.parse().map_err(|e: String| anyhow!(e))?;
    let job = Job {
        opts: &a.opts,
        shard: a.matrix.shard.clone(),
        // `--metric instructions`: counted runs only, no timed ones.
        reps: if metric.times() { a.reps } else { 0 },
        metric,
        warmups: a.warmup,
        timing,
        run_timeout: a.timeout,
        test_timeout: None,
        prefetched: false,
    };
    let mut req = a.matrix.request(&a.opts.executor)?;
    let job = Job {
        prefetched: prefetch(&a.opts, &mut req)?,
        ..job
    };
    let planned = plan(&job, &req)?;
    execute(job, planned, conclude)
}

pub fn test(a: TestArgs) -> Result<ExitCode> {
    set_cache_env(&a.opts);
    let mut req = a.matrix.request(&a.opts.executor)?;
    req.tests = Some(TestSpec {
        flags: a.test_flags.clone(),
        bench: a.bench.clone(),
        benchtime: a.benchtime.clone(),
        count: a.count,
        benchmem: a.benchmem,
    });
    let job = Job {
        opts: &a.opts,
        shard: a.matrix.shard.clone(),
        // Tests are run, not timed.
        reps: 0,
        metric: a.opts.metric.parse().map_err(|e: String| anyhow!(e))?,
        warmups: 0,
        timing: TimingMode::Quiet,
        run_timeout: 30.0,
        test_timeout: a.timeout.map(Duration::from_secs_f64),
        prefetched: false,
    };
    let job = Job {
        prefetched: prefetch(&a.opts, &mut req)?,
        ..job
    };
    let planned = plan(&job, &req)?;
    execute(job, planned, conclude)
}

/// `--cache-dir` also decides where installed toolchains are discovered.
pub(crate) fn set_cache_env(opts: &RunOpts) {
    if let Some(dir) = &opts.cache_dir {
        // SAFETY: no other thread runs yet (workers and signal handlers start later).
        unsafe { std::env::set_var("CROSSMATRIX_CACHE", dir) };
    }
}

/// The cells `req` asks for, checked before any work.
fn plan(job: &Job<'_>, req: &PlanRequest) -> Result<Planned> {
    check(job)?;
    let planned = make_plan(req)?;
    if planned.plan.is_empty() {
        bail!(
            "the matrix is empty (check --filter, --shard and the axis flags; `crossmatrix plan` shows the cells)"
        );
    }
    Ok(planned)
}

/// Usage errors of the run options.
pub(crate) fn check(job: &Job<'_>) -> Result<()> {
    if job.run_timeout <= 0.0 || job.opts.build_timeout <= 0.0 {
        bail!("--timeout and --build-timeout must be positive numbers of seconds");
    }
    // A counter named on the command line must be there, before any work.
    if let (Some(dir), true) = (&job.opts.counter, job.metric.counts()) {
        crossmatrix_toolchains::counter::Counter::at(dir).map_err(|e| anyhow!("--counter: {e}"))?;
    }
    Ok(())
}

/// Points planning at the module cache the builds read, and with `--fetch` and paths given
/// fetches their modules first — planning reads the module graph from that cache, which an
/// old `go` line's (unpruned) graph needs. Returns whether it fetched.
fn prefetch(o: &RunOpts, req: &mut crossmatrix_session::PlanRequest) -> Result<bool> {
    let cache_dir = crossmatrix_toolchains::default_cache_dir();
    req.modcache = Some(o.modules.module_cache(&cache_dir));
    if !o.fetch || req.programs.is_empty() {
        return Ok(false);
    }
    if crate::fetch::fetch_paths(&req.programs, &req.toolchains, &o.modules, &cache_dir)? > 0 {
        bail!(
            "fetching the modules failed (see above): fix it, or run without --fetch to record the cells that lack modules as missing-module"
        );
    }
    Ok(true)
}

/// Runs `planned` as `job` says and shows it with `conclude`.
pub(crate) fn execute(job: Job<'_>, planned: Planned, conclude: Conclude) -> Result<ExitCode> {
    let o = job.opts;
    let format: ReportFormat = o
        .format
        .parse()
        .map_err(|e| anyhow!("--format {}: {e}", o.format))?;
    if let Err(e) = accounting::count_sandboxed_cpu() {
        eprintln!("crossmatrix: cannot become a subreaper ({e}): cpu_s will miss the runs' CPU");
    }
    let bwrap = which::which("bwrap").map_err(|_| {
        anyhow!("bubblewrap (bwrap) is not installed: apt-get install bubblewrap (or run ci/setup); `crossmatrix doctor` checks the host")
    })?;
    let cache_dir = crossmatrix_toolchains::default_cache_dir();
    if o.fetch
        && !job.prefetched
        && crate::fetch::fetch_plan(&planned.plan, &o.modules, &cache_dir)? > 0
    {
        bail!(
            "fetching the modules failed (see above): fix it, or run without --fetch to record the cells that lack modules as missing-module"
        );
    }
    let out = o
        .resume
        .clone()
        .or_else(|| o.out.clone())
        .unwrap_or_else(default_out);
    let session = match &o.resume {
        Some(dir) => {
            let ids: Vec<String> = if planned.matrix_ids.is_empty() {
                planned
                    .plan
                    .cells
                    .iter()
                    .map(|c| c.id.to_string())
                    .collect()
            } else {
                planned.matrix_ids.clone()
            };
            crate::resume::check_same_plan(dir, &planned.matrix_hash, job.shard.as_deref(), &ids)?;
            Session::resume(dir)?
        }
        None => Session::create(&out)?,
    };
    for w in session.warnings() {
        eprintln!("warning: {w}");
    }
    let jobs = o.jobs.unwrap_or_else(cores).max(1);
    // What the cells will use: a config's `[run] reps` applies to every cell.
    let reps = uniform_reps(&planned.plan).unwrap_or(job.reps);
    let run_opts = RunOptions {
        jobs,
        reps,
        timing: (reps > 0).then(|| job.timing.as_str().to_string()),
        host: host::host_info(planned.host.binfmt.available),
        tools: host::tool_versions(&bwrap, &planned.host),
    };
    let (spec, runner) = prepare(&job, planned, &out, bwrap, cache_dir)?;
    let stop = interrupt::stop_on_signals().context("installing the signal handler")?;
    let mut reporter = progress::for_stderr(o.no_progress);
    let outcome = session.run(&spec, &runner, &run_opts, &stop, reporter.as_mut());
    reporter.finish();
    conclude(format, &out, &outcome?)
}

/// The repetitions every cell of `plan` sets alike (a config's `[run] reps`), if they do.
fn uniform_reps(plan: &crossmatrix_matrix::Plan) -> Option<u32> {
    let mut reps = plan.cells.iter().map(|c| c.settings.reps);
    let first = reps.next()??;
    reps.all(|r| r == Some(first)).then_some(first)
}

pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `results/<UTC timestamp>/`.
pub(crate) fn default_out() -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    PathBuf::from("results").join(stamp)
}

/// What `run.json` says the run is, and the runner that runs its cells.
fn prepare(
    job: &Job<'_>,
    planned: Planned,
    out: &Path,
    bwrap: PathBuf,
    cache_dir: PathBuf,
) -> Result<(RunSpec, Runner)> {
    let o = job.opts;
    let toolchains = host::toolchain_infos(&planned);
    for note in toolchains.iter().filter_map(|t| t.out_of_support.as_ref()) {
        eprintln!("note: {note}");
    }
    let spec = RunSpec {
        plan: planned.plan,
        matrix_hash: planned.matrix_hash,
        shard: job.shard.clone(),
        matrix_planned: planned.matrix_ids,
        command: crate::resume::recorded_command(),
        cwd: std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default(),
        commit: std::env::current_dir()
            .ok()
            .and_then(|d| host::project_commit(&d)),
        toolchains,
    };
    let runner = Runner::new(
        RunnerConfig {
            out_dir: std::fs::canonicalize(out).unwrap_or(out.to_path_buf()),
            modcache: o.modules.module_cache(&cache_dir),
            cache_dir,
            bwrap,
            self_exe: std::env::current_exe().context("locating the crossmatrix binary")?,
            reps: job.reps,
            warmups: job.warmups,
            timing: job.timing,
            build_timeout: Duration::from_secs_f64(o.build_timeout),
            run_timeout: Duration::from_secs_f64(job.run_timeout),
            test_timeout: job.test_timeout,
            executor: crate::cli::parse_executor(&o.executor)?,
            run_limits: crossmatrix_sandbox::limits::StepLimits {
                memory: Some(o.memory).filter(|&m| m > 0),
                pids: Some(o.pids).filter(|&p| p > 0),
            },
            recheck: o.recheck,
            emulators: planned.emulators,
            retries: o.retries,
            timeout_scale: o.timeout_scale,
            reuse: !o.rerun,
            metric: job.metric,
            counter: counter(job)?,
            count_reps: o.count_reps,
        },
        planned.host,
    )?;
    Ok((spec, runner))
}

/// The counting qemu of a run that counts: `--counter DIR` must hold one (an error now, before
/// any work); without it, the default install or `$CROSSMATRIX_COUNTER`, else the reason each
/// cell will give (`uncounted`), said once here too — the timed metric still works.
fn counter(
    job: &Job<'_>,
) -> Result<Result<std::sync::Arc<crossmatrix_toolchains::counter::Counter>, String>> {
    use crossmatrix_toolchains::counter::{Counter, DEFAULT_COUNTER_DIR};
    if !job.metric.counts() {
        return Ok(Err("the run does not count (--metric time)".into()));
    }
    let why = match Counter::find(job.opts.counter.as_deref()) {
        Ok(Some(c)) => return Ok(Ok(std::sync::Arc::new(c))),
        Err(e) if job.opts.counter.is_some() => bail!("--counter: {e}"),
        Err(e) => format!("{e}: instructions are not counted"),
        Ok(None) => format!(
            "no counting qemu installed (looked in {DEFAULT_COUNTER_DIR}; install it with `ci/host-setup --counter`, or pass --counter DIR): instructions are not counted"
        ),
    };
    eprintln!("warning: {why}");
    Ok(Err(why))
}

/// Prints the report (and appends it to `$GITHUB_STEP_SUMMARY`), the notes, and picks the exit
/// code: 130 interrupted, 1 a cell failed, 0 otherwise.
pub(crate) fn conclude(format: ReportFormat, out: &Path, o: &Outcome) -> Result<ExitCode> {
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    print!(
        "{}",
        render(format, &o.records, Some(&o.meta), &RenderOptions { color })?
    );
    append_step_summary(|| {
        render(
            ReportFormat::Markdown,
            &o.records,
            Some(&o.meta),
            &RenderOptions { color: false },
        )
    })?;
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

/// On GitHub Actions (`GITHUB_STEP_SUMMARY` set), appends the markdown `render` makes to the
/// job's summary page; a summary that cannot be written is left out, not an error.
pub(crate) fn append_step_summary<E>(render: impl FnOnce() -> Result<String, E>) -> Result<(), E> {
    let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) else {
        return Ok(());
    };
    let md = render()?;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&summary)
    {
        let _ = f.write_all(md.as_bytes());
    }
    Ok(())
}
