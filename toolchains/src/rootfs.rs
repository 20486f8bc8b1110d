//! Target root filesystems (dynamic loader + libc for one GOARCH, glibc or musl), assembled
//! rootless from Debian packages with apt-get and dpkg-deb, content-addressed and cached.

use crossmatrix_sandbox::host::{self as command, CommandError};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

const UPDATE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
const PRINT_URIS_TIMEOUT: Duration = Duration::from_secs(2 * 60);
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const EXTRACT_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Package lists older than this are refreshed (`apt-get update`) before use.
const LISTS_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// Bumped when [`finish_tree`] changes what it adds, so cached roots are rebuilt.
const LAYOUT_VERSION: u32 = 2;

/// Where Go (and OpenSSL) look for the CA bundle on Debian and Alpine.
pub const CA_BUNDLE: &str = "etc/ssl/certs/ca-certificates.crt";

/// Pins that make the result independent of the host's apt preferences: Debian stable wins
/// where it has the architecture; trixie fills in the rest (riscv64 is only in trixie).
const APT_PREFERENCES: &str = "Package: *\nPin: release n=trixie\nPin-Priority: 50\n";

/// Used when the host lists no Debian archive (e.g. an Ubuntu host with the
/// debian-archive-keyring package).
const FALLBACK_SOURCES: &str = "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n";

/// Which C library the rootfs carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RootfsFlavor {
    /// Debian's `libc6` (Debian-like image).
    Glibc,
    /// Debian's `musl` (Alpine-like image).
    Musl,
    /// Debian's `musl-dev`: not a runtime root but a sysroot that cgo builds link against
    /// (`libc.a`, headers, crt objects), so zig need not compile musl from source (~90 s of CPU
    /// per architecture) — see `cc::CCompiler::with_musl_sysroot`.
    MuslDev,
}

impl RootfsFlavor {
    pub fn as_str(self) -> &'static str {
        match self {
            RootfsFlavor::Glibc => "glibc",
            RootfsFlavor::Musl => "musl",
            RootfsFlavor::MuslDev => "musl-dev",
        }
    }
    /// The Debian package that carries the loader and libc.
    pub fn package(self) -> &'static str {
        match self {
            RootfsFlavor::Glibc => "libc6",
            RootfsFlavor::Musl => "musl",
            RootfsFlavor::MuslDev => "musl-dev",
        }
    }
    /// Every Debian package the rootfs is made of: the libc, plus CA certificates and the
    /// time zone database (as in debian-slim and alpine images; the last two are `Arch: all`).
    /// The musl-dev sysroot is only linked against: libc and headers are all it needs.
    pub fn packages(self) -> &'static [&'static str] {
        match self {
            RootfsFlavor::Glibc => &["libc6", "ca-certificates", "tzdata"],
            RootfsFlavor::Musl => &["musl", "ca-certificates", "tzdata"],
            RootfsFlavor::MuslDev => &["musl-dev", "musl"],
        }
    }
}

impl fmt::Display for RootfsFlavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Debian's architecture name for a GOARCH; `None` where Debian (bookworm/trixie) has no port.
pub fn debian_arch(goarch: &str) -> Option<&'static str> {
    Some(match goarch {
        "amd64" => "amd64",
        "arm64" => "arm64",
        "arm" => "armhf",
        "386" => "i386",
        "ppc64le" => "ppc64el",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        "mips64le" => "mips64el",
        "mipsle" => "mipsel",
        _ => return None,
    })
}

/// Where Debian's `musl-dev` puts `libc.a` and the crt objects for GOARCH, relative to the
/// root (`usr/lib/<musl multiarch triple>`).
pub fn musl_sysroot_lib(goarch: &str) -> Option<&'static str> {
    Some(match goarch {
        "amd64" => "usr/lib/x86_64-linux-musl/libc.a",
        "arm64" => "usr/lib/aarch64-linux-musl/libc.a",
        "riscv64" => "usr/lib/riscv64-linux-musl/libc.a",
        "386" => "usr/lib/i386-linux-musl/libc.a",
        "arm" => "usr/lib/arm-linux-musleabihf/libc.a",
        "ppc64le" => "usr/lib/powerpc64le-linux-musl/libc.a",
        "s390x" => "usr/lib/s390x-linux-musl/libc.a",
        _ => return None,
    })
}

