//! Rendering a [`Comparison`]: one function per section (headline, each status change, size,
//! startup) that says *what* the section holds, written through a [`Sink`] that knows *how*
//! its format looks — aligned, optionally coloured text, or GitHub-flavoured Markdown. A new
//! section is one function; a new format is one `Sink`.

use super::{
    CellComparison, Change, Comparison, SizeDelta, StartupDelta, TestChange, TestComparison, pct,
    signed_size,
};
use crate::report::{format_ms, human_size};
use crate::schema::CellStatus;
use std::fmt::Write as _;
use unicode_width::UnicodeWidthStr;

use crate::report::ansi::{BOLD, DIM, GREEN, RED, RESET, YELLOW};

/// Renders every section of `cmp` through `sink`, in order, and returns the text.
pub(super) fn render(cmp: &Comparison, sink: &mut dyn Sink) -> String {
    headline(cmp, sink);
    // In `Change::ALL`'s order; `Same` is only counted.
    for &change in Change::ALL.iter().filter(|&&c| c != Change::Same) {
        status_section(cmp, change, sink);
    }
    for &change in TestChange::ALL {
        let rows: Vec<&TestComparison> = cmp.tests_with(change).collect();
        if !rows.is_empty() {
            sink.test_section(change, cmp, &rows);
        }
    }
    size_section(cmp, sink);
    startup_section(cmp, sink);
    instructions_section(cmp, sink);
    sink.finish()
}

/// One cell of a status section: its key, `pass → fail (cause)`, and for a failing side the
/// cause and hint (not for a fixed cell: its hint was about the old failure).
pub(super) struct StatusRow {
    key: String,
    transition: String,
    cause: Option<String>,
    hint: Option<String>,
}

/// A column of a data table: its header, and whether it is right-aligned.
pub(super) struct Column {
    header: Header,
    right: bool,
}

