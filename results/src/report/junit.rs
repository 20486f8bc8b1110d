//! `junit`: JUnit XML for CI test tabs. One testsuite per toolchain, one testcase per cell
//! (`classname` = `goos/goarch/mode`, name = `program on rootfs`); a failure's type is its
//! cause code and its message the hint. A test cell (`crossmatrix test`) is a testsuite of
//! its own, named by the cell, with one testcase per Go test and subtest (`classname` = the
//! package, as gotestsum writes them), so CI test views list every Go test per target.

use super::{Input, ReportError, Reporter};
use crate::Cause;
use crate::schema::{CellRecord, CellStatus, StepStatus, TestStatus, TestsRecord};
use quick_junit::{
    NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestRerun, TestSuite,
};
use std::time::Duration;

pub(super) struct JunitReporter;

impl Reporter for JunitReporter {
    fn render(&self, input: &Input<'_>) -> Result<String, ReportError> {
        let Input { records, meta, .. } = *input;
        let mut report = Report::new("crossmatrix");
        if let Some(meta) = meta {
            report.set_time(Duration::from_millis(meta.wall_ms));
            if let Ok(ts) = chrono::DateTime::parse_from_rfc3339(&meta.started_at) {
                report.set_timestamp(ts);
            }
        }

        // Suites in the order their toolchain first appears, cells in record order.
        let mut suites: Vec<(String, TestSuite, Duration)> = Vec::new();
        let mut test_suites: Vec<TestSuite> = Vec::new();
        for rec in records {
            if let Some(tests) = &rec.tests {
                test_suites.push(go_tests_suite(rec, tests));
                continue;
            }
            let idx = match suites.iter().position(|(n, _, _)| *n == rec.toolchain.name) {
                Some(i) => i,
                None => {
                    let mut suite = TestSuite::new(rec.toolchain.name.as_str());
                    suite.add_property(Property::new("go.version", rec.toolchain.version.as_str()));
                    suites.push((rec.toolchain.name.clone(), suite, Duration::ZERO));
                    suites.len() - 1
                }
            };
            let (_, suite, time) = &mut suites[idx];
            let case = test_case(rec);
            *time += Duration::from_millis(rec.duration_ms());
            suite.add_test_case(case);
        }
        for (_, mut suite, time) in suites {
            suite.set_time(time);
            report.add_test_suite(suite);
        }
        for suite in test_suites {
            report.add_test_suite(suite);
        }
        Ok(report.to_string()?)
    }
}

/// A test cell as a suite: one case per Go test; a cell that failed before any test ran
/// (build error, loader, panic at init) is one failed case for the cell.
fn go_tests_suite(rec: &CellRecord, tests: &TestsRecord) -> TestSuite {
    let mut suite = TestSuite::new(rec.id.as_str());
    suite.add_property(Property::new("go.version", rec.toolchain.version.as_str()));
    suite.add_property(Property::new("package", tests.package.as_str()));
    let mut time = Duration::ZERO;
    for c in &tests.cases {
        let status = match c.status {
            // A flaky test: passed, with each failed run before it as a <flakyFailure> (the
            // Maven Surefire schema Jenkins and GitLab read).
            TestStatus::Pass if c.is_flaky() => {
                let mut s = TestCaseStatus::success();
                for _ in 0..c.failed_attempts {
                    let mut rerun = TestRerun::new(NonSuccessKind::Failure);
                    rerun.set_type(Cause::TestFailure.code());
                    let first = c.failure_line();
                    if !first.is_empty() {
                        rerun.set_message(first);
                    }
                    if !c.output.is_empty() {
                        rerun.set_system_out(c.output.replace('\u{16}', ""));
                    }
                    s.add_rerun(rerun);
                }
                s
            }
            TestStatus::Pass => TestCaseStatus::success(),
            TestStatus::Fail => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_type(Cause::TestFailure.code());
                let first = c.failure_line();
                if !first.is_empty() {
                    s.set_message(first);
                }
                if !c.output.is_empty() {
                    s.set_description(c.output.replace('\u{16}', ""));
                }
                s
            }
            TestStatus::Skip => {
                let mut s = TestCaseStatus::skipped();
                let first = crate::schema::first_output_line(&c.output);
                if !first.is_empty() {
                    s.set_message(first);
                }
                s
            }
        };
        let mut case = TestCase::new(c.name.as_str(), status);
        case.set_classname(tests.package.as_str());
        case.set_time(Duration::from_millis(c.elapsed_ms));
        time += Duration::from_millis(c.elapsed_ms);
        suite.add_test_case(case);
    }
    // A failure no Go test accounts for (the binary did not build or start, or died between
    // tests): the cell itself, so the suite is red.
    // A test binary that passed only when run again whole (`--retries`): the cell, with each
    // failed attempt as a <flakyFailure>.
    let binary_flaky = rec.status == CellStatus::Pass
        && rec
            .run
            .as_ref()
            .is_some_and(|r| !r.failed_attempts.is_empty());
    if binary_flaky || (rec.status != CellStatus::Pass && tests.failed().next().is_none()) {
        let mut case = test_case(rec);
        case.set_classname(tests.package.as_str());
        suite.add_test_case(case);
    }
    suite.set_time(time);
    suite
}

