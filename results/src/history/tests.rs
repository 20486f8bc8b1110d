//! The detector on synthetic nights with seeded noise like this machine's (startup medians
//! move by a few percent from night to night, and whole batches drift by ±10–15%), and the
//! renderings.

use super::detect::SplitMix;
use super::*;
use crate::fixtures::{RecordExt, cell};
use crate::report::tests::{check_golden, fixture_meta};
use crate::schema::{BenchInstructions, CellStatus, CounterInfo};

const NIGHTS: usize = 20;

/// Time noise: multiplicative, sd 5%, and on about one night in seven the whole batch
/// drifted by 10–15% either way.
fn noisy(base: &[f64], seed: u64) -> Vec<f64> {
    let mut rng = SplitMix(seed);
    base.iter()
        .map(|&b| {
            // Box–Muller.
            let (u1, u2) = (rng.unit().max(1e-12), rng.unit());
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            let mut v = b * (1.0 + 0.05 * z);
            if rng.unit() < 0.15 {
                let size = 0.10 + 0.05 * rng.unit();
                v *= if rng.unit() < 0.5 {
                    1.0 + size
                } else {
                    1.0 - size
                };
            }
            v
        })
        .collect()
}

fn steps(levels: &[(usize, f64)]) -> Vec<f64> {
    (0..NIGHTS)
        .map(|i| {
            levels
                .iter()
                .rev()
                .find(|(from, _)| i >= *from)
                .map_or(levels[0].1, |l| l.1)
        })
        .collect()
}

/// A synthetic case: the values of its nights and where its changes truly are.
pub(crate) struct Case {
    pub name: &'static str,
    pub exact: bool,
    pub values: Vec<f64>,
    /// The nights where the level truly changes (a drift has none single one: empty).
    pub truth: Vec<usize>,
    /// What a detector should say, in words (for the side-by-side table).
    pub expect: &'static str,
    /// How `ci/tests/history-vs-otava.sh` holds crossmatrix and Otava's E-divisive to each
    /// other: `nights` (the same change points, ±1 night), `some` (both find at least one:
    /// a drift has no one right night), `report` (shown side by side, not held: exact counts,
    /// where the methods differ on purpose).
    pub compare: &'static str,
}

/// The synthetic cases, the same ones `ci/tests/history-vs-otava.sh` hands to Otava.
pub(crate) fn cases() -> Vec<Case> {
    let exact_step: Vec<f64> = (0..NIGHTS)
        .map(|i| if i < 12 { 7020.0 } else { 7023.0 })
        .collect();
    let mut outlier = noisy(&[40.0; NIGHTS], 3);
    outlier[9] *= 1.6;
    let drift: Vec<f64> = (0..NIGHTS)
        .map(|i| 40.0 * (1.0 + 0.015 * i as f64))
        .collect();
    let slight: Vec<f64> = (0..NIGHTS)
        .map(|i| 40.0 * (1.0 + 0.002 * i as f64))
        .collect();
    vec![
        Case {
            name: "exact-step",
            exact: true,
            values: exact_step,
            truth: vec![12],
            expect: "one change at 12 (+3 instructions/op)",
            compare: "report",
        },
        Case {
            name: "exact-newest",
            exact: true,
            values: (0..NIGHTS)
                .map(|i| if i < NIGHTS - 1 { 7020.0 } else { 7021.0 })
                .collect(),
            truth: vec![NIGHTS - 1],
            expect: "one change at 19, new (+1 instruction/op)",
            compare: "report",
        },
        Case {
            name: "exact-blip",
            exact: true,
            values: (0..NIGHTS)
                .map(|i| if i == 8 { 7090.0 } else { 7020.0 })
                .collect(),
            truth: vec![],
            expect: "none (one night off, then back)",
            compare: "report",
        },
        Case {
            name: "steady",
            exact: false,
            values: noisy(&[40.0; NIGHTS], 2),
            truth: vec![],
            expect: "none",
            compare: "nights",
        },
        Case {
            name: "step-25",
            exact: false,
            values: noisy(&steps(&[(0, 40.0), (12, 50.0)]), 4),
            truth: vec![12],
            expect: "one change at 12 (±1)",
            compare: "nights",
        },
        Case {
            name: "outlier",
            exact: false,
            values: outlier,
            truth: vec![],
            expect: "none",
            compare: "nights",
        },
        Case {
            name: "drift",
            exact: false,
            values: noisy(&drift, 5),
            truth: vec![],
            expect: "at least one regression (+30% over 20 nights)",
            compare: "some",
        },
        Case {
            name: "slight-drift",
            exact: false,
            values: noisy(&slight, 6),
            truth: vec![],
            expect: "none (+4% over 20 nights: below 5%)",
            compare: "nights",
        },
        Case {
            name: "two-steps",
            exact: false,
            values: noisy(&steps(&[(0, 40.0), (7, 50.0), (14, 40.0)]), 7),
            truth: vec![7, 14],
            expect: "changes at 7 and 14 (±1)",
            compare: "nights",
        },
    ]
}

