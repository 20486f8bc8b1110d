//! The run pipeline with a fake cell executor: no Go, bubblewrap or qemu. What a session must
//! do whatever runs its cells — store every record as it ends, in plan order at the end;
//! stop cleanly on an interrupt and keep what finished; stop on a store that fails; resume a
//! partial run by running only what has no record — checked through the public API.

use crossmatrix_matrix::{Cell, Plan, Program, RootfsSpec, Target, Toolchain};
use crossmatrix_results::store::{StoreError, read_cells, read_run_meta};
use crossmatrix_results::{CellRecord, CellStatus, HostInfo, StartupRecord, StepStatus};
use crossmatrix_runner::TimingMode;
use crossmatrix_session::{
    CellExecutor, Event, RecordSink, RunOptions, RunSpec, Session, SessionError, Staged,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the fake does with a cell.
#[derive(Clone, Copy, PartialEq)]
enum Act {
    Pass,
    /// Passes its verification and has timed runs to do.
    PassTimed,
    Fail,
    /// Builds until an interrupt kills it.
    Hang,
    /// Passes, then its timed runs hang until an interrupt kills them.
    HangTiming,
}

struct Fake {
    acts: HashMap<String, Act>,
    aborted: AtomicBool,
    staged: Arc<Mutex<Vec<String>>>,
    timed: AtomicUsize,
    timing_mode: TimingMode,
}

impl Fake {
    fn new(acts: &[(&Cell, Act)]) -> Fake {
        Fake {
            acts: acts.iter().map(|(c, a)| (c.id.to_string(), *a)).collect(),
            aborted: AtomicBool::new(false),
            staged: Arc::new(Mutex::new(Vec::new())),
            timed: AtomicUsize::new(0),
            timing_mode: TimingMode::Quiet,
        }
    }

    fn staged(&self) -> Vec<String> {
        self.staged.lock().unwrap().clone()
    }

    fn wait_for_abort(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !self.aborted.load(Ordering::SeqCst) {
            assert!(std::time::Instant::now() < deadline, "never interrupted");
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl CellExecutor for Fake {
    type Timing = Act;

    fn stage(&self, cell: &Cell, _jobs: Option<usize>) -> Staged<Act> {
        self.staged.lock().unwrap().push(cell.id.to_string());
        // Like the real runner: after an abort, every step started is killed at once.
        if self.aborted.load(Ordering::SeqCst) {
            return Staged::Killed;
        }
        let act = self
            .acts
            .get(cell.id.as_str())
            .copied()
            .unwrap_or(Act::Pass);
        let mut rec = CellRecord::for_cell(cell);
        rec.build.status = StepStatus::Ok;
        match act {
            Act::Hang => {
                self.wait_for_abort();
                return Staged::Killed;
            }
            Act::Fail => {
                rec.status = CellStatus::Fail;
                rec.cause = Some(crossmatrix_matrix::Cause::WrongExitCode);
            }
            _ => rec.status = CellStatus::Pass,
        }
        let timing = matches!(act, Act::PassTimed | Act::HangTiming).then_some(act);
        Staged::Done(Box::new(rec), timing)
    }

    fn time(&self, mut rec: CellRecord, job: &Act) -> Option<CellRecord> {
        if *job == Act::HangTiming {
            self.wait_for_abort();
            return None;
        }
        self.timed.fetch_add(1, Ordering::SeqCst);
        rec.startup = Some(StartupRecord {
            reps: 3,
            median_ms: 1.0,
            min_ms: 1.0,
            samples_ms: vec![1.0; 3],
            ..StartupRecord::default()
        });
        Some(rec)
    }

    fn timing_mode(&self) -> TimingMode {
        self.timing_mode
    }

    fn host_goarch(&self) -> &str {
        "amd64"
    }

    fn abort_all(&self) {
        self.aborted.store(true, Ordering::SeqCst);
    }
}

fn cells(n: usize) -> Vec<Cell> {
    let tc = Arc::new(Toolchain {
        name: "go1.24".into(),
        version: "go1.24.4".into(),
        goroot: "/usr/lib/go-1.24".into(),
        ports: vec![],
    });
    (0..n)
        .map(|i| {
            let mut p = Program::probe();
            p.name = format!("p{i}");
            Cell::new(
                tc.clone(),
                Target::linux("amd64"),
                false,
                None,
                RootfsSpec::Scratch,
                Arc::new(p),
            )
        })
        .collect()
}

fn spec(cells: &[Cell]) -> RunSpec {
    RunSpec {
        matrix_planned: Vec::new(),
        command: Vec::new(),
        cwd: String::new(),
        commit: None,
        plan: Plan {
            cells: cells.to_vec(),
        },
        matrix_hash: "hash".into(),
        shard: None,
        toolchains: vec![],
    }
}

fn opts(jobs: usize) -> RunOptions {
    RunOptions {
        jobs,
        reps: 3,
        timing: Some("quiet".into()),
        host: HostInfo {
            hostname: "test".into(),
            os: "test".into(),
            kernel: "test".into(),
            arch: "x86_64".into(),
            cores: 2,
            user: "test".into(),
            binfmt: false,
        },
        tools: vec![],
    }
}

/// Every event's name, in order.
fn names(events: &[String]) -> Vec<&str> {
    events.iter().map(String::as_str).collect()
}

fn name(e: &Event<'_>) -> String {
    match e {
        Event::Planned { to_run, .. } => format!("planned {to_run}"),
        Event::Started(c) => format!("started {}", c.program.name),
        Event::Queued(c) => format!("queued {}", c.program.name),
        Event::Timing(c) => format!("timing {}", c.program.name),
        Event::Killed(c) => format!("killed {}", c.program.name),
        Event::Finished { cell, done, .. } => format!("finished {} {done}", cell.program.name),
        Event::Interrupted => "interrupted".into(),
    }
}

#[test]
fn every_record_is_stored_as_it_ends_and_reported_in_plan_order() {
    let out = tempfile::tempdir().unwrap();
    let cs = cells(5);
    let fake = Fake::new(&[(&cs[1], Act::Fail), (&cs[3], Act::PassTimed)]);
    let stop = AtomicBool::new(false);
    let mut events = Vec::new();
    let mut on_disk_when_finished = Vec::new();
    let dir = out.path().to_path_buf();
    let outcome = Session::create(out.path())
        .unwrap()
        .run(&spec(&cs), &fake, &opts(1), &stop, &mut |e: Event<'_>| {
            if let Event::Finished { .. } = e {
                // The record is on disk before the observer hears of it.
                on_disk_when_finished.push(read_cells(&dir).unwrap().records.len());
            }
            events.push(name(&e));
        })
        .unwrap();
    assert_eq!(on_disk_when_finished, [1, 2, 3, 4, 5]);
    let ev = names(&events);
    assert_eq!(ev[0], "planned 5");
    // The timed cell is queued, then timed while no build runs.
    let queued = ev.iter().position(|e| *e == "queued p3").unwrap();
    let timing = ev.iter().position(|e| *e == "timing p3").unwrap();
    assert!(queued < timing, "{ev:?}");
    let ids: Vec<&str> = outcome.records.iter().map(|r| r.program.as_str()).collect();
    assert_eq!(ids, ["p0", "p1", "p2", "p3", "p4"]);
    assert_eq!(outcome.records[3].startup.as_ref().unwrap().reps, 3);
    assert_eq!(fake.timed.load(Ordering::SeqCst), 1);
    let meta = read_run_meta(out.path()).unwrap();
    assert_eq!((meta.totals.pass, meta.totals.fail), (4, 1));
    assert!(!meta.interrupted);
    assert_eq!(meta.planned.len(), 5);
    assert!(outcome.records.iter().all(|r| !r.inputs_hash.is_empty()));
}

#[test]
fn an_interrupt_keeps_what_finished_and_kills_what_runs() {
    let out = tempfile::tempdir().unwrap();
    let cs = cells(6);
    // Two workers: p0 and p1 pass; p2 and p4 hang in their builds; p3 passes its verification
    // and waits for its timed runs (quiet timing: not while p2 builds); p5 never starts.
    let fake = Fake::new(&[
        (&cs[2], Act::Hang),
        (&cs[3], Act::HangTiming),
        (&cs[4], Act::Hang),
        (&cs[5], Act::Hang),
    ]);
    let stop = AtomicBool::new(false);
    let mut events = Vec::new();
    let mut started = 0;
    let outcome = Session::create(out.path())
        .unwrap()
        .run(&spec(&cs), &fake, &opts(2), &stop, &mut |e: Event<'_>| {
            match e {
                Event::Started(_) => started += 1,
                // Interrupt once p3 waits for its timed runs and p2 and p4 hang.
                Event::Queued(_) => {
                    while fake.staged().len() < 5 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    stop.store(true, Ordering::SeqCst);
                }
                _ => {}
            }
            events.push(name(&e));
        })
        .unwrap();
    let ev = names(&events);
    assert_eq!(
        ev.iter().filter(|e| **e == "interrupted").count(),
        1,
        "{ev:?}"
    );
    let mut killed = outcome.killed.clone();
    killed.sort();
    assert_eq!(
        killed,
        [cs[2].id.to_string(), cs[4].id.to_string()],
        "{ev:?}"
    );
    assert!(
        ev.contains(&"killed p2") && ev.contains(&"killed p4"),
        "{ev:?}"
    );
    // p3 passed its verification: kept, untimed.
    let p3 = outcome.records.iter().find(|r| r.program == "p3").unwrap();
    assert_eq!(p3.status, CellStatus::Pass);
    assert!(p3.startup.is_none());
    // Nothing started after the interrupt.
    assert!(!fake.staged().contains(&cs[5].id.to_string()), "{ev:?}");
    assert_eq!(started, 5);
    let programs: Vec<&str> = outcome.records.iter().map(|r| r.program.as_str()).collect();
    assert_eq!(programs, ["p0", "p1", "p3"]);
    assert!(outcome.meta.interrupted);
    let stored = read_cells(out.path()).unwrap().records;
    assert_eq!(stored.len(), 3);
    assert!(read_run_meta(out.path()).unwrap().interrupted);
}

#[test]
fn an_interrupt_during_timed_runs_keeps_the_cell_untimed() {
    let out = tempfile::tempdir().unwrap();
    let cs = cells(2);
    let fake = Fake::new(&[(&cs[0], Act::HangTiming)]);
    let stop = AtomicBool::new(false);
    let outcome = Session::create(out.path())
        .unwrap()
        .run(&spec(&cs), &fake, &opts(1), &stop, &mut |e: Event<'_>| {
            if let Event::Timing(_) = e {
                stop.store(true, Ordering::SeqCst);
            }
        })
        .unwrap();
    // p0 is timed as soon as it passed (nothing builds beside it) and interrupted there: it
    // is recorded as verified, untimed; p1 never starts.
    assert_eq!(outcome.records.len(), 1);
    let p0 = &outcome.records[0];
    assert_eq!((p0.status, p0.startup.is_none()), (CellStatus::Pass, true));
    assert!(outcome.killed.is_empty());
    assert_eq!(fake.staged(), [cs[0].id.to_string()]);
    assert!(outcome.meta.interrupted);
    assert_eq!(read_cells(out.path()).unwrap().records.len(), 1);
}

/// Fails on the `n`th append.
struct FailingSink {
    appended: usize,
    fail_at: usize,
    /// The write fails only once this many cells were started (the cells a worker took
    /// before the failure reached it), so the test does not race the workers.
    after_started: Option<(Arc<Mutex<Vec<String>>>, usize)>,
}

impl RecordSink for FailingSink {
    fn append(&mut self, _rec: &CellRecord) -> Result<(), StoreError> {
        self.appended += 1;
        if self.appended == self.fail_at {
            if let Some((started, n)) = &self.after_started {
                let deadline = std::time::Instant::now() + Duration::from_secs(20);
                while started.lock().unwrap().len() < *n {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "cell {n} never started"
                    );
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            return Err(StoreError::Write {
                path: "cells.jsonl".into(),
                source: std::io::Error::other("No space left on device"),
            });
        }
        Ok(())
    }
}

#[test]
fn a_record_that_cannot_be_stored_stops_the_run_with_an_error() {
    let out = tempfile::tempdir().unwrap();
    let cs = cells(6);
    // Cells after the first two take until they are killed (as real builds take seconds).
    let fake = Fake::new(&[
        (&cs[2], Act::Hang),
        (&cs[3], Act::Hang),
        (&cs[4], Act::Hang),
        (&cs[5], Act::Hang),
    ]);
    let stop = AtomicBool::new(false);
    let sink = Box::new(FailingSink {
        appended: 0,
        fail_at: 2,
        after_started: Some((Arc::clone(&fake.staged), 3)),
    });
    let mut events = Vec::new();
    let err = Session::with_sink(out.path(), sink, vec![], false)
        .run(&spec(&cs), &fake, &opts(1), &stop, &mut |e: Event<'_>| {
            events.push(name(&e))
        })
        .unwrap_err();
    assert!(matches!(err, SessionError::Write { .. }), "{err}");
    assert!(err.to_string().contains("No space left on device"), "{err}");
    // The cell running when the write failed was killed, none started after it, and the
    // run was not reported as interrupted.
    assert_eq!(fake.staged().len(), 3, "{events:?}");
    assert!(names(&events).contains(&"killed p2"), "{events:?}");
    assert!(!names(&events).contains(&"interrupted"), "{events:?}");
    // run.json is the one written before any cell ran: the plan, marked interrupted, so a
    // reader names the cells without a record.
    let meta = crossmatrix_results::read_run_meta(out.path()).unwrap();
    assert!(meta.interrupted);
    assert_eq!(meta.planned.len(), 6);
}

#[test]
fn resume_runs_only_the_cells_without_a_record() {
    let out = tempfile::tempdir().unwrap();
    let cs = cells(5);
    // First run: p2 hangs and an interrupt comes once two cells are done.
    let first = Fake::new(&[(&cs[2], Act::Hang)]);
    let stop = AtomicBool::new(false);
    let mut done = 0;
    let o1 = Session::create(out.path())
        .unwrap()
        .run(&spec(&cs), &first, &opts(1), &stop, &mut |e: Event<'_>| {
            if let Event::Finished { .. } = e {
                done += 1;
                if done == 2 {
                    stop.store(true, Ordering::SeqCst);
                }
            }
        })
        .unwrap();
    assert!(o1.meta.interrupted);
    assert_eq!(o1.records.len(), 2);

    // Second run of the same plan with --resume: only the other three run.
    let second = Fake::new(&[(&cs[4], Act::Fail)]);
    let stop = AtomicBool::new(false);
    let session = Session::resume(out.path()).unwrap();
    let mut planned = None;
    let o2 = session
        .run(&spec(&cs), &second, &opts(2), &stop, &mut |e: Event<'_>| {
            if let Event::Planned {
                to_run,
                already_recorded,
                resumed,
                ..
            } = e
            {
                planned = Some((to_run, already_recorded, resumed));
            }
        })
        .unwrap();
    assert_eq!(planned, Some((3, 2, true)));
    let mut staged = second.staged();
    staged.sort();
    let want: Vec<String> = cs[2..].iter().map(|c| c.id.to_string()).collect();
    assert_eq!(staged, want);
    assert!(!o2.meta.interrupted);
    let programs: Vec<&str> = o2.records.iter().map(|r| r.program.as_str()).collect();
    assert_eq!(programs, ["p0", "p1", "p2", "p3", "p4"]);
    assert_eq!((o2.meta.totals.pass, o2.meta.totals.fail), (4, 1));
    // cells.jsonl holds each cell once: nothing was recorded twice.
    assert_eq!(read_cells(out.path()).unwrap().records.len(), 5);

    // A cell whose inputs changed runs again; the others stay done.
    let mut changed = cs.clone();
    let mut p = (*changed[0].program).clone();
    p.args = vec!["--new".into()];
    changed[0].program = Arc::new(p);
    let third = Fake::new(&[]);
    let o3 = Session::resume(out.path())
        .unwrap()
        .run(
            &spec(&changed),
            &third,
            &opts(1),
            &stop,
            &mut |_e: Event<'_>| {},
        )
        .unwrap();
    assert_eq!(third.staged(), [cs[0].id.to_string()]);
    assert_eq!(o3.records.len(), 5);
    assert_eq!(o3.records[0].status, CellStatus::Pass);
}

#[test]
fn resume_of_a_directory_that_is_not_a_run_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let e = Session::resume(d.path()).err().unwrap();
    assert!(e.to_string().contains("no cells.jsonl there"), "{e}");
}
