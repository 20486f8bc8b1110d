//! The emulator axis end to end: two real qemu installations in one matrix (the host's
//! qemu-user-static 7.2 and Debian's qemu-user 10.0 unpacked by ci/setup), `compare
//! --emulators`, `--recheck` across them, the known-defect table on real output, and stand-in
//! emulators (test doubles) that crash or fail one run in two, for flaky cells and tests.

mod common;

use common::{
    crossmatrix, crossmatrix_in, go_build, record, records, require_host, s, shared_cache, stderr,
    write,
};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Where ci/setup unpacks the second qemu (bookworm-backports' qemu-user).
const QEMU2: &str = "/opt/crossmatrix/qemu-backports/usr/bin";

/// The second qemu's directory, or why a test cannot use it (a failure under CI).
fn second_qemu() -> Option<PathBuf> {
    common::installed(
        &Path::new(QEMU2).join("qemu-aarch64"),
        &format!("no second qemu at {QEMU2}: run ci/setup"),
    )
    .map(|_| PathBuf::from(QEMU2))
}

/// `7.2.22` from `qemu-aarch64-static --version`.
fn host_qemu_version() -> String {
    qemu_version("qemu-aarch64-static")
}

/// `10.0.2` from `QEMU --version`.
fn qemu_version(qemu: &str) -> String {
    let out = std::process::Command::new(qemu)
        .arg("--version")
        .output()
        .expect("qemu-aarch64-static --version");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .expect("a version")
        .to_string()
}

/// A program that starts a child with a pidfd (`SysProcAttr.PidFD`): what qemu 7.2 rejects
/// (the `clone-pidfd` known defect).
const PIDFD: &str = r#"package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

func main() {
	if len(os.Args) > 1 {
		fmt.Println("child ran")
		return
	}
	pidfd := -1
	c := exec.Command("/proc/self/exe", "child")
	c.SysProcAttr = &syscall.SysProcAttr{PidFD: &pidfd}
	out, err := c.CombinedOutput()
	if err != nil {
		fmt.Println("exec:", err)
		os.Exit(1)
	}
	fmt.Printf("%s", out)
}
"#;

fn json(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("JSON on stdout: {e}: {o:?}"))
}

fn by_emulator<'a>(recs: &'a [Value], name: &str) -> &'a Value {
    recs.iter()
        .find(|r| r["emulator"]["name"] == name)
        .unwrap_or_else(|| panic!("no cell under {name}: {recs:#?}"))
}

