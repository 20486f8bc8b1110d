//! Go toolchains on this host: where they are (PATH, /usr/lib/go-1.*, $GOROOT), their exact
//! versions, the ports each can build, and the short names cells use.

use crate::command::{self, CommandError};
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const DIST_LIST_TIMEOUT: Duration = Duration::from_secs(30);
const GO_ENV_TIMEOUT: Duration = Duration::from_secs(30);

/// One Go installation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GoToolchain {
    /// The exact version, e.g. `go1.24.4`.
    pub version: String,
    /// Canonical GOROOT (symlinks resolved).
    pub goroot: PathBuf,
    /// `GOROOT/bin/go`.
    pub go: PathBuf,
    pub source: GoSource,
    /// `goos/goarch` pairs from `go tool dist list`; empty when that failed.
    pub ports: Vec<String>,
}

/// How a toolchain was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GoSource {
    /// `go` on PATH.
    Path,
    /// A Debian `golang-1.NN-go` package under `/usr/lib/go-1.NN`.
    Debian,
    /// The `GOROOT` environment variable.
    GorootEnv,
    /// A GOROOT the user named.
    Explicit,
    /// Installed by `crossmatrix toolchain install` into the cache
    /// (`<cache>/toolchains/<version>/`).
    Cache,
}

#[derive(Debug, thiserror::Error)]
pub enum GoError {
    #[error("{goroot}: not a Go toolchain (no bin/go inside)")]
    NoGoBinary { goroot: PathBuf },
    #[error("{goroot}: cannot resolve the path: {source}")]
    Canonicalize {
        goroot: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{goroot}: cannot tell the Go version (VERSION file missing or unreadable, and `go env GOVERSION` failed: {source})"
    )]
    NoVersion {
        goroot: PathBuf,
        source: CommandError,
    },
    #[error("{goroot}: `go env GOVERSION` printed nothing usable: {output:?}")]
    BadVersion { goroot: PathBuf, output: String },
}

/// Every Go toolchain this host has, deduplicated by canonical GOROOT, oldest first.
/// Toolchains that cannot be inspected are left out. Looks in the default install cache
/// ([`crate::install::default_toolchains_dir`]) too.
pub fn discover_go() -> Vec<GoToolchain> {
    discover_go_in(&crate::install::default_toolchains_dir())
}

/// [`discover_go`] with the toolchains installed under `toolchains_dir` (the directory
/// `crossmatrix toolchain install` fills) instead of the default one.
pub fn discover_go_in(toolchains_dir: &Path) -> Vec<GoToolchain> {
    let mut candidates: Vec<(PathBuf, GoSource)> = Vec::new();
    let on_path = which::which("go")
        .ok()
        .and_then(|go| std::fs::canonicalize(go).ok())
        .and_then(|real| Some(real.parent()?.parent()?.to_path_buf()));
    if let Some(goroot) = on_path {
        candidates.push((goroot, GoSource::Path));
    }
    if let Ok(rd) = std::fs::read_dir("/usr/lib") {
        let mut debian: Vec<PathBuf> = rd
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("go-1."))
            .map(|e| e.path())
            .collect();
        debian.sort();
        candidates.extend(debian.into_iter().map(|p| (p, GoSource::Debian)));
    }
    if let Some(g) = std::env::var_os("GOROOT").filter(|g| !g.is_empty()) {
        candidates.push((PathBuf::from(g), GoSource::GorootEnv));
    }
    candidates.extend(
        crate::install::installed_toolchains(toolchains_dir)
            .into_iter()
            .map(|p| (p, GoSource::Cache)),
    );

    let mut seen = HashSet::new();
    let mut found = Vec::new();
    for (goroot, source) in candidates {
        let Ok(canon) = std::fs::canonicalize(&goroot) else {
            continue;
        };
        if !seen.insert(canon) {
            continue;
        }
        if let Ok(t) = inspect(&goroot, source) {
            found.push(t);
        }
    }
    found.sort_by(|a, b| compare_go_versions(&a.version, &b.version));
    found
}

/// The toolchain at `goroot` (a directory holding `bin/go`).
pub fn go_toolchain_at(goroot: &Path) -> Result<GoToolchain, GoError> {
    inspect(goroot, GoSource::Explicit)
}

fn inspect(goroot: &Path, source: GoSource) -> Result<GoToolchain, GoError> {
    let goroot = std::fs::canonicalize(goroot).map_err(|source| GoError::Canonicalize {
        goroot: goroot.to_path_buf(),
        source,
    })?;
    let go = goroot.join("bin").join("go");
    if !go.is_file() {
        return Err(GoError::NoGoBinary { goroot });
    }
    let version = match std::fs::read_to_string(goroot.join("VERSION"))
        .ok()
        .and_then(|t| parse_version_file(&t))
    {
        Some(v) => v,
        None => version_from_go_env(&go, &goroot)?,
    };
    let ports = list_ports(&go, &goroot);
    Ok(GoToolchain {
        version,
        goroot,
        go,
        source,
        ports,
    })
}

