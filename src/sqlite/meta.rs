//! The tables through which an imported SQLite file describes itself (DESIGN "Transform"):
//! `_pg2lite_export`, one row naming the export it was built from and the plan options import
//! used ([`ImportedWith`]), and `_pg2lite_columns`, one row per column with its Postgres type,
//! SQLite type, mapping and lossy values.
//! Import creates them unless `--no-meta`; their names are reserved either way, so that a
//! user table can never collide with them.

use rusqlite::{Connection, OptionalExtension, params};

pub use crate::mapping::{COLUMNS_TABLE, EXPORT_TABLE};
use crate::mapping::{
    DatetimePolicy, Lossy, NumericPolicy, Rename, RenameFrom, SchemaFlags, Strip, TablePlan,
    Tenancy, quote_ident,
};
use crate::model::manifest::Manifest;

/// `CREATE TABLE` statements for both meta tables (STRICT when `strict`).
pub fn meta_ddl(strict: bool) -> String {
    let strict = if strict { " STRICT" } else { "" };
    format!(
        "CREATE TABLE {export} (\n    \"export_id\" TEXT NOT NULL,\n    \
         \"manifest_sha256\" TEXT NOT NULL,\n    \"source\" TEXT NOT NULL,\n    \
         \"exported_at\" TEXT NOT NULL,\n    \"exported_by\" TEXT NOT NULL,\n    \
         \"imported_by\" TEXT NOT NULL,\n    \"numeric\" TEXT,\n    \"strict\" INTEGER,\n    \
         \"renames\" TEXT,\n    \"tenancy\" TEXT,\n    \"tenant_table_as\" TEXT,\n    \"datetime\" TEXT\n){strict};\n\n\
         CREATE TABLE {columns} (\n    \"table_name\" TEXT NOT NULL,\n    \
         \"column_name\" TEXT NOT NULL,\n    \"source_table\" TEXT NOT NULL,\n    \
         \"source_column\" TEXT NOT NULL,\n    \"pg_type\" TEXT NOT NULL,\n    \
         \"sqlite_type\" TEXT NOT NULL,\n    \"mapping\" TEXT NOT NULL,\n    \
         \"lossy_values\" INTEGER NOT NULL,\n    \"lossy_detail\" TEXT,\n    \
         \"redaction\" TEXT,\n    \
         PRIMARY KEY (\"table_name\", \"column_name\")\n){strict};\n",
        export = quote_ident(EXPORT_TABLE),
        columns = quote_ident(COLUMNS_TABLE),
    )
}

/// The row of `_pg2lite_export`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportMeta {
    /// The export's id.
    pub export_id: String,
    /// The export manifest's `manifest_sha256`, which names exactly what was imported.
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
    /// The row for an import of the export `m`, by this build.
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
    let sql = format!(
        "INSERT INTO {} (\"export_id\", \"manifest_sha256\", \"source\", \"exported_at\", \
         \"exported_by\", \"imported_by\") VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        quote_ident(EXPORT_TABLE)
    );
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
        "INSERT INTO {} (\"table_name\", \"column_name\", \"source_table\", \"source_column\", \
         \"pg_type\", \"sqlite_type\", \"mapping\", \"lossy_values\", \"lossy_detail\") \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
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
            c.mapping,
            i64::try_from(loss.total()).unwrap_or(i64::MAX),
            loss.describe(),
        ])?;
    }
    Ok(())
}

/// Marks the redacted columns in `_pg2lite_columns.redaction` (`hash` for pseudonyms,
/// `mask`, `null`), from the manifest's record of the export's redaction; NULL elsewhere.
///
/// # Errors
/// Any SQLite error (the rows must exist: [`insert_columns`]).
pub fn mark_redacted(conn: &Connection, manifest: &Manifest) -> rusqlite::Result<()> {
    let Some(redaction) = &manifest.options.redaction else { return Ok(()) };
    let sql = format!(
        "UPDATE {} SET \"redaction\" = ?1 WHERE \"source_table\" = ?2 AND \"source_column\" = ?3",
        quote_ident(COLUMNS_TABLE)
    );
    let mut stmt = conn.prepare(&sql)?;
    for c in &redaction.columns {
        let table = format!("{}.{}", c.schema, c.table);
        stmt.execute(params![c.mode.as_str(), table, c.column])?;
    }
    Ok(())
}

