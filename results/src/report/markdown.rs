//! `md`: a GitHub-flavoured Markdown summary for `$GITHUB_STEP_SUMMARY`: totals, the
//! failures with their hints, then every cell.

use super::{
    Input, ReportError, Reporter, failing_tests, flaky_tests, format_ms, instructions_label,
    size_label, tests_label, totals_line, wall_time_note,
};
use crate::schema::{CellRecord, CellStatus};
use std::fmt::Write as _;

pub(super) struct MarkdownReporter;

impl Reporter for MarkdownReporter {
    fn render(&self, input: &Input<'_>) -> Result<String, ReportError> {
        let Input { records, meta, .. } = *input;
        let mut out = String::from("## crossmatrix\n\n");
        out.push_str(&format!("**{}**", totals_line(records)));
        if let Some(meta) = meta {
            out.push_str(&format!(" · {}", wall_time_note(meta, records)));
        }
        out.push_str("\n\n");

        let failures: Vec<&CellRecord> = records
            .iter()
            .filter(|r| r.status == CellStatus::Fail)
            .collect();
        out.push_str("### Failures\n\n");
        if failures.is_empty() {
            out.push_str("None.\n\n");
        } else {
            out.push_str("| cell | cause | hint |\n|---|---|---|\n");
            for r in &failures {
                let cause = r
                    .cause
                    .map_or_else(|| "-".to_string(), |c| format!("`{}`", c.code()));
                let hint = r.hint.as_deref().map_or_else(|| "-".to_string(), escape);
                // Writing to a String cannot fail.
                let _ = writeln!(out, "| `{}` | {cause} | {hint} |", code_span_safe(&r.id));
            }
            out.push('\n');
        }

        let failing: Vec<(&CellRecord, (String, String))> = records
            .iter()
            .flat_map(|r| failing_tests(r).into_iter().map(move |t| (r, t)))
            .collect();
        if !failing.is_empty() {
            out.push_str(
                "### Failing tests\n\n| cell | package | test | output |\n|---|---|---|---|\n",
            );
            for (r, (name, why)) in &failing {
                let pkg = r.tests.as_ref().map_or("-", |t| t.package.as_str());
                let _ = writeln!(
                    out,
                    "| `{}` | `{}` | `{}` | {} |",
                    code_span_safe(&r.id),
                    code_span_safe(pkg),
                    code_span_safe(name),
                    if why.is_empty() {
                        "-".to_string()
                    } else {
                        escape(why)
                    }
                );
            }
            out.push('\n');
        }

        let flaky: Vec<(&CellRecord, (String, u32, String))> = records
            .iter()
            .flat_map(|r| flaky_tests(r).into_iter().map(move |t| (r, t)))
            .collect();
        if !flaky.is_empty() {
            out.push_str(
                "### Flaky tests\n\nFailed, then passed when run again alone (`--retries`).\n\n| cell | package | test | failed runs | first failure |\n|---|---|---|---:|---|\n",
            );
            for (r, (name, n, why)) in &flaky {
                let pkg = r.tests.as_ref().map_or("-", |t| t.package.as_str());
                let _ = writeln!(
                    out,
                    "| `{}` | `{}` | `{}` | {n} | {} |",
                    code_span_safe(&r.id),
                    code_span_safe(pkg),
                    code_span_safe(name),
                    if why.is_empty() {
                        "-".to_string()
                    } else {
                        escape(why)
                    }
                );
            }
            out.push('\n');
        }

        let uncounted: Vec<&CellRecord> =
            records.iter().filter(|r| r.uncounted.is_some()).collect();
        if !uncounted.is_empty() {
            out.push_str("### Not counted\n\n| cell | why |\n|---|---|\n");
            for r in &uncounted {
                let _ = writeln!(
                    out,
                    "| `{}` | {} |",
                    code_span_safe(&r.id),
                    escape(r.uncounted.as_deref().unwrap_or_default())
                );
            }
            out.push('\n');
        }

        // `--metric instructions|both`: the counts beside the other figures.
        let with_counts = records
            .iter()
            .any(|r| r.is_counted() || r.uncounted.is_some());
        let (count_head, count_rule) = if with_counts {
            (" instructions |", "---:|")
        } else {
            ("", "")
        };
        let count_cell = |r: &CellRecord| {
            if with_counts {
                format!(" {} |", instructions_label(r))
            } else {
                String::new()
            }
        };
        let with_tests = records.iter().any(|r| r.tests.is_some());
        if !records.is_empty() && with_tests {
            out.push_str("### All cells\n\n");
            let _ = writeln!(
                out,
                "| cell | status | executor | size | tests |{count_head}\n|---|---|---|---:|---|{count_rule}"
            );
            for r in records {
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} | {} | {} |{}",
                    code_span_safe(&r.id),
                    r.status.as_str(),
                    escape(&r.executor_label().unwrap_or_else(|| "-".into())),
                    size_label(r),
                    tests_label(r),
                    count_cell(r),
                );
            }
        } else if !records.is_empty() {
            out.push_str("### All cells\n\n");
            let _ = writeln!(
                out,
                "| cell | status | executor | size | startup |{count_head}\n|---|---|---|---:|---:|{count_rule}"
            );
            for r in records {
                let startup = r
                    .startup
                    .as_ref()
                    .map_or_else(|| "-".to_string(), |s| format_ms(s.median_ms));
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} | {} | {} |{}",
                    code_span_safe(&r.id),
                    r.status.as_str(),
                    escape(&r.executor_label().unwrap_or_else(|| "-".into())),
                    size_label(r),
                    startup,
                    count_cell(r),
                );
            }
        }
        Ok(out)
    }
}

/// Keeps free text inside one table cell: no line breaks, no bare pipes.
fn escape(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// Cell ids go in code spans, where a backtick or pipe would end the span or the cell.
fn code_span_safe(s: &str) -> String {
    s.replace('`', "'").replace('|', "\\|")
}
