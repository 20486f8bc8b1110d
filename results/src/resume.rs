//! What `run --resume OUT` needs from an interrupted run: which cells already finished, with
//! which inputs, and the final set of records once the rest has been appended.
//!
//! How `run --resume OUT` uses it:
//!
//! 1. `CellWriter::open_append(OUT)`: cuts a partial last line left by a kill (show
//!    [`CellWriter::warnings`](crate::CellWriter::warnings)) and appends from there.
//! 2. `read_cells(OUT)` then [`completed_ids`]: cell id → `inputs_hash` of its latest record.
//! 3. Plan as usual (same matrix flags) and skip every cell whose id maps to its current
//!    inputs hash: it finished with the same toolchain, target, mode, rootfs and program, so
//!    running it again would only repeat it. Failed cells count as finished (their failure
//!    is their result); a cell whose inputs changed runs again and its new record is appended
//!    after the old one.
//! 4. After the run, read `cells.jsonl` again and report [`latest_records`] (one record per
//!    id, the last one winning, in plan order via [`in_plan_order`]); write `run.json` with
//!    totals from those records and `interrupted` set when a planned id has none.

use crate::schema::CellRecord;
use std::collections::HashMap;

/// Cell id → `inputs_hash` of the cell's last record, for every cell that has a record.
pub fn completed_ids(records: &[CellRecord]) -> HashMap<String, String> {
    records
        .iter()
        .map(|r| (r.id.clone(), r.inputs_hash.clone()))
        .collect()
}

/// True when `id` must run (again): it has no record, or its record came from other inputs.
/// A record without an inputs hash (an older crossmatrix) never counts as done.
pub fn needs_run(completed: &HashMap<String, String>, id: &str, inputs_hash: &str) -> bool {
    match completed.get(id) {
        Some(h) => h.is_empty() || h != inputs_hash,
        None => true,
    }
}

/// One record per id, the last one of each winning, in the order ids first appear.
pub fn latest_records(records: &[CellRecord]) -> Vec<CellRecord> {
    let mut out: Vec<CellRecord> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for r in records {
        match index.get(&r.id) {
            Some(&i) => out[i] = r.clone(),
            None => {
                index.insert(r.id.clone(), out.len());
                out.push(r.clone());
            }
        }
    }
    out
}

/// Sorts `records` into the order of `planned` (stable: ids outside the plan go last, in
/// their current order).
pub fn in_plan_order(records: &mut [CellRecord], planned: &[String]) {
    let position: HashMap<&str, usize> = planned
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    records.sort_by_key(|r| position.get(r.id.as_str()).copied().unwrap_or(usize::MAX));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{RecordExt, cell};
    use crate::schema::CellStatus;
    use crate::store::{CellWriter, read_cells};
    use std::io::Write as _;

    const A: &str = "go1.24/linux-amd64/cgo0/rootfs-scratch/probe";
    const B: &str = "go1.24/linux-arm64/cgo0/rootfs-scratch/probe";
    const C: &str = "go1.24/linux-riscv64/cgo0/rootfs-scratch/probe";

    #[test]
    fn completed_ids_keep_the_last_inputs_hash() {
        let mut a2 = cell(A, CellStatus::Pass);
        a2.inputs_hash = "new-inputs".into();
        let records = [
            cell(A, CellStatus::Fail).cause(crate::Cause::Timeout),
            cell(B, CellStatus::Fail).cause(crate::Cause::Signal),
            a2.clone(),
        ];
        let done = completed_ids(&records);
        assert_eq!(done.len(), 2);
        assert_eq!(done[A], "new-inputs");
        assert!(!needs_run(&done, A, "new-inputs"));
        assert!(needs_run(&done, A, &format!("inputs-of-{A}")));
        // A failed cell finished: it is not run again.
        assert!(!needs_run(&done, B, &format!("inputs-of-{B}")));
        assert!(needs_run(&done, C, "anything"));
        let mut empty = HashMap::new();
        empty.insert(C.to_string(), String::new());
        assert!(needs_run(&empty, C, ""));

        let latest = latest_records(&records);
        assert_eq!(latest.len(), 2);
        assert_eq!(latest[0], a2);
        let mut latest = latest;
        in_plan_order(&mut latest, &[B.to_string(), A.to_string()]);
        assert_eq!(latest[0].id, B);
    }

    /// The whole resume cycle on disk: a run killed mid-record, resumed, completed.
    #[test]
    fn resume_cycle_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let planned = [A, B, C].map(String::from);
        let rec = |id: &str| cell(id, CellStatus::Pass).size(1000);
        let mut w = CellWriter::create(dir.path()).unwrap();
        w.append(&rec(A)).unwrap();
        drop(w);
        // Killed while writing B.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(crate::CELLS_FILE))
            .unwrap();
        f.write_all(b"{\"schema\":1,\"id\":\"go1.24/linux-ar")
            .unwrap();
        drop(f);

        let mut w = CellWriter::open_append(dir.path()).unwrap();
        assert_eq!(w.warnings().len(), 1);
        let done = completed_ids(&read_cells(dir.path()).unwrap().records);
        let to_run: Vec<&String> = planned
            .iter()
            .filter(|id| needs_run(&done, id, &format!("inputs-of-{id}")))
            .collect();
        assert_eq!(to_run, [&planned[1], &planned[2]]);
        for id in to_run {
            w.append(&rec(id)).unwrap();
        }
        drop(w);
        let read = read_cells(dir.path()).unwrap();
        assert!(read.warnings.is_empty());
        let mut records = latest_records(&read.records);
        in_plan_order(&mut records, &planned);
        assert_eq!(records, [rec(A), rec(B), rec(C)]);
    }
}
