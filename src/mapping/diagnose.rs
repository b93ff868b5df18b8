//! Naming the rows behind a failed CHECK that the schema itself added. SQLite's integrity
//! check says only "CHECK constraint failed in docs"; for the `json_valid` CHECK of a json
//! column this finds the first row it refuses, by key and column. An export made before
//! pg2lite recorded JSON depth (manifest `json_depth`) cannot tell the schema that a column
//! holds JSON nested deeper than SQLite accepts, so that is how such an export fails.

use rusqlite::Connection;

use super::Plan;
use super::names::quote_ident;
use crate::mapping::Conversion;
use crate::model::manifest::{Manifest, SQLITE_JSON_DEPTH};

/// For each json column of `plan` holding a value SQLite's `json_valid` refuses, the first
/// such row: `public.docs row (id=1), column body: ...`. Queries that fail are left out (this
/// explains an error; it must not hide it).
pub fn invalid_json(conn: &Connection, plan: &Plan, manifest: &Manifest) -> Vec<String> {
    let mut found = Vec::new();
    for t in &plan.tables {
        let entry = manifest.table(&t.source.schema, &t.source.name);
        let pk = entry.and_then(|e| e.table.primary_key.as_ref()).map(|k| k.columns.as_slice());
        let key: Vec<(&str, &str)> = pk
            .unwrap_or(&[])
            .iter()
            .filter_map(|s| t.columns.iter().find(|c| &c.source == s))
            .map(|c| (c.source.as_str(), c.name.as_str()))
            .collect();
        for c in t.columns.iter().filter(|c| c.conversion == Conversion::Json) {
            if let Some(row) = first_invalid(conn, &t.name, &c.name, &key) {
                found.push(format!(
                    "{} row {row}, column {}: SQLite's json_valid refuses its value (valid \
                     JSON is refused only when nested deeper than {SQLITE_JSON_DEPTH} levels); \
                     the export predates pg2lite recording JSON depth: export again, and the \
                     column will be created without that CHECK",
                    t.display_name(),
                    c.source
                ));
            }
        }
    }
    found
}

/// `(id=1)` of the first row whose `column` is not NULL and not `json_valid`, or `(rowid=5)`
/// for a table without a key.
fn first_invalid(
    conn: &Connection,
    table: &str,
    column: &str,
    key: &[(&str, &str)],
) -> Option<String> {
    let c = quote_ident(column);
    let shown: Vec<String> = if key.is_empty() {
        vec!["'rowid=' || rowid".into()]
    } else {
        let q = |s: &str| s.replace('\'', "''");
        key.iter()
            .map(|(src, name)| format!("'{}=' || quote({})", q(src), quote_ident(name)))
            .collect()
    };
    let sql = format!(
        "SELECT {} FROM {} WHERE {c} IS NOT NULL AND NOT json_valid({c}) LIMIT 1",
        shown.join(" || ', ' || "),
        quote_ident(table)
    );
    let row: rusqlite::Result<String> = conn.query_row(&sql, [], |r| r.get(0));
    row.ok().map(|r| format!("({r})"))
}
