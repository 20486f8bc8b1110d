//! `compare`: two sets of cell records side by side, the way crater reports a toolchain
//! change: which cells regressed, which were fixed, which still fail, and how binary size
//! and startup moved. Startup differences are judged like benchstat does, with a two-sided
//! Mann-Whitney U test on the per-repetition samples; a difference that is not significant
//! prints as `~`. Also the CI gates (`--fail-on new-failure,size>+5%`) checked on the result.
//!
//! Two ways to pair cells: two result directories, matched by cell id (pass the records as
//! they are), or two toolchains inside one run, matched by the id without its toolchain
//! part ([`split_by_toolchain`]).

use crate::Cause;
use crate::report::{format_ms, human_size};
use crate::schema::{CellRecord, CellStatus, TestStatus};
use crate::stats::{geomean, mann_whitney_u, median};
use serde::{Serialize, Serializer};
use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// How to compare.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareOptions {
    /// What the base side is called in the output (`go1.22`, a directory name…).
    pub base_label: String,
    /// What the new side is called in the output.
    pub new_label: String,
    /// Significance level of the startup test (benchstat's default is 0.05).
    pub alpha: f64,
    /// Fewer startup samples than this on either side and the difference is reported as
    /// `~` without a test: with 3 + 3 samples no ordering can reach p < 0.05.
    pub min_samples: usize,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            base_label: "base".into(),
            new_label: "new".into(),
            alpha: 0.05,
            min_samples: 4,
        }
    }
}

/// What happened to a cell between base and new.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// Fails in new and did not fail in base (passed, was skipped or only built).
    Regressed,
    /// Failed in base, passes in new.
    Fixed,
    /// Fails on both sides, for a different cause.
    CauseChanged,
    /// Fails on both sides for the same cause.
    StillFailing,
    /// Any other change of status (pass → built on a host without the executor,
    /// fail → skipped…): coverage moved, nothing to fix.
    StatusChanged,
    /// Only in new.
    Added,
    /// Only in base.
    Removed,
    /// Same status (and cause) on both sides.
    Same,
}

impl Change {
    pub const ALL: &'static [Change] = &[
        Change::Regressed,
        Change::Fixed,
        Change::CauseChanged,
        Change::StillFailing,
        Change::StatusChanged,
        Change::Added,
        Change::Removed,
        Change::Same,
    ];

    /// The stable code: `regressed`, `fixed`, `cause-changed`, `still-failing`,
    /// `status-changed`, `added`, `removed`, `same`.
    pub fn code(self) -> &'static str {
        match self {
            Change::Regressed => "regressed",
            Change::Fixed => "fixed",
            Change::CauseChanged => "cause-changed",
            Change::StillFailing => "still-failing",
            Change::StatusChanged => "status-changed",
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Same => "same",
        }
    }

    fn heading(self) -> &'static str {
        match self {
            Change::Regressed => "Regressed",
            Change::Fixed => "Fixed",
            Change::CauseChanged => "Cause changed",
            Change::StillFailing => "Still failing",
            Change::StatusChanged => "Status changed",
            Change::Added => "Added",
            Change::Removed => "Removed",
            Change::Same => "Same",
        }
    }

    fn classify(base: &CellSide, new: &CellSide) -> Change {
        use CellStatus::{Fail, Pass};
        match (base.status, new.status) {
            (Fail, Fail) if base.cause == new.cause => Change::StillFailing,
            (Fail, Fail) => Change::CauseChanged,
            (_, Fail) => Change::Regressed,
            (Fail, Pass) => Change::Fixed,
            (b, n) if b == n => Change::Same,
            _ => Change::StatusChanged,
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One side of a compared cell: what the comparison needs of its record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CellSide {
    /// The record's own id (with its toolchain, when comparing toolchains).
    pub id: String,
    pub status: CellStatus,
    pub cause: Option<Cause>,
    pub hint: Option<String>,
    pub size_bytes: Option<u64>,
    /// Median of the startup samples (or the recorded median when there are none).
    pub startup_median_ms: Option<f64>,
    /// The startup samples the test used.
    #[serde(skip)]
    samples_ms: Vec<f64>,
    /// What passed only on a retry (`--retries`): its tests, or the whole run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flaky: Vec<String>,
    /// Counted instructions (`--metric instructions|both`): the program's run (`run`) and each
    /// benchmark's per op, with what counted them.
    #[serde(skip)]
    counts: Vec<Counted>,
}

/// One count of a side: what it is of, the figure, its counter.
#[derive(Debug, Clone, PartialEq)]
struct Counted {
    subject: String,
    value: f64,
    counter: String,
}

impl CellSide {
    fn of(rec: &CellRecord, original_id: Option<&str>) -> CellSide {
        let samples_ms: Vec<f64> = match &rec.startup {
            Some(s) if !s.samples_ms.is_empty() => s.samples_ms.clone(),
            Some(s) if s.median_ms.is_finite() => vec![s.median_ms],
            _ => Vec::new(),
        };
        CellSide {
            id: original_id.unwrap_or(&rec.id).to_string(),
            status: rec.status,
            cause: rec.cause,
            hint: rec.hint.clone(),
            size_bytes: rec.binary.as_ref().map(|b| b.size_bytes),
            startup_median_ms: median(&samples_ms),
            samples_ms,
            flaky: rec.flaky_entries().into_iter().map(|(n, _, _)| n).collect(),
            counts: counts_of(rec),
        }
    }

    /// `pass`, or `fail (missing-interpreter)`.
    fn status_label(&self) -> String {
        match (self.status, self.cause) {
            (CellStatus::Pass, _) | (_, None) => self.status.as_str().to_string(),
            (s, Some(c)) => format!("{} ({})", s.as_str(), c.code()),
        }
    }
}

/// The counts of a record: its program's run, then each benchmark's per op (a benchmark seen
/// twice, with `-count`, once).
fn counts_of(rec: &CellRecord) -> Vec<Counted> {
    use crate::report::counter_label;
    let mut out: Vec<Counted> = rec
        .instructions
        .iter()
        .map(|i| Counted {
            subject: "run".into(),
            value: i.count as f64,
            counter: counter_label(&i.counter),
        })
        .collect();
    for b in rec.tests.iter().flat_map(|t| &t.benchmarks) {
        let Some(i) = &b.instructions else { continue };
        if out.iter().any(|c| c.subject == b.name) {
            continue;
        }
        out.push(Counted {
            subject: b.name.clone(),
            value: i.per_op,
            counter: counter_label(&i.counter),
        });
    }
    out
}

/// How a count moved: exact figures, so any change is a change — unless the two were counted
/// by different counters (another qemu, another CPU model), which are not compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstructionsDelta {
    /// `run` (the program's instructions) or the benchmark's name (instructions per op).
    pub subject: String,
    pub base: f64,
    pub new: f64,
    pub delta_pct: f64,
    /// What counted each side: `qemu-10.0.13 cpu=cortex-a57`.
    pub base_counter: String,
    pub new_counter: String,
}

impl InstructionsDelta {
    /// Both sides counted by the same qemu on the same CPU model.
    pub fn comparable(&self) -> bool {
        self.base_counter == self.new_counter
    }
    pub fn changed(&self) -> bool {
        self.comparable() && self.base != self.new
    }
}

fn instruction_deltas(base: &CellSide, new: &CellSide) -> Vec<InstructionsDelta> {
    base.counts
        .iter()
        .filter_map(|b| {
            let n = new.counts.iter().find(|n| n.subject == b.subject)?;
            Some(InstructionsDelta {
                subject: b.subject.clone(),
                base: b.value,
                new: n.value,
                delta_pct: if b.value > 0.0 {
                    (n.value - b.value) / b.value * 100.0
                } else {
                    0.0
                },
                base_counter: b.counter.clone(),
                new_counter: n.counter.clone(),
            })
        })
        .collect()
}

/// How the binary's size moved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SizeDelta {
    pub base_bytes: u64,
    pub new_bytes: u64,
    pub delta_bytes: i64,
    /// `(new - base) / base · 100`; 0 when base is 0.
    pub delta_pct: f64,
}

