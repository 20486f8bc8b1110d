//! What a test cell's run amounts to, from its tests' record and how the test binary ended:
//! every test passed, or `test-failure`, `test-panic`, `timeout` naming the test that ran.

use crate::diagnose::failure::Failure;
use crossmatrix_matrix::Cause;
use crossmatrix_results::TestsRecord;
use crossmatrix_sandbox::process::Finished;
use std::time::Duration;

/// What a test cell's run amounts to: `None` when every test passed (or skipped).
pub fn test_verdict(rec: &TestsRecord, finished: &Finished, timeout: Duration) -> Option<Failure> {
    let output = crate::test2json::plain_output(&finished.stdout.text());
    let failed: Vec<&str> = rec.failed().map(|c| c.name.as_str()).collect();
    let running = rec
        .running
        .as_deref()
        .map(|t| format!(" while running {t}"))
        .unwrap_or_default();
    if finished.timed_out() || output.contains("panic: test timed out after") {
        let limit = if finished.timed_out() {
            format!("the cell's timeout ({:.0} s)", timeout.as_secs_f64())
        } else {
            "-test.timeout".to_string()
        };
        return Some(Failure::new(
            Cause::Timeout,
            format!(
                "the tests ran past {limit}{running}: raise the timeout (`--timeout`, `[[tests]] timeout`), pass -short, or look for a hang"
            ),
        ));
    }
    if finished.code() != Some(0) {
        if let Some(line) = output.lines().find(|l| l.starts_with("panic: ")) {
            let who = rec.running.as_deref().unwrap_or("a test");
            return Some(Failure::new(
                Cause::TestPanic,
                format!("{who} panicked: {}", line.trim()),
            ));
        }
    }
    if !failed.is_empty() {
        let named = |c: &crossmatrix_results::TestCase| match c.cause {
            Some(cause) => format!("{} ({cause})", c.name),
            None => c.name.clone(),
        };
        let shown: Vec<String> = rec.failed().take(3).map(named).collect();
        let more = if failed.len() > 3 {
            format!(" and {} more", failed.len() - 3)
        } else {
            String::new()
        };
        // The one failure the sandbox itself causes: a test writing outside its package's
        // directory (the rest of the source and the module cache are bound read-only), or
        // into one too large to copy.
        let wrote_source = rec
            .failed()
            .any(|c| c.output.contains("read-only file system"));
        let why = if wrote_source {
            format!(
                "; a test wrote into a read-only directory: a test may write in its package's directory (a throwaway copy, up to {} MiB), not elsewhere in the source or the module cache (write under t.TempDir())",
                super::SOURCE_COPY_BYTES >> 20
            )
        } else {
            String::new()
        };
        // Every failed test that says why names the same trap: that is the cell's cause.
        let mut said = rec.failed().filter(|c| !c.failure_line().is_empty());
        let first = said.next().and_then(|c| c.cause);
        let cause = match first {
            Some(c) if said.all(|o| o.cause == Some(c)) => c,
            _ => Cause::TestFailure,
        };
        return Some(Failure::new(
            cause,
            format!(
                "{} test(s) failed: {}{more}; their output is in the record (tests.cases){why}",
                failed.len(),
                shown.join(", ")
            ),
        ));
    }
    if finished.code() != Some(0) {
        let last = output
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        return Some(Failure::new(
            Cause::TestFailure,
            format!(
                "the test binary exited {}{running}: {last}",
                finished.code().unwrap_or(-1)
            ),
        ));
    }
    None
}
