//! Container images as runtime roots: an OCI image layout (directory or `oci-archive` tar) or a
//! `docker save` / `podman save` tarball, unpacked rootless into a content-addressed cache.
//!
//! Every write goes through a cap-std [`Dir`] on the root being built, so no entry name, `..`
//! or symlink in an image can reach outside it; layers are applied in order with OCI whiteouts
//! (`.wh.NAME`, `.wh..wh..opq`), and every blob is checked against its sha256 digest.
//!
//! What rootless unpacking cannot keep, and so drops: file ownership (everything belongs to
//! the user who unpacked), setuid/setgid bits, extended attributes (file capabilities, SELinux
//! labels) and modification times. Device nodes and FIFOs are refused (see
//! [`ImageError::SpecialFile`]): the sandbox mounts its own `/dev`.

mod layer;
mod source;

use crate::lock;
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use crossmatrix_matrix::Target;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// The default cap on the bytes an image may unpack to (regular file contents, all layers).
pub const DEFAULT_MAX_UNPACKED_BYTES: u64 = 16 << 30;

/// Bumped when unpacking changes what it produces, so cached roots are unpacked again.
const UNPACK_VERSION: u32 = 1;

/// The file beside `rootfs/` that marks a finished root and describes it.
const METADATA_FILE: &str = "image.json";

/// What kind of file or directory an image came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageSourceKind {
    /// A directory with `oci-layout`, `index.json` and `blobs/` (`skopeo copy … oci:DIR`).
    OciLayout,
    /// An OCI layout packed in a tar (`skopeo copy … oci-archive:FILE`).
    OciArchive,
    /// `docker save` / `podman save` output (`manifest.json`), plain or gzipped.
    DockerArchive,
}

impl ImageSourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ImageSourceKind::OciLayout => "oci-layout",
            ImageSourceKind::OciArchive => "oci-archive",
            ImageSourceKind::DockerArchive => "docker-archive",
        }
    }
}

impl fmt::Display for ImageSourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OCI platform (`os`, `architecture`, `variant`), as image indexes and configs name it.
/// OCI architectures are GOARCH names, so a cell's target maps onto one directly.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ImagePlatform {
    pub os: String,
    pub architecture: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// How well an image's platform fits the one asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum PlatformFit {
    No,
    /// Same os and architecture; one side names no variant.
    Compatible,
    /// Same os, architecture and variant.
    Exact,
}

impl ImagePlatform {
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        ImagePlatform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant: variant.filter(|v| !v.is_empty()).map(str::to_string),
        }
    }

    /// The platform of the image a cell's binary should run in: GOOS/GOARCH, and the variant
    /// from GOARM (`v6`, `v7`; `v7` when unset, Go's default when cross-compiling) or GOAMD64.
    pub fn for_target(target: &Target) -> Self {
        let knob = target.variant_env();
        let value = |name: &str| {
            knob.as_ref()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.split(',').next().unwrap_or_default().to_string())
        };
        let variant = match target.goarch.as_str() {
            "arm" => Some(format!("v{}", value("GOARM").unwrap_or_else(|| "7".into()))),
            "arm64" => Some("v8".to_string()),
            "amd64" => value("GOAMD64"),
            _ => None,
        };
        ImagePlatform::new(&target.goos, &target.goarch, variant.as_deref())
    }

    /// The variant with the spellings that mean "the baseline" folded to `None`
    /// (`arm64/v8`, `amd64/v1`), so they compare equal to an image that names none.
    fn canonical_variant(&self) -> Option<&str> {
        match (self.architecture.as_str(), self.variant.as_deref()) {
            ("arm64", Some("v8" | "v8.0")) | ("amd64", Some("v1")) => None,
            (_, v) => v,
        }
    }

    fn fit(&self, image: &ImagePlatform) -> PlatformFit {
        if self.os != image.os || self.architecture != image.architecture {
            return PlatformFit::No;
        }
        match (self.canonical_variant(), image.canonical_variant()) {
            (a, b) if a == b => PlatformFit::Exact,
            (None, _) | (_, None) => PlatformFit::Compatible,
            _ => PlatformFit::No,
        }
    }
}

