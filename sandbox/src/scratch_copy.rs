//! A throwaway writable copy of a directory: bound over the read-only original in a sandbox,
//! it lets a program write next to its files (as a test does under `go test`, which runs in the
//! package's own directory) while the original is never modified; afterwards it tells what was
//! created, modified or removed, and vanishes with the value.
//!
//! A copy rather than an overlay: bubblewrap's `--overlay-src` needs 0.9 (Debian 12 has 0.8),
//! and an overlayfs mounted inside the sandbox would need a helper holding `CAP_SYS_ADMIN` in
//! its user namespace. Package directories are small; a directory above the cap is not copied.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// How one entry changed in the copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    Created,
    Modified,
    Removed,
}

/// What an entry was when copied: a directory, or a file's length and modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dir: bool,
    len: u64,
    mtime_ns: i128,
}

fn stamp(m: &std::fs::Metadata) -> Stamp {
    Stamp {
        dir: m.is_dir(),
        len: if m.is_dir() { 0 } else { m.len() },
        mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
    }
}

/// Why a directory was not copied.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("{} holds more than {} MiB", dir.display(), cap >> 20)]
    TooLarge { dir: PathBuf, cap: u64 },
    #[error("cannot copy {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A writable copy of a directory, removed on drop.
pub struct ScratchCopy {
    tmp: tempfile::TempDir,
    /// Every entry of the copy right after copying, by its path relative to the copy.
    before: BTreeMap<PathBuf, Stamp>,
}

impl ScratchCopy {
    /// Copies `src` (files, directories and symlinks; modes kept) into a new temporary
    /// directory, unless its files add up to more than `cap` bytes.
    pub fn of(src: &Path, cap: u64) -> Result<ScratchCopy, CopyError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CopyError::Io { path, source }
        };
        let mut total = 0u64;
        let mut entries = Vec::new();
        walk(src, Path::new(""), &mut entries).map_err(io(src))?;
        for (_, m) in &entries {
            if m.is_file() {
                total += m.len();
                if total > cap {
                    return Err(CopyError::TooLarge {
                        dir: src.to_path_buf(),
                        cap,
                    });
                }
            }
        }
        let tmp = tempfile::Builder::new()
            .prefix("crossmatrix-src-")
            .tempdir()
            .map_err(io(Path::new("a temporary directory")))?;
        let root_mode = std::fs::metadata(src).map_err(io(src))?.permissions();
        for (rel, m) in &entries {
            let (from, to) = (src.join(rel), tmp.path().join(rel));
            if m.file_type().is_symlink() {
                let target = std::fs::read_link(&from).map_err(io(&from))?;
                std::os::unix::fs::symlink(target, &to).map_err(io(&to))?;
            } else if m.is_dir() {
                std::fs::create_dir(&to).map_err(io(&to))?;
            } else if m.is_file() {
                std::fs::copy(&from, &to).map_err(io(&from))?;
            }
        }
        // Directory modes last: a read-only directory is filled before it closes.
        for (rel, m) in entries.iter().rev() {
            if m.is_dir() {
                let to = tmp.path().join(rel);
                std::fs::set_permissions(&to, m.permissions()).map_err(io(&to))?;
            }
        }
        std::fs::set_permissions(tmp.path(), root_mode).map_err(io(tmp.path()))?;
        let before = snapshot(tmp.path());
        Ok(ScratchCopy { tmp, before })
    }

    /// The copy, to bind read-write over the original.
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// What changed in the copy since it was made, sorted by path (a changed directory is not
    /// listed for the entries created or removed in it).
    pub fn changes(&self) -> Vec<(PathBuf, Change)> {
        let after = snapshot(self.tmp.path());
        let mut out = Vec::new();
        for (rel, now) in &after {
            match self.before.get(rel) {
                None => out.push((rel.clone(), Change::Created)),
                Some(was) if !now.dir && was != now => out.push((rel.clone(), Change::Modified)),
                Some(was) if now.dir != was.dir => out.push((rel.clone(), Change::Modified)),
                Some(_) => {}
            }
        }
        for rel in self.before.keys() {
            if !after.contains_key(rel) {
                out.push((rel.clone(), Change::Removed));
            }
        }
        out.sort();
        out
    }
}

