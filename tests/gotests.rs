//! `crossmatrix test` end to end on a fixture module the test writes: passing, failing,
//! skipped and sub-tests, a test reading `testdata/`, a panicking test, a hanging test, a
//! package without tests, a benchmark — natively on amd64, under qemu on arm64 and riscv64,
//! and on wasip1 in the embedded wasmtime; per-test JUnit checked as XML; a per-test
//! comparison of two toolchains with the `new-failure` gate; a warm re-run that reuses the
//! passing cells; standard-library packages by import path; and the bad input of the issue
//! (a test writing into its read-only source, a gigabyte of output, tests needing cgo on a
//! cgo=0 cell, a `-run` that matches nothing); `--recheck` labelling tests emulator-suspect.

mod common;

use common::{crossmatrix_in, records, require_host, s, shared_cache, stderr, write};

fn crossmatrix_in_reuse<S: AsRef<str>>(dir: &Path, args: &[S], reuse: bool) -> Output {
    crossmatrix_in(dir, args, &[], reuse)
}
use serde_json::Value;
use std::path::Path;
use std::process::Output;

fn cell<'a>(recs: &'a [Value], arch: &str, program: &str) -> &'a Value {
    recs.iter()
        .find(|r| r["target"]["goarch"] == arch && r["program"] == program)
        .unwrap_or_else(|| panic!("no {arch} record of {program}"))
}

fn case<'a>(rec: &'a Value, name: &str) -> &'a Value {
    rec["tests"]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no test {name} in {rec:#}"))
}

/// A module with a package of every kind of test.
fn fixture(root: &Path) {
    let nonce = format!("{:?}", std::time::SystemTime::now());
    write(&root.join("go.mod"), "module example.com/t\n\ngo 1.21\n");
    write(
        &root.join("calc/calc.go"),
        &format!(
            "package calc\n\nvar nonce = {nonce:?}\n\nfunc Add(a, b int) int {{ return a + b }}\n"
        ),
    );
    write(&root.join("calc/testdata/input.txt"), "forty-two\n");
    write(
        &root.join("calc/calc_test.go"),
        r#"package calc

import (
	"os"
	"runtime"
	"strings"
	"testing"
)

func TestAdd(t *testing.T) {
	if Add(2, 2) != 4 {
		t.Fatal("2+2")
	}
}

func TestTable(t *testing.T) {
	for _, c := range []struct {
		name string
		a, b int
		want int
	}{{"zero", 0, 0, 0}, {"wrong", 1, 1, 3}} {
		t.Run(c.name, func(t *testing.T) {
			if got := Add(c.a, c.b); got != c.want {
				t.Errorf("Add(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
			}
		})
	}
}

func TestSkipped(t *testing.T) {
	t.Skip("not on " + runtime.GOARCH + " today")
}

func TestTestdata(t *testing.T) {
	b, err := os.ReadFile("testdata/input.txt")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(b)) != "forty-two" {
		t.Fatalf("read %q", b)
	}
}
"#,
    );
    // Fails with Go 1.27 and newer only: the toolchain comparison has a broken test.
    write(
        &root.join("calc/newer_test.go"),
        "//go:build go1.27\n\npackage calc\n\nimport \"testing\"\n\nfunc TestNewer(t *testing.T) { t.Error(\"broke on newer Go\") }\n",
    );
    // Benchmarks run only when every test passed.
    write(
        &root.join("bench/bench.go"),
        "package bench\n\nfunc Add(a, b int) int { return a + b }\n",
    );
    write(
        &root.join("bench/bench_test.go"),
        "package bench\n\nimport \"testing\"\n\nfunc TestOK(t *testing.T) {}\n\nfunc BenchmarkAdd(b *testing.B) {\n\tfor i := 0; i < b.N; i++ {\n\t\tAdd(i, i)\n\t}\n\tb.ReportMetric(42, \"answers/op\")\n}\n",
    );
    write(&root.join("boom/boom.go"), "package boom\n");
    write(
        &root.join("boom/boom_test.go"),
        "package boom\n\nimport \"testing\"\n\nfunc TestFine(t *testing.T) {}\n\nfunc TestBoom(t *testing.T) {\n\tvar s []int\n\t_ = s[3]\n}\n",
    );
    write(
        &root.join("notests/notests.go"),
        "package notests\n\nfunc X() {}\n",
    );
    write(&root.join("hang/hang.go"), "package hang\n");
    write(
        &root.join("hang/hang_test.go"),
        "package hang\n\nimport (\n\t\"testing\"\n\t\"time\"\n)\n\nfunc TestQuick(t *testing.T) {}\n\nfunc TestHang(t *testing.T) { time.Sleep(time.Hour) }\n",
    );
}

