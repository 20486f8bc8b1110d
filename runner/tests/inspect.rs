//! `inspect_binary` on real Go binaries: static, cgo glibc (dynamic), cgo musl, wasip1.
//! Each test prints why it skips when Go or zig is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use crossmatrix_results::Linkage;
use crossmatrix_runner::inspect::{BinaryFormat, BinaryInfo, HEADER_BYTES, inspect_binary};

const GO: &str = "/usr/lib/go-1.27/bin/go";
const GO_OLD: &str = "/usr/lib/go-1.22/bin/go";
const ZIG: &str = "/usr/local/bin/zig";

const HELLO: &str = r#"package main

import "fmt"

func main() { fmt.Println("hello") }
"#;

const CGO: &str = r#"package main

// int add(int a, int b) { return a + b; }
import "C"

import "fmt"

func main() { fmt.Println(C.add(1, 2)) }
"#;

fn go_or_skip(go: &str) -> Option<PathBuf> {
    let go = Path::new(go);
    if go.is_file() {
        Some(go.to_path_buf())
    } else {
        eprintln!("skip: no Go toolchain at {}", go.display());
        None
    }
}

fn zig_or_skip() -> Option<&'static str> {
    if Path::new(ZIG).is_file() {
        Some(ZIG)
    } else {
        eprintln!("skip: no zig at {ZIG} (needed as the cgo cross C compiler)");
        None
    }
}

