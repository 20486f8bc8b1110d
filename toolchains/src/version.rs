//! Go version names: parsing (`go1.24.4`, `go1.25rc1`, `devel go1.26-abc…`) and Go's own
//! ordering (both in `crossmatrix_matrix`, which the reports share), and what a user's request
//! (`go1.22`, `go1.24.4`, `latest`) names — one resolver for the installed toolchains
//! ([`crate::go::select_toolchains`]) and the download index ([`crate::install::resolve`])
//! alike. The bottom of the crate with [`crate::paths`]: it
//! imports nothing of the crate.

use std::fmt;
use std::str::FromStr;

/// The version named on the first line of a GOROOT/VERSION file (`go1.24.4`, or
/// `devel go1.25-abcdef …` for a source build); `None` when it does not name one.
pub fn parse_version_file(text: &str) -> Option<String> {
    let first = text.lines().next()?.trim();
    if first.starts_with("go1") || first.starts_with("devel") {
        Some(first.to_string())
    } else {
        None
    }
}

pub use crossmatrix_matrix::compare_go_versions;
pub(crate) use crossmatrix_matrix::{ParsedVersion, parse_go_version};

/// `go1.24` from `go1.24.4` (and from `go1.24rc1`); the whole string when it has no minor.
pub(crate) fn minor_of(version: &str) -> String {
    match parse_go_version(version) {
        Some(p) if p.nums.len() >= 2 => format!("go{}.{}", p.nums[0], p.nums[1]),
        _ => version.to_string(),
    }
}

/// What the user asked to install.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VersionRequest {
    /// The newest stable release.
    Latest,
    /// `go1.22`: the newest stable patch release of that minor.
    Minor { major: u64, minor: u64 },
    /// `go1.23.4`, `go1.24rc1`: exactly that release.
    Exact(String),
}

/// A version request that does not parse (a usage error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a Go version: expected e.g. `go1.23.4`, `go1.22` (the newest 1.22.x), `go1.24rc1` or `latest`"
)]
pub struct BadVersionRequest(pub String);

impl FromStr for VersionRequest {
    type Err = BadVersionRequest;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t == "latest" || t == "stable" {
            return Ok(VersionRequest::Latest);
        }
        let bare = t.strip_prefix("go").unwrap_or(t);
        let bad = || BadVersionRequest(s.to_string());
        if bare.is_empty()
            || !bare
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c.is_ascii_lowercase())
            || !bare.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(bad());
        }
        let full = format!("go{bare}");
        let parsed = parse_go_version(&full).ok_or_else(bad)?;
        match (parsed.nums.as_slice(), parsed.pre) {
            (&[major, minor], None) => Ok(VersionRequest::Minor { major, minor }),
            ([_, _], Some(_)) | ([_, _, _], None) => Ok(VersionRequest::Exact(full)),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for VersionRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionRequest::Latest => f.write_str("latest"),
            VersionRequest::Minor { major, minor } => write!(f, "go{major}.{minor}"),
            VersionRequest::Exact(v) => f.write_str(v),
        }
    }
}

impl VersionRequest {
    /// Whether `version`, an exact Go version, is what this request names: `latest` and
    /// `go1.22` name stable releases only (no `rc`/`beta`, no `devel` build), `go1.23.4` names
    /// exactly that one (`go1.21` and `go1.21.0` are the same release).
    pub fn matches(&self, version: &str) -> bool {
        match self {
            VersionRequest::Latest => is_stable(version),
            VersionRequest::Minor { major, minor } => {
                is_stable(version)
                    && parse_go_version(version).is_some_and(|p| {
                        p.nums.first() == Some(major) && p.nums.get(1) == Some(minor)
                    })
            }
            VersionRequest::Exact(v) => version == v || normalise(version) == normalise(v),
        }
    }

