//! Expansion of axes into a `Plan` of cells, and the two ways to narrow a plan: `--filter`
//! and `--shard K/N`.

use crate::cell::Skip;
use crate::{Cause, Cell, Emulator, Libc, Program, RootfsSpec, Target, Toolchain};
use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// The build mode of a cell: cgo off, or cgo on against a libc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CgoMode {
    Off,
    On(Libc),
}

impl CgoMode {
    pub fn cgo(self) -> bool {
        matches!(self, CgoMode::On(_))
    }
    pub fn libc(self) -> Option<Libc> {
        match self {
            CgoMode::Off => None,
            CgoMode::On(l) => Some(l),
        }
    }
}

/// One block of axes whose product is a set of cells. A matrix is one or more blocks
/// (the default matrix is a cgo=0 block over every arch plus a cgo=1 block over a few).
#[derive(Debug, Clone, Default)]
pub struct Axes {
    pub toolchains: Vec<Arc<Toolchain>>,
    pub targets: Vec<Target>,
    pub modes: Vec<CgoMode>,
    /// `None`: each cell runs on the rootfs that matches its build.
    pub rootfs: Option<Vec<RootfsSpec>>,
    pub programs: Vec<Arc<Program>>,
}

/// The expanded, ordered list of cells. Ids are unique.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub cells: Vec<Cell>,
}

impl Plan {
    /// Expands every block and concatenates them, keeping the first cell for a repeated id.
    /// Meaningless combinations become skipped cells with a reason, never errors.
    pub fn expand(blocks: &[Axes]) -> Plan {
        let mut seen = BTreeSet::new();
        let mut cells = Vec::new();
        for axes in blocks {
            for tc in &axes.toolchains {
                for target in &axes.targets {
                    for mode in &axes.modes {
                        // `None`: the root each program's build matches (see `default_for`).
                        let rootfs: Vec<Option<&RootfsSpec>> = match &axes.rootfs {
                            Some(list) => list.iter().map(Some).collect(),
                            None => vec![None],
                        };
                        for rfs in rootfs {
                            for program in &axes.programs {
                                let rfs = rfs.cloned().unwrap_or_else(|| {
                                    RootfsSpec::default_for(
                                        target,
                                        mode.cgo(),
                                        mode.libc(),
                                        program,
                                    )
                                });
                                let mut cell = Cell::new(
                                    tc.clone(),
                                    target.clone(),
                                    mode.cgo(),
                                    mode.libc(),
                                    rfs,
                                    program.clone(),
                                );
                                cell.skip = skip_reason(&cell);
                                if seen.insert(cell.id.clone()) {
                                    cells.push(cell);
                                }
                            }
                        }
                    }
                }
            }
        }
        Plan { cells }
    }

    pub fn len(&self) -> usize {
        self.cells.len()
    }
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Keeps the cells every filter group accepts (see [`Filter`]).
    /// The cells as `crossmatrix plan --format json` prints them: id, axes, and the skip
    /// reason of a cell that will not be built.
    pub fn to_json(&self) -> serde_json::Value {
        let cells: Vec<serde_json::Value> = self
            .cells
            .iter()
            .map(|c| {
                serde_json::json!({
                    "id": c.id.as_str(),
                    "toolchain": c.toolchain.version,
                    "target": format!("{}/{}", c.target.goos, c.target.goarch),
                    "cgo": u8::from(c.cgo),
                    "libc": c.libc.map(|l| l.to_string()),
                    "rootfs": c.rootfs.label(),
                    "program": c.program.name,
                    "emulator": c.emulator.as_ref().map(|e| e.name.as_str()),
                    "skip": c.skip.as_ref().map(|s| serde_json::json!({"cause": s.cause, "reason": s.reason})),
                })
            })
            .collect();
        serde_json::Value::Array(cells)
    }

