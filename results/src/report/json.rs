//! `json`: the records as one pretty JSON array (the same fields as `cells.jsonl`).

use super::{Input, ReportError, Reporter};

pub(super) struct JsonReporter;

impl Reporter for JsonReporter {
    fn render(&self, input: &Input<'_>) -> Result<String, ReportError> {
        let Input { records, .. } = *input;
        let mut out = serde_json::to_string_pretty(records)?;
        out.push('\n');
        Ok(out)
    }
}
