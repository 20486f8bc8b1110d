//! The cross-cell note on failures that depend on the root: where the same program passes in a
//! cell that differs only by its rootfs (same toolchain, target, cgo mode and program), the
//! failure's hint starts with `passes on rootfs glibc, musl: …`. Added when records are
//! rendered, in every format, rather than stored: `cells.jsonl` is append-only, and the passing
//! cell may finish later, come from another shard, or be added by `--resume`.

use crate::Cause;
use crate::schema::{CellRecord, CellStatus};
use std::borrow::Cow;

/// Everything but the rootfs that makes two records the same program in the same build.
fn same_build(a: &CellRecord, b: &CellRecord) -> bool {
    a.toolchain == b.toolchain
        && a.target == b.target
        && a.cgo == b.cgo
        && a.libc == b.libc
        && a.program == b.program
}

const NOTE: &str = "passes on rootfs ";

/// `records` with the note added to the hint of each root-dependent failure that passes on
/// another rootfs; borrowed unchanged when there is none.
pub(crate) fn with_passing_rootfs(records: &[CellRecord]) -> Cow<'_, [CellRecord]> {
    let notes: Vec<(usize, String)> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.status == CellStatus::Fail
                && r.cause.is_some_and(Cause::depends_on_root)
                && !r.hint.as_deref().is_some_and(|h| h.starts_with(NOTE))
        })
        .filter_map(|(i, failed)| {
            let mut passing: Vec<&str> = records
                .iter()
                .filter(|r| {
                    r.status == CellStatus::Pass
                        && r.cause.is_none()
                        && r.rootfs != failed.rootfs
                        && same_build(r, failed)
                })
                .map(|r| r.rootfs.as_str())
                .collect();
            passing.dedup();
            (!passing.is_empty()).then(|| (i, passing.join(", ")))
        })
        .collect();
    let test_notes = passing_tests(records);
    if notes.is_empty() && test_notes.is_empty() {
        return Cow::Borrowed(records);
    }
    let mut out = records.to_vec();
    for (i, per_case) in test_notes {
        let r = &mut out[i];
        let Some(tests) = r.tests.as_mut() else {
            continue;
        };
        // Tests grouped by the roots they pass on, in the order they failed.
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for (ci, roots) in per_case {
            let case = &mut tests.cases[ci];
            let key = roots.join(", ");
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, names)) => names.push(case.name.clone()),
                None => groups.push((key, vec![case.name.clone()])),
            }
            case.passes_on_rootfs = roots;
        }
        if notes.iter().any(|(n, _)| *n == i) {
            continue; // the whole cell passes there: the cell's note says it
        }
        let said: Vec<String> = groups
            .into_iter()
            .map(|(roots, names)| {
                let verb = if names.len() == 1 { "passes" } else { "pass" };
                format!("{} {verb} on rootfs {roots}", names.join(", "))
            })
            .collect();
        let note = said.join("; ");
        let hint = match r.hint.as_deref() {
            Some(h) if !h.is_empty() => format!("{note}: {h}"),
            _ => note,
        };
        if let Some(run) = r.run.as_mut().filter(|run| run.cause == r.cause) {
            run.hint = Some(hint.clone());
        }
        r.hint = Some(hint);
    }
    for (i, roots) in notes {
        let r = &mut out[i];
        let hint = match r.hint.as_deref() {
            Some(h) if !h.is_empty() => format!("{NOTE}{roots}: {h}"),
            _ => format!("{NOTE}{roots}"),
        };
        if let Some(run) = r.run.as_mut().filter(|run| run.cause == r.cause) {
            run.hint = Some(hint.clone());
        }
        r.hint = Some(hint);
    }
    Cow::Owned(out)
}

/// A failed test (its index in the cell's cases) and the roots where it passes.
type PassesOn = (usize, Vec<String>);

