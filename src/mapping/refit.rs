//! A fed import (`migrate`) creates its tables from the export's draft manifest, before any
//! row is read, so it cannot know what only the rows tell: a json column with values nested
//! deeper than SQLite's JSON functions accept must lose its `json_valid` CHECK, and a NOT
//! NULL float column holding NaN its NOT NULL. Once the rows are in and the final manifest is
//! known, [`refit`] gives each table the CREATE TABLE its final plan has, by SQLite's own
//! procedure for changes that leave the stored rows as they are ("Making Other Kinds Of Table
//! Schema Changes", <https://sqlite.org/lang_altertable.html>): rewrite the table's entry in
//! `sqlite_schema` with `writable_schema` on, and bump `schema_version`.

use rusqlite::{Connection, params};

use super::Plan;

/// Why the stored schema could not be brought up to the final plan.
#[derive(Debug, thiserror::Error)]
pub enum RefitError {
    /// The final plan changes more than constraints; planning is deterministic, so this
    /// means the export's catalog changed between draft and end.
    #[error(
        "table {table}: the final manifest plans other columns than the draft it was created \
         from"
    )]
    Changed {
        /// The table, `schema.name`.
        table: String,
    },
    /// A value of a column loaded as decimal text that its decided type cannot hold.
    #[error("table {table}, column {column}: {why}")]
    Value {
        /// The table, `schema.name`.
        table: String,
        /// The column, as the export names it.
        column: String,
        /// Why the value does not fit.
        why: String,
    },
    /// Reading or rewriting `sqlite_schema` failed.
    #[error("cannot update the stored schema: {0}")]
    Sqlite(rusqlite::Error),
}

/// The message names the cause itself, so it is not also returned as the error's source
/// (a chain printed with `{:#}` would say it twice).
impl From<rusqlite::Error> for RefitError {
    fn from(e: rusqlite::Error) -> Self {
        RefitError::Sqlite(e)
    }
}

/// Rewrites, inside the caller's transaction, the stored CREATE TABLE of every table of
/// `draft` whose statement in `done` differs; returns how many were rewritten.
///
/// # Errors
/// [`RefitError::Changed`] when a table of `done` is missing from `draft` or has other
/// columns (names or declared types): only constraints may differ. Any SQLite error.
pub fn refit(conn: &Connection, draft: &Plan, done: &Plan) -> Result<usize, RefitError> {
    let mut changed = Vec::new();
    for d in &draft.tables {
        let f = done.tables.iter().find(|f| f.name == d.name);
        let same_columns = f.is_some_and(|f| {
            f.columns.len() == d.columns.len()
                && f.columns.iter().zip(&d.columns).all(|(a, b)| {
                    a.name == b.name
                        && ((a.declared == b.declared && a.conversion == b.conversion)
                            || is_pending(b.conversion, a.conversion))
                })
        });
        match f {
            Some(f) if same_columns => {
                if f.create_table != d.create_table {
                    changed.push((d.name.as_str(), f.create_table.as_str()));
                }
            }
            _ => return Err(RefitError::Changed { table: d.display_name() }),
        }
    }
    if changed.is_empty() {
        return Ok(0);
    }
    let version: i64 = conn.query_row("PRAGMA schema_version", [], |r| r.get(0))?;
    conn.execute_batch("PRAGMA writable_schema = ON")?;
    let updated = rewrite(conn, &changed);
    let restored = conn.execute_batch(&format!(
        "PRAGMA schema_version = {}; PRAGMA writable_schema = OFF;",
        version.saturating_add(1)
    ));
    updated?;
    restored?;
    Ok(changed.len())
}

/// Sets each table's stored statement (SQLite keeps it without the final semicolon).
fn rewrite(conn: &Connection, changed: &[(&str, &str)]) -> Result<(), RefitError> {
    let mut stmt =
        conn.prepare("UPDATE sqlite_schema SET sql = ?1 WHERE type = 'table' AND name = ?2")?;
    for (name, create) in changed {
        let sql = create.trim_end().strip_suffix(';').unwrap_or(create);
        if stmt.execute(params![sql, name])? != 1 {
            return Err(RefitError::Changed { table: (*name).to_owned() });
        }
    }
    Ok(())
}
/// Whether `draft`'s column, loaded as decimal text, is decided otherwise in `done`.
pub fn is_pending(draft: super::Conversion, done: super::Conversion) -> bool {
    use super::NumericTarget as N;
    draft == super::Conversion::Numeric(N::Text)
        && matches!(done, super::Conversion::Numeric(N::Integer | N::Real))
}
