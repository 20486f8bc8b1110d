//! Diagnosis: what a failed step left behind (exit status, output, what is known of the binary
//! and the root it ran on) made into a stable `Cause` and a one-line hint that says what to
//! change. From the bottom up:
//!
//! - [`failure`]: the failure and the facts around a run, which every part below reads.
//! - [`build`]: a failed build — the compiler's log, or the module graph.
//! - [`generic`]: what any failed run looks like (status, signal, loader, qemu, limits, output).
//! - [`traps`]: Go's runtime needs a root may lack (zoneinfo, CA roots, users, resolver, CPU
//!   level: [`cpu_level`]), confirmed against that root; they refine a generic failure.
//! - [`gotest`]: a test binary's verdict from its tests' record.
//!
//! [`diagnose_run`] is the one entry point for runs: generic classification, then traps.

pub mod build;
pub mod cpu_level;
pub mod failure;
pub mod generic;
pub mod gotest;
pub mod known_defects;
pub mod traps;

pub use build::{classify_build, classify_module_failure};
pub use failure::{Failure, RUN_PATH, RunContext, SOURCE_COPY_BYTES, TrapContext};
pub use generic::first_difference;
pub use gotest::test_verdict;

use crossmatrix_matrix::Expectation;
use crossmatrix_sandbox::process::Finished;

/// Diagnoses a finished run; `None` means it passed. A generic failure whose output names an
/// environment trap that the run's root confirms becomes that trap.
pub fn diagnose_run(f: &Finished, ctx: &RunContext, expect: &Expectation) -> Option<Failure> {
    generic::classify_generic(f, ctx, expect).map(|generic| traps::refine(generic, f, ctx))
}
