//! `html`: one self-contained dashboard page (inline CSS and SVG, no script, nothing fetched):
//! a status heatmap (targets × toolchain·mode, the cause and hint on hover), binary sizes,
//! and startup as a ratio to the native amd64 cell of the same toolchain and mode. Also
//! [`render_html_history`]: per-cell trends over several runs.
//!
//! The markup is XHTML-compatible (every element closed, attributes quoted), so the tests
//! check it with an XML parser.

use super::{Input, ReportError, Reporter, format_ms, human_size, totals_line};
use crate::schema::{CellRecord, CellStatus, RunMeta};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

pub(super) struct HtmlReporter;

impl Reporter for HtmlReporter {
    fn render(&self, input: &Input<'_>) -> Result<String, ReportError> {
        let Input { records, meta, .. } = *input;
        let mut body = String::new();
        let _ = write!(
            body,
            "<h1>crossmatrix</h1>\n<p class=\"totals\">{}",
            esc(&totals_line(records))
        );
        if let Some(m) = meta {
            let _ = write!(
                body,
                " · {} · {} → {} · host {} ({}, {})",
                esc(&super::wall_time_note(m, records)),
                esc(&m.started_at),
                esc(&m.finished_at),
                esc(&m.host.hostname),
                esc(&m.host.arch),
                esc(&m.host.os)
            );
        }
        body.push_str("</p>\n");
        body.push_str(&heatmap(records));
        body.push_str(&size_chart(records));
        body.push_str(&startup_chart(records));
        body.push_str(&failure_list(records));
        body.push_str(&test_view(records));
        body.push_str(&flaky_view(records));
        Ok(page("crossmatrix", &body))
    }
}

const CSS: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1f2328;background:#fff}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}\
.totals{color:#57606a;margin:0 0 12px}\
svg text{font:12px system-ui,sans-serif;fill:#1f2328}svg .dim{fill:#57606a}\
.legend span{display:inline-block;margin-right:14px}\
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}\
table{border-collapse:collapse}td,th{padding:3px 8px;border-bottom:1px solid #d0d7de;text-align:left;vertical-align:top}\
code{font:12px ui-monospace,monospace}";

pub(super) fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n\
         <meta charset=\"utf-8\"/>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        esc(title)
    )
}

/// Escapes text and attribute values for HTML and XML alike.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML.
            c if c.is_control() && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn status_color(status: CellStatus) -> &'static str {
    match status {
        CellStatus::Pass => "#2da44e",
        CellStatus::Fail => "#cf222e",
        CellStatus::Skipped => "#afb8c1",
        CellStatus::Built => "#54aeff",
    }
}

fn legend() -> String {
    let mut s = String::from("<p class=\"legend\">");
    for st in [
        CellStatus::Pass,
        CellStatus::Fail,
        CellStatus::Skipped,
        CellStatus::Built,
    ] {
        let _ = write!(
            s,
            "<span><i style=\"background:{}\"></i>{}</span>",
            status_color(st),
            st.as_str()
        );
    }
    s.push_str("</p>\n");
    s
}

/// The hover text of a cell: id, status, cause and hint, executor, size, startup.
fn tooltip(r: &CellRecord) -> String {
    let mut t = format!("{}\n{}", r.id, r.status.as_str());
    if let Some(c) = r.cause.filter(|_| r.status != CellStatus::Pass) {
        let _ = write!(t, ": {}", c.code());
    }
    if let Some(h) = r.hint.as_deref().filter(|_| r.status != CellStatus::Pass) {
        let _ = write!(t, "\n{h}");
    }
    if let Some(e) = r.executor_label() {
        let _ = write!(t, "\nexecutor: {e}");
    }
    if let Some(b) = &r.binary {
        let _ = write!(t, "\nsize: {}", human_size(b.size_bytes));
    }
    if let Some(s) = &r.startup {
        let _ = write!(
            t,
            "\nstartup: {} ± {}",
            format_ms(s.median_ms),
            format_ms(s.mad_ms)
        );
    }
    t
}

