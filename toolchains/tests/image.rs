//! Container images as roots: tarballs and OCI layouts built here, in code, unpacked by
//! `ImageStore` and compared entry by entry with what a container engine shows; hostile
//! inputs refused with nothing written outside the cache. The umoci/skopeo comparisons skip
//! (printing `SKIPPED: …`) when those tools are missing, and fail instead when `CI` is set.

use crossmatrix_matrix::Target;
use crossmatrix_sandbox::host::run_checked;
use crossmatrix_toolchains::{Image, ImageError, ImagePlatform, ImageSourceKind, ImageStore};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tar::{EntryType, Header};

// ---------------------------------------------------------------- building images

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A layer tar, entry by entry, with names written raw (so hostile names survive: the tar
/// crate's own setters refuse `..` and absolute paths).
struct Layer(tar::Builder<Vec<u8>>);

impl Layer {
    fn new() -> Self {
        Layer(tar::Builder::new(Vec::new()))
    }
    fn raw(&mut self, name: &[u8], kind: EntryType, mode: u32, link: &[u8], data: &[u8]) {
        let mut h = Header::new_ustar();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_mtime(1_700_000_000);
        let old = h.as_old_mut();
        old.name[..name.len()].copy_from_slice(name);
        old.linkname[..link.len()].copy_from_slice(link);
        h.set_cksum();
        self.0.append(&h, data).unwrap();
    }
    fn dir(mut self, path: &str, mode: u32) -> Self {
        self.raw(
            format!("{path}/").as_bytes(),
            EntryType::Directory,
            mode,
            b"",
            b"",
        );
        self
    }
    fn file(mut self, path: &str, mode: u32, data: &str) -> Self {
        self.raw(
            path.as_bytes(),
            EntryType::Regular,
            mode,
            b"",
            data.as_bytes(),
        );
        self
    }
    fn symlink(mut self, path: &str, target: &str) -> Self {
        self.raw(
            path.as_bytes(),
            EntryType::Symlink,
            0o777,
            target.as_bytes(),
            b"",
        );
        self
    }
    fn hardlink(mut self, path: &str, target: &str) -> Self {
        self.raw(
            path.as_bytes(),
            EntryType::Link,
            0o644,
            target.as_bytes(),
            b"",
        );
        self
    }
    fn device(mut self, path: &str, kind: EntryType, major: u32, minor: u32) -> Self {
        let mut h = Header::new_ustar();
        h.set_entry_type(kind);
        h.set_size(0);
        h.set_mode(0o666);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_cksum();
        self.0.append(&h, &[][..]).unwrap();
        self
    }
    fn tar(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

/// One image: its layers (uncompressed tars) and platform.
#[derive(Clone)]
struct Spec {
    layers: Vec<Vec<u8>>,
    arch: &'static str,
    variant: Option<&'static str>,
    tag: &'static str,
    /// gzip the layers (OCI layouts; docker save's are plain).
    gzip: bool,
    /// The layers' media type in an OCI manifest, when not the one `gzip` implies.
    layer_media_type: Option<&'static str>,
}

impl Spec {
    fn new(layers: Vec<Vec<u8>>) -> Self {
        Spec {
            layers,
            arch: "amd64",
            variant: None,
            tag: "test/img:1",
            gzip: true,
            layer_media_type: None,
        }
    }
    fn arch(mut self, arch: &'static str, variant: Option<&'static str>) -> Self {
        self.arch = arch;
        self.variant = variant;
        self
    }
    fn tag(mut self, tag: &'static str) -> Self {
        self.tag = tag;
        self
    }
    fn config(&self) -> Vec<u8> {
        let diff_ids: Vec<String> = self
            .layers
            .iter()
            .map(|l| format!("sha256:{}", sha256_hex(l)))
            .collect();
        let mut c = serde_json::json!({
            "architecture": self.arch,
            "os": "linux",
            "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["/bin/tool"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        if let Some(v) = self.variant {
            c["variant"] = v.into();
        }
        serde_json::to_vec(&c).unwrap()
    }
    fn image_id(&self) -> String {
        format!("sha256:{}", sha256_hex(&self.config()))
    }
    fn platform(&self) -> serde_json::Value {
        let mut p = serde_json::json!({"architecture": self.arch, "os": "linux"});
        if let Some(v) = self.variant {
            p["variant"] = v.into();
        }
        p
    }
}

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

fn write_blob(layout: &Path, bytes: &[u8]) -> serde_json::Value {
    let hex = sha256_hex(bytes);
    std::fs::write(layout.join("blobs/sha256").join(&hex), bytes).unwrap();
    serde_json::json!({"digest": format!("sha256:{hex}"), "size": bytes.len()})
}

fn with_type(mut d: serde_json::Value, media_type: &str) -> serde_json::Value {
    d["mediaType"] = media_type.into();
    d
}

/// Writes an OCI image layout; with `nested`, index.json points to one image index that lists
/// the images (what `skopeo copy --all` and registries do). Returns each manifest's digest.
fn oci_layout(layout: &Path, images: &[Spec], nested: bool) -> Vec<String> {
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let mut descriptors = Vec::new();
    let mut digests = Vec::new();
    for img in images {
        let layers: Vec<serde_json::Value> = img
            .layers
            .iter()
            .map(|l| {
                let (blob, media_type) = if img.gzip {
                    (gzip(l), "application/vnd.oci.image.layer.v1.tar+gzip")
                } else {
                    (l.clone(), "application/vnd.oci.image.layer.v1.tar")
                };
                with_type(
                    write_blob(layout, &blob),
                    img.layer_media_type.unwrap_or(media_type),
                )
            })
            .collect();
        let config = with_type(
            write_blob(layout, &img.config()),
            "application/vnd.oci.image.config.v1+json",
        );
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config,
            "layers": layers,
        });
        let mut d = with_type(
            write_blob(layout, &serde_json::to_vec(&manifest).unwrap()),
            OCI_MANIFEST,
        );
        digests.push(d["digest"].as_str().unwrap().to_string());
        d["platform"] = img.platform();
        if !nested {
            let tag = img.tag.rsplit(':').next().unwrap();
            d["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": tag});
        }
        descriptors.push(d);
    }
    let manifests = if nested {
        let inner = serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors,
        });
        let mut d = with_type(
            write_blob(layout, &serde_json::to_vec(&inner).unwrap()),
            OCI_INDEX,
        );
        d["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "multi"});
        vec![d]
    } else {
        descriptors
    };
    let index =
        serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    digests
}

