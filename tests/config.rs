//! `crossmatrix.toml` end to end: a suite of programs with settings, stdin, expectations and a
//! known breakage, build-only targets, include/exclude, planned, sharded for GitHub, filtered
//! and run; and a config with typos rejected with every problem's file:line:col.

mod common;

use common::{crossmatrix, record, records, require_host, shared_cache};
use std::collections::BTreeSet;

const CONFIG: &str = r#"
toolchains = ["go1.27"]
targets = ["linux/amd64", "linux/arm64", "darwin/arm64", "windows/amd64", "freebsd/amd64"]

# Build-only targets build the suite's hello only.
exclude = [
  { target = ["darwin/arm64", "windows/amd64", "freebsd/amd64"], program = ["bye", "echo", "broken"] },
]
include = [
  # riscv64 is no original combination: adds hello on riscv64, with settings.
  { target = "linux/riscv64", program = "hello", run = { reps = 1 } },
  # arm64 × echo is one: extends it with an environment variable.
  { target = "linux/arm64", program = "echo", run = { env = { GREETING = "from-include" } } },
  # An impossible combination: recorded as skipped with its reason, not dropped.
  { target = "wasip1/wasm", cgo = 1, libc = "musl", program = "hello" },
]

[build]
ldflags = "-s -w"

[run]
reps = 2
timeout = 20

[[programs]]
path = "suite"
suite = true
exclude = ["echo.go", "broken.go"]

[[programs]]
path = "suite/echo.go"
stdin = "ping\n"
expect = { stdout = "got ping\n", stderr_regex = "^done" }

[[programs]]
path = "suite/broken.go"
expect = "fail"
cause = "wrong-exit-code"
reason = "known arm64 bug"
match = { target = "linux/arm64" }

[[programs]]
path = "unixonly.go"
expect = "fail"
cause = "build-error"
reason = "no syscall.Mkfifo on windows"
match = { target = "windows/amd64" }
"#;

