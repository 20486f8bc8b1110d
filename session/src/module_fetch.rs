//! `crossmatrix fetch` (and `run --fetch`): the modules a plan's builds need, downloaded once
//! per module (or workspace) and toolchain into the module cache the builds read offline.

use crossmatrix_matrix::{Cause, Plan, ProgramSource};
use crossmatrix_project::module::{ModuleError, find_project};
use crossmatrix_runner::download::{FetchError, FetchRequest, Fetched, fetch_modules};
use crossmatrix_toolchains::go::GoToolchain;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// One module (or workspace) to fetch with one toolchain.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FetchUnit {
    /// Where `go mod download` runs.
    pub dir: PathBuf,
    pub roots: Vec<PathBuf>,
    pub workspace: Option<PathBuf>,
    pub goroot: PathBuf,
    pub go_version: String,
}

/// The fetches `plan` needs: one per module (or workspace) and toolchain of a cell that will
/// build a module's package with dependencies from the module cache (not vendored, not skipped
/// for an old toolchain).
pub fn fetch_units(plan: &Plan) -> Vec<FetchUnit> {
    let mut units = BTreeSet::new();
    for c in &plan.cells {
        let ProgramSource::Package(gp) = &c.program.source else {
            continue;
        };
        if gp.vendored
            || c.skip
                .as_ref()
                .is_some_and(|s| s.cause == Cause::ToolchainTooOld)
        {
            continue;
        }
        let dir = match &gp.workspace {
            Some(w) => w.parent().map(Path::to_path_buf).unwrap_or_default(),
            None => gp
                .module
                .gomod
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
        };
        units.insert(FetchUnit {
            dir,
            roots: gp.roots.clone(),
            workspace: gp.workspace.clone(),
            goroot: c.toolchain.goroot.clone(),
            go_version: c.toolchain.version.clone(),
        });
    }
    units.into_iter().collect()
}

/// The fetches for the Go source at `paths` (directories, `.go` files, `DIR/...` patterns, as
/// given on the command line), found without listing a package: the module (or workspace)
/// above each, with each of `toolchains`. Libraries and commands alike, pruned and unpruned
/// module graphs alike (`go mod download` fetches the whole graph). `gowork` is the user's
/// `GOWORK`.
pub fn fetch_units_for_paths(
    paths: &[PathBuf],
    toolchains: &[GoToolchain],
    gowork: Option<&str>,
) -> Result<Vec<FetchUnit>, FetchPathError> {
    let mut units = BTreeSet::new();
    for p in paths {
        let text = p.to_string_lossy();
        let base =
            Path::new(
                text.strip_suffix("/...")
                    .unwrap_or(if text == "..." { "." } else { &text }),
            )
            .to_path_buf();
        let dir = if base.is_file() {
            base.parent().map(Path::to_path_buf).unwrap_or_default()
        } else {
            base.clone()
        };
        let dir = std::fs::canonicalize(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &dir
        })
        .map_err(|source| FetchPathError::NoSuchPath {
            path: p.clone(),
            source,
        })?;
        for tc in toolchains {
            let project = find_project(&dir, &tc.go, gowork)?;
            let Some(project) = project else {
                // GOPATH-style source: nothing comes from the module cache.
                continue;
            };
            let (at, workspace) = match &project.workspace {
                Some(w) => (w.root.clone(), Some(w.gowork.clone())),
                None => (project.module.root.clone(), None),
            };
            units.insert(FetchUnit {
                dir: at,
                roots: project.roots(),
                workspace,
                goroot: tc.goroot.clone(),
                go_version: tc.version.clone(),
            });
        }
    }
    Ok(units.into_iter().collect())
}

/// A path given to `fetch` that cannot be fetched for.
#[derive(Debug, thiserror::Error)]
pub enum FetchPathError {
    #[error("{}: {source}", path.display())]
    NoSuchPath {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Module(#[from] ModuleError),
}

/// Runs every fetch of `units`, calling `report` after each; returns how many failed.
pub fn fetch_all(
    units: &[FetchUnit],
    bwrap: &Path,
    modcache: &Path,
    cache_dir: &Path,
    mut report: impl FnMut(&FetchUnit, &Result<Fetched, FetchError>),
) -> usize {
    let mut failed = 0;
    for u in units {
        let r = fetch_modules(&FetchRequest {
            bwrap: bwrap.to_path_buf(),
            goroot: u.goroot.clone(),
            go_version: u.go_version.clone(),
            dir: u.dir.clone(),
            roots: u.roots.clone(),
            workspace: u.workspace.clone(),
            modcache: modcache.to_path_buf(),
            cache_dir: cache_dir.to_path_buf(),
        });
        if r.is_err() {
            failed += 1;
        }
        report(u, &r);
    }
    failed
}