/// Distinct values in first-seen order.
fn distinct<'a>(it: impl Iterator<Item = String> + 'a) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in it {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

fn toolchain_mode(r: &CellRecord) -> String {
    format!("{} {}", r.toolchain.name, r.mode())
}

fn heatmap(records: &[CellRecord]) -> String {
    let mut out = String::from("<h2>Status</h2>\n");
    if records.is_empty() {
        out.push_str("<p>No cells.</p>\n");
        return out;
    }
    let rows = distinct(records.iter().map(CellRecord::target_label));
    let cols = distinct(records.iter().map(toolchain_mode));
    let mut slots: HashMap<(String, String), Vec<&CellRecord>> = HashMap::new();
    for r in records {
        slots
            .entry((r.target_label(), toolchain_mode(r)))
            .or_default()
            .push(r);
    }
    let (label_w, cw, ch, head_h) = (150.0, 84.0, 24.0, 56.0);
    let width = label_w + cw * cols.len() as f64 + 10.0;
    let height = head_h + ch * rows.len() as f64 + 4.0;
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"status heatmap\">"
    );
    for (j, col) in cols.iter().enumerate() {
        let x = label_w + cw * j as f64 + cw / 2.0;
        let (tc, mode) = col.split_once(' ').unwrap_or((col, ""));
        let _ = writeln!(
            out,
            "<text x=\"{x}\" y=\"20\" text-anchor=\"middle\">{}</text><text class=\"dim\" x=\"{x}\" y=\"38\" text-anchor=\"middle\">{}</text>",
            esc(tc),
            esc(mode)
        );
    }
    for (i, row) in rows.iter().enumerate() {
        let y = head_h + ch * i as f64;
        let _ = writeln!(
            out,
            "<text x=\"0\" y=\"{}\">{}</text>",
            y + ch / 2.0 + 4.0,
            esc(row)
        );
        for (j, col) in cols.iter().enumerate() {
            let x = label_w + cw * j as f64;
            let Some(cells) = slots.get(&(row.clone(), col.clone())) else {
                continue;
            };
            // Several cells in one slot (other rootfs or program): side by side stripes.
            let w = (cw - 4.0) / cells.len() as f64;
            for (k, r) in cells.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "<rect x=\"{:.1}\" y=\"{}\" width=\"{:.1}\" height=\"{}\" rx=\"3\" fill=\"{}\"><title>{}</title></rect>",
                    x + 2.0 + w * k as f64,
                    y + 2.0,
                    (w - 1.0).max(1.0),
                    ch - 4.0,
                    status_color(r.status),
                    esc(&tooltip(r))
                );
            }
        }
    }
    out.push_str("</svg>\n");
    out.push_str(&legend());
    out
}

/// A horizontal bar chart: `(label, value, value label, colour, tooltip)` per bar.
fn bar_chart(title: &str, bars: &[(String, f64, String, &str, String)]) -> String {
    let mut out = format!("<h2>{}</h2>\n", esc(title));
    if bars.is_empty() {
        out.push_str("<p>No data.</p>\n");
        return out;
    }
    let max = bars.iter().map(|b| b.1).fold(0.0_f64, f64::max).max(1e-9);
    let (label_w, bar_w, bh) = (330.0, 420.0, 18.0);
    let height = bh * bars.len() as f64 + 6.0;
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" role=\"img\" aria-label=\"{}\">",
        label_w + bar_w + 110.0,
        esc(title)
    );
    for (i, (label, value, value_label, color, tip)) in bars.iter().enumerate() {
        let y = bh * i as f64 + 2.0;
        let w = (value / max * bar_w).max(1.0);
        let _ = writeln!(
            out,
            "<g><title>{}</title><text x=\"0\" y=\"{:.1}\">{}</text><rect x=\"{label_w}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{color}\"></rect><text class=\"dim\" x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
            esc(tip),
            y + bh - 6.0,
            esc(label),
            bh - 4.0,
            label_w + w + 6.0,
            y + bh - 6.0,
            esc(value_label)
        );
    }
    out.push_str("</svg>\n");
    out
}

/// Records grouped by target, then toolchain (the order of the charts' bars).
fn by_target(records: &[CellRecord]) -> Vec<&CellRecord> {
    let targets = distinct(records.iter().map(CellRecord::target_label));
    let mut grouped: BTreeMap<(usize, String), Vec<&CellRecord>> = BTreeMap::new();
    for r in records {
        let t = targets
            .iter()
            .position(|t| *t == r.target_label())
            .unwrap_or(0);
        grouped
            .entry((t, r.toolchain.name.clone()))
            .or_default()
            .push(r);
    }
    grouped.into_values().flatten().collect()
}

fn bar_label(r: &CellRecord) -> String {
    let mut l = format!("{} · {} · {}", r.target_label(), r.toolchain.name, r.mode());
    if r.rootfs != "scratch" {
        let _ = write!(l, " · {}", r.rootfs);
    }
    l
}

fn size_chart(records: &[CellRecord]) -> String {
    let bars: Vec<_> = by_target(records)
        .into_iter()
        .filter_map(|r| {
            let b = r.binary.as_ref()?;
            Some((
                bar_label(r),
                b.size_bytes as f64,
                human_size(b.size_bytes),
                "#8250df",
                tooltip(r),
            ))
        })
        .collect();
    bar_chart("Binary size", &bars)
}