    /// The emulator axis: each cell that runs emulated on a `host_goarch` host once per
    /// emulator, named in its id when there is more than one (`…/emu-qemu-10.0.2/prog`).
    /// Native, wasip1 and build-only cells are left as they are. No emulators: unchanged
    /// (the host's qemu, found at run time).
    pub fn with_emulators(self, emulators: &[Arc<Emulator>], host_goarch: &str) -> Plan {
        if emulators.is_empty() {
            return self;
        }
        let in_id = emulators.len() > 1;
        let mut cells = Vec::with_capacity(self.cells.len() * emulators.len());
        for cell in self.cells {
            if !crate::runs_emulated(&cell.target.goos, &cell.target.goarch, host_goarch) {
                cells.push(cell);
                continue;
            }
            for e in emulators {
                cells.push(cell.clone().under_emulator(e.clone(), in_id));
            }
        }
        Plan { cells }
    }

    pub fn filter(self, filter: &Filter) -> Plan {
        Plan {
            cells: self
                .cells
                .into_iter()
                .filter(|c| filter.matches(c))
                .collect(),
        }
    }

    /// Keeps shard `k` of `n`. Cells are dealt by estimated cost (see [`Cell::estimated_cost`]
    /// and [`shard_assignment`](crate::shard_assignment)): deterministic, the shards partition
    /// the plan, and their costs differ by at most one cell's cost. Cell order is kept.
    pub fn shard(self, shard: Shard) -> Plan {
        let owner = crate::shard_assignment(&self.cells, shard.count);
        Plan {
            cells: self
                .cells
                .into_iter()
                .zip(owner)
                .filter(|(_, o)| *o + 1 == shard.index)
                .map(|(c, _)| c)
                .collect(),
        }
    }

    /// All `count` shards at once (`split(n)[k - 1]` is `shard(k/n)`).
    pub fn split(&self, count: usize) -> Vec<Plan> {
        let count = count.max(1);
        let owner = crate::shard_assignment(&self.cells, count);
        let mut out = vec![Plan::default(); count];
        for (cell, o) in self.cells.iter().zip(owner) {
            out[o].cells.push(cell.clone());
        }
        out
    }
}

/// Why a cell cannot be built or run meaningfully, if it cannot.
pub(crate) fn skip_reason(cell: &Cell) -> Option<Skip> {
    if !cell.toolchain.supports(&cell.target) {
        return Some(Skip {
            cause: Cause::UnsupportedTarget,
            reason: format!(
                "{} cannot build {} (not in `go tool dist list`)",
                cell.toolchain.version, cell.target
            ),
        });
    }
    if let Some((knob, _)) = cell
        .target
        .variant
        .as_deref()
        .and_then(|v| v.split_once('='))
    {
        let since = crate::VariantKnob::by_name(knob).map(|k| k.since_minor);
        if let (Some(since), Some(minor)) = (since, crate::go_minor(&cell.toolchain.version)) {
            if minor < since {
                return Some(Skip {
                    cause: Cause::UnsupportedTarget,
                    reason: format!(
                        "{} does not know {} (added in go1.{since})",
                        cell.toolchain.version,
                        knob.to_ascii_uppercase()
                    ),
                });
            }
        }
    }
    if cell.cgo && cell.target.goarch == "wasm" {
        return Some(Skip {
            cause: Cause::UnsupportedTarget,
            reason: format!("cgo is not available on {}", cell.target.port()),
        });
    }
    if let (false, Some(l)) = (cell.cgo, cell.libc) {
        return Some(Skip {
            cause: Cause::UnsupportedTarget,
            reason: format!(
                "libc {l} only applies to cgo=1 builds: a cgo=0 binary links no C library"
            ),
        });
    }
    if let (true, Some(l), false) = (cell.cgo, cell.libc, cell.target.is_linux()) {
        return Some(Skip {
            cause: Cause::UnsupportedTarget,
            reason: format!(
                "libc {l} is a linux C library; {} has its own",
                cell.target.port()
            ),
        });
    }
    if cell.target.is_wasip1() && cell.rootfs != RootfsSpec::Scratch {
        return Some(Skip {
            cause: Cause::UnsupportedTarget,
            reason: format!(
                "wasip1 modules run in wasmtime, not on a `{}` rootfs",
                cell.rootfs
            ),
        });
    }
    if cell.target.is_build_only() && cell.rootfs != RootfsSpec::Scratch {
        return Some(Skip {
            cause: Cause::UnsupportedTarget,
            reason: format!(
                "{} is built and inspected only: it cannot run on a `{}` rootfs",
                cell.target.port(),
                cell.rootfs
            ),
        });
    }
    if cell.cgo
        && cell.libc == Some(Libc::Gnu)
        && matches!(cell.rootfs, RootfsSpec::Scratch | RootfsSpec::Musl)
    {
        // Kept on purpose: it is the seeds' Alpine trap and fails at run time with a clear cause.
        return None;
    }
    None
}

