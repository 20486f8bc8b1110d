//! `bmf`: Bencher Metric Format JSON (<https://bencher.dev/docs/reference/bencher-metric-format>),
//! for `bencher run --adapter json --file bmf.json`. One object keyed by benchmark name, each
//! holding one metric per measure: `{"value": …, "lower_value": …, "upper_value": …}`.
//!
//! Benchmark names are [`Series::name`](super::dashboard::Series::name) (the subject, then the
//! cell's axes as `key=value`). Measures:
//!
//! - `latency` (Bencher's built-in, nanoseconds): a Go benchmark's `ns/op`, and a cell's startup
//!   median (milliseconds × 10⁶);
//! - `file-size` (built-in, bytes): the cell's binary;
//! - every other unit Go printed, as the measure's name: `B/op`, `allocs/op`, `MB/s`, and each
//!   `b.ReportMetric` unit (Bencher creates a measure it does not know).
//!
//! `lower_value` and `upper_value` are the smallest and largest sample when there is more than
//! one (startup repetitions, `-count N`).

use super::dashboard::{Quantity, series};
use super::{Input, ReportError, Reporter};
use serde_json::{Map, Value};

pub(super) struct BmfReporter;

/// Bencher's limits: a measure's name at most 64 characters, a benchmark's 1024.
pub(super) const MAX_MEASURE: usize = 64;
pub(super) const MAX_BENCHMARK: usize = 1024;

/// The measure a quantity goes to, and the factor from crossmatrix's unit to the measure's.
pub(super) fn measure(q: &Quantity) -> (&str, f64) {
    match q {
        Quantity::StartupMs => ("latency", 1e6),
        Quantity::NsPerOp => ("latency", 1.0),
        Quantity::SizeBytes => ("file-size", 1.0),
        // Bencher's own measure for counts (its iai/callgrind adapters write it).
        Quantity::Instructions | Quantity::InstructionsPerOp => ("instructions", 1.0),
        other => (other.unit(), 1.0),
    }
}

/// A JSON number (the series hold only finite values).
fn num(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

impl Reporter for BmfReporter {
    fn render(&self, input: &Input<'_>) -> Result<String, ReportError> {
        let mut root = Map::new();
        for s in series(input.records) {
            let (m, factor) = measure(&s.quantity);
            let name = s.name();
            if m.is_empty() || m.chars().count() > MAX_MEASURE {
                continue;
            }
            if name.chars().count() > MAX_BENCHMARK {
                continue;
            }
            let mut metric = Map::new();
            metric.insert("value".into(), num(s.value * factor));
            if s.samples > 1 {
                metric.insert("lower_value".into(), num(s.min * factor));
                metric.insert("upper_value".into(), num(s.max * factor));
            }
            root.entry(name)
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("an object")
                .insert(m.to_string(), Value::Object(metric));
        }
        let mut out = serde_json::to_string_pretty(&Value::Object(root))?;
        out.push('\n');
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::dashboard::tests::bench;
    use super::*;
    use crate::fixtures::{RecordExt, cell, test_cell};
    use crate::schema::CellStatus;

    pub(crate) fn sample_records() -> Vec<crate::CellRecord> {
        let mut t = test_cell(
            "go1.24/linux-arm64/cgo0/rootfs-scratch/parse",
            &[("TestParse", crate::TestStatus::Pass, "")],
        );
        t.tests.as_mut().unwrap().benchmarks = vec![
            bench("BenchmarkParse/small", 8, 990.0),
            bench("BenchmarkParse/small", 8, 1010.0),
        ];
        vec![
            cell(
                "go1.24/linux-amd64/cgo0/rootfs-scratch/probe",
                CellStatus::Pass,
            )
            .size(1_572_864)
            .startup(&[1.2, 1.25, 1.3]),
            t,
        ]
    }

    #[test]
    fn follows_bencher_metric_format() {
        let out = crate::render(
            crate::ReportFormat::Bmf,
            &sample_records(),
            None,
            &crate::RenderOptions::default(),
        )
        .unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        // Bencher's published schema: an object of benchmarks, each an object of measures,
        // each an object with a number `value` and optional number `lower_value`/`upper_value`.
        let root = v.as_object().expect("an object");
        assert!(!root.is_empty());
        for (bench, measures) in root {
            assert!(!bench.is_empty() && bench.chars().count() <= MAX_BENCHMARK);
            for (m, metric) in measures.as_object().expect("measures") {
                assert!(!m.is_empty() && m.chars().count() <= MAX_MEASURE);
                let metric = metric.as_object().expect("a metric");
                assert!(metric["value"].is_number(), "{out}");
                for (k, x) in metric {
                    assert!(
                        ["value", "lower_value", "upper_value"].contains(&k.as_str()),
                        "{k}"
                    );
                    assert!(x.is_number(), "{out}");
                }
                if let (Some(lo), Some(hi)) = (metric.get("lower_value"), metric.get("upper_value"))
                {
                    let value = metric["value"].as_f64().unwrap();
                    assert!(lo.as_f64().unwrap() <= value && value <= hi.as_f64().unwrap());
                }
            }
        }
        let startup = &v["startup toolchain=go1.24 target=linux-amd64 mode=cgo0 rootfs=scratch program=probe"];
        assert_eq!(startup["latency"]["value"], 1_250_000.0);
        assert_eq!(startup["latency"]["lower_value"], 1_200_000.0);
        let size =
            &v["size toolchain=go1.24 target=linux-amd64 mode=cgo0 rootfs=scratch program=probe"];
        assert_eq!(size["file-size"]["value"], 1_572_864.0);
        assert!(size["file-size"].get("lower_value").is_none());
        let b = &v["BenchmarkParse/small-8 toolchain=go1.24 target=linux-arm64 mode=cgo0 rootfs=scratch program=parse pkg=example.com/m/parse"];
        assert_eq!(b["latency"]["value"], 1000.0);
        assert_eq!(b["latency"]["upper_value"], 1010.0);
        assert_eq!(b["B/op"]["value"], 64.0);
        assert_eq!(b["allocs/op"]["value"], 2.0);
        assert_eq!(b["MB/s"]["value"], 3.5);
        // startup and size of the probe, one benchmark.
        assert_eq!(root.len(), 3, "{out}");
    }
}
