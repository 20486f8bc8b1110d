//! crossmatrix's view of a Go project as the go command sees it. Programs are directories,
//! files and patterns the user names; this crate turns them into what each cell builds:
//!
//! - [`module`] — the `go.mod` above a directory and the `go.work` that applies to it;
//! - [`context`] — one build's toolchain, GOOS/GOARCH, cgo and tags, and the tags that holds;
//! - [`list`] — `go list -find` in a context: the packages a pattern or directory names;
//! - [`constraint`] — build constraints of one file (single-file programs, reasons);
//! - [`resolve`] — the plan's programs resolved: packages of modules, patterns expanded,
//!   cells skipped where constraints exclude them or the toolchain is too old.

pub mod constraint;
pub mod context;
pub mod list;
pub mod module;
pub mod resolve;

pub use context::{BuildContext, Tags};
pub use module::{Module, ModuleError, Project, Workspace, find_project};
pub use resolve::{ResolveError, ResolveOptions, resolve_plan};

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// `go env` answers at once; a hung go command must not hang planning.
const GO_ENV_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The module cache builds read and `crossmatrix fetch` fills: `dir` when given; the user's
/// own (`$GOMODCACHE`, else `go env GOMODCACHE` of `go`) when `user` is set; else
/// crossmatrix's, `<cache>/gomod`.
pub fn module_cache(
    cache_dir: &Path,
    user: bool,
    dir: Option<&Path>,
    go: Option<&Path>,
) -> PathBuf {
    if let Some(d) = dir {
        return d.to_path_buf();
    }
    if !user {
        return cache_dir.join("gomod");
    }
    if let Some(m) = std::env::var_os("GOMODCACHE").filter(|v| !v.is_empty()) {
        return PathBuf::from(m);
    }
    let asked = go.and_then(|go| {
        let mut cmd = std::process::Command::new(go);
        cmd.args(["env", "GOMODCACHE"]).env("GOTOOLCHAIN", "local");
        let out = crossmatrix_sandbox::host::run(&mut cmd, GO_ENV_TIMEOUT).ok()?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (out.status.success() && !text.is_empty()).then(|| PathBuf::from(text))
    });
    asked.unwrap_or_else(|| {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        home.join("go/pkg/mod")
    })
}

/// A file's identity: path, device, inode, size, modification and change times; `None` when
/// it cannot be looked at. Two equal stamps mean the file was not replaced or rewritten.
pub fn file_stamp(path: &Path) -> Option<String> {
    let m = std::fs::metadata(path).ok()?;
    Some(format!(
        "{} {} {} {} {}.{} {}.{}",
        path.display(),
        m.dev(),
        m.ino(),
        m.len(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec()
    ))
}