/// `--shard K/N` (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShardError {
    #[error("shard `{0}` is not of the form K/N (e.g. 2/4)")]
    Malformed(String),
    #[error("shard {index}/{count} is out of range: K must be between 1 and N")]
    OutOfRange { index: usize, count: usize },
}

impl FromStr for Shard {
    type Err = ShardError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| ShardError::Malformed(s.into()))?;
        let index: usize = k
            .trim()
            .parse()
            .map_err(|_| ShardError::Malformed(s.into()))?;
        let count: usize = n
            .trim()
            .parse()
            .map_err(|_| ShardError::Malformed(s.into()))?;
        if index == 0 || count == 0 || index > count {
            return Err(ShardError::OutOfRange { index, count });
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// `--filter` terms: globs on the cell id, or `axis=value` on `toolchain`, `target`, `cgo`,
/// `libc`, `rootfs`, `program`, `emulator`. Terms on different axes must all hold; terms on the same axis
/// (and several globs) are alternatives.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    globs: Vec<GlobMatcher>,
    terms: Vec<(Axis, Vec<String>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Axis {
    Toolchain,
    Target,
    Cgo,
    Libc,
    Rootfs,
    Program,
    Emulator,
}

const AXES: &[(&str, Axis)] = &[
    ("toolchain", Axis::Toolchain),
    ("target", Axis::Target),
    ("cgo", Axis::Cgo),
    ("libc", Axis::Libc),
    ("rootfs", Axis::Rootfs),
    ("program", Axis::Program),
    ("emulator", Axis::Emulator),
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    #[error(
        "filter `{term}`: unknown axis `{axis}` (expected one of toolchain, target, cgo, libc, rootfs, program, emulator){}",
        did_you_mean.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default()
    )]
    UnknownAxis {
        term: String,
        axis: String,
        did_you_mean: Option<String>,
    },
    #[error("filter `{term}`: invalid glob: {message}")]
    BadGlob { term: String, message: String },
}

impl Filter {
    pub fn parse<S: AsRef<str>>(terms: &[S]) -> Result<Filter, FilterError> {
        let mut f = Filter::default();
        for term in terms {
            let term = term.as_ref();
            match term.split_once('=') {
                Some((axis, value)) if !axis.contains('*') && !axis.contains('/') => {
                    let axis_name = axis.trim();
                    let Some((_, ax)) = AXES.iter().find(|(n, _)| *n == axis_name) else {
                        return Err(FilterError::UnknownAxis {
                            term: term.into(),
                            axis: axis_name.into(),
                            did_you_mean: crate::closest(axis_name, AXES.iter().map(|(n, _)| *n))
                                .map(str::to_string),
                        });
                    };
                    match f.terms.iter_mut().find(|(a, _)| a == ax) {
                        Some((_, vals)) => vals.push(value.trim().into()),
                        None => f.terms.push((*ax, vec![value.trim().into()])),
                    }
                }
                _ => {
                    let g = Glob::new(term).map_err(|e| FilterError::BadGlob {
                        term: term.into(),
                        message: e.to_string(),
                    })?;
                    f.globs.push(g.compile_matcher());
                }
            }
        }
        Ok(f)
    }

