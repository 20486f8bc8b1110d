//! Applies image layers (tar changesets, plain or gzip) to a root held as a cap-std [`Dir`]:
//! entries, OCI whiteouts, hard links, the size cap, and the digests of what was read.

use super::ImageError;
use cap_std::fs::{
    Dir, DirBuilder, DirBuilderExt, Metadata, OpenOptions, OpenOptionsExt, Permissions,
    PermissionsExt,
};
use flate2::bufread::MultiGzDecoder;
use sha2::{Digest, Sha256};
use std::cmp::Reverse;
use std::collections::{BTreeMap, HashSet};
use std::ffi::OsStr;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use tar::EntryType;

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_WHITEOUT: &[u8] = b".wh..wh..opq";
/// Directories a layer implies without an entry of their own get what engines give them.
const IMPLICIT_DIR_MODE: u32 = 0o755;
/// Why cap-std refused an operation: the path resolved outside the root.
const ESCAPE_REASON: &str =
    "leads outside the image root; unpacking never follows links out of the root";

/// The sha256 (hex) of a layer blob as stored and of its uncompressed tar (the diff ID).
#[derive(Debug)]
pub(super) struct LayerDigests {
    pub blob: String,
    pub diff_id: String,
}

/// Hashes everything read through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
        }
    }
    /// Reads what is left (so the digest covers the whole stream) and returns the hex digest.
    fn finish(mut self) -> io::Result<String> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(hex::encode(self.hasher.finalize()))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    /// zstd (an OCI media type, unsupported here), xz, bzip2.
    Unsupported(&'static str),
}

/// Layers are named by media type, but docker save's are not, and names can lie: look.
fn detect_compression(head: &[u8]) -> Compression {
    match head {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Unsupported("zstd"),
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Compression::Unsupported("xz"),
        [b'B', b'Z', b'h', ..] => Compression::Unsupported("bzip2"),
        _ => Compression::None,
    }
}

/// Why one entry could not be applied; turned into an [`ImageError`] naming layer and entry.
#[derive(Debug)]
enum EntryError {
    /// Refused: the entry is hostile or makes no sense.
    Unsafe(String),
    Special(String),
    TooLarge,
    /// Reading the layer failed (truncated, corrupt).
    Read(io::Error),
    /// Writing the root failed.
    Write(io::Error),
}

impl From<io::Error> for EntryError {
    fn from(e: io::Error) -> Self {
        if is_escape(&e) {
            EntryError::Unsafe(ESCAPE_REASON.into())
        } else {
            EntryError::Write(e)
        }
    }
}

/// cap-std reports a path that resolves outside its `Dir` as a `PermissionDenied` error it
/// makes itself (the kernel's `EXDEV` from `openat2(RESOLVE_BENEATH)`, or its own check),
/// which, unlike a real `EACCES`, carries no OS error code.
fn is_escape(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::PermissionDenied && e.raw_os_error().is_none()
}

fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// An entry name as a path inside the root: relative, without `.` or `..`. The root itself is
/// the empty path.
fn image_path(raw: &[u8]) -> Result<PathBuf, &'static str> {
    let mut out = PathBuf::new();
    for c in Path::new(OsStr::from_bytes(raw)).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Err("is an absolute path"),
            Component::ParentDir => return Err("has a `..` component"),
        }
    }
    Ok(out)
}

/// Applies layers, in order, to one root.
pub(super) struct Unpacker {
    root: Dir,
    source: PathBuf,
    limit: u64,
    written: u64,
    /// Final modes of every directory made, applied by [`Unpacker::finish`]: until then every
    /// directory stays writable (an image's `0555` dirs still get their files).
    dir_modes: BTreeMap<PathBuf, u32>,
    /// Paths checked to be directories since the last removal (saves a stat per component).
    known_dirs: HashSet<PathBuf>,
}

impl Unpacker {
    pub fn new(root: Dir, source: &Path, limit: u64) -> Self {
        let mut dir_modes = BTreeMap::new();
        dir_modes.insert(PathBuf::new(), IMPLICIT_DIR_MODE);
        Unpacker {
            root,
            source: source.to_path_buf(),
            limit,
            written: 0,
            dir_modes,
            known_dirs: HashSet::new(),
        }
    }