#[test]
fn two_qemus_in_one_matrix_are_an_axis_with_records_compare_and_known_defects() {
    require_host!(false);
    let Some(qemu2) = second_qemu() else { return };
    let d = tempfile::tempdir().unwrap();
    let prog = d.path().join("pidfd/main.go");
    write(&prog, PIDFD);
    let cache = s(&shared_cache());
    let out = d.path().join("out");
    let host_version = host_qemu_version();
    let new_version = qemu_version(&s(&qemu2.join("qemu-aarch64")));
    let (old, new) = (
        format!("qemu-{host_version}"),
        format!("qemu-{new_version}"),
    );
    let o = crossmatrix(&[
        "run",
        &s(&prog),
        "--toolchain",
        "go1.27",
        "--target",
        "linux/amd64",
        "--target",
        "linux/arm64",
        "--emulator",
        "host",
        "--emulator",
        &s(&qemu2),
        "--recheck",
        "--reps",
        "3",
        "--cache-dir",
        &cache,
        "--out",
        &s(&out),
    ]);
    let recs = records(&out);
    assert_eq!(
        recs.len(),
        3,
        "amd64 once, arm64 under each qemu: {recs:#?}"
    );
    // Native cells are not the emulators': no emu- part, no emulator record.
    let native = record(&recs, "go1.27/linux-amd64/cgo0/rootfs-scratch/main");
    assert_eq!(native["status"], "pass");
    assert!(native.get("emulator").is_none(), "{native:#}");
    let a = record(
        &recs,
        &format!("go1.27/linux-arm64/cgo0/rootfs-scratch/emu-{old}/main"),
    );
    let b = record(
        &recs,
        &format!("go1.27/linux-arm64/cgo0/rootfs-scratch/emu-{new}/main"),
    );
    assert_eq!(a["emulator"]["name"], old.as_str());
    assert!(a["emulator"].get("dir").is_none(), "the host's: {a:#}");
    assert_eq!(a["run"]["executor_version"], host_version.as_str());
    assert_eq!(b["emulator"]["dir"], s(&qemu2).as_str());
    assert_eq!(b["emulator"]["version"], new_version.as_str());
    // A directory's qemu runs directly: binfmt_misc holds only the host's.
    assert_eq!(b["run"]["executor"], "qemu-direct");
    assert_eq!(b["run"]["executor_version"], new_version.as_str());
    assert_eq!(b["status"], "pass", "{b:#}");
    let in_window = host_version.starts_with("7.");
    if in_window {
        // The known defect, matched from the real output, and the recheck under qemu 10
        // confirming it (the cause stays the specific one).
        assert_eq!(a["status"], "fail", "{a:#}");
        assert_eq!(a["cause"], "emulator-bug", "{a:#}");
        let hint = a["hint"].as_str().unwrap();
        assert!(hint.contains("fixed in qemu 8.0"), "{hint}");
        assert!(hint.contains("golang/go#68976"), "{hint}");
        assert_eq!(
            a["run"]["recheck"]["executor_version"],
            new_version.as_str(),
            "{a:#}"
        );
        assert_eq!(a["run"]["recheck"]["status"], "ok", "{a:#}");
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    } else {
        eprintln!(
            "SKIPPED (part): the host's qemu is {host_version}, outside the clone-pidfd window 7.2 ≤ v < 8.0"
        );
    }

    // compare --emulators pairs the same cell under both qemus.
    let c = crossmatrix(&[
        "compare",
        &s(&out),
        "--emulators",
        &format!("{old},{new}"),
        "--format",
        "json",
    ]);
    assert_eq!(c.status.code(), Some(0), "{}", stderr(&c));
    let cmp = json(&c);
    assert_eq!(cmp["summary"]["cells"], 1, "{cmp:#}");
    assert_eq!(
        cmp["cells"][0]["key"],
        "go1.27/linux-arm64/cgo0/rootfs-scratch/main"
    );
    if in_window {
        assert_eq!(cmp["summary"]["fixed"], 1, "{cmp:#}");
    }
    let c = crossmatrix(&[
        "compare",
        &s(&out),
        "--emulators",
        &format!("{old},qemu-0.1"),
    ]);
    assert_eq!(c.status.code(), Some(2), "{}", stderr(&c));
    assert!(stderr(&c).contains("qemu-0.1 is not in"), "{}", stderr(&c));

    // The plan shows the axis; a filter picks one emulator.
    let p = crossmatrix(&[
        "plan",
        "--toolchain",
        "go1.27",
        "--target",
        "linux/arm64",
        "--emulator",
        "host",
        "--emulator",
        &format!("new={}", s(&qemu2)),
        "--filter",
        "emulator=new",
        "--format",
        "json",
    ]);
    assert_eq!(p.status.code(), Some(0), "{}", stderr(&p));
    let cells = json(&p);
    let cells = cells.as_array().unwrap();
    assert_eq!(cells.len(), 1, "{cells:#?}");
    assert_eq!(cells[0]["emulator"], "new");
    assert!(cells[0]["id"].as_str().unwrap().contains("/emu-new/"));

    // The config's `emulators`, and what a user can get wrong.
    let proj = d.path().join("proj");
    write(
        &proj.join("crossmatrix.toml"),
        &format!(
            "toolchains = [\"go1.27\"]\ntargets = [\"linux/arm64\"]\nemulators = [\"host\", \"ten={}\"]\n",
            s(&qemu2)
        ),
    );
    let p = crossmatrix_in(&proj, &["plan", "--format", "json"], &[], false);
    assert_eq!(p.status.code(), Some(0), "{}", stderr(&p));
    let ids: Vec<String> = json(&p)
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.iter().any(|i| i.contains("/emu-ten/")), "{ids:?}");
    assert!(
        ids.iter().any(|i| i.contains(&format!("/emu-{old}/"))),
        "{ids:?}"
    );
    write(
        &proj.join("crossmatrix.toml"),
        "toolchains = [\"go1.27\"]\nemulators = [\"host\", \"./nowhere\"]\n",
    );
    let p = crossmatrix_in(&proj, &["plan"], &[], false);
    assert_eq!(p.status.code(), Some(2), "{}", stderr(&p));
    assert!(stderr(&p).contains("crossmatrix.toml:2:"), "{}", stderr(&p));
    assert!(
        stderr(&p).contains("nowhere is not a directory"),
        "{}",
        stderr(&p)
    );
    let empty = d.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    for (args, says) in [
        (
            vec!["--emulator", "host", "--emulator", "host"],
            "are both named",
        ),
        (vec!["--emulator", "/no/such/qemu"], "is not a directory"),
        (vec!["--emulator", &s(&empty)], "holds no qemu-user binary"),
    ] {
        let mut a = vec!["plan", "--toolchain", "go1.27"];
        a.extend(args);
        let p = crossmatrix(&a);
        assert_eq!(p.status.code(), Some(2), "{}", stderr(&p));
        assert!(stderr(&p).contains(says), "{says}: {}", stderr(&p));
    }
}

