//! Modules and workspaces: the `go.mod` above a directory (found by walking up, as `go`
//! does), the `go.work` that applies to it, and what they say — read by the go command itself
//! (`go mod edit -json`, `go work edit -json`), so a malformed file gets Go's own message with
//! its line, and remembered while the file is unchanged.

use crossmatrix_sandbox::host as command;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const EDIT_TIMEOUT: Duration = Duration::from_secs(30);

/// A module, from its `go.mod`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// The directory holding `go.mod`.
    pub root: PathBuf,
    pub gomod: PathBuf,
    /// The module path (`github.com/BurntSushi/toml`).
    pub path: String,
    /// The `go` line (`1.22`), if any.
    pub go: Option<String>,
    /// The `toolchain` line (`go1.24.1`), if any.
    pub toolchain: Option<String>,
    /// `require`d modules, as (path, version).
    pub requires: Vec<(String, String)>,
    /// Directories that `replace` directives point at (absolute).
    pub local_replacements: Vec<PathBuf>,
    /// `vendor/modules.txt` exists: `go` builds from `vendor/` (go ≥ 1.14 modules).
    pub vendored: bool,
}

/// A workspace, from its `go.work`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub gowork: PathBuf,
    /// The directory holding `go.work`.
    pub root: PathBuf,
    pub go: Option<String>,
    pub toolchain: Option<String>,
    /// The `use`d module directories (absolute).
    pub modules: Vec<PathBuf>,
    pub local_replacements: Vec<PathBuf>,
}

/// The module (and workspace) a directory of Go source belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub module: Module,
    pub workspace: Option<Workspace>,
}

impl Project {
    /// What a build reads besides the module cache: the workspace or module root, every
    /// `use`d module and every local replacement — outermost directories only.
    pub fn roots(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = vec![self.module.root.clone()];
        dirs.extend(self.module.local_replacements.iter().cloned());
        if let Some(w) = &self.workspace {
            dirs.push(w.root.clone());
            dirs.extend(w.modules.iter().cloned());
            dirs.extend(w.local_replacements.iter().cloned());
        }
        outermost(dirs)
    }

    /// The `go` line the build obeys: the workspace's when there is one.
    pub fn go_line(&self) -> Option<&str> {
        match &self.workspace {
            Some(w) => w.go.as_deref().or(self.module.go.as_deref()),
            None => self.module.go.as_deref(),
        }
    }
}