/// Startup of every timed cell as a ratio to the native amd64 cell of the same toolchain,
/// mode, rootfs and program in this run (or, without one, in milliseconds).
fn startup_chart(records: &[CellRecord]) -> String {
    let key = |r: &CellRecord| {
        (
            r.toolchain.name.clone(),
            r.mode(),
            r.rootfs.clone(),
            r.program.clone(),
        )
    };
    let native: HashMap<_, f64> = records
        .iter()
        .filter(|r| r.target.goos == "linux" && r.target.goarch == "amd64")
        .filter_map(|r| Some((key(r), r.startup.as_ref()?.median_ms)))
        .filter(|(_, ms)| *ms > 0.0)
        .collect();
    let timed: Vec<&CellRecord> = by_target(records)
        .into_iter()
        .filter(|r| r.status == CellStatus::Pass && r.startup.is_some())
        .collect();
    let all_relative = timed.iter().all(|r| native.contains_key(&key(r)));
    let bars: Vec<_> = timed
        .iter()
        .filter_map(|r| {
            let ms = r.startup.as_ref()?.median_ms;
            let tip = tooltip(r);
            Some(match native.get(&key(r)) {
                Some(base) if all_relative => {
                    let ratio = ms / base;
                    (
                        bar_label(r),
                        ratio,
                        format!("×{ratio:.1} ({})", format_ms(ms)),
                        "#bf8700",
                        tip,
                    )
                }
                _ => (bar_label(r), ms, format_ms(ms), "#bf8700", tip),
            })
        })
        .collect();
    let title = if all_relative {
        "Startup (median, × the native linux/amd64 cell of the same toolchain and mode)"
    } else {
        "Startup (median)"
    };
    bar_chart(title, &bars)
}

fn failure_list(records: &[CellRecord]) -> String {
    let failures: Vec<&CellRecord> = records
        .iter()
        .filter(|r| r.status == CellStatus::Fail)
        .collect();
    if failures.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<h2>Failures</h2>\n<table>\n<tr><th>cell</th><th>cause</th><th>hint</th></tr>\n",
    );
    for r in failures {
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            esc(&r.id),
            esc(r.cause.map_or("-", |c| c.code())),
            esc(r.hint.as_deref().unwrap_or("-"))
        );
    }
    out.push_str("</table>\n");
    out
}

/// The Go tests of test cells: per cell its counts, then every failed test with its output
/// (collapsed), and the skipped ones with Go's reason.
fn test_view(records: &[CellRecord]) -> String {
    let cells: Vec<&CellRecord> = records.iter().filter(|r| r.tests.is_some()).collect();
    if cells.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<h2>Go tests</h2>\n<table>\n<tr><th>cell</th><th>package</th><th>passed</th><th>failed</th><th>skipped</th><th>benchmarks</th></tr>\n",
    );
    for r in &cells {
        let Some(t) = &r.tests else { continue };
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.id),
            esc(&t.package),
            t.totals.passed,
            t.totals.failed,
            t.totals.skipped,
            t.benchmarks.len()
        );
    }
    out.push_str("</table>\n");
    let mut failed = String::new();
    for r in &cells {
        let Some(t) = &r.tests else { continue };
        for c in t
            .cases
            .iter()
            .filter(|c| c.status != crate::schema::TestStatus::Pass)
        {
            let _ = writeln!(
                failed,
                "<details><summary><b>{}</b> <code>{}</code> in <code>{}</code></summary><pre>{}</pre></details>",
                esc(c.status.as_str()),
                esc(&c.name),
                esc(&r.id),
                esc(&c.output.replace('\u{16}', ""))
            );
        }
    }
    if !failed.is_empty() {
        out.push_str("<h3>Failed and skipped tests</h3>\n");
        out.push_str(&failed);
    }
    out
}

/// What passed only on a retry (`--retries`): each flaky run or test with its cell, how many
/// runs failed first, and the first failure. Never hidden, wherever its cell stands.
fn flaky_view(records: &[CellRecord]) -> String {
    let mut rows = String::new();
    for r in records {
        for (name, n, why) in r.flaky_entries() {
            let _ = writeln!(
                rows,
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{n}</td><td>{}</td></tr>",
                esc(&r.id),
                esc(&name),
                esc(&why)
            );
        }
    }
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "<h2 class=\"flaky\">Flaky (passed only on a retry)</h2>\n<table>\n<tr><th>cell</th><th>run or test</th><th>failed runs</th><th>first failure</th></tr>\n{rows}</table>\n"
    )
}

