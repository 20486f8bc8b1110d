//! The portability table of a trap-suite run (`crossmatrix probe`): which environment traps
//! each environment (toolchain × target × cgo mode × rootfs) falls into, then the CPU-level
//! probe (a binary one level above its arch's baseline on a CPU model without that level and
//! one with it), then every miss with its cause and hint. Rendered from the same records as
//! every other report, in table, Markdown, HTML, JSON and JUnit form.

use super::html::{esc, page};
use super::rootfs_notes::with_passing_rootfs;
use super::{RenderOptions, ReportError, ReportFormat, render, totals_line, wall_time_note};
use crate::Cause;
use crate::schema::{CellRecord, CellStatus, RunMeta, StepStatus};
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use std::fmt::Write as _;
use std::time::Duration;
use unicode_width::UnicodeWidthStr;

/// Every program of the trap suite is named `trap-<probe>`; the CPU-level ones
/// `trap-cpu-<model>`.
pub const TRAP_PROGRAM_PREFIX: &str = "trap-";
const CPU_PREFIX: &str = "cpu-";

/// Whether `records` come from the trap suite (every program a `trap-` one), so that
/// `crossmatrix report` shows them as the portability table.
pub fn is_trap_suite(records: &[CellRecord]) -> bool {
    !records.is_empty()
        && records
            .iter()
            .all(|r| r.program.starts_with(TRAP_PROGRAM_PREFIX))
}

/// Renders a trap-suite run as the portability table in `format` (table, md, html, json,
/// junit); `benchstat` and the dashboard formats have no table and render as usual.
pub fn render_portability(
    format: ReportFormat,
    records: &[CellRecord],
    meta: Option<&RunMeta>,
    opts: &RenderOptions,
) -> Result<String, ReportError> {
    // Rows and columns follow the plan (`cells.jsonl` is in the order cells finished).
    let mut noted = with_passing_rootfs(records).into_owned();
    if let Some(meta) = meta {
        crate::resume::in_plan_order(&mut noted, &meta.planned);
    }
    let grid = Grid::new(&noted);
    match format {
        ReportFormat::Table => Ok(table(&grid, records, meta)),
        ReportFormat::Markdown => Ok(markdown(&grid, records, meta)),
        ReportFormat::Html => Ok(html(&grid, records, meta)),
        ReportFormat::Json => json(&grid, records),
        ReportFormat::Junit => junit(&grid, meta),
        ReportFormat::Benchstat
        | ReportFormat::Bmf
        | ReportFormat::GithubBenchmark
        | ReportFormat::OpenMetrics => render(format, records, meta, opts),
    }
}

/// Where a probe ran: one row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Env {
    toolchain: String,
    target: String,
    mode: String,
    rootfs: String,
}

impl Env {
    fn of(r: &CellRecord) -> Env {
        Env {
            toolchain: r.toolchain.name.clone(),
            target: r.target_label(),
            mode: r.mode(),
            rootfs: r.rootfs.clone(),
        }
    }
    fn label(&self) -> String {
        format!(
            "{} {} {} {}",
            self.toolchain, self.target, self.mode, self.rootfs
        )
    }
}

/// How one probe did in one environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Ok,
    Miss(Option<Cause>),
    /// Not applicable (a planner skip: e.g. libc's resolver on cgo=0).
    Skipped,
    /// Built, but nothing here can run it.
    Built,
}

impl Mark {
    fn of(r: &CellRecord) -> Mark {
        match r.status {
            CellStatus::Pass if r.cause.is_none() => Mark::Ok,
            CellStatus::Pass | CellStatus::Fail => Mark::Miss(r.cause),
            CellStatus::Skipped => Mark::Skipped,
            CellStatus::Built => Mark::Built,
        }
    }
    /// `ok`, `-`, `built`, or `✗ ` and the cause without its `missing-` prefix.
    fn text(self) -> String {
        match self {
            Mark::Ok => "ok".into(),
            Mark::Skipped => "-".into(),
            Mark::Built => "built".into(),
            Mark::Miss(None) => "✗".into(),
            Mark::Miss(Some(c)) => format!("✗ {}", short_cause(c)),
        }
    }
    fn status(self) -> &'static str {
        match self {
            Mark::Ok => "ok",
            Mark::Miss(_) => "miss",
            Mark::Skipped => "n/a",
            Mark::Built => "built",
        }
    }
}

