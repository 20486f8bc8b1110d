//! `plan`, `report`, `compare`, `history`, `merge`, `cache prune` and the internal `__wasm-exec`: each parses
//! what it was given, calls the library, and prints.

use crate::cli::{
    CacheArgs, CacheCommand, CompareArgs, HistoryArgs, MergeArgs, PlanArgs, ReportArgs,
    WasmExecArgs,
};
use anyhow::{Context, Result, anyhow, bail};
use crossmatrix_results::report::{RenderOptions, ReportFormat, render};
use crossmatrix_results::store::{CellWriter, read_cells, read_run_meta, write_run_meta};
use crossmatrix_results::{CellRecord, RunMeta};
use crossmatrix_sandbox::wasm;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

pub fn plan(a: PlanArgs) -> Result<ExitCode> {
    let p = crossmatrix_session::make_plan(&a.matrix.request("auto")?)?;
    match a.format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&p.plan.to_json())?),
        "github" => {
            if a.matrix.shard.is_some() {
                bail!("--format github lists every shard: drop --shard and give --shards N");
            }
            let m = crossmatrix_matrix::github_matrix(&p.plan, a.shards.max(1));
            println!("{}", serde_json::to_string(&m)?);
        }
        "table" => {
            let w = p.plan.cells.iter().map(|c| c.id.as_str().len()).max();
            let w = w.unwrap_or(0);
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

/// A run directory's metadata (when it finished) and records; unreadable lines are warned
/// about.
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
    // What the plan asked for and the result lacks: said on stderr (every format says it in
    // its totals line too), and not a success unless allowed.
    let incomplete = meta
        .as_ref()
        .map(|m| crossmatrix_results::Completeness::of(m, &records))
        .filter(|c| !c.is_complete());
    let status = match &incomplete {
        Some(c) => {
            let say = if a.allow_incomplete { "note" } else { "error" };
            eprintln!("{say}: {}: {}", a.out.display(), c.details(10));
            if a.allow_incomplete {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        None => ExitCode::SUCCESS,
    };
    if a.history.is_empty() {
        let opts = RenderOptions {
            color: stdout_color(),
        };
        // A `crossmatrix probe` run reads as its portability table.
        let text = if crossmatrix_results::is_trap_suite(&records) {
            crossmatrix_results::render_portability(format, &records, meta.as_ref(), &opts)?
        } else {
            render(format, &records, meta.as_ref(), &opts)?
        };
        print!("{text}");
        return Ok(status);
    }
    if format != ReportFormat::Html {
        bail!("--history makes an HTML dashboard: use --format html");
    }
    let mut runs = Vec::new();
    for dir in a.history.iter().chain([&a.out]) {
        let (m, r) = read_run(dir)?;
        let m = m.ok_or_else(|| anyhow!("{}: no run.json (an unfinished run?)", dir.display()))?;
        runs.push((m, r));
    }
    print!("{}", crossmatrix_results::render_html_history(&runs));
    Ok(status)
}

pub fn compare(a: CompareArgs) -> Result<ExitCode> {
    use crossmatrix_results::{CompareFormat, CompareRuns, Gate, check_gates, compare_runs};
    let format: CompareFormat = a
        .format
        .parse()
        .map_err(|_| anyhow!("--format {}: expected table, md or json", a.format))?;
    let gates = a
        .fail_on
        .iter()
        .map(|g| g.parse::<Gate>().map_err(|e| anyhow!("--fail-on {g}: {e}")))
        .collect::<Result<Vec<_>>>()?;
    let what = match (&a.new, &a.toolchains, &a.emulators) {
        (Some(new), None, None) => CompareRuns::Dirs { base: &a.base, new },
        (None, Some(pair), None) => CompareRuns::Toolchains { run: &a.base, pair },
        (None, None, Some(pair)) => CompareRuns::Emulators { run: &a.base, pair },
        (_, Some(_), Some(_)) => bail!("give --toolchains or --emulators, not both"),
        (Some(_), _, _) => {
            bail!("give either two run dirs or one run dir with --toolchains/--emulators, not both")
        }
        (None, None, None) => bail!(
            "compare needs two run dirs (BASE NEW) or one run dir with --toolchains A,B or --emulators A,B"
        ),
    };
    let c = compare_runs(&what)?;
    for w in &c.warnings {
        eprintln!("warning: {w}");
    }
    let cmp = &c.comparison;
    print!(
        "{}",
        crossmatrix_results::render_comparison(cmp, format, stdout_color())
    );
    if c.reused_timings > 0 {
        eprintln!(
            "note: {} record(s) compared here reuse startup figures measured in an \
             earlier run (`reused_from`); timings compare best when both sides are measured in \
             one sitting (`run --rerun`)",
            c.reused_timings
        );
    }
    let mut violations: Vec<String> = check_gates(cmp, &gates)
        .iter()
        .map(ToString::to_string)
        .collect();
    for i in &c.incomplete {
        eprintln!("warning: {i}");
        // A gate never passes on cells that were planned and never ran.
        if !gates.is_empty() && !a.allow_incomplete {
            violations.push(format!(
                "{i} (pass --allow-incomplete to judge what is there)"
            ));
        }
    }
    Ok(gate_exit(&violations))
}

pub fn history(a: HistoryArgs) -> Result<ExitCode> {
    use crossmatrix_results::history::{
        DetectOptions, History, HistoryFormat, HistoryGate, check_history_gates, render_history,
    };
    let format: HistoryFormat = a
        .format
        .parse()
        .map_err(|e| anyhow!("--format {}: {e}", a.format))?;
    let gates = a
        .fail_on
        .iter()
        .map(|g| {
            g.parse::<HistoryGate>()
                .map_err(|e| anyhow!("--fail-on {g}: {e}"))
        })
        .collect::<Result<Vec<_>>>()?;
    let filter = a
        .series
        .as_deref()
        .map(|re| {
            regex::Regex::new(re)
                .map_err(|e| anyhow!("--series {re}: not a regular expression: {e}"))
        })
        .transpose()?;
    if !(a.min_change >= 0.0 && a.min_change.is_finite()) {
        bail!(
            "--min-change {}: expected a percentage, 0 or more",
            a.min_change
        );
    }
    if !(a.max_p > 0.0 && a.max_p <= 1.0) {
        bail!("--max-p {}: expected a p-value in (0, 1]", a.max_p);
    }
    let opts = DetectOptions {
        min_change_pct: a.min_change,
        max_p: a.max_p,
        ..DetectOptions::default()
    };
    let mut runs = Vec::with_capacity(a.dirs.len());
    for dir in &a.dirs {
        runs.push(read_night(dir)?);
    }
    if a.dirs.len() < opts.min_nights() {
        bail!(
            "history needs at least {} nights (run dirs), got {}: a change in a time series needs \
             {} nights on each side before it can be told from a slow night",
            opts.min_nights(),
            a.dirs.len(),
            opts.min_segment
        );
    }
    // Oldest first, whatever order the shell gave; nights with the same start keep theirs.
    runs.sort_by_key(|(meta, _)| started_at(&meta.started_at));
    let mut h = History::collect(&runs);
    if let Some(re) = &filter {
        let total = h.series.len();
        h.series.retain(|s| {
            let mut label = format!("{} {}", s.name, s.unit);
            if let Some(c) = &s.counter {
                label.push_str(&format!(" [{c}]"));
            }
            re.is_match(&label)
        });
        if h.series.is_empty() {
            bail!(
                "--series {}: matches none of the {total} series of these nights",
                re.as_str()
            );
        }
    }
    h.detect(&opts);
    print!("{}", render_history(&h, format));
    let violations = check_history_gates(&h, &gates);
    Ok(gate_exit(&violations))
}

/// One night of `history`: a run dir's run.json and records, or an error that says which file
/// is missing and what the directory should hold.
fn read_night(dir: &Path) -> Result<(RunMeta, Vec<CellRecord>)> {
    if !dir.is_dir() {
        bail!(
            "{}: no such directory (history takes run dirs: cells.jsonl + run.json)",
            dir.display()
        );
    }
    for file in [
        crossmatrix_results::RUN_META_FILE,
        crossmatrix_results::CELLS_FILE,
    ] {
        if !dir.join(file).is_file() {
            bail!(
                "{} is not a run dir: it has no {file} (a run dir holds cells.jsonl and run.json, \
                 as `crossmatrix run --out` or `merge --out` write them; run.json appears when \
                 the run starts)",
                dir.display()
            );
        }
    }
    let meta = read_run_meta(dir).with_context(|| format!("reading {}", dir.display()))?;
    let read = read_cells(dir).with_context(|| format!("reading {}", dir.display()))?;
    for w in &read.warnings {
        eprintln!("warning: {w}");
    }
    Ok((meta, read.records))
}

/// A run's start as a sortable instant; an unparsable one sorts first, by its text.
fn started_at(s: &str) -> (i64, String) {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| (t.timestamp_millis(), String::new()))
        .unwrap_or((i64::MIN, s.to_string()))
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
        let label = dir.display().to_string();
        inputs.push(MergeInput {
            label,
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
    // Written either way (what the shards brought is kept), but a merge that lacks shards or
    // planned cells is not a success unless allowed.
    let complete = crossmatrix_results::Completeness::of(&meta, &records);
    if complete.is_complete() {
        return Ok(ExitCode::SUCCESS);
    }
    if a.allow_incomplete {
        eprintln!("note: {}", complete.details(10));
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "error: {}\n(the merge is written; pass --allow-incomplete to accept it)",
        complete.details(10)
    );
    Ok(ExitCode::from(1))
}

/// Runs inside the wasm sandbox: prints nothing of its own on stdout.
pub fn cache(a: CacheArgs) -> Result<ExitCode> {
    let CacheCommand::Prune(a) = a.command;
    let dir = a
        .cache_dir
        .unwrap_or_else(crossmatrix_toolchains::default_cache_dir);
    let unused_for = Duration::from_secs_f64(a.unused_for);
    let reports = crossmatrix_runner::cache::prune::prune(&dir, unused_for, a.dry_run);
    let verb = if a.dry_run { "would remove" } else { "removed" };
    println!(
        "{}: entries unused for {}",
        dir.display(),
        age_label(unused_for)
    );
    let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
    let (mut n, mut bytes) = (0, 0);
    for r in &reports {
        println!(
            "  {:<34} {verb} {:>6} ({:>8.1} MiB), kept {:>6} ({:>8.1} MiB)",
            format!("{} ({}/)", r.what, r.store),
            r.removed,
            mib(r.removed_bytes),
            r.kept,
            mib(r.kept_bytes)
        );
        n += r.removed;
        bytes += r.removed_bytes;
    }
    println!("{verb} {n} entries, {:.1} MiB", mib(bytes));
    Ok(ExitCode::SUCCESS)
}

fn age_label(d: Duration) -> String {
    let s = d.as_secs();
    let (n, unit) = match s {
        _ if s >= 86_400 && s % 86_400 == 0 => (s / 86_400, "day"),
        _ if s >= 3_600 && s % 3_600 == 0 => (s / 3_600, "hour"),
        _ if s >= 60 && s % 60 == 0 => (s / 60, "minute"),
        _ => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

pub fn wasm_exec(a: WasmExecArgs) -> ExitCode {
    // What Go's go_wasip1_wasm_exec passes: PWD and PATH (a test cell starts in its package).
    let mut env: Vec<(String, String)> = vec![
        ("PWD".into(), "/".into()),
        ("PATH".into(), "/usr/bin:/bin".into()),
    ];
    for kv in &a.env {
        if let Some((k, v)) = kv.split_once('=') {
            env.retain(|(old, _)| old != k);
            env.push((k.into(), v.into()));
        }
    }
    let run = wasm::WasmRun {
        args: a.args,
        env,
        preopen: Some(a.preopen.clone()),
        timeout: Duration::from_millis(a.timeout_ms),
        max_memory_bytes: a.max_memory,
        // The sandboxed process itself: stopped by signals, not by a handle.
        abort: crossmatrix_sandbox::Abort::default(),
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

/// The exit code of a gated command: 0 without violations, else 1 with each on stderr.
fn gate_exit(violations: &[impl std::fmt::Display]) -> ExitCode {
    if violations.is_empty() {
        return ExitCode::SUCCESS;
    }
    eprintln!("{} gate violation(s):", violations.len());
    for v in violations {
        eprintln!("  {v}");
    }
    ExitCode::from(1)
}