impl fmt::Display for ImagePlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// An unpacked image, ready to be a sandbox root.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Image {
    /// The unpacked root filesystem (`<cache>/images/sha256-<image id>/rootfs`). Never
    /// modified once in place: treat it as read-only.
    pub root: PathBuf,
    /// The image's digest for the record: the OCI manifest's digest when the source has one
    /// (OCI layouts, `oci-archive`, `docker save` of Docker ≥ 25), else the image ID.
    pub digest: String,
    /// `sha256:` of the image config: what `docker images` and `docker inspect` call the image
    /// ID. It names the uncompressed layers (`rootfs.diff_ids`, checked while unpacking), so the
    /// cache is keyed by it: one image exported in two formats is unpacked once.
    pub image_id: String,
    /// `repo:tag` when the source names one (`RepoTags`, or the index's ref name annotations).
    pub reference: Option<String>,
    /// The platform the image's config declares.
    pub platform: ImagePlatform,
    pub source_kind: ImageSourceKind,
    /// Whether the root was already in the cache (no layer was read).
    pub cached: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(
        "not an OCI layout or docker save tarball: {reason} in {}; give `docker save IMAGE -o image.tar` (or `podman save`) output, or an OCI layout directory (`skopeo copy docker://IMAGE oci:DIR:TAG`)",
        path.display()
    )]
    NotAnImage { path: PathBuf, reason: String },
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{}: {file}: {reason}", path.display())]
    Malformed {
        path: PathBuf,
        file: String,
        reason: String,
    },
    #[error(
        "{}: {what} has digest {actual} but {expected} was expected: the image is corrupt or was modified after export; export it again",
        path.display()
    )]
    DigestMismatch {
        path: PathBuf,
        what: String,
        expected: String,
        actual: String,
    },
    #[error(
        "{}: {what} ({name}) is not in the image; export the image again with all its layers (`docker save`, or `skopeo copy` to an OCI layout)",
        path.display()
    )]
    MissingBlob {
        path: PathBuf,
        what: String,
        name: String,
    },
    #[error(
        "{} has no image for {wanted}; it has {}. Give an image built for {wanted} (e.g. `docker pull --platform {wanted}` before `docker save`)",
        path.display(), list_or_none(available)
    )]
    NoMatchingPlatform {
        path: PathBuf,
        wanted: String,
        available: Vec<String>,
    },
    #[error(
        "{} holds {} images ({}) and nothing says which one to use; give a platform, or export a single image (`docker save IMAGE:TAG -o image.tar`)",
        path.display(), available.len(), available.join(", ")
    )]
    AmbiguousImage {
        path: PathBuf,
        available: Vec<String>,
    },
    #[error("{layer}: entry `{entry}` {reason}; refusing to unpack this image")]
    UnsafeEntry {
        layer: String,
        entry: String,
        reason: String,
    },
    #[error(
        "{layer}: entry `{entry}` is a {kind}; device nodes and FIFOs cannot be created rootless and are refused (the sandbox mounts its own /dev): rebuild the image without it"
    )]
    SpecialFile {
        layer: String,
        entry: String,
        kind: String,
    },
    #[error(
        "{}: the image unpacks to more than the limit of {limit} bytes; refusing it (raise the limit if the image is really that large)",
        path.display()
    )]
    TooLarge { path: PathBuf, limit: u64 },
    #[error(
        "{layer}: {compression}-compressed layers are not supported; export the image with gzip or uncompressed layers (`docker save`, or `skopeo copy --dest-compress-format gzip`)"
    )]
    UnsupportedCompression {
        layer: String,
        /// `zstd`, `xz` or `bzip2`.
        compression: &'static str,
    },
    #[error("{layer}: {}: {source} (is the layer truncated or corrupt?)", entry.as_deref().unwrap_or("reading the layer"))]
    Layer {
        layer: String,
        entry: Option<String>,
        source: io::Error,
    },
    #[error("{layer}: cannot unpack `{entry}`: {source}")]
    Unpack {
        layer: String,
        entry: String,
        source: io::Error,
    },
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "no usable image".into()
    } else {
        items.join(", ")
    }
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> ImageError {
    move |source| ImageError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// What a finished root records about itself (`image.json` beside `rootfs/`).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct RootMetadata {
    unpack_version: u32,
    image_id: String,
    #[serde(default)]
    digest: String,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    unpacked_bytes: u64,
}

/// A source file as last seen, so the same cell matrix does not re-read it for every cell.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SourceKey {
    path: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
    platform: Option<ImagePlatform>,
}

/// A cache of unpacked images under `<cache>/images/`.
///
/// Layout: `sha256-<image id>/rootfs/` (finished roots, renamed into place whole, never
/// modified afterwards) with `sha256-<image id>/image.json` beside it; `.tmp-…` (roots being
/// unpacked, or decompressed tarballs); `.lock-sha256-<image id>`. Roots keep the image's
/// directory modes, so a non-root user removing the cache needs `chmod -R u+w` first (as
/// with umoci's and rootless podman's stores).
#[derive(Debug)]
pub struct ImageStore {
    dir: PathBuf,
    max_unpacked_bytes: u64,
    resolved: Mutex<HashMap<SourceKey, Image>>,
}

impl ImageStore {
    /// A store under `<cache_dir>/images/` (created on first unpack).
    pub fn new(cache_dir: &Path) -> Self {
        ImageStore {
            dir: cache_dir.join("images"),
            max_unpacked_bytes: DEFAULT_MAX_UNPACKED_BYTES,
            resolved: Mutex::new(HashMap::new()),
        }
    }

