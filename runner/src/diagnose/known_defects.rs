//! Known emulator defects: qemu-user versions that fail Go code for a reason of their own,
//! with the symptom they leave in the output and the version that fixed them. A failure
//! under a qemu in an entry's range whose output shows the symptom is `emulator-bug` (or
//! `emulator-limit`, for what no qemu version can do), with the fix in its hint — instead of
//! a plain failure a maintainer would chase in their own code.
//!
//! Each entry is reproduced by an integration test (`tests/emulators.rs`) wherever the
//! affected version is at hand, and skipped with the reason where it is not.

use crate::diagnose::Failure;
use crossmatrix_matrix::Cause;
use crossmatrix_results::{RunRecord, TestStatus, TestsRecord};
use regex::Regex;
use std::sync::LazyLock;

/// One known defect.
pub struct KnownDefect {
    /// A short stable name, e.g. `clone-pidfd`.
    pub id: &'static str,
    /// The first affected qemu version (inclusive); `None`: every version before `fixed_in`.
    pub from: Option<(u32, u32)>,
    /// The version that fixed it (exclusive bound); `None`: no version does (a limit).
    pub fixed_in: Option<(u32, u32)>,
    /// What the failure's output shows (a regex over the run's stdout and stderr, or a failed
    /// test's output).
    pub symptom: &'static str,
    pub cause: Cause,
    /// What goes wrong, for the hint.
    pub what: &'static str,
    /// What to do about it.
    pub fix: &'static str,
    /// Where it is tracked.
    pub link: &'static str,
}

/// The table (README: "Known emulator defects").
pub static KNOWN_DEFECTS: &[KnownDefect] = &[
    KnownDefect {
        id: "clone-pidfd",
        from: Some((7, 2)),
        fixed_in: Some((8, 0)),
        symptom: r"fork/exec [^\n]*: invalid argument",
        cause: Cause::EmulatorBug,
        what: "qemu-user 7.2 rejects clone(CLONE_PIDFD) with EINVAL, so starting a process with a pidfd fails (Go 1.23.0's os/exec always asked for one; later Go only when SysProcAttr.PidFD is set)",
        fix: "use qemu ≥ 8.0 (--emulator DIR naming a newer qemu-user)",
        link: "golang/go#68976",
    },
    KnownDefect {
        id: "tsan-memory-layout",
        from: None,
        fixed_in: None,
        symptom: r"ThreadSanitizer: (unsupported VMA range|unexpected memory mapping|failed to allocate|CHECK failed)",
        cause: Cause::EmulatorLimit,
        what: "a -race binary's ThreadSanitizer runtime expects the host kernel's address-space layout, which qemu-user's guest mappings do not give it",
        fix: "run -race cells natively (e.g. --filter target=linux/amd64 on an amd64 runner) or on real hardware of the arch",
        link: "golang/go#67881, google/sanitizers#1696",
    },
];

/// `(7, 2)` from `7.2.22`.
pub fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

impl KnownDefect {
    /// Whether qemu `version` is affected.
    pub fn affects(&self, version: (u32, u32)) -> bool {
        self.from.is_none_or(|f| version >= f) && self.fixed_in.is_none_or(|f| version < f)
    }

    fn regex(&self) -> &'static Regex {
        static COMPILED: LazyLock<Vec<Regex>> = LazyLock::new(|| {
            KNOWN_DEFECTS
                .iter()
                .map(|d| Regex::new(d.symptom).expect("static regex"))
                .collect()
        });
        let i = KNOWN_DEFECTS
            .iter()
            .position(|d| d.id == self.id)
            .expect("an entry of the table");
        &COMPILED[i]
    }

    /// The failure this defect makes of a run under qemu `version`.
    pub fn failure(&self, version: &str) -> Failure {
        let fixed = match self.fixed_in {
            Some((a, b)) => format!(" (fixed in qemu {a}.{b})"),
            None => String::new(),
        };
        Failure::new(
            self.cause,
            format!(
                "known {} of qemu {version}{fixed}: {}; {} [{}, {}]",
                if self.cause == Cause::EmulatorLimit {
                    "limit"
                } else {
                    "defect"
                },
                self.what,
                self.fix,
                self.id,
                self.link
            ),
        )
    }
}