fn write(dir: &std::path::Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

fn ids(v: &[serde_json::Value]) -> BTreeSet<String> {
    v.iter()
        .map(|c| c["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_config_file_drives_plan_and_run() {
    require_host!(false);
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    write(d, "crossmatrix.toml", CONFIG);
    write(
        d,
        "suite/hello.go",
        "package main\nimport \"fmt\"\nfunc main() { fmt.Println(\"hello\") }\n",
    );
    write(d, "suite/hello.out", "hello\n");
    write(
        d,
        "suite/bye.go",
        "package main\nimport \"fmt\"\nfunc main() { fmt.Println(\"bye\") }\n",
    );
    write(
        d,
        "suite/echo.go",
        "package main\nimport (\"bufio\"; \"fmt\"; \"os\")\nfunc main() { s, _ := bufio.NewReader(os.Stdin).ReadString('\\n'); fmt.Print(\"got \", s); fmt.Fprintln(os.Stderr, \"done\", os.Getenv(\"GREETING\")) }\n",
    );
    write(
        d,
        "suite/broken.go",
        "package main\nimport (\"os\"; \"runtime\")\nfunc main() { if runtime.GOARCH == \"arm64\" { os.Exit(4) } }\n",
    );
    write(
        d,
        "unixonly.go",
        "package main\nimport (\"fmt\"; \"syscall\")\nfunc main() { fmt.Println(syscall.Mkfifo(\"\", 0) != nil) }\n",
    );
    let cfg = d.join("crossmatrix.toml");
    let cfg = cfg.to_str().expect("utf-8");
    let id = |target: &str, p: &str| format!("go1.27/{target}/cgo0/rootfs-scratch/{p}");
    // 4 programs × 2 linux targets, hello on 3 build-only targets, on riscv64 and (skipped)
    // on wasip1 with cgo.
    let mut want: BTreeSet<String> = BTreeSet::new();
    for t in ["linux-amd64", "linux-arm64"] {
        for p in ["hello", "bye", "echo", "broken"] {
            want.insert(id(t, p));
        }
    }
    for t in [
        "darwin-arm64",
        "windows-amd64",
        "freebsd-amd64",
        "linux-riscv64",
    ] {
        want.insert(id(t, "hello"));
    }
    for t in [
        "linux-amd64",
        "linux-arm64",
        "darwin-arm64",
        "windows-amd64",
        "freebsd-amd64",
    ] {
        want.insert(id(t, "unixonly"));
    }
    let wasm_cgo = "go1.27/wasip1-wasm/cgo1-musl/rootfs-musl/hello";
    want.insert(wasm_cgo.to_string());

    // plan: the cells, as JSON and as a GitHub matrix of 3 shards.
    let o = crossmatrix(&["plan", "--config", cfg, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let planned: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).expect("plan json");
    assert_eq!(ids(&planned), want);
    let o = crossmatrix(&[
        "plan", "--config", cfg, "--format", "github", "--shards", "3",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let gh: serde_json::Value = serde_json::from_slice(&o.stdout).expect("github matrix json");
    let shards = gh["include"].as_array().expect("include");
    assert_eq!(shards.len(), 3);
    let total: u64 = shards
        .iter()
        .map(|s| s["cells"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(total, 18);
    // --filter on plan: terms on different axes must all hold.
    let o = crossmatrix(&[
        "plan",
        "--config",
        cfg,
        "--format",
        "json",
        "--filter",
        "target=linux/arm64",
        "--filter",
        "program=echo",
    ]);
    let one: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).expect("plan json");
    assert_eq!(ids(&one), BTreeSet::from([id("linux-arm64", "echo")]));

    let out = d.join("out");
    let cache = shared_cache();
    let o = crossmatrix(&[
        "run",
        "--config",
        cfg,
        "--cache-dir",
        cache.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "built cells and the expected arm64 failure do not make the run red"
    );
    let recs = records(&out);
    assert_eq!(ids(&recs), want, "exclude removed, include added");
    for arch in ["amd64", "arm64"] {
        let t = format!("linux-{arch}");
        for p in ["hello", "bye", "echo"] {
            let r = record(&recs, &id(&t, p));
            assert_eq!(r["status"], "pass", "{r:#}");
            assert_eq!(r["startup"]["reps"], 2, "reps from the config");
        }
    }
    // The golden hello.out and the include's settings on the cell it added.
    let rv = record(&recs, &id("linux-riscv64", "hello"));
    assert_eq!(rv["status"], "pass", "{rv:#}");
    assert_eq!(rv["startup"]["reps"], 1, "reps from the include");
    // The include that extends: its env reaches arm64 × echo only.
    let echo = |t: &str| record(&recs, &id(t, "echo"))["run"]["stderr_tail"].clone();
    assert!(
        echo("linux-arm64")
            .as_str()
            .is_some_and(|e| e.contains("done from-include"))
    );
    assert!(
        echo("linux-amd64")
            .as_str()
            .is_some_and(|e| !e.contains("from-include"))
    );
    // The expected failure: recorded with its cause, not red; elsewhere the program passes.
    let broken = record(&recs, &id("linux-arm64", "broken"));
    assert_eq!(broken["status"], "pass");
    assert_eq!(broken["cause"], "wrong-exit-code");
    assert!(
        broken["hint"]
            .as_str()
            .unwrap_or("")
            .contains("known arm64 bug"),
        "{broken:#}"
    );
    let fine = record(&recs, &id("linux-amd64", "broken"));
    assert_eq!(
        (&fine["status"], &fine["cause"]),
        (&"pass".into(), &serde_json::Value::Null)
    );
    // An expected build failure: not red either, and only where it is expected.
    let win = record(&recs, &id("windows-amd64", "unixonly"));
    assert_eq!(win["status"], "pass", "{win:#}");
    assert_eq!(win["cause"], "build-error");
    assert!(
        win["hint"]
            .as_str()
            .is_some_and(|h| h.contains("expected failure (no syscall.Mkfifo on windows)")),
        "{win:#}"
    );
    assert_eq!(
        record(&recs, &id("darwin-arm64", "unixonly"))["status"],
        "built"
    );
    assert_eq!(
        record(&recs, &id("linux-arm64", "unixonly"))["status"],
        "pass"
    );
    let skipped = record(&recs, wasm_cgo);
    assert_eq!(skipped["status"], "skipped", "{skipped:#}");
    assert_eq!(skipped["cause"], "unsupported-target");
    assert!(
        skipped["hint"]
            .as_str()
            .is_some_and(|h| h.contains("cgo is not available on wasip1/wasm")),
        "{skipped:#}"
    );
    // Build-only targets: built and inspected, not run.
    for (t, format) in [
        ("darwin-arm64", "macho"),
        ("windows-amd64", "pe"),
        ("freebsd-amd64", "elf"),
    ] {
        let r = record(&recs, &id(t, "hello"));
        assert_eq!(r["status"], "built", "{r:#}");
        assert_eq!(r["build"]["status"], "ok", "{r:#}");
        assert_eq!(r["binary"]["format"], format, "{r:#}");
        assert!(
            r["binary"]["size_bytes"].as_u64().unwrap_or(0) > 100_000,
            "{r:#}"
        );
        assert_eq!(r["binary"]["sha256"].as_str().map(str::len), Some(64));
    }
    // -ldflags "-s -w" strips the symbol table: smaller than the probe-sized binaries.
    let hello = record(&recs, &id("linux-amd64", "hello"));
    assert!(
        hello["binary"]["size_bytes"].as_u64().unwrap_or(u64::MAX) < 1_800_000,
        "{hello:#}"
    );
}

#[test]
fn config_errors_name_file_line_and_column() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = tmp.path().join("crossmatrix.toml");
    std::fs::write(
        &cfg,
        "toolchains = [\"go1.27\"]\ntargets = [\"linux/amd64\", \"linux/arm46\"]\ncgo = [0, 2]\n[run]\nrepz = 3\n",
    )
    .expect("write");
    let o = crossmatrix(&["plan", "--config", cfg.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty(), "no plan is printed");
    let err = String::from_utf8_lossy(&o.stderr);
    // Every problem at once, in file order.
    let at = |s: &str| {
        err.find(s)
            .unwrap_or_else(|| panic!("`{s}` not in:\n{err}"))
    };
    let (a, b, c) = (
        at("crossmatrix.toml:2:27: `targets[1]`"),
        at("crossmatrix.toml:3:11: `cgo[1]`"),
        at("crossmatrix.toml:5:1: `run.repz`"),
    );
    assert!(a < b && b < c, "{err}");
    assert!(err.contains("did you mean `linux/arm64`"), "{err}");
    assert!(err.contains("did you mean `reps`"), "{err}");
    assert!(err.contains("3 problems in"), "{err}");
}

/// An expected failure that does not happen (fixed upstream, or a rule too broad) passes, but
/// the record says the rule can go — like an XPASS — so rules do not outlive their breakage.
#[test]
fn an_expected_failure_that_passes_says_so() {
    require_host!(false);
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    write(
        d,
        "crossmatrix.toml",
        r#"
toolchains = ["go1.27"]
targets = ["linux/amd64"]
[run]
reps = 1
[[programs]]
path = "fixed.go"
expect = "fail"
cause = "wrong-exit-code"
reason = "issue 123"
"#,
    );
    write(d, "fixed.go", "package main\nfunc main() {}\n");
    let out = d.join("out");
    let cache = shared_cache();
    let o = crossmatrix(&[
        "run",
        "--config",
        d.join("crossmatrix.toml").to_str().expect("utf-8"),
        "--cache-dir",
        cache.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let recs = records(&out);
    let r = record(&recs, "go1.27/linux-amd64/cgo0/rootfs-scratch/fixed");
    assert_eq!(r["status"], "pass", "{r:#}");
    assert_eq!(r["cause"], serde_json::Value::Null, "{r:#}");
    let hint = r["hint"].as_str().unwrap_or("");
    assert!(
        hint.contains("expected to fail with wrong-exit-code but passed")
            && hint.contains("drop the expect"),
        "{r:#}"
    );
}
