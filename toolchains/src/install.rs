//! Installing official Go toolchains into crossmatrix's cache: the Go download index, version
//! requests (`go1.23.4`, `go1.22`, `latest`), sha256-verified downloads from go.dev or a mirror
//! (`http(s)://` or `file://`), and extraction that is atomic and safe against concurrent installs.
//!
//! Layout: `<cache>/toolchains/<version>/` is a GOROOT (it holds `bin/go`), present only once
//! complete; `<version>.lock` serialises installers of that version; `.tmp-<version>-*` are
//! staging dirs, removed on failure (and by the next installer of that version after a crash).

use crate::lock::lock_exclusive;
use crate::paths::host_goarch;
pub use crate::paths::{default_cache_dir, default_toolchains_dir, installed_toolchains};
pub use crate::version::{BadVersionRequest, VersionRequest};
use crate::version::{compare_go_versions, normalise, parse_go_version, parse_version_file};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// Where the Go project publishes its releases.
pub const GO_DEV_BASE: &str = "https://go.dev/dl/";
/// The full download index on go.dev (every release, stable or not).
pub const GO_DEV_INDEX: &str = "https://go.dev/dl/?mode=json&include=all";
/// The environment variable naming a mirror base URL (same as `--mirror`).
pub const MIRROR_ENV: &str = "CROSSMATRIX_GO_MIRROR";

/// The index is a few MB; refuse anything absurd.
const INDEX_LIMIT: u64 = 64 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
const BODY_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// One release in the Go download index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoRelease {
    pub version: String,
    #[serde(default)]
    pub stable: bool,
    #[serde(default)]
    pub files: Vec<GoFile>,
}

/// One downloadable file of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoFile {
    pub filename: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub arch: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub sha256: String,
    /// Bytes; 0 when the index does not say.
    #[serde(default)]
    pub size: u64,
    /// `archive`, `installer` or `source`.
    #[serde(default)]
    pub kind: String,
}

impl GoRelease {
    /// The `.tar.gz` archive for `os`/`arch` (the index's names: `linux`, `amd64`, `armv6l`…).
    pub fn archive_for(&self, os: &str, arch: &str) -> Option<&GoFile> {
        self.files
            .iter()
            .find(|f| f.kind == "archive" && f.os == os && f.arch == arch)
    }
}

/// The index's architecture name for a GOARCH (Go ships `armv6l` archives for GOARCH=arm).
pub fn index_arch(goarch: &str) -> &str {
    match goarch {
        "arm" => "armv6l",
        other => other,
    }
}

/// The file the download index is kept in, in the toolchains directory (read back by
/// [`crate::support::kept_index`]).
pub fn index_copy(toolchains_dir: &Path) -> PathBuf {
    toolchains_dir.join("index.json")
}

/// Parses the JSON of the Go download index.
pub fn parse_index(json: &str) -> Result<Vec<GoRelease>, serde_json::Error> {
    serde_json::from_str(json)
}

/// Why a request matched no release of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoSuchVersion {
    /// Up to five versions of the index closest to the request, oldest first.
    pub nearest: Vec<String>,
}

/// The release `req` names in `index`, among those with an archive for `os`/`arch` (index
/// names, see [`index_arch`]). `go1.22` and `latest` only pick stable releases.
pub fn resolve<'a>(
    index: &'a [GoRelease],
    req: &VersionRequest,
    os: &str,
    arch: &str,
) -> Result<&'a GoRelease, NoSuchVersion> {
    // An exact version is that release whatever it ships; the others pick among releases
    // with an archive for this host.
    let exact = matches!(req, VersionRequest::Exact(_));
    let candidates = index
        .iter()
        .filter(|r| exact || r.archive_for(os, arch).is_some());
    let found = req.pick(candidates, |r| (r.version.as_str(), r.stable));
    found.ok_or_else(|| NoSuchVersion {
        nearest: nearest_versions(index, &req.to_string(), 5),
    })
}

