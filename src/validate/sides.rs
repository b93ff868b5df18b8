//! Reading both sides of one table into the scratch database, row by row.
//!
//! The export side reads the table's NDJSON file in batches on a reader thread, converts
//! each batch exactly as import does ([`transform::convert_batch`] with the same plan, then
//! [`JsonNulls::apply`]), digests its rows in parallel (rayon), scans its lines for other
//! tenants' values, and hands the digests to this thread, which stores them. At most two
//! batches are in flight, so memory stays bounded. The SQLite side streams `SELECT` over the
//! target table. Both store `(key, digest, where)` rows; see [`super::scratch`].

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::mpsc;

use rayon::prelude::*;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, Statement};

use super::Result;
use super::digest::{self, RowDigest, TableDigest};
use super::scratch::{self, Side};
use super::tenancy::{Leak, Watched};
use crate::manifest::TableEntry;
use crate::progress::Progress;
use crate::schema::{TablePlan, quote_ident};
use crate::transform::{self, Batch, BatchReader, ConvertedBatch, JsonNulls, SqlValue};

/// One table as both sides see it.
pub(super) struct TableSpec<'a> {
    pub entry: &'a TableEntry,
    /// The import plan's table. Its dropped columns carry no `must_equal`: another tenant's
    /// value is the tenancy check's finding, not an error that stops validation.
    pub plan: &'a TablePlan,
    /// Plan column indexes of the primary key; empty for a table compared as a multiset.
    pub key: Vec<usize>,
    /// Columns of the NDJSON lines the tenancy check reads.
    pub watch: Vec<Watched>,
    pub json_nulls: JsonNulls,
}

impl TableSpec<'_> {
    /// The SQLite names of the key columns.
    pub(super) fn key_names(&self) -> Vec<String> {
        self.key.iter().map(|&i| self.plan.columns[i].name.clone()).collect()
    }

    pub(super) fn column_names(&self) -> Vec<String> {
        self.plan.columns.iter().map(|c| c.name.clone()).collect()
    }

    fn select_list(&self) -> String {
        let cols: Vec<String> = self.plan.columns.iter().map(|c| quote_ident(&c.name)).collect();
        cols.join(", ")
    }
}

/// What reading the export's file found.
#[derive(Debug, Clone, Default)]
pub(super) struct ExportSide {
    pub lines: u64,
    pub digest: TableDigest,
    /// Values of other tenants, all counted, the first few kept.
    pub leaks: u64,
    pub first_leaks: Vec<Leak>,
}

/// One batch, digested on the reader thread.
struct Digested {
    /// Key (absent for a multiset table), digest, line.
    rows: Vec<(Option<Vec<u8>>, RowDigest, u64)>,
    leaks: Vec<Leak>,
    bytes: u64,
}

/// Reads the export's file into the scratch database. The inner `Err` is a file that cannot
/// be read or converted: a finding about this table, not a reason to stop.
///
/// # Errors
/// Only writing to the scratch database.
pub(super) fn scan_export(
    dir: &Path,
    spec: &TableSpec<'_>,
    insert: &mut Statement<'_>,
    progress: &dyn Progress,
) -> Result<Result<ExportSide, String>> {
    let file = match File::open(dir.join(&spec.entry.file)) {
        Ok(f) => f,
        Err(e) => return Ok(Err(format!("cannot read {}: {e}", spec.entry.file))),
    };
    let task = progress.start("validate", &spec.plan.display_name(), Some(spec.entry.rows));
    let mut side = ExportSide::default();
    let mut bytes = 0;
    let outcome = std::thread::scope(|s| -> Result<Result<(), String>> {
        let (tx, rx) = mpsc::sync_channel::<Result<Digested, String>>(2);
        s.spawn(move || read_and_digest(file, spec, tx));
        for batch in rx {
            let batch = match batch {
                Ok(b) => b,
                Err(e) => return Ok(Err(e)),
            };
            task.add(batch.rows.len() as u64, batch.bytes);
            bytes += batch.bytes;
            store_batch(&mut side, batch, insert)?;
        }
        Ok(Ok(()))
    })?;
    task.finish(side.lines, bytes);
    Ok(outcome.map(|()| side))
}