/// `docker save` output as Docker < 25 writes it: `<id>/layer.tar` (a repeated layer is a
/// symlink to its first copy), `<config hex>.json`, `manifest.json`, `repositories`.
fn docker_save(images: &[Spec]) -> Vec<u8> {
    let mut out = tar::Builder::new(Vec::new());
    let mut add = |name: &str, kind: EntryType, link: &str, data: &[u8]| {
        let mut h = Header::new_ustar();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(if kind == EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_mtime(0);
        if !link.is_empty() {
            h.set_link_name(link).unwrap();
        }
        out.append_data(&mut h, name, data).unwrap();
    };
    let mut manifest = Vec::new();
    for img in images {
        let config = img.config();
        let config_name = format!("{}.json", sha256_hex(&config));
        let mut first: HashMap<String, String> = HashMap::new();
        let mut names = Vec::new();
        for (i, l) in img.layers.iter().enumerate() {
            let diff = sha256_hex(l);
            let id = sha256_hex(format!("{config_name}{i}").as_bytes());
            let name = format!("{id}/layer.tar");
            add(&format!("{id}/"), EntryType::Directory, "", b"");
            add(&format!("{id}/VERSION"), EntryType::Regular, "", b"1.0");
            match first.get(&diff) {
                Some(earlier) => add(
                    &name,
                    EntryType::Symlink,
                    &format!("../{earlier}/layer.tar"),
                    b"",
                ),
                None => {
                    add(&name, EntryType::Regular, "", l);
                    first.insert(diff, id.clone());
                }
            }
            names.push(name);
        }
        add(&config_name, EntryType::Regular, "", &config);
        manifest.push(serde_json::json!({
            "Config": config_name, "RepoTags": [img.tag], "Layers": names,
        }));
    }
    add(
        "manifest.json",
        EntryType::Regular,
        "",
        &serde_json::to_vec(&manifest).unwrap(),
    );
    add("repositories", EntryType::Regular, "", b"{}");
    out.into_inner().unwrap()
}

/// Packs a directory (an OCI layout) into a tar, as `oci-archive:` does.
fn tar_dir(dir: &Path) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.append_dir_all(".", dir).unwrap();
    b.into_inner().unwrap()
}

// ---------------------------------------------------------------- the two-layer image

/// Two layers with everything an engine must get right: a whiteout (file and directory), an
/// opaque directory (its marker after a same-layer entry), absolute and relative symlinks, a
/// file replaced by a symlink, hard links within and across layers, a `0555` directory written
/// into, a sticky `/tmp`, and an entry written through a relative symlink (`lib/…`).
fn two_layers() -> Vec<Vec<u8>> {
    let one = Layer::new()
        .dir("etc", 0o755)
        .file("etc/hostname", 0o644, "one\n")
        .file("etc/os-release", 0o644, "ID=one\n")
        .symlink("etc/localtime", "/usr/share/zoneinfo/UTC")
        .dir("bin", 0o755)
        .file("bin/tool", 0o755, "tool v1\n")
        .hardlink("bin/tool-hardlink", "bin/tool")
        .dir("usr", 0o755)
        .dir("usr/lib", 0o755)
        .file("usr/lib/libfoo.so.1", 0o644, "foo\n")
        .symlink("lib", "usr/lib")
        .dir("opt", 0o755)
        .dir("opt/data", 0o755)
        .file("opt/data/old", 0o644, "old\n")
        .dir("opt/data/sub", 0o755)
        .file("opt/data/sub/old2", 0o644, "old2\n")
        .dir("var", 0o755)
        .dir("var/cache", 0o755)
        .file("var/cache/junk", 0o644, "junk\n")
        .dir("ro", 0o555)
        .file("ro/file", 0o444, "ro\n")
        .dir("tmp", 0o1777)
        .tar();
    let two = Layer::new()
        .dir("etc", 0o755)
        .file("etc/.wh.hostname", 0o644, "")
        .symlink("etc/os-release", "../usr/lib/os-release")
        .dir("usr", 0o755)
        .dir("usr/lib", 0o755)
        .file("usr/lib/os-release", 0o644, "ID=two\n")
        .hardlink("usr/lib/libfoo.so", "usr/lib/libfoo.so.1")
        .file("lib/libbar.so", 0o644, "bar\n")
        .dir("var", 0o755)
        .file("var/.wh.cache", 0o644, "")
        .dir("opt", 0o755)
        .dir("opt/data", 0o750)
        .file("opt/data/new", 0o644, "new\n")
        .file("opt/data/.wh..wh..opq", 0o644, "")
        .dir("bin", 0o755)
        .file("bin/tool", 0o755, "tool v2\n")
        .dir("ro", 0o555)
        .file("ro/added", 0o644, "added\n")
        .tar();
    vec![one, two]
}

