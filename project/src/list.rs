//! `go list -find -e -json` in one build context: which packages a pattern (`./cmd/...`) or a
//! directory names, their names (`main`?) and which of their files that context builds. The go
//! command decides — build constraints, `testdata`, nested modules, vendoring — and the answer
//! is remembered under a key of everything it depends on (the go binary, the context, the
//! arguments, and the names, sizes and times of the source tree's Go files), so a warm plan
//! costs a walk of the tree, not a go command per target.

use crate::context::BuildContext;
use crossmatrix_sandbox::host as command;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const LIST_TIMEOUT: Duration = Duration::from_secs(120);

/// One package as `go list` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Listed {
    #[serde(default)]
    pub dir: PathBuf,
    #[serde(default)]
    pub import_path: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub go_files: Vec<String>,
    #[serde(default)]
    pub cgo_files: Vec<String>,
    #[serde(default)]
    pub ignored_go_files: Vec<String>,
    #[serde(default)]
    pub test_go_files: Vec<String>,
    #[serde(default, rename = "XTestGoFiles")]
    pub xtest_go_files: Vec<String>,
    /// A standard-library package.
    #[serde(default)]
    pub standard: bool,
    /// The command-line patterns this package matched.
    #[serde(default)]
    pub r#match: Vec<String>,
    #[serde(default)]
    pub error: Option<ListError>,
    #[serde(default)]
    pub module: Option<ListedModule>,
}

impl Listed {
    /// Whether this context builds any of its files.
    pub fn builds(&self) -> bool {
        !(self.go_files.is_empty() && self.cgo_files.is_empty())
    }

