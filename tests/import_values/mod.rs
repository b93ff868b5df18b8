//! `import` value by value, with Postgres as the oracle: every row of every Pagila table
//! compared with what SQLite holds under DESIGN.md's mapping (storage class and value), the
//! edge-value table round-tripped to the exact SQLite values DESIGN.md specifies (what is lost
//! counted per column, in `_pg2lite_columns` and in the import summary), the `--numeric`
//! policies, and STRICT tables holding the same values.
//!
//! This file holds what every part shares (the import, [`Val`], [`Render`], [`Want`],
//! [`Lost`]); [`edge`] runs the edge-value table, whose cases and family-specific checks live
//! in one file per type family; [`pagila`] is the Pagila comparison.

use std::fmt;
use std::path::{Path, PathBuf};

use pg2lite::import::{ImportOptions, ImportSummary};
use pg2lite::mapping::{ColumnLoss, SchemaFlags, quote_ident};
use rusqlite::Connection;
use rusqlite::types::ValueRef;

mod bytes;
mod edge;
mod json_and_arrays;
mod misc;
mod numbers;
mod pagila;
mod text;
mod time;

/// Imports the export in `from` into `dir/name` as `pg2lite import --yes --no-backup` would.
fn import_into(from: &Path, dir: &Path, name: &str, schema: SchemaFlags) -> ImportOutcome {
    let target = dir.join(name);
    let opts = ImportOptions { schema, ..ImportOptions::new(from, &target) };
    let summary = crate::support::sqlite::import_into(&opts);
    let conn = Connection::open(&target)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", target.display()));
    ImportOutcome { target, summary, conn }
}

struct ImportOutcome {
    target: PathBuf,
    summary: ImportSummary,
    conn: Connection,
}

impl ImportOutcome {
    /// The losses the summary reports for SQLite table `table`, by column.
    fn summary_lossy(&self, table: &str) -> Vec<(String, ColumnLoss)> {
        let t = self.summary.tables.iter().find(|t| t.name == table);
        t.unwrap_or_else(|| panic!("table {table} is not in the import summary")).lossy.clone()
    }

    /// `_pg2lite_columns`' (sqlite_type, lossy_values, lossy_detail) of one column.
    fn column_meta(&self, table: &str, column: &str) -> (String, i64, Option<String>) {
        self.conn
            .query_row(
                "SELECT sqlite_type, lossy_values, lossy_detail FROM _pg2lite_columns \
                 WHERE table_name = ?1 AND column_name = ?2",
                [table, column],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap_or_else(|e| panic!("_pg2lite_columns has no row for {table}.{column}: {e}"))
    }

    /// Whether SQLite made `table` a STRICT table.
    fn is_strict(&self, table: &str) -> bool {
        self.conn
            .query_row("SELECT strict FROM pragma_table_list WHERE name = ?1", [table], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap_or_else(|e| panic!("{table} is not in pragma_table_list: {e}"))
            == 1
    }

    /// Every row of `table`, the given columns in order, as SQLite stores them.
    fn rows(&self, table: &str, columns: &[&str], order_by: &str) -> Vec<Vec<Val>> {
        let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        let sql = format!("SELECT {} FROM {} {order_by}", cols.join(", "), quote_ident(table));
        let mut stmt = self.conn.prepare(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let rows = stmt
            .query_map([], |r| (0..columns.len()).map(|i| Ok(Val::from(r.get_ref(i)?))).collect())
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.collect::<rusqlite::Result<_>>().unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The rows a PRAGMA (or any query without parameters) returns, as text.
    fn strings(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let mut stmt = self.conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                (0..n).map(|i| Ok(Val::from(r.get_ref(i)?).text())).collect::<rusqlite::Result<_>>()
            })
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.collect::<rusqlite::Result<_>>().unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

/// A value as SQLite holds it (storage class and value), or as the mapping says it must be.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    /// TEXT holding compact JSON equal to this value (key order and number spelling aside).
    Json(serde_json::Value),
}

impl Val {
    /// Whether `got`, read from SQLite, is this expected value. REALs compare bit for bit,
    /// so `-0.0` is not `0.0`.
    fn matches(&self, got: &Val) -> bool {
        match (self, got) {
            (Val::Real(a), Val::Real(b)) => a.to_bits() == b.to_bits(),
            (Val::Json(a), Val::Text(t)) => {
                is_compact_json(t)
                    && serde_json::from_str::<serde_json::Value>(t).is_ok_and(|v| v == *a)
            }
            _ => self == got,
        }
    }

    /// The value as text, for keys and PRAGMA output.
    fn text(&self) -> Option<String> {
        match self {
            Val::Null => None,
            Val::Int(i) => Some(i.to_string()),
            Val::Real(f) => Some(f.to_string()),
            Val::Text(t) => Some(t.clone()),
            Val::Blob(b) => Some(hex::encode(b)),
            Val::Json(v) => Some(v.to_string()),
        }
    }
}

impl From<ValueRef<'_>> for Val {
    fn from(v: ValueRef<'_>) -> Val {
        match v {
            ValueRef::Null => Val::Null,
            ValueRef::Integer(i) => Val::Int(i),
            ValueRef::Real(f) => Val::Real(f),
            ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Val::Blob(b.to_vec()),
        }
    }
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::Null => write!(f, "NULL"),
            Val::Int(i) => write!(f, "INTEGER {i}"),
            Val::Real(x) => write!(f, "REAL {x:?} (bits {:#018x})", x.to_bits()),
            Val::Text(t) => write!(f, "TEXT {t:?}"),
            Val::Blob(b) => write!(f, "BLOB x'{}' ({} bytes)", hex::encode(b), b.len()),
            Val::Json(v) => write!(f, "TEXT holding the JSON {v}"),
        }
    }
}

