//! The history page (`report OUT --format html --history OLDER...`): the changes the nights
//! brought (the newest night's first), per Go benchmark and per cell's startup a chart of
//! instructions and time over the nights with its change points marked, then per cell its
//! status in each night and sparklines of startup and size.

use super::{esc, format_ms, human_size, legend, page, status_color, tooltip};
use crate::history::{ChangePoint, DetectOptions, History, HistorySeries, Night, analyze};
use crate::schema::{CellRecord, RunMeta};
use std::collections::HashMap;
use std::fmt::Write as _;

/// A page of trends over `runs` (oldest first): the changes [`analyze`] finds, the series
/// charts, then per cell its status in each run and sparklines of startup median and size.
pub fn render_html_history(runs: &[(RunMeta, Vec<CellRecord>)]) -> String {
    history_page(runs, &analyze(runs, &DetectOptions::default()))
}

pub(super) fn history_page(runs: &[(RunMeta, Vec<CellRecord>)], history: &History) -> String {
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
    body.push_str(
        "<p class=\"toc\"><a href=\"#changes\">changes</a> · <a href=\"#series\">benchmarks and startup over the nights</a> · <a href=\"#cells\">cells</a></p>\n",
    );
    let charts = chart_rows(history);
    body.push_str(&change_list(history, &charts));
    body.push_str(&series_charts(history, &charts));
    body.push_str("<h2 id=\"cells\">Cells</h2>\n");
    let ids = super::distinct(
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

/// The colours of the series charts: instructions, time, and the change markers.
pub(super) const INSTRUCTIONS_COLOR: &str = "#0a3069";
pub(super) const TIME_COLOR: &str = "#bf8700";
pub(super) const REGRESSION_COLOR: &str = "#e16f24";
pub(super) const IMPROVEMENT_COLOR: &str = "#1a7f37";

fn change_color(c: &ChangePoint) -> &'static str {
    if c.regression {
        REGRESSION_COLOR
    } else {
        IMPROVEMENT_COLOR
    }
}

/// One row of the series section: a target's instruction counts and times of one subject
/// (a Go benchmark, or a cell's startup) on one toolchain, mode, rootfs and program.
struct ChartRow<'a> {
    /// The series' name without its target: what the rows of one heading share.
    group: String,
    subject: &'a str,
    target: &'a str,
    /// Counted instructions (per op for a benchmark); more than one when the counter (qemu,
    /// CPU model) changed over the nights.
    instructions: Vec<&'a HistorySeries>,
    /// `ms` of a startup, `ns/op` of a benchmark.
    time: Option<&'a HistorySeries>,
}

/// `name` without its ` target=…` part.
fn without_target(name: &str) -> String {
    name.split(' ')
        .filter(|part| !part.starts_with("target="))
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_time(s: &HistorySeries) -> bool {
    !s.exact && ((s.subject == "startup" && s.unit == "ms") || s.unit == "ns/op")
}

/// The rows of the series section, Go benchmarks first, then startups; within them by
/// subject, toolchain in Go's version order, the rest of the name, then target.
fn chart_rows(history: &History) -> Vec<ChartRow<'_>> {
    let mut rows: Vec<ChartRow<'_>> = Vec::new();
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    for s in &history.series {
        if !(s.exact || is_time(s)) || s.subject == "size" {
            continue;
        }
        let i = *by_name.entry(s.name.as_str()).or_insert_with(|| {
            rows.push(ChartRow {
                group: without_target(&s.name),
                subject: &s.subject,
                target: &s.target,
                instructions: Vec::new(),
                time: None,
            });
            rows.len() - 1
        });
        if s.exact {
            rows[i].instructions.push(s);
        } else {
            rows[i].time = Some(s);
        }
    }
    let toolchain_of = |r: &ChartRow<'_>| {
        r.time
            .or(r.instructions.first().copied())
            .map_or(String::new(), |s| s.toolchain.clone())
    };
    rows.sort_by(|a, b| {
        (a.subject == "startup")
            .cmp(&(b.subject == "startup"))
            .then_with(|| a.subject.cmp(b.subject))
            .then_with(|| {
                crossmatrix_matrix::compare_go_versions(&toolchain_of(a), &toolchain_of(b))
            })
            .then_with(|| a.group.cmp(&b.group))
            .then_with(|| a.target.cmp(b.target))
    });
    rows
}

