//! The cell toolchain's own `test2json`: the one its distribution ships (Go ≤ 1.24 ship
//! `pkg/tool/GOOS_GOARCH/test2json`), else built from its GOROOT once per toolchain — Go ≥ 1.25
//! ships only the tools builds invoke and `go tool` builds the rest on demand — offline in the
//! build sandbox, and kept in the cache (`<cache>/tools/test2json/<key>/test2json`).
//!
//! Each toolchain's own converter matters: Go 1.27's test binaries mark error output (`^O`…`^N`)
//! and escape control characters (`^[`) that only Go 1.27's test2json decodes.

use crate::diagnose::Failure;
use crossmatrix_matrix::{Cause, Toolchain};
use crossmatrix_sandbox::Abort;
use crossmatrix_sandbox::bwrap::{Limits, Sandbox};
use crossmatrix_sandbox::process::run_captured;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// How long building test2json may take (≈20 s cold on 2 cores).
const BUILD_TIMEOUT: Duration = Duration::from_secs(600);
const IN_OUT: &str = "/out";
const IN_GOCACHE: &str = "/cache/go";

/// One toolchain's test2json, resolved at most once.
type Slot = Arc<OnceLock<Result<PathBuf, Failure>>>;

/// Where each toolchain's test2json is, found or built at most once per run (and once per
/// cache across runs). Shared by the worker threads.
pub struct Test2Json {
    cache_dir: PathBuf,
    bwrap: PathBuf,
    host_goarch: String,
    resolved: Mutex<HashMap<PathBuf, Slot>>,
}

impl Test2Json {
    /// `cache_dir` holds the built tools and each toolchain's GOCACHE (`<cache>/go/<version>`).
    pub fn new(cache_dir: &Path, bwrap: &Path, host_goarch: &str) -> Test2Json {
        Test2Json {
            cache_dir: cache_dir.to_path_buf(),
            bwrap: bwrap.to_path_buf(),
            host_goarch: host_goarch.to_string(),
            resolved: Mutex::new(HashMap::new()),
        }
    }

    /// The test2json of `toolchain`: shipped, cached, or built now (other threads asking for
    /// the same toolchain meanwhile wait for this build). A toolchain whose test2json cannot be
    /// built is a `harness-error` naming its GOROOT and the fix.
    pub fn tool(&self, toolchain: &Toolchain, abort: &Abort) -> Result<PathBuf, Failure> {
        if let Some(p) = shipped(&toolchain.goroot, &self.host_goarch) {
            return Ok(p);
        }
        let slot = {
            let mut map = self.resolved.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(toolchain.goroot.clone()).or_default().clone()
        };
        slot.get_or_init(|| self.cached_or_built(toolchain, abort))
            .clone()
    }

    fn cached_or_built(&self, toolchain: &Toolchain, abort: &Abort) -> Result<PathBuf, Failure> {
        let dir = self.cache_dir.join("tools/test2json").join(cache_key(
            &toolchain.goroot,
            &toolchain.version,
            &self.host_goarch,
        ));
        let exe = dir.join("test2json");
        if exe.is_file() {
            return Ok(exe);
        }
        self.build(toolchain, &dir, &exe, abort).map(|()| exe).map_err(|why| {
            Failure::new(
                Cause::HarnessError,
                format!(
                    "cannot build test2json (needed to read Go's test output) from {}/src/cmd/test2json with {}: {why}; \
                     the toolchain looks incomplete: reinstall it (`crossmatrix toolchain install {}`) or name a complete GOROOT",
                    toolchain.goroot.display(),
                    toolchain.version,
                    toolchain.version
                ),
            )
        })
    }

    /// `go build cmd/test2json` for the host in the build sandbox: the toolchain read-only,
    /// no network, its GOCACHE shared with the cells' builds.
    fn build(
        &self,
        toolchain: &Toolchain,
        dir: &Path,
        exe: &Path,
        abort: &Abort,
    ) -> Result<(), String> {
        let goroot = &toolchain.goroot;
        if !goroot.join("src/cmd/test2json").is_dir() {
            return Err(format!(
                "{}/src/cmd/test2json does not exist",
                goroot.display()
            ));
        }
        let gocache = self.cache_dir.join("go").join(&toolchain.version);
        for d in [dir, gocache.as_path()] {
            std::fs::create_dir_all(d)
                .map_err(|e| format!("cannot create {}: {e}", d.display()))?;
        }
        // Built in a staging dir of its own under `dir`, then renamed into place: two processes
        // sharing the cache never see half of it (the staging dir goes either way).
        let staging = tempfile::Builder::new()
            .prefix(".test2json-")
            .tempdir_in(dir)
            .map_err(|e| format!("cannot create a staging dir in {}: {e}", dir.display()))?;
        let staged = staging.path().join("test2json");
        let staged_inside = Path::new(IN_OUT)
            .join(staging.path().strip_prefix(dir).unwrap_or(staging.path()))
            .join("test2json");
        let sb = Sandbox::new(&self.bwrap)
            .limits(Limits::default())
            .as_pid_1()
            .host_system()
            .ro(goroot, goroot)
            .rw(dir, IN_OUT)
            .rw(&gocache, IN_GOCACHE)
            .chdir("/tmp");
        let host = ("linux", self.host_goarch.as_str());
        let sb = crate::build_env::offline_go(sb, goroot, IN_GOCACHE, host, false);
        let argv: Vec<OsString> = vec![
            goroot.join("bin/go").into(),
            "build".into(),
            "-trimpath".into(),
            "-o".into(),
            staged_inside.into(),
            "cmd/test2json".into(),
        ];
        let f = run_captured(sb.command(&argv), BUILD_TIMEOUT, abort)
            .map_err(|e| format!("cannot start bwrap ({}): {e}", self.bwrap.display()))?;
        if f.timed_out() {
            return Err(format!(
                "`go build cmd/test2json` ran past {BUILD_TIMEOUT:?}"
            ));
        }
        if f.code() != Some(0) {
            let log = format!("{}{}", f.stdout.text(), f.stderr.text());
            let last: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
            let tail = last[last.len().saturating_sub(3)..].join(" / ");
            return Err(format!(
                "`go build cmd/test2json` exited {}: {tail}",
                f.code().unwrap_or(-1)
            ));
        }
        std::fs::rename(&staged, exe)
            .map_err(|e| format!("cannot move test2json to {}: {e}", exe.display()))
    }
}

