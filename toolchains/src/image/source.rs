//! Reading image sources — an OCI layout directory, or a tar (plain or gzipped) holding an OCI
//! layout or `docker save` output — and choosing the image to unpack: index → manifest →
//! config → layers, every small blob checked against its digest as it is read.

use super::{ImageError, ImagePlatform, ImageSourceKind, PlatformFit, io_err};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use flate2::bufread::MultiGzDecoder;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Index, manifest, config and `manifest.json` files larger than this are refused unread.
const MAX_JSON_BYTES: u64 = 8 << 20;
/// Indexes nest (an index of per-platform indexes); deeper than this is not an image.
const MAX_INDEX_DEPTH: usize = 4;
/// Symlinks between members of a tar (docker save links a repeated layer to its first copy).
const MAX_LINK_HOPS: usize = 8;

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// A `sha256:` digest, checked to be 64 lowercase hex digits so it can name a blob file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Sha256Digest(String);

impl Sha256Digest {
    pub fn parse(s: &str) -> Result<Self, String> {
        let Some((algorithm, encoded)) = s.split_once(':') else {
            return Err(format!("`{s}` is not a digest (algorithm:hex)"));
        };
        if algorithm != "sha256" {
            return Err(format!(
                "digest `{s}` uses {algorithm}; only sha256 digests are supported"
            ));
        }
        Self::from_hex(encoded).ok_or_else(|| format!("`{s}` is not a valid sha256 digest"))
    }
    fn from_hex(h: &str) -> Option<Self> {
        (h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| Sha256Digest(h.to_string()))
    }
    pub fn of(bytes: &[u8]) -> Self {
        Sha256Digest(hex::encode(Sha256::digest(bytes)))
    }
    pub fn hex(&self) -> &str {
        &self.0
    }
    /// Where an OCI layout keeps the blob.
    fn blob_name(&self) -> String {
        format!("blobs/sha256/{}", self.0)
    }
    /// `blobs/sha256/<hex>` (OCI layouts, docker save ≥ 25) or, with `json`, `<hex>.json`
    /// (docker save's config): the digest a docker save member's name promises.
    fn in_name(name: &str, json: bool) -> Option<Self> {
        if let Some(h) = name.strip_prefix("blobs/sha256/") {
            return Self::from_hex(h);
        }
        name.strip_suffix(".json")
            .filter(|_| json)
            .and_then(Self::from_hex)
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.0)
    }
}

#[derive(Debug, Deserialize)]
struct OciIndex {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: Option<String>,
    digest: String,
    #[serde(default)]
    platform: Option<DescriptorPlatform>,
    #[serde(default)]
    annotations: HashMap<String, String>,
}

impl Descriptor {
    fn reference(&self) -> Option<String> {
        [
            "io.containerd.image.name",
            "org.opencontainers.image.ref.name",
        ]
        .iter()
        .find_map(|k| self.annotations.get(*k))
        .cloned()
    }
    /// BuildKit's provenance/SBOM manifests sit beside the real ones as `unknown/unknown`.
    fn is_attestation(&self) -> bool {
        self.platform.as_ref().is_some_and(|p| p.os == "unknown")
            || self
                .annotations
                .get("vnd.docker.reference.type")
                .is_some_and(|t| t == "attestation-manifest")
    }
}

#[derive(Debug, Deserialize)]
struct DescriptorPlatform {
    architecture: String,
    os: String,
    #[serde(default)]
    variant: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OciManifest {
    #[serde(default)]
    media_type: Option<String>,
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Debug, Deserialize)]
struct ImageConfig {
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    rootfs: Option<RootFs>,
}

#[derive(Debug, Deserialize)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

impl ImageConfig {
    fn platform(&self) -> ImagePlatform {
        ImagePlatform::new(
            self.os.as_deref().unwrap_or("unknown"),
            self.architecture.as_deref().unwrap_or("unknown"),
            self.variant.as_deref(),
        )
    }
}

/// One image in `docker save`'s `manifest.json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerImage {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    layers: Vec<String>,
}

/// A layer to apply: where its blob is, and the digests it must have.
#[derive(Debug, Clone)]
pub(super) struct LayerRef {
    /// Member (tar) or file (directory) name.
    pub name: String,
    /// Digest of the blob as stored, when the format gives one.
    pub blob_digest: Option<Sha256Digest>,
    /// Digest of the uncompressed tar (the config's `rootfs.diff_ids`).
    pub diff_id: Sha256Digest,
}