    /// The newest of `candidates` this request names; `version_of` tells each one's version
    /// and whether its source calls it stable (the download index says so per release).
    pub fn pick<'a, T>(
        &self,
        candidates: impl IntoIterator<Item = &'a T>,
        version_of: impl Fn(&T) -> (&str, bool),
    ) -> Option<&'a T> {
        candidates
            .into_iter()
            .filter(|c| {
                let (v, stable) = version_of(c);
                self.matches(v) && (stable || matches!(self, VersionRequest::Exact(_)))
            })
            .max_by(|a, b| compare_go_versions(version_of(a).0, version_of(b).0))
    }
}

/// The toolchain version of a binary's embedded Go version, without its GOEXPERIMENT part:
/// `go1.27.4` of `go1.27.4-X:mapsplitgroup` (a release built by Go ≥ 1.26, go.dev/issue/75953)
/// and of `go1.27.4 X:…` (older releases), `devel go1.28-abc` of `devel go1.28-abc X:…`.
pub fn without_experiments(embedded: &str) -> &str {
    let v = embedded.split(" X:").next().unwrap_or(embedded);
    v.split("-X:").next().unwrap_or(v)
}

/// A release, not a pre-release or a development build.
pub fn is_stable(version: &str) -> bool {
    !version.starts_with("devel") && parse_go_version(version).is_some_and(|p| p.pre.is_none())
}

/// `go1.21.0` and `go1.21` name one release in old indexes; compare without a `.0` patch.
pub(crate) fn normalise(v: &str) -> &str {
    v.strip_suffix(".0")
        .filter(|s| s.matches('.').count() == 1)
        .unwrap_or(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_file_first_line() {
        assert_eq!(
            parse_version_file("go1.24.4\ntime 2025-05-29T19:37:36Z\n").as_deref(),
            Some("go1.24.4")
        );
        assert_eq!(
            parse_version_file("devel go1.25-abc123 Tue Jan 1\n").as_deref(),
            Some("devel go1.25-abc123 Tue Jan 1")
        );
        assert_eq!(parse_version_file(""), None);
        assert_eq!(parse_version_file("\ngo1.2"), None);
        assert_eq!(parse_version_file("hello"), None);
    }

    #[test]
    fn experiments_are_not_part_of_the_toolchain_version() {
        assert_eq!(without_experiments("go1.27.4-X:mapsplitgroup"), "go1.27.4");
        assert_eq!(without_experiments("go1.24.4 X:rangefunc"), "go1.24.4");
        assert_eq!(without_experiments("go1.27.4"), "go1.27.4");
        assert_eq!(
            without_experiments("devel go1.28-abc123 Mon Jan 5 X:foo,bar"),
            "devel go1.28-abc123 Mon Jan 5"
        );
        assert_eq!(without_experiments("go1.27rc1-X:a,b"), "go1.27rc1");
    }

    #[test]
    fn requests_name_releases() {
        let req = |s: &str| s.parse::<VersionRequest>().unwrap();
        assert!(req("go1.24").matches("go1.24.4"));
        assert!(req("1.24").matches("go1.24"));
        assert!(!req("go1.24").matches("go1.24rc1"));
        assert!(!req("go1.24").matches("go1.25.0"));
        assert!(!req("go1.25").matches("devel go1.25-abc"));
        assert!(req("go1.24.4").matches("go1.24.4"));
        assert!(req("go1.21.0").matches("go1.21"));
        assert!(req("go1.25rc1").matches("go1.25rc1"));
        assert!(req("latest").matches("go1.9"));
        assert!(!req("latest").matches("go1.26beta1"));
        let vs = ["go1.22.12", "go1.24.4", "go1.24.11", "go1.25rc1"];
        let pick = |r: &str| req(r).pick(&vs, |v| (v, is_stable(v))).copied();
        assert_eq!(pick("go1.24"), Some("go1.24.11"));
        assert_eq!(pick("latest"), Some("go1.24.11"));
        assert_eq!(pick("go1.25rc1"), Some("go1.25rc1"));
        assert_eq!(pick("go1.25"), None);
        assert_eq!(pick("go1.23"), None);
    }
}