/// `1.23 ms`, `456 ns/op`, `1.23M instructions/op`, `2.0 MiB`, `3.50 MB/s`.
pub(super) fn format_value(v: f64, unit: &str) -> String {
    match unit {
        "ms" => format_ms(v),
        "bytes" => human_size(v.max(0.0).round() as u64),
        "ns/op" => {
            let (scaled, u) = if v.abs() < 1e3 {
                (v, "ns")
            } else if v.abs() < 1e6 {
                (v / 1e3, "µs")
            } else if v.abs() < 1e9 {
                (v / 1e6, "ms")
            } else {
                (v / 1e9, "s")
            };
            format!("{} {u}/op", three_digits(scaled))
        }
        "instructions" | "instructions/op" => {
            let (scaled, suffix) = if v.abs() >= 1e9 {
                (v / 1e9, "G")
            } else if v.abs() >= 1e6 {
                (v / 1e6, "M")
            } else if v.abs() >= 1e3 {
                (v / 1e3, "k")
            } else {
                (v, "")
            };
            format!("{}{suffix} {unit}", three_digits(scaled))
        }
        _ => format!("{} {unit}", three_digits(v)),
    }
}

/// [`format_value`] without the unit's words where the chart's column names them: `1.20M`
/// (instructions), `2.00 µs` (ns/op), `12.3 ms`, `1.5 MiB`.
fn format_short(v: f64, unit: &str) -> String {
    let long = format_value(v, unit);
    match unit {
        "instructions" | "instructions/op" => long
            .strip_suffix(unit)
            .map_or(long.clone(), |s| s.trim_end().to_string()),
        "ns/op" => long.strip_suffix("/op").unwrap_or(&long).to_string(),
        _ => long,
    }
}

/// Three significant digits (more before the point when the value is that big).
fn three_digits(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let decimals = (2 - v.abs().log10().floor() as i32).clamp(0, 9) as usize;
    format!("{v:.decimals$}")
}

/// `+12.3%`, `−4.0%`.
fn signed_pct(pct: f64) -> String {
    if pct >= 0.0 {
        format!("+{pct:.1}%")
    } else {
        format!("\u{2212}{:.1}%", -pct)
    }
}

/// The hover text of a change marker and the words of the change list.
fn describe_change(s: &HistorySeries, c: &ChangePoint, nights: &[Night]) -> String {
    let mut t = format!(
        "{} {} {}: {} → {} ({}), confidence {:.1}%",
        s.subject,
        s.target,
        s.toolchain,
        format_value(c.before, &s.unit),
        format_value(c.after, &s.unit),
        signed_pct(c.change_pct),
        c.confidence * 100.0
    );
    if let Some(n) = nights.get(c.night) {
        let _ = write!(t, "\nfrom the night of {}", n.label);
        if let Some(commit) = &n.commit {
            let _ = write!(t, ", commit {commit}");
        }
    }
    if c.regression {
        t.push_str("\nregression");
    } else {
        t.push_str("\nimprovement");
    }
    t
}