/// The image chosen from a source, read up to (not including) its layers.
#[derive(Debug)]
pub(super) struct Chosen {
    pub manifest_digest: Option<Sha256Digest>,
    pub image_id: Sha256Digest,
    pub reference: Option<String>,
    pub platform: ImagePlatform,
    pub layers: Vec<LayerRef>,
}

/// An image the source offers, before one is picked.
#[derive(Debug)]
struct Candidate {
    platform: Option<ImagePlatform>,
    reference: Option<String>,
    /// The manifest's digest (OCI) or image ID (docker save), for messages.
    id: String,
    present: bool,
}

impl Candidate {
    fn label(&self) -> String {
        let platform = self
            .platform
            .as_ref()
            .map_or("unknown platform".to_string(), ImagePlatform::to_string);
        let name = self.reference.clone().unwrap_or_else(|| {
            let short: String = self.id.chars().take("sha256:".len() + 12).collect();
            short
        });
        let missing = if self.present {
            ""
        } else {
            ", not in this archive"
        };
        format!("{platform} ({name}{missing})")
    }
}

#[derive(Debug, Clone)]
enum Member {
    File { offset: u64, size: u64 },
    Symlink(String),
    HardLink(String),
}

#[derive(Debug)]
enum Files {
    Dir(Dir),
    Tar {
        file: PathBuf,
        members: HashMap<String, Member>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Oci,
    Docker,
}

/// An opened image source.
#[derive(Debug)]
pub(super) struct Archive {
    path: PathBuf,
    kind: ImageSourceKind,
    format: Format,
    files: Files,
    /// A gzipped tarball's decompressed copy, removed when dropped.
    _decompressed: Option<tempfile::TempDir>,
}

impl Archive {
    /// Opens `path`: a directory must be an OCI layout; a file must be a tar (gzipped ones are
    /// decompressed into `scratch`, within `limit` bytes) holding an OCI layout or docker save
    /// output.
    pub fn open(path: &Path, scratch: &Path, limit: u64) -> Result<Archive, ImageError> {
        let not_image = |reason: &str| ImageError::NotAnImage {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        let meta = std::fs::metadata(path).map_err(io_err("cannot read", path))?;
        if meta.is_dir() {
            let dir = Dir::open_ambient_dir(path, ambient_authority())
                .map_err(io_err("cannot open", path))?;
            if dir.is_file("index.json") {
                return Ok(Archive {
                    path: path.to_path_buf(),
                    kind: ImageSourceKind::OciLayout,
                    format: Format::Oci,
                    files: Files::Dir(dir),
                    _decompressed: None,
                });
            }
            if dir.is_file("manifest.json") {
                return Err(not_image(
                    "manifest.json but no index.json (an unpacked docker save? give the tarball itself)",
                ));
            }
            return Err(not_image("no index.json or manifest.json"));
        }

        let head = read_head(path)?;
        let mut decompressed = None;
        let mut tar_path = path.to_path_buf();
        match head.as_slice() {
            [0x1f, 0x8b, ..] => {
                let (dir, file) = gunzip(path, scratch, limit)?;
                decompressed = Some(dir);
                tar_path = file;
            }
            [0x28, 0xb5, 0x2f, 0xfd, ..] => {
                return Err(not_image(
                    "a zstd-compressed file (decompress it first: `zstd -d`)",
                ));
            }
            [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => {
                return Err(not_image(
                    "an xz-compressed file (decompress it first: `xz -d`)",
                ));
            }
            _ => {}
        }
        let tar_head = if decompressed.is_some() {
            read_head(&tar_path)?
        } else {
            head
        };
        if !is_tar(&tar_head) {
            return Err(not_image("not a tar archive"));
        }
        let members = scan_tar(path, &tar_path)?;
        let has = |n: &str| members.contains_key(n);
        let (kind, format) = match (has("index.json"), has("manifest.json")) {
            // docker save ≥ 25 writes both: the OCI side has manifest digests and checks more.
            (true, true) if has("oci-layout") => (ImageSourceKind::DockerArchive, Format::Oci),
            (true, false) => (ImageSourceKind::OciArchive, Format::Oci),
            (_, true) => (ImageSourceKind::DockerArchive, Format::Docker),
            (false, false) => return Err(not_image("no index.json or manifest.json")),
        };
        Ok(Archive {
            path: path.to_path_buf(),
            kind,
            format,
            files: Files::Tar {
                file: tar_path,
                members,
            },
            _decompressed: decompressed,
        })
    }

    pub fn kind(&self) -> ImageSourceKind {
        self.kind
    }

    /// Picks the image for `wanted` (or the only one) and reads its manifest and config.
    pub fn select(&self, wanted: Option<&ImagePlatform>) -> Result<Chosen, ImageError> {
        let chosen = match self.format {
            Format::Oci => self.select_oci(wanted)?,
            Format::Docker => self.select_docker(wanted)?,
        };
        if let Some(w) = wanted {
            if w.fit(&chosen.platform) == PlatformFit::No {
                return Err(ImageError::NoMatchingPlatform {
                    path: self.path.clone(),
                    wanted: w.to_string(),
                    available: vec![format!("{} (per its config)", chosen.platform)],
                });
            }
        }
        Ok(chosen)
    }

    /// A reader over a layer's blob, as stored.
    pub fn open_layer(&self, layer: &LayerRef) -> Result<Box<dyn Read + '_>, ImageError> {
        self.open_member(&layer.name, "a layer")
    }

    fn malformed(&self, file: &str, reason: impl fmt::Display) -> ImageError {
        ImageError::Malformed {
            path: self.path.clone(),
            file: file.to_string(),
            reason: reason.to_string(),
        }
    }

    fn missing(&self, what: &str, name: &str) -> ImageError {
        ImageError::MissingBlob {
            path: self.path.clone(),
            what: what.to_string(),
            name: name.to_string(),
        }
    }

    /// Follows symlinks and hard links between tar members to a regular file.
    fn resolve(&self, members: &HashMap<String, Member>, name: &str) -> Option<(u64, u64)> {
        let mut name = member_name(name);
        for _ in 0..=MAX_LINK_HOPS {
            match members.get(&name)? {
                Member::File { offset, size } => return Some((*offset, *size)),
                Member::HardLink(target) => name = member_name(target),
                Member::Symlink(target) => {
                    let base = name.rsplit_once('/').map_or("", |(dir, _)| dir);
                    name = join_member(base, target)?;
                }
            }
        }
        None
    }

    fn has(&self, name: &str) -> bool {
        match &self.files {
            Files::Dir(dir) => dir.is_file(name),
            Files::Tar { members, .. } => self.resolve(members, name).is_some(),
        }
    }

    fn open_member(&self, name: &str, what: &str) -> Result<Box<dyn Read + '_>, ImageError> {
        match &self.files {
            Files::Dir(dir) => match dir.open(name) {
                Ok(f) => Ok(Box::new(f.into_std())),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Err(self.missing(what, name)),
                Err(source) => Err(ImageError::Io {
                    what: "cannot read",
                    path: self.path.join(name),
                    source,
                }),
            },
            Files::Tar { file, members } => {
                let (offset, size) = self
                    .resolve(members, name)
                    .ok_or_else(|| self.missing(what, name))?;
                let mut f = File::open(file).map_err(io_err("cannot open", &self.path))?;
                f.seek(SeekFrom::Start(offset))
                    .map_err(io_err("cannot read", &self.path))?;
                Ok(Box::new(BufReader::with_capacity(256 << 10, f.take(size))))
            }
        }
    }

