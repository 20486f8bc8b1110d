//! crossmatrix's runner: builds, inspects, runs and times one cell in a bubblewrap sandbox
//! (through [`crossmatrix_sandbox`]) and names every failure with a `Cause` and a hint.
//!
//! - [`runner`]: what the scheduler calls: [`Runner::stage`] (build, inspect, verification run
//!   or tests) and [`Runner::time`] (the timed startup runs, later).
//! - [`cell`]: the steps of one cell, in order (its module docs list them).
//! - [`diagnose`]: failures made into causes and hints.
//! - [`cache`]: build and result caches, and their pruning.
//! - [`gotest`] and [`test2json`]: a test binary's flags and its output made into records.
//! - [`build_env`]: the go command's environment in a sandbox (offline, GOGC and a memory
//!   limit for the compiler), shared by builds and the test2json build.
//! - [`download`]: `crossmatrix fetch`'s module download in a networked sandbox.

pub mod build_env;
pub mod cache;
pub mod cell;
pub mod diagnose;
pub mod download;
pub mod gotest;
pub mod runner;
pub mod test2json;

pub use cell::count::Metric;
pub use cell::inspect;
pub use cell::shared::RunnerConfig;
pub use cell::time::{TimingJob, TimingMode};
pub use runner::{Runner, RunnerError, Staged};
