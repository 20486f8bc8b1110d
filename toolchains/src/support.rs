//! Go's release policy: each major release is supported until two newer ones exist, so the
//! supported releases are the two newest stable minors. Which toolchains a matrix uses when the
//! user names none, and which of the toolchains it uses are out of support (a note, not an
//! error).
//!
//! The newest minor is the newest of the host's toolchains and of the Go download index that
//! `crossmatrix toolchain install` last fetched (kept as `<toolchains>/index.json`): runs never
//! use the network.

use crate::install::GoRelease;
use crate::version::{compare_go_versions, is_stable, parse_go_version};
use std::path::Path;

/// How many minors Go supports at once.
pub const SUPPORTED_MINORS: usize = 2;

/// The download index as last fetched, if it was and still parses.
pub fn kept_index(toolchains_dir: &Path) -> Option<Vec<GoRelease>> {
    let text = std::fs::read_to_string(crate::install::index_copy(toolchains_dir)).ok()?;
    crate::install::parse_index(&text).ok()
}

/// `(major, minor)` of a version, any kind (release, pre-release, devel).
fn minor_pair(version: &str) -> Option<(u64, u64)> {
    let p = parse_go_version(version)?;
    Some((p.nums[0], *p.nums.get(1)?))
}

/// The default toolchains: the newest patch of each of the [`SUPPORTED_MINORS`] newest stable
/// minors among `found` (each one's Go version given by `version`), oldest first. With no
/// stable release here, the newest toolchain found (a release candidate or a build of Go's
/// tip); empty when nothing was found.
pub fn default_toolchains<T: Clone>(found: &[T], version: impl Fn(&T) -> &str) -> Vec<T> {
    let mut stable: Vec<&T> = found.iter().filter(|t| is_stable(version(t))).collect();
    stable.sort_by(|a, b| compare_go_versions(version(b), version(a)));
    let mut chosen: Vec<T> = Vec::new();
    for t in stable {
        let minor = minor_pair(version(t));
        if chosen.iter().any(|c| minor_pair(version(c)) == minor) {
            continue;
        }
        if chosen.len() == SUPPORTED_MINORS {
            break;
        }
        chosen.push(t.clone());
    }
    if chosen.is_empty() {
        chosen.extend(
            found
                .iter()
                .max_by(|a, b| compare_go_versions(version(a), version(b)))
                .cloned(),
        );
    }
    chosen.reverse();
    chosen
}

/// The supported minors as far as this host knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportWindow {
    /// `(major, minor)` of the newest stable minor.
    newest: (u64, u64),
    /// Where the newest was seen: `the Go download index` or `the toolchains on this host`.
    basis: &'static str,
}

impl SupportWindow {
    /// The window from the stable versions of the host's toolchains and of the kept download
    /// index; `None` when neither names a stable release.
    pub fn new<'a>(
        host_versions: impl IntoIterator<Item = &'a str>,
        index: Option<&[GoRelease]>,
    ) -> Option<SupportWindow> {
        let newest_of = |vs: &mut dyn Iterator<Item = &str>| {
            vs.filter(|v| is_stable(v)).filter_map(minor_pair).max()
        };
        let from_index = index.and_then(|i| newest_of(&mut i.iter().map(|r| r.version.as_str())));
        let from_host = newest_of(&mut host_versions.into_iter());
        match (from_index, from_host) {
            (Some(i), Some(h)) if h > i => Some(SupportWindow {
                newest: h,
                basis: "the toolchains on this host",
            }),
            (Some(i), _) => Some(SupportWindow {
                newest: i,
                basis: "the Go download index",
            }),
            (None, Some(h)) => Some(SupportWindow {
                newest: h,
                basis: "the toolchains on this host",
            }),
            (None, None) => None,
        }
    }

    /// The supported minors, oldest first: `["go1.26", "go1.27"]`.
    pub fn supported(&self) -> Vec<String> {
        let (major, minor) = self.newest;
        (0..SUPPORTED_MINORS as u64)
            .rev()
            .filter_map(|back| minor.checked_sub(back))
            .map(|m| format!("go{major}.{m}"))
            .collect()
    }

    /// A note when `version` is older than every supported minor; `None` for a supported
    /// release, a newer one, a pre-release of a coming one or an unparseable version.
    pub fn note(&self, version: &str) -> Option<String> {
        let (major, minor) = minor_pair(version)?;
        let oldest = self.newest.1.checked_sub(SUPPORTED_MINORS as u64 - 1)?;
        if major < self.newest.0 || (major == self.newest.0 && minor < oldest) {
            Some(format!(
                "{version} is out of support: Go supports its two newest releases, {} (newest per {})",
                self.supported().join(" and "),
                self.basis
            ))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tc(version: &str) -> String {
        version.to_string()
    }

    fn versions(ts: &[String]) -> Vec<&str> {
        ts.iter().map(String::as_str).collect()
    }

    fn default_toolchains(found: &[String]) -> Vec<String> {
        super::default_toolchains(found, String::as_str)
    }

    #[test]
    fn default_is_the_two_newest_stable_minors_newest_patch_each() {
        let found = [
            tc("go1.22.12"),
            tc("go1.24.4"),
            tc("go1.26.6"),
            tc("go1.26.11"),
            tc("go1.27.4"),
            tc("go1.28rc1"),
            tc("devel go1.29-abc"),
        ];
        assert_eq!(
            versions(&default_toolchains(&found)),
            ["go1.26.11", "go1.27.4"]
        );
        assert_eq!(
            versions(&default_toolchains(&[tc("go1.22.12")])),
            ["go1.22.12"]
        );
        assert_eq!(
            versions(&default_toolchains(&[
                tc("go1.28rc1"),
                tc("devel go1.29-abc")
            ])),
            ["devel go1.29-abc"]
        );
        assert!(default_toolchains(&[]).is_empty());
    }

    fn release(v: &str) -> GoRelease {
        serde_json::from_value(serde_json::json!({"version": v, "stable": true, "files": []}))
            .unwrap()
    }

    #[test]
    fn out_of_support_is_older_than_the_two_newest_minors() {
        let w = SupportWindow::new(["go1.22.12", "go1.26.11", "go1.27.4"], None).unwrap();
        assert_eq!(w.supported(), ["go1.26", "go1.27"]);
        assert_eq!(w.note("go1.27.4"), None);
        assert_eq!(w.note("go1.26.1"), None);
        assert_eq!(w.note("go1.28rc1"), None);
        assert_eq!(w.note("devel go1.29-abc"), None);
        let n = w.note("go1.24.4").unwrap();
        assert!(n.contains("go1.24.4 is out of support"), "{n}");
        assert!(n.contains("go1.26 and go1.27"), "{n}");
        assert!(n.contains("toolchains on this host"), "{n}");
        // The index knows a newer release than the host has: go1.27 alone is supported here.
        let index = [release("go1.28.1"), release("go1.27.4")];
        let w = SupportWindow::new(["go1.26.11", "go1.27.4"], Some(&index)).unwrap();
        assert_eq!(w.supported(), ["go1.27", "go1.28"]);
        assert!(w.note("go1.26.11").unwrap().contains("Go download index"));
        // Pre-releases do not move the window.
        let w = SupportWindow::new(["go1.27.4", "go1.28rc1"], None).unwrap();
        assert_eq!(w.supported(), ["go1.26", "go1.27"]);
        assert!(SupportWindow::new(["devel go1.29-abc"], None).is_none());
    }
}
