//! `merge`: the shards of one matrix (`run --shard k/n` on several machines) joined into one
//! result: records in plan order, totals recomputed, and each shard's host and times kept in
//! [`RunMeta::shards`]. Refuses inputs from different matrices and cells whose records
//! disagree.
//!
//! Every shard records the *whole* plan in `matrix_planned` and its hash in `matrix_hash`
//! (computed before `--shard` is applied): the merged records come out in exactly the plan's
//! order, its `planned` is the whole plan, and a shard that never arrived shows as planned cells
//! without a record ([`crate::Completeness`]). Shards that record only their own cells (older
//! runs) still merge, in an order that keeps each shard's own order.

use crate::schema::{CellRecord, RunMeta, ShardInfo, Totals};
use std::collections::{HashMap, HashSet};

/// One result directory to merge.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeInput {
    /// How errors name this input: its directory, usually.
    pub label: String,
    pub meta: RunMeta,
    pub records: Vec<CellRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("nothing to merge: give at least one result directory")]
    NoInputs,
    #[error(
        "{other} is not a shard of the same matrix as {first}: its matrix_hash is {other_hash}, \
         not {first_hash}; run every shard with the same crossmatrix version, config, toolchains \
         and axis flags (only --shard may differ)"
    )]
    MatrixMismatch {
        first: String,
        first_hash: String,
        other: String,
        other_hash: String,
    },
    #[error(
        "cell {id} has different records in {first} and {other} (they differ in {fields}): \
         a cell must run in exactly one shard; were two jobs given the same --shard, or two \
         runs of the matrix mixed up?"
    )]
    Conflict {
        id: String,
        first: String,
        other: String,
        /// The top-level fields that differ, in record order: `status`, `cause`, `hint`.
        fields: String,
    },
}

/// Merges shards into one run. Identical duplicate records (the same cell in two inputs)
/// are kept once; within one input the last record of a cell wins (a resumed run appends).
/// The merged metadata is the first input's, with: the earliest start and latest finish,
/// `wall_ms` between them, the union of tools and toolchains, the largest `jobs`, no
/// `shard`, `interrupted` when any shard was or a planned cell has no record, recomputed
/// totals, and one [`ShardInfo`] per input (inputs that are merges themselves contribute
/// their shards).
pub fn merge(inputs: &[MergeInput]) -> Result<(RunMeta, Vec<CellRecord>), MergeError> {
    let first = inputs.first().ok_or(MergeError::NoInputs)?;
    for other in &inputs[1..] {
        if other.meta.matrix_hash != first.meta.matrix_hash {
            return Err(MergeError::MatrixMismatch {
                first: first.label.clone(),
                first_hash: first.meta.matrix_hash.clone(),
                other: other.label.clone(),
                other_hash: other.meta.matrix_hash.clone(),
            });
        }
    }

    // Collect records: last of an id within an input, identical across inputs.
    let mut records: Vec<CellRecord> = Vec::new();
    let mut owner: HashMap<String, (usize, usize)> = HashMap::new(); // id -> (input, index)
    let mut contributed = vec![0usize; inputs.len()];
    for (n, input) in inputs.iter().enumerate() {
        for rec in latest_per_id(&input.records) {
            match owner.get(&rec.id) {
                Some(&(m, i)) if m == n => records[i] = rec.clone(),
                Some(&(m, i)) => {
                    if records[i] != *rec {
                        return Err(MergeError::Conflict {
                            id: rec.id.clone(),
                            first: inputs[m].label.clone(),
                            other: input.label.clone(),
                            fields: differing_fields(&records[i], rec),
                        });
                    }
                }
                None => {
                    owner.insert(rec.id.clone(), (n, records.len()));
                    records.push(rec.clone());
                    contributed[n] += 1;
                }
            }
        }
    }

    // The whole matrix, as any shard recorded it (shards of one matrix agree); else the union
    // of what the inputs planned (shards from before the whole plan was recorded).
    let planned = match inputs.iter().find(|i| !i.meta.matrix_planned.is_empty()) {
        Some(i) => i.meta.matrix_planned.clone(),
        None => merge_planned(inputs.iter().map(|i| i.meta.planned.as_slice())),
    };
    // Stable: records outside the plan keep their input order, after the planned ones.
    crate::resume::in_plan_order(&mut records, &planned);

    let mut meta = first.meta.clone();
    meta.started_at = inputs
        .iter()
        .map(|i| i.meta.started_at.as_str())
        .min()
        .unwrap_or_default()
        .to_string();
    meta.finished_at = inputs
        .iter()
        .map(|i| i.meta.finished_at.as_str())
        .max()
        .unwrap_or_default()
        .to_string();
    meta.wall_ms = span_ms(&meta.started_at, &meta.finished_at)
        .unwrap_or_else(|| inputs.iter().map(|i| i.meta.wall_ms).max().unwrap_or(0));
    meta.wall_s = meta.wall_ms as f64 / 1000.0;
    // CPU adds up over machines; a bound for one machine does not describe several.
    meta.cpu_s = inputs.iter().map(|i| i.meta.cpu_s).sum();
    meta.cpu_bound_s = 0.0;
    meta.cores = 0;
    meta.tools = union(inputs.iter().flat_map(|i| i.meta.tools.iter().cloned()));
    meta.toolchains = union(
        inputs
            .iter()
            .flat_map(|i| i.meta.toolchains.iter().cloned()),
    );
    meta.jobs = inputs.iter().map(|i| i.meta.jobs).max().unwrap_or(0);
    meta.shard = None;
    meta.matrix_planned = Vec::new();
    // A merge is not resumed: it has no command of its own.
    meta.command = Vec::new();
    // The shards of one nightly test one commit; one that did not record it takes another's.
    meta.commit = inputs.iter().find_map(|i| i.meta.commit.clone());
    let recorded: HashSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
    meta.planned = planned;
    meta.totals = Totals::from_records(&records);
    meta.shards = inputs
        .iter()
        .zip(&contributed)
        .flat_map(|(input, &cells)| {
            if input.meta.shards.is_empty() {
                vec![ShardInfo {
                    shard: input.meta.shard.clone(),
                    host: input.meta.host.clone(),
                    started_at: input.meta.started_at.clone(),
                    finished_at: input.meta.finished_at.clone(),
                    wall_ms: input.meta.wall_ms,
                    cells,
                    interrupted: input.meta.interrupted,
                }]
            } else {
                input.meta.shards.clone()
            }
        })
        .collect();
    // A merge that lacked cells is complete once they arrive: judge by the shards' own runs.
    meta.interrupted = meta.shards.iter().any(|s| s.interrupted)
        || meta
            .planned
            .iter()
            .any(|id| !recorded.contains(id.as_str()));
    Ok((meta, records))
}