/// The plan options an import used, in `_pg2lite_export` (columns `numeric`, `strict`,
/// `renames`, `tenancy`, `tenant_table_as`), so that `validate` plans the file again from the
/// file alone rather than from flags the user must repeat. Files written before these columns
/// existed have none of them, and [`read_imported_with`] says so with `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedWith {
    /// `--numeric`.
    pub numeric: NumericPolicy,
    /// `--strict`.
    pub strict: bool,
    /// `--rename`, all of them, in the order given.
    pub renames: Vec<Rename>,
    /// What was done with the tenant column and tenants table.
    pub tenancy: RecordedTenancy,
    /// `--datetime`; a file written before pg2lite recorded it was built with RFC 3339 text
    /// (`iso`).
    pub datetime: DatetimePolicy,
}

/// What import did with a tenant-scoped export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordedTenancy {
    /// The export holds whole tables: nothing to strip (`none`).
    NotScoped,
    /// The tenant column and the tenants table were kept (`kept`, `--keep-tenancy`).
    Kept,
    /// Stripped (`stripped`); the tenant's own row is in the table `table_as`.
    Stripped {
        /// The tenants table's SQLite name (`--tenant-table-as`).
        table_as: String,
    },
}

impl ImportedWith {
    /// What `schema` plans for the export `m` (which it planned without error).
    pub fn of(schema: &SchemaFlags, m: &Manifest) -> Self {
        let stripped = schema.strip(Strip::from_manifest(m)).ok().flatten();
        let tenancy = match (stripped, &m.options.tenant) {
            (Some(strip), _) => RecordedTenancy::Stripped { table_as: strip.table_as },
            (None, Some(_)) => RecordedTenancy::Kept,
            (None, None) => RecordedTenancy::NotScoped,
        };
        ImportedWith {
            numeric: schema.numeric,
            strict: schema.strict,
            renames: schema.renames.clone(),
            tenancy,
            datetime: schema.datetime,
        }
    }

    /// The tenancy option that plans the file again.
    pub fn tenancy_option(&self) -> Tenancy {
        match self.tenancy {
            RecordedTenancy::NotScoped => Tenancy::Auto,
            RecordedTenancy::Kept => Tenancy::Keep,
            RecordedTenancy::Stripped { .. } => Tenancy::Strip,
        }
    }

    /// `--tenant-table-as` as import used it, when it stripped.
    pub fn tenant_table_as(&self) -> Option<&str> {
        match &self.tenancy {
            RecordedTenancy::Stripped { table_as } => Some(table_as),
            _ => None,
        }
    }
}

/// `--numeric`'s word for `policy`.
pub fn numeric_word(policy: NumericPolicy) -> &'static str {
    match policy {
        NumericPolicy::Auto => "auto",
        NumericPolicy::Text => "text",
        NumericPolicy::Real => "real",
    }
}

/// A `--rename` argument that parses back to `r` (`schema.table[.column]=to`, a part holding
/// `.`, `"` or `=` double-quoted).
pub fn rename_text(r: &Rename) -> String {
    let part = |p: &str| {
        if p.is_empty() || p.contains(['.', '"', '=']) {
            format!("\"{}\"", p.replace('"', "\"\""))
        } else {
            p.to_owned()
        }
    };
    let from = match &r.from {
        RenameFrom::Relation(q) => format!("{}.{}", part(&q.schema), part(&q.name)),
        RenameFrom::Column { table, column } => {
            format!("{}.{}.{}", part(&table.schema), part(&table.name), part(column))
        }
    };
    format!("{from}={}", r.to)
}

const IMPORTED_COLUMNS: [&str; 5] = ["numeric", "strict", "renames", "tenancy", "tenant_table_as"];

/// Whether `_pg2lite_export` has the columns of [`ImportedWith`] (a file written by an older
/// pg2lite, or a `--schema-file` that made the table itself, may not).
fn has_imported_columns(conn: &Connection) -> rusqlite::Result<bool> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let names: Vec<String> =
        stmt.query_map([EXPORT_TABLE], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(IMPORTED_COLUMNS.iter().all(|c| names.iter().any(|n| n.eq_ignore_ascii_case(c))))
}

/// Whether `_pg2lite_export` has `column` (added after the table's first version).
fn has_column(conn: &Connection, column: &str) -> rusqlite::Result<bool> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let names: Vec<String> =
        stmt.query_map([EXPORT_TABLE], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(names.iter().any(|n| n.eq_ignore_ascii_case(column)))
}

