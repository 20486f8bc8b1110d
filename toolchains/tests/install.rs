//! `crossmatrix toolchain install` against a loopback mirror (and a `file://` one) serving a
//! download index and a small fake Go archive built here. The server listens on 127.0.0.1
//! only, serves a bounded number of connections and stops by itself.

use crossmatrix_toolchains::executor::host_goarch;
use crossmatrix_toolchains::go::{GoSource, discover_go_in};
use crossmatrix_toolchains::install::{
    DownloadSource, InstallError, Installer, NoProgress, VersionRequest, index_arch,
};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const VERSION: &str = "go1.99.1";
const GO_SCRIPT: &str = r#"#!/bin/sh
case "$1" in
  version) echo "go version go1.99.1 linux/amd64" ;;
  env) [ "$2" = GOVERSION ] && echo go1.99.1 ;;
  tool) [ "$2" = dist ] && [ "$3" = list ] && printf 'linux/amd64\nlinux/arm64\nwasip1/wasm\n' ;;
  *) exit 2 ;;
esac
"#;

/// A gzipped tar shaped like an official Go archive: `go/VERSION`, `go/bin/go`.
fn fake_archive() -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let mut dir = |path: &str| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        h.set_cksum();
        tar.append_data(&mut h, path, std::io::empty()).unwrap();
    };
    dir("go/");
    dir("go/bin/");
    let files: [(&str, &[u8], u32); 3] = [
        (
            "go/VERSION",
            b"go1.99.1\ntime 2031-01-01T00:00:00Z\n",
            0o644,
        ),
        ("go/bin/go", GO_SCRIPT.as_bytes(), 0o755),
        // Padding so the archive is big enough to truncate and to download in chunks.
        ("go/pkg/filler", &[7u8; 64 << 10], 0o644),
    ];
    for (path, data, mode) in files {
        let mut h = tar::Header::new_gnu();
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_cksum();
        tar.append_data(&mut h, path, data).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

fn sha256(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn archive_name() -> String {
    format!("{VERSION}.linux-{}.tar.gz", index_arch(host_goarch()))
}

/// The index: our fake release, plus neighbours without archives for this host.
fn index_json(sha: &str, size: usize) -> String {
    let arch = index_arch(host_goarch());
    serde_json::json!([
        {"version": "go1.99.1", "stable": true, "files": [
            {"filename": "go1.99.1.src.tar.gz", "os": "", "arch": "", "version": "go1.99.1",
             "sha256": "00", "size": 1, "kind": "source"},
            {"filename": archive_name(), "os": "linux", "arch": arch, "version": "go1.99.1",
             "sha256": sha, "size": size, "kind": "archive"}
        ]},
        {"version": "go1.98.3", "stable": true, "files": []},
        {"version": "go1.50.2", "stable": true, "files": []},
    ])
    .to_string()
}

#[derive(Clone)]
enum Reply {
    Ok(Vec<u8>),
    /// Announces the full length, sends the first `sent` bytes, closes.
    Truncated(Vec<u8>, usize),
    /// Sends in 8 chunks with a pause between them.
    Slow(Vec<u8>, Duration),
}

/// A loopback HTTP/1.1 server for the test's lifetime: at most `MAX_CONNS` connections and
/// `LIFETIME`, whichever ends first; stops when dropped.
struct Server {
    base: String,
    stop: Arc<AtomicBool>,
    hits: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

const MAX_CONNS: usize = 32;
const LIFETIME: Duration = Duration::from_secs(60);

impl Server {
    fn start(routes: HashMap<String, Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(Mutex::new(Vec::new()));
        let routes = Arc::new(routes);
        let (stop2, hits2) = (stop.clone(), hits.clone());
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + LIFETIME;
            let mut handlers = Vec::new();
            while !stop2.load(Ordering::SeqCst)
                && Instant::now() < deadline
                && handlers.len() < MAX_CONNS
            {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (routes, hits) = (routes.clone(), hits2.clone());
                        handlers.push(std::thread::spawn(move || handle(conn, &routes, &hits)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            for h in handlers {
                let _ = h.join();
            }
        });
        Server {
            base,
            stop,
            hits,
            thread: Some(thread),
        }
    }

    fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn handle(mut conn: TcpStream, routes: &HashMap<String, Reply>, hits: &Mutex<Vec<String>>) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = conn.set_write_timeout(Some(Duration::from_secs(10)));
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 16 << 10 {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&req);
    let path = text.split_whitespace().nth(1).unwrap_or("").to_string();
    hits.lock().unwrap().push(path.clone());
    let head = |len: usize| {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")
    };
    let _ = match routes.get(&path) {
        None => conn
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
        Some(Reply::Ok(body)) => conn
            .write_all(head(body.len()).as_bytes())
            .and_then(|_| conn.write_all(body)),
        Some(Reply::Truncated(body, sent)) => conn
            .write_all(head(body.len()).as_bytes())
            .and_then(|_| conn.write_all(&body[..*sent])),
        Some(Reply::Slow(body, pause)) => {
            let r = conn.write_all(head(body.len()).as_bytes());
            let chunk = body.len().div_ceil(8);
            r.and_then(|_| {
                for part in body.chunks(chunk) {
                    conn.write_all(part)?;
                    conn.flush()?;
                    std::thread::sleep(*pause);
                }
                Ok(())
            })
        }
    };
    let _ = conn.shutdown(std::net::Shutdown::Both);
}

fn routes(index: String, archive: Reply) -> HashMap<String, Reply> {
    let mut r = HashMap::new();
    r.insert("/index.json".to_string(), Reply::Ok(index.into_bytes()));
    r.insert(format!("/{}", archive_name()), archive);
    r
}

fn installer(dir: &Path, base: &str) -> Installer {
    Installer::new(dir, DownloadSource::mirror(base).unwrap())
}

fn req(s: &str) -> VersionRequest {
    s.parse().unwrap()
}

/// Names in `dir` other than lock files: what a failed install must not leave behind.
/// What an install left in `dir` besides lock files and the kept copy of the index.
fn leftovers(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<String> = rd
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".lock") && n != "index.json")
        .collect();
    v.sort();
    v
}

fn assert_intact(goroot: &Path) {
    assert_eq!(
        std::fs::read_to_string(goroot.join("VERSION")).unwrap(),
        "go1.99.1\ntime 2031-01-01T00:00:00Z\n"
    );
    assert_eq!(
        std::fs::read(goroot.join("pkg/filler")).unwrap().len(),
        64 << 10
    );
    let out = std::process::Command::new(goroot.join("bin/go"))
        .arg("version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "go version go1.99.1 linux/amd64\n"
    );
}

#[test]
fn installs_then_discovery_finds_it() {
    let archive = fake_archive();
    let srv = Server::start(routes(
        index_json(&sha256(&archive), archive.len()),
        Reply::Ok(archive),
    ));
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("toolchains");
    let inst = installer(&dir, &srv.base);
    let got = inst.install(&req("go1.99"), &NoProgress).unwrap();
    assert_eq!(got.version, VERSION);
    assert!(got.newly_installed);
    assert_eq!(got.goroot, dir.join(VERSION));
    assert_intact(&got.goroot);
    assert_eq!(leftovers(&dir), [VERSION]);
    // The index is kept for runs, which decide what is out of support offline.
    let kept = crossmatrix_toolchains::support::kept_index(&dir).unwrap();
    assert_eq!(kept[0].version, VERSION);

    let found = discover_go_in(&dir);
    let cached: Vec<_> = found
        .iter()
        .filter(|t| t.source == GoSource::Cache)
        .collect();
    assert_eq!(cached.len(), 1, "{found:?}");
    assert_eq!(cached[0].version, VERSION);
    assert_eq!(
        cached[0].goroot,
        std::fs::canonicalize(dir.join(VERSION)).unwrap()
    );
    assert!(cached[0].ports.contains(&"linux/arm64".to_string()));

    // Installed already: an exact request needs no network, `latest` only the index.
    let again = inst.install(&req("go1.99.1"), &NoProgress).unwrap();
    assert!(!again.newly_installed);
    let latest = installer(&dir, &srv.base)
        .install(&req("latest"), &NoProgress)
        .unwrap();
    assert_eq!(latest.version, VERSION);
    assert!(!latest.newly_installed);
    assert_eq!(srv.hits(&format!("/{}", archive_name())), 1);
}

#[test]
fn wrong_sha256_is_refused_and_leaves_nothing() {
    let archive = fake_archive();
    let srv = Server::start(routes(
        index_json(&"ab".repeat(32), archive.len()),
        Reply::Ok(archive),
    ));
    let d = tempfile::tempdir().unwrap();
    let err = installer(d.path(), &srv.base)
        .install(&req("go1.99.1"), &NoProgress)
        .unwrap_err();
    assert!(matches!(err, InstallError::Checksum { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&srv.base) && msg.contains("refusing"), "{msg}");
    assert!(!err.is_usage());
    assert_eq!(leftovers(d.path()), Vec::<String>::new());
}

#[test]
fn truncated_download_is_refused_and_leaves_nothing() {
    let archive = fake_archive();
    let half = archive.len() / 2;
    let srv = Server::start(routes(
        index_json(&sha256(&archive), archive.len()),
        Reply::Truncated(archive, half),
    ));
    let d = tempfile::tempdir().unwrap();
    let err = installer(d.path(), &srv.base)
        .install(&req("go1.99.1"), &NoProgress)
        .unwrap_err();
    assert!(matches!(err, InstallError::Truncated { .. }), "{err}");
    assert!(err.to_string().contains(&archive_name()), "{err}");
    assert_eq!(leftovers(d.path()), Vec::<String>::new());
}

#[test]
fn unknown_version_lists_the_nearest() {
    let srv = Server::start(routes(index_json("00", 1), Reply::Ok(vec![])));
    let d = tempfile::tempdir().unwrap();
    let err = installer(d.path(), &srv.base)
        .install(&req("go1.99.7"), &NoProgress)
        .unwrap_err();
    let InstallError::UnknownVersion { nearest, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(nearest.last().map(String::as_str), Some("go1.99.1"));
    assert!(err.to_string().contains("nearest: "), "{err}");
    // Releases without an archive for this host are not installable.
    let err = installer(d.path(), &srv.base)
        .install(&req("go1.98"), &NoProgress)
        .unwrap_err();
    assert!(matches!(err, InstallError::UnknownVersion { .. }), "{err}");
    let err = installer(d.path(), &srv.base)
        .install(&req("go1.98.3"), &NoProgress)
        .unwrap_err();
    assert!(matches!(err, InstallError::NoArchive { .. }), "{err}");
    assert_eq!(leftovers(d.path()), Vec::<String>::new());
}

#[test]
fn server_down_names_the_url() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let d = tempfile::tempdir().unwrap();
    let err = installer(d.path(), &base)
        .install(&req("go1.99.1"), &NoProgress)
        .unwrap_err();
    assert!(matches!(err, InstallError::Fetch { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&format!("{base}/index.json")), "{msg}");
    assert!(msg.contains("--mirror"), "{msg}");
}

#[test]
fn file_mirror() {
    let archive = fake_archive();
    let m = tempfile::tempdir().unwrap();
    std::fs::write(
        m.path().join("index.json"),
        index_json(&sha256(&archive), archive.len()),
    )
    .unwrap();
    std::fs::write(m.path().join(archive_name()), &archive).unwrap();
    let d = tempfile::tempdir().unwrap();
    let base = format!("file://{}", m.path().display());
    let got = installer(d.path(), &base)
        .install(&req("go1.99"), &NoProgress)
        .unwrap();
    assert!(got.newly_installed);
    assert_intact(&got.goroot);

    // A missing file is a fetch error naming it.
    let empty = tempfile::tempdir().unwrap();
    let err = installer(d.path(), &format!("file://{}", empty.path().display()))
        .install(&req("go1.50"), &NoProgress)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("{}/index.json", empty.path().display())),
        "{err}"
    );
}

#[test]
fn concurrent_installs_of_one_version() {
    let archive = fake_archive();
    let srv = Server::start(routes(
        index_json(&sha256(&archive), archive.len()),
        Reply::Slow(archive, Duration::from_millis(40)),
    ));
    let d = tempfile::tempdir().unwrap();
    let dir: PathBuf = d.path().join("toolchains");
    let results: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    installer(&dir, &srv.base)
                        .install(&req("go1.99.1"), &NoProgress)
                        .unwrap()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        results.iter().filter(|r| r.newly_installed).count(),
        1,
        "{results:?}"
    );
    assert_eq!(results[0].goroot, results[1].goroot);
    assert_intact(&results[0].goroot);
    assert_eq!(leftovers(&dir), [VERSION]);
    assert_eq!(srv.hits(&format!("/{}", archive_name())), 1);
}
