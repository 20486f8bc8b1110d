//! The cross-cell note on flakiness that depends on the emulator: where a test (or a whole run)
//! passed only on a retry under one emulator, and the same build on the same root ran it
//! steadily under another, the flaky entry says `steady under qemu-7.2.22`. Added when records
//! are rendered, as the rootfs notes are: the other emulator's cell may finish later, come from
//! another shard, or be added by `--resume`.

use crate::schema::{CellRecord, CellStatus, StepStatus, TestStatus};
use std::borrow::Cow;

/// Everything but the emulator that makes two records the same program in the same build on
/// the same root.
fn same_cell_but_emulator(a: &CellRecord, b: &CellRecord) -> bool {
    a.toolchain == b.toolchain
        && a.target == b.target
        && a.cgo == b.cgo
        && a.libc == b.libc
        && a.rootfs == b.rootfs
        && a.program == b.program
        && a.emulator.as_ref().map(|e| &e.name) != b.emulator.as_ref().map(|e| &e.name)
}

/// Whether `rec` ran its whole run at the first attempt and passed.
fn steady_run(rec: &CellRecord) -> bool {
    rec.status == CellStatus::Pass
        && rec
            .run
            .as_ref()
            .is_some_and(|r| r.status == StepStatus::Ok && r.failed_attempts.is_empty())
}

/// Whether `rec` ran test `name` and it passed at the first attempt.
fn steady_test(rec: &CellRecord, name: &str) -> bool {
    rec.tests
        .iter()
        .flat_map(|t| &t.cases)
        .any(|c| c.name == name && c.status == TestStatus::Pass && c.failed_attempts == 0)
}

/// `records` with `steady_under` set on each flaky run and flaky test that another emulator
/// ran steadily; borrowed unchanged when there is none.
pub(crate) fn with_steady_elsewhere(records: &[CellRecord]) -> Cow<'_, [CellRecord]> {
    let flaky: Vec<usize> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.emulator.is_some() && !r.flaky_entries().is_empty())
        .map(|(i, _)| i)
        .collect();
    if flaky.is_empty() {
        return Cow::Borrowed(records);
    }
    let mut out = records.to_vec();
    for i in flaky {
        let others: Vec<&CellRecord> = records
            .iter()
            .filter(|o| o.emulator.is_some() && same_cell_but_emulator(o, &records[i]))
            .collect();
        let names = |pick: &dyn Fn(&CellRecord) -> bool| -> Vec<String> {
            let mut v: Vec<String> = others
                .iter()
                .filter(|o| pick(o))
                .filter_map(|o| o.emulator.as_ref().map(|e| e.name.clone()))
                .collect();
            v.dedup();
            v
        };
        let rec = &mut out[i];
        if let Some(run) = rec.run.as_mut().filter(|r| !r.failed_attempts.is_empty()) {
            run.steady_under = names(&steady_run);
        }
        if let Some(tests) = rec.tests.as_mut() {
            for case in tests.cases.iter_mut().filter(|c| c.is_flaky()) {
                let name = case.name.clone();
                case.steady_under = names(&|o: &CellRecord| steady_test(o, &name));
            }
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{cell, test_cell};
    use crate::schema::{EmulatorInfo, FailedAttempt, RunRecord};

    fn under(mut r: CellRecord, emu: &str) -> CellRecord {
        r.emulator = Some(EmulatorInfo {
            name: emu.into(),
            dir: None,
            version: None,
        });
        r
    }

    fn run(attempts: usize) -> RunRecord {
        let mut run = RunRecord::started("qemu-direct".into(), None);
        run.status = StepStatus::Ok;
        run.failed_attempts = (0..attempts)
            .map(|_| FailedAttempt {
                exit_code: Some(139),
                signal: None,
                cause: None,
                hint: None,
                stderr_tail: "qemu: uncaught target signal 11".into(),
            })
            .collect();
        run
    }

    #[test]
    fn a_flaky_run_steady_under_another_emulator_says_so() {
        let mut flaky = under(
            cell("go1.27/linux-arm64/cgo0/rootfs-scratch/p", CellStatus::Pass),
            "x",
        );
        flaky.run = Some(run(1));
        let mut steady = under(
            cell("go1.27/linux-arm64/cgo0/rootfs-scratch/p", CellStatus::Pass),
            "y",
        );
        steady.run = Some(run(0));
        let records = vec![flaky, steady];
        let noted = with_steady_elsewhere(&records);
        assert_eq!(noted[0].run.as_ref().unwrap().steady_under, ["y"]);
        let (_, _, why) = &noted[0].flaky_entries()[0];
        assert!(why.contains("steady under y"), "{why}");
        // Nothing flaky, nothing changed.
        let plain = vec![under(
            cell("go1.27/linux-arm64/cgo0/rootfs-scratch/p", CellStatus::Pass),
            "y",
        )];
        assert!(matches!(with_steady_elsewhere(&plain), Cow::Borrowed(_)));
    }

    #[test]
    fn a_flaky_test_steady_under_another_emulator_says_so() {
        let mut flaky = under(
            test_cell(
                "go1.27/linux-arm64/cgo0/rootfs-host/t",
                &[("TestF", TestStatus::Pass, "x_test.go:3: boom")],
            ),
            "x",
        );
        flaky.tests.as_mut().unwrap().cases[0].failed_attempts = 1;
        let steady = under(
            test_cell(
                "go1.27/linux-arm64/cgo0/rootfs-host/t",
                &[("TestF", TestStatus::Pass, "")],
            ),
            "y",
        );
        let also_flaky = {
            let mut r = under(
                test_cell(
                    "go1.27/linux-arm64/cgo0/rootfs-host/t",
                    &[("TestF", TestStatus::Pass, "z")],
                ),
                "z",
            );
            r.tests.as_mut().unwrap().cases[0].failed_attempts = 2;
            r
        };
        let records = vec![flaky, steady, also_flaky];
        let noted = with_steady_elsewhere(&records);
        assert_eq!(
            noted[0].tests.as_ref().unwrap().cases[0].steady_under,
            ["y"]
        );
        assert_eq!(
            noted[2].tests.as_ref().unwrap().cases[0].steady_under,
            ["y"]
        );
    }
}