/// The `n` versions of `index` closest to `requested`: numerically (minor, then patch) when
/// both parse, by edit distance otherwise; returned oldest first.
pub fn nearest_versions(index: &[GoRelease], requested: &str, n: usize) -> Vec<String> {
    let req = parse_go_version(requested);
    let num = |p: &crate::version::ParsedVersion, i: usize| p.nums.get(i).copied().unwrap_or(0);
    let mut scored: Vec<(u64, usize, &str)> = index
        .iter()
        .map(|r| {
            let numeric = match (&req, parse_go_version(&r.version)) {
                (Some(a), Some(b)) => {
                    num(a, 0).abs_diff(num(&b, 0)) * 1_000_000
                        + num(a, 1).abs_diff(num(&b, 1)) * 1_000
                        + num(a, 2).abs_diff(num(&b, 2)).min(999)
                        + u64::from(a.pre != b.pre)
                }
                _ => u64::MAX,
            };
            (
                numeric,
                strsim::levenshtein(requested, &r.version),
                r.version.as_str(),
            )
        })
        .collect();
    scored.sort_by(|a, b| {
        (a.0, a.1)
            .cmp(&(b.0, b.1))
            .then_with(|| compare_go_versions(b.2, a.2))
    });
    let mut out: Vec<String> = scored.iter().take(n).map(|s| s.2.to_string()).collect();
    out.sort_by(|a, b| compare_go_versions(a, b));
    out.dedup();
    out
}

/// Everything that can go wrong installing a toolchain. [`InstallError::is_usage`] tells
/// the user's mistakes (exit 2) from failed installs (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(transparent)]
    BadRequest(#[from] BadVersionRequest),
    #[error(
        "`{0}` is not a usable mirror: expected an http://, https:// or file:// URL, or an absolute directory"
    )]
    BadMirror(String),
    #[error("cannot fetch {url}: {reason}\n  hint: {hint}")]
    Fetch {
        url: String,
        reason: String,
        hint: String,
    },
    #[error("the Go download index {url} is not valid: {reason}")]
    BadIndex { url: String, reason: String },
    #[error(
        "{requested} is not in the Go download index {url} (for linux/{arch}); nearest: {}",
        if nearest.is_empty() { "none".to_string() } else { nearest.join(", ") }
    )]
    UnknownVersion {
        requested: String,
        nearest: Vec<String>,
        url: String,
        arch: String,
    },
    #[error("{version} has no linux-{arch} archive in the Go download index {url}")]
    NoArchive {
        version: String,
        arch: String,
        url: String,
    },
    #[error(
        "download of {url} ended after {got} of {expected} bytes (truncated): nothing was installed; try again, or check the mirror"
    )]
    Truncated {
        url: String,
        got: u64,
        expected: u64,
    },
    #[error(
        "{url} is {got} bytes but the index says {expected}: nothing was installed (a corrupt mirror?)"
    )]
    SizeMismatch {
        url: String,
        got: u64,
        expected: u64,
    },
    #[error(
        "{url} has SHA256 {actual} but the index says {expected}: refusing to install it (a corrupt download or a tampered mirror)"
    )]
    Checksum {
        url: String,
        expected: String,
        actual: String,
    },
    #[error("cannot unpack {url}: {reason}")]
    Unpack { url: String, reason: String },
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl InstallError {
    /// The user asked for something malformed (exit 2), as opposed to an install that failed.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            InstallError::BadRequest(_) | InstallError::BadMirror(_)
        )
    }
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> InstallError {
    move |source| InstallError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// Where releases come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownloadSource {
    /// go.dev: the index at [`GO_DEV_INDEX`], archives under [`GO_DEV_BASE`].
    GoDev,
    /// A mirror: `BASE/index.json` (the same JSON as go.dev's) and `BASE/<filename>`.
    Mirror(String),
}

impl DownloadSource {
    /// `--mirror URL` (or [`MIRROR_ENV`]): http(s)://, file:// or an absolute directory.
    pub fn mirror(base: &str) -> Result<Self, InstallError> {
        let b = base.trim();
        let ok = b.starts_with("http://")
            || b.starts_with("https://")
            || b.starts_with("file:///")
            || b.starts_with('/');
        if !ok || b.len() < 2 {
            return Err(InstallError::BadMirror(base.to_string()));
        }
        let b = if b.starts_with('/') {
            format!("file://{b}")
        } else {
            b.to_string()
        };
        Ok(DownloadSource::Mirror(b.trim_end_matches('/').to_string()))
    }

