//! Schedules a plan's cells over worker threads and hands each finished record to the caller
//! as it ends (so it can be written before the next one finishes). Expensive cells start
//! first (see [`costs`]); timed runs wait for a quiet machine (see [`run_cells`]).

use crate::cell_executor::{CellExecutor, Staged};
use crossmatrix_matrix::Cell;
use crossmatrix_results::CellRecord;
use crossmatrix_runner::TimingMode;
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, mpsc};
use std::thread;

/// What the dispatcher tells its caller.
pub enum Dispatched<'a> {
    Started(&'a Cell),
    /// Built and verified; its timed startup runs wait until no build runs.
    Queued(&'a Cell),
    /// Its timed runs started.
    Timing(&'a Cell),
    Finished(&'a Cell, Box<CellRecord>),
    /// Killed mid-step by an interrupt: not recorded, so `--resume` runs it again.
    Killed(&'a Cell),
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
                    // zig's compiler-rt (and glibc stubs) for the target; musl itself comes
                    // prebuilt from Debian when it can be fetched (else ~90 s more).
                    (true, Some(crossmatrix_matrix::Libc::Musl)) => 25,
                    (true, _) => 20,
                    (false, _) => 3,
                };
            }
            c
        })
        .collect()
}

/// Runs `cells` on `jobs` threads; `on_event` runs on the calling thread, in finish order.
/// `stop` (for SIGINT) makes workers take no new cells and kills the running ones' process
/// groups ([`CellExecutor::abort_all`]); a cell cut short that way is reported as
/// [`Dispatched::Killed`], never as a failure. Cells already built and verified (waiting for or in
/// their timed runs) are recorded without startup figures, so nothing finished is lost.
///
/// With [`TimingMode::Quiet`] (the default), a passing cell's timed startup runs are queued
/// and run only while no build runs, and no build starts while they run: compilers competing
/// for the cores would otherwise inflate and scatter the samples. The CPU work is the same
/// either way; the timed runs just move to the gaps between builds (in practice, the end).
/// [`TimingMode::Exclusive`] also keeps timed cells from running beside each other;
/// [`TimingMode::Overlap`] times a cell as soon as it passed.
pub fn run_cells<E, F>(runner: &E, cells: &[Cell], jobs: usize, stop: &AtomicBool, mut on_event: F)
where
    E: CellExecutor,
    F: FnMut(Dispatched<'_>),
{
    let cost = costs(cells, runner.host_goarch());
    let mut order: Vec<usize> = (0..cells.len()).collect();
    // Stable: equal costs keep plan order.
    order.sort_by_key(|i| std::cmp::Reverse(cost[*i]));
    let order: VecDeque<usize> = order.into();
    let mode = runner.timing_mode();
    let deferred = mode != TimingMode::Overlap;
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    let state = Mutex::new(State::<E::Timing> {
        cores,
        jobs: jobs.max(1),
        order,
        timing: VecDeque::new(),
        building: 0,
        timing_now: 0,
    });
    let changed = Condvar::new();
    let (tx, rx) = mpsc::channel::<(usize, Msg)>();
    let all_done = AtomicBool::new(false);
    thread::scope(|s| {
        // Turns a stop request into killing what runs now (workers are blocked in their steps).
        let all_done = &all_done;
        s.spawn(move || {
            while !all_done.load(Ordering::SeqCst) {
                if stop.load(Ordering::SeqCst) {
                    runner.abort_all();
                    break;
                }
                thread::sleep(std::time::Duration::from_millis(20));
            }
        });
        for _ in 0..jobs.max(1) {
            let tx = tx.clone();
            let (state, changed) = (&state, &changed);
            s.spawn(move || {
                loop {
                    let work = {
                        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
                        loop {
                            if stop.load(Ordering::SeqCst) {
                                break Work::Drain;
                            }
                            if let Some(w) = st.next(mode) {
                                break w;
                            }
                            if st.finished() {
                                break Work::Done;
                            }
                            st = changed
                                .wait_timeout(st, std::time::Duration::from_millis(200))
                                .unwrap_or_else(|e| e.into_inner())
                                .0;
                        }
                    };
                    match work {
                        Work::Done => break,
                        Work::Drain => {
                            // Record what waits for timing, untimed, then stop.
                            let waiting: Vec<_> = {
                                let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
                                st.timing.drain(..).collect()
                            };
                            for (i, rec, _) in waiting {
                                let _ = tx.send((i, Msg::Done(Box::new(rec))));
                            }
                            changed.notify_all();
                            break;
                        }
                        Work::Build(i, build_jobs) => {
                            if tx.send((i, Msg::Started)).is_err() {
                                break;
                            }
                            let staged = runner.stage(&cells[i], build_jobs);
                            let killed = matches!(staged, Staged::Killed);
                            let finished = match staged {
                                Staged::Killed => None,
                                Staged::Done(rec, Some(job)) if deferred => {
                                    let _ = tx.send((i, Msg::Queued));
                                    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
                                    st.timing.push_back((i, *rec, job));
                                    None
                                }
                                Staged::Done(rec, Some(job)) => {
                                    Some(time_unless_killed(runner, *rec, &job))
                                }
                                Staged::Done(rec, None) => Some(*rec),
                            };
                            {
                                let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
                                st.building -= 1;
                            }
                            changed.notify_all();
                            let msg = match finished {
                                Some(rec) => Msg::Done(Box::new(rec)),
                                None if killed => Msg::Killed,
                                None => continue,
                            };
                            if tx.send((i, msg)).is_err() {
                                break;
                            }
                        }
                        Work::Time(i, boxed) => {
                            let (rec, job) = *boxed;
                            let _ = tx.send((i, Msg::Timing));
                            let rec = time_unless_killed(runner, rec, &job);
                            {
                                let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
                                st.timing_now -= 1;
                            }
                            changed.notify_all();
                            if tx.send((i, Msg::Done(Box::new(rec)))).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
        drop(tx);
        for (i, rec) in rx {
            match rec {
                Msg::Started => on_event(Dispatched::Started(&cells[i])),
                Msg::Queued => on_event(Dispatched::Queued(&cells[i])),
                Msg::Timing => on_event(Dispatched::Timing(&cells[i])),
                Msg::Done(r) => on_event(Dispatched::Finished(&cells[i], r)),
                Msg::Killed => on_event(Dispatched::Killed(&cells[i])),
            }
        }
        all_done.store(true, Ordering::SeqCst);
    });
}

/// The cell's timed runs; when an interrupt kills them, the verified record as it was, untimed.
fn time_unless_killed<E: CellExecutor>(runner: &E, rec: CellRecord, job: &E::Timing) -> CellRecord {
    runner.time(rec.clone(), job).unwrap_or(rec)
}

/// What a worker tells the calling thread.
enum Msg {
    Started,
    Queued,
    Timing,
    Done(Box<CellRecord>),
    Killed,
}

/// The dispatcher's shared state; `J` is a passing cell's timing job.
struct State<J> {
    cores: usize,
    jobs: usize,
    /// Cells not started, most expensive first.
    order: VecDeque<usize>,
    /// Built and verified cells waiting for their timed runs.
    timing: VecDeque<(usize, CellRecord, J)>,
    /// Cells in their build/verify stage.
    building: usize,
    /// Timed runs in progress.
    timing_now: usize,
}

enum Work<J> {
    /// A cell to build and verify, with the `go build -p` it should use.
    Build(usize, Option<usize>),
    Time(usize, Box<(CellRecord, J)>),
    /// Nothing left anywhere.
    Done,
    /// Stop requested.
    Drain,
}

impl<J> State<J> {
    /// What a free worker should do now, if anything: timed runs only while nothing builds,
    /// builds only while nothing is timed (unless overlapping), one timed cell at a time when
    /// exclusive.
    fn next(&mut self, mode: TimingMode) -> Option<Work<J>> {
        if self.may_time(mode) {
            if let Some((i, rec, job)) = self.timing.pop_front() {
                self.timing_now += 1;
                return Some(Work::Time(i, Box::new((rec, job))));
            }
        }
        if self.may_build(mode) {
            if let Some(i) = self.order.pop_front() {
                self.building += 1;
                return Some(Work::Build(i, Some(self.build_jobs())));
            }
        }
        None
    }

    /// Whether a queued timed cell may start now.
    fn may_time(&self, mode: TimingMode) -> bool {
        match mode {
            TimingMode::Overlap | TimingMode::Quiet => self.building == 0,
            TimingMode::Exclusive => self.building == 0 && self.timing_now == 0,
        }
    }

    /// Whether a build may start now.
    fn may_build(&self, mode: TimingMode) -> bool {
        mode == TimingMode::Overlap || self.timing_now == 0
    }

    /// The cores one more build may use: the machine's, shared by the builds that can run
    /// beside it (as many as the jobs, or fewer when few cells are left to build).
    fn build_jobs(&self) -> usize {
        let side_by_side = self.jobs.min(self.order.len() + self.building).max(1);
        (self.cores / side_by_side).max(1)
    }

    fn finished(&self) -> bool {
        self.order.is_empty()
            && self.timing.is_empty()
            && self.building == 0
            && self.timing_now == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossmatrix_matrix::{Libc, Program, RootfsSpec, Target, Toolchain};
    use std::sync::Arc;

    #[test]
    fn builds_share_the_cores_while_several_can_run() {
        let st = |cores, jobs, left: usize, building| State::<()> {
            cores,
            jobs,
            order: (0..left).collect(),
            timing: VecDeque::new(),
            building,
            timing_now: 0,
        };
        // Two builds at once on two cores: one core each.
        assert_eq!(st(2, 2, 5, 1).build_jobs(), 1);
        // The last build (nothing else to build beside it) gets every core.
        assert_eq!(st(2, 2, 0, 1).build_jobs(), 2);
        // More jobs than cores never goes below one.
        assert_eq!(st(2, 8, 20, 3).build_jobs(), 1);
        assert_eq!(st(8, 2, 20, 1).build_jobs(), 4);
    }

    #[test]
    fn timing_modes_gate_builds_and_timed_cells() {
        let st = |building, timing_now| State::<()> {
            cores: 2,
            jobs: 2,
            order: VecDeque::new(),
            timing: VecDeque::new(),
            building,
            timing_now,
        };
        use TimingMode::*;
        // (building, timing now) → (may time, may build) per mode.
        let cases = [
            (Quiet, 0, 0, true, true),
            (Quiet, 1, 0, false, true),
            (Quiet, 0, 1, true, false),
            (Exclusive, 0, 0, true, true),
            (Exclusive, 1, 0, false, true),
            (Exclusive, 0, 1, false, false),
            (Overlap, 1, 1, false, true),
            (Overlap, 0, 1, true, true),
        ];
        for (mode, b, t, time, build) in cases {
            let s = st(b, t);
            assert_eq!(
                (s.may_time(mode), s.may_build(mode)),
                (time, build),
                "{mode:?} with {b} building, {t} timed"
            );
        }
    }

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
        assert_eq!(c, vec![11, 37, 15, 23]);
    }
}
