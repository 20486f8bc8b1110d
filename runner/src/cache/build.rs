//! A content-addressed cache of built binaries, so a warm re-run with nothing changed skips
//! `go build` altogether (even a no-op `go build -o` hashes every input and relinks: ~0.3–1 s
//! per cell). Keys hash everything the sandboxed build sees (see `Runner::build_key`); the
//! source part is hashed once per directory per run.

use crate::cache::hash_file;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Source trees bigger than this are not hashed (and their cells not cached): hashing would
/// cost more than it saves.
const MAX_SOURCE_FILES: usize = 20_000;
const MAX_SOURCE_BYTES: u64 = 512 << 20;

/// Which files of a program's directory its build can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceScope {
    /// The whole tree (a package dir: it may import the module's other packages).
    Tree,
    /// The directory's own files (a single `.go` file: go.mod, embeds and C files beside it).
    Flat,
}

pub struct BuildCache {
    dir: PathBuf,
    sources: Mutex<HashMap<(PathBuf, SourceScope), Option<String>>>,
}

impl BuildCache {
    pub fn new(dir: PathBuf) -> BuildCache {
        BuildCache {
            dir,
            sources: Mutex::new(HashMap::new()),
        }
    }

    fn entry(&self, key: &str, exe_name: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(&key[2..32]).join(exe_name)
    }

    /// Copies the cached binary for `key` to `dest`. False on a miss. (Copies, not hard links:
    /// the binaries in OUT are the user's to strip or edit, and must not alter the cache.)
    pub fn fetch(&self, key: &str, exe_name: &str, dest: &Path) -> bool {
        let src = self.entry(key, exe_name);
        if !src.is_file() {
            return false;
        }
        let _ = std::fs::remove_file(dest);
        let hit = std::fs::copy(&src, dest).is_ok();
        if hit {
            crate::cache::prune::touch(&src);
        }
        hit
    }

    /// Keeps a copy of `binary` under `key` (atomically). Failures only cost a future miss.
    pub fn store(&self, key: &str, exe_name: &str, binary: &Path) {
        let dest = self.entry(key, exe_name);
        let Some(parent) = dest.parent() else { return };
        if dest.is_file() || std::fs::create_dir_all(parent).is_err() {
            return;
        }
        // A temp file of its own (not named by pid: two threads may store at once), renamed
        // into place; dropped unpersisted on any error.
        let Ok(tmp) = tempfile::Builder::new()
            .prefix(&format!(".{exe_name}."))
            .tempfile_in(parent)
        else {
            return;
        };
        if std::fs::copy(binary, tmp.path()).is_err() {
            return;
        }
        let _ = tmp.persist(&dest);
    }

    /// The hash of the source files under `dir`, memoized per run; `None` when the tree is
    /// too big or unreadable.
    pub fn source_hash(&self, dir: &Path, scope: SourceScope) -> Option<String> {
        let key = (dir.to_path_buf(), scope);
        if let Some(h) = self.sources.lock().ok()?.get(&key) {
            return h.clone();
        }
        let h = hash_tree(dir, scope);
        if let Ok(mut m) = self.sources.lock() {
            m.insert(key, h.clone());
        }
        h
    }
}

/// Hashes names, kinds and contents of the files under `root` (sorted, `.git` skipped).
fn hash_tree(root: &Path, scope: SourceScope) -> Option<String> {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    let mut bytes = 0u64;
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).ok()? {
            let e = e.ok()?;
            let t = e.file_type().ok()?;
            let name = e.file_name();
            if t.is_dir() {
                if scope == SourceScope::Tree && name != ".git" {
                    stack.push(e.path());
                }
            } else {
                if t.is_file() {
                    bytes += e.metadata().ok()?.len();
                }
                files.push(e.path());
            }
            if files.len() > MAX_SOURCE_FILES || bytes > MAX_SOURCE_BYTES {
                return None;
            }
        }
    }
    files.sort();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    for f in &files {
        let rel = f.strip_prefix(root).ok()?;
        h.update(rel.as_os_str().as_encoded_bytes());
        h.update([0]);
        let meta = std::fs::symlink_metadata(f).ok()?;
        if meta.file_type().is_symlink() {
            h.update(b"link:");
            h.update(std::fs::read_link(f).ok()?.as_os_str().as_encoded_bytes());
        } else if meta.is_file() {
            hash_file(&mut h, f, &mut buf)?;
        }
        h.update([0xff]);
    }
    Some(format!("{:x}", h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_hash_follows_content_and_scope() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("main.go"), "package main").unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/x.go"), "package sub").unwrap();
        let a = hash_tree(d.path(), SourceScope::Tree).unwrap();
        let flat = hash_tree(d.path(), SourceScope::Flat).unwrap();
        assert_ne!(a, flat, "flat ignores subdirectories");
        std::fs::write(d.path().join("sub/x.go"), "package sub // changed").unwrap();
        let b = hash_tree(d.path(), SourceScope::Tree).unwrap();
        assert_ne!(a, b, "a changed file in the tree changes the hash");
        assert_eq!(flat, hash_tree(d.path(), SourceScope::Flat).unwrap());
        // .git is not source.
        std::fs::create_dir(d.path().join(".git")).unwrap();
        std::fs::write(d.path().join(".git/HEAD"), "ref").unwrap();
        assert_eq!(b, hash_tree(d.path(), SourceScope::Tree).unwrap());
    }

    #[test]
    fn store_then_fetch_round_trips() {
        let d = tempfile::tempdir().unwrap();
        let cache = BuildCache::new(d.path().join("cache"));
        let key = "ab".repeat(32);
        let bin = d.path().join("probe");
        std::fs::write(&bin, b"\x7fELF...").unwrap();
        let dest = d.path().join("out-probe");
        assert!(
            !cache.fetch(&key, "probe", &dest),
            "a miss before the store"
        );
        cache.store(&key, "probe", &bin);
        assert!(cache.fetch(&key, "probe", &dest));
        assert_eq!(std::fs::read(&dest).unwrap(), b"\x7fELF...");
        // Fetching over an existing file replaces it.
        assert!(cache.fetch(&key, "probe", &dest));
        assert!(!cache.fetch(&"cd".repeat(32), "probe", &dest));
    }
}
