//! Reading both sides of one table: every row digested into the side's [`Digests`], and,
//! on a second reading when the digests disagree, the rows of the buckets that differ
//! stored in the scratch database to find which rows differ.
//!
//! The export side reads the table's NDJSON file in batches on a reader thread, converts
//! each batch exactly as import does ([`transform::convert_batch`] with the same plan, then
//! [`JsonNulls::apply`]), digests its rows in parallel (rayon), scans its lines for other
//! tenants' values, and hands the batch's digests (and, when storing, the kept rows' keys
//! and digests) to the calling thread. Reading and converting overlap, and at most a few
//! batches are in flight (channels of one and two), so memory stays bounded. The SQLite
//! side streams `SELECT` over the target table, and asks SQLite in the same pass whether
//! each JSON column's value is `json_valid`. Rows are stored as
//! `(key, digest, where)`; see [`super::scratch`].

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::mpsc;

use rayon::prelude::*;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, Row, Statement};

use super::Result;
use super::digest::{self, BucketSet, Digests, RowDigest, show_named};
use super::scratch::{self, SHOWN};
use super::tenancy::{Leak, Watched};
use crate::mapping::{TablePlan, quote_ident};
use crate::model::manifest::TableEntry;
use crate::progress::Progress;
use crate::transform::{self, Batch, BatchReader, JsonNulls, SqlValue};

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
    /// The columns that hold JSON, which the json check reads.
    pub json: Vec<JsonColumn>,
}

/// A column whose values must be `json_valid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct JsonColumn {
    /// Its plan column index.
    pub index: usize,
    /// An array or composite, which may also hold the Postgres text of an array whose lower
    /// bounds are not 1 (`[0:1]={a,b}`), as exported.
    pub structured: bool,
    /// An array of composites that the export keeps as Postgres' text (`{"(1,x)",NULL}`;
    /// see `format::encode::array_as_text`).
    pub pg_text: bool,
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

    /// The SQLite name of a JSON column.
    pub(super) fn json_name(&self, column: &JsonColumn) -> &str {
        &self.plan.columns[column.index].name
    }
}

/// The condition a JSON column's bad values meet: not NULL and not `json_valid`.
pub(super) fn invalid_json_condition(column: &str, kind: JsonColumn) -> String {
    let c = quote_ident(column);
    format!("{c} IS NOT NULL AND NOT (json_valid({c}){})", text_forms(&c, kind))
}

/// The Postgres text of an array whose lower bounds are not 1, as a GLOB pattern.
const ARRAY_TEXT: &str = "'[[]*:*]*=*'";

/// The Postgres text of an array, as a GLOB pattern.
const PG_ARRAY_TEXT: &str = "'{*}'";

/// The non-JSON text the export writes for some values of the column, as `OR` conditions
/// on the quoted column `c`.
fn text_forms(c: &str, kind: JsonColumn) -> String {
    let mut forms = String::new();
    if kind.structured {
        forms.push_str(&format!(" OR {c} GLOB {ARRAY_TEXT}"));
    }
    if kind.pg_text {
        forms.push_str(&format!(" OR {c} GLOB {PG_ARRAY_TEXT}"));
    }
    forms
}

/// [`invalid_json_condition`] as a value, 1 or 0, for a column of the scan: a `CASE`, whose
/// conditions stop at the first that holds (`AND` in a result column evaluates both sides),
/// so NULLs are not parsed and only invalid JSON is matched against the array patterns.
fn invalid_json_flag(column: &str, kind: JsonColumn) -> String {
    let c = quote_ident(column);
    format!("CASE WHEN {c} IS NULL OR json_valid({c}){} THEN 0 ELSE 1 END", text_forms(&c, kind))
}

/// What reading the export's file found.
#[derive(Debug, Clone, Default)]
pub(super) struct ExportSide {
    pub lines: u64,
    pub digests: Digests,
    /// Values of other tenants, all counted, the first few kept.
    pub leaks: u64,
    pub first_leaks: Vec<Leak>,
}

/// Where a side's rows go, besides its digests: the scratch database, for those in the
/// buckets whose digests differ.
pub(super) struct Store<'s, 'c> {
    pub insert: &'s mut Statement<'c>,
    pub only: &'s BucketSet,
}

/// A row kept for the scratch database: its key (a row without a key: its digest), its
/// digest, and where it is (the export's line, or SQLite's rowid).
struct Kept {
    key: Vec<u8>,
    digest: RowDigest,
    at: Option<i64>,
}

