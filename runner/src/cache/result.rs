//! Results of cells whose every input is unchanged: a warm re-run reuses a passing cell's
//! verification run and startup figures instead of running and timing the same binary in the
//! same sandbox on the same machine again (as Bazel reuses a passing test's result).
//!
//! What the key covers is `Runner::result_key`: the binary's content, the executor and its
//! files, the sandbox (mounts, environment, limits), the rootfs tree, the run settings (args,
//! stdin, expectation, timeout, reps, warm-ups, timing mode), crossmatrix itself, and the
//! machine *in this boot* (`/proc/sys/kernel/random/boot_id`, cores): timings measured on
//! another machine or before a reboot are never reused. Only passing cells whose timing ran to
//! the end are kept; a failure always runs again. `run --rerun` runs every cell again (and
//! keeps the new results).

use crossmatrix_results::{CellRecord, now_rfc3339};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Rootfs trees with more entries than this are not stamped (and their cells not reused).
const MAX_TREE_ENTRIES: usize = 200_000;

#[derive(Serialize, Deserialize)]
struct Entry {
    /// When the reused figures were measured (RFC 3339 UTC).
    measured_at: String,
    record: CellRecord,
}

pub struct ResultCache {
    dir: PathBuf,
    /// False with `--rerun`: nothing is looked up (results are still kept).
    lookup: bool,
    trees: Mutex<HashMap<PathBuf, Option<String>>>,
}

impl ResultCache {
    pub fn new(dir: PathBuf, lookup: bool) -> ResultCache {
        ResultCache {
            dir,
            lookup,
            trees: Mutex::new(HashMap::new()),
        }
    }

    fn entry(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(format!("{}.json", &key[2..]))
    }

    /// The earlier record for `key` and when it was measured, unless looking up is off or
    /// there is none (an unreadable or foreign entry is a miss).
    pub fn load(&self, key: &str) -> Option<(CellRecord, String)> {
        if !self.lookup {
            return None;
        }
        let path = self.entry(key);
        let text = std::fs::read(&path).ok()?;
        let e: Entry = serde_json::from_slice(&text).ok()?;
        crate::cache::prune::touch(&path);
        Some((e.record, e.measured_at))
    }

    /// Keeps `rec` under `key` (atomically: a concurrent reader sees the old entry or the
    /// new one). Failures only cost a future miss.
    pub fn store(&self, key: &str, rec: &CellRecord) {
        let dest = self.entry(key);
        let Some(parent) = dest.parent() else { return };
        if std::fs::create_dir_all(parent).is_err() {
            return;
        }
        let entry = Entry {
            measured_at: now_rfc3339(),
            record: rec.clone(),
        };
        let Ok(text) = serde_json::to_vec(&entry) else {
            return;
        };
        let Ok(mut tmp) = tempfile::Builder::new()
            .prefix(&format!(".{}.", &key[2..]))
            .tempfile_in(parent)
        else {
            return;
        };
        // Readable like any file written here (a temp file starts private).
        let readable = std::os::unix::fs::PermissionsExt::from_mode(0o644);
        if std::io::Write::write_all(&mut tmp, &text).is_ok()
            && tmp.as_file().set_permissions(readable).is_ok()
        {
            let _ = tmp.persist(&dest);
        }
    }

    /// A stamp of every entry under `root` (names, kinds, sizes, modes, mtimes, link targets),
    /// memoized per run; `None` when the tree is unreadable or too big.
    pub fn tree_stamp(&self, root: &Path) -> Option<String> {
        if let Some(s) = self.trees.lock().ok()?.get(root) {
            return s.clone();
        }
        let s = stamp_tree(root);
        if let Ok(mut m) = self.trees.lock() {
            m.insert(root.to_path_buf(), s.clone());
        }
        s
    }
}

fn stamp_tree(root: &Path) -> Option<String> {
    let mut h = Sha256::new();
    let mut stack = vec![root.to_path_buf()];
    let mut n = 0usize;
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .ok()?
            .collect::<Result<Vec<_>, _>>()
            .ok()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            n += 1;
            if n > MAX_TREE_ENTRIES {
                return None;
            }
            let path = e.path();
            let m = std::fs::symlink_metadata(&path).ok()?;
            h.update(path.strip_prefix(root).ok()?.as_os_str().as_encoded_bytes());
            h.update(
                format!(
                    "\0{:o} {} {} {}\0",
                    m.mode(),
                    m.len(),
                    m.mtime(),
                    m.mtime_nsec()
                )
                .as_bytes(),
            );
            if m.file_type().is_symlink() {
                h.update(
                    std::fs::read_link(&path)
                        .ok()?
                        .as_os_str()
                        .as_encoded_bytes(),
                );
            } else if m.is_dir() {
                stack.push(path);
            }
        }
    }
    Some(format!("{:x}", h.finalize()))
}