/// The last record of each id, in first-seen order.
fn latest_per_id(records: &[CellRecord]) -> Vec<&CellRecord> {
    let mut out: Vec<&CellRecord> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for r in records {
        match index.get(r.id.as_str()) {
            Some(&i) => out[i] = r,
            None => {
                index.insert(&r.id, out.len());
                out.push(r);
            }
        }
    }
    out
}

/// One list when the shards agree on the plan (the expected case); otherwise the union,
/// each id inserted after its predecessor in the list that brings it, which keeps every
/// list's own order.
fn merge_planned<'a>(mut lists: impl Iterator<Item = &'a [String]>) -> Vec<String> {
    let mut out: Vec<String> = lists.next().map(<[String]>::to_vec).unwrap_or_default();
    let mut present: HashSet<String> = out.iter().cloned().collect();
    for list in lists {
        if list == out.as_slice() {
            continue;
        }
        let mut after: Option<usize> = None; // index in `out` of the list's previous id
        for id in list {
            if present.contains(id) {
                after = out.iter().position(|o| o == id);
                continue;
            }
            let at = after.map_or(0, |i| i + 1);
            out.insert(at, id.clone());
            present.insert(id.clone());
            after = Some(at);
        }
    }
    out
}

/// Milliseconds from `start` to `end` (RFC 3339), when both parse.
fn span_ms(start: &str, end: &str) -> Option<u64> {
    let s = chrono::DateTime::parse_from_rfc3339(start).ok()?;
    let e = chrono::DateTime::parse_from_rfc3339(end).ok()?;
    u64::try_from((e - s).num_milliseconds()).ok()
}

