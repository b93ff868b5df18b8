//! The tables through which an imported SQLite file describes itself (DESIGN "Transform"):
//! `_pg2lite_export`, one row naming the export it was built from, and `_pg2lite_columns`,
//! one row per column with its Postgres type, SQLite type, mapping and lossy values.
//! Import creates them unless `--no-meta`; their names are reserved either way, so that a
//! user table can never collide with them.

use rusqlite::{Connection, params};

use super::TablePlan;
use super::names::quote_ident;
use crate::manifest::Manifest;
use crate::transform::Lossy;

pub const EXPORT_TABLE: &str = "_pg2lite_export";
pub const COLUMNS_TABLE: &str = "_pg2lite_columns";

/// Names no planned table or index may take.
pub(super) const RESERVED: &[&str] = &[EXPORT_TABLE, COLUMNS_TABLE];

/// `CREATE TABLE` statements for both meta tables (STRICT when `strict`).
pub fn meta_ddl(strict: bool) -> String {
    let strict = if strict { " STRICT" } else { "" };
    format!(
        "CREATE TABLE {export} (\n    \"export_id\" TEXT NOT NULL,\n    \
         \"manifest_sha256\" TEXT NOT NULL,\n    \"source\" TEXT NOT NULL,\n    \
         \"exported_at\" TEXT NOT NULL,\n    \"exported_by\" TEXT NOT NULL,\n    \
         \"imported_by\" TEXT NOT NULL\n){strict};\n\n\
         CREATE TABLE {columns} (\n    \"table_name\" TEXT NOT NULL,\n    \
         \"column_name\" TEXT NOT NULL,\n    \"source_table\" TEXT NOT NULL,\n    \
         \"source_column\" TEXT NOT NULL,\n    \"pg_type\" TEXT NOT NULL,\n    \
         \"sqlite_type\" TEXT NOT NULL,\n    \"mapping\" TEXT NOT NULL,\n    \
         \"lossy_values\" INTEGER NOT NULL,\n    \"lossy_detail\" TEXT,\n    \
         PRIMARY KEY (\"table_name\", \"column_name\")\n){strict};\n",
        export = quote_ident(EXPORT_TABLE),
        columns = quote_ident(COLUMNS_TABLE),
    )
}

/// The row of `_pg2lite_export`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportMeta {
    pub export_id: String,
    pub manifest_sha256: String,
    /// `postgresql://user@host:port/db`: never a password.
    pub source: String,
    /// When the export's snapshot was taken (RFC 3339 UTC).
    pub exported_at: String,
    /// `pg2lite 0.1.0`: the tool that wrote the export.
    pub exported_by: String,
    /// The tool that imported it (this build).
    pub imported_by: String,
}

impl ExportMeta {
    pub fn from_manifest(m: &Manifest) -> Self {
        ExportMeta {
            export_id: m.export_id.clone(),
            manifest_sha256: m.manifest_sha256.clone(),
            source: m.source.url(),
            exported_at: m.created_at.clone(),
            exported_by: format!("{} {}", m.tool.name, m.tool.version),
            imported_by: format!("pg2lite {}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// Inserts the `_pg2lite_export` row.
///
/// # Errors
/// Any SQLite error (the table must exist: [`meta_ddl`]).
pub fn insert_export(conn: &Connection, meta: &ExportMeta) -> rusqlite::Result<()> {
    let sql = format!("INSERT INTO {} VALUES (?1, ?2, ?3, ?4, ?5, ?6)", quote_ident(EXPORT_TABLE));
    conn.execute(
        &sql,
        params![
            meta.export_id,
            meta.manifest_sha256,
            meta.source,
            meta.exported_at,
            meta.exported_by,
            meta.imported_by
        ],
    )?;
    Ok(())
}

/// Inserts one `_pg2lite_columns` row per column of `table`, with the losses counted while
/// loading it.
///
/// # Errors
/// Any SQLite error (the table must exist: [`meta_ddl`]).
pub fn insert_columns(conn: &Connection, table: &TablePlan, lossy: &Lossy) -> rusqlite::Result<()> {
    let sql = format!(
        "INSERT INTO {} VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        quote_ident(COLUMNS_TABLE)
    );
    let mut stmt = conn.prepare(&sql)?;
    let source_table = format!("{}.{}", table.source.schema, table.source.name);
    for (i, c) in table.columns.iter().enumerate() {
        let loss = lossy.column(i);
        stmt.execute(params![
            table.name,
            c.name,
            source_table,
            c.source,
            c.pg_type,
            c.declared.as_str(),
            c.conversion.describe(),
            i64::try_from(loss.total()).unwrap_or(i64::MAX),
            loss.describe(),
        ])?;
    }
    Ok(())
}