/// This machine in this boot: results measured elsewhere or before a reboot never match.
pub fn machine_identity() -> String {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("boot {} cores {cores}", boot.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossmatrix_results::{BuildRecord, CellStatus, StepStatus, TargetInfo, ToolchainInfo};

    fn record(id: &str) -> CellRecord {
        CellRecord {
            schema: crossmatrix_results::SCHEMA_VERSION,
            id: id.into(),
            toolchain: ToolchainInfo {
                name: "go1.24".into(),
                version: "go1.24.4".into(),
                goroot: "/usr/lib/go-1.24".into(),
                out_of_support: None,
            },
            target: TargetInfo {
                goos: "linux".into(),
                goarch: "arm64".into(),
                variant: None,
            },
            cgo: 0,
            libc: None,
            rootfs: "scratch".into(),
            emulator: None,
            program: "probe".into(),
            build: BuildRecord {
                status: StepStatus::Ok,
                duration_ms: 3,
                cause: None,
                hint: None,
                log_tail: String::new(),
                cc: None,
                cached: true,
            },
            binary: None,
            run: None,
            startup: None,
            instructions: None,
            uncounted: None,
            status: CellStatus::Pass,
            cause: None,
            hint: None,
            inputs_hash: String::new(),
            finished_at: String::new(),
            reused_from: None,
            package: None,
            tests: None,
            image: None,
        }
    }

    #[test]
    fn a_stored_record_is_found_under_its_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ResultCache::new(dir.path().to_path_buf(), true);
        let rec = record("go1.24/linux-arm64/cgo0/rootfs-scratch/probe");
        let key = "ab".repeat(32);
        assert!(cache.load(&key).is_none());
        cache.store(&key, &rec);
        let (got, at) = cache.load(&key).expect("stored entry");
        assert_eq!(got, rec);
        assert!(at.ends_with('Z'), "{at}");
        assert!(cache.load(&"cd".repeat(32)).is_none());
    }

    #[test]
    fn rerun_looks_nothing_up_but_keeps_results() {
        let dir = tempfile::tempdir().unwrap();
        let rerun = ResultCache::new(dir.path().to_path_buf(), false);
        let rec = record("x");
        let key = "ef".repeat(32);
        rerun.store(&key, &rec);
        assert!(rerun.load(&key).is_none());
        let later = ResultCache::new(dir.path().to_path_buf(), true);
        assert_eq!(later.load(&key).map(|(r, _)| r), Some(rec));
    }

    #[test]
    fn a_corrupt_entry_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ResultCache::new(dir.path().to_path_buf(), true);
        let key = "01".repeat(32);
        cache.store(&key, &record("x"));
        std::fs::write(cache.entry(&key), b"{\"measured_at\": 3").unwrap();
        assert!(cache.load(&key).is_none());
    }

    #[test]
    fn the_tree_stamp_changes_with_any_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("lib")).unwrap();
        std::fs::write(root.join("lib/libc.so.6"), b"one").unwrap();
        std::os::unix::fs::symlink("lib", root.join("lib64")).unwrap();
        let a = stamp_tree(&root).unwrap();
        assert_eq!(stamp_tree(&root).unwrap(), a, "stable");
        std::fs::write(root.join("lib/libc.so.6"), b"other").unwrap();
        let b = stamp_tree(&root).unwrap();
        assert_ne!(a, b, "content size changed");
        std::fs::remove_file(root.join("lib64")).unwrap();
        std::os::unix::fs::symlink("usr/lib", root.join("lib64")).unwrap();
        assert_ne!(stamp_tree(&root).unwrap(), b, "link target changed");
        assert!(stamp_tree(&dir.path().join("missing")).is_none());
    }

    #[test]
    fn the_tree_stamp_is_memoized_per_run() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ResultCache::new(dir.path().join("cells"), true);
        std::fs::write(dir.path().join("f"), b"1").unwrap();
        let a = cache.tree_stamp(dir.path()).unwrap();
        std::fs::write(dir.path().join("g"), b"2").unwrap();
        assert_eq!(cache.tree_stamp(dir.path()).unwrap(), a);
    }
}
