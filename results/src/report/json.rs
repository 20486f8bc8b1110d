//! `json`: the records as one pretty JSON array (the same fields as `cells.jsonl`).

use super::{RenderOptions, ReportError, Reporter};
use crate::schema::{CellRecord, RunMeta};

pub(super) struct JsonReporter;

impl Reporter for JsonReporter {
    fn render(
        &self,
        records: &[CellRecord],
        _meta: Option<&RunMeta>,
        _opts: &RenderOptions,
    ) -> Result<String, ReportError> {
        let mut out = serde_json::to_string_pretty(records)?;
        out.push('\n');
        Ok(out)
    }
}
