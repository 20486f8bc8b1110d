//! crossmatrix's results: the record schema every consumer relies on, the append-only store
//! (`cells.jsonl` + `run.json`) and the report writers. Knows nothing of how cells ran.

pub mod schema;

pub use crossmatrix_matrix::Cause;
pub use schema::*;
