//! Report writers: every format is rendered from the same records by one small module
//! behind [`Reporter`], so adding a format touches nothing else.

pub(crate) mod ansi;
mod benchstat;
mod bmf;
pub(crate) mod dashboard;
mod emulator_notes;
mod github_benchmark;
mod html;
mod json;
mod junit;
mod markdown;
mod openmetrics;
mod portability;
mod rootfs_notes;
mod table;
mod units;

#[cfg(test)]
pub(crate) mod tests;

use crate::schema::{CellRecord, RunMeta};
use std::fmt;
use std::str::FromStr;

pub(crate) use dashboard::counter_label;
pub use html::render_html_history;
pub use portability::{TRAP_PROGRAM_PREFIX, is_trap_suite, render_portability};
pub use units::{format_ms, human_size};

/// The formats `render` can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportFormat {
    /// Aligned plain text for terminals and CI logs.
    Table,
    /// GitHub-flavoured Markdown for `$GITHUB_STEP_SUMMARY`.
    Markdown,
    /// The records as a pretty JSON array.
    Json,
    /// JUnit XML for CI test reporting.
    Junit,
    /// Go's benchmark format, for `benchstat base.txt new.txt`.
    Benchstat,
    /// One self-contained HTML dashboard page.
    Html,
    /// Bencher Metric Format JSON, for `bencher run --adapter json`.
    Bmf,
    /// The `customSmallerIsBetter` JSON array of benchmark-action/github-action-benchmark.
    GithubBenchmark,
    /// OpenMetrics text, for a Prometheus Pushgateway.
    OpenMetrics,
}

impl ReportFormat {
    pub const ALL: &'static [ReportFormat] = &[
        ReportFormat::Table,
        ReportFormat::Markdown,
        ReportFormat::Json,
        ReportFormat::Junit,
        ReportFormat::Benchstat,
        ReportFormat::Html,
        ReportFormat::Bmf,
        ReportFormat::GithubBenchmark,
        ReportFormat::OpenMetrics,
    ];

    /// The name accepted by `FromStr` (`table`, `md`, `json`, `junit`, `benchstat`, `html`,
    /// `bmf`, `github-action-benchmark`, `openmetrics`).
    pub fn name(self) -> &'static str {
        match self {
            ReportFormat::Table => "table",
            ReportFormat::Markdown => "md",
            ReportFormat::Json => "json",
            ReportFormat::Junit => "junit",
            ReportFormat::Benchstat => "benchstat",
            ReportFormat::Html => "html",
            ReportFormat::Bmf => "bmf",
            ReportFormat::GithubBenchmark => "github-action-benchmark",
            ReportFormat::OpenMetrics => "openmetrics",
        }
    }

    /// The usual file extension for this format.
    pub fn extension(self) -> &'static str {
        match self {
            ReportFormat::Table => "txt",
            ReportFormat::Markdown => "md",
            ReportFormat::Json => "json",
            ReportFormat::Junit => "xml",
            ReportFormat::Benchstat => "txt",
            ReportFormat::Html => "html",
            ReportFormat::Bmf | ReportFormat::GithubBenchmark => "json",
            ReportFormat::OpenMetrics => "txt",
        }
    }

    fn reporter(self) -> &'static dyn Reporter {
        match self {
            ReportFormat::Table => &table::TableReporter,
            ReportFormat::Markdown => &markdown::MarkdownReporter,
            ReportFormat::Json => &json::JsonReporter,
            ReportFormat::Junit => &junit::JunitReporter,
            ReportFormat::Benchstat => &benchstat::BenchstatReporter,
            ReportFormat::Html => &html::HtmlReporter,
            ReportFormat::Bmf => &bmf::BmfReporter,
            ReportFormat::GithubBenchmark => &github_benchmark::GithubBenchmarkReporter,
            ReportFormat::OpenMetrics => &openmetrics::OpenMetricsReporter,
        }
    }
}

