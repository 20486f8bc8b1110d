//! crossmatrix's runner: builds, inspects and runs one cell inside a bubblewrap sandbox, times
//! its startup and classifies every failure into a `Cause` with a hint.

pub mod buildcache;
pub mod buildenv;
pub mod cell;
pub mod classify;
pub mod fetch;
pub mod gosource;
pub mod gotest;
pub mod inspect;
pub mod modfail;
pub mod process;
pub mod prune;
pub mod resources;
pub mod resultcache;
pub mod sandbox;
pub mod stats;
pub mod test2json;
pub mod testcell;
pub mod timing;
pub mod traps;
pub mod wasm;

pub use cell::{Runner, RunnerConfig, RunnerError};
