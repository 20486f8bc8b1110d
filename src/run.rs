//! `run`, `plan`, `report` and the internal `__wasm-exec`: wiring only.

use crate::cli::{CompareArgs, MatrixArgs, MergeArgs, PlanArgs, ReportArgs, RunArgs, WasmExecArgs};
use crate::hostinfo;
use anyhow::{Context, Result, anyhow, bail};
use crossmatrix_matrix::{
    Axes, CgoMode, Filter, LINUX_ARCHES, Libc, Plan, Program, RootfsSpec, Shard, Target, Toolchain,
    default_matrix,
};
use crossmatrix_results::report::{RenderOptions, ReportFormat, render};
use crossmatrix_results::store::{CellWriter, read_cells, read_run_meta, write_run_meta};
use crossmatrix_results::{CellRecord, CellStatus, RunMeta, SCHEMA_VERSION, Totals, now_rfc3339};
use crossmatrix_runner::{Event, Runner, RunnerConfig, run_cells, wasm};
use crossmatrix_toolchains::executor::{ExecutorChoice, ExecutorPreference, Host};
use crossmatrix_toolchains::go::{GoToolchain, discover_go, go_toolchain_at, short_names};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// Everything a plan is made from.
struct Planned {
    plan: Plan,
    /// Hash of the whole matrix before `--shard`, so shards of one matrix can be merged.
    matrix_hash: String,
    toolchains: Vec<Arc<Toolchain>>,
    host: Host,
}

fn select_toolchains(wanted: &[String]) -> Result<Vec<Arc<Toolchain>>> {
    let chosen = crossmatrix_toolchains::go::select_toolchains(wanted, &discover_go())?;
    let names = short_names(&chosen);
    Ok(chosen
        .iter()
        .zip(names)
        .map(|(t, n)| Arc::new(t.to_matrix(n)))
        .collect())
}

/// The probe, or the programs given on the command line (dirs or `.go` files; a sibling
/// `NAME.out` is the expected stdout), parsed by the matrix crate like the config's.
fn programs_from(paths: &[PathBuf]) -> Result<Vec<Arc<Program>>> {
    if paths.is_empty() {
        return Ok(vec![Arc::new(Program::probe())]);
    }
    if let Some(missing) = paths.iter().find(|p| !p.exists()) {
        bail!("program {}: no such file or directory", missing.display());
    }
    let programs = crossmatrix_matrix::programs_from_paths(paths).map_err(|e| anyhow!("{e}"))?;
    Ok(programs.into_iter().map(|p| p.program).collect())
}

fn runnable_arches(host: &Host, pref: ExecutorPreference) -> Vec<String> {
    LINUX_ARCHES
        .iter()
        .filter(|a| {
            !matches!(
                host.pick_executor("linux", a, None, pref),
                ExecutorChoice::None { .. }
            )
        })
        .map(|a| a.to_string())
        .collect()
}