#[test]
fn a_projects_go_tests_on_every_target() {
    require_host!(false);
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("t");
    fixture(&m);
    let cache = s(&shared_cache());
    let out = d.path().join("out");
    let o = crossmatrix_in_reuse(
        &m,
        &[
            "test",
            "./calc",
            "./bench",
            "./boom",
            "./notests",
            "--toolchain",
            "go1.27",
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
            "--bench",
            ".",
            "--benchtime",
            "100x",
            "--cache-dir",
            &cache,
            "--out",
            &s(&out),
            "--",
            "-count=1",
        ],
        false,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let recs = records(&out);
    assert_eq!(recs.len(), 16);
    for arch in ["amd64", "arm64", "riscv64", "wasm"] {
        let calc = cell(&recs, arch, "calc");
        assert_eq!(calc["status"], "fail", "{calc:#}");
        assert_eq!(calc["cause"], "test-failure");
        let hint = calc["hint"].as_str().unwrap();
        assert!(
            hint.contains("TestTable")
                && hint.contains("TestTable/wrong")
                && hint.contains("TestNewer"),
            "{hint}"
        );
        assert_eq!(calc["tests"]["package"], "example.com/t/calc");
        assert_eq!(case(calc, "TestAdd")["status"], "pass");
        assert_eq!(case(calc, "TestTable/zero")["status"], "pass");
        let wrong = case(calc, "TestTable/wrong");
        assert_eq!(wrong["status"], "fail");
        assert!(
            wrong["output"]
                .as_str()
                .unwrap()
                .contains("Add(1, 1) = 2, want 3"),
            "{wrong:#}"
        );
        let skipped = case(calc, "TestSkipped");
        assert_eq!(skipped["status"], "skip");
        assert!(
            skipped["output"].as_str().unwrap().contains("not on"),
            "{skipped:#}"
        );
        assert_eq!(
            case(calc, "TestTestdata")["status"],
            "pass",
            "{arch}: testdata/ is read relative to the package"
        );
        let totals = &calc["tests"]["totals"];
        assert_eq!(
            (
                totals["passed"].as_u64(),
                totals["failed"].as_u64(),
                totals["skipped"].as_u64()
            ),
            (Some(3), Some(3), Some(1)),
            "{totals}"
        );
        let b = cell(&recs, arch, "bench");
        assert_eq!(b["status"], "pass", "{b:#}");
        let bench = &b["tests"]["benchmarks"][0];
        assert_eq!(bench["name"], "BenchmarkAdd", "{b:#}");
        assert_eq!(bench["iterations"], 100);
        assert!(bench["ns_per_op"].as_f64().unwrap() > 0.0);
        assert_eq!(bench["metrics"]["answers/op"], 42.0);
        assert!(calc["binary"]["size_bytes"].as_u64().unwrap() > 100_000);
        let boom = cell(&recs, arch, "boom");
        assert_eq!(boom["cause"], "test-panic", "{boom:#}");
        assert!(
            boom["hint"]
                .as_str()
                .unwrap()
                .starts_with("TestBoom panicked: panic: runtime error: index out of range"),
            "{boom:#}"
        );
        assert_eq!(case(boom, "TestFine")["status"], "pass");
        let none = cell(&recs, arch, "notests");
        assert_eq!(
            (none["status"].as_str(), none["cause"].as_str()),
            (Some("skipped"), Some("no-test-files"))
        );
        // Named as a directory, still recorded under its import path.
        assert!(
            none["package"]["import_path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/notests")),
            "{none:#}"
        );
    }
    assert_eq!(
        cell(&recs, "arm64", "calc")["run"]["executor"],
        "qemu-binfmt"
    );
    assert_eq!(cell(&recs, "wasm", "calc")["run"]["executor"], "wasmtime");

    // JUnit: one testcase per Go test, as XML a CI test view reads.
    let o = crossmatrix_in_reuse(&m, &["report", &s(&out), "--format", "junit"], false);
    assert!(o.status.success());
    let xml = String::from_utf8(o.stdout).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    let suite = report
        .test_suites
        .iter()
        .find(|s| s.name.as_str() == "go1.27/linux-arm64/cgo0/rootfs-host/calc")
        .expect("a suite per test cell");
    assert_eq!(suite.test_cases.len(), 7);
    assert_eq!((suite.failures, suite.skipped), (3, 1));
    assert!(
        suite
            .test_cases
            .iter()
            .all(|c| c.classname.as_ref().map(|n| n.as_str()) == Some("example.com/t/calc"))
    );
    let md = String::from_utf8(
        crossmatrix_in_reuse(&m, &["report", &s(&out), "--format", "md"], false).stdout,
    )
    .unwrap();
    assert!(
        md.contains("### Failing tests") && md.contains("`TestTable/wrong`"),
        "{md}"
    );
}