    pub fn is_empty(&self) -> bool {
        self.globs.is_empty() && self.terms.is_empty()
    }

    pub fn matches(&self, cell: &Cell) -> bool {
        if !self.globs.is_empty() && !self.globs.iter().any(|g| g.is_match(cell.id.as_str())) {
            return false;
        }
        self.terms
            .iter()
            .all(|(axis, values)| values.iter().any(|v| axis_matches(*axis, v, cell)))
    }
}

fn axis_matches(axis: Axis, value: &str, cell: &Cell) -> bool {
    match axis {
        Axis::Toolchain => {
            let value = if value.starts_with(|c: char| c.is_ascii_digit()) {
                format!("go{value}")
            } else {
                value.to_string()
            };
            version_prefix(&cell.toolchain.version, &value)
                || version_prefix(&cell.toolchain.name, &value)
                || cell.toolchain.goroot.as_os_str() == value.as_str()
        }
        Axis::Target => {
            let t = format!("{}/{}", cell.target.goos, cell.target.goarch);
            t == value || cell.target.slug() == value || cell.target.goarch == value
        }
        Axis::Cgo => value == if cell.cgo { "1" } else { "0" },
        Axis::Libc => cell
            .libc
            .map(|l| l.as_str() == value)
            .unwrap_or(value == "none"),
        Axis::Rootfs => cell.rootfs.label() == value,
        Axis::Program => cell.program.name == value,
        Axis::Emulator => cell.emulator.as_ref().is_some_and(|e| {
            e.name == value || e.dir.as_ref().is_some_and(|d| d.as_os_str() == value)
        }),
    }
}