/// The recorded `--datetime`: `iso` for a file written before it was recorded.
fn read_datetime(conn: &Connection) -> Result<DatetimePolicy, RecordError> {
    if !has_column(conn, "datetime")? {
        return Ok(DatetimePolicy::Iso);
    }
    let sql = format!("SELECT \"datetime\" FROM {} LIMIT 1", quote_ident(EXPORT_TABLE));
    let word: Option<String> = conn.query_row(&sql, [], |r| r.get(0)).optional()?.flatten();
    match word {
        None => Ok(DatetimePolicy::Iso),
        Some(w) => w.parse().map_err(|_| RecordError::Bad { field: "datetime", value: w }),
    }
}

/// Records `with` in the `_pg2lite_export` row ([`insert_export`] first). A table without the
/// columns (made by a `--schema-file`) is left as it is: validate then needs the flags again.
///
/// # Errors
/// Any SQLite error.
pub fn record_imported_with(conn: &Connection, with: &ImportedWith) -> rusqlite::Result<()> {
    if !has_imported_columns(conn)? {
        return Ok(());
    }
    let (tenancy, table_as) = match &with.tenancy {
        RecordedTenancy::NotScoped => ("none", None),
        RecordedTenancy::Kept => ("kept", None),
        RecordedTenancy::Stripped { table_as } => ("stripped", Some(table_as.as_str())),
    };
    let renames: Vec<String> = with.renames.iter().map(rename_text).collect();
    let renames = serde_json::Value::from(renames).to_string();
    let sql = format!(
        "UPDATE {} SET \"numeric\" = ?1, \"strict\" = ?2, \"renames\" = ?3, \"tenancy\" = ?4, \
         \"tenant_table_as\" = ?5",
        quote_ident(EXPORT_TABLE)
    );
    conn.execute(
        &sql,
        params![numeric_word(with.numeric), with.strict, renames, tenancy, table_as],
    )?;
    if has_column(conn, "datetime")? {
        let sql = format!("UPDATE {} SET \"datetime\" = ?1", quote_ident(EXPORT_TABLE));
        conn.execute(&sql, [with.datetime.word()])?;
    }
    Ok(())
}

/// Why the recorded options cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The table or its columns cannot be read; holds SQLite's error.
    #[error("cannot read {EXPORT_TABLE}: {0}")]
    Sqlite(rusqlite::Error),
    /// A recorded column holds a value import never writes.
    #[error(
        "{EXPORT_TABLE}.{field} holds {value:?}, which is not what import writes there (was \
         the file edited?)"
    )]
    Bad {
        /// The column of `_pg2lite_export`.
        field: &'static str,
        /// What it holds.
        value: String,
    },
}

/// The message names the cause itself, so it is not also returned as the error's source
/// (a chain printed with `{:#}` would say it twice).
impl From<rusqlite::Error> for RecordError {
    fn from(e: rusqlite::Error) -> Self {
        RecordError::Sqlite(e)
    }
}

type Row = (Option<String>, Option<i64>, Option<String>, Option<String>, Option<String>);

/// The options recorded in `_pg2lite_export`; `None` when the file has no such table
/// (`--no-meta`), or a table without these columns or values (an older pg2lite).
///
/// # Errors
/// [`RecordError`] when the table cannot be read or holds what import never writes.
pub fn read_imported_with(conn: &Connection) -> Result<Option<ImportedWith>, RecordError> {
    let exists: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1 COLLATE NOCASE",
            [EXPORT_TABLE],
            |r| r.get(0),
        )
        .optional()?;
    if exists.is_none() || !has_imported_columns(conn)? {
        return Ok(None);
    }
    let sql = format!(
        "SELECT \"numeric\", \"strict\", \"renames\", \"tenancy\", \"tenant_table_as\" FROM {} \
         LIMIT 1",
        quote_ident(EXPORT_TABLE)
    );
    let row: Option<Row> = conn
        .query_row(&sql, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .optional()?;
    match row {
        Some((Some(numeric), Some(strict), Some(renames), Some(tenancy), table_as)) => {
            let mut with = parse_row(&numeric, strict, &renames, &tenancy, table_as)?;
            with.datetime = read_datetime(conn)?;
            Ok(Some(with))
        }
        _ => Ok(None),
    }
}