/// One batch, digested on the converting thread.
struct Digested {
    rows: u64,
    digests: Digests,
    kept: Vec<Kept>,
    leaks: Vec<Leak>,
    bytes: u64,
}

/// Reads and digests the export's file, storing rows in the scratch database when `store`
/// is given. The inner `Err` is a file that cannot be read or converted: a finding about
/// this table, not a reason to stop.
///
/// # Errors
/// Only writing to the scratch database.
pub(super) fn scan_export(
    dir: &Path,
    spec: &TableSpec<'_>,
    mut store: Option<Store<'_, '_>>,
    progress: &dyn Progress,
) -> Result<Result<ExportSide, String>> {
    let file = match crate::fsio::open(dir, &spec.entry.file) {
        Ok(f) => f,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let task = progress.start("validate", &spec.plan.display_name(), Some(spec.entry.rows));
    let mut side = ExportSide::default();
    let mut bytes = 0;
    let only = store.as_ref().map(|s| s.only);
    let outcome = std::thread::scope(|s| -> Result<Result<(), String>> {
        let (lines, batches) = mpsc::sync_channel(1);
        let (tx, rx) = mpsc::sync_channel(2);
        s.spawn(move || read_batches(file, &spec.entry.file, lines));
        s.spawn(move || digest_batches(batches, spec, only, tx));
        for batch in rx {
            let batch = match batch {
                Ok(b) => b,
                Err(e) => return Ok(Err(e)),
            };
            task.add(batch.rows, batch.bytes);
            bytes += batch.bytes;
            add_batch(&mut side, batch, store.as_mut())?;
        }
        Ok(Ok(()))
    })?;
    task.finish(side.lines, bytes);
    Ok(outcome.map(|()| side))
}

fn add_batch(
    side: &mut ExportSide,
    batch: Digested,
    store: Option<&mut Store<'_, '_>>,
) -> Result<()> {
    side.digests = std::mem::take(&mut side.digests).merge(&batch.digests);
    if let Some(store) = store {
        for row in &batch.kept {
            scratch::store(store.insert, &row.key, &row.digest, row.at)?;
        }
    }
    side.lines += batch.rows;
    side.leaks += batch.leaks.len() as u64;
    let room = SHOWN.saturating_sub(side.first_leaks.len());
    side.first_leaks.extend(batch.leaks.into_iter().take(room));
    Ok(())
}

/// The reader thread: the file cut into batches, handed on while the previous batch is
/// converted. Stops at the first error, or when no one takes its batches any more.
fn read_batches(file: File, name: &str, tx: mpsc::SyncSender<Result<Batch, String>>) {
    for batch in BatchReader::new(BufReader::with_capacity(1 << 20, file)) {
        let batch = batch.map_err(|e| format!("cannot read {name}: {e}"));
        let failed = batch.is_err();
        if tx.send(batch).is_err() || failed {
            return;
        }
    }
}

/// The converting thread: tenancy scan, conversion, digests, with rayon. Stops at the first
/// error, or when no one takes its results any more.
fn digest_batches(
    batches: mpsc::Receiver<Result<Batch, String>>,
    spec: &TableSpec<'_>,
    only: Option<&BucketSet>,
    tx: mpsc::SyncSender<Result<Digested, String>>,
) {
    for batch in batches {
        let digested = batch.and_then(|b| digest_batch(b, spec, only).map_err(|e| e.to_string()));
        let failed = digested.is_err();
        if tx.send(digested).is_err() || failed {
            return;
        }
    }
}

fn digest_batch(
    batch: Batch,
    spec: &TableSpec<'_>,
    only: Option<&BucketSet>,
) -> Result<Digested, transform::Error> {
    let leaks = super::tenancy::scan_batch(&batch, &spec.watch);
    let bytes = batch.bytes();
    let converted = transform::convert_batch(batch, spec.plan)?;
    let rows: Vec<_> = converted.rows().collect();
    let gathered = rows
        .par_iter()
        .fold(Gathered::default, |mut g, row| {
            g.add(row, spec, only);
            g
        })
        .reduce(Gathered::default, Gathered::merge);
    let (digests, kept) = (gathered.digests, gathered.kept);
    Ok(Digested { rows: rows.len() as u64, digests, kept, leaks, bytes })
}

/// What one rayon task gathers from the rows it digests.
#[derive(Default)]
struct Gathered {
    digests: Digests,
    kept: Vec<Kept>,
    row: Vec<u8>,
    key: Vec<u8>,
}

impl Gathered {
    /// Digests a converted row (JSON nulls applied), keeping it when its bucket is `only`'s.
    fn add<'a>(
        &mut self,
        row: &transform::Row<'a>,
        spec: &TableSpec<'_>,
        only: Option<&BucketSet>,
    ) {
        let line = row.line();
        let value = |i: usize, v: SqlValue<'a>| spec.json_nulls.apply(i, line, v);
        self.row.clear();
        for (i, v) in row.values().enumerate() {
            digest::encode(digest::value_ref(&value(i, v)), &mut self.row);
        }
        let digest = digest::hash(&self.row);
        self.key.clear();
        for &i in &spec.key {
            let v = row.get(i).map_or(SqlValue::Null, |v| value(i, v));
            digest::encode(digest::value_ref(&v), &mut self.key);
        }
        let key = if spec.key.is_empty() { &digest[..] } else { &self.key[..] };
        let bucket = digest::bucket(key);
        self.digests.add(bucket, &digest);
        if only.is_some_and(|set| set.contains(bucket)) {
            self.kept.push(Kept { key: key.to_vec(), digest, at: i64::try_from(line).ok() });
        }
    }

    fn merge(mut self, other: Gathered) -> Gathered {
        self.digests = self.digests.merge(&other.digests);
        self.kept.extend(other.kept);
        self
    }
}

