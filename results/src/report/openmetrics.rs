//! `openmetrics`: OpenMetrics text exposition (<https://prometheus.io/docs/specs/om/open_metrics_spec/>)
//! for a Prometheus Pushgateway: gauges in base units, every sample labelled with its cell's
//! axes, no timestamps (the Pushgateway refuses them; the push time is the night's), ending in
//! `# EOF`. It uses nothing the Prometheus text format 0.0.4 lacks (`# UNIT` and `# EOF` are
//! comments there), so the Pushgateway's text parser takes it as it is.
//!
//! | family | unit | from |
//! |---|---|---|
//! | `crossmatrix_startup_seconds` | seconds | a passing cell's startup median |
//! | `crossmatrix_binary_size_bytes` | bytes | a passing or built cell's binary |
//! | `crossmatrix_go_benchmark_time_per_op_seconds` | seconds | `ns/op` |
//! | `crossmatrix_go_benchmark_alloc_per_op_bytes` | bytes | `B/op` |
//! | `crossmatrix_go_benchmark_allocs_per_op` | – | `allocs/op` |
//! | `crossmatrix_go_benchmark_throughput_bytes_per_second` | bytes_per_second | `MB/s` (10⁶ bytes/s) |
//! | `crossmatrix_go_benchmark_value` | – | any other unit, named by the `unit` label |
//!
//! Labels: `toolchain`, `target`, `mode`, `rootfs`, `emulator` (only when the cell records
//! one), `program`; for Go benchmarks also `package`, `benchmark` (without the GOMAXPROCS
//! suffix) and `procs`.

use super::dashboard::{Quantity, Series, Subject, number, series};
use super::{Input, ReportError, Reporter};
use std::fmt::Write as _;

pub(super) struct OpenMetricsReporter;

/// One metric family: its name, OpenMetrics unit (empty for none), help, which quantity it
/// holds and how to get from crossmatrix's unit to its own (× `mul` ÷ `div`, so `41 ms` is
/// exactly `0.041`).
struct Family {
    name: &'static str,
    unit: &'static str,
    help: &'static str,
    holds: fn(&Quantity) -> bool,
    mul: f64,
    div: f64,
}

const FAMILIES: &[Family] = &[
    Family {
        name: "crossmatrix_startup_seconds",
        unit: "seconds",
        help: "Median wall time of the cell's program from start to exit (timed repetitions).",
        holds: |q| *q == Quantity::StartupMs,
        mul: 1.0,
        div: 1e3,
    },
    Family {
        name: "crossmatrix_binary_size_bytes",
        unit: "bytes",
        help: "Size of the cell's binary.",
        holds: |q| *q == Quantity::SizeBytes,
        mul: 1.0,
        div: 1.0,
    },
    Family {
        name: "crossmatrix_go_benchmark_time_per_op_seconds",
        unit: "seconds",
        help: "Go benchmark time per operation (ns/op), median over -count runs.",
        holds: |q| *q == Quantity::NsPerOp,
        mul: 1.0,
        div: 1e9,
    },
    Family {
        name: "crossmatrix_go_benchmark_alloc_per_op_bytes",
        unit: "bytes",
        help: "Go benchmark bytes allocated per operation (B/op), median over -count runs.",
        holds: |q| *q == Quantity::BytesPerOp,
        mul: 1.0,
        div: 1.0,
    },
    Family {
        name: "crossmatrix_go_benchmark_allocs_per_op",
        unit: "",
        help: "Go benchmark allocations per operation (allocs/op), median over -count runs.",
        holds: |q| *q == Quantity::AllocsPerOp,
        mul: 1.0,
        div: 1.0,
    },
    Family {
        name: "crossmatrix_go_benchmark_throughput_bytes_per_second",
        unit: "bytes_per_second",
        help: "Go benchmark throughput (MB/s from b.SetBytes), median over -count runs.",
        holds: |q| matches!(q, Quantity::Other(u) if u == "MB/s"),
        mul: 1e6,
        div: 1.0,
    },
    Family {
        name: "crossmatrix_startup_instructions",
        unit: "",
        help: "Guest instructions of one run of the cell's program, counted under qemu (median of the counted runs; the counter label names the qemu and CPU model).",
        holds: |q| *q == Quantity::Instructions,
        mul: 1.0,
        div: 1.0,
    },
    Family {
        name: "crossmatrix_go_benchmark_instructions_per_op",
        unit: "",
        help: "Go benchmark guest instructions per operation, counted under qemu (difference of two fixed -test.benchtime Nx runs; the counter label names the qemu and CPU model).",
        holds: |q| *q == Quantity::InstructionsPerOp,
        mul: 1.0,
        div: 1.0,
    },
    Family {
        name: "crossmatrix_go_benchmark_value",
        unit: "",
        help: "Go benchmark metric in the unit of the unit label (b.ReportMetric), median over -count runs.",
        holds: |q| matches!(q, Quantity::Other(u) if u != "MB/s"),
        mul: 1.0,
        div: 1.0,
    },
];