impl fmt::Display for ReportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ReportFormat {
    type Err = ReportError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "table" => Ok(ReportFormat::Table),
            "md" | "markdown" => Ok(ReportFormat::Markdown),
            "json" => Ok(ReportFormat::Json),
            "junit" => Ok(ReportFormat::Junit),
            "benchstat" => Ok(ReportFormat::Benchstat),
            "html" => Ok(ReportFormat::Html),
            "bmf" => Ok(ReportFormat::Bmf),
            "github-action-benchmark" => Ok(ReportFormat::GithubBenchmark),
            "openmetrics" => Ok(ReportFormat::OpenMetrics),
            _ => Err(ReportError::UnknownFormat(s.to_string())),
        }
    }
}

/// How to render.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Use ANSI colours (only the table uses them). The caller decides: TTY and no `NO_COLOR`.
    pub color: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(
        "unknown report format `{0}`: expected one of table, md, json, junit, benchstat, html, bmf, github-action-benchmark, openmetrics"
    )]
    UnknownFormat(String),
    #[error("cannot write the JSON report: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot write the JUnit report: {0}")]
    Junit(#[from] quick_junit::SerializeError),
}

/// What every format renders: the records in order, the run's metadata when known, and how.
#[derive(Clone, Copy)]
struct Input<'a> {
    records: &'a [CellRecord],
    meta: Option<&'a RunMeta>,
    opts: &'a RenderOptions,
}

