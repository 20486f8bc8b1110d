//! Answers of host tools that only change when the tool does (`qemu-* --version`,
//! `go tool dist list`, `bwrap --version`, `zig version`), remembered in the cache across
//! runs. Every `crossmatrix run` asks them all before its first cell; asked afresh they cost a
//! warm run more than its cells do (13 qemus, two `go tool dist list`s: ≈0.5 s here).
//!
//! An answer is keyed by what it depends on: the canonical path, device, inode, size, mtime
//! and ctime of the tool's executable and of any other file named (a package upgrade
//! replaces them), and the arguments. Only successful answers are kept, so a tool that fails
//! is asked again next time. Without a writable cache the tool is simply asked.

use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where answers live: `<cache>/facts` ([`crate::paths::default_cache_dir`], which
/// `--cache-dir` sets).
fn dir() -> PathBuf {
    crate::paths::default_cache_dir().join("facts")
}

/// `ask()`'s answer for `tool` run with `args`, remembered while `tool` and the files in
/// `depends_on` stay the same files.
pub fn remembered(
    tool: &Path,
    args: &[&str],
    depends_on: &[&Path],
    ask: impl FnOnce() -> Option<String>,
) -> Option<String> {
    remembered_in(&dir(), tool, args, depends_on, ask)
}

fn remembered_in(
    dir: &Path,
    tool: &Path,
    args: &[&str],
    depends_on: &[&Path],
    ask: impl FnOnce() -> Option<String>,
) -> Option<String> {
    let Some(key) = key(tool, args, depends_on) else {
        return ask();
    };
    let file = dir.join(key);
    if let Ok(text) = std::fs::read_to_string(&file) {
        return Some(text);
    }
    let answer = ask()?;
    // Best effort: a cache we cannot write only costs the next run the question.
    let _ = std::fs::create_dir_all(dir).and_then(|()| {
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(answer.as_bytes())?;
        tmp.persist(&file).map_err(|e| e.error)?;
        Ok(())
    });
    Some(answer)
}

/// The key of one question, or `None` when a file it depends on cannot be looked at.
fn key(tool: &Path, args: &[&str], depends_on: &[&Path]) -> Option<String> {
    let mut h = Sha256::new();
    h.update(b"facts v1\0");
    for p in std::iter::once(tool).chain(depends_on.iter().copied()) {
        let real = std::fs::canonicalize(p).ok()?;
        let m = std::fs::metadata(&real).ok()?;
        h.update(real.as_os_str().as_encoded_bytes());
        for n in [
            m.dev(),
            m.ino(),
            m.size(),
            m.mtime() as u64,
            m.mtime_nsec() as u64,
            m.ctime() as u64,
            m.ctime_nsec() as u64,
        ] {
            h.update(n.to_le_bytes());
        }
        h.update([0]);
    }
    for a in args {
        h.update(a.as_bytes());
        h.update([0]);
    }
    Some(format!("{:x}", h.finalize())[..32].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn an_answer_is_asked_once_until_the_tool_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("facts");
        let tool = tmp.path().join("tool");
        std::fs::write(&tool, "v1").unwrap();
        let asked = Cell::new(0);
        let ask = |v: &str| {
            asked.set(asked.get() + 1);
            Some(v.to_string())
        };
        let a = remembered_in(&cache, &tool, &["--version"], &[], || ask("one"));
        let b = remembered_in(&cache, &tool, &["--version"], &[], || ask("two"));
        assert_eq!(
            (a.as_deref(), b.as_deref(), asked.get()),
            (Some("one"), Some("one"), 1)
        );
        // Other arguments: another question.
        let c = remembered_in(&cache, &tool, &["list"], &[], || ask("three"));
        assert_eq!((c.as_deref(), asked.get()), (Some("three"), 2));
        // The tool replaced (as a package upgrade does: a new file): asked again.
        let new = tmp.path().join("tool.new");
        std::fs::write(&new, "v2, longer").unwrap();
        std::fs::rename(&new, &tool).unwrap();
        let d = remembered_in(&cache, &tool, &["--version"], &[], || ask("four"));
        assert_eq!((d.as_deref(), asked.get()), (Some("four"), 3));
    }

    #[test]
    fn a_dependency_changing_asks_again_and_failures_are_not_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("facts");
        let tool = tmp.path().join("go");
        let version = tmp.path().join("VERSION");
        std::fs::write(&tool, "go").unwrap();
        std::fs::write(&version, "go1.24.1").unwrap();
        let a = remembered_in(&cache, &tool, &["list"], &[&version], || None);
        assert_eq!(a, None);
        let b = remembered_in(&cache, &tool, &["list"], &[&version], || Some("x".into()));
        assert_eq!(
            b.as_deref(),
            Some("x"),
            "a failed answer was not remembered"
        );
        std::fs::remove_file(&version).unwrap();
        std::fs::write(&version, "go1.24.2 (a longer version)").unwrap();
        let c = remembered_in(&cache, &tool, &["list"], &[&version], || Some("y".into()));
        assert_eq!(c.as_deref(), Some("y"));
        // A file that is not there: no key, just asked.
        let missing = tmp.path().join("missing");
        let d = remembered_in(&cache, &missing, &[], &[], || Some("z".into()));
        assert_eq!(d.as_deref(), Some("z"));
        let e = remembered_in(&cache, &missing, &[], &[], || Some("w".into()));
        assert_eq!(e.as_deref(), Some("w"));
    }

    #[test]
    fn an_unwritable_cache_still_answers() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("not-a-dir");
        std::fs::write(&file, "").unwrap();
        let tool = tmp.path().join("tool");
        std::fs::write(&tool, "t").unwrap();
        let cache = file.join("facts");
        let a = remembered_in(&cache, &tool, &[], &[], || Some("a".into()));
        let b = remembered_in(&cache, &tool, &[], &[], || Some("b".into()));
        assert_eq!((a.as_deref(), b.as_deref()), (Some("a"), Some("b")));
    }
}