/// How startup moved, with the significance of the move.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StartupDelta {
    pub base_median_ms: f64,
    pub new_median_ms: f64,
    /// Change of the median, in percent of base.
    pub delta_pct: f64,
    pub base_n: usize,
    pub new_n: usize,
    /// The Mann-Whitney U test's two-sided p-value; `None` with too few samples.
    pub p_value: Option<f64>,
    /// `p_value < alpha`: only then is `delta_pct` shown (otherwise `~`).
    pub significant: bool,
}

impl StartupDelta {
    /// benchstat's verdict: `+5.67% (p=0.008 n=10+10)`, `~ (p=0.421 n=10+10)`, or
    /// `~ (n=1+1, too few samples)`.
    pub fn verdict(&self) -> String {
        let n = format!("n={}+{}", self.base_n, self.new_n);
        match self.p_value {
            None => format!("~ ({n}, too few samples)"),
            Some(p) if self.significant => format!("{} (p={p:.3} {n})", pct(self.delta_pct)),
            Some(p) => format!("~ (p={p:.3} {n})"),
        }
    }
}

/// One compared cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CellComparison {
    /// The id both sides share (the cell id, or the id without its toolchain).
    pub key: String,
    pub change: Change,
    pub base: Option<CellSide>,
    pub new: Option<CellSide>,
    pub size: Option<SizeDelta>,
    pub startup: Option<StartupDelta>,
    /// Counts on both sides (`--metric instructions|both`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instructions: Vec<InstructionsDelta>,
}