/// The dynamic loader dynamically linked binaries name (PT_INTERP), relative to the root.
pub fn loader_path(goarch: &str, flavor: RootfsFlavor) -> Option<&'static str> {
    Some(match (flavor, goarch) {
        (RootfsFlavor::Glibc, "386") => "lib/ld-linux.so.2",
        (RootfsFlavor::Glibc, "amd64") => "lib64/ld-linux-x86-64.so.2",
        (RootfsFlavor::Glibc, "arm") => "lib/ld-linux-armhf.so.3",
        (RootfsFlavor::Glibc, "arm64") => "lib/ld-linux-aarch64.so.1",
        (RootfsFlavor::Glibc, "ppc64le") => "lib64/ld64.so.2",
        (RootfsFlavor::Glibc, "riscv64") => "lib/ld-linux-riscv64-lp64d.so.1",
        (RootfsFlavor::Glibc, "s390x") => "lib/ld64.so.1",
        (RootfsFlavor::Glibc, "mips64le") => "lib64/ld.so.1",
        (RootfsFlavor::Glibc, "mipsle") => "lib/ld.so.1",
        (RootfsFlavor::Musl, "386") => "lib/ld-musl-i386.so.1",
        (RootfsFlavor::Musl, "amd64") => "lib/ld-musl-x86_64.so.1",
        (RootfsFlavor::Musl, "arm") => "lib/ld-musl-armhf.so.1",
        (RootfsFlavor::Musl, "arm64") => "lib/ld-musl-aarch64.so.1",
        (RootfsFlavor::Musl, "ppc64le") => "lib/ld-musl-powerpc64le.so.1",
        (RootfsFlavor::Musl, "riscv64") => "lib/ld-musl-riscv64.so.1",
        (RootfsFlavor::Musl, "s390x") => "lib/ld-musl-s390x.so.1",
        (RootfsFlavor::Musl, "mips64le") => "lib/ld-musl-mips64el.so.1",
        (RootfsFlavor::Musl, "mipsle") => "lib/ld-musl-mipsel.so.1",
        // For the sysroot, the file that proves it is complete: the static libc.
        (RootfsFlavor::MuslDev, arch) => return musl_sysroot_lib(arch),
        _ => return None,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error(
        "Debian has no port for linux/{goarch}, so there is no {flavor} rootfs for it (use rootfs `scratch` with a static binary, or a directory of your own)"
    )]
    UnsupportedArch {
        goarch: String,
        flavor: RootfsFlavor,
    },
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Command { what: String, source: CommandError },
    #[error(
        "apt-get printed no download for {package}:{arch} (is the {arch} architecture in the Debian sources? apt-get update said: {update})"
    )]
    NoPackage {
        package: String,
        arch: String,
        update: String,
    },
    #[error("{} has SHA256 {actual}, apt expected {expected}", file.display())]
    Checksum {
        file: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("after extracting {package}, {} lacks the loader /{loader}", root.display())]
    MissingLoader {
        package: String,
        loader: String,
        root: PathBuf,
    },
}

pub(crate) fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> RootfsError {
    move |source| RootfsError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// A cache of assembled root filesystems under one directory.
///
/// Layout: `apt/<debarch>/` (lists, cache, downloaded .debs), `<debarch>-<flavor>-<hash>/`
/// (finished roots, never modified once renamed into place), `<debarch>-<flavor>.latest` (name
/// of the newest finished root, used when apt cannot be reached), `.lock-<debarch>`.
#[derive(Debug)]
pub struct RootfsStore {
    dir: PathBuf,
    /// Roots already resolved by this process: later cells skip apt entirely.
    resolved: Mutex<HashMap<(String, RootfsFlavor), PathBuf>>,
}

/// One .deb as apt names it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DebUri {
    url: String,
    file_name: String,
    sha256: Option<String>,
}

/// Parses `apt-get --print-uris download` output:
/// `'http://…/libc6_2.36-9_arm64.deb' libc6_2.36-9_arm64.deb 2757036 SHA256:ab12…`.
fn parse_print_uris(text: &str) -> Vec<DebUri> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line.strip_prefix('\'')?;
            let (url, rest) = rest.split_once('\'')?;
            let mut words = rest.split_whitespace();
            let file_name = words.next()?.to_string();
            let _size = words.next();
            let sha256 = words
                .next()
                .and_then(|h| h.strip_prefix("SHA256:"))
                .map(str::to_ascii_lowercase);
            Some(DebUri {
                url: url.to_string(),
                file_name,
                sha256,
            })
        })
        .collect()
}

