//! Test fidelity with real projects (#25): builds and test cells that must behave as `go build`
//! and `go test` do on a Linux box.

mod common;

use common::*;
use std::path::Path;

/// A cgo=1 musl cell of a program whose only cgo packages are the standard library's (`net`
/// here): Go would link it internally, which cannot link `runtime/cgo` against a static musl.
/// It links (externally) and runs, natively and under qemu.
#[test]
fn a_cgo_musl_program_importing_only_std_cgo_packages_links_and_runs() {
    require_host!(true);
    let d = tempfile::tempdir().unwrap();
    let prog = d.path().join("netonly");
    write(&prog.join("go.mod"), "module netonly\n\ngo 1.22\n");
    write(
        &prog.join("main.go"),
        "package main\n\nimport (\n\t\"fmt\"\n\t\"net\"\n)\n\nfunc main() { fmt.Println(net.ParseIP(\"127.0.0.1\").IsLoopback()) }\n",
    );
    let out = d.path().join("out");
    let mut a = go127_run(&[&prog], &["amd64", "arm64"], &shared_cache(), &out);
    a.extend(["--cgo", "1", "--libc", "musl", "--reps", "0"].map(String::from));
    let o = crossmatrix(&a);
    assert!(o.status.success(), "{}", stderr(&o));
    let recs = records(&out);
    assert_eq!(recs.len(), 2);
    for r in &recs {
        assert_eq!(r["status"], "pass", "{r:#}");
        assert_eq!(r["binary"]["linkage"], "static", "{r:#}");
        assert_eq!(r["run"]["stdout_tail"], "true", "{r:#}");
    }
}