    /// Applies one layer blob and returns its digests; the caller compares them with what
    /// the manifest and config say (a mismatch fails the whole unpack, so nothing read from a
    /// corrupt blob survives).
    pub fn apply_layer(
        &mut self,
        blob: &mut dyn Read,
        layer: &str,
    ) -> Result<LayerDigests, ImageError> {
        let read_err = |source: io::Error| ImageError::Layer {
            layer: layer.to_string(),
            entry: None,
            source,
        };
        let mut compressed = HashingReader::new(blob);
        let mut buffered = BufReader::with_capacity(256 << 10, &mut compressed);
        let decoded: Box<dyn Read + '_> =
            match detect_compression(buffered.fill_buf().map_err(read_err)?) {
                Compression::None => Box::new(buffered),
                Compression::Gzip => Box::new(MultiGzDecoder::new(buffered)),
                Compression::Unsupported(compression) => {
                    return Err(ImageError::UnsupportedCompression {
                        layer: layer.to_string(),
                        compression,
                    });
                }
            };
        let mut plain = HashingReader::new(decoded);
        let mut upper = HashSet::new();
        {
            let mut archive = tar::Archive::new(&mut plain);
            for entry in archive.entries().map_err(read_err)? {
                let mut entry = entry.map_err(read_err)?;
                let shown = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
                self.apply_entry(&mut entry, &mut upper)
                    .map_err(|e| self.entry_error(e, layer, shown))?;
            }
        }
        let diff_id = plain.finish().map_err(read_err)?;
        let blob = compressed.finish().map_err(read_err)?;
        Ok(LayerDigests { blob, diff_id })
    }

    fn entry_error(&self, e: EntryError, layer: &str, entry: String) -> ImageError {
        let layer = layer.to_string();
        match e {
            EntryError::Unsafe(reason) => ImageError::UnsafeEntry {
                layer,
                entry,
                reason,
            },
            EntryError::Special(kind) => ImageError::SpecialFile { layer, entry, kind },
            EntryError::TooLarge => ImageError::TooLarge {
                path: self.source.clone(),
                limit: self.limit,
            },
            EntryError::Read(source) => ImageError::Layer {
                layer,
                entry: Some(entry),
                source,
            },
            EntryError::Write(source) => ImageError::Unpack {
                layer,
                entry,
                source,
            },
        }
    }

