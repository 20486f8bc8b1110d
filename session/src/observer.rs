//! What a session tells whoever shows its progress (a progress bar on a terminal, plain lines
//! in CI logs, or a test): one stream of events, in the order things happen, on the thread
//! that called [`crate::Session::run`]. The session decides nothing from the observer: showing
//! progress can never change what is run or recorded.

use crossmatrix_matrix::Cell;
use crossmatrix_results::CellRecord;
use std::path::Path;

/// One thing that happened in a session.
pub enum Event<'a> {
    /// Before the first cell: how many cells will run, and how many an earlier run of the same
    /// output directory already recorded (`--resume`).
    Planned {
        out: &'a Path,
        to_run: usize,
        already_recorded: usize,
        resumed: bool,
        toolchains: usize,
        jobs: usize,
        reps: u32,
    },
    /// A cell started building.
    Started(&'a Cell),
    /// Built and verified; its timed startup runs wait until no build runs.
    Queued(&'a Cell),
    /// Its timed runs started.
    Timing(&'a Cell),
    /// Killed mid-step by an interrupt: not recorded, so `--resume` runs it again.
    Killed(&'a Cell),
    /// A cell's record was stored (`done` of `total` cells of this run are).
    Finished {
        cell: &'a Cell,
        record: &'a CellRecord,
        done: usize,
        total: usize,
    },
    /// The first time the session sees the stop request: no more cells start, the running
    /// ones are being killed.
    Interrupted,
}

/// Receives a session's [`Event`]s.
pub trait Observer {
    fn event(&mut self, event: Event<'_>);
}

/// Any closure taking events is an observer.
impl<F: FnMut(Event<'_>)> Observer for F {
    fn event(&mut self, event: Event<'_>) {
        self(event)
    }
}

/// Shows nothing.
pub struct Silent;

impl Observer for Silent {
    fn event(&mut self, _: Event<'_>) {}
}