/// What a container engine shows for [`two_layers`].
fn expected_tree() -> BTreeMap<String, String> {
    [
        (".", "dir 0755"),
        ("bin", "dir 0755"),
        ("bin/tool", "file 0755 \"tool v2\\n\""),
        ("bin/tool-hardlink", "file 0755 \"tool v1\\n\""),
        ("etc", "dir 0755"),
        ("etc/localtime", "symlink -> /usr/share/zoneinfo/UTC"),
        ("etc/os-release", "symlink -> ../usr/lib/os-release"),
        ("lib", "symlink -> usr/lib"),
        ("opt", "dir 0755"),
        ("opt/data", "dir 0750"),
        ("opt/data/new", "file 0644 \"new\\n\""),
        ("ro", "dir 0555"),
        ("ro/added", "file 0644 \"added\\n\""),
        ("ro/file", "file 0444 \"ro\\n\""),
        ("tmp", "dir 1777"),
        ("usr", "dir 0755"),
        ("usr/lib", "dir 0755"),
        ("usr/lib/libbar.so", "file 0644 \"bar\\n\""),
        ("usr/lib/libfoo.so", "file 0644 \"foo\\n\""),
        ("usr/lib/libfoo.so.1", "file 0644 \"foo\\n\""),
        ("usr/lib/os-release", "file 0644 \"ID=two\\n\""),
        ("var", "dir 0755"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

/// Every path under `root` (not following symlinks) with its type, mode, content or target.
fn tree(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, rel: &Path, out: &mut BTreeMap<String, String>) {
        let p = root.join(rel);
        let m = std::fs::symlink_metadata(&p).unwrap();
        let name = if rel.as_os_str().is_empty() {
            ".".to_string()
        } else {
            rel.display().to_string()
        };
        let mode = m.permissions().mode() & 0o7777;
        let t = m.file_type();
        let desc = if t.is_symlink() {
            format!("symlink -> {}", std::fs::read_link(&p).unwrap().display())
        } else if t.is_dir() {
            format!("dir {mode:04o}")
        } else if t.is_file() {
            let content = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            format!("file {mode:04o} {content:?}")
        } else {
            format!("special {:o}", m.mode())
        };
        out.insert(name, desc);
        if t.is_dir() {
            let mut names: Vec<_> = std::fs::read_dir(&p)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            names.sort();
            for n in names {
                walk(root, &rel.join(n), out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, Path::new(""), &mut out);
    out
}

/// Groups of paths that are hard links to one file.
fn hard_link_groups(root: &Path) -> BTreeSet<Vec<String>> {
    let mut by_inode: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for (path, desc) in tree(root) {
        if desc.starts_with("file") {
            let m = std::fs::symlink_metadata(root.join(&path)).unwrap();
            if m.nlink() > 1 {
                by_inode.entry(m.ino()).or_default().push(path);
            }
        }
    }
    by_inode.into_values().collect()
}

fn expected_links() -> BTreeSet<Vec<String>> {
    [vec![
        "usr/lib/libfoo.so".to_string(),
        "usr/lib/libfoo.so.1".to_string(),
    ]]
    .into_iter()
    .collect()
}

fn assert_tree(root: &Path, expected: &BTreeMap<String, String>) {
    let got = tree(root);
    if &got != expected {
        let mut diff = String::new();
        for k in got.keys().chain(expected.keys()).collect::<BTreeSet<_>>() {
            match (got.get(k), expected.get(k)) {
                (a, b) if a == b => {}
                (a, b) => diff.push_str(&format!("  {k}: got {a:?}, expected {b:?}\n")),
            }
        }
        panic!("unpacked tree of {} differs:\n{diff}", root.display());
    }
}

/// What the cache holds besides lock files and finished roots (`sha256-…/` with their
/// `image.json`): staging directories, decompressed tarballs, partial roots.
fn leftovers(store: &ImageStore) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(store.dir()) else {
        return Vec::new();
    };
    rd.map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            let finished = name.starts_with("sha256-") && p.join("image.json").is_file();
            !name.starts_with(".lock-") && !finished
        })
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn assert_no_partial_root(store: &ImageStore) {
    let left = leftovers(store);
    assert!(
        left.is_empty(),
        "left behind in {}: {left:?}",
        store.dir().display()
    );
}

/// Nothing at all but lock files: no root, finished or not.
fn assert_nothing_unpacked(store: &ImageStore) {
    assert_no_partial_root(store);
    let roots: Vec<String> = std::fs::read_dir(store.dir())
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with(".lock-"))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(roots, Vec::<String>::new(), "in {}", store.dir().display());
}

fn files_named(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return found;
    };
    for e in rd.flatten() {
        let p = e.path();
        if e.file_name() == name {
            found.push(p.clone());
        }
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(files_named(&p, name));
        }
    }
    found
}

// ---------------------------------------------------------------- the formats

#[test]
fn oci_layout_unpacks_to_what_an_engine_shows() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    let spec = Spec::new(two_layers());
    let digests = oci_layout(&layout, std::slice::from_ref(&spec), false);
    let store = ImageStore::new(&tmp.path().join("cache"));
    let image = store.unpack(&layout, None).unwrap();
    assert_tree(&image.root, &expected_tree());
    assert_eq!(hard_link_groups(&image.root), expected_links());
    assert_eq!(
        image,
        Image {
            root: tmp
                .path()
                .join("cache/images")
                .join(spec.image_id().replace(':', "-"))
                .join("rootfs"),
            digest: digests[0].clone(),
            image_id: spec.image_id(),
            reference: Some("1".into()),
            platform: ImagePlatform::new("linux", "amd64", None),
            source_kind: ImageSourceKind::OciLayout,
            cached: false,
        }
    );
    assert_no_partial_root(&store);
}

#[test]
fn docker_save_tarball_unpacks_to_the_same_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = Spec::new(two_layers());
    let tar = tmp.path().join("image.tar");
    std::fs::write(&tar, docker_save(std::slice::from_ref(&spec))).unwrap();
    let store = ImageStore::new(&tmp.path().join("cache"));
    let image = store.unpack(&tar, None).unwrap();
    assert_tree(&image.root, &expected_tree());
    assert_eq!(hard_link_groups(&image.root), expected_links());
    assert_eq!(image.source_kind, ImageSourceKind::DockerArchive);
    assert_eq!(image.reference.as_deref(), Some("test/img:1"));
    // No OCI manifest in an old docker save: the record's digest is the image ID.
    assert_eq!(image.digest, spec.image_id());
    assert_eq!(image.image_id, spec.image_id());
    assert!(!image.cached);
}