#[test]
fn a_hanging_test_is_a_timeout_naming_it() {
    require_host!(false);
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("t");
    fixture(&m);
    let out = d.path().join("out");
    let o = crossmatrix_in_reuse(
        &m,
        &[
            "test",
            "./hang",
            "--toolchain",
            "go1.27",
            "--target",
            "linux/amd64",
            "--cgo",
            "0",
            "--timeout",
            "12s",
            "--cache-dir",
            &s(&shared_cache()),
            "--out",
            &s(&out),
        ],
        false,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = &records(&out)[0];
    assert_eq!(r["cause"], "timeout", "{r:#}");
    assert!(
        r["hint"]
            .as_str()
            .unwrap()
            .contains("while running TestHang"),
        "{r:#}"
    );
    assert_eq!(case(r, "TestQuick")["status"], "pass");
}

#[test]
fn toolchains_compared_test_by_test_and_warm_reruns_reuse() {
    require_host!(false);
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("t");
    fixture(&m);
    let cache = s(&shared_cache());
    let out = d.path().join("both");
    let args = |out: &Path| -> Vec<String> {
        [
            "test",
            "./calc",
            "--toolchain",
            "go1.26",
            "--toolchain",
            "go1.27",
            "--target",
            "linux/amd64",
            "--cgo",
            "0",
            "--cache-dir",
            &cache,
            "--out",
            &s(out),
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };
    let a = args(&out);
    let o = crossmatrix_in_reuse(&m, &a.iter().map(String::as_str).collect::<Vec<_>>(), false);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let o = crossmatrix_in_reuse(
        &m,
        &[
            "compare",
            &s(&out),
            "--toolchains",
            "go1.26,go1.27",
            "--fail-on",
            "new-failure",
        ],
        false,
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "the gate fires on a broken test: {}",
        stderr(&o)
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("TESTS BROKE (1)"), "{text}");
    assert!(
        text.contains("linux-amd64/cgo0/rootfs-host/calc  TestNewer  (absent) → fail"),
        "{text}"
    );
    assert!(text.contains("TESTS FAILING ON BOTH SIDES"), "{text}");
    assert!(stderr(&o).contains("TestNewer"), "{}", stderr(&o));

    // Standard-library packages by import path, then a warm re-run of the same.
    let std_args = |out: &Path| -> Vec<String> {
        [
            "test",
            "strings",
            "unicode/utf8",
            "--toolchain",
            "go1.27",
            "--target",
            "linux/arm64",
            "--cgo",
            "0",
            "--cache-dir",
            &cache,
            "--out",
            &s(out),
            "--",
            "-short",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };
    let first = d.path().join("std1");
    let a = std_args(&first);
    let o = crossmatrix_in_reuse(
        d.path(),
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        true,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for r in records(&first) {
        assert_eq!(r["status"], "pass", "{r:#}");
        assert!(
            r["tests"]["totals"]["passed"].as_u64().unwrap() > 10,
            "{r:#}"
        );
    }
    let second = d.path().join("std2");
    let a = std_args(&second);
    let o = crossmatrix_in_reuse(
        d.path(),
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        true,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let again = records(&second);
    assert!(
        again.iter().all(|r| r["reused_from"].is_string()),
        "{again:#?}"
    );
    let before = records(&first);
    for r in &again {
        let was = before.iter().find(|b| b["id"] == r["id"]).unwrap();
        assert_eq!(r["tests"], was["tests"], "{}", r["id"]);
    }
}

/// A module of the tests a user gets wrong: one writing into its own package directory when
/// that is too large to copy (a sparse 65 MiB file: it stays read-only), one printing a
/// gigabyte, a package whose tests need cgo, one whose test files are all `//go:build cgo`.
fn bad_fixture(root: &Path) {
    write(&root.join("go.mod"), "module example.com/bad\n\ngo 1.21\n");
    write(&root.join("writes/w.go"), "package writes\n");
    std::fs::create_dir_all(root.join("writes/testdata")).unwrap();
    std::fs::File::create(root.join("writes/testdata/big.bin"))
        .and_then(|f| f.set_len(65 << 20))
        .unwrap();
    write(
        &root.join("writes/w_test.go"),
        "package writes\n\nimport (\n\t\"os\"\n\t\"testing\"\n\t\"time\"\n)\n\nfunc TestWriteHere(t *testing.T) {\n\tif err := os.WriteFile(\"out.txt\", []byte(\"x\"), 0o644); err != nil {\n\t\tt.Fatal(err)\n\t}\n}\n\nfunc TestWriteTemp(t *testing.T) {\n\ttime.Sleep(50 * time.Millisecond)\n\tif err := os.WriteFile(t.TempDir()+\"/out.txt\", []byte(\"x\"), 0o644); err != nil {\n\t\tt.Fatal(err)\n\t}\n}\n",
    );
    write(&root.join("loud/l.go"), "package loud\n");
    write(
        &root.join("loud/l_test.go"),
        "package loud\n\nimport (\n\t\"bytes\"\n\t\"os\"\n\t\"testing\"\n)\n\nfunc TestLoud(t *testing.T) {\n\tline := bytes.Repeat([]byte(\"y\"), 1<<20)\n\tfor i := 0; i < 1024; i++ {\n\t\tos.Stdout.Write(line)\n\t}\n}\n\nfunc TestAfter(t *testing.T) {}\n",
    );
    for pkg in ["cgopkg", "cgotag"] {
        write(
            &root.join(format!("{pkg}/c.go")),
            &format!(
                "package {pkg}\n\n// int two(void) {{ return 2; }}\nimport \"C\"\n\nfunc Two() int {{ return int(C.two()) }}\n"
            ),
        );
        write(
            &root.join(format!("{pkg}/doc.go")),
            &format!("package {pkg}\n"),
        );
        let tag = if pkg == "cgotag" {
            "//go:build cgo\n\n"
        } else {
            ""
        };
        write(
            &root.join(format!("{pkg}/c_test.go")),
            &format!(
                "{tag}package {pkg}\n\nimport \"testing\"\n\nfunc TestTwo(t *testing.T) {{\n\tif Two() != 2 {{\n\t\tt.Fatal(\"two\")\n\t}}\n}}\n"
            ),
        );
    }
}

#[test]
fn bad_test_input_gets_a_cause_and_the_run_goes_on() {
    require_host!(true);
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("bad");
    bad_fixture(&m);
    let cache = s(&shared_cache());
    let out = d.path().join("out");
    let common = |out: &Path, cgo: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = [
            "--toolchain",
            "go1.27",
            "--target",
            "linux/amd64",
            "--libc",
            "gnu",
            "--cache-dir",
            &cache,
            "--out",
            &s(out),
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        for c in cgo {
            a.extend(["--cgo".to_string(), c.to_string()]);
        }
        a
    };
    let mut a: Vec<String> = ["test", "./writes", "./loud", "./cgopkg", "./cgotag"]
        .iter()
        .map(|a| a.to_string())
        .collect();
    a.extend(common(&out, &["0", "1"]));
    let o = crossmatrix_in_reuse(&m, &a, false);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let recs = records(&out);
    assert_eq!(recs.len(), 8, "every cell is recorded: {recs:#?}");
    let find = |program: &str, cgo: u64| {
        recs.iter()
            .find(|r| r["program"] == program && r["cgo"] == cgo)
            .unwrap_or_else(|| panic!("no record of {program} cgo={cgo}"))
    };
    for cgo in [0, 1] {
        // The package's directory is too large to copy, so read-only; t.TempDir() is writable.
        let w = find("writes", cgo);
        assert_eq!(w["cause"], "test-failure", "{w:#}");
        let hint = w["hint"].as_str().unwrap();
        assert!(
            hint.contains("TestWriteHere") && hint.contains("write under t.TempDir()"),
            "{hint}"
        );
        assert!(
            case(w, "TestWriteHere")["output"]
                .as_str()
                .unwrap()
                .contains("read-only file system")
        );
        let temp = case(w, "TestWriteTemp");
        assert_eq!(temp["status"], "pass");
        assert!(
            temp["elapsed_ms"].as_u64().unwrap() >= 50,
            "each test's elapsed is the binary's own: {temp}"
        );
        // A gigabyte of output: read at pipe speed, kept capped, every test still known.
        let l = find("loud", cgo);
        assert_eq!(l["status"], "pass", "{l:#}");
        assert_eq!(case(l, "TestAfter")["status"], "pass");
        let kept = case(l, "TestLoud")["output"].as_str().map_or(0, str::len);
        assert!(kept < 1 << 20, "{kept} bytes of output kept");
    }
    let cgopkg = find("cgopkg", 0);
    assert_eq!(cgopkg["cause"], "build-error", "{cgopkg:#}");
    assert!(
        cgopkg["hint"]
            .as_str()
            .unwrap()
            .contains("left out with cgo=0 because they use cgo: c.go"),
        "{cgopkg:#}"
    );
    let cgotag = find("cgotag", 0);
    assert_eq!(
        (cgotag["status"].as_str(), cgotag["cause"].as_str()),
        (Some("skipped"), Some("excluded-by-constraints")),
        "{cgotag:#}"
    );
    assert!(
        cgotag["hint"]
            .as_str()
            .unwrap()
            .contains("c_test.go: //go:build cgo"),
        "{cgotag:#}"
    );
    for pkg in ["cgopkg", "cgotag"] {
        assert_eq!(find(pkg, 1)["status"], "pass", "{pkg} with cgo=1");
    }
    let size = std::fs::metadata(out.join("cells.jsonl")).unwrap().len();
    assert!(size < 4 << 20, "records stay small: {size} bytes");

    // A -run that matches nothing: Go says "no tests to run"; not a failure.
    let none = d.path().join("none");
    let mut a: Vec<String> = ["test", "./cgopkg"].iter().map(|a| a.to_string()).collect();
    a.extend(common(&none, &["1"]));
    a.extend(["--".to_string(), "-run=NoSuchTest".to_string()]);
    let o = crossmatrix_in_reuse(&m, &a, false);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = &records(&none)[0];
    assert_eq!(r["status"], "pass", "{r:#}");
    assert_eq!(r["tests"]["no_tests_to_run"], true, "{r:#}");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("no tests to run"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

/// A stand-in for `qemu-aarch64-static` invoked directly: it runs the guest through the
/// kernel's binfmt_misc handler (the real qemu) with one variable set, which the fixture's
/// "emulator bug" test fails on — so the test fails under this executor and passes under the
/// real one.
const FAKE_QEMU: &str = r#"package main

import (
	"fmt"
	"os"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Println("qemu-aarch64 version 7.2.99 (crossmatrix test double)")
		return
	}
	env := append(os.Environ(), "CROSSMATRIX_FAKE_EMULATOR=1")
	if err := syscall.Exec(os.Args[1], os.Args[1:], env); err != nil {
		fmt.Fprintln(os.Stderr, "fake qemu:", err)
		os.Exit(127)
	}
}
"#;

#[test]
fn recheck_labels_tests_that_pass_under_another_executor() {
    require_host!(false);
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("emu");
    write(&m.join("go.mod"), "module example.com/emu\n\ngo 1.21\n");
    let emu_test = "func TestEmuBug(t *testing.T) {\n\tif os.Getenv(\"CROSSMATRIX_FAKE_EMULATOR\") != \"\" {\n\t\tt.Fatal(\"wrong answer under this emulator\")\n\t}\n}\n\nfunc TestFine(t *testing.T) {}\n";
    for (pkg, broken) in [
        ("onlyemu", ""),
        (
            "mixed",
            "\nfunc TestBroken(t *testing.T) { t.Fatal(\"broken everywhere\") }\n",
        ),
    ] {
        write(&m.join(format!("{pkg}/p.go")), &format!("package {pkg}\n"));
        write(
            &m.join(format!("{pkg}/p_test.go")),
            &format!("package {pkg}\n\nimport (\n\t\"os\"\n\t\"testing\"\n)\n\n{emu_test}{broken}"),
        );
    }
    let fake_dir = d.path().join("fakebin");
    write(&d.path().join("fake/main.go"), FAKE_QEMU);
    common::go_build(
        &d.path().join("fake/main.go"),
        &fake_dir.join("qemu-aarch64-static"),
        "amd64",
    );
    let path = format!(
        "{}:{}",
        fake_dir.display(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
    );
    let out = d.path().join("out");
    let o = crossmatrix_in(
        &m,
        &[
            "test",
            "./onlyemu",
            "./mixed",
            "--toolchain",
            "go1.27",
            "--target",
            "linux/arm64",
            "--cgo",
            "0",
            "--executor",
            "qemu-direct",
            "--recheck",
            "--cache-dir",
            &s(&shared_cache()),
            "--out",
            &s(&out),
        ],
        &[("PATH", path.as_str())],
        false,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let recs = records(&out);
    let by = |p: &str| recs.iter().find(|r| r["program"] == p).unwrap();
    let only = by("onlyemu");
    assert_eq!(only["run"]["executor"], "qemu-direct", "{only:#}");
    assert_eq!(only["cause"], "emulator-suspect", "{only:#}");
    assert!(
        only["hint"].as_str().unwrap().contains("TestEmuBug"),
        "{only:#}"
    );
    assert_eq!(
        only["tests"]["emulator_suspect"],
        serde_json::json!(["TestEmuBug"])
    );
    let mixed = by("mixed");
    assert_eq!(
        mixed["cause"], "test-failure",
        "a real failure stays one: {mixed:#}"
    );
    assert!(
        mixed["hint"]
            .as_str()
            .unwrap()
            .ends_with("TestEmuBug passed under qemu-binfmt 7.2.99 (emulator-suspect)"),
        "{mixed:#}"
    );
    assert_eq!(
        mixed["tests"]["emulator_suspect"],
        serde_json::json!(["TestEmuBug"]),
        "{mixed:#}"
    );
}

/// `--retries`: failed tests run again alone; one that passes then is flaky — passing, counted
/// apart, listed in the table and Markdown, a `<flakyFailure>` in JUnit — and never hides a test
/// that keeps failing. The stand-in for a flaky test fails unless it is run alone (as a test
/// that depends on the order or the load of the tests around it does).
#[test]
fn retries_make_flaky_tests_visible_and_keep_real_failures_red() {
    require_host!(false);
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("retry");
    write(&m.join("go.mod"), "module example.com/retry\n\ngo 1.21\n");
    let flaky = "func TestFlaky(t *testing.T) {\n\tfor _, a := range os.Args {\n\t\tif strings.HasPrefix(a, \"-test.run=^(\") {\n\t\t\treturn\n\t\t}\n\t}\n\tt.Fatal(\"fails unless run alone\")\n}\n";
    for (pkg, more) in [
        ("flaky", "func TestFine(t *testing.T) {}\n"),
        (
            "broken",
            "func TestAlways(t *testing.T) { t.Fatal(\"always\") }\n",
        ),
    ] {
        write(&m.join(format!("{pkg}/p.go")), &format!("package {pkg}\n"));
        write(
            &m.join(format!("{pkg}/p_test.go")),
            &format!(
                "package {pkg}\n\nimport (\n\t\"os\"\n\t\"strings\"\n\t\"testing\"\n)\n\n{flaky}\n{more}"
            ),
        );
    }
    let cache = s(&shared_cache());
    let run = |out: &Path, extra: &[&str]| {
        let out = s(out);
        let mut a = vec![
            "test",
            "./...",
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
        a.extend(extra);
        crossmatrix_in(&m, &a, &[], false)
    };
    // Without retries the flaky test fails its cell.
    let plain = d.path().join("plain");
    let o = run(&plain, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(records(&plain).iter().all(|r| r["status"] == "fail"));

    let out = d.path().join("out");
    let o = run(&out, &["--retries", "2"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "the broken package stays red: {}",
        stderr(&o)
    );
    let recs = records(&out);
    assert_eq!(recs.len(), 4);
    for r in &recs {
        let f = case(r, "TestFlaky");
        assert_eq!(f["status"], "pass", "{r:#}");
        assert_eq!(f["failed_attempts"], 1, "{r:#}");
        assert!(
            f["output"]
                .as_str()
                .unwrap()
                .contains("fails unless run alone"),
            "{r:#}"
        );
        assert_eq!(r["tests"]["totals"]["flaky"], 1, "{r:#}");
        if r["program"] == "flaky" {
            assert_eq!(r["status"], "pass", "{r:#}");
        } else {
            assert_eq!(r["status"], "fail", "{r:#}");
            let a = case(r, "TestAlways");
            assert_eq!(
                (a["status"].as_str(), a["failed_attempts"].as_u64()),
                (Some("fail"), Some(2))
            );
            let hint = r["hint"].as_str().unwrap();
            assert!(hint.starts_with("1 test(s) failed: TestAlways;"), "{hint}");
            assert!(
                hint.contains("flaky (passed on a retry): TestFlaky"),
                "{hint}"
            );
        }
    }
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("~ TestFlaky (flaky: 1 failed run, then passed): "),
        "{table}"
    );
    assert!(table.contains("4 cells: 2 passed, 2 failed, 0 skipped, 0 built (not run) (2 passed only on a retry: flaky); 8 Go tests: 6 passed, 2 failed, 0 skipped (4 flaky: passed only on a retry)"), "{table}");
    let report = |format: &str| {
        let o = crossmatrix_in(&m, &["report", &s(&out), "--format", format], &[], false);
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let junit = report("junit");
    assert_eq!(junit.matches("<flakyFailure").count(), 4, "{junit}");
    let md = report("md");
    assert!(
        md.contains("### Flaky tests") && md.contains("`TestFlaky` | 1 |"),
        "{md}"
    );
    // The optional gate: a flaky test in the new run fails it, and says it is new.
    let o = crossmatrix_in(
        &m,
        &["compare", &s(&plain), &s(&out), "--fail-on", "flaky"],
        &[],
        false,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o)
            .contains("flaky: go1.27/linux-arm64/cgo0/rootfs-host/flaky: newly flaky: TestFlaky"),
        "{}",
        stderr(&o)
    );
    // `[run] retries` in the config does the same; `--retries` wins over it.
    write(
        &m.join("crossmatrix.toml"),
        "toolchains = [\"go1.27\"]\ntargets = [\"linux/amd64\"]\ncgo = [0]\n\n[run]\nretries = 1\n\n[[tests]]\npackages = [\"./flaky\"]\n",
    );
    let by_config = |out: &Path, extra: &[&str]| {
        let out = s(out);
        let mut a = vec![
            "test",
            "--config",
            "crossmatrix.toml",
            "--cache-dir",
            &cache,
            "--out",
            &out,
        ];
        a.extend(extra);
        crossmatrix_in(&m, &a, &[], false)
    };
    let cfg_out = d.path().join("cfg");
    let o = by_config(&cfg_out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = &records(&cfg_out)[0];
    assert_eq!(r["tests"]["totals"]["flaky"], 1, "{r:#}");
    let o = by_config(&d.path().join("cfg0"), &["--retries", "0"]);
    assert_eq!(o.status.code(), Some(1), "--retries 0 wins: {}", stderr(&o));
}