/// What reading the SQLite table found.
#[derive(Debug, Clone, Default)]
pub(super) struct SqliteSide {
    pub rows: u64,
    pub digests: Digests,
    /// Per JSON column of the spec, in order: the values that are not valid JSON. `None`
    /// when they were not looked for, or a row could not be named (no key and no rowid).
    pub invalid_json: Option<Vec<InvalidJson>>,
}

/// The bad values of one JSON column: how many, and the first few rows by key or rowid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct InvalidJson {
    pub count: u64,
    pub first: Vec<String>,
}

/// Reads and digests the target table, checking its JSON columns on the way, or, when
/// `store` is given, storing rows in the scratch database instead of checking JSON again.
/// The inner `Err` is a table that cannot be read as planned (a column missing, say): a
/// finding about this table.
///
/// # Errors
/// Only writing to the scratch database.
pub(super) fn scan_sqlite(
    target: &Connection,
    spec: &TableSpec<'_>,
    mut store: Option<Store<'_, '_>>,
    progress: &dyn Progress,
) -> Result<Result<SqliteSide, String>> {
    let cannot = |e: rusqlite::Error| format!("cannot read table {}: {e}", spec.plan.name);
    let json = if store.is_some() { &[][..] } else { &spec.json[..] };
    let mut stmt = match prepare_scan(target, spec, json) {
        Ok(s) => s,
        Err(e) => return Ok(Err(cannot(e))),
    };
    let mut rows = match stmt.query([]) {
        Ok(r) => r,
        Err(e) => return Ok(Err(cannot(e))),
    };
    let name = format!("{} in SQLite", spec.plan.display_name());
    let task = progress.start("validate", &name, Some(spec.entry.rows));
    let mut scan = Scan::new(spec, json);
    let outcome = loop {
        match rows.next() {
            Ok(Some(row)) => scan.row(row, store.as_mut())?,
            Ok(None) => break Ok(()),
            Err(e) => break Err(cannot(e)),
        }
        if scan.side.rows.is_multiple_of(PROGRESS_ROWS) {
            task.add(PROGRESS_ROWS, std::mem::take(&mut scan.bytes));
        }
    };
    task.add(scan.side.rows % PROGRESS_ROWS, scan.bytes);
    task.finish(scan.side.rows, scan.total_bytes);
    Ok(outcome.map(|()| scan.side))
}

/// Rows read between two reports of progress.
const PROGRESS_ROWS: u64 = 4096;

/// A scan of the SQLite table in progress.
struct Scan<'s> {
    spec: &'s TableSpec<'s>,
    /// The JSON columns checked, whose flags follow the plan's columns.
    json: &'s [JsonColumn],
    side: SqliteSide,
    width: usize,
    /// The names rows are shown by: the key's, or `rowid`.
    names: Vec<String>,
    buf: Vec<u8>,
    key: Vec<u8>,
    /// Bytes of values read since the last report of progress, and in all.
    bytes: u64,
    total_bytes: u64,
}