    /// The mirror named by `flag`, else by [`MIRROR_ENV`], else go.dev.
    pub fn from_flag_or_env(flag: Option<&str>) -> Result<Self, InstallError> {
        let env = std::env::var(MIRROR_ENV)
            .ok()
            .filter(|v| !v.trim().is_empty());
        match flag.map(str::to_string).or(env) {
            Some(m) => DownloadSource::mirror(&m),
            None => Ok(DownloadSource::GoDev),
        }
    }

    pub fn index_url(&self) -> String {
        match self {
            DownloadSource::GoDev => GO_DEV_INDEX.to_string(),
            DownloadSource::Mirror(b) => format!("{b}/index.json"),
        }
    }

    pub fn file_url(&self, filename: &str) -> String {
        match self {
            DownloadSource::GoDev => format!("{GO_DEV_BASE}{filename}"),
            DownloadSource::Mirror(b) => format!("{b}/{filename}"),
        }
    }

    fn hint(&self) -> String {
        match self {
            DownloadSource::GoDev => format!(
                "check the network, or point --mirror / {MIRROR_ENV} at a mirror serving BASE/index.json and BASE/<archive>"
            ),
            DownloadSource::Mirror(b) => format!(
                "check that the mirror {b} is up and serves index.json and the archives (set by --mirror or {MIRROR_ENV})"
            ),
        }
    }
}

/// What a finished install gives back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Installed {
    /// The exact version, e.g. `go1.23.4`.
    pub version: String,
    /// The new (or existing) GOROOT.
    pub goroot: PathBuf,
    /// False when it was already there (installed earlier, or by a concurrent installer).
    pub newly_installed: bool,
}

/// Callbacks as an install proceeds, for a progress bar or log lines. Every method has an
/// empty default.
pub trait InstallProgress: Sync {
    /// `request` resolved to `version`.
    fn resolved(&self, _request: &VersionRequest, _version: &str) {}
    /// Another process (or thread) holds the lock of `version`: waiting for it.
    fn waiting_for_lock(&self, _version: &str, _lock: &Path) {}
    /// A download of `size` bytes (when known) starts.
    fn download_started(&self, _url: &str, _size: Option<u64>) {}
    /// `bytes` have been received so far.
    fn downloaded(&self, _bytes: u64) {}
    /// The download is complete and its sha256 matches.
    fn verified(&self, _url: &str, _sha256: &str) {}
    /// Unpacking into the staging dir starts.
    fn unpacking(&self, _version: &str) {}
}

/// Reports nothing.
pub struct NoProgress;
impl InstallProgress for NoProgress {}

/// Installs Go toolchains into one directory from one [`DownloadSource`]. The index is
/// fetched at most once per installer.
pub struct Installer {
    dir: PathBuf,
    source: DownloadSource,
    agent: ureq::Agent,
    index: OnceLock<Vec<GoRelease>>,
    goarch: String,
}