    /// Whether it has Go tests (`_test.go` files) in this context.
    pub fn has_tests(&self) -> bool {
        !(self.test_go_files.is_empty() && self.xtest_go_files.is_empty())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListError {
    #[serde(default)]
    pub err: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListedModule {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub main: bool,
    #[serde(default)]
    pub dir: Option<PathBuf>,
    #[serde(default)]
    pub go_version: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum GoListError {
    #[error("`go list` in {}: {message}", dir.display())]
    Failed { dir: PathBuf, message: String },
    #[error("`go list` in {}: cannot read its output: {source}", dir.display())]
    Output {
        dir: PathBuf,
        source: serde_json::Error,
    },
}

/// `go list -find -e -json` of `args` (patterns, directories, files) run in `cwd` under `ctx`,
/// remembered in `memo_dir` while nothing it depends on changes. `tree` is the
/// [`tree_stamp`] of the directory whose Go files the answer depends on (the module or
/// workspace root); `None` disables the memo. `modcache` is the module cache go reads the
/// module graph from (offline either way).
pub fn go_list(
    ctx: &BuildContext,
    cwd: &Path,
    args: &[String],
    tree: Option<&str>,
    memo_dir: &Path,
    modcache: Option<&Path>,
) -> Result<Vec<Listed>, GoListError> {
    let key = tree.and_then(|t| memo_key(ctx, cwd, args, t));
    let memo = key.as_ref().map(|k| memo_dir.join(format!("{k}.json")));
    if let Some(m) = &memo {
        if let Ok(text) = std::fs::read_to_string(m) {
            if let Ok(listed) = serde_json::from_str::<Vec<Listed>>(&text) {
                return Ok(listed);
            }
        }
    }
    // Without the module cache first, as go list needs nothing from it for a pruned graph (and
    // a dependency that does not match go.sum stays a build's `checksum-mismatch`); an
    // unpruned graph (an old `go` line) asks for its dependencies' go.mod files: again with
    // the module cache the builds read.
    let listed = match run_go_list(ctx, cwd, args, None) {
        Err(GoListError::Failed { message, .. })
            if modcache.is_some() && message.contains("module lookup disabled") =>
        {
            run_go_list(ctx, cwd, args, modcache)?
        }
        other => other?,
    };
    if let Some(m) = &memo {
        // Best effort: without a memo the next plan asks go again.
        let _ = std::fs::create_dir_all(memo_dir).and_then(|()| {
            let tmp = tempfile::NamedTempFile::new_in(memo_dir)?;
            serde_json::to_writer(&tmp, &listed)?;
            tmp.persist(m).map_err(|e| e.error)?;
            Ok(())
        });
    }
    Ok(listed)
}

fn run_go_list(
    ctx: &BuildContext,
    cwd: &Path,
    args: &[String],
    modcache: Option<&Path>,
) -> Result<Vec<Listed>, GoListError> {
    let mut cmd = Command::new(ctx.go());
    let tmp = std::env::temp_dir();
    cmd.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &tmp)
        .env("GOROOT", &ctx.goroot)
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOFLAGS", "")
        .env("GOPATH", tmp.join("crossmatrix-gopath"))
        .env("GOCACHE", tmp.join("crossmatrix-gocache-list"))
        .env("GOTELEMETRY", "off")
        .envs(ctx.env())
        .current_dir(cwd)
        .args([
            "list",
            "-find",
            "-e",
            "-json=Dir,ImportPath,Name,Standard,GoFiles,CgoFiles,IgnoredGoFiles,TestGoFiles,XTestGoFiles,Match,Error,Module",
        ]);
    if let Ok(w) = std::env::var("GOWORK") {
        cmd.env("GOWORK", w);
    }
    if let Some(m) = modcache.filter(|m| m.is_dir()) {
        cmd.env("GOMODCACHE", m);
    }
    if !ctx.tags.is_empty() {
        cmd.arg(format!("-tags={}", ctx.tags.join(",")));
    }
    cmd.args(args);
    let out = command::run(&mut cmd, LIST_TIMEOUT).map_err(|e| GoListError::Failed {
        dir: cwd.to_path_buf(),
        message: e.to_string(),
    })?;
    if !out.status.success() {
        let message = String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| !l.starts_with("go: downloading"))
            .map(|l| l.trim_start_matches("go: ").trim().to_string())
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(GoListError::Failed {
            dir: cwd.to_path_buf(),
            message,
        });
    }
    serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter::<Listed>()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| GoListError::Output {
            dir: cwd.to_path_buf(),
            source,
        })
}

/// The memo key: the go binary, the context, the command, and a stamp of the Go files (and
/// go.mod/go.work files) below `tree`. `None` when the tree cannot be read.
fn memo_key(ctx: &BuildContext, cwd: &Path, args: &[String], tree: &str) -> Option<String> {
    let mut h = Sha256::new();
    let mut put = |b: &[u8]| {
        h.update(b);
        h.update([0]);
    };
    put(b"crossmatrix go list v2");
    put(crate::file_stamp(&ctx.go())?.as_bytes());
    put(format!("{ctx:?}").as_bytes());
    put(cwd.as_os_str().as_encoded_bytes());
    for a in args {
        put(a.as_bytes());
    }
    put(std::env::var("GOWORK").unwrap_or_default().as_bytes());
    put(tree.as_bytes());
    Some(format!("{:x}", h.finalize()))
}

/// Names, sizes and times of every `.go`, `go.mod` and `go.work` file below `root`, and every
/// directory name (a new package directory changes it), skipping what `go` skips for patterns
/// (`testdata`, names starting with `.` or `_`) and `vendor`.
pub fn tree_stamp(root: &Path) -> Option<String> {
    let mut h = Sha256::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir).ok()?.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name();
            let n = name.to_string_lossy();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if n.starts_with('.') || n.starts_with('_') || n == "testdata" || n == "vendor" {
                    continue;
                }
                h.update(e.path().as_os_str().as_encoded_bytes());
                h.update(b"/\0");
                stack.push(e.path());
            } else if n.ends_with(".go") || n == "go.mod" || n == "go.work" {
                let Ok(m) = e.metadata() else { continue };
                h.update(e.path().as_os_str().as_encoded_bytes());
                h.update(format!(" {} {} {}\0", m.len(), m.mtime(), m.mtime_nsec()).as_bytes());
            }
        }
    }
    Some(format!("{:x}", h.finalize()))
}