fn short_cause(c: Cause) -> &'static str {
    let code = c.code();
    code.strip_prefix("missing-").unwrap_or(code)
}

/// A CPU-level cell: the binary's level and the CPU model it ran on.
struct CpuRow<'a> {
    rec: &'a CellRecord,
    model: String,
    level: String,
}

/// The records arranged as environments × probes, plus the CPU-level rows.
struct Grid<'a> {
    probes: Vec<String>,
    envs: Vec<Env>,
    /// `cells[env][probe]`.
    cells: Vec<Vec<Option<&'a CellRecord>>>,
    cpu: Vec<CpuRow<'a>>,
}

impl<'a> Grid<'a> {
    fn new(records: &'a [CellRecord]) -> Grid<'a> {
        let mut probes: Vec<String> = Vec::new();
        let mut envs: Vec<Env> = Vec::new();
        let mut placed: Vec<(usize, usize, &CellRecord)> = Vec::new();
        let mut cpu = Vec::new();
        for r in records {
            let probe = r
                .program
                .strip_prefix(TRAP_PROGRAM_PREFIX)
                .unwrap_or(&r.program);
            if let Some(model) = probe.strip_prefix(CPU_PREFIX) {
                let level = match &r.target.variant {
                    Some(v) => match v.split_once('=') {
                        Some((k, l)) => format!("{}={l}", k.to_ascii_uppercase()),
                        None => v.clone(),
                    },
                    None => "default".into(),
                };
                cpu.push(CpuRow {
                    rec: r,
                    model: r
                        .run
                        .as_ref()
                        .and_then(|run| run.cpu.clone())
                        .unwrap_or_else(|| model.to_string()),
                    level,
                });
                continue;
            }
            let p = match probes.iter().position(|p| p == probe) {
                Some(i) => i,
                None => {
                    probes.push(probe.to_string());
                    probes.len() - 1
                }
            };
            let env = Env::of(r);
            let e = match envs.iter().position(|x| *x == env) {
                Some(i) => i,
                None => {
                    envs.push(env);
                    envs.len() - 1
                }
            };
            placed.push((e, p, r));
        }
        // By toolchain and target; the plan lists each model's cells together.
        cpu.sort_by(|a, b| {
            (&a.rec.toolchain.name, a.rec.target_label())
                .cmp(&(&b.rec.toolchain.name, b.rec.target_label()))
        });
        let mut cells = vec![vec![None; probes.len()]; envs.len()];
        for (e, p, r) in placed {
            cells[e][p] = Some(r);
        }
        Grid {
            probes,
            envs,
            cells,
            cpu,
        }
    }

    /// Every miss, grouped by cause and hint; within a group, the environments that missed
    /// the same probes share a line.
    fn misses(&self) -> Vec<Miss> {
        // (cause, hint) → (place, probes missed there), in first-seen order.
        let mut groups: Vec<(Option<Cause>, String, Vec<PlaceProbes>)> = Vec::new();
        let mut add = |probe: &str, r: &CellRecord, place: Place| {
            let Mark::Miss(cause) = Mark::of(r) else {
                return;
            };
            let hint = r.hint.clone().unwrap_or_default();
            let i = match groups.iter().position(|g| g.0 == cause && g.1 == hint) {
                Some(i) => i,
                None => {
                    groups.push((cause, hint, Vec::new()));
                    groups.len() - 1
                }
            };
            let places = &mut groups[i].2;
            match places.iter_mut().find(|(p, _)| *p == place) {
                Some((_, probes)) => probes.push(probe.to_string()),
                None => places.push((place, vec![probe.to_string()])),
            }
        };
        for (p, probe) in self.probes.iter().enumerate() {
            for (e, env) in self.envs.iter().enumerate() {
                if let Some(r) = self.cells[e][p] {
                    add(probe, r, Place::of_env(env));
                }
            }
        }
        for row in &self.cpu {
            let place = Place([
                row.rec.toolchain.name.clone(),
                format!("{}/{}", row.rec.target.goos, row.rec.target.goarch),
                row.level.clone(),
                format!("qemu -cpu {}", row.model),
            ]);
            add("cpu-level", row.rec, place);
        }
        // The traps first, in column order; failures of other kinds (a glibc binary on a musl
        // root misses every probe) after them.
        groups.sort_by_key(|(cause, _, _)| !cause.is_some_and(Cause::is_environment_trap));
        groups
            .into_iter()
            .map(|(cause, hint, places)| {
                // Places that missed the same probes, each set once, in first-seen order.
                let mut lines: Vec<(Vec<String>, Vec<Place>)> = Vec::new();
                for (place, probes) in places {
                    match lines.iter_mut().find(|(p, _)| *p == probes) {
                        Some((_, ps)) => ps.push(place),
                        None => lines.push((probes, vec![place])),
                    }
                }
                Miss {
                    cause,
                    hint,
                    lines: lines
                        .into_iter()
                        .map(|(probes, places)| (probes.join(", "), compact(&places)))
                        .collect(),
                }
            })
            .collect()
    }
}

/// A place and the probes that missed there.
type PlaceProbes = (Place, Vec<String>);

/// Where probes ran, as four parts: toolchain, target, mode, rootfs (for the CPU level:
/// toolchain, target, level, CPU model).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Place([String; 4]);

impl Place {
    fn of_env(e: &Env) -> Place {
        Place([
            e.toolchain.clone(),
            e.target.clone(),
            e.mode.clone(),
            e.rootfs.clone(),
        ])
    }
}

/// `go1.22, go1.24 × linux/amd64 × cgo0, cgo1-musl × scratch` when the places are exactly
/// the product of their parts; else each place in full, `; `-separated.
fn compact(places: &[Place]) -> String {
    let mut parts: [Vec<&str>; 4] = Default::default();
    for p in places {
        for (values, v) in parts.iter_mut().zip(&p.0) {
            if !values.contains(&v.as_str()) {
                values.push(v);
            }
        }
    }
    let product: usize = parts.iter().map(Vec::len).product();
    if product == places.len() {
        parts
            .iter()
            .map(|v| v.join(", "))
            .collect::<Vec<_>>()
            .join(" × ")
    } else {
        places
            .iter()
            .map(|p| p.0.join(" "))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The misses that share a cause and hint: which probes missed where.
struct Miss {
    cause: Option<Cause>,
    hint: String,
    /// (probes, places).
    lines: Vec<(String, String)>,
}

impl Miss {
    fn cause_code(&self) -> &'static str {
        self.cause.map_or("fail", Cause::code)
    }
}

/// Aligned plain-text columns (left-aligned, two spaces apart, no trailing blanks).
fn columns(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; cols];
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.width());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, c) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(c);
            line.push_str(&" ".repeat(widths[i].saturating_sub(c.width())));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn table(grid: &Grid, records: &[CellRecord], meta: Option<&RunMeta>) -> String {
    let mut out = String::new();
    if !grid.envs.is_empty() {
        let _ = writeln!(
            out,
            "Environment traps: {} probes × {} environments (ok: the environment has what the probe needs; ✗: the cause of the miss; -: not applicable)\n",
            grid.probes.len(),
            grid.envs.len()
        );
        let mut rows = vec![
            ["TOOLCHAIN", "TARGET", "MODE", "ROOTFS"]
                .iter()
                .map(|s| s.to_string())
                .chain(grid.probes.iter().cloned())
                .collect::<Vec<_>>(),
        ];
        for (e, env) in grid.envs.iter().enumerate() {
            let mut row = vec![
                env.toolchain.clone(),
                env.target.clone(),
                env.mode.clone(),
                env.rootfs.clone(),
            ];
            row.extend(
                grid.cells[e]
                    .iter()
                    .map(|c| c.map_or(String::new(), |r| Mark::of(r).text())),
            );
            rows.push(row);
        }
        out.push_str(&columns(&rows));
        out.push('\n');
    }
    if !grid.cpu.is_empty() {
        out.push_str("CPU level: a binary built above its arch's baseline, on a CPU model without that level and one with it\n\n");
        let mut rows = vec![vec![
            "TOOLCHAIN".to_string(),
            "TARGET".into(),
            "LEVEL".into(),
            "CPU".into(),
            "RESULT".into(),
        ]];
        for row in &grid.cpu {
            rows.push(vec![
                row.rec.toolchain.name.clone(),
                format!("{}/{}", row.rec.target.goos, row.rec.target.goarch),
                row.level.clone(),
                row.model.clone(),
                Mark::of(row.rec).text(),
            ]);
        }
        out.push_str(&columns(&rows));
        out.push('\n');
    }
    let misses = grid.misses();
    if !misses.is_empty() {
        out.push_str("Misses, by cause and hint:\n");
        for m in &misses {
            let _ = writeln!(out, "  ✗ {}: {}", m.cause_code(), one_line(&m.hint));
            for (probes, places) in &m.lines {
                let _ = writeln!(out, "      {probes} on {places}");
            }
        }
        out.push('\n');
    }
    out.push_str(&totals_line(records));
    if let Some(meta) = meta {
        out.push_str("; ");
        out.push_str(&wall_time_note(meta, records));
    }
    out.push('\n');
    out
}

