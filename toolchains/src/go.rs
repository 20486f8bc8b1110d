//! Go toolchains on this host: where they are (PATH, /usr/lib/go-1.*, $GOROOT), their exact
//! versions, the ports each can build, and the short names cells use.

use crate::version::minor_of;
use crate::version::{VersionRequest, is_stable};
pub use crate::version::{compare_go_versions, parse_version_file};
use crossmatrix_sandbox::host::{self as command, CommandError};
use serde::Serialize;
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
/// ([`crate::paths::default_toolchains_dir`]) too.
pub fn discover_go() -> Vec<GoToolchain> {
    discover_go_in(&crate::paths::default_toolchains_dir())
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
        crate::paths::installed_toolchains(toolchains_dir)
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
        crate::paths::host_goarch()
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

/// Why the toolchains a user named cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error("--toolchain {spec}: not a Go toolchain: {source}")]
    NotAToolchain { spec: String, source: GoError },
    #[error(
        "no such Go toolchain here: {} (found: {}); `crossmatrix toolchain install {}` fetches \
         official releases into the cache, or install them (apt-get install golang-1.NN-go) or \
         pass a GOROOT",
        missing.join(", "),
        if found.is_empty() { "none".to_string() } else { found.join(", ") },
        missing.join(" ")
    )]
    Missing {
        missing: Vec<String>,
        /// The versions that are here.
        found: Vec<String>,
    },
    #[error(
        "no Go toolchain found (looked at `go` on PATH, /usr/lib/go-1.*, $GOROOT): run ci/setup or apt-get install golang-go"
    )]
    NoneFound,
}

/// The toolchains `wanted` names among `found` (see [`discover_go`]), oldest first, without
/// duplicates; when nothing is wanted, Go's supported releases among `found` (the two newest
/// stable minors: [`crate::support::default_toolchains`]). Each entry is a GOROOT path, or a
/// version request resolved the way `toolchain install` resolves it against the download
/// index ([`VersionRequest`]): `go1.22` is the newest stable 1.22.x here, `latest` the newest
/// stable release (or the newest at all when only pre-releases are here). Every name that
/// matches nothing is reported at once.
pub fn select_toolchains(
    wanted: &[String],
    found: &[GoToolchain],
) -> Result<Vec<GoToolchain>, SelectError> {
    let mut chosen: Vec<GoToolchain> = Vec::new();
    if wanted.is_empty() {
        chosen = crate::support::default_toolchains(found, |t| &t.version);
    }
    let mut missing = Vec::new();
    for w in wanted {
        let p = Path::new(w);
        if w.contains('/') && p.exists() {
            chosen.push(
                go_toolchain_at(p).map_err(|source| SelectError::NotAToolchain {
                    spec: w.clone(),
                    source,
                })?,
            );
            continue;
        }
        let hit = w.parse::<VersionRequest>().ok().and_then(|req| {
            req.pick(found, |t| (t.version.as_str(), is_stable(&t.version)))
                .or_else(|| {
                    // Only pre-releases (or devel builds) here: `latest` is the newest of them.
                    (req == VersionRequest::Latest)
                        .then(|| {
                            found
                                .iter()
                                .max_by(|a, b| compare_go_versions(&a.version, &b.version))
                        })
                        .flatten()
                })
        });
        match hit {
            Some(t) => chosen.push(t.clone()),
            None => missing.push(w.clone()),
        }
    }
    if !missing.is_empty() {
        return Err(SelectError::Missing {
            missing,
            found: found.iter().map(|t| t.version.clone()).collect(),
        });
    }
    chosen.sort_by(|a, b| compare_go_versions(&a.version, &b.version));
    chosen.dedup_by(|a, b| a.goroot == b.goroot);
    if chosen.is_empty() {
        return Err(SelectError::NoneFound);
    }
    Ok(chosen)
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
    fn select_resolves_requests_against_what_is_here() {
        let found = [
            tc("go1.22.12"),
            tc("go1.24.4"),
            tc("go1.24.11"),
            tc("go1.25rc1"),
        ];
        let pick = |w: &[&str]| {
            let w: Vec<String> = w.iter().map(|s| s.to_string()).collect();
            select_toolchains(&w, &found)
                .map(|ts| ts.into_iter().map(|t| t.version).collect::<Vec<_>>())
        };
        assert_eq!(pick(&["go1.24"]).unwrap(), ["go1.24.11"]);
        assert_eq!(
            pick(&["1.22", "latest"]).unwrap(),
            ["go1.22.12", "go1.24.11"]
        );
        assert_eq!(pick(&["go1.24.4", "go1.24.4"]).unwrap(), ["go1.24.4"]);
        assert_eq!(pick(&["go1.25rc1"]).unwrap(), ["go1.25rc1"]);
        // Nothing named: the two newest stable minors, newest patch each.
        assert_eq!(pick(&[]).unwrap(), ["go1.22.12", "go1.24.11"]);
        let err = pick(&["go1.23", "go1.25", "go1.24"])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("no such Go toolchain here: go1.23, go1.25 (found: go1.22.12, go1.24.4, go1.24.11, go1.25rc1); `crossmatrix toolchain install go1.23 go1.25`"), "{err}");
        let only_rc = [tc("go1.26rc1")];
        let latest = select_toolchains(&["latest".to_string()], &only_rc).unwrap();
        assert_eq!(latest[0].version, "go1.26rc1");
        assert!(matches!(
            select_toolchains(&[], &[]),
            Err(SelectError::NoneFound)
        ));
        let not = select_toolchains(&["/".to_string()], &found)
            .unwrap_err()
            .to_string();
        assert!(
            not.starts_with("--toolchain /: not a Go toolchain"),
            "{not}"
        );
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
