//! Keeping the cache dir bounded: the content-addressed stores (built binaries, reused cell
//! results, precompiled wasm modules) gain an entry whenever an input changes and never lose
//! one, so a CI cache saved after every nightly grows without end. Each hit stamps its entry
//! ([`touch`]: the mtime is "last used"); [`prune`] removes the entries unused for longer than
//! a given age. What other tools manage is left to them: Go trims its own GOCACHE (entries
//! unused for 5 days), the module cache is `go clean -modcache`'s, toolchains are installed on
//! request, rootfs and images are few and keyed by what they hold.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The stores [`prune`] looks after, as directories under the cache dir.
pub const STORES: &[(&str, &str)] = &[
    ("bin", "built binaries"),
    ("cells", "reused cell results"),
    ("wasm", "precompiled wasm modules"),
];

/// Marks `path` as used now (its mtime), so [`prune`] keeps it. Best effort: a read-only
/// cache only loses the stamp.
pub fn touch(path: &Path) {
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.set_modified(SystemTime::now());
    }
}

/// What [`prune`] did (or, with `dry_run`, would do) to one store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreReport {
    pub store: &'static str,
    pub what: &'static str,
    pub removed: u64,
    pub removed_bytes: u64,
    pub kept: u64,
    pub kept_bytes: u64,
}

/// Removes every file of the [`STORES`] under `cache_dir` last used (modified) more than
/// `unused_for` ago, then the directories that leaves empty. Files being written (dot-named
/// temporaries) count like any other: an interrupted store leaves one behind, and a live one is
/// seconds old.
pub fn prune(cache_dir: &Path, unused_for: Duration, dry_run: bool) -> Vec<StoreReport> {
    let cutoff = SystemTime::now()
        .checked_sub(unused_for)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    STORES
        .iter()
        .map(|(name, what)| {
            let mut report = StoreReport {
                store: name,
                what,
                ..StoreReport::default()
            };
            let root = cache_dir.join(name);
            for file in files(&root) {
                let Ok(meta) = std::fs::symlink_metadata(&file) else {
                    continue;
                };
                let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                if used < cutoff && (dry_run || std::fs::remove_file(&file).is_ok()) {
                    report.removed += 1;
                    report.removed_bytes += meta.len();
                } else {
                    report.kept += 1;
                    report.kept_bytes += meta.len();
                }
            }
            if !dry_run {
                remove_empty_dirs(&root);
            }
            report
        })
        .collect()
}

/// Every file under `root` (not following symlinks); nothing when it does not exist.
fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => pending.push(e.path()),
                Ok(_) => out.push(e.path()),
                Err(_) => {}
            }
        }
    }
    out
}

/// Removes the empty directories below `root` (deepest first), keeping `root`.
fn remove_empty_dirs(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            let p = e.path();
            remove_empty_dirs(&p);
            let _ = std::fs::remove_dir(&p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(root: &Path, rel: &str, bytes: usize, age_days: u64) -> PathBuf {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, vec![b'x'; bytes]).unwrap();
        let when = SystemTime::now() - Duration::from_secs(age_days * 86_400);
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(when)
            .unwrap();
        p
    }

    #[test]
    fn entries_unused_for_longer_than_the_age_go_and_empty_dirs_with_them() {
        let d = tempfile::tempdir().unwrap();
        let c = d.path();
        let old_bin = file(c, "bin/ab/cdef/prog", 1000, 30);
        let new_bin = file(c, "bin/12/3456/prog", 500, 1);
        let old_cell = file(c, "cells/ab/cdef.json", 10, 20);
        let used_cell = file(c, "cells/cd/ef01.json", 20, 20);
        touch(&used_cell);
        let stale_tmp = file(c, "wasm/.x.cwasm.123", 7, 15);
        let elsewhere = file(c, "go/old-gocache-entry", 5, 100);

        let dry = prune(c, Duration::from_secs(14 * 86_400), true);
        assert!(
            old_bin.exists() && old_cell.exists(),
            "a dry run removes nothing"
        );
        let report = prune(c, Duration::from_secs(14 * 86_400), false);
        assert_eq!(dry, report, "the dry run says what the real one does");
        let by = |s: &str| report.iter().find(|r| r.store == s).unwrap().clone();
        assert_eq!((by("bin").removed, by("bin").removed_bytes), (1, 1000));
        assert_eq!((by("bin").kept, by("bin").kept_bytes), (1, 500));
        assert_eq!((by("cells").removed, by("cells").kept), (1, 1));
        assert_eq!(by("wasm").removed, 1);
        assert!(
            !old_bin.exists() && !c.join("bin/ab").exists(),
            "its dirs went too"
        );
        assert!(new_bin.exists() && used_cell.exists());
        assert!(!old_cell.exists() && !stale_tmp.exists());
        assert!(
            c.join("bin").is_dir() && c.join("wasm").is_dir(),
            "stores stay"
        );
        assert!(elsewhere.exists(), "other tools' caches are theirs");
    }

    #[test]
    fn a_missing_cache_dir_prunes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let report = prune(&d.path().join("nothing"), Duration::from_secs(1), false);
        assert!(report.iter().all(|r| r.removed == 0 && r.kept == 0));
    }
}