/// Free text inside one Markdown table cell.
fn md_cell(s: &str) -> String {
    one_line(s).replace('|', "\\|")
}

fn markdown(grid: &Grid, records: &[CellRecord], meta: Option<&RunMeta>) -> String {
    let mut out = String::from("## crossmatrix probe: will it run there?\n\n");
    let _ = write!(out, "**{}**", totals_line(records));
    if let Some(meta) = meta {
        let _ = write!(out, " · {}", wall_time_note(meta, records));
    }
    out.push_str("\n\n");
    if !grid.envs.is_empty() {
        out.push_str("### Environment traps\n\n| toolchain | target | mode | rootfs |");
        for p in &grid.probes {
            let _ = write!(out, " {} |", md_cell(p));
        }
        out.push_str("\n|---|---|---|---|");
        out.push_str(&"---|".repeat(grid.probes.len()));
        out.push('\n');
        for (e, env) in grid.envs.iter().enumerate() {
            let _ = write!(
                out,
                "| {} | {} | {} | {} |",
                md_cell(&env.toolchain),
                md_cell(&env.target),
                env.mode,
                md_cell(&env.rootfs)
            );
            for c in &grid.cells[e] {
                let text = c.map_or(String::new(), |r| match Mark::of(r) {
                    Mark::Miss(Some(cause)) => format!("✗ `{}`", cause.code()),
                    m => m.text(),
                });
                let _ = write!(out, " {text} |");
            }
            out.push('\n');
        }
        out.push('\n');
    }
    if !grid.cpu.is_empty() {
        out.push_str(
            "### CPU level\n\n| toolchain | target | level | CPU | result |\n|---|---|---|---|---|\n",
        );
        for row in &grid.cpu {
            let result = match Mark::of(row.rec) {
                Mark::Miss(Some(cause)) => format!("✗ `{}`", cause.code()),
                m => m.text(),
            };
            let _ = writeln!(
                out,
                "| {} | {}/{} | {} | {} | {result} |",
                md_cell(&row.rec.toolchain.name),
                row.rec.target.goos,
                row.rec.target.goarch,
                md_cell(&row.level),
                md_cell(&row.model)
            );
        }
        out.push('\n');
    }
    let misses = grid.misses();
    out.push_str("### Misses\n\n");
    if misses.is_empty() {
        out.push_str("None.\n");
    } else {
        out.push_str("| cause | probes | where | hint |\n|---|---|---|---|\n");
        for m in &misses {
            for (probes, places) in &m.lines {
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} | {} |",
                    m.cause_code(),
                    md_cell(probes),
                    md_cell(places),
                    md_cell(&m.hint)
                );
            }
        }
    }
    out
}

