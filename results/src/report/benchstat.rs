//! `benchstat`: the Go benchmark format (golang.org/design/14313-benchmark-format), so
//! `benchstat base.txt new.txt` compares two runs. Every passing cell with startup timings
//! gives one `BenchmarkStartup/…` line per repetition (`ns/op`), and every cell with a binary
//! one `BenchmarkSize/…` line (`bytes`).
//!
//! The cell goes into the name as sub-benchmark keys,
//! `BenchmarkStartup/toolchain=go1.24/target=linux-arm64/mode=cgo0/rootfs=scratch/program=probe`,
//! so benchstat can pivot on any axis:
//!
//! - `benchstat base.txt new.txt`: two runs of the same matrix;
//! - `benchstat -col /toolchain run.txt`: two toolchains inside one run;
//! - `benchstat -ignore /toolchain old-go.txt new-go.txt`: two runs with different toolchains;
//! - `benchstat -col /target -filter '/mode:cgo0' run.txt`: targets side by side.
//!
//! The configuration lines are only `goos`, `goarch` (the host's) and `pkg`: benchstat splits
//! its tables by configuration, so anything that differs between two runs of one matrix
//! (host name, dates) is written as a `#` comment, which the format ignores.

use super::{Input, ReportError, Reporter};
use crate::schema::{CellRecord, CellStatus};
use std::fmt::Write as _;

pub(super) struct BenchstatReporter;

impl Reporter for BenchstatReporter {
    fn render(&self, input: &Input<'_>) -> Result<String, ReportError> {
        let Input { records, meta, .. } = *input;
        let mut out = String::new();
        if let Some(m) = meta {
            let _ = writeln!(
                out,
                "# crossmatrix {} on {} ({}), {} → {}, {} startup repetitions per cell",
                m.crossmatrix_version,
                one_line(&m.host.hostname),
                one_line(&m.host.os),
                m.started_at,
                m.finished_at,
                m.reps
            );
        }
        let host_arch = meta.map_or(std::env::consts::ARCH, |m| m.host.arch.as_str());
        out.push_str("goos: linux\n");
        let _ = writeln!(
            out,
            "goarch: {}",
            crossmatrix_matrix::goarch_for_machine(host_arch, None)
        );
        out.push_str("pkg: crossmatrix\n");

        for r in records {
            let Some(startup) = r.startup.as_ref().filter(|_| r.status == CellStatus::Pass) else {
                continue;
            };
            let name = benchmark_name("Startup", r);
            let samples: &[f64] = if startup.samples_ms.is_empty() {
                std::slice::from_ref(&startup.median_ms)
            } else {
                &startup.samples_ms
            };
            for ms in samples.iter().filter(|ms| ms.is_finite() && **ms >= 0.0) {
                let _ = writeln!(out, "{name} 1 {} ns/op", (ms * 1e6).round());
            }
        }
        // Counted runs (`--metric`): one line per counted run, in instructions (a unit of its
        // own: benchstat tables it apart from the times).
        for r in records.iter().filter(|r| r.status == CellStatus::Pass) {
            let Some(ins) = r.instructions.as_ref() else {
                continue;
            };
            let name = benchmark_name("Startup", r);
            for n in &ins.samples {
                let _ = writeln!(out, "{name} 1 {n} instructions/op");
            }
        }
        for r in records {
            let Some(bin) = r.binary.as_ref() else {
                continue;
            };
            if matches!(r.status, CellStatus::Pass | CellStatus::Built) {
                let _ = writeln!(
                    out,
                    "{} 1 {} bytes",
                    benchmark_name("Size", r),
                    bin.size_bytes
                );
            }
        }
        go_benchmarks(&mut out, records);
        Ok(out)
    }
}

/// The Go benchmarks of test cells (`crossmatrix test --bench`), each cell under its own
/// configuration: its axes as benchstat configuration keys (`toolchain: go1.24`, `target:
/// linux-arm64`, `mode: cgo0`, `rootfs: scratch`) and its package as `pkg`, so
/// `benchstat -col toolchain run.txt` compares toolchains benchmark by benchmark.
fn go_benchmarks(out: &mut String, records: &[CellRecord]) {
    for r in records {
        let Some(t) = r.tests.as_ref().filter(|t| !t.benchmarks.is_empty()) else {
            continue;
        };
        let _ = writeln!(
            out,
            "\ntoolchain: {}\ntarget: {}\nmode: {}\nrootfs: {}\npkg: {}",
            r.toolchain.name,
            r.target_label().replace('/', "-"),
            r.mode(),
            r.rootfs,
            t.package
        );
        for b in &t.benchmarks {
            let name = if b.procs > 1 {
                format!("{}-{}", b.name, b.procs)
            } else {
                b.name.clone()
            };
            let _ = write!(out, "{name} {} {} ns/op", b.iterations, b.ns_per_op);
            if let Some(v) = b.bytes_per_op {
                let _ = write!(out, " {v} B/op");
            }
            if let Some(v) = b.allocs_per_op {
                let _ = write!(out, " {v} allocs/op");
            }
            for (unit, v) in &b.metrics {
                let _ = write!(out, " {v} {unit}");
            }
            if let Some(ins) = &b.instructions {
                let _ = write!(out, " {} instructions/op", ins.per_op);
            }
            out.push('\n');
        }
    }
}