fn store_batch(side: &mut ExportSide, batch: Digested, insert: &mut Statement<'_>) -> Result<()> {
    for (key, digest, line) in &batch.rows {
        side.digest.add(digest);
        let key = key.as_deref().unwrap_or(digest);
        scratch::store(insert, key, digest, i64::try_from(*line).ok())?;
    }
    side.lines += batch.rows.len() as u64;
    side.leaks += batch.leaks.len() as u64;
    let room = scratch::SHOWN.saturating_sub(side.first_leaks.len());
    side.first_leaks.extend(batch.leaks.into_iter().take(room));
    Ok(())
}

/// The reader thread: batches, tenancy scan, conversion, digests. Stops at the first error.
fn read_and_digest(
    file: File,
    spec: &TableSpec<'_>,
    tx: mpsc::SyncSender<Result<Digested, String>>,
) {
    let name = &spec.entry.file;
    for batch in BatchReader::new(BufReader::with_capacity(1 << 20, file)) {
        let digested = batch
            .map_err(|e| format!("cannot read {name}: {e}"))
            .and_then(|b| digest_batch(b, spec).map_err(|e| e.to_string()));
        let failed = digested.is_err();
        if tx.send(digested).is_err() || failed {
            return;
        }
    }
}

fn digest_batch(batch: Batch, spec: &TableSpec<'_>) -> Result<Digested, transform::Error> {
    let leaks = super::tenancy::scan_batch(&batch, &spec.watch);
    let bytes = batch.bytes();
    let converted = transform::convert_batch(batch, spec.plan)?;
    Ok(Digested { rows: digest_rows(&converted, spec), leaks, bytes })
}

fn digest_rows(
    converted: &ConvertedBatch,
    spec: &TableSpec<'_>,
) -> Vec<(Option<Vec<u8>>, RowDigest, u64)> {
    let rows: Vec<_> = converted.rows().collect();
    rows.par_iter()
        .map_init(Vec::new, |buf, row| {
            let line = row.line();
            let values: Vec<SqlValue<'_>> =
                row.values().enumerate().map(|(i, v)| spec.json_nulls.apply(i, line, v)).collect();
            let digest = digest::row_digest(values.iter().map(digest::value_ref), buf);
            (key_of(&spec.key, &values), digest, line)
        })
        .collect()
}

fn key_of(key: &[usize], values: &[SqlValue<'_>]) -> Option<Vec<u8>> {
    if key.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for &i in key {
        let v = values.get(i).map_or(ValueRef::Null, digest::value_ref);
        digest::encode(v, &mut out);
    }
    Some(out)
}

/// What reading the SQLite table found.
#[derive(Debug, Clone, Default)]
pub(super) struct SqliteSide {
    pub rows: u64,
    pub digest: TableDigest,
}

/// Reads the target table into the scratch database. The inner `Err` is a table that cannot
/// be read as planned (a column missing, say): a finding about this table.
///
/// # Errors
/// Only writing to the scratch database.
pub(super) fn scan_sqlite(
    target: &Connection,
    spec: &TableSpec<'_>,
    insert: &mut Statement<'_>,
) -> Result<Result<SqliteSide, String>> {
    let mut stmt = match prepare_scan(target, spec) {
        Ok(s) => s,
        Err(e) => return Ok(Err(format!("cannot read table {}: {e}", spec.plan.name))),
    };
    let mut rows = match stmt.query([]) {
        Ok(r) => r,
        Err(e) => return Ok(Err(format!("cannot read table {}: {e}", spec.plan.name))),
    };
    let width = spec.plan.columns.len();
    let (mut side, mut buf, mut key) = (SqliteSide::default(), Vec::new(), Vec::new());
    loop {
        let row = match rows.next() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => return Ok(Err(format!("cannot read table {}: {e}", spec.plan.name))),
        };
        let value = |i: usize| row.get_ref(i + 1).unwrap_or(ValueRef::Null);
        let digest = digest::row_digest((0..width).map(value), &mut buf);
        key.clear();
        spec.key.iter().for_each(|&i| digest::encode(value(i), &mut key));
        let rid = row.get::<_, Option<i64>>(0).ok().flatten();
        let key = if spec.key.is_empty() { &digest[..] } else { &key[..] };
        scratch::store(insert, key, &digest, rid)?;
        side.digest.add(&digest);
        side.rows += 1;
    }
    Ok(Ok(side))
}

