//! Schedules a plan's cells over worker threads and hands each finished record to the caller
//! as it ends (so it can be written before the next one finishes). Expensive cells start
//! first (see [`costs`]).

use crate::cell::Runner;
use crossmatrix_matrix::Cell;
use crossmatrix_results::CellRecord;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;

/// What the dispatcher tells its caller.
pub enum Event<'a> {
    Started(&'a Cell),
    Finished(&'a Cell, Box<CellRecord>),
}

/// Estimated cost of each cell, in rough seconds of CPU, used to start the longest first. Work
/// that cells share is charged to the first cell that needs it: zig's libc build for a target
/// (tens of seconds for musl) and a toolchain's standard library for a GOARCH. Later cells of
/// the same key are cheap, so they run after the expensive first ones have filled the caches
/// instead of queueing behind the same lock.
fn costs(cells: &[Cell], host_arch: &str) -> Vec<u32> {
    let mut zig_seen = HashSet::new();
    let mut std_seen = HashSet::new();
    cells
        .iter()
        .map(|cell| {
            if cell.skip.is_some() {
                return 0;
            }
            let mut c = 2;
            if cell.target.goarch != host_arch {
                c += 1;
            }
            if std_seen.insert((
                cell.toolchain.version.clone(),
                cell.target.clone(),
                cell.cgo,
            )) {
                c += 9;
            }
            if cell.cgo {
                let first = zig_seen.insert((cell.target.goarch.clone(), cell.libc));
                c += match (first, cell.libc) {
                    (true, Some(crossmatrix_matrix::Libc::Musl)) => 70,
                    (true, _) => 15,
                    (false, _) => 3,
                };
            }
            c
        })
        .collect()
}

/// Runs `cells` on `jobs` threads; `on_event` runs on the calling thread, in finish order.
/// `stop` makes workers take no new cells (for SIGINT).
pub fn run_cells<F>(
    runner: &Runner,
    cells: &[Cell],
    jobs: usize,
    stop: &AtomicBool,
    mut on_event: F,
) where
    F: FnMut(Event<'_>),
{
    let cost = costs(cells, &runner.host().host_goarch);
    let mut order: Vec<usize> = (0..cells.len()).collect();
    // Stable: equal costs keep plan order.
    order.sort_by_key(|i| std::cmp::Reverse(cost[*i]));
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Option<CellRecord>)>();
    thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            let tx = tx.clone();
            let (order, next) = (&order, &next);
            s.spawn(move || {
                loop {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&i) = order.get(k) else { break };
                    if tx.send((i, None)).is_err() {
                        break;
                    }
                    let rec = runner.run_cell(&cells[i]);
                    if tx.send((i, Some(rec))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (i, rec) in rx {
            match rec {
                None => on_event(Event::Started(&cells[i])),
                Some(r) => on_event(Event::Finished(&cells[i], Box::new(r))),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossmatrix_matrix::{Libc, Program, RootfsSpec, Target, Toolchain};
    use std::sync::Arc;

    #[test]
    fn shared_work_is_charged_to_the_first_cell() {
        let tc = |v: &str| {
            Arc::new(Toolchain {
                name: v.into(),
                version: v.into(),
                goroot: "/x".into(),
                ports: vec![],
            })
        };
        let p = Arc::new(Program::probe());
        let cell = |t: &Arc<Toolchain>, arch: &str, libc: Option<Libc>| {
            Cell::new(
                t.clone(),
                Target::linux(arch),
                libc.is_some(),
                libc,
                RootfsSpec::matching(libc.is_some(), libc),
                p.clone(),
            )
        };
        let (a, b) = (tc("go1.22"), tc("go1.24"));
        let cells = vec![
            cell(&a, "amd64", None),
            cell(&a, "arm64", Some(Libc::Musl)),
            cell(&b, "arm64", Some(Libc::Musl)),
            cell(&a, "arm64", Some(Libc::Gnu)),
        ];
        let c = costs(&cells, "amd64");
        // go1.22/arm64 with cgo already paid for its standard library in the musl cell.
        assert_eq!(c, vec![11, 82, 15, 18]);
    }
}