fn union<T: PartialEq>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// The top-level fields where two records differ (`` `status`, `cause` ``), in the order of
/// [`CellRecord`]'s fields, for the conflict message.
fn differing_fields(a: &CellRecord, b: &CellRecord) -> String {
    const ORDER: &[&str] = &[
        "schema",
        "id",
        "toolchain",
        "target",
        "cgo",
        "libc",
        "rootfs",
        "program",
        "build",
        "binary",
        "run",
        "startup",
        "status",
        "cause",
        "hint",
        "inputs_hash",
        "finished_at",
        "reused_from",
    ];
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(a), serde_json::to_value(b))
    else {
        return "the record".into();
    };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort_by_key(|k| ORDER.iter().position(|o| o == k).unwrap_or(ORDER.len()));
    keys.dedup();
    let differing: Vec<String> = keys
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("`{k}`"))
        .collect();
    if differing.is_empty() {
        "the record".into()
    } else {
        differing.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{RecordExt, cell, samples};
    use crate::report::tests::fixture_meta;
    use crate::schema::CellStatus;

    /// A tiny deterministic generator (xorshift64*), so the property test needs no crate.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn shuffle<T>(&mut self, v: &mut [T]) {
            for i in (1..v.len()).rev() {
                v.swap(i, self.below(i + 1));
            }
        }
    }

    const ARCHES: [&str; 6] = ["amd64", "arm64", "riscv64", "s390x", "mips", "386"];
    const MODES: [&str; 3] = ["cgo0", "cgo1-gnu", "cgo1-musl"];

    /// A plan of `n` records, not in id order, with every status.
    fn plan(rng: &mut Rng, n: usize) -> Vec<CellRecord> {
        let mut ids: Vec<String> = Vec::new();
        for tc in ["go1.22", "go1.24"] {
            for arch in ARCHES {
                for mode in MODES {
                    ids.push(format!("{tc}/linux-{arch}/{mode}/rootfs-scratch/probe"));
                }
            }
        }
        rng.shuffle(&mut ids);
        ids.truncate(n);
        ids.iter()
            .map(|id| match rng.below(4) {
                0 => cell(id, CellStatus::Pass)
                    .size(1_500_000 + rng.below(100_000) as u64)
                    .startup(&samples(10.0 + rng.below(5) as f64, 3.0)),
                1 => cell(id, CellStatus::Fail).cause(crate::Cause::Timeout),
                2 => cell(id, CellStatus::Skipped),
                _ => cell(id, CellStatus::Built).size(1_600_000),
            })
            .collect()
    }

    fn meta_of(planned: &[String], shard: &str, host: &str, start: &str, end: &str) -> RunMeta {
        let mut m = fixture_meta();
        m.planned = planned.to_vec();
        m.shard = Some(shard.into());
        m.host.hostname = host.into();
        m.started_at = start.into();
        m.finished_at = end.into();
        m
    }

    /// Shards that record the whole matrix: a merge without shard 2 knows what it should
    /// have brought.
    #[test]
    fn a_missing_shard_leaves_its_planned_cells_without_a_record() {
        let id = |x: &str| format!("go1.27/linux-amd64/cgo0/rootfs-scratch/{x}");
        let whole: Vec<String> = ["a", "b", "c", "d"].map(id).to_vec();
        let shard = |k: u32, ids: &[&str]| {
            let mut meta = meta_of(
                &ids.iter().map(|x| id(x)).collect::<Vec<_>>(),
                &format!("{k}/3"),
                "h",
                "2025-01-02T03:04:00Z",
                "2025-01-02T03:05:00Z",
            );
            meta.matrix_planned = whole.clone();
            MergeInput {
                label: format!("shard{k}"),
                meta,
                records: ids.iter().map(|x| cell(&id(x), CellStatus::Pass)).collect(),
            }
        };
        // Shard 2 of 3 (cell b) never arrived.
        let (meta, records) = merge(&[shard(1, &["a", "d"]), shard(3, &["c"])]).unwrap();
        assert_eq!(meta.planned, whole, "the merge's plan is the whole matrix");
        assert!(meta.matrix_planned.is_empty());
        let got: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(got, [id("a"), id("c"), id("d")]);
        assert!(meta.interrupted);
        let c = crate::Completeness::of(&meta, &records);
        assert_eq!(c.missing_shards, ["2/3"]);
        assert_eq!(c.unrecorded, [id("b")]);
        assert_eq!(
            c.summary(),
            "incomplete: shard 2/3 missing, 1 planned cell without a record"
        );
        // With every shard it is complete.
        let (meta, records) =
            merge(&[shard(1, &["a", "d"]), shard(2, &["b"]), shard(3, &["c"])]).unwrap();
        assert!(crate::Completeness::of(&meta, &records).is_complete());
        assert!(!meta.interrupted);
    }

    #[test]
    fn the_commit_is_carried_through() {
        let id = "go1.27/linux-amd64/cgo0/rootfs-scratch/a";
        let input = |label: &str, commit: Option<&str>| {
            let mut meta = meta_of(
                &[id.into()],
                "1/2",
                "h",
                "2025-01-02T03:04:00Z",
                "2025-01-02T03:05:00Z",
            );
            meta.commit = commit.map(String::from);
            MergeInput {
                label: label.into(),
                meta,
                records: vec![cell(id, CellStatus::Pass)],
            }
        };
        let (meta, _) = merge(&[input("a", None), input("b", Some("c0ffee"))]).unwrap();
        assert_eq!(meta.commit.as_deref(), Some("c0ffee"));
        let (meta, _) = merge(&[input("a", None)]).unwrap();
        assert_eq!(meta.commit, None);
        // Through run.json and back, and absent from it when unknown.
        let mut m = fixture_meta();
        assert!(!serde_json::to_string(&m).unwrap().contains("commit"));
        m.commit = Some("c0ffee".into());
        let back: RunMeta = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back.commit.as_deref(), Some("c0ffee"));
    }

    #[test]
    fn random_shards_merge_back_to_the_original() {
        for seed in 1..=200u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let n = 1 + rng.below(36);
            let original = plan(&mut rng, n);
            let planned: Vec<String> = original.iter().map(|r| r.id.clone()).collect();
            let k = 1 + rng.below(5);
            let mut shards: Vec<Vec<CellRecord>> = vec![Vec::new(); k];
            for r in &original {
                shards[rng.below(k)].push(r.clone());
                // Sometimes the same record turns up in another shard too.
                if rng.below(8) == 0 {
                    shards[rng.below(k)].push(r.clone());
                }
            }
            let mut inputs: Vec<MergeInput> = shards
                .into_iter()
                .enumerate()
                .map(|(i, mut recs)| {
                    rng.shuffle(&mut recs);
                    MergeInput {
                        label: format!("shard-{i}"),
                        meta: meta_of(
                            &planned,
                            &format!("{}/{k}", i + 1),
                            &format!("host-{i}"),
                            &format!("2025-01-02T03:0{i}:00Z"),
                            &format!("2025-01-02T04:0{i}:00Z"),
                        ),
                        records: recs,
                    }
                })
                .collect();
            rng.shuffle(&mut inputs);
            let (meta, records) = merge(&inputs).unwrap();
            assert_eq!(records, original, "seed {seed}");
            assert_eq!(meta.totals, Totals::from_records(&original));
            assert_eq!(meta.planned, planned);
            assert!(!meta.interrupted);
            assert_eq!(meta.shard, None);
            assert_eq!(meta.shards.len(), k);
            assert_eq!(
                meta.shards.iter().map(|s| s.cells).sum::<usize>(),
                original.len()
            );
            assert_eq!(meta.started_at, "2025-01-02T03:00:00Z");
            assert_eq!(meta.finished_at, format!("2025-01-02T04:0{}:00Z", k - 1));
            assert_eq!(meta.wall_ms, (3600 + 60 * (k as u64 - 1)) * 1000);
        }
    }

    #[test]
    fn shards_that_record_only_their_own_cells_still_merge() {
        let mut rng = Rng(7);
        let original = plan(&mut rng, 20);
        let (a, b): (Vec<_>, Vec<_>) = original
            .iter()
            .cloned()
            .enumerate()
            .partition(|(i, _)| i % 2 == 0);
        let input = |label: &str, recs: Vec<(usize, CellRecord)>| {
            let recs: Vec<CellRecord> = recs.into_iter().map(|(_, r)| r).collect();
            let planned: Vec<String> = recs.iter().map(|r| r.id.clone()).collect();
            MergeInput {
                label: label.into(),
                meta: meta_of(&planned, "1/2", label, "2025-01-02T03:00:00Z", "x"),
                records: recs,
            }
        };
        let (meta, records) = merge(&[input("a", a.clone()), input("b", b)]).unwrap();
        assert_eq!(records.len(), 20);
        assert_eq!(meta.planned.len(), 20);
        // Shard a's own order survives.
        let a_ids: Vec<&str> = a.iter().map(|(_, r)| r.id.as_str()).collect();
        let merged_a: Vec<&str> = records
            .iter()
            .map(|r| r.id.as_str())
            .filter(|id| a_ids.contains(id))
            .collect();
        assert_eq!(merged_a, a_ids);
        // An unparsable finish time falls back to the longest shard's wall time.
        assert_eq!(meta.wall_ms, fixture_meta().wall_ms);
    }

    #[test]
    fn different_matrices_are_refused() {
        let mut other = fixture_meta();
        other.matrix_hash = "def456".into();
        let err = merge(&[
            MergeInput {
                label: "out/shard-1".into(),
                meta: fixture_meta(),
                records: vec![],
            },
            MergeInput {
                label: "out/shard-2".into(),
                meta: other,
                records: vec![],
            },
        ])
        .unwrap_err();
        assert!(matches!(err, MergeError::MatrixMismatch { .. }));
        let msg = err.to_string();
        assert!(
            msg.starts_with(
                "out/shard-2 is not a shard of the same matrix as out/shard-1: its matrix_hash \
                 is def456, not abc123"
            ),
            "{msg}"
        );
        assert_eq!(merge(&[]).unwrap_err(), MergeError::NoInputs);
    }

    #[test]
    fn conflicting_duplicates_are_refused_identical_ones_kept_once() {
        let id = "go1.24/linux-arm64/cgo0/rootfs-scratch/probe";
        let pass = cell(id, CellStatus::Pass).size(1000);
        let fail = cell(id, CellStatus::Fail)
            .size(1000)
            .cause(crate::Cause::Signal);
        let input = |label: &str, recs: Vec<CellRecord>| MergeInput {
            label: label.into(),
            meta: fixture_meta(),
            records: recs,
        };
        let (meta, records) = merge(&[
            input("a", vec![pass.clone()]),
            input("b", vec![pass.clone()]),
        ])
        .unwrap();
        assert_eq!(records, std::slice::from_ref(&pass));
        assert_eq!(meta.totals.cells, 1);
        assert_eq!(
            meta.shards.iter().map(|s| s.cells).collect::<Vec<_>>(),
            [1, 0]
        );

        let err = merge(&[
            input("a", vec![pass.clone()]),
            input("b", vec![fail.clone()]),
        ])
        .unwrap_err();
        assert_eq!(
            err,
            MergeError::Conflict {
                id: id.into(),
                first: "a".into(),
                other: "b".into(),
                fields: "`status`, `cause`, `hint`".into(),
            }
        );
        assert!(
            err.to_string()
                .contains("differ in `status`, `cause`, `hint`"),
            "{err}"
        );

        // Within one input the later record wins (a resumed run re-ran the cell).
        let (_, records) = merge(&[input("a", vec![fail, pass.clone()])]).unwrap();
        assert_eq!(records, [pass]);
    }

    #[test]
    fn merged_inputs_contribute_their_shards_and_meta_round_trips() {
        let id = |a: &str| format!("go1.24/linux-{a}/cgo0/rootfs-scratch/probe");
        let planned = vec![id("amd64"), id("arm64"), id("riscv64")];
        let part = |n: usize, label: &str| MergeInput {
            label: label.into(),
            meta: meta_of(
                &planned,
                &format!("{}/3", n + 1),
                label,
                "2025-01-02T03:00:00Z",
                "2025-01-02T03:10:00Z",
            ),
            records: vec![cell(&planned[n], CellStatus::Pass)],
        };
        let (m01, r01) = merge(&[part(0, "h0"), part(1, "h1")]).unwrap();
        assert!(m01.interrupted, "riscv64 has no record yet");
        let again = MergeInput {
            label: "merged".into(),
            meta: m01,
            records: r01,
        };
        let (meta, records) = merge(&[again, part(2, "h2")]).unwrap();
        assert!(!meta.interrupted);
        assert_eq!(records.len(), 3);
        let hosts: Vec<&str> = meta
            .shards
            .iter()
            .map(|s| s.host.hostname.as_str())
            .collect();
        assert_eq!(hosts, ["h0", "h1", "h2"]);
        let json = serde_json::to_string(&meta).unwrap();
        let back: RunMeta = serde_json::from_str(&json).unwrap();
        assert_eq!(back, meta);
        // A run.json from before `shards` existed still reads, and writes no `shards`.
        let plain = serde_json::to_value(fixture_meta()).unwrap();
        assert!(plain.get("shards").is_none());
        let back: RunMeta = serde_json::from_value(plain).unwrap();
        assert!(back.shards.is_empty());
    }
}