/// No whitespace outside strings: DESIGN's "compact JSON".
fn is_compact_json(text: &str) -> bool {
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            (in_string, escaped) = (escaped || c != '"', !escaped && c == '\\');
        } else if c.is_whitespace() {
            return false;
        } else {
            in_string = c == '"';
        }
    }
    true
}

/// How Postgres renders a column's value in the form SQLite must hold it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Render {
    /// Postgres text of an integer → INTEGER.
    Int,
    /// Postgres text of a float8 or numeric → the nearest double (NaN → NULL, -0 → 0).
    Real,
    /// Postgres text of a float4 → the double of its shortest round-trip text.
    Float4,
    Text,
    /// JSON text → TEXT holding equal, compact JSON.
    Json,
    /// `encode(col, 'hex')` → BLOB.
    Hex,
}

/// Postgres' rendering of one value parsed into what SQLite must hold.
fn expected(render: Render, text: Option<&str>) -> Val {
    let Some(text) = text else { return Val::Null };
    match render {
        Render::Int => Val::Int(text.parse().unwrap_or_else(|e| panic!("{text:?}: {e}"))),
        Render::Real => real(text, |t| t.parse::<f64>().ok()),
        // The shortest text that reads back as the same float4, read as a double.
        Render::Float4 => real(text, |t| t.parse::<f32>().ok()?.to_string().parse().ok()),
        Render::Text => Val::Text(text.to_owned()),
        Render::Json => Val::Json(serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"))),
        Render::Hex => Val::Blob(hex::decode(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))),
    }
}

/// DESIGN's float rules: NaN ⇒ NULL, -0 ⇒ 0, infinities kept.
fn real(text: &str, parse: impl Fn(&str) -> Option<f64>) -> Val {
    let f = match text {
        "NaN" => return Val::Null,
        "Infinity" => f64::INFINITY,
        "-Infinity" => f64::NEG_INFINITY,
        _ => parse(text).unwrap_or_else(|| panic!("Postgres rendered {text:?}")),
    };
    Val::Real(if f == 0.0 { 0.0 } else { f })
}

/// What SQLite must hold for one value: its storage class and value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    Null,
    Int(i64),
    Real(f64),
    Text(&'static str),
    Blob(&'static [u8]),
}

impl Want {
    fn val(self) -> Val {
        match self {
            Want::Null => Val::Null,
            Want::Int(i) => Val::Int(i),
            Want::Real(f) => Val::Real(f),
            Want::Text(t) => Val::Text(t.to_owned()),
            Want::Blob(b) => Val::Blob(b.to_vec()),
        }
    }
}

/// What a conversion must report as lost under `--numeric auto` (DESIGN "Transform": NaN ⇒
/// NULL, -0 ⇒ 0). Rounding, which only `--numeric real` causes, is checked by
/// [`numeric_expectations`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lost {
    No,
    Nan,
    NegativeZero,
    /// Kept as exported, counted as not comparing as time (issue 14: nothing is lost).
    NotTime,
}

impl Lost {
    fn count(self) -> ColumnLoss {
        let mut loss = ColumnLoss::default();
        match self {
            Lost::No => {}
            Lost::Nan => loss.nan_to_null = 1,
            Lost::NegativeZero => loss.negative_zero = 1,
            Lost::NotTime => loss.not_time = 1,
        }
        loss
    }
}

/// One case of the edge-value table: (Postgres type, SQL literal, declared SQLite type, what
/// SQLite must hold, what is lost); see [`edge::CASES`].
type Case = (&'static str, &'static str, &'static str, Want, Lost);

fn list(values: &[Val]) -> String {
    values.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}
