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
    if notes.is_empty() {
        return Cow::Borrowed(records);
    }
    let mut out = records.to_vec();
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
}