#[test]
fn gzipped_docker_save_and_oci_archive_unpack_too() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = Spec::new(two_layers());

    // `docker save IMAGE | gzip > image.tar.gz`
    let tgz = tmp.path().join("image.tar.gz");
    std::fs::write(&tgz, gzip(&docker_save(std::slice::from_ref(&spec)))).unwrap();
    let store = ImageStore::new(&tmp.path().join("cache1"));
    let image = store.unpack(&tgz, None).unwrap();
    assert_tree(&image.root, &expected_tree());
    assert_eq!(image.source_kind, ImageSourceKind::DockerArchive);
    assert_no_partial_root(&store);

    // `skopeo copy … oci-archive:image.tar`
    let layout = tmp.path().join("layout");
    let digests = oci_layout(&layout, std::slice::from_ref(&spec), false);
    let archive = tmp.path().join("oci.tar");
    std::fs::write(&archive, tar_dir(&layout)).unwrap();
    let store = ImageStore::new(&tmp.path().join("cache2"));
    let image = store.unpack(&archive, None).unwrap();
    assert_tree(&image.root, &expected_tree());
    assert_eq!(image.source_kind, ImageSourceKind::OciArchive);
    assert_eq!(image.digest, digests[0]);
}

#[test]
fn docker_save_links_a_repeated_layer_to_its_first_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let base = Layer::new().dir("a", 0o755).file("a/x", 0o644, "x\n").tar();
    let remove = Layer::new().file("a/.wh.x", 0o644, "").tar();
    // base, remove, base again: x comes back; the third layer is a symlink in the tarball.
    let spec = Spec::new(vec![base.clone(), remove, base]);
    let tar = tmp.path().join("image.tar");
    let bytes = docker_save(std::slice::from_ref(&spec));
    std::fs::write(&tar, &bytes).unwrap();
    let store = ImageStore::new(&tmp.path().join("cache"));
    let image = store.unpack(&tar, None).unwrap();
    assert_eq!(
        std::fs::read_to_string(image.root.join("a/x")).unwrap(),
        "x\n"
    );
}

#[test]
fn docker_save_with_blobs_unpacks_through_either_side() {
    // Docker ≥ 25 writes an OCI layout (plain layers) and manifest.json naming its blobs.
    let tmp = tempfile::tempdir().unwrap();
    let mut spec = Spec::new(two_layers());
    spec.gzip = false;
    let layout = tmp.path().join("layout");
    let digests = oci_layout(&layout, std::slice::from_ref(&spec), false);
    let blob = |b: &[u8]| format!("blobs/sha256/{}", sha256_hex(b));
    let manifest = serde_json::json!([{
        "Config": blob(&spec.config()),
        "RepoTags": [spec.tag],
        "Layers": spec.layers.iter().map(|l| blob(l)).collect::<Vec<_>>(),
    }]);
    std::fs::write(
        layout.join("manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let tar = tmp.path().join("image.tar");
    std::fs::write(&tar, tar_dir(&layout)).unwrap();
    let image = ImageStore::new(&tmp.path().join("cache1"))
        .unpack(&tar, None)
        .unwrap();
    assert_eq!(image.source_kind, ImageSourceKind::DockerArchive);
    assert_eq!(
        image.digest, digests[0],
        "the OCI side gives the manifest digest"
    );
    assert_tree(&image.root, &expected_tree());

    // Without index.json, manifest.json alone leads to the same blobs.
    std::fs::remove_file(layout.join("index.json")).unwrap();
    std::fs::write(&tar, tar_dir(&layout)).unwrap();
    let image = ImageStore::new(&tmp.path().join("cache2"))
        .unpack(&tar, None)
        .unwrap();
    assert_eq!(image.source_kind, ImageSourceKind::DockerArchive);
    assert_eq!(image.digest, spec.image_id());
    assert_eq!(image.reference.as_deref(), Some("test/img:1"));
    assert_tree(&image.root, &expected_tree());
}

// ---------------------------------------------------------------- the cache

#[test]
fn a_second_unpack_is_a_cache_hit_that_reads_no_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    let spec = Spec::new(two_layers());
    oci_layout(&layout, std::slice::from_ref(&spec), false);
    let cache = tmp.path().join("cache");
    let first = ImageStore::new(&cache).unpack(&layout, None).unwrap();
    assert!(!first.cached);

    // Remove the layer blobs: a hit must not need them (a fresh store: no in-process memo).
    for l in &spec.layers {
        std::fs::remove_file(layout.join("blobs/sha256").join(sha256_hex(&gzip(l)))).unwrap();
    }
    let store = ImageStore::new(&cache);
    let second = store.unpack(&layout, None).unwrap();
    assert!(second.cached);
    assert_eq!(second.root, first.root);
    assert_eq!(second.digest, first.digest);
    assert_tree(&second.root, &expected_tree());
    let third = store.unpack(&layout, None).unwrap();
    assert!(third.cached);

    // The same image as a docker save tarball is the same image ID: the same root.
    let tar = tmp.path().join("image.tar");
    std::fs::write(&tar, docker_save(std::slice::from_ref(&spec))).unwrap();
    let from_docker = store.unpack(&tar, None).unwrap();
    assert!(from_docker.cached);
    assert_eq!(from_docker.root, first.root);
}

#[test]
fn concurrent_unpacks_of_one_image_unpack_it_once() {
    let tmp = tempfile::tempdir().unwrap();
    let tar = tmp.path().join("image.tar");
    std::fs::write(&tar, docker_save(&[Spec::new(two_layers())])).unwrap();
    let cache = tmp.path().join("cache");
    let results: Vec<Image> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| ImageStore::new(&cache).unpack(&tar, None).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|i| !i.cached).count(), 1);
    assert!(results.iter().all(|i| i.root == results[0].root));
    assert_tree(&results[0].root, &expected_tree());
    assert_no_partial_root(&ImageStore::new(&cache));
}

#[test]
fn an_interrupted_unpack_is_cleaned_up_and_redone() {
    let tmp = tempfile::tempdir().unwrap();
    let tar = tmp.path().join("image.tar");
    let spec = Spec::new(two_layers());
    std::fs::write(&tar, docker_save(std::slice::from_ref(&spec))).unwrap();
    let store = ImageStore::new(&tmp.path().join("cache"));
    let name = spec.image_id().replace(':', "-");
    // A staging dir from a killed process (with a read-only dir in it) and a root without
    // its metadata file.
    let stale = store.dir().join(format!(".tmp-{name}-dead"));
    std::fs::create_dir_all(stale.join("rootfs/ro")).unwrap();
    std::fs::set_permissions(
        stale.join("rootfs/ro"),
        std::fs::Permissions::from_mode(0o555),
    )
    .unwrap();
    std::fs::create_dir_all(store.dir().join(&name).join("rootfs/junk")).unwrap();
    let image = store.unpack(&tar, None).unwrap();
    assert!(!image.cached);
    assert_tree(&image.root, &expected_tree());
    assert!(!stale.exists());
}

