//! Whether a result holds everything its plan asked for. A run writes its plan in `run.json`
//! before any cell runs, a shard the whole matrix's too, so a reader can tell a complete
//! result from one where a run died, a record was torn, or a shard never arrived — and every
//! reader (report, merge, compare and its gate) says so instead of counting what is there.

use crate::schema::{CellRecord, RunMeta};
use std::collections::{BTreeSet, HashSet};

/// What a result lacks against its plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Completeness {
    /// Shards of a merge that never arrived (`2/4`), in order.
    pub missing_shards: Vec<String>,
    /// Planned cells with no record, in plan order.
    pub unrecorded: Vec<String>,
}

impl Completeness {
    /// What `records` lack against the plan `meta` records: its `planned` cells (a merge's
    /// are the whole matrix's) and, for a merge of `--shard K/N` runs, the shards 1..N.
    pub fn of(meta: &RunMeta, records: &[CellRecord]) -> Completeness {
        let recorded: HashSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
        let unrecorded = meta
            .planned
            .iter()
            .filter(|id| !recorded.contains(id.as_str()))
            .cloned()
            .collect();
        Completeness {
            missing_shards: missing_shards(meta),
            unrecorded,
        }
    }

    pub fn is_complete(&self) -> bool {
        self.missing_shards.is_empty() && self.unrecorded.is_empty()
    }

    /// `incomplete: shard 2/4 missing, 3 planned cells without a record`; empty when complete.
    pub fn summary(&self) -> String {
        if self.is_complete() {
            return String::new();
        }
        let mut parts = Vec::new();
        match self.missing_shards.len() {
            0 => {}
            1 => parts.push(format!("shard {} missing", self.missing_shards[0])),
            _ => parts.push(format!("shards {} missing", self.missing_shards.join(", "))),
        }
        match self.unrecorded.len() {
            0 => {}
            1 => parts.push("1 planned cell without a record".to_string()),
            n => parts.push(format!("{n} planned cells without a record")),
        }
        format!("incomplete: {}", parts.join(", "))
    }

    /// The summary and the first `max` cells without a record, one per line, indented.
    pub fn details(&self, max: usize) -> String {
        let mut s = self.summary();
        for id in self.unrecorded.iter().take(max) {
            s.push_str(&format!("\n  no record: {id}"));
        }
        if self.unrecorded.len() > max {
            s.push_str(&format!("\n  … and {} more", self.unrecorded.len() - max));
        }
        s
    }
}

/// The shards 1..N of a merge of `--shard K/N` runs that none of its inputs was.
fn missing_shards(meta: &RunMeta) -> Vec<String> {
    let parse = |s: &str| -> Option<(u32, u32)> {
        let (k, n) = s.split_once('/')?;
        Some((k.trim().parse().ok()?, n.trim().parse().ok()?))
    };
    let seen: Vec<(u32, u32)> = meta
        .shards
        .iter()
        .filter_map(|s| s.shard.as_deref().and_then(parse))
        .collect();
    let Some(n) = seen.iter().map(|&(_, n)| n).max() else {
        return Vec::new();
    };
    let have: BTreeSet<u32> = seen.iter().map(|&(k, _)| k).collect();
    (1..=n)
        .filter(|k| !have.contains(k))
        .map(|k| format!("{k}/{n}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;
    use crate::report::tests::fixture_meta;
    use crate::schema::{CellStatus, ShardInfo};

    /// A record of cell `x`, id `go1.27/linux-amd64/cgo0/rootfs-scratch/x`.
    fn cell(x: &str, status: CellStatus) -> CellRecord {
        fixtures::cell(&id(x), status)
    }

    fn id(x: &str) -> String {
        format!("go1.27/linux-amd64/cgo0/rootfs-scratch/{x}")
    }

    fn ids(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|x| id(x)).collect()
    }

    #[test]
    fn a_complete_result_says_nothing() {
        let mut meta = fixture_meta();
        meta.planned = ids(&["a", "b"]);
        let recs = vec![cell("a", CellStatus::Pass), cell("b", CellStatus::Fail)];
        let c = Completeness::of(&meta, &recs);
        assert!(c.is_complete());
        assert_eq!(c.summary(), "");
    }

    #[test]
    fn names_the_missing_shard_and_the_planned_cells_without_a_record() {
        let mut meta = fixture_meta();
        meta.planned = ids(&["a", "b", "c", "d", "e"]);
        let shard = |s: &str| ShardInfo {
            shard: Some(s.into()),
            host: meta.host.clone(),
            started_at: String::new(),
            finished_at: String::new(),
            wall_ms: 0,
            cells: 1,
            interrupted: false,
        };
        meta.shards = vec![shard("1/4"), shard("3/4"), shard("4/4")];
        let recs = vec![cell("a", CellStatus::Pass), cell("c", CellStatus::Pass)];
        let c = Completeness::of(&meta, &recs);
        assert_eq!(c.missing_shards, ["2/4"]);
        assert_eq!(c.unrecorded, ids(&["b", "d", "e"]));
        assert_eq!(
            c.summary(),
            "incomplete: shard 2/4 missing, 3 planned cells without a record"
        );
        assert_eq!(
            c.details(2),
            format!(
                "incomplete: shard 2/4 missing, 3 planned cells without a record\n  no record: {}\n  no record: {}\n  … and 1 more",
                id("b"),
                id("d")
            )
        );
    }

    #[test]
    fn a_torn_last_record_leaves_its_cell_unrecorded() {
        let mut meta = fixture_meta();
        meta.planned = ids(&["a", "b", "c"]);
        let recs = vec![cell("a", CellStatus::Pass), cell("b", CellStatus::Pass)];
        let c = Completeness::of(&meta, &recs);
        assert!(c.missing_shards.is_empty());
        assert_eq!(c.summary(), "incomplete: 1 planned cell without a record");
    }
}