/// A history of one series with `values`, analysed with the default options.
fn detect_one(values: &[f64], exact: bool) -> Vec<ChangePoint> {
    let mut h = History {
        nights: (0..values.len())
            .map(|i| Night {
                label: format!("night {i}"),
                commit: None,
            })
            .collect(),
        series: vec![HistorySeries {
            name: "s".into(),
            counter: None,
            unit: if exact { "instructions/op" } else { "ms" }.into(),
            exact,
            bigger_is_better: false,
            target: "linux-arm64".into(),
            toolchain: "go1.27".into(),
            subject: "s".into(),
            mode: "cgo0".into(),
            rootfs: "scratch".into(),
            emulator: None,
            program: "p".into(),
            package: None,
            values: values.iter().map(|&v| Some(v)).collect(),
            spread: vec![Some(0.0); values.len()],
            changes: vec![],
        }],
    };
    h.detect(&DetectOptions::default());
    h.series.remove(0).changes
}

fn nights_of(c: &[ChangePoint]) -> Vec<usize> {
    c.iter().map(|c| c.night).collect()
}

fn case(name: &str) -> Case {
    cases().into_iter().find(|c| c.name == name).unwrap()
}

#[test]
fn a_few_instructions_more_per_op_is_one_change_at_its_night() {
    let c = detect_one(&case("exact-step").values, true);
    assert_eq!(nights_of(&c), [12], "{c:?}");
    let c = &c[0];
    assert!(c.regression && !c.new);
    assert_eq!((c.before, c.after, c.change), (7020.0, 7023.0, 3.0));
    assert_eq!(c.confidence, 1.0);
    assert_eq!(c.method, Method::Step);
    assert_eq!(c.nights_after, 8);
    // One instruction fewer is a change too, for the better.
    let fewer: Vec<f64> = (0..NIGHTS)
        .map(|i| if i < 5 { 7020.0 } else { 7019.0 })
        .collect();
    let c = detect_one(&fewer, true);
    assert_eq!(nights_of(&c), [5]);
    assert!(!c[0].regression);
}

#[test]
fn an_exact_step_at_the_newest_night_is_new_and_a_blip_is_nothing() {
    let c = detect_one(&case("exact-newest").values, true);
    assert_eq!(nights_of(&c), [19]);
    assert!(c[0].new && c[0].regression);
    assert!(detect_one(&case("exact-blip").values, true).is_empty());
}

#[test]
fn exact_counts_within_their_own_jitter_are_one_level() {
    // Per-op counts off by hundredths (the difference of two counted runs over N); and with a
    // night whose samples spread by 3 instructions, a move of 2 is within the jitter.
    let mut v: Vec<f64> = (0..NIGHTS)
        .map(|i| 7020.0 + 0.01 * (i % 3) as f64)
        .collect();
    assert!(detect_one(&v, true).is_empty());
    for x in &mut v[15..] {
        *x += 2.0;
    }
    let mut h = History::collect(&[]);
    h.nights = (0..NIGHTS)
        .map(|i| Night {
            label: i.to_string(),
            commit: None,
        })
        .collect();
    let mut s = HistorySeries {
        exact: true,
        spread: vec![Some(0.0); NIGHTS],
        values: v.iter().map(|&x| Some(x)).collect(),
        ..history_series_of(&v)
    };
    s.spread[3] = Some(3.0);
    h.series.push(s);
    h.detect(&DetectOptions::default());
    assert!(h.series[0].changes.is_empty(), "{:?}", h.series[0].changes);
}

