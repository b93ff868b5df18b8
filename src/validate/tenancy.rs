//! The tenancy check of a tenant-scoped export (DESIGN "Tenancy"): no value of the tenant
//! column other than the chosen tenant's appears anywhere in the export, and no foreign key
//! to the tenants table points at another tenant.
//!
//! It reads the NDJSON lines themselves (not the converted rows, which under
//! `--strip-tenancy` no longer hold the tenant column), during the same pass that digests
//! them. Per table it watches: the tenants table's key column; the tenant column; and every
//! column that references the tenants table's key (which may be NULL: such a row is owned
//! through another path, or by no one).

use rayon::prelude::*;
use rusqlite::Connection;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::mapping::{Plan, TablePlan, quote_ident};
use crate::model::catalog::Table;
use crate::model::manifest::{Filter, Hop, Manifest, TableEntry, Tenant};
use crate::report::{ListCheck, Status, TableReport};
use crate::transform::Batch;

/// Who the export belongs to, from its manifest (checked by `Manifest::check_tenancy`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Scope {
    pub tenant: Tenant,
}

/// One column of a table's lines that must hold the tenant's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Watched {
    /// The key's position in each line (the column's position in the table).
    pub position: usize,
    pub column: String,
    /// The JSON text the tenant's key has in this column (`42`, `"a0ee…"`).
    pub expected: String,
    /// Whether NULL is allowed (a foreign key) or is another tenant's value too (the tenant
    /// column, which the export's filter never lets be NULL).
    pub null_ok: bool,
}

/// A value of another tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Leak {
    pub line: u64,
    pub column: String,
    /// The raw JSON value, cut at 60 characters.
    pub value: String,
}

/// A check that ran and failed for `why`.
fn failed(why: String) -> ListCheck {
    ListCheck { status: Status::Fail, first: vec![why.clone()], ..ListCheck::skipped(why) }
}

impl Scope {
    /// The scope of a tenant-scoped export; `None` for an export of whole tables.
    pub(super) fn from_manifest(m: &Manifest) -> Option<Scope> {
        m.options.tenant.clone().map(|tenant| Scope { tenant })
    }

    fn is_tenants(&self, entry: &TableEntry) -> bool {
        let (t, q) = (&entry.table, &self.tenant.tenants_table);
        matches!(entry.filter, Filter::TenantRow { .. })
            || (q.schema == t.schema && q.name == t.name)
    }

    /// The columns of `entry`'s lines to check.
    pub(super) fn watch(&self, entry: &TableEntry) -> Vec<Watched> {
        let t = &entry.table;
        let mut out: Vec<Watched> = Vec::new();
        let own =
            if self.is_tenants(entry) { &self.tenant.key_column } else { &self.tenant.column };
        self.push(&mut out, entry, own, false);
        let (tenants, key) = (&self.tenant.tenants_table, &self.tenant.key_column);
        for fk in t.foreign_keys.iter().filter(|fk| &fk.references == tenants) {
            for (col, parent) in fk.columns.iter().zip(&fk.referenced_columns) {
                if parent == key {
                    self.push(&mut out, entry, col, true);
                }
            }
        }
        out
    }

    fn push(&self, out: &mut Vec<Watched>, entry: &TableEntry, name: &str, null_ok: bool) {
        let columns = &entry.table.columns;
        let Some(position) = columns.iter().position(|c| c.name == name) else { return };
        if out.iter().any(|w| w.position == position) {
            return;
        }
        let expected = self.tenant.ndjson_value(&columns[position]);
        out.push(Watched { position, column: name.to_owned(), expected, null_ok });
    }

    /// The tenancy check of a table whose filter decides it without the watched columns:
    /// lookups (every row referenced by an exported row), left-out tables (no row at all),
    /// `--whole-table` ones (nothing to check), and tenant-owned tables with nothing to
    /// watch, which fail: a check that looked at nothing must not pass.
    pub(super) fn by_filter(
        &self,
        entry: &TableEntry,
        watch: &[Watched],
        lines: Option<u64>,
        target: (&Connection, &Plan),
    ) -> Option<ListCheck> {
        match &entry.filter {
            Filter::Lookup { referenced_by } => Some(lookup_check(target, entry, referenced_by)),
            Filter::LeftOut => {
                let rows = lines.unwrap_or(entry.rows).max(entry.rows);
                let why = format!("left out, but its file holds {rows} rows");
                let first = if rows > 0 { vec![why] } else { Vec::new() };
                Some(ListCheck::found(vec!["left out: no rows".into()], rows, first))
            }
            Filter::WholeTable => Some(ListCheck::skipped("exported whole (--whole-table)")),
            Filter::TenantColumn { .. } | Filter::TenantRow { .. } if watch.is_empty() => {
                let t = entry.table.display_name();
                Some(failed(format!("{t}: no tenant column to check in this table's lines")))
            }
            _ => None,
        }
    }
}