/// One report format.
trait Reporter {
    fn render(&self, input: &Input<'_>) -> Result<String, ReportError>;
}

/// Renders `records` (in the order given) as `format`. `meta`, when known, adds the wall
/// time and run timestamps. A failure that depends on the root gets a note when the same
/// build passes on another rootfs (see [`rootfs_notes`]).
pub fn render(
    format: ReportFormat,
    records: &[CellRecord],
    meta: Option<&RunMeta>,
    opts: &RenderOptions,
) -> Result<String, ReportError> {
    let records = rootfs_notes::with_passing_rootfs(records);
    let records = emulator_notes::with_steady_elsewhere(&records);
    format.reporter().render(&Input {
        records: &records,
        meta,
        opts,
    })
}

/// The one-line totals every human format starts or ends with:
/// `6 cells: 2 passed, 2 failed, 1 skipped, 1 built (not run)`.
fn totals_line(records: &[CellRecord]) -> String {
    let t = crate::schema::Totals::from_records(records);
    let mut line = format!(
        "{} {}: {} passed, {} failed, {} skipped, {} built (not run)",
        t.cells,
        if t.cells == 1 { "cell" } else { "cells" },
        t.pass,
        t.fail,
        t.skipped,
        t.built
    );
    if t.flaky > 0 {
        line.push_str(&format!(" ({} passed only on a retry: flaky)", t.flaky));
    }
    let reused = records.iter().filter(|r| r.reused_from.is_some()).count();
    if reused > 0 {
        line.push_str(&format!(
            "; {reused} reused from an earlier run (inputs unchanged)"
        ));
    }
    if let Some(t) = test_totals(records) {
        line.push_str(&format!(
            "; {} Go {}: {} passed, {} failed, {} skipped",
            t.run,
            if t.run == 1 { "test" } else { "tests" },
            t.passed,
            t.failed,
            t.skipped
        ));
        if t.flaky > 0 {
            line.push_str(&format!(" ({} flaky: passed only on a retry)", t.flaky));
        }
    }
    line
}

/// The Go tests of every test cell, added up; `None` when no cell ran tests.
fn test_totals(records: &[CellRecord]) -> Option<crate::schema::TestTotals> {
    let mut any = false;
    let mut t = crate::schema::TestTotals::default();
    for r in records.iter().filter_map(|r| r.tests.as_ref()) {
        any = true;
        t.run += r.totals.run;
        t.passed += r.totals.passed;
        t.failed += r.totals.failed;
        t.skipped += r.totals.skipped;
        t.flaky += r.totals.flaky;
    }
    any.then_some(t)
}

/// A test cell's tests in a few words (`125 passed`, `3 of 120 failed, 2 skipped`); `-` for
/// a cell without tests.
fn tests_label(rec: &CellRecord) -> String {
    let Some(t) = &rec.tests else {
        return "-".into();
    };
    let n = t.totals;
    let mut s = if n.failed > 0 {
        format!("{} of {} failed", n.failed, n.run)
    } else if n.run == 0 && t.no_tests_to_run {
        "no tests to run".to_string()
    } else {
        format!("{} passed", n.passed)
    };
    if n.skipped > 0 {
        s.push_str(&format!(", {} skipped", n.skipped));
    }
    if n.flaky > 0 {
        s.push_str(&format!(", {} flaky", n.flaky));
    }
    if !t.benchmarks.is_empty() {
        s.push_str(&format!(", {} benchmarks", t.benchmarks.len()));
    }
    s
}

/// The flaky tests of a cell (failed, then passed on a retry), each with how many runs failed
/// and the first line of its first failure.
fn flaky_tests(rec: &CellRecord) -> Vec<(String, u32, String)> {
    rec.flaky_entries()
}

/// The failed tests of a cell with the first line of each one's output (the failure): what
/// reports list under a failing test cell.
fn failing_tests(rec: &CellRecord) -> Vec<(String, String)> {
    rec.tests
        .iter()
        .flat_map(|t| t.failed())
        .map(|c| (c.name.clone(), c.failure_line()))
        .collect()
}

/// `wall time 2m 05s`, how it compares with the run's CPU bound when known, and what the
/// result lacks against its plan (`incomplete: 1 planned cell without a record`), or
/// `(interrupted)` when the run did not finish.
fn wall_time_note(meta: &RunMeta, records: &[CellRecord]) -> String {
    let mut s = format!("wall time {}", format_ms(meta.wall_ms as f64));
    if meta.cpu_bound_s > 0.0 {
        s.push_str(&format!(
            " = {:.2}× the bound {} ({:.1} s CPU on {} cores)",
            meta.wall_ms as f64 / 1000.0 / meta.cpu_bound_s,
            format_ms(meta.cpu_bound_s * 1000.0),
            meta.cpu_s,
            meta.cores
        ));
    }
    let complete = crate::Completeness::of(meta, records);
    if !complete.is_complete() {
        s.push_str(&format!(" ({})", complete.summary()));
    } else if meta.interrupted {
        s.push_str(" (interrupted)");
    }
    s
}

/// `1.23 ms ± 0.05 ms`, or `-` when the cell has no startup timing.
fn startup_label(rec: &CellRecord) -> String {
    match &rec.startup {
        Some(s) => format!("{} ± {}", format_ms(s.median_ms), format_ms(s.mad_ms)),
        None => "-".into(),
    }
}

/// A program's counted instructions (`287334`, `287334 ±0.004%` when the counted runs
/// differed), a test cell's counted benchmarks (`3 benchmarks`), or `-`.
fn instructions_label(rec: &CellRecord) -> String {
    if let Some(i) = &rec.instructions {
        let spread = i.spread();
        return if spread > 1.0 {
            format!("{} ±{:.3}%", i.count, (spread - 1.0) * 100.0)
        } else {
            i.count.to_string()
        };
    }
    let counted = rec.tests.as_ref().map_or(0, |t| {
        t.benchmarks
            .iter()
            .filter(|b| b.instructions.is_some())
            .count()
    });
    match counted {
        0 => "-".into(),
        1 => "1 benchmark counted".into(),
        n => format!("{n} benchmarks counted"),
    }
}

fn size_label(rec: &CellRecord) -> String {
    rec.binary
        .as_ref()
        .map_or_else(|| "-".into(), |b| human_size(b.size_bytes))
}