// ---------------------------------------------------------------- platforms

#[test]
fn the_platform_picks_the_image_from_an_index() {
    let tmp = tempfile::tempdir().unwrap();
    let layer = |s: &str| Layer::new().file("arch", 0o644, s).tar();
    let images = [
        Spec::new(vec![layer("amd64")]),
        Spec::new(vec![layer("arm64")]).arch("arm64", Some("v8")),
        Spec::new(vec![layer("armv6")]).arch("arm", Some("v6")),
        Spec::new(vec![layer("armv7")]).arch("arm", Some("v7")),
    ];
    let layout = tmp.path().join("layout");
    let digests = oci_layout(&layout, &images, true);
    let store = ImageStore::new(&tmp.path().join("cache"));
    let arch_of = |target: Target| {
        let image = store
            .unpack(&layout, Some(&ImagePlatform::for_target(&target)))
            .unwrap();
        (
            std::fs::read_to_string(image.root.join("arch")).unwrap(),
            image,
        )
    };
    let (arch, image) = arch_of(Target::linux("arm64"));
    assert_eq!(arch, "arm64");
    assert_eq!(image.digest, digests[1]);
    assert_eq!(image.platform.to_string(), "linux/arm64/v8");
    assert_eq!(image.reference.as_deref(), Some("multi"));
    assert_eq!(arch_of(Target::linux("amd64")).0, "amd64");
    assert_eq!(arch_of(Target::linux("arm")).0, "armv7");
    assert_eq!(
        arch_of(Target::linux("arm").with_variant("goarm", "6")).0,
        "armv6"
    );

    let err = store.unpack(&layout, None).unwrap_err();
    assert!(matches!(err, ImageError::AmbiguousImage { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("holds 4 images") && msg.contains("linux/arm/v6 (multi)"),
        "{msg}"
    );

    let s390x = ImagePlatform::for_target(&Target::linux("s390x"));
    let err = store.unpack(&layout, Some(&s390x)).unwrap_err();
    assert!(
        matches!(err, ImageError::NoMatchingPlatform { .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("no image for linux/s390x")
            && msg.contains("linux/amd64 (multi)")
            && msg.contains("linux/arm64/v8 (multi)"),
        "{msg}"
    );
}

#[test]
fn a_multi_image_docker_save_is_picked_by_platform() {
    let tmp = tempfile::tempdir().unwrap();
    let layer = |s: &str| Layer::new().file("arch", 0o644, s).tar();
    let tar = tmp.path().join("images.tar");
    std::fs::write(
        &tar,
        docker_save(&[
            Spec::new(vec![layer("amd64")]).tag("app:amd64"),
            Spec::new(vec![layer("riscv64")])
                .arch("riscv64", None)
                .tag("app:riscv64"),
        ]),
    )
    .unwrap();
    let store = ImageStore::new(&tmp.path().join("cache"));
    let riscv = ImagePlatform::for_target(&Target::linux("riscv64"));
    let image = store.unpack(&tar, Some(&riscv)).unwrap();
    assert_eq!(
        std::fs::read_to_string(image.root.join("arch")).unwrap(),
        "riscv64"
    );
    assert_eq!(image.reference.as_deref(), Some("app:riscv64"));
    let err = store.unpack(&tar, None).unwrap_err().to_string();
    assert!(
        err.contains("linux/amd64 (app:amd64)") && err.contains("linux/riscv64 (app:riscv64)"),
        "{err}"
    );
    // A single-image tarball whose config says amd64 is not an arm64 image.
    let one = tmp.path().join("one.tar");
    std::fs::write(&one, docker_save(&[Spec::new(vec![layer("amd64")])])).unwrap();
    let arm64 = ImagePlatform::for_target(&Target::linux("arm64"));
    let err = store.unpack(&one, Some(&arm64)).unwrap_err();
    assert!(
        matches!(err, ImageError::NoMatchingPlatform { .. }),
        "{err}"
    );
}

// ---------------------------------------------------------------- hostile and broken input

/// Unpacks a docker save tarball of `layers`; returns the error and checks nothing was left.
fn refused(tmp: &Path, layers: Vec<Vec<u8>>) -> ImageError {
    let tar = tmp.join("hostile.tar");
    std::fs::write(&tar, docker_save(&[Spec::new(layers)])).unwrap();
    let store = ImageStore::new(&tmp.join("cache"));
    let err = store
        .unpack(&tar, None)
        .expect_err("a hostile image must be refused");
    assert_nothing_unpacked(&store);
    eprintln!("refused: {err}");
    err
}

#[test]
fn dotdot_entries_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    // The root is unpacked at <tmp>/cache/images/.tmp-…/rootfs: four `..` reach <tmp>.
    for name in ["../escape", "../../../../escape"] {
        let mut l = Layer::new();
        l.raw(name.as_bytes(), EntryType::Regular, 0o644, b"", b"pwned");
        let err = refused(tmp.path(), vec![l.tar()]);
        assert!(matches!(err, ImageError::UnsafeEntry { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("`{name}`")) && msg.contains("`..` component"),
            "{msg}"
        );
        assert_eq!(files_named(tmp.path(), "escape"), Vec::<PathBuf>::new());
    }

    let mut l = Layer::new();
    l.raw(
        b"usr/../../escape",
        EntryType::Regular,
        0o644,
        b"",
        b"pwned",
    );
    let err = refused(tmp.path(), vec![l.tar()]);
    assert!(err.to_string().contains("`usr/../../escape`"), "{err}");
    assert_eq!(files_named(tmp.path(), "escape"), Vec::<PathBuf>::new());
}

#[test]
fn absolute_entries_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("abs-escape");
    let mut l = Layer::new();
    l.raw(
        target.to_str().unwrap().as_bytes(),
        EntryType::Regular,
        0o644,
        b"",
        b"pwned",
    );
    let err = refused(tmp.path(), vec![l.tar()]);
    assert!(matches!(err, ImageError::UnsafeEntry { .. }), "{err}");
    assert!(err.to_string().contains("is an absolute path"), "{err}");
    assert!(!target.exists());
}

/// A directory outside the cache with one file in it, that hostile links point at.
fn outside(tmp: &Path) -> PathBuf {
    let dir = tmp.join("outside");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("keep"), "precious").unwrap();
    dir
}

fn assert_untouched(dir: &Path) {
    let names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["keep"], "{} was written to", dir.display());
    assert_eq!(
        std::fs::read_to_string(dir.join("keep")).unwrap(),
        "precious"
    );
}

#[test]
fn a_symlink_out_of_the_root_is_kept_but_never_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let out = outside(tmp.path());
    let out_s = out.to_str().unwrap();

    // The link alone is fine: absolute links are normal in images.
    let tar = tmp.path().join("ok.tar");
    std::fs::write(
        &tar,
        docker_save(&[Spec::new(vec![Layer::new().symlink("evil", out_s).tar()])]),
    )
    .unwrap();
    let image = ImageStore::new(&tmp.path().join("cache-ok"))
        .unpack(&tar, None)
        .unwrap();
    assert_eq!(std::fs::read_link(image.root.join("evil")).unwrap(), out);

    // Writing through it, in the same layer or a later one, is refused.
    for layers in [
        vec![
            Layer::new()
                .symlink("evil", out_s)
                .file("evil/pwned", 0o644, "x")
                .tar(),
        ],
        vec![
            Layer::new().symlink("evil", out_s).tar(),
            Layer::new().file("evil/pwned", 0o644, "x").tar(),
        ],
        vec![
            Layer::new()
                .symlink("evil", out_s)
                .dir("evil/sub", 0o755)
                .tar(),
        ],
    ] {
        let err = refused(tmp.path(), layers);
        assert!(matches!(err, ImageError::UnsafeEntry { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("`evil/") && msg.contains("outside the image root"),
            "{msg}"
        );
        assert_untouched(&out);
    }

    // A later file entry at the link's own path replaces the link, not its target.
    let tar = tmp.path().join("replace.tar");
    std::fs::write(
        &tar,
        docker_save(&[Spec::new(vec![
            Layer::new().symlink("evil", &format!("{out_s}/keep")).tar(),
            Layer::new().file("evil", 0o644, "mine").tar(),
        ])]),
    )
    .unwrap();
    let image = ImageStore::new(&tmp.path().join("cache-replace"))
        .unpack(&tar, None)
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(image.root.join("evil")).unwrap(),
        "mine"
    );
    assert_untouched(&out);
}

#[test]
fn symlink_chains_out_of_the_root_are_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let out = outside(tmp.path());
    for layers in [
        // a -> b -> /abs/outside
        vec![
            Layer::new()
                .symlink("a", "b")
                .symlink("b", out.to_str().unwrap())
                .file("a/pwned", 0o644, "x")
                .tar(),
        ],
        // d/up -> ../.. (past the root) -> …/outside
        vec![
            Layer::new()
                .dir("d", 0o755)
                .symlink("d/up", "../../../../../../../../../../..")
                .tar(),
            Layer::new()
                .file(&format!("d/up{}/pwned", out.to_str().unwrap()), 0o644, "x")
                .tar(),
        ],
    ] {
        let err = refused(tmp.path(), layers);
        assert!(matches!(err, ImageError::UnsafeEntry { .. }), "{err}");
        assert!(err.to_string().contains("outside the image root"), "{err}");
        assert_untouched(&out);
    }
}