/// A directory holding a stand-in `qemu-aarch64` (a test double: a small Go program) beside
/// the host's real qemu, in `mode`: `crash` fails every run as a crashing qemu would,
/// `fail-first` fails a run unless it is a retry (`CROSSMATRIX_ATTEMPT`), so one run in two
/// fails.
fn stand_in(root: &Path, mode: &str) -> PathBuf {
    let src = root.join("standin-src/main.go");
    write(
        &src,
        r#"// A stand-in for qemu-<arch> (a crossmatrix test double).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

func main() {
	self := os.Args[0]
	dir, name := filepath.Dir(self), filepath.Base(self)
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Printf("%s version 9.9.9 (a crossmatrix test double)\n", name)
		return
	}
	mode, _ := os.ReadFile(filepath.Join(dir, "mode"))
	crash := func() {
		fmt.Fprintln(os.Stderr, "qemu: uncaught target signal 11 (Segmentation fault) - core dumped")
		os.Exit(139)
	}
	switch strings.TrimSpace(string(mode)) {
	case "crash":
		crash()
	case "fail-first":
		if os.Getenv("CROSSMATRIX_ATTEMPT") == "" {
			crash()
		}
	}
	real := filepath.Join(dir, "real-"+name)
	err := syscall.Exec(real, append([]string{real}, os.Args[1:]...), os.Environ())
	fmt.Fprintln(os.Stderr, "stand-in qemu:", err)
	os.Exit(127)
}
"#,
    );
    let dir = root.join(mode);
    std::fs::create_dir_all(&dir).unwrap();
    go_build(&src, &dir.join("qemu-aarch64"), "amd64");
    let real = which::which("qemu-aarch64-static").expect("the host's qemu");
    std::fs::copy(real, dir.join("real-qemu-aarch64")).unwrap();
    std::fs::write(dir.join("mode"), mode).unwrap();
    dir
}