fn make_plan(m: &MatrixArgs, pref: ExecutorPreference) -> Result<Planned> {
    let host = Host::probe();
    let config_path = match &m.config {
        Some(p) => Some(p.clone()),
        None => Some(PathBuf::from(crossmatrix_matrix::CONFIG_FILE_NAME)).filter(|p| p.is_file()),
    };
    if let Some(path) = config_path {
        return plan_from_config(m, &path, host, pref);
    }
    let toolchains = select_toolchains(&m.toolchains)?;
    let programs = programs_from(&m.programs)?;
    let custom =
        !(m.targets.is_empty() && m.cgo.is_empty() && m.libc.is_empty() && m.rootfs.is_empty());
    let blocks = if !custom {
        default_matrix(&toolchains, &runnable_arches(&host, pref), &programs)
    } else {
        let targets = if m.targets.is_empty() {
            let mut t: Vec<Target> = runnable_arches(&host, pref)
                .iter()
                .map(|a| Target::linux(a))
                .collect();
            t.push(Target::new("wasip1", "wasm"));
            t
        } else {
            m.targets
                .iter()
                .map(|t| {
                    t.parse::<Target>()
                        .map_err(|e| anyhow!("--target {t}: {e}"))
                })
                .collect::<Result<Vec<_>>>()?
        };
        let libcs = m
            .libc
            .iter()
            .map(|l| l.parse::<Libc>().map_err(|e| anyhow!("--libc: {e}")))
            .collect::<Result<Vec<_>>>()?;
        let cgos: Vec<u8> = if m.cgo.is_empty() {
            if libcs.is_empty() { vec![0] } else { vec![1] }
        } else {
            m.cgo.clone()
        };
        let mut modes = Vec::new();
        for c in cgos {
            match c {
                0 => modes.push(CgoMode::Off),
                1 if libcs.is_empty() => {
                    modes.extend([CgoMode::On(Libc::Gnu), CgoMode::On(Libc::Musl)])
                }
                1 => modes.extend(libcs.iter().map(|l| CgoMode::On(*l))),
                other => bail!("--cgo {other}: expected 0 or 1"),
            }
        }
        let rootfs = if m.rootfs.is_empty() {
            None
        } else {
            Some(
                m.rootfs
                    .iter()
                    .map(|r| match r.as_str() {
                        "scratch" => Ok(RootfsSpec::Scratch),
                        "glibc" | "gnu" => Ok(RootfsSpec::Glibc),
                        "musl" => Ok(RootfsSpec::Musl),
                        dir => {
                            let p = PathBuf::from(dir);
                            if p.is_dir() {
                                Ok(RootfsSpec::Dir(std::fs::canonicalize(&p)?))
                            } else {
                                bail!("--rootfs {dir}: expected scratch, glibc, musl or an existing directory")
                            }
                        }
                    })
                    .collect::<Result<Vec<_>>>()?,
            )
        };
        vec![Axes {
            toolchains: toolchains.clone(),
            targets,
            modes,
            rootfs,
            programs,
        }]
    };
    let plan = Plan::expand(&blocks);
    narrow(plan, m, toolchains, host)
}

