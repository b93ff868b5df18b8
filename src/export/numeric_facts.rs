//! Collects [`NumericFacts`] per numeric and money column while a table is exported, for the
//! manifest's `numeric_facts`: the values are looked at as they are encoded, so the import
//! decides each column's SQLite type without reading the data twice.

use std::collections::BTreeMap;

use crate::model::manifest::NumericFacts;

/// One table's facts, by column.
#[derive(Debug, Default)]
pub struct Collector {
    columns: BTreeMap<String, NumericFacts>,
}

impl Collector {
    /// Looks at one encoded value of `column` (its JSON string, `"12.50"`), never SQL NULL.
    pub fn value(&mut self, column: &str, encoded: &[u8]) {
        let text = encoded.strip_prefix(b"\"").and_then(|t| t.strip_suffix(b"\""));
        let text = text.and_then(|t| std::str::from_utf8(t).ok()).unwrap_or("?");
        if !self.columns.contains_key(column) {
            self.columns.insert(column.to_owned(), NumericFacts::default());
        }
        if let Some(f) = self.columns.get_mut(column) {
            f.observe(text);
        }
    }

    /// Declares `column` so that it is recorded even when it holds only NULL (or no rows):
    /// facts of zero values still tell the import the column was looked at.
    pub fn column(&mut self, column: &str) {
        self.columns.entry(column.to_owned()).or_default();
    }

    /// The facts for the manifest.
    pub fn facts(&self) -> BTreeMap<String, NumericFacts> {
        self.columns.clone()
    }
}
