//! `--metric instructions|both` end to end: the real counting qemu (ci/counter/build, installed
//! by ci/setup in /opt/crossmatrix/counter), real Go, real bwrap. The same program and the same
//! benchmark counted 5 times on amd64, arm64, riscv64 and s390x give counts whose max/min is at
//! most 1.001 (the wall times of the same cells printed beside them); a benchmark a few
//! instructions per op slower is told apart; and every way counting cannot happen is said.

mod common;

use common::{crossmatrix, records, require_host, s, shared_cache, stderr, write};
use serde_json::Value;
use std::path::{Path, PathBuf};

const COUNTER: &str = "/opt/crossmatrix/counter";

/// The installed counter, or why a test cannot use it (a failure under CI).
fn counter() -> Option<PathBuf> {
    common::installed(
        &Path::new(COUNTER).join("counter.json"),
        &format!("no counting qemu at {COUNTER}: run ci/setup (ci/host-setup --counter)"),
    )
    .map(|_| PathBuf::from(COUNTER))
}

const ARCHES: [&str; 4] = ["amd64", "arm64", "riscv64", "s390x"];

const PROGRAM: &str = r#"package main

import (
	"fmt"
	"sort"
	"strings"
)

func main() {
	words := strings.Fields("the quick brown fox jumps over the lazy dog again and again")
	counts := map[string]int{}
	for _, w := range words {
		counts[w]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Println(k, counts[k])
	}
}
"#;

/// An FNV loop (≈ 5,000–7,000 instructions per op), the same call with a multiply and an xor
/// more per op, and an allocating benchmark.
const BENCH: &str = r#"package bench

import "testing"

//go:noinline
func work(seed uint32) uint32 {
	h := uint32(2166136261) ^ seed
	for i := 0; i < 1000; i++ {
		h ^= uint32(i)
		h *= 16777619
	}
	return h
}

var sink uint32

func TestWork(t *testing.T) {
	if work(0) == work(1) {
		t.Fatal("no mixing")
	}
}

func BenchmarkWork(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sink += work(0)
	}
}

func BenchmarkWorkPlus(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sink += work(0)
		sink ^= uint32(i) * 3
	}
}

func BenchmarkAlloc(b *testing.B) {
	for i := 0; i < b.N; i++ {
		s := make([]byte, 64+i%7)
		sink += uint32(len(s))
	}
}
"#;

