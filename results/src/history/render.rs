//! `crossmatrix history`'s output: the change points, newest first, as a table, Markdown or
//! JSON.

use super::{ChangePoint, History, HistorySeries, Method, Night};
use serde::Serialize;
use unicode_width::UnicodeWidthStr;

/// `history --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryFormat {
    Table,
    Md,
    Json,
}

impl std::str::FromStr for HistoryFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "table" => Ok(HistoryFormat::Table),
            "md" | "markdown" => Ok(HistoryFormat::Md),
            "json" => Ok(HistoryFormat::Json),
            other => Err(format!(
                "unknown format `{other}`: expected table, md or json"
            )),
        }
    }
}

/// The change points of `h`, newest first, then the largest first.
pub fn render_history(h: &History, format: HistoryFormat) -> String {
    match format {
        HistoryFormat::Table => table(h),
        HistoryFormat::Md => markdown(h),
        HistoryFormat::Json => json(h),
    }
}

/// `7023`, `41.234`, `0.5`: at most three decimals, no trailing zeros.
pub(crate) fn number(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" { "0".into() } else { s }
}

fn headline(h: &History) -> String {
    let changes = h.changes();
    let new = changes.iter().filter(|(_, c)| c.new).count();
    let span = match (h.nights.first(), h.nights.last()) {
        (Some(a), Some(b)) => format!(" ({} … {})", a.label, b.label),
        _ => String::new(),
    };
    format!(
        "{} change point{} ({new} new) in {} series over {} nights{span}",
        changes.len(),
        if changes.len() == 1 { "" } else { "s" },
        h.series.len(),
        h.nights.len(),
    )
}

/// The cells of one change point's row.
fn row(h: &History, s: &HistorySeries, c: &ChangePoint) -> [String; 7] {
    let night = &h.nights[c.night];
    let mut flags = Vec::new();
    if c.new {
        flags.push("new");
    }
    if c.change != 0.0 {
        flags.push(if c.regression {
            "regression"
        } else {
            "improvement"
        });
    }
    let series = match &s.counter {
        Some(counter) => format!("{} [{counter}]", s.name),
        None => s.name.clone(),
    };
    [
        format!("{} {}", c.night, night.label),
        short_commit(night),
        format!("{} → {} {}", number(c.before), number(c.after), s.unit),
        format!("{:+.2}%", c.change_pct),
        format!("{:.3}", c.confidence),
        flags.join(" "),
        series,
    ]
}

fn short_commit(n: &Night) -> String {
    n.commit
        .as_deref()
        .map(|c| c.chars().take(12).collect())
        .unwrap_or_else(|| "-".into())
}

const HEADER: [&str; 7] = ["night", "commit", "change", "%", "confidence", "", "series"];

fn table(h: &History) -> String {
    let mut out = headline(h);
    out.push('\n');
    let rows: Vec<[String; 7]> = h.changes().into_iter().map(|(s, c)| row(h, s, c)).collect();
    if rows.is_empty() {
        return out;
    }
    let mut width = HEADER.map(UnicodeWidthStr::width);
    for r in &rows {
        for (w, cell) in width.iter_mut().zip(r) {
            *w = (*w).max(cell.width());
        }
    }
    let line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(width).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                l.push_str(cell);
                l.push_str(&" ".repeat(w - cell.width() + 2));
            }
        }
        l.trim_end().to_string() + "\n"
    };
    out.push('\n');
    out.push_str(&line(&HEADER));
    for r in &rows {
        out.push_str(&line(&r.each_ref().map(String::as_str)));
    }
    out
}

fn markdown(h: &History) -> String {
    let mut out = format!("### Change points\n\n{}\n", headline(h));
    let changes = h.changes();
    if changes.is_empty() {
        return out;
    }
    out.push_str("\n| night | commit | change | % | confidence | | series |\n");
    out.push_str("|---|---|---|--:|--:|---|---|\n");
    for (s, c) in changes {
        let r = row(h, s, c);
        let flags = if c.new && c.regression {
            "**new regression**".to_string()
        } else {
            r[5].clone()
        };
        out.push_str(&format!(
            "| {} | `{}` | {} | {} | {} | {} | `{}` |\n",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            flags,
            r[6].replace('|', "\\|")
        ));
    }
    out
}

/// One change point in `history --format json`.
#[derive(Serialize)]
struct JsonChange<'a> {
    series: &'a str,
    unit: &'a str,
    counter: Option<&'a str>,
    toolchain: &'a str,
    target: &'a str,
    mode: &'a str,
    rootfs: &'a str,
    emulator: Option<&'a str>,
    program: &'a str,
    subject: &'a str,
    package: Option<&'a str>,
    exact: bool,
    night: usize,
    label: &'a str,
    commit: Option<&'a str>,
    before: f64,
    after: f64,
    change: f64,
    change_pct: f64,
    median_before: f64,
    median_after: f64,
    confidence: f64,
    new: bool,
    regression: bool,
    nights_after: usize,
    method: Method,
}

#[derive(Serialize)]
struct JsonHistory<'a> {
    nights: &'a [Night],
    series: usize,
    changes: Vec<JsonChange<'a>>,
}

fn json(h: &History) -> String {
    let changes = h
        .changes()
        .into_iter()
        .map(|(s, c)| {
            let night = &h.nights[c.night];
            JsonChange {
                series: &s.name,
                unit: &s.unit,
                counter: s.counter.as_deref(),
                toolchain: &s.toolchain,
                target: &s.target,
                mode: &s.mode,
                rootfs: &s.rootfs,
                emulator: s.emulator.as_deref(),
                program: &s.program,
                subject: &s.subject,
                package: s.package.as_deref(),
                exact: s.exact,
                night: c.night,
                label: &night.label,
                commit: night.commit.as_deref(),
                before: c.before,
                after: c.after,
                change: c.change,
                change_pct: c.change_pct,
                median_before: c.median_before,
                median_after: c.median_after,
                confidence: c.confidence,
                new: c.new,
                regression: c.regression,
                nights_after: c.nights_after,
                method: c.method,
            }
        })
        .collect();
    let doc = JsonHistory {
        nights: &h.nights,
        series: h.series.len(),
        changes,
    };
    serde_json::to_string_pretty(&doc).expect("plain data serialises") + "\n"
}