    fn read_small(&self, name: &str, what: &str) -> Result<Vec<u8>, ImageError> {
        let mut bytes = Vec::new();
        self.open_member(name, what)?
            .take(MAX_JSON_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| ImageError::Io {
                what: "cannot read",
                path: self.path.join(name),
                source,
            })?;
        if bytes.len() as u64 > MAX_JSON_BYTES {
            return Err(self.malformed(
                name,
                format!("{what} is larger than {MAX_JSON_BYTES} bytes; refusing to read it"),
            ));
        }
        Ok(bytes)
    }

    fn read_blob(&self, digest: &Sha256Digest, what: &str) -> Result<Vec<u8>, ImageError> {
        let bytes = self.read_small(&digest.blob_name(), what)?;
        let actual = Sha256Digest::of(&bytes);
        if &actual != digest {
            return Err(ImageError::DigestMismatch {
                path: self.path.clone(),
                what: format!("the {what} {}", digest.blob_name()),
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(bytes)
    }

    fn parse<T: for<'de> Deserialize<'de>>(
        &self,
        file: &str,
        bytes: &[u8],
    ) -> Result<T, ImageError> {
        serde_json::from_slice(bytes).map_err(|e| self.malformed(file, e))
    }

    fn select_oci(&self, wanted: Option<&ImagePlatform>) -> Result<Chosen, ImageError> {
        let index: OciIndex =
            self.parse("index.json", &self.read_small("index.json", "index.json")?)?;
        let mut found = Vec::new();
        self.collect("index.json", &index, None, 0, &mut found)?;
        if found.is_empty() {
            return Err(self.malformed("index.json", "lists no image manifest"));
        }
        let mut candidates = Vec::new();
        for (digest, candidate) in &mut found {
            // A descriptor without a platform: ask the image's own config.
            if candidate.present && candidate.platform.is_none() {
                candidate.platform = Some(self.oci_image(digest, None)?.platform);
            }
            candidates.push(Candidate {
                platform: candidate.platform.clone(),
                reference: candidate.reference.clone(),
                id: candidate.id.clone(),
                present: candidate.present,
            });
        }
        let pick = choose(&self.path, &candidates, wanted)?;
        let (digest, candidate) = &found[pick];
        self.oci_image(digest, candidate.reference.clone())
    }

    /// Gathers the image manifests an index lists, following nested indexes.
    fn collect(
        &self,
        file: &str,
        index: &OciIndex,
        inherited: Option<&str>,
        depth: usize,
        out: &mut Vec<(Sha256Digest, Candidate)>,
    ) -> Result<(), ImageError> {
        for d in &index.manifests {
            let digest = Sha256Digest::parse(&d.digest).map_err(|r| self.malformed(file, r))?;
            let reference = d.reference().or_else(|| inherited.map(str::to_string));
            if d.is_attestation() {
                continue;
            }
            match d.media_type.as_deref() {
                Some(OCI_INDEX | DOCKER_MANIFEST_LIST) => {
                    if depth >= MAX_INDEX_DEPTH {
                        return Err(self.malformed(file, "image indexes nest too deep"));
                    }
                    let name = digest.blob_name();
                    if !self.has(&name) {
                        continue;
                    }
                    let nested: OciIndex =
                        self.parse(&name, &self.read_blob(&digest, "image index")?)?;
                    self.collect(&name, &nested, reference.as_deref(), depth + 1, out)?;
                }
                None | Some(OCI_MANIFEST | DOCKER_MANIFEST) => {
                    let present = self.has(&digest.blob_name());
                    out.push((
                        digest.clone(),
                        Candidate {
                            platform: d.platform.as_ref().map(|p| {
                                ImagePlatform::new(&p.os, &p.architecture, p.variant.as_deref())
                            }),
                            reference,
                            id: digest.to_string(),
                            present,
                        },
                    ));
                }
                // Artifacts (signatures, SBOMs) are not images.
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Reads an image manifest and its config.
    fn oci_image(
        &self,
        digest: &Sha256Digest,
        reference: Option<String>,
    ) -> Result<Chosen, ImageError> {
        let name = digest.blob_name();
        let manifest: OciManifest =
            self.parse(&name, &self.read_blob(digest, "image manifest")?)?;
        if let Some(t) = manifest.media_type.as_deref() {
            if t != OCI_MANIFEST && t != DOCKER_MANIFEST {
                return Err(self.malformed(&name, format!("is a {t}, not an image manifest")));
            }
        }
        let config_digest =
            Sha256Digest::parse(&manifest.config.digest).map_err(|r| self.malformed(&name, r))?;
        let config_name = config_digest.blob_name();
        let config: ImageConfig = self.parse(
            &config_name,
            &self.read_blob(&config_digest, "image config")?,
        )?;
        let diff_ids = self.diff_ids(&config_name, &config, manifest.layers.len())?;
        let mut layers = Vec::new();
        for (i, (d, diff_id)) in manifest.layers.iter().zip(diff_ids).enumerate() {
            let blob = Sha256Digest::parse(&d.digest).map_err(|r| self.malformed(&name, r))?;
            if d.media_type.as_deref().is_some_and(|t| t.contains("zstd")) {
                return Err(ImageError::UnsupportedCompression {
                    compression: "zstd",
                    layer: format!(
                        "{}, layer {}/{} ({blob})",
                        self.path.display(),
                        i + 1,
                        manifest.layers.len()
                    ),
                });
            }
            layers.push(LayerRef {
                name: blob.blob_name(),
                blob_digest: Some(blob),
                diff_id,
            });
        }
        Ok(Chosen {
            manifest_digest: Some(digest.clone()),
            image_id: config_digest,
            reference,
            platform: config.platform(),
            layers,
        })
    }

    fn diff_ids(
        &self,
        file: &str,
        config: &ImageConfig,
        layers: usize,
    ) -> Result<Vec<Sha256Digest>, ImageError> {
        let ids = config.rootfs.as_ref().map_or(&[][..], |r| &r.diff_ids[..]);
        if ids.len() != layers {
            return Err(self.malformed(
                file,
                format!(
                    "the config lists {} layer digests (rootfs.diff_ids) for {layers} layers",
                    ids.len()
                ),
            ));
        }
        ids.iter()
            .map(|s| Sha256Digest::parse(s).map_err(|r| self.malformed(file, r)))
            .collect()
    }

    fn select_docker(&self, wanted: Option<&ImagePlatform>) -> Result<Chosen, ImageError> {
        let images: Vec<DockerImage> = self.parse(
            "manifest.json",
            &self.read_small("manifest.json", "manifest.json")?,
        )?;
        if images.is_empty() {
            return Err(self.malformed("manifest.json", "lists no image"));
        }
        let mut read = Vec::new();
        let mut candidates = Vec::new();
        for image in &images {
            let bytes = self.read_small(&image.config, "image config")?;
            let image_id = Sha256Digest::of(&bytes);
            if let Some(named) = Sha256Digest::in_name(&member_name(&image.config), true) {
                if named != image_id {
                    return Err(ImageError::DigestMismatch {
                        path: self.path.clone(),
                        what: format!("the image config {}", image.config),
                        expected: named.to_string(),
                        actual: image_id.to_string(),
                    });
                }
            }
            let config: ImageConfig = self.parse(&image.config, &bytes)?;
            let reference = image.repo_tags.as_ref().and_then(|t| t.first()).cloned();
            candidates.push(Candidate {
                platform: Some(config.platform()),
                reference: reference.clone(),
                id: image_id.to_string(),
                present: true,
            });
            read.push((image_id, config, reference));
        }
        let pick = choose(&self.path, &candidates, wanted)?;
        let image = &images[pick];
        let (image_id, config, reference) = read.swap_remove(pick);
        let diff_ids = self.diff_ids(&image.config, &config, image.layers.len())?;
        let layers = image
            .layers
            .iter()
            .zip(diff_ids)
            .map(|(name, diff_id)| LayerRef {
                name: name.clone(),
                blob_digest: Sha256Digest::in_name(&member_name(name), false),
                diff_id,
            })
            .collect();
        Ok(Chosen {
            manifest_digest: None,
            image_id,
            reference,
            platform: config.platform(),
            layers,
        })
    }
}

/// Picks the candidate that fits `wanted` best (exact variant over no variant), or the only
/// one when nothing is wanted.
fn choose(
    path: &Path,
    candidates: &[Candidate],
    wanted: Option<&ImagePlatform>,
) -> Result<usize, ImageError> {
    let usable: Vec<usize> = (0..candidates.len())
        .filter(|&i| candidates[i].present)
        .collect();
    let labels = |idx: &[usize]| idx.iter().map(|&i| candidates[i].label()).collect();
    let Some(w) = wanted else {
        return match usable.as_slice() {
            [one] => Ok(*one),
            [] => Err(ImageError::NoMatchingPlatform {
                path: path.to_path_buf(),
                wanted: "any platform".into(),
                available: labels(&(0..candidates.len()).collect::<Vec<_>>()),
            }),
            many => Err(ImageError::AmbiguousImage {
                path: path.to_path_buf(),
                available: labels(many),
            }),
        };
    };
    for level in [PlatformFit::Exact, PlatformFit::Compatible] {
        let fits: Vec<usize> = usable
            .iter()
            .copied()
            .filter(|&i| candidates[i].platform.as_ref().map(|p| w.fit(p)) == Some(level))
            .collect();
        match fits.as_slice() {
            [] => continue,
            [one] => return Ok(*one),
            many => {
                return Err(ImageError::AmbiguousImage {
                    path: path.to_path_buf(),
                    available: labels(many),
                });
            }
        }
    }
    Err(ImageError::NoMatchingPlatform {
        path: path.to_path_buf(),
        wanted: w.to_string(),
        available: labels(&(0..candidates.len()).collect::<Vec<_>>()),
    })
}

/// A tar member name as looked up: no leading `./` or `/`, no trailing `/`.
fn member_name(name: &str) -> String {
    let mut n = name;
    loop {
        let stripped = n.strip_prefix("./").or_else(|| n.strip_prefix('/'));
        match stripped {
            Some(s) => n = s,
            None => break,
        }
    }
    n.trim_end_matches('/').to_string()
}

/// Where a symlink member at `base/` pointing to `target` leads, inside the archive.
fn join_member(base: &str, target: &str) -> Option<String> {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        base.split('/').filter(|p| !p.is_empty()).collect()
    };
    for p in target.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

fn read_head(path: &Path) -> Result<Vec<u8>, ImageError> {
    let mut head = Vec::with_capacity(512);
    File::open(path)
        .and_then(|f| f.take(512).read_to_end(&mut head))
        .map_err(io_err("cannot read", path))?;
    Ok(head)
}

/// POSIX ustar and GNU tar both write `ustar` at offset 257 (docker, podman, skopeo do).
fn is_tar(head: &[u8]) -> bool {
    head.get(257..262) == Some(b"ustar")
}

fn gunzip(
    path: &Path,
    scratch: &Path,
    limit: u64,
) -> Result<(tempfile::TempDir, PathBuf), ImageError> {
    let dir = tempfile::Builder::new()
        .prefix(".tmp-source-")
        .tempdir_in(scratch)
        .map_err(io_err("cannot create a temporary directory in", scratch))?;
    let out = dir.path().join("image.tar");
    let input = File::open(path).map_err(io_err("cannot open", path))?;
    let mut output = File::create(&out).map_err(io_err("cannot create", &out))?;
    let mut decoder = MultiGzDecoder::new(BufReader::new(input)).take(limit.saturating_add(1));
    let n = io::copy(&mut decoder, &mut output).map_err(io_err("cannot decompress", path))?;
    if n > limit {
        return Err(ImageError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok((dir, out))
}

/// Lists a tar's members without reading their contents (seeking over them).
fn scan_tar(shown: &Path, tar_path: &Path) -> Result<HashMap<String, Member>, ImageError> {
    let malformed = |reason: String| ImageError::Malformed {
        path: shown.to_path_buf(),
        file: "(the tar itself)".into(),
        reason,
    };
    let file = File::open(tar_path).map_err(io_err("cannot open", shown))?;
    let len = file.metadata().map_err(io_err("cannot read", shown))?.len();
    let mut archive = tar::Archive::new(file);
    let mut members = HashMap::new();
    // Where the last member's data (padded to a block) ends: the end-of-archive marker
    // follows there, unless the tarball was cut short at a member boundary.
    let mut end = 0;
    let entries = archive
        .entries_with_seek()
        .map_err(|e| malformed(format!("cannot read it: {e}")))?;
    for entry in entries {
        let entry = entry.map_err(|e| malformed(format!("cannot read it: {e} (truncated?)")))?;
        end = entry
            .raw_file_position()
            .saturating_add(entry.size().div_ceil(512) * 512);
        let name = member_name(&String::from_utf8_lossy(&entry.path_bytes()));
        let link = || {
            entry
                .link_name_bytes()
                .map(|t| String::from_utf8_lossy(&t).into_owned())
                .unwrap_or_default()
        };
        let member = match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let (offset, size) = (entry.raw_file_position(), entry.size());
                if offset.saturating_add(size) > len {
                    return Err(malformed(format!(
                        "member {name} ends {} bytes past the end of the file: the tarball is truncated",
                        offset.saturating_add(size) - len
                    )));
                }
                Member::File { offset, size }
            }
            tar::EntryType::Symlink => Member::Symlink(link()),
            tar::EntryType::Link => Member::HardLink(link()),
            _ => continue,
        };
        members.insert(name, member);
    }
    drop(archive);
    if end > 0 && !ends_with_zero_block(tar_path, end) {
        return Err(malformed(format!(
            "it stops after {end} bytes without the end-of-archive blocks: the tarball is truncated"
        )));
    }
    Ok(members)
}

fn ends_with_zero_block(tar_path: &Path, at: u64) -> bool {
    let mut block = [1u8; 512];
    File::open(tar_path)
        .and_then(|mut f| {
            f.seek(SeekFrom::Start(at))?;
            f.read_exact(&mut block)
        })
        .is_ok()
        && block.iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn digests_are_checked_before_naming_files() {
        let d = Sha256Digest::parse(&format!("sha256:{H}")).unwrap();
        assert_eq!(d.blob_name(), format!("blobs/sha256/{H}"));
        assert_eq!(d.to_string(), format!("sha256:{H}"));
        for bad in [
            "sha256:../../../etc/passwd".to_string(),
            format!("sha256:{}", H.to_uppercase()),
            format!("sha256:{}", &H[1..]),
            format!("sha256:{H}/x"),
            H.to_string(),
        ] {
            assert!(Sha256Digest::parse(&bad).is_err(), "{bad}");
        }
        let e = Sha256Digest::parse(&format!("sha512:{H}{H}")).unwrap_err();
        assert!(e.contains("only sha256"), "{e}");
        assert_eq!(
            Sha256Digest::of(b"").hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn docker_member_names_promise_digests() {
        let d = |n: &str, json| Sha256Digest::in_name(n, json).map(|d| d.hex().to_string());
        assert_eq!(d(&format!("blobs/sha256/{H}"), false), Some(H.into()));
        assert_eq!(d(&format!("{H}.json"), true), Some(H.into()));
        assert_eq!(d(&format!("{H}.json"), false), None);
        assert_eq!(d(&format!("{H}/layer.tar"), false), None);
        assert_eq!(d("manifest.json", true), None);
    }

    #[test]
    fn member_names_and_links() {
        assert_eq!(member_name("./manifest.json"), "manifest.json");
        assert_eq!(member_name("/./abc/"), "abc");
        assert_eq!(
            join_member("b", "../a/layer.tar"),
            Some("a/layer.tar".into())
        );
        assert_eq!(join_member("b", "layer.tar"), Some("b/layer.tar".into()));
        assert_eq!(join_member("b", "/a/layer.tar"), Some("a/layer.tar".into()));
        assert_eq!(join_member("b", "../../x"), None);
    }

    fn cand(p: &str, v: Option<&str>, present: bool) -> Candidate {
        let (os, arch) = p.split_once('/').unwrap();
        Candidate {
            platform: Some(ImagePlatform::new(os, arch, v)),
            reference: Some("img:1".into()),
            id: format!("sha256:{H}"),
            present,
        }
    }

    #[test]
    fn choosing_prefers_exact_variants_and_present_blobs() {
        let p = Path::new("x.tar");
        let arm = |v| ImagePlatform::new("linux", "arm", Some(v));
        let c = [
            cand("linux/arm", Some("v6"), true),
            cand("linux/arm", Some("v7"), true),
            cand("linux/arm", None, true),
        ];
        assert_eq!(choose(p, &c, Some(&arm("v7"))).unwrap(), 1);
        assert_eq!(choose(p, &c, Some(&arm("v6"))).unwrap(), 0);
        assert_eq!(choose(p, &c, Some(&arm("v5"))).unwrap(), 2);
        let e = choose(p, &c, None).unwrap_err();
        assert!(matches!(e, ImageError::AmbiguousImage { .. }), "{e}");
        assert!(e.to_string().contains("linux/arm/v6 (img:1)"), "{e}");

        let c = [
            cand("linux/amd64", None, true),
            cand("linux/arm64", Some("v8"), false),
        ];
        assert_eq!(choose(p, &c, None).unwrap(), 0);
        let arm64 = ImagePlatform::new("linux", "arm64", Some("v8"));
        let e = choose(p, &c, Some(&arm64)).unwrap_err();
        assert!(matches!(e, ImageError::NoMatchingPlatform { .. }), "{e}");
        assert!(
            e.to_string()
                .contains("linux/arm64/v8 (img:1, not in this archive)"),
            "{e}"
        );
    }
}
