//! End-to-end: the real binary on small real matrices, with real Go, bwrap, qemu and zig.

mod common;

use common::{assert_pass, crossmatrix, record, records, require_host, shared_cache, stderr};
use std::path::Path;

const TOOLCHAINS: [&str; 4] = ["--toolchain", "go1.26", "--toolchain", "go1.27"];

fn versions(recs: &[serde_json::Value]) -> Vec<String> {
    let mut v: Vec<String> = recs
        .iter()
        .map(|r| r["toolchain"]["name"].as_str().unwrap_or("").to_string())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Two toolchains × amd64, arm64, riscv64, wasip1 × cgo0, plus cgo1 musl for arm64.
fn small_matrix(
    out: &Path,
    cache: &Path,
    extra: &[&str],
) -> (i32, Vec<serde_json::Value>, i32, Vec<serde_json::Value>) {
    let cache = cache.to_str().expect("utf-8 path");
    let out0 = out.join("cgo0");
    let mut args: Vec<&str> = vec![
        "run",
        "--reps",
        "3",
        "--cache-dir",
        cache,
        "--out",
        out0.to_str().expect("utf-8"),
    ];
    args.extend(TOOLCHAINS);
    args.extend([
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
    ]);
    args.extend(extra);
    let o = crossmatrix(&args);
    let out1 = out.join("cgo1");
    let mut args1: Vec<&str> = vec![
        "run",
        "--reps",
        "3",
        "--cache-dir",
        cache,
        "--out",
        out1.to_str().expect("utf-8"),
    ];
    args1.extend(TOOLCHAINS);
    args1.extend(["--target", "linux/arm64", "--cgo", "1", "--libc", "musl"]);
    args1.extend(extra);
    let o1 = crossmatrix(&args1);
    (
        o.status.code().unwrap_or(-1),
        records(&out0),
        o1.status.code().unwrap_or(-1),
        records(&out1),
    )
}

#[test]
fn small_matrix_builds_runs_and_records() {
    require_host!(true);
    let tmp = tempfile::tempdir().expect("tempdir");
    let (code0, recs, code1, cgo) = small_matrix(tmp.path(), &shared_cache(), &[]);
    assert_eq!(code0, 0, "every cgo0 cell passes");
    assert_eq!(code1, 0, "the cgo1 musl cells pass");
    assert_eq!(recs.len(), 8);
    assert_eq!(versions(&recs), vec!["go1.26", "go1.27"]);
    for tc in ["go1.26", "go1.27"] {
        assert_pass(
            record(
                &recs,
                &format!("{tc}/linux-amd64/cgo0/rootfs-scratch/probe"),
            ),
            "native",
            "static",
        );
        for arch in ["arm64", "riscv64"] {
            let r = record(
                &recs,
                &format!("{tc}/linux-{arch}/cgo0/rootfs-scratch/probe"),
            );
            assert_pass(r, "qemu-binfmt", "static");
            assert!(
                r["run"]["executor_version"]
                    .as_str()
                    .is_some_and(|v| !v.is_empty()),
                "qemu version recorded"
            );
        }
        let w = record(
            &recs,
            &format!("{tc}/wasip1-wasm/cgo0/rootfs-scratch/probe"),
        );
        assert_pass(w, "wasmtime", "not-elf");
        assert_eq!(w["binary"]["format"], "wasm");
        let c = record(
            &cgo,
            &format!("{tc}/linux-arm64/cgo1-musl/rootfs-musl/probe"),
        );
        assert_pass(c, "qemu-binfmt", "static");
        assert!(
            c["run"]["stdout_tail"]
                .as_str()
                .unwrap_or("")
                .contains("c_call=42"),
            "the cgo call ran"
        );
        assert!(
            c["build"]["cc"]
                .as_str()
                .unwrap_or("")
                .contains("aarch64-linux-musl"),
            "zig cc targeted musl"
        );
        assert!(
            c["build"]["cc"]
                .as_str()
                .unwrap_or("")
                .contains("prebuilt musl-dev"),
            "zig linked Debian's musl-dev instead of compiling musl: {c:#}"
        );
    }
    // run.json: metadata and totals, written at the end.
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("cgo0/run.json")).expect("run.json"),
    )
    .expect("json");
    assert_eq!(meta["schema"], 1);
    assert_eq!(meta["totals"]["cells"], 8);
    assert_eq!(meta["totals"]["pass"], 8);
    assert_eq!(meta["planned"].as_array().map(Vec::len), Some(8));
    assert!(
        meta["tools"]
            .as_array()
            .is_some_and(|t| t.iter().any(|x| x["name"] == "bwrap"))
    );
}