/// For each failed test cell, its failed tests with a root-dependent cause that pass in a cell
/// of the same build on another root: (record, [(case, roots)]).
fn passing_tests(records: &[CellRecord]) -> Vec<(usize, Vec<PassesOn>)> {
    let mut out = Vec::new();
    for (i, failed) in records.iter().enumerate() {
        let Some(tests) = failed
            .tests
            .as_ref()
            .filter(|_| failed.status == CellStatus::Fail)
        else {
            continue;
        };
        let siblings: Vec<&CellRecord> = records
            .iter()
            .filter(|r| r.rootfs != failed.rootfs && r.tests.is_some() && same_build(r, failed))
            .collect();
        if siblings.is_empty() {
            continue;
        }
        let mut per_case = Vec::new();
        for (ci, case) in tests.cases.iter().enumerate() {
            if !case.cause.is_some_and(Cause::depends_on_root) || !case.passes_on_rootfs.is_empty()
            {
                continue;
            }
            let mut roots: Vec<String> = siblings
                .iter()
                .filter(|r| {
                    r.tests.as_ref().is_some_and(|t| {
                        t.cases.iter().any(|c| {
                            c.name == case.name && c.status == crate::schema::TestStatus::Pass
                        })
                    })
                })
                .map(|r| r.rootfs.clone())
                .collect();
            roots.dedup();
            if !roots.is_empty() {
                per_case.push((ci, roots));
            }
        }
        if !per_case.is_empty() {
            out.push((i, per_case));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::fixture_records;

    fn trap(rootfs: &str, status: CellStatus, cause: Option<Cause>, hint: &str) -> CellRecord {
        let mut r = fixture_records()[0].clone();
        r.id = format!("go1.24/linux-arm64/cgo0/rootfs-{rootfs}/trap-tzdata");
        r.rootfs = rootfs.into();
        r.program = "trap-tzdata".into();
        r.status = status;
        r.cause = cause;
        r.hint = (!hint.is_empty()).then(|| hint.to_string());
        r
    }

    #[test]
    fn names_the_roots_where_the_same_build_passes() {
        let lacks = "scratch lacks /usr/share/zoneinfo";
        let records = vec![
            trap(
                "scratch",
                CellStatus::Fail,
                Some(Cause::MissingTzdata),
                lacks,
            ),
            trap("glibc", CellStatus::Pass, None, ""),
            trap("musl", CellStatus::Pass, None, ""),
        ];
        let noted = with_passing_rootfs(&records);
        assert_eq!(
            noted[0].hint.as_deref(),
            Some("passes on rootfs glibc, musl: scratch lacks /usr/share/zoneinfo")
        );
        assert_eq!(noted[1], records[1]);
        // Rendering twice does not say it twice.
        assert_eq!(with_passing_rootfs(&noted)[0].hint, noted[0].hint);
    }

    #[test]
    fn only_root_dependent_failures_of_the_same_build() {
        let mut other_toolchain = trap("glibc", CellStatus::Pass, None, "");
        other_toolchain.toolchain.version = "go1.22.12".into();
        let records = vec![
            trap("scratch", CellStatus::Fail, Some(Cause::MissingTzdata), "x"),
            other_toolchain,
            trap("musl", CellStatus::Fail, Some(Cause::WrongExitCode), "y"),
            trap("glibc", CellStatus::Fail, Some(Cause::Timeout), "z"),
        ];
        assert!(matches!(with_passing_rootfs(&records), Cow::Borrowed(_)));
        // An expected failure is no pass.
        let records = vec![
            trap("scratch", CellStatus::Fail, Some(Cause::MissingTzdata), "x"),
            trap(
                "glibc",
                CellStatus::Pass,
                Some(Cause::MissingTzdata),
                "expected",
            ),
        ];
        assert!(matches!(with_passing_rootfs(&records), Cow::Borrowed(_)));
    }

    /// "Passes on rootfs X" per test: a test cell on scratch whose tests ran into what the root
    /// lacks, beside the same build on `host` where they pass.
    #[test]
    fn names_per_test_the_roots_where_a_failed_test_passes() {
        use crate::fixtures::test_cell;
        use crate::schema::TestStatus::{Fail, Pass};
        let on = |rootfs: &str, cases: &[(&str, crate::schema::TestStatus, &str)]| {
            let mut r = test_cell(&format!("go1.27/linux-arm64/cgo0/rootfs-{rootfs}/m"), cases);
            r.rootfs = rootfs.into();
            r
        };
        let mut scratch = on(
            "scratch",
            &[
                (
                    "TestSleep",
                    Fail,
                    "exec: \"sleep\": executable file not found",
                ),
                ("TestUser", Fail, "user: Current requires cgo"),
                ("TestPlain", Fail, "plain"),
                ("TestOk", Pass, ""),
            ],
        );
        let cases = &mut scratch.tests.as_mut().unwrap().cases;
        cases[0].cause = Some(Cause::MissingExecutable);
        cases[1].cause = Some(Cause::MissingUserDb);
        let host = on(
            "host",
            &[
                ("TestSleep", Pass, ""),
                ("TestUser", Pass, ""),
                ("TestPlain", Fail, "plain"),
                ("TestOk", Pass, ""),
            ],
        );
        let records = vec![scratch, host];
        let noted = with_passing_rootfs(&records);
        let cases = &noted[0].tests.as_ref().unwrap().cases;
        assert_eq!(cases[0].passes_on_rootfs, ["host"]);
        assert_eq!(cases[1].passes_on_rootfs, ["host"]);
        assert!(cases[2].passes_on_rootfs.is_empty(), "a plain failure");
        assert_eq!(
            noted[0].hint.as_deref(),
            Some("TestSleep, TestUser pass on rootfs host: a test failed")
        );
        assert_eq!(
            noted[1], records[1],
            "the failing host cell has nothing to gain"
        );
        assert_eq!(
            with_passing_rootfs(&noted)[0].hint,
            noted[0].hint,
            "said once"
        );
    }
}