/// A `go` command pinned to its own GOROOT, unable to switch or download toolchains, and run
/// outside any module (a `toolchain` line in a go.mod in the cwd must not matter).
fn go_command(go: &Path, goroot: &Path) -> Command {
    let mut cmd = Command::new(go);
    cmd.env("GOROOT", goroot)
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "")
        .env("GO111MODULE", "off")
        .current_dir(goroot);
    cmd
}

fn version_from_go_env(go: &Path, goroot: &Path) -> Result<String, GoError> {
    let mut cmd = go_command(go, goroot);
    cmd.args(["env", "GOVERSION"]);
    let out =
        command::run_checked(&mut cmd, GO_ENV_TIMEOUT).map_err(|source| GoError::NoVersion {
            goroot: goroot.to_path_buf(),
            source,
        })?;
    let text = out.stdout_str();
    parse_version_file(&text).ok_or_else(|| GoError::BadVersion {
        goroot: goroot.to_path_buf(),
        output: text.trim().to_string(),
    })
}

fn list_ports(go: &Path, goroot: &Path) -> Vec<String> {
    // The ports are the toolchain's: remembered while its `go`, `dist` and VERSION stay.
    let dist = goroot.join("pkg/tool").join(format!(
        "{}_{}",
        std::env::consts::OS,
        crate::executor::host_goarch()
    ));
    let dist = dist.join("dist");
    let version = goroot.join("VERSION");
    let depends: Vec<&Path> = [dist.as_path(), version.as_path()]
        .into_iter()
        .filter(|p| p.exists())
        .collect();
    let listed = crate::facts::remembered(go, &["tool", "dist", "list"], &depends, || {
        let mut cmd = go_command(go, goroot);
        cmd.args(["tool", "dist", "list"]);
        let out = command::run_checked(&mut cmd, DIST_LIST_TIMEOUT).ok()?;
        Some(out.stdout_str()).filter(|t| t.contains('/'))
    });
    listed
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| l.contains('/'))
        .map(str::to_string)
        .collect()
}

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

/// A parsed version: numeric parts, then an optional pre-release (`rc1`, `beta2`) that sorts
/// before the release it precedes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ParsedVersion {
    pub(crate) nums: Vec<u64>,
    pub(crate) pre: Option<(u8, u64)>,
}

pub(crate) fn parse_go_version(v: &str) -> Option<ParsedVersion> {
    let v = v.strip_prefix("devel ").unwrap_or(v);
    let v = v.split_whitespace().next()?;
    let v = v.strip_prefix("go")?;
    // `go1.25-abcdef` (devel) or `go1.24.4-X:foo`: the version ends at the first `-`.
    let v = v.split('-').next()?;
    let (num_part, pre) = match v.find(|c: char| c.is_ascii_alphabetic()) {
        None => (v, None),
        Some(i) => {
            let (n, p) = v.split_at(i);
            let digits = p.trim_start_matches(|c: char| c.is_ascii_alphabetic());
            let kind = &p[..p.len() - digits.len()];
            let rank = match kind {
                "alpha" => 0,
                "beta" => 1,
                "rc" => 2,
                _ => return None,
            };
            (n, Some((rank, digits.parse().unwrap_or(0))))
        }
    };
    let nums = num_part
        .split('.')
        .map(|p| p.parse::<u64>().ok())
        .collect::<Option<Vec<_>>>()?;
    if nums.is_empty() {
        return None;
    }
    Some(ParsedVersion { nums, pre })
}

