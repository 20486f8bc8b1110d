//! `crossmatrix fetch` (and `run --fetch`): plan, then download each module set once.

use crate::cli::{FetchArgs, ModuleArgs};
use anyhow::{Result, anyhow};
use crossmatrix_matrix::Plan;
use crossmatrix_session::module_fetch::{FetchUnit, fetch_all, fetch_units, fetch_units_for_paths};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn fetch(a: FetchArgs) -> Result<ExitCode> {
    if let Some(dir) = &a.cache_dir {
        // SAFETY: no other thread runs yet.
        unsafe { std::env::set_var("CROSSMATRIX_CACHE", dir) };
    }
    let cache_dir = crossmatrix_toolchains::default_cache_dir();
    let mut req = a.matrix.request("auto")?;
    // Paths named: their modules, found without listing a package (libraries too, and
    // module graphs `go list` could not load before the fetch). None: the config's programs.
    let failed = if req.programs.is_empty() {
        req.modcache = Some(a.modules.module_cache(&cache_dir));
        let planned = crossmatrix_session::make_plan(&req)?;
        fetch_plan(&planned.plan, &a.modules, &cache_dir)?
    } else {
        fetch_paths(&req.programs, &req.toolchains, &a.modules, &cache_dir)?
    };
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Fetches for the Go source at `paths` (directories, files, `DIR/...`) with the toolchains
/// `wanted` names (Go's supported releases found here when none), one line per module set;
/// returns how many failed.
pub fn fetch_paths(
    paths: &[PathBuf],
    wanted: &[String],
    modules: &ModuleArgs,
    cache_dir: &Path,
) -> Result<usize> {
    let found = crossmatrix_toolchains::discover_go();
    let toolchains = crossmatrix_toolchains::go::select_toolchains(wanted, &found)?;
    let gowork = std::env::var("GOWORK").ok();
    let units = fetch_units_for_paths(paths, &toolchains, gowork.as_deref())?;
    if units.is_empty() {
        eprintln!("fetch: no module above the paths given: nothing comes from the module cache");
        return Ok(0);
    }
    fetch_units_now(&units, modules, cache_dir)
}

/// Fetches what `plan` needs, one line per module set; returns how many failed.
pub fn fetch_plan(plan: &Plan, modules: &ModuleArgs, cache_dir: &Path) -> Result<usize> {
    let units = fetch_units(plan);
    if units.is_empty() {
        let too_old = plan.cells.iter().any(|c| {
            c.skip
                .as_ref()
                .is_some_and(|s| s.cause == crossmatrix_matrix::Cause::ToolchainTooOld)
        });
        if too_old {
            eprintln!(
                "fetch: nothing to fetch: every cell that needs modules is skipped because its toolchain is older than the module's go line (crossmatrix plan shows them)"
            );
        } else {
            eprintln!("fetch: no program of the matrix needs modules from the module cache");
        }
        return Ok(0);
    }
    fetch_units_now(&units, modules, cache_dir)
}

/// Runs the fetches of `units`, one line each and a summary; returns how many failed.
fn fetch_units_now(units: &[FetchUnit], modules: &ModuleArgs, cache_dir: &Path) -> Result<usize> {
    let modcache = modules.module_cache(cache_dir);
    let bwrap = which::which("bwrap").map_err(|_| {
        anyhow!("bubblewrap (bwrap) is not installed: apt-get install bubblewrap (or run ci/setup)")
    })?;
    let failed = fetch_all(units, &bwrap, &modcache, cache_dir, |u, r| match r {
        Ok(f) if f.up_to_date => eprintln!(
            "up to date  {} with {}: {} module(s) in {}",
            u.dir.display(),
            u.go_version,
            f.modules,
            modcache.display()
        ),
        Ok(f) => eprintln!(
            "fetched     {} with {}: {} module(s) in {:.1} s",
            u.dir.display(),
            u.go_version,
            f.modules,
            f.duration.as_secs_f64()
        ),
        Err(e) => eprintln!("FAILED      {e}"),
    });
    eprintln!(
        "fetch: {} module set(s), {} failed; module cache {}",
        units.len(),
        failed,
        modcache.display()
    );
    Ok(failed)
}
