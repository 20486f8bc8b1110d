//! What the scheduler asks of whatever runs a cell: build and verify it, then time it. The
//! real one is [`crossmatrix_runner::Runner`]; tests of the pipeline use a fake that needs no
//! Go, bubblewrap or qemu.

use crossmatrix_matrix::Cell;
use crossmatrix_results::CellRecord;
use crossmatrix_runner::Runner;
use crossmatrix_runner::process;
use crossmatrix_runner::timing::{TimingJob, TimingMode};

/// A cell after its first stage.
pub enum Staged<J> {
    /// Built, inspected and verified (or failed, or skipped): the record, and for a cell that
    /// passed and is to be timed, the timed runs still to do.
    Done(Box<CellRecord>, Option<J>),
    /// An interrupt killed it mid-step: neither passed nor failed, so not recorded.
    Killed,
}

/// Runs cells for the scheduler ([`crate::dispatch::run_cells`]). Shared by its workers.
pub trait CellExecutor: Sync {
    /// A passing cell's timed runs, done later when nothing competes with them.
    type Timing: Send;

    /// Builds, inspects and verifies `cell`, with `go build -p build_jobs` when given.
    fn stage(&self, cell: &Cell, build_jobs: Option<usize>) -> Staged<Self::Timing>;

    /// Runs `job` and returns `rec` with its startup figures; `None` when an interrupt killed
    /// the timed runs.
    fn time(&self, rec: CellRecord, job: &Self::Timing) -> Option<CellRecord>;

    /// When timed runs may run beside builds and each other.
    fn timing_mode(&self) -> TimingMode;

    /// The GOARCH this host runs natively (foreign cells cost more).
    fn host_goarch(&self) -> &str;

    /// Kills every running step, and every one started from now on (an interrupt).
    fn abort_all(&self);
}

impl CellExecutor for Runner {
    type Timing = TimingJob;

    fn stage(&self, cell: &Cell, build_jobs: Option<usize>) -> Staged<TimingJob> {
        process::take_aborted_here();
        let (rec, job) = self.run_cell_staged_with(cell, build_jobs);
        if process::take_aborted_here() {
            Staged::Killed
        } else {
            Staged::Done(Box::new(rec), job)
        }
    }

    fn time(&self, rec: CellRecord, job: &TimingJob) -> Option<CellRecord> {
        process::take_aborted_here();
        let timed = Runner::time(self, rec, job);
        (!process::take_aborted_here()).then_some(timed)
    }

    fn timing_mode(&self) -> TimingMode {
        Runner::timing_mode(self)
    }

    fn host_goarch(&self) -> &str {
        &self.host().host_goarch
    }

    fn abort_all(&self) {
        process::abort_all();
    }
}