    /// Caps the bytes one image may unpack to (default [`DEFAULT_MAX_UNPACKED_BYTES`]).
    pub fn with_max_unpacked_bytes(mut self, bytes: u64) -> Self {
        self.max_unpacked_bytes = bytes;
        self
    }

    /// `<cache>/images`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Unpacks the image at `source` (an OCI layout directory, an `oci-archive` tar, or a
    /// `docker save` / `podman save` tarball, optionally gzipped) and returns its root; a
    /// second call for the same image is a cache hit that reads only the source's small JSON
    /// files. `platform` picks one image from a multi-platform index or a multi-image tarball,
    /// and is checked against the chosen image's config; `None` takes the only image there is.
    /// Safe to call from several threads and processes at once.
    pub fn unpack(
        &self,
        source: &Path,
        platform: Option<&ImagePlatform>,
    ) -> Result<Image, ImageError> {
        // A layout directory changes through its index.json (rewritten whole by skopeo).
        let meta = std::fs::metadata(source)
            .and_then(|m| {
                if m.is_dir() {
                    std::fs::metadata(source.join("index.json")).or(Ok(m))
                } else {
                    Ok(m)
                }
            })
            .map_err(io_err("cannot read", source))?;
        let key = SourceKey {
            path: source.to_path_buf(),
            len: meta.len(),
            modified: meta.modified().ok(),
            platform: platform.cloned(),
        };
        let known = self
            .resolved
            .lock()
            .ok()
            .and_then(|memo| memo.get(&key).cloned());
        if let Some(image) = known.filter(|i| i.root.is_dir()) {
            return Ok(Image {
                cached: true,
                ..image
            });
        }
        let image = self.unpack_uncached(source, platform)?;
        if let Ok(mut memo) = self.resolved.lock() {
            memo.insert(key, image.clone());
        }
        Ok(image)
    }

    fn unpack_uncached(
        &self,
        source: &Path,
        platform: Option<&ImagePlatform>,
    ) -> Result<Image, ImageError> {
        std::fs::create_dir_all(&self.dir).map_err(io_err("cannot create", &self.dir))?;
        let archive = source::Archive::open(source, &self.dir, self.max_unpacked_bytes)?;
        let chosen = archive.select(platform)?;
        let name = format!("sha256-{}", chosen.image_id.hex());
        let final_dir = self.dir.join(&name);
        let image = |cached| Image {
            root: final_dir.join("rootfs"),
            digest: chosen
                .manifest_digest
                .as_ref()
                .unwrap_or(&chosen.image_id)
                .to_string(),
            image_id: chosen.image_id.to_string(),
            reference: chosen.reference.clone(),
            platform: chosen.platform.clone(),
            source_kind: archive.kind(),
            cached,
        };
        if is_complete(&final_dir) {
            return Ok(image(true));
        }
        let lock_path = self.dir.join(format!(".lock-{name}"));
        let _lock =
            lock::lock_exclusive(&lock_path, || {}).map_err(io_err("cannot lock", &lock_path))?;
        if is_complete(&final_dir) {
            return Ok(image(true));
        }
        // Holding the lock, anything else under this name is left over from an interrupted
        // unpack or from an older crossmatrix.
        self.remove_leftovers(&name)?;

        let staging = Staging::create(&self.dir, &name)?;
        let rootfs = staging.path.join("rootfs");
        std::fs::create_dir(&rootfs).map_err(io_err("cannot create", &rootfs))?;
        let root = Dir::open_ambient_dir(&rootfs, ambient_authority())
            .map_err(io_err("cannot open", &rootfs))?;
        let mut unpacker = layer::Unpacker::new(root, source, self.max_unpacked_bytes);
        let count = chosen.layers.len();
        for (i, l) in chosen.layers.iter().enumerate() {
            let label = format!(
                "{}, layer {}/{count} ({})",
                source.display(),
                i + 1,
                l.diff_id
            );
            let mut blob = archive.open_layer(l)?;
            let digests = unpacker.apply_layer(&mut blob, &label)?;
            if let Some(expected) = &l.blob_digest {
                if digests.blob != expected.hex() {
                    return Err(ImageError::DigestMismatch {
                        path: source.to_path_buf(),
                        what: format!("layer {}/{count} ({})", i + 1, l.name),
                        expected: expected.to_string(),
                        actual: format!("sha256:{}", digests.blob),
                    });
                }
            }
            if digests.diff_id != l.diff_id.hex() {
                return Err(ImageError::DigestMismatch {
                    path: source.to_path_buf(),
                    what: format!("the uncompressed layer {}/{count} ({})", i + 1, l.name),
                    expected: l.diff_id.to_string(),
                    actual: format!("sha256:{}", digests.diff_id),
                });
            }
        }
        let unpacked_bytes = unpacker.finish(&rootfs)?;

        let done = image(false);
        let metadata = RootMetadata {
            unpack_version: UNPACK_VERSION,
            image_id: done.image_id.clone(),
            digest: done.digest.clone(),
            reference: done.reference.clone(),
            unpacked_bytes,
        };
        let meta_path = staging.path.join(METADATA_FILE);
        let text = serde_json::to_string_pretty(&metadata).unwrap_or_default();
        std::fs::write(&meta_path, text + "\n").map_err(io_err("cannot write", &meta_path))?;
        std::fs::rename(&staging.path, &final_dir).map_err(io_err(
            "cannot move the unpacked image into place at",
            &final_dir,
        ))?;
        staging.keep();
        Ok(done)
    }