/// Headers are lower-case words, upper-cased in text, except run labels (`go1.24`,
/// `results/nightly`), which stay as the user wrote them.
enum Header {
    Word(&'static str),
    Label(String),
}

/// A section title as each format spells it.
pub(super) struct Title {
    text: &'static str,
    markdown: &'static str,
}

/// A table cell with its colour in the text format.
pub(super) struct Styled {
    text: String,
    style: Option<&'static str>,
}

impl Styled {
    fn plain(text: String) -> Styled {
        Styled { text, style: None }
    }
}

/// How a format writes a comparison's parts.
pub(super) trait Sink {
    /// `counts` is the summary sentence; `lines` the size and startup summaries.
    fn headline(&mut self, cmp: &Comparison, counts: &str, lines: &[String]);
    fn status_section(&mut self, change: Change, cmp: &Comparison, rows: &[StatusRow]);
    /// Go tests that changed this way.
    fn test_section(&mut self, change: TestChange, cmp: &Comparison, rows: &[&TestComparison]);
    /// A data table under `title` (the first column is the cell key); `footnote` after it.
    fn table(
        &mut self,
        title: &Title,
        columns: &[Column],
        rows: &[Vec<Styled>],
        footnote: Option<String>,
    );
    fn finish(&mut self) -> String;
}

fn headline(cmp: &Comparison, sink: &mut dyn Sink) {
    let s = &cmp.summary;
    let mut counts = format!(
        "{} → {}: {} {} compared: {} regressed, {} fixed",
        cmp.base_label,
        cmp.new_label,
        s.cells,
        plural(s.cells, "cell"),
        s.regressed,
        s.fixed
    );
    for change in [
        Change::CauseChanged,
        Change::StillFailing,
        Change::StatusChanged,
        Change::Added,
        Change::Removed,
    ] {
        let n = s.count(change);
        if n > 0 {
            let _ = write!(counts, ", {n} {}", change.heading().to_lowercase());
        }
    }
    let _ = write!(counts, ", {} same", s.same);
    let size = match s.size_geomean_pct {
        Some(g) => format!(
            "size: geomean {} over {} {}",
            pct(g),
            s.size_cells,
            plural(s.size_cells, "cell")
        ),
        None => "size: no cell has a binary on both sides".into(),
    };
    let startup = match s.startup_geomean_pct {
        Some(g) => format!(
            "startup: geomean {} over {} significant of {} timed (α={}; ~ = no significant difference)",
            pct(g),
            s.startup_significant,
            s.startup_compared,
            cmp.alpha
        ),
        None if s.startup_compared > 0 => format!(
            "startup: ~ no significant difference in {} timed {} (α={})",
            s.startup_compared,
            plural(s.startup_compared, "cell"),
            cmp.alpha
        ),
        None => "startup: no cell was timed on both sides".into(),
    };
    let mut lines = vec![size, startup];
    if s.tests_compared > 0 || !cmp.tests.is_empty() {
        lines.push(format!(
            "tests: {} broke, {} fixed, {} newly skipped, {} failing on both sides ({} compared)",
            s.tests_broke,
            s.tests_fixed,
            s.tests_newly_skipped,
            s.tests_still_failing,
            s.tests_compared
        ));
    }
    if s.instructions_compared + s.instructions_incomparable > 0 {
        let mut line = format!(
            "instructions: {} of {} counts changed (exact: any change is one)",
            s.instructions_changed, s.instructions_compared
        );
        if s.instructions_incomparable > 0 {
            let _ = write!(
                line,
                "; {} counted by different counters, not compared",
                s.instructions_incomparable
            );
        }
        lines.push(line);
    }
    if s.newly_flaky + s.no_longer_flaky > 0 {
        lines.push(format!(
            "flaky (passed only on a retry): {} newly, {} no longer",
            s.newly_flaky, s.no_longer_flaky
        ));
    }
    sink.headline(cmp, &counts, &lines);
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

fn status_section(cmp: &Comparison, change: Change, sink: &mut dyn Sink) {
    let rows: Vec<StatusRow> = cmp
        .with_change(change)
        .map(|c| {
            let failing = c
                .new
                .as_ref()
                .or(c.base.as_ref())
                .filter(|s| s.status != CellStatus::Pass && change != Change::Fixed);
            StatusRow {
                key: c.key.clone(),
                transition: transition(c),
                cause: failing.and_then(|s| s.cause).map(|c| c.code().to_string()),
                hint: failing
                    .and_then(|s| s.hint.clone())
                    .filter(|h| !h.trim().is_empty()),
            }
        })
        .collect();
    if !rows.is_empty() {
        sink.status_section(change, cmp, &rows);
    }
}

/// `pass → fail (glibc-version)`, `(absent) → fail (timeout)`.
pub(super) fn transition(c: &CellComparison) -> String {
    let label = |s: &Option<super::CellSide>| {
        s.as_ref()
            .map_or_else(|| "(absent)".to_string(), super::CellSide::status_label)
    };
    format!("{} → {}", label(&c.base), label(&c.new))
}

/// `pass → fail` for a test.
fn test_transition(t: &TestComparison) -> String {
    match t.change {
        TestChange::NewlyFlaky => return "steady → flaky (passed only on a retry)".into(),
        TestChange::NoLongerFlaky if t.new == crate::schema::TestStatus::Pass => {
            return "flaky → steady".into();
        }
        TestChange::NoLongerFlaky => return format!("flaky → {}", t.new.as_str()),
        _ => {}
    }
    format!(
        "{} → {}",
        t.base.map_or("(absent)", |b| b.as_str()),
        t.new.as_str()
    )
}

/// The first line of a test's output that says why.
fn test_reason(t: &TestComparison) -> String {
    crate::schema::first_output_line(&t.output)
}

fn test_style(change: TestChange) -> Option<&'static str> {
    match change {
        TestChange::Broke => Some(RED),
        TestChange::Fixed => Some(GREEN),
        TestChange::NewlySkipped | TestChange::StillFailing | TestChange::NewlyFlaky => {
            Some(YELLOW)
        }
        TestChange::NoLongerFlaky => Some(GREEN),
    }
}

fn run_columns(cmp: &Comparison, rest: &[(&'static str, bool)]) -> Vec<Column> {
    let mut cols = vec![
        Column {
            header: Header::Word("cell"),
            right: false,
        },
        Column {
            header: Header::Label(cmp.base_label.clone()),
            right: true,
        },
        Column {
            header: Header::Label(cmp.new_label.clone()),
            right: true,
        },
    ];
    cols.extend(rest.iter().map(|&(w, right)| Column {
        header: Header::Word(w),
        right,
    }));
    cols
}

fn size_section(cmp: &Comparison, sink: &mut dyn Sink) {
    let sizes = size_rows(cmp);
    if sizes.is_empty() {
        return;
    }
    let rows: Vec<Vec<Styled>> = sizes
        .iter()
        .map(|(c, s)| {
            vec![
                Styled::plain(c.key.clone()),
                Styled::plain(human_size(s.base_bytes)),
                Styled::plain(human_size(s.new_bytes)),
                Styled::plain(signed_size(s.delta_bytes)),
                Styled {
                    text: pct(s.delta_pct),
                    style: Some(if s.delta_pct > 0.0 { RED } else { GREEN }),
                },
            ]
        })
        .collect();
    let unchanged = cmp.summary.size_cells - sizes.len();
    sink.table(
        &Title {
            text: "SIZE",
            markdown: "Size",
        },
        &run_columns(cmp, &[("delta", true), ("%", true)]),
        &rows,
        (unchanged > 0).then(|| format!("{unchanged} more with the same size")),
    );
}

fn startup_section(cmp: &Comparison, sink: &mut dyn Sink) {
    let startups = startup_rows(cmp);
    if startups.is_empty() {
        return;
    }
    let rows: Vec<Vec<Styled>> = startups
        .iter()
        .map(|(c, s)| {
            let style = match (s.significant, s.delta_pct > 0.0) {
                (true, true) => Some(RED),
                (true, false) => Some(GREEN),
                _ => None,
            };
            vec![
                Styled::plain(c.key.clone()),
                Styled::plain(format_ms(s.base_median_ms)),
                Styled::plain(format_ms(s.new_median_ms)),
                Styled {
                    text: s.verdict(),
                    style,
                },
            ]
        })
        .collect();
    sink.table(
        &Title {
            text: "STARTUP (median)",
            markdown: "Startup (median)",
        },
        &run_columns(cmp, &[("delta", false)]),
        &rows,
        None,
    );
}

/// Every count that changed, largest relative growth first, then those counted by different
/// counters (not compared: another qemu or CPU model counts differently).
fn instructions_section(cmp: &Comparison, sink: &mut dyn Sink) {
    let mut changed: Vec<(&CellComparison, &super::InstructionsDelta)> = cmp
        .cells
        .iter()
        .flat_map(|c| c.instructions.iter().map(move |d| (c, d)))
        .filter(|(_, d)| d.changed() || !d.comparable())
        .collect();
    if changed.is_empty() {
        return;
    }
    changed.sort_by(|a, b| {
        b.1.comparable()
            .cmp(&a.1.comparable())
            .then(b.1.delta_pct.total_cmp(&a.1.delta_pct))
    });
    let figure = |v: f64| {
        if v.fract() == 0.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.2}")
        }
    };
    let rows: Vec<Vec<Styled>> = changed
        .iter()
        .map(|(c, d)| {
            let delta = if d.comparable() {
                Styled {
                    text: format!("{} ({})", figure(d.new - d.base), pct(d.delta_pct)),
                    style: Some(if d.new > d.base { RED } else { GREEN }),
                }
            } else {
                Styled {
                    text: format!("not compared: {} vs {}", d.base_counter, d.new_counter),
                    style: Some(YELLOW),
                }
            };
            let what = if d.subject == "run" {
                c.key.clone()
            } else {
                format!("{} {} (per op)", c.key, d.subject)
            };
            vec![
                Styled::plain(what),
                Styled::plain(figure(d.base)),
                Styled::plain(figure(d.new)),
                delta,
            ]
        })
        .collect();
    let unchanged = cmp.summary.instructions_compared - cmp.summary.instructions_changed;
    sink.table(
        &Title {
            text: "INSTRUCTIONS (counted)",
            markdown: "Instructions (counted)",
        },
        &run_columns(cmp, &[("delta", false)]),
        &rows,
        (unchanged > 0).then(|| format!("{unchanged} more counts unchanged")),
    );
}

/// Size rows, largest relative growth first; unchanged sizes are left out.
fn size_rows(cmp: &Comparison) -> Vec<(&CellComparison, &SizeDelta)> {
    let mut rows: Vec<_> = cmp
        .cells
        .iter()
        .filter_map(|c| c.size.as_ref().map(|s| (c, s)))
        .filter(|(_, s)| s.delta_bytes != 0)
        .collect();
    rows.sort_by(|a, b| b.1.delta_pct.total_cmp(&a.1.delta_pct));
    rows
}

/// Startup rows: significant changes first (largest slow-down first), then the rest.
fn startup_rows(cmp: &Comparison) -> Vec<(&CellComparison, &StartupDelta)> {
    let mut rows: Vec<_> = cmp
        .cells
        .iter()
        .filter_map(|c| c.startup.as_ref().map(|s| (c, s)))
        .collect();
    rows.sort_by(|a, b| {
        b.1.significant
            .cmp(&a.1.significant)
            .then(b.1.delta_pct.total_cmp(&a.1.delta_pct))
    });
    rows
}

// ---------------------------------------------------------------------------------------
// Text

/// Aligned plain text for terminals and CI logs; ANSI colours when `color`.
pub(super) struct TextSink {
    out: String,
    color: bool,
}

impl TextSink {
    pub(super) fn new(color: bool) -> TextSink {
        TextSink {
            out: String::new(),
            color,
        }
    }