impl Drop for ScratchCopy {
    /// Opens every directory (a copied or test-made read-only one would keep its entries)
    /// before the temporary directory is removed.
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        let mut entries = Vec::new();
        let _ = walk(self.tmp.path(), Path::new(""), &mut entries);
        for (rel, m) in entries {
            if m.is_dir() && m.permissions().mode() & 0o700 != 0o700 {
                let p = self.tmp.path().join(rel);
                let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700));
            }
        }
        let _ = std::fs::set_permissions(self.tmp.path(), std::fs::Permissions::from_mode(0o700));
    }
}

/// Every entry below `dir` (not following symlinks), parents before children.
fn walk(
    dir: &Path,
    rel: &Path,
    out: &mut Vec<(PathBuf, std::fs::Metadata)>,
) -> std::io::Result<()> {
    let mut names: Vec<_> = std::fs::read_dir(dir.join(rel))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort();
    for name in names {
        let r = rel.join(&name);
        let m = std::fs::symlink_metadata(dir.join(&r))?;
        let is_dir = m.is_dir();
        out.push((r.clone(), m));
        if is_dir {
            walk(dir, &r, out)?;
        }
    }
    Ok(())
}

/// The stamps of every entry below `dir`; an entry that cannot be read is left out.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Stamp> {
    let mut entries = Vec::new();
    // A test may leave a directory it cannot read; list what can be read.
    let _ = walk(dir, Path::new(""), &mut entries);
    entries
        .into_iter()
        .map(|(rel, m)| (rel, stamp(&m)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.go"), "package a\n").unwrap();
        std::fs::create_dir(d.path().join("testdata")).unwrap();
        std::fs::write(d.path().join("testdata/in.txt"), "in").unwrap();
        std::os::unix::fs::symlink("testdata/in.txt", d.path().join("link")).unwrap();
        d
    }

    #[test]
    fn the_copy_has_everything_and_lists_what_changed_without_touching_the_original() {
        let src = tree();
        let c = ScratchCopy::of(src.path(), 1 << 20).unwrap();
        let p = c.path();
        assert_eq!(
            std::fs::read_to_string(p.join("testdata/in.txt")).unwrap(),
            "in"
        );
        assert_eq!(
            std::fs::read_link(p.join("link")).unwrap(),
            PathBuf::from("testdata/in.txt")
        );
        assert!(c.changes().is_empty());
        std::fs::create_dir(p.join("out")).unwrap();
        std::fs::write(p.join("out/x"), "x").unwrap();
        std::fs::write(p.join("a.go"), "package a // edited\n").unwrap();
        std::fs::remove_file(p.join("testdata/in.txt")).unwrap();
        assert_eq!(
            c.changes(),
            vec![
                (PathBuf::from("a.go"), Change::Modified),
                (PathBuf::from("out"), Change::Created),
                (PathBuf::from("out/x"), Change::Created),
                (PathBuf::from("testdata/in.txt"), Change::Removed),
            ]
        );
        assert_eq!(
            std::fs::read_to_string(src.path().join("a.go")).unwrap(),
            "package a\n"
        );
        assert!(src.path().join("testdata/in.txt").exists());
        assert!(!src.path().join("out").exists());
        let gone = p.to_path_buf();
        drop(c);
        assert!(!gone.exists(), "the copy vanishes with the value");
    }

    #[test]
    fn a_directory_above_the_cap_is_not_copied() {
        let src = tree();
        std::fs::write(src.path().join("big"), vec![0u8; 4096]).unwrap();
        let err = ScratchCopy::of(src.path(), 1024).err().expect("too large");
        assert!(matches!(err, CopyError::TooLarge { .. }), "{err}");
        assert!(err.to_string().contains("more than 0 MiB"), "{err}");
    }

    #[test]
    fn read_only_directories_are_filled_then_keep_their_mode() {
        let src = tree();
        let ro = src.path().join("testdata");
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
        let c = ScratchCopy::of(src.path(), 1 << 20).unwrap();
        assert!(c.path().join("testdata/in.txt").is_file());
        let mode = std::fs::metadata(c.path().join("testdata"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o555);
        let gone = c.path().to_path_buf();
        drop(c);
        assert!(
            !gone.exists(),
            "removed though it held a read-only directory"
        );
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}
