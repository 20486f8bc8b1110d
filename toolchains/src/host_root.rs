//! The `host` root: the host's programs read-only — a POSIX shell, coreutils, the zone
//! database, what a test run by `go test -exec` finds — under an `/etc` of crossmatrix's own
//! rather than the host's (no host secrets, the same names on every machine): `localhost`, the
//! service and protocol tables, a user database that knows the sandbox's user, the CA bundle
//! and the dynamic linker cache. Only `/etc` is made here (content-addressed, cached); the
//! sandbox binds the host's program directories beside it
//! ([`crossmatrix_sandbox::bwrap::HOST_DIRS`]).

use crate::rootfs::{CA_BUNDLE, RootfsError, io};
use sha2::{Digest, Sha256};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Host files copied as they are when the host has them: read by Go's `net` (service and
/// protocol names), `crypto/x509` (the bundle Go looks for first) and the host's own programs
/// (the linker cache).
const COPIED: &[&str] = &[
    "etc/services",
    "etc/protocols",
    CA_BUNDLE,
    "etc/ld.so.cache",
];

/// The directory of the `host` root (its `etc/` and an empty `tmp/`) under `store_dir`,
/// written on first use and reused while the host's files and the user stay the same. Safe to
/// call from several threads and processes at once.
pub fn host_root(store_dir: &Path) -> Result<PathBuf, RootfsError> {
    let files = etc_files(Path::new("/"), current_ids());
    let mut h = Sha256::new();
    for (rel, bytes) in &files {
        h.update(rel.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    let digest = format!("{:x}", h.finalize());
    let dir = store_dir.join(format!("host-{}", &digest[..16]));
    if dir.join("etc").is_dir() {
        return Ok(dir);
    }
    std::fs::create_dir_all(store_dir).map_err(io("cannot create", store_dir))?;
    let tmp = tempfile::Builder::new()
        .prefix(".host-")
        .tempdir_in(store_dir)
        .map_err(io("cannot create a temporary dir in", store_dir))?;
    for (rel, bytes) in &files {
        let p = tmp.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(io("cannot create", parent))?;
        }
        std::fs::write(&p, bytes).map_err(io("cannot write", &p))?;
    }
    let t = tmp.path().join("tmp");
    std::fs::create_dir_all(&t).map_err(io("cannot create", &t))?;
    let staged = tmp.keep();
    if std::fs::rename(&staged, &dir).is_err() {
        // Another process finished first: its copy is the same.
        let _ = std::fs::remove_dir_all(&staged);
        if !dir.join("etc").is_dir() {
            return Err(RootfsError::Io {
                what: "cannot create",
                path: dir,
                source: std::io::Error::other("rename failed"),
            });
        }
    }
    Ok(dir)
}

/// The uid and gid this process runs as (the sandbox maps them to the same ids inside).
fn current_ids() -> (u32, u32) {
    std::fs::metadata("/proc/self").map_or((0, 0), |m| (m.uid(), m.gid()))
}

/// The root's files, relative paths and contents, from the host at `host` and the sandbox's
/// `(uid, gid)`.
fn etc_files(host: &Path, (uid, gid): (u32, u32)) -> Vec<(String, Vec<u8>)> {
    let host_name = |file: &str, id: u32| -> Option<String> {
        let text = std::fs::read_to_string(host.join(file)).ok()?;
        text.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == id.to_string()).then(|| f[0].to_string())
        })
    };
    let mut passwd = String::from(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    );
    let mut group = String::from("root:x:0:\nnogroup:x:65534:\n");
    if uid != 0 && uid != 65534 {
        let name = host_name("etc/passwd", uid).unwrap_or_else(|| "crossmatrix".into());
        passwd.push_str(&format!("{name}:x:{uid}:{gid}:{name}:/tmp:/bin/sh\n"));
    }
    if gid != 0 && gid != 65534 {
        let name = host_name("etc/group", gid).unwrap_or_else(|| "crossmatrix".into());
        group.push_str(&format!("{name}:x:{gid}:\n"));
    }
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("etc/passwd".into(), passwd.into_bytes()),
        ("etc/group".into(), group.into_bytes()),
        (
            "etc/hosts".into(),
            b"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n".to_vec(),
        ),
        (
            "etc/nsswitch.conf".into(),
            b"passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n".to_vec(),
        ),
        (
            "etc/os-release".into(),
            b"NAME=\"crossmatrix host root\"\nID=crossmatrix\n".to_vec(),
        ),
    ];
    for rel in COPIED {
        if let Ok(bytes) = std::fs::read(host.join(rel)) {
            files.push((rel.to_string(), bytes));
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etc_knows_localhost_the_user_and_copies_the_hosts_tables() {
        let host = tempfile::tempdir().unwrap();
        let etc = host.path().join("etc");
        std::fs::create_dir_all(etc.join("ssl/certs")).unwrap();
        std::fs::write(etc.join("services"), "http 80/tcp\n").unwrap();
        std::fs::write(
            etc.join("passwd"),
            "root:x:0:0::/root:/bin/sh\nana:x:1000:1000::/home/ana:/bin/bash\n",
        )
        .unwrap();
        std::fs::write(etc.join("shadow"), "secret").unwrap();
        let files = etc_files(host.path(), (1000, 1001));
        let get = |rel: &str| {
            files
                .iter()
                .find(|(r, _)| r == rel)
                .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        };
        assert!(get("etc/hosts").unwrap().contains("127.0.0.1\tlocalhost"));
        assert_eq!(get("etc/services").unwrap(), "http 80/tcp\n");
        assert!(get("etc/protocols").is_none(), "absent on this host");
        let passwd = get("etc/passwd").unwrap();
        assert!(
            passwd.contains("ana:x:1000:1001:ana:/tmp:/bin/sh"),
            "{passwd}"
        );
        assert!(!passwd.contains("/home/ana"), "no host home");
        assert!(get("etc/group").unwrap().contains("crossmatrix:x:1001:"));
        assert!(get("etc/shadow").is_none(), "no host secrets");
    }

    #[test]
    fn the_root_is_written_once_and_reused() {
        let store = tempfile::tempdir().unwrap();
        let a = host_root(store.path()).unwrap();
        assert!(a.join("etc/hosts").is_file());
        assert!(a.join("tmp").is_dir());
        let b = host_root(store.path()).unwrap();
        assert_eq!(a, b);
        let entries = std::fs::read_dir(store.path()).unwrap().count();
        assert_eq!(entries, 1, "no staging dir left behind");
    }
}