/// `go1.22` matches `go1.22` and `go1.22.12` but not `go1.2` nor `go1.220`.
pub(crate) fn version_prefix(version: &str, want: &str) -> bool {
    version == want || (version.starts_with(want) && version[want.len()..].starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CellId;

    fn toolchain(name: &str, version: &str) -> Arc<Toolchain> {
        Arc::new(Toolchain {
            name: name.into(),
            version: version.into(),
            goroot: "/x".into(),
            ports: vec![],
        })
    }

    fn sample() -> Plan {
        let tcs = vec![
            toolchain("go1.22", "go1.22.12"),
            toolchain("go1.24", "go1.24.4"),
        ];
        let progs = vec![Arc::new(Program::probe())];
        Plan::expand(&[
            Axes {
                toolchains: tcs.clone(),
                targets: ["amd64", "arm64", "riscv64"]
                    .iter()
                    .map(|a| Target::linux(a))
                    .chain([Target::new("wasip1", "wasm")])
                    .collect(),
                modes: vec![CgoMode::Off],
                rootfs: None,
                programs: progs.clone(),
            },
            Axes {
                toolchains: tcs,
                targets: vec![Target::linux("arm64"), Target::new("wasip1", "wasm")],
                modes: vec![CgoMode::On(Libc::Musl), CgoMode::Off],
                rootfs: None,
                programs: progs,
            },
        ])
    }

    #[test]
    fn expands_blocks_without_duplicates() {
        let plan = sample();
        // 2 × 4 cgo0 cells + 2 × 2 cgo1 cells (cgo0 repeats dropped).
        assert_eq!(plan.len(), 12);
        let ids: BTreeSet<_> = plan.cells.iter().map(|c| c.id.clone()).collect();
        assert_eq!(ids.len(), plan.len());
        let wasm_cgo = plan
            .cells
            .iter()
            .find(|c| c.id.as_str() == "go1.24/wasip1-wasm/cgo1-musl/rootfs-musl/probe")
            .unwrap();
        assert_eq!(
            wasm_cgo.skip.as_ref().unwrap().cause,
            Cause::UnsupportedTarget
        );
        let arm = plan
            .cells
            .iter()
            .find(|c| c.id.as_str() == "go1.24/linux-arm64/cgo1-musl/rootfs-musl/probe")
            .unwrap();
        assert!(arm.skip.is_none());
    }

    fn emulator(name: &str, dir: Option<&str>) -> Arc<Emulator> {
        Arc::new(Emulator {
            name: name.into(),
            dir: dir.map(Into::into),
            binaries: Default::default(),
        })
    }

    #[test]
    fn emulator_axis_multiplies_emulated_cells_only() {
        let old = emulator("qemu-7.2.22", None);
        let new = emulator("qemu-10.0.2", Some("/opt/q10"));
        let plan = sample().with_emulators(&[old.clone(), new.clone()], "amd64");
        // Per toolchain: amd64 and 2 wasip1 stay single; arm64 ×2 modes and riscv64 double.
        assert_eq!(plan.len(), 2 * (3 + 2 * 3));
        let ids: BTreeSet<_> = plan.cells.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids.len(), plan.len());
        assert!(ids.contains("go1.24/linux-arm64/cgo0/rootfs-scratch/emu-qemu-10.0.2/probe"));
        assert!(ids.contains("go1.24/linux-arm64/cgo0/rootfs-scratch/emu-qemu-7.2.22/probe"));
        assert!(ids.contains("go1.24/linux-amd64/cgo0/rootfs-scratch/probe"));
        let native = plan
            .cells
            .iter()
            .find(|c| c.id.as_str() == "go1.24/linux-amd64/cgo0/rootfs-scratch/probe")
            .unwrap();
        assert!(native.emulator.is_none());
        // One emulator: recorded on the cell, not in its id.
        let one = sample().with_emulators(std::slice::from_ref(&new), "amd64");
        assert_eq!(one.len(), sample().len());
        let arm = one
            .cells
            .iter()
            .find(|c| c.id.as_str() == "go1.24/linux-arm64/cgo0/rootfs-scratch/probe")
            .unwrap();
        assert_eq!(arm.emulator.as_deref(), Some(&*new));
        // None: nothing changes.
        assert_eq!(sample().with_emulators(&[], "amd64").len(), sample().len());
        // Filter by name or directory.
        for term in ["emulator=qemu-10.0.2", "emulator=/opt/q10"] {
            let f = Filter::parse(&[term]).unwrap();
            let kept = plan.clone().filter(&f);
            assert_eq!(kept.len(), 2 * 3, "{term}");
            assert!(
                kept.cells
                    .iter()
                    .all(|c| c.emulator.as_deref() == Some(&*new))
            );
        }
    }

    #[test]
    fn unknown_ports_are_skipped_not_dropped() {
        let mut old = (*toolchain("go1.19", "go1.19.8")).clone();
        old.ports = vec!["linux/amd64".into()];
        let plan = Plan::expand(&[Axes {
            toolchains: vec![Arc::new(old)],
            targets: vec![Target::linux("amd64"), Target::new("wasip1", "wasm")],
            modes: vec![CgoMode::Off],
            rootfs: None,
            programs: vec![Arc::new(Program::probe())],
        }]);
        assert_eq!(plan.len(), 2);
        assert!(plan.cells[0].skip.is_none());
        assert_eq!(
            plan.cells[1].skip.as_ref().unwrap().cause,
            Cause::UnsupportedTarget
        );
    }

    #[test]
    fn filters_by_glob_and_axis_terms() {
        let f = Filter::parse(&["*linux-arm64*"]).unwrap();
        assert!(
            sample()
                .filter(&f)
                .cells
                .iter()
                .all(|c| c.target.goarch == "arm64")
        );
        let f = Filter::parse(&[
            "target=linux/amd64",
            "target=linux/arm64",
            "cgo=0",
            "toolchain=go1.22",
        ])
        .unwrap();
        let p = sample().filter(&f);
        assert_eq!(p.len(), 2);
        assert!(
            p.cells
                .iter()
                .all(|c| c.toolchain.name == "go1.22" && !c.cgo)
        );
        let f = Filter::parse(&["toolchain=go1.2"]).unwrap();
        assert!(sample().filter(&f).is_empty());
        // `1.22` is `go1.22`.
        let short = Filter::parse(&["toolchain=1.22"]).unwrap();
        let long = Filter::parse(&["toolchain=go1.22"]).unwrap();
        let ids = |f: &Filter| -> Vec<CellId> {
            sample().filter(f).cells.into_iter().map(|c| c.id).collect()
        };
        assert_eq!(ids(&short), ids(&long));
        assert!(!sample().filter(&short).is_empty());
        let e = Filter::parse(&["targte=linux/arm64"]).unwrap_err();
        assert!(e.to_string().ends_with("did you mean `target`?"), "{e}");
        assert!(matches!(
            Filter::parse(&["arch=arm64"]),
            Err(FilterError::UnknownAxis { .. })
        ));
        assert!(matches!(
            Filter::parse(&["[bad"]),
            Err(FilterError::BadGlob { .. })
        ));
    }

    #[test]
    fn filters_see_target_variants() {
        let arm = Target::linux("arm");
        let plan = Plan::expand(&[Axes {
            toolchains: vec![toolchain("go1.24", "go1.24.4")],
            targets: vec![
                arm.with_variant("goarm", "6"),
                arm.with_variant("goarm", "7"),
                Target::linux("arm64"),
            ],
            modes: vec![CgoMode::Off],
            rootfs: None,
            programs: vec![Arc::new(Program::probe())],
        }]);
        let ids = |f: &[&str]| -> Vec<String> {
            plan.clone()
                .filter(&Filter::parse(f).unwrap())
                .cells
                .into_iter()
                .map(|c| c.id.0)
                .collect()
        };
        // `target=linux/arm` matches every goarm variant, not arm64.
        assert_eq!(
            ids(&["target=linux/arm"]),
            [
                "go1.24/linux-arm-goarm6/cgo0/rootfs-scratch/probe",
                "go1.24/linux-arm-goarm7/cgo0/rootfs-scratch/probe"
            ]
        );
        // The slug picks one variant; a bare GOARCH all of them.
        assert_eq!(ids(&["target=linux-arm-goarm7"]).len(), 1);
        assert_eq!(ids(&["target=arm"]).len(), 2);
        assert_eq!(ids(&["*goarm6*"]).len(), 1);
        assert_eq!(ids(&["target=linux/arm", "target=linux/arm64"]).len(), 3);
        assert!(ids(&["target=linux/arm", "cgo=1"]).is_empty());
    }

    #[test]
    fn shards_partition_the_plan() {
        for n in 1..=5 {
            let mut all = Vec::new();
            let mut costs = Vec::new();
            for k in 1..=n {
                let part = sample().shard(Shard { index: k, count: n });
                costs.push(
                    part.cells
                        .iter()
                        .map(|c| c.estimated_cost() as u64)
                        .sum::<u64>(),
                );
                all.extend(part.cells.into_iter().map(|c| c.id));
            }
            let max_cell = sample()
                .cells
                .iter()
                .map(|c| c.estimated_cost())
                .max()
                .unwrap();
            let (lo, hi) = (costs.iter().min().unwrap(), costs.iter().max().unwrap());
            assert!(hi - lo <= max_cell as u64, "{n} shards: costs {costs:?}");
            all.sort();
            let mut full: Vec<_> = sample().cells.into_iter().map(|c| c.id).collect();
            full.sort();
            assert_eq!(all, full);
            let split: Vec<Vec<CellId>> = sample()
                .split(n)
                .into_iter()
                .map(|p| p.cells.into_iter().map(|c| c.id).collect())
                .collect();
            for (k, ids) in split.iter().enumerate() {
                let part: Vec<CellId> = sample()
                    .shard(Shard {
                        index: k + 1,
                        count: n,
                    })
                    .cells
                    .into_iter()
                    .map(|c| c.id)
                    .collect();
                assert_eq!(&part, ids);
            }
        }
        assert!("0/3".parse::<Shard>().is_err());
        assert!("4/3".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
        assert_eq!(
            "2/3".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 3 }
        );
    }
}
