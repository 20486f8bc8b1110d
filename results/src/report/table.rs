//! `table`: one aligned row per cell for terminals and CI logs, the failure's hint on an
//! indented line under it, then the totals.

use super::{
    Input, ReportError, Reporter, failing_tests, flaky_tests, instructions_label, size_label,
    startup_label, tests_label, totals_line, wall_time_note,
};
use crate::schema::{CellRecord, CellStatus};
use crossmatrix_matrix::Cause;
use unicode_width::UnicodeWidthStr;

pub(super) struct TableReporter;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

use super::ansi::{BOLD, CYAN, DIM, GREEN, RED, RESET, YELLOW};

fn status_label(status: CellStatus) -> (&'static str, &'static str) {
    match status {
        CellStatus::Pass => ("pass", GREEN),
        CellStatus::Fail => ("FAIL", RED),
        CellStatus::Skipped => ("skip", YELLOW),
        CellStatus::Built => ("built", CYAN),
    }
}

struct ListedTest {
    flaky: bool,
    name: String,
    why: String,
}

struct Row {
    cells: Vec<String>,
    /// Colour of the STATUS cell.
    color: &'static str,
    hint: Option<String>,
    /// Failed Go tests (name, first output line), then flaky ones (`flaky` true), listed
    /// under the row.
    tests: Vec<ListedTest>,
}

/// Failed tests listed under a test cell; the rest are counted.
const TESTS_LISTED: usize = 5;

impl Reporter for TableReporter {
    fn render(&self, input: &Input<'_>) -> Result<String, ReportError> {
        let Input {
            records: all,
            meta,
            opts,
        } = *input;
        // Packages without test files (`go test`'s `? pkg [no test files]`) are one line under
        // the table, not a row per cell: `./...` of a real module has many.
        let (untested, records): (Vec<&CellRecord>, Vec<&CellRecord>) =
            all.iter().partition(|r| no_test_files(r));
        let with_cause = records.iter().any(|r| r.status != CellStatus::Pass);
        let with_tests = records.iter().any(|r| r.tests.is_some());
        // `--metric instructions|both`: a column of counts, and why a cell has none.
        let with_counts = records
            .iter()
            .any(|r| r.is_counted() || r.uncounted.is_some());
        let mut header = vec!["STATUS", "CELL", "EXECUTOR", "SIZE", "STARTUP"];
        let mut aligns = vec![
            Align::Left,
            Align::Left,
            Align::Left,
            Align::Right,
            Align::Right,
        ];
        if with_counts {
            header.push("INSTRUCTIONS");
            aligns.push(Align::Right);
        }
        if with_tests {
            header.push("TESTS");
            aligns.push(Align::Left);
        }
        if with_cause {
            header.push("CAUSE");
            aligns.push(Align::Left);
        }

        let rows: Vec<Row> = records
            .iter()
            .map(|r| {
                let (label, color) = status_label(r.status);
                let mut cells = vec![
                    label.to_string(),
                    r.id.clone(),
                    r.executor_label().unwrap_or_else(|| "-".into()),
                    size_label(r),
                    startup_label(r),
                ];
                if with_counts {
                    cells.push(instructions_label(r));
                }
                if with_tests {
                    cells.push(tests_label(r));
                }
                let failed = r.status != CellStatus::Pass;
                if with_cause {
                    let cause = match (failed, r.cause) {
                        (true, Some(c)) => c.code().to_string(),
                        _ => String::new(),
                    };
                    cells.push(cause);
                }
                let hint = r
                    .hint
                    .as_deref()
                    .filter(|h| failed && !h.trim().is_empty())
                    .map(one_line)
                    .or_else(|| {
                        r.uncounted
                            .as_deref()
                            .map(|u| format!("not counted: {}", one_line(u)))
                    });
                let mut tests: Vec<ListedTest> = failing_tests(r)
                    .into_iter()
                    .map(|(name, why)| ListedTest {
                        flaky: false,
                        name,
                        why,
                    })
                    .collect();
                // Flaky tests are listed too, wherever their cell stands: never hidden.
                tests.extend(flaky_tests(r).into_iter().map(|(name, n, why)| {
                    let runs = if n == 1 { "run" } else { "runs" };
                    ListedTest {
                        flaky: true,
                        name: format!("{name} (flaky: {n} failed {runs}, then passed)"),
                        why,
                    }
                }));
                Row {
                    cells,
                    color,
                    hint,
                    tests,
                }
            })
            .collect();

        let mut widths: Vec<usize> = header.iter().map(|h| h.width()).collect();
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(&row.cells) {
                *w = (*w).max(cell.width());
            }
        }

