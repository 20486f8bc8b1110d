//! `crossmatrix history` on run dirs written here (no Go, no qemu): the change points, the
//! formats, the gates and their exit codes, and the errors a user can make.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_crossmatrix");

/// A passing cell of `program` with a startup median and an instruction count.
fn record(program: &str, startup_ms: f64, count: u64) -> Value {
    json!({
        "schema": 1,
        "id": format!("go1.27/linux-arm64/cgo0/rootfs-scratch/{program}"),
        "toolchain": {"name": "go1.27", "version": "go1.27.4", "goroot": "/usr/lib/go-1.27"},
        "target": {"goos": "linux", "goarch": "arm64", "variant": null},
        "cgo": 0, "libc": null, "rootfs": "scratch", "program": program,
        "build": {"status": "ok", "duration_ms": 900},
        "startup": {"reps": 1, "median_ms": startup_ms, "min_ms": startup_ms, "mad_ms": 0.0,
                    "samples_ms": [startup_ms]},
        "instructions": {"count": count, "samples": [count, count],
                         "counter": {"qemu_version": "10.0.2", "arch": "aarch64"}},
        "status": "pass",
    })
}

fn meta(night: usize) -> Value {
    json!({
        "schema": 1, "crossmatrix_version": "0.1.0",
        "started_at": format!("2026-11-{:02}T03:17:00Z", night + 1),
        "finished_at": format!("2026-11-{:02}T03:40:00Z", night + 1),
        "wall_ms": 1_380_000,
        "host": {"hostname": "runner", "os": "Ubuntu 24.04", "kernel": "6.8", "arch": "x86_64",
                 "cores": 4, "user": "runner", "binfmt": true},
        "tools": [], "toolchains": [], "matrix_hash": "h",
        "planned": ["go1.27/linux-arm64/cgo0/rootfs-scratch/probe"],
        "commit": format!("{:02}{}", night, "ab".repeat(19)),
        "jobs": 4, "reps": 5,
        "totals": {"cells": 1, "pass": 1, "fail": 0, "skipped": 0, "built": 0},
    })
}

/// Eight nights: startup steps from ~40 ms to ~52 ms at night 3; the count goes up by one
/// instruction at the newest night (7). Dirs are named so that the shell's order is not the
/// nights' order.
fn nights(root: &Path) -> Vec<PathBuf> {
    let startup = [40.1, 39.6, 40.4, 52.2, 51.5, 52.8, 51.9, 52.4];
    let mut dirs = Vec::new();
    for (night, ms) in startup.iter().enumerate() {
        let dir = root.join(format!("run-{}", 7 - night));
        std::fs::create_dir_all(&dir).unwrap();
        let count = if night == 7 { 1_000_001 } else { 1_000_000 };
        let rec = record("probe", *ms, count);
        // The records must be what crossmatrix itself reads.
        serde_json::from_value::<crossmatrix_results::CellRecord>(rec.clone()).unwrap();
        std::fs::write(dir.join("cells.jsonl"), format!("{rec}\n")).unwrap();
        serde_json::from_value::<crossmatrix_results::RunMeta>(meta(night)).unwrap();
        std::fs::write(dir.join("run.json"), meta(night).to_string()).unwrap();
        dirs.push(dir);
    }
    dirs.sort();
    dirs
}

fn history(dirs: &[PathBuf], args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("history")
        .args(dirs)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run crossmatrix")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn history_finds_the_changes_of_the_nights() {
    let d = tempfile::tempdir().unwrap();
    let dirs = nights(d.path());
    let out = history(&dirs, &["--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["nights"][0]["label"], "2026-11-01T03:17:00Z",
        "sorted by started_at"
    );
    let changes: Vec<(String, String, u64, bool, bool)> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["subject"].as_str().unwrap().to_string(),
                c["unit"].as_str().unwrap().to_string(),
                c["night"].as_u64().unwrap(),
                c["new"].as_bool().unwrap(),
                c["regression"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("startup".into(), "instructions".into(), 7, true, true),
            ("startup".into(), "ms".into(), 3, false, true),
        ]
    );
    let first = &v["changes"][0];
    assert_eq!(first["counter"], "qemu-10.0.2");
    assert_eq!(first["commit"], format!("07{}", "ab".repeat(19)));
    assert_eq!(
        (first["before"].as_f64(), first["after"].as_f64()),
        (Some(1e6), Some(1_000_001.0))
    );
    assert_eq!(first["confidence"], 1.0);

    let table = history(&dirs, &[]);
    assert!(table.status.success());
    let t = text(&table.stdout);
    assert!(
        t.starts_with("2 change points (1 new) in 2 series over 8 nights"),
        "{t}"
    );
    assert!(t.contains("1000000 → 1000001 instructions"), "{t}");
    assert!(t.contains("  03ababababab  "), "{t}");
    let md = history(&dirs, &["--format", "md"]);
    assert!(
        text(&md.stdout).contains("| **new regression** |"),
        "{}",
        text(&md.stdout)
    );
}

#[test]
fn the_gates_exit_1_on_a_change_at_the_newest_night() {
    let d = tempfile::tempdir().unwrap();
    let dirs = nights(d.path());
    for gate in ["new-change", "new-regression"] {
        let out = history(&dirs, &["--fail-on", gate]);
        assert_eq!(out.status.code(), Some(1), "{gate}");
        let err = text(&out.stderr);
        assert!(err.contains("1 gate violation(s)"), "{err}");
        assert!(
            err.contains("1000000 → 1000001 (+0.00%) at the newest night"),
            "{err}"
        );
    }
    // Only the startup series: its change is old news.
    let out = history(&dirs, &["--series", " ms$", "--fail-on", "new-change"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("1 change point (0 new) in 1 series"));
    // A larger --min-change reads the 30% step as drift.
    let out = history(&dirs, &["--series", " ms$", "--min-change", "40"]);
    assert!(
        text(&out.stdout).starts_with("0 change points"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn what_history_refuses() {
    let d = tempfile::tempdir().unwrap();
    let mut dirs = nights(d.path());
    let fails = |dirs: &[PathBuf], args: &[&str]| {
        let out = history(dirs, args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stdout)
        );
        text(&out.stderr)
    };
    let err = fails(&dirs[..3], &[]);
    assert!(
        err.contains("needs at least 6 nights (run dirs), got 3"),
        "{err}"
    );
    let err = fails(&dirs, &["--series", "nothing-like-this"]);
    assert!(err.contains("matches none of the 2 series"), "{err}");
    let err = fails(&dirs, &["--fail-on", "new-thing"]);
    assert!(err.contains("--fail-on new-thing: unknown gate"), "{err}");
    let err = fails(&dirs, &["--format", "html"]);
    assert!(err.contains("expected table, md or json"), "{err}");
    std::fs::remove_file(dirs[2].join("run.json")).unwrap();
    let err = fails(&dirs, &[]);
    assert!(
        err.contains(&format!(
            "{} is not a run dir: it has no run.json",
            dirs[2].display()
        )),
        "{err}"
    );
    dirs[2] = d.path().join("nowhere");
    let err = fails(&dirs, &[]);
    assert!(err.contains("nowhere: no such directory"), "{err}");
}