impl<'s> Scan<'s> {
    fn new(spec: &'s TableSpec<'s>, json: &'s [JsonColumn]) -> Self {
        let names = if spec.key.is_empty() { vec!["rowid".to_owned()] } else { spec.key_names() };
        let invalid = (!json.is_empty()).then(|| vec![InvalidJson::default(); json.len()]);
        Scan {
            spec,
            json,
            side: SqliteSide { invalid_json: invalid, ..SqliteSide::default() },
            width: spec.plan.columns.len(),
            names,
            buf: Vec::new(),
            key: Vec::new(),
            bytes: 0,
            total_bytes: 0,
        }
    }

    /// Column 0 is the rowid (or NULL), then the plan's columns, then one flag per JSON
    /// column, true for a value that is not valid JSON.
    fn row(&mut self, row: &Row<'_>, store: Option<&mut Store<'_, '_>>) -> Result<()> {
        let value = |i: usize| row.get_ref(i + 1).unwrap_or(ValueRef::Null);
        let rid = row.get::<_, Option<i64>>(0).ok().flatten();
        for j in 0..self.json.len() {
            let bad = matches!(row.get_ref(self.width + 1 + j), Ok(ValueRef::Integer(n)) if n != 0);
            if bad {
                self.invalid_json(j, row, rid);
            }
        }
        self.buf.clear();
        (0..self.width).for_each(|i| digest::encode(value(i), &mut self.buf));
        let digest = digest::hash(&self.buf);
        self.key.clear();
        self.spec.key.iter().for_each(|&i| digest::encode(value(i), &mut self.key));
        let key = if self.spec.key.is_empty() { &digest[..] } else { &self.key[..] };
        let bucket = digest::bucket(key);
        self.side.digests.add(bucket, &digest);
        self.side.rows += 1;
        self.bytes += self.buf.len() as u64;
        self.total_bytes += self.buf.len() as u64;
        match store {
            Some(store) if store.only.contains(bucket) => {
                scratch::store(store.insert, key, &digest, rid)
            }
            _ => Ok(()),
        }
    }

    /// Counts a bad value of JSON column `j`, naming its row while fewer than [`SHOWN`] are.
    fn invalid_json(&mut self, j: usize, row: &Row<'_>, rid: Option<i64>) {
        let Some(found) = self.side.invalid_json.as_mut() else { return };
        let column = self.spec.json_name(&self.json[j]);
        let found = &mut found[j];
        found.count += 1;
        if found.first.len() >= SHOWN {
            return;
        }
        let values: Vec<Value> = if self.spec.key.is_empty() {
            let Some(r) = rid else {
                self.side.invalid_json = None;
                return;
            };
            vec![Value::Integer(r)]
        } else {
            let key = self.spec.key.iter().map(|&i| row.get::<_, Value>(i + 1));
            key.collect::<rusqlite::Result<_>>().unwrap_or_default()
        };
        found.first.push(format!("{column} at {}", show_named(&self.names, &values)));
    }
}

/// `SELECT _rowid_, cols FROM t` for a multiset table (so extra rows can be shown by rowid),
/// `SELECT NULL, cols` otherwise or when the table has no rowid; each JSON column's
/// [`invalid_json_flag`] follows the columns.
fn prepare_scan<'c>(
    target: &'c Connection,
    spec: &TableSpec<'_>,
    json: &[JsonColumn],
) -> rusqlite::Result<Statement<'c>> {
    let table = quote_ident(&spec.plan.name);
    let mut cols = spec.select_list();
    for j in json {
        cols.push_str(&format!(", {}", invalid_json_flag(spec.json_name(j), *j)));
    }
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
    let Ok(file) = crate::fsio::open(dir, &spec.entry.file) else { return found };
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

/// Creates the stores of both sides, for the rows of the buckets in `only`, and runs `f`
/// with them.
///
/// # Errors
/// Writing to the scratch database, or `f`'s.
pub(super) fn with_stores<T>(
    scratch: &super::scratch::Scratch,
    only: &BucketSet,
    f: impl FnOnce(Store<'_, '_>, Store<'_, '_>) -> Result<T>,
) -> Result<T> {
    let mut export = scratch.insert(scratch::Side::Export)?;
    let mut sqlite = scratch.insert(scratch::Side::Sqlite)?;
    f(Store { insert: &mut export, only }, Store { insert: &mut sqlite, only })
}
