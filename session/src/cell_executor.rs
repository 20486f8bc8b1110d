//! What the scheduler asks of whatever runs a cell: build and verify it, then time it. The
//! real one is [`crossmatrix_runner::Runner`]; tests of the pipeline use a fake that needs no
//! Go, bubblewrap or qemu.

use crossmatrix_matrix::Cell;
use crossmatrix_results::CellRecord;
use crossmatrix_runner::{Runner, TimingJob, TimingMode};

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
        // Each cell's children run under a scope of the runner's abort handle: an interrupt
        // stops them all, and the scope tells this cell's outcome apart.
        let scope = self.abort_handle().scope();
        let staged = Runner::stage(self, cell, build_jobs, &scope);
        if killed(&scope, &staged.record) {
            Staged::Killed
        } else {
            Staged::Done(Box::new(staged.record), staged.timing)
        }
    }

    fn time(&self, rec: CellRecord, job: &TimingJob) -> Option<CellRecord> {
        let scope = self.abort_handle().scope();
        let timed = Runner::time(self, rec, job, &scope);
        (!scope.was_hit()).then_some(timed)
    }

    fn timing_mode(&self) -> TimingMode {
        Runner::timing_mode(self)
    }

    fn host_goarch(&self) -> &str {
        &self.host().host_goarch
    }

    fn abort_all(&self) {
        self.abort_handle().abort();
    }
}

/// Whether an interrupt cut `rec`'s cell short: a child of it ended after the abort, or the
/// run was aborted and the cell did not pass (a step that waited on a shared tool another
/// cell was building when the abort came fails without a child of its own): neither passed
/// nor failed, so not recorded.
fn killed(scope: &crossmatrix_sandbox::Abort, rec: &CellRecord) -> bool {
    scope.was_hit() || (scope.is_aborted() && rec.status != crossmatrix_results::CellStatus::Pass)
}
