//! `github-action-benchmark`: the JSON array benchmark-action/github-action-benchmark reads with
//! `tool: customSmallerIsBetter`: one object per series, `{"name", "unit", "value"}` and the
//! optional strings `range` and `extra` (the action's `BenchmarkResult`, checked there with zod:
//! `name`, `unit`, `range`, `extra` strings, `value` a number).
//!
//! `name` is [`Series::name`](super::dashboard::Series::name) followed by ` - <unit>` when the
//! quantity is not the subject's first (the action keys a series by name alone, and draws one
//! chart per name: `BenchmarkParse-8 toolchain=… - B/op`). Values stay in crossmatrix's units
//! (`ns/op`, `B/op`, `allocs/op`, custom units as Go printed them, startup in `ms`, size in
//! `bytes`). Rates (`MB/s`, any unit ending in `/s`) are bigger-is-better and left out: the
//! action reads one direction per file. `range` is `± MAD` when there is more than one sample;
//! `extra` says how many samples, the Go version and the executor that ran.

use super::dashboard::{Quantity, Subject, number, series};
use super::{Input, ReportError, Reporter};
use serde::Serialize;

pub(super) struct GithubBenchmarkReporter;

#[derive(Serialize)]
struct Entry {
    name: String,
    unit: String,
    value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    range: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extra: Option<String>,
}

/// Whether `q` is the one quantity of its subject whose entry carries the bare name.
fn is_primary(subject: &Subject, q: &Quantity) -> bool {
    matches!(
        (subject, q),
        (Subject::Startup, Quantity::StartupMs)
            | (Subject::Size, Quantity::SizeBytes)
            | (Subject::Bench { .. }, Quantity::NsPerOp)
    )
}

/// `v` rounded to `digits` significant digits (a range to read, not to compute with).
fn significant(v: f64, digits: i32) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10f64.powi(digits - 1 - v.abs().log10().floor() as i32);
    (v * scale).round() / scale
}

impl Reporter for GithubBenchmarkReporter {
    fn render(&self, input: &Input<'_>) -> Result<String, ReportError> {
        let entries: Vec<Entry> = series(input.records)
            .into_iter()
            .filter(|s| !s.quantity.bigger_is_better())
            .map(|s| {
                let mut name = s.name();
                if !is_primary(&s.subject, &s.quantity) {
                    name.push_str(" - ");
                    name.push_str(s.quantity.unit());
                }
                let mut extra = vec![format!(
                    "{} {}",
                    s.samples,
                    if s.samples == 1 { "sample" } else { "samples" }
                )];
                extra.extend(s.notes.iter().cloned());
                extra.extend(s.counter.iter().map(|c| format!("counted by {c}")));
                Entry {
                    name,
                    unit: s.quantity.unit().to_string(),
                    value: s.value,
                    range: (s.samples > 1).then(|| format!("± {}", number(significant(s.mad, 4)))),
                    extra: Some(extra.join("\n")),
                }
            })
            .collect();
        let mut out = serde_json::to_string_pretty(&entries)?;
        out.push('\n');
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::dashboard::tests::bench;
    use crate::fixtures::{RecordExt, cell, test_cell};
    use crate::schema::CellStatus;
    use serde_json::Value;

    #[test]
    fn follows_the_actions_benchmark_result_schema() {
        let mut t = test_cell(
            "go1.24/linux-arm64/cgo0/rootfs-scratch/parse",
            &[("TestParse", crate::TestStatus::Pass, "")],
        );
        t.tests.as_mut().unwrap().benchmarks = vec![
            bench("BenchmarkParse/small", 8, 990.0),
            bench("BenchmarkParse/small", 8, 1010.0),
        ];
        let records = vec![
            cell(
                "go1.24/linux-amd64/cgo0/rootfs-scratch/probe",
                CellStatus::Pass,
            )
            .size(1_572_864)
            .startup(&[1.2, 1.25, 1.3]),
            t,
        ];
        let out = crate::render(
            crate::ReportFormat::GithubBenchmark,
            &records,
            None,
            &crate::RenderOptions::default(),
        )
        .unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        let entries = v.as_array().expect("an array");
        let mut names = std::collections::BTreeSet::new();
        for e in entries {
            let e = e.as_object().expect("an object");
            for k in e.keys() {
                assert!(
                    ["name", "unit", "value", "range", "extra"].contains(&k.as_str()),
                    "{k}"
                );
            }
            assert!(e["name"].is_string() && e["unit"].is_string(), "{out}");
            assert!(e["value"].as_f64().is_some_and(f64::is_finite), "{out}");
            for k in ["range", "extra"] {
                assert!(e.get(k).is_none_or(Value::is_string), "{out}");
            }
            // The action pairs a result with the previous one by name: names are unique.
            assert!(
                names.insert(e["name"].as_str().unwrap().to_string()),
                "{out}"
            );
        }
        let by_name = |n: &str| {
            entries
                .iter()
                .find(|e| e["name"] == n)
                .unwrap_or_else(|| panic!("{n} in {out}"))
        };
        let s = by_name(
            "startup toolchain=go1.24 target=linux-amd64 mode=cgo0 rootfs=scratch program=probe",
        );
        assert_eq!(
            (s["value"].as_f64(), s["unit"].as_str()),
            (Some(1.25), Some("ms"))
        );
        assert_eq!(s["range"], "± 0.05");
        assert_eq!(s["extra"], "3 samples\ngo1.24.4");
        let b = "BenchmarkParse/small-8 toolchain=go1.24 target=linux-arm64 mode=cgo0 rootfs=scratch program=parse pkg=example.com/m/parse";
        assert_eq!(by_name(b)["unit"], "ns/op");
        assert_eq!(by_name(&format!("{b} - B/op"))["value"], 64.0);
        assert_eq!(by_name(&format!("{b} - allocs/op"))["unit"], "allocs/op");
        // MB/s is bigger-is-better: not in a customSmallerIsBetter file.
        assert!(!out.contains("MB/s"), "{out}");
        assert_eq!(entries.len(), 5, "{out}");
    }
}