fn spread(v: &[f64]) -> f64 {
    let max = v.iter().copied().fold(f64::MIN, f64::max);
    let min = v.iter().copied().fold(f64::MAX, f64::min);
    max / min
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("an array: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn target_args() -> Vec<String> {
    ARCHES
        .iter()
        .flat_map(|a| ["--target".to_string(), format!("linux/{a}")])
        .collect()
}

#[test]
fn counts_are_exact_on_four_arches_for_programs_and_benchmarks() {
    require_host!(false);
    let Some(counter) = counter() else { return };
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(counter.join("counter.json")).unwrap())
            .unwrap();
    let qemu_version = manifest["qemu_version"].as_str().unwrap().to_string();
    let d = tempfile::tempdir().unwrap();
    let cache = s(&shared_cache());

    // A program: counted 5 times and timed 5 times, in separate runs.
    let prog = d.path().join("words/main.go");
    write(&prog, PROGRAM);
    let out = d.path().join("prog");
    let mut a: Vec<String> = vec![
        "run".into(),
        s(&prog),
        "--toolchain".into(),
        "go1.27".into(),
    ];
    a.extend(target_args());
    a.extend(
        [
            "--metric",
            "both",
            "--count-reps",
            "5",
            "--reps",
            "5",
            "--cache-dir",
            &cache,
            "--out",
            &s(&out),
        ]
        .map(String::from),
    );
    let o = crossmatrix(&a);
    assert!(o.status.success(), "{}", stderr(&o));
    let recs = records(&out);
    assert_eq!(recs.len(), 4, "{recs:#?}");
    eprintln!("program: instructions (5 counted runs) | wall ms (5 timed runs)");
    for r in &recs {
        let ins = &r["instructions"];
        let samples = nums(&ins["samples"]);
        assert_eq!(samples.len(), 5, "{r:#}");
        let wall = nums(&r["startup"]["samples_ms"]);
        eprintln!(
            "  {:<28} {:?} (max/min {:.6}) | {:?}",
            r["id"].as_str().unwrap(),
            samples,
            spread(&samples),
            wall
        );
        assert!(
            spread(&samples) <= 1.001,
            "{}: counts {samples:?} vary by more than 0.1%",
            r["id"]
        );
        assert!(
            samples[0] > 100_000.0,
            "a Go program runs ≥ 10⁵ instructions: {samples:?}"
        );
        assert_eq!(ins["counter"]["qemu_version"], qemu_version.as_str());
        assert!(r["uncounted"].is_null(), "{r:#}");
        assert_eq!(wall.len(), 5, "the timed runs are still there: {r:#}");
    }
    let amd64 = recs
        .iter()
        .find(|r| r["target"]["goarch"] == "amd64")
        .unwrap();
    assert_eq!(amd64["instructions"]["counter"]["arch"], "x86_64");
    assert_eq!(
        amd64["run"]["executor"], "native",
        "a native cell runs natively; only its count is emulated"
    );
    let arm64 = recs
        .iter()
        .find(|r| r["target"]["goarch"] == "arm64")
        .unwrap();
    assert_eq!(
        arm64["instructions"]["counter"]["cpu"], "cortex-a57",
        "{arm64:#}"
    );

    // Benchmarks of a test cell: instructions per op, 5 pairs of counted runs each.
    let pkg = d.path().join("bench");
    write(&pkg.join("go.mod"), "module example.com/bench\n\ngo 1.22\n");
    write(&pkg.join("bench_test.go"), BENCH);
    let out = d.path().join("bench-out");
    let mut a: Vec<String> = vec![
        "test".into(),
        ".".into(),
        "--toolchain".into(),
        "go1.27".into(),
    ];
    a.extend(target_args());
    a.extend(
        [
            "--bench",
            ".",
            "--benchtime",
            "200x",
            "--metric",
            "instructions",
            "--count-reps",
            "5",
            "--cache-dir",
            &cache,
            "--out",
            &s(&out),
        ]
        .map(String::from),
    );
    let o = common::crossmatrix_in(&pkg, &a, &[], false);
    assert!(o.status.success(), "{}", stderr(&o));
    let recs = records(&out);
    assert_eq!(recs.len(), 4, "{recs:#?}");
    eprintln!("benchmarks: instructions/op (5 counted pairs) | ns/op (the test run)");
    for r in &recs {
        assert!(r["uncounted"].is_null(), "{r:#}");
        let benches = r["tests"]["benchmarks"].as_array().unwrap();
        let per_op = |name: &str| -> (f64, Vec<f64>, f64) {
            let b = benches
                .iter()
                .find(|b| b["name"] == name)
                .unwrap_or_else(|| panic!("{name} in {r:#}"));
            let ins = &b["instructions"];
            (
                ins["per_op"].as_f64().unwrap(),
                nums(&ins["samples_per_op"]),
                b["ns_per_op"].as_f64().unwrap(),
            )
        };
        for name in ["BenchmarkWork", "BenchmarkWorkPlus", "BenchmarkAlloc"] {
            let (v, samples, ns) = per_op(name);
            eprintln!(
                "  {:<12} {:<18} {v:.2} {samples:?} (max/min {:.6}) | {ns} ns/op",
                r["target"]["goarch"].as_str().unwrap(),
                name,
                spread(&samples)
            );
            assert_eq!(samples.len(), 5);
            assert!(
                spread(&samples) <= 1.001,
                "{name} on {}: {samples:?}",
                r["target"]["goarch"]
            );
        }
        let (work, _, _) = per_op("BenchmarkWork");
        let (plus, _, _) = per_op("BenchmarkWorkPlus");
        assert!(
            (2_000.0..20_000.0).contains(&work),
            "a 1,000-iteration loop: {work}"
        );
        // A multiply and an xor more per op: a handful of instructions, seen.
        let more = plus - work;
        assert!(
            (1.0..30.0).contains(&more),
            "WorkPlus is a few instructions per op slower than Work on {}: {work} vs {plus}",
            r["target"]["goarch"]
        );
    }
}

/// A copy of the installed counter whose manifest lists only `arches`.
fn partial_counter(dir: &Path, counter: &Path, arches: &[&str]) {
    let mut m: Value =
        serde_json::from_str(&std::fs::read_to_string(counter.join("counter.json")).unwrap())
            .unwrap();
    m["arches"] = arches.iter().map(|a| Value::from(*a)).collect();
    std::fs::create_dir_all(dir).unwrap();
    // Copies: the directory is bound into the sandbox, where links to elsewhere would dangle.
    for e in ["bin", "lib", "plugins"] {
        std::fs::create_dir_all(dir.join(e)).unwrap();
        for f in std::fs::read_dir(counter.join(e)).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), dir.join(e).join(f.file_name())).unwrap();
        }
    }
    std::fs::write(dir.join("counter.json"), m.to_string()).unwrap();
}

