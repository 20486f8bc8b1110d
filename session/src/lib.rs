//! crossmatrix's run pipeline, from what the user asked to what is recorded. Its stages, in
//! order:
//!
//! 1. [`plan`] — a config file or axis flags become cells: toolchains resolved on this host,
//!    the matrix expanded, `--filter` and `--shard` applied.
//!    [`fetch`] — the modules the plan's builds need, downloaded once into the module cache
//!    (the only step with network; builds read the cache offline).
//! 2. [`session`] — one run of those cells into an output directory: `--resume` against what
//!    it holds, then scheduling, each record stored as its cell ends, interrupts, `run.json`.
//!    - [`dispatch`] — the scheduler: expensive cells first, builds sharing the cores, timed
//!      runs only while no build runs.
//!    - [`executor`] — what it asks of whatever runs a cell (crossmatrix-runner's `Runner`:
//!      build → inspect → run → time → classify, all sandboxed).
//!    - [`accounting`] — CPU seconds and the bound the wall time is compared with.
//! 3. [`observer`] — the events a session emits for a progress bar, CI log lines or a test.
//!
//! Reports are made from the records by crossmatrix-results; this crate only stores them.
//! [`probe`] plans the embedded trap suite (`crossmatrix probe`) instead of a user's matrix.
//! [`host`] says what `run.json` records about the machine; [`interrupt`] turns SIGINT into
//! the session's stop flag.

pub mod accounting;
pub mod cell_executor;
pub mod dispatch;
pub mod host;
pub mod interrupt;
pub mod module_fetch;
pub mod observer;
pub mod plan;
pub mod session;
pub mod trap_suite;

pub use cell_executor::{CellExecutor, Staged};
pub use observer::{Event, Observer, Silent};
pub use plan::{PlanError, PlanRequest, Planned, make_plan};
pub use session::{Outcome, RecordSink, RunOptions, RunSpec, Session, SessionError};