const CSS_EXTRA: &str = "<style>td.ok{background:#dafbe1}td.miss{background:#ffebe9}td.na{color:#8c959f}td.built{background:#ddf4ff}</style>\n";

fn html(grid: &Grid, records: &[CellRecord], meta: Option<&RunMeta>) -> String {
    let mut body = String::from(CSS_EXTRA);
    let _ = write!(
        body,
        "<h1>crossmatrix probe: will it run there?</h1>\n<p class=\"totals\">{}",
        esc(&totals_line(records))
    );
    if let Some(m) = meta {
        let _ = write!(body, " · {}", esc(&wall_time_note(m, records)));
    }
    body.push_str("</p>\n");
    let class = |m: Mark| match m {
        Mark::Ok => "ok",
        Mark::Miss(_) => "miss",
        Mark::Skipped => "na",
        Mark::Built => "built",
    };
    let cell_html = |r: Option<&CellRecord>| -> String {
        let Some(r) = r else {
            return "<td></td>".into();
        };
        let m = Mark::of(r);
        let mut title = r.id.clone();
        if let Some(h) = r.hint.as_deref().filter(|_| m != Mark::Ok) {
            title.push('\n');
            title.push_str(h);
        }
        let text = match m {
            Mark::Miss(Some(c)) => format!("✗ {}", c.code()),
            m => m.text(),
        };
        format!(
            "<td class=\"{}\" title=\"{}\">{}</td>",
            class(m),
            esc(&title),
            esc(&text)
        )
    };
    if !grid.envs.is_empty() {
        body.push_str("<h2>Environment traps</h2>\n<table>\n<tr><th>toolchain</th><th>target</th><th>mode</th><th>rootfs</th>");
        for p in &grid.probes {
            let _ = write!(body, "<th>{}</th>", esc(p));
        }
        body.push_str("</tr>\n");
        for (e, env) in grid.envs.iter().enumerate() {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
                esc(&env.toolchain),
                esc(&env.target),
                esc(&env.mode),
                esc(&env.rootfs)
            );
            for c in &grid.cells[e] {
                body.push_str(&cell_html(*c));
            }
            body.push_str("</tr>\n");
        }
        body.push_str("</table>\n");
    }
    if !grid.cpu.is_empty() {
        body.push_str("<h2>CPU level</h2>\n<table>\n<tr><th>toolchain</th><th>target</th><th>level</th><th>CPU</th><th>result</th></tr>\n");
        for row in &grid.cpu {
            let _ = writeln!(
                body,
                "<tr><td>{}</td><td>{}/{}</td><td>{}</td><td>{}</td>{}</tr>",
                esc(&row.rec.toolchain.name),
                esc(&row.rec.target.goos),
                esc(&row.rec.target.goarch),
                esc(&row.level),
                esc(&row.model),
                cell_html(Some(row.rec))
            );
        }
        body.push_str("</table>\n");
    }
    let misses = grid.misses();
    if !misses.is_empty() {
        body.push_str("<h2>Misses</h2>\n<table>\n<tr><th>cause</th><th>probes</th><th>where</th><th>hint</th></tr>\n");
        for m in &misses {
            for (probes, places) in &m.lines {
                let _ = writeln!(
                    body,
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(m.cause_code()),
                    esc(probes),
                    esc(places),
                    esc(&m.hint)
                );
            }
        }
        body.push_str("</table>\n");
    }
    page("crossmatrix probe", &body)
}