/// Fails the first table's tenancy check when a tenant-scoped export's check ran on no table
/// at all: it proved nothing, so it may not pass.
pub(super) fn require_something_checked(tables: &mut [TableReport]) {
    if tables.iter().any(|t| t.checks.tenancy.status != Status::Skip) {
        return;
    }
    if let Some(first) = tables.first_mut() {
        let why = "tenant-scoped export, but no table's tenancy could be checked";
        first.checks.tenancy = failed(why.to_owned());
    }
}

/// How many rows of a lookup in SQLite no exported row references (through any of its
/// hops), and the first few, by key.
fn lookup_check((conn, plan): (&Connection, &Plan), entry: &TableEntry, hops: &[Hop]) -> ListCheck {
    let t = &entry.table;
    let Some(lookup) = plan.table(&t.schema, &t.name) else {
        return ListCheck::skipped("not imported");
    };
    let checked: Vec<String> = hops.iter().map(describe_hop).collect();
    let sql = unreferenced_sql(plan, lookup, t, hops);
    match run_unreferenced(conn, &sql) {
        Ok((count, keys)) => {
            let first = keys
                .into_iter()
                .map(|k| format!("row {k} is referenced by no exported row: not the tenant's"))
                .collect();
            ListCheck::found(checked, count, first)
        }
        Err(e) => failed(format!("cannot check the lookup's rows: {e}")),
    }
}

fn describe_hop(h: &Hop) -> String {
    format!(
        "referenced by {}.{}({}) -> ({})",
        h.from.schema,
        h.from.name,
        h.columns.join(", "),
        h.to_columns.join(", ")
    )
}

/// The SQLite name of a source column, `None` when the plan dropped it.
fn sqlite_name<'p>(p: &'p TablePlan, source: &str) -> Option<&'p str> {
    p.columns.iter().find(|c| c.source == source).map(|c| c.name.as_str())
}

/// `(l.k) IN (SELECT s.fk FROM s WHERE s.fk IS NOT NULL)` for one hop, with the SQLite names
/// (a pair that stripping dropped, the tenant column, is the same in every row and goes).
fn referenced_by(plan: &Plan, lookup: &TablePlan, hop: &Hop) -> Option<String> {
    let source = plan.table(&hop.from.schema, &hop.from.name)?;
    let pairs: Vec<(String, String)> = hop
        .columns
        .iter()
        .zip(&hop.to_columns)
        .filter_map(|(c, r)| {
            Some((quote_ident(sqlite_name(source, c)?), quote_ident(sqlite_name(lookup, r)?)))
        })
        .collect();
    if pairs.is_empty() {
        return None;
    }
    let mine: Vec<String> = pairs.iter().map(|(_, r)| format!("l.{r}")).collect();
    let theirs: Vec<String> = pairs.iter().map(|(c, _)| format!("s.{c}")).collect();
    let not_null: Vec<String> = theirs.iter().map(|c| format!("{c} IS NOT NULL")).collect();
    Some(format!(
        "coalesce(({}) IN (SELECT {} FROM {} AS s WHERE {}), 0)",
        mine.join(", "),
        theirs.join(", "),
        quote_ident(&source.name),
        not_null.join(" AND ")
    ))
}