    fn paint(&self, text: &str, style: Option<&str>) -> String {
        match style {
            Some(s) if self.color => format!("{s}{text}{RESET}"),
            _ => text.to_string(),
        }
    }
}

fn section_style(change: Change) -> Option<&'static str> {
    match change {
        Change::Regressed | Change::CauseChanged => Some(RED),
        Change::Fixed => Some(GREEN),
        Change::StillFailing | Change::StatusChanged => Some(YELLOW),
        _ => None,
    }
}

impl Sink for TextSink {
    fn headline(&mut self, _cmp: &Comparison, counts: &str, lines: &[String]) {
        let counts = self.paint(counts, Some(BOLD));
        let _ = writeln!(self.out, "{counts}");
        for l in lines {
            let _ = writeln!(self.out, "{l}");
        }
    }

    fn status_section(&mut self, change: Change, _cmp: &Comparison, rows: &[StatusRow]) {
        let title = format!("{} ({})", change.heading().to_uppercase(), rows.len());
        let title = self.paint(&title, section_style(change));
        let _ = writeln!(self.out, "\n{title}");
        for r in rows {
            let _ = writeln!(self.out, "  {}  {}", r.key, r.transition);
            if let Some(h) = &r.hint {
                let h = format!(
                    "↳ {}: {}",
                    r.cause.as_deref().unwrap_or_default(),
                    one_line(h)
                );
                let h = self.paint(&h, Some(DIM));
                let _ = writeln!(self.out, "    {h}");
            }
        }
    }

