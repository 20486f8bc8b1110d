//! Test fidelity with real projects (#25): builds and test cells that must behave as `go build`
//! and `go test` do on a Linux box.

mod common;

use common::*;

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
    let cache = s(&shared_cache());
    let o = crossmatrix_in(
        &m,
        &[
            "test",
            ".",
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
            &s(&out),
        ],
        &[],
        false,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let recs = records(&out);
    assert_eq!(recs.len(), 2);
    for r in &recs {
        assert_eq!(r["status"], "pass", "{r:#}");
        assert_eq!(r["tests"]["totals"]["passed"], 2, "{r:#}");
    }
}