        let mut out = String::new();
        if !rows.is_empty() {
            let header_cells: Vec<String> = header.iter().map(|h| h.to_string()).collect();
            push_line(&mut out, &header_cells, &widths, &aligns, |_| {
                opts.color.then_some(BOLD)
            });
            for row in &rows {
                push_line(&mut out, &row.cells, &widths, &aligns, |col| {
                    (opts.color && col == 0).then_some(row.color)
                });
                if let Some(hint) = &row.hint {
                    if opts.color {
                        out.push_str(&format!("  {DIM}↳ {hint}{RESET}\n"));
                    } else {
                        out.push_str(&format!("  ↳ {hint}\n"));
                    }
                }
                for t in row.tests.iter().take(TESTS_LISTED) {
                    let (mark, color) = if t.flaky { ("~", YELLOW) } else { ("✗", RED) };
                    let line = if t.why.is_empty() {
                        format!("{mark} {}", t.name)
                    } else {
                        format!("{mark} {}: {}", t.name, one_line(&t.why))
                    };
                    if opts.color {
                        out.push_str(&format!("    {color}{line}{RESET}\n"));
                    } else {
                        out.push_str(&format!("    {line}\n"));
                    }
                }
                if row.tests.len() > TESTS_LISTED {
                    out.push_str(&format!(
                        "    … and {} more failed tests (report --format md or json lists all)\n",
                        row.tests.len() - TESTS_LISTED
                    ));
                }
            }
        }
        if !untested.is_empty() {
            out.push_str(&untested_line(&untested));
        }
        if !rows.is_empty() || !untested.is_empty() {
            out.push('\n');
        }
        out.push_str(&totals_line(all));
        if let Some(meta) = meta {
            out.push_str("; ");
            out.push_str(&wall_time_note(meta, all));
        }
        out.push('\n');
        for note in meta
            .iter()
            .flat_map(|m| &m.toolchains)
            .filter_map(|t| t.out_of_support.as_ref())
        {
            out.push_str(&format!("note: {note}\n"));
        }
        Ok(out)
    }
}

fn no_test_files(r: &CellRecord) -> bool {
    r.status == CellStatus::Skipped && r.cause == Some(Cause::NoTestFiles)
}

/// `skip    no test files in N packages (M cells): a, b, …` — the packages by program name.
fn untested_line(untested: &[&CellRecord]) -> String {
    const LISTED: usize = 12;
    let mut names: Vec<&str> = untested.iter().map(|r| r.program.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let more = names.len().saturating_sub(LISTED);
    let mut list = names[..names.len().min(LISTED)].join(", ");
    if more > 0 {
        list.push_str(&format!(" and {more} more"));
    }
    format!(
        "skip    no test files in {} package{} ({} cell{}, cause no-test-files): {list}\n",
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        untested.len(),
        if untested.len() == 1 { "" } else { "s" },
    )
}

/// Appends one aligned line; `color(col)` gives the ANSI style for a column, applied to the
/// text only so padding stays plain and widths stay right.
fn push_line(
    out: &mut String,
    cells: &[String],
    widths: &[usize],
    aligns: &[Align],
    color: impl Fn(usize) -> Option<&'static str>,
) {
    let mut line = String::new();
    let last = cells.len().saturating_sub(1);
    for (col, cell) in cells.iter().enumerate() {
        if col > 0 {
            line.push_str("  ");
        }
        let pad = widths[col].saturating_sub(cell.width());
        let text = match color(col) {
            Some(c) => format!("{c}{cell}{RESET}"),
            None => cell.clone(),
        };
        match aligns[col] {
            Align::Right => {
                line.push_str(&" ".repeat(pad));
                line.push_str(&text);
            }
            Align::Left => {
                line.push_str(&text);
                if col != last {
                    line.push_str(&" ".repeat(pad));
                }
            }
        }
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

/// Hints and causes are shown on one line whatever the runner wrote.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