fn history_series_of(v: &[f64]) -> HistorySeries {
    HistorySeries {
        name: "s".into(),
        counter: None,
        unit: "instructions/op".into(),
        exact: true,
        bigger_is_better: false,
        target: String::new(),
        toolchain: String::new(),
        subject: String::new(),
        mode: String::new(),
        rootfs: String::new(),
        emulator: None,
        program: String::new(),
        package: None,
        values: v.iter().map(|&x| Some(x)).collect(),
        spread: vec![None; v.len()],
        changes: vec![],
    }
}

#[test]
fn a_count_that_wanders_goes_to_e_divisive() {
    // Counts of a program whose work depends on timing: no flat levels, a shift of 10%.
    let base: Vec<f64> = (0..NIGHTS)
        .map(|i| if i < 10 { 1e6 } else { 1.1e6 })
        .collect();
    let v: Vec<f64> = base
        .iter()
        .enumerate()
        .map(|(i, b)| b + 1000.0 * ((i * 7) % 5) as f64)
        .collect();
    let c = detect_one(&v, true);
    assert_eq!(nights_of(&c), [10], "{c:?}");
    assert_eq!(c[0].method, Method::EDivisive);
    assert!(c[0].confidence >= 0.95);
}

#[test]
fn steady_noisy_nights_have_no_change_point() {
    // Not one seed: a nightly has hundreds of series, so false alarms must be rare.
    let mut flagged = Vec::new();
    for seed in 100..160 {
        let c = detect_one(&noisy(&[40.0; NIGHTS], seed), false);
        if !c.is_empty() {
            flagged.push((seed, nights_of(&c)));
        }
    }
    assert!(detect_one(&case("steady").values, false).is_empty());
    assert!(flagged.len() <= 1, "false change points: {flagged:?}");
}

#[test]
fn a_25_percent_step_is_found_at_its_night() {
    let c = detect_one(&case("step-25").values, false);
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(c[0].night.abs_diff(12) <= 1, "{c:?}");
    assert!(c[0].regression && c[0].confidence >= 0.95);
    assert!((15.0..35.0).contains(&c[0].change_pct), "{c:?}");
    // And over other noise too: always one change; a night or two late at worst when the
    // first nights after the step drifted down (±10–15%).
    let mut off = Vec::new();
    for seed in 200..220 {
        let c = detect_one(&noisy(&steps(&[(0, 40.0), (12, 50.0)]), seed), false);
        assert_eq!(c.len(), 1, "seed {seed}: {c:?}");
        assert!(c[0].night.abs_diff(12) <= 2, "seed {seed}: {c:?}");
        if c[0].night.abs_diff(12) > 1 {
            off.push((seed, c[0].night));
        }
    }
    assert!(
        off.len() <= 2,
        "more than 2 of 20 placed 2 nights off: {off:?}"
    );
}

#[test]
fn one_slow_night_is_not_a_change_point() {
    assert!(detect_one(&case("outlier").values, false).is_empty());
    // Nor the newest night alone: it cannot be told from one slow night yet.
    let mut v = noisy(&[40.0; NIGHTS], 8);
    v[NIGHTS - 1] *= 1.5;
    assert!(detect_one(&v, false).is_empty());
}

#[test]
fn a_slow_drift_shows_only_once_it_is_large() {
    let c = detect_one(&case("drift").values, false);
    assert!(!c.is_empty(), "a 30% drift is a change");
    assert!(c.iter().all(|c| c.regression), "{c:?}");
    assert!(detect_one(&case("slight-drift").values, false).is_empty());
}

#[test]
fn two_steps_are_two_change_points() {
    let c = detect_one(&case("two-steps").values, false);
    assert_eq!(c.len(), 2, "{c:?}");
    assert!(
        c[0].night.abs_diff(7) <= 1 && c[1].night.abs_diff(14) <= 1,
        "{c:?}"
    );
    assert!(c[0].regression && !c[1].regression);
}

#[test]
fn the_same_history_gives_the_same_answer() {
    let v = case("two-steps").values;
    assert_eq!(detect_one(&v, false), detect_one(&v, false));
}

