//! The small matrix again as a non-root user: rootless is the point. When the tests run as
//! root (CI), they switch to the `crossmatrix-test` user that ci/setup creates; when they run as
//! a normal user, the other tests are already rootless and this one says so.

mod common;

use common::{BIN, assert_pass, record, records, require_host};
use std::path::Path;
use std::process::Command;

const USER: &str = "crossmatrix-test";

fn run_as(user: &str, home: &Path, args: &[&str]) -> std::process::Output {
    let mut c = Command::new("setpriv");
    c.args(["--reuid", user, "--regid", user, "--init-groups", "--"])
        .arg("env")
        .arg("-i")
        .arg(format!("HOME={}", home.display()))
        .arg("PATH=/usr/local/bin:/usr/bin:/bin")
        .arg("NO_COLOR=1")
        .args(args);
    let out = c.output().expect("run setpriv");
    eprintln!(
        "$ (as {user}) {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn small_matrix_passes_as_a_non_root_user() {
    require_host!(true);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("running as a non-root user already: the e2e tests cover the rootless path");
        return;
    }
    if Command::new("id")
        .arg(USER)
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        panic!("user {USER} does not exist: ci/setup creates it (useradd --create-home {USER})");
    }
    // A world-readable copy of the binary and a home the user owns.
    let tmp = tempfile::Builder::new()
        .prefix("crossmatrix-rootless")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let bin = tmp.path().join("crossmatrix");
    std::fs::copy(BIN, &bin).expect("copy binary");
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).expect("home");
    let status = Command::new("chown")
        .args([
            "-R",
            &format!("{USER}:{USER}"),
            tmp.path().to_str().expect("utf-8"),
        ])
        .status()
        .expect("chown");
    assert!(status.success());
    let status = Command::new("chmod")
        .args(["755", tmp.path().to_str().expect("utf-8")])
        .status()
        .expect("chmod");
    assert!(status.success());
    let out0 = home.join("out0");
    let out1 = home.join("out1");
    let b = bin.to_str().expect("utf-8");
    let o = run_as(
        USER,
        &home,
        &[
            b,
            "run",
            "--reps",
            "2",
            "--toolchain",
            "go1.26",
            "--toolchain",
            "go1.27",
            "--target",
            "linux/amd64",
            "--target",
            "linux/arm64",
            "--target",
            "linux/riscv64",
            "--target",
            "wasip1/wasm",
            "--cgo",
            "0",
            "--out",
            out0.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "rootless cgo0 run passes");
    let o1 = run_as(
        USER,
        &home,
        &[
            b,
            "run",
            "--reps",
            "2",
            "--toolchain",
            "go1.26",
            "--toolchain",
            "go1.27",
            "--target",
            "linux/arm64",
            "--cgo",
            "1",
            "--libc",
            "musl",
            "--out",
            out1.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(o1.status.code(), Some(0), "rootless cgo1 musl run passes");
    let recs = records(&out0);
    assert_eq!(recs.len(), 8);
    for tc in ["go1.26", "go1.27"] {
        assert_pass(
            record(
                &recs,
                &format!("{tc}/linux-amd64/cgo0/rootfs-scratch/probe"),
            ),
            "native",
            "static",
        );
        assert_pass(
            record(
                &recs,
                &format!("{tc}/linux-arm64/cgo0/rootfs-scratch/probe"),
            ),
            "qemu-binfmt",
            "static",
        );
        assert_pass(
            record(
                &recs,
                &format!("{tc}/linux-riscv64/cgo0/rootfs-scratch/probe"),
            ),
            "qemu-binfmt",
            "static",
        );
        assert_pass(
            record(
                &recs,
                &format!("{tc}/wasip1-wasm/cgo0/rootfs-scratch/probe"),
            ),
            "wasmtime",
            "not-elf",
        );
        assert_pass(
            record(
                &records(&out1),
                &format!("{tc}/linux-arm64/cgo1-musl/rootfs-musl/probe"),
            ),
            "qemu-binfmt",
            "static",
        );
    }
    // The run wrote its caches under the user's home, not root's.
    assert!(home.join(".cache/crossmatrix").is_dir());
}