#[test]
fn hard_links_out_of_the_root_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = outside(tmp.path());
    let err = refused(
        tmp.path(),
        vec![Layer::new().hardlink("h", "../../../../etc/passwd").tar()],
    );
    let msg = err.to_string();
    assert!(
        msg.contains("hard link to `../../../../etc/passwd`") && msg.contains("`..`"),
        "{msg}"
    );
    let err = refused(
        tmp.path(),
        vec![
            Layer::new()
                .symlink("evil", out.to_str().unwrap())
                .hardlink("h", "evil/keep")
                .tar(),
        ],
    );
    assert!(err.to_string().contains("outside the image root"), "{err}");
    assert_eq!(std::fs::metadata(out.join("keep")).unwrap().nlink(), 1);
    let err = refused(
        tmp.path(),
        vec![Layer::new().hardlink("h", "nowhere").tar()],
    );
    assert!(err.to_string().contains("not in the image"), "{err}");
}

#[test]
fn whiteouts_through_symlinks_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = outside(tmp.path());
    let link = Layer::new().symlink("evil", out.to_str().unwrap()).tar();
    for marker in ["evil/.wh.keep", "evil/.wh..wh..opq"] {
        let err = refused(
            tmp.path(),
            vec![link.clone(), Layer::new().file(marker, 0o644, "").tar()],
        );
        assert!(matches!(err, ImageError::UnsafeEntry { .. }), "{err}");
        assert!(err.to_string().contains("outside the image root"), "{err}");
        assert_untouched(&out);
    }
}

#[test]
fn whiting_out_a_directory_does_not_follow_links_inside_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = outside(tmp.path());
    let tar = tmp.path().join("image.tar");
    std::fs::write(
        &tar,
        docker_save(&[Spec::new(vec![
            Layer::new()
                .dir("d", 0o755)
                .symlink("d/out", out.to_str().unwrap())
                .dir("e", 0o755)
                .symlink("e/out", out.to_str().unwrap())
                .tar(),
            Layer::new()
                .file(".wh.d", 0o644, "")
                .dir("e", 0o755)
                .file("e/.wh..wh..opq", 0o644, "")
                .tar(),
        ])]),
    )
    .unwrap();
    let image = ImageStore::new(&tmp.path().join("cache"))
        .unpack(&tar, None)
        .unwrap();
    assert!(!image.root.join("d").exists());
    assert_eq!(std::fs::read_dir(image.root.join("e")).unwrap().count(), 0);
    assert_untouched(&out);
}