/// The test2json a distribution ships in `GOROOT/pkg/tool/linux_<host>/`.
pub fn shipped(goroot: &Path, host_goarch: &str) -> Option<PathBuf> {
    let p = goroot
        .join("pkg/tool")
        .join(format!("linux_{host_goarch}"))
        .join("test2json");
    p.is_file().then_some(p)
}

/// One cache entry per toolchain installation: its GOROOT, version and `go` binary (a GOROOT
/// rebuilt in place, as Go's tip is, gets a new entry), and the host arch.
fn cache_key(goroot: &Path, version: &str, host_goarch: &str) -> String {
    let mut h = Sha256::new();
    h.update(goroot.as_os_str().as_encoded_bytes());
    h.update([0]);
    h.update(version.as_bytes());
    h.update([0]);
    h.update(host_goarch.as_bytes());
    if let Ok(m) = std::fs::metadata(goroot.join("bin/go")) {
        h.update(m.len().to_le_bytes());
        h.update(m.mtime().to_le_bytes());
        h.update(m.mtime_nsec().to_le_bytes());
    }
    let hash = format!("{:x}", h.finalize());
    let name: String = version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{name}-{}", &hash[..12])
}

/// A test binary's `-test.v=test2json` output as a person reads it: the framing mark (`^V`),
/// Go 1.27's error marks (`^O`…`^N`) and its escapes (`^[` before a mark) removed.
pub fn plain_output(raw: &str) -> String {
    const FRAME: char = '\u{16}';
    const ERR_BEGIN: char = '\u{0f}';
    const ERR_END: char = '\u{0e}';
    const ESCAPE: char = '\u{1b}';
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ESCAPE => match chars.peek() {
                Some(&n @ (FRAME | ERR_BEGIN | ERR_END | ESCAPE)) => {
                    out.push(n);
                    chars.next();
                }
                _ => out.push(c),
            },
            FRAME | ERR_BEGIN | ERR_END => {}
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_output_drops_marks_and_keeps_escaped_characters() {
        let raw = "\u{16}=== RUN   TestA\n\u{0f}    a_test.go:9: boom\n\u{0e}log \u{1b}\u{16}x \u{1b}[31mred\n";
        assert_eq!(
            plain_output(raw),
            "=== RUN   TestA\n    a_test.go:9: boom\nlog \u{16}x \u{1b}[31mred\n"
        );
        assert_eq!(plain_output("plain"), "plain");
    }

    #[test]
    fn shipped_tool_is_found_only_where_the_distribution_put_it() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(shipped(d.path(), "amd64"), None);
        let tool = d.path().join("pkg/tool/linux_amd64/test2json");
        std::fs::create_dir_all(tool.parent().unwrap()).unwrap();
        std::fs::write(&tool, "").unwrap();
        assert_eq!(shipped(d.path(), "amd64"), Some(tool));
        assert_eq!(shipped(d.path(), "arm64"), None);
    }

    #[test]
    fn cache_key_names_the_version_and_differs_per_goroot() {
        let a = cache_key(Path::new("/usr/lib/go-1.27"), "go1.27.4", "amd64");
        let b = cache_key(Path::new("/opt/go"), "go1.27.4", "amd64");
        assert!(a.starts_with("go1.27.4-"), "{a}");
        assert_ne!(a, b);
        let devel = cache_key(Path::new("/opt/go"), "devel go1.28-abc123 +x", "amd64");
        assert!(devel.starts_with("devel-go1.28-abc123--x-"), "{devel}");
    }

    #[test]
    fn a_goroot_without_test2json_source_is_a_harness_error_naming_it() {
        let cache = tempfile::tempdir().unwrap();
        let goroot = tempfile::tempdir().unwrap();
        let t = Test2Json::new(cache.path(), Path::new("/nonexistent/bwrap"), "amd64");
        let tc = Toolchain {
            name: "go1.27".into(),
            version: "go1.27.4".into(),
            goroot: goroot.path().to_path_buf(),
            ports: vec![],
        };
        let err = t.tool(&tc, &Abort::default()).unwrap_err();
        assert_eq!(err.cause, Cause::HarnessError);
        assert!(
            err.hint.contains("src/cmd/test2json does not exist"),
            "{}",
            err.hint
        );
        assert!(err.hint.contains(&goroot.path().display().to_string()));
    }
}
