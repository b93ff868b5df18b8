//! The values' side of [`crate::mapping::refit`] for numeric columns decided by their data (issue 14):
//! a fed import (`migrate`) creates its tables before any row is read, so such a column is
//! loaded as its exact decimal text; once the finished export's facts decide INTEGER or REAL,
//! [`refit_with_values`] stores each value as import from the files would have stored it (by
//! the same [`transform::convert_decimal`]), so both paths give the same file.

use rusqlite::{Connection, params};

use crate::mapping::{Plan, RefitError, TablePlan, quote_ident, refit};
use rusqlite::types::Value;

use crate::mapping::{Conversion, Lossy, NumericTarget, is_pending};
use crate::transform;

/// One column's values in their decided type, by rowid, with the table and column names.
struct Pending {
    table: String,
    column: String,
    values: Vec<(i64, Value)>,
}

/// [`refit`] for a fed import, and the values with it: reads, inside the caller's
/// transaction, every value of each column `draft` loaded as decimal text that `done` stores
/// otherwise, converts it, gives the tables their final statements, then stores the converted
/// values (read first: once the declared type is REAL, SQLite may read text as a number).
/// Returns what the conversion lost, per table of `draft`.
///
/// # Errors
/// As [`refit`]; [`RefitError::Value`] for a value the decided type cannot hold (the
/// facts were wrong); any SQLite error.
pub fn refit_with_values(
    conn: &Connection,
    draft: &Plan,
    done: &Plan,
) -> Result<Vec<Lossy>, RefitError> {
    let mut lost = Vec::with_capacity(draft.tables.len());
    let mut pending = Vec::new();
    for d in &draft.tables {
        let mut lossy = Lossy::new(d.columns.len());
        if let Some(f) = done.tables.iter().find(|f| f.name == d.name) {
            for (j, (dc, fc)) in d.columns.iter().zip(&f.columns).enumerate() {
                if let Conversion::Numeric(target) = fc.conversion
                    && is_pending(dc.conversion, fc.conversion)
                {
                    pending.push(read_column(conn, f, j, target, &mut lossy)?);
                }
            }
        }
        lost.push(lossy);
    }
    refit(conn, draft, done)?;
    for p in pending {
        let sql = format!("UPDATE {} SET {} = ?1 WHERE rowid = ?2", p.table, p.column);
        let mut write = conn.prepare(&sql)?;
        for (rowid, value) in p.values {
            write.execute(params![value, rowid])?;
        }
    }
    Ok(lost)
}

fn read_column(
    conn: &Connection,
    t: &TablePlan,
    j: usize,
    target: NumericTarget,
    lossy: &mut Lossy,
) -> Result<Pending, RefitError> {
    let (table, column) = (quote_ident(&t.name), quote_ident(&t.columns[j].name));
    let mut read =
        conn.prepare(&format!("SELECT rowid, {column} FROM {table} WHERE {column} IS NOT NULL"))?;
    let rows: Vec<(i64, String)> =
        read.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    let mut values = Vec::with_capacity(rows.len());
    for (rowid, text) in rows {
        let converted =
            transform::convert_decimal(&text, target).map_err(|e| RefitError::Value {
                table: t.display_name(),
                column: t.columns[j].source.clone(),
                why: e.to_string(),
            })?;
        if let Some(loss) = converted.loss {
            lossy.add(j, loss);
        }
        values.push((rowid, converted.value.to_value()));
    }
    Ok(Pending { table, column, values })
}