/// `SELECT _rowid_, cols FROM t` for a multiset table (so extra rows can be shown by rowid),
/// `SELECT NULL, cols` otherwise or when the table has no rowid.
fn prepare_scan<'c>(
    target: &'c Connection,
    spec: &TableSpec<'_>,
) -> rusqlite::Result<Statement<'c>> {
    let table = quote_ident(&spec.plan.name);
    let cols = spec.select_list();
    if spec.key.is_empty()
        && let Ok(s) = target.prepare(&format!("SELECT _rowid_, {cols} FROM {table}"))
    {
        return Ok(s);
    }
    target.prepare(&format!("SELECT NULL, {cols} FROM {table}"))
}

/// The export's converted values at the given lines (1-based), for showing a few rows. Reads
/// the file once more, converting only those lines.
pub(super) fn export_rows(
    dir: &Path,
    spec: &TableSpec<'_>,
    lines: &[u64],
) -> HashMap<u64, Vec<Value>> {
    let wanted: BTreeSet<u64> = lines.iter().copied().collect();
    let mut found = HashMap::new();
    let Ok(file) = File::open(dir.join(&spec.entry.file)) else { return found };
    for batch in BatchReader::new(BufReader::new(file)) {
        let Ok(batch) = batch else { break };
        let first = batch.first_line();
        for no in wanted.range(first..first + batch.len() as u64) {
            let text = batch.line((no - first) as usize).unwrap_or_default();
            if let Some(values) = convert_line(*no, text, spec) {
                found.insert(*no, values);
            }
        }
        if found.len() == wanted.len() {
            break;
        }
    }
    found
}

fn convert_line(no: u64, text: &str, spec: &TableSpec<'_>) -> Option<Vec<Value>> {
    let mut one = Batch::new(no);
    one.push_line(text);
    let converted = transform::convert_batch(one, spec.plan).ok()?;
    let row = converted.rows().next()?;
    Some(
        row.values().enumerate().map(|(i, v)| spec.json_nulls.apply(i, no, v).to_value()).collect(),
    )
}

/// The SQLite row with the given key values.
pub(super) fn sqlite_row_by_key(
    target: &Connection,
    spec: &TableSpec<'_>,
    key: &[Value],
) -> Option<Vec<Value>> {
    let cond: Vec<String> = spec
        .key_names()
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{} IS ?{}", quote_ident(n), i + 1))
        .collect();
    let sql = format!(
        "SELECT {} FROM {} WHERE {} LIMIT 1",
        spec.select_list(),
        quote_ident(&spec.plan.name),
        cond.join(" AND ")
    );
    one_row(target, &sql, rusqlite::params_from_iter(key.iter()), spec.plan.columns.len())
}

/// The SQLite row with the given rowid.
pub(super) fn sqlite_row_by_rowid(
    target: &Connection,
    spec: &TableSpec<'_>,
    rowid: i64,
) -> Option<Vec<Value>> {
    let sql = format!(
        "SELECT {} FROM {} WHERE _rowid_ = ?1",
        spec.select_list(),
        quote_ident(&spec.plan.name)
    );
    one_row(target, &sql, [rowid], spec.plan.columns.len())
}

fn one_row(
    target: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    width: usize,
) -> Option<Vec<Value>> {
    target.query_row(sql, params, |r| (0..width).map(|i| r.get::<_, Value>(i)).collect()).ok()
}

/// Creates the insert statements of both sides and runs `f` with them.
///
/// # Errors
/// Writing to the scratch database, or `f`'s.
pub(super) fn with_inserts<T>(
    scratch: &super::scratch::Scratch,
    f: impl FnOnce(&mut Statement<'_>, &mut Statement<'_>) -> Result<T>,
) -> Result<T> {
    let mut export = scratch.insert(Side::Export)?;
    let mut sqlite = scratch.insert(Side::Sqlite)?;
    f(&mut export, &mut sqlite)
}