fn go_env_version(go: &Path) -> String {
    let out = Command::new(go)
        .args(["env", "GOVERSION"])
        .env("GOTOOLCHAIN", "local")
        .output()
        .expect("run go env");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// What `go version FILE` says the binary was built with.
fn go_version_of(go: &Path, binary: &Path) -> String {
    let out = Command::new(go)
        .arg("version")
        .arg(binary)
        .env("GOTOOLCHAIN", "local")
        .output()
        .expect("run go version");
    assert!(out.status.success(), "go version failed: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    // "FILE: go1.27.4"
    text.trim().rsplit(": ").next().unwrap().to_owned()
}

/// Builds `source` as a single-file main package; `env` sets GOOS/GOARCH/CGO_ENABLED/CC.
fn go_build(go: &Path, dir: &Path, source: &str, env: &[(&str, &str)], extra: &[&str]) -> PathBuf {
    let src = dir.join("main.go");
    std::fs::write(&src, source).unwrap();
    let out = dir.join("prog");
    let cache = std::env::temp_dir().join("cm-test-gocache");
    let mut cmd = Command::new(go);
    cmd.arg("build")
        .args(extra)
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .current_dir(dir)
        .env("GOCACHE", &cache)
        .env("GOPATH", dir.join("gopath"))
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOFLAGS", "")
        .env(
            "ZIG_GLOBAL_CACHE_DIR",
            std::env::temp_dir().join("cm-test-zigcache"),
        )
        .envs(env.iter().copied());
    let result = cmd.output().expect("run go build");
    assert!(
        result.status.success(),
        "go build {env:?} failed:\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    out
}

fn build_and_inspect(
    go: &Path,
    source: &str,
    env: &[(&str, &str)],
    extra: &[&str],
) -> (tempfile::TempDir, PathBuf, BinaryInfo) {
    let dir = tempfile::tempdir().unwrap();
    let bin = go_build(go, dir.path(), source, env, extra);
    let info = inspect_binary(&bin).unwrap();
    (dir, bin, info)
}

fn check_static_go(go_path: &str, goarch: &str, machine: &str) {
    let Some(go) = go_or_skip(go_path) else {
        return;
    };
    let env = [("GOOS", "linux"), ("GOARCH", goarch), ("CGO_ENABLED", "0")];
    let (_dir, bin, info) = build_and_inspect(&go, HELLO, &env, &[]);

    assert_eq!(info.format, BinaryFormat::Elf);
    assert_eq!(info.linkage, Linkage::Static, "{info:?}");
    assert_eq!(info.interpreter, None);
    assert!(info.needed.is_empty(), "{:?}", info.needed);
    assert_eq!(info.machine.as_deref(), Some(machine));
    let version = go_env_version(&go);
    assert_eq!(info.go_version.as_deref(), Some(version.as_str()));
    assert_eq!(
        info.go_version.as_deref(),
        Some(go_version_of(&go, &bin).as_str())
    );

    let bytes = std::fs::read(&bin).unwrap();
    assert_eq!(info.size_bytes, bytes.len() as u64);
    assert_eq!(info.elf_header, bytes[..HEADER_BYTES]);
    assert_eq!(info.sha256.len(), 64);
    assert!(
        info.sha256
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    if let Some(sum) = sha256sum(&bin) {
        assert_eq!(info.sha256, sum);
    }

    let record = info.to_record(&bin);
    assert_eq!(record.format.as_deref(), Some("elf"));
    assert_eq!(record.linkage, Linkage::Static);
    assert_eq!(record.go_version, info.go_version);
    assert_eq!(record.machine.as_deref(), Some(machine));
    assert_eq!(record.path, bin.display().to_string());
}

/// `sha256sum`'s answer, when the host has it.
fn sha256sum(path: &Path) -> Option<String> {
    let out = Command::new("sha256sum").arg(path).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    Some(text.split_whitespace().next()?.to_owned())
}

#[test]
fn static_linux_amd64() {
    check_static_go(GO, "amd64", "x86_64");
}

#[test]
fn static_linux_arm64() {
    check_static_go(GO, "arm64", "aarch64");
}

#[test]
fn static_linux_riscv64() {
    check_static_go(GO, "riscv64", "riscv64");
}

#[test]
fn static_linux_arm64_older_toolchain() {
    check_static_go(GO_OLD, "arm64", "aarch64");
}

#[test]
fn stripped_binary_keeps_go_version() {
    let Some(go) = go_or_skip(GO) else { return };
    let env = [("GOOS", "linux"), ("GOARCH", "amd64"), ("CGO_ENABLED", "0")];
    let (_dir, bin, info) = build_and_inspect(&go, HELLO, &env, &["-trimpath", "-ldflags=-s -w"]);
    assert_eq!(info.linkage, Linkage::Static);
    assert_eq!(
        info.go_version.as_deref(),
        Some(go_version_of(&go, &bin).as_str())
    );
}

#[test]
fn pie_linux_amd64_is_static_pie() {
    // Go's internal linker makes a PIE without an interpreter when cgo is off.
    let Some(go) = go_or_skip(GO) else { return };
    let env = [("GOOS", "linux"), ("GOARCH", "amd64"), ("CGO_ENABLED", "0")];
    let (_dir, _bin, info) = build_and_inspect(&go, HELLO, &env, &["-buildmode=pie"]);
    assert!(
        matches!(info.linkage, Linkage::StaticPie | Linkage::Dynamic),
        "{info:?}"
    );
    if info.linkage == Linkage::StaticPie {
        assert_eq!(info.interpreter, None);
    } else {
        assert!(info.interpreter.is_some());
    }
}

#[test]
fn cgo_glibc_arm64_is_dynamic() {
    let Some(go) = go_or_skip(GO) else { return };
    let Some(zig) = zig_or_skip() else { return };
    let cc = format!("{zig} cc -target aarch64-linux-gnu.2.31");
    let env = [
        ("GOOS", "linux"),
        ("GOARCH", "arm64"),
        ("CGO_ENABLED", "1"),
        ("CC", cc.as_str()),
    ];
    let (_dir, bin, info) = build_and_inspect(&go, CGO, &env, &[]);
    assert_eq!(info.format, BinaryFormat::Elf);
    assert_eq!(info.linkage, Linkage::Dynamic, "{info:?}");
    assert_eq!(
        info.interpreter.as_deref(),
        Some("/lib/ld-linux-aarch64.so.1")
    );
    assert!(
        info.needed.iter().any(|n| n == "libc.so.6"),
        "{:?}",
        info.needed
    );
    assert_eq!(info.machine.as_deref(), Some("aarch64"));
    assert_eq!(
        info.go_version.as_deref(),
        Some(go_version_of(&go, &bin).as_str())
    );
    let record = info.to_record(&bin);
    assert_eq!(record.interpreter, info.interpreter);
    assert_eq!(record.needed, info.needed);
}

#[test]
fn cgo_musl_arm64_is_static() {
    let Some(go) = go_or_skip(GO) else { return };
    let Some(zig) = zig_or_skip() else { return };
    let cc = format!("{zig} cc -target aarch64-linux-musl");
    let env = [
        ("GOOS", "linux"),
        ("GOARCH", "arm64"),
        ("CGO_ENABLED", "1"),
        ("CC", cc.as_str()),
    ];
    let (_dir, bin, info) = build_and_inspect(&go, CGO, &env, &[]);
    assert_eq!(info.format, BinaryFormat::Elf);
    assert_eq!(info.linkage, Linkage::Static, "{info:?}");
    assert_eq!(info.interpreter, None);
    assert!(info.needed.is_empty(), "{:?}", info.needed);
    assert_eq!(
        info.go_version.as_deref(),
        Some(go_version_of(&go, &bin).as_str())
    );
}

fn check_wasip1(go_path: &str) {
    let Some(go) = go_or_skip(go_path) else {
        return;
    };
    let env = [("GOOS", "wasip1"), ("GOARCH", "wasm")];
    let (_dir, bin, info) = build_and_inspect(&go, HELLO, &env, &[]);
    assert_eq!(info.format, BinaryFormat::Wasm);
    assert_eq!(info.linkage, Linkage::NotElf);
    assert_eq!(info.machine.as_deref(), Some("wasm32"));
    assert_eq!(info.interpreter, None);
    assert!(info.needed.is_empty());
    // `go version` cannot read wasm (debug/buildinfo has no wasm reader), so compare with the
    // toolchain's own version.
    assert_eq!(
        info.go_version.as_deref(),
        Some(go_env_version(&go).as_str())
    );
    assert!(info.elf_header.starts_with(b"\0asm"));
    let record = info.to_record(&bin);
    assert_eq!(record.format.as_deref(), Some("wasm"));
    assert_eq!(record.linkage, Linkage::NotElf);
}

#[test]
fn wasip1_wasm() {
    check_wasip1(GO);
}

#[test]
fn wasip1_wasm_older_toolchain() {
    check_wasip1(GO_OLD);
}

#[test]
fn non_binaries_are_described_not_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("run.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    let info = inspect_binary(&script).unwrap();
    assert_eq!(info.format, BinaryFormat::Unknown);
    assert_eq!(info.linkage, Linkage::NotElf);
    assert_eq!(info.go_version, None);
    assert_eq!(info.size_bytes, 18);
    assert_eq!(info.elf_header, b"#!/bin/sh\necho hi\n");
    assert_eq!(info.to_record(&script).format, None);

    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    let info = inspect_binary(&empty).unwrap();
    assert_eq!(
        info.sha256,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert!(info.elf_header.is_empty());
}

#[test]
fn malformed_elf_and_missing_file_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad");
    let mut bytes = b"\x7fELF\x02\x01\x01".to_vec();
    bytes.resize(40, 0);
    std::fs::write(&bad, &bytes).unwrap();
    let err = inspect_binary(&bad).unwrap_err();
    assert!(err.to_string().contains("malformed"), "{err}");

    let err = inspect_binary(&dir.path().join("nope")).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}
