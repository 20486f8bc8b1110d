//! The bottom of the crate: where crossmatrix keeps things on this machine (its cache, the
//! toolchains `crossmatrix toolchain install` put there) and which GOARCH the machine is.
//! It imports only [`crate::version`]'s ordering, so every other module may use it.

use crate::version::compare_go_versions;
use std::path::{Path, PathBuf};

/// crossmatrix's cache: `$CROSSMATRIX_CACHE`, else `$XDG_CACHE_HOME/crossmatrix`, else
/// `~/.cache/crossmatrix`.
pub fn default_cache_dir() -> PathBuf {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(x) = var("CROSSMATRIX_CACHE") {
        return PathBuf::from(x);
    }
    if let Some(x) = var("XDG_CACHE_HOME") {
        return PathBuf::from(x).join("crossmatrix");
    }
    if let Some(h) = var("HOME") {
        return PathBuf::from(h).join(".cache/crossmatrix");
    }
    std::env::temp_dir().join("crossmatrix-cache")
}

/// Where installed toolchains live: `<default cache>/toolchains`.
pub fn default_toolchains_dir() -> PathBuf {
    default_cache_dir().join("toolchains")
}

/// The complete installs under `dir` (GOROOTs named `go…` holding `bin/go`), sorted by
/// version. Staging dirs and lock files are not installs.
pub fn installed_toolchains(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(String, PathBuf)> = rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let p = e.path();
            (name.starts_with("go") && !name.ends_with(".lock") && p.join("bin/go").is_file())
                .then_some((name, p))
        })
        .collect();
    found.sort_by(|a, b| compare_go_versions(&a.0, &b.0));
    found.into_iter().map(|(_, p)| p).collect()
}

/// The GOARCH of the machine this runs on.
pub fn host_goarch() -> &'static str {
    crossmatrix_matrix::goarch_for_machine(
        std::env::consts::ARCH,
        Some(cfg!(target_endian = "little")),
    )
}