#[test]
fn stand_in_emulators_make_suspect_and_flaky_cells_visible_everywhere() {
    require_host!(false);
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("SKIPPED: the stand-in emulator is built for an amd64 host");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let crashy = stand_in(d.path(), "crash");
    let flaky = stand_in(d.path(), "fail-first");
    let cache = s(&shared_cache());
    let run = |out: &Path, extra: &[&str]| {
        let out = s(out);
        let mut a = vec![
            "run",
            "--toolchain",
            "go1.27",
            "--target",
            "linux/arm64",
            "--reps",
            "3",
            "--cache-dir",
            &cache,
            "--out",
            &out,
        ];
        a.extend(extra);
        crossmatrix(&a)
    };
    let host_version = host_qemu_version();

    // --recheck across emulators: fails under the crashing one, passes under the host's.
    let out = d.path().join("suspect");
    let crashy_spec = format!("crashy={}", s(&crashy));
    let o = run(
        &out,
        &[
            "--emulator",
            "host",
            "--emulator",
            &crashy_spec,
            "--recheck",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let recs = records(&out);
    let bad = by_emulator(&recs, "crashy");
    assert_eq!(bad["cause"], "emulator-suspect", "{bad:#}");
    let hint = bad["hint"].as_str().unwrap();
    assert!(hint.contains("qemu-direct 9.9.9"), "{hint}");
    assert!(hint.contains(&host_version), "{hint}");
    assert_eq!(bad["run"]["recheck"]["status"], "ok");
    assert_eq!(
        by_emulator(&recs, &format!("qemu-{host_version}"))["status"],
        "pass"
    );

    // Retries: a program cell whose first run fails and second passes is flaky.
    let flaky_spec = format!("flaky={}", s(&flaky));
    let plain = d.path().join("plain");
    let o = run(&plain, &["--emulator", &flaky_spec]);
    assert_eq!(o.status.code(), Some(1), "no retries: red. {}", stderr(&o));
    let out = d.path().join("flaky");
    let o = run(&out, &["--emulator", &flaky_spec, "--retries", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rec = &records(&out)[0];
    assert_eq!(rec["status"], "pass", "{rec:#}");
    let attempts = rec["run"]["failed_attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{rec:#}");
    assert_eq!(attempts[0]["exit_code"], 139);
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(table.contains("~ probe (flaky: 1 failed run"), "{table}");
    assert!(table.contains("1 passed only on a retry: flaky"), "{table}");
    for (format, says) in [
        ("md", "### Flaky tests"),
        ("junit", "<flakyFailure"),
        ("html", "Flaky (passed only on a retry)"),
        ("json", "\"failed_attempts\""),
    ] {
        let r = crossmatrix(&["report", &s(&out), "--format", format]);
        assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
        let text = String::from_utf8_lossy(&r.stdout);
        assert!(text.contains(says), "{format}: {text}");
    }
    // Flaky under one emulator, steady under the other in the same run: said so.
    let both = d.path().join("both");
    let o = run(
        &both,
        &[
            "--emulator",
            "host",
            "--emulator",
            &flaky_spec,
            "--retries",
            "1",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        table.contains(&format!("steady under qemu-{host_version}")),
        "{table}"
    );
    let j = crossmatrix(&["report", &s(&both), "--format", "json"]);
    assert!(
        String::from_utf8_lossy(&j.stdout).contains("\"steady_under\""),
        "the JSON report carries it"
    );
    // compare: the host's steady cell against the flaky one, and back.
    let steady = d.path().join("steady");
    let o = run(&steady, &["--emulator", "host"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let c = crossmatrix(&["compare", &s(&steady), &s(&out), "--fail-on", "flaky"]);
    let text = String::from_utf8_lossy(&c.stdout).into_owned();
    assert!(text.contains("NEWLY FLAKY (1)"), "{text}");
    assert!(text.contains("steady → flaky"), "{text}");
    assert_eq!(c.status.code(), Some(1), "the flaky gate: {}", stderr(&c));
    let c = crossmatrix(&["compare", &s(&out), &s(&steady), "--format", "json"]);
    assert_eq!(c.status.code(), Some(0), "{}", stderr(&c));
    assert_eq!(json(&c)["summary"]["no_longer_flaky"], 1);

    // A test binary the flaky emulator fails before any test ran: run again whole.
    let m = d.path().join("mod");
    write(&m.join("go.mod"), "module example.com/m\n\ngo 1.21\n");
    write(&m.join("p.go"), "package p\n");
    write(
        &m.join("p_test.go"),
        "package p\n\nimport \"testing\"\n\nfunc TestOne(t *testing.T) {}\n",
    );
    let tout = d.path().join("tests");
    let o = crossmatrix_in(
        &m,
        &[
            "test",
            ".",
            "--toolchain",
            "go1.27",
            "--target",
            "linux/arm64",
            "--emulator",
            &flaky_spec,
            "--retries",
            "1",
            "--cache-dir",
            &cache,
            "--out",
            &s(&tout),
        ],
        &[],
        false,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rec = &records(&tout)[0];
    assert_eq!(rec["status"], "pass", "{rec:#}");
    assert_eq!(rec["run"]["failed_attempts"].as_array().unwrap().len(), 1);
    assert_eq!(rec["tests"]["cases"][0]["status"], "pass");
    let j = crossmatrix(&["report", &s(&tout), "--format", "junit"]);
    let text = String::from_utf8_lossy(&j.stdout);
    assert!(text.contains("<flakyFailure"), "{text}");
    assert!(text.contains("TestOne"), "{text}");
}

#[test]
fn a_race_binary_under_any_qemu_is_an_emulator_limit() {
    require_host!(true);
    let Some(qemu2) = second_qemu() else { return };
    let d = tempfile::tempdir().unwrap();
    let prog = d.path().join("race/main.go");
    write(
        &prog,
        "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tc := make(chan int)\n\tgo func() { c <- 1 }()\n\tfmt.Println(\"ran\", <-c)\n}\n",
    );
    write(
        &d.path().join("race/crossmatrix.toml"),
        &format!(
            "toolchains = [\"go1.27\"]\ntargets = [\"linux/arm64\"]\ncgo = [1]\nlibc = [\"gnu\"]\nemulators = [\"host\", \"{}\"]\n\n[build]\nflags = [\"-race\"]\n\n[[programs]]\npath = \"main.go\"\n",
            s(&qemu2)
        ),
    );
    let out = d.path().join("out");
    let o = crossmatrix_in(
        &d.path().join("race"),
        &[
            "run",
            "--reps",
            "3",
            "--cache-dir",
            &s(&shared_cache()),
            "--out",
            &s(&out),
        ],
        &[],
        false,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let recs = records(&out);
    assert_eq!(recs.len(), 2, "{recs:#?}");
    for r in &recs {
        assert_eq!(r["cause"], "emulator-limit", "{r:#}");
        assert!(
            r["run"]["stderr_tail"]
                .as_str()
                .unwrap()
                .contains("ThreadSanitizer"),
            "{r:#}"
        );
        assert!(r["hint"].as_str().unwrap().contains("natively"), "{r:#}");
    }
}

#[test]
fn emulated_timeouts_scale_with_the_measured_slowdown() {
    require_host!(false);
    let d = tempfile::tempdir().unwrap();
    let prog = d.path().join("nap/main.go");
    write(
        &prog,
        "package main\n\nimport (\n\t\"fmt\"\n\t\"time\"\n)\n\nfunc main() {\n\ttime.Sleep(3 * time.Second)\n\tfmt.Println(\"woke\")\n}\n",
    );
    // A cache of its own: the slowdown is measured there (once) and kept.
    let cache = d.path().join("cache");
    let run = |out: &Path, extra: &[&str]| {
        let mut a = vec![
            "run".to_string(),
            s(&prog),
            "--toolchain".into(),
            "go1.27".into(),
            "--target".into(),
            "linux/amd64".into(),
            "--target".into(),
            "linux/arm64".into(),
            "--timeout".into(),
            "2".into(),
            "--reps".into(),
            "1".into(),
            "--warmup".into(),
            "0".into(),
            "--cache-dir".into(),
            s(&cache),
            "--out".into(),
            s(out),
        ];
        a.extend(extra.iter().map(|x| x.to_string()));
        crossmatrix(&a)
    };
    let arm = "go1.27/linux-arm64/cgo0/rootfs-scratch/main";
    let amd = "go1.27/linux-amd64/cgo0/rootfs-scratch/main";
    // Told: ×5 under qemu (a 2 s limit becomes 10 s), never natively.
    let out = d.path().join("told");
    let o = run(&out, &["--timeout-scale", "5"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let recs = records(&out);
    let a = record(&recs, arm);
    assert_eq!(a["status"], "pass", "{a:#}");
    assert_eq!(a["run"]["timeout_scale"], 5.0, "{a:#}");
    let n = record(&recs, amd);
    assert_eq!(n["cause"], "timeout", "native keeps its limit: {n:#}");
    assert!(n["run"].get("timeout_scale").is_none(), "{n:#}");
    // Off: the emulated nap times out too.
    let out = d.path().join("off");
    let o = run(
        &out,
        &["--timeout-scale", "1", "--filter", "target=linux/arm64"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(record(&records(&out), arm)["cause"], "timeout");
    // Measured: recorded, and kept in the cache for the next run.
    let out = d.path().join("measured");
    let _ = run(&out, &["--filter", "target=linux/arm64"]);
    let a = record(&records(&out), arm).clone();
    let scale = a["run"]["timeout_scale"]
        .as_f64()
        .unwrap_or_else(|| panic!("a measured scale: {a:#}"));
    assert!(scale > 1.0, "qemu is slower than native: {scale}");
    let kept: Vec<_> = std::fs::read_dir(cache.join("slowdown"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(
        kept.len(),
        1,
        "one measurement (arm64, cortex-a57): {kept:?}"
    );
    let again = d.path().join("again");
    let _ = run(&again, &["--filter", "target=linux/arm64"]);
    assert_eq!(
        record(&records(&again), arm)["run"]["timeout_scale"],
        a["run"]["timeout_scale"],
        "the kept measurement is reused"
    );
}
