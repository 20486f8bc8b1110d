//! `crossmatrix.toml` end to end: a suite of programs with settings, stdin, expectations and a
//! known breakage, planned, sharded for GitHub and run; and a typo rejected with file:line:col.

mod common;

use common::{crossmatrix, record, records, require_host, shared_cache};

const CONFIG: &str = r#"
toolchains = ["go1.24"]
targets = ["linux/amd64", "linux/arm64"]

[build]
ldflags = "-s -w"

[run]
reps = 2
timeout = 20

[[programs]]
path = "suite"
suite = true

[[programs]]
path = "echo.go"
stdin = "ping\n"
expect = { stdout = "got ping\n", stderr_regex = "^done" }

[[programs]]
path = "broken.go"
expect_fail = [{ match = { target = "linux/arm64" }, cause = "wrong-exit-code", reason = "known arm64 bug" }]
"#;

fn write(dir: &std::path::Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
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
        "echo.go",
        "package main\nimport (\"bufio\"; \"fmt\"; \"os\")\nfunc main() { s, _ := bufio.NewReader(os.Stdin).ReadString('\\n'); fmt.Print(\"got \", s); fmt.Fprintln(os.Stderr, \"done\") }\n",
    );
    write(
        d,
        "broken.go",
        "package main\nimport (\"os\"; \"runtime\")\nfunc main() { if runtime.GOARCH == \"arm64\" { os.Exit(4) } }\n",
    );
    let cfg = d.join("crossmatrix.toml");
    let cfg = cfg.to_str().expect("utf-8");

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
    assert_eq!(total, 8, "4 programs × 2 targets");

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
        "the expected arm64 failure does not make the run red"
    );
    let recs = records(&out);
    assert_eq!(recs.len(), 8);
    for arch in ["amd64", "arm64"] {
        let id = |p: &str| format!("go1.24/linux-{arch}/cgo0/rootfs-scratch/{p}");
        for p in ["hello", "bye", "echo"] {
            let r = record(&recs, &id(p));
            assert_eq!(r["status"], "pass", "{r:#}");
            assert_eq!(r["startup"]["reps"], 2, "reps from the config");
        }
    }
    let broken = record(&recs, "go1.24/linux-arm64/cgo0/rootfs-scratch/broken");
    assert_eq!(broken["status"], "pass");
    assert_eq!(broken["cause"], "wrong-exit-code");
    assert!(
        broken["hint"]
            .as_str()
            .unwrap_or("")
            .contains("known arm64 bug")
    );
    // -ldflags "-s -w" strips the symbol table: smaller than the probe-sized binaries.
    let hello = record(&recs, "go1.24/linux-amd64/cgo0/rootfs-scratch/hello");
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
        "toolchains = [\"go1.24\"]\ntargets = [\"linux/amd64\", \"linux/arm46\"]\n",
    )
    .expect("write");
    let o = crossmatrix(&["plan", "--config", cfg.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("crossmatrix.toml:2:27"), "{err}");
    assert!(err.contains("did you mean `linux/arm64`"), "{err}");
}