/// A page of trends over `runs` (oldest first): per cell, its status in each run and
/// polylines of startup median and binary size.
pub fn render_html_history(runs: &[(RunMeta, Vec<CellRecord>)]) -> String {
    let mut body = format!(
        "<h1>crossmatrix history</h1>\n<p class=\"totals\">{} {}",
        runs.len(),
        if runs.len() == 1 { "run" } else { "runs" }
    );
    if let (Some(first), Some(last)) = (runs.first(), runs.last()) {
        let _ = write!(
            body,
            ", {} → {}",
            esc(&first.0.started_at),
            esc(&last.0.started_at)
        );
    }
    body.push_str("</p>\n");
    // A night that lacks cells is marked, so a gap in a row is not read as a removed cell.
    for (meta, recs) in runs {
        let c = crate::Completeness::of(meta, recs);
        if !c.is_complete() {
            let _ = writeln!(
                body,
                "<p class=\"incomplete\">run of {}: {}</p>",
                esc(&meta.started_at),
                esc(&c.summary())
            );
        }
    }
    let ids = distinct(
        runs.iter()
            .flat_map(|(_, recs)| recs.iter().map(|r| r.id.clone())),
    );
    let lookup: Vec<HashMap<&str, &CellRecord>> = runs
        .iter()
        .map(|(_, recs)| recs.iter().map(|r| (r.id.as_str(), r)).collect())
        .collect();
    body.push_str(&legend());
    body.push_str(
        "<table>\n<tr><th>cell</th><th>status per run</th><th>startup (median)</th><th>size</th></tr>\n",
    );
    for id in &ids {
        let per_run: Vec<Option<&CellRecord>> =
            lookup.iter().map(|m| m.get(id.as_str()).copied()).collect();
        let startup: Vec<Option<f64>> = per_run
            .iter()
            .map(|r| r.and_then(|r| r.startup.as_ref()).map(|s| s.median_ms))
            .collect();
        let size: Vec<Option<f64>> = per_run
            .iter()
            .map(|r| {
                r.and_then(|r| r.binary.as_ref())
                    .map(|b| b.size_bytes as f64)
            })
            .collect();
        let last_startup = startup.iter().rev().flatten().next().map(|v| format_ms(*v));
        let last_size = size
            .iter()
            .rev()
            .flatten()
            .next()
            .map(|v| human_size(*v as u64));
        let _ = writeln!(
            body,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(id),
            status_strip(runs, &per_run),
            sparkline(&startup, "#bf8700", last_startup.as_deref()),
            sparkline(&size, "#8250df", last_size.as_deref()),
        );
    }
    body.push_str("</table>\n");
    page("crossmatrix history", &body)
}

/// One coloured square per run (blank where the cell was not in that run).
fn status_strip(runs: &[(RunMeta, Vec<CellRecord>)], per_run: &[Option<&CellRecord>]) -> String {
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"14\">",
        per_run.len() * 14 + 2
    );
    for (i, r) in per_run.iter().enumerate() {
        if let Some(r) = r {
            let _ = write!(
                s,
                "<rect x=\"{}\" y=\"1\" width=\"12\" height=\"12\" rx=\"2\" fill=\"{}\"><title>{}: {}</title></rect>",
                i * 14 + 1,
                status_color(r.status),
                esc(&runs[i].0.started_at),
                esc(&tooltip(r))
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// A small trend line over the runs; gaps where a run has no value.
fn sparkline(values: &[Option<f64>], color: &str, last: Option<&str>) -> String {
    let (w, h) = (160.0, 28.0);
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{h}\">",
        w + 70.0
    );
    if present.is_empty() {
        s.push_str("<text class=\"dim\" x=\"0\" y=\"18\">-</text></svg>");
        return s;
    }
    let lo = present.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = present.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let step = if values.len() > 1 {
        w / (values.len() - 1) as f64
    } else {
        0.0
    };
    let point = |i: usize, v: f64| {
        let y = if hi > lo {
            h - 3.0 - (v - lo) / span * (h - 6.0)
        } else {
            h / 2.0
        };
        (i as f64 * step, y)
    };
    // One polyline per unbroken stretch of values.
    let mut segment: Vec<(f64, f64)> = Vec::new();
    let flush = |seg: &mut Vec<(f64, f64)>, s: &mut String| {
        if seg.len() == 1 {
            let _ = write!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2\" fill=\"{color}\"></circle>",
                seg[0].0, seg[0].1
            );
        } else if seg.len() > 1 {
            let pts: Vec<String> = seg.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let _ = write!(
                s,
                "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"></polyline>",
                pts.join(" ")
            );
        }
        seg.clear();
    };
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => segment.push(point(i, *v)),
            None => flush(&mut segment, &mut s),
        }
    }
    flush(&mut segment, &mut s);
    if let Some(last) = last {
        let _ = write!(
            s,
            "<text class=\"dim\" x=\"{}\" y=\"18\">{}</text>",
            w + 6.0,
            esc(last)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests;
