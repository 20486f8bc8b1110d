//! One real cell per failure cause: each built and run by the real `crossmatrix` on this host,
//! asserting the stable `cause` code and that the hint says what to change. `exec-format` has no
//! real cell here (binfmt_misc handles every Go arch on a host with qemu-user-static, and
//! disabling a handler is host-wide): its classifier is unit-tested in `runner/src/classify.rs`.
//! `emulator-crash` uses a stand-in qemu (a static Go program that fails the way qemu's TCG
//! assertions do) put first on PATH with `--executor qemu-direct`.

mod common;

use common::{record, records, require_host, shared_cache};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

/// Runs crossmatrix in `dir` with `args` (+ cache and no progress), optionally with `PATH`.
fn run_in(dir: &Path, args: &[&str], path: Option<&str>) -> Output {
    let cache = shared_cache();
    let mut c = common::command();
    c.current_dir(dir)
        .args(args)
        .args(["--no-progress", "--reps", "1", "--cache-dir"])
        .arg(&cache)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("CROSSMATRIX_CONFIG");
    if let Some(p) = path {
        c.env("PATH", p);
    }
    let out = c.output().expect("run crossmatrix");
    eprintln!(
        "$ crossmatrix {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).expect("write file");
    p
}

fn str_of<'a>(r: &'a Value, key: &str) -> &'a str {
    r[key].as_str().unwrap_or("")
}

/// Asserts the cell's cause and that its hint mentions every one of `hint_has`.
fn assert_cause(recs: &[Value], id: &str, cause: &str, hint_has: &[&str]) {
    let r = record(recs, id);
    assert_eq!(r["cause"], cause, "{id}: {r:#}");
    let hint = str_of(r, "hint");
    assert!(
        !hint.is_empty() && !hint.contains('\n'),
        "{id}: one-line hint: {hint:?}"
    );
    for h in hint_has {
        assert!(hint.contains(h), "{id}: the hint should name `{h}`: {hint}");
    }
}

const HELLO: &str = "package main\nimport \"fmt\"\nfunc main() { fmt.Println(\"hello\") }\n";
const CGO_HELLO: &str = "package main\n// static int answer(void) { return 42; }\nimport \"C\"\nimport \"fmt\"\nfunc main() { fmt.Println(\"answer\", C.answer()) }\n";

#[test]
fn program_causes_on_amd64() {
    require_host!(false);
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    write(
        d,
        "builderr.go",
        "package main\n\nfunc main() {\n\tundefinedThing()\n}\n",
    );
    write(
        d,
        "sleeper.go",
        "package main\nimport \"time\"\nfunc main() { time.Sleep(time.Hour) }\n",
    );
    write(
        d,
        "abort.go",
        "package main\nimport \"runtime/debug\"\nfunc main() { debug.SetTraceback(\"crash\"); panic(\"boom\") }\n",
    );
    write(
        d,
        "alloc.go",
        "package main\nvar keep [][]byte\nfunc main() { for { b := make([]byte, 16<<20); for i := range b { b[i] = 1 }; keep = append(keep, b) } }\n",
    );
    write(d, "hello.go", HELLO);
    write(d, "hello.out", "bye\n");
    write(
        d,
        "exit3.go",
        "package main\nimport (\"fmt\"; \"os\")\nfunc main() { fmt.Fprintln(os.Stderr, \"config not found\"); os.Exit(3) }\n",
    );
    write(d, "vermis.go", HELLO);
    write(
        d,
        "crossmatrix.toml",
        r#"toolchains = ["go1.27"]
targets = ["linux/amd64"]
cgo = [0]

[run]
timeout = 30

[[programs]]
path = "builderr.go"

[[programs]]
path = "sleeper.go"
run = { timeout = 2 }

[[programs]]
path = "abort.go"

[[programs]]
path = "alloc.go"
run = { memory = "256MiB" }

[[programs]]
path = "hello.go"

[[programs]]
path = "exit3.go"

# What a GOROOT/toolchain mismatch looks like to the checks: another Go version in the binary.
[[programs]]
path = "vermis.go"
build = { ldflags = "-X runtime.buildVersion=go1.0.1" }
"#,
    );
    let o = run_in(d, &["run", "--out", "out"], None);
    assert_eq!(o.status.code(), Some(1));
    let recs = records(&d.join("out"));
    let id = |p: &str| format!("go1.27/linux-amd64/cgo0/rootfs-scratch/{p}");
    assert_cause(
        &recs,
        &id("builderr"),
        "build-error",
        &["builderr.go:4", "undefined: undefinedThing"],
    );
    assert_cause(&recs, &id("sleeper"), "timeout", &["--timeout", "killed"]);
    assert_cause(&recs, &id("abort"), "signal", &["SIGABRT", "stderr_tail"]);
    assert_cause(&recs, &id("alloc"), "oom", &["memory"]);
    assert_cause(&recs, &id("hello"), "wrong-output", &["stdout"]);
    assert_cause(
        &recs,
        &id("exit3"),
        "wrong-exit-code",
        &["exited 3", "config not found"],
    );
    assert_cause(
        &recs,
        &id("vermis"),
        "go-version-mismatch",
        &["go1.0.1", "go1.27"],
    );
}