/// Orders Go versions the way the Go project does: `go1.9 < go1.22rc1 < go1.22 = go1.22.0 <
/// go1.22.12 < go1.24.4`. Unparseable versions sort after parseable ones, by text.
pub fn compare_go_versions(a: &str, b: &str) -> Ordering {
    match (parse_go_version(a), parse_go_version(b)) {
        (Some(pa), Some(pb)) => {
            let len = pa.nums.len().max(pb.nums.len());
            for i in 0..len {
                let x = pa.nums.get(i).copied().unwrap_or(0);
                let y = pb.nums.get(i).copied().unwrap_or(0);
                match x.cmp(&y) {
                    Ordering::Equal => {}
                    o => return o,
                }
            }
            match (pa.pre, pb.pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(x), Some(y)) => x.cmp(&y),
            }
            .then_with(|| a.cmp(b))
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// `go1.24` from `go1.24.4` (and from `go1.24rc1`); the whole string when it has no minor.
fn minor_of(version: &str) -> String {
    match parse_go_version(version) {
        Some(p) if p.nums.len() >= 2 => format!("go{}.{}", p.nums[0], p.nums[1]),
        _ => version.to_string(),
    }
}

/// Names for cell ids, one per toolchain in the same order: `go1.24` unless two toolchains
/// share that minor, then their full versions (and `-2`, `-3`… if even those collide).
pub fn short_names(toolchains: &[GoToolchain]) -> Vec<String> {
    let mut per_minor: BTreeMap<String, usize> = BTreeMap::new();
    for t in toolchains {
        *per_minor.entry(minor_of(&t.version)).or_default() += 1;
    }
    let mut used: BTreeMap<String, usize> = BTreeMap::new();
    toolchains
        .iter()
        .map(|t| {
            let minor = minor_of(&t.version);
            let base = if per_minor.get(&minor).copied().unwrap_or(0) > 1 {
                t.version.replace(' ', "-")
            } else {
                minor
            };
            let n = used.entry(base.clone()).or_default();
            *n += 1;
            if *n == 1 { base } else { format!("{base}-{n}") }
        })
        .collect()
}

impl GoToolchain {
    /// The planner's view of this toolchain under `name` (see [`short_names`]).
    pub fn to_matrix(&self, name: String) -> crossmatrix_matrix::Toolchain {
        crossmatrix_matrix::Toolchain {
            name,
            version: self.version.clone(),
            goroot: self.goroot.clone(),
            ports: self.ports.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tc(version: &str) -> GoToolchain {
        GoToolchain {
            version: version.into(),
            goroot: PathBuf::from(format!("/x/{version}")),
            go: PathBuf::from(format!("/x/{version}/bin/go")),
            source: GoSource::Debian,
            ports: vec![],
        }
    }

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
    fn versions_compare_semantically() {
        use Ordering::*;
        assert_eq!(compare_go_versions("go1.22.12", "go1.24.4"), Less);
        assert_eq!(compare_go_versions("go1.9", "go1.22"), Less);
        assert_eq!(compare_go_versions("go1.24.10", "go1.24.9"), Greater);
        assert_eq!(compare_go_versions("go1.22rc1", "go1.22"), Less);
        assert_eq!(compare_go_versions("go1.22beta1", "go1.22rc1"), Less);
        assert_eq!(compare_go_versions("go1.22", "go1.22.0"), Less); // tie broken by text
        assert_eq!(compare_go_versions("go1.24.4", "go1.24.4"), Equal);
        assert_eq!(compare_go_versions("devel go1.25-abc", "go1.24.4"), Greater);
        assert_eq!(compare_go_versions("weird", "go1.2"), Greater);
        let mut v = vec!["go1.24.4", "go1.22.12", "go1.9.2", "go1.24rc2"];
        v.sort_by(|a, b| compare_go_versions(a, b));
        assert_eq!(v, ["go1.9.2", "go1.22.12", "go1.24rc2", "go1.24.4"]);
    }

    #[test]
    fn short_names_use_minor_unless_shared() {
        let ts = [
            tc("go1.22.12"),
            tc("go1.24.4"),
            tc("go1.24.11"),
            tc("go1.25rc1"),
        ];
        assert_eq!(
            short_names(&ts),
            ["go1.22", "go1.24.4", "go1.24.11", "go1.25"]
        );
        let same = [tc("go1.24.4"), tc("go1.24.4")];
        assert_eq!(short_names(&same), ["go1.24.4", "go1.24.4-2"]);
        assert!(short_names(&[]).is_empty());
    }

    #[test]
    fn to_matrix_keeps_fields() {
        let mut t = tc("go1.24.4");
        t.ports = vec!["linux/arm64".into()];
        let m = t.to_matrix("go1.24".into());
        assert_eq!(m.name, "go1.24");
        assert_eq!(m.version, "go1.24.4");
        assert_eq!(m.goroot, PathBuf::from("/x/go1.24.4"));
        assert_eq!(m.ports, ["linux/arm64"]);
    }

    #[test]
    fn not_a_goroot_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        assert!(matches!(
            go_toolchain_at(d.path()),
            Err(GoError::NoGoBinary { .. })
        ));
        assert!(matches!(
            go_toolchain_at(&d.path().join("missing")),
            Err(GoError::Canonicalize { .. })
        ));
    }

    #[test]
    fn fake_goroot_reads_version_file_and_tolerates_failing_dist() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("bin")).unwrap();
        let go = d.path().join("bin/go");
        // Written beside and renamed in, so no other test's fork holds it open for writing
        // when it runs (ETXTBSY).
        let write_exec = |text: &str| {
            let tmp = d.path().join("go.tmp");
            std::fs::write(&tmp, text).unwrap();
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
            std::fs::rename(&tmp, &go).unwrap();
        };
        write_exec("#!/bin/sh\nexit 1\n");
        std::fs::write(d.path().join("VERSION"), "go1.23.1\ntime x\n").unwrap();
        let t = go_toolchain_at(d.path()).unwrap();
        assert_eq!(t.version, "go1.23.1");
        assert_eq!(t.source, GoSource::Explicit);
        assert!(t.ports.is_empty());

        // No VERSION: falls back to `go env GOVERSION`.
        std::fs::remove_file(d.path().join("VERSION")).unwrap();
        write_exec("#!/bin/sh\n[ \"$1\" = env ] && echo go1.21.3\n");
        assert_eq!(go_toolchain_at(d.path()).unwrap().version, "go1.21.3");
    }
}