/// The headline numbers.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub cells: usize,
    pub regressed: usize,
    pub fixed: usize,
    pub cause_changed: usize,
    pub still_failing: usize,
    pub status_changed: usize,
    pub added: usize,
    pub removed: usize,
    pub same: usize,
    /// Cells with a binary on both sides.
    pub size_cells: usize,
    /// Geometric mean of the size ratios, as a percent change.
    pub size_geomean_pct: Option<f64>,
    /// Cells with startup timings on both sides.
    pub startup_compared: usize,
    /// Of those, the ones whose difference is significant.
    pub startup_significant: usize,
    /// Geometric mean of the median ratios of the significant cells, as a percent change.
    pub startup_geomean_pct: Option<f64>,
    /// Counts (a program's, a benchmark's per op) on both sides by the same counter.
    #[serde(default)]
    pub instructions_compared: usize,
    /// Of those, the ones that changed (by any amount: counts are exact).
    #[serde(default)]
    pub instructions_changed: usize,
    /// Counts on both sides by different counters (another qemu or CPU model): not compared.
    #[serde(default)]
    pub instructions_incomparable: usize,
    /// Go tests found on both sides (test cells).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tests_compared: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tests_broke: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tests_fixed: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tests_newly_skipped: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tests_still_failing: usize,
    /// Tests (or whole runs) that passed only on a retry in new and not in base.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub newly_flaky: usize,
    /// Flaky in base, steady in new.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub no_longer_flaky: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// How one Go test changed between the sides (the crater view of `crossmatrix test`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TestChange {
    /// Passed, was skipped or did not exist in base; fails in new.
    Broke,
    /// Failed in base, passes in new.
    Fixed,
    /// Ran in base, is skipped in new.
    NewlySkipped,
    /// Fails on both sides.
    StillFailing,
    /// Passed only on a retry (`--retries`) in new, steadily in base (or did not exist).
    NewlyFlaky,
    /// Passed only on a retry in base, steadily (or not at all) in new.
    NoLongerFlaky,
}

impl TestChange {
    pub const ALL: &'static [TestChange] = &[
        TestChange::Broke,
        TestChange::Fixed,
        TestChange::NewlySkipped,
        TestChange::StillFailing,
        TestChange::NewlyFlaky,
        TestChange::NoLongerFlaky,
    ];

    pub(crate) fn heading(self) -> &'static str {
        match self {
            TestChange::Broke => "Tests broke",
            TestChange::Fixed => "Tests fixed",
            TestChange::NewlySkipped => "Tests newly skipped",
            TestChange::StillFailing => "Tests failing on both sides",
            TestChange::NewlyFlaky => "Newly flaky",
            TestChange::NoLongerFlaky => "No longer flaky",
        }
    }

    fn classify(base: Option<TestStatus>, new: TestStatus) -> Option<TestChange> {
        use TestStatus::*;
        match (base, new) {
            (Some(Fail), Fail) => Some(TestChange::StillFailing),
            (_, Fail) => Some(TestChange::Broke),
            (Some(Fail), Pass) => Some(TestChange::Fixed),
            (Some(Pass | Fail), Skip) => Some(TestChange::NewlySkipped),
            _ => None,
        }
    }
}

/// One Go test that changed: which cell (its compared key), package and test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestComparison {
    pub cell: String,
    pub package: String,
    pub test: String,
    pub change: TestChange,
    pub base: Option<TestStatus>,
    pub new: TestStatus,
    /// The new side's output of a failing or skipped test (its first lines say why).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
}

impl Summary {
    pub fn count(&self, change: Change) -> usize {
        match change {
            Change::Regressed => self.regressed,
            Change::Fixed => self.fixed,
            Change::CauseChanged => self.cause_changed,
            Change::StillFailing => self.still_failing,
            Change::StatusChanged => self.status_changed,
            Change::Added => self.added,
            Change::Removed => self.removed,
            Change::Same => self.same,
        }
    }

    fn count_mut(&mut self, change: Change) -> &mut usize {
        match change {
            Change::Regressed => &mut self.regressed,
            Change::Fixed => &mut self.fixed,
            Change::CauseChanged => &mut self.cause_changed,
            Change::StillFailing => &mut self.still_failing,
            Change::StatusChanged => &mut self.status_changed,
            Change::Added => &mut self.added,
            Change::Removed => &mut self.removed,
            Change::Same => &mut self.same,
        }
    }
}

/// The whole comparison: every cell of either side, base order first, then cells only in new.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub base_label: String,
    pub new_label: String,
    pub alpha: f64,
    pub summary: Summary,
    pub cells: Vec<CellComparison>,
    /// Go tests that changed, for cells that ran tests on both sides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<TestComparison>,
}

impl Comparison {
    /// The tests with this change, in comparison order.
    pub fn tests_with(&self, change: TestChange) -> impl Iterator<Item = &TestComparison> {
        self.tests.iter().filter(move |t| t.change == change)
    }

    /// The cells with this change, in comparison order.
    pub fn with_change(&self, change: Change) -> impl Iterator<Item = &CellComparison> {
        self.cells.iter().filter(move |c| c.change == change)
    }
}

/// Compares `new` against `base`, pairing records by `id`. When a side holds several records
/// of one id (a resumed run that re-ran a cell), the last one counts.
pub fn compare(base: &[CellRecord], new: &[CellRecord], opts: &CompareOptions) -> Comparison {
    compare_keyed(&latest_by_id(base), &latest_by_id(new), opts)
}

/// `(key, record)` in first-seen order, the last record of each key winning.
fn latest_by_id(records: &[CellRecord]) -> Vec<(String, &CellRecord)> {
    let mut out: Vec<(String, &CellRecord)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for r in records {
        match index.get(r.id.as_str()) {
            Some(&i) => out[i].1 = r,
            None => {
                index.insert(&r.id, out.len());
                out.push((r.id.clone(), r));
            }
        }
    }
    out
}