fn json(grid: &Grid, records: &[CellRecord]) -> Result<String, ReportError> {
    let result = |r: &CellRecord| {
        serde_json::json!({
            "id": r.id,
            "status": Mark::of(r).status(),
            "cause": r.cause.filter(|_| Mark::of(r) != Mark::Ok),
            "hint": r.hint.as_ref().filter(|_| Mark::of(r) != Mark::Ok),
        })
    };
    let mut results = Vec::new();
    for (e, env) in grid.envs.iter().enumerate() {
        for (p, probe) in grid.probes.iter().enumerate() {
            if let Some(r) = grid.cells[e][p] {
                let mut v = result(r);
                v["probe"] = probe.as_str().into();
                v["toolchain"] = env.toolchain.as_str().into();
                v["toolchain_version"] = r.toolchain.version.as_str().into();
                v["target"] = env.target.as_str().into();
                v["mode"] = env.mode.as_str().into();
                v["rootfs"] = env.rootfs.as_str().into();
                results.push(v);
            }
        }
    }
    let cpu: Vec<serde_json::Value> = grid
        .cpu
        .iter()
        .map(|row| {
            let mut v = result(row.rec);
            v["toolchain"] = row.rec.toolchain.name.as_str().into();
            v["toolchain_version"] = row.rec.toolchain.version.as_str().into();
            v["target"] = format!("{}/{}", row.rec.target.goos, row.rec.target.goarch).into();
            v["level"] = row.level.as_str().into();
            v["cpu"] = row.model.as_str().into();
            v["executor"] = row.rec.run.as_ref().map(|run| run.executor.clone()).into();
            v
        })
        .collect();
    let doc = serde_json::json!({
        "suite": "traps",
        "probes": grid.probes,
        "environments": grid.envs.iter().map(|e| serde_json::json!({
            "toolchain": e.toolchain, "target": e.target, "mode": e.mode, "rootfs": e.rootfs,
        })).collect::<Vec<_>>(),
        "results": results,
        "cpu": cpu,
        "totals": crate::schema::Totals::from_records(records),
    });
    let mut out = serde_json::to_string_pretty(&doc)?;
    out.push('\n');
    Ok(out)
}