/// Keeps the Debian archive entries of a host sources file (one-line `.list` or deb822
/// `.sources` format): third-party repositories are usually amd64-only or unreachable.
fn debian_only_sources(file_name: &str, text: &str) -> String {
    let is_debian = |s: &str| s.contains("debian.org/debian");
    if file_name.ends_with(".sources") {
        text.split("\n\n")
            .filter(|stanza| {
                stanza
                    .lines()
                    .any(|l| l.trim_start().starts_with("URIs:") && is_debian(l))
            })
            .map(|s| format!("{}\n", s.trim_end()))
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        text.lines()
            .filter(|l| l.trim_start().starts_with("deb ") && is_debian(l))
            .map(|l| format!("{l}\n"))
            .collect()
    }
}

fn write_if_changed(path: &Path, text: &str) -> Result<(), RootfsError> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    std::fs::write(path, text).map_err(io("cannot write", path))
}

/// Whether `a` was modified after `b` (false when either cannot be read).
fn modified_after(a: &Path, b: &Path) -> bool {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    matches!((m(a), m(b)), (Some(a), Some(b)) if a > b)
}

fn sha256_file(path: &Path) -> Result<String, RootfsError> {
    let mut f = File::open(path).map_err(io("cannot open", path))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(io("cannot read", path))?;
    Ok(hex::encode(h.finalize()))
}

/// An exclusive lock on a file (the installers' [`crate::lock`]), released when dropped.
struct Lock {
    _lock: crate::lock::FileLock,
}

impl Lock {
    fn acquire(path: &Path) -> Result<Lock, RootfsError> {
        crate::lock::lock_exclusive(path, || {})
            .map(|l| Lock { _lock: l })
            .map_err(|source| RootfsError::Io {
                what: "cannot lock",
                path: path.to_path_buf(),
                source,
            })
    }
}

/// apt-get, confined to one architecture and to directories under the store.
struct Apt {
    arch: &'static str,
    dir: PathBuf,
}

impl Apt {
    fn lists(&self) -> PathBuf {
        self.dir.join("lists")
    }
    fn stamp(&self) -> PathBuf {
        self.dir.join("updated")
    }
    fn debs(&self) -> PathBuf {
        self.dir.join("debs")
    }

    /// Creates the directories and private config apt needs.
    fn prepare(&self) -> Result<(), RootfsError> {
        for d in [
            self.lists().join("partial"),
            self.dir.join("cache/archives/partial"),
            self.dir.join("sources.list.d"),
            self.dir.join("preferences.d"),
            self.debs(),
        ] {
            std::fs::create_dir_all(&d).map_err(io("cannot create", &d))?;
        }
        let status = self.dir.join("status");
        if !status.exists() {
            std::fs::write(&status, "").map_err(io("cannot write", &status))?;
        }
        write_if_changed(&self.dir.join("preferences"), APT_PREFERENCES)?;
        self.write_sources()
    }

    /// Copies the host's Debian sources (filtered) into our own sources.list.d. Files are
    /// rewritten only when their content changes: apt rebuilds its package cache (seconds)
    /// whenever a source file is newer than it.
    fn write_sources(&self) -> Result<(), RootfsError> {
        let parts = self.dir.join("sources.list.d");
        let mut host_files: Vec<PathBuf> = vec![PathBuf::from("/etc/apt/sources.list")];
        if let Ok(rd) = std::fs::read_dir("/etc/apt/sources.list.d") {
            let mut more: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
            more.sort();
            host_files.extend(more);
        }
        let mut wanted: Vec<(String, String)> = Vec::new();
        for (i, src) in host_files.iter().enumerate() {
            let Some(name) = src.file_name().map(|n| n.to_string_lossy().into_owned()) else {
                continue;
            };
            if !(name.ends_with(".list") || name.ends_with(".sources")) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(src) else {
                continue;
            };
            let kept = debian_only_sources(&name, &text);
            if !kept.trim().is_empty() {
                wanted.push((format!("{i:02}-{name}"), kept));
            }
        }
        if wanted.is_empty() {
            wanted.push(("debian.sources".into(), FALLBACK_SOURCES.into()));
        }
        if let Ok(rd) = std::fs::read_dir(&parts) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !wanted.iter().any(|(n, _)| *n == name) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        for (name, text) in wanted {
            write_if_changed(&parts.join(name), &text)?;
        }
        Ok(())
    }