    fn apply_entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        upper: &mut HashSet<PathBuf>,
    ) -> Result<(), EntryError> {
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink()
        {
            return Ok(());
        }
        let raw = entry.path_bytes().into_owned();
        let path = image_path(&raw).map_err(|r| EntryError::Unsafe(r.into()))?;
        let parent = path.parent().unwrap_or(Path::new("")).to_path_buf();

        if let Some(name) = path.file_name().map(OsStr::as_bytes) {
            if let Some(rest) = name.strip_prefix(WHITEOUT_PREFIX) {
                if name == OPAQUE_WHITEOUT {
                    self.opaque_whiteout(&parent, upper)?;
                } else if !rest.starts_with(WHITEOUT_PREFIX) {
                    // `.wh..wh.*` other than the opaque marker is aufs bookkeeping: ignored.
                    let target = OsStr::from_bytes(rest);
                    if rest.is_empty() || rest == b"." || rest == b".." {
                        return Err(EntryError::Unsafe(
                            "is a whiteout that names no file".into(),
                        ));
                    }
                    self.whiteout(&parent.join(target), upper)?;
                }
                return Ok(());
            }
        }

        let is_dir = kind.is_dir() || (kind == EntryType::Regular && raw.ends_with(b"/"));
        let mode = entry.header().mode().map_err(EntryError::Read)?;
        if path.as_os_str().is_empty() {
            if !is_dir {
                return Err(EntryError::Unsafe(
                    "would replace the image root with a non-directory".into(),
                ));
            }
            self.dir_modes.insert(path, mode & 0o1777);
            return Ok(());
        }
        self.check_dirs(&parent, true)?;
        match kind {
            _ if is_dir => {
                if !self.clear(&path, true)? {
                    self.root
                        .create_dir_with(&path, DirBuilder::new().mode(0o700))?;
                }
                // Sticky stays (`/tmp`); setuid/setgid go (rootless).
                self.dir_modes.insert(path.clone(), mode & 0o1777);
                self.known_dirs.insert(path.clone());
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.clear(&path, false)?;
                self.write_file(entry, &path, mode)?;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| EntryError::Unsafe("is a symlink to nothing".into()))?;
                self.clear(&path, false)?;
                // Kept as written (`/usr/lib/x` is normal in images): it is only a name, never
                // followed while unpacking.
                self.root
                    .symlink_contents(OsStr::from_bytes(&target), &path)?;
            }
            EntryType::Link => {
                let raw_target = entry.link_name_bytes().unwrap_or_default().into_owned();
                let shown = String::from_utf8_lossy(&raw_target);
                let target = image_path(&raw_target).map_err(|r| {
                    EntryError::Unsafe(format!("is a hard link to `{shown}`, which {r}"))
                })?;
                let parent_there = self
                    .check_dirs(target.parent().unwrap_or(Path::new("")), false)
                    .map_err(|e| match e {
                        EntryError::Unsafe(r) => {
                            EntryError::Unsafe(format!("is a hard link to `{shown}`, which {r}"))
                        }
                        e => e,
                    })?;
                let there = if parent_there {
                    self.root.symlink_metadata(&target)
                } else {
                    Err(io::ErrorKind::NotFound.into())
                };
                match there {
                    Ok(m) if m.is_dir() => {
                        return Err(EntryError::Unsafe(format!(
                            "is a hard link to the directory `{shown}`"
                        )));
                    }
                    Ok(_) => {}
                    Err(e) if is_absent(&e) => {
                        return Err(EntryError::Unsafe(format!(
                            "is a hard link to `{shown}`, which is not in the image"
                        )));
                    }
                    Err(e) => return Err(e.into()),
                }
                if target != path {
                    self.clear(&path, false)?;
                    self.root.hard_link(&target, &self.root, &path)?;
                }
            }
            EntryType::Char | EntryType::Block => {
                let (major, minor) = (
                    entry.header().device_major().ok().flatten().unwrap_or(0),
                    entry.header().device_minor().ok().flatten().unwrap_or(0),
                );
                let what = if kind == EntryType::Char {
                    "character"
                } else {
                    "block"
                };
                let hint = if kind == EntryType::Char && major == 0 && minor == 0 {
                    " (an overlayfs whiteout; OCI layers use `.wh.` files)"
                } else {
                    ""
                };
                return Err(EntryError::Special(format!(
                    "{what} device {major}:{minor}{hint}"
                )));
            }
            EntryType::Fifo => return Err(EntryError::Special("FIFO".into())),
            other => {
                return Err(EntryError::Unsafe(format!(
                    "has tar type {:?} ({:?}), which is not a file, directory or link",
                    other,
                    char::from(other.as_byte())
                )));
            }
        }
        upper.extend(
            path.ancestors()
                .filter(|a| !a.as_os_str().is_empty())
                .map(Path::to_path_buf),
        );
        Ok(())
    }

    fn write_file<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        path: &Path,
        mode: u32,
    ) -> Result<(), EntryError> {
        let size = entry.size();
        // Checked on the header, before a byte is written: a layer claiming a 1 TiB file is
        // refused at once.
        if self.written.saturating_add(size) > self.limit {
            return Err(EntryError::TooLarge);
        }
        let mut file = self.root.open_with(
            path,
            OpenOptions::new().write(true).create_new(true).mode(0o600),
        )?;
        let mut buf = vec![0u8; 64 << 10];
        let mut left = size;
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = match entry.read(&mut buf[..want]) {
                Ok(0) => {
                    return Err(EntryError::Read(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("the layer ends {left} bytes before the end of this file"),
                    )));
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(EntryError::Read(e)),
            };
            file.write_all(&buf[..n]).map_err(EntryError::Write)?;
            left -= n as u64;
        }
        self.written += size;
        // setuid/setgid/sticky dropped: rootless, and nothing in the cache should be setuid.
        file.set_permissions(Permissions::from_mode(mode & 0o777))?;
        Ok(())
    }

    /// Checks that every component of `dir` is a directory inside the root, creating missing
    /// ones when `create` (otherwise returns false at the first one missing). A relative
    /// symlink to a directory in the root is resolved by cap-std, as an engine would; one
    /// that leads out (absolute, or `..` past the root) is refused, naming the link.
    fn check_dirs(&mut self, dir: &Path, create: bool) -> Result<bool, EntryError> {
        if dir.as_os_str().is_empty() || self.known_dirs.contains(dir) {
            return Ok(true);
        }
        let mut cur = PathBuf::new();
        for c in dir.components() {
            cur.push(c);
            if self.known_dirs.contains(&cur) {
                continue;
            }
            match self.root.metadata(&cur) {
                Ok(m) if m.is_dir() => {}
                Ok(_) if !create => return Ok(false),
                Ok(_) => {
                    return Err(EntryError::Unsafe(format!(
                        "needs `{}` to be a directory, but it is a file",
                        cur.display()
                    )));
                }
                Err(e) if is_escape(&e) => {
                    let link = match self.root.read_link_contents(&cur) {
                        Ok(target) => format!(", a symlink to `{}`,", target.display()),
                        Err(_) => String::new(),
                    };
                    return Err(EntryError::Unsafe(format!(
                        "goes through `{}`{link} which {ESCAPE_REASON}",
                        cur.display()
                    )));
                }
                Err(e) if is_absent(&e) && !create => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if self.root.symlink_metadata(&cur).is_ok() {
                        return Err(EntryError::Unsafe(format!(
                            "goes through `{}`, a symlink to a path that is not in the image",
                            cur.display()
                        )));
                    }
                    self.root
                        .create_dir_with(&cur, DirBuilder::new().mode(0o700))?;
                    self.dir_modes
                        .entry(cur.clone())
                        .or_insert(IMPLICIT_DIR_MODE);
                }
                Err(e) => return Err(e.into()),
            }
            self.known_dirs.insert(cur.clone());
        }
        Ok(true)
    }

    /// Removes what is at `path` before an entry replaces it, unless both are directories
    /// (then they merge; returns true). Never follows a symlink at `path`.
    fn clear(&mut self, path: &Path, keep_dir: bool) -> Result<bool, EntryError> {
        match self.root.symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
            Ok(m) if m.is_dir() && keep_dir => Ok(true),
            Ok(m) => {
                self.remove(path, &m)?;
                Ok(false)
            }
        }
    }

    fn remove(&mut self, path: &Path, m: &Metadata) -> Result<(), EntryError> {
        if m.is_dir() {
            self.root.remove_dir_all(path)?;
        } else {
            self.root.remove_file(path)?;
        }
        if !m.is_file() {
            // A directory, or a symlink to one, is gone.
            self.known_dirs.clear();
        }
        self.forget_modes(path);
        Ok(())
    }

    fn forget_modes(&mut self, path: &Path) {
        let gone: Vec<PathBuf> = self
            .dir_modes
            .range(path.to_path_buf()..)
            .take_while(|(p, _)| p.starts_with(path))
            .map(|(p, _)| p.clone())
            .collect();
        for p in gone {
            self.dir_modes.remove(&p);
        }
    }

    /// `.wh.NAME`: NAME goes, unless this same layer made it (whiteouts apply to lower layers).
    fn whiteout(&mut self, target: &Path, upper: &HashSet<PathBuf>) -> Result<(), EntryError> {
        if upper.contains(target) {
            return Ok(());
        }
        if !self.check_dirs(target.parent().unwrap_or(Path::new("")), false)? {
            return Ok(());
        }
        match self.root.symlink_metadata(target) {
            Ok(m) => self.remove(target, &m),
            Err(e) if is_absent(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// `.wh..wh..opq`: everything in `dir` from lower layers goes; what this layer put there
    /// stays, whichever order the entries come in.
    fn opaque_whiteout(&mut self, dir: &Path, upper: &HashSet<PathBuf>) -> Result<(), EntryError> {
        if !self.check_dirs(dir, false)? {
            return Ok(());
        }
        let d = if dir.as_os_str().is_empty() {
            self.root.try_clone()?
        } else {
            match self.root.open_dir(dir) {
                Ok(d) => d,
                Err(e) if is_absent(&e) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        };
        self.remove_lower(&d, dir, upper)
    }

    fn remove_lower(
        &mut self,
        d: &Dir,
        dir_path: &Path,
        upper: &HashSet<PathBuf>,
    ) -> Result<(), EntryError> {
        let mut children = Vec::new();
        for e in d.entries()? {
            let e = e?;
            children.push((e.file_name(), e.file_type()?));
        }
        for (name, file_type) in children {
            let path = dir_path.join(&name);
            if !upper.contains(&path) {
                if file_type.is_dir() {
                    d.remove_dir_all(&name)?;
                } else {
                    d.remove_file(&name)?;
                }
                if !file_type.is_file() {
                    self.known_dirs.clear();
                }
                self.forget_modes(&path);
            } else if file_type.is_dir() {
                let sub = d.open_dir(&name)?;
                self.remove_lower(&sub, &path, upper)?;
            }
        }
        Ok(())
    }

    /// Gives every directory its final mode, deepest first (a parent made `0555` first would
    /// not matter, one made `0000` would), and returns the bytes written.
    pub fn finish(self, rootfs: &Path) -> Result<u64, ImageError> {
        let mut dirs: Vec<(PathBuf, u32)> = self.dir_modes.into_iter().collect();
        dirs.sort_by_key(|(p, _)| Reverse(p.components().count()));
        for (p, mode) in dirs {
            let perm = Permissions::from_mode(mode);
            let r = if p.as_os_str().is_empty() {
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::set_permissions(rootfs, std::fs::Permissions::from_mode(mode))
            } else {
                match self.root.symlink_metadata(&p) {
                    Ok(m) if m.is_dir() => self.root.set_permissions(&p, perm),
                    _ => Ok(()),
                }
            };
            r.map_err(|source| ImageError::Io {
                what: "cannot set the mode of",
                path: rootfs.join(&p),
                source,
            })?;
        }
        Ok(self.written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_must_stay_inside() {
        assert_eq!(image_path(b"./etc/passwd"), Ok(PathBuf::from("etc/passwd")));
        assert_eq!(image_path(b"usr/lib/"), Ok(PathBuf::from("usr/lib")));
        assert_eq!(image_path(b"a/./b"), Ok(PathBuf::from("a/b")));
        assert_eq!(image_path(b"./"), Ok(PathBuf::new()));
        assert_eq!(image_path(b"/etc/passwd"), Err("is an absolute path"));
        assert_eq!(image_path(b"../x"), Err("has a `..` component"));
        assert_eq!(image_path(b"a/../../x"), Err("has a `..` component"));
        assert_eq!(image_path(b"a/.."), Err("has a `..` component"));
    }

    #[test]
    fn compression_is_detected_by_magic() {
        assert_eq!(detect_compression(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
        assert_eq!(
            detect_compression(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Compression::Unsupported("zstd")
        );
        assert_eq!(
            detect_compression(b"\xfd7zXZ\0rest"),
            Compression::Unsupported("xz")
        );
        assert_eq!(detect_compression(b"etc/passwd\0"), Compression::None);
        assert_eq!(detect_compression(b""), Compression::None);
    }

    #[test]
    fn escapes_are_told_from_permission_errors() {
        let d = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/", d.path().join("up")).unwrap();
        let dir = Dir::open_ambient_dir(d.path(), cap_std::ambient_authority()).unwrap();
        let e = dir.metadata("up/etc").unwrap_err();
        assert!(is_escape(&e), "{e:?}");
        let e = dir.metadata("../x").unwrap_err();
        assert!(is_escape(&e), "{e:?}");
        let denied = io::Error::from_raw_os_error(libc::EACCES);
        assert!(!is_escape(&denied));
    }

    #[test]
    fn forgetting_a_dir_forgets_its_subtree_only() {
        let d = tempfile::tempdir().unwrap();
        let dir = Dir::open_ambient_dir(d.path(), cap_std::ambient_authority()).unwrap();
        let mut u = Unpacker::new(dir, d.path(), 1);
        for p in ["a", "a/b", "a/b/c", "a-b", "ab", "b"] {
            u.dir_modes.insert(PathBuf::from(p), 0o700);
        }
        u.forget_modes(Path::new("a"));
        let left: Vec<_> = u
            .dir_modes
            .keys()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(left, ["", "a-b", "ab", "b"]);
    }
}