#[test]
fn every_way_counting_cannot_happen_is_said_and_time_still_works() {
    require_host!(false);
    let Some(counter) = counter() else { return };
    let d = tempfile::tempdir().unwrap();
    let cache = s(&shared_cache());
    let prog = d.path().join("hello/main.go");
    write(&prog, "package main\n\nfunc main() { println(\"hi\") }\n");
    let run = |out: &Path, extra: &[&str], env: &[(&str, &str)]| {
        let mut c = common::command();
        c.args([
            "run",
            &s(&prog),
            "--toolchain",
            "go1.27",
            "--target",
            "linux/amd64",
            "--target",
            "linux/arm64",
            "--target",
            "wasip1/wasm",
            "--reps",
            "2",
            "--cache-dir",
            &cache,
            "--out",
            &s(out),
        ]);
        c.args(extra);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    };

    // --counter naming a directory without one: a usage error before any work.
    let o = run(
        &d.path().join("o1"),
        &["--metric", "both", "--counter", "/nonexistent"],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--counter: no counting qemu in /nonexistent")
            && stderr(&o).contains("ci/host-setup --counter"),
        "{}",
        stderr(&o)
    );
    assert!(!d.path().join("o1/cells.jsonl").exists());

    // An unknown metric.
    let o = run(&d.path().join("o2"), &["--metric", "cycles"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cycles"), "{}", stderr(&o));

    // $CROSSMATRIX_COUNTER naming nothing: said once, every cell says it, times still taken.
    let out = d.path().join("o3");
    let o = run(
        &out,
        &["--metric", "both"],
        &[("CROSSMATRIX_COUNTER", "/nonexistent")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: no counting qemu in /nonexistent"),
        "{}",
        stderr(&o)
    );
    for r in records(&out) {
        assert_eq!(r["status"], "pass", "{r:#}");
        assert!(r["instructions"].is_null());
        assert!(
            r["uncounted"]
                .as_str()
                .unwrap()
                .contains("instructions are not counted"),
            "{r:#}"
        );
        assert!(
            r["startup"]["samples_ms"].as_array().is_some(),
            "timed anyway: {r:#}"
        );
    }

    // A counter without arm64's emulator; wasip1 is not counted; --metric instructions times
    // nothing.
    let partial = d.path().join("partial");
    partial_counter(&partial, &counter, &["x86_64"]);
    let out = d.path().join("o4");
    let o = run(
        &out,
        &["--metric", "instructions", "--counter", &s(&partial)],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let recs = records(&out);
    let by = |arch: &str| recs.iter().find(|r| r["target"]["goarch"] == arch).unwrap();
    assert!(by("amd64")["instructions"]["count"].as_u64().unwrap() > 10_000);
    assert!(
        by("amd64")["startup"].is_null(),
        "--metric instructions times nothing"
    );
    let arm = by("arm64")["uncounted"].as_str().unwrap();
    assert!(
        arm.contains("has no emulator for arm64") && arm.contains("x86_64"),
        "{arm}"
    );
    let wasm = by("wasm")["uncounted"].as_str().unwrap();
    assert!(wasm.contains("wasip1/wasm is not counted"), "{wasm}");
}

/// The main goroutine blocks in a raw read holding the only P; the writer needs that P, which
/// only sysmon's retake hands over — and the counter holds sysmon. The plugin lets it go when no
/// other thread runs: the counted run ends (less exactly) instead of hanging.
const RAW_PIPE: &str = r#"package main

import (
	"fmt"
	"syscall"
)

func main() {
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		panic(err)
	}
	go func() {
		syscall.Write(p[1], []byte("hello through a raw pipe"))
	}()
	buf := make([]byte, 64)
	n, err := syscall.Read(p[0], buf)
	fmt.Println(n, err, string(buf[:n]))
}
"#;

#[test]
fn a_program_that_waits_for_sysmon_is_counted_not_hung() {
    require_host!(false);
    if counter().is_none() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let prog = d.path().join("rawpipe/main.go");
    write(&prog, RAW_PIPE);
    let out = d.path().join("out");
    let started = std::time::Instant::now();
    let o = crossmatrix(&[
        "run",
        &s(&prog),
        "--toolchain",
        "go1.27",
        "--target",
        "linux/arm64",
        "--metric",
        "instructions",
        "--count-reps",
        "2",
        "--cache-dir",
        &s(&shared_cache()),
        "--out",
        &s(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let recs = records(&out);
    assert!(recs[0]["uncounted"].is_null(), "{:#}", recs[0]);
    assert!(
        recs[0]["instructions"]["count"].as_u64().unwrap() > 100_000,
        "{:#}",
        recs[0]
    );
    eprintln!(
        "counted {:?} in {:?}",
        recs[0]["instructions"]["samples"],
        started.elapsed()
    );
}