/// `--shard K/N`, or `--shard auto`: the shard the CI engine assigned to this job, from
/// Buildkite's `BUILDKITE_PARALLEL_JOB`/`BUILDKITE_PARALLEL_JOB_COUNT` or a Kubernetes Indexed
/// Job's `JOB_COMPLETION_INDEX` with `CROSSMATRIX_SHARD_COUNT` (both indexes are 0-based).
fn resolve_shard(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Shard> {
    if s != "auto" {
        return Ok(s.parse::<Shard>()?);
    }
    let pair = |index_var: &str, count_var: &str| -> Option<Result<Shard>> {
        let index = env(index_var)?;
        let count = env(count_var);
        Some((|| {
            let count = count.ok_or_else(|| {
                anyhow!("--shard auto: {index_var} is set but {count_var} is not")
            })?;
            let i: usize = index
                .trim()
                .parse()
                .map_err(|_| anyhow!("--shard auto: {index_var}={index} is not a number"))?;
            let n: usize = count
                .trim()
                .parse()
                .map_err(|_| anyhow!("--shard auto: {count_var}={count} is not a number"))?;
            Ok(format!("{}/{}", i + 1, n).parse::<Shard>()?)
        })())
    };
    pair("BUILDKITE_PARALLEL_JOB", "BUILDKITE_PARALLEL_JOB_COUNT")
        .or_else(|| pair("JOB_COMPLETION_INDEX", "CROSSMATRIX_SHARD_COUNT"))
        .unwrap_or_else(|| {
            bail!(
                "--shard auto: no shard in the environment (set BUILDKITE_PARALLEL_JOB and BUILDKITE_PARALLEL_JOB_COUNT, or JOB_COMPLETION_INDEX and CROSSMATRIX_SHARD_COUNT), or pass --shard K/N"
            )
        })
}

/// A plan from `crossmatrix.toml`; `--toolchain` and PATH arguments still override its
/// toolchains and programs, `--filter` and `--shard` narrow it.
fn plan_from_config(
    m: &MatrixArgs,
    path: &Path,
    host: Host,
    pref: ExecutorPreference,
) -> Result<Planned> {
    if !(m.targets.is_empty() && m.cgo.is_empty() && m.libc.is_empty() && m.rootfs.is_empty()) {
        bail!(
            "--target/--cgo/--libc/--rootfs cannot be combined with the config {}: edit its axes, or narrow it with --filter",
            path.display()
        );
    }
    let mut cfg = crossmatrix_matrix::load_config(path).map_err(|e| anyhow!("{e}"))?;
    let toolchains = if !m.toolchains.is_empty() {
        select_toolchains(&m.toolchains)?
    } else if cfg.toolchains.is_empty() {
        select_toolchains(&[])?
    } else {
        let found: Vec<String> = discover_go().iter().map(|t| t.version.clone()).collect();
        let mut gos: Vec<GoToolchain> = Vec::new();
        for spec in &cfg.toolchains {
            match select_toolchains(std::slice::from_ref(&spec.raw)) {
                Ok(t) => gos.extend(t.iter().filter_map(|t| go_toolchain_at(&t.goroot).ok())),
                Err(e) => {
                    let found: Vec<&str> = found.iter().map(String::as_str).collect();
                    bail!("{}", cfg.toolchain_error(spec, format!("{e:#}"), &found));
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        gos.retain(|g| seen.insert(g.goroot.clone()));
        // Names over the whole set, so two toolchains of one minor get full versions.
        let names = short_names(&gos);
        gos.iter()
            .zip(names)
            .map(|(g, n)| Arc::new(g.to_matrix(n)))
            .collect()
    };
    if !m.programs.is_empty() {
        cfg.programs =
            crossmatrix_matrix::programs_from_paths(&m.programs).map_err(|e| anyhow!("{e}"))?;
    }
    let mut default_targets: Vec<Target> = runnable_arches(&host, pref)
        .iter()
        .map(|a| Target::linux(a))
        .collect();
    default_targets.push(Target::new("wasip1", "wasm"));
    let plan = cfg
        .to_plan(&toolchains, &default_targets)
        .map_err(|e| anyhow!("{e}"))?;
    narrow(plan, m, toolchains, host)
}

/// Applies `--filter`, hashes the matrix (before sharding, so shards of one matrix merge) and
/// applies `--shard`.
fn narrow(
    plan: Plan,
    m: &MatrixArgs,
    toolchains: Vec<Arc<Toolchain>>,
    host: Host,
) -> Result<Planned> {
    let mut plan = plan;
    if !m.filter.is_empty() {
        plan = plan.filter(&Filter::parse(&m.filter)?);
    }
    let full_hash = matrix_hash(&plan);
    if let Some(s) = &m.shard {
        plan = plan.shard(resolve_shard(s, &|k| std::env::var(k).ok())?);
    }
    Ok(Planned {
        plan,
        matrix_hash: full_hash,
        toolchains,
        host,
    })
}

fn parse_pref(s: &str) -> Result<ExecutorPreference> {
    s.parse::<ExecutorPreference>().map_err(|_| {
        anyhow!("--executor {s}: expected one of auto, native, qemu-binfmt, qemu-direct")
    })
}

pub fn plan(a: PlanArgs) -> Result<ExitCode> {
    let p = make_plan(&a.matrix, ExecutorPreference::Auto)?;
    match a.format.as_str() {
        "json" => {
            let cells: Vec<_> = p
                .plan
                .cells
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "id": c.id.as_str(),
                        "toolchain": c.toolchain.version,
                        "target": format!("{}/{}", c.target.goos, c.target.goarch),
                        "cgo": u8::from(c.cgo),
                        "libc": c.libc.map(|l| l.to_string()),
                        "rootfs": c.rootfs.label(),
                        "program": c.program.name,
                        "skip": c.skip.as_ref().map(|s| serde_json::json!({"cause": s.cause, "reason": s.reason})),
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&cells)?);
        }
        "github" => {
            if a.matrix.shard.is_some() {
                bail!("--format github lists every shard: drop --shard and give --shards N");
            }
            println!(
                "{}",
                serde_json::to_string(&crossmatrix_matrix::github_matrix(
                    &p.plan,
                    a.shards.max(1)
                ))?
            );
        }
        "table" => {
            let w = p
                .plan
                .cells
                .iter()
                .map(|c| c.id.as_str().len())
                .max()
                .unwrap_or(0);
            for c in &p.plan.cells {
                match &c.skip {
                    None => println!("{}", c.id),
                    Some(s) => {
                        println!("{:<w$}  skipped: {} ({})", c.id.as_str(), s.cause, s.reason)
                    }
                }
            }
            eprintln!("{} cells", p.plan.len());
        }
        other => bail!("--format {other}: expected table, json or github"),
    }
    Ok(ExitCode::SUCCESS)
}

fn matrix_hash(plan: &Plan) -> String {
    let mut h = Sha256::new();
    for c in &plan.cells {
        h.update(c.id.as_str().as_bytes());
        h.update(c.toolchain.version.as_bytes());
        h.update([0]);
    }
    format!("{:x}", h.finalize())[..16].to_string()
}

pub fn run(a: RunArgs) -> Result<ExitCode> {
    let pref = parse_pref(&a.executor)?;
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
    // Sandboxed programs' CPU reaches run.json through their sandbox's init, which only a
    // subreaper gets to reap (see `process::become_subreaper`); without it the figure is low.
    if let Err(e) = crossmatrix_runner::process::become_subreaper() {
        eprintln!("crossmatrix: cannot become a subreaper ({e}): cpu_s will miss the runs' CPU");
    }
    let Planned {
        plan,
        matrix_hash: full_hash,
        toolchains,
        host,
    } = make_plan(&a.matrix, pref)?;
    if plan.is_empty() {
        bail!(
            "the matrix is empty (check --filter, --shard and the axis flags; `crossmatrix plan` shows the cells)"
        );
    }
    let bwrap = which::which("bwrap").map_err(|_| {
        anyhow!("bubblewrap (bwrap) is not installed: apt-get install bubblewrap (or run ci/setup); `crossmatrix doctor` checks the host")
    })?;
    let started = now_rfc3339();
    let out = a
        .resume
        .clone()
        .or_else(|| a.out.clone())
        .unwrap_or_else(|| {
            let stamp = time::OffsetDateTime::now_utc()
                .format(time::macros::format_description!(
                    "[year][month][day]T[hour][minute][second]Z"
                ))
                .unwrap_or_else(|_| "run".into());
            PathBuf::from("results").join(stamp)
        });
    let cache_dir = a
        .cache_dir
        .clone()
        .unwrap_or_else(crossmatrix_toolchains::default_cache_dir);
    let jobs = a
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    let timing_mode = if a.overlap_timing {
        crossmatrix_runner::timing::TimingMode::Overlap
    } else {
        a.timing
    };
    // With --resume, cells recorded with the same inputs are done; the rest run.
    let mut previous: Vec<CellRecord> = Vec::new();
    let mut writer = match &a.resume {
        None => CellWriter::create(&out)
            .with_context(|| format!("creating the output directory {}", out.display()))?,
        Some(dir) => {
            if !dir.join("cells.jsonl").is_file() {
                bail!(
                    "--resume {}: no cells.jsonl there (is it a crossmatrix output directory?)",
                    dir.display()
                );
            }
            let w = CellWriter::open_append(dir)
                .with_context(|| format!("reopening {}", dir.display()))?;
            for warning in w.warnings() {
                eprintln!("warning: {warning}");
            }
            let read = read_cells(dir).with_context(|| format!("reading {}", dir.display()))?;
            for warning in &read.warnings {
                eprintln!("warning: {warning}");
            }
            previous = read.records;
            w
        }
    };
    let done_before: std::collections::HashMap<String, String> = previous
        .iter()
        .map(|r| (r.id.clone(), r.inputs_hash.clone()))
        .collect();
    let planned_all = plan.clone();
    let plan = Plan {
        cells: plan
            .cells
            .into_iter()
            .filter(|c| done_before.get(c.id.as_str()) != Some(&inputs_hash(c)))
            .collect(),
    };
    // Keep the latest previous record of each cell that will not run again.
    let rerun: std::collections::HashSet<&str> = plan.cells.iter().map(|c| c.id.as_str()).collect();
    let mut kept: std::collections::BTreeMap<String, CellRecord> =
        std::collections::BTreeMap::new();
    for r in previous {
        if !rerun.contains(r.id.as_str()) {
            kept.insert(r.id.clone(), r);
        }
    }
    if a.resume.is_some() {
        eprintln!(
            "crossmatrix: resuming {}: {} cells already recorded, {} to run",
            out.display(),
            kept.len(),
            plan.len()
        );
    }
    let self_exe = std::env::current_exe().context("locating the crossmatrix binary")?;
    let out_abs = std::fs::canonicalize(&out).unwrap_or(out.clone());
    let host_binfmt = host.binfmt.available;
    let tools = hostinfo::tool_versions(&bwrap, &host);
    let runner = Runner::new(
        RunnerConfig {
            out_dir: out_abs,
            cache_dir: cache_dir.clone(),
            bwrap,
            self_exe,
            reps: a.reps,
            warmups: a.warmup,
            timing: timing_mode,
            build_timeout: Duration::from_secs_f64(a.build_timeout),
            run_timeout: Duration::from_secs_f64(a.timeout),
            executor: pref,
            run_limits: crossmatrix_runner::resources::StepLimits {
                memory: Some(a.memory).filter(|&m| m > 0),
                pids: Some(a.pids).filter(|&p| p > 0),
            },
            recheck: a.recheck,
            reuse: !a.rerun,
        },
        host,
    )?;

    let tty = std::io::stderr().is_terminal() && !a.no_progress;
    let total = plan.len();
    eprintln!(
        "crossmatrix: {total} cells, {} toolchain(s), {jobs} jobs, {} reps → {}",
        toolchains.len(),
        a.reps,
        out.display()
    );
    let bar = if tty {
        let b = ProgressBar::new(total as u64);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {wide_msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b.enable_steady_tick(Duration::from_millis(120));
        Some(b)
    } else {
        None
    };
    // First SIGINT/SIGTERM: start no new cells, kill the running ones (not recorded, so
    // `--resume` runs them), keep what finished, write run.json, print a partial summary and
    // exit 130. A second one exits at once (sandboxes die with us).
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(sig, Arc::clone(&stop)))
            .context("installing the signal handler")?;
    }
    let t0 = Instant::now();
    let cpu0 = cpu_seconds();
    let mut records: Vec<CellRecord> = kept.into_values().collect();
    let mut write_error: Option<anyhow::Error> = None;
    let mut done = 0usize;
    let mut running: Vec<String> = Vec::new();
    let mut queued = 0usize;
    let mut interrupted_note = false;
    let mut killed: Vec<String> = Vec::new();
    run_cells(&runner, &plan.cells, jobs, &stop, |ev| {
        if stop.load(std::sync::atomic::Ordering::SeqCst) && !interrupted_note {
            interrupted_note = true;
            let msg = "interrupted: starting no more cells and killing the running ones";
            match &bar {
                Some(b) => b.println(msg),
                None => eprintln!("{msg}"),
            }
        }
        match ev {
            Event::Started(c) => {
                running.push(c.id.to_string());
                if let Some(b) = &bar {
                    b.set_message(status_message(&running, queued));
                }
            }
            Event::Queued(c) => {
                running.retain(|r| r != c.id.as_str());
                queued += 1;
                if let Some(b) = &bar {
                    b.set_message(status_message(&running, queued));
                }
            }
            Event::Timing(c) => {
                queued = queued.saturating_sub(1);
                running.push(format!("timing {}", c.id));
                if let Some(b) = &bar {
                    b.set_message(status_message(&running, queued));
                }
            }
            Event::Killed(c) => {
                let timing = format!("timing {}", c.id);
                running.retain(|r| r != c.id.as_str() && *r != timing);
                killed.push(c.id.to_string());
                let line = format!("killed  {} (interrupted; not recorded)", c.id);
                match &bar {
                    Some(b) => {
                        b.println(line);
                        b.set_message(status_message(&running, queued));
                    }
                    None => eprintln!("{line}"),
                }
            }
            Event::Finished(c, mut rec) => {
                let timing = format!("timing {}", c.id);
                running.retain(|r| r != c.id.as_str() && *r != timing);
                done += 1;
                rec.finished_at = now_rfc3339();
                rec.inputs_hash = inputs_hash(c);
                if let Err(e) = writer.append(&rec) {
                    write_error.get_or_insert(anyhow!(
                        "writing {}: {e}",
                        out.join("cells.jsonl").display()
                    ));
                    stop.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                let line = progress_line(done, total, &rec);
                match &bar {
                    Some(b) => {
                        b.println(line);
                        b.inc(1);
                        b.set_message(status_message(&running, queued));
                    }
                    None => eprintln!("{line}"),
                }
                records.push(*rec);
            }
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let Some(e) = write_error {
        return Err(e);
    }
    // Records in plan order for the report.
    let pos: std::collections::HashMap<&str, usize> = plan
        .cells
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();
    records.sort_by_key(|r| pos.get(r.id.as_str()).copied().unwrap_or(usize::MAX));
    let totals = Totals::from_records(&records);
    let wall_s = t0.elapsed().as_secs_f64();
    let cpu_s = cpu_seconds() - cpu0;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let meta = RunMeta {
        schema: SCHEMA_VERSION,
        crossmatrix_version: env!("CARGO_PKG_VERSION").into(),
        started_at: started,
        finished_at: now_rfc3339(),
        wall_ms: t0.elapsed().as_millis() as u64,
        host: hostinfo::host_info(host_binfmt),
        tools,
        toolchains: toolchains
            .iter()
            .map(|t| crossmatrix_results::ToolchainInfo {
                name: t.name.clone(),
                version: t.version.clone(),
                goroot: t.goroot.display().to_string(),
            })
            .collect(),
        matrix_hash: full_hash,
        planned: planned_all.cells.iter().map(|c| c.id.to_string()).collect(),
        shard: a.matrix.shard.clone(),
        jobs,
        reps: a.reps,
        timing: (a.reps > 0).then(|| timing_mode.as_str().to_string()),
        wall_s: round2(wall_s),
        cpu_s: round2(cpu_s),
        cpu_bound_s: round2(cpu_bound(cpu_s, cores, &records, &plan)),
        cores,
        totals: totals.clone(),
        interrupted: records.len() < planned_all.len(),
        shards: Vec::new(),
    };
    write_run_meta(&out, &meta)
        .with_context(|| format!("writing {}", out.join("run.json").display()))?;
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let text = render(format, &records, Some(&meta), &RenderOptions { color })?;
    print!("{text}");
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
        let md = render(
            ReportFormat::Markdown,
            &records,
            Some(&meta),
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
    let reused = records.iter().filter(|r| r.reused_from.is_some()).count();
    if reused > 0 {
        eprintln!(
            "reused: {reused} of {} cells passed with the same inputs in an earlier run on this \
             machine; their run and startup figures are from then (`--rerun` measures again)",
            records.len()
        );
    }
    if meta.interrupted {
        eprintln!(
            "interrupted: {} of {total} cells finished and are recorded; {} running cell(s) \
             killed and not recorded; the same command with `--resume {}` runs the rest",
            records.len(),
            killed.len(),
            out.display()
        );
        return Ok(ExitCode::from(130));
    }
    Ok(if totals.fail > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// User + system CPU seconds of this process and every child it has waited for (builds,
/// sandboxes and what ran in them: bubblewrap reaps its children, so their time adds up here).
fn cpu_seconds() -> f64 {
    let secs = |who| {
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: getrusage writes into the struct we own.
        if unsafe { libc::getrusage(who, &mut ru) } != 0 {
            return 0.0;
        }
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        tv(ru.ru_utime) + tv(ru.ru_stime)
    };
    secs(libc::RUSAGE_SELF) + secs(libc::RUSAGE_CHILDREN)
}

/// The lower bound on a run's wall time: its CPU spread over the cores, or the longest cell
/// (build + runs, as measured: an over-estimate when cells waited for cores), whichever is
/// larger. Only cells this run executed count.
fn cpu_bound(cpu_s: f64, cores: usize, records: &[CellRecord], ran: &Plan) -> f64 {
    let ran: std::collections::HashSet<&str> = ran.cells.iter().map(|c| c.id.as_str()).collect();
    let longest_ms = records
        .iter()
        .filter(|r| ran.contains(r.id.as_str()))
        .map(|r| {
            if r.reused_from.is_some() {
                // Its runs happened in an earlier run.
                return r.build.duration_ms as f64;
            }
            let run = r.run.as_ref().map_or(0, |x| x.duration_ms) as f64;
            let timed: f64 = r.startup.as_ref().map_or(0.0, |s| {
                s.samples_ms.iter().sum::<f64>() * f64::from(s.reps + s.warmups)
                    / f64::from(s.reps.max(1))
            });
            r.build.duration_ms as f64 + run + timed
        })
        .fold(0.0, f64::max);
    (cpu_s / cores.max(1) as f64).max(longest_ms / 1000.0)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn inputs_hash(c: &crossmatrix_matrix::Cell) -> String {
    let mut h = Sha256::new();
    h.update(c.id.as_str().as_bytes());
    h.update(c.toolchain.version.as_bytes());
    h.update(c.toolchain.goroot.to_string_lossy().as_bytes());
    h.update(format!("{:?}", c.program).as_bytes());
    h.update(format!("{:?}", c.settings).as_bytes());
    format!("{:x}", h.finalize())[..16].to_string()
}

/// The progress bar's message: what runs now, and how many verified cells wait for their timed
/// runs (they run when no build does).
fn status_message(running: &[String], queued: usize) -> String {
    let mut m = running.join("  ");
    if queued > 0 {
        m.push_str(&format!("  [{queued} verified, waiting to be timed]"));
    }
    m
}

fn progress_line(done: usize, total: usize, r: &CellRecord) -> String {
    let w = total.to_string().len();
    let status = match r.status {
        CellStatus::Pass => "pass   ",
        CellStatus::Fail => "FAIL   ",
        CellStatus::Skipped => "skipped",
        CellStatus::Built => "built  ",
    };
    let mut s = format!("[{done:>w$}/{total}] {status} {}", r.id);
    if let Some(run) = &r.run {
        s.push_str(&format!("  {}", run.executor));
    }
    if let Some(at) = &r.reused_from {
        s.push_str(&format!("  reused from {at}"));
    }
    if let Some(st) = &r.startup {
        s.push_str(&format!("  {:.1} ms", st.median_ms));
        if st.outliers > 0 {
            s.push_str(&format!(
                " ({} outlier{})",
                st.outliers,
                if st.outliers == 1 { "" } else { "s" }
            ));
        }
    }
    if let Some(c) = r.cause {
        s.push_str(&format!("  {c}: {}", r.hint.as_deref().unwrap_or("")));
    }
    s
}

fn read_run(dir: &Path) -> Result<(Option<RunMeta>, Vec<CellRecord>)> {
    let read = read_cells(dir).with_context(|| format!("reading {}", dir.display()))?;
    for w in &read.warnings {
        eprintln!("warning: {w}");
    }
    Ok((read_run_meta(dir).ok(), read.records))
}

fn stdout_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

pub fn report(a: ReportArgs) -> Result<ExitCode> {
    let format: ReportFormat = a
        .format
        .parse()
        .map_err(|e| anyhow!("--format {}: {e}", a.format))?;
    let (meta, records) = read_run(&a.out)?;
    if !a.history.is_empty() {
        if format != ReportFormat::Html {
            bail!("--history makes an HTML dashboard: use --format html");
        }
        let mut runs = Vec::new();
        for dir in a.history.iter().chain([&a.out]) {
            let (m, r) = read_run(dir)?;
            let m =
                m.ok_or_else(|| anyhow!("{}: no run.json (an unfinished run?)", dir.display()))?;
            runs.push((m, r));
        }
        print!("{}", crossmatrix_results::render_html_history(&runs));
        return Ok(ExitCode::SUCCESS);
    }
    print!(
        "{}",
        render(
            format,
            &records,
            meta.as_ref(),
            &RenderOptions {
                color: stdout_color()
            }
        )?
    );
    Ok(ExitCode::SUCCESS)
}

pub fn compare(a: CompareArgs) -> Result<ExitCode> {
    use crossmatrix_results::{
        CompareFormat, CompareOptions, Gate, check_gates, compare_toolchains, render_comparison,
    };
    let format: CompareFormat = a
        .format
        .parse()
        .map_err(|_| anyhow!("--format {}: expected table, md or json", a.format))?;
    let gates = a
        .fail_on
        .iter()
        .map(|g| g.parse::<Gate>().map_err(|e| anyhow!("--fail-on {g}: {e}")))
        .collect::<Result<Vec<_>>>()?;
    let reused = |recs: &[CellRecord]| {
        recs.iter()
            .filter(|r| r.reused_from.is_some() && r.startup.is_some())
            .count()
    };
    let reused_timings;
    let cmp = match (&a.new, &a.toolchains) {
        (Some(new), None) => {
            let (_, base) = read_run(&a.base)?;
            let (_, newr) = read_run(new)?;
            reused_timings = reused(&base) + reused(&newr);
            let opts = CompareOptions {
                base_label: a.base.display().to_string(),
                new_label: new.display().to_string(),
                ..CompareOptions::default()
            };
            crossmatrix_results::compare(&base, &newr, &opts)
        }
        (None, Some(pair)) => {
            let (x, y) = pair.split_once(',').ok_or_else(|| {
                anyhow!("--toolchains {pair}: expected two toolchains as A,B (e.g. go1.22,go1.24)")
            })?;
            let (_, recs) = read_run(&a.base)?;
            reused_timings = reused(&recs);
            let names = crossmatrix_results::compare::toolchain_names(&recs);
            for t in [x, y] {
                if !names
                    .iter()
                    .any(|n| n == t || n.starts_with(&format!("{t}.")))
                {
                    bail!(
                        "--toolchains: {t} is not in {} (it has: {})",
                        a.base.display(),
                        names.join(", ")
                    );
                }
            }
            let opts = CompareOptions {
                base_label: x.into(),
                new_label: y.into(),
                ..CompareOptions::default()
            };
            compare_toolchains(&recs, x, y, &opts)
        }
        (Some(_), Some(_)) => {
            bail!("give either two run dirs or one run dir with --toolchains, not both")
        }
        (None, None) => {
            bail!("compare needs two run dirs (BASE NEW) or one run dir with --toolchains A,B")
        }
    };
    print!("{}", render_comparison(&cmp, format, stdout_color()));
    if reused_timings > 0 {
        eprintln!(
            "note: {reused_timings} record(s) compared here reuse startup figures measured in an \
             earlier run (`reused_from`); timings compare best when both sides are measured in \
             one sitting (`run --rerun`)"
        );
    }
    let violations = check_gates(&cmp, &gates);
    if !violations.is_empty() {
        eprintln!("{} gate violation(s):", violations.len());
        for v in &violations {
            eprintln!("  {v}");
        }
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn merge(a: MergeArgs) -> Result<ExitCode> {
    use crossmatrix_results::{MergeInput, merge};
    let mut inputs = Vec::new();
    for dir in &a.dirs {
        let (meta, records) = read_run(dir)?;
        let meta = meta.ok_or_else(|| {
            anyhow!(
                "{}: no run.json (the shard did not finish; re-run it with --resume)",
                dir.display()
            )
        })?;
        inputs.push(MergeInput {
            label: dir.display().to_string(),
            meta,
            records,
        });
    }
    let (meta, records) = merge(&inputs)?;
    let mut w =
        CellWriter::create(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    for r in &records {
        w.append(r)?;
    }
    write_run_meta(&a.out, &meta)?;
    eprintln!(
        "merged {} shard(s): {} cells ({} passed, {} failed) → {}",
        a.dirs.len(),
        records.len(),
        meta.totals.pass,
        meta.totals.fail,
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs inside the wasm sandbox: prints nothing of its own on stdout.
pub fn wasm_exec(a: WasmExecArgs) -> ExitCode {
    let run = wasm::WasmRun {
        args: a.args,
        // What Go's go_wasip1_wasm_exec passes: PWD and PATH.
        env: vec![
            ("PWD".into(), "/".into()),
            ("PATH".into(), "/usr/bin:/bin".into()),
        ],
        preopen: Some(PathBuf::from("/scratch")),
        timeout: Duration::from_millis(a.timeout_ms),
        max_memory_bytes: a.max_memory,
    };
    match wasm::exec_precompiled(&a.module, &run) {
        Ok(code) => ExitCode::from(u8::try_from(code & 0xff).unwrap_or(1)),
        Err(wasm::WasmError::Timeout) => {
            eprintln!("crossmatrix: wasm timeout after {} ms", a.timeout_ms);
            ExitCode::from(124)
        }
        Err(e @ (wasm::WasmError::MemoryLimit { .. } | wasm::WasmError::TableLimit { .. })) => {
            eprintln!("crossmatrix: wasm out of memory: {e}");
            ExitCode::from(137)
        }
        Err(e) => {
            eprintln!("crossmatrix: wasm trap: {e}");
            ExitCode::from(134)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn shard_auto_reads_ci_engines() {
        let bk = env_of(&[
            ("BUILDKITE_PARALLEL_JOB", "2"),
            ("BUILDKITE_PARALLEL_JOB_COUNT", "4"),
        ]);
        assert_eq!(
            resolve_shard("auto", &bk).unwrap(),
            Shard { index: 3, count: 4 }
        );
        let k8s = env_of(&[
            ("JOB_COMPLETION_INDEX", "0"),
            ("CROSSMATRIX_SHARD_COUNT", "3"),
        ]);
        assert_eq!(
            resolve_shard("auto", &k8s).unwrap(),
            Shard { index: 1, count: 3 }
        );
        let half = env_of(&[("JOB_COMPLETION_INDEX", "0")]);
        assert!(
            resolve_shard("auto", &half)
                .unwrap_err()
                .to_string()
                .contains("CROSSMATRIX_SHARD_COUNT")
        );
        assert!(
            resolve_shard("auto", &env_of(&[]))
                .unwrap_err()
                .to_string()
                .contains("no shard in the environment")
        );
        assert_eq!(
            resolve_shard("2/5", &env_of(&[])).unwrap(),
            Shard { index: 2, count: 5 }
        );
        let bad = env_of(&[
            ("BUILDKITE_PARALLEL_JOB", "x"),
            ("BUILDKITE_PARALLEL_JOB_COUNT", "4"),
        ]);
        assert!(resolve_shard("auto", &bad).is_err());
    }
}
