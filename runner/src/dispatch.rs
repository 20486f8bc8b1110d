//! Schedules a plan's cells over worker threads and hands each finished record to the caller
//! as it ends (so it can be written before the next one finishes). Expensive cells start
//! first: cgo cells (a first zig libc build per target is the longest job), then emulated ones.

use crate::cell::Runner;
use crossmatrix_matrix::Cell;
use crossmatrix_results::CellRecord;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;

/// What the dispatcher tells its caller.
pub enum Event<'a> {
    Started(&'a Cell),
    Finished(&'a Cell, CellRecord),
}

/// A rough cost estimate used to start the longest cells first.
fn cost(cell: &Cell, host_arch: &str) -> u32 {
    if cell.skip.is_some() {
        return 0;
    }
    let mut c = 10;
    if cell.cgo {
        c += if cell.libc == Some(crossmatrix_matrix::Libc::Musl) { 70 } else { 20 };
    }
    if cell.target.goarch != host_arch {
        c += 5;
    }
    c
}

/// Runs `cells` on `jobs` threads; `on_event` runs on the calling thread, in finish order.
/// `stop` makes workers take no new cells (for SIGINT).
pub fn run_cells<F>(runner: &Runner, cells: &[Cell], jobs: usize, stop: &AtomicBool, mut on_event: F)
where
    F: FnMut(Event<'_>),
{
    let host_arch = runner.host().host_goarch.clone();
    let mut order: Vec<usize> = (0..cells.len()).collect();
    // Stable: equal costs keep plan order.
    order.sort_by_key(|i| std::cmp::Reverse(cost(&cells[*i], &host_arch)));
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
                Some(r) => on_event(Event::Finished(&cells[i], r)),
            }
        }
    });
}