/// Every change of every series: those found with the newest night first, then the older
/// ones, newest night first; regressions before improvements, larger before smaller.
fn change_list(history: &History, charts: &[ChartRow<'_>]) -> String {
    let anchor: HashMap<&str, usize> = charts
        .iter()
        .enumerate()
        .flat_map(|(i, r)| {
            r.instructions
                .iter()
                .chain(r.time.as_ref())
                .map(move |s| (s.name.as_str(), i))
        })
        .collect();
    let mut changes: Vec<(&HistorySeries, &ChangePoint)> = history
        .series
        .iter()
        .flat_map(|s| s.changes.iter().map(move |c| (s, c)))
        .collect();
    changes.sort_by(|(_, a), (_, b)| {
        b.new
            .cmp(&a.new)
            .then(b.night.cmp(&a.night))
            .then(b.regression.cmp(&a.regression))
            .then(b.change_pct.abs().total_cmp(&a.change_pct.abs()))
    });
    let mut out = String::from("<h2 id=\"changes\">Changes</h2>\n");
    if changes.is_empty() {
        out.push_str("<p>No change point over these nights.</p>\n");
        return out;
    }
    let (new, older): (Vec<_>, Vec<_>) = changes.into_iter().partition(|(_, c)| c.new);
    let newest = history.nights.last().map_or("", |n| n.label.as_str());
    let mut table = |title: String, rows: &[(&HistorySeries, &ChangePoint)]| {
        let _ = writeln!(out, "<h3>{}</h3>", esc(&title));
        if rows.is_empty() {
            out.push_str("<p>No change.</p>\n");
            return;
        }
        out.push_str("<table class=\"changes\">\n<tr><th></th><th>night</th><th>series</th><th>before → after</th><th>change</th><th>confidence</th><th>commit</th></tr>\n");
        for (s, c) in rows {
            let night = history.nights.get(c.night);
            let series = match anchor.get(s.name.as_str()) {
                Some(i) => format!("<a href=\"#h-{i}\">{}</a>", esc(&s.subject)),
                None => format!("<b>{}</b>", esc(&s.subject)),
            };
            let _ = writeln!(
                out,
                "<tr class=\"{}\" title=\"{}\"><td><i style=\"background:{}\"></i></td><td>{}</td><td class=\"series\">{series} {} {} <span class=\"dim\">{}</span> <span class=\"dim\">({})</span></td><td>{} → {}</td><td class=\"{}\">{}</td><td>{:.1}%</td><td><code>{}</code></td></tr>",
                if c.regression {
                    "regression"
                } else {
                    "improvement"
                },
                esc(&describe_change(s, c, &history.nights)),
                change_color(c),
                esc(night.map_or("?", |n| n.label.as_str())),
                esc(&s.target),
                esc(&s.toolchain),
                esc(&rest_of_name(&s.name)),
                esc(&s.unit),
                esc(&format_value(c.before, &s.unit)),
                esc(&format_value(c.after, &s.unit)),
                if c.regression { "worse" } else { "better" },
                esc(&signed_pct(c.change_pct)),
                c.confidence * 100.0,
                esc(night
                    .and_then(|n| n.commit.as_deref())
                    .map_or("-", short_commit)),
            );
        }
        out.push_str("</table>\n");
    };
    table(format!("Starting on the newest night ({newest})"), &new);
    table("Earlier".to_string(), &older);
    out
}

/// What the series' name says beyond its subject, toolchain and target (mode, rootfs,
/// program, package): `mode=cgo0 rootfs=scratch program=probe`.
fn rest_of_name(name: &str) -> String {
    name.split(' ')
        .skip(1)
        .filter(|p| !p.starts_with("target=") && !p.starts_with("toolchain="))
        .collect::<Vec<_>>()
        .join(" ")
}

fn short_commit(c: &str) -> &str {
    c.get(..12).unwrap_or(c)
}

/// The series section: under a heading per subject × toolchain × mode × rootfs × program, a
/// row per target with its instructions chart and its time chart side by side.
fn series_charts(history: &History, rows: &[ChartRow<'_>]) -> String {
    let mut out = String::from(
        "<h2 id=\"series\">Benchmarks and startup over the nights</h2>\n<p class=\"legend\">",
    );
    for (color, what) in [
        (INSTRUCTIONS_COLOR, "instructions (counted, exact)"),
        (TIME_COLOR, "time (median)"),
        (REGRESSION_COLOR, "change point: regression"),
        (IMPROVEMENT_COLOR, "change point: improvement"),
    ] {
        let _ = write!(
            out,
            "<span><i style=\"background:{color}\"></i>{}</span>",
            esc(what)
        );
    }
    out.push_str("</p>\n");
    if rows.is_empty() {
        out.push_str("<p>No benchmark or startup over these nights.</p>\n");
        return out;
    }
    let mut group: Option<&str> = None;
    for (i, row) in rows.iter().enumerate() {
        if group != Some(row.group.as_str()) {
            if group.is_some() {
                out.push_str("</table>\n");
            }
            group = Some(row.group.as_str());
            let per = if row.subject == "startup" {
                " per run"
            } else {
                " per op"
            };
            let _ = writeln!(
                out,
                "<h3>{} <span class=\"dim\">{}</span></h3>\n<table class=\"series\">\n<tr><th>target</th><th>instructions{}</th><th>time{}</th></tr>",
                esc(row.subject),
                esc(&row.group[row.group.find(' ').map_or(row.group.len(), |i| i + 1)..]),
                per,
                per,
            );
        }
        let instructions = if row.instructions.is_empty() {
            "<span class=\"dim\">not counted</span>".to_string()
        } else {
            series_chart(&history.nights, &row.instructions, INSTRUCTIONS_COLOR)
        };
        let time = match row.time {
            Some(s) => series_chart(&history.nights, &[s], TIME_COLOR),
            None => "<span class=\"dim\">not timed</span>".to_string(),
        };
        let counters: Vec<&str> = row
            .instructions
            .iter()
            .filter_map(|s| s.counter.as_deref())
            .collect();
        let _ = writeln!(
            out,
            "<tr id=\"h-{i}\"><td><code>{}</code>{}</td><td>{instructions}</td><td>{time}</td></tr>",
            esc(row.target),
            if counters.is_empty() {
                String::new()
            } else {
                format!(
                    "<br/><span class=\"dim\">{}</span>",
                    esc(&counters.join(", "))
                )
            }
        );
    }
    out.push_str("</table>\n");
    out
}

/// A chart of `lines` (one series, or one per counter) over the nights: the values, the
/// first and last night under it, the range beside it, and a marker at each change point
/// with the levels before and after it.
fn series_chart(nights: &[Night], lines: &[&HistorySeries], color: &str) -> String {
    let (left, plot_w, right, top, plot_h, bottom) = (64.0, 260.0, 78.0, 8.0, 56.0, 16.0);
    let (w, h) = (left + plot_w + right, top + plot_h + bottom);
    let unit = lines.first().map_or("", |s| s.unit.as_str());
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"{w}\" height=\"{h}\">"
    );
    let values = lines
        .iter()
        .flat_map(|l| l.values.iter().flatten().copied())
        .chain(
            lines
                .iter()
                .flat_map(|l| l.changes.iter().flat_map(|c| [c.before, c.after])),
        )
        .filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        s.push_str("<text class=\"dim\" x=\"0\" y=\"18\">-</text></svg>");
        return s;
    }
    // Room above and below, and a span of at least 10% of the value for a time (2% for an
    // exact count), so run-to-run noise stays small and a flat series sits mid-height.
    let least = (lo.abs() + hi.abs()) / 2.0
        * if lines.iter().any(|l| l.exact) {
            0.02
        } else {
            0.10
        };
    let pad = ((hi - lo) * 0.08).max((least - (hi - lo)) / 2.0).max(1e-9);
    let (lo, hi) = (lo - pad, hi + pad);
    let step = if nights.len() > 1 {
        plot_w / (nights.len() - 1) as f64
    } else {
        0.0
    };
    let x_of = |i: usize| {
        if nights.len() > 1 {
            left + i as f64 * step
        } else {
            left + plot_w / 2.0
        }
    };
    let y_of = |v: f64| top + plot_h - (v - lo) / (hi - lo) * plot_h;
    let _ = write!(
        s,
        "<rect x=\"{left}\" y=\"{top}\" width=\"{plot_w}\" height=\"{plot_h}\" fill=\"#f6f8fa\" stroke=\"#d0d7de\"></rect>"
    );
    // The range of the values (one label for a flat series), left of the plot.
    let (top_value, bottom_value) = (hi - pad, lo + pad);
    let labels = if top_value > bottom_value {
        vec![(top + 10.0, top_value), (top + plot_h, bottom_value)]
    } else {
        vec![(top + plot_h / 2.0 + 4.0, top_value)]
    };
    for (y, v) in labels {
        let _ = write!(
            s,
            "<text class=\"dim\" x=\"{:.1}\" y=\"{y:.1}\" text-anchor=\"end\">{}</text>",
            left - 4.0,
            esc(&format_short(v, unit)),
        );
    }
    if let (Some(first), Some(last)) = (nights.first(), nights.last()) {
        let _ = write!(
            s,
            "<text class=\"dim\" x=\"{left}\" y=\"{:.1}\">{}</text>",
            h - 3.0,
            esc(day(&first.label))
        );
        if nights.len() > 1 {
            let _ = write!(
                s,
                "<text class=\"dim\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                left + plot_w,
                h - 3.0,
                esc(day(&last.label))
            );
        }
    }
    for line in lines {
        // The levels before and after each change, faint, under the line.
        let mut from = 0;
        for (k, c) in line.changes.iter().enumerate() {
            let to = line
                .changes
                .get(k + 1)
                .map_or(nights.len() - 1, |n| n.night);
            for (a, b, v) in [
                (from, c.night.saturating_sub(1), c.before),
                (c.night, to, c.after),
            ] {
                let _ = write!(
                    s,
                    "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{}\" stroke-opacity=\"0.45\" stroke-dasharray=\"3 2\"></line>",
                    x_of(a),
                    x_of(b.max(a)),
                    change_color(c),
                    y = y_of(v)
                );
            }
            from = c.night;
        }
        // One polyline per unbroken stretch of nights.
        let mut segment: Vec<String> = Vec::new();
        let flush = |segment: &mut Vec<String>, s: &mut String| {
            match segment.len() {
                0 => {}
                1 => {
                    let (x, y) = segment[0].split_once(',').expect("x,y");
                    let _ = write!(
                        s,
                        "<circle cx=\"{x}\" cy=\"{y}\" r=\"2\" fill=\"{color}\"></circle>"
                    );
                }
                _ => {
                    let _ = write!(
                        s,
                        "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"><title>{}</title></polyline>",
                        segment.join(" "),
                        esc(&line
                            .counter
                            .as_deref()
                            .map_or_else(|| line.name.clone(), |c| format!("{} ({c})", line.name)))
                    );
                }
            }
            segment.clear();
        };
        for (i, v) in line.values.iter().enumerate() {
            match v.filter(|v| v.is_finite()) {
                Some(v) => segment.push(format!("{:.1},{:.1}", x_of(i), y_of(v))),
                None => flush(&mut segment, &mut s),
            }
        }
        flush(&mut segment, &mut s);
        // A marker at the first night of each change, with what changed on hover.
        for c in &line.changes {
            let x = x_of(c.night).round();
            let color = change_color(c);
            let _ = write!(
                s,
                "<g class=\"cp\"><title>{}</title><line x1=\"{x}\" y1=\"{top}\" x2=\"{x}\" y2=\"{:.1}\" stroke=\"{color}\" stroke-width=\"2\" stroke-dasharray=\"5 2\" shape-rendering=\"crispEdges\"></line><path d=\"M{:.1} {:.1}L{:.1} {:.1}L{x} {:.1}Z\" fill=\"{color}\"></path></g>",
                esc(&describe_change(line, c, nights)),
                top + plot_h,
                x - 5.0,
                top - 6.0,
                x + 5.0,
                top - 6.0,
                top + 2.0,
            );
        }
    }
    // The newest value beside the chart.
    if let Some(last) = lines
        .iter()
        .filter_map(|l| l.values.last().copied().flatten())
        .next()
    {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            left + plot_w + 6.0,
            top + plot_h / 2.0 + 4.0,
            esc(&format_short(last, unit))
        );
    }
    s.push_str("</svg>");
    s
}

/// `2025-01-04` of `2025-01-04T03:00:00Z`.
fn day(label: &str) -> &str {
    label
        .get(..10)
        .filter(|d| d.as_bytes().get(4) == Some(&b'-'))
        .unwrap_or(label)
}