fn test_case(rec: &CellRecord) -> TestCase {
    let status = match rec.status {
        // A run that passed only on a retry: each failed attempt a <flakyFailure>.
        CellStatus::Pass
            if rec
                .run
                .as_ref()
                .is_some_and(|r| !r.failed_attempts.is_empty()) =>
        {
            let mut s = TestCaseStatus::success();
            for a in rec.run.iter().flat_map(|r| &r.failed_attempts) {
                let mut rerun = TestRerun::new(NonSuccessKind::Failure);
                if let Some(cause) = a.cause {
                    rerun.set_type(cause.code());
                }
                rerun.set_message(a.line());
                if !a.stderr_tail.is_empty() {
                    rerun.set_system_err(a.stderr_tail.as_str());
                }
                s.add_rerun(rerun);
            }
            s
        }
        CellStatus::Pass | CellStatus::Built => TestCaseStatus::success(),
        CellStatus::Fail => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            if let Some(cause) = rec.cause {
                s.set_type(cause.code());
            }
            if let Some(hint) = &rec.hint {
                s.set_message(hint.as_str());
            }
            let text = failure_text(rec);
            if !text.is_empty() {
                s.set_description(text);
            }
            s
        }
        CellStatus::Skipped => {
            let mut s = TestCaseStatus::skipped();
            if let Some(cause) = rec.cause {
                s.set_type(cause.code());
            }
            if let Some(hint) = &rec.hint {
                s.set_message(hint.as_str());
            }
            s
        }
    };
    let name = format!("{} on {}", rec.program, rec.rootfs);
    let mut case = TestCase::new(name, status);
    case.set_classname(format!("{}/{}", rec.target_label(), rec.mode()));
    case.set_time(Duration::from_millis(rec.duration_ms()));
    case.add_property(Property::new("cell", rec.id.as_str()));
    if rec.status == CellStatus::Built {
        let mut note = String::from("built, not run");
        if let Some(hint) = &rec.hint {
            note.push_str(": ");
            note.push_str(hint);
        }
        case.set_system_out(note);
    }
    case
}

/// What a reader needs to see: the build log when the build failed, otherwise the program's
/// output tails.
fn failure_text(rec: &CellRecord) -> String {
    if rec.build.status == StepStatus::Fail {
        return rec.build.log_tail.clone();
    }
    let Some(run) = &rec.run else {
        return String::new();
    };
    let mut text = String::new();
    if let Some(code) = run.exit_code {
        text.push_str(&format!("exit code {code}\n"));
    }
    if let Some(sig) = &run.signal {
        text.push_str(&format!("killed by {sig}\n"));
    }
    for (label, tail) in [("stdout", &run.stdout_tail), ("stderr", &run.stderr_tail)] {
        if !tail.is_empty() {
            text.push_str(&format!("--- {label} ---\n{tail}"));
            if !tail.ends_with('\n') {
                text.push('\n');
            }
        }
    }
    text
}