    fn command(&self) -> Command {
        let d = self.dir.display();
        let mut cmd = Command::new("apt-get");
        cmd.env("LC_ALL", "C")
            .arg("-q")
            .arg(format!("-oAPT::Architecture={}", self.arch))
            .arg(format!("-oAPT::Architectures={}", self.arch))
            .arg(format!("-oDir::State::Lists={d}/lists"))
            .arg(format!("-oDir::State::status={d}/status"))
            .arg(format!("-oDir::Cache={d}/cache"))
            // Keep apt's parsed package cache (Docker images disable it): 0.4 s instead of
            // 2 s per query. The source cache is redundant with our empty, fixed status file.
            .arg("-oDir::Cache::pkgcache=pkgcache.bin")
            .arg("-oDir::Cache::srcpkgcache=")
            .arg(format!(
                "-oDir::Etc::SourceList={d}/sources.list.d/none.list"
            ))
            .arg(format!("-oDir::Etc::SourceParts={d}/sources.list.d"))
            .arg(format!("-oDir::Etc::Preferences={d}/preferences"))
            .arg(format!("-oDir::Etc::PreferencesParts={d}/preferences.d"))
            .arg("-oDebug::NoLocking=1")
            .arg("-oAcquire::Languages=none")
            .arg("-oAcquire::Retries=2");
        // As root, apt downloads as user _apt, which cannot write into our directories.
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            cmd.arg("-oAPT::Sandbox::User=root");
        }
        cmd
    }

    fn lists_fresh(&self) -> bool {
        std::fs::metadata(self.stamp())
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age < LISTS_MAX_AGE)
    }

    /// `apt-get update` unless the lists are younger than a day. A failed update is returned
    /// as text, not an error: stale lists may still do.
    fn update_if_stale(&self) -> Result<(), String> {
        if self.lists_fresh() {
            return Ok(());
        }
        let mut cmd = self.command();
        cmd.arg("update");
        match command::run_checked(&mut cmd, UPDATE_TIMEOUT) {
            Ok(out) => {
                let text = String::from_utf8_lossy(&out.stdout);
                // apt exits 0 even when every index failed; such runs must not count as fresh.
                if text.contains("Err:") && !text.contains("Hit:") && !text.contains("Get:") {
                    return Err(command::tail(&out.stdout, 6));
                }
                let _ = std::fs::write(self.stamp(), "");
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    fn print_uris(&self, packages: &[&str]) -> Result<Vec<DebUri>, CommandError> {
        let mut cmd = self.command();
        cmd.args(["--print-uris", "download"]).args(packages);
        let out = command::run_checked(&mut cmd, PRINT_URIS_TIMEOUT)?;
        Ok(parse_print_uris(&out.stdout_str()))
    }

    fn download(&self, packages: &[&str]) -> Result<(), CommandError> {
        let mut cmd = self.command();
        cmd.arg("download").args(packages).current_dir(self.debs());
        command::run_checked(&mut cmd, DOWNLOAD_TIMEOUT).map(|_| ())
    }
}

impl RootfsStore {
    pub fn new(cache_dir: &Path) -> Self {
        RootfsStore {
            dir: cache_dir.to_path_buf(),
            resolved: Mutex::new(HashMap::new()),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The newest finished root for GOARCH and `flavor`, if one was assembled before; never
    /// runs apt (for `crossmatrix doctor`).
    pub fn cached(&self, goarch: &str, flavor: RootfsFlavor) -> Option<PathBuf> {
        let arch = debian_arch(goarch)?;
        let loader = loader_path(goarch, flavor)?;
        let name =
            std::fs::read_to_string(self.dir.join(format!("{arch}-{flavor}.latest"))).ok()?;
        let root = self.dir.join(name.trim());
        root.join(loader).exists().then_some(root)
    }

    /// A directory holding GOARCH's dynamic loader and libc for `flavor`, plus a minimal
    /// `/etc`; assembled on first use (downloads with apt), reused afterwards. Safe to call
    /// from several threads and processes at once.
    pub fn get(&self, goarch: &str, flavor: RootfsFlavor) -> Result<PathBuf, RootfsError> {
        let key = (goarch.to_string(), flavor);
        let known = self
            .resolved
            .lock()
            .ok()
            .and_then(|memo| memo.get(&key).cloned());
        if let Some(p) = known.filter(|p| p.is_dir()) {
            return Ok(p);
        }
        let root = self.assemble(goarch, flavor)?;
        if let Ok(mut memo) = self.resolved.lock() {
            memo.insert(key, root.clone());
        }
        Ok(root)
    }

    fn assemble(&self, goarch: &str, flavor: RootfsFlavor) -> Result<PathBuf, RootfsError> {
        let unsupported = || RootfsError::UnsupportedArch {
            goarch: goarch.to_string(),
            flavor,
        };
        let arch = debian_arch(goarch).ok_or_else(unsupported)?;
        let loader = loader_path(goarch, flavor).ok_or_else(unsupported)?;
        std::fs::create_dir_all(&self.dir).map_err(io("cannot create", &self.dir))?;
        let _lock = Lock::acquire(&self.dir.join(format!(".lock-{arch}")))?;

        let apt = Apt {
            arch,
            dir: self.dir.join("apt").join(arch),
        };
        let latest_file = self.dir.join(format!("{arch}-{flavor}.latest"));
        let latest = || {
            let name = std::fs::read_to_string(&latest_file).ok()?;
            let p = self.dir.join(name.trim());
            p.join(loader).exists().then_some(p)
        };

        // Warm path: the lists have not changed since the newest root was resolved from them,
        // so apt would name the same packages (its answer costs ~0.5 s of CPU per query).
        if let Some(root) = latest() {
            if apt.lists_fresh() && modified_after(&latest_file, &apt.stamp()) {
                return Ok(root);
            }
        }
        apt.prepare()?;
        let update = apt.update_if_stale();
        let packages = flavor.packages();
        let debs = match apt.print_uris(packages) {
            Ok(d) if d.len() == packages.len() => d,
            Ok(_) => {
                return latest().ok_or_else(|| RootfsError::NoPackage {
                    package: packages.join(" "),
                    arch: arch.into(),
                    update: update.err().unwrap_or_else(|| "ok".into()),
                });
            }
            Err(source) => {
                return latest().ok_or_else(|| RootfsError::Command {
                    what: format!("resolving {}:{arch}", packages.join(" ")),
                    source,
                });
            }
        };

        let mut h = Sha256::new();
        h.update(format!("{arch}\n{flavor}\nlayout {LAYOUT_VERSION}\n"));
        for d in &debs {
            h.update(format!(
                "{} {}\n",
                d.file_name,
                d.sha256.as_deref().unwrap_or(&d.url)
            ));
        }
        let name = format!("{arch}-{flavor}-{}", &hex::encode(h.finalize())[..16]);
        let root = self.dir.join(&name);
        if !root.join(loader).exists() {
            self.build(&apt, &debs, flavor, loader, &root)?;
        }
        let _ = std::fs::write(&latest_file, &name);
        Ok(root)
    }

    /// Downloads (unless cached), extracts into a temporary directory, finishes the tree and
    /// renames it into place.
    fn build(
        &self,
        apt: &Apt,
        debs: &[DebUri],
        flavor: RootfsFlavor,
        loader: &str,
        root: &Path,
    ) -> Result<(), RootfsError> {
        let package = flavor.package();
        let packages = flavor.packages();
        let need_download = debs
            .iter()
            .any(|d| !apt.debs().join(&d.file_name).is_file());
        if need_download {
            apt.download(packages)
                .map_err(|source| RootfsError::Command {
                    what: format!("downloading {}:{}", packages.join(" "), apt.arch),
                    source,
                })?;
        }
        for d in debs {
            let file = apt.debs().join(&d.file_name);
            if let Some(expected) = &d.sha256 {
                let actual = sha256_file(&file)?;
                if &actual != expected {
                    let _ = std::fs::remove_file(&file);
                    return Err(RootfsError::Checksum {
                        file,
                        expected: expected.clone(),
                        actual,
                    });
                }
            }
        }

        let tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempdir_in(&self.dir)
            .map_err(io("cannot create a temporary directory in", &self.dir))?;
        for d in debs {
            let file = apt.debs().join(&d.file_name);
            let mut cmd = Command::new("dpkg-deb");
            cmd.arg("-x").arg(&file).arg(tmp.path());
            command::run_checked(&mut cmd, EXTRACT_TIMEOUT).map_err(|source| {
                RootfsError::Command {
                    what: format!("extracting {}", file.display()),
                    source,
                }
            })?;
        }
        finish_tree(tmp.path(), package)?;
        if !tmp.path().join(loader).exists() {
            return Err(RootfsError::MissingLoader {
                package: package.into(),
                loader: loader.into(),
                root: root.to_path_buf(),
            });
        }
        let staged = tmp.keep();
        if let Err(e) = std::fs::rename(&staged, root) {
            let _ = std::fs::remove_dir_all(&staged);
            // Another process finished the same root first: theirs is as good as ours.
            if !root.join(loader).exists() {
                return Err(RootfsError::Io {
                    what: "cannot move the new rootfs into place at",
                    path: root.to_path_buf(),
                    source: e,
                });
            }
        }
        Ok(())
    }
}

/// Turns extracted packages into something that behaves like a minimal image: usrmerge
/// symlinks (trixie packages ship only under usr/), mount points, and an /etc with users.
fn finish_tree(root: &Path, package: &str) -> Result<(), RootfsError> {
    use std::os::unix::fs::PermissionsExt;
    for (link, target) in [
        ("lib", "usr/lib"),
        ("lib64", "usr/lib64"),
        ("bin", "usr/bin"),
        ("sbin", "usr/sbin"),
    ] {
        let l = root.join(link);
        if l.symlink_metadata().is_err() && root.join(target).is_dir() {
            std::os::unix::fs::symlink(target, &l).map_err(io("cannot create symlink", &l))?;
        }
    }
    for d in ["etc", "tmp", "proc", "dev", "sys", "run", "root", "home"] {
        let p = root.join(d);
        std::fs::create_dir_all(&p).map_err(io("cannot create", &p))?;
    }
    let set_mode = |p: &Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
            .map_err(io("cannot chmod", p))
    };
    set_mode(&root.join("tmp"), 0o1777)?;
    set_mode(root, 0o755)?;
    let musl = package == RootfsFlavor::Musl.package();
    // Debian calls group 65534 `nogroup`, Alpine `nobody`.
    let nobody_group = if musl { "nobody" } else { "nogroup" };
    let files = [
        (
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
                .to_string(),
        ),
        ("etc/group", format!("root:x:0:\n{nobody_group}:x:65534:\n")),
        ("etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost\n".to_string()),
        (
            "etc/nsswitch.conf",
            "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n".to_string(),
        ),
        (
            "etc/os-release",
            format!("NAME=\"crossmatrix {package} rootfs\"\nID=crossmatrix\n"),
        ),
    ];
    for (rel, text) in files {
        let p = root.join(rel);
        if p.symlink_metadata().is_ok() {
            continue;
        }
        std::fs::write(&p, text).map_err(io("cannot write", &p))?;
    }
    install_ca_bundle(root)?;
    let link = |target: &str, rel: &str| -> Result<(), RootfsError> {
        let p = root.join(rel);
        if p.symlink_metadata().is_err() {
            std::os::unix::fs::symlink(target, &p).map_err(io("cannot create symlink", &p))?;
        }
        Ok(())
    };
    if root.join(CA_BUNDLE).is_file() {
        // Alpine's name for the bundle (OpenSSL's default), beside Debian's.
        link("certs/ca-certificates.crt", "etc/ssl/cert.pem")?;
    }
    if !musl && root.join("usr/share/zoneinfo/Etc/UTC").exists() {
        // debian-slim's local time is UTC through /etc/localtime; Alpine has none.
        link("../usr/share/zoneinfo/Etc/UTC", "etc/localtime")?;
        let tz = root.join("etc/timezone");
        if tz.symlink_metadata().is_err() {
            std::fs::write(&tz, "Etc/UTC\n").map_err(io("cannot write", &tz))?;
        }
    }
    Ok(())
}

/// What ca-certificates' postinst (update-ca-certificates) would do, since maintainer scripts
/// do not run here: concatenate every certificate the package ships under
/// /usr/share/ca-certificates into /etc/ssl/certs/ca-certificates.crt, in name order.
fn install_ca_bundle(root: &Path) -> Result<(), RootfsError> {
    let src = root.join("usr/share/ca-certificates");
    let mut certs = Vec::new();
    collect_crts(&src, &mut certs);
    if certs.is_empty() {
        return Ok(());
    }
    certs.sort();
    let mut bundle = String::new();
    for c in &certs {
        let text = std::fs::read_to_string(c).map_err(io("cannot read", c))?;
        bundle.push_str(text.trim_end());
        bundle.push('\n');
    }
    let dest = root.join(CA_BUNDLE);
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
    }
    std::fs::write(&dest, bundle).map_err(io("cannot write", &dest))
}

fn collect_crts(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => collect_crts(&p, out),
            Ok(t) if t.is_file() && p.extension().is_some_and(|x| x == "crt") => out.push(p),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossmatrix_matrix::LINUX_ARCHES;

    #[test]
    fn debian_arches() {
        assert_eq!(debian_arch("arm"), Some("armhf"));
        assert_eq!(debian_arch("386"), Some("i386"));
        assert_eq!(debian_arch("ppc64le"), Some("ppc64el"));
        assert_eq!(debian_arch("mips64le"), Some("mips64el"));
        for none in ["mips", "mips64", "ppc64", "loong64", "wasm"] {
            assert_eq!(debian_arch(none), None, "{none}");
        }
        for a in LINUX_ARCHES {
            for f in [RootfsFlavor::Glibc, RootfsFlavor::Musl] {
                assert_eq!(
                    debian_arch(a).is_some(),
                    loader_path(a, f).is_some(),
                    "{a} {f}"
                );
            }
        }
    }

    #[test]
    fn a_root_newer_than_fresh_lists_is_reused_without_apt() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let apt = dir.join("apt/amd64");
        std::fs::create_dir_all(&apt).unwrap();
        let stamp = apt.join("updated");
        std::fs::write(&stamp, "").unwrap();
        let ten_s_ago = SystemTime::now() - Duration::from_secs(10);
        File::options()
            .write(true)
            .open(&stamp)
            .unwrap()
            .set_modified(ten_s_ago)
            .unwrap();
        let root = dir.join("amd64-glibc-0123456789abcdef");
        std::fs::create_dir_all(root.join("lib64")).unwrap();
        std::fs::write(root.join("lib64/ld-linux-x86-64.so.2"), "").unwrap();
        std::fs::write(
            dir.join("amd64-glibc.latest"),
            "amd64-glibc-0123456789abcdef",
        )
        .unwrap();
        let store = RootfsStore::new(dir);
        assert_eq!(store.get("amd64", RootfsFlavor::Glibc).unwrap(), root);
        // apt was not even prepared (its private sources are written first thing).
        assert!(!apt.join("sources.list.d").exists());
        assert!(modified_after(&dir.join("amd64-glibc.latest"), &stamp));
        assert!(!modified_after(&stamp, &dir.join("amd64-glibc.latest")));
        assert!(!modified_after(&dir.join("missing"), &stamp));
    }

    #[test]
    fn print_uris_lines() {
        let out = "Reading package lists...\n'http://deb.debian.org/debian/pool/main/g/glibc/libc6_2.36-9%2bdeb12u10_arm64.deb' libc6_2.36-9+deb12u10_arm64.deb 2325432 SHA256:ABCDEF0123\n";
        let d = parse_print_uris(out);
        assert_eq!(
            d,
            [DebUri {
                url: "http://deb.debian.org/debian/pool/main/g/glibc/libc6_2.36-9%2bdeb12u10_arm64.deb".into(),
                file_name: "libc6_2.36-9+deb12u10_arm64.deb".into(),
                sha256: Some("abcdef0123".into()),
            }]
        );
        let md5 = parse_print_uris("'http://x/a.deb' a.deb 12 MD5Sum:00\n");
        assert_eq!(md5[0].sha256, None);
        assert!(parse_print_uris("E: nothing\n").is_empty());
    }

    #[test]
    fn host_sources_keep_only_debian() {
        let deb822 = "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n\nTypes: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\n";
        let kept = debian_only_sources("x.sources", deb822);
        assert!(kept.contains("deb.debian.org"));
        assert!(!kept.contains("nodesource"));
        let list = "# comment\ndeb https://packages.cloud.google.com/apt cloud-sdk main\ndeb http://deb.debian.org/debian bookworm main\n";
        assert_eq!(
            debian_only_sources("x.list", list),
            "deb http://deb.debian.org/debian bookworm main\n"
        );
        assert_eq!(
            debian_only_sources("y.list", "deb https://example.com/ x main\n"),
            ""
        );
    }

    #[test]
    fn finish_tree_adds_usrmerge_links_and_etc() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join("usr/lib")).unwrap();
        std::fs::write(root.join("usr/lib/ld-linux-riscv64-lp64d.so.1"), "").unwrap();
        std::fs::create_dir_all(root.join("bin")).unwrap();
        finish_tree(root, "libc6").unwrap();
        assert_eq!(
            std::fs::read_link(root.join("lib")).unwrap(),
            PathBuf::from("usr/lib")
        );
        assert!(root.join("lib/ld-linux-riscv64-lp64d.so.1").exists());
        assert!(
            root.join("bin").symlink_metadata().unwrap().is_dir(),
            "existing dirs stay"
        );
        assert!(
            root.join("lib64").symlink_metadata().is_err(),
            "no link to a missing dir"
        );
        let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
        assert!(passwd.starts_with("root:x:0:0:"));
        assert!(passwd.contains("nobody:x:65534:65534:"));
        assert!(
            std::fs::read_to_string(root.join("etc/group"))
                .unwrap()
                .contains("nogroup")
        );
        assert!(root.join("tmp").is_dir());
    }

    #[test]
    fn finish_tree_builds_the_ca_bundle_and_localtime() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let moz = root.join("usr/share/ca-certificates/mozilla");
        std::fs::create_dir_all(&moz).unwrap();
        let pem = |n: &str| format!("-----BEGIN CERTIFICATE-----\n{n}\n-----END CERTIFICATE-----");
        std::fs::write(moz.join("B_Root.crt"), pem("b") + "\n").unwrap();
        std::fs::write(moz.join("A_Root.crt"), pem("a")).unwrap(); // no final newline
        std::fs::write(moz.join("README"), "not a cert").unwrap();
        std::fs::create_dir_all(root.join("usr/share/zoneinfo/Etc")).unwrap();
        std::fs::create_dir_all(root.join("usr/share/zoneinfo/Europe")).unwrap();
        std::fs::write(root.join("usr/share/zoneinfo/Etc/UTC"), "TZif").unwrap();
        std::fs::write(root.join("usr/share/zoneinfo/Europe/Paris"), "TZif").unwrap();
        finish_tree(root, "libc6").unwrap();
        let bundle = std::fs::read_to_string(root.join(CA_BUNDLE)).unwrap();
        assert_eq!(bundle, format!("{}\n{}\n", pem("a"), pem("b")));
        assert_eq!(
            std::fs::read_to_string(root.join("etc/ssl/cert.pem")).unwrap(),
            bundle
        );
        assert_eq!(
            std::fs::read_link(root.join("etc/localtime")).unwrap(),
            PathBuf::from("../usr/share/zoneinfo/Etc/UTC")
        );
        assert_eq!(std::fs::read(root.join("etc/localtime")).unwrap(), b"TZif");

        // musl (Alpine-like): the bundle, but no /etc/localtime; no certs: no bundle.
        let m = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(m.path().join("usr/share/zoneinfo/Etc")).unwrap();
        std::fs::write(m.path().join("usr/share/zoneinfo/Etc/UTC"), "TZif").unwrap();
        finish_tree(m.path(), "musl").unwrap();
        assert!(m.path().join("etc/localtime").symlink_metadata().is_err());
        assert!(!m.path().join(CA_BUNDLE).exists());
        assert!(
            m.path()
                .join("etc/ssl/cert.pem")
                .symlink_metadata()
                .is_err()
        );
    }

    #[test]
    fn flavors_bring_certificates_and_tzdata() {
        assert_eq!(
            RootfsFlavor::Glibc.packages(),
            ["libc6", "ca-certificates", "tzdata"]
        );
        assert_eq!(
            RootfsFlavor::Musl.packages(),
            ["musl", "ca-certificates", "tzdata"]
        );
    }

    #[test]
    fn unsupported_arch_is_an_error_without_touching_apt() {
        let d = tempfile::tempdir().unwrap();
        let store = RootfsStore::new(d.path());
        let err = store.get("mips64", RootfsFlavor::Glibc).unwrap_err();
        assert!(matches!(err, RootfsError::UnsupportedArch { .. }), "{err}");
        assert!(err.to_string().contains("linux/mips64"));
    }
}