/// `SELECT count(*) OVER (), <key> FROM l WHERE NOT (referenced by a hop) LIMIT 5`.
fn unreferenced_sql(plan: &Plan, lookup: &TablePlan, t: &Table, hops: &[Hop]) -> String {
    let referenced: Vec<String> =
        hops.iter().filter_map(|h| referenced_by(plan, lookup, h)).collect();
    let key: Vec<String> = t
        .primary_key
        .iter()
        .flat_map(|k| &k.columns)
        .filter_map(|c| sqlite_name(lookup, c))
        .map(|c| format!("l.{}", quote_ident(c)))
        .collect();
    let key = if key.is_empty() { "l.rowid".to_owned() } else { key.join(", ") };
    let condition = match referenced.len() {
        0 => "1".to_owned(),
        _ => format!("NOT ({})", referenced.join(" OR ")),
    };
    format!(
        "SELECT count(*) OVER (), json_array({key}) FROM {} AS l WHERE {condition} LIMIT 5",
        quote_ident(&lookup.name)
    )
}

fn run_unreferenced(conn: &Connection, sql: &str) -> rusqlite::Result<(u64, Vec<String>)> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    let mut count = 0;
    let mut keys = Vec::new();
    for row in rows {
        let (n, key) = row?;
        count = u64::try_from(n).unwrap_or(0);
        keys.push(key);
    }
    Ok((count, keys))
}

/// The watched values of a batch's lines that are not the tenant's, in line order.
pub(super) fn scan_batch(batch: &Batch, watch: &[Watched]) -> Vec<Leak> {
    if watch.is_empty() {
        return Vec::new();
    }
    (0..batch.len())
        .into_par_iter()
        .flat_map_iter(|i| {
            let no = batch.first_line() + i as u64;
            scan_line(no, batch.line(i).unwrap_or_default(), watch)
        })
        .collect()
}

/// A line that is not a JSON object is left to the conversion, which reports it.
fn scan_line(no: u64, line: &str, watch: &[Watched]) -> Vec<Leak> {
    let Ok(values) = values_of(line) else { return Vec::new() };
    watch
        .iter()
        .filter_map(|w| {
            let raw = values.get(w.position)?.get();
            let ok = if raw == "null" { w.null_ok } else { same_json(raw, &w.expected) };
            (!ok).then(|| Leak { line: no, column: w.column.clone(), value: cut(raw) })
        })
        .collect()
}

/// Equal as JSON: the same text, or the same value written otherwise (`"\u0061"` is `"a"`).
fn same_json(raw: &str, expected: &str) -> bool {
    raw == expected
        || serde_json::from_str::<serde_json::Value>(raw).ok()
            == serde_json::from_str::<serde_json::Value>(expected).ok()
}

fn cut(raw: &str) -> String {
    match raw.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &raw[..i]),
        None => raw.to_owned(),
    }
}

/// The raw values of a JSON object, in order (keys are checked by the conversion).
fn values_of(line: &str) -> Result<Vec<&RawValue>, serde_json::Error> {
    struct Values;
    impl<'de> Visitor<'de> for Values {
        type Value = Vec<&'de RawValue>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while map.next_key::<IgnoredAny>()?.is_some() {
                out.push(map.next_value::<&'de RawValue>()?);
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_str(line);
    let values = (&mut de).deserialize_map(Values)?;
    de.end()?;
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watched(position: usize, column: &str, expected: &str, null_ok: bool) -> Watched {
        Watched { position, column: column.into(), expected: expected.into(), null_ok }
    }

    #[test]
    fn another_tenants_value_is_found_with_its_line_and_column() {
        let mut batch = Batch::new(7);
        batch.push_line(r#"{"id":1,"user_id":"aa","owner":null}"#);
        batch.push_line(r#"{"id":2,"user_id":"bb","owner":"aa"}"#);
        batch.push_line(r#"{"id":3,"user_id":null,"owner":"cc"}"#);
        let watch = [watched(1, "user_id", "\"aa\"", false), watched(2, "owner", "\"aa\"", true)];
        let leaks = scan_batch(&batch, &watch);
        let got: Vec<(u64, &str, &str)> =
            leaks.iter().map(|l| (l.line, l.column.as_str(), l.value.as_str())).collect();
        assert_eq!(got, [(8, "user_id", "\"bb\""), (9, "user_id", "null"), (9, "owner", "\"cc\"")]);
    }

    #[test]
    fn the_same_value_written_otherwise_is_the_tenants() {
        assert!(same_json(r#""\u0061""#, r#""a""#));
        assert!(same_json("42", "42"));
        assert!(!same_json("43", "42"));
        assert!(!same_json(r#""42""#, "42"));
    }
}