#[test]
fn direct_qemu_executor_covers_hosts_without_binfmt() {
    require_host!(false);
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let cache = shared_cache();
    let mut args = vec![
        "run",
        "--executor",
        "qemu-direct",
        "--reps",
        "2",
        "--cache-dir",
        cache.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ];
    args.extend(TOOLCHAINS);
    args.extend([
        "--target",
        "linux/arm64",
        "--target",
        "linux/riscv64",
        "--cgo",
        "0",
    ]);
    let o = crossmatrix(&args);
    assert_eq!(o.status.code(), Some(0));
    let recs = records(&out);
    assert_eq!(recs.len(), 4);
    for r in &recs {
        assert_pass(r, "qemu-direct", "static");
    }
}

#[test]
fn glibc_binary_on_musl_rootfs_fails_with_missing_interpreter() {
    require_host!(true);
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let cache = shared_cache();
    let o = crossmatrix(&[
        "run",
        "--toolchain",
        "go1.27",
        "--target",
        "linux/arm64",
        "--cgo",
        "1",
        "--libc",
        "gnu",
        "--rootfs",
        "musl",
        "--rootfs",
        "glibc",
        "--reps",
        "1",
        "--cache-dir",
        cache.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "a failed cell makes the run exit 1"
    );
    let recs = records(&out);
    let bad = record(&recs, "go1.27/linux-arm64/cgo1-gnu/rootfs-musl/probe");
    assert_eq!(bad["status"], "fail");
    assert_eq!(bad["cause"], "missing-interpreter");
    assert_eq!(bad["binary"]["linkage"], "dynamic");
    assert_eq!(bad["binary"]["interpreter"], "/lib/ld-linux-aarch64.so.1");
    let hint = bad["hint"].as_str().unwrap_or("");
    assert!(
        hint.contains("/lib/ld-linux-aarch64.so.1") && hint.contains("musl"),
        "hint names loader and rootfs: {hint}"
    );
    // The same binary on the matching glibc rootfs passes.
    let good = record(&recs, "go1.27/linux-arm64/cgo1-gnu/rootfs-glibc/probe");
    assert_pass(good, "qemu-binfmt", "dynamic");
    assert!(
        good["binary"]["needed"]
            .as_array()
            .is_some_and(|n| n.iter().any(|x| x == "libc.so.6"))
    );
}

#[test]
fn a_program_that_exits_3_fails_with_wrong_exit_code() {
    require_host!(false);
    let tmp = tempfile::tempdir().expect("tempdir");
    let prog = tmp.path().join("exit3.go");
    std::fs::write(&prog, "package main\n\nimport (\"fmt\"; \"os\")\n\nfunc main() { fmt.Fprintln(os.Stderr, \"bad things\"); os.Exit(3) }\n")
        .expect("write program");
    let ok = tmp.path().join("hello.go");
    std::fs::write(
        &ok,
        "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n",
    )
    .expect("write program");
    std::fs::write(tmp.path().join("hello.out"), "hello\n").expect("write golden");
    let out = tmp.path().join("out");
    let cache = shared_cache();
    let o = crossmatrix(&[
        "run",
        prog.to_str().expect("utf-8"),
        ok.to_str().expect("utf-8"),
        "--toolchain",
        "go1.27",
        "--target",
        "linux/amd64",
        "--target",
        "linux/arm64",
        "--reps",
        "1",
        "--cache-dir",
        cache.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let recs = records(&out);
    for arch in ["amd64", "arm64"] {
        let r = record(
            &recs,
            &format!("go1.27/linux-{arch}/cgo0/rootfs-scratch/exit3"),
        );
        assert_eq!(r["status"], "fail");
        assert_eq!(r["cause"], "wrong-exit-code");
        assert_eq!(r["run"]["exit_code"], 3);
        assert!(r["hint"].as_str().unwrap_or("").contains("bad things"));
        let h = record(
            &recs,
            &format!("go1.27/linux-{arch}/cgo0/rootfs-scratch/hello"),
        );
        assert_eq!(h["status"], "pass", "the golden hello.out matches");
    }
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("wrong-exit-code"),
        "the table shows the cause"
    );
}

#[test]
fn usage_errors_exit_2_with_a_clear_message() {
    for (args, needle) in [
        (vec!["run", "--target", "linuxarm64"], "GOOS/GOARCH"),
        (
            vec!["run", "--executor", "magic"],
            "auto, native, qemu-binfmt, qemu-direct",
        ),
        (vec!["run", "--toolchain", "go9.99"], "no such Go toolchain"),
        (
            vec!["run", "--toolchain", "go9.98", "--toolchain", "go9.99"],
            "crossmatrix toolchain install go9.98 go9.99",
        ),
        (vec!["run", "--filter", "arch=arm64"], "unknown axis"),
        (vec!["run", "--shard", "3/2"], "out of range"),
        (vec!["run", "/nonexistent/prog.go"], "no such file"),
        (vec!["run", "--frobnicate"], "unexpected argument"),
        (
            vec!["run", "--timing", "sometimes"],
            "expected quiet, exclusive or overlap",
        ),
        (
            vec!["run", "--timing", "quiet", "--overlap-timing"],
            "cannot be used with",
        ),
    ] {
        let o = crossmatrix(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn plan_lists_cells_without_building() {
    require_host!(false);
    let o = crossmatrix(&["plan", "--format", "json", "--toolchain", "go1.27"]);
    assert_eq!(o.status.code(), Some(0));
    let cells: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).expect("plan json");
    // Every linux arch this host runs (all 13 with qemu) + wasip1, and cgo gnu/musl on 3 arches.
    assert!(cells.len() >= 14 + 6, "{}", cells.len());
    assert!(
        cells
            .iter()
            .any(|c| c["id"] == "go1.27/linux-s390x/cgo0/rootfs-scratch/probe")
    );
    assert!(
        cells
            .iter()
            .any(|c| c["id"] == "go1.27/linux-riscv64/cgo1-musl/rootfs-musl/probe")
    );
}

#[test]
fn sigint_records_finished_cells_and_exits_130() {
    require_host!(false);
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let cache = shared_cache();
    let mut child = common::command()
        .args([
            "run",
            "--toolchain",
            "go1.27",
            "--target",
            "linux/amd64",
            "--target",
            "linux/arm64",
            "--target",
            "linux/riscv64",
            "--target",
            "linux/s390x",
            "--cgo",
            "0",
            "-j",
            "1",
            "--reps",
            "40",
            "--cache-dir",
            cache.to_str().expect("utf-8"),
            "--out",
            out.to_str().expect("utf-8"),
        ])
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn crossmatrix");
    // Wait for the first finished cell, then interrupt.
    let cells = out.join("cells.jsonl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while std::fs::read_to_string(&cells)
        .map(|t| t.lines().count())
        .unwrap_or(0)
        < 1
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no cell finished in 300 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130));
    let recs = records(&out);
    assert!(
        !recs.is_empty() && recs.len() < 4,
        "{} cells recorded",
        recs.len()
    );
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("run.json")).expect("run.json is written"),
    )
    .expect("json");
    assert_eq!(meta["interrupted"], true);
    assert_eq!(meta["totals"]["cells"].as_u64(), Some(recs.len() as u64));
    assert_eq!(meta["planned"].as_array().map(Vec::len), Some(4));

    // --resume runs only the rest and completes the run.
    let done_before = recs.len();
    let o = crossmatrix(&[
        "run",
        "--toolchain",
        "go1.27",
        "--target",
        "linux/amd64",
        "--target",
        "linux/arm64",
        "--target",
        "linux/riscv64",
        "--target",
        "linux/s390x",
        "--cgo",
        "0",
        "-j",
        "1",
        "--reps",
        "2",
        "--cache-dir",
        cache.to_str().expect("utf-8"),
        "--resume",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "{done_before} cells already recorded, {} to run",
            4 - done_before
        )),
        "{err}"
    );
    let recs = records(&out);
    let mut ids: Vec<&str> = recs.iter().filter_map(|r| r["id"].as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "every planned cell is recorded once");
    assert_eq!(recs.len(), 4, "no cell ran twice");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).expect("run.json"))
            .expect("json");
    assert_eq!(meta["interrupted"], false);
    assert_eq!(meta["totals"]["pass"], 4);
}

