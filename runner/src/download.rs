//! `crossmatrix fetch`: the one step that may use the network. `go mod download` for a module
//! (or workspace) with one toolchain, in a sandbox like a build's but with the network, the
//! host's name resolution and CA certificates, and the user's module settings and credentials
//! (`GOPROXY`, `GOPRIVATE`, `GONOSUMDB`, `GOSUMDB`, `GOFLAGS`, `GOAUTH`, `~/.netrc`, `GIT_*`,
//! proxies), into the module cache that builds then read offline. The go command verifies every
//! module against `go.sum` as it downloads.
//!
//! A fetch that already succeeded for the same module files, toolchain, settings and cache is
//! remembered (`<cache>/fetched/`) and answered without a go command while every module
//! directory it produced is still there.

use crossmatrix_sandbox::bwrap::{Limits, Sandbox};
use crossmatrix_sandbox::capture::Caps;
use crossmatrix_sandbox::process::{CaptureOptions, run_captured_opts};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const FETCH_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The user's environment that `go mod download` honours and needs, passed through as is.
const PASSED_ENV: &[&str] = &[
    "GOPROXY",
    "GOPRIVATE",
    "GONOPROXY",
    "GONOSUMDB",
    "GONOSUMCHECK",
    "GOSUMDB",
    "GOFLAGS",
    "GOINSECURE",
    "GOAUTH",
    "GOVCS",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "SSH_AUTH_SOCK",
];

/// Host files name resolution and TLS need.
const NETWORK_FILES: &[&str] = &[
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
    "/etc/gitconfig",
];

/// One `go mod download`.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    pub bwrap: PathBuf,
    pub goroot: PathBuf,
    /// `go1.24.4`.
    pub go_version: String,
    /// Where `go mod download` runs: the module (or workspace) root.
    pub dir: PathBuf,
    /// Every directory the module's files are in (bound read-only at their paths).
    pub roots: Vec<PathBuf>,
    /// The `go.work` in use, if any.
    pub workspace: Option<PathBuf>,
    /// The module cache to fill.
    pub modcache: PathBuf,
    /// crossmatrix's cache (`fetched/` remembers finished fetches).
    pub cache_dir: PathBuf,
}

/// How a fetch went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// Modules in the cache for this module's builds.
    pub modules: usize,
    /// Answered from an earlier fetch without running go.
    pub up_to_date: bool,
    pub duration: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot start bwrap ({}): {source}", bwrap.display())]
    Sandbox {
        bwrap: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the module cache {}: {source}", dir.display())]
    ModCache {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("`go mod download` in {} ({go_version}) failed:\n{message}\n  hint: {hint}", dir.display())]
    Download {
        dir: PathBuf,
        go_version: String,
        message: String,
        hint: String,
    },
    #[error("`go mod download` in {} ran past {:?} and was killed", dir.display(), FETCH_TIMEOUT)]
    Timeout { dir: PathBuf },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Downloaded {
    #[serde(default)]
    path: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    dir: Option<PathBuf>,
    #[serde(default)]
    error: Option<String>,
}

/// What a finished fetch left, to answer the same fetch again without go.
#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    dirs: Vec<PathBuf>,
}