fn compare_keyed(
    base: &[(String, &CellRecord)],
    new: &[(String, &CellRecord)],
    opts: &CompareOptions,
) -> Comparison {
    let new_index: HashMap<&str, usize> = new
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (k.as_str(), i))
        .collect();
    let base_keys: std::collections::HashSet<&str> = base.iter().map(|(k, _)| k.as_str()).collect();
    let side = |key: &str, rec: &CellRecord| {
        // When keys were rewritten (toolchain comparison), keep the record's own id.
        let original = (key != rec.id).then_some(rec.id.as_str());
        CellSide::of(rec, original)
    };

    let mut cells = Vec::with_capacity(base.len().max(new.len()));
    let mut tests = Vec::new();
    for (key, b_rec) in base {
        if let Some(&i) = new_index.get(key.as_str()) {
            compare_tests(key, b_rec, new[i].1, &mut tests);
            compare_flaky(key, b_rec, new[i].1, &mut tests);
        }
        let b = side(key, b_rec);
        let cmp = match new_index.get(key.as_str()) {
            Some(&i) => compare_pair(key, b, side(key, new[i].1), opts),
            None => CellComparison {
                key: key.clone(),
                change: Change::Removed,
                base: Some(b),
                new: None,
                size: None,
                startup: None,
                instructions: Vec::new(),
            },
        };
        cells.push(cmp);
    }
    for (key, n) in new {
        if !base_keys.contains(key.as_str()) {
            cells.push(CellComparison {
                key: key.clone(),
                change: Change::Added,
                base: None,
                new: Some(side(key, n)),
                size: None,
                startup: None,
                instructions: Vec::new(),
            });
        }
    }

    let mut summary = Summary {
        cells: cells.len(),
        ..Summary::default()
    };
    for c in &cells {
        *summary.count_mut(c.change) += 1;
    }
    let size_ratios: Vec<f64> = cells
        .iter()
        .filter_map(|c| c.size.as_ref())
        .filter(|s| s.base_bytes > 0)
        .map(|s| s.new_bytes as f64 / s.base_bytes as f64)
        .collect();
    summary.size_cells = size_ratios.len();
    summary.size_geomean_pct = geomean(size_ratios).map(|g| (g - 1.0) * 100.0);
    let startups: Vec<&StartupDelta> = cells.iter().filter_map(|c| c.startup.as_ref()).collect();
    summary.startup_compared = startups.len();
    let significant: Vec<f64> = startups
        .iter()
        .filter(|s| s.significant && s.base_median_ms > 0.0)
        .map(|s| s.new_median_ms / s.base_median_ms)
        .collect();
    summary.startup_significant = significant.len();
    summary.startup_geomean_pct = geomean(significant).map(|g| (g - 1.0) * 100.0);
    let counts: Vec<&InstructionsDelta> = cells.iter().flat_map(|c| &c.instructions).collect();
    summary.instructions_compared = counts.iter().filter(|d| d.comparable()).count();
    summary.instructions_changed = counts.iter().filter(|d| d.changed()).count();
    summary.instructions_incomparable = counts.iter().filter(|d| !d.comparable()).count();
    summary.tests_compared = base
        .iter()
        .filter_map(|(k, b)| {
            let n = new_index.get(k.as_str()).map(|&i| new[i].1)?;
            let (bt, nt) = (b.tests.as_ref()?, n.tests.as_ref()?);
            Some(
                nt.cases
                    .iter()
                    .filter(|c| bt.cases.iter().any(|x| x.name == c.name))
                    .count(),
            )
        })
        .sum();
    for t in &tests {
        match t.change {
            TestChange::Broke => summary.tests_broke += 1,
            TestChange::Fixed => summary.tests_fixed += 1,
            TestChange::NewlySkipped => summary.tests_newly_skipped += 1,
            TestChange::StillFailing => summary.tests_still_failing += 1,
            TestChange::NewlyFlaky => summary.newly_flaky += 1,
            TestChange::NoLongerFlaky => summary.no_longer_flaky += 1,
        }
    }

    Comparison {
        base_label: opts.base_label.clone(),
        new_label: opts.new_label.clone(),
        alpha: opts.alpha,
        summary,
        cells,
        tests,
    }
}

