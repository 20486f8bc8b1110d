//! `crossmatrix fetch` (and `run --fetch`): the modules a plan's builds need, downloaded once
//! per module (or workspace) and toolchain into the module cache the builds read offline.

use crossmatrix_matrix::{Cause, Plan, ProgramSource};
use crossmatrix_runner::download::{FetchError, FetchRequest, Fetched, fetch_modules};
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