/// Nights of real records: a benchmark's instructions per op, a startup time and a size.
fn runs() -> Vec<(RunMeta, Vec<CellRecord>)> {
    let step = case("step-25").values;
    (0..NIGHTS)
        .map(|i| {
            let mut meta = fixture_meta();
            meta.started_at = format!("2026-11-{:02}T03:17:00Z", i + 1);
            meta.commit = Some(format!("c0ffee{i:02}{}", "0".repeat(32)));
            let probe = cell(
                "go1.27/linux-arm64/cgo0/rootfs-scratch/probe",
                CellStatus::Pass,
            )
            .size(if i < 19 { 1_500_000 } else { 1_500_512 })
            .startup(&[step[i]]);
            let mut bench = crate::fixtures::test_cell(
                "go1.27/linux-arm64/cgo0/rootfs-scratch/parse",
                &[("TestParse", crate::TestStatus::Pass, "")],
            );
            let per_op = if i < 12 { 7020.0 } else { 7023.0 };
            let mut b = crate::report::dashboard::tests::bench("BenchmarkParse", 1, 1000.0);
            b.bytes_per_op = None;
            b.allocs_per_op = None;
            b.metrics.clear();
            b.instructions = Some(BenchInstructions {
                per_op,
                samples_per_op: vec![per_op, per_op],
                n: [100, 1100],
                counter: CounterInfo {
                    qemu_version: "10.0.2".into(),
                    cpu: None,
                    arch: "aarch64".into(),
                },
            });
            bench.tests.as_mut().unwrap().benchmarks = vec![b];
            (meta, vec![probe, bench])
        })
        .collect()
}

#[test]
fn analyze_finds_the_changes_of_real_records() {
    let h = analyze(&runs(), &DetectOptions::default());
    assert_eq!(h.nights.len(), NIGHTS);
    let got: Vec<(&str, &str, usize, bool)> = h
        .changes()
        .iter()
        .map(|(s, c)| (s.subject.as_str(), s.unit.as_str(), c.night, c.new))
        .collect();
    assert_eq!(
        got,
        vec![
            ("size", "bytes", 19, true),
            ("startup", "ms", 12, false),
            ("BenchmarkParse", "instructions/op", 12, false),
        ]
    );
    let gates = |g: &[HistoryGate]| check_history_gates(&h, g);
    assert_eq!(gates(&[HistoryGate::NewChange]).len(), 1);
    assert_eq!(
        gates(&[HistoryGate::NewRegression]),
        [
            "size toolchain=go1.27 target=linux-arm64 mode=cgo0 rootfs=scratch program=probe [bytes]: 1500000 → 1500512 (+0.03%) at the newest night"
        ]
    );
    assert_eq!(
        h.nights[12].commit.as_deref(),
        Some("c0ffee1200000000000000000000000000000000")
    );
}

#[test]
fn the_renderings() {
    let h = analyze(&runs(), &DetectOptions::default());
    check_golden("history.txt", &render_history(&h, HistoryFormat::Table));
    check_golden("history.md", &render_history(&h, HistoryFormat::Md));
    let json = render_history(&h, HistoryFormat::Json);
    check_golden("history.json", &json);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["changes"][0]["new"], true);
    assert_eq!(v["changes"][2]["counter"], "qemu-10.0.2");
    let none = analyze(&runs()[..4], &DetectOptions::default());
    assert_eq!(
        render_history(&none, HistoryFormat::Table),
        "0 change points (0 new) in 4 series over 4 nights (2026-11-01T03:17:00Z … 2026-11-04T03:17:00Z)\n"
    );
}

/// The synthetic cases as `ci/tests/history-vs-otava.sh` reads them, kept equal to
/// [`cases`] (`UPDATE_GOLDEN=1` rewrites it).
#[test]
fn the_synthetic_cases_file_is_current() {
    let cases: Vec<serde_json::Value> = cases()
        .iter()
        .map(|c| {
            serde_json::json!({
                "name": c.name,
                "exact": c.exact,
                "truth": c.truth,
                "expect": c.expect,
                "compare": c.compare,
                "values": c.values,
            })
        })
        .collect();
    let text =
        serde_json::to_string_pretty(&serde_json::json!({ "nights": NIGHTS, "cases": cases }))
            .unwrap()
            + "\n";
    check_golden("history-synthetic.json", &text);
}
