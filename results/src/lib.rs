//! crossmatrix's results: the record schema every consumer relies on, the append-only store
//! (`cells.jsonl` + `run.json`) and the report writers. Knows nothing of how cells ran.

pub mod report;
pub mod schema;
pub mod store;

pub use crossmatrix_matrix::Cause;
pub use report::{RenderOptions, ReportError, ReportFormat, format_ms, human_size, render};
pub use schema::*;
pub use store::{
    CELLS_FILE, CellWriter, CellsRead, RUN_META_FILE, StoreError, read_cells, read_run_meta,
    write_run_meta,
};
