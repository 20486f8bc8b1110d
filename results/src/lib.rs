//! crossmatrix's results: the record schema every consumer relies on, the append-only store
//! (`cells.jsonl` + `run.json`) and the report writers. Knows nothing of how cells ran.

pub mod compare;
pub mod complete;
#[cfg(test)]
mod fixtures;
pub mod history;
pub mod merge;
pub mod report;
pub mod resume;
pub mod schema;
pub mod stats;
pub mod store;

pub use compare::{
    Change, CompareError, CompareFormat, CompareOptions, CompareRuns, Compared, Comparison, Gate,
    GateViolation, TestChange, TestComparison, check_gates, compare, compare_emulators,
    compare_runs, compare_toolchains, emulator_names, render_comparison, split_by_toolchain,
};
pub use complete::Completeness;
pub use crossmatrix_matrix::Cause;
pub use history::{
    ChangePoint, DetectOptions, History, HistoryFormat, HistoryGate, HistorySeries, Night, analyze,
    check_history_gates, render_history,
};
pub use merge::{MergeError, MergeInput, merge};
pub use report::{
    RenderOptions, ReportError, ReportFormat, TRAP_PROGRAM_PREFIX, format_ms, human_size,
    is_trap_suite, render, render_html_history, render_portability,
};
pub use resume::{completed_ids, in_plan_order, latest_records, needs_run};
pub use schema::*;
pub use store::{
    CELLS_FILE, CellWriter, CellsRead, RUN_META_FILE, StoreError, read_cells, read_run_meta,
    write_run_meta,
};