    fn remove_leftovers(&self, name: &str) -> Result<(), ImageError> {
        let stale_prefix = format!(".tmp-{name}-");
        let mut stale = vec![self.dir.join(name)];
        if let Ok(rd) = std::fs::read_dir(&self.dir) {
            stale.extend(
                rd.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with(&stale_prefix))
                    .map(|e| e.path()),
            );
        }
        for p in stale {
            force_remove(&p).map_err(io_err("cannot remove the stale", &p))?;
        }
        Ok(())
    }
}

fn is_complete(dir: &Path) -> bool {
    std::fs::read(dir.join(METADATA_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<RootMetadata>(&b).ok())
        .is_some_and(|m| m.unpack_version == UNPACK_VERSION)
        && dir.join("rootfs").is_dir()
}

/// A directory being filled under the store; removed (whatever its modes) unless kept.
struct Staging {
    path: PathBuf,
    keep: bool,
}

impl Staging {
    fn create(store: &Path, name: &str) -> Result<Staging, ImageError> {
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".tmp-{name}-"))
            .tempdir_in(store)
            .map_err(io_err("cannot create a temporary directory in", store))?;
        Ok(Staging {
            path: tmp.keep(),
            keep: false,
        })
    }
    fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.keep {
            let _ = force_remove(&self.path);
        }
    }
}

/// Removes a tree that may hold read-only directories (an image's `0555` dirs), which
/// `remove_dir_all` alone cannot empty without root. Never follows symlinks.
fn force_remove(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fn open_up(dir: &Path) {
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    open_up(&e.path());
                }
            }
        }
    }
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
        Ok(m) if !m.is_dir() => return std::fs::remove_file(path),
        Ok(_) => open_up(path),
    }
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_map_to_oci_platforms() {
        let p = |t: &Target| ImagePlatform::for_target(t).to_string();
        assert_eq!(p(&Target::linux("amd64")), "linux/amd64");
        assert_eq!(p(&Target::linux("arm64")), "linux/arm64/v8");
        assert_eq!(p(&Target::linux("arm")), "linux/arm/v7");
        assert_eq!(
            p(&Target::linux("arm").with_variant("goarm", "6")),
            "linux/arm/v6"
        );
        assert_eq!(
            p(&Target::linux("amd64").with_variant("goamd64", "v3")),
            "linux/amd64/v3"
        );
        for a in ["386", "ppc64le", "s390x", "riscv64", "mips64le", "loong64"] {
            assert_eq!(p(&Target::linux(a)), format!("linux/{a}"));
        }
    }

    #[test]
    fn platform_fit_folds_baseline_variants() {
        let p = |a: &str, v: Option<&str>| ImagePlatform::new("linux", a, v);
        use PlatformFit::*;
        assert_eq!(p("arm64", Some("v8")).fit(&p("arm64", None)), Exact);
        assert_eq!(p("amd64", None).fit(&p("amd64", Some("v1"))), Exact);
        assert_eq!(p("amd64", None).fit(&p("amd64", Some("v3"))), Compatible);
        assert_eq!(p("arm", Some("v7")).fit(&p("arm", Some("v7"))), Exact);
        assert_eq!(p("arm", Some("v7")).fit(&p("arm", None)), Compatible);
        assert_eq!(p("arm", Some("v7")).fit(&p("arm", Some("v6"))), No);
        assert_eq!(p("arm64", None).fit(&p("amd64", None)), No);
        assert_eq!(
            ImagePlatform::new("windows", "amd64", None).fit(&p("amd64", None)),
            No
        );
    }

    #[test]
    fn force_remove_empties_read_only_trees() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("t");
        std::fs::create_dir_all(t.join("ro/sub")).unwrap();
        std::fs::write(t.join("ro/sub/f"), "x").unwrap();
        for p in [t.join("ro/sub"), t.join("ro")] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o555)).unwrap();
        }
        force_remove(&t).unwrap();
        assert!(!t.exists());
        force_remove(&t).unwrap();
    }
}
