//! Series over nights: each dashboard series (cell axes × subject × quantity × counter, as
//! `report::dashboard` names them) followed through the runs, one value per night.

use super::{HistorySeries, Night};
use crate::report::dashboard::{Quantity, Subject, series};
use crate::schema::{CellRecord, RunMeta};
use std::collections::HashMap;

/// The nights of `runs` (in the order given) and every series seen in any of them, in the
/// order first seen, with `None` for a night without it. No change points yet.
pub(crate) fn over_nights(runs: &[(RunMeta, Vec<CellRecord>)]) -> (Vec<Night>, Vec<HistorySeries>) {
    let nights: Vec<Night> = runs
        .iter()
        .map(|(meta, _)| Night {
            label: meta.started_at.clone(),
            commit: meta.commit.clone(),
        })
        .collect();
    let mut out: Vec<HistorySeries> = Vec::new();
    let mut index: HashMap<(String, String, Option<String>), usize> = HashMap::new();
    for (night, (_, records)) in runs.iter().enumerate() {
        for s in series(records) {
            let name = s.name();
            let unit = s.quantity.unit().to_string();
            let key = (name.clone(), unit.clone(), s.counter.clone());
            let i = *index.entry(key).or_insert_with(|| {
                out.push(HistorySeries {
                    name,
                    counter: s.counter.clone(),
                    unit,
                    // Sizes are exact too: one build, one number, and a byte more is real.
                    exact: s.quantity.is_exact() || s.quantity == Quantity::SizeBytes,
                    bigger_is_better: s.quantity.bigger_is_better(),
                    target: s.axes.target.clone(),
                    toolchain: s.axes.toolchain.clone(),
                    subject: s.subject.label(),
                    mode: s.axes.mode.clone(),
                    rootfs: s.axes.rootfs.clone(),
                    emulator: s.axes.emulator.clone(),
                    program: s.axes.program.clone(),
                    package: match &s.subject {
                        Subject::Bench { package, .. } => Some(package.clone()),
                        _ => None,
                    },
                    values: vec![None; runs.len()],
                    spread: vec![None; runs.len()],
                    changes: Vec::new(),
                });
                out.len() - 1
            });
            out[i].values[night] = Some(s.value);
            out[i].spread[night] = Some(s.max - s.min);
        }
    }
    (nights, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{RecordExt, cell};
    use crate::report::tests::fixture_meta;
    use crate::schema::{CellStatus, CounterInfo, InstructionsRecord};

    fn counted(count: u64, qemu: &str) -> CellRecord {
        let mut r = cell(
            "go1.27/linux-arm64/cgo0/rootfs-scratch/probe",
            CellStatus::Pass,
        )
        .size(1000)
        .startup(&[10.0, 11.0, 12.0]);
        r.instructions = Some(InstructionsRecord {
            count,
            samples: vec![count, count + 2, count],
            excluded: vec![],
            counter: CounterInfo {
                qemu_version: qemu.into(),
                cpu: None,
                arch: "aarch64".into(),
            },
        });
        r
    }

    #[test]
    fn one_series_per_identity_with_gaps_and_counters_apart() {
        let mut a = fixture_meta();
        a.started_at = "2026-12-01T03:17:00Z".into();
        a.commit = Some("aaa".into());
        let mut b = fixture_meta();
        b.started_at = "2026-12-02T03:17:00Z".into();
        let runs = vec![
            (a, vec![counted(100, "7.2.22")]),
            (b, vec![counted(103, "10.0.2")]),
        ];
        let (nights, s) = over_nights(&runs);
        assert_eq!(nights[0].label, "2026-12-01T03:17:00Z");
        assert_eq!(nights[0].commit.as_deref(), Some("aaa"));
        assert_eq!(nights[1].commit, None);
        type Row<'a> = (&'a str, Option<&'a str>, &'a [Option<f64>]);
        let got: Vec<Row> = s
            .iter()
            .map(|s| (s.unit.as_str(), s.counter.as_deref(), s.values.as_slice()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("ms", None, &[Some(11.0), Some(11.0)][..]),
                (
                    "instructions",
                    Some("qemu-7.2.22"),
                    &[Some(100.0), None][..]
                ),
                ("bytes", None, &[Some(1000.0), Some(1000.0)][..]),
                (
                    "instructions",
                    Some("qemu-10.0.2"),
                    &[None, Some(103.0)][..]
                ),
            ]
        );
        assert!(s[1].exact && s[2].exact && !s[0].exact);
        assert_eq!(s[1].spread[0], Some(2.0));
        assert_eq!(
            (
                s[0].target.as_str(),
                s[0].toolchain.as_str(),
                s[0].subject.as_str()
            ),
            ("linux-arm64", "go1.27", "startup")
        );
    }
}