/// The known defect `output` shows for a run under qemu `version` (`7.2.22`), if any.
pub fn known_defect(output: &str, version: &str) -> Option<&'static KnownDefect> {
    let v = major_minor(version)?;
    KNOWN_DEFECTS
        .iter()
        .find(|d| d.affects(v) && d.regex().is_match(output))
}

/// Applies the table to a failed run under qemu: each failed test whose output shows a known
/// defect of the qemu that ran takes its cause; the cell's failure becomes the defect when
/// every failed test shows it, or, when no test failed (a program, or a test binary that died
/// on its own), when the run's output does.
pub fn apply(run: &RunRecord, tests: Option<&mut TestsRecord>, fail: &mut Option<Failure>) {
    if fail.is_none() || !run.executor.starts_with("qemu") {
        return;
    }
    let Some(version) = run.executor_version.as_deref() else {
        return;
    };
    let run_output = || format!("{}\n{}", run.stdout_tail, run.stderr_tail);
    let found = match tests {
        Some(t) if t.failed().next().is_some() => {
            let mut all = None;
            let mut every = true;
            for case in t.cases.iter_mut().filter(|c| c.status == TestStatus::Fail) {
                match known_defect(&case.output, version) {
                    Some(d) => {
                        case.cause = Some(d.cause);
                        all.get_or_insert(d);
                    }
                    // A parent fails with its failed subtest and shows nothing of its own.
                    None if t_is_parent_only(&case.output) => {}
                    None => every = false,
                }
            }
            all.filter(|_| every)
        }
        _ => known_defect(&run_output(), version),
    };
    if let Some(d) = found {
        *fail = Some(d.failure(version));
    }
}

/// Whether a failed test's output is only its own `--- FAIL` line (a parent of a failed
/// subtest).
fn t_is_parent_only(output: &str) -> bool {
    output.lines().filter(|l| !l.trim().is_empty()).all(|l| {
        let l = l.trim_start();
        l.starts_with("--- FAIL") || l.starts_with("=== RUN") || l.starts_with("FAIL")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_ranges() {
        assert_eq!(major_minor("7.2.22"), Some((7, 2)));
        assert_eq!(major_minor("10.0.2"), Some((10, 0)));
        assert_eq!(major_minor("9"), None);
        let pidfd = &KNOWN_DEFECTS[0];
        assert!(pidfd.affects((7, 2)));
        assert!(!pidfd.affects((7, 1)));
        assert!(!pidfd.affects((8, 0)));
        assert!(!pidfd.affects((10, 0)));
        let tsan = &KNOWN_DEFECTS[1];
        assert!(tsan.affects((2, 0)) && tsan.affects((10, 0)));
    }

    #[test]
    fn symptoms_match_in_range_only() {
        let out = "exec: fork/exec /proc/self/exe: invalid argument\n";
        let d = known_defect(out, "7.2.22").expect("the pidfd defect");
        assert_eq!(d.id, "clone-pidfd");
        let f = d.failure("7.2.22");
        assert_eq!(f.cause, Cause::EmulatorBug);
        assert!(f.hint.contains("fixed in qemu 8.0"), "{}", f.hint);
        assert!(f.hint.contains("golang/go#68976"), "{}", f.hint);
        assert!(known_defect(out, "10.0.2").is_none());
        assert!(known_defect("fork/exec /bin/x: permission denied", "7.2.22").is_none());
        let race = "==1==FATAL: ThreadSanitizer: unexpected memory mapping 0x7f…";
        let d = known_defect(race, "10.0.2").expect("the tsan limit");
        assert_eq!(d.failure("10.0.2").cause, Cause::EmulatorLimit);
        assert!(known_defect(race, "").is_none(), "no version, no verdict");
        // Every symptom compiles.
        for d in KNOWN_DEFECTS {
            let _ = d.regex();
        }
    }
}