/// What became flaky, or stopped being flaky, between a pair of cells: their tests and whole
/// runs that passed only on a retry (`--retries`), matched by name.
fn compare_flaky(key: &str, base: &CellRecord, new: &CellRecord, out: &mut Vec<TestComparison>) {
    let (was, now) = (base.flaky_entries(), new.flaky_entries());
    let package = new
        .tests
        .as_ref()
        .or(base.tests.as_ref())
        .map(|t| t.package.clone())
        .unwrap_or_default();
    let status_of = |rec: &CellRecord, name: &str| {
        rec.tests
            .iter()
            .flat_map(|t| &t.cases)
            .find(|c| c.name == name)
            .map(|c| c.status)
            .unwrap_or(if rec.status == CellStatus::Pass {
                TestStatus::Pass
            } else {
                TestStatus::Fail
            })
    };
    for (name, _, why) in &now {
        if !was.iter().any(|(n, _, _)| n == name) {
            out.push(TestComparison {
                cell: key.to_string(),
                package: package.clone(),
                test: name.clone(),
                change: TestChange::NewlyFlaky,
                base: Some(status_of(base, name)),
                new: TestStatus::Pass,
                output: why.clone(),
            });
        }
    }
    for (name, _, why) in &was {
        if !now.iter().any(|(n, _, _)| n == name) {
            out.push(TestComparison {
                cell: key.to_string(),
                package: package.clone(),
                test: name.clone(),
                change: TestChange::NoLongerFlaky,
                base: Some(TestStatus::Pass),
                new: status_of(new, name),
                output: why.clone(),
            });
        }
    }
}

/// The Go tests of one pair of test cells that changed, matched by name.
fn compare_tests(key: &str, base: &CellRecord, new: &CellRecord, out: &mut Vec<TestComparison>) {
    let (Some(bt), Some(nt)) = (&base.tests, &new.tests) else {
        return;
    };
    let before: HashMap<&str, TestStatus> = bt
        .cases
        .iter()
        .map(|c| (c.name.as_str(), c.status))
        .collect();
    for c in &nt.cases {
        let was = before.get(c.name.as_str()).copied();
        if let Some(change) = TestChange::classify(was, c.status) {
            out.push(TestComparison {
                cell: key.to_string(),
                package: nt.package.clone(),
                test: c.name.clone(),
                change,
                base: was,
                new: c.status,
                output: c.output.clone(),
            });
        }
    }
}

fn compare_pair(key: &str, base: CellSide, new: CellSide, opts: &CompareOptions) -> CellComparison {
    let size = match (base.size_bytes, new.size_bytes) {
        (Some(b), Some(n)) => Some(SizeDelta {
            base_bytes: b,
            new_bytes: n,
            delta_bytes: n as i64 - b as i64,
            delta_pct: if b == 0 {
                0.0
            } else {
                (n as f64 - b as f64) / b as f64 * 100.0
            },
        }),
        _ => None,
    };
    let startup = match (base.startup_median_ms, new.startup_median_ms) {
        (Some(bm), Some(nm)) => {
            let (bn, nn) = (base.samples_ms.len(), new.samples_ms.len());
            let p_value = if bn >= opts.min_samples && nn >= opts.min_samples {
                mann_whitney_u(&base.samples_ms, &new.samples_ms).map(|t| t.p_value)
            } else {
                None
            };
            Some(StartupDelta {
                base_median_ms: bm,
                new_median_ms: nm,
                delta_pct: if bm > 0.0 {
                    (nm - bm) / bm * 100.0
                } else {
                    0.0
                },
                base_n: bn,
                new_n: nn,
                p_value,
                significant: p_value.is_some_and(|p| p < opts.alpha),
            })
        }
        _ => None,
    };
    let instructions = instruction_deltas(&base, &new);
    CellComparison {
        key: key.to_string(),
        change: Change::classify(&base, &new),
        base: Some(base),
        new: Some(new),
        size,
        startup,
        instructions,
    }
}

/// Splits one run's records into the cells of toolchain `a` and those of toolchain `b`,
/// rewriting each id to its key without the toolchain (`linux-arm64/cgo0/rootfs-scratch/probe`)
/// so that [`compare`] pairs `go1.22/X` with `go1.24/X`. A record belongs to a toolchain
/// when its id's first component, its toolchain name or its toolchain version equals the
/// name given. Either side may come back empty: check, and name the toolchains found
/// ([`toolchain_names`]) in the error.
pub fn split_by_toolchain(
    records: &[CellRecord],
    a: &str,
    b: &str,
) -> (Vec<CellRecord>, Vec<CellRecord>) {
    let belongs = |r: &CellRecord, tc: &str| {
        r.id.split('/').next() == Some(tc) || r.toolchain.name == tc || r.toolchain.version == tc
    };
    let keyed = |tc: &str| -> Vec<CellRecord> {
        records
            .iter()
            .filter(|r| belongs(r, tc))
            .map(|r| {
                let mut r = r.clone();
                r.id = toolchain_free_key(&r.id);
                r
            })
            .collect()
    };
    (keyed(a), keyed(b))
}

/// Compares toolchain `a` (base) with toolchain `b` (new) inside one run. The cells' own
/// ids stay in [`CellSide::id`]; keys are the ids without the toolchain part.
pub fn compare_toolchains(
    records: &[CellRecord],
    a: &str,
    b: &str,
    opts: &CompareOptions,
) -> Comparison {
    let belongs = |r: &CellRecord, tc: &str| {
        r.id.split('/').next() == Some(tc) || r.toolchain.name == tc || r.toolchain.version == tc
    };
    compare_keyed(
        &keyed_by(records, |r| belongs(r, a), toolchain_free_key),
        &keyed_by(records, |r| belongs(r, b), toolchain_free_key),
        opts,
    )
}