    fn test_section(&mut self, change: TestChange, _cmp: &Comparison, rows: &[&TestComparison]) {
        let title = format!("{} ({})", change.heading().to_uppercase(), rows.len());
        let title = self.paint(&title, test_style(change));
        let _ = writeln!(self.out, "\n{title}");
        for t in rows {
            let _ = writeln!(self.out, "  {}  {}  {}", t.cell, t.test, test_transition(t));
            let why = test_reason(t);
            if !why.is_empty() && change != TestChange::Fixed {
                let why = self.paint(&format!("↳ {}", one_line(&why)), Some(DIM));
                let _ = writeln!(self.out, "    {why}");
            }
        }
    }

    fn table(
        &mut self,
        title: &Title,
        columns: &[Column],
        rows: &[Vec<Styled>],
        footnote: Option<String>,
    ) {
        let title = self.paint(title.text, Some(BOLD));
        let _ = writeln!(self.out, "\n{title}");
        let header: Vec<Styled> = columns
            .iter()
            .map(|c| Styled {
                text: match &c.header {
                    Header::Word(w) => w.to_uppercase(),
                    Header::Label(l) => l.clone(),
                },
                style: Some(BOLD),
            })
            .collect();
        let all: Vec<&Vec<Styled>> = std::iter::once(&header).chain(rows).collect();
        let mut widths = vec![0; columns.len()];
        for row in &all {
            for (w, cell) in widths.iter_mut().zip(row.iter()) {
                *w = (*w).max(cell.text.width());
            }
        }
        for row in all {
            let mut line = String::from("  ");
            for (c, cell) in row.iter().enumerate() {
                if c > 0 {
                    line.push_str("  ");
                }
                let pad = " ".repeat(widths[c].saturating_sub(cell.text.width()));
                let text = self.paint(&cell.text, cell.style);
                if columns.get(c).is_some_and(|col| col.right) {
                    line.push_str(&pad);
                    line.push_str(&text);
                } else {
                    line.push_str(&text);
                    line.push_str(&pad);
                }
            }
            let _ = writeln!(self.out, "{}", line.trim_end());
        }
        if let Some(f) = footnote {
            let _ = writeln!(self.out, "  ({f})");
        }
    }

