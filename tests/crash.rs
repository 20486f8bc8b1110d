//! Crash safety: crossmatrix killed with SIGKILL in the middle of a matrix keeps every finished
//! cell readable, takes its running sandboxes down with it (bubblewrap `--die-with-parent`),
//! and `run --resume` completes the rest without running a finished cell again.

mod common;

use common::{BIN, crossmatrix, records, require_host, shared_cache};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn tag() -> String {
    format!("k{}", std::process::id())
}

/// Live processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let line = String::from_utf8_lossy(&raw).replace('\0', " ");
            (line.contains(needle) && pid != std::process::id()).then(|| format!("{pid}: {line}"))
        })
        .collect()
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigkill_mid_matrix_keeps_finished_cells_and_resume_completes() {
    require_host!(false);
    let tmp = tempfile::tempdir().expect("tempdir");
    let hello = tmp.path().join(format!("hello_{}.go", tag()));
    std::fs::write(
        &hello,
        "package main\nimport \"fmt\"\nfunc main() { fmt.Println(\"hello\") }\n",
    )
    .expect("write");
    // Runs long enough to be killed mid-run, short enough for the resumed run.
    let slow = tmp.path().join(format!("slow_{}.go", tag()));
    std::fs::write(
        &slow,
        "package main\nimport (\"fmt\"; \"time\")\nfunc main() { time.Sleep(4 * time.Second); fmt.Println(\"done\") }\n",
    )
    .expect("write");
    let out = tmp.path().join("out");
    let cache = shared_cache();
    let args = |dir_flag: &'static str| -> Vec<String> {
        [
            "run",
            hello.to_str().expect("utf-8"),
            slow.to_str().expect("utf-8"),
            "--toolchain",
            "go1.24",
            "--target",
            "linux/amd64",
            "--target",
            "linux/arm64",
            "-j",
            "1",
            "--reps",
            "1",
            "--no-progress",
            "--cache-dir",
            cache.to_str().expect("utf-8"),
            dir_flag,
            out.to_str().expect("utf-8"),
        ]
        .map(String::from)
        .to_vec()
    };
    let mut child = Command::new(BIN)
        .args(args("--out"))
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn crossmatrix");
    let cells = out.join("cells.jsonl");
    let finished = || {
        std::fs::read_to_string(&cells)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    // At least one cell recorded and a slow one running in its sandbox: kill -9 now.
    let slow_name = format!("/.crossmatrix/slow_{}", tag());
    wait_until(
        "a finished cell and a running slow cell",
        Duration::from_secs(300),
        || finished() >= 1 && !processes_mentioning(&slow_name).is_empty(),
    );
    let before = finished();
    let killed_pid = child.id();
    child.kill().expect("SIGKILL crossmatrix");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), None, "killed by a signal");

    // Every finished cell is readable; no half-written line.
    let text = std::fs::read_to_string(&cells).expect("cells.jsonl");
    assert!(text.ends_with('\n'), "the last record is complete");
    let recs = records(&out);
    assert!(
        recs.len() >= before && recs.len() < 4,
        "{} cells",
        recs.len()
    );
    for r in &recs {
        assert!(r["id"].as_str().is_some() && r["status"].as_str().is_some());
    }
    // The sandbox that was running died with crossmatrix.
    wait_until(
        "the killed run's sandboxes to go",
        Duration::from_secs(10),
        || processes_mentioning(&slow_name).is_empty(),
    );

    // --resume runs only what is missing.
    let done_before = recs.len();
    let resume_args = args("--resume");
    let argv: Vec<&str> = resume_args.iter().map(String::as_str).collect();
    let o = crossmatrix(&argv);
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
    assert_eq!(ids.len(), 4, "every planned cell is recorded");
    assert_eq!(recs.len(), 4, "no finished cell ran again");
    assert!(recs.iter().all(|r| r["status"] == "pass"), "{recs:#?}");
    assert!(Path::new(&out.join("run.json")).is_file());
    // The killed run's step cgroups (if this host gave it any) were swept by the next run.
    let stale = cgroups_named(&format!("crossmatrix-{killed_pid}-"));
    assert!(stale.is_empty(), "stale cgroups: {stale:?}");
}

fn cgroups_named(prefix: &str) -> Vec<String> {
    fn walk(dir: &Path, prefix: &str, depth: usize, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if e.file_name().to_string_lossy().starts_with(prefix) {
                out.push(e.path().display().to_string());
            } else if depth < 6 {
                walk(&e.path(), prefix, depth + 1, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), prefix, 0, &mut out);
    out
}