/// The records `belongs` picks, each under `key(id)` in first-seen order, the last record of a
/// key winning (a resumed run's re-run cell).
fn keyed_by(
    records: &[CellRecord],
    belongs: impl Fn(&CellRecord) -> bool,
    key: fn(&str) -> String,
) -> Vec<(String, &CellRecord)> {
    let mut v: Vec<(String, &CellRecord)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for r in records.iter().filter(|r| belongs(r)) {
        let k = key(&r.id);
        match index.get(&k) {
            Some(&i) => v[i].1 = r,
            None => {
                index.insert(k.clone(), v.len());
                v.push((k, r));
            }
        }
    }
    v
}

/// Compares emulator `a` (base) with emulator `b` (new) inside one run (a matrix of two or
/// more emulators): keys are the ids without their `emu-NAME` part, so the same cell under
/// qemu 7.2 and qemu 10 pair. A record belongs to an emulator by its recorded name.
pub fn compare_emulators(
    records: &[CellRecord],
    a: &str,
    b: &str,
    opts: &CompareOptions,
) -> Comparison {
    let belongs = |r: &CellRecord, emu: &str| r.emulator.as_ref().is_some_and(|e| e.name == emu);
    compare_keyed(
        &keyed_by(records, |r| belongs(r, a), emulator_free_key),
        &keyed_by(records, |r| belongs(r, b), emulator_free_key),
        opts,
    )
}

/// The emulator names present in `records`, in first-seen order.
pub fn emulator_names(records: &[CellRecord]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in records.iter().filter_map(|r| r.emulator.as_ref()) {
        if !out.contains(&e.name) {
            out.push(e.name.clone());
        }
    }
    out
}

/// The id without its `emu-NAME` component.
fn emulator_free_key(id: &str) -> String {
    id.split('/')
        .filter(|part| !part.starts_with("emu-"))
        .collect::<Vec<_>>()
        .join("/")
}

/// The toolchain names present in `records` (the ids' first components), in first-seen order.
pub fn toolchain_names(records: &[CellRecord]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in records {
        let tc = r.id.split('/').next().unwrap_or_default();
        if !out.iter().any(|t| t == tc) {
            out.push(tc.to_string());
        }
    }
    out
}

/// The id without its first (toolchain) component.
fn toolchain_free_key(id: &str) -> String {
    match id.split_once('/') {
        Some((_, rest)) => rest.to_string(),
        None => id.to_string(),
    }
}

// ---------------------------------------------------------------------------------------
// Gates

/// A CI gate on a comparison: `new-failure`, `size>+5%`, `startup>+10%`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Gate {
    /// Any cell that fails in new and did not fail in base, including new cells that fail.
    NewFailure,
    /// Any cell whose binary grew by more than this many percent.
    SizeIncrease(f64),
    /// Any cell whose startup median grew by more than this many percent, significantly.
    StartupIncrease(f64),
    /// Any cell of the new side with a flaky test (failed, then passed on a retry).
    Flaky,
    /// Any count (a program's instructions, a benchmark's per op) that grew by more than this
    /// many percent (`instructions>+0%`: any growth), counted by the same counter.
    InstructionsIncrease(f64),
}

/// Why a gate did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid gate `{input}`: {reason}; gates are `new-failure`, `flaky`, `size>+P%`, `startup>+P%` and `instructions>+P%` (e.g. `size>+5%`)"
)]
pub struct GateParseError {
    pub input: String,
    pub reason: String,
}

impl FromStr for Gate {
    type Err = GateParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| GateParseError {
            input: s.to_string(),
            reason,
        };
        let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        let lower = compact.to_ascii_lowercase();
        if lower == "new-failure" || lower == "new-failures" {
            return Ok(Gate::NewFailure);
        }
        if lower == "flaky" {
            return Ok(Gate::Flaky);
        }
        let Some((name, limit)) = lower.split_once('>') else {
            return Err(err(match lower.as_str() {
                "size" | "startup" | "instructions" => {
                    format!("`{lower}` needs a limit, as in `{lower}>+5%`")
                }
                _ => format!("unknown gate `{compact}`"),
            }));
        };
        let make: fn(f64) -> Gate = match name {
            "size" => Gate::SizeIncrease,
            "startup" => Gate::StartupIncrease,
            "instructions" => Gate::InstructionsIncrease,
            _ => {
                return Err(err(format!(
                    "unknown measure `{name}` (size, startup or instructions)"
                )));
            }
        };
        let Some(number) = limit.strip_suffix('%') else {
            return Err(err(format!(
                "the limit `{limit}` must be a percentage, as in `{name}>+{}%`",
                limit.trim_start_matches('+')
            )));
        };
        let value: f64 = number
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| err(format!("`{number}` is not a number")))?;
        if value < 0.0 {
            return Err(err(format!(
                "the limit `{limit}` is negative: a gate fails on increases above it"
            )));
        }
        Ok(make(value))
    }
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Gate::NewFailure => f.write_str("new-failure"),
            Gate::SizeIncrease(p) => write!(f, "size>+{p}%"),
            Gate::StartupIncrease(p) => write!(f, "startup>+{p}%"),
            Gate::Flaky => f.write_str("flaky"),
            Gate::InstructionsIncrease(p) => write!(f, "instructions>+{p}%"),
        }
    }
}