#[test]
fn device_nodes_and_fifos_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    for (kind, what) in [
        (EntryType::Char, "character device 1:3"),
        (EntryType::Block, "block device 8:0"),
        (EntryType::Fifo, "FIFO"),
    ] {
        let (major, minor) = if kind == EntryType::Block {
            (8, 0)
        } else {
            (1, 3)
        };
        let err = refused(
            tmp.path(),
            vec![
                Layer::new()
                    .dir("dev", 0o755)
                    .device("dev/node", kind, major, minor)
                    .tar(),
            ],
        );
        assert!(matches!(err, ImageError::SpecialFile { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("`dev/node`") && msg.contains(what) && msg.contains("refused"),
            "{msg}"
        );
    }
}

#[test]
fn digest_mismatches_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = Spec::new(two_layers());

    // A layer blob whose content no longer matches its name (and manifest digest).
    let layout = tmp.path().join("layout");
    oci_layout(&layout, std::slice::from_ref(&spec), false);
    let blob = layout
        .join("blobs/sha256")
        .join(sha256_hex(&gzip(&spec.layers[1])));
    std::fs::write(&blob, gzip(&Layer::new().file("other", 0o644, "x").tar())).unwrap();
    let store = ImageStore::new(&tmp.path().join("cache"));
    let err = store.unpack(&layout, None).unwrap_err();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains("layer 2/2"), "{err}");
    assert_no_partial_root(&store);

    // A config edited after export.
    let layout = tmp.path().join("layout2");
    oci_layout(&layout, std::slice::from_ref(&spec), false);
    let config = layout
        .join("blobs/sha256")
        .join(spec.image_id().trim_start_matches("sha256:"));
    std::fs::write(&config, br#"{"architecture":"arm64","os":"linux"}"#).unwrap();
    let err = store.unpack(&layout, None).unwrap_err();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains("image config"), "{err}");

    assert_no_partial_root(&store);
}

#[test]
fn a_layer_that_differs_from_its_diff_id_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = Spec::new(two_layers());
    // Config (and so image ID) honest for `spec`, layer 1 swapped in the tarball.
    let mut tar_spec = spec.clone();
    tar_spec.layers[0] = Layer::new().file("swapped", 0o644, "x").tar();
    let good_config = spec.config();
    let mut out = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        out.append_data(&mut h, name, data).unwrap();
    };
    add("l1.tar", &tar_spec.layers[0]);
    add("l2.tar", &tar_spec.layers[1]);
    add("config.json", &good_config);
    // docker save names the config after its digest: an edited one no longer matches.
    let edited = String::from_utf8(good_config.clone())
        .unwrap()
        .replace("amd64", "arm64");
    add(
        &format!("{}.json", sha256_hex(&good_config)),
        edited.as_bytes(),
    );
    add(
        "manifest.json",
        br#"[{"Config":"config.json","RepoTags":null,"Layers":["l1.tar","l2.tar"]}]"#,
    );
    add(
        "edited.json",
        format!(
            r#"[{{"Config":"{}.json","RepoTags":null,"Layers":["l1.tar","l2.tar"]}}]"#,
            sha256_hex(&good_config)
        )
        .as_bytes(),
    );
    let tar = tmp.path().join("image.tar");
    std::fs::write(&tar, out.into_inner().unwrap()).unwrap();
    let store = ImageStore::new(&tmp.path().join("cache"));
    let err = store.unpack(&tar, None).unwrap_err();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("uncompressed layer 1/2") && msg.contains("export it again"),
        "{msg}"
    );
    assert_no_partial_root(&store);

    // The same tarball with manifest.json pointing at the edited, digest-named config.
    let bytes = std::fs::read(&tar).unwrap();
    let mut archive = tar::Archive::new(&bytes[..]);
    let mut rebuilt = tar::Builder::new(Vec::new());
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        let name = match name.as_str() {
            "manifest.json" => continue,
            "edited.json" => "manifest.json".to_string(),
            n => n.to_string(),
        };
        let mut h = Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        rebuilt.append_data(&mut h, name, &data[..]).unwrap();
    }
    std::fs::write(&tar, rebuilt.into_inner().unwrap()).unwrap();
    let err = store.unpack(&tar, None).unwrap_err();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains("the image config"), "{err}");
    assert_no_partial_root(&store);
}

