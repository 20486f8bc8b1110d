//! Change points across nights: every dashboard series followed over a history of runs
//! (`history/<stamp>/` of the nightly), where its level changed, by how much, since which
//! night and commit, and how sure that is.
//!
//! Noisy series (times) go through E-divisive means with a permutation test and a minimum
//! magnitude; exact series (instruction counts, binary sizes) are read as flat levels, where a
//! step of one instruction per op is a change with confidence 1 (see [`detect`]).

mod detect;
mod nights;
mod render;
#[cfg(test)]
mod tests;

pub use render::{HistoryFormat, render_history};

use crate::schema::{CellRecord, RunMeta};
use serde::Serialize;

/// One night of the history: one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Night {
    /// The run's `started_at` (RFC 3339).
    pub label: String,
    /// The commit the run tested (`RunMeta::commit`), when recorded.
    pub commit: Option<String>,
}

/// One series (a dashboard series: cell axes × subject × quantity × counter) over the nights.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistorySeries {
    /// The name the dashboard formats key it by: `startup toolchain=go1.27 target=linux-arm64
    /// mode=cgo0 rootfs=scratch program=probe`.
    pub name: String,
    /// For a count: what counted it (`qemu-10.0.13 cpu=cortex-a57`); counts by another counter
    /// are another series.
    pub counter: Option<String>,
    /// `ms`, `bytes`, `ns/op`, `instructions/op`, ….
    pub unit: String,
    /// Read as exact levels (instruction counts and binary sizes): any step is a change.
    pub exact: bool,
    /// A rate (a unit ending in `/s`); every other quantity is smaller-is-better.
    pub bigger_is_better: bool,
    /// `linux-arm64`, `linux-arm-GOARM7`.
    pub target: String,
    /// The toolchain's name (`go1.27`).
    pub toolchain: String,
    /// `startup`, `size`, or a Go benchmark as `go test` prints it (`BenchmarkParse/small-8`).
    pub subject: String,
    /// `cgo0`, `cgo1-gnu`, `cgo1-musl`.
    pub mode: String,
    pub rootfs: String,
    /// The emulator axis' name, when the matrix has one.
    pub emulator: Option<String>,
    pub program: String,
    /// A Go benchmark's package.
    pub package: Option<String>,
    /// One per night: the night's value (a median), `None` where the night lacks the series.
    pub values: Vec<Option<f64>>,
    /// One per night: the range (max − min) of the samples behind the value; 0 for one sample.
    pub spread: Vec<Option<f64>>,
    /// Change points, oldest first.
    pub changes: Vec<ChangePoint>,
}

/// Where a series' level changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangePoint {
    /// Index into [`History::nights`] of the first night at the new level.
    pub night: usize,
    /// Mean over the segment before (from the previous change point, or the first night).
    pub before: f64,
    /// Mean over the segment after (up to the next change point, or the newest night).
    pub after: f64,
    /// `(after / before − 1) × 100` (Otava's forward change); 0 when `before` is 0.
    pub change_pct: f64,
    /// `1 − p` of the permutation test; 1 for a step of an exact series.
    pub confidence: f64,
    /// It starts at the newest night.
    pub new: bool,
    /// The change is for the worse (higher, or lower for a rate).
    pub regression: bool,
    /// `after − before`, in the series' unit.
    pub change: f64,
    pub median_before: f64,
    pub median_after: f64,
    /// How many nights of the series (with a value) the new level has lasted.
    pub nights_after: usize,
    pub method: Method,
}

/// How a change point was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// A level step of an exact series.
    Step,
    /// E-divisive means and its permutation test.
    EDivisive,
}

/// Every series over the nights, with its change points.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct History {
    /// Oldest first.
    pub nights: Vec<Night>,
    pub series: Vec<HistorySeries>,
}

/// How change points are told from noise.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectOptions {
    /// Permutations of the significance test (199: p can go down to 0.005).
    pub permutations: usize,
    /// A split is a change point when its permutation p-value is at most this.
    pub max_p: f64,
    /// Time series: the smallest change that counts, in percent (Otava's magnitude: the larger
    /// of the forward and backward relative change of the segment means). Below it a
    /// significant shift is read as the runner's drift.
    pub min_change_pct: f64,
    /// Time series: the fewest nights on each side of a change point. A change at the newest
    /// night cannot be told from one slow night until this many nights show it.
    pub min_segment: usize,
    /// Exact series: values within this much of their level (or of the largest spread of one
    /// night's samples, when that is larger) are the same level. Half an instruction: a change
    /// of one instruction per op is real.
    pub exact_tolerance: f64,
    /// The permutations' seed (mixed with each series' identity): the same history gives the
    /// same answer on every machine.
    pub seed: u64,
}

impl Default for DetectOptions {
    fn default() -> Self {
        DetectOptions {
            permutations: 199,
            max_p: 0.05,
            min_change_pct: 5.0,
            min_segment: 3,
            exact_tolerance: 0.5,
            seed: 0x6372_6f73_736d_6174, // "crossmat"
        }
    }
}

impl DetectOptions {
    /// The fewest nights a history needs: a change point in a time series has at least
    /// `min_segment` nights on each side.
    pub fn min_nights(&self) -> usize {
        2 * self.min_segment.max(1)
    }
}