/// A test that runs the go command (`go env`, `go vet`), as Go's own `testenv` and tests that
/// check inlining do: `go test` puts `GOROOT/bin` first on the test's PATH, with the target in
/// GOARCH and a writable GOCACHE. It passes natively and under qemu.
#[test]
fn a_test_that_runs_the_go_command_finds_its_toolchain() {
    require_host!(false);
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("m");
    write(&m.join("go.mod"), "module example.com/gocmd\n\ngo 1.22\n");
    write(
        &m.join("gocmd.go"),
        "package gocmd\n\nfunc Add(a, b int) int { return a + b }\n",
    );
    write(
        &m.join("gocmd_test.go"),
        r#"package gocmd

import (
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

func TestGoEnvNamesTheTarget(t *testing.T) {
	out, err := exec.Command("go", "env", "GOARCH").CombinedOutput()
	if err != nil {
		t.Fatalf("go env: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != runtime.GOARCH {
		t.Fatalf("go env GOARCH = %s; the test runs on %s", got, runtime.GOARCH)
	}
}

func TestGoVet(t *testing.T) {
	if out, err := exec.Command("go", "vet", ".").CombinedOutput(); err != nil {
		t.Fatalf("go vet: %v\n%s", err, out)
	}
}
"#,
    );
    let out = d.path().join("out");
    let o = test_amd64_arm64(&m, ".", &out, &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let recs = records(&out);
    assert_eq!(recs.len(), 2);
    for r in &recs {
        assert_eq!(r["status"], "pass", "{r:#}");
        assert_eq!(r["tests"]["totals"]["passed"], 2, "{r:#}");
    }
}

/// A library (no main package) whose go.mod has an old `go` line — an unpruned module graph —
/// and one dependency from a local `file://` proxy: `fetch ./...` works from the module root
/// without listing a package, planning then reads the graph from the filled module cache, and
/// the tests run offline; `test ./... --fetch` does both in one go.
#[test]
fn an_old_go_line_library_is_fetched_and_tested_offline() {
    require_host!(false);
    let d = tempfile::tempdir().unwrap();
    let proxy = d.path().join("proxy");
    publish(
        &proxy,
        "example.com/dep",
        "v1.0.0",
        &[(
            "dep.go",
            "package dep\n\nfunc Twice(n int) int { return 2 * n }\n",
        )],
    );
    let lib = d.path().join("oldlib");
    write(
        &lib.join("go.mod"),
        "module example.com/oldlib\n\ngo 1.15\n\nrequire example.com/dep v1.0.0\n",
    );
    write(
        &lib.join("lib.go"),
        "package oldlib\n\nimport \"example.com/dep\"\n\nfunc Four() int { return dep.Twice(2) }\n",
    );
    write(
        &lib.join("lib_test.go"),
        "package oldlib\n\nimport \"testing\"\n\nfunc TestFour(t *testing.T) {\n\tif Four() != 4 {\n\t\tt.Fatal(Four())\n\t}\n}\n",
    );
    let proxy_url = format!("file://{}", proxy.display());
    let goenv = [
        ("GOPROXY", proxy_url.clone()),
        ("GOSUMDB", "off".to_string()),
        ("GOMODCACHE", s(&d.path().join("setup-modcache"))),
    ];
    go(&lib, &["mod", "tidy"], &goenv);
    let cache = s(&shared_cache());
    let net = [("GOPROXY", proxy_url.as_str()), ("GOSUMDB", "off")];

    // fetch ./... in a library: its module, with the user's proxy.
    let modcache = d.path().join("modcache");
    let mc = format!("--modcache={}", s(&modcache));
    let o = crossmatrix_in(
        &lib,
        &[
            "fetch",
            "./...",
            "--toolchain",
            "go1.27",
            "--cache-dir",
            &cache,
            &mc,
        ],
        &net,
        false,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("fetched"), "{}", stderr(&o));
    assert!(modcache.join("example.com/dep@v1.0.0/dep.go").is_file());

    // Then offline: planning reads the graph from that cache, the tests pass.
    let out = d.path().join("out");
    let test = |out: &Path, mc: &str, extra: &[&str], env: &[(&str, &str)]| {
        let mut flags = vec![mc];
        flags.extend(extra);
        test_amd64_arm64(&lib, "./...", out, &flags, env)
    };
    let o = test(&out, &mc, &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let recs = records(&out);
    assert_eq!(recs.len(), 2);
    for r in &recs {
        assert_eq!(r["status"], "pass", "{r:#}");
        assert_eq!(r["tests"]["totals"]["passed"], 1, "{r:#}");
    }

    // test --fetch into an empty module cache: fetched first, then planned and tested.
    let fresh = format!("--modcache={}", s(&d.path().join("fresh-modcache")));
    let out2 = d.path().join("out2");
    let o = test(&out2, &fresh, &["--fetch"], &net);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(records(&out2).iter().all(|r| r["status"] == "pass"));
}

/// `crossmatrix test PATTERN` in `dir` on linux/amd64 and linux/arm64, cgo 0, Go 1.27, the
/// shared cache, with `flags` and `env` added.
fn test_amd64_arm64(
    dir: &Path,
    pattern: &str,
    out: &Path,
    flags: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let cache = s(&shared_cache());
    let out = s(out);
    let mut a = vec![
        "test",
        pattern,
        "--toolchain",
        "go1.27",
        "--target",
        "linux/amd64",
        "--target",
        "linux/arm64",
        "--cgo",
        "0",
        "--cache-dir",
        &cache,
        "--out",
        &out,
    ];
    a.extend(flags);
    crossmatrix_in(dir, &a, env, false)
}

/// A failed test's output goes through the same recognition as a program's: on an empty root
/// (`--rootfs scratch`), a test that runs `sleep` carries `missing-executable`, a plain failure
/// none; a package whose every failure is that trap gets it as the cell's cause, a mixed one
/// stays `test-failure` with each test's cause in the hint.
#[test]
fn each_failed_test_carries_the_trap_it_ran_into() {
    require_host!(false);
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("m");
    write(&m.join("go.mod"), "module example.com/traps\n\ngo 1.22\n");
    let sleeps = "func TestRunsSleep(t *testing.T) {\n\tif err := exec.Command(\"sleep\", \"0\").Run(); err != nil {\n\t\tt.Fatal(err)\n\t}\n}\n";
    write(&m.join("onlytrap/p.go"), "package onlytrap\n");
    write(
        &m.join("onlytrap/p_test.go"),
        &format!("package onlytrap\n\nimport (\n\t\"os/exec\"\n\t\"testing\"\n)\n\n{sleeps}"),
    );
    write(&m.join("mixed/p.go"), "package mixed\n");
    write(
        &m.join("mixed/p_test.go"),
        &format!(
            "package mixed\n\nimport (\n\t\"os/exec\"\n\t\"testing\"\n)\n\n{sleeps}\nfunc TestPlain(t *testing.T) {{ t.Error(\"plain failure\") }}\n"
        ),
    );
    let out = d.path().join("out");
    let o = test_amd64_arm64(&m, "./...", &out, &["--rootfs", "scratch"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let recs = records(&out);
    assert_eq!(recs.len(), 4);
    for r in &recs {
        let case = |name: &str| {
            r["tests"]["cases"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == name)
                .unwrap_or_else(|| panic!("no {name} in {r:#}"))
                .clone()
        };
        assert_eq!(
            case("TestRunsSleep")["cause"],
            "missing-executable",
            "{r:#}"
        );
        let hint = r["hint"].as_str().unwrap();
        assert!(
            hint.contains("TestRunsSleep (missing-executable)"),
            "{hint}"
        );
        if r["program"] == "onlytrap" {
            assert_eq!(r["cause"], "missing-executable", "{r:#}");
        } else {
            assert_eq!(r["cause"], "test-failure", "{r:#}");
            assert!(case("TestPlain")["cause"].is_null(), "{r:#}");
        }
    }
}

/// What a test commonly needs from the machine it runs on (#25 cases 2–4): system programs
/// (`sleep`, `sh` with coreutils), `localhost`, the user database, and a package directory it
/// can write into. On the root test cells get by default (`host`) they pass natively, under
/// qemu through binfmt_misc and under qemu invoked directly, and the record lists what the test
/// wrote — in a throwaway copy: the source is untouched. On `--rootfs scratch` each failing
/// test names what the root lacks.
#[test]
fn a_test_cell_gets_what_go_test_gives_a_test_and_scratch_says_what_it_lacks() {
    require_host!(false);
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("m");
    write(&m.join("go.mod"), "module example.com/env\n\ngo 1.22\n");
    write(&m.join("env.go"), "package env\n");
    write(&m.join("testdata/in.txt"), "kept\n");
    write(
        &m.join("env_test.go"),
        r#"package env

import (
	"net"
	"os"
	"os/exec"
	"os/user"
	"testing"
)

func TestRunsSleep(t *testing.T) {
	if err := exec.Command("sleep", "0").Run(); err != nil {
		t.Fatal(err)
	}
}

func TestRunsAShellPipeline(t *testing.T) {
	out, err := exec.Command("sh", "-c", "echo hi | tr a-z A-Z").Output()
	if err != nil || string(out) != "HI\n" {
		t.Fatalf("%q %v", out, err)
	}
}

func TestListensOnLocalhost(t *testing.T) {
	l, err := net.Listen("tcp", "localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
}

func TestKnowsItsUser(t *testing.T) {
	if _, err := user.Current(); err != nil {
		t.Fatal(err)
	}
}

func TestWritesNextToItsSources(t *testing.T) {
	if err := os.MkdirAll("./made", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("./made/out.txt", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("testdata/in.txt", []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}
"#,
    );
    let out = d.path().join("out");
    let o = test_amd64_arm64(&m, ".", &out, &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out_direct = d.path().join("out-direct");
    let o = crossmatrix_in(
        &m,
        &[
            "test",
            ".",
            "--toolchain",
            "go1.27",
            "--target",
            "linux/s390x",
            "--cgo",
            "0",
            "--executor",
            "qemu-direct",
            "--cache-dir",
            &s(&shared_cache()),
            "--out",
            &s(&out_direct),
        ],
        &[],
        false,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let mut recs = records(&out);
    recs.extend(records(&out_direct));
    assert_eq!(recs.len(), 3);
    for r in &recs {
        assert_eq!(r["status"], "pass", "{r:#}");
        assert_eq!(r["rootfs"], "host", "{r:#}");
        assert!(r["id"].as_str().unwrap().contains("/rootfs-host/"), "{r:#}");
        assert_eq!(r["tests"]["totals"]["passed"], 5, "{r:#}");
        assert_eq!(
            r["tests"]["source_writes"],
            serde_json::json!([
                {"path": "made", "change": "created"},
                {"path": "made/out.txt", "change": "created"},
                {"path": "testdata/in.txt", "change": "modified"},
            ]),
            "{r:#}"
        );
    }
    assert!(
        !m.join("made").exists(),
        "the source directory is never written"
    );
    assert_eq!(
        std::fs::read_to_string(m.join("testdata/in.txt")).unwrap(),
        "kept\n"
    );

    // Both roots in one run: what scratch lacks, test by test, and where each test passes.
    let bare = d.path().join("bare");
    let flags = ["--rootfs", "scratch", "--rootfs", "host"];
    let o = test_amd64_arm64(&m, ".", &bare, &flags, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("TestRunsSleep, TestRunsAShellPipeline, TestListensOnLocalhost, TestKnowsItsUser pass on rootfs host"),
        "{table}"
    );
    let recs = records(&bare);
    assert_eq!(recs.len(), 4);
    for r in recs.iter().filter(|r| r["rootfs"] == "host") {
        assert_eq!(r["status"], "pass", "{r:#}");
    }
    for r in recs.into_iter().filter(|r| r["rootfs"] == "scratch") {
        let causes: std::collections::BTreeMap<String, serde_json::Value> = r["tests"]["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].as_str().unwrap().to_string(), c["cause"].clone()))
            .collect();
        assert_eq!(causes["TestRunsSleep"], "missing-executable", "{r:#}");
        assert_eq!(
            causes["TestRunsAShellPipeline"], "missing-executable",
            "{r:#}"
        );
        assert_eq!(causes["TestListensOnLocalhost"], "dns-config", "{r:#}");
        assert_eq!(causes["TestKnowsItsUser"], "missing-user-db", "{r:#}");
        assert!(
            causes["TestWritesNextToItsSources"].is_null(),
            "it passes: {r:#}"
        );
        // Different traps: the cell's cause is the generic one, each test's in the hint.
        assert_eq!(r["cause"], "test-failure", "{r:#}");
        assert!(
            r["hint"]
                .as_str()
                .unwrap()
                .contains("TestListensOnLocalhost (dns-config)"),
            "{r:#}"
        );
    }
}