#[test]
fn a_truncated_tarball_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = docker_save(&[Spec::new(two_layers())]);
    let store = ImageStore::new(&tmp.path().join("cache"));
    // Inside a layer, inside manifest.json (near the end), and the end-of-archive blocks.
    for cut in [
        bytes.len() / 2,
        bytes.len() - 1024 - 512 - 700,
        bytes.len() - 1024,
    ] {
        let tar = tmp.path().join("cut.tar");
        std::fs::write(&tar, &bytes[..cut]).unwrap();
        let err = store.unpack(&tar, None).unwrap_err();
        assert!(matches!(err, ImageError::Malformed { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("truncated"), "cut at {cut}: {msg}");
        assert_no_partial_root(&store);
    }
    // A gzipped layer cut short inside an OCI layout.
    let spec = Spec::new(two_layers());
    let layout = tmp.path().join("layout");
    oci_layout(&layout, std::slice::from_ref(&spec), false);
    let blob = layout
        .join("blobs/sha256")
        .join(sha256_hex(&gzip(&spec.layers[0])));
    let full = std::fs::read(&blob).unwrap();
    std::fs::write(&blob, &full[..full.len() / 2]).unwrap();
    let err = store.unpack(&layout, None).unwrap_err();
    assert!(
        matches!(
            err,
            ImageError::Layer { .. } | ImageError::DigestMismatch { .. }
        ),
        "{err}"
    );
    assert_no_partial_root(&store);
}

#[test]
fn layers_over_the_size_cap_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let big = "x".repeat(4096);
    let tar = tmp.path().join("big.tar");
    std::fs::write(
        &tar,
        docker_save(&[Spec::new(vec![
            Layer::new().file("a", 0o644, &big).tar(),
            Layer::new().file("b", 0o644, &big).tar(),
        ])]),
    )
    .unwrap();
    let store = ImageStore::new(&tmp.path().join("cache")).with_max_unpacked_bytes(6000);
    let err = store.unpack(&tar, None).unwrap_err();
    assert!(
        matches!(err, ImageError::TooLarge { limit: 6000, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("limit of 6000 bytes"), "{err}");
    assert_no_partial_root(&store);
    let roomy = ImageStore::new(&tmp.path().join("cache2")).with_max_unpacked_bytes(8192);
    roomy.unpack(&tar, None).unwrap();

    // A header claiming 1 TiB is refused on the header, not after reading (there is no data).
    let mut h = Header::new_ustar();
    h.set_entry_type(EntryType::Regular);
    h.set_size(1 << 40);
    h.set_mode(0o644);
    h.as_old_mut().name[..4].copy_from_slice(b"huge");
    h.set_cksum();
    let mut layer = h.as_bytes().to_vec();
    layer.extend_from_slice(&[0u8; 1024]);
    let huge = tmp.path().join("huge.tar");
    std::fs::write(&huge, docker_save(&[Spec::new(vec![layer])])).unwrap();
    let err = ImageStore::new(&tmp.path().join("cache3"))
        .unpack(&huge, None)
        .unwrap_err();
    assert!(matches!(err, ImageError::TooLarge { .. }), "{err}");
}

#[test]
fn zstd_layers_are_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    // An OCI layout says so in the layer's media type: refused before anything is unpacked…
    let mut spec = Spec::new(vec![Layer::new().file("a", 0o644, "a").tar()]);
    spec.layer_media_type = Some("application/vnd.oci.image.layer.v1.tar+zstd");
    let layout = tmp.path().join("layout");
    oci_layout(&layout, std::slice::from_ref(&spec), false);
    let store = ImageStore::new(&tmp.path().join("cache"));
    let err = store.unpack(&layout, None).unwrap_err();
    assert!(
        matches!(
            err,
            ImageError::UnsupportedCompression {
                compression: "zstd",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("zstd-compressed layers are not supported"),
        "{err}"
    );
    // …and docker save's layers are judged by their bytes.
    let mut zstd_like = vec![0x28, 0xb5, 0x2f, 0xfd];
    zstd_like.extend_from_slice(&[0u8; 600]);
    let err = refused(tmp.path(), vec![zstd_like]);
    assert!(
        matches!(
            err,
            ImageError::UnsupportedCompression {
                compression: "zstd",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn what_is_not_an_image_is_told_so() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::new(&tmp.path().join("cache"));
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let text = tmp.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    let plain_tar = tmp.path().join("plain.tar");
    std::fs::write(&plain_tar, Layer::new().file("a", 0o644, "a").tar()).unwrap();
    for p in [&empty, &text, &plain_tar] {
        let err = store.unpack(p, None).unwrap_err();
        assert!(matches!(err, ImageError::NotAnImage { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.starts_with("not an OCI layout or docker save tarball")
                && msg.contains("docker save IMAGE -o image.tar"),
            "{msg}"
        );
    }
    let err = store
        .unpack(&tmp.path().join("missing.tar"), None)
        .unwrap_err();
    assert!(matches!(err, ImageError::Io { .. }), "{err}");
    assert_no_partial_root(&store);
}

// ---------------------------------------------------------------- against real tools

/// `SKIPPED: …` when `tool` is missing; a failure when `CI` is set (CI installs it).
fn need_tool(test: &str, tool: &str) -> Option<PathBuf> {
    match which::which(tool) {
        Ok(p) => Some(p),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("{test}: `{tool}` is missing and CI is set (ci/setup installs it)")
        }
        Err(_) => {
            eprintln!("SKIPPED: {test}: needs `{tool}` (apt-get install -y umoci skopeo)");
            None
        }
    }
}

#[test]
fn umoci_unpacks_the_same_tree() {
    let test = "umoci_unpacks_the_same_tree";
    let Some(umoci) = need_tool(test, "umoci") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    let spec = Spec::new(two_layers());
    oci_layout(&layout, std::slice::from_ref(&spec), false);
    let bundle = tmp.path().join("bundle");
    run_checked(
        Command::new(umoci)
            .args(["unpack", "--rootless", "--image"])
            .arg(format!("{}:1", layout.display()))
            .arg(&bundle),
        Duration::from_secs(120),
    )
    .unwrap();
    let theirs = bundle.join("rootfs");
    let ours = ImageStore::new(&tmp.path().join("cache"))
        .unpack(&layout, None)
        .unwrap();
    assert_tree(&ours.root, &tree(&theirs));
    assert_eq!(hard_link_groups(&ours.root), hard_link_groups(&theirs));
    // And both are what the test expects.
    assert_tree(&theirs, &expected_tree());
}

#[test]
fn skopeo_written_archives_unpack_to_the_same_tree() {
    let test = "skopeo_written_archives_unpack_to_the_same_tree";
    let Some(skopeo) = need_tool(test, "skopeo") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    let spec = Spec::new(two_layers());
    oci_layout(&layout, std::slice::from_ref(&spec), false);
    let from = format!("oci:{}:1", layout.display());
    let docker_tar = tmp.path().join("docker.tar");
    let oci_tar = tmp.path().join("oci.tar");
    for to in [
        format!("docker-archive:{}:test/img:1", docker_tar.display()),
        format!("oci-archive:{}:1", oci_tar.display()),
    ] {
        run_checked(
            Command::new(&skopeo).args(["--insecure-policy", "copy", "-q", &from, &to]),
            Duration::from_secs(120),
        )
        .unwrap();
    }
    for (tar, kind) in [
        (&docker_tar, ImageSourceKind::DockerArchive),
        (&oci_tar, ImageSourceKind::OciArchive),
    ] {
        // A fresh cache each: a shared one would (rightly) answer from the first unpack.
        let store = ImageStore::new(&tmp.path().join(format!("cache-{kind}")));
        let image = store.unpack(tar, None).unwrap();
        assert_eq!(image.source_kind, kind);
        assert!(!image.cached);
        assert_tree(&image.root, &expected_tree());
        assert_eq!(hard_link_groups(&image.root), expected_links());
    }
}