impl Installer {
    /// An installer into `toolchains_dir` (usually [`default_toolchains_dir`]) for this
    /// host's architecture.
    pub fn new(toolchains_dir: &Path, source: DownloadSource) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_recv_response(Some(RESPONSE_TIMEOUT))
            .timeout_recv_body(Some(BODY_TIMEOUT))
            .user_agent(concat!("crossmatrix/", env!("CARGO_PKG_VERSION")))
            .build();
        Installer {
            dir: toolchains_dir.to_path_buf(),
            source,
            agent: config.into(),
            index: OnceLock::new(),
            goarch: host_goarch().to_string(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn source(&self) -> &DownloadSource {
        &self.source
    }

    /// The GOROOT `version` has (or would have) in this installer's directory.
    pub fn goroot_of(&self, version: &str) -> PathBuf {
        self.dir.join(version)
    }

    /// The download index (fetched on first use).
    pub fn index(&self) -> Result<&[GoRelease], InstallError> {
        if let Some(i) = self.index.get() {
            return Ok(i);
        }
        let url = self.source.index_url();
        let (mut reader, _) = self.open(&url)?;
        let mut text = String::new();
        reader
            .by_ref()
            .take(INDEX_LIMIT)
            .read_to_string(&mut text)
            .map_err(|e| self.fetch_error(&url, e.to_string()))?;
        let parsed = parse_index(&text).map_err(|e| InstallError::BadIndex {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        if let Some(bad) = parsed.iter().flat_map(|r| &r.files).find(|f| {
            f.filename.contains('/') || f.filename.contains('\\') || f.filename.starts_with('.')
        }) {
            return Err(InstallError::BadIndex {
                url,
                reason: format!("file name `{}` is not a plain file name", bad.filename),
            });
        }
        // Kept for runs, which never use the network: the newest release decides which
        // toolchains are out of support (see `support`). Best effort.
        if let Ok(mut tmp) = std::fs::create_dir_all(&self.dir)
            .and_then(|()| tempfile::NamedTempFile::new_in(&self.dir))
        {
            let readable = std::os::unix::fs::PermissionsExt::from_mode(0o644);
            if std::io::Write::write_all(&mut tmp, text.as_bytes()).is_ok()
                && tmp.as_file().set_permissions(readable).is_ok()
            {
                let _ = tmp.persist(index_copy(&self.dir));
            }
        }
        Ok(self.index.get_or_init(|| parsed))
    }

    /// The release `req` names, with its archive for this host.
    pub fn resolve(&self, req: &VersionRequest) -> Result<(&GoRelease, &GoFile), InstallError> {
        let arch = index_arch(&self.goarch);
        let index = self.index()?;
        let release =
            resolve(index, req, "linux", arch).map_err(|e| InstallError::UnknownVersion {
                requested: req.to_string(),
                nearest: e.nearest,
                url: self.source.index_url(),
                arch: arch.to_string(),
            })?;
        let file = release
            .archive_for("linux", arch)
            .ok_or_else(|| InstallError::NoArchive {
                version: release.version.clone(),
                arch: arch.to_string(),
                url: self.source.index_url(),
            })?;
        Ok((release, file))
    }

    /// Installs what `req` names unless it is installed already. Safe to run from several
    /// threads and processes at once: one downloads, the others wait and then find it there.
    /// On any error nothing is left in the directory but the version's lock file.
    pub fn install(
        &self,
        req: &VersionRequest,
        progress: &dyn InstallProgress,
    ) -> Result<Installed, InstallError> {
        if let VersionRequest::Exact(v) = req {
            if let Some(done) = self.existing(v) {
                progress.resolved(req, v);
                return Ok(done);
            }
        }
        let (release, file) = match self.resolve(req) {
            Ok(found) => found,
            // The index cannot be fetched (offline, an air-gapped runner): a toolchain already
            // here that the request names answers it — nothing needed downloading.
            Err(e @ InstallError::Fetch { .. }) => match self.newest_installed(req) {
                Some(done) => {
                    progress.resolved(req, &done.version);
                    return Ok(done);
                }
                None => return Err(e),
            },
            Err(e) => return Err(e),
        };
        let version = release.version.clone();
        progress.resolved(req, &version);
        if let Some(done) = self.existing(&version) {
            return Ok(done);
        }
        std::fs::create_dir_all(&self.dir).map_err(io("cannot create", &self.dir))?;
        let lock_path = self.dir.join(format!("{version}.lock"));
        let _lock = lock_exclusive(&lock_path, || {
            progress.waiting_for_lock(&version, &lock_path)
        })
        .map_err(io("cannot lock", &lock_path))?;
        // Whoever held the lock before us may have installed it.
        if let Some(done) = self.existing(&version) {
            return Ok(done);
        }
        self.remove_stale_staging(&version);
        let staging = tempfile::Builder::new()
            .prefix(&format!(".tmp-{version}-"))
            .tempdir_in(&self.dir)
            .map_err(io("cannot create a staging directory in", &self.dir))?;
        let url = self.source.file_url(&file.filename);
        let archive = staging.path().join("archive.tar.gz");
        self.download(&url, file, &archive, progress)?;
        progress.unpacking(&version);
        let unpacked = staging.path().join("unpacked");
        unpack(&archive, &unpacked).map_err(|e| InstallError::Unpack {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        let new_root = unpacked.join("go");
        check_goroot(&new_root, &version).map_err(|reason| InstallError::Unpack {
            url: url.clone(),
            reason,
        })?;
        let goroot = self.goroot_of(&version);
        std::fs::rename(&new_root, &goroot)
            .map_err(io("cannot move the toolchain into", &goroot))?;
        drop(staging);
        Ok(Installed {
            version,
            goroot,
            newly_installed: true,
        })
    }

    /// The newest toolchain in this installer's directory that `req` names.
    fn newest_installed(&self, req: &VersionRequest) -> Option<Installed> {
        crate::paths::installed_toolchains(&self.dir)
            .iter()
            .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
            .rfind(|v| req.matches(v))
            .and_then(|v| self.existing(&v))
    }

    fn existing(&self, version: &str) -> Option<Installed> {
        let goroot = self.goroot_of(version);
        goroot.join("bin/go").is_file().then(|| Installed {
            version: version.to_string(),
            goroot,
            newly_installed: false,
        })
    }

    /// Staging dirs of `version` left by a killed installer (we hold its lock, so no live
    /// installer owns them).
    fn remove_stale_staging(&self, version: &str) {
        let prefix = format!(".tmp-{version}-");
        if let Ok(rd) = std::fs::read_dir(&self.dir) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
    }

    fn fetch_error(&self, url: &str, reason: String) -> InstallError {
        InstallError::Fetch {
            url: url.to_string(),
            reason,
            hint: self.source.hint(),
        }
    }

    /// A reader of `url` and its length when known.
    fn open(&self, url: &str) -> Result<(Box<dyn Read>, Option<u64>), InstallError> {
        if let Some(path) = url.strip_prefix("file://") {
            let f = File::open(path).map_err(|e| self.fetch_error(url, e.to_string()))?;
            let len = f.metadata().ok().map(|m| m.len());
            return Ok((Box::new(f), len));
        }
        let resp = self
            .agent
            .get(url)
            .call()
            .map_err(|e| self.fetch_error(url, describe_http_error(&e)))?;
        let body = resp.into_body();
        let len = body.content_length();
        Ok((Box::new(body.into_reader()), len))
    }

    /// Streams `url` into `dest`, hashing as it goes; checks size and sha256 against `file`.
    fn download(
        &self,
        url: &str,
        file: &GoFile,
        dest: &Path,
        progress: &dyn InstallProgress,
    ) -> Result<(), InstallError> {
        let (mut reader, len) = self.open(url)?;
        let expected_size = (file.size > 0).then_some(file.size);
        progress.download_started(url, expected_size.or(len));
        let mut out = File::create(dest).map_err(io("cannot create", dest))?;
        let mut hasher = Sha256::new();
        let mut got = 0u64;
        let mut buf = vec![0u8; 256 << 10];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let expected = expected_size.or(len).unwrap_or(0);
                    if got < expected {
                        return Err(InstallError::Truncated {
                            url: url.to_string(),
                            got,
                            expected,
                        });
                    }
                    return Err(self.fetch_error(url, e.to_string()));
                }
            };
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(io("cannot write", dest))?;
            got += n as u64;
            progress.downloaded(got);
        }
        out.sync_all().map_err(io("cannot write", dest))?;
        if let Some(expected) = expected_size.or(len) {
            if got < expected {
                return Err(InstallError::Truncated {
                    url: url.to_string(),
                    got,
                    expected,
                });
            }
            if got != expected {
                return Err(InstallError::SizeMismatch {
                    url: url.to_string(),
                    got,
                    expected,
                });
            }
        }
        let actual = hex::encode(hasher.finalize());
        if !actual.eq_ignore_ascii_case(file.sha256.trim()) {
            return Err(InstallError::Checksum {
                url: url.to_string(),
                expected: file.sha256.clone(),
                actual,
            });
        }
        progress.verified(url, &actual);
        Ok(())
    }
}

fn describe_http_error(e: &ureq::Error) -> String {
    match e {
        ureq::Error::StatusCode(code) => format!("the server answered HTTP {code}"),
        ureq::Error::Io(io) => io.to_string(),
        ureq::Error::HostNotFound => "host not found (DNS)".into(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        other => other.to_string(),
    }
}

fn unpack(archive: &Path, into: &Path) -> std::io::Result<()> {
    let f = File::open(archive)?;
    let gz = flate2::read::GzDecoder::new(BufReader::new(f));
    let mut tar = tar::Archive::new(gz);
    tar.set_preserve_permissions(true);
    tar.set_overwrite(false);
    std::fs::create_dir_all(into)?;
    tar.unpack(into)
}

/// The unpacked tree must be a GOROOT of `version`.
fn check_goroot(root: &Path, version: &str) -> Result<(), String> {
    if !root.join("bin/go").is_file() {
        return Err("the archive has no go/bin/go".into());
    }
    let text = std::fs::read_to_string(root.join("VERSION"))
        .map_err(|e| format!("cannot read go/VERSION: {e}"))?;
    match parse_version_file(&text) {
        Some(v) if v == version || normalise(&v) == normalise(version) => Ok(()),
        Some(v) => Err(format!(
            "the archive holds {v}, not {version} (the mirror serves the wrong file)"
        )),
        None => Err("go/VERSION names no Go version".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(version: &str, stable: bool, arches: &[&str]) -> GoRelease {
        GoRelease {
            version: version.into(),
            stable,
            files: arches
                .iter()
                .map(|a| GoFile {
                    filename: format!("{version}.linux-{a}.tar.gz"),
                    os: "linux".into(),
                    arch: a.to_string(),
                    version: version.into(),
                    sha256: "00".into(),
                    size: 1,
                    kind: "archive".into(),
                })
                .collect(),
        }
    }

    fn index() -> Vec<GoRelease> {
        vec![
            rel("go1.25rc1", false, &["amd64"]),
            rel("go1.24.4", true, &["amd64", "arm64"]),
            rel("go1.24.3", true, &["amd64"]),
            rel("go1.23.4", true, &["amd64"]),
            rel("go1.22.12", true, &["amd64"]),
            rel("go1.22.2", true, &["amd64"]),
            rel("go1.22.0", true, &["amd64"]),
            rel("go1.22rc2", false, &["amd64"]),
            rel("go1.21.13", true, &["amd64"]),
            rel("go1.20", true, &["amd64"]),
        ]
    }

    fn req(s: &str) -> VersionRequest {
        s.parse().unwrap()
    }

    #[test]
    fn requests_parse() {
        assert_eq!(req("latest"), VersionRequest::Latest);
        assert_eq!(
            req("go1.22"),
            VersionRequest::Minor {
                major: 1,
                minor: 22
            }
        );
        assert_eq!(
            req("1.22"),
            VersionRequest::Minor {
                major: 1,
                minor: 22
            }
        );
        assert_eq!(req("go1.23.4"), VersionRequest::Exact("go1.23.4".into()));
        assert_eq!(req("1.23.4"), VersionRequest::Exact("go1.23.4".into()));
        assert_eq!(req("go1.24rc1"), VersionRequest::Exact("go1.24rc1".into()));
        for bad in [
            "",
            "go",
            "go1",
            "banana",
            "go1.2.3.4",
            "go1.22-x",
            "../x",
            "go1.x",
        ] {
            assert!(bad.parse::<VersionRequest>().is_err(), "{bad:?}");
        }
        assert_eq!(req("go1.22").to_string(), "go1.22");
    }

    #[test]
    fn resolves_minor_latest_exact() {
        let i = index();
        let r = |s: &str| resolve(&i, &req(s), "linux", "amd64").map(|r| r.version.as_str());
        assert_eq!(r("go1.22"), Ok("go1.22.12"));
        assert_eq!(r("latest"), Ok("go1.24.4"));
        assert_eq!(r("go1.23.4"), Ok("go1.23.4"));
        assert_eq!(r("go1.25rc1"), Ok("go1.25rc1"));
        assert_eq!(r("go1.20"), Ok("go1.20"));
        assert_eq!(r("go1.20.0"), Ok("go1.20"));
        // Only arm64 archive of 1.24 is 1.24.4.
        let arm = resolve(&i, &req("go1.24"), "linux", "arm64").unwrap();
        assert_eq!(arm.version, "go1.24.4");
        assert!(resolve(&i, &req("go1.23"), "linux", "arm64").is_err());
        // No stable 1.25 yet.
        assert!(r("go1.25").is_err());
    }

    #[test]
    fn unknown_versions_list_the_nearest() {
        let i = index();
        let e = resolve(&i, &req("go1.22.99"), "linux", "amd64").unwrap_err();
        assert!(
            e.nearest.contains(&"go1.22.12".to_string()),
            "{:?}",
            e.nearest
        );
        assert!(e.nearest.len() <= 5);
        assert!(
            !e.nearest.contains(&"go1.20".to_string()),
            "{:?}",
            e.nearest
        );
        let e = resolve(&i, &req("go1.23.5"), "linux", "amd64").unwrap_err();
        assert!(e.nearest[0].starts_with("go1.22."), "{:?}", e.nearest);
        assert!(e.nearest.contains(&"go1.23.4".to_string()));
        assert!(e.nearest.contains(&"go1.24.4".to_string()));
        assert!(nearest_versions(&[], "go1.2", 5).is_empty());
    }

    #[test]
    fn mirrors() {
        let m = DownloadSource::mirror("http://127.0.0.1:8080/go/").unwrap();
        assert_eq!(m.index_url(), "http://127.0.0.1:8080/go/index.json");
        assert_eq!(m.file_url("x.tar.gz"), "http://127.0.0.1:8080/go/x.tar.gz");
        let f = DownloadSource::mirror("/srv/go").unwrap();
        assert_eq!(f.index_url(), "file:///srv/go/index.json");
        assert!(DownloadSource::mirror("ftp://x").unwrap_err().is_usage());
        assert!(DownloadSource::mirror("relative/dir").is_err());
        assert_eq!(DownloadSource::GoDev.index_url(), GO_DEV_INDEX);
        assert_eq!(
            DownloadSource::GoDev.file_url("go1.23.4.linux-amd64.tar.gz"),
            "https://go.dev/dl/go1.23.4.linux-amd64.tar.gz"
        );
    }

    #[test]
    fn parses_go_dev_index_shape() {
        let json = r#"[{"version":"go1.23.4","stable":true,"files":[
            {"filename":"go1.23.4.src.tar.gz","os":"","arch":"","version":"go1.23.4","sha256":"aa","size":10,"kind":"source"},
            {"filename":"go1.23.4.linux-armv6l.tar.gz","os":"linux","arch":"armv6l","version":"go1.23.4","sha256":"bb","size":20,"kind":"archive"},
            {"filename":"go1.23.4.linux-amd64.tar.gz","os":"linux","arch":"amd64","version":"go1.23.4","sha256":"cc","size":30,"kind":"archive"}]}]"#;
        let i = parse_index(json).unwrap();
        assert_eq!(i[0].archive_for("linux", "amd64").unwrap().sha256, "cc");
        assert_eq!(
            i[0].archive_for("linux", index_arch("arm"))
                .unwrap()
                .filename,
            "go1.23.4.linux-armv6l.tar.gz"
        );
        assert!(i[0].archive_for("linux", "riscv64").is_none());
    }

    #[test]
    fn offline_a_minor_or_latest_is_answered_by_what_is_installed() {
        let d = tempfile::tempdir().unwrap();
        for v in ["go1.26.11", "go1.27.3", "go1.27.4", "go1.28rc1"] {
            std::fs::create_dir_all(d.path().join(v).join("bin")).unwrap();
            std::fs::write(d.path().join(v).join("bin/go"), "").unwrap();
        }
        // A mirror directory that does not exist: the index cannot be fetched.
        let gone = d.path().join("no-such-mirror");
        let inst = Installer::new(
            d.path(),
            DownloadSource::mirror(&gone.display().to_string()).unwrap(),
        );
        let req = |s: &str| s.parse::<VersionRequest>().unwrap();
        for (asked, got) in [
            ("go1.27", "go1.27.4"),
            ("latest", "go1.27.4"),
            ("go1.26", "go1.26.11"),
        ] {
            let done = inst.install(&req(asked), &NoProgress).unwrap();
            assert_eq!(
                (done.version.as_str(), done.newly_installed),
                (got, false),
                "{asked}"
            );
        }
        // Nothing here answers go1.25: the fetch error stands.
        let err = inst.install(&req("go1.25"), &NoProgress).unwrap_err();
        assert!(matches!(err, InstallError::Fetch { .. }), "{err}");
    }

    #[test]
    fn installed_toolchains_skip_staging_and_locks() {
        let d = tempfile::tempdir().unwrap();
        for name in ["go1.22.1", "go1.9.1", ".tmp-go1.23.0-abc", "go1.24.0"] {
            std::fs::create_dir_all(d.path().join(name).join("bin")).unwrap();
        }
        for name in ["go1.22.1", "go1.9.1", ".tmp-go1.23.0-abc"] {
            std::fs::write(d.path().join(name).join("bin/go"), "").unwrap();
        }
        std::fs::write(d.path().join("go1.22.1.lock"), "").unwrap();
        let names: Vec<String> = installed_toolchains(d.path())
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["go1.9.1", "go1.22.1"]);
    }
}