/// Downloads what `req`'s module needs into its module cache (see the module doc).
pub fn fetch_modules(req: &FetchRequest) -> Result<Fetched, FetchError> {
    let start = Instant::now();
    let marker = req
        .cache_dir
        .join("fetched")
        .join(format!("{}.json", marker_key(req)));
    if let Some(n) = still_fetched(&marker) {
        return Ok(Fetched {
            modules: n,
            up_to_date: true,
            duration: start.elapsed(),
        });
    }
    std::fs::create_dir_all(&req.modcache).map_err(|source| FetchError::ModCache {
        dir: req.modcache.clone(),
        source,
    })?;
    let go = req.goroot.join("bin/go");
    let argv = vec![go.into(), "mod".into(), "download".into(), "-json".into()];
    let opts = CaptureOptions {
        caps: Caps::TOOL,
        ..CaptureOptions::default()
    };
    let f = run_captured_opts(
        sandbox(req).command(&argv),
        FETCH_TIMEOUT,
        &crossmatrix_sandbox::Abort::default(),
        &opts,
    )
    .map_err(|source| FetchError::Sandbox {
        bwrap: req.bwrap.clone(),
        source,
    })?;
    if f.timed_out() {
        return Err(FetchError::Timeout {
            dir: req.dir.clone(),
        });
    }
    let text = f.stdout.text();
    let downloaded: Vec<Downloaded> = serde_json::Deserializer::from_str(&text)
        .into_iter::<Downloaded>()
        .filter_map(Result::ok)
        .collect();
    let errors: Vec<String> = downloaded
        .iter()
        .filter_map(|d| {
            d.error
                .as_ref()
                .map(|e| format!("  {}@{}: {}", d.path, d.version, e.trim()))
        })
        .collect();
    if f.code() != Some(0) || !errors.is_empty() {
        let mut message = errors.join("\n");
        let stderr = f.stderr.text();
        if message.is_empty() {
            message = stderr
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| format!("  {}", l.trim()))
                .collect::<Vec<_>>()
                .join("\n");
        }
        return Err(FetchError::Download {
            dir: req.dir.clone(),
            go_version: req.go_version.clone(),
            hint: fetch_hint(&format!("{message}\n{stderr}")),
            message,
        });
    }
    let dirs: Vec<PathBuf> = downloaded.into_iter().filter_map(|d| d.dir).collect();
    let n = dirs.len();
    let _ = marker
        .parent()
        .map(std::fs::create_dir_all)
        .and_then(|r| r.ok())
        .and_then(|()| {
            let tmp = tempfile::NamedTempFile::new_in(marker.parent()?).ok()?;
            serde_json::to_writer(&tmp, &Marker { dirs }).ok()?;
            tmp.persist(&marker).ok()
        });
    Ok(Fetched {
        modules: n,
        up_to_date: false,
        duration: start.elapsed(),
    })
}