fn junit(grid: &Grid, meta: Option<&RunMeta>) -> Result<String, ReportError> {
    let mut report = Report::new("crossmatrix probe");
    if let Some(meta) = meta {
        report.set_time(Duration::from_millis(meta.wall_ms));
        if let Ok(ts) = chrono::DateTime::parse_from_rfc3339(&meta.started_at) {
            report.set_timestamp(ts);
        }
    }
    let case = |name: String, classname: &str, r: &CellRecord| {
        let status = match Mark::of(r) {
            Mark::Ok | Mark::Built => TestCaseStatus::success(),
            Mark::Skipped => {
                let mut s = TestCaseStatus::skipped();
                if let Some(h) = &r.hint {
                    s.set_message(h.as_str());
                }
                s
            }
            Mark::Miss(cause) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_type(cause.map_or("fail", Cause::code));
                if let Some(h) = &r.hint {
                    s.set_message(h.as_str());
                }
                if let Some(run) = r.run.as_ref().filter(|run| run.status == StepStatus::Fail) {
                    let text = format!(
                        "exit code {}\n--- stderr ---\n{}",
                        run.exit_code.map_or("-".into(), |c| c.to_string()),
                        run.stderr_tail
                    );
                    s.set_description(text);
                } else if r.build.status == StepStatus::Fail {
                    s.set_description(r.build.log_tail.as_str());
                }
                s
            }
        };
        let mut c = TestCase::new(name, status);
        c.set_classname(classname);
        c.set_time(Duration::from_millis(r.duration_ms()));
        c.add_property(Property::new("cell", r.id.as_str()));
        c
    };
    for (e, env) in grid.envs.iter().enumerate() {
        let label = env.label();
        let mut suite = TestSuite::new(label.as_str());
        for (p, probe) in grid.probes.iter().enumerate() {
            if let Some(r) = grid.cells[e][p] {
                suite.add_test_case(case(probe.clone(), &label, r));
            }
        }
        report.add_test_suite(suite);
    }
    if !grid.cpu.is_empty() {
        let mut suite = TestSuite::new("cpu-level");
        for row in &grid.cpu {
            let class = format!("{} {}", row.rec.toolchain.name, row.rec.target_label());
            suite.add_test_case(case(format!("on {}", row.model), &class, row.rec));
        }
        report.add_test_suite(suite);
    }
    Ok(report.to_string()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{check_golden, fixture_meta, fixture_records};

    /// A small probe run: tzdata and localhost on scratch and glibc, the cgo resolver skipped
    /// on cgo=0, and a CPU-level pair.
    pub(crate) fn trap_records() -> Vec<CellRecord> {
        let base = fixture_records()[1].clone();
        let mk = |rootfs: &str,
                  probe: &str,
                  status: CellStatus,
                  cause: Option<Cause>,
                  hint: &str| {
            let mut r = base.clone();
            r.cgo = 0;
            r.libc = None;
            r.rootfs = rootfs.into();
            r.program = format!("trap-{probe}");
            r.id = format!("go1.24/linux-arm64/cgo0/rootfs-{rootfs}/trap-{probe}");
            r.status = status;
            r.cause = cause;
            r.hint = (!hint.is_empty()).then(|| hint.to_string());
            r.startup = None;
            if let Some(run) = r.run.as_mut() {
                if status == CellStatus::Fail {
                    run.status = StepStatus::Fail;
                    run.exit_code = Some(1);
                    run.cause = cause;
                    run.hint = r.hint.clone();
                    run.stderr_tail = match probe {
                        "tzdata" => "unknown time zone Asia/Shanghai\n".into(),
                        _ => "lookup localhost on [::1]:53: read udp [::1]:40154->[::1]:53: read: connection refused\n".into(),
                    };
                }
            }
            r
        };
        let mut recs = vec![
            mk(
                "scratch",
                "tzdata",
                CellStatus::Fail,
                Some(Cause::MissingTzdata),
                "scratch lacks /usr/share/zoneinfo, so time.LoadLocation fails (unknown time zone Asia/Shanghai): import _ \"time/tzdata\"",
            ),
            mk(
                "scratch",
                "localhost",
                CellStatus::Fail,
                Some(Cause::DnsConfig),
                "scratch lacks /etc/hosts and /etc/resolv.conf | so Go's own resolver (cgo=0) cannot resolve localhost",
            ),
            mk(
                "scratch",
                "localhost-cgo",
                CellStatus::Skipped,
                Some(Cause::UnsupportedTarget),
                "libc's resolver needs a cgo=1 binary",
            ),
            mk("glibc", "tzdata", CellStatus::Pass, None, ""),
            mk("glibc", "localhost", CellStatus::Pass, None, ""),
            mk(
                "glibc",
                "localhost-cgo",
                CellStatus::Skipped,
                Some(Cause::UnsupportedTarget),
                "libc's resolver needs a cgo=1 binary",
            ),
        ];
        for (model, pass) in [("Nehalem", false), ("Haswell", true)] {
            let mut r = base.clone();
            r.cgo = 0;
            r.libc = None;
            r.rootfs = "scratch".into();
            r.target.goarch = "amd64".into();
            r.target.variant = Some("goamd64=v3".into());
            r.program = format!("trap-cpu-{model}");
            r.id = format!("go1.24/linux-amd64-goamd64v3/cgo0/rootfs-scratch/trap-cpu-{model}");
            r.startup = None;
            if let Some(run) = r.run.as_mut() {
                run.executor = "qemu-direct".into();
                run.cpu = Some(model.into());
            }
            if !pass {
                r.status = CellStatus::Fail;
                r.cause = Some(Cause::CpuLevel);
                r.hint = Some("built with GOAMD64=v3, which qemu -cpu Nehalem lacks".into());
            }
            recs.push(r);
        }
        recs
    }

    fn rendered(format: ReportFormat) -> String {
        render_portability(
            format,
            &trap_records(),
            Some(&fixture_meta()),
            &RenderOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn rows_and_columns_follow_the_plan() {
        let mut meta = fixture_meta();
        let recs = trap_records();
        meta.planned = recs.iter().map(|r| r.id.clone()).collect();
        let mut shuffled = recs.clone();
        shuffled.reverse();
        let opts = RenderOptions::default();
        assert_eq!(
            render_portability(ReportFormat::Table, &shuffled, Some(&meta), &opts).unwrap(),
            render_portability(ReportFormat::Table, &recs, Some(&meta), &opts).unwrap()
        );
    }

    #[test]
    fn detects_the_suite() {
        assert!(is_trap_suite(&trap_records()));
        assert!(!is_trap_suite(&fixture_records()));
        assert!(!is_trap_suite(&[]));
    }

    #[test]
    fn table_golden() {
        let out = rendered(ReportFormat::Table);
        assert!(out.contains("✗ tzdata"), "{out}");
        assert!(out.contains("passes on rootfs glibc: scratch lacks /usr/share/zoneinfo"));
        check_golden("portability.txt", &out);
    }

    #[test]
    fn markdown_golden() {
        let out = rendered(ReportFormat::Markdown);
        assert!(out.contains("| go1.24 | linux/arm64 | cgo0 | scratch | ✗ `missing-tzdata` |"));
        // A pipe in a hint stays inside its cell.
        assert!(out.contains("/etc/resolv.conf \\| so"), "{out}");
        check_golden("portability.md", &out);
    }

    #[test]
    fn json_golden() {
        let out = rendered(ReportFormat::Json);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v["probes"],
            serde_json::json!(["tzdata", "localhost", "localhost-cgo"])
        );
        assert_eq!(v["results"].as_array().map(Vec::len), Some(6));
        assert_eq!(v["results"][0]["cause"], "missing-tzdata");
        assert_eq!(v["cpu"][0]["cpu"], "Nehalem");
        assert_eq!(v["cpu"][0]["status"], "miss");
        assert_eq!(v["cpu"][1]["status"], "ok");
        check_golden("portability.json", &out);
    }

    #[test]
    fn junit_golden() {
        let out = rendered(ReportFormat::Junit);
        assert!(out.contains("type=\"missing-tzdata\""), "{out}");
        assert!(out.contains("<skipped"), "{out}");
        assert!(out.contains("name=\"cpu-level\""), "{out}");
        check_golden("portability.xml", &out);
    }

    #[test]
    fn html_is_well_formed() {
        let html = rendered(ReportFormat::Html);
        let mut reader = quick_xml::Reader::from_str(&html);
        reader.config_mut().check_end_names = true;
        let mut depth = 0i32;
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Start(_)) => depth += 1,
                Ok(quick_xml::events::Event::End(_)) => depth -= 1,
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("not well-formed: {e}\n{html}"),
            }
        }
        assert_eq!(depth, 0);
        assert!(html.contains(
            "<td class=\"miss\" title=\"go1.24/linux-arm64/cgo0/rootfs-scratch/trap-tzdata"
        ));
        assert!(html.contains("passes on rootfs glibc"));
        assert!(html.contains("<h2>CPU level</h2>"));
    }

    #[test]
    fn places_compact_to_a_product_only_when_they_are_one() {
        let p = |t: &str, a: &str, m: &str, r: &str| {
            Place([t.to_string(), a.to_string(), m.to_string(), r.to_string()])
        };
        let all = [
            p("go1.22", "linux/amd64", "cgo0", "scratch"),
            p("go1.24", "linux/amd64", "cgo0", "scratch"),
            p("go1.22", "linux/arm64", "cgo0", "scratch"),
            p("go1.24", "linux/arm64", "cgo0", "scratch"),
        ];
        assert_eq!(
            compact(&all),
            "go1.22, go1.24 × linux/amd64, linux/arm64 × cgo0 × scratch"
        );
        assert_eq!(
            compact(&all[..3]),
            "go1.22 linux/amd64 cgo0 scratch; go1.24 linux/amd64 cgo0 scratch; go1.22 linux/arm64 cgo0 scratch"
        );
    }

    #[test]
    fn benchstat_renders_as_usual() {
        let out = rendered(ReportFormat::Benchstat);
        assert!(out.contains("BenchmarkSize"), "{out}");
    }
}