fn parse_row(
    numeric: &str,
    strict: i64,
    renames: &str,
    tenancy: &str,
    table_as: Option<String>,
) -> Result<ImportedWith, RecordError> {
    let bad = |field: &'static str, value: &str| RecordError::Bad { field, value: value.into() };
    let numeric = numeric.parse().map_err(|_| bad("numeric", numeric))?;
    let strict = match strict {
        0 => false,
        1 => true,
        n => return Err(bad("strict", &n.to_string())),
    };
    let texts: Vec<String> = serde_json::from_str(renames).map_err(|_| bad("renames", renames))?;
    let renames = texts
        .iter()
        .map(|t| t.parse::<Rename>().map_err(|_| bad("renames", t)))
        .collect::<Result<_, _>>()?;
    let tenancy = match (tenancy, table_as) {
        ("none", _) => RecordedTenancy::NotScoped,
        ("kept", _) => RecordedTenancy::Kept,
        ("stripped", Some(table_as)) if !table_as.is_empty() => {
            RecordedTenancy::Stripped { table_as }
        }
        ("stripped", _) => return Err(bad("tenant_table_as", "")),
        (other, _) => return Err(bad("tenancy", other)),
    };
    Ok(ImportedWith { numeric, strict, renames, tenancy, datetime: DatetimePolicy::Iso })
}

/// The `manifest_sha256` a file records in `_pg2lite_export`: which export it was imported
/// from. `None` for a file without the table (or not a pg2lite file at all).
pub fn imported_manifest(path: &std::path::Path) -> Option<String> {
    let conn =
        Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    let sql = format!("SELECT \"manifest_sha256\" FROM {} LIMIT 1", quote_ident(EXPORT_TABLE));
    conn.query_row(&sql, [], |r| r.get(0)).ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A row of `_pg2lite_export` for tests (here and in the schema plan's).
    pub(crate) fn sample_meta() -> ExportMeta {
        ExportMeta {
            export_id: "e1".into(),
            manifest_sha256: "ab".into(),
            source: "postgresql://u@h:5432/db".into(),
            exported_at: "2024-01-01T00:00:00Z".into(),
            exported_by: "pg2lite 0.1.0".into(),
            imported_by: "pg2lite 0.1.0".into(),
        }
    }

    fn export_row(conn: &Connection) {
        insert_export(conn, &sample_meta()).unwrap();
    }

    #[test]
    fn the_recorded_options_read_back_as_written_even_names_that_need_quotes() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(&meta_ddl(true)).unwrap();
        export_row(&conn);
        assert_eq!(read_imported_with(&conn).unwrap(), None, "a row without options");
        let with = ImportedWith {
            numeric: NumericPolicy::Real,
            strict: true,
            renames: vec![
                "\"my.schema\".\"a=b\"=c".parse().unwrap(),
                "public.t.\"Col\"\"x\"=y=z".parse().unwrap(),
            ],
            tenancy: RecordedTenancy::Stripped { table_as: "me".into() },
            datetime: DatetimePolicy::Sqlite,
        };
        record_imported_with(&conn, &with).unwrap();
        assert_eq!(read_imported_with(&conn).unwrap(), Some(with));
    }

    #[test]
    fn an_old_file_reads_as_recording_nothing_and_an_edited_one_is_refused() {
        let conn = Connection::open_in_memory().unwrap();
        assert_eq!(read_imported_with(&conn).unwrap(), None, "no meta tables (--no-meta)");
        conn.execute_batch(
            "CREATE TABLE _pg2lite_export (export_id TEXT, manifest_sha256 TEXT, source TEXT, \
             exported_at TEXT, exported_by TEXT, imported_by TEXT)",
        )
        .unwrap();
        export_row(&conn);
        let with = ImportedWith {
            numeric: NumericPolicy::Text,
            strict: false,
            renames: Vec::new(),
            tenancy: RecordedTenancy::NotScoped,
            datetime: DatetimePolicy::Iso,
        };
        record_imported_with(&conn, &with).unwrap();
        assert_eq!(read_imported_with(&conn).unwrap(), None, "a table of an older pg2lite");
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(&meta_ddl(false)).unwrap();
        export_row(&conn);
        record_imported_with(&conn, &with).unwrap();
        conn.execute_batch("UPDATE _pg2lite_export SET tenancy = 'sideways'").unwrap();
        let err = read_imported_with(&conn).unwrap_err().to_string();
        assert!(err.contains("_pg2lite_export.tenancy holds \"sideways\""), "{err}");
    }
}