/// A lost shard, a shard of another plan and a torn record are never a silent success (#27):
/// merge writes what it has and says what is missing, exiting 1 unless `--allow-incomplete`;
/// report and the compare gate say so too; a shard of a different matrix is refused.
#[test]
fn lost_shards_and_torn_records_are_never_a_silent_success() {
    require_host!(false);
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = shared_cache();
    let c = cache.to_str().expect("utf-8");
    let dir = |n: &str| tmp.path().join(n).display().to_string();
    let run = |targets: &[&str], extra: &[&str]| {
        let mut args = vec![
            "run",
            "--cache-dir",
            c,
            "--toolchain",
            "go1.27",
            "--cgo",
            "0",
        ];
        args.extend(["--reps", "0"]);
        for t in targets {
            args.extend(["--target", t]);
        }
        args.extend(extra);
        crossmatrix(&args)
    };
    let three = ["linux/amd64", "linux/arm64", "linux/riscv64"];
    for k in 1..=3 {
        let o = run(
            &three,
            &[
                "--out",
                &dir(&format!("s{k}")),
                "--shard",
                &format!("{k}/3"),
            ],
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    // Shard 2 never arrived.
    let o = crossmatrix(&["merge", &dir("s1"), &dir("s3"), "--out", &dir("lost")]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("incomplete: shard 2/3 missing, 1 planned cell without a record"),
        "{err}"
    );
    assert!(err.contains("no record: go1.27/linux-"), "{err}");
    assert_eq!(
        records(&tmp.path().join("lost")).len(),
        2,
        "what it has is written"
    );
    let o = crossmatrix(&[
        "merge",
        &dir("s1"),
        &dir("s3"),
        "--out",
        &dir("lost2"),
        "--allow-incomplete",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Every reader says so: report (exit 1 unless allowed, the totals line in every format)
    // and the compare gate.
    let o = crossmatrix(&["report", &dir("lost")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("(incomplete: shard 2/3 missing"));
    let o = crossmatrix(&[
        "report",
        &dir("lost"),
        "--format",
        "md",
        "--allow-incomplete",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("incomplete: shard 2/3 missing"));
    let o = crossmatrix(&[
        "report",
        &dir("lost"),
        "--format",
        "html",
        "--history",
        &dir("lost2"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("class=\"incomplete\""));
    let all = crossmatrix(&[
        "merge",
        &dir("s1"),
        &dir("s2"),
        &dir("s3"),
        "--out",
        &dir("all"),
    ]);
    assert_eq!(all.status.code(), Some(0), "{}", stderr(&all));
    let o = crossmatrix(&[
        "compare",
        &dir("all"),
        &dir("lost"),
        "--fail-on",
        "new-failure",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("incomplete: shard 2/3 missing"),
        "{}",
        stderr(&o)
    );
    let o = crossmatrix(&[
        "compare",
        &dir("all"),
        &dir("lost"),
        "--fail-on",
        "new-failure",
        "--allow-incomplete",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // A shard of another plan is refused.
    let o = run(&three[..2], &["--out", &dir("other"), "--shard", "2/3"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = crossmatrix(&[
        "merge",
        &dir("s1"),
        &dir("other"),
        &dir("s3"),
        "--out",
        &dir("mixed"),
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("is not a shard of the same matrix"),
        "{}",
        stderr(&o)
    );

    // A run whose last record was torn (a crash mid-write): the cell is planned, not recorded.
    let cells = tmp.path().join("all/cells.jsonl");
    let text = std::fs::read_to_string(&cells).unwrap();
    let cut = text.trim_end().rfind('\n').unwrap() + 40;
    std::fs::write(&cells, &text[..cut]).unwrap();
    let o = crossmatrix(&["report", &dir("all")]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("2 cells: 2 passed"), "{out}");
    assert!(
        stderr(&o).contains("incomplete: 1 planned cell without a record"),
        "{}",
        stderr(&o)
    );
}

/// `run --resume DIR` alone continues the plan DIR recorded (not the default matrix), from
/// any directory; axis flags that plan another matrix are refused, naming the difference.
#[test]
fn resume_alone_continues_the_recorded_plan_and_another_plan_is_refused() {
    require_host!(false);
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = shared_cache();
    let c = cache.to_str().expect("utf-8");
    let out = tmp.path().join("r");
    let o = out.to_str().expect("utf-8");
    let axes = [
        "--toolchain",
        "go1.27",
        "--target",
        "linux/amd64",
        "--target",
        "linux/arm64",
    ];
    let mut args = vec![
        "run",
        "--cache-dir",
        c,
        "--cgo",
        "0",
        "--reps",
        "0",
        "--out",
        o,
    ];
    args.extend(axes);
    assert!(crossmatrix(&args).status.success());
    // A crash tore the last record.
    let cells = out.join("cells.jsonl");
    let text = std::fs::read_to_string(&cells).unwrap();
    let cut = text.trim_end().rfind('\n').unwrap() + 30;
    std::fs::write(&cells, &text[..cut]).unwrap();
    let r = crossmatrix(&["run", "--resume", o, "-j", "1"]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    let err = stderr(&r);
    assert!(
        err.contains("resuming the recorded plan: crossmatrix run --cache-dir"),
        "{err}"
    );
    assert!(err.contains("1 cells already recorded, 1 to run"), "{err}");
    let mut ids: Vec<String> = records(&out)
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        2,
        "the recorded plan, not the default matrix: {ids:?}"
    );
    // Another plan into the same directory is refused.
    let r = crossmatrix(&[
        "run",
        "--resume",
        o,
        "--toolchain",
        "go1.27",
        "--target",
        "linux/riscv64",
    ]);
    assert_eq!(r.status.code(), Some(2));
    let err = stderr(&r);
    assert!(
        err.contains("this command plans another matrix than the run there"),
        "{err}"
    );
    assert!(
        err.contains("are not in its plan (go1.27/linux-riscv64/"),
        "{err}"
    );
}

#[test]
fn shards_merge_into_the_full_run_and_compare_toolchains() {
    require_host!(false);
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = shared_cache();
    let c = cache.to_str().expect("utf-8");
    let axes = [
        "--toolchain",
        "go1.26",
        "--toolchain",
        "go1.27",
        "--target",
        "linux/amd64",
        "--target",
        "linux/arm64",
        "--target",
        "wasip1/wasm",
        "--cgo",
        "0",
        "--reps",
        "5",
    ];
    let dir = |n: &str| tmp.path().join(n).display().to_string();
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--cache-dir", c];
        args.extend(axes);
        args.extend(extra);
        crossmatrix(&args)
    };
    assert_eq!(run(&["--out", &dir("full")]).status.code(), Some(0));
    assert_eq!(
        run(&["--out", &dir("s1"), "--shard", "1/2"]).status.code(),
        Some(0)
    );
    assert_eq!(
        run(&["--out", &dir("s2"), "--shard", "2/2"]).status.code(),
        Some(0)
    );
    let o = crossmatrix(&["merge", &dir("s1"), &dir("s2"), "--out", &dir("merged")]);
    assert_eq!(o.status.code(), Some(0));
    let key = |recs: Vec<serde_json::Value>| {
        let mut v: Vec<(String, String)> = recs
            .iter()
            .map(|r| {
                (
                    r["id"].as_str().unwrap_or("").to_string(),
                    r["status"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let full = key(records(&tmp.path().join("full")));
    assert_eq!(full.len(), 6);
    assert_eq!(
        key(records(&tmp.path().join("merged"))),
        full,
        "merged shards = the full run"
    );

    // A toolchain upgrade inside one run: same cells, no regressions.
    let o = crossmatrix(&[
        "compare",
        &dir("full"),
        "--toolchains",
        "go1.26,go1.27",
        "--fail-on",
        "new-failure",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("go1.26 → go1.27"));
    // go1.26's probe binaries are larger than go1.27's (2–5%): a tight size gate on the
    // downgrade trips and names the cells.
    let o = crossmatrix(&[
        "compare",
        &dir("full"),
        "--toolchains",
        "go1.27,go1.26",
        "--fail-on",
        "size>+0.01%",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("linux-arm64"));
    // Two run dirs.
    assert_eq!(
        crossmatrix(&["compare", &dir("full"), &dir("merged")])
            .status
            .code(),
        Some(0)
    );
    // Report formats from the same records.
    for (format, needle) in [
        ("benchstat", "BenchmarkStartup/"),
        ("html", "<svg"),
        ("junit", "<testsuites"),
        ("md", "|"),
        ("bmf", "\"startup toolchain=go1.27 target=linux-arm64 "),
        ("github-action-benchmark", "\"unit\": \"ms\""),
        (
            "openmetrics",
            "crossmatrix_startup_seconds{toolchain=\"go1.27\",target=\"linux-arm64\",",
        ),
    ] {
        let o = crossmatrix(&["report", &dir("full"), "--format", format]);
        assert_eq!(o.status.code(), Some(0), "{format}");
        assert!(
            String::from_utf8_lossy(&o.stdout).contains(needle),
            "{format}"
        );
    }
    let o = crossmatrix(&[
        "report",
        &dir("merged"),
        "--format",
        "html",
        "--history",
        &dir("full"),
    ]);
    assert_eq!(o.status.code(), Some(0));
}

/// A warm re-run with nothing changed takes every binary from the build cache (no `go build`),
/// with identical binaries; a changed source file is rebuilt. run.json carries the CPU bound.
#[test]
fn warm_rerun_reuses_builds_and_notices_changes() {
    require_host!(false);
    let tmp = tempfile::tempdir().expect("tempdir");
    let prog = tmp.path().join("hello.go");
    std::fs::write(
        &prog,
        "package main\nimport \"fmt\"\nfunc main() { fmt.Println(\"v1\") }\n",
    )
    .expect("write");
    let cache = shared_cache();
    let run = |name: &str, timing: &str| {
        let out = tmp.path().join(name);
        let mut args = common::go127_run(&[&prog], &["amd64", "arm64"], &cache, &out);
        args.extend(["--timing", timing, "--reps", "3"].map(String::from));
        let o = crossmatrix(&args);
        assert_eq!(o.status.code(), Some(0), "{name}");
        (records(&out), out)
    };
    let (first, out1) = run("first", "quiet");
    let (second, out2) = run("second", "exclusive");
    for id in [
        "go1.27/linux-amd64/cgo0/rootfs-scratch/hello",
        "go1.27/linux-arm64/cgo0/rootfs-scratch/hello",
    ] {
        let (a, b) = (record(&first, id), record(&second, id));
        assert_eq!(b["build"]["cached"], true, "warm: no go build: {b:#}");
        assert_eq!(a["binary"]["sha256"], b["binary"]["sha256"], "same binary");
        assert!(
            b["run"]["stdout_tail"]
                .as_str()
                .unwrap_or("")
                .contains("v1")
        );
        assert_eq!(b["startup"]["reps"], 3);
    }
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out2.join("run.json")).expect("run.json"))
            .expect("json");
    let (wall, bound) = (
        meta["wall_s"].as_f64().unwrap_or(0.0),
        meta["cpu_bound_s"].as_f64().unwrap_or(0.0),
    );
    assert!(
        wall > 0.0 && bound > 0.0,
        "wall and bound recorded: {meta:#}"
    );
    assert!(meta["cpu_s"].as_f64().unwrap_or(-1.0) >= 0.0);
    // Each run says when its timed runs ran (--timing).
    for (out, mode) in [(&out1, "quiet"), (&out2, "exclusive")] {
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).expect("run.json"))
                .expect("json");
        assert_eq!(m["timing"], mode, "{m:#}");
    }
    // A changed source is rebuilt, and the new binary runs.
    std::fs::write(
        &prog,
        "package main\nimport \"fmt\"\nfunc main() { fmt.Println(\"v2\") }\n",
    )
    .expect("write");
    let (third, out3) = run("third", "overlap");
    let r = record(&third, "go1.27/linux-arm64/cgo0/rootfs-scratch/hello");
    assert_eq!(
        r["startup"]["reps"], 3,
        "timed beside the other cell's build: {r:#}"
    );
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out3.join("run.json")).expect("run.json"))
            .expect("json");
    assert_eq!(m["timing"], "overlap");
    assert_ne!(r["build"]["cached"], true, "changed source: rebuilt: {r:#}");
    assert!(
        r["run"]["stdout_tail"]
            .as_str()
            .unwrap_or("")
            .contains("v2")
    );
}

/// run.json's `cpu_s` counts what the sandboxed programs themselves burn, not only the builds:
/// a program that uses 1 s of CPU in its (only) run, on a warm build cache, shows up in it —
/// natively and under qemu.
#[test]
fn cpu_of_sandboxed_runs_is_counted() {
    require_host!(false);
    let tmp = tempfile::tempdir().expect("tempdir");
    let prog = tmp.path().join("burn.go");
    std::fs::write(
        &prog,
        r#"package main

import (
	"fmt"
	"syscall"
)

// Spins until this process has used 1 s of CPU (user + system), whatever the machine's speed.
func main() {
	var ru syscall.Rusage
	n := 0
	for {
		for i := 0; i < 1000000; i++ {
			n += i
		}
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		if ru.Utime.Sec+ru.Stime.Sec >= 1 {
			break
		}
	}
	fmt.Println("burned", n > 0)
}
"#,
    )
    .expect("write");
    let cache = shared_cache();
    for arch in ["amd64", "arm64"] {
        let run = |name: &str| {
            let out = tmp.path().join(format!("{name}-{arch}"));
            let mut args = common::go127_run(&[&prog], &[arch], &cache, &out);
            args.extend(["--reps", "0"].map(String::from));
            let o = crossmatrix(&args);
            assert_eq!(o.status.code(), Some(0), "{name} {arch}");
            out
        };
        run("build");
        let out = run("warm");
        let recs = records(&out);
        assert_eq!(
            recs[0]["build"]["cached"], true,
            "warm: no build CPU: {:#}",
            recs[0]
        );
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).expect("run.json"))
                .expect("json");
        let cpu = meta["cpu_s"].as_f64().unwrap_or(0.0);
        assert!(
            cpu >= 0.95,
            "{arch}: the run burned 1 s of CPU, run.json says cpu_s = {cpu}"
        );
    }
}

/// A warm re-run with nothing changed reuses each passing cell's run and startup figures (the
/// record says from when); `--rerun` measures again and refreshes what later runs reuse; a
/// changed setting or a failing cell runs for real.
#[test]
fn unchanged_passing_cells_reuse_their_results_until_an_input_changes() {
    require_host!(false);
    let tmp = tempfile::tempdir().expect("tempdir");
    // Unique to this test run: no earlier `cargo test` left results for them.
    let ok = tmp.path().join("hello.go");
    common::unique_program(&ok, "\"fmt\"", "fmt.Println(\"hi\", len(nonce) > 0)");
    let bad = tmp.path().join("bad").join("exit3.go");
    common::unique_program(&bad, "\"os\"", "os.Exit(3 + len(nonce[:0]))");
    let cache = shared_cache();
    let run = |name: &str, extra: &[&str]| {
        let out = tmp.path().join(name);
        let mut args = common::go127_run(&[&ok, &bad], &["amd64", "arm64"], &cache, &out);
        args.extend(["--reps", "3"].iter().chain(extra).map(|a| a.to_string()));
        let o = common::crossmatrix_reusing(&args);
        assert_eq!(o.status.code(), Some(1), "{name}: the exit3 cells fail");
        (records(&out), o)
    };
    let ids = [
        "go1.27/linux-amd64/cgo0/rootfs-scratch/hello",
        "go1.27/linux-arm64/cgo0/rootfs-scratch/hello",
    ];
    let failing = [
        "go1.27/linux-amd64/cgo0/rootfs-scratch/exit3",
        "go1.27/linux-arm64/cgo0/rootfs-scratch/exit3",
    ];
    let samples =
        |recs: &[serde_json::Value], id: &str| record(recs, id)["startup"]["samples_ms"].clone();

    let (first, _) = run("first", &[]);
    for id in ids.iter().chain(&failing) {
        assert!(
            record(&first, id).get("reused_from").is_none(),
            "cold: {id}"
        );
    }
    let (second, o) = run("second", &[]);
    for id in ids {
        let (a, b) = (record(&first, id), record(&second, id));
        assert_eq!(b["status"], "pass");
        assert!(
            b["reused_from"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{b:#}"
        );
        assert_eq!(a["startup"], b["startup"], "the earlier figures: {id}");
        assert_eq!(a["run"], b["run"], "the earlier verification run: {id}");
        assert_eq!(b["build"]["cached"], true);
        assert_eq!(a["binary"]["sha256"], b["binary"]["sha256"]);
    }
    for id in failing {
        let r = record(&second, id);
        assert_eq!(r["cause"], "wrong-exit-code");
        assert!(
            r.get("reused_from").is_none(),
            "a failure runs again: {r:#}"
        );
    }
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("reused: 2 of 4 cells"), "{stderr}");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("2 reused from an earlier run"),
        "the report says so"
    );

    // Comparing figures of different sittings is said.
    let (first_out, second_out) = (tmp.path().join("first"), tmp.path().join("second"));
    let c = crossmatrix(&[
        "compare",
        first_out.to_str().expect("utf-8"),
        second_out.to_str().expect("utf-8"),
    ]);
    assert_eq!(c.status.code(), Some(0));
    let note = String::from_utf8_lossy(&c.stderr);
    assert!(
        note.contains("2 record(s) compared here reuse startup figures"),
        "{note}"
    );

    // --rerun measures again, and later runs reuse the new figures.
    let (third, o) = run("third", &["--rerun"]);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("reused:"));
    for id in ids {
        let r = record(&third, id);
        assert!(r.get("reused_from").is_none(), "--rerun: {r:#}");
        assert_eq!(r["startup"]["reps"], 3);
    }
    let (fourth, _) = run("fourth", &[]);
    for id in ids {
        assert!(record(&fourth, id)["reused_from"].is_string());
        assert_eq!(
            samples(&fourth, id),
            samples(&third, id),
            "the --rerun figures: {id}"
        );
    }

    // Another setting of the run is another input.
    let (fifth, _) = run("fifth", &["--warmup", "1"]);
    for id in ids {
        let r = record(&fifth, id);
        assert!(r.get("reused_from").is_none(), "--warmup changed: {r:#}");
        assert_eq!(r["startup"]["warmups"], 1);
    }
}

/// Builds run the compiler with `GOGC=400` under a `GOMEMLIMIT` and single-threaded
/// (`GOMAXPROCS=1`), for less build CPU: the binary is the very one Go's defaults build, which a
/// config's `[build] env` restores. The second build has a cache of its own, so that every
/// package is compiled again under Go's defaults rather than served by the first's GOCACHE.
#[test]
fn the_compilers_runtime_settings_leave_the_binary_unchanged() {
    require_host!(false);
    let tmp = tempfile::tempdir().expect("tempdir");
    let prog = tmp.path().join("gc.go");
    common::unique_program(&prog, "\"fmt\"", "fmt.Println(len(nonce) > 0)");
    let cfg = tmp.path().join("crossmatrix.toml");
    std::fs::write(
        &cfg,
        "targets = [\"linux/arm64\"]\ncgo = [0]\n[build]\n\
         env = { GOGC = \"100\", GOMEMLIMIT = \"off\", GOMAXPROCS = \"\" }\n",
    )
    .expect("write config");
    let ours = {
        let out = tmp.path().join("ours");
        let mut args = common::go127_run(&[&prog], &["arm64"], &shared_cache(), &out);
        args.extend(["--reps", "0"].map(String::from));
        let o = crossmatrix(&args);
        assert_eq!(o.status.code(), Some(0), "ours: {}", common::stderr(&o));
        record(&records(&out), "go1.27/linux-arm64/cgo0/rootfs-scratch/gc").clone()
    };
    let go_defaults = {
        let (out, cache) = (tmp.path().join("go-defaults"), tmp.path().join("cache"));
        let o = crossmatrix(&[
            "run",
            prog.to_str().expect("utf-8"),
            "--config",
            cfg.to_str().expect("utf-8"),
            "--toolchain",
            "go1.27",
            "--cache-dir",
            cache.to_str().expect("utf-8"),
            "--out",
            out.to_str().expect("utf-8"),
            "--reps",
            "0",
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "go defaults: {}",
            common::stderr(&o)
        );
        record(&records(&out), "go1.27/linux-arm64/cgo0/rootfs-scratch/gc").clone()
    };
    assert_ne!(
        go_defaults["build"]["cached"], true,
        "a cache of its own, so a build of its own: {go_defaults:#}"
    );
    assert_eq!(
        ours["binary"]["sha256"], go_defaults["binary"]["sha256"],
        "GOGC/GOMEMLIMIT/GOMAXPROCS of the compiler are not build inputs"
    );
}

/// Ages every file under `dir` by `days` (its mtime: what `cache prune` reads as last used).
fn age_all(dir: &Path, days: u64) {
    let when = std::time::SystemTime::now() - std::time::Duration::from_secs(days * 86_400);
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            if e.file_type().expect("file type").is_dir() {
                pending.push(e.path());
            } else {
                std::fs::File::open(e.path())
                    .and_then(|f| f.set_modified(when))
                    .expect("set mtime");
            }
        }
    }
}

#[test]
fn cache_prune_removes_what_no_run_used_for_a_while() {
    require_host!(false);
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    // A cache of its own, sharing only Go's build cache (no cold standard library).
    let cache = d.join("cache");
    std::fs::create_dir_all(&cache).expect("mkdir");
    std::os::unix::fs::symlink(shared_cache().join("go"), cache.join("go")).expect("symlink");
    let kept = d.join("kept.go");
    common::unique_program(&kept, "\"fmt\"", "fmt.Println(len(nonce) > 0)");
    let gone = d.join("gone.go");
    common::unique_program(&gone, "\"fmt\"", "fmt.Println(len(nonce) > 1)");
    let run = |name: &str, programs: &[&Path]| {
        let out = d.join(name);
        let mut args = common::go127_run(programs, &["amd64"], &cache, &out);
        args.extend(["--cgo", "0", "--reps", "1"].map(String::from));
        let o = common::crossmatrix_reusing(&args);
        assert_eq!(o.status.code(), Some(0), "{name}");
        records(&out)
    };
    let prune = |age: &str| {
        let o = crossmatrix(&[
            "cache",
            "prune",
            "--unused-for",
            age,
            "--cache-dir",
            cache.to_str().expect("utf-8"),
        ]);
        assert_eq!(o.status.code(), Some(0));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let id = "go1.27/linux-amd64/cgo0/rootfs-scratch/kept";

    run("first", &[&kept, &gone]);
    assert!(
        prune("1d").contains("removed 0 entries"),
        "everything was just used"
    );
    // Three days later, a run uses `kept` again (its binary and its result): those are
    // marked used; `gone`'s are not.
    age_all(&cache.join("bin"), 3);
    age_all(&cache.join("cells"), 3);
    let second = run("second", &[&kept]);
    assert_eq!(record(&second, id)["build"]["cached"], true);
    assert!(record(&second, id)["reused_from"].is_string());
    let said = prune("1d");
    for line in ["built binaries (bin/)", "reused cell results (cells/)"] {
        let l = said.lines().find(|l| l.contains(line)).expect(line);
        assert!(
            l.contains("removed      1") && l.contains("kept      1"),
            "{said}"
        );
    }
    // Unused for longer than the age: all gone, and the next run builds and runs again.
    age_all(&cache.join("bin"), 3);
    age_all(&cache.join("cells"), 3);
    assert!(prune("2d").contains("removed 2 entries"));
    let third = run("third", &[&kept]);
    assert_ne!(record(&third, id)["build"]["cached"], true, "built again");
    assert!(record(&third, id).get("reused_from").is_none());
}