impl Serialize for Gate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A cell that broke a gate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateViolation {
    pub gate: Gate,
    pub key: String,
    /// What happened, for the log: `pass → fail (glibc-version)`, `1.5 MiB → 1.7 MiB (+9.80%)`.
    pub detail: String,
}

impl fmt::Display for GateViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.gate, self.key, self.detail)
    }
}

/// Every cell that breaks one of `gates`, gate by gate, in comparison order.
pub fn check_gates(cmp: &Comparison, gates: &[Gate]) -> Vec<GateViolation> {
    let mut out = Vec::new();
    for &gate in gates {
        if gate == Gate::NewFailure {
            for t in cmp.tests_with(TestChange::Broke) {
                out.push(GateViolation {
                    gate,
                    key: format!("{} {}", t.cell, t.test),
                    detail: format!(
                        "test {} → fail",
                        t.base.map_or("(absent)", TestStatus::as_str)
                    ),
                });
            }
        }
        for c in &cmp.cells {
            let detail = match gate {
                Gate::NewFailure => {
                    let new_fail = c.new.as_ref().is_some_and(|n| n.status == CellStatus::Fail);
                    match c.change {
                        Change::Regressed | Change::Added if new_fail => {
                            Some(render::transition(c))
                        }
                        _ => None,
                    }
                }
                Gate::SizeIncrease(limit) => c
                    .size
                    .as_ref()
                    .filter(|s| s.delta_pct > limit)
                    .map(size_detail),
                Gate::StartupIncrease(limit) => c
                    .startup
                    .as_ref()
                    .filter(|s| s.significant && s.delta_pct > limit)
                    .map(|s| {
                        format!(
                            "{} → {} ({})",
                            format_ms(s.base_median_ms),
                            format_ms(s.new_median_ms),
                            s.verdict()
                        )
                    }),
                Gate::InstructionsIncrease(limit) => {
                    let grown: Vec<String> = c
                        .instructions
                        .iter()
                        .filter(|d| d.comparable() && d.new > d.base && d.delta_pct > limit)
                        .map(|d| {
                            format!(
                                "{}: {} → {} ({})",
                                d.subject,
                                d.base,
                                d.new,
                                pct(d.delta_pct)
                            )
                        })
                        .collect();
                    (!grown.is_empty()).then(|| grown.join("; "))
                }
                Gate::Flaky => c.new.as_ref().filter(|n| !n.flaky.is_empty()).map(|n| {
                    let was = c.base.as_ref().is_some_and(|b| !b.flaky.is_empty());
                    format!(
                        "{} flaky: {}",
                        if was { "still" } else { "newly" },
                        n.flaky.join(", ")
                    )
                }),
            };
            if let Some(detail) = detail {
                out.push(GateViolation {
                    gate,
                    key: c.key.clone(),
                    detail,
                });
            }
        }
    }
    out
}

fn size_detail(s: &SizeDelta) -> String {
    format!(
        "{} → {} ({}, {})",
        human_size(s.base_bytes),
        human_size(s.new_bytes),
        signed_size(s.delta_bytes),
        pct(s.delta_pct)
    )
}

// ---------------------------------------------------------------------------------------
// Rendering

/// The formats a comparison renders as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareFormat {
    Table,
    Markdown,
    Json,
}

/// A compare format name that is not `table`, `md` or `json`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown compare format `{0}`: expected table, md or json")]
pub struct UnknownCompareFormat(pub String);

impl FromStr for CompareFormat {
    type Err = UnknownCompareFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "table" => Ok(CompareFormat::Table),
            "md" | "markdown" => Ok(CompareFormat::Markdown),
            "json" => Ok(CompareFormat::Json),
            _ => Err(UnknownCompareFormat(s.to_string())),
        }
    }
}

/// Renders `cmp`: a headline, then regressions (with cause and hint), fixes and the other
/// status changes, then the size and startup tables. `color` adds ANSI colours to the table.
pub fn render_comparison(cmp: &Comparison, format: CompareFormat, color: bool) -> String {
    match format {
        CompareFormat::Table => render::render(cmp, &mut render::TextSink::new(color)),
        CompareFormat::Markdown => render::render(cmp, &mut render::MarkdownSink::default()),
        CompareFormat::Json => match serde_json::to_string_pretty(cmp) {
            Ok(mut s) => {
                s.push('\n');
                s
            }
            // Only a map with non-string keys could fail; there is none.
            Err(e) => format!("{{\"error\": \"{e}\"}}\n"),
        },
    }
}

/// `+5.67%`, `-0.12%`, `0.00%`.
fn pct(p: f64) -> String {
    if p.abs() < 0.005 {
        "0.00%".into()
    } else {
        format!("{p:+.2}%")
    }
}

/// `+52.0 KiB`, `-312 B`, `0 B`.
fn signed_size(delta: i64) -> String {
    let mag = human_size(delta.unsigned_abs());
    match delta {
        0 => mag,
        d if d > 0 => format!("+{mag}"),
        _ => format!("-{mag}"),
    }
}

