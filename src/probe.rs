//! `crossmatrix probe`: plan the embedded trap suite, run it as a session (no startup timing),
//! then print the portability table. Misses are findings, not errors: the exit code is 0 once
//! every cell ran (130 when interrupted).

use crate::cli::ProbeArgs;
use crate::reporters;
use anyhow::{Context, Result, anyhow, bail};
use crossmatrix_results::render_portability;
use crossmatrix_results::report::{RenderOptions, ReportFormat};
use crossmatrix_runner::{Runner, RunnerConfig};
use crossmatrix_session::probe::{ProbeRequest, plan_probes};
use crossmatrix_session::{RunOptions, RunSpec, Session, accounting, host, interrupt};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

pub fn probe(a: ProbeArgs) -> Result<ExitCode> {
    let format: ReportFormat = a
        .format
        .parse()
        .map_err(|e| anyhow!("--format {}: {e}", a.format))?;
    if let Some(dir) = &a.cache_dir {
        // Toolchain discovery looks in $CROSSMATRIX_CACHE/toolchains: make --cache-dir count.
        // SAFETY: no other thread runs yet (workers and signal handlers start later).
        unsafe { std::env::set_var("CROSSMATRIX_CACHE", dir) };
    }
    if let Err(e) = accounting::count_sandboxed_cpu() {
        eprintln!("crossmatrix: cannot become a subreaper ({e}): cpu_s will miss the runs' CPU");
    }
    let cache_dir = a
        .cache_dir
        .clone()
        .unwrap_or_else(crossmatrix_toolchains::default_cache_dir);
    let executor = crate::cli::parse_executor(&a.executor)?;
    let planned = plan_probes(
        &ProbeRequest {
            toolchains: a.toolchains.clone(),
            targets: a.targets.clone(),
            cgo: a.cgo.clone(),
            libc: a.libc.clone(),
            rootfs: a.rootfs.clone(),
            filter: a.filter.clone(),
            no_cpu: a.no_cpu,
            executor,
        },
        &cache_dir,
    )?;
    if planned.plan.is_empty() {
        bail!("the trap suite has no cells here (check --filter and the axis flags)");
    }
    let bwrap = which::which("bwrap").map_err(|_| {
        anyhow!("bubblewrap (bwrap) is not installed: apt-get install bubblewrap (or run ci/setup); `crossmatrix doctor` checks the host")
    })?;
    let out = a.out.clone().unwrap_or_else(crate::run::default_out);
    let session = Session::create(&out)?;
    let jobs = a.jobs.unwrap_or_else(crate::run::cores).max(1);
    let opts = RunOptions {
        jobs,
        reps: 0,
        timing: None,
        host: host::host_info(planned.host.binfmt.available),
        tools: host::tool_versions(&bwrap, &planned.host),
    };
    let spec = RunSpec {
        plan: planned.plan,
        matrix_hash: planned.matrix_hash,
        shard: None,
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
            out_dir: std::fs::canonicalize(&out).unwrap_or(out.clone()),
            cache_dir,
            bwrap,
            self_exe: std::env::current_exe().context("locating the crossmatrix binary")?,
            // One verification run per probe: nothing here is worth timing.
            reps: 0,
            warmups: 0,
            timing: crossmatrix_runner::timing::TimingMode::Quiet,
            build_timeout: Duration::from_secs_f64(a.build_timeout),
            run_timeout: Duration::from_secs_f64(a.timeout),
            executor,
            run_limits: crossmatrix_runner::resources::StepLimits {
                memory: Some(2 << 30),
                pids: Some(1024),
            },
            recheck: false,
            reuse: !a.rerun,
        },
        planned.host,
    )?;
    let stop = interrupt::stop_on_signals().context("installing the signal handler")?;
    let mut reporter = reporters::for_stderr(a.no_progress);
    let outcome = session.run(&spec, &runner, &opts, &stop, reporter.as_mut());
    reporter.finish();
    let o = outcome?;
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    print!(
        "{}",
        render_portability(format, &o.records, Some(&o.meta), &RenderOptions { color })?
    );
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
        let md = render_portability(
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