    fn finish(&mut self) -> String {
        std::mem::take(&mut self.out)
    }
}

// ---------------------------------------------------------------------------------------
// Markdown

/// GitHub-flavoured Markdown, for `$GITHUB_STEP_SUMMARY` and pull request comments.
#[derive(Default)]
pub(super) struct MarkdownSink {
    out: String,
}

impl Sink for MarkdownSink {
    fn headline(&mut self, cmp: &Comparison, counts: &str, lines: &[String]) {
        let _ = writeln!(
            self.out,
            "## crossmatrix compare: {} → {}\n\n**{}**\n",
            md_text(&cmp.base_label),
            md_text(&cmp.new_label),
            md_text(counts)
        );
        for l in lines {
            let _ = writeln!(self.out, "- {l}");
        }
    }

    fn status_section(&mut self, change: Change, cmp: &Comparison, rows: &[StatusRow]) {
        let _ = write!(
            self.out,
            "\n### {} ({})\n\n| cell | {} → {} | cause | hint |\n|---|---|---|---|\n",
            change.heading(),
            rows.len(),
            md_text(&cmp.base_label),
            md_text(&cmp.new_label)
        );
        for r in rows {
            let cause = r
                .cause
                .as_ref()
                .map_or_else(|| "-".to_string(), |c| format!("`{c}`"));
            let hint = r.hint.as_deref().map_or_else(|| "-".to_string(), md_text);
            let _ = writeln!(
                self.out,
                "| `{}` | {} | {cause} | {hint} |",
                code_span(&r.key),
                md_text(&r.transition)
            );
        }
    }

    fn test_section(&mut self, change: TestChange, cmp: &Comparison, rows: &[&TestComparison]) {
        let _ = write!(
            self.out,
            "\n### {} ({})\n\n| cell | test | {} → {} | output |\n|---|---|---|---|\n",
            change.heading(),
            rows.len(),
            md_text(&cmp.base_label),
            md_text(&cmp.new_label)
        );
        for t in rows {
            let why = test_reason(t);
            let _ = writeln!(
                self.out,
                "| `{}` | `{}` | {} | {} |",
                code_span(&t.cell),
                code_span(&t.test),
                test_transition(t),
                if why.is_empty() || change == TestChange::Fixed {
                    "-".to_string()
                } else {
                    md_text(&why)
                }
            );
        }
    }

    fn table(
        &mut self,
        title: &Title,
        columns: &[Column],
        rows: &[Vec<Styled>],
        footnote: Option<String>,
    ) {
        let title = title.markdown;
        let header: Vec<String> = columns
            .iter()
            .map(|c| match &c.header {
                Header::Word(w) => w.to_string(),
                Header::Label(l) => md_text(l),
            })
            .collect();
        let align: Vec<&str> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| if c.right && i > 0 { "---:" } else { "---" })
            .collect();
        let _ = write!(
            self.out,
            "\n### {title}\n\n| {} |\n|{}|\n",
            header.join(" | "),
            align.join("|")
        );
        for row in rows {
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if i == 0 {
                        format!("`{}`", code_span(&c.text))
                    } else {
                        c.text.clone()
                    }
                })
                .collect();
            let _ = writeln!(self.out, "| {} |", cells.join(" | "));
        }
        if let Some(f) = footnote {
            let _ = writeln!(self.out, "\n{f}.");
        }
    }

    fn finish(&mut self) -> String {
        std::mem::take(&mut self.out)
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Free text inside a Markdown table cell: one line, no bare pipes.
fn md_text(s: &str) -> String {
    one_line(s).replace('|', "\\|")
}

fn code_span(s: &str) -> String {
    s.replace('`', "'").replace('|', "\\|")
}