/// A label value with `\`, `"` and line feeds escaped.
fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// `{toolchain="go1.24",target="linux-arm64",…}` for a series.
fn labels(s: &Series) -> String {
    let mut pairs: Vec<(&str, String)> = s
        .axes
        .pairs()
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
    if let Subject::Bench {
        package,
        name,
        procs,
    } = &s.subject
    {
        pairs.push(("package", package.clone()));
        pairs.push(("benchmark", name.clone()));
        pairs.push(("procs", procs.to_string()));
    }
    match &s.quantity {
        Quantity::Other(u) if u != "MB/s" => pairs.push(("unit", u.clone())),
        q if q.is_exact() => pairs.extend(s.counter.clone().map(|c| ("counter", c))),
        _ => {}
    }
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

impl Reporter for OpenMetricsReporter {
    fn render(&self, input: &Input<'_>) -> Result<String, ReportError> {
        let all = series(input.records);
        let mut out = String::new();
        for f in FAMILIES {
            let members: Vec<&Series> = all.iter().filter(|s| (f.holds)(&s.quantity)).collect();
            if members.is_empty() {
                continue;
            }
            let _ = writeln!(out, "# TYPE {} gauge", f.name);
            if !f.unit.is_empty() {
                let _ = writeln!(out, "# UNIT {} {}", f.name, f.unit);
            }
            let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
            for s in members {
                let _ = writeln!(
                    out,
                    "{}{} {}",
                    f.name,
                    labels(s),
                    number(s.value * f.mul / f.div)
                );
            }
        }
        out.push_str("# EOF\n");
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::dashboard::tests::bench;
    use crate::fixtures::{RecordExt, cell, test_cell};
    use crate::schema::{CellStatus, EmulatorInfo};

    fn render(records: &[crate::CellRecord]) -> String {
        crate::render(
            crate::ReportFormat::OpenMetrics,
            records,
            None,
            &crate::RenderOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn families_are_grouped_labelled_and_end_in_eof() {
        let mut t = test_cell(
            "go1.24/linux-arm64/cgo0/rootfs-scratch/parse",
            &[("TestParse", crate::TestStatus::Pass, "")],
        );
        let mut custom = bench("BenchmarkWalk", 1, 5.0);
        custom.metrics.insert("pkts/op".into(), 3.0);
        t.tests.as_mut().unwrap().benchmarks = vec![
            bench("BenchmarkParse/small", 8, 990.0),
            bench("BenchmarkParse/small", 8, 1010.0),
            custom,
        ];
        let mut probe = cell(
            "go1.24/linux-riscv64/cgo0/rootfs-scratch/probe",
            CellStatus::Pass,
        )
        .size(1_572_864)
        .startup(&[40.0, 42.0, 41.0]);
        probe.emulator = Some(EmulatorInfo {
            name: "qemu-10.0.2".into(),
            dir: None,
            version: None,
        });
        probe.program = "we\"ird\\name".into();
        let out = render(&[probe, t]);
        assert!(out.ends_with("\n# EOF\n"), "{out}");
        assert!(!out.contains("\n\n"), "{out}");
        assert!(
            out.contains(
                "crossmatrix_startup_seconds{toolchain=\"go1.24\",target=\"linux-riscv64\",mode=\"cgo0\",rootfs=\"scratch\",emulator=\"qemu-10.0.2\",program=\"we\\\"ird\\\\name\"} 0.041\n"
            ),
            "{out}"
        );
        assert!(out.contains("crossmatrix_go_benchmark_time_per_op_seconds{toolchain=\"go1.24\",target=\"linux-arm64\",mode=\"cgo0\",rootfs=\"scratch\",program=\"parse\",package=\"example.com/m/parse\",benchmark=\"BenchmarkParse/small\",procs=\"8\"} 0.000001\n"), "{out}");
        assert!(out.contains("crossmatrix_go_benchmark_throughput_bytes_per_second{"));
        assert!(out.contains(",procs=\"1\",unit=\"pkts/op\"} 3\n"), "{out}");
        assert!(out.contains("crossmatrix_binary_size_bytes{") && out.contains("} 1572864\n"));
        // Each family once, its metadata before its samples, every sample unique.
        let mut seen_families = Vec::new();
        let mut samples = std::collections::HashSet::new();
        for line in out.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap();
                assert!(!seen_families.contains(&name), "{out}");
                seen_families.push(name);
            } else if !line.starts_with('#') {
                let (series, value) = line.rsplit_once(' ').unwrap();
                assert!(series.starts_with(seen_families.last().unwrap()), "{line}");
                assert!(value.parse::<f64>().is_ok_and(f64::is_finite), "{line}");
                assert!(samples.insert(series.to_string()), "{line}");
            }
        }
        assert_eq!(seen_families.len(), 7, "{out}");
    }

    #[test]
    fn nothing_to_export_is_just_eof() {
        let failed = cell(
            "go1.24/linux-mips/cgo0/rootfs-scratch/probe",
            CellStatus::Fail,
        );
        assert_eq!(render(&[failed]), "# EOF\n");
    }
}
