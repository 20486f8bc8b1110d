//! Tests against this machine's real toolchains, qemu, binfmt_misc and apt. Each one prints
//! why it skipped when the host lacks what it needs (CI installs everything: nothing skips).
//!
//! Rootfs assembly caches in `CROSSMATRIX_TEST_ROOTFS` (default: cargo's per-target temp dir),
//! so only the first run downloads; point it at an empty directory to time a cold run.

use crossmatrix_matrix::Libc;
use crossmatrix_toolchains::cc::{CcKind, pick_c_compiler};
use crossmatrix_toolchains::executor::{
    ExecutorChoice, ExecutorPreference, Host, find_qemu, host_goarch,
};
use crossmatrix_toolchains::go::{compare_go_versions, discover_go, go_toolchain_at, short_names};
use crossmatrix_toolchains::rootfs::{CA_BUNDLE, RootfsFlavor, RootfsStore, loader_path};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn skip(test: &str, why: &str) {
    eprintln!("SKIP {test}: {why}");
}

fn rootfs_cache() -> PathBuf {
    std::env::var_os("CROSSMATRIX_TEST_ROOTFS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("rootfs"))
}

#[test]
fn discovers_debian_go_toolchains() {
    let want = ["/usr/lib/go-1.22", "/usr/lib/go-1.27"];
    if !want.iter().all(|p| Path::new(p).join("bin/go").exists()) {
        skip(
            "discovers_debian_go_toolchains",
            "needs /usr/lib/go-1.22 and /usr/lib/go-1.27 (apt-get install golang-1.22-go golang-1.27-go)",
        );
        return;
    }
    let found = discover_go();
    let versions: Vec<&str> = found.iter().map(|t| t.version.as_str()).collect();
    eprintln!("found: {versions:?}");
    let v122 = found.iter().position(|t| t.version.starts_with("go1.22."));
    let v127 = found.iter().position(|t| t.version.starts_with("go1.27."));
    assert!(v122.is_some() && v127.is_some(), "{versions:?}");
    assert!(v122 < v127, "sorted ascending: {versions:?}");
    assert!(
        found
            .windows(2)
            .all(|w| compare_go_versions(&w[0].version, &w[1].version).is_le())
    );
    let mut roots: Vec<_> = found.iter().map(|t| &t.goroot).collect();
    roots.dedup();
    assert_eq!(roots.len(), found.len(), "deduplicated by goroot");
    for t in &found {
        assert!(t.go.is_file(), "{}", t.go.display());
        assert!(
            t.ports.iter().any(|p| p == "linux/arm64"),
            "{}: {:?}",
            t.version,
            t.ports
        );
        assert!(t.ports.iter().any(|p| p == "wasip1/wasm"), "{}", t.version);
    }
    let names = short_names(&found);
    assert!(
        names.contains(&"go1.22".to_string()) || names.iter().any(|n| n.starts_with("go1.22.")),
        "{names:?}"
    );

    let explicit = go_toolchain_at(Path::new("/usr/lib/go-1.27")).unwrap();
    assert_eq!(explicit.version, found[v127.unwrap_or(0)].version);

    // Nothing named: Go's supported releases, the two newest stable minors here (go1.22 and
    // any go1.24 are left out).
    let default: Vec<String> = crossmatrix_toolchains::select_toolchains(&[], &found)
        .unwrap()
        .iter()
        .map(|t| t.version.clone())
        .collect();
    assert_eq!(default.len(), 2, "{default:?}");
    assert!(default[1].starts_with("go1.27."), "{default:?}");
    assert!(
        !default
            .iter()
            .any(|v| v.starts_with("go1.22.") || v.starts_with("go1.24.")),
        "{default:?}"
    );
}

#[test]
fn finds_qemu_aarch64() {
    if host_goarch() == "arm64" {
        skip("finds_qemu_aarch64", "the host is arm64");
        return;
    }
    let Some(q) = find_qemu("arm64") else {
        skip(
            "finds_qemu_aarch64",
            "no qemu-aarch64(-static) on PATH (apt-get install qemu-user-static)",
        );
        return;
    };
    eprintln!("{} {}", q.path.display(), q.version);
    assert!(
        q.version.split('.').all(|p| p.parse::<u32>().is_ok()),
        "{}",
        q.version
    );
}

#[test]
fn probes_executors() {
    let host = Host::detect();
    eprintln!(
        "binfmt available: {}, {} entries; qemus: {:?}",
        host.binfmt.available,
        host.binfmt.entries.len(),
        host.qemus.keys().collect::<Vec<_>>()
    );
    assert_eq!(
        host.pick_executor("linux", host_goarch(), None, ExecutorPreference::Auto),
        ExecutorChoice::Native
    );
    if host.qemus.contains_key("riscv64") || host.binfmt.available {
        let c = host.pick_executor("linux", "riscv64", None, ExecutorPreference::Auto);
        eprintln!("linux/riscv64: {c:?}");
        assert!(c.kind().is_some(), "{c:?}");
    } else {
        skip(
            "probes_executors/riscv64",
            "no qemu-riscv64 and no binfmt_misc",
        );
    }
}

#[test]
fn zig_covers_default_cgo_targets() {
    if crossmatrix_toolchains::cc::find_zig().is_none() {
        skip(
            "zig_covers_default_cgo_targets",
            "zig not found (pip install ziglang)",
        );
        return;
    }
    for arch in ["amd64", "arm64", "riscv64"] {
        for libc in [Libc::Gnu, Libc::Musl] {
            let cc = pick_c_compiler(arch, libc).unwrap();
            assert_eq!(cc.kind, CcKind::Zig, "{arch} {libc}");
            assert!(cc.bind_paths.iter().all(|p| p.is_dir() && p.is_absolute()));
            assert!(cc.program().is_file(), "{}", cc.cc);
        }
    }
}

fn have(tool: &str) -> bool {
    which::which(tool).is_ok()
}

/// Runs `qemu ROOT/LOADER --version`-ish and returns stdout+stderr: proves the loader is a
/// working binary for the arch, not just a file.
fn run_loader(qemu: &Path, root: &Path, loader: &str) -> String {
    let out = Command::new(qemu)
        .arg("-L")
        .arg(root)
        .arg(root.join(loader))
        .arg("--version")
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn assembles_rootfs_for_arm64_and_riscv64() {
    if !(have("apt-get") && have("dpkg-deb")) {
        skip(
            "assembles_rootfs_for_arm64_and_riscv64",
            "needs apt-get and dpkg-deb (a Debian/Ubuntu host)",
        );
        return;
    }
    if std::env::var_os("CROSSMATRIX_OFFLINE").is_some() {
        skip(
            "assembles_rootfs_for_arm64_and_riscv64",
            "CROSSMATRIX_OFFLINE is set",
        );
        return;
    }
    let cache = rootfs_cache();
    eprintln!("rootfs cache: {}", cache.display());
    for arch in ["arm64", "riscv64"] {
        for flavor in [RootfsFlavor::Glibc, RootfsFlavor::Musl] {
            // Two stores on one directory in two threads: what two crossmatrix processes do.
            let t0 = Instant::now();
            let (a, b) = std::thread::scope(|s| {
                let h1 = s.spawn(|| RootfsStore::new(&cache).get(arch, flavor));
                let h2 = s.spawn(|| RootfsStore::new(&cache).get(arch, flavor));
                (h1.join().unwrap(), h2.join().unwrap())
            });
            let cold = t0.elapsed();
            let root = a.unwrap_or_else(|e| panic!("{arch} {flavor}: {e}"));
            assert_eq!(Ok(&root), b.as_ref().map_err(|e| e.to_string()));

            let store = RootfsStore::new(&cache);
            let t1 = Instant::now();
            assert_eq!(store.get(arch, flavor).unwrap(), root);
            let warm = t1.elapsed();
            let t2 = Instant::now();
            assert_eq!(store.get(arch, flavor).unwrap(), root);
            let memo = t2.elapsed();
            eprintln!(
                "rootfs {arch} {flavor}: first {:.1}s, reuse (new store) {:.2}s, reuse (same store) {:.4}s → {}",
                cold.as_secs_f64(),
                warm.as_secs_f64(),
                memo.as_secs_f64(),
                root.display()
            );

            let loader = loader_path(arch, flavor).unwrap();
            assert!(
                root.join(loader).exists(),
                "{} lacks {loader}",
                root.display()
            );
            let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
            assert!(passwd.contains("root:x:0:0") && passwd.contains("nobody:x:65534"));
            assert!(root.join("etc/group").is_file());
            // Like debian-slim / alpine: a CA bundle and the time zone database.
            let bundle = std::fs::read_to_string(root.join(CA_BUNDLE)).unwrap();
            assert!(
                bundle.matches("BEGIN CERTIFICATE").count() > 50,
                "{arch} {flavor}: thin CA bundle"
            );
            assert!(root.join("etc/ssl/cert.pem").is_file());
            assert!(root.join("usr/share/zoneinfo/Europe/Paris").is_file());

            match find_qemu(arch) {
                Some(q) => {
                    let text = run_loader(&q.path, &root, loader);
                    let expect = match flavor {
                        RootfsFlavor::Glibc => "GLIBC",
                        RootfsFlavor::Musl => "musl libc",
                        RootfsFlavor::MuslDev => unreachable!("not a runtime root"),
                    };
                    assert!(text.contains(expect), "{arch} {flavor} loader said: {text}");
                }
                None => skip("rootfs loader run", &format!("no qemu for {arch}")),
            }
        }
    }
}

/// The whole cgo path: zig cc for linux/arm64 glibc, run under qemu with the assembled rootfs.
#[test]
fn cgo_arm64_glibc_binary_runs_in_assembled_rootfs() {
    let name = "cgo_arm64_glibc_binary_runs_in_assembled_rootfs";
    let Some(go) = discover_go().pop() else {
        skip(name, "no Go toolchain");
        return;
    };
    let Some(qemu) = find_qemu("arm64") else {
        skip(name, "no qemu-aarch64");
        return;
    };
    if !(have("apt-get") && have("dpkg-deb")) || std::env::var_os("CROSSMATRIX_OFFLINE").is_some() {
        skip(name, "no apt-get/dpkg-deb, or CROSSMATRIX_OFFLINE is set");
        return;
    }
    let cc = match pick_c_compiler("arm64", Libc::Gnu) {
        Ok(cc) => cc,
        Err(e) => {
            skip(name, &e.hint);
            return;
        }
    };
    let root = RootfsStore::new(&rootfs_cache())
        .get("arm64", RootfsFlavor::Glibc)
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("main.go"),
        "package main\n\n// #include <stdio.h>\n// static int twice(int x) { return 2 * x; }\nimport \"C\"\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"cgo says\", C.twice(21)) }\n",
    )
    .unwrap();
    let caches = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let t0 = Instant::now();
    let out = Command::new(&go.go)
        .args(["build", "-o", "hello", "main.go"])
        .current_dir(work.path())
        .env("GOROOT", &go.goroot)
        .env("GOTOOLCHAIN", "local")
        .env("GO111MODULE", "off")
        .env("GOOS", "linux")
        .env("GOARCH", "arm64")
        .env("CGO_ENABLED", "1")
        .env("CC", &cc.cc)
        .env("CXX", &cc.cxx)
        .env("GOCACHE", caches.join("gocache"))
        .env("ZIG_GLOBAL_CACHE_DIR", caches.join("zigcache"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "go build with CC={}: {}",
        cc.cc,
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "cgo build for arm64 with {}: {:.1}s",
        cc.cc,
        t0.elapsed().as_secs_f64()
    );
    let run = Command::new(&qemu.path)
        .arg("-L")
        .arg(&root)
        .arg(work.path().join("hello"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success() && stdout.contains("cgo says 42"),
        "status {:?}, stdout {stdout}, stderr {}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
}