#[test]
fn libc_causes() {
    require_host!(true);
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    // strlcpy is GLIBC_2.38; the glibc rootfs is Debian bookworm's 2.36.
    write(
        d,
        "strl.go",
        r#"package main

/*
#include <string.h>
static int copy(const char *src) { char dst[8]; return (int)strlcpy(dst, src, sizeof dst); }
*/
import "C"
import (
	"fmt"
	"os"
)

func main() { fmt.Println("strlcpy", C.copy(C.CString(os.Args[0]))) }
"#,
    );
    // Linked against the host's zlib, which the rootfs does not have.
    write(
        d,
        "zlib.go",
        r#"package main

/*
#cgo LDFLAGS: -L/usr/lib/x86_64-linux-gnu -lz
const char *zlibVersion(void);
*/
import "C"
import "fmt"

func main() { fmt.Println("zlib", C.GoString(C.zlibVersion())) }
"#,
    );
    if !Path::new("/usr/lib/x86_64-linux-gnu/libz.so").exists() {
        if std::env::var_os("CI").is_some() {
            panic!("zlib1g-dev is missing (ci/setup installs it)");
        }
        eprintln!("SKIPPED: /usr/lib/x86_64-linux-gnu/libz.so (zlib1g-dev) is missing");
        return;
    }
    write(
        d,
        "crossmatrix.toml",
        r#"toolchains = ["go1.27"]
targets = ["linux/amd64"]
cgo = [1]
libc = ["gnu"]

[[programs]]
path = "strl.go"
build = { env = { CC = "zig cc -target x86_64-linux-gnu.2.38" } }

[[programs]]
path = "zlib.go"
"#,
    );
    let o = run_in(d, &["run", "--out", "out"], None);
    assert_eq!(o.status.code(), Some(1));
    let recs = records(&d.join("out"));
    let id = |p: &str| format!("go1.27/linux-amd64/cgo1-gnu/rootfs-glibc/{p}");
    assert_cause(
        &recs,
        &id("strl"),
        "glibc-version",
        &["GLIBC_2.38", "glibc", "zig"],
    );
    assert_cause(
        &recs,
        &id("zlib"),
        "missing-library",
        &["libz.so.1", "glibc"],
    );

    // The seeds' Alpine trap: a glibc binary on a musl rootfs (axis flags: no config).
    std::fs::remove_file(d.join("crossmatrix.toml")).expect("rm config");
    let c = write(d, "cgohello.go", CGO_HELLO);
    let o = run_in(
        d,
        &[
            "run",
            c.to_str().expect("utf-8"),
            "--toolchain",
            "go1.27",
            "--target",
            "linux/arm64",
            "--libc",
            "gnu",
            "--rootfs",
            "musl",
            "--out",
            "out2",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    let recs = records(&d.join("out2"));
    assert_cause(
        &recs,
        "go1.27/linux-arm64/cgo1-gnu/rootfs-musl/cgohello",
        "missing-interpreter",
        &["/lib/ld-linux-aarch64.so.1", "musl"],
    );
}

#[test]
fn toolchain_and_host_causes() {
    require_host!(true);
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    write(d, "cgohello.go", CGO_HELLO);
    write(d, "hello.go", HELLO);
    // CC for another architecture than GOARCH.
    write(
        d,
        "crossmatrix.toml",
        r#"toolchains = ["go1.27"]
targets = ["linux/arm64"]
cgo = [1]
libc = ["gnu"]
[build]
env = { CC = "zig cc -target x86_64-linux-gnu" }
[[programs]]
path = "cgohello.go"
"#,
    );
    let o = run_in(d, &["run", "--out", "out"], None);
    assert_eq!(o.status.code(), Some(1));
    assert_cause(
        &records(&d.join("out")),
        "go1.27/linux-arm64/cgo1-gnu/rootfs-glibc/cgohello",
        "cc-target-mismatch",
        &["CC and CXX", "arm64"],
    );
    std::fs::remove_file(d.join("crossmatrix.toml")).expect("rm config");

    // A target the toolchain does not know (openbsd/riscv64 is new in Go 1.23).
    let o = run_in(
        d,
        &[
            "run",
            "hello.go",
            "--toolchain",
            "go1.22",
            "--target",
            "openbsd/riscv64",
            "--out",
            "out2",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "skipped cells do not fail a run");
    let recs = records(&d.join("out2"));
    let r = record(&recs, "go1.22/openbsd-riscv64/cgo0/rootfs-scratch/hello");
    assert_eq!(r["status"], "skipped");
    assert_cause(
        &recs,
        "go1.22/openbsd-riscv64/cgo0/rootfs-scratch/hello",
        "unsupported-target",
        &["openbsd/riscv64"],
    );

    // A host without zig, cross gcc or qemu on PATH (bubblewrap only).
    let bin = d.join("pathbin");
    std::fs::create_dir(&bin).expect("mkdir");
    let bwrap = which::which("bwrap").expect("bwrap");
    std::os::unix::fs::symlink(&bwrap, bin.join("bwrap")).expect("symlink bwrap");
    let o = run_in(
        d,
        &[
            "run",
            "hello.go",
            "--toolchain",
            "go1.27",
            "--target",
            "linux/arm64",
            "--cgo",
            "0",
            "--cgo",
            "1",
            "--libc",
            "musl",
            "--executor",
            "qemu-direct",
            "--out",
            "out3",
        ],
        Some(bin.to_str().expect("utf-8")),
    );
    assert!(o.status.code().is_some());
    let recs = records(&d.join("out3"));
    assert_cause(
        &recs,
        "go1.27/linux-arm64/cgo1-musl/rootfs-musl/hello",
        "no-c-compiler",
        &["zig"],
    );
    let r = record(&recs, "go1.27/linux-arm64/cgo0/rootfs-scratch/hello");
    assert_eq!(r["status"], "built", "{r:#}");
    assert_cause(
        &recs,
        "go1.27/linux-arm64/cgo0/rootfs-scratch/hello",
        "no-executor",
        &["qemu"],
    );
}

/// A stand-in for qemu-aarch64-static: answers `--version` like qemu, and otherwise fails the
/// way qemu's TCG does on an internal assertion (glib's `Bail out!`, then SIGABRT).
const FAKE_QEMU: &str = r#"package main

import (
	"fmt"
	"os"
	"runtime/debug"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Println("qemu-aarch64 version 7.2.99 (crossmatrix test double)")
		return
	}
	fmt.Fprintln(os.Stderr, "**\nERROR:../../accel/tcg/cpu-exec.c:954:cpu_exec: assertion failed: (cpu == current_cpu)")
	fmt.Fprintln(os.Stderr, "Bail out! ERROR:../../accel/tcg/cpu-exec.c:954:cpu_exec: assertion failed: (cpu == current_cpu)")
	debug.SetTraceback("crash")
	panic("abort")
}
"#;

#[test]
fn emulator_crash_and_recheck_marks_emulator_suspect() {
    require_host!(false);
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    let fake_dir = d.join("fakebin");
    std::fs::create_dir(&fake_dir).expect("mkdir");
    let src = write(d, "fakeqemu.go", FAKE_QEMU);
    common::go_build(&src, &fake_dir.join("qemu-aarch64-static"), "amd64");
    write(d, "hello.go", HELLO);
    let path = format!(
        "{}:{}",
        fake_dir.display(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
    );
    let args = |out: &'static str, recheck: bool| {
        let mut a = vec![
            "run",
            "hello.go",
            "--toolchain",
            "go1.27",
            "--target",
            "linux/arm64",
            "--executor",
            "qemu-direct",
            "--out",
            out,
        ];
        if recheck {
            a.push("--recheck");
        }
        a
    };
    let id = "go1.27/linux-arm64/cgo0/rootfs-scratch/hello";

    let o = run_in(d, &args("out", false), Some(&path));
    assert_eq!(o.status.code(), Some(1));
    let recs = records(&d.join("out"));
    assert_cause(&recs, id, "emulator-crash", &["cpu_exec", "--recheck"]);
    let r = record(&recs, id);
    assert_eq!(r["run"]["executor"], "qemu-direct");
    assert_eq!(r["run"]["executor_version"], "7.2.99");
    assert!(r["run"]["recheck"].is_null(), "no recheck unless asked");

    // --recheck: the real qemu, through binfmt_misc, runs it fine.
    let o = run_in(d, &args("out2", true), Some(&path));
    assert_eq!(o.status.code(), Some(1), "a suspect cell still failed here");
    let recs = records(&d.join("out2"));
    assert_cause(
        &recs,
        id,
        "emulator-suspect",
        &["emulator-crash", "qemu-direct 7.2.99", "qemu-binfmt"],
    );
    let again = &record(&recs, id)["run"]["recheck"];
    assert_eq!(again["executor"], "qemu-binfmt", "{again:#}");
    assert_eq!(again["status"], "ok", "{again:#}");
    assert_eq!(again["exit_code"], 0, "{again:#}");
}