/// The sandbox of a fetch: a build's, plus the network and what the network needs.
fn sandbox(req: &FetchRequest) -> Sandbox {
    let mut sb = Sandbox::new(&req.bwrap)
        .limits(Limits {
            file_size: 8 << 30,
            ..Limits::default()
        })
        .as_pid_1()
        .network()
        .host_system()
        .ro(&req.goroot, &req.goroot);
    for root in &req.roots {
        sb = sb.ro(root, root);
    }
    for f in NETWORK_FILES {
        if Path::new(f).exists() {
            sb = sb.ro(f, f);
        }
    }
    // A file:// proxy is a directory on this host.
    let proxy = std::env::var("GOPROXY").unwrap_or_default();
    for entry in proxy.split([',', '|']) {
        if let Some(path) = entry.strip_prefix("file://") {
            if Path::new(path).exists() {
                sb = sb.ro(path, path);
            }
        }
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    for (file, inside) in [
        (".netrc", "/tmp/home/.netrc"),
        (".gitconfig", "/tmp/home/.gitconfig"),
        (".ssh", "/tmp/home/.ssh"),
    ] {
        if let Some(p) = home.as_ref().map(|h| h.join(file)).filter(|p| p.exists()) {
            sb = sb.ro(p, inside);
        }
    }
    if let Some(sock) = std::env::var_os("SSH_AUTH_SOCK").map(PathBuf::from) {
        if sock.exists() {
            sb = sb.ro(&sock, &sock);
        }
    }
    sb = sb
        .rw(&req.modcache, &req.modcache)
        .chdir(&req.dir)
        .env(
            "PATH",
            format!("{}/bin:/usr/local/bin:/usr/bin:/bin", req.goroot.display()),
        )
        .env("HOME", "/tmp/home")
        .env("GOROOT", req.goroot.display().to_string())
        .env("GOMODCACHE", req.modcache.display().to_string())
        .env("GOCACHE", "/tmp/gocache")
        .env("GOPATH", "/tmp/gopath")
        .env("GOTOOLCHAIN", "local")
        .env("GOTELEMETRY", "off")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env(
            "GOWORK",
            req.workspace
                .as_ref()
                .map_or_else(|| "off".into(), |w| w.display().to_string()),
        );
    for k in PASSED_ENV {
        if let Ok(v) = std::env::var(k) {
            sb = sb.env(*k, v);
        }
    }
    for (k, v) in std::env::vars().filter(|(k, _)| k.starts_with("GIT_")) {
        sb = sb.env(k, v);
    }
    sb
}

/// What to do about a failed download, from go's words.
fn fetch_hint(text: &str) -> String {
    let t = text.to_lowercase();
    if t.contains("checksum mismatch") || t.contains("security error") {
        "a module's content does not match go.sum: if go.sum is right, the proxy or cache serves other bits than before; remove the module from the cache and fetch again, or investigate before trusting it".into()
    } else if t.contains("terminal prompts disabled")
        || t.contains("could not read username")
        || t.contains("401")
        || t.contains("403")
        || t.contains("410 gone")
        || t.contains("authentication")
        || (t.contains("404") && t.contains("not found"))
    {
        "a private module needs credentials: set GOPRIVATE (e.g. GOPRIVATE=github.com/yourorg/*) so go skips the public proxy and checksum database, and give git or the proxy your credentials (~/.netrc, GIT_* settings, GOAUTH); crossmatrix passes them into the fetch sandbox".into()
    } else if t.contains("dial tcp")
        || t.contains("no such host")
        || t.contains("connection refused")
        || t.contains("i/o timeout")
        || t.contains("network is unreachable")
    {
        "the module proxy cannot be reached: check the network, or set GOPROXY to a reachable proxy (a file:// directory works offline), or vendor the dependencies (go mod vendor)".into()
    } else if t.contains("missing go.sum entry") {
        "go.sum lacks entries: run `go mod tidy` and commit go.sum".into()
    } else if t.contains("requires go >=") {
        "go.mod's go line is newer than this toolchain: fetch with a newer one (--toolchain)".into()
    } else {
        "see go's message above".into()
    }
}

/// The key of a fetch: the toolchain, the module's files (go.mod, go.sum, go.work and its
/// sum), the settings passed in, and the module cache.
fn marker_key(req: &FetchRequest) -> String {
    let mut h = Sha256::new();
    let mut put = |b: &[u8]| {
        h.update(b);
        h.update([0]);
    };
    put(b"crossmatrix fetch v1");
    put(req.go_version.as_bytes());
    put(crate::cache::file_stamp(&req.goroot.join("bin/go")).as_bytes());
    put(req.dir.as_os_str().as_encoded_bytes());
    put(req.modcache.as_os_str().as_encoded_bytes());
    let mut files: Vec<PathBuf> = Vec::new();
    for root in &req.roots {
        for name in ["go.mod", "go.sum", "go.work", "go.work.sum"] {
            files.push(root.join(name));
        }
    }
    if let Some(w) = &req.workspace {
        files.push(w.clone());
        files.push(w.with_extension("work.sum"));
    }
    files.sort();
    files.dedup();
    for f in files {
        put(f.as_os_str().as_encoded_bytes());
        put(&std::fs::read(&f).unwrap_or_default());
    }
    for k in PASSED_ENV {
        put(std::env::var(k).unwrap_or_default().as_bytes());
    }
    format!("{:x}", h.finalize())
}

/// How many modules a remembered fetch left, if every one of them is still in the cache.
fn still_fetched(marker: &Path) -> Option<usize> {
    let m: Marker = serde_json::from_str(&std::fs::read_to_string(marker).ok()?).ok()?;
    m.dirs.iter().all(|d| d.is_dir()).then_some(m.dirs.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_follow_gos_words() {
        assert!(
            fetch_hint("reading https://proxy.golang.org/x/@v/list: 410 Gone")
                .contains("GOPRIVATE")
        );
        assert!(
            fetch_hint(
                "fatal: could not read Username for 'https://github.com': terminal prompts disabled"
            )
            .contains("~/.netrc")
        );
        assert!(fetch_hint("dial tcp: lookup proxy.golang.org: no such host").contains("GOPROXY"));
        assert!(fetch_hint("verifying x@v1: checksum mismatch").contains("go.sum"));
        assert_eq!(fetch_hint("something else"), "see go's message above");
    }

    #[test]
    fn a_fetch_is_remembered_while_its_modules_remain() {
        let d = tempfile::tempdir().unwrap();
        let m = d.path().join("marker.json");
        let dir = d.path().join("example.com/dep@v1.0.0");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            &m,
            serde_json::to_string(&Marker {
                dirs: vec![dir.clone()],
            })
            .unwrap(),
        )
        .unwrap();
        assert_eq!(still_fetched(&m), Some(1));
        std::fs::remove_dir(&dir).unwrap();
        assert_eq!(still_fetched(&m), None);
    }
}
