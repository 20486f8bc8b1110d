//! crossmatrix's execution layer: how every child process is started, bounded and stopped.
//! It knows nothing of cells, Go or records; the other crates build on it.
//!
//! - [`process`]: one child from spawn to [`process::ChildEnd`] — its own process group, a
//!   deadline (SIGTERM, a grace period, then SIGKILL of the whole group), output captured with
//!   a cap ([`capture`]), and an [`abort::Abort`] handle that stops a whole run at once.
//! - [`host`]: host commands (`go env`, `apt-get`, `qemu --version`) on top of [`process`],
//!   with errors that name the command and its stderr.
//! - [`bwrap`]: the bubblewrap sandbox builds and runs go through.
//! - [`limits`]: memory and task limits of a step (cgroups v2/v1, else rlimits).
//! - [`wasm`]: the embedded wasmtime that runs `GOOS=wasip1` programs.

pub mod abort;
pub mod bwrap;
pub mod capture;
pub mod host;
pub mod limits;
pub mod process;
pub mod scratch_copy;
pub mod wasm;

pub use abort::Abort;
pub use process::{CaptureOptions, ChildEnd, Finished};