/// `dirs` without the ones inside another, sorted, without duplicates.
pub fn outermost(mut dirs: Vec<PathBuf>) -> Vec<PathBuf> {
    dirs.sort();
    dirs.dedup();
    let mut out: Vec<PathBuf> = Vec::new();
    for d in dirs {
        if !out.iter().any(|o| d.starts_with(o)) {
            out.push(d);
        }
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    #[error("{}: {message}", file.display())]
    Malformed { file: PathBuf, message: String },
    #[error(
        "{} is in module {} ({}), which the workspace {} does not use: add it with `go work use {}` (or set GOWORK=off)",
        dir.display(), module, gomod.display(), gowork.display(), module_root.display()
    )]
    NotInWorkspace {
        dir: PathBuf,
        module: String,
        gomod: PathBuf,
        module_root: PathBuf,
        gowork: PathBuf,
    },
    #[error("GOWORK={0}: no such go.work file")]
    NoGoWork(PathBuf),
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The module and workspace of `dir` (absolute), or `None` outside any module (GOPATH-style
/// source). `go` reads the files; `gowork_env` is the user's `GOWORK` (`off`, a file, or unset
/// to look for `go.work` above the directory as `go` does).
pub fn find_project(
    dir: &Path,
    go: &Path,
    gowork_env: Option<&str>,
) -> Result<Option<Project>, ModuleError> {
    let Some(root) = dir.ancestors().find(|d| d.join("go.mod").is_file()) else {
        return Ok(None);
    };
    let module = read_module(&root.join("go.mod"), go)?;
    let gowork = match gowork_env.filter(|s| !s.is_empty()) {
        Some("off") => None,
        Some(file) => {
            let p = PathBuf::from(file);
            if !p.is_file() {
                return Err(ModuleError::NoGoWork(p));
            }
            Some(p)
        }
        None => dir
            .ancestors()
            .map(|d| d.join("go.work"))
            .find(|f| f.is_file()),
    };
    let workspace = match gowork {
        Some(f) => Some(read_workspace(&f, go)?),
        None => None,
    };
    if let Some(w) = &workspace {
        if !w.modules.contains(&module.root) {
            return Err(ModuleError::NotInWorkspace {
                dir: dir.to_path_buf(),
                module: module.path.clone(),
                gomod: module.gomod.clone(),
                module_root: module.root.clone(),
                gowork: w.gowork.clone(),
            });
        }
    }
    Ok(Some(Project { module, workspace }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ModFile {
    module: Option<ModPath>,
    go: Option<String>,
    toolchain: Option<ModToolchain>,
    #[serde(default, deserialize_with = "null_as_empty")]
    require: Vec<ModVersion>,
    #[serde(default, deserialize_with = "null_as_empty")]
    replace: Vec<ModReplace>,
}

/// `go mod edit -json` writes `null` for an absent list.
fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ModPath {
    path: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ModToolchain {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ModVersion {
    path: String,
    #[serde(default)]
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ModReplace {
    new: ModVersion,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WorkFile {
    go: Option<String>,
    toolchain: Option<ModToolchain>,
    #[serde(default, rename = "Use", deserialize_with = "null_as_empty")]
    uses: Vec<WorkUse>,
    #[serde(default, deserialize_with = "null_as_empty")]
    replace: Vec<ModReplace>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WorkUse {
    disk_path: String,
}

/// Local directories that replacements point at (`=> ../x`), resolved against `base`.
fn local_dirs(replace: &[ModReplace], base: &Path) -> Vec<PathBuf> {
    replace
        .iter()
        .filter(|r| r.new.version.is_empty())
        .map(|r| absolute(base, &r.new.path))
        .collect()
}

fn absolute(base: &Path, p: &str) -> PathBuf {
    let joined = base.join(p);
    std::fs::canonicalize(&joined).unwrap_or(joined)
}

/// `go.mod` as `go mod edit -json` reads it.
pub fn read_module(gomod: &Path, go: &Path) -> Result<Module, ModuleError> {
    let text = edit_json(go, &["mod", "edit", "-json"], gomod)?;
    let f: ModFile = serde_json::from_str(&text).map_err(|e| ModuleError::Malformed {
        file: gomod.to_path_buf(),
        message: format!("`go mod edit -json` printed what crossmatrix cannot read: {e}"),
    })?;
    let root = gomod.parent().map(Path::to_path_buf).unwrap_or_default();
    let path = f
        .module
        .map(|m| m.path)
        .ok_or_else(|| ModuleError::Malformed {
            file: gomod.to_path_buf(),
            message: "no module directive: add `module example.com/name` at the top".into(),
        })?;
    Ok(Module {
        vendored: root.join("vendor/modules.txt").is_file(),
        local_replacements: local_dirs(&f.replace, &root),
        root,
        gomod: gomod.to_path_buf(),
        path,
        go: f.go,
        toolchain: f.toolchain.map(|t| t.name),
        requires: f.require.into_iter().map(|r| (r.path, r.version)).collect(),
    })
}

/// `go.work` as `go work edit -json` reads it.
pub fn read_workspace(gowork: &Path, go: &Path) -> Result<Workspace, ModuleError> {
    let text = edit_json(go, &["work", "edit", "-json"], gowork)?;
    let f: WorkFile = serde_json::from_str(&text).map_err(|e| ModuleError::Malformed {
        file: gowork.to_path_buf(),
        message: format!("`go work edit -json` printed what crossmatrix cannot read: {e}"),
    })?;
    let root = gowork.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(Workspace {
        modules: f
            .uses
            .iter()
            .map(|u| absolute(&root, &u.disk_path))
            .collect(),
        local_replacements: local_dirs(&f.replace, &root),
        gowork: gowork.to_path_buf(),
        root,
        go: f.go,
        toolchain: f.toolchain.map(|t| t.name),
    })
}

/// Runs `go <args> FILE` (remembered while the file and `go` are the same files).
fn edit_json(go: &Path, args: &[&str], file: &Path) -> Result<String, ModuleError> {
    let file_str = file.to_string_lossy();
    let mut key: Vec<&str> = args.to_vec();
    key.push(&file_str);
    let mut failure = None;
    let answer = crossmatrix_toolchains::facts::remembered(go, &key, &[file], || {
        let mut cmd = Command::new(go);
        cmd.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", "")
            .env("GOWORK", "off")
            .env("HOME", std::env::temp_dir())
            .current_dir(file.parent().unwrap_or(Path::new("/")))
            .args(args)
            .arg(file);
        match command::run(&mut cmd, EDIT_TIMEOUT) {
            Ok(out) if out.status.success() => Some(out.stdout_str()),
            Ok(out) => {
                failure = Some(ModuleError::Malformed {
                    file: file.to_path_buf(),
                    message: go_message(&String::from_utf8_lossy(&out.stderr)),
                });
                None
            }
            Err(e) => {
                failure = Some(ModuleError::Malformed {
                    file: file.to_path_buf(),
                    message: format!("cannot run {}: {e}", go.display()),
                });
                None
            }
        }
    });
    match (answer, failure) {
        (Some(t), _) => Ok(t),
        (None, Some(e)) => Err(e),
        (None, None) => Err(ModuleError::Io {
            path: file.to_path_buf(),
            source: std::io::Error::other("no answer"),
        }),
    }
}

/// Go's error text without its `go: ` prefix and blank lines.
fn go_message(stderr: &str) -> String {
    stderr
        .lines()
        .map(|l| l.trim_start_matches("go: ").trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outermost_dirs_only() {
        let d = |s: &str| PathBuf::from(s);
        assert_eq!(
            outermost(vec![d("/w/a"), d("/w"), d("/x/b"), d("/w/a/c"), d("/x/b")]),
            [d("/w"), d("/x/b")]
        );
    }
}
