//! The run step of a test cell: the package's test binary in the run sandbox, its output made
//! into Go's test events, a record of every test, and the verdict — with `--recheck`, the
//! failed tests again under a second executor, where a pass labels them `emulator-suspect`.

use crate::cell::{Runner, describe_choice, fill_run_record};
use crate::classify::{Failure, classify_run};
use crate::gotest::{summarize, to_events, verdict};
use crate::inspect::BinaryInfo;
use crate::process::{Caps, CaptureOptions, run_captured_opts};
use crate::test2json::plain_output;
use crossmatrix_matrix::{Cause, Cell, Expectation, ProgramSource, TestSpec};
use crossmatrix_results::{RunRecord, StepStatus, TestStatus, TestsRecord};
use crossmatrix_toolchains::executor::{ExecutorChoice, ExecutorPreference};
use std::time::Duration;

/// A test cell's default wall-clock limit, as `go test`'s own (`-timeout 10m`).
pub const DEFAULT_TEST_TIMEOUT: Duration = Duration::from_secs(600);

impl Runner {
    /// The test binary's wall-clock limit: the cell's `[run] timeout`, else `--timeout` when the
    /// user gave one for tests, else Go's default of 10 minutes.
    pub(crate) fn test_timeout(&self, cell: &Cell) -> Duration {
        cell.settings
            .run_timeout
            .or(self.config().test_timeout)
            .unwrap_or(DEFAULT_TEST_TIMEOUT)
    }

    /// Runs the test binary prepared in `prepared` and makes its record.
    pub(crate) fn run_tests(
        &self,
        cell: &Cell,
        spec: &TestSpec,
        info: &BinaryInfo,
        choice: &ExecutorChoice,
        prepared: &crate::cell::Prepared,
        run: &mut RunRecord,
    ) -> (Option<Failure>, TestsRecord) {
        let timeout = self.test_timeout(cell);
        let package = import_path(cell);
        let opts = CaptureOptions {
            merge_stderr: true,
            caps: Caps::TOOL,
            ..CaptureOptions::default()
        };
        let f = match run_captured_opts(prepared.command(), timeout, &opts) {
            Ok(f) => f,
            Err(e) => {
                let fail = Failure::new(Cause::SandboxError, format!("cannot start bwrap: {e}"));
                return (Some(fail), empty(&package));
            }
        };
        fill_run_record(run, &f);
        // The marks test2json reads (framing, Go 1.27's error marks and escapes) are noise in
        // a record.
        run.stdout_tail = plain_output(&run.stdout_tail);
        let raw = f.stdout.text();
        let events = match self
            .test2json
            .tool(&cell.toolchain)
            .and_then(|tool| to_events(&tool, &package, raw.as_bytes()))
        {
            Ok(ev) => ev,
            Err(fail) => return (Some(fail), empty(&package)),
        };
        let mut record = summarize(&package, &events, &f);
        let ran_tests = events.iter().any(|e| e.test.is_some());
        let ctx = crate::cell::run_context(cell, info, prepared, &run.executor);
        // A binary that never got to its tests failed for the reasons programs fail: a missing
        // loader, an emulator crash, a signal, a wasm trap.
        let fail = if !ran_tests && f.code != Some(0) {
            classify_run(&f, &ctx, &Expectation::default())
                .or_else(|| verdict(&record, &f, timeout))
        } else {
            verdict(&record, &f, timeout)
        };
        let fail = match fail {
            Some(first) if self.config().recheck && first.cause == Cause::TestFailure => {
                self.recheck_tests(cell, spec, info, choice, &mut record, first)
            }
            other => other,
        };
        if fail.is_none() {
            run.status = StepStatus::Ok;
        }
        (fail, record)
    }

    /// The failed tests once more under a second executor (`--recheck`): those that pass
    /// there are listed in `emulator_suspect`; when all do, the cell is `emulator-suspect`.
    fn recheck_tests(
        &self,
        cell: &Cell,
        spec: &TestSpec,
        info: &BinaryInfo,
        first_choice: &ExecutorChoice,
        record: &mut TestsRecord,
        mut first: Failure,
    ) -> Option<Failure> {
        if !matches!(
            first_choice,
            ExecutorChoice::QemuBinfmt { .. } | ExecutorChoice::QemuDirect(_)
        ) {
            return Some(first);
        }
        let pick = |pref| match self.host().pick_executor(
            &cell.target.goos,
            &cell.target.goarch,
            Some(&info.elf_header),
            pref,
        ) {
            ExecutorChoice::None { .. } => None,
            c => Some(c),
        };
        let Some(second) = pick(ExecutorPreference::Native).or_else(|| match first_choice {
            ExecutorChoice::QemuBinfmt { .. } => pick(ExecutorPreference::QemuDirect),
            _ => pick(ExecutorPreference::QemuBinfmt),
        }) else {
            return Some(first);
        };
        // Top-level names only: a failed subtest fails its parent too.
        let mut failed: Vec<String> = record
            .failed()
            .map(|c| c.name.split('/').next().unwrap_or(&c.name).to_string())
            .collect();
        failed.sort();
        failed.dedup();
        let pattern = format!(
            "^({})$",
            failed
                .iter()
                .map(|n| regex::escape(n))
                .collect::<Vec<_>>()
                .join("|")
        );
        let mut again = cell.clone();
        let mut spec = spec.clone();
        spec.flags.push(format!("-run={pattern}"));
        spec.bench = None;
        let mut program = (*cell.program).clone();
        program.test = Some(spec);
        again.program = std::sync::Arc::new(program);
        let binary = self.binary_path(cell);
        let prepared = self.prepare_run(&again, &binary, info, &second).ok()?;
        let (name, version) = describe_choice(&second);
        let mut run = RunRecord::started(name, version);
        let timeout = self.test_timeout(cell);
        let opts = CaptureOptions {
            merge_stderr: true,
            caps: Caps::TOOL,
            ..CaptureOptions::default()
        };
        let f = run_captured_opts(prepared.command(), timeout, &opts).ok()?;
        fill_run_record(&mut run, &f);
        let tool = self.test2json.tool(&cell.toolchain).ok()?;
        let events = to_events(&tool, &record.package, f.stdout.text().as_bytes()).ok()?;
        let second_record = summarize(&record.package, &events, &f);
        let passed_there: Vec<String> = failed
            .iter()
            .filter(|n| {
                second_record
                    .cases
                    .iter()
                    .any(|c| c.name == **n && c.status == TestStatus::Pass)
            })
            .cloned()
            .collect();
        record.emulator_suspect = passed_there.clone();
        if !passed_there.is_empty() && passed_there.len() == failed.len() {
            return Some(Failure::new(
                Cause::EmulatorSuspect,
                format!(
                    "{} failed under {} but passed under {}: likely an emulator bug, not a regression",
                    failed.join(", "),
                    describe_choice(first_choice).0,
                    run.executor
                ),
            ));
        }
        if !passed_there.is_empty() {
            first.hint.push_str(&format!(
                "; {} passed under {} (emulator-suspect)",
                passed_there.join(", "),
                run.executor
            ));
        }
        Some(first)
    }
}

/// The import path a test cell's record names.
fn import_path(cell: &Cell) -> String {
    match &cell.program.source {
        ProgramSource::Package(gp) => gp.import_path.clone(),
        ProgramSource::Std(p) => p.clone(),
        _ => cell.program.name.clone(),
    }
}

fn empty(package: &str) -> TestsRecord {
    TestsRecord {
        package: package.to_string(),
        ..TestsRecord::default()
    }
}
