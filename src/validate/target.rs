//! The target SQLite file, opened read-only: which tables it has, row counts, `PRAGMA
//! foreign_key_check`, `json_valid` per JSON column, `PRAGMA integrity_check`, and the
//! `_pg2lite_*` tables through which it says how it was imported.
//!
//! Validation never writes to the target: every connection to it (the checks that read the
//! whole file run on connections and threads of their own) has `PRAGMA query_only`. It is
//! opened read-write all the same, because a read-only connection to a WAL database leaves
//! its `-wal` and `-shm` files behind when it closes, and those make the next import think
//! another program is using the file. When the file is already open elsewhere, or the
//! directory is not writable, it falls back to a read-only connection.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};

use super::digest::show_named;
use super::scratch::SHOWN;
use super::sides::{JsonColumn, invalid_json_condition};
use super::{Error, Result, sqlite_err};
use crate::mapping::{COLUMNS_TABLE, EXPORT_TABLE, Plan, quote_ident};
use crate::mapping::{Conversion, NumericTarget};
use crate::sqlite::foreign_keys;

pub(super) struct Target {
    pub conn: Connection,
    /// Table names folded to lower case (SQLite compares them so), to their spelling.
    tables: HashMap<String, String>,
}

/// Per table (lower case): rows that violate a foreign key, and the first few of them.
pub(super) type Violations = HashMap<String, (u64, Vec<Violation>)>;

/// A row `PRAGMA foreign_key_check` reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Violation {
    pub table: String,
    pub rowid: Option<i64>,
    pub parent: String,
    pub fkid: i64,
}

/// A row of `_pg2lite_columns`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MetaColumn {
    pub table: String,
    pub column: String,
    pub source_table: String,
    pub source_column: String,
    pub sqlite_type: String,
    pub mapping: String,
}

impl Target {
    /// Opens the target read-only and lists its tables.
    ///
    /// # Errors
    /// [`Error::TargetMissing`], or [`Error::Sqlite`] for a file SQLite cannot read.
    pub(super) fn open(path: &Path) -> Result<Target> {
        if !path.is_file() {
            return Err(Error::TargetMissing { path: path.display().to_string() });
        }
        let what = format!("cannot open {} as a SQLite database", path.display());
        let conn = connect(path)?;
        let names: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(sqlite_err(&what))?;
        let tables = names.into_iter().map(|n| (n.to_ascii_lowercase(), n)).collect();
        Ok(Target { conn, tables })
    }

