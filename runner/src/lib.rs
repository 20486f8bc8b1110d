//! crossmatrix's runner: builds, inspects and runs one cell inside a bubblewrap sandbox, times
//! its startup and classifies every failure into a `Cause` with a hint.

pub mod inspect;
pub mod wasm;
