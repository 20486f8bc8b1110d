//! `html`: one self-contained dashboard page (inline CSS and SVG, no script, nothing fetched):
//! a status heatmap (rows: targets; columns: modes, each with its toolchains in Go's version
//! order; the cause and hint on hover), then binary sizes and startup (as a ratio to the native
//! amd64 cell of the same toolchain and mode) with the toolchains side by side per target and
//! the change from the oldest. Also [`render_html_history`]: trends over several runs.
//!
//! The markup is XHTML-compatible (every element closed, attributes quoted), so the tests
//! check it with an XML parser.

use super::{Input, ReportError, Reporter, format_ms, human_size, totals_line};
use crate::schema::{CellRecord, CellStatus};
use crossmatrix_matrix::compare_go_versions;
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
        body.push_str(&instructions_chart(records));
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
code{font:12px ui-monospace,monospace}\
.dim{color:#57606a}table.cmp td{white-space:nowrap}td.none{color:#8c959f}\
.bar{display:inline-block;height:10px;margin-right:6px;vertical-align:0}\
.d{font-size:12px;color:#57606a}.worse{color:#cf222e}.better{color:#1a7f37}\
table.changes td{white-space:nowrap}table.changes td.series{white-space:normal}table.changes i{display:inline-block;width:10px;height:10px;border-radius:2px}\
table.series td{padding:2px 8px}h3{font-size:15px;margin:18px 0 4px}a{color:#0969da}";

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

/// The toolchain names of `records` in Go's version order (`go1.22 < go1.24 < go1.100`), so
/// toolchains stand side by side oldest first whatever order the cells ran in.
fn toolchains_in_order(records: &[CellRecord]) -> Vec<String> {
    let mut names = distinct(records.iter().map(|r| r.toolchain.name.clone()));
    names.sort_by(|a, b| compare_go_versions(a, b));
    names
}

/// A target's place in every ordering of the page: GOOS, GOARCH, then the variant (none
/// first), so `linux/arm` precedes `linux/arm-GOARM7`.
fn target_key(r: &CellRecord) -> (String, String, String) {
    (
        r.target.goos.clone(),
        r.target.goarch.clone(),
        r.target.variant.clone().unwrap_or_default(),
    )
}

/// The target labels of `records` in [`target_key`] order.
fn targets_in_order(records: &[CellRecord]) -> Vec<String> {
    let mut keyed: Vec<((String, String, String), String)> = records
        .iter()
        .map(|r| (target_key(r), r.target_label()))
        .collect();
    keyed.sort();
    keyed.dedup();
    keyed.into_iter().map(|(_, label)| label).collect()
}

/// What tells apart cells of one slot of the heatmap (one target, toolchain and mode): their
/// rootfs, emulator and program, in that order.
fn within_slot(r: &CellRecord) -> (String, String, String) {
    (
        r.rootfs.clone(),
        r.emulator
            .as_ref()
            .map(|e| e.name.clone())
            .unwrap_or_default(),
        r.program.clone(),
    )
}

fn heatmap(records: &[CellRecord]) -> String {
    let mut out = String::from("<h2>Status</h2>\n");
    if records.is_empty() {
        out.push_str("<p>No cells.</p>\n");
        return out;
    }
    // Columns grouped by mode, then toolchain in version order: a mode's toolchains side by
    // side. Rows: targets.
    let rows = targets_in_order(records);
    let mut modes = distinct(records.iter().map(CellRecord::mode));
    modes.sort();
    let toolchains = toolchains_in_order(records);
    let mut slots: HashMap<(String, String, String), Vec<&CellRecord>> = HashMap::new();
    for r in records {
        slots
            .entry((r.target_label(), r.mode(), r.toolchain.name.clone()))
            .or_default()
            .push(r);
    }
    for cells in slots.values_mut() {
        cells.sort_by_key(|r| within_slot(r));
    }
    let groups: Vec<(&String, Vec<&String>)> = modes
        .iter()
        .map(|m| {
            let present = toolchains
                .iter()
                .filter(|t| {
                    rows.iter()
                        .any(|row| slots.contains_key(&(row.clone(), m.clone(), (*t).clone())))
                })
                .collect();
            (m, present)
        })
        .collect();
    let (label_w, cw, ch, head_h, gap) = (150.0, 84.0, 24.0, 56.0, 12.0);
    let ncols: usize = groups.iter().map(|(_, t)| t.len()).sum();
    let width = label_w + cw * ncols as f64 + gap * groups.len() as f64 + 10.0;
    let height = head_h + ch * rows.len() as f64 + 4.0;
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"status heatmap\">"
    );
    // x of each column's left edge, in column order.
    let mut columns: Vec<(f64, &String, &String)> = Vec::new();
    let mut x = label_w;
    for (mode, tcs) in &groups {
        let group_w = cw * tcs.len() as f64;
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"16\" text-anchor=\"middle\">{}</text><line x1=\"{:.1}\" y1=\"22\" x2=\"{:.1}\" y2=\"22\" stroke=\"#8c959f\"></line>",
            x + group_w / 2.0,
            esc(mode),
            x + 2.0,
            x + group_w - 2.0
        );
        for tc in tcs {
            let _ = writeln!(
                out,
                "<text class=\"dim\" x=\"{:.1}\" y=\"40\" text-anchor=\"middle\">{}</text>",
                x + cw / 2.0,
                esc(tc)
            );
            columns.push((x, *mode, *tc));
            x += cw;
        }
        x += gap;
    }
    for (i, row) in rows.iter().enumerate() {
        let y = head_h + ch * i as f64;
        let _ = writeln!(
            out,
            "<text x=\"0\" y=\"{}\">{}</text>",
            y + ch / 2.0 + 4.0,
            esc(row)
        );
        for (x, mode, tc) in &columns {
            let Some(cells) = slots.get(&(row.clone(), (*mode).clone(), (*tc).clone())) else {
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

/// One measured value of a cell in a side-by-side table.
struct Measured<'a> {
    record: &'a CellRecord,
    /// What the bar's length is proportional to.
    bar: f64,
    /// What the delta to the oldest toolchain is computed on (bytes, milliseconds).
    quantity: f64,
    label: String,
}

/// A row of a side-by-side table: target (in [`target_key`] order), mode, rootfs, emulator,
/// program.
type RowKey = ((String, String, String), String, String, String, String);

fn row_key(r: &CellRecord) -> RowKey {
    let (rootfs, emulator, program) = within_slot(r);
    (target_key(r), r.mode(), rootfs, emulator, program)
}

/// `+4.2%`, `−3.0%`, `±0%`: `now` against `base`, with the class that colours it (both
/// quantities of these tables are smaller-is-better).
fn delta(base: f64, now: f64) -> (String, &'static str) {
    if base <= 0.0 {
        return (String::new(), "d");
    }
    let pct = (now / base - 1.0) * 100.0;
    if pct.abs() < 0.05 {
        ("±0%".into(), "d")
    } else if pct > 0.0 {
        (format!("+{pct:.1}%"), "d worse")
    } else {
        (format!("\u{2212}{:.1}%", -pct), "d better")
    }
}

/// A table with one row per target × mode × rootfs × (emulator ×) program and one column per
/// toolchain in version order: a bar, the value, and the change from the oldest toolchain of
/// the row that has a value.
fn side_by_side(title: &str, color: &str, measured: &[Measured<'_>]) -> String {
    let mut out = format!("<h2>{}</h2>\n", esc(title));
    if measured.is_empty() {
        out.push_str("<p>No data.</p>\n");
        return out;
    }
    let mut toolchains = distinct(measured.iter().map(|m| m.record.toolchain.name.clone()));
    toolchains.sort_by(|a, b| compare_go_versions(a, b));
    let mut rows: BTreeMap<RowKey, HashMap<&str, &Measured<'_>>> = BTreeMap::new();
    for m in measured {
        rows.entry(row_key(m.record))
            .or_default()
            .insert(m.record.toolchain.name.as_str(), m);
    }
    let with_emulator = measured.iter().any(|m| m.record.emulator.is_some());
    let max = measured
        .iter()
        .map(|m| m.bar)
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let bar_w = 90.0;
    out.push_str("<table class=\"cmp\">\n<tr><th>target</th><th>mode</th><th>rootfs</th>");
    if with_emulator {
        out.push_str("<th>emulator</th>");
    }
    out.push_str("<th>program</th>");
    for (i, tc) in toolchains.iter().enumerate() {
        if i == 0 {
            let _ = write!(out, "<th>{}</th>", esc(tc));
        } else {
            let _ = write!(
                out,
                "<th>{} <span class=\"dim\">(Δ vs oldest)</span></th>",
                esc(tc)
            );
        }
    }
    out.push_str("</tr>\n");
    for ((_, mode, rootfs, emulator, program), by_tc) in &rows {
        let first = by_tc.values().next().expect("a row has a value").record;
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td>",
            esc(&first.target_label()),
            esc(mode),
            esc(rootfs)
        );
        if with_emulator {
            let _ = write!(out, "<td>{}</td>", esc(emulator));
        }
        let _ = write!(out, "<td>{}</td>", esc(program));
        // The oldest toolchain with a value in this row is what the others are compared with.
        let base = toolchains
            .iter()
            .find_map(|tc| by_tc.get(tc.as_str()).map(|m| (tc, m.quantity)));
        for tc in &toolchains {
            let Some(m) = by_tc.get(tc.as_str()) else {
                out.push_str("<td class=\"none\">-</td>");
                continue;
            };
            let w = (m.bar / max * bar_w).max(1.0);
            let _ = write!(
                out,
                "<td title=\"{}\"><span class=\"bar\" style=\"width:{w:.0}px;background:{color}\"></span><span class=\"v\">{}</span>",
                esc(&tooltip(m.record)),
                esc(&m.label)
            );
            if let Some((base_tc, base)) = base.filter(|(base_tc, _)| *base_tc != tc) {
                let (text, class) = delta(base, m.quantity);
                let _ = write!(
                    out,
                    " <span class=\"{class}\" title=\"vs {}\">{}</span>",
                    esc(base_tc),
                    esc(&text)
                );
            }
            out.push_str("</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

fn size_chart(records: &[CellRecord]) -> String {
    let measured: Vec<Measured<'_>> = records
        .iter()
        .filter_map(|r| {
            let b = r.binary.as_ref()?;
            Some(Measured {
                record: r,
                bar: b.size_bytes as f64,
                quantity: b.size_bytes as f64,
                label: human_size(b.size_bytes),
            })
        })
        .collect();
    side_by_side("Binary size", "#8250df", &measured)
}

/// The counted instructions of one run of each program (`--metric instructions|both`), the
/// toolchains side by side; nothing when the run did not count.
fn instructions_chart(records: &[CellRecord]) -> String {
    let measured: Vec<Measured<'_>> = records
        .iter()
        .filter(|r| r.status == CellStatus::Pass)
        .filter_map(|r| {
            let i = r.instructions.as_ref()?;
            Some(Measured {
                record: r,
                bar: i.count as f64,
                quantity: i.count as f64,
                label: format!("{} ({})", i.count, super::counter_label(&i.counter)),
            })
        })
        .collect();
    if measured.is_empty() {
        return String::new();
    }
    side_by_side(
        "Instructions of one run (counted, exact)",
        history::INSTRUCTIONS_COLOR,
        &measured,
    )
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
    let timed: Vec<&CellRecord> = records
        .iter()
        .filter(|r| r.status == CellStatus::Pass && r.startup.is_some())
        .collect();
    let all_relative = timed.iter().all(|r| native.contains_key(&key(r)));
    let measured: Vec<Measured<'_>> = timed
        .iter()
        .filter_map(|r| {
            let ms = r.startup.as_ref()?.median_ms;
            Some(match native.get(&key(r)) {
                Some(base) if all_relative => {
                    let ratio = ms / base;
                    Measured {
                        record: r,
                        bar: ratio,
                        quantity: ms,
                        label: format!("×{ratio:.1} ({})", format_ms(ms)),
                    }
                }
                _ => Measured {
                    record: r,
                    bar: ms,
                    quantity: ms,
                    label: format_ms(ms),
                },
            })
        })
        .collect();
    let title = if all_relative {
        "Startup (median, × the native linux/amd64 cell of the same toolchain and mode)"
    } else {
        "Startup (median)"
    };
    side_by_side(title, "#bf8700", &measured)
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

mod history;
pub use history::render_html_history;

#[cfg(test)]
mod tests;