/// The series of `runs` (oldest first) over the nights, with their change points.
pub fn analyze(runs: &[(RunMeta, Vec<CellRecord>)], opts: &DetectOptions) -> History {
    let mut h = History::collect(runs);
    h.detect(opts);
    h
}

impl History {
    /// The series of `runs` (oldest first) over the nights, without change points yet: keep
    /// the series you want, then [`History::detect`].
    pub fn collect(runs: &[(RunMeta, Vec<CellRecord>)]) -> History {
        let (nights, series) = nights::over_nights(runs);
        History { nights, series }
    }

    /// Finds every series' change points (replacing any found before).
    pub fn detect(&mut self, opts: &DetectOptions) {
        let n = self.nights.len();
        for s in &mut self.series {
            s.changes = change_points(s, n, opts);
        }
    }

    /// Every change point with its series: newest first, then the largest change first.
    pub fn changes(&self) -> Vec<(&HistorySeries, &ChangePoint)> {
        let mut v: Vec<(&HistorySeries, &ChangePoint)> = self
            .series
            .iter()
            .flat_map(|s| s.changes.iter().map(move |c| (s, c)))
            .collect();
        v.sort_by(|a, b| {
            b.1.night
                .cmp(&a.1.night)
                .then(b.1.change_pct.abs().total_cmp(&a.1.change_pct.abs()))
                .then(a.0.name.cmp(&b.0.name))
                .then(a.0.unit.cmp(&b.0.unit))
        });
        v
    }
}

fn change_points(s: &HistorySeries, nights: usize, opts: &DetectOptions) -> Vec<ChangePoint> {
    // Nights without the series are left out, not filled in (Otava forward-fills): a filled
    // night would be a value nobody measured.
    let present: Vec<(usize, f64)> = s
        .values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i, v)))
        .collect();
    let x: Vec<f64> = present.iter().map(|p| p.1).collect();
    if x.len() < 2 {
        return Vec::new();
    }
    let params = detect::Params {
        permutations: opts.permutations,
        max_p: opts.max_p,
        min_segment: opts.min_segment,
        min_magnitude: opts.min_change_pct / 100.0,
        seed: opts.seed ^ fnv1a(&[&s.name, &s.unit, s.counter.as_deref().unwrap_or("")]),
    };
    let (splits, method) = if s.exact {
        let jitter = s.spread.iter().flatten().copied().fold(0.0, f64::max);
        match detect::level_steps(&x, opts.exact_tolerance.max(jitter)) {
            Some(steps) => (steps, Method::Step),
            // A count that moves every night: only a significant shift is a change, of any
            // size (the count's own noise is what the permutation test weighs it against).
            None => (
                detect::e_divisive(
                    &x,
                    &detect::Params {
                        min_magnitude: 0.0,
                        ..params
                    },
                ),
                Method::EDivisive,
            ),
        }
    } else {
        (detect::e_divisive(&x, &params), Method::EDivisive)
    };
    let segs = detect::segments(&splits, x.len());
    splits
        .iter()
        .enumerate()
        .map(|(k, split)| {
            let before = &x[segs[k].0..segs[k].1];
            let after = &x[segs[k + 1].0..segs[k + 1].1];
            let (mb, ma) = (detect::mean(before), detect::mean(after));
            let night = present[split.at].0;
            ChangePoint {
                night,
                before: mb,
                after: ma,
                change_pct: if mb == 0.0 {
                    0.0
                } else {
                    (ma / mb - 1.0) * 100.0
                },
                confidence: 1.0 - split.p,
                new: night + 1 == nights,
                regression: if s.bigger_is_better { ma < mb } else { ma > mb },
                change: ma - mb,
                median_before: crate::stats::median(before).unwrap_or(mb),
                median_after: crate::stats::median(after).unwrap_or(ma),
                nights_after: after.len(),
                method,
            }
        })
        .collect()
}

/// FNV-1a over the parts (each followed by a 0 byte): a stable per-series seed.
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// What `history --fail-on` checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryGate {
    /// A change point starts at the newest night.
    NewChange,
    /// A change point for the worse starts at the newest night.
    NewRegression,
}

impl std::str::FromStr for HistoryGate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "new-change" => Ok(HistoryGate::NewChange),
            "new-regression" => Ok(HistoryGate::NewRegression),
            other => Err(format!(
                "unknown gate `{other}`: expected new-change or new-regression"
            )),
        }
    }
}

/// The change points that fail `gates`, one line each (empty: every gate passes).
pub fn check_history_gates(h: &History, gates: &[HistoryGate]) -> Vec<String> {
    let mut out = Vec::new();
    for (s, c) in h.changes() {
        let fails = gates.iter().any(|g| match g {
            HistoryGate::NewChange => c.new,
            HistoryGate::NewRegression => c.new && c.regression,
        });
        if fails {
            out.push(format!(
                "{} [{}{}]: {} → {} ({:+.2}%) at the newest night",
                s.name,
                s.unit,
                s.counter
                    .as_deref()
                    .map(|c| format!(", {c}"))
                    .unwrap_or_default(),
                render::number(c.before),
                render::number(c.after),
                c.change_pct
            ));
        }
    }
    out
}