    /// The target's spelling of table `name`, if it has it.
    pub(super) fn table(&self, name: &str) -> Option<&str> {
        self.tables.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    pub(super) fn count(&self, table: &str) -> Result<u64, String> {
        let sql = format!("SELECT count(*) FROM {}", quote_ident(table));
        self.conn
            .query_row(&sql, [], |r| r.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(|e| format!("cannot count the rows of {table}: {e}"))
    }

    /// The foreign keys of `table` as `col -> parent(col)`, one per constraint.
    pub(super) fn foreign_keys_of(&self, table: &str) -> Vec<String> {
        let mut keys: Vec<(i64, String, String, Option<String>)> = self
            .conn
            .prepare("SELECT id, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?1) ORDER BY id, seq")
            .and_then(|mut s| {
                s.query_map([table], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                    .collect()
            })
            .unwrap_or_default();
        keys.dedup_by(|b, a| {
            if a.0 != b.0 {
                return false;
            }
            a.2 = format!("{}, {}", a.2, b.2);
            a.3 =
                Some(format!("{}, {}", a.3.as_deref().unwrap_or(""), b.3.as_deref().unwrap_or("")));
            true
        });
        keys.into_iter()
            .map(|(_, parent, from, to)| match to {
                Some(to) => format!("{from} -> {parent}({to})"),
                None => format!("{from} -> {parent}"),
            })
            .collect()
    }

    /// `(film_id=1, actor_id=2) rowid 7: (actor_id=99) references a missing row of actor`,
    /// naming the row by its key and rowid, and the foreign key's columns and values.
    pub(super) fn describe_violation(&self, v: &Violation, key_names: &[String]) -> String {
        let from = self.fk_columns(&v.table, v.fkid);
        let row = match v.rowid {
            Some(rowid) => self.row_by_rowid(&v.table, rowid, key_names, &from),
            None => None,
        };
        let at = match (&row, v.rowid) {
            (Some((key, _)), Some(rowid)) if !key_names.is_empty() => {
                format!("{} rowid {rowid}", show_named(key_names, key))
            }
            (_, Some(rowid)) => format!("rowid {rowid}"),
            _ => "a row".to_owned(),
        };
        let values = row.map(|(_, fk)| format!("{} ", show_named(&from, &fk))).unwrap_or_default();
        format!("{at}: {values}references a missing row of {}", v.parent)
    }

    fn fk_columns(&self, table: &str, fkid: i64) -> Vec<String> {
        self.conn
            .prepare("SELECT \"from\" FROM pragma_foreign_key_list(?1) WHERE id = ?2 ORDER BY seq")
            .and_then(|mut s| s.query_map(rusqlite::params![table, fkid], |r| r.get(0))?.collect())
            .unwrap_or_default()
    }

    /// The key values and the values of `more` columns of a row.
    fn row_by_rowid(
        &self,
        table: &str,
        rowid: i64,
        key: &[String],
        more: &[String],
    ) -> Option<(Vec<Value>, Vec<Value>)> {
        let cols: Vec<String> = key.iter().chain(more).map(|c| quote_ident(c)).collect();
        if cols.is_empty() {
            return None;
        }
        let sql =
            format!("SELECT {} FROM {} WHERE _rowid_ = ?1", cols.join(", "), quote_ident(table));
        let values: Vec<Value> = self
            .conn
            .query_row(&sql, [rowid], |r| (0..cols.len()).map(|i| r.get(i)).collect())
            .ok()?;
        let (k, m) = values.split_at(key.len());
        Some((k.to_vec(), m.to_vec()))
    }

    /// Non-NULL values of `column` that are not valid JSON: how many, and the first few rows
    /// by key (or rowid). Some columns may also hold the Postgres text of an array, as
    /// exported (see [`JsonColumn`]).
    pub(super) fn invalid_json(
        &self,
        table: &str,
        column: &str,
        kind: JsonColumn,
        key: &[String],
    ) -> Result<(u64, Vec<String>), String> {
        let cond = invalid_json_condition(column, kind);
        let t = quote_ident(table);
        let err = |e: rusqlite::Error| format!("cannot check {table}.{column}: {e}");
        let sql = format!("SELECT count(*) FROM {t} WHERE {cond}");
        let n: i64 = self.conn.query_row(&sql, [], |r| r.get(0)).map_err(err)?;
        if n == 0 {
            return Ok((0, Vec::new()));
        }
        let (names, cols) = if key.is_empty() {
            (vec!["rowid".to_owned()], "_rowid_".to_owned())
        } else {
            (key.to_vec(), key.iter().map(|k| quote_ident(k)).collect::<Vec<_>>().join(", "))
        };
        let sql = format!("SELECT {cols} FROM {t} WHERE {cond} LIMIT {SHOWN}");
        let mut stmt = self.conn.prepare(&sql).map_err(err)?;
        let first = stmt
            .query_map([], |r| (0..names.len()).map(|i| r.get::<_, Value>(i)).collect())
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<Vec<Value>>>>())
            .map_err(err)?;
        let first =
            first.iter().map(|v| format!("{column} at {}", show_named(&names, v))).collect();
        Ok((u64::try_from(n).unwrap_or(0), first))
    }

    /// The rows of `_pg2lite_columns`, or `None` when the file has no such table (`--no-meta`).
    ///
    /// # Errors
    /// [`Error::Sqlite`] when the table exists but cannot be read.
    pub(super) fn meta_columns(&self) -> Result<Option<Vec<MetaColumn>>> {
        let Some(table) = self.table(COLUMNS_TABLE) else { return Ok(None) };
        let sql = format!(
            "SELECT table_name, column_name, source_table, source_column, sqlite_type, mapping \
             FROM {}",
            quote_ident(table)
        );
        let what = format!("cannot read {COLUMNS_TABLE}");
        let mut stmt = self.conn.prepare(&sql).map_err(sqlite_err(&what))?;
        stmt.query_map([], |r| {
            Ok(MetaColumn {
                table: r.get(0)?,
                column: r.get(1)?,
                source_table: r.get(2)?,
                source_column: r.get(3)?,
                sqlite_type: r.get(4)?,
                mapping: r.get(5)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map(Some)
        .map_err(sqlite_err(&what))
    }

    /// The export id and manifest sha256 of `_pg2lite_export`, `None` without the table.
    pub(super) fn export_meta(&self) -> Option<Result<(String, String), String>> {
        let table = self.table(EXPORT_TABLE)?;
        let sql = format!("SELECT export_id, manifest_sha256 FROM {} LIMIT 1", quote_ident(table));
        Some(
            self.conn
                .query_row(&sql, [], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(|e| format!("cannot read {EXPORT_TABLE}: {e}")),
        )
    }
}

/// A connection to the target that cannot write (`PRAGMA query_only`); see the module note
/// for why it is opened read-write when it can be. Each thread that reads the target opens
/// its own.
///
/// # Errors
/// [`Error::Sqlite`] for a file SQLite cannot open.
pub(super) fn connect(path: &Path) -> Result<Connection> {
    let what = format!("cannot open {} as a SQLite database", path.display());
    let read_write = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let read_only = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    Connection::open_with_flags(path, read_write)
        .and_then(|c| c.execute_batch("PRAGMA query_only = ON").map(|()| c))
        .or_else(|_| Connection::open_with_flags(path, read_only))
        .map_err(sqlite_err(&what))
}

/// Page cache of the connection that runs `PRAGMA integrity_check`, in KiB: enough for the
/// inner pages of every index it looks rows up in, so each lookup reads about one page.
const INTEGRITY_CACHE_KIB: u32 = 16 * 1024;

/// Page cache of the connection that runs `PRAGMA foreign_key_check`, in KiB: the inner
/// pages of the parent tables it looks rows up in.
const FOREIGN_KEY_CACHE_KIB: u32 = 8 * 1024;

/// `PRAGMA integrity_check` on a connection of its own: empty when it says `ok`. The
/// connection must not be opened read-only when it can be helped: SQLite does not read the
/// CHECK constraints of a read-only database, so it would not check them.
///
/// # Errors
/// [`Error::Sqlite`] when the check cannot run.
pub(super) fn integrity_problems(path: &Path) -> Result<Vec<String>> {
    let what = "cannot check integrity";
    let conn = connect(path)?;
    conn.execute_batch(&format!("PRAGMA cache_size = -{INTEGRITY_CACHE_KIB}"))
        .map_err(sqlite_err(what))?;
    let mut stmt = conn.prepare("PRAGMA integrity_check").map_err(sqlite_err(what))?;
    let lines: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(sqlite_err(what))?;
    Ok(if lines == ["ok"] { Vec::new() } else { lines })
}

/// What `PRAGMA foreign_key_check` reports for the whole file, by table (folded to lower
/// case): how many rows, and the first few. Only those are kept, however many there are.
/// Runs on a connection of its own; the pragma, which reads every child table whole, runs
/// only when counting through the keys' indexes finds a row that does not hold.
///
/// # Errors
/// [`Error::Sqlite`] when the check cannot run.
pub(super) fn foreign_key_violations(path: &Path) -> Result<Violations> {
    let what = "cannot check foreign keys";
    let conn = connect(path)?;
    conn.execute_batch(&format!("PRAGMA cache_size = -{FOREIGN_KEY_CACHE_KIB}"))
        .map_err(sqlite_err(what))?;
    let mut found = Violations::new();
    if foreign_keys::all_hold(&conn).map_err(sqlite_err(what))? {
        return Ok(found);
    }
    let mut stmt = conn.prepare("PRAGMA foreign_key_check").map_err(sqlite_err(what))?;
    let mut rows = stmt.query([]).map_err(sqlite_err(what))?;
    while let Some(r) = rows.next().map_err(sqlite_err(what))? {
        let v = Violation {
            table: r.get(0).map_err(sqlite_err(what))?,
            rowid: r.get(1).map_err(sqlite_err(what))?,
            parent: r.get(2).map_err(sqlite_err(what))?,
            fkid: r.get(3).map_err(sqlite_err(what))?,
        };
        let (count, first) = found.entry(v.table.to_ascii_lowercase()).or_default();
        *count += 1;
        if first.len() < SHOWN {
            first.push(v);
        }
    }
    Ok(found)
}

/// Where the target's `_pg2lite_columns` and the plan disagree, and which import options
/// would explain it.
pub(super) fn options_mismatch(meta: &[MetaColumn], plan: &Plan) -> Option<(Vec<String>, String)> {
    let recorded: HashMap<(&str, &str), &MetaColumn> =
        meta.iter().map(|m| ((m.source_table.as_str(), m.source_column.as_str()), m)).collect();
    let mut planned = BTreeSet::new();
    let (mut problems, mut hints) = (Vec::new(), BTreeSet::new());
    for t in &plan.tables {
        let source = t.display_name();
        for c in &t.columns {
            planned.insert((source.clone(), c.source.clone()));
            let Some(m) = recorded.get(&(source.as_str(), c.source.as_str())) else {
                problems.push(format!("{source}.{} is not in the target", c.source));
                hints.insert("--strip-tenancy or --keep-tenancy");
                continue;
            };
            if !m.table.eq_ignore_ascii_case(&t.name) || !m.column.eq_ignore_ascii_case(&c.name) {
                problems.push(format!(
                    "{source}.{} is {}.{} in the target, {}.{} with these options",
                    c.source, m.table, m.column, t.name, c.name
                ));
                hints.insert("--rename or --tenant-table-as");
            }
            if m.sqlite_type != c.declared.as_str() || m.mapping != c.mapping {
                problems.push(format!(
                    "{source}.{} is {} ({}) in the target, {} ({}) with these options",
                    c.source, m.sqlite_type, m.mapping, c.declared, c.mapping
                ));
                let time = matches!(c.conversion, Conversion::Datetime(_))
                    || ["timestamp", "date", "time", "text as exported"]
                        .iter()
                        .any(|p| m.mapping.starts_with(p));
                hints.insert(if time { "--datetime sqlite or iso" } else { numeric_hint(meta) });
            }
        }
    }
    for m in meta {
        if !planned.contains(&(m.source_table.clone(), m.source_column.clone())) {
            problems.push(format!(
                "{}.{} is in the target but not planned with these options",
                m.source_table, m.source_column
            ));
            hints.insert("--strip-tenancy or --keep-tenancy");
        }
    }
    if problems.is_empty() {
        return None;
    }
    Some((problems, hints.into_iter().collect::<Vec<_>>().join(", ")))
}

/// The `--numeric` that gives the target's numeric mappings: all decimal text, all REAL, or
/// the mix `auto` makes.
fn numeric_hint(meta: &[MetaColumn]) -> &'static str {
    let text = Conversion::Numeric(NumericTarget::Text).describe();
    let real = Conversion::Numeric(NumericTarget::Real).describe();
    let numeric: BTreeSet<&str> =
        meta.iter().map(|m| m.mapping.as_str()).filter(|m| m.starts_with("numeric")).collect();
    match numeric.into_iter().collect::<Vec<_>>()[..] {
        [m] if m == text => "--numeric text",
        [m] if m == real => "--numeric real",
        _ => "--numeric auto",
    }
}