/// `BenchmarkStartup/toolchain=go1.24/target=linux-arm64/mode=cgo0/rootfs=scratch/program=probe`
/// from the id's five parts; `BenchmarkStartup/cell=<id with - for />` for any other id.
fn benchmark_name(kind: &str, r: &CellRecord) -> String {
    let parts: Vec<&str> = r.id.split('/').collect();
    let mut name = match parts.as_slice() {
        [tc, target, mode, rootfs, program] => format!(
            "Benchmark{kind}/toolchain={}/target={}/mode={}/rootfs={}/program={}",
            clean(tc),
            clean(target),
            clean(mode),
            clean(rootfs.strip_prefix("rootfs-").unwrap_or(rootfs)),
            clean(program)
        ),
        _ => format!("Benchmark{kind}/cell={}", clean(&r.id.replace('/', "-"))),
    };
    // A name ending in `-<digits>` would be read as GOMAXPROCS and cut off: say it is 1.
    let tail = name.rsplit('-').next().unwrap_or("");
    if name.contains('-') && !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()) {
        name.push_str("-1");
    }
    name
}

/// Names hold no white space, and `/` and `=` would split a sub-benchmark key.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_whitespace() || c == '/' || c == '=' {
                '_'
            } else {
                c
            }
        })
        .collect()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{RecordExt, cell};

    #[test]
    fn names_are_pivotable_and_safe() {
        let r = cell(
            "go1.24/linux-arm64/cgo1-musl/rootfs-musl/probe",
            CellStatus::Pass,
        );
        assert_eq!(
            benchmark_name("Startup", &r),
            "BenchmarkStartup/toolchain=go1.24/target=linux-arm64/mode=cgo1-musl/rootfs=musl/program=probe"
        );
        let r = cell(
            "go1.24/linux-arm64/cgo0/rootfs-scratch/probe-2",
            CellStatus::Pass,
        );
        assert!(benchmark_name("Size", &r).ends_with("program=probe-2-1"));
        let mut r = cell(
            "go1.24/linux-arm64/cgo0/rootfs-scratch/probe",
            CellStatus::Pass,
        );
        r.id = "odd id/with=parts".into();
        assert_eq!(
            benchmark_name("Size", &r),
            "BenchmarkSize/cell=odd_id-with_parts"
        );
    }

    #[test]
    fn counts_are_an_instructions_unit_beside_the_times() {
        use crate::schema::{BenchInstructions, CounterInfo, InstructionsRecord};
        let counter = CounterInfo {
            qemu_version: "10.0.13".into(),
            cpu: None,
            arch: "aarch64".into(),
        };
        let mut prog = cell(
            "go1.27/linux-arm64/cgo0/rootfs-scratch/probe",
            CellStatus::Pass,
        )
        .startup(&[60.0, 61.0]);
        prog.instructions = Some(InstructionsRecord {
            count: 256_507,
            samples: vec![256_507, 256_507],
            excluded: vec![],
            counter: counter.clone(),
        });
        let mut t = crate::fixtures::test_cell(
            "go1.27/linux-arm64/cgo0/rootfs-scratch/xx",
            &[("TestX", crate::TestStatus::Pass, "")],
        );
        let mut b = super::super::dashboard::tests::bench("BenchmarkSum64/4B", 1, 19.71);
        b.instructions = Some(BenchInstructions {
            per_op: 43.0,
            samples_per_op: vec![43.0; 3],
            n: [2, 1_428_574],
            counter,
        });
        t.tests.as_mut().unwrap().benchmarks = vec![b];
        let out = crate::render(
            crate::ReportFormat::Benchstat,
            &[prog, t],
            None,
            &crate::RenderOptions::default(),
        )
        .unwrap();
        assert_eq!(
            out.matches("program=probe 1 256507 instructions/op\n")
                .count(),
            2,
            "{out}"
        );
        assert!(out.contains(" 43 instructions/op\n"), "{out}");
    }

    #[test]
    fn every_line_follows_the_go_benchmark_format() {
        let records = vec![
            cell(
                "go1.24/linux-amd64/cgo0/rootfs-scratch/probe",
                CellStatus::Pass,
            )
            .size(1_572_864)
            .startup(&[1.2, 1.25, 1.3]),
            cell(
                "go1.24/linux-s390x/cgo0/rootfs-scratch/probe",
                CellStatus::Built,
            )
            .size(1_700_000),
            cell(
                "go1.24/linux-mips/cgo0/rootfs-scratch/probe",
                CellStatus::Fail,
            )
            .size(1_800_000)
            .startup(&[9.0]),
        ];
        let out = crate::render(
            crate::ReportFormat::Benchstat,
            &records,
            None,
            &crate::RenderOptions::default(),
        )
        .unwrap();
        let mut benchmarks = 0;
        for line in out.lines() {
            if line.starts_with('#') {
                continue;
            }
            if let Some(rest) = line.strip_prefix("Benchmark") {
                benchmarks += 1;
                let fields: Vec<&str> = rest.split(' ').collect();
                // name, iterations, then value-unit pairs.
                assert!(fields.len() >= 4 && fields.len() % 2 == 0, "{line}");
                assert!(fields[0].chars().next().unwrap().is_uppercase(), "{line}");
                assert_eq!(fields[1], "1", "{line}");
                for pair in fields[2..].chunks(2) {
                    assert!(pair[0].parse::<f64>().is_ok(), "{line}");
                    assert!(!pair[1].is_empty(), "{line}");
                }
            } else {
                // A configuration line: a lower-case key without spaces or capitals.
                let (key, value) = line.split_once(": ").expect(line);
                assert!(key.starts_with(|c: char| c.is_lowercase()), "{line}");
                assert!(!key.contains(char::is_whitespace), "{line}");
                assert!(!key.contains(char::is_uppercase), "{line}");
                assert!(!value.contains('\n'));
            }
        }
        // 3 startup repetitions of the passing cell, and the sizes of the passing and the
        // built cell; the failing cell gives nothing.
        assert_eq!(benchmarks, 5, "{out}");
        assert!(!out.contains("mips"), "{out}");
        assert!(out.contains("program=probe 1 1250000 ns/op\n"), "{out}");
    }
}