// ---------------------------------------------------------------------------------------
// Comparing run directories

/// What to compare: two run directories matched by cell id, or two toolchains of one run.
#[derive(Debug, Clone)]
pub enum CompareRuns<'a> {
    Dirs { base: &'a Path, new: &'a Path },
    Toolchains { run: &'a Path, pair: &'a str },
    Emulators { run: &'a Path, pair: &'a str },
}

/// A comparison of run directories, and what the user should know about it.
#[derive(Debug)]
pub struct Compared {
    pub comparison: Comparison,
    /// Compared records whose startup figures were reused from an earlier run
    /// (`reused_from`): timings compare best when both sides were measured in one sitting.
    pub reused_timings: usize,
    /// Lines of `cells.jsonl` that could not be read.
    pub warnings: Vec<String>,
    /// Each compared run that lacks cells of its plan: `DIR: incomplete: …` (see
    /// [`crate::Completeness`]). A gate must not pass on these unless told to.
    pub incomplete: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("reading {}: {source}", path.display())]
    Read {
        path: std::path::PathBuf,
        source: crate::store::StoreError,
    },
    #[error("--toolchains {0}: expected two toolchains as A,B (e.g. go1.22,go1.24)")]
    BadPair(String),
    #[error("--emulators {0}: expected two emulators as A,B (e.g. qemu-7.2.22,qemu-10.0.2)")]
    BadEmulatorPair(String),
    #[error("--emulators: {emulator} is not in {} (it has: {})", run.display(), if has.is_empty() { "no emulator axis: run with two --emulator".to_string() } else { has.join(", ") })]
    NoSuchEmulator {
        emulator: String,
        run: std::path::PathBuf,
        has: Vec<String>,
    },
    #[error("--toolchains: {toolchain} is not in {} (it has: {})", run.display(), has.join(", "))]
    NoSuchToolchain {
        toolchain: String,
        run: std::path::PathBuf,
        has: Vec<String>,
    },
}

/// Options labelling the two sides `base` and `new`.
fn labelled(base: &str, new: &str) -> CompareOptions {
    CompareOptions {
        base_label: base.into(),
        new_label: new.into(),
        ..CompareOptions::default()
    }
}

/// Reads the run directories `what` names and compares them.
pub fn compare_runs(what: &CompareRuns<'_>) -> Result<Compared, CompareError> {
    let mut warnings = Vec::new();
    let mut read = |dir: &Path| -> Result<Vec<CellRecord>, CompareError> {
        let r = crate::store::read_cells(dir).map_err(|source| CompareError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        warnings.extend(r.warnings);
        Ok(r.records)
    };
    let reused = |recs: &[CellRecord]| {
        recs.iter()
            .filter(|r| r.reused_from.is_some() && r.startup.is_some())
            .count()
    };
    let mut incomplete = Vec::new();
    let mut check = |dir: &Path, recs: &[CellRecord]| {
        if let Ok(meta) = crate::store::read_run_meta(dir) {
            let c = crate::Completeness::of(&meta, recs);
            if !c.is_complete() {
                incomplete.push(format!("{}: {}", dir.display(), c.summary()));
            }
        }
    };
    let (comparison, reused_timings) = match *what {
        CompareRuns::Dirs { base, new } => {
            let (b, n) = (read(base)?, read(new)?);
            check(base, &b);
            check(new, &n);
            let opts = CompareOptions {
                base_label: base.display().to_string(),
                new_label: new.display().to_string(),
                ..CompareOptions::default()
            };
            (compare(&b, &n, &opts), reused(&b) + reused(&n))
        }
        CompareRuns::Toolchains { run, pair } => {
            let (x, y) = pair
                .split_once(',')
                .ok_or_else(|| CompareError::BadPair(pair.to_string()))?;
            let recs = read(run)?;
            check(run, &recs);
            let names = toolchain_names(&recs);
            for t in [x, y] {
                if !names
                    .iter()
                    .any(|n| n == t || n.starts_with(&format!("{t}.")))
                {
                    return Err(CompareError::NoSuchToolchain {
                        toolchain: t.to_string(),
                        run: run.to_path_buf(),
                        has: names,
                    });
                }
            }
            (
                compare_toolchains(&recs, x, y, &labelled(x, y)),
                reused(&recs),
            )
        }
        CompareRuns::Emulators { run, pair } => {
            let (x, y) = pair
                .split_once(',')
                .ok_or_else(|| CompareError::BadEmulatorPair(pair.to_string()))?;
            let recs = read(run)?;
            check(run, &recs);
            let names = emulator_names(&recs);
            for e in [x, y] {
                if !names.iter().any(|n| n == e) {
                    return Err(CompareError::NoSuchEmulator {
                        emulator: e.to_string(),
                        run: run.to_path_buf(),
                        has: names,
                    });
                }
            }
            (
                compare_emulators(&recs, x, y, &labelled(x, y)),
                reused(&recs),
            )
        }
    };
    Ok(Compared {
        comparison,
        reused_timings,
        warnings,
        incomplete,
    })
}

mod render;
#[cfg(test)]
mod tests;
